//! `extract`: arrays and plain data out as `.npy` files, an `.npz`, JSON, or a torch
//! checkpoint's tensors as one `.safetensors` file (module `safetensors`, named
//! by `state_dict` keys from module `state_dict`), or the whole tree as files and a
//! `rebuild.py` that re-creates it (module `python`, code from `crate::rebuild`).
//!
//! Arrays are written while their input is alive (a visitor of the inspection) into
//! temporary files in the target folder: an array that is a plain range of the input file
//! (given to [`extract_mapped`]) is copied file to file and hashed beside the copy
//! (the private `copy` module); the others are streamed from the memory map or decompressed buffer.
//! Only when everything is written are the files renamed into place: on any error nothing
//! partial remains. Each `.npy` is byte-identical to what `numpy.save` writes for the array
//! numpy would load (header from `container::npy_header_bytes`, data in the same order).

mod copy;
mod csv;
mod frame;
mod json;
mod layout;
mod names;
mod parquet;
mod python;
mod safetensors;
mod state_dict;
mod table;

use std::borrow::Cow;
use std::fmt;
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::container::npy_header_bytes;
use crate::error::{Error, Result};
use crate::inspect::{inspect_with, Options, StreamView, Visitor};
use crate::lift::{ArrayData, DType};
use crate::limits::Limit;
use crate::machine::{Graph, Node};
use crate::report::{ArrayReport, Report};
pub(crate) use frame::frame_summaries;
pub use layout::Bfloat16As;
use layout::{npy_fortran_order, plan_write, Layout, Transform};
use names::Namer;
use state_dict::StateDictRoot;

/// The schema id of `index.json`.
pub const INDEX_SCHEMA: &str = "pklinspect.extract/1";

/// The default of [`ExtractOptions::max_bytes`] ([`Limit::Bytes`]): 16 GiB.
pub const DEFAULT_MAX_BYTES: u64 = 16 << 30;

/// Where and how to write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// One `.npy` per array and `index.json`, in a folder.
    Npy {
        /// The folder: created if missing; if it exists, it must be empty unless
        /// [`ExtractOptions::force`].
        dir: PathBuf,
    },
    /// One `.npz` (a zip of the same `.npy` files, as `numpy.savez` writes), and its index
    /// beside it as `OUT.npz.index.json` ([`npz_index_path`]): inside the archive it would
    /// be one more "array" to `np.load(f).items()`.
    Npz {
        /// The `.npz` file.
        file: PathBuf,
        /// Deflate the members, as `numpy.savez_compressed` does.
        compress: bool,
    },
    /// The object tree as JSON (`docs/json.md` in the repository describes it).
    Json {
        /// The JSON file; `None` returns the document in [`Extracted::json`].
        file: Option<PathBuf>,
        /// Arrays as `.npy` files beside the JSON file, referenced by name, instead of
        /// inline nested lists (needs `file`).
        arrays_as_files: bool,
    },
    /// A pickled pandas DataFrame or Series as one table file (`docs/frames.md`).
    Table {
        /// The output file.
        file: PathBuf,
        /// Parquet or CSV.
        format: TableFormat,
        /// The object path of the frame (`$["train"]`); the pickled object itself if `None`.
        path: Option<String>,
    },
    /// The tensors as one `.safetensors` file, named by their `state_dict` keys, with the
    /// checkpoint's other entries in its `__metadata__` (module `safetensors` of this
    /// folder in the repository describes the choices). [`Extracted::index`] lists each
    /// tensor with its key as `file`; its `sha256` is left empty (not computed: the copy
    /// runs in the kernel).
    Safetensors {
        /// The `.safetensors` file.
        file: PathBuf,
    },
    /// The arrays as `.npy`, the plain values as `params.json` and a `rebuild.py` whose
    /// `load()` re-creates the objects with their constructors (`docs/rebuild.md`); refused
    /// when the analysis flags anything that runs code.
    Python {
        /// The folder: created if missing; if it exists, it must be empty unless
        /// [`ExtractOptions::force`].
        dir: PathBuf,
    },
}

/// The file format of [`Target::Table`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableFormat {
    /// Parquet with pandas' schema metadata (what `DataFrame.to_parquet` writes).
    Parquet,
    /// CSV as `DataFrame.to_csv()` writes it.
    Csv,
}

/// Extraction settings. [`ExtractOptions::new`] gives the defaults for a target.
pub struct ExtractOptions {
    /// How the input is read: limits, known globals (extract reads what `explain` reads).
    pub inspect: Options,
    /// Where and how to write.
    pub target: Target,
    /// Write into a non-empty folder, or over an existing file; without it, either is a
    /// [`Refusal`].
    pub force: bool,
    /// How torch `bfloat16` tensors are written (numpy has no name for them).
    pub bfloat16: Bfloat16As,
    /// Refuse to write more than this many bytes of array data (or a larger JSON
    /// document): an error of kind [`LimitExceeded(Limit::Bytes)`](crate::ErrorKind).
    pub max_bytes: u64,
    /// Called with the number of array bytes written so far.
    pub progress: Option<Box<dyn Fn(u64)>>,
    /// Called, before the bytes are written, with how many array bytes will be written in
    /// all (so far: it grows when later streams or npz members bring more).
    pub progress_total: Option<Box<dyn Fn(u64)>>,
    /// The file whose bytes are given to [`extract`], when they are a map of a whole
    /// file: payloads stored as they are written are then copied by the kernel from the
    /// file instead of read through the map, which keeps memory flat on large inputs.
    pub source_file: Option<std::fs::File>,
}

impl ExtractOptions {
    /// Writes to `target` with the defaults: [`Options::default`], no `force`, bfloat16
    /// widened to float32, [`DEFAULT_MAX_BYTES`], no progress callback.
    pub fn new(target: Target) -> ExtractOptions {
        ExtractOptions {
            inspect: Options::default(),
            target,
            force: false,
            bfloat16: Bfloat16As::F4,
            max_bytes: DEFAULT_MAX_BYTES,
            progress: None,
            progress_total: None,
            source_file: None,
        }
    }
}

/// One array written (a row of `index.json`'s `arrays`).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct WrittenArray {
    /// The file written, relative to the output folder (or the member of the `.npz`).
    pub file: String,
    /// The array's object path in the input (`root['model']['weight']`).
    pub path: String,
    /// The dtype written; in `index.json`, numpy's `dtype.descr` (`"<f4"`, or a list of
    /// fields for a structured dtype).
    #[serde(serialize_with = "descr_json")]
    pub dtype: DType,
    /// The shape written.
    pub shape: Vec<u64>,
    /// sha256 of the array's C-order bytes, as written.
    pub sha256: String,
    /// The dtype in the input, where it differs from the one written (bfloat16 widened to
    /// float32); in `index.json`, its descr as a string.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "source_descr_json"
    )]
    pub source_dtype: Option<DType>,
}

/// `index.json`'s form of a dtype: numpy's `dtype.descr`.
fn descr_json<S: serde::Serializer>(dtype: &DType, s: S) -> std::result::Result<S::Ok, S::Error> {
    dtype.descr().to_json().serialize(s)
}

/// `index.json`'s form of a source dtype: its descr as a string (a structured descr as its
/// JSON text).
fn source_descr_json<S: serde::Serializer>(
    dtype: &Option<DType>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    match dtype.as_ref().map(|d| d.descr().to_json()) {
        Some(serde_json::Value::String(text)) => s.serialize_some(&text),
        Some(other) => s.serialize_some(&other.to_string()),
        None => s.serialize_none(),
    }
}

/// One array not written, and why.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct SkippedArray {
    /// The array's object path in the input.
    pub path: String,
    /// Why it was not written (its data is elsewhere, its dtype has objects, …).
    pub reason: String,
}

/// What `extract` did: `index.json` (schema [`INDEX_SCHEMA`]).
#[derive(Clone, Debug, Serialize)]
pub struct ExtractIndex {
    /// [`INDEX_SCHEMA`].
    pub schema: &'static str,
    /// The input's name, as given to [`extract`].
    pub source: String,
    /// The arrays written, in the order of the report.
    pub arrays: Vec<WrittenArray>,
    /// The arrays not written.
    pub skipped: Vec<SkippedArray>,
}

/// The result: the report of the input, the index, and for JSON to standard output the
/// document.
#[derive(Clone, Debug)]
pub struct Extracted {
    /// The report `explain` gives for the same input.
    pub report: Report,
    /// What was written (also written as `index.json`, except for JSON output).
    pub index: ExtractIndex,
    /// The JSON document, for [`Target::Json`] without a file; else `None`.
    pub json: Option<Vec<u8>>,
}

/// A temporary file in `dir` for an output, created with the mode numpy's files get
/// (0666 less the umask, which the OS applies at creation).
pub(crate) fn output_temp(dir: &Path) -> Result<tempfile::NamedTempFile> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(".pklinspect-");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    builder
        .tempfile_in(dir)
        .map_err(|e| io_error("create a file in", dir, e))
}

pub(crate) fn io_error(what: &str, path: &Path, e: io::Error) -> Error {
    let e = without_temp_path(e);
    Error::io(format!("cannot {what} {}: {e}", path.display()), e)
}

/// The operating system's error without the temporary file's name that `tempfile` adds to
/// it (`… at path "/out/.pklinspect-Xa3f"`): that name means nothing to the user, and the
/// message already names the folder or file being written.
pub(crate) fn without_temp_path(e: io::Error) -> io::Error {
    // tempfile wraps the OS error in a private type whose text ends with the path and whose
    // `source` is the OS error's (none): the text is all there is to go by.
    let Some(wrapped) = e.get_ref() else {
        return e;
    };
    let text = wrapped.to_string();
    match text.rfind(" at path \"") {
        Some(cut) => io::Error::new(e.kind(), text[..cut].to_string()),
        None => e,
    }
}

/// A failure while writing the npz: the zip writer's or the file's.
fn npz_error(e: impl fmt::Display + Into<io::Error>) -> Error {
    Error::io(format!("cannot write the npz: {e}"), e.into())
}

/// Hex of a digest.
fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        text.push(char::from(DIGITS[usize::from(b >> 4)]));
        text.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    text
}

/// The input file behind the bytes given to [`extract_mapped`]: arrays stored as a plain
/// range of it are copied file to file and hashed beside the copy ([`copy`]), never read
/// through the map.
#[derive(Clone, Copy)]
struct InputFile<'f> {
    file: &'f File,
    /// The map of `file`, from its first byte.
    bytes: &'f [u8],
}

impl InputFile<'_> {
    /// Where `len` bytes at `at` of `buffer` lie in the file, if `buffer` is part of the map
    /// (and not, say, a decompressed copy).
    fn range_of(&self, buffer: &[u8], at: usize, len: u64) -> Option<u64> {
        let base = self.bytes.as_ptr() as usize;
        let start = (buffer.as_ptr() as usize).checked_sub(base)?;
        let end = start.checked_add(buffer.len())?;
        if end > self.bytes.len() {
            return None;
        }
        let offset = u64::try_from(start.checked_add(at)?).ok()?;
        (offset.checked_add(len)? <= end as u64).then_some(offset)
    }
}

/// Writes the elements at `offsets` of `buffer`, transformed, to `out` (when given) and
/// into `hash` (when given), in chunks.
fn emit(
    buffer: &[u8],
    offsets: impl Iterator<Item = usize>,
    itemsize: usize,
    transform: Transform,
    mut out: Option<&mut dyn Write>,
    mut hash: Option<&mut Sha256>,
    progress: &mut dyn FnMut(u64),
) -> io::Result<()> {
    const CHUNK: usize = 1 << 20;
    let mut chunk = Vec::with_capacity(CHUNK + 32);
    let mut flush = |chunk: &mut Vec<u8>, out: &mut Option<&mut dyn Write>| -> io::Result<()> {
        if let Some(hash) = hash.as_deref_mut() {
            hash.update(&chunk[..]);
        }
        if let Some(out) = out.as_deref_mut() {
            out.write_all(chunk)?;
            progress(chunk.len() as u64);
        }
        chunk.clear();
        Ok(())
    };
    for at in offsets {
        transform.apply(&buffer[at..at + itemsize], &mut chunk);
        if chunk.len() >= CHUNK {
            flush(&mut chunk, &mut out)?;
        }
    }
    flush(&mut chunk, &mut out)
}

/// An array's bytes and layout, ready to write: `(buffer, layout, stored in Fortran order)`.
pub(crate) fn locate<'a>(
    graph: Option<&'a Graph<'_>>,
    view_bytes: &'a [u8],
    view: Option<&'a StreamView<'_, '_>>,
    array: &ArrayReport,
) -> std::result::Result<(Cow<'a, [u8]>, Layout), String> {
    if let Some(reason) = &array.unavailable {
        return Err(reason.clone());
    }
    let info = &array.info;
    let itemsize = usize::try_from(info.dtype.itemsize()).map_err(|_| "itemsize too large")?;
    if info.dtype.has_object() {
        return Err("object array: its elements are Python objects".into());
    }
    let contiguous = |offset: usize| {
        Layout::contiguous(offset, &info.shape, itemsize, info.fortran_order)
            .ok_or_else(|| "array shape overflows".to_string())
    };
    let (buffer, layout): (Cow<'a, [u8]>, Layout) = match &info.data {
        ArrayData::Stream { offset, .. } => (Cow::Borrowed(view_bytes), contiguous(*offset)?),
        ArrayData::Empty => (Cow::Borrowed(&[][..]), contiguous(0)?),
        ArrayData::Decoded(node) => match graph.map(|g| g.node(*node)) {
            Some(Node::Bytes(bytes, _)) => (Cow::Owned(bytes.to_vec()), contiguous(0)?),
            _ => return Err("array data is not available".into()),
        },
        ArrayData::Latin1(node) => match graph.map(|g| g.node(*node)) {
            Some(Node::Str(text)) => {
                let bytes: Option<Vec<u8>> = text
                    .chars()
                    .map(|c| u8::try_from(u32::from(c)).ok())
                    .collect();
                (
                    Cow::Owned(bytes.ok_or("array text is not latin-1")?),
                    contiguous(0)?,
                )
            }
            _ => return Err("array data is not available".into()),
        },
        ArrayData::Torch {
            key,
            storage_offset,
            stride,
            ..
        } => {
            let view = view.ok_or("torch storage outside a stream")?;
            let storage = view.storage(key)?;
            let strides = stride
                .iter()
                .map(|&s| {
                    u64::try_from(s)
                        .ok()
                        .and_then(|s| s.checked_mul(itemsize as u64))
                })
                .collect::<Option<Vec<u64>>>()
                .ok_or("negative or huge tensor stride")?;
            let offset = storage_offset
                .checked_mul(itemsize as u64)
                .and_then(|o| usize::try_from(o).ok())
                .ok_or("tensor offset overflows")?;
            let layout = Layout {
                offset,
                shape: info.shape.clone(),
                strides,
                itemsize,
            };
            (Cow::Borrowed(storage), layout)
        }
        ArrayData::OutOfBand { .. } => {
            return Err("out-of-band buffer (pickle protocol 5) not in the file".into())
        }
        ArrayData::Objects(_) => return Err("object array: its elements are Python objects".into()),
        ArrayData::Unavailable(reason) => return Err(reason.clone()),
    };
    layout.check(buffer.len())?;
    Ok((buffer, layout))
}

/// How an array is written: the dtype written, the element transform, and whether the data
/// is stored in Fortran order.
fn npy_plan(info: &crate::lift::ArrayInfo, bf16: Bfloat16As) -> (DType, Transform, bool) {
    let (dtype, transform) = plan_write(info, bf16);
    // Torch views are gathered into C order; numpy arrays keep the order they were stored
    // in, as np.save keeps a Fortran array's order.
    let fortran = !matches!(info.data, ArrayData::Torch { .. }) && npy_fortran_order(info);
    (dtype, transform, fortran)
}

/// The index entry (without file) of an array written as `dtype` with C-order bytes of
/// sha256 `digest`.
fn written(array: &ArrayReport, dtype: DType, digest: &[u8]) -> WrittenArray {
    let info = &array.info;
    WrittenArray {
        file: String::new(),
        path: array.path.clone(),
        source_dtype: (dtype != info.dtype).then(|| info.dtype.clone()),
        dtype,
        shape: info.shape.clone(),
        sha256: hex(digest),
    }
}

/// Writes one array as a complete `.npy` to `out`; returns the index entry (without file).
pub(crate) fn write_npy(
    array: &ArrayReport,
    buffer: &[u8],
    layout: &Layout,
    bf16: Bfloat16As,
    out: &mut dyn Write,
    progress: &mut dyn FnMut(u64),
) -> io::Result<WrittenArray> {
    let info = &array.info;
    let (dtype, transform, fortran) = npy_plan(info, bf16);
    out.write_all(&npy_header_bytes(&dtype.descr(), fortran, &info.shape))?;
    let mut hash = Sha256::new();
    let itemsize = layout.itemsize;
    if fortran {
        // Data as stored (column-major), then the C-order hash in a second pass.
        let count = layout.count().unwrap_or(0) as usize;
        let stored = (0..count).map(|i| layout.offset + i * itemsize);
        emit(
            buffer,
            stored,
            itemsize,
            transform,
            Some(out),
            None,
            progress,
        )?;
        emit(
            buffer,
            layout.c_order_offsets(),
            itemsize,
            transform,
            None,
            Some(&mut hash),
            &mut |_| {},
        )?;
    } else if transform == Transform::None && layout.is_c_contiguous() {
        let len = layout.nbytes().unwrap_or(0) as usize;
        for chunk in buffer[layout.offset..layout.offset + len].chunks(1 << 20) {
            hash.update(chunk);
            out.write_all(chunk)?;
            progress(chunk.len() as u64);
        }
    } else {
        emit(
            buffer,
            layout.c_order_offsets(),
            itemsize,
            transform,
            Some(out),
            Some(&mut hash),
            progress,
        )?;
    }
    Ok(written(array, dtype, &hash.finalize()))
}

/// Where an array's bytes lie in `input` when they are written unchanged (C order, no
/// transform) from a plain range of the file: `(offset, len)`.
fn file_range(
    array: &ArrayReport,
    buffer: &[u8],
    layout: &Layout,
    bf16: Bfloat16As,
    input: Option<InputFile<'_>>,
) -> Option<(u64, u64)> {
    let input = input?;
    let (_, transform, fortran) = npy_plan(&array.info, bf16);
    if fortran || transform != Transform::None || !layout.is_c_contiguous() {
        return None;
    }
    let len = layout.nbytes()?;
    Some((input.range_of(buffer, layout.offset, len)?, len))
}

/// Writes one array as a complete `.npy` to `out`, as [`write_npy`] does; an array that is a
/// plain range of `input` is copied from the file and hashed beside the copy ([`copy`]),
/// so its bytes are never read through the map.
fn write_npy_from(
    array: &ArrayReport,
    buffer: &[u8],
    layout: &Layout,
    bf16: Bfloat16As,
    input: Option<InputFile<'_>>,
    out: NpyOut<'_>,
    progress: &mut dyn FnMut(u64),
) -> io::Result<WrittenArray> {
    let (Some(input), Some((offset, len))) =
        (input, file_range(array, buffer, layout, bf16, input))
    else {
        return match out {
            NpyOut::File(file) => {
                let mut buffered = io::BufWriter::with_capacity(1 << 20, file);
                let entry = write_npy(array, buffer, layout, bf16, &mut buffered, progress)?;
                buffered.flush()?;
                Ok(entry)
            }
            NpyOut::Writer(out) => write_npy(array, buffer, layout, bf16, out, progress),
        };
    };
    let info = &array.info;
    let (dtype, _, _) = npy_plan(info, bf16);
    let header = npy_header_bytes(&dtype.descr(), false, &info.shape);
    let digest = match out {
        NpyOut::File(file) => {
            file.write_all(&header)?;
            copy::copy_to_file(input.file, offset, len, file, progress)?
        }
        NpyOut::Writer(out) => {
            out.write_all(&header)?;
            copy::copy_to_writer(input.file, offset, len, out, progress)?
        }
    };
    Ok(written(array, dtype, &digest))
}

/// Where [`write_npy_from`] writes: a file of its own (the kernel can copy into it) or a
/// writer (a member of the npz).
enum NpyOut<'w> {
    File(&'w mut File),
    Writer(&'w mut dyn Write),
}

/// Where finished `.npy` contents go.
enum Sink {
    /// Temporary files in the target folder, renamed at the end. Kept as paths, closed:
    /// a checkpoint can hold more arrays than a process may have files open.
    Folder {
        dir: PathBuf,
        files: Vec<(tempfile::TempPath, String)>,
    },
    /// Members of a zip being written to a temporary file.
    Zip {
        writer: Box<zip::ZipWriter<io::BufWriter<tempfile::NamedTempFile>>>,
        options: zip::write::SimpleFileOptions,
    },
}

struct ArrayWriter<'o> {
    options: &'o ExtractOptions,
    input: Option<InputFile<'o>>,
    namer: Namer,
    /// Where the current stream's `state_dict` is (files are named by its keys); `None`
    /// inside an npz member, whose arrays keep their path names.
    state_dict: Option<StateDictRoot>,
    /// Array bytes announced to [`ExtractOptions::progress_total`] so far.
    total: u64,
    sink: Sink,
    index: ExtractIndex,
    written_bytes: u64,
}

impl ArrayWriter<'_> {
    /// Tells the progress total about arrays about to be written.
    fn announce<'a>(&mut self, arrays: impl Iterator<Item = &'a ArrayReport>) {
        let more = arrays
            .filter(|a| a.unavailable.is_none())
            .filter_map(|a| a.info.nbytes())
            .fold(0u64, u64::saturating_add);
        self.total = self.total.saturating_add(more);
        if let Some(set_total) = &self.options.progress_total {
            set_total(self.total);
        }
    }

    /// The file name of an array: its `state_dict` key where it has one, else its path.
    fn file_name(&mut self, array: &ArrayReport) -> String {
        match self
            .state_dict
            .as_ref()
            .and_then(|s| s.name(&array.path, "$"))
        {
            Some(name) => self.namer.name_key(&name.key, "npy"),
            None => self.namer.name(&array.path, "npy"),
        }
    }

    fn budget(&mut self, array: &ArrayReport) -> Result<()> {
        let need = array.info.nbytes().unwrap_or(u64::MAX);
        self.written_bytes = self.written_bytes.saturating_add(need);
        if self.written_bytes > self.options.max_bytes {
            return Err(Limit::Bytes.exceeded(
                array.offset.unwrap_or(0),
                format_args!(
                    "extracting {} would write more than {} bytes of array data",
                    array.path, self.options.max_bytes
                ),
            ));
        }
        Ok(())
    }

    fn write(
        &mut self,
        array: &ArrayReport,
        located: std::result::Result<(Cow<'_, [u8]>, Layout), String>,
    ) -> Result<()> {
        let (buffer, layout) = match located {
            Ok(found) => found,
            Err(reason) => {
                self.index.skipped.push(SkippedArray {
                    path: array.path.clone(),
                    reason,
                });
                return Ok(());
            }
        };
        self.budget(array)?;
        let name = self.file_name(array);
        let base = self.written_bytes;
        let progress_fn = self.options.progress.as_ref();
        let mut done = 0u64;
        let mut progress = |n: u64| {
            done += n;
            if let Some(p) = progress_fn {
                p(base.saturating_sub(array.info.nbytes().unwrap_or(0)) + done);
            }
        };
        let mut entry = match &mut self.sink {
            Sink::Folder { dir, files } => {
                let mut temp = output_temp(dir)?;
                let entry = write_npy_from(
                    array,
                    &buffer,
                    &layout,
                    self.options.bfloat16,
                    self.input,
                    NpyOut::File(temp.as_file_mut()),
                    &mut progress,
                )
                .map_err(|e| io_error("write into", dir, e))?;
                files.push((temp.into_temp_path(), name.clone()));
                entry
            }
            Sink::Zip { writer, options } => {
                let big = array.info.nbytes().unwrap_or(u64::MAX) >= u32::MAX as u64 - 1024;
                writer
                    .start_file(name.as_str(), options.large_file(big))
                    .map_err(npz_error)?;
                write_npy_from(
                    array,
                    &buffer,
                    &layout,
                    self.options.bfloat16,
                    self.input,
                    NpyOut::Writer(writer.as_mut()),
                    &mut progress,
                )
                .map_err(npz_error)?
            }
        };
        entry.file = name;
        self.index.arrays.push(entry);
        Ok(())
    }
}

impl Visitor for ArrayWriter<'_> {
    fn stream(&mut self, view: &StreamView<'_, '_>) -> Result<()> {
        if let Some(e) = view.tar_error {
            return Err(e.clone());
        }
        let pickles = &view.pickles[view.object_pickles.clone()];
        let paths = pickles
            .iter()
            .flat_map(|p| p.arrays.iter().map(|a| a.path.as_str()));
        self.state_dict = (view.root_path == "$").then(|| StateDictRoot::find(paths, "$"));
        self.announce(pickles.iter().flat_map(|p| p.arrays.iter()));
        for pickle in pickles {
            for array in &pickle.arrays {
                let located = locate(Some(&view.stream.graph), view.bytes, Some(view), array);
                self.write(array, located)?;
            }
        }
        Ok(())
    }

    fn plain_array(&mut self, array: &ArrayReport, npy: &[u8]) -> Result<()> {
        self.state_dict = None;
        self.announce(std::iter::once(array));
        let located = locate(None, npy, None, array);
        self.write(array, located)
    }
}

/// An output that [`extract`] will not overwrite unless [`ExtractOptions::force`] is set.
///
/// The refusal is an [`ErrorKind::Io`](crate::ErrorKind::Io) error (it has no place in the input) whose message
/// says which output is there; [`Refusal::of`] tells it apart from other I/O errors, so a
/// caller can say how to override it (the CLI names its `--force` flag).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// The output folder exists and is not empty.
    FolderNotEmpty,
    /// The output file exists.
    FileExists,
}

impl Refusal {
    /// The refusal behind `error`, if it is one.
    pub fn of(error: &Error) -> Option<Refusal> {
        Refused::of(error).map(|r| r.refusal)
    }

    /// The output that is already there, if `error` is a refusal.
    pub fn path_of(error: &Error) -> Option<&Path> {
        Refused::of(error).map(|r| r.path.as_path())
    }
}

/// The `io::Error` payload of a [`Refusal`].
#[derive(Debug)]
struct Refused {
    refusal: Refusal,
    path: PathBuf,
    message: String,
}

impl Refused {
    fn of(error: &Error) -> Option<&Refused> {
        let io = std::error::Error::source(error)?.downcast_ref::<io::Error>()?;
        io.get_ref()?.downcast_ref::<Refused>()
    }
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Refused {}

/// An output that is already there: an I/O error (no offset in the input), as the
/// operating system would report it, and typed as a [`Refusal`].
fn exists(refusal: Refusal, path: &Path, message: String) -> Error {
    let kind = match refusal {
        Refusal::FolderNotEmpty => io::ErrorKind::DirectoryNotEmpty,
        Refusal::FileExists => io::ErrorKind::AlreadyExists,
    };
    Error::io(
        message.clone(),
        io::Error::new(
            kind,
            Refused {
                refusal,
                path: path.to_path_buf(),
                message,
            },
        ),
    )
}

/// Refuses a non-empty output folder unless `force`, creating nothing. Returns whether
/// the folder exists.
pub(crate) fn refuse_non_empty_dir(dir: &Path, force: bool) -> Result<bool> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() && !force {
                return Err(exists(
                    Refusal::FolderNotEmpty,
                    dir,
                    format!("{} exists and is not empty", dir.display()),
                ));
            }
            Ok(true)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(io_error("open", dir, e)),
    }
}

/// Prepares an output folder: refuses a non-empty one unless `force`. Returns whether we
/// created it (so a failure can remove it again).
fn prepare_dir(dir: &Path, force: bool) -> Result<bool> {
    if refuse_non_empty_dir(dir, force)? {
        return Ok(false);
    }
    std::fs::create_dir_all(dir).map_err(|e| io_error("create", dir, e))?;
    Ok(true)
}

/// Refuses an output file that is there already (a dangling symbolic link counts: writing
/// would replace it), unless `force`.
pub(crate) fn refuse_existing(file: &Path, force: bool) -> Result<()> {
    if !force && std::fs::symlink_metadata(file).is_ok() {
        return Err(exists(
            Refusal::FileExists,
            file,
            format!("{} exists", file.display()),
        ));
    }
    Ok(())
}

pub(crate) fn parent_of(file: &Path) -> PathBuf {
    match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Where the index of an `.npz` goes: beside it, `OUT.npz.index.json`.
pub fn npz_index_path(npz: &Path) -> PathBuf {
    let mut name = npz.as_os_str().to_owned();
    name.push(".index.json");
    PathBuf::from(name)
}

/// Extracts from the bytes of one input (`source` names it in the index).
pub fn extract(source: &str, bytes: &[u8], options: &ExtractOptions) -> Result<Extracted> {
    extract_from(source, bytes, None, options)
}

/// Extracts from `bytes`, which are the contents of `file` from its first byte (a memory
/// map of it, as [`Input`](crate::input::Input) makes): as [`extract`], but arrays stored as
/// plain ranges of the file are copied file to file by the kernel and hashed on a second
/// thread, at about the speed of `cp` and without reading them through the map (peak
/// memory stays bounded however large the arrays are).
pub fn extract_mapped(
    source: &str,
    bytes: &[u8],
    file: &File,
    options: &ExtractOptions,
) -> Result<Extracted> {
    extract_from(source, bytes, Some(InputFile { file, bytes }), options)
}

fn extract_from(
    source: &str,
    bytes: &[u8],
    input: Option<InputFile<'_>>,
    options: &ExtractOptions,
) -> Result<Extracted> {
    match &options.target {
        Target::Npy { dir } => {
            let created = prepare_dir(dir, options.force)?;
            let result = extract_arrays(
                source,
                bytes,
                input,
                options,
                Sink::Folder {
                    dir: dir.clone(),
                    files: Vec::new(),
                },
            );
            if result.is_err() && created {
                let _ = std::fs::remove_dir(dir);
            }
            result
        }
        Target::Npz { file, compress } => {
            refuse_existing(file, options.force)?;
            refuse_existing(&npz_index_path(file), options.force)?;
            let parent = parent_of(file);
            let temp = output_temp(&parent)?;
            let method = if *compress {
                zip::CompressionMethod::Deflated
            } else {
                zip::CompressionMethod::Stored
            };
            let zip_options = zip::write::SimpleFileOptions::default()
                .compression_method(method)
                .last_modified_time(zip::DateTime::default());
            let writer = Box::new(zip::ZipWriter::new(io::BufWriter::with_capacity(
                1 << 20,
                temp,
            )));
            extract_arrays(
                source,
                bytes,
                input,
                options,
                Sink::Zip {
                    writer,
                    options: zip_options,
                },
            )
        }
        Target::Json {
            file,
            arrays_as_files,
        } => json::extract_json(source, bytes, options, file.as_deref(), *arrays_as_files),
        Target::Table { file, format, path } => {
            table::extract_table(source, bytes, options, file, *format, path.as_deref())
        }
        Target::Safetensors { file } => {
            safetensors::extract_safetensors(source, bytes, options, file)
        }
        Target::Python { dir } => python::extract_python(source, bytes, options, dir),
    }
}

fn extract_arrays<'o>(
    source: &str,
    bytes: &[u8],
    input: Option<InputFile<'o>>,
    options: &'o ExtractOptions,
    sink: Sink,
) -> Result<Extracted> {
    let mut namer = Namer::default();
    namer.reserve("index.json");
    let mut writer = ArrayWriter {
        options,
        input,
        namer,
        state_dict: None,
        total: 0,
        sink,
        index: ExtractIndex {
            schema: INDEX_SCHEMA,
            source: source.to_string(),
            arrays: Vec::new(),
            skipped: Vec::new(),
        },
        written_bytes: 0,
    };
    let report = inspect_with(source, bytes, &options.inspect, &mut writer)?;
    let index_json = serde_json::to_vec_pretty(&writer.index).unwrap_or_default();
    match writer.sink {
        Sink::Folder { dir, files } => {
            let mut index_file = output_temp(&dir)?;
            index_file
                .write_all(&index_json)
                .and_then(|()| index_file.write_all(b"\n"))
                .map_err(|e| io_error("write into", &dir, e))?;
            // Everything is written: now, and only now, give the files their names.
            for (temp, name) in files
                .into_iter()
                .chain([(index_file.into_temp_path(), "index.json".to_string())])
            {
                let target = dir.join(&name);
                temp.persist(&target)
                    .map_err(|e| io_error("rename into", &target, e.error))?;
            }
        }
        Sink::Zip { writer, .. } => {
            let buffered = writer.finish().map_err(npz_error)?;
            let temp = buffered
                .into_inner()
                .map_err(|e| npz_error(e.into_error()))?;
            let Target::Npz { file, .. } = &options.target else {
                unreachable!("zip sink only for npz targets")
            };
            // The index goes beside the archive, not into it: `np.load(f).items()` then
            // yields only arrays (a torch user's `{k: torch.from_numpy(v) …}` works).
            let index_path = npz_index_path(file);
            let mut index_file = output_temp(&parent_of(file))?;
            index_file
                .write_all(&index_json)
                .and_then(|()| index_file.write_all(b"\n"))
                .map_err(|e| io_error("write", &index_path, e))?;
            temp.persist(file)
                .map_err(|e| io_error("rename into", file, e.error))?;
            index_file
                .persist(&index_path)
                .map_err(|e| io_error("rename into", &index_path, e.error))?;
        }
    }
    Ok(Extracted {
        report,
        index: writer.index,
        json: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn an_existing_output_is_a_typed_refusal_that_names_no_flag() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(dir.path().join("keep.txt"), "mine").unwrap_or_else(|e| panic!("{e}"));
        let e = prepare_dir(dir.path(), false).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Io);
        assert_eq!(Refusal::of(&e), Some(Refusal::FolderNotEmpty));
        assert!(e.to_string().ends_with("exists and is not empty"), "{e}");
        let file = dir.path().join("keep.txt");
        let e = refuse_existing(&file, false).unwrap_err();
        assert_eq!(Refusal::of(&e), Some(Refusal::FileExists));
        assert!(!e.to_string().contains("--"), "{e}");
        assert!(refuse_existing(&file, true).is_ok());
        let other = Error::io("cannot write", io::Error::other("disk full"));
        assert_eq!(Refusal::of(&other), None);
    }

    #[test]
    fn only_a_range_inside_the_map_is_copied_from_the_file() {
        let file = tempfile::tempfile().unwrap_or_else(|e| panic!("{e}"));
        let map = vec![7u8; 100];
        let input = InputFile {
            file: &file,
            bytes: &map,
        };
        assert_eq!(input.range_of(&map[10..60], 5, 45), Some(15));
        assert_eq!(input.range_of(&map[10..60], 5, 46), None);
        assert_eq!(input.range_of(&map, 0, 100), Some(0));
        let elsewhere = vec![7u8; 100];
        assert_eq!(input.range_of(&elsewhere, 0, 10), None);
        assert_eq!(input.range_of(&map[90..], usize::MAX, 1), None);
    }

    #[test]
    fn a_written_dtype_is_typed_and_its_index_row_is_numpys_descr() {
        use crate::lift::ByteOrder;
        let row = WrittenArray {
            file: "w.npy".into(),
            path: "root['w']".into(),
            dtype: DType::simple('f', 4, ByteOrder::Little),
            shape: vec![2],
            sha256: "00".into(),
            source_dtype: Some(DType::BFloat16 {
                byteorder: ByteOrder::Little,
            }),
        };
        let json = serde_json::to_value(&row).unwrap_or_default();
        assert_eq!(json["dtype"], "<f4");
        assert_eq!(
            json["source_dtype"],
            DType::BFloat16 {
                byteorder: ByteOrder::Little
            }
            .descr()
            .to_json()
        );
        let plain = WrittenArray {
            source_dtype: None,
            ..row
        };
        let json = serde_json::to_value(&plain).unwrap_or_default();
        assert!(json.get("source_dtype").is_none(), "{json}");
    }
}
