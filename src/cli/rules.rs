//! `pklinspect rules [RULE]` — being written (issue 6).

use clap::Args;

use super::Status;

#[derive(Args, Debug)]
pub(crate) struct RulesArgs {
    /// A rule id to explain.
    rule: Option<String>,
}

pub(crate) fn run(_args: &RulesArgs) -> Status {
    Status::Failure
}
