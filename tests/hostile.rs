//! The hostile-input corpus: hand-built files an attacker could write, each with the
//! precise outcome expected (an error of a given kind, offset and message, or success where
//! CPython loads the file too), a time bound, and the memory it cost, measured in the test.
//!
//! Memory is read from `/proc/self/status`: the peak resident set (`VmHWM`) is reset before
//! a case (writing 5 to `/proc/self/clear_refs`) and compared with the resident set before
//! it. Tests run one at a time (a lock), so other tests of this file do not blur the figure.
//! Each case prints `hostile: NAME: OUTCOME, +N MiB peak, T s` (see `--nocapture`).
//!
//! Where `python3` is present (CI), every small case is also given to `pickle.loads`, and
//! whether it loads must agree with whether we succeed.

mod common;

use std::io::Write as _;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use pklinspect::extract::{extract, Bfloat16As, ExtractOptions, Target};
use pklinspect::inspect::{inspect, Options};
use pklinspect::limits::{Limit, Limits};
use pklinspect::{Error, ErrorKind};

/// Generous per-case bound for debug builds on a loaded 2-core machine.
const TIME_BOUND: Duration = Duration::from_secs(20);
const MIB: u64 = 1 << 20;

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Held for the whole of each test: whatever another test allocates while a case is
/// measured would count as the case's.
fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Hands memory freed by earlier cases back to the system, so that the resident set before
/// a case is what it really uses (glibc keeps freed pages otherwise, and a later case that
/// reuses them would show no growth at all).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn release_free_memory() {
    extern "C" {
        fn malloc_trim(pad: usize) -> std::os::raw::c_int;
    }
    // SAFETY: glibc's malloc_trim takes no pointers; it only returns free pages to the OS.
    unsafe {
        malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn release_free_memory() {}

/// Runs `f`, returning its value, the growth of peak resident memory over the resident
/// memory before it (bytes; 0 where /proc is not there), and the time it took.
fn measure<T>(f: impl FnOnce() -> T) -> (T, u64, Duration) {
    release_free_memory();
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let before = status_kib("VmRSS:");
    let start = Instant::now();
    let value = f();
    let took = start.elapsed();
    let peak = status_kib("VmHWM:");
    let grown = match (before, peak) {
        (Some(b), Some(p)) => p.saturating_sub(b) * 1024,
        _ => 0,
    };
    (value, grown, took)
}

fn options() -> Options {
    Options::default()
}

/// `explain` on `bytes` (the report rendered as text and JSON), within the time bound and
/// `max_memory` bytes of growth.
fn explain(name: &str, bytes: &[u8], options: &Options, max_memory: u64) -> Result<(), Error> {
    let (result, grown, took) = measure(|| {
        inspect(name, bytes, options).map(|report| {
            let mut text = Vec::new();
            pklinspect::render::text::write_report(&mut text, &report).unwrap();
            let _ = pklinspect::render::json::explain_value(&report);
        })
    });
    let outcome = match &result {
        Ok(()) => "ok".to_string(),
        Err(e) => format!("{:?} {e}", e.kind()),
    };
    println!(
        "hostile: {name}: explain {outcome}, +{:.1} MiB peak, {:.2} s",
        grown as f64 / MIB as f64,
        took.as_secs_f64()
    );
    assert!(took < TIME_BOUND, "{name}: took {took:?}");
    assert!(
        grown <= max_memory,
        "{name}: peak memory grew by {grown} bytes, bound {max_memory}"
    );
    result
}

fn extract_options(target: Target, max_bytes: u64) -> ExtractOptions {
    ExtractOptions {
        inspect: options(),
        target,
        force: false,
        bfloat16: Bfloat16As::F4,
        max_bytes,
        progress: None,
        progress_total: None,
        source_file: None,
    }
}

/// `extract --to json` to memory, measured like [`explain`].
fn extract_json(
    name: &str,
    bytes: &[u8],
    max_bytes: u64,
    max_memory: u64,
) -> Result<Vec<u8>, Error> {
    let options = extract_options(
        Target::Json {
            file: None,
            arrays_as_files: false,
        },
        max_bytes,
    );
    let (result, grown, took) = measure(|| extract(name, bytes, &options).map(|e| e.json.unwrap()));
    let outcome = match &result {
        Ok(json) => format!("ok, {} bytes of JSON", json.len()),
        Err(e) => format!("{:?} {e}", e.kind()),
    };
    println!(
        "hostile: {name}: extract json {outcome}, +{:.1} MiB peak, {:.2} s",
        grown as f64 / MIB as f64,
        took.as_secs_f64()
    );
    assert!(took < TIME_BOUND, "{name}: took {took:?}");
    assert!(
        grown <= max_memory,
        "{name}: peak memory grew by {grown} bytes, bound {max_memory}"
    );
    result
}

/// `extract --to npy` into a fresh folder, measured like [`explain`]; returns the folder.
fn extract_npy(
    name: &str,
    bytes: &[u8],
    max_memory: u64,
) -> (tempfile::TempDir, Result<usize, Error>) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let options = extract_options(Target::Npy { dir: out.clone() }, 1 << 30);
    let (result, grown, took) =
        measure(|| extract(name, bytes, &options).map(|e| e.index.arrays.len()));
    println!(
        "hostile: {name}: extract npy {:?}, +{:.1} MiB peak, {:.2} s",
        result.as_ref().map_err(|e| e.to_string()),
        grown as f64 / MIB as f64,
        took.as_secs_f64()
    );
    assert!(took < TIME_BOUND, "{name}: took {took:?}");
    assert!(
        grown <= max_memory,
        "{name}: peak memory grew by {grown} bytes"
    );
    (dir, result)
}

#[track_caller]
fn assert_error(
    result: Result<impl std::fmt::Debug, Error>,
    kind: ErrorKind,
    offset: u64,
    message: &str,
) {
    match result {
        Ok(v) => panic!("expected {kind:?} at {offset} ({message}), got {v:?}"),
        Err(e) => {
            assert_eq!(e.kind(), kind, "{e}");
            assert_eq!(e.offset(), offset, "{e}");
            assert!(
                e.message().contains(message),
                "expected {message:?} in: {e}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// Small malformed streams: an exact error each, and CPython must refuse them too.

/// `(name, bytes, expected)`: `None` where the stream is valid (CPython loads it),
/// else the error's kind, offset and a part of its message.
type Case = (String, Vec<u8>, Option<(ErrorKind, u64, String)>);

fn case(name: &str, bytes: &[u8], expected: Option<(ErrorKind, u64, &str)>) -> Case {
    (
        name.to_string(),
        bytes.to_vec(),
        expected.map(|(k, o, m)| (k, o, m.to_string())),
    )
}

/// Every length-prefixed opcode with lengths far past the end: 2**60 and 2**64-1 where the
/// field holds them, the largest value of narrower fields, and negative signed ones.
fn length_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for (op, name) in [
        (0x8du8, "BINUNICODE8"),
        (0x8e, "BINBYTES8"),
        (0x96, "BYTEARRAY8"),
    ] {
        for len in [1u64 << 60, u64::MAX] {
            let mut p = vec![0x80, 5, op];
            p.extend_from_slice(&len.to_le_bytes());
            p.extend_from_slice(b"ab.");
            let message = format!("{name} claims {len} bytes, but only 3 remain");
            cases.push(case(
                &format!("{name} length {len}"),
                &p,
                Some((ErrorKind::LengthPastEnd, 2, &message)),
            ));
        }
    }
    for (op, name) in [(b'X', "BINUNICODE"), (b'B', "BINBYTES")] {
        let mut p = vec![0x80, 3, op];
        p.extend_from_slice(&u32::MAX.to_le_bytes());
        p.extend_from_slice(b"ab.");
        let message = format!("{name} claims 4294967295 bytes, but only 3 remain");
        cases.push(case(
            &format!("{name} length 2**32-1"),
            &p,
            Some((ErrorKind::LengthPastEnd, 2, &message)),
        ));
    }
    for (op, name) in [(b'T', "BINSTRING"), (0x8b, "LONG4")] {
        let mut p = vec![0x80, 2, op];
        p.extend_from_slice(&i32::MAX.to_le_bytes());
        p.extend_from_slice(b"ab.");
        let message = format!("{name} claims 2147483647 bytes, but only 3 remain");
        cases.push(case(
            &format!("{name} length 2**31-1"),
            &p,
            Some((ErrorKind::LengthPastEnd, 2, &message)),
        ));
        let mut p = vec![0x80, 2, op];
        p.extend_from_slice(&(-1i32).to_le_bytes());
        p.extend_from_slice(b"ab.");
        let message = format!("{name} has a negative length: -1");
        cases.push(case(
            &format!("{name} length -1"),
            &p,
            Some((ErrorKind::NegativeLength, 2, &message)),
        ));
    }
    for (op, name) in [
        (b'U', "SHORT_BINSTRING"),
        (b'C', "SHORT_BINBYTES"),
        (0x8c, "SHORT_BINUNICODE"),
        (0x8a, "LONG1"),
    ] {
        let p = [0x80, 4, op, 0xff, b'a', b'.'];
        let message = format!("{name} claims 255 bytes, but only 2 remain");
        cases.push(case(
            &format!("{name} length 255"),
            &p,
            Some((ErrorKind::LengthPastEnd, 2, &message)),
        ));
    }
    for len in [1u64 << 60, u64::MAX, 3] {
        let mut p = vec![0x80, 4, 0x95];
        p.extend_from_slice(&len.to_le_bytes());
        p.extend_from_slice(b"N.");
        let message = format!("FRAME of {len} bytes runs past the end of input (2 bytes remain)");
        cases.push(case(
            &format!("FRAME length {len}"),
            &p,
            Some((ErrorKind::LengthPastEnd, 2, &message)),
        ));
    }
    cases
}

fn utf8_cases() -> Vec<Case> {
    let bad = b"a\xff\xfeb";
    let mut cases = Vec::new();
    let mut p = vec![0x80, 4, 0x8c, 4];
    p.extend_from_slice(bad);
    p.push(b'.');
    cases.push(case(
        "SHORT_BINUNICODE invalid utf-8",
        &p,
        Some((
            ErrorKind::InvalidUtf8,
            2,
            "SHORT_BINUNICODE is not valid UTF-8 (bad byte at argument offset 1)",
        )),
    ));
    let mut p = vec![0x80, 3, b'X', 4, 0, 0, 0];
    p.extend_from_slice(bad);
    p.push(b'.');
    cases.push(case(
        "BINUNICODE invalid utf-8",
        &p,
        Some((
            ErrorKind::InvalidUtf8,
            2,
            "BINUNICODE is not valid UTF-8 (bad byte at argument offset 1)",
        )),
    ));
    let mut p = vec![0x80, 4, 0x8d, 4, 0, 0, 0, 0, 0, 0, 0];
    p.extend_from_slice(bad);
    p.push(b'.');
    cases.push(case(
        "BINUNICODE8 invalid utf-8",
        &p,
        Some((
            ErrorKind::InvalidUtf8,
            2,
            "BINUNICODE8 is not valid UTF-8 (bad byte at argument offset 1)",
        )),
    ));
    cases.push(case(
        "GLOBAL module invalid utf-8",
        b"c\xffos\nsystem\n.",
        Some((
            ErrorKind::InvalidUtf8,
            0,
            "GLOBAL name is not valid UTF-8 (bad byte at argument offset 0)",
        )),
    ));
    cases.push(case(
        "GLOBAL name invalid utf-8",
        b"cos\nsys\xc3tem\n.",
        Some((
            ErrorKind::InvalidUtf8,
            0,
            "GLOBAL name is not valid UTF-8 (bad byte at argument offset 3)",
        )),
    ));
    cases.push(case(
        "INST name invalid utf-8",
        b"(ios\nsys\xe2\x82tem\n.",
        Some((ErrorKind::InvalidUtf8, 1, "INST name is not valid UTF-8")),
    ));
    // UNICODE is raw-unicode-escape (every byte is a code point): CPython loads it.
    cases.push(case(
        "UNICODE with non-utf-8 bytes",
        b"Va\xff\xfeb\n.",
        None,
    ));
    cases
}

fn structure_cases() -> Vec<Case> {
    use ErrorKind::{Inconsistent, Unsupported};
    let mut cases = vec![
        case(
            "PROTO 9",
            b"\x80\x09N.",
            Some((Unsupported, 0, "unsupported pickle protocol: 9")),
        ),
        case(
            "PROTO 255",
            b"\x80\xffN.",
            Some((Unsupported, 0, "unsupported pickle protocol: 255")),
        ),
        case("unclosed marks under the root", b"(((N.", None),
        case(
            "unclosed mark on top",
            b"N(.",
            Some((
                Inconsistent,
                2,
                "STOP pops from an empty stack (stack underflow)",
            )),
        ),
        case(
            "only a mark",
            b"(.",
            Some((
                Inconsistent,
                1,
                "STOP pops from an empty stack (stack underflow)",
            )),
        ),
        case(
            "BINGET of a missing key",
            b"\x80\x02h\x05.",
            Some((
                ErrorKind::MissingMemoKey,
                2,
                "BINGET of memo key 5, which was never stored",
            )),
        ),
        case(
            "GET of a missing key",
            b"g5\n.",
            Some((
                ErrorKind::MissingMemoKey,
                0,
                "GET of memo key 5, which was never stored",
            )),
        ),
        case(
            "LONG_BINGET of a missing key",
            b"\x80\x02]q\x00j\xff\xff\xff\xff.",
            Some((
                ErrorKind::MissingMemoKey,
                5,
                "LONG_BINGET of memo key 4294967295, which was never stored",
            )),
        ),
        case(
            "a memo key stored far away",
            b"\x80\x02]r\xff\xff\x00\x00j\xff\xff\x00\x00.",
            None,
        ),
    ];
    // Stack underflow for each class of opcode: those that pop one, two or three items,
    // those that read the top, and those that need a MARK.
    for (ops, at, name) in [
        (&b"."[..], 0, "STOP"),
        (b"0", 0, "POP"),
        (b"2", 0, "DUP"),
        (b"\x85", 0, "TUPLE1"),
        (b"N\x86", 1, "TUPLE2"),
        (b"NN\x87", 2, "TUPLE3"),
        (b"Na", 1, "APPEND"),
        (b"}Ns", 2, "SETITEM"),
        (b"Nb", 1, "BUILD"),
        (b"NR", 1, "REDUCE"),
        (b"N\x81", 1, "NEWOBJ"),
        (b"NN\x92", 2, "NEWOBJ_EX"),
        (b"\x8c\x01a\x93", 3, "STACK_GLOBAL"),
        (b"Q", 0, "BINPERSID"),
        (b"q\x00", 0, "BINPUT"),
        (b"\x94", 0, "MEMOIZE"),
        (b"p0\n", 0, "PUT"),
        (b"\x98", 0, "READONLY_BUFFER"),
        (b"](Na", 3, "APPEND"),
    ] {
        let mut p = vec![0x80, 5];
        p.extend_from_slice(ops);
        p.extend_from_slice(b"N.");
        let message = format!("{name} pops from an empty stack (stack underflow)");
        cases.push((
            format!("{name} underflow"),
            p,
            Some((Inconsistent, at + 2, message)),
        ));
    }
    for (op, name) in [
        (b'l', "LIST"),
        (b't', "TUPLE"),
        (b'd', "DICT"),
        (b'e', "APPENDS"),
        (b'u', "SETITEMS"),
        (0x90, "ADDITEMS"),
        (0x91, "FROZENSET"),
        (b'1', "POP_MARK"),
        (b'o', "OBJ"),
    ] {
        let p = vec![0x80, 5, b']', op, b'.'];
        let message = format!("{name} without a MARK on the stack");
        cases.push((
            format!("{name} without MARK"),
            p,
            Some((Inconsistent, 3, message)),
        ));
    }
    cases.push(case(
        "INST without MARK",
        b"ios\nsystem\n.",
        Some((Inconsistent, 0, "INST without a MARK on the stack")),
    ));
    cases
}

fn small_cases() -> Vec<Case> {
    let mut cases = length_cases();
    cases.extend(utf8_cases());
    cases.extend(structure_cases());
    cases
}

#[test]
fn malformed_streams_fail_with_the_precise_error() {
    let _one = one_at_a_time();
    for (name, bytes, expected) in small_cases() {
        let result = explain(&name, &bytes, &options(), 8 * MIB);
        match expected {
            None => assert!(result.is_ok(), "{name}: {result:?}"),
            Some((kind, offset, message)) => assert_error(result, kind, offset, &message),
        }
    }
}

#[test]
fn cpython_agrees_on_which_streams_load() {
    let _one = one_at_a_time();
    let Some(python) = common::python3() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let cases = small_cases();
    for (i, (_, bytes, _)) in cases.iter().enumerate() {
        std::fs::write(dir.path().join(format!("{i}.pkl")), bytes).unwrap();
    }
    let script = r#"
import pickle, sys, pathlib
folder = pathlib.Path(sys.argv[1])
for i in range(int(sys.argv[2])):
    try:
        pickle.loads((folder / f"{i}.pkl").read_bytes())
        print("loads")
    except Exception as e:
        print("fails", type(e).__name__)
"#;
    let count = cases.len().to_string();
    let out = common::run_python(python, script, &[dir.path().to_str().unwrap(), &count]);
    let verdicts = String::from_utf8(out.stdout).unwrap();
    for ((name, _, expected), verdict) in cases.iter().zip(verdicts.lines()) {
        assert_eq!(
            expected.is_none(),
            verdict == "loads",
            "{name}: we expect {expected:?}, CPython says {verdict}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Bombs and depth: success (CPython loads them), in bounded time and memory.

/// L0 = []; L(k+1) = [Lk, Lk] through the memo (GET) or DUP: 2**60 elements when expanded.
fn billion_laughs(dup: bool) -> Vec<u8> {
    let mut p = b"\x80\x02]q\x00".to_vec();
    for level in 0..60u8 {
        if dup {
            p.extend_from_slice(&[b']', b'(', b'h', level, b'2', b'e', b'q', level + 1]);
        } else {
            p.extend_from_slice(&[b'(', b'h', level, b'h', level, b'l', b'q', level + 1]);
        }
    }
    p.push(b'.');
    p
}

#[test]
fn memo_billion_laughs_cost_what_their_bytes_cost() {
    let _one = one_at_a_time();
    for dup in [false, true] {
        let p = billion_laughs(dup);
        let name = if dup {
            "billion laughs (DUP/APPENDS)"
        } else {
            "billion laughs (GET)"
        };
        explain(name, &p, &options(), 4 * MIB).unwrap();
        let json = extract_json(name, &p, 1 << 30, 4 * MIB).unwrap();
        // Each level once, the second copy a $ref to the first.
        assert!(json.len() < 40_000, "{} bytes", json.len());
        assert!(String::from_utf8(json)
            .unwrap()
            .contains(r#"{"$ref":"$[0][0]"}"#));
    }
}

const MILLION: usize = 1_000_000;

/// One million nested lists, built with MARK + LIST, or EMPTY_LIST + APPEND.
fn nested_lists(with_marks: bool) -> Vec<u8> {
    let mut p = vec![0x80, 2];
    if with_marks {
        p.extend(std::iter::repeat_n(b'(', MILLION));
        p.push(b']');
        p.extend(std::iter::repeat_n(b'l', MILLION));
    } else {
        p.extend(std::iter::repeat_n(b']', MILLION));
        p.extend(std::iter::repeat_n(b'a', MILLION - 1));
    }
    p.push(b'.');
    p
}

#[test]
fn a_million_nested_levels_stay_within_tens_of_megabytes() {
    let _one = one_at_a_time();
    for with_marks in [true, false] {
        let p = nested_lists(with_marks);
        let name = if with_marks {
            "1,000,000 MARK/LIST levels"
        } else {
            "1,000,000 EMPTY_LIST/APPEND levels"
        };
        explain(name, &p, &options(), 96 * MIB).unwrap();
        let json = extract_json(name, &p, 1 << 30, 256 * MIB).unwrap();
        // `[` and `]` per level (the MARK form has one more list inside), and a newline.
        let levels = if with_marks { MILLION + 1 } else { MILLION };
        assert_eq!(json.len(), 2 * levels + 1);
    }
}

#[test]
fn mark_nesting_past_the_limit_names_it() {
    let _one = one_at_a_time();
    let limits = Limits {
        max_depth: 1000,
        ..Limits::default()
    };
    let options = Options {
        limits,
        ..Options::default()
    };
    let p = nested_lists(true);
    let e = explain("MARK nesting past --max-depth", &p, &options, 8 * MIB);
    assert_error(
        e,
        ErrorKind::LimitExceeded(Limit::Depth),
        1002,
        "MARKs nested more than 1000 deep (limit max_depth)",
    );
}

#[test]
fn node_and_memo_limits_name_their_flags() {
    let _one = one_at_a_time();
    let options = Options {
        limits: Limits {
            max_nodes: 100,
            ..Limits::default()
        },
        ..Options::default()
    };
    let p = nested_lists(false);
    assert_error(
        explain("objects past --max-nodes", &p, &options, 8 * MIB),
        ErrorKind::LimitExceeded(Limit::Nodes),
        102,
        "more than 100 objects (limit max_nodes)",
    );
    let options = Options {
        limits: Limits {
            max_memo: 10,
            ..Limits::default()
        },
        ..Options::default()
    };
    let mut p = b"\x80\x04N".to_vec();
    p.extend(std::iter::repeat_n(0x94u8, 20));
    p.push(b'.');
    assert_error(
        explain("memo past --max-memo", &p, &options, 8 * MIB),
        ErrorKind::LimitExceeded(Limit::Memo),
        13,
        "more than 10 memo entries (limit max_memo)",
    );
}

// ---------------------------------------------------------------------------------------
// Regressions found while hardening: each once crashed, hung or ran out of memory.

/// A `__main__.C` object whose state holds `value` under `a`: explain renders such state
/// as "to make this portable" parameters.
fn object_with_state(value: &[u8]) -> Vec<u8> {
    let mut p = b"\x80\x02c__main__\nC\n)\x81}X\x01\x00\x00\x00a".to_vec();
    p.extend_from_slice(value);
    p.extend_from_slice(b"sb.");
    p
}

#[test]
fn a_million_nested_one_tuples_in_object_state_do_not_overflow_the_stack() {
    let _one = one_at_a_time();
    // Was: a stack overflow rendering the hint's parameter (src/inspect.rs short_repr).
    let mut value = b"N".to_vec();
    value.extend(std::iter::repeat_n(0x85u8, MILLION));
    let p = object_with_state(&value);
    explain(
        "1,000,000 nested 1-tuples in state",
        &p,
        &options(),
        96 * MIB,
    )
    .unwrap();
    extract_json("1,000,000 nested 1-tuples in state", &p, 1 << 30, 256 * MIB).unwrap();
}

#[test]
fn tuples_shared_eight_ways_thirty_deep_render_in_bounded_time() {
    let _one = one_at_a_time();
    // Was: 8**30 renderings of the hint's parameter (src/inspect.rs short_repr).
    let mut value = b"Nq\x000".to_vec();
    for _ in 0..30 {
        value.push(b'(');
        value.extend(std::iter::repeat_n(*b"h\x00", 8).flatten());
        value.extend_from_slice(b"tq\x000");
    }
    value.extend_from_slice(b"h\x00");
    let p = object_with_state(&value);
    explain("tuple shared 8 ways, 30 deep", &p, &options(), 8 * MIB).unwrap();
}

#[test]
fn a_dict_key_that_is_a_tuple_memo_bomb_renders_in_bounded_time() {
    let _one = one_at_a_time();
    // Was: 1000**9 repr steps for the key's path (src/analysis/walk.rs repr_key), and
    // out of memory.
    let mut p = b"\x80\x02}Nq\x000".to_vec();
    for _ in 0..9 {
        p.push(b'(');
        p.extend(std::iter::repeat_n(*b"h\x00", 1000).flatten());
        p.extend_from_slice(b"tq\x000");
    }
    p.extend_from_slice(b"h\x00]s.");
    explain("tuple-key memo bomb", &p, &options(), 16 * MIB).unwrap();
    extract_json("tuple-key memo bomb", &p, 1 << 30, 64 * MIB).unwrap();
}

/// `numpy.dtype(s, False, True)` with BUILD `state`.
fn dtype(s: &str, state: &[u8]) -> Vec<u8> {
    let mut p = b"cnumpy\ndtype\nX".to_vec();
    p.extend_from_slice(&(s.len() as u32).to_le_bytes());
    p.extend_from_slice(s.as_bytes());
    p.extend_from_slice(b"K\x00K\x01\x87R");
    p.extend_from_slice(state);
    p.push(b'b');
    p
}

/// `_reconstruct(ndarray, (0,), b'b')` + BUILD `(1, (1,), <dtype>, False, b'')`.
fn ndarray_with_dtype(dtype: &[u8]) -> Vec<u8> {
    let mut p = b"\x80\x02cnumpy._core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85C\x01b\x87R(K\x01K\x01\x85".to_vec();
    p.extend_from_slice(dtype);
    p.extend_from_slice(b"\x89C\x00tb.");
    p
}

#[test]
fn a_structured_dtype_memo_bomb_is_refused_not_expanded() {
    let _one = one_at_a_time();
    // Was: 8**40 fields built in memory (src/lift/dtype.rs parse).
    let mut chain = dtype(
        "f8",
        b"(K\x03X\x01\x00\x00\x00<NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00t",
    );
    chain.extend_from_slice(b"q\x00");
    for _ in 0..40 {
        chain.push(b'0');
        let mut state = b"(K\x03X\x01\x00\x00\x00|N(".to_vec();
        for f in b'a'..b'i' {
            state.extend_from_slice(&[b'X', 1, 0, 0, 0, f]);
        }
        state.extend_from_slice(b"t}(");
        for f in b'a'..b'i' {
            state.extend_from_slice(&[b'X', 1, 0, 0, 0, f, b'h', 0, b'K', 0, 0x86]);
        }
        state.extend_from_slice(b"uK\x08K\x01K\x00t");
        chain.extend_from_slice(&dtype("V8", &state));
        chain.extend_from_slice(b"q\x00");
    }
    let p = ndarray_with_dtype(&chain);
    explain("structured dtype memo bomb", &p, &options(), 16 * MIB).unwrap();
    let report = inspect("dtype bomb", &p, &options()).unwrap();
    let array = &report.pickles[0].arrays[0];
    assert!(
        array
            .unavailable
            .as_deref()
            .is_some_and(|r| r.contains("dtype has more than 4096 fields and subarrays")),
        "{:?}",
        array.unavailable
    );
}

#[test]
fn a_numeric_dtype_of_a_size_numpy_lacks_is_refused_not_read() {
    let _one = one_at_a_time();
    // Was (fuzz, extract target): `dtype('b0')` gave zero-byte bools whose JSON rendering
    // read past the element (src/extract/json.rs element).
    for name in ["b0", "i3", "f1", "c4"] {
        let p = ndarray_with_dtype(&dtype(
            name,
            b"(K\x03X\x01\x00\x00\x00|NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00t",
        ));
        let report = inspect(name, &p, &options()).unwrap();
        let array = &report.pickles[0].arrays[0];
        let reason = array.unavailable.as_deref().unwrap_or_default();
        assert!(
            reason.contains(&format!("numpy has no dtype \"{name}\"")),
            "{name}: {reason:?}"
        );
        let json = extract_json(name, &p, 1 << 20, 16 * MIB).unwrap();
        serde_json::from_slice::<serde_json::Value>(&json).unwrap();
        let (dir, written) = extract_npy(name, &p, 16 * MIB);
        assert_eq!(written.unwrap(), 0, "{name}: nothing to write");
        drop(dir);
    }
}

#[test]
fn a_unicode_dtype_too_wide_for_64_bits_is_refused_not_wrapped_to_zero_bytes() {
    let _one = one_at_a_time();
    // Was: `U` × 4 bytes per character overflowed (src/lift/dtype.rs): a debug build
    // panicked, a release build reported a 0-byte `<U0` array.
    let name = "U4611686018427387904"; // 2**62 characters, 2**64 bytes
    let p = ndarray_with_dtype(&dtype(
        name,
        b"(K\x03X\x01\x00\x00\x00<NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00t",
    ));
    let why = format!("dtype \"{name}\" has more than 2**64 bytes per element");
    explain(name, &p, &options(), 16 * MIB).unwrap();
    let report = inspect(name, &p, &options()).unwrap();
    let array = &report.pickles[0].arrays[0];
    assert_eq!(array.unavailable.as_deref(), Some(why.as_str()));
    let mut text = Vec::new();
    pklinspect::render::text::write_report(&mut text, &report).unwrap();
    let text = String::from_utf8(text).unwrap();
    assert!(!text.contains("<U0"), "{text}");
    let json = extract_json(name, &p, 1 << 20, 16 * MIB).unwrap();
    let json: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(json["$array"]["unavailable"], why.as_str(), "{json}");
    let (dir, written) = extract_npy(name, &p, 16 * MIB);
    assert_eq!(written.unwrap(), 0, "nothing to write");
    drop(dir);
}

/// `callable(callable(…callable(innermost)…))`, `depth` calls deep, the callable memoized.
fn nested_calls(global: &[u8], innermost: &[u8], depth: usize) -> Vec<u8> {
    let mut p = b"\x80\x02".to_vec();
    p.extend_from_slice(global);
    p.extend_from_slice(b"q\x00");
    p.extend(std::iter::repeat_n(*b"h\x00", depth).flatten());
    p.extend_from_slice(innermost);
    p.extend(std::iter::repeat_n(*b"\x85R", depth).flatten());
    p.push(b'.');
    p
}

#[test]
fn bytearray_of_bytearray_nested_deep_does_not_overflow_the_stack() {
    let _one = one_at_a_time();
    // Was: a stack overflow in extract --to json (src/lift/value.rs plain_at).
    let p = nested_calls(b"cbuiltins\nbytearray\n", b"C\x01x", 300_000);
    explain("bytearray nested 300,000 deep", &p, &options(), 96 * MIB).unwrap();
    extract_json("bytearray nested 300,000 deep", &p, 1 << 30, 256 * MIB).unwrap();
}

#[test]
fn rebuild_parameter_nested_deep_is_read_in_linear_time() {
    let _one = one_at_a_time();
    // Was: array_at recursing through every level at every level, quadratic time
    // (src/lift/mod.rs).
    let p = nested_calls(b"ctorch._utils\n_rebuild_parameter\n", b"N", 300_000);
    explain(
        "_rebuild_parameter nested 300,000 deep",
        &p,
        &options(),
        96 * MIB,
    )
    .unwrap();
    extract_json(
        "_rebuild_parameter nested 300,000 deep",
        &p,
        1 << 30,
        256 * MIB,
    )
    .unwrap();
}

/// joblib's wrapper for an object array, after which a nested pickle follows.
const JOBLIB_OBJECT_WRAPPER: &[u8] = b"\x80\x02cjoblib.numpy_pickle\nNumpyArrayWrapper\n)\x81}(X\x05\x00\x00\x00shapeK\x01\x85X\x05\x00\x00\x00orderX\x01\x00\x00\x00CX\x05\x00\x00\x00dtypecnumpy\ndtype\nX\x02\x00\x00\x00O8K\x00K\x01\x87Rub";

#[test]
fn joblib_wrappers_sharing_a_wide_dtype_spend_one_allowance_for_the_stream() {
    let _one = one_at_a_time();
    // The machine asks after each NumpyArrayWrapper's BUILD how many bytes follow, which
    // rebuilds the wrapper's dtype: 200,000 wrappers sharing one dtype of 256 fields would
    // cost 200,000 × 256 fields (and their name lookups) unless one allowance spans the
    // stream (src/lift/mod.rs joblib_hook).
    let f8 = b"(K\x03X\x01\x00\x00\x00<NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00t";
    let mut p = b"\x80\x02cjoblib.numpy_pickle\nNumpyArrayWrapper\nq\x01".to_vec();
    p.extend_from_slice(&dtype("f8", f8));
    p.extend_from_slice(b"q\x000");
    let names: Vec<String> = (0..256).map(|i| format!("f{i}")).collect();
    let mut state = b"(K\x03X\x01\x00\x00\x00|N(".to_vec();
    for name in &names {
        state.push(b'X');
        state.extend_from_slice(&(name.len() as u32).to_le_bytes());
        state.extend_from_slice(name.as_bytes());
    }
    state.extend_from_slice(b"t}(");
    for (i, name) in names.iter().enumerate() {
        state.push(b'X');
        state.extend_from_slice(&(name.len() as u32).to_le_bytes());
        state.extend_from_slice(name.as_bytes());
        state.extend_from_slice(b"h\x00J");
        state.extend_from_slice(&(i as i32 * 8).to_le_bytes());
        state.push(0x86);
    }
    state.extend_from_slice(b"uM\x00\x08K\x01K\x00t");
    p.extend_from_slice(&dtype("V2048", &state));
    p.extend_from_slice(b"q\x02}q\x03(X\x05\x00\x00\x00shapeK\x00\x85X\x05\x00\x00\x00orderX\x01\x00\x00\x00CX\x05\x00\x00\x00dtypeh\x02u0](");
    p.extend(std::iter::repeat_n(*b"h\x01)\x81h\x03b", 200_000).flatten());
    p.extend_from_slice(b"e.");
    let result = explain(
        "200,000 joblib wrappers sharing a dtype of 256 fields",
        &p,
        &options(),
        64 * MIB,
    );
    let e = result.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    assert!(
        e.message()
            .contains("more fields and subarrays in all than its size allows"),
        "{e}"
    );
}

#[test]
fn joblib_object_arrays_nested_in_each_other_are_refused_before_the_stack_overflows() {
    let _one = one_at_a_time();
    // Was: a stack overflow, one recursion per nested pickle (src/machine/mod.rs).
    let depth = 20_000;
    let mut p = JOBLIB_OBJECT_WRAPPER.repeat(depth);
    p.extend_from_slice(b"N.");
    p.extend(std::iter::repeat_n(b'.', depth));
    // The 17th wrapper's nested pickle, just after its BUILD.
    let at = JOBLIB_OBJECT_WRAPPER.len() * 17;
    assert_error(
        explain(
            "joblib object arrays nested 20,000 deep",
            &p,
            &options(),
            16 * MIB,
        ),
        ErrorKind::Unsupported,
        at as u64,
        "joblib object arrays nested more than 16 deep",
    );
    // One level, as joblib writes it, is read.
    let mut p = JOBLIB_OBJECT_WRAPPER.to_vec();
    p.extend_from_slice(b"\x80\x02]K\x01a..");
    explain("joblib object array", &p, &options(), 4 * MIB).unwrap();
}

#[test]
fn many_globals_deep_in_the_tree_cost_linear_memory() {
    let _one = one_at_a_time();
    // Was: every use kept its full path: 50,000 globals × 200,000 levels, 24 GB
    // (src/analysis/walk.rs); and listing them was quadratic (src/render/text.rs).
    let depth = 200_000;
    let mut p = b"\x80\x02".to_vec();
    p.extend(std::iter::repeat_n(b'(', depth + 1));
    for i in 0..50_000 {
        p.extend_from_slice(format!("cm\ng{i}\n").as_bytes());
    }
    p.extend(std::iter::repeat_n(b'l', depth + 1));
    p.push(b'.');
    explain(
        "50,000 globals 200,000 levels deep",
        &p,
        &options(),
        384 * MIB,
    )
    .unwrap();
    let report = inspect("deep globals", &p, &options()).unwrap();
    let path = &report.pickles[0].imports[0].paths[0];
    assert!(
        path.len() <= 512 + 3 && path.ends_with('\u{2026}'),
        "{path}"
    );
}

/// A protocol-2 pickle whose root is a list `depth` levels deep holding `count` arrays
/// (`int32[2]`, the reconstruction memoized so each array costs 8 bytes).
fn deep_arrays(depth: usize, count: usize) -> Vec<u8> {
    let mut p = b"\x80\x02cnumpy.core.multiarray\n_reconstruct\nq\x01cnumpy\nndarray\nK\x00\x85C\x01b\x87q\x02(K\x01K\x02\x85cnumpy\ndtype\nX\x02\x00\x00\x00i4K\x00K\x01\x87R(K\x03X\x01\x00\x00\x00<NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb\x89C\x08\x01\x00\x00\x00\x02\x00\x00\x00tq\x03000".to_vec();
    p.extend(std::iter::repeat_n(b'(', depth));
    p.extend_from_slice(b"](");
    p.extend(std::iter::repeat_n(*b"h\x01h\x02Rh\x03b", count).flatten());
    p.push(b'e');
    p.extend(std::iter::repeat_n(b'l', depth));
    p.push(b'.');
    p
}

#[test]
fn many_arrays_deep_in_the_tree_extract_in_linear_time() {
    let _one = one_at_a_time();
    // Was: the JSON writer rendered every array's full path (depth × count) and looked its
    // report up by a linear search (count²) (src/extract/json.rs); npy names counted up
    // from -2 for every array sharing a stem (src/extract/names.rs).
    let p = deep_arrays(100_000, 5_000);
    explain("5,000 arrays 100,000 levels deep", &p, &options(), 96 * MIB).unwrap();
    let json = extract_json("5,000 arrays 100,000 levels deep", &p, 1 << 30, 256 * MIB).unwrap();
    let json = String::from_utf8(json).unwrap();
    assert_eq!(json.matches(r#""data":[1,2]"#).count(), 5_000);
    let (dir, written) = extract_npy("5,000 arrays 100,000 levels deep", &p, 256 * MIB);
    assert_eq!(written.unwrap(), 5_000);
    assert_eq!(
        std::fs::read_dir(dir.path().join("out")).unwrap().count(),
        5_001
    );
}

#[test]
fn more_arrays_than_open_files_extract() {
    let _one = one_at_a_time();
    // Was: "Too many open files": every array's temporary file stayed open until the end
    // (src/extract/mod.rs, src/extract/json.rs). 1,500 is past the usual limit of 1,024.
    let p = deep_arrays(0, 1_500);
    let (dir, written) = extract_npy("1,500 arrays", &p, 64 * MIB);
    assert_eq!(written.unwrap(), 1_500);
    let file = dir.path().join("tree.json");
    let options = extract_options(
        Target::Json {
            file: Some(file.clone()),
            arrays_as_files: true,
        },
        1 << 30,
    );
    extract("1,500 arrays", &p, &options).unwrap();
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1_502);
}

#[test]
fn json_that_would_outgrow_max_bytes_is_refused() {
    let _one = one_at_a_time();
    // A 1 MiB str shared a million times, and containers shared along a 50,000-level
    // chain (each $ref names a path as deep as its level): the documents would be a
    // terabyte and gigabytes; they are refused at --max-bytes, with the memory that costs.
    let mut p = b"\x80\x02(X\x00\x00\x10\x00".to_vec();
    p.extend(std::iter::repeat_n(b'a', 1 << 20));
    p.extend_from_slice(b"q\x00");
    p.extend(std::iter::repeat_n(*b"h\x00", MILLION).flatten());
    p.extend_from_slice(b"l.");
    explain("str memo bomb", &p, &options(), 96 * MIB).unwrap();
    assert_error(
        extract_json("str memo bomb", &p, 64 * MIB, 256 * MIB),
        ErrorKind::LimitExceeded(Limit::Bytes),
        0,
        "the JSON document would be larger than 67108864 bytes (limit max_bytes)",
    );
    let mut p = b"\x80\x02]q\x00".to_vec();
    p.extend(std::iter::repeat_n(*b"(h\x00h\x00lq\x00", 50_000).flatten());
    p.push(b'.');
    explain("shared chain", &p, &options(), 32 * MIB).unwrap();
    assert_error(
        extract_json("shared chain", &p, 64 * MIB, 256 * MIB),
        ErrorKind::LimitExceeded(Limit::Bytes),
        0,
        "the JSON document would be larger than 67108864 bytes (limit max_bytes)",
    );
}

// ---------------------------------------------------------------------------------------
// Containers: bombs past the limit, lying zips, hostile member names, lying npy headers.

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// A pickle of a 4 MiB bytes value (zeros): compresses a thousandfold.
fn big_pickle() -> Vec<u8> {
    let mut p = b"\x80\x04\x8e".to_vec();
    p.extend_from_slice(&(4u64 << 20).to_le_bytes());
    p.resize(p.len() + (4 << 20), 0);
    p.push(b'.');
    p
}

fn with_max_decompressed(limit: u64) -> Options {
    Options {
        limits: Limits {
            max_decompressed: limit,
            ..Limits::default()
        },
        ..Options::default()
    }
}

#[test]
fn compression_bombs_stop_at_the_limit() {
    let _one = one_at_a_time();
    let p = big_pickle();
    let mut bombs = vec![("gzip", gzip(&p)), ("zlib", zlib(&p))];
    if let Some(python) = common::python3() {
        let dir = tempfile::tempdir().unwrap();
        let raw = dir.path().join("raw");
        std::fs::write(&raw, &p).unwrap();
        let script = r#"
import bz2, lzma, sys
data = open(sys.argv[1], 'rb').read()
open(sys.argv[1] + '.xz', 'wb').write(lzma.compress(data))
open(sys.argv[1] + '.lzma', 'wb').write(lzma.compress(data, format=lzma.FORMAT_ALONE))
open(sys.argv[1] + '.bz2', 'wb').write(bz2.compress(data))
"#;
        common::run_python(python, script, &[raw.to_str().unwrap()]);
        for kind in ["xz", "lzma", "bz2"] {
            bombs.push((
                kind,
                std::fs::read(dir.path().join(format!("raw.{kind}"))).unwrap(),
            ));
        }
    }
    for (kind, bomb) in bombs {
        assert!(bomb.len() < 200_000, "{kind}: {}", bomb.len());
        let name = format!("{kind} bomb ({} bytes to 4 MiB)", bomb.len());
        let e = explain(&name, &bomb, &with_max_decompressed(MIB), 16 * MIB).unwrap_err();
        assert_eq!(
            e.kind(),
            ErrorKind::LimitExceeded(Limit::Decompressed),
            "{e}"
        );
        assert!(e.offset() <= bomb.len() as u64, "{e}");
        assert!(
            e.message().contains(&format!(
                "stream decompresses to more than {MIB} bytes (limit max_decompressed)"
            )),
            "{e}"
        );
        // Under the default limits deflate's streams open (deflate cannot pass a ratio of
        // 1,032); the others compress zeros further than max_decompression_ratio allows.
        match explain(&name, &bomb, &options(), 96 * MIB) {
            Ok(()) => assert!(kind == "gzip" || kind == "zlib", "{kind}"),
            Err(e) => assert_eq!(
                e.kind(),
                ErrorKind::LimitExceeded(Limit::DecompressionRatio),
                "{kind}: {e}"
            ),
        }
    }
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = flate2::Crc::new();
    crc.update(data);
    crc.sum()
}

/// A zip writer small enough to lie with: `(name, data, method)`, method 0 (stored) or 8
/// (data already deflated, `size` the uncompressed size).
struct Member<'a> {
    name: &'a str,
    data: Vec<u8>,
    method: u16,
    size: u32,
    crc: u32,
}

fn stored<'a>(name: &'a str, data: &[u8]) -> Member<'a> {
    Member {
        name,
        data: data.to_vec(),
        method: 0,
        size: data.len() as u32,
        crc: crc32(data),
    }
}

fn deflated<'a>(name: &'a str, data: &[u8]) -> Member<'a> {
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(data).unwrap();
    Member {
        name,
        data: e.finish().unwrap(),
        method: 8,
        size: data.len() as u32,
        crc: crc32(data),
    }
}

/// Local headers and data, then the central directory: `central` may point several
/// entries at one local header (`offsets`), and sizes can be overridden per entry.
fn zip(members: &[Member<'_>], central: &[(usize, Option<u32>)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut offsets = Vec::new();
    for m in members {
        offsets.push(out.len() as u32);
        out.extend_from_slice(b"PK\x03\x04\x14\x00\x00\x00");
        out.extend_from_slice(&m.method.to_le_bytes());
        out.extend_from_slice(&[0, 0, 0x21, 0]);
        out.extend_from_slice(&m.crc.to_le_bytes());
        out.extend_from_slice(&(m.data.len() as u32).to_le_bytes());
        out.extend_from_slice(&m.size.to_le_bytes());
        out.extend_from_slice(&(m.name.len() as u16).to_le_bytes());
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(m.name.as_bytes());
        out.extend_from_slice(&m.data);
    }
    let cd_start = out.len() as u32;
    for &(i, size) in central {
        let m = &members[i];
        out.extend_from_slice(b"PK\x01\x02\x14\x00\x14\x00\x00\x00");
        out.extend_from_slice(&m.method.to_le_bytes());
        out.extend_from_slice(&[0, 0, 0x21, 0]);
        out.extend_from_slice(&m.crc.to_le_bytes());
        out.extend_from_slice(&(m.data.len() as u32).to_le_bytes());
        out.extend_from_slice(&size.unwrap_or(m.size).to_le_bytes());
        out.extend_from_slice(&(m.name.len() as u16).to_le_bytes());
        out.extend_from_slice(&[0; 12]);
        out.extend_from_slice(&offsets[i].to_le_bytes());
        out.extend_from_slice(m.name.as_bytes());
    }
    let cd_len = out.len() as u32 - cd_start;
    out.extend_from_slice(b"PK\x05\x06\x00\x00\x00\x00");
    out.extend_from_slice(&(central.len() as u16).to_le_bytes());
    out.extend_from_slice(&(central.len() as u16).to_le_bytes());
    out.extend_from_slice(&cd_len.to_le_bytes());
    out.extend_from_slice(&cd_start.to_le_bytes());
    out.extend_from_slice(&[0, 0]);
    out
}

/// An `.npy` of `int64` with this shape text and these data bytes.
fn npy(shape: &str, data: &[u8]) -> Vec<u8> {
    let mut header = format!("{{'descr': '<i8', 'fortran_order': False, 'shape': {shape}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

#[test]
fn a_zip_bomb_member_stops_at_the_limit() {
    let _one = one_at_a_time();
    // An npz member of 4 MiB of zeros, deflated to 4 KiB; and the same member listed a
    // thousand times in the central directory (the overlapping-files bomb).
    let data = npy("(524288,)", &vec![0u8; 4 << 20]);
    let member = deflated("a.npy", &data);
    let bomb = zip(&[member], &[(0, None)]);
    let e = explain(
        "zip bomb member",
        &bomb,
        &with_max_decompressed(MIB),
        16 * MIB,
    )
    .unwrap_err();
    assert_eq!(
        e.kind(),
        ErrorKind::LimitExceeded(Limit::Decompressed),
        "{e}"
    );
    assert_eq!(e.offset(), 0, "{e}");
    let message = format!(
        "zip member \"a.npy\" declares {} bytes uncompressed, more than the limit of 1048576 (limit max_decompressed)",
        data.len()
    );
    assert!(e.message().contains(&message), "{e}");
    explain("zip bomb member", &bomb, &options(), 32 * MIB).unwrap();
    // Lying about the size does not get past the limit either.
    let member = deflated("a.npy", &data);
    let lying = zip(&[member], &[(0, Some(1000))]);
    let e = explain(
        "zip bomb member that lies about its size",
        &lying,
        &with_max_decompressed(MIB),
        16 * MIB,
    )
    .unwrap_err();
    assert!(
        matches!(
            e.kind(),
            ErrorKind::LimitExceeded(Limit::Decompressed) | ErrorKind::InvalidArgument
        ),
        "{e}"
    );
    let member = deflated("a.npy", &data);
    let overlapping = zip(&[member], &vec![(0, None); 1000]);
    let e = explain(
        "1,000 entries sharing one member",
        &overlapping,
        &options(),
        16 * MIB,
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
}

#[test]
fn zips_that_lie_about_their_members_are_refused() {
    let _one = one_at_a_time();
    let a = npy("(1,)", &[1, 0, 0, 0, 0, 0, 0, 0]);
    // Two central entries for one local header (and one name).
    let two = zip(
        &[stored("a.npy", &a), stored("b.npy", &a)],
        &[(0, None), (0, None)],
    );
    let e = explain("two entries, one local header", &two, &options(), 8 * MIB).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    // A stored member whose declared size is not its length.
    let lying = zip(&[stored("a.npy", &a)], &[(0, Some(4))]);
    let e = explain(
        "stored member with a lying size",
        &lying,
        &options(),
        8 * MIB,
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    // Member data running past the end of the file (the central directory's size).
    let mut cut = zip(&[stored("a.npy", &a)], &[(0, None)]);
    let len = cut.len();
    let cd = u32::from_le_bytes(cut[len - 6..len - 2].try_into().unwrap()) as usize;
    cut[cd + 20..cd + 28].copy_from_slice(
        &[
            &(len as u32 * 4).to_le_bytes()[..],
            &(len as u32 * 4).to_le_bytes()[..],
        ]
        .concat(),
    );
    let e = explain("member past the end", &cut, &options(), 8 * MIB).unwrap_err();
    assert!(e.offset() <= len as u64, "{e}");
}

#[test]
fn a_member_named_with_dot_dot_cannot_write_outside_the_folder() {
    let _one = one_at_a_time();
    // np.load would open it (members are looked up by name): explain and extract do too,
    // and the file written is named after the object path, inside the folder.
    let a = npy("(1,)", &[7, 0, 0, 0, 0, 0, 0, 0]);
    let archive = zip(
        &[stored("../../evil.npy", &a), stored("/abs.npy", &a)],
        &[(0, None), (1, None)],
    );
    explain("npz member ../../evil.npy", &archive, &options(), 8 * MIB).unwrap();
    let (dir, written) = extract_npy("npz member ../../evil.npy", &archive, 16 * MIB);
    assert_eq!(written.unwrap(), 2);
    let mut outside: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    outside.sort();
    assert_eq!(outside, ["out"]);
    for entry in std::fs::read_dir(dir.path().join("out")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        assert!(!name.starts_with('.') && !name.contains(".."), "{name}");
        assert!(Path::new(&name).components().count() == 1, "{name}");
    }
}

#[test]
fn an_npy_header_that_lies_about_its_shape_is_not_read_past_its_data() {
    let _one = one_at_a_time();
    // A million elements claimed, one present: numpy refuses to load it; we list it as
    // unavailable, and extract skips it with the reason.
    let lying = npy("(1000000,)", &[1, 0, 0, 0, 0, 0, 0, 0]);
    explain(
        "npy claiming 1,000,000 elements",
        &lying,
        &options(),
        8 * MIB,
    )
    .unwrap();
    let report = inspect("lying.npy", &lying, &options()).unwrap();
    assert_eq!(
        report.arrays[0].unavailable.as_deref(),
        Some("buffer holds 8 bytes, dtype and shape need 8000000")
    );
    let (_dir, written) = extract_npy("npy claiming 1,000,000 elements", &lying, 8 * MIB);
    assert_eq!(written.unwrap(), 0);
    // A shape whose byte count overflows 64 bits.
    let huge = npy("(4294967296, 4294967296)", &[0; 8]);
    let report = inspect("huge.npy", &huge, &options()).unwrap();
    assert_eq!(
        report.arrays[0].unavailable.as_deref(),
        Some("buffer holds 8 bytes, dtype and shape need more than 2**64")
    );
    extract_json("npy claiming 2**64 elements", &huge, 1 << 30, 8 * MIB).unwrap();
    // A header length past the end of the file.
    let mut cut = npy("(1,)", &[0; 8]);
    cut[8..10].copy_from_slice(&u16::MAX.to_le_bytes());
    assert_error(
        explain("npy header length past the end", &cut, &options(), 8 * MIB),
        ErrorKind::LengthPastEnd,
        8,
        "npy header length 65535 goes past the end of the input",
    );
}

#[test]
fn a_failed_later_pickle_leaves_the_earlier_ones_as_they_were() {
    let _one = one_at_a_time();
    // Found by the mutation sweep (fixtures/multi/memo_shared_p4.pkl, byte 229 set to 0):
    // a second pickle that reads the first one's memo, appends to its list and then fails
    // was dropped, but the list kept the id of the dropped node: an index out of bounds in
    // the walk (src/machine/graph.rs now saves and restores changed nodes).
    let p = b"\x80\x02]q\x00.\x80\x02h\x00(]e\xff";
    explain(
        "failed pickle appending to an earlier list",
        p,
        &options(),
        4 * MIB,
    )
    .unwrap();
    let report = inspect("failed later pickle", p, &options()).unwrap();
    assert_eq!(report.pickles.len(), 1);
    assert!(
        report.findings.iter().any(|f| f.offset == Some(6)),
        "{:?}",
        report.findings
    );
    let json = extract_json(
        "failed pickle appending to an earlier list",
        p,
        1 << 20,
        4 * MIB,
    );
    assert_eq!(json.unwrap(), b"[]\n");
}

#[test]
fn many_arrays_sharing_a_big_construction_are_walked_in_linear_time() {
    let _one = one_at_a_time();
    // Was: the walk attributed globals by visiting up to 10,000 nodes of every array's
    // construction: 20,000 arrays whose dtype call carries one 10,000-item list (through
    // the memo) cost 2×10⁸ steps (src/analysis/walk.rs attribute_subtree).
    let mut p = b"\x80\x02cnumpy.core.multiarray\n_reconstruct\nq\x01cnumpy\nndarray\nK\x00\x85C\x01b\x87q\x02(K\x01K\x02\x85cnumpy\ndtype\n(X\x02\x00\x00\x00i4K\x00K\x01](".to_vec();
    p.extend(std::iter::repeat_n(*b"K\x07", 10_000).flatten());
    p.extend_from_slice(b"etR(K\x03X\x01\x00\x00\x00<NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb\x89C\x08\x01\x00\x00\x00\x02\x00\x00\x00tq\x03000](");
    p.extend(std::iter::repeat_n(*b"h\x01h\x02Rh\x03b", 20_000).flatten());
    p.extend_from_slice(b"e.");
    explain(
        "20,000 arrays sharing a 10,000-item dtype argument",
        &p,
        &options(),
        64 * MIB,
    )
    .unwrap();
    let report = inspect("shared construction", &p, &options()).unwrap();
    assert_eq!(report.pickles[0].arrays.len(), 20_000);
    let dtype = report.pickles[0]
        .imports
        .iter()
        .find(|i| i.name == "dtype")
        .unwrap();
    assert_eq!(dtype.uses, 20_000);
}

#[test]
fn the_cli_exits_2_with_one_line_naming_file_offset_and_limit() {
    let _one = one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let proto9 = dir.path().join("proto9.pkl");
    std::fs::write(&proto9, b"\x80\x09N.").unwrap();
    let bomb = dir.path().join("bomb.pkl.gz");
    std::fs::write(&bomb, gzip(&big_pickle())).unwrap();
    let deep = dir.path().join("deep.pkl");
    std::fs::write(&deep, nested_lists(true)).unwrap();
    for (args, file, message) in [
        (&[][..], &proto9, "unsupported pickle protocol: 9 (at offset 0 = 0x0)"),
        (
            &["--max-decompressed", "1048576"][..],
            &bomb,
            "gzip stream decompresses to more than 1048576 bytes (limit max_decompressed; raise it with --max-decompressed)",
        ),
        (
            &["--max-depth", "1000"][..],
            &deep,
            "MARKs nested more than 1000 deep (limit max_depth; raise it with --max-depth) (at offset 1002 = 0x3ea)",
        ),
    ] {
        let out = common::pklinspect()
            .arg("explain")
            .args(args)
            .arg(file)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(&file.display().to_string()), "{stderr}");
        assert!(stderr.contains(message), "{stderr}");
    }
    // Under the default limits both open.
    for file in [&bomb, &deep] {
        let out = common::pklinspect()
            .arg("explain")
            .arg(file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn false_starts_before_a_long_run_of_opcodes_do_not_multiply_the_scan() {
    let _one = one_at_a_time();
    // Was: the look for hidden pickles after the last one parsed each of 256 candidates
    // (`\x80\x02` false starts) through the whole run of opcodes behind them: 256 × the
    // file (a 32 MiB file took a minute in a release build; src/inspect.rs).
    let mut p = b"N.\x00".to_vec();
    p.extend(std::iter::repeat_n(*b"\x80\x02", 256).flatten());
    p.extend(std::iter::repeat_n(*b"N0", 1 << 20).flatten());
    explain(
        "256 false starts before 2 MiB of opcodes",
        &p,
        &options(),
        16 * MIB,
    )
    .unwrap();
    // A payload hidden after the data is still found.
    let mut p = b"N.\x00".to_vec();
    p.extend_from_slice(b"\x80\x02cos\nsystem\nX\x02\x00\x00\x00id\x85R.");
    let report = inspect("hidden payload", &p, &options()).unwrap();
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.name.as_deref() == Some("system") && f.offset == Some(5)),
        "{:?}",
        report.findings
    );
}

#[test]
fn an_ordered_dict_shared_many_times_is_written_once_then_referenced() {
    let _one = one_at_a_time();
    // Was: every reference recomputed whether the OrderedDict has an identity, which reads
    // all its items: references × items (src/extract/json.rs).
    let n = 100_000;
    let mut p = b"\x80\x02ccollections\nOrderedDict\nq\x00X\x01\x00\x00\x00aK\x01\x86q\x010h\x00]("
        .to_vec();
    p.extend(std::iter::repeat_n(*b"h\x01", n).flatten());
    p.extend_from_slice(b"e\x85Rq\x020(");
    p.extend(std::iter::repeat_n(*b"h\x02", n).flatten());
    p.extend_from_slice(b"l.");
    let json = extract_json(
        "OrderedDict of 100,000 items shared 100,000 times",
        &p,
        1 << 30,
        64 * MIB,
    )
    .unwrap();
    let json = String::from_utf8(json).unwrap();
    assert!(
        json.starts_with(r#"[{"a":1},{"$ref":"$[0]"},"#),
        "{}",
        &json[..60]
    );
    assert_eq!(json.matches(r#"{"$ref":"$[0]"}"#).count(), n - 1);
}

/// The reconstruction of an `int32` array with this dtype and shape (both memoized by the
/// caller's bytes), then `count` arrays sharing them.
fn arrays_sharing(dtype: &[u8], shape: &[u8], count: usize) -> Vec<u8> {
    let mut p = b"\x80\x02cnumpy.core.multiarray\n_reconstruct\nq\x01cnumpy\nndarray\nK\x00\x85C\x01b\x87q\x02(K\x01".to_vec();
    p.extend_from_slice(shape);
    p.extend_from_slice(dtype);
    p.extend_from_slice(b"\x89C\x00tq\x03000](");
    p.extend(std::iter::repeat_n(*b"h\x01h\x02Rh\x03b", count).flatten());
    p.extend_from_slice(b"e.");
    p
}

#[test]
fn arrays_sharing_a_dtype_bomb_or_a_huge_shape_cost_linear_time_and_memory() {
    let _one = one_at_a_time();
    // Was: each array rebuilt its own copy of the shared dtype (5,000 × 4,096 parts) or
    // shape (10,000 × 100,000 dimensions, 8 GB): src/lift/dtype.rs, src/lift/mod.rs.
    let mut bomb = dtype(
        "f8",
        b"(K\x03X\x01\x00\x00\x00<NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00t",
    );
    bomb.extend_from_slice(b"q\x00");
    for _ in 0..40 {
        bomb.push(b'0');
        let mut state = b"(K\x03X\x01\x00\x00\x00|N(".to_vec();
        for f in b'a'..b'i' {
            state.extend_from_slice(&[b'X', 1, 0, 0, 0, f]);
        }
        state.extend_from_slice(b"t}(");
        for f in b'a'..b'i' {
            state.extend_from_slice(&[b'X', 1, 0, 0, 0, f, b'h', 0, b'K', 0, 0x86]);
        }
        state.extend_from_slice(b"uK\x08K\x01K\x00t");
        bomb.extend_from_slice(&dtype("V8", &state));
        bomb.extend_from_slice(b"q\x00");
    }
    let p = arrays_sharing(&bomb, b"K\x00\x85", 5_000);
    explain(
        "5,000 arrays sharing a dtype bomb",
        &p,
        &options(),
        96 * MIB,
    )
    .unwrap();
    extract_json("5,000 arrays sharing a dtype bomb", &p, 1 << 30, 128 * MIB).unwrap();

    let i4 = dtype(
        "i4",
        b"(K\x03X\x01\x00\x00\x00<NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00t",
    );
    let mut shape = b"(".to_vec();
    shape.extend(std::iter::repeat_n(*b"K\x01", 100_000).flatten());
    shape.push(b't');
    let p = arrays_sharing(&i4, &shape, 10_000);
    explain(
        "10,000 arrays sharing a 100,000-dimension shape",
        &p,
        &options(),
        64 * MIB,
    )
    .unwrap();
    let report = inspect("shared shape", &p, &options()).unwrap();
    assert_eq!(
        report.pickles[0].arrays[0].unavailable.as_deref(),
        Some("shape has 100000 dimensions, more than numpy's 64")
    );
}

#[test]
fn tensors_sharing_a_megabyte_storage_key_do_not_copy_it_each() {
    let _one = one_at_a_time();
    // Was: each tensor copied its storage key: 10,000 × 1 MiB (src/lift/mod.rs).
    let mut p = b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\nq\x00(X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x00\x00\x10\x00".to_vec();
    p.extend(std::iter::repeat_n(b'k', 1 << 20));
    p.extend_from_slice(b"X\x03\x00\x00\x00cpuK\x01tQq\x010(h\x01K\x00K\x01\x85K\x01\x85\x89ccollections\nOrderedDict\n)Rtq\x020](");
    p.extend(std::iter::repeat_n(*b"h\x00h\x02R", 10_000).flatten());
    p.extend_from_slice(b"e.");
    explain(
        "10,000 tensors sharing a 1 MiB storage key",
        &p,
        &options(),
        64 * MIB,
    )
    .unwrap();
    let report = inspect("shared key", &p, &options()).unwrap();
    assert_eq!(report.pickles[0].arrays.len(), 10_000);
    assert_eq!(
        report.pickles[0].arrays[0].unavailable.as_deref(),
        Some("storage key is not text of at most 256 bytes")
    );
}

/// A legacy (non-zip) `torch.save` file holding one float tensor whose storage offset is
/// `storage_offset`: the magic, protocol and sys-info pickles, the object, the storage-key
/// list, then the storage (element count, then the elements).
fn legacy_torch_tensor(storage_offset: u64) -> Vec<u8> {
    let mut p = Vec::new();
    p.extend_from_slice(b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.");
    p.extend_from_slice(b"\x80\x02M\xe9\x03.");
    p.extend_from_slice(b"\x80\x02}.");
    p.extend_from_slice(b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\n(");
    p.extend_from_slice(b"(X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x02\x00\x00\x00k0X\x03\x00\x00\x00cpuK\x01tQ");
    p.extend_from_slice(b"\x8a\x09");
    p.extend_from_slice(&storage_offset.to_le_bytes());
    p.push(0); // LONG1 is signed: a ninth byte keeps the offset positive
    p.extend_from_slice(b"K\x01\x85K\x01\x85\x89ccollections\nOrderedDict\n)RtR.");
    p.extend_from_slice(b"\x80\x02]X\x02\x00\x00\x00k0a.");
    p.extend_from_slice(&1u64.to_le_bytes());
    p.extend_from_slice(&1.5f32.to_le_bytes());
    p
}

#[test]
fn a_torch_storage_offset_past_two_to_the_64_bytes_is_reported_not_wrapped() {
    let _one = one_at_a_time();
    // Was: `storage_offset * itemsize` overflowed (a debug build panicked; release
    // reported a wrapped offset and an "extractable" tensor that extract then skipped).
    let sane = inspect("sane", &legacy_torch_tensor(0), &options()).unwrap();
    assert_eq!(sane.container, "torch-legacy");
    let tensor = &sane.pickles[3].arrays[0];
    assert_eq!(tensor.unavailable, None, "{tensor:?}");

    let p = legacy_torch_tensor(u64::MAX / 2);
    let report = inspect("huge", &p, &options()).unwrap();
    let tensor = &report.pickles[3].arrays[0];
    assert_eq!(tensor.offset, None, "{tensor:?}");
    let reason = tensor.unavailable.as_deref().unwrap_or_default();
    assert!(reason.contains("lies past any file"), "{reason:?}");
    explain("huge storage offset", &p, &options(), 16 * MIB).unwrap();
    let (dir, written) = extract_npy("huge storage offset", &p, 16 * MIB);
    assert_eq!(written.unwrap(), 0, "nothing to write");
    drop(dir);
}

// ---------------------------------------------------------------------------------------
// Bounded cost by default (issue 12): each of these took minutes or gigabytes before.

/// A protocol-4 `STACK_GLOBAL` of `module` + `name` (both BINUNICODE8).
fn stack_global(module: &str, name: &str) -> Vec<u8> {
    let mut p = b"\x80\x04".to_vec();
    for s in [module, name] {
        p.push(0x8d);
        p.extend_from_slice(&(s.len() as u64).to_le_bytes());
        p.extend_from_slice(s.as_bytes());
    }
    p.extend_from_slice(b"\x93.");
    p
}

#[test]
fn a_dotted_name_of_8000_steps_resolves_in_linear_time() {
    let _one = one_at_a_time();
    // Was: about 20 s in a release build (minutes in debug): every step of the getattr
    // chain looked up its whole path and every parent of it again, cubic in the steps
    // (src/classify/mod.rs resolve_dotted).
    let name = vec!["a"; 8000].join(".");
    let p = stack_global("m", &name);
    assert!(p.len() > 16_000 && p.len() < 16_100, "{}", p.len());
    let (report, _, took) = measure(|| inspect("dotted bomb", &p, &options()));
    assert!(took < Duration::from_secs(2), "took {took:?}");
    let report = report.unwrap();
    let import = &report.pickles[0].imports[0];
    assert_eq!(import.category, pklinspect::classify::Category::CodeExec);
    assert!(
        import.reason.contains("has 8000 steps, more than the 256"),
        "{}",
        import.reason
    );
    explain("dotted name of 8,000 steps", &p, &options(), 8 * MIB).unwrap();
    // Under the cap the chain is walked, step by step, still in linear time: 256 steps of
    // 60 bytes, and a module path of 8,000 components.
    let long_steps = vec!["a".repeat(60); 256].join(".");
    let p = stack_global("m", &long_steps);
    let (report, _, took) = measure(|| inspect("256 long steps", &p, &options()));
    assert!(took < Duration::from_secs(2), "took {took:?}");
    let import = &report.unwrap().pickles[0].imports[0];
    assert_eq!(import.category, pklinspect::classify::Category::Unknown);
    let p = stack_global(&name, "b");
    let (report, _, took) = measure(|| inspect("8,000-component module", &p, &options()));
    assert!(took < Duration::from_secs(2), "took {took:?}");
    assert_eq!(
        report.unwrap().pickles[0].imports[0].category,
        pklinspect::classify::Category::Unknown
    );
}

/// A writer that counts what it is given and keeps none of it.
#[derive(Default)]
struct Counting(u64);

impl std::io::Write for Counting {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn dis_caps_the_indentation_of_100000_nested_marks() {
    let _one = one_at_a_time();
    // Was: pickletools' indentation by MARK depth, 4 blanks a level: 100,000 nested MARKs
    // (200 KB) listed in 20 GB (src/dis.rs).
    use pklinspect::dis::{dis_all, DisOptions};
    let mut p = vec![0x80, 2];
    p.extend(std::iter::repeat_n(b'(', 100_000));
    p.push(b']');
    p.extend(std::iter::repeat_n(b'l', 100_000));
    p.push(b'.');
    let mut out = Counting::default();
    let (summary, grown, took) = measure(|| dis_all(&p, &DisOptions::default(), &mut out));
    println!(
        "hostile: dis of 100,000 nested MARKs: {} bytes, +{:.1} MiB peak, {:.2} s",
        out.0,
        grown as f64 / MIB as f64,
        took.as_secs_f64()
    );
    assert!(took < TIME_BOUND, "took {took:?}");
    assert!(grown < 16 * MIB, "{grown}");
    // 200,003 lines of at most 256 levels of 4 blanks and the opcode's name.
    assert!(out.0 < 200_003 * (256 * 4 + 40), "{} bytes", out.0);
    let summary = summary.unwrap();
    let [warning] = &summary.warnings[..] else {
        panic!("{:?}", summary.warnings)
    };
    assert_eq!(warning.kind(), ErrorKind::LimitExceeded(Limit::DisIndent));
    assert_eq!(warning.offset(), 2 + 257);
    assert!(
        warning
            .message()
            .contains("MARKs nested more than 256 deep: deeper lines are indented as at level 256"),
        "{warning}"
    );
    // The CLI says so on standard error, naming the flag; and the cap moves with it.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("marks.pkl");
    let mut small = vec![0x80, 2];
    small.extend(std::iter::repeat_n(b'(', 300));
    small.push(b']');
    small.extend(std::iter::repeat_n(b'l', 300));
    small.push(b'.');
    std::fs::write(&file, &small).unwrap();
    let out = common::pklinspect().arg("dis").arg(&file).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("(limit max_indent; raise it with --max-indent)"),
        "{stderr}"
    );
    // The widest indentation: blanks after `  302: ]    `, the offset and opcode columns.
    let deepest = |stdout: &[u8]| {
        String::from_utf8_lossy(stdout)
            .lines()
            .filter_map(|l| l.get(12..))
            .map(|l| l.len() - l.trim_start().len())
            .max()
            .unwrap_or(0)
    };
    assert!(out.status.success(), "{stderr}");
    assert_eq!(deepest(&out.stdout), 256 * 4);
    let out = common::pklinspect()
        .args(["dis", "--max-indent", "0"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(deepest(&out.stdout), 300 * 4);
}

/// Compression bombs written by python3 into `dir`: `bomb.pkl.bz2`, a pickle of 256 MiB of
/// zeros (a few hundred bytes), and `nodes.pkl.xz`, a pickle of 31 million empty tuples
/// (4.7 KB). `None` without python3.
fn write_bombs(dir: &Path) -> Option<()> {
    let python = common::python3()?;
    let script = r#"
import bz2, lzma, struct, sys, os
folder = sys.argv[1]
c = bz2.BZ2Compressor(9)
out = [c.compress(b"\x80\x04\x8e" + struct.pack("<Q", 256 << 20))]
zeros = bytes(1 << 24)
for _ in range(16):
    out.append(c.compress(zeros))
out.append(c.compress(b"."))
out.append(c.flush())
open(os.path.join(folder, "bomb.pkl.bz2"), "wb").write(b"".join(out))
c = lzma.LZMACompressor()
out = [c.compress(b"\x80\x02(")]
tuples = b")" * (1 << 20)
for _ in range(30):
    out.append(c.compress(tuples))
out.append(c.compress(b"l."))
out.append(c.flush())
open(os.path.join(folder, "nodes.pkl.xz"), "wb").write(b"".join(out))
"#;
    common::run_python(python, script, &[dir.to_str().unwrap()]);
    Some(())
}

#[test]
fn compression_bombs_stop_at_their_ratio_under_the_default_limits() {
    let _one = one_at_a_time();
    // Was (max_decompressed 64 GiB, max_nodes 100 million): the bz2 file inflated to all
    // its 256 MiB (a 1.2 KB one to 2.6 GiB), and the xz file built 31 million objects:
    // 3.7 GB and 27 s.
    let dir = tempfile::tempdir().unwrap();
    if write_bombs(dir.path()).is_none() {
        return;
    }
    for (file, kind) in [("bomb.pkl.bz2", "bz2"), ("nodes.pkl.xz", "xz")] {
        let bomb = std::fs::read(dir.path().join(file)).unwrap();
        assert!(bomb.len() < 5_000, "{file}: {}", bomb.len());
        let cap = (bomb.len() as u64 * 2_000).max(MIB);
        let name = format!("{kind} bomb of {} bytes, default limits", bomb.len());
        let e = explain(&name, &bomb, &options(), 64 * MIB).unwrap_err();
        assert_eq!(
            e.kind(),
            ErrorKind::LimitExceeded(Limit::DecompressionRatio),
            "{e}"
        );
        let message = format!(
            "{kind} stream decompresses to more than {cap} bytes (2000 times its {} compressed bytes, at least 1048576) (limit max_decompression_ratio)",
            bomb.len()
        );
        assert!(e.message().contains(&message), "{e}");
    }
}

#[test]
fn lint_checks_several_bombs_in_parallel_within_bounded_memory() {
    let _one = one_at_a_time();
    // Was: each bomb cost gigabytes (see above), and lint checks files in parallel, so
    // they added up: six of them, 15 GB.
    let dir = tempfile::tempdir().unwrap();
    let bombs = dir.path().join("bombs");
    std::fs::create_dir(&bombs).unwrap();
    if write_bombs(&bombs).is_none() {
        return;
    }
    for i in 0..2 {
        for file in ["bomb.pkl.bz2", "nodes.pkl.xz"] {
            std::fs::copy(bombs.join(file), bombs.join(format!("{i}-{file}"))).unwrap();
        }
    }
    let policy = pklinspect::lint::Policy::defaults(dir.path());
    let (run, grown, took) = measure(|| {
        pklinspect::lint::Linter::new(policy)
            .path(&bombs)
            .threads(4)
            .run()
            .unwrap()
    });
    println!(
        "hostile: lint of 6 bombs, 4 threads: +{:.1} MiB peak, {:.2} s",
        grown as f64 / MIB as f64,
        took.as_secs_f64()
    );
    assert!(took < TIME_BOUND, "took {took:?}");
    assert!(grown < 128 * MIB, "{grown}");
    assert_eq!(run.files.len(), 6);
    for file in &run.files {
        assert!(
            file.findings
                .iter()
                .any(|f| f.rule == pklinspect::rules::Rule::LimitExceeded),
            "{}: {:?}",
            file.name,
            file.findings
        );
    }
}

#[test]
fn lint_shares_one_memory_budget_between_its_threads() {
    let _one = one_at_a_time();
    // Four raw pickles of a million empty tuples each (about 120 MiB to check, one at a
    // time): with a budget of 200 MiB (their estimate is 128 MB each), one is checked at
    // a time, though four threads are free. Was: no budget, all four at once.
    let dir = tempfile::tempdir().unwrap();
    let files = dir.path().join("files");
    std::fs::create_dir(&files).unwrap();
    let mut p = b"\x80\x02(".to_vec();
    p.extend(std::iter::repeat_n(b')', MILLION));
    p.extend_from_slice(b"l.");
    for i in 0..4 {
        std::fs::write(files.join(format!("{i}.pkl")), &p).unwrap();
    }
    let config = dir.path().join("pklinspect.toml");
    std::fs::write(&config, "[limits]\nmax-memory = 209715200\n").unwrap();
    let policy = pklinspect::lint::Policy::load(&config, dir.path()).unwrap();
    let (run, grown, took) = measure(|| {
        pklinspect::lint::Linter::new(policy)
            .path(&files)
            .threads(4)
            .run()
            .unwrap()
    });
    println!(
        "hostile: lint of 4 files of 1,000,000 objects, 4 threads, budget 200 MiB: +{:.1} MiB peak, {:.2} s",
        grown as f64 / MIB as f64,
        took.as_secs_f64()
    );
    assert_eq!(run.files.len(), 4);
    assert!(took < TIME_BOUND * 2, "took {took:?}");
    assert!(grown < 256 * MIB, "{grown}");
}
