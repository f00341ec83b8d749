//! Per-loader verdicts (issue 14): `explain`'s `loaders` against real loaders. Each torch
//! fixture's sidecar records what the real `torch.load(weights_only=True)` (torch 2.15.0)
//! refused, allowing each refusal in turn; hand-written hostile pickles carry torch's
//! answer as a constant (CI has no torch).

mod common;

use std::path::{Path, PathBuf};

use common::{fixture, fixtures_dir, pklinspect, sidecar};
use serde_json::Value;

fn explain_json(file: &Path) -> Value {
    let out = pklinspect()
        .args(["explain", "--format", "json"])
        .arg(file)
        .output()
        .unwrap();
    common::json_and_code(&out).0
}

fn loader<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["loaders"]
        .as_array()
        .unwrap_or_else(|| panic!("no loaders in {doc}"))
        .iter()
        .find(|l| l["loader"] == name)
        .unwrap_or_else(|| panic!("no {name} in {}", doc["loaders"]))
}

const TORCH: &str = "torch.load(weights_only=True)";

/// `(kind, global)` of each refusal an allowlist fixes, in order.
fn refusals(torch: &Value) -> Vec<(String, String)> {
    torch["refuses"]
        .as_array()
        .map(|a| a.as_slice())
        .unwrap_or_default()
        .iter()
        .filter(|r| r["kind"] != "stop")
        .map(|r| {
            (
                r["kind"].as_str().unwrap().to_string(),
                r["global"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn stops(torch: &Value) -> Vec<String> {
    torch["refuses"]
        .as_array()
        .map(|a| a.as_slice())
        .unwrap_or_default()
        .iter()
        .filter(|r| r["kind"] == "stop")
        .map(|r| r["message"].as_str().unwrap().to_string())
        .collect()
}

/// Every torch fixture, and `tests/data/loaders`: the plain pickle of a state_dict (the
/// fixture walkers do not list nested tensors) and a checkpoint holding a class the table
/// does not know (the fixture corpus has none in a valid file).
fn torch_fixtures() -> Vec<PathBuf> {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/loaders");
    let mut files: Vec<PathBuf> = [fixtures_dir().join("torch"), data]
        .iter()
        .flat_map(|d| std::fs::read_dir(d).unwrap())
        .map(|e| e.unwrap().path())
        .filter(|p| !p.to_string_lossy().ends_with(".json"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_torch_fixture_lists_the_refusals_real_torch_gave_in_order() {
    let files = torch_fixtures();
    assert!(files.len() >= 15, "{files:?}");
    for file in files {
        let truth = sidecar(&file);
        let expected: Vec<(String, String)> = truth["weights_only_refusals"]
            .as_array()
            .unwrap_or_else(|| panic!("{}: no weights_only_refusals", file.display()))
            .iter()
            .map(|r| {
                (
                    r["kind"].as_str().unwrap().to_string(),
                    r["name"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        let doc = explain_json(&file);
        let torch = loader(&doc, TORCH);
        assert_eq!(refusals(torch), expected, "{}", file.display());
        // torch's final error, when no allowlist fixes it: ours stops on the same message,
        // or (a plain pickle) says it is not a torch.save file.
        let loads = torch["loads"].as_str().unwrap();
        match truth["weights_only_error"].as_str() {
            None if expected.is_empty() => assert_eq!(loads, "yes", "{}", file.display()),
            // Loads once allowed; pklinspect suggests that unless something refused is
            // not vetted (then it says no).
            None => {
                let vetted = torch["refuses"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|r| r["allow"] == true);
                let want = if vetted { "only-with" } else { "no" };
                assert_eq!(loads, want, "{}", file.display());
            }
            Some(error) => {
                assert_eq!(loads, "no", "{}", file.display());
                let ours = stops(torch);
                match ours.first() {
                    Some(stop) => assert!(error.ends_with(stop.as_str()), "{error} vs {stop}"),
                    None => {
                        assert!(error.contains("Invalid magic number"), "{error}");
                        assert!(torch["summary"].as_str().unwrap().contains("magic number"));
                    }
                }
            }
        }
    }
}

#[test]
fn a_fairseq_checkpoint_needs_exactly_four_globals_one_in_no_global_opcode() {
    let file = PathBuf::from(fixture("torch/fairseq_checkpoint.pt"));
    let doc = explain_json(&file);
    let torch = loader(&doc, TORCH);
    assert_eq!(torch["loads"], "only-with");
    let got = refusals(torch);
    let names: Vec<&str> = got.iter().map(|(_, n)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "argparse.Namespace",
            "numpy._core.multiarray.scalar",
            "numpy.dtype",
            "numpy.dtypes.Float64DType"
        ]
    );
    // The dtype class is reached only through BUILD: no GLOBAL opcode names it.
    let globals = common::sidecar_globals(&sidecar(&file));
    assert!(!globals
        .iter()
        .any(|(m, n)| m == "numpy.dtypes" && n == "Float64DType"));
    assert_eq!(got[3].0, "type");
    let dtype = &torch["refuses"][3];
    assert_eq!(dtype["paths"][0], "$[\"best_loss\"]");
    assert_eq!(torch["refuses"][0]["paths"][0], "$[\"args\"]");
    assert!(torch["refuses"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["allow"] == true && r["offset"].is_u64()));
    assert!(torch["fix"]
        .as_str()
        .unwrap()
        .ends_with("--emit torch-safe-globals"));
}

#[test]
fn a_checkpoint_of_tensors_in_an_ordered_dict_loads_as_is() {
    let doc = explain_json(Path::new(&fixture("torch/ordered_tensors.pt")));
    let torch = loader(&doc, TORCH);
    assert_eq!(torch["loads"], "yes");
    assert!(torch.get("refuses").is_none());
    let out = pklinspect()
        .args(["explain", "--emit", "torch-safe-globals"])
        .arg(fixture("torch/ordered_tensors.pt"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("# ") && text.contains("as is"), "{text}");
    assert!(!text.contains("add_safe_globals"), "{text}");
}

#[test]
fn emit_torch_safe_globals_prints_the_snippet_for_the_fairseq_checkpoint() {
    let out = pklinspect()
        .args(["explain", "--emit", "torch-safe-globals"])
        .arg(fixture("torch/fairseq_checkpoint.pt"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    for line in [
        "import argparse\n",
        "import numpy\n",
        "import numpy._core.multiarray\n",
        "import torch\n",
        "    (argparse.Namespace, \"argparse.Namespace\"),\n",
        "    (numpy._core.multiarray.scalar, \"numpy._core.multiarray.scalar\"),\n",
        "    (numpy.dtype, \"numpy.dtype\"),\n",
        "    type(numpy.dtype('f8')),  # numpy.dtypes.Float64DType\n",
        "torch.serialization.add_safe_globals(SAFE_GLOBALS)\n",
        "# with torch.serialization.safe_globals(SAFE_GLOBALS):\n",
    ] {
        assert!(text.contains(line), "{line:?} not in\n{text}");
    }
    // Only the snippet: no explanation around it.
    assert!(!text.contains("Loaders"), "{text}");
}

#[test]
fn the_snippet_is_refused_for_a_file_that_runs_code() {
    for rel in ["hostile/torch_with_system.pt", "hostile/os_system_p2.pkl"] {
        let out = pklinspect()
            .args(["explain", "--emit", "torch-safe-globals"])
            .arg(fixture(rel))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{rel}");
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert!(!stdout.contains("add_safe_globals"), "{rel}: {stdout}");
        assert!(!stdout.contains("system"), "{rel}: {stdout}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(stderr.contains("posix"), "{rel}: {stderr}");
        let doc = explain_json(Path::new(&fixture(rel)));
        assert_eq!(loader(&doc, TORCH)["loads"], "no", "{rel}");
    }
}

#[test]
fn a_class_pklinspect_does_not_know_is_never_suggested() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/loaders/unknown_class.pt")
        .to_string_lossy()
        .into_owned();
    let doc = explain_json(Path::new(&file));
    let torch = loader(&doc, TORCH);
    assert_eq!(
        refusals(torch),
        [("global".to_string(), "acme_models.TrainConfig".to_string())]
    );
    assert_eq!(torch["refuses"][0]["allow"], false);
    assert_eq!(torch["refuses"][0]["paths"][0], "$[\"config\"]");
    assert_eq!(torch["loads"], "no");
    let out = pklinspect()
        .args(["explain", "--emit", "torch-safe-globals", &file])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("acme_models.TrainConfig: unknown to pklinspect"),
        "{stderr}"
    );
}

#[test]
fn numpy_load_without_pickles_refuses_object_arrays_and_loads_plain_ones() {
    let object = explain_json(Path::new(&fixture("numpy2/object.npy")));
    let np = loader(&object, "numpy.load(allow_pickle=False)");
    assert_eq!(np["loads"], "no");
    assert!(np["summary"]
        .as_str()
        .unwrap()
        .contains("allow_pickle=False"));
    assert_eq!(
        loader(&object, "numpy.load(allow_pickle=True)")["loads"],
        "only-with"
    );
    let plain = explain_json(Path::new(&fixture("numpy2/plain_f8.npy")));
    assert_eq!(
        loader(&plain, "numpy.load(allow_pickle=False)")["loads"],
        "yes"
    );
    assert_eq!(plain["loaders"].as_array().unwrap().len(), 1);
    // A pickle is no .npy: numpy refuses it without allow_pickle.
    let pickle = explain_json(Path::new(&fixture("sklearn/np2_linear_regression_p4.pkl")));
    assert_eq!(
        loader(&pickle, "numpy.load(allow_pickle=False)")["loads"],
        "no"
    );
}

#[test]
fn pickle_loaders_name_the_pip_packages_and_the_user_modules() {
    let doc = explain_json(Path::new(&fixture("sklearn/np2_linear_regression_p4.pkl")));
    let pickle = loader(&doc, "pickle.load");
    assert_eq!(pickle["loads"], "only-with");
    let pips: Vec<&str> = pickle["requirements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["pip_name"].as_str().unwrap())
        .collect();
    assert!(
        pips.contains(&"scikit-learn") && pips.contains(&"numpy"),
        "{pips:?}"
    );
    // The writer facts give each package's version: sklearn the one recorded in the
    // estimator's state, numpy the generation its names need.
    let versions: Vec<(&str, &str)> = pickle["requirements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["pip_name"].as_str().unwrap(),
                r["version"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert!(
        versions.contains(&("scikit-learn", "==1.9.1")),
        "{versions:?}"
    );
    // Its numpy names are the ones numpy 1.26.1 stubs (`multiarray`), not `numeric`.
    assert!(versions.contains(&("numpy", ">=1.26.1")), "{versions:?}");
    assert!(
        pickle["summary"]
            .as_str()
            .unwrap()
            .contains("scikit-learn==1.9.1"),
        "{pickle}"
    );
    let joblib = loader(&doc, "joblib.load");
    assert_eq!(joblib["requirements"][0]["pip_name"], "joblib");

    let doc = explain_json(Path::new(&fixture("main/np2_data_wrapper_p4.pkl")));
    let pickle = loader(&doc, "pickle.load");
    assert_eq!(pickle["user_modules"][0], "__main__");
}

/// Hand-written pickles, with what the real torch 2.15.0 said when each refusal was
/// allowed in turn (`torch.load(io.BytesIO(data), weights_only=True)`; a plain pickle is
/// read as the legacy format's magic number, so torch's weights-only unpickler runs on it
/// and, once it returns, torch fails with "Invalid magic number; corrupt file?").
struct Case {
    name: &'static str,
    bytes: &'static [u8],
    /// torch's refusals an allowlist fixed, in order.
    refused: &'static [(&'static str, &'static str)],
    /// torch's final message when nothing fixed it (`None`: the magic-number check).
    stop: Option<&'static str>,
}

const CASES: &[Case] = &[
    Case {
        // torch.serialization._get_layout is allowed, but BUILD on the layout it returns is
        // not: the type appears in no GLOBAL opcode.
        name: "build_on_an_allowed_call_result",
        bytes: b"\x80\x02ctorch.serialization\n_get_layout\nX\x0d\x00\x00\x00torch.stridedq\x00\x85Rq\x01}q\x02b.",
        refused: &[("type", "torch.layout")],
        stop: None,
    },
    Case {
        name: "newobj_of_a_list",
        bytes: b"\x80\x02]q\x00)\x81.",
        refused: &[],
        stop: Some("Can only create new object for nn.Parameter or classes allowlisted via `add_safe_globals` but got"),
    },
    Case {
        name: "reduce_of_a_list",
        bytes: b"\x80\x02]q\x00)R.",
        refused: &[],
        stop: Some("Trying to call reduce for unrecognized function"),
    },
    Case {
        name: "persistent_id_outside_a_checkpoint",
        bytes: b"\x80\x02X\x07\x00\x00\x00storageq\x00\x85Q.",
        refused: &[],
        stop: Some("unsupported persistent id encountered"),
    },
    Case {
        name: "posix_system",
        bytes: b"\x80\x02cposix\nsystem\nX\x02\x00\x00\x00hiq\x00\x85R.",
        refused: &[],
        stop: Some("Trying to load unsupported GLOBAL posix.system whose module posix is blocked."),
    },
    Case {
        name: "inst",
        bytes: b"(icollections\nOrderedDict\n.",
        refused: &[],
        stop: Some("Unsupported operand 105"),
    },
    Case {
        name: "append_to_a_dict",
        bytes: b"\x80\x02}q\x00Na.",
        refused: &[],
        stop: Some("Can only append to lists, but got <class 'dict'>"),
    },
    Case {
        // NEWOBJ of an allowlisted class, BUILD on it, then a call result's type, then an
        // opcode torch does not read (LIST).
        name: "namespace_then_layout_then_list",
        bytes: b"\x80\x02cargparse\nNamespace\n)\x81}b(ctorch.serialization\n_get_layout\nX\x0d\x00\x00\x00torch.strided\x85R}bl.",
        refused: &[("global", "argparse.Namespace"), ("type", "torch.layout")],
        stop: Some("Unsupported operand 108"),
    },
];

#[test]
fn hand_written_routes_are_refused_as_real_torch_refuses_them() {
    let dir = tempfile::tempdir().unwrap();
    for case in CASES {
        let file = dir.path().join(format!("{}.pkl", case.name));
        std::fs::write(&file, case.bytes).unwrap();
        let doc = explain_json(&file);
        let torch = loader(&doc, TORCH);
        let expected: Vec<(String, String)> = case
            .refused
            .iter()
            .map(|(k, n)| (k.to_string(), n.to_string()))
            .collect();
        assert_eq!(refusals(torch), expected, "{}", case.name);
        let ours = stops(torch);
        match case.stop {
            Some(stop) => assert!(
                ours.first().is_some_and(|s| s.starts_with(stop)),
                "{}: {ours:?}",
                case.name
            ),
            None => assert!(ours.is_empty(), "{}: {ours:?}", case.name),
        }
        assert_eq!(torch["loads"], "no", "{}", case.name);
        // A type no vetted row covers is never suggested.
        for r in torch["refuses"].as_array().unwrap() {
            if r["global"] == "torch.layout" {
                assert_eq!(r["allow"], false, "{}", case.name);
            }
        }
    }
}

#[test]
fn the_text_explanation_has_a_loaders_section() {
    let out = pklinspect()
        .arg("explain")
        .arg(fixture("torch/fairseq_checkpoint.pt"))
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("\nLoaders\n"), "{text}");
    // The headline does not let "portable" stand alone for a file torch's default refuses.
    assert!(
        text.lines().next().unwrap().ends_with(
            "loads anywhere (but torch.load's default, weights_only=True, refuses it: see Loaders)"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "✗ torch.load(weights_only=True): refuses argparse.Namespace, \
             numpy._core.multiarray.scalar, numpy.dtype (+1 more) — fix: pklinspect explain "
        ),
        "{text}"
    );
}

/// torch writes legacy float8 files it cannot read back in either mode: the headline says
/// so rather than "loads anywhere" with only the weights_only caveat.
#[test]
fn a_file_torch_cannot_read_in_either_mode_says_so_in_the_headline() {
    let out = pklinspect()
        .arg("explain")
        .arg(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/data/loaders_diff/torch/dtype_float8_e4m3fn_legacy.pt"),
        )
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.lines()
            .next()
            .unwrap()
            .ends_with("(but torch.load fails on it with either weights_only: see Loaders)"),
        "{text}"
    );
}

#[test]
fn a_stack_deeper_than_torch_save_writes_stops_the_model_not_the_process() {
    // 200,000 nested empty lists (torch itself would read on: it keeps no limit).
    let mut p = b"\x80\x02".to_vec();
    p.extend(std::iter::repeat_n(b']', 200_000));
    p.extend(std::iter::repeat_n(b'a', 199_999));
    p.push(b'.');
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("deep.pkl");
    std::fs::write(&file, &p).unwrap();
    let doc = explain_json(&file);
    let torch = loader(&doc, TORCH);
    assert_eq!(torch["loads"], "no");
    let stop = &stops(torch)[0];
    assert!(
        stop.contains("models torch's unpickler no further"),
        "{stop}"
    );
}

/// torch >= 2.1 writes legacy files of uint16/32/64 with an untyped storage, whose record
/// counts bytes: they are read and explained (was: exit 2, "6 elements of 2 bytes go past
/// the end"), and their arrays are the zip-format file's.
#[test]
fn legacy_untyped_storages_count_bytes() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/loaders_diff/torch");
    for dtype in ["uint16", "uint32", "uint64"] {
        let legacy = dir.join(format!("dtype_{dtype}_legacy.pt"));
        let zip = dir.join(format!("dtype_{dtype}.pt"));
        let arrays = |file: &Path| -> Value {
            let out = pklinspect()
                .args(["explain", "--format", "json"])
                .arg(file)
                .output()
                .unwrap();
            assert_eq!(out.status.code(), Some(0), "{}", file.display());
            let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
            doc["pickles"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|p| p["arrays"].as_array().unwrap())
                .map(|a| serde_json::json!([a["dtype"], a["shape"], a["extractable"]]))
                .collect()
        };
        let got = arrays(&legacy);
        assert_eq!(got, arrays(&zip), "{dtype}");
        assert!(got.as_array().is_some_and(|a| !a.is_empty()), "{dtype}");
    }
}
