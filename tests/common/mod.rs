//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod torch_writer;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Whether we run on CI, where differential tests against CPython must not skip.
pub fn on_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// `python3`, if present. Under `CI=true` a missing python3 fails the test instead of
/// skipping it, so the differential tests cannot silently stop running.
pub fn python3() -> Option<Command> {
    let found = Command::new("python3")
        .arg("-c")
        .arg("import sys; assert sys.version_info >= (3, 8)")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if found {
        let mut cmd = Command::new("python3");
        // Python's own UTF-8 output regardless of the locale.
        cmd.env("PYTHONIOENCODING", "utf-8").env("PYTHONUTF8", "1");
        Some(cmd)
    } else if on_ci() {
        panic!("python3 is required when CI=true: differential tests against CPython must run");
    } else {
        eprintln!("skipped: python3 not found");
        None
    }
}

/// A Python that can import every module in `modules` (for tests that compare against
/// numpy, pandas, pyarrow or safetensors): `$PKLINSPECT_TEST_PYTHON` if set (`.ci/run` sets
/// it to a venv made from `ci/requirements.txt`), else `python3`. Skips when the modules
/// are missing, except under `CI=true`, where that fails the test.
pub fn python_with(modules: &[&str]) -> Option<Command> {
    let program = std::env::var("PKLINSPECT_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let check = format!("import {}", modules.join(", "));
    let found = Command::new(&program)
        .arg("-c")
        .arg(&check)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if found {
        let mut cmd = Command::new(&program);
        cmd.env("PYTHONIOENCODING", "utf-8").env("PYTHONUTF8", "1");
        Some(cmd)
    } else if on_ci() {
        panic!(
            "{program} cannot `{check}`, and CI=true: install ci/requirements.txt \
             (set PKLINSPECT_TEST_PYTHON to its venv's python)"
        );
    } else {
        eprintln!("skipped: {program} cannot `{check}` (set PKLINSPECT_TEST_PYTHON)");
        None
    }
}

/// Appended to every script [`run_python`] runs: once the script has run to its end, flush
/// its output and leave with `os._exit(0)`, skipping the interpreter's teardown. pyarrow's
/// thread pools can abort a process during that teardown ("terminate called without an
/// active exception", apache/arrow#34314); it failed one CI run here, and under load it
/// happens about once in 40 runs of the Parquet round-trip test. A script that fails still
/// fails: an assertion or `sys.exit(1)` never reaches these lines.
const CLEAN_EXIT: &str = "\nimport os as _os, sys as _sys\n\
                          _sys.stdout.flush(); _sys.stderr.flush(); _os._exit(0)\n";

/// Runs a Python script with arguments and returns its output, failing on a non-zero exit.
pub fn run_python(mut python: Command, script: &str, args: &[&str]) -> Output {
    let output = python
        .arg("-c")
        .arg(format!("{script}{CLEAN_EXIT}"))
        .args(args)
        .output()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "python3 failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// The repository's `fixtures/` folder.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// The path of `fixtures/<rel>`, as a string for command arguments.
pub fn fixture(rel: &str) -> String {
    fixtures_dir().join(rel).to_string_lossy().into_owned()
}

/// Every fixture file (not the sidecars, scripts or docs), sorted.
pub fn fixture_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                // The benign corpus has no sidecars; tests/benign_corpus.rs checks it. The
                // pandas frames have a manifest instead; tests/extract_frames.rs checks them.
                if path != fixtures_dir().join("benign")
                    && path != fixtures_dir().join("pandas").join("frames")
                {
                    walk(&path, out);
                }
            } else if path.parent() != Some(fixtures_dir().as_path()) {
                let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
                if !name.ends_with(".truth.json") && !name.ends_with(".dis.txt") {
                    out.push(path);
                }
            }
        }
    }
    let mut files = Vec::new();
    walk(&fixtures_dir(), &mut files);
    files.sort();
    files
}

/// The `pklinspect` binary built for these tests.
pub fn pklinspect() -> Command {
    Command::new(env!("CARGO_BIN_EXE_pklinspect"))
}

/// The generator's ground truth for a fixture: `<file>.truth.json`.
pub fn sidecar(file: &Path) -> serde_json::Value {
    let mut name = file.as_os_str().to_owned();
    name.push(".truth.json");
    serde_json::from_slice(&std::fs::read(name).unwrap()).unwrap()
}

/// The globals CPython's `find_class` saw, from a sidecar.
pub fn sidecar_globals(truth: &serde_json::Value) -> Vec<(String, String)> {
    truth["globals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g[0].as_str().unwrap().to_string(),
                g[1].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Whether a fixture uses EXT opcodes: its globals were resolved through a copyreg
/// registry that the file itself does not carry.
pub fn uses_extension_codes(truth: &serde_json::Value) -> bool {
    let d = truth["description"].as_str().unwrap_or("");
    ["EXT1", "EXT2", "EXT4"].iter().any(|op| d.contains(op))
}

/// A command's standard output read as one JSON document, and its exit code; a panic that
/// shows both streams when the output is not JSON.
pub fn json_and_code(out: &Output) -> (serde_json::Value, i32) {
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (doc, out.status.code().unwrap())
}

/// A torch sidecar's tensors, as torch recorded them: name -> (dtype, shape, sha256).
pub type TruthTensors = std::collections::BTreeMap<String, (String, Vec<usize>, String)>;

/// The `tensors` of one entry of a torch sidecar (`fixtures/torch/*.truth.json`,
/// `tests/data/archives/legacy_tar.truth.json`).
pub fn truth_tensors(entry: &serde_json::Value) -> TruthTensors {
    let tensors = entry["tensors"].as_object().cloned().unwrap_or_default();
    tensors
        .into_iter()
        .map(|(name, t)| {
            let shape = t["shape"]
                .as_array()
                .map(|s| s.iter().map(|d| d.as_u64().unwrap_or(0) as usize).collect())
                .unwrap_or_default();
            let dtype = t["dtype"].as_str().unwrap_or("").to_string();
            let sha = t["sha256"].as_str().unwrap_or("").to_string();
            (name, (dtype, shape, sha))
        })
        .collect()
}
