//! torch's legacy **tar** checkpoints (torch < 0.4): `explain` lists their tensors and
//! `extract --to safetensors|npz|npy` writes them — a dict of tensors sharing storages, a
//! whole `nn.Module` (its `state_dict` keys), a checkpoint dict — compared with what torch 2.15's own
//! `torch.load` gives for the fixtures (tests/data/archives/legacy_tar.truth.json, written
//! by tests/data/archives/generate.py: safetensors dtype, shape and sha256 of the
//! contiguous bytes per key); hand-built tars for the hostile cases, each refused with exit
//! 2, an offset, and nothing written.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{pklinspect, python_with, run_python};
use safetensors::SafeTensors;
use sha2::{Digest, Sha256};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

type Tensors = BTreeMap<String, (String, Vec<usize>, String)>;

fn truth() -> serde_json::Value {
    let path = root().join("tests/data/archives/legacy_tar.truth.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn run(args: &[&std::ffi::OsStr]) -> std::process::Output {
    pklinspect()
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{e}"))
}

fn extract(input: &Path, to: &str, out: &Path) -> std::process::Output {
    run(&[
        "extract".as_ref(),
        input.as_os_str(),
        "--to".as_ref(),
        to.as_ref(),
        "-o".as_ref(),
        out.as_os_str(),
    ])
}

#[test]
fn every_legacy_tar_fixture_converts_to_what_torch_load_gives() {
    let truth = truth();
    let files = truth["files"].as_object().cloned().unwrap_or_default();
    assert_eq!(files.len(), 4);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    for (file, entry) in &files {
        let out = dir.path().join("out.safetensors");
        let output = extract(&root().join(file), "safetensors", &out);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{file}: {stderr}");
        let want = common::truth_tensors(entry);
        assert!(
            stderr.contains(&format!("wrote {} tensors", want.len())),
            "{stderr}"
        );
        let bytes = std::fs::read(&out).unwrap_or_else(|e| panic!("{e}"));
        // Non-tensor entries of a checkpoint dict go into the metadata, beside "format".
        let (_, header) = SafeTensors::read_metadata(&bytes).unwrap_or_else(|e| panic!("{e}"));
        let mut keys: Vec<String> = header
            .metadata()
            .clone()
            .unwrap_or_default()
            .into_keys()
            .collect();
        keys.sort();
        let mut want_keys: Vec<String> = entry["metadata_keys"]
            .as_array()
            .map(|k| {
                k.iter()
                    .filter_map(|k| k.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        want_keys.push("format".into());
        want_keys.sort();
        assert_eq!(keys, want_keys, "{file}");
        let tensors = SafeTensors::deserialize(&bytes).unwrap_or_else(|e| panic!("{file}: {e}"));
        let got: Tensors = tensors
            .iter()
            .map(|(name, view)| {
                let dtype = format!("{:?}", view.dtype());
                let sha = hex(&Sha256::digest(view.data()));
                (name.to_string(), (dtype, view.shape().to_vec(), sha))
            })
            .collect();
        assert_eq!(got, want, "{file}");
        std::fs::remove_file(&out).unwrap_or_else(|e| panic!("{e}"));
    }
}

/// The Python package reads the output back as torch had the tensors (bfloat16 has no numpy
/// dtype: raw bytes through `safetensors.deserialize`).
#[test]
fn the_safetensors_package_reads_what_torch_load_gives() {
    let Some(python) = python_with(&["safetensors", "numpy"]) else {
        return;
    };
    let truth = truth();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut pairs = serde_json::Map::new();
    for (i, (file, entry)) in truth["files"]
        .as_object()
        .cloned()
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let out = dir.path().join(format!("{i}.safetensors"));
        assert!(extract(&root().join(file), "safetensors", &out)
            .status
            .success());
        pairs.insert(out.to_string_lossy().to_string(), entry["tensors"].clone());
    }
    let listing = dir.path().join("pairs.json");
    std::fs::write(&listing, serde_json::Value::Object(pairs).to_string())
        .unwrap_or_else(|e| panic!("{e}"));
    let script = r#"
import hashlib, json, sys
import safetensors
bad = []
for out, want in json.load(open(sys.argv[1])).items():
    got = {n: {"dtype": t["dtype"], "shape": list(t["shape"]),
               "sha256": hashlib.sha256(bytes(t["data"])).hexdigest()}
           for n, t in safetensors.deserialize(open(out, "rb").read())}
    if got != want:
        bad.append((out, got, want))
print(json.dumps(bad))
"#;
    let output = run_python(python, script, &[&listing.to_string_lossy()]);
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "[]");
}

#[test]
fn npz_and_npy_are_named_by_the_state_dict_keys() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let input = root().join("tests/data/archives/legacy_views.pth.tar");
    let folder = dir.path().join("npy");
    let output = extract(&input, "npy", &folder);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let want = common::truth_tensors(&truth()["files"]["tests/data/archives/legacy_views.pth.tar"]);
    let mut names: Vec<String> = std::fs::read_dir(&folder)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().to_string())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let mut wanted: Vec<String> = want.keys().map(|k| format!("{k}.npy")).collect();
    wanted.push("index.json".into());
    wanted.sort();
    assert_eq!(names, wanted);
    // A transposed view is written in C order: its bytes are torch's `.contiguous()`.
    let npy = std::fs::read(folder.join("base_t.npy")).unwrap_or_else(|e| panic!("{e}"));
    let header_len = u16::from_le_bytes([npy[8], npy[9]]) as usize + 10;
    assert_eq!(hex(&Sha256::digest(&npy[header_len..])), want["base_t"].2);
    let npz = dir.path().join("all.npz");
    assert!(extract(&input, "npz", &npz).status.success());
}

#[test]
fn explain_lists_the_tensors_at_their_paths() {
    let input = root().join("tests/data/archives/legacy_views.pth.tar");
    let output = run(&[
        "explain".as_ref(),
        input.as_os_str(),
        "--format".as_ref(),
        "json".as_ref(),
    ]);
    let report: serde_json::Value =
        serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}"));
    let text = report.to_string();
    for path in [r#"$[\"base_t\"]"#, r#"$[\"half_view\"]"#, r#"$[\"bf16\"]"#] {
        assert!(text.contains(path), "{path} not in {text}");
    }
}

// --- hostile tars, built by hand ---------------------------------------------------------

/// A storage record pickle `(key, "cpu", torch.<class>)`, protocol 2.
fn storage_record(key: u16, class: &str) -> Vec<u8> {
    let mut p = vec![0x80, 2, b'M'];
    p.extend(key.to_le_bytes());
    p.extend(b"X\x03\x00\x00\x00cpuctorch\n");
    p.extend(class.as_bytes());
    p.extend(b"\n\x87.");
    p
}

/// A tensor record pickle `(key, storage_key, torch.Tensor)` and its metadata.
fn tensor_record(key: u16, storage: u16, ndim: i32, dims: &[(i64, i64)], offset: i64) -> Vec<u8> {
    let mut p = vec![0x80, 2, b'M'];
    p.extend(key.to_le_bytes());
    p.push(b'M');
    p.extend(storage.to_le_bytes());
    p.extend(b"ctorch\nTensor\n\x87.");
    p.extend(ndim.to_le_bytes());
    p.extend([0; 4]);
    for (size, _) in dims {
        p.extend(size.to_le_bytes());
    }
    for (_, stride) in dims {
        p.extend(stride.to_le_bytes());
    }
    p.extend(offset.to_le_bytes());
    p
}

fn count(n: u8) -> Vec<u8> {
    vec![0x80, 2, b'K', n, b'.']
}

/// The members of a checkpoint holding one float32 tensor `w` of 4 elements.
struct Members {
    storages: Vec<u8>,
    tensors: Vec<u8>,
}

impl Members {
    fn good() -> Members {
        let mut storages = count(1);
        storages.extend(storage_record(2000, "FloatStorage"));
        storages.extend(4u64.to_le_bytes());
        for v in [1.0f32, 2.0, 3.0, 4.0] {
            storages.extend(v.to_le_bytes());
        }
        storages.extend(b"\x80\x02].");
        let mut tensors = count(1);
        tensors.extend(tensor_record(3000, 2000, 2, &[(2, 2), (2, 1)], 0));
        Members { storages, tensors }
    }

    fn tar(&self) -> Vec<u8> {
        let pickle = b"\x80\x02}q\x00X\x01\x00\x00\x00wq\x01X\x04\x00\x00\x003000q\x02Qs.";
        let mut builder = tar::Builder::new(Vec::new());
        for (name, data) in [
            ("sys_info", &b"\x80\x02}."[..]),
            ("pickle", &pickle[..]),
            ("tensors", &self.tensors),
            ("storages", &self.storages),
        ] {
            let mut header = tar::Header::new_gnu();
            header.set_size(data.len() as u64);
            header.set_mode(0o600);
            header.set_cksum();
            builder
                .append_data(&mut header, name, data)
                .unwrap_or_else(|e| panic!("{e}"));
        }
        builder.into_inner().unwrap_or_else(|e| panic!("{e}"))
    }
}

/// Runs every output format on `tar`: `None` when all succeed, else the stderr of each
/// (which must all fail, with exit 2 and nothing written).
fn refused(tar: &[u8]) -> Option<String> {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let input = dir.path().join("hostile.pth.tar");
    std::fs::write(&input, tar).unwrap_or_else(|e| panic!("{e}"));
    let mut messages = Vec::new();
    for (to, out) in [
        ("safetensors", "out.safetensors"),
        ("npz", "out.npz"),
        ("npy", "out"),
    ] {
        let out = dir.path().join(out);
        let output = extract(&input, to, &out);
        if output.status.success() {
            assert!(messages.is_empty(), "only some formats refused it");
            continue;
        }
        assert_eq!(output.status.code(), Some(2), "--to {to}");
        assert!(!out.exists(), "--to {to} wrote {}", out.display());
        messages.push(String::from_utf8_lossy(&output.stderr).to_string());
    }
    if messages.is_empty() {
        return None;
    }
    let left = std::fs::read_dir(dir.path()).map_or(0, |d| d.count());
    assert_eq!(left, 1, "only the input is left");
    Some(messages.join("\n"))
}

#[test]
fn the_hand_built_checkpoint_converts() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let input = dir.path().join("good.pth.tar");
    std::fs::write(&input, Members::good().tar()).unwrap_or_else(|e| panic!("{e}"));
    let out = dir.path().join("good.safetensors");
    let output = extract(&input, "safetensors", &out);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let bytes = std::fs::read(&out).unwrap_or_else(|e| panic!("{e}"));
    let tensors = SafeTensors::deserialize(&bytes).unwrap_or_else(|e| panic!("{e}"));
    let w = tensors.tensor("w").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(w.shape(), [2, 2]);
    assert_eq!(&w.data()[..4], 1.0f32.to_le_bytes());
    assert_eq!(refused(&Members::good().tar()), None);
}

fn assert_refused(members: &Members, wanted: &[&str]) {
    let stderr = refused(&members.tar()).unwrap_or_else(|| panic!("accepted"));
    for w in wanted {
        assert!(stderr.contains(w), "{w:?} not in {stderr}");
    }
}

#[test]
fn a_storage_element_count_that_overflows_is_refused_with_its_offset() {
    let mut m = Members::good();
    let at = count(1).len() + storage_record(2000, "FloatStorage").len();
    m.storages[at..at + 8].copy_from_slice(&(u64::MAX / 2).to_le_bytes());
    assert_refused(
        &m,
        &["storages", &format!("offset {at}"), "go past the end"],
    );
}

#[test]
fn a_storage_count_past_the_records_is_refused() {
    let mut m = Members::good();
    m.storages[3] = 200;
    assert_refused(&m, &["storages", "offset"]);
}

#[test]
fn a_tensor_past_the_end_of_its_storage_is_refused_with_its_offset() {
    let mut m = Members::good();
    let mut tensors = count(1);
    tensors.extend(tensor_record(3000, 2000, 2, &[(2, 2), (2, 1)], 1));
    m.tensors = tensors;
    assert_refused(&m, &["tensors", "reads past the end of storage 2000"]);
    // A stride that walks off the storage.
    let mut tensors = count(1);
    tensors.extend(tensor_record(3000, 2000, 1, &[(3, 2)], 0));
    m.tensors = tensors;
    assert_refused(&m, &["tensors", "reads past the end"]);
    // A storage key that is not there.
    let mut tensors = count(1);
    tensors.extend(tensor_record(3000, 2001, 1, &[(1, 1)], 0));
    m.tensors = tensors;
    assert_refused(&m, &["names storage 2001"]);
}

#[test]
fn a_huge_or_negative_ndim_is_refused_with_its_offset() {
    for ndim in [i32::MAX, 65, -1] {
        let mut m = Members::good();
        let mut tensors = count(1);
        tensors.extend(tensor_record(3000, 2000, ndim, &[(2, 2), (2, 1)], 0));
        m.tensors = tensors;
        let at = count(1).len() + tensor_record(3000, 2000, 0, &[], 0).len() - 16;
        assert_refused(
            &m,
            &["tensors", &format!("ndim {ndim}"), &format!("offset {at}")],
        );
    }
}

#[test]
fn truncated_members_are_refused() {
    let good = Members::good();
    for cut in [good.storages.len() - 10, 20, 3] {
        let mut m = Members::good();
        m.storages.truncate(cut);
        assert_refused(&m, &["storages"]);
    }
    for cut in [good.tensors.len() - 1, 30, 3] {
        let mut m = Members::good();
        m.tensors.truncate(cut);
        assert_refused(&m, &["tensors"]);
    }
}

#[test]
fn a_storage_view_outside_its_storage_is_refused() {
    let good = Members::good();
    // The views pickle `[(2001, 2000, offset, numel)]` in place of `[]`.
    let with_view = |offset: u8, numel: u8| {
        let mut m = Members::good();
        let views_at = good.storages.len() - 4;
        m.storages.truncate(views_at);
        m.storages.extend(b"\x80\x02]q\x00(M\xd1\x07M\xd0\x07K");
        m.storages.extend([offset, b'K', numel]);
        m.storages.extend(b"tq\x01a.");
        m
    };
    // Inside: elements 1..3 of the 4 (nothing uses the view; the file converts).
    assert_eq!(refused(&with_view(1, 2).tar()), None);
    assert_refused(
        &with_view(3, 5),
        &["storages", "storage view 2001", "outside storage 2000"],
    );
}
