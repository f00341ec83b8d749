//! Objects the loader supplies rather than the stream: persistent ids (PERSID, BINPERSID:
//! the loader's `persistent_load`), extension codes (EXT1/2/4: copyreg's extension
//! registry, empty by default) and out-of-band buffers (NEXT_BUFFER, READONLY_BUFFER: the
//! `buffers` given to the loader, PEP 574).

use std::borrow::Cow;

use super::args::OpArgs;
use super::{misrouted, Machine, Node, NodeId, Stack};
use crate::error::{Error, ErrorKind, Result};
use crate::opcode::Opcode;
use crate::reader::Op;

impl Machine<'_, '_> {
    /// PERSID, BINPERSID, EXT1, EXT2, EXT4, NEXT_BUFFER: the reference (not yet pushed).
    pub(super) fn reference(&mut self, op: &Op<'_>, stack: &mut Stack) -> Result<NodeId> {
        let offset = op.offset;
        let node = match op.opcode {
            Opcode::PERSID => {
                // The id is the raw line, kept as text (bytes that are not UTF-8 replaced).
                let text = String::from_utf8_lossy(op.line()?).into_owned();
                let pid = self.push_node(Node::Str(Cow::Owned(text)), op)?;
                Node::PersistentId { pid, offset }
            }
            Opcode::BINPERSID => Node::PersistentId {
                pid: stack.pop(op)?,
                offset,
            },
            Opcode::EXT1 | Opcode::EXT2 => Node::Extension {
                code: i32::try_from(op.uint()?).map_err(|_| misrouted(op))?,
                offset,
            },
            Opcode::EXT4 => Node::Extension {
                code: op.int4()?,
                offset,
            },
            Opcode::NEXT_BUFFER => {
                let index = self.buffers;
                self.buffers = index.checked_add(1).ok_or_else(|| {
                    Error::new(
                        ErrorKind::Unsupported,
                        offset as u64,
                        "more than 2**32 out-of-band buffers",
                    )
                })?;
                Node::Buffer {
                    index,
                    readonly: false,
                    offset,
                }
            }
            _ => return Err(misrouted(op)),
        };
        self.push_node(node, op)
    }

    /// READONLY_BUFFER: marks the buffer on top read-only; on anything else it is kept as
    /// it is (CPython would fail only because of what the object is).
    pub(super) fn readonly_buffer(&mut self, op: &Op<'_>, stack: &Stack) -> Result<()> {
        let top = stack.top(op)?;
        if let Node::Buffer { readonly, .. } = self.graph.node_mut(top) {
            *readonly = true;
        }
        Ok(())
    }
}
