//! Finding the files to check: the paths the user names, and the walk of folders, which
//! honours `.gitignore`, `.ignore` and git's exclude files as ripgrep does (the `ignore`
//! crate, with `require_git(false)` so that a `.gitignore` counts outside a git checkout too).
//!
//! * A **named file** (argument or `--files-from` line) is always considered: ignore files and
//!   `--extensions` do not apply to it, but the policy's `exclude` globs do, and a name
//!   that does not say "pickle" still needs pickle content ([`select_named`]).
//! * **Hidden** files and folders (a name starting with `.`) are skipped unless `hidden`;
//!   `.git` folders are always skipped.
//! * **Symbolic links** met during the walk are skipped unless `follow`; a named symbolic
//!   link is followed. With `follow`, a link back to a parent is reported, not walked again.
//!
//! The walk runs on several threads; the result is sorted by path, so the output does not
//! depend on the schedule.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use ignore::{WalkBuilder, WalkState};

use super::policy::Policy;
use super::select::{select_named, Extensions, Selection};

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
    /// Files and folders left out by the policy's `exclude`.
    pub excluded: u64,
    /// Files left out by name (extension).
    pub not_selected: u64,
}

/// Finds the files under `roots`.
pub(super) fn find(
    roots: &[Root],
    options: &WalkOptions,
    extensions: &Extensions,
    policy: &Policy,
) -> Found {
    let mut found = Found::default();
    let mut dirs: Vec<&Root> = Vec::new();
    for root in roots {
        match std::fs::metadata(&root.path) {
            Err(e) => found.problems.push(Problem {
                path: root.path.display().to_string(),
                message: format!("cannot read: {e}"),
                fatal: true,
            }),
            Ok(meta) if meta.is_dir() => dirs.push(root),
            Ok(_) => {
                if policy.is_excluded(&root.path, false) {
                    found.excluded += 1;
                } else {
                    found.candidates.push(Candidate {
                        path: root.path.clone(),
                        name: root.path.display().to_string(),
                        selection: select_named(&root.path),
                        named: true,
                        stdin: false,
                    });
                }
            }
        }
    }
    if let Some((first, rest)) = dirs.split_first() {
        walk_dirs(first, rest, options, extensions, policy, &mut found);
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
    builder
        .hidden(!options.hidden)
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
    let excluded = AtomicU64::new(0);
    let not_selected = AtomicU64::new(0);
    builder.build_parallel().run(|| {
        let mut visitor = Visitor {
            local: Vec::new(),
            shared: &candidates,
        };
        let implicit = &implicit;
        let problems = &problems;
        let excluded = &excluded;
        let not_selected = &not_selected;
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
                    excluded.fetch_add(1, Ordering::Relaxed);
                    return WalkState::Skip;
                }
                return WalkState::Continue;
            }
            if !file_type.is_file() {
                // Symbolic links (when not followed), sockets, fifos, devices.
                return WalkState::Continue;
            }
            let selection = extensions.select(path);
            if selection == Selection::Skip {
                not_selected.fetch_add(1, Ordering::Relaxed);
                return WalkState::Continue;
            }
            if policy.is_excluded(path, false) {
                excluded.fetch_add(1, Ordering::Relaxed);
                return WalkState::Continue;
            }
            let name = display_name(path, implicit);
            visitor.push(Candidate {
                path: path.to_path_buf(),
                name,
                selection,
                named: false,
                stdin: false,
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
    found.excluded += excluded.into_inner();
    found.not_selected += not_selected.into_inner();
}

/// Collects a walker thread's candidates and hands them over in batches (and the rest when
/// the thread's visitor is dropped), so threads rarely wait on the shared list.
struct Visitor<'a> {
    local: Vec<Candidate>,
    shared: &'a Mutex<Vec<Candidate>>,
}

impl Visitor<'_> {
    const BATCH: usize = 256;

    fn push(&mut self, candidate: Candidate) {
        self.local.push(candidate);
        if self.local.len() >= Self::BATCH {
            self.flush();
        }
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
