//! `extract --to python -o DIR`: the object tree as plain files and a `rebuild.py` whose
//! `load()` re-creates it (`crate::rebuild` writes the code; `docs/rebuild.md` in the
//! repository describes the files and the encoding).
//!
//! Order of work, so that a refusal leaves nothing behind: the output folder is checked
//! (non-empty needs `force`), then the input is inspected and refused if the analysis
//! flags anything that runs code (`rebuild.py` never calls what the analysis flags);
//! only then are the arrays (the JSON extractor with `.npy` files), the frames (the
//! Parquet writer) and the two generated files written, into a temporary folder beside
//! `DIR`, and moved into `DIR` when all are complete.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::{io_error, json, parent_of, table, Bfloat16As, ExtractOptions, Extracted, TableFormat};
use crate::classify as compat;
use crate::error::{Error, ErrorKind, Result};
use crate::inspect::{inspect, Options};
use crate::lift::{ArrayKind, DType};
use crate::rebuild::{self, ArrayFact, Facts};
use crate::report::Report;
use crate::rules::Rule;

/// The JSON extractor's document in the staging folder; its arrays are named after its
/// stem (`tree.<name>.npy`), which is taken off when they move into the output folder.
const TREE: &str = "tree.json";
const PREFIX: &str = "tree.";

/// Findings that make the file refused: what runs code, or may, or what a loader reads
/// differently from us. (`user-defined` and library imports are not refused: the classes
/// are imported by name, as the pickle would.)
const REFUSED: &[Rule] = &[
    Rule::CodeExec,
    Rule::UnvettedCall,
    Rule::ParserDifferential,
    Rule::ExtensionRef,
    Rule::RuntimeHandle,
    Rule::DeniedImport,
    Rule::UnreachablePayload,
    Rule::Malformed,
    Rule::LimitExceeded,
];

fn options_like(options: &Options) -> Options {
    Options {
        limits: options.limits.clone(),
        known: options.known.clone(),
        portable_hints: false,
        rules: options.rules.clone(),
        trace: options.trace,
        loaders: false,
    }
}

/// A refusal of the input: an error at the offset of what caused it.
fn refuse(offset: u64, message: String) -> Error {
    Error::new(ErrorKind::Unsupported, offset, message)
}

/// The first finding that makes the file refused, as the error to return.
fn refused(report: &Report) -> Option<Error> {
    if let Some(stop) = &report.stopped {
        return Some(refuse(
            stop.offset(),
            format!("not rebuilt: the file does not load ({})", stop.message()),
        ));
    }
    let finding = report.findings.iter().find(|f| REFUSED.contains(&f.rule))?;
    let at = finding
        .path
        .as_deref()
        .map(|p| format!(" at {p}"))
        .unwrap_or_default();
    Some(refuse(
        finding.offset.unwrap_or(0),
        format!(
            "not rebuilt: {}{at}: {} (rebuild.py never calls what the analysis flags)",
            finding.rule.id(),
            finding.message
        ),
    ))
}

/// ndarray subclasses whose pickled state is the array's alone: `.view(cls)` of the
/// loaded array is the object (numpy's `matrix`, `chararray` and `recarray` add no state).
const ARRAY_VIEWS: &[&str] = &[
    "numpy.matrix",
    "numpy.matrixlib.defmatrix.matrix",
    "numpy.char.chararray",
    "numpy.core.defchararray.chararray",
    "numpy._core.defchararray.chararray",
    "numpy.recarray",
    "numpy.rec.recarray",
    "numpy.core.records.recarray",
    "numpy._core.records.recarray",
];

/// Globals an array's construction names that the `.npy` fully stands for (by name;
/// torch's own globals are all fine for a tensor).
const ARRAY_PARTS: &[&str] = &[
    "_reconstruct",
    "ndarray",
    "dtype",
    "scalar",
    "_frombuffer",
    "frombuffer",
    "NumpyArrayWrapper",
    "NDArrayWrapper",
    "ZNDArrayWrapper",
    "encode",
    "bytes",
    "bytearray",
];

/// Marks the arrays whose construction uses a global the `.npy` does not stand for: an
/// ndarray subclass of [`ARRAY_VIEWS`] is viewed as it; anything else refuses the array.
/// (An import's paths are capped; a listed subclass used at more paths than kept refuses
/// the file through every array it might be.)
fn array_classes(report: &Report, facts: &mut Facts) {
    // Object arrays have no file: their refusals are kept by path.
    let object_arrays: Vec<&str> = report
        .pickles
        .iter()
        .flat_map(|p| p.arrays.iter())
        .filter(|a| a.info.dtype.has_object())
        .map(|a| a.path.as_str())
        .collect();
    for import in report.pickles.iter().flat_map(|p| p.imports.iter()) {
        let dotted = format!("{}.{}", import.module, import.name);
        let torch = import.module == "torch" || import.module.starts_with("torch.");
        if ARRAY_PARTS.contains(&import.name.as_str()) || torch {
            continue;
        }
        let view = ARRAY_VIEWS.contains(&dotted.as_str());
        let capped = import.uses > import.paths.len() as u64;
        for path in &object_arrays {
            if import.paths.iter().any(|p| p == path) || (view && capped) {
                facts
                    .refused_paths
                    .entry(path.to_string())
                    .or_insert_with(|| {
                        format!("the array at {path} is built with {dotted}, which is not rebuilt")
                    });
            }
        }
        for (path, file) in &facts.array_paths {
            let used_here = import.paths.iter().any(|p| p == path);
            if !(used_here || view && capped) {
                continue;
            }
            // A torch tensor's construction is torch's (its hooks' OrderedDict included);
            // joblib's wrapper restores a subclass by its own rules: refused, not viewed.
            if let Some(fact) = facts.arrays.get_mut(file).filter(|f| !f.tensor) {
                if view && used_here && !fact.joblib && fact.view_as.is_none() {
                    fact.view_as = Some(dotted.clone());
                } else if fact.refused.is_none() {
                    fact.refused = Some(format!(
                        "the array at {path} is built with {dotted}, which its .npy does not \
                         carry"
                    ));
                }
            }
        }
    }
}

/// What the report knows that the JSON document does not.
fn facts(source: &str, report: &Report, index: &super::ExtractIndex) -> Facts {
    let mut facts = Facts {
        source: source.to_string(),
        array_prefix: PREFIX.to_string(),
        ..Facts::default()
    };
    let all_arrays = report
        .pickles
        .iter()
        .flat_map(|p| p.arrays.iter())
        .chain(report.arrays.iter());
    let kinds: HashMap<&str, ArrayKind> =
        all_arrays.map(|a| (a.path.as_str(), a.info.kind)).collect();
    for written in &index.arrays {
        let kind = kinds.get(written.path.as_str()).copied();
        let name = written.file.strip_prefix(PREFIX).unwrap_or(&written.file);
        facts
            .array_paths
            .insert(written.path.clone(), name.to_string());
        facts.arrays.insert(
            name.to_string(),
            ArrayFact {
                view_as: None,
                refused: None,
                scalar: kind == Some(ArrayKind::Scalar),
                joblib: kind == Some(ArrayKind::Joblib),
                tensor: kind == Some(ArrayKind::Tensor),
                torch_view: match written.source_dtype {
                    Some(DType::BFloat16 { .. }) => Some("bfloat16"),
                    Some(DType::Float8(format)) => Some(format.name()),
                    _ => None,
                },
            },
        );
    }
    for pickle in &report.pickles {
        for import in &pickle.imports {
            let dotted = format!("{}.{}", import.module, import.name);
            // Protocols 0-2 name Python 2 modules, which pickle maps (fix_imports).
            let (module, name) = if pickle.protocol < 3 {
                let (m, n) = compat::normalise(&import.module, &import.name);
                (m.into_owned(), n.into_owned())
            } else {
                (import.module.clone(), import.name.clone())
            };
            facts.globals.entry(dotted).or_insert((module, name));
        }
        for call in pickle.calls.iter().filter(|c| c.opcode != "BUILD") {
            if let Some(path) = &call.result {
                facts
                    .calls
                    .entry(path.clone())
                    .or_insert_with(|| (call.opcode.to_string(), call.callable.clone()));
            }
        }
    }
    array_classes(report, &mut facts);
    facts
}

pub(crate) fn extract_python(
    source: &str,
    bytes: &[u8],
    options: &ExtractOptions,
    dir: &Path,
) -> Result<Extracted> {
    super::refuse_non_empty_dir(dir, options.force)?;
    let report = inspect(source, bytes, &options.inspect)?;
    if let Some(refusal) = refused(&report) {
        return Err(refusal);
    }
    let parent = parent_of(dir);
    std::fs::create_dir_all(&parent).map_err(|e| io_error("create", &parent, e))?;
    let staging = tempfile::Builder::new()
        .prefix(".pklinspect-")
        .tempdir_in(parent_of(dir))
        .map_err(|e| io_error("create a folder in", &parent_of(dir), e))?;
    let inner = ExtractOptions {
        inspect: options_like(&options.inspect),
        target: super::Target::Npy {
            dir: staging.path().to_path_buf(),
        },
        force: true,
        // Raw bits, viewed as torch.bfloat16 by rebuild.py.
        bfloat16: Bfloat16As::U2,
        max_bytes: options.max_bytes,
        progress: None,
        progress_total: None,
        source_file: None,
    };
    let tree_file = staging.path().join(TREE);
    let extracted = json::extract_json(source, bytes, &inner, Some(&tree_file), true)?;
    let document =
        std::fs::read_to_string(&tree_file).map_err(|e| io_error("read", &tree_file, e))?;
    let mut facts = facts(source, &extracted.report, &extracted.index);
    // The frames as the first inspection summarised them (the JSON extractor's does not).
    for frame in report.frames.iter().filter(|f| f.error.is_none()) {
        facts.frames.insert(frame.path.clone(), frame.kind.clone());
    }
    let first_offset = report.pickles.first().map_or(0, |p| p.offset);
    let generated = rebuild::generate(&document, &facts)
        .map_err(|m| refuse(first_offset, format!("not rebuilt: {m}")))?;
    for (path, file) in &generated.frames {
        let out = staging.path().join(file);
        table::extract_table(
            source,
            bytes,
            &inner,
            &out,
            TableFormat::Parquet,
            Some(path),
        )?;
    }
    let mut files: Vec<(PathBuf, String)> = Vec::new();
    let mut index = extracted.index;
    index.arrays.retain_mut(|written| {
        let name = written.file.strip_prefix(PREFIX).unwrap_or(&written.file);
        if !generated.arrays.iter().any(|a| a == name) {
            return false;
        }
        files.push((staging.path().join(&written.file), name.to_string()));
        written.file = name.to_string();
        true
    });
    for (_, file) in &generated.frames {
        files.push((staging.path().join(file), file.clone()));
    }
    for (name, text) in [
        ("params.json", &generated.params),
        ("rebuild.py", &generated.python),
    ] {
        let path = staging.path().join(name);
        std::fs::write(&path, text).map_err(|e| io_error("write", &path, e))?;
        files.push((path, name.to_string()));
    }
    // Everything is written: now, and only now, move it into the output folder.
    std::fs::create_dir_all(dir).map_err(|e| io_error("create", dir, e))?;
    for (from, name) in files {
        let to = dir.join(&name);
        std::fs::rename(&from, &to).map_err(|e| io_error("rename into", &to, e))?;
    }
    Ok(Extracted {
        report: extracted.report,
        index,
        json: None,
    })
}
