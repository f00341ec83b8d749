//! Which files `lint` checks (issue 13): by content, never by name alone; what is committed
//! in a git work tree; what is not a pickle said plainly; and never a silent pass (a run
//! that checked nothing, FIFOs and links to devices, skipped files counted by reason).

mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_pklinspect"))
}

fn fixture_bytes(rel: &str) -> Vec<u8> {
    std::fs::read(common::fixtures_dir().join(rel)).unwrap()
}

fn write(dir: &Path, rel: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Runs the binary in `dir` with a watchdog: a run that blocks (reading a FIFO, or
/// /dev/zero forever) is killed after 30 s and fails the test instead of hanging it.
fn run(dir: &Path, args: &[&str]) -> Output {
    let mut child = Command::new(binary())
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            let _ = child.wait();
            panic!("pklinspect {args:?} did not finish within 30 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `lint --no-config --format json ARGS` in `dir`: the document and the exit code.
fn lint_json(dir: &Path, args: &[&str]) -> (Value, i32) {
    let mut all = vec!["lint", "--no-config", "--format", "json"];
    all.extend_from_slice(args);
    let out = run(dir, &all);
    common::json_and_code(&out)
}

fn names(doc: &Value) -> Vec<String> {
    doc["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["file"].as_str().unwrap().to_string())
        .collect()
}

fn entry<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["file"] == name)
        .unwrap_or_else(|| panic!("{name} not reported: {doc}"))
}

fn rules(entry: &Value) -> BTreeSet<String> {
    entry["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap().to_string())
        .collect()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

#[test]
fn raw_pickles_are_checked_whatever_their_names() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let payload = fixture_bytes("hostile/os_system_p4.pkl");
    // PyTorch's ImageNet example name, and names no list knows.
    for name in [
        "checkpoint.pth.tar",
        "weights.model",
        "clf.pickle5",
        "model.pkl.zip",
        "notes.txt.gz",
    ] {
        let bytes = if name.ends_with(".gz") {
            gzip(&payload)
        } else {
            payload.clone()
        };
        write(d, name, &bytes);
    }
    let (doc, code) = lint_json(d, &[]);
    assert_eq!(code, 1, "{doc}");
    assert_eq!(
        names(&doc),
        [
            "checkpoint.pth.tar",
            "clf.pickle5",
            "model.pkl.zip",
            "notes.txt.gz",
            "weights.model"
        ]
    );
    for file in doc["files"].as_array().unwrap() {
        assert!(rules(file).contains("code-exec"), "{file}");
    }
    // --extensions still narrows when asked, and says so.
    let (doc, _) = lint_json(d, &["--extensions", "model"]);
    assert_eq!(names(&doc), ["weights.model"]);
    assert_eq!(doc["summary"]["skipped_by_reason"], json!({"extension": 4}));
}

#[test]
fn a_possible_pickle_is_reported_even_when_it_fails_to_load() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Protocol 0, no PROTO, cut before STOP: pickle.load calls os.system, then fails.
    write(d, "job.dat", b"cos\nsystem\n(S'echo owned'\ntR");
    // The same, gzipped under a name that says nothing.
    write(d, "blob", &gzip(b"cos\nsystem\n(S'echo owned'\ntR"));
    // A zip that is neither a torch checkpoint nor an npz: opened, never dropped.
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    zip.start_file("inner/model.pkl", zip::write::SimpleFileOptions::default())
        .unwrap();
    zip.write_all(&fixture_bytes("hostile/os_system_p4.pkl"))
        .unwrap();
    write(d, "bundle.zip", &zip.finish().unwrap().into_inner());
    // Protocol 1 that reads to STOP but that the machine refuses (BINGET of a memo key
    // never stored).
    write(d, "state.ckpt", b"K\x01h\x05.");
    let (doc, code) = lint_json(d, &[]);
    assert_eq!(code, 1, "{doc}");
    assert_eq!(
        names(&doc),
        ["blob", "bundle.zip", "job.dat", "state.ckpt"],
        "{doc}"
    );
    for file in doc["files"].as_array().unwrap() {
        assert!(
            file["findings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["severity"] == "error"),
            "{file}"
        );
    }
    assert!(rules(entry(&doc, "job.dat")).contains("malformed"));
}

#[test]
fn what_is_not_a_pickle_is_named_instead_of_an_opcode_error() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let lfs = b"version https://git-lfs.github.com/spec/v1\noid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 12345\n";
    write(d, "model.pkl", lfs);
    write(d, "weights.bin", lfs);
    write(d, "logo.png", lfs); // an LFS image: skipped, counted
    write(
        d,
        "login.pkl",
        b"<!DOCTYPE html>\n<html><body>Sign in</body></html>\n",
    );
    write(d, "picture.pkl", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR");
    write(d, "empty.pkl", b"");
    write(d, "notes.pkl", b"version 2 of the notes\n");
    let (doc, code) = lint_json(d, &[]);
    assert_eq!(code, 1, "{doc}");
    for name in ["model.pkl", "weights.bin"] {
        let file = entry(&doc, name);
        assert_eq!(rules(file), BTreeSet::from(["lfs-pointer".to_string()]));
        assert_eq!(file["findings"][0]["severity"], "warning");
        let message = file["findings"][0]["message"].as_str().unwrap();
        assert!(message.contains("Git LFS pointer") && message.contains("lfs: true"));
    }
    for (name, what) in [
        ("login.pkl", "an HTML document"),
        ("picture.pkl", "a PNG image"),
        ("empty.pkl", "an empty file"),
        ("notes.pkl", "plain text"),
    ] {
        let file = entry(&doc, name);
        let message = file["findings"][0]["message"].as_str().unwrap();
        assert!(
            message.starts_with(&format!("not a pickle but {what}")),
            "{name}: {message}"
        );
        assert!(!message.contains("opcode"), "{message}");
    }
    assert_eq!(
        doc["summary"]["skipped_by_reason"],
        json!({"lfs-pointer": 1})
    );

    // explain says what the file is, and still exits 2.
    let out = run(d, &["explain", "model.pkl"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("Git LFS pointer"), "{stderr}");
    assert!(!stderr.contains("unknown opcode byte 0x76"), "{stderr}");
    // So does extract.
    let out = run(d, &["extract", "model.pkl", "--to", "json"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("Git LFS pointer"), "{stderr}");
    for (name, what) in [
        ("login.pkl", "HTML"),
        ("empty.pkl", "empty file"),
        ("picture.pkl", "PNG"),
    ] {
        let out = run(d, &["explain", name]);
        assert_eq!(out.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(what), "{name}: {stderr}");
    }
}

#[test]
fn a_run_that_checked_nothing_fails_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "README.md", b"# a project without models\n");
    write(d, "src/main.py", b"print('hi')\n");
    let (doc, code) = lint_json(d, &[]);
    assert_eq!(code, 2, "{doc}");
    assert_eq!(doc["summary"]["files"], 0);
    assert_eq!(doc["summary"]["skipped"], 2);
    assert_eq!(doc["summary"]["skipped_by_reason"], json!({"text": 2}));
    let out = run(d, &["lint", "--no-config"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no file was checked"), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("2 skipped (2 text)"), "{stdout}");
    let (_, code) = lint_json(d, &["--allow-empty"]);
    assert_eq!(code, 0);
    // A named file that is not a pickle: checked, skipped, and the run checked nothing.
    let (_, code) = lint_json(d, &["README.md"]);
    assert_eq!(code, 2);
}

#[cfg(unix)]
#[test]
fn fifos_and_links_to_devices_are_refused_without_reading() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let fifo = d.join("model.pkl");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    std::os::unix::fs::symlink("/dev/zero", d.join("zero.pkl")).unwrap();
    write(d, "ok.pkl", &fixture_bytes("plain/all_p4.pkl"));

    // Named (as pre-commit passes them): errors, exit 2, and no hang.
    let (doc, code) = lint_json(d, &["model.pkl", "zero.pkl", "ok.pkl"]);
    assert_eq!(code, 2, "{doc}");
    for name in ["model.pkl", "zero.pkl"] {
        let file = entry(&doc, name);
        assert_eq!(rules(file), BTreeSet::from(["unreadable".to_string()]));
        assert!(file["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not a regular file"));
    }
    assert_eq!(entry(&doc, "ok.pkl")["verdict"], "portable");

    // Met by the walk: counted, never opened, even when links are followed.
    let (doc, code) = lint_json(d, &[]);
    assert_eq!(code, 0, "{doc}");
    assert_eq!(names(&doc), ["ok.pkl"]);
    assert_eq!(
        doc["summary"]["skipped_by_reason"],
        json!({"not-regular": 1, "symlink": 1})
    );
    let (doc, _) = lint_json(d, &["--follow"]);
    assert_eq!(names(&doc), ["ok.pkl"]);
    assert_eq!(
        doc["summary"]["skipped_by_reason"],
        json!({"not-regular": 2})
    );
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .expect("git is installed");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn in_a_git_work_tree_lint_checks_what_is_committed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let payload = fixture_bytes("hostile/os_system_p2.pkl");
    git(d, &["init", "-q"]);
    write(d, ".gitignore", b"build/\n*.tmp.pkl\n");
    write(d, ".hidden/evil.pkl", &payload);
    write(d, "build/forced.pkl", &payload);
    write(d, "build/ignored.pkl", &payload);
    write(d, "scratch.tmp.pkl", &payload);
    write(
        d,
        "models/weights.bin",
        b"version https://git-lfs.github.com/spec/v1\noid sha256:4d7a\nsize 99\n",
    );
    write(d, "new.pkl", &fixture_bytes("plain/all_p4.pkl"));
    git(
        d,
        &[
            "add",
            ".gitignore",
            ".hidden/evil.pkl",
            "models/weights.bin",
        ],
    );
    git(d, &["add", "-f", "build/forced.pkl"]);

    let (doc, code) = lint_json(d, &[]);
    assert_eq!(code, 1, "{doc}");
    // Tracked (hidden and force-added included) plus untracked files git does not ignore.
    assert_eq!(
        names(&doc),
        [
            ".hidden/evil.pkl",
            "build/forced.pkl",
            "models/weights.bin",
            "new.pkl"
        ]
    );
    assert!(rules(entry(&doc, ".hidden/evil.pkl")).contains("code-exec"));
    assert!(rules(entry(&doc, "build/forced.pkl")).contains("code-exec"));
    assert_eq!(
        rules(entry(&doc, "models/weights.bin")),
        BTreeSet::from(["lfs-pointer".to_string()])
    );
    // .gitignore itself is text.
    assert_eq!(doc["summary"]["skipped_by_reason"], json!({"text": 1}));

    // --no-ignore: untracked files that git ignores too.
    let (doc, _) = lint_json(d, &["--no-ignore"]);
    assert_eq!(
        names(&doc),
        [
            ".hidden/evil.pkl",
            "build/forced.pkl",
            "build/ignored.pkl",
            "models/weights.bin",
            "new.pkl",
            "scratch.tmp.pkl"
        ]
    );

    // A folder inside the work tree: the same, below it; names as given.
    let (doc, _) = lint_json(d, &["build"]);
    assert_eq!(names(&doc), ["build/forced.pkl"]);

    // ripgrep's rules on request: hidden files and ignored folders are left out.
    let (doc, _) = lint_json(d, &["--walk", "ripgrep"]);
    assert_eq!(names(&doc), ["models/weights.bin", "new.pkl"]);

    // --walk git outside a work tree is an error.
    let outside = tempfile::tempdir().unwrap();
    write(outside.path(), "a.pkl", &payload);
    let (_, code) = lint_json(outside.path(), &["--walk", "git"]);
    assert_eq!(code, 2);
}
