//! Lifting: recognising known constructions in the object graph.
//!
//! An array in a pickle is a call of numpy's (or torch's, or joblib's) reconstruction
//! machinery with a dtype, a shape and a buffer. Here such calls are recognised and read
//! into an [`ArrayInfo`] that says where the array's bytes are, without copying them.
//! Everything not recognised stays a symbolic call.

pub mod dtype;
pub mod value;

use crate::machine::{BytesKind, Graph, Node, NodeId, Payload, Trailing};
pub use dtype::{ByteOrder, DType};

/// Where an array's bytes are.
#[derive(Clone, Debug, PartialEq)]
pub enum ArrayData {
    /// Raw bytes in the stream: a BINBYTES/BYTEARRAY8 payload, or the data joblib writes
    /// after its wrapper.
    Stream { offset: usize, len: u64 },
    /// A bytes node whose content had to be decoded (protocol 0 STRING escapes).
    Decoded(NodeId),
    /// `_codecs.encode(text, 'latin1')`, how protocols 0–2 write bytes: the text node.
    Latin1(NodeId),
    /// No bytes at all: protocols 0–2 write an empty `bytes` as the call `bytes()`.
    Empty,
    /// An out-of-band buffer (protocol 5) the file does not contain.
    OutOfBand { index: u32 },
    /// Python objects (object dtype): a list node of the elements.
    Objects(NodeId),
    /// A torch storage: the persistent key of its bytes, where the tensor starts in it and
    /// its strides, in elements.
    Torch {
        key: String,
        location: String,
        storage_offset: u64,
        stride: Vec<i64>,
        storage_numel: Option<u64>,
    },
    /// The construction is recognised, but its data cannot be located (the reason).
    Unavailable(String),
}

/// Which machinery built an array.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArrayKind {
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
    pub fn loads_as_native(self) -> bool {
        !matches!(self, ArrayKind::FromBuffer | ArrayKind::Npy)
    }
}

/// An array payload found in the graph.
#[derive(Clone, Debug, PartialEq)]
pub struct ArrayInfo {
    pub kind: ArrayKind,
    pub dtype: DType,
    pub shape: Vec<u64>,
    /// Whether the bytes are in Fortran (column-major) order.
    pub fortran_order: bool,
    pub data: ArrayData,
}

impl ArrayInfo {
    /// Elements, if the product of the shape fits in u64.
    pub fn count(&self) -> Option<u64> {
        self.shape
            .iter()
            .try_fold(1u64, |acc, &d| acc.checked_mul(d))
    }

    /// Bytes of the array's data (elements × itemsize), if it fits in u64.
    pub fn nbytes(&self) -> Option<u64> {
        self.count()?.checked_mul(self.dtype.itemsize())
    }
}

/// The `(module, name)` of the global a call calls.
pub fn callable_name<'g>(graph: &'g Graph<'_>, node: NodeId) -> Option<(&'g str, &'g str)> {
    let call = graph.call(node)?;
    let global = graph.global(call.callable)?;
    Some((&global.module, &global.name))
}

/// For an object built through copyreg's helpers — `copyreg._reconstructor(cls, base,
/// state)` (protocols 0 and 1) or `copyreg.__newobj__(cls, *args)` — the class node and the
/// index of the first real argument; `None` for any other call.
pub fn constructed_class(graph: &Graph<'_>, node: NodeId) -> Option<(NodeId, usize)> {
    let (module, name) = callable_name(graph, node)?;
    if !matches!(module, "copyreg" | "copy_reg") {
        return None;
    }
    let skip = match name {
        // (cls, base, state): base and state are construction details, not arguments.
        "_reconstructor" => 3,
        "__newobj__" | "__newobj_ex__" => 1,
        _ => return None,
    };
    let args = graph.tuple(graph.call(node)?.args)?;
    let class = *args.first()?;
    matches!(graph.node(class), Node::Global { .. }).then_some((class, skip))
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

fn is_joblib_wrapper(module: &str, name: &str) -> bool {
    name == "NumpyArrayWrapper" && JOBLIB_WRAPPER_MODULES.contains(&module)
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

/// How deep one recognised construction may wrap another (`bytearray(bytearray(…))`,
/// `_rebuild_parameter(_rebuild_parameter(…))`, a joblib object array holding a wrapper):
/// writers use one level; input controls the rest, and each level is a recursion.
const MAX_WRAPPING: u32 = 8;

/// Where the bytes of a buffer-like node are, relative to `stream`.
fn buffer_data(graph: &Graph<'_>, stream: &[u8], id: NodeId) -> ArrayData {
    buffer_data_within(graph, stream, id, 0)
}

fn buffer_data_within(graph: &Graph<'_>, stream: &[u8], id: NodeId, wrapped: u32) -> ArrayData {
    if wrapped > MAX_WRAPPING {
        return ArrayData::Unavailable(format!(
            "array data wrapped in more than {MAX_WRAPPING} bytearray calls"
        ));
    }
    match graph.node(id) {
        Node::Bytes(bytes, _) => match offset_in(stream, bytes) {
            Some(offset) => ArrayData::Stream {
                offset,
                len: bytes.len() as u64,
            },
            None => ArrayData::Decoded(id),
        },
        Node::Buffer { index, .. } => ArrayData::OutOfBand { index: *index },
        Node::Call(_) => match callable_name(graph, id) {
            // protocols 0–2 write bytes as _codecs.encode(text, 'latin1')
            Some(("_codecs", "encode")) => {
                let args = graph.call(id).and_then(|c| graph.tuple(c.args));
                match args {
                    Some([text, ..]) if matches!(graph.node(*text), Node::Str(_)) => {
                        ArrayData::Latin1(*text)
                    }
                    _ => ArrayData::Unavailable("_codecs.encode of something not text".into()),
                }
            }
            // protocols < 3 write empty bytes as bytes()
            Some(("builtins" | "__builtin__", "bytes"))
                if graph
                    .call(id)
                    .and_then(|c| graph.tuple(c.args))
                    .is_some_and(<[NodeId]>::is_empty) =>
            {
                ArrayData::Empty
            }
            // bytearray(b'...') in protocols < 5
            Some(("builtins" | "__builtin__", "bytearray")) => {
                match graph.call(id).and_then(|c| graph.tuple(c.args)) {
                    Some([inner, ..]) => buffer_data_within(graph, stream, *inner, wrapped + 1),
                    _ => ArrayData::Unavailable("bytearray() without data".into()),
                }
            }
            _ => ArrayData::Unavailable("array data is built by an unknown call".into()),
        },
        _ => ArrayData::Unavailable("array data is not bytes".into()),
    }
}

/// The offset of `part` inside `whole`, if it borrows from it.
pub fn offset_in(whole: &[u8], part: &[u8]) -> Option<usize> {
    let start = whole.as_ptr() as usize;
    let at = part.as_ptr() as usize;
    (at >= start && at + part.len() <= start + whole.len()).then(|| at - start)
}

/// Recognises the array built at `node`, if it is one. `stream` is the byte stream the
/// graph was read from (offsets of payloads are relative to it).
pub fn array_at(
    graph: &Graph<'_>,
    stream: &[u8],
    node: NodeId,
) -> Option<Result<ArrayInfo, String>> {
    array_within(graph, stream, node, 0)
}

fn array_within(
    graph: &Graph<'_>,
    stream: &[u8],
    node: NodeId,
    wrapped: u32,
) -> Option<Result<ArrayInfo, String>> {
    let (module, name) = callable_name(graph, node)?;
    let call = graph.call(node)?;
    let args = graph.tuple(call.args).unwrap_or(&[]);
    if numpy_core(module, "multiarray") && name == "_reconstruct" {
        return Some(reconstructed(graph, stream, call.state));
    }
    if numpy_core(module, "numeric") && name == "_frombuffer" {
        return Some(from_buffer(graph, stream, args));
    }
    if numpy_core(module, "multiarray") && name == "scalar" {
        return Some(scalar(graph, stream, args));
    }
    if wrapped > MAX_WRAPPING {
        return Some(Err(format!(
            "array construction wrapped more than {MAX_WRAPPING} deep"
        )));
    }
    if is_joblib_wrapper(module, name) {
        return Some(joblib_array(graph, stream, node, wrapped));
    }
    if module == "torch._utils" {
        return match name {
            "_rebuild_tensor_v2" | "_rebuild_tensor" => Some(tensor(graph, args)),
            "_rebuild_parameter" | "_rebuild_parameter_with_state" => {
                let inner = *args.first()?;
                array_within(graph, stream, inner, wrapped + 1)
            }
            _ => None,
        };
    }
    None
}

/// `_reconstruct(ndarray, (0,), b'b')` + BUILD `(version, shape, dtype, is_fortran, rawdata)`.
fn reconstructed(
    graph: &Graph<'_>,
    stream: &[u8],
    state: Option<NodeId>,
) -> Result<ArrayInfo, String> {
    let state = state.ok_or("ndarray without BUILD state")?;
    let items = graph.tuple(state).ok_or("ndarray state is not a tuple")?;
    let (shape, dtype, fortran, raw) = match items {
        [_, shape, dtype, fortran, raw] | [shape, dtype, fortran, raw] => {
            (*shape, *dtype, *fortran, *raw)
        }
        _ => return Err(format!("ndarray state has {} items", items.len())),
    };
    let dtype = dtype::parse(graph, dtype, 0)?;
    let data = if dtype.has_object() {
        ArrayData::Objects(raw)
    } else {
        buffer_data(graph, stream, raw)
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
fn from_buffer(graph: &Graph<'_>, stream: &[u8], args: &[NodeId]) -> Result<ArrayInfo, String> {
    let [buffer, dtype, shape, order] = args else {
        return Err(format!("_frombuffer with {} arguments", args.len()));
    };
    Ok(ArrayInfo {
        kind: ArrayKind::FromBuffer,
        dtype: dtype::parse(graph, *dtype, 0)?,
        shape: shape_of(graph, *shape)?,
        fortran_order: text_of(graph, *order).as_deref() == Some("F"),
        data: buffer_data(graph, stream, *buffer),
    })
}

/// `multiarray.scalar(dtype, bytes)`: a 0-d array.
fn scalar(graph: &Graph<'_>, stream: &[u8], args: &[NodeId]) -> Result<ArrayInfo, String> {
    let (dtype, raw) = match args {
        [dtype, raw, ..] => (*dtype, Some(*raw)),
        [dtype] => (*dtype, None),
        _ => return Err("scalar() without a dtype".into()),
    };
    let dtype = dtype::parse(graph, dtype, 0)?;
    let data = match raw {
        Some(raw) if dtype.has_object() => ArrayData::Objects(raw),
        Some(raw) => buffer_data(graph, stream, raw),
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

/// The state of a joblib `NumpyArrayWrapper`: shape, order ('C'/'F'), dtype, and whether
/// joblib ≥ 1.2 wrote a padding byte before the data.
fn joblib_state(graph: &Graph<'_>, node: NodeId) -> Result<(Vec<u64>, bool, DType, bool), String> {
    let call = graph.call(node).ok_or("not a call")?;
    let state = call.state.ok_or("NumpyArrayWrapper without state")?;
    let get = |key: &str| graph.dict_get(state, key);
    let shape = shape_of(
        graph,
        get("shape").ok_or("NumpyArrayWrapper without shape")?,
    )?;
    let fortran = get("order").and_then(|o| text_of(graph, o)).as_deref() == Some("F");
    let dtype = dtype::parse(
        graph,
        get("dtype").ok_or("NumpyArrayWrapper without dtype")?,
        0,
    )?;
    let padded = get("numpy_array_alignment_bytes").is_some_and(|v| graph.int(v).is_some());
    Ok((shape, fortran, dtype, padded))
}

/// The BUILD hook for joblib streams: after a `NumpyArrayWrapper` is built, the array's bytes
/// (or, for object arrays, a nested pickle) follow in the stream (joblib's
/// `NumpyArrayWrapper.write_array`/`read_array`).
pub fn joblib_hook(graph: &Graph<'_>, node: NodeId) -> Option<Result<Trailing, String>> {
    let (module, name) = callable_name(graph, node)?;
    if !is_joblib_wrapper(module, name) {
        return None;
    }
    Some(
        joblib_state(graph, node).and_then(|(shape, _, dtype, padded)| {
            if dtype.has_object() {
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
        }),
    )
}

fn joblib_array(
    graph: &Graph<'_>,
    stream: &[u8],
    node: NodeId,
    wrapped: u32,
) -> Result<ArrayInfo, String> {
    let (shape, fortran_order, dtype, _) = joblib_state(graph, node)?;
    let call = graph.call(node).ok_or("not a call")?;
    let data = match &call.trailing_payload {
        Some(Payload::Raw { offset, len }) => ArrayData::Stream {
            offset: *offset,
            len: *len,
        },
        Some(Payload::Pickle { root, .. }) => match array_within(graph, stream, *root, wrapped + 1)
        {
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

/// The element type of a torch storage class (`torch.FloatStorage`, …).
pub fn torch_storage_dtype(name: &str) -> Option<DType> {
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

/// `_rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, hooks, …)`
/// where `storage` is a persistent id `('storage', StorageClass, key, location, numel, …)`.
fn tensor(graph: &Graph<'_>, args: &[NodeId]) -> Result<ArrayInfo, String> {
    let [storage, offset, size, stride, ..] = args else {
        return Err(format!("tensor rebuilt with {} arguments", args.len()));
    };
    let Node::PersistentId { pid, .. } = graph.node(*storage) else {
        return Err("tensor storage is not a persistent reference".into());
    };
    let pid = graph.tuple(*pid).ok_or("storage id is not a tuple")?;
    let [tag, class, key, location, rest @ ..] = pid else {
        return Err("storage id is too short".into());
    };
    if text_of(graph, *tag).as_deref() != Some("storage") {
        return Err("persistent id is not a storage".into());
    }
    let class = graph.global(*class).ok_or("storage type is not a global")?;
    let dtype = torch_storage_dtype(&class.name)
        .ok_or_else(|| format!("unknown storage type {}.{}", class.module, class.name))?;
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
            storage_numel: rest.first().and_then(|&n| non_negative(graph, n)),
        },
    })
}

/// Whether a bytes node came from a Python 2 `str`.
pub fn is_py2_str(graph: &Graph<'_>, id: NodeId) -> bool {
    matches!(graph.node(id), Node::Bytes(_, BytesKind::Py2Str))
}
