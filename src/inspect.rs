//! One input, end to end: the container opened → each part through the analysis stage
//! ([`crate::analysis`]) → the findings pipeline → an owned [`Report`].
//!
//! [`inspect`] is what `pklinspect explain` (and each file of a lint run) calls; it is
//! re-exported at the crate root.

#![warn(clippy::arithmetic_side_effects)]

use crate::analysis::Analysis;
use crate::classify::KnownGlobals;
use crate::container::{self, Part, StorageMap};
use crate::error::Result;
use crate::lift::Lifted;
use crate::limits::Limits;
use crate::machine::Stream;
use crate::report::{ArrayReport, PickleReport, Report};
use crate::rules::RuleSet;

pub(crate) use crate::analysis::arrays::shape_text;
use crate::container::StorageBytes;

/// How to inspect. Build it from [`Options::default`] (`Options { limits, ..Options::default() }`):
/// new fields may come, with defaults.
pub struct Options {
    /// The resource limits the input is read under.
    pub limits: Limits,
    /// The table that classifies each imported global (the built-in one, plus any
    /// allow-list [`KnownGlobals::add`] gave it).
    pub known: KnownGlobals,
    /// Work out how to rebuild objects from plain data ([`Report::portable_hints`]) and
    /// summarise pandas frames as tables ([`Report::frames`], which reads their data), which
    /// `explain` shows and `lint` does not.
    pub portable_hints: bool,
    /// The severities and deny entries the findings pipeline applies (the built-in policy
    /// by default; `lint` gives each file its policy's).
    pub rules: RuleSet,
    /// Record each pickle's execution trace ([`crate::report::PickleReport::calls`]), which
    /// `explain --format json` shows and `lint` does not. Findings do not depend on it.
    pub trace: bool,
    /// Work out each loader's verdict and what the bytes say about the writer
    /// ([`Report::loaders`], [`Report::writer`]), which `explain` shows and `lint` does not.
    /// Findings do not depend on them.
    pub loaders: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            limits: Limits::default(),
            known: KnownGlobals::builtin(),
            portable_hints: true,
            rules: RuleSet::default(),
            trace: true,
            loaders: true,
        }
    }
}

/// What a [`Visitor`] sees of one pickle stream while its bytes are alive.
pub(crate) struct StreamView<'a, 'd> {
    /// The whole input (torch zip storages are read from it).
    pub input: &'a [u8],
    /// The decoded stream.
    pub bytes: &'d [u8],
    pub member: Option<&'a str>,
    /// `$`, or `$["member"]` inside an npz.
    pub root_path: &'a str,
    pub stream: &'a Stream<'d>,
    /// The reports of this stream's pickles, in order; their arrays carry the construction.
    pub pickles: &'a [PickleReport],
    /// Which of them hold the object a loader returns (torch-legacy: only the fourth).
    pub object_pickles: std::ops::Range<usize>,
    pub storages: Option<&'a StorageMap>,
    /// The stream's lift pass: its arrays and plain values by node id.
    pub lifted: &'a Lifted,
    /// Why the tensors of a legacy tar checkpoint cannot be rebuilt (`extract` refuses).
    pub tar_error: Option<&'a crate::Error>,
}

impl StreamView<'_, '_> {
    /// The bytes of a torch storage.
    pub(crate) fn storage(&self, key: &str) -> std::result::Result<&[u8], String> {
        let storage = self
            .storages
            .and_then(|s| s.get(key))
            .ok_or_else(|| format!("storage {key:?} is not in the file"))?;
        let (whole, offset) = match &storage.bytes {
            StorageBytes::Stream(o) => (self.bytes, *o),
            StorageBytes::Input(o) => (self.input, *o),
            StorageBytes::Missing(reason) => return Err(reason.clone()),
        };
        usize::try_from(offset)
            .ok()
            .zip(usize::try_from(storage.len).ok())
            .and_then(|(o, l)| whole.get(o..o.checked_add(l)?))
            .ok_or_else(|| format!("storage {key:?} lies outside the file"))
    }
}

/// Sees the streams and plain arrays of an input while they are alive (used by `extract`).
pub(crate) trait Visitor {
    /// One pickle stream, after its reports were built.
    fn stream(&mut self, _view: &StreamView<'_, '_>) -> Result<()> {
        Ok(())
    }

    /// An array outside any pickle (a plain `.npy`, an npz member), with the bytes of the
    /// `.npy` holding it (its `offset` is into them).
    fn plain_array(&mut self, _array: &ArrayReport, _npy: &[u8]) -> Result<()> {
        Ok(())
    }
}

/// A visitor that looks at nothing.
pub(crate) struct NoVisitor;

impl Visitor for NoVisitor {}

/// Inspects the bytes of one input: `file` is the name the report and its messages use.
///
/// Nothing in the input is imported, called or evaluated. Errors are malformed or truncated
/// input, or a limit ([`ErrorKind::LimitExceeded`](crate::ErrorKind::LimitExceeded)); they
/// carry the byte offset (in the decoded stream or member the message names).
pub fn inspect(file: &str, bytes: &[u8], options: &Options) -> Result<Report> {
    inspect_with(file, bytes, options, &mut NoVisitor)
}

/// [`inspect`], keeping what a stream that fails part-way read: the loader ran it (and the
/// calls in it) before it raised. The report then has [`Report::stopped`] set, and a
/// `malformed` (or `limit-exceeded`) finding where the loader stops, beside the imports and
/// findings of what came before; the verdict is the worst of those (that of plain data
/// when nothing before the failure imports or calls). Errors only for input that cannot be
/// read at all: a container that cannot be opened, a stream that fails on its first
/// opcode, or bytes that are not a pickle but something mistaken for one
/// ([`crate::container::not_a_pickle`]: an HTML page, an image, a Git LFS pointer) and
/// import or call nothing before the failure. The error is then the one the stream
/// stopped with.
pub fn inspect_partial(file: &str, bytes: &[u8], options: &Options) -> Result<Report> {
    inspect_partial_with(file, bytes, options, &mut NoVisitor)
}

/// [`inspect_partial`], showing each stream and plain array to `visitor` while it is alive
/// (`explain`'s preview of the object tree).
pub(crate) fn inspect_partial_with(
    file: &str,
    bytes: &[u8],
    options: &Options,
    visitor: &mut dyn Visitor,
) -> Result<Report> {
    let report = inspect_impl(file, bytes, options, visitor, true)?;
    let Some(e) = &report.stopped else {
        return Ok(report);
    };
    // What was read imports, calls or raises a finding: it stands, whatever the bytes
    // look like (a protocol 0 payload is text, and a STACK_GLOBAL byte can sit inside a
    // UTF-8 character).
    if !report.ran_nothing() {
        return Ok(report);
    }
    let read_something = report.pickles.iter().any(|p| p.opcode_count > 0);
    if !read_something || container::not_a_pickle(bytes, e).is_some() {
        return Err(e.clone());
    }
    Ok(report)
}

/// [`inspect`], showing each stream and plain array to `visitor` while it is alive.
pub(crate) fn inspect_with(
    file: &str,
    bytes: &[u8],
    options: &Options,
    visitor: &mut dyn Visitor,
) -> Result<Report> {
    inspect_impl(file, bytes, options, visitor, false)
}

fn inspect_impl(
    file: &str,
    bytes: &[u8],
    options: &Options,
    visitor: &mut dyn Visitor,
    keep_partial: bool,
) -> Result<Report> {
    let opened = container::open(bytes, &options.limits)?;
    // A compressed stream that fails part-way: the loader reads what was decoded before
    // the failure (and runs it), so that is analysed, and the failure is where it stops.
    if let (Some(e), false) = (opened.decode_error(), keep_partial) {
        return Err(e.clone());
    }
    let mut analysis = Analysis::new(file, &opened, options);
    analysis.keep_partial = keep_partial;
    for part in opened.parts() {
        match part? {
            Part::Stream(stream) => analysis.stream(stream, visitor)?,
            Part::Npy(npy) => analysis.npy(npy, visitor)?,
            Part::Other => {}
        }
    }
    if let Some(e) = opened.decode_error() {
        analysis.decode_failed(e);
    }
    Ok(analysis.finish())
}
