//! The library's one error type: a kind to match on, a byte offset, and a message.
//!
//! Modelled on wasmparser's `BinaryReaderError`: boxed so `Result<T, Error>` stays one
//! pointer wide on the hot path, constructors `#[cold]`, and the offset always shown.

use std::fmt;

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
    /// Reading the input failed.
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

#[derive(Clone, PartialEq, Eq)]
struct Inner {
    kind: ErrorKind,
    offset: u64,
    message: String,
}

impl Error {
    /// Makes an error of `kind` at `offset`.
    #[cold]
    pub fn new(kind: ErrorKind, offset: u64, message: impl Into<String>) -> Error {
        Error {
            inner: Box::new(Inner {
                kind,
                offset,
                message: message.into(),
            }),
        }
    }

    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// The byte offset in the input where the failing item starts.
    pub fn offset(&self) -> u64 {
        self.inner.offset
    }

    /// The message without the offset.
    pub fn message(&self) -> &str {
        &self.inner.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (at offset {} = 0x{:x})",
            self.inner.message, self.inner.offset, self.inner.offset
        )
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.inner.kind)
            .field("offset", &self.inner.offset)
            .field("message", &self.inner.message)
            .finish()
    }
}

impl std::error::Error for Error {}

/// Shorthand used throughout the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;
