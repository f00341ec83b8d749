//! The benign corpus (`fixtures/benign/`, written by `fixtures/benign/generate.py`): more
//! than a thousand pickles written by real libraries the way their users write them. None
//! of them may get an error-level security finding, and every one must be read: a scanner
//! that cries wolf on real files gets switched off. `fixtures/benign/versions/` holds files
//! of the same generator run with older library versions (its README), listed in their own
//! manifest.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use pklinspect::inspect::Options;
use pklinspect::rules::{Rule, Severity};

fn benign_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/benign")
}

/// Notes, pins and manifests beside the corpus files.
fn is_note(name: &str) -> bool {
    [".md", ".txt", ".json", ".py"]
        .iter()
        .any(|s| name.ends_with(s))
}

/// The corpus files (not the generator, census, manifests, notes or lists), relative,
/// sorted.
fn corpus_files() -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                if !path.ends_with("__pycache__") {
                    walk(root, &path, out);
                }
            } else if dir != root && !is_note(&path.to_string_lossy()) {
                let rel = path.strip_prefix(root).unwrap();
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    let root = benign_dir();
    let mut out = Vec::new();
    walk(&root, &root, &mut out);
    out.sort();
    out
}

fn manifest() -> serde_json::Value {
    let text = std::fs::read(benign_dir().join("manifest.json")).unwrap();
    serde_json::from_slice(&text).unwrap()
}

/// Rules about what a file does when loaded: the ones a benign file must never trip at
/// error level. `security_severity` covers code-exec, extension-ref, unreachable-payload,
/// unsafe-member-name, duplicate-member and unknown-import; the ids are the rules of the
/// default-deny model (issue 11), counted as soon as they exist.
fn is_security(rule: Rule) -> bool {
    rule.security_severity().is_some()
        || [
            "code-exec",
            "unvetted-call",
            "parser-differential",
            "extension-ref",
        ]
        .contains(&rule.id())
}

#[test]
fn no_benign_file_gets_an_error_level_security_finding_or_fails_to_parse() {
    let root = benign_dir();
    let files = corpus_files();
    assert!(files.len() >= 1000, "only {} corpus files", files.len());
    let options = Options {
        portable_hints: false,
        ..Options::default()
    };
    // "rule module.name" -> files.
    let mut offenders: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut failed = Vec::new();
    let mut checked = 0usize;
    for rel in &files {
        let bytes = std::fs::read(root.join(rel)).unwrap();
        let report = match pklinspect::inspect(rel, &bytes, &options) {
            Ok(report) => report,
            Err(e) => {
                failed.push(format!("{rel}: {e}"));
                continue;
            }
        };
        checked += 1;
        for f in &report.findings {
            if f.rule == Rule::Malformed || f.rule == Rule::LimitExceeded {
                failed.push(format!("{rel}: {}: {}", f.rule.id(), f.message));
            } else if f.severity == Severity::Error && is_security(f.rule) {
                let global = match (&f.module, &f.name) {
                    (Some(m), Some(n)) => format!("{m}.{n}"),
                    _ => f.message.clone(),
                };
                offenders
                    .entry(format!("{} {global}", f.rule.id()))
                    .or_default()
                    .insert(rel.clone());
            }
        }
    }
    let bad_files: BTreeSet<&String> = offenders.values().flatten().collect();
    let mut text = String::new();
    for (what, in_files) in &offenders {
        let examples: Vec<&str> = in_files.iter().take(3).map(String::as_str).collect();
        text.push_str(&format!(
            "  {what}: {} files, e.g. {}\n",
            in_files.len(),
            examples.join(", ")
        ));
    }
    let mut by_library: BTreeMap<&str, usize> = BTreeMap::new();
    for f in &bad_files {
        *by_library
            .entry(f.split('/').next().unwrap_or(""))
            .or_default() += 1;
    }
    assert!(
        offenders.is_empty() && failed.is_empty(),
        "{} of {checked} benign files get an error-level security finding (by library: \
         {by_library:?}), grouped by rule and global:\n{text}{} files not read:\n  {}",
        bad_files.len(),
        failed.len(),
        failed.join("\n  ")
    );
}

/// The manifest and the folder agree, and the corpus holds the kinds of file the issue
/// names (the ones that cried wolf before: figures, zoneinfo time zones, frozen discrete
/// distributions, categorical HistGradientBoosting, torch tensors through plain pickle and
/// joblib).
#[test]
fn the_manifest_lists_every_corpus_file_and_the_required_kinds() {
    let manifest = manifest();
    let listed: BTreeSet<String> = manifest["files"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let (versions, on_disk): (BTreeSet<String>, BTreeSet<String>) = corpus_files()
        .into_iter()
        .partition(|f| f.starts_with("versions/"));
    let text = std::fs::read(benign_dir().join("versions/manifest.json")).unwrap();
    let versions_manifest: serde_json::Value = serde_json::from_slice(&text).unwrap();
    let versions_listed: BTreeSet<String> = versions_manifest["files"]
        .as_object()
        .unwrap()
        .keys()
        .map(|k| format!("versions/{k}"))
        .collect();
    assert_eq!(
        versions_listed, versions,
        "versions/manifest.json and the folder"
    );
    assert!(
        versions.len() >= 100,
        "only {} versions files",
        versions.len()
    );
    let only_listed: Vec<_> = listed.difference(&on_disk).collect();
    let only_on_disk: Vec<_> = on_disk.difference(&listed).collect();
    assert!(
        only_listed.is_empty() && only_on_disk.is_empty(),
        "manifest only: {only_listed:?}; folder only: {only_on_disk:?}"
    );
    for required in [
        "matplotlib/figure_line_p4.pkl",
        "matplotlib/figure_imshow.joblib",
        "pandas/series_datetime_tz_p5.pkl",
        "pandas/dataframe_tz_index.joblib",
        "scipy/frozen_poisson_p4.pkl",
        "scipy/frozen_binom.joblib",
        "sklearn/hgb_categorical_p4.pkl",
        "sklearn/hgb_categorical.joblib",
        "torch/tensor_float32_p2.pkl",
        "torch/module_mlp.joblib",
        "torch/state_dict_conv_p5.pkl",
        "torch/checkpoint.pt",
    ] {
        assert!(listed.contains(required), "{required} is missing");
    }
    let libraries: BTreeSet<&str> = listed
        .iter()
        .map(|f| f.split('/').next().unwrap())
        .collect();
    assert!(libraries.len() >= 10, "{libraries:?}");
}

/// Every other fixture written by a real library (all of `fixtures/` but `benign/`, which
/// the test above reads, and the hand-written `hostile/` and `malformed/`) gets no
/// error-level security finding either: pandas 1.5/2.2/3.1 frames with pytz, dateutil and
/// zoneinfo zones and pyarrow strings, torch, joblib, keras, scikit-learn. The one
/// exception is `stdlib/ext_codes_p2.pkl`: its EXT opcodes name globals through copyreg's
/// extension registry, which a fresh interpreter does not have (`extension-ref`, by design).
#[test]
fn no_other_real_fixture_gets_an_error_level_security_finding() {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            if path.is_dir() {
                if !["benign", "hostile", "malformed", "__pycache__"].contains(&name.as_str()) {
                    walk(&path, out);
                }
            } else if ![".json", ".py", ".txt", ".md", ".sh"]
                .iter()
                .any(|s| name.ends_with(s))
                && name != "ext_codes_p2.pkl"
            {
                out.push(path);
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut files = Vec::new();
    walk(&root, &mut files);
    files.sort();
    assert!(files.len() >= 250, "only {} fixtures", files.len());
    let options = Options {
        portable_hints: false,
        ..Options::default()
    };
    let mut offenders = Vec::new();
    for path in &files {
        let rel = path
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .to_string();
        let bytes = std::fs::read(path).unwrap();
        // A fixture that is not a pickle container at all is another test's business.
        let Ok(report) = pklinspect::inspect(&rel, &bytes, &options) else {
            continue;
        };
        for f in &report.findings {
            if f.severity == Severity::Error && is_security(f.rule) {
                offenders.push(format!("{rel}: {}: {}", f.rule.id(), f.message));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "{} error-level security findings on real fixtures:\n  {}",
        offenders.len(),
        offenders.join("\n  ")
    );
}
