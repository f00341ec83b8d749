//! Opcodes that build or fill a container: EMPTY_LIST/TUPLE/DICT/SET, LIST, TUPLE,
//! TUPLE1-3, DICT, FROZENSET, and APPEND, APPENDS, SETITEM, SETITEMS, ADDITEMS.
//!
//! Items added to something that is not a native container (a call's result, whose
//! `append` or `__setitem__` CPython would call) are kept with it, or as a [`Mutation`].

use super::{misrouted, unsupported, Machine, Mutation, MutationKind, Node, NodeId, Stack};
use crate::error::Result;
use crate::opcode::Opcode;
use crate::reader::Op;

/// Key, value pairs from a MARK's slice: CPython refuses an odd count (load_dict,
/// do_setitems: "odd number of items for DICT/SETITEMS").
fn pairs(items: Vec<NodeId>, op: &Op<'_>) -> Result<Vec<(NodeId, NodeId)>> {
    if !items.len().is_multiple_of(2) {
        return Err(unsupported(
            op,
            format!("odd number of items for {} ({})", op.opcode, items.len()),
        ));
    }
    Ok(items
        .chunks_exact(2)
        .filter_map(|kv| match *kv {
            [k, v] => Some((k, v)),
            _ => None,
        })
        .collect())
}

impl Machine<'_, '_> {
    /// EMPTY_LIST, EMPTY_TUPLE, EMPTY_DICT, EMPTY_SET, LIST, TUPLE, TUPLE1-3, DICT,
    /// FROZENSET: the new container (not yet pushed).
    #[inline]
    pub(super) fn container(&mut self, op: &Op<'_>, stack: &mut Stack) -> Result<NodeId> {
        let node = match op.opcode {
            Opcode::EMPTY_LIST => Node::List(Vec::new()),
            Opcode::EMPTY_TUPLE => Node::Tuple(Vec::new()),
            Opcode::EMPTY_DICT => Node::Dict(Vec::new()),
            Opcode::EMPTY_SET => Node::Set(Vec::new()),
            Opcode::LIST => Node::List(stack.pop_mark(op)?),
            Opcode::TUPLE => Node::Tuple(stack.pop_mark(op)?),
            Opcode::TUPLE1 => Node::Tuple(stack.pop_n::<1>(op)?.to_vec()),
            Opcode::TUPLE2 => Node::Tuple(stack.pop_n::<2>(op)?.to_vec()),
            Opcode::TUPLE3 => Node::Tuple(stack.pop_n::<3>(op)?.to_vec()),
            Opcode::DICT => Node::Dict(pairs(stack.pop_mark(op)?, op)?),
            Opcode::FROZENSET => Node::FrozenSet(stack.pop_mark(op)?),
            _ => return Err(misrouted(op)),
        };
        self.push_node(node, op)
    }

    /// APPEND, APPENDS, SETITEM, SETITEMS, ADDITEMS: items added to the object below them.
    #[inline]
    pub(super) fn add_to(&mut self, op: &Op<'_>, stack: &mut Stack) -> Result<()> {
        match op.opcode {
            Opcode::APPEND => {
                let value = stack.pop(op)?;
                let target = stack.top(op)?;
                self.append(target, vec![value], op);
            }
            Opcode::APPENDS => {
                let (target, items) = stack.pop_mark_under(op)?;
                self.append(target, items, op);
            }
            Opcode::SETITEM => {
                let [key, value] = stack.pop_n::<2>(op)?;
                let target = stack.top(op)?;
                self.set_items(target, vec![(key, value)], op);
            }
            Opcode::SETITEMS => {
                let items = stack.pop_mark(op)?;
                let pairs = pairs(items, op)?;
                let target = stack.top(op)?;
                self.set_items(target, pairs, op);
            }
            Opcode::ADDITEMS => {
                let (target, items) = stack.pop_mark_under(op)?;
                self.add_items(target, items, op);
            }
            _ => return Err(misrouted(op)),
        }
        Ok(())
    }

    fn append(&mut self, target: NodeId, items: Vec<NodeId>, op: &Op<'_>) {
        match self.graph.node_mut(target) {
            Node::List(list) => list.extend(items),
            Node::Call(call) => call.list_items.extend(items),
            _ => self.graph.mutations.push(Mutation {
                target,
                offset: op.offset,
                kind: MutationKind::Items(items),
            }),
        }
    }

    fn set_items(&mut self, target: NodeId, pairs: Vec<(NodeId, NodeId)>, op: &Op<'_>) {
        match self.graph.node_mut(target) {
            Node::Dict(dict) => dict.extend(pairs),
            Node::Call(call) => call.dict_items.extend(pairs),
            _ => self.graph.mutations.push(Mutation {
                target,
                offset: op.offset,
                kind: MutationKind::Pairs(pairs),
            }),
        }
    }

    fn add_items(&mut self, target: NodeId, items: Vec<NodeId>, op: &Op<'_>) {
        match self.graph.node_mut(target) {
            Node::Set(set) => set.extend(items),
            Node::Call(call) => call.list_items.extend(items),
            _ => self.graph.mutations.push(Mutation {
                target,
                offset: op.offset,
                kind: MutationKind::Items(items),
            }),
        }
    }
}
