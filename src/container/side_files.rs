//! joblib <= 0.9 dumps keep arrays in **side files** next to the pickle: the pickle holds
//! an `NDArrayWrapper` whose state names the file (`model.pkl_01.npy`), and `joblib.load`
//! opens it with `np.load(os.path.join(dirname, filename), allow_pickle=True)`
//! (joblib's `numpy_pickle_compat.NDArrayWrapper.read`). That file is as much part of the
//! load as the pickle: an object-dtype `.npy` holds a pickle, and a file that is no `.npy`
//! at all is `pickle.load`ed by `np.load`. [`joblib_side_files`] lists the names a stream
//! gives; [`check_joblib_side_files`] analyses those present beside the dump and adds what
//! they hold to its report, each finding naming the side file as its member.
//!
//! `ZNDArrayWrapper` (the compressed format) names `.z` files of raw array bytes, which
//! joblib hands to `ndarray.__setstate__` and never unpickles: their names are checked,
//! their content is not analysed.

#![warn(clippy::arithmetic_side_effects)]

use std::path::{Component, Path};

use super::compressed::within_cap;
use super::{decompress, sniff, ContainerKind};
use crate::limits::Limits;
use crate::machine::{Node, NodeId};
use crate::report::{Detected, Report};
use crate::rules::Rule;

/// The modules joblib's wrappers were pickled under (joblib < 0.10 wrote
/// `joblib.numpy_pickle`; scikit-learn vendored joblib as `sklearn.externals.joblib`).
const WRAPPER_MODULES: &[&str] = &[
    "joblib.numpy_pickle",
    "joblib.numpy_pickle_compat",
    "sklearn.externals.joblib.numpy_pickle",
    "sklearn.externals.joblib.numpy_pickle_compat",
];

/// A file a joblib wrapper in the stream names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SideFile {
    /// The name as the wrapper's state gives it (joblib joins it to the dump's folder).
    pub name: String,
    /// Offset of the opcode that built the wrapper, in the decoded stream.
    pub offset: u64,
    /// A `ZNDArrayWrapper`: raw array bytes in joblib's `ZF` format, never unpickled.
    pub compressed: bool,
}

/// The side files the wrappers of a (possibly compressed) pickle stream name, in stream
/// order. Cheap for everything else: the stream is only run when its bytes spell
/// `NDArrayWrapper`. A stream that cannot be read names none (the analysis reports why).
pub fn joblib_side_files(bytes: &[u8], limits: &Limits) -> Vec<SideFile> {
    let kind = sniff(bytes);
    let decoded;
    let stream = match kind {
        ContainerKind::Pickle => bytes,
        k if k.is_compressed() => {
            match within_cap(limits, bytes.len(), |cap| decompress(k, bytes, cap)) {
                Ok(d) => {
                    decoded = d;
                    &decoded
                }
                Err(_) => return Vec::new(),
            }
        }
        _ => return Vec::new(),
    };
    if memchr::memmem::find(stream, b"NDArrayWrapper").is_none() {
        return Vec::new();
    }
    let Ok(run) = crate::lift::run_stream(stream, 0, limits) else {
        return Vec::new();
    };
    let graph = &run.graph;
    let mut found = Vec::new();
    for i in 0..graph.len() {
        let Ok(id) = u32::try_from(i).map(NodeId) else {
            break;
        };
        let Some(call) = graph.call(id) else {
            continue;
        };
        let Some(global) = graph.global(call.callable) else {
            continue;
        };
        let compressed = match &*global.name {
            "NDArrayWrapper" => false,
            "ZNDArrayWrapper" => true,
            _ => continue,
        };
        if !WRAPPER_MODULES.contains(&&*global.module) {
            continue;
        }
        let name = call
            .state
            .and_then(|state| graph.dict_get(state, "filename"))
            .and_then(|f| match graph.node(f) {
                Node::Str(s) => Some(s.to_string()),
                _ => None,
            });
        if let Some(name) = name {
            found.push(SideFile {
                name,
                offset: call.offset as u64,
                compressed,
            });
        }
    }
    found
}

/// Analyses the side files that the dump at `path` (whose bytes are `bytes`, analysed in
/// `report`) names, and adds their pickles and findings to `report`, named
/// `<side file>` or `<side file>:<member>`; the verdict becomes the worse of the two.
///
/// A name that is absolute or climbs out of the dump's folder is an `unsafe-member-name`
/// finding and is not opened; a side file that is absent is skipped (`joblib.load` fails
/// on it before reading anything); one that is not a regular file is never opened; one
/// that cannot be read or analysed is a `malformed` finding. Side files are not followed
/// further (a wrapper inside a side file names nothing that is opened).
pub fn check_joblib_side_files(
    report: &mut Report,
    path: &Path,
    bytes: &[u8],
    options: &crate::inspect::Options,
) {
    // The analysis has listed the imports: a stream without a wrapper costs nothing more.
    let has_wrapper = report.pickles.iter().flat_map(|p| &p.imports).any(|i| {
        matches!(i.name.as_str(), "NDArrayWrapper" | "ZNDArrayWrapper")
            && WRAPPER_MODULES.contains(&i.module.as_str())
    });
    if !has_wrapper {
        return;
    }
    let sides = joblib_side_files(bytes, &options.limits);
    if sides.is_empty() {
        return;
    }
    let dir = path.parent().unwrap_or(Path::new(""));
    let mut detected = Vec::new();
    for side in sides {
        let escapes = Path::new(&side.name)
            .components()
            .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir));
        if escapes {
            detected.push(
                Detected::new(
                    Rule::UnsafeMemberName,
                    format!(
                        "joblib side file {:?} is outside the dump's folder: joblib.load \
                         would np.load(allow_pickle=True) that file; not opened",
                        side.name
                    ),
                )
                .at(Some(side.offset)),
            );
            continue;
        }
        if side.compressed {
            continue;
        }
        let full = dir.join(&side.name);
        match std::fs::metadata(&full) {
            Err(_) => continue,
            Ok(meta) if !meta.is_file() => detected.push(
                Detected::new(
                    Rule::Malformed,
                    "joblib side file is not a regular file; refused without reading it",
                )
                .at(Some(0))
                .member(Some(&side.name)),
            ),
            Ok(_) => add_side_file(report, &full, &side.name, options, &mut detected),
        }
    }
    let extra = crate::analysis::findings::apply(detected, &[], &options.rules);
    report.findings.extend(extra);
    report
        .findings
        .sort_by(|a, b| (&a.member, a.offset).cmp(&(&b.member, b.offset)));
}

/// One side file, present and regular: its report merged into the dump's.
fn add_side_file(
    report: &mut Report,
    full: &Path,
    name: &str,
    options: &crate::inspect::Options,
    detected: &mut Vec<Detected>,
) {
    let bytes = match crate::input::Input::open(full) {
        Ok(input) => input,
        Err(e) => {
            detected.push(
                Detected::new(
                    Rule::Malformed,
                    format!("joblib side file cannot be read: {e}"),
                )
                .at(Some(0))
                .member(Some(name)),
            );
            return;
        }
    };
    let member = |inner: Option<String>| match inner {
        Some(m) => format!("{name}:{m}"),
        None => name.to_owned(),
    };
    match crate::inspect::inspect(name, bytes.bytes(), options) {
        Ok(side) => {
            report.verdict = report.verdict.max(side.verdict);
            for mut pickle in side.pickles {
                pickle.member = Some(member(pickle.member.take()));
                report.pickles.push(pickle);
            }
            for mut finding in side.findings {
                finding.member = Some(member(finding.member.take()));
                report.findings.push(finding);
            }
        }
        Err(e) => detected.push(
            Detected::new(
                Rule::Malformed,
                format!(
                    "joblib side file, which joblib.load reads with np.load(allow_pickle=True), \
                     cannot be analysed: {}",
                    e.message()
                ),
            )
            .at(Some(e.offset()))
            .member(Some(name)),
        ),
    }
}
