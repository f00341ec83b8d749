//! `pklinspect completions SHELL` and `pklinspect man`: generated from the clap definitions.
//!
//! Both are rendered into memory and then written, so a reader that goes away early
//! (`| true`, `| head`) ends the run quietly instead of panicking inside a generator.
//! The man page is one page: every subcommand's options are sections of it (no
//! `pklinspect-explain(1)` sub-pages are referred to, since none are generated), followed
//! by the exit codes and examples.

use std::io::{self, Write};

use clap::{Args, CommandFactory};

use super::{Cli, Status};

#[derive(Args, Debug)]
pub(crate) struct CompletionsArgs {
    /// The shell to write a completion script for.
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

pub(crate) fn completions(args: &CompletionsArgs) -> Status {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "pklinspect", &mut script);
    write_stdout(&script)
}

pub(crate) fn man() -> Status {
    match man_page() {
        Ok(page) => write_stdout(&page),
        Err(e) => {
            super::report("man", format!("cannot render the man page: {e}"));
            Status::Failure
        }
    }
}

/// The whole man page, as roff.
pub(crate) fn man_page() -> io::Result<Vec<u8>> {
    let command = Cli::command();
    let top = clap_mangen::Man::new(command.clone());
    let mut page = Vec::new();
    top.render_title(&mut page)?;
    top.render_name_section(&mut page)?;
    top.render_synopsis_section(&mut page)?;
    top.render_description_section(&mut page)?;
    top.render_options_section(&mut page)?;
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("pklinspect {}", sub.get_name());
        writeln!(page, ".SH \"{}\"", name.to_uppercase())?;
        let sub = sub.clone().bin_name(&name).display_name(&name);
        let man = clap_mangen::Man::new(sub.clone());
        let mut part = Vec::new();
        man.render_synopsis_section(&mut part)?;
        man.render_description_section(&mut part)?;
        if sub.get_arguments().any(|a| !a.is_hide_set()) {
            man.render_options_section(&mut part)?;
        }
        if let Some(notes) = sub.get_after_help() {
            write_notes(&mut part, &notes.to_string())?;
        }
        // The subcommand's own sections become subsections of its section.
        for line in String::from_utf8_lossy(&part).lines() {
            match line.strip_prefix(".SH ") {
                Some(heading) => writeln!(page, ".SS {heading}")?,
                None => writeln!(page, "{line}")?,
            }
        }
    }
    writeln!(page, ".SH \"EXIT STATUS\"")?;
    let examples = super::EXAMPLES;
    let (examples, codes) = examples.split_once("Exit codes:").unwrap_or((examples, ""));
    for line in codes.lines().filter(|l| !l.trim().is_empty()) {
        writeln!(page, "{}\n.br", roff_line(line.trim()))?;
    }
    writeln!(page, ".SH EXAMPLES")?;
    writeln!(page, ".nf")?;
    for line in examples.lines().skip_while(|l| l.starts_with("Examples")) {
        writeln!(page, "{}", roff_line(line))?;
    }
    writeln!(page, ".fi")?;
    top.render_version_section(&mut page)?;
    Ok(page)
}

/// A subcommand's notes: examples as written (laid out in columns), prose paragraphs
/// (one long line each in the help) filled.
fn write_notes(out: &mut Vec<u8>, notes: &str) -> io::Result<()> {
    writeln!(out, ".SH NOTES")?;
    let prose = notes.lines().any(|l| l.chars().count() > 100);
    if !prose {
        writeln!(out, ".nf")?;
    }
    for line in notes.lines() {
        if prose && line.trim().is_empty() {
            writeln!(out, ".PP")?;
        } else {
            writeln!(out, "{}", roff_line(line))?;
        }
    }
    if !prose {
        writeln!(out, ".fi")?;
    }
    Ok(())
}

/// A line of text for roff: backslashes escaped, a leading `.` or `'` kept literal.
fn roff_line(line: &str) -> String {
    let escaped = line.replace('\\', "\\e");
    if escaped.starts_with('.') || escaped.starts_with('\'') {
        format!("\\&{escaped}")
    } else {
        escaped
    }
}

/// Writes `bytes` to standard output; a closed pipe is not an error.
fn write_stdout(bytes: &[u8]) -> Status {
    let mut out = io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Status::Success,
        Err(e) if super::is_broken_pipe(&e) => Status::Success,
        Err(e) => {
            super::report("<stdout>", format!("cannot write output: {e}"));
            Status::Failure
        }
    }
}
