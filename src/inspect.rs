//! One input, end to end: container → pickle streams → symbolic machine → walk →
//! classified imports, arrays, findings and a verdict, as an owned [`Report`].

use std::collections::HashMap;

use crate::analysis::object_paths::{object_paths, ObjectPaths};
use crate::classify::{Category, KnownGlobals, Verdict};
use crate::container::{self, ContainerKind};
use crate::error::{Error, ErrorKind, Result};
use crate::lift::{self, ArrayData, ArrayInfo, Lifted};
use crate::limits::Limits;
use crate::machine::{self, Graph, Node, NodeId, Stream};
use crate::pytext;
use crate::report::{ArrayReport, Finding, ImportReport, PickleReport, PortableHint, Report};
use crate::rules::{Rule, Severity};

/// How to inspect.
pub struct Options {
    pub limits: Limits,
    pub known: KnownGlobals,
    /// Work out how to rebuild objects from plain data ([`Report::portable_hints`]), which
    /// `explain` shows and `lint` does not.
    pub portable_hints: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            limits: Limits::default(),
            known: KnownGlobals::builtin(),
            portable_hints: true,
        }
    }
}

/// The `numpy._core` modules numpy 1.26 provides as stand-ins for numpy 2 pickles.
const NUMPY_126_CORE_SHIMS: &[&str] = &[
    "numpy._core._dtype",
    "numpy._core._dtype_ctypes",
    "numpy._core._internal",
    "numpy._core._multiarray_umath",
    "numpy._core.multiarray",
    "numpy._core.umath",
];

/// The magic number torch's legacy format pickles first (`torch/serialization.py`).
const TORCH_LEGACY_MAGIC: u128 = 0x1950a86a20f9469cfc6c;

/// Where a torch storage's bytes can be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StorageBytes {
    /// At this offset of the stream's own bytes (legacy files: after the pickles).
    Stream(u64),
    /// At this offset of the input file (zip members, stored uncompressed as torch writes them).
    Input(u64),
    /// Not readable in place (the reason).
    Missing(String),
}

/// A torch storage: the member holding it (zip), its offset there as reported, its
/// length, and where to read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StorageRef {
    pub member: Option<String>,
    pub offset: u64,
    pub len: u64,
    pub bytes: StorageBytes,
}

/// Torch storages by key.
pub type StorageMap = HashMap<String, StorageRef>;

/// What a [`Visitor`] sees of one pickle stream while its bytes are alive.
pub struct StreamView<'a, 'd> {
    /// The whole input (torch zip storages are read from it).
    pub input: &'a [u8],
    /// The decoded stream.
    pub bytes: &'d [u8],
    pub member: Option<&'a str>,
    /// `$`, or `$["member"]` inside an npz.
    pub root_path: &'a str,
    pub stream: &'a Stream<'d>,
    /// The reports of this stream's pickles, in order; their arrays carry the construction.
    pub pickles: &'a [PickleReport],
    /// Which of them hold the object a loader returns (torch-legacy: only the fourth).
    pub object_pickles: std::ops::Range<usize>,
    pub storages: Option<&'a StorageMap>,
    /// The stream's lift pass: its arrays and plain values by node id.
    pub lifted: &'a Lifted,
}

impl StreamView<'_, '_> {
    /// The bytes of a torch storage.
    pub fn storage(&self, key: &str) -> std::result::Result<&[u8], String> {
        let storage = self
            .storages
            .and_then(|s| s.get(key))
            .ok_or_else(|| format!("storage {key:?} is not in the file"))?;
        let (whole, offset) = match &storage.bytes {
            StorageBytes::Stream(o) => (self.bytes, *o),
            StorageBytes::Input(o) => (self.input, *o),
            StorageBytes::Missing(reason) => return Err(reason.clone()),
        };
        usize::try_from(offset)
            .ok()
            .zip(usize::try_from(storage.len).ok())
            .and_then(|(o, l)| whole.get(o..o.checked_add(l)?))
            .ok_or_else(|| format!("storage {key:?} lies outside the file"))
    }
}

/// Sees the streams and plain arrays of an input while they are alive (used by `extract`).
pub trait Visitor {
    /// One pickle stream, after its reports were built.
    fn stream(&mut self, _view: &StreamView<'_, '_>) -> Result<()> {
        Ok(())
    }

    /// An array outside any pickle (a plain `.npy`, an npz member), with the bytes of the
    /// `.npy` holding it (its `offset` is into them).
    fn plain_array(&mut self, _array: &ArrayReport, _npy: &[u8]) -> Result<()> {
        Ok(())
    }
}

/// A visitor that looks at nothing.
pub struct NoVisitor;

impl Visitor for NoVisitor {}

/// Inspects the bytes of one input. Errors are malformed or truncated input, or a limit;
/// they carry the byte offset (in the decoded stream or member the message names).
pub fn inspect(file: &str, bytes: &[u8], options: &Options) -> Result<Report> {
    inspect_with(file, bytes, options, &mut NoVisitor)
}

/// [`inspect`], showing each stream and plain array to `visitor` while it is alive.
pub fn inspect_with(
    file: &str,
    bytes: &[u8],
    options: &Options,
    visitor: &mut dyn Visitor,
) -> Result<Report> {
    let mut builder = Builder {
        input: bytes,
        visitor,
        options,
        report: Report {
            file: file.to_string(),
            container: String::new(),
            compression: None,
            size: bytes.len() as u64,
            verdict: Verdict::Portable,
            pickles: Vec::new(),
            arrays: Vec::new(),
            findings: Vec::new(),
            portable_hints: Vec::new(),
        },
        categories: Vec::new(),
        joblib: false,
    };
    let kind = container::sniff(bytes);
    match kind {
        ContainerKind::Pickle => builder.raw(bytes, None)?,
        ContainerKind::Gzip
        | ContainerKind::Bz2
        | ContainerKind::Xz
        | ContainerKind::Lzma
        | ContainerKind::Zlib
        | ContainerKind::Lz4 => {
            let decoded = container::decompress(kind, bytes, options.limits.max_decompressed)?;
            builder.raw(&decoded, Some(kind.as_str()))?;
        }
        ContainerKind::TorchZip => builder.torch_zip(bytes)?,
        ContainerKind::Npy => builder.npy(bytes, None, "$")?,
        ContainerKind::Npz => builder.npz(bytes)?,
        ContainerKind::Zip => {
            return Err(Error::new(
                ErrorKind::Unsupported,
                0,
                "a zip archive that is neither a torch checkpoint (no */data.pkl) nor an .npz \
                 (members not all .npy)",
            ))
        }
    }
    Ok(builder.finish())
}

struct Builder<'o> {
    input: &'o [u8],
    visitor: &'o mut dyn Visitor,
    options: &'o Options,
    report: Report,
    categories: Vec<Category>,
    joblib: bool,
}

/// Context for the arrays of one stream.
struct StreamContext<'a> {
    member: Option<&'a str>,
    root_path: &'a str,
    storages: Option<&'a StorageMap>,
    /// Storage bytes are big-endian (torch `byteorder` file says "big").
    big_endian: bool,
    /// PERSID is expected (torch) and is not worth a finding.
    persistent_ids_expected: bool,
    /// Which pickles of the stream hold the loaded object (all but torch-legacy's format
    /// pickles).
    object_pickles: Option<std::ops::Range<usize>>,
}

fn in_member(e: Error, member: Option<&str>) -> Error {
    match member {
        Some(m) => Error::new(
            e.kind(),
            e.offset(),
            format!("{} (in member {m})", e.message()),
        ),
        None => e,
    }
}

impl Builder<'_> {
    fn raw(&mut self, bytes: &[u8], compression: Option<&str>) -> Result<()> {
        let stream = self.run(bytes, 0, None)?;
        if let Some(storages) = self.legacy_torch_storages(bytes, &stream)? {
            self.report.container = "torch-legacy".to_string();
            let ctx = StreamContext {
                member: None,
                root_path: "$",
                storages: Some(&storages),
                big_endian: false,
                persistent_ids_expected: true,
                object_pickles: Some(3..4),
            };
            // The storages are the data after the pickles, not trailing garbage.
            self.add_stream(bytes, &stream, &ctx, false)?;
            return Ok(());
        }
        let ctx = StreamContext {
            member: None,
            root_path: "$",
            storages: None,
            big_endian: false,
            persistent_ids_expected: false,
            object_pickles: None,
        };
        self.add_stream(bytes, &stream, &ctx, true)?;
        self.report.container = if self.joblib {
            self.report.compression = compression.map(str::to_string);
            "joblib".to_string()
        } else {
            compression.unwrap_or("pickle").to_string()
        };
        Ok(())
    }

    fn run<'d>(&self, bytes: &'d [u8], start: usize, member: Option<&str>) -> Result<Stream<'d>> {
        lift::run_stream(bytes, start, &self.options.limits).map_err(|e| in_member(e, member))
    }

    /// A legacy torch file is five pickles (magic number, protocol version, system info,
    /// the object, the storage keys) followed by the storages.
    fn legacy_torch_storages(
        &self,
        bytes: &[u8],
        stream: &Stream<'_>,
    ) -> Result<Option<StorageMap>> {
        let Some(first) = stream.pickles.first() else {
            return Ok(None);
        };
        let magic = match stream.graph.node(first.root) {
            Node::Int(v) => u128::try_from(*v).ok(),
            Node::BigInt(v) => u128::try_from(v.as_ref()).ok(),
            _ => None,
        };
        if magic != Some(TORCH_LEGACY_MAGIC) || stream.pickles.len() < 5 {
            return Ok(None);
        }
        let main = &stream.pickles[3];
        let keys_pickle = &stream.pickles[4];
        let Node::List(keys) = stream.graph.node(keys_pickle.root) else {
            return Ok(None);
        };
        // Element sizes of each storage, from the tensors that use it.
        let mut sizes: HashMap<String, u64> = HashMap::new();
        let lifted = lift::lift_stream(&stream.graph, bytes);
        let w = object_paths(&stream.graph, &lifted, main.root, "$", &mut Vec::new());
        for array in &w.arrays {
            if let Ok(ArrayInfo {
                data: ArrayData::Torch { key, .. },
                dtype,
                ..
            }) = &array.info
            {
                sizes.insert(key.clone(), dtype.itemsize());
            }
        }
        let mut ordered = Vec::with_capacity(keys.len());
        for &k in keys {
            let key = match stream.graph.node(k) {
                Node::Str(s) => s.to_string(),
                _ => return Ok(None),
            };
            let size = sizes.get(&key).copied().unwrap_or(1);
            ordered.push((key, size));
        }
        let storages = container::legacy_storages(bytes, keys_pickle.end, &ordered)?;
        Ok(Some(
            storages
                .into_iter()
                .map(|s| {
                    let storage = StorageRef {
                        member: None,
                        offset: s.offset as u64,
                        len: s.len,
                        bytes: StorageBytes::Stream(s.offset as u64),
                    };
                    (s.key, storage)
                })
                .collect(),
        ))
    }

    fn torch_zip(&mut self, bytes: &[u8]) -> Result<()> {
        let members =
            container::zip_members_with_limit(bytes, self.options.limits.max_zip_members)?;
        let layout = container::torch_zip(bytes, &members)?;
        let data_pkl = container::member_bytes(
            bytes,
            &layout.data_pkl,
            self.options.limits.max_decompressed,
        )?;
        let mut storages = StorageMap::new();
        for (key, member) in &layout.storages {
            // torch stores storages uncompressed: read them in place.
            let in_place = if member.stored {
                StorageBytes::Input(member.data_offset)
            } else {
                StorageBytes::Missing(format!("storage member {} is compressed", member.name))
            };
            storages.insert(
                key.clone(),
                StorageRef {
                    member: Some(member.name.clone()),
                    offset: 0,
                    len: member.size,
                    bytes: in_place,
                },
            );
        }
        let member = layout.data_pkl.name.clone();
        let stream = self.run(&data_pkl, 0, Some(&member))?;
        let ctx = StreamContext {
            member: Some(&member),
            root_path: "$",
            storages: Some(&storages),
            big_endian: layout.byteorder.as_deref() == Some("big"),
            persistent_ids_expected: true,
            object_pickles: None,
        };
        self.add_stream(&data_pkl, &stream, &ctx, true)?;
        // Other pickles in the archive (TorchScript's constants.pkl, or one planted beside
        // data.pkl): torch.load does not run them, torch.jit.load may; inspect them alike.
        for member in &layout.other_pickles {
            let bytes =
                container::member_bytes(bytes, member, self.options.limits.max_decompressed)?;
            let stream = self.run(&bytes, 0, Some(&member.name))?;
            let ctx = StreamContext {
                member: Some(&member.name),
                root_path: "$",
                storages: Some(&storages),
                big_endian: layout.byteorder.as_deref() == Some("big"),
                persistent_ids_expected: true,
                object_pickles: Some(0..0),
            };
            self.add_stream(&bytes, &stream, &ctx, true)?;
        }
        self.report.container = "torch-zip".to_string();
        Ok(())
    }

    fn npy(&mut self, bytes: &[u8], member: Option<&str>, root_path: &str) -> Result<()> {
        let header = container::parse_npy_header(bytes).map_err(|e| in_member(e, member))?;
        let dtype = npy_dtype(&header.descr);
        match dtype {
            Some(dtype) if !dtype.has_object() => {
                let info = ArrayInfo {
                    kind: lift::ArrayKind::Npy,
                    dtype,
                    shape: header.shape.clone(),
                    fortran_order: header.fortran_order,
                    data: ArrayData::Stream {
                        offset: header.data_offset,
                        len: bytes.len().saturating_sub(header.data_offset) as u64,
                    },
                };
                let report = self.array_report(root_path, member, &info, None, false);
                self.visitor.plain_array(&report, bytes)?;
                self.report.arrays.push(report);
            }
            _ => {
                // Object arrays: numpy pickles the array after the header.
                let stream = self.run(bytes, header.data_offset, member)?;
                let ctx = StreamContext {
                    member,
                    root_path,
                    storages: None,
                    big_endian: false,
                    persistent_ids_expected: false,
                    object_pickles: None,
                };
                self.add_stream(bytes, &stream, &ctx, true)?;
            }
        }
        if self.report.container.is_empty() {
            self.report.container = "npy".to_string();
        }
        Ok(())
    }

    fn npz(&mut self, bytes: &[u8]) -> Result<()> {
        let members =
            container::zip_members_with_limit(bytes, self.options.limits.max_zip_members)?;
        for member in &members {
            let data =
                container::member_bytes(bytes, member, self.options.limits.max_decompressed)?;
            let key = member.name.strip_suffix(".npy").unwrap_or(&member.name);
            let mut root = String::from("$");
            crate::analysis::path::push_json_key(key, &mut root);
            self.npy(&data, Some(&member.name), &root)?;
        }
        self.report.container = "npz".to_string();
        Ok(())
    }

    /// Adds the pickles of a stream: imports, arrays, findings.
    fn add_stream(
        &mut self,
        bytes: &[u8],
        stream: &Stream<'_>,
        ctx: &StreamContext<'_>,
        scan_trailing: bool,
    ) -> Result<()> {
        let graph = &stream.graph;
        let lifted = lift::lift_stream(graph, bytes);
        let first_pickle = self.report.pickles.len();
        let mut visited = Vec::new();
        for pickle in &stream.pickles {
            if !pickle.memo_carried {
                visited = Vec::new();
            }
            let w = object_paths(graph, &lifted, pickle.root, ctx.root_path, &mut visited);
            let mut imports = Vec::with_capacity(pickle.globals.len());
            for &(index, offset) in &pickle.globals {
                let Some(global) = graph.globals.get(index as usize) else {
                    continue;
                };
                let class = self.options.known.classify(&global.module, &global.name);
                let uses = w.uses.get(index as usize).cloned().unwrap_or_default();
                if global.name == "NumpyArrayWrapper" {
                    self.joblib = true;
                }
                self.categories.push(class.category);
                imports.push(ImportReport {
                    module: global.module.to_string(),
                    name: global.name.to_string(),
                    category: class.category,
                    reason: class.reason.to_string(),
                    offset: offset as u64,
                    paths: uses.paths,
                    uses: uses.count,
                    numpy2_only: class.numpy2_only,
                });
            }
            let arrays = w
                .arrays
                .iter()
                .map(|found| {
                    let mut report = match found.info {
                        Ok(info) => self.array_report(
                            &found.path,
                            ctx.member,
                            info,
                            ctx.storages,
                            ctx.big_endian,
                        ),
                        Err(reason) => unreadable_array(&found.path, ctx.member, reason),
                    };
                    report.node = Some(found.node);
                    report
                })
                .collect::<Vec<_>>();
            self.import_findings(&imports, ctx.member);
            for array in &arrays {
                if matches!(array.info.data, ArrayData::OutOfBand { .. }) {
                    self.finding(
                        Rule::OutOfBand,
                        Some(&array.path),
                        None,
                        ctx.member,
                        None,
                        format!(
                            "array {} ({}) was written out of band: its data is not in the file",
                            array.path,
                            shape_text(&array.shape)
                        ),
                    );
                }
            }
            if self.options.portable_hints {
                self.portable_hints(graph, &lifted, &w);
            }
            self.report.pickles.push(PickleReport {
                member: ctx.member.map(str::to_string),
                offset: pickle.start as u64,
                length: (pickle.end - pickle.start) as u64,
                protocol: pickle.protocol,
                opcode_count: pickle.opcode_count,
                imports,
                arrays,
            });
        }
        self.graph_findings(graph, ctx);
        let count = self.report.pickles.len() - first_pickle;
        let view = StreamView {
            input: self.input,
            bytes,
            member: ctx.member,
            root_path: ctx.root_path,
            stream,
            pickles: &self.report.pickles[first_pickle..],
            object_pickles: ctx.object_pickles.clone().unwrap_or(0..count),
            storages: ctx.storages,
            lifted: &lifted,
        };
        self.visitor.stream(&view)?;
        if let (true, Some((offset, why))) = (scan_trailing, &stream.trailing) {
            let len = bytes.len() - offset;
            let reason = match why {
                None => "do not start with a pickle opcode".to_string(),
                Some(e) => format!("are not a pickle: {}", e.message()),
            };
            self.finding(
                Rule::TrailingData,
                None,
                Some(*offset as u64),
                ctx.member,
                None,
                format!("{len} bytes after the last pickle {reason}"),
            );
            self.scan_unreachable(bytes, *offset, ctx.member);
        }
        Ok(())
    }

    fn import_findings(&mut self, imports: &[ImportReport], member: Option<&str>) {
        let mut numpy2_reported = false;
        for import in imports {
            let rule = match import.category {
                Category::CodeExec => Some(Rule::CodeExec),
                Category::UserDefined => Some(Rule::UserDefined),
                Category::RuntimeHandle => Some(Rule::RuntimeHandle),
                Category::Unknown => Some(Rule::UnknownImport),
                Category::Library => Some(Rule::LibraryImport),
                Category::Plain | Category::Array => None,
            };
            let qualified = || format!("{}.{}", import.module, import.name);
            if let Some(rule) = rule.filter(|r| r.default_severity() != Severity::Off) {
                let mut message = format!("{}: {}", qualified(), import.reason);
                if import.paths.is_empty() {
                    message.push_str(" (not reachable from the root object, but imported when the file is loaded)");
                }
                self.finding(
                    rule,
                    import.paths.first().map(String::as_str),
                    Some(import.offset),
                    member,
                    Some((&import.module, &import.name)),
                    message,
                );
            }
            if import.numpy2_only && !numpy2_reported {
                numpy2_reported = true;
                // numpy 1.26 ships stand-ins for a few numpy._core modules so that it can
                // read numpy 2's most common pickles; the others need numpy 2.
                let shim = NUMPY_126_CORE_SHIMS.contains(&import.module.as_str());
                let needs = if shim { "numpy >= 1.26" } else { "numpy >= 2" };
                self.finding(
                    Rule::Numpy2Only,
                    import.paths.first().map(String::as_str),
                    Some(import.offset),
                    member,
                    Some((&import.module, &import.name)),
                    format!(
                        "{} is numpy 2's name: loading needs {needs}, older numpy fails",
                        qualified()
                    ),
                );
            }
        }
    }

    /// Findings that come from nodes rather than imports: extension references and
    /// persistent ids.
    fn graph_findings(&mut self, graph: &Graph<'_>, ctx: &StreamContext<'_>) {
        let mut persistent = None;
        for i in 0..graph.len() {
            match graph.node(NodeId(i as u32)) {
                Node::Extension { code, offset } => {
                    // The registry is state of the loading process: the file loads only
                    // where the same codes are registered (non-portable), and a code can
                    // resolve to any global, os.system included (the finding says so).
                    self.categories.push(Category::RuntimeHandle);
                    self.finding(
                        Rule::ExtensionRef,
                        None,
                        Some(*offset as u64),
                        ctx.member,
                        None,
                        format!(
                            "EXT code {code} names a global through copyreg's extension registry: \
                             empty in a fresh interpreter (loading fails), and where codes are \
                             registered it can resolve to any callable, os.system included"
                        ),
                    );
                }
                Node::PersistentId { offset, .. }
                    if !ctx.persistent_ids_expected && persistent.is_none() =>
                {
                    persistent = Some(*offset);
                }
                _ => {}
            }
        }
        if let Some(offset) = persistent {
            self.finding(Rule::PersistentRef, None, Some(offset as u64), ctx.member, None,
                "the stream refers to objects kept outside it (PERSID/BINPERSID): plain pickle.load fails on it".to_string());
        }
    }

    /// Looks for pickles hidden in bytes no loader reads; reports those that would run code.
    fn scan_unreachable(&mut self, bytes: &[u8], from: usize, member: Option<&str>) {
        const MAX_CANDIDATES: usize = 256;
        const SCAN_WINDOW: usize = 64 << 20;
        let end = bytes.len().min(from.saturating_add(SCAN_WINDOW));
        let limits = Limits {
            max_nodes: 1_000_000,
            ..self.options.limits.clone()
        };
        // A candidate is parsed until it fails, which can be the end of the input: all of
        // them together parse at most four windows' worth, or a file of false starts
        // before a long run of opcodes would cost candidates × its size.
        let mut budget = (end - from).saturating_mul(4);
        let mut pos = from;
        let mut tried = 0;
        while pos < end && tried < MAX_CANDIDATES && budget > 0 {
            let candidate = if pos == from {
                Some(pos)
            } else {
                memchr::memchr(0x80, &bytes[pos..end]).map(|i| pos + i)
            };
            let Some(at) = candidate else { break };
            pos = at + 1;
            if at != from && !matches!(bytes.get(at + 1), Some(2..=5)) {
                continue;
            }
            tried += 1;
            let result = machine::run_stream(bytes, at, &limits, None);
            let reached = match &result {
                Ok(stream) => stream.pickles.last().map_or(at, |p| p.end),
                Err(e) => usize::try_from(e.offset()).unwrap_or(usize::MAX),
            };
            budget = budget.saturating_sub(reached.saturating_sub(at).max(1));
            let Ok(stream) = result else {
                continue;
            };
            for global in &stream.graph.globals {
                let class = self.options.known.classify(&global.module, &global.name);
                if class.category == Category::CodeExec {
                    self.finding(Rule::UnreachablePayload, None, Some(global.offset as u64), member,
                        Some((&global.module, &global.name)),
                        format!("a pickle hidden at offset {at}, after data loaders stop at, imports {}.{}: {}",
                            global.module, global.name, class.reason));
                }
            }
            pos = stream.pickles.last().map_or(pos, |p| p.end.max(pos));
        }
    }

    fn portable_hints(&mut self, graph: &Graph<'_>, lifted: &Lifted, w: &ObjectPaths<'_>) {
        const MAX_HINTS: usize = 10;
        for (path, node) in &w.objects {
            if self.report.portable_hints.len() >= MAX_HINTS {
                return;
            }
            let Some(call) = graph.call(*node) else {
                continue;
            };
            let class = lifted
                .constructed_class(graph, *node)
                .map_or(call.callable, |(c, _)| c);
            let Some(global) = graph.global(class) else {
                continue;
            };
            let class = self.options.known.classify(&global.module, &global.name);
            if !matches!(
                class.category,
                Category::Library | Category::UserDefined | Category::Unknown
            ) {
                continue;
            }
            let Some(Node::Dict(pairs)) = call.state.map(|s| graph.node(s)) else {
                continue;
            };
            let mut hint = PortableHint {
                path: path.clone(),
                class: format!("{}.{}", global.module, global.name),
                category: class.category,
                parameters: Vec::new(),
                arrays: Vec::new(),
            };
            for &(k, v) in pairs {
                let Some(name) = graph.str(k) else { continue };
                let attr_path = format!("{path}.{name}");
                match lifted.array(v) {
                    Some(Ok(info)) => hint.arrays.push((
                        name.to_string(),
                        attr_path,
                        info.shape.clone(),
                        info.dtype.str(),
                    )),
                    Some(Err(_)) => {}
                    None => hint
                        .parameters
                        .push((name.to_string(), short_repr(graph, v, 0))),
                }
            }
            self.report.portable_hints.push(hint);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn finding(
        &mut self,
        rule: Rule,
        path: Option<&str>,
        offset: Option<u64>,
        member: Option<&str>,
        global: Option<(&str, &str)>,
        message: String,
    ) {
        let severity = rule.default_severity();
        if severity == Severity::Off {
            return;
        }
        self.report.findings.push(Finding {
            rule,
            severity,
            path: path.map(str::to_string),
            offset,
            message,
            module: global.map(|g| g.0.to_string()),
            name: global.map(|g| g.1.to_string()),
            member: member.map(str::to_string),
        });
    }

    fn array_report(
        &self,
        path: &str,
        member: Option<&str>,
        info: &ArrayInfo,
        storages: Option<&StorageMap>,
        big_endian: bool,
    ) -> ArrayReport {
        let mut info = info.clone();
        if big_endian {
            info.dtype = info.dtype.with_byteorder(lift::ByteOrder::Big);
        }
        let nbytes = (!info.dtype.has_object()).then(|| info.nbytes()).flatten();
        let mut member = member.map(str::to_string);
        let mut unavailable = None;
        let offset = match &info.data {
            ArrayData::Stream { offset, len } => {
                if Some(*len) != nbytes && !info.dtype.has_object() {
                    let need = nbytes.map_or("more than 2**64".to_string(), |n| n.to_string());
                    if *len < nbytes.unwrap_or(u64::MAX) {
                        unavailable = Some(format!(
                            "buffer holds {len} bytes, dtype and shape need {need}"
                        ));
                    }
                }
                Some(*offset as u64)
            }
            // Decoded from text, or empty: no raw bytes to point at.
            ArrayData::Decoded(_) | ArrayData::Latin1(_) | ArrayData::Empty => None,
            ArrayData::OutOfBand { .. } => {
                unavailable = Some("out-of-band buffer (pickle protocol 5) not in the file".into());
                None
            }
            ArrayData::Objects(_) => {
                unavailable = Some("object array: its elements are Python objects".into());
                None
            }
            ArrayData::Torch {
                key,
                storage_offset,
                ..
            } => match storages.and_then(|s| s.get(key)) {
                Some(storage) => {
                    member = storage.member.clone();
                    if let StorageBytes::Missing(reason) = &storage.bytes {
                        unavailable = Some(reason.clone());
                    }
                    Some(storage.offset + storage_offset * info.dtype.itemsize())
                }
                None => {
                    unavailable = Some(format!("storage {key:?} is not in the file"));
                    None
                }
            },
            ArrayData::Unavailable(reason) => {
                unavailable = Some(reason.clone());
                None
            }
        };
        ArrayReport {
            path: path.to_string(),
            member,
            dtype: info.dtype.clone(),
            shape: info.shape.clone(),
            fortran_order: info.fortran_order,
            nbytes,
            offset,
            info,
            unavailable,
            node: None,
        }
    }

    fn finish(mut self) -> Report {
        self.report.verdict = Verdict::of(self.categories.iter().copied());
        self.report
            .findings
            .sort_by(|a, b| (&a.member, a.offset).cmp(&(&b.member, b.offset)));
        self.report
    }
}

fn unreadable_array(path: &str, member: Option<&str>, reason: &str) -> ArrayReport {
    ArrayReport {
        path: path.to_string(),
        member: member.map(str::to_string),
        dtype: lift::DType::simple('V', 0, lift::ByteOrder::NotApplicable),
        shape: Vec::new(),
        fortran_order: false,
        nbytes: None,
        offset: None,
        info: ArrayInfo {
            kind: lift::ArrayKind::Ndarray,
            dtype: lift::DType::simple('V', 0, lift::ByteOrder::NotApplicable),
            shape: Vec::new(),
            fortran_order: false,
            data: ArrayData::Unavailable(reason.to_string()),
        },
        unavailable: Some(reason.to_string()),
        node: None,
    }
}

/// `(3, 4)`, `()`, `(5,)`: a shape as Python prints it.
pub fn shape_text(shape: &[u64]) -> String {
    match shape {
        [one] => format!("({one},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Tuples nested deeper than this are summarised in hints: input controls the nesting, and
/// memo references can share one tuple at every position of the next (8**depth renderings).
const SHORT_REPR_DEPTH: usize = 2;

/// A short Python-like rendering of a plain value, for parameters in hints.
fn short_repr(graph: &Graph<'_>, id: NodeId, depth: usize) -> String {
    let mut out = String::new();
    match graph.node(id) {
        Node::None => out.push_str("None"),
        Node::Bool(b) => out.push_str(if *b { "True" } else { "False" }),
        Node::Int(v) => out.push_str(&v.to_string()),
        Node::BigInt(v) => {
            if pytext::repr_int(v, &mut out).is_err() {
                out = "<int>".into();
            }
        }
        Node::Float(x) => pytext::repr_float(*x, &mut out),
        Node::Str(s) if s.chars().count() <= 60 => {
            let cps: Vec<u32> = s.chars().map(u32::from).collect();
            pytext::repr_str(&cps, &mut out);
        }
        Node::Str(s) => out.push_str(&format!("<str of {} characters>", s.chars().count())),
        Node::Bytes(b, _) => out.push_str(&format!("<{} bytes>", b.len())),
        Node::Tuple(items) if items.len() <= 8 && depth < SHORT_REPR_DEPTH => {
            out.push('(');
            for (i, &item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&short_repr(graph, item, depth + 1));
            }
            if items.len() == 1 {
                out.push(',');
            }
            out.push(')');
        }
        Node::Tuple(items) => out.push_str(&format!("<tuple of {}>", items.len())),
        Node::List(items) => out.push_str(&format!("<list of {}>", items.len())),
        Node::Dict(pairs) => out.push_str(&format!("<dict of {}>", pairs.len())),
        Node::Set(items) | Node::FrozenSet(items) => {
            out.push_str(&format!("<set of {}>", items.len()))
        }
        Node::Global { index, .. } => match graph.globals.get(*index as usize) {
            Some(g) => out.push_str(&format!("{}.{}", g.module, g.name)),
            None => out.push_str("<global>"),
        },
        Node::Call(call) => match graph.global(call.callable) {
            Some(g) => out.push_str(&format!("<{}.{} object>", g.module, g.name)),
            None => out.push_str("<object>"),
        },
        _ => out.push_str("<object>"),
    }
    out
}

/// The dtype described by an `.npy` header's `descr`. Structured fields are packed in
/// order; `('', '|Vn')` entries are padding, dropped with their offset kept (numpy's
/// `format.descr_to_dtype`).
fn npy_dtype(descr: &container::Descr) -> Option<lift::DType> {
    match descr {
        container::Descr::Str(s) => lift::DType::from_str_descr(s),
        container::Descr::Fields(entries) => {
            let mut fields = Vec::new();
            let mut offset = 0u64;
            for entry in entries {
                let base = npy_dtype(&entry.descr)?;
                let dtype = if entry.shape.is_empty() {
                    base
                } else {
                    lift::DType::SubArray {
                        base: Box::new(base),
                        shape: entry.shape.clone(),
                    }
                };
                let size = dtype.itemsize();
                let is_padding =
                    entry.name.is_empty() && matches!(dtype, lift::DType::Scalar { kind: 'V', .. });
                if !is_padding {
                    fields.push(lift::dtype::Field {
                        name: entry.name.clone(),
                        title: entry.title.clone(),
                        dtype,
                        offset,
                    });
                }
                offset = offset.checked_add(size)?;
            }
            Some(lift::DType::Structured {
                fields,
                itemsize: offset,
            })
        }
    }
}
