//! Object paths (SPEC §4): the steps from a pickle's root to an object, and their one
//! rendering as text (`$.model["layers"][0].weight`), full or cut at [`MAX_PATH_LEN`].
//! The object walk ([`super::object_paths`]) and the JSON extractor both build paths from
//! these steps, so a path means the same thing in a report and in `index.json`.

#![warn(clippy::arithmetic_side_effects)]

use std::fmt::Write as _;

use crate::machine::{Graph, Node, NodeId};
use crate::pytext;

/// Paths are cut after this many bytes and end in [`PATH_CUT`]. Input controls how deep
/// objects nest and how long keys are, and a path is kept for every array and global use:
/// uncut, a million-level nesting with many arrays or globals in it would cost depth × count
/// bytes (and rendering every step of a megabyte key would cost its length per use).
pub const MAX_PATH_LEN: usize = 512;

/// What ends a path cut at [`MAX_PATH_LEN`].
pub const PATH_CUT: &str = "\u{2026}";

/// One step from an object to one of its parts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// `[i]`: an item of a list, tuple or set, an element of an object array, or an item
    /// APPENDed to a built object.
    Index(usize),
    /// `["k"]`: a mapping's value (or its key) under the key node.
    Key(NodeId),
    /// `.name`: an attribute set by BUILD state.
    Attr(NodeId),
    /// `.__args__[i]`: an argument of the call that built the object.
    Args(usize),
    /// `.__args__`: call arguments that are not a tuple.
    ArgsWhole,
    /// `.__kwargs__["k"]`: a keyword argument (NEWOBJ_EX).
    Kwargs(NodeId),
    /// `.__state__`: BUILD state that is not a dict of attributes.
    State,
}

/// The largest char boundary of `s` at or below `at`.
pub(crate) fn char_floor(s: &str, at: usize) -> usize {
    if at >= s.len() {
        return s.len();
    }
    (0..=at).rev().find(|&i| s.is_char_boundary(i)).unwrap_or(0)
}

/// Appends Python's `repr` of a (hashable) key, for keys that are neither str nor int.
/// Stops with `...` once `out` reaches `limit` bytes: memo references can put one tuple at
/// every position of the next, so a repr can be exponentially longer than the input.
pub(crate) fn repr_key(
    graph: &Graph<'_>,
    id: NodeId,
    out: &mut String,
    depth: usize,
    limit: usize,
) {
    if depth > 8 || out.len() >= limit {
        out.push_str("...");
        return;
    }
    let room = limit.saturating_sub(out.len());
    match graph.node(id) {
        Node::None => out.push_str("None"),
        Node::Bool(b) => out.push_str(if b { "True" } else { "False" }),
        Node::Int(v) => out.push_str(&v.to_string()),
        Node::BigInt(v) => {
            let _ = pytext::repr_int(v, out);
        }
        Node::Float(x) => pytext::repr_float(x, out),
        Node::Str(s) => {
            let cps: Vec<u32> = s.chars().take(room).map(u32::from).collect();
            pytext::repr_str(&cps, out);
        }
        Node::Bytes(b, _) => pytext::repr_bytes(b.get(..room).unwrap_or(b), out),
        Node::Tuple(items) => {
            out.push('(');
            for (i, &item) in items.iter().enumerate() {
                if out.len() >= limit {
                    out.push_str("...");
                    break;
                }
                if i > 0 {
                    out.push_str(", ");
                }
                repr_key(graph, item, out, depth.saturating_add(1), limit);
            }
            if items.len() == 1 {
                out.push(',');
            }
            out.push(')');
        }
        Node::Global { index, .. } => match graph.globals.get(index as usize) {
            Some(g) => {
                out.push_str(&g.module);
                out.push('.');
                out.push_str(&g.name);
            }
            None => out.push_str("<global>"),
        },
        _ => out.push_str("<object>"),
    }
}

/// Appends the path step for a mapping key: `["text"]` (JSON string), `[3]`, or the JSON
/// string of Python's repr for other keys (SPEC gives only str and int keys).
pub fn push_key(graph: &Graph<'_>, key: NodeId, out: &mut String) {
    out.push('[');
    match graph.node(key) {
        Node::Str(s) => push_json_string(s, out),
        Node::Int(v) => {
            let _ = write!(out, "{v}");
        }
        Node::BigInt(v) => {
            let _ = pytext::repr_int(v, out);
        }
        _ => {
            let mut repr = String::new();
            repr_key(graph, key, &mut repr, 0, MAX_PATH_LEN);
            push_json_string(&repr, out);
        }
    }
    out.push(']');
}

/// [`push_key`] that renders at most about `room` bytes of a str key (a cut path ends
/// there anyway).
fn push_key_bounded(graph: &Graph<'_>, key: NodeId, out: &mut String, room: usize) {
    match graph.node(key) {
        Node::Str(s) if s.len() > room => {
            out.push('[');
            push_json_string(s.get(..char_floor(s, room)).unwrap_or_default(), out);
        }
        _ => push_key(graph, key, out),
    }
}

/// Appends `["key"]` for a str key (an npz member's root path).
pub fn push_json_key(key: &str, out: &mut String) {
    out.push('[');
    push_json_string(key, out);
    out.push(']');
}

fn push_json_string(s: &str, out: &mut String) {
    // Most keys need no escaping: written as they are, without serde_json's allocation.
    if s.bytes()
        .all(|b| b >= 0x20 && b != b'"' && b != b'\\' && b != 0x7f)
    {
        out.push('"');
        out.push_str(s);
        out.push('"');
        return;
    }
    // serde_json escapes exactly what Python's json.dumps(ensure_ascii=False) escapes.
    match serde_json::to_string(s) {
        Ok(json) => out.push_str(&json),
        Err(_) => out.push_str("\"\""),
    }
}

fn push_attr(graph: &Graph<'_>, key: NodeId, out: &mut String) {
    out.push('.');
    match graph.node(key) {
        Node::Str(s) => out.push_str(s),
        _ => {
            let limit = out.len().saturating_add(MAX_PATH_LEN);
            repr_key(graph, key, out, 0, limit)
        }
    }
}

/// [`push_attr`] that renders at most about `room` bytes of a str name.
fn push_attr_bounded(graph: &Graph<'_>, key: NodeId, out: &mut String, room: usize) {
    match graph.node(key) {
        Node::Str(s) if s.len() > room => {
            out.push('.');
            out.push_str(s.get(..char_floor(s, room)).unwrap_or_default());
        }
        _ => push_attr(graph, key, out),
    }
}

/// Whether a state is a dict of str keys (each key becomes `.name`).
pub(crate) fn is_attr_dict(graph: &Graph<'_>, id: NodeId) -> bool {
    match graph.node(id) {
        Node::Dict(pairs) => pairs
            .iter()
            .all(|(k, _)| matches!(graph.node(*k), Node::Str(_))),
        _ => false,
    }
}

/// Appends `step` in full (the path of a `$ref`, which must name the object exactly).
pub fn push_step(graph: &Graph<'_>, step: Step, out: &mut String) {
    push_step_within(graph, step, out, usize::MAX);
}

fn push_step_within(graph: &Graph<'_>, step: Step, out: &mut String, room: usize) {
    match step {
        Step::Index(i) => {
            let _ = write!(out, "[{i}]");
        }
        Step::Key(k) => push_key_bounded(graph, k, out, room),
        Step::Attr(k) => push_attr_bounded(graph, k, out, room),
        Step::Args(i) => {
            let _ = write!(out, ".__args__[{i}]");
        }
        Step::ArgsWhole => out.push_str(".__args__"),
        Step::Kwargs(k) => {
            out.push_str(".__kwargs__");
            push_key_bounded(graph, k, out, room);
        }
        Step::State => out.push_str(".__state__"),
    }
}

/// Appends `step` to a path kept within [`MAX_PATH_LEN`] (the paths reports carry),
/// rendering no more of a long key than fits. Returns false once the path is cut: later
/// steps add nothing.
pub fn push_step_cut(graph: &Graph<'_>, step: Step, out: &mut String) -> bool {
    push_cut(out, |out, room| push_step_within(graph, step, out, room))
}

/// Starts a path kept within [`MAX_PATH_LEN`] at `root` (`$`, or `$["member"]`).
pub fn push_root_cut(root: &str, out: &mut String) -> bool {
    push_cut(out, |out, _| out.push_str(root))
}

/// Appends what `write` writes (given the room left) to a path kept within [`MAX_PATH_LEN`].
pub(crate) fn push_cut(out: &mut String, write: impl FnOnce(&mut String, usize)) -> bool {
    if out.len() >= MAX_PATH_LEN {
        if !out.ends_with(PATH_CUT) {
            out.push_str(PATH_CUT);
        }
        return false;
    }
    // One byte past the limit, so that a key cut here is seen to be cut.
    let room = MAX_PATH_LEN.saturating_sub(out.len()).saturating_add(1);
    write(out, room);
    if out.len() > MAX_PATH_LEN {
        out.truncate(char_floor(out, MAX_PATH_LEN));
        out.push_str(PATH_CUT);
        return false;
    }
    true
}
