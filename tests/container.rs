//! Containers (SPEC §3) against independent truths: the fixtures' sidecars, CPython's
//! `gzip`/`bz2`/`lzma`/`zlib`/`zipfile` modules, numpy's own `format.py` (when the numpy 2
//! venv is present), and the pickles torch wrote into its legacy files.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::borrow::Cow;
use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use pklinspect::container::{
    check_crc, decompress, descr_itemsize, legacy_storages, member_bytes, npy_header_bytes,
    parse_npy_header, sniff, torch_zip, zip_members, zip_members_with_limit, ContainerKind, Descr,
    DescrField, NameIssue,
};
use pklinspect::limits::Limit;
use pklinspect::ErrorKind;
use serde_json::Value;
use sha2::{Digest, Sha256};

// ---------------------------------------------------------------------------------------
// A counting allocator, so the bomb test can show that output is refused, not allocated.
// Counts per thread, so tests running alongside do not disturb the measurement.

struct Counting;

thread_local! {
    static CURRENT: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn track(delta: isize) {
    let _ = CURRENT.try_with(|current| {
        let now = current.get() + delta;
        current.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

/// Runs `f`, returning its result and how far this thread's live allocations rose above
/// where they started.
fn peak_growth<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let start = CURRENT.with(Cell::get);
    PEAK.with(|peak| peak.set(start));
    let value = f();
    let grew = PEAK.with(Cell::get) - start;
    (value, grew.max(0) as usize)
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            track(layout.size() as isize);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        track(-(layout.size() as isize));
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

// ---------------------------------------------------------------------------------------
// Helpers.

fn sidecar(file: &Path) -> Value {
    let mut name = file.as_os_str().to_owned();
    name.push(".truth.json");
    serde_json::from_slice(&std::fs::read(name).unwrap()).unwrap()
}

fn fixture(relative: &str) -> PathBuf {
    common::fixtures_dir().join(relative)
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The name `sniff` must give a fixture, from its sidecar: joblib files are named by their
/// compressor (or are plain pickles), legacy torch files are pickles.
fn expected_kind(truth: &Value) -> String {
    match (
        truth["container"].as_str().unwrap(),
        truth["compression"].as_str(),
    ) {
        ("joblib", Some(compressor)) => compressor.to_owned(),
        ("joblib" | "torch-legacy", _) => "pickle".to_owned(),
        (container, _) => container.to_owned(),
    }
}

/// Fixtures whose sidecar says they are a whole-file compressed stream.
fn compressed_fixtures() -> Vec<(PathBuf, Value)> {
    common::fixture_files()
        .into_iter()
        .map(|f| {
            let truth = sidecar(&f);
            (f, truth)
        })
        .filter(|(_, truth)| {
            ["gzip", "bz2", "xz", "lzma", "zlib", "lz4"].contains(&expected_kind(truth).as_str())
        })
        .collect()
}

const NUMPY2_PYTHON: &str = "/work/venvs/np2/bin/python";

/// The numpy 2 venv's python, if present (it is not on CI: those tests skip there).
fn numpy2_python() -> Option<std::process::Command> {
    let path = std::env::var("PKLINSPECT_NUMPY2_PYTHON").unwrap_or_else(|_| NUMPY2_PYTHON.into());
    if !Path::new(&path).exists() {
        eprintln!("skipped: {path} not found");
        return None;
    }
    let mut cmd = std::process::Command::new(path);
    cmd.env("PYTHONIOENCODING", "utf-8").env("PYTHONUTF8", "1");
    Some(cmd)
}

/// A descr from its JSON form (`dtype.descr` as nested lists), as numpy's side prints it.
fn descr_from_json(value: &Value) -> Descr {
    match value {
        Value::String(s) => Descr::Str(s.clone()),
        Value::Array(fields) => Descr::Fields(
            fields
                .iter()
                .map(|entry| {
                    let entry = entry.as_array().unwrap();
                    let (title, name) = match &entry[0] {
                        Value::String(name) => (None, name.clone()),
                        Value::Array(pair) => (
                            Some(pair[0].as_str().unwrap().to_owned()),
                            pair[1].as_str().unwrap().to_owned(),
                        ),
                        other => panic!("field name {other}"),
                    };
                    let shape = entry
                        .get(2)
                        .map(|s| {
                            s.as_array()
                                .unwrap()
                                .iter()
                                .map(|d| d.as_u64().unwrap())
                                .collect()
                        })
                        .unwrap_or_default();
                    DescrField {
                        name,
                        title,
                        descr: descr_from_json(&entry[1]),
                        shape,
                    }
                })
                .collect(),
        ),
        other => panic!("descr {other}"),
    }
}

fn json_shape(value: &Value) -> Vec<u64> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_u64().unwrap())
        .collect()
}

// ---------------------------------------------------------------------------------------
// sniff

#[test]
fn sniff_classifies_every_fixture_as_its_sidecar_says() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for file in common::fixture_files() {
        let truth = sidecar(&file);
        let bytes = std::fs::read(&file).unwrap();
        let want = expected_kind(&truth);
        let got = sniff(&bytes).as_str();
        checked += 1;
        if got != want {
            failures.push(format!(
                "{}: sniffed {got}, sidecar says {want}",
                file.display()
            ));
        }
    }
    assert!(checked > 200, "only {checked} fixtures found");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn sniff_ignores_the_file_name() {
    // `*_bz2.pkl` is bz2 and `*_zlib.joblib` is zlib whatever the extension says.
    let bz2 = std::fs::read(fixture("joblib/np2_arrays_bz2.pkl")).unwrap();
    assert_eq!(sniff(&bz2), ContainerKind::Bz2);
    let zlib = std::fs::read(fixture("joblib/np2_arrays_zlib.joblib")).unwrap();
    assert_eq!(sniff(&zlib), ContainerKind::Zlib);
}

#[test]
fn a_zlib_stream_with_a_small_window_is_still_zlib() {
    // wbits=9 gives CMF 0x18; wbits=10 gives 0x28, which is also MARK, the first byte of
    // many protocol-0 pickles: only a trial decode tells them apart.
    let payload = b"\x80\x04\x95\x05\x00\x00\x00\x00\x00\x00\x00K\x01.";
    for level in [1u32, 6, 9] {
        let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(level));
        enc.write_all(payload).unwrap();
        let mut stream = enc.finish().unwrap();
        // Rewrite the header for a 1 KiB window (CINFO 2 → CMF 0x28), fixing FCHECK.
        stream[0] = 0x28;
        let flg = stream[1] & 0xe0;
        let check = (31 - ((0x28u16 * 256 + u16::from(flg)) % 31)) % 31;
        stream[1] = flg | check as u8;
        assert_eq!(sniff(&stream), ContainerKind::Zlib, "level {level}");
        assert_eq!(
            decompress(ContainerKind::Zlib, &stream, 100).unwrap(),
            payload
        );
    }
    // A protocol-0 pickle that starts with MARK stays a pickle.
    assert_eq!(sniff(b"(dp0\nS'a'\np1\nI1\ns."), ContainerKind::Pickle);
}

// ---------------------------------------------------------------------------------------
// decompress

#[test]
fn decompressed_fixtures_start_with_a_pickle() {
    let fixtures = compressed_fixtures();
    assert!(
        fixtures.len() >= 20,
        "only {} compressed fixtures",
        fixtures.len()
    );
    for (file, truth) in fixtures {
        let bytes = std::fs::read(&file).unwrap();
        let kind = sniff(&bytes);
        let result = decompress(kind, &bytes, 1 << 30);
        if truth["status"] == "malformed" {
            assert!(
                result.is_err(),
                "{}: decompressed a malformed file",
                file.display()
            );
            continue;
        }
        let out = result.unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert_eq!(
            out.first(),
            Some(&0x80),
            "{}: no PROTO at the start",
            file.display()
        );
    }
}

#[test]
fn compressed_joblib_files_decompress_to_the_uncompressed_dump() {
    // joblib compresses the very stream it writes uncompressed: the sibling file is the truth.
    let mut checked = 0;
    for (file, truth) in compressed_fixtures() {
        if truth["container"] != "joblib" {
            continue;
        }
        let name = file.file_name().unwrap().to_str().unwrap();
        let env = &name[..3];
        let plain = std::fs::read(fixture(&format!("joblib/{env}_arrays.joblib"))).unwrap();
        let bytes = std::fs::read(&file).unwrap();
        let out = decompress(sniff(&bytes), &bytes, 1 << 20).unwrap();
        assert!(out == plain, "{name}: differs from {env}_arrays.joblib");
        checked += 1;
    }
    assert_eq!(checked, 12, "six compressors × two numpy versions");
}

#[test]
fn decompression_agrees_with_cpython() {
    let Some(python) = common::python3() else {
        return;
    };
    let files: Vec<(PathBuf, ContainerKind)> = compressed_fixtures()
        .into_iter()
        .filter(|(_, truth)| truth["status"] != "malformed")
        .map(|(f, _)| {
            let kind = sniff(&std::fs::read(&f).unwrap());
            (f, kind)
        })
        .filter(|(_, kind)| *kind != ContainerKind::Lz4)
        .collect();
    let mut args = Vec::new();
    for (file, kind) in &files {
        args.push(kind.as_str().to_owned());
        args.push(file.display().to_string());
    }
    let script = r#"
import bz2, gzip, hashlib, json, lzma, sys, zlib
out = {}
args = sys.argv[1:]
for kind, path in zip(args[0::2], args[1::2]):
    data = open(path, 'rb').read()
    plain = {'gzip': gzip.decompress, 'bz2': bz2.decompress, 'xz': lzma.decompress,
             'lzma': lzma.decompress, 'zlib': zlib.decompress}[kind](data)
    out[path] = [len(plain), hashlib.sha256(plain).hexdigest()]
print(json.dumps(out))
"#;
    let arg_refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = common::run_python(python, script, &arg_refs);
    let truth: BTreeMap<String, (usize, String)> = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(truth.len(), files.len());
    for (file, kind) in &files {
        let bytes = std::fs::read(file).unwrap();
        let out = decompress(*kind, &bytes, 1 << 30).unwrap();
        let (len, sha) = &truth[&file.display().to_string()];
        assert_eq!(
            (out.len(), sha256_hex(&out)),
            (*len, sha.clone()),
            "{}",
            file.display()
        );
    }
}

/// lz4 is not in the standard library: compare with the `lz4` package in the numpy 2 venv
/// when present, else with sizes and digests it produced (recorded when the fixtures were
/// generated; the joblib ones equal the uncompressed dumps, checked above).
#[test]
fn lz4_decompression_agrees_with_the_lz4_package() {
    let recorded = [
        (
            "compressed/lz4_payload.pkl",
            287,
            "f4e8eba7766e288897bd30d40e8fff96b73d51a6151bf2f644daa9b83fa48439",
        ),
        (
            "joblib/np1_arrays.joblib.lz4",
            1632,
            "aff567338179e34e5180cea49818954aa4b2796a201ced1a84475294aae57d9d",
        ),
        (
            "joblib/np2_arrays.joblib.lz4",
            1634,
            "27835c622d58b0abb003eac69d3a39184c0900ca17842683c80c99d19281eb36",
        ),
    ];
    let mut truth: BTreeMap<String, (usize, String)> = recorded
        .iter()
        .map(|(f, n, s)| (fixture(f).display().to_string(), (*n, (*s).to_owned())))
        .collect();
    if let Some(python) = numpy2_python() {
        let script = r#"
import hashlib, json, sys, lz4.frame
out = {}
for path in sys.argv[1:]:
    plain = lz4.frame.decompress(open(path, 'rb').read())
    out[path] = [len(plain), hashlib.sha256(plain).hexdigest()]
print(json.dumps(out))
"#;
        let paths: Vec<String> = truth.keys().cloned().collect();
        let refs: Vec<&str> = paths.iter().map(String::as_str).collect();
        let output = common::run_python(python, script, &refs);
        let live: BTreeMap<String, (usize, String)> =
            serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(live, truth, "the recorded lz4 digests are stale");
        truth = live;
    }
    for (path, (len, sha)) in truth {
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(sniff(&bytes), ContainerKind::Lz4);
        let out = decompress(ContainerKind::Lz4, &bytes, 1 << 20).unwrap();
        assert_eq!((out.len(), sha256_hex(&out)), (len, sha), "{path}");
    }
}

#[test]
fn concatenated_lz4_frames_are_all_read() {
    let mut data = Vec::new();
    for part in [&b"\x80\x04first "[..], b"second."] {
        let mut enc = lz4_flex::frame::FrameEncoder::new(Vec::new());
        enc.write_all(part).unwrap();
        data.extend(enc.finish().unwrap());
    }
    assert_eq!(
        decompress(ContainerKind::Lz4, &data, 100).unwrap(),
        b"\x80\x04first second."
    );
    data.extend_from_slice(b"junk");
    assert!(decompress(ContainerKind::Lz4, &data, 100).is_err());
}

#[test]
fn truncated_gzip_is_a_clean_error_at_the_end_of_the_input() {
    let bytes = std::fs::read(fixture("malformed/truncated_gzip.pkl")).unwrap();
    assert_eq!(sniff(&bytes), ContainerKind::Gzip);
    let err = decompress(ContainerKind::Gzip, &bytes, 1 << 20).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Truncated, "{err}");
    assert_eq!(err.offset(), bytes.len() as u64, "{err}");
    assert!(err.message().contains("gzip"), "{err}");
}

#[test]
fn every_truncation_of_every_compressed_fixture_is_an_error_not_a_panic() {
    for (file, _) in compressed_fixtures() {
        let bytes = std::fs::read(&file).unwrap();
        let kind = sniff(&bytes);
        for cut in [1, 2, bytes.len() / 3, bytes.len() / 2, bytes.len() - 1] {
            let result = decompress(kind, &bytes[..cut], 1 << 20);
            let err = result.err().unwrap_or_else(|| {
                panic!("{} cut at {cut} decompressed without error", file.display())
            });
            assert!(err.offset() <= cut as u64, "{}: {err}", file.display());
        }
    }
}

/// Writes `chunks` MiB of zeros through `encoder` without ever holding them.
fn zeros_through<W: Write>(mut encoder: W, chunks: usize) -> W {
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..chunks {
        encoder.write_all(&zeros).unwrap();
    }
    encoder
}

#[test]
fn a_decompression_bomb_hits_the_limit_quickly_without_allocating_its_output() {
    // 1 GiB of zeros as sixteen 64 MiB gzip members (a multi-member stream, about 1 MB),
    // and 256 MiB of zeros as one zlib stream.
    let member = zeros_through(
        flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best()),
        64,
    )
    .finish()
    .unwrap();
    let gzip_bomb = member.repeat(16);
    let zlib_bomb = zeros_through(
        flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast()),
        256,
    )
    .finish()
    .unwrap();
    assert!(gzip_bomb.len() < 2 << 20, "{} bytes", gzip_bomb.len());
    let limit: u64 = 64 << 20;
    for (kind, bomb) in [
        (ContainerKind::Gzip, gzip_bomb),
        (ContainerKind::Zlib, zlib_bomb),
    ] {
        assert_eq!(sniff(&bomb), kind);
        let started = Instant::now();
        let (result, grew) = peak_growth(|| decompress(kind, &bomb, limit));
        let took = started.elapsed();
        let err = result.unwrap_err();
        eprintln!("{kind} bomb: refused after {took:?}, peak allocation {grew} bytes");
        assert_eq!(
            err.kind(),
            ErrorKind::LimitExceeded(Limit::Decompressed),
            "{err}"
        );
        assert!(err.message().contains("max_decompressed"), "{err}");
        assert!(err.message().contains(&limit.to_string()), "{err}");
        assert!(err.offset() <= bomb.len() as u64, "{err}");
        // At most the limit, plus the old buffer while the output grows (this thread's
        // allocations only): far below the 1 GiB / 256 MiB the bombs expand to.
        assert!(
            grew < 2 * limit as usize,
            "{kind}: peak grew by {grew} bytes"
        );
        assert!(took < Duration::from_secs(60), "{kind}: took {took:?}");
    }
}

// ---------------------------------------------------------------------------------------
// zip archives

/// The zip fixtures: torch archives and npz files.
fn zip_fixtures() -> Vec<PathBuf> {
    common::fixture_files()
        .into_iter()
        .filter(|f| {
            matches!(
                sniff(&std::fs::read(f).unwrap()),
                ContainerKind::TorchZip | ContainerKind::Npz | ContainerKind::Zip
            )
        })
        .collect()
}

#[test]
fn zip_members_match_pythons_zipfile() {
    let files = zip_fixtures();
    assert!(files.len() >= 12, "only {} zip fixtures", files.len());
    let Some(python) = common::python3() else {
        return;
    };
    let script = r#"
import hashlib, json, struct, sys, zipfile
out = {}
for path in sys.argv[1:]:
    data = open(path, 'rb').read()
    members = []
    with zipfile.ZipFile(path) as zf:
        for zi in zf.infolist():
            h = zi.header_offset
            n, m = struct.unpack('<HH', data[h + 26:h + 30])
            members.append({
                'name': zi.filename, 'header_offset': h, 'data_offset': h + 30 + n + m,
                'compressed_size': zi.compress_size, 'size': zi.file_size,
                'method': zi.compress_type, 'crc32': zi.CRC,
                'sha256': hashlib.sha256(zf.read(zi)).hexdigest(),
            })
    out[path] = members
print(json.dumps(out))
"#;
    let paths: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    let refs: Vec<&str> = paths.iter().map(String::as_str).collect();
    let output = common::run_python(python, script, &refs);
    let truth: BTreeMap<String, Vec<Value>> = serde_json::from_slice(&output.stdout).unwrap();
    for path in &paths {
        let bytes = std::fs::read(path).unwrap();
        let members = zip_members(&bytes).unwrap_or_else(|e| panic!("{path}: {e}"));
        let want = &truth[path];
        assert_eq!(members.len(), want.len(), "{path}");
        for (i, (got, want)) in members.iter().zip(want).enumerate() {
            let got_json = serde_json::json!({
                "name": got.name, "header_offset": got.header_offset,
                "data_offset": got.data_offset, "compressed_size": got.compressed_size,
                "size": got.size, "method": got.method, "crc32": got.crc32,
                "sha256": sha256_hex(&member_bytes(&bytes, got, 1 << 30).unwrap()),
            });
            assert_eq!(&got_json, want, "{path} member {i}");
            assert_eq!(got.index, i);
            assert_eq!(got.stored, got.method == 0);
            assert_eq!(got.name_issue, None);
            check_crc(&bytes, got, 1 << 30).unwrap();
        }
    }
}

#[test]
fn stored_members_are_borrowed_and_deflated_ones_decompressed() {
    let bytes = std::fs::read(fixture("numpy2/two_arrays.npz")).unwrap();
    for member in zip_members(&bytes).unwrap() {
        assert!(member.stored);
        let data = member_bytes(&bytes, &member, 1 << 20).unwrap();
        assert!(
            matches!(data, Cow::Borrowed(_)),
            "{} was copied",
            member.name
        );
        assert_eq!(data.as_ptr(), bytes[member.data_offset as usize..].as_ptr());
    }
    let bytes = std::fs::read(fixture("numpy2/compressed.npz")).unwrap();
    for member in zip_members(&bytes).unwrap() {
        assert_eq!(member.method, 8);
        let data = member_bytes(&bytes, &member, 1 << 20).unwrap();
        assert!(matches!(data, Cow::Owned(_)));
        assert!(data.starts_with(b"\x93NUMPY"));
        // A limit below the declared size is refused before inflating anything.
        let err = member_bytes(&bytes, &member, member.size - 1).unwrap_err();
        assert_eq!(
            err.kind(),
            ErrorKind::LimitExceeded(Limit::Decompressed),
            "{err}"
        );
    }
}

#[test]
fn torch_archives_map_to_their_records() {
    let mut checked = 0;
    for file in zip_fixtures() {
        let truth = sidecar(&file);
        if truth["container"] != "torch-zip" {
            continue;
        }
        let bytes = std::fs::read(&file).unwrap();
        let members = zip_members(&bytes).unwrap();
        let torch =
            torch_zip(&bytes, &members).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let name = file.display();
        assert_eq!(truth["torch_prefix"], torch.prefix.as_str(), "{name}");
        assert_eq!(torch.data_pkl.name, format!("{}/data.pkl", torch.prefix));
        assert_eq!(torch.byteorder.as_deref(), Some("little"), "{name}");
        assert!(torch.other_pickles.is_empty(), "{name}");
        let pickle = member_bytes(&bytes, &torch.data_pkl, 1 << 20).unwrap();
        assert!(matches!(pickle, Cow::Borrowed(_)));
        assert_eq!(pickle.first(), Some(&0x80), "{name}");
        // Every storage record, and nothing else, under <prefix>/data/.
        let want: Vec<&str> = members
            .iter()
            .filter_map(|m| m.name.strip_prefix(&format!("{}/data/", torch.prefix)))
            .collect();
        let got: Vec<&str> = torch.storages.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(got, want, "{name}");
        assert!(!got.is_empty(), "{name}");
        // torch aligns storage records to 64 bytes so they can be mapped.
        for (key, member) in &torch.storages {
            assert!(member.stored, "{name}: storage {key} compressed");
            assert_eq!(member.data_offset % 64, 0, "{name}: storage {key}");
        }
        checked += 1;
    }
    // Six torch fixtures, the hostile one, and issue 14's fairseq, numpy-array and
    // OrderedDict checkpoints.
    assert_eq!(checked, 10);
}

// A hand-built zip: every field under the test's control, so it can lie.
struct Entry {
    name: Vec<u8>,
    data: Vec<u8>,
    method: u16,
    crc: u32,
    /// Central directory overrides: compressed size, uncompressed size, header offset.
    csize: Option<u32>,
    usize_: Option<u32>,
    offset: Option<u32>,
    /// Name written in the local header, if different.
    local_name: Option<Vec<u8>>,
}

fn entry(name: &str, data: &[u8]) -> Entry {
    let mut crc = flate2::Crc::new();
    crc.update(data);
    Entry {
        name: name.as_bytes().to_vec(),
        data: data.to_vec(),
        method: 0,
        crc: crc.sum(),
        csize: None,
        usize_: None,
        offset: None,
        local_name: None,
    }
}

fn build_zip(entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut offsets = Vec::new();
    for e in entries {
        offsets.push(out.len() as u32);
        let local_name = e.local_name.as_ref().unwrap_or(&e.name);
        out.extend_from_slice(b"PK\x03\x04");
        out.extend_from_slice(&20u16.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&e.method.to_le_bytes());
        out.extend_from_slice(&[0, 0, 0x21, 0]); // time, date
        out.extend_from_slice(&e.crc.to_le_bytes());
        out.extend_from_slice(&(e.data.len() as u32).to_le_bytes());
        out.extend_from_slice(&(e.data.len() as u32).to_le_bytes());
        out.extend_from_slice(&(local_name.len() as u16).to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(local_name);
        out.extend_from_slice(&e.data);
    }
    let cd_start = out.len() as u32;
    for (e, offset) in entries.iter().zip(offsets) {
        out.extend_from_slice(b"PK\x01\x02");
        out.extend_from_slice(&20u16.to_le_bytes());
        out.extend_from_slice(&20u16.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&e.method.to_le_bytes());
        out.extend_from_slice(&[0, 0, 0x21, 0]);
        out.extend_from_slice(&e.crc.to_le_bytes());
        out.extend_from_slice(&e.csize.unwrap_or(e.data.len() as u32).to_le_bytes());
        out.extend_from_slice(&e.usize_.unwrap_or(e.data.len() as u32).to_le_bytes());
        out.extend_from_slice(&(e.name.len() as u16).to_le_bytes());
        out.extend_from_slice(&[0; 12]); // extra, comment, disk, internal, external
        out.extend_from_slice(&e.offset.unwrap_or(offset).to_le_bytes());
        out.extend_from_slice(&e.name);
    }
    let cd_len = out.len() as u32 - cd_start;
    out.extend_from_slice(b"PK\x05\x06");
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&cd_len.to_le_bytes());
    out.extend_from_slice(&cd_start.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

#[test]
fn the_hand_built_zip_is_a_valid_zip() {
    let bytes = build_zip(&[
        entry("a/data.pkl", b"\x80\x02N."),
        entry("a/version", b"3\n"),
    ]);
    assert_eq!(sniff(&bytes), ContainerKind::TorchZip);
    let members = zip_members(&bytes).unwrap();
    assert_eq!(members.len(), 2);
    assert_eq!(
        &*member_bytes(&bytes, &members[0], 100).unwrap(),
        b"\x80\x02N."
    );
    let torch = torch_zip(&bytes, &members).unwrap();
    assert_eq!(torch.prefix, "a");
    assert_eq!(torch.byteorder, None, "old torch wrote no byteorder record");
}

#[test]
fn a_member_claiming_data_past_the_end_is_an_error() {
    let mut e = entry("x.npy", b"\x93NUMPY");
    e.csize = Some(5000);
    e.usize_ = Some(5000);
    let err = zip_members(&build_zip(&[e])).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::LengthPastEnd, "{err}");
    assert_eq!(err.offset(), 0);
    assert!(err.message().contains("x.npy"), "{err}");
}

#[test]
fn overlapping_members_are_an_error() {
    // The first member's data claims to run over the second member's local header (how
    // overlapping-file zip bombs are built).
    let second = entry("b", b"payload");
    let first_span = 7 + 30 + 1; // b's data, local header and name
    let mut first = entry("a", b"outer");
    first.csize = Some((5 + first_span) as u32);
    first.usize_ = first.csize;
    let mut bytes = build_zip(&[first, second]);
    let err = zip_members(&bytes).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    assert!(err.message().contains("overlap"), "{err}");
    // A central directory entry pointing at another member's local header.
    let mut c = entry("c", b"other");
    c.offset = Some(0);
    bytes = build_zip(&[entry("b", b"payload"), c]);
    let err = zip_members(&bytes).unwrap_err();
    assert!(err.message().contains("local header names"), "{err}");
}

#[test]
fn parent_directory_and_absolute_names_are_flagged_not_refused() {
    let bytes = build_zip(&[
        entry("../evil", b"x"),
        entry("/etc/cron.d/x", b"y"),
        entry("dir\\file", b"z"),
        entry("fine/name", b"w"),
    ]);
    assert_eq!(sniff(&bytes), ContainerKind::Zip);
    let members = zip_members(&bytes).unwrap();
    let issues: Vec<Option<NameIssue>> = members.iter().map(|m| m.name_issue).collect();
    assert_eq!(
        issues,
        vec![
            Some(NameIssue::ParentDir),
            Some(NameIssue::Absolute),
            Some(NameIssue::Backslash),
            None
        ]
    );
    assert_eq!(members[0].name, "../evil");
}

#[test]
fn duplicate_names_are_an_error() {
    let bytes = build_zip(&[
        entry("a/data.pkl", b"\x80\x02N."),
        entry("a/data.pkl", b"\x80\x02K\x01."),
    ]);
    let err = zip_members(&bytes).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    assert!(err.message().contains("more than once"), "{err}");
}

#[test]
fn a_stored_member_whose_sizes_disagree_is_an_error() {
    let mut e = entry("x", b"12345678");
    e.csize = Some(4);
    let err = zip_members(&build_zip(&[e])).unwrap_err();
    assert!(err.message().contains("sizes disagree"), "{err}");
}

#[test]
fn too_many_members_is_a_limit_error() {
    let bytes = build_zip(&[entry("a", b""), entry("b", b""), entry("c", b"")]);
    assert_eq!(zip_members_with_limit(&bytes, 3).unwrap().len(), 3);
    let err = zip_members_with_limit(&bytes, 2).unwrap_err();
    assert_eq!(
        err.kind(),
        ErrorKind::LimitExceeded(Limit::ZipMembers),
        "{err}"
    );
    assert!(err.message().contains("max_zip_members"), "{err}");
}

#[test]
fn crc_mismatches_are_found_on_request_and_in_deflated_members() {
    let mut e = entry("x", b"stored bytes");
    e.crc ^= 1;
    let bytes = build_zip(&[e]);
    let members = zip_members(&bytes).unwrap();
    assert!(
        member_bytes(&bytes, &members[0], 100).is_ok(),
        "stored: CRC not read"
    );
    assert!(check_crc(&bytes, &members[0], 100).is_err());

    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(&[0u8; 100_000]).unwrap();
    let deflated = enc.finish().unwrap();
    let mut e = entry("z", &deflated);
    e.method = 8;
    e.usize_ = Some(100_000);
    let mut crc = flate2::Crc::new();
    crc.update(&[0u8; 100_000]);
    e.crc = crc.sum();
    let bytes = build_zip(&[e]);
    let members = zip_members(&bytes).unwrap();
    assert_eq!(
        member_bytes(&bytes, &members[0], 1 << 20).unwrap().len(),
        100_000
    );
    // Lying about the size: the inflater stops one byte past the declared size.
    let mut e = entry("z", &deflated);
    e.method = 8;
    e.usize_ = Some(10);
    let bytes = build_zip(&[e]);
    let members = zip_members(&bytes).unwrap();
    let err = member_bytes(&bytes, &members[0], 1 << 20).unwrap_err();
    assert!(err.message().contains("declared"), "{err}");
}

#[test]
fn zip_readers_never_panic_on_damaged_fixtures() {
    for file in zip_fixtures() {
        let bytes = std::fs::read(&file).unwrap();
        for cut in (0..bytes.len()).step_by(97) {
            let damaged = &bytes[..cut];
            let _ = sniff(damaged);
            if let Ok(members) = zip_members(damaged) {
                for m in &members {
                    let _ = member_bytes(damaged, m, 1 << 20);
                }
                let _ = torch_zip(damaged, &members);
            }
        }
        let mut flipped = bytes.clone();
        for i in (0..flipped.len()).step_by(13) {
            flipped[i] ^= 0x5a;
            if let Ok(members) = zip_members(&flipped) {
                for m in &members {
                    let _ = member_bytes(&flipped, m, 1 << 20);
                }
            }
            flipped[i] ^= 0x5a;
        }
    }
}

// ---------------------------------------------------------------------------------------
// .npy headers

/// Checks a parsed header against a sidecar `arrays[]` entry.
fn assert_header_matches(header: &pklinspect::container::NpyHeader, array: &Value, what: &str) {
    assert_eq!(header.descr.to_json(), array["dtype"], "{what}: dtype");
    assert_eq!(header.shape, json_shape(&array["shape"]), "{what}: shape");
    assert_eq!(
        Value::Bool(header.fortran_order),
        array["fortran_order"],
        "{what}: fortran_order"
    );
    match array["nbytes"].as_u64() {
        Some(nbytes) => assert_eq!(header.nbytes(), Some(nbytes), "{what}: nbytes"),
        None => assert!(
            header.descr.has_object(),
            "{what}: only object arrays lack nbytes"
        ),
    }
}

#[test]
fn npy_headers_match_the_sidecars() {
    let mut checked = 0;
    for file in common::fixture_files() {
        let truth = sidecar(&file);
        if truth["container"] != "npy" {
            continue;
        }
        let bytes = std::fs::read(&file).unwrap();
        let name = file.display().to_string();
        let header = parse_npy_header(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        let array = &truth["arrays"][0];
        assert_eq!(array["path"], "$");
        assert_header_matches(&header, array, &name);
        assert_eq!(header.data_offset % 64, 0, "{name}");
        if header.descr.has_object() {
            // The pickle follows the header.
            assert_eq!(
                truth["pickle_offsets"][0], header.data_offset as u64,
                "{name}"
            );
        } else {
            assert_eq!(
                header.data_offset as u64 + header.nbytes().unwrap(),
                bytes.len() as u64,
                "{name}"
            );
        }
        let want_version = if name.contains("_v3") { (3, 0) } else { (1, 0) };
        assert_eq!(header.version, want_version, "{name}");
        checked += 1;
    }
    assert_eq!(checked, 12);
}

#[test]
fn npz_member_headers_match_the_sidecars() {
    let mut checked = 0;
    for file in common::fixture_files() {
        let truth = sidecar(&file);
        if truth["container"] != "npz" {
            continue;
        }
        let bytes = std::fs::read(&file).unwrap();
        assert_eq!(sniff(&bytes), ContainerKind::Npz);
        for member in zip_members(&bytes).unwrap() {
            let data = member_bytes(&bytes, &member, 1 << 20).unwrap();
            let what = format!("{}:{}", file.display(), member.name);
            let header = parse_npy_header(&data).unwrap_or_else(|e| panic!("{what}: {e}"));
            let key = member.name.strip_suffix(".npy").unwrap();
            let path = format!("$[{}]", serde_json::to_string(key).unwrap());
            let array = truth["arrays"]
                .as_array()
                .unwrap()
                .iter()
                .find(|a| a["path"] == path.as_str())
                .unwrap_or_else(|| panic!("{what}: no sidecar entry {path}"));
            assert_eq!(array["member"], member.name.as_str());
            assert_header_matches(&header, array, &what);
            checked += 1;
        }
    }
    assert_eq!(checked, 14, "7 members × two numpy versions");
}

/// Every header numpy wrote into the fixtures (numpy 2.4 and 1.26 write the same bytes).
#[test]
fn npy_header_bytes_reproduces_numpy_headers_byte_for_byte() {
    let mut checked = 0;
    for file in common::fixture_files() {
        let truth = sidecar(&file);
        let numpy = truth["made_by"]["numpy"].as_str().unwrap_or("");
        if !(numpy.starts_with("2.") || numpy.starts_with("1."))
            || !["npy", "npz"].contains(&truth["container"].as_str().unwrap())
        {
            continue;
        }
        let bytes = std::fs::read(&file).unwrap();
        let mut npys: Vec<(String, Vec<u8>)> = Vec::new();
        if truth["container"] == "npy" {
            npys.push((file.display().to_string(), bytes.clone()));
        } else {
            for member in zip_members(&bytes).unwrap() {
                let data = member_bytes(&bytes, &member, 1 << 20).unwrap().into_owned();
                npys.push((format!("{}:{}", file.display(), member.name), data));
            }
        }
        for (what, npy) in npys {
            // Independent of our parser: take the header's fields from the sidecar.
            let array = truth["arrays"]
                .as_array()
                .unwrap()
                .iter()
                .find(|a| {
                    a["path"] == "$"
                        || a["member"]
                            .as_str()
                            .is_some_and(|m| what.ends_with(&format!(":{m}")))
                })
                .unwrap();
            let written = npy_header_bytes(
                &descr_from_json(&array["dtype"]),
                array["fortran_order"].as_bool().unwrap(),
                &json_shape(&array["shape"]),
            );
            assert!(
                npy.starts_with(&written),
                "{what}:\n ours  {:?}\n numpy {:?}",
                String::from_utf8_lossy(&written),
                String::from_utf8_lossy(&npy[..written.len().min(npy.len())])
            );
            assert_eq!(
                written.len(),
                parse_npy_header(&npy).unwrap().data_offset,
                "{what}"
            );
            checked += 1;
        }
    }
    assert_eq!(
        checked, 26,
        "6 npy files and 7 npz members, from each numpy"
    );
}

/// A battery of dtypes and shapes through numpy's own header writer (the function
/// `numpy.save` calls), compared byte for byte. Needs the numpy 2 venv; skips without it.
#[test]
fn npy_header_bytes_matches_numpy_format_py_differentially() {
    let Some(python) = numpy2_python() else {
        return;
    };
    let script = r#"
import io, json, warnings
import numpy as np
from numpy.lib import format as fmt
try:
    write = fmt._write_array_header
except AttributeError:
    from numpy.lib._format_impl import _write_array_header as write

def descr_json(d):
    if isinstance(d, str):
        return d
    out = []
    for field in d:
        name = list(field[0]) if isinstance(field[0], tuple) else field[0]
        entry = [name, descr_json(field[1])]
        if len(field) == 3:
            entry.append(list(field[2]))
        out.append(entry)
    return out

dtypes = [
    '<f8', '>f4', '|b1', '<i2', '>u8', '<c16', '<f2', '|S7', '<U3', '>U1', '|V5', '<M8[ns]',
    '>m8[s]', '<M8[D]', '|O', '<i1', '<u1', '<g', '<G',
    np.dtype([('a', '<i4'), ('b', '<f8', (2,))]),
    np.dtype({'names': ['x', 'y'], 'formats': ['u1', '<f8'], 'offsets': [0, 8], 'itemsize': 16}),
    np.dtype([('a', 'u1'), ('b', '<i4')], align=True),
    np.dtype([('p', [('x', '<f4'), ('y', '<f4')]), ('q', '<i8', (2, 3))]),
    np.dtype([(('Title here', 'name'), '<i4'), ('plain', '>f8')]),
    np.dtype([("it's", '<i4'), ('say "hi"', '<f4'), ('back\\slash', 'u1'), ('tab\tnl\n', 'u1')]),
    np.dtype([("both ' and \"", 'u1')]),
    np.dtype([('caf\u00e9', '<i4'), ('\x01ctl\x7f', 'u1'), ('nbsp\u00a0soft\u00ad', 'u1')]),
    np.dtype([('\u540d', '<i4'), ('\U0001F600', '<f4'), ('zw\u200bsp', 'u1'), ('\u0301', 'u1')]),
    np.dtype([(f'field_{i:05d}', '<f8') for i in range(5000)]),
    np.dtype([(f'\u540d_{i:05d}', '<f8') for i in range(5000)]),
    np.dtype([('sub', '<f4', (2, 2)), ('one', 'u1', (1,))]),
    np.dtype([('', '|V4'), ('a', '<i4')]),
    np.dtype([('U', '<U10'), ('S', '|S3'), ('dt', '<M8[us]')]),
]
shapes = [(), (0,), (1,), (5,), (3, 4), (2, 3, 4), (0, 3), (10**12,), (1, 2**40), (2**63, 1),
          (18446744073709551615,), (7, 1, 1, 9)]
cases = []
with warnings.catch_warnings():
    warnings.simplefilter('ignore')
    for dt in dtypes:
        dt = np.dtype(dt)
        for shape in shapes:
            for fortran in (False, True):
                d = {'descr': fmt.dtype_to_descr(dt), 'fortran_order': fortran, 'shape': shape}
                buf = io.BytesIO()
                write(buf, d)
                cases.append({'descr': descr_json(d['descr']), 'fortran_order': fortran,
                              'shape': list(shape), 'header': buf.getvalue().hex()})
    # And real np.save calls, to show the writer above is what np.save uses.
    for arr in [np.zeros((3, 4)), np.zeros((3, 4), order='F'), np.zeros(5, dtype='>i4'),
                np.array(1.5), np.zeros((2, 0)), np.zeros(3, dtype=[('a', '<i4'), ('b', '<U2')])]:
        buf = io.BytesIO()
        np.save(buf, arr)
        buf.seek(0)
        version = fmt.read_magic(buf)
        shape, fortran, dtype = fmt._read_array_header(buf, version) if hasattr(fmt, '_read_array_header') else (
            fmt.read_array_header_1_0(buf) if version == (1, 0) else fmt.read_array_header_2_0(buf))
        cases.append({'descr': descr_json(fmt.dtype_to_descr(dtype)), 'fortran_order': fortran,
                      'shape': list(shape), 'header': buf.getvalue()[:buf.tell()].hex()})
print(json.dumps(cases))
"#;
    let output = common::run_python(python, script, &[]);
    let cases: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
    assert!(cases.len() > 700, "{} cases", cases.len());
    let mut versions = BTreeSet::new();
    for case in &cases {
        let descr = descr_from_json(&case["descr"]);
        let fortran = case["fortran_order"].as_bool().unwrap();
        let shape = json_shape(&case["shape"]);
        let want = decode_hex(case["header"].as_str().unwrap());
        let got = npy_header_bytes(&descr, fortran, &shape);
        if got != want {
            panic!(
                "{descr:?} {fortran} {shape:?}:\n ours  {:?}\n numpy {:?}",
                String::from_utf8_lossy(&got),
                String::from_utf8_lossy(&want)
            );
        }
        let parsed = parse_npy_header(&want).unwrap();
        assert_eq!(
            (parsed.descr, parsed.fortran_order, parsed.shape),
            (descr, fortran, shape)
        );
        assert_eq!(parsed.data_offset, want.len());
        versions.insert(parsed.version);
    }
    assert_eq!(versions, BTreeSet::from([(1, 0), (2, 0), (3, 0)]));
}

fn decode_hex(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn itemsizes_agree_with_the_sidecars() {
    // Every plain npy/npz array's nbytes is count × itemsize of its descr.
    for file in common::fixture_files() {
        let truth = sidecar(&file);
        if !["npy", "npz"].contains(&truth["container"].as_str().unwrap()) {
            continue;
        }
        for array in truth["arrays"].as_array().unwrap() {
            let Some(nbytes) = array["nbytes"].as_u64() else {
                continue;
            };
            let count: u64 = json_shape(&array["shape"]).iter().product();
            let itemsize = descr_itemsize(&descr_from_json(&array["dtype"])).unwrap();
            assert_eq!(
                count * itemsize,
                nbytes,
                "{} {}",
                file.display(),
                array["path"]
            );
        }
    }
}

#[test]
fn npy_parsing_never_panics_on_damaged_headers() {
    for file in common::fixture_files() {
        let truth = sidecar(&file);
        if truth["container"] != "npy" {
            continue;
        }
        let bytes = std::fs::read(&file).unwrap();
        let header_end = parse_npy_header(&bytes).unwrap().data_offset;
        for cut in 0..header_end {
            assert!(
                parse_npy_header(&bytes[..cut]).is_err(),
                "{} cut at {cut}",
                file.display()
            );
        }
        let mut damaged = bytes[..header_end].to_vec();
        for i in 0..header_end {
            for replacement in [b'(', b'[', b'\'', b'\\', b'\xff', b'#', b'-', b'}'] {
                let old = damaged[i];
                damaged[i] = replacement;
                let _ = parse_npy_header(&damaged);
                damaged[i] = old;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Legacy torch files

#[test]
fn legacy_storages_agree_with_what_torch_stored() {
    let Some(python) = common::python3() else {
        return;
    };
    // Reads the five pickles with the standard library, importing nothing: every global
    // becomes a stub class, persistent ids are recorded. The storage element counts and the
    // storage types (hence element sizes) come from torch's own persistent ids.
    let script = r#"
import io, json, pickle, sys
SIZES = {'FloatStorage': 4, 'DoubleStorage': 8, 'HalfStorage': 2, 'BFloat16Storage': 2,
         'LongStorage': 8, 'IntStorage': 4, 'ShortStorage': 2, 'CharStorage': 1,
         'ByteStorage': 1, 'BoolStorage': 1, 'ComplexFloatStorage': 8, 'ComplexDoubleStorage': 16}
tensors = []
class Stub:
    def __init__(self, *args, **kwargs):
        if type(self).__name__ == '_rebuild_tensor_v2':
            tensors.append(args)
    def __setstate__(self, state):
        pass
    def __setitem__(self, key, value):
        pass
    def append(self, value):
        pass
    def extend(self, values):
        pass
class Reader(pickle.Unpickler):
    storages = {}
    def find_class(self, module, name):
        return type(name, (Stub,), {})
    def persistent_load(self, pid):
        if pid[0] == 'module':
            # ('module', class, source file, source code): torch returns the class.
            return pid[1]
        self.storages[pid[2]] = (pid[1].__name__, pid[4])
        return pid[2]
out = {}
for path in sys.argv[1:]:
    f = io.BytesIO(open(path, 'rb').read())
    tensors.clear()
    Reader.storages = {}
    for _ in range(4):
        Reader(f).load()
    keys = Reader(f).load()
    start = f.tell()
    out[path] = {
        'start': start,
        'keys': [[k, SIZES[Reader.storages[k][0]], Reader.storages[k][1]] for k in keys],
        'tensors': [[t[0], t[1], list(t[2]), list(t[3]), SIZES[Reader.storages[t[0]][0]]] for t in tensors],
    }
print(json.dumps(out))
"#;
    let files: Vec<PathBuf> = common::fixture_files()
        .into_iter()
        .filter(|f| sidecar(f)["container"] == "torch-legacy")
        .collect();
    assert_eq!(files.len(), 5);
    let paths: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    let refs: Vec<&str> = paths.iter().map(String::as_str).collect();
    let output = common::run_python(python, script, &refs);
    let truth: BTreeMap<String, Value> = serde_json::from_slice(&output.stdout).unwrap();
    for file in &files {
        let path = file.display().to_string();
        let layout = &truth[&path];
        let bytes = std::fs::read(file).unwrap();
        assert_eq!(sniff(&bytes), ContainerKind::Pickle, "{path}");
        let keys: Vec<(String, u64)> = layout["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| (k[0].as_str().unwrap().to_owned(), k[1].as_u64().unwrap()))
            .collect();
        let start = layout["start"].as_u64().unwrap() as usize;
        let storages = legacy_storages(&bytes, start, &keys).unwrap();
        for (storage, k) in storages.iter().zip(layout["keys"].as_array().unwrap()) {
            assert_eq!(
                storage.count,
                k[2].as_u64().unwrap(),
                "{path}: {}",
                storage.key
            );
            assert_eq!(storage.len, storage.count * k[1].as_u64().unwrap());
        }
        // The storages fill the file exactly.
        assert_eq!(storages.last().unwrap().end(), bytes.len(), "{path}");
        // Each C-contiguous tensor's bytes, cut from its storage, hash as the sidecar says.
        let by_key: BTreeMap<&str, _> = storages.iter().map(|s| (s.key.as_str(), s)).collect();
        let digests: BTreeSet<String> = sidecar(file)["arrays"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["sha256"].as_str().unwrap().to_owned())
            .collect();
        let mut matched = 0;
        for t in layout["tensors"].as_array().unwrap() {
            let (key, offset, size, stride, itemsize) = (
                t[0].as_str().unwrap(),
                t[1].as_u64().unwrap(),
                json_shape(&t[2]),
                json_shape(&t[3]),
                t[4].as_u64().unwrap(),
            );
            let mut contiguous = vec![1u64; size.len()];
            for i in (0..size.len().saturating_sub(1)).rev() {
                contiguous[i] = contiguous[i + 1] * size[i + 1].max(1);
            }
            let numel: u64 = size.iter().product();
            if numel > 1 && stride != contiguous {
                continue;
            }
            let storage = by_key[key];
            let begin = storage.offset + (offset * itemsize) as usize;
            let tensor = &bytes[begin..begin + (numel * itemsize) as usize];
            assert!(
                digests.contains(&sha256_hex(tensor)),
                "{path}: tensor in storage {key}"
            );
            matched += 1;
        }
        assert!(matched >= 3, "{path}: only {matched} contiguous tensors");
    }
}

#[test]
fn concatenated_streams_decompress_as_python_writes_them() {
    let Some(python) = common::python3() else {
        return;
    };
    // Two xz streams, two bz2 streams, two gzip members, and lzma-alone with an end marker.
    let script = r#"
import bz2, gzip, json, lzma
out = {
    'xz': (lzma.compress(b'\x80\x04first ') + lzma.compress(b'second.')).hex(),
    'bz2': (bz2.compress(b'\x80\x04first ') + bz2.compress(b'second.')).hex(),
    'gzip': (gzip.compress(b'\x80\x04first ') + gzip.compress(b'second.')).hex(),
    'lzma': lzma.compress(b'\x80\x04first second.', format=lzma.FORMAT_ALONE).hex(),
}
print(json.dumps(out))
"#;
    let output = common::run_python(python, script, &[]);
    let streams: BTreeMap<String, String> = serde_json::from_slice(&output.stdout).unwrap();
    for (name, hex) in &streams {
        let data = decode_hex(hex);
        let kind = sniff(&data);
        assert_eq!(kind.as_str(), name);
        assert_eq!(
            decompress(kind, &data, 100).unwrap(),
            b"\x80\x04first second.",
            "{name}"
        );
        let err = decompress(kind, &data, 10).unwrap_err();
        assert_eq!(
            err.kind(),
            ErrorKind::LimitExceeded(Limit::Decompressed),
            "{name}"
        );
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

    /// Whatever the bytes, the container readers return (an error at worst) and never panic.
    #[test]
    fn container_readers_never_panic_on_arbitrary_bytes(
        prefix in proptest::sample::select(vec![
            &b""[..], b"\x1f\x8b\x08\x00", b"BZh91AY&SY", b"\xfd7zXZ\x00", b"\x04\x22\x4d\x18\x64\x40",
            b"\x78\x9c", b"\x5d\x00\x00\x80\x00\xff\xff\xff\xff\xff\xff\xff\xff\x00",
            b"\x93NUMPY\x01\x00", b"\x93NUMPY\x03\x00", b"PK\x03\x04", b"PK\x05\x06",
        ]),
        tail in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400),
    ) {
        let mut bytes = prefix.to_vec();
        bytes.extend_from_slice(&tail);
        let kind = sniff(&bytes);
        for k in [kind, ContainerKind::Gzip, ContainerKind::Bz2, ContainerKind::Xz,
                  ContainerKind::Lzma, ContainerKind::Zlib, ContainerKind::Lz4] {
            if let Ok(out) = decompress(k, &bytes, 1 << 16) {
                proptest::prop_assert!(out.len() <= 1 << 16);
            }
        }
        let _ = parse_npy_header(&bytes);
        if let Ok(members) = zip_members(&bytes) {
            for m in &members {
                let _ = member_bytes(&bytes, m, 1 << 16);
            }
            let _ = torch_zip(&bytes, &members);
        }
        let keys = [("a".to_owned(), 4u64), ("b".to_owned(), 8)];
        let _ = legacy_storages(&bytes, tail.len() % (bytes.len() + 1), &keys);
    }
}
