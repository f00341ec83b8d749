//! Typed access to an opcode's argument.
//!
//! The reader decodes each argument by the kind the opcode table gives it, so asking an
//! opcode for the wrong kind is a bug in pklinspect, never the input's fault: it is an
//! [`ErrorKind::Internal`] error, not a panic and not a silently skipped opcode.

use crate::error::{Error, ErrorKind, Result};
use crate::reader::{Arg, Op};

/// The argument of an [`Op`], by the kind its opcode reads.
pub(super) trait OpArgs<'data> {
    /// `uint1`, `uint2`, `uint4`, `uint8`.
    fn uint(&self) -> Result<u64>;
    /// `int4`.
    fn int4(&self) -> Result<i32>;
    /// `float8`.
    fn float8(&self) -> Result<f64>;
    /// A newline-terminated argument, without the newline.
    fn line(&self) -> Result<&'data [u8]>;
    /// GLOBAL's and INST's module and name.
    fn pair(&self) -> Result<(&'data str, &'data str)>;
    /// Counted bytes (`string1/4`, `bytes1/4/8`, `bytearray8`, `long1/4`).
    fn bytes(&self) -> Result<&'data [u8]>;
    /// Counted UTF-8 that may hold encoded surrogates (`unicodestring1/4/8`).
    fn text(&self) -> Result<&'data [u8]>;
}

impl<'data> OpArgs<'data> for Op<'data> {
    #[inline]
    fn uint(&self) -> Result<u64> {
        match self.arg {
            Arg::UInt(v) => Ok(v),
            _ => Err(mismatch(self, "an unsigned integer")),
        }
    }

    #[inline]
    fn int4(&self) -> Result<i32> {
        match self.arg {
            Arg::Int(v) => Ok(v),
            _ => Err(mismatch(self, "a signed integer")),
        }
    }

    #[inline]
    fn float8(&self) -> Result<f64> {
        match self.arg {
            Arg::Float(v) => Ok(v),
            _ => Err(mismatch(self, "a float")),
        }
    }

    #[inline]
    fn line(&self) -> Result<&'data [u8]> {
        match self.arg {
            Arg::Line(line) => Ok(line),
            _ => Err(mismatch(self, "a line")),
        }
    }

    #[inline]
    fn pair(&self) -> Result<(&'data str, &'data str)> {
        match self.arg {
            Arg::Pair(module, name) => Ok((module, name)),
            _ => Err(mismatch(self, "a module and a name")),
        }
    }

    #[inline]
    fn bytes(&self) -> Result<&'data [u8]> {
        match self.arg {
            Arg::Bytes(bytes) => Ok(bytes),
            _ => Err(mismatch(self, "counted bytes")),
        }
    }

    #[inline]
    fn text(&self) -> Result<&'data [u8]> {
        match self.arg {
            Arg::Text(text) => Ok(text),
            _ => Err(mismatch(self, "counted UTF-8")),
        }
    }
}

#[cold]
fn mismatch(op: &Op<'_>, expected: &str) -> Error {
    let found = match op.arg {
        Arg::None => "no argument",
        Arg::UInt(_) => "an unsigned integer",
        Arg::Int(_) => "a signed integer",
        Arg::Float(_) => "a float",
        Arg::Line(_) => "a line",
        Arg::Pair(..) => "a module and a name",
        Arg::Bytes(_) => "counted bytes",
        Arg::Text(_) => "counted UTF-8",
    };
    Error::new(
        ErrorKind::Internal,
        op.offset as u64,
        format!(
            "internal error: {} read as {expected}, but its argument is {found}",
            op.opcode
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::opcode::Opcode;

    #[test]
    fn asking_for_the_wrong_kind_is_an_internal_error() {
        let op = Op {
            offset: 7,
            opcode: Opcode::BININT1,
            arg: Arg::UInt(3),
            end: 9,
        };
        assert_eq!(op.uint().ok(), Some(3));
        let e = op.line().unwrap_err();
        assert_eq!((e.kind(), e.offset()), (ErrorKind::Internal, 7));
        assert!(e.message().contains("BININT1"), "{e}");
    }
}
