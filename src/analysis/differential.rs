//! Loader differentials: places where CPython's own loaders read the same bytes
//! differently, each a `parser-differential` finding (SPEC §5: the verdict is then
//! `dangerous`), and the other readings re-analysed so their imports are reported too.
//!
//! The machine reads a stream one way: as `pickletools` and the C unpickler reading from
//! memory (`pickle.loads`) do, frames ignored. What the other readings do, from
//! `Modules/_pickle.c` and `Lib/pickle.py` (3.11), checked against both unpicklers in
//! `tests/differential.rs`:
//!
//! - **Frames, C unpickler reading a file** (before 3.14.7/3.13.15, gh-154848). `load_frame`
//!   reads the frame's bytes into the input buffer and rewinds. A later read that needs more
//!   than the buffer still holds (`_Unpickler_ReadImpl` → `_Unpickler_ReadFromFile`)
//!   *drops* what is left of the buffer and reads from the file, which is past the frame:
//!   an argument that straddles the frame's end is taken from the bytes after the frame,
//!   and the frame's tail is never read. This is the reading of a file object without
//!   `peek()` (`io.BytesIO`, as `torch.load` gives each `data.pkl`), and of any frame of
//!   8 KiB or more (the pickler writes 64 KiB frames). Bytes data (`BINBYTES*`,
//!   `BYTEARRAY8`) is read with `_Unpickler_ReadInto`, which takes the buffer's rest first:
//!   those never skip. A line (`_Unpickler_Readline`) without its newline in the buffer is
//!   read afresh from the file, dropping the buffered part. (Checked on 3.11.7: the same
//!   bytes give `pickle.loads` one object and `pickle.load(io.BytesIO(…))`, or
//!   `pickle.load(open(…))` with a frame of 8 KiB or more, another, after running calls
//!   that `pickletools.dis` never lists.)
//! - **Frames, pickle.py** (`_Unframer`, and the C unpickler once fixed). A read that
//!   finds some but not all of its bytes in the frame fails ("pickle exhausted before end
//!   of frame"); one that starts exactly at the frame's end reads on from the file. A FRAME
//!   before the current frame is used up fails ("beginning of a new frame before end of
//!   current frame"). A frame longer than what is left of the input is accepted (the C
//!   unpickler and our reader refuse it as truncated).
//! - **INT** lines: `_pickle.c` uses `strtol(s, &end, 0)` then, if that does not reach the
//!   newline, `PyLong_FromString(s, NULL, 0)`; pickle.py uses `int(line, 0)`. So `010` is 8
//!   for C (octal) and an error for pickle.py; `+1`, ` 1`, `-0` (any three-byte line worth
//!   0 or 1) are `True`/`False` for C and ints for pickle.py, which only takes `00`/`01`
//!   as bools; a NUL ends the C string, so `1\0junk` is 1 for C and an error for pickle.py.
//!   Underscores, whitespace and `0x`/`0o`/`0b` read alike.
//! - **LONG** lines: both strip one trailing `L` and parse in base 0; only the NUL differs.
//! - **FLOAT** lines: C uses `PyOS_string_to_double`, which refuses surrounding whitespace,
//!   underscores and finite literals too large for a double (`1e999`), and stops at a NUL;
//!   pickle.py's `float()` takes all of those and refuses the NUL.
//! - **GET/PUT** lines: C's `PyLong_FromString(s, NULL, 10)` stops at a NUL, pickle.py's
//!   `int()` refuses it.
//! - **STRING/UNICODE**: no difference. Both strip the same quotes and decode with the same
//!   functions (`PyBytes_DecodeEscape` = `codecs.escape_decode`, raw-unicode-escape), and
//!   both then decode a Python 2 `str` with the loader's `encoding`. INST names are ASCII
//!   in both; GLOBAL names UTF-8 in both; BINSTRING's negative length fails in both.
//!
//! A reading that stops where ours goes on reads a prefix of what we read, so it can add
//! no import; the finding names it and nothing is re-analysed. A reading that goes
//! elsewhere (the C file reader skipping a frame's tail) or further (pickle.py past a
//! float only it accepts, or a frame longer than the input) is written out as a plain
//! stream (frames dropped, a float only pickle.py reads rewritten as C reads it) and
//! analysed like a nested payload, under the label [`Alternative::label`]. So is one that
//! reads further than ours and then fails (pickle.py through a FRAME longer than the input,
//! up to the end of the input): the opcodes it ran before failing ran. That alone is no
//! finding (a file cut short inside its last frame reads so), only its analysis.

#![warn(clippy::arithmetic_side_effects)]

use crate::machine::{Graph, NodeId};
use crate::opcode::{ArgKind, Opcode};
use crate::pytext::{self, IntLine};
use crate::reader::{Arg, OpReader};
use crate::report::Detected;
use crate::rules::Rule;

use super::Analysis;

impl Analysis<'_> {
    /// Adds what [`scan`] found in a stream: its findings, and the other readings analysed
    /// (merged like nested payloads). `graph`: the machine's graph, if it read the stream;
    /// a stream with joblib array payloads is left alone, as their bytes are not opcodes
    /// (the scan read them as if they were).
    pub(crate) fn differentials(
        &mut self,
        found: Differentials,
        graph: Option<&Graph<'_>>,
        member: Option<&str>,
    ) {
        if graph.is_some_and(has_payloads) {
            return;
        }
        self.detected.extend(found.detected);
        for alt in found.alternatives {
            let label = format!("reading@{}", alt.label);
            self.nested(&alt.bytes, &label, None, alt.offset, member);
        }
    }
}

/// Whether an object of the graph is followed by bytes that are not opcodes (joblib).
fn has_payloads(graph: &Graph<'_>) -> bool {
    (0..graph.len()).any(|i| {
        let id = NodeId(u32::try_from(i).unwrap_or(u32::MAX));
        graph.call(id).is_some_and(|c| c.trailing_payload.is_some())
    })
}

/// The versions the frame findings name.
const C_FILE: &str = "CPython's C unpickler reading a file (io.BytesIO as torch.load uses, or \
                      a frame of 8 KiB or more; before 3.14.7/3.13.15, gh-154848)";
const PURE: &str = "pickle.py's pure-Python unpickler (and the C unpickler from 3.14.7/3.13.15)";
const C_MEMORY: &str = "pickle.loads and pickletools";

/// At most this many differential findings per stream (a stream of a million `I010` lines
/// would otherwise make a million findings).
const MAX_FINDINGS: usize = 16;

/// Another reading of a stream, as plain opcodes, to be analysed like a nested payload.
pub(crate) struct Alternative {
    /// Who reads the stream this way.
    pub(crate) label: &'static str,
    /// The opcodes that reading runs, one after another, without FRAMEs.
    pub(crate) bytes: Vec<u8>,
    /// Offset in the original stream of the first opcode that reads differently.
    pub(crate) offset: usize,
}

/// What the differential scan of one stream found.
#[derive(Default)]
pub(crate) struct Differentials {
    pub(crate) detected: Vec<Detected>,
    pub(crate) alternatives: Vec<Alternative>,
}

/// Scans the pickles of `data` from `start` (as our reader splits them) for readings that
/// differ between CPython's loaders.
pub(crate) fn scan(
    data: &[u8],
    start: usize,
    member: Option<&str>,
    max_pickles: usize,
) -> Differentials {
    let mut out = Differentials::default();
    let mut pos = start;
    for _ in 0..max_pickles.max(1) {
        let pass = first_pass(data, pos, member, &mut out.detected);
        if pass.framed || pass.text_differs {
            other_readings(data, pos, &pass, member, &mut out);
        }
        let end = pass.end;
        match end {
            Some(e)
                if e < data.len() && data.get(e).and_then(|&b| Opcode::from_byte(b)).is_some() =>
            {
                pos = e;
            }
            _ => break,
        }
        if out.detected.len() >= MAX_FINDINGS {
            break;
        }
    }
    out.detected.truncate(MAX_FINDINGS);
    out
}

fn finding(offset: usize, member: Option<&str>, message: String) -> Detected {
    Detected::new(Rule::ParserDifferential, message)
        .at(Some(offset as u64))
        .member(member)
}

/// What one pass of our reader over a pickle found.
struct Pass {
    /// Just past STOP, if our reader (which refuses a FRAME longer than the input) reads
    /// the pickle through.
    end: Option<usize>,
    /// An opcode runs over a frame's end, a FRAME starts inside a frame, or a FRAME is
    /// longer than the input: only then can the frame readings differ.
    framed: bool,
    /// A numeric line the two unpicklers read differently.
    text_differs: bool,
}

/// One pass over the pickle at `start`: where it ends, whether it is framed, and the INT,
/// LONG, FLOAT, GET and PUT lines that `_pickle.c` and pickle.py read differently (each a
/// finding, at most [`MAX_FINDINGS`] in all).
fn first_pass(data: &[u8], start: usize, member: Option<&str>, out: &mut Vec<Detected>) -> Pass {
    let mut pass = Pass {
        end: None,
        framed: false,
        text_differs: false,
    };
    let mut frame_past_end = false;
    // End of the last frame; opcodes are checked against it (the simulations in
    // `other_readings` run only for a pickle where this finds something).
    let mut frame_end = 0usize;
    for op in OpReader::new(data, start).without_frame_check() {
        let Ok(op) = op else { return pass };
        pass.framed |= op.offset < frame_end && op.end > frame_end;
        if let (Opcode::FRAME, Arg::UInt(len)) = (op.opcode, op.arg) {
            pass.framed |= op.offset < frame_end;
            let past = len > data.len().saturating_sub(op.end) as u64;
            pass.framed |= past;
            frame_past_end |= past;
            frame_end = usize::try_from(len).map_or(usize::MAX, |l| op.end.saturating_add(l));
        }
        if op.opcode == Opcode::STOP && !frame_past_end {
            pass.end = Some(op.end);
        }
        let Arg::Line(line) = op.arg else { continue };
        // A plainly spelled line reads alike everywhere (checked against `line_readings`
        // by a test): only the odd ones are read both ways.
        if crate::machine::plain_numeric_line(op.opcode, line) {
            continue;
        }
        let Some((c, py)) = line_readings(op.opcode, line) else {
            continue;
        };
        if c != py {
            pass.text_differs = true;
            if out.len() >= MAX_FINDINGS {
                continue;
            }
            let mut text = String::new();
            pytext::repr_bytes(line, &mut text);
            let message = format!(
                "{} {text} reads as {c} in CPython's C unpickler (_pickle) but as {py} in \
                 pickle.py's pure-Python unpickler (CPython 3, checked on 3.11.7): the loaders \
                 disagree",
                op.opcode.name()
            );
            out.push(finding(op.offset, member, message));
        }
    }
    pass
}

/// How the C unpickler and pickle.py read a numeric line, described in words, or `None`
/// for an opcode whose line both read alike.
fn line_readings(opcode: Opcode, line: &[u8]) -> Option<(String, String)> {
    let shown = |r: Result<String, String>| r.unwrap_or_else(|_| "an error".to_string());
    Some(match opcode {
        Opcode::INT => (shown(c_int(line)), shown(py_int(line))),
        Opcode::LONG => {
            let body = line.strip_suffix(b"L").unwrap_or(line);
            let c = pytext::parse_int_base0(body).map(|v| v.to_string());
            let py = if body.contains(&0) {
                Err(String::new())
            } else {
                c.clone()
            };
            (shown(c), shown(py))
        }
        Opcode::FLOAT => {
            let c = pytext::parse_float_line(line).map(float_text);
            let py = pytext::parse_float(line).map(float_text);
            (shown(c), shown(py))
        }
        Opcode::GET | Opcode::PUT => {
            let c = pytext::parse_int(until_nul(line)).map(|v| v.to_string());
            let py = pytext::parse_int(line).map(|v| v.to_string());
            (shown(c), shown(py))
        }
        _ => return None,
    })
}

fn c_int(line: &[u8]) -> Result<String, String> {
    Ok(match pytext::parse_int_line(line)? {
        IntLine::Bool(b) => if b { "True" } else { "False" }.to_string(),
        IntLine::Small(v) => v.to_string(),
        IntLine::Big(v) => v.to_string(),
    })
}

/// pickle.py's `load_int`: `00`/`01` are bools, anything else is `int(line, 0)`.
fn py_int(line: &[u8]) -> Result<String, String> {
    match line {
        b"00" => Ok("False".to_string()),
        b"01" => Ok("True".to_string()),
        _ if line.contains(&0) => Err("NUL in an int literal".to_string()),
        _ => pytext::parse_int_base0(line).map(|v| v.to_string()),
    }
}

fn float_text(x: f64) -> String {
    let mut s = String::new();
    pytext::repr_float(x, &mut s);
    s
}

fn until_nul(s: &[u8]) -> &[u8] {
    memchr::memchr(0, s).map_or(s, |nul| &s[..nul])
}

/// The C file reader's and pickle.py's readings of the pickle at `start`, compared with
/// ours (`ours_ok`: our reader read it through STOP). `framed`: it has a FRAME (else only
/// pickle.py's reading can differ, through a numeric line).
fn other_readings(
    data: &[u8],
    start: usize,
    pass: &Pass,
    member: Option<&str>,
    out: &mut Differentials,
) {
    let (ours_ok, framed) = (pass.end.is_some(), pass.framed);
    // Readings are first run without writing them out: most framed pickles read alike,
    // and a copy of a large one would double its cost.
    let mut c_differs = false;
    if framed {
        let c = Sim::run(data, start, Mode::CFile, false);
        c_differs = !c.skips.is_empty() || c.nested_frame || c.outcome.is_err();
        if let Some(&(at, from, to)) = c.skips.first() {
            let message =
                format!(
                "an argument runs past the end of its FRAME: {C_FILE} skips bytes {from}..{to} \
                 and reads on after the frame, while {C_MEMORY} read them{}",
                if c.outcome.is_ok() { "" } else { " (its reading then fails)" }
            );
            out.detected.push(finding(at, member, message));
            if c.outcome.is_ok() {
                out.alternatives.push(Alternative {
                    label: "c-file-reader",
                    bytes: Sim::run(data, start, Mode::CFile, true).out,
                    offset: at,
                });
            }
        }
    }
    if !c_differs && !pass.text_differs {
        return;
    }
    let py = Sim::run(data, start, Mode::Pure, false);
    match (&py.outcome, py.first_change) {
        (Err((at, why)), _) if ours_ok && framed => {
            let message =
                format!("{PURE} stops here ({why}) where {C_MEMORY} read on: the loaders disagree");
            out.detected.push(finding(*at, member, message));
        }
        (Ok(_), Some((at, frame))) => {
            if frame {
                let message = format!(
                    "{PURE} reads this pickle through where the C unpickler and pickletools \
                     refuse it (a FRAME longer than the input)"
                );
                out.detected.push(finding(at, member, message));
            }
            out.alternatives.push(Alternative {
                label: "pure-python-reader",
                bytes: Sim::run(data, start, Mode::Pure, true).out,
                offset: at,
            });
        }
        // It reads what ours does not (a frame longer than the input, a line only it
        // takes), runs those opcodes, then fails: what it ran before failing ran, so it is
        // analysed (its own stop a `malformed` finding). Not a differential finding: a
        // file cut short inside its last frame reads this way (pickle.py runs the opcodes
        // of the cut frame), and that is damage, not a crafted disagreement.
        (Err(_), Some((at, _))) => {
            out.alternatives.push(Alternative {
                label: "pure-python-reader",
                bytes: Sim::run(data, start, Mode::Pure, true).out,
                offset: at,
            });
        }
        _ => {}
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// `_pickle.c` reading a file object without `peek()`, before the gh-154848 fix.
    CFile,
    /// `pickle._Unpickler`.
    Pure,
}

/// One loader's reading of one pickle: the opcodes it runs, written out without frames.
struct Sim<'d> {
    data: &'d [u8],
    mode: Mode,
    pos: usize,
    /// C: end of the input buffer (the frame, while in one). Pure: end of the current frame.
    buf_end: usize,
    in_frame: bool,
    /// Offset of the opcode being read.
    op_at: usize,
    /// Whether to write the reading out (into `out`).
    record: bool,
    out: Vec<u8>,
    /// C: a FRAME inside a frame not yet read to its end.
    nested_frame: bool,
    /// C: `(opcode offset, skipped from, skipped to)`.
    skips: Vec<(usize, usize, usize)>,
    /// Pure: where it first read something ours does not, and whether a frame did it.
    first_change: Option<(usize, bool)>,
    /// Where the reading ended (past STOP), or where and why it failed.
    outcome: Result<usize, (usize, String)>,
}

type Step<T> = Result<T, (usize, String)>;

impl<'d> Sim<'d> {
    fn run(data: &'d [u8], start: usize, mode: Mode, record: bool) -> Sim<'d> {
        let mut sim = Sim {
            data,
            mode,
            pos: start,
            buf_end: start,
            in_frame: false,
            op_at: start,
            record,
            out: Vec::new(),
            nested_frame: false,
            skips: Vec::new(),
            first_change: None,
            outcome: Ok(start),
        };
        sim.outcome = sim.pickle();
        sim
    }

    fn fail<T>(&self, why: impl Into<String>) -> Step<T> {
        Err((self.op_at, why.into()))
    }

    /// Reads `n` bytes as the loader does; `into`: C's `_Unpickler_ReadInto` (never skips).
    fn read(&mut self, n: usize, into: bool) -> Step<&'d [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .ok_or((self.op_at, "length overflow".to_string()))?;
        let straddles = self.pos < self.buf_end && end > self.buf_end;
        match self.mode {
            Mode::CFile if straddles && !into => {
                self.skips.push((self.op_at, self.pos, self.buf_end));
                self.pos = self.buf_end;
            }
            Mode::Pure if straddles && self.in_frame => {
                return self.fail("pickle exhausted before end of frame");
            }
            _ => {}
        }
        if self.mode == Mode::Pure && self.in_frame && self.pos >= self.buf_end {
            self.in_frame = false;
        }
        let Some(bytes) = self
            .pos
            .checked_add(n)
            .and_then(|e| self.data.get(self.pos..e))
        else {
            return self.fail("pickle data was truncated");
        };
        // In range: `get` checked it.
        self.pos = self.pos.saturating_add(n);
        if self.mode == Mode::CFile {
            self.buf_end = self.buf_end.max(self.pos);
        }
        Ok(bytes)
    }

    /// Reads a line, newline included.
    fn readline(&mut self) -> Step<&'d [u8]> {
        let in_buffer = self.data.get(self.pos..self.buf_end).unwrap_or_default();
        if self.pos < self.buf_end && memchr::memchr(b'\n', in_buffer).is_none() {
            match self.mode {
                Mode::CFile => {
                    self.skips.push((self.op_at, self.pos, self.buf_end));
                    self.pos = self.buf_end;
                }
                Mode::Pure if self.in_frame => {
                    return self.fail("pickle exhausted before end of frame");
                }
                Mode::Pure => {}
            }
        }
        let rest = self.data.get(self.pos..).unwrap_or_default();
        let Some(nl) = memchr::memchr(b'\n', rest) else {
            return self.fail("pickle data was truncated");
        };
        self.read(nl.saturating_add(1), true)
    }

    fn pickle(&mut self) -> Step<usize> {
        loop {
            self.op_at = self.pos;
            let byte = self.read(1, false)?[0];
            let Some(op) = Opcode::from_byte(byte) else {
                return self.fail(format!("invalid load key, 0x{byte:02x}"));
            };
            if op == Opcode::FRAME {
                self.frame()?;
                continue;
            }
            if self.record {
                self.out.push(byte);
            }
            self.argument(op)?;
            if op == Opcode::STOP {
                return Ok(self.pos);
            }
        }
    }

    fn frame(&mut self) -> Step<()> {
        let len = self.read(8, false)?;
        let len = u64::from_le_bytes(len.try_into().unwrap_or([0xff; 8]));
        let len = usize::try_from(len).map_err(|_| (self.op_at, "FRAME too long".to_string()))?;
        match self.mode {
            Mode::CFile => {
                self.nested_frame |= self.pos < self.buf_end;
                // `load_frame` makes sure the frame is buffered, then rewinds to its start.
                self.read(len, false)?;
                self.pos = self.pos.saturating_sub(len);
            }
            Mode::Pure => {
                if self.in_frame && self.pos < self.buf_end {
                    return self.fail("beginning of a new frame before end of current frame");
                }
                let end = self.pos.saturating_add(len);
                if end > self.data.len() {
                    self.first_change.get_or_insert((self.op_at, true));
                }
                self.buf_end = end.min(self.data.len());
                self.in_frame = true;
            }
        }
        Ok(())
    }

    fn fixed(&mut self, n: usize, into: bool) -> Step<&'d [u8]> {
        let bytes = self.read(n, into)?;
        if self.record {
            self.out.extend_from_slice(bytes);
        }
        Ok(bytes)
    }

    fn counted(&mut self, prefix: usize, signed: bool, into: bool) -> Step<()> {
        let raw = self.fixed(prefix, false)?;
        let mut le = [0u8; 8];
        le.get_mut(..raw.len())
            .unwrap_or_default()
            .copy_from_slice(raw);
        if signed && raw.last().is_some_and(|b| b & 0x80 != 0) {
            return self.fail("negative byte count");
        }
        let len = usize::try_from(u64::from_le_bytes(le))
            .map_err(|_| (self.op_at, "length too large".to_string()))?;
        self.fixed(len, into)?;
        Ok(())
    }

    fn line(&mut self, op: Opcode) -> Step<()> {
        let line = self.readline()?;
        let body = line.strip_suffix(b"\n").unwrap_or(line);
        if self.mode == Mode::Pure && op == Opcode::FLOAT {
            // pickle.py reads floats C refuses (`1_0.5`, ` 1.5`, `1e999`): written as C reads.
            if let (Err(_), Ok(x)) = (pytext::parse_float_line(body), pytext::parse_float(body)) {
                self.first_change.get_or_insert((self.op_at, false));
                if self.record {
                    self.out.extend_from_slice(float_text(x).as_bytes());
                    self.out.push(b'\n');
                }
                return Ok(());
            }
        }
        if self.mode == Mode::Pure {
            if let Some((c, py)) = line_readings(op, body) {
                if c != py && py == "an error" {
                    return self.fail(format!("{} refuses {c}", op.name()));
                }
            }
        }
        if self.record {
            self.out.extend_from_slice(line);
        }
        Ok(())
    }

    fn argument(&mut self, op: Opcode) -> Step<()> {
        match op.info().arg {
            ArgKind::None => {}
            ArgKind::Uint1 => drop(self.fixed(1, false)?),
            ArgKind::Uint2 => drop(self.fixed(2, false)?),
            ArgKind::Int4 | ArgKind::Uint4 => drop(self.fixed(4, false)?),
            ArgKind::Uint8 | ArgKind::Float8 => drop(self.fixed(8, false)?),
            ArgKind::Stringnl
            | ArgKind::StringnlNoescape
            | ArgKind::Unicodestringnl
            | ArgKind::DecimalnlShort
            | ArgKind::DecimalnlLong
            | ArgKind::Floatnl => self.line(op)?,
            ArgKind::StringnlNoescapePair => {
                self.line(op)?;
                self.line(op)?;
            }
            ArgKind::String1 | ArgKind::Long1 | ArgKind::Unicodestring1 => {
                self.counted(1, false, false)?
            }
            ArgKind::Bytes1 => self.counted(1, false, true)?,
            ArgKind::String4 | ArgKind::Long4 => self.counted(4, true, false)?,
            ArgKind::Unicodestring4 => self.counted(4, false, false)?,
            ArgKind::Bytes4 => self.counted(4, false, true)?,
            ArgKind::Unicodestring8 => self.counted(8, false, false)?,
            ArgKind::Bytes8 | ArgKind::Bytearray8 => self.counted(8, false, true)?,
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(n: u64) -> Vec<u8> {
        let mut v = vec![0x95];
        v.extend_from_slice(&n.to_le_bytes());
        v
    }

    #[test]
    fn the_c_file_reader_skips_the_frame_tail_of_a_straddling_argument() {
        // PROTO 4, FRAME 3 over `J\x05\x00`, then `\x00\x00\x00\x00` BININT's bytes after it.
        let mut data = b"\x80\x04".to_vec();
        data.extend(frame(3));
        data.extend_from_slice(b"J\x05\x00\x07\x00\x00\x00.");
        let c = Sim::run(&data, 0, Mode::CFile, true);
        assert_eq!(c.skips, [(11, 12, 14)]);
        assert_eq!(c.out, b"\x80\x04J\x07\x00\x00\x00.");
        assert!(c.outcome.is_ok());
        let py = Sim::run(&data, 0, Mode::Pure, true);
        assert_eq!(
            py.outcome,
            Err((11, "pickle exhausted before end of frame".into()))
        );
    }

    #[test]
    fn an_argument_that_starts_at_the_frame_end_reads_alike() {
        let mut data = b"\x80\x04".to_vec();
        data.extend(frame(1));
        data.extend_from_slice(b"K\x05.");
        let scan = scan(&data, 0, None, 10);
        assert!(scan.detected.is_empty());
    }

    #[test]
    fn numeric_lines_the_loaders_read_differently() {
        for (line, opcode) in [
            (&b"010"[..], Opcode::INT),
            (b"+1", Opcode::INT),
            (b"1\0x", Opcode::INT),
            (b"12\0x", Opcode::LONG),
            (b"1_0.5", Opcode::FLOAT),
            (b"1e999", Opcode::FLOAT),
            (b"1\0x", Opcode::GET),
        ] {
            let (c, py) = line_readings(opcode, line).unwrap();
            assert_ne!(c, py, "{line:?}");
        }
        for (line, opcode) in [
            (&b"10"[..], Opcode::INT),
            (b"01", Opcode::INT),
            (b"1_0", Opcode::INT),
            (b"0x10", Opcode::INT),
            (b"12L", Opcode::LONG),
            (b"1.5", Opcode::FLOAT),
            (b"3", Opcode::GET),
        ] {
            let (c, py) = line_readings(opcode, line).unwrap();
            assert_eq!(c, py, "{line:?}");
        }
    }

    /// The machine asks for a second reading only for lines it does not call plain: every
    /// line it calls plain must read alike in both unpicklers, and the odd spellings that
    /// differ must not be called plain.
    #[test]
    fn lines_the_machine_calls_plain_read_alike() {
        use crate::machine::plain_numeric_line;
        let lines: &[&[u8]] = &[
            b"0",
            b"00",
            b"01",
            b"1",
            b"-1",
            b"42",
            b"-0",
            b"+1",
            b" 0",
            b"010",
            b"1_000",
            b"123456789012345678",
            b"1234567890123456789",
            b"7\x00",
            b"1L",
            b"-5L",
            b"0L",
            b"1.5",
            b"-0.25",
            b"3",
            b"1e999",
            b"1_0.5",
            b" 1.5",
            b"inf",
            b"nan",
            b"1.",
            b".5",
            b"007",
        ];
        for &opcode in &[
            Opcode::INT,
            Opcode::LONG,
            Opcode::FLOAT,
            Opcode::GET,
            Opcode::PUT,
        ] {
            for &line in lines {
                if !plain_numeric_line(opcode, line) {
                    continue;
                }
                let (c, py) = line_readings(opcode, line).unwrap();
                assert_eq!(
                    c, py,
                    "{opcode} {line:?} is called plain but reads differently"
                );
            }
        }
        for (opcode, line) in [
            (Opcode::INT, &b"010"[..]),
            (Opcode::INT, b"+1"),
            (Opcode::INT, b"-0"),
            (Opcode::INT, b"7\x00"),
            (Opcode::FLOAT, b"1e999"),
            (Opcode::GET, b"7\x00"),
        ] {
            assert!(!plain_numeric_line(opcode, line), "{opcode} {line:?}");
        }
    }
}
