//! `explain --format json` (schema `pklinspect.explain/1`, SPEC §6): small serialisable wire
//! types, built from the report, so the model can change without changing the contract.

use serde::Serialize;
use serde_json::Value;

use crate::error::Error;
use crate::report::{ArrayReport, Finding, ImportReport, PickleReport, PortableHint, Report};

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
    dtype: Value,
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

#[derive(Serialize)]
struct FindingDoc<'a> {
    rule: &'static str,
    severity: &'static str,
    path: Option<&'a str>,
    offset: Option<u64>,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    module: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    member: Option<&'a str>,
}

#[derive(Serialize)]
struct HintDoc<'a> {
    path: &'a str,
    class: &'a str,
    category: &'static str,
    parameters: serde_json::Map<String, Value>,
    arrays: Vec<HintArrayDoc<'a>>,
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
        dtype: a.dtype.descr(),
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
    }
}

fn finding(f: &Finding) -> FindingDoc<'_> {
    FindingDoc {
        rule: f.rule.id(),
        severity: f.severity.as_str(),
        path: f.path.as_deref(),
        offset: f.offset,
        message: &f.message,
        module: f.module.as_deref(),
        name: f.name.as_deref(),
        member: f.member.as_deref(),
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
    }
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
        findings: report.findings.iter().map(finding).collect(),
        portable: report.portable_hints.iter().map(hint).collect(),
    };
    serde_json::to_value(doc).unwrap_or(Value::Null)
}

/// The JSON document for a file that could not be read.
pub fn error_value(file: &str, error: &Error) -> Value {
    serde_json::to_value(ErrorDoc {
        schema: EXPLAIN_SCHEMA,
        file,
        error: ErrorBody {
            message: error.message(),
            offset: error.offset(),
        },
    })
    .unwrap_or(Value::Null)
}
