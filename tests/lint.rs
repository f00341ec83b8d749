//! `pklinspect lint` as CI meets it: every payload in the fixtures caught whatever its
//! container or delivery route, no look-alike flagged, exit codes, which files the walk
//! checks (.gitignore, hidden files, symbolic links, content), and output that does not
//! depend on the thread schedule.

mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;

fn pklinspect() -> Command {
    Command::cargo_bin("pklinspect").unwrap()
}

fn fixture(rel: &str) -> PathBuf {
    common::fixtures_dir().join(rel)
}

fn fixture_bytes(rel: &str) -> Vec<u8> {
    std::fs::read(fixture(rel)).unwrap()
}

/// Runs `lint --format json --no-config ARGS` in `dir` and returns the document and exit code.
fn lint_json(dir: &Path, args: &[&str]) -> (Value, i32) {
    let out = pklinspect()
        .current_dir(dir)
        .args(["lint", "--format", "json", "--no-config"])
        .args(args)
        .output()
        .unwrap();
    common::json_and_code(&out)
}

fn file_entry<'a>(doc: &'a Value, name: &str) -> Option<&'a Value> {
    doc["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["file"] == name)
}

fn rules_of(entry: &Value) -> BTreeSet<String> {
    entry["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap().to_string())
        .collect()
}

fn write(dir: &Path, rel: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, bytes).unwrap();
    path
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn zlib(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(3));
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

#[test]
fn every_code_exec_fixture_is_flagged_and_no_valid_one_is() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (doc, code) = lint_json(root, &["fixtures"]);
    assert_eq!(code, 1, "the fixtures hold payloads: exit 1");
    let mut failures = Vec::new();
    let mut seen = 0;
    for file in common::fixture_files() {
        let rel = file.strip_prefix(root).unwrap().display().to_string();
        let truth = common::sidecar(&file);
        let Some(entry) = file_entry(&doc, &rel) else {
            failures.push(format!("{rel}: not checked"));
            continue;
        };
        seen += 1;
        let rules = rules_of(entry);
        let errors: BTreeSet<String> = entry["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["severity"] == "error")
            .map(|f| f["rule"].as_str().unwrap().to_string())
            .collect();
        match truth["status"].as_str().unwrap() {
            "code-exec" => {
                // EXT codes resolve through the loader's registry: extension-ref says so.
                if !errors.contains("code-exec") && !errors.contains("extension-ref") {
                    failures.push(format!("{rel}: payload missed: {rules:?}"));
                }
                if entry["verdict"] != "dangerous" && !common::uses_extension_codes(&truth) {
                    failures.push(format!("{rel}: verdict {}", entry["verdict"]));
                }
            }
            "valid" => {
                if rules.contains("code-exec") || rules.contains("unreachable-payload") {
                    failures.push(format!("{rel}: false positive {rules:?}"));
                }
                if rules.contains("malformed") || !entry["error"].is_null() {
                    failures.push(format!("{rel}: valid file not read: {}", entry["error"]));
                }
                if entry["container"] != truth["container"] {
                    failures.push(format!(
                        "{rel}: container {} vs {}",
                        entry["container"], truth["container"]
                    ));
                }
            }
            _ => {
                // CPython refuses it exactly when lint calls it malformed.
                let cpython_fails = !truth["error"].is_null();
                if cpython_fails != rules.contains("malformed") {
                    failures.push(format!("{rel}: malformed? CPython {}", truth["error"]));
                }
                if cpython_fails && entry["error"]["offset"].as_u64().is_none() {
                    failures.push(format!("{rel}: no error offset"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The benign corpus (no sidecars) is checked by tests/benign_corpus.rs, the pandas
    // frames (a manifest instead) by tests/extract_frames.rs.
    let benign = doc["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| {
            let file = f["file"].as_str().unwrap();
            file.starts_with("fixtures/benign/") || file.starts_with("fixtures/pandas/frames/")
        })
        .count();
    assert_eq!(
        seen + benign,
        doc["files"].as_array().unwrap().len(),
        "only fixtures"
    );
    assert_eq!(doc["summary"]["files"], seen + benign);
}

/// The delivery routes scanners miss: after a joblib array, in a compressed joblib (gzip
/// and joblib's zlib), in an `.npy` object array deep in a folder, in a torch zip (also
/// named `.bin`), in a second concatenated pickle, and in files without an extension.
#[test]
fn payloads_are_caught_on_every_delivery_route() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let joblib = fixture_bytes("hostile/joblib_with_system.joblib");
    let p4 = fixture_bytes("hostile/os_system_p4.pkl");
    let p2 = fixture_bytes("hostile/os_system_p2.pkl");
    let torch = fixture_bytes("hostile/torch_with_system.pt");
    write(d, "after_array.joblib", &joblib);
    write(d, "compressed.joblib.gz", &gzip(&joblib));
    write(d, "compressed_zlib.joblib", &zlib(&joblib));
    let mut npy = pklinspect::container::npy_header_bytes(
        &pklinspect::container::Descr::Str("|O".to_string()),
        false,
        &[1],
    );
    npy.extend_from_slice(&p4);
    write(d, "data/deep/down/objects.npy", &npy);
    write(d, "models/model.pt", &torch);
    write(d, "hf/pytorch_model.bin", &torch);
    write(
        d,
        "second_pickle.pkl",
        &fixture_bytes("hostile/benign_then_system.pkl"),
    );
    write(d, "no_extension_p2", &p2);
    write(
        d,
        "no_extension_p0",
        &fixture_bytes("hostile/os_system_p0.pkl"),
    );
    write(d, "no_extension_gzip", &gzip(&p4));
    write(d, "state.ckpt", &p4);

    let (doc, code) = lint_json(d, &[]);
    assert_eq!(code, 1);
    let names: Vec<&str> = doc["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["file"].as_str().unwrap())
        .collect();
    let expected = [
        "after_array.joblib",
        "compressed.joblib.gz",
        "compressed_zlib.joblib",
        "data/deep/down/objects.npy",
        "hf/pytorch_model.bin",
        "models/model.pt",
        "no_extension_gzip",
        "no_extension_p0",
        "no_extension_p2",
        "second_pickle.pkl",
        "state.ckpt",
    ];
    assert_eq!(names, expected, "sorted by path, each payload file found");
    for entry in doc["files"].as_array().unwrap() {
        let code_exec = entry["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["rule"] == "code-exec")
            .unwrap_or_else(|| panic!("missed: {entry}"));
        assert_eq!(code_exec["severity"], "error");
        assert_eq!(entry["verdict"], "dangerous", "{entry}");
        assert!(code_exec["offset"].is_u64() && code_exec["module"].is_string());
    }
    let torch = file_entry(&doc, "models/model.pt").unwrap();
    assert_eq!(torch["container"], "torch-zip");
    assert_eq!(
        torch["findings"][0]["member"], "torch_with_system/data.pkl",
        "{torch}"
    );
    let compressed = file_entry(&doc, "compressed.joblib.gz").unwrap();
    assert_eq!(compressed["container"], "joblib");
}

#[test]
fn look_alikes_and_non_pickles_are_not_flagged() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A string that says os.system, posixpath.join, an OrderedDict.
    write(
        d,
        "string.pkl",
        b"\x80\x04\x95\x0d\x00\x00\x00\x00\x00\x00\x00\x8c\x09os.system\x94.",
    );
    write(d, "posixpath.pkl", b"cposixpath\njoin\n(S'a'\nS'b'\ntR.");
    write(
        d,
        "ordered.pkl",
        b"\x80\x02ccollections\nOrderedDict\n)R}b.",
    );
    // Files whose content is something else, whatever their names: skipped, by reason.
    write(d, "LICENSE", b"hello world, this text mentions os.system\n");
    write(d, "Makefile", b"all:\n\tcc -o x x.c\n");
    write(d, "site.pth", b"import os; os.system('echo')\n");
    write(d, "firmware.bin", &[0x7f, b'E', b'L', b'F', 2, 1, 1, 0]);
    write(d, "notes.txt.gz", &gzip(b"notes, gzipped"));
    write(d, "text.dat", &gzip(b"plain text, gzipped"));
    write(d, "README.md", b"# not a pickle\n");
    let (doc, code) = lint_json(d, &[]);
    assert_eq!(code, 0, "{doc}");
    let names: Vec<&str> = doc["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["file"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["ordered.pkl", "posixpath.pkl", "string.pkl"]);
    for entry in doc["files"].as_array().unwrap() {
        assert_eq!(entry["verdict"], "portable", "{entry}");
        assert_eq!(entry["findings"], serde_json::json!([]));
    }
    // All the others were looked at and skipped, counted by what they are.
    assert_eq!(doc["summary"]["skipped"], 7);
    assert_eq!(
        doc["summary"]["skipped_by_reason"],
        serde_json::json!({"text": 6, "binary": 1})
    );
}

#[test]
fn exit_codes() {
    let clean = fixture("plain/all_p4.pkl");
    let hostile = fixture("hostile/os_system_p4.pkl");
    let warns = fixture("numpy2/float64_2d_p4.pkl"); // numpy2-only: a warning
    let malformed = fixture("malformed/truncated_binint.pkl");
    let run = |args: &[&Path]| {
        pklinspect()
            .args(["lint", "--no-config", "--quiet"])
            .args(args)
            .output()
            .unwrap()
            .status
            .code()
            .unwrap()
    };
    assert_eq!(run(&[&clean]), 0);
    assert_eq!(run(&[&warns]), 0, "warnings do not fail by default");
    assert_eq!(run(&[&hostile]), 1);
    assert_eq!(run(&[&malformed]), 1, "malformed is a finding, not a crash");
    assert_eq!(run(&[&clean, Path::new("does/not/exist.pkl")]), 2);
    let with = |extra: &[&str], file: &Path| {
        pklinspect()
            .args(["lint", "--no-config", "--quiet"])
            .args(extra)
            .arg(file)
            .output()
            .unwrap()
            .status
            .code()
            .unwrap()
    };
    assert_eq!(with(&["--fail-on", "warning"], &warns), 1);
    assert_eq!(with(&["--fail-on", "never"], &hostile), 0);
    assert_eq!(with(&["--fail-on", "bogus"], &clean), 2, "usage error");
    assert_eq!(with(&["--format", "yaml"], &clean), 2, "usage error");
    // A missing file still lets the others be reported.
    pklinspect()
        .args(["lint", "--no-config"])
        .arg(&hostile)
        .arg("missing.pkl")
        .assert()
        .code(2)
        .stdout(predicate::str::contains("error[code-exec]"))
        .stdout(predicate::str::contains("missing.pkl: error[unreadable]"))
        // Printed once: among the findings (issue 15), not again on standard error.
        .stderr(predicate::str::contains("missing.pkl").not());
}

#[test]
fn a_dangling_symbolic_link_named_on_the_command_line_is_unreadable() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("gone.pkl");
    std::os::unix::fs::symlink(dir.path().join("nothing-here"), &link).unwrap();
    let (doc, code) = lint_json(dir.path(), &["gone.pkl"]);
    assert_eq!(code, 2);
    let entry = file_entry(&doc, "gone.pkl").unwrap();
    assert_eq!(rules_of(entry), BTreeSet::from(["unreadable".to_string()]));
    assert!(entry["error"]["message"].is_string());
    assert!(entry["container"].is_null() && entry["verdict"].is_null());
    assert_eq!(doc["summary"]["unreadable"], 1);
}

#[test]
fn gitignore_ignore_hidden_and_symbolic_links_are_handled_as_documented() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let payload = fixture_bytes("hostile/os_system_p2.pkl");
    // No git repository here: .gitignore still counts (require_git(false)).
    write(d, ".gitignore", b"ignored/\n*.skip.pkl\n");
    write(d, "sub/.ignore", b"local.pkl\n");
    write(d, "ignored/a.pkl", &payload);
    write(d, "x.skip.pkl", &payload);
    write(d, "sub/local.pkl", &payload);
    write(d, ".hidden/h.pkl", &payload);
    write(d, ".h.pkl", &payload);
    write(d, "kept.pkl", &payload);
    let outside = tempfile::tempdir().unwrap();
    write(outside.path(), "target.pkl", &payload);
    std::os::unix::fs::symlink(outside.path().join("target.pkl"), d.join("link.pkl")).unwrap();
    std::os::unix::fs::symlink(outside.path(), d.join("linked_dir")).unwrap();

    let names = |args: &[&str]| -> Vec<String> {
        let (doc, _) = lint_json(d, args);
        doc["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["file"].as_str().unwrap().to_string())
            .collect()
    };
    // Outside a git work tree, hidden files are walked by default (a security scan).
    assert_eq!(names(&[]), [".h.pkl", ".hidden/h.pkl", "kept.pkl"]);
    // ripgrep's rules on request.
    assert_eq!(names(&["--walk", "ripgrep"]), ["kept.pkl"]);
    assert_eq!(
        names(&["--walk", "ripgrep", "--no-ignore"]),
        ["ignored/a.pkl", "kept.pkl", "sub/local.pkl", "x.skip.pkl"]
    );
    assert_eq!(
        names(&["--walk", "ripgrep", "--hidden"]),
        [".h.pkl", ".hidden/h.pkl", "kept.pkl"]
    );
    assert_eq!(
        names(&["--walk", "ripgrep", "--follow"]),
        ["kept.pkl", "link.pkl", "linked_dir/target.pkl"]
    );
    // Named paths: ignore rules do not apply, symbolic links are followed.
    assert_eq!(
        names(&["--walk", "ripgrep", "ignored/a.pkl", "link.pkl", "."]),
        ["./kept.pkl", "ignored/a.pkl", "link.pkl"]
    );
}

#[test]
fn files_from_a_list_or_standard_input_and_extensions_narrowing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let payload = fixture_bytes("hostile/os_system_p2.pkl");
    write(d, "a.pkl", &payload);
    write(d, "b.pt", &payload);
    write(d, "sub/c.pkl", &payload);
    write(d, "sub/d.joblib", &payload);
    write(d, "list.txt", b"a.pkl\n\nsub\r\n");
    let names = |doc: &Value| -> Vec<String> {
        doc["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["file"].as_str().unwrap().to_string())
            .collect()
    };
    let (doc, _) = lint_json(d, &["--files-from", "list.txt"]);
    assert_eq!(names(&doc), ["a.pkl", "sub/c.pkl", "sub/d.joblib"]);

    let out = pklinspect()
        .current_dir(d)
        .args([
            "lint",
            "--no-config",
            "--format",
            "json",
            "--files-from",
            "-",
        ])
        .write_stdin("b.pt\nsub/c.pkl\n")
        .output()
        .unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(names(&doc), ["b.pt", "sub/c.pkl"]);

    let (doc, _) = lint_json(d, &["--extensions", "pt,joblib"]);
    assert_eq!(names(&doc), ["b.pt", "sub/d.joblib"]);

    // `-` reads one file from standard input.
    let out = pklinspect()
        .args(["lint", "--no-config", "--format", "json", "-"])
        .write_stdin(payload)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(names(&doc), ["<stdin>"]);
    pklinspect()
        .args(["lint", "--files-from", "-", "-"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("standard input"));
}

/// The walk and the checks run on several threads; the bytes of every format must not
/// depend on how many or on their schedule.
#[test]
fn output_is_the_same_whatever_the_threads() {
    let root = env!("CARGO_MANIFEST_DIR");
    // Every fixture group but the benign corpus (2,000 more files, 12 runs: too slow here).
    let mut groups: Vec<String> = std::fs::read_dir(Path::new(root).join("fixtures"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir() && e.file_name() != "benign")
        .map(|e| format!("fixtures/{}", e.file_name().to_string_lossy()))
        .collect();
    groups.sort();
    let run = |threads: &str, format: &str| -> Vec<u8> {
        let out = pklinspect()
            .current_dir(root)
            .env("RAYON_NUM_THREADS", threads)
            .args(["lint", "--no-config", "--quiet", "--format", format])
            .args(&groups)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        if format == "json" {
            // The one field that may differ: how long it took.
            let mut doc: Value = serde_json::from_slice(&out.stdout).unwrap();
            doc["summary"]["duration_ms"] = Value::from(0);
            serde_json::to_vec(&doc).unwrap()
        } else {
            out.stdout
        }
    };
    for format in ["text", "json", "sarif", "github"] {
        let one = run("1", format);
        assert!(!one.is_empty());
        assert!(one == run("2", format), "{format}: 1 vs 2 threads");
        assert!(one == run("2", format), "{format}: two runs");
    }
}

#[test]
fn rules_lists_and_explains() {
    let out = pklinspect().arg("rules").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for &rule in pklinspect::rules::RULES {
        let line = text
            .lines()
            .find(|l| l.split_whitespace().next() == Some(rule.id()))
            .unwrap_or_else(|| panic!("{} not listed", rule.id()));
        assert!(line.contains(rule.default_severity().as_str()), "{line}");
        assert!(line.contains(rule.summary()), "{line}");
    }
    pklinspect()
        .args(["rules", "code-exec"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "code-exec (default severity: error)",
        ))
        .stdout(predicate::str::contains("os.system"));
    pklinspect()
        .args(["rules", "code-exek"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unknown rule `code-exek`"));
}

#[test]
fn completions_and_help_know_lint() {
    pklinspect()
        .args(["completions", "bash"])
        .assert()
        .success()
        .stdout(predicate::str::contains("--fail-on"));
    pklinspect()
        .args(["lint", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("--files-from"))
        .stdout(predicate::str::contains("Exit codes"));
}
