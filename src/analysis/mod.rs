//! The analysis stage: from the parts the container module's `open` finds to an owned
//! [`Report`]. One file per concern, each working on one stream at a time:
//!
//! - `stream`: runs the machine on a stream and drives the others over its pickles
//!   (recognising the legacy torch layout, whose storages follow the pickles);
//! - `imports`: each distinct global with its category, and the findings they raise;
//! - `calls`: which globals the stream calls (not just references), and the
//!   `unvetted-call` findings for calls of anything not vetted;
//! - `arrays`: array payloads, where their bytes are and why one cannot be extracted;
//! - `facts`: writer facts (recorded library versions, numpy/pandas generations, removals,
//!   minimum Python) and the requirements they make;
//! - `hints`: what to save instead of a library or script object (for `explain`);
//! - `trailing`: bytes after the last pickle, and payloads hidden in them;
//! - `trace`: the execution trace (each call the loader makes, and where its result goes),
//!   dynamic imports, BUILD on modules and classes, and where a failing stream stops;
//! - `differential`: where CPython's loaders read a stream differently (frames, numeric
//!   lines), each a `parser-differential` finding, the other readings analysed too;
//! - `nested`: payloads a pickle hands to a loader of its own (`pickle.loads(b'…')`,
//!   `torch.storage._load_from_bytes`, …), opened and analysed recursively;
//! - `findings`: findings from graph nodes, and the pipeline that gives every detection
//!   the severity a rule set says (the only place severities are applied);
//! - [`object_paths`]: the object walk (which arrays and globals are where), and `path`:
//!   the steps of an object path and their rendering, shared with `extract --to json`.
//!
//! Only [`object_paths`] is public, as a lower-level stage (for tests that check object
//! paths against numpy); it may change between minor versions.

pub(crate) mod arrays;
pub(crate) mod calls;
pub(crate) mod differential;
pub(crate) mod facts;
pub(crate) mod findings;
pub(crate) mod hints;
pub(crate) mod imports;
pub(crate) mod nested;
pub mod object_paths;
pub(crate) mod path;
pub(crate) mod stream;
pub(crate) mod trace;
pub(crate) mod trailing;

use crate::classify::{Category, Verdict};
use crate::container::{ContainerKind, Opened};
use crate::inspect::Options;
use crate::report::{Detected, Report};
use crate::rules::{Rule, Severity};

pub(crate) use nested::MAX_NESTED_DEPTH;

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
    /// Keep what a stream that fails part-way read ([`crate::inspect::inspect_partial`]);
    /// otherwise the failure is the result (`extract`).
    pub(crate) keep_partial: bool,
    /// How many nested payloads deep this input is (0: the file itself).
    pub(crate) depth: u32,
    /// What each nested-loader call's payload holds (`nested`), for the judges of calls.
    pub(crate) nested: Vec<nested::NestedVerdict>,
    /// Bytes nested payloads may still cost ([`nested::nested_budget`]).
    pub(crate) nested_budget: u64,
    /// Some call is an `unvetted-call`: the verdict is at least `unvetted`.
    pub(crate) unvetted: bool,
    /// What the streams' graphs said about the writer so far (`facts`).
    pub(crate) writer: facts::WriterState,
    /// What torch's weights-only unpickler makes of each stream torch.load reads.
    pub(crate) torch_scans: Vec<crate::loaders::StreamScan>,
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
                frames: Vec::new(),
                writer: crate::report::WriterFacts::default(),
                loaders: Vec::new(),
                stopped: None,
            },
            detected: opened.notes().to_vec(),
            categories: Vec::new(),
            joblib: false,
            torch_legacy: false,
            keep_partial: false,
            depth: 0,
            nested: Vec::new(),
            nested_budget: nested::nested_budget(opened.input().len()),
            unvetted: false,
            writer: facts::WriterState::default(),
            torch_scans: Vec::new(),
        }
    }

    /// A compressed stream's decoder failed after the bytes analysed: the load stops there
    /// (at the latest), after running what those bytes hold. A `malformed` (or
    /// `limit-exceeded`) finding at the offset in the compressed input, and that is where
    /// the report says the loader stops.
    pub(crate) fn decode_failed(&mut self, error: &crate::Error) {
        let rule = if matches!(error.kind(), crate::ErrorKind::LimitExceeded(_)) {
            Rule::LimitExceeded
        } else {
            Rule::Malformed
        };
        let message = format!(
            "the loader stops here at the latest: {}; it reads the decoded bytes as they \
             come, so the opcodes decoded before this run, and their imports and findings \
             stand",
            error.message()
        );
        self.detected
            .push(Detected::new(rule, message).at(Some(error.offset())));
        self.report.stopped = Some(error.clone());
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
            // A compressed tar (`.tar.gz`, `.nemo`): `tar`, and the compressor around it.
            if self.kind == ContainerKind::Tar {
                self.report.compression = self.compression.map(str::to_string);
            }
            self.kind.as_str().to_string()
        };
        self.report.verdict = Verdict::of(self.categories.iter().copied());
        // SPEC §5: a stream CPython's loaders read differently is dangerous.
        if self.options.rules.severity(Rule::ParserDifferential) != Severity::Off
            && self
                .detected
                .iter()
                .any(|d| d.rule == Rule::ParserDifferential)
        {
            self.report.verdict = Verdict::Dangerous;
        }
        if self.unvetted {
            self.report.verdict = self.report.verdict.max(Verdict::Unvetted);
        }
        if self.options.loaders {
            self.report.writer = facts::writer_facts(
                &self.report,
                std::mem::take(&mut self.writer),
                self.input,
                self.kind,
            );
        }
        self.report.findings = findings::apply(
            std::mem::take(&mut self.detected),
            &self.report.pickles,
            &self.options.rules,
        );
        if self.options.loaders {
            self.report.loaders =
                crate::loaders::verdicts(&self.report, &self.torch_scans, &self.options.known);
        }
        self.report
    }
}
