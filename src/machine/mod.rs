//! The symbolic unpickler: runs one pickle's opcodes on a stack, memo and mark stack of
//! node ids, building an object graph. Nothing is imported, called or evaluated.
//!
//! It follows CPython's C unpickler (`Modules/_pickle.c`) where the two loaders differ,
//! and fails where it fails on the stream's structure (underflow, missing MARK, unknown
//! memo key, unsupported protocol). Where CPython would fail only because of what an
//! object turns out to be (APPEND to an object without `append`), the operation is kept
//! as data instead: we cannot know what a global is, so we never guess that it fails.

mod graph;

pub use graph::{
    BytesKind, Call, CallKind, GlobalRef, Graph, Mutation, MutationKind, Node, NodeId, Payload,
};

use std::borrow::Cow;
use std::collections::HashMap;

use crate::error::{Error, ErrorKind, Result};
use crate::limits::Limits;
use crate::opcode::{Opcode, HIGHEST_PROTOCOL};
use crate::pytext;
use crate::reader::{Arg, Op, OpReader};

/// Bytes that follow an object in the stream, as a [`BuildHook`] describes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trailing {
    /// `len` raw bytes, preceded by joblib's padding-length byte and padding when `padded`.
    Raw { len: u64, padded: bool },
    /// A complete nested pickle.
    Pickle,
}

/// Called after every BUILD with the built object, so a container format that writes data
/// after an object (joblib's `NumpyArrayWrapper`) can say how much to step over.
pub type BuildHook =
    fn(&Graph<'_>, &[GlobalRef<'_>], NodeId) -> Option<std::result::Result<Trailing, String>>;

/// One pickle, run.
#[derive(Debug)]
pub struct Pickle<'data> {
    /// Offset of its first opcode in the stream.
    pub start: usize,
    /// Offset just past its STOP.
    pub end: usize,
    /// The PROTO argument, or for pickles without one the highest protocol of their opcodes.
    pub protocol: u8,
    /// Opcodes executed.
    pub opcode_count: u64,
    /// The object STOP returned.
    pub root: NodeId,
    /// The objects.
    pub graph: Graph<'data>,
    /// Distinct globals in order of first appearance.
    pub globals: Vec<GlobalRef<'data>>,
    /// Items left on the stack below the root at STOP (CPython ignores them).
    pub leftover: usize,
}

/// Memo keys are numbered 0, 1, 2, … by picklers: keep them densely, and far-off keys in a map
/// so `LONG_BINPUT 4294967295` costs one entry.
#[derive(Default)]
struct Memo {
    dense: Vec<Option<NodeId>>,
    sparse: HashMap<u64, NodeId>,
    len: usize,
}

impl Memo {
    fn get(&self, key: u64) -> Option<NodeId> {
        match usize::try_from(key).ok().and_then(|k| self.dense.get(k)) {
            Some(slot) => *slot,
            None => self.sparse.get(&key).copied(),
        }
    }

    fn put(&mut self, key: u64, id: NodeId) {
        let dense_limit = 2 * self.len + 1024;
        match usize::try_from(key) {
            Ok(k) if k < self.dense.len().max(dense_limit) => {
                if k >= self.dense.len() {
                    self.dense.resize(k + 1, None);
                }
                if self.dense[k].replace(id).is_none() {
                    self.len += 1;
                }
            }
            _ => {
                if self.sparse.insert(key, id).is_none() {
                    self.len += 1;
                }
            }
        }
    }
}

struct Machine<'data, 'a> {
    data: &'data [u8],
    limits: &'a Limits,
    hook: Option<BuildHook>,
    graph: Graph<'data>,
    globals: Vec<GlobalRef<'data>>,
    global_index: HashMap<(Cow<'data, str>, Cow<'data, str>), u32>,
    buffers: u32,
}

/// The stack of one pickle, with CPython's MARK fences: an opcode can never reach items
/// below the topmost MARK.
struct Stack {
    items: Vec<NodeId>,
    marks: Vec<usize>,
}

impl Stack {
    fn fence(&self) -> usize {
        self.marks.last().copied().unwrap_or(0)
    }

    fn pop(&mut self, op: &Op<'_>) -> Result<NodeId> {
        if self.items.len() <= self.fence() {
            return Err(underflow(op));
        }
        self.items.pop().ok_or_else(|| underflow(op))
    }

    fn top(&self, op: &Op<'_>) -> Result<NodeId> {
        if self.items.len() <= self.fence() {
            return Err(underflow(op));
        }
        self.items.last().copied().ok_or_else(|| underflow(op))
    }

    fn pop_mark(&mut self, op: &Op<'_>) -> Result<Vec<NodeId>> {
        let mark = self.marks.pop().ok_or_else(|| {
            Error::new(
                ErrorKind::Inconsistent,
                op.offset as u64,
                format!("{} without a MARK on the stack", op.opcode),
            )
        })?;
        Ok(self.items.split_off(mark))
    }
}

fn underflow(op: &Op<'_>) -> Error {
    Error::new(
        ErrorKind::Inconsistent,
        op.offset as u64,
        format!("{} pops from an empty stack (stack underflow)", op.opcode),
    )
}

fn invalid(op: &Op<'_>, message: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorKind::InvalidArgument,
        op.offset as u64,
        format!("{} argument: {message}", op.opcode),
    )
}

fn unsupported(op: &Op<'_>, message: impl Into<String>) -> Error {
    Error::new(ErrorKind::Unsupported, op.offset as u64, message)
}

/// Text from code points; lone surrogates (not representable in Rust) become U+FFFD.
fn string_from_code_points(cps: &[u32]) -> String {
    cps.iter()
        .map(|&cp| char::from_u32(cp).unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect()
}

impl<'data> Machine<'data, '_> {
    fn push_node(&mut self, node: Node<'data>, op: &Op<'_>) -> Result<NodeId> {
        if self.graph.len() >= self.limits.max_nodes {
            return Err(Error::new(
                ErrorKind::LimitExceeded,
                op.offset as u64,
                format!(
                    "more than {} objects (limit max_nodes; raise it with --max-nodes)",
                    self.limits.max_nodes
                ),
            ));
        }
        Ok(self.graph.push(node))
    }

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
                let index = self.globals.len() as u32;
                self.globals.push(GlobalRef {
                    module: key.0.clone(),
                    name: key.1.clone(),
                    offset: op.offset,
                });
                self.global_index.insert(key, index);
                index
            }
        };
        self.push_node(
            Node::Global {
                index,
                offset: op.offset,
            },
            op,
        )
    }

    fn int_node(&mut self, value: num_bigint::BigInt, op: &Op<'_>) -> Result<NodeId> {
        let node = match i64::try_from(&value) {
            Ok(small) => Node::Int(small),
            Err(_) => Node::BigInt(Box::new(value)),
        };
        self.push_node(node, op)
    }

    fn call(
        &mut self,
        callable: NodeId,
        args: NodeId,
        kwargs: Option<NodeId>,
        kind: CallKind,
        op: &Op<'_>,
    ) -> Result<NodeId> {
        self.push_node(
            Node::Call(Box::new(Call {
                callable,
                args,
                kwargs,
                kind,
                offset: op.offset,
                state: None,
                list_items: Vec::new(),
                dict_items: Vec::new(),
                trailing_payload: None,
            })),
            op,
        )
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

    fn pairs(items: Vec<NodeId>, op: &Op<'_>) -> Result<Vec<(NodeId, NodeId)>> {
        if items.len() % 2 != 0 {
            return Err(unsupported(
                op,
                format!("odd number of items for {} ({})", op.opcode, items.len()),
            ));
        }
        Ok(items.chunks_exact(2).map(|kv| (kv[0], kv[1])).collect())
    }

    fn memo_key(&self, op: &Op<'_>) -> Result<u64> {
        match op.arg {
            Arg::UInt(k) => Ok(k),
            Arg::Line(line) => {
                let value = pytext::parse_int(line).map_err(|m| invalid(op, m))?;
                u64::try_from(&value).map_err(|_| invalid(op, format!("bad memo key {value}")))
            }
            _ => Err(invalid(op, "missing memo key")),
        }
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

    /// Runs one pickle from `start`.
    fn run(&mut self, start: usize) -> Result<(NodeId, usize, u8, u64, usize)> {
        let mut reader = OpReader::new(self.data, start);
        let mut stack = Stack {
            items: Vec::new(),
            marks: Vec::new(),
        };
        let mut memo = Memo::default();
        let mut protocol: Option<u8> = None;
        let mut highest_opcode_proto = 0u8;
        let mut count = 0u64;

        while let Some(op) = reader.next_op() {
            let op = op?;
            count += 1;
            highest_opcode_proto = highest_opcode_proto.max(op.opcode.info().proto);
            match op.opcode {
                Opcode::PROTO => {
                    let Arg::UInt(n) = op.arg else { continue };
                    if n > u64::from(HIGHEST_PROTOCOL) {
                        return Err(unsupported(
                            &op,
                            format!("unsupported pickle protocol: {n}"),
                        ));
                    }
                    protocol = Some(n as u8);
                }
                Opcode::FRAME => {}
                Opcode::STOP => {
                    let root = stack.pop(&op)?;
                    let leftover = stack.items.len();
                    let protocol = protocol.unwrap_or(highest_opcode_proto.min(1));
                    return Ok((root, op.end, protocol, count, leftover));
                }
                Opcode::MARK => {
                    if stack.marks.len() >= self.limits.max_depth {
                        return Err(Error::new(
                            ErrorKind::LimitExceeded,
                            op.offset as u64,
                            format!(
                                "MARKs nested more than {} deep (limit max_depth; raise it with --max-depth)",
                                self.limits.max_depth
                            ),
                        ));
                    }
                    stack.marks.push(stack.items.len());
                }
                Opcode::POP => {
                    // CPython pops the MARK itself when nothing is above it.
                    if stack.marks.last() == Some(&stack.items.len()) {
                        stack.marks.pop();
                    } else {
                        stack.pop(&op)?;
                    }
                }
                Opcode::POP_MARK => {
                    stack.pop_mark(&op)?;
                }
                Opcode::DUP => {
                    let top = stack.top(&op)?;
                    stack.items.push(top);
                }
                Opcode::INT => {
                    let Arg::Line(line) = op.arg else { continue };
                    let id = match line {
                        b"00" => self.push_node(Node::Bool(false), &op)?,
                        b"01" => self.push_node(Node::Bool(true), &op)?,
                        _ => {
                            let v = pytext::parse_int(line).map_err(|m| invalid(&op, m))?;
                            self.int_node(v, &op)?
                        }
                    };
                    stack.items.push(id);
                }
                Opcode::BININT | Opcode::BININT1 | Opcode::BININT2 => {
                    let v = match op.arg {
                        Arg::Int(v) => i64::from(v),
                        Arg::UInt(v) => v as i64,
                        _ => continue,
                    };
                    let id = self.push_node(Node::Int(v), &op)?;
                    stack.items.push(id);
                }
                Opcode::LONG => {
                    let Arg::Line(line) = op.arg else { continue };
                    let digits = line.strip_suffix(b"L").unwrap_or(line);
                    let v = pytext::parse_int(digits).map_err(|m| invalid(&op, m))?;
                    let id = self.int_node(v, &op)?;
                    stack.items.push(id);
                }
                Opcode::LONG1 | Opcode::LONG4 => {
                    let Arg::Bytes(bytes) = op.arg else { continue };
                    let id = self.int_node(pytext::decode_long(bytes), &op)?;
                    stack.items.push(id);
                }
                Opcode::FLOAT => {
                    let Arg::Line(line) = op.arg else { continue };
                    let v = pytext::parse_float(line).map_err(|m| invalid(&op, m))?;
                    let id = self.push_node(Node::Float(v), &op)?;
                    stack.items.push(id);
                }
                Opcode::BINFLOAT => {
                    let Arg::Float(v) = op.arg else { continue };
                    let id = self.push_node(Node::Float(v), &op)?;
                    stack.items.push(id);
                }
                Opcode::STRING => {
                    let Arg::Line(line) = op.arg else { continue };
                    let quoted = line.len() >= 2
                        && (line[0] == b'\'' || line[0] == b'"')
                        && line.last() == line.first();
                    if !quoted {
                        return Err(invalid(&op, "the STRING opcode argument must be quoted"));
                    }
                    let inner = &line[1..line.len() - 1];
                    let decoded = pytext::escape_decode(inner).map_err(|m| invalid(&op, m))?;
                    let node = Node::Bytes(Cow::Owned(decoded), BytesKind::Py2Str);
                    let id = self.push_node(node, &op)?;
                    stack.items.push(id);
                }
                Opcode::BINSTRING | Opcode::SHORT_BINSTRING => {
                    let Arg::Bytes(bytes) = op.arg else { continue };
                    let id =
                        self.push_node(Node::Bytes(Cow::Borrowed(bytes), BytesKind::Py2Str), &op)?;
                    stack.items.push(id);
                }
                Opcode::BINBYTES | Opcode::SHORT_BINBYTES | Opcode::BINBYTES8 => {
                    let Arg::Bytes(bytes) = op.arg else { continue };
                    let id =
                        self.push_node(Node::Bytes(Cow::Borrowed(bytes), BytesKind::Bytes), &op)?;
                    stack.items.push(id);
                }
                Opcode::BYTEARRAY8 => {
                    let Arg::Bytes(bytes) = op.arg else { continue };
                    let id = self
                        .push_node(Node::Bytes(Cow::Borrowed(bytes), BytesKind::ByteArray), &op)?;
                    stack.items.push(id);
                }
                Opcode::UNICODE => {
                    let Arg::Line(line) = op.arg else { continue };
                    let cps =
                        pytext::decode_raw_unicode_escape(line).map_err(|m| invalid(&op, m))?;
                    let node = Node::Str(Cow::Owned(string_from_code_points(&cps)));
                    let id = self.push_node(node, &op)?;
                    stack.items.push(id);
                }
                Opcode::SHORT_BINUNICODE | Opcode::BINUNICODE | Opcode::BINUNICODE8 => {
                    let Arg::Text(bytes) = op.arg else { continue };
                    let text = match std::str::from_utf8(bytes) {
                        Ok(s) => Cow::Borrowed(s),
                        Err(_) => Cow::Owned(string_from_code_points(
                            &pytext::decode_utf8_surrogatepass(bytes),
                        )),
                    };
                    let id = self.push_node(Node::Str(text), &op)?;
                    stack.items.push(id);
                }
                Opcode::NONE => {
                    let id = self.push_node(Node::None, &op)?;
                    stack.items.push(id);
                }
                Opcode::NEWTRUE | Opcode::NEWFALSE => {
                    let id = self.push_node(Node::Bool(op.opcode == Opcode::NEWTRUE), &op)?;
                    stack.items.push(id);
                }
                Opcode::EMPTY_LIST => {
                    let id = self.push_node(Node::List(Vec::new()), &op)?;
                    stack.items.push(id);
                }
                Opcode::EMPTY_TUPLE => {
                    let id = self.push_node(Node::Tuple(Vec::new()), &op)?;
                    stack.items.push(id);
                }
                Opcode::EMPTY_DICT => {
                    let id = self.push_node(Node::Dict(Vec::new()), &op)?;
                    stack.items.push(id);
                }
                Opcode::EMPTY_SET => {
                    let id = self.push_node(Node::Set(Vec::new()), &op)?;
                    stack.items.push(id);
                }
                Opcode::LIST => {
                    let items = stack.pop_mark(&op)?;
                    let id = self.push_node(Node::List(items), &op)?;
                    stack.items.push(id);
                }
                Opcode::TUPLE => {
                    let items = stack.pop_mark(&op)?;
                    let id = self.push_node(Node::Tuple(items), &op)?;
                    stack.items.push(id);
                }
                Opcode::TUPLE1 | Opcode::TUPLE2 | Opcode::TUPLE3 => {
                    let n = match op.opcode {
                        Opcode::TUPLE1 => 1,
                        Opcode::TUPLE2 => 2,
                        _ => 3,
                    };
                    let mut items = vec![NodeId(0); n];
                    for slot in items.iter_mut().rev() {
                        *slot = stack.pop(&op)?;
                    }
                    let id = self.push_node(Node::Tuple(items), &op)?;
                    stack.items.push(id);
                }
                Opcode::DICT => {
                    let items = stack.pop_mark(&op)?;
                    let pairs = Self::pairs(items, &op)?;
                    let id = self.push_node(Node::Dict(pairs), &op)?;
                    stack.items.push(id);
                }
                Opcode::FROZENSET => {
                    let items = stack.pop_mark(&op)?;
                    let id = self.push_node(Node::FrozenSet(items), &op)?;
                    stack.items.push(id);
                }
                Opcode::APPEND => {
                    let value = stack.pop(&op)?;
                    let target = stack.top(&op)?;
                    self.append(target, vec![value], &op);
                }
                Opcode::APPENDS => {
                    let items = stack.pop_mark(&op)?;
                    let target = stack.top(&op)?;
                    self.append(target, items, &op);
                }
                Opcode::SETITEM => {
                    let value = stack.pop(&op)?;
                    let key = stack.pop(&op)?;
                    let target = stack.top(&op)?;
                    self.set_items(target, vec![(key, value)], &op);
                }
                Opcode::SETITEMS => {
                    let items = stack.pop_mark(&op)?;
                    let pairs = Self::pairs(items, &op)?;
                    let target = stack.top(&op)?;
                    self.set_items(target, pairs, &op);
                }
                Opcode::ADDITEMS => {
                    let items = stack.pop_mark(&op)?;
                    let target = stack.top(&op)?;
                    self.add_items(target, items, &op);
                }
                Opcode::GLOBAL => {
                    let Arg::Pair(module, name) = op.arg else {
                        continue;
                    };
                    let id = self.global(Cow::Borrowed(module), Cow::Borrowed(name), &op)?;
                    stack.items.push(id);
                }
                Opcode::STACK_GLOBAL => {
                    let name = stack.pop(&op)?;
                    let module = stack.pop(&op)?;
                    let (Node::Str(module), Node::Str(name)) =
                        (self.graph.node(module), self.graph.node(name))
                    else {
                        return Err(unsupported(
                            &op,
                            "STACK_GLOBAL requires str module and name",
                        ));
                    };
                    let (module, name) = (module.clone(), name.clone());
                    let id = self.global(module, name, &op)?;
                    stack.items.push(id);
                }
                Opcode::INST => {
                    let Arg::Pair(module, name) = op.arg else {
                        continue;
                    };
                    let items = stack.pop_mark(&op)?;
                    let class = self.global(Cow::Borrowed(module), Cow::Borrowed(name), &op)?;
                    let args = self.push_node(Node::Tuple(items), &op)?;
                    let id = self.call(class, args, None, CallKind::Inst, &op)?;
                    stack.items.push(id);
                }
                Opcode::OBJ => {
                    let mut items = stack.pop_mark(&op)?;
                    if items.is_empty() {
                        return Err(underflow(&op));
                    }
                    let class = items.remove(0);
                    let args = self.push_node(Node::Tuple(items), &op)?;
                    let id = self.call(class, args, None, CallKind::Obj, &op)?;
                    stack.items.push(id);
                }
                Opcode::NEWOBJ => {
                    let args = stack.pop(&op)?;
                    let class = stack.pop(&op)?;
                    if self.is_native_non_tuple(args) {
                        return Err(unsupported(&op, "NEWOBJ expected an arg tuple"));
                    }
                    let id = self.call(class, args, None, CallKind::NewObj, &op)?;
                    stack.items.push(id);
                }
                Opcode::NEWOBJ_EX => {
                    let kwargs = stack.pop(&op)?;
                    let args = stack.pop(&op)?;
                    let class = stack.pop(&op)?;
                    if self.is_native_non_tuple(args) {
                        return Err(unsupported(&op, "NEWOBJ_EX args argument must be a tuple"));
                    }
                    let id = self.call(class, args, Some(kwargs), CallKind::NewObjEx, &op)?;
                    stack.items.push(id);
                }
                Opcode::REDUCE => {
                    let args = stack.pop(&op)?;
                    let callable = stack.pop(&op)?;
                    if self.is_native_non_tuple(args) {
                        return Err(unsupported(&op, "REDUCE: argument list must be a tuple"));
                    }
                    let id = self.call(callable, args, None, CallKind::Reduce, &op)?;
                    stack.items.push(id);
                }
                Opcode::BUILD => {
                    let state = stack.pop(&op)?;
                    let target = stack.top(&op)?;
                    match self.graph.node_mut(target) {
                        Node::Call(call) => call.state = Some(state),
                        _ => self.graph.mutations.push(Mutation {
                            target,
                            offset: op.offset,
                            kind: MutationKind::State(state),
                        }),
                    }
                    if let Some(hook) = self.hook {
                        if let Some(trailing) = hook(&self.graph, &self.globals, target) {
                            let trailing = trailing.map_err(|m| {
                                Error::new(ErrorKind::InvalidArgument, op.offset as u64, m)
                            })?;
                            let end = self.trailing(target, trailing, reader.position(), &op)?;
                            reader = OpReader::new(self.data, end);
                        }
                    }
                }
                Opcode::EXT1 | Opcode::EXT2 | Opcode::EXT4 => {
                    let code = match op.arg {
                        Arg::UInt(c) => c as i32,
                        Arg::Int(c) => c,
                        _ => continue,
                    };
                    let id = self.push_node(
                        Node::Extension {
                            code,
                            offset: op.offset,
                        },
                        &op,
                    )?;
                    stack.items.push(id);
                }
                Opcode::PERSID => {
                    let Arg::Line(line) = op.arg else { continue };
                    let text = String::from_utf8_lossy(line).into_owned();
                    let pid = self.push_node(Node::Str(Cow::Owned(text)), &op)?;
                    let id = self.push_node(
                        Node::PersistentId {
                            pid,
                            offset: op.offset,
                        },
                        &op,
                    )?;
                    stack.items.push(id);
                }
                Opcode::BINPERSID => {
                    let pid = stack.pop(&op)?;
                    let id = self.push_node(
                        Node::PersistentId {
                            pid,
                            offset: op.offset,
                        },
                        &op,
                    )?;
                    stack.items.push(id);
                }
                Opcode::GET | Opcode::BINGET | Opcode::LONG_BINGET => {
                    let key = self.memo_key(&op)?;
                    let id = memo.get(key).ok_or_else(|| {
                        Error::new(
                            ErrorKind::Inconsistent,
                            op.offset as u64,
                            format!("{} of memo key {key}, which was never stored", op.opcode),
                        )
                    })?;
                    stack.items.push(id);
                }
                Opcode::PUT | Opcode::BINPUT | Opcode::LONG_BINPUT | Opcode::MEMOIZE => {
                    let top = stack.top(&op)?;
                    let key = if op.opcode == Opcode::MEMOIZE {
                        memo.len as u64
                    } else {
                        self.memo_key(&op)?
                    };
                    if memo.len >= self.limits.max_memo && memo.get(key).is_none() {
                        return Err(Error::new(
                            ErrorKind::LimitExceeded,
                            op.offset as u64,
                            format!(
                                "more than {} memo entries (limit max_memo; raise it with --max-memo)",
                                self.limits.max_memo
                            ),
                        ));
                    }
                    memo.put(key, top);
                }
                Opcode::NEXT_BUFFER => {
                    let index = self.buffers;
                    self.buffers += 1;
                    let id = self.push_node(
                        Node::Buffer {
                            index,
                            readonly: false,
                            offset: op.offset,
                        },
                        &op,
                    )?;
                    stack.items.push(id);
                }
                Opcode::READONLY_BUFFER => {
                    let top = stack.top(&op)?;
                    if let Node::Buffer { readonly, .. } = self.graph.node_mut(top) {
                        *readonly = true;
                    }
                }
            }
        }
        // The reader ends only after STOP (handled above) or with an error.
        Err(Error::new(
            ErrorKind::Truncated,
            reader.position() as u64,
            "pickle ended before STOP",
        ))
    }

    /// Steps over the bytes a BUILD hook announced; returns where opcodes resume.
    fn trailing(
        &mut self,
        target: NodeId,
        trailing: Trailing,
        at: usize,
        op: &Op<'_>,
    ) -> Result<usize> {
        let past_end = |what: String| Error::new(ErrorKind::LengthPastEnd, at as u64, what);
        let payload = match trailing {
            Trailing::Raw { len, padded } => {
                let mut offset = at;
                if padded {
                    let pad = *self.data.get(at).ok_or_else(|| {
                        past_end("input ends where joblib's padding byte should be".into())
                    })?;
                    offset = at + 1 + usize::from(pad);
                }
                let available = self.data.len().saturating_sub(offset) as u64;
                if offset > self.data.len() || len > available {
                    return Err(past_end(format!(
                        "array data of {len} bytes runs past the end of input ({available} bytes remain)"
                    )));
                }
                Payload::Raw { offset, len }
            }
            Trailing::Pickle => {
                let (root, end, _, _, _) = self.run(at)?;
                Payload::Pickle {
                    root,
                    offset: at,
                    end,
                }
            }
        };
        let end = match &payload {
            Payload::Raw { offset, len } => offset + *len as usize,
            Payload::Pickle { end, .. } => *end,
        };
        match self.graph.node_mut(target) {
            Node::Call(call) => call.trailing_payload = Some(payload),
            _ => {
                return Err(invalid(
                    op,
                    "trailing data after an object that is not a call",
                ))
            }
        }
        Ok(end)
    }
}

/// Runs the pickle that starts at `start` in `data`.
pub fn run_pickle<'data>(
    data: &'data [u8],
    start: usize,
    limits: &Limits,
    hook: Option<BuildHook>,
) -> Result<Pickle<'data>> {
    let mut machine = Machine {
        data,
        limits,
        hook,
        graph: Graph::default(),
        globals: Vec::new(),
        global_index: HashMap::new(),
        buffers: 0,
    };
    let (root, end, protocol, opcode_count, leftover) = machine.run(start)?;
    Ok(Pickle {
        start,
        end,
        protocol,
        opcode_count,
        root,
        graph: machine.graph,
        globals: machine.globals,
        leftover,
    })
}
