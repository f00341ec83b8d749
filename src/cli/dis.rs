//! `pklinspect dis FILE`.

use std::io::{self, BufWriter, Write};

use clap::Args;
use pklinspect::dis::{dis_all, DisError, DisOptions};

use super::{is_broken_pipe, report, InputPath, Status};

#[derive(Args, Debug)]
pub(crate) struct DisArgs {
    /// The pickle file, or `-` for standard input.
    #[arg(value_name = "FILE", value_parser = clap::value_parser!(std::ffi::OsString))]
    file: std::ffi::OsString,

    /// Annotate each line with a short opcode description.
    #[arg(short, long)]
    annotate: bool,

    /// The number of blanks by which to indent a new MARK level.
    #[arg(short = 'l', long, value_name = "N", default_value_t = 4)]
    indentlevel: usize,

    /// Preserve the memo between the pickles of a file that holds several.
    #[arg(short, long)]
    memo: bool,

    /// The deepest MARK level a line is indented by (0: no cap, as pickletools).
    #[arg(long, value_name = "LEVELS", default_value_t = pklinspect::dis::DEFAULT_MAX_INDENT)]
    max_indent: usize,
}

pub(crate) fn run(args: &DisArgs) -> Status {
    let path = InputPath::from(args.file.clone());
    let name = path.display();
    let input = match path.open() {
        Ok(input) => input,
        Err(e) => {
            report(&name, format!("cannot read: {e}"));
            return Status::Failure;
        }
    };
    let options = DisOptions {
        indent_level: args.indentlevel,
        // pickletools' command line uses 30 as the column hint.
        annotate: if args.annotate { 30 } else { 0 },
        keep_memo: args.memo,
        max_indent: args.max_indent,
    };
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(64 * 1024, stdout.lock());
    let result = dis_all(input.bytes(), &options, &mut out);
    // Lines before a failure are printed before the error, as pickletools does.
    let flushed = out.flush();
    match result {
        Ok(summary) => {
            if let Err(e) = flushed {
                return write_failure(&name, &e);
            }
            for warning in &summary.warnings {
                let warning = super::limits::with_hint(warning);
                report(&name, format!("warning: {warning}"));
            }
            if let Some((offset, len)) = summary.trailing {
                report(
                    &name,
                    format!(
                        "warning: {len} bytes after the last pickle (at offset {offset}) \
                         do not start a pickle; not listed"
                    ),
                );
            }
            Status::Success
        }
        Err(DisError::Write(e)) => write_failure(&name, &e),
        Err(DisError::Pickle(e)) => {
            report(&name, e);
            Status::Failure
        }
    }
}

fn write_failure(name: &str, e: &io::Error) -> Status {
    if is_broken_pipe(e) {
        return Status::Success;
    }
    report(name, format!("cannot write output: {e}"));
    Status::Failure
}
