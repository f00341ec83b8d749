//! The execution trace in the report: each call the loader makes with the object path of
//! its result (or none: discarded), which imports are called, and the findings that come
//! from what runs rather than from what is imported — a STACK_GLOBAL on a computed name
//! (a dynamic import), BUILD on a module or class (it rewrites attributes), items added to
//! an object a module holds (its state changes), and where the loader stops in a stream
//! that fails part-way.

#![warn(clippy::arithmetic_side_effects)]

use rustc_hash::FxHashMap as HashMap;

use crate::error::{Error, ErrorKind};
use crate::machine::{Graph, MutationKind, Node, NodeId, Pickle, COMPUTED};
use crate::opcode::Opcode;
use crate::report::{CallTrace, Detected, ImportReport};
use crate::rules::Rule;

/// The report's trace of `pickle`: `paths` are the walk's ([`super::object_paths`]) and
/// `visited` its nodes, both empty for a pickle that failed (nothing it built is
/// returned). A node the walk reached past the paths it keeps gets the path `…`.
pub(crate) fn call_traces(
    graph: &Graph<'_>,
    pickle: &Pickle,
    paths: &[(NodeId, String)],
    visited: &[bool],
) -> Vec<CallTrace> {
    let by_node: HashMap<NodeId, &str> = paths.iter().map(|(n, p)| (*n, p.as_str())).collect();
    pickle
        .calls
        .iter()
        .map(|traced| {
            let named = match traced.opcode {
                Opcode::BUILD => class_of(graph, traced.node),
                Opcode::STACK_GLOBAL => None,
                _ => graph.call(traced.node).map(|call| call.callable),
            };
            CallTrace {
                offset: traced.offset as u64,
                opcode: traced.opcode.name(),
                callable: named.and_then(|id| global_name(graph, id)),
                result: match by_node.get(&traced.node) {
                    Some(path) => Some((*path).to_string()),
                    None if visited.get(traced.node.index()) == Some(&true) => {
                        Some("…".to_string())
                    }
                    None => None,
                },
            }
        })
        .collect()
}

/// The class of an object BUILD gives state to: its callable (the first argument for
/// copyreg's `__newobj__`-style helpers is not looked at), or the global itself.
fn class_of(graph: &Graph<'_>, target: NodeId) -> Option<NodeId> {
    match graph.node(target) {
        Node::Call(call) => Some(call.callable),
        Node::Global { .. } => Some(target),
        _ => None,
    }
}

/// `module.name` of a global node named in the stream; `None` for anything else or a
/// computed one.
fn global_name(graph: &Graph<'_>, id: NodeId) -> Option<String> {
    graph
        .global(id)
        .filter(|g| g.module != COMPUTED)
        .map(|g| format!("{}.{}", g.module, g.name))
}

/// Marks each import of `imports` that the trace calls with the offset of its first call.
pub(crate) fn mark_called(graph: &Graph<'_>, pickle: &Pickle, imports: &mut [ImportReport]) {
    let mut first: HashMap<u32, usize> = HashMap::default();
    for traced in &pickle.calls {
        if matches!(traced.opcode, Opcode::BUILD | Opcode::STACK_GLOBAL) {
            continue;
        }
        let Some(call) = graph.call(traced.node) else {
            continue;
        };
        if let Node::Global { index, .. } = graph.node(call.callable) {
            first.entry(index).or_insert(traced.offset);
        }
    }
    for (import, &(index, _)) in imports.iter_mut().zip(&pickle.globals) {
        import.called_at = first.get(&index).map(|&o| o as u64);
    }
}

/// Code-exec findings from what the stream does rather than what it imports: every
/// STACK_GLOBAL on a computed name, every BUILD on a global (a module, class or function
/// object), and every APPEND(S)/SETITEM(S)/ADDITEMS on one (it changes the module's state).
/// All of the graph is read, not the capped trace.
pub(crate) fn runtime_findings(graph: &Graph<'_>, member: Option<&str>) -> Vec<Detected> {
    let mut out = Vec::new();
    for global in &graph.globals {
        if global.module == COMPUTED {
            out.push(
                Detected::new(
                    Rule::CodeExec,
                    "dynamic import: the name is computed at load time (STACK_GLOBAL on an \
                     object the load makes, such as a call's result), so it can import any \
                     callable, os.system included",
                )
                .at(Some(global.offset as u64))
                .member(member),
            );
        }
    }
    for mutation in &graph.mutations {
        let Some(global) = graph.global(mutation.target) else {
            continue;
        };
        let what = if global.module == COMPUTED {
            "a computed global".to_string()
        } else {
            format!("{}.{}", global.module, global.name)
        };
        let message = match mutation.kind {
            MutationKind::State(_) => format!(
                "BUILD on {what}, a module, class or function object rather than an \
                 instance: it sets that object's attributes, so a later global or call can \
                 resolve to anything (builtins.eval)"
            ),
            // The loader calls the object's own append/extend/__setitem__/add.
            MutationKind::Items(_) | MutationKind::Pairs(_) => format!(
                "items added to {what}, an object the module holds rather than one the load \
                 made: that changes the module's state for everything after it (a lookup \
                 table such as copyreg's extension registry or sys.path, so a later EXT, \
                 global or call can resolve to anything), and calls that object's own \
                 append, extend, __setitem__ or add"
            ),
        };
        let mut detected = Detected::new(Rule::CodeExec, message)
            .at(Some(mutation.offset as u64))
            .member(member);
        if global.module != COMPUTED {
            detected = detected.global(&global.module, &global.name);
        }
        out.push(detected);
    }
    out
}

/// The finding for a pickle the loader stops in: `malformed` (or `limit-exceeded`) at
/// the offset of the failure, saying what ran before it.
pub(crate) fn stop_finding(pickle: &Pickle, error: &Error, member: Option<&str>) -> Detected {
    let rule = if matches!(error.kind(), ErrorKind::LimitExceeded(_)) {
        Rule::LimitExceeded
    } else {
        Rule::Malformed
    };
    let ran = match pickle.calls_total {
        0 => "no call ran before it".to_string(),
        1 => "the call before it runs when the file is loaded".to_string(),
        n => format!("the {n} calls before it run when the file is loaded"),
    };
    let message = format!(
        "the loader stops here: {}; {ran}, and the imports and findings before it stand",
        error.message()
    );
    Detected::new(rule, message)
        .at(Some(error.offset()))
        .member(member)
}
