//! BUILD, and the bytes a container format writes after an object: joblib writes each
//! array's data (or, for object arrays, a whole nested pickle) right after the BUILD of
//! its `NumpyArrayWrapper` (joblib's `numpy_pickle.py`, `NumpyArrayWrapper.write_array`).

use super::Stack;
use super::{invalid, Flow, Graph, Machine, Memo, Mutation, MutationKind, Node, NodeId, Payload};
use crate::error::{Error, ErrorKind, Result};
use crate::reader::Op;

/// Bytes that follow an object in the stream, as a [`BuildHook`] describes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trailing {
    /// `len` raw bytes, preceded by joblib's padding-length byte and padding when `padded`.
    Raw {
        /// How many bytes of data follow (after the padding).
        len: u64,
        /// Whether joblib's alignment padding comes first (the wrapper's state has
        /// `numpy_array_alignment_bytes`): one byte giving its length, then that many
        /// bytes, so that the data can be memory-mapped aligned.
        padded: bool,
    },
    /// A complete nested pickle.
    Pickle,
}

/// Called after every BUILD with the built object, so a container format that writes data
/// after an object (joblib's `NumpyArrayWrapper`) can say how much to step over. A hook may
/// keep state between calls (a budget shared by every object of the stream).
pub trait BuildHook {
    /// What follows `node` in the stream, if anything; an error message if the object
    /// announces bytes that cannot be read.
    fn after_build(
        &mut self,
        graph: &Graph<'_>,
        node: NodeId,
    ) -> Option<std::result::Result<Trailing, String>>;
}

/// joblib writes an object array's elements as one nested pickle, which holds no further
/// wrappers; each level is a recursion, so input cannot have more than a few.
const MAX_NESTED_PICKLES: u32 = 16;

impl Machine<'_, '_> {
    /// BUILD: the state goes to the object below it (`__setstate__` or a dict update,
    /// which we record, not run); then the hook may say to step over trailing bytes.
    pub(super) fn build(&mut self, op: &Op<'_>, stack: &mut Stack) -> Result<Flow> {
        let state = stack.pop(op)?;
        let target = stack.top(op)?;
        // Each BUILD calls `__setstate__`: a state a later BUILD replaces is kept as a
        // mutation, so the analyses still see every state the loader hands over.
        let replaced = match self.graph.call_mut(target) {
            Some(call) => call.state.replace(state),
            None => Some(state),
        };
        match replaced {
            None => {}
            Some(old) => self.graph.mutations.push(Mutation {
                target,
                offset: op.offset,
                kind: MutationKind::State(old),
            }),
        }
        // An object from a call (or a global, or an object the loader supplies) may have a
        // `__setstate__`, which the loader calls; on a module or class, BUILD sets attributes.
        if matches!(
            self.graph.node(target),
            Node::Call(_)
                | Node::Global { .. }
                | Node::PersistentId { .. }
                | Node::Extension { .. }
        ) {
            self.trace(op, target);
        }
        let graph = &self.graph;
        let Some(trailing) = self
            .hook
            .as_mut()
            .and_then(|hook| hook.after_build(graph, target))
        else {
            return Ok(Flow::Next);
        };
        let trailing =
            trailing.map_err(|m| Error::new(ErrorKind::InvalidArgument, op.offset as u64, m))?;
        let (at, nested_opcodes) = self.trailing(target, trailing, op.end, op)?;
        Ok(Flow::Resume { at, nested_opcodes })
    }

    /// Steps over the bytes a BUILD hook announced, from `at`; returns where opcodes resume
    /// and the number of opcodes of a nested pickle.
    fn trailing(
        &mut self,
        target: NodeId,
        trailing: Trailing,
        at: usize,
        op: &Op<'_>,
    ) -> Result<(usize, u64)> {
        let (payload, end, nested_count) = match trailing {
            Trailing::Raw { len, padded } => {
                let (offset, end) = self.raw_payload(at, len, padded)?;
                (Payload::Raw { offset, len }, end, 0)
            }
            Trailing::Pickle => {
                // joblib calls pickle.load on the file: a fresh Unpickler, a fresh memo.
                if self.nested >= MAX_NESTED_PICKLES {
                    return Err(Error::new(
                        ErrorKind::Unsupported,
                        at as u64,
                        format!("joblib object arrays nested more than {MAX_NESTED_PICKLES} deep"),
                    ));
                }
                self.nested += 1;
                let result = self.run(at, &mut Memo::default());
                self.nested -= 1;
                let outcome = result?;
                let payload = Payload::Pickle {
                    root: outcome.root,
                    offset: at,
                    end: outcome.end,
                };
                (payload, outcome.end, outcome.opcode_count)
            }
        };
        match self.graph.call_mut(target) {
            Some(call) => call.trailing_payload = Some(payload),
            None => {
                return Err(invalid(
                    op,
                    "trailing data after an object that is not a call",
                ))
            }
        }
        Ok((end, nested_count))
    }

    /// Where `len` raw bytes from `at` start (after joblib's padding when `padded`) and end,
    /// checked against the input.
    fn raw_payload(&self, at: usize, len: u64, padded: bool) -> Result<(usize, usize)> {
        let past_end = |what: String| Error::new(ErrorKind::LengthPastEnd, at as u64, what);
        let mut offset = at;
        if padded {
            let pad = *self.data.get(at).ok_or_else(|| {
                past_end("input ends where joblib's padding byte should be".into())
            })?;
            offset = at.saturating_add(1).saturating_add(usize::from(pad));
        }
        let available = self.data.len().saturating_sub(offset) as u64;
        let end = usize::try_from(len)
            .ok()
            .and_then(|len| offset.checked_add(len))
            .filter(|&end| offset <= self.data.len() && end <= self.data.len());
        end.map(|end| (offset, end)).ok_or_else(|| {
            past_end(format!(
                "array data of {len} bytes runs past the end of input ({available} bytes remain)"
            ))
        })
    }
}
