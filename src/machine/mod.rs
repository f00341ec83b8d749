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

use rustc_hash::FxHashMap as HashMap;
use std::borrow::Cow;

use crate::error::{Error, ErrorKind, Result};
use crate::limits::{Limit, Limits};
use crate::opcode::{Opcode, HIGHEST_PROTOCOL};
use crate::pytext::{self, IntLine};
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
pub type BuildHook = fn(&Graph<'_>, NodeId) -> Option<std::result::Result<Trailing, String>>;

/// One pickle of a stream, run.
#[derive(Clone, Debug, PartialEq)]
pub struct Pickle {
    /// Offset of its first opcode in the stream.
    pub start: usize,
    /// Offset just past its STOP.
    pub end: usize,
    /// The PROTO argument, or for pickles without one the highest protocol of their
    /// opcodes (0 or 1).
    pub protocol: u8,
    /// Opcodes executed (nested joblib pickles included).
    pub opcode_count: u64,
    /// The object STOP returned.
    pub root: NodeId,
    /// The globals this pickle references, in order of first appearance in it: index into
    /// [`Graph::globals`] and the offset of the first opcode in this pickle that names it.
    pub globals: Vec<(u32, usize)>,
    /// Items left on the stack below the root at STOP (CPython ignores them).
    pub leftover: usize,
    /// Whether it needed the previous pickles' memo (one `Unpickler` calling `load()`
    /// repeatedly); a fresh `pickle.load` of it alone would fail.
    pub memo_carried: bool,
}

/// All the pickles of one stream, one after another.
#[derive(Debug)]
pub struct Stream<'data> {
    /// The objects of every pickle.
    pub graph: Graph<'data>,
    /// The pickles, in stream order (at least one).
    pub pickles: Vec<Pickle>,
    /// Bytes after the last pickle that are not one: their offset, and why they are not
    /// (`None` when they do not even start with an opcode).
    pub trailing: Option<(usize, Option<Error>)>,
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
    global_index: HashMap<(Cow<'data, str>, Cow<'data, str>), u32>,
    /// Globals of the pickle being run, in order of first appearance in it, with offsets.
    pickle_globals: Vec<(u32, usize)>,
    /// Per global index, the number (plus one) of the last pickle run that named it: an
    /// O(1) "already listed for this pickle" test.
    listed_in: Vec<u32>,
    /// The number (plus one) of the pickle being run.
    run_number: u32,
    /// One node each for None, False, True and the ints -5..=256, as CPython shares those
    /// objects: a stream of a million small ints builds a few hundred nodes, not a million.
    shared: Vec<Option<NodeId>>,
    buffers: u32,
    /// Nested pickles being run (joblib object arrays, [`Trailing::Pickle`]).
    nested: u32,
}

/// joblib writes an object array's elements as one nested pickle, which holds no further
/// wrappers; each level is a recursion, so input cannot have more than a few.
const MAX_NESTED_PICKLES: u32 = 16;

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
            return Err(Limit::Nodes.exceeded(
                op.offset as u64,
                format_args!("more than {} objects", self.limits.max_nodes),
            ));
        }
        Ok(self.graph.push(node))
    }

    /// A str node from code points; lone surrogates are kept exactly on the side.
    fn text_node(&mut self, cps: &[u32], op: &Op<'_>) -> Result<NodeId> {
        let text = string_from_code_points(cps);
        let id = self.push_node(Node::Str(Cow::Owned(text)), op)?;
        if cps.iter().any(|&cp| (0xD800..=0xDFFF).contains(&cp)) {
            self.graph.surrogate_strs.insert(id, cps.into());
        }
        Ok(id)
    }

    /// The shared node in `slot` of [`Machine::shared`], made on first use.
    fn shared(&mut self, slot: usize, node: Node<'data>, op: &Op<'_>) -> Result<NodeId> {
        if let Some(Some(id)) = self.shared.get(slot) {
            return Ok(*id);
        }
        let id = self.push_node(node, op)?;
        if let Some(entry) = self.shared.get_mut(slot) {
            *entry = Some(id);
        }
        Ok(id)
    }

    fn none(&mut self, op: &Op<'_>) -> Result<NodeId> {
        self.shared(0, Node::None, op)
    }

    fn bool(&mut self, value: bool, op: &Op<'_>) -> Result<NodeId> {
        self.shared(1 + usize::from(value), Node::Bool(value), op)
    }

    fn small_or_new_int(&mut self, value: i64, op: &Op<'_>) -> Result<NodeId> {
        if (-5..=256).contains(&value) {
            // In range, so value + 5 is a small non-negative slot.
            self.shared(3 + (value + 5) as usize, Node::Int(value), op)
        } else {
            self.push_node(Node::Int(value), op)
        }
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
                let index = self.graph.globals.len() as u32;
                self.graph.globals.push(GlobalRef {
                    module: key.0.clone(),
                    name: key.1.clone(),
                    offset: op.offset,
                });
                self.global_index.insert(key, index);
                index
            }
        };
        let slot = index as usize;
        if self.listed_in.len() <= slot {
            self.listed_in.resize(slot + 1, 0);
        }
        if self.listed_in[slot] != self.run_number {
            self.listed_in[slot] = self.run_number;
            self.pickle_globals.push((index, op.offset));
        }
        self.push_node(
            Node::Global {
                index,
                offset: op.offset,
            },
            op,
        )
    }

    fn int_node(&mut self, value: num_bigint::BigInt, op: &Op<'_>) -> Result<NodeId> {
        match i64::try_from(&value) {
            Ok(small) => self.small_or_new_int(small, op),
            Err(_) => self.push_node(Node::BigInt(Box::new(value)), op),
        }
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
                if let Some(key) = pytext::parse_small_int(line).and_then(|k| u64::try_from(k).ok())
                {
                    return Ok(key);
                }
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

    /// Drops shared nodes made by a failed attempt (their ids are about to be reused).
    fn forget_nodes_from(&mut self, first: usize) {
        for slot in &mut self.shared {
            if slot.is_some_and(|id| id.index() >= first) {
                *slot = None;
            }
        }
    }

    /// Runs one pickle from `start` with `memo`.
    fn run(&mut self, start: usize, memo: &mut Memo) -> Result<(NodeId, usize, u8, u64, usize)> {
        let mut reader = OpReader::new(self.data, start);
        let mut stack = Stack {
            items: Vec::new(),
            marks: Vec::new(),
        };
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
                        return Err(Limit::Depth.exceeded(
                            op.offset as u64,
                            format_args!("MARKs nested more than {} deep", self.limits.max_depth),
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
                    // As the C unpickler reads it (`010` is 8), not as pickletools does.
                    let id = match pytext::parse_int_line(line).map_err(|m| invalid(&op, m))? {
                        IntLine::Bool(b) => self.bool(b, &op)?,
                        IntLine::Small(v) => self.small_or_new_int(v, &op)?,
                        IntLine::Big(v) => self.int_node(v, &op)?,
                    };
                    stack.items.push(id);
                }
                Opcode::BININT | Opcode::BININT1 | Opcode::BININT2 => {
                    let v = match op.arg {
                        Arg::Int(v) => i64::from(v),
                        Arg::UInt(v) => v as i64,
                        _ => continue,
                    };
                    let id = self.small_or_new_int(v, &op)?;
                    stack.items.push(id);
                }
                Opcode::LONG => {
                    let Arg::Line(line) = op.arg else { continue };
                    // The C unpickler cuts a trailing `L` and reads the rest as `int(s, 0)`.
                    let v = match line.strip_suffix(b"L") {
                        Some(digits) => pytext::parse_int_base0(digits),
                        None => pytext::parse_int_base0(line),
                    }
                    .map_err(|m| invalid(&op, m))?;
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
                    // As the C unpickler reads it, stricter than pickletools' float().
                    let v = pytext::parse_float_line(line).map_err(|m| invalid(&op, m))?;
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
                    let id = self.text_node(&cps, &op)?;
                    stack.items.push(id);
                }
                Opcode::SHORT_BINUNICODE | Opcode::BINUNICODE | Opcode::BINUNICODE8 => {
                    let Arg::Text(bytes) = op.arg else { continue };
                    let id = match std::str::from_utf8(bytes) {
                        Ok(text) => self.push_node(Node::Str(Cow::Borrowed(text)), &op)?,
                        Err(_) => self.text_node(&pytext::decode_utf8_surrogatepass(bytes), &op)?,
                    };
                    stack.items.push(id);
                }
                Opcode::NONE => {
                    let id = self.none(&op)?;
                    stack.items.push(id);
                }
                Opcode::NEWTRUE | Opcode::NEWFALSE => {
                    let id = self.bool(op.opcode == Opcode::NEWTRUE, &op)?;
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
                Opcode::NEWOBJ | Opcode::NEWOBJ_EX | Opcode::REDUCE => {
                    // REDUCE: callable, args. NEWOBJ: cls, args. NEWOBJ_EX: cls, args, kwargs.
                    let (kind, kwargs) = match op.opcode {
                        Opcode::NEWOBJ_EX => (CallKind::NewObjEx, Some(stack.pop(&op)?)),
                        Opcode::NEWOBJ => (CallKind::NewObj, None),
                        _ => (CallKind::Reduce, None),
                    };
                    let args = stack.pop(&op)?;
                    let callable = stack.pop(&op)?;
                    if self.is_native_non_tuple(args) {
                        return Err(unsupported(
                            &op,
                            format!("{}: the argument list must be a tuple", op.opcode),
                        ));
                    }
                    let id = self.call(callable, args, kwargs, kind, &op)?;
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
                        if let Some(trailing) = hook(&self.graph, target) {
                            let trailing = trailing.map_err(|m| {
                                Error::new(ErrorKind::InvalidArgument, op.offset as u64, m)
                            })?;
                            let (end, nested_count) =
                                self.trailing(target, trailing, reader.position(), &op)?;
                            count += nested_count;
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
                            ErrorKind::MissingMemoKey,
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
                        return Err(Limit::Memo.exceeded(
                            op.offset as u64,
                            format_args!("more than {} memo entries", self.limits.max_memo),
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

    /// Steps over the bytes a BUILD hook announced; returns where opcodes resume and the
    /// number of opcodes of a nested pickle.
    fn trailing(
        &mut self,
        target: NodeId,
        trailing: Trailing,
        at: usize,
        op: &Op<'_>,
    ) -> Result<(usize, u64)> {
        let mut nested_count = 0;
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
                let (root, end, _, count, _) = result?;
                nested_count = count;
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
        Ok((end, nested_count))
    }
}

fn is_missing_memo_key(e: &Error) -> bool {
    e.kind() == ErrorKind::MissingMemoKey
}

/// Runs every pickle of `data` from `start`: the first must succeed; after it, pickles
/// follow while bytes remain that start with an opcode. Bytes that do not, or a later
/// pickle that fails, end the stream as [`Stream::trailing`].
///
/// Each pickle gets a fresh memo, as `pickle.load` gives it; a later pickle that fails
/// only because it reads an earlier pickle's memo is run again with that memo carried
/// over (the file was written by one `Pickler` calling `dump()` repeatedly).
pub fn run_stream<'data>(
    data: &'data [u8],
    start: usize,
    limits: &Limits,
    hook: Option<BuildHook>,
) -> Result<Stream<'data>> {
    let mut machine = Machine {
        data,
        limits,
        hook,
        graph: Graph::default(),
        global_index: HashMap::default(),
        pickle_globals: Vec::new(),
        listed_in: Vec::new(),
        run_number: 0,
        shared: vec![None; 3 + 262],
        buffers: 0,
        nested: 0,
    };
    let mut pickles: Vec<Pickle> = Vec::new();
    let mut carried = Memo::default();
    let mut pos = start;
    let mut trailing = None;
    loop {
        if !pickles.is_empty() {
            let Some(&byte) = data.get(pos) else { break };
            if Opcode::from_byte(byte).is_none() {
                trailing = Some((pos, None));
                break;
            }
            if pickles.len() >= limits.max_pickles {
                return Err(Limit::Pickles.exceeded(
                    pos as u64,
                    format_args!("more than {} pickles in one stream", limits.max_pickles),
                ));
            }
        }
        let snapshot = (
            machine.graph.len(),
            machine.graph.globals.len(),
            machine.graph.mutations.len(),
        );
        machine.pickle_globals.clear();
        machine.run_number += 1;
        machine.buffers = 0;
        let mut memo = Memo::default();
        let mut memo_carried = false;
        machine.graph.begin_attempt();
        let mut result = machine.run(pos, &mut memo);
        if matches!(&result, Err(e) if is_missing_memo_key(e)) && carried.len > 0 {
            machine.graph.truncate(snapshot.0, snapshot.1, snapshot.2);
            machine.forget_nodes_from(snapshot.0);
            machine
                .global_index
                .retain(|_, index| (*index as usize) < snapshot.1);
            machine.pickle_globals.clear();
            machine.run_number += 1;
            machine.buffers = 0;
            memo = std::mem::take(&mut carried);
            memo_carried = true;
            machine.graph.begin_attempt();
            result = machine.run(pos, &mut memo);
        }
        match result {
            Ok((root, end, protocol, opcode_count, leftover)) => {
                pickles.push(Pickle {
                    start: pos,
                    end,
                    protocol,
                    opcode_count,
                    root,
                    globals: std::mem::take(&mut machine.pickle_globals),
                    leftover,
                    memo_carried,
                });
                // Keep the union of memos for a later pickle that might need it.
                if memo_carried {
                    carried = memo;
                } else {
                    for (key, slot) in memo.dense.iter().enumerate() {
                        if let Some(id) = slot {
                            carried.put(key as u64, *id);
                        }
                    }
                    for (&key, &id) in &memo.sparse {
                        carried.put(key, id);
                    }
                }
                pos = end;
            }
            Err(e) if pickles.is_empty() => return Err(e),
            Err(e) => {
                machine.graph.truncate(snapshot.0, snapshot.1, snapshot.2);
                machine.forget_nodes_from(snapshot.0);
                machine.forget_nodes_from(snapshot.0);
                machine
                    .global_index
                    .retain(|_, index| (*index as usize) < snapshot.1);
                trailing = Some((pos, Some(e)));
                break;
            }
        }
    }
    machine.graph.end_attempts();
    Ok(Stream {
        graph: machine.graph,
        pickles,
        trailing,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(data: &[u8]) -> Result<Stream<'_>> {
        run_stream(data, 0, &Limits::default(), None)
    }

    fn kind_of(data: &[u8]) -> ErrorKind {
        match run(data) {
            Err(e) => e.kind(),
            Ok(s) => panic!("expected an error, got {} pickles", s.pickles.len()),
        }
    }

    #[test]
    fn opcodes_cannot_reach_below_a_mark() {
        // [list, MARK, None] then APPEND: CPython reports a stack underflow.
        assert_eq!(kind_of(b"](Na."), ErrorKind::Inconsistent);
        // POP with nothing above the MARK pops the MARK itself.
        let s = run(b"N(0.").unwrap();
        assert!(matches!(s.graph.node(s.pickles[0].root), Node::None));
    }

    #[test]
    fn memo_references_share_the_node() {
        // protocol 2: [x, x] where x = []
        let s = run(b"\x80\x02](]q\x00h\x00e.").unwrap();
        let Node::List(items) = s.graph.node(s.pickles[0].root) else {
            panic!()
        };
        assert_eq!(items.len(), 2);
        assert_eq!(items[0], items[1]);
    }

    #[test]
    fn a_list_can_contain_itself() {
        let s = run(b"\x80\x02]q\x00h\x00a.").unwrap();
        let root = s.pickles[0].root;
        assert_eq!(s.graph.node(root), &Node::List(vec![root]));
    }

    #[test]
    fn a_memo_bomb_costs_what_its_bytes_cost() {
        // Each level: a list holding the previous level ten times, through the memo.
        let mut p = b"\x80\x02]q\x00".to_vec();
        for level in 0..60u8 {
            p.extend_from_slice(b"(");
            for _ in 0..10 {
                p.extend_from_slice(&[b'h', level]);
            }
            p.extend_from_slice(&[b'l', b'q', level + 1]);
        }
        p.push(b'.');
        let s = run(&p).unwrap();
        // 10**60 elements when expanded; here one node per level.
        assert!(s.graph.len() <= 61, "{} nodes", s.graph.len());
    }

    #[test]
    fn reduce_becomes_a_call_with_its_global() {
        let s = run(b"cposix\nsystem\n(S'echo hi'\ntR.").unwrap();
        let call = s.graph.call(s.pickles[0].root).unwrap();
        assert_eq!(call.kind, CallKind::Reduce);
        let global = s.graph.global(call.callable).unwrap();
        assert_eq!((&*global.module, &*global.name), ("posix", "system"));
        assert_eq!(global.offset, 0);
    }

    #[test]
    fn build_setitems_and_appends_attach_to_calls() {
        // NEWOBJ of __main__.C with dict items, list items and state.
        let p = b"\x80\x02c__main__\nC\n)\x81X\x01\x00\x00\x00aK\x01s(K\x02e}b.";
        let s = run(p).unwrap();
        let call = s.graph.call(s.pickles[0].root).unwrap();
        assert_eq!(call.kind, CallKind::NewObj);
        assert_eq!(call.dict_items.len(), 1);
        assert_eq!(call.list_items.len(), 1);
        assert!(call.state.is_some());
    }

    #[test]
    fn stack_global_needs_strings() {
        assert_eq!(kind_of(b"\x80\x04K\x01K\x02\x93."), ErrorKind::Unsupported);
        let s = run(b"\x80\x04\x8c\x02os\x8c\x06system\x93.").unwrap();
        assert_eq!(&*s.graph.globals[0].name, "system");
    }

    #[test]
    fn cpython_refusals_are_errors() {
        assert_eq!(kind_of(b"\x80\x09N."), ErrorKind::Unsupported);
        assert_eq!(kind_of(b"(K\x01d."), ErrorKind::Unsupported);
        assert_eq!(kind_of(b"}(K\x01u."), ErrorKind::Unsupported);
        assert_eq!(kind_of(b"h\x05."), ErrorKind::MissingMemoKey);
        assert_eq!(kind_of(b"1."), ErrorKind::Inconsistent);
        assert_eq!(kind_of(b"]K\x01\x81."), ErrorKind::Unsupported);
        assert_eq!(kind_of(b"c__main__\nf\n]R."), ErrorKind::Unsupported);
    }

    #[test]
    fn what_cpython_only_rejects_by_type_is_kept_as_data() {
        // BUILD on a global and APPEND to a persistent object: recorded, not refused.
        let s = run(b"cmod\nCls\n}b.").unwrap();
        assert_eq!(s.graph.mutations.len(), 1);
        let s = run(b"Pid\nK\x01a.").unwrap();
        assert!(matches!(s.graph.mutations[0].kind, MutationKind::Items(_)));
    }

    #[test]
    fn big_and_text_integers() {
        let s = run(b"(I00\nI01\nL12345678901234567890123L\n\x8a\x01\xfft.").unwrap();
        let Node::Tuple(items) = s.graph.node(s.pickles[0].root) else {
            panic!()
        };
        assert_eq!(s.graph.node(items[0]), &Node::Bool(false));
        assert_eq!(s.graph.node(items[1]), &Node::Bool(true));
        assert!(matches!(s.graph.node(items[2]), Node::BigInt(_)));
        assert_eq!(s.graph.node(items[3]), &Node::Int(-1));
    }

    #[test]
    fn out_of_band_buffers_and_extensions_are_references() {
        let s = run(b"\x80\x05(\x97\x98\x82\x07t.").unwrap();
        let Node::Tuple(items) = s.graph.node(s.pickles[0].root) else {
            panic!()
        };
        assert!(matches!(
            s.graph.node(items[0]),
            Node::Buffer {
                index: 0,
                readonly: true,
                ..
            }
        ));
        assert!(matches!(
            s.graph.node(items[1]),
            Node::Extension { code: 7, .. }
        ));
    }

    #[test]
    fn concatenated_pickles_and_trailing_bytes() {
        let s = run(b"N.K\x01.\x00\x00").unwrap();
        assert_eq!(s.pickles.len(), 2);
        assert_eq!(s.trailing, Some((5, None)));
        // A later "pickle" that fails is trailing data, with the reason.
        let s = run(b"N.N").unwrap();
        assert_eq!(s.pickles.len(), 1);
        assert!(matches!(&s.trailing, Some((2, Some(_)))));
    }

    #[test]
    fn limits_are_errors_naming_the_limit() {
        let limits = Limits {
            max_nodes: 3,
            ..Limits::default()
        };
        let e =
            run_stream(b"(\x8c\x01a\x8c\x01b\x8c\x01c\x8c\x01dt.", 0, &limits, None).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::LimitExceeded(Limit::Nodes));
        assert!(e.message().contains("max_nodes"), "{e}");
        let limits = Limits {
            max_depth: 2,
            ..Limits::default()
        };
        let e = run_stream(b"(((", 0, &limits, None).unwrap_err();
        assert!(e.message().contains("max_depth"), "{e}");
    }

    #[test]
    fn none_bools_and_small_ints_are_one_node_each_as_in_cpython() {
        // (None, None, True, True, 7, 7, 300, 300, -2**63, 2**63 - 1)
        let s = run(b"(NN\x88\x88K\x07K\x07M\x2c\x01M\x2c\x01\x8a\x08\x00\x00\x00\x00\x00\x00\x00\x80\x8a\x08\xff\xff\xff\xff\xff\xff\xff\x7ft.").unwrap();
        let Node::Tuple(items) = s.graph.node(s.pickles[0].root) else {
            panic!()
        };
        assert_eq!(items[0], items[1]);
        assert_eq!(items[2], items[3]);
        assert_eq!(items[4], items[5]);
        assert_ne!(items[6], items[7]);
        assert_eq!(s.graph.node(items[7]), &Node::Int(300));
        assert_eq!(s.graph.node(items[8]), &Node::Int(i64::MIN));
        assert_eq!(s.graph.node(items[9]), &Node::Int(i64::MAX));
    }

    #[test]
    fn a_huge_memo_key_costs_one_entry() {
        let s = run(b"Nr\xff\xff\xff\xffj\xff\xff\xff\xff.").unwrap();
        assert_eq!(s.graph.len(), 1);
    }

    #[test]
    fn a_million_nested_lists_need_no_recursion() {
        let depth = 1_000_000;
        let mut p = vec![0x80, 2];
        p.extend(std::iter::repeat_n(b'(', depth));
        p.push(b']');
        p.extend(std::iter::repeat_n(b'l', depth));
        p.push(b'.');
        let s = run(&p).unwrap();
        assert_eq!(s.graph.len(), depth + 1);
    }
}
