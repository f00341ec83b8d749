//! Loader differentials (issue 12, part 2): bytes CPython's loaders read differently are a
//! `parser-differential` finding naming the versions and the offset, the verdict is
//! `dangerous`, and the other readings are analysed. Each hand-made payload is first run
//! through CPython's C unpickler (`pickle.loads`, and `pickle.Unpickler` on an
//! `io.BytesIO`, a file without `peek()`) and its pure-Python one (`pickle._Unpickler`) in a
//! subprocess, to show they really disagree (python3 here is 3.11: before the gh-154848 fix).
//! The payloads only call `builtins.len`.

mod common;

use pklinspect::classify::Verdict;
use pklinspect::inspect::Options;
use pklinspect::report::Report;

/// What each loader makes of `data`: `repr` of the result, or `ERR <message>`, in the order
/// C from memory, C from a file without peek, pure Python.
fn cpython_readings(data: &[u8]) -> Option<[String; 3]> {
    let python = common::python3()?;
    let hex: String = data.iter().map(|b| format!("{b:02x}")).collect();
    let script = r#"
import io, pickle, sys, warnings
warnings.simplefilter("ignore")
data = bytes.fromhex(sys.argv[1])
def run(f):
    try:
        return repr(f())
    except Exception as e:
        return "ERR " + str(e)
print(run(lambda: pickle.loads(data)))
print(run(lambda: pickle.Unpickler(io.BytesIO(data)).load()))
print(run(lambda: pickle._Unpickler(io.BytesIO(data)).load()))
"#;
    let out = common::run_python(python, script, &[&hex]);
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let lines: Vec<String> = text.lines().map(str::to_string).collect();
    assert_eq!(lines.len(), 3, "{text}");
    Some([lines[0].clone(), lines[1].clone(), lines[2].clone()])
}

fn report(data: &[u8]) -> Report {
    pklinspect::inspect("t.pkl", data, &Options::default()).expect("inspects")
}

fn differentials(r: &Report) -> Vec<(Option<u64>, String)> {
    r.findings
        .iter()
        .filter(|f| f.rule.id() == "parser-differential")
        .map(|f| (f.offset, f.message.clone()))
        .collect()
}

fn frame(len: u64) -> Vec<u8> {
    let mut v = vec![0x95];
    v.extend_from_slice(&len.to_le_bytes());
    v
}

/// PROTO 4, then a FRAME whose last opcode, SHORT_BINUNICODE of 6 bytes, has only 2 of
/// them inside the frame. `pickle.loads` (and pickletools) read `"abcdef"` and STOP; the
/// C unpickler reading a file drops `ab`, takes `cdef.Z` from after the frame, and runs the
/// opcodes after it: a call of `builtins.len` that pickletools never shows. pickle.py
/// refuses the straddling read.
fn straddling_frame() -> Vec<u8> {
    let mut data = b"\x80\x04".to_vec();
    data.extend(frame(4));
    data.extend_from_slice(b"\x8c\x06ab");
    data.extend_from_slice(b"cdef.Z");
    data.extend_from_slice(b"0\x8c\x08builtins\x8c\x03len\x93\x8c\x02ab\x85R.");
    data
}

#[test]
fn cpython_reads_a_straddling_frame_three_ways() {
    let data = straddling_frame();
    if let Some([memory, file, pure]) = cpython_readings(&data) {
        assert_eq!(memory, "'abcdef'");
        assert_eq!(file, "2", "the C file reader ran builtins.len");
        assert_eq!(pure, "ERR pickle exhausted before end of frame");
    }
}

#[test]
fn a_straddling_frame_is_a_differential_and_the_hidden_call_is_reported() {
    let r = report(&straddling_frame());
    let found = differentials(&r);
    // The SHORT_BINUNICODE at offset 11 straddles; both other readings are named.
    assert!(
        found.iter().any(|(at, m)| *at == Some(11)
            && m.contains("3.14.7/3.13.15")
            && m.contains("skips bytes 13..15")),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|(at, m)| *at == Some(11) && m.contains("pickle.py") && m.contains("exhausted")),
        "{found:?}"
    );
    assert_eq!(r.verdict, Verdict::Dangerous);
    // The C file reader's reading is analysed: its builtins.len import is in the report.
    let alt = r
        .pickles
        .iter()
        .find(|p| p.member.as_deref() == Some("reading@c-file-reader"))
        .expect("the other reading is reported");
    assert!(alt
        .imports
        .iter()
        .any(|i| i.module == "builtins" && i.name == "len"));
}

#[test]
fn a_frame_that_ends_between_opcodes_is_read_alike() {
    // Real pickles end frames between opcodes: no finding, and CPython agrees.
    let mut data = b"\x80\x04".to_vec();
    data.extend(frame(2));
    data.extend_from_slice(b"K\x05.");
    if let Some([memory, file, pure]) = cpython_readings(&data) {
        assert_eq!([memory.as_str(), &file, &pure], ["5", "5", "5"]);
    }
    let r = report(&data);
    assert!(differentials(&r).is_empty());
    assert_eq!(r.verdict, Verdict::Portable);
}

#[test]
fn a_frame_inside_a_frame_is_refused_by_pickle_py_only() {
    let mut data = b"\x80\x04".to_vec();
    data.extend(frame(11));
    data.extend(frame(2));
    data.extend_from_slice(b"K\x05.");
    if let Some([memory, file, pure]) = cpython_readings(&data) {
        assert_eq!([memory.as_str(), &file], ["5", "5"]);
        assert!(pure.contains("beginning of a new frame"), "{pure}");
    }
    let found = differentials(&report(&data));
    assert!(
        found
            .iter()
            .any(|(at, m)| *at == Some(11) && m.contains("new frame")),
        "{found:?}"
    );
}

/// `GLOBAL builtins len`, `INT <line>`, TUPLE1, REDUCE, STOP: `len` of what INT made is a
/// TypeError, so the readings are shown by a plain `INT <line> STOP` instead.
fn int_line(line: &[u8]) -> Vec<u8> {
    let mut data = b"I".to_vec();
    data.extend_from_slice(line);
    data.extend_from_slice(b"\n.");
    data
}

#[test]
fn int_lines_the_c_and_python_unpicklers_read_differently() {
    for (line, c, py) in [
        (&b"010"[..], "8", "ERR"),
        (b"1\0junk", "1", "ERR"),
        (b"+1", "True", "1"),
        (b" 0", "False", "0"),
    ] {
        let data = int_line(line);
        if let Some([memory, file, pure]) = cpython_readings(&data) {
            assert_eq!(memory, c, "{line:?}");
            assert_eq!(file, c, "{line:?}");
            assert!(pure.starts_with(py), "{line:?}: {pure}");
        }
        let r = report(&data);
        let found = differentials(&r);
        assert!(
            found
                .iter()
                .any(|(at, m)| *at == Some(0) && m.contains("_pickle") && m.contains("pickle.py")),
            "{line:?}: {found:?}"
        );
        assert_eq!(r.verdict, Verdict::Dangerous, "{line:?}");
    }
}

#[test]
fn lines_both_unpicklers_read_alike_are_not_differentials() {
    for data in [
        int_line(b"10"),
        int_line(b"01"),
        int_line(b"1_000"),
        int_line(b"0x1f"),
        b"L12L\n.".to_vec(),
        b"F1.5\n.".to_vec(),
        b"S'a\\x41'\n.".to_vec(),
    ] {
        if let Some([memory, file, pure]) = cpython_readings(&data) {
            assert_eq!(memory, pure, "{data:?}");
            assert_eq!(file, pure, "{data:?}");
        }
        assert!(differentials(&report(&data)).is_empty(), "{data:?}");
    }
}

#[test]
fn long_float_and_memo_lines_with_a_nul_are_differentials() {
    for data in [&b"L12\0x\n."[..], b"F1.5\0x\n.", b"I5\np1\0x\n0g1\0y\n."] {
        if let Some([memory, _, pure]) = cpython_readings(data) {
            assert!(!memory.starts_with("ERR"), "{data:?}: {memory}");
            assert!(pure.starts_with("ERR"), "{data:?}: {pure}");
        }
        let found = differentials(&report(data));
        assert!(!found.is_empty(), "{data:?}");
    }
}

/// A FLOAT only pickle.py reads (`1_0.5`), then a call of `builtins.len`: the C unpickler
/// stops at the float, pickle.py runs the call. Inside `pickle.loads`, so the outer file
/// reads (the stream the C loader refuses is a nested payload).
#[test]
fn a_float_only_pickle_py_reads_has_its_reading_analysed() {
    let inner = b"F1_0.5\n0cbuiltins\nlen\n(S'ab'\ntR.";
    if let Some([memory, _, pure]) = cpython_readings(inner) {
        assert!(memory.starts_with("ERR"), "{memory}");
        assert_eq!(pure, "2");
    }
    let mut outer = b"\x80\x02c_pickle\nloads\nC".to_vec();
    outer.push(inner.len() as u8);
    outer.extend_from_slice(inner);
    outer.extend_from_slice(b"\x85R.");
    let r = report(&outer);
    let found = differentials(&r);
    assert!(found.iter().any(|(_, m)| m.contains("FLOAT")), "{found:?}");
    let alt = r
        .pickles
        .iter()
        .find(|p| {
            p.member
                .as_deref()
                .is_some_and(|m| m.ends_with("reading@pure-python-reader"))
        })
        .expect("pickle.py's reading is analysed");
    assert!(alt.imports.iter().any(|i| i.name == "len"));
}

#[test]
fn no_fixture_is_a_parser_differential() {
    for file in common::fixture_files() {
        let bytes = std::fs::read(&file).unwrap();
        let Ok(r) = pklinspect::inspect("f", &bytes, &Options::default()) else {
            continue;
        };
        assert!(
            differentials(&r).is_empty(),
            "{}: {:?}",
            file.display(),
            differentials(&r)
        );
    }
}

/// With a real file (`open()`, which has `peek()`), the C unpickler reads small frames
/// from a prefetched 8 KiB buffer, so it reads them as `pickle.loads` does; a frame of
/// 8 KiB or more is read with `read()`, and the straddle skips its tail again.
#[test]
fn a_real_file_with_a_frame_over_8_kib_is_read_past_its_frame() {
    let mut body = b"N0".repeat(4500);
    body.extend_from_slice(b"\x8c\x06ab");
    let mut data = b"\x80\x04".to_vec();
    data.extend(frame(body.len() as u64));
    data.extend_from_slice(&body);
    data.extend_from_slice(b"cdef.Z0\x8c\x08builtins\x8c\x03len\x93\x8c\x02ab\x85R.");
    if let Some(python) = common::python3() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.pkl");
        std::fs::write(&path, &data).unwrap();
        let script = "import pickle, sys\nprint(repr(pickle.load(open(sys.argv[1], 'rb'))))";
        let out = common::run_python(python, script, &[path.to_str().unwrap()]);
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "2");
    }
    let r = report(&data);
    assert!(differentials(&r)
        .iter()
        .any(|(_, m)| m.contains("skips bytes")));
    assert_eq!(r.verdict, Verdict::Dangerous);
}

/// PROTO 4, a FRAME declaring 64 bytes where fewer remain, a call of `module.name(arg)`
/// with its result popped, then the input ends without STOP.
fn frame_past_the_end(module: &str, name: &str) -> Vec<u8> {
    let mut data = b"\x80\x04".to_vec();
    data.extend(frame(64));
    data.extend_from_slice(format!("c{module}\n{name}\n(S'ab'\ntR0N").as_bytes());
    data
}

#[test]
fn a_frame_past_the_end_that_pickle_py_runs_then_fails_on_is_analysed() {
    // pickle.py reads the short frame, runs the call, then hits the end of the input; both
    // C readings refuse the frame before running anything. (A file cut short inside its
    // last frame reads so too: pickle.py's reading is analysed, without a differential.)
    if let Some([memory, file, pure]) = cpython_readings(&frame_past_the_end("builtins", "len")) {
        assert!(memory.starts_with("ERR"), "{memory}");
        assert!(file.starts_with("ERR"), "{file}");
        assert!(pure.starts_with("ERR"), "{pure}");
    }
    let data = frame_past_the_end("os", "system");
    let r = pklinspect::inspect_partial("t.pkl", &data, &Options::default()).expect("inspects");
    assert!(r.stopped.is_some());
    assert_eq!(r.verdict, Verdict::Dangerous);
    assert!(
        r.findings.iter().any(|f| f.rule.id() == "malformed"
            && f.member.as_deref() == Some("reading@pure-python-reader")),
        "{:#?}",
        r.findings
    );
    assert!(
        r.findings.iter().any(|f| f.rule.id() == "code-exec"
            && f.name.as_deref() == Some("system")
            && f.member.as_deref() == Some("reading@pure-python-reader")),
        "{:#?}",
        r.findings
    );
}
