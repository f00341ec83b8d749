//! Default-deny for calls (SPEC §5, issue 11): one hand-made pickle per attack family,
//! each caught with an error-level finding, `lint` exit 1 and the verdict SPEC §5 gives it;
//! and the benign look-alikes that real libraries write, which must not be errors.
//!
//! The pickles are written opcode by opcode (protocol 3), so each test shows exactly the
//! construction it pins down.

use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;

/// A pickled expression.
enum E {
    Global(&'static str, &'static str),
    Str(&'static str),
    Bytes(Vec<u8>),
    Int(i32),
    Bool(bool),
    None,
    Tuple(Vec<E>),
    List(Vec<E>),
    /// REDUCE: `callable(*args)`.
    Call(Box<E>, Vec<E>),
    /// NEWOBJ: `cls.__new__(cls, *args)`.
    New(Box<E>, Vec<E>),
    /// BUILD: the object, then its state.
    Build(Box<E>, Box<E>),
    Dict(Vec<(E, E)>),
    /// APPEND (one item) or APPENDS (a MARK, then the items) on the object.
    Append(Box<E>, Vec<E>),
}

use E::*;

fn call(m: &'static str, n: &'static str, args: Vec<E>) -> E {
    Call(Box::new(Global(m, n)), args)
}

fn write(e: &E, out: &mut Vec<u8>) {
    match e {
        Global(m, n) => out.extend(format!("c{m}\n{n}\n").bytes()),
        Str(s) => {
            out.push(b'X');
            out.extend((s.len() as u32).to_le_bytes());
            out.extend(s.bytes());
        }
        Bytes(b) => {
            out.push(b'B');
            out.extend((b.len() as u32).to_le_bytes());
            out.extend(b);
        }
        Int(v) => {
            out.push(b'J');
            out.extend(v.to_le_bytes());
        }
        Bool(b) => out.push(if *b { 0x88 } else { 0x89 }),
        None => out.push(b'N'),
        Tuple(items) => {
            out.push(b'(');
            items.iter().for_each(|i| write(i, out));
            out.push(b't');
        }
        List(items) => {
            out.push(b'(');
            items.iter().for_each(|i| write(i, out));
            out.push(b'l');
        }
        Call(f, args) => {
            write(f, out);
            out.push(b'(');
            args.iter().for_each(|i| write(i, out));
            out.extend(b"tR");
        }
        New(cls, args) => {
            write(cls, out);
            out.push(b'(');
            args.iter().for_each(|i| write(i, out));
            out.extend(b"t\x81");
        }
        Build(obj, state) => {
            write(obj, out);
            write(state, out);
            out.push(b'b');
        }
        Append(obj, items) => {
            write(obj, out);
            if let [one] = items.as_slice() {
                write(one, out);
                out.push(b'a');
            } else {
                out.push(b'(');
                items.iter().for_each(|i| write(i, out));
                out.push(b'e');
            }
        }
        Dict(pairs) => {
            out.extend(b"}(");
            for (k, v) in pairs {
                write(k, out);
                write(v, out);
            }
            out.push(b'u');
        }
    }
}

fn pickle(e: &E) -> Vec<u8> {
    let mut out = b"\x80\x03".to_vec();
    write(e, &mut out);
    out.push(b'.');
    out
}

/// `lint --format json --no-config [extra]` of one file holding `e`: the file's entry and
/// the exit code.
fn lint_with(e: &E, extra: &[&str], policy: Option<&str>) -> (Value, i32) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("f.pkl"), pickle(e)).unwrap();
    let mut cmd = Command::cargo_bin("pklinspect").unwrap();
    cmd.current_dir(dir.path())
        .args(["lint", "--format", "json"]);
    match policy {
        Some(text) => {
            std::fs::write(dir.path().join("p.toml"), text).unwrap();
            cmd.args(["--config", "p.toml"]);
        }
        Option::None => {
            cmd.arg("--no-config");
        }
    }
    let out = cmd.args(extra).arg("f.pkl").output().unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|err| {
        panic!("{err}: {}", String::from_utf8_lossy(&out.stderr));
    });
    (doc["files"][0].clone(), out.status.code().unwrap())
}

fn lint(e: &E) -> (Value, i32) {
    lint_with(e, &[], Option::None)
}

fn errors(entry: &Value) -> Vec<(String, String)> {
    entry["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] == "error")
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_string(),
                f["message"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// An error-level finding of `rule` whose message mentions `needle`, exit 1, `verdict`.
fn assert_caught(e: &E, rule: &str, needle: &str, verdict: &str) {
    let (entry, code) = lint(e);
    let errs = errors(&entry);
    assert!(
        errs.iter().any(|(r, m)| r == rule && m.contains(needle)),
        "no {rule} error mentioning {needle:?}: {errs:?}"
    );
    assert_eq!(code, 1, "{entry}");
    assert_eq!(entry["verdict"], verdict, "{entry}");
}

/// No error-level finding, exit 0, `verdict`.
fn assert_clean(e: &E, verdict: &str) {
    let (entry, code) = lint(e);
    assert_eq!(errors(&entry), vec![], "{entry}");
    assert_eq!(code, 0, "{entry}");
    assert_eq!(entry["verdict"], verdict, "{entry}");
}

// ── attack families ──────────────────────────────────────────────────────────────

#[test]
fn newobj_of_a_class_that_is_not_a_global_fails_closed() {
    // NEWOBJ of a class fetched by getattr runs that class's __new__ on the file's
    // arguments; it used to pass without a word.
    let fetched = Call(
        Box::new(Global("builtins", "getattr")),
        vec![Global("matplotlib.patches", "BoxStyle"), Str("Round")],
    );
    let e = New(Box::new(fetched), vec![Str("/etc/passwd")]);
    assert_caught(&e, "unvetted-call", "not a global of the file", "unvetted");
    // Without arguments it is what matplotlib writes for a figure's text box.
    let fetched = Call(
        Box::new(Global("builtins", "getattr")),
        vec![Global("matplotlib.patches", "BoxStyle"), Str("Round")],
    );
    assert_clean(&New(Box::new(fetched), vec![]), "needs-libraries");
}

#[test]
fn sympy_rebuild_undef_keywords_become_class_attributes() {
    // _rebuild_undef(name, kwargs) is Function(name, **kwargs): a keyword that is not an
    // assumption lands in the new class's dict, so NEWOBJ of it then BUILD calls the
    // planted FiniteSet with the file's text.
    let class = call(
        "sympy.core.function",
        "_rebuild_undef",
        vec![
            Str("f"),
            Dict(vec![(
                Str("__setstate__"),
                Global("sympy.sets.sets", "FiniteSet"),
            )]),
        ],
    );
    let e = Build(
        Box::new(New(Box::new(class), vec![])),
        Box::new(Str(SYMPY_PAYLOAD)),
    );
    assert_caught(&e, "code-exec", "_rebuild_undef", "dangerous");
    // `bases` is a parameter of the metaclass, not an attribute.
    let bases = call(
        "sympy.core.function",
        "_rebuild_undef",
        vec![Str("f"), Dict(vec![(Str("bases"), Tuple(vec![]))])],
    );
    assert_caught(&bases, "code-exec", "_rebuild_undef", "dangerous");
    // What sympy writes: the function's assumptions.
    let real = call(
        "sympy.core.function",
        "_rebuild_undef",
        vec![Str("f"), Dict(vec![(Str("real"), Bool(true))])],
    );
    assert_clean(&real, "needs-libraries");
}

/// An `argparse.Namespace` (a plain vetted class with a `__dict__`) whose first BUILD
/// plants `key = sympy.sets.sets.FiniteSet` on the instance.
fn planted(key: &'static str) -> E {
    let ns = New(Box::new(Global("argparse", "Namespace")), vec![]);
    let gadget = Global("sympy.sets.sets", "FiniteSet");
    Build(Box::new(ns), Box::new(Dict(vec![(Str(key), gadget)])))
}

const SYMPY_PAYLOAD: &str = "__import__('os').system('id')";

#[test]
fn instance_attribute_hijacks_setstate_append_and_extend() {
    // The loader looks __setstate__ (BUILD), append (APPEND) and extend (APPENDS) up on
    // the instance, unbound: FiniteSet(text) sympifies, i.e. evals, the text. The stream
    // only references FiniteSet, never calls it.
    let setstate = Build(
        Box::new(planted("__setstate__")),
        Box::new(Str(SYMPY_PAYLOAD)),
    );
    assert_caught(&setstate, "code-exec", "__setstate__", "dangerous");
    let append = Append(Box::new(planted("append")), vec![Str(SYMPY_PAYLOAD)]);
    assert_caught(&append, "code-exec", "append", "dangerous");
    let extend = Append(
        Box::new(planted("extend")),
        vec![Str(SYMPY_PAYLOAD), Str("x")],
    );
    assert_caught(&extend, "code-exec", "extend", "dangerous");
    // Through a slot state's `__dict__` (setattr replaces the instance dict).
    let ns = New(Box::new(Global("argparse", "Namespace")), vec![]);
    let inner = Dict(vec![(
        Str("__setstate__"),
        Global("sympy.sets.sets", "FiniteSet"),
    )]);
    let slots = Tuple(vec![None, Dict(vec![(Str("__dict__"), inner)])]);
    let via_slots = Build(
        Box::new(Build(Box::new(ns), Box::new(slots))),
        Box::new(Str(SYMPY_PAYLOAD)),
    );
    assert_caught(&via_slots, "code-exec", "__setstate__", "dangerous");
    // Or a state that swaps the instance's class for one whose methods run the rest.
    let ns = New(Box::new(Global("argparse", "Namespace")), vec![]);
    let swap = Tuple(vec![
        None,
        Dict(vec![(
            Str("__class__"),
            Global("sympy.sets.sets", "FiniteSet"),
        )]),
    ]);
    assert_caught(
        &Build(Box::new(ns), Box::new(swap)),
        "code-exec",
        "__class__",
        "dangerous",
    );
    // The attribute name built by a (vetted) call of str hides it from a name check.
    let ns = New(Box::new(Global("argparse", "Namespace")), vec![]);
    let key = call("builtins", "str", vec![Str("__setstate__")]);
    let hidden = Build(
        Box::new(Build(
            Box::new(ns),
            Box::new(Dict(vec![(key, Global("sympy.sets.sets", "FiniteSet"))])),
        )),
        Box::new(Str(SYMPY_PAYLOAD)),
    );
    assert_caught(&hidden, "code-exec", "built at load", "dangerous");
    // Or the state is a mapping built by a (vetted) call: dict([(name, value)]).
    let ns = New(Box::new(Global("argparse", "Namespace")), vec![]);
    let pairs = List(vec![Tuple(vec![
        Str("__setstate__"),
        Global("sympy.sets.sets", "FiniteSet"),
    ])]);
    let mapping = call("builtins", "dict", vec![pairs]);
    let built = Build(
        Box::new(Build(Box::new(ns), Box::new(mapping))),
        Box::new(Str(SYMPY_PAYLOAD)),
    );
    assert_caught(&built, "code-exec", "__setstate__", "dangerous");
    // A plain value under such a name calls nothing.
    let ns = New(Box::new(Global("argparse", "Namespace")), vec![]);
    let flag = Build(
        Box::new(ns),
        Box::new(Dict(vec![(Str("append"), Bool(true))])),
    );
    assert_clean(&flag, "portable");
}

#[test]
fn type_with_three_arguments_builds_a_class_at_load() {
    // copyreg.__newobj__(type('X', (object,), {'__setstate__': FiniteSet})), then BUILD:
    // the class's __setstate__ is a referenced class, which is not bound, so BUILD calls
    // FiniteSet(text). Only NEWOBJ, a vetted type() call and a reference otherwise.
    let class = call(
        "builtins",
        "type",
        vec![
            Str("X"),
            Tuple(vec![Global("builtins", "object")]),
            Dict(vec![(
                Str("__setstate__"),
                Global("sympy.sets.sets", "FiniteSet"),
            )]),
        ],
    );
    let e = Build(
        Box::new(New(Box::new(class), vec![])),
        Box::new(Str(SYMPY_PAYLOAD)),
    );
    assert_caught(&e, "code-exec", "builtins.type(", "dangerous");
    // What pickle writes for type(None): one argument.
    assert_clean(&call("builtins", "type", vec![None]), "portable");
}

/// What scipy 1.17 writes as `gamma_gen`'s `_parse_arg_template` (one shape, `a`).
const SCIPY_GAMMA_TEMPLATE: &str = "\ndef _parse_args(self, a,  loc=0, scale=1):\n    \
return (a, ), loc, scale\n\ndef _parse_args_rvs(self, a,  loc=0, scale=1, size=None):\n    \
return self._argcheck_rvs(a,  loc, scale, size=size)\n\ndef _parse_args_stats(self, a,  \
loc=0, scale=1, moments='mv'):\n    return (a, ), loc, scale, moments\n";

/// A scipy distribution as scipy pickles it: NEWOBJ of the generator class, then BUILD
/// with its `__dict__`.
fn scipy_dist(states: Vec<E>) -> E {
    let mut e = New(
        Box::new(Global("scipy.stats._continuous_distns", "gamma_gen")),
        vec![],
    );
    for state in states {
        e = Build(Box::new(e), Box::new(state));
    }
    e
}

fn arg_template(text: &'static str) -> E {
    Dict(vec![(Str("_parse_arg_template"), Str(text))])
}

#[test]
fn scipy_setstate_executes_the_argument_parser_template() {
    // rv_generic.__setstate__ runs exec(self._parse_arg_template): a NEWOBJ of a library
    // class with no arguments, then a plain BUILD, and no unvetted call anywhere.
    let evil = "import os\nos.system('id')\n";
    assert_caught(
        &scipy_dist(vec![arg_template(evil)]),
        "code-exec",
        "_parse_arg_template",
        "dangerous",
    );
    // Anything appended to the real template runs too.
    let appended = "\ndef _parse_args(self, a,  loc=0, scale=1):\n    \
return (a, ), loc, scale\n\ndef _parse_args_rvs(self, a,  loc=0, scale=1, size=None):\n    \
return self._argcheck_rvs(a,  loc, scale, size=size)\n\ndef _parse_args_stats(self, a,  \
loc=0, scale=1, moments='mv'):\n    return (a, ), loc, scale, moments\n__import__('os')\n";
    assert_caught(
        &scipy_dist(vec![arg_template(appended)]),
        "code-exec",
        "_parse_arg_template",
        "dangerous",
    );
    // A shape name that is not an identifier is code inside the def line.
    let shape = "\ndef _parse_args(self, a=__import__('os'),  loc=0, scale=1):\n    \
return (a=__import__('os'), ), loc, scale\n";
    assert_caught(
        &scipy_dist(vec![arg_template(shape)]),
        "code-exec",
        "_parse_arg_template",
        "dangerous",
    );
    // Bytes are executed as well.
    let bytes = Dict(vec![(
        Str("_parse_arg_template"),
        Bytes(b"import os".to_vec()),
    )]);
    assert_caught(
        &scipy_dist(vec![bytes]),
        "code-exec",
        "_parse_arg_template",
        "dangerous",
    );
    // Each BUILD calls __setstate__: a later, clean BUILD does not undo the first.
    assert_caught(
        &scipy_dist(vec![arg_template(evil), arg_template(SCIPY_GAMMA_TEMPLATE)]),
        "code-exec",
        "_parse_arg_template",
        "dangerous",
    );
    // What scipy itself writes is not an error.
    assert_clean(
        &scipy_dist(vec![arg_template(SCIPY_GAMMA_TEMPLATE)]),
        "needs-libraries",
    );
}

#[test]
fn library_gadget_via_wildcard_sympy_evaluates_strings() {
    let payload = "__import__('os').system('id')";
    assert_caught(
        &call("sympy", "sympify", vec![Str(payload)]),
        "code-exec",
        "sympy.sympify",
        "dangerous",
    );
    assert_caught(
        &call("sympy", "simplify", vec![Str(payload)]),
        "code-exec",
        "sympy.simplify",
        "dangerous",
    );
}

#[test]
fn library_function_called_but_not_vetted_is_unvetted() {
    // sympy.core.add.Add is covered by the `sympy.**` library wildcard: referenced it would
    // need only sympy, but calling it with file-chosen arguments needs vetting.
    let add = call("sympy.core.add", "Add", vec![Int(1), Int(2)]);
    assert_caught(
        &add,
        "unvetted-call",
        "sympy.core.add.Add(1, 2)",
        "unvetted",
    );
    // Instantiating the same class without __init__ (NEWOBJ, then BUILD) is not a call.
    let new = Build(
        Box::new(New(Box::new(Global("sympy.core.add", "Add")), vec![])),
        Box::new(Dict(vec![])),
    );
    assert_clean(&new, "needs-libraries");
}

#[test]
fn sympy_constructor_given_a_string_evaluates_it() {
    // sympy's Basic.__reduce_ex__ writes NEWOBJ(cls, args); FiniteSet.__new__ sympifies
    // its arguments, so a string argument is evaluated.
    let e = New(
        Box::new(Global("sympy.sets.sets", "FiniteSet")),
        vec![Str("__import__('os').system('id')")],
    );
    assert_caught(&e, "code-exec", "sympify their arguments", "dangerous");
    // Arguments that are sympy objects themselves are what sympy writes.
    let x = New(
        Box::new(Global("sympy.core.symbol", "Symbol")),
        vec![Str("x")],
    );
    let one = New(Box::new(Global("sympy.core.numbers", "One")), vec![]);
    let add = New(Box::new(Global("sympy.core.add", "Add")), vec![x, one]);
    assert_clean(&add, "needs-libraries");
}

#[test]
fn newobj_with_arguments_calls_the_class_new() {
    // NEWOBJ with file-chosen values runs the class's own __new__ on them.
    let e = New(
        Box::new(Global("acme_lib.models", "Loader")),
        vec![Str("/etc/passwd")],
    );
    assert_caught(
        &e,
        "unvetted-call",
        "acme_lib.models.Loader.__new__",
        "unvetted",
    );
}

#[test]
fn codecs_encode_with_an_unusual_codec() {
    let e = call("_codecs", "encode", vec![Str("x"), Str("evil_codec")]);
    assert_caught(&e, "unvetted-call", "evil_codec", "unvetted");
    // The built-in types that take an encoding look it up the same way.
    for ty in ["str", "bytes", "bytearray"] {
        let e = call("builtins", ty, vec![Str("x"), Str("evil_codec")]);
        assert_caught(&e, "unvetted-call", "evil_codec", "unvetted");
    }
    // What protocols 0-2 write for a bytearray.
    let e = call("builtins", "bytearray", vec![Str("ab"), Str("latin-1")]);
    assert_clean(&e, "portable");
    assert_clean(
        &call("_codecs", "encode", vec![Str("x"), Str("latin1")]),
        "portable",
    );
}

#[test]
fn numpy_random_constructor_calls_a_method_it_is_given() {
    // __generator_ctor(name, bit_generator_ctor) calls its second argument: a method
    // fetched by getattr is called, not merely referenced.
    let method = call(
        "builtins",
        "getattr",
        vec![Global("sympy.sets.sets", "FiniteSet"), Str("fromiter")],
    );
    let e = call(
        "numpy.random._pickle",
        "__generator_ctor",
        vec![Str("x"), method],
    );
    assert_caught(&e, "unvetted-call", "FiniteSet.fromiter", "unvetted");
}

#[test]
fn numpy_random_constructor_calls_the_class_it_is_given() {
    let e = call(
        "numpy.random._pickle",
        "__randomstate_ctor",
        vec![Str("MT19937"), Global("sympy.core.add", "Add")],
    );
    assert_caught(&e, "unvetted-call", "sympy.core.add.Add", "unvetted");
    let ok = call(
        "numpy.random._pickle",
        "__bit_generator_ctor",
        vec![Global("numpy.random._mt19937", "MT19937")],
    );
    assert_clean(&ok, "needs-libraries");
}

#[test]
fn an_allow_entry_vets_a_call() {
    let add = call("sympy.core.add", "Add", vec![Int(1), Int(2)]);
    let policy = "allow = [{ pattern = \"sympy.core.add.Add\", reason = \"our algebra\" }]\n";
    let (entry, code) = lint_with(&add, &[], Some(policy));
    assert_eq!(errors(&entry), vec![], "{entry}");
    assert_eq!(code, 0);
}

#[test]
fn numpy_private_fromfile_reads_files() {
    for module in [
        "numpy.core._multiarray_umath",
        "numpy._core._multiarray_umath",
    ] {
        let read = Call(
            Box::new(Global(module, "fromfile")),
            vec![Str("/etc/passwd")],
        );
        assert_caught(&read, "code-exec", "fromfile", "dangerous");
    }
    let memmap = call(
        "numpy.lib.format",
        "open_memmap",
        vec![Str("/tmp/x"), Str("w+")],
    );
    assert_caught(&memmap, "code-exec", "open_memmap", "dangerous");
}

#[test]
fn subprocess_reexported_under_a_library_module() {
    for name in ["Popen", "check_output", "getoutput"] {
        let run = Call(
            Box::new(Global("sklearn.utils._show_versions", name)),
            vec![Str("id")],
        );
        assert_caught(&run, "code-exec", name, "dangerous");
    }
}

#[test]
fn pandas_compat_pickle_compat_loads_a_nested_pickle() {
    let nested = call(
        "pandas.compat.pickle_compat",
        "loads",
        vec![Bytes(
            b"\x80\x03cposix\nsystem\nX\x02\x00\x00\x00idtR.".to_vec(),
        )],
    );
    assert_caught(
        &nested,
        "code-exec",
        "pandas.compat.pickle_compat.loads",
        "dangerous",
    );
}

#[test]
fn unlisted_standard_library_modules_are_code_exec() {
    for (module, name, arg) in [
        ("_bootsubprocess", "_check_cmd", "id"),
        ("warnings", "_getcategory", "os.system"),
        ("cgitb", "reset", ""),
        ("wave", "open", "/tmp/x.wav"),
        ("tokenize", "open", "/etc/passwd"),
        ("pstats", "Stats", "/tmp/x"),
        ("mimetypes", "read_mime_types", "/etc/passwd"),
        ("mailbox", "mbox", "/tmp/x"),
        ("_pyrepl.pager", "pipe_pager", "x"),
        ("_sitebuiltins", "_Printer", "x"),
        ("typing", "get_type_hints", "x"),
    ] {
        let e = Call(Box::new(Global(module, name)), vec![Str(arg)]);
        assert_caught(
            &e,
            "code-exec",
            "a standard-library function pklinspect has not vetted",
            "dangerous",
        );
    }
}

#[test]
fn joblib_ndarraywrapper_opens_a_file_the_pickle_names() {
    for module in ["joblib.numpy_pickle", "joblib.numpy_pickle_compat"] {
        let wrapper = Build(
            Box::new(New(Box::new(Global(module, "NDArrayWrapper")), vec![])),
            Box::new(Dict(vec![(Str("filename"), Str("/tmp/evil.npy"))])),
        );
        assert_caught(&wrapper, "code-exec", "NDArrayWrapper", "dangerous");
    }
}

#[test]
fn getattr_on_a_non_vetted_object_stays_code_exec() {
    // A getattr chain into a function's globals.
    let inner = call(
        "builtins",
        "getattr",
        vec![Global("collections", "OrderedDict"), Str("fromkeys")],
    );
    let chain = call("builtins", "getattr", vec![inner, Str("__globals__")]);
    assert_caught(&chain, "code-exec", "builtins.getattr", "dangerous");
    // getattr of a code-exec global.
    let sys = call(
        "builtins",
        "getattr",
        vec![Global("sys", "modules"), Str("get")],
    );
    assert_caught(&sys, "code-exec", "builtins.getattr", "dangerous");
}

#[test]
fn calling_a_method_fetched_by_getattr_needs_vetting() {
    // A method of a library object, fetched and called.
    let add = New(Box::new(Global("sympy.core.add", "Add")), vec![]);
    let method = call("builtins", "getattr", vec![add, Str("doit")]);
    let e = Call(Box::new(method), vec![]);
    assert_caught(&e, "unvetted-call", "sympy.core.add.Add.doit()", "unvetted");
    // ndarray.tofile writes a file: the table's dotted-name rules call it code-exec.
    let method = call(
        "builtins",
        "getattr",
        vec![Global("numpy", "ndarray"), Str("tofile")],
    );
    let e = Call(Box::new(method), vec![Str("/tmp/x")]);
    assert_caught(
        &e,
        "code-exec",
        "numpy.ndarray.tofile('/tmp/x')",
        "dangerous",
    );
}

#[test]
fn partial_wrapping_os_system() {
    let p = call(
        "functools",
        "partial",
        vec![Global("os", "system"), Str("id")],
    );
    assert_caught(&p, "code-exec", "os.system", "dangerous");
    let run = Call(Box::new(p), vec![]);
    assert_caught(&run, "code-exec", "os.system", "dangerous");
}

#[test]
fn partial_wrapping_an_unvetted_library_function() {
    let p = call(
        "functools",
        "partial",
        vec![Global("sympy.core.add", "Add"), Int(1)],
    );
    assert_caught(&p, "unvetted-call", "sympy.core.add.Add", "unvetted");
}

#[test]
fn load_from_bytes_of_something_that_is_not_a_torch_file() {
    let e = call(
        "torch.storage",
        "_load_from_bytes",
        vec![Bytes(b"\x80\x03cposix\nsystem\n.".to_vec())],
    );
    assert_caught(
        &e,
        "code-exec",
        "torch.storage._load_from_bytes",
        "dangerous",
    );
}

// ── benign look-alikes that real libraries write ─────────────────────────────────

#[test]
fn getattr_bound_method_of_a_library_object_is_not_an_error() {
    // matplotlib figures keep `fig.delaxes`, a bound method, as a callback: a reference.
    let fig = New(Box::new(Global("matplotlib.figure", "Figure")), vec![]);
    let e = List(vec![call("builtins", "getattr", vec![fig, Str("delaxes")])]);
    assert_clean(&e, "needs-libraries");
}

#[test]
fn partial_of_a_vetted_callable_is_not_an_error() {
    // scikit-learn's HistGradientBoosting with categorical features.
    let e = call(
        "functools",
        "partial",
        vec![Global("sklearn.utils.validation", "check_array"), None],
    );
    assert_clean(&e, "needs-libraries");
}

#[test]
fn pandas_zoneinfo_unpickle_through_getattr_is_not_an_error() {
    let method = call(
        "builtins",
        "getattr",
        vec![Global("zoneinfo", "ZoneInfo"), Str("_unpickle")],
    );
    assert_clean(
        &Call(Box::new(method), vec![Str("UTC"), Int(1)]),
        "portable",
    );
}

#[test]
fn protocol_2_newobj_ex_through_partial_of_new_is_not_an_error() {
    // CPython's pickle below protocol 4 writes partial(cls.__new__, cls, *args, **kwargs).
    let new = call(
        "builtins",
        "getattr",
        vec![Global("sympy.core.symbol", "Symbol"), Str("__new__")],
    );
    let p = call(
        "functools",
        "partial",
        vec![new, Global("sympy.core.symbol", "Symbol"), Str("x")],
    );
    assert_clean(&Call(Box::new(p), vec![]), "needs-libraries");
    // As pickle writes it: partial(f) then BUILD (f, args, kwds, dict).
    let new = || {
        call(
            "builtins",
            "getattr",
            vec![Global("sympy.core.symbol", "Symbol"), Str("__new__")],
        )
    };
    let state = Tuple(vec![
        new(),
        Tuple(vec![Global("sympy.core.symbol", "Symbol"), Str("x")]),
        Dict(vec![(Str("real"), Bool(true))]),
        None,
    ]);
    let p = Build(
        Box::new(call("functools", "partial", vec![new()])),
        Box::new(state),
    );
    assert_clean(&Call(Box::new(p), vec![]), "needs-libraries");
    // The same route with a sympy class that sympifies a string.
    let new = call(
        "builtins",
        "getattr",
        vec![Global("sympy.sets.sets", "FiniteSet"), Str("__new__")],
    );
    let state = Tuple(vec![
        Global("builtins", "None"),
        Tuple(vec![
            Global("sympy.sets.sets", "FiniteSet"),
            Str("__import__('os')"),
        ]),
        None,
        None,
    ]);
    let p = Build(
        Box::new(call("functools", "partial", vec![new])),
        Box::new(state),
    );
    assert_caught(
        &Call(Box::new(p), vec![]),
        "code-exec",
        "sympify",
        "dangerous",
    );
}

#[test]
fn load_from_bytes_of_a_torch_zip_is_not_an_error() {
    // A real `torch.save` archive (tests/data/torch_stems, written by torch 2.15): the
    // nested analysis opens it, and its contents are judged on their own.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/torch_stems");
    let mut saved: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    saved.sort();
    let bytes = std::fs::read(&saved[0]).unwrap();
    assert!(bytes.starts_with(b"PK\x03\x04"));
    let e = call("torch.storage", "_load_from_bytes", vec![Bytes(bytes)]);
    assert_clean(&e, "portable");
    // Bytes that only start like one cannot be read: what they run is unknown (fail closed).
    let e = call(
        "torch.storage",
        "_load_from_bytes",
        vec![Bytes(b"PK\x03\x04rest of a torch.save archive".to_vec())],
    );
    let (entry, code) = lint(&e);
    assert_eq!(code, 1, "{entry}");
    assert!(
        errors(&entry).iter().any(|(r, _)| r == "malformed"),
        "{entry}"
    );
}

#[test]
fn vetted_reconstructors_are_not_errors() {
    let e = List(vec![
        call(
            "datetime",
            "date",
            vec![Bytes(b"\x07\xe8\x01\x02".to_vec())],
        ),
        call("collections", "OrderedDict", vec![]),
        call("re", "_compile", vec![Str("a+"), Int(32)]),
        call(
            "copyreg",
            "_reconstructor",
            vec![
                Global("sklearn.tree", "DecisionTreeClassifier"),
                Global("builtins", "object"),
                None,
            ],
        ),
    ]);
    assert_clean(&e, "needs-libraries");
}

#[test]
fn copyreg_reconstructor_calls_its_base() {
    let e = call(
        "copyreg",
        "_reconstructor",
        vec![
            Global("sympy.core.add", "Add"),
            Global("sympy.core.add", "Add"),
            Str("x"),
        ],
    );
    assert_caught(&e, "unvetted-call", "sympy.core.add.Add", "unvetted");
}

#[test]
fn explain_shows_a_call_with_its_literal_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("f.pkl");
    std::fs::write(
        &file,
        pickle(&call("posix", "system", vec![Str("echo hi")])),
    )
    .unwrap();
    let out = Command::cargo_bin("pklinspect")
        .unwrap()
        .args(["explain", "--color", "never"])
        .arg(Path::new(&file))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("posix.system('echo hi')"), "{text}");
}

#[test]
fn strict_makes_unknown_references_errors() {
    let e = New(Box::new(Global("acme_models", "Widget")), vec![]);
    let (entry, code) = lint(&e);
    assert_eq!(errors(&entry), vec![], "{entry}");
    assert_eq!(code, 0);
    let (entry, code) = lint_with(&e, &["--strict"], Option::None);
    assert!(
        errors(&entry).iter().any(|(r, _)| r == "unknown-import"),
        "{entry}"
    );
    assert_eq!(code, 1);
    let (entry, code) = lint_with(&e, &[], Some("strict = true\n"));
    assert!(
        errors(&entry).iter().any(|(r, _)| r == "unknown-import"),
        "{entry}"
    );
    assert_eq!(code, 1);
}

// ── joblib by joblib's rules ─────────────────────────────────────────────────────────

/// A numpy dtype as numpy pickles it: `numpy.dtype('f8', False, True)` + BUILD of its
/// state, whose flags item (index 7) numpy's `__setstate__` takes as given.
fn f8_dtype(flags: i32) -> E {
    Build(
        Box::new(call(
            "numpy",
            "dtype",
            vec![Str("f8"), Bool(false), Bool(true)],
        )),
        Box::new(Tuple(vec![
            Int(3),
            Str("<"),
            None,
            None,
            None,
            Int(-1),
            Int(-1),
            Int(flags),
        ])),
    )
}

/// A joblib file: a `NumpyArrayWrapper` made through `copyreg._reconstructor` (joblib
/// checks `isinstance`, so this loads), its state, then `trailing` as joblib reads it.
fn joblib_file(flags: i32, alignment: E, trailing: &[u8]) -> Vec<u8> {
    let made = call(
        "copyreg",
        "_reconstructor",
        vec![
            Global("joblib.numpy_pickle", "NumpyArrayWrapper"),
            Global("builtins", "object"),
            None,
        ],
    );
    joblib_file_with(made, flags, alignment, trailing)
}

fn joblib_file_with(made: E, flags: i32, alignment: E, trailing: &[u8]) -> Vec<u8> {
    let wrapper = Build(
        Box::new(made),
        Box::new(Dict(vec![
            (Str("subclass"), Global("numpy", "ndarray")),
            (Str("shape"), Tuple(vec![Int(2)])),
            (Str("order"), Str("C")),
            (Str("dtype"), f8_dtype(flags)),
            (Str("allow_mmap"), Bool(false)),
            (Str("numpy_array_alignment_bytes"), alignment),
        ])),
    );
    let mut out = b"\x80\x03".to_vec();
    write(&wrapper, &mut out);
    out.extend(trailing);
    out.push(b'.');
    out
}

fn explain_json(bytes: &[u8]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("f.joblib");
    std::fs::write(&file, bytes).unwrap();
    let out = Command::cargo_bin("pklinspect")
        .unwrap()
        .args(["explain", "--format", "json"])
        .arg(&file)
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn joblib_wrapper_built_through_copyreg_reconstructor_is_read_as_joblib_reads_it() {
    // Alignment 8: one padding-length byte (3), three padding bytes, then 16 data bytes.
    let data = [0u8, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0, 0, 0, 0, 0, 0, 0, 0x40];
    let mut trailing = vec![3u8, 0, 0, 0];
    trailing.extend(data);
    let bytes = joblib_file(0, Int(8), &trailing);
    let doc = explain_json(&bytes);
    let array = &doc["pickles"][0]["arrays"][0];
    assert_eq!(array["shape"], serde_json::json!([2]), "{doc}");
    let expected = bytes.len() - 1 - data.len();
    assert_eq!(array["offset"], expected, "{doc}");
    assert_eq!(doc["container"], "joblib", "{doc}");
}

#[test]
fn joblib_alignment_that_is_not_an_int_still_means_a_padding_byte() {
    // joblib reads the padding byte whenever the attribute is not None.
    let data = [0u8; 16];
    let mut trailing = vec![0u8];
    trailing.extend(data);
    let made = New(
        Box::new(Global("joblib.numpy_pickle", "NumpyArrayWrapper")),
        vec![],
    );
    let bytes = joblib_file_with(made, 0, Str("eight"), &trailing);
    let doc = explain_json(&bytes);
    let array = &doc["pickles"][0]["arrays"][0];
    assert_eq!(array["offset"], bytes.len() - 1 - data.len(), "{doc}");
}

#[test]
fn joblib_dtype_state_object_flag_hides_a_nested_pickle() {
    // A `<f8` dtype whose state sets the object flag: joblib unpickles what follows the
    // wrapper instead of reading 16 raw bytes. Here that is `posix.system('id')`, whose
    // first 16 bytes a reader that trusts the type string would step over as data.
    let nested = b"\x80\x03cposix\nsystem\nX\x02\x00\x00\x00id\x85R.";
    let made = New(
        Box::new(Global("joblib.numpy_pickle", "NumpyArrayWrapper")),
        vec![],
    );
    let bytes = joblib_file_with(made, 1, None, nested);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("f.joblib"), &bytes).unwrap();
    let out = Command::cargo_bin("pklinspect")
        .unwrap()
        .current_dir(dir.path())
        .args(["lint", "--format", "json", "--no-config", "f.joblib"])
        .output()
        .unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let entry = &doc["files"][0];
    assert!(
        errors(entry)
            .iter()
            .any(|(r, m)| r == "code-exec" && m.contains("posix.system")),
        "{entry}"
    );
    assert_eq!(entry["verdict"], "dangerous", "{entry}");
    assert_eq!(out.status.code(), Some(1));
}

/// dateutil 4 pickles a tz-file zone as `_unpickle(tzfile, key, filename, data)`: with
/// dateutil's own class that is `tzfile.__new__` and the pickled transitions (no file is
/// opened); any other class given to it is called, and must be vetted.
#[test]
fn dateutil_unpickle_builds_only_its_own_tzfile_class() {
    let data = || Tuple(vec![List(vec![]), List(vec![])]);
    let ok = call(
        "dateutil.tz._tzfile",
        "_unpickle",
        vec![
            Global("dateutil.tz._tzfile", "tzfile"),
            Str("Europe/London"),
            Str("/usr/share/zoneinfo/Europe/London"),
            data(),
        ],
    );
    assert_clean(&ok, "needs-libraries");
    let other = call(
        "dateutil.tz._tzfile",
        "_unpickle",
        vec![Global("sympy.core.add", "Add"), Str("k"), Str("f"), data()],
    );
    assert_caught(&other, "unvetted-call", "sympy.core.add.Add", "unvetted");
}

/// pytz zones (`pytz._p` looks the name up in pytz's own list), pandas' RangeIndex and
/// pyarrow's array pieces are what real pandas pickles call: vetted, no error.
#[test]
fn pandas_time_zones_range_indexes_and_arrow_strings_are_vetted() {
    for e in [
        call(
            "pytz",
            "_p",
            vec![Str("America/New_York"), Int(-17760), Int(0), Str("LMT")],
        ),
        call("pytz", "FixedOffset", vec![Int(-300)]),
        call("pytz", "_UTC", vec![]),
        call(
            "pandas.core.indexes.base",
            "_new_Index",
            vec![
                Global("pandas.core.indexes.range", "RangeIndex"),
                Dict(vec![(Str("start"), Int(0)), (Str("stop"), Int(3))]),
            ],
        ),
        call("pyarrow.lib", "type_for_alias", vec![Str("large_string")]),
    ] {
        assert_clean(&e, "needs-libraries");
    }
}

/// torch's `_rebuild_from_type_v2(func, new_type, args, state)` runs `func(*args)`: the
/// function it is given is called, so it must be vetted like any other call target. Was:
/// an unvetted library function given to it passed with exit 0. The rebuild function torch
/// writes there (`_rebuild_tensor_v2`) stays clean.
#[test]
fn rebuild_from_type_calls_the_function_it_is_given() {
    let gadget = |f: E| {
        call(
            "torch._tensor",
            "_rebuild_from_type_v2",
            vec![
                f,
                Global("torch", "Tensor"),
                Tuple(vec![Str("import os")]),
                Dict(vec![]),
            ],
        )
    };
    let e = gadget(Global("matplotlib.pyplot", "savefig"));
    assert_caught(&e, "unvetted-call", "matplotlib.pyplot.savefig", "unvetted");
    // An object the stream built, called through it: pklinspect cannot tell what runs.
    let e = gadget(call("sympy.core.add", "Add", vec![]));
    assert_caught(&e, "unvetted-call", "calls the object built", "unvetted");
    // What torch writes for a tensor subclass: the base rebuild function, vetted.
    let storage = Tuple(vec![]);
    let e = call(
        "torch._tensor",
        "_rebuild_from_type_v2",
        vec![
            Global("torch._utils", "_rebuild_tensor_v2"),
            Global("torch.nn.parameter", "Buffer"),
            Tuple(vec![storage]),
            Dict(vec![]),
        ],
    );
    let (entry, _) = lint(&e);
    assert!(
        !errors(&entry)
            .iter()
            .any(|(r, m)| r == "unvetted-call" && m.contains("_rebuild_tensor_v2")),
        "{entry}"
    );
}

/// matplotlib 3.6's `_picklable_class_constructor(mixin, fmt, attr_name, base)`.
fn class_factory(mixin: E, attr: E, base: E) -> E {
    call(
        "matplotlib.cbook",
        "_picklable_class_constructor",
        vec![mixin, Str("{}Subplot"), attr, base],
    )
}

#[test]
fn matplotlib_class_factory_as_matplotlib_writes_it_is_not_an_error() {
    // A subplot of matplotlib 3.6, and the units callback of its axes
    // (`partial(getattr(ax, '_unit_change_handler'), 'x')`).
    let subplot = || {
        class_factory(
            Global("matplotlib.axes._subplots", "SubplotBase"),
            Str("_axes_class"),
            Global("matplotlib.axes._axes", "Axes"),
        )
    };
    let handler = call(
        "builtins",
        "getattr",
        vec![subplot(), Str("_unit_change_handler")],
    );
    let e = List(vec![
        subplot(),
        call("functools", "partial", vec![handler, Str("x")]),
    ]);
    assert_clean(&e, "needs-libraries");
}

#[test]
fn matplotlib_class_factory_that_plants_a_method_is_unvetted() {
    // `attr_name` is set on the new class to `base`: as `__setstate__`, BUILD would call
    // the base class with the file's state.
    let planted = Build(
        Box::new(class_factory(
            Global("matplotlib.axes._subplots", "SubplotBase"),
            Str("__setstate__"),
            Global("matplotlib.axes._axes", "Axes"),
        )),
        Box::new(Str("state")),
    );
    assert_caught(
        &planted,
        "unvetted-call",
        "_picklable_class_constructor",
        "unvetted",
    );
    // Another mixin's methods would come first in the new class.
    let mixin = class_factory(
        Global("matplotlib.figure", "Figure"),
        None,
        Global("matplotlib.axes._axes", "Axes"),
    );
    assert_caught(
        &mixin,
        "unvetted-call",
        "_picklable_class_constructor",
        "unvetted",
    );
}

#[test]
fn nested_style_classes_by_qualified_name_are_references_not_calls() {
    // matplotlib writes a figure's text box as `patches.BoxStyle.Round` (protocol 4's
    // qualified name), instantiated without arguments.
    let round = || Global("matplotlib.patches", "BoxStyle.Round");
    assert_clean(&New(Box::new(round()), vec![]), "needs-libraries");
    // … and known, so no `unknown-import` warning says the chain may lead anywhere.
    let (entry, _) = lint(&New(Box::new(round()), vec![]));
    assert_eq!(entry["findings"], serde_json::json!([]), "{entry}");
    // Given the file's text, its __new__ is a call nobody vetted.
    let e = New(Box::new(round()), vec![Str("/etc/passwd")]);
    assert_caught(&e, "unvetted-call", "BoxStyle.Round", "unvetted");
    // interp1d's stored method is a reference; calling it is not vetted.
    let method = || Global("scipy.interpolate._interpolate", "interp1d._call_linear");
    assert_clean(&List(vec![method()]), "needs-libraries");
    assert_caught(
        &Call(Box::new(method()), vec![Str("x")]),
        "unvetted-call",
        "interp1d._call_linear",
        "unvetted",
    );
}

#[test]
fn dateutil_2_tzfile_by_name_is_not_an_error_but_opening_a_file_is() {
    // python-dateutil 2.x's tzfile.__reduce_ex__: tzfile(None, filename) and the zone's
    // state; the name is stored, nothing is opened.
    let zone = Build(
        Box::new(call(
            "dateutil.tz.tz",
            "tzfile",
            vec![None, Str("/usr/share/zoneinfo/Europe/Paris")],
        )),
        Box::new(Dict(vec![(Str("_filename"), Str("Europe/Paris"))])),
    );
    assert_clean(&zone, "needs-libraries");
    // A string first argument is a path tzfile opens and reads.
    let e = call("dateutil.tz.tz", "tzfile", vec![Str("/etc/passwd")]);
    assert_caught(&e, "unvetted-call", "dateutil.tz.tz.tzfile", "unvetted");
    let e = call(
        "dateutil.tz.tz",
        "tzfile",
        vec![Str("/etc/passwd"), Str("x")],
    );
    assert_caught(&e, "unvetted-call", "dateutil.tz.tz.tzfile", "unvetted");
}

/// `lint --format json --no-config` of raw pickle bytes: the file's entry.
fn lint_raw(bytes: &[u8]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("f.pkl"), bytes).unwrap();
    let out = Command::cargo_bin("pklinspect")
        .unwrap()
        .current_dir(dir.path())
        .args(["lint", "--format", "json", "--no-config", "f.pkl"])
        .output()
        .unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    doc["files"][0].clone()
}

#[test]
fn python_2_bytearray_with_a_str_codec_name_is_not_an_error() {
    // Python 2.7 writes bytearray(b'ab') at protocols 0-2 as
    // __builtin__.bytearray(u'ab', 'latin-1'), the codec name a Python 2 `str`
    // (SHORT_BINSTRING), which Python 3's loader decodes to text.
    let mut p = b"\x80\x02c__builtin__\nbytearray\nX\x02\x00\x00\x00ab".to_vec();
    p.extend(b"U\x07latin-1\x86R.");
    let entry = lint_raw(&p);
    assert_eq!(errors(&entry), vec![], "{entry}");
    // A codec that is not one of the plain ones is still looked up by name.
    let mut p = b"\x80\x02c__builtin__\nbytearray\nX\x02\x00\x00\x00ab".to_vec();
    p.extend(b"U\x06rot_13\x86R.");
    let entry = lint_raw(&p);
    let errs = errors(&entry);
    assert!(
        errs.iter()
            .any(|(r, m)| r == "unvetted-call" && m.contains("codec")),
        "{entry}"
    );
}

#[test]
fn python_3_13_pathlib_local_paths_are_not_errors() {
    // CPython 3.13's PurePath.__reduce__: (pathlib._local.PosixPath, ('/tmp',)).
    let e = call("pathlib._local", "PosixPath", vec![Str("/tmp")]);
    assert_clean(&e, "portable");
}

/// Library functions that run code, unpickle or write files the pickle names, called by
/// name: `dangerous` with the reason, not merely `unvetted`.
#[test]
fn known_third_party_gadgets_are_dangerous() {
    for (m, n, needle) in [
        (
            "sklearn.utils._testing",
            "assert_run_python_script",
            "subprocess",
        ),
        ("networkx.readwrite.gpickle", "read_gpickle", "unpickles"),
        ("networkx", "read_gpickle", "unpickles"),
        ("jinja2.environment", "Template", "template"),
        ("torch.export", "load", "exported program"),
        ("sklearn.utils._joblib", "load", "joblib.load"),
    ] {
        let e = call(m, n, vec![Str("/tmp/x")]);
        assert_caught(&e, "code-exec", needle, "dangerous");
    }
}

// ── vetted callables that call what their arguments carry (issue 11 audit) ────────────

/// An unvetted (but not known-dangerous) library function: referencing it is a warning.
fn unvetted_fn() -> E {
    Global("mylib.helpers", "refresh")
}

/// An `argparse.Namespace` whose state sets instance attribute `key` to `value`.
fn bag(key: &'static str, value: E) -> E {
    let ns = New(Box::new(Global("argparse", "Namespace")), vec![]);
    Build(Box::new(ns), Box::new(Dict(vec![(Str(key), value)])))
}

#[test]
fn mapping_constructors_call_a_planted_keys_method() {
    // dict(obj), OrderedDict(obj), UserDict(obj), defaultdict(f, obj) and `**obj` call
    // obj.keys(), looked up on the instance (CPython PyDict_Merge / MutableMapping.update):
    // an instance attribute `keys` is called (checked in CPython 3.12 with a printing twin).
    for (m, n, lead) in [
        ("builtins", "dict", false),
        ("collections", "OrderedDict", false),
        ("collections", "UserDict", false),
        ("collections", "defaultdict", true),
    ] {
        let mut args = if lead { vec![None] } else { vec![] };
        args.push(bag("keys", unvetted_fn()));
        assert_caught(&call(m, n, args), "unvetted-call", "keys", "unvetted");
    }
    // Data under the same name calls nothing.
    let data = bag("keys", List(vec![Str("a"), Str("b")]));
    assert_clean(&call("builtins", "dict", vec![data]), "portable");
}

#[test]
fn numpy_array_protocol_calls_a_planted_dunder_array() {
    // np.asarray(obj) looks __array__ up on the instance (numpy
    // PyArray_LookupSpecial_OnInstance): check_array, pandas' _unpickle_block placement
    // and every numpy conversion of a file object call it (checked with numpy 2.4.6,
    // scikit-learn 1.9.1, pandas 3.1.1).
    let e = call(
        "sklearn.utils.validation",
        "check_array",
        vec![bag("__array__", unvetted_fn())],
    );
    assert_caught(&e, "unvetted-call", "__array__", "unvetted");
}

#[test]
fn pyarrow_constructors_call_a_planted_arrow_protocol() {
    // pyarrow.lib.field/schema(obj) call obj.__arrow_c_schema__(), chunked_array([obj])
    // obj.__arrow_array__(type=…), type_for_alias(obj) obj.lower() (pyarrow 26.0.1).
    for (n, key, arg) in [
        ("field", "__arrow_c_schema__", false),
        ("schema", "__arrow_c_schema__", false),
        ("chunked_array", "__arrow_array__", true),
        ("type_for_alias", "lower", false),
    ] {
        let obj = bag(key, unvetted_fn());
        let arg = if arg { List(vec![obj]) } else { obj };
        assert_caught(
            &call("pyarrow.lib", n, vec![arg]),
            "unvetted-call",
            key,
            "unvetted",
        );
    }
}

#[test]
fn torch_rebuild_parameter_with_state_sets_attributes() {
    // _rebuild_parameter_with_state(data, requires_grad, hooks, state) runs
    // _set_obj_state(param, state): setattr for each item, as BUILD does. A planted
    // __setstate__ is called by the next BUILD on the parameter.
    let param = call(
        "torch._utils",
        "_rebuild_parameter_with_state",
        vec![
            None,
            Bool(false),
            None,
            Dict(vec![(
                Str("__setstate__"),
                Global("sympy.sets.sets", "FiniteSet"),
            )]),
        ],
    );
    let e = Build(Box::new(param), Box::new(Str(SYMPY_PAYLOAD)));
    assert_caught(&e, "code-exec", "__setstate__", "dangerous");
    // _rebuild_from_type_v2(func, new_type, args, state): the same for its state.
    let e = call(
        "torch._tensor",
        "_rebuild_from_type_v2",
        vec![
            Global("torch._utils", "_rebuild_tensor_v2"),
            Global("torch", "Tensor"),
            Tuple(vec![]),
            Dict(vec![(Str("keys"), unvetted_fn())]),
        ],
    );
    assert_caught(&e, "unvetted-call", "keys", "unvetted");
    // _rebuild_device_tensor_from_cpu_tensor(data, …) calls data.to(dtype=…, device=…).
    let e = call(
        "torch._utils",
        "_rebuild_device_tensor_from_cpu_tensor",
        vec![bag("to", unvetted_fn()), None, Str("cpu"), Bool(false)],
    );
    assert_caught(&e, "unvetted-call", "to", "unvetted");
}

#[test]
fn simple_namespace_keywords_through_partial_set_attributes() {
    // partial(SimpleNamespace, keys=f)() makes a namespace whose `keys` is f; dict() of
    // it calls f. partial.__reduce__ puts the keywords in its state (func, args, kwds, dict).
    let p = Build(
        Box::new(call(
            "functools",
            "partial",
            vec![Global("types", "SimpleNamespace")],
        )),
        Box::new(Tuple(vec![
            Global("types", "SimpleNamespace"),
            Tuple(vec![]),
            Dict(vec![(Str("keys"), unvetted_fn())]),
            None,
        ])),
    );
    let ns = Call(Box::new(p), vec![]);
    assert_caught(
        &call("builtins", "dict", vec![ns]),
        "unvetted-call",
        "keys",
        "unvetted",
    );
}

#[test]
fn vetted_calls_that_call_methods_of_their_arguments() {
    // Checked in CPython 3.11 with a printing twin: uuid.UUID(hex) runs hex.replace(…),
    // pandas' _unpickle_timestamp(value, freq, tz, reso) tz.utcoffset(…), HTTPError(…, fp)
    // fp.close() when collected, pandas' IntIndex(length, indices) indices.__array__().
    for (e, key) in [
        (
            call("uuid", "UUID", vec![bag("replace", unvetted_fn())]),
            "replace",
        ),
        (
            call(
                "pandas._libs.tslibs.timestamps",
                "_unpickle_timestamp",
                vec![Int(0), None, bag("utcoffset", unvetted_fn()), Int(10)],
            ),
            "utcoffset",
        ),
        (
            call(
                "urllib.error",
                "HTTPError",
                vec![
                    Str("u"),
                    Int(1),
                    Str("m"),
                    None,
                    bag("close", unvetted_fn()),
                ],
            ),
            "close",
        ),
        (
            call(
                "pandas._libs.sparse",
                "IntIndex",
                vec![Int(3), bag("__array__", unvetted_fn())],
            ),
            "__array__",
        ),
    ] {
        assert_caught(&e, "unvetted-call", key, "unvetted");
    }
}

#[test]
fn numpy_mareconstruct_runs_its_subtype_new() {
    // _mareconstruct(subtype, baseclass, shape, dtype) returns subtype.__new__(subtype,
    // data, mask=…, dtype=…): any class's own __new__, run with file data.
    let e = call(
        "numpy.ma.core",
        "_mareconstruct",
        vec![
            Global("mylib.arrays", "Loader"),
            Global("numpy", "ndarray"),
            Tuple(vec![Int(0)]),
            Bytes(b"b".to_vec()),
        ],
    );
    assert_caught(&e, "unvetted-call", "_mareconstruct", "unvetted");
    // What numpy writes: MaskedArray itself.
    let e = call(
        "numpy.ma.core",
        "_mareconstruct",
        vec![
            Global("numpy.ma", "MaskedArray"),
            Global("numpy", "ndarray"),
            Tuple(vec![Int(0)]),
            Bytes(b"b".to_vec()),
        ],
    );
    let (entry, code) = lint(&e);
    assert_eq!(errors(&entry), vec![], "{entry}");
    assert_eq!(code, 0, "{entry}");
}

#[test]
fn cython_unpickle_trailing_dict_sets_attributes() {
    // __pyx_unpickle_<Class>(type, checksum, state) ends with
    // result.__dict__.update(state[-1]) when the state carries a dict.
    let e = call(
        "numpy.random.bit_generator",
        "__pyx_unpickle_SeedSequence",
        vec![
            Global("numpy.random.bit_generator", "SeedSequence"),
            Int(0),
            Tuple(vec![Int(1), Dict(vec![(Str("keys"), unvetted_fn())])]),
        ],
    );
    assert_caught(&e, "unvetted-call", "keys", "unvetted");
}

#[test]
fn tensorflow_resource_variable_calls_a_callable_initial_value() {
    // ResourceVariable(initial_value, …) runs initial_value() when it is callable
    // (tensorflow/python/ops/resource_variable_ops.py _init_from_args).
    let rv = || {
        Global(
            "tensorflow.python.ops.resource_variable_ops",
            "ResourceVariable",
        )
    };
    let e = Call(Box::new(rv()), vec![unvetted_fn()]);
    assert_caught(&e, "unvetted-call", "mylib.helpers.refresh", "unvetted");
    // What TensorFlow writes: partial(ResourceVariable, trainable=…)(array), here
    // given a function instead of the array.
    let p = Build(
        Box::new(call("functools", "partial", vec![rv()])),
        Box::new(Tuple(vec![
            rv(),
            Tuple(vec![]),
            Dict(vec![(Str("trainable"), Bool(true))]),
            None,
        ])),
    );
    let e = Call(Box::new(p), vec![unvetted_fn()]);
    assert_caught(&e, "unvetted-call", "mylib.helpers.refresh", "unvetted");
}

#[test]
fn partial_state_replaces_the_wrapped_function() {
    // partial.__setstate__((func, args, kwds, dict)) replaces the function the
    // constructor was given: partial(str) with that state calls func.
    let p = Build(
        Box::new(call(
            "functools",
            "partial",
            vec![Global("builtins", "str")],
        )),
        Box::new(Tuple(vec![unvetted_fn(), Tuple(vec![]), None, None])),
    );
    let e = Call(Box::new(p), vec![]);
    assert_caught(&e, "unvetted-call", "mylib.helpers.refresh", "unvetted");
    // Or by an object built at load (a method fetched with getattr).
    let method = call(
        "builtins",
        "getattr",
        vec![Global("mylib.helpers", "Runner"), Str("run")],
    );
    let p = Build(
        Box::new(call(
            "functools",
            "partial",
            vec![Global("builtins", "str")],
        )),
        Box::new(Tuple(vec![method, Tuple(vec![]), None, None])),
    );
    assert_caught(
        &Call(Box::new(p), vec![]),
        "unvetted-call",
        "replaces the function",
        "unvetted",
    );
}

#[test]
fn defaultdict_factory_runs_when_a_setstate_reads_a_missing_key() {
    // pandas' BlockManager.__setstate__ reads state["axes"]: from a defaultdict without
    // that key, the factory is called (checked in pandas 3.1.1 with a printing twin).
    let dd = call("collections", "defaultdict", vec![unvetted_fn()]);
    let state = Tuple(vec![None, None, None, Dict(vec![(Str("0.14.1"), dd)])]);
    let mgr = New(
        Box::new(Global("pandas.core.internals.managers", "BlockManager")),
        vec![],
    );
    let e = Build(Box::new(mgr), Box::new(state));
    assert_caught(&e, "unvetted-call", "mylib.helpers.refresh", "unvetted");
    // Or a slot state sets default_factory with setattr.
    let dd = call("collections", "defaultdict", vec![]);
    let set = Build(
        Box::new(dd),
        Box::new(Tuple(vec![
            None,
            Dict(vec![(Str("default_factory"), unvetted_fn())]),
        ])),
    );
    assert_caught(&set, "unvetted-call", "default_factory", "unvetted");
    // What Python writes: defaultdict(list).
    let e = call(
        "collections",
        "defaultdict",
        vec![Global("builtins", "list")],
    );
    assert_clean(&e, "portable");
}

#[test]
fn vetted_call_given_an_object_carrying_an_unvetted_callable() {
    // check_array(X, 'csc') calls X.asformat('csc') for a scipy sparse X: an instance
    // attribute `asformat` runs instead of scipy's method (checked with scikit-learn
    // 1.9.1, scipy). Any method name works, so the object is judged, not the name.
    let m = Build(
        Box::new(call(
            "scipy.sparse._csr",
            "csr_matrix",
            vec![Tuple(vec![Int(1), Int(1)])],
        )),
        Box::new(Dict(vec![(Str("asformat"), unvetted_fn())])),
    );
    let e = call(
        "sklearn.utils.validation",
        "check_array",
        vec![m, Str("csc")],
    );
    assert_caught(
        &e,
        "unvetted-call",
        "asformat = mylib.helpers.refresh",
        "unvetted",
    );
    // In a list argument too (pyarrow's chunked_array([obj])).
    let e = call(
        "pyarrow.lib",
        "chunked_array",
        vec![List(vec![bag("anything", unvetted_fn())])],
    );
    assert_caught(
        &e,
        "unvetted-call",
        "anything = mylib.helpers.refresh",
        "unvetted",
    );
    // A vetted global as the attribute is not an error (calling it is vetted).
    let e = call(
        "pyarrow.lib",
        "chunked_array",
        vec![List(vec![bag("anything", Global("builtins", "list"))])],
    );
    let (entry, _) = lint(&e);
    assert!(
        !errors(&entry).iter().any(|(_, m)| m.contains("anything =")),
        "{entry}"
    );
}

#[test]
fn partial_and_newobj_given_an_object_carrying_an_unvetted_callable() {
    let armed = || bag("asformat", unvetted_fn());
    // Through functools.partial(check_array)(X), as scikit-learn writes the partial.
    let p = call(
        "functools",
        "partial",
        vec![Global("sklearn.utils.validation", "check_array")],
    );
    let e = Call(Box::new(p), vec![armed(), Str("csc")]);
    assert_caught(
        &e,
        "unvetted-call",
        "asformat = mylib.helpers.refresh",
        "unvetted",
    );
    // Or fixed in the partial itself.
    let p = call(
        "functools",
        "partial",
        vec![Global("sklearn.utils.validation", "check_array"), armed()],
    );
    assert_caught(
        &p,
        "unvetted-call",
        "asformat = mylib.helpers.refresh",
        "unvetted",
    );
    // NEWOBJ with arguments runs the class's own __new__ on them.
    let e = New(Box::new(Global("pandas", "Index")), vec![armed()]);
    assert_caught(
        &e,
        "unvetted-call",
        "asformat = mylib.helpers.refresh",
        "unvetted",
    );
}

#[test]
fn copyreg_reconstructor_given_an_object_carrying_an_unvetted_callable() {
    // _reconstructor(cls, dict, state) runs dict.__init__(obj, state): state.keys().
    let e = call(
        "copyreg",
        "_reconstructor",
        vec![
            Global("collections", "OrderedDict"),
            Global("builtins", "dict"),
            bag("keys", unvetted_fn()),
        ],
    );
    assert_caught(
        &e,
        "unvetted-call",
        "keys = mylib.helpers.refresh",
        "unvetted",
    );
}

#[test]
fn object_carrying_a_method_fetched_by_getattr() {
    // The attribute is a method of an unvetted class, fetched with getattr.
    let method = call(
        "builtins",
        "getattr",
        vec![Global("mylib.helpers", "Runner"), Str("run")],
    );
    let e = call(
        "sklearn.utils.validation",
        "check_array",
        vec![bag("asformat", method), Str("csc")],
    );
    assert_caught(
        &e,
        "unvetted-call",
        "asformat = mylib.helpers.Runner.run",
        "unvetted",
    );
}

#[test]
fn newobj_ex_keywords_from_an_object_carrying_an_unvetted_callable() {
    // NEWOBJ_EX runs cls.__new__(cls, *args, **kwargs): `**` of an object calls its
    // keys(), here an unvetted function.
    let mut p = b"\x80\x04".to_vec();
    write(&Global("pandas", "Index"), &mut p);
    p.push(b')');
    write(&bag("keys", unvetted_fn()), &mut p);
    p.extend(b"\x92.");
    let entry = lint_raw(&p);
    let errs = errors(&entry);
    assert!(
        errs.iter()
            .any(|(r, m)| r == "unvetted-call" && m.contains("keys = mylib.helpers.refresh")),
        "{entry}"
    );
}

#[test]
fn python_2_string_state_keys_plant_attributes_too() {
    // Python 3's loader decodes a Python 2 `str` (SHORT_BINSTRING) key to text, so
    // `U\x0c__setstate__` plants __setstate__ like a unicode key (checked in CPython
    // 3.11 with a printing twin); FiniteSet then sympifies, i.e. evals, the text.
    let mut p = b"\x80\x02cargparse\nNamespace\n)\x81}U\x0c__setstate__".to_vec();
    p.extend(b"csympy.sets.sets\nFiniteSet\nsb");
    write(&Str(SYMPY_PAYLOAD), &mut p);
    p.extend(b"b.");
    let entry = lint_raw(&p);
    let errs = errors(&entry);
    assert!(
        errs.iter()
            .any(|(r, m)| r == "code-exec" && m.contains("__setstate__")),
        "{entry}"
    );
    assert_eq!(entry["verdict"], "dangerous", "{entry}");
}

#[test]
fn partial_dict_state_arms_the_partial() {
    // partial's state (func, args, kwds, dict): `dict` becomes the partial's __dict__.
    let p = Build(
        Box::new(call(
            "functools",
            "partial",
            vec![Global("builtins", "str")],
        )),
        Box::new(Tuple(vec![
            Global("builtins", "str"),
            Tuple(vec![]),
            None,
            Dict(vec![(Str("asformat"), unvetted_fn())]),
        ])),
    );
    let e = call(
        "sklearn.utils.validation",
        "check_array",
        vec![p, Str("csc")],
    );
    assert_caught(
        &e,
        "unvetted-call",
        "asformat = mylib.helpers.refresh",
        "unvetted",
    );
}
