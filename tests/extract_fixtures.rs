//! `extract --to npy` against numpy on every fixture: each `.npy` must be byte-identical to
//! what `numpy.save` writes for the array as its loader returns it (the sidecar's
//! `npy_sha256`, computed by the generator with numpy, pickle, joblib and torch).

mod common;

use std::collections::BTreeMap;

use pklinspect::extract::{extract, Bfloat16As, ExtractOptions, Target, DEFAULT_MAX_BYTES};
use pklinspect::inspect::Options;
use sha2::{Digest, Sha256};

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn options(target: Target) -> ExtractOptions {
    ExtractOptions {
        inspect: Options::default(),
        target,
        force: false,
        bfloat16: Bfloat16As::U2,
        max_bytes: DEFAULT_MAX_BYTES,
        progress: None,
        progress_total: None,
        source_file: None,
    }
}

#[test]
fn every_extracted_npy_is_byte_identical_to_numpy_save() {
    let mut failures = Vec::new();
    let mut identical = 0;
    for file in common::fixture_files() {
        let truth = common::sidecar(&file);
        if truth["status"] != "valid" {
            continue;
        }
        let rel = file
            .strip_prefix(common::fixtures_dir())
            .unwrap()
            .display()
            .to_string();
        let out = tempfile::tempdir().unwrap();
        let dir = out.path().join("arrays");
        let bytes = std::fs::read(&file).unwrap();
        let extracted = match extract(&rel, &bytes, &options(Target::Npy { dir: dir.clone() })) {
            Ok(e) => e,
            Err(e) => {
                failures.push(format!("{rel}: {e}"));
                continue;
            }
        };
        // path -> numpy's npy sha256 (null when numpy.save cannot write it alone).
        let want: BTreeMap<String, Option<String>> = truth["arrays"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                (
                    a["path"].as_str().unwrap().to_string(),
                    a["npy_sha256"].as_str().map(str::to_string),
                )
            })
            .collect();
        for written in &extracted.index.arrays {
            let ours = std::fs::read(dir.join(&written.file)).unwrap();
            match want.get(&written.path) {
                Some(Some(theirs)) if *theirs == sha256(&ours) => identical += 1,
                Some(Some(_)) => {
                    failures.push(format!("{rel} {}: differs from numpy.save", written.path))
                }
                Some(None) => failures.push(format!(
                    "{rel} {}: written, numpy cannot save it alone",
                    written.path
                )),
                None => failures.push(format!("{rel} {}: not in the ground truth", written.path)),
            }
        }
        // Everything numpy can save was written; what was skipped has a reason.
        for (path, sha) in &want {
            let written = extracted.index.arrays.iter().any(|w| &w.path == path);
            let skipped = extracted.index.skipped.iter().find(|s| &s.path == path);
            if sha.is_some() && !written {
                failures.push(format!("{rel} {path}: not written ({skipped:?})"));
            }
            if let Some(s) = skipped {
                assert!(!s.reason.is_empty());
            }
        }
        // index.json is there and says the same.
        let index: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
        assert_eq!(index["schema"], "pklinspect.extract/1");
        assert_eq!(
            index["arrays"].as_array().unwrap().len(),
            extracted.index.arrays.len()
        );
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(identical > 500, "{identical}");
    eprintln!("{identical} arrays byte-identical to numpy.save");
}
