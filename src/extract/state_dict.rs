//! Tensor names as `state_dict()` gives them, from object paths.
//!
//! torch code loads weights by their `state_dict` keys (`fc1.weight`), not by where the
//! tensors sit in the pickled object. The keys follow from the paths:
//!
//! * a dict of tensors (a `state_dict`, or any dict): the key itself, nested dicts and
//!   lists joined with `.` (`$["fc1.weight"]` → `fc1.weight`, `$["a"][0]` → `a.0`);
//! * a whole pickled `nn.Module`: `Module.state_dict()` walks `_modules` and names each
//!   entry of `_parameters` and `_buffers` by the module names on the way
//!   (torch/nn/modules/module.py, `_save_to_state_dict`), so
//!   `$._modules["0"]._parameters["weight"]` → `0.weight`;
//! * a checkpoint dict with a `state_dict` entry (PyTorch Lightning `.ckpt`, and the common
//!   `{"model_state_dict": …, "optimizer_state_dict": …}`): the keys inside that entry;
//!   tensors elsewhere (optimizer moments) are *outside* it.
//!
//! For a whole module the paths are not enough: `state_dict()` leaves out the buffers named
//! in `_non_persistent_buffers_set` and lists a tied weight under every module that holds
//! it, where the pickle (and the object walk) meet it once. [`module_state_dict`] walks the
//! module tree in the graph as `state_dict()` does.
//!
//! Any other step (an attribute that is not one of the three module dicts, a call
//! argument, non-dict state) is kept as its name, so every tensor still gets a readable,
//! unique-as-possible key; such a key is marked as not a `state_dict` key.

use crate::analysis::path::PATH_CUT;
use crate::lift::value::PlainValue;
use crate::lift::Lifted;
use crate::machine::{Graph, Node, NodeId};

/// The entries of a checkpoint dict that hold the model's `state_dict`, in order of
/// preference (Lightning writes `state_dict`; torch tutorials `model_state_dict`).
const STATE_DICT_ENTRIES: [&str; 2] = ["state_dict", "model_state_dict"];

/// One step of a rendered object path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum PathStep {
    /// `["k"]`: a str key, unescaped.
    Key(String),
    /// `[3]`, or a key that is not a str (its text as written).
    Index(String),
    /// `.name`.
    Attr(String),
}

impl PathStep {
    fn text(&self) -> &str {
        match self {
            PathStep::Key(s) | PathStep::Index(s) | PathStep::Attr(s) => s,
        }
    }
}

/// Reads a JSON string key starting after its opening quote; returns the key and the rest
/// of the path after the closing bracket.
fn json_key(rest: &str) -> Option<(String, &str)> {
    let mut escaped = false;
    for (at, c) in rest.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == '"' {
            let raw = rest.get(..at)?;
            let key: String = serde_json::from_str(&format!("\"{raw}\"")).ok()?;
            let after = rest.get(at + 1..)?;
            let after = after.strip_prefix(']').unwrap_or(after);
            return Some((key, after));
        }
    }
    None
}

/// The steps of `path` below `root` (`$`, or `$["member"]` in an npz). `None` for a path
/// that does not start at `root`, was cut ([`PATH_CUT`]), or does not parse.
pub(crate) fn parse(path: &str, root: &str) -> Option<Vec<PathStep>> {
    if path.ends_with(PATH_CUT) {
        return None;
    }
    let mut rest = path.strip_prefix(root)?;
    let mut steps = Vec::new();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("[\"") {
            let (key, after) = json_key(after)?;
            steps.push(PathStep::Key(key));
            rest = after;
        } else if let Some(after) = rest.strip_prefix('[') {
            let end = after.find(']')?;
            steps.push(PathStep::Index(after.get(..end)?.to_string()));
            rest = after.get(end + 1..)?;
        } else if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            steps.push(PathStep::Attr(after.get(..end)?.to_string()));
            rest = after.get(end..)?;
        } else {
            return None;
        }
    }
    Some(steps)
}

/// The key `state_dict()` would give the tensor at `steps`, and whether every step was one
/// a `state_dict` is made of (dict keys, list indices, the module dicts).
pub(crate) fn key_of(steps: &[PathStep]) -> (String, bool) {
    let mut parts: Vec<&str> = Vec::with_capacity(steps.len());
    let mut clean = true;
    let mut i = 0;
    while let Some(step) = steps.get(i) {
        let module_dict = matches!(step, PathStep::Attr(a)
            if a == "_modules" || a == "_parameters" || a == "_buffers");
        match (step, steps.get(i + 1)) {
            (PathStep::Attr(_), Some(PathStep::Key(k))) if module_dict => {
                parts.push(k);
                i += 2;
                continue;
            }
            (PathStep::Key(k), _) => parts.push(k),
            (PathStep::Index(k), _) => parts.push(k),
            (PathStep::Attr(a), _) => {
                clean = false;
                parts.push(a);
            }
        }
        i += 1;
    }
    (parts.join("."), clean)
}

/// Where a checkpoint's `state_dict` is, decided once per stream from its tensors' paths.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct StateDictRoot {
    /// The entry of the root dict holding the `state_dict`, if the input is such a
    /// checkpoint; `None`: the whole object is the `state_dict` (or the module).
    pub entry: Option<String>,
}

/// What a tensor is called.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TensorName {
    /// Its `state_dict` key (or, outside a `state_dict`, its path's steps joined by `.`).
    pub key: String,
    /// Whether it belongs to the `state_dict` the input holds.
    pub in_state_dict: bool,
}

impl StateDictRoot {
    /// The `state_dict` entry that holds tensors, if the paths show a checkpoint dict.
    pub(crate) fn find<'p>(paths: impl Iterator<Item = &'p str> + Clone, root: &str) -> Self {
        let under = |entry: &str| {
            paths.clone().any(|p| {
                parse(p, root).is_some_and(|s| s.first() == Some(&PathStep::Key(entry.into())))
            })
        };
        StateDictRoot {
            entry: STATE_DICT_ENTRIES
                .into_iter()
                .find(|e| under(e))
                .map(str::to_string),
        }
    }

    /// The name of the tensor at `path`; `None` when the path cannot be read back into
    /// steps (cut at [`crate::analysis::path::MAX_PATH_LEN`]).
    pub(crate) fn name(&self, path: &str, root: &str) -> Option<TensorName> {
        let steps = parse(path, root)?;
        let inside = match (&self.entry, steps.first()) {
            (None, _) => Some(&steps[..]),
            (Some(entry), Some(PathStep::Key(k))) if k == entry => steps.get(1..),
            (Some(_), _) => None,
        };
        Some(match inside {
            Some(rest) if !rest.is_empty() => {
                let (key, clean) = key_of(rest);
                TensorName {
                    key,
                    in_state_dict: clean,
                }
            }
            _ => TensorName {
                key: steps
                    .iter()
                    .map(PathStep::text)
                    .collect::<Vec<_>>()
                    .join("."),
                in_state_dict: false,
            },
        })
    }
}

/// How many modules a pickled `nn.Module` tree may hold before the walk stops (the input
/// decides the tree; a real model has thousands at most).
const MAX_MODULES: usize = 1 << 20;

/// The pairs of a dict or `OrderedDict` node.
fn mapping(graph: &Graph<'_>, lifted: &Lifted, node: NodeId) -> Option<Vec<(NodeId, NodeId)>> {
    if let Some(pairs) = graph.dict(node) {
        return Some(pairs.to_vec());
    }
    match lifted.plain(graph, node)? {
        PlainValue::OrderedDict(pairs) => Some(pairs),
        _ => None,
    }
}

/// The str items of a set node (`set()` of protocols 2–3, `EMPTY_SET` + `ADDITEMS` of 4+).
fn str_set<'g>(graph: &'g Graph<'_>, lifted: &Lifted, node: NodeId) -> Vec<&'g str> {
    let items = match graph.node(node) {
        Node::Set(items) | Node::FrozenSet(items) => items.to_vec(),
        _ => match lifted.plain(graph, node) {
            Some(PlainValue::Set(items) | PlainValue::FrozenSet(items)) => items,
            _ => Vec::new(),
        },
    };
    items.into_iter().filter_map(|i| graph.str(i)).collect()
}

/// The attribute dict of a module object: its BUILD state, when that state has the three
/// dicts every `nn.Module` has.
fn module_state(graph: &Graph<'_>, node: NodeId) -> Option<NodeId> {
    let state = graph.call(node)?.state?;
    ["_modules", "_parameters", "_buffers"]
        .iter()
        .all(|k| graph.dict_get(state, k).is_some())
        .then_some(state)
}

/// What `Module.state_dict()` gives for the pickled module at `root`, without running it:
/// `(key, tensor node)` in its order — each module's `_parameters`, then its `_buffers`
/// except those in `_non_persistent_buffers_set`, then its `_modules`, depth first
/// (torch/nn/modules/module.py, `state_dict` and `_save_to_state_dict`). A tensor shared
/// by two modules (tied weights) is listed under both keys, as `state_dict()` does. `None`
/// when `root` is not a module.
pub(crate) fn module_state_dict(
    graph: &Graph<'_>,
    lifted: &Lifted,
    root: NodeId,
) -> Option<Vec<(String, NodeId)>> {
    module_state(graph, root)?;
    let mut out = Vec::new();
    let mut stack = vec![(String::new(), root)];
    let mut seen = 0usize;
    while let Some((prefix, module)) = stack.pop() {
        seen += 1;
        if seen > MAX_MODULES {
            break;
        }
        let Some(state) = module_state(graph, module) else {
            continue;
        };
        let non_persistent = graph
            .dict_get(state, "_non_persistent_buffers_set")
            .map(|s| str_set(graph, lifted, s))
            .unwrap_or_default();
        for (dict, skip) in [("_parameters", &[][..]), ("_buffers", &non_persistent[..])] {
            let pairs = graph
                .dict_get(state, dict)
                .and_then(|d| mapping(graph, lifted, d))
                .unwrap_or_default();
            for (key, value) in pairs {
                let Some(key) = graph.str(key) else { continue };
                if skip.contains(&key) || matches!(graph.node(value), Node::None) {
                    continue;
                }
                out.push((format!("{prefix}{key}"), value));
            }
        }
        let children = graph
            .dict_get(state, "_modules")
            .and_then(|d| mapping(graph, lifted, d))
            .unwrap_or_default();
        for (name, child) in children.into_iter().rev() {
            if let Some(name) = graph.str(name) {
                stack.push((format!("{prefix}{name}."), child));
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(path: &str) -> (String, bool) {
        key_of(&parse(path, "$").unwrap_or_default())
    }

    #[test]
    fn module_nesting_maps_to_state_dict_keys() {
        assert_eq!(
            key("$._modules[\"0\"]._parameters[\"weight\"]"),
            ("0.weight".into(), true)
        );
        assert_eq!(
            key("$._modules[\"enc\"]._modules[\"layers\"]._modules[\"3\"]._buffers[\"running_mean\"]"),
            ("enc.layers.3.running_mean".into(), true)
        );
        assert_eq!(key("$[\"fc1.weight\"]"), ("fc1.weight".into(), true));
        assert_eq!(key("$[\"a\"][0]"), ("a.0".into(), true));
        assert_eq!(key("$.cache[\"k\"]"), ("cache.k".into(), false));
    }

    #[test]
    fn escaped_and_bracketed_keys_come_back_whole() {
        assert_eq!(
            parse("$[\"a\\\"].b[\\\\\"][2].x", "$"),
            Some(vec![
                PathStep::Key("a\"].b[\\".into()),
                PathStep::Index("2".into()),
                PathStep::Attr("x".into()),
            ])
        );
        assert_eq!(parse("$[\"x\"]\u{2026}", "$"), None);
        assert_eq!(parse("$[\"unterminated", "$"), None);
    }

    #[test]
    fn a_checkpoint_names_its_state_dict_entry_and_leaves_the_rest_outside() {
        let paths = [
            "$[\"state_dict\"][\"model.fc1.weight\"]",
            "$[\"optimizer_states\"][0][\"state\"][0][\"exp_avg\"]",
        ];
        let root = StateDictRoot::find(paths.iter().copied(), "$");
        assert_eq!(root.entry.as_deref(), Some("state_dict"));
        let inside = root.name(paths[0], "$");
        assert_eq!(
            inside,
            Some(TensorName {
                key: "model.fc1.weight".into(),
                in_state_dict: true
            })
        );
        let outside = root.name(paths[1], "$");
        assert_eq!(
            outside,
            Some(TensorName {
                key: "optimizer_states.0.state.0.exp_avg".into(),
                in_state_dict: false
            })
        );
        let plain = StateDictRoot::find(["$[\"w\"]"].into_iter(), "$");
        assert_eq!(plain.entry, None);
    }
}
