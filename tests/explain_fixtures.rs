//! `explain` on every fixture, against the generator's ground truth (CPython's globals,
//! numpy's arrays), plus the scenarios the product exists for, by name.

mod common;

use std::collections::BTreeMap;

use pklinspect::classify::{Category, Verdict};
use pklinspect::inspect::{inspect, Options};
use pklinspect::report::Report;
use pklinspect::rules::Rule;
use serde_json::{json, Value};

fn explain(rel: &str) -> Report {
    let path = common::fixtures_dir().join(rel);
    let bytes = std::fs::read(&path).unwrap();
    inspect(rel, &bytes, &Options::default()).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// `(pickle index or -1, path)` → array facts, for a report and for a sidecar.
fn report_arrays(report: &Report) -> BTreeMap<(i64, String), Value> {
    let mut out = BTreeMap::new();
    for a in &report.arrays {
        out.insert((-1, a.path.clone()), array_facts(a));
    }
    for (i, p) in report.pickles.iter().enumerate() {
        for a in &p.arrays {
            out.insert((i as i64, a.path.clone()), array_facts(a));
        }
    }
    out
}

fn array_facts(a: &pklinspect::report::ArrayReport) -> Value {
    json!({"dtype": a.dtype.descr().to_json(), "shape": a.shape, "fortran_order": a.fortran_order, "nbytes": a.nbytes})
}

fn sidecar_arrays(truth: &Value) -> BTreeMap<(i64, String), Value> {
    truth["arrays"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let pickle = a["pickle"].as_i64().unwrap_or(-1);
            (
                (pickle, a["path"].as_str().unwrap().to_string()),
                json!({"dtype": a["dtype"], "shape": a["shape"], "fortran_order": a["fortran_order"], "nbytes": a["nbytes"]}),
            )
        })
        .collect()
}

#[test]
fn every_fixture_explains_as_its_ground_truth_says() {
    let mut failures = Vec::new();
    let mut explained = 0;
    for file in common::fixture_files() {
        let truth = common::sidecar(&file);
        let rel = file
            .strip_prefix(common::fixtures_dir())
            .unwrap()
            .display()
            .to_string();
        let bytes = std::fs::read(&file).unwrap();
        let result = inspect(&rel, &bytes, &Options::default());
        if truth["status"] == "malformed" {
            let cpython_fails = !truth["error"].is_null();
            let we_fail = match &result {
                Err(_) => true,
                Ok(r) => r
                    .findings
                    .iter()
                    .any(|f| f.rule == Rule::TrailingData && f.message.contains("not a pickle:")),
            };
            if cpython_fails != we_fail {
                failures.push(format!(
                    "{rel}: CPython {}, we {}",
                    truth["error"],
                    if we_fail { "fail" } else { "succeed" }
                ));
            }
            continue;
        }
        let report = match result {
            Ok(r) => r,
            Err(e) => {
                failures.push(format!("{rel}: {e}"));
                continue;
            }
        };
        explained += 1;
        // Container, as the generator named it.
        if report.container != truth["container"] {
            failures.push(format!(
                "{rel}: container {} vs {}",
                report.container, truth["container"]
            ));
        }
        // Arrays: path, dtype, shape, order, size — as numpy sees them.
        let (ours, theirs) = (report_arrays(&report), sidecar_arrays(&truth));
        if ours != theirs {
            failures.push(format!(
                "{rel}: arrays\n   ours  {ours:?}\n   numpy {theirs:?}"
            ));
        }
        // Imports: every global CPython's find_class saw, as written in the stream.
        let described_ext = common::uses_extension_codes(&truth);
        if !described_ext {
            let mut ours: Vec<(String, String)> = Vec::new();
            // Nested payloads' pickles (`nested@…`) are not what the outer find_class saw.
            let own = report.pickles.iter().filter(|p| {
                !p.member
                    .as_deref()
                    .is_some_and(|m| m.contains("nested@") || m.contains("reading@"))
            });
            for p in own {
                for i in &p.imports {
                    let g = (i.module.clone(), i.name.clone());
                    if !ours.contains(&g) {
                        ours.push(g);
                    }
                }
            }
            let theirs = common::sidecar_globals(&truth);
            if ours != theirs {
                failures.push(format!(
                    "{rel}: imports\n   ours    {ours:?}\n   CPython {theirs:?}"
                ));
            }
        }
        // EXT codes resolve through the loading process's registry: the same bytes are
        // benign or hostile depending on it, so the verdict is non-portable and an
        // extension-ref finding says what the code could be.
        if described_ext {
            let flagged = report.findings.iter().any(|f| f.rule == Rule::ExtensionRef);
            if report.verdict != Verdict::NonPortable || !flagged {
                failures.push(format!(
                    "{rel}: EXT file gave {} / {flagged}",
                    report.verdict.as_str()
                ));
            }
            continue;
        }
        // Code-executing files are dangerous; no valid file is.
        let dangerous = report.verdict == Verdict::Dangerous;
        if dangerous != (truth["status"] == "code-exec") {
            failures.push(format!(
                "{rel}: verdict {} for a {} file",
                report.verdict.as_str(),
                truth["status"]
            ));
        }
    }
    assert!(explained > 200, "{explained}");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn import<'r>(
    report: &'r Report,
    module: &str,
    name: &str,
) -> &'r pklinspect::report::ImportReport {
    report
        .pickles
        .iter()
        .flat_map(|p| p.imports.iter())
        .find(|i| i.module == module && i.name == name)
        .unwrap_or_else(|| panic!("no import {module}.{name}"))
}

#[test]
fn a_pickled_timeseries_generator_needs_its_library_and_shows_its_parameters() {
    for rel in [
        "keras/np2_timeseries_generator_p4.pkl",
        "keras/np1_timeseries_generator_p2.pkl",
    ] {
        let report = explain(rel);
        assert_eq!(report.verdict, Verdict::NeedsLibraries, "{rel}");
        let generator = import(
            &report,
            "keras_preprocessing.sequence",
            "TimeseriesGenerator",
        );
        assert_eq!(generator.category, Category::Library);
        assert_eq!(generator.paths, ["$"]);
        let arrays: Vec<_> = report.pickles[0]
            .arrays
            .iter()
            .map(|a| (a.path.as_str(), a.shape.clone()))
            .collect();
        assert_eq!(arrays, [("$.data", vec![100, 1]), ("$.targets", vec![100])]);
        let hint = &report.portable_hints[0];
        assert_eq!(hint.path, "$");
        let params: BTreeMap<_, _> = hint.parameters.iter().cloned().collect();
        assert_eq!(params["length"], "10");
        assert_eq!(params["batch_size"], "8");
        assert_eq!(hint.arrays[0].0, "data");
        assert_eq!(hint.arrays[0].1, "$.data");
    }
}

#[test]
fn a_main_dataclass_holding_an_array_is_user_defined() {
    for rel in [
        "main/np2_data_wrapper_p4.pkl",
        "main/np1_data_wrapper_p0.pkl",
    ] {
        let report = explain(rel);
        assert_eq!(report.verdict, Verdict::NonPortable, "{rel}");
        let wrapper = import(&report, "__main__", "DataWrapper");
        assert_eq!(wrapper.category, Category::UserDefined);
        assert_eq!(wrapper.paths, ["$"]);
        assert!(report.pickles[0].arrays.iter().any(|a| a.path == "$.data"));
        let finding = report
            .findings
            .iter()
            .find(|f| f.rule == Rule::UserDefined)
            .unwrap();
        assert_eq!(finding.path.as_deref(), Some("$"));
        assert_eq!(finding.offset, Some(wrapper.offset));
    }
}

#[test]
fn plain_arrays_are_portable() {
    for rel in [
        "numpy2/float64_2d_p4.pkl",
        "numpy1/all_dtypes_p2.pkl",
        "numpy2/plain_f8.npy",
        "numpy2/two_arrays.npz",
    ] {
        let report = explain(rel);
        assert_eq!(
            report.verdict,
            Verdict::Portable,
            "{rel}: {:?}",
            report.findings
        );
    }
}

#[test]
fn numpy_2_names_are_flagged_for_numpy_1_users() {
    // numpy 1.26 reads numpy 2's _reconstruct pickles (it ships numpy._core.multiarray),
    // not its protocol-5 ones (numpy._core.numeric): checked with numpy 1.26.4.
    let message = |rel: &str| {
        let report = explain(rel);
        let f = report
            .findings
            .iter()
            .find(|f| f.rule == Rule::Numpy2Only)
            .cloned();
        f.map(|f| f.message).unwrap_or_default()
    };
    assert!(message("numpy2/float64_2d_p4.pkl").contains("numpy >= 1.26"));
    assert!(message("numpy2/float64_2d_p5.pkl").contains("numpy >= 2"));
    let report = explain("numpy1/float64_2d_p4.pkl");
    assert!(!report.findings.iter().any(|f| f.rule == Rule::Numpy2Only));
}

#[test]
fn every_malicious_delivery_route_is_dangerous_with_the_culprit_named() {
    let routes = [
        ("hostile/os_system_p0.pkl", "system"),
        ("hostile/os_system_p2.pkl", "system"),
        ("hostile/os_system_p4.pkl", "system"),
        ("hostile/inst_os_system.pkl", "system"),
        ("hostile/obj_posix_system.pkl", "system"),
        ("hostile/eval_p0.pkl", "eval"),
        ("hostile/eval_p4.pkl", "eval"),
        ("hostile/exec_p3.pkl", "exec"),
        ("hostile/builtin_eval_p0_handwritten.pkl", "eval"),
        ("hostile/stack_global_builtins_import.pkl", "__import__"),
        ("hostile/getattr_chain.pkl", "getattr"),
        ("hostile/subprocess_popen_p4.pkl", "Popen"),
        ("hostile/runpy_run_code_p4.pkl", "_run_code"),
        ("hostile/nested_pickle_loads_p4.pkl", "loads"),
        ("hostile/benign_then_system.pkl", "system"),
        ("hostile/joblib_with_system.joblib", "system"),
        ("hostile/torch_with_system.pt", "system"),
    ];
    for (rel, name) in routes {
        let report = explain(rel);
        assert_eq!(report.verdict, Verdict::Dangerous, "{rel}");
        let finding = report
            .findings
            .iter()
            .find(|f| f.rule == Rule::CodeExec && f.name.as_deref() == Some(name))
            .unwrap_or_else(|| {
                panic!(
                    "{rel}: no code-exec finding for {name}: {:?}",
                    report.findings
                )
            });
        assert!(finding.offset.is_some(), "{rel}");
    }
}

#[test]
fn look_alikes_are_not_flagged() {
    // A string that says os.system, posixpath.join, a __main__ function called system,
    // and an OrderedDict: none of them runs code on load.
    let cases: &[(&[u8], Verdict)] = &[
        (
            b"\x80\x04\x95\x0d\x00\x00\x00\x00\x00\x00\x00\x8c\x09os.system\x94.",
            Verdict::Portable,
        ),
        (b"cposixpath\njoin\n(S'a'\nS'b'\ntR.", Verdict::Portable),
        (b"c__main__\nsystem\n(S'ls'\ntR.", Verdict::NonPortable),
        (
            b"\x80\x02ccollections\nOrderedDict\n)R}b.",
            Verdict::Portable,
        ),
    ];
    for (bytes, want) in cases {
        let report = inspect("case", bytes, &Options::default()).unwrap();
        assert_eq!(report.verdict, *want, "{bytes:?}");
        assert!(
            !report.findings.iter().any(|f| f.rule == Rule::CodeExec),
            "{bytes:?}"
        );
    }
}

#[test]
fn code_hidden_after_trailing_garbage_is_reported_as_unreachable() {
    let mut bytes = b"\x80\x04N.".to_vec();
    bytes.extend_from_slice(b"\x00\x00garbage");
    bytes.extend_from_slice(b"\x80\x02cposix\nsystem\nX\x02\x00\x00\x00ls\x85R.");
    let report = inspect("hidden", &bytes, &Options::default()).unwrap();
    assert!(report.findings.iter().any(|f| f.rule == Rule::TrailingData));
    let hidden = report
        .findings
        .iter()
        .find(|f| f.rule == Rule::UnreachablePayload)
        .unwrap();
    assert_eq!(hidden.name.as_deref(), Some("system"));
    // Not reachable by a loader: the verdict follows what loads.
    assert_eq!(report.verdict, Verdict::Portable);
}

#[test]
fn torch_checkpoints_list_their_tensors_with_storage_places() {
    for rel in ["torch/state_dict.pt", "torch/state_dict_legacy.pt"] {
        let report = explain(rel);
        let arrays: Vec<_> = report
            .pickles
            .iter()
            .flat_map(|p| p.arrays.iter())
            .collect();
        assert!(!arrays.is_empty(), "{rel}");
        for a in arrays {
            assert!(
                a.unavailable.is_none(),
                "{rel} {}: {:?}",
                a.path,
                a.unavailable
            );
            assert!(a.offset.is_some(), "{rel} {}", a.path);
        }
    }
}

#[test]
fn a_tensorflow_tensor_is_a_runtime_handle_with_its_array() {
    for rel in [
        "runtime/tf_eager_tensor_p2.pkl",
        "runtime/tf_eager_tensor_p4.pkl",
    ] {
        let report = explain(rel);
        assert_eq!(report.verdict, Verdict::NonPortable, "{rel}");
        let convert = import(
            &report,
            "tensorflow.python.framework.ops",
            "convert_to_tensor",
        );
        assert_eq!(convert.category, Category::RuntimeHandle);
        assert_eq!(convert.paths, ["$[\"logits\"]"]);
        let array = &report.pickles[0].arrays[0];
        assert_eq!(array.path, "$[\"logits\"].__args__[0]");
        assert_eq!(array.shape, [2, 3]);
        assert!(report
            .findings
            .iter()
            .any(|f| f.rule == Rule::RuntimeHandle && f.path.as_deref() == Some("$[\"logits\"]")));
    }
}

#[test]
fn joblib_files_with_and_without_the_alignment_padding_byte() {
    // joblib >= 1.2 writes a padding byte before each array's data; joblib <= 1.1 did not.
    for rel in [
        "joblib/np2_arrays.joblib",
        "joblib/np2_arrays_joblib11_layout.joblib",
    ] {
        let report = explain(rel);
        assert_eq!(report.container, "joblib");
        let arrays = &report.pickles[0].arrays;
        assert!(arrays.len() >= 8, "{rel}");
        assert!(arrays
            .iter()
            .filter(|a| !a.dtype.has_object())
            .all(|a| a.unavailable.is_none() && a.offset.is_some()));
    }
}

#[test]
fn a_pickle_planted_beside_a_torch_checkpoint_is_inspected_too() {
    // state_dict.pt plus archive member `<prefix>/extra.pkl` holding posix.system(...).
    use std::io::{Read, Write};
    let original = std::fs::read(common::fixtures_dir().join("torch/state_dict.pt")).unwrap();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(&original)).unwrap();
    let mut out = std::io::Cursor::new(Vec::new());
    let mut writer = zip::ZipWriter::new(&mut out);
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let mut prefix = String::new();
    for i in 0..archive.len() {
        let mut member = archive.by_index(i).unwrap();
        let name = member.name().unwrap().to_string();
        prefix = name.split('/').next().unwrap().to_string();
        let mut data = Vec::new();
        member.read_to_end(&mut data).unwrap();
        writer.start_file(name, stored).unwrap();
        writer.write_all(&data).unwrap();
    }
    writer
        .start_file(format!("{prefix}/extra.pkl"), stored)
        .unwrap();
    writer
        .write_all(b"\x80\x02cposix\nsystem\nX\x02\x00\x00\x00ls\x85R.")
        .unwrap();
    writer.finish().unwrap();
    let bytes = out.into_inner();
    let report = inspect("planted.pt", &bytes, &Options::default()).unwrap();
    assert_eq!(report.container, "torch-zip");
    assert_eq!(report.verdict, Verdict::Dangerous);
    let finding = report
        .findings
        .iter()
        .find(|f| f.rule == Rule::CodeExec)
        .unwrap();
    assert_eq!(
        finding.member.as_deref(),
        Some(format!("{prefix}/extra.pkl").as_str())
    );
    // Its tensors are still all there, from data.pkl.
    assert!(report.pickles[0].arrays.len() >= 4);
}
