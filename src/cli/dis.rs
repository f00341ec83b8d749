//! `pklinspect dis FILE [--member NAME]`.
//!
//! A plain pickle is listed as `python -m pickletools` lists it. Any other input is opened
//! as the other commands open it (`pklinspect::container::each_pickle_stream`): a
//! compressed file or joblib dump is listed decompressed, a torch zip's `data.pkl` by
//! default, the pickle after an object `.npy` header, an archive's first pickle member;
//! `--member` chooses another. Standard output is then exactly pickletools' listing of that
//! stream (offsets count from its start); which member was listed, and which others were
//! not, goes to standard error.

use std::io::{self, BufWriter, Write};

use clap::Args;
use pklinspect::container::{each_pickle_stream, sniff, ContainerKind, PickleStream};
use pklinspect::dis::{dis_all, DisError, DisOptions, DisSummary};

use super::{is_broken_pipe, report, InputPath, Status};

#[derive(Args, Debug)]
#[command(after_help = "\
Examples:
  pklinspect dis model.pkl                      as python -m pickletools model.pkl
  pklinspect dis model.pt                       a torch zip's data.pkl
  pklinspect dis --member archive/extra.pkl model.pt
  pklinspect dis model.joblib.gz                the decompressed joblib stream")]
pub(crate) struct DisArgs {
    /// The pickle file (or compressed file, joblib dump, torch checkpoint, .npy, archive),
    /// or `-` for standard input.
    #[arg(value_name = "FILE", value_parser = clap::value_parser!(std::ffi::OsString))]
    file: std::ffi::OsString,

    /// The archive member to list (its full name, or the part after the last `/`, e.g.
    /// `data.pkl`) [default: a torch zip's data.pkl, else the first pickle member].
    #[arg(long, value_name = "NAME")]
    member: Option<String>,

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

    #[command(flatten)]
    limits: super::limits::LimitArgs,
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
    let bytes = input.bytes();
    if sniff(bytes) == ContainerKind::Pickle {
        if let Some(member) = &args.member {
            report(
                &name,
                format!("--member {member}: the file is a plain pickle, not an archive"),
            );
            return Status::Failure;
        }
        return list(&name, bytes, &options);
    }
    list_container(&name, bytes, args, &options)
}

/// Lists one pickle stream on standard output; warnings and errors go to standard error.
fn list(name: &str, bytes: &[u8], options: &DisOptions) -> Status {
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(64 * 1024, stdout.lock());
    let result = dis_all(bytes, options, &mut out);
    // Lines before a failure are printed before the error, as pickletools does.
    let flushed = out.flush();
    let stop = match &result {
        Err(DisError::Pickle(e)) => Some(e.offset()),
        _ => None,
    };
    let status = finish(name, result, flushed);
    if let Some(note) = stop.and_then(|offset| joblib_array_at(bytes, offset)) {
        report(name, note);
    }
    status
}

/// Why a listing stopped where joblib's raw array data begins: joblib writes each array's
/// bytes into the stream right after its `NumpyArrayWrapper` (after an alignment byte and
/// padding), which its unpickler reads and pickletools cannot.
fn joblib_array_at(bytes: &[u8], offset: u64) -> Option<String> {
    let report = pklinspect::inspect::inspect_partial("", bytes, &Default::default()).ok()?;
    let array = report
        .pickles
        .iter()
        .flat_map(|p| p.arrays.iter())
        .find(|a| a.offset.is_some_and(|at| at >= offset && at - offset <= 16))?;
    Some(format!(
        "note: the raw data of joblib's array {} starts here (at offset {}); joblib reads \
         it, pickletools stops at it (`pklinspect explain` reads past it)",
        array.path,
        array.offset.unwrap_or(offset)
    ))
}

/// Opens the container, lists the chosen stream, and names on standard error the streams
/// that were not listed.
fn list_container(name: &str, bytes: &[u8], args: &DisArgs, options: &DisOptions) -> Status {
    let mut listed: Option<(String, Status)> = None;
    let mut others: Vec<String> = Vec::new();
    let wanted = |stream: &PickleStream<'_>| match (&args.member, stream.member) {
        (None, _) => true,
        (Some(want), Some(member)) => {
            member == want || member.rsplit(['/', ':']).next() == Some(want.as_str())
        }
        (Some(_), None) => false,
    };
    let seen = each_pickle_stream(bytes, &args.limits.limits(), |stream| {
        let label = stream.member.unwrap_or("<stream>").to_string();
        if listed.is_some() || !wanted(&stream) {
            others.push(label);
            return Ok(true);
        }
        let status = list(name, stream.bytes, options);
        listed = Some((label, status));
        // With --member the one asked for is enough; by default, go on to name the others.
        Ok(args.member.is_none() && status != Status::Failure)
    });
    let (label, status) = match (seen, listed) {
        (Err(e), listed) => {
            report(name, super::limits::with_hint(&e));
            if let Some((label, _)) = listed {
                report(name, format!("note: listed {label} before the error"));
            }
            return Status::Failure;
        }
        (Ok(seen), None) => {
            let why = match &args.member {
                Some(member) => format!("no pickle member named {member}"),
                None => format!("this {} holds no pickle", seen.kind.as_str()),
            };
            let known = if others.is_empty() {
                String::new()
            } else {
                format!(" (its pickles: {})", others.join(", "))
            };
            report(name, format!("{why}{known}"));
            return Status::Failure;
        }
        (Ok(_), Some(listed)) => listed,
    };
    if !others.is_empty() && status != Status::Failure {
        report(
            name,
            format!(
                "note: listed {label}; not listed: {} (choose one with --member NAME)",
                others.join(", ")
            ),
        );
    }
    status
}

fn finish(name: &str, result: Result<DisSummary, DisError>, flushed: io::Result<()>) -> Status {
    match result {
        Ok(summary) => {
            if let Err(e) = flushed {
                return write_failure(name, &e);
            }
            for warning in &summary.warnings {
                let warning = super::limits::with_hint(warning);
                report(name, format!("warning: {warning}"));
            }
            if let Some((offset, len)) = summary.trailing {
                report(
                    name,
                    format!(
                        "warning: {len} bytes after the last pickle (at offset {offset}) \
                         do not start a pickle; not listed"
                    ),
                );
            }
            Status::Success
        }
        Err(DisError::Write(e)) => write_failure(name, &e),
        Err(DisError::Pickle(e)) => {
            report(name, e);
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
