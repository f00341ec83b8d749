//! `extract --to python -o DIR`: `rebuild.py`'s `load()` gives back an object equal to the
//! one the pickle holds, checked in Python against the original loaded with pickle or
//! joblib in the same interpreter (keras-preprocessing TimeseriesGenerator: same `len()`
//! and every batch identical; `__main__.DataWrapper`: attributes byte-equal; scikit-learn:
//! predictions and `get_params()` equal); a torch `state_dict`'s `.npy` files against the
//! fixture sidecar's hashes (CI has no torch; `rebuild.py` itself runs under torch only
//! when `PKLINSPECT_TORCH_PYTHON` names a Python that has it). Refusals: a file that runs
//! code, an existing non-empty folder (exit 2, nothing written).

mod common;

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Runs `extract --to python` on a fixture into a fresh folder under `tmp`.
fn rebuild(fixture: &str, tmp: &Path) -> PathBuf {
    let dir = tmp.join(fixture.replace('/', "_"));
    let out = common::pklinspect()
        .args(["extract", "-q"])
        .arg(common::fixture(fixture))
        .args(["--to", "python", "-o"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{fixture}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}

/// Python that imports `DIR/rebuild.py` as a module (`rebuilt(dir)`) and loads the
/// original (`original(path)`) with joblib or pickle.
const PRELUDE: &str = r#"
import importlib.util, pickle, sys
import numpy as np

def rebuilt(d):
    spec = importlib.util.spec_from_file_location("rebuild", d + "/rebuild.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.load()

def original(path):
    if path.endswith(".joblib"):
        import joblib
        return joblib.load(path)
    with open(path, "rb") as f:
        return pickle.load(f)

def same_array(a, b, what):
    assert type(a) is type(b), (what, type(a), type(b))
    assert a.dtype == b.dtype and a.shape == b.shape, (what, a.dtype, b.dtype)
    assert a.tobytes() == b.tobytes(), what
"#;

fn check(python: std::process::Command, script: &str, pairs: &[(String, PathBuf)]) {
    let mut args = Vec::new();
    for (fixture, dir) in pairs {
        args.push(common::fixture(fixture));
        args.push(dir.display().to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = common::run_python(python, &format!("{PRELUDE}\n{script}"), &args);
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        said.lines().filter(|l| l.starts_with("ok ")).count(),
        pairs.len(),
        "{said}"
    );
}

fn fixtures(dir: &str, contains: &str) -> Vec<String> {
    let mut found: Vec<String> = std::fs::read_dir(common::fixtures_dir().join(dir))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(contains) && !n.ends_with(".json"))
        .map(|n| format!("{dir}/{n}"))
        .collect();
    found.sort();
    found
}

#[test]
fn timeseries_generator_rebuilt_by_its_constructor_gives_every_batch_identical() {
    let all = fixtures("keras", "timeseries_generator");
    assert_eq!(all.len(), 8, "np1 and np2, protocols 2, 4, 5 and joblib");
    let Some(python) = common::python_with(&["numpy", "joblib", "keras_preprocessing"]) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let pairs: Vec<(String, PathBuf)> = all
        .iter()
        .map(|f| (f.clone(), rebuild(f, tmp.path())))
        .collect();
    for (_, dir) in &pairs {
        let code = std::fs::read_to_string(dir.join("rebuild.py")).unwrap();
        assert!(code.contains("TimeseriesGenerator("), "{code}");
        assert!(!code.contains("import pickle"), "{code}");
    }
    check(
        python,
        r#"
from keras_preprocessing.sequence import TimeseriesGenerator
args = sys.argv[1:]
for path, d in zip(args[::2], args[1::2]):
    a, b = original(path), rebuilt(d)
    assert type(b) is TimeseriesGenerator and type(a) is type(b)
    assert len(a) == len(b) and len(a) > 0, (len(a), len(b))
    for name in ("start_index", "end_index", "length", "batch_size", "stride"):
        assert getattr(a, name) == getattr(b, name), name
    for i in range(len(a)):
        (xa, ya), (xb, yb) = a[i], b[i]
        same_array(xa, xb, (path, i, "data"))
        same_array(ya, yb, (path, i, "targets"))
    print("ok", path, len(a))
"#,
        &pairs,
    );
}

#[test]
fn a_main_class_is_rebuilt_with_new_and_its_attributes() {
    let all = fixtures("main", "data_wrapper");
    assert_eq!(all.len(), 10, "np1 and np2, protocols 0, 1, 2, 4, 5");
    let Some(python) = common::python_with(&["numpy"]) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let pairs: Vec<(String, PathBuf)> = all
        .iter()
        .map(|f| (f.clone(), rebuild(f, tmp.path())))
        .collect();
    let code = std::fs::read_to_string(pairs[0].1.join("rebuild.py")).unwrap();
    assert!(code.contains("DataWrapper.__new__(DataWrapper)"), "{code}");
    let comments = code.replace("\n    #", "");
    assert!(comments.contains("the class must be importable"), "{code}");
    check(
        python,
        r#"
class DataWrapper:
    """As fixtures/generate.py defines it."""

    def __init__(self, data, labels):
        self.data = data
        self.labels = labels

args = sys.argv[1:]
for path, d in zip(args[::2], args[1::2]):
    a, b = original(path), rebuilt(d)
    assert type(b) is DataWrapper
    assert sorted(vars(a)) == sorted(vars(b)), (vars(a).keys(), vars(b).keys())
    for name in vars(a):
        same_array(getattr(a, name), getattr(b, name), (path, name))
    print("ok", path)
"#,
        &pairs,
    );
}

#[test]
fn a_sklearn_pipeline_predicts_the_same_and_has_the_same_parameters() {
    let mut all = fixtures("sklearn", "pipeline");
    all.extend(fixtures("sklearn", "random_forest"));
    assert_eq!(
        all.len(),
        12,
        "pipeline and random forest, np1 and np2, p4, p5, joblib"
    );
    let Some(python) = common::python_with(&["numpy", "joblib", "sklearn"]) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let pairs: Vec<(String, PathBuf)> = all
        .iter()
        .map(|f| (f.clone(), rebuild(f, tmp.path())))
        .collect();
    let code = std::fs::read_to_string(pairs[0].1.join("rebuild.py")).unwrap();
    assert!(code.contains("_sklearn(Pipeline, {"), "{code}");
    check(
        python,
        r#"
import warnings
X = np.random.default_rng(7).normal(size=(50, 3))

def same_params(a, b):
    pa, pb = a.get_params(), b.get_params()
    assert pa.keys() == pb.keys(), (pa.keys(), pb.keys())
    for k in pa:
        if hasattr(pa[k], "get_params"):
            assert type(pa[k]) is type(pb[k]), k
            same_params(pa[k], pb[k])
        elif k != "steps":
            assert repr(pa[k]) == repr(pb[k]), (k, pa[k], pb[k])

args = sys.argv[1:]
for path, d in zip(args[::2], args[1::2]):
    a = original(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no InconsistentVersionWarning, no other warning
        b = rebuilt(d)
    assert type(a) is type(b)
    same_params(a, b)
    same_array(a.predict(X), b.predict(X), path)
    if hasattr(a, "predict_proba"):
        same_array(a.predict_proba(X), b.predict_proba(X), path)
    print("ok", path)
"#,
        &pairs,
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn a_torch_state_dict_is_npy_files_that_numpy_would_write_and_an_ordered_dict() {
    let tmp = tempfile::tempdir().unwrap();
    for fixture in ["torch/state_dict.pt", "torch/state_dict_legacy.pt"] {
        let dir = rebuild(fixture, tmp.path());
        let truth = common::sidecar(Path::new(&common::fixture(fixture)));
        let arrays = truth["arrays"].as_array().unwrap();
        assert_eq!(arrays.len(), 7);
        let code = std::fs::read_to_string(dir.join("rebuild.py")).unwrap();
        assert!(code.contains("v1 = OrderedDict({"), "{code}");
        for array in arrays {
            let path = array["path"].as_str().unwrap();
            let key: String = serde_json::from_str(
                path.strip_prefix("$[")
                    .and_then(|p| p.strip_suffix(']'))
                    .unwrap(),
            )
            .unwrap();
            let file = format!("{key}.npy");
            let bytes = std::fs::read(dir.join(&file)).unwrap();
            assert_eq!(
                hex(&Sha256::digest(&bytes)),
                array["npy_sha256"].as_str().unwrap(),
                "{fixture} {file}"
            );
            let line = format!("'{key}': torch.from_numpy(_array('{file}')),");
            assert!(code.contains(&line), "{line}\n{code}");
        }
    }
}

/// Runs rebuild.py under torch, against `torch.load` of the original: only where
/// `PKLINSPECT_TORCH_PYTHON` names a Python with torch (CI has none: skipped there).
#[test]
fn a_torch_state_dict_loads_back_equal_under_torch_when_available() {
    let Ok(program) = std::env::var("PKLINSPECT_TORCH_PYTHON") else {
        eprintln!("skipped: set PKLINSPECT_TORCH_PYTHON to a Python with torch");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let pairs: Vec<(String, PathBuf)> = [
        "torch/state_dict.pt",
        "torch/state_dict_legacy.pt",
        "torch/tensors.pt",
        "torch/views.pt",
        "../tests/data/safetensors/float8_v3.pt",
    ]
    .iter()
    .map(|f| (f.to_string(), rebuild(f, tmp.path())))
    .collect();
    check(
        std::process::Command::new(program),
        r#"
import torch

def raw(t):
    t = t.contiguous()
    if t.dtype.is_floating_point and t.dtype.itemsize < 4 and t.dtype != torch.float16:
        t = t.view(torch.uint8)  # bfloat16 and the float8 formats: numpy has no name
    return t.numpy().tobytes()

args = sys.argv[1:]
for path, d in zip(args[::2], args[1::2]):
    a, b = torch.load(path, weights_only=True), rebuilt(d)
    assert type(b) is type(a) and list(a) == list(b), (type(a), type(b))
    for k in a:
        assert a[k].dtype == b[k].dtype and a[k].shape == b[k].shape, k
        assert raw(a[k]) == raw(b[k]), k
    print("ok", path)
"#,
        &pairs,
    );
}

#[test]
fn a_file_that_runs_code_is_refused_and_nothing_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    for fixture in [
        "hostile/os_system_p4.pkl",
        "hostile/eval_p0.pkl",
        "hostile/joblib_with_system.joblib",
        "hostile/getattr_chain.pkl",
    ] {
        let dir = tmp.path().join("out");
        let out = common::pklinspect()
            .args(["extract", "-q"])
            .arg(common::fixture(fixture))
            .args(["--to", "python", "-o"])
            .arg(&dir)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{fixture}: {stderr}");
        assert!(
            stderr.contains("not rebuilt: code-exec")
                || stderr.contains("not rebuilt: unvetted-call"),
            "{fixture}: {stderr}"
        );
        assert!(!dir.exists(), "{fixture}: {} was created", dir.display());
        let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
        assert!(left.is_empty(), "{fixture}: {left:?}");
    }
}

#[test]
fn an_existing_non_empty_folder_is_refused_unless_forced() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("out");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("keep.txt"), "mine").unwrap();
    let run = |force: bool| {
        let mut cmd = common::pklinspect();
        cmd.args(["extract", "-q"])
            .arg(common::fixture("main/np2_data_wrapper_p4.pkl"))
            .args(["--to", "python", "-o"])
            .arg(&dir);
        if force {
            cmd.arg("--force");
        }
        cmd.output().unwrap()
    };
    let out = run(false);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not empty"));
    let names = |d: &Path| {
        let mut n: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        n.sort();
        n
    };
    assert_eq!(names(&dir), ["keep.txt"]);
    assert_eq!(
        std::fs::read_dir(tmp.path()).unwrap().count(),
        1,
        "no staging left"
    );
    let out = run(true);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        names(&dir),
        [
            "data.npy",
            "keep.txt",
            "labels.npy",
            "params.json",
            "rebuild.py"
        ]
    );
}

#[test]
fn plain_values_numpy_scalars_dtypes_and_shared_lists_round_trip_exactly() {
    let Some(python) = common::python_with(&["numpy"]) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let make = r#"
import collections, pickle, sys
import numpy as np
shared = [1, 2]
obj = {
    "tuple": (1, "a", (2.5, None), b"\x00\xff"), "one": (1,),
    "bytes": b"\x00\x01abc", "bytearray": bytearray(b"xy"),
    "big": 2**100, "neg": -2**70, "nan": float("nan"), "inf": float("-inf"),
    "negzero": -0.0, "f": 0.1, "e": 1e300,
    "set": {1, 2}, "frozen": frozenset({"a"}), "complex": complex(1, -2),
    "np_f64": np.float64(1.5), "np_i32": np.int32(-7), "np_bool": np.bool_(True),
    "np_f16": np.float16(0.1),
    "dtype": np.dtype("<f4"), "dtype_be": np.dtype(">i8"), "dtype_u": np.dtype("<U5"),
    "dtype_rec": np.dtype([("a", "<i4"), ("b", "<f8")]),
    "ordered": collections.OrderedDict([("z", 1), ("a", 2)]),
    "nonstr_keys": {1: "one", (2, 3): "tuple"}, "dollar": {"$tuple": 1},
    "arr": np.arange(6, dtype=">i4").reshape(2, 3),
    "fortran": np.asfortranarray(np.arange(6.0).reshape(2, 3)),
    "shared_a": shared, "shared_b": shared, "type": np.float64,
}
for p in range(6):
    with open(f"{sys.argv[1]}/values_p{p}.pkl", "wb") as f:
        pickle.dump(obj, f, protocol=p)
"#;
    let python_again = || common::python_with(&["numpy"]).unwrap();
    common::run_python(python, make, &[tmp.path().to_str().unwrap()]);
    let pairs: Vec<(String, PathBuf)> = (0..6)
        .map(|p| {
            let file = tmp.path().join(format!("values_p{p}.pkl"));
            let dir = tmp.path().join(format!("out{p}"));
            let out = common::pklinspect()
                .args(["extract", "-q"])
                .arg(&file)
                .args(["--to", "python", "-o"])
                .arg(&dir)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            (file.display().to_string(), dir)
        })
        .collect();
    let args: Vec<String> = pairs
        .iter()
        .flat_map(|(f, d)| [f.clone(), d.display().to_string()])
        .collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let compare = r#"
import math
def same(a, b, p):
    assert type(a) is type(b), (p, type(a), type(b))
    if isinstance(a, np.ndarray):
        same_array(a, b, p)
        assert a.flags.f_contiguous == b.flags.f_contiguous, p
    elif isinstance(a, np.generic):
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), p
    elif isinstance(a, np.dtype):
        assert a == b and a.str == b.str and a.descr == b.descr, (p, a, b)
    elif isinstance(a, dict):
        assert list(a) == list(b), (p, list(a), list(b))
        for k in a:
            same(a[k], b[k], f"{p}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), p
        for i, (x, y) in enumerate(zip(a, b)):
            same(x, y, f"{p}[{i}]")
    elif isinstance(a, float):
        assert math.copysign(1, a) == math.copysign(1, b), (p, a, b)
        assert a == b or (a != a and b != b), (p, a, b)
    else:
        assert a == b, (p, a, b)

args = sys.argv[1:]
for path, d in zip(args[::2], args[1::2]):
    a, b = original(path), rebuilt(d)
    same(a, b, "$")
    assert b["shared_a"] is b["shared_b"]
    print("ok", path)
"#;
    let out = common::run_python(python_again(), &format!("{PRELUDE}\n{compare}"), &args);
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        said.lines().filter(|l| l.starts_with("ok ")).count(),
        6,
        "{said}"
    );
}

#[test]
fn pandas_frames_come_back_from_parquet_as_pandas_own_parquet_round_trip_gives_them() {
    let all = [
        "pandas/np1_frame_series_p4.pkl",
        "pandas/np2_frame_series_p2.pkl",
        "pandas/np2_frame_series_p4.pkl",
        "pandas/frames/pd31_series_p4.pkl",
    ];
    let Some(python) = common::python_with(&["numpy", "pandas", "pyarrow"]) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let pairs: Vec<(String, PathBuf)> = all
        .iter()
        .map(|f| (f.to_string(), rebuild(f, tmp.path())))
        .collect();
    for (_, dir) in &pairs {
        let npy = std::fs::read_dir(dir)
            .unwrap()
            .filter(|e| e.as_ref().unwrap().path().extension() == Some("npy".as_ref()))
            .count();
        assert_eq!(npy, 0, "a frame's internal arrays are not written");
    }
    check(
        python,
        r#"
import io
import pandas as pd
args = sys.argv[1:]
for path, d in zip(args[::2], args[1::2]):
    a, b = pd.read_pickle(path), rebuilt(d)
    if not isinstance(a, dict):
        a, b = {"x": a}, {"x": b}
    assert a.keys() == b.keys()
    for k in a:
        buf = io.BytesIO()
        (a[k] if isinstance(a[k], pd.DataFrame) else a[k].to_frame()).to_parquet(buf)
        back = pd.read_parquet(buf)
        if isinstance(a[k], pd.DataFrame):
            pd.testing.assert_frame_equal(back, b[k])
        else:
            pd.testing.assert_series_equal(back.iloc[:, 0], b[k])
            assert a[k].name == b[k].name
    print("ok", path)
"#,
        &pairs,
    );
}

#[test]
fn ndarray_subclasses_are_viewed_as_their_class_or_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = rebuild("benign/numpy/matrix_p4.pkl", tmp.path());
    let code = std::fs::read_to_string(dir.join("rebuild.py")).unwrap();
    assert!(code.contains("_array('root.npy').view(matrix)"), "{code}");
    // numpy 2's StringDType comes out of the pickle as an object array: its dtype would
    // be lost, so it is refused rather than rebuilt wrong.
    let out = common::pklinspect()
        .args(["extract", "-q"])
        .arg(common::fixture("benign/numpy/stringdtype_p4.pkl"))
        .args(["--to", "python", "-o"])
        .arg(tmp.path().join("s"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("_convert_to_stringdtype_kwargs"),
        "{stderr}"
    );
    assert!(!tmp.path().join("s").exists());
    let Some(python) = common::python_with(&["numpy"]) else {
        return;
    };
    check(
        python,
        r#"
args = sys.argv[1:]
for path, d in zip(args[::2], args[1::2]):
    a, b = original(path), rebuilt(d)
    assert type(a) is type(b) is np.matrix
    same_array(a, b, path)
    print("ok", path)
"#,
        &[("benign/numpy/matrix_p4.pkl".to_string(), dir)],
    );
}

#[test]
fn a_parser_differential_is_refused_and_nothing_is_written() {
    // PROTO 4, a FRAME of 4 bytes whose SHORT_BINUNICODE straddles its end: the C file
    // reader runs `builtins.len` after it, pickle.loads does not (tests/differential.rs).
    let mut data = b"\x80\x04\x95".to_vec();
    data.extend_from_slice(&4u64.to_le_bytes());
    data.extend_from_slice(b"\x8c\x06abcdef.Z");
    data.extend_from_slice(b"0\x8c\x08builtins\x8c\x03len\x93\x8c\x02ab\x85R.");
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("straddle.pkl");
    std::fs::write(&file, &data).unwrap();
    let dir = tmp.path().join("out");
    let out = common::pklinspect()
        .args(["extract", "-q"])
        .arg(&file)
        .args(["--to", "python", "-o"])
        .arg(&dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("not rebuilt: parser-differential"),
        "{stderr}"
    );
    assert!(!dir.exists());
}
