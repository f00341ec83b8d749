//! Object paths (SPEC §4): a depth-first walk from a pickle's root, in the order the
//! pickler wrote things (a call's arguments, keyword arguments, list items, dict items,
//! then state), so a shared object is named by its first path in the stream.
//!
//! The walk is iterative (input controls the depth) and visits each node once (memo
//! references make a DAG or a cycle). Arrays are leaves; the globals their construction
//! uses (`_reconstruct`, `dtype`, …) are attributed to the array's path.

use std::fmt::Write as _;

use crate::lift::{self, ArrayInfo};
use crate::machine::{Graph, MutationKind, Node, NodeId};
use crate::pytext;

/// At most this many paths are kept per global; the count goes on.
pub const MAX_PATHS_PER_GLOBAL: usize = 100;

/// Paths are cut after this many bytes and end in [`PATH_CUT`]. Input controls how deep
/// objects nest and how long keys are, and a path is kept for every array and global use:
/// uncut, a million-level nesting with many arrays or globals in it would cost depth × count
/// bytes (and rendering every step of a megabyte key would cost its length per use).
pub const MAX_PATH_LEN: usize = 512;

/// What ends a path cut at [`MAX_PATH_LEN`].
pub const PATH_CUT: &str = "\u{2026}";

/// The largest char boundary of `s` at or below `at`.
pub(crate) fn char_floor(s: &str, at: usize) -> usize {
    if at >= s.len() {
        return s.len();
    }
    (0..=at).rev().find(|&i| s.is_char_boundary(i)).unwrap_or(0)
}

/// An array found by the walk.
#[derive(Clone, Debug)]
pub struct FoundArray {
    pub path: String,
    pub node: NodeId,
    /// The array, or why its recognised construction could not be read.
    pub info: Result<ArrayInfo, String>,
}

/// Where a global is used: the paths of the calls that call it, or of the global itself
/// where it is a value.
#[derive(Clone, Debug, Default)]
pub struct GlobalUses {
    pub paths: Vec<String>,
    pub count: u64,
}

/// At most this many objects with attribute state are kept for portability hints.
pub const MAX_OBJECTS: usize = 200;

/// What the walk of one pickle found.
#[derive(Clone, Debug, Default)]
pub struct Walk {
    pub arrays: Vec<FoundArray>,
    /// Indexed by global index ([`Graph::globals`]).
    pub uses: Vec<GlobalUses>,
    /// Objects built by calling a global, whose state is a dict of attributes: their path
    /// and node (the first [`MAX_OBJECTS`]).
    pub objects: Vec<(String, NodeId)>,
}

#[derive(Clone, Copy, Debug)]
enum Step {
    /// The root: the path given to [`walk`].
    Root,
    /// No path change: a callable or persistent id reached through the object itself.
    Same,
    Index(usize),
    Key(NodeId),
    Attr(NodeId),
    Args(usize),
    ArgsWhole,
    Kwargs(NodeId),
    State,
}

struct Frame {
    node: NodeId,
    depth: usize,
    step: Step,
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
    let room = limit - out.len();
    match graph.node(id) {
        Node::None => out.push_str("None"),
        Node::Bool(b) => out.push_str(if *b { "True" } else { "False" }),
        Node::Int(v) => out.push_str(&v.to_string()),
        Node::BigInt(v) => {
            let _ = pytext::repr_int(v, out);
        }
        Node::Float(x) => pytext::repr_float(*x, out),
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
                repr_key(graph, item, out, depth + 1, limit);
            }
            if items.len() == 1 {
                out.push(',');
            }
            out.push(')');
        }
        Node::Global { index, .. } => match graph.globals.get(*index as usize) {
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

/// [`push_key`] that renders at most about `room` bytes of a str key (the walk cuts the
/// path there anyway).
pub(crate) fn push_key_bounded(graph: &Graph<'_>, key: NodeId, out: &mut String, room: usize) {
    match graph.node(key) {
        Node::Str(s) if s.len() > room => {
            out.push('[');
            push_json_string(&s[..char_floor(s, room)], out);
        }
        _ => push_key(graph, key, out),
    }
}

/// Appends `["key"]` for a str key.
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

pub(crate) fn push_attr(graph: &Graph<'_>, key: NodeId, out: &mut String) {
    out.push('.');
    match graph.node(key) {
        Node::Str(s) => out.push_str(s),
        _ => {
            let limit = out.len() + MAX_PATH_LEN;
            repr_key(graph, key, out, 0, limit)
        }
    }
}

/// [`push_attr`] that renders at most about `room` bytes of a str name.
pub(crate) fn push_attr_bounded(graph: &Graph<'_>, key: NodeId, out: &mut String, room: usize) {
    match graph.node(key) {
        Node::Str(s) if s.len() > room => {
            out.push('.');
            out.push_str(&s[..char_floor(s, room)]);
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

struct Walker<'g, 'data> {
    root_path: &'g str,
    graph: &'g Graph<'data>,
    stream: &'g [u8],
    visited: &'g mut Vec<bool>,
    mutations: Vec<Vec<usize>>,
    walk: Walk,
    path: String,
    ends: Vec<usize>,
    stack: Vec<Frame>,
    /// Per node, the last [`Walker::attribute_subtree`] call that saw it.
    stamps: Vec<u32>,
    epoch: u32,
    /// That call's work list, kept for its allocation.
    todo: Vec<NodeId>,
}

impl Walker<'_, '_> {
    fn record_use(&mut self, global: NodeId, path_end: usize) {
        let Node::Global { index, .. } = self.graph.node(global) else {
            return;
        };
        let Some(uses) = self.walk.uses.get_mut(*index as usize) else {
            return;
        };
        uses.count += 1;
        let path = &self.path[..path_end];
        if uses.paths.len() < MAX_PATHS_PER_GLOBAL
            && uses.paths.last().map(String::as_str) != Some(path)
        {
            uses.paths.push(path.to_string());
        }
    }

    /// Appends one step to the path, cutting it at [`MAX_PATH_LEN`].
    fn render(&mut self, step: Step) {
        if self.path.len() >= MAX_PATH_LEN {
            if !self.path.ends_with(PATH_CUT) {
                self.path.push_str(PATH_CUT);
            }
            return;
        }
        self.render_step(step);
        if self.path.len() > MAX_PATH_LEN {
            self.path.truncate(char_floor(&self.path, MAX_PATH_LEN));
            self.path.push_str(PATH_CUT);
        }
    }

    fn render_step(&mut self, step: Step) {
        let graph = self.graph;
        let room = MAX_PATH_LEN.saturating_sub(self.path.len()) + 1;
        match step {
            Step::Root => self.path.push_str(self.root_path),
            Step::Same => {}
            Step::Index(i) => {
                let _ = write!(self.path, "[{i}]");
            }
            Step::Key(k) => push_key_bounded(graph, k, &mut self.path, room),
            Step::Attr(k) => push_attr_bounded(graph, k, &mut self.path, room),
            Step::Args(i) => {
                let _ = write!(self.path, ".__args__[{i}]");
            }
            Step::ArgsWhole => self.path.push_str(".__args__"),
            Step::Kwargs(k) => {
                self.path.push_str(".__kwargs__");
                push_key_bounded(graph, k, &mut self.path, room);
            }
            Step::State => self.path.push_str(".__state__"),
        }
    }

    fn push(&mut self, children: &mut Vec<(NodeId, Step)>, depth: usize) {
        for (node, step) in children.drain(..).rev() {
            self.stack.push(Frame { node, depth, step });
        }
    }

    /// Every global under an array's construction (dtype, reconstruct, storage class, …)
    /// is used at the array's path. Object-array elements are walked as children instead.
    /// A construction is a few dozen nodes; the bound keeps many arrays that share one big
    /// subtree (a long list among a dtype's arguments, through the memo) from costing
    /// arrays × subtree.
    fn attribute_subtree(&mut self, root: NodeId, path_end: usize, skip: Option<NodeId>) {
        const MAX_CONSTRUCTION_NODES: usize = 256;
        // Nodes seen in this construction are the ones stamped with this call's epoch: no
        // set to build and hash per array (files of many small arrays spent a tenth of
        // their time there).
        if self.stamps.len() < self.graph.len() {
            self.stamps.resize(self.graph.len(), 0);
        }
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            self.stamps.fill(0);
            self.epoch = 1;
        }
        let epoch = self.epoch;
        let mut seen = 0;
        let mut todo = std::mem::take(&mut self.todo);
        todo.clear();
        todo.push(root);
        while let Some(id) = todo.pop() {
            if seen >= MAX_CONSTRUCTION_NODES {
                break;
            }
            if Some(id) == skip {
                continue;
            }
            match self.stamps.get_mut(id.index()) {
                Some(stamp) if *stamp != epoch => *stamp = epoch,
                _ => continue,
            }
            seen += 1;
            match self.graph.node(id) {
                Node::Global { .. } => self.record_use(id, path_end),
                Node::Call(call) => {
                    todo.push(call.callable);
                    todo.push(call.args);
                    todo.extend(call.kwargs);
                    todo.extend(call.state);
                    todo.extend(call.list_items.iter().take(MAX_CONSTRUCTION_NODES));
                    for (k, v) in call.dict_items.iter().take(MAX_CONSTRUCTION_NODES) {
                        todo.push(*k);
                        todo.push(*v);
                    }
                    if let Some(crate::machine::Payload::Pickle { root, .. }) =
                        &call.trailing_payload
                    {
                        todo.push(*root);
                    }
                }
                Node::Tuple(items)
                | Node::List(items)
                | Node::Set(items)
                | Node::FrozenSet(items) => todo.extend(items.iter().take(MAX_CONSTRUCTION_NODES)),
                Node::Dict(pairs) => {
                    for (k, v) in pairs.iter().take(MAX_CONSTRUCTION_NODES) {
                        todo.push(*k);
                        todo.push(*v);
                    }
                }
                Node::PersistentId { pid, .. } => todo.push(*pid),
                _ => {}
            }
        }
        self.todo = todo;
    }

    fn run(&mut self, root: NodeId) {
        self.stack.push(Frame {
            node: root,
            depth: 0,
            step: Step::Root,
        });
        let mut children: Vec<(NodeId, Step)> = Vec::new();
        while let Some(Frame { node, depth, step }) = self.stack.pop() {
            // A plain value has no path of its own to record and no children: skip
            // rendering its step (most nodes are such values).
            let plain = matches!(
                self.graph.node(node),
                Node::None
                    | Node::Bool(_)
                    | Node::Int(_)
                    | Node::BigInt(_)
                    | Node::Float(_)
                    | Node::Str(_)
                    | Node::Bytes(..)
            );
            if plain && self.mutations.get(node.index()).is_none_or(Vec::is_empty) {
                continue;
            }
            let parent_end = if depth == 0 { 0 } else { self.ends[depth - 1] };
            self.path.truncate(parent_end);
            self.render(step);
            self.ends.truncate(depth);
            self.ends.push(self.path.len());
            let here = self.path.len();

            let graph = self.graph;
            let seen = &mut self.visited[node.index()];
            if *seen {
                continue;
            }
            *seen = true;

            match graph.node(node) {
                Node::Global { .. } => self.record_use(node, here),
                Node::Tuple(items)
                | Node::List(items)
                | Node::Set(items)
                | Node::FrozenSet(items) => {
                    children.extend(items.iter().enumerate().map(|(i, &n)| (n, Step::Index(i))));
                }
                Node::Dict(pairs) => {
                    for &(k, v) in pairs {
                        children.push((k, Step::Key(k)));
                        children.push((v, Step::Key(k)));
                    }
                }
                Node::PersistentId { pid, .. } => children.push((*pid, Step::Same)),
                Node::Call(call) => {
                    if let Some(found) = lift::array_at(graph, self.stream, node) {
                        let elements = match &found {
                            Ok(ArrayInfo {
                                data: lift::ArrayData::Objects(list),
                                ..
                            }) => Some(*list),
                            _ => None,
                        };
                        self.walk.arrays.push(FoundArray {
                            path: self.path.clone(),
                            node,
                            info: found,
                        });
                        self.attribute_subtree(node, here, elements);
                        // Object arrays: their elements are ordinary children, `[i]`.
                        if let Some(list) = elements {
                            if let Node::List(items) | Node::Tuple(items) = graph.node(list) {
                                children.extend(
                                    items.iter().enumerate().map(|(i, &n)| (n, Step::Index(i))),
                                );
                            }
                        }
                        self.push(&mut children, depth + 1);
                        continue;
                    }
                    match graph.node(call.callable) {
                        Node::Global { .. } => {
                            self.record_use(call.callable, here);
                            if self.walk.objects.len() < MAX_OBJECTS
                                && call.state.is_some_and(|s| is_attr_dict(graph, s))
                            {
                                self.walk.objects.push((self.path.clone(), node));
                            }
                        }
                        _ => children.push((call.callable, Step::Same)),
                    }
                    // copyreg's helpers build an object of the class in their first
                    // argument: that class is used here, and the real arguments follow it.
                    let (first_arg, class) = match lift::constructed_class(graph, node) {
                        Some((class, skip)) => (skip, Some(class)),
                        None => (0, None),
                    };
                    if let Some(class) = class {
                        self.record_use(class, here);
                    }
                    match graph.node(call.args) {
                        Node::Tuple(items) => children.extend(
                            items
                                .iter()
                                .enumerate()
                                .skip(first_arg)
                                .map(|(i, &n)| (n, Step::Args(i - first_arg))),
                        ),
                        _ => children.push((call.args, Step::ArgsWhole)),
                    }
                    if let Some(kwargs) = call.kwargs {
                        match graph.node(kwargs) {
                            Node::Dict(pairs) => {
                                children.extend(pairs.iter().map(|&(k, v)| (v, Step::Kwargs(k))))
                            }
                            _ => children.push((kwargs, Step::Same)),
                        }
                    }
                    children.extend(
                        call.list_items
                            .iter()
                            .enumerate()
                            .map(|(i, &n)| (n, Step::Index(i))),
                    );
                    for &(k, v) in &call.dict_items {
                        children.push((k, Step::Key(k)));
                        children.push((v, Step::Key(k)));
                    }
                    if let Some(state) = call.state {
                        self.state_children(state, &mut children);
                    }
                }
                _ => {}
            }
            if let Some(indices) = self.mutations.get(node.index()) {
                for &m in indices {
                    match &graph.mutations[m].kind {
                        MutationKind::State(state) => self.state_children(*state, &mut children),
                        MutationKind::Items(items) => children
                            .extend(items.iter().enumerate().map(|(i, &n)| (n, Step::Index(i)))),
                        MutationKind::Pairs(pairs) => {
                            for &(k, v) in pairs {
                                children.push((k, Step::Key(k)));
                                children.push((v, Step::Key(k)));
                            }
                        }
                    }
                }
            }
            self.push(&mut children, depth + 1);
        }
    }

    /// BUILD state: a dict of str keys gives `.name` children; `(dict or None, dict)` (slots)
    /// gives `.name` for both; anything else is `.__state__`.
    fn state_children(&self, state: NodeId, children: &mut Vec<(NodeId, Step)>) {
        let graph = self.graph;
        let attrs = |dict: NodeId, children: &mut Vec<(NodeId, Step)>| {
            if let Node::Dict(pairs) = graph.node(dict) {
                children.extend(pairs.iter().map(|&(k, v)| (v, Step::Attr(k))));
            }
        };
        if is_attr_dict(graph, state) {
            attrs(state, children);
            return;
        }
        if let Some([first, second]) = graph.tuple(state) {
            let first_ok = matches!(graph.node(*first), Node::None) || is_attr_dict(graph, *first);
            if first_ok && is_attr_dict(graph, *second) {
                attrs(*first, children);
                attrs(*second, children);
                return;
            }
        }
        children.push((state, Step::State));
    }
}

/// Walks from `root`, named `root_path` (`$`, or `$["member"]` inside an npz). `visited` is
/// shared between pickles that share a memo; pass a fresh (empty) one otherwise.
pub fn walk(
    graph: &Graph<'_>,
    stream: &[u8],
    root: NodeId,
    root_path: &str,
    visited: &mut Vec<bool>,
) -> Walk {
    if visited.len() < graph.len() {
        visited.resize(graph.len(), false);
    }
    let mut mutations: Vec<Vec<usize>> = Vec::new();
    if !graph.mutations.is_empty() {
        mutations.resize(graph.len(), Vec::new());
        for (i, m) in graph.mutations.iter().enumerate() {
            if let Some(slot) = mutations.get_mut(m.target.index()) {
                slot.push(i);
            }
        }
    }
    let mut walker = Walker {
        root_path,
        graph,
        stream,
        visited,
        mutations,
        walk: Walk {
            arrays: Vec::new(),
            uses: vec![GlobalUses::default(); graph.globals.len()],
            objects: Vec::new(),
        },
        path: String::new(),
        ends: Vec::new(),
        stack: Vec::new(),
        stamps: Vec::new(),
        epoch: 0,
        todo: Vec::new(),
    };
    walker.run(root);
    walker.walk
}
