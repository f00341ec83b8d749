//! `extract` into a temporary folder: `.npy` files with `index.json`, and JSON with arrays
//! inline or as files. No panic, and on error nothing is left behind.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pklinspect::extract::{extract, Bfloat16As, ExtractOptions, Target};
use pklinspect::inspect::Options;
use pklinspect::limits::Limits;

fn options(target: Target) -> ExtractOptions {
    ExtractOptions {
        inspect: Options {
            limits: Limits {
                max_decompressed: 16 << 20,
                ..Limits::default()
            },
            ..Options::default()
        },
        target,
        force: false,
        bfloat16: Bfloat16As::F4,
        // A small file can describe a large strided view; keep one execution small.
        max_bytes: 16 << 20,
        progress: None,
        progress_total: None,
        source_file: None,
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(dir) = tempfile::tempdir() else {
        return;
    };
    let out = dir.path().join("out");
    let result = extract("fuzz.pkl", data, &options(Target::Npy { dir: out.clone() }));
    if result.is_err() {
        assert!(!out.exists(), "a failed extract left {}", out.display());
    }
    let json_file = dir.path().join("tree.json");
    let result = extract(
        "fuzz.pkl",
        data,
        &options(Target::Json {
            file: Some(json_file.clone()),
            arrays_as_files: true,
        }),
    );
    if result.is_err() {
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .map(|d| d.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert!(
            left.iter().all(|n| n == "out"),
            "a failed extract left {left:?}"
        );
    }
    if let Ok(extracted) = extract(
        "fuzz.pkl",
        data,
        &options(Target::Json {
            file: None,
            arrays_as_files: false,
        }),
    ) {
        let json = extracted.json.expect("JSON to standard output is returned");
        if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(&json) {
            // serde_json refuses nesting past 128 levels; anything else is our bug.
            assert!(
                e.to_string().contains("recursion limit"),
                "invalid JSON: {e}"
            );
        }
    }
});
