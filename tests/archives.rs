//! Archives and layouts the loaders open (issue 13): every one the loader opens, we open,
//! and every pickle inside is analysed, with findings naming the member.
//!
//! The archives are written here, by hand, following the writers' own code (torch's
//! `PyTorchStreamWriter`, in `common::torch_writer`) or by Python's standard library;
//! where a fixture written by the real tool exists, the hand-written bytes are checked
//! against it.

mod common;

use common::torch_writer::{torch_save, TorchZipWriter, STATE_DICT_PKL, STATE_DICT_STORAGE};
use pklinspect::classify::Verdict;
use pklinspect::container::{
    member_bytes, npy_header_bytes, sniff, torch_zip, zip_members, zip_members_all, ContainerKind,
    Descr,
};
use pklinspect::inspect::Options;
use pklinspect::report::Report;
use pklinspect::rules::Rule;

fn inspect(name: &str, bytes: &[u8]) -> Report {
    pklinspect::inspect(name, bytes, &Options::default()).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// `numpy.save` of an int8 array (the header as numpy writes it).
fn npy_i1(values: &[i8]) -> Vec<u8> {
    let mut npy = npy_header_bytes(&Descr::Str("|i1".into()), false, &[values.len() as u64]);
    npy.extend(values.iter().map(|&v| v as u8));
    npy
}

/// `pickle.dumps(R(), protocol=2)` where `R.__reduce__` returns `(posix.system, ("echo pwned",))`.
const EVIL: &[u8] = b"\x80\x02cposix\nsystem\nq\x00X\n\x00\x00\x00echo pwnedq\x01\x85q\x02Rq\x03.";

/// A zip with these members, stored (the writer's layout is torch's, which is a valid zip).
fn zip(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = TorchZipWriter::new("unused");
    for (name, data) in members {
        w.raw(name, data);
    }
    w.finish()
}

/// The members named by the code-exec findings of a report, sorted.
fn code_exec_members(report: &Report) -> Vec<String> {
    let mut members: Vec<String> = report
        .findings
        .iter()
        .filter(|f| f.rule == Rule::CodeExec)
        .map(|f| f.member.clone().unwrap_or_default())
        .collect();
    members.sort();
    members
}

// ---------------------------------------------------------------------------------------
// torch zip archives, as torch's writer lays them out

/// The hand-written writer is torch's: fed the records of each committed `torch.save`
/// fixture, it writes the same bytes.
#[test]
fn the_torch_writer_imitation_reproduces_real_torch_files() {
    let mut checked = 0;
    for file in common::fixture_files() {
        let bytes = std::fs::read(&file).unwrap();
        if sniff(&bytes) != ContainerKind::TorchZip {
            continue;
        }
        let members = zip_members(&bytes).unwrap();
        let mut w = TorchZipWriter::new("unused");
        for m in &members {
            w.raw(&m.name, &member_bytes(&bytes, m, 1 << 30).unwrap());
        }
        assert!(w.finish() == bytes, "{}", file.display());
        checked += 1;
    }
    assert!(checked >= 7, "only {checked} torch fixtures");
}

/// torch names the archive's folder after the file stem, so the first member's name,
/// `<stem>/data.pkl`, is 9 + stem bytes long. For a 21-character stem the data is aligned
/// without padding and torch writes an `FB` extra field with an empty payload; miniz (and
/// so `torch.load`) reads every one of these archives.
#[test]
fn torch_checkpoints_open_for_every_file_stem_length_from_1_to_64() {
    for len in 1..=64 {
        let stem: String = "abcdefghijklmnopqrstuvwxyz0123456789"
            .chars()
            .cycle()
            .take(len)
            .collect();
        let bytes = torch_save(&stem, STATE_DICT_PKL, &[("0", STATE_DICT_STORAGE)]);
        let name = format!("{stem}.pt");
        assert_eq!(sniff(&bytes), ContainerKind::TorchZip, "{name}");
        let report = inspect(&name, &bytes);
        assert_eq!(report.container, "torch-zip", "{name}");
        assert_eq!(report.verdict, Verdict::Portable, "{name}");
        let pickle = &report.pickles[0];
        assert_eq!(pickle.member.as_deref(), Some(&*format!("{stem}/data.pkl")));
        assert_eq!(pickle.arrays.len(), 1, "{name}");
        assert_eq!(pickle.arrays[0].dtype.str(), "<f4", "{name}");
        assert_eq!(pickle.arrays[0].shape, [2], "{name}");
        assert!(pickle.arrays[0].unavailable.is_none(), "{name}");
        let members = zip_members(&bytes).unwrap();
        let torch = torch_zip(&bytes, &members).unwrap();
        assert_eq!(torch.prefix, stem);
        for m in &members {
            assert_eq!(m.data_offset % 64, 0, "{name}: {}", m.name);
        }
    }
}

/// A code-exec payload cannot hide behind a file-name length.
#[test]
fn a_malicious_checkpoint_with_a_21_character_stem_is_found() {
    let evil = b"\x80\x02cposix\nsystem\nq\x00X\n\x00\x00\x00echo pwnedq\x01\x85q\x02Rq\x03.";
    let stem = "abcdefghijklmnopqrstu";
    assert_eq!(stem.len(), 21);
    let bytes = torch_save(stem, evil, &[]);
    let report = inspect("abcdefghijklmnopqrstu.pth", &bytes);
    assert_eq!(report.verdict, Verdict::Dangerous);
    let finding = &report.findings[0];
    assert_eq!(finding.rule, Rule::CodeExec);
    assert_eq!(
        finding.member.as_deref(),
        Some("abcdefghijklmnopqrstu/data.pkl")
    );
}

/// The same, with the files real `torch.save` wrote (tests/data/torch_stems/generate.py).
#[test]
fn real_torch_save_files_open_for_every_file_stem_length_from_1_to_64() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/torch_stems");
    let mut lengths = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "pt") {
            continue;
        }
        let stem = path.file_stem().unwrap().to_str().unwrap().to_owned();
        let bytes = std::fs::read(&path).unwrap();
        let report = inspect(&path.display().to_string(), &bytes);
        assert_eq!(report.container, "torch-zip", "{stem}");
        assert_eq!(report.verdict, Verdict::Portable, "{stem}");
        let pickle = &report.pickles[0];
        assert_eq!(pickle.member.as_deref(), Some(&*format!("{stem}/data.pkl")));
        assert_eq!(pickle.arrays[0].path, "$[\"w\"]", "{stem}");
        assert_eq!(pickle.arrays[0].shape, [2], "{stem}");
        assert!(pickle.arrays[0].unavailable.is_none(), "{stem}");
        lengths.push(stem.len());
    }
    lengths.sort_unstable();
    assert_eq!(lengths, (1..=64).collect::<Vec<_>>());
}

// ---------------------------------------------------------------------------------------
// torch member lookup, as torch's reader does it

/// miniz's `mz_zip_reader_locate_file` (torch's `getRecordID`) ignores ASCII case: torch.load
/// runs `archive/DATA.PKL` (checked with torch 2.15).
#[test]
fn a_torch_archive_whose_data_pkl_differs_only_in_case_is_read_as_torch_reads_it() {
    let mut w = TorchZipWriter::new("archive");
    w.record("DATA.PKL", EVIL).record("version", b"3\n");
    let bytes = w.finish();
    assert_eq!(sniff(&bytes), ContainerKind::TorchZip);
    let report = inspect("case.pt", &bytes);
    assert_eq!(report.container, "torch-zip");
    assert_eq!(report.verdict, Verdict::Dangerous);
    assert_eq!(code_exec_members(&report), ["archive/DATA.PKL"]);
    let members = zip_members(&bytes).unwrap();
    assert_eq!(
        torch_zip(&bytes, &members).unwrap().data_pkl.name,
        "archive/DATA.PKL"
    );
}

/// torch refuses `data.pkl` at the root ("file in archive is not in a subdirectory"), but
/// another reader may run it: it is analysed as a member of a plain zip.
#[test]
fn a_zip_whose_data_pkl_sits_at_the_root_has_its_pickle_analysed() {
    let bytes = zip(&[("data.pkl", EVIL), ("version", b"3\n")]);
    let report = inspect("root.pt", &bytes);
    assert_eq!(report.container, "zip");
    assert_eq!(report.verdict, Verdict::Dangerous);
    assert_eq!(code_exec_members(&report), ["data.pkl"]);
}

/// A torch archive torch would refuse (its pickle outside the first member's folder) is
/// not an error: each member is analysed.
#[test]
fn a_torch_like_archive_torch_refuses_still_has_every_pickle_analysed() {
    let bytes = zip(&[("a/version", b"3\n"), ("b/data.pkl", EVIL)]);
    let report = inspect("odd.pt", &bytes);
    assert_eq!(report.container, "zip");
    assert_eq!(code_exec_members(&report), ["b/data.pkl"]);
}

// ---------------------------------------------------------------------------------------
// npz edge cases, resolved as numpy.load resolves them

/// Python's zipfile (so `numpy.load`) reads the last copy of a duplicated name; other tools
/// the first. Every copy is analysed and the duplication reported.
#[test]
fn an_npz_with_a_duplicated_member_name_has_every_copy_analysed() {
    let mut hidden = npy_header_bytes(&Descr::Str("|O".into()), false, &[1]);
    hidden.extend_from_slice(EVIL);
    let plain = npy_i1(&[1, 2, 3]);
    let bytes = zip(&[("x.npy", &hidden), ("x.npy", &plain)]);
    let report = inspect("dup.npz", &bytes);
    assert_eq!(report.container, "npz");
    assert_eq!(report.verdict, Verdict::Dangerous);
    assert_eq!(code_exec_members(&report), ["x.npy"]);
    let dup: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.rule == Rule::DuplicateMember)
        .collect();
    assert_eq!(dup.len(), 1, "{:?}", report.findings);
    assert_eq!(dup[0].member.as_deref(), Some("x.npy"));
    // The copy numpy.load returns is listed under numpy's key.
    assert_eq!(report.arrays.len(), 1);
    assert_eq!(report.arrays[0].path, "$[\"x\"]");
    assert_eq!(report.arrays[0].shape, [3]);
}

/// `NpzFile.__getitem__` returns a member without the `.npy` magic as raw bytes: a text
/// member is not an error, and a pickle member is analysed all the same (it is a pickle
/// some code will load).
#[test]
fn an_npz_with_members_that_are_not_npy_is_opened() {
    let bytes = zip(&[
        ("x.npy", &npy_i1(&[7])),
        ("README.txt", b"version: 1\nsaved by hand\n"),
        ("extra/model.pkl", EVIL),
    ]);
    let report = inspect("mixed.npz", &bytes);
    assert_eq!(report.verdict, Verdict::Dangerous);
    assert_eq!(code_exec_members(&report), ["extra/model.pkl"]);
    assert_eq!(report.arrays[0].path, "$[\"x\"]");
}

/// numpy's `descr_to_dtype` reads a `(base, shape)` descr as a subarray dtype; with an
/// object base the array is an object array, so `read_array` unpickles what follows.
#[test]
fn an_npy_whose_descr_is_an_object_subarray_is_an_object_array_stream() {
    let header = b"{'descr': ('|O', (1,)), 'fortran_order': False, 'shape': (2,), }";
    let mut npy = b"\x93NUMPY\x01\x00".to_vec();
    let padded = (10 + header.len() + 1).div_ceil(64) * 64 - 10;
    npy.extend_from_slice(&(padded as u16).to_le_bytes());
    npy.extend_from_slice(header);
    npy.resize(10 + padded - 1, b' ');
    npy.push(b'\n');
    npy.extend_from_slice(EVIL);
    let report = inspect("sub.npy", &npy);
    assert_eq!(report.verdict, Verdict::Dangerous);
    let header = pklinspect::container::parse_npy_header(&npy).unwrap();
    assert_eq!(
        header.shape,
        [2, 1],
        "the subarray shape is appended, as numpy does"
    );
    assert!(header.descr.has_object());
}

// ---------------------------------------------------------------------------------------
// any other zip: every member sniffed and analysed

/// Findings name the member; nested archives are opened (`outer:inner` names).
#[test]
fn a_zip_of_pickles_has_every_member_analysed_and_named() {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, EVIL).unwrap();
    let gz = gz.finish().unwrap();
    let inner = zip(&[("deep/payload.pkl", EVIL)]);
    let bytes = zip(&[
        ("config.json", b"{\"lr\": 0.1}"),
        ("inner/model.pkl", EVIL),
        ("inner/compressed.pkl.gz", &gz),
        ("nested.zip", &inner),
        ("weights.npy", &npy_i1(&[1])),
    ]);
    let report = inspect("archive.zip", &bytes);
    assert_eq!(report.container, "zip");
    assert_eq!(
        code_exec_members(&report),
        [
            "inner/compressed.pkl.gz",
            "inner/model.pkl",
            "nested.zip:deep/payload.pkl"
        ]
    );
    assert_eq!(report.arrays[0].member.as_deref(), Some("weights.npy"));
}

/// Nested archives are opened three levels deep; a fourth is an error, not a pass.
#[test]
fn archives_nested_deeper_than_three_levels_are_refused() {
    let level3 = zip(&[("p.pkl", EVIL)]);
    let level2 = zip(&[("c.zip", &level3)]);
    let level1 = zip(&[("b.zip", &level2)]);
    let report = inspect("a.zip", &level1);
    assert_eq!(code_exec_members(&report), ["b.zip:c.zip:p.pkl"]);
    let level0 = zip(&[("a.zip", &level1)]);
    let err = pklinspect::inspect("top.zip", &level0, &Options::default()).unwrap_err();
    assert!(err.message().contains("nested"), "{err}");
}

/// Zip-slip names are reported (and the member still analysed).
#[test]
fn zip_slip_member_names_are_findings() {
    let bytes = zip(&[
        ("../../evil.pkl", EVIL),
        ("/etc/cron.d/x", b"* * * * * root true\n"),
    ]);
    let report = inspect("slip.zip", &bytes);
    let slips: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.rule == Rule::UnsafeMemberName)
        .map(|f| f.member.clone().unwrap_or_default())
        .collect();
    assert_eq!(slips, ["../../evil.pkl", "/etc/cron.d/x"]);
    assert_eq!(code_exec_members(&report), ["../../evil.pkl"]);
}

/// A zip written by Python's zipfile, deflated (what picklescan's test corpus holds).
#[test]
fn a_deflated_zip_written_by_pythons_zipfile_is_analysed() {
    let Some(python) = common::python3() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("payload.zip");
    let script = r#"
import sys, zipfile
evil = b"\x80\x02cposix\nsystem\nq\x00X\n\x00\x00\x00echo pwnedq\x01\x85q\x02Rq\x03."
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("model/weights.pkl", evil)
    z.writestr("notes.txt", "hello")
"#;
    common::run_python(python, script, &[path.to_str().unwrap()]);
    let bytes = std::fs::read(&path).unwrap();
    let report = inspect("payload.zip", &bytes);
    assert_eq!(code_exec_members(&report), ["model/weights.pkl"]);
}

// ---------------------------------------------------------------------------------------
// tar, zstd, joblib's ZF, 7z

fn data_file(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/archives")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A tar archive with these members, written by the `tar` crate (ustar headers).
fn tar_of(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, data) in members {
        let mut header = tar::Header::new_ustar();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append_data(&mut header, name, *data).unwrap();
    }
    builder.into_inner().unwrap()
}

/// pandas `to_pickle` picks the compression from the name: every one it writes opens,
/// with the DataFrame's pickle inside (tests/data/archives/generate.py, pandas 3.1.1).
#[test]
fn pandas_to_pickle_files_open_with_every_compression() {
    for (file, container, compression) in [
        ("frame.pkl.zip", "zip", None),
        ("frame.pkl.tar", "tar", None),
        // A tar inside gzip: a tar, its members analysed, and the compressor named.
        ("frame.pkl.tar.gz", "tar", Some("gzip")),
        ("frame.pkl.zst", "zstd", None),
        ("frame.pkl.gz", "gzip", None),
        ("frame.pkl.bz2", "bz2", None),
        ("frame.pkl.xz", "xz", None),
    ] {
        let report = inspect(file, &data_file(file));
        assert_eq!(report.container, container, "{file}");
        assert_eq!(report.compression.as_deref(), compression, "{file}");
        assert_eq!(report.pickles.len(), 1, "{file}");
        let imports = &report.pickles[0].imports;
        assert!(
            imports.iter().any(|i| i.module.starts_with("pandas")),
            "{file}: {imports:?}"
        );
    }
}

/// torch's `_legacy_load` reads a tar with `sys_info`, `pickle`, `tensors` and `storages`
/// members, unpickling `storages` first: every member's pickle is analysed.
#[test]
fn a_torch_legacy_tar_checkpoint_has_every_member_analysed() {
    let bytes = tar_of(&[
        ("sys_info", b"\x80\x02}q\x00."),
        ("storages", EVIL),
        ("tensors", b"\x80\x02K\x00."),
        ("pickle", b"\x80\x02}q\x00."),
    ]);
    assert_eq!(sniff(&bytes), ContainerKind::Tar);
    let report = inspect("checkpoint.pth.tar", &bytes);
    assert_eq!(report.container, "tar");
    assert_eq!(report.pickles.len(), 4);
    assert_eq!(code_exec_members(&report), ["storages"]);
}

/// The members of a tar, by name, in archive order (Python's `tarfile` reads the same).
fn tar_members(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut archive = tar::Archive::new(bytes);
    archive
        .entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let name = e.path().unwrap().display().to_string();
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut e, &mut data).unwrap();
            (name, data)
        })
        .collect()
}

/// A legacy tar checkpoint as torch 0.3 wrote it (tests/data/archives/generate.py, read
/// back there by today's `torch.load`): every pickle torch reads is found, between the raw
/// storage bytes and tensor records, and nothing is taken for trailing data.
#[test]
fn a_real_legacy_tar_checkpoint_has_every_record_read_as_torch_reads_it() {
    let report = inspect("legacy.pth.tar", &data_file("legacy.pth.tar"));
    assert_eq!(report.container, "tar");
    let per_member = |name: &str| {
        report
            .pickles
            .iter()
            .filter(|p| p.member.as_deref() == Some(name))
            .count()
    };
    // Two tensors: storages = count, 2 records, views; tensors = count, 2 records.
    assert_eq!(per_member("storages"), 4);
    assert_eq!(per_member("tensors"), 3);
    assert_eq!(per_member("pickle"), 1);
    assert_eq!(per_member("sys_info"), 1);
    let rules: Vec<Rule> = report.findings.iter().map(|f| f.rule).collect();
    assert!(rules.is_empty(), "{:?}", report.findings);
    assert_eq!(report.verdict, Verdict::Portable);
}

/// torch unpickles every record of `storages` and `tensors`, also those after raw bytes:
/// a payload in the second record runs on `torch.load`, so it is `code-exec`, not a hidden
/// `unreachable-payload`.
#[test]
fn a_payload_in_a_later_record_of_a_legacy_tar_is_code_exec() {
    let real = tar_members(&data_file("legacy.pth.tar"));
    // (posix.system("echo"), "cpu", torch.FloatStorage): a storage record that runs code.
    let evil_storage: &[u8] = b"\x80\x02cposix\nsystem\nX\x04\x00\x00\x00echo\x85RX\x03\x00\x00\x00cpuctorch\nFloatStorage\n\x87.";
    let mut storages = b"\x80\x02K\x02.".to_vec();
    storages.extend_from_slice(b"\x80\x02K\x01X\x03\x00\x00\x00cpuctorch\nFloatStorage\n\x87.");
    storages.extend(2u64.to_le_bytes());
    storages.extend([0u8; 8]);
    storages.extend_from_slice(evil_storage);
    storages.extend(1u64.to_le_bytes());
    storages.extend([0u8; 4]);
    storages.extend_from_slice(b"\x80\x02]q\x00.");
    // (posix.system("echo"), 1, None) as the second tensor record.
    let mut tensors = b"\x80\x02K\x02.\x80\x02K\x00K\x01N\x87.".to_vec();
    tensors.extend(0i64.to_le_bytes());
    tensors.extend(0i64.to_le_bytes());
    tensors.extend_from_slice(b"\x80\x02cposix\nsystem\nX\x04\x00\x00\x00echo\x85RK\x01N\x87.");
    tensors.extend(1i64.to_le_bytes());
    tensors.extend([0u8; 24]);
    let mut members: Vec<(&str, &[u8])> = real
        .iter()
        .filter(|(name, _)| name != "storages" && name != "tensors")
        .map(|(name, data)| (name.as_str(), data.as_slice()))
        .collect();
    members.push(("tensors", &tensors));
    members.push(("storages", &storages));
    let report = inspect("checkpoint.pth.tar", &tar_of(&members));
    assert_eq!(code_exec_members(&report), ["storages", "tensors"]);
    let rules: Vec<Rule> = report.findings.iter().map(|f| f.rule).collect();
    assert!(!rules.contains(&Rule::UnreachablePayload), "{rules:?}");
    assert!(!rules.contains(&Rule::Malformed), "{rules:?}");
    assert_eq!(report.verdict, Verdict::Dangerous);

    // A record whose storage type is unknown: its size is too, so the walk cannot go on;
    // that is an error finding, not a silent stop.
    let mut storages = b"\x80\x02K\x02.".to_vec();
    storages.extend_from_slice(b"\x80\x02K\x01X\x03\x00\x00\x00cpucmypkg\nFloatStorage\n\x87.");
    storages.extend(2u64.to_le_bytes());
    storages.extend_from_slice(evil_storage);
    let members = [("storages", storages.as_slice())];
    let report = inspect("checkpoint.pth.tar", &tar_of(&members));
    let malformed: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.rule == Rule::Malformed)
        .collect();
    assert_eq!(malformed.len(), 1, "{:?}", report.findings);
    assert_eq!(malformed[0].member.as_deref(), Some("storages"));
    assert_eq!(malformed[0].offset, Some(5));
}

/// A NeMo-style model tar (Python's tarfile, gzip-compressed): a config, and a torch
/// checkpoint whose pickle is analysed while its storages are not taken for pickles.
#[test]
fn a_nemo_style_model_tar_has_its_checkpoint_analysed() {
    let Some(python) = common::python3() else {
        return;
    };
    let ckpt = torch_save("model_weights", EVIL, &[("0", b"\x80\x05\xff\xff")]);
    let dir = tempfile::tempdir().unwrap();
    let ckpt_path = dir.path().join("model_weights.ckpt");
    std::fs::write(&ckpt_path, &ckpt).unwrap();
    let path = dir.path().join("model.nemo");
    let script = r#"
import sys, tarfile, io
with tarfile.open(sys.argv[1], "w:gz") as t:
    t.add(sys.argv[2], arcname="./model_weights.ckpt")
    info = tarfile.TarInfo("./model_config.yaml")
    data = b"target: nemo.collections.asr.models.EncDecCTCModel\n"
    info.size = len(data)
    t.addfile(info, io.BytesIO(data))
"#;
    common::run_python(
        python,
        script,
        &[path.to_str().unwrap(), ckpt_path.to_str().unwrap()],
    );
    let report = inspect("model.nemo", &std::fs::read(&path).unwrap());
    assert_eq!(report.container, "tar");
    assert_eq!(report.compression.as_deref(), Some("gzip"));
    assert_eq!(
        code_exec_members(&report),
        ["./model_weights.ckpt:model_weights/data.pkl"]
    );
}

/// joblib < 0.10 wrote `ZF`, the length in hex left-justified in 19 characters, then a
/// zlib stream (`numpy_pickle_compat.write_zfile`); `read_zfile` still reads it.
#[test]
fn a_joblib_zfile_is_decompressed_and_analysed() {
    let mut zf = b"ZF".to_vec();
    zf.extend_from_slice(format!("{:<19}", format!("{:#x}", EVIL.len())).as_bytes());
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(3));
    std::io::Write::write_all(&mut z, EVIL).unwrap();
    zf.extend(z.finish().unwrap());
    assert_eq!(sniff(&zf), ContainerKind::JoblibZfile);
    let report = inspect("model.pkl", &zf);
    assert_eq!(report.container, "joblib-zfile");
    assert_eq!(report.verdict, Verdict::Dangerous);
    // A `.z` side file of a compressed joblib <= 0.9 dump: `ZF` around raw array bytes,
    // which joblib never unpickles: no pickle, no finding (it was a `malformed` error).
    let raw: Vec<u8> = [0.0f64, 1.0, 2.0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let mut side = b"ZF".to_vec();
    side.extend_from_slice(format!("{:<19}", format!("{:#x}", raw.len())).as_bytes());
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(3));
    std::io::Write::write_all(&mut z, &raw).unwrap();
    side.extend(z.finish().unwrap());
    let report = inspect("model.pkl_01.npy.z", &side);
    assert_eq!(report.container, "joblib-zfile");
    assert!(report.pickles.is_empty());
    assert!(report.findings.is_empty(), "{:?}", report.findings);
    // A header that lies about the length is refused, as joblib asserts.
    let mut lying = zf.clone();
    lying[4] = b'f';
    assert!(pklinspect::inspect("lying.pkl", &lying, &Options::default()).is_err());
}

/// Archives written by Python's own `zipfile` and `tarfile` (tests/data/archives/generate.py):
/// every pickle inside found and named, nested archives and protocol 0 included.
#[test]
fn archives_written_by_pythons_zipfile_and_tarfile_are_analysed() {
    let report = inspect("payload.zip", &data_file("payload.zip"));
    assert_eq!(report.container, "zip");
    assert_eq!(
        code_exec_members(&report),
        [
            "../../evil.pkl",
            "inner.zip:deep/evil.pkl",
            "model/weights.pkl"
        ]
    );
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.rule == Rule::UnsafeMemberName
                && f.member.as_deref() == Some("../../evil.pkl"))
    );
    let report = inspect("payload.tar", &data_file("payload.tar"));
    assert_eq!(report.container, "tar");
    assert_eq!(code_exec_members(&report), ["release/checkpoint.pth.tar"]);
}

/// joblib's legacy `ZF` file as the pinned joblib's own `write_zfile` writes it.
#[test]
fn a_zfile_written_by_joblibs_own_writer_is_analysed() {
    let bytes = data_file("legacy_zf.pkl");
    assert_eq!(sniff(&bytes), ContainerKind::JoblibZfile);
    let report = inspect("legacy_zf.pkl", &bytes);
    assert_eq!(report.container, "joblib-zfile");
    assert_eq!(report.verdict, Verdict::Dangerous);
}

/// A joblib dump of a numpy 2 `StringDType` array (written by the pinned joblib): its dtype
/// is read (as objects, which is how joblib stores it), not reported malformed.
#[test]
fn a_joblib_dump_of_a_stringdtype_array_is_read() {
    let report = inspect("stringdtype.joblib", &data_file("stringdtype.joblib"));
    assert_eq!(report.container, "joblib");
    assert!(
        report.findings.iter().all(|f| f.rule != Rule::Malformed),
        "{:?}",
        report.findings
    );
    let arrays: Vec<&str> = report
        .pickles
        .iter()
        .flat_map(|p| &p.arrays)
        .map(|a| a.path.as_str())
        .collect();
    assert_eq!(arrays, ["$[\"s\"]"]);
}

/// `wrapped.pkl` (an `NDArrayWrapper` naming `wrapped.pkl_01.npy`) with another side-file
/// name spliced in (its BINUNICODE length rewritten).
fn wrapper_naming(name: &str) -> Vec<u8> {
    let bytes = data_file("wrapped.pkl");
    let old = b"wrapped.pkl_01.npy";
    let at = bytes.windows(old.len()).position(|w| w == old).unwrap();
    let mut out = bytes[..at - 4].to_vec();
    out.extend((name.len() as u32).to_le_bytes());
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(&bytes[at + old.len()..]);
    out
}

/// joblib <= 0.9 loads an `NDArrayWrapper`'s side file with `np.load(allow_pickle=True)`:
/// `lint` and `explain` of the dump alone analyse the side file beside it (here an object
/// `.npy` whose pickle runs code), name it in the findings, refuse names that leave the
/// folder, and skip absent ones.
#[test]
fn an_old_joblib_dumps_side_files_are_analysed_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // The real dump and side file (tests/data/archives/generate.py, read back by joblib).
    std::fs::write(d.join("wrapped.pkl"), data_file("wrapped.pkl")).unwrap();
    let side = data_file("wrapped.pkl_01.npy");
    let header_len = side.iter().position(|&b| b == b'\n').unwrap() + 1;
    let mut evil_side = side[..header_len].to_vec();
    evil_side.extend_from_slice(EVIL);
    std::fs::write(d.join("wrapped.pkl_01.npy"), &evil_side).unwrap();
    let lint = |args: &[&str]| {
        let out = common::pklinspect()
            .current_dir(d)
            .args(["lint", "--no-config"])
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, text) = lint(&["wrapped.pkl"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains(&format!(
            "wrapped.pkl:wrapped.pkl_01.npy:{}: error[code-exec] posix.system",
            header_len + 2
        )),
        "{text}"
    );
    let out = common::pklinspect()
        .current_dir(d)
        .args(["explain", "--format", "json", "wrapped.pkl"])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["verdict"], "dangerous", "{json}");

    // A name outside the folder is reported and never opened (the payload there is not
    // analysed); an absent side file is no finding.
    std::fs::create_dir(d.join("sub")).unwrap();
    std::fs::write(
        d.join("sub/up.pkl"),
        wrapper_naming("../wrapped.pkl_01.npy"),
    )
    .unwrap();
    std::fs::write(d.join("sub/absent.pkl"), wrapper_naming("absent_01.npy")).unwrap();
    let (code, text) = lint(&["sub/up.pkl", "sub/absent.pkl"]);
    // The wrapper itself is code-exec (it makes joblib open a path the file chooses); the
    // side file outside the folder is named, not opened, and an absent one adds nothing.
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("sub/up.pkl:52: warning[unsafe-member-name] joblib side file"),
        "{text}"
    );
    for line in text.lines().filter(|l| l.contains("code-exec")) {
        assert!(line.contains("NDArrayWrapper"), "{text}");
    }
    assert!(!text.contains("absent_01.npy"), "{text}");
    assert!(!text.contains("absent.pkl:absent"), "{text}");
}

/// A 7z archive written by py7zr (tests/data/archives/generate.py): the pickle is found and
/// the text file is not taken for one.
#[test]
fn a_7z_archive_of_pickles_is_analysed() {
    let bytes = data_file("payload.7z");
    assert_eq!(sniff(&bytes), ContainerKind::SevenZ);
    let report = inspect("payload.7z", &bytes);
    assert_eq!(report.container, "7z");
    assert_eq!(code_exec_members(&report), ["model/evil.pkl"]);
}

/// Every central directory entry, duplicates included, as Python's `ZipFile.infolist()`
/// lists them: names, local header offsets and sizes.
#[test]
fn zip_members_all_lists_what_pythons_infolist_lists() {
    let Some(python) = common::python3() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let archives = [
        zip(&[("x.npy", &npy_i1(&[1])), ("x.npy", &npy_i1(&[2, 3]))]),
        zip(&[("../../evil.pkl", EVIL), ("/abs", b"a"), ("ok/b", b"")]),
        torch_save("abcdefghijklmnopqrstu", EVIL, &[("0", STATE_DICT_STORAGE)]),
    ];
    let mut paths = Vec::new();
    for (i, bytes) in archives.iter().enumerate() {
        let path = dir.path().join(format!("{i}.zip"));
        std::fs::write(&path, bytes).unwrap();
        paths.push(path.display().to_string());
    }
    let script = r#"
import json, sys, zipfile
print(json.dumps([[[zi.filename, zi.header_offset, zi.compress_size, zi.file_size]
                   for zi in zipfile.ZipFile(p).infolist()] for p in sys.argv[1:]]))
"#;
    let refs: Vec<&str> = paths.iter().map(String::as_str).collect();
    let output = common::run_python(python, script, &refs);
    let truth: Vec<Vec<(String, u64, u64, u64)>> = serde_json::from_slice(&output.stdout).unwrap();
    for (bytes, want) in archives.iter().zip(truth) {
        let got: Vec<(String, u64, u64, u64)> = zip_members_all(bytes, 100)
            .unwrap()
            .into_iter()
            .map(|m| (m.name, m.header_offset, m.compressed_size, m.size))
            .collect();
        assert_eq!(got, want);
    }
}

/// The issue as a user met it: `explain` failed on such a `.pt`, and `lint` skipped the
/// `.pth` without a word.
#[test]
fn explain_and_lint_check_a_malicious_checkpoint_with_a_21_character_stem() {
    let dir = tempfile::tempdir().unwrap();
    let stem = "abcdefghijklmnopqrstu";
    let bytes = torch_save(stem, EVIL, &[]);
    for ext in ["pt", "pth"] {
        let path = dir.path().join(format!("{stem}.{ext}"));
        std::fs::write(&path, &bytes).unwrap();
        let out = common::pklinspect()
            .args(["explain", "--format", "json"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(json["verdict"], "dangerous");
        let out = common::pklinspect()
            .arg("lint")
            .arg(&path)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(1),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains(&format!("{stem}.{ext}:{stem}/data.pkl:")),
            "{text}"
        );
    }
}

/// Cut or damaged, the new archive kinds give an error or a report, never a panic.
#[test]
fn damaged_tar_7z_zstd_and_zfile_inputs_never_panic() {
    let mut inputs: Vec<Vec<u8>> = [
        "payload.7z",
        "frame.pkl.tar",
        "frame.pkl.zst",
        "frame.pkl.tar.gz",
    ]
    .iter()
    .map(|f| data_file(f))
    .collect();
    let mut zf = b"ZF0x10               ".to_vec();
    zf.extend_from_slice(b"x\x9c\x01\x10\x00\xef\xff0123456789abcdef\x1c\x04\x03\x1d");
    inputs.push(zf);
    for bytes in &inputs {
        // Every third position: a header field is never shorter than that.
        for cut in (0..bytes.len()).step_by(3) {
            let _ = pklinspect::inspect("cut", &bytes[..cut], &Options::default());
        }
        let mut flipped = bytes.clone();
        for i in (0..flipped.len()).step_by(3) {
            flipped[i] ^= 0x55;
            let _ = pklinspect::inspect("flipped", &flipped, &Options::default());
            flipped[i] ^= 0x55;
        }
    }
}
