//! Finding the files to check: the paths the user names, and the folders, where the
//! question in CI is "what is committed?" ([`WalkMode`]):
//!
//! * **Inside a git work tree** (the default, [`WalkMode::Auto`]): what git tracks (hidden
//!   files and files force-added under an ignored folder included, submodules too) plus the
//!   untracked files git does not ignore: `git ls-files`, run as a subprocess. If git cannot
//!   list them, the folder is walked as below, with a warning.
//! * **Outside one** (or with [`WalkMode::Files`]): a walk that honours `.gitignore`,
//!   `.ignore` and git's exclude files (the `ignore` crate, with `require_git(false)` so that
//!   a `.gitignore` counts outside a git checkout too) and includes hidden files: a
//!   security scan should not skip `.hidden/model.pkl`. `.git` folders are always skipped.
//! * [`WalkMode::Ripgrep`]: ripgrep's rules, as before: hidden files skipped unless
//!   `hidden`.
//! * A **named file** (argument or `--files-from` line) is always considered: ignore files and
//!   `--extensions` do not apply to it, but the policy's `exclude` globs do, and a name
//!   that does not say "pickle" still needs pickle content ([`select_named`]). One that is
//!   not a regular file (a FIFO, a device, a socket, or a link to one) is refused without
//!   being opened: an `unreadable` file.
//! * **Symbolic links** met during the walk are skipped (and counted) unless `follow`; a
//!   named symbolic link is followed. With `follow`, a link back to a parent is reported, not
//!   walked again. FIFOs, sockets and devices met are counted, never opened.
//!
//! The walk runs on several threads; the result is sorted by path, so the output does not
//! depend on the schedule.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ignore::{WalkBuilder, WalkState};

use super::policy::Policy;
use super::select::{select_named, Extensions, Selection};
use super::SkipReason;

/// Which files of a folder are checked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WalkMode {
    /// Inside a git work tree, what git tracks plus untracked files it does not ignore;
    /// elsewhere, [`WalkMode::Files`].
    #[default]
    Auto,
    /// What git tracks plus untracked files it does not ignore; a folder outside a git work
    /// tree is an error.
    Git,
    /// Every file, hidden ones included, except what `.gitignore`, `.ignore` and git's
    /// exclude files leave out.
    Files,
    /// ripgrep's rules: ignore files honoured, hidden files skipped (unless `hidden`).
    Ripgrep,
}

/// How to walk.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct WalkOptions {
    /// Include hidden files and folders.
    pub hidden: bool,
    /// Follow symbolic links met during the walk.
    pub follow: bool,
    /// Do not read `.gitignore`, `.ignore` and git exclude files.
    pub no_ignore: bool,
    /// Walker threads (0: the `ignore` crate's choice).
    pub threads: usize,
    /// Which files of a folder are checked.
    pub mode: WalkMode,
}

/// A path the user gave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Root {
    pub path: PathBuf,
    /// The current directory used because no path was given: names are shown without the
    /// leading `./`, as ripgrep does.
    pub implicit: bool,
}

/// A file to check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Candidate {
    /// Where to read it; `-` with `stdin`.
    pub path: PathBuf,
    /// The name in output: the path as given or found by the walk (`<stdin>`).
    pub name: String,
    pub selection: Selection,
    /// Named by the user rather than found by the walk.
    pub named: bool,
    /// Read from standard input.
    pub stdin: bool,
    /// Known to be a regular file (or a followed link to one): the walk saw its type. A
    /// file listed by git is looked at before it is opened.
    pub regular: bool,
    /// Follow it if it is a symbolic link.
    pub follow: bool,
}

impl Candidate {
    /// Standard input, read as one file (a pickle by name: the user chose it).
    pub(crate) fn stdin() -> Candidate {
        Candidate {
            path: PathBuf::from("-"),
            name: "<stdin>".to_string(),
            selection: Selection::Pickle,
            named: true,
            stdin: true,
            regular: true,
            follow: true,
        }
    }
}

/// Something the walk could not do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The path concerned (or an empty string).
    pub path: String,
    /// What went wrong, in one lowercase line.
    pub message: String,
    /// Whether files may have gone unchecked because of it (a missing path, an unreadable
    /// folder): `lint` then exits with 2. A symbolic-link loop or an unreadable ignore file
    /// is a warning.
    pub fatal: bool,
}

/// What the walk found.
#[derive(Debug, Default)]
pub(super) struct Found {
    /// Sorted by path, each once.
    pub candidates: Vec<Candidate>,
    pub problems: Vec<Problem>,
    /// Files (and folders) left out before being read, by [`SkipReason`].
    pub skipped: BTreeMap<&'static str, u64>,
}

/// Finds the files under `roots`.
pub(super) fn find(
    roots: &[Root],
    options: &WalkOptions,
    extensions: &Extensions,
    policy: &Policy,
) -> Found {
    let mut found = Found::default();
    let mut dirs: Vec<Root> = Vec::new();
    for root in roots {
        match std::fs::metadata(&root.path) {
            Err(e) => found.problems.push(Problem {
                path: root.path.display().to_string(),
                message: format!("cannot read: {e}"),
                fatal: true,
            }),
            Ok(meta) if meta.is_dir() => dirs.push(root.clone()),
            Ok(meta) if !meta.is_file() => found.problems.push(Problem {
                path: root.path.display().to_string(),
                message: format!(
                    "cannot check {}: not a regular file, refused without reading it",
                    file_kind(&meta)
                ),
                fatal: true,
            }),
            Ok(_) => {
                if policy.is_excluded(&root.path, false) {
                    count(&mut found.skipped, SkipReason::EXCLUDED, 1);
                } else {
                    found.candidates.push(Candidate {
                        path: root.path.clone(),
                        name: root.path.display().to_string(),
                        selection: select_named(&root.path),
                        named: true,
                        stdin: false,
                        regular: true,
                        follow: true,
                    });
                }
            }
        }
    }
    let mut walked: Vec<Root> = Vec::new();
    let mut pending = dirs;
    let mut depth = 0;
    while !pending.is_empty() {
        let mut nested = Vec::new();
        for root in pending {
            match git_or_walk(&root, options, depth) {
                Listing::Walk => walked.push(root),
                Listing::Git(entries) => list_git(
                    &root,
                    entries,
                    options,
                    extensions,
                    policy,
                    &mut found,
                    &mut nested,
                ),
                Listing::Failed(problem, fallback) => {
                    found.problems.push(problem);
                    if fallback {
                        walked.push(root);
                    }
                }
            }
        }
        pending = nested;
        depth += 1;
    }
    if let Some((first, rest)) = walked.split_first() {
        let rest: Vec<&Root> = rest.iter().collect();
        walk_dirs(first, &rest, options, extensions, policy, &mut found);
    }
    // By path as `Path` orders them (component by component), computed once per file:
    // comparing `Path`s re-splits both into components at every comparison, which cost as
    // much as the walk itself on 10,000 files.
    found
        .candidates
        .sort_by_cached_key(|c| (component_key(&c.path), c.named));
    // A file both named and found by a walk is checked once (as named: it sorts last).
    found.candidates.reverse();
    found.candidates.dedup_by(|a, b| a.path == b.path);
    found.candidates.reverse();
    found
}

fn count(skipped: &mut BTreeMap<&'static str, u64>, reason: &'static str, n: u64) {
    if n > 0 {
        *skipped.entry(reason).or_default() += n;
    }
}

/// What a non-regular file is, for messages.
fn file_kind(meta: &std::fs::Metadata) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let t = meta.file_type();
        if t.is_fifo() {
            return "a FIFO";
        } else if t.is_socket() {
            return "a socket";
        } else if t.is_char_device() {
            return "a character device";
        } else if t.is_block_device() {
            return "a block device";
        }
    }
    let _ = meta;
    "a special file"
}

/// How the files of a folder are found.
enum Listing {
    /// Walk it.
    Walk,
    /// git listed these paths (relative to the folder, as git writes them).
    Git(Vec<Vec<u8>>),
    /// A problem; walk the folder anyway if `true`.
    Failed(Problem, bool),
}

/// Submodules and untracked nested repositories are listed this deep at most.
const MAX_GIT_DEPTH: usize = 16;

/// Whether `root` is inside a git work tree (a `.git` at or above it) and, if so, what git
/// lists in it.
fn git_or_walk(root: &Root, options: &WalkOptions, depth: usize) -> Listing {
    let wants_git = matches!(options.mode, WalkMode::Auto | WalkMode::Git);
    if !wants_git {
        return Listing::Walk;
    }
    let absolute = match std::path::absolute(&root.path) {
        Ok(p) => p,
        Err(_) => root.path.clone(),
    };
    let in_work_tree = absolute.ancestors().any(|dir| dir.join(".git").exists());
    if !in_work_tree {
        return if options.mode == WalkMode::Git {
            Listing::Failed(
                Problem {
                    path: root.path.display().to_string(),
                    message: "not inside a git work tree (--walk git)".to_string(),
                    fatal: true,
                },
                false,
            )
        } else {
            Listing::Walk
        };
    }
    if depth > MAX_GIT_DEPTH {
        return Listing::Walk;
    }
    match git_ls_files(&root.path, options.no_ignore) {
        Ok(entries) => Listing::Git(entries),
        Err(message) => Listing::Failed(
            Problem {
                path: root.path.display().to_string(),
                message: format!("{message}; walking the folder instead"),
                fatal: options.mode == WalkMode::Git,
            },
            true,
        ),
    }
}

/// `git ls-files`: the tracked files (submodules' too), then the untracked ones that are
/// not ignored (all untracked ones with `no_ignore`). Paths are relative to `dir`.
fn git_ls_files(dir: &Path, no_ignore: bool) -> Result<Vec<Vec<u8>>, String> {
    let run = |args: &[&str]| -> Result<Vec<u8>, String> {
        let out = std::process::Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(["-c", "core.quotePath=false", "ls-files", "-z"])
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|e| format!("cannot run git to list the committed files: {e}"))?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let first = stderr.lines().next().unwrap_or("").trim();
            return Err(format!("git ls-files failed: {first}"));
        }
        Ok(out.stdout)
    };
    let tracked = run(&["--cached", "--recurse-submodules"])?;
    let untracked = if no_ignore {
        run(&["--others"])?
    } else {
        run(&["--others", "--exclude-standard"])?
    };
    let mut entries: Vec<Vec<u8>> = tracked
        .split(|&b| b == 0)
        .chain(untracked.split(|&b| b == 0))
        .filter(|e| !e.is_empty())
        .map(<[u8]>::to_vec)
        .collect();
    // An unmerged path is listed once per stage.
    entries.sort_unstable();
    entries.dedup();
    Ok(entries)
}

/// Makes candidates of what git listed under `root`; untracked nested repositories (listed
/// as `dir/`) go to `nested`, to be listed in turn.
fn list_git(
    root: &Root,
    entries: Vec<Vec<u8>>,
    options: &WalkOptions,
    extensions: &Extensions,
    policy: &Policy,
    found: &mut Found,
    nested: &mut Vec<Root>,
) {
    for entry in entries {
        let rel = path_from_bytes(&entry);
        let path = if root.implicit {
            rel.clone()
        } else {
            root.path.join(&rel)
        };
        if entry.ends_with(b"/") {
            nested.push(Root {
                path,
                implicit: false,
            });
            continue;
        }
        let selection = extensions.select(&path);
        if selection == Selection::Skip {
            count(&mut found.skipped, SkipReason::EXTENSION, 1);
            continue;
        }
        if policy.is_excluded(&path, false) {
            count(&mut found.skipped, SkipReason::EXCLUDED, 1);
            continue;
        }
        found.candidates.push(Candidate {
            name: path.display().to_string(),
            path,
            selection,
            named: false,
            stdin: false,
            regular: false,
            follow: options.follow,
        });
    }
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

fn walk_dirs(
    first: &Root,
    rest: &[&Root],
    options: &WalkOptions,
    extensions: &Extensions,
    policy: &Policy,
    found: &mut Found,
) {
    let mut builder = WalkBuilder::new(&first.path);
    for root in rest {
        builder.add(&root.path);
    }
    let respect = !options.no_ignore;
    let hidden = options.hidden || options.mode != WalkMode::Ripgrep;
    builder
        .hidden(!hidden)
        .follow_links(options.follow)
        .require_git(false)
        .git_ignore(respect)
        .git_global(respect)
        .git_exclude(respect)
        .ignore(respect)
        .parents(respect)
        .threads(options.threads);
    let implicit: Vec<PathBuf> = std::iter::once(first)
        .chain(rest.iter().copied())
        .filter(|r| r.implicit)
        .map(|r| r.path.clone())
        .collect();
    let candidates = Mutex::new(Vec::new());
    let problems = Mutex::new(Vec::new());
    let skipped = Mutex::new(BTreeMap::new());
    let follow = options.follow;
    builder.build_parallel().run(|| {
        let mut visitor = Visitor {
            local: Vec::new(),
            shared: &candidates,
            skipped: BTreeMap::new(),
            shared_skipped: &skipped,
        };
        let implicit = &implicit;
        let problems = &problems;
        Box::new(move |entry| {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => {
                    let fatal = !is_loop(&e);
                    if let Ok(mut p) = problems.lock() {
                        p.push(Problem {
                            path: String::new(),
                            message: e.to_string(),
                            fatal,
                        });
                    }
                    return WalkState::Continue;
                }
            };
            if let Some(e) = entry.error() {
                // An ignore file that could not be read or parsed: the walk goes on.
                if let Ok(mut p) = problems.lock() {
                    p.push(Problem {
                        path: entry.path().display().to_string(),
                        message: e.to_string(),
                        fatal: false,
                    });
                }
            }
            let Some(file_type) = entry.file_type() else {
                return WalkState::Continue;
            };
            let path = entry.path();
            if file_type.is_dir() {
                if entry.depth() > 0 && entry.file_name() == ".git" {
                    return WalkState::Skip;
                }
                if entry.depth() > 0 && policy.is_excluded(path, true) {
                    visitor.skip(SkipReason::EXCLUDED);
                    return WalkState::Skip;
                }
                return WalkState::Continue;
            }
            if !file_type.is_file() {
                // Symbolic links (when not followed), sockets, fifos, devices: never opened.
                visitor.skip(if file_type.is_symlink() {
                    SkipReason::SYMLINK
                } else {
                    SkipReason::NOT_REGULAR
                });
                return WalkState::Continue;
            }
            let selection = extensions.select(path);
            if selection == Selection::Skip {
                visitor.skip(SkipReason::EXTENSION);
                return WalkState::Continue;
            }
            if policy.is_excluded(path, false) {
                visitor.skip(SkipReason::EXCLUDED);
                return WalkState::Continue;
            }
            let name = display_name(path, implicit);
            visitor.push(Candidate {
                path: path.to_path_buf(),
                name,
                selection,
                named: false,
                stdin: false,
                regular: true,
                follow,
            });
            WalkState::Continue
        })
    });
    found
        .candidates
        .extend(candidates.into_inner().unwrap_or_default());
    found
        .problems
        .extend(problems.into_inner().unwrap_or_default());
    found
        .problems
        .sort_by(|a, b| (&a.path, &a.message).cmp(&(&b.path, &b.message)));
    for (reason, n) in skipped.into_inner().unwrap_or_default() {
        count(&mut found.skipped, reason, n);
    }
}

/// Collects a walker thread's candidates and hands them over in batches (and the rest when
/// the thread's visitor is dropped), so threads rarely wait on the shared list.
struct Visitor<'a> {
    local: Vec<Candidate>,
    shared: &'a Mutex<Vec<Candidate>>,
    skipped: BTreeMap<&'static str, u64>,
    shared_skipped: &'a Mutex<BTreeMap<&'static str, u64>>,
}

impl Visitor<'_> {
    const BATCH: usize = 256;

    fn push(&mut self, candidate: Candidate) {
        self.local.push(candidate);
        if self.local.len() >= Self::BATCH {
            self.flush();
        }
    }

    fn skip(&mut self, reason: &'static str) {
        *self.skipped.entry(reason).or_default() += 1;
    }

    fn flush(&mut self) {
        if let Ok(mut all) = self.shared.lock() {
            all.append(&mut self.local);
        }
    }
}

impl Drop for Visitor<'_> {
    fn drop(&mut self) {
        self.flush();
        if let Ok(mut all) = self.shared_skipped.lock() {
            for (reason, n) in std::mem::take(&mut self.skipped) {
                *all.entry(reason).or_default() += n;
            }
        }
    }
}

/// A key whose byte order is `Path`'s order: per component, a byte for its kind (in the
/// order of `Component`'s variants: a prefix, the root, `.`, `..`, a name), its bytes, then
/// NUL, which no name holds and which sorts below every other byte.
fn component_key(path: &Path) -> Vec<u8> {
    use std::path::Component;
    let mut key = Vec::with_capacity(path.as_os_str().len() + 8);
    for part in path.components() {
        key.push(match part {
            Component::Prefix(_) => 1,
            Component::RootDir => 2,
            Component::CurDir => 3,
            Component::ParentDir => 4,
            Component::Normal(_) => 5,
        });
        key.extend_from_slice(part.as_os_str().as_encoded_bytes());
        key.push(0);
    }
    key
}

fn is_loop(e: &ignore::Error) -> bool {
    match e {
        ignore::Error::Loop { .. } => true,
        ignore::Error::WithPath { err, .. }
        | ignore::Error::WithDepth { err, .. }
        | ignore::Error::WithLineNumber { err, .. } => is_loop(err),
        _ => false,
    }
}

/// The name of a walked file: the path as the walk built it, without the `./` of an
/// implicit current directory.
fn display_name(path: &Path, implicit: &[PathBuf]) -> String {
    for root in implicit {
        if let Ok(rest) = path.strip_prefix(root) {
            if !rest.as_os_str().is_empty() {
                return rest.display().to_string();
            }
        }
    }
    path.display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn component_keys_sort_as_paths_do() {
        let paths: Vec<PathBuf> = [
            "a/b",
            "a-b/x",
            "a/b/c",
            "ab",
            "a",
            "./a",
            "../a",
            "-x/y",
            "/abs/z",
            "/abs",
            "a//b",
            "a/./b",
            ".hidden/x",
            "a/b.pkl",
            "a/b/",
            "z",
            "A",
            "a b/c",
            "ä/x",
            "a/\u{1}",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        let mut by_path = paths.clone();
        by_path.sort();
        let mut by_key = paths.clone();
        by_key.sort_by_cached_key(|p| component_key(p));
        // Equal paths (`a//b` and `a/b`) may come in either order; compare what sorts.
        assert_eq!(
            by_path
                .iter()
                .map(|p| p.components().collect::<Vec<_>>())
                .collect::<Vec<_>>(),
            by_key
                .iter()
                .map(|p| p.components().collect::<Vec<_>>())
                .collect::<Vec<_>>()
        );
        for (a, b) in paths.iter().zip(paths.iter().skip(1)) {
            assert_eq!(
                a.cmp(b),
                component_key(a).cmp(&component_key(b)),
                "{a:?} {b:?}"
            );
        }
    }
}
