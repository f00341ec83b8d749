//! Which files `lint` checks: every regular file, by content (its first bytes), never by
//! name alone. Names only say how sure to be ([`Selection`]):
//!
//! * [`PICKLE_EXTENSIONS`] (`.pkl .pickle .joblib .pt .npy .npz`, also under a compression
//!   suffix) name pickles and numpy files: one that cannot be read as such is a finding
//!   (`malformed`, saying what the file is instead when it is text, HTML, an image, empty).
//! * Any other file is checked when its content may hold a pickle ([`content`]): a container
//!   magic (zip, 7z, tar, `.npy`, every compression), PROTO, or an opcode byte (protocol 0
//!   and 1 streams have no PROTO); the others are skipped, counted by what they are (text,
//!   binary, an image, …). [`MAYBE_EXTENSIONS`] and files without an extension are where
//!   pickles hide most often: a Git LFS pointer there is reported (`lfs-pointer`).
//!
//! `--extensions` narrows the walk to those extensions; files without an extension are
//! then skipped.

use std::collections::BTreeSet;
use std::path::Path;

use crate::container::{self, ContainerKind, Identity};
use crate::opcode::Opcode;

/// Extensions of files that are pickles or numpy files by name.
pub const PICKLE_EXTENSIONS: &[&str] = &["pkl", "pickle", "joblib", "pt", "npy", "npz"];

/// Extensions that often hold a pickle but are also used for other things (a Git LFS pointer
/// under such a name is reported).
pub const MAYBE_EXTENSIONS: &[&str] = &["p", "pth", "bin", "ckpt", "sav", "dat"];

/// Suffixes of whole-file compression, looked through to the extension before them.
pub const COMPRESSION_SUFFIXES: &[&str] = &["gz", "bz2", "xz", "lzma", "lz4", "zlib", "z"];

/// What a file's name says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Selection {
    /// A pickle by name: checked; if it cannot be read, that is a finding.
    Pickle,
    /// Checked when its content may hold a pickle ([`content`]); skipped otherwise.
    IfPickle,
    /// Not checked (`--extensions` leaves it out).
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
    } else {
        Selection::IfPickle
    }
}

/// Whether a Git LFS pointer under this name stands for a pickle worth reporting: a name on
/// either list, or without an extension.
pub fn pickle_like_name(path: &Path) -> bool {
    effective_extension(path).is_none_or(|ext| {
        PICKLE_EXTENSIONS.contains(&ext.as_str()) || MAYBE_EXTENSIONS.contains(&ext.as_str())
    })
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
    /// A pickle or an archive that may hold one, by its magic: `.npy`, any zip, 7z, tar,
    /// joblib's `ZF`, a stream that starts with PROTO 2–5 (raw or after decompression), or
    /// a compressed stream whose start cannot be decoded. Always checked and reported.
    Pickle,
    /// Starts with a pickle opcode but not with PROTO (protocol 0 and 1 pickles do, and so
    /// does a lot of text), raw or after decompression: a pickle if it reads as one, or
    /// shows [`container::pickle_evidence`] when it fails.
    Maybe,
    /// Not a pickle: what it is.
    No(Identity),
}

/// How many bytes of a file the content test needs (tar's magic is at 257).
pub const HEAD_LEN: usize = 4096;

/// How many decoded bytes of a compressed file the content test looks at.
const DECODED_HEAD_LEN: usize = 512;

/// The content test: what the first bytes ([`HEAD_LEN`] are enough) say.
///
/// Protocol 2 and later pickles begin with PROTO (`\x80` and the protocol, PEP 307), which
/// is what `pickle.dump`, joblib, pandas and `torch.save` write by default; protocol 0 and
/// 1 streams begin with an opcode that is often a printable letter ([`Content::Maybe`]).
/// Archives are always worth opening. For a compressed stream the first decoded bytes are
/// tested the same way: a gzipped CSV is text, not a pickle.
pub fn content(head: &[u8]) -> Content {
    // Zip and `.npy` by their magic alone: reading a zip's central directory (what
    // `sniff` does to tell torch from npz) is the check's job, not the selection's.
    if is_zip_or_npy(head) {
        return Content::Pickle;
    }
    let kind = container::sniff(head);
    if kind.is_compressed() {
        match container::decoded_prefix(kind, head, DECODED_HEAD_LEN) {
            Some(prefix) if is_zip_or_npy(&prefix) => Content::Pickle,
            Some(prefix) => match container::sniff(&prefix) {
                ContainerKind::Pickle => stream_content(&prefix),
                _ => Content::Pickle,
            },
            None => Content::Pickle,
        }
    } else {
        stream_content(head)
    }
}

fn is_zip_or_npy(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04")
        || bytes.starts_with(b"PK\x05\x06")
        || bytes.starts_with(container::NPY_MAGIC)
}

/// The content test of a stream that [`container::sniff`] calls a pickle (a file's start,
/// or a compressed file's decoded start).
fn stream_content(bytes: &[u8]) -> Content {
    if starts_with_proto(bytes) || container::archive_magic(bytes).is_some() {
        Content::Pickle
    } else if bytes
        .first()
        .is_some_and(|&b| Opcode::from_byte(b).is_some())
    {
        Content::Maybe
    } else {
        Content::No(container::identify(bytes))
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
    fn names_only_say_how_sure_to_be_never_skip() {
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
            // The content decides for these: none is skipped by name.
            ("notes.gz", Selection::IfPickle),
            ("README.md", Selection::IfPickle),
            ("table.csv.gz", Selection::IfPickle),
            ("x.truth.json", Selection::IfPickle),
            ("checkpoint.pth.tar", Selection::IfPickle),
            ("weights.model", Selection::IfPickle),
            ("clf.pickle5", Selection::IfPickle),
            ("model.pkl.zip", Selection::IfPickle),
        ] {
            assert_eq!(ext.select(Path::new(name)), want, "{name}");
        }
        assert!(pickle_like_name(Path::new("model.bin")));
        assert!(pickle_like_name(Path::new("weights")));
        assert!(!pickle_like_name(Path::new("logo.png")));
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
        assert_eq!(
            content(b"#!/bin/sh\necho hi\n"),
            Content::No(Identity::Text)
        );
        assert_eq!(
            content(b"\x7fELF\x02\x01\x01"),
            Content::No(Identity::Binary)
        );
        assert_eq!(content(b""), Content::No(Identity::Empty));
        assert_eq!(
            content(b"\x80\x09"),
            Content::Maybe,
            "PROTO 9 is no protocol"
        );
        assert_eq!(content(b"\x93NUMPY\x01\x00"), Content::Pickle);
        // Archives a loader opens are always checked.
        assert_eq!(content(b"PK\x03\x04\x14\x00"), Content::Pickle);
        assert_eq!(content(b"7z\xbc\xaf\x27\x1c\x00\x04"), Content::Pickle);
        let mut tar = vec![0u8; 1024];
        tar[..9].copy_from_slice(b"model.pkl");
        tar[257..262].copy_from_slice(b"ustar");
        assert_eq!(content(&tar), Content::Pickle);
        assert_eq!(
            content(b"version https://git-lfs.github.com/spec/v1\noid sha256:00\n"),
            Content::No(Identity::LfsPointer)
        );
    }

    #[test]
    fn compressed_content_is_a_pickle_when_it_decodes_to_proto() {
        let gz = |data: &[u8]| {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        };
        assert_eq!(content(&gz(b"\x80\x04\x95K\x01.")), Content::Pickle);
        // A gzipped text starting with an opcode letter is a "maybe"; one that does not, text.
        assert_eq!(content(&gz(b"just some text")), Content::Maybe);
        assert_eq!(
            content(&gz(b"# a gzipped csv\n1,2\n")),
            Content::No(Identity::Text)
        );
        // Decoded protocol 0 is a "maybe", not a skip.
        assert_eq!(content(&gz(b"cos\nsystem\n(S'x'\ntR.")), Content::Maybe);
        let mut lz4 = lz4_flex::frame::FrameEncoder::new(Vec::new());
        lz4.write_all(b"\x80\x05N.").unwrap();
        assert_eq!(content(&lz4.finish().unwrap()), Content::Pickle);
    }
}
