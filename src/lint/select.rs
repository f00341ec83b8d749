//! Which files `lint` checks: by name first (a cheap filter for the walk), then by content
//! (a few bytes of the file), never by name alone.
//!
//! Names give three answers ([`Selection`]):
//!
//! * [`PICKLE_EXTENSIONS`] (`.pkl .pickle .joblib .pt .npy .npz`) name pickles and numpy
//!   files: they are always checked, and one that cannot be read as such is `malformed`.
//! * [`MAYBE_EXTENSIONS`] (`.p .pth .bin .ckpt .sav .dat`) and files without an extension are
//!   also used for other things (`.pth` path files, firmware `.bin`, SPSS `.sav`, `LICENSE`):
//!   they are checked when their content holds a pickle ([`content`]), and skipped otherwise.
//! * Anything else is skipped. A compression suffix (`.gz .bz2 .xz .lzma .lz4 .zlib .z`) is
//!   looked through: `frame.pkl.gz` is selected as `.pkl` is.
//!
//! `--extensions` replaces both lists; files without an extension are then skipped.

use std::collections::BTreeSet;
use std::path::Path;

use crate::container::{self, ContainerKind};
use crate::opcode::Opcode;

/// Extensions of files that are pickles or numpy files by name.
pub const PICKLE_EXTENSIONS: &[&str] = &["pkl", "pickle", "joblib", "pt", "npy", "npz"];

/// Extensions that often hold a pickle but are also used for other things: checked when the
/// content holds a pickle.
pub const MAYBE_EXTENSIONS: &[&str] = &["p", "pth", "bin", "ckpt", "sav", "dat"];

/// Suffixes of whole-file compression, looked through to the extension before them.
pub const COMPRESSION_SUFFIXES: &[&str] = &["gz", "bz2", "xz", "lzma", "lz4", "zlib", "z"];

/// What a file's name says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Selection {
    /// A pickle by name: checked; if it cannot be read, that is a finding.
    Pickle,
    /// Checked when its content holds a pickle ([`content`]); skipped otherwise.
    IfPickle,
    /// Not checked.
    Skip,
}

/// The extension filter: the built-in lists, or the user's `--extensions`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Extensions {
    /// Lowercase, without dots. `None`: the built-in lists.
    only: Option<BTreeSet<String>>,
}

impl Extensions {
    /// The built-in selection.
    pub fn builtin() -> Extensions {
        Extensions { only: None }
    }

    /// Only these extensions (leading dots and case ignored). Empty entries are dropped.
    pub fn only<I, S>(extensions: I) -> Extensions
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Extensions {
            only: Some(
                extensions
                    .into_iter()
                    .map(|e| {
                        e.as_ref()
                            .trim()
                            .trim_start_matches('.')
                            .to_ascii_lowercase()
                    })
                    .filter(|e| !e.is_empty())
                    .collect(),
            ),
        }
    }

    /// The user's list, if there is one.
    #[cfg(test)]
    pub fn list(&self) -> Option<Vec<String>> {
        self.only.as_ref().map(|set| set.iter().cloned().collect())
    }

    /// What a file found by the walk is, by its name.
    pub fn select(&self, path: &Path) -> Selection {
        let ext = effective_extension(path);
        match (&self.only, ext) {
            (None, None) => Selection::IfPickle,
            (None, Some(ext)) => builtin_selection(&ext),
            (Some(_), None) => Selection::Skip,
            (Some(only), Some(ext)) if only.contains(&ext) => {
                if MAYBE_EXTENSIONS.contains(&ext.as_str()) {
                    Selection::IfPickle
                } else {
                    Selection::Pickle
                }
            }
            (Some(_), Some(_)) => Selection::Skip,
        }
    }
}

/// What a file named on the command line (or in `--files-from`) is: the user chose it, so
/// no extension filter applies, but a name that does not say "pickle" still needs the
/// content to say so.
pub fn select_named(path: &Path) -> Selection {
    match effective_extension(path) {
        Some(ext) if PICKLE_EXTENSIONS.contains(&ext.as_str()) => Selection::Pickle,
        _ => Selection::IfPickle,
    }
}

fn builtin_selection(ext: &str) -> Selection {
    if PICKLE_EXTENSIONS.contains(&ext) {
        Selection::Pickle
    } else if MAYBE_EXTENSIONS.contains(&ext) {
        Selection::IfPickle
    } else {
        Selection::Skip
    }
}

/// The lowercase extension, looking through one compression suffix (`a.pkl.gz` → `pkl`).
/// `None` for a name without an extension. A compression suffix on a name without another
/// extension (`notes.gz`) gives `gz`, which no list holds.
fn effective_extension(path: &Path) -> Option<String> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    if COMPRESSION_SUFFIXES.contains(&ext.as_str()) {
        if let Some(inner) = path
            .file_stem()
            .map(Path::new)
            .and_then(Path::extension)
            .and_then(|e| e.to_str())
        {
            return Some(inner.to_ascii_lowercase());
        }
    }
    Some(ext)
}

/// What a file's first bytes say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Content {
    /// A pickle or numpy container by its magic: `.npy`, `.npz`, a `torch.save` zip, or a
    /// stream (raw or after decompression) that starts with PROTO 2–5.
    Pickle,
    /// Starts with a pickle opcode but not with PROTO (protocol 0 and 1 pickles do, and so
    /// does a lot of text): a pickle only if it reads as one from start to end.
    Maybe,
    /// Not a pickle.
    No,
}

/// The content test for files whose name does not say "pickle" ([`Selection::IfPickle`]).
///
/// It costs a look at the first bytes: magic numbers ([`container::sniff`]), and for a
/// compressed stream the first two decoded bytes. Protocol 2 and later pickles begin with
/// PROTO (`\x80` and the protocol, PEP 307), which is what `pickle.dump`, joblib, pandas
/// and `torch.save` write by default; protocol 0 and 1 streams begin with an opcode that
/// is often a printable letter, so for them the whole file must read as a pickle (the caller
/// checks that). A compressed stream that does not start with PROTO is not looked at further:
/// decompressing a large archive to learn it holds text would make the walk slow.
pub fn content(bytes: &[u8]) -> Content {
    let kind = container::sniff(bytes);
    match kind {
        ContainerKind::Npy | ContainerKind::Npz | ContainerKind::TorchZip => Content::Pickle,
        ContainerKind::Zip => Content::No,
        ContainerKind::Pickle => {
            if starts_with_proto(bytes) {
                Content::Pickle
            } else if bytes
                .first()
                .is_some_and(|&b| Opcode::from_byte(b).is_some())
            {
                Content::Maybe
            } else {
                Content::No
            }
        }
        _ => match container::decoded_prefix(kind, bytes, 2) {
            Some(prefix) if starts_with_proto(&prefix) => Content::Pickle,
            _ => Content::No,
        },
    }
}

/// PROTO 2–5 (protocol 0 and 1 have no PROTO opcode; protocol 5 is the highest, PEP 574).
fn starts_with_proto(bytes: &[u8]) -> bool {
    matches!(bytes, [0x80, 2..=5, ..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn names_select_by_extension_and_look_through_compression() {
        let ext = Extensions::builtin();
        for (name, want) in [
            ("model.pkl", Selection::Pickle),
            ("MODEL.PKL", Selection::Pickle),
            ("frame.pkl.gz", Selection::Pickle),
            ("arrays.joblib.lz4", Selection::Pickle),
            ("weights.npz", Selection::Pickle),
            ("checkpoint.pth", Selection::IfPickle),
            ("pytorch_model.bin", Selection::IfPickle),
            ("model.sav", Selection::IfPickle),
            ("data", Selection::IfPickle),
            ("LICENSE", Selection::IfPickle),
            ("notes.gz", Selection::Skip),
            ("README.md", Selection::Skip),
            ("table.csv.gz", Selection::Skip),
            ("x.truth.json", Selection::Skip),
        ] {
            assert_eq!(ext.select(Path::new(name)), want, "{name}");
        }
    }

    #[test]
    fn extensions_narrow_and_drop_files_without_one() {
        let ext = Extensions::only([".PT", "bin", ""]);
        assert_eq!(ext.list(), Some(vec!["bin".to_string(), "pt".to_string()]));
        assert_eq!(ext.select(Path::new("a.pt")), Selection::Pickle);
        assert_eq!(ext.select(Path::new("a.bin")), Selection::IfPickle);
        assert_eq!(ext.select(Path::new("a.pkl")), Selection::Skip);
        assert_eq!(ext.select(Path::new("data")), Selection::Skip);
        // A name the built-in lists do not know is a pickle when the user lists it.
        assert_eq!(
            Extensions::only(["model"]).select(Path::new("x.model")),
            Selection::Pickle
        );
    }

    #[test]
    fn named_files_need_a_pickle_name_or_pickle_content() {
        assert_eq!(select_named(Path::new("a.pkl")), Selection::Pickle);
        assert_eq!(select_named(Path::new("a.txt")), Selection::IfPickle);
        assert_eq!(select_named(Path::new("a")), Selection::IfPickle);
    }

    #[test]
    fn content_test() {
        // pickle.dumps([1, 2], protocol=2) and protocol 0.
        assert_eq!(content(b"\x80\x02]q\x00(K\x01K\x02e."), Content::Pickle);
        assert_eq!(content(b"(lp0\nI1\naI2\na."), Content::Maybe);
        // Text that starts with an opcode letter is only "maybe"; most text is not.
        assert_eq!(content(b"hello world\n"), Content::Maybe);
        assert_eq!(content(b"#!/bin/sh\necho hi\n"), Content::No);
        assert_eq!(content(b"\x7fELF\x02\x01\x01"), Content::No);
        assert_eq!(content(b""), Content::No);
        assert_eq!(
            content(b"\x80\x09"),
            Content::Maybe,
            "PROTO 9 is no protocol"
        );
        assert_eq!(content(b"\x93NUMPY\x01\x00"), Content::Pickle);
    }

    #[test]
    fn compressed_content_is_a_pickle_when_it_decodes_to_proto() {
        let gz = |data: &[u8]| {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        };
        assert_eq!(content(&gz(b"\x80\x04\x95K\x01.")), Content::Pickle);
        assert_eq!(content(&gz(b"just some text")), Content::No);
        let mut lz4 = lz4_flex::frame::FrameEncoder::new(Vec::new());
        lz4.write_all(b"\x80\x05N.").unwrap();
        assert_eq!(content(&lz4.finish().unwrap()), Content::Pickle);
    }
}
