//! What a file is when it is not a pickle: a Git LFS pointer, an HTML page, an image, an
//! empty file, plain text. `lint` skips such files by reason (or reports them when their
//! name or the user says "pickle"), and `explain`/`extract` say what the file is instead
//! of an opcode error (`unknown opcode byte 0x76` is the `v` of an LFS pointer's
//! `version https://git-lfs.github.com/spec/v1`).
//!
//! Also here: the magic numbers of the archives a loader may find pickles in that
//! [`super::sniff`] does not name ([`archive_magic`]), and whether bytes that failed to
//! load as a pickle still read like one ([`pickle_evidence`]).

use super::{sniff, ContainerKind};
use crate::error::{Error, ErrorKind};
use crate::opcode::Opcode;
use crate::reader::{Arg, OpReader};

/// What a file that is not a pickle is, from its first bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Identity {
    /// No bytes at all.
    Empty,
    /// A Git LFS pointer (`version https://git-lfs.github.com/spec/v1`): the real file was
    /// not fetched (`actions/checkout` leaves pointers unless `lfs: true`).
    LfsPointer,
    /// An HTML (or XML) document: a login or error page saved under a model's name.
    Html,
    /// A PNG, JPEG, GIF or WebP image.
    Image,
    /// Text (UTF-8 without control characters other than tab, CR, LF and form feed).
    Text,
    /// Anything else that is not a pickle.
    Binary,
}

/// The first line of a Git LFS pointer file (git-lfs `docs/spec.md`).
pub const LFS_POINTER_PREFIX: &[u8] = b"version https://git-lfs.github.com/spec/v1";

impl Identity {
    /// The key used in `lint`'s skip counts (`skipped_by_reason`).
    pub fn reason(self) -> &'static str {
        match self {
            Identity::Empty => "empty",
            Identity::LfsPointer => "lfs-pointer",
            Identity::Html => "html",
            Identity::Image => "image",
            Identity::Text => "text",
            Identity::Binary => "binary",
        }
    }
}

/// What `bytes` (a whole file, or its first few hundred bytes) are, among the things a
/// pickle is mistaken for ([`Identity::Binary`] when none of them). Call it on bytes that
/// did not read as a pickle: a protocol 0 pickle is text too.
pub fn identify(bytes: &[u8]) -> Identity {
    if bytes.is_empty() {
        return Identity::Empty;
    }
    if bytes.starts_with(LFS_POINTER_PREFIX) {
        return Identity::LfsPointer;
    }
    if is_image(bytes) {
        return Identity::Image;
    }
    let text = text_prefix(bytes);
    if let Some(text) = text {
        if is_markup(text) {
            return Identity::Html;
        }
        return Identity::Text;
    }
    Identity::Binary
}

/// A one-line description of what the file is, for messages: `a Git LFS pointer …`.
pub fn describe(identity: Identity, bytes: &[u8]) -> String {
    match identity {
        Identity::Empty => "an empty file".to_string(),
        Identity::LfsPointer => "a Git LFS pointer, not the file it stands for: fetch the LFS \
                                 objects (`git lfs pull`, or `lfs: true` in actions/checkout)"
            .to_string(),
        Identity::Html => format!("an HTML document (starts with {})", quote_start(bytes)),
        Identity::Image => format!("{} image", image_kind(bytes).unwrap_or("an")),
        Identity::Text => format!("plain text (starts with {})", quote_start(bytes)),
        Identity::Binary => "binary data of an unknown format".to_string(),
    }
}

fn is_image(bytes: &[u8]) -> bool {
    image_kind(bytes).is_some()
}

fn image_kind(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("a PNG")
    } else if bytes.starts_with(b"\xff\xd8\xff") {
        Some("a JPEG")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("a GIF")
    } else if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && bytes.get(8..12) == Some(b"WEBP") {
        Some("a WebP")
    } else {
        None
    }
}

/// The bytes as text, if they are text: valid UTF-8 (a character cut at the end of a
/// prefix is allowed) without NUL or other control characters besides tab, LF, CR, FF.
fn text_prefix(bytes: &[u8]) -> Option<&str> {
    let head = bytes.get(..512).unwrap_or(bytes);
    let text = match std::str::from_utf8(head) {
        Ok(text) => text,
        // A character cut by the 512-byte window is still text.
        Err(e) if e.error_len().is_none() && head.len() < bytes.len() => {
            std::str::from_utf8(head.get(..e.valid_up_to())?).ok()?
        }
        Err(_) => return None,
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    text.chars()
        .all(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r' | '\x0c'))
        .then_some(text)
}

fn is_markup(text: &str) -> bool {
    let start = text.trim_start();
    let lower: String = start
        .chars()
        .take(15)
        .collect::<String>()
        .to_ascii_lowercase();
    lower.starts_with("<!doctype html")
        || lower.starts_with("<html")
        || lower.starts_with("<head")
        || lower.starts_with("<body")
        || lower.starts_with("<?xml")
        || lower.starts_with("<!--")
}

/// The first line (at most 24 characters), quoted.
fn quote_start(bytes: &[u8]) -> String {
    let head = bytes.get(..96).unwrap_or(bytes);
    let text = String::from_utf8_lossy(head);
    let line = text.trim_start().lines().next().unwrap_or("");
    let mut short: String = line.chars().take(24).collect();
    if short.len() < line.len() {
        short.push('…');
    }
    format!("{short:?}")
}

/// Archives and compressions that [`super::sniff`] does not name but that may hold pickles
/// (7z, tar, zstd, joblib's legacy `ZF` zlib files): their name, from the magic bytes.
pub fn archive_magic(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"7z\xbc\xaf\x27\x1c") {
        Some("7z")
    } else if bytes.get(257..262) == Some(b"ustar") {
        Some("tar")
    } else if bytes.starts_with(b"\x28\xb5\x2f\xfd") {
        // MARK then 0xb5, which is no opcode: never a pickle.
        Some("zstd")
    } else if bytes.starts_with(b"ZF0x") {
        // joblib < 0.10 `ZF` files: `ZF`, the length in hex, then a zlib stream.
        Some("joblib-zf")
    } else {
        None
    }
}

/// Whether bytes that start with an opcode but failed to load as a pickle still read like
/// one, so that the failure is worth a `malformed` finding rather than a "not a pickle":
/// the opcode reader meets a GLOBAL or INST naming a dotted Python identifier (a loader
/// would have imported it before failing), or binary (non-text) bytes read as opcodes all
/// the way to a STOP. Text that merely starts with an opcode letter (`hello`, `import os`)
/// breaks down before either.
pub fn pickle_evidence(bytes: &[u8]) -> bool {
    let text = text_prefix(bytes).is_some();
    let mut reader = OpReader::new(bytes, 0).without_frame_check();
    while let Some(op) = reader.next_op() {
        let Ok(op) = op else { return false };
        match (op.opcode, op.arg) {
            (Opcode::GLOBAL | Opcode::INST, Arg::Pair(module, name))
                if is_dotted_identifier(module) && is_dotted_identifier(name) =>
            {
                return true;
            }
            (Opcode::STOP, _) => return !text,
            _ => {}
        }
    }
    false
}

/// For the bytes of an input that failed to load as a pickle with `error`: an error that
/// says what the input is instead (`not a pickle but an empty file`), when the bytes are
/// one of the things a pickle is mistaken for ([`identify`]) and do not read like a pickle
/// ([`pickle_evidence`]). `None`: the loader's error says it best (a container, binary data,
/// a damaged pickle, a limit).
pub fn not_a_pickle(bytes: &[u8], error: &Error) -> Option<Error> {
    // A limit, an I/O error or a bug is not about what the bytes are.
    if matches!(
        error.kind(),
        ErrorKind::LimitExceeded(_) | ErrorKind::Io | ErrorKind::Internal
    ) || sniff(bytes) != ContainerKind::Pickle
        || archive_magic(bytes).is_some()
        || matches!(bytes, [0x80, ..])
        || pickle_evidence(bytes)
    {
        return None;
    }
    match identify(bytes) {
        Identity::Binary => None,
        // A protocol 0 pickle is text too: keep what reading it as one found, and where.
        Identity::Text => Some(Error::new(
            error.kind(),
            error.offset(),
            format!(
                "not a pickle but {} (read as a pickle: {})",
                describe(Identity::Text, bytes),
                error.message()
            ),
        )),
        identity => Some(Error::new(
            error.kind(),
            0,
            format!("not a pickle but {}", describe(identity, bytes)),
        )),
    }
}

fn is_dotted_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.split('.').all(|part| {
            let mut chars = part.chars();
            chars.next().is_some_and(|c| c == '_' || c.is_alphabetic())
                && chars.all(|c| c == '_' || c.is_alphanumeric())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_mistaken_for_a_pickle_is_recognised() {
        let lfs = b"version https://git-lfs.github.com/spec/v1\noid sha256:4d7a\nsize 12345\n";
        assert_eq!(identify(lfs), Identity::LfsPointer);
        assert_eq!(identify(b""), Identity::Empty);
        assert_eq!(identify(b"\n<!DOCTYPE html>\n<html>"), Identity::Html);
        assert_eq!(identify(b"<html><body>Sign in"), Identity::Html);
        assert_eq!(identify(b"\x89PNG\r\n\x1a\n\x00\x00"), Identity::Image);
        assert_eq!(identify(b"\xff\xd8\xff\xe0\x00\x10JFIF"), Identity::Image);
        assert_eq!(identify(b"GIF89a\x01\x00"), Identity::Image);
        assert_eq!(identify(b"hello world\n"), Identity::Text);
        assert_eq!(identify("caf\u{e9}\n".as_bytes()), Identity::Text);
        assert_eq!(identify(b"\x7fELF\x02\x01"), Identity::Binary);
        assert!(describe(Identity::LfsPointer, lfs).contains("lfs: true"));
        assert_eq!(
            describe(Identity::Text, b"hello world\n"),
            "plain text (starts with \"hello world\")"
        );
    }

    #[test]
    fn archive_magics() {
        assert_eq!(archive_magic(b"7z\xbc\xaf\x27\x1c\x00\x04"), Some("7z"));
        assert_eq!(archive_magic(b"\x28\xb5\x2f\xfd\x00"), Some("zstd"));
        let mut tar = vec![0u8; 512];
        tar[257..262].copy_from_slice(b"ustar");
        assert_eq!(archive_magic(&tar), Some("tar"));
        assert_eq!(archive_magic(b"(lp0\n."), None);
    }

    #[test]
    fn a_clearer_error_only_for_what_is_not_a_pickle() {
        let opcode = Error::new(ErrorKind::UnknownOpcode, 0, "unknown opcode byte 0x76");
        let lfs = b"version https://git-lfs.github.com/spec/v1\noid sha256:00\nsize 1\n";
        let e = not_a_pickle(lfs, &opcode).unwrap();
        assert!(e
            .message()
            .starts_with("not a pickle but a Git LFS pointer"));
        // Text keeps what the reader found, and where.
        let bad = Error::new(
            ErrorKind::InvalidArgument,
            0,
            "STRING argument is not quoted",
        );
        let e = not_a_pickle(b"S'abc\n.", &bad).unwrap();
        assert!(e.message().contains("plain text") && e.message().contains("not quoted"));
        // A limit is about the limit, whatever the bytes.
        let limit = Error::new(
            ErrorKind::LimitExceeded(crate::limits::Limit::Depth),
            3,
            "too deep",
        );
        assert!(not_a_pickle(b"hello", &limit).is_none());
        // A damaged binary pickle keeps its error.
        assert!(not_a_pickle(b"\x80\x04\x95", &opcode).is_none());
    }

    #[test]
    fn evidence_of_a_pickle_in_bytes_that_failed() {
        // A protocol 0 call of os.system cut before STOP: a loader ran it, then failed.
        assert!(pickle_evidence(b"cos\nsystem\n(S'echo hi'\ntR"));
        // Protocol 1 bytes that read to STOP (the machine may still refuse them).
        assert!(pickle_evidence(b"]q\x00(K\x01K\x02e0."));
        for text in [
            &b"hello world, this mentions os.system\n"[..],
            b"import os; os.system('echo')\n",
            b"(c) 2020 Someone\nAll rights reserved.\n",
            b"all:\n\tcc -o x x.c\n",
            b"",
        ] {
            assert!(!pickle_evidence(text), "{text:?}");
        }
    }
}
