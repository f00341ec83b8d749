//! `pklinspect lint PATH... [--format text|json|sarif|github] [--config FILE]`: flags,
//! messages, colour and exit codes around a [`Linter`] run. The policy, the walk, the
//! checks, the exit status and the outputs are in the library (`pklinspect::lint`).
//!
//! Exit codes (SPEC §2): 0 no finding at or above `--fail-on`; 1 some; 2 a usage or policy
//! error, or a file or folder that could not be read at all (checked files are still
//! reported).

use std::ffi::OsString;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use pklinspect::lint::{self, output, sarif, FailOn, Linter, Policy, WalkMode};

use super::{is_broken_pipe, report, ColorChoice, Status};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// One line per finding, `path:offset: severity[rule] message (object path)`, and a summary.
    Text,
    /// One document, schema pklinspect.lint/1.
    Json,
    /// SARIF 2.1.0, for GitHub code scanning and other SARIF viewers.
    Sarif,
    /// GitHub Actions workflow commands (`::error file=…::…`): annotations on the files.
    Github,
}

/// The lowest severity that fails the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum FailOnArg {
    Info,
    Warning,
    Error,
    /// Findings never fail the run (exit 0 unless something could not be read).
    Never,
}

/// `--walk`: which files of a folder are checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum WalkArg {
    /// Inside a git work tree, what git tracks plus untracked files it does not ignore;
    /// elsewhere, like `files`.
    Auto,
    /// What git tracks plus untracked files it does not ignore (an error outside a work tree).
    Git,
    /// Every file, hidden ones included, minus what .gitignore and .ignore leave out.
    Files,
    /// ripgrep's rules: .gitignore and .ignore honoured, hidden files skipped (see --hidden).
    Ripgrep,
}

impl From<WalkArg> for WalkMode {
    fn from(arg: WalkArg) -> WalkMode {
        match arg {
            WalkArg::Auto => WalkMode::Auto,
            WalkArg::Git => WalkMode::Git,
            WalkArg::Files => WalkMode::Files,
            WalkArg::Ripgrep => WalkMode::Ripgrep,
        }
    }
}

impl From<FailOnArg> for FailOn {
    fn from(arg: FailOnArg) -> FailOn {
        match arg {
            FailOnArg::Info => FailOn::Info,
            FailOnArg::Warning => FailOn::Warning,
            FailOnArg::Error => FailOn::Error,
            FailOnArg::Never => FailOn::Never,
        }
    }
}

#[derive(Args, Debug)]
#[command(after_help = "\
Files are chosen by content, never by name alone: every regular file is sniffed from its \
first bytes (pickle opcodes of any protocol, zip, 7z, tar, .npy, every compression), and \
the ones that may hold a pickle are checked; the others are counted as skipped, by reason. \
.pkl .pickle .joblib .pt .npy .npz files must be pickles: one that is text, HTML or an image \
is a finding. A Git LFS pointer where a model should be is an lfs-pointer warning.

Which files of a folder: inside a git work tree, what git tracks (hidden and force-added \
files included) plus untracked files that are not ignored; outside one, every file \
(hidden ones included) that .gitignore and .ignore do not leave out. --walk ripgrep \
restores ripgrep's rules (hidden files and symbolic links skipped). FIFOs, sockets and \
devices are never opened. The policy is pklinspect.toml or [tool.pklinspect] in \
pyproject.toml, found upward from the current directory. `pklinspect rules` lists the rules.

Exit codes: 0 no finding at or above --fail-on, 1 some, 2 usage or policy error, a file \
that could not be read, or a run that checked no file (unless --allow-empty).")]
pub(crate) struct LintArgs {
    /// Files and folders to check [default: the current directory]; `-` reads one file from
    /// standard input.
    #[arg(value_name = "PATH")]
    paths: Vec<OsString>,

    /// Also check the paths listed in FILE, one a line (`-`: standard input).
    #[arg(long, value_name = "FILE")]
    files_from: Option<OsString>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,

    /// The policy file (a pklinspect.toml, or a pyproject.toml with [tool.pklinspect]).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,

    /// Use no policy file: the built-in rules and severities.
    #[arg(long, conflicts_with = "config")]
    no_config: bool,

    /// Unknown references are errors too, not warnings (like `strict = true` in the
    /// policy file); calls of anything unvetted always are.
    #[arg(long)]
    strict: bool,

    /// Exit with 1 when a finding is at least this severe [default: the policy's fail-on,
    /// else error].
    #[arg(long, value_enum, value_name = "SEVERITY")]
    fail_on: Option<FailOnArg>,

    /// Check only files with these extensions (comma-separated; files without an extension
    /// are then skipped). Files named on the command line are always checked.
    #[arg(long, value_delimiter = ',', value_name = "EXT,...")]
    extensions: Option<Vec<String>>,

    /// Which files of a folder are checked: auto (git's files inside a git work tree, else
    /// every file), git (fail outside a work tree), files (every file, hidden ones
    /// included, minus ignore files), ripgrep (ripgrep's rules: hidden files skipped).
    #[arg(long, value_enum, value_name = "MODE", default_value_t = WalkArg::Auto)]
    walk: WalkArg,

    /// With --walk ripgrep, also walk hidden files and folders (the other modes include
    /// them; `.git` folders are always skipped).
    #[arg(long)]
    hidden: bool,

    /// Exit with 0 (not 2) when no file was checked.
    #[arg(long)]
    allow_empty: bool,

    /// Follow symbolic links met during the walk.
    #[arg(short = 'L', long)]
    follow: bool,

    /// Do not honour .gitignore, .ignore and git exclude files (in a git work tree: also
    /// check untracked files that git ignores).
    #[arg(long)]
    no_ignore: bool,

    /// Threads for the walk and the checks [default: one per core, or RAYON_NUM_THREADS].
    #[arg(short = 'j', long, value_name = "N")]
    threads: Option<usize>,

    /// Print the effective policy (as a pklinspect.toml) and exit.
    #[arg(long)]
    show_config: bool,

    #[command(flatten)]
    limits: super::limits::LimitArgs,

    /// Print findings only: no summary line, no notes.
    #[arg(short, long)]
    quiet: bool,
}

pub(crate) fn run(args: &LintArgs, color: ColorChoice) -> Status {
    let cwd = match std::env::current_dir() {
        Ok(cwd) => cwd,
        Err(e) => {
            report("lint", format!("cannot find the current directory: {e}"));
            return Status::Failure;
        }
    };
    let loaded = if args.no_config {
        Ok(Policy::defaults(&cwd))
    } else if let Some(file) = &args.config {
        Policy::load(file, &cwd)
    } else {
        Policy::discover(&cwd)
    };
    let mut policy = match loaded {
        Ok(policy) => policy,
        Err(e) => {
            report(&e.file.display().to_string(), e.message);
            return Status::Failure;
        }
    };
    policy.strict |= args.strict;
    if let Some(fail_on) = args.fail_on {
        policy.fail_on = fail_on.into();
    }
    if let Some(extensions) = &args.extensions {
        policy.extensions = Some(extensions.clone());
    }
    // Limit flags win over the policy's `[limits]`.
    args.limits.apply(&mut policy.limits);
    if args.show_config {
        return write_or_fail(|out| out.write_all(policy.effective_toml().as_bytes()));
    }

    let linter = match linter(args, policy) {
        Ok(linter) => linter,
        Err(message) => {
            report("lint", message);
            return Status::Failure;
        }
    };
    let run = match linter.run() {
        Ok(run) => run,
        Err(e) => {
            report(e.subject().unwrap_or("lint"), e.message());
            return Status::Failure;
        }
    };

    if !args.quiet {
        for w in &run.warnings {
            report(if w.path.is_empty() { "lint" } else { &w.path }, &w.message);
        }
    }
    // Text and GitHub output show an unreadable file among the findings, on standard
    // output; JSON and SARIF are for programs, so a person also gets it on standard error.
    // Either way it is printed once.
    if matches!(args.format, Format::Json | Format::Sarif) {
        for file in run.files.iter().filter(|f| f.is_unreadable()) {
            if let Some(e) = &file.error {
                report(&file.name, &e.message);
            }
        }
    }
    let status = match run.status() {
        lint::Status::Clean => Status::Success,
        lint::Status::Findings => Status::Findings,
        lint::Status::Unreadable => Status::Failure,
        lint::Status::NothingChecked => {
            report("lint", output::nothing_checked(&run));
            Status::Failure
        }
    };

    let written = match args.format {
        Format::Text => {
            let stdout = anstream::AutoStream::new(io::stdout(), color.into());
            let mut out = io::BufWriter::new(stdout.lock());
            output::write_text(&mut out, &run, args.quiet).and_then(|()| out.flush())
        }
        Format::Json => {
            let mut out = io::BufWriter::new(io::stdout().lock());
            output::write_json(&mut out, &run).and_then(|()| out.flush())
        }
        Format::Sarif => write_json(&sarif::sarif_value(&run, status != Status::Failure)),
        Format::Github => {
            let mut out = io::BufWriter::new(io::stdout().lock());
            output::write_github(&mut out, &run, args.quiet).and_then(|()| out.flush())
        }
    };
    match written {
        Ok(()) => status,
        Err(e) if is_broken_pipe(&e) => status,
        Err(e) => {
            report("<stdout>", format!("cannot write output: {e}"));
            Status::Failure
        }
    }
}

/// The run the flags ask for: PATHs (`-`: standard input), `--files-from`, the walk's flags.
fn linter(args: &LintArgs, policy: Policy) -> Result<Linter<'static>, String> {
    let mut linter = Linter::new(policy)
        .walk_mode(args.walk.into())
        .allow_empty(args.allow_empty)
        .hidden(args.hidden)
        .follow(args.follow)
        .no_ignore(args.no_ignore)
        .threads(args.threads.unwrap_or(0));
    let mut stdin = false;
    for path in &args.paths {
        if path == "-" {
            stdin = true;
        } else {
            linter = linter.path(path);
        }
    }
    if let Some(list) = &args.files_from {
        let paths = if list == "-" {
            if stdin {
                return Err("standard input cannot be both a PATH (-) and --files-from -".into());
            }
            lint::read_path_list(io::stdin().lock())
                .map_err(|e| format!("--files-from -: cannot read standard input: {e}"))?
        } else {
            std::fs::File::open(list)
                .and_then(lint::read_path_list)
                .map_err(|e| {
                    format!(
                        "--files-from {}: cannot read: {e}",
                        Path::new(list).display()
                    )
                })?
        };
        linter = linter.paths(paths);
    }
    if stdin {
        linter = linter.stdin(io::stdin().lock());
    }
    Ok(linter)
}

fn write_json(value: &serde_json::Value) -> io::Result<()> {
    let mut out = io::BufWriter::new(io::stdout().lock());
    serde_json::to_writer_pretty(&mut out, value)
        .map_err(io::Error::from)
        .and_then(|()| writeln!(out))
        .and_then(|()| out.flush())
}

fn write_or_fail(write: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> Status {
    let mut out = io::BufWriter::new(io::stdout().lock());
    match write(&mut out).and_then(|()| out.flush()) {
        Ok(()) => Status::Success,
        Err(e) if is_broken_pipe(&e) => Status::Success,
        Err(e) => {
            report("<stdout>", format!("cannot write output: {e}"));
            Status::Failure
        }
    }
}
