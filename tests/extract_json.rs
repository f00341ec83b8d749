//! `extract --to json` against CPython: every plain-data fixture and a few hundred random
//! values Python pickles at protocols 0–5 must read back, value for value (and object for
//! object, through `$ref`s), as `pickle.loads` sees them.

mod common;

use std::path::Path;

fn extract_json(pickle: &Path, json: &Path) {
    let out = common::pklinspect()
        .args(["extract", "--to", "json", "-o"])
        .arg(json)
        .arg(pickle)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}: {}",
        pickle.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn check_folder(dir: &Path) {
    let Some(python) = common::python3() else {
        return;
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/json_check.py");
    let mut python = python;
    let out = python.arg(script).arg("--batch").arg(dir).output().unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{report}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(report.contains(", 0 mismatches"), "{report}");
}

#[test]
fn plain_fixtures_read_back_as_cpython_loads_them() {
    if common::python3().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut n = 0;
    for file in common::fixture_files() {
        let rel = file.strip_prefix(common::fixtures_dir()).unwrap();
        let truth = common::sidecar(&file);
        let plain = rel.starts_with("plain") || rel.starts_with("multi");
        // deep_nesting: 50,000 levels, beyond what Python's own json module can parse.
        let too_deep = rel.ends_with("deep_nesting_p2.pkl");
        if !plain || too_deep || truth["status"] != "valid" || truth["pickle_count"] != 1 {
            continue;
        }
        std::fs::copy(&file, dir.path().join(format!("{n}.pkl"))).unwrap();
        extract_json(&file, &dir.path().join(format!("{n}.json")));
        n += 1;
    }
    assert!(n >= 25, "{n}");
    check_folder(dir.path());
}

#[test]
fn random_values_at_every_protocol_read_back_as_cpython_loads_them() {
    let Some(mut python) = common::python3() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/json_check.py");
    let status = python
        .arg(&script)
        .arg("--random")
        .arg(dir.path())
        .arg("300")
        .status()
        .unwrap();
    assert!(status.success());
    for i in 0..300 {
        let pickle = dir.path().join(format!("{i}.pkl"));
        extract_json(&pickle, &dir.path().join(format!("{i}.json")));
    }
    check_folder(dir.path());
}

/// Text INT, LONG and FLOAT lines (protocol 0) the way the C unpickler reads them: `strtol` with
/// base 0 for INT (`010` is 8, a two-character `-0` is False), `int(s, 0)` for LONG and for
/// what `strtol` cannot read, `PyOS_string_to_double` for FLOAT (no spaces or underscores,
/// `1e500` refused). Python never writes most of these, but a file can hold them,
/// and `pickle.load` is what we must agree with: same value, or both refuse.
#[test]
fn text_int_long_and_float_lines_read_as_cpython_loads_them() {
    let Some(python) = common::python3() else {
        return;
    };
    let lines: &[&[u8]] = &[
        b"0",
        b"1",
        b"00",
        b"01",
        b"-0",
        b"+1",
        b" 1",
        b"-1",
        b"010",
        b"-010",
        b"0x10",
        b"0X1f",
        b"0x",
        b"0o17",
        b"0b101",
        b"1_0",
        b"0_0",
        b"0_10",
        b"09",
        b" 5 ",
        b"5\r",
        b"12\x00zz",
        b"\x00",
        b"\x00x",
        b"+",
        b"-",
        b"abc",
        b"9223372036854775807",
        b"9223372036854775808",
        b"-9223372036854775808",
        b"-9223372036854775809",
        b"0xffffffffffffffffff",
        b"07777777777777777777777777",
        b"0x_1f",
        b"0x__1",
        b"1__0",
        b"_1",
        b"1_",
        b"\x0b7",
        b"00000",
        b"0001",
        b"0777",
        b"-0x8000000000000000",
    ];
    let float_lines: &[&[u8]] = &[
        b"1.5",
        b"1_0",
        b" 1.5",
        b"1.5 ",
        b"1.5\r",
        b"inf",
        b"-inf",
        b"nan",
        b"-nan",
        b"Infinity",
        b"iNf",
        b"1e500",
        b"-1e500",
        b"1e-500",
        b"0x10",
        b"1.5\x00zz",
        b".5",
        b"5.",
        b"1E3",
        b"+1.0",
        b"1e",
        b"1e+",
        b".",
        b"in f",
        b"1.7976931348623157e308",
        b"1.7976931348623159e308",
        b"4.9e-324",
        b"0.1",
    ];
    let dir = tempfile::tempdir().unwrap();
    let mut pickles = Vec::new();
    let ops = [(b'I', &b""[..]), (b'L', b""), (b'L', b"L")];
    for line in lines {
        for (op, suffix) in ops {
            let mut p = vec![op];
            p.extend_from_slice(line);
            p.extend_from_slice(suffix);
            p.extend_from_slice(b"\n.");
            pickles.push(p);
        }
    }
    for line in float_lines {
        let mut p = b"F".to_vec();
        p.extend_from_slice(line);
        p.extend_from_slice(b"\n.");
        pickles.push(p);
    }
    for (i, p) in pickles.iter().enumerate() {
        std::fs::write(dir.path().join(format!("{i}.pkl")), p).unwrap();
    }
    let script = r#"
import pickle, sys, pathlib
folder = pathlib.Path(sys.argv[1])
for i in range(int(sys.argv[2])):
    try:
        pickle.loads((folder / f"{i}.pkl").read_bytes())
        print("loads")
    except Exception:
        print("fails")
"#;
    let count = pickles.len().to_string();
    let out = common::run_python(python, script, &[dir.path().to_str().unwrap(), &count]);
    let verdicts: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(verdicts.len(), pickles.len());
    let loadable = tempfile::tempdir().unwrap();
    let mut n = 0;
    for (i, (p, verdict)) in pickles.iter().zip(&verdicts).enumerate() {
        let file = dir.path().join(format!("{i}.pkl"));
        if verdict == "loads" {
            std::fs::copy(&file, loadable.path().join(format!("{n}.pkl"))).unwrap();
            extract_json(&file, &loadable.path().join(format!("{n}.json")));
            n += 1;
        } else {
            let out = common::pklinspect()
                .args(["extract", "--to", "json", "-o"])
                .arg(dir.path().join(format!("{i}.json")))
                .arg(&file)
                .output()
                .unwrap();
            assert_eq!(
                out.status.code(),
                Some(2),
                "{:?}: CPython refuses it, we read it",
                String::from_utf8_lossy(p)
            );
        }
    }
    assert!(n > 60, "{n}");
    check_folder(loadable.path());
}
