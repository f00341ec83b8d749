//! Writes `rebuild.py` from the JSON extractor's document: every plain subtree becomes one
//! entry of `params.json` (its text copied unchanged, keyed by object path), every array a
//! `.npy` loaded by name, every object a call — its recipe's ([`super::recipes`]) or, for a
//! class without one, the calls pickle itself makes (`cls.__new__(cls)` or the recorded
//! `cls(*args)`, then pickle's BUILD). Names put into code are checked to be Python
//! identifiers; every string is written as a Python literal.

#![warn(clippy::arithmetic_side_effects)]

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt::Write as _;

use super::recipes::{self, Make, Recipe};
use super::tree::{Json, MAX_DEPTH};
use super::{Facts, Generated};
use crate::pytext;

/// Tags of plain values (decoded by `_plain` in `rebuild.py`).
const PLAIN_TAGS: &[&str] = &[
    "$tuple",
    "$bytes",
    "$bytearray",
    "$set",
    "$frozenset",
    "$complex",
    "$dict",
    "$int",
    "$int_hex",
    "$float",
];

/// Names the statements of `load()` use besides the helpers and `v1`, `v2`, …: an import
/// never takes one (a class named `set` imported as `set` would turn every `set([…])`
/// after it into a call of that class, with arguments the file chose).
const RESERVED: &[&str] = &["p", "torch", "OrderedDict", "load", "set", "frozenset"];

/// Lines longer than this are split, one argument a line.
const LINE: usize = 88;

type Out<T> = std::result::Result<T, String>;

/// A Python string literal.
fn py(s: &str) -> String {
    let mut out = String::new();
    pytext::repr_text(s, &mut out);
    out
}

/// Whether `s` is an ASCII Python identifier and not a keyword (names from the input go
/// into code only when this holds).
pub(crate) fn is_identifier(s: &str) -> bool {
    const KEYWORDS: &[&str] = &[
        "False",
        "None",
        "True",
        "and",
        "as",
        "assert",
        "async",
        "await",
        "break",
        "class",
        "continue",
        "def",
        "del",
        "elif",
        "else",
        "except",
        "finally",
        "for",
        "from",
        "global",
        "if",
        "import",
        "in",
        "is",
        "lambda",
        "nonlocal",
        "not",
        "or",
        "pass",
        "raise",
        "return",
        "try",
        "while",
        "with",
        "yield",
        "__debug__",
    ];
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !KEYWORDS.contains(&s)
}

/// Whether every state entry a recipe's computed argument reads (`{start_index} -
/// {length}`) is an int literal: the arithmetic is then Python's on ints, not a method
/// (`__sub__`) of an object the file chose, which pickle would never call.
fn computed_from_ints(state: Option<&Json<'_>>, computed: &[(&str, &str)]) -> bool {
    if computed.is_empty() {
        return true;
    }
    let Some(Json::Object(pairs, _, _)) = state else {
        return false;
    };
    pairs
        .iter()
        .filter(|(k, _)| {
            computed
                .iter()
                .any(|(_, t)| t.contains(&format!("{{{k}}}")))
        })
        .all(|(_, v)| matches!(v, Json::Literal(t) if t.parse::<i128>().is_ok()))
}

/// Whether every entry of a state is plain data or an array: a constructor recipe passes
/// them to library code (`len(data)`, `start_index > end_index`), which must not reach a
/// method of an object the file chose.
fn plain_or_arrays(state: Option<&Json<'_>>) -> bool {
    let Some(Json::Object(pairs, _, _)) = state else {
        return false;
    };
    pairs
        .iter()
        .all(|(_, v)| is_plain(v) || v.tag() == Some("$array"))
}

/// Whether a file stem is a Windows device name (`CON`, `nul`, `COM1`, …), which names the
/// device there whatever the extension.
pub(crate) fn windows_device(stem: &str) -> bool {
    let base = stem.split('.').next().unwrap_or(stem).to_ascii_uppercase();
    matches!(base.as_str(), "CON" | "PRN" | "AUX" | "NUL")
        || (base.len() == 4
            && (base.starts_with("COM") || base.starts_with("LPT"))
            && base.ends_with(|c: char| c.is_ascii_digit() && c != '0'))
}

/// Whether the value is plain data: no array, object, global or reference anywhere in it.
fn is_plain(j: &Json<'_>) -> bool {
    match j {
        Json::Str(..) | Json::Literal(_) => true,
        Json::Array(items, _) => items.iter().all(is_plain),
        Json::Object(pairs, _, _) => match j.tag() {
            Some(tag) => PLAIN_TAGS.contains(&tag) && pairs.iter().all(|(_, v)| is_plain(v)),
            None => pairs.iter().all(|(_, v)| is_plain(v)),
        },
    }
}

/// Every `$ref` target in the document.
fn ref_targets(j: &Json<'_>, out: &mut BTreeSet<String>) {
    if let (Some("$ref"), Some(target)) = (j.tag(), j.get("$ref").and_then(Json::as_str)) {
        out.insert(target.to_string());
    }
    match j {
        Json::Object(pairs, _, _) => pairs.iter().for_each(|(_, v)| ref_targets(v, out)),
        Json::Array(items, _) => items.iter().for_each(|v| ref_targets(v, out)),
        _ => {}
    }
}

fn lone_surrogate(path: &str) -> String {
    format!("a key at {path} holds a lone surrogate, which the rebuilt code cannot name")
}

/// `head(a, b)` on one line, or one item a line when that is too long.
fn call(indent: usize, head: &str, items: &[String], close: &str) -> String {
    let one = format!("{head}{}{close}", items.join(", "));
    if one.len().saturating_add(indent) <= LINE || items.is_empty() {
        return one;
    }
    // Relative to the statement: `rebuild.py` indents every line of `load()`'s body.
    let mut out = format!("{head}\n");
    for item in items {
        let _ = writeln!(out, "    {item},");
    }
    out.push_str(close);
    out
}

pub(crate) struct Gen<'f, 'a> {
    facts: &'f Facts,
    refs: BTreeSet<String>,
    /// `params.json` entries: object path, value text.
    params: Vec<(String, &'a str)>,
    /// The paths of `params`.
    param_paths: HashSet<String>,
    /// Statements of `load()`.
    body: Vec<String>,
    /// `(module, name, alias)` imported in `load()`.
    imports: Vec<(String, String, String)>,
    /// The variable holding the object or container at a path.
    vars: HashMap<String, String>,
    frames: Vec<(String, String)>,
    /// Array files the code loads.
    arrays: Vec<String>,
    torch: bool,
    ordered_dict: bool,
    /// Set while a dict key or set element is built: a 0-d array there is a numpy
    /// scalar (an array is not hashable), whatever the report says of it.
    hashable: bool,
}

impl<'f, 'a> Gen<'f, 'a> {
    pub(crate) fn new(facts: &'f Facts, root: &Json<'a>) -> Self {
        let mut refs = BTreeSet::new();
        ref_targets(root, &mut refs);
        Gen {
            facts,
            refs,
            params: Vec::new(),
            param_paths: HashSet::new(),
            body: Vec::new(),
            imports: Vec::new(),
            vars: HashMap::new(),
            frames: Vec::new(),
            arrays: Vec::new(),
            torch: false,
            ordered_dict: false,
            hashable: false,
        }
    }

    fn var(&mut self, path: &str) -> String {
        let name = format!("v{}", self.vars.len().saturating_add(1));
        self.vars.insert(path.to_string(), name.clone());
        name
    }

    /// The local name of `module.name` (imported inside `load()`), refusing names that
    /// are not identifiers.
    fn import(&mut self, dotted: &str) -> Out<String> {
        let (module, name) = self
            .facts
            .globals
            .get(dotted)
            .cloned()
            .ok_or_else(|| format!("{dotted} is not a global of the file"))?;
        let parts: Vec<&str> = name.split('.').collect();
        if !module.split('.').all(is_identifier) || !parts.iter().all(|p| is_identifier(p)) {
            return Err(format!("{module}.{name} is not a Python name"));
        }
        let first = parts.first().copied().unwrap_or_default();
        let rest: String = parts.iter().skip(1).map(|p| format!(".{p}")).collect();
        if let Some((_, _, alias)) = self
            .imports
            .iter()
            .find(|(m, n, _)| *m == module && n == first)
        {
            return Ok(format!("{alias}{rest}"));
        }
        let taken = |a: &str| {
            self.imports.iter().any(|(_, _, x)| x == a)
                || RESERVED.contains(&a)
                || a.starts_with('_')
                    && [
                        "_array", "_build", "_params", "_plain", "_sklearn", "_frame", "_objects",
                        "_int",
                    ]
                    .contains(&a)
                || (a.starts_with('v') && a[1..].chars().all(|c| c.is_ascii_digit()))
        };
        let mut alias = first.to_string();
        let mut n = 1u32;
        while taken(&alias) {
            n = n.saturating_add(1);
            alias = format!("{first}_{n}");
        }
        self.imports
            .push((module.clone(), first.to_string(), alias.clone()));
        Ok(format!("{alias}{rest}"))
    }

    /// The expression that rebuilds `j`, found at object path `path`.
    pub(crate) fn expr(&mut self, j: &Json<'a>, path: &str, depth: usize) -> Out<String> {
        if depth > MAX_DEPTH {
            return Err(format!("{path} is nested too deep"));
        }
        let depth = depth.saturating_add(1);
        if is_plain(j) && !self.holds_ref_target(path) {
            self.param(path, j.text());
            let value = format!("p[{}]", py(path));
            let value = self.maybe_ordered(path, value);
            // A shared container keeps its identity: one variable for every use.
            let container = matches!(j, Json::Array(..) | Json::Object(..));
            if container && self.refs.contains(path) {
                return Ok(self.bind(path, value));
            }
            return Ok(value);
        }
        match j.tag() {
            Some("$array") => self.array(j, path, depth),
            Some("$ref") => self.reference(j, path),
            Some("$global") => {
                let name = j.get("$global").and_then(Json::as_str).unwrap_or("");
                self.import(name)
            }
            Some("$object") => {
                // An object's own state need not be hashable, even when it is a key.
                let before = std::mem::replace(&mut self.hashable, false);
                let made = self.object(j, path, depth);
                self.hashable = before;
                made
            }
            Some("$tuple") => {
                let items = self.items(j.get("$tuple"), path, depth)?;
                Ok(match items.len() {
                    1 => format!("({},)", items.join("")),
                    _ => format!("({})", items.join(", ")),
                })
            }
            Some(tag @ ("$set" | "$frozenset")) => {
                let before = std::mem::replace(&mut self.hashable, true);
                let items = self.items(j.get(tag), path, depth);
                self.hashable = before;
                let items = items?;
                let head = if tag == "$set" {
                    "set(["
                } else {
                    "frozenset(["
                };
                Ok(self.bind(path, call(4, head, &items, "])")))
            }
            Some("$dict") => self.tagged_dict(j, path, depth),
            Some(other) => Err(format!("{other} at {path} cannot be rebuilt")),
            None => match j {
                Json::Array(..) => {
                    let items = self.items(Some(j), path, depth)?;
                    Ok(self.bind(path, call(4, "[", &items, "]")))
                }
                Json::Object(pairs, _, clean) => {
                    if !clean {
                        return Err(lone_surrogate(path));
                    }
                    let mut items = Vec::new();
                    for (k, v) in pairs {
                        let key = serde_json::to_string(k).unwrap_or_default();
                        let value = self.expr(v, &format!("{path}[{key}]"), depth)?;
                        items.push(format!("{}: {value}", py(k)));
                    }
                    let dict = call(4, "{", &items, "}");
                    let dict = self.maybe_ordered(path, dict);
                    Ok(self.bind(path, dict))
                }
                _ => Err(format!("{path}: unexpected value")),
            },
        }
    }

    fn param(&mut self, path: &str, text: &'a str) {
        self.params.push((path.to_string(), text));
        self.param_paths.insert(path.to_string());
    }

    /// Whether a `$ref` names something strictly inside the value at `path` (which must
    /// then be walked, not stored whole, so that the target gets a name).
    fn holds_ref_target(&self, path: &str) -> bool {
        self.refs
            .range::<str, _>((std::ops::Bound::Excluded(path), std::ops::Bound::Unbounded))
            .take_while(|t| t.starts_with(path))
            .any(|t| matches!(t.as_bytes().get(path.len()), Some(b'[' | b'.')))
    }

    /// A dict key: as [`Gen::expr`], with 0-d arrays as numpy scalars.
    fn key(&mut self, j: &Json<'a>, path: &str, depth: usize) -> Out<String> {
        let before = std::mem::replace(&mut self.hashable, true);
        let key = self.expr(j, path, depth);
        self.hashable = before;
        key
    }

    /// `OrderedDict(value)` where the pickle made an OrderedDict at `path`.
    fn maybe_ordered(&mut self, path: &str, value: String) -> String {
        let ordered = self
            .facts
            .calls
            .get(path)
            .is_some_and(|(_, c)| c.as_deref() == Some("collections.OrderedDict"));
        if !ordered {
            return value;
        }
        self.ordered_dict = true;
        format!("OrderedDict({value})")
    }

    /// A variable holding `value`, statement emitted.
    fn bind(&mut self, path: &str, value: String) -> String {
        let var = self.var(path);
        self.body.push(format!("{var} = {value}"));
        var
    }

    fn items(&mut self, list: Option<&Json<'a>>, path: &str, depth: usize) -> Out<Vec<String>> {
        let list = list.and_then(Json::items).unwrap_or(&[]);
        let mut out = Vec::with_capacity(list.len());
        for (i, item) in list.iter().enumerate() {
            out.push(self.expr(item, &format!("{path}[{i}]"), depth)?);
        }
        Ok(out)
    }

    fn tagged_dict(&mut self, j: &Json<'a>, path: &str, depth: usize) -> Out<String> {
        let pairs = j.get("$dict").and_then(Json::items).unwrap_or(&[]);
        let mut items = Vec::new();
        for (i, pair) in pairs.iter().enumerate() {
            let [k, v] = pair.items().unwrap_or(&[]) else {
                return Err(format!("{path}: a $dict pair is not a pair"));
            };
            // The object walk names a value by its key: `[3]` for an int, the JSON
            // string of a str; other keys get paths of our own (no `$ref` names them).
            let at = match k {
                Json::Literal(t) if t.parse::<i128>().is_ok() => format!("{path}[{t}]"),
                Json::Str(_, raw) => format!("{path}[{raw}]"),
                _ => format!("{path}.__values__[{i}]"),
            };
            let k = self.key(k, &format!("{path}.__keys__[{i}]"), depth)?;
            let v = self.expr(v, &at, depth)?;
            items.push(format!("{k}: {v}"));
        }
        let dict = call(4, "{", &items, "}");
        let dict = self.maybe_ordered(path, dict);
        Ok(self.bind(path, dict))
    }

    fn array(&mut self, j: &Json<'a>, path: &str, depth: usize) -> Out<String> {
        if let Some(var) = self.vars.get(path) {
            // Loaded already, for a reference met before it.
            return Ok(var.clone());
        }
        let a = j.get("$array");
        let Some(file) = a.and_then(|a| a.get("file")).and_then(Json::as_str) else {
            if let Some(reason) = a.and_then(|a| a.get("unavailable")).and_then(Json::as_str) {
                return Err(format!("the array at {path} cannot be written: {reason}"));
            }
            return self.object_array(a, path, depth);
        };
        if file.contains(['/', '\\']) || file.starts_with('.') {
            return Err(format!("array file name {file:?} is not a plain name"));
        }
        let file = file.strip_prefix(&self.facts.array_prefix).unwrap_or(file);
        let zero_d = a.and_then(|a| a.get("shape")).map(Json::text) == Some("[]");
        let mut e = self.load_array(file)?;
        if self.hashable && zero_d && !e.ends_with("[()]") && !e.starts_with("torch.") {
            e.push_str("[()]");
        }
        if self.refs.contains(path) {
            return Ok(self.bind(path, e));
        }
        Ok(e)
    }

    /// An object array: its elements (C order) rebuilt one by one.
    fn object_array(&mut self, a: Option<&Json<'a>>, path: &str, depth: usize) -> Out<String> {
        if let Some(reason) = self.facts.refused_paths.get(path) {
            return Err(reason.clone());
        }
        let shape: Vec<String> = a
            .and_then(|a| a.get("shape"))
            .and_then(Json::items)
            .unwrap_or(&[])
            .iter()
            .map(|d| d.text().to_string())
            .collect();
        // The shape is written into code: only integers.
        if shape.iter().any(|d| d.parse::<u64>().is_err()) {
            return Err(format!(
                "the array at {path} has a shape that is not integers"
            ));
        }
        let Some(data) = a.and_then(|a| a.get("data")) else {
            return Err(format!("the array at {path} has no data"));
        };
        let mut level = vec![data];
        for _ in &shape {
            let mut next = Vec::new();
            for item in level {
                next.extend(
                    item.items()
                        .ok_or(format!("the array at {path} is ragged"))?,
                );
            }
            level = next;
        }
        let mut items = Vec::with_capacity(level.len());
        for (i, item) in level.into_iter().enumerate() {
            // Elements are named by their flat (C-order) index, as the object walk does.
            items.push(self.expr(item, &format!("{path}[{i}]"), depth)?);
        }
        let shape = match shape.len() {
            1 => format!("({},)", shape.join("")),
            _ => format!("({})", shape.join(", ")),
        };
        let e = call(4, &format!("_objects({shape}, ["), &items, "])");
        Ok(self.bind(path, e))
    }

    /// The expression that loads array file `file`.
    fn load_array(&mut self, file: &str) -> Out<String> {
        let fact = self.facts.arrays.get(file).cloned().unwrap_or_default();
        if let Some(reason) = &fact.refused {
            return Err(reason.clone());
        }
        self.arrays.push(file.to_string());
        let mut e = format!("_array({})", py(file));
        if fact.tensor {
            self.torch = true;
            e = format!("torch.from_numpy({e})");
            if let Some(dtype) = fact.torch_view {
                e = format!("{e}.view(torch.{dtype})");
            }
        } else if fact.scalar {
            // arr[()] of a 0-d array is the numpy scalar of its dtype.
            e.push_str("[()]");
        } else if let Some(class) = &fact.view_as {
            let cls = self.import(class)?;
            e = format!("{e}.view({cls})");
        }
        Ok(e)
    }

    fn reference(&mut self, j: &Json<'a>, path: &str) -> Out<String> {
        let target = j.get("$ref").and_then(Json::as_str).unwrap_or("");
        if let Some(var) = self.vars.get(target) {
            return Ok(var.clone());
        }
        if self.param_paths.contains(target) {
            // An equal copy of a plain value (shared containers have variables).
            return Ok(format!("p[{}]", py(target)));
        }
        if let Some(file) = self.facts.array_paths.get(target) {
            // An array met later in the document: loaded now, used there too.
            let e = self.load_array(file)?;
            return Ok(self.bind(target, e));
        }
        Err(format!(
            "{path} refers to {target}, which is not rebuilt before it (a recursive \
             structure or a value shared from inside another)"
        ))
    }

    fn object(&mut self, j: &Json<'a>, path: &str, depth: usize) -> Out<String> {
        let Some(class) = j.get("$object").and_then(Json::as_str) else {
            return Err(format!(
                "the object at {path} is made by a callable computed at load time"
            ));
        };
        let state = j.get("state");
        let keys: Vec<&str> = match state {
            Some(Json::Object(pairs, _, _)) if state.and_then(Json::tag).is_none() => {
                pairs.iter().map(|(k, _)| k.as_str()).collect()
            }
            _ => Vec::new(),
        };
        let plain_object = j.get("args").is_none()
            && j.get("kwargs").is_none()
            && j.get("items").is_none()
            && j.get("dict_items").is_none();
        let recipe = match self.facts.frames.contains_key(path) {
            true => recipes::parquet(),
            false => recipes::find(class, keys.iter().copied()),
        };
        if let Some(recipe) = recipe {
            let made = match recipe.make {
                Make::Parquet => Some(self.frame(recipe, class, path)?),
                Make::Sklearn if plain_object && !keys.is_empty() => {
                    Some(self.sklearn(recipe, class, state, path, depth)?)
                }
                Make::Constructor {
                    positional,
                    keywords,
                    computed,
                } if plain_object
                    && keys.len() == positional.len().saturating_add(keywords.len())
                    && positional.iter().chain(keywords).all(|k| keys.contains(k))
                    && computed_from_ints(state, computed)
                    && plain_or_arrays(state) =>
                {
                    let spec = (positional, keywords, computed);
                    Some(self.constructor(recipe, class, spec, state, path, depth)?)
                }
                _ => None,
            };
            if let Some(made) = made {
                return Ok(made);
            }
        }
        self.generic(j, class, path, depth)
    }

    /// The expressions of a dict state's entries, each at `path.name`.
    fn state_entries(
        &mut self,
        state: Option<&Json<'a>>,
        path: &str,
        depth: usize,
        skip: &[&str],
    ) -> Out<Vec<(String, String)>> {
        let Some(Json::Object(pairs, _, clean)) = state else {
            return Ok(Vec::new());
        };
        if !clean {
            return Err(lone_surrogate(path));
        }
        let mut out = Vec::new();
        for (k, v) in pairs.iter().filter(|(k, _)| !skip.contains(&k.as_str())) {
            out.push((k.clone(), self.expr(v, &format!("{path}.{k}"), depth)?));
        }
        Ok(out)
    }

    fn comment(&mut self, path: &str, class: &str, note: &str, source: Option<&str>) {
        let mut text = format!("{path}: {class} ({note})");
        if let Some(source) = source {
            text.push_str("; read in ");
            text.push_str(source);
        }
        // Comments hold input text: no line breaks from the input; wrapped at LINE.
        let words = text.split(|c: char| c.is_whitespace() || c.is_control());
        let mut lines = vec![String::from("#")];
        for word in words.filter(|w| !w.is_empty()) {
            let last = lines.last_mut().map(|l| l.len()).unwrap_or(0);
            if last.saturating_add(word.len()) >= LINE.saturating_sub(4) && last > 1 {
                lines.push(String::from("#"));
            }
            if let Some(line) = lines.last_mut() {
                line.push(' ');
                line.push_str(word);
            }
        }
        self.body.push(lines.join("\n"));
    }

    fn constructor(
        &mut self,
        recipe: &Recipe,
        class: &str,
        spec: (&[&str], &[&str], &[(&str, &str)]),
        state: Option<&Json<'a>>,
        path: &str,
        depth: usize,
    ) -> Out<String> {
        let (positional, keywords, computed) = spec;
        let entries = self.state_entries(state, path, depth, &[])?;
        let get = |name: &str| {
            entries
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, e)| e.clone())
                .unwrap_or_default()
        };
        let mut args: Vec<String> = positional.iter().map(|k| get(k)).collect();
        for k in keywords {
            let value = match computed.iter().find(|(name, _)| name == k) {
                Some((_, template)) => entries.iter().fold(template.to_string(), |t, (n, e)| {
                    t.replace(&format!("{{{n}}}"), e)
                }),
                None => get(k),
            };
            args.push(format!("{k}={value}"));
        }
        let cls = self.import(class)?;
        self.comment(
            path,
            class,
            &format!("{} recipe: {}", recipe.library, recipe.note),
            Some(recipe.source),
        );
        let var = self.var(path);
        let line = call(4, &format!("{var} = {cls}("), &args, ")");
        self.body.push(line);
        Ok(var)
    }

    fn sklearn(
        &mut self,
        recipe: &Recipe,
        class: &str,
        state: Option<&Json<'a>>,
        path: &str,
        depth: usize,
    ) -> Out<String> {
        let version = state
            .and_then(|s| s.get("_sklearn_version"))
            .and_then(Json::as_str)
            .unwrap_or("?")
            .to_string();
        let entries = self.state_entries(state, path, depth, &[])?;
        let items: Vec<String> = entries
            .iter()
            .map(|(k, e)| format!("{}: {e}", py(k)))
            .collect();
        let cls = self.import(class)?;
        let note = format!(
            "written by scikit-learn {version}; {}: {}",
            recipe.library, recipe.note
        );
        self.comment(path, class, &note, Some(recipe.source));
        let var = self.var(path);
        let line = call(4, &format!("{var} = _sklearn({cls}, {{"), &items, "})");
        self.body.push(line);
        Ok(var)
    }

    fn frame(&mut self, recipe: &Recipe, class: &str, path: &str) -> Out<String> {
        let Some(kind) = self.facts.frames.get(path) else {
            // The path is the file's: quoted for the shell, `'` and all.
            return Err(format!(
                "the pandas object at {path} cannot be read as a table (extract --to \
                 parquet --path '{}' says why)",
                path.replace('\'', r"'\''")
            ));
        };
        let stem: String = path
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect::<String>()
            .trim_matches('_')
            .to_string();
        // Not empty, and not a Windows device name (`con.parquet` opens the console there).
        let stem = if stem.is_empty() || windows_device(&stem) {
            format!("frame_{stem}")
        } else {
            stem
        };
        let mut file = format!("{stem}.parquet");
        let mut n = 1u32;
        // Unique without regard to case: `A.parquet` and `a.parquet` are one file on
        // macOS and Windows, and the second frame would silently replace the first.
        while self
            .frames
            .iter()
            .any(|(_, f)| f.eq_ignore_ascii_case(&file))
        {
            n = n.saturating_add(1);
            file = format!("{stem}_{n}.parquet");
        }
        self.frames.push((path.to_string(), file.clone()));
        self.comment(
            path,
            class,
            &format!("{}: {}", recipe.library, recipe.note),
            None,
        );
        let series = if kind == "Series" {
            ", series=True"
        } else {
            ""
        };
        Ok(self.bind(path, format!("_frame({}{series})", py(&file))))
    }

    /// An object without a recipe: made as the pickle makes it.
    fn generic(&mut self, j: &Json<'a>, class: &str, path: &str, depth: usize) -> Out<String> {
        let cls = self.import(class)?;
        let mut args = match j.get("args") {
            // All plain (a numpy dtype's ('f8', False, True)): one entry, unpacked.
            Some(all) if is_plain(all) => {
                let at = format!("{path}.__args__");
                self.param(&at, all.text());
                vec![format!("*p[{}]", py(&at))]
            }
            other => self.items(other, &format!("{path}.__args__"), depth)?,
        };
        if let Some(Json::Object(pairs, _, _)) = j.get("kwargs") {
            for (k, v) in pairs {
                if !is_identifier(k) {
                    return Err(format!("keyword {k:?} of {path} is not a Python name"));
                }
                let key = serde_json::to_string(k).unwrap_or_default();
                let value = self.expr(v, &format!("{path}.__kwargs__[{key}]"), depth)?;
                args.push(format!("{k}={value}"));
            }
        }
        let recorded = self.facts.calls.get(path);
        // copyreg._reconstructor(cls, object, None) (protocols 0 and 1; Python 2's name
        // copy_reg, which pickle maps) is object.__new__(cls).
        let reconstructed = recorded.is_some_and(|(_, c)| {
            matches!(
                c.as_deref(),
                Some("copyreg._reconstructor" | "copy_reg._reconstructor")
            )
        });
        let call_made = match recorded {
            Some(_) if reconstructed => Some("NEWOBJ"),
            Some((op, _)) => Some(op.as_str()),
            None => None,
        };
        // pickle's INST and OBJ make an instance of a class without arguments with
        // cls.__new__(cls) (pickle.py, _instantiate), not cls().
        let call_made = match call_made {
            Some("INST" | "OBJ") if args.is_empty() => Some("NEWOBJ"),
            other => other,
        };
        let (made, how) = match call_made {
            Some("REDUCE" | "INST" | "OBJ") => (
                call(4, &format!("{cls}("), &args, ")"),
                "made by the call the pickle makes",
            ),
            Some("NEWOBJ" | "NEWOBJ_EX") | None if args.is_empty() || call_made.is_some() => {
                let mut all = vec![cls.clone()];
                all.extend(args);
                (
                    call(4, &format!("{cls}.__new__("), &all, ")"),
                    "no recipe: made as pickle makes it",
                )
            }
            _ => {
                return Err(format!(
                    "how {class} at {path} is made is not known (its call is not in the report)"
                ))
            }
        };
        self.comment(
            path,
            class,
            &format!("{how}; the class must be importable"),
            None,
        );
        let var = self.var(path);
        self.body.push(format!("{var} = {made}"));
        self.fill(&var, j, path, depth)?;
        Ok(var)
    }

    /// What pickle does to a made object after making it: its list items, dict items,
    /// then its state (BUILD).
    fn fill(&mut self, var: &str, j: &Json<'a>, path: &str, depth: usize) -> Out<()> {
        let items = self.items(j.get("items"), &format!("{path}.__items__"), depth)?;
        if !items.is_empty() {
            self.body
                .push(call(4, &format!("{var}.extend(["), &items, "])"));
        }
        match j.get("dict_items") {
            // str keys: an object, as the JSON extractor writes a dict.
            Some(Json::Object(pairs, _, clean))
                if j.get("dict_items").and_then(Json::tag).is_none() =>
            {
                if !clean {
                    return Err(lone_surrogate(path));
                }
                for (k, v) in pairs {
                    let key = serde_json::to_string(k).unwrap_or_default();
                    let v = self.expr(v, &format!("{path}[{key}]"), depth)?;
                    self.body.push(format!("{var}[{}] = {v}", py(k)));
                }
            }
            Some(other) => {
                let pairs = other
                    .get("$dict")
                    .or(Some(other))
                    .and_then(Json::items)
                    .unwrap_or(&[]);
                for (i, pair) in pairs.iter().enumerate() {
                    let [k, v] = pair.items().unwrap_or(&[]) else {
                        return Err(format!("{path}: a dict item is not a pair"));
                    };
                    let k = self.key(k, &format!("{path}.__keys__[{i}]"), depth)?;
                    let v = self.expr(v, &format!("{path}.__values__[{i}]"), depth)?;
                    self.body.push(format!("{var}[{k}] = {v}"));
                }
            }
            None => {}
        }
        // pickle writes a reduce's items before its state (save_reduce): BUILD last.
        if let Some(state) = j.get("state") {
            let state = match state {
                Json::Object(..) if state.tag().is_none() => {
                    let entries = self.state_entries(Some(state), path, depth, &[])?;
                    let items: Vec<String> = entries
                        .iter()
                        .map(|(k, e)| format!("{}: {e}", py(k)))
                        .collect();
                    call(4, &format!("_build({var}, {{"), &items, "})")
                }
                other => {
                    let e = self.expr(other, &format!("{path}.__state__"), depth)?;
                    format!("_build({var}, {e})")
                }
            };
            self.body.push(state);
        }
        Ok(())
    }

    /// The finished files.
    pub(crate) fn finish(self, root: String) -> Generated {
        let mut params = String::from("{");
        for (i, (path, text)) in self.params.iter().enumerate() {
            params.push_str(if i == 0 { "\n  " } else { ",\n  " });
            params.push_str(&serde_json::to_string(path).unwrap_or_default());
            params.push_str(": ");
            params.push_str(text);
        }
        params.push_str("\n}\n");
        let python = super::python::module(&super::python::Parts {
            source: &self.facts.source,
            imports: &self.imports,
            torch: self.torch,
            ordered_dict: self.ordered_dict,
            params: !self.params.is_empty(),
            body: &self.body,
            root: &root,
        });
        Generated {
            python,
            params,
            frames: self.frames,
            arrays: self.arrays,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_ascii_non_keyword_names_are_identifiers() {
        for ok in ["DataWrapper", "_x1", "sequence"] {
            assert!(is_identifier(ok), "{ok}");
        }
        for bad in ["", "1a", "a-b", "class", "a b", "os;x", "é"] {
            assert!(!is_identifier(bad), "{bad}");
        }
    }

    #[test]
    fn plain_values_are_those_without_objects_arrays_or_references() {
        let plain =
            super::super::tree::parse(r#"[1,{"$tuple":["a",{"$bytes":"AA=="}]},{"k":null}]"#)
                .unwrap_or_else(|e| panic!("{e}"));
        assert!(is_plain(&plain));
        for not in [
            r#"[{"$ref":"$"}]"#,
            r#"{"a":{"$array":{"file":"a.npy"}}}"#,
            r#"{"$global":"os.system"}"#,
            r#"{"$object":"x.Y"}"#,
        ] {
            let j = super::super::tree::parse(not).unwrap_or_else(|e| panic!("{e}"));
            assert!(!is_plain(&j), "{not}");
        }
    }
}
