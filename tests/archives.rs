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
use pklinspect::container::{member_bytes, sniff, torch_zip, zip_members, ContainerKind};
use pklinspect::inspect::Options;
use pklinspect::report::Report;
use pklinspect::rules::Rule;

fn inspect(name: &str, bytes: &[u8]) -> Report {
    pklinspect::inspect(name, bytes, &Options::default()).unwrap_or_else(|e| panic!("{name}: {e}"))
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
