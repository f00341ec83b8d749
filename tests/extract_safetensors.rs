//! `extract --to safetensors` against the truth torch recorded (tests/data/safetensors/
//! generate.py: `state_dict()` keys, dtypes, shapes, sha256 of the contiguous bytes) for
//! every torch fixture, read back by the `safetensors` crate and by the Python package
//! (`safetensors.numpy.load_file`, no torch); plus the refusals, the npz index beside the
//! archive and the npy names.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{pklinspect, python_with, run_python};
use safetensors::SafeTensors;
use sha2::{Digest, Sha256};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn truth() -> serde_json::Value {
    let text = std::fs::read_to_string(root().join("tests/data/safetensors/truth.json"))
        .unwrap_or_else(|e| panic!("truth.json: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("truth.json: {e}"))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Runs `extract --to safetensors` and returns the output path (inside `dir`).
fn convert(input: &Path, dir: &Path) -> (PathBuf, std::process::Output) {
    let name = input.file_name().map(|n| n.to_string_lossy().to_string());
    let out = dir.join(format!("{}.safetensors", name.unwrap_or_default()));
    let output = pklinspect()
        .arg("extract")
        .arg(input)
        .args(["--to", "safetensors", "-o"])
        .arg(&out)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    (out, output)
}

/// (dtype, shape, sha256) per tensor name, as the crate's reader sees the file.
fn read_back(file: &Path) -> BTreeMap<String, (String, Vec<usize>, String)> {
    let bytes = std::fs::read(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let tensors = SafeTensors::deserialize(&bytes)
        .unwrap_or_else(|e| panic!("{}: the crate refuses it: {e}", file.display()));
    tensors
        .iter()
        .map(|(name, view)| {
            let dtype = format!("{:?}", view.dtype());
            let sha = hex(&Sha256::digest(view.data()));
            (name.to_string(), (dtype, view.shape().to_vec(), sha))
        })
        .collect()
}

#[test]
fn every_torch_fixture_converts_to_exactly_its_state_dict() {
    let truth = truth();
    let files = truth["files"].as_object().cloned().unwrap_or_default();
    assert!(files.len() >= 15, "truth.json lists {} files", files.len());
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    for (file, entry) in &files {
        let (out, output) = convert(&root().join(file), dir.path());
        assert!(
            output.status.success(),
            "{file}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(read_back(&out), common::truth_tensors(entry), "{file}");
    }
}

/// The Python package's numpy loader (what a user without torch has) reads every output,
/// keys and arrays as torch had them; bfloat16 and float8 have no numpy dtype, so files
/// with them are read with `safetensors.deserialize` (raw bytes).
#[test]
fn safetensors_numpy_load_file_gives_the_state_dict_of_every_fixture() {
    let Some(python) = python_with(&["safetensors", "numpy"]) else {
        return;
    };
    let truth = truth();
    let files = truth["files"].as_object().cloned().unwrap_or_default();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut pairs = serde_json::Map::new();
    for (file, entry) in &files {
        let (out, output) = convert(&root().join(file), dir.path());
        assert!(output.status.success(), "{file}");
        pairs.insert(
            out.to_string_lossy().to_string(),
            serde_json::json!({"file": file, "tensors": entry["tensors"]}),
        );
    }
    let listing = dir.path().join("pairs.json");
    std::fs::write(&listing, serde_json::Value::Object(pairs).to_string())
        .unwrap_or_else(|e| panic!("{e}"));
    let script = r#"
import hashlib, json, sys
import numpy as np
import safetensors, safetensors.numpy
bad = []
for out, want in json.load(open(sys.argv[1])).items():
    tensors = want["tensors"]
    numpy_dtypes = {"F64", "F32", "F16", "I64", "U64", "I32", "U32", "I16", "U16", "I8", "U8", "BOOL", "C64"}
    if any(t["dtype"] not in numpy_dtypes for t in tensors.values()):
        got = {n: (t["dtype"], list(t["shape"]), hashlib.sha256(bytes(t["data"])).hexdigest())
               for n, t in safetensors.deserialize(open(out, "rb").read())}
    else:
        arrays = safetensors.numpy.load_file(out)
        got = {}
        for n, a in arrays.items():
            assert isinstance(a, np.ndarray), (out, n)
            got[n] = (None, list(a.shape), hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest())
    if set(got) != set(tensors):
        bad.append((want["file"], "keys", sorted(got), sorted(tensors)))
        continue
    for n, t in tensors.items():
        dtype, shape, sha = got[n]
        if shape != t["shape"] or sha != t["sha256"] or dtype not in (None, t["dtype"]):
            bad.append((want["file"], n, got[n], t))
print(json.dumps(bad))
"#;
    let output = run_python(python, script, &[&listing.to_string_lossy()]);
    let bad = String::from_utf8_lossy(&output.stdout);
    assert_eq!(bad.trim(), "[]", "{bad}");
}

#[test]
fn a_checkpoint_keeps_its_state_dict_and_puts_the_rest_in_metadata() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let input = root().join("tests/data/safetensors/checkpoint.ckpt");
    let (out, output) = convert(&input, dir.path());
    assert!(output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    // Optimizer moments are outside the state_dict: skipped, and said so.
    assert!(stderr.contains("outside the state_dict"), "{stderr}");
    assert!(stderr.contains("wrote 4 tensors"), "{stderr}");
    let bytes = std::fs::read(&out).unwrap_or_else(|e| panic!("{e}"));
    let (_, metadata) = SafeTensors::read_metadata(&bytes).unwrap_or_else(|e| panic!("{e}"));
    let meta = metadata.metadata().clone().unwrap_or_default();
    let truth = truth();
    let entry = &truth["files"]["tests/data/safetensors/checkpoint.ckpt"];
    let mut want: Vec<String> = entry["metadata_keys"]
        .as_array()
        .map(|k| {
            k.iter()
                .filter_map(|k| k.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    want.push("format".into());
    want.sort();
    let mut got: Vec<String> = meta.keys().cloned().collect();
    got.sort();
    assert_eq!(got, want);
    assert_eq!(meta.get("format").map(String::as_str), Some("pt"));
    assert_eq!(meta.get("epoch").map(String::as_str), Some("3"));
    let hparams: serde_json::Value =
        serde_json::from_str(meta.get("hyper_parameters").map_or("", |s| s.as_str()))
            .unwrap_or_else(|e| panic!("hyper_parameters is JSON text: {e}"));
    assert_eq!(hparams["$object"], "argparse.Namespace");
    assert_eq!(hparams["state"]["lr"], 0.001);
    assert_eq!(hparams["state"]["name"], "tiny");
}

#[test]
fn a_tensor_without_a_safetensors_dtype_is_refused_by_name_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let input = root().join("tests/data/safetensors/refused_complex128.pt");
    let (out, output) = convert(&input, dir.path());
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("$[\"z\"]") && stderr.contains("<c16 has no safetensors dtype"),
        "{stderr}"
    );
    assert!(!out.exists());
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn an_existing_output_is_kept_without_force() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let out = dir.path().join("model.safetensors");
    std::fs::write(&out, "mine").unwrap_or_else(|e| panic!("{e}"));
    let input = root().join("fixtures/torch/state_dict.pt");
    let run = |force: bool| {
        let mut cmd = pklinspect();
        cmd.arg("extract")
            .arg(&input)
            .args(["--to", "safetensors", "-o"])
            .arg(&out);
        if force {
            cmd.arg("--force");
        }
        cmd.output().unwrap_or_else(|e| panic!("{e}"))
    };
    let refused = run(false);
    assert_eq!(refused.status.code(), Some(2));
    assert_eq!(std::fs::read(&out).unwrap_or_default(), b"mine");
    assert!(run(true).status.success());
    assert_eq!(read_back(&out).len(), 7);
}

#[test]
fn npy_files_of_a_whole_module_are_named_by_state_dict_keys() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let out = dir.path().join("npy");
    let output = pklinspect()
        .arg("extract")
        .arg(root().join("fixtures/torch/module.pt"))
        .args(["--to", "npy", "-o"])
        .arg(&out)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(output.status.success());
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().to_string())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let mut want: Vec<String> = truth()["files"]["fixtures/torch/module.pt"]["tensors"]
        .as_object()
        .map(|t| t.keys().map(|k| format!("{k}.npy")).collect())
        .unwrap_or_default();
    want.push("index.json".into());
    want.sort();
    assert_eq!(names, want);
}

#[test]
fn an_npz_holds_only_arrays_and_its_index_lies_beside_it() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let out = dir.path().join("model.npz");
    let output = pklinspect()
        .arg("extract")
        .arg(root().join("fixtures/torch/state_dict.pt"))
        .args(["--to", "npz", "-o"])
        .arg(&out)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(output.status.success());
    let file = std::fs::File::open(&out).unwrap_or_else(|e| panic!("{e}"));
    let mut archive = zip::ZipArchive::new(file).unwrap_or_else(|e| panic!("{e}"));
    let members: Vec<String> = (0..archive.len())
        .filter_map(|i| {
            archive
                .by_index(i)
                .ok()
                .and_then(|m| m.name().ok().map(|n| n.to_string()))
        })
        .collect();
    assert!(members.iter().all(|m| m.ends_with(".npy")), "{members:?}");
    assert!(members.contains(&"0.weight.npy".to_string()), "{members:?}");
    let index = std::fs::read_to_string(dir.path().join("model.npz.index.json"))
        .unwrap_or_else(|e| panic!("index beside the npz: {e}"));
    let index: serde_json::Value = serde_json::from_str(&index).unwrap_or_default();
    assert_eq!(index["arrays"].as_array().map(Vec::len), Some(7));
}

/// The progress total is the sum of the payloads, announced before the first byte is
/// written, and the last position reaches it (the bar's ETA means something).
#[test]
fn progress_knows_its_total_before_writing() {
    use pklinspect::extract::{extract, ExtractOptions, Target};
    use std::cell::RefCell;
    use std::rc::Rc;
    let events: Rc<RefCell<Vec<(&str, u64)>>> = Rc::default();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    for target in [
        Target::Safetensors {
            file: dir.path().join("m.safetensors"),
        },
        Target::Npy {
            dir: dir.path().join("npy"),
        },
    ] {
        events.borrow_mut().clear();
        let mut options = ExtractOptions::new(target);
        let total = events.clone();
        options.progress_total = Some(Box::new(move |n| total.borrow_mut().push(("total", n))));
        let done = events.clone();
        options.progress = Some(Box::new(move |n| done.borrow_mut().push(("done", n))));
        let bytes = std::fs::read(root().join("tests/data/safetensors/shared.pt"))
            .unwrap_or_else(|e| panic!("{e}"));
        let extracted = extract("shared.pt", &bytes, &options).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(extracted.index.arrays.len(), 6);
        let events = events.borrow();
        // base 80 + rows 40 + T 80 + column 16 + row 20 + slice 24 bytes of float32.
        assert_eq!(events.first(), Some(&("total", 260)), "{events:?}");
        assert_eq!(events.last(), Some(&("done", 260)), "{events:?}");
    }
}

#[test]
fn two_tensors_with_one_name_are_refused_naming_both() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let input = root().join("tests/data/safetensors/refused_same_name.pt");
    let (out, output) = convert(&input, dir.path());
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("$[\"a\"][\"b\"]")
            && stderr.contains("$[\"a.b\"] has the same name \"a.b\""),
        "{stderr}"
    );
    assert!(!out.exists());
}

/// Plain arrays (an `.npz`, a `.npy`) are no checkpoint: refused with a pointer to npz.
#[test]
fn a_plain_npz_is_refused_with_a_hint() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let npz = common::fixture_files()
        .into_iter()
        .find(|f| f.extension().is_some_and(|e| e == "npz"))
        .unwrap_or_default();
    let (out, output) = convert(&npz, dir.path());
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--to npz"), "{stderr}");
    assert!(!out.exists());
}

/// float8 tensors (torch's `_rebuild_tensor_v3` with an untyped storage) read as torch
/// reads them: every bit pattern of each format, NaN, infinities, subnormals and negative
/// zero included, and a strided view.
#[test]
fn float8_values_are_torchs() {
    let truth = truth();
    let want = &truth["files"]["tests/data/safetensors/float8_v3.pt"]["tensors"];
    let output = pklinspect()
        .arg("extract")
        .arg(root().join("tests/data/safetensors/float8_v3.pt"))
        .args(["--to", "json"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(output.status.success());
    let doc: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap_or_default();
    fn flat(v: &serde_json::Value, out: &mut Vec<serde_json::Value>) {
        match v {
            serde_json::Value::Array(items) => items.iter().for_each(|i| flat(i, out)),
            serde_json::Value::Object(o) => out.push(o.get("$float").cloned().unwrap_or_default()),
            other => out.push(other.clone()),
        }
    }
    let mut checked = 0;
    for (name, tensor) in want.as_object().into_iter().flatten() {
        let Some(values) = tensor["values"].as_array() else {
            continue;
        };
        let mut got = Vec::new();
        flat(&doc[name]["$array"]["data"], &mut got);
        let as_f64 = |v: &serde_json::Value| v.as_f64().map(|x| format!("{x:?}"));
        let got: Vec<_> = got
            .iter()
            .map(|v| as_f64(v).unwrap_or_else(|| v.to_string()))
            .collect();
        let values: Vec<_> = values
            .iter()
            .map(|v| as_f64(v).unwrap_or_else(|| v.to_string()))
            .collect();
        assert_eq!(got, values, "{name}");
        checked += 1;
    }
    assert_eq!(checked, 5);
}

/// A legacy tar checkpoint (torch 0.3) converts like the other torch formats
/// (tests/extract_legacy_tar.rs compares every one with torch's reading).
#[test]
fn a_legacy_tar_checkpoint_converts() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (out, output) = convert(
        &root().join("tests/data/archives/legacy.pth.tar"),
        dir.path(),
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("wrote 2 tensors"), "{stderr}");
    let names: Vec<String> = read_back(&out).into_keys().collect();
    assert_eq!(names, ["n", "w"]);
}

/// Every torch file of the benign corpus (tensors of every dtype, sparse, quantized,
/// modules, optimizers, schedulers) converts to a file the crate reads, or is refused with
/// one message and no output; nothing panics.
#[test]
fn every_benign_torch_file_converts_or_is_refused_cleanly() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let corpus = root().join("fixtures/benign/torch");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&corpus)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|f| f.extension().is_some_and(|e| e == "pt"));
    files.sort();
    assert!(files.len() >= 50, "{}", files.len());
    let mut converted = 0;
    for file in &files {
        let (out, output) = convert(file, dir.path());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!stderr.contains("panicked"), "{}: {stderr}", file.display());
        if output.status.success() {
            read_back(&out);
            converted += 1;
        } else {
            assert_eq!(output.status.code(), Some(2), "{}", file.display());
            assert_eq!(stderr.lines().count(), 1, "{}: {stderr}", file.display());
            assert!(!out.exists(), "{}", file.display());
        }
    }
    // Tensors of every safetensors dtype and the modules convert; optimizers (keyed by
    // parameter objects), quantized and complex32/128 tensors are refused.
    assert!(converted >= 45, "{converted} of {} converted", files.len());
}
