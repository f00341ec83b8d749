//! Nested payloads: bytes a pickle hands to a loader of its own (`pickle.loads(b'…')`,
//! `torch.load(io.BytesIO(b'…'))`, `torch.storage._load_from_bytes(b'…')`, which is how
//! plain `pickle` writes every torch tensor, keras' `_unpickle_model` of a `.keras` zip),
//! possibly decoded first (base64, hex, `codecs.decode(…, 'hex')`, `_codecs.encode(str,
//! 'latin1')`, which is how protocol ≤ 2 pickles bytes). Each is opened and analysed with
//! the whole pipeline (container, machine, analyses), at most [`MAX_NESTED_DEPTH`] deep, and
//! merged: its findings and pickles under the member label `<member:>nested@<path>`, their
//! paths under the path of the bytes, its import categories into the file's verdict. Other
//! readings of a stream ([`super::differential`]) are analysed the same way.
//!
//! The outer call keeps its own category (`pickle.loads` is code-exec); what was found
//! inside is kept per call node in [`Analysis::nested`] for the judges of calls.

#![warn(clippy::arithmetic_side_effects)]

use base64::Engine as _;

use crate::classify::{Category, Verdict};
use crate::container::{self, Part};
use crate::inspect::NoVisitor;
use crate::lift::Lifted;
use crate::machine::{Graph, Node, NodeId, Stream};
use crate::report::Detected;
use crate::rules::Rule;

use super::object_paths::walk_paths;
use super::Analysis;

/// How many payloads deep nested payloads are opened (the outer file is depth 0).
pub(crate) const MAX_NESTED_DEPTH: u32 = 4;

/// At most this many nested-loader calls are looked at per stream.
const MAX_PAYLOADS_PER_STREAM: usize = 4096;

/// What the nested payloads of one file may cost in all, in bytes analysed: each payload
/// counts its size, at least [`MIN_PAYLOAD_COST`]. Payloads are bytes of the file, so a
/// real file stays far below; one payload shared through the memo by many calls (each of
/// which holds such calls) would otherwise cost calls ** depth analyses.
pub(crate) fn nested_budget(input_len: usize) -> u64 {
    (input_len as u64).saturating_mul(4).saturating_add(1 << 20)
}

const MIN_PAYLOAD_COST: u64 = 64;

/// Callables that unpickle (or unzip and unpickle) the bytes given as first argument.
const LOADERS: &[(&str, &str)] = &[
    ("pickle", "loads"),
    ("pickle", "_loads"),
    ("pickle", "load"),
    ("pickle", "_load"),
    ("_pickle", "loads"),
    ("_pickle", "load"),
    ("cPickle", "loads"),
    ("cPickle", "load"),
    ("dill", "loads"),
    ("dill._dill", "loads"),
    ("cloudpickle", "loads"),
    ("joblib", "load"),
    ("joblib.numpy_pickle", "load"),
    ("torch", "load"),
    ("torch.serialization", "load"),
    ("torch.storage", "_load_from_bytes"),
    ("numpy", "load"),
    (
        "keras.src.saving.keras_saveable",
        "KerasSaveable._unpickle_model",
    ),
    ("keras.src.models.model", "Model._unpickle_model"),
];

/// What was found inside the payload of one nested-loader call.
#[derive(Clone, Debug)]
#[allow(dead_code)] // read by the judge of calls (issue 11), which lands separately
pub(crate) struct NestedVerdict {
    /// The container member of the stream holding the call.
    pub(crate) member: Option<String>,
    /// The call node, in that stream's graph.
    pub(crate) node: NodeId,
    /// The worst of the payload's import categories (`Dangerous` if it held a loader
    /// differential, or could not be opened: nothing vouches for it).
    pub(crate) verdict: Verdict,
}

fn is_loader(module: &str, name: &str) -> bool {
    LOADERS.iter().any(|&(m, n)| m == module && n == name)
}

/// The global a call's callable is, as `(module, name)`.
fn callee<'g>(graph: &'g Graph<'_>, call: NodeId) -> Option<(&'g str, &'g str)> {
    let c = graph.call(call)?;
    let g = graph.global(c.callable)?;
    Some((&g.module, &g.name))
}

/// The first positional argument of a call.
fn first_arg(graph: &Graph<'_>, call: NodeId) -> Option<NodeId> {
    let c = graph.call(call)?;
    graph.tuple(c.args)?.first().copied()
}

/// The bytes `node` stands for, following decoders; `depth` bounds the chain.
fn payload(graph: &Graph<'_>, node: NodeId, depth: u32) -> Option<Vec<u8>> {
    match graph.node(node) {
        Node::Bytes(b, _) => return Some(b.to_vec()),
        Node::Str(s) => return Some(s.as_bytes().to_vec()),
        Node::Call(_) => {}
        _ => return None,
    }
    let depth = depth.checked_sub(1)?;
    let (module, name) = callee(graph, node)?;
    let c = graph.call(node)?;
    let args = graph.tuple(c.args).unwrap_or_default();
    let arg = |i: usize| args.get(i).and_then(|&a| payload(graph, a, depth));
    let text = |i: usize| args.get(i).and_then(|&a| graph.str(a));
    match (module, name) {
        ("io" | "_io", "BytesIO") => {
            // `BytesIO.__reduce_ex__` gives the value as the first item of the BUILD state.
            arg(0).or_else(|| {
                let state = graph.tuple(c.state?)?;
                payload(graph, *state.first()?, depth)
            })
        }
        ("base64" | "binascii", _) if name.contains("64") || name == "decodebytes" => {
            base64_decode(&arg(0)?)
        }
        ("binascii", "a2b_hex" | "unhexlify") | ("builtins" | "__builtin__", "bytes.fromhex") => {
            hex_decode(&arg(0)?)
        }
        ("codecs" | "_codecs", "decode") => match text(1)? {
            "hex" | "hex_codec" => hex_decode(&arg(0)?),
            "base64" | "base64_codec" => base64_decode(&arg(0)?),
            _ => None,
        },
        ("codecs" | "_codecs", "encode") | ("builtins" | "__builtin__", "bytes") => {
            match text(1)?.to_ascii_lowercase().replace('_', "-").as_str() {
                "latin1" | "latin-1" | "iso-8859-1" | "l1" => latin1(graph.str(*args.first()?)?),
                "utf8" | "utf-8" | "ascii" => arg(0),
                _ => None,
            }
        }
        _ => None,
    }
}

fn latin1(s: &str) -> Option<Vec<u8>> {
    s.chars().map(|c| u8::try_from(u32::from(c)).ok()).collect()
}

/// `base64.b64decode` without `validate`: characters outside the alphabet are dropped.
fn base64_decode(data: &[u8]) -> Option<Vec<u8>> {
    let clean: Vec<u8> = data
        .iter()
        .copied()
        .filter(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'-' | b'_'))
        .map(|b| match b {
            b'-' => b'+',
            b'_' => b'/',
            b => b,
        })
        .collect();
    base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(&clean)
        .ok()
}

fn hex_decode(data: &[u8]) -> Option<Vec<u8>> {
    let digits: Vec<u8> = data
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    digits
        .chunks(2)
        .map(|pair| {
            let s = std::str::from_utf8(pair).ok()?;
            (s.len() == 2).then_some(())?;
            u8::from_str_radix(s, 16).ok()
        })
        .collect()
}

impl Analysis<'_> {
    /// Opens the payload of every nested-loader call of `stream` and merges what is inside.
    pub(crate) fn nested_payloads(
        &mut self,
        stream: &Stream<'_>,
        lifted: &Lifted,
        root_path: &str,
        member: Option<&str>,
    ) {
        let graph = &stream.graph;
        let mut calls = Vec::new();
        for i in 0..graph.len() {
            let id = NodeId(u32::try_from(i).unwrap_or(u32::MAX));
            if callee(graph, id).is_some_and(|(m, n)| is_loader(m, n)) {
                calls.push(id);
            }
        }
        if calls.is_empty() {
            return;
        }
        let paths = call_paths(stream, lifted, root_path, &calls);
        for (&call, path) in calls.iter().zip(paths).take(MAX_PAYLOADS_PER_STREAM) {
            let offset = graph.call(call).map_or(0, |c| c.offset);
            let bytes = first_arg(graph, call).and_then(|a| payload(graph, a, 8));
            let Some(bytes) = bytes else { continue };
            let label = format!("nested@{}", path.as_deref().unwrap_or("(result not kept)"));
            let arg_path = path.map(|p| format!("{p}.__args__[0]"));
            let verdict = self.nested(&bytes, &label, arg_path.as_deref(), offset, member);
            self.nested.push(NestedVerdict {
                member: member.map(str::to_string),
                node: call,
                verdict,
            });
        }
    }

    /// Analyses `bytes` as an input of its own and merges its report under `label`;
    /// returns its verdict. `path`: the object path of the bytes; `offset`: the opcode
    /// that passes them.
    pub(crate) fn nested(
        &mut self,
        bytes: &[u8],
        label: &str,
        path: Option<&str>,
        offset: usize,
        member: Option<&str>,
    ) -> Verdict {
        let refused = Detected::new(Rule::LimitExceeded, String::new())
            .at(Some(offset as u64))
            .member(member)
            .path(path);
        if !self.admit(bytes.len(), label, refused) {
            return Verdict::Dangerous;
        }
        let inner_member = match member {
            Some(m) => format!("{m}:{label}"),
            None => label.to_string(),
        };
        let opened = match container::open(bytes, &self.options.limits) {
            Ok(opened) => opened,
            Err(e) => {
                self.nested_failed(&e, &inner_member, path);
                return Verdict::Dangerous;
            }
        };
        let mut inner = Analysis::new(&self.report.file, &opened, self.options);
        inner.depth = self.depth.saturating_add(1);
        inner.nested_budget = self.nested_budget;
        // What a payload ran before it fails ran: its calls are kept, with a `malformed`
        // finding where its loader stops.
        inner.keep_partial = true;
        let mut failed = false;
        for part in opened.parts() {
            let done = match part {
                Ok(Part::Stream(s)) => inner.stream(s, &mut NoVisitor),
                Ok(Part::Npy(npy)) => inner.npy(npy, &mut NoVisitor),
                Ok(Part::Other) => Ok(()),
                Err(e) => Err(e),
            };
            if let Err(e) = done {
                self.nested_failed(&e, &inner_member, path);
                failed = true;
            }
        }
        if let Some(e) = opened.decode_error() {
            inner.decode_failed(e);
        }
        failed |= inner.report.stopped.is_some();
        let verdict = self.merge(inner, &inner_member, path);
        if failed {
            Verdict::Dangerous
        } else {
            verdict
        }
    }

    /// Whether a payload of `len` bytes may be opened (depth and budget); if not, the
    /// `refused` finding says why, once.
    fn admit(&mut self, len: usize, label: &str, mut refused: Detected) -> bool {
        if self.depth >= MAX_NESTED_DEPTH {
            refused.message = format!(
                "a nested payload ({label}) lies more than {MAX_NESTED_DEPTH} payloads deep: \
                 not opened (limit nested payload depth)"
            );
            self.detected.push(refused);
            return false;
        }
        let cost = (len as u64).max(MIN_PAYLOAD_COST);
        if cost <= self.nested_budget {
            self.nested_budget = self.nested_budget.saturating_sub(cost);
            return true;
        }
        if self.nested_budget > 0 {
            self.nested_budget = 0;
            refused.message = format!(
                "a nested payload ({label}, {len} bytes) was not opened: the nested payloads of \
                 this file already cost four times its size (a payload shared by many calls?); \
                 later ones are not opened either"
            );
            self.detected.push(refused);
        }
        false
    }

    /// Merges a nested payload's analysis under `inner_member` and the object path of its
    /// bytes; returns its verdict.
    fn merge(&mut self, inner: Analysis<'_>, inner_member: &str, path: Option<&str>) -> Verdict {
        let differential = inner
            .detected
            .iter()
            .any(|d| d.rule == Rule::ParserDifferential);
        let mut verdict = Verdict::of(inner.categories.iter().copied());
        if differential {
            verdict = Verdict::Dangerous;
        }
        self.categories.extend(inner.categories);
        let label = |m: Option<String>| {
            Some(match m {
                Some(m) => format!("{inner_member}:{m}"),
                None => inner_member.to_string(),
            })
        };
        for mut d in inner.detected {
            d.member = label(d.member.take());
            d.path = join_path(path, d.path.as_deref());
            self.detected.push(d);
        }
        for mut p in inner.report.pickles {
            p.member = label(p.member.take());
            self.report.pickles.push(p);
        }
        self.nested.extend(inner.nested);
        self.nested_budget = inner.nested_budget;
        verdict
    }

    fn nested_failed(&mut self, e: &crate::Error, member: &str, path: Option<&str>) {
        let message = format!(
            "a nested payload could not be read ({}): what it runs is unknown",
            e.message()
        );
        self.detected.push(
            Detected::new(Rule::Malformed, message)
                .at(Some(e.offset()))
                .member(Some(member))
                .path(path),
        );
        self.categories.push(Category::Unknown);
    }
}

/// `outer` followed by the steps of `inner` (a path from the payload's own root `$`).
fn join_path(outer: Option<&str>, inner: Option<&str>) -> Option<String> {
    match (outer, inner) {
        (Some(o), Some(i)) => Some(format!("{o}{}", i.strip_prefix('$').unwrap_or(i))),
        (Some(o), None) => Some(o.to_string()),
        (None, i) => i.map(str::to_string),
    }
}

/// The object path of each call (in the order given), where the walk reaches it: the
/// walk lists the paths of a global's calls in stream order, as the node ids are.
fn call_paths(
    stream: &Stream<'_>,
    lifted: &Lifted,
    root_path: &str,
    calls: &[NodeId],
) -> Vec<Option<String>> {
    let graph = &stream.graph;
    let mut by_global: std::collections::HashMap<u32, std::collections::VecDeque<String>> =
        std::collections::HashMap::new();
    let mut visited = Vec::new();
    let mut indices: Vec<u32> = calls
        .iter()
        .filter_map(|&c| global_index(graph, c))
        .collect();
    indices.sort_unstable();
    indices.dedup();
    for pickle in &stream.pickles {
        if !pickle.memo_carried {
            visited = Vec::new();
        }
        let w = walk_paths(graph, lifted, pickle.root, root_path, &mut visited, false);
        for &index in &indices {
            if let Some(uses) = w.uses.get(index as usize) {
                by_global
                    .entry(index)
                    .or_default()
                    .extend(uses.paths.iter().cloned());
            }
        }
    }
    calls
        .iter()
        .map(|&call| {
            let index = global_index(graph, call)?;
            by_global.get_mut(&index)?.pop_front()
        })
        .collect()
}

fn global_index(graph: &Graph<'_>, call: NodeId) -> Option<u32> {
    match graph.node(graph.call(call)?.callable) {
        Node::Global { index, .. } => Some(index),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::Options;

    /// What the analysis of `data` recorded per nested-loader call.
    fn verdicts(data: &[u8]) -> Vec<(NodeId, Verdict)> {
        let options = Options::default();
        let opened = container::open(data, &options.limits).unwrap();
        let mut analysis = Analysis::new("t.pkl", &opened, &options);
        for part in opened.parts() {
            if let Ok(Part::Stream(s)) = part {
                analysis.stream(s, &mut NoVisitor).unwrap();
            }
        }
        analysis
            .nested
            .iter()
            .map(|n| (n.node, n.verdict))
            .collect()
    }

    #[test]
    fn each_loader_call_keeps_the_verdict_of_its_payload() {
        // pickle.loads(<posix.system payload>), pickle.loads(<an int>) in a tuple.
        let evil = b"\x80\x02cposix\nsystem\nX\x02\x00\x00\x00id\x85R.";
        let mut data = b"\x80\x04(cpickle\nloads\nC".to_vec();
        data.push(evil.len() as u8);
        data.extend_from_slice(evil);
        data.extend_from_slice(b"\x85Rcpickle\nloads\nC\x03K\x05.\x85Rt.");
        let found = verdicts(&data);
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(found[0].1, Verdict::Dangerous);
        assert_eq!(found[1].1, Verdict::Portable);
        assert_ne!(found[0].0, found[1].0);
    }

    #[test]
    fn decoders_read_what_python_writes() {
        assert_eq!(base64_decode(b"gANLBS4=\n").unwrap(), b"\x80\x03K\x05.");
        assert_eq!(hex_decode(b"80034b052e").unwrap(), b"\x80\x03K\x05.");
        assert_eq!(hex_decode(b"8"), None);
        assert_eq!(latin1("\u{80}\u{3}K").unwrap(), b"\x80\x03K");
        assert_eq!(latin1("\u{100}"), None);
        assert_eq!(
            join_path(Some("$.x.__args__[0]"), Some("$[0]")).as_deref(),
            Some("$.x.__args__[0][0]")
        );
    }
}
