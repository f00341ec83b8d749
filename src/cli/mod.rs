//! Command-line front end: flags, file opening, error messages and exit codes.
//!
//! Exit codes (SPEC §2): 0 success, 1 `lint` findings, 2 usage error / unreadable /
//! malformed input. A closed output pipe ends the run quietly and does not change the exit
//! code: a command exits with what it would have exited with had its reader read
//! everything (`lint … | head` exits 1 on findings, in every format; `explain`, `dis`,
//! `completions`, `man` exit 0).

mod completions;
mod dis;
mod explain;
mod extract;
mod limits;
mod lint;
mod rules;

use std::io;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Examples and exit codes, at the end of `pklinspect --help` and in the man page.
pub(crate) const EXAMPLES: &str = "\
Examples:
  pklinspect explain model.pkl                  what is inside, and whether it is safe to load
  pklinspect explain --depth 3 data.pkl         a deeper preview of plain data
  pklinspect extract model.pt --to npz -o model.npz
                                                the arrays, for numpy.load, without torch
  pklinspect extract data.pkl --to json -o data.json --arrays npy
                                                plain data as JSON, arrays beside it
  pklinspect lint --format github               check a repository's pickles in CI
  pklinspect dis --member archive/data.pkl model.pt
                                                the opcodes of one member of a torch zip

Exit codes:
  0  success
  1  lint only: a finding at or above --fail-on
  2  usage error, unreadable or malformed input, a limit hit, lint checked no file
  A closed output pipe (| head) ends a run quietly with the code it would have had.";

/// Open Python pickle files without executing them.
#[derive(Parser, Debug)]
#[command(name = "pklinspect", version, about, long_about = None, after_help = EXAMPLES)]
pub(crate) struct Cli {
    #[command(subcommand)]
    command: Command,

    /// When to colour output: auto (on a terminal, unless NO_COLOR is set), always, never.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Explain what is inside: imports and their categories, arrays, findings, a verdict.
    Explain(explain::ExplainArgs),
    /// Write arrays and plain data out as .npy, .npz or JSON.
    Extract(extract::ExtractArgs),
    /// Check files and folders against a policy, for CI: exit 1 on findings.
    Lint(lint::LintArgs),
    /// List the rules behind findings, or explain one.
    Rules(rules::RulesArgs),
    /// List the opcodes of a pickle, exactly as `python -m pickletools` does.
    Dis(dis::DisArgs),
    /// Print a shell completion script.
    Completions(completions::CompletionsArgs),
    /// Print the man page (roff), e.g. `pklinspect man | man -l -`.
    Man,
}

/// When to colour output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ColorChoice {
    /// On a terminal, unless NO_COLOR is set (CLICOLOR_FORCE forces it).
    Auto,
    Always,
    Never,
}

impl From<ColorChoice> for anstream::ColorChoice {
    fn from(choice: ColorChoice) -> Self {
        match choice {
            ColorChoice::Auto => anstream::ColorChoice::Auto,
            ColorChoice::Always => anstream::ColorChoice::Always,
            ColorChoice::Never => anstream::ColorChoice::Never,
        }
    }
}

/// Exit status of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    /// Exit 0.
    Success,
    /// Exit 1: `lint` found something at or above the failing severity.
    Findings,
    /// Exit 2: usage error, unreadable or malformed input, a limit.
    Failure,
}

pub fn run() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help/version on stdout (exit 0) and usage errors on stderr (2).
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let status = match cli.command {
        Command::Dis(args) => dis::run(&args),
        Command::Explain(args) => explain::run(&args, cli.color),
        Command::Extract(args) => extract::run(&args),
        Command::Lint(args) => lint::run(&args, cli.color),
        Command::Rules(args) => rules::run(&args),
        Command::Completions(args) => completions::completions(&args),
        Command::Man => completions::man(),
    };
    match status {
        Status::Success => ExitCode::SUCCESS,
        Status::Findings => ExitCode::from(1),
        Status::Failure => ExitCode::from(2),
    }
}

/// A FILE argument: a path, or `-` for standard input.
#[derive(Clone, Debug)]
pub(crate) struct InputPath(pub PathBuf);

impl InputPath {
    pub fn is_stdin(&self) -> bool {
        self.0.as_os_str() == "-"
    }

    /// The name used in messages.
    pub fn display(&self) -> String {
        if self.is_stdin() {
            "<stdin>".to_string()
        } else {
            self.0.display().to_string()
        }
    }

    pub fn open(&self) -> io::Result<pklinspect::input::Input> {
        if self.is_stdin() {
            pklinspect::input::Input::read(io::stdin().lock())
        } else {
            pklinspect::input::Input::open(&self.0)
        }
    }
}

impl From<std::ffi::OsString> for InputPath {
    fn from(s: std::ffi::OsString) -> Self {
        InputPath(PathBuf::from(s))
    }
}

/// Prints `pklinspect: <file>: <message>` on standard error.
pub(crate) fn report(file: &str, message: impl std::fmt::Display) {
    // File-chosen names (archive members, globals) reach this line: one line, no escapes.
    let message = message.to_string();
    let shown = pklinspect::render::style::shown;
    eprintln!("pklinspect: {}: {}", shown(file), shown(&message));
}

/// Whether a write failed only because the reader went away (`| head`).
pub(crate) fn is_broken_pipe(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::BrokenPipe
}
