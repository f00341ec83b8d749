//! The object graph the symbolic machine builds: an arena of nodes addressed by index.
//!
//! Containers hold node ids, so a memo reference shares the node (a DAG, or a cycle)
//! instead of copying it, and a "billion laughs" pickle costs what its bytes cost.
//!
//! The representation is compact ([`Slot`], 16 bytes a node): ints, floats and bools
//! inline; text and bytes borrowed from the input through side tables; containers as
//! spans of shared child arrays, not a vector each. Readers see a node through
//! [`Graph::node`], a small [`Node`] view with its text and children as slices, or
//! through the accessors (`str`, `int`, `tuple`, `list`, `dict`, `dict_get`, `call`,
//! `global`).

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

/// One object of the graph, as [`Graph::node`] shows it: a small view of the compact
/// record the graph keeps ([`Slot`]), with the text, bytes and children borrowed from the
/// graph.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Node<'g> {
    /// `None` (NONE).
    None,
    /// `True` or `False` (NEWTRUE/NEWFALSE, or protocol 0's `I01`/`I00`).
    Bool(bool),
    /// An int that fits `i64`, the common case kept unboxed.
    Int(i64),
    /// An int beyond `i64` (LONG, LONG1, LONG4, or a protocol 0 INT/LONG literal), kept
    /// on the side so the rare big value does not widen every node.
    BigInt(&'g BigInt),
    /// A float (BINFLOAT, or protocol 0's FLOAT text).
    Float(f64),
    /// Text. Lone surrogates (which a Python `str` may hold) become U+FFFD.
    Str(&'g str),
    /// Bytes, borrowed from the stream where they sit in it (owned by the graph only when
    /// protocol 0 escapes had to be decoded).
    Bytes(&'g [u8], BytesKind),
    /// A tuple: its items, in order.
    Tuple(&'g [NodeId]),
    /// A list: its items as APPEND/APPENDS left them.
    List(&'g [NodeId]),
    /// A dict: key and value pairs in insertion order, repeated keys kept (the last one is
    /// the value Python would see, as [`Graph::dict_get`] reads it).
    Dict(&'g [(NodeId, NodeId)]),
    /// A set (EMPTY_SET + ADDITEMS, protocol 4): its items as added, duplicates kept.
    Set(&'g [NodeId]),
    /// A frozenset (FROZENSET, protocol 4): its items as written, duplicates kept.
    FrozenSet(&'g [NodeId]),
    /// A reference to a module attribute: `globals[index]` of the pickle.
    Global {
        /// Index into [`Graph::globals`].
        index: u32,
        /// Offset of the GLOBAL, STACK_GLOBAL or INST opcode that named it here.
        offset: usize,
    },
    /// An object built by a call.
    Call(&'g Call),
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

/// Where a container's children lie in one of the graph's shared child arrays: `len`
/// children from `start`, in a region of `cap` entries reserved for it (`cap >= len`; the
/// entries past `len` are slack a later APPENDS fills without moving the container).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Span {
    start: u32,
    len: u32,
    cap: u32,
}

impl Span {
    const EMPTY: Span = Span {
        start: 0,
        len: 0,
        cap: 0,
    };

    fn range(self) -> std::ops::Range<usize> {
        let start = self.start as usize;
        start..start.saturating_add(self.len as usize)
    }
}

/// How the graph stores a node: 16 bytes, whatever the kind. Text, bytes, big ints and
/// calls are indices into side tables; containers are [`Span`]s of the shared child arrays.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Slot {
    None,
    Bool(bool),
    Int(i64),
    BigInt(u32),
    Float(f64),
    /// Text borrowed from the stream: `Graph::strs[i]`.
    Str(u32),
    /// Text the machine decoded: `Graph::owned_strs[i]`.
    OwnedStr(u32),
    /// Bytes borrowed from the stream: `Graph::byte_strs[i]`.
    Bytes(u32, BytesKind),
    /// Bytes the machine decoded: `Graph::owned_bytes[i]`.
    OwnedBytes(u32, BytesKind),
    Tuple(Span),
    List(Span),
    Dict(Span),
    Set(Span),
    FrozenSet(Span),
    Global {
        index: u32,
        offset: usize,
    },
    Call(u32),
    PersistentId {
        pid: NodeId,
        offset: usize,
    },
    Extension {
        code: i32,
        offset: usize,
    },
    Buffer {
        index: u32,
        readonly: bool,
        offset: usize,
    },
}

/// The kinds of container a [`Span`] can describe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Seq {
    Tuple,
    List,
    Set,
    FrozenSet,
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

/// A saved copy of something a later pickle changed ([`Graph::begin_attempt`]).
#[derive(Clone, Debug, PartialEq)]
enum Undo {
    Slot(NodeId, Slot),
    Call(u32, Call),
}

/// The lengths of every table of a [`Graph`], to cut a failed attempt back to.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Lengths {
    nodes: usize,
    globals: usize,
    mutations: usize,
    items: usize,
    growing: usize,
    pairs: usize,
    strs: usize,
    owned_strs: usize,
    byte_strs: usize,
    owned_bytes: usize,
    big_ints: usize,
    calls: usize,
}

impl Lengths {
    /// Nodes then.
    pub(crate) fn nodes(&self) -> usize {
        self.nodes
    }

    /// Globals then.
    pub(crate) fn globals(&self) -> usize {
        self.globals
    }
}

/// The children a container may have in all: [`Span`] positions are `u32`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TooManyChildren;

/// The arena, shared by all pickles of one stream (a later pickle may refer to an earlier
/// one's objects through a memo carried over, as one `Unpickler` calling `load()` twice does).
///
/// Each node is a 16-byte [`Slot`]. Containers' children live in three shared arrays
/// (`items` for tuples and frozensets, `growing` for lists and sets, `pairs` for dicts); a container filled after
/// others were made (a memoised list that gets APPENDS later) is moved to the end of its
/// array with room to grow, so appends stay amortised O(1) and a container's children are
/// always one slice.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Graph<'data> {
    nodes: Vec<Slot>,
    items: Vec<NodeId>,
    /// Children of lists and sets, which APPENDS and ADDITEMS grow: apart from `items`, so
    /// that a list filled while tuples are made (a list of records) stays last in its
    /// array and grows in place instead of moving.
    growing: Vec<NodeId>,
    pairs: Vec<(NodeId, NodeId)>,
    strs: Vec<&'data str>,
    owned_strs: Vec<String>,
    byte_strs: Vec<&'data [u8]>,
    owned_bytes: Vec<Vec<u8>>,
    big_ints: Vec<BigInt>,
    calls: Vec<Call>,
    /// The node of each entry of `calls`.
    call_nodes: Vec<NodeId>,
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
    undo: Vec<Undo>,
    saved: rustc_hash::FxHashSet<NodeId>,
}

/// Appends `new` to the container at `span` of `array`: into its slack, at the end of the
/// array when it is last, else by moving it to the end with room for as many again.
fn extend_span<T: Copy>(
    array: &mut Vec<T>,
    span: &mut Span,
    new: &[T],
    filler: T,
) -> Result<(), TooManyChildren> {
    let start = span.start as usize;
    let (len, cap) = (span.len as usize, span.cap as usize);
    let need = len.checked_add(new.len()).ok_or(TooManyChildren)?;
    let need32 = u32::try_from(need).map_err(|_| TooManyChildren)?;
    let region_end = start.checked_add(cap).ok_or(TooManyChildren)?;
    let slack = cap.saturating_sub(len).min(new.len());
    let (into_slack, rest) = new.split_at(slack);
    let at_end = region_end == array.len();
    if need <= cap || at_end {
        let from = start.saturating_add(len);
        let room = array
            .get_mut(from..from.saturating_add(slack))
            .ok_or(TooManyChildren)?;
        room.copy_from_slice(into_slack);
        array.extend_from_slice(rest);
        span.len = need32;
        span.cap = span.cap.max(need32);
        return Ok(());
    }
    let new_start = u32::try_from(array.len()).map_err(|_| TooManyChildren)?;
    let new_cap = need.max(len.saturating_mul(2)).max(4);
    let new_cap32 = u32::try_from(new_cap).map_err(|_| TooManyChildren)?;
    u32::try_from(array.len().saturating_add(new_cap)).map_err(|_| TooManyChildren)?;
    array.reserve(new_cap);
    array.extend_from_within(span.range());
    array.extend_from_slice(new);
    array.resize(array.len().saturating_add(new_cap - need), filler);
    *span = Span {
        start: new_start,
        len: need32,
        cap: new_cap32,
    };
    Ok(())
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

    /// Room for about `nodes` nodes (as many children and pairs, a quarter as many texts)
    /// before any is made: the machine guesses from the input's size. Growing by doubling
    /// would copy each table and, for a moment, hold both copies (a third of the peak
    /// memory on opcode-dense input); capacity never touched costs no memory.
    pub(crate) fn reserve(&mut self, nodes: usize) {
        fn room<T>(table: &mut Vec<T>, total: usize) {
            table.reserve(total.saturating_sub(table.len()));
        }
        room(&mut self.nodes, nodes);
        room(&mut self.items, nodes);
        room(&mut self.growing, nodes / 4);
        room(&mut self.pairs, nodes);
        room(&mut self.strs, nodes / 4);
    }

    /// The node `id`: a view of it. Ids come from this graph, so the index is in range
    /// (an id from elsewhere reads as `None`).
    #[inline]
    pub fn node(&self, id: NodeId) -> Node<'_> {
        match self.nodes.get(id.index()) {
            Some(slot) => self.view(*slot),
            None => Node::None,
        }
    }

    #[inline(always)]
    fn view(&self, slot: Slot) -> Node<'_> {
        match slot {
            Slot::None => Node::None,
            Slot::Bool(b) => Node::Bool(b),
            Slot::Int(v) => Node::Int(v),
            Slot::Float(v) => Node::Float(v),
            Slot::BigInt(i) => match self.big_ints.get(i as usize) {
                Some(v) => Node::BigInt(v),
                None => Node::None,
            },
            Slot::Str(i) => Node::Str(self.strs.get(i as usize).copied().unwrap_or("")),
            Slot::OwnedStr(i) => Node::Str(self.owned_strs.get(i as usize).map_or("", |s| s)),
            Slot::Bytes(i, kind) => {
                Node::Bytes(self.byte_strs.get(i as usize).copied().unwrap_or(&[]), kind)
            }
            Slot::OwnedBytes(i, kind) => {
                Node::Bytes(self.owned_bytes.get(i as usize).map_or(&[], |b| b), kind)
            }
            Slot::Tuple(span) => Node::Tuple(self.items_of(span)),
            Slot::List(span) => Node::List(self.growing.get(span.range()).unwrap_or(&[])),
            Slot::Set(span) => Node::Set(self.growing.get(span.range()).unwrap_or(&[])),
            Slot::FrozenSet(span) => Node::FrozenSet(self.items_of(span)),
            Slot::Dict(span) => Node::Dict(self.pairs.get(span.range()).unwrap_or(&[])),
            Slot::Global { index, offset } => Node::Global { index, offset },
            Slot::Call(i) => match self.calls.get(i as usize) {
                Some(call) => Node::Call(call),
                None => Node::None,
            },
            Slot::PersistentId { pid, offset } => Node::PersistentId { pid, offset },
            Slot::Extension { code, offset } => Node::Extension { code, offset },
            Slot::Buffer {
                index,
                readonly,
                offset,
            } => Node::Buffer {
                index,
                readonly,
                offset,
            },
        }
    }

    #[inline]
    fn items_of(&self, span: Span) -> &[NodeId] {
        self.items.get(span.range()).unwrap_or(&[])
    }

    /// The stored record of `id`.
    #[inline]
    pub(crate) fn slot(&self, id: NodeId) -> Option<Slot> {
        self.nodes.get(id.index()).copied()
    }

    /// Borrowed text of a str node as it sits in the stream (`None` for text the machine
    /// decoded, and for other nodes).
    pub(crate) fn borrowed_str(&self, id: NodeId) -> Option<&'data str> {
        match self.slot(id)? {
            Slot::Str(i) => self.strs.get(i as usize).copied(),
            _ => None,
        }
    }

    /// Borrowed bytes of a bytes node as they sit in the stream.
    pub(crate) fn borrowed_bytes(&self, id: NodeId) -> Option<(&'data [u8], BytesKind)> {
        match self.slot(id)? {
            Slot::Bytes(i, kind) => Some((self.byte_strs.get(i as usize).copied()?, kind)),
            _ => None,
        }
    }

    /// Saves the record of `id` (and its call) before a later pickle changes it.
    fn save(&mut self, id: NodeId) {
        if id.index() < self.undo_floor && self.saved.insert(id) {
            if let Some(slot) = self.nodes.get(id.index()) {
                self.undo.push(Undo::Slot(id, *slot));
                if let Slot::Call(i) = *slot {
                    if let Some(call) = self.calls.get(i as usize) {
                        self.undo.push(Undo::Call(i, call.clone()));
                    }
                }
            }
        }
    }

    /// The call behind `id`, to change it (saved first when an earlier pickle made it).
    pub(crate) fn call_mut(&mut self, id: NodeId) -> Option<&mut Call> {
        let Some(Slot::Call(i)) = self.slot(id) else {
            return None;
        };
        self.save(id);
        self.calls.get_mut(i as usize)
    }

    /// Sets the record of `id` (saved first when an earlier pickle made it).
    pub(crate) fn set_slot(&mut self, id: NodeId, slot: Slot) {
        self.save(id);
        if let Some(s) = self.nodes.get_mut(id.index()) {
            *s = slot;
        }
    }

    /// Appends `new` to the list or set `id` (`seq` says which kind it must be): whether
    /// it was one.
    pub(crate) fn extend_items(
        &mut self,
        id: NodeId,
        seq: Seq,
        new: &[NodeId],
    ) -> Result<bool, TooManyChildren> {
        let mut span = match (self.slot(id), seq) {
            (Some(Slot::List(span)), Seq::List) | (Some(Slot::Set(span)), Seq::Set) => span,
            _ => return Ok(false),
        };
        self.save(id);
        extend_span(&mut self.growing, &mut span, new, NodeId(0))?;
        let slot = match seq {
            Seq::Set => Slot::Set(span),
            _ => Slot::List(span),
        };
        if let Some(s) = self.nodes.get_mut(id.index()) {
            *s = slot;
        }
        Ok(true)
    }

    /// Appends key and value pairs to the dict `id`: whether it is one.
    pub(crate) fn extend_pairs(
        &mut self,
        id: NodeId,
        new: &[(NodeId, NodeId)],
    ) -> Result<bool, TooManyChildren> {
        let Some(Slot::Dict(mut span)) = self.slot(id) else {
            return Ok(false);
        };
        self.save(id);
        extend_span(&mut self.pairs, &mut span, new, (NodeId(0), NodeId(0)))?;
        if let Some(s) = self.nodes.get_mut(id.index()) {
            *s = Slot::Dict(span);
        }
        Ok(true)
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
        self.saved = rustc_hash::FxHashSet::default();
    }

    /// Adds a node. The machine keeps the count within `u32` (and `max_nodes`) before it
    /// calls this.
    #[inline]
    pub(crate) fn push(&mut self, slot: Slot) -> NodeId {
        let id = NodeId(u32::try_from(self.nodes.len()).unwrap_or(u32::MAX));
        self.nodes.push(slot);
        id
    }

    /// A side-table index for a new entry of a table of `len` entries.
    fn side_index(len: usize) -> Result<u32, TooManyChildren> {
        u32::try_from(len).map_err(|_| TooManyChildren)
    }

    /// The record of a str borrowed from the stream.
    pub(crate) fn str_slot(&mut self, text: &'data str) -> Result<Slot, TooManyChildren> {
        let i = Self::side_index(self.strs.len())?;
        self.strs.push(text);
        Ok(Slot::Str(i))
    }

    /// The record of text the machine decoded.
    pub(crate) fn owned_str_slot(&mut self, text: String) -> Result<Slot, TooManyChildren> {
        let i = Self::side_index(self.owned_strs.len())?;
        self.owned_strs.push(text);
        Ok(Slot::OwnedStr(i))
    }

    /// The record of bytes borrowed from the stream.
    pub(crate) fn bytes_slot(
        &mut self,
        bytes: &'data [u8],
        kind: BytesKind,
    ) -> Result<Slot, TooManyChildren> {
        let i = Self::side_index(self.byte_strs.len())?;
        self.byte_strs.push(bytes);
        Ok(Slot::Bytes(i, kind))
    }

    /// The record of bytes the machine decoded.
    pub(crate) fn owned_bytes_slot(
        &mut self,
        bytes: Vec<u8>,
        kind: BytesKind,
    ) -> Result<Slot, TooManyChildren> {
        let i = Self::side_index(self.owned_bytes.len())?;
        self.owned_bytes.push(bytes);
        Ok(Slot::OwnedBytes(i, kind))
    }

    /// The record of an int beyond `i64`.
    pub(crate) fn big_int_slot(&mut self, value: BigInt) -> Result<Slot, TooManyChildren> {
        let i = Self::side_index(self.big_ints.len())?;
        self.big_ints.push(value);
        Ok(Slot::BigInt(i))
    }

    /// Adds a call node.
    pub(crate) fn push_call(&mut self, call: Call) -> Result<NodeId, TooManyChildren> {
        let i = Self::side_index(self.calls.len())?;
        self.calls.push(call);
        let id = self.push(Slot::Call(i));
        self.call_nodes.push(id);
        Ok(id)
    }

    /// Every call node and its call, in node order (without visiting the other nodes).
    pub fn calls(&self) -> impl DoubleEndedIterator<Item = (NodeId, &Call)> + '_ {
        self.call_nodes.iter().copied().zip(&self.calls)
    }

    /// Whether `id` is a call (without making a view of it).
    #[inline]
    pub fn is_call(&self, id: NodeId) -> bool {
        matches!(self.slot(id), Some(Slot::Call(_)))
    }

    /// Whether `id` is a scalar value ([`Node::is_scalar`], without making a view of it).
    #[inline]
    pub fn is_scalar(&self, id: NodeId) -> bool {
        matches!(
            self.slot(id),
            Some(
                Slot::None
                    | Slot::Bool(_)
                    | Slot::Int(_)
                    | Slot::BigInt(_)
                    | Slot::Float(_)
                    | Slot::Str(_)
                    | Slot::OwnedStr(_)
                    | Slot::Bytes(..)
                    | Slot::OwnedBytes(..)
            )
        )
    }

    /// Whether `id` is a tuple, list, set, frozenset or dict.
    #[inline]
    pub(crate) fn is_native_container(&self, id: NodeId) -> bool {
        matches!(
            self.slot(id),
            Some(
                Slot::Tuple(_) | Slot::List(_) | Slot::Set(_) | Slot::FrozenSet(_) | Slot::Dict(_)
            )
        )
    }

    /// Every node that is a persistent id or an extension reference, in node order.
    pub(crate) fn references(&self) -> impl Iterator<Item = (NodeId, Node<'_>)> + '_ {
        self.nodes
            .iter()
            .enumerate()
            .filter(|(_, slot)| matches!(slot, Slot::PersistentId { .. } | Slot::Extension { .. }))
            .map(|(i, slot)| {
                (
                    NodeId(u32::try_from(i).unwrap_or(u32::MAX)),
                    self.view(*slot),
                )
            })
    }

    /// The record of a tuple, list, set or frozenset of `children`.
    pub(crate) fn seq_slot(
        &mut self,
        seq: Seq,
        children: &[NodeId],
    ) -> Result<Slot, TooManyChildren> {
        let array = match seq {
            Seq::List | Seq::Set => &mut self.growing,
            Seq::Tuple | Seq::FrozenSet => &mut self.items,
        };
        let span = if children.is_empty() {
            Span::EMPTY
        } else {
            let start = Self::side_index(array.len())?;
            let len = Self::side_index(children.len())?;
            Self::side_index(array.len().saturating_add(children.len()))?;
            array.extend_from_slice(children);
            Span {
                start,
                len,
                cap: len,
            }
        };
        Ok(match seq {
            Seq::Tuple => Slot::Tuple(span),
            Seq::List => Slot::List(span),
            Seq::Set => Slot::Set(span),
            Seq::FrozenSet => Slot::FrozenSet(span),
        })
    }

    /// The record of a dict of key and value pairs (`flat`: key, value, key, value, …;
    /// an even count).
    pub(crate) fn dict_slot(&mut self, flat: &[NodeId]) -> Result<Slot, TooManyChildren> {
        if flat.is_empty() {
            return Ok(Slot::Dict(Span::EMPTY));
        }
        let start = Self::side_index(self.pairs.len())?;
        let len = Self::side_index(flat.len() / 2)?;
        Self::side_index(self.pairs.len().saturating_add(flat.len() / 2))?;
        self.pairs
            .extend(flat.chunks_exact(2).filter_map(|kv| match *kv {
                [k, v] => Some((k, v)),
                _ => None,
            }));
        Ok(Slot::Dict(Span {
            start,
            len,
            cap: len,
        }))
    }

    /// The lengths of every table now.
    pub(crate) fn lengths(&self) -> Lengths {
        Lengths {
            nodes: self.nodes.len(),
            globals: self.globals.len(),
            mutations: self.mutations.len(),
            items: self.items.len(),
            growing: self.growing.len(),
            pairs: self.pairs.len(),
            strs: self.strs.len(),
            owned_strs: self.owned_strs.len(),
            byte_strs: self.byte_strs.len(),
            owned_bytes: self.owned_bytes.len(),
            big_ints: self.big_ints.len(),
            calls: self.calls.len(),
        }
    }

    /// Drops everything added after `to` (a failed attempt), and puts back what it changed.
    pub(crate) fn truncate(&mut self, to: Lengths) {
        for undo in self.undo.drain(..).rev() {
            match undo {
                Undo::Slot(id, slot) => {
                    if let Some(s) = self.nodes.get_mut(id.index()) {
                        *s = slot;
                    }
                }
                Undo::Call(i, call) => {
                    if let Some(c) = self.calls.get_mut(i as usize) {
                        *c = call;
                    }
                }
            }
        }
        self.saved.clear();
        self.surrogate_strs.retain(|id, _| id.index() < to.nodes);
        self.nodes.truncate(to.nodes);
        self.globals.truncate(to.globals);
        self.mutations.truncate(to.mutations);
        self.items.truncate(to.items);
        self.growing.truncate(to.growing);
        self.pairs.truncate(to.pairs);
        self.strs.truncate(to.strs);
        self.owned_strs.truncate(to.owned_strs);
        self.byte_strs.truncate(to.byte_strs);
        self.owned_bytes.truncate(to.owned_bytes);
        self.big_ints.truncate(to.big_ints);
        self.calls.truncate(to.calls);
        self.call_nodes.truncate(to.calls);
    }

    /// Bytes the graph's tables hold (their capacity), for the performance notes.
    pub fn heap_bytes(&self) -> usize {
        use std::mem::size_of;
        self.nodes.capacity() * size_of::<Slot>()
            + (self.items.capacity() + self.growing.capacity()) * size_of::<NodeId>()
            + self.pairs.capacity() * size_of::<(NodeId, NodeId)>()
            + self.strs.capacity() * size_of::<&str>()
            + self.byte_strs.capacity() * size_of::<&[u8]>()
            + self.calls.capacity() * size_of::<Call>()
    }

    /// The global a [`Node::Global`] refers to.
    pub fn global(&self, id: NodeId) -> Option<&GlobalRef<'data>> {
        match self.slot(id)? {
            Slot::Global { index, .. } => self.globals.get(index as usize),
            _ => None,
        }
    }

    /// The call behind `id`, if it is one.
    pub fn call(&self, id: NodeId) -> Option<&Call> {
        match self.slot(id)? {
            Slot::Call(i) => self.calls.get(i as usize),
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
        match self.slot(id)? {
            Slot::Int(v) => Some(v),
            Slot::Bool(b) => Some(i64::from(b)),
            _ => None,
        }
    }

    /// Looks a str key up in a dict node.
    pub fn dict_get(&self, dict: NodeId, key: &str) -> Option<NodeId> {
        self.dict(dict)?
            .iter()
            .rev()
            .find(|(k, _)| self.str(*k) == Some(key))
            .map(|(_, v)| *v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_is_sixteen_bytes() {
        assert_eq!(std::mem::size_of::<Slot>(), 16);
    }

    #[test]
    fn containers_filled_in_turn_keep_their_own_items() {
        let mut g = Graph::default();
        let a = g.seq_slot(Seq::List, &[]).unwrap();
        let a = g.push(a);
        let b = g.seq_slot(Seq::List, &[]).unwrap();
        let b = g.push(b);
        for i in 0..100u32 {
            assert!(g.extend_items(a, Seq::List, &[NodeId(i)]).unwrap());
            assert!(g.extend_items(b, Seq::List, &[NodeId(1000 + i)]).unwrap());
        }
        let want_a: Vec<_> = (0..100).map(NodeId).collect();
        let want_b: Vec<_> = (1000..1100).map(NodeId).collect();
        assert_eq!(g.list(a), Some(&want_a[..]));
        assert_eq!(g.list(b), Some(&want_b[..]));
        // Amortised: moved containers reserve room, so the array stays linear in size.
        assert!(g.growing.len() < 1000, "{}", g.growing.len());
        assert!(!g.extend_items(a, Seq::Set, &[NodeId(0)]).unwrap());
    }
}
