//! `pklinspect explain` from the command line: the JSON contract (SPEC §6), several files,
//! errors with offsets, exit codes and colour.

mod common;

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;

fn pklinspect() -> Command {
    Command::cargo_bin("pklinspect").unwrap()
}

fn json_of(args: &[&str]) -> Value {
    let out = pklinspect().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn json_follows_the_contract() {
    let file = common::fixture("main/np2_data_wrapper_p4.pkl");
    let doc = json_of(&["explain", "--format", "json", &file]);
    assert_eq!(doc["schema"], "pklinspect.explain/1");
    assert_eq!(doc["file"], file.as_str());
    assert_eq!(doc["container"], "pickle");
    assert_eq!(doc["verdict"], "non-portable");
    let pickle = &doc["pickles"][0];
    assert_eq!(pickle["offset"], 0);
    assert_eq!(pickle["protocol"], 4);
    assert!(pickle["length"].as_u64().unwrap() > 0);
    let import = pickle["imports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "DataWrapper")
        .unwrap();
    assert_eq!(import["module"], "__main__");
    assert_eq!(import["category"], "user-defined");
    assert_eq!(import["paths"], serde_json::json!(["$"]));
    assert!(import["offset"].is_u64() && import["reason"].is_string());
    let array = pickle["arrays"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["path"] == "$.data")
        .unwrap();
    for key in ["dtype", "shape", "fortran_order", "nbytes", "offset"] {
        assert!(array.get(key).is_some(), "array lacks {key}: {array}");
    }
    let finding = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "user-defined")
        .unwrap();
    assert_eq!(finding["severity"], "error");
    assert_eq!(finding["path"], "$");
    assert_eq!(finding["offset"], import["offset"]);
    assert!(finding["message"].is_string());
}

#[test]
fn structured_dtypes_are_descr_lists_and_out_of_band_offsets_null() {
    let doc = json_of(&[
        "explain",
        "--format",
        "json",
        &common::fixture("numpy2/structured_p4.pkl"),
    ]);
    assert!(doc["pickles"][0]["arrays"][0]["dtype"].is_array());
    let doc = json_of(&[
        "explain",
        "--format",
        "json",
        &common::fixture("numpy2/float64_2d_p5_oob.pkl"),
    ]);
    let array = &doc["pickles"][0]["arrays"][0];
    assert!(array["offset"].is_null());
    assert_eq!(array["extractable"], false);
}

#[test]
fn npz_plain_members_are_top_level_arrays_named_by_member() {
    let doc = json_of(&[
        "explain",
        "--format",
        "json",
        &common::fixture("numpy2/two_arrays.npz"),
    ]);
    assert_eq!(doc["container"], "npz");
    let paths: Vec<&str> = doc["arrays"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["$[\"ints\"]", "$[\"floats\"]"]);
}

#[test]
fn several_files_give_a_json_array_in_order() {
    let a = common::fixture("plain/all_p2.pkl");
    let b = common::fixture("hostile/os_system_p2.pkl");
    let doc = json_of(&["explain", "--format", "json", &a, &b]);
    let docs = doc.as_array().unwrap();
    assert_eq!(docs.len(), 2);
    assert_eq!(docs[0]["verdict"], "portable");
    assert_eq!(docs[1]["verdict"], "dangerous");
}

#[test]
fn a_malformed_file_is_an_error_with_offset_and_exit_two_others_still_explained() {
    let good = common::fixture("plain/all_p2.pkl");
    let bad = common::fixture("malformed/truncated_binint.pkl");
    let out = pklinspect()
        .args(["explain", "--format", "json", &good, &bad])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc[0]["verdict"], "portable");
    assert!(doc[1]["error"]["offset"].is_u64());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("truncated_binint.pkl") && stderr.contains("offset"),
        "{stderr}"
    );
}

#[test]
fn text_names_the_verdict_first_and_has_no_colour_when_piped() {
    pklinspect()
        .args([
            "explain",
            &common::fixture("keras/np2_timeseries_generator_p4.pkl"),
        ])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("needs-libraries")
                .and(predicate::str::contains(
                    "keras_preprocessing.sequence.TimeseriesGenerator",
                ))
                .and(predicate::str::contains("length=10"))
                .and(predicate::str::contains("data → $.data (100, 1) <i8"))
                .and(predicate::str::contains("--to npy -o arrays/"))
                .and(predicate::str::contains("\u{1b}[").not()),
        );
    pklinspect()
        .args([
            "explain",
            "--color",
            "always",
            &common::fixture("hostile/os_system_p2.pkl"),
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("\u{1b}[").and(predicate::str::contains("dangerous")));
}

#[test]
fn explain_reads_standard_input() {
    let bytes = std::fs::read(common::fixture("hostile/os_system_p4.pkl")).unwrap();
    pklinspect()
        .args(["explain", "-"])
        .write_stdin(bytes)
        .assert()
        .success()
        .stdout(predicate::str::contains("<stdin>: dangerous"));
}

#[test]
fn compressed_and_torch_files_are_recognised_by_content() {
    let doc = json_of(&[
        "explain",
        "--format",
        "json",
        &common::fixture("compressed/xz_payload.pkl"),
    ]);
    assert_eq!(doc["container"], "xz");
    let doc = json_of(&[
        "explain",
        "--format",
        "json",
        &common::fixture("torch/state_dict.pt"),
    ]);
    assert_eq!(doc["container"], "torch-zip");
    assert!(doc["pickles"][0]["member"]
        .as_str()
        .unwrap()
        .ends_with("/data.pkl"));
}

#[test]
fn every_limit_names_the_flag_that_raises_it_and_the_flag_works() {
    // A memo bomb-like stream of 2,000 distinct objects against --max-nodes 100.
    let mut p = vec![0x80, 2, b']', b'('];
    for i in 0..2000u32 {
        p.push(b'J');
        p.extend_from_slice(&(i as i32 + 1000).to_le_bytes());
    }
    p.extend_from_slice(b"e.");
    let f = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(f.path(), &p).unwrap();
    let name = f.path().to_string_lossy().into_owned();
    pklinspect()
        .args(["explain", "--max-nodes", "100", &name])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--max-nodes"));
    pklinspect()
        .args(["explain", "--max-nodes", "100000", &name])
        .assert()
        .success();
    // Nesting and decompression limits.
    let deep = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        deep.path(),
        [&[0x80u8, 2][..], &[b'('; 50][..], b"N."].concat(),
    )
    .unwrap();
    pklinspect()
        .args(["explain", "--max-depth", "10"])
        .arg(deep.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--max-depth"));
    pklinspect()
        .args([
            "explain",
            "--max-decompressed",
            "100",
            &common::fixture("compressed/gzip_payload.pkl"),
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--max-decompressed"));
}

/// A stream that breaks part-way: the headline says it does not load and where it stops,
/// beside the verdict of what was read, and the advice is to get a whole copy (not to make
/// it portable). Code that ran before the break keeps the plain `dangerous` headline.
#[test]
fn a_stream_that_breaks_part_way_says_it_does_not_load() {
    // PROTO 4, [ numpy.dtype, 1 … and the bytes end before STOP.
    let cut = b"\x80\x04]\x94(\x8c\x05numpy\x94\x8c\x05dtype\x94\x93K\x01".to_vec();
    let out = pklinspect()
        .args(["explain", "-"])
        .write_stdin(cut)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with(
            "<stdin>: portable as far as it reads — does not load: the loader stops at offset 24"
        ),
        "{text}"
    );
    assert!(text.contains("Get a complete copy"), "{text}");
    assert!(!text.contains("To make this portable"), "{text}");

    // GLOBAL posix system, a call, then a byte that is no opcode.
    let payload = b"\x80\x02cposix\nsystem\nX\x02\x00\x00\x00id\x85R0\xff".to_vec();
    let out = pklinspect()
        .args(["explain", "-"])
        .write_stdin(payload)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("<stdin>: dangerous — runs code when loaded"),
        "{text}"
    );
}

/// A pickled dict of config, history and labels, as a person would write one.
const CONFIG_HISTORY_LABELS: &str = r#"
import pickle, sys
data = {
    "config": {"lr": 0.001, "layers": [64, 128, 256], "name": "run-7"},
    "history": [0.9 - i / 100 for i in range(100)],
    "labels": ["cat", "dog", "bird"],
}
sys.stdout.buffer.write(pickle.dumps(data, protocol=4))
"#;

fn config_history_labels() -> Option<Vec<u8>> {
    let python = common::python3()?;
    Some(common::run_python(python, CONFIG_HISTORY_LABELS, &[]).stdout)
}

#[test]
fn explain_previews_plain_data() {
    let Some(bytes) = config_history_labels() else {
        return;
    };
    let out = pklinspect()
        .args(["explain", "-"])
        .write_stdin(bytes.clone())
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for line in [
        "Contents",
        "  $  dict, 3 keys",
        "    [\"config\"]  dict, 3 keys",
        "      [\"lr\"]  float: 0.001",
        "      [\"layers\"]  list, 3 items: [64, 128, 256]",
        "      [\"name\"]  str, 5 chars: 'run-7'",
        "    [\"history\"]  list, 100 items: [0.9, 0.89, 0.88,",
        "    [\"labels\"]  list, 3 items: ['cat', 'dog', 'bird']",
    ] {
        assert!(text.contains(line), "no {line:?} in\n{text}");
    }
    // Bounded: no line of the preview is longer than the width allows.
    let longest = text.lines().map(|l| l.chars().count()).max().unwrap_or(0);
    assert!(longest < 160, "{text}");
    // --depth 0: the root's line only.
    let out = pklinspect()
        .args(["explain", "--depth", "0", "-"])
        .write_stdin(bytes.clone())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("  $  dict, 3 keys: {…}"), "{text}");
    assert!(!text.contains("[\"config\"]"), "{text}");
    // The JSON document carries the same lines.
    let out = pklinspect()
        .args(["explain", "--format", "json", "-"])
        .write_stdin(bytes)
        .output()
        .unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let lines = doc["preview"]["lines"].as_array().unwrap();
    assert_eq!(lines[0]["path"], "$");
    assert_eq!(lines[0]["type"], "dict");
    assert_eq!(lines[0]["len"], 3);
    assert!(lines
        .iter()
        .any(|l| l["path"] == "$[\"config\"][\"lr\"]" && l["value"] == "0.001"));
}

#[test]
fn the_preview_is_bounded_and_names_recursion() {
    // A list that contains itself, and a dict of 1,000 keys: bounded lines, "… N more".
    let mut bytes = b"\x80\x04]\x94h\x00a".to_vec(); // l = []; l.append(l)
    bytes.extend_from_slice(b".");
    let out = pklinspect()
        .args(["explain", "--depth", "50", "-"])
        .write_stdin(bytes)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("recursive reference"), "{text}");
    let mut many = b"\x80\x04}\x94(".to_vec();
    for i in 0..1000u16 {
        many.push(b'M');
        many.extend_from_slice(&i.to_le_bytes());
        many.push(b'N');
    }
    many.extend_from_slice(b"u.");
    let out = pklinspect()
        .args(["explain", "-"])
        .write_stdin(many)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("  $  dict, 1,000 keys"), "{text}");
    assert!(text.contains("… 992 more"), "{text}");
    assert!(text.lines().count() < 40, "{text}");
}

#[test]
fn a_code_exec_call_shows_its_arguments_in_text() {
    let out = pklinspect()
        .args(["explain", &common::fixture("hostile/os_system_p4.pkl")])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("posix.system('echo pwned')"), "{text}");
}

#[test]
fn advice_names_the_command_that_gets_the_data_out() {
    let file = common::fixture("numpy2/float64_2d_p4.pkl");
    let out = pklinspect().args(["explain", &file]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!(
            "pklinspect extract {file} --to npz -o float64_2d_p4.npz"
        )),
        "{text}"
    );
    let file = common::fixture("hostile/joblib_with_system.joblib");
    let out = pklinspect().args(["explain", &file]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Do not load this file"), "{text}");
    assert!(
        text.contains(&format!("pklinspect extract {file} --to npz")),
        "{text}"
    );
}

fn tf_data(name: &str) -> String {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/tf")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

#[test]
fn a_tensorflow_tensor_names_its_array_and_the_extract_command() {
    for rel in [
        "runtime/tf_eager_tensor_p2.pkl",
        "runtime/tf_eager_tensor_p4.pkl",
    ] {
        let file = common::fixture(rel);
        let out = pklinspect().args(["explain", &file]).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(!text.contains("same version"), "{text}");
        assert!(text.contains("rebuilt from the numpy array"), "{text}");
        assert!(text.contains("pklinspect extract"), "{text}");
        // extract writes the array.
        let dir = tempfile::tempdir().unwrap();
        let npz = dir.path().join("t.npz");
        pklinspect()
            .args(["extract", &file, "--to", "npz", "-o"])
            .arg(&npz)
            .assert()
            .success();
        assert!(npz.exists());
    }
}

#[test]
fn a_tensorflow_variable_is_judged_by_what_its_partial_wraps() {
    // functools.partial(ResourceVariable, name=…, dtype=as_dtype('float32'), …)(array):
    // TensorFlow's own route, made with stand-in modules (tests/data/tf/make_tf_variable.py).
    for name in ["tf_variable_p2.pkl", "tf_variable_p4.pkl"] {
        let doc = json_of(&["explain", "--format", "json", &tf_data(name)]);
        assert_eq!(doc["verdict"], "non-portable", "{name}: {doc}");
        let findings = doc["findings"].as_array().unwrap();
        assert!(
            findings
                .iter()
                .all(|f| f["rule"] != "unvetted-call" && f["rule"] != "code-exec"),
            "{name}: {findings:?}"
        );
        assert_eq!(
            doc["arrays"].as_array().map_or(0, Vec::len)
                + doc["pickles"][0]["arrays"].as_array().map_or(0, Vec::len),
            1,
            "{name}"
        );
    }
}
