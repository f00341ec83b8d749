//! `dis`: an opcode listing byte-identical to CPython's `pickletools.dis`.
//!
//! It follows pickletools line for line: the same argument `repr`s (see [`crate::pytext`]),
//! the same MARK indentation, and the same consistency checks on a stack of
//! [`StackKind`]s — failing where pickletools fails, after printing the same lines.

use std::collections::HashMap;
use std::io::{self, Write};

use num_bigint::BigInt;

use crate::error::{Error, ErrorKind};
use crate::limits::Limit;
use crate::opcode::{ArgKind, Opcode, StackKind};
use crate::pytext;
use crate::reader::{Arg, Op, OpReader};

/// Options of `pickletools.dis`.
#[derive(Clone, Debug)]
pub struct DisOptions {
    /// Blanks by which to indent each MARK level (pickletools' `indentlevel`, default 4).
    pub indent_level: usize,
    /// Column hint for one-line opcode descriptions; 0 turns them off (`annotate`).
    pub annotate: usize,
    /// Keep the memo from one pickle to the next in a file of several (`--memo`).
    pub keep_memo: bool,
    /// The deepest MARK level a line is indented by; deeper lines are indented as at this
    /// level, with one warning. pickletools indents by the full depth, so 100,000 nested
    /// MARKs would print tens of GB; 0 restores that ([`DEFAULT_MAX_INDENT`]).
    pub max_indent: usize,
}

/// The default of [`DisOptions::max_indent`]: no real pickle nests MARKs this deep, so
/// their listings stay byte-identical to pickletools'.
pub const DEFAULT_MAX_INDENT: usize = 256;

impl Default for DisOptions {
    fn default() -> Self {
        DisOptions {
            indent_level: 4,
            annotate: 0,
            keep_memo: false,
            max_indent: DEFAULT_MAX_INDENT,
        }
    }
}

/// Why a disassembly stopped early.
#[derive(Debug)]
pub enum DisError {
    /// The pickle is malformed or inconsistent (pickletools raises `ValueError`).
    Pickle(Error),
    /// Writing the listing failed (e.g. a closed pipe).
    Write(io::Error),
}

impl std::fmt::Display for DisError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DisError::Pickle(e) => e.fmt(f),
            DisError::Write(e) => write!(f, "cannot write the listing: {e}"),
        }
    }
}

impl std::error::Error for DisError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            // Transparent: the pickle error is the message.
            DisError::Pickle(e) => std::error::Error::source(e),
            DisError::Write(e) => Some(e),
        }
    }
}

impl From<io::Error> for DisError {
    fn from(e: io::Error) -> Self {
        DisError::Write(e)
    }
}

impl From<Error> for DisError {
    fn from(e: Error) -> Self {
        DisError::Pickle(e)
    }
}

/// What `dis_file` found besides the listing.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DisSummary {
    /// Start offsets of the pickles listed.
    pub pickles: Vec<usize>,
    /// Offset and length of bytes after the last pickle that do not start a pickle.
    pub trailing: Option<(usize, usize)>,
    /// Problems pickletools lets pass but `pickle.load` would not (a FRAME longer than
    /// the input), for the caller to report as warnings.
    pub warnings: Vec<Error>,
}

/// A memo key as pickletools holds it: a Python int (`False`/`True` equal 0/1).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum MemoKey {
    Small(i128),
    Big(BigInt),
}

impl MemoKey {
    fn from_bigint(value: BigInt) -> MemoKey {
        match i128::try_from(&value) {
            Ok(small) => MemoKey::Small(small),
            Err(_) => MemoKey::Big(value),
        }
    }
}

/// The memo of stack kinds, shared across pickles with `keep_memo`.
///
/// Picklers number memo keys 0, 1, 2, … so keys are kept densely, one byte each; a key
/// far beyond the number of entries (or negative, or huge) goes to a map instead, so a
/// hostile `LONG_BINPUT 4294967295` costs one map entry, not 4 GB.
#[derive(Default, Debug)]
pub(crate) struct DisMemo {
    dense: Vec<Option<StackKind>>,
    sparse: HashMap<MemoKey, StackKind>,
    len: usize,
}

impl DisMemo {
    fn dense_index(&self, key: &MemoKey, growing: bool) -> Option<usize> {
        let MemoKey::Small(k) = *key else {
            return None;
        };
        let k = usize::try_from(k).ok()?;
        let limit = if growing {
            2 * self.len + 1024
        } else {
            self.dense.len()
        };
        (k < limit.max(self.dense.len())).then_some(k)
    }

    fn get(&self, key: &MemoKey) -> Option<StackKind> {
        match self.dense_index(key, false) {
            Some(i) => self.dense.get(i).copied().flatten(),
            None => self.sparse.get(key).copied(),
        }
    }

    /// Stores `kind` under `key` unless the key is taken; returns whether it stored.
    fn insert_new(&mut self, key: MemoKey, kind: StackKind) -> bool {
        if self.get(&key).is_some() {
            return false;
        }
        match self.dense_index(&key, true) {
            Some(i) => {
                if i >= self.dense.len() {
                    self.dense.resize(i + 1, None);
                }
                self.dense[i] = Some(kind);
            }
            None => {
                self.sparse.insert(key, kind);
            }
        }
        self.len += 1;
        true
    }
}

fn python_error(op: &Op<'_>, message: String) -> Error {
    Error::new(
        ErrorKind::InvalidArgument,
        op.offset as u64,
        format!("{} argument: {message}", op.opcode.name()),
    )
}

/// Decodes `escape_decode(data).decode("ascii")`, as pickletools' `read_stringnl` does.
fn escaped_ascii(op: &Op<'_>, data: &[u8]) -> Result<Vec<u32>, Error> {
    let decoded = pytext::escape_decode(data).map_err(|m| python_error(op, m))?;
    if let Some(pos) = decoded.iter().position(|b| !b.is_ascii()) {
        return Err(python_error(
            op,
            format!(
                "'ascii' codec can't decode byte 0x{:02x} in position {pos}: ordinal not in range(128)",
                decoded[pos]
            ),
        ));
    }
    Ok(pytext::decode_latin1(&decoded))
}

fn render_int(op: &Op<'_>, value: &BigInt, text: &mut String) -> Result<(), Error> {
    pytext::repr_int(value, text).map_err(|m| python_error(op, m))
}

/// What [`render_arg`] found besides the text: whether there is an argument, and its
/// value as a memo key when it is an int.
struct RenderedArg {
    present: bool,
    key: Option<MemoKey>,
}

/// Renders `repr(arg)` into `text` the way pickletools' argument readers decode it.
fn render_arg(op: &Op<'_>, text: &mut String) -> Result<RenderedArg, Error> {
    text.clear();
    let mut key = None;
    match (op.opcode.info().arg, op.arg) {
        (ArgKind::None, _) => {
            return Ok(RenderedArg {
                present: false,
                key: None,
            })
        }
        (_, Arg::UInt(n)) => {
            key = Some(MemoKey::Small(i128::from(n)));
            text.push_str(itoa::Buffer::new().format(n));
        }
        (_, Arg::Int(n)) => {
            key = Some(MemoKey::Small(i128::from(n)));
            text.push_str(itoa::Buffer::new().format(n));
        }
        (_, Arg::Float(x)) => pytext::repr_float(x, text),
        (ArgKind::DecimalnlShort, Arg::Line(line)) => match line {
            b"00" => {
                key = Some(MemoKey::Small(0));
                text.push_str("False");
            }
            b"01" => {
                key = Some(MemoKey::Small(1));
                text.push_str("True");
            }
            _ => {
                let value = pytext::parse_int(line).map_err(|m| python_error(op, m))?;
                render_int(op, &value, text)?;
                key = Some(MemoKey::from_bigint(value));
            }
        },
        (ArgKind::DecimalnlLong, Arg::Line(line)) => {
            let digits = line.strip_suffix(b"L").unwrap_or(line);
            let value = pytext::parse_int(digits).map_err(|m| python_error(op, m))?;
            render_int(op, &value, text)?;
        }
        (ArgKind::Floatnl, Arg::Line(line)) => {
            let value = pytext::parse_float(line).map_err(|m| python_error(op, m))?;
            pytext::repr_float(value, text);
        }
        (ArgKind::Stringnl, Arg::Line(line)) => {
            let inner = strip_quotes(op, line)?;
            pytext::repr_str(&escaped_ascii(op, inner)?, text);
        }
        (ArgKind::StringnlNoescape, Arg::Line(line)) => {
            pytext::repr_str(&escaped_ascii(op, line)?, text);
        }
        (ArgKind::Unicodestringnl, Arg::Line(line)) => {
            let cps = pytext::decode_raw_unicode_escape(line).map_err(|m| python_error(op, m))?;
            pytext::repr_str(&cps, text);
        }
        (_, Arg::Pair(module, name)) => {
            let mut cps = escaped_ascii(op, module.as_bytes())?;
            cps.push(u32::from(b' '));
            cps.extend(escaped_ascii(op, name.as_bytes())?);
            pytext::repr_str(&cps, text);
        }
        (ArgKind::String1 | ArgKind::String4, Arg::Bytes(data)) => {
            if !pytext::repr_plain_ascii(data, text) {
                pytext::repr_str(&pytext::decode_latin1(data), text);
            }
        }
        (ArgKind::Bytearray8, Arg::Bytes(data)) => pytext::repr_bytearray(data, text),
        (ArgKind::Long1 | ArgKind::Long4, Arg::Bytes(data)) => {
            render_int(op, &pytext::decode_long(data), text)?;
        }
        (_, Arg::Bytes(data)) => pytext::repr_bytes(data, text),
        (_, Arg::Text(data)) => {
            if !pytext::repr_plain_ascii(data, text) {
                pytext::repr_str(&pytext::decode_utf8_surrogatepass(data), text);
            }
        }
        (kind, arg) => {
            // The reader builds arguments from the same table, so this cannot happen.
            return Err(python_error(op, format!("unexpected {arg:?} for {kind:?}")));
        }
    }
    Ok(RenderedArg { present: true, key })
}

/// pickletools' `stripquotes`: the line must start and end with the same quote.
fn strip_quotes<'a>(op: &Op<'_>, line: &'a [u8]) -> Result<&'a [u8], Error> {
    for q in [b'"', b'\''] {
        if line.first() == Some(&q) {
            if line.last() != Some(&q) {
                let mut shown = String::new();
                pytext::repr_bytes(line, &mut shown);
                return Err(python_error(
                    op,
                    format!(
                        "string quote {} not found at both ends of {shown}",
                        q as char
                    ),
                ));
            }
            // A lone quote is both ends at once: pickletools yields the empty string.
            return Ok(line.get(1..line.len().saturating_sub(1)).unwrap_or(&[]));
        }
    }
    let mut shown = String::new();
    pytext::repr_bytes(line, &mut shown);
    Err(python_error(op, format!("no string quotes around {shown}")))
}

fn inconsistent(op: &Op<'_>, message: String) -> Error {
    Error::new(ErrorKind::Inconsistent, op.offset as u64, message)
}

/// Appends pickletools' `"%5d: " % pos`: the offset right-aligned in five columns.
fn push_position(line: &mut String, offset: usize) {
    let mut digits = itoa::Buffer::new();
    let digits = digits.format(offset);
    line.push_str(&"     "[..5usize.saturating_sub(digits.len())]);
    line.push_str(digits);
    line.push_str(": ");
}

/// Lines are collected in a buffer of about this many bytes before they are written.
const LISTING_CHUNK: usize = 1 << 16;

/// Lists one pickle starting at `start`, as `pickletools.dis` does, and returns the
/// offset just past its STOP.
pub(crate) fn dis_pickle(
    data: &[u8],
    start: usize,
    memo: &mut DisMemo,
    options: &DisOptions,
    out: &mut impl Write,
    warnings: &mut Vec<Error>,
) -> Result<usize, DisError> {
    let mut lines = String::with_capacity(LISTING_CHUNK + 256);
    let result = dis_pickle_into(data, start, memo, options, &mut lines, out, warnings);
    // The lines before a failure are printed too, as pickletools prints them.
    match result {
        Err(DisError::Write(e)) => Err(DisError::Write(e)),
        result => {
            out.write_all(lines.as_bytes())?;
            result
        }
    }
}

/// [`dis_pickle`], with the listing collected in `line` (and written to `out` whenever
/// it holds [`LISTING_CHUNK`] bytes): formatting appends to one buffer, no allocation per
/// line.
fn dis_pickle_into(
    data: &[u8],
    start: usize,
    memo: &mut DisMemo,
    options: &DisOptions,
    line: &mut String,
    out: &mut impl Write,
    warnings: &mut Vec<Error>,
) -> Result<usize, DisError> {
    let mut reader = OpReader::new(data, start).without_frame_check();
    let mut stack: Vec<StackKind> = Vec::new();
    let mut markstack: Vec<usize> = Vec::new();
    let mut maxproto: u8 = 0;
    let mut annocol = options.annotate;
    let indent = " ".repeat(options.indent_level);
    let mut arg_text = String::new();
    let mut mark_text = String::new();
    let mut indent_capped = false;

    while let Some(op) = reader.next_op() {
        let op = op?;
        if let (Opcode::FRAME, Arg::UInt(len)) = (op.opcode, op.arg) {
            let remaining = data.len() - op.end;
            if len > remaining as u64 {
                warnings.push(Error::new(
                    ErrorKind::LengthPastEnd,
                    op.offset as u64,
                    format!(
                        "FRAME of {len} bytes runs past the end of input ({remaining} bytes remain); \
                         pickle.load would reject this file"
                    ),
                ));
            }
        }
        let info = op.opcode.info();
        let arg = match render_arg(&op, &mut arg_text) {
            Ok(arg) => arg,
            Err(e) => {
                // LONG1/LONG4 arguments always decode; only their repr can fail (past
                // CPython's 4300-digit limit), and pickletools has printed the position
                // by then.
                if matches!(op.opcode, Opcode::LONG1 | Opcode::LONG4) {
                    push_position(line, op.offset);
                }
                return Err(e.into());
            }
        };

        push_position(line, op.offset);
        // pickletools prints the position separately; its `line` (and so the annotation
        // column) starts after it.
        let position_len = line.len();
        // `"%-4s" % repr(opcode.code)[1:-1]`: every opcode byte is printable ASCII or
        // escaped as \xNN (four characters, so no padding).
        if info.code.is_ascii_graphic() {
            line.push(char::from(info.code));
            line.push_str("    ");
        } else {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            line.push_str("\\x");
            line.push(char::from(HEX[usize::from(info.code >> 4)]));
            line.push(char::from(HEX[usize::from(info.code & 15)]));
            line.push(' ');
        }
        let mut levels = markstack.len();
        if options.max_indent != 0 && levels > options.max_indent {
            levels = options.max_indent;
            if !indent_capped {
                indent_capped = true;
                warnings.push(Limit::DisIndent.exceeded(
                    op.offset as u64,
                    format_args!(
                        "MARKs nested more than {levels} deep: deeper lines are indented as at \
                         level {levels}, where pickletools indents by the full depth"
                    ),
                ));
            }
        }
        for _ in 0..levels {
            line.push_str(&indent);
        }
        line.push_str(info.name);

        maxproto = maxproto.max(info.proto);
        let before = info.stack_before;
        let mut after: &[StackKind] = info.stack_after;
        let mut numtopop = before.len();
        // pickletools' `markmsg`, kept in a buffer reused from line to line.
        let mut markmsg = false;
        mark_text.clear();
        let mut errormsg: Option<String> = None;

        let pops_mark = before.contains(&StackKind::Mark)
            || (op.opcode == Opcode::POP && stack.last() == Some(&StackKind::Mark));
        if pops_mark {
            markmsg = true;
            if let Some(markpos) = markstack.pop() {
                mark_text.push_str("(MARK at ");
                mark_text.push_str(itoa::Buffer::new().format(markpos));
                mark_text.push(')');
                while let Some(top) = stack.pop() {
                    if top == StackKind::Mark {
                        break;
                    }
                }
                numtopop = before
                    .iter()
                    .position(|k| *k == StackKind::Mark)
                    .unwrap_or(0);
            } else {
                let msg = "no MARK exists on stack";
                mark_text.push_str(msg);
                errormsg = Some(msg.to_string());
            }
        }

        let memo_after;
        match op.opcode {
            Opcode::PUT | Opcode::BINPUT | Opcode::LONG_BINPUT | Opcode::MEMOIZE => {
                let (memo_idx, shown) = if op.opcode == Opcode::MEMOIZE {
                    let idx = memo.len;
                    markmsg = true;
                    mark_text.push_str("(as ");
                    mark_text.push_str(itoa::Buffer::new().format(idx));
                    mark_text.push(')');
                    (MemoKey::Small(idx as i128), "None")
                } else {
                    (
                        arg.key.clone().unwrap_or(MemoKey::Small(-1)),
                        arg_text.as_str(),
                    )
                };
                match stack.last() {
                    _ if memo.get(&memo_idx).is_some() => {
                        errormsg = Some(format!("memo key {shown} already defined"));
                    }
                    None => errormsg = Some("stack is empty -- can't store into memo".to_string()),
                    Some(StackKind::Mark) => {
                        errormsg = Some("can't store markobject in the memo".to_string())
                    }
                    Some(&top) => {
                        memo.insert_new(memo_idx, top);
                    }
                }
            }
            Opcode::GET | Opcode::BINGET | Opcode::LONG_BINGET => {
                match arg.key.as_ref().and_then(|k| memo.get(k)) {
                    Some(kind) => {
                        memo_after = [kind];
                        after = &memo_after;
                    }
                    None => {
                        errormsg = Some(format!(
                            "memo key {} has never been stored into",
                            if arg.present {
                                arg_text.as_str()
                            } else {
                                "None"
                            }
                        ))
                    }
                }
            }
            _ => {}
        }

        if arg.present || markmsg {
            // `"%-10s" % name` then one blank before the argument.
            let pad = 10usize.saturating_sub(info.name.len());
            line.push_str(&"          "[..pad]);
            if arg.present {
                line.push(' ');
                line.push_str(&arg_text);
            }
            if markmsg {
                line.push(' ');
                line.push_str(&mark_text);
            }
        }
        if options.annotate > 0 {
            // Python's len() counts characters; arguments may hold non-ASCII ones.
            let chars = line[position_len..].chars().count();
            for _ in chars..annocol {
                line.push(' ');
            }
            annocol = chars.max(annocol);
            if annocol > 50 {
                annocol = options.annotate;
            }
            line.push(' ');
            line.push_str(info.doc);
        }
        line.push('\n');
        if line.len() >= LISTING_CHUNK {
            out.write_all(line.as_bytes())?;
            line.clear();
        }

        if let Some(msg) = errormsg {
            return Err(inconsistent(&op, msg).into());
        }
        if stack.len() < numtopop {
            return Err(inconsistent(
                &op,
                format!(
                    "tries to pop {numtopop} items from stack with only {} items",
                    stack.len()
                ),
            )
            .into());
        }
        stack.truncate(stack.len() - numtopop);
        if after.contains(&StackKind::Mark) {
            markstack.push(op.offset);
        }
        stack.extend_from_slice(after);

        if op.opcode == Opcode::STOP {
            line.push_str("highest protocol among opcodes = ");
            line.push_str(itoa::Buffer::new().format(maxproto));
            line.push('\n');
            if !stack.is_empty() {
                let names: Vec<&str> = stack.iter().map(|k| k.name()).collect();
                return Err(inconsistent(
                    &op,
                    format!("stack not empty after STOP: [{}]", names.join(", ")),
                )
                .into());
            }
            return Ok(op.end);
        }
    }
    // The reader ends only after STOP or an error, both handled above.
    Err(Error::new(
        ErrorKind::Truncated,
        reader.position() as u64,
        "pickle ended before STOP",
    )
    .into())
}

/// Lists every pickle in `data`, one after another. The first is listed exactly as
/// `python -m pickletools` lists it; each later one follows a blank line and a header
/// `==> pickle N at offset X <==`, with offsets counted from the start of `data` (as
/// pickletools counts them when it reads on from the same file).
///
/// Bytes after the last pickle that do not start with an opcode are not an error: they
/// are returned in [`DisSummary::trailing`] for the caller to report.
pub fn dis_all(
    data: &[u8],
    options: &DisOptions,
    out: &mut impl Write,
) -> Result<DisSummary, DisError> {
    let mut summary = DisSummary::default();
    let mut memo = DisMemo::default();
    let mut pos = 0;
    loop {
        if !summary.pickles.is_empty() {
            if pos >= data.len() {
                break;
            }
            if Opcode::from_byte(data[pos]).is_none() {
                summary.trailing = Some((pos, data.len() - pos));
                break;
            }
            writeln!(out)?;
            writeln!(
                out,
                "==> pickle {} at offset {pos} <==",
                summary.pickles.len() + 1
            )?;
            if !options.keep_memo {
                memo = DisMemo::default();
            }
        }
        summary.pickles.push(pos);
        pos = dis_pickle(data, pos, &mut memo, options, out, &mut summary.warnings)?;
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_position_is_right_aligned_in_five_columns_as_pickletools_pads_it() {
        for (offset, want) in [
            (0usize, "    0: "),
            (7, "    7: "),
            (12345, "12345: "),
            (123456, "123456: "),
            (usize::MAX, "18446744073709551615: "),
        ] {
            let mut line = String::from(">");
            push_position(&mut line, offset);
            assert_eq!(line, format!(">{want}"));
            assert_eq!(&line[1..], format!("{offset:5}: "));
        }
    }
}
