//! Opcodes that build or fill a container: EMPTY_LIST/TUPLE/DICT/SET, LIST, TUPLE,
//! TUPLE1-3, DICT, FROZENSET, and APPEND, APPENDS, SETITEM, SETITEMS, ADDITEMS.
//!
//! Children go straight from the stack into the graph's shared child arrays (no vector
//! per container). Items added to something that is not a native container (a call's
//! result, whose `append` or `__setitem__` CPython would call) are kept with it, or as a
//! [`Mutation`].

use super::graph::{Seq, TooManyChildren};
use super::{misrouted, unsupported, Machine, Mutation, MutationKind, NodeId, Stack};
use crate::error::{Error, Result};
use crate::limits::Limit;
use crate::opcode::Opcode;
use crate::reader::Op;

/// CPython refuses an odd count of items for a dict (load_dict, do_setitems: "odd number
/// of items for DICT/SETITEMS").
fn check_even(len: usize, op: &Op<'_>) -> Result<()> {
    if !len.is_multiple_of(2) {
        return Err(unsupported(
            op,
            format!("odd number of items for {} ({len})", op.opcode),
        ));
    }
    Ok(())
}

/// More children than a container's position in the child arrays can address.
#[cold]
pub(super) fn too_many(op: &Op<'_>, _: TooManyChildren) -> Error {
    Limit::Nodes.exceeded(
        op.offset as u64,
        format_args!("more than {} children in all containers", u32::MAX),
    )
}

impl Machine<'_, '_> {
    /// EMPTY_LIST, EMPTY_TUPLE, EMPTY_DICT, EMPTY_SET, LIST, TUPLE, TUPLE1-3, DICT,
    /// FROZENSET: the new container (not yet pushed).
    #[inline]
    pub(super) fn container(&mut self, op: &Op<'_>, stack: &mut Stack) -> Result<NodeId> {
        let graph = &mut self.graph;
        let slot = match op.opcode {
            Opcode::EMPTY_LIST => graph.seq_slot(Seq::List, &[]),
            Opcode::EMPTY_TUPLE => graph.seq_slot(Seq::Tuple, &[]),
            Opcode::EMPTY_DICT => graph.dict_slot(&[]),
            Opcode::EMPTY_SET => graph.seq_slot(Seq::Set, &[]),
            Opcode::LIST | Opcode::TUPLE | Opcode::FROZENSET | Opcode::DICT => {
                let at = stack.take_mark(op)?;
                let above = stack.above(at);
                let slot = match op.opcode {
                    Opcode::LIST => graph.seq_slot(Seq::List, above),
                    Opcode::TUPLE => graph.seq_slot(Seq::Tuple, above),
                    Opcode::FROZENSET => graph.seq_slot(Seq::FrozenSet, above),
                    _ => match check_even(above.len(), op) {
                        Ok(()) => graph.dict_slot(above),
                        Err(e) => {
                            stack.truncate(at);
                            return Err(e);
                        }
                    },
                };
                stack.truncate(at);
                slot
            }
            Opcode::TUPLE1 => graph.seq_slot(Seq::Tuple, &stack.pop_n::<1>(op)?),
            Opcode::TUPLE2 => graph.seq_slot(Seq::Tuple, &stack.pop_n::<2>(op)?),
            Opcode::TUPLE3 => graph.seq_slot(Seq::Tuple, &stack.pop_n::<3>(op)?),
            _ => return Err(misrouted(op)),
        };
        let slot = slot.map_err(|e| too_many(op, e))?;
        self.push_node(slot, op)
    }

    /// APPEND, APPENDS, SETITEM, SETITEMS, ADDITEMS: items added to the object below them.
    #[inline]
    pub(super) fn add_to(&mut self, op: &Op<'_>, stack: &mut Stack) -> Result<()> {
        match op.opcode {
            Opcode::APPEND => {
                let value = stack.pop(op)?;
                let target = stack.top(op)?;
                self.add_items(target, Seq::List, &[value], op)?;
            }
            Opcode::APPENDS | Opcode::ADDITEMS => {
                let (target, at) = stack.take_mark_under(op)?;
                let seq = match op.opcode {
                    Opcode::ADDITEMS => Seq::Set,
                    _ => Seq::List,
                };
                let result = self.add_items(target, seq, stack.above(at), op);
                stack.truncate(at);
                result?;
            }
            Opcode::SETITEM => {
                let [key, value] = stack.pop_n::<2>(op)?;
                let target = stack.top(op)?;
                self.set_items(target, &[key, value], op)?;
            }
            Opcode::SETITEMS => {
                let at = stack.take_mark(op)?;
                let len = stack.above(at).len();
                if let Err(e) = check_even(len, op) {
                    stack.truncate(at);
                    return Err(e);
                }
                let Some(target) = stack.under(at) else {
                    stack.truncate(at);
                    return Err(super::stack::underflow(op));
                };
                let result = self.set_items(target, stack.above(at), op);
                stack.truncate(at);
                result?;
            }
            _ => return Err(misrouted(op)),
        }
        Ok(())
    }

    /// Items appended to a list (APPEND, APPENDS) or added to a set (ADDITEMS).
    fn add_items(&mut self, target: NodeId, seq: Seq, items: &[NodeId], op: &Op<'_>) -> Result<()> {
        if self
            .graph
            .extend_items(target, seq, items)
            .map_err(|e| too_many(op, e))?
        {
            return Ok(());
        }
        match self.graph.call_mut(target) {
            Some(call) => call.list_items.extend_from_slice(items),
            None => self.graph.mutations.push(Mutation {
                target,
                offset: op.offset,
                kind: MutationKind::Items(items.to_vec()),
            }),
        }
        Ok(())
    }

    /// Key and value pairs (`flat`: key, value, …, an even count) set on a dict.
    fn set_items(&mut self, target: NodeId, flat: &[NodeId], op: &Op<'_>) -> Result<()> {
        let mut pairs = std::mem::take(&mut self.scratch_pairs);
        pairs.clear();
        pairs.extend(flat.chunks_exact(2).filter_map(|kv| match *kv {
            [k, v] => Some((k, v)),
            _ => None,
        }));
        let done = self.graph.extend_pairs(target, &pairs);
        let result = match done {
            Err(e) => Err(too_many(op, e)),
            Ok(true) => Ok(()),
            Ok(false) => {
                match self.graph.call_mut(target) {
                    Some(call) => call.dict_items.extend_from_slice(&pairs),
                    None => self.graph.mutations.push(Mutation {
                        target,
                        offset: op.offset,
                        kind: MutationKind::Pairs(pairs.clone()),
                    }),
                }
                Ok(())
            }
        };
        self.scratch_pairs = pairs;
        result
    }
}
