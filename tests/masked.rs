//! numpy masked arrays (`numpy.ma.core._mareconstruct`): data and mask listed by `explain`
//! at the object's path and `<path>.mask`, written by `extract` as `<name>.npy` +
//! `<name>.mask.npy` and as `{"$masked": …}` in JSON, compared with numpy's own loading of
//! the fixtures numpy 1.26 and 2.4 wrote (fixtures/generate.py, group `masked`).

mod common;

use std::path::{Path, PathBuf};

use common::{pklinspect, python_with, run_python};

fn masked_fixtures() -> Vec<PathBuf> {
    let files: Vec<PathBuf> = common::fixture_files()
        .into_iter()
        .filter(|f| f.parent().and_then(Path::file_name) == Some("masked".as_ref()))
        .collect();
    let np1 = files
        .iter()
        .filter(|f| f.to_string_lossy().contains("np1_"))
        .count();
    assert!(np1 >= 4 && files.len() >= 8, "{files:?}");
    files
}

fn run(args: &[&std::ffi::OsStr]) -> std::process::Output {
    pklinspect()
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn explain_lists_data_at_the_path_and_the_mask_beside_it() {
    for file in masked_fixtures() {
        let out = run(&[
            "explain".as_ref(),
            "--format".as_ref(),
            "json".as_ref(),
            file.as_os_str(),
        ]);
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        let arrays = report["pickles"][0]["arrays"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let find = |path: &str| arrays.iter().find(|a| a["path"] == path).cloned();
        let data =
            find("$[\"fortran\"]").unwrap_or_else(|| panic!("{}: {arrays:?}", file.display()));
        let mask = find("$[\"fortran\"].mask").unwrap_or_else(|| panic!("{}", file.display()));
        assert_eq!(data["dtype"], "<f4");
        assert_eq!(mask["dtype"], "|b1");
        assert_eq!(mask["shape"], serde_json::json!([3, 4]));
        assert_eq!(
            mask["fortran_order"], true,
            "the mask is stored in the data's order"
        );
        assert_eq!(mask["extractable"], true);
        // Seven masked arrays, two arrays each; no fill value is taken for an array.
        assert_eq!(arrays.len(), 14, "{}", file.display());
        // The masked array machinery is array, not an unknown library.
        let imports = report["pickles"][0]["imports"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let ma = imports.iter().find(|i| i["name"] == "_mareconstruct");
        assert_eq!(ma.map(|i| i["category"].clone()), Some("array".into()));
    }
}

/// Every `.npy` and `.mask.npy` equals what `pickle.load` + numpy give: `m.data` and
/// `np.ma.getmaskarray(m)`, dtype (as loaded: native order), shape and values.
#[test]
fn npy_and_mask_npy_equal_numpys_data_and_mask() {
    let Some(python) = python_with(&["numpy"]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut pairs = Vec::new();
    for (i, file) in masked_fixtures().iter().enumerate() {
        let out = dir.path().join(format!("out{i}"));
        let status = run(&[
            "extract".as_ref(),
            file.as_os_str(),
            "--to".as_ref(),
            "npy".as_ref(),
            "-o".as_ref(),
            out.as_os_str(),
        ]);
        assert!(
            status.status.success(),
            "{}",
            String::from_utf8_lossy(&status.stderr)
        );
        pairs.push(serde_json::json!([file, out]));
    }
    let script = r#"
import json, os, pickle, sys
import numpy as np
bad = []
for fixture, out in json.loads(sys.argv[1]):
    loaded = pickle.load(open(fixture, "rb"))
    for name, m in loaded.items():
        data = np.load(os.path.join(out, name + ".npy"))
        mask = np.load(os.path.join(out, name + ".mask.npy"))
        want = np.asarray(m.data)
        if data.dtype != want.dtype or data.shape != want.shape or data.tobytes() != want.tobytes():
            bad.append((fixture, name, "data", str(data.dtype), str(want.dtype)))
        want_mask = np.ma.getmaskarray(m)
        if mask.dtype != np.bool_ or not np.array_equal(mask, want_mask):
            bad.append((fixture, name, "mask", mask.tolist(), want_mask.tolist()))
print(json.dumps(bad))
"#;
    let listing = serde_json::Value::Array(pairs).to_string();
    let output = run_python(python, script, &[&listing]);
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "[]");
}

/// `{"$masked": {"data", "mask", "fill_value"}}`: the values numpy loads, the fill value
/// where one was set (`null` where the pickle has none: numpy then uses its default).
#[test]
fn json_has_masked_with_data_mask_and_fill_value() {
    let Some(python) = python_with(&["numpy"]) else {
        return;
    };
    for file in masked_fixtures() {
        let out = run(&[
            "extract".as_ref(),
            file.as_os_str(),
            "--to".as_ref(),
            "json".as_ref(),
        ]);
        assert!(out.status.success());
        let script = r#"
import json, pickle, sys
import numpy as np
doc = json.loads(open(sys.argv[2]).read())
loaded = pickle.load(open(sys.argv[1], "rb"))
bad = []
def dec(v):  # {"$float": "nan"} and friends back to floats; compared as JSON text (NaN == NaN)
    if isinstance(v, dict) and "$float" in v:
        return float(v["$float"])
    return [dec(x) for x in v] if isinstance(v, list) else v
for name, m in loaded.items():
    got = doc[name]["$masked"]
    if json.dumps(dec(got["data"]["$array"]["data"])) != json.dumps(np.asarray(m.data).tolist()):
        bad.append((name, "data"))
    if got["mask"]["$array"]["data"] != np.ma.getmaskarray(m).tolist():
        bad.append((name, "mask"))
    fill = got["fill_value"]
    if fill is None:  # none pickled: loading sets numpy's default for the dtype
        ok = np.asarray(m.fill_value).tolist() == np.asarray(np.ma.default_fill_value(m)).tolist()
    else:
        ok = fill["$array"]["data"] == np.asarray(m.fill_value).tolist()
    if not ok:
        bad.append((name, "fill_value", fill))
print(json.dumps(bad))
"#;
        let doc = tempfile::NamedTempFile::new().unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(doc.path(), &out.stdout).unwrap_or_else(|e| panic!("{e}"));
        let output = run_python(
            python_with(&["numpy"]).unwrap_or_else(|| panic!("python went away")),
            script,
            &[&file.to_string_lossy(), &doc.path().to_string_lossy()],
        );
        assert_eq!(
            String::from_utf8_lossy(&output.stdout).trim(),
            "[]",
            "{}",
            file.display()
        );
    }
    drop(python);
}

#[test]
fn an_npz_holds_data_and_mask_members() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let npz = dir.path().join("m.npz");
    let file = masked_fixtures().into_iter().next().unwrap_or_default();
    let out = run(&[
        "extract".as_ref(),
        file.as_os_str(),
        "--to".as_ref(),
        "npz".as_ref(),
        "-o".as_ref(),
        npz.as_os_str(),
    ]);
    assert!(out.status.success());
    let archive = zip::ZipArchive::new(std::fs::File::open(&npz).unwrap_or_else(|e| panic!("{e}")));
    let mut archive = archive.unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<String> = (0..archive.len())
        .filter_map(|i| {
            archive
                .by_index(i)
                .ok()
                .and_then(|m| m.name().ok().map(|n| n.to_string()))
        })
        .collect();
    assert!(names.contains(&"ints.npy".to_string()), "{names:?}");
    assert!(names.contains(&"ints.mask.npy".to_string()), "{names:?}");
}

/// Hand-written: a mask two bytes long for three elements. numpy refuses it ("buffer size
/// does not match array size"); the data is still written, the mask is reported as not
/// extractable with the reason, and the 6-item state of a damaged masked array is no array.
#[test]
fn a_short_mask_is_not_extractable_and_a_short_state_is_no_array() {
    // _mareconstruct(MaskedArray, ndarray, (0,), b'b') + BUILD (1, (3,), int8, False,
    // b'\x01\x02\x03', <mask>, <fill>): the state up to the data.
    const HEAD: &[u8] = b"\x80\x02cnumpy.ma.core\n_mareconstruct\n(cnumpy.ma\nMaskedArray\ncnumpy\nndarray\nK\x00\x85U\x01btR(K\x01K\x03\x85cnumpy\ndtype\nU\x02i1K\x00K\x01\x87R(K\x03U\x01|NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb\x89U\x03\x01\x02\x03";
    let short_mask = [HEAD, b"U\x02\x00\x01Ntb."].concat();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let input = dir.path().join("short_mask.pkl");
    std::fs::write(&input, &short_mask).unwrap_or_else(|e| panic!("{e}"));
    let out = run(&[
        "explain".as_ref(),
        "--format".as_ref(),
        "json".as_ref(),
        input.as_os_str(),
    ]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let arrays = &report["pickles"][0]["arrays"];
    assert_eq!(arrays[0]["path"], "$");
    assert_eq!(arrays[0]["extractable"], true);
    assert_eq!(arrays[1]["path"], "$.mask");
    assert_eq!(arrays[1]["extractable"], false);
    let why = arrays[1]["reason"].as_str().unwrap_or_default();
    assert!(why.contains("buffer holds 2 bytes"), "{arrays}");

    // No fill value (6 items): the lift says why, nothing is taken for data.
    let six = [HEAD, b"U\x03\x00\x01\x00tb."].concat();
    std::fs::write(&input, &six).unwrap_or_else(|e| panic!("{e}"));
    let out = run(&[
        "explain".as_ref(),
        "--format".as_ref(),
        "json".as_ref(),
        input.as_os_str(),
    ]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let arrays = &report["pickles"][0]["arrays"];
    assert_eq!(arrays.as_array().map(Vec::len), Some(1), "{report}");
    let why = arrays[0]["reason"].as_str().unwrap_or_default();
    assert!(why.contains("6 items, not 7"), "{report}");
}

/// `explain` gives each array's dtype as the loader hands it back, the same string
/// `extract`'s index.json writes (protocols 0–4 load big-endian data as native order; the
/// stored order is noted as `stored_dtype`); protocol 5's `_frombuffer` keeps the order.
#[test]
fn explain_dtypes_are_the_loaded_ones_that_index_json_writes() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut compared = 0;
    let mut stored_noted = 0;
    let files = common::fixture_files().into_iter().filter(|f| {
        let s = f.to_string_lossy();
        (s.contains("/numpy1/") || s.contains("/numpy2/") || s.contains("/masked/"))
            && s.ends_with(".pkl")
            && !s.contains("oob")
    });
    for (i, file) in files.enumerate() {
        let out = dir.path().join(format!("o{i}"));
        let explained = run(&[
            "explain".as_ref(),
            "--format".as_ref(),
            "json".as_ref(),
            file.as_os_str(),
        ]);
        let report: serde_json::Value =
            serde_json::from_slice(&explained.stdout).unwrap_or_default();
        let extracted = run(&[
            "extract".as_ref(),
            file.as_os_str(),
            "--to".as_ref(),
            "npy".as_ref(),
            "-q".as_ref(),
            "-o".as_ref(),
            out.as_os_str(),
        ]);
        if !extracted.status.success() {
            continue;
        }
        let index = std::fs::read(out.join("index.json")).unwrap_or_default();
        let index: serde_json::Value = serde_json::from_slice(&index).unwrap_or_default();
        let explained: Vec<serde_json::Value> = report["pickles"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|p| p["arrays"].as_array().cloned().unwrap_or_default())
            .collect();
        for written in index["arrays"].as_array().into_iter().flatten() {
            let Some(seen) = explained.iter().find(|a| a["path"] == written["path"]) else {
                continue;
            };
            assert_eq!(
                seen["dtype"],
                written["dtype"],
                "{} {}",
                file.display(),
                written["path"]
            );
            if let Some(stored) = seen["stored_dtype"].as_str() {
                assert!(stored.starts_with('>'), "{stored}");
                stored_noted += 1;
            }
            compared += 1;
        }
    }
    assert!(
        compared > 100 && stored_noted >= 4,
        "{compared} compared, {stored_noted} stored noted"
    );
}
