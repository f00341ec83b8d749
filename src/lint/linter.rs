//! [`Linter`]: a whole `lint` run as one library call. The policy, the paths and how to walk
//! them go in; a [`Run`] comes out, with every checked file's findings, the summary and the
//! exit status ([`Run::status`]). The binary adds flags, printing and colour around it.
//! Here too is the memory budget (`max_memory`) that the parallel checks share
//! ([`reserve`]): each waits until the checks under way leave room for its worst case.
//!
//! ```no_run
//! use pklinspect::lint::{Linter, Policy, Status};
//!
//! // pklinspect.toml or [tool.pklinspect], found upward as the CLI finds it.
//! let cwd = std::env::current_dir()?;
//! let policy = Policy::discover(&cwd)?;
//! let run = Linter::new(policy).path("models/").run()?;
//! for file in &run.files {
//!     for finding in &file.findings {
//!         println!("{}: {} {}", file.name, finding.rule.id(), finding.message);
//!     }
//! }
//! if run.status() != Status::Clean {
//!     std::process::exit(run.status().exit_code().into());
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::Instant;

use crate::container;
use crate::limits::Limits;

use super::policy::{self, Policy};
use super::select::Extensions;
use super::walk::{self, Candidate, Root, WalkMode, WalkOptions};
use super::{check_all, repository_root, FileResult, Run};

/// A lint run to make: build it with the methods below, then [`Linter::run`].
///
/// Without [`path`](Linter::path), [`paths`](Linter::paths) or [`stdin`](Linter::stdin),
/// the current directory is walked (and its files are named without a leading `./`, as
/// ripgrep names them). Relative paths are read relative to the process's current
/// directory, which should be the folder the policy was made for (the `cwd` given to
/// [`Policy::discover`], [`Policy::load`] or [`Policy::defaults`]).
pub struct Linter<'a> {
    policy: Policy,
    /// `None` until a path is given: then the current directory is walked.
    roots: Option<Vec<Root>>,
    stdin: Option<Box<dyn Read + 'a>>,
    walk: WalkOptions,
    allow_empty: bool,
}

impl fmt::Debug for Linter<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Linter")
            .field("policy", &self.policy)
            .field("roots", &self.roots)
            .field("stdin", &self.stdin.is_some())
            .field("walk", &self.walk)
            .field("allow_empty", &self.allow_empty)
            .finish()
    }
}

impl<'a> Linter<'a> {
    /// A run under `policy` (its `fail-on` decides [`Run::status`], its `extensions` which
    /// files a walk selects by name).
    pub fn new(policy: Policy) -> Linter<'a> {
        Linter {
            policy,
            roots: None,
            stdin: None,
            walk: WalkOptions::default(),
            allow_empty: false,
        }
    }

    /// Also checks `path`: a file (always considered, whatever its extension) or a folder
    /// (walked). `-` is a file of that name here; standard input is [`Linter::stdin`].
    pub fn path(mut self, path: impl Into<PathBuf>) -> Linter<'a> {
        self.roots.get_or_insert_with(Vec::new).push(Root {
            path: path.into(),
            implicit: false,
        });
        self
    }

    /// Also checks each of `paths` ([`Linter::path`]). An empty list still counts as
    /// paths given: the current directory is then not walked.
    pub fn paths<P: Into<PathBuf>>(mut self, paths: impl IntoIterator<Item = P>) -> Linter<'a> {
        let roots = self.roots.get_or_insert_with(Vec::new);
        roots.extend(paths.into_iter().map(|path| Root {
            path: path.into(),
            implicit: false,
        }));
        self
    }

    /// Also checks one file read from `reader` (read to its end during [`Linter::run`],
    /// after the walk), named `<stdin>` and listed first. It is a pickle by name: a file
    /// that does not read as one is a finding.
    pub fn stdin(mut self, reader: impl Read + 'a) -> Linter<'a> {
        self.stdin = Some(Box::new(reader));
        self
    }

    /// Which files of a folder are checked: by default ([`WalkMode::Auto`]) what git tracks
    /// plus untracked files it does not ignore inside a git work tree, else every file that
    /// ignore files do not leave out, hidden ones included.
    pub fn walk_mode(mut self, mode: WalkMode) -> Linter<'a> {
        self.walk.mode = mode;
        self
    }

    /// A run that checks no file is [`Status::Clean`](super::Status::Clean) rather than
    /// [`Status::NothingChecked`](super::Status::NothingChecked).
    pub fn allow_empty(mut self, yes: bool) -> Linter<'a> {
        self.allow_empty = yes;
        self
    }

    /// With [`WalkMode::Ripgrep`], walks hidden files and folders too (`.git` folders are
    /// always skipped; the other modes include hidden files).
    pub fn hidden(mut self, yes: bool) -> Linter<'a> {
        self.walk.hidden = yes;
        self
    }

    /// Follows symbolic links met during the walk (a named link is always followed).
    pub fn follow(mut self, yes: bool) -> Linter<'a> {
        self.walk.follow = yes;
        self
    }

    /// Does not honour `.gitignore`, `.ignore` and git's exclude files.
    pub fn no_ignore(mut self, yes: bool) -> Linter<'a> {
        self.walk.no_ignore = yes;
        self
    }

    /// Threads for the walk and the checks; 0 (the default) is one per core, or
    /// `RAYON_NUM_THREADS`.
    pub fn threads(mut self, threads: usize) -> Linter<'a> {
        self.walk.threads = threads;
        self
    }

    /// The policy the run applies.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Walks the paths and checks every file found, in parallel. A file or folder that
    /// cannot be read is a file with an `unreadable` finding in the result, not an error;
    /// the walk's other troubles are [`Run::warnings`]. Files are in the walk's order: by
    /// path, standard input first.
    ///
    /// Fails only when the run cannot happen at all: the threads cannot start, standard
    /// input cannot be read, or a `per-path` scope of the policy does not compile.
    pub fn run(self) -> Result<Run, LintError> {
        let started = Instant::now();
        let Linter {
            policy,
            roots,
            stdin,
            walk: mut walk_options,
            allow_empty,
        } = self;
        let roots = match roots {
            Some(roots) => roots,
            None if stdin.is_some() => Vec::new(),
            None => vec![Root {
                path: PathBuf::from("."),
                implicit: true,
            }],
        };
        let extensions = match &policy.extensions {
            Some(list) => Extensions::only(list),
            None => Extensions::builtin(),
        };
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(walk_options.threads)
            .build()
            .map_err(|e| LintError::new(None, format!("cannot start threads: {e}")))?;
        walk_options.threads = pool.current_num_threads();
        let found = walk::find(&roots, &walk_options, &extensions, &policy);
        let mut candidates = found.candidates;
        let stdin_bytes = match stdin {
            Some(mut reader) => {
                let mut bytes = Vec::new();
                reader.read_to_end(&mut bytes).map_err(|e| LintError {
                    subject: Some("<stdin>".to_string()),
                    message: format!("cannot read: {e}"),
                    source: Some(e),
                })?;
                candidates.insert(0, Candidate::stdin());
                Some(bytes)
            }
            None => None,
        };
        let policy_error = |message| LintError::new(Some(policy.source_name()), message);
        let (mut files, mut skipped) = pool
            .install(|| check_all(&candidates, &policy, stdin_bytes.as_deref()))
            .map_err(policy_error)?;
        // Paths that could not be read at all are listed as files with an `unreadable`
        // finding, so that every format shows them; the walk's other problems are warnings.
        let scope = policy.scope(&[]).map_err(policy_error)?;
        let mut warnings = Vec::new();
        let checked_files = files.len();
        for problem in found.problems {
            if problem.fatal {
                let name = if problem.path.is_empty() {
                    "<walk>".to_string()
                } else {
                    problem.path.clone()
                };
                files.push(FileResult::unreadable(
                    name,
                    PathBuf::from(&problem.path),
                    problem.message,
                    &scope,
                ));
            } else {
                warnings.push(problem);
            }
        }
        if files.len() > checked_files {
            // Checked files keep the walk's order (by path, standard input first).
            files.sort_by(|a, b| {
                (a.path.as_os_str() != "-", &a.path, &a.name).cmp(&(
                    b.path.as_os_str() != "-",
                    &b.path,
                    &b.name,
                ))
            });
        }
        for (reason, n) in found.skipped {
            *skipped.entry(reason).or_default() += n;
        }
        let skipped_by_reason: std::collections::BTreeMap<String, u64> = skipped
            .into_iter()
            .map(|(reason, n)| (reason.to_string(), n))
            .collect();
        let cwd = policy.cwd().to_path_buf();
        Ok(Run {
            files,
            skipped: skipped_by_reason.values().sum(),
            skipped_by_reason,
            allow_empty,
            warnings,
            duration: started.elapsed(),
            root: repository_root(&policy::absolute(Path::new("/"), &cwd)),
            cwd,
            fail_on: policy.fail_on,
        })
    }
}

/// Reads a list of paths, one a line (`--files-from`): a `\r` before the newline is
/// dropped, empty lines are skipped, and on Unix a path is the line's bytes as they are.
pub fn read_path_list(mut reader: impl Read) -> io::Result<Vec<PathBuf>> {
    let mut text = Vec::new();
    reader.read_to_end(&mut text)?;
    Ok(text
        .split(|&b| b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .filter(|line| !line.is_empty())
        .map(path_from_bytes)
        .collect())
}

#[cfg(unix)]
fn path_from_bytes(bytes: &[u8]) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    PathBuf::from(std::ffi::OsStr::from_bytes(bytes))
}

#[cfg(not(unix))]
fn path_from_bytes(bytes: &[u8]) -> PathBuf {
    PathBuf::from(String::from_utf8_lossy(bytes).into_owned())
}

/// Why a lint run could not happen at all (a file that cannot be read is a finding, not
/// this).
#[derive(Debug)]
pub struct LintError {
    subject: Option<String>,
    message: String,
    source: Option<io::Error>,
}

impl LintError {
    fn new(subject: Option<String>, message: String) -> LintError {
        LintError {
            subject,
            message,
            source: None,
        }
    }

    /// What the message is about: the policy file (or `the built-in policy`), `<stdin>`;
    /// `None` for the run as a whole.
    pub fn subject(&self) -> Option<&str> {
        self.subject.as_deref()
    }

    /// What went wrong, without the subject.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for LintError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.subject {
            Some(subject) => write!(f, "{subject}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for LintError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_ref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::Status;

    #[test]
    fn the_memory_budget_lets_a_check_in_only_when_there_is_room() {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::Arc;
        // Two reservations of 6 in a budget of 10: the second waits for the first.
        let first = reserve_bytes(6, 10);
        let started = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&started);
        let waiter = std::thread::spawn(move || {
            let _second = reserve_bytes(6, 10);
            flag.store(true, Ordering::SeqCst);
        });
        std::thread::sleep(std::time::Duration::from_millis(200));
        assert!(!started.load(Ordering::SeqCst), "ran past the budget");
        drop(first);
        waiter.join().unwrap();
        assert!(started.load(Ordering::SeqCst));
        // Larger than the whole budget: runs, alone.
        drop(reserve_bytes(u64::MAX, 10));
    }

    #[test]
    fn a_path_list_skips_blank_lines_and_crlf_endings() {
        let list = read_path_list(&b"a.pkl\r\n\nmodels/b.pt\n\n"[..]).unwrap();
        assert_eq!(list, [PathBuf::from("a.pkl"), PathBuf::from("models/b.pt")]);
    }

    fn fixture(rel: &str) -> Vec<u8> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
        std::fs::read(dir.join(rel)).unwrap()
    }

    #[test]
    fn a_folder_with_a_code_exec_pickle_fails_and_standard_input_comes_first() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("b.pkl"),
            fixture("hostile/os_system_p4.pkl"),
        )
        .unwrap();
        std::fs::write(dir.path().join("a.pkl"), fixture("plain/floats_p4.pkl")).unwrap();
        std::fs::write(dir.path().join("notes.txt"), "not a pickle").unwrap();
        let plain = fixture("plain/floats_p2.pkl");
        let run = Linter::new(Policy::defaults(dir.path()))
            .path(dir.path())
            .stdin(&plain[..])
            .threads(1)
            .run()
            .unwrap();
        let names: Vec<&str> = run.files.iter().map(|f| f.name.as_str()).collect();
        let a = dir.path().join("a.pkl").display().to_string();
        let b = dir.path().join("b.pkl").display().to_string();
        assert_eq!(names, ["<stdin>", a.as_str(), b.as_str()]);
        assert!(run.files[0].findings.is_empty() && run.files[1].findings.is_empty());
        assert!(run.files[2]
            .findings
            .iter()
            .any(|f| f.rule == crate::rules::Rule::CodeExec));
        assert_eq!(run.status(), Status::Findings);
        assert_eq!(run.status().exit_code(), 1);
        // notes.txt is looked at (by content, never by name) and skipped as text.
        assert_eq!(run.skipped, 1);
        assert_eq!(run.skipped_by_reason.get("text"), Some(&1));
    }

    #[test]
    fn a_missing_path_is_an_unreadable_file_and_exit_status_2() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pkl");
        let run = Linter::new(Policy::defaults(dir.path()))
            .path(&missing)
            .run()
            .unwrap();
        assert_eq!(run.files.len(), 1);
        assert!(run.files[0].is_unreadable());
        assert_eq!(run.status(), Status::Unreadable);
    }

    #[test]
    fn no_path_walks_the_current_directory_but_an_empty_list_walks_nothing() {
        let cwd = std::env::current_dir().unwrap();
        let run = Linter::new(Policy::defaults(&cwd))
            .paths(Vec::<PathBuf>::new())
            .run()
            .unwrap();
        assert!(run.files.is_empty());
        assert_eq!(run.skipped, 0);
    }
}

/// The memory budget `lint`'s parallel checks share (`max_memory`, docs/limits.md): each
/// check reserves its file's worst case ([`Limits::worst_case_memory`]) before reading it,
/// and waits while the checks under way leave too little room. One budget for the whole
/// process, since memory is the process's: two runs at once share it too.
struct MemoryBudget {
    state: Mutex<Reserved>,
    freed: Condvar,
}

/// What the checks under way have reserved.
#[derive(Default)]
struct Reserved {
    bytes: u64,
    checks: usize,
}

static BUDGET: MemoryBudget = MemoryBudget {
    state: Mutex::new(Reserved {
        bytes: 0,
        checks: 0,
    }),
    freed: Condvar::new(),
};

/// A file's share of the budget, given back when dropped.
pub(crate) struct Reservation {
    bytes: u64,
}

/// Reserves what checking `bytes` may cost under `limits` (the bytes themselves, and
/// [`Limits::worst_case_memory`] on top), waiting until the checks under
/// way leave room within `limits.max_memory`. A file whose worst case is more than the
/// whole budget waits until no other check runs, then runs alone.
pub(crate) fn reserve(bytes: &[u8], limits: &Limits) -> Reservation {
    let head = bytes.get(..super::select::HEAD_LEN).unwrap_or(bytes);
    let len = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
    // The input itself too: read into memory, or mapped and touched page by page (which
    // counts against a container's memory limit as much as any allocation).
    let estimate = limits
        .worst_case_memory(len, container::may_expand(head))
        .saturating_add(len);
    reserve_bytes(estimate, limits.max_memory)
}

fn reserve_bytes(estimate: u64, budget: u64) -> Reservation {
    let mut state = BUDGET.state.lock().unwrap_or_else(PoisonError::into_inner);
    while state.checks > 0 && state.bytes.saturating_add(estimate) > budget {
        state = BUDGET
            .freed
            .wait(state)
            .unwrap_or_else(PoisonError::into_inner);
    }
    state.bytes = state.bytes.saturating_add(estimate);
    state.checks = state.checks.saturating_add(1);
    Reservation { bytes: estimate }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let mut state = BUDGET.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.bytes = state.bytes.saturating_sub(self.bytes);
        state.checks = state.checks.saturating_sub(1);
        drop(state);
        BUDGET.freed.notify_all();
    }
}
