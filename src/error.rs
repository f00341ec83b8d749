//! The library's one error type: a kind to match on, a byte offset, and a message.
//!
//! Modelled on wasmparser's `BinaryReaderError`: boxed so `Result<T, Error>` stays one
//! pointer wide on the hot path, constructors `#[cold]`, and the offset always shown, except
//! for an I/O error ([`Error::io`]), which has no place in the input but keeps its
//! [`std::io::Error`] as its [`source`](std::error::Error::source).

use std::fmt;
use std::io;
use std::sync::Arc;

use crate::limits::Limit;

/// What went wrong, for callers and tests that match on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A byte that is not an opcode of any protocol.
    UnknownOpcode,
    /// The input ended inside an opcode's argument, or before STOP.
    Truncated,
    /// A newline-terminated argument has no newline before the end of input.
    MissingNewline,
    /// Text that must be UTF-8 is not.
    InvalidUtf8,
    /// A length prefix (or FRAME length) points past the end of the input.
    LengthPastEnd,
    /// A signed length prefix is negative.
    NegativeLength,
    /// An argument is well-formed bytes but not a valid value (e.g. `I12x\n`).
    InvalidArgument,
    /// The opcode stream is inconsistent: stack underflow, missing MARK.
    Inconsistent,
    /// A GET names a memo key that no PUT stored (in this pickle, or, for a stream of
    /// pickles, in the ones before it).
    MissingMemoKey,
    /// Valid framing, but something CPython's unpickler refuses (PROTO 9, odd DICT, …).
    Unsupported,
    /// A resource limit was reached: which one (its flag, default and policy key are in
    /// [`crate::limits::LIMITS`]).
    LimitExceeded(Limit),
    /// Reading or writing a file failed: the error has no offset, and its
    /// [`source`](std::error::Error::source) is the [`std::io::Error`] ([`Error::io`]).
    Io,
    /// pklinspect broke one of its own invariants (a bug, never the input's fault); reported
    /// as an error instead of a panic.
    Internal,
}

/// An error with the byte offset where it was found.
#[derive(Clone, PartialEq, Eq)]
pub struct Error {
    inner: Box<Inner>,
}

#[derive(Clone)]
struct Inner {
    kind: ErrorKind,
    /// `None` for an I/O error: it happened outside the input.
    offset: Option<u64>,
    message: String,
    /// Shared so that the error stays `Clone` (`io::Error` is not).
    source: Option<Arc<io::Error>>,
}

impl PartialEq for Inner {
    /// Two I/O errors are equal when their messages and the kinds of their sources are.
    fn eq(&self, other: &Inner) -> bool {
        self.kind == other.kind
            && self.offset == other.offset
            && self.message == other.message
            && self.source.as_ref().map(|e| e.kind()) == other.source.as_ref().map(|e| e.kind())
    }
}

impl Eq for Inner {}

impl Error {
    /// Makes an error of `kind` at `offset`.
    #[cold]
    pub fn new(kind: ErrorKind, offset: u64, message: impl Into<String>) -> Error {
        Error {
            inner: Box::new(Inner {
                kind,
                offset: Some(offset),
                message: message.into(),
                source: None,
            }),
        }
    }

    /// Makes an [`ErrorKind::Io`] error: `message` says what could not be done to which
    /// file (`cannot write out/index.json: …`); `source` is kept as the error's
    /// [`source`](std::error::Error::source). It has no offset.
    #[cold]
    pub fn io(message: impl Into<String>, source: io::Error) -> Error {
        Error {
            inner: Box::new(Inner {
                kind: ErrorKind::Io,
                offset: None,
                message: message.into(),
                source: Some(Arc::new(source)),
            }),
        }
    }

    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// The byte offset in the input where the failing item starts; 0 for an error that
    /// has none (an I/O error: see [`Error::has_offset`]).
    pub fn offset(&self) -> u64 {
        self.inner.offset.unwrap_or(0)
    }

    /// Whether the error has a place in the input (every kind but [`ErrorKind::Io`]).
    pub fn has_offset(&self) -> bool {
        self.inner.offset.is_some()
    }

    /// The message without the offset.
    pub fn message(&self) -> &str {
        &self.inner.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.inner.offset {
            Some(offset) => write!(
                f,
                "{} (at offset {offset} = 0x{offset:x})",
                self.inner.message
            ),
            None => f.write_str(&self.inner.message),
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.inner.kind)
            .field("offset", &self.inner.offset)
            .field("message", &self.inner.message)
            .field("source", &self.inner.source)
            .finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner
            .source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Shorthand used throughout the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_io_error_keeps_its_source_and_shows_no_offset() {
        let e = Error::io(
            "cannot write out/a.npy: disk full",
            io::Error::new(io::ErrorKind::StorageFull, "disk full"),
        );
        assert_eq!(e.kind(), ErrorKind::Io);
        assert!(!e.has_offset());
        assert_eq!(e.to_string(), "cannot write out/a.npy: disk full");
        let source = std::error::Error::source(&e).and_then(|s| s.downcast_ref::<io::Error>());
        assert_eq!(
            source.map(io::Error::kind),
            Some(io::ErrorKind::StorageFull)
        );
        assert_eq!(e.clone(), e);
    }

    #[test]
    fn an_input_error_shows_its_offset_and_has_no_source() {
        let e = Error::new(ErrorKind::Truncated, 26, "pickle ends inside BINUNICODE");
        assert!(e.has_offset());
        assert_eq!(
            e.to_string(),
            "pickle ends inside BINUNICODE (at offset 26 = 0x1a)"
        );
        assert!(std::error::Error::source(&e).is_none());
    }
}
