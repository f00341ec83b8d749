//! `lint --format sarif`: SARIF 2.1.0 (OASIS), the subset GitHub code scanning reads. A small
//! model of its own (as cargo-deny's `src/sarif/model.rs`), validated against the 2.1.0 JSON
//! schema by `tests/lint_formats.rs`.
//!
//! * `tool.driver.rules` lists every rule with its summary, explanation and default level;
//!   results point into it by `ruleId` and `ruleIndex`.
//! * A result's physical location is the file, as a URI relative to the repository root
//!   (`uriBaseId` `%SRCROOT%`, defined in `originalUriBaseIds`), with a region holding the
//!   `byteOffset` of the finding. GitHub needs a `startLine` in every region, and pickles
//!   have no lines: the region's `startLine` is 1, and the byte offset is the real place.
//! * An archive member (`archive/data.pkl` of a torch checkpoint, a `.npy` of an `.npz`) is a
//!   logical location of kind `resource`; the object path (`$["hook"]`) one of kind `object`.
//! * `partialFingerprints` identify a result across runs without its offset (rule, file,
//!   member, global, object path), so editing a file elsewhere does not reopen its alerts.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{FileResult, Run};
use crate::report::Finding;
use crate::rules::{Rule, Severity, RULES};

/// The schema URI written in `$schema`.
pub(crate) const SARIF_SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";
const SRCROOT: &str = "%SRCROOT%";

#[derive(Serialize)]
struct Log {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: Vec<RunDoc>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RunDoc {
    tool: Tool,
    original_uri_base_ids: BTreeMap<&'static str, ArtifactLocation>,
    invocations: Vec<Invocation>,
    results: Vec<ResultDoc>,
}

#[derive(Serialize)]
struct Tool {
    driver: Driver,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Driver {
    name: &'static str,
    version: &'static str,
    semantic_version: &'static str,
    rules: Vec<ReportingDescriptor>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ReportingDescriptor {
    id: &'static str,
    name: String,
    short_description: Message,
    full_description: Message,
    help: MultiformatMessage,
    default_configuration: Configuration,
    properties: RuleProperties,
}

#[derive(Serialize)]
struct Message {
    text: String,
}

#[derive(Serialize)]
struct MultiformatMessage {
    text: String,
    markdown: String,
}

#[derive(Serialize)]
struct Configuration {
    enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    level: Option<&'static str>,
}

#[derive(Serialize)]
struct RuleProperties {
    tags: Vec<&'static str>,
    precision: &'static str,
    #[serde(rename = "security-severity", skip_serializing_if = "Option::is_none")]
    security_severity: Option<&'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Invocation {
    execution_successful: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tool_execution_notifications: Vec<Notification>,
}

#[derive(Serialize)]
struct Notification {
    level: &'static str,
    message: Message,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ResultDoc {
    rule_id: &'static str,
    rule_index: usize,
    level: &'static str,
    message: Message,
    locations: Vec<Location>,
    partial_fingerprints: BTreeMap<&'static str, String>,
    properties: BTreeMap<&'static str, Value>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Location {
    physical_location: PhysicalLocation,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    logical_locations: Vec<LogicalLocation>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PhysicalLocation {
    artifact_location: ArtifactLocation,
    region: Region,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ArtifactLocation {
    uri: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    uri_base_id: Option<&'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Region {
    start_line: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    byte_offset: Option<u64>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LogicalLocation {
    name: String,
    fully_qualified_name: String,
    kind: &'static str,
}

/// SARIF's `level` for a severity.
fn level(severity: Severity) -> Option<&'static str> {
    match severity {
        Severity::Error => Some("error"),
        Severity::Warning => Some("warning"),
        Severity::Info => Some("note"),
        Severity::Off => None,
    }
}

/// `code-exec` → `CodeExec`.
fn pascal(id: &str) -> String {
    id.split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

fn descriptor(rule: Rule) -> ReportingDescriptor {
    let security = rule.security_severity();
    let mut tags = vec!["pickle"];
    tags.push(if security.is_some() {
        "security"
    } else {
        "portability"
    });
    ReportingDescriptor {
        id: rule.id(),
        name: pascal(rule.id()),
        short_description: Message {
            text: rule.summary().to_string(),
        },
        full_description: Message {
            text: rule.explanation().to_string(),
        },
        help: MultiformatMessage {
            text: format!(
                "{}\n\nSee `pklinspect rules {}`.",
                rule.explanation(),
                rule.id()
            ),
            markdown: format!(
                "**{}**\n\n{}\n\nSee `pklinspect rules {}`.",
                rule.summary(),
                rule.explanation(),
                rule.id()
            ),
        },
        default_configuration: Configuration {
            enabled: rule.default_severity() != Severity::Off,
            level: level(rule.default_severity()),
        },
        properties: RuleProperties {
            tags,
            precision: "very-high",
            security_severity: security,
        },
    }
}

/// Percent-encodes a relative path for a URI (RFC 3986: unreserved characters and `/` stay).
pub(crate) fn uri_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for &b in path.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A `file://` URI for an absolute path (a folder's ends with `/`).
fn file_uri(path: &std::path::Path, folder: bool) -> String {
    let text = path.to_string_lossy().replace('\\', "/");
    let mut uri = format!("file://{}", uri_path(&text));
    if folder && !uri.ends_with('/') {
        uri.push('/');
    }
    uri
}

fn fingerprint(uri: &str, f: &Finding) -> String {
    let mut hasher = Sha256::new();
    for part in [
        f.rule.id(),
        uri,
        f.member.as_deref().unwrap_or(""),
        f.module.as_deref().unwrap_or(""),
        f.name.as_deref().unwrap_or(""),
        f.path.as_deref().unwrap_or(""),
    ] {
        hasher.update(part.as_bytes());
        hasher.update([0u8]);
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn result(run: &Run, file: &FileResult, f: &Finding) -> ResultDoc {
    let (uri, uri_base_id) = match run.relative_path(file) {
        Some(rel) => (uri_path(&rel), Some(SRCROOT)),
        None if file.path.as_os_str() == "-" => (uri_path(&file.name), None),
        None => (
            file_uri(&super::policy::absolute(&run.cwd, &file.path), false),
            None,
        ),
    };
    let mut logical = Vec::new();
    if let Some(member) = &f.member {
        logical.push(LogicalLocation {
            name: member.clone(),
            fully_qualified_name: member.clone(),
            kind: "resource",
        });
    }
    if let Some(path) = &f.path {
        logical.push(LogicalLocation {
            name: path.clone(),
            fully_qualified_name: match &f.member {
                Some(member) => format!("{member}:{path}"),
                None => path.clone(),
            },
            kind: "object",
        });
    }
    let mut text = f.message.clone();
    if let Some(path) = &f.path {
        text.push_str(&format!(" (object {path})"));
    }
    if let Some(member) = &f.member {
        text.push_str(&format!(" in {member}"));
    }
    let mut properties = BTreeMap::new();
    for (key, value) in [
        ("module", &f.module),
        ("name", &f.name),
        ("member", &f.member),
        ("objectPath", &f.path),
    ] {
        if let Some(v) = value {
            properties.insert(key, Value::String(v.clone()));
        }
    }
    if let Some(offset) = f.offset {
        properties.insert("offset", Value::from(offset));
    }
    let mut fingerprints = BTreeMap::new();
    fingerprints.insert("pklinspectFinding/v1", fingerprint(&uri, f));
    ResultDoc {
        rule_id: f.rule.id(),
        rule_index: RULES.iter().position(|&r| r == f.rule).unwrap_or(0),
        level: level(f.severity).unwrap_or("none"),
        // Shown to people by viewers (GitHub's alerts): no bidi controls or escape
        // sequences from file-chosen names; the properties keep the exact text.
        message: Message {
            text: sarif_text(&text),
        },
        locations: vec![Location {
            physical_location: PhysicalLocation {
                artifact_location: ArtifactLocation { uri, uri_base_id },
                // Offsets inside an archive member or a decompressed stream are not offsets
                // into the file: those stay in the message and properties only.
                region: Region {
                    start_line: 1,
                    byte_offset: f.offset.filter(|_| f.member.is_none() && !file.decoded),
                },
            },
            logical_locations: logical,
        }],
        partial_fingerprints: fingerprints,
        properties,
    }
}

/// A message's text as viewers show it: no control, escape or bidi characters from
/// file-chosen names ([`crate::render::style::shown`]), and no embedded link. SARIF 2.1.0
/// §3.11.6 reads `[text](target)` in a plain-text message as a link (GitHub renders it);
/// a name such as `[docs](https://evil.example)` would become one, so a `]` followed by `(`
/// is escaped as the spec escapes a literal bracket, `\]`.
fn sarif_text(text: &str) -> String {
    crate::render::style::shown(text).replace("](", "\\](")
}

/// The SARIF 2.1.0 log of a run.
pub fn sarif_value(run: &Run, successful: bool) -> Value {
    let mut results = Vec::new();
    for file in &run.files {
        for f in &file.findings {
            results.push(result(run, file, f));
        }
    }
    let notifications = run
        .warnings
        .iter()
        .map(|w| Notification {
            level: "warning",
            message: Message {
                text: sarif_text(&if w.path.is_empty() {
                    w.message.clone()
                } else {
                    format!("{}: {}", w.path, w.message)
                }),
            },
        })
        .collect();
    let mut bases = BTreeMap::new();
    bases.insert(
        SRCROOT,
        ArtifactLocation {
            uri: file_uri(&run.root, true),
            uri_base_id: None,
        },
    );
    let log = Log {
        schema: SARIF_SCHEMA,
        version: "2.1.0",
        runs: vec![RunDoc {
            tool: Tool {
                driver: Driver {
                    name: "pklinspect",
                    version: env!("CARGO_PKG_VERSION"),
                    semantic_version: env!("CARGO_PKG_VERSION"),
                    rules: RULES.iter().map(|&r| descriptor(r)).collect(),
                },
            },
            original_uri_base_ids: bases,
            invocations: vec![Invocation {
                execution_successful: successful,
                tool_execution_notifications: notifications,
            }],
            results,
        }],
    };
    serde_json::to_value(log).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_are_percent_encoded() {
        assert_eq!(uri_path("models/a b#1%.pkl"), "models/a%20b%231%25.pkl");
        assert_eq!(uri_path("données.pkl"), "donn%C3%A9es.pkl");
        assert_eq!(
            file_uri(std::path::Path::new("/w/re po"), true),
            "file:///w/re%20po/"
        );
    }

    #[test]
    fn rule_names_are_pascal_case() {
        assert_eq!(pascal("code-exec"), "CodeExec");
        assert_eq!(pascal("numpy2-only"), "Numpy2Only");
    }
}
