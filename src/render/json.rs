//! `explain --format json` (schema `pklinspect.explain/1`, SPEC §6): small serialisable wire
//! types, built from the report, so the model can change without changing the contract.

use serde::ser::{SerializeStruct, Serializer};
use serde::Serialize;
use serde_json::Value;

use crate::error::Error;
use crate::report::{
    ArrayReport, FactHit, Finding, FrameSummary, ImportReport, PickleReport, PortableHint, Report,
    Requirement, WriterFacts,
};

/// The schema id of `explain --format json`.
pub const EXPLAIN_SCHEMA: &str = "pklinspect.explain/1";

#[derive(Serialize)]
struct ExplainDoc<'a> {
    schema: &'static str,
    file: &'a str,
    container: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    compression: Option<&'a str>,
    size: u64,
    verdict: &'static str,
    pickles: Vec<PickleDoc<'a>>,
    arrays: Vec<ArrayDoc<'a>>,
    findings: Vec<FindingDoc<'a>>,
    portable: Vec<HintDoc<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    frames: Vec<FrameDoc<'a>>,
    /// Who wrote it and what will fail where (`docs/writer-facts.md`); absent when the
    /// bytes say nothing.
    #[serde(skip_serializing_if = "Option::is_none")]
    writer: Option<Value>,
    /// Each real loader's verdict (SPEC §5, `docs/loaders.md`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    loaders: Vec<crate::loaders::wire::LoaderDoc<'a>>,
    /// Where the loader stops in a stream that fails part-way: everything above is what
    /// was read before.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ErrorBody<'a>>,
}

#[derive(Serialize)]
struct PickleDoc<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    member: Option<&'a str>,
    offset: u64,
    length: u64,
    protocol: u8,
    opcodes: u64,
    imports: Vec<ImportDoc<'a>>,
    arrays: Vec<ArrayDoc<'a>>,
    calls: Vec<CallDoc<'a>>,
    #[serde(skip_serializing_if = "is_zero")]
    calls_omitted: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ErrorBody<'a>>,
}

/// One step of the execution trace; `result: null` when the result is discarded.
#[derive(Serialize)]
struct CallDoc<'a> {
    offset: u64,
    opcode: &'static str,
    callable: Option<&'a str>,
    result: Option<&'a str>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Serialize)]
struct ImportDoc<'a> {
    module: &'a str,
    name: &'a str,
    category: &'static str,
    offset: u64,
    paths: &'a [String],
    uses: u64,
    reason: &'a str,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    numpy2_only: bool,
}

#[derive(Serialize)]
struct ArrayDoc<'a> {
    path: &'a str,
    /// As the loader hands it back (big-endian data comes back native from protocols 0–4).
    dtype: Value,
    /// As stored, where that differs.
    #[serde(skip_serializing_if = "Option::is_none")]
    stored_dtype: Option<Value>,
    shape: &'a [u64],
    fortran_order: bool,
    nbytes: Option<u64>,
    offset: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    member: Option<&'a str>,
    extractable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
}

/// One finding on the wire, for both documents that carry findings: `explain --format json`
/// (`pklinspect.explain/1`) and `lint --format json` (`pklinspect.lint/1`). They have the
/// same fields and differ, as SPEC §6 and docs/json.md and docs/lint.md write them, in two
/// ways the [`FindingLayout`] names: where `message` goes, and whether `module`, `name` and
/// `member` are left out or written as `null` when they do not apply.
pub(crate) struct FindingDoc<'a> {
    finding: &'a Finding,
    layout: FindingLayout,
}

/// Which document a [`FindingDoc`] is written for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FindingLayout {
    /// `rule, severity, path, offset, message`, then `module`, `name` and `member` only
    /// when present.
    Explain,
    /// `rule, severity, message, path, offset, module, name, member`: all eight always
    /// present, `null` where they do not apply.
    Lint,
}

impl<'a> FindingDoc<'a> {
    pub(crate) fn new(finding: &'a Finding, layout: FindingLayout) -> FindingDoc<'a> {
        FindingDoc { finding, layout }
    }
}

impl Serialize for FindingDoc<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let f = self.finding;
        let mut doc = serializer.serialize_struct("FindingDoc", 8)?;
        doc.serialize_field("rule", f.rule.id())?;
        doc.serialize_field("severity", f.severity.as_str())?;
        if self.layout == FindingLayout::Lint {
            doc.serialize_field("message", &f.message)?;
        }
        doc.serialize_field("path", &f.path)?;
        doc.serialize_field("offset", &f.offset)?;
        if self.layout == FindingLayout::Explain {
            doc.serialize_field("message", &f.message)?;
        }
        for (key, value) in [
            ("module", &f.module),
            ("name", &f.name),
            ("member", &f.member),
        ] {
            if value.is_none() && self.layout == FindingLayout::Explain {
                doc.skip_field(key)?;
            } else {
                doc.serialize_field(key, value)?;
            }
        }
        doc.end()
    }
}

#[derive(Serialize)]
struct HintDoc<'a> {
    path: &'a str,
    class: &'a str,
    category: &'static str,
    parameters: serde_json::Map<String, Value>,
    arrays: Vec<HintArrayDoc<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    recipe: Option<&'a str>,
}

#[derive(Serialize)]
struct HintArrayDoc<'a> {
    attribute: &'a str,
    path: &'a str,
    shape: &'a [u64],
    dtype: &'a str,
}

#[derive(Serialize)]
struct ErrorDoc<'a> {
    schema: &'static str,
    file: &'a str,
    error: ErrorBody<'a>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    message: &'a str,
    offset: u64,
}

fn array(a: &ArrayReport) -> ArrayDoc<'_> {
    ArrayDoc {
        path: &a.path,
        dtype: a.info.loaded_dtype().descr().to_json(),
        stored_dtype: (a.info.loaded_dtype() != a.info.dtype).then(|| a.dtype.descr().to_json()),
        shape: &a.shape,
        fortran_order: a.fortran_order,
        nbytes: a.nbytes,
        offset: a.offset,
        member: a.member.as_deref(),
        extractable: a.unavailable.is_none(),
        reason: a.unavailable.as_deref(),
    }
}

fn import(i: &ImportReport) -> ImportDoc<'_> {
    ImportDoc {
        module: &i.module,
        name: &i.name,
        category: i.category.as_str(),
        offset: i.offset,
        paths: &i.paths,
        uses: i.uses,
        reason: &i.reason,
        numpy2_only: i.numpy2_only,
    }
}

fn pickle(p: &PickleReport) -> PickleDoc<'_> {
    PickleDoc {
        member: p.member.as_deref(),
        offset: p.offset,
        length: p.length,
        protocol: p.protocol,
        opcodes: p.opcode_count,
        imports: p.imports.iter().map(import).collect(),
        arrays: p.arrays.iter().map(array).collect(),
        calls: p
            .calls
            .iter()
            .map(|c| CallDoc {
                offset: c.offset,
                opcode: c.opcode,
                callable: c.callable.as_deref(),
                result: c.result.as_deref(),
            })
            .collect(),
        calls_omitted: p.calls_total.saturating_sub(p.calls.len() as u64),
        error: p.error.as_ref().map(error_body),
    }
}

fn hint(h: &PortableHint) -> HintDoc<'_> {
    HintDoc {
        path: &h.path,
        class: &h.class,
        category: h.category.as_str(),
        parameters: h
            .parameters
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
        arrays: h
            .arrays
            .iter()
            .map(|(attribute, path, shape, dtype)| HintArrayDoc {
                attribute,
                path,
                shape,
                dtype,
            })
            .collect(),
        recipe: h.recipe.as_deref(),
    }
}

/// A pandas DataFrame or Series as a table (`docs/frames.md`).
#[derive(Serialize)]
struct FrameDoc<'a> {
    path: &'a str,
    kind: &'a str,
    rows: u64,
    columns: Vec<FrameColumnDoc<'a>>,
    index: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
}

#[derive(Serialize)]
struct FrameColumnDoc<'a> {
    name: &'a str,
    dtype: &'a str,
}

fn frame(f: &FrameSummary) -> FrameDoc<'_> {
    FrameDoc {
        path: &f.path,
        kind: &f.kind,
        rows: f.rows,
        columns: f
            .columns
            .iter()
            .map(|(name, dtype)| FrameColumnDoc { name, dtype })
            .collect(),
        index: &f.index,
        error: f.error.as_deref(),
    }
}

/// `writer` (`docs/writer-facts.md`): versions recorded in the file, the numpy and pandas
/// generations, the minimum Python, every fact the names match, and the requirements.
#[derive(Serialize)]
struct WriterDoc<'a> {
    versions: Vec<VersionDoc<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    numpy: Option<GenerationDoc<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pandas: Option<GenerationDoc<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    min_python: Option<MinPythonDoc<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    torch_legacy: Option<TorchLegacyDoc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    torch_zip: Option<TorchZipDoc<'a>>,
    facts: Vec<FactDoc<'a>>,
    requirements: Vec<RequirementDoc>,
}

/// A torch zip archive's records, as written (`null` when absent).
#[derive(Serialize)]
struct TorchZipDoc<'a> {
    version: Option<&'a str>,
    format_version: Option<&'a str>,
    storage_alignment: Option<&'a str>,
    byteorder: Option<&'a str>,
    offset: u64,
}

#[derive(Serialize)]
struct TorchLegacyDoc {
    protocol_version: Option<i64>,
    little_endian: Option<bool>,
    type_sizes: serde_json::Map<String, Value>,
    offset: u64,
}

#[derive(Serialize)]
struct VersionDoc<'a> {
    package: &'a str,
    attribute: &'a str,
    version: &'a str,
    paths: &'a [String],
    uses: u64,
    offset: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    member: Option<&'a str>,
}

#[derive(Serialize)]
struct GenerationDoc<'a> {
    fact: &'static str,
    written_by: &'static str,
    #[serde(skip_serializing_if = "str::is_empty")]
    requires: &'static str,
    globals: &'a [String],
}

#[derive(Serialize)]
struct MinPythonDoc<'a> {
    version: String,
    because: &'a str,
    offset: u64,
}

#[derive(Serialize)]
struct FactDoc<'a> {
    id: &'static str,
    package: &'static str,
    kind: &'static str,
    globals: &'a [String],
    written_by: &'static str,
    fails: &'static str,
    #[serde(skip_serializing_if = "str::is_empty")]
    requires: &'static str,
    #[serde(skip_serializing_if = "str::is_empty")]
    remedy: &'static str,
    source: &'static str,
    path: Option<&'a str>,
    offset: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    member: Option<&'a str>,
}

#[derive(Serialize)]
struct RequirementDoc {
    package: String,
    spec: String,
    recorded: Option<String>,
    evidence: String,
    path: Option<String>,
    offset: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    member: Option<String>,
}

fn generation(hit: Option<&FactHit>) -> Option<GenerationDoc<'_>> {
    hit.map(|h| GenerationDoc {
        fact: h.fact.id,
        written_by: h.fact.written_by,
        requires: h.fact.requires,
        globals: &h.globals,
    })
}

fn requirement(r: Requirement) -> RequirementDoc {
    RequirementDoc {
        package: r.package,
        spec: r.spec,
        recorded: r.recorded,
        evidence: r.evidence,
        path: r.path,
        offset: r.offset,
        member: r.member,
    }
}

/// The `writer` object, or `None` when the bytes say nothing about the writer.
fn writer(w: &WriterFacts) -> Option<Value> {
    if w.is_empty() {
        return None;
    }
    let doc = WriterDoc {
        versions: w
            .versions
            .iter()
            .map(|v| VersionDoc {
                package: &v.package,
                attribute: &v.attribute,
                version: &v.version,
                paths: &v.paths,
                uses: v.uses,
                offset: v.offset,
                member: v.member.as_deref(),
            })
            .collect(),
        numpy: generation(w.generation("numpy")),
        pandas: generation(w.generation("pandas")),
        min_python: w.min_python.as_ref().map(|p| MinPythonDoc {
            version: format!("{}.{}", p.version.0, p.version.1),
            because: &p.because,
            offset: p.offset,
        }),
        torch_legacy: w.torch_legacy.as_ref().map(|t| TorchLegacyDoc {
            protocol_version: t.protocol_version,
            little_endian: t.little_endian,
            type_sizes: t
                .type_sizes
                .iter()
                .map(|(k, v)| (k.clone(), Value::from(*v)))
                .collect(),
            offset: t.offset,
        }),
        torch_zip: w.torch_zip.as_ref().map(|t| TorchZipDoc {
            version: t.version.as_deref(),
            format_version: t.format_version.as_deref(),
            storage_alignment: t.storage_alignment.as_deref(),
            byteorder: t.byteorder.as_deref(),
            offset: t.offset,
        }),
        facts: w
            .facts
            .iter()
            .map(|h| FactDoc {
                id: h.fact.id,
                package: h.fact.package,
                kind: h.fact.kind.as_str(),
                globals: &h.globals,
                written_by: h.fact.written_by,
                fails: h.fact.fails,
                requires: h.fact.requires,
                remedy: h.fact.remedy,
                source: h.fact.source,
                path: h.path.as_deref(),
                offset: h.offset,
                member: h.member.as_deref(),
            })
            .collect(),
        requirements: w.requirements().into_iter().map(requirement).collect(),
    };
    serde_json::to_value(doc).ok()
}

/// The JSON document for one report.
pub fn explain_value(report: &Report) -> Value {
    let doc = ExplainDoc {
        schema: EXPLAIN_SCHEMA,
        file: &report.file,
        container: &report.container,
        compression: report.compression.as_deref(),
        size: report.size,
        verdict: report.verdict.as_str(),
        pickles: report.pickles.iter().map(pickle).collect(),
        arrays: report.arrays.iter().map(array).collect(),
        findings: report
            .findings
            .iter()
            .map(|f| FindingDoc::new(f, FindingLayout::Explain))
            .collect(),
        portable: report.portable_hints.iter().map(hint).collect(),
        frames: report.frames.iter().map(frame).collect(),
        writer: writer(&report.writer),
        loaders: report
            .loaders
            .iter()
            .map(crate::loaders::wire::loader)
            .collect(),
        error: report.stopped.as_ref().map(error_body),
    };
    serde_json::to_value(doc).unwrap_or(Value::Null)
}

fn error_body(error: &Error) -> ErrorBody<'_> {
    ErrorBody {
        message: error.message(),
        offset: error.offset(),
    }
}

/// The JSON document for a file that could not be read.
pub fn error_value(file: &str, error: &Error) -> Value {
    serde_json::to_value(ErrorDoc {
        schema: EXPLAIN_SCHEMA,
        file,
        error: error_body(error),
    })
    .unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{Rule, Severity};

    fn finding(module: Option<&str>) -> Finding {
        Finding {
            rule: Rule::UserDefined,
            severity: Severity::Error,
            path: Some("$".into()),
            offset: Some(27),
            message: "m".into(),
            module: module.map(str::to_string),
            name: module.map(|_| "DataWrapper".to_string()),
            member: None,
        }
    }

    #[test]
    fn a_finding_keeps_each_documents_field_order_and_absent_fields() {
        let explain = |f: &Finding| {
            serde_json::to_string(&FindingDoc::new(f, FindingLayout::Explain)).unwrap()
        };
        let lint =
            |f: &Finding| serde_json::to_string(&FindingDoc::new(f, FindingLayout::Lint)).unwrap();
        let global = finding(Some("__main__"));
        assert_eq!(
            explain(&global),
            r#"{"rule":"user-defined","severity":"error","path":"$","offset":27,"message":"m","module":"__main__","name":"DataWrapper"}"#
        );
        assert_eq!(
            lint(&global),
            r#"{"rule":"user-defined","severity":"error","message":"m","path":"$","offset":27,"module":"__main__","name":"DataWrapper","member":null}"#
        );
        assert_eq!(
            explain(&finding(None)),
            r#"{"rule":"user-defined","severity":"error","path":"$","offset":27,"message":"m"}"#
        );
    }
}
