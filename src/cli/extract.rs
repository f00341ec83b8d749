//! `pklinspect extract FILE --to npy|npz|json` — being written (issue 4).

use clap::Args;

use super::{report, Status};

#[derive(Args, Debug)]
pub(crate) struct ExtractArgs {
    /// The file to extract from.
    #[arg(value_name = "FILE")]
    file: std::ffi::OsString,
}

pub(crate) fn run(_args: &ExtractArgs) -> Status {
    report("extract", "not implemented yet");
    Status::Failure
}
