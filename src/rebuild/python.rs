//! The text of `rebuild.py`: a docstring, `load()` (the imports it needs, inside it, then
//! the statements the code generator wrote) and the few helpers those statements use,
//! written out in full so that a reviewer reads everything that runs.

use std::fmt::Write as _;

/// What goes into the module.
pub(crate) struct Parts<'p> {
    pub source: &'p str,
    /// `(module, name, alias)`.
    pub imports: &'p [(String, String, String)],
    pub torch: bool,
    pub ordered_dict: bool,
    /// Whether `params.json` has entries.
    pub params: bool,
    pub body: &'p [String],
    /// The expression of the root object.
    pub root: &'p str,
}

const HELPERS: &str = r#"

def _array(name):
    """An array written by pklinspect as NAME.npy (never with allow_pickle)."""
    import numpy as np

    return np.load(HERE / name, allow_pickle=False)


def _objects(shape, items):
    """An object array of this shape, its elements given in C order."""
    import numpy as np

    array = np.empty(len(items), dtype=object)
    for i, item in enumerate(items):
        array[i] = item
    return array.reshape(shape)


def _params():
    """params.json: each plain value by its object path, tagged values decoded."""
    with open(HERE / "params.json", encoding="utf-8") as f:
        return {path: _plain(value) for path, value in json.load(f).items()}


def _plain(v):
    """JSON to Python: lists, and the tags docs/rebuild.md lists for what JSON lacks."""
    if isinstance(v, list):
        return [_plain(x) for x in v]
    if not isinstance(v, dict):
        return v
    if len(v) == 1:
        ((tag, x),) = v.items()
        if tag == "$tuple":
            return tuple(_plain(i) for i in x)
        if tag == "$bytes":
            return base64.b64decode(x)
        if tag == "$bytearray":
            return bytearray(base64.b64decode(x))
        if tag == "$set":
            return {_plain(i) for i in x}
        if tag == "$frozenset":
            return frozenset(_plain(i) for i in x)
        if tag == "$dict":
            return {_plain(k): _plain(i) for k, i in x}
        if tag == "$complex":
            return complex(_plain(x[0]), _plain(x[1]))
        if tag == "$int":
            return _int(x)
        if tag == "$int_hex":
            return int(x, 16)
        if tag == "$float":
            return float(x)
    return {k: _plain(x) for k, x in v.items()}


def _int(text):
    """int(text) for a decimal of any length (int() refuses more than 4300 digits)."""
    sign, digits = (-1, text[1:]) if text.startswith("-") else (1, text)
    n = 0
    for i in range(0, len(digits), 4000):
        chunk = digits[i : i + 4000]
        n = n * 10 ** len(chunk) + int(chunk)
    return sign * n


def _build(obj, state):
    """What pickle's BUILD does: obj.__setstate__(state) if the class has it, else the
    state's attributes (a (dict, slots) pair sets both)."""
    setstate = getattr(obj, "__setstate__", None)
    if setstate is not None:
        setstate(state)
        return
    slots = None
    if isinstance(state, tuple) and len(state) == 2:
        state, slots = state
    if state:
        obj.__dict__.update(state)
    for name, value in (slots or {}).items():
        setattr(obj, name, value)


def _sklearn(cls, state):
    """A scikit-learn estimator: its constructor parameters (cls._get_param_names(), as
    get_params() finds them), then the other entries (fitted attributes, the version that
    wrote them) given as pickle gives them, so that the class's __setstate__ checks the
    version and rebuilds what it does not store."""
    names = cls._get_param_names()
    obj = cls(**{k: v for k, v in state.items() if k in names})
    _build(obj, {k: v for k, v in state.items() if k not in names})
    return obj


def _frame(name, series=False):
    """A pandas DataFrame (or Series: its one column) from NAME.parquet."""
    import pandas as pd

    frame = pd.read_parquet(HERE / name)
    return frame.iloc[:, 0] if series else frame
"#;

/// `rebuild.py`.
pub(crate) fn module(parts: &Parts<'_>) -> String {
    let mut out = String::new();
    // Inside the docstring: no quote, backslash, line break or other control character.
    let source: String = parts
        .source
        .chars()
        .map(|c| match c {
            '"' | '\\' => '?',
            c if c.is_control() || c.is_whitespace() && c != ' ' => '?',
            c => c,
        })
        .collect();
    let _ = write!(
        out,
        r#""""Rebuilds the object pickled in {source}
without unpickling anything.

Written by pklinspect {version} (`pklinspect extract --to python`). load() imports only
the libraries named in it and calls only the constructors below; plain values are in
params.json, arrays in the .npy files beside this file. Review it before running it.
"""

import base64
import json
from pathlib import Path

HERE = Path(__file__).parent


def load():
    """The object, rebuilt from the files beside this one."""
"#,
        version = env!("CARGO_PKG_VERSION"),
    );
    if parts.torch {
        out.push_str("    import torch\n");
    }
    if parts.ordered_dict {
        out.push_str("    from collections import OrderedDict\n");
    }
    for (module, name, alias) in parts.imports {
        if alias == name {
            let _ = writeln!(out, "    from {module} import {name}");
        } else {
            let _ = writeln!(out, "    from {module} import {name} as {alias}");
        }
    }
    if parts.params {
        out.push_str("\n    p = _params()\n");
    }
    for statement in parts.body {
        if statement.starts_with('#') {
            out.push('\n');
        }
        for line in statement.lines() {
            let _ = writeln!(out, "    {line}");
        }
    }
    let _ = writeln!(out, "    return {}", parts.root);
    out.push_str(HELPERS);
    out
}
