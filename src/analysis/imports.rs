//! Imports: each distinct global of a pickle with its category, reason and object paths,
//! and the findings they raise (one per import whose category has a rule, and numpy 2's
//! module names).

#![warn(clippy::arithmetic_side_effects)]

use crate::classify::KnownGlobals;
use crate::machine::Graph;
use crate::report::{Detected, ImportReport};
use crate::rules::Rule;

use super::findings::reachability_note;
use super::object_paths::GlobalUses;

/// The `numpy._core` modules numpy 1.26 provides as stand-ins for numpy 2 pickles.
const NUMPY_126_CORE_SHIMS: &[&str] = &[
    "numpy._core._dtype",
    "numpy._core._dtype_ctypes",
    "numpy._core._internal",
    "numpy._core._multiarray_umath",
    "numpy._core.multiarray",
    "numpy._core.umath",
];

/// The imports of one pickle: `globals` are (global index, offset of the opcode that first
/// names it), in order of first appearance; `uses` are the walk's, by global index. With
/// each import, whether it is a vetted call target (for `analysis/calls.rs`).
pub(crate) fn import_reports(
    known: &KnownGlobals,
    graph: &Graph<'_>,
    globals: &[(u32, usize)],
    uses: &[GlobalUses],
) -> (Vec<ImportReport>, Vec<bool>) {
    let mut imports = Vec::with_capacity(globals.len());
    let mut vetted = Vec::with_capacity(globals.len());
    for &(index, offset) in globals {
        let Some(global) = graph.globals.get(index as usize) else {
            continue;
        };
        let class = known.classify(&global.module, &global.name);
        vetted.push(class.vetted.is_some());
        let uses = uses.get(index as usize).cloned().unwrap_or_default();
        imports.push(ImportReport {
            module: global.module.to_string(),
            name: global.name.to_string(),
            category: class.category,
            reason: class.reason.to_string(),
            offset: offset as u64,
            paths: uses.paths,
            uses: uses.count,
            numpy2_only: class.numpy2_only,
            called_at: None,
            call: None,
        });
    }
    (imports, vetted)
}

/// The findings a pickle's imports raise: one for each import whose category has a rule
/// ([`Rule::for_category`]; the rule set decides which are shown), and `numpy2-only` for
/// the first numpy 2 module name.
pub(crate) fn import_findings(imports: &[ImportReport], member: Option<&str>) -> Vec<Detected> {
    let mut out = Vec::new();
    let mut numpy2_reported = false;
    for import in imports {
        let qualified = format!("{}.{}", import.module, import.name);
        let at = |rule: Rule, message: String| {
            Detected::new(rule, message)
                .path(import.paths.first().map(String::as_str))
                .at(Some(import.offset))
                .member(member)
                .global(&import.module, &import.name)
        };
        if let Some(rule) = Rule::for_category(import.category) {
            let message = format!(
                "{qualified}: {}{}",
                import.reason,
                reachability_note(import)
            );
            out.push(at(rule, message));
        }
        if import.numpy2_only && !numpy2_reported {
            numpy2_reported = true;
            // numpy 1.26 ships stand-ins for a few numpy._core modules so that it can read
            // numpy 2's most common pickles; the others need numpy 2.
            let shim = NUMPY_126_CORE_SHIMS.contains(&import.module.as_str());
            let needs = if shim { "numpy >= 1.26" } else { "numpy >= 2" };
            let message =
                format!("{qualified} is numpy 2's name: loading needs {needs}, older numpy fails");
            out.push(at(Rule::Numpy2Only, message));
        }
    }
    out
}
