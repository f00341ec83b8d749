//! One pickle stream through the analysis: the machine runs it, the legacy torch layout is
//! recognised (its storages follow the pickles), and each pickle's walk feeds the imports,
//! arrays, hints and findings of the report. The visitor sees the stream while its bytes
//! are alive.
//!
//! A stream that fails part-way (for `explain` and `lint`, [`Analysis::keep_partial`])
//! keeps what was read before the failure: the failed pickle's imports, trace and findings
//! as for a complete one, plus a `malformed` finding where the loader stops — for the
//! first pickle, and for any of a legacy torch file's five. A later pickle that fails
//! elsewhere is one only a second `load()` would read: its imports are kept when it has
//! any, and its bytes are reported as trailing data as before.

#![warn(clippy::arithmetic_side_effects)]

use rustc_hash::FxHashMap as HashMap;

use crate::classify::Category;
use crate::container::{self, in_member, StorageMap, StreamPart};
use crate::error::Result;
use crate::inspect::{StreamView, Visitor};
use crate::lift::tar_tensors::{TarError, TarTensors};
use crate::lift::{self, ArrayData, ArrayInfo, Lifted};
use crate::machine::{Node, Pickle, Stream};
use crate::report::PickleReport;
use crate::rules::Rule;

use super::arrays::{array_report, out_of_band_findings, unreadable_array};
use super::differential;
use super::findings::graph_findings;
use super::imports::{import_findings, import_reports};
use super::object_paths::{walk_paths, GlobalUses, ObjectPaths};
use super::trace::{call_traces, mark_called, runtime_findings, stop_finding};
use super::Analysis;

/// The magic number torch's legacy format pickles first (`torch/serialization.py`).
const TORCH_LEGACY_MAGIC: u128 = 0x1950a86a20f9469cfc6c;

/// What the analysis of one stream's pickles needs to know about it.
struct StreamContext<'a> {
    member: Option<&'a str>,
    root_path: &'a str,
    storages: Option<&'a StorageMap>,
    big_endian: bool,
    calls: &'a super::calls::Calls,
}

impl Analysis<'_> {
    /// Runs the machine on a stream and adds its pickles: imports, arrays, findings.
    pub(crate) fn stream(&mut self, part: StreamPart<'_>, visitor: &mut dyn Visitor) -> Result<()> {
        let bytes: &[u8] = &part.bytes;
        let member = part.member.as_deref();
        let scan =
            || differential::scan(bytes, part.start, member, self.options.limits.max_pickles);
        let run = if self.keep_partial {
            lift::run_stream_partial
        } else {
            lift::run_stream
        };
        let stream = match run(bytes, part.start, &self.options.limits) {
            Ok(stream) => stream,
            Err(e) => {
                let readings = scan();
                self.differentials(readings, None, member);
                return Err(in_member(e, member));
            }
        };
        // Another loader reads the bytes differently only where ours met an irregular
        // opcode (a FRAME overrun, a numeric line not spelled plainly) or stopped: only
        // then is the stream read again their ways.
        let stopped = stream.trailing.is_some()
            || stream.limit.is_some()
            || stream.pickles.iter().any(|p| p.error.is_some());
        if stream.irregular || stopped {
            let readings = scan();
            self.differentials(readings, Some(&stream.graph), member);
        }
        // The one lift pass of the stream: everything below reads its arrays by node.
        let mut lifted = lift::lift_stream(&stream.graph, bytes);
        let tar_error = self.tar_tensors(part.tar_tensors, &stream.graph, &mut lifted);
        let legacy = if part.whole_file {
            legacy_torch_storages(bytes, &stream, &lifted)?
        } else {
            None
        };
        // A legacy torch file: the storages are the data after the pickles (not trailing
        // garbage), its persistent ids are its own, and only the fourth pickle holds the
        // object torch.load returns.
        let (storages, persistent_ids_expected, object_pickles, scan_trailing) = match &legacy {
            Some(map) => (Some(map), true, Some(3..4), false),
            None => (
                part.storages,
                part.persistent_ids_expected,
                part.object_pickles.clone(),
                part.scan_trailing,
            ),
        };
        self.torch_legacy |= legacy.is_some();
        let calls = super::calls::scan(&self.options.known, &stream.graph);
        let ctx = StreamContext {
            calls: &calls,
            member,
            root_path: &part.root_path,
            storages,
            big_endian: part.big_endian,
        };
        let first = self.report.pickles.len();
        self.pickles(&stream, &lifted, &ctx);
        if self.options.loaders
            && self.depth == 0
            && (part.whole_file || member.is_some_and(|m| m.ends_with("data.pkl")))
        {
            let pickles = self.report.pickles.get(first..).unwrap_or_default();
            let scan =
                crate::loaders::scan_stream(bytes, pickles, legacy.is_some(), member, storages);
            self.torch_scans.push(scan);
        }
        let runtime = runtime_findings(&stream.graph, member);
        self.categories
            .extend(runtime.iter().map(|_| Category::CodeExec));
        self.detected.extend(runtime);
        let extensions = graph_findings(&stream.graph, member, persistent_ids_expected);
        for detected in &extensions {
            if detected.rule == Rule::ExtensionRef {
                self.categories.push(Category::RuntimeHandle);
            }
        }
        self.detected.extend(extensions);
        self.nested_payloads(&stream, &lifted, &part.root_path, member);
        let count = self.report.pickles.len().saturating_sub(first);
        let view = StreamView {
            input: self.input,
            bytes,
            member,
            root_path: &part.root_path,
            stream: &stream,
            pickles: &self.report.pickles[first..],
            object_pickles: object_pickles.unwrap_or(0..count),
            storages,
            lifted: &lifted,
            tar_error,
        };
        visitor.stream(&view)?;
        if self.options.portable_hints {
            let frames = crate::extract::frame_summaries(&view);
            self.report.frames.extend(frames);
        }
        if let (true, Some((offset, why))) = (scan_trailing, &stream.trailing) {
            self.trailing(bytes, *offset, why.as_ref(), member);
        }
        // Too many pickles: the ones before the limit were analysed; the rest were not.
        if let Some(e) = &stream.limit {
            let e = in_member(e.clone(), member);
            let message = format!(
                "{}: the pickles after this one were not read, and the imports and findings \
                 before it stand",
                e.message()
            );
            self.detected.push(
                crate::report::Detected::new(Rule::LimitExceeded, message)
                    .at(Some(e.offset()))
                    .member(member),
            );
            self.report.stopped.get_or_insert(e);
        }
        Ok(())
    }

    /// A legacy tar's `pickle` member: its tensors made arrays of the stream, or why they
    /// cannot be (then `extract` refuses).
    fn tar_tensors<'t>(
        &mut self,
        tensors: Option<&'t std::result::Result<TarTensors, TarError>>,
        graph: &crate::machine::Graph<'_>,
        lifted: &mut Lifted,
    ) -> Option<&'t crate::Error> {
        match tensors? {
            Ok(table) => {
                lifted.add_tar_tensors(graph, table);
                None
            }
            Err(e) => {
                self.tar_tensors_finding(e);
                Some(&e.error)
            }
        }
    }

    /// A legacy tar checkpoint whose tensors torch cannot rebuild: `torch.load` fails. Not
    /// said twice where the walk of the records already stopped there, and not for a
    /// record that is not plain data (its analysis tells what it does).
    fn tar_tensors_finding(&mut self, e: &TarError) {
        let (member, offset) = (Some(e.member), Some(e.error.offset()));
        let said = self.detected.iter().any(|d| {
            d.rule == Rule::Malformed && d.member.as_deref() == member && d.offset == offset
        });
        if said || e.error.kind() == crate::ErrorKind::Unsupported {
            return;
        }
        let message = format!(
            "the tensors of this legacy torch tar checkpoint cannot be rebuilt, so torch.load \
             fails: {}",
            e.error.message()
        );
        self.detected.push(
            crate::report::Detected::new(Rule::Malformed, message)
                .at(offset)
                .member(member),
        );
    }

    /// The pickles of a stream, in order. A pickle that fails stops the load when it is
    /// the first, or one of the five a legacy torch file's loader reads (the first returned
    /// torch's magic number): then it gets a finding where the loader stops, and the report
    /// says so. A later one that fails elsewhere is reported only if it imports or calls.
    fn pickles(&mut self, stream: &Stream<'_>, lifted: &Lifted, ctx: &StreamContext<'_>) {
        let mut visited = Vec::new();
        let torch_magic = stream
            .pickles
            .first()
            .is_some_and(|p| p.error.is_none() && is_torch_magic(stream, p));
        for (i, pickle) in stream.pickles.iter().enumerate() {
            if !pickle.memo_carried {
                visited = Vec::new();
            }
            let Some(error) = &pickle.error else {
                self.pickle(stream, lifted, pickle, ctx, &mut visited);
                continue;
            };
            let stops_the_load = i == 0 || (torch_magic && i < 5);
            if stops_the_load || !pickle.globals.is_empty() || pickle.calls_total > 0 {
                self.pickle(stream, lifted, pickle, ctx, &mut visited);
            }
            if stops_the_load {
                let error = in_member(error.clone(), ctx.member);
                self.detected.push(stop_finding(pickle, &error, ctx.member));
                self.report.stopped.get_or_insert(error);
            }
        }
    }

    /// One pickle of a stream: its walk, imports, arrays, hints and findings.
    fn pickle(
        &mut self,
        stream: &Stream<'_>,
        lifted: &Lifted,
        pickle: &Pickle,
        ctx: &StreamContext<'_>,
        visited: &mut Vec<bool>,
    ) {
        let graph = &stream.graph;
        // A pickle that fails returns nothing: no object path reaches what it built. A graph
        // of plain values only (no global, call, persistent id, extension or mutation) has
        // nothing a walk could find: no arrays, uses, objects or calls.
        let w = match pickle.error {
            None if !plain_values_only(graph) => walk_paths(
                graph,
                lifted,
                pickle.root,
                ctx.root_path,
                visited,
                self.options.trace,
            ),
            _ => ObjectPaths {
                uses: vec![GlobalUses::default(); graph.globals.len()],
                ..ObjectPaths::default()
            },
        };
        let (mut imports, vetted) =
            import_reports(&self.options.known, graph, &pickle.globals, &w.uses);
        mark_called(graph, pickle, &mut imports);
        let reached: &[bool] = if pickle.error.is_none() { visited } else { &[] };
        let calls = if self.options.trace {
            call_traces(graph, pickle, &w.calls, reached)
        } else {
            Vec::new()
        };
        let judged = super::calls::judge(
            graph,
            &vetted,
            ctx.calls,
            &pickle.globals,
            (pickle.start, pickle.end),
            &mut imports,
            ctx.member,
        );
        self.unvetted |= judged.unvetted;
        if judged.code_exec {
            self.categories.push(Category::CodeExec);
        }
        self.detected.extend(judged.findings);
        for import in &imports {
            if import.name == "NumpyArrayWrapper" {
                self.joblib = true;
            }
            self.categories.push(import.category);
        }
        let arrays: Vec<_> = w
            .arrays
            .iter()
            .map(|found| {
                let mut report = match found.info {
                    Ok(info) => {
                        array_report(&found.path, ctx.member, info, ctx.storages, ctx.big_endian)
                    }
                    Err(reason) => unreadable_array(&found.path, ctx.member, reason),
                };
                report.node = Some(found.node);
                report
            })
            .collect();
        self.detected.extend(import_findings(&imports, ctx.member));
        self.detected
            .extend(out_of_band_findings(&arrays, ctx.member));
        if self.options.portable_hints {
            self.portable_hints(graph, lifted, &w);
        }
        if self.options.loaders {
            self.writer_state(graph, pickle, &w, ctx.member);
        }
        self.report.pickles.push(PickleReport {
            member: ctx.member.map(str::to_string),
            offset: pickle.start as u64,
            length: pickle.end.saturating_sub(pickle.start) as u64,
            protocol: pickle.protocol,
            opcode_count: pickle.opcode_count,
            imports,
            arrays,
            calls,
            calls_total: pickle.calls_total,
            error: pickle.error.clone().map(|e| in_member(e, ctx.member)),
        });
    }
}

/// Whether `pickle` returned torch's legacy magic number.
fn is_torch_magic(stream: &Stream<'_>, pickle: &Pickle) -> bool {
    let magic = match stream.graph.node(pickle.root) {
        Node::Int(v) => u128::try_from(v).ok(),
        Node::BigInt(v) => u128::try_from(v).ok(),
        _ => None,
    };
    magic == Some(TORCH_LEGACY_MAGIC)
}

/// A legacy torch file is five pickles (magic number, protocol version, system info, the
/// object, the storage keys) followed by the storages: their map, if `stream` is one.
fn legacy_torch_storages(
    bytes: &[u8],
    stream: &Stream<'_>,
    lifted: &Lifted,
) -> Result<Option<StorageMap>> {
    let Some(first) = stream.pickles.first() else {
        return Ok(None);
    };
    let (Some(main), Some(keys_pickle)) = (stream.pickles.get(3), stream.pickles.get(4)) else {
        return Ok(None);
    };
    let complete = stream.pickles.iter().take(5).all(|p| p.error.is_none());
    if !complete || !is_torch_magic(stream, first) {
        return Ok(None);
    }
    let Node::List(keys) = stream.graph.node(keys_pickle.root) else {
        return Ok(None);
    };
    // Element sizes of each storage, from the tensors that use it.
    let mut sizes: HashMap<String, u64> = HashMap::default();
    let w = walk_paths(
        &stream.graph,
        lifted,
        main.root,
        "$",
        &mut Vec::new(),
        false,
    );
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
    // An untyped storage (`torch.storage.UntypedStorage`, which torch >= 2.1 writes for
    // dtypes without a typed storage class: float8, uint16/32/64) counts bytes, whatever the
    // tensor's dtype. torch's own legacy reader fails on these files; the bytes are there.
    for (_, node) in stream.graph.references() {
        let Node::PersistentId { pid, .. } = node else {
            continue;
        };
        if let Some([_, class, key, ..]) = stream.graph.tuple(pid) {
            let untyped = stream
                .graph
                .global(*class)
                .is_some_and(|g| g.name == "UntypedStorage");
            if let (true, Some(key)) = (untyped, stream.graph.str(*key)) {
                sizes.insert(key.to_string(), 1);
            }
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
    container::legacy_storage_map(bytes, keys_pickle.end, &ordered).map(Some)
}

/// Whether `graph` holds plain values only: no global, call, mutation, persistent id or
/// extension reference. Its object walk would find nothing to report.
fn plain_values_only(graph: &crate::machine::Graph<'_>) -> bool {
    graph.globals.is_empty()
        && graph.calls().next().is_none()
        && graph.mutations.is_empty()
        && graph.references().next().is_none()
}
