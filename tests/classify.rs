//! The classifier (SPEC §5) against independent truths: the examples of the SPEC, the
//! look-alikes that must not be confused, CPython's own `_compat_pickle` tables, the
//! standard library (plain rows name real objects), and the committed fixtures (whose
//! `.truth.json` sidecars say which files run code when loaded).

mod common;

use pklinspect::classify::{
    normalise, Category, KnownGlobals, Verdict, BUILTIN_TABLE, IMPORT_MAPPING, NAME_MAPPING,
};
use std::collections::BTreeMap;
use std::path::Path;

use Category::*;

/// Classifies every case, written `"module name category"`, and fails once, listing
/// every mismatch.
fn check(cases: &[&str]) {
    let rows: Vec<(&str, &str, Category)> = cases
        .iter()
        .map(|row| match row.split(' ').collect::<Vec<_>>().as_slice() {
            [module, name, category] => (*module, *name, category.parse().unwrap()),
            _ => panic!("malformed case {row:?}"),
        })
        .collect();
    check_rows(&rows);
}

fn check_rows(cases: &[(&str, &str, Category)]) {
    let known = KnownGlobals::builtin();
    let mut wrong = Vec::new();
    for &(module, name, want) in cases {
        let got = known.classify(module, name);
        if got.category != want {
            wrong.push(format!(
                "{module} {name}: expected {want}, got {} ({})",
                got.category, got.reason
            ));
        }
        assert_reason_is_a_sentence(module, name, &got.reason);
    }
    assert!(
        wrong.is_empty(),
        "{} mismatches:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

fn assert_reason_is_a_sentence(module: &str, name: &str, reason: &str) {
    assert!(
        reason.starts_with(|c: char| c.is_lowercase()) && !reason.ends_with('.'),
        "reason for {module} {name} is not a lowercase sentence: {reason:?}"
    );
}

fn category(module: &str, name: &str) -> Category {
    KnownGlobals::builtin().classify(module, name).category
}

// ─── SPEC §5 ──────────────────────────────────────────────────────────────────────────

#[test]
fn every_example_of_spec_section_5_gets_its_category() {
    check(&[
        "builtins set plain",
        "collections OrderedDict plain",
        "datetime datetime plain",
        "decimal Decimal plain",
        "numpy.core.multiarray _reconstruct array",
        "numpy dtype array",
        "torch._utils _rebuild_tensor_v2 array",
        "torch FloatStorage array",
        "sklearn.linear_model._base LinearRegression library",
        "keras_preprocessing.sequence TimeseriesGenerator library",
        "pandas.core.frame DataFrame library",
        "tensorflow.python.framework.ops EagerTensor runtime-handle",
        "tensorflow.python.ops.resource_variable_ops ResourceVariable runtime-handle",
        "_thread lock runtime-handle",
        "__main__ DataWrapper user-defined",
        "os system code-exec",
        "posix system code-exec",
        "builtins eval code-exec",
        "builtins exec code-exec",
        "builtins __import__ code-exec",
        "builtins getattr code-exec",
        "subprocess Popen code-exec",
        "subprocess check_output code-exec",
        "subprocess run code-exec",
        "runpy _run_code code-exec",
        "runpy run_path code-exec",
        "pickle loads code-exec",
        "mypackage.models Thing unknown",
    ]);
}

#[test]
fn unknown_modules_say_any_callable_can_run_code() {
    let c = KnownGlobals::builtin().classify("acme_internal.models", "Net");
    assert_eq!(c.category, Unknown);
    assert_eq!(
        c.reason,
        "not in pklinspect's table: any importable callable can run code on load"
    );
}

// ─── look-alikes ──────────────────────────────────────────────────────────────────────

#[test]
fn look_alikes_of_dangerous_names_are_not_code_exec() {
    check(&[
        "posixpath join plain",
        "os.path join plain",
        "ntpath join plain",
        "ntpath splitext plain",
        "genericpath commonprefix plain",
        "__main__ system user-defined",
        "__main__ eval user-defined",
        "collections OrderedDict plain",
        "numpy.core.multiarray _reconstruct array",
        "torch._utils _rebuild_tensor_v2 array",
        "os stat_result plain",
        "posix stat_result plain",
        "os terminal_size plain",
        "posix uname_result plain",
        "nt stat_result plain",
        "uuid UUID plain",
        "socket AddressFamily plain",
        "signal Signals plain",
        "http HTTPStatus plain",
        "_io BytesIO plain",
        "io StringIO plain",
        "urllib.parse quote plain",
        "sys intern plain",
    ]);
}

#[test]
fn every_attribute_of_os_posix_and_nt_outside_the_allow_list_is_code_exec() {
    check(&[
        "os popen code-exec",
        "os execv code-exec",
        "os execvp code-exec",
        "os execl code-exec",
        "os spawnl code-exec",
        "os spawnv code-exec",
        "os posix_spawn code-exec",
        "os fork code-exec",
        "os kill code-exec",
        "os remove code-exec",
        "os unlink code-exec",
        "os rmdir code-exec",
        "os getcwd code-exec",
        "os environ code-exec",
        "os putenv code-exec",
        "os startfile code-exec",
        "os path code-exec",
        "posix execv code-exec",
        "posix fork code-exec",
        "nt system code-exec",
        "nt startfile code-exec",
        "posixpath exists code-exec",
        "posixpath os code-exec",
        "os.path os code-exec",
        "os.path exists code-exec",
        "ntpath sys code-exec",
    ]);
}

// ─── Python 2 spellings ───────────────────────────────────────────────────────────────

#[test]
fn python2_spellings_are_classified_under_their_python3_names() {
    check(&[
        "__builtin__ eval code-exec",
        "__builtin__ getattr code-exec",
        "__builtin__ apply code-exec",
        "__builtin__ execfile code-exec",
        "__builtin__ file code-exec",
        "__builtin__ reduce code-exec",
        "__builtin__ set plain",
        "__builtin__ object plain",
        "__builtin__ xrange plain",
        "__builtin__ unicode plain",
        "__builtin__ long plain",
        "__builtin__ basestring plain",
        "__builtin__ unichr plain",
        "__builtin__ intern plain",
        "copy_reg _reconstructor plain",
        "copy_reg add_extension code-exec",
        "exceptions ValueError plain",
        "exceptions StandardError plain",
        "exceptions WindowsError plain",
        "exceptions eval code-exec",
        "UserDict UserDict plain",
        "UserDict IterableUserDict plain",
        "UserList UserList plain",
        "UserString UserString plain",
        "cPickle loads code-exec",
        "Queue Queue runtime-handle",
        "thread allocate_lock runtime-handle",
        "thread start_new_thread code-exec",
        "commands getoutput code-exec",
        "urllib urlopen code-exec",
        "urllib urlretrieve code-exec",
        "urllib quote plain",
        "urllib2 urlopen code-exec",
        "urllib2 HTTPError plain",
        "httplib HTTPConnection code-exec",
        "SimpleHTTPServer test code-exec",
        "StringIO StringIO plain",
        "cStringIO StringIO plain",
        "itertools izip plain",
        "itertools imap plain",
        "itertools izip_longest plain",
        "_socket fromfd code-exec",
        "socket _socketobject code-exec",
        "multiprocessing AuthenticationError plain",
        "multiprocessing.forking Popen code-exec",
        "_winreg OpenKey code-exec",
        "dbm open code-exec",
        "anydbm open code-exec",
        "Tkinter Tk code-exec",
    ]);
}

/// `_compat_pickle` as CPython has it: our tables hold exactly its entries, and
/// `normalise` rewrites every one of them as `Unpickler.find_class` does.
#[test]
fn python2_mapping_matches_cpython_compat_pickle() {
    let Some(python) = common::python3() else {
        return;
    };
    let script = r#"
import _compat_pickle as c
for k, v in sorted(c.IMPORT_MAPPING.items()):
    print("I", k, v, sep="\t")
for (m, n), (m2, n2) in sorted(c.NAME_MAPPING.items()):
    print("N", m, n, m2, n2, sep="\t")
"#;
    let output = common::run_python(python, script, &[]);
    let text = String::from_utf8(output.stdout).expect("utf-8");
    let mut imports = Vec::new();
    let mut names = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        match f.as_slice() {
            ["I", k, v] => imports.push((k.to_string(), v.to_string())),
            ["N", m, n, m2, n2] => names.push((
                (m.to_string(), n.to_string()),
                (m2.to_string(), n2.to_string()),
            )),
            _ => panic!("unexpected line from python: {line:?}"),
        }
    }
    assert!(
        imports.len() > 40 && names.len() > 80,
        "too few mappings read"
    );

    let mut ours_i: Vec<(String, String)> = IMPORT_MAPPING
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    ours_i.sort();
    assert_eq!(ours_i, imports, "IMPORT_MAPPING differs from CPython's");
    let mut ours_n: Vec<((String, String), (String, String))> = NAME_MAPPING
        .iter()
        .map(|((a, b), (c, d))| {
            (
                (a.to_string(), b.to_string()),
                (c.to_string(), d.to_string()),
            )
        })
        .collect();
    ours_n.sort();
    assert_eq!(ours_n, names, "NAME_MAPPING differs from CPython's");

    for ((m, n), (m2, n2)) in &names {
        let (a, b) = normalise(m, n);
        assert_eq!(
            (a.as_ref(), b.as_ref()),
            (m2.as_str(), n2.as_str()),
            "{m}.{n}"
        );
    }
    for (m, m2) in &imports {
        let (a, b) = normalise(m, "SomeName");
        assert_eq!((a.as_ref(), b.as_ref()), (m2.as_str(), "SomeName"), "{m}");
    }
}

// ─── dotted names ─────────────────────────────────────────────────────────────────────

#[test]
fn dotted_names_are_classified_conservatively() {
    check(&[
        // Nested classes of a script are what protocol 4 writes: still user-defined.
        "__main__ Outer.Inner user-defined",
        "__main__ Outer.Inner.Deeper user-defined",
        "__mp_main__ Outer.Inner user-defined",
        // Interpreter internals anywhere in the chain.
        "__main__ Outer.__init__.__globals__ code-exec",
        "collections OrderedDict.__class__ code-exec",
        "typing Any.__class__.__subclasses__ code-exec",
        "mypkg helper.__builtins__ code-exec",
        "mypkg helper.__dict__ code-exec",
        "mypkg Thing.__getattribute__ code-exec",
        "mypkg helper.func_globals code-exec",
        "mypkg gen.gi_frame.f_back code-exec",
        "mypkg tb.tb_frame.f_globals code-exec",
        // A step that is itself code-exec, as an attribute or as an imported module.
        "builtins getattr.__call__ code-exec",
        "builtins eval.x code-exec",
        "os path.join code-exec",
        "os path.os.system code-exec",
        "posixpath os.system code-exec",
        "__main__ os.system code-exec",
        "mypkg utils.os.system code-exec",
        "mypkg utils._os.system code-exec",
        "collections _sys.modules code-exec",
        "mypkg helpers.subprocess.Popen code-exec",
        "torch._utils torch.load code-exec",
        "sklearn.utils fixes.pickle.loads code-exec",
        // Through a module object the table knows.
        "numpy core.multiarray._reconstruct code-exec",
        "torch nn.Linear code-exec",
        "torch serialization.load code-exec",
        "numpy testing._private.utils.runstring code-exec",
        // Into a known class or function: methods with a self the file chooses.
        "collections OrderedDict.fromkeys code-exec",
        "builtins str.format code-exec",
        "builtins dict.fromkeys code-exec",
        "pathlib Path.write_text code-exec",
        "pathlib PosixPath.unlink code-exec",
        "numpy ndarray.tofile code-exec",
        "pandas DataFrame.to_pickle code-exec",
        // Anything else is at least unknown.
        "sklearn.tree._classes Outer.Inner unknown",
        "mypkg Outer.Inner unknown",
        // Default-deny: a standard-library module without a row for the name.
        "math sqrt.x code-exec",
        "torch.cuda Something.inner runtime-handle",
        // torch pickles memory formats through torch._utils as a qualified name.
        "torch._utils torch.channels_last array",
        "torch._utils torch.contiguous_format array",
    ]);
}

#[test]
fn module_objects_and_interpreter_attributes_are_code_exec() {
    check(&[
        "torch nn code-exec",
        "numpy core code-exec",
        "numpy _core code-exec",
        "numpy random code-exec",
        "torch storage code-exec",
        "xml.etree ElementTree code-exec",
        "__main__ os code-exec",
        "__main__ sys code-exec",
        "mypkg _sys code-exec",
        "mypkg _os code-exec",
        "sklearn __builtins__ code-exec",
        "collections __dict__ code-exec",
        "math __loader__ code-exec",
        "__main__ __dict__ code-exec",
        "math sqrt plain",
        "copyreg __newobj__ plain",
        "copyreg __newobj_ex__ plain",
        "numpy.random._pickle __randomstate_ctor library",
    ]);
}

#[test]
fn package_main_modules_run_a_command_line() {
    check(&[
        "pip.__main__ main code-exec",
        "json.__main__ x code-exec",
        "torch.utils.bottleneck.__main__ run_cprofile code-exec",
        "mypkg.__main__ Config code-exec",
        "__main__ Config user-defined",
    ]);
}

#[test]
fn malformed_names_cannot_resolve_and_are_unknown() {
    check_rows(&[
        ("", "system", Unknown),
        ("os ", "system", Unknown),
        ("os\r", "system", Unknown),
        ("os..path", "join", Unknown),
        ("mypkg", "", Unknown),
        ("mypkg", "a..b", Unknown),
        ("mypkg", "Thing\n", Unknown),
        ("mypkg", "Thing Other", Unknown),
    ]);
    let reason = KnownGlobals::builtin().classify("os\r", "system").reason;
    assert_eq!(
        reason,
        "the module path `os\\r` is malformed, so Python cannot import it"
    );
}

// ─── user-defined ─────────────────────────────────────────────────────────────────────

#[test]
fn script_and_notebook_modules_are_user_defined() {
    check(&[
        "__main__ DataWrapper user-defined",
        "__mp_main__ Worker user-defined",
        "__console__ Thing user-defined",
        "__parents_main__ Thing user-defined",
        "_cython_magic_0a1b2c3d4e5f fast_sum user-defined",
        "__main__ Outer.Inner user-defined",
    ]);
}

// ─── plain ────────────────────────────────────────────────────────────────────────────

#[test]
fn builtin_and_standard_library_value_types_are_plain() {
    check(&[
        "builtins frozenset plain",
        "builtins bytearray plain",
        "builtins complex plain",
        "builtins slice plain",
        "builtins range plain",
        "builtins object plain",
        "builtins list plain",
        "builtins dict plain",
        "builtins tuple plain",
        "builtins int plain",
        "builtins float plain",
        "builtins str plain",
        "builtins bytes plain",
        "builtins bool plain",
        "builtins type plain",
        "builtins Ellipsis plain",
        "builtins NotImplemented plain",
        "builtins None plain",
        "builtins len plain",
        "builtins map plain",
        "builtins ValueError plain",
        "builtins KeyboardInterrupt plain",
        "collections deque plain",
        "collections Counter plain",
        "collections defaultdict plain",
        "collections ChainMap plain",
        "datetime date plain",
        "datetime time plain",
        "datetime timedelta plain",
        "datetime timezone plain",
        "decimal Context plain",
        "decimal InvalidOperation plain",
        "fractions Fraction plain",
        "pathlib PurePosixPath plain",
        "pathlib PureWindowsPath plain",
        "pathlib PosixPath plain",
        "re _compile plain",
        "re RegexFlag plain",
        "enum Enum plain",
        "copyreg _reconstructor plain",
        "_codecs encode plain",
        "types SimpleNamespace plain",
        "argparse Namespace plain",
        "array array plain",
        "array _array_reconstructor plain",
        "ipaddress IPv4Address plain",
        "zoneinfo ZoneInfo plain",
        "time struct_time plain",
        "itertools chain plain",
        "xml.etree.ElementTree Element plain",
        "string Template plain",
    ]);
}

// ─── array ────────────────────────────────────────────────────────────────────────────

#[test]
fn numpy_array_machinery_is_array_in_both_major_versions() {
    check(&[
        "numpy.core.multiarray _reconstruct array",
        "numpy.ma.core _mareconstruct array",
        "numpy.ma MaskedArray array",
        "numpy.ma.core MaskedArray array",
        "numpy.core.multiarray scalar array",
        "numpy.core.numeric _frombuffer array",
        "numpy._core.multiarray _reconstruct array",
        "numpy._core.multiarray scalar array",
        "numpy._core.numeric _frombuffer array",
        "numpy ndarray array",
        "numpy dtype array",
        "numpy float64 array",
        "numpy int8 array",
        "numpy datetime64 array",
        "numpy.dtypes Float64DType array",
        "numpy.dtypes StringDType array",
    ]);
}

#[test]
fn numpy2_only_marks_exactly_the_numpy_core_underscore_paths() {
    let known = KnownGlobals::builtin();
    for (module, name, want) in [
        ("numpy._core.multiarray", "_reconstruct", true),
        ("numpy._core.multiarray", "scalar", true),
        ("numpy._core.numeric", "_frombuffer", true),
        ("numpy._core.umath", "add", true),
        ("numpy._core", "something", true),
        ("numpy.core.multiarray", "_reconstruct", false),
        ("numpy.core.numeric", "_frombuffer", false),
        ("numpy", "ndarray", false),
        ("numpy", "dtype", false),
        ("numpy._core_extra", "x", false),
        ("numpy", "_core.multiarray._reconstruct", false),
        ("torch._utils", "_rebuild_tensor_v2", false),
    ] {
        assert_eq!(
            known.classify(module, name).numpy2_only,
            want,
            "{module}.{name}"
        );
    }
    // numpy2_only does not change the category.
    assert_eq!(category("numpy._core.umath", "add"), Library);
    assert_eq!(category("numpy._core.multiarray", "fromfile"), CodeExec);
}

#[test]
fn torch_names_get_their_own_categories() {
    check(&[
        "torch._utils _rebuild_tensor array",
        "torch._utils _rebuild_tensor_v2 array",
        "torch._utils _rebuild_tensor_v3 array",
        "torch._utils _rebuild_parameter array",
        "torch._utils _rebuild_parameter_with_state array",
        "torch._utils _rebuild_meta_tensor_no_storage array",
        "torch._tensor _rebuild_from_type_v2 array",
        "torch FloatStorage array",
        "torch DoubleStorage array",
        "torch HalfStorage array",
        "torch BFloat16Storage array",
        "torch LongStorage array",
        "torch IntStorage array",
        "torch ShortStorage array",
        "torch CharStorage array",
        "torch ByteStorage array",
        "torch BoolStorage array",
        "torch ComplexFloatStorage array",
        "torch ComplexDoubleStorage array",
        "torch QInt8Storage array",
        "torch.storage UntypedStorage array",
        "torch float32 array",
        "torch bfloat16 array",
        "torch int64 array",
        "torch bool array",
        "torch per_tensor_affine array",
        "torch device array",
        "torch Size array",
        "torch Tensor array",
        "torch.nn.parameter Parameter array",
        "torch.serialization _get_layout array",
        "torch._utils _rebuild_sparse_tensor library",
        "torch._utils _rebuild_qtensor library",
        "torch._utils _rebuild_wrapper_subclass library",
        "torch._utils _rebuild_nested_tensor library",
        "torch._utils _rebuild_device_tensor_from_numpy runtime-handle",
        "torch._utils _rebuild_device_tensor_from_cpu_tensor runtime-handle",
        "torch.cuda FloatStorage runtime-handle",
        "torch.distributed.device_mesh DeviceMesh runtime-handle",
        "torch.nn.modules.linear Linear library",
        "torch.nn.modules.container Sequential library",
        "torch.nn.modules.batchnorm BatchNorm1d library",
        "torch.optim.adam Adam library",
        "torch.storage _load_from_bytes code-exec",
        "torch load code-exec",
        "torch save code-exec",
        "torch compile code-exec",
        "torch.serialization load code-exec",
        "torch.hub load code-exec",
        "torch.jit load code-exec",
        "torch.jit._serialization load code-exec",
        "torch.package.package_importer PackageImporter code-exec",
        "torch._utils _import_dotted_name code-exec",
        "torch.fx.graph_module reduce_graph_module code-exec",
        "torch._inductor.codecache compile_file code-exec",
        "torch._dynamo.guards GuardBuilder code-exec",
        "torch.utils.data.datapipes.utils.decoder basichandlers code-exec",
        "torch.utils.collect_env run code-exec",
        "torch.distributed.rpc rpc_sync code-exec",
        "torch.ops load_library code-exec",
        "torch some_function_added_later unknown",
    ]);
}

#[test]
fn joblib_array_wrappers_are_array_and_its_loaders_code_exec() {
    check(&[
        "joblib.numpy_pickle NumpyArrayWrapper array",
        // joblib < 0.10's wrappers make joblib.load open a file the pickle names and
        // np.load(allow_pickle=True) it (joblib/numpy_pickle_compat.py).
        "joblib.numpy_pickle NDArrayWrapper code-exec",
        "joblib.numpy_pickle ZNDArrayWrapper code-exec",
        "joblib.numpy_pickle_compat NDArrayWrapper code-exec",
        "sklearn.externals.joblib.numpy_pickle_compat ZNDArrayWrapper code-exec",
        "sklearn.externals.joblib.numpy_pickle NumpyArrayWrapper array",
        "joblib load code-exec",
        "joblib.numpy_pickle load code-exec",
        "joblib.parallel Parallel code-exec",
        "sklearn.externals.joblib load code-exec",
    ]);
}

// ─── library ──────────────────────────────────────────────────────────────────────────

#[test]
fn third_party_packages_are_library() {
    check(&[
        "pandas DataFrame library",
        "pandas._libs.internals _unpickle_block library",
        "pandas._libs.arrays __pyx_unpickle_NDArrayBacked library",
        "pandas.core.internals.managers BlockManager library",
        "sklearn.tree._tree Tree library",
        "sklearn.pipeline Pipeline library",
        "scipy.sparse._csr csr_matrix library",
        "keras.src.layers.core.dense Dense library",
        "keras_preprocessing.text Tokenizer library",
        "tensorflow.python.framework.dtypes as_dtype library",
        "transformers.models.bert.modeling_bert BertModel library",
        "xgboost.core Booster library",
        "lightgbm.basic Booster library",
        "catboost.core CatBoostClassifier library",
        "statsmodels.regression.linear_model RegressionResultsWrapper library",
        "tokenizers Tokenizer library",
        "gensim.models.word2vec Word2Vec library",
        "spacy.vocab Vocab library",
        "nltk.tokenize.punkt PunktSentenceTokenizer library",
        "matplotlib.figure Figure library",
        "numpy.random._pickle __randomstate_ctor library",
        "numpy.random._pickle __bit_generator_ctor library",
        "numpy.random.mtrand RandomState library",
    ]);
}

#[test]
fn library_reasons_name_the_package_to_install() {
    let known = KnownGlobals::builtin();
    let c = known.classify("sklearn.linear_model._base", "LinearRegression");
    assert_eq!(
        c.reason,
        "needs scikit-learn installed, in a version compatible with the one that wrote the file"
    );
    assert!(known
        .classify("pandas.core.frame", "DataFrame")
        .reason
        .contains("pandas"));
    assert!(known
        .classify("xgboost.core", "Booster")
        .reason
        .contains("xgboost"));
}

#[test]
fn library_functions_that_load_files_or_evaluate_text_are_code_exec() {
    check(&[
        "numpy load code-exec",
        "numpy.lib.npyio load code-exec",
        "numpy.lib._npyio_impl load code-exec",
        "numpy.lib.format read_array code-exec",
        "numpy fromfile code-exec",
        "numpy memmap code-exec",
        "numpy loadtxt code-exec",
        "numpy test code-exec",
        "numpy.testing._private.utils runstring code-exec",
        "numpy.f2py.crackfortran getlincoef code-exec",
        "numpy.ctypeslib load_library code-exec",
        "pandas read_pickle code-exec",
        "pandas.io.pickle read_pickle code-exec",
        "pandas read_csv code-exec",
        "pandas read_clipboard code-exec",
        "pandas eval code-exec",
        "pandas.core.computation.eval eval code-exec",
        "scipy.io loadmat code-exec",
        "scipy LowLevelCallable code-exec",
        "sklearn.datasets fetch_openml code-exec",
        "keras.saving.pickle_utils deserialize_model_from_bytecode code-exec",
        "keras.src.saving.saving_lib load_model code-exec",
        "keras.models load_model code-exec",
        "tensorflow.io.gfile GFile code-exec",
        "tensorflow.python.ops.script_ops py_func code-exec",
        "transformers.dynamic_module_utils get_class_from_dynamic_module code-exec",
        "huggingface_hub hf_hub_download code-exec",
        "sympy sympify code-exec",
        "torchvision.datasets.mnist MNIST code-exec",
    ]);
}

// ─── runtime-handle ───────────────────────────────────────────────────────────────────

#[test]
fn live_runtime_objects_are_runtime_handles() {
    check(&[
        "_thread lock runtime-handle",
        "_thread RLock runtime-handle",
        "threading Lock runtime-handle",
        "threading RLock runtime-handle",
        "threading Condition runtime-handle",
        "threading Event runtime-handle",
        "queue Queue runtime-handle",
        "multiprocessing.synchronize Lock runtime-handle",
        "_io TextIOWrapper runtime-handle",
        "_io BufferedReader runtime-handle",
        "io TextIOWrapper runtime-handle",
        "tensorflow.python.framework.ops EagerTensor runtime-handle",
        "tensorflow.python.framework.ops Graph runtime-handle",
        "tensorflow.python.ops.variables Variable runtime-handle",
        "tensorflow.python.client.session Session runtime-handle",
        "tensorflow.python.eager.context Context runtime-handle",
        "torch.cuda FloatStorage runtime-handle",
        "cupy._core.core array runtime-handle",
    ]);
}

#[test]
fn runtime_handle_reasons_say_what_breaks() {
    let c = KnownGlobals::builtin().classify("tensorflow.python.framework.ops", "EagerTensor");
    assert!(
        c.reason.contains("TF runtime of the same version"),
        "{}",
        c.reason
    );
}

// ─── code-exec ────────────────────────────────────────────────────────────────────────

#[test]
fn everything_the_scanners_flag_is_code_exec() {
    // picklescan's _unsafe_globals, modelscan's unsafe_globals and fickling's
    // UNSAFE_IMPORTS, one representative global per entry.
    check(&[
        "builtins compile code-exec",
        "builtins open code-exec",
        "builtins breakpoint code-exec",
        "builtins apply code-exec",
        "aiohttp.client ClientSession code-exec",
        "asyncio create_subprocess_shell code-exec",
        "asyncio.subprocess create_subprocess_exec code-exec",
        "bdb Bdb code-exec",
        "commands getstatusoutput code-exec",
        "ctypes CDLL code-exec",
        "ctypes.util find_library code-exec",
        "_ctypes dlopen code-exec",
        "functools partial code-exec",
        "functools reduce code-exec",
        "httplib HTTPSConnection code-exec",
        "http.client HTTPSConnection code-exec",
        "numpy.f2py compile code-exec",
        "numpy.testing._private.utils runstring code-exec",
        "nt spawnv code-exec",
        "posix popen code-exec",
        "operator attrgetter code-exec",
        "operator itemgetter code-exec",
        "operator methodcaller code-exec",
        "_operator attrgetter code-exec",
        "requests.api get code-exec",
        "requests get code-exec",
        "runpy run_module code-exec",
        "shutil rmtree code-exec",
        "shutil copyfile code-exec",
        "socket socket code-exec",
        "socket create_connection code-exec",
        "_socket socket code-exec",
        "ssl get_server_certificate code-exec",
        "sys modules code-exec",
        "sys exit code-exec",
        "sys setprofile code-exec",
        "code InteractiveInterpreter code-exec",
        "codeop compile_command code-exec",
        "cProfile runctx code-exec",
        "cProfile run code-exec",
        "distutils.file_util write_file code-exec",
        "doctest debug_script code-exec",
        "ensurepip _run_pip code-exec",
        "idlelib.pyshell ModifiedInterpreter code-exec",
        "idlelib.run Executive code-exec",
        "lib2to3.pgen2.grammar Grammar code-exec",
        "pdb run code-exec",
        "pickle load code-exec",
        "_pickle loads code-exec",
        "pip main code-exec",
        "pip._internal.cli.main main code-exec",
        "pty spawn code-exec",
        "profile Profile code-exec",
        "pydoc locate code-exec",
        "pydoc pipepager code-exec",
        "timeit timeit code-exec",
        "trace Trace code-exec",
        "venv create code-exec",
        "webbrowser open code-exec",
        "multiprocessing Process code-exec",
        "multiprocessing.pool Pool code-exec",
        "_posixsubprocess fork_exec code-exec",
        "marshal loads code-exec",
        "types CodeType code-exec",
        "types FunctionType code-exec",
        "types MethodType code-exec",
        "_xxsubinterpreters run_string code-exec",
        "importlib import_module code-exec",
        "importlib.util spec_from_file_location code-exec",
        "_imp create_dynamic code-exec",
        "pkgutil resolve_name code-exec",
        "zipimport zipimporter code-exec",
        "gc get_objects code-exec",
        "site addsitedir code-exec",
        "unittest main code-exec",
        "inspect currentframe code-exec",
        "test.support.script_helper run_python_until_end code-exec",
        "dill._dill _create_code code-exec",
        "cloudpickle.cloudpickle _make_function code-exec",
        "tempfile mkstemp code-exec",
        "filecmp cmp code-exec",
        "glob glob code-exec",
        "fileinput input code-exec",
        "linecache getline code-exec",
        "platform popen code-exec",
        "uuid _get_command_stdout code-exec",
        "smtplib SMTP code-exec",
        "imaplib IMAP4 code-exec",
        "ftplib FTP code-exec",
        "poplib POP3 code-exec",
        "telnetlib Telnet code-exec",
        "nntplib NNTP code-exec",
        "socketserver TCPServer code-exec",
        "xmlrpc.client ServerProxy code-exec",
        "signal signal code-exec",
        "_signal alarm code-exec",
        "threading Thread code-exec",
        "threading Timer code-exec",
        "_thread start_new_thread code-exec",
        "atexit register code-exec",
        "sqlite3 connect code-exec",
        "mmap mmap code-exec",
        "select select code-exec",
        "selectors DefaultSelector code-exec",
        "logging.config fileConfig code-exec",
        "logging FileHandler code-exec",
        "syslog syslog code-exec",
        "tarfile open code-exec",
        "zipfile ZipFile code-exec",
        "shelve open code-exec",
        "compileall compile_dir code-exec",
        "py_compile compile code-exec",
        "pexpect spawn code-exec",
        "pipes Template code-exec",
        "_osx_support _read_output code-exec",
        "torch.fx.experimental.symbolic_shapes ShapeEnv code-exec",
        "torch.jit.unsupported_tensor_ops execWrapper code-exec",
        "torch.utils._config_module ConfigModule code-exec",
        "torch.utils.bottleneck.__main__ run_autograd_prof code-exec",
    ]);
}

#[test]
fn builtins_that_reach_the_interpreter_are_code_exec() {
    check(&[
        "builtins setattr code-exec",
        "builtins delattr code-exec",
        "builtins globals code-exec",
        "builtins locals code-exec",
        "builtins vars code-exec",
        "builtins input code-exec",
        "builtins help code-exec",
        "builtins exit code-exec",
        "builtins quit code-exec",
        "builtins memoryview code-exec",
        "builtins __build_class__ code-exec",
        "builtins __loader__ code-exec",
        // Not on the list of harmless builtins, so the builtins fallback applies.
        "builtins print code-exec",
        "builtins super code-exec",
        "builtins hasattr code-exec",
        "builtins not_a_builtin code-exec",
    ]);
}

#[test]
fn io_and_codecs_split_buffers_handles_and_file_openers() {
    check(&[
        "io BytesIO plain",
        "_io StringIO plain",
        "io BufferedWriter runtime-handle",
        "io open code-exec",
        "_io open code-exec",
        "_io FileIO code-exec",
        "io open_code code-exec",
        "codecs open code-exec",
        "codecs register code-exec",
        "_codecs register code-exec",
        "_codecs encode plain",
    ]);
}

#[test]
fn reasons_say_what_happens_on_load() {
    let known = KnownGlobals::builtin();
    assert_eq!(
        known.classify("subprocess", "Popen").reason,
        "runs a shell command or program when the file is loaded"
    );
    assert_eq!(
        known.classify("__main__", "DataWrapper").reason,
        "defined in the script or notebook that wrote the file (__main__): loads only where \
         that exact code is importable"
    );
    assert!(known
        .classify("os", "path.os.system")
        .reason
        .contains("path.os.system"));
    assert!(known
        .classify("torch", "nn")
        .reason
        .contains("module object `torch.nn`"));
}

// ─── user additions ───────────────────────────────────────────────────────────────────

#[test]
fn user_entries_win_over_the_built_in_table() {
    let mut known = KnownGlobals::builtin();
    known
        .add(
            "acme.**",
            Library,
            "needs acme's internal package installed",
        )
        .unwrap();
    known
        .add(
            "numpy.**",
            CodeExec,
            "numpy is banned by this project's policy",
        )
        .unwrap();
    known
        .add("os.getcwd", Plain, "our policy tolerates getcwd")
        .unwrap();
    known
        .add(
            "__main__.DataWrapper",
            Library,
            "installed as acme.DataWrapper",
        )
        .unwrap();
    known
        .add("torch.*", Library, "torch is installed everywhere")
        .unwrap();

    let got = |m: &str, n: &str| known.classify(m, n).category;
    assert_eq!(got("acme.models.net", "Net"), Library);
    assert_eq!(
        known.classify("acme.models.net", "Net").reason,
        "needs acme's internal package installed"
    );
    // A user `**` beats a built-in exact row.
    assert_eq!(got("numpy.core.multiarray", "_reconstruct"), CodeExec);
    assert_eq!(got("numpy._core.numeric", "_frombuffer"), CodeExec);
    // A user exact row beats a built-in `**`.
    assert_eq!(got("os", "getcwd"), Plain);
    assert_eq!(got("os", "system"), CodeExec);
    assert_eq!(got("__main__", "DataWrapper"), Library);
    assert_eq!(got("__main__", "Other"), UserDefined);
    // A user `*` covers the module's names, not its submodules.
    assert_eq!(got("torch", "some_function_added_later"), Library);
    assert_eq!(got("torch.nn.modules.linear", "Linear"), Library);
    assert_eq!(got("torch.storage", "_load_from_bytes"), CodeExec);
    // Built-in rows still answer where the user said nothing.
    assert_eq!(got("collections", "OrderedDict"), Plain);
}

#[test]
fn user_wildcards_do_not_switch_off_the_structural_rules() {
    let mut known = KnownGlobals::builtin();
    known
        .add("acme.**", Plain, "trusted in-house package")
        .unwrap();
    known
        .add("acme.models.**", Plain, "trusted in-house models")
        .unwrap();
    let got = |m: &str, n: &str| known.classify(m, n).category;
    assert_eq!(got("acme", "Thing"), Plain);
    assert_eq!(got("acme", "os"), CodeExec);
    assert_eq!(got("acme", "__dict__"), CodeExec);
    assert_eq!(got("acme", "helper.__globals__"), CodeExec);
    assert_eq!(got("acme", "utils.subprocess.Popen"), CodeExec);
    // acme.models is now a known module, so naming it as an attribute is a module object.
    assert_eq!(got("acme", "models"), CodeExec);
    // ... but an exact user entry is the user's word.
    known
        .add("acme.os", Plain, "acme.os is our own class")
        .unwrap();
    assert_eq!(known.classify("acme", "os").category, Plain);
}

#[test]
fn user_entries_can_name_nested_classes() {
    let mut known = KnownGlobals::builtin();
    known
        .add("acme.models.Outer.Inner", Library, "needs acme installed")
        .unwrap();
    assert_eq!(
        known.classify("acme.models", "Outer.Inner").category,
        Library
    );
    assert_eq!(
        known.classify("acme.models", "Outer.Other").category,
        Unknown
    );
    // Still no way past the interpreter internals.
    known
        .add("acme.models.Outer.__init__", Plain, "please")
        .unwrap();
    assert_eq!(
        known.classify("acme.models", "Outer.__init__").category,
        CodeExec
    );
}

#[test]
fn user_patterns_use_python3_spellings() {
    let mut known = KnownGlobals::builtin();
    known
        .add("cPickle.loads", Plain, "inside our sandbox")
        .unwrap();
    assert_eq!(known.classify("pickle", "loads").category, Plain);
    assert_eq!(known.classify("cPickle", "loads").category, Plain);
    assert_eq!(known.classify("pickle", "load").category, CodeExec);
}

#[test]
fn user_patterns_are_validated() {
    let mut known = KnownGlobals::builtin();
    for bad in [
        "os", "", ".x", "a..b", "a.b c", "a.*.b", "a.b*", "*.x", "a.***",
    ] {
        let err = known.add(bad, Plain, "why").unwrap_err();
        assert!(err.starts_with("pattern `"), "{err}");
    }
    assert!(known
        .add("a.b", Plain, "  ")
        .unwrap_err()
        .contains("needs a reason"));
    known.add("a.b", Plain, "why").unwrap();
    let err = known.add("a.b", CodeExec, "why not").unwrap_err();
    assert_eq!(err, "pattern `a.b` was already added");
    known.add("a.*", Plain, "why").unwrap();
    assert!(known.add("a.*", Plain, "again").is_err());
    known.add("a.**", Plain, "why").unwrap();
    assert!(known.add("a.**", Plain, "again").is_err());
}

// ─── verdicts ─────────────────────────────────────────────────────────────────────────

#[test]
fn the_verdict_is_the_worst_category_present() {
    use Verdict::*;
    assert_eq!(Verdict::of([]), Portable);
    assert_eq!(Verdict::of([Plain, Array]), Portable);
    assert_eq!(Verdict::of([Plain, Library]), NeedsLibraries);
    assert_eq!(Verdict::of([Unknown, Array]), NeedsLibraries);
    assert_eq!(Verdict::of([Library, RuntimeHandle]), NonPortable);
    assert_eq!(Verdict::of([UserDefined, Unknown]), NonPortable);
    assert_eq!(Verdict::of([Array, CodeExec, UserDefined]), Dangerous);
    assert_eq!(Verdict::of(vec![CodeExec]), Dangerous);
    assert!(Portable < NeedsLibraries && NeedsLibraries < NonPortable && NonPortable < Dangerous);
    assert_eq!(
        [Portable, NeedsLibraries, NonPortable, Dangerous].map(Verdict::as_str),
        ["portable", "needs-libraries", "non-portable", "dangerous"]
    );
}

#[test]
fn categories_are_ordered_by_severity_and_named_as_in_the_spec() {
    assert_eq!(
        Category::ALL,
        [
            Plain,
            Array,
            Library,
            Unknown,
            RuntimeHandle,
            UserDefined,
            CodeExec
        ]
    );
    assert!(Category::ALL.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(
        Category::ALL.map(Category::as_str),
        [
            "plain",
            "array",
            "library",
            "unknown",
            "runtime-handle",
            "user-defined",
            "code-exec"
        ]
    );
    for c in Category::ALL {
        assert_eq!(c.as_str().parse::<Category>(), Ok(c));
        assert_eq!(c.to_string(), c.as_str());
    }
    assert!("dangerous".parse::<Category>().is_err());
}

// ─── the table against CPython ───────────────────────────────────────────────────────

/// Modules whose import runs nothing but definitions, so the check below may import them.
const SAFE_TO_IMPORT: &[&str] = &[
    "builtins",
    "copyreg",
    "_codecs",
    "collections",
    "datetime",
    "time",
    "zoneinfo",
    "decimal",
    "fractions",
    "uuid",
    "ipaddress",
    "pathlib",
    "pathlib._local",
    "re",
    "enum",
    "http",
    "signal",
    "socket",
    "types",
    "argparse",
    "array",
    "string",
    "math",
    "cmath",
    "itertools",
    "_io",
    "io",
    "xml.etree.ElementTree",
    "posixpath",
    "ntpath",
    "os.path",
    "genericpath",
    "os",
    "posix",
    "nt",
    "sys",
    "multiprocessing.context",
    "urllib.parse",
    "urllib.request",
    "urllib.error",
];

/// Plain rows newer than the oldest Python 3 we test with, or of another platform.
const NEWER_OR_ELSEWHERE: &[&str] = &[
    "itertools.batched",
    "itertools.pairwise",
    "http.HTTPMethod",
    "enum.ReprEnum",
    "enum.StrEnum",
    "builtins.EncodingWarning",
    "builtins.BaseExceptionGroup",
    "builtins.ExceptionGroup",
    "os.sched_param",
    "posix.sched_param",
];

#[test]
fn every_plain_row_names_a_real_standard_library_object() {
    let rows: Vec<String> = BUILTIN_TABLE
        .iter()
        .filter(|e| e.category == Plain && !e.name.starts_with('*'))
        .map(|e| {
            assert!(
                SAFE_TO_IMPORT.contains(&e.module),
                "plain row {}.{}: add its module to SAFE_TO_IMPORT after checking that \
                 importing it runs nothing",
                e.module,
                e.name
            );
            format!("{}\t{}", e.module, e.name)
        })
        .collect();
    let Some(python) = common::python3() else {
        return;
    };
    let script = r#"
import importlib, sys
for row in sys.argv[1:]:
    module, name = row.split("\t")
    try:
        obj = importlib.import_module(module)
    except ImportError:
        print("NOMODULE", module, name, sep="\t")
        continue
    for part in name.split("."):
        if not hasattr(obj, part):
            print("MISSING", module, name, sep="\t")
            break
        obj = getattr(obj, part)
"#;
    let args: Vec<&str> = rows.iter().map(String::as_str).collect();
    let output = common::run_python(python, script, &args);
    let text = String::from_utf8(output.stdout).expect("utf-8");
    let mut wrong = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let [kind, module, name] = f.as_slice() else {
            panic!("unexpected line {line:?}");
        };
        let full = format!("{module}.{name}");
        let elsewhere = NEWER_OR_ELSEWHERE.contains(&full.as_str())
            || (*kind == "NOMODULE" && matches!(*module, "nt" | "posix" | "pathlib._local"));
        if !elsewhere {
            wrong.push(format!("{kind} {full}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "plain rows CPython does not have:\n{}",
        wrong.join("\n")
    );
}

// ─── the fixtures ─────────────────────────────────────────────────────────────────────

/// The verdict SPEC §5 gives each fixture, from what its README says is in it.
fn expected_verdict(file: &str, group: &str, status: &str) -> Option<Verdict> {
    if status == "code-exec" {
        return Some(Verdict::Dangerous);
    }
    if status != "valid" {
        return None;
    }
    Some(match group {
        "main" | "runtime" => Verdict::NonPortable,
        "joblib" if file.contains("main_instance") => Verdict::NonPortable,
        "keras" | "sklearn" | "pandas" => Verdict::NeedsLibraries,
        "torch" if file.contains("module") => Verdict::NeedsLibraries,
        _ => Verdict::Portable,
    })
}

#[test]
fn every_fixture_gets_the_verdict_its_content_calls_for() {
    let known = KnownGlobals::builtin();
    let mut checked = 0;
    let mut wrong = Vec::new();
    for path in common::fixture_files() {
        let sidecar = format!("{}.truth.json", path.display());
        let Ok(text) = std::fs::read_to_string(&sidecar) else {
            continue;
        };
        let truth = json::parse(&text).unwrap_or_else(|e| panic!("{sidecar}: {e}"));
        let field = |k: &str| truth.get(k).and_then(json::Value::as_str).unwrap_or("");
        let (file, group, status) = (field("file"), field("group"), field("status"));
        let mut categories = Vec::new();
        for pair in truth
            .get("globals")
            .and_then(json::Value::as_array)
            .unwrap_or(&[])
        {
            let pair = pair.as_array().expect("[module, name]");
            let (module, name) = (pair[0].as_str().unwrap(), pair[1].as_str().unwrap());
            let c = known.classify(module, name);
            if status == "valid" && c.category == Unknown {
                wrong.push(format!("{file}: {module} {name} is not in the table"));
            }
            categories.push(c.category);
        }
        let verdict = Verdict::of(categories);
        if status == "malformed" && verdict == Verdict::Dangerous {
            wrong.push(format!("{file}: malformed fixture judged dangerous"));
        }
        if let Some(want) = expected_verdict(file, group, status) {
            if verdict != want {
                wrong.push(format!("{file}: expected {want}, got {verdict}"));
            }
        }
        checked += 1;
    }
    assert!(
        checked > 200,
        "only {checked} fixtures found in {:?}",
        Path::new("fixtures")
    );
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// A small JSON reader for the sidecars (the crate has no JSON dependency).
mod json {
    use super::BTreeMap;

    #[derive(Debug, Clone, PartialEq)]
    pub enum Value {
        Null,
        Bool(bool),
        Number(f64),
        String(String),
        Array(Vec<Value>),
        Object(BTreeMap<String, Value>),
    }

    impl Value {
        pub fn get(&self, key: &str) -> Option<&Value> {
            match self {
                Value::Object(m) => m.get(key),
                _ => None,
            }
        }
        pub fn as_str(&self) -> Option<&str> {
            match self {
                Value::String(s) => Some(s),
                _ => None,
            }
        }
        pub fn as_array(&self) -> Option<&[Value]> {
            match self {
                Value::Array(a) => Some(a),
                _ => None,
            }
        }
    }

    pub fn parse(text: &str) -> Result<Value, String> {
        let mut p = Parser {
            s: text.as_bytes(),
            i: 0,
        };
        let v = p.value()?;
        p.ws();
        if p.i != p.s.len() {
            return Err(format!("trailing data at {}", p.i));
        }
        Ok(v)
    }

    struct Parser<'a> {
        s: &'a [u8],
        i: usize,
    }

    impl Parser<'_> {
        fn ws(&mut self) {
            while self.s.get(self.i).is_some_and(|b| b.is_ascii_whitespace()) {
                self.i += 1;
            }
        }
        fn eat(&mut self, b: u8) -> Result<(), String> {
            self.ws();
            if self.s.get(self.i) == Some(&b) {
                self.i += 1;
                Ok(())
            } else {
                Err(format!("expected {:?} at {}", b as char, self.i))
            }
        }
        fn value(&mut self) -> Result<Value, String> {
            self.ws();
            match self.s.get(self.i) {
                Some(b'{') => {
                    self.i += 1;
                    let mut m = BTreeMap::new();
                    self.ws();
                    if self.s.get(self.i) == Some(&b'}') {
                        self.i += 1;
                        return Ok(Value::Object(m));
                    }
                    loop {
                        self.ws();
                        let Value::String(k) = self.value()? else {
                            return Err(format!("object key expected at {}", self.i));
                        };
                        self.eat(b':')?;
                        m.insert(k, self.value()?);
                        self.ws();
                        match self.s.get(self.i) {
                            Some(b',') => self.i += 1,
                            Some(b'}') => {
                                self.i += 1;
                                return Ok(Value::Object(m));
                            }
                            _ => return Err(format!("expected , or }} at {}", self.i)),
                        }
                    }
                }
                Some(b'[') => {
                    self.i += 1;
                    let mut a = Vec::new();
                    self.ws();
                    if self.s.get(self.i) == Some(&b']') {
                        self.i += 1;
                        return Ok(Value::Array(a));
                    }
                    loop {
                        a.push(self.value()?);
                        self.ws();
                        match self.s.get(self.i) {
                            Some(b',') => self.i += 1,
                            Some(b']') => {
                                self.i += 1;
                                return Ok(Value::Array(a));
                            }
                            _ => return Err(format!("expected , or ] at {}", self.i)),
                        }
                    }
                }
                Some(b'"') => self.string().map(Value::String),
                Some(b't') => self.word("true", Value::Bool(true)),
                Some(b'f') => self.word("false", Value::Bool(false)),
                Some(b'n') => self.word("null", Value::Null),
                Some(_) => {
                    let start = self.i;
                    while self
                        .s
                        .get(self.i)
                        .is_some_and(|b| b.is_ascii_digit() || b"+-.eE".contains(b))
                    {
                        self.i += 1;
                    }
                    std::str::from_utf8(&self.s[start..self.i])
                        .ok()
                        .and_then(|t| t.parse().ok())
                        .map(Value::Number)
                        .ok_or_else(|| format!("bad number at {start}"))
                }
                None => Err("unexpected end".into()),
            }
        }
        fn word(&mut self, w: &str, v: Value) -> Result<Value, String> {
            if self.s[self.i..].starts_with(w.as_bytes()) {
                self.i += w.len();
                Ok(v)
            } else {
                Err(format!("bad literal at {}", self.i))
            }
        }
        fn string(&mut self) -> Result<String, String> {
            self.i += 1;
            let mut out = String::new();
            loop {
                let start = self.i;
                while self.s.get(self.i).is_some_and(|&b| b != b'"' && b != b'\\') {
                    self.i += 1;
                }
                out.push_str(
                    std::str::from_utf8(&self.s[start..self.i]).map_err(|e| e.to_string())?,
                );
                match self.s.get(self.i) {
                    Some(b'"') => {
                        self.i += 1;
                        return Ok(out);
                    }
                    Some(b'\\') => {
                        let esc = *self.s.get(self.i + 1).ok_or("unterminated escape")?;
                        self.i += 2;
                        match esc {
                            b'"' => out.push('"'),
                            b'\\' => out.push('\\'),
                            b'/' => out.push('/'),
                            b'b' => out.push('\u{8}'),
                            b'f' => out.push('\u{c}'),
                            b'n' => out.push('\n'),
                            b'r' => out.push('\r'),
                            b't' => out.push('\t'),
                            b'u' => {
                                let mut unit = self.hex4()?;
                                if (0xD800..0xDC00).contains(&unit)
                                    && self.s[self.i..].starts_with(b"\\u")
                                {
                                    self.i += 2;
                                    let low = self.hex4()?;
                                    unit = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
                                }
                                out.push(char::from_u32(unit).unwrap_or('\u{fffd}'));
                            }
                            _ => return Err(format!("bad escape at {}", self.i)),
                        }
                    }
                    _ => return Err("unterminated string".into()),
                }
            }
        }
        fn hex4(&mut self) -> Result<u32, String> {
            let digits = self.s.get(self.i..self.i + 4).ok_or("short \\u escape")?;
            self.i += 4;
            u32::from_str_radix(std::str::from_utf8(digits).map_err(|e| e.to_string())?, 16)
                .map_err(|e| e.to_string())
        }
    }
}

// ─── default-deny and vetted calls (issue 11) ─────────────────────────────────────────

/// Every module of the running CPython's `sys.stdlib_module_names` is default-deny: a
/// name no row covers is code-exec, never `unknown` (only `math.*`/`cmath.*` rows and
/// the like make a whole module something else).
#[test]
fn every_standard_library_module_of_cpython_is_default_deny() {
    let Some(python) = common::python3() else {
        return;
    };
    let script = "import sys\nfor m in sorted(sys.stdlib_module_names): print(m)\n";
    let output = common::run_python(python, script, &[]);
    let text = String::from_utf8(output.stdout).expect("utf-8");
    let known = KnownGlobals::builtin();
    let mut wrong = Vec::new();
    for module in text.lines().filter(|m| !m.is_empty()) {
        let c = known.classify(module, "pklinspect_unlikely_name");
        if c.category == Unknown || c.category == Library {
            wrong.push(format!("{module}: {} ({})", c.category, c.reason));
        }
    }
    assert!(text.lines().count() > 200, "{text}");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn standard_library_functions_without_a_row_are_code_exec() {
    check(&[
        "_bootsubprocess _fork_exec code-exec",
        "warnings _getcategory code-exec",
        "cgitb reset code-exec",
        "wave open code-exec",
        "tokenize open code-exec",
        "pstats Stats code-exec",
        "mimetypes read_mime_types code-exec",
        "mailbox mbox code-exec",
        "_pyrepl.pager pipe_pager code-exec",
        "_sitebuiltins _Helper code-exec",
        "typing get_type_hints code-exec",
        "collections namedtuple code-exec",
        // Rows still win.
        "collections OrderedDict plain",
        "datetime datetime plain",
        "zoneinfo ZoneInfo._unpickle plain",
    ]);
}

#[test]
fn names_libraries_reexport_from_subprocess_are_code_exec_under_a_wildcard() {
    check(&[
        "sklearn.utils._show_versions Popen code-exec",
        "numpy.core._multiarray_umath fromfile code-exec",
        "scipy.something check_output code-exec",
        "pandas.compat.pickle_compat loads code-exec",
        // A script's own function of that name stays user-defined.
        "__main__ system user-defined",
        // An exact row is not overridden.
        "sklearn.tree._tree Tree library",
    ]);
}

/// Vetted call targets say where they come from, and a code-exec row is never one.
#[test]
fn vetted_rows_name_their_provenance() {
    let vetted: Vec<_> = BUILTIN_TABLE
        .iter()
        .filter(|e| e.vetted.is_some())
        .collect();
    assert!(vetted.len() > 100, "{}", vetted.len());
    for e in vetted {
        let provenance = e.vetted.unwrap_or_default();
        assert!(
            provenance.len() > 10,
            "{}.{}: {provenance:?}",
            e.module,
            e.name
        );
        assert_ne!(e.category, CodeExec, "{}.{}", e.module, e.name);
        let c = KnownGlobals::builtin().classify(e.module, e.name);
        if !e.name.starts_with('*') {
            assert_eq!(
                c.vetted.as_deref(),
                Some(provenance),
                "{}.{}",
                e.module,
                e.name
            );
        }
    }
    // Referenced-only rows are not call targets.
    let known = KnownGlobals::builtin();
    assert!(known.classify("builtins", "map").vetted.is_none());
    assert!(known
        .classify("sklearn.linear_model", "LinearRegression")
        .vetted
        .is_none());
}
