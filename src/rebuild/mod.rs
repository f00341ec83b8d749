//! Rebuild recipes and `rebuild.py` (`extract --to python`): a pickled object tree written
//! as plain files — arrays as `.npy`, plain values as `params.json`, pandas frames as
//! Parquet — and a short Python module whose `load()` re-creates the objects from them by
//! calling their constructors, so that a person reviews plain code instead of loading an
//! opaque pickle.
//!
//! The input is the document of the JSON extractor (`extract --to json --arrays npy`),
//! read back by [`tree`] with every value's text kept; facts the document does not carry
//! (which arrays are numpy scalars or torch tensors, which call made each object, the
//! globals' module and name) come from the inspection's report ([`Facts`]). [`recipes`]
//! is the table of classes whose constructor arguments differ from their pickled state;
//! [`codegen`] writes the statements, [`python`] the module around them. The safety rule
//! (nothing the analysis flags is ever called) is enforced by the caller, before anything
//! is generated: `extract::python` refuses such files.

use std::collections::HashMap;

mod codegen;
pub(crate) use codegen::{is_identifier, windows_device};
mod python;
pub(crate) mod recipes;
mod tree;

/// What the report knows that the JSON document does not.
#[derive(Debug, Default)]
pub(crate) struct Facts {
    /// The input's name (for the docstring).
    pub source: String,
    /// What the document's array file names start with and the written files' do not.
    pub array_prefix: String,
    /// By array file name (as written).
    pub arrays: HashMap<String, ArrayFact>,
    /// Array file name (as written) by object path.
    pub array_paths: HashMap<String, String>,
    /// Object arrays (no file) that cannot be rebuilt, by path: why.
    pub refused_paths: HashMap<String, String>,
    /// By object path: the opcode that made the object there and what it called
    /// (`module.name`, when named).
    pub calls: HashMap<String, (String, Option<String>)>,
    /// `module.name` as the JSON document spells a global → `(module, name)` as in the
    /// stream.
    pub globals: HashMap<String, (String, String)>,
    /// By object path: `DataFrame` or `Series`, for the frames the frame reader reads.
    pub frames: HashMap<String, String>,
}

/// How an array file is loaded back.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ArrayFact {
    /// An ndarray subclass the pickle builds the array as (`numpy.matrix`): the array is
    /// viewed as it (`.view(cls)`), global `module.name`.
    pub view_as: Option<String>,
    /// Why the array cannot be rebuilt from its `.npy` (a global its construction uses
    /// that the `.npy` does not carry: a masked constant, numpy 2's StringDType).
    pub refused: Option<String>,
    /// A numpy scalar (`multiarray.scalar`), written as a 0-d array.
    pub scalar: bool,
    /// A torch tensor.
    pub tensor: bool,
    /// An array joblib wrote after its wrapper.
    pub joblib: bool,
    /// A torch dtype numpy has no name for (`bfloat16`, `float8_e4m3fn`, …): the tensor is
    /// written as its raw bits (`uint16`, `uint8`) and viewed back as it.
    pub torch_view: Option<&'static str>,
}

/// The generated files.
#[derive(Debug)]
pub(crate) struct Generated {
    /// `rebuild.py`.
    pub python: String,
    /// `params.json`.
    pub params: String,
    /// `(object path, file name)` of each frame to write as Parquet.
    pub frames: Vec<(String, String)>,
    /// The array files `rebuild.py` loads (as written, without the document's prefix):
    /// the arrays inside frames are not among them.
    pub arrays: Vec<String>,
}

/// `rebuild.py` and `params.json` for `document` (the JSON extractor's output with
/// arrays as files), or why the tree cannot be rebuilt.
pub(crate) fn generate(document: &str, facts: &Facts) -> Result<Generated, String> {
    let root = tree::parse(document).map_err(|e| e.to_string())?;
    if root.tag() == Some("$pickles") {
        return Err("the file holds several pickles; rebuild.py makes one object".into());
    }
    let mut gen = codegen::Gen::new(facts, &root);
    let expr = gen.expr(&root, "$", 0)?;
    Ok(gen.finish(expr))
}
