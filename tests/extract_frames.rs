//! `extract --to parquet|csv` on pickled DataFrames and Series written by pandas 1.5, 2.2
//! and 3.1 (fixtures/pandas/frames, made by fixtures/generate_frames.py): the CSV is
//! byte-identical to `df.to_csv()` and `pandas.read_parquet` of the Parquet equals the
//! frame (`DataFrame.equals` and dtype by dtype) as pandas' own `to_parquet` round trip
//! gives it back; what cannot be represented is refused, naming the column, with exit 2
//! and no output file.

mod common;

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

fn bin() -> Command {
    Command::cargo_bin("pklinspect").unwrap()
}

fn frames_dir() -> PathBuf {
    common::fixtures_dir().join("pandas").join("frames")
}

/// Every manifest entry, from every pandas version.
fn manifest() -> Vec<Value> {
    let mut entries = Vec::new();
    let mut manifests: Vec<PathBuf> = std::fs::read_dir(frames_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("manifest-") && n.ends_with(".json"))
        })
        .collect();
    manifests.sort();
    assert_eq!(manifests.len(), 3, "pandas 1.5, 2.2 and 3.1 manifests");
    for m in manifests {
        let list: Vec<Value> = serde_json::from_slice(&std::fs::read(&m).unwrap()).unwrap();
        entries.extend(list);
    }
    entries
}

/// Runs extract; `Ok(())` when it wrote `out`, else the exit code and stderr.
fn convert(input: &Path, to: &str, out: &Path, path: &str) -> Result<(), (i32, String)> {
    let output = bin()
        .args(["extract", "--to", to, "--path", path, "-o"])
        .arg(out)
        .arg(input)
        .output()
        .unwrap();
    if output.status.success() {
        assert!(
            out.exists(),
            "{} reported success without writing",
            input.display()
        );
        Ok(())
    } else {
        Err((
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        ))
    }
}

/// Converts every fixture both ways; checks refusals here, returns the written pairs.
fn convert_all(dir: &Path) -> Vec<(String, String, Option<PathBuf>, Option<PathBuf>)> {
    let mut done = Vec::new();
    for entry in manifest() {
        let file = entry["file"].as_str().unwrap().to_string();
        let path = entry["path"].as_str().unwrap().to_string();
        let input = frames_dir().join(&file);
        let mut outs = [None, None];
        for (i, (to, refuse)) in [("csv", "refuse_csv"), ("parquet", "refuse_parquet")]
            .into_iter()
            .enumerate()
        {
            let out = dir.join(format!("{file}.{to}"));
            let result = convert(&input, to, &out, &path);
            match (entry[refuse].as_str(), result) {
                (None, Ok(())) => outs[i] = Some(out),
                (None, Err((code, err))) => panic!("{file} --to {to}: exit {code}: {err}"),
                (Some(column), Err((code, err))) => {
                    assert_eq!(code, 2, "{file} --to {to}: {err}");
                    assert!(err.contains(&format!("\"{column}\"")), "{file}: {err}");
                    assert!(!out.exists(), "{file} --to {to}: partial output left");
                }
                (Some(column), Ok(())) => panic!("{file} --to {to}: {column} not refused"),
            }
        }
        let [csv, parquet] = outs;
        done.push((file, path, csv, parquet));
    }
    done
}

const CHECK: &str = r#"
import io, json, sys
import pandas as pd
failures = []
for file, path, csv, parquet in json.loads(sys.argv[1]):
    obj = pd.read_pickle(file)
    if path.startswith("$."):
        obj = getattr(obj, path[2:])
    elif path != "$":
        obj = obj[json.loads(path[2:-1])]
    frame = obj.to_frame() if isinstance(obj, pd.Series) else obj
    if csv is not None:
        with open(csv, "rb") as f:
            got = f.read()
        want = obj.to_csv().encode("utf-8")
        if got != want:
            failures.append(f"{file}: CSV differs:\n{got.decode()}\n---- to_csv():\n{want.decode()}")
    if parquet is not None:
        got = pd.read_parquet(parquet)
        buf = io.BytesIO()
        frame.to_parquet(buf)
        ref = pd.read_parquet(buf)
        if not got.equals(ref):
            failures.append(f"{file}: read_parquet differs from pandas' round trip:\n{got}\n{ref}")
        if list(got.columns) != list(ref.columns):
            failures.append(f"{file}: columns {list(got.columns)} != {list(ref.columns)}")
        for c in ref.columns:
            if got[c].dtype != ref[c].dtype:
                failures.append(f"{file}: column {c!r} dtype {got[c].dtype} != {ref[c].dtype}")
        if not got.index.equals(ref.index) or type(got.index) is not type(ref.index):
            failures.append(f"{file}: index {got.index!r} != {ref.index!r}")
        if ref.equals(frame) and not got.equals(frame):
            failures.append(f"{file}: read_parquet differs from the pickled frame")
print(json.dumps(failures))
"#;

#[test]
fn every_pandas_fixture_converts_as_pandas_does() {
    let dir = tempfile::tempdir().unwrap();
    let done = convert_all(dir.path());
    assert!(done.len() >= 48, "{} fixtures", done.len());
    let Some(mut python) = common::python_with(&["pandas", "pyarrow", "pytz"]) else {
        return;
    };
    python.current_dir(frames_dir());
    let rows: Vec<Value> = done
        .iter()
        .map(|(file, path, csv, parquet)| serde_json::json!([file, path, csv, parquet]))
        .collect();
    let arg = serde_json::to_string(&rows).unwrap();
    let out = common::run_python(python, CHECK, &[&arg]);
    let failures: Vec<String> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn a_dict_of_frames_names_the_paths_to_choose() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.parquet");
    let input = frames_dir().join("pd31_dict_p4.pkl");
    let (code, err) = convert(&input, "parquet", &out, "$").unwrap_err();
    assert_eq!(code, 2);
    assert!(
        err.contains(r#"'$["train"]'"#) && err.contains(r#"'$["test"]'"#),
        "{err}"
    );
    let (code, err) = convert(&input, "csv", &out, r#"$["valid"]"#).unwrap_err();
    assert_eq!(code, 2);
    assert!(err.contains("valid"), "{err}");
    assert!(!out.exists());
    convert(&input, "csv", &out, r#"$['train']"#).unwrap();
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.starts_with("key,n,x,y\na,1,1.25,p\n"), "{text}");
}

#[test]
fn an_existing_output_is_kept_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("keep.csv");
    std::fs::write(&out, "mine").unwrap();
    let input = frames_dir().join("pd31_series_p4.pkl");
    let (code, err) = convert(&input, "csv", &out, "$").unwrap_err();
    assert_eq!(code, 2);
    assert!(err.contains("--force"), "{err}");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "mine");
}

#[test]
fn a_pickle_that_is_no_frame_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("list.pkl");
    // pickle.dumps([1, 2], protocol=2)
    std::fs::write(&input, b"\x80\x02]q\x00(K\x01K\x02e.").unwrap();
    let out = dir.path().join("x.csv");
    let (code, err) = convert(&input, "csv", &out, "$").unwrap_err();
    assert_eq!(code, 2);
    assert!(err.contains("not a pandas DataFrame"), "{err}");
    assert!(!out.exists());
}

#[test]
fn explain_summarises_frames_as_tables() {
    let input = frames_dir().join("pd22_dict_p4.pkl");
    let out = bin()
        .args(["explain", "--color", "never"])
        .arg(&input)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("$[\"train\"]  DataFrame of 4 rows × 2 columns, index key: object, n: int64"),
        "{text}"
    );
    assert!(text.contains("--path '$[\"train\"]'"), "{text}");
    // The frame's internal arrays are not listed one by one.
    assert!(
        !text.contains("_mgr.__args__[0][0].__args__[0]  "),
        "{text}"
    );
    let out = bin()
        .args(["explain", "--format", "json"])
        .arg(frames_dir().join("pd31_mixed_p4.pkl"))
        .output()
        .unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let frame = &doc["frames"][0];
    assert_eq!(frame["path"], "$");
    assert_eq!(frame["kind"], "DataFrame");
    assert_eq!(frame["rows"], 5);
    assert_eq!(frame["index"], "RangeIndex(0, 5, 1)");
    let dtypes: Vec<(&str, &str)> = frame["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap(), c["dtype"].as_str().unwrap()))
        .collect();
    assert_eq!(
        dtypes,
        [
            ("i64", "int64"),
            ("i32", "int32"),
            ("u8", "uint8"),
            ("f64", "float64"),
            ("f32", "float32"),
            ("bool", "bool"),
            ("obj", "object"),
            ("Int64", "Int64"),
            ("boolean", "boolean"),
            ("Float64", "Float64"),
            ("UInt8", "UInt8"),
            ("cat", "category"),
            ("when", "datetime64[ns]"),
            ("dur", "timedelta64[ns]"),
        ]
    );
    // No frame, no key.
    let out = bin()
        .args(["explain", "--format", "json"])
        .arg(
            common::fixtures_dir()
                .join("plain")
                .read_dir()
                .unwrap()
                .next()
                .unwrap()
                .unwrap()
                .path(),
        )
        .output()
        .unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(doc.get("frames").is_none(), "{doc}");
}

/// Every byte of small frame pickles changed, as each pandas version wrote them: the
/// conversion writes a file or fails with an error (and leaves nothing), never panics.
#[test]
fn a_frame_with_any_byte_changed_converts_or_fails_cleanly() {
    use pklinspect::extract::{extract, ExtractOptions, TableFormat, Target};
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let mut written = 0;
    for name in [
        "pd15_series_p4.pkl",
        "pd31_object_mixed_p4.pkl",
        "pd22_strings_p4.pkl",
    ] {
        let original = std::fs::read(frames_dir().join(name)).unwrap();
        for at in 0..original.len() {
            for change in [if at % 2 == 0 { 0xffu8 } else { 0x01 }] {
                let mut bytes = original.clone();
                bytes[at] ^= change;
                for format in [TableFormat::Csv, TableFormat::Parquet] {
                    let target = Target::Table {
                        file: out.clone(),
                        format,
                        path: None,
                    };
                    match extract(name, &bytes, &ExtractOptions::new(target)) {
                        Ok(_) => {
                            written += 1;
                            std::fs::remove_file(&out).unwrap();
                        }
                        Err(_) => assert!(!out.exists(), "{name} byte {at}: partial output"),
                    }
                }
            }
        }
    }
    assert!(written > 0);
}

/// Values that hold themselves (pickle's memo makes the cycle), where recursing into them
/// overflowed the stack: an object column holding a 0-d object array that holds itself
/// (pandas wrote it), and an `IntegerArray` whose `_data` is itself (written with stand-in
/// classes by the same names): refused by column name.
#[test]
fn a_self_referencing_value_is_refused_by_column() {
    let dir = tempfile::tempdir().unwrap();
    let input = frames_dir().join("hostile_self_scalar_p4.pkl");
    let masked = frames_dir().join("hostile_self_masked_p4.pkl");
    let (code, err) = convert(&masked, "parquet", &dir.path().join("m.parquet"), "$").unwrap_err();
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("column \"n\": nested too deep"), "{err}");
    for to in ["csv", "parquet"] {
        let out = dir.path().join(format!("x.{to}"));
        let (code, err) = convert(&input, to, &out, "$").unwrap_err();
        assert_eq!(code, 2, "{err}");
        assert!(err.contains("column \"o\""), "{err}");
        assert!(!out.exists());
    }
    let out = bin().args(["explain"]).arg(&input).output().unwrap();
    assert!(out.status.code().is_some(), "explain crashed");
    assert!(String::from_utf8_lossy(&out.stdout).contains("cannot be read as a table"));
}

/// Local times need the zone's rules: a zone name the bundled IANA database does not know
/// (here `Europe/London` spelled `Europe/Lond0n` in the pickle, for every pandas
/// generation's tz objects) is refused for CSV, naming the column and the zone, with exit 2
/// and no output; the known zones of the same file convert.
#[test]
fn an_unknown_time_zone_is_refused_for_csv_by_column() {
    let dir = tempfile::tempdir().unwrap();
    for version in ["pd15", "pd22", "pd31"] {
        let good = frames_dir().join(format!("{version}_zones_p4.pkl"));
        let out = dir.path().join(format!("{version}.csv"));
        convert(&good, "csv", &out, "$").unwrap();
        let text = std::fs::read_to_string(&out).unwrap();
        // New York's spring change: 01:30 EST, then 03:00 EDT (02:00 never happened).
        assert!(
            text.contains("2021-03-14 01:30:00.000-05:00,")
                && text.contains("2021-03-14 03:00:00.000-04:00,"),
            "{text}"
        );
        let bytes = std::fs::read(&good).unwrap();
        let hostile = String::from_utf8_lossy(&bytes).contains("Europe/London");
        assert!(hostile, "{version}: no Europe/London in the fixture");
        let renamed = replace_all(&bytes, b"Europe/London", b"Europe/Lond0n");
        let input = dir.path().join(format!("{version}_bad.pkl"));
        std::fs::write(&input, renamed).unwrap();
        let out = dir.path().join(format!("{version}_bad.csv"));
        let (code, err) = convert(&input, "csv", &out, "$").unwrap_err();
        assert_eq!(code, 2, "{err}");
        assert!(
            err.contains(r#"column "london_"#) && err.contains("Europe/Lond0n"),
            "{version}: {err}"
        );
        assert!(!out.exists());
    }
}

fn replace_all(haystack: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut i = 0;
    while i < haystack.len() {
        if haystack[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(haystack[i]);
            i += 1;
        }
    }
    out
}
