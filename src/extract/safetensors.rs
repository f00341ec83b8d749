//! `extract --to safetensors`: a torch checkpoint's tensors as one `.safetensors` file,
//! named by their `state_dict` keys ([`super::state_dict`]).
//!
//! The format (huggingface/safetensors, `docs` and `src/tensor.rs`): an 8-byte
//! little-endian header length, a JSON header (`{"name": {"dtype", "shape",
//! "data_offsets"}, "__metadata__": {str: str}}`, padded with spaces to 8 bytes), then the
//! tensors' bytes back to back, little-endian, C order, not overlapping. The header is built
//! with the `safetensors` crate's [`Metadata`] (which checks the offsets) and written first;
//! then each payload is copied from the input, so memory stays bounded whatever the sizes:
//!
//! * tensors sharing a storage (views, tied slices) get a copy each: safetensors forbids
//!   overlapping tensors, and a copy per tensor is what `torch.load` + `save_file` of
//!   `.contiguous()` tensors writes;
//! * views (offsets, strides, transposes) are gathered into C order;
//! * bytes stored big-endian are swapped; `bfloat16`, `float16` and torch's float8 formats
//!   keep their safetensors dtypes (`BF16`, `F16`, `F8_E4M3`, …); complex64 is `C64`;
//!   complex128, strings, datetimes, objects and structured dtypes have no safetensors
//!   dtype and are refused, naming the tensor;
//! * tensors in order of decreasing alignment, then by name, as the crate orders them.
//!
//! A whole pickled `nn.Module` is named from its module tree
//! ([`state_dict::module_state_dict`]): exactly the keys `state_dict()` gives.
//!
//! Non-tensor state goes into `__metadata__` (string values only): `"format": "pt"` (what
//! `transformers` checks), and for a checkpoint dict (`{"state_dict": …, "epoch": 3,
//! "hyper_parameters": …}`) every other entry as its `extract --to json` text, with arrays
//! as dtype and shape only. Tensors outside the `state_dict` entry (optimizer moments) are
//! not written; they are listed as skipped.

use std::collections::{HashMap, HashSet};
use std::io::{self, Seek, Write};
use std::path::Path;

use ::safetensors::tensor::{Dtype, Metadata, TensorInfo};

use super::layout::{Layout, Transform};
use super::state_dict::{self, StateDictRoot};
use super::{
    emit, io_error, locate, output_temp, parent_of, refuse_existing, ExtractIndex, ExtractOptions,
    Extracted, SkippedArray, WrittenArray, INDEX_SCHEMA,
};
use crate::error::{Error, ErrorKind, Result};
use crate::inspect::{inspect_with, StreamView, Visitor};
use crate::lift::{offset_in, ByteOrder, DType, Float8Format};
use crate::machine::NodeId;
use crate::report::ArrayReport;

/// The largest header the crate's reader accepts (`MAX_HEADER_SIZE` in its tensor.rs).
const MAX_HEADER: usize = 100_000_000;

/// The safetensors dtype of a tensor's elements, and how they are turned little-endian.
fn dtype_of(dtype: &DType) -> std::result::Result<(Dtype, Transform), String> {
    let (st, order, unit) = match dtype {
        DType::BFloat16 { byteorder } => (Dtype::BF16, *byteorder, 2),
        DType::Float8(format) => {
            let st = match format {
                Float8Format::E4M3Fn => Dtype::F8_E4M3,
                Float8Format::E4M3Fnuz => Dtype::F8_E4M3FNUZ,
                Float8Format::E5M2 => Dtype::F8_E5M2,
                Float8Format::E5M2Fnuz => Dtype::F8_E5M2FNUZ,
                Float8Format::E8M0Fnu => Dtype::F8_E8M0,
            };
            (st, ByteOrder::NotApplicable, 1)
        }
        DType::Scalar {
            kind,
            itemsize,
            byteorder,
            ..
        } => {
            let st = match (kind, itemsize) {
                ('b', 1) => Dtype::BOOL,
                ('u', 1) => Dtype::U8,
                ('i', 1) => Dtype::I8,
                ('i', 2) => Dtype::I16,
                ('u', 2) => Dtype::U16,
                ('f', 2) => Dtype::F16,
                ('i', 4) => Dtype::I32,
                ('u', 4) => Dtype::U32,
                ('f', 4) => Dtype::F32,
                ('c', 8) => Dtype::C64,
                ('f', 8) => Dtype::F64,
                ('i', 8) => Dtype::I64,
                ('u', 8) => Dtype::U64,
                _ => return Err(format!("dtype {} has no safetensors dtype", dtype.str())),
            };
            let unit = if *kind == 'c' { 4 } else { *itemsize as usize };
            (st, *byteorder, unit)
        }
        other => return Err(format!("dtype {} has no safetensors dtype", other.str())),
    };
    let transform = match order {
        ByteOrder::Big if unit > 1 => Transform::Swap(unit),
        _ => Transform::None,
    };
    Ok((st, transform))
}

/// One tensor to write, its bytes alive for the stream.
struct Planned<'v> {
    name: String,
    array: &'v ArrayReport,
    buffer: std::borrow::Cow<'v, [u8]>,
    layout: Layout,
    dtype: Dtype,
    transform: Transform,
}

struct SafetensorsWriter<'o> {
    options: &'o ExtractOptions,
    file: &'o Path,
    index: ExtractIndex,
    /// The finished file, renamed into place once the inspection succeeded.
    done: Option<tempfile::NamedTempFile>,
}

/// An error about one tensor: at its offset, naming its path.
fn tensor_error(array: &ArrayReport, reason: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorKind::Unsupported,
        array.offset.unwrap_or(0),
        format!("cannot write {} to safetensors: {reason}", array.path),
    )
}

impl SafetensorsWriter<'_> {
    /// The stream's tensors with their names (each array report with its `state_dict`
    /// key), those outside the `state_dict` listed as skipped.
    fn names<'v>(
        &mut self,
        view: &'v StreamView<'_, '_>,
    ) -> Result<Vec<(String, &'v ArrayReport)>> {
        let pickles = &view.pickles[view.object_pickles.clone()];
        let arrays = || pickles.iter().flat_map(|p| p.arrays.iter());
        let graph = &view.stream.graph;
        let roots = view
            .object_pickles
            .clone()
            .filter_map(|i| view.stream.pickles.get(i));
        let modules: Vec<_> = roots
            .filter_map(|p| state_dict::module_state_dict(graph, view.lifted, p.root))
            .collect();
        if let [entries] = &modules[..] {
            // A whole nn.Module: its state_dict() from the module tree.
            let mut by_node: HashMap<NodeId, &ArrayReport> = HashMap::new();
            for array in arrays() {
                if let Some(node) = array.node {
                    by_node.entry(node).or_insert(array);
                }
            }
            let mut named = Vec::with_capacity(entries.len());
            let mut used = HashSet::new();
            for (key, node) in entries {
                let Some(array) = by_node.get(node) else {
                    return Err(Error::new(
                        ErrorKind::Unsupported,
                        0,
                        format!("cannot write {key:?} to safetensors: it is not a tensor pklinspect reads"),
                    ));
                };
                used.insert(*node);
                named.push((key.clone(), *array));
            }
            for array in arrays().filter(|a| a.node.is_none_or(|n| !used.contains(&n))) {
                self.index.skipped.push(SkippedArray {
                    path: array.path.clone(),
                    reason: "not in the module's state_dict (a non-persistent buffer or a plain attribute)".into(),
                });
            }
            return Ok(named);
        }
        let root = StateDictRoot::find(arrays().map(|a| a.path.as_str()), view.root_path);
        let mut named = Vec::new();
        for array in arrays() {
            let name = root
                .name(&array.path, view.root_path)
                .ok_or_else(|| tensor_error(array, "its object path was cut short"))?;
            if root.entry.is_some() && !name.in_state_dict {
                self.index.skipped.push(SkippedArray {
                    path: array.path.clone(),
                    reason: "outside the state_dict entry: not written to safetensors".into(),
                });
                continue;
            }
            named.push((name.key, array));
        }
        Ok(named)
    }

    /// The tensors to write: located, typed, in the file's order.
    fn plan<'v>(&mut self, view: &'v StreamView<'_, '_>) -> Result<Vec<Planned<'v>>> {
        let mut planned = Vec::new();
        let mut seen: HashMap<String, &str> = HashMap::new();
        for (name, array) in self.names(view)? {
            // The header's own key: a tensor under it would make the header invalid JSON.
            if name == "__metadata__" {
                return Err(tensor_error(
                    array,
                    "its name is the header key safetensors reserves",
                ));
            }
            if let Some(first) = seen.insert(name.clone(), &array.path) {
                return Err(tensor_error(
                    array,
                    format_args!("{first} has the same name {name:?}"),
                ));
            }
            let (buffer, layout) = locate(Some(&view.stream.graph), view.bytes, Some(view), array)
                .map_err(|reason| tensor_error(array, reason))?;
            let (dtype, transform) =
                dtype_of(&array.info.dtype).map_err(|reason| tensor_error(array, reason))?;
            planned.push(Planned {
                name,
                array,
                buffer,
                layout,
                dtype,
                transform,
            });
        }
        // The crate's order: decreasing alignment, then name (every tensor stays aligned).
        planned.sort_by(|a, b| b.dtype.cmp(&a.dtype).then_with(|| a.name.cmp(&b.name)));
        Ok(planned)
    }

    /// `__metadata__`: the format, and a checkpoint dict's other entries as JSON text.
    fn metadata(&self, view: &StreamView<'_, '_>) -> Result<HashMap<String, String>> {
        let mut metadata = HashMap::from([("format".to_string(), "pt".to_string())]);
        let pickles = &view.pickles[view.object_pickles.clone()];
        let root = StateDictRoot::find(
            pickles
                .iter()
                .flat_map(|p| p.arrays.iter().map(|a| a.path.as_str())),
            view.root_path,
        );
        let Some(entry) = root.entry else {
            return Ok(metadata);
        };
        let graph = &view.stream.graph;
        for index in view.object_pickles.clone() {
            let Some(pickle) = view.stream.pickles.get(index) else {
                continue;
            };
            for &(key, value) in graph.dict(pickle.root).unwrap_or_default() {
                let Some(key) = graph.str(key) else { continue };
                if key == entry || key == "format" {
                    continue;
                }
                let text = match graph.str(value) {
                    Some(text) => text.to_string(),
                    None => {
                        let mut path = view.root_path.to_string();
                        crate::analysis::path::push_json_key(key, &mut path);
                        super::json::render_described(view, self.options, value, &path)?
                    }
                };
                metadata.insert(key.to_string(), text);
            }
        }
        Ok(metadata)
    }

    /// The header: its length (8 bytes, little-endian) and the JSON, padded to 8 bytes.
    fn header(
        &self,
        planned: &[Planned<'_>],
        metadata: HashMap<String, String>,
        at: u64,
    ) -> Result<Vec<u8>> {
        let mut infos = Vec::with_capacity(planned.len());
        let mut offset = 0usize;
        for tensor in planned {
            let shape = tensor
                .array
                .info
                .shape
                .iter()
                .map(|&d| usize::try_from(d).ok())
                .collect::<Option<Vec<usize>>>();
            let len = tensor.layout.nbytes().and_then(|n| usize::try_from(n).ok());
            let (Some(shape), Some(end)) = (shape, len.and_then(|n| offset.checked_add(n))) else {
                return Err(tensor_error(tensor.array, "its size overflows"));
            };
            infos.push((
                tensor.name.clone(),
                TensorInfo {
                    dtype: tensor.dtype,
                    shape,
                    data_offsets: (offset, end),
                },
            ));
            offset = end;
        }
        let metadata = Metadata::new(Some(metadata.into_iter().collect()), infos)
            .map_err(|e| Error::new(ErrorKind::Unsupported, at, format!("safetensors: {e}")))?;
        let mut json = serde_json::to_vec(&metadata).unwrap_or_default();
        json.resize(json.len().next_multiple_of(8), b' ');
        if json.len() > MAX_HEADER {
            return Err(Error::new(
                ErrorKind::Unsupported,
                at,
                format!(
                    "the safetensors header would be {} bytes, more than readers accept ({MAX_HEADER})",
                    json.len()
                ),
            ));
        }
        let mut header = (json.len() as u64).to_le_bytes().to_vec();
        header.extend_from_slice(&json);
        Ok(header)
    }

    /// Writes the whole file for one stream into a temporary file.
    fn write(&mut self, view: &StreamView<'_, '_>) -> Result<()> {
        let planned = self.plan(view)?;
        let total = planned.iter().try_fold(0u64, |sum, t| {
            sum.checked_add(t.layout.nbytes().unwrap_or(u64::MAX))
        });
        let total = total.unwrap_or(u64::MAX);
        if total > self.options.max_bytes {
            return Err(crate::limits::Limit::Bytes.exceeded(
                0,
                format_args!(
                    "the tensors hold {total} bytes, more than {} bytes of array data",
                    self.options.max_bytes
                ),
            ));
        }
        if let Some(set_total) = &self.options.progress_total {
            set_total(total);
        }
        let header = self.header(&planned, self.metadata(view)?, 0)?;
        let dir = parent_of(self.file);
        let cannot = |e: io::Error| io_error("write into", &dir, e);
        let mut out = io::BufWriter::with_capacity(1 << 20, output_temp(&dir)?);
        out.write_all(&header).map_err(cannot)?;
        let mut done = 0u64;
        for tensor in &planned {
            let mut progress = |n: u64| {
                done = done.saturating_add(n);
                if let Some(p) = &self.options.progress {
                    p(done);
                }
            };
            write_tensor(view, self.options, tensor, &mut out, &mut progress).map_err(cannot)?;
            self.index.arrays.push(WrittenArray {
                file: tensor.name.clone(),
                path: tensor.array.path.clone(),
                dtype: tensor.array.info.dtype.with_byteorder(ByteOrder::Little),
                shape: tensor.array.info.shape.clone(),
                sha256: String::new(),
                source_dtype: None,
            });
        }
        let temp = out.into_inner().map_err(|e| cannot(e.into_error()))?;
        self.done = Some(temp);
        Ok(())
    }
}

/// Copies one tensor's bytes in C order, little-endian.
fn write_tensor(
    view: &StreamView<'_, '_>,
    options: &ExtractOptions,
    tensor: &Planned<'_>,
    out: &mut io::BufWriter<tempfile::NamedTempFile>,
    progress: &mut dyn FnMut(u64),
) -> io::Result<()> {
    let layout = &tensor.layout;
    if tensor.transform != Transform::None || !layout.is_c_contiguous() {
        return emit(
            &tensor.buffer,
            layout.c_order_offsets(),
            layout.itemsize,
            tensor.transform,
            Some(out),
            None,
            progress,
        );
    }
    let len = usize::try_from(layout.nbytes().unwrap_or(0)).map_err(io::Error::other)?;
    let end = layout
        .offset
        .checked_add(len)
        .ok_or_else(|| io::Error::other("overflow"))?;
    let bytes = tensor
        .buffer
        .get(layout.offset..end)
        .ok_or_else(|| io::Error::other("tensor outside its buffer"))?;
    copy_bytes(
        view.input,
        bytes,
        options.source_file.as_ref(),
        out,
        progress,
    )
}

/// Copies `bytes` to `out`. When they lie in `input` and `input` is the mapped `file`, the
/// kernel copies them from the file (`copy_file_range`): pages of the map are never
/// touched, so memory stays flat however large the checkpoint. Otherwise from memory.
///
/// One call, easy to swap for the shared copy routine of `extract --to npy`.
fn copy_bytes(
    input: &[u8],
    bytes: &[u8],
    file: Option<&std::fs::File>,
    out: &mut io::BufWriter<tempfile::NamedTempFile>,
    progress: &mut dyn FnMut(u64),
) -> io::Result<()> {
    if let (Some(mut file), Some(at)) = (file, offset_in(input, bytes)) {
        out.flush()?;
        file.seek(io::SeekFrom::Start(at as u64))?;
        let want = bytes.len() as u64;
        let mut source = io::Read::take(file, want);
        let copied = io::copy(&mut source, out.get_mut().as_file_mut())?;
        if copied != want {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("the input file ended {} bytes early", want - copied),
            ));
        }
        progress(copied);
        return Ok(());
    }
    for chunk in bytes.chunks(1 << 20) {
        out.write_all(chunk)?;
        progress(chunk.len() as u64);
    }
    Ok(())
}

impl Visitor for SafetensorsWriter<'_> {
    fn stream(&mut self, view: &StreamView<'_, '_>) -> Result<()> {
        if let Some(e) = view.tar_error {
            return Err(e.clone());
        }
        let has_arrays = view.pickles[view.object_pickles.clone()]
            .iter()
            .any(|p| !p.arrays.is_empty());
        if !has_arrays {
            return Ok(());
        }
        if self.done.is_some() {
            return Err(Error::new(
                ErrorKind::Unsupported,
                0,
                "the input has tensors in more than one pickle stream; a safetensors file holds one state_dict",
            ));
        }
        self.write(view)
    }

    fn plain_array(&mut self, array: &ArrayReport, _npy: &[u8]) -> Result<()> {
        Err(tensor_error(
            array,
            "safetensors output reads torch checkpoints and pickles; write plain .npy/.npz arrays with --to npz",
        ))
    }
}

/// Extracts the tensors of `bytes` into the safetensors file `file`.
pub(super) fn extract_safetensors(
    source: &str,
    bytes: &[u8],
    options: &ExtractOptions,
    file: &Path,
) -> Result<Extracted> {
    refuse_existing(file, options.force)?;
    let mut writer = SafetensorsWriter {
        options,
        file,
        index: ExtractIndex {
            schema: INDEX_SCHEMA,
            source: source.to_string(),
            arrays: Vec::new(),
            skipped: Vec::new(),
        },
        done: None,
    };
    let report = inspect_with(source, bytes, &options.inspect, &mut writer)?;
    let temp = writer.done.take().ok_or_else(|| {
        Error::new(
            ErrorKind::Unsupported,
            0,
            "the input holds no tensors or arrays to write to safetensors",
        )
    })?;
    temp.persist(file)
        .map_err(|e| io_error("rename into", file, e.error))?;
    Ok(Extracted {
        report,
        index: writer.index,
        json: None,
    })
}
