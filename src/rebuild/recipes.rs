//! The rebuild recipes, as data: for a class whose pickled state is not what its
//! constructor takes, how the state maps to the constructor call. One row per library
//! class (every module spelling real files use), with the source it was read from.
//!
//! Classes without a row are rebuilt the way pickle builds them (module `codegen`:
//! `cls.__new__(cls)` or the recorded call, then pickle's BUILD), which needs the class
//! importable but no knowledge of it.

/// How a recipe makes the object from its state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Make {
    /// `Class(positional…, keyword=…)` from the state dict's entries of those names; the
    /// state must have exactly these entries (else the class is rebuilt without a recipe).
    /// `computed` overrides a keyword with an expression of other entries, `{name}` being
    /// replaced by that entry's expression.
    Constructor {
        positional: &'static [&'static str],
        keywords: &'static [&'static str],
        computed: &'static [(&'static str, &'static str)],
    },
    /// A scikit-learn estimator: `rebuild.py` asks the class for its constructor
    /// parameters (`cls._get_param_names()`, the classmethod `get_params` itself uses) and
    /// sets the other state entries (the fitted attributes) on the new object.
    Sklearn,
    /// A pandas DataFrame or Series: written as Parquet by `extract --to parquet`'s
    /// reader, read back with `pandas.read_parquet`.
    Parquet,
}

/// One recipe.
#[derive(Debug)]
pub(crate) struct Recipe {
    /// `module.Name` of every class it applies to.
    pub classes: &'static [&'static str],
    /// The library, as a person names it (for comments in `rebuild.py`).
    pub library: &'static str,
    /// How the object is made.
    pub make: Make,
    /// One line for the comment above the call in `rebuild.py`.
    pub note: &'static str,
    /// What was read to write it: library version and source file.
    pub source: &'static str,
}

/// keras-preprocessing's constructor: `TimeseriesGenerator(data, targets, length,
/// sampling_rate=1, stride=1, start_index=0, end_index=None, shuffle=False, reverse=False,
/// batch_size=128)`.
const TIMESERIES: Make = Make::Constructor {
    positional: &["data", "targets"],
    keywords: &[
        "length",
        "sampling_rate",
        "stride",
        "start_index",
        "end_index",
        "shuffle",
        "reverse",
        "batch_size",
    ],
    // The constructor stores `start_index + length`; `end_index` is stored as given, or
    // `len(data) - 1` for None, which the constructor takes back unchanged.
    computed: &[("start_index", "{start_index} - {length}")],
};

/// The table. The sklearn row applies to any `sklearn.*` class whose state records
/// `_sklearn_version` ([`find`]); its `classes` are the examples the tests use.
pub(crate) const RECIPES: &[Recipe] = &[
    Recipe {
        classes: &[
            "keras_preprocessing.sequence.TimeseriesGenerator",
            "keras.preprocessing.sequence.TimeseriesGenerator",
            "keras.src.preprocessing.sequence.TimeseriesGenerator",
            "keras.src.legacy.preprocessing.sequence.TimeseriesGenerator",
            "tensorflow.python.keras.preprocessing.sequence.TimeseriesGenerator",
            "tensorflow.keras.preprocessing.sequence.TimeseriesGenerator",
        ],
        library: "keras-preprocessing",
        make: TIMESERIES,
        note: "its constructor stores start_index + length as start_index",
        // TimeseriesGenerator.__init__: `self.start_index = start_index + length`;
        // `end_index=None` becomes `len(data) - 1`. The keras and tensorflow.keras copies
        // of the class keep the same constructor (read for 1.1.2 only).
        source: "keras-preprocessing 1.1.2, keras_preprocessing/sequence.py",
    },
    Recipe {
        classes: &[
            "sklearn.pipeline.Pipeline",
            "sklearn.preprocessing._data.StandardScaler",
            "sklearn.linear_model._logistic.LogisticRegression",
        ],
        library: "scikit-learn",
        make: Make::Sklearn,
        note:
            "constructor parameters from cls._get_param_names(), the rest set as fitted attributes",
        // BaseEstimator.get_params reads the constructor's parameter names from
        // _get_param_names(); __getstate__ pickles __dict__ plus _sklearn_version.
        source: "scikit-learn 1.9.1, sklearn/base.py",
    },
    Recipe {
        // Also any object the frame reader reads as a frame (module `codegen` asks it).
        classes: &[
            "pandas.core.frame.DataFrame",
            "pandas.core.series.Series",
            "pandas.DataFrame",
            "pandas.Series",
        ],
        library: "pandas",
        make: Make::Parquet,
        note: "read from Parquet (pandas pickles its internals, not the table)",
        // pandas pickles its block manager, not a table (docs/frames.md); the frame
        // reader behind extract --to parquet decodes it.
        source: "pandas 1.5-3.1 pickles (src/extract/frame.rs)",
    },
];

/// The recipe that reads pandas frames from Parquet.
pub(crate) fn parquet() -> Option<&'static Recipe> {
    RECIPES.iter().find(|r| r.make == Make::Parquet)
}

/// The recipe for an object of class `module.name` whose state has `state_keys`.
pub(crate) fn find<'k>(
    class: &str,
    mut state_keys: impl Iterator<Item = &'k str>,
) -> Option<&'static Recipe> {
    if let Some(recipe) = RECIPES.iter().find(|r| r.classes.contains(&class)) {
        return Some(recipe);
    }
    let sklearn = class.starts_with("sklearn.") && state_keys.any(|k| k == "_sklearn_version");
    sklearn
        .then(|| RECIPES.iter().find(|r| r.make == Make::Sklearn))
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_class_has_one_recipe_and_computed_names_are_parameters() {
        let mut seen = std::collections::HashSet::new();
        for recipe in RECIPES {
            assert!(!recipe.source.is_empty());
            for class in recipe.classes {
                assert!(seen.insert(*class), "{class} twice");
            }
            if let Make::Constructor {
                keywords, computed, ..
            } = recipe.make
            {
                for (name, _) in computed {
                    assert!(keywords.contains(name), "{name}");
                }
            }
        }
    }

    #[test]
    fn sklearn_classes_need_the_version_entry() {
        let with = ["C", "_sklearn_version"];
        let without = ["C"];
        let class = "sklearn.svm._classes.SVC";
        assert!(find(class, with.iter().copied()).is_some());
        assert!(find(class, without.iter().copied()).is_none());
        assert!(find("mylib.SVC", with.iter().copied()).is_none());
    }
}
