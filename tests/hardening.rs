//! The truncation and mutation sweep: every fixture cut short and with single bytes
//! changed, through `explain` (inspect and both renderers), `dis` and `extract`.
//!
//! Each case must end without a panic, in bounded time, either successfully or with an
//! error whose offset lies inside what it was reading: the input, or (for a compressed
//! stream or a zip member, whose errors count from the start of the decoded bytes) inside
//! the decoded stream or the member. Small fixtures are cut at every length; large ones at
//! a sample of lengths that always includes the last few bytes, where STOP and zip central
//! directories live. Mutations change a sample of positions to bytes that matter to the
//! formats (opcodes, lengths, 0x00, 0xff).

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use pklinspect::container::{self, ContainerKind};
use pklinspect::dis::{dis_all, DisError, DisOptions};
use pklinspect::extract::{extract, Bfloat16As, ExtractOptions, Target};
use pklinspect::inspect::{inspect, Options};
use pklinspect::limits::Limits;

/// Fixtures up to this size are cut at every length.
const ALL_PREFIXES_UP_TO: usize = 160;
/// Otherwise, this many lengths spread over the file (and the last 8).
const SAMPLED_PREFIXES: usize = 24;
/// Positions mutated per fixture (spread over the file), and the bytes written there.
const MUTATED_POSITIONS: usize = 12;
const MUTATIONS: [u8; 3] = [0x00, 0x2e, 0xff];
/// A generous bound per case (debug build, shared machine); a hang takes far longer.
const CASE_BOUND: Duration = Duration::from_secs(5);
/// Keeps one case small: a mutated length could otherwise ask for a large expansion.
const MAX_DECOMPRESSED: u64 = 64 << 20;

fn options() -> Options {
    Options {
        limits: Limits {
            max_decompressed: MAX_DECOMPRESSED,
            ..Limits::default()
        },
        ..Options::default()
    }
}

/// How far an error offset may reach for `bytes`: its length, or the length of the stream
/// it decompresses to, or of its largest zip member.
fn offset_bound(bytes: &[u8]) -> u64 {
    let len = bytes.len() as u64;
    let kind = container::sniff(bytes);
    let inner = if kind.is_compressed() {
        container::decompress(kind, bytes, MAX_DECOMPRESSED).map_or(0, |d| d.len() as u64)
    } else if matches!(
        kind,
        ContainerKind::TorchZip | ContainerKind::Npz | ContainerKind::Zip
    ) {
        container::zip_members(bytes).map_or(0, |members| {
            members
                .iter()
                .map(|m| m.size.max(m.compressed_size))
                .max()
                .unwrap_or(0)
        })
    } else {
        0
    };
    len.max(inner)
}

/// Runs `explain` and `dis` on one case; with `out`, `extract` to npy and JSON there too.
fn check(what: &str, bytes: &[u8], out: Option<&Path>) {
    let start = Instant::now();
    let run = catch_unwind(AssertUnwindSafe(|| {
        match inspect("case", bytes, &options()) {
            Ok(report) => {
                let mut text = Vec::new();
                pklinspect::render::text::write_report(&mut text, &report).unwrap();
                let _ = pklinspect::render::json::explain_value(&report);
            }
            Err(e) => {
                let bound = offset_bound(bytes);
                assert!(e.offset() <= bound, "explain: {e} (bound {bound})")
            }
        }
        match dis_all(bytes, &DisOptions::default(), &mut std::io::sink()) {
            Ok(_) | Err(DisError::Write(_)) => {}
            Err(DisError::Pickle(e)) => {
                assert!(e.offset() <= bytes.len() as u64, "dis: {e}")
            }
        }
        if let Some(out) = out {
            extract_case(bytes, out, offset_bound(bytes));
        }
    }));
    if let Err(panic) = run {
        let message = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        panic!("{what}: {message}");
    }
    let took = start.elapsed();
    assert!(took < CASE_BOUND, "{what}: took {took:?}");
}

fn extract_case(bytes: &[u8], out: &Path, bound: u64) {
    let dir = out.join("npy");
    let options = |target| ExtractOptions {
        inspect: options(),
        target,
        force: false,
        bfloat16: Bfloat16As::F4,
        max_bytes: 256 << 20,
        progress: None,
        progress_total: None,
        source_file: None,
    };
    match extract("case", bytes, &options(Target::Npy { dir: dir.clone() })) {
        Ok(_) => std::fs::remove_dir_all(&dir).unwrap(),
        Err(e) => {
            assert!(e.offset() <= bound, "extract npy: {e} (bound {bound})");
            assert!(!dir.exists(), "a failed extract left {}", dir.display());
        }
    }
    let json = out.join("tree.json");
    match extract(
        "case",
        bytes,
        &options(Target::Json {
            file: Some(json.clone()),
            arrays_as_files: false,
        }),
    ) {
        Ok(_) => std::fs::remove_file(&json).unwrap(),
        Err(e) => {
            assert!(e.offset() <= bound, "extract json: {e} (bound {bound})");
            assert!(!json.exists(), "a failed extract left {}", json.display());
        }
    }
    assert_eq!(
        std::fs::read_dir(out).unwrap().count(),
        0,
        "files left behind"
    );
}

fn prefix_lengths(len: usize) -> Vec<usize> {
    if len <= ALL_PREFIXES_UP_TO {
        return (0..len).collect();
    }
    let mut lengths: Vec<usize> = (0..SAMPLED_PREFIXES)
        .map(|i| i * len / SAMPLED_PREFIXES)
        .collect();
    lengths.extend(len.saturating_sub(8)..len);
    lengths.dedup();
    lengths
}

fn mutated_positions(len: usize) -> Vec<usize> {
    if len == 0 {
        return Vec::new();
    }
    let mut positions: Vec<usize> = (0..MUTATED_POSITIONS.min(len))
        .map(|i| i * len / MUTATED_POSITIONS.min(len))
        .collect();
    // The header bytes (magics, PROTO, FRAME lengths) matter most.
    positions.extend(0..len.min(8));
    positions.sort_unstable();
    positions.dedup();
    positions
}

/// Whether the generator's sidecar says CPython (or numpy, torch) loads the fixture.
fn loads(file: &Path) -> bool {
    common::sidecar(file)["status"] == "valid"
}

fn fixtures() -> Vec<PathBuf> {
    let files = common::fixture_files();
    assert!(files.len() > 200, "{} fixtures", files.len());
    files
}

/// Splits the fixtures between the sweep's tests so they run in parallel.
fn share(part: usize, of: usize) -> Vec<PathBuf> {
    fixtures()
        .into_iter()
        .enumerate()
        .filter(|(i, _)| i % of == part)
        .map(|(_, f)| f)
        .collect()
}

fn sweep_prefixes(part: usize) -> usize {
    let mut cases = 0;
    for file in share(part, 2) {
        let bytes = std::fs::read(&file).unwrap();
        for len in prefix_lengths(bytes.len()) {
            check(
                &format!("{} cut to {len} bytes", file.display()),
                &bytes[..len],
                None,
            );
            cases += 1;
        }
    }
    cases
}

fn sweep_mutations(part: usize) -> usize {
    let mut cases = 0;
    for file in share(part, 2) {
        let mut bytes = std::fs::read(&file).unwrap();
        for at in mutated_positions(bytes.len()) {
            let original = bytes[at];
            for value in MUTATIONS.into_iter().filter(|&v| v != original) {
                bytes[at] = value;
                check(
                    &format!("{} with byte {at} set to 0x{value:02x}", file.display()),
                    &bytes,
                    None,
                );
                cases += 1;
            }
            bytes[at] = original;
        }
    }
    cases
}

#[test]
fn every_fixture_cut_short_fails_cleanly_part_1() {
    let cases = sweep_prefixes(0);
    println!("hardening: {cases} truncated inputs");
}

#[test]
fn every_fixture_cut_short_fails_cleanly_part_2() {
    let cases = sweep_prefixes(1);
    println!("hardening: {cases} truncated inputs");
}

#[test]
fn every_fixture_with_a_byte_changed_is_handled_part_1() {
    let cases = sweep_mutations(0);
    println!("hardening: {cases} mutated inputs");
}

#[test]
fn every_fixture_with_a_byte_changed_is_handled_part_2() {
    let cases = sweep_mutations(1);
    println!("hardening: {cases} mutated inputs");
}

/// Extraction writes files, so it sees fewer cases: each loadable fixture whole, cut at a
/// few lengths, and with a few bytes changed. Nothing may be left behind on failure.
#[test]
fn extracting_cut_and_changed_fixtures_writes_all_or_nothing() {
    let out = tempfile::tempdir().unwrap();
    let mut cases = 0;
    for file in fixtures().into_iter().filter(|f| loads(f)) {
        let mut bytes = std::fs::read(&file).unwrap();
        let len = bytes.len();
        for cut in [len, len / 2, len * 9 / 10, len.saturating_sub(1)] {
            check(
                &format!("extract {} cut to {cut} bytes", file.display()),
                &bytes[..cut],
                Some(out.path()),
            );
            cases += 1;
        }
        for at in [len / 3, len * 2 / 3, len.saturating_sub(2)] {
            if at >= len {
                continue;
            }
            let original = bytes[at];
            bytes[at] = original ^ 0xff;
            check(
                &format!("extract {} with byte {at} flipped", file.display()),
                &bytes,
                Some(out.path()),
            );
            bytes[at] = original;
            cases += 1;
        }
    }
    println!("hardening: {cases} extractions");
}
