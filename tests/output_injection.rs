//! Attacks on what pklinspect writes from file-chosen text: Python that people run
//! (`extract --to python`'s `rebuild.py`, `explain --emit torch-safe-globals`), workflow
//! commands GitHub parses from `lint`'s stdout, and text shown on a terminal. Each test
//! crafts a file (hand-written bytes; nothing here unpickles it) whose names carry a payload
//! and checks that the payload stays data: the generated Python is run on a canary (the
//! injected code would create a marker file; the marker must not exist), and the benign
//! form of the same file still works.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::torch_writer::torch_save;
use common::{pklinspect, python3};

/// Runs `python` on `script` in `dir` (the generated file's folder), whatever its exit.
fn python_in(mut python: Command, dir: &Path, script: &str) -> Output {
    python
        .current_dir(dir)
        .arg("-c")
        .arg(script)
        .output()
        .expect("python runs")
}

/// A fake `torch` package (only `torch.serialization.add_safe_globals`, which records what
/// it was given) in `dir/stub`, so the snippet runs without torch.
fn torch_stub(dir: &Path) -> String {
    let stub = dir.join("stub").join("torch");
    std::fs::create_dir_all(&stub).unwrap();
    std::fs::write(
        stub.join("__init__.py"),
        "class serialization:\n    allowed = []\n\n    @staticmethod\n    def \
         add_safe_globals(items):\n        serialization.allowed.extend(items)\n",
    )
    .unwrap();
    dir.join("stub").to_string_lossy().into_owned()
}

/// A protocol-2 `data.pkl` that makes `__main__.<name>` with NEWOBJ and gives it a state:
/// torch's weights-only unpickler refuses the global until it is allowlisted.
fn main_class_pkl(name: &str) -> Vec<u8> {
    let mut pkl = b"\x80\x02c__main__\n".to_vec();
    pkl.extend_from_slice(name.as_bytes());
    pkl.extend_from_slice(b"\n)\x81}X\x01\x00\x00\x00aK\x01sb.");
    pkl
}

/// Runs `explain --emit torch-safe-globals` on `file`, then (if it printed a snippet) the
/// snippet in `dir`, from bytes as Python reads a file (encoding declarations honoured),
/// with `__main__.Foo` defined. Returns the snippet and Python's output.
fn emit_and_run(dir: &Path, file: &Path) -> Option<(String, Output)> {
    let out = pklinspect()
        .args(["explain", "--emit", "torch-safe-globals"])
        .arg(file)
        .output()
        .unwrap();
    let snippet = String::from_utf8(out.stdout).unwrap();
    std::fs::write(dir.join("snippet.py"), &snippet).unwrap();
    let stub = torch_stub(dir);
    let mut python = python3()?;
    python.env("PYTHONPATH", stub);
    let script = "class Foo:\n    pass\n\nimport sys, torch\n\
                  exec(compile(open('snippet.py', 'rb').read(), 'snippet.py', 'exec'))\n\
                  print(torch.serialization.allowed)\n";
    Some((snippet, python_in(python, dir, script)))
}

#[test]
fn torch_safe_globals_global_name_is_not_code() {
    let dir = tempfile::tempdir().unwrap();
    // No whitespace or control characters, so the classifier takes it for a user-defined
    // `__main__` class; written unescaped, it closes the list item and runs os.system.
    let name = r#"Foo,getattr(__import__("os"),"system")("touch\x20MARKER"),0"#;
    let file = dir.path().join("ckpt.pt");
    std::fs::write(&file, torch_save("ckpt", &main_class_pkl(name), &[])).unwrap();
    let Some((snippet, _)) = emit_and_run(dir.path(), &file) else {
        return;
    };
    assert!(
        !dir.path().join("MARKER").exists(),
        "the snippet ran the file's code:\n{snippet}"
    );
    assert!(!snippet.contains("__import__"), "{snippet}");
}

#[test]
fn torch_safe_globals_file_name_cannot_declare_an_encoding() {
    let dir = tempfile::tempdir().unwrap();
    // `coding:utf-7` in a comment on the first line makes Python decode the rest as
    // UTF-7, where `+AAo...-` is a line break and `open("MARKER","w")#`.
    let payload: Vec<u16> = "\nopen(\"MARKER\",\"w\")#".encode_utf16().collect();
    let mut bits = Vec::new();
    for unit in payload {
        bits.extend_from_slice(&unit.to_be_bytes());
    }
    let b64 = base64_no_pad(&bits);
    assert!(!b64.contains('/'), "{b64}");
    let name = format!("m coding:utf-7 +{b64}-.pt");
    let file = dir.path().join(&name);
    std::fs::write(&file, torch_save("m", &main_class_pkl("Foo"), &[])).unwrap();
    let Some((snippet, ran)) = emit_and_run(dir.path(), &file) else {
        return;
    };
    assert!(
        !dir.path().join("MARKER").exists(),
        "the snippet ran the file name's code:\n{snippet}"
    );
    // The benign part still works: Foo is allowlisted.
    let stdout = String::from_utf8_lossy(&ran.stdout);
    assert!(
        stdout.contains("(<class '__main__.Foo'>, '__main__.Foo')"),
        "{snippet}\n{stdout}\n{}",
        String::from_utf8_lossy(&ran.stderr)
    );
}

/// Base64 without padding (UTF-7's modified base64).
fn base64_no_pad(bytes: &[u8]) -> String {
    const ABC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(char::from(ABC[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}
