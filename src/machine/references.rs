//! Objects the loader supplies rather than the stream: persistent ids (PERSID, BINPERSID:
//! the loader's `persistent_load`), extension codes (EXT1/2/4: copyreg's extension
//! registry, empty by default) and out-of-band buffers (NEXT_BUFFER, READONLY_BUFFER: the
//! `buffers` given to the loader, PEP 574).

use super::args::OpArgs;
use super::containers::too_many;
use super::{misrouted, Machine, NodeId, Slot, Stack};
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
                let slot = self
                    .graph
                    .owned_str_slot(text)
                    .map_err(|e| too_many(op, e))?;
                let pid = self.push_node(slot, op)?;
                Slot::PersistentId { pid, offset }
            }
            Opcode::BINPERSID => Slot::PersistentId {
                pid: stack.pop(op)?,
                offset,
            },
            Opcode::EXT1 | Opcode::EXT2 => Slot::Extension {
                code: i32::try_from(op.uint()?).map_err(|_| misrouted(op))?,
                offset,
            },
            Opcode::EXT4 => Slot::Extension {
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
                Slot::Buffer {
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
        if let Some(Slot::Buffer { index, offset, .. }) = self.graph.slot(top) {
            let readonly = true;
            self.graph.set_slot(
                top,
                Slot::Buffer {
                    index,
                    readonly,
                    offset,
                },
            );
        }
        Ok(())
    }
}
