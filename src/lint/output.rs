//! `lint`'s outputs besides SARIF ([`super::sarif`]): text for people, JSON (schema
//! `pklinspect.lint/1`, with its own small wire types), and GitHub Actions workflow
//! commands. All are written from a [`Run`], files in path order and each file's findings
//! in offset order, so the bytes do not depend on the thread schedule.

use std::io::{self, Write};

use serde::Serialize;

use super::{FileResult, Run, Summary, LINT_SCHEMA};
use crate::render::json::{FindingDoc, FindingLayout};
use crate::render::style::{severity_style, shown, BOLD, DIM};
use crate::report::Finding;
use crate::rules::Severity;

/// Where a finding is, for people: `file:offset`, or `file:member:offset` inside an archive
/// (names [`shown`]: a file or member name cannot break the line, nor start it with a
/// workflow command's `::`).
fn location(file: &FileResult, finding: &Finding) -> String {
    let mut out = crate::render::style::shown_at_line_start(&file.name).into_owned();
    if let Some(member) = &finding.member {
        out.push(':');
        out.push_str(&shown(member));
    }
    if let Some(offset) = finding.offset {
        out.push(':');
        out.push_str(&offset.to_string());
    }
    out
}

/// Text: one line per finding, `path:offset: severity[rule] message (object path)`, then
/// (unless `quiet`) a summary line. Styles are ANSI escapes; the binary's stream strips them
/// off a terminal. File-chosen text is [`shown`]: one finding is one line, so a name cannot
/// forge a line (in a CI log, a `::error::` workflow command) or send escape sequences.
pub fn write_text(out: &mut dyn Write, run: &Run, quiet: bool) -> io::Result<()> {
    for file in &run.files {
        for f in &file.findings {
            let style = severity_style(f.severity);
            write!(
                out,
                "{BOLD}{}{BOLD:#}: {style}{}{style:#}[{}] {}",
                location(file, f),
                f.severity,
                f.rule.id(),
                shown(&f.message)
            )?;
            if let Some(path) = &f.path {
                write!(out, " {DIM}({}){DIM:#}", shown(path))?;
            }
            writeln!(out)?;
        }
    }
    if !quiet {
        writeln!(out, "{}", run_summary_line(run))?;
    }
    Ok(())
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `270 files checked in 85 ms: 40 errors, 2 warnings in 25 files; 3 skipped`.
pub fn summary_line(s: &Summary) -> String {
    let mut line = format!(
        "{} checked in {} ms: ",
        plural(s.files - s.unreadable.min(s.files), "file", "files"),
        s.duration_ms
    );
    let mut counts = Vec::new();
    if s.errors > 0 {
        counts.push(plural(s.errors, "error", "errors"));
    }
    if s.warnings > 0 {
        counts.push(plural(s.warnings, "warning", "warnings"));
    }
    if s.infos > 0 {
        counts.push(format!("{} info", s.infos));
    }
    if counts.is_empty() {
        line.push_str("no findings");
    } else {
        line.push_str(&counts.join(", "));
        line.push_str(&format!(
            " in {}",
            plural(s.files_with_findings, "file", "files")
        ));
    }
    if s.unreadable > 0 {
        line.push_str(&format!(
            "; {} could not be read",
            plural(s.unreadable, "file", "files")
        ));
    }
    if s.skipped > 0 {
        line.push_str(&format!("; {} skipped", s.skipped));
    }
    line
}

/// The summary line with the skip reasons: `…; 7 skipped (5 text, 2 excluded)`.
pub fn run_summary_line(run: &Run) -> String {
    let mut line = summary_line(&run.summary());
    if run.skipped > 0 && !run.skipped_by_reason.is_empty() {
        line.push_str(&format!(" ({})", reasons(run)));
    }
    line
}

/// `5 text, 2 excluded`, most frequent first.
fn reasons(run: &Run) -> String {
    let mut by_count: Vec<(&String, &u64)> = run.skipped_by_reason.iter().collect();
    by_count.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    by_count
        .iter()
        .map(|(reason, n)| format!("{n} {reason}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What to say when a run checked no file: `no file was checked (12 skipped: 12 text); …`.
pub fn nothing_checked(run: &Run) -> String {
    let mut message = String::from("no file was checked");
    if run.skipped > 0 {
        message.push_str(&format!(" ({} skipped: {})", run.skipped, reasons(run)));
    }
    message.push_str("; pass --allow-empty if that is expected");
    message
}

#[derive(Serialize)]
struct LintDoc<'a> {
    schema: &'static str,
    files: Vec<FileDoc<'a>>,
    summary: SummaryDoc<'a>,
}

#[derive(Serialize)]
struct FileDoc<'a> {
    file: &'a str,
    container: Option<&'a str>,
    verdict: Option<&'static str>,
    findings: Vec<FindingDoc<'a>>,
    error: Option<ErrorDoc<'a>>,
}

#[derive(Serialize)]
struct ErrorDoc<'a> {
    message: &'a str,
    offset: Option<u64>,
}

#[derive(Serialize)]
struct SummaryDoc<'a> {
    files: u64,
    findings: CountsDoc,
    duration_ms: u64,
    files_with_findings: u64,
    skipped: u64,
    unreadable: u64,
    skipped_by_reason: &'a std::collections::BTreeMap<String, u64>,
}

#[derive(Serialize)]
struct CountsDoc {
    error: u64,
    warning: u64,
    info: u64,
}

/// Writes the `pklinspect.lint/1` document, pretty-printed, fields in the documented order
/// (serialized straight from the results: no intermediate `Value` per file).
pub fn write_json(out: &mut dyn Write, run: &Run) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, &lint_doc(run)).map_err(io::Error::from)?;
    writeln!(out)
}

fn lint_doc(run: &Run) -> LintDoc<'_> {
    let s = run.summary();
    LintDoc {
        schema: LINT_SCHEMA,
        files: run
            .files
            .iter()
            .map(|f| FileDoc {
                file: &f.name,
                container: f.container.as_deref(),
                verdict: f.verdict.map(|v| v.as_str()),
                findings: f
                    .findings
                    .iter()
                    .map(|x| FindingDoc::new(x, FindingLayout::Lint))
                    .collect(),
                error: f.error.as_ref().map(|e| ErrorDoc {
                    message: &e.message,
                    offset: e.offset,
                }),
            })
            .collect(),
        summary: SummaryDoc {
            files: s.files,
            findings: CountsDoc {
                error: s.errors,
                warning: s.warnings,
                info: s.infos,
            },
            duration_ms: s.duration_ms,
            files_with_findings: s.files_with_findings,
            skipped: s.skipped,
            unreadable: s.unreadable,
            skipped_by_reason: &run.skipped_by_reason,
        },
    }
}

/// Escapes the message of a workflow command (`::error::MESSAGE`) as GitHub's toolkit does
/// (`escapeData` in `@actions/core`): `%`, CR and LF.
pub(crate) fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a property value of a workflow command (`file=…,title=…`) as GitHub's toolkit
/// does (`escapeProperty`): also `:` and `,`, which separate properties.
pub(crate) fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// GitHub Actions workflow commands: one `::error`/`::warning`/`::notice` per finding,
/// with `file` relative to the repository root (so the annotation lands on the file) and a
/// `title` naming the rule; then (unless `quiet`) the summary as a plain log line.
pub fn write_github(out: &mut dyn Write, run: &Run, quiet: bool) -> io::Result<()> {
    for file in &run.files {
        let path = run.relative_path(file).unwrap_or_else(|| file.name.clone());
        for f in &file.findings {
            let command = match f.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
                _ => "notice",
            };
            let mut message = String::new();
            if let Some(member) = &f.member {
                message.push_str(&format!("in {member}: "));
            }
            if let Some(offset) = f.offset {
                message.push_str(&format!("offset {offset}: "));
            }
            message.push_str(&f.message);
            if let Some(object) = &f.path {
                message.push_str(&format!(" ({object})"));
            }
            // Escape sequences and bidi controls would reach the log and the annotation.
            writeln!(
                out,
                "::{command} file={},title={}::{}",
                escape_property(&path),
                escape_property(&format!("pklinspect {}", f.rule.id())),
                escape_data(&shown(&message))
            )?;
        }
    }
    for w in &run.warnings {
        let text = if w.path.is_empty() {
            w.message.clone()
        } else {
            format!("{}: {}", w.path, w.message)
        };
        writeln!(
            out,
            "::warning title={}::{}",
            escape_property("pklinspect"),
            escape_data(&shown(&text))
        )?;
    }
    if !quiet {
        writeln!(out, "pklinspect: {}", run_summary_line(run))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_escaping_follows_the_toolkit() {
        assert_eq!(escape_data("50% a\r\nb: c, d"), "50%25 a%0D%0Ab: c, d");
        assert_eq!(
            escape_property("dir,x/a:b%.pkl\n"),
            "dir%2Cx/a%3Ab%25.pkl%0A"
        );
    }

    #[test]
    fn summary_lines() {
        let mut s = Summary {
            files: 1,
            duration_ms: 3,
            ..Summary::default()
        };
        assert_eq!(summary_line(&s), "1 file checked in 3 ms: no findings");
        s.files = 4;
        s.errors = 2;
        s.infos = 1;
        s.files_with_findings = 1;
        s.skipped = 7;
        assert_eq!(
            summary_line(&s),
            "4 files checked in 3 ms: 2 errors, 1 info in 1 file; 7 skipped"
        );
    }
}
