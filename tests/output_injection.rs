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

/// Runs `python` on `script` in `dir` (the generated file's folder), whatever its exit; a
/// script that runs to its end leaves with `os._exit(0)` after flushing (pyarrow's thread
/// pools can abort the interpreter's teardown, as `common::run_python` says).
fn python_in(mut python: Command, dir: &Path, script: &str) -> Output {
    python
        .current_dir(dir)
        .arg("-c")
        .arg(format!(
            "{script}\nimport os as _os, sys as _sys\n\
             _sys.stdout.flush(); _sys.stderr.flush(); _os._exit(0)\n"
        ))
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
    // Allowing the file's own class is said where it is allowed.
    assert!(
        snippet.contains("# __main__.Foo: user-defined, its code runs when torch builds it"),
        "{snippet}"
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

/// Runs `extract FILE --to python -o DIR/out` and returns the output folder, or the
/// refusal's stderr.
fn rebuild(dir: &Path, file: &Path) -> Result<std::path::PathBuf, String> {
    let out_dir = dir.join("out");
    let out = pklinspect()
        .args(["extract", "--to", "python", "-o"])
        .arg(&out_dir)
        .arg(file)
        .output()
        .unwrap();
    match out.status.success() {
        true => Ok(out_dir),
        false => Err(String::from_utf8_lossy(&out.stderr).into_owned()),
    }
}

#[test]
fn rebuild_imports_never_shadow_the_builtins_load_calls() {
    let dir = tempfile::tempdir().unwrap();
    // {"o": __main__.set.__new__(set), "s": {__main__.K.__new__(K)}} (protocol 4): the
    // set holds an object, so rebuild.py writes it as a call of `set`.
    let mut pkl = b"\x80\x04}(\x8c\x01o\x8c\x08__main__\x8c\x03set\x93)\x81".to_vec();
    pkl.extend_from_slice(b"\x8c\x01s\x8f(\x8c\x08__main__\x8c\x01K\x93)\x81\x90u.");
    let file = dir.path().join("set.pkl");
    std::fs::write(&file, pkl).unwrap();
    let out = rebuild(dir.path(), &file).unwrap();
    let Some(python) = python3() else {
        return;
    };
    let script = "class set:\n    def __init__(self, *args):\n        open('MARKER', 'w')\n\
                  class K:\n    pass\n\
                  import rebuild\nv = rebuild.load()\n\
                  print(type(v['o']).__module__, type(v['s']).__name__, \
                  [type(k).__name__ for k in v['s']])\n";
    let ran = python_in(python, &out, script);
    let stdout = String::from_utf8_lossy(&ran.stdout);
    assert!(
        !out.join("MARKER").exists(),
        "rebuild.py called the file's class `set`:\n{}",
        std::fs::read_to_string(out.join("rebuild.py")).unwrap()
    );
    assert_eq!(
        stdout.trim(),
        "__main__ set ['K']",
        "{}",
        String::from_utf8_lossy(&ran.stderr)
    );
}

/// Strings Python's tokenizer treats specially (quotes, backslashes, line ends, form
/// feed, NUL, escapes, bidi overrides) and text that closes a literal and opens code: as
/// a Python list expression, for the scripts below.
const HOSTILE: &str = r##"["'", '"', "'''", '"""', "\\", "\\N{DIGIT ONE}", "\r", "\n",
    "\r\n", "\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\x00", "\x1b[31m", "\x1b]0;t\x07",
    "\u202e", "\ufeff", "# -*- coding: utf-7 -*-", "+AAo-open('MARKER','w')",
    "')\nopen('MARKER','w')\n#", '")\nopen("MARKER","w")\n#', "__import__('os')",
    "{0}", "%s", "x" * 5000]"##;

#[test]
fn rebuild_strings_keys_and_attribute_names_stay_data() {
    let dir = tempfile::tempdir().unwrap();
    let Some(python) = python3() else {
        return;
    };
    // Writing pickles (pickle.dumps) runs nothing from a file; the object is made again,
    // not unpickled, to compare with what rebuild.py gives.
    let make = format!(
        "import pickle\n\
         class Inner:\n    pass\n\
         class Obj:\n    pass\n\
         def make():\n    hostile = {HOSTILE}\n    o = Obj()\n\
         \x20   for i, w in enumerate(hostile):\n        setattr(o, w, i)\n\
         \x20   o.inner = {{w: Inner() for w in hostile}}\n\
         \x20   o.values = [hostile, '\\ud800', b'\\x00\\'\\\\']\n\
         \x20   return {{w: o for w in hostile}}\n"
    );
    let write = format!(
        "{make}import sys\nfor p in (0, 2, 4):\n    \
         open(f'h{{p}}.pkl', 'wb').write(pickle.dumps(make(), protocol=p))\n"
    );
    std::fs::write(dir.path().join("make.py"), &make).unwrap();
    let wrote = python_in(python, dir.path(), &write);
    assert!(wrote.status.success(), "{wrote:?}");
    for protocol in [0, 2, 4] {
        let sub = dir.path().join(format!("p{protocol}"));
        std::fs::create_dir(&sub).unwrap();
        let file = dir.path().join(format!("h{protocol}.pkl"));
        let out = rebuild(&sub, &file).unwrap_or_else(|e| panic!("protocol {protocol}: {e}"));
        let check = format!(
            "import sys\nsys.path.insert(0, {dir:?})\nimport __main__, make\n\
             __main__.Obj, __main__.Inner = make.Obj, make.Inner\n\
             import rebuild\n\
             got, want = rebuild.load(), make.make()\n\
             assert list(got) == list(want), (list(got), list(want))\n\
             o, w = next(iter(got.values())), next(iter(want.values()))\n\
             assert all(v is o for v in got.values())\n\
             assert type(o) is make.Obj\n\
             assert [k for k in vars(o)] == [k for k in vars(w)]\n\
             assert o.values == w.values and list(o.inner) == list(w.inner)\n\
             assert all(type(v) is make.Inner for v in o.inner.values())\n\
             print('same')\n",
            dir = dir.path().to_string_lossy()
        );
        let ran = python_in(python3().unwrap(), &out, &check);
        assert!(
            !out.join("MARKER").exists() && !dir.path().join("MARKER").exists(),
            "protocol {protocol}: rebuild.py ran file-chosen code"
        );
        assert_eq!(
            String::from_utf8_lossy(&ran.stdout).trim(),
            "same",
            "protocol {protocol}: {}",
            String::from_utf8_lossy(&ran.stderr)
        );
    }
}

/// `SHORT_BINUNICODE s`.
fn short_str(s: &str) -> Vec<u8> {
    let mut out = vec![0x8c, u8::try_from(s.len()).unwrap()];
    out.extend_from_slice(s.as_bytes());
    out
}

/// A protocol-4 pickle of `__main__.<NAME>` made with NEWOBJ, with the state
/// `{KEY: VALUE}`, where each carries line breaks, workflow commands, escape sequences
/// and a bidi override.
fn hostile_names_pkl() -> Vec<u8> {
    let name = "Y\n::error::FORGED\r::warning::FORGED2\x1b]0;title\x07\u{202e}";
    let key = "k\n::add-mask::x\x1b[2J";
    let value = "v\r::stop-commands::tok\u{2028}\u{85}";
    let mut pkl = b"\x80\x04".to_vec();
    pkl.extend(short_str("__main__"));
    pkl.extend(short_str(name));
    pkl.extend_from_slice(b"\x93)\x81}");
    pkl.extend(short_str(key));
    pkl.extend(short_str(value));
    pkl.extend_from_slice(b"sb.");
    pkl
}

/// The lines a line-based reader sees (GitHub's runner splits on `\r` too).
fn log_lines(text: &str) -> Vec<&str> {
    text.split(['\n', '\r']).collect()
}

/// Whether every ESC in `text` starts an SGR style (`ESC [ digits;… m`), the only
/// sequences pklinspect itself writes.
fn only_styles(text: &str) -> bool {
    text.split('\x1b').skip(1).all(|rest| {
        rest.strip_prefix('[')
            .and_then(|r| r.split_once('m'))
            .is_some_and(|(params, _)| params.chars().all(|c| c.is_ascii_digit() || c == ';'))
    })
}

/// A protocol-4 pickle of `::error::forged.Y` made with NEWOBJ: a module that starts a
/// line of `explain`'s Imports.
fn command_module_pkl() -> Vec<u8> {
    let mut pkl = b"\x80\x04".to_vec();
    pkl.extend(short_str("::error::forged"));
    pkl.extend(short_str("Y"));
    pkl.extend_from_slice(b"\x93)\x81.");
    pkl
}

#[test]
fn terminal_and_ci_output_keep_file_chosen_names_on_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("names.pkl");
    std::fs::write(&file, hostile_names_pkl()).unwrap();
    // A file whose name is a workflow command, holding a module named like one.
    std::fs::write(dir.path().join("::notice::file.pkl"), command_module_pkl()).unwrap();
    let names = file.to_string_lossy().into_owned();
    for args in [
        &["lint", "--color", "always", &names][..],
        &["lint", "--format", "github", &names],
        &["explain", "--color", "always", &names],
        &["lint", "--color", "never", "."],
        &["explain", "::notice::file.pkl"],
    ] {
        let out = pklinspect()
            .current_dir(dir.path())
            .args(args)
            .output()
            .unwrap();
        let stdout = String::from_utf8(out.stdout).unwrap();
        let stderr = String::from_utf8(out.stderr).unwrap();
        for text in [&stdout, &stderr] {
            for line in log_lines(text) {
                // pklinspect's own workflow commands name the file; nothing else may
                // start a line with `::` (the runner trims leading spaces first).
                let own = ["::error file=", "::warning file=", "::notice file="];
                let line = line.trim_start();
                assert!(
                    !line.starts_with("::") || own.iter().any(|o| line.starts_with(o)),
                    "{args:?}: a forged line {line:?} in\n{text}"
                );
            }
            assert!(only_styles(text), "{args:?}: an escape sequence in\n{text}");
            for c in ['\u{202e}', '\u{2028}', '\u{85}'] {
                assert!(!text.contains(c), "{args:?}: {c:?} in\n{text}");
            }
            assert!(!text.contains("FORGED2\x1b"), "{args:?}");
        }
        // The names are still there, escaped.
        let name = r"Y\n::error::FORGED\r::warning::FORGED2\x1b]0;title\x07\u202e";
        let module = r"\x3a:error::forged";
        assert!(
            stdout.contains(name) || stdout.contains(module),
            "{args:?}:\n{stdout}"
        );
    }
}

#[test]
fn archive_member_names_reach_stderr_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("two.pt");
    let mut w = common::torch_writer::TorchZipWriter::new("two");
    w.record("data.pkl", b"\x80\x02K\x01.")
        .record("version", b"3\n")
        .record("\x1b]0;t\x07\r::error::FORGED\n.pkl", b"\x80\x02K\x01.");
    std::fs::write(&file, w.finish()).unwrap();
    let out = pklinspect().arg("dis").arg(&file).output().unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("not listed"), "{stderr}");
    assert!(
        log_lines(&stderr).iter().all(|l| !l.starts_with("::")),
        "{stderr:?}"
    );
    assert!(!stderr.contains('\x1b'), "{stderr:?}");
    assert!(
        stderr.contains(r"\x1b]0;t\x07\r::error::FORGED\n.pkl"),
        "{stderr:?}"
    );
}

#[test]
fn rebuild_file_names_never_collide_by_case_or_name_a_device() {
    let Some(python) = common::python_with(&["numpy", "pandas", "pyarrow"]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // pickle.dumps of objects made here (nothing is loaded): two frames whose paths differ
    // only in case, arrays named after Windows devices and a traversal.
    let write = "import pickle, numpy as np, pandas as pd\n\
                 a = pd.DataFrame({'x': [1.0, 2.0]}, index=pd.Index([10, 20]))\n\
                 b = pd.DataFrame({'y': [3.0, 4.0]}, index=pd.Index([30, 40]))\n\
                 obj = {'A': a, 'a': b, 'con': np.arange(3), 'CON': np.arange(4),\n\
                 \x20      'nul.x': np.arange(5), 'x/../../y': np.arange(2)}\n\
                 open('frames.pkl', 'wb').write(pickle.dumps(obj, protocol=4))\n";
    let wrote = python_in(python, dir.path(), write);
    assert!(wrote.status.success(), "{wrote:?}");
    let out = rebuild(dir.path(), &dir.path().join("frames.pkl")).unwrap();
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut folded: Vec<String> = names.iter().map(|n| n.to_ascii_lowercase()).collect();
    folded.dedup();
    assert_eq!(
        folded.len(),
        names.len(),
        "names equal but for case: {names:?}"
    );
    for name in &names {
        let base = name.split('.').next().unwrap().to_ascii_uppercase();
        assert!(
            !["CON", "PRN", "AUX", "NUL"].contains(&base.as_str()),
            "a Windows device name: {names:?}"
        );
        assert!(!name.contains('/') && !name.starts_with('.'), "{names:?}");
    }
    let check = "import rebuild\nv = rebuild.load()\n\
                 print(list(v['A'].columns), list(v['a'].columns), len(v['nul.x']))\n";
    let ran = python_in(
        common::python_with(&["numpy", "pandas", "pyarrow"]).unwrap(),
        &out,
        check,
    );
    assert_eq!(
        String::from_utf8_lossy(&ran.stdout).trim(),
        "['x'] ['y'] 5",
        "{}",
        String::from_utf8_lossy(&ran.stderr)
    );
}

#[test]
fn rebuild_gives_back_ints_longer_than_pythons_string_limit() {
    let dir = tempfile::tempdir().unwrap();
    let Some(python) = python3() else {
        return;
    };
    // Python's int(str) refuses more than 4300 digits; 7**6000 has 5071.
    let write = "import pickle\nopen('big.pkl', 'wb').write(pickle.dumps(\
                 {'n': 7**6000, 'm': -(7**6000), 's': 12}, protocol=4))\n";
    let wrote = python_in(python, dir.path(), write);
    assert!(wrote.status.success(), "{wrote:?}");
    let out = rebuild(dir.path(), &dir.path().join("big.pkl")).unwrap();
    let check = "import rebuild\nv = rebuild.load()\n\
                 print(v == {'n': 7**6000, 'm': -(7**6000), 's': 12})\n";
    let ran = python_in(python3().unwrap(), &out, check);
    assert_eq!(
        String::from_utf8_lossy(&ran.stdout).trim(),
        "True",
        "{}",
        String::from_utf8_lossy(&ran.stderr)
    );
}

#[test]
fn a_suggested_command_quotes_the_files_path_for_the_shell() {
    let Some(python) = common::python_with(&["pandas"]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // A frame Parquet cannot hold (lists in a column), at a key that closes a quote.
    let write = "import pickle, pandas as pd\n\
                 g = pd.DataFrame({'x': [[1], [2]]}, index=pd.Index([1, 2]))\n\
                 key = \"a'; touch MARKER; '\"\n\
                 open('q.pkl', 'wb').write(pickle.dumps({key: g}, protocol=4))\n";
    let wrote = python_in(python, dir.path(), write);
    assert!(wrote.status.success(), "{wrote:?}");
    let refusal = rebuild(dir.path(), &dir.path().join("q.pkl")).unwrap_err();
    let (_, rest) = refusal.split_once("--path ").expect(&refusal);
    let (word, _) = rest.split_once(" says why").expect(&refusal);
    // What a shell makes of the suggested argument: the path, not a command.
    let shell = Command::new("sh")
        .current_dir(dir.path())
        .arg("-c")
        .arg(format!("printf %s {word}"))
        .output()
        .unwrap();
    assert!(!dir.path().join("MARKER").exists(), "{refusal}");
    assert_eq!(
        String::from_utf8_lossy(&shell.stdout),
        r#"$["a'; touch MARKER; '"]"#,
        "{refusal}"
    );
}

#[test]
fn a_tensor_named_like_the_safetensors_header_key_is_refused() {
    let Some(python) = common::python_with(&["numpy", "safetensors"]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let write = "import pickle, numpy as np\n\
                 d = {'__metadata__': np.arange(3, dtype=np.float32), 'w': np.ones(2, np.float32)}\n\
                 open('meta.pkl', 'wb').write(pickle.dumps(d, protocol=4))\n";
    let wrote = python_in(python, dir.path(), write);
    assert!(wrote.status.success(), "{wrote:?}");
    let out = pklinspect()
        .current_dir(dir.path())
        .args([
            "extract",
            "meta.pkl",
            "--to",
            "safetensors",
            "-o",
            "m.safetensors",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Before: a header with "__metadata__" twice, which safetensors refuses to read.
    assert!(!out.status.success(), "written: {stderr}");
    assert!(stderr.contains("__metadata__"), "{stderr}");
    assert!(!dir.path().join("m.safetensors").exists());
}

#[test]
fn a_column_named_like_a_parquet_index_field_is_refused() {
    let Some(python) = common::python_with(&["pandas", "pyarrow"]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let write = "import pickle, pandas as pd\n\
                 f = pd.DataFrame({'__index_level_0__': [7.0, 8.0], 'x': [1.0, 2.0]},\n\
                 \x20                index=pd.Index([10, 20]))\n\
                 open('idx.pkl', 'wb').write(pickle.dumps(f, protocol=4))\n";
    let wrote = python_in(python, dir.path(), write);
    assert!(wrote.status.success(), "{wrote:?}");
    let out = pklinspect()
        .current_dir(dir.path())
        .args(["extract", "idx.pkl", "--to", "parquet", "-o", "idx.parquet"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Before: two fields named __index_level_0__, which pyarrow refuses to read.
    assert!(!out.status.success(), "written: {stderr}");
    assert!(stderr.contains("__index_level_0__"), "{stderr}");
    assert!(!dir.path().join("idx.parquet").exists());
}

/// `explain --emit torch-safe-globals` on a torch zip whose `data.pkl` is `pkl` (one char
/// per byte).
fn emit_for_pickle(dir: &Path, stem: &str, pkl: &str) -> Output {
    let pkl: Vec<u8> = pkl.chars().map(|c| c as u8).collect();
    let file = dir.join(format!("{stem}.pt"));
    std::fs::write(&file, torch_save(stem, &pkl, &[])).unwrap();
    pklinspect()
        .args(["explain", "--emit", "torch-safe-globals"])
        .arg(&file)
        .output()
        .unwrap()
}

#[test]
fn torch_safe_globals_never_allows_a_runtime_handle_function() {
    let dir = tempfile::tempdir().unwrap();
    // Rated runtime-handle by wildcard rows; allowlisted, torch calls them with any
    // arguments: TF's execute runs any op (WriteFile among them), sem_unlink removes any
    // named semaphore.
    for (i, (module, name)) in [
        ("multiprocessing.synchronize", "sem_unlink"),
        ("tensorflow.python.eager.execute", "execute"),
    ]
    .into_iter()
    .enumerate()
    {
        let pkl = format!("\u{80}\u{2}c{module}\n{name}\nX\u{1}\0\0\0x\u{85}R.");
        let out = emit_for_pickle(dir.path(), &format!("h{i}"), &pkl);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(2), "{module}.{name}: {stdout}");
        assert!(!stdout.contains(name), "{stdout}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("runtime-handle"), "{stderr}");
    }
}

#[test]
fn a_recipe_computes_only_with_ints_the_file_gave() {
    let Some(python) = common::python_with(&["numpy", "keras_preprocessing"]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // A TimeseriesGenerator whose start_index is an object of the file's choosing: the
    // recipe's `start_index - length` would call its __sub__, which pickle never calls.
    let write = "import pickle, numpy as np\n\
                 from keras_preprocessing.sequence import TimeseriesGenerator\n\
                 class Evil:\n    pass\n\
                 g = TimeseriesGenerator(np.arange(20), np.arange(20), length=2)\n\
                 g.start_index = Evil()\n\
                 open('gen.pkl', 'wb').write(pickle.dumps(g, protocol=4))\n";
    let wrote = python_in(python, dir.path(), write);
    assert!(wrote.status.success(), "{wrote:?}");
    let out = rebuild(dir.path(), &dir.path().join("gen.pkl")).unwrap();
    let check = "class Evil:\n    def __sub__(self, other):\n        open('MARKER', 'w')\n\
                 \x20       return 0\n\
                 import rebuild\nv = rebuild.load()\n\
                 print(type(v).__name__, type(v.start_index).__name__, v.length)\n";
    let ran = python_in(
        common::python_with(&["numpy", "keras_preprocessing"]).unwrap(),
        &out,
        check,
    );
    assert!(
        !out.join("MARKER").exists(),
        "rebuild.py called the file's object:\n{}",
        std::fs::read_to_string(out.join("rebuild.py")).unwrap()
    );
    assert_eq!(
        String::from_utf8_lossy(&ran.stdout).trim(),
        "TimeseriesGenerator Evil 2",
        "{}",
        String::from_utf8_lossy(&ran.stderr)
    );
}

/// A library function the file only stores (not builds, not calls) and that pklinspect has
/// not vetted as a call target is not suggested: allowlisted, torch lets any later file
/// call it with any arguments. A vetted one (the activation a Transformer layer stores) is.
#[test]
fn torch_safe_globals_suggests_a_stored_function_only_when_vetted() {
    let dir = tempfile::tempdir().unwrap();
    for (i, (module, name, suggested)) in [
        ("torch.nn.init", "kaiming_uniform_", false),
        ("sklearn.metrics", "accuracy_score", false),
        ("torch.nn.functional", "gelu", true),
    ]
    .into_iter()
    .enumerate()
    {
        // {'act': module.name}
        let pkl = format!("\u{80}\u{2}}}X\u{3}\0\0\0actc{module}\n{name}\ns.");
        let out = emit_for_pickle(dir.path(), &format!("s{i}"), &pkl);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        if suggested {
            assert_eq!(out.status.code(), Some(0), "{module}.{name}: {stderr}");
            assert!(stdout.contains(&format!("{module}.{name}")), "{stdout}");
        } else {
            assert_eq!(out.status.code(), Some(2), "{module}.{name}: {stdout}");
            assert!(!stdout.contains(name), "{stdout}");
            assert!(stderr.contains("not vetted as a call target"), "{stderr}");
        }
    }
}

/// SARIF viewers read `[text](target)` in a message as a link: a module named like one
/// stays text (`\](`), and the exact name is kept in the result's properties.
#[test]
fn sarif_messages_carry_no_embedded_link_from_a_name() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("link.pkl");
    std::fs::write(
        &file,
        b"\x80\x02c[docs](https://evil.example)\nrun\n)R.".as_slice(),
    )
    .unwrap();
    let out = pklinspect()
        .args(["lint", "--no-config", "--format", "sarif"])
        .arg(&file)
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let results = doc["runs"][0]["results"].as_array().unwrap();
    assert!(!results.is_empty(), "{doc}");
    for r in results {
        let text = r["message"]["text"].as_str().unwrap();
        assert!(!text.replace("\\](", "").contains("]("), "{text}");
        assert!(text.contains("[docs\\](https://evil.example)"), "{text}");
    }
    assert!(
        results
            .iter()
            .any(|r| r["properties"]["module"] == "[docs](https://evil.example)"),
        "{doc}"
    );
}
