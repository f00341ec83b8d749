//! Findings: those that come from graph nodes rather than imports (extension references,
//! persistent ids), and the pipeline every detection goes through. The analysis emits
//! [`Detected`] values without a severity; [`apply`] is the one step that gives each the
//! severity a [`RuleSet`] says, drops `off` rules, adds the policy's deny findings and
//! orders the result.

#![warn(clippy::arithmetic_side_effects)]

use std::borrow::Cow;

use crate::machine::{Graph, Node};
use crate::report::{Detected, Finding, ImportReport, PickleReport};
use crate::rules::{Rule, RuleSet, Severity};

/// Appended to a message about a global no object path reaches: it still runs.
pub(crate) const UNREACHABLE_NOTE: &str =
    " (not reachable from the root object, but imported when the file is loaded)";

/// What to append to a message about `import`: nothing when an object path reaches it;
/// when none does but it is called, that the call runs on load and its result is
/// discarded (a POPped `os.system(...)` runs all the same); otherwise
/// [`UNREACHABLE_NOTE`].
pub(crate) fn reachability_note(import: &ImportReport) -> Cow<'static, str> {
    match (import.paths.is_empty(), import.called_at) {
        (false, _) => Cow::Borrowed(""),
        (true, Some(at)) => Cow::Owned(format!(
            " (called at offset {at}: the call runs when the file is loaded, and its result \
             is discarded)"
        )),
        (true, None) => Cow::Borrowed(UNREACHABLE_NOTE),
    }
}

/// A detection with the severity `rules` gives its rule; `None` when that is `off`.
pub(crate) fn judge(rules: &RuleSet, detected: Detected) -> Option<Finding> {
    let severity = rules.severity(detected.rule);
    (severity != Severity::Off).then(|| detected.with_severity(severity))
}

/// The findings pipeline: every detection judged by `rules`, plus a `denied-import`
/// finding for each import of `pickles` that a deny entry matches, sorted by member and
/// offset (stably: detections at one place keep their order).
pub(crate) fn apply(
    detected: Vec<Detected>,
    pickles: &[PickleReport],
    rules: &RuleSet,
) -> Vec<Finding> {
    let mut findings: Vec<Finding> = detected
        .into_iter()
        .filter_map(|d| judge(rules, d))
        .collect();
    if !rules.deny.is_empty() && rules.severity(Rule::DeniedImport) != Severity::Off {
        for pickle in pickles {
            for import in &pickle.imports {
                findings.extend(denied(rules, pickle, import));
            }
        }
    }
    findings.sort_by(|a, b| (&a.member, a.offset).cmp(&(&b.member, b.offset)));
    findings
}

/// The `denied-import` finding for `import`, if a deny entry matches it. Deny entries are
/// checked whatever the global's category.
fn denied(rules: &RuleSet, pickle: &PickleReport, import: &ImportReport) -> Option<Finding> {
    let entry = rules
        .deny
        .iter()
        .find(|d| d.matches(&import.module, &import.name))?;
    let why = entry
        .reason
        .as_deref()
        .map(|r| format!(": {r}"))
        .unwrap_or_default();
    let message = format!(
        "{}.{} is denied by the policy (`{}`){why}{}",
        import.module,
        import.name,
        entry.pattern,
        reachability_note(import)
    );
    let detected = Detected::new(Rule::DeniedImport, message)
        .path(import.paths.first().map(String::as_str))
        .at(Some(import.offset))
        .member(pickle.member.as_deref())
        .global(&import.module, &import.name);
    judge(rules, detected)
}

/// Findings that come from nodes rather than imports: extension references (each one) and
/// persistent ids (the first, where the format does not expect them).
pub(crate) fn graph_findings(
    graph: &Graph<'_>,
    member: Option<&str>,
    persistent_ids_expected: bool,
) -> Vec<Detected> {
    let mut out = Vec::new();
    let mut persistent = None;
    for (_, node) in graph.references() {
        match node {
            Node::Extension { code, offset } => {
                // The registry is state of the loading process: the file loads only where
                // the same codes are registered (non-portable), and a code can resolve to
                // any global, os.system included (the finding says so).
                let message = format!(
                    "EXT code {code} names a global through copyreg's extension registry: \
                     empty in a fresh interpreter (loading fails), and where codes are \
                     registered it can resolve to any callable, os.system included"
                );
                out.push(
                    Detected::new(Rule::ExtensionRef, message)
                        .at(Some(offset as u64))
                        .member(member),
                );
            }
            Node::PersistentId { offset, .. }
                if !persistent_ids_expected && persistent.is_none() =>
            {
                persistent = Some(offset);
            }
            _ => {}
        }
    }
    if let Some(offset) = persistent {
        out.push(
            Detected::new(
                Rule::PersistentRef,
                "the stream refers to objects kept outside it (PERSID/BINPERSID): plain \
                 pickle.load fails on it",
            )
            .at(Some(offset as u64))
            .member(member),
        );
    }
    out
}
