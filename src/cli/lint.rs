//! `pklinspect lint PATH...` — being written (issue 6).

use clap::Args;

use super::{report, Status};

#[derive(Args, Debug)]
pub(crate) struct LintArgs {
    /// Files and directories to check.
    #[arg(value_name = "PATH")]
    paths: Vec<std::ffi::OsString>,
}

pub(crate) fn run(_args: &LintArgs) -> Status {
    report("lint", "not implemented yet");
    Status::Failure
}
