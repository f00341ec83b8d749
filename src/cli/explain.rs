//! `pklinspect explain FILE... [--format text|json] [--emit torch-safe-globals]`.
//!
//! `--emit torch-safe-globals` prints only the Python snippet that makes
//! `torch.load(weights_only=True)` load each file (`docs/loaders.md`); when nothing safe
//! does (it would allow code-exec or unvetted globals, or torch stops on something no
//! allowlist fixes), it says why on standard error and exits 2.

use std::io::{self, Write};

use clap::{Args, ValueEnum};
use pklinspect::container;
use pklinspect::inspect::Options;
use pklinspect::render;
use pklinspect::render::preview::{inspect_with_preview, PreviewOptions};

use super::{is_broken_pipe, report, ColorChoice, InputPath, Status};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    Text,
    Json,
}

/// What `--emit` prints instead of the explanation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Emit {
    /// The `torch.serialization.add_safe_globals([...])` snippet that makes
    /// `torch.load(weights_only=True)` load the file.
    TorchSafeGlobals,
}

#[derive(Args, Debug)]
#[command(after_help = "\
Examples:
  pklinspect explain model.pkl                  verdict, contents, imports, arrays, findings
  pklinspect explain --depth 4 data.pkl         open the contents four levels deep
  pklinspect explain --format json *.pkl        one JSON document per file (an array)
  pklinspect explain ckpt.pt --emit torch-safe-globals
                                                the snippet that makes torch.load(weights_only=True) load it
  cat model.pkl | pklinspect explain -          from standard input")]
pub(crate) struct ExplainArgs {
    /// Files to explain (`-` for standard input).
    #[arg(value_name = "FILE", required = true, value_parser = clap::value_parser!(std::ffi::OsString))]
    files: Vec<std::ffi::OsString>,

    /// Output format: text for people, json (schema pklinspect.explain/1) for programs.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,

    /// Print only this instead of the explanation: `torch-safe-globals`, the Python snippet
    /// that makes torch.load(weights_only=True) load the file (exit 2 when nothing safe does).
    #[arg(long, value_enum, value_name = "WHAT")]
    emit: Option<Emit>,

    /// Unknown references are errors too, not warnings (as `lint --strict`).
    #[arg(long)]
    strict: bool,

    /// Levels of the object tree the Contents preview opens (0: the root's line only).
    #[arg(long, value_name = "N", default_value_t = PreviewOptions::default().depth)]
    depth: usize,

    /// Most lines of the Contents preview.
    #[arg(long, value_name = "N", default_value_t = PreviewOptions::default().max_lines)]
    preview_lines: usize,

    #[command(flatten)]
    limits: super::limits::LimitArgs,
}

pub(crate) fn run(args: &ExplainArgs, color: ColorChoice) -> Status {
    let mut options = Options {
        limits: args.limits.limits(),
        ..Options::default()
    };
    if args.strict {
        options.rules.set_severity(
            pklinspect::rules::Rule::UnknownImport,
            pklinspect::rules::Severity::Error,
        );
    }
    let mut status = Status::Success;
    let mut documents = Vec::new();
    let stdout = anstream::AutoStream::new(io::stdout(), color.into());
    let mut out = io::BufWriter::new(stdout.lock());
    for (i, file) in args.files.iter().enumerate() {
        let path = InputPath::from(file.clone());
        let name = path.display();
        let input = match path.open() {
            Ok(input) => input,
            Err(e) => {
                report(&name, format!("cannot read: {e}"));
                status = Status::Failure;
                continue;
            }
        };
        // What a stream that fails part-way read is reported (the loader ran it), and the
        // failure too: on standard error, in the JSON document, and in the exit code.
        // (Bytes that are not a pickle and read as nothing are an error from it.)
        let preview_options = PreviewOptions {
            depth: args.depth,
            max_lines: args.preview_lines,
            ..PreviewOptions::default()
        };
        let result = inspect_with_preview(&name, input.bytes(), &options, preview_options);
        let (result, preview) = match result {
            Ok((rep, preview)) => (Ok(rep), preview),
            Err(e) => (Err(e), Default::default()),
        };
        // Text: a stream that stopped before anything it read imports, calls or raises a
        // finding is its one-line error, as before (JSON carries the verdict and findings).
        let result = result.and_then(|rep| match &rep.stopped {
            Some(e) if args.format == Format::Text && rep.only_the_stop() => Err(e.clone()),
            _ => Ok(rep),
        });
        // An old joblib dump's side files (`np.load`ed on load) are analysed with it.
        let result = result.map(|mut rep| {
            if !path.is_stdin() {
                let dump = std::path::Path::new(file);
                container::check_joblib_side_files(&mut rep, dump, input.bytes(), &options);
            }
            rep
        });
        if let Ok(rep) = &result {
            if let Some(e) = &rep.stopped {
                report(&name, super::limits::with_hint(e));
                status = Status::Failure;
            }
        }
        if let (Some(Emit::TorchSafeGlobals), Ok(rep)) = (args.emit, &result) {
            match pklinspect::loaders::torch_safe_globals_snippet(rep) {
                Ok(snippet) => {
                    if let Err(e) = out.write_all(snippet.as_bytes()) {
                        return write_failure(&name, &e);
                    }
                }
                Err(why) => {
                    report(&name, why);
                    status = Status::Failure;
                }
            }
            continue;
        }
        match result {
            Ok(rep) => match args.format {
                Format::Json => {
                    let mut doc = render::json::explain_value(&rep);
                    if let (Some(fields), None) = (doc.as_object_mut(), &rep.stopped) {
                        let preview = serde_json::to_value(&preview).unwrap_or_default();
                        fields.insert("preview".to_string(), preview);
                    }
                    documents.push(doc);
                }
                Format::Text => {
                    let written = (if i > 0 { writeln!(out) } else { Ok(()) }).and_then(|()| {
                        // A stream that stops part-way returns nothing to preview.
                        let preview = rep.stopped.is_none().then_some(&preview);
                        render::text::write_explain(&mut out, &rep, preview)
                    });
                    if let Err(e) = written {
                        return write_failure(&name, &e);
                    }
                }
            },
            Err(e) => {
                // "not a pickle but a Git LFS pointer" rather than "unknown opcode byte 0x76".
                let e = pklinspect::container::not_a_pickle(input.bytes(), &e)
                    .unwrap_or_else(|| super::limits::with_hint(&e));
                report(&name, &e);
                if args.format == Format::Json {
                    documents.push(render::json::error_value(&name, &e));
                }
                status = Status::Failure;
            }
        }
    }
    if args.format == Format::Json && args.emit.is_none() {
        let value = if args.files.len() == 1 {
            documents.pop().unwrap_or(serde_json::Value::Null)
        } else {
            serde_json::Value::Array(documents)
        };
        let written = serde_json::to_writer_pretty(&mut out, &value)
            .map_err(io::Error::from)
            .and_then(|()| writeln!(out));
        if let Err(e) = written {
            return write_failure("<stdout>", &e);
        }
    }
    if let Err(e) = out.flush() {
        return write_failure("<stdout>", &e);
    }
    status
}

fn write_failure(name: &str, e: &io::Error) -> Status {
    if is_broken_pipe(e) {
        return Status::Success;
    }
    report(name, format!("cannot write output: {e}"));
    Status::Failure
}
