//! Opcodes that push a plain value: integers (INT, BININT*, LONG*), floats (FLOAT,
//! BINFLOAT), byte and text strings (STRING, BINSTRING*, *BINBYTES*, BYTEARRAY8, UNICODE,
//! *BINUNICODE*), None and the bools.
//!
//! Text arguments are read as CPython's C unpickler reads them (`Modules/_pickle.c`),
//! which is stricter than `pickletools` in places: `src/pytext/` has the rules.

use super::args::OpArgs;
use super::containers::too_many;
use super::{invalid, misrouted, BytesKind, Machine, NodeId, Slot};
use crate::error::Result;
use crate::opcode::Opcode;
use crate::pytext::{self, IntLine};
use crate::reader::{check_text, Op};

/// Slots of [`Machine::shared`]: None, False, True, then the ints -5..=256.
pub(super) const SHARED_SLOTS: usize = 3 + 262;

/// Text from code points; lone surrogates (not representable in Rust) become U+FFFD.
fn string_from_code_points(cps: &[u32]) -> String {
    cps.iter()
        .map(|&cp| char::from_u32(cp).unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect()
}

impl<'data> Machine<'data, '_> {
    /// The shared node in `slot` of [`Machine::shared`], made on first use.
    #[inline]
    fn shared(&mut self, slot: usize, node: Slot, op: &Op<'_>) -> Result<NodeId> {
        if let Some(Some(id)) = self.shared.get(slot) {
            return Ok(*id);
        }
        let id = self.push_node(node, op)?;
        if let Some(entry) = self.shared.get_mut(slot) {
            *entry = Some(id);
        }
        Ok(id)
    }

    #[inline]
    pub(super) fn none(&mut self, op: &Op<'_>) -> Result<NodeId> {
        self.shared(0, Slot::None, op)
    }

    #[inline]
    pub(super) fn bool(&mut self, value: bool, op: &Op<'_>) -> Result<NodeId> {
        self.shared(1 + usize::from(value), Slot::Bool(value), op)
    }

    #[inline]
    fn small_or_new_int(&mut self, value: i64, op: &Op<'_>) -> Result<NodeId> {
        // -5..=256, CPython's small ints, have slots 3..=264.
        let small = (-5..=256).contains(&value);
        match value.checked_add(5).and_then(|v| usize::try_from(v).ok()) {
            Some(slot) if small => self.shared(3 + slot, Slot::Int(value), op),
            _ => self.push_node(Slot::Int(value), op),
        }
    }

    fn int_node(&mut self, value: num_bigint::BigInt, op: &Op<'_>) -> Result<NodeId> {
        match i64::try_from(&value) {
            Ok(small) => self.small_or_new_int(small, op),
            Err(_) => {
                let slot = self
                    .graph
                    .big_int_slot(value)
                    .map_err(|e| too_many(op, e))?;
                self.push_node(slot, op)
            }
        }
    }

    /// A str node from code points; lone surrogates are kept exactly on the side.
    fn text_node(&mut self, cps: &[u32], op: &Op<'_>) -> Result<NodeId> {
        let text = string_from_code_points(cps);
        let slot = self
            .graph
            .owned_str_slot(text)
            .map_err(|e| too_many(op, e))?;
        let id = self.push_node(slot, op)?;
        if cps.iter().any(|&cp| (0xD800..=0xDFFF).contains(&cp)) {
            self.graph.surrogate_strs.insert(id, cps.into());
        }
        Ok(id)
    }

    /// INT, BININT, BININT1, BININT2, LONG, LONG1, LONG4, FLOAT, BINFLOAT.
    #[inline]
    pub(super) fn number(&mut self, op: &Op<'_>) -> Result<NodeId> {
        match op.opcode {
            // As the C unpickler reads it (`010` is 8), not as pickletools does.
            Opcode::INT => match pytext::parse_int_line(op.line()?).map_err(|m| invalid(op, m))? {
                IntLine::Bool(b) => self.bool(b, op),
                IntLine::Small(v) => self.small_or_new_int(v, op),
                IntLine::Big(v) => self.int_node(v, op),
            },
            Opcode::BININT => self.small_or_new_int(i64::from(op.int4()?), op),
            Opcode::BININT1 | Opcode::BININT2 => {
                let v = i64::try_from(op.uint()?).map_err(|_| misrouted(op))?;
                self.small_or_new_int(v, op)
            }
            Opcode::LONG => {
                // The C unpickler cuts a trailing `L` and reads the rest as `int(s, 0)`.
                let line = op.line()?;
                let digits = line.strip_suffix(b"L").unwrap_or(line);
                let v = pytext::parse_int_base0(digits).map_err(|m| invalid(op, m))?;
                self.int_node(v, op)
            }
            Opcode::LONG1 | Opcode::LONG4 => self.int_node(pytext::decode_long(op.bytes()?), op),
            Opcode::FLOAT => {
                // As the C unpickler reads it, stricter than pickletools' float().
                let v = pytext::parse_float_line(op.line()?).map_err(|m| invalid(op, m))?;
                self.push_node(Slot::Float(v), op)
            }
            Opcode::BINFLOAT => self.push_node(Slot::Float(op.float8()?), op),
            _ => Err(misrouted(op)),
        }
    }

    /// STRING, BINSTRING, SHORT_BINSTRING, BINBYTES, SHORT_BINBYTES, BINBYTES8, BYTEARRAY8,
    /// UNICODE, SHORT_BINUNICODE, BINUNICODE, BINUNICODE8.
    #[inline]
    pub(super) fn string(&mut self, op: &Op<'data>) -> Result<NodeId> {
        let slot = match op.opcode {
            Opcode::STRING => {
                let decoded = quoted_string(op)?;
                self.graph.owned_bytes_slot(decoded, BytesKind::Py2Str)
            }
            // Python 2 str: Python 3 decodes them per the loader's `encoding`.
            Opcode::BINSTRING | Opcode::SHORT_BINSTRING => {
                self.graph.bytes_slot(op.bytes()?, BytesKind::Py2Str)
            }
            Opcode::BINBYTES | Opcode::SHORT_BINBYTES | Opcode::BINBYTES8 => {
                self.graph.bytes_slot(op.bytes()?, BytesKind::Bytes)
            }
            Opcode::BYTEARRAY8 => self.graph.bytes_slot(op.bytes()?, BytesKind::ByteArray),
            Opcode::UNICODE => {
                let cps =
                    pytext::decode_raw_unicode_escape(op.line()?).map_err(|m| invalid(op, m))?;
                return self.text_node(&cps, op);
            }
            Opcode::SHORT_BINUNICODE | Opcode::BINUNICODE | Opcode::BINUNICODE8 => {
                // Validated here, once (the reader defers it to us), and borrowed.
                let bytes = op.text()?;
                match check_text(bytes, op.opcode, op.offset)? {
                    Some(text) => self.graph.str_slot(text),
                    // Encoded surrogates, which CPython accepts (`surrogatepass`).
                    None => return self.text_node(&pytext::decode_utf8_surrogatepass(bytes), op),
                }
            }
            _ => return Err(misrouted(op)),
        };
        let slot = slot.map_err(|e| too_many(op, e))?;
        self.push_node(slot, op)
    }
}

/// STRING's argument: quoted with `'` or `"` and backslash-escaped, as the C unpickler
/// requires (load_string: "the STRING opcode argument must be quoted").
fn quoted_string(op: &Op<'_>) -> Result<Vec<u8>> {
    let line = op.line()?;
    let inner = match line.split_first() {
        Some((&quote, rest)) if quote == b'\'' || quote == b'"' => match rest.split_last() {
            Some((&last, inner)) if last == quote => Some(inner),
            _ => None,
        },
        _ => None,
    };
    let inner = inner.ok_or_else(|| invalid(op, "the STRING opcode argument must be quoted"))?;
    pytext::escape_decode(inner).map_err(|m| invalid(op, m))
}
