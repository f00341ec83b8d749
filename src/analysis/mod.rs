//! The analysis stage: from the parts the container module's `open` finds to an owned
//! [`Report`]. One file per concern, each working on one stream at a time:
//!
//! - `stream`: runs the machine on a stream and drives the others over its pickles
//!   (recognising the legacy torch layout, whose storages follow the pickles);
//! - `imports`: each distinct global with its category, and the findings they raise;
//! - `calls`: which globals the stream calls (not just references), and the
//!   `unvetted-call` findings for calls of anything not vetted;
//! - `arrays`: array payloads, where their bytes are and why one cannot be extracted;
//! - `hints`: what to save instead of a library or script object (for `explain`);
//! - `trailing`: bytes after the last pickle, and payloads hidden in them;
//! - `findings`: findings from graph nodes, and the pipeline that gives every detection
//!   the severity a rule set says (the only place severities are applied);
//! - [`object_paths`]: the object walk (which arrays and globals are where), and `path`:
//!   the steps of an object path and their rendering, shared with `extract --to json`.
//!
//! Only [`object_paths`] is public, as a lower-level stage (for tests that check object
//! paths against numpy); it may change between minor versions.

pub(crate) mod arrays;
pub(crate) mod calls;
pub(crate) mod findings;
pub(crate) mod hints;
pub(crate) mod imports;
pub mod object_paths;
pub(crate) mod path;
pub(crate) mod stream;
pub(crate) mod trailing;

use crate::classify::{Category, Verdict};
use crate::container::{ContainerKind, Opened};
use crate::inspect::Options;
use crate::report::{Detected, Report};

/// A report under construction: what the parts of one input added so far.
pub(crate) struct Analysis<'o> {
    pub(crate) input: &'o [u8],
    pub(crate) options: &'o Options,
    kind: ContainerKind,
    compression: Option<&'static str>,
    pub(crate) report: Report,
    pub(crate) detected: Vec<Detected>,
    /// The category of every import (and EXT reference): the verdict is the worst.
    pub(crate) categories: Vec<Category>,
    /// A joblib `NumpyArrayWrapper` was seen: the stream is a joblib dump.
    pub(crate) joblib: bool,
    /// The whole-file stream turned out to be a legacy torch file.
    pub(crate) torch_legacy: bool,
    /// Some call is an `unvetted-call`: the verdict is at least `unvetted`.
    pub(crate) unvetted: bool,
}

impl<'o> Analysis<'o> {
    pub(crate) fn new(file: &str, opened: &Opened<'o>, options: &'o Options) -> Analysis<'o> {
        Analysis {
            input: opened.input(),
            options,
            kind: opened.kind(),
            compression: opened.compression(),
            report: Report {
                file: file.to_string(),
                container: String::new(),
                compression: None,
                size: opened.input().len() as u64,
                verdict: Verdict::Portable,
                pickles: Vec::new(),
                arrays: Vec::new(),
                findings: Vec::new(),
                portable_hints: Vec::new(),
            },
            detected: opened.notes().to_vec(),
            categories: Vec::new(),
            joblib: false,
            torch_legacy: false,
            unvetted: false,
        }
    }

    /// The verdict, the container's name, and the findings with their severities.
    pub(crate) fn finish(mut self) -> Report {
        let stream_kind = self.kind == ContainerKind::Pickle || self.kind.is_compressed();
        self.report.container = if self.torch_legacy {
            "torch-legacy".to_string()
        } else if self.joblib && stream_kind {
            self.report.compression = self.compression.map(str::to_string);
            "joblib".to_string()
        } else {
            self.kind.as_str().to_string()
        };
        self.report.verdict = Verdict::of(self.categories.iter().copied());
        if self.unvetted {
            self.report.verdict = self.report.verdict.max(Verdict::Unvetted);
        }
        self.report.findings = findings::apply(
            std::mem::take(&mut self.detected),
            &self.report.pickles,
            &self.options.rules,
        );
        self.report
    }
}
