//! `pklinspect rules [RULE]`: the rules behind findings, from the one table in
//! `src/rules.rs`. Without an argument, one line per rule; with a rule id, its explanation.

use std::io::{self, Write};

use clap::Args;
use pklinspect::rules::{Rule, RULES};

use super::{is_broken_pipe, report, Status};

#[derive(Args, Debug)]
pub(crate) struct RulesArgs {
    /// A rule id to explain (e.g. code-exec).
    #[arg(value_name = "RULE")]
    rule: Option<String>,
}

pub(crate) fn run(args: &RulesArgs) -> Status {
    let text = match &args.rule {
        None => list(),
        Some(id) => match Rule::from_id(id) {
            Some(rule) => explain(rule),
            None => {
                let ids: Vec<&str> = RULES.iter().map(|r| r.id()).collect();
                report(
                    "rules",
                    format!("unknown rule `{id}`: expected one of {}", ids.join(", ")),
                );
                return Status::Failure;
            }
        },
    };
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Status::Success,
        Err(e) if is_broken_pipe(&e) => Status::Success,
        Err(e) => {
            report("<stdout>", format!("cannot write output: {e}"));
            Status::Failure
        }
    }
}

/// `id  severity  summary`, one rule a line, in the table's order.
fn list() -> String {
    let width = RULES.iter().map(|r| r.id().len()).max().unwrap_or(0);
    let mut out = String::new();
    for rule in RULES {
        out.push_str(&format!(
            "{:width$}  {:7}  {}\n",
            rule.id(),
            rule.default_severity().as_str(),
            rule.summary()
        ));
    }
    out.push_str(
        "\nSeverities are the defaults; a policy file changes them ([rules] in pklinspect.toml).\n\
         `pklinspect rules RULE` explains one.\n",
    );
    out
}

/// One rule: id, default severity, summary and explanation wrapped at 88 columns.
fn explain(rule: Rule) -> String {
    let mut out = format!(
        "{} (default severity: {})\n\n{}\n\n",
        rule.id(),
        rule.default_severity(),
        rule.summary()
    );
    out.push_str(&wrap(rule.explanation(), 88));
    out.push_str(&format!(
        "\n\nChange its severity in pklinspect.toml:\n\n    [rules]\n    {} = \"warning\"   # off, info, warning or error\n",
        rule.id()
    ));
    out
}

fn wrap(text: &str, width: usize) -> String {
    let mut out = String::new();
    let mut line_len = 0;
    for word in text.split_whitespace() {
        if line_len > 0 && line_len + 1 + word.chars().count() > width {
            out.push('\n');
            line_len = 0;
        } else if line_len > 0 {
            out.push(' ');
            line_len += 1;
        }
        out.push_str(word);
        line_len += word.chars().count();
    }
    out
}
