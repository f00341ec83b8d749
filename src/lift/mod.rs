//! Lifting: recognising known constructions in the object graph.
//!
//! An array in a pickle is a call of numpy's (or torch's, or joblib's) reconstruction
//! machinery with a dtype, a shape and a buffer. Here such calls are recognised and read
//! into an [`ArrayInfo`] that says where the array's bytes are, without copying them.
//! Everything not recognised stays a symbolic call.
//!
//! [`lift_stream`] runs once per stream, after the machine, and keeps what it found by
//! node id in a [`Lifted`]: the object walk, the portability hints and the extractors all
//! read that instead of recognising arrays again.
//!
//! A lower-level stage: public ([`run_stream`], [`lift_stream`], [`ArrayInfo`], [`DType`])
//! for the tests that check arrays against numpy and for callers that need it alone, and
//! it may change between minor versions. [`crate::inspect()`] runs it itself.

#![warn(clippy::arithmetic_side_effects)]

pub(crate) mod dtype;
pub mod masked;
pub(crate) mod tar_tensors;
pub(crate) mod value;

use crate::machine::BuildHook;
use rustc_hash::FxHashSet as HashSet;

use crate::classify::normalise;
use crate::limits::Limits;
use crate::machine::{self, Call, Graph, Node, NodeId, Payload, Stream, Trailing};
pub use dtype::{ByteOrder, DType, Field, Float8Format};

/// The callables lifting recognises, by what Python 3 imports for them (a Python 2
/// spelling is read through [`normalise`], as `pickle.Unpickler(fix_imports=True)` does).
/// One row here and one arm where it is used: that is all a new construction needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Known {
    /// `numpy.core.multiarray._reconstruct` (then BUILD with the array's state).
    Reconstruct,
    /// `numpy.core.numeric._frombuffer` (protocol 5).
    FromBuffer,
    /// `numpy.core.multiarray.scalar`.
    Scalar,
    /// `numpy.dtype`.
    Dtype,
    /// joblib's `NumpyArrayWrapper`.
    JoblibWrapper,
    /// `torch._utils._rebuild_tensor(_v2)`.
    RebuildTensor,
    /// `torch._utils._rebuild_parameter(_with_state)`, around a tensor.
    RebuildParameter,
    /// `_codecs.encode`: how protocols 0–2 write `bytes`.
    CodecsEncode,
    Bytes,
    ByteArray,
    Set,
    FrozenSet,
    Complex,
    /// `collections.OrderedDict`.
    OrderedDict,
    /// `copyreg._reconstructor(cls, base, state)` (protocols 0 and 1).
    CopyregReconstructor,
    /// `copyreg.__newobj__(cls, *args)` and `__newobj_ex__`.
    CopyregNewObj,
    /// `numpy.ma.core._mareconstruct` (then BUILD with data, mask and fill value).
    MaReconstruct,
    Other,
}

impl Known {
    /// What the global `module.name` is to lifting.
    pub(crate) fn of(module: &str, name: &str) -> Known {
        let (module, name) = normalise(module, name);
        match (&*module, &*name) {
            (m, "_reconstruct") if numpy_core(m, "multiarray") => Known::Reconstruct,
            (m, "scalar") if numpy_core(m, "multiarray") => Known::Scalar,
            (m, "_frombuffer") if numpy_core(m, "numeric") => Known::FromBuffer,
            // The only spelling numpy has used.
            ("numpy", "dtype") => Known::Dtype,
            (m, "NumpyArrayWrapper") if JOBLIB_WRAPPER_MODULES.contains(&m) => Known::JoblibWrapper,
            ("torch._utils", "_rebuild_tensor_v2" | "_rebuild_tensor" | "_rebuild_tensor_v3") => {
                Known::RebuildTensor
            }
            ("torch._utils", "_rebuild_parameter" | "_rebuild_parameter_with_state") => {
                Known::RebuildParameter
            }
            ("_codecs", "encode") => Known::CodecsEncode,
            ("builtins", "bytes") => Known::Bytes,
            ("builtins", "bytearray") => Known::ByteArray,
            ("builtins", "set") => Known::Set,
            ("builtins", "frozenset") => Known::FrozenSet,
            ("builtins", "complex") => Known::Complex,
            ("collections", "OrderedDict") => Known::OrderedDict,
            ("copyreg", "_reconstructor") => Known::CopyregReconstructor,
            ("copyreg", "__newobj__" | "__newobj_ex__") => Known::CopyregNewObj,
            ("numpy.ma.core", "_mareconstruct") => Known::MaReconstruct,
            _ => Known::Other,
        }
    }
}

/// numpy 1.x wrote `numpy.core.*`, numpy 2.x writes `numpy._core.*`; both load in
/// numpy 2, only the first in numpy 1.
fn numpy_core(module: &str, submodule: &str) -> bool {
    module
        .strip_prefix("numpy.core.")
        .or_else(|| module.strip_prefix("numpy._core."))
        == Some(submodule)
}

const JOBLIB_WRAPPER_MODULES: &[&str] = &[
    "joblib.numpy_pickle",
    "sklearn.externals.joblib.numpy_pickle",
];

/// How the callables of a graph's calls are named: from a table made once per stream (one
/// [`Known::of`] per distinct global), or global by global where no table exists yet (the
/// joblib hook, which runs while the stream is read).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Names<'t> {
    /// By global index; globals past its end are looked up one by one.
    table: &'t [Known],
}

impl Names<'_> {
    /// No table: every lookup classifies its global.
    const DIRECT: Names<'static> = Names { table: &[] };

    /// What the callable `callable` (a [`Node::Global`], else [`Known::Other`]) is.
    pub(crate) fn of(self, graph: &Graph<'_>, callable: NodeId) -> Known {
        let Node::Global { index, .. } = graph.node(callable) else {
            return Known::Other;
        };
        let index = index as usize;
        match self.table.get(index) {
            Some(known) => *known,
            None => graph
                .globals
                .get(index)
                .map_or(Known::Other, |g| Known::of(&g.module, &g.name)),
        }
    }

    /// The call at `node` and what its callable is, if `node` is a call.
    pub(crate) fn call<'g>(self, graph: &'g Graph<'_>, node: NodeId) -> Option<(&'g Call, Known)> {
        let call = graph.call(node)?;
        Some((call, self.of(graph, call.callable)))
    }

    /// Whether `node` is a joblib `NumpyArrayWrapper` however the stream built it: NEWOBJ
    /// or REDUCE of the class, or the copyreg routes (`_reconstructor(cls, object, None)`,
    /// `__newobj__(cls)`) that make an instance of their first argument. joblib's
    /// `NumpyUnpickler.load_build` checks `isinstance`, so every route counts.
    pub(crate) fn is_joblib_wrapper(self, graph: &Graph<'_>, node: NodeId) -> bool {
        let Some((call, known)) = self.call(graph, node) else {
            return false;
        };
        match known {
            Known::JoblibWrapper => true,
            Known::CopyregReconstructor | Known::CopyregNewObj => graph
                .tuple(call.args)
                .and_then(|args| args.first())
                .is_some_and(|&cls| self.of(graph, cls) == Known::JoblibWrapper),
            _ => false,
        }
    }
}

/// Where an array's bytes are.
#[derive(Clone, Debug, PartialEq)]
pub enum ArrayData {
    /// Raw bytes in the stream: a BINBYTES/BYTEARRAY8 payload, or the data joblib writes
    /// after its wrapper.
    Stream {
        /// Where the bytes start in the stream the graph was read from.
        offset: usize,
        /// How many bytes: what the construction announces, which [`ArrayInfo::nbytes`]
        /// may contradict (a short buffer is reported, not trusted).
        len: u64,
    },
    /// A bytes node whose content had to be decoded (protocol 0 STRING escapes).
    Decoded(NodeId),
    /// `_codecs.encode(text, 'latin1')`, how protocols 0–2 write bytes: the text node.
    Latin1(NodeId),
    /// No bytes at all: protocols 0–2 write an empty `bytes` as the call `bytes()`.
    Empty,
    /// An out-of-band buffer (protocol 5) the file does not contain.
    OutOfBand {
        /// Which of the loader's buffers ([`crate::machine::Node::Buffer`]'s `index`).
        index: u32,
    },
    /// Python objects (object dtype): a list node of the elements.
    Objects(NodeId),
    /// A torch storage: the persistent key of its bytes, where the tensor starts in it and
    /// its strides, in elements.
    Torch {
        /// The storage's key: the archive member `data/<key>` (zip format) or the entry
        /// of the storage table (legacy format) that holds its bytes.
        key: String,
        /// The device the storage was on when saved (`cpu`, `cuda:0`), where `torch.load`
        /// would put it back; the bytes do not depend on it.
        location: String,
        /// Where the tensor's first element is in the storage, in elements.
        storage_offset: u64,
        /// Elements to step over per dimension; a view of a larger storage need not be
        /// contiguous.
        stride: Vec<i64>,
        /// The storage's size in elements, from the persistent id's fifth item when it has
        /// one: what bounds the tensor's view of the storage.
        storage_numel: Option<u64>,
    },
    /// The construction is recognised, but its data cannot be located (the reason).
    Unavailable(String),
}

/// Which machinery built an array.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ArrayKind {
    /// `numpy.ndarray` via `_reconstruct` + BUILD (protocols 0–4).
    Ndarray,
    /// Protocol 5 `_frombuffer` (in or out of band).
    FromBuffer,
    /// A plain `.npy` (or npz member) outside any pickle.
    Npy,
    /// A numpy scalar (`multiarray.scalar`): a 0-d array.
    Scalar,
    /// joblib's `NumpyArrayWrapper`, data after the wrapper.
    Joblib,
    /// A torch tensor (`_rebuild_tensor_v2`, `_rebuild_parameter`).
    Tensor,
}

impl ArrayKind {
    /// Whether loading converts a byte-swapped array to native order, so that the array a
    /// loader returns (and `numpy.save` writes) is little-endian: numpy's `ndarray.__setstate__`
    /// swaps non-structured data on load, joblib ensures native order, scalars and torch
    /// tensors come out native. `_frombuffer` and `np.load` keep the order as written.
    pub(crate) fn loads_as_native(self) -> bool {
        !matches!(self, ArrayKind::FromBuffer | ArrayKind::Npy)
    }
}

/// An array payload found in the graph.
#[derive(Clone, Debug, PartialEq)]
pub struct ArrayInfo {
    /// Which machinery built it: decides whether loading makes it native-endian.
    pub(crate) kind: ArrayKind,
    /// The element type, byte order as the bytes are (not as a loader would return them).
    pub dtype: DType,
    /// Elements per dimension; empty for a 0-d array (a numpy scalar).
    pub shape: Vec<u64>,
    /// Whether the bytes are in Fortran (column-major) order.
    pub fortran_order: bool,
    /// Where the bytes are: nothing is copied out of the stream or archive here.
    pub data: ArrayData,
}

impl ArrayInfo {
    /// Elements, if the product of the shape fits in u64.
    pub fn count(&self) -> Option<u64> {
        self.shape
            .iter()
            .try_fold(1u64, |acc, &d| acc.checked_mul(d))
    }

    /// The dtype of the array a loader hands back: byte-swapped data comes back in native
    /// (little-endian) order where the loader converts it (`ArrayKind::loads_as_native`:
    /// protocols 0–4, joblib, scalars, torch), as `extract` writes it; else as stored.
    pub fn loaded_dtype(&self) -> DType {
        let swaps = match &self.dtype {
            DType::Scalar {
                kind,
                byteorder: ByteOrder::Big,
                ..
            } => "iufcMmU".contains(*kind),
            DType::BFloat16 {
                byteorder: ByteOrder::Big,
            } => true,
            _ => false,
        };
        if swaps && self.kind.loads_as_native() {
            self.dtype.with_byteorder(ByteOrder::Little)
        } else {
            self.dtype.clone()
        }
    }

    /// Bytes of the array's data (elements × itemsize), if it fits in u64.
    pub fn nbytes(&self) -> Option<u64> {
        self.count()?.checked_mul(self.dtype.itemsize())
    }
}

/// What the lift pass found in one stream's graph, by node id.
#[derive(Clone, Debug, Default)]
pub struct Lifted {
    /// Every call recognised as an array construction (reachable or not), with the array
    /// or why its data cannot be read; sorted by node id. Few nodes are arrays, so a
    /// sorted list costs what they cost, where a vector indexed by node would cost every node.
    arrays: Vec<(NodeId, Result<ArrayInfo, String>)>,
    /// What each global is to lifting, by global index.
    known: Vec<Known>,
    /// The masks of masked arrays ([`masked`]), by the node of the array; sorted.
    masks: Vec<(NodeId, masked::Mask)>,
}

impl Lifted {
    /// The array built at `node`: `None` if `node` is no array construction, else the
    /// array or why its recognised construction could not be read.
    pub fn array(&self, node: NodeId) -> Option<&Result<ArrayInfo, String>> {
        self.arrays
            .binary_search_by_key(&node, |(id, _)| *id)
            .ok()
            .and_then(|at| self.arrays.get(at))
            .map(|(_, found)| found)
    }

    /// The mask and fill value of the masked array built at `node`, if it is one.
    pub fn mask(&self, node: NodeId) -> Option<&masked::Mask> {
        self.masks
            .binary_search_by_key(&node, |(id, _)| *id)
            .ok()
            .and_then(|at| self.masks.get(at))
            .map(|(_, mask)| mask)
    }

    /// Every array construction of the stream, in node order.
    pub fn arrays(&self) -> impl Iterator<Item = (NodeId, &Result<ArrayInfo, String>)> {
        self.arrays.iter().map(|(id, found)| (*id, found))
    }

    pub(crate) fn names(&self) -> Names<'_> {
        Names { table: &self.known }
    }

    /// For an object built through copyreg's helpers — `copyreg._reconstructor(cls, base,
    /// state)` (protocols 0 and 1) or `copyreg.__newobj__(cls, *args)` — the class node and
    /// the index of the first real argument; `None` for any other call.
    pub(crate) fn constructed_class(
        &self,
        graph: &Graph<'_>,
        node: NodeId,
    ) -> Option<(NodeId, usize)> {
        let (call, known) = self.names().call(graph, node)?;
        let skip = match known {
            // (cls, base, state): base and state are construction details, not arguments.
            Known::CopyregReconstructor => 3,
            Known::CopyregNewObj => 1,
            _ => return None,
        };
        let class = *graph.tuple(call.args)?.first()?;
        matches!(graph.node(class), Node::Global { .. }).then_some((class, skip))
    }

    /// The plain value (`OrderedDict`, `set`, `bytes` as protocols 0–2 write it, …) built at
    /// `node`, if it is one. Read when asked rather than kept: only the JSON extractor
    /// wants them, they borrow from the graph, and recognising one is a table lookup.
    pub(crate) fn plain<'g>(
        &self,
        graph: &'g Graph<'_>,
        node: NodeId,
    ) -> Option<value::PlainValue<'g>> {
        value::plain_at(graph, self.names(), node)
    }
}

/// The lift pass: recognises every array construction in `graph`, once. `stream` is the
/// byte stream the graph was read from (offsets of payloads are relative to it).
pub fn lift_stream(graph: &Graph<'_>, stream: &[u8]) -> Lifted {
    let known: Vec<Known> = graph
        .globals
        .iter()
        .map(|g| Known::of(&g.module, &g.name))
        .collect();
    let mut lifter = Lifter {
        graph,
        stream,
        names: Names { table: &known },
        parts_left: stream_parts(graph),
        inner: HashSet::default(),
    };
    let mut arrays = Vec::new();
    let mut masks = Vec::new();
    // Outermost first: a call's arguments are built before it, so they have lower ids.
    // A construction wrapped in another (the tensor of a `_rebuild_parameter`) is part of
    // the outer array and not lifted again on its own: a chain of 300,000 wrappers would
    // otherwise keep 300,000 results that nothing reads.
    for (id, _) in graph.calls().rev() {
        if lifter.inner.contains(&id) {
            continue;
        }
        if let Some(found) = lifter.array_within(id, 0) {
            if let Some(mask) = found
                .as_ref()
                .ok()
                .and_then(|d| masked::mask(&mut lifter, id, d))
            {
                masks.push((id, mask));
            }
            arrays.push((id, found));
        }
    }
    arrays.reverse();
    masks.reverse();
    Lifted {
        arrays,
        known,
        masks,
    }
}

/// dtype parts (fields and subarrays) one stream may build in all: 4,096 plus 16 per node,
/// at most 2**20. Each array owns its dtype, so a structured dtype shared through the memo
/// by many arrays is rebuilt for each: without this, a few kilobytes of dtype and eight
/// bytes per array would cost arrays × fields in time and memory.
fn stream_parts(graph: &Graph<'_>) -> u64 {
    let nodes = u64::try_from(graph.len()).unwrap_or(u64::MAX);
    nodes.saturating_mul(16).saturating_add(4096).min(1 << 20)
}

/// One lifting job: the graph, its stream, how callables are named, and what is left of
/// the stream's dtype allowance.
pub(crate) struct Lifter<'g, 'data> {
    pub(crate) graph: &'g Graph<'data>,
    stream: &'g [u8],
    pub(crate) names: Names<'g>,
    /// dtype parts this job may still build (see [`stream_parts`]).
    parts_left: u64,
    /// Constructions met inside another one (see [`lift_stream`]).
    inner: HashSet<NodeId>,
}

impl Lifter<'_, '_> {
    /// Spends one dtype part; false once the stream's allowance is spent.
    pub(crate) fn spend_part(&mut self) -> bool {
        match self.parts_left.checked_sub(1) {
            Some(left) => {
                self.parts_left = left;
                true
            }
            None => false,
        }
    }
}

/// Reads a stream with the symbolic machine, stepping over the bytes joblib writes after
/// each `NumpyArrayWrapper` (its array's data, or a nested pickle of an object array).
pub fn run_stream<'d>(bytes: &'d [u8], start: usize, limits: &Limits) -> crate::Result<Stream<'d>> {
    machine::run_stream(
        bytes,
        start,
        limits,
        Some(&mut JoblibHook { parts_spent: 0 }),
    )
}

/// [`run_stream`], keeping what a pickle that fails built ([`machine::run_stream_partial`]).
pub fn run_stream_partial<'d>(
    bytes: &'d [u8],
    start: usize,
    limits: &Limits,
) -> crate::Result<Stream<'d>> {
    machine::run_stream_partial(
        bytes,
        start,
        limits,
        Some(&mut JoblibHook { parts_spent: 0 }),
    )
}

/// The BUILD hook for joblib streams: after a `NumpyArrayWrapper` is built, the array's bytes
/// (or, for object arrays, a nested pickle) follow in the stream (joblib's
/// `NumpyArrayWrapper.write_array`/`read_array`).
struct JoblibHook {
    /// dtype parts built for the wrappers so far: one allowance for the whole stream, as
    /// the lift pass keeps one, or many wrappers sharing a wide dtype through the memo would
    /// cost wrappers × fields.
    parts_spent: u64,
}

impl BuildHook for JoblibHook {
    fn after_build(&mut self, graph: &Graph<'_>, node: NodeId) -> Option<Result<Trailing, String>> {
        // Called after every BUILD: the name alone rules out nearly every object before the
        // module is looked at.
        let global = graph.global(graph.call(node)?.callable)?;
        let direct = global.name == "NumpyArrayWrapper";
        let routed = matches!(
            &*global.name,
            "_reconstructor" | "__newobj__" | "__newobj_ex__"
        );
        if !(direct || routed) || !Names::DIRECT.is_joblib_wrapper(graph, node) {
            return None;
        }
        let allowed = stream_parts(graph).saturating_sub(self.parts_spent);
        let mut lifter = Lifter {
            graph,
            stream: &[],
            names: Names::DIRECT,
            parts_left: allowed,
            inner: HashSet::default(),
        };
        let trailing = lifter.joblib_trailing(node);
        let spent = allowed.saturating_sub(lifter.parts_left);
        self.parts_spent = self.parts_spent.saturating_add(spent);
        Some(trailing)
    }
}

/// How deep one recognised construction may wrap another (`bytearray(bytearray(…))`,
/// `_rebuild_parameter(_rebuild_parameter(…))`, a joblib object array holding a wrapper):
/// writers use one level; input controls the rest, and each level is a recursion.
const MAX_WRAPPING: u32 = 8;

impl Lifter<'_, '_> {
    /// Recognises the array built at `node`, if it is one. `wrapped` counts the
    /// constructions around it.
    fn array_within(&mut self, node: NodeId, wrapped: u32) -> Option<Result<ArrayInfo, String>> {
        let graph = self.graph;
        let (call, known) = self.names.call(graph, node)?;
        let args = graph.tuple(call.args).unwrap_or(&[]);
        match known {
            Known::Reconstruct => return Some(self.reconstructed(call.state)),
            Known::FromBuffer => return Some(self.frombuffer(args)),
            Known::Scalar => return Some(self.scalar(args)),
            Known::MaReconstruct => return Some(masked::data(self, call.state)),
            _ => {}
        }
        if wrapped > MAX_WRAPPING {
            return Some(Err(format!(
                "array construction wrapped more than {MAX_WRAPPING} deep"
            )));
        }
        // Bounded by MAX_WRAPPING just above.
        let deeper = wrapped.saturating_add(1);
        if self.names.is_joblib_wrapper(graph, node) {
            return Some(self.joblib_array(node, deeper));
        }
        match known {
            Known::RebuildTensor => Some(tensor(graph, args)),
            Known::RebuildParameter => {
                let inner = *args.first()?;
                self.inner_array(inner, deeper)
            }
            _ => None,
        }
    }

    /// `_reconstruct(ndarray, (0,), b'b')` + BUILD `(version, shape, dtype, is_fortran, rawdata)`.
    fn reconstructed(&mut self, state: Option<NodeId>) -> Result<ArrayInfo, String> {
        let graph = self.graph;
        let state = state.ok_or("ndarray without BUILD state")?;
        let items = graph.tuple(state).ok_or("ndarray state is not a tuple")?;
        self.ndarray_state(items)
    }

    /// `ndarray.__setstate__`'s `(version, shape, dtype, is_fortran, rawdata)`, the version
    /// optional (it is absent in old pickles).
    fn ndarray_state(&mut self, items: &[NodeId]) -> Result<ArrayInfo, String> {
        let graph = self.graph;
        let (shape, dtype, fortran, raw) = match items {
            [_, shape, dtype, fortran, raw] | [shape, dtype, fortran, raw] => {
                (*shape, *dtype, *fortran, *raw)
            }
            _ => return Err(format!("ndarray state has {} items", items.len())),
        };
        let dtype = dtype::parse(self, dtype)?;
        let data = if dtype.has_object() {
            ArrayData::Objects(raw)
        } else {
            self.buffer_data(raw)
        };
        Ok(ArrayInfo {
            kind: ArrayKind::Ndarray,
            shape: shape_of(graph, shape)?,
            fortran_order: graph.int(fortran).unwrap_or(0) != 0,
            dtype,
            data,
        })
    }

    /// Protocol 5: `_frombuffer(buffer, dtype, shape, order)`.
    fn frombuffer(&mut self, args: &[NodeId]) -> Result<ArrayInfo, String> {
        let [buffer, dtype, shape, order] = args else {
            return Err(format!("_frombuffer with {} arguments", args.len()));
        };
        Ok(ArrayInfo {
            kind: ArrayKind::FromBuffer,
            dtype: dtype::parse(self, *dtype)?,
            shape: shape_of(self.graph, *shape)?,
            fortran_order: text_of(self.graph, *order).as_deref() == Some("F"),
            data: self.buffer_data(*buffer),
        })
    }

    /// `multiarray.scalar(dtype, bytes)`: a 0-d array.
    fn scalar(&mut self, args: &[NodeId]) -> Result<ArrayInfo, String> {
        let (dtype, raw) = match args {
            [dtype, raw, ..] => (*dtype, Some(*raw)),
            [dtype] => (*dtype, None),
            _ => return Err("scalar() without a dtype".into()),
        };
        let dtype = dtype::parse(self, dtype)?;
        let data = match raw {
            Some(raw) if dtype.has_object() => ArrayData::Objects(raw),
            Some(raw) => self.buffer_data(raw),
            None => ArrayData::Unavailable("scalar() without data".into()),
        };
        Ok(ArrayInfo {
            kind: ArrayKind::Scalar,
            dtype,
            shape: Vec::new(),
            fortran_order: false,
            data,
        })
    }

    /// Where the bytes of a buffer-like node are, relative to the stream.
    pub(crate) fn buffer_data(&self, id: NodeId) -> ArrayData {
        let graph = self.graph;
        let mut id = id;
        // bytearray(b'...') in protocols < 5, possibly wrapped again: followed in a loop.
        for _ in 0..=MAX_WRAPPING {
            let (call, known) = match graph.node(id) {
                Node::Bytes(bytes, _) => {
                    return match offset_in(self.stream, bytes) {
                        Some(offset) => ArrayData::Stream {
                            offset,
                            len: u64::try_from(bytes.len()).unwrap_or(u64::MAX),
                        },
                        None => ArrayData::Decoded(id),
                    }
                }
                Node::Buffer { index, .. } => return ArrayData::OutOfBand { index },
                Node::Call(call) => (call, self.names.of(graph, call.callable)),
                _ => return ArrayData::Unavailable("array data is not bytes".into()),
            };
            let args = graph.tuple(call.args);
            match known {
                // protocols 0–2 write bytes as _codecs.encode(text, 'latin1')
                Known::CodecsEncode => {
                    return match args {
                        Some([text, ..]) if matches!(graph.node(*text), Node::Str(_)) => {
                            ArrayData::Latin1(*text)
                        }
                        _ => ArrayData::Unavailable("_codecs.encode of something not text".into()),
                    }
                }
                // protocols < 3 write empty bytes as bytes()
                Known::Bytes if args.is_some_and(<[NodeId]>::is_empty) => return ArrayData::Empty,
                Known::ByteArray => match args {
                    Some([inner, ..]) => id = *inner,
                    _ => return ArrayData::Unavailable("bytearray() without data".into()),
                },
                _ => {
                    return ArrayData::Unavailable("array data is built by an unknown call".into())
                }
            }
        }
        ArrayData::Unavailable(format!(
            "array data wrapped in more than {MAX_WRAPPING} bytearray calls"
        ))
    }

    fn inner_array(&mut self, node: NodeId, wrapped: u32) -> Option<Result<ArrayInfo, String>> {
        self.inner.insert(node);
        self.array_within(node, wrapped)
    }

    /// The state of a joblib `NumpyArrayWrapper`: shape, order ('C'/'F'), dtype, and whether
    /// joblib ≥ 1.2 wrote a padding byte before the data.
    fn joblib_state(&mut self, node: NodeId) -> Result<(Vec<u64>, bool, DType, bool), String> {
        let graph = self.graph;
        let call = graph.call(node).ok_or("not a call")?;
        let state = call.state.ok_or("NumpyArrayWrapper without state")?;
        let get = |key: &str| graph.dict_get(state, key);
        let shape = shape_of(
            graph,
            get("shape").ok_or("NumpyArrayWrapper without shape")?,
        )?;
        let fortran = get("order").and_then(|o| text_of(graph, o)).as_deref() == Some("F");
        let dtype_node = get("dtype").ok_or("NumpyArrayWrapper without dtype")?;
        let dtype = dtype::parse(self, dtype_node)?;
        // joblib reads the padding byte whenever the attribute is not None
        // (`safe_get_numpy_array_alignment_bytes() is not None`, joblib/numpy_pickle.py),
        // whatever its type.
        let padded = get("numpy_array_alignment_bytes")
            .is_some_and(|v| !matches!(graph.node(v), Node::None));
        Ok((shape, fortran, dtype, padded))
    }

    /// What follows a `NumpyArrayWrapper` in the stream.
    fn joblib_trailing(&mut self, node: NodeId) -> Result<Trailing, String> {
        let (shape, _, dtype, padded) = self.joblib_state(node)?;
        let has_object = match self.graph.call(node).and_then(|c| c.state) {
            Some(state) => match self.graph.dict_get(state, "dtype") {
                Some(d) => dtype_flags_object(self.graph, d)?.unwrap_or(dtype.has_object()),
                None => dtype.has_object(),
            },
            None => dtype.has_object(),
        };
        // joblib asks `dtype.hasobject`: a nested pickle follows, not raw bytes.
        if has_object {
            return Ok(Trailing::Pickle);
        }
        let count = shape
            .iter()
            .try_fold(1u64, |acc, &d| acc.checked_mul(d))
            .ok_or("array shape overflows")?;
        let len = count
            .checked_mul(dtype.itemsize())
            .ok_or("array size overflows")?;
        Ok(Trailing::Raw { len, padded })
    }

    fn joblib_array(&mut self, node: NodeId, wrapped: u32) -> Result<ArrayInfo, String> {
        let (shape, fortran_order, dtype, _) = self.joblib_state(node)?;
        let call = self.graph.call(node).ok_or("not a call")?;
        let data = match &call.trailing_payload {
            Some(Payload::Raw { offset, len }) => ArrayData::Stream {
                offset: *offset,
                len: *len,
            },
            Some(Payload::Pickle { root, .. }) => match self.inner_array(*root, wrapped) {
                Some(Ok(inner)) => inner.data,
                _ => ArrayData::Objects(*root),
            },
            None => ArrayData::Unavailable(
                "joblib array data not read (file opened without joblib's layout)".into(),
            ),
        };
        Ok(ArrayInfo {
            kind: ArrayKind::Joblib,
            dtype,
            shape,
            fortran_order,
            data,
        })
    }
}

/// `dtype.hasobject` as numpy decides it after BUILD: the `flags` item of the dtype's state
/// tuple (index 7 of the 8- and 9-item states numpy writes) replaces what the type string
/// implies, so a `<f8` whose state sets `NPY_ITEM_REFCOUNT` (bit 0) has objects and an
/// `|O` whose flags are 0 has none (numpy `arraydescr_setstate`; checked with numpy 2.4).
/// `Ok(None)` when the state does not say; an error when its flags are not an int.
fn dtype_flags_object(graph: &Graph<'_>, dtype: NodeId) -> Result<Option<bool>, String> {
    let Some(state) = graph.call(dtype).and_then(|c| c.state) else {
        return Ok(None);
    };
    let Some(items) = graph.tuple(state) else {
        return Ok(None);
    };
    if items.len() < 8 {
        return Ok(None);
    }
    let flags = items
        .get(7)
        .and_then(|&f| graph.int(f))
        .ok_or("the dtype's state has flags that are not an int")?;
    Ok(Some(flags & 1 != 0))
}

fn non_negative(graph: &Graph<'_>, id: NodeId) -> Option<u64> {
    graph.int(id).and_then(|v| u64::try_from(v).ok())
}

/// numpy arrays have at most 64 dimensions (`NPY_MAXDIMS` of numpy 2; 32 before). Each
/// array gets its own copy of its shape, and the memo can share one shape among them all.
pub(crate) const MAX_DIMS: usize = 64;

/// Longest text lifting copies out of the graph (storage keys and devices, dtype field
/// names and units): real ones are a few bytes, each array gets its own copy, and the
/// memo can share one text among them all.
pub(crate) const MAX_LIFTED_TEXT: usize = 256;

fn shape_of(graph: &Graph<'_>, id: NodeId) -> Result<Vec<u64>, String> {
    match graph.node(id) {
        Node::Tuple(dims) | Node::List(dims) if dims.len() > MAX_DIMS => Err(format!(
            "shape has {} dimensions, more than numpy's {MAX_DIMS}",
            dims.len()
        )),
        Node::Tuple(dims) | Node::List(dims) => dims
            .iter()
            .map(|&d| non_negative(graph, d))
            .collect::<Option<Vec<u64>>>()
            .ok_or_else(|| "shape is not a tuple of non-negative ints".to_string()),
        _ => non_negative(graph, id)
            .map(|d| vec![d])
            .ok_or_else(|| "shape is not a tuple".to_string()),
    }
}

fn text_of(graph: &Graph<'_>, id: NodeId) -> Option<String> {
    match graph.node(id) {
        Node::Str(s) if s.len() <= MAX_LIFTED_TEXT => Some(s.to_string()),
        Node::Bytes(b, _) if b.len() <= MAX_LIFTED_TEXT => {
            Some(String::from_utf8_lossy(b).into_owned())
        }
        _ => None,
    }
}

/// The offset of `part` inside `whole`, if it borrows from it.
pub(crate) fn offset_in(whole: &[u8], part: &[u8]) -> Option<usize> {
    let start = whole.as_ptr() as usize;
    let at = part.as_ptr() as usize;
    // Addresses of one allocation: a slice never ends past usize::MAX, but the sums are
    // checked anyway rather than trusted.
    let end = at.checked_add(part.len())?;
    (at >= start && end <= start.checked_add(whole.len())?).then(|| at.wrapping_sub(start))
}

/// The element type of a torch storage class (`torch.FloatStorage`, …).
pub(crate) fn torch_storage_dtype(name: &str) -> Option<DType> {
    use ByteOrder::{Little, NotApplicable};
    Some(match name {
        "DoubleStorage" => DType::simple('f', 8, Little),
        "FloatStorage" => DType::simple('f', 4, Little),
        "HalfStorage" => DType::simple('f', 2, Little),
        "BFloat16Storage" => DType::BFloat16 { byteorder: Little },
        "LongStorage" => DType::simple('i', 8, Little),
        "IntStorage" => DType::simple('i', 4, Little),
        "ShortStorage" => DType::simple('i', 2, Little),
        "CharStorage" => DType::simple('i', 1, NotApplicable),
        "ByteStorage" => DType::simple('u', 1, NotApplicable),
        "BoolStorage" => DType::simple('b', 1, NotApplicable),
        "ComplexFloatStorage" => DType::simple('c', 8, Little),
        "ComplexDoubleStorage" => DType::simple('c', 16, Little),
        _ => return None,
    })
}

/// The element type of a torch dtype constant (`torch.float8_e4m3fn`, `torch.uint16`, …),
/// as `_rebuild_tensor_v3` receives it.
fn torch_dtype(name: &str) -> Option<DType> {
    use ByteOrder::{Little, NotApplicable};
    if let Some(format) = Float8Format::from_name(name) {
        return Some(DType::Float8(format));
    }
    Some(match name {
        "float64" | "double" => DType::simple('f', 8, Little),
        "float32" | "float" => DType::simple('f', 4, Little),
        "float16" | "half" => DType::simple('f', 2, Little),
        "bfloat16" => DType::BFloat16 { byteorder: Little },
        "int64" | "long" => DType::simple('i', 8, Little),
        "int32" | "int" => DType::simple('i', 4, Little),
        "int16" | "short" => DType::simple('i', 2, Little),
        "int8" => DType::simple('i', 1, NotApplicable),
        "uint64" => DType::simple('u', 8, Little),
        "uint32" => DType::simple('u', 4, Little),
        "uint16" => DType::simple('u', 2, Little),
        "uint8" => DType::simple('u', 1, NotApplicable),
        "bool" => DType::simple('b', 1, NotApplicable),
        "complex64" | "cfloat" => DType::simple('c', 8, Little),
        "complex128" | "cdouble" => DType::simple('c', 16, Little),
        _ => return None,
    })
}

/// The dtype of a tensor and its storage's size in elements: typed storages
/// (`torch.FloatStorage`, `_rebuild_tensor_v2`) name the dtype and count elements;
/// `torch.storage.UntypedStorage` (`_rebuild_tensor_v3`, torch ≥ 2.1 for dtypes without a
/// typed storage class, such as float8 and uint16) counts bytes, and the dtype is the
/// seventh argument.
fn tensor_dtype(
    graph: &Graph<'_>,
    class: &crate::machine::GlobalRef<'_>,
    args: &[NodeId],
    numel: Option<u64>,
) -> Result<(DType, Option<u64>), String> {
    if class.name != "UntypedStorage" {
        let dtype = torch_storage_dtype(&class.name)
            .ok_or_else(|| format!("unknown storage type {}.{}", class.module, class.name))?;
        return Ok((dtype, numel));
    }
    let global = args
        .get(6)
        .and_then(|&d| graph.global(d))
        .ok_or("untyped storage without a dtype argument")?;
    let dtype = (global.module == "torch")
        .then(|| torch_dtype(&global.name))
        .flatten()
        .ok_or_else(|| format!("unknown tensor dtype {}.{}", global.module, global.name))?;
    let elements = numel.and_then(|bytes| bytes.checked_div(dtype.itemsize()));
    Ok((dtype, elements))
}

/// `_rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, hooks, …)`
/// (and `_v3`, with the dtype after the hooks) where `storage` is a persistent id
/// `('storage', StorageClass, key, location, numel, …)`.
fn tensor(graph: &Graph<'_>, args: &[NodeId]) -> Result<ArrayInfo, String> {
    let [storage, offset, size, stride, ..] = args else {
        return Err(format!("tensor rebuilt with {} arguments", args.len()));
    };
    let Node::PersistentId { pid, .. } = graph.node(*storage) else {
        return Err("tensor storage is not a persistent reference".into());
    };
    let pid = graph.tuple(pid).ok_or("storage id is not a tuple")?;
    let [tag, class, key, location, rest @ ..] = pid else {
        return Err("storage id is too short".into());
    };
    if text_of(graph, *tag).as_deref() != Some("storage") {
        return Err("persistent id is not a storage".into());
    }
    let class = graph.global(*class).ok_or("storage type is not a global")?;
    let numel = rest.first().and_then(|&n| non_negative(graph, n));
    let (dtype, storage_numel) = tensor_dtype(graph, class, args, numel)?;
    let stride = match graph.node(*stride) {
        Node::Tuple(items) if items.len() > MAX_DIMS => {
            return Err(format!(
                "tensor stride has {} dimensions, more than {MAX_DIMS}",
                items.len()
            ))
        }
        Node::Tuple(items) => items
            .iter()
            .map(|&s| graph.int(s))
            .collect::<Option<Vec<i64>>>()
            .ok_or("tensor stride is not ints")?,
        _ => return Err("tensor stride is not a tuple".into()),
    };
    Ok(ArrayInfo {
        kind: ArrayKind::Tensor,
        dtype,
        shape: shape_of(graph, *size)?,
        fortran_order: false,
        data: ArrayData::Torch {
            key: text_of(graph, *key).ok_or(format!(
                "storage key is not text of at most {MAX_LIFTED_TEXT} bytes"
            ))?,
            location: text_of(graph, *location).unwrap_or_default(),
            storage_offset: non_negative(graph, *offset).ok_or("bad storage offset")?,
            stride,
            storage_numel,
        },
    })
}
