//! The table of **writer facts**: what the names in a pickle say about the library versions
//! that wrote it and the ones that can (or cannot) load it, and the attributes in which
//! libraries record their own version. Read by `analysis/facts.rs`; printed by `explain`'s
//! "Written by / will fail where" section.
//!
//! Every row carries its source: a release note, a library's source file, or a load we ran
//! with the real library (the venvs and fixtures named in the row; `docs/writer-facts.md`
//! has the full cross-version load tables). A row matches globals as the known-globals
//! table does (`module` and a name, `*` for every attribute of the module, `**` for the
//! module and all its submodules); the most specific match wins within a package.

/// What a fact says about the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FactKind {
    /// Which generation of a library wrote the file (numpy 1 or 2, pandas < 2, 2.x or 3).
    Writer,
    /// The name was removed from a library or from Python: loading fails where it is gone.
    Removal,
}

impl FactKind {
    /// `writer` or `removal`, as the JSON writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            FactKind::Writer => "writer",
            FactKind::Removal => "removal",
        }
    }
}

/// One row: the names it matches, what they say, and where loading fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fact {
    /// A stable id (`numpy-2-numeric`), for tests and the JSON.
    pub id: &'static str,
    /// The distribution it is about, as pip names it (`numpy`, `keras-preprocessing`), or
    /// `python` for the interpreter.
    pub package: &'static str,
    /// `(module, name)` patterns: an exact name, `*` or `**`.
    pub names: &'static [(&'static str, &'static str)],
    /// Writer generation or removal.
    pub kind: FactKind,
    /// Which versions write these names (`numpy >= 2.0`).
    pub written_by: &'static str,
    /// Where loading fails, and how (the exception the loader raises).
    pub fails: &'static str,
    /// What loads it: the requirement as pip takes it (`numpy>=2`), empty when any
    /// version that has the package does.
    pub requires: &'static str,
    /// What to do, when failing is likely (`install keras-preprocessing 1.1.2 …`).
    pub remedy: &'static str,
    /// Where the fact comes from: release notes, source files, loads we ran.
    pub source: &'static str,
    /// The fact holds only for an object of the class that is given state on load (BUILD,
    /// `__setstate__`), not for a mere reference or constructor call.
    pub only_with_state: bool,
}

/// The `numpy._core` modules numpy 1.26.1+ provides as stubs for numpy 2 pickles.
const NUMPY_126_STUBS: &[(&str, &str)] = &[
    ("numpy._core._dtype", "*"),
    ("numpy._core._dtype_ctypes", "*"),
    ("numpy._core._internal", "*"),
    ("numpy._core._multiarray_umath", "*"),
    ("numpy._core.multiarray", "*"),
    ("numpy._core.umath", "*"),
];

/// pandas 3 sets the `__module__` of its public classes to the public namespace.
const PANDAS_3_NAMES: &[(&str, &str)] = &[
    ("pandas", "*"),
    ("pandas.arrays", "*"),
    ("pandas.api.typing", "*"),
];

/// The public classes pandas 1.x and 2.x pickle under their `pandas.core` modules (pandas 3
/// pickles them under `pandas`; its internals, `pandas.core.internals.managers.BlockManager`
/// and `pandas._libs.internals._unpickle_block`, are named by all three generations).
const PANDAS_BEFORE_3_NAMES: &[(&str, &str)] = &[
    ("pandas.core.frame", "DataFrame"),
    ("pandas.core.series", "Series"),
    ("pandas.core.indexes.base", "Index"),
    ("pandas.core.indexes.range", "RangeIndex"),
    ("pandas.core.indexes.multi", "MultiIndex"),
    ("pandas.core.indexes.datetimes", "DatetimeIndex"),
    ("pandas.core.dtypes.dtypes", "CategoricalDtype"),
    ("pandas.core.dtypes.dtypes", "DatetimeTZDtype"),
    ("pandas.core.arrays.boolean", "*"),
    ("pandas.core.arrays.categorical", "*"),
    ("pandas.core.arrays.datetimes", "*"),
    ("pandas.core.arrays.floating", "*"),
    ("pandas.core.arrays.integer", "*"),
    ("pandas.core.arrays.string_", "*"),
    ("pandas.core.arrays.string_arrow", "*"),
    ("pandas.core.arrays.timedeltas", "*"),
    ("pandas._libs.missing", "NA"),
];

/// The modules PEP 594 removed in Python 3.13 (and lib2to3, removed in 3.13 too).
const REMOVED_IN_313: &[(&str, &str)] = &[
    ("aifc", "**"),
    ("audioop", "**"),
    ("cgi", "**"),
    ("cgitb", "**"),
    ("chunk", "**"),
    ("crypt", "**"),
    ("imghdr", "**"),
    ("mailcap", "**"),
    ("msilib", "**"),
    ("nis", "**"),
    ("nntplib", "**"),
    ("ossaudiodev", "**"),
    ("pipes", "**"),
    ("sndhdr", "**"),
    ("spwd", "**"),
    ("sunau", "**"),
    ("telnetlib", "**"),
    ("uu", "**"),
    ("xdrlib", "**"),
    ("lib2to3", "**"),
];

/// Modules removed in Python 3.12: PEP 594's first three, distutils (PEP 632) and imp.
const REMOVED_IN_312: &[(&str, &str)] = &[
    ("asynchat", "**"),
    ("asyncore", "**"),
    ("smtpd", "**"),
    ("distutils", "**"),
    ("imp", "**"),
];

/// Every fact pklinspect knows, in the order `explain` prints them.
pub static FACTS: &[Fact] = &[
    // ── numpy ─────────────────────────────────────────────────────────────────────────
    Fact {
        id: "numpy-2-numeric",
        package: "numpy",
        names: &[("numpy._core.numeric", "*")],
        kind: FactKind::Writer,
        written_by: "numpy >= 2.0",
        fails: "numpy 1.x fails with ModuleNotFoundError: No module named 'numpy._core.numeric' \
                (numpy 1.26.4 too: its numpy._core stubs have no numeric)",
        requires: "numpy>=2",
        remedy: "load with numpy >= 2, or take the arrays out with `pklinspect extract`",
        source: "numpy PR #24634 (numpy/core renamed numpy/_core in 2.0); numpy issue #28340; \
                 loaded with numpy 1.26.4 (venv i17a-np1): protocol-5 arrays fail as stated",
        only_with_state: false,
    },
    Fact {
        id: "numpy-2-core",
        package: "numpy",
        names: NUMPY_126_STUBS,
        kind: FactKind::Writer,
        written_by: "numpy >= 2.0",
        fails: "numpy < 1.26.1 fails (ModuleNotFoundError: No module named 'numpy._core'); \
                numpy 1.26.1+ loads these names through its stubs, except aligned structured \
                dtypes (ValueError: incorrect value for flags variable)",
        requires: "numpy>=1.26.1",
        remedy: "load with numpy >= 2 (or numpy 1.26.1+)",
        source: "NumPy 1.26.1 release notes (\"pickle compatibility with the upcoming NumPy \
                 2.0\": numpy PR #24906 adds the numpy._core stubs); loaded with \
                 numpy 1.26.4 (venv i17a-np1): fixtures/numpy2/all_dtypes_p0..p4 fail only on \
                 the aligned structured dtype",
        only_with_state: false,
    },
    Fact {
        id: "numpy-2-other",
        package: "numpy",
        names: &[("numpy._core", "**")],
        kind: FactKind::Writer,
        written_by: "numpy >= 2.0",
        fails: "numpy 1.x fails with ModuleNotFoundError (numpy._core exists only in numpy 2; \
                1.26.1+ has stubs for multiarray, umath and a few private modules only)",
        requires: "numpy>=2",
        remedy: "load with numpy >= 2",
        source: "numpy PR #24634; the stub list of numpy 1.26.4's numpy/_core/",
        only_with_state: false,
    },
    Fact {
        id: "numpy-1-core",
        package: "numpy",
        names: &[("numpy.core", "**")],
        kind: FactKind::Writer,
        written_by: "numpy < 2.0",
        fails: "numpy 2 loads it too, through its numpy.core shim (DeprecationWarning: \
                numpy.core.numeric is deprecated and has been renamed to numpy._core.numeric)",
        requires: "",
        remedy: "",
        source: "numpy 2.0 migration guide (note about pickled files); loaded with numpy 2.4.6 \
                 (venv ci): fixtures/numpy1/all_dtypes_p0..p5 all load",
        only_with_state: false,
    },
    // ── pandas ────────────────────────────────────────────────────────────────────────
    Fact {
        id: "pandas-1-numeric-index",
        package: "pandas",
        names: &[("pandas.core.indexes.numeric", "**")],
        kind: FactKind::Writer,
        written_by: "pandas < 2.0 (Int64Index, UInt64Index, Float64Index)",
        fails: "pandas >= 2.0 removed pandas.core.indexes.numeric: pickle.load and joblib.load \
                fail with ModuleNotFoundError: No module named 'pandas.core.indexes.numeric'; \
                pandas.read_pickle still loads it",
        requires: "pandas<2",
        remedy: "load with pandas.read_pickle (it maps the old index classes), or pandas < 2.0",
        source: "pandas 2.0.0 release notes (removal of Int64Index, UInt64Index, Float64Index); \
                 loaded fixtures/pandas/frames/pd15_{dict,multi,series}* with pandas 2.2.3 and \
                 3.1.1: pickle.load fails, pandas.read_pickle loads",
        only_with_state: false,
    },
    Fact {
        id: "pandas-3",
        package: "pandas",
        names: PANDAS_3_NAMES,
        kind: FactKind::Writer,
        written_by: "pandas >= 3.0 (it pickles its classes under the public pandas namespace)",
        fails: "pandas < 3.0 may fail: pandas 2.2.3 failed on 12 of the 14 pandas 3.1.1 frame \
                fixtures (TypeError: StringDtype.__init__() takes from 1 to 2 positional \
                arguments but 3 were given; NotImplementedError for datetime64[us, tz]), \
                pandas 1.5.3 on the same 12; only the plain Series loaded",
        requires: "pandas>=3",
        remedy:
            "load with pandas >= 3.0, or take the table out with `pklinspect extract --to parquet`",
        source: "pandas 3.1.1: DataFrame.__module__ == 'pandas' (2.2.3: 'pandas.core.frame'); \
                 loaded fixtures/pandas/frames/pd31_* with pandas 2.2.3 and 1.5.3",
        only_with_state: false,
    },
    Fact {
        id: "pandas-before-3",
        package: "pandas",
        names: PANDAS_BEFORE_3_NAMES,
        kind: FactKind::Writer,
        written_by: "pandas < 3.0 (public classes pickled under their pandas.core modules)",
        fails: "pandas 3.1.1 loads it too: every pandas 1.5.3 and 2.2.3 frame fixture loads \
                with pandas.read_pickle",
        requires: "",
        remedy: "",
        source: "pandas 1.5.3 and 2.2.3: DataFrame.__module__ == 'pandas.core.frame' (3.1.1: \
                 'pandas'); loaded fixtures/pandas/frames/pd15_*, pd22_* with pandas 3.1.1 \
                 (venv i17b-ci)",
        only_with_state: false,
    },
    // ── Keras ─────────────────────────────────────────────────────────────────────────
    Fact {
        id: "keras-preprocessing",
        package: "keras-preprocessing",
        names: &[("keras_preprocessing", "**")],
        kind: FactKind::Removal,
        written_by: "the standalone keras-preprocessing package (last release 1.1.2, 2020)",
        fails: "not in Keras 3, which neither includes the keras_preprocessing module nor \
                these classes: without keras-preprocessing installed, loading fails with \
                ModuleNotFoundError: No module named 'keras_preprocessing'",
        requires: "keras-preprocessing==1.1.2",
        remedy: "install keras-preprocessing 1.1.2 (it loads these files with numpy 2.4.6), or \
                 rebuild the object from its state (see `extract --to python`)",
        source: "PyPI keras-preprocessing 1.1.2; keras 3.15.1 ships no keras_preprocessing; \
                 loaded fixtures/keras/np2_timeseries_generator_p4.pkl with \
                 keras-preprocessing 1.1.2 + numpy 2.4.6",
        only_with_state: false,
    },
    Fact {
        id: "keras-2-preprocessing",
        package: "keras",
        names: &[
            ("keras.preprocessing.sequence", "TimeseriesGenerator"),
            ("keras.preprocessing.text", "**"),
            ("keras.preprocessing.image", "ImageDataGenerator"),
            ("keras.preprocessing.image", "Iterator"),
            ("keras.preprocessing.image", "NumpyArrayIterator"),
            ("keras.preprocessing.image", "DirectoryIterator"),
            ("keras.preprocessing.image", "DataFrameIterator"),
            ("keras.src.preprocessing", "**"),
        ],
        kind: FactKind::Removal,
        written_by: "Keras 2 (keras.preprocessing's generator and tokenizer classes)",
        fails: "not in Keras 3: keras.preprocessing.sequence has only pad_sequences, \
                keras.preprocessing.image only the image utilities, and keras.preprocessing.text \
                is gone; loading fails with AttributeError or ModuleNotFoundError",
        requires: "keras<3",
        remedy:
            "install keras < 3, or rebuild the object from its state (see `extract --to python`)",
        source: "keras 3.15.1's keras/preprocessing/{sequence,image}/__init__.py (the classes \
                 live on only in keras.src.legacy.preprocessing)",
        only_with_state: false,
    },
    // ── scikit-learn ──────────────────────────────────────────────────────────────────
    Fact {
        id: "sklearn-externals-joblib",
        package: "scikit-learn",
        names: &[("sklearn.externals.joblib", "**")],
        kind: FactKind::Removal,
        written_by: "scikit-learn < 0.23 (its vendored copy of joblib)",
        fails: "scikit-learn >= 0.23 removed sklearn.externals.joblib: ModuleNotFoundError",
        requires: "scikit-learn<0.23",
        remedy: "load with scikit-learn < 0.23, or take the arrays out with `pklinspect extract`",
        source:
            "scikit-learn 0.23 release notes (sklearn.externals.joblib removed, deprecated in 0.21)",
        only_with_state: false,
    },
    // ── Python ────────────────────────────────────────────────────────────────────────
    Fact {
        id: "python-itertools-3.14",
        package: "python",
        names: &[("itertools", "*")],
        kind: FactKind::Removal,
        written_by: "Python <= 3.13 (3.14 cannot pickle itertools iterators)",
        fails: "Python 3.14 removed __reduce__ and __setstate__ from itertools iterators: this \
                iterator's state is set on load (cycle, islice, chain, tee, groupby, …), which \
                fails there; a bare count or repeat call still loads",
        requires: "python<3.14",
        remedy: "load with Python <= 3.13, and save the values (a list) instead of the iterator",
        source: "What's New in Python 3.14 (itertools: copy, deepcopy and pickle support \
                 removed, deprecated since 3.12; gh-101588, gh-118816)",
        only_with_state: true,
    },
    Fact {
        id: "python-removed-3.13",
        package: "python",
        names: REMOVED_IN_313,
        kind: FactKind::Removal,
        written_by: "Python <= 3.12",
        fails: "the module was removed in Python 3.13 (PEP 594; lib2to3 too): ModuleNotFoundError",
        requires: "python<3.13",
        remedy: "load with Python <= 3.12",
        source: "PEP 594; What's New in Python 3.13 (removed modules)",
        only_with_state: false,
    },
    Fact {
        id: "python-removed-3.12",
        package: "python",
        names: REMOVED_IN_312,
        kind: FactKind::Removal,
        written_by: "Python <= 3.11",
        fails: "the module was removed in Python 3.12 (asynchat, asyncore, smtpd: PEP 594; \
                distutils: PEP 632; imp): ModuleNotFoundError",
        requires: "python<3.12",
        remedy: "load with Python <= 3.11",
        source: "PEP 594; PEP 632; What's New in Python 3.12 (removed modules)",
        only_with_state: false,
    },
];

/// Names that need a minimum Python: `(module pattern, name pattern, version, why)`.
pub const MIN_PYTHON_NAMES: &[(&str, &str, (u8, u8), &str)] = &[
    (
        "zoneinfo",
        "**",
        (3, 9),
        "zoneinfo is new in Python 3.9 (PEP 615)",
    ),
    (
        "pathlib._local",
        "**",
        (3, 13),
        "pathlib._local is new in Python 3.13, where pathlib became a package \
         (CPython Lib/pathlib/_local.py; older Pythons raise ModuleNotFoundError)",
    ),
];

/// The minimum Python that reads a protocol (PEP 307, PEP 3154, PEP 574): protocols 0–2
/// load anywhere (Python 2 included).
pub fn protocol_min_python(protocol: u8) -> Option<(u8, u8)> {
    match protocol {
        0..=2 => None,
        3 => Some((3, 0)),
        4 => Some((3, 4)),
        _ => Some((3, 8)),
    }
}

/// A state attribute in which a library records the version that wrote the object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VersionAttribute {
    /// The attribute (`_sklearn_version`).
    pub attribute: &'static str,
    /// The distribution, as pip names it.
    pub package: &'static str,
    /// The top-level module of its globals (`sklearn`), to attach the version to imports.
    pub module: &'static str,
    /// What loading it in another version does.
    pub other_version: &'static str,
    /// Where that comes from.
    pub source: &'static str,
}

/// Every version attribute pklinspect reads.
pub const VERSION_ATTRIBUTES: &[VersionAttribute] = &[
    VersionAttribute {
        attribute: "_sklearn_version",
        package: "scikit-learn",
        module: "sklearn",
        other_version: "loading in another scikit-learn version warns InconsistentVersionWarning \
                        and may fail (models are not guaranteed to load across versions)",
        source: "sklearn/base.py (BaseEstimator.__getstate__ records it, __setstate__ warns); \
                 scikit-learn's model persistence guide",
    },
    VersionAttribute {
        attribute: "__mpl_version__",
        package: "matplotlib",
        module: "matplotlib",
        other_version: "loading in another matplotlib version warns that the figure may not \
                        function correctly",
        source: "matplotlib/figure.py (Figure.__getstate__ records it, __setstate__ warns)",
    },
];

/// Whether `(module, name)` matches the pattern `(pm, pn)`: an exact name, `*` (every
/// attribute of `pm`) or `**` (`pm` and all its submodules); how specific the match is
/// (higher wins), or `None`.
pub fn pattern_match(pm: &str, pn: &str, module: &str, name: &str) -> Option<usize> {
    match pn {
        "**" => {
            let under = module == pm
                || module
                    .strip_prefix(pm)
                    .is_some_and(|rest| rest.starts_with('.'));
            under.then_some(pm.len())
        }
        "*" => (module == pm).then(|| pm.len().saturating_add(1)),
        _ => (module == pm && name == pn).then(|| pm.len().saturating_add(2)),
    }
}

/// The fact about `(module, name)`, per package the most specific row: at most one numpy
/// fact, one pandas fact, … for a global.
pub fn facts_for(module: &str, name: &str) -> Vec<&'static Fact> {
    let mut best: Vec<(&'static Fact, usize)> = Vec::new();
    for fact in FACTS {
        let Some(score) = fact
            .names
            .iter()
            .filter_map(|&(pm, pn)| pattern_match(pm, pn, module, name))
            .max()
        else {
            continue;
        };
        match best.iter_mut().find(|(f, _)| f.package == fact.package) {
            Some(slot) if slot.1 < score => *slot = (fact, score),
            Some(_) => {}
            None => best.push((fact, score)),
        }
    }
    best.into_iter().map(|(f, _)| f).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_every_row_has_a_source() {
        let mut ids: Vec<&str> = FACTS.iter().map(|f| f.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), FACTS.len());
        assert!(FACTS
            .iter()
            .all(|f| !f.source.is_empty() && !f.names.is_empty()));
    }

    #[test]
    fn the_most_specific_numpy_row_wins() {
        let id = |m: &str, n: &str| facts_for(m, n).first().map(|f| f.id);
        assert_eq!(
            id("numpy._core.numeric", "_frombuffer"),
            Some("numpy-2-numeric")
        );
        assert_eq!(
            id("numpy._core.multiarray", "_reconstruct"),
            Some("numpy-2-core")
        );
        assert_eq!(id("numpy._core.records", "recarray"), Some("numpy-2-other"));
        assert_eq!(
            id("numpy.core.multiarray", "_reconstruct"),
            Some("numpy-1-core")
        );
        assert_eq!(id("numpy", "ndarray"), None);
        assert_eq!(id("numpy.coreish", "x"), None);
    }

    #[test]
    fn pandas_generations_come_from_module_paths() {
        let id = |m: &str, n: &str| facts_for(m, n).first().map(|f| f.id);
        assert_eq!(id("pandas", "DataFrame"), Some("pandas-3"));
        assert_eq!(
            id("pandas.core.frame", "DataFrame"),
            Some("pandas-before-3")
        );
        assert_eq!(id("pandas.core.internals.managers", "BlockManager"), None);
        assert_eq!(
            id("pandas.core.indexes.numeric", "Int64Index"),
            Some("pandas-1-numeric-index")
        );
    }

    #[test]
    fn protocols_map_to_the_python_that_introduced_them() {
        assert_eq!(protocol_min_python(2), None);
        assert_eq!(protocol_min_python(3), Some((3, 0)));
        assert_eq!(protocol_min_python(4), Some((3, 4)));
        assert_eq!(protocol_min_python(5), Some((3, 8)));
    }
}
