//! `pklinspect lint PATH... [--format text|json|sarif|github] [--config FILE]`: flags, the
//! policy file, standard input and exit codes. The walk, the checks and the outputs are in
//! the library (`pklinspect::lint`).
//!
//! Exit codes (SPEC §2): 0 no finding at or above `--fail-on`; 1 some; 2 a usage or policy
//! error, or a file or folder that could not be read at all (checked files are still
//! reported).

use std::ffi::OsString;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::{Args, ValueEnum};
use pklinspect::lint::policy::{self, Config, FailOn, Policy, Source};
use pklinspect::lint::{
    self, output, sarif, Candidate, Extensions, FileResult, Root, Run, WalkOptions,
};

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
Files are pickles by name (.pkl .pickle .joblib .pt .npy .npz, also under .gz/.bz2/.xz/\
.lzma/.lz4/.zlib), or by content (.p .pth .bin .ckpt .sav .dat and files without an \
extension). Folders are walked like ripgrep: .gitignore and .ignore are honoured, hidden \
files and symbolic links skipped. The policy is pklinspect.toml or [tool.pklinspect] in \
pyproject.toml, found upward from the current directory. `pklinspect rules` lists the rules.

Exit codes: 0 no finding at or above --fail-on, 1 some, 2 usage or policy error or a file \
that could not be read.")]
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

    /// Exit with 1 when a finding is at least this severe [default: the policy's fail-on,
    /// else error].
    #[arg(long, value_enum, value_name = "SEVERITY")]
    fail_on: Option<FailOnArg>,

    /// Check only files with these extensions (comma-separated; files without an extension
    /// are then skipped). Files named on the command line are always checked.
    #[arg(long, value_delimiter = ',', value_name = "EXT,...")]
    extensions: Option<Vec<String>>,

    /// Also walk hidden files and folders (`.git` folders are always skipped).
    #[arg(long)]
    hidden: bool,

    /// Follow symbolic links met during the walk.
    #[arg(short = 'L', long)]
    follow: bool,

    /// Do not honour .gitignore, .ignore and git exclude files.
    #[arg(long)]
    no_ignore: bool,

    /// Threads for the walk and the checks [default: one per core, or RAYON_NUM_THREADS].
    #[arg(short = 'j', long, value_name = "N")]
    threads: Option<usize>,

    /// Print the effective policy (as a pklinspect.toml) and exit.
    #[arg(long)]
    show_config: bool,

    /// Print findings only: no summary line, no notes.
    #[arg(short, long)]
    quiet: bool,

    /// When to colour text output.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
}

pub(crate) fn run(args: &LintArgs) -> Status {
    let started = Instant::now();
    let cwd = match std::env::current_dir() {
        Ok(cwd) => cwd,
        Err(e) => {
            report("lint", format!("cannot find the current directory: {e}"));
            return Status::Failure;
        }
    };
    let mut policy = match load_policy(args, &cwd) {
        Ok(policy) => policy,
        Err((file, message)) => {
            report(&file, message);
            return Status::Failure;
        }
    };
    if let Some(fail_on) = args.fail_on {
        policy.fail_on = fail_on.into();
    }
    if let Some(extensions) = &args.extensions {
        policy.extensions = Some(extensions.clone());
    }
    if args.show_config {
        return write_or_fail(|out| out.write_all(policy.effective_toml().as_bytes()));
    }

    let (roots, stdin_named) = match roots(args) {
        Ok(found) => found,
        Err(message) => {
            report("lint", message);
            return Status::Failure;
        }
    };
    let extensions = match &policy.extensions {
        Some(list) => Extensions::only(list),
        None => Extensions::builtin(),
    };
    let threads = args.threads.unwrap_or(0);
    let pool = match rayon::ThreadPoolBuilder::new().num_threads(threads).build() {
        Ok(pool) => pool,
        Err(e) => {
            report("lint", format!("cannot start threads: {e}"));
            return Status::Failure;
        }
    };
    let walk_options = WalkOptions {
        hidden: args.hidden,
        follow: args.follow,
        no_ignore: args.no_ignore,
        threads: pool.current_num_threads(),
    };
    let found = lint::walk::find(&roots, &walk_options, &extensions, &policy);
    let mut candidates = found.candidates;
    let stdin_bytes = if stdin_named {
        let mut bytes = Vec::new();
        if let Err(e) = io::stdin().lock().read_to_end(&mut bytes) {
            report("<stdin>", format!("cannot read: {e}"));
            return Status::Failure;
        }
        candidates.insert(0, Candidate::stdin());
        Some(bytes)
    } else {
        None
    };
    let checked = pool.install(|| lint::check_all(&candidates, &policy, stdin_bytes.as_deref()));
    let (mut files, skipped) = match checked {
        Ok(checked) => checked,
        Err(message) => {
            report(&policy.source_name(), message);
            return Status::Failure;
        }
    };
    // Paths that could not be read at all are listed as files with an `unreadable` finding,
    // so that every format shows them; walk warnings go to standard error.
    let scope = match policy.scope(&[]) {
        Ok(scope) => scope,
        Err(message) => {
            report(&policy.source_name(), message);
            return Status::Failure;
        }
    };
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
    let root = lint::repository_root(&policy::absolute(Path::new("/"), &cwd));
    let run = Run {
        files,
        skipped: skipped + found.excluded,
        warnings,
        duration: started.elapsed(),
        root,
        cwd,
    };

    let unreadable = run.any_unreadable();
    if !args.quiet {
        for w in &run.warnings {
            report(if w.path.is_empty() { "lint" } else { &w.path }, &w.message);
        }
    }
    for file in run.files.iter().filter(|f| f.is_unreadable()) {
        if let Some(e) = &file.error {
            report(&file.name, &e.message);
        }
    }
    let status = if unreadable {
        Status::Failure
    } else {
        match (policy.fail_on.severity(), run.worst()) {
            (Some(threshold), Some(worst)) if worst >= threshold => Status::Findings,
            _ => Status::Success,
        }
    };

    let written = match args.format {
        Format::Text => {
            let stdout = anstream::AutoStream::new(io::stdout(), args.color.into());
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

/// The policy: `--no-config`, `--config FILE`, or the one found upward from `cwd`.
fn load_policy(args: &LintArgs, cwd: &Path) -> Result<Policy, (String, String)> {
    let (source, config) = if args.no_config {
        (Source::Defaults, Config::default())
    } else if let Some(file) = &args.config {
        policy::load(file).map_err(|e| (e.file.display().to_string(), e.message))?
    } else {
        policy::discover(cwd).map_err(|e| (e.file.display().to_string(), e.message))?
    };
    let name = source
        .path()
        .map_or_else(|| "lint".to_string(), |p| p.display().to_string());
    Policy::new(source, config, cwd).map_err(|message| (name, message))
}

/// The paths to check, and whether standard input is one of them.
fn roots(args: &LintArgs) -> Result<(Vec<Root>, bool), String> {
    let mut roots = Vec::new();
    let mut stdin = false;
    for path in &args.paths {
        if path == "-" {
            stdin = true;
        } else {
            roots.push(Root {
                path: PathBuf::from(path),
                implicit: false,
            });
        }
    }
    if let Some(list) = &args.files_from {
        if list == "-" && stdin {
            return Err("standard input cannot be both a PATH (-) and --files-from -".into());
        }
        let text = if list == "-" {
            let mut bytes = Vec::new();
            io::stdin()
                .lock()
                .read_to_end(&mut bytes)
                .map_err(|e| format!("--files-from -: cannot read standard input: {e}"))?;
            bytes
        } else {
            std::fs::read(list).map_err(|e| {
                format!(
                    "--files-from {}: cannot read: {e}",
                    Path::new(list).display()
                )
            })?
        };
        for line in text.split(|&b| b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.is_empty() {
                continue;
            }
            roots.push(Root {
                path: path_from_bytes(line),
                implicit: false,
            });
        }
    } else if args.paths.is_empty() {
        roots.push(Root {
            path: PathBuf::from("."),
            implicit: true,
        });
    }
    Ok((roots, stdin))
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
