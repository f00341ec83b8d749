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
use crate::inspect::inspect_partial;
use crate::report::{Detected, Finding, Report};
use crate::rules::{Rule, Severity};

use crate::container::Identity;
pub use linter::{read_path_list, LintError, Linter};
pub(crate) use policy::Scope;
pub use policy::{ConfigError, FailOn, Policy, Source};
use select::{Content, Selection};
pub(crate) use walk::Candidate;
pub use walk::{Problem, WalkMode};

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

/// What became of one candidate.
pub(crate) enum Outcome {
    /// Checked: listed in the run.
    Checked(FileResult),
    /// Not checked, for this reason (a [`SkipReason`] key).
    Skipped(&'static str),
}

/// Why files were not checked: the keys of [`Run::skipped_by_reason`].
pub struct SkipReason;

impl SkipReason {
    /// Left out by the policy's `exclude`.
    pub const EXCLUDED: &'static str = "excluded";
    /// Left out by `--extensions` (or the policy's `extensions`).
    pub const EXTENSION: &'static str = "extension";
    /// A symbolic link met by the walk (not followed without `--follow`).
    pub const SYMLINK: &'static str = "symlink";
    /// A FIFO, socket or device: refused without being read.
    pub const NOT_REGULAR: &'static str = "not-regular";
    /// Listed by git but missing from the work tree (deleted, not yet committed).
    pub const MISSING: &'static str = "missing";
}

/// Checks a file on disk. It is opened only when it is a regular file (a FIFO, a socket or
/// a device is never opened: reading one could block forever or never end), and read in
/// full only when its first bytes may be a pickle ([`select::content`]).
pub(crate) fn check(candidate: &Candidate, scope: &Scope) -> Outcome {
    let unreadable = |message: String| {
        Outcome::Checked(FileResult::unreadable(
            candidate.name.clone(),
            candidate.path.clone(),
            message,
            scope,
        ))
    };
    if !candidate.regular {
        // Found by listing (git), not by a walk that saw its type: look before opening.
        let meta = match std::fs::symlink_metadata(&candidate.path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !candidate.named => {
                return Outcome::Skipped(SkipReason::MISSING)
            }
            Err(e) => return unreadable(format!("cannot read: {e}")),
        };
        let meta = if meta.file_type().is_symlink() {
            if !candidate.follow {
                return Outcome::Skipped(SkipReason::SYMLINK);
            }
            match std::fs::metadata(&candidate.path) {
                Ok(meta) => meta,
                Err(e) => return unreadable(format!("cannot read: {e}")),
            }
        } else {
            meta
        };
        if !meta.is_file() {
            return Outcome::Skipped(SkipReason::NOT_REGULAR);
        }
    }
    match read_candidate(&candidate.path) {
        Ok(Read::NotRegular) => Outcome::Skipped(SkipReason::NOT_REGULAR),
        Ok(Read::Whole(input)) => check_bytes(candidate, input.bytes(), scope),
        Ok(Read::Head { file, head, len }) => match select::content(&head) {
            Content::No(identity) => not_a_pickle(candidate, &head, identity, scope),
            _ => match read_rest(file, head, len, &candidate.path) {
                Ok(input) => check_bytes(candidate, input.bytes(), scope),
                Err(e) => unreadable(format!("cannot read: {e}")),
            },
        },
        Err(e) => unreadable(format!("cannot read: {e}")),
    }
}

/// Files up to this size are read into memory rather than mapped. Mapping costs a
/// `mmap` and `munmap` per file, and in a process with several threads each takes the
/// address space's lock and each `munmap` interrupts the other cores to flush their TLBs:
/// on 10,000 small files, two threads were no faster than one (ripgrep avoids memory maps
/// for many small files for the same reason). Large files are mapped: their array payloads
/// are never read.
pub(crate) const READ_LIMIT: u64 = 1 << 20;

/// Files up to this size are read whole in one `read`: as cheap as reading their start.
/// Larger ones are read [`select::HEAD_LEN`] bytes first, and the rest only when those may
/// be a pickle.
const WHOLE_LIMIT: u64 = 64 << 10;

/// A file as far as [`read_candidate`] read it.
enum Read {
    /// Not a regular file after all (it changed since the walk saw it): not read.
    NotRegular,
    /// All of it.
    Whole(Input),
    /// Its first bytes; `len` is its size.
    Head {
        file: std::fs::File,
        head: Vec<u8>,
        len: u64,
    },
}

/// Opens a regular file and reads it whole when small, else its first bytes.
fn read_candidate(path: &Path) -> std::io::Result<Read> {
    use std::io::Read as _;
    let file = std::fs::File::open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Ok(Read::NotRegular);
    }
    let len = meta.len();
    if len <= WHOLE_LIMIT {
        return Ok(Read::Whole(Input::read_len(&file, len)?));
    }
    let mut head = Vec::with_capacity(select::HEAD_LEN);
    (&file)
        .take(select::HEAD_LEN as u64)
        .read_to_end(&mut head)?;
    Ok(Read::Head { file, head, len })
}

/// The rest of a file whose head was read: read into memory up to [`READ_LIMIT`], mapped
/// beyond it (its array payloads are never read).
fn read_rest(
    file: std::fs::File,
    mut head: Vec<u8>,
    len: u64,
    path: &Path,
) -> std::io::Result<Input> {
    use std::io::Read as _;
    if len > READ_LIMIT {
        return Input::open(path);
    }
    let capacity = usize::try_from(len).map_err(std::io::Error::other)?;
    head.reserve_exact(capacity.saturating_sub(head.len()));
    let rest = len.saturating_sub(head.len() as u64);
    (&file).take(rest).read_to_end(&mut head)?;
    Ok(Input::Owned(head))
}

/// Checks the bytes of a candidate (a file's, or standard input's).
pub(crate) fn check_bytes(candidate: &Candidate, bytes: &[u8], scope: &Scope) -> Outcome {
    // A name that says "pickle", or content that starts like one: a failure to read it is a
    // finding (which says what the file is, if it is not a pickle at all). Content that only
    // starts with an opcode byte must read as a pickle, or fail like one
    // (`pickle_evidence`), to be reported. The content test is not needed for the first.
    let strict = candidate.selection == Selection::Pickle
        || match select::content(bytes.get(..select::HEAD_LEN).unwrap_or(bytes)) {
            Content::No(identity) => return not_a_pickle(candidate, bytes, identity, scope),
            Content::Pickle => true,
            Content::Maybe if !worth_decompressing(bytes) => {
                return Outcome::Skipped(container::identify(&decoded_head(bytes)).reason())
            }
            Content::Maybe => false,
        };
    // Within the memory budget that parallel checks share (`max_memory`).
    let reserved = linter::reserve(bytes, &scope.options.limits);
    // The reader is written not to panic on any input; if it ever does, that file is
    // reported (as not checked, exit code 2) and the run goes on.
    let inspected = std::panic::catch_unwind(AssertUnwindSafe(|| {
        inspect_partial(&candidate.name, bytes, &scope.options)
    }));
    drop(reserved);
    // A stream that fails part-way is checked for what it read (the loader ran it: a
    // payload before broken bytes is still a code-exec finding), with a `malformed`
    // finding where it stops. When nothing before the stop imports, calls or raises a
    // finding, or nothing imports or calls and the bytes do not read like a pickle, the
    // failure is the result (below: a `malformed` finding, or what the bytes are);
    // otherwise what was read stands, whatever the bytes look like (a protocol 0 payload
    // is text). Bytes that are not a pickle at all and ran nothing are already an error
    // from `inspect_partial`.
    let inspected = inspected.map(|result| {
        result.and_then(|report| match &report.stopped {
            Some(e)
                if report.only_the_stop()
                    || (report.ran_nothing() && !(strict || looks_like_a_pickle(bytes))) =>
            {
                Err(e.clone())
            }
            _ => Ok(report),
        })
    });
    match inspected {
        Ok(Ok(mut report)) => {
            if !candidate.stdin {
                container::check_joblib_side_files(
                    &mut report,
                    &candidate.path,
                    bytes,
                    &scope.options,
                );
            }
            Outcome::Checked(from_report(candidate, report))
        }
        Ok(Err(e)) if strict || looks_like_a_pickle(bytes) => {
            Outcome::Checked(from_error(candidate, bytes, &e, scope))
        }
        Ok(Err(_)) => Outcome::Skipped(container::identify(&decoded_head(bytes)).reason()),
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            Outcome::Checked(FileResult::unreadable(
                candidate.name.clone(),
                candidate.path.clone(),
                format!("internal error while reading it (a bug in pklinspect): {what}"),
                scope,
            ))
        }
    }
}

/// How far [`looks_like_a_pickle`] decodes a compressed stream.
const EVIDENCE_DECODED_LEN: usize = 1 << 20;

/// For bytes that start with an opcode (raw or decompressed) and failed to load: whether
/// they read like a pickle all the same ([`container::pickle_evidence`]).
fn looks_like_a_pickle(bytes: &[u8]) -> bool {
    let kind = container::sniff(bytes.get(..select::HEAD_LEN).unwrap_or(bytes));
    if kind.is_compressed() {
        container::decoded_prefix(kind, bytes, EVIDENCE_DECODED_LEN)
            .is_some_and(|decoded| container::pickle_evidence(&decoded))
    } else {
        container::pickle_evidence(bytes)
    }
}

/// For a file that starts with an opcode byte: whether it is worth reading in full. A raw
/// file always is (the reader stops at the first bad byte); a compressed one (a gzipped CSV
/// starts with a letter too) only when its first decoded MiB reads as pickle opcodes up to
/// a STOP or up to the end of that MiB, or shows [`container::pickle_evidence`]: decoding a
/// gigabyte of text to learn that its first byte is not a pickle would make the walk slow.
fn worth_decompressing(bytes: &[u8]) -> bool {
    let kind = container::sniff(bytes.get(..select::HEAD_LEN).unwrap_or(bytes));
    if !kind.is_compressed() {
        return true;
    }
    let Some(prefix) = container::decoded_prefix(kind, bytes, EVIDENCE_DECODED_LEN) else {
        return true;
    };
    if container::pickle_evidence(&prefix) {
        return true;
    }
    let cut = prefix.len() >= EVIDENCE_DECODED_LEN;
    let mut reader = crate::reader::OpReader::new(&prefix, 0).without_frame_check();
    loop {
        match reader.next_op() {
            None => return true,
            Some(Ok(_)) => {}
            Some(Err(e)) => {
                return cut
                    && matches!(
                        e.kind(),
                        ErrorKind::Truncated | ErrorKind::LengthPastEnd | ErrorKind::MissingNewline
                    )
            }
        }
    }
}

/// The first bytes of the stream: decompressed when the file is compressed.
fn decoded_head(bytes: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    let head = bytes.get(..select::HEAD_LEN).unwrap_or(bytes);
    let kind = container::sniff(head);
    if kind.is_compressed() {
        if let Some(decoded) = container::decoded_prefix(kind, bytes, select::HEAD_LEN) {
            return std::borrow::Cow::Owned(decoded);
        }
    }
    std::borrow::Cow::Borrowed(head)
}

/// A file whose content is not a pickle: skipped, unless its name (or the user) says it is
/// one — then a finding that says what it is — or it is a Git LFS pointer under a name that
/// pickles go by (an `lfs-pointer` warning: the real file was never checked).
fn not_a_pickle(candidate: &Candidate, bytes: &[u8], identity: Identity, scope: &Scope) -> Outcome {
    let chosen = candidate.selection == Selection::Pickle;
    let head = decoded_head(bytes);
    let lfs = identity == Identity::LfsPointer
        && (chosen || candidate.named || select::pickle_like_name(&candidate.path));
    if !(chosen || lfs) {
        return Outcome::Skipped(identity.reason());
    }
    let compressed = container::sniff(bytes.get(..select::HEAD_LEN).unwrap_or(bytes));
    let what = container::describe(identity, &head);
    let message = if compressed.is_compressed() {
        format!("not a pickle but {what}, {compressed}-compressed")
    } else {
        format!("not a pickle but {what}")
    };
    let rule = if lfs {
        Rule::LfsPointer
    } else {
        Rule::Malformed
    };
    let mut findings = Vec::new();
    push(
        &mut findings,
        scope,
        Detected::new(rule, message.clone()).at(Some(0)),
    );
    Outcome::Checked(FileResult {
        name: candidate.name.clone(),
        path: candidate.path.clone(),
        container: Some(identity.reason().to_string()),
        verdict: None,
        decoded: compressed.is_compressed(),
        findings,
        error: Some(FileError {
            message,
            offset: Some(0),
            unreadable: false,
        }),
    })
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
        // Read part-way: the verdict and findings are of what came before the failure.
        error: report.stopped.map(|e| FileError {
            message: e.message().to_string(),
            offset: Some(e.offset()),
            unreadable: false,
        }),
    }
}

fn from_error(candidate: &Candidate, bytes: &[u8], e: &Error, scope: &Scope) -> FileResult {
    // "not a pickle but an HTML document" says more than "unknown opcode byte 0x3c".
    let clearer = container::not_a_pickle(bytes, e);
    if clearer.is_some() {
        let head = bytes.get(..select::HEAD_LEN).unwrap_or(bytes);
        return match not_a_pickle(candidate, bytes, container::identify(head), scope) {
            Outcome::Checked(file) => file,
            // Not reached: a candidate chosen by name is always reported.
            Outcome::Skipped(_) => FileResult::unreadable(
                candidate.name.clone(),
                candidate.path.clone(),
                e.message().to_string(),
                scope,
            ),
        };
    }
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
/// pickles are counted by reason, not listed. `stdin` holds standard input's bytes for a
/// [`Candidate::stdin`] candidate.
pub(crate) fn check_all(
    candidates: &[Candidate],
    policy: &Policy,
    stdin: Option<&[u8]>,
) -> Result<(Vec<FileResult>, BTreeMap<&'static str, u64>), String> {
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
    let results: Vec<Option<Outcome>> = candidates
        .par_iter()
        .zip(keys.par_iter())
        .map(|(candidate, key)| {
            let scope = scopes.get(key.as_slice())?;
            Some(if candidate.stdin {
                check_bytes(candidate, stdin.unwrap_or_default(), scope)
            } else {
                check(candidate, scope)
            })
        })
        .collect();
    let mut skipped: BTreeMap<&'static str, u64> = BTreeMap::new();
    let checked = results
        .iter()
        .filter(|r| matches!(r, Some(Outcome::Checked(_))))
        .count();
    // One allocation of the final size: growing by doubling touched fresh memory several
    // times the results' size, and fresh pages are what a run of small files pays most for
    // after the files themselves.
    let mut files = Vec::with_capacity(checked);
    for result in results.into_iter().flatten() {
        match result {
            Outcome::Checked(file) => files.push(file),
            Outcome::Skipped(reason) => *skipped.entry(reason).or_default() += 1,
        }
    }
    Ok((files, skipped))
}

/// A whole run, as the renderers see it.
#[derive(Clone, Debug, Default)]
pub struct Run {
    /// Sorted by path.
    pub files: Vec<FileResult>,
    /// Files not checked: the sum of [`Run::skipped_by_reason`].
    pub skipped: u64,
    /// Files not checked, by reason: what their content is (`text`, `binary`, `image`,
    /// `html`, `empty`, `lfs-pointer`, see [`crate::container::Identity::reason`]) or a
    /// [`SkipReason`] (`excluded`, `extension`, `symlink`, `not-regular`, `missing`).
    pub skipped_by_reason: BTreeMap<String, u64>,
    /// A run that checked no file is a success rather than [`Status::NothingChecked`].
    pub allow_empty: bool,
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
    /// No file was checked (and [`Run::allow_empty`] is not set): exit 2. A CI step that
    /// checked nothing, because of a wrong path or a pattern, must not pass.
    NothingChecked,
}

impl Status {
    /// The exit code: 0, 1 or 2.
    pub fn exit_code(self) -> u8 {
        match self {
            Status::Clean => 0,
            Status::Findings => 1,
            Status::Unreadable | Status::NothingChecked => 2,
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
    /// Files not checked ([`Run::skipped`]; by reason in [`Run::skipped_by_reason`]).
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
        if self.files.is_empty() && !self.allow_empty {
            return Status::NothingChecked;
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
