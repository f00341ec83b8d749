//! What runs when a file is loaded, as the loader reads it (issue 12): calls before a
//! failure are kept and reported, later pickles too, Python 3 reads STRING arguments as
//! str, computed names and BUILD on a module are code execution, and a discarded call
//! still runs. Hand-made bytes; the harmless twins are checked against CPython's two
//! unpicklers.

mod common;

use common::pklinspect;
use serde_json::Value;

/// Runs `pklinspect ARGS FILE` on `bytes` written to a temporary file; the JSON on stdout
/// and the exit code.
fn run_json(args: &[&str], bytes: &[u8]) -> (Value, i32) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("f.pkl");
    std::fs::write(&file, bytes).unwrap();
    let out = pklinspect().args(args).arg(&file).output().unwrap();
    common::json_and_code(&out)
}

fn explain(bytes: &[u8]) -> (Value, i32) {
    run_json(&["explain", "--format", "json"], bytes)
}

/// The findings of `lint --format json` on one file, its `error`, and the exit code.
fn lint_with_error(bytes: &[u8]) -> (Vec<Value>, Value, i32) {
    let (doc, code) = run_json(&["lint", "--format", "json", "--no-config"], bytes);
    let file = &doc["files"][0];
    let findings = file["findings"].as_array().cloned().unwrap_or_default();
    (findings, file["error"].clone(), code)
}

/// The findings of `lint --format json` on one file, and the exit code.
fn lint(bytes: &[u8]) -> (Vec<Value>, i32) {
    let (findings, _, code) = lint_with_error(bytes);
    (findings, code)
}

fn rules(findings: &[Value]) -> Vec<(String, u64)> {
    findings
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap_or("").to_string(),
                f["offset"].as_u64().unwrap_or(u64::MAX),
            )
        })
        .collect()
}

fn has(findings: &[Value], rule: &str, offset: u64) -> bool {
    rules(findings).contains(&(rule.to_string(), offset))
}

/// `module.name(arg)` at `proto`, its result POPped, then bytes no loader reads: the
/// "nullifAI" layout. Returns the bytes, the offset of the REDUCE, and where it breaks.
fn payload_then_broken(proto: u8, module: &str, name: &str, arg: &str) -> (Vec<u8>, usize, usize) {
    let mut body = Vec::new();
    if proto == 0 {
        body.extend(format!("c{module}\n{name}\n(S'{arg}'\nt").bytes());
    } else {
        let short = |s: &str| {
            let mut v = vec![0x8c, s.len() as u8];
            v.extend(s.bytes());
            v
        };
        if proto >= 4 {
            body.extend(short(module));
            body.extend(short(name));
            body.push(0x93); // STACK_GLOBAL
        } else {
            body.extend(format!("c{module}\n{name}\n").bytes());
        }
        body.push(b'X');
        body.extend((arg.len() as u32).to_le_bytes());
        body.extend(arg.bytes());
        body.push(0x85); // TUPLE1
    }
    let mut out = Vec::new();
    if proto >= 2 {
        out.extend([0x80, proto]);
    }
    if proto >= 4 {
        // A FRAME holding the payload (its REDUCE and POP too): the garbage follows it.
        out.push(0x95);
        out.extend(((body.len() + 2) as u64).to_le_bytes());
    }
    let reduce = out.len() + body.len();
    out.extend(&body);
    out.extend(b"R0");
    let broken = out.len();
    out.extend(b"\xff\x00garbage");
    (out, reduce, broken)
}

#[test]
fn a_payload_before_broken_bytes_is_reported_at_protocols_0_2_and_4() {
    for proto in [0u8, 2, 4] {
        let (bytes, reduce, broken) = payload_then_broken(proto, "posix", "system", "id");
        let (doc, code) = explain(&bytes);
        assert_ne!(code, 0, "protocol {proto}: the load fails, so must explain");
        assert_eq!(doc["verdict"], "dangerous", "protocol {proto}: {doc:#}");
        let findings = doc["findings"].as_array().unwrap();
        assert!(
            findings
                .iter()
                .any(|f| f["rule"] == "code-exec" && f["name"] == "system"),
            "protocol {proto}: {doc:#}"
        );
        assert!(
            has(findings, "malformed", broken as u64),
            "protocol {proto}: {doc:#}"
        );
        assert_eq!(doc["error"]["offset"], broken as u64);
        let calls = doc["pickles"][0]["calls"].as_array().unwrap();
        assert_eq!(calls.len(), 1, "protocol {proto}: {doc:#}");
        assert_eq!(calls[0]["offset"], reduce as u64);
        assert_eq!(calls[0]["opcode"], "REDUCE");
        assert_eq!(calls[0]["callable"], "posix.system");
        assert_eq!(calls[0]["result"], Value::Null);

        let (findings, error, code) = lint_with_error(&bytes);
        assert_eq!(code, 1, "protocol {proto}: {findings:#?}");
        assert_eq!(error["offset"], broken as u64);
        assert!(
            findings.iter().any(|f| f["rule"] == "code-exec"),
            "{findings:#?}"
        );
        assert!(has(&findings, "malformed", broken as u64), "{findings:#?}");
    }
}

#[test]
fn a_later_pickle_that_fails_keeps_its_imports() {
    // A complete first pickle (None), then a payload that breaks: a second load() runs it.
    let (payload, _, _) = payload_then_broken(2, "posix", "system", "id");
    let mut bytes = b"N.".to_vec();
    bytes.extend(&payload);
    let (doc, _) = explain(&bytes);
    assert_eq!(doc["verdict"], "dangerous", "{doc:#}");
    let findings = doc["findings"].as_array().unwrap();
    assert!(has(findings, "code-exec", 4), "{doc:#}");
    let (findings, code) = lint(&bytes);
    assert_eq!(code, 1);
    assert!(has(&findings, "code-exec", 4), "{findings:#?}");
}

#[test]
fn a_legacy_torch_pickle_that_fails_stops_the_load_and_keeps_what_ran() {
    // torch's legacy layout: the magic number first, then the protocol version, which
    // torch.load reads with pickle: a payload there runs, and the broken bytes stop it.
    let magic: u128 = 0x1950a86a20f9469cfc6c;
    let mut bytes = vec![0x80, 0x02, 0x8a, 0x0a];
    bytes.extend(&magic.to_le_bytes()[..10]);
    bytes.push(b'.');
    let start = bytes.len();
    let (payload, _, broken) = payload_then_broken(2, "posix", "system", "id");
    bytes.extend(&payload);
    let (doc, code) = explain(&bytes);
    assert_ne!(code, 0);
    assert_eq!(doc["verdict"], "dangerous", "{doc:#}");
    let findings = doc["findings"].as_array().unwrap();
    assert!(has(findings, "code-exec", (start + 2) as u64), "{doc:#}");
    assert!(
        has(findings, "malformed", (start + broken) as u64),
        "{doc:#}"
    );
}

#[test]
fn string_arguments_name_a_global_as_python_3_decodes_them() {
    // STRING, BINSTRING and SHORT_BINSTRING are str in Python 3 (encoding='ASCII').
    let cases: [&[u8]; 3] = [
        b"\x80\x04S'posix'\nS'system'\n\x93S'id'\n\x85R.",
        b"\x80\x04T\x05\x00\x00\x00posixT\x06\x00\x00\x00system\x93U\x02id\x85R.",
        b"\x80\x04U\x05posixU\x06system\x93U\x02id\x85R.",
    ];
    for bytes in cases {
        let (doc, code) = explain(bytes);
        assert_eq!(code, 0, "{doc:#}");
        assert_eq!(doc["verdict"], "dangerous", "{doc:#}");
        let import = &doc["pickles"][0]["imports"][0];
        assert_eq!(
            (&import["module"], &import["name"]),
            (&"posix".into(), &"system".into())
        );
        assert_eq!(import["paths"][0], "$");
    }
    // Not ASCII: the default loader fails to decode it, and so do we.
    let (doc, code) = explain(b"\x80\x04U\x02\xc3\xa9U\x01x\x93N.");
    assert_ne!(code, 0);
    assert!(doc.get("error").is_some(), "{doc:#}");
}

#[test]
fn a_computed_name_is_a_dynamic_import() {
    // builtins.str(b'posix', 'ascii') as the module of a STACK_GLOBAL.
    let bytes = b"\x80\x04\x8c\x08builtins\x8c\x03str\x93C\x05posix\x8c\x05ascii\x86R\
                  \x8c\x06system\x93\x8c\x02id\x85R.";
    let stack_global = bytes.iter().rposition(|&b| b == 0x93).unwrap();
    assert_eq!(bytes[stack_global], 0x93);
    let (doc, code) = explain(bytes);
    assert_eq!(code, 0, "the stream is valid: {doc:#}");
    assert_eq!(doc["verdict"], "dangerous", "{doc:#}");
    let findings = doc["findings"].as_array().unwrap();
    let dynamic = findings
        .iter()
        .find(|f| f["offset"] == stack_global as u64)
        .unwrap_or_else(|| panic!("{doc:#}"));
    assert_eq!(dynamic["rule"], "code-exec");
    assert!(dynamic["message"]
        .as_str()
        .unwrap()
        .contains("dynamic import"));
    let calls = doc["pickles"][0]["calls"].as_array().unwrap();
    let opcodes: Vec<&str> = calls
        .iter()
        .map(|c| c["opcode"].as_str().unwrap())
        .collect();
    assert_eq!(opcodes, ["REDUCE", "STACK_GLOBAL", "REDUCE"]);
    assert_eq!(calls[2]["result"], "$");
    assert_eq!(calls[2]["callable"], Value::Null);
}

#[test]
fn build_on_a_module_rewrites_its_attributes() {
    // torch._utils gets an attribute set to a harmless builtins.len: the BUILD itself is
    // the finding (the same bytes with builtins.eval make a later torch global eval).
    let bytes = b"ctorch\n_utils\n}S'_rebuild_tensor'\ncbuiltins\nlen\nsb.";
    let build = bytes.len() - 2;
    assert_eq!(bytes[build], b'b');
    let (doc, code) = explain(bytes);
    assert_eq!(code, 0);
    assert_eq!(doc["verdict"], "dangerous", "{doc:#}");
    let findings = doc["findings"].as_array().unwrap();
    assert!(has(findings, "code-exec", build as u64), "{doc:#}");
}

#[test]
fn a_discarded_call_still_runs() {
    // posix.system('id'), POPped; the file returns None.
    let bytes = b"\x80\x02cposix\nsystem\nX\x02\x00\x00\x00id\x85R0N.";
    let (doc, code) = explain(bytes);
    assert_eq!(code, 0);
    let finding = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "code-exec")
        .unwrap_or_else(|| panic!("{doc:#}"));
    let message = finding["message"].as_str().unwrap();
    assert!(
        message.contains("the call runs when the file is loaded"),
        "{message}"
    );
    assert!(message.contains("result is discarded"), "{message}");
    assert!(
        !message.contains("not reachable from the root object"),
        "{message}"
    );
    assert_eq!(doc["pickles"][0]["calls"][0]["result"], Value::Null);
    // A call whose result is returned has a path.
    let (doc, _) = explain(b"\x80\x02cbuiltins\nlen\nX\x02\x00\x00\x00ab\x85R.");
    assert_eq!(doc["pickles"][0]["calls"][0]["result"], "$", "{doc:#}");
}

/// Loads each hex-encoded argument with `pickle._Unpickler` and `_pickle.Unpickler`,
/// printing one JSON line per load: what the payload printed and the result or error.
const LOAD_BOTH: &str = r#"
import io, json, pickle, sys, contextlib
for arg in sys.argv[1:]:
    data = bytes.fromhex(arg)
    for name, cls in (("python", pickle._Unpickler), ("c", pickle.Unpickler)):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            try:
                result, error = repr(cls(io.BytesIO(data)).load()), None
            except Exception as e:
                result, error = None, type(e).__name__
        print(json.dumps({"loader": name, "printed": out.getvalue(), "result": result, "error": error}))
"#;

#[test]
fn cpython_reads_these_bytes_the_same_way() {
    let Some(python) = common::python3() else {
        return;
    };
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let mut cases: Vec<Vec<u8>> = [0u8, 2, 4]
        .iter()
        .map(|&p| payload_then_broken(p, "builtins", "print", "reached").0)
        .collect();
    // STRING names, and a computed module name, on a harmless builtins.len.
    cases.push(b"\x80\x04S'builtins'\nS'len'\n\x93S'ab'\n\x85R.".to_vec());
    cases.push(
        b"\x80\x04\x8c\x08builtins\x8c\x03str\x93C\x08builtins\x8c\x05ascii\x86R\
          \x8c\x03len\x93\x8c\x02ab\x85R."
            .to_vec(),
    );
    let args: Vec<String> = cases.iter().map(|c| hex(c)).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = common::run_python(python, LOAD_BOTH, &args);
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), cases.len() * 2);
    for (i, bytes) in cases.iter().enumerate() {
        let (doc, code) = explain(bytes);
        for line in &lines[i * 2..i * 2 + 2] {
            if i < 3 {
                // The call ran, then the load failed: we report the call and the stop.
                assert_eq!(line["printed"], "reached\n", "{line}");
                assert_eq!(line["result"], Value::Null, "{line}");
                assert_ne!(code, 0);
                assert_eq!(doc["pickles"][0]["calls"][0]["callable"], "builtins.print");
                assert!(doc["findings"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|f| f["rule"] == "malformed"));
            } else {
                // CPython reads the names and calls len('ab'): so do we.
                assert_eq!(line["result"], "2", "{line}");
                assert_eq!(code, 0, "{doc:#}");
                assert_eq!(
                    doc["pickles"][0]["calls"]
                        .as_array()
                        .unwrap()
                        .last()
                        .unwrap()["result"],
                    "$"
                );
            }
        }
    }
}

/// A protocol 0 stream that is valid UTF-8 text throughout: `STACK_GLOBAL` (0x93) is the
/// last byte of "┓" (E2 94 93), after a `BINGET` whose key byte is the E2. The loader
/// calls `module.name(arg)`, then stops on the `!` after a line of prose.
fn text_payload(module: &str, name: &str, arg: &str) -> Vec<u8> {
    format!("V{module}\nV{name}\np226\n0h\u{2513}(V{arg}\ntRVhello, this is a text file\n!")
        .into_bytes()
}

#[test]
fn a_payload_that_reads_as_text_is_not_dismissed_as_not_a_pickle() {
    let bytes = text_payload("os", "system", "echo pwned");
    assert!(std::str::from_utf8(&bytes).is_ok());
    let (doc, code) = explain(&bytes);
    assert_ne!(code, 0);
    assert_eq!(doc["verdict"], "dangerous", "{doc:#}");
    let findings = doc["findings"].as_array().unwrap();
    assert!(has(findings, "code-exec", 21), "{findings:#?}");
    let bang = (bytes.len() - 1) as u64;
    assert!(has(findings, "malformed", bang), "{findings:#?}");
    assert_eq!(doc["error"]["offset"], bang);
    let (findings, code) = lint(&bytes);
    assert_ne!(code, 0);
    assert!(has(&findings, "code-exec", 21), "{findings:#?}");
    // CPython's two unpicklers read the same bytes (a print twin) and call it.
    let Some(python) = common::python3() else {
        return;
    };
    let twin = text_payload("builtins", "print", "reached");
    let hex: String = twin.iter().map(|x| format!("{x:02x}")).collect();
    let out = common::run_python(python, LOAD_BOTH, &[&hex]);
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    for line in &lines {
        assert_eq!(line["printed"], "reached\n", "{line}");
        assert_ne!(line["error"], Value::Null, "{line}");
    }
}

#[test]
fn a_partly_read_stream_has_a_verdict_and_findings_in_json() {
    // A protocol 2 list of two ints, cut before its APPENDS and STOP.
    let truncated = b"\x80\x02]q\x00(K\x01K\x02";
    let (doc, code) = explain(truncated);
    assert_eq!(code, 2);
    assert_eq!(doc["verdict"], "portable", "{doc:#}");
    let findings = doc["findings"].as_array().unwrap();
    assert!(has(findings, "malformed", 10), "{findings:#?}");
    assert_eq!(doc["error"]["offset"], 10);
    // Bytes that are not a pickle at all keep their one-line error.
    let (doc, code) = explain(b"<!DOCTYPE html>\n<html><body>Sign in</body></html>\n");
    assert_eq!(code, 2);
    assert!(doc.get("verdict").is_none(), "{doc:#}");
    assert!(doc["error"]["message"]
        .as_str()
        .unwrap()
        .contains("not a pickle"));
}

/// `bytes` gzip-compressed, cut to two thirds: the decoder fails near the end.
fn gzip_cut(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).unwrap();
    let full = enc.finish().unwrap();
    full[..full.len() * 2 / 3].to_vec()
}

/// A payload, then a long string that does not compress (so the gzip stream is long).
fn payload_then_bulk(module: &str, name: &str) -> Vec<u8> {
    let mut v = b"\x80\x02".to_vec();
    v.extend(format!("c{module}\n{name}\n(S'echo pwned'\ntR0").bytes());
    let bulk: String = (0..40_000u32)
        .map(|i| format!("{:x}", i.wrapping_mul(2_654_435_761) >> 28))
        .collect();
    v.push(b'X');
    v.extend((bulk.len() as u32).to_le_bytes());
    v.extend(bulk.bytes());
    v.extend(b"0N.");
    v
}

#[test]
fn a_truncated_compressed_stream_keeps_what_its_decoded_bytes_ran() {
    let bytes = gzip_cut(&payload_then_bulk("os", "system"));
    let (doc, code) = explain(&bytes);
    assert_eq!(code, 2);
    assert_eq!(doc["verdict"], "dangerous", "{doc:#}");
    let findings = doc["findings"].as_array().unwrap();
    assert!(has(findings, "code-exec", 2), "{findings:#?}");
    let end = bytes.len() as u64;
    assert!(has(findings, "malformed", end), "{findings:#?}");
    assert_eq!(doc["error"]["offset"], end);
    assert!(doc["error"]["message"]
        .as_str()
        .unwrap()
        .contains("gzip stream is truncated"));
    let (findings, code) = lint(&bytes);
    assert_ne!(code, 0);
    assert!(has(&findings, "code-exec", 2), "{findings:#?}");
    // gzip.open hands pickle the decoded bytes before it sees the end: the call runs.
    let Some(python) = common::python3() else {
        return;
    };
    let twin = gzip_cut(&payload_then_bulk("builtins", "print"));
    let hex: String = twin.iter().map(|x| format!("{x:02x}")).collect();
    let script = r#"
import gzip, io, pickle, sys
data = bytes.fromhex(sys.argv[1])
try:
    pickle.load(gzip.GzipFile(fileobj=io.BytesIO(data)))
except Exception as e:
    print("raised", type(e).__name__)
"#;
    let out = common::run_python(python, script, &[&hex]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("echo pwned\nraised"), "{text}");
}

#[test]
fn items_added_to_an_object_a_module_holds_change_its_state() {
    // numpy.sctypeDict['a'] = 1: SETITEM on a module's lookup table (checked on numpy 2:
    // the table holds the item after the load). Reading numpy.sctypeDict alone is data.
    let setitem = b"\x80\x02cnumpy\nsctypeDict\nX\x01\x00\x00\x00aK\x01s0N.";
    let (doc, code) = explain(setitem);
    assert_eq!(code, 0);
    assert_eq!(doc["verdict"], "dangerous", "{doc:#}");
    let findings = doc["findings"].as_array().unwrap();
    assert!(has(findings, "code-exec", 28), "{findings:#?}");
    // APPENDS and ADDITEMS on a global alike.
    let appends = b"\x80\x02cnumpy\nsctypeDict\n(K\x01e0N.";
    let (doc, _) = explain(appends);
    assert_eq!(doc["verdict"], "dangerous", "{doc:#}");
    let additems = b"\x80\x04cnumpy\nsctypeDict\n(K\x01\x900N.";
    let (doc, _) = explain(additems);
    assert_eq!(doc["verdict"], "dangerous", "{doc:#}");
    // Reading the table without changing it stays what it was.
    let (doc, _) = explain(b"\x80\x02cnumpy\nsctypeDict\n0N.");
    assert_ne!(doc["verdict"], "dangerous", "{doc:#}");
}

#[test]
fn the_pickle_count_limit_keeps_the_pickles_before_it() {
    // A payload as the first pickle (what pickle.load runs), then many empty ones.
    let mut bytes = b"\x80\x02cos\nsystem\n(S'echo pwned'\ntR0N.".to_vec();
    let limit_at = bytes.len() + 2 * 2;
    bytes.extend(b"N.".repeat(10));
    let (doc, code) = run_json(
        &["explain", "--format", "json", "--max-pickles", "3"],
        &bytes,
    );
    assert_eq!(code, 2);
    assert_eq!(doc["verdict"], "dangerous", "{doc:#}");
    let findings = doc["findings"].as_array().unwrap();
    assert!(has(findings, "code-exec", 2), "{findings:#?}");
    assert!(
        has(findings, "limit-exceeded", limit_at as u64),
        "{findings:#?}"
    );
    assert!(doc["error"]["message"]
        .as_str()
        .unwrap()
        .contains("max_pickles"));
    let (doc, code) = run_json(
        &[
            "lint",
            "--format",
            "json",
            "--no-config",
            "--max-pickles",
            "3",
        ],
        &bytes,
    );
    assert_ne!(code, 0);
    let findings = doc["files"][0]["findings"].as_array().unwrap();
    assert!(has(findings, "code-exec", 2), "{findings:#?}");
}

#[test]
fn a_truncated_compressed_payload_inside_a_payload_is_a_failure_of_its_call() {
    // torch.load of the bytes of a gzip stream cut short: what was decoded is analysed
    // (posix.system), and the decoder's failure is a malformed finding of the payload.
    let mut bulk = payload_then_bulk("posix", "system");
    bulk.truncate(bulk.len() - 1);
    let cut = gzip_cut(&bulk);
    let mut bytes = b"\x80\x02c_pickle\nloads\nB".to_vec();
    bytes.extend((cut.len() as u32).to_le_bytes());
    bytes.extend(&cut);
    bytes.extend(b"\x85R.");
    let (doc, _) = explain(&bytes);
    let findings = doc["findings"].as_array().unwrap();
    assert!(
        findings.iter().any(|f| f["rule"] == "code-exec"
            && f["name"] == "system"
            && f["member"] == "nested@$"),
        "{findings:#?}"
    );
    assert!(
        findings.iter().any(|f| f["rule"] == "malformed"
            && f["member"] == "nested@$"
            && f["message"]
                .as_str()
                .unwrap()
                .contains("gzip stream is truncated")),
        "{findings:#?}"
    );
}

/// A payload, then a decompression bomb in the same bz2 stream: the limit stops the
/// decoding (an error finding), and the pickle decoded before it is still read, as
/// `bz2.open` hands those bytes to pickle first. Was: a bare limit error, no verdict.
#[test]
fn a_payload_before_a_decompression_bomb_is_still_reported() {
    let Some(python) = common::python3() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bomb.pkl.bz2");
    let script = r#"
import bz2, sys
payload = b'\x80\x02cposix\nsystem\nX\x02\x00\x00\x00id\x85R.'
open(sys.argv[1], 'wb').write(bz2.compress(payload + b'\x00' * (256 << 20)))
"#;
    common::run_python(python, script, &[file.to_str().unwrap()]);
    let bytes = std::fs::read(&file).unwrap();
    assert!(bytes.len() < 4096, "{}", bytes.len());
    let (doc, code) = explain(&bytes);
    assert_eq!(code, 2, "{doc:#}");
    assert_eq!(doc["verdict"], "dangerous", "{doc:#}");
    let findings = doc["findings"].as_array().unwrap();
    assert!(has(findings, "code-exec", 2), "{findings:#?}");
    assert!(
        findings.iter().any(|f| f["rule"] == "limit-exceeded"),
        "{findings:#?}"
    );
    let (findings, code) = lint(&bytes);
    assert_eq!(code, 1);
    assert!(has(&findings, "code-exec", 2), "{findings:#?}");
}
