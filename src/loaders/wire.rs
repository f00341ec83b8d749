//! The `loaders` field of `explain --format json`: its own small serialisable types, so
//! the model in [`super`] can change without changing the contract.

use serde::Serialize;

use super::{LoaderReport, Refusal, Requirement};

/// One loader's verdict as JSON.
#[derive(Serialize)]
pub(crate) struct LoaderDoc<'a> {
    loader: &'a str,
    loads: &'static str,
    summary: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    refuses: Vec<RefusalDoc<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    requirements: Vec<RequirementDoc<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    user_modules: &'a Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fix: Option<&'a str>,
}

#[derive(Serialize)]
struct RefusalDoc<'a> {
    global: &'a str,
    kind: &'static str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    member: Option<&'a str>,
    offset: Option<u64>,
    paths: &'a [String],
    allow: bool,
    why: &'a str,
}

#[derive(Serialize)]
struct RequirementDoc<'a> {
    package: &'a str,
    pip_name: &'a str,
    version: Option<&'a str>,
    evidence: &'a str,
}

fn refusal(r: &Refusal) -> RefusalDoc<'_> {
    RefusalDoc {
        global: &r.global,
        kind: r.kind,
        message: &r.message,
        member: r.member.as_deref(),
        offset: r.offset,
        paths: &r.paths,
        allow: r.allow,
        why: &r.why,
    }
}

fn requirement(r: &Requirement) -> RequirementDoc<'_> {
    RequirementDoc {
        package: &r.package,
        pip_name: &r.pip_name,
        version: r.version.as_deref(),
        evidence: &r.evidence,
    }
}

/// The wire form of one loader's verdict.
pub(crate) fn loader(l: &LoaderReport) -> LoaderDoc<'_> {
    LoaderDoc {
        loader: &l.loader,
        loads: l.loads.as_str(),
        summary: &l.summary,
        refuses: l.refusals.iter().map(refusal).collect(),
        requirements: l.requirements.iter().map(requirement).collect(),
        user_modules: &l.user_modules,
        fix: l.fix.as_deref(),
    }
}
