//! Portability hints (`explain`'s "To make this portable"): a library or script object
//! whose state is a dict of plain values and arrays can be replaced by that content. Each
//! hint names the object's class, its plain parameters (rendered short, Python-like) and
//! the object paths of its arrays. For a class with a constructor recipe
//! (`crate::rebuild::recipes`: keras' TimeseriesGenerator stores `start_index + length`
//! as `start_index`), the parameters are the constructor's, not the stored values.

#![warn(clippy::arithmetic_side_effects)]

use crate::classify::Category;
use crate::lift::Lifted;
use crate::machine::{Graph, Node, NodeId};
use crate::pytext;
use crate::rebuild::recipes::{self, Make};
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
            recipe: None,
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
        constructor_parameters(&mut hint, pairs.len());
        Some(hint)
    }
}

/// Rewrites a hint's parameters as its class's constructor takes them, when a recipe says
/// they differ from the stored state (and the state has exactly the recipe's entries).
fn constructor_parameters(hint: &mut PortableHint, state_len: usize) {
    let names = hint
        .parameters
        .iter()
        .map(|(k, _)| k.as_str())
        .chain(hint.arrays.iter().map(|(k, ..)| k.as_str()));
    let Some(recipe) = recipes::find(&hint.class, names) else {
        return;
    };
    let Make::Constructor {
        positional,
        keywords,
        computed,
    } = recipe.make
    else {
        return;
    };
    if computed.is_empty() || state_len != positional.len().saturating_add(keywords.len()) {
        return;
    }
    let value = |name: &str, hint: &PortableHint| {
        hint.parameters
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let mut changed = Vec::new();
    for (name, template) in computed {
        let Some(stored) = value(name, hint) else {
            return;
        };
        let text = hint
            .parameters
            .iter()
            .fold(template.to_string(), |t, (k, v)| {
                t.replace(&format!("{{{k}}}"), v)
            });
        let new = evaluate(&text).map_or(text, |v| v.to_string());
        changed.push(format!("{name}={new} (stored: {stored})"));
        if let Some(slot) = hint.parameters.iter_mut().find(|(k, _)| k == name) {
            slot.1 = new;
        }
    }
    hint.recipe = Some(format!(
        "{}: {}; here {}",
        recipe.library,
        recipe.note,
        changed.join(", ")
    ));
}

/// `a - b` of two integers, when the text is that.
fn evaluate(text: &str) -> Option<i128> {
    let (a, b) = text.split_once(" - ")?;
    a.trim()
        .parse::<i128>()
        .ok()?
        .checked_sub(b.trim().parse().ok()?)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::Category;

    fn timeseries(start_index: &str) -> PortableHint {
        let parameters = [
            ("length", "10"),
            ("sampling_rate", "1"),
            ("stride", "1"),
            ("start_index", start_index),
            ("end_index", "99"),
            ("shuffle", "False"),
            ("reverse", "False"),
            ("batch_size", "8"),
        ];
        PortableHint {
            path: "$".into(),
            class: "keras_preprocessing.sequence.TimeseriesGenerator".into(),
            category: Category::Library,
            parameters: parameters
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            arrays: vec![
                ("data".into(), "$.data".into(), vec![100], "<i8".into()),
                (
                    "targets".into(),
                    "$.targets".into(),
                    vec![100],
                    "<f8".into(),
                ),
            ],
            recipe: None,
        }
    }

    #[test]
    fn timeseries_generator_hints_give_the_constructors_start_index() {
        let mut hint = timeseries("12");
        constructor_parameters(&mut hint, 10);
        let start = hint.parameters.iter().find(|(k, _)| k == "start_index");
        assert_eq!(start.map(|(_, v)| v.as_str()), Some("2"));
        let recipe = hint.recipe.unwrap_or_default();
        assert!(recipe.contains("start_index=2 (stored: 12)"), "{recipe}");
        // A state with other entries than the constructor's is left as it is.
        let mut odd = timeseries("12");
        constructor_parameters(&mut odd, 11);
        assert!(odd.recipe.is_none());
        assert_eq!(odd.parameters, timeseries("12").parameters);
        // A value that is not an int stays an expression.
        let mut text = timeseries("<object>");
        constructor_parameters(&mut text, 10);
        let start = text.parameters.iter().find(|(k, _)| k == "start_index");
        assert_eq!(start.map(|(_, v)| v.as_str()), Some("<object> - 10"));
        assert_eq!(evaluate(&format!("{} - 1", i128::MIN)), None);
    }
}
