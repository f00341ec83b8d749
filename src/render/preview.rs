//! `explain`'s preview of the object tree: what a person wants to see of plain data before
//! reaching for `extract` — each container's type and length, its first keys or items, the
//! first values of short sequences, and a one-line summary of each array (shape, dtype,
//! path). Bounded in every direction: `depth` levels, `max_items` children per container,
//! `max_lines` lines in all, `width` characters per value; a recursive reference is named,
//! never followed.
//!
//! The preview is built while the graph is alive (a visitor of the inspection,
//! [`inspect_with_preview`]) and kept as plain lines, so the renderers need no graph.

use serde::Serialize;

use crate::analysis::path::{push_step, Step};
use crate::error::Result;
use crate::inspect::shape_text;
use crate::inspect::{inspect_partial_with, Options, StreamView, Visitor};
use crate::lift::{value::PlainValue, Lifted};
use crate::machine::{Graph, Node, NodeId};
use crate::pytext;
use crate::report::{ArrayReport, Report};

/// How much of the tree to show.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PreviewOptions {
    /// Container levels opened below the root (0: the root's summary line only).
    pub depth: usize,
    /// Children listed per container before `… N more`.
    pub max_items: usize,
    /// Lines in all, for the whole input.
    pub max_lines: usize,
    /// Characters of a value (a string's repr, a sequence's first items) before `…`.
    pub width: usize,
}

impl Default for PreviewOptions {
    fn default() -> Self {
        PreviewOptions {
            depth: 2,
            max_items: 8,
            max_lines: 40,
            width: 72,
        }
    }
}

/// One line of the preview: an object at `path`, `depth` levels below its root.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PreviewLine {
    /// Levels below the root (the root is 0).
    pub depth: usize,
    /// Its object path (`$["config"]["lr"]`).
    pub path: String,
    /// Its type: `dict`, `list`, `str`, `int`, `ndarray`, a class's dotted name, …
    #[serde(rename = "type")]
    pub kind: String,
    /// Items, keys, characters or bytes, for a container, string or bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub len: Option<u64>,
    /// A short rendering: a scalar's repr, a sequence's first items, an array's shape and
    /// dtype; cut at the width with `…`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub value: String,
    /// Children not listed (`… N more`), or 0.
    #[serde(skip_serializing_if = "is_zero")]
    pub more: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The preview of one input.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Preview {
    /// The lines, in tree order.
    pub lines: Vec<PreviewLine>,
    /// Whether lines were left out at the `max_lines` bound.
    pub truncated: bool,
}

/// [`inspect_partial`](crate::inspect::inspect_partial), with a preview of the objects the
/// loader returns.
pub fn inspect_with_preview(
    file: &str,
    bytes: &[u8],
    options: &Options,
    preview: PreviewOptions,
) -> Result<(Report, Preview)> {
    let mut builder = Builder {
        options: preview,
        preview: Preview::default(),
    };
    let report = inspect_partial_with(file, bytes, options, &mut builder)?;
    Ok((report, builder.preview))
}

struct Builder {
    options: PreviewOptions,
    preview: Preview,
}

impl Visitor for Builder {
    fn stream(&mut self, view: &StreamView<'_, '_>) -> Result<()> {
        let graph = &view.stream.graph;
        let pickles = view.stream.pickles.get(view.object_pickles.clone());
        for pickle in pickles.unwrap_or_default() {
            let mut walk = Walk {
                graph,
                lifted: view.lifted,
                options: self.options,
                preview: &mut self.preview,
                ancestors: Vec::new(),
            };
            walk.node(pickle.root, view.root_path.to_string(), 0);
        }
        Ok(())
    }

    fn plain_array(&mut self, array: &ArrayReport, _npy: &[u8]) -> Result<()> {
        let value = format!("{} {}", shape_text(&array.shape), array.dtype.str());
        push_line(
            &mut self.preview,
            &self.options,
            0,
            &array.path,
            "ndarray",
            None,
            value,
            0,
        );
        Ok(())
    }
}

/// Adds a line unless the preview is full (then marks it truncated).
#[allow(clippy::too_many_arguments)]
fn push_line(
    preview: &mut Preview,
    options: &PreviewOptions,
    depth: usize,
    path: &str,
    kind: &str,
    len: Option<u64>,
    value: String,
    more: u64,
) -> bool {
    if preview.lines.len() >= options.max_lines {
        preview.truncated = true;
        return false;
    }
    preview.lines.push(PreviewLine {
        depth,
        path: path.to_string(),
        kind: kind.to_string(),
        len,
        value: cut(value, options.width),
        more,
    });
    true
}

/// `text` cut at `width` characters, ending in `…`.
fn cut(text: String, width: usize) -> String {
    if text.chars().count() <= width {
        return text;
    }
    let mut out: String = text.chars().take(width.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// The children of a node the preview may open: the first few `(step, child)` pairs, and
/// how many there are in all. Only the first are kept: a list of sixteen million items
/// costs what eight cost.
#[derive(Default)]
struct Children {
    first: Vec<(Step, NodeId)>,
    total: usize,
}

impl Children {
    /// Keeps up to [`MAX_KEPT`] of `items` and counts them all.
    fn extend(&mut self, items: impl ExactSizeIterator<Item = (Step, NodeId)>) {
        self.total = self.total.saturating_add(items.len());
        let room = MAX_KEPT.saturating_sub(self.first.len());
        self.first.extend(items.take(room));
    }

    fn is_empty(&self) -> bool {
        self.total == 0
    }
}

/// Children kept per container: more than `max_items` is ever set to in practice; the
/// walk lists at most `max_items` of them.
const MAX_KEPT: usize = 64;

fn children_of(items: impl ExactSizeIterator<Item = (Step, NodeId)>) -> Children {
    let mut children = Children::default();
    children.extend(items);
    children
}

struct Walk<'w, 'g> {
    graph: &'w Graph<'g>,
    lifted: &'w Lifted,
    options: PreviewOptions,
    preview: &'w mut Preview,
    /// The nodes from the root to here: a node met again among them is a cycle.
    ancestors: Vec<NodeId>,
}

impl Walk<'_, '_> {
    fn node(&mut self, id: NodeId, path: String, depth: usize) {
        if self.preview.lines.len() >= self.options.max_lines {
            self.preview.truncated = true;
            return;
        }
        if self.ancestors.contains(&id) {
            let value = "<recursive reference to an enclosing object>".to_string();
            push_line(
                self.preview,
                &self.options,
                depth,
                &path,
                "ref",
                None,
                value,
                0,
            );
            return;
        }
        let (kind, len, children) = self.describe(id);
        // A sequence of scalars reads best on one line; a mapping or an object is opened
        // for its keys.
        let sequence = self.graph.list(id).is_some() || self.graph.tuple(id).is_some();
        let flat = sequence
            && children
                .first
                .iter()
                .all(|&(_, c)| self.graph.node(c).is_scalar());
        let open = depth < self.options.depth && !children.is_empty() && !flat;
        let value = if open { String::new() } else { self.inline(id) };
        let shown = if open {
            self.options.max_items.min(MAX_KEPT)
        } else {
            0
        };
        let more = (children.total.saturating_sub(shown)) as u64;
        let more = if open { more } else { 0 };
        if !push_line(
            self.preview,
            &self.options,
            depth,
            &path,
            &kind,
            len,
            value,
            more,
        ) || !open
        {
            return;
        }
        self.ancestors.push(id);
        for (step, child) in children.first.into_iter().take(shown) {
            let mut child_path = path.clone();
            push_step(self.graph, step, &mut child_path);
            self.node(child, child_path, depth.saturating_add(1));
        }
        self.ancestors.pop();
    }

    /// Type, length and the children the preview may open.
    fn describe(&self, id: NodeId) -> (String, Option<u64>, Children) {
        let g = self.graph;
        let indexed = |items: &[NodeId]| {
            children_of(items.iter().enumerate().map(|(i, &c)| (Step::Index(i), c)))
        };
        if let Some(Ok(_)) = self.lifted.array(id) {
            return ("ndarray".into(), None, Children::default());
        }
        if let Some(items) = g.list(id) {
            return ("list".into(), Some(items.len() as u64), indexed(items));
        }
        if let Some(items) = g.tuple(id) {
            return ("tuple".into(), Some(items.len() as u64), indexed(items));
        }
        if let Some(pairs) = g.dict(id) {
            let children = children_of(pairs.iter().map(|&(k, v)| (Step::Key(k), v)));
            return ("dict".into(), Some(pairs.len() as u64), children);
        }
        match self.lifted.plain(g, id) {
            // An object copyreg builds is described as the object it is, below.
            Some(PlainValue::Object { .. }) | None => {}
            Some(plain) => return describe_plain(&plain),
        }
        match g.node(id) {
            Node::Str(s) => (
                "str".into(),
                Some(s.chars().count() as u64),
                Children::default(),
            ),
            Node::Bytes(b, _) => ("bytes".into(), Some(b.len() as u64), Children::default()),
            Node::Set(items) => ("set".into(), Some(items.len() as u64), Children::default()),
            Node::FrozenSet(items) => (
                "frozenset".into(),
                Some(items.len() as u64),
                Children::default(),
            ),
            Node::Call(_) => self.describe_object(id),
            other => (scalar_kind(&other).into(), None, Children::default()),
        }
    }

    /// An object built by a call: its class, and its attributes (BUILD state) or arguments.
    fn describe_object(&self, id: NodeId) -> (String, Option<u64>, Children) {
        let g = self.graph;
        let Some(call) = g.call(id) else {
            return ("object".into(), None, Children::default());
        };
        // An object built through copyreg's helpers is named by its class.
        let class = match self.lifted.constructed_class(g, id) {
            Some((class, _)) => self.callable_name(class),
            None => self.callable_name(call.callable),
        };
        let mut children = Children::default();
        if let Some(state) = call.state {
            match g.dict(state) {
                Some(pairs) if pairs.iter().all(|&(k, _)| g.str(k).is_some()) => {
                    children.extend(pairs.iter().map(|&(k, v)| (Step::Attr(k), v)));
                }
                _ => children.extend(std::iter::once((Step::State, state))),
            }
        } else if let Some(args) = g.tuple(call.args) {
            children.extend(args.iter().enumerate().map(|(i, &a)| (Step::Args(i), a)));
        }
        children.extend(call.dict_items.iter().map(|&(k, v)| (Step::Key(k), v)));
        children.extend(
            call.list_items
                .iter()
                .enumerate()
                .map(|(i, &v)| (Step::Index(i), v)),
        );
        (class, None, children)
    }

    /// The dotted name of a callable: a global, or `functools.partial(name)` for a partial
    /// of one (TensorFlow's variables are rebuilt that way).
    fn callable_name(&self, callable: NodeId) -> String {
        let g = self.graph;
        if let Some(global) = g.global(callable) {
            return format!("{}.{}", global.module, global.name);
        }
        let wrapped = g.call(callable).and_then(|partial| {
            let outer = g.global(partial.callable)?;
            let first = *g.tuple(partial.args)?.first()?;
            let inner = g.global(first)?;
            Some(format!(
                "{}.{}({}.{})",
                outer.module, outer.name, inner.module, inner.name
            ))
        });
        wrapped.unwrap_or_else(|| "object".to_string())
    }

    /// A one-line rendering: a scalar's repr, an array's shape and dtype, a container's
    /// first items.
    fn inline(&self, id: NodeId) -> String {
        let mut out = String::new();
        self.push_inline(id, &mut out, 0);
        out
    }

    fn push_inline(&self, id: NodeId, out: &mut String, level: usize) {
        let g = self.graph;
        // Enough for the width: the caller cuts what is longer.
        let room = self.options.width.saturating_add(8);
        if let Some(found) = self.lifted.array(id) {
            match found {
                Ok(info) => {
                    out.push_str(&shape_text(&info.shape));
                    out.push(' ');
                    out.push_str(&info.dtype.str());
                }
                Err(reason) => out.push_str(&format!("<array: {reason}>")),
            }
            return;
        }
        let sequence = g
            .list(id)
            .map(|s| ('[', ']', s))
            .or_else(|| g.tuple(id).map(|s| ('(', ')', s)));
        if let Some((open, close, items)) = sequence {
            if level > 0 {
                out.push(open);
                out.push_str(if items.is_empty() { "" } else { "…" });
                out.push(close);
                return;
            }
            out.push(open);
            for (i, &item) in items.iter().enumerate() {
                if out.len() > room {
                    out.push('…');
                    break;
                }
                if i > 0 {
                    out.push_str(", ");
                }
                self.push_inline(item, out, level.saturating_add(1));
            }
            if close == ')' && items.len() == 1 {
                out.push(',');
            }
            out.push(close);
            return;
        }
        if let Some(pairs) = g.dict(id) {
            out.push_str(if pairs.is_empty() { "{}" } else { "{…}" });
            return;
        }
        match self.lifted.plain(g, id) {
            Some(PlainValue::Bytes(b)) => push_bytes(&b, room, out),
            Some(PlainValue::ByteArray(b)) => {
                out.push_str("bytearray(");
                push_bytes(&b, room, out);
                out.push(')');
            }
            Some(PlainValue::Complex(re, im)) => {
                out.push('(');
                pytext::repr_float(re, out);
                out.push_str(if im < 0.0 { "-" } else { "+" });
                pytext::repr_float(im.abs(), out);
                out.push_str("j)");
            }
            Some(PlainValue::OrderedDict(pairs)) => out.push_str(if pairs.is_empty() {
                "OrderedDict()"
            } else {
                "OrderedDict({…})"
            }),
            Some(PlainValue::Set(items) | PlainValue::FrozenSet(items)) => {
                out.push_str(if items.is_empty() { "set()" } else { "{…}" })
            }
            Some(PlainValue::Object { .. }) | None => self.push_scalar(id, out),
        }
    }

    fn push_scalar(&self, id: NodeId, out: &mut String) {
        let g = self.graph;
        let room = self.options.width.saturating_add(8);
        match g.node(id) {
            Node::None => {}
            Node::Bool(b) => out.push_str(if b { "True" } else { "False" }),
            Node::Int(v) => out.push_str(&v.to_string()),
            Node::BigInt(v) => {
                let mut digits = String::new();
                let _ = pytext::repr_int(v, &mut digits);
                out.push_str(&cut(digits, room));
            }
            Node::Float(x) => pytext::repr_float(x, out),
            Node::Str(s) => {
                let head: String = s.chars().take(room).collect();
                pytext::repr_text(&head, out);
            }
            Node::Bytes(b, _) => push_bytes(b, room, out),
            Node::Global { .. } => match g.global(id) {
                Some(global) => out.push_str(&format!("<{}.{}>", global.module, global.name)),
                None => out.push_str("<global>"),
            },
            Node::Call(_) => match g.call(id).and_then(|c| g.global(c.callable)) {
                Some(global) => {
                    out.push_str(&format!("<{}.{} object>", global.module, global.name))
                }
                None => out.push_str("<object>"),
            },
            other => {
                out.push('<');
                out.push_str(scalar_kind(&other));
                out.push('>');
            }
        }
    }
}

/// The repr of the first `room` bytes.
fn push_bytes(bytes: &[u8], room: usize, out: &mut String) {
    pytext::repr_bytes(bytes.get(..room.min(bytes.len())).unwrap_or_default(), out);
}

/// Type, length and children of a plain value pickle writes as a call.
fn describe_plain(plain: &PlainValue<'_>) -> (String, Option<u64>, Children) {
    let len = |n: usize| Some(n as u64);
    match plain {
        PlainValue::OrderedDict(pairs) => (
            "collections.OrderedDict".into(),
            len(pairs.len()),
            children_of(pairs.iter().map(|&(k, v)| (Step::Key(k), v))),
        ),
        PlainValue::Set(items) => ("set".into(), len(items.len()), Children::default()),
        PlainValue::FrozenSet(items) => ("frozenset".into(), len(items.len()), Children::default()),
        PlainValue::ByteArray(b) => ("bytearray".into(), len(b.len()), Children::default()),
        PlainValue::Bytes(b) => ("bytes".into(), len(b.len()), Children::default()),
        PlainValue::Complex(..) => ("complex".into(), None, Children::default()),
        PlainValue::Object { .. } => ("object".into(), None, Children::default()),
    }
}

/// The type shown for a node that is neither a container nor an object.
fn scalar_kind(node: &Node<'_>) -> &'static str {
    match node {
        Node::None => "None",
        Node::Bool(_) => "bool",
        Node::Int(_) | Node::BigInt(_) => "int",
        Node::Float(_) => "float",
        Node::Str(_) => "str",
        Node::Bytes(..) => "bytes",
        Node::Global { .. } => "global",
        Node::Set(_) => "set",
        Node::FrozenSet(_) => "frozenset",
        Node::PersistentId { .. } => "persistent id",
        Node::Extension { .. } => "extension",
        Node::Buffer { .. } => "out-of-band buffer",
        _ => "object",
    }
}
