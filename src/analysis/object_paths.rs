//! Object paths (SPEC §4): a depth-first walk from a pickle's root, in the order the
//! pickler wrote things (a call's arguments, keyword arguments, list items, dict items,
//! then state), so a shared object is named by its first path in the stream.
//!
//! The walk is iterative (input controls the depth) and visits each node once (memo
//! references make a DAG or a cycle). Arrays (read from the stream's [`Lifted`]) are
//! leaves; the globals their construction uses (`_reconstruct`, `dtype`, …) are
//! attributed to the array's path.

#![warn(clippy::arithmetic_side_effects)]

use super::path::{self, is_attr_dict, Step};
use crate::lift::{ArrayData, ArrayInfo, Lifted};
use crate::machine::{Graph, MutationKind, Node, NodeId};

/// At most this many paths are kept per global; the count goes on.
pub const MAX_PATHS_PER_GLOBAL: usize = 100;

/// An array found by the walk.
#[derive(Clone, Debug)]
pub struct FoundArray<'l> {
    /// Its object path; a very long one is cut and ends in `…` (input controls the depth).
    pub path: String,
    /// The node of its construction.
    pub node: NodeId,
    /// The array, or why its recognised construction could not be read (from [`Lifted`]).
    pub info: &'l Result<ArrayInfo, String>,
}

/// Where a global is used: the paths of the calls that call it, or of the global itself
/// where it is a value.
#[derive(Clone, Debug, Default)]
pub struct GlobalUses {
    /// The first [`MAX_PATHS_PER_GLOBAL`] paths, in walk order.
    pub paths: Vec<String>,
    /// How many uses there are in all.
    pub count: u64,
}

/// At most this many objects with attribute state are kept for portability hints.
pub const MAX_OBJECTS: usize = 200;

/// What the walk of one pickle found.
#[derive(Clone, Debug, Default)]
pub struct ObjectPaths<'l> {
    /// Every array reached from the root, in walk order.
    pub arrays: Vec<FoundArray<'l>>,
    /// Indexed by global index ([`Graph::globals`]).
    pub uses: Vec<GlobalUses>,
    /// Objects built by calling a global, whose state is a dict of attributes: their path
    /// and node (the first [`MAX_OBJECTS`]).
    pub objects: Vec<(String, NodeId)>,
    /// Calls, globals and persistent objects reached, with their path (the first
    /// [`MAX_CALL_PATHS`]): the execution trace names where each call's result went.
    pub calls: Vec<(NodeId, String)>,
}

/// At most this many [`ObjectPaths::calls`] are kept.
pub const MAX_CALL_PATHS: usize = 10_000;

struct Frame {
    node: NodeId,
    depth: usize,
    /// The step from the parent; `None` for the root, and for a callable or persistent id
    /// reached through the object itself (no path change).
    step: Option<Step>,
}

/// An entry of the walk's stack: a node to visit, or a native container whose children
/// are handed out one at a time (a list of millions of items costs one entry, not one
/// frame per item).
enum Entry {
    Visit(Frame),
    /// The children of the tuple, list, set, frozenset or dict `node` from `next` on (for
    /// a dict, `next` counts keys and values: key `i` is `2i`, its value `2i + 1`), each
    /// at `depth`.
    Children {
        node: NodeId,
        next: usize,
        depth: usize,
    },
}

/// Children of one node, in the order they are walked.
type Children = Vec<(NodeId, Option<Step>)>;

fn indexed(items: &[NodeId]) -> impl Iterator<Item = (NodeId, Option<Step>)> + '_ {
    items
        .iter()
        .enumerate()
        .map(|(i, &n)| (n, Some(Step::Index(i))))
}

fn keyed(pairs: &[(NodeId, NodeId)], children: &mut Children) {
    for &(k, v) in pairs {
        children.push((k, Some(Step::Key(k))));
        children.push((v, Some(Step::Key(k))));
    }
}

struct Walker<'g, 'v, 'data> {
    /// Record the paths of calls and globals ([`ObjectPaths::calls`]) for the trace.
    trace: bool,
    root_path: &'g str,
    graph: &'g Graph<'data>,
    lifted: &'g Lifted,
    visited: &'v mut Vec<bool>,
    mutations: Vec<Vec<usize>>,
    found: ObjectPaths<'g>,
    path: String,
    ends: Vec<usize>,
    stack: Vec<Entry>,
    /// Per node, the last [`Walker::attribute_subtree`] call that saw it.
    stamps: Vec<u32>,
    epoch: u32,
    /// That call's work list, kept for its allocation.
    todo: Vec<NodeId>,
}

impl<'g> Walker<'g, '_, '_> {
    fn record_use(&mut self, global: NodeId, path_end: usize) {
        let Node::Global { index, .. } = self.graph.node(global) else {
            return;
        };
        let Some(uses) = self.found.uses.get_mut(index as usize) else {
            return;
        };
        uses.count = uses.count.saturating_add(1);
        let path = self.path.get(..path_end).unwrap_or_default();
        if uses.paths.len() < MAX_PATHS_PER_GLOBAL
            && uses.paths.last().map(String::as_str) != Some(path)
        {
            uses.paths.push(path.to_string());
        }
    }

    /// Appends one step to the path, cutting it at [`path::MAX_PATH_LEN`].
    fn render(&mut self, depth: usize, step: Option<Step>) {
        match step {
            None if depth == 0 => path::push_root_cut(self.root_path, &mut self.path),
            // No path change, but a full path still gets its cut mark.
            None => path::push_cut(&mut self.path, |_, _| {}),
            Some(step) => path::push_step_cut(self.graph, step, &mut self.path),
        };
    }

    fn push(&mut self, children: &mut Children, depth: usize) {
        for (node, step) in children.drain(..).rev() {
            self.stack.push(Entry::Visit(Frame { node, depth, step }));
        }
    }

    /// The next child of a native container (`next` as in [`Entry::Children`]) worth
    /// visiting (plain values without mutations are skipped, as [`Walker::run`] would skip
    /// them), and the position after it.
    fn next_child(&self, node: NodeId, mut next: usize) -> Option<(NodeId, Step, usize)> {
        let graph = self.graph;
        loop {
            let (child, step) = match graph.node(node) {
                Node::Tuple(items)
                | Node::List(items)
                | Node::Set(items)
                | Node::FrozenSet(items) => (*items.get(next)?, Step::Index(next)),
                Node::Dict(pairs) => {
                    let (k, v) = *pairs.get(next / 2)?;
                    (if next.is_multiple_of(2) { k } else { v }, Step::Key(k))
                }
                _ => return None,
            };
            next = next.saturating_add(1);
            if !self.is_plain_leaf(child) {
                return Some((child, step, next));
            }
        }
    }

    /// A plain value with nothing applied to it: no path of its own, no children.
    fn is_plain_leaf(&self, node: NodeId) -> bool {
        self.graph.is_scalar(node) && self.mutations.get(node.index()).is_none_or(Vec::is_empty)
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
            // At most MAX_CONSTRUCTION_NODES, checked above.
            seen = seen.saturating_add(1);
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
                Node::PersistentId { pid, .. } => todo.push(pid),
                _ => {}
            }
        }
        self.todo = todo;
    }

    fn run(&mut self, root: NodeId) {
        self.stack.push(Entry::Visit(Frame {
            node: root,
            depth: 0,
            step: None,
        }));
        let mut children = Children::new();
        while let Some(entry) = self.stack.pop() {
            let Frame { node, depth, step } = match entry {
                Entry::Visit(frame) => frame,
                Entry::Children { node, next, depth } => {
                    let Some((child, step, next)) = self.next_child(node, next) else {
                        continue;
                    };
                    self.stack.push(Entry::Children { node, next, depth });
                    Frame {
                        node: child,
                        depth,
                        step: Some(step),
                    }
                }
            };
            // A plain value has no path of its own to record and no children: skip
            // rendering its step (most nodes are such values).
            if self.is_plain_leaf(node) {
                continue;
            }
            // Frames are pushed at their parent's depth + 1, so `ends` holds the parent's.
            let parent_end = match depth.checked_sub(1) {
                Some(parent) => self.ends.get(parent).copied().unwrap_or(0),
                None => 0,
            };
            self.path.truncate(parent_end);
            self.render(depth, step);
            self.ends.truncate(depth);
            self.ends.push(self.path.len());

            match self.visited.get_mut(node.index()) {
                Some(seen) if !*seen => *seen = true,
                _ => continue,
            }
            if self.graph.is_native_container(node)
                && self.mutations.get(node.index()).is_none_or(Vec::is_empty)
            {
                self.stack.push(Entry::Children {
                    node,
                    next: 0,
                    depth: depth.saturating_add(1),
                });
                continue;
            }
            self.children(node, &mut children);
            self.push(&mut children, depth.saturating_add(1));
        }
    }

    /// Records what `node` is (a global use, an array, an object with attributes) and lists
    /// its children.
    fn children(&mut self, node: NodeId, children: &mut Children) {
        let graph = self.graph;
        let here = self.path.len();
        if matches!(
            graph.node(node),
            Node::Call(_) | Node::Global { .. } | Node::PersistentId { .. }
        ) && self.trace
            && self.found.calls.len() < MAX_CALL_PATHS
        {
            self.found.calls.push((node, self.path.clone()));
        }
        match graph.node(node) {
            Node::Global { .. } => self.record_use(node, here),
            Node::Tuple(items) | Node::List(items) | Node::Set(items) | Node::FrozenSet(items) => {
                children.extend(indexed(items));
            }
            Node::Dict(pairs) => keyed(pairs, children),
            // A legacy tar checkpoint's tensor (see `lift::tar_tensors`).
            Node::PersistentId { pid, .. } => match self.lifted.array(node) {
                Some(found) => return self.array(node, found, children),
                None => children.push((pid, None)),
            },
            Node::Call(_) => match self.lifted.array(node) {
                // Calls hold their own state and items: nothing mutates them.
                Some(found) => return self.array(node, found, children),
                None => self.call(node, children),
            },
            _ => {}
        }
        if let Some(indices) = self.mutations.get(node.index()) {
            for &m in indices {
                let Some(mutation) = graph.mutations.get(m) else {
                    continue;
                };
                match &mutation.kind {
                    MutationKind::State(state) => self.state_children(*state, children),
                    MutationKind::Items(items) => children.extend(indexed(items)),
                    MutationKind::Pairs(pairs) => keyed(pairs, children),
                }
            }
        }
    }

    /// An array is a leaf, except for an object array's elements (ordinary children, `[i]`).
    fn array(
        &mut self,
        node: NodeId,
        found: &'g Result<ArrayInfo, String>,
        children: &mut Children,
    ) {
        let here = self.path.len();
        let elements = match found {
            Ok(ArrayInfo {
                data: ArrayData::Objects(list),
                ..
            }) => Some(*list),
            _ => None,
        };
        self.found.arrays.push(FoundArray {
            path: self.path.clone(),
            node,
            info: found,
        });
        if let Some(mask) = self.lifted.mask(node) {
            self.found.arrays.push(FoundArray {
                path: format!("{}{}", self.path, crate::lift::masked::MASK_STEP),
                node,
                info: &mask.mask,
            });
        }
        self.attribute_subtree(node, here, elements);
        if let Some(list) = elements {
            if let Node::List(items) | Node::Tuple(items) = self.graph.node(list) {
                children.extend(indexed(items));
            }
        }
    }

    /// An object built by a call: its callable, arguments, keyword arguments, `__reduce__`
    /// items and state.
    fn call(&mut self, node: NodeId, children: &mut Children) {
        let graph = self.graph;
        let Some(call) = graph.call(node) else { return };
        let here = self.path.len();
        match graph.node(call.callable) {
            Node::Global { .. } => {
                self.record_use(call.callable, here);
                if self.found.objects.len() < MAX_OBJECTS
                    && call.state.is_some_and(|s| is_attr_dict(graph, s))
                {
                    self.found.objects.push((self.path.clone(), node));
                }
            }
            _ => children.push((call.callable, None)),
        }
        // copyreg's helpers build an object of the class in their first argument: that
        // class is used here, and the real arguments follow it.
        let first_arg = match self.lifted.constructed_class(graph, node) {
            Some((class, skip)) => {
                self.record_use(class, here);
                skip
            }
            None => 0,
        };
        match graph.node(call.args) {
            Node::Tuple(items) => children.extend(
                items
                    .iter()
                    .skip(first_arg)
                    .enumerate()
                    .map(|(i, &n)| (n, Some(Step::Args(i)))),
            ),
            _ => children.push((call.args, Some(Step::ArgsWhole))),
        }
        if let Some(kwargs) = call.kwargs {
            match graph.node(kwargs) {
                Node::Dict(pairs) => {
                    children.extend(pairs.iter().map(|&(k, v)| (v, Some(Step::Kwargs(k)))))
                }
                _ => children.push((kwargs, None)),
            }
        }
        children.extend(indexed(&call.list_items));
        keyed(&call.dict_items, children);
        if let Some(state) = call.state {
            self.state_children(state, children);
        }
    }

    /// BUILD state: a dict of str keys gives `.name` children; `(dict or None, dict)` (slots)
    /// gives `.name` for both; anything else is `.__state__`.
    fn state_children(&self, state: NodeId, children: &mut Children) {
        let graph = self.graph;
        let attrs = |dict: NodeId, children: &mut Children| {
            if let Node::Dict(pairs) = graph.node(dict) {
                children.extend(pairs.iter().map(|&(k, v)| (v, Some(Step::Attr(k)))));
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
        children.push((state, Some(Step::State)));
    }
}

/// Walks from `root`, named `root_path` (`$`, or `$["member"]` inside an npz), reading
/// arrays from the stream's lift pass. `visited` is shared between pickles that share a
/// memo; pass a fresh (empty) one otherwise.
pub fn object_paths<'l>(
    graph: &'l Graph<'_>,
    lifted: &'l Lifted,
    root: NodeId,
    root_path: &'l str,
    visited: &mut Vec<bool>,
) -> ObjectPaths<'l> {
    walk_paths(graph, lifted, root, root_path, visited, true)
}

/// [`object_paths`], recording [`ObjectPaths::calls`] only with `trace` (the execution
/// trace is all that reads them).
pub(crate) fn walk_paths<'l>(
    graph: &'l Graph<'_>,
    lifted: &'l Lifted,
    root: NodeId,
    root_path: &'l str,
    visited: &mut Vec<bool>,
    trace: bool,
) -> ObjectPaths<'l> {
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
        trace,
        root_path,
        graph,
        lifted,
        visited,
        mutations,
        found: ObjectPaths {
            arrays: Vec::new(),
            uses: vec![GlobalUses::default(); graph.globals.len()],
            objects: Vec::new(),
            calls: Vec::new(),
        },
        path: String::new(),
        ends: Vec::new(),
        stack: Vec::new(),
        stamps: Vec::new(),
        epoch: 0,
        todo: Vec::new(),
    };
    walker.run(root);
    walker.found
}
