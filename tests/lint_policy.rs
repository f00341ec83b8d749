//! The policy file as a project uses it: where it is found and which one wins, rule
//! severities, allow and deny lists, per-path overrides, excludes, limits, unknown keys,
//! and `--show-config`.

mod common;

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;

fn pklinspect() -> Command {
    Command::cargo_bin("pklinspect").unwrap()
}

fn write(dir: &Path, rel: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, bytes).unwrap();
    path
}

fn fixture_bytes(rel: &str) -> Vec<u8> {
    std::fs::read(common::fixtures_dir().join(rel)).unwrap()
}

/// `lint --format json ARGS` in `dir`: the document and the exit code.
fn lint(dir: &Path, args: &[&str]) -> (Value, i32) {
    let out = pklinspect()
        .current_dir(dir)
        .args(["lint", "--format", "json"])
        .args(args)
        .output()
        .unwrap();
    let doc = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&out.stderr));
    });
    (doc, out.status.code().unwrap())
}

/// `(file, rule, severity)` of every finding.
fn findings(doc: &Value) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for f in doc["files"].as_array().unwrap() {
        for x in f["findings"].as_array().unwrap() {
            out.push((
                f["file"].as_str().unwrap().to_string(),
                x["rule"].as_str().unwrap().to_string(),
                x["severity"].as_str().unwrap().to_string(),
            ));
        }
    }
    out
}

fn has(doc: &Value, file: &str, rule: &str, severity: &str) -> bool {
    findings(doc)
        .iter()
        .any(|(f, r, s)| f == file && r == rule && s == severity)
}

/// A project: a numpy 2 array (numpy2-only warning), a script object (user-defined error),
/// a scikit-learn model (library) under models/, and a payload under tests/hostile/.
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(
        d,
        "data/array.pkl",
        &fixture_bytes("numpy2/float64_2d_p4.pkl"),
    );
    write(
        d,
        "data/wrapper.pkl",
        &fixture_bytes("main/np2_data_wrapper_p4.pkl"),
    );
    write(
        d,
        "models/linear.pkl",
        &fixture_bytes("sklearn/np2_linear_regression_p4.pkl"),
    );
    write(
        d,
        "models/wrapper.pkl",
        &fixture_bytes("main/np1_data_wrapper_p4.pkl"),
    );
    write(
        d,
        "tests/hostile/x.pkl",
        &fixture_bytes("hostile/os_system_p4.pkl"),
    );
    dir
}

#[test]
fn the_nearest_policy_file_is_found_upward_and_pklinspect_toml_beats_pyproject() {
    let dir = project();
    let d = dir.path();
    let sub = d.join("data");
    // No policy: defaults (numpy2-only is a warning).
    let (doc, code) = lint(&sub, &[]);
    assert_eq!(code, 1, "wrapper.pkl is user-defined");
    assert!(has(&doc, "array.pkl", "numpy2-only", "warning"));

    // pyproject.toml at the root, found from data/.
    write(
        d,
        "pyproject.toml",
        b"[project]\nname = \"x\"\n[tool.pklinspect.rules]\nnumpy2-only = \"error\"\n",
    );
    let (doc, _) = lint(&sub, &[]);
    assert!(has(&doc, "array.pkl", "numpy2-only", "error"));

    // A pklinspect.toml beside it wins.
    write(d, "pklinspect.toml", b"[rules]\nnumpy2-only = \"info\"\n");
    let (doc, _) = lint(&sub, &[]);
    assert!(has(&doc, "array.pkl", "numpy2-only", "info"));

    // A nearer pyproject.toml without [tool.pklinspect] is passed over; with it, it wins.
    write(d, "data/pyproject.toml", b"[tool.ruff]\nline-length = 99\n");
    let (doc, _) = lint(&sub, &[]);
    assert!(has(&doc, "array.pkl", "numpy2-only", "info"));
    write(
        d,
        "data/pyproject.toml",
        b"[tool.pklinspect.rules]\nnumpy2-only = \"off\"\n",
    );
    let (doc, _) = lint(&sub, &[]);
    assert!(!findings(&doc).iter().any(|(_, r, _)| r == "numpy2-only"));

    // --config beats discovery, --no-config ignores every file.
    write(d, "strict.toml", b"[rules]\nnumpy2-only = \"error\"\n");
    let (doc, _) = lint(&sub, &["--config", "../strict.toml"]);
    assert!(has(&doc, "array.pkl", "numpy2-only", "error"));
    let (doc, _) = lint(&sub, &["--no-config"]);
    assert!(has(&doc, "array.pkl", "numpy2-only", "warning"));
}

#[test]
fn the_command_line_beats_the_policy_file() {
    let dir = project();
    let d = dir.path();
    write(
        d,
        "pklinspect.toml",
        b"fail-on = \"never\"\nextensions = [\"pt\"]\n",
    );
    // The policy: nothing fails, only .pt files. There are none: a run that checked no file
    // is exit 2, unless that is expected.
    let (doc, code) = lint(d, &[]);
    assert_eq!((code, doc["summary"]["files"].as_u64()), (2, Some(0)));
    let (doc, code) = lint(d, &["--allow-empty"]);
    assert_eq!((code, doc["summary"]["files"].as_u64()), (0, Some(0)));
    // The command line: pkl files, fail on warnings.
    let (doc, code) = lint(d, &["--extensions", "pkl", "--fail-on", "error"]);
    assert_eq!(code, 1);
    assert_eq!(doc["summary"]["files"], 5);
}

#[test]
fn per_path_overrides_allow_and_deny() {
    let dir = project();
    let d = dir.path();
    write(
        d,
        "pklinspect.toml",
        br#"
exclude = ["tests/hostile/"]
deny = [{ pattern = "numpy._core.multiarray._reconstruct", reason = "save arrays with np.save" }]

[rules]
library-import = "error"

[[per-path]]
paths = ["models/**"]
allow = ["sklearn.**"]
deny = [{ pattern = "__main__.*", reason = "never commit script objects" }]

[[per-path]]
paths = ["data/"]
allow = [{ pattern = "__main__.DataWrapper", reason = "our own loader has it" }]
rules = { denied-import = "warning" }
"#,
    );
    let (doc, code) = lint(d, &[]);
    assert_eq!(code, 1);
    let names: Vec<&str> = doc["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["file"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "data/array.pkl",
            "data/wrapper.pkl",
            "models/linear.pkl",
            "models/wrapper.pkl"
        ],
        "tests/hostile/ is excluded"
    );
    let all = findings(&doc);
    // models/: sklearn allowed (no library-import), __main__ denied (and still user-defined).
    assert!(!all
        .iter()
        .any(|(f, r, _)| f == "models/linear.pkl" && r == "library-import"));
    assert!(has(&doc, "models/wrapper.pkl", "denied-import", "error"));
    assert!(has(&doc, "models/wrapper.pkl", "user-defined", "error"));
    // data/: the allow entry lifts user-defined; the top-level deny is a warning there.
    assert!(!all
        .iter()
        .any(|(f, r, _)| f == "data/wrapper.pkl" && r == "user-defined"));
    assert!(has(&doc, "data/array.pkl", "denied-import", "warning"));
    let denied = doc["files"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["rule"] == "denied-import")
        .unwrap();
    assert!(
        denied["message"]
            .as_str()
            .unwrap()
            .ends_with("save arrays with np.save"),
        "{denied}"
    );
    assert_eq!(denied["module"], "numpy._core.multiarray");
    // Outside the overrides library-import is an error, as the top level says.
    write(
        d,
        "other/linear.pkl",
        &fixture_bytes("sklearn/np2_linear_regression_p4.pkl"),
    );
    let (doc, _) = lint(d, &["other"]);
    assert!(has(&doc, "other/linear.pkl", "library-import", "error"));
}

#[test]
fn an_allow_wildcard_cannot_unlock_what_the_table_calls_code_exec() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "x.pkl", &fixture_bytes("hostile/eval_p4.pkl"));
    write(d, "pklinspect.toml", b"allow = [\"builtins.*\"]\n");
    let (doc, code) = lint(d, &[]);
    assert_eq!(code, 1);
    assert!(has(&doc, "x.pkl", "code-exec", "error"));
    // Only an exact entry is the user's word for it.
    write(d, "pklinspect.toml", b"allow = [\"builtins.eval\"]\n");
    let (doc, code) = lint(d, &[]);
    assert_eq!(code, 0, "{doc}");
}

#[test]
fn limits_come_from_the_policy() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "big.pkl", &fixture_bytes("plain/batches_p4.pkl"));
    write(d, "pklinspect.toml", b"[limits]\nmax-nodes = 100\n");
    let (doc, code) = lint(d, &[]);
    assert_eq!(code, 1);
    assert!(has(&doc, "big.pkl", "limit-exceeded", "error"), "{doc}");
    assert!(doc["files"][0]["error"]["message"].is_string());
}

#[test]
fn mistakes_in_the_policy_are_errors_that_name_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "x.pkl", &fixture_bytes("plain/all_p4.pkl"));
    for (text, needle) in [
        ("fail_on = \"error\"\n", "`fail_on`"),
        ("[rules]\ncode-exek = \"off\"\n", "`code-exek`"),
        ("[rules]\ncode-exec = \"fatal\"\n", "fatal"),
        ("[limits]\nmax-nodez = 1\n", "`max-nodez`"),
        (
            "allow = [{ pattern = \"a.b\", because = \"x\" }]\n",
            "`because`",
        ),
        ("deny = [\"os\"]\n", "`os`"),
        (
            "[[per-path]]\npaths = [\"a\"]\nfail-on = \"info\"\n",
            "`fail-on`",
        ),
        ("rules = [\n", "TOML parse error"),
    ] {
        write(d, "pklinspect.toml", text.as_bytes());
        pklinspect()
            .current_dir(d)
            .args(["lint"])
            .assert()
            .code(2)
            .stdout("")
            .stderr(predicate::str::contains("pklinspect.toml"))
            .stderr(predicate::str::contains(needle));
    }
    pklinspect()
        .current_dir(d)
        .args(["lint", "--config", "nothing.toml", "--show-config"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("nothing.toml: cannot read"));
    write(d, "pyproject.toml", b"[project]\nname = \"x\"\n");
    pklinspect()
        .current_dir(d)
        .args(["lint", "--config", "pyproject.toml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no [tool.pklinspect] table"));
}

#[test]
fn show_config_prints_the_effective_policy_which_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(
        d,
        "pyproject.toml",
        b"[tool.pklinspect]\nfail-on = \"warning\"\nallow = [\"acme.**\"]\n\
          [tool.pklinspect.rules]\nnumpy2-only = \"off\"\n",
    );
    let out = pklinspect()
        .current_dir(d)
        .args(["lint", "--show-config", "--fail-on", "info"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let shown = String::from_utf8(out.stdout).unwrap();
    assert!(
        shown.contains("pyproject.toml [tool.pklinspect]"),
        "{shown}"
    );
    assert!(
        shown.contains("fail-on = \"info\""),
        "the command line wins: {shown}"
    );
    assert!(shown.contains("numpy2-only = \"off\""), "{shown}");
    assert!(
        shown.contains("code-exec = \"error\""),
        "every rule: {shown}"
    );
    assert!(shown.contains("max-nodes = "), "every limit: {shown}");
    write(d, "shown.toml", shown.as_bytes());
    let again = pklinspect()
        .current_dir(d)
        .args(["lint", "--show-config", "--config", "shown.toml"])
        .output()
        .unwrap();
    assert!(again.status.success());
    let again = String::from_utf8(again.stdout).unwrap();
    let body = |s: &str| -> String { s.lines().filter(|l| !l.starts_with('#')).collect() };
    assert_eq!(body(&again), body(&shown));
}
