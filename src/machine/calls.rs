//! Globals and the opcodes that call them: GLOBAL, STACK_GLOBAL, REDUCE, NEWOBJ,
//! NEWOBJ_EX, INST, OBJ. Nothing is imported or called: a global is a reference by name,
//! a call a node holding its callable and arguments. STACK_GLOBAL reads Python 2 strs as
//! Python 3 does (decoded to str), and a computed name as an opaque global.

use std::borrow::Cow;

use super::args::OpArgs;
use super::containers::too_many;
use super::graph::Seq;
use super::stack::underflow;
use super::{
    misrouted, unsupported, BytesKind, Call, CallKind, GlobalRef, Machine, Node, NodeId, Slot,
    Stack, COMPUTED,
};
use crate::error::{Error, ErrorKind, Result};
use crate::opcode::Opcode;
use crate::reader::Op;

impl<'data> Machine<'data, '_> {
    /// GLOBAL, STACK_GLOBAL: a reference to `module.name` (not yet pushed).
    pub(super) fn global_op(&mut self, op: &Op<'data>, stack: &mut Stack) -> Result<NodeId> {
        match op.opcode {
            Opcode::GLOBAL => {
                let (module, name) = op.pair()?;
                self.global(Cow::Borrowed(module), Cow::Borrowed(name), op)
            }
            Opcode::STACK_GLOBAL => {
                let [module, name] = stack.pop_n::<2>(op)?;
                match (self.name_text(module, op)?, self.name_text(name, op)?) {
                    (Some(module), Some(name)) => self.global(module, name, op),
                    _ => self.computed_global(op),
                }
            }
            _ => Err(misrouted(op)),
        }
    }

    /// STACK_GLOBAL's module or name as the loader reads it: a str; a Python 2 str
    /// (STRING, BINSTRING, SHORT_BINSTRING), which Python 3 has already decoded to str
    /// (ASCII by default, `pickle.Unpickler(encoding='ASCII')`); `None` for an object only
    /// the load makes (a call's result, a global, a persistent id), which may be any str.
    /// Anything else fails as CPython fails ("STACK_GLOBAL requires str", load_stack_global).
    fn name_text(&self, id: NodeId, op: &Op<'_>) -> Result<Option<Cow<'data, str>>> {
        if let Some(text) = self.graph.borrowed_str(id) {
            return Ok(Some(Cow::Borrowed(text)));
        }
        if let Some((bytes, BytesKind::Py2Str)) = self.graph.borrowed_bytes(id) {
            return ascii(bytes, op).map(|t| Some(Cow::Borrowed(t)));
        }
        match self.graph.node(id) {
            Node::Str(text) => Ok(Some(Cow::Owned(text.to_string()))),
            Node::Bytes(bytes, BytesKind::Py2Str) => {
                ascii(bytes, op).map(|t| Some(Cow::Owned(t.to_string())))
            }
            Node::Call(_)
            | Node::Global { .. }
            | Node::PersistentId { .. }
            | Node::Extension { .. } => Ok(None),
            _ => Err(unsupported(op, "STACK_GLOBAL requires str module and name")),
        }
    }

    /// A STACK_GLOBAL on a computed name: an opaque global (its own [`GlobalRef`] named
    /// [`COMPUTED`], not listed among the pickle's imports) and a trace entry, as the load
    /// imports whatever the name turns out to be.
    fn computed_global(&mut self, op: &Op<'_>) -> Result<NodeId> {
        let index = self.add_global(Cow::Borrowed(COMPUTED), Cow::Borrowed(COMPUTED), op)?;
        let id = self.push_node(
            Slot::Global {
                index,
                offset: op.offset,
            },
            op,
        )?;
        self.trace(op, id);
        Ok(id)
    }

    /// Adds `module.name` to the graph's globals: its index. At most one global per opcode,
    /// and nodes are counted in u32 too, so the index fits.
    fn add_global(
        &mut self,
        module: Cow<'data, str>,
        name: Cow<'data, str>,
        op: &Op<'_>,
    ) -> Result<u32> {
        let index = u32::try_from(self.graph.globals.len()).map_err(|_| {
            Error::new(
                ErrorKind::Internal,
                op.offset as u64,
                "more than 2**32 globals",
            )
        })?;
        self.graph.globals.push(GlobalRef {
            module,
            name,
            offset: op.offset,
        });
        Ok(index)
    }

    /// A [`Node::Global`] for `module.name`, listing the global for this pickle on first use.
    fn global(
        &mut self,
        module: Cow<'data, str>,
        name: Cow<'data, str>,
        op: &Op<'_>,
    ) -> Result<NodeId> {
        let key = (module, name);
        let index = match self.global_index.get(&key) {
            Some(&index) => index,
            None => {
                let index = self.add_global(key.0.clone(), key.1.clone(), op)?;
                self.global_index.insert(key, index);
                index
            }
        };
        let slot = index as usize;
        if self.listed_in.len() <= slot {
            self.listed_in.resize(slot.saturating_add(1), 0);
        }
        if let Some(listed) = self.listed_in.get_mut(slot) {
            if *listed != self.run_number {
                *listed = self.run_number;
                self.pickle_globals.push((index, op.offset));
            }
        }
        let node = Slot::Global {
            index,
            offset: op.offset,
        };
        self.push_node(node, op)
    }

    /// REDUCE, NEWOBJ, NEWOBJ_EX, INST, OBJ: the object a call would make (not yet pushed).
    pub(super) fn call_op(&mut self, op: &Op<'data>, stack: &mut Stack) -> Result<NodeId> {
        let (callable, args, kwargs, kind) = match op.opcode {
            Opcode::INST => {
                let (module, name) = op.pair()?;
                let items = stack.pop_mark(op)?;
                let class = self.global(Cow::Borrowed(module), Cow::Borrowed(name), op)?;
                let args = self.tuple_node(&items, op)?;
                (class, args, None, CallKind::Inst)
            }
            Opcode::OBJ => {
                let mut items = stack.pop_mark(op)?;
                if items.is_empty() {
                    // CPython: the class is the first item after the MARK.
                    return Err(underflow(op));
                }
                let class = items.remove(0);
                let args = self.tuple_node(&items, op)?;
                (class, args, None, CallKind::Obj)
            }
            // REDUCE: callable, args. NEWOBJ: cls, args. NEWOBJ_EX: cls, args, kwargs.
            Opcode::REDUCE | Opcode::NEWOBJ | Opcode::NEWOBJ_EX => {
                let kwargs = match op.opcode {
                    Opcode::NEWOBJ_EX => Some(stack.pop(op)?),
                    _ => None,
                };
                let [callable, args] = stack.pop_n::<2>(op)?;
                if self.is_native_non_tuple(args) {
                    return Err(unsupported(
                        op,
                        format!("{}: the argument list must be a tuple", op.opcode),
                    ));
                }
                let kind = match op.opcode {
                    Opcode::REDUCE => CallKind::Reduce,
                    Opcode::NEWOBJ => CallKind::NewObj,
                    _ => CallKind::NewObjEx,
                };
                (callable, args, kwargs, kind)
            }
            _ => return Err(misrouted(op)),
        };
        let call = Call {
            callable,
            args,
            kwargs,
            kind,
            offset: op.offset,
            state: None,
            list_items: Vec::new(),
            dict_items: Vec::new(),
            trailing_payload: None,
        };
        self.check_room(op)?;
        self.graph.push_call(call).map_err(|e| too_many(op, e))
    }

    /// A tuple node of `items`.
    fn tuple_node(&mut self, items: &[NodeId], op: &Op<'_>) -> Result<NodeId> {
        let slot = self
            .graph
            .seq_slot(Seq::Tuple, items)
            .map_err(|e| too_many(op, e))?;
        self.push_node(slot, op)
    }

    /// Whether a node is a native value that can never be an argument tuple.
    fn is_native_non_tuple(&self, id: NodeId) -> bool {
        !matches!(
            self.graph.node(id),
            Node::Tuple(_)
                | Node::Call(_)
                | Node::Global { .. }
                | Node::PersistentId { .. }
                | Node::Extension { .. }
        )
    }
}

/// A Python 2 str STACK_GLOBAL reads as its module or name: the default loader decodes it
/// as ASCII (`pickle.Unpickler(encoding='ASCII')`) and fails on anything else.
fn ascii<'t>(bytes: &'t [u8], op: &Op<'_>) -> Result<&'t str> {
    std::str::from_utf8(bytes)
        .ok()
        .filter(|t| t.is_ascii())
        .ok_or_else(|| {
            unsupported(
                op,
                "STACK_GLOBAL: a Python 2 str that is not ASCII: the default loader \
                 (encoding='ASCII') fails to decode it",
            )
        })
}
