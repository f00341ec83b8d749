//! Writer facts (`docs/writer-facts.md`) on real fixtures, against independent truths: the
//! generator's pinned requirements and manifests (which scikit-learn, numpy and pandas wrote
//! each file), and `tests/data/writer_facts/crossload.json` — what really failed when each
//! fixture was loaded with pandas 1.5.3, 2.2.3, 3.1.1 and numpy 1.26.4 (made by
//! `crossload.py` beside it).

mod common;

use std::path::Path;

use pklinspect::inspect::{inspect, Options};
use pklinspect::report::Report;
use serde_json::Value;

fn explain(rel: &str) -> Report {
    let bytes = std::fs::read(common::fixtures_dir().join(rel)).unwrap();
    inspect(rel, &bytes, &Options::default()).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn explain_bytes(bytes: &[u8]) -> Report {
    inspect("test.pkl", bytes, &Options::default()).unwrap()
}

fn text(report: &Report) -> String {
    let mut out = Vec::new();
    pklinspect::render::text::write_report(&mut out, report).unwrap();
    String::from_utf8(out).unwrap()
}

/// The `name==version` pin of a fixture requirements file.
fn pin(requirements: &str, package: &str) -> String {
    let text = std::fs::read_to_string(common::fixtures_dir().join(requirements)).unwrap();
    let prefix = format!("{package}==");
    text.lines()
        .find_map(|l| l.trim().strip_prefix(&prefix).map(str::to_string))
        .unwrap_or_else(|| panic!("{requirements} pins no {package}"))
}

/// Fixture files (relative to `fixtures/`) in a folder, sidecars left out.
fn files_in(dir: &str) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(common::fixtures_dir().join(dir))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with(".json") && !n.ends_with(".txt"))
        .map(|n| format!("{dir}/{n}"))
        .collect();
    out.sort();
    out
}

fn fact_ids(report: &Report) -> Vec<&'static str> {
    report.writer.facts.iter().map(|h| h.fact.id).collect()
}

fn generation(report: &Report, package: &str) -> Option<&'static str> {
    report.writer.generation(package).map(|h| h.fact.id)
}

#[test]
fn sklearn_fixtures_record_the_scikit_learn_version_that_wrote_them() {
    for env in ["numpy1", "numpy2"] {
        let expected = pin(&format!("requirements-{env}.txt"), "scikit-learn");
        let prefix = if env == "numpy1" { "np1_" } else { "np2_" };
        let files: Vec<String> = files_in("sklearn")
            .into_iter()
            .filter(|f| f.contains(prefix))
            .collect();
        assert!(files.len() >= 10, "{files:?}");
        for rel in files {
            let report = explain(&rel);
            let versions = &report.writer.versions;
            assert_eq!(versions.len(), 1, "{rel}: {versions:?}");
            let v = &versions[0];
            assert_eq!(
                (v.package.as_str(), v.version.as_str()),
                ("scikit-learn", expected.as_str()),
                "{rel}"
            );
            assert!(
                v.paths.iter().all(|p| p.ends_with("._sklearn_version")),
                "{rel}: {:?}",
                v.paths
            );
            let specs: Vec<String> = report
                .writer
                .requirements()
                .into_iter()
                .map(|r| r.spec)
                .collect();
            assert!(
                specs.contains(&format!("scikit-learn=={expected}")),
                "{rel}: {specs:?}"
            );
            let shown = text(&report);
            assert!(
                shown.contains(&format!("written by scikit-learn {expected}")),
                "{rel}:\n{shown}"
            );
            assert!(shown.contains("InconsistentVersionWarning"), "{rel}");
            assert!(
                !shown.contains("scikit-learn installed, in a version compatible"),
                "{rel}: the vague wording stayed although the version is known:\n{shown}"
            );
        }
    }
}

#[test]
fn every_estimator_of_a_pipeline_is_listed_with_its_path() {
    let report = explain("sklearn/np2_pipeline_p5.pkl");
    let v = &report.writer.versions[0];
    assert_eq!(v.uses, 3, "the pipeline and its two steps: {v:?}");
    assert_eq!(
        v.paths,
        [
            "$._sklearn_version",
            "$.steps[0][1]._sklearn_version",
            "$.steps[1][1]._sklearn_version"
        ]
    );
}

#[test]
fn lightgbm_sklearn_api_records_scikit_learns_version() {
    let expected = pin("benign/requirements.txt", "scikit-learn");
    let report = explain("benign/lightgbm/classifier_p4.pkl");
    let versions: Vec<(&str, &str)> = report
        .writer
        .versions
        .iter()
        .map(|v| (v.package.as_str(), v.version.as_str()))
        .collect();
    assert_eq!(versions, [("scikit-learn", expected.as_str())]);
}

#[test]
fn matplotlib_figures_record_matplotlibs_version_and_a_count_is_no_itertools_problem() {
    let expected = pin("benign/requirements.txt", "matplotlib");
    let report = explain("benign/matplotlib/figure_bar_p4.pkl");
    let v = report
        .writer
        .versions
        .iter()
        .find(|v| v.package == "matplotlib")
        .unwrap();
    assert_eq!(v.version, expected);
    assert_eq!(v.paths, ["$.__mpl_version__"]);
    // The figure holds an itertools.count, rebuilt by a constructor call: Python 3.14 still
    // loads that (only iterators given state on load break).
    assert!(report.pickles[0]
        .imports
        .iter()
        .any(|i| i.module == "itertools"));
    assert!(!fact_ids(&report).contains(&"python-itertools-3.14"));
}

/// Every pickle fixture in a numpy manifest, with the numpy that wrote it.
fn numpy_manifest_files() -> Vec<(String, u32)> {
    let mut out = Vec::new();
    for env in ["numpy1", "numpy2"] {
        let path = common::fixtures_dir().join(format!("manifest-{env}.json"));
        let manifest: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        let major: u32 = manifest["numpy"].as_str().unwrap()[..1].parse().unwrap();
        for f in manifest["files"].as_array().unwrap() {
            let file = f["file"].as_str().unwrap().to_string();
            if f["status"] == "valid" {
                out.push((file, major));
            }
        }
    }
    out
}

#[test]
fn numpy_names_give_the_numpy_major_version_that_wrote_the_fixture() {
    let mut checked = [0, 0];
    for (rel, major) in numpy_manifest_files() {
        let Ok(bytes) = std::fs::read(common::fixtures_dir().join(&rel)) else {
            continue;
        };
        let Ok(report) = inspect(&rel, &bytes, &Options::default()) else {
            continue;
        };
        let names_numpy_core = report
            .pickles
            .iter()
            .flat_map(|p| &p.imports)
            .any(|i| i.module.starts_with("numpy.core") || i.module.starts_with("numpy._core"));
        if !names_numpy_core {
            continue;
        }
        let got = generation(&report, "numpy");
        let expected: &[&str] = if major == 1 {
            &["numpy-1-core"]
        } else {
            &["numpy-2-numeric", "numpy-2-core", "numpy-2-other"]
        };
        assert!(
            got.is_some_and(|g| expected.contains(&g)),
            "{rel} (numpy {major}): {got:?}"
        );
        checked[(major - 1) as usize] += 1;
    }
    assert!(checked[0] >= 30 && checked[1] >= 30, "{checked:?}");
}

/// `(file, pandas version)` from the frame fixtures' manifests.
fn pandas_frames() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for gen in ["pd15", "pd22", "pd31"] {
        let path = common::fixtures_dir().join(format!("pandas/frames/manifest-{gen}.json"));
        let manifest: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        for f in manifest.as_array().unwrap() {
            let file = format!("pandas/frames/{}", f["file"].as_str().unwrap());
            out.push((file, f["pandas"].as_str().unwrap().to_string()));
        }
    }
    out
}

#[test]
fn pandas_names_give_the_pandas_generation_that_wrote_the_fixture() {
    let frames = pandas_frames();
    assert!(frames.len() >= 45, "{}", frames.len());
    for (rel, version) in frames {
        let report = explain(&rel);
        let got = generation(&report, "pandas");
        let names_numeric_index = report
            .pickles
            .iter()
            .flat_map(|p| &p.imports)
            .any(|i| i.module == "pandas.core.indexes.numeric");
        let expected = match version.as_str() {
            v if v.starts_with("1.") && names_numeric_index => "pandas-1-numeric-index",
            v if v.starts_with("1.") || v.starts_with("2.") => "pandas-before-3",
            _ => "pandas-3",
        };
        assert_eq!(got, Some(expected), "{rel} (pandas {version})");
    }
    // The numpy-1 fixture environment pinned pandas 3.0.6: its frames are pandas 3 too.
    assert_eq!(pin("requirements-numpy1.txt", "pandas"), "3.0.6");
    let report = explain("pandas/np1_frame_series_p4.pkl");
    assert_eq!(generation(&report, "pandas"), Some("pandas-3"));
    assert_eq!(generation(&report, "numpy"), Some("numpy-1-core"));
}

/// The recorded loads: `(numpy, pandas, file → {loader → outcome})` per environment.
fn crossload() -> Vec<Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/writer_facts/crossload.json");
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn outcome<'a>(results: &'a Value, file: &str) -> Option<&'a str> {
    results[file]["pickle.load"].as_str()
}

#[test]
fn the_removed_numeric_index_is_reported_exactly_where_pandas_2_failed_to_load() {
    for env in crossload() {
        let pandas = env["pandas"].as_str().unwrap_or("");
        if !(pandas.starts_with("2.") || pandas.starts_with("3.")) {
            continue;
        }
        let results = &env["results"];
        let mut failed = 0;
        for (file, _) in results.as_object().unwrap() {
            let Some(rel) = file.strip_prefix("fixtures/") else {
                continue;
            };
            if !rel.starts_with("pandas/") {
                continue;
            }
            let load = outcome(results, file).unwrap();
            let fails = load.contains("No module named 'pandas.core.indexes.numeric'");
            let report = explain(rel);
            let flagged = fact_ids(&report).contains(&"pandas-1-numeric-index");
            assert_eq!(flagged, fails, "{rel} with pandas {pandas}: {load}");
            // pandas' own reader maps the old classes: the fact says so, and it held.
            if fails {
                failed += 1;
                assert_eq!(results[file]["pandas.read_pickle"], "ok", "{rel}");
            }
        }
        assert_eq!(failed, 4, "pandas {pandas}");
    }
}

#[test]
fn pandas_3_files_are_flagged_wherever_pandas_2_failed_to_load_them() {
    let env = crossload()
        .into_iter()
        .find(|e| e["pandas"] == "2.2.3")
        .unwrap();
    let results = &env["results"];
    let mut failed = 0;
    for (file, _) in results.as_object().unwrap() {
        let rel = file.strip_prefix("fixtures/").unwrap();
        if !rel.contains("/pd31_") {
            continue;
        }
        let report = explain(rel);
        let specs: Vec<String> = report
            .writer
            .requirements()
            .into_iter()
            .map(|r| r.spec)
            .collect();
        assert!(specs.contains(&"pandas>=3".to_string()), "{rel}: {specs:?}");
        if outcome(results, file) != Some("ok") {
            failed += 1;
        }
    }
    // What the fact's text claims: 12 of the 14.
    assert_eq!(failed, 12);
}

#[test]
fn numpy_2_names_are_reported_exactly_as_numpy_1_26_failed_to_load_them() {
    for env in crossload().into_iter().filter(|e| e["numpy"] == "1.26.4") {
        let results = &env["results"];
        let mut failed = 0;
        for (file, _) in results.as_object().unwrap() {
            let rel = file.strip_prefix("fixtures/").unwrap();
            let load = outcome(results, file).unwrap();
            let report = explain(rel);
            let ids = fact_ids(&report);
            let fails = load.contains("No module named 'numpy._core.numeric'");
            assert_eq!(ids.contains(&"numpy-2-numeric"), fails, "{rel}: {load}");
            // numpy 1.26's stubs load the rest of numpy 2's names: what fails there is the
            // aligned structured dtype the fact names, or a file's own limits.
            let numpy_fixture = rel.starts_with("numpy1/") || rel.starts_with("numpy2/");
            if numpy_fixture && ids.contains(&"numpy-2-core") && !fails && load != "ok" {
                assert!(
                    load.contains("incorrect value for flags variable")
                        || load.contains("out-of-band"),
                    "{rel}: {load}"
                );
            }
            failed += usize::from(fails);
        }
        assert!(failed >= 4, "{failed}");
    }
}

#[test]
fn keras_preprocessing_fixtures_are_reported_as_absent_from_keras_3() {
    let files = files_in("keras");
    assert_eq!(files.len(), 8);
    for rel in files {
        let report = explain(&rel);
        let hit = report
            .writer
            .facts
            .iter()
            .find(|h| h.fact.id == "keras-preprocessing")
            .unwrap_or_else(|| panic!("{rel}: {:?}", fact_ids(&report)));
        assert_eq!(
            hit.globals,
            ["keras_preprocessing.sequence.TimeseriesGenerator"]
        );
        assert_eq!(hit.path.as_deref(), Some("$"));
        let specs: Vec<String> = report
            .writer
            .requirements()
            .into_iter()
            .map(|r| r.spec)
            .collect();
        // The fixtures' generator pinned the version the fact names.
        let pinned = pin("requirements-numpy2.txt", "keras-preprocessing");
        assert!(
            specs.contains(&format!("keras-preprocessing=={pinned}")),
            "{rel}: {specs:?}"
        );
        let shown = text(&report);
        assert!(shown.contains("not in Keras 3"), "{rel}:\n{shown}");
        assert!(shown.contains("install keras-preprocessing 1.1.2"), "{rel}");
        assert!(shown.contains("extract --to python"), "{rel}");
    }
}

#[test]
fn keras_2_class_paths_are_reported_as_removed_in_keras_3() {
    // A Keras 2 pickle names the class by its module; Keras 3.15.1's
    // keras.preprocessing.sequence has only pad_sequences.
    let report =
        explain_bytes(b"\x80\x02ckeras.preprocessing.sequence\nTimeseriesGenerator\n)\x81}b.");
    assert_eq!(fact_ids(&report), ["keras-2-preprocessing"]);
    let specs: Vec<String> = report
        .writer
        .requirements()
        .into_iter()
        .map(|r| r.spec)
        .collect();
    assert_eq!(specs, ["keras<3"]);
}

#[test]
fn the_protocol_gives_the_minimum_python() {
    for (rel, _) in pandas_frames() {
        let report = explain(&rel);
        let protocol = report.pickles[0].protocol;
        let expected = match protocol {
            0..=2 => None,
            3 => Some((3, 0)),
            4 => Some((3, 4)),
            _ => Some((3, 8)),
        };
        let got = report.writer.min_python.as_ref().map(|p| p.version);
        // A pandas 3 frame with a time zone names zoneinfo (Python 3.9).
        let zoneinfo = report.pickles[0]
            .imports
            .iter()
            .any(|i| i.module == "zoneinfo");
        if zoneinfo {
            assert_eq!(got, Some((3, 9)), "{rel}");
        } else {
            assert_eq!(got, expected, "{rel} (protocol {protocol})");
        }
        // The manifest's protocol is what the file was dumped with.
        let digit = rel.rsplit('_').next().unwrap();
        if let Some(p) = digit.strip_prefix('p').and_then(|d| d.strip_suffix(".pkl")) {
            assert_eq!(p, protocol.to_string(), "{rel}");
        }
    }
    let report = explain("sklearn/np2_pipeline_p5.pkl");
    let p = report.writer.min_python.as_ref().unwrap();
    assert_eq!(
        (p.version, p.because.as_str()),
        ((3, 8), "pickle protocol 5")
    );
    assert!(text(&report).contains("needs Python >= 3.8 (pickle protocol 5)"));
}

#[test]
fn a_legacy_torch_file_reports_its_system_record() {
    let report = explain("torch/state_dict_legacy.pt");
    let t = report.writer.torch_legacy.as_ref().unwrap();
    // torch/serialization.py: PROTOCOL_VERSION = 1001, written by _legacy_save.
    assert_eq!(t.protocol_version, Some(1001));
    assert_eq!(t.little_endian, Some(true));
    assert!(t.type_sizes.iter().any(|(k, _)| k == "int"));
    assert!(explain("torch/state_dict.pt").writer.torch_legacy.is_none());
}

#[test]
fn a_torch_zip_archive_reports_its_version_records() {
    // Written by torch 2.15's torch.save (fixtures/requirements-numpy2.txt): its _save writes
    // .format_version "1", .storage_alignment "64", byteorder, and version 3
    // (kMinProducedFileFormatVersion, caffe2/serialize/versions.h).
    assert_eq!(pin("requirements-numpy2.txt", "torch"), "2.15.0");
    let report = explain("torch/state_dict.pt");
    let t = report.writer.torch_zip.as_ref().unwrap();
    let fields = [
        &t.version,
        &t.format_version,
        &t.storage_alignment,
        &t.byteorder,
    ];
    assert_eq!(
        fields.map(|f| f.as_deref()),
        [Some("3"), Some("1"), Some("64"), Some("little")]
    );
    assert!(explain("torch/state_dict_legacy.pt")
        .writer
        .torch_zip
        .is_none());

    // An archive without a byteorder record (what torch writes with
    // _disable_byteorder_record), and a version record with an escape in it.
    let mut w = common::torch_writer::TorchZipWriter::new("archive");
    w.record("data.pkl", b"\x80\x02}q\x00.")
        .record("version", b"3\x1b[2J\n");
    let report = explain_bytes(&w.finish());
    let t = report.writer.torch_zip.as_ref().unwrap();
    assert_eq!(t.byteorder, None);
    assert_eq!(t.version.as_deref(), Some("'3\\x1b[2J'"));
    let shown = text(&report);
    assert!(shown.contains("no byteorder record"), "{shown}");
    assert!(!shown.contains("\x1b[2J"), "{shown}");
}

#[test]
fn an_itertools_iterator_given_state_fails_on_python_3_14_but_a_count_call_does_not() {
    // itertools.cycle's 3.13 __reduce__: (cycle, (iterator,), (saved, firstpass)); BUILD
    // hands the state to __setstate__, which Python 3.14 removed.
    let cycle = explain_bytes(b"\x80\x02citertools\ncycle\n(]tR(]K\x01aK\x00tb.");
    assert_eq!(fact_ids(&cycle), ["python-itertools-3.14"]);
    assert_eq!(cycle.writer.facts[0].globals, ["itertools.cycle"]);
    assert_eq!(
        cycle.writer.facts[0].offset, 22,
        "the REDUCE that builds it"
    );
    let count = explain_bytes(b"\x80\x02citertools\ncount\nK\x05\x85R.");
    assert!(fact_ids(&count).is_empty(), "{:?}", fact_ids(&count));
}

#[test]
fn modules_removed_from_python_are_reported_with_the_version() {
    let report = explain_bytes(b"\x80\x02cpipes\nTemplate\n)\x81.");
    assert_eq!(fact_ids(&report), ["python-removed-3.13"]);
    let report = explain_bytes(b"\x80\x02cimp\nNullImporter\n)\x81.");
    assert_eq!(fact_ids(&report), ["python-removed-3.12"]);
}

#[test]
fn a_hostile_version_string_is_escaped_and_versions_are_capped() {
    // 100 estimators, each recording its own version: 32 distinct are kept.
    let mut bytes = b"\x80\x02(".to_vec();
    for i in 0..100u32 {
        let version = format!("1.{i}");
        bytes.extend_from_slice(
            b"csklearn.base\nBaseEstimator\n)\x81}X\x10\x00\x00\x00_sklearn_version",
        );
        bytes.push(b'X');
        bytes.extend_from_slice(&(version.len() as u32).to_le_bytes());
        bytes.extend_from_slice(version.as_bytes());
        bytes.extend_from_slice(b"sb");
    }
    bytes.extend_from_slice(b"l.");
    let many = explain_bytes(&bytes);
    assert_eq!(many.writer.versions.len(), 32);
    // sklearn.base.BaseEstimator() with state {'_sklearn_version': '1.0\x1b[2J'}.
    let odd = explain_bytes(
        b"\x80\x02csklearn.base\nBaseEstimator\n)\x81}X\x10\x00\x00\x00_sklearn_versionX\x07\x00\x00\x001.0\x1b[2Jsb.",
    );
    assert_eq!(odd.writer.versions[0].version, "'1.0\\x1b[2J'");
    // (the text has its own style escapes; the file's must not get through)
    assert!(!text(&odd).contains("\x1b[2J"));
}

#[test]
fn explain_json_carries_the_writer_object() {
    let out = common::pklinspect()
        .args(["explain", "--format", "json"])
        .arg(common::fixture("sklearn/np2_pipeline_p5.pkl"))
        .output()
        .unwrap();
    let (doc, _) = common::json_and_code(&out);
    let w = &doc["writer"];
    assert_eq!(w["versions"][0]["package"], "scikit-learn");
    assert_eq!(
        w["versions"][0]["version"],
        pin("requirements-numpy2.txt", "scikit-learn")
    );
    assert_eq!(
        w["versions"][0]["paths"][1],
        "$.steps[0][1]._sklearn_version"
    );
    assert_eq!(w["numpy"]["fact"], "numpy-2-numeric");
    assert_eq!(w["numpy"]["requires"], "numpy>=2");
    assert_eq!(w["min_python"]["version"], "3.8");
    let specs: Vec<&str> = w["requirements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["spec"].as_str().unwrap())
        .collect();
    assert_eq!(specs, ["scikit-learn==1.9.1", "numpy>=2", "python>=3.8"]);
    assert!(w["facts"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["source"].is_string()));
}
