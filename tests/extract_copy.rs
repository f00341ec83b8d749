//! `extract_mapped` (the CLI's path: arrays copied file to file, hashed on a second thread)
//! writes exactly what `extract` writes from bytes in memory, and every `sha256` in the
//! index is the hash of the data the `.npy` holds, whichever path wrote it.

mod common;

use std::path::Path;

use pklinspect::extract::{extract, extract_mapped, ExtractOptions, Extracted, Target};
use pklinspect::input::Input;
use sha2::{Digest, Sha256};

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The data of a `.npy` file: what follows its header (versions 1 to 3); `None` for a
/// Fortran-order file (the index hashes the C-order bytes, which it does not hold in order).
fn npy_data(npy: &[u8]) -> Option<&[u8]> {
    assert_eq!(&npy[..6], b"\x93NUMPY", "not an npy");
    let (len, start) = match npy[6] {
        1 => (u16::from_le_bytes([npy[8], npy[9]]) as usize, 10),
        _ => (
            u32::from_le_bytes([npy[8], npy[9], npy[10], npy[11]]) as usize,
            12,
        ),
    };
    let header = String::from_utf8_lossy(&npy[start..start + len]);
    (!header.contains("'fortran_order': True")).then(|| &npy[start + len..])
}

/// Extracts `file` to `.npy` files in `dir`: mapped (with its file) or read into memory.
fn extract_to(file: &Path, dir: &Path, mapped: bool) -> Extracted {
    let options = ExtractOptions::new(Target::Npy {
        dir: dir.to_path_buf(),
    });
    let name = file.display().to_string();
    if mapped {
        let (input, handle) = Input::open_file(file).unwrap();
        let handle = handle.expect("a non-empty regular file is mapped");
        extract_mapped(&name, input.bytes(), &handle, &options).unwrap()
    } else {
        extract(&name, &std::fs::read(file).unwrap(), &options).unwrap()
    }
}

/// Each index row's sha256 is the hash of its file's data; returns the rows' dtypes.
fn assert_hashes_match_files(extracted: &Extracted, dir: &Path) -> Vec<String> {
    assert!(!extracted.index.arrays.is_empty(), "nothing written");
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    let mut dtypes = Vec::new();
    for (row, json) in extracted
        .index
        .arrays
        .iter()
        .zip(index["arrays"].as_array().unwrap())
    {
        let npy = std::fs::read(dir.join(&row.file)).unwrap();
        if let Some(data) = npy_data(&npy) {
            assert_eq!(row.sha256, sha256(data), "{}", row.file);
        }
        assert_eq!(json["sha256"], row.sha256.as_str());
        dtypes.push(json["dtype"].to_string());
    }
    dtypes
}

#[test]
fn a_plain_array_copied_from_the_file_hashes_to_its_written_data() {
    let out = tempfile::tempdir().unwrap();
    for name in ["torch/state_dict.pt", "numpy2/float64_2d_p3.pkl"] {
        let dir = out.path().join(name);
        let file = common::fixtures_dir().join(name);
        let extracted = extract_to(&file, &dir, true);
        assert_hashes_match_files(&extracted, &dir);
    }
}

#[test]
fn a_compressed_input_is_written_from_its_decompressed_buffer_with_correct_hashes() {
    let out = tempfile::tempdir().unwrap();
    let file = common::fixtures_dir().join("joblib/np2_arrays.joblib.gz");
    let extracted = extract_to(&file, out.path(), true);
    assert!(extracted.index.arrays.len() >= 2, "{:?}", extracted.index);
    assert_hashes_match_files(&extracted, out.path());
}

#[test]
fn a_byte_swapped_array_is_written_native_with_the_hash_of_the_swapped_data() {
    let out = tempfile::tempdir().unwrap();
    let file = common::fixtures_dir().join("numpy2/bigendian_i4_p2.pkl");
    let extracted = extract_to(&file, out.path(), true);
    let dtypes = assert_hashes_match_files(&extracted, out.path());
    assert!(dtypes.iter().any(|d| d == "\"<i4\""), "{dtypes:?}");
}

#[test]
fn every_fixture_extracts_the_same_mapped_as_from_memory() {
    let mut compared = 0;
    for file in common::fixture_files() {
        if common::sidecar(&file)["status"] != "valid"
            || std::fs::metadata(&file).unwrap().len() == 0
        {
            continue;
        }
        let (mapped, read) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let options = ExtractOptions::new(Target::Npy {
            dir: read.path().to_path_buf(),
        });
        let name = file.display().to_string();
        let Ok(want) = extract(&name, &std::fs::read(&file).unwrap(), &options) else {
            continue;
        };
        let got = extract_to(&file, mapped.path(), true);
        assert_eq!(got.index.arrays, want.index.arrays, "{name}");
        assert_eq!(got.index.skipped, want.index.skipped, "{name}");
        for row in &got.index.arrays {
            let ours = std::fs::read(mapped.path().join(&row.file)).unwrap();
            assert_eq!(ours, std::fs::read(read.path().join(&row.file)).unwrap());
            if let Some(data) = npy_data(&ours) {
                assert_eq!(row.sha256, sha256(data), "{name} {}", row.file);
            }
            compared += 1;
        }
        assert_eq!(
            std::fs::read(mapped.path().join("index.json")).unwrap(),
            std::fs::read(read.path().join("index.json")).unwrap(),
        );
    }
    assert!(compared > 500, "{compared}");
}

#[test]
fn an_npz_from_a_mapped_file_is_the_npz_written_from_memory() {
    for name in ["torch/state_dict.pt", "numpy2/bigendian_i4_p2.pkl"] {
        npz_mapped_and_read(&common::fixtures_dir().join(name));
    }
}

fn npz_mapped_and_read(file: &Path) {
    let out = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(file).unwrap();
    let (input, handle) = Input::open_file(file).unwrap();
    let mut npz = Vec::new();
    for (i, mapped) in [false, true].into_iter().enumerate() {
        let path = out.path().join(format!("{i}.npz"));
        let options = ExtractOptions::new(Target::Npz {
            file: path.clone(),
            compress: false,
        });
        match (mapped, &handle) {
            (true, Some(handle)) => extract_mapped("x", input.bytes(), handle, &options),
            _ => extract("x", &bytes, &options),
        }
        .unwrap();
        npz.push(std::fs::read(&path).unwrap());
    }
    assert_eq!(npz[0], npz[1]);
}
