//! `extract --to json`: the whole object tree as one JSON document.
//!
//! Plain values are JSON values. What JSON cannot say is tagged with a `$` key:
//! `{"$float": "nan"|"inf"|"-inf"}`, `{"$int": "<digits>"}` beyond ±2**53,
//! `{"$bytes": "<base64>"}`, `{"$bytearray": …}`, `{"$tuple": […]}`, `{"$set": […]}`,
//! `{"$frozenset": […]}`, `{"$complex": [re, im]}`, `{"$dict": [[k, v], …]}` for dicts whose
//! keys are not all strings (or start with `$`), `{"$ref": "<object path>"}` for an object
//! met again (shared or recursive), `{"$global": "module.name"}`, `{"$array": {"dtype",
//! "shape", "data" | "file" | "unavailable"}}`, and `{"$object": "module.Name", "args",
//! "kwargs", "state", "items", "dict_items"}` for everything else, so that the plain
//! parameters of library and script objects stay readable. Several pickles in one file
//! become `{"$pickles": […]}`; an npz becomes `{"member": value, …}`.
//!
//! The rendering is iterative (input controls the depth) and the output deterministic.
//! Arrays and plain values come from the stream's lift pass ([`Lifted`]), by node; an
//! array's storage details from the object walk's report of the same node; `$ref` paths
//! are built from [`crate::analysis::path`]'s steps, as the walk's paths are.

#![warn(clippy::arithmetic_side_effects)]

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::rc::Rc;

use base64::Engine as _;

use super::layout::{plan_write, Layout, Transform};
use super::names::Namer;
use super::{
    locate, output_temp, ExtractIndex, ExtractOptions, Extracted, SkippedArray, INDEX_SCHEMA,
};
use crate::analysis::path::{self, is_attr_dict, Step, MAX_PATH_LEN};
use crate::error::{Error, Result};
use crate::inspect::{inspect_with, StreamView, Visitor};
use crate::lift::{self, value::PlainValue, ArrayData, ByteOrder, DType, Lifted};
use crate::machine::{BytesKind, Graph, Node, NodeId};
use crate::report::ArrayReport;

/// Integers beyond this magnitude lose precision in many JSON readers: tagged as strings.
const MAX_SAFE_INT: i64 = 1 << 53;

/// A step of an object path kept as a link to its parent, so paths cost nothing until one
/// is needed for a `$ref` (or an array's report).
struct PathLink {
    parent: Option<Rc<PathLink>>,
    /// `None` at the root, whose text the renderer holds.
    step: Option<Step>,
    /// At most the length of the rendered path (a str key renders at least as long as it is).
    len: usize,
    /// The nearest ancestor whose path is already longer than [`MAX_PATH_LEN`]: the cut
    /// path of this link is that ancestor's.
    long_ancestor: Option<Rc<PathLink>>,
}

impl PathLink {
    fn root(root_path: &str) -> Rc<PathLink> {
        Rc::new(PathLink {
            parent: None,
            step: None,
            len: root_path.len(),
            long_ancestor: None,
        })
    }

    fn child(graph: &Graph<'_>, parent: &Rc<PathLink>, step: Step) -> Rc<PathLink> {
        let key_len = |k: NodeId, brackets: usize| match graph.node(k) {
            Node::Str(s) => s.len().saturating_add(brackets),
            _ => brackets,
        };
        let step_len = match step {
            Step::Index(_) => 3,
            Step::Key(k) => key_len(k, 4),
            Step::Attr(k) => key_len(k, 1),
            Step::Args(_) => ".__args__[0]".len(),
            Step::ArgsWhole => ".__args__".len(),
            Step::Kwargs(k) => key_len(k, ".__kwargs__[\"\"]".len()),
            Step::State => ".__state__".len(),
        };
        let long_ancestor = match &parent.long_ancestor {
            Some(a) => Some(a.clone()),
            None if parent.len > MAX_PATH_LEN => Some(parent.clone()),
            None => None,
        };
        Rc::new(PathLink {
            parent: Some(parent.clone()),
            step: Some(step),
            len: parent.len.saturating_add(step_len),
            long_ancestor,
        })
    }

    /// The steps from the root to this link, root first.
    fn steps(&self) -> Vec<Step> {
        let mut steps = Vec::new();
        let mut at = Some(self);
        while let Some(link) = at {
            steps.extend(link.step);
            at = link.parent.as_deref();
        }
        steps.reverse();
        steps
    }

    /// The path in full (a `$ref` must name its object exactly).
    fn full(&self, graph: &Graph<'_>, root_path: &str) -> String {
        let mut out = root_path.to_string();
        for step in self.steps() {
            path::push_step(graph, step, &mut out);
        }
        out
    }

    /// The path as reports keep it, cut at [`MAX_PATH_LEN`] (and found as cheaply: only
    /// the steps up to the cut are rendered, each no longer than the room left), so that
    /// many arrays a million levels deep, or under a megabyte-long key, cost no more than
    /// their number.
    fn cut(&self, graph: &Graph<'_>, root_path: &str) -> String {
        let start = self.long_ancestor.as_deref().unwrap_or(self);
        let mut out = String::new();
        if path::push_root_cut(root_path, &mut out) {
            for step in start.steps() {
                if !path::push_step_cut(graph, step, &mut out) {
                    break;
                }
            }
        }
        out
    }
}

impl Drop for PathLink {
    /// Unlinks the parent chain in a loop: the default drop would recurse once per level,
    /// and input controls the depth (a million nested lists must not overflow the stack).
    fn drop(&mut self) {
        let mut parent = self.parent.take();
        while let Some(link) = parent {
            match Rc::try_unwrap(link) {
                Ok(mut link) => parent = link.parent.take(),
                Err(_) => break,
            }
        }
    }
}

enum Task {
    Node(NodeId, Rc<PathLink>),
    Text(&'static str),
    /// Boxed, not a `String`: a deep tree keeps a million tasks pending.
    Owned(Box<str>),
}

fn json_string(s: &str, out: &mut String) {
    match serde_json::to_string(s) {
        Ok(json) => out.push_str(&json),
        Err(_) => out.push_str("\"\""),
    }
}

/// A JSON string from code points that may include lone surrogates, written as `\uXXXX`
/// escapes (valid JSON; Python's json module reads them back into the same str).
fn json_code_points(cps: &[u32], out: &mut String) {
    out.push('"');
    for &cp in cps {
        match char::from_u32(cp) {
            Some(c) => {
                let mut buf = String::new();
                json_string(c.encode_utf8(&mut [0; 4]), &mut buf);
                // Without the quotes around it.
                let inner = buf.strip_prefix('"').and_then(|b| b.strip_suffix('"'));
                out.push_str(inner.unwrap_or_default());
            }
            None => {
                let _ = write!(out, "\\u{cp:04x}");
            }
        }
    }
    out.push('"');
}

fn float(x: f64, out: &mut String) {
    if x.is_nan() {
        out.push_str(r#"{"$float":"nan"}"#);
    } else if x.is_infinite() {
        out.push_str(if x > 0.0 {
            r#"{"$float":"inf"}"#
        } else {
            r#"{"$float":"-inf"}"#
        });
    } else {
        match serde_json::Number::from_f64(x) {
            Some(n) => out.push_str(&n.to_string()),
            None => out.push_str("null"),
        }
    }
}

fn int(v: i128, out: &mut String) {
    if v.unsigned_abs() <= MAX_SAFE_INT as u128 {
        let _ = write!(out, "{v}");
    } else {
        let _ = write!(out, r#"{{"$int":"{v}"}}"#);
    }
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The first `N` bytes of an element in little-endian order (zeros if it is shorter, which
/// the callers' size checks rule out).
fn ordered<const N: usize>(bytes: &[u8], order: ByteOrder) -> [u8; N] {
    let mut a = [0u8; N];
    if let Some(src) = bytes.get(..N) {
        a.copy_from_slice(src);
    }
    if order == ByteOrder::Big {
        a.reverse();
    }
    a
}

/// Reads one element of `dtype` at `bytes` as JSON.
fn element(dtype: &DType, bytes: &[u8], out: &mut String) {
    match dtype {
        DType::Scalar {
            kind,
            itemsize,
            byteorder,
            ..
        } => {
            // The dtype parser only admits sizes numpy has, so each arm below finds its bytes;
            // this guard keeps a future gap from becoming an out-of-bounds read.
            let short = usize::try_from(*itemsize).map_or(true, |size| bytes.len() < size);
            if *itemsize == 0 && !matches!(kind, 'S' | 'U' | 'V') || short {
                out.push_str("null");
                return;
            }
            scalar_element(*kind, *itemsize, *byteorder, bytes, out);
        }
        DType::BFloat16 { byteorder } => {
            let bits = u16::from_le_bytes(ordered(bytes, *byteorder));
            float(f64::from(f32::from_bits(u32::from(bits) << 16)), out);
        }
        DType::Float8(format) => match bytes.first() {
            Some(&byte) => float(f64::from(format.to_f32(byte)), out),
            None => out.push_str("null"),
        },
        DType::Structured { fields, .. } => {
            out.push('{');
            for (i, field) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_string(&field.name, out);
                out.push(':');
                match slice_at(bytes, field.offset, field.dtype.itemsize()) {
                    Some(part) => element(&field.dtype, part, out),
                    None => out.push_str("null"),
                }
            }
            out.push('}');
        }
        DType::SubArray { base, shape } => {
            let itemsize = base.itemsize();
            match usize::try_from(itemsize)
                .ok()
                .and_then(|size| Layout::contiguous(0, shape, size, false))
            {
                Some(layout) => nested(&layout, out, |at, out| {
                    match slice_at(bytes, at as u64, itemsize) {
                        Some(part) => element(base, part, out),
                        None => out.push_str("null"),
                    }
                }),
                None => out.push_str("null"),
            }
        }
    }
}

/// `len` bytes at `offset` of `bytes`, if they are all there.
fn slice_at(bytes: &[u8], offset: u64, len: u64) -> Option<&[u8]> {
    let start = usize::try_from(offset).ok()?;
    let end = start.checked_add(usize::try_from(len).ok()?)?;
    bytes.get(start..end)
}

/// One element of a builtin dtype, whose `itemsize` bytes `bytes` holds.
fn scalar_element(kind: char, itemsize: u64, order: ByteOrder, bytes: &[u8], out: &mut String) {
    let first = bytes.first().copied().unwrap_or(0);
    match (kind, itemsize) {
        ('b', _) => out.push_str(if first != 0 { "true" } else { "false" }),
        ('i', 1) => int(i128::from(i8::from_le_bytes([first])), out),
        ('u', 1) => int(i128::from(first), out),
        ('i', 2) => int(i128::from(i16::from_le_bytes(ordered(bytes, order))), out),
        ('u', 2) => int(i128::from(u16::from_le_bytes(ordered(bytes, order))), out),
        ('i', 4) => int(i128::from(i32::from_le_bytes(ordered(bytes, order))), out),
        ('u', 4) => int(i128::from(u32::from_le_bytes(ordered(bytes, order))), out),
        ('i' | 'M' | 'm', 8) => int(i128::from(i64::from_le_bytes(ordered(bytes, order))), out),
        ('u', 8) => int(i128::from(u64::from_le_bytes(ordered(bytes, order))), out),
        ('f', 2) => float(
            f64::from(half_to_f32(u16::from_le_bytes(ordered(bytes, order)))),
            out,
        ),
        ('f', 4) => float(f64::from(f32::from_le_bytes(ordered(bytes, order))), out),
        ('f', 8) => float(f64::from_le_bytes(ordered(bytes, order)), out),
        ('f', 16) | ('f', 12) if order != ByteOrder::Big => {
            float(x87_to_f64(ordered(bytes, order)), out)
        }
        ('c', 8 | 16) => {
            // Two floats of half the size each (8 or 4 bytes, so the split is in range).
            let half = itemsize / 2;
            let part = DType::simple('f', half, order);
            let (re, im) = bytes.split_at(usize::try_from(half).unwrap_or(0).min(bytes.len()));
            out.push('[');
            element(&part, re, out);
            out.push(',');
            element(&part, im, out);
            out.push(']');
        }
        ('S', _) => {
            // As numpy's tolist(): trailing NULs are not part of the value.
            let end = bytes
                .iter()
                .rposition(|&b| b != 0)
                .map_or(0, |i| i.saturating_add(1));
            let _ = write!(
                out,
                r#"{{"$bytes":"{}"}}"#,
                b64(bytes.get(..end).unwrap_or(bytes))
            );
        }
        ('U', _) => {
            let text: String = bytes
                .chunks_exact(4)
                .map(|c| {
                    let cp = u32::from_le_bytes(ordered(c, order));
                    char::from_u32(cp).unwrap_or(char::REPLACEMENT_CHARACTER)
                })
                .collect();
            json_string(text.trim_end_matches('\0'), out);
        }
        _ => {
            let _ = write!(out, r#"{{"$bytes":"{}"}}"#, b64(bytes));
        }
    }
}

/// IEEE half to f32.
#[allow(
    clippy::arithmetic_side_effects,
    reason = "bit arithmetic on the fields of a 16-bit value: every result fits"
)]
fn half_to_f32(h: u16) -> f32 {
    let sign = u32::from(h >> 15) << 31;
    let exp = (h >> 10) & 0x1f;
    let frac = u32::from(h & 0x3ff);
    let bits = match exp {
        0 if frac == 0 => sign,
        0 => {
            // subnormal: normalise
            let mut e = -1i32;
            let mut f = frac;
            while f & 0x400 == 0 {
                f <<= 1;
                e -= 1;
            }
            sign | (((127 - 15 + 1 + e) as u32) << 23) | ((f & 0x3ff) << 13)
        }
        0x1f => sign | 0x7f80_0000 | (frac << 13),
        _ => sign | ((u32::from(exp) + 127 - 15) << 23) | (frac << 13),
    };
    f32::from_bits(bits)
}

/// x87 80-bit extended precision (numpy's longdouble on x86-64) to f64.
#[allow(
    clippy::arithmetic_side_effects,
    reason = "a 15-bit exponent less constants fits i32, and f64 arithmetic saturates to inf"
)]
fn x87_to_f64(b: [u8; 10]) -> f64 {
    let [m0, m1, m2, m3, m4, m5, m6, m7, s0, s1] = b;
    let mantissa = u64::from_le_bytes([m0, m1, m2, m3, m4, m5, m6, m7]);
    let se = u16::from_le_bytes([s0, s1]);
    let sign = if se & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = i32::from(se & 0x7fff);
    if exp == 0x7fff {
        return if mantissa << 1 == 0 {
            sign * f64::INFINITY
        } else {
            f64::NAN
        };
    }
    if exp == 0 && mantissa == 0 {
        return sign * 0.0;
    }
    sign * (mantissa as f64) * 2f64.powi(exp - 16383 - 63)
}

/// Writes the elements of `layout` as nested JSON lists in C order.
fn nested(layout: &Layout, out: &mut String, mut each: impl FnMut(usize, &mut String)) {
    let dims = &layout.shape;
    if dims.is_empty() {
        if let Some(at) = layout.c_order_offsets().next() {
            each(at, out);
        }
        return;
    }
    if dims.contains(&0) {
        // Empty: the brackets down to the first zero dimension.
        let depth = dims
            .iter()
            .position(|&d| d == 0)
            .map_or(dims.len(), |p| p.saturating_add(1));
        for _ in 0..depth {
            out.push('[');
        }
        for _ in 0..depth {
            out.push(']');
        }
        return;
    }
    let mut index = vec![0u64; dims.len()];
    for _ in 0..dims.len() {
        out.push('[');
    }
    let mut first = true;
    for at in layout.c_order_offsets() {
        if !first {
            out.push(',');
        }
        first = false;
        each(at, out);
        // Close and reopen brackets where the index rolls over.
        // An index stays below its dimension, so adding one cannot overflow.
        let mut closed = 0usize;
        for (at, &dim) in index.iter_mut().zip(dims).rev() {
            *at = at.saturating_add(1);
            if *at < dim {
                break;
            }
            *at = 0;
            closed = closed.saturating_add(1);
        }
        if closed == dims.len() {
            break;
        }
        for _ in 0..closed {
            out.push(']');
        }
        if closed > 0 {
            out.push(',');
            first = true;
            for _ in 0..closed {
                out.push('[');
            }
        }
    }
    for _ in 0..dims.len() {
        out.push(']');
    }
}

/// Renders the object trees of the streams an input holds.
struct JsonBuilder<'o> {
    options: &'o ExtractOptions,
    arrays_dir: Option<&'o Path>,
    /// The JSON file's stem and a dot: array files are named `a.data.npy` beside `a.json`,
    /// so two documents written to one folder never share an array file.
    file_prefix: String,
    /// Arrays as dtype and shape only, without their data (metadata beside a safetensors
    /// file, whose tensors are elsewhere).
    arrays_described: bool,
    namer: Namer,
    /// Closed temporary files (an input can hold more arrays than files may be open).
    files: Vec<(tempfile::TempPath, String)>,
    index: ExtractIndex,
    /// Rendered roots: the member they came from, and the JSON.
    roots: Vec<(Option<String>, String)>,
    /// Bytes of JSON rendered so far, in the roots.
    document_len: u64,
    /// Array bytes written to `.npy` files so far, and announced to
    /// [`ExtractOptions::progress_total`]: the progress bar of `--arrays npy`.
    progress: (u64, u64),
}

impl JsonBuilder<'_> {
    /// Tells the progress total about arrays about to be written to files.
    fn announce<'a>(&mut self, arrays: impl Iterator<Item = &'a ArrayReport>) {
        let Some(set_total) = self.options.progress_total.as_ref() else {
            return;
        };
        if self.arrays_dir.is_none() || self.arrays_described {
            return;
        }
        let more = arrays
            .filter(|a| a.unavailable.is_none())
            .filter_map(|a| a.info.nbytes())
            .fold(0u64, u64::saturating_add);
        self.progress.1 = self.progress.1.saturating_add(more);
        set_total(self.progress.1);
    }
}

impl JsonBuilder<'_> {
    /// Refuses a document past `max_bytes` ([`Limit::Bytes`](crate::limits::Limit::Bytes)): shared strings, inline arrays of strided
    /// views and `$ref` paths can make the JSON far larger than its input, and the document
    /// is built in memory.
    fn check_size(&self, rendering: usize, at: u64) -> Result<()> {
        let size = self.document_len.saturating_add(rendering as u64);
        if size > self.options.max_bytes {
            return Err(crate::limits::Limit::Bytes.exceeded(
                at,
                format_args!(
                    "the JSON document would be larger than {} bytes",
                    self.options.max_bytes
                ),
            ));
        }
        Ok(())
    }

    /// An array as JSON: inline nested lists, or a `.npy` file beside the output.
    /// An array written to a `.npy` file beside the document: `"file": name`.
    fn array_file(
        &mut self,
        report: &ArrayReport,
        buffer: &[u8],
        layout: &Layout,
        dir: &Path,
        out: &mut String,
    ) -> Result<()> {
        let name = format!(
            "{}{}",
            self.file_prefix,
            self.namer.name(&report.path, "npy")
        );
        let cannot = |e: std::io::Error| Error::io(format!("cannot write {name}: {e}"), e);
        let temp = output_temp(dir)?;
        let mut writer = std::io::BufWriter::new(temp);
        let (base, shown) = (self.progress.0, self.options.progress.as_ref());
        let mut done = 0u64;
        let mut progress = |n: u64| {
            done = done.saturating_add(n);
            if let Some(show) = shown {
                show(base.saturating_add(done));
            }
        };
        let mut entry = super::write_npy(
            report,
            buffer,
            layout,
            self.options.bfloat16,
            &mut writer,
            &mut progress,
        )
        .map_err(cannot)?;
        self.progress.0 = base.saturating_add(done);
        let temp = writer.into_inner().map_err(|e| cannot(e.into_error()))?;
        out.push_str(r#","file":"#);
        json_string(&name, out);
        entry.file = name.clone();
        self.index.arrays.push(entry);
        self.files.push((temp.into_temp_path(), name));
        Ok(())
    }

    /// An array inline: `"data":` nested lists of its elements, in C order.
    fn array_inline(
        &mut self,
        report: &ArrayReport,
        buffer: &[u8],
        layout: &Layout,
        out: &mut String,
    ) -> Result<()> {
        // At least a digit and a comma per element.
        let least = layout.count().unwrap_or(u64::MAX).saturating_mul(2);
        let least = usize::try_from(least).unwrap_or(usize::MAX);
        self.check_size(out.len().saturating_add(least), report.offset.unwrap_or(0))?;
        out.push_str(r#","data":"#);
        let (dtype, transform) = plan_write(&report.info, self.options.bfloat16);
        // Elements are read in the stored byte order; widening is for files only.
        // float8 is written to files as its raw bytes, but its values are the JSON's.
        let read_as =
            if transform == Transform::None && !matches!(report.info.dtype, DType::Float8(_)) {
                dtype
            } else {
                report.info.dtype.clone()
            };
        let itemsize = layout.itemsize as u64;
        nested(layout, out, |at, out| {
            match slice_at(buffer, at as u64, itemsize) {
                Some(bytes) => element(&read_as, bytes, out),
                None => out.push_str("null"),
            }
        });
        Ok(())
    }

    fn array(
        &mut self,
        report: &ArrayReport,
        located: std::result::Result<(std::borrow::Cow<'_, [u8]>, Layout), String>,
        out: &mut String,
    ) -> Result<()> {
        let dtype = report.info.dtype.descr().to_json();
        let _ = write!(
            out,
            r#"{{"$array":{{"dtype":{dtype},"shape":{}"#,
            serde_json::to_string(&report.shape).unwrap_or_default()
        );
        match located {
            Err(reason) => {
                out.push_str(r#","unavailable":"#);
                json_string(&reason, out);
                self.index.skipped.push(SkippedArray {
                    path: report.path.clone(),
                    reason,
                });
            }
            Ok(_) if self.arrays_described => {}
            Ok((buffer, layout)) => match self.arrays_dir {
                Some(dir) => self.array_file(report, &buffer, &layout, dir, out)?,
                None => self.array_inline(report, &buffer, &layout, out)?,
            },
        }
        out.push_str("}}");
        Ok(())
    }
}

/// One pickle's object tree being rendered: an explicit task stack (input controls the
/// depth), the first path of each shared object met so far, and the walk's array reports.
struct Renderer<'r, 'o, 'v, 'd> {
    builder: &'r mut JsonBuilder<'o>,
    view: &'r StreamView<'v, 'd>,
    graph: &'r Graph<'d>,
    root_path: &'r str,
    /// How many edges lead to each node ([`count_references`]).
    references: Vec<u32>,
    /// The link, not the rendered path: rendering costs the depth, and a chain of shared
    /// containers a million deep would cost depth² to render up front.
    first_path: HashMap<NodeId, Rc<PathLink>>,
    /// The walk's array reports by node (the first of a node's, as the walk met it first).
    reports: &'r HashMap<NodeId, &'r ArrayReport>,
    out: String,
}

impl Renderer<'_, '_, '_, '_> {
    fn run(mut self, root: NodeId, at: u64) -> Result<String> {
        let mut tasks = vec![Task::Node(root, PathLink::root(self.root_path))];
        let mut next: Vec<Task> = Vec::new();
        while let Some(task) = tasks.pop() {
            self.builder.check_size(self.out.len(), at)?;
            match task {
                Task::Text(t) => self.out.push_str(t),
                Task::Owned(t) => self.out.push_str(&t),
                Task::Node(node, link) => {
                    self.node(node, &link, &mut next)?;
                    tasks.extend(next.drain(..).rev());
                }
            }
        }
        Ok(self.out)
    }

    /// Renders `node`, or a `$ref` to where it was rendered first; what is inside it goes
    /// to `next`, in order.
    fn node(&mut self, node: NodeId, link: &Rc<PathLink>, next: &mut Vec<Task>) -> Result<()> {
        let graph = self.graph;
        if self.references.get(node.index()).copied().unwrap_or(0) >= 2 {
            // Met again: only nodes with identity were recorded, so has_identity (which
            // can cost the size of an OrderedDict's items) runs once per node, not once
            // per reference.
            if let Some(first) = self.first_path.get(&node) {
                self.out.push_str(r#"{"$ref":"#);
                json_string(&first.full(graph, self.root_path), &mut self.out);
                self.out.push('}');
                return Ok(());
            }
            if has_identity(graph, self.view.lifted, node) {
                self.first_path.insert(node, link.clone());
            }
        }
        let child = |step: Step| PathLink::child(graph, link, step);
        let out = &mut self.out;
        match graph.node(node) {
            Node::None => out.push_str("null"),
            Node::Bool(b) => out.push_str(if b { "true" } else { "false" }),
            Node::Int(v) => int(i128::from(v), out),
            Node::BigInt(v) => {
                if v.bits() > 100_000 {
                    let _ = write!(out, r#"{{"$int_hex":"{}"}}"#, v.to_str_radix(16));
                } else {
                    let _ = write!(out, r#"{{"$int":"{v}"}}"#);
                }
            }
            Node::Float(x) => float(x, out),
            Node::Str(s) => match graph.surrogate_strs.get(&node) {
                Some(cps) => json_code_points(cps, out),
                None => json_string(s, out),
            },
            Node::Bytes(b, kind) => bytes(b, kind, out),
            Node::Tuple(items) => seq(next, Some("$tuple"), items, |i| child(Step::Index(i))),
            Node::List(items) => seq(next, None, items, |i| child(Step::Index(i))),
            Node::Set(items) => seq(next, Some("$set"), items, |i| child(Step::Index(i))),
            Node::FrozenSet(items) => {
                seq(next, Some("$frozenset"), items, |i| child(Step::Index(i)))
            }
            Node::Dict(pairs) => mapping(graph, next, pairs, |k| child(Step::Key(k))),
            Node::Global { index, .. } => {
                let name = graph
                    .globals
                    .get(index as usize)
                    .map(|g| format!("{}.{}", g.module, g.name))
                    .unwrap_or_default();
                out.push_str(r#"{"$global":"#);
                json_string(&name, out);
                out.push('}');
            }
            Node::Extension { code, .. } => {
                let _ = write!(out, r#"{{"$ext":{code}}}"#);
            }
            Node::Buffer { index, .. } => {
                let _ = write!(out, r#"{{"$buffer":{index}}}"#);
            }
            // A legacy tar checkpoint's tensor (see `lift::tar_tensors`).
            Node::PersistentId { .. } if self.view.lifted.array(node).is_some() => {
                let lifted = self.view.lifted;
                if let Some(found) = lifted.array(node) {
                    self.call_array(node, found, link, next)?;
                }
            }
            Node::PersistentId { pid, .. } => {
                next.push(Task::Text(r#"{"$persistent_id":"#));
                next.push(Task::Node(pid, link.clone()));
                next.push(Task::Text("}"));
            }
            Node::Call(_) => self.call(node, link, next)?,
        }
        Ok(())
    }

    /// A call: an array, a plain value pickled as a call, or any other object.
    fn call(&mut self, node: NodeId, link: &Rc<PathLink>, next: &mut Vec<Task>) -> Result<()> {
        let graph = self.graph;
        let lifted = self.view.lifted;
        if let Some(found) = lifted.array(node) {
            return self.call_array(node, found, link, next);
        }
        let child = |step: Step| PathLink::child(graph, link, step);
        let out = &mut self.out;
        match lifted.plain(graph, node) {
            Some(PlainValue::OrderedDict(pairs)) => {
                mapping(graph, next, &pairs, |k| child(Step::Key(k)))
            }
            Some(PlainValue::Set(items)) => {
                seq(next, Some("$set"), &items, |i| child(Step::Index(i)))
            }
            Some(PlainValue::FrozenSet(items)) => {
                seq(next, Some("$frozenset"), &items, |i| child(Step::Index(i)))
            }
            Some(PlainValue::ByteArray(b)) => {
                let _ = write!(out, r#"{{"$bytearray":"{}"}}"#, b64(&b));
            }
            Some(PlainValue::Bytes(b)) => {
                let _ = write!(out, r#"{{"$bytes":"{}"}}"#, b64(&b));
            }
            Some(PlainValue::Complex(re, im)) => {
                out.push_str(r#"{"$complex":["#);
                float(re, out);
                out.push(',');
                float(im, out);
                out.push_str("]}");
            }
            Some(PlainValue::Object { class }) => object(graph, next, node, Some(class), 3, link),
            None => {
                let (class, skip) = match lifted.constructed_class(graph, node) {
                    Some((class, skip)) => (Some(class), skip),
                    None => (None, 0),
                };
                object(graph, next, node, class, skip, link);
            }
        }
        Ok(())
    }

    /// An array, joined to the walk's report of it by node (the report has where its
    /// storage is); an array the walk did not reach is reported here.
    fn call_array(
        &mut self,
        node: NodeId,
        found: &Result<lift::ArrayInfo, String>,
        link: &Rc<PathLink>,
        next: &mut Vec<Task>,
    ) -> Result<()> {
        if let Some(mask) = self.view.lifted.mask(node) {
            return self.masked(node, found, mask, link, next);
        }
        self.array_body(node, found, link, next)
    }

    /// [`Renderer::call_array`] without the masked-array wrapper.
    fn array_body(
        &mut self,
        node: NodeId,
        found: &Result<lift::ArrayInfo, String>,
        link: &Rc<PathLink>,
        next: &mut Vec<Task>,
    ) -> Result<()> {
        let report = self.reports.get(&node).copied();
        let info = match (found, report) {
            (_, Some(r)) => &r.info,
            (Ok(info), None) => info,
            (Err(reason), None) => {
                self.out.push_str(r#"{"$array":{"unavailable":"#);
                json_string(reason, &mut self.out);
                self.out.push_str("}}");
                return Ok(());
            }
        };
        if let ArrayData::Objects(list) = &info.data {
            object_array(self.graph, info, *list, link, &mut self.out, next);
            return Ok(());
        }
        let fallback;
        let report = match report {
            Some(report) => report,
            None => {
                fallback = ArrayReport::unlocated(link.cut(self.graph, self.root_path), info, node);
                &fallback
            }
        };
        let located = locate(Some(self.graph), self.view.bytes, Some(self.view), report);
        self.builder.array(report, located, &mut self.out)
    }
}

impl Renderer<'_, '_, '_, '_> {
    /// A numpy masked array: `{"$masked": {"data": <array>, "mask": <array>, "fill_value":
    /// <value>}}` (the fill value as the pickle has it: `null` when none was set).
    fn masked(
        &mut self,
        node: NodeId,
        found: &Result<lift::ArrayInfo, String>,
        mask: &lift::masked::Mask,
        link: &Rc<PathLink>,
        next: &mut Vec<Task>,
    ) -> Result<()> {
        self.out.push_str(r#"{"$masked":{"data":"#);
        // The data, as any array (its report is the walk's, by node).
        let mut data_tasks = Vec::new();
        self.array_body(node, found, link, &mut data_tasks)?;
        let mut mask_json = String::from(r#","mask":"#);
        match &mask.mask {
            Ok(info) => {
                let path = format!(
                    "{}{}",
                    link.cut(self.graph, self.root_path),
                    lift::masked::MASK_STEP
                );
                let report = ArrayReport::unlocated(path, info, node);
                let located = locate(Some(self.graph), self.view.bytes, Some(self.view), &report);
                self.builder.array(&report, located, &mut mask_json)?;
            }
            Err(reason) => {
                mask_json.push_str(r#"{"$array":{"unavailable":"#);
                json_string(reason, &mut mask_json);
                mask_json.push_str("}}");
            }
        }
        next.extend(data_tasks);
        next.push(Task::Owned(mask_json.into_boxed_str()));
        match mask.fill_value {
            Some(fill) => {
                next.push(Task::Text(r#","fill_value":"#));
                let state = PathLink::child(self.graph, link, Step::State);
                next.push(Task::Node(
                    fill,
                    PathLink::child(self.graph, &state, Step::Index(6)),
                ));
            }
            None => next.push(Task::Text(r#","fill_value":null"#)),
        }
        next.push(Task::Text("}}"));
        Ok(())
    }
}

/// A byte string: Python 2 `str` that Python 3 loads as ASCII text, else `$bytes` or
/// `$bytearray`.
fn bytes(b: &[u8], kind: BytesKind, out: &mut String) {
    match std::str::from_utf8(b) {
        // A Python 2 str: Python 3 loads it as str (ASCII); other bytes would fail that
        // decoding, so they stay bytes (as encoding='bytes' loads them).
        Ok(text) if kind == BytesKind::Py2Str && b.is_ascii() => json_string(text, out),
        _ => {
            let tag = if kind == BytesKind::ByteArray {
                "$bytearray"
            } else {
                "$bytes"
            };
            let _ = write!(out, r#"{{"{tag}":"{}"}}"#, b64(b));
        }
    }
}

/// An object array: nested lists (in the array's shape when its elements fill it) of the
/// elements, each rendered as a value.
fn object_array(
    graph: &Graph<'_>,
    info: &lift::ArrayInfo,
    list: NodeId,
    link: &Rc<PathLink>,
    out: &mut String,
    next: &mut Vec<Task>,
) {
    let items: &[NodeId] = match graph.node(list) {
        Node::List(items) | Node::Tuple(items) => items,
        _ => &[],
    };
    let _ = write!(
        out,
        r#"{{"$array":{{"dtype":{},"shape":{},"data":"#,
        info.dtype.descr().to_json(),
        serde_json::to_string(&info.shape).unwrap_or_default()
    );
    let mut text = String::new();
    let layout = Layout::contiguous(0, &info.shape, 1, info.fortran_order);
    let mut order = Vec::new();
    match layout {
        Some(l) if l.count() == u64::try_from(items.len()).ok() => {
            nested(&l, &mut text, |at, t| {
                order.push(at);
                t.push('\u{1}');
            });
        }
        _ => {
            text.push('[');
            for i in 0..items.len() {
                if i > 0 {
                    text.push(',');
                }
                order.push(i);
                text.push('\u{1}');
            }
            text.push(']');
        }
    }
    // Interleave the bracket text with element tasks (at each \u{1} marker).
    let mut pieces = text.split('\u{1}');
    if let Some(first) = pieces.next() {
        next.push(Task::Owned(first.into()));
    }
    for (k, piece) in pieces.enumerate() {
        let at = order.get(k).copied().unwrap_or(0);
        match items.get(at) {
            Some(&element) => {
                let step = PathLink::child(graph, link, Step::Index(k));
                next.push(Task::Node(element, step));
            }
            None => next.push(Task::Text("null")),
        }
        next.push(Task::Owned(piece.into()));
    }
    next.push(Task::Text("}}"));
}

/// Whether a node has an identity worth a `$ref` when met again (not immutable scalars
/// or strings, which pickle may share without meaning anything).
fn has_identity(graph: &Graph<'_>, lifted: &Lifted, id: NodeId) -> bool {
    match graph.node(id) {
        Node::List(_) | Node::Tuple(_) | Node::Dict(_) | Node::Set(_) | Node::FrozenSet(_) => true,
        // bytes and complex written as calls (protocols < 3) are values, not objects
        Node::Call(_) => !matches!(
            lifted.plain(graph, id),
            Some(PlainValue::Bytes(_) | PlainValue::Complex(..))
        ),
        _ => false,
    }
}

/// How many edges lead to each node reachable from `root` (the root counts one), by node
/// index. Vectors, not maps: a million nested lists make a million entries.
fn count_references(graph: &Graph<'_>, root: NodeId) -> Vec<u32> {
    let mut counts = vec![0u32; graph.len()];
    let mut expanded = vec![false; graph.len()];
    let mut todo = vec![root];
    if let Some(c) = counts.get_mut(root.index()) {
        *c = 1;
    }
    while let Some(id) = todo.pop() {
        match expanded.get_mut(id.index()) {
            Some(done) if !*done => *done = true,
            _ => continue,
        }
        let mut edge = |child: NodeId, todo: &mut Vec<NodeId>| {
            if let Some(c) = counts.get_mut(child.index()) {
                *c = c.saturating_add(1);
            }
            todo.push(child);
        };
        match graph.node(id) {
            Node::Tuple(items) | Node::List(items) | Node::Set(items) | Node::FrozenSet(items) => {
                for &c in items {
                    edge(c, &mut todo);
                }
            }
            Node::Dict(pairs) => {
                for &(k, v) in pairs {
                    edge(k, &mut todo);
                    edge(v, &mut todo);
                }
            }
            Node::Call(call) => {
                if let Some(items) = graph.tuple(call.args) {
                    for &c in items {
                        edge(c, &mut todo);
                    }
                }
                for c in call
                    .kwargs
                    .iter()
                    .chain(call.state.iter())
                    .chain(call.list_items.iter())
                {
                    edge(*c, &mut todo);
                }
                for &(k, v) in &call.dict_items {
                    edge(k, &mut todo);
                    edge(v, &mut todo);
                }
            }
            Node::PersistentId { pid, .. } => edge(pid, &mut todo),
            _ => {}
        }
    }
    counts
}

fn seq(
    next: &mut Vec<Task>,
    tag: Option<&'static str>,
    items: &[NodeId],
    mut link: impl FnMut(usize) -> Rc<PathLink>,
) {
    match tag {
        Some("$tuple") => next.push(Task::Text(r#"{"$tuple":["#)),
        Some("$set") => next.push(Task::Text(r#"{"$set":["#)),
        Some(_) => next.push(Task::Text(r#"{"$frozenset":["#)),
        None => next.push(Task::Text("[")),
    }
    for (i, &item) in items.iter().enumerate() {
        if i > 0 {
            next.push(Task::Text(","));
        }
        next.push(Task::Node(item, link(i)));
    }
    next.push(Task::Text(if tag.is_some() { "]}" } else { "]" }));
}

/// A dict: a JSON object when every key is a str not starting with `$` (the last value of
/// a repeated key wins, as in Python); else `{"$dict": [[k, v], …]}`.
fn mapping(
    graph: &Graph<'_>,
    next: &mut Vec<Task>,
    pairs: &[(NodeId, NodeId)],
    mut link: impl FnMut(NodeId) -> Rc<PathLink>,
) {
    let plain = pairs
        .iter()
        .all(|(k, _)| graph.str(*k).is_some_and(|s| !s.starts_with('$')));
    if plain {
        let mut last: HashMap<&str, usize> = HashMap::new();
        for (i, (k, _)) in pairs.iter().enumerate() {
            if let Some(s) = graph.str(*k) {
                last.insert(s, i);
            }
        }
        next.push(Task::Text("{"));
        let mut first = true;
        for (i, &(k, v)) in pairs.iter().enumerate() {
            let key = graph.str(k).unwrap_or_default();
            if last.get(key) != Some(&i) {
                continue;
            }
            let mut text = String::new();
            if !first {
                text.push(',');
            }
            first = false;
            json_string(key, &mut text);
            text.push(':');
            next.push(Task::Owned(text.into()));
            next.push(Task::Node(v, link(k)));
        }
        next.push(Task::Text("}"));
    } else {
        next.push(Task::Text(r#"{"$dict":["#));
        for (i, &(k, v)) in pairs.iter().enumerate() {
            next.push(Task::Text(if i > 0 { ",[" } else { "[" }));
            next.push(Task::Node(k, link(k)));
            next.push(Task::Text(","));
            next.push(Task::Node(v, link(k)));
            next.push(Task::Text("]"));
        }
        next.push(Task::Text("]}"));
    }
}

/// Any other object: `{"$object": "module.Name", "args", "kwargs", "state", "items",
/// "dict_items"}`, empty parts left out. `class` overrides the callable (copyreg helpers),
/// whose first `skip` arguments are construction details.
fn object(
    graph: &Graph<'_>,
    next: &mut Vec<Task>,
    node: NodeId,
    class: Option<NodeId>,
    skip: usize,
    link: &Rc<PathLink>,
) {
    let Some(call) = graph.call(node) else { return };
    let child = |step: Step| PathLink::child(graph, link, step);
    let callable = class.unwrap_or(call.callable);
    match graph.global(callable) {
        Some(g) => {
            let mut head = String::from(r#"{"$object":"#);
            json_string(&format!("{}.{}", g.module, g.name), &mut head);
            next.push(Task::Owned(head.into()));
        }
        None => {
            next.push(Task::Text(r#"{"$object":null,"callable":"#));
            next.push(Task::Node(callable, link.clone()));
        }
    }
    let args: Vec<NodeId> = graph
        .tuple(call.args)
        .map(|a| a.iter().skip(skip).copied().collect())
        .unwrap_or_default();
    if !args.is_empty() {
        next.push(Task::Text(r#","args":["#));
        for (i, &a) in args.iter().enumerate() {
            if i > 0 {
                next.push(Task::Text(","));
            }
            next.push(Task::Node(a, child(Step::Args(i))));
        }
        next.push(Task::Text("]"));
    }
    if let Some(kwargs) = call.kwargs {
        next.push(Task::Text(r#","kwargs":"#));
        match graph.node(kwargs) {
            Node::Dict(pairs) => mapping(graph, next, pairs, |k| child(Step::Kwargs(k))),
            _ => next.push(Task::Node(kwargs, link.clone())),
        }
    }
    if !call.list_items.is_empty() {
        next.push(Task::Text(r#","items":"#));
        seq(next, None, &call.list_items, |i| child(Step::Index(i)));
    }
    if !call.dict_items.is_empty() {
        next.push(Task::Text(r#","dict_items":"#));
        mapping(graph, next, &call.dict_items, |k| child(Step::Key(k)));
    }
    if let Some(state) = call.state {
        next.push(Task::Text(r#","state":"#));
        if is_attr_dict(graph, state) {
            if let Node::Dict(pairs) = graph.node(state) {
                mapping(graph, next, pairs, |k| child(Step::Attr(k)));
            }
        } else {
            next.push(Task::Node(state, child(Step::State)));
        }
    }
    next.push(Task::Text("}"));
}

impl Visitor for JsonBuilder<'_> {
    fn stream(&mut self, view: &StreamView<'_, '_>) -> Result<()> {
        let graph = &view.stream.graph;
        // The walk's array reports by node: the first of a node's (memo carried between
        // pickles, the walk reports a node once, where it met it first).
        let mut reports: HashMap<NodeId, &ArrayReport> = HashMap::new();
        for array in view.pickles.iter().flat_map(|p| p.arrays.iter()) {
            if let Some(node) = array.node {
                reports.entry(node).or_insert(array);
            }
        }
        let objects = view
            .pickles
            .get(view.object_pickles.clone())
            .unwrap_or_default();
        self.announce(objects.iter().flat_map(|p| p.arrays.iter()));
        for index in view.object_pickles.clone() {
            let Some(pickle) = view.stream.pickles.get(index) else {
                continue;
            };
            let renderer = Renderer {
                builder: self,
                view,
                graph,
                root_path: view.root_path,
                references: count_references(graph, pickle.root),
                first_path: HashMap::new(),
                reports: &reports,
                out: String::new(),
            };
            let json = renderer.run(pickle.root, pickle.start as u64)?;
            self.document_len = self.document_len.saturating_add(json.len() as u64);
            self.roots.push((view.member.map(str::to_string), json));
        }
        Ok(())
    }

    fn plain_array(&mut self, array: &ArrayReport, npy: &[u8]) -> Result<()> {
        self.announce(std::iter::once(array));
        let located = locate(None, npy, None, array);
        let mut out = String::new();
        self.array(array, located, &mut out)?;
        self.document_len = self.document_len.saturating_add(out.len() as u64);
        self.roots.push((array.member.clone(), out));
        Ok(())
    }
}

/// One object of a stream as JSON text, its arrays as dtype and shape only; `path` is the
/// object's path (for `$ref`s to objects met again inside it).
pub(super) fn render_described(
    view: &StreamView<'_, '_>,
    options: &ExtractOptions,
    node: NodeId,
    path: &str,
) -> Result<String> {
    let mut builder = JsonBuilder {
        options,
        arrays_dir: None,
        file_prefix: String::new(),
        arrays_described: true,
        namer: Namer::default(),
        files: Vec::new(),
        index: ExtractIndex {
            schema: INDEX_SCHEMA,
            source: String::new(),
            arrays: Vec::new(),
            skipped: Vec::new(),
        },
        roots: Vec::new(),
        document_len: 0,
        progress: (0, 0),
    };
    let graph = &view.stream.graph;
    let mut reports: HashMap<NodeId, &ArrayReport> = HashMap::new();
    for array in view.pickles.iter().flat_map(|p| p.arrays.iter()) {
        if let Some(node) = array.node {
            reports.entry(node).or_insert(array);
        }
    }
    let renderer = Renderer {
        builder: &mut builder,
        view,
        graph,
        root_path: path,
        references: count_references(graph, node),
        first_path: HashMap::new(),
        reports: &reports,
        out: String::new(),
    };
    renderer.run(node, 0)
}

pub(crate) fn extract_json(
    source: &str,
    bytes: &[u8],
    options: &ExtractOptions,
    file: Option<&Path>,
    arrays_as_files: bool,
) -> Result<Extracted> {
    if let Some(file) = file {
        super::refuse_existing(file, options.force)?;
    }
    let parent = file.map(super::parent_of);
    let mut builder = JsonBuilder {
        options,
        arrays_dir: if arrays_as_files {
            parent.as_deref()
        } else {
            None
        },
        file_prefix: file
            .and_then(|f| f.file_stem())
            .map(|stem| format!("{}.", stem.to_string_lossy()))
            .unwrap_or_default(),
        arrays_described: false,
        namer: Namer::default(),
        files: Vec::new(),
        index: ExtractIndex {
            schema: INDEX_SCHEMA,
            source: source.to_string(),
            arrays: Vec::new(),
            skipped: Vec::new(),
        },
        roots: Vec::new(),
        document_len: 0,
        progress: (0, 0),
    };
    if let Some(name) = file.and_then(|f| f.file_name()).and_then(|n| n.to_str()) {
        builder.namer.reserve(name);
    }
    let report = inspect_with(source, bytes, &options.inspect, &mut builder)?;
    let document = document(&report.container, &builder.roots);
    let json = match (file, parent.as_deref()) {
        (Some(file), Some(parent)) => {
            let arrays = std::mem::take(&mut builder.files);
            write_files(&document, file, parent, arrays, options.force)?;
            None
        }
        _ => Some(document.into_bytes()),
    };
    Ok(Extracted {
        report,
        index: builder.index,
        json,
    })
}

/// The rendered roots as one document: the value itself, `{"member": value, …}` for an
/// npz, `{"$pickles": […]}` for several pickles.
fn document(container: &str, roots: &[(Option<String>, String)]) -> String {
    let mut document = String::new();
    match roots {
        [(_, only)] if container != "npz" => document.push_str(only),
        roots if container == "npz" => {
            document.push('{');
            for (i, (member, json)) in roots.iter().enumerate() {
                if i > 0 {
                    document.push(',');
                }
                let key = member.as_deref().unwrap_or("").trim_end_matches(".npy");
                json_string(key, &mut document);
                document.push(':');
                document.push_str(json);
            }
            document.push('}');
        }
        roots => {
            document.push_str(r#"{"$pickles":["#);
            for (i, (_, json)) in roots.iter().enumerate() {
                if i > 0 {
                    document.push(',');
                }
                document.push_str(json);
            }
            document.push_str("]}");
        }
    }
    document.push('\n');
    document
}

/// Writes the document to `file` and moves the arrays written beside it into place; the
/// document last, so that it never names an array file that is not there.
/// Every target is checked before the first is renamed into place: an array file that is
/// there already is refused (unless `force`) and nothing is written.
fn write_files(
    document: &str,
    file: &Path,
    parent: &Path,
    arrays: Vec<(tempfile::TempPath, String)>,
    force: bool,
) -> Result<()> {
    let cannot = |target: &Path, e: std::io::Error| {
        let e = super::without_temp_path(e);
        Error::io(format!("cannot write {}: {e}", target.display()), e)
    };
    super::refuse_existing(file, force)?;
    for (_, name) in &arrays {
        super::refuse_existing(&parent.join(name), force)?;
    }
    let mut temp = output_temp(parent)?;
    temp.write_all(document.as_bytes())
        .map_err(|e| cannot(file, e))?;
    for (array, name) in arrays {
        let target = parent.join(&name);
        array
            .persist(&target)
            .map_err(|e| cannot(&target, e.error))?;
    }
    temp.persist(file).map_err(|e| cannot(file, e.error))?;
    Ok(())
}
