//! `extract --to parquet|csv`: finds the pandas DataFrame or Series at a path of the
//! input's object tree ([`super::frame`] reads it), then writes it whole to a temporary file
//! beside the output, renamed into place only when complete: a refusal (a column that
//! cannot be represented) or an error leaves nothing behind.

use std::io::{self, Write as _};
use std::path::Path;

use super::frame::{frame_class, Frame, Reader};
use super::{
    io_error, output_temp, parent_of, refuse_existing, ExtractIndex, ExtractOptions, Extracted,
    TableFormat, INDEX_SCHEMA,
};
use crate::error::{Error, ErrorKind, Result};
use crate::inspect::{inspect_with, Options, StreamView, Visitor};

/// Finds and reads the frame in the first stream that has an object pickle.
struct FrameFinder<'p> {
    path: Option<&'p str>,
    /// The frame and the offset of the opcode that builds it (refusals point there).
    found: Option<Result<(Frame, u64)>>,
}

impl FrameFinder<'_> {
    fn read(&self, view: &StreamView<'_, '_>) -> Option<Result<(Frame, u64)>> {
        let pickle = view.stream.pickles.get(view.object_pickles.start)?;
        let at = pickle.start as u64;
        let refuse = |message: String| Error::new(ErrorKind::Unsupported, at, message);
        let reader = Reader::new(view);
        let node = match reader.resolve(pickle.root, self.path.unwrap_or("$")) {
            Ok(node) => node,
            Err(e) => return Some(Err(refuse(e))),
        };
        let offset = reader.graph().call(node).map_or(at, |c| c.offset as u64);
        if frame_class(reader.graph(), reader.lifted(), node).is_none() {
            let below = reader.frames_below(node, 10);
            let what = self.path.unwrap_or("the pickled object");
            let message = match below.as_slice() {
                [] => format!("{what} is not a pandas DataFrame or Series, and holds none"),
                paths => format!(
                    "{what} is not a pandas DataFrame or Series; choose one with --path: {}",
                    paths
                        .iter()
                        .map(|p| format!("'{p}'"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            return Some(Err(Error::new(ErrorKind::Unsupported, offset, message)));
        }
        let frame = reader.frame(node).map_err(|e| {
            Error::new(
                ErrorKind::Unsupported,
                offset,
                format!("cannot read the frame: {e}"),
            )
        });
        Some(frame.map(|frame| (frame, offset)))
    }
}

impl Visitor for FrameFinder<'_> {
    fn stream(&mut self, view: &StreamView<'_, '_>) -> Result<()> {
        if self.found.is_none() {
            self.found = self.read(view);
        }
        Ok(())
    }
}

/// Extracts the frame at `path` (the root when `None`) to `file` as `format`.
pub(crate) fn extract_table(
    source: &str,
    bytes: &[u8],
    options: &ExtractOptions,
    file: &Path,
    format: TableFormat,
    path: Option<&str>,
) -> Result<Extracted> {
    refuse_existing(file, options.force)?;
    let mut finder = FrameFinder { path, found: None };
    // The frame is read once, here: not again for the report's summaries and hints.
    let inspect = Options {
        limits: options.inspect.limits.clone(),
        known: options.inspect.known.clone(),
        portable_hints: false,
        rules: options.inspect.rules.clone(),
        trace: options.inspect.trace,
        loaders: false,
    };
    let report = inspect_with(source, bytes, &inspect, &mut finder)?;
    let (frame, at) = finder.found.unwrap_or_else(|| {
        Err(Error::new(
            ErrorKind::Unsupported,
            0,
            "the input holds no pickle to read a DataFrame from",
        ))
    })?;
    let refuse = |message: String| Error::new(ErrorKind::Unsupported, at, message);
    let parent = parent_of(file);
    let temp = output_temp(&parent)?;
    let mut out = io::BufWriter::with_capacity(1 << 20, temp);
    match format {
        TableFormat::Csv => super::csv::write_csv(&frame, &mut out).map_err(refuse)?,
        TableFormat::Parquet => super::parquet::write_parquet(&frame, &mut out).map_err(refuse)?,
    }
    out.flush()
        .map_err(|e| io_error("write into", &parent, e))?;
    let temp = out
        .into_inner()
        .map_err(|e| io_error("write into", &parent, e.into_error()))?;
    temp.persist(file)
        .map_err(|e| io_error("rename into", file, e.error))?;
    Ok(Extracted {
        report,
        index: ExtractIndex {
            schema: INDEX_SCHEMA,
            source: source.to_string(),
            arrays: Vec::new(),
            skipped: Vec::new(),
        },
        json: None,
    })
}
