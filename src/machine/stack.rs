//! The stack of one pickle with CPython's MARK fences, and the opcodes that only move
//! items: MARK, POP, POP_MARK, DUP.
//!
//! CPython's C unpickler keeps marks apart from the stack (`Pdata` with a `fence`, and
//! `marks`, in `Modules/_pickle.c`): an opcode can never pop below the topmost MARK, and
//! doing so is a stack underflow even when items lie below the fence.

use super::NodeId;
use crate::error::{Error, ErrorKind, Result};
use crate::limits::Limit;
use crate::reader::Op;

pub(super) struct Stack {
    items: Vec<NodeId>,
    /// Where each open MARK was set: the length of `items` then.
    marks: Vec<usize>,
}

/// CPython's "unpickling stack underflow", with the opcode that hit it.
#[cold]
pub(super) fn underflow(op: &Op<'_>) -> Error {
    Error::new(
        ErrorKind::Inconsistent,
        op.offset as u64,
        format!("{} pops from an empty stack (stack underflow)", op.opcode),
    )
}

impl Stack {
    pub(super) fn new() -> Stack {
        Stack {
            items: Vec::new(),
            marks: Vec::new(),
        }
    }

    /// Items on the stack (marks not counted).
    #[inline]
    pub(super) fn len(&self) -> usize {
        self.items.len()
    }

    /// Every item, below MARKs too, bottom first (what a pickle that failed left).
    pub(super) fn items(&self) -> &[NodeId] {
        &self.items
    }

    /// Open MARKs.
    #[cfg(debug_assertions)]
    pub(super) fn depth(&self) -> usize {
        self.marks.len()
    }

    /// The top item, fence or not.
    #[cfg(debug_assertions)]
    pub(super) fn top_item(&self) -> Option<NodeId> {
        self.items.last().copied()
    }

    /// Where the topmost MARK was set.
    #[inline]
    pub(super) fn top_mark(&self) -> Option<usize> {
        self.marks.last().copied()
    }

    #[inline]
    fn fence(&self) -> usize {
        self.top_mark().unwrap_or(0)
    }

    #[inline]
    pub(super) fn push(&mut self, id: NodeId) {
        self.items.push(id);
    }

    #[inline]
    pub(super) fn pop(&mut self, op: &Op<'_>) -> Result<NodeId> {
        if self.items.len() <= self.fence() {
            return Err(underflow(op));
        }
        self.items.pop().ok_or_else(|| underflow(op))
    }

    /// The top `N` items, bottom first (TUPLE2's pair, SETITEM's key and value).
    #[inline]
    pub(super) fn pop_n<const N: usize>(&mut self, op: &Op<'_>) -> Result<[NodeId; N]> {
        let mut out = [NodeId(0); N];
        for slot in out.iter_mut().rev() {
            *slot = self.pop(op)?;
        }
        Ok(out)
    }

    #[inline]
    pub(super) fn top(&self, op: &Op<'_>) -> Result<NodeId> {
        if self.items.len() <= self.fence() {
            return Err(underflow(op));
        }
        self.items.last().copied().ok_or_else(|| underflow(op))
    }

    /// Everything above the topmost MARK, and the MARK (the stackslice of pickletools).
    pub(super) fn pop_mark(&mut self, op: &Op<'_>) -> Result<Vec<NodeId>> {
        let mark = self.take_mark(op)?;
        Ok(self.items.split_off(mark))
    }

    /// Pops the topmost MARK, leaving the items above it: where it was set. Read them with
    /// [`Stack::above`], then drop them with [`Stack::truncate`] (no copy of the slice).
    #[inline]
    pub(super) fn take_mark(&mut self, op: &Op<'_>) -> Result<usize> {
        self.marks.pop().ok_or_else(|| {
            Error::new(
                ErrorKind::Inconsistent,
                op.offset as u64,
                format!("{} without a MARK on the stack", op.opcode),
            )
        })
    }

    /// The items from `at` up (what a MARK taken by [`Stack::take_mark`] fenced).
    #[inline]
    pub(super) fn above(&self, at: usize) -> &[NodeId] {
        self.items.get(at..).unwrap_or(&[])
    }

    /// Drops the items from `at` up.
    #[inline]
    pub(super) fn truncate(&mut self, at: usize) {
        self.items.truncate(at);
    }

    /// The item just below position `at`, if the topmost MARK does not fence it off.
    #[inline]
    pub(super) fn under(&self, at: usize) -> Option<NodeId> {
        let i = at.checked_sub(1)?;
        (at > self.fence()).then(|| self.items.get(i).copied())?
    }

    /// For an opcode that takes the slice above the topmost MARK and then must find an
    /// item under it (APPENDS, SETITEMS, ADDITEMS): that item, and where the MARK was.
    #[inline]
    pub(super) fn take_mark_under(&mut self, op: &Op<'_>) -> Result<(NodeId, usize)> {
        let at = self.take_mark(op)?;
        // The item under the MARK, as if the slice were already popped.
        match self.under(at) {
            Some(id) => Ok((id, at)),
            None => {
                self.items.truncate(at);
                Err(underflow(op))
            }
        }
    }

    /// MARK, within `max_depth` open marks.
    #[inline]
    pub(super) fn mark(&mut self, op: &Op<'_>, max_depth: usize) -> Result<()> {
        if self.marks.len() >= max_depth {
            return Err(Limit::Depth.exceeded(
                op.offset as u64,
                format_args!("MARKs nested more than {max_depth} deep"),
            ));
        }
        self.marks.push(self.items.len());
        Ok(())
    }

    /// POP: CPython pops the MARK itself when nothing is above it (load_pop).
    #[inline]
    pub(super) fn pop_item_or_mark(&mut self, op: &Op<'_>) -> Result<()> {
        if self.top_mark() == Some(self.items.len()) {
            self.marks.pop();
        } else {
            self.pop(op)?;
        }
        Ok(())
    }

    /// DUP: the same node again (a reference, not a copy).
    #[inline]
    pub(super) fn dup(&mut self, op: &Op<'_>) -> Result<()> {
        let top = self.top(op)?;
        self.items.push(top);
        Ok(())
    }
}
