//! The per-loader verdicts of `explain` against the real loaders, file by file.
//!
//! - `torch.load(weights_only=True)`: CI has no torch, so what torch 2.15.0 did with each
//!   file is committed in `tests/data/loaders_diff/torch_truths.json`, written by
//!   `tests/data/loaders_diff/generate_torch.py` (which also writes the variations under
//!   `tests/data/loaders_diff/torch/`: every dtype, sparse layouts, legacy files, modules,
//!   numpy content, and hand-made hostile `data.pkl` streams). The corpus is every torch
//!   fixture plus those. With `PKLINSPECT_TORCH_PYTHON` set, a live test re-runs torch and
//!   checks the committed truths are still what it says.
//! - `numpy.load(allow_pickle=False)`: numpy is in CI, so it runs live on every `.npy` and
//!   `.npz` in `fixtures/` and `tests/data/` (and the variations
//!   `tests/data/loaders_diff/generate_numpy.py` writes).

mod common;

use std::path::{Path, PathBuf};

use serde_json::Value;

const TORCH: &str = "torch.load(weights_only=True)";
const NUMPY: &str = "numpy.load(allow_pickle=False)";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn diff_dir() -> PathBuf {
    root().join("tests/data/loaders_diff")
}

fn explain_json(file: &Path) -> Value {
    let out = common::pklinspect()
        .args(["explain", "--format", "json"])
        .arg(file)
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

fn loader<'a>(doc: &'a Value, name: &str) -> Option<&'a Value> {
    doc["loaders"]
        .as_array()?
        .iter()
        .find(|l| l["loader"] == name)
}

fn refuses(l: &Value) -> &[Value] {
    l["refuses"]
        .as_array()
        .map(|a| a.as_slice())
        .unwrap_or_default()
}

/// `(kind, name)` of each refusal an allowlist fixes, in order.
fn pairs(list: &[Value], name_key: &str) -> Vec<(String, String)> {
    list.iter()
        .filter(|r| r["kind"] != "stop")
        .map(|r| {
            (
                r["kind"].as_str().unwrap_or("").to_string(),
                r[name_key].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// Why our verdict for one file disagrees with what torch did, if it does.
fn torch_disagreement(truth: &Value, ours: Option<&Value>) -> Option<String> {
    let outcome = truth["outcome"].as_str().unwrap_or("");
    let theirs = pairs(
        truth["refusals"]
            .as_array()
            .map(|a| a.as_slice())
            .unwrap_or_default(),
        "name",
    );
    let Some(ours) = ours else {
        return (outcome != "error").then(|| format!("no {TORCH} verdict, torch: {outcome}"));
    };
    let loads = ours["loads"].as_str().unwrap_or("");
    let list = refuses(ours);
    let mine = pairs(list, "global");
    let stop = list.iter().find(|r| r["kind"] == "stop");
    let summary = ours["summary"].as_str().unwrap_or("");
    let prefix = mine.get(..theirs.len()) == Some(theirs.as_slice());
    let why = match outcome {
        "loads" if loads != "yes" => format!("torch loads it as is; ours: {loads}: {summary}"),
        "loads" => return None,
        "loads_after_allowing" if mine != theirs || stop.is_some() || loads == "yes" => format!(
            "torch loads it after allowing {theirs:?}; ours: {loads}, {mine:?}, stop {:?}",
            stop.map(|s| &s["message"])
        ),
        "loads_after_allowing" => return None,
        "unallowed" | "unresolvable" if !prefix || loads == "yes" => format!(
            "torch refuses {theirs:?} (the generator allowed no further); ours: {loads}, {mine:?}"
        ),
        "unallowed" => {
            // What the generator would not allow, ours must not suggest allowing.
            let last = theirs.last().map(|(_, n)| n.as_str()).unwrap_or("");
            let suggested = list
                .iter()
                .any(|r| r["global"] == last && r["allow"] == true && r["kind"] != "stop");
            if !suggested {
                return None;
            }
            format!("ours suggests allowing {last}, which runs code")
        }
        "unresolvable" => return None,
        "error" => {
            let error = truth["error"].as_str().unwrap_or("");
            let (kind, text) = error.split_once(": ").unwrap_or((error, ""));
            let magic = error.contains("Invalid magic number") && summary.contains("magic number");
            // torch's own checks: the same message. A call that raised (TypeError,
            // AttributeError... from a rebuild function or persistent_load): a stop of ours.
            let same_stop = stop.is_some_and(|s| {
                let m = s["message"].as_str().unwrap_or("");
                match kind {
                    "UnpicklingError" => similar(m, text),
                    _ => !m.is_empty(),
                }
            });
            let eof = kind == "EOFError" && loads == "no";
            if loads == "no" && mine == theirs && (magic || same_stop || eof) {
                return None;
            }
            format!(
                "torch fails after {theirs:?}: {error}; ours: {loads}, {mine:?}, stop {:?}",
                stop.map(|s| &s["message"])
            )
        }
        other => format!("unknown outcome {other}"),
    };
    Some(why)
}

/// Whether two messages say the same: one holds the other, or they agree on their first
/// 40 characters (torch prints the value where we print its type).
fn similar(ours: &str, theirs: &str) -> bool {
    if ours.is_empty() || theirs.is_empty() {
        return false;
    }
    let prefix = ours
        .chars()
        .zip(theirs.chars())
        .take_while(|(a, b)| a == b)
        .count();
    ours.contains(theirs) || theirs.contains(ours) || prefix >= 40
}

fn torch_truths() -> Value {
    let text = std::fs::read_to_string(diff_dir().join("torch_truths.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Where our `torch.load(weights_only=False)` verdict disagrees with what it did (on the
/// benign files the generator loads that way): a load that failed must be `no`, one that
/// worked must not.
fn full_load_disagreement(truth: &Value, doc: &Value) -> Option<String> {
    let full = truth["full_load"].as_str()?;
    if doc["loaders"].is_null() && full != "ok" {
        return None; // explain refused the file as malformed: no verdict, no claim
    }
    let ours = loader(doc, "torch.load(weights_only=False)")
        .and_then(|l| l["loads"].as_str())
        .unwrap_or("");
    let agree = match full {
        "ok" => ours == "only-with" || ours == "yes",
        _ => ours == "no",
    };
    (!agree).then(|| format!("torch.load(weights_only=False): {full}; ours: {ours}"))
}

/// Compares every file of `truths` and returns (files, disagreements).
fn compare_torch(truths: &Value) -> (usize, Vec<String>) {
    let files = truths["files"].as_array().unwrap();
    let mut bad = Vec::new();
    for t in files {
        let rel = t["file"].as_str().unwrap();
        let path = root().join(rel);
        assert!(path.is_file(), "{rel} is listed but missing");
        let doc = explain_json(&path);
        if let Some(why) = torch_disagreement(t, loader(&doc, TORCH)) {
            bad.push(format!("{rel}: {why}"));
        }
        if let Some(why) = full_load_disagreement(t, &doc) {
            bad.push(format!("{rel}: {why}"));
        }
    }
    (files.len(), bad)
}

/// Files where torch fails in a way the model does not follow (docs/loaders.md, Limits),
/// with the reason: none today. An entry must still disagree, so the list shrinks when
/// the model learns one.
const KNOWN_GAPS: &[(&str, &str)] = &[];

#[test]
fn weights_only_verdicts_agree_with_what_torch_did_on_every_file() {
    let truths = torch_truths();
    let (n, bad) = compare_torch(&truths);
    assert!(n >= 500, "only {n} files");
    let full = truths["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["full_load"].is_string())
        .count();
    let full_bad = bad
        .iter()
        .filter(|l| l.contains(": torch.load(weights_only=False): "))
        .count();
    eprintln!(
        "{TORCH}: {} of {n} files agree; torch.load(weights_only=False): {} of {full} agree",
        n - (bad.len() - full_bad),
        full - full_bad
    );
    let known = |line: &String| {
        KNOWN_GAPS
            .iter()
            .any(|(f, _)| line.starts_with(&format!("tests/data/loaders_diff/torch/{f}:")))
    };
    let unexpected: Vec<&String> = bad.iter().filter(|l| !known(l)).collect();
    assert!(
        unexpected.is_empty(),
        "{} disagreements:\n{}",
        unexpected.len(),
        unexpected
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
    for (f, why) in KNOWN_GAPS {
        assert!(
            bad.iter().any(|l| l.contains(f)),
            "{f} now agrees ({why}): remove it from KNOWN_GAPS"
        );
    }
}

#[test]
fn the_recorded_truths_cover_every_route() {
    // Each outcome occurs, so a generator that silently stopped running a class of file
    // cannot pass.
    let truths = torch_truths();
    let files = truths["files"].as_array().unwrap();
    for outcome in ["loads", "loads_after_allowing", "unallowed", "error"] {
        let count = files.iter().filter(|f| f["outcome"] == outcome).count();
        assert!(count >= 5, "{outcome}: {count}");
    }
    // weights_only=False ran on the benign files, and some of them fail.
    let full: Vec<&str> = files
        .iter()
        .filter_map(|f| f["full_load"].as_str())
        .collect();
    assert!(full.len() >= 200, "{}", full.len());
    assert!(full.iter().any(|f| *f != "ok"), "no benign file failed");
    // Every variation on disk is listed.
    let listed: Vec<&str> = files.iter().filter_map(|f| f["file"].as_str()).collect();
    for e in std::fs::read_dir(diff_dir().join("torch")).unwrap() {
        let p = e.unwrap().path();
        let rel = p
            .strip_prefix(root())
            .unwrap()
            .to_string_lossy()
            .to_string();
        assert!(
            listed.contains(&rel.as_str()),
            "{rel} has no recorded truth"
        );
    }
}

/// With `PKLINSPECT_TORCH_PYTHON` (a Python with torch): torch's answers today are the
/// committed ones, so the comparison above stands.
#[test]
fn live_torch_gives_the_recorded_truths() {
    let Ok(python) = std::env::var("PKLINSPECT_TORCH_PYTHON") else {
        eprintln!("skipped: PKLINSPECT_TORCH_PYTHON is not set");
        return;
    };
    let script = diff_dir().join("generate_torch.py");
    let out = std::process::Command::new(python)
        .arg(&script)
        .arg("--check")
        .current_dir(root())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let live: Value = serde_json::from_slice(&out.stdout).unwrap();
    let recorded = torch_truths();
    let strip = |v: &Value| -> Vec<Value> {
        v["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                serde_json::json!({"file": f["file"], "outcome": f["outcome"],
                    "refusals": f["refusals"], "error": f["error"]})
            })
            .collect()
    };
    assert_eq!(strip(&live), strip(&recorded));
}

// numpy.load(allow_pickle=False) -----------------------------------------------------------

fn numpy_files() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![root().join("fixtures"), root().join("tests/data")];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "npy" || x == "npz") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Loads each file (every member of an npz) with `allow_pickle=False`; prints
/// `ok` or the exception, one line per file.
const NUMPY_SCRIPT: &str = r#"
import sys, numpy as np
for path in sys.argv[1:]:
    try:
        f = np.load(path, allow_pickle=False)
        if hasattr(f, "files"):
            for k in f.files:
                f[k]
            f.close()
        print("ok")
    except Exception as e:
        print(type(e).__name__ + ": " + str(e).splitlines()[0] if str(e) else type(e).__name__)
"#;

#[test]
fn numpy_load_without_pickle_agrees_with_real_numpy_on_every_file() {
    let Some(python) = common::python_with(&["numpy"]) else {
        return;
    };
    let files = numpy_files();
    assert!(files.len() >= 30, "{files:?}");
    let args: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = common::run_python(python, NUMPY_SCRIPT, &args);
    let text = String::from_utf8(out.stdout).unwrap();
    let answers: Vec<&str> = text.lines().collect();
    assert_eq!(answers.len(), files.len(), "{text}");
    let mut bad = Vec::new();
    for (file, answer) in files.iter().zip(&answers) {
        let doc = explain_json(file);
        let ours = loader(&doc, NUMPY).and_then(|l| l["loads"].as_str());
        let theirs = if *answer == "ok" { "yes" } else { "no" };
        if ours != Some(theirs) {
            bad.push(format!(
                "{}: numpy: {answer}; ours: {ours:?}",
                file.display()
            ));
        }
    }
    eprintln!(
        "{NUMPY}: {} of {} files agree",
        files.len() - bad.len(),
        files.len()
    );
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

// pickle.load: what the standard library alone loads --------------------------------------

/// Fixture groups written by the project's generators from library objects (never
/// `hostile/`, `malformed/` or `runtime/`): safe to load with `pickle.load`.
const BENIGN_GROUPS: &[&str] = &[
    "plain", "stdlib", "numpy1", "numpy2", "pandas", "sklearn", "masked", "keras", "benign",
];

/// Verdicts under which the test lets `pickle.load` run a file (belt and braces: the
/// groups above hold nothing else).
const LOADABLE_VERDICTS: &[&str] = &["portable", "needs-libraries"];

fn benign_pickles() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs: Vec<PathBuf> = BENIGN_GROUPS
        .iter()
        .map(|g| root().join("fixtures").join(g))
        .collect();
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            if p.is_dir() {
                dirs.push(p);
            } else if name.ends_with(".pkl") || name.ends_with(".joblib") {
                // Pickles (a joblib.dump without arrays is one); torch and numpy files and
                // compressed ones do not list pickle.load.
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// `pickle.load` of each file; prints `ok`, or the exception and, for a missing module,
/// its top-level name.
const PICKLE_SCRIPT: &str = r#"
import sys, pickle
for path in sys.argv[1:]:
    try:
        with open(path, "rb") as f:
            pickle.load(f)
        print("ok")
    except ImportError as e:
        print("missing " + (e.name or "?").split(".")[0])
    except Exception as e:
        print("error " + type(e).__name__)
"#;

/// Where `pickle.load` in a Python with only the standard library (`-I -S`) and our
/// `pickle.load` verdict disagree: a `yes` that fails, or an `only-with` whose missing
/// module is not among the requirements.
#[test]
fn pickle_load_verdicts_agree_with_a_standard_library_python() {
    let Some(_) = common::python3() else {
        return;
    };
    let mut files = Vec::new();
    let mut verdicts = Vec::new();
    for file in benign_pickles() {
        let doc = explain_json(&file);
        let Some(l) = loader(&doc, "pickle.load") else {
            continue;
        };
        let verdict = doc["verdict"].as_str().unwrap_or("");
        assert!(
            !["unvetted", "dangerous"].contains(&verdict),
            "{} in a benign group is {verdict}",
            file.display()
        );
        if !LOADABLE_VERDICTS.contains(&verdict) {
            continue; // non-portable: extension codes, which no fresh Python has registered
        }
        if l["user_modules"].as_array().is_some_and(|m| !m.is_empty()) {
            continue; // __main__ classes: no Python has them
        }
        let reqs: Vec<String> = l["requirements"]
            .as_array()
            .map(|a| a.as_slice())
            .unwrap_or_default()
            .iter()
            .filter_map(|r| r["package"].as_str().map(str::to_string))
            .collect();
        files.push(file);
        verdicts.push((l["loads"].as_str().unwrap_or("").to_string(), reqs));
    }
    assert!(files.len() >= 1500, "{}", files.len());
    let mut cmd = std::process::Command::new("python3");
    cmd.args(["-I", "-S"]);
    let args: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = common::run_python(cmd, PICKLE_SCRIPT, &args);
    let text = String::from_utf8(out.stdout).unwrap();
    let answers: Vec<&str> = text.lines().collect();
    assert_eq!(answers.len(), files.len(), "{text}");
    let mut bad = Vec::new();
    for ((file, (loads, reqs)), answer) in files.iter().zip(&verdicts).zip(&answers) {
        let agree = match (loads.as_str(), answer.strip_prefix("missing ")) {
            ("yes", _) => *answer == "ok",
            // A name from a newer Python's standard library (`pathlib._local`, 3.13)
            // makes the interpreter the requirement.
            ("only-with", Some(module)) => reqs.iter().any(|r| r == module || r == "python"),
            _ => false,
        };
        if !agree {
            bad.push(format!(
                "{}: python -S: {answer}; ours: {loads} {reqs:?}",
                file.display()
            ));
        }
    }
    eprintln!(
        "pickle.load: {} of {} files agree",
        files.len() - bad.len(),
        files.len()
    );
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}
