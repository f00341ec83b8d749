//! `lint`: many files against a project's policy, for CI. [`Linter`] makes a whole run
//! (a [`Run`]) under a [`Policy`]; the outputs are in [`output`] (text, JSON, GitHub
//! workflow commands) and [`sarif`]. Inside, the parts are which files are pickles
//! (`select`), the walk (`walk`), the policy file (`policy`) and one file's check
//! (`check`, `check_all`). Like the rest of the library it never prints or exits: the
//! binary's `src/cli/lint.rs` does.
//!
//! One file's check is [`crate::inspect::inspect`] with the scope the policy gives that
//! file, then the policy's severities on its findings. A file that cannot be read as a
//! pickle becomes a `malformed` or `limit-exceeded` finding; one that cannot be opened, an
//! `unreadable` finding. No file stops the run.

mod linter;
pub mod output;
mod policy;
pub mod sarif;
mod select;
mod walk;

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rayon::prelude::*;

use crate::analysis::findings::judge;
use crate::classify::Verdict;
use crate::container;
use crate::error::{Error, ErrorKind};
use crate::input::Input;
use crate::inspect::inspect;
use crate::report::{Detected, Finding, Report};
use crate::rules::{Rule, Severity};

pub use linter::{read_path_list, LintError, Linter};
pub(crate) use policy::Scope;
pub use policy::{ConfigError, FailOn, Policy, Source};
use select::{Content, Selection};
pub(crate) use walk::Candidate;
pub use walk::Problem;

/// The schema id of `lint --format json`.
pub const LINT_SCHEMA: &str = "pklinspect.lint/1";

/// One checked file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileResult {
    /// The path as given or found by the walk (`<stdin>`).
    pub name: String,
    /// Where it was read.
    pub path: PathBuf,
    /// What the bytes are (`pickle`, `joblib`, `torch-zip`, …); `None` if unreadable.
    pub container: Option<String>,
    /// `None` when the file could not be read as a pickle.
    pub verdict: Option<Verdict>,
    /// The file is compressed: offsets are into the decompressed stream, not the file.
    pub decoded: bool,
    /// With the policy's severities, without `off` ones, sorted by member and offset.
    pub findings: Vec<Finding>,
    /// Why the file could not be read, if it could not.
    pub error: Option<FileError>,
}

/// Why a file could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileError {
    /// What went wrong, as [`crate::Error`]'s message (without the offset).
    pub message: String,
    /// Where reading stopped (in the decoded stream or member the message names); `None`
    /// when the file could not be opened at all.
    pub offset: Option<u64>,
    /// The file could not be opened or read at all (exit code 2).
    pub unreadable: bool,
}

impl FileResult {
    /// A file that could not be opened or read (or a path that does not exist).
    pub(crate) fn unreadable(
        name: String,
        path: PathBuf,
        message: String,
        scope: &Scope,
    ) -> FileResult {
        let mut findings = Vec::new();
        push(
            &mut findings,
            scope,
            Detected::new(Rule::Unreadable, message.clone()),
        );
        FileResult {
            name,
            path,
            container: None,
            verdict: None,
            decoded: false,
            findings,
            error: Some(FileError {
                message,
                offset: None,
                unreadable: true,
            }),
        }
    }

    /// Whether the file could not be opened or read at all.
    pub fn is_unreadable(&self) -> bool {
        self.error.as_ref().is_some_and(|e| e.unreadable)
    }
}

/// Adds what was detected with the scope's severity for its rule, unless that is `off`.
fn push(findings: &mut Vec<Finding>, scope: &Scope, detected: Detected) {
    findings.extend(judge(&scope.options.rules, detected));
}

/// Checks a file on disk. `None` when it is not a pickle by content (and its name did not
/// say it is one).
pub(crate) fn check(candidate: &Candidate, scope: &Scope) -> Option<FileResult> {
    match open(&candidate.path) {
        Ok(input) => check_bytes(candidate, input.bytes(), scope),
        Err(e) => Some(FileResult::unreadable(
            candidate.name.clone(),
            candidate.path.clone(),
            format!("cannot read: {e}"),
            scope,
        )),
    }
}

/// Files up to this size are read into memory rather than mapped. Mapping costs a
/// `mmap` and `munmap` per file, and in a process with several threads each takes the
/// address space's lock and each `munmap` interrupts the other cores to flush their TLBs:
/// on 10,000 small files, two threads were no faster than one (ripgrep avoids memory maps
/// for many small files for the same reason). Large files are mapped: their array payloads
/// are never read.
pub(crate) const READ_LIMIT: u64 = 1 << 20;

/// Opens a file: small files are read ([`Input::read`]), large ones mapped ([`Input::open`]).
fn open(path: &Path) -> std::io::Result<Input> {
    let file = std::fs::File::open(path)?;
    let meta = file.metadata()?;
    if meta.is_file() && meta.len() <= READ_LIMIT {
        Input::read_len(&file, meta.len())
    } else {
        Input::open(path)
    }
}

/// Checks the bytes of a candidate (a file's, or standard input's).
pub(crate) fn check_bytes(
    candidate: &Candidate,
    bytes: &[u8],
    scope: &Scope,
) -> Option<FileResult> {
    // With a name that says "pickle", or content that starts like one, a failure to read it
    // is a finding; a file that only might be a pickle must read as one to be reported.
    let strict = match candidate.selection {
        Selection::Skip => return None,
        Selection::Pickle => true,
        Selection::IfPickle => match select::content(bytes) {
            Content::Pickle => true,
            Content::Maybe => false,
            Content::No => return None,
        },
    };
    // The reader is written not to panic on any input; if it ever does, that file is
    // reported (as not checked, exit code 2) and the run goes on.
    let inspected = std::panic::catch_unwind(AssertUnwindSafe(|| {
        inspect(&candidate.name, bytes, &scope.options)
    }));
    match inspected {
        Ok(Ok(report)) => Some(from_report(candidate, report)),
        Ok(Err(_)) if !strict => None,
        Ok(Err(e)) => Some(from_error(candidate, bytes, &e, scope)),
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            Some(FileResult::unreadable(
                candidate.name.clone(),
                candidate.path.clone(),
                format!("internal error while reading it (a bug in pklinspect): {what}"),
                scope,
            ))
        }
    }
}

fn from_report(candidate: &Candidate, report: Report) -> FileResult {
    // `inspect` ran the findings pipeline with the scope's rule set: its findings carry the
    // policy's severities and deny findings already.
    let decoded = report.compression.is_some()
        || matches!(
            report.container.as_str(),
            "gzip" | "bz2" | "xz" | "lzma" | "zlib" | "lz4"
        );
    FileResult {
        name: candidate.name.clone(),
        path: candidate.path.clone(),
        container: Some(report.container),
        verdict: Some(report.verdict),
        decoded,
        findings: report.findings,
        error: None,
    }
}

fn from_error(candidate: &Candidate, bytes: &[u8], e: &Error, scope: &Scope) -> FileResult {
    let rule = if matches!(e.kind(), ErrorKind::LimitExceeded(_)) {
        Rule::LimitExceeded
    } else {
        Rule::Malformed
    };
    let mut findings = Vec::new();
    push(
        &mut findings,
        scope,
        Detected::new(rule, e.message()).at(Some(e.offset())),
    );
    let kind = container::sniff(bytes);
    FileResult {
        name: candidate.name.clone(),
        path: candidate.path.clone(),
        container: Some(kind.as_str().to_string()),
        verdict: None,
        decoded: kind.is_compressed(),
        findings,
        error: Some(FileError {
            message: e.message().to_string(),
            offset: Some(e.offset()),
            unreadable: false,
        }),
    }
}

/// Checks every candidate, in parallel on rayon's pool, each with the scope the policy
/// gives its path. Results are in the candidates' order; files that turn out not to be
/// pickles are counted, not listed. `stdin` holds standard input's bytes for a
/// [`Candidate::stdin`] candidate.
pub(crate) fn check_all(
    candidates: &[Candidate],
    policy: &Policy,
    stdin: Option<&[u8]>,
) -> Result<(Vec<FileResult>, u64), String> {
    let keys: Vec<Vec<usize>> = candidates
        .iter()
        .map(|c| {
            if c.stdin {
                Vec::new()
            } else {
                policy.overrides_for(&c.path)
            }
        })
        .collect();
    let mut scopes: BTreeMap<&[usize], Scope> = BTreeMap::new();
    for key in &keys {
        if !scopes.contains_key(key.as_slice()) {
            scopes.insert(key, policy.scope(key)?);
        }
    }
    let results: Vec<Option<FileResult>> = candidates
        .par_iter()
        .zip(keys.par_iter())
        .map(|(candidate, key)| {
            let scope = scopes.get(key.as_slice())?;
            if candidate.stdin {
                check_bytes(candidate, stdin.unwrap_or_default(), scope)
            } else {
                check(candidate, scope)
            }
        })
        .collect();
    let skipped = results.iter().filter(|r| r.is_none()).count();
    // One allocation of the final size: growing by doubling touched fresh memory several
    // times the results' size, and fresh pages are what a run of small files pays most for
    // after the files themselves.
    let mut files = Vec::with_capacity(results.len() - skipped);
    files.extend(results.into_iter().flatten());
    Ok((files, skipped as u64))
}

/// A whole run, as the renderers see it.
#[derive(Clone, Debug, Default)]
pub struct Run {
    /// Sorted by path.
    pub files: Vec<FileResult>,
    /// Files not checked: not pickles by content or by name, or excluded by the policy.
    pub skipped: u64,
    /// Warnings from the walk (symbolic-link loops, unreadable ignore files).
    pub warnings: Vec<Problem>,
    /// How long the run took (walk and checks).
    pub duration: Duration,
    /// Absolute folder that SARIF and GitHub paths are relative to: the nearest folder at
    /// or above [`Run::cwd`] holding `.git`, else the current directory.
    pub root: PathBuf,
    /// Absolute current directory, against which relative file names are resolved.
    pub cwd: PathBuf,
    /// The policy's failing severity: decides [`Run::status`].
    pub fail_on: policy::FailOn,
}

/// How a run ended, as `lint`'s exit status (SPEC §2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// No finding at or above `fail-on`: exit 0.
    Clean,
    /// Some finding at or above `fail-on`: exit 1.
    Findings,
    /// Some file or folder could not be read at all: exit 2, whatever the findings.
    Unreadable,
}

impl Status {
    /// The exit code: 0, 1 or 2.
    pub fn exit_code(self) -> u8 {
        match self {
            Status::Clean => 0,
            Status::Findings => 1,
            Status::Unreadable => 2,
        }
    }
}

/// Counts for the summary.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Files checked (pickles by name or content, unreadable ones included).
    pub files: u64,
    /// Files with at least one finding.
    pub files_with_findings: u64,
    /// Findings at [`Severity::Error`].
    pub errors: u64,
    /// Findings at [`Severity::Warning`].
    pub warnings: u64,
    /// Findings at [`Severity::Info`].
    pub infos: u64,
    /// Files not checked ([`Run::skipped`]).
    pub skipped: u64,
    /// Files that could not be read at all.
    pub unreadable: u64,
    /// [`Run::duration`] in milliseconds.
    pub duration_ms: u64,
}

impl Run {
    /// The counts.
    pub fn summary(&self) -> Summary {
        let mut s = Summary {
            files: self.files.len() as u64,
            skipped: self.skipped,
            duration_ms: self.duration.as_millis().try_into().unwrap_or(u64::MAX),
            ..Summary::default()
        };
        for file in &self.files {
            if !file.findings.is_empty() {
                s.files_with_findings += 1;
            }
            if file.is_unreadable() {
                s.unreadable += 1;
            }
            for f in &file.findings {
                match f.severity {
                    Severity::Error => s.errors += 1,
                    Severity::Warning => s.warnings += 1,
                    Severity::Info => s.infos += 1,
                    Severity::Off => {}
                }
            }
        }
        s
    }

    /// The worst severity among the findings.
    pub fn worst(&self) -> Option<Severity> {
        self.files
            .iter()
            .flat_map(|f| f.findings.iter().map(|x| x.severity))
            .max()
    }

    /// Whether some file could not be read at all (exit code 2).
    pub fn any_unreadable(&self) -> bool {
        self.files.iter().any(FileResult::is_unreadable)
    }

    /// The exit status: [`Status::Unreadable`] if some file could not be read, else
    /// whether a finding reaches [`Run::fail_on`].
    pub fn status(&self) -> Status {
        if self.any_unreadable() {
            return Status::Unreadable;
        }
        match (self.fail_on.severity(), self.worst()) {
            (Some(threshold), Some(worst)) if worst >= threshold => Status::Findings,
            _ => Status::Clean,
        }
    }

    /// A file's path relative to [`Run::root`], with `/` separators, or `None` when it is
    /// not under it (or is standard input).
    pub fn relative_path(&self, file: &FileResult) -> Option<String> {
        if file.path.as_os_str() == "-" && file.name == "<stdin>" {
            return None;
        }
        let absolute = policy::absolute(&self.cwd, &file.path);
        let rel = absolute.strip_prefix(&self.root).ok()?;
        let parts: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        Some(parts.join("/"))
    }
}

/// The folder SARIF and GitHub paths are relative to: the nearest folder at or above `cwd`
/// holding `.git` (the repository's root, where GitHub looks for the files), else `cwd`.
pub(crate) fn repository_root(cwd: &Path) -> PathBuf {
    cwd.ancestors()
        .find(|dir| dir.join(".git").exists())
        .unwrap_or(cwd)
        .to_path_buf()
}
