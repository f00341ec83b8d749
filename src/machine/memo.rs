//! The memo and its opcodes: GET, BINGET, LONG_BINGET, PUT, BINPUT, LONG_BINPUT, MEMOIZE.
//!
//! A memo entry holds a node id, so a memo reference shares the node: a "billion laughs"
//! pickle costs what its bytes cost.

use rustc_hash::FxHashMap as HashMap;

use super::args::OpArgs;
use super::{invalid, misrouted, Machine, NodeId};
use crate::error::{Error, ErrorKind, Result};
use crate::limits::Limit;
use crate::opcode::Opcode;
use crate::pytext;
use crate::reader::{Arg, Op};

/// An empty slot of [`Memo`]'s dense part.
const EMPTY: NodeId = NodeId(u32::MAX);

/// Memo keys are numbered 0, 1, 2, … by picklers: keep them densely, and far-off keys in a map
/// so `LONG_BINPUT 4294967295` costs one entry.
/// `dense` holds [`EMPTY`] where no entry is (4 bytes a slot; a node id never reaches it,
/// as the machine keeps node counts below `u32::MAX`).
#[derive(Default)]
pub(super) struct Memo {
    dense: Vec<NodeId>,
    sparse: HashMap<u64, NodeId>,
    len: usize,
    /// Dense keys to reserve room for ([`Memo::with_hint`]).
    hint: usize,
}

/// See [`Memo::with_hint`].
const EARLY_ENTRIES: usize = 1 << 14;

impl Memo {
    /// A memo that, once it holds [`EARLY_ENTRIES`] dense keys, reserves room for
    /// `entries` (so growing does not hold two copies; untouched room costs no memory).
    pub(super) fn with_hint(entries: usize) -> Memo {
        Memo {
            hint: entries,
            ..Memo::default()
        }
    }

    /// Entries stored.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    #[inline]
    pub(super) fn get(&self, key: u64) -> Option<NodeId> {
        match usize::try_from(key).ok().and_then(|k| self.dense.get(k)) {
            Some(&id) if id == EMPTY => None,
            Some(&id) => Some(id),
            None => self.sparse.get(&key).copied(),
        }
    }

    #[inline]
    pub(super) fn put(&mut self, key: u64, id: NodeId) {
        // Dense up to twice the entries so far (plus some): a key far past that would make
        // a few bytes of input cost gigabytes of slots.
        let dense_limit = self.len.saturating_mul(2).saturating_add(1024);
        let replaced = match usize::try_from(key) {
            Ok(k) if k < self.dense.len().max(dense_limit) => {
                if k >= self.dense.len() {
                    if k >= EARLY_ENTRIES && self.dense.capacity() < self.hint {
                        self.dense
                            .reserve(self.hint.saturating_sub(self.dense.len()));
                    }
                    self.dense.resize(k.saturating_add(1), EMPTY);
                }
                self.dense
                    .get_mut(k)
                    .map(|slot| std::mem::replace(slot, id))
                    .filter(|&old| old != EMPTY)
            }
            _ => self.sparse.insert(key, id),
        };
        if replaced.is_none() {
            self.len = self.len.saturating_add(1);
        }
    }

    /// Adds every entry of `other` (the union of memos a later pickle of the stream may use).
    pub(super) fn absorb(&mut self, other: &Memo) {
        for (key, &id) in other.dense.iter().enumerate() {
            if let (true, Ok(key)) = (id != EMPTY, u64::try_from(key)) {
                self.put(key, id);
            }
        }
        for (&key, &id) in &other.sparse {
            self.put(key, id);
        }
    }
}

impl Machine<'_, '_> {
    /// The key of GET/PUT (a decimal line, as the C unpickler reads it) or their binary forms.
    fn memo_key(op: &Op<'_>) -> Result<u64> {
        if let Arg::UInt(k) = op.arg {
            return Ok(k);
        }
        // `_pickle.c` parses the line as a C string: it ends at a NUL (pickle.py refuses
        // one; `analysis::differential` reports the difference).
        let line = op.line()?;
        let line = line.split(|&b| b == 0).next().unwrap_or(line);
        if let Some(key) = pytext::parse_small_int(line).and_then(|k| u64::try_from(k).ok()) {
            return Ok(key);
        }
        let value = pytext::parse_int(line).map_err(|m| invalid(op, m))?;
        u64::try_from(&value).map_err(|_| invalid(op, format!("bad memo key {value}")))
    }

    /// GET, BINGET, LONG_BINGET.
    #[inline]
    pub(super) fn memo_get(&self, op: &Op<'_>, memo: &Memo) -> Result<NodeId> {
        let key = Self::memo_key(op)?;
        memo.get(key).ok_or_else(|| {
            Error::new(
                ErrorKind::MissingMemoKey,
                op.offset as u64,
                format!("{} of memo key {key}, which was never stored", op.opcode),
            )
        })
    }

    /// PUT, BINPUT, LONG_BINPUT, MEMOIZE: store the top without popping it.
    #[inline]
    pub(super) fn memo_put(
        &self,
        op: &Op<'_>,
        stack: &super::Stack,
        memo: &mut Memo,
    ) -> Result<()> {
        let top = stack.top(op)?;
        let key = match op.opcode {
            // MEMOIZE stores at the memo's length (`len(self.memo)` in pickle.py).
            Opcode::MEMOIZE => u64::try_from(memo.len()).map_err(|_| misrouted(op))?,
            Opcode::PUT | Opcode::BINPUT | Opcode::LONG_BINPUT => Self::memo_key(op)?,
            _ => return Err(misrouted(op)),
        };
        if memo.len() >= self.limits.max_memo && memo.get(key).is_none() {
            return Err(Limit::Memo.exceeded(
                op.offset as u64,
                format_args!("more than {} memo entries", self.limits.max_memo),
            ));
        }
        memo.put(key, top);
        Ok(())
    }
}
