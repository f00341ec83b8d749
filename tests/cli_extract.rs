//! `pklinspect extract` from the command line: outputs, refusals, atomicity, hostile names,
//! npz and JSON outputs, and interop with Python's zipfile and Rust's ndarray-npy.

mod common;

use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;

fn pklinspect() -> Command {
    Command::cargo_bin("pklinspect").unwrap()
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn npy_output_names_files_after_paths_with_an_index() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("arrays");
    pklinspect()
        .args([
            "extract",
            &common::fixture("keras/np2_timeseries_generator_p4.pkl"),
            "--to",
            "npy",
            "-o",
        ])
        .arg(&dir)
        .assert()
        .success()
        // One summary line, and nothing else (no progress bar off a terminal).
        .stderr(
            predicates::str::is_match(r"^wrote 2 arrays, 1\.56 KiB to \S+ in [0-9.]+ s\n$")
                .unwrap(),
        );
    assert_eq!(listing(&dir), ["data.npy", "index.json", "targets.npy"]);
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    assert_eq!(index["schema"], "pklinspect.extract/1");
    assert_eq!(index["arrays"][0]["path"], "$.data");
    assert_eq!(index["arrays"][0]["dtype"], "<i8");
    assert_eq!(index["arrays"][0]["shape"], serde_json::json!([100, 1]));
    assert_eq!(index["skipped"], serde_json::json!([]));
}

#[test]
fn extracted_arrays_read_back_with_ndarray_npy() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("a");
    pklinspect()
        .args([
            "extract",
            &common::fixture("keras/np2_timeseries_generator_p4.pkl"),
            "--to",
            "npy",
            "-o",
        ])
        .arg(&dir)
        .assert()
        .success();
    let data: ndarray::Array2<i64> = ndarray_npy::read_npy(dir.join("data.npy")).unwrap();
    assert_eq!(data.shape(), [100, 1]);
    assert_eq!(data[[42, 0]], 42);
    let targets: ndarray::Array1<f64> = ndarray_npy::read_npy(dir.join("targets.npy")).unwrap();
    assert_eq!(targets[3], 1.5);
    // A torch view (transposed) comes out in C order with the right values.
    let dir = out.path().join("t");
    pklinspect()
        .args([
            "extract",
            &common::fixture("torch/views.pt"),
            "--to",
            "npy",
            "-o",
        ])
        .arg(&dir)
        .assert()
        .success();
    let base: ndarray::Array2<f32> = ndarray_npy::read_npy(dir.join("base.npy")).unwrap();
    let transposed: ndarray::Array2<f32> =
        ndarray_npy::read_npy(dir.join("transposed.npy")).unwrap();
    assert_eq!(transposed, base.t());
}

#[test]
fn a_non_empty_folder_is_refused_unless_forced() {
    let out = tempfile::tempdir().unwrap();
    std::fs::write(out.path().join("keep.txt"), "mine").unwrap();
    let file = common::fixture("numpy2/float64_2d_p4.pkl");
    pklinspect()
        .args(["extract", &file, "--to", "npy", "-o"])
        .arg(out.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not empty").and(predicate::str::contains("--force")));
    assert_eq!(listing(out.path()), ["keep.txt"]);
    pklinspect()
        .args(["extract", &file, "--to", "npy", "--force", "-o"])
        .arg(out.path())
        .assert()
        .success();
    assert_eq!(listing(out.path()), ["index.json", "keep.txt", "root.npy"]);
}

#[test]
fn output_errors_name_the_file_and_no_offset_in_the_input() {
    let out = tempfile::tempdir().unwrap();
    let file = common::fixture("numpy2/float64_2d_p4.pkl");
    let taken = out.path().join("taken.npz");
    std::fs::write(&taken, "mine").unwrap();
    pklinspect()
        .args(["extract", &file, "--to", "npz", "-o"])
        .arg(&taken)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("exists").and(predicate::str::contains("offset").not()));
    // A folder that cannot be created (its parent is a file): the operating system's error.
    pklinspect()
        .args(["extract", &file, "--to", "npy", "-o"])
        .arg(taken.join("arrays"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cannot").and(predicate::str::contains("offset").not()));
    assert_eq!(std::fs::read_to_string(&taken).unwrap(), "mine");
}

#[test]
fn malformed_input_leaves_nothing_behind() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("never");
    pklinspect()
        .args([
            "extract",
            &common::fixture("malformed/truncated_numpy_stream.pkl"),
            "--to",
            "npy",
            "-o",
        ])
        .arg(&dir)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("offset"));
    assert!(!dir.exists());
    let npz = out.path().join("x.npz");
    pklinspect()
        .args([
            "extract",
            &common::fixture("malformed/truncated_binint.pkl"),
            "--to",
            "npz",
            "-o",
        ])
        .arg(&npz)
        .assert()
        .code(2);
    assert_eq!(listing(out.path()), Vec::<String>::new());
}

#[test]
fn max_bytes_stops_before_writing_and_leaves_nothing() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("a");
    pklinspect()
        .args([
            "extract",
            &common::fixture("numpy2/all_dtypes_p4.pkl"),
            "--to",
            "npy",
            "--max-bytes",
            "100",
            "-o",
        ])
        .arg(&dir)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--max-bytes"));
    assert!(!dir.exists());
}

#[test]
fn hostile_paths_cannot_name_files_outside_the_folder() {
    // {"../../evil": array, "/abs": array, "..": array}, as numpy 2 pickles them (protocol 2),
    // built from the float64 fixture's array reduction.
    let array = std::fs::read(common::fixtures_dir().join("numpy2/float64_2d_p2.pkl")).unwrap();
    // The fixture is a bare array pickle: reuse its body (without PROTO and STOP) three times.
    let body = &array[2..array.len() - 1];
    let mut p = b"\x80\x02}(".to_vec();
    for key in ["../../evil", "/abs/path", ".."] {
        p.push(b'X');
        p.extend_from_slice(&(key.len() as u32).to_le_bytes());
        p.extend_from_slice(key.as_bytes());
        p.extend_from_slice(body);
    }
    p.extend_from_slice(b"u.");
    let out = tempfile::tempdir().unwrap();
    let input = out.path().join("hostile.pkl");
    std::fs::write(&input, &p).unwrap();
    let dir = out.path().join("arrays");
    pklinspect()
        .arg("extract")
        .arg(&input)
        .args(["--to", "npy", "-o"])
        .arg(&dir)
        .assert()
        .success();
    let names = listing(&dir);
    assert_eq!(names.len(), 4, "{names:?}");
    for name in &names {
        assert!(
            !name.contains("..") && !name.starts_with('.') && !name.contains('/'),
            "{name}"
        );
    }
    assert_eq!(listing(out.path()), ["arrays", "hostile.pkl"]);
}

#[test]
fn npz_members_are_the_same_npy_files_and_python_reads_the_zip() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("a");
    let npz = out.path().join("all.npz");
    let file = common::fixture("numpy1/all_dtypes_p2.pkl");
    pklinspect()
        .args(["extract", &file, "--to", "npy", "-o"])
        .arg(&dir)
        .assert()
        .success();
    for compress in [false, true] {
        let mut cmd = pklinspect();
        cmd.args(["extract", &file, "--to", "npz", "--force", "-o"])
            .arg(&npz);
        if compress {
            cmd.arg("--compress");
        }
        cmd.assert().success();
        let bytes = std::fs::read(&npz).unwrap();
        let members = pklinspect::container::zip_members(&bytes).unwrap();
        let mut checked = 0;
        for m in &members {
            let data = pklinspect::container::member_bytes(&bytes, m, u64::MAX).unwrap();
            let separate = std::fs::read(dir.join(&m.name)).unwrap();
            assert!(
                *data == separate[..],
                "member {} differs from the .npy written alone",
                m.name
            );
            checked += 1;
        }
        assert!(checked > 20);
        if let Some(mut python) = common::python3() {
            let script = "import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); assert z.testzip() is None; print(len(z.namelist()))";
            let out = python.arg("-c").arg(script).arg(&npz).output().unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(
                String::from_utf8_lossy(&out.stdout).trim(),
                members.len().to_string()
            );
        }
    }
}

#[test]
fn bfloat16_is_widened_by_default_or_kept_as_raw_bits() {
    let out = tempfile::tempdir().unwrap();
    for (mode, dtype) in [("f4", "<f4"), ("u2", "<u2")] {
        let dir = out.path().join(mode);
        pklinspect()
            .args([
                "extract",
                &common::fixture("torch/tensors.pt"),
                "--to",
                "npy",
                "--bfloat16",
                mode,
                "-o",
            ])
            .arg(&dir)
            .assert()
            .success();
        let index: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
        let entry = index["arrays"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["path"] == "$[\"bfloat16\"]")
            .unwrap();
        assert_eq!(entry["dtype"], dtype);
        assert_eq!(entry["source_dtype"], "bfloat16");
    }
    let f4: ndarray::Array1<f32> =
        ndarray_npy::read_npy(out.path().join("f4/bfloat16.npy")).unwrap();
    assert!(f4.iter().all(|x| x.is_finite()));
}

#[test]
fn json_goes_to_stdout_or_a_file_with_arrays_beside_it() {
    pklinspect()
        .args([
            "extract",
            &common::fixture("main/np2_data_wrapper_p4.pkl"),
            "--to",
            "json",
        ])
        .assert()
        .success()
        .stdout(predicate::str::starts_with(
            r#"{"$object":"__main__.DataWrapper""#,
        ));
    let out = tempfile::tempdir().unwrap();
    let json = out.path().join("wrapper.json");
    pklinspect()
        .args([
            "extract",
            &common::fixture("main/np2_data_wrapper_p4.pkl"),
            "--to",
            "json",
            "--arrays",
            "npy",
            "-o",
        ])
        .arg(&json)
        .assert()
        .success();
    assert_eq!(
        listing(out.path()),
        ["wrapper.data.npy", "wrapper.json", "wrapper.labels.npy"]
    );
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(doc["state"]["data"]["$array"]["file"], "wrapper.data.npy");
    // --arrays npy needs a file to write beside.
    pklinspect()
        .args([
            "extract",
            &common::fixture("main/np2_data_wrapper_p4.pkl"),
            "--to",
            "json",
            "--arrays",
            "npy",
        ])
        .assert()
        .code(2);
}

#[test]
fn a_large_array_is_written_whole_with_numpys_header() {
    // A 64 MiB float64 array in a sparse file, written through the chunked path. (Its memory
    // use is measured by scripts/bench_extract.sh, not here: timing and memory figures are
    // not test assertions.)
    let out = tempfile::tempdir().unwrap();
    let n: u64 = 8 << 20;
    let mut head = b"\x80\x04\x8c\x16numpy._core.multiarray\x94\x8c\x0c_reconstruct\x94\x93\x94\x8c\x05numpy\x94\x8c\x07ndarray\x94\x93\x94K\x00\x85\x94C\x01b\x94\x87\x94R\x94(K\x01\x8a\x08".to_vec();
    head.extend_from_slice(&n.to_le_bytes());
    head.extend_from_slice(b"\x85\x94h\x03\x8c\x05dtype\x94\x93\x94\x8c\x02f8\x94\x89\x88\x87\x94R\x94(K\x03\x8c\x01<\x94NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00t\x94b\x89\x8e");
    head.extend_from_slice(&(n * 8).to_le_bytes());
    let input = out.path().join("big.pkl");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&input).unwrap();
        f.write_all(&head).unwrap();
        f.set_len(head.len() as u64 + n * 8).unwrap();
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&input)
            .unwrap();
        f.write_all(b"\x94t\x94b.").unwrap();
    }
    let dir = out.path().join("a");
    pklinspect()
        .arg("extract")
        .arg(&input)
        .args(["--to", "npy", "-o"])
        .arg(&dir)
        .assert()
        .success();
    assert_eq!(
        std::fs::metadata(dir.join("root.npy")).unwrap().len(),
        128 + n * 8
    );
}

#[test]
fn json_output_is_deterministic() {
    for rel in [
        "sklearn/np2_pipeline_p4.pkl",
        "plain/recursive_p4.pkl",
        "torch/module.pt",
    ] {
        let run = || {
            pklinspect()
                .args(["extract", &common::fixture(rel), "--to", "json"])
                .output()
                .unwrap()
                .stdout
        };
        let first = run();
        assert!(!first.is_empty(), "{rel}");
        assert!(first == run(), "{rel}: two runs differ");
        serde_json::from_slice::<serde_json::Value>(&first).unwrap();
    }
}

#[test]
fn a_big_endian_torch_archive_extracts_the_same_values() {
    // Rebuild tensors.pt as a big-endian machine would have written it: every storage's
    // elements byte-swapped and `byteorder` saying "big". torch.load gives native values.
    use std::io::{Read, Write};
    let original = std::fs::read(common::fixture("torch/state_dict.pt")).unwrap();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(&original)).unwrap();
    let out = tempfile::tempdir().unwrap();
    let big = out.path().join("big.pt");
    let mut writer = zip::ZipWriter::new(std::fs::File::create(&big).unwrap());
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for i in 0..archive.len() {
        let mut member = archive.by_index(i).unwrap();
        let name = member.name().unwrap().to_string();
        let mut data = Vec::new();
        member.read_to_end(&mut data).unwrap();
        if name.ends_with("/byteorder") {
            data = b"big".to_vec();
        } else if name.contains("/data/") {
            // state_dict.pt holds float32 storages except num_batches_tracked (int64).
            let width = if data.len() == 8 { 8 } else { 4 };
            for element in data.chunks_mut(width) {
                element.reverse();
            }
        }
        writer.start_file(name, stored).unwrap();
        writer.write_all(&data).unwrap();
    }
    writer.finish().unwrap();
    let little_dir = out.path().join("little");
    let big_dir = out.path().join("bigout");
    pklinspect()
        .args([
            "extract",
            &common::fixture("torch/state_dict.pt"),
            "--to",
            "npy",
            "-o",
        ])
        .arg(&little_dir)
        .assert()
        .success();
    pklinspect()
        .arg("extract")
        .arg(&big)
        .args(["--to", "npy", "-o"])
        .arg(&big_dir)
        .assert()
        .success();
    let names = listing(&little_dir);
    assert_eq!(names, listing(&big_dir));
    for name in names.iter().filter(|n| n.ends_with(".npy")) {
        let a = std::fs::read(little_dir.join(name)).unwrap();
        let b = std::fs::read(big_dir.join(name)).unwrap();
        assert!(
            a == b,
            "{name} differs between the little- and big-endian archives"
        );
    }
}
