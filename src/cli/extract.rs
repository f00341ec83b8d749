//! `pklinspect extract FILE --to npy|npz|json|safetensors|parquet|csv|python [-o OUT] [--path PATH] [--force]`.

use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use pklinspect::extract::{
    extract, extract_mapped, Bfloat16As, ExtractOptions, Refusal, TableFormat, Target,
    DEFAULT_MAX_BYTES,
};
use pklinspect::inspect::Options;

use super::{is_broken_pipe, report, InputPath, Status};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// One .npy per array plus index.json, in the folder -o names.
    Npy,
    /// One .npz (a zip of the same .npy files and index.json).
    Npz,
    /// The whole object tree as JSON (standard output unless -o).
    Json,
    /// A pickled pandas DataFrame or Series as Parquet (-o FILE).
    Parquet,
    /// A pickled pandas DataFrame or Series as CSV, as DataFrame.to_csv() writes it (-o FILE).
    Csv,
    /// The tensors as one .safetensors file, named by their state_dict keys.
    Safetensors,
    /// Arrays as .npy, plain values as params.json and a rebuild.py whose load()
    /// re-creates the objects (-o DIR); refused if anything would run code.
    Python,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum ArraysIn {
    /// Arrays inline in the JSON, as nested lists.
    Inline,
    /// Arrays as .npy files beside the JSON file, referenced by name.
    Npy,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Bfloat16 {
    /// Widen to float32 (exact).
    F4,
    /// Keep the raw 16-bit patterns as uint16.
    U2,
}

#[derive(Args, Debug)]
#[command(after_help = "\
Examples:
  pklinspect extract model.pt --to npz -o model.npz      arrays for numpy.load, no pickle
  pklinspect extract model.pkl --to npy -o arrays/       one .npy per array, and index.json
  pklinspect extract data.pkl --to json -o data.json --arrays npy
                                                         data.json, data.<name>.npy beside it
  pklinspect extract gen.pkl --to python -o gen/         gen/rebuild.py: load() re-creates it

Existing outputs are never replaced without --force.")]
pub(crate) struct ExtractArgs {
    /// The file to extract from (`-` for standard input).
    #[arg(value_name = "FILE", value_parser = clap::value_parser!(std::ffi::OsString))]
    file: std::ffi::OsString,

    /// What to write.
    #[arg(long, value_enum)]
    to: Format,

    /// Output: a folder for npy, a file for npz, safetensors and json (json: standard
    /// output if omitted). npz writes its index beside the file, as OUT.index.json.
    #[arg(short, long, value_name = "OUT")]
    output: Option<PathBuf>,

    /// Write into a non-empty folder, or replace an existing file.
    #[arg(long)]
    force: bool,

    /// npz: compress members (deflate), like numpy.savez_compressed.
    #[arg(long)]
    compress: bool,

    /// json: where arrays go.
    #[arg(long, value_enum, default_value_t = ArraysIn::Inline)]
    arrays: ArraysIn,

    /// How to write torch bfloat16 tensors, which numpy cannot name.
    #[arg(long, value_enum, default_value_t = Bfloat16::F4)]
    bfloat16: Bfloat16,

    /// Refuse to write more than this many bytes of array data (or, with --to json, a
    /// larger document).
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_BYTES)]
    max_bytes: u64,

    /// parquet, csv: the object path of the DataFrame or Series (`$["train"]`); the pickled
    /// object itself by default.
    #[arg(long, value_name = "PATH")]
    path: Option<String>,

    /// No progress bar and no summary line.
    #[arg(short, long)]
    quiet: bool,

    #[command(flatten)]
    limits: super::limits::LimitArgs,
}

pub(crate) fn run(args: &ExtractArgs) -> Status {
    let path = InputPath::from(args.file.clone());
    let name = path.display();
    let target = match (args.to, &args.output) {
        (Format::Npy, Some(dir)) => Target::Npy { dir: dir.clone() },
        (Format::Npz, Some(file)) => Target::Npz {
            file: file.clone(),
            compress: args.compress,
        },
        (Format::Safetensors, Some(file)) => Target::Safetensors { file: file.clone() },
        (Format::Python, Some(dir)) => Target::Python { dir: dir.clone() },
        (Format::Json, file) => {
            if args.arrays == ArraysIn::Npy && file.is_none() {
                report(
                    &name,
                    "--arrays npy needs -o FILE: the arrays are written beside it",
                );
                return Status::Failure;
            }
            Target::Json {
                file: file.clone(),
                arrays_as_files: args.arrays == ArraysIn::Npy,
            }
        }
        (Format::Parquet | Format::Csv, Some(file)) => Target::Table {
            file: file.clone(),
            format: if args.to == Format::Csv {
                TableFormat::Csv
            } else {
                TableFormat::Parquet
            },
            path: args.path.clone(),
        },
        (_, None) => {
            report(
                &name,
                "--to npy, npz, safetensors, parquet, csv and python need -o OUT",
            );
            return Status::Failure;
        }
    };
    let (input, file) = match open_input(&path) {
        Ok(opened) => opened,
        Err(e) => {
            report(&name, format!("cannot read: {e}"));
            return Status::Failure;
        }
    };
    let (bar, progress, progress_total) = progress_bar(args.quiet);
    let started = std::time::Instant::now();
    let options = ExtractOptions {
        inspect: Options {
            limits: args.limits.limits(),
            ..Options::default()
        },
        target,
        force: args.force,
        bfloat16: match args.bfloat16 {
            Bfloat16::F4 => Bfloat16As::F4,
            Bfloat16::U2 => Bfloat16As::U2,
        },
        max_bytes: args.max_bytes,
        progress,
        progress_total,
        source_file: file.as_ref().and_then(|f| f.try_clone().ok()),
    };
    let result = match &file {
        Some(file) => extract_mapped(&name, input.bytes(), file, &options),
        None => extract(&name, input.bytes(), &options),
    };
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    match result {
        Ok(extracted) => {
            report_skipped(&name, &extracted.index.skipped);
            if !args.quiet {
                summary(&extracted.index, args.to, args.output.as_deref(), started);
            }
            if let Some(json) = extracted.json {
                let mut out = io::stdout().lock();
                if let Err(e) = out.write_all(&json).and_then(|()| out.flush()) {
                    if !is_broken_pipe(&e) {
                        report(&name, format!("cannot write output: {e}"));
                        return Status::Failure;
                    }
                }
            }
            Status::Success
        }
        Err(e) => {
            report_failure(&name, args.output.as_deref(), input.bytes(), &e);
            Status::Failure
        }
    }
}

/// An input problem names the input and its byte offset; an output problem (an existing
/// output, a folder that cannot be written) names the output first and has no offset.
fn report_failure(name: &str, output: Option<&Path>, bytes: &[u8], e: &pklinspect::Error) {
    if let (Some(refusal), Some(path)) = (Refusal::of(e), Refusal::path_of(e)) {
        let what = match refusal {
            Refusal::FolderNotEmpty => "is not empty",
            _ => "exists",
        };
        let hint = force_hint(refusal);
        report(&path.display().to_string(), format!("{what} ({hint})"));
    } else if !e.has_offset() {
        let out = output.map_or("<stdout>".to_string(), |o| o.display().to_string());
        report(&out, e.message());
    } else {
        let shown = pklinspect::container::not_a_pickle(bytes, e)
            .unwrap_or_else(|| super::limits::with_hint(e));
        report(name, shown);
    }
}

/// How `--force` overrides a refusal to overwrite an output.
fn force_hint(refusal: Refusal) -> &'static str {
    match refusal {
        Refusal::FolderNotEmpty => "use --force to write into it",
        _ => "use --force to replace it",
    }
}

/// The input, and for a mapped file its handle (payloads are copied from it by the kernel).
fn open_input(path: &InputPath) -> io::Result<(pklinspect::input::Input, Option<std::fs::File>)> {
    if path.is_stdin() {
        return Ok((path.open()?, None));
    }
    let file = std::fs::File::open(&path.0)?;
    let input = pklinspect::input::Input::from_file(&file)?;
    let mapped = matches!(input, pklinspect::input::Input::Mapped(_));
    Ok((input, mapped.then_some(file)))
}

/// A progress callback and its total callback.
type Callback = Option<Box<dyn Fn(u64)>>;

/// The progress bar: on standard error, only on a terminal and without `--quiet`. Its
/// total is the sum of the payloads to write, known before the first byte is written, so
/// the bar and its ETA mean something.
fn progress_bar(quiet: bool) -> (Option<indicatif::ProgressBar>, Callback, Callback) {
    let Some(bar) = (!quiet && io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{wide_bar} {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    }) else {
        return (None, None, None);
    };
    let done = bar.clone();
    let total = bar.clone();
    (
        Some(bar),
        Some(Box::new(move |n: u64| done.set_position(n))),
        Some(Box::new(move |n: u64| total.set_length(n))),
    )
}

/// One line on standard error after a successful extraction:
/// `wrote 259 tensors, 1.00 GiB to model.safetensors in 1.2 s` (for a table:
/// `wrote 1 table, 2.1 KiB to frame.parquet in 0.1 s`, the file's size).
fn summary(
    index: &pklinspect::extract::ExtractIndex,
    to: Format,
    output: Option<&std::path::Path>,
    started: std::time::Instant,
) {
    let Some(output) = output else { return };
    if matches!(to, Format::Parquet | Format::Csv) {
        // A table holds no arrays: its size is the file's.
        let size = std::fs::metadata(output).map_or(0, |m| m.len());
        eprintln!(
            "wrote 1 table, {} to {} in {:.1} s",
            indicatif::HumanBytes(size),
            output.display(),
            started.elapsed().as_secs_f64()
        );
        return;
    }
    let bytes: u64 = index
        .arrays
        .iter()
        .map(|a| {
            a.shape
                .iter()
                .try_fold(a.dtype.itemsize(), |n, &d| n.checked_mul(d))
                .unwrap_or(0)
        })
        .fold(0u64, u64::saturating_add);
    let what = match (to, index.arrays.len()) {
        (Format::Safetensors, 1) => "tensor",
        (Format::Safetensors, _) => "tensors",
        (_, 1) => "array",
        _ => "arrays",
    };
    eprintln!(
        "wrote {} {what}, {} to {} in {:.1} s",
        index.arrays.len(),
        indicatif::HumanBytes(bytes),
        output.display(),
        started.elapsed().as_secs_f64()
    );
}

/// One line per skipped array, but at most [`SKIPPED_SHOWN`] per reason: a checkpoint's
/// optimizer state can hold thousands of tensors left out for the same reason.
fn report_skipped(name: &str, skipped: &[pklinspect::extract::SkippedArray]) {
    const SKIPPED_SHOWN: usize = 3;
    let mut shown: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for array in skipped {
        let count = shown.entry(array.reason.as_str()).or_default();
        *count += 1;
        if *count <= SKIPPED_SHOWN {
            report(name, format!("skipped {}: {}", array.path, array.reason));
        }
    }
    let mut more: Vec<(&str, usize)> = shown
        .into_iter()
        .filter(|&(_, n)| n > SKIPPED_SHOWN)
        .collect();
    more.sort();
    for (reason, count) in more {
        report(
            name,
            format!("skipped {} more: {reason}", count - SKIPPED_SHOWN),
        );
    }
}
