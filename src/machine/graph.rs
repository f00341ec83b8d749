//! The object graph the symbolic machine builds: an arena of nodes addressed by index.
//!
//! Containers hold node ids, so a memo reference shares the node (a DAG, or a cycle)
//! instead of copying it, and a "billion laughs" pickle costs what its bytes cost.

use std::borrow::Cow;

use num_bigint::BigInt;

/// Index of a node in its [`Graph`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub u32);

impl NodeId {
    /// The index as `usize`.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// What made a byte string: Python 3 `bytes`, a `bytearray`, or a Python 2 `str`
/// (STRING/BINSTRING), which Python 3 decodes per the loader's `encoding` argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BytesKind {
    /// Python 3 `bytes` (SHORT_BINBYTES, BINBYTES, BINBYTES8).
    Bytes,
    /// A protocol 5 `bytearray` (BYTEARRAY8), which loads as a mutable buffer.
    ByteArray,
    /// A Python 2 `str` (STRING, BINSTRING, SHORT_BINSTRING): its bytes, not yet decoded,
    /// because the text they stand for depends on the loader's `encoding`.
    Py2Str,
}

/// How an object was built from a callable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallKind {
    /// REDUCE: `callable(*args)`.
    Reduce,
    /// NEWOBJ: `cls.__new__(cls, *args)`.
    NewObj,
    /// NEWOBJ_EX: `cls.__new__(cls, *args, **kwargs)`.
    NewObjEx,
    /// OBJ: a class and arguments after a MARK.
    Obj,
    /// INST: a class named in the argument, arguments after a MARK.
    Inst,
}

/// An object built by calling something, with everything applied to it afterwards.
#[derive(Clone, Debug, PartialEq)]
pub struct Call {
    /// The callable (usually a [`Node::Global`]).
    pub callable: NodeId,
    /// The argument tuple.
    pub args: NodeId,
    /// Keyword arguments (NEWOBJ_EX), a dict node.
    pub kwargs: Option<NodeId>,
    /// Which opcode built it.
    pub kind: CallKind,
    /// Offset of that opcode.
    pub offset: usize,
    /// State given by BUILD (the last one, as `__setstate__` sees it).
    pub state: Option<NodeId>,
    /// Items given by APPEND/APPENDS (`__reduce__` list items).
    pub list_items: Vec<NodeId>,
    /// Pairs given by SETITEM/SETITEMS (`__reduce__` dict items).
    pub dict_items: Vec<(NodeId, NodeId)>,
    /// Bytes that follow the object in the stream rather than inside it: joblib writes
    /// an array's data right after its `NumpyArrayWrapper`.
    pub(crate) trailing_payload: Option<Payload>,
}

/// Array bytes outside the opcode stream.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Payload {
    /// `len` raw bytes at `offset` of the stream.
    Raw { offset: usize, len: u64 },
    /// A nested pickle (joblib object arrays), whose root is this node.
    Pickle {
        root: NodeId,
        offset: usize,
        end: usize,
    },
}

/// One object of the graph.
#[derive(Clone, Debug, PartialEq)]
pub enum Node<'data> {
    /// `None` (NONE).
    None,
    /// `True` or `False` (NEWTRUE/NEWFALSE, or protocol 0's `I01`/`I00`).
    Bool(bool),
    /// An int that fits `i64`, the common case kept unboxed.
    Int(i64),
    /// An int beyond `i64` (LONG, LONG1, LONG4, or a protocol 0 INT/LONG literal), boxed so
    /// the rare big value does not widen every node.
    BigInt(Box<BigInt>),
    /// A float (BINFLOAT, or protocol 0's FLOAT text).
    Float(f64),
    /// Text. Lone surrogates (which a Python `str` may hold) become U+FFFD.
    Str(Cow<'data, str>),
    /// Bytes, borrowed from the stream where they sit in it (owned only when protocol 0
    /// escapes had to be decoded).
    Bytes(Cow<'data, [u8]>, BytesKind),
    /// A tuple: its items, in order.
    Tuple(Vec<NodeId>),
    /// A list: its items as APPEND/APPENDS left them.
    List(Vec<NodeId>),
    /// A dict: key and value pairs in insertion order, repeated keys kept (the last one is
    /// the value Python would see, as [`Graph::dict_get`] reads it).
    Dict(Vec<(NodeId, NodeId)>),
    /// A set (EMPTY_SET + ADDITEMS, protocol 4): its items as added, duplicates kept.
    Set(Vec<NodeId>),
    /// A frozenset (FROZENSET, protocol 4): its items as written, duplicates kept.
    FrozenSet(Vec<NodeId>),
    /// A reference to a module attribute: `globals[index]` of the pickle.
    Global {
        /// Index into [`Graph::globals`].
        index: u32,
        /// Offset of the GLOBAL, STACK_GLOBAL or INST opcode that named it here.
        offset: usize,
    },
    /// An object built by a call.
    Call(Box<Call>),
    /// An object the loader's `persistent_load` supplies (PERSID/BINPERSID).
    PersistentId {
        /// The id the pickle passes to `persistent_load` (for torch, a tuple naming a
        /// storage).
        pid: NodeId,
        /// Offset of the PERSID or BINPERSID opcode.
        offset: usize,
    },
    /// An EXT1/2/4 reference to copyreg's extension registry (empty by default).
    Extension {
        /// The extension code, which only the loading process's registry maps to a global.
        code: i32,
        /// Offset of the EXT opcode.
        offset: usize,
    },
    /// An out-of-band buffer (NEXT_BUFFER), number `index` of the buffers the loader is given.
    Buffer {
        /// Which of the loader's buffers, counted from 0 in stream order.
        index: u32,
        /// Whether READONLY_BUFFER followed, so the loader gets a read-only view.
        readonly: bool,
        /// Offset of the NEXT_BUFFER opcode.
        offset: usize,
    },
}

impl Node<'_> {
    /// A scalar value: None, a bool, a number, text or bytes (no children, nothing to call).
    pub fn is_scalar(&self) -> bool {
        matches!(
            self,
            Node::None
                | Node::Bool(_)
                | Node::Int(_)
                | Node::BigInt(_)
                | Node::Float(_)
                | Node::Str(_)
                | Node::Bytes(..)
        )
    }
}

/// One step of the execution trace: an opcode at which the C unpickler calls something
/// from the file (REDUCE, NEWOBJ, NEWOBJ_EX, INST, OBJ; BUILD on an object that is not a
/// native container, whose class may define `__setstate__`; STACK_GLOBAL on a computed
/// name, which imports whatever that name turns out to be), in stream order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Traced {
    /// Offset of the opcode.
    pub offset: usize,
    /// The opcode.
    pub opcode: crate::opcode::Opcode,
    /// The node it made (a call's result, STACK_GLOBAL's opaque global) or, for BUILD, the
    /// object it gave state to.
    pub node: NodeId,
}

/// The module and name of the [`GlobalRef`] a STACK_GLOBAL on a computed (non-literal)
/// module or name refers to: any attribute of any module, known only at load time.
pub const COMPUTED: &str = "<computed>";

/// A distinct global referenced by a pickle, as written in the stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GlobalRef<'data> {
    /// The module, as the stream spells it (a Python 2 name is not normalised here).
    pub module: Cow<'data, str>,
    /// The attribute of the module, possibly dotted (`Outer.Inner`, protocol 4).
    pub name: Cow<'data, str>,
    /// Offset of the opcode that first referenced it (GLOBAL, STACK_GLOBAL or INST).
    pub offset: usize,
}

/// Changes applied to nodes that are not calls or native containers (BUILD on a global,
/// APPEND to a persistent object, …): rare, but kept so nothing the stream does is lost.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Mutation {
    pub target: NodeId,
    pub offset: usize,
    pub kind: MutationKind,
}

/// What a [`Mutation`] did.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum MutationKind {
    State(NodeId),
    Items(Vec<NodeId>),
    Pairs(Vec<(NodeId, NodeId)>),
}

/// The arena, shared by all pickles of one stream (a later pickle may refer to an earlier
/// one's objects through a memo carried over, as one `Unpickler` calling `load()` twice does).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Graph<'data> {
    nodes: Vec<Node<'data>>,
    /// Distinct globals of the stream, in order of first appearance.
    pub globals: Vec<GlobalRef<'data>>,
    /// Mutations of nodes that cannot hold them themselves.
    pub(crate) mutations: Vec<Mutation>,
    /// Exact code points of the str nodes that hold lone surrogates (which a Python `str`
    /// can, and Rust's cannot: their [`Node::Str`] has U+FFFD in those places).
    pub(crate) surrogate_strs: std::collections::HashMap<NodeId, Box<[u32]>>,
    /// Nodes below this index belong to pickles already run: a later pickle that changes one
    /// (APPENDS to a list it got through a carried memo) first saves it here, so that if
    /// that pickle fails, [`Graph::truncate`] can put it back. Otherwise the earlier list
    /// would keep ids of nodes the truncation dropped.
    undo_floor: usize,
    undo: Vec<(NodeId, Node<'data>)>,
    saved: std::collections::HashSet<NodeId>,
}

impl<'data> Graph<'data> {
    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether there are no nodes.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The node `id`. Ids come from this graph, so the index is in range.
    pub fn node(&self, id: NodeId) -> &Node<'data> {
        &self.nodes[id.index()]
    }

    pub(crate) fn node_mut(&mut self, id: NodeId) -> &mut Node<'data> {
        if id.index() < self.undo_floor && self.saved.insert(id) {
            self.undo.push((id, self.nodes[id.index()].clone()));
        }
        &mut self.nodes[id.index()]
    }

    /// Starts running a pickle: nodes that exist now are saved before they are changed.
    pub(crate) fn begin_attempt(&mut self) {
        self.undo_floor = self.nodes.len();
        self.undo.clear();
        self.saved.clear();
    }

    /// Every pickle is run: drops the saved copies.
    pub(crate) fn end_attempts(&mut self) {
        self.undo_floor = 0;
        self.undo = Vec::new();
        self.saved = std::collections::HashSet::new();
    }

    /// Adds a node. The machine keeps the count within `u32` (and `max_nodes`) before it
    /// calls this.
    pub(crate) fn push(&mut self, node: Node<'data>) -> NodeId {
        let id = NodeId(u32::try_from(self.nodes.len()).unwrap_or(u32::MAX));
        self.nodes.push(node);
        id
    }

    /// Drops everything added after a snapshot of the lengths (a failed attempt).
    pub(crate) fn truncate(&mut self, nodes: usize, globals: usize, mutations: usize) {
        for (id, node) in self.undo.drain(..).rev() {
            if let Some(slot) = self.nodes.get_mut(id.index()) {
                *slot = node;
            }
        }
        self.saved.clear();
        self.surrogate_strs.retain(|id, _| id.index() < nodes);
        self.nodes.truncate(nodes);
        self.globals.truncate(globals);
        self.mutations.truncate(mutations);
    }

    /// The global a [`Node::Global`] refers to.
    pub fn global(&self, id: NodeId) -> Option<&GlobalRef<'data>> {
        match self.node(id) {
            Node::Global { index, .. } => self.globals.get(*index as usize),
            _ => None,
        }
    }

    /// The call behind `id`, if it is one.
    pub fn call(&self, id: NodeId) -> Option<&Call> {
        match self.node(id) {
            Node::Call(call) => Some(call),
            _ => None,
        }
    }

    /// The text of a str node.
    pub fn str(&self, id: NodeId) -> Option<&str> {
        match self.node(id) {
            Node::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The items of a tuple node.
    pub fn tuple(&self, id: NodeId) -> Option<&[NodeId]> {
        match self.node(id) {
            Node::Tuple(items) => Some(items),
            _ => None,
        }
    }

    /// The items of a list node (as APPEND/APPENDS left them).
    pub fn list(&self, id: NodeId) -> Option<&[NodeId]> {
        match self.node(id) {
            Node::List(items) => Some(items),
            _ => None,
        }
    }

    /// The key and value pairs of a dict node, in insertion order, repeated keys kept.
    pub fn dict(&self, id: NodeId) -> Option<&[(NodeId, NodeId)]> {
        match self.node(id) {
            Node::Dict(pairs) => Some(pairs),
            _ => None,
        }
    }

    /// The value of an int node that fits `i64`.
    pub fn int(&self, id: NodeId) -> Option<i64> {
        match self.node(id) {
            Node::Int(v) => Some(*v),
            Node::Bool(b) => Some(i64::from(*b)),
            _ => None,
        }
    }

    /// Looks a str key up in a dict node.
    pub fn dict_get(&self, dict: NodeId, key: &str) -> Option<NodeId> {
        match self.node(dict) {
            Node::Dict(pairs) => pairs
                .iter()
                .rev()
                .find(|(k, _)| self.str(*k) == Some(key))
                .map(|(_, v)| *v),
            _ => None,
        }
    }
}
