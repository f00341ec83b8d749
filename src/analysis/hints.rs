//! Portability hints (`explain`'s "To make this portable"): a library or script object
//! whose state is a dict of plain values and arrays can be replaced by that content. Each
//! hint names the object's class, its plain parameters (rendered short, Python-like) and
//! the object paths of its arrays.

#![warn(clippy::arithmetic_side_effects)]

use crate::classify::Category;
use crate::lift::Lifted;
use crate::machine::{Graph, Node, NodeId};
use crate::pytext;
use crate::report::PortableHint;

use super::object_paths::ObjectPaths;
use super::Analysis;

/// At most this many hints per input.
const MAX_HINTS: usize = 10;

/// Tuples nested deeper than this are summarised in hints: input controls the nesting, and
/// memo references can share one tuple at every position of the next (8**depth renderings).
const SHORT_REPR_DEPTH: usize = 2;

impl Analysis<'_> {
    /// Adds hints for the objects `walk` found in one pickle, its arrays read from the
    /// stream's lift pass.
    pub(crate) fn portable_hints(
        &mut self,
        graph: &Graph<'_>,
        lifted: &Lifted,
        walk: &ObjectPaths<'_>,
    ) {
        for (path, node) in &walk.objects {
            if self.report.portable_hints.len() >= MAX_HINTS {
                return;
            }
            if let Some(hint) = self.hint(graph, lifted, path, *node) {
                self.report.portable_hints.push(hint);
            }
        }
    }

    fn hint(
        &self,
        graph: &Graph<'_>,
        lifted: &Lifted,
        path: &str,
        node: NodeId,
    ) -> Option<PortableHint> {
        let call = graph.call(node)?;
        let class = lifted
            .constructed_class(graph, node)
            .map_or(call.callable, |(c, _)| c);
        let global = graph.global(class)?;
        let class = self.options.known.classify(&global.module, &global.name);
        if !matches!(
            class.category,
            Category::Library | Category::UserDefined | Category::Unknown
        ) {
            return None;
        }
        let Some(Node::Dict(pairs)) = call.state.map(|s| graph.node(s)) else {
            return None;
        };
        let mut hint = PortableHint {
            path: path.to_string(),
            class: format!("{}.{}", global.module, global.name),
            category: class.category,
            parameters: Vec::new(),
            arrays: Vec::new(),
        };
        for &(k, v) in pairs {
            let Some(name) = graph.str(k) else { continue };
            match lifted.array(v) {
                Some(Ok(info)) => hint.arrays.push((
                    name.to_string(),
                    format!("{path}.{name}"),
                    info.shape.clone(),
                    info.dtype.str(),
                )),
                Some(Err(_)) => {}
                None => hint
                    .parameters
                    .push((name.to_string(), short_repr(graph, v, 0))),
            }
        }
        Some(hint)
    }
}

/// A short Python-like rendering of a plain value, for parameters in hints.
fn short_repr(graph: &Graph<'_>, id: NodeId, depth: usize) -> String {
    let mut out = String::new();
    match graph.node(id) {
        Node::None => out.push_str("None"),
        Node::Bool(b) => out.push_str(if b { "True" } else { "False" }),
        Node::Int(v) => out.push_str(&v.to_string()),
        Node::BigInt(v) => {
            if pytext::repr_int(v, &mut out).is_err() {
                out = "<int>".into();
            }
        }
        Node::Float(x) => pytext::repr_float(x, &mut out),
        Node::Str(s) if s.chars().count() <= 60 => pytext::repr_text(s, &mut out),
        Node::Str(s) => out.push_str(&format!("<str of {} characters>", s.chars().count())),
        Node::Bytes(b, _) => out.push_str(&format!("<{} bytes>", b.len())),
        Node::Tuple(items) if items.len() <= 8 && depth < SHORT_REPR_DEPTH => {
            pytext::repr_tuple(items, &mut out, |&item, out| {
                out.push_str(&short_repr(graph, item, depth.saturating_add(1)));
            });
        }
        Node::Tuple(items) => out.push_str(&format!("<tuple of {}>", items.len())),
        Node::List(items) => out.push_str(&format!("<list of {}>", items.len())),
        Node::Dict(pairs) => out.push_str(&format!("<dict of {}>", pairs.len())),
        Node::Set(items) | Node::FrozenSet(items) => {
            out.push_str(&format!("<set of {}>", items.len()))
        }
        Node::Global { index, .. } => match graph.globals.get(index as usize) {
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
