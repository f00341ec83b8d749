//! The opcode reader: turns bytes into `(offset, opcode, argument)` without copying.
//!
//! Arguments borrow from the input. Every length is checked against what remains
//! before it is used, so a length prefix of 2**64-1 costs nothing and cannot panic.
//! Text that CPython's unpickler requires to be UTF-8 (GLOBAL and INST names,
//! BINUNICODE*) is validated here (long text with SIMD, `simdutf8`), with `surrogatepass` for BINUNICODE*
//! as CPython does; the machine defers BINUNICODE* to itself
//! ([`OpReader::deferring_text_check`]) so that each text is validated once.
//!
//! FRAME is read as `pickletools` and the C unpickler reading from memory read it: its
//! length is checked against the input, and the opcodes inside are read on regardless of
//! where the frame ends. Other loaders honour frame ends differently; the analysis reports
//! where that matters (`analysis::differential`).

use crate::error::{Error, ErrorKind, Result};
use crate::opcode::{ArgKind, Opcode};
use crate::pytext;

/// An opcode's argument, decoded only as far as the framing requires.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Arg<'data> {
    /// No argument.
    None,
    /// `uint1`, `uint2`, `uint4` or `uint8`.
    UInt(u64),
    /// `int4`.
    Int(i32),
    /// `float8`.
    Float(f64),
    /// A newline-terminated argument, without its newline: `decimalnl_*`, `floatnl`,
    /// `stringnl`, `stringnl_noescape`, `unicodestringnl`. Interpreted by the consumer.
    Line(&'data [u8]),
    /// GLOBAL and INST: module and name, each validated as UTF-8.
    Pair(&'data str, &'data str),
    /// Counted bytes: `string1/4`, `bytes1/4/8`, `bytearray8`, and the two's-complement
    /// payload of `long1/4`.
    Bytes(&'data [u8]),
    /// Counted UTF-8 (`unicodestring1/4/8`); may hold encoded surrogates, which
    /// CPython accepts (`surrogatepass`). Decode with [`pytext::decode_utf8_surrogatepass`].
    Text(&'data [u8]),
}

/// One decoded opcode.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Op<'data> {
    /// Offset of the opcode byte in the input.
    pub offset: usize,
    /// The opcode.
    pub opcode: Opcode,
    /// Its argument.
    pub arg: Arg<'data>,
    /// Offset just past the argument.
    pub end: usize,
}

/// Reads the opcodes of one pickle, from a start offset through STOP.
///
/// Iterating yields `Ok(op)` for each opcode, then ends after STOP; on malformed input it
/// yields one `Err` and ends. [`OpReader::position`] then tells where the next pickle of a
/// concatenated file would start.
#[derive(Clone, Debug)]
pub struct OpReader<'data> {
    data: &'data [u8],
    pos: usize,
    done: bool,
    check_frames: bool,
    check_text: bool,
}

impl<'data> OpReader<'data> {
    /// A reader over `data` starting at byte `start`. Offsets are indices into `data`.
    pub fn new(data: &'data [u8], start: usize) -> OpReader<'data> {
        OpReader {
            data,
            pos: start.min(data.len()),
            done: false,
            check_frames: true,
            check_text: true,
        }
    }

    /// Leaves BINUNICODE* arguments unvalidated: the caller validates each once itself
    /// ([`check_text`]), as the machine does while it keeps the text.
    pub(crate) fn deferring_text_check(mut self) -> OpReader<'data> {
        self.check_text = false;
        self
    }

    /// Accepts FRAME lengths that run past the end of input. CPython's unpickler rejects
    /// them, but `pickletools.dis` does not check them, and `dis` must list what it lists.
    pub fn without_frame_check(mut self) -> OpReader<'data> {
        self.check_frames = false;
        self
    }

    /// The offset of the next byte to read.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// The whole input.
    pub fn data(&self) -> &'data [u8] {
        self.data
    }

    fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    /// Takes exactly `n` bytes of a fixed-size argument.
    fn fixed<const N: usize>(&mut self, op: Opcode, at: usize) -> Result<[u8; N]> {
        let bytes: [u8; N] = self
            .data
            .get(self.pos..)
            .and_then(|rest| rest.get(..N))
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::Truncated,
                    at as u64,
                    format!(
                        "truncated {} argument: needs {N} bytes, {} remain",
                        op.name(),
                        self.remaining()
                    ),
                )
            })?;
        self.pos += N;
        Ok(bytes)
    }

    /// Takes `len` bytes announced by a length prefix, checking the length first.
    fn counted(&mut self, op: Opcode, at: usize, len: u64) -> Result<&'data [u8]> {
        let remaining = self.remaining();
        if len > remaining as u64 {
            return Err(Error::new(
                ErrorKind::LengthPastEnd,
                at as u64,
                format!(
                    "{} claims {len} bytes, but only {remaining} remain",
                    op.name()
                ),
            ));
        }
        let start = self.pos;
        self.pos += len as usize;
        Ok(&self.data[start..self.pos])
    }

    /// Takes a newline-terminated line, returning it without the newline.
    fn line(&mut self, op: Opcode, at: usize) -> Result<&'data [u8]> {
        let rest = &self.data[self.pos..];
        match memchr::memchr(b'\n', rest) {
            Some(n) => {
                self.pos += n + 1;
                Ok(&rest[..n])
            }
            None => Err(Error::new(
                ErrorKind::MissingNewline,
                at as u64,
                format!("{} argument has no terminating newline", op.name()),
            )),
        }
    }

    fn utf8_line(&mut self, op: Opcode, at: usize) -> Result<&'data str> {
        let line = self.line(op, at)?;
        std::str::from_utf8(line).map_err(|e| {
            Error::new(
                ErrorKind::InvalidUtf8,
                at as u64,
                format!(
                    "{} name is not valid UTF-8 (bad byte at argument offset {})",
                    op.name(),
                    e.valid_up_to()
                ),
            )
        })
    }

    fn read_arg(&mut self, op: Opcode, at: usize) -> Result<Arg<'data>> {
        Ok(match op.info().arg {
            ArgKind::None => Arg::None,
            ArgKind::Uint1 => Arg::UInt(u64::from(self.fixed::<1>(op, at)?[0])),
            ArgKind::Uint2 => Arg::UInt(u64::from(u16::from_le_bytes(self.fixed(op, at)?))),
            ArgKind::Uint4 => Arg::UInt(u64::from(u32::from_le_bytes(self.fixed(op, at)?))),
            ArgKind::Uint8 => {
                let len = u64::from_le_bytes(self.fixed(op, at)?);
                if op == Opcode::FRAME && self.check_frames && len > self.remaining() as u64 {
                    return Err(Error::new(
                        ErrorKind::LengthPastEnd,
                        at as u64,
                        format!(
                            "FRAME of {len} bytes runs past the end of input ({} bytes remain)",
                            self.remaining()
                        ),
                    ));
                }
                Arg::UInt(len)
            }
            ArgKind::Int4 => Arg::Int(i32::from_le_bytes(self.fixed(op, at)?)),
            ArgKind::Float8 => Arg::Float(f64::from_be_bytes(self.fixed(op, at)?)),
            ArgKind::Stringnl
            | ArgKind::StringnlNoescape
            | ArgKind::Unicodestringnl
            | ArgKind::DecimalnlShort
            | ArgKind::DecimalnlLong
            | ArgKind::Floatnl => Arg::Line(self.line(op, at)?),
            ArgKind::StringnlNoescapePair => {
                let module = self.utf8_line(op, at)?;
                let name = self.utf8_line(op, at)?;
                Arg::Pair(module, name)
            }
            ArgKind::String1 | ArgKind::Bytes1 | ArgKind::Long1 => {
                let len = self.fixed::<1>(op, at)?[0];
                Arg::Bytes(self.counted(op, at, u64::from(len))?)
            }
            ArgKind::String4 | ArgKind::Long4 => {
                let len = i32::from_le_bytes(self.fixed(op, at)?);
                let len = u64::try_from(len).map_err(|_| {
                    Error::new(
                        ErrorKind::NegativeLength,
                        at as u64,
                        format!("{} has a negative length: {len}", op.name()),
                    )
                })?;
                Arg::Bytes(self.counted(op, at, len)?)
            }
            ArgKind::Bytes4 => {
                let len = u32::from_le_bytes(self.fixed(op, at)?);
                Arg::Bytes(self.counted(op, at, u64::from(len))?)
            }
            ArgKind::Bytes8 | ArgKind::Bytearray8 => {
                let len = u64::from_le_bytes(self.fixed(op, at)?);
                Arg::Bytes(self.counted(op, at, len)?)
            }
            ArgKind::Unicodestring1 | ArgKind::Unicodestring4 | ArgKind::Unicodestring8 => {
                let len = match op.info().arg {
                    ArgKind::Unicodestring1 => u64::from(self.fixed::<1>(op, at)?[0]),
                    ArgKind::Unicodestring4 => u64::from(u32::from_le_bytes(self.fixed(op, at)?)),
                    _ => u64::from_le_bytes(self.fixed(op, at)?),
                };
                let text = self.counted(op, at, len)?;
                if self.check_text {
                    check_text(text, op, at)?;
                }
                Arg::Text(text)
            }
        })
    }

    /// Reads the next opcode, or `None` after STOP.
    pub fn next_op(&mut self) -> Option<Result<Op<'data>>> {
        if self.done {
            return None;
        }
        let at = self.pos;
        let Some(&byte) = self.data.get(at) else {
            self.done = true;
            return Some(Err(Error::new(
                ErrorKind::Truncated,
                at as u64,
                "pickle ended before STOP",
            )));
        };
        let Some(opcode) = Opcode::from_byte(byte) else {
            self.done = true;
            return Some(Err(Error::new(
                ErrorKind::UnknownOpcode,
                at as u64,
                format!("unknown opcode byte 0x{byte:02x}"),
            )));
        };
        self.pos += 1;
        match self.read_arg(opcode, at) {
            Ok(arg) => {
                self.done = opcode == Opcode::STOP;
                Some(Ok(Op {
                    offset: at,
                    opcode,
                    arg,
                    end: self.pos,
                }))
            }
            Err(e) => {
                self.done = true;
                // Leave the position at the failing opcode so callers can report it.
                self.pos = at;
                Some(Err(e))
            }
        }
    }
}

/// Text below this many bytes is validated with `std` (no SIMD set-up, faster on the short
/// names and keys most pickles are made of), longer text with `simdutf8`.
const SIMD_FROM: usize = 64;

/// UTF-8 validation, SIMD for long text.
#[inline]
fn utf8(bytes: &[u8]) -> std::result::Result<&str, ()> {
    if bytes.len() < SIMD_FROM {
        std::str::from_utf8(bytes).map_err(|_| ())
    } else {
        simdutf8::basic::from_utf8(bytes).map_err(|_| ())
    }
}

/// Validates a BINUNICODE* argument as CPython reads it (UTF-8 with `surrogatepass`): the
/// text when it is plain UTF-8 (checked once, with SIMD), `None` when it holds encoded
/// surrogates; an error at the opcode's offset `at` otherwise.
#[inline]
pub(crate) fn check_text(text: &[u8], op: Opcode, at: usize) -> Result<Option<&str>> {
    if let Ok(valid) = utf8(text) {
        return Ok(Some(valid));
    }
    match pytext::check_utf8_surrogatepass(text) {
        Ok(()) => Ok(None),
        Err(bad) => Err(Error::new(
            ErrorKind::InvalidUtf8,
            at as u64,
            format!(
                "{} is not valid UTF-8 (bad byte at argument offset {bad})",
                op.name()
            ),
        )),
    }
}

impl<'data> Iterator for OpReader<'data> {
    type Item = Result<Op<'data>>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_op()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(data: &[u8]) -> Result<Vec<Op<'_>>> {
        OpReader::new(data, 0).collect()
    }

    fn error_of(data: &[u8]) -> Error {
        match read_all(data) {
            Err(e) => e,
            Ok(ops) => panic!("expected an error, read {ops:?}"),
        }
    }

    #[test]
    fn reads_a_protocol_2_list() {
        // pickle.dumps([1, 2], 2)
        let data = b"\x80\x02]q\x00(K\x01K\x02e.";
        let ops = read_all(data).unwrap();
        let names: Vec<_> = ops.iter().map(|op| op.opcode.name()).collect();
        assert_eq!(
            names,
            [
                "PROTO",
                "EMPTY_LIST",
                "BINPUT",
                "MARK",
                "BININT1",
                "BININT1",
                "APPENDS",
                "STOP"
            ]
        );
        assert_eq!(ops[0].arg, Arg::UInt(2));
        assert_eq!(ops[4].offset, 6);
        assert_eq!(ops[7].end, data.len());
    }

    #[test]
    fn arguments_borrow_from_the_input() {
        let data = b"\x8c\x03abc.";
        let ops = read_all(data).unwrap();
        let Arg::Text(text) = ops[0].arg else {
            panic!("{:?}", ops[0].arg)
        };
        assert_eq!(text, b"abc");
        assert_eq!(text.as_ptr(), data[2..].as_ptr());
    }

    #[test]
    fn stops_after_stop_and_reports_the_next_position() {
        let data = b"N.N.";
        let mut reader = OpReader::new(data, 0);
        assert_eq!(reader.by_ref().count(), 2);
        assert_eq!(reader.position(), 2);
        assert_eq!(OpReader::new(data, 2).count(), 2);
    }

    #[test]
    fn unknown_opcode_has_its_offset() {
        let e = error_of(b"N\xff.");
        assert_eq!(e.kind(), ErrorKind::UnknownOpcode);
        assert_eq!(e.offset(), 1);
        assert!(e.to_string().contains("0xff"), "{e}");
    }

    #[test]
    fn end_of_input_before_stop() {
        let e = error_of(b"N");
        assert_eq!(e.kind(), ErrorKind::Truncated);
        assert_eq!(e.offset(), 1);
        assert_eq!(error_of(b"").offset(), 0);
    }

    #[test]
    fn truncated_fixed_arguments() {
        for data in [
            &b"J\x01\x02"[..],
            b"K",
            b"M\x01",
            b"G\x00\x00",
            b"\x95\x01",
            b"\x80",
        ] {
            let e = error_of(data);
            assert_eq!(e.kind(), ErrorKind::Truncated, "{data:?}");
            assert_eq!(e.offset(), 0);
        }
    }

    #[test]
    fn newline_arguments_need_their_newline() {
        for data in [
            &b"I12"[..],
            b"cos\nsystem",
            b"cos",
            b"S'abc'",
            b"Vabc",
            b"F1.5",
            b"Pid",
        ] {
            let e = error_of(data);
            assert_eq!(e.kind(), ErrorKind::MissingNewline, "{data:?}");
        }
    }

    #[test]
    fn huge_lengths_are_rejected_before_use() {
        let max = u64::MAX.to_le_bytes();
        for op in [0x8eu8, 0x96, 0x8d] {
            let mut data = vec![op];
            data.extend_from_slice(&max);
            data.extend_from_slice(b"abc.");
            let e = error_of(&data);
            assert_eq!(e.kind(), ErrorKind::LengthPastEnd, "{op:x}");
            assert!(e.to_string().contains("18446744073709551615"), "{e}");
        }
        let e = error_of(b"B\xff\xff\xff\xffab");
        assert_eq!(e.kind(), ErrorKind::LengthPastEnd);
        let e = error_of(b"C\x05ab");
        assert_eq!(e.kind(), ErrorKind::LengthPastEnd);
        let e = error_of(b"\x95\x00\x00\x00\x00\x00\x00\x00\x10N.");
        assert_eq!(e.kind(), ErrorKind::LengthPastEnd);
    }

    #[test]
    fn negative_signed_lengths() {
        for op in [b'T', 0x8b] {
            let data = [op, 0xff, 0xff, 0xff, 0xff, b'.'];
            let e = error_of(&data);
            assert_eq!(e.kind(), ErrorKind::NegativeLength);
            assert!(e.to_string().contains("-1"), "{e}");
        }
    }

    #[test]
    fn utf8_is_checked_where_cpython_requires_it() {
        assert_eq!(error_of(b"\x8c\x02\xc3(.").kind(), ErrorKind::InvalidUtf8);
        assert_eq!(
            error_of(b"X\x01\x00\x00\x00\xff.").kind(),
            ErrorKind::InvalidUtf8
        );
        assert_eq!(
            error_of(b"c\xffos\nsystem\n.").kind(),
            ErrorKind::InvalidUtf8
        );
        // A lone surrogate encoded in UTF-8 is what CPython writes for '\ud800'.
        assert!(read_all(b"\x8c\x03\xed\xa0\x80.").is_ok());
    }

    #[test]
    fn frame_check_can_be_relaxed_for_dis() {
        let data = b"\x95\x10\x00\x00\x00\x00\x00\x00\x00N.";
        let ops: Vec<_> = OpReader::new(data, 0).without_frame_check().collect();
        assert_eq!(ops.len(), 3);
        assert!(ops.iter().all(|op| op.is_ok()));
    }

    #[test]
    fn frame_within_input_is_accepted() {
        let data = b"\x80\x04\x95\x02\x00\x00\x00\x00\x00\x00\x00N.";
        let ops = read_all(data).unwrap();
        assert_eq!(ops[1].opcode, Opcode::FRAME);
        assert_eq!(ops[1].arg, Arg::UInt(2));
    }
}
