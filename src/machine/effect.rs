//! Debug builds only: checks each opcode's observed stack effect against the opcode table's
//! `stack_before`/`stack_after` columns (pickletools' `I(...)` rows), so the machine and
//! the table cannot drift apart. A mismatch is a bug in pklinspect and panics.
//!
//! What is asserted, from pickletools' conventions:
//! - An opcode whose `stack_before` holds `mark` takes everything from the topmost MARK up
//!   (its `stackslice`, and any items listed after the mark, which lie in that slice, as
//!   OBJ's class does), the MARK itself, and the items listed before the mark, which lie
//!   below it (APPENDS' list); it then leaves `stack_after`. So the stack ends at the
//!   MARK's position, minus those items below it, plus `stack_after`; one MARK fewer.
//! - MARK adds a MARK and no item.
//! - Any other opcode takes `stack_before` and leaves `stack_after`, marks untouched.
//!   POP is the one exception the table cannot show: with nothing above the topmost MARK
//!   CPython pops the MARK itself (`load_pop` in `Modules/_pickle.c`), as pickletools,
//!   to whom a MARK is just an object on the stack, also does.
//! - Where an opcode makes a new object of a definite kind (`list`, `int_or_bool`, …, not
//!   `any`), the node now on top is of that kind. An opcode that leaves in place an object
//!   it also takes (APPEND's list, READONLY_BUFFER's buffer) is not checked: the machine
//!   keeps such operations on objects of any kind as data.

use super::{BytesKind, Graph, Node, Stack};
use crate::opcode::{OpcodeInfo, StackKind};
use crate::reader::Op;

/// The stack's shape before an opcode.
#[derive(Clone, Copy, Debug)]
pub(super) struct Shape {
    items: usize,
    marks: usize,
    top_mark: Option<usize>,
}

impl Shape {
    pub(super) fn of(stack: &Stack) -> Shape {
        Shape {
            items: stack.len(),
            marks: stack.depth(),
            top_mark: stack.top_mark(),
        }
    }
}

/// The shapes the table allows after an opcode that ran on `before` (one, or for POP two).
fn expected(info: &OpcodeInfo, before: Shape) -> [Option<(usize, usize)>; 2] {
    let (taken, left) = (info.stack_before, info.stack_after);
    if let Some(below) = taken.iter().position(|k| *k == StackKind::Mark) {
        let items = before
            .top_mark
            .and_then(|mark| mark.checked_sub(below))
            .and_then(|items| items.checked_add(left.len()));
        return [items.zip(before.marks.checked_sub(1)), None];
    }
    if left.contains(&StackKind::Mark) {
        return [Some((before.items, before.marks.saturating_add(1))), None];
    }
    let items = before
        .items
        .checked_sub(taken.len())
        .and_then(|items| items.checked_add(left.len()));
    let mark_popped = match info.opcode {
        crate::opcode::Opcode::POP if before.top_mark == Some(before.items) => before
            .marks
            .checked_sub(1)
            .map(|marks| (before.items, marks)),
        _ => None,
    };
    [items.map(|items| (items, before.marks)), mark_popped]
}

/// Whether `node` is of the kind pickletools names.
fn is_kind(node: &Node<'_>, kind: StackKind) -> bool {
    match kind {
        StackKind::Int => matches!(node, Node::Int(_) | Node::BigInt(_)),
        StackKind::IntOrBool => matches!(node, Node::Int(_) | Node::BigInt(_) | Node::Bool(_)),
        StackKind::Bool => matches!(node, Node::Bool(_)),
        StackKind::Float => matches!(node, Node::Float(_)),
        StackKind::BytesOrStr => matches!(node, Node::Bytes(_, BytesKind::Py2Str)),
        StackKind::Bytes => matches!(node, Node::Bytes(_, BytesKind::Bytes)),
        StackKind::Bytearray => matches!(node, Node::Bytes(_, BytesKind::ByteArray)),
        StackKind::Str => matches!(node, Node::Str(_)),
        StackKind::NoneValue => matches!(node, Node::None),
        StackKind::Tuple => matches!(node, Node::Tuple(_)),
        StackKind::List => matches!(node, Node::List(_)),
        StackKind::Dict => matches!(node, Node::Dict(_)),
        StackKind::Set => matches!(node, Node::Set(_)),
        StackKind::Frozenset => matches!(node, Node::FrozenSet(_)),
        StackKind::Buffer => matches!(node, Node::Buffer { .. }),
        StackKind::Any | StackKind::Mark | StackKind::StackSlice => true,
    }
}

/// Panics if the opcode `op`, run on a stack of shape `before`, left `stack` otherwise
/// than the opcode table says.
pub(super) fn check(op: &Op<'_>, before: Shape, stack: &Stack, graph: &Graph<'_>) {
    let info = op.opcode.info();
    let after = (stack.len(), stack.depth());
    let allowed = expected(info, before);
    assert!(
        allowed.contains(&Some(after)),
        "{} at offset {}: stack went from {before:?} to (items, marks) = {after:?}; \
         the opcode table allows {allowed:?}",
        op.opcode,
        op.offset,
    );
    let Some(&made) = info.stack_after.last() else {
        return;
    };
    if info.stack_before.contains(&made) {
        return;
    }
    if let Some(top) = stack.top_item() {
        assert!(
            is_kind(&graph.node(top), made),
            "{} at offset {}: pushed {:?}, the opcode table says {made}",
            op.opcode,
            op.offset,
            graph.node(top),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::opcode::Opcode;
    use crate::reader::Arg;

    fn shape(items: usize, marks: usize, top_mark: Option<usize>) -> Shape {
        Shape {
            items,
            marks,
            top_mark,
        }
    }

    #[test]
    fn mark_opcodes_end_at_their_mark() {
        // [x, list, MARK, a, b] APPENDS -> [x, list]
        let before = shape(4, 1, Some(2));
        assert_eq!(expected(Opcode::APPENDS.info(), before)[0], Some((2, 0)));
        // [MARK, cls, a] OBJ -> [obj]
        let before = shape(2, 1, Some(0));
        assert_eq!(expected(Opcode::OBJ.info(), before)[0], Some((1, 0)));
        // [x, MARK, a, b] LIST -> [x, list]
        let before = shape(3, 1, Some(1));
        assert_eq!(expected(Opcode::LIST.info(), before)[0], Some((2, 0)));
        assert_eq!(expected(Opcode::MARK.info(), before)[0], Some((3, 2)));
    }

    #[test]
    fn pop_may_pop_a_mark_with_nothing_above_it() {
        let before = shape(1, 1, Some(1));
        assert_eq!(
            expected(Opcode::POP.info(), before),
            [Some((0, 1)), Some((1, 0))]
        );
        assert_eq!(
            expected(Opcode::TUPLE2.info(), shape(3, 0, None))[0],
            Some((2, 0))
        );
    }

    #[test]
    #[should_panic(expected = "EMPTY_LIST at offset 0")]
    fn an_effect_the_table_does_not_allow_panics() {
        let op = Op {
            offset: 0,
            opcode: Opcode::EMPTY_LIST,
            arg: Arg::None,
            end: 1,
        };
        let stack = Stack::new();
        check(&op, Shape::of(&stack), &stack, &Graph::default());
    }
}
