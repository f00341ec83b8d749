//! Calls, not names (SPEC §5): which globals a stream *calls* when it loads, and which it
//! only *references*. A call target must be vetted (a table row marked `call`, or a
//! policy entry); anything else called is an `unvetted-call`.
//!
//! What counts as a call, read from the machine's graph (nothing is run):
//!
//! - REDUCE, INST and OBJ call their callable with the file's arguments;
//! - NEWOBJ/NEWOBJ_EX run `cls.__new__(cls, …)` only: an instantiation, not a call (a
//!   following BUILD hands state to `__setstate__`, which the class's own code does);
//! - `copyreg._reconstructor(cls, base, state)` instantiates `cls` and, unless `base` is
//!   `object`, calls `base.__new__(cls, state)` and `base.__init__(obj, state)`
//!   (CPython `Lib/copyreg.py`): `base` is called. `copyreg.__newobj__`/`__newobj_ex__`
//!   only run `cls.__new__`;
//! - BUILD on a global (not on an object built from one) sets attributes of the module
//!   object or class itself: judged as a call of that global;
//! - what a BUILD state *plants* on an instance: the loader looks `__setstate__`, `append`
//!   and `extend` up on the instance, unbound, so a state (every one, not only the last)
//!   that sets them (or `__class__`) to a callable makes a later opcode call a merely
//!   referenced global with file data; a state key built at load hides its name (a
//!   Python 2 `str` key is text to Python 3's loader, so it names an attribute too). Vetted
//!   callables look methods up on the objects they are given too (`dict(obj)` calls
//!   `obj.keys()`, numpy `obj.__array__()`, pyarrow `obj.__arrow_c_schema__()`, torch
//!   `data.to(…)`): a state that sets a dunder or one of those method names to an unvetted
//!   global or method is judged as a call of it, and so is any attribute set to an
//!   unvetted global on an object that is then given to a vetted call (any method name
//!   can be the one the callee uses: scikit-learn's `check_array` calls `X.asformat`). torch's `_rebuild_parameter_with_state`
//!   and `_rebuild_from_type_v2`, `SimpleNamespace(mapping)` and `partial(SimpleNamespace,
//!   **kw)` set attributes from their arguments, judged as such a state. scipy's
//!   `rv_generic.__setstate__` `exec()`s `_parse_arg_template` from the state: only the
//!   template scipy writes passes;
//! - classes built at load: `builtins.type` with three arguments and sympy's
//!   `_rebuild_undef` with keywords that are not plain assumptions give a class any
//!   method; NEWOBJ of a class that is not a global (nor built by one) is unvetted;
//!   matplotlib's `_picklable_class_constructor(mixin, fmt, attr_name, base)` builds a
//!   subclass of `mixin` and `base`: accepted only with the mixins and attribute names
//!   matplotlib writes, and its object is then an instance of `base`;
//! - python-dateutil 2.x writes its `tzfile` zones as `tzfile(None, '<name>')`, which
//!   stores the name and opens nothing: an instantiation. Any other call of the class
//!   (a string first argument is a file it opens and reads) is judged as a call.
//!
//! Indirect callers are judged by what they are given, not by name:
//! `builtins.getattr(<global or object>, '<plain name>')` yields a method, which is judged
//! as the qualified global `module.Class.name` where the stream calls it (and is only a
//! reference where it does not); `functools.partial(f, …)` calls `f` (so `f` must be
//! vetted); `operator.itemgetter` of plain keys and `operator.attrgetter` of plain names
//! reach nothing; `torch.storage._load_from_bytes(<bytes>)` loads a nested torch file,
//! judged by its bytes ([`nested_torch_bytes`], the hook for the nested analysis). Any
//! other use of these globals keeps their code-exec row.
//!
//! Vetted callables that call what they are given: `functools.partial`'s state may replace
//! its function (the replacement is judged); `collections.defaultdict(factory)` calls the
//! factory for any missing key a library's `__setstate__` reads; numpy's `_mareconstruct`
//! runs its subtype's `__new__`; TensorFlow's `ResourceVariable` calls a callable initial
//! value; Cython's `__pyx_unpickle_*` updates `__dict__` from the state's trailing dict.

#![warn(clippy::arithmetic_side_effects)]

use std::borrow::Cow;

use rustc_hash::FxHashMap as HashMap;

use crate::classify::{normalise, Category, KnownGlobals};
use crate::machine::{BytesKind, Call, CallKind, Graph, MutationKind, Node, NodeId};
use crate::report::{Detected, ImportReport};
use crate::rules::Rule;

/// At most this many characters of a call's rendered arguments.
const MAX_RENDERED: usize = 160;

/// The legacy torch format starts with a protocol-2 pickle of its magic number
/// (`torch/serialization.py`, `MAGIC_NUMBER` as LONG1).
const TORCH_LEGACY_PREFIX: &[u8] = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19";

/// How a stream uses one global.
#[derive(Clone, Debug, Default)]
pub(crate) struct GlobalCalls {
    /// The first call of it: offset of the opcode, and how to render it with its literal
    /// arguments (`posix.system('echo hi')`), which is done only where it is shown.
    pub(crate) first_call: Option<(usize, Rendering)>,
    /// For the indirect callers (getattr, partial, operator getters, `_load_from_bytes`):
    /// `Some(category)` when every use was judged harmless, and what it then counts as.
    pub(crate) indirect_ok: Option<Category>,
    /// An indirect caller with at least one use that was not judged harmless.
    pub(crate) indirect_bad: bool,
}

/// How a first call is shown: the global with its argument tuple, or a fixed text for the
/// indirect routes (`functools.partial(f, …)`).
#[derive(Clone, Debug)]
pub(crate) enum Rendering {
    Args(NodeId),
    Text(String),
}

/// A call whose target is not a global (a method fetched by getattr, an object built by
/// another call): its offset and what it calls.
#[derive(Clone, Debug)]
pub(crate) struct OtherCall {
    pub(crate) offset: usize,
    /// `unvetted-call`, or `code-exec` for a method the table calls code-exec.
    pub(crate) rule: Rule,
    pub(crate) message: String,
}

/// The calls of one stream.
#[derive(Clone, Debug, Default)]
pub(crate) struct Calls {
    /// By global index.
    pub(crate) globals: Vec<GlobalCalls>,
    /// Unvetted calls of things that are not globals.
    pub(crate) others: Vec<OtherCall>,
}

/// The indirect callers, by normalised `(module, name)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Special {
    Getattr,
    Partial,
    ItemGetter,
    AttrGetter,
    LoadFromBytes,
    Reconstructor,
    NewObj,
    /// Calls its class or function arguments (pandas `_new_Index`, numpy's random ctors).
    ClassArgument,
    /// dateutil's `_unpickle(cls, key, filename, data)`: `cls.__new__(cls)`, then data.
    TzfileUnpickle,
    CodecsEncode,
    /// `builtins.type`: pickle writes `type(None)` and friends (one argument); three
    /// arguments build a class at load.
    Type,
    /// sympy's `_rebuild_undef(name, kwargs)`: `Function(name, **kwargs)`, whose
    /// metaclass puts every keyword that is not an assumption into the new class's dict.
    RebuildUndef,
    /// torch's `_rebuild_from_type_v2(func, new_type, args, state)`: `func(*args)`, then
    /// the result viewed as `new_type` and given `state`.
    RebuildFromType,
    /// matplotlib's `_picklable_class_constructor(mixin, fmt, attr_name, base)`
    /// (`matplotlib/cbook`, 3.6 and `mpl_toolkits`): makes `class _(mixin, base)` and
    /// returns `cls.__new__(cls)`, an instance of a subclass of `base`.
    ClassFactory,
    /// python-dateutil 2.7-2.9's `tzfile(fileobj, filename)`, which its `__reduce_ex__`
    /// writes as `tzfile(None, filename)` plus the zone's state: with `fileobj` None only
    /// the name is stored; a string `fileobj` is opened and read.
    TzfileClass,
}

fn special(module: &str, name: &str) -> Option<Special> {
    Some(match (module, name) {
        ("builtins", "getattr") => Special::Getattr,
        ("functools" | "_functools", "partial") => Special::Partial,
        ("operator" | "_operator", "itemgetter") => Special::ItemGetter,
        ("operator" | "_operator", "attrgetter") => Special::AttrGetter,
        ("torch.storage", "_load_from_bytes") => Special::LoadFromBytes,
        ("copyreg", "_reconstructor") => Special::Reconstructor,
        ("copyreg", "__newobj__" | "__newobj_ex__") => Special::NewObj,
        ("_codecs", "encode") => Special::CodecsEncode,
        ("builtins", "type") => Special::Type,
        ("sympy.core.function", "_rebuild_undef") => Special::RebuildUndef,
        ("torch._tensor", "_rebuild_from_type_v2") => Special::RebuildFromType,
        ("matplotlib.cbook", "_picklable_class_constructor") => Special::ClassFactory,
        ("dateutil.tz.tz", "tzfile") => Special::TzfileClass,
        ("dateutil.tz._tzfile", "_unpickle") => Special::TzfileUnpickle,
        (
            "numpy.random._pickle",
            "__randomstate_ctor" | "__generator_ctor" | "__bit_generator_ctor",
        )
        | (
            "pandas.core.indexes.base"
            | "pandas.core.indexes.datetimes"
            | "pandas.core.indexes.timedeltas"
            | "pandas.core.indexes.interval"
            | "pandas.core.indexes.period",
            "_new_Index"
            | "_new_DatetimeIndex"
            | "_new_TimedeltaIndex"
            | "_new_IntervalIndex"
            | "_new_PeriodIndex",
        )
        // `ResourceVariable(initial_value, …)` calls `initial_value` when it is callable
        // (`_init_from_args`: `if callable(initial_value): initial_value = initial_value()`).
        | ("tensorflow.python.ops.resource_variable_ops", "ResourceVariable") => {
            Special::ClassArgument
        }
        _ => return None,
    })
}

/// What a call node produced, where a later call of it needs to know.
#[derive(Clone, Debug)]
enum Made {
    /// A method or attribute reached by an accepted getattr: the qualified name.
    Method { module: String, qualname: String },
    /// A `functools.partial` (calling it calls the wrapped function, already judged).
    Partial,
    /// A `functools.partial` of global `f` (the index).
    PartialOf(u32),
    /// `getattr(cls, '__new__')`: what CPython's pickle writes below protocol 4 for an
    /// object with keyword `__getnewargs_ex__` (`partial(cls.__new__, cls, *args,
    /// **kwargs)`, `Lib/pickle.py` `save_reduce`): an instantiation, as NEWOBJ_EX.
    New,
    /// `partial(cls.__new__, cls, …)`: calling it makes an instance of global `cls`.
    PartialNew(u32),
}

struct Scan<'k, 'g, 'd> {
    known: &'k KnownGlobals,
    graph: &'g Graph<'d>,
    names: Vec<(Cow<'g, str>, Cow<'g, str>)>,
    /// The indirect callers among the globals, by global index.
    specials: Vec<Option<Special>>,
    out: Calls,
    made: HashMap<NodeId, Made>,
    /// Objects built from a class global (NEWOBJ, REDUCE, the copyreg routes), by node.
    instances: HashMap<NodeId, u32>,
    /// Objects whose state sets an attribute to an unvetted global, with what it sets
    /// (`keys = mylib.f`): a vetted call given one may call that attribute.
    armed: HashMap<NodeId, String>,
}

/// Reads every call of the stream's graph.
pub(crate) fn scan(known: &KnownGlobals, graph: &Graph<'_>) -> Calls {
    let names: Vec<(Cow<'_, str>, Cow<'_, str>)> = graph
        .globals
        .iter()
        .map(|g| normalise(&g.module, &g.name))
        .collect();
    let specials = names.iter().map(|(m, n)| special(m, n)).collect();
    let mut s = Scan {
        known,
        graph,
        names,
        specials,
        out: Calls {
            globals: vec![GlobalCalls::default(); graph.globals.len()],
            others: Vec::new(),
        },
        made: HashMap::default(),
        instances: HashMap::default(),
        armed: HashMap::default(),
    };
    s.find_armed();
    for (id, call) in graph.calls() {
        s.call(id, call);
    }
    for m in &graph.mutations {
        match (graph.node(m.target), &m.kind) {
            (Node::Global { index, .. }, MutationKind::State(_)) => s.called(
                index,
                m.offset,
                Rendering::Text("BUILD on the global itself".to_string()),
            ),
            // A state an earlier BUILD handed to `__setstate__` (a later one replaced it).
            (
                Node::Call(_) | Node::PersistentId { .. } | Node::Extension { .. },
                MutationKind::State(state),
            ) => s.exec_state(*state, m.offset),
            _ => {}
        }
    }
    for (_, call) in graph.calls() {
        if let Some(state) = call.state {
            s.exec_state(state, call.offset);
        }
    }
    s.out
}

/// The attribute scipy's `rv_generic.__setstate__` executes: it updates the instance's
/// `__dict__` with the state, then `_attach_argparser_methods` runs
/// `exec(self._parse_arg_template, ns)` (`scipy/stats/_distn_infrastructure.py`). Every
/// pickled scipy distribution carries the text, so a file can put any Python there.
const SCIPY_EXEC_KEY: &str = "_parse_arg_template";

/// Whether `text` is what scipy's `_construct_argparser` writes: its module-level
/// `parse_arg_template` filled with plain identifiers as shape names and one of the two
/// loc/scale signatures (continuous, discrete). Executing that text only defines three
/// argument-parsing functions. Rebuilt and compared whole, so nothing can be appended.
fn scipy_argparser_template(text: &str) -> bool {
    const LOCSCALE: [(&str, &str); 2] = [("loc=0, scale=1", "loc, scale"), ("loc=0", "loc, 1")];
    let identifier = |w: &str| {
        let mut chars = w.chars();
        chars
            .next()
            .is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
            && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
    };
    // scipy >= 1.9 passes `self`; older releases bound the functions without it.
    for this in ["self, ", ""] {
        let head = text
            .strip_prefix("\ndef _parse_args(")
            .and_then(|r| r.strip_prefix(this))
            .and_then(|r| r.split_once("):\n"))
            .map(|(h, _)| h);
        let Some(head) = head else { continue };
        for (lin, lout) in LOCSCALE {
            let Some(shapes) = head.strip_suffix(lin).and_then(|h| h.strip_suffix(' ')) else {
                continue;
            };
            let plain = shapes.is_empty()
                || shapes
                    .strip_suffix(", ")
                    .is_some_and(|l| l.split(", ").all(identifier));
            let filled = format!(
                "\ndef _parse_args({this}{shapes} {lin}):\n    return ({shapes}), {lout}\n\n\
                 def _parse_args_rvs({this}{shapes} {lin}, size=None):\n    \
                 return self._argcheck_rvs({shapes} {lout}, size=size)\n\n\
                 def _parse_args_stats({this}{shapes} {lin}, moments='mv'):\n    \
                 return ({shapes}), {lout}, moments\n"
            );
            if plain && text == filled {
                return true;
            }
        }
    }
    false
}

impl Scan<'_, '_, '_> {
    fn global_index(&self, id: NodeId) -> Option<u32> {
        match self.graph.node(id) {
            Node::Global { index, .. } => Some(index),
            _ => None,
        }
    }

    fn name_of(&self, index: u32) -> Option<(&str, &str)> {
        self.names
            .get(index as usize)
            .map(|(m, n)| (m.as_ref(), n.as_ref()))
    }

    fn entry(&mut self, index: u32) -> Option<&mut GlobalCalls> {
        self.out.globals.get_mut(index as usize)
    }

    /// Whether global `index` is `copyreg.__newobj_ex__` (arguments as a tuple and a dict).
    fn ex(&self, index: u32) -> bool {
        self.name_of(index)
            .is_some_and(|(_, n)| n == "__newobj_ex__")
    }

    /// A state BUILD hands to an object's `__setstate__` (or puts in its `__dict__`):
    ///
    /// - scipy distributions execute the text under [`SCIPY_EXEC_KEY`], so anything but
    ///   the template scipy writes there is code-exec (whatever the class: a subclass
    ///   defined elsewhere inherits the method);
    /// - the loader looks `__setstate__` (BUILD), `append` and `extend` (APPEND, APPENDS)
    ///   up on the *instance*, and an instance attribute is not bound: a state that plants
    ///   a callable under one of those names makes a later opcode call it with the file's
    ///   data (`FiniteSet("__import__('os')…")`), though the stream only references it.
    fn exec_state(&mut self, state: NodeId, offset: usize) {
        let dicts: &[NodeId] = match self.graph.node(state) {
            Node::Dict(_) | Node::Call(_) => std::slice::from_ref(&state),
            // `functools.partial`'s `(func, args, kwds, dict)`: `dict` is its `__dict__`.
            Node::Tuple(items) if items.len() == 4 => items.get(3..).unwrap_or(&[]),
            // `(dict, slot_state)`: the slot state is applied with setattr.
            Node::Tuple(items) => items.get(..2).unwrap_or(items),
            _ => &[],
        };
        for &d in dicts {
            self.state_dict(d, offset, 2);
        }
    }

    fn state_dict(&mut self, dict: NodeId, offset: usize, depth: u32) {
        let graph = self.graph;
        let owned;
        let pairs: &[(NodeId, NodeId)] = match graph.node(dict) {
            Node::Dict(pairs) => pairs,
            _ => {
                owned = self.mapping_pairs(dict);
                &owned
            }
        };
        for &(k, v) in pairs {
            if matches!(
                self.graph.node(k),
                Node::Call(_)
                    | Node::Global { .. }
                    | Node::PersistentId { .. }
                    | Node::Extension { .. }
            ) {
                // `str('__setstate__')`: a name computed at load hides what it sets.
                self.out.others.push(OtherCall {
                    offset,
                    rule: Rule::CodeExec,
                    message: "a BUILD state names an attribute by an object built at load \
                              (str('__setstate__') hides what it sets): it may plant a method \
                              the loader calls, or text a library executes; no pickler writes \
                              this"
                        .to_string(),
                });
                continue;
            }
            match state_key(self.graph, k) {
                Some(SCIPY_EXEC_KEY) => {
                    if self.graph.str(v).is_some_and(scipy_argparser_template) {
                        continue;
                    }
                    let mut text = String::new();
                    literal(self.graph, v, 1, &mut text);
                    self.out.others.push(OtherCall {
                        offset,
                        rule: Rule::CodeExec,
                        message: format!(
                            "sets {SCIPY_EXEC_KEY} to {text}, which scipy's \
                             rv_generic.__setstate__ executes with exec() on load; it is not \
                             the argument-parser template scipy writes"
                        ),
                    });
                }
                Some(key @ ("__setstate__" | "append" | "extend" | "__class__"))
                    if maybe_callable(self.graph, v) =>
                {
                    let what = match self.graph.node(v) {
                        Node::Global { index, .. } => self
                            .name_of(index)
                            .map_or_else(|| "a global".to_string(), |(m, n)| format!("{m}.{n}")),
                        _ => "an object built at load".to_string(),
                    };
                    self.out.others.push(OtherCall {
                        offset,
                        rule: Rule::CodeExec,
                        message: format!(
                            "a BUILD state sets the instance attribute {key} to {what}: the \
                             loader looks {key} up on the instance (unbound), so a later BUILD, \
                             APPEND or APPENDS calls {what} with the file's data; no pickler \
                             writes this"
                        ),
                    });
                }
                // `setattr(obj, '__dict__', {...})` from a slot state replaces the dict.
                Some("__dict__") if depth > 0 => {
                    self.state_dict(v, offset, depth.saturating_sub(1))
                }
                // Only a global or a getattr'd method can be planted (`planted_method`):
                // most state values are data, and the name check is the dearer one.
                Some(key)
                    if key != "__dict__"
                        && (self.global_index(v).is_some() || self.made.contains_key(&v))
                        && looked_up_on_instance(key) =>
                {
                    self.planted_method(key, v, offset);
                }
                _ => {}
            }
        }
    }

    /// Every object whose state (BUILD, an earlier one included) sets an attribute to a
    /// global that is not a vetted call target: see [`Scan::armed_arguments`].
    fn find_armed(&mut self) {
        let graph = self.graph;
        let states = graph
            .mutations
            .iter()
            .filter_map(|m| match &m.kind {
                MutationKind::State(state) => Some((m.target, *state)),
                _ => Option::None,
            })
            .chain(
                graph
                    .calls()
                    .filter_map(|(id, call)| call.state.map(|state| (id, state))),
            );
        let mut armed: HashMap<NodeId, String> = HashMap::default();
        // Only the object itself: an attribute holding an armed object is ordinary in real
        // files (a matplotlib artist's callback registry keeps `_exception_printer`).
        for (target, state) in states {
            if let Some(found) = self.first_unvetted_attribute(state) {
                armed.insert(target, found);
            }
        }
        self.armed = armed;
    }

    /// `key = module.name` for the first attribute a state sets to a callable that is not
    /// a vetted call target. Read in place: every BUILD state of the stream passes here.
    fn first_unvetted_attribute(&self, state: NodeId) -> Option<String> {
        let graph = self.graph;
        let dicts: &[NodeId] = match graph.node(state) {
            Node::Tuple(items) if items.len() == 4 => items.get(3..).unwrap_or(&[]),
            Node::Tuple(items) => items.get(..2).unwrap_or(items),
            _ => std::slice::from_ref(&state),
        };
        for &d in dicts {
            let owned;
            let pairs: &[(NodeId, NodeId)] = match graph.node(d) {
                Node::Dict(pairs) => pairs,
                _ => {
                    owned = self.mapping_pairs(d);
                    &owned
                }
            };
            for &(k, v) in pairs {
                let Some(key) = state_key(graph, k) else {
                    continue;
                };
                let Some((m, n)) = self.callable_name(v) else {
                    continue;
                };
                if !self.vetted_call(&m, &n) {
                    return Some(format!("{key} = {m}.{n}"));
                }
            }
        }
        None
    }

    /// The name of a callable value: a global, or `getattr(<global>, '<name>')` (a method
    /// or nested class), as `(module, qualified name)`.
    fn callable_name(&self, v: NodeId) -> Option<(String, String)> {
        if let Some(g) = self.global_index(v) {
            let (m, n) = self.name_of(g)?;
            return Some((m.to_string(), n.to_string()));
        }
        let c = self.graph.call(v)?;
        let g = self.global_index(c.callable)?;
        if self.name_of(g)? != ("builtins", "getattr") {
            return None;
        }
        let [target, name] = self.graph.tuple(c.args)? else {
            return None;
        };
        let (m, n) = self.name_of(self.global_index(*target)?)?;
        Some((m.to_string(), format!("{n}.{}", self.graph.str(*name)?)))
    }

    /// A vetted call given an object (or a container holding one, to depth 3) whose state
    /// sets an attribute to an unvetted global: library code calls methods of the objects
    /// it is given (`dict(obj)` calls `obj.keys()`, numpy `obj.__array__()`,
    /// scikit-learn `obj.asformat(…)`, pytz `zone.upper()`), and an instance attribute
    /// shadows the class's method, so the call may run that global. No pickler gives a
    /// library function such an object; judged as an unvetted call of the attribute.
    fn armed_arguments(&mut self, index: u32, argv: &[NodeId], offset: usize) {
        if self.armed.is_empty() {
            return;
        }
        let mut stack: Vec<(NodeId, u32)> = argv.iter().map(|&a| (a, 3)).collect();
        while let Some((id, depth)) = stack.pop() {
            if let Some(what) = self.armed.get(&id) {
                let (m, n) = self.name_of(index).unwrap_or(("?", "?"));
                self.out.others.push(OtherCall {
                    offset,
                    rule: Rule::UnvettedCall,
                    message: format!(
                        "gives {m}.{n} an object whose state sets {what}: library code calls \
                         methods of the objects it is given, and an instance attribute \
                         shadows the class's method, so the call may run it; pklinspect has \
                         not vetted that, and no pickler writes this"
                    ),
                });
                return;
            }
            let Some(d) = depth.checked_sub(1) else {
                continue;
            };
            match self.graph.node(id) {
                Node::Tuple(items) | Node::List(items) => {
                    stack.extend(items.iter().map(|&c| (c, d)));
                }
                Node::Dict(pairs) => {
                    stack.extend(pairs.iter().flat_map(|&(k, v)| [(k, d), (v, d)]))
                }
                _ => {}
            }
        }
    }

    /// A state that sets `key`, a method name vetted callables look up on the object they
    /// are given and call (`dict(obj)` calls `obj.keys()`, numpy `obj.__array__()`,
    /// pyarrow `obj.__arrow_c_schema__()`, torch `data.to(…)`, pyarrow
    /// `type_for_alias(name)` `name.lower()`): an instance attribute shadows the class's
    /// method, so a vetted call given the object calls `v`. Judged as a call of `v`.
    fn planted_method(&mut self, key: &str, v: NodeId, offset: usize) {
        let what = match self.global_index(v) {
            Some(g) => {
                let (m, n) = self.name_of(g).unwrap_or(("?", "?"));
                if self.vetted_call(m, n) {
                    return;
                }
                format!("{m}.{n}")
            }
            // A method fetched by getattr; any other object built at load is data or an
            // instance whose `__call__` is its own class's code (a partial was judged where
            // it was made).
            None => match self.made.get(&v) {
                Some(Made::Method { module, qualname }) => {
                    if self.vetted_call(module, qualname) {
                        return;
                    }
                    format!("{module}.{qualname}")
                }
                _ => return,
            },
        };
        self.out.others.push(OtherCall {
            offset,
            rule: Rule::UnvettedCall,
            message: format!(
                "a BUILD state sets the instance attribute {key} to {what}: library \
                 functions look {key} up on the object they are given and call it (dict() \
                 calls keys(), numpy __array__(), pyarrow __arrow_c_schema__()), so a vetted \
                 call given this object calls {what}, which pklinspect has not vetted; no \
                 pickler writes this"
            ),
        });
    }

    /// The key and value pairs of a mapping the file writes: a dict, or a mapping built by
    /// a call (`OrderedDict` with SETITEMS, `dict([(k, v)])`, `dict({k: v})`), which
    /// `__dict__.update` takes as well.
    fn mapping_pairs(&self, id: NodeId) -> Vec<(NodeId, NodeId)> {
        let graph = self.graph;
        match graph.node(id) {
            Node::Dict(pairs) => pairs.to_vec(),
            Node::Call(c) => {
                let mut pairs = c.dict_items.clone();
                let first = graph.tuple(c.args).and_then(|a| a.first().copied());
                match first.map(|f| graph.node(f)) {
                    Some(Node::Dict(p)) => pairs.extend(p.iter().copied()),
                    Some(Node::List(items) | Node::Tuple(items)) => {
                        pairs.extend(items.iter().filter_map(|&i| match graph.tuple(i) {
                            Some(&[k, v]) => Some((k, v)),
                            _ => Option::None,
                        }));
                    }
                    _ => {}
                }
                pairs
            }
            _ => Vec::new(),
        }
    }

    /// Records a call of global `index` (the first one is kept, rendered).
    fn called(&mut self, index: u32, offset: usize, rendered: Rendering) {
        if let Some(e) = self.entry(index) {
            if e.first_call.is_none() {
                e.first_call = Some((offset, rendered));
            }
        }
    }

    /// Records one use of an indirect caller, harmless (`Some(category)`) or not.
    fn indirect(&mut self, index: u32, ok: Option<Category>) {
        if let Some(e) = self.entry(index) {
            match ok {
                Some(c) if !e.indirect_bad => {
                    e.indirect_ok = Some(e.indirect_ok.map_or(c, |old| old.max(c)));
                }
                _ => {
                    e.indirect_bad = true;
                    e.indirect_ok = None;
                }
            }
        }
    }

    fn call(&mut self, id: NodeId, call: &Call) {
        let graph = self.graph;
        let (callable, args, offset) = (call.callable, call.args, call.offset);
        let argv: &[NodeId] = graph.tuple(args).unwrap_or(&[]);
        if matches!(call.kind, CallKind::NewObj | CallKind::NewObjEx) {
            self.new_obj(id, callable, argv, call.kwargs, offset);
            return;
        }
        let Some(index) = self.global_index(callable) else {
            self.call_of_object(id, callable, args, offset);
            return;
        };
        let special = self.specials.get(index as usize).copied().flatten();
        if special == Some(Special::TzfileClass) && self.tzfile_by_name(argv) {
            // Only stores the name: an instance, as NEWOBJ of the class makes.
            self.new_obj(id, callable, &[], Option::None, offset);
            return;
        }
        self.called(index, offset, Rendering::Args(args));
        // getattr and the operator getters call nothing; a partial is judged where it
        // is called (`partial_arguments`, `call_of_object`).
        if !matches!(
            special,
            Some(Special::Getattr | Special::Partial | Special::ItemGetter | Special::AttrGetter)
        ) {
            self.armed_arguments(index, argv, offset);
        }
        let Some(special) = special else {
            self.instances.insert(id, index);
            self.builtin_with_encoding(index, argv, args, offset);
            self.attributes_from_arguments(index, argv, offset);
            return;
        };
        match special {
            Special::Getattr => self.getattr(id, index, argv),
            Special::Partial => self.partial(id, index, argv, call.state, offset),
            Special::ItemGetter | Special::AttrGetter | Special::LoadFromBytes => {
                let ok = self.getter_or_bytes(special, argv);
                self.indirect(index, ok);
            }
            Special::Reconstructor => self.reconstructor(argv, offset),
            Special::NewObj => match (self.ex(index), argv.split_first()) {
                (true, Some((&cls, rest))) => {
                    let args = rest
                        .first()
                        .and_then(|&a| self.graph.tuple(a))
                        .unwrap_or(&[]);
                    self.new_obj(id, cls, args, rest.get(1).copied(), offset);
                }
                (_, Some((&cls, rest))) => self.new_obj(id, cls, rest, Option::None, offset),
                _ => {}
            },
            Special::ClassArgument => self.class_arguments(argv, index, offset),
            Special::TzfileUnpickle => self.tzfile_unpickle(id, index, argv, offset),
            Special::CodecsEncode => self.codec_call("_codecs.encode", argv, args, offset),
            Special::RebuildUndef => {
                // The class it builds is sympy's, as for a call with no special rule.
                self.instances.insert(id, index);
                self.rebuild_undef(argv, args, offset);
            }
            Special::Type => {
                self.instances.insert(id, index);
                self.type_call(argv, args, offset);
            }
            Special::RebuildFromType => self.rebuild_from_type(id, argv, offset),
            Special::ClassFactory => self.class_factory(id, argv, offset),
            // Any other arguments: a call of the class, which no row vets.
            Special::TzfileClass => {
                self.instances.insert(id, index);
            }
        }
    }

    /// Whether an `operator` getter reaches only plain keys or names, or
    /// `_load_from_bytes` loads a torch file: what it then counts as.
    fn getter_or_bytes(&self, special: Special, argv: &[NodeId]) -> Option<Category> {
        match special {
            Special::ItemGetter => argv
                .iter()
                .all(|&a| is_plain_value(self.graph, a, 2))
                .then_some(Category::Plain),
            Special::AttrGetter => argv
                .iter()
                .all(|&a| {
                    self.graph
                        .str(a)
                        .is_some_and(|s| s.split('.').all(plain_attribute))
                })
                .then_some(Category::Plain),
            _ => match argv {
                [b] => nested_torch_bytes(self.graph, *b),
                _ => None,
            },
        }
    }

    /// Vetted calls that set attributes of the object they make from their arguments, as a
    /// BUILD state does: torch's `_rebuild_parameter_with_state(data, requires_grad,
    /// hooks, state)` runs `_set_obj_state(param, state)` (`setattr` for each item,
    /// `torch/_utils.py`), and `types.SimpleNamespace(mapping)` (Python >= 3.13) copies
    /// the mapping into the instance's `__dict__`.
    fn attributes_from_arguments(&mut self, index: u32, argv: &[NodeId], offset: usize) {
        let state = match self.name_of(index) {
            Some(("torch._utils", "_rebuild_parameter_with_state")) => argv.get(3),
            Some(("types", "SimpleNamespace")) => argv.first(),
            // Cython's `__pyx_unpickle_<Class>(type, checksum, state)` ends with
            // `result.__dict__.update(state[-1])` when the state has a trailing dict.
            Some((_, n)) if n.starts_with("__pyx_unpickle_") => argv
                .get(2)
                .and_then(|&s| self.graph.tuple(s))
                .and_then(|items| items.last()),
            // `defaultdict(factory)` calls `factory()` for every missing key a library's
            // `__setstate__` reads from it (`state["axes"]`): judged as called.
            Some(("collections", "defaultdict")) => {
                self.class_arguments(argv.get(..1).unwrap_or(&[]), index, offset);
                Option::None
            }
            Some(("numpy.ma.core", "_mareconstruct")) => {
                self.mareconstruct(argv, offset);
                Option::None
            }
            _ => Option::None,
        };
        if let Some(&state) = state {
            self.exec_state(state, offset);
        }
    }

    /// numpy's `_mareconstruct(subtype, baseclass, baseshape, basetype)` returns
    /// `subtype.__new__(subtype, data, mask=…, dtype=basetype)` (`numpy/ma/core.py`): the
    /// class's own `__new__` run with file data, a call unless it is numpy's MaskedArray.
    fn mareconstruct(&mut self, argv: &[NodeId], offset: usize) {
        let Some(&subtype) = argv.first() else { return };
        match self.global_index(subtype) {
            Some(g) => {
                let (m, n) = self.name_of(g).unwrap_or(("?", "?"));
                if matches!((m, n), ("numpy.ma" | "numpy.ma.core", "MaskedArray")) {
                    return;
                }
                let rendered = format!(
                    "{m}.{n}.__new__({m}.{n}, data, mask=…, dtype=…) (through numpy.ma.core._mareconstruct)"
                );
                self.called(g, offset, Rendering::Text(rendered));
            }
            None => self.out.others.push(OtherCall {
                offset,
                rule: Rule::UnvettedCall,
                message: "numpy.ma.core._mareconstruct with a subtype that is not a global: \
                          runs __new__ of whatever class the stream built"
                    .to_string(),
            }),
        }
    }

    /// torch's `_rebuild_from_type_v2(func, new_type, args, state)` runs `func(*args)`
    /// (`torch/_tensor.py`): judged as that call, whatever `func` is. The result is then
    /// viewed as `new_type` (`as_subclass`, no `__init__`) and given `state` through
    /// `new_type.__setstate__`: an instance made without `__init__`, as NEWOBJ then BUILD.
    fn rebuild_from_type(&mut self, id: NodeId, argv: &[NodeId], offset: usize) {
        let [func, new_type, rest @ ..] = argv else {
            return;
        };
        match (self.global_index(*func), rest.first()) {
            (Some(g), Some(&fargs)) => self.called(g, offset, Rendering::Args(fargs)),
            (Some(g), None) => {
                let (m, n) = self.name_of(g).unwrap_or(("?", "?"));
                let rendered = format!("{m}.{n}(…) (through torch._tensor._rebuild_from_type_v2)");
                self.called(g, offset, Rendering::Text(rendered));
            }
            (None, fargs) => {
                let fargs = fargs.copied().unwrap_or(*func);
                self.call_of_object(id, *func, fargs, offset);
            }
        }
        self.new_obj(id, *new_type, &[], Option::None, offset);
        // `new_type.__setstate__(state)`, or for Tensor's own `_set_obj_state`: setattr.
        if let Some(&state) = rest.get(1) {
            self.exec_state(state, offset);
        }
    }

    /// A method fetched by getattr, given to a caller that calls its arguments (the
    /// numpy random constructors call their `bit_generator_ctor`): a call of that method.
    fn method_argument(&mut self, arg: NodeId, caller: u32, offset: usize) {
        let Some(Made::Method { module, qualname }) = self.made.get(&arg).cloned() else {
            return;
        };
        if self.vetted_call(&module, &qualname) {
            return;
        }
        let (cm, cn) = self.name_of(caller).unwrap_or(("?", "?"));
        self.out.others.push(OtherCall {
            offset,
            rule: Rule::UnvettedCall,
            message: format!(
                "calls {module}.{qualname}(…) (through {cm}.{cn}), a method pklinspect has \
                 not vetted; if you trust it, allow `{module}.{qualname}` in pklinspect.toml"
            ),
        });
    }

    /// `builtins.type`: pickle writes `type(None)` and friends (one argument); three
    /// arguments build a class at load.
    fn type_call(&mut self, argv: &[NodeId], args: NodeId, offset: usize) {
        if argv.len() != 1 {
            self.out.others.push(OtherCall {
                offset,
                rule: Rule::CodeExec,
                message: format!(
                    "calls {}: builds a class at load whose methods are whatever the \
                     file puts in its dict (a referenced library class or function \
                     becomes __setstate__, append or a dunder the loader calls with \
                     file data), and runs its bases' metaclass and __init_subclass__; \
                     pickle only writes type() with one argument",
                    render_call(self.graph, "builtins.type", args)
                ),
            });
        }
    }

    /// sympy's `_rebuild_undef(name, kwargs)` runs `UndefinedFunction(name, **kwargs)`
    /// (`sympy/core/function.py`): keywords that are not assumptions become attributes of
    /// the class it builds (`__setstate__` included), and `bases`/`__dict__` are its
    /// parameters. sympy writes the function's assumptions: plain names with plain values.
    /// matplotlib's `_picklable_class_constructor(mixin, fmt, attr_name, base)` builds
    /// `class _(mixin, base)`, names it `fmt.format(base.__name__)`, sets `attr_name` on it
    /// to `base` and instantiates it without `__init__` (matplotlib/cbook/__init__.py,
    /// `_make_class_factory`). Any `attr_name` could plant `base` as a method the loader or
    /// the class's own code calls (`__setstate__`, `append`), and the mixin's methods come
    /// first: only the mixins and names matplotlib writes pass. The object is then an
    /// instance of `base`.
    fn class_factory(&mut self, id: NodeId, argv: &[NodeId], offset: usize) {
        const MIXINS: &[(&str, &str)] = &[
            ("matplotlib.axes._subplots", "SubplotBase"),
            ("mpl_toolkits.axes_grid1.parasite_axes", "ParasiteAxesBase"),
            ("mpl_toolkits.axes_grid1.parasite_axes", "HostAxesBase"),
            ("mpl_toolkits.axes_grid1.axes_grid", "CbarAxesBase"),
            ("mpl_toolkits.axisartist.floating_axes", "FloatingAxesBase"),
        ];
        let base = match argv {
            [mixin, fmt, attr, base] => {
                let mixin_ok = self
                    .global_index(*mixin)
                    .and_then(|g| self.name_of(g))
                    .is_some_and(|name| MIXINS.contains(&name));
                let fmt_ok = self.graph.str(*fmt).is_some();
                let attr_ok = matches!(self.graph.node(*attr), Node::None)
                    || matches!(
                        self.graph.str(*attr),
                        Some("_axes_class" | "_base_axes_class")
                    );
                let base = self.global_index(*base).filter(|&g| {
                    self.name_of(g).is_some_and(|(m, n)| {
                        self.known.classify(m, n).category < Category::CodeExec
                    })
                });
                base.filter(|_| mixin_ok && fmt_ok && attr_ok)
            }
            _ => None,
        };
        match base {
            Some(base) => {
                self.instances.insert(id, base);
            }
            None => self.out.others.push(OtherCall {
                offset,
                rule: Rule::UnvettedCall,
                message: "calls matplotlib.cbook._picklable_class_constructor with a mixin, \
                          attribute name or base class matplotlib does not write: it can set \
                          a method of the class it builds, which pklinspect has not vetted"
                    .to_string(),
            }),
        }
    }

    /// dateutil's `_unpickle(cls, key, filename, data)` runs `cls.__new__(cls)` and loads
    /// the pickled transitions (the file name is only stored, never opened): for
    /// dateutil's own tzfile class that is an instance made without `__init__`; any other
    /// class is judged as a call of it.
    fn tzfile_unpickle(&mut self, id: NodeId, index: u32, argv: &[NodeId], offset: usize) {
        let tzfile = argv.first().copied().filter(|&c| {
            self.global_index(c)
                .and_then(|g| self.name_of(g))
                .is_some_and(|(m, n)| {
                    n == "tzfile" && matches!(m, "dateutil.tz._tzfile" | "dateutil.tz.tz")
                })
        });
        match tzfile {
            Some(cls) => {
                for &a in argv.iter().skip(1) {
                    self.method_argument(a, index, offset);
                }
                self.new_obj(id, cls, &[], Option::None, offset);
            }
            Option::None => self.class_arguments(argv, index, offset),
        }
    }

    /// `tzfile(None, '<name>')`: what python-dateutil 2.x's `tzfile.__reduce_ex__` writes
    /// (dateutil/tz/tz.py); the file name is stored, never opened.
    fn tzfile_by_name(&self, argv: &[NodeId]) -> bool {
        matches!(argv, [fileobj, name]
            if matches!(self.graph.node(*fileobj), Node::None) && self.graph.str(*name).is_some())
    }

    fn rebuild_undef(&mut self, argv: &[NodeId], args: NodeId, offset: usize) {
        let plain_kwargs = |d: NodeId| match self.graph.node(d) {
            Node::Dict(pairs) => pairs.iter().all(|&(k, v)| {
                self.graph
                    .str(k)
                    .is_some_and(|k| plain_attribute(k) && k != "bases")
                    && is_plain_value(self.graph, v, 0)
            }),
            _ => false,
        };
        let ok = match argv {
            [name, kwargs] => self.graph.str(*name).is_some() && plain_kwargs(*kwargs),
            [name] => self.graph.str(*name).is_some(),
            _ => false,
        };
        if !ok {
            self.out.others.push(OtherCall {
                offset,
                rule: Rule::CodeExec,
                message: format!(
                    "calls {}: sympy's Function(name, **kwargs) puts keywords that are not \
                     assumptions into the dict of the class it builds, so a file can give the \
                     class any method or base; sympy writes only plain assumptions",
                    render_call(self.graph, "sympy.core.function._rebuild_undef", args)
                ),
            });
        }
    }

    /// `str(b, encoding)`, `bytes(s, encoding)`, `bytearray(s, encoding)` look the codec
    /// up as `_codecs.encode` does (protocols 0-2 write a bytearray this way).
    fn builtin_with_encoding(&mut self, index: u32, argv: &[NodeId], args: NodeId, offset: usize) {
        let Some(("builtins", name @ ("str" | "bytes" | "bytearray"))) = self.name_of(index) else {
            return;
        };
        if argv.len() > 1 {
            let name = format!("builtins.{name}");
            self.codec_call(&name, argv, args, offset);
        }
    }

    /// `_codecs.encode(text, codec)`, and `str`/`bytes`/`bytearray` given an encoding
    /// (`name` says which): the codec is looked up by name, and an unknown one imports
    /// `encodings.<name>` or asks registered search functions. Protocols 0-2 write only
    /// latin1.
    fn codec_call(&mut self, name: &str, argv: &[NodeId], args: NodeId, offset: usize) {
        // A Python 2 `str` is text to Python 3's loader (decoded as ASCII by default).
        let codec = argv.get(1).and_then(|&c| match self.graph.node(c) {
            Node::Bytes(b, BytesKind::Py2Str) => std::str::from_utf8(b).ok(),
            _ => self.graph.str(c),
        });
        let plain = argv.len() == 1
            || matches!(
                codec.map(str::to_ascii_lowercase).as_deref(),
                Some("latin1" | "latin-1" | "iso-8859-1" | "utf-8" | "utf8" | "ascii")
            );
        if !plain {
            self.out.others.push(OtherCall {
                offset,
                rule: Rule::UnvettedCall,
                message: format!(
                    "calls {}, with a codec pklinspect has not vetted: looking it up imports \
                     modules or asks registered search functions",
                    render_call(self.graph, name, args)
                ),
            });
        }
    }

    /// `cls.__new__(cls, *args, **kwargs)` (NEWOBJ, NEWOBJ_EX, the copyreg routes). Without
    /// arguments it is an instantiation (the class's `__new__` gets nothing from the file);
    /// with them, a class's own `__new__` runs on file-chosen values (sympy's sympifies
    /// them: a string is evaluated), so it is a call, unless every argument is inert: a
    /// number, None, or an object of the class's own package (what sympy writes).
    /// `_new_Index(cls, d)` runs `cls.__new__(cls, **d)`; the numpy random constructors
    /// call the class or function they are given: each global argument is called.
    fn class_arguments(&mut self, argv: &[NodeId], index: u32, offset: usize) {
        for &a in argv {
            self.method_argument(a, index, offset);
            if let Some(g) = self.global_index(a) {
                let (m, n) = self.name_of(g).unwrap_or(("?", "?"));
                let (cm, cn) = self.name_of(index).unwrap_or(("?", "?"));
                let rendered = format!("{m}.{n}(…) (through {cm}.{cn})");
                self.called(g, offset, Rendering::Text(rendered));
            }
        }
    }

    fn new_obj(
        &mut self,
        id: NodeId,
        cls: NodeId,
        args: &[NodeId],
        kwargs: Option<NodeId>,
        offset: usize,
    ) {
        // A class the stream built by a call (sympy's `_rebuild_undef`) belongs to the
        // package of the global that built it.
        let built = self.instances.get(&cls).copied();
        let Some(index) = self
            .global_index(cls)
            .or(built)
            .or_else(|| self.legacy_torch_class(cls))
        else {
            self.new_of_object(cls, args, kwargs, offset);
            return;
        };
        self.instances.insert(id, index);
        let (m, n) = self.name_of(index).unwrap_or(("?", "?"));
        let (m, n) = (m.to_string(), n.to_string());
        let top = m.split('.').next().unwrap_or(&m).to_string();
        let kwargs_items: Vec<NodeId> = match kwargs.map(|k| self.graph.node(k)) {
            Some(Node::Dict(pairs)) => pairs.iter().map(|&(_, v)| v).collect(),
            Some(Node::None) | Option::None => Vec::new(),
            Some(_) => vec![cls], // not a dict: never inert below
        };
        // `**kwargs` of an object calls its `keys()`: the mapping itself is passed too.
        let passed: Vec<NodeId> = args.iter().copied().chain(kwargs).collect();
        self.armed_arguments(index, &passed, offset);
        let inert = args
            .iter()
            .chain(kwargs_items.iter())
            .all(|&a| a != cls && self.inert(a, &top, 4));
        if inert {
            return;
        }
        let mut text = String::new();
        for (i, &a) in args.iter().enumerate() {
            if i > 0 {
                text.push_str(", ");
            }
            literal(self.graph, a, 2, &mut text);
        }
        if built.is_some() && self.global_index(cls).is_none() {
            self.out.others.push(OtherCall {
                offset,
                rule: Rule::UnvettedCall,
                message: format!(
                    "calls __new__ of a class built by {m}.{n} with arguments ({text}) that are \
                     not objects of its own package: pklinspect has not vetted that"
                ),
            });
            return;
        }
        let rendered = format!("{m}.{n}.__new__({m}.{n}, {text})");
        // sympy's constructors sympify their arguments, and sympify evaluates a string as
        // Python code: a known gadget, not merely an unvetted call.
        let text_arg = args
            .iter()
            .any(|&a| matches!(self.graph.node(a), Node::Str(_)));
        if top == "sympy" && text_arg && self.known.classify(&m, &n).vetted.is_none() {
            self.out.others.push(OtherCall {
                offset,
                rule: Rule::CodeExec,
                message: format!(
                    "calls {rendered}: sympy's constructors sympify their arguments, \
                     evaluating a string as Python code"
                ),
            });
            return;
        }
        self.called(index, offset, Rendering::Text(rendered));
    }

    /// The legacy torch format (`torch/serialization.py`, `_legacy_save`) pickles a module
    /// class as the persistent id `('module', cls, source_file, source)`, and its
    /// `persistent_load` returns `cls`: the class global inside the id.
    fn legacy_torch_class(&self, cls: NodeId) -> Option<u32> {
        let Node::PersistentId { pid, .. } = self.graph.node(cls) else {
            return None;
        };
        match self.graph.tuple(pid)? {
            [tag, class, ..] if self.graph.str(*tag) == Some("module") => self.global_index(*class),
            _ => None,
        }
    }

    /// NEWOBJ of a class that is neither a global nor built by a global's call.
    fn new_of_object(
        &mut self,
        cls: NodeId,
        args: &[NodeId],
        kwargs: Option<NodeId>,
        offset: usize,
    ) {
        // A nested class reached by an accepted getattr (matplotlib's
        // `BoxStyle.Round`), instantiated without arguments: a reference, as NEWOBJ of
        // a global is.
        let nested = matches!(self.made.get(&cls), Some(Made::Method { .. }));
        let no_kwargs = kwargs.is_none_or(|k| matches!(self.graph.node(k), Node::None))
            || matches!(kwargs.map(|k| self.graph.node(k)), Some(Node::Dict(p)) if p.is_empty());
        if nested && args.is_empty() && no_kwargs {
            return;
        }
        // A class the stream got some other way (a method's result, an object the
        // loader supplies): what its `__new__` runs is unknown.
        self.out.others.push(OtherCall {
            offset,
            rule: Rule::UnvettedCall,
            message: "instantiates a class that is not a global of the file (NEWOBJ of an \
                      object built at load): pklinspect cannot tell what its __new__ runs"
                .to_string(),
        });
    }

    /// Numbers, None, and objects or classes of package `top`, in tuples and lists.
    fn inert(&self, id: NodeId, top: &str, depth: u32) -> bool {
        let same_package = |g: u32| {
            self.name_of(g)
                .is_some_and(|(m, _)| m.split('.').next() == Some(top))
        };
        match self.graph.node(id) {
            Node::None | Node::Bool(_) | Node::Int(_) | Node::BigInt(_) | Node::Float(_) => true,
            Node::Tuple(items) | Node::List(items) => {
                depth > 0
                    && items
                        .iter()
                        .all(|&i| self.inert(i, top, depth.saturating_sub(1)))
            }
            Node::Global { index, .. } => same_package(index),
            Node::Call(c) => {
                let class = self.instances.get(&id).copied();
                class
                    .or_else(|| self.global_index(c.callable))
                    .is_some_and(same_package)
            }
            _ => false,
        }
    }

    /// `getattr(target, name)`: accepted when the name is a plain attribute and the target
    /// a global or an object built from a global, neither of them code-exec.
    fn getattr(&mut self, id: NodeId, index: u32, argv: &[NodeId]) {
        if let [target, attr] = argv {
            let class = self.global_index(*target).and_then(|g| self.name_of(g));
            let safe_class =
                class.is_some_and(|(m, n)| self.known.classify(m, n).category < Category::CodeExec);
            if safe_class && self.graph.str(*attr) == Some("__new__") {
                self.indirect(index, Some(Category::Plain));
                self.made.insert(id, Made::New);
                return;
            }
        }
        let accepted = match argv {
            [target, attr] => self
                .graph
                .str(*attr)
                .filter(|a| plain_attribute(a))
                .and_then(|a| self.owner(*target).map(|(m, q)| (m, format!("{q}.{a}")))),
            _ => None,
        };
        match accepted {
            Some((module, qualname)) => {
                self.indirect(index, Some(Category::Plain));
                self.made.insert(id, Made::Method { module, qualname });
            }
            None => self.indirect(index, None),
        }
    }

    /// The class (module, qualified name) that `target` is or was built from, if neither
    /// it nor the class is code-exec.
    fn owner(&self, target: NodeId) -> Option<(String, String)> {
        // Methods of built-in values (a list's `remove`, kept as a callback).
        let builtin = match self.graph.node(target) {
            Node::List(_) => Some("list"),
            Node::Dict(_) => Some("dict"),
            Node::Set(_) => Some("set"),
            Node::FrozenSet(_) => Some("frozenset"),
            Node::Tuple(_) => Some("tuple"),
            Node::Str(_) => Some("str"),
            Node::Bytes(..) => Some("bytes"),
            Node::Int(_) | Node::BigInt(_) => Some("int"),
            Node::Float(_) => Some("float"),
            _ => None,
        };
        if let Some(class) = builtin {
            return Some(("builtins".to_string(), class.to_string()));
        }
        let class = match self.graph.node(target) {
            Node::Global { index, .. } => index,
            Node::Call(call) => {
                let callee = self.global_index(call.callable)?;
                let (m, n) = self.name_of(callee)?;
                match special(m, n) {
                    // Objects made by the copyreg routes are instances of their first arg.
                    Some(Special::Reconstructor | Special::NewObj) => {
                        let first = *self.graph.tuple(call.args)?.first()?;
                        self.global_index(first)?
                    }
                    // An accepted class factory's object is an instance of its base.
                    Some(Special::ClassFactory) => self.instances.get(&target).copied()?,
                    Some(_) => return None,
                    None => callee,
                }
            }
            _ => return None,
        };
        let (m, n) = self.name_of(class)?;
        let c = self.known.classify(m, n);
        (c.category < Category::CodeExec).then(|| (m.to_string(), n.to_string()))
    }

    /// `functools.partial(f, …)`: `f` will be called with arguments the file chose, so it
    /// counts as called; the partial itself is harmless when `f` is a global or a method.
    fn partial(
        &mut self,
        id: NodeId,
        index: u32,
        argv: &[NodeId],
        state: Option<NodeId>,
        offset: usize,
    ) {
        let Some(&f) = argv.first() else {
            self.indirect(index, None);
            return;
        };
        self.partial_state_function(f, state, offset);
        // partial(cls.__new__, cls, *args, **kwargs): the arguments are in the BUILD state
        // `(func, args, kwds, dict)` (`functools.partial.__reduce__`).
        if let Some(Made::New) = self.made.get(&f) {
            let items = state.and_then(|s| self.graph.tuple(s)).unwrap_or(&[]);
            // Without a state, `partial(f, cls, *args)` written as a plain call.
            let (args, kwargs) = match items.get(1).and_then(|&a| self.graph.tuple(a)) {
                Some(args) => (args, items.get(2).copied()),
                None => (argv.get(1..).unwrap_or(&[]), Option::None),
            };
            if let Some((&cls, rest)) = args.split_first() {
                self.new_obj(id, cls, rest, kwargs, offset);
                if let Some(class) = self.global_index(cls) {
                    self.indirect(index, Some(Category::Plain));
                    self.made.insert(id, Made::PartialNew(class));
                    return;
                }
            }
            self.indirect(index, None);
            return;
        }
        if let Some(g) = self.global_index(f) {
            let (m, n) = self.name_of(g).unwrap_or(("?", "?"));
            let rendered = format!("functools.partial({m}.{n}, …)");
            self.called(g, offset, Rendering::Text(rendered));
            self.indirect(index, Some(Category::Plain));
            self.partial_arguments(g, argv, state, offset);
            self.made.insert(id, Made::PartialOf(g));
            return;
        } else if let Some(made) = self.made.get(&f).cloned() {
            if let Made::Method { module, qualname } = made {
                if !self.vetted_call(&module, &qualname) {
                    self.out.others.push(OtherCall {
                        offset,
                        rule: Rule::UnvettedCall,
                        message: format!(
                            "wraps {module}.{qualname} in functools.partial, a method \
                             pklinspect has not vetted; if you trust it, allow \
                             `{module}.{qualname}` in pklinspect.toml"
                        ),
                    });
                }
            }
            self.indirect(index, Some(Category::Plain));
        } else {
            self.indirect(index, None);
        }
        self.made.insert(id, Made::Partial);
    }

    /// `partial.__setstate__((func, args, kwds, dict))` replaces the function `f` the
    /// constructor was given (CPython `partial_setstate`): pickle writes the same object
    /// in both places (a memo reference); a different one is judged as called.
    fn partial_state_function(&mut self, f: NodeId, state: Option<NodeId>, offset: usize) {
        let Some(&func) = state
            .and_then(|s| self.graph.tuple(s))
            .filter(|items| items.len() == 4)
            .and_then(|items| items.first())
        else {
            return;
        };
        if func == f || self.graph.node(func).is_scalar() {
            return; // the same function, or not callable (setstate raises)
        }
        if let Some(g) = self.global_index(func) {
            let (m, n) = self.name_of(g).unwrap_or(("?", "?"));
            let rendered = format!("functools.partial({m}.{n}, …) (set by the partial's state)");
            self.called(g, offset, Rendering::Text(rendered));
            return;
        }
        // `getattr(cls, '__new__')` written again instead of memoised: an instantiation,
        // which the constructor's copy is judged as.
        let new_again = self.graph.call(func).is_some_and(|c| {
            self.global_index(c.callable)
                .and_then(|g| self.name_of(g))
                .is_some_and(|name| name == ("builtins", "getattr"))
                && self
                    .graph
                    .tuple(c.args)
                    .and_then(|a| a.get(1))
                    .and_then(|&a| self.graph.str(a))
                    == Some("__new__")
        });
        if !new_again {
            self.out.others.push(OtherCall {
                offset,
                rule: Rule::UnvettedCall,
                message: "a functools.partial whose state replaces the function it was built \
                          with by an object built at load: pklinspect cannot tell what that \
                          runs, and no pickler writes this"
                    .to_string(),
            });
        }
    }

    /// What `partial(f, *args, **kwds)` of global `f` fixes (in its arguments, or its state
    /// `(func, args, kwds, dict)`): `partial(SimpleNamespace, keys=g)()` makes `g` an
    /// attribute; a function that calls its arguments calls the fixed ones.
    fn partial_arguments(&mut self, f: u32, argv: &[NodeId], state: Option<NodeId>, offset: usize) {
        let items = state.and_then(|s| self.graph.tuple(s)).unwrap_or(&[]);
        let bag = matches!(
            self.name_of(f),
            Some(("types", "SimpleNamespace") | ("argparse", "Namespace"))
        );
        if let (true, Some(&kwds)) = (bag, items.get(2)) {
            self.state_dict(kwds, offset, 0);
        }
        let fixed = items
            .get(1)
            .and_then(|&a| self.graph.tuple(a))
            .unwrap_or(&[]);
        let mut all: Vec<NodeId> = argv.get(1..).unwrap_or(&[]).to_vec();
        all.extend_from_slice(fixed);
        if let Some(&kwds) = items.get(2) {
            all.extend(self.mapping_pairs(kwds).into_iter().map(|(_, v)| v));
        }
        self.armed_arguments(f, &all, offset);
        if self.specials.get(f as usize).copied().flatten() == Some(Special::ClassArgument) {
            self.class_arguments(&all, f, offset);
        }
    }

    /// `copyreg._reconstructor(cls, base, state)` calls `base` unless it is `object`.
    fn reconstructor(&mut self, argv: &[NodeId], offset: usize) {
        let Some(&base) = argv.get(1) else { return };
        match self.global_index(base) {
            Some(g) if self.name_of(g) == Some(("builtins", "object")) => {}
            Some(g) => {
                let (m, n) = self.name_of(g).unwrap_or(("?", "?"));
                let rendered = format!("{m}.{n}.__new__/__init__ (through copyreg._reconstructor)");
                self.called(g, offset, Rendering::Text(rendered));
            }
            None => self.out.others.push(OtherCall {
                offset,
                rule: Rule::UnvettedCall,
                message: "copyreg._reconstructor with a base class that is not a global: \
                          calls whatever object the stream built"
                    .to_string(),
            }),
        }
    }

    /// A call whose callable is not a global.
    fn call_of_object(&mut self, id: NodeId, callable: NodeId, args: NodeId, offset: usize) {
        match self.made.get(&callable).cloned() {
            // The wrapped function was judged as called; `__new__` instantiates.
            Some(Made::Partial | Made::New) => {}
            // A function that calls its arguments, through the partial: judged again
            // with the arguments of this call.
            Some(Made::PartialOf(g)) => {
                let argv = self.graph.tuple(args).unwrap_or(&[]).to_vec();
                self.armed_arguments(g, &argv, offset);
                if self.specials.get(g as usize).copied().flatten() == Some(Special::ClassArgument)
                {
                    self.class_arguments(&argv, g, offset);
                }
            }
            Some(Made::PartialNew(class)) => {
                self.instances.insert(id, class);
            }
            Some(Made::Method { module, qualname }) => {
                let rendered = render_call(self.graph, &format!("{module}.{qualname}"), args);
                let class = self.known.classify(&module, &qualname);
                if class.category == Category::CodeExec {
                    self.out.others.push(OtherCall {
                        offset,
                        rule: Rule::CodeExec,
                        message: format!("calls {rendered}: {}", class.reason),
                    });
                } else if !self.vetted_call(&module, &qualname) {
                    self.out.others.push(OtherCall {
                        offset,
                        rule: Rule::UnvettedCall,
                        message: format!(
                            "calls {rendered}, a method pklinspect has not vetted (fetched \
                             with builtins.getattr); if you trust it, allow \
                             `{module}.{qualname}` in pklinspect.toml"
                        ),
                    });
                }
            }
            None => {
                let what = match self.graph.node(callable) {
                    Node::Call(c) => format!("the object built at offset {}", c.offset),
                    Node::PersistentId { offset, .. } => {
                        format!("the object the loader supplies for the persistent id at offset {offset}")
                    }
                    Node::Extension { .. } => return, // extension-ref reports it
                    _ => "a value that is not callable".to_string(),
                };
                self.out.others.push(OtherCall {
                    offset,
                    rule: Rule::UnvettedCall,
                    message: format!(
                        "calls {what}: pklinspect cannot tell what that runs, and has not \
                         vetted it"
                    ),
                });
            }
        }
    }

    /// Whether `module.qualname` (a global or a method) is a vetted call target that is not
    /// code-exec: what a stream may call with arguments it chose.
    fn vetted_call(&self, module: &str, qualname: &str) -> bool {
        let c = self.known.classify(module, qualname);
        c.vetted.is_some() && c.category < Category::CodeExec
    }
}

/// `torch.storage._load_from_bytes(b)`: `Some(Array)` when `b` is literal bytes that start
/// like a torch file (a zip archive, or the legacy format's magic-number pickle).
///
/// Hook for the nested analysis (`analysis/nested.rs`, another change): the verdict of
/// the nested file should decide here; until then the shape of the bytes does.
fn nested_torch_bytes(graph: &Graph<'_>, bytes: NodeId) -> Option<Category> {
    let head: Vec<u8> = match graph.node(bytes) {
        Node::Bytes(b, _) => b.iter().take(TORCH_LEGACY_PREFIX.len()).copied().collect(),
        // Protocols below 3 write bytes as _codecs.encode(text, 'latin1') (Lib/pickle.py).
        Node::Call(call) => {
            let g = graph.global(call.callable)?;
            let (m, n) = normalise(&g.module, &g.name);
            let [text, codec] = graph.tuple(call.args)? else {
                return None;
            };
            if (m.as_ref(), n.as_ref()) != ("_codecs", "encode")
                || !matches!(graph.str(*codec), Some("latin1" | "latin-1"))
            {
                return None;
            }
            graph
                .str(*text)?
                .chars()
                .take(TORCH_LEGACY_PREFIX.len())
                .map(|c| u8::try_from(u32::from(c)).ok())
                .collect::<Option<Vec<u8>>>()?
        }
        _ => return None,
    };
    (head.starts_with(b"PK\x03\x04") || head.starts_with(TORCH_LEGACY_PREFIX))
        .then_some(Category::Array)
}

/// An attribute name a pickler writes for a method: an identifier, not a dunder or one of
/// the frame and function internals.
fn plain_attribute(name: &str) -> bool {
    let dunder = name.len() > 4 && name.starts_with("__") && name.ends_with("__");
    !name.is_empty()
        && !dunder
        && !name.starts_with("f_")
        && !name.starts_with("func_")
        && !name.starts_with("gi_")
        && !name.starts_with("cr_")
        && !name.starts_with("tb_")
        && !name.starts_with("im_")
        && name.chars().all(|c| c == '_' || c.is_alphanumeric())
        && !name.starts_with(|c: char| c.is_ascii_digit())
}

/// An attribute name in a state: text, or a Python 2 `str` (BINSTRING), which Python 3's
/// loader decodes to text (ASCII by default, latin-1 when asked; `U\x0c__setstate__`
/// plants `__setstate__` as surely as a unicode key).
fn state_key<'g>(graph: &'g Graph<'_>, k: NodeId) -> Option<&'g str> {
    match graph.node(k) {
        Node::Str(s) => Some(s),
        Node::Bytes(b, BytesKind::Py2Str) => std::str::from_utf8(b).ok(),
        _ => None,
    }
}

/// Method names that vetted callables look up on an object they are given and call, so an
/// instance attribute of that name (which shadows the class's method) is called: every
/// dunder (numpy `__array__`, pyarrow `__arrow_array__` and `__arrow_c_*__`,
/// `__dlpack__`), the mapping protocol `dict()`, `OrderedDict()`, `UserDict()`,
/// `defaultdict()` and `**kwargs` use (`keys`), and the methods the vetted rows call on
/// their arguments (`name.lower()`, `zone.upper()`, `key.split()`, `data.to()`, …).
/// Attributes pickled from real objects hold data under these names, never functions.
fn looked_up_on_instance(name: &str) -> bool {
    const METHODS: &[&str] = &[
        "keys",
        "items",
        "values",
        "get",
        "lower",
        "upper",
        "split",
        "rsplit",
        "strip",
        "startswith",
        "endswith",
        "encode",
        "decode",
        "replace",
        "join",
        "format",
        "to",
        "read",
        "readline",
        "readinto",
        "readlines",
        "write",
        "seek",
        "tell",
        "fileno",
        "copy",
        "astype",
        "view",
        "reshape",
        "tolist",
        "item",
        "numpy",
        "cpu",
        "detach",
        "as_py",
        "cast",
        "validate",
        "to_numpy",
        "to_pandas",
        "pop",
        "update",
        "setdefault",
        "utcoffset",
        "dst",
        "tzname",
        "fromutc",
        "localize",
        "normalize",
        "holidays",
        "close",
        "flush",
        "default_factory",
    ];
    let dunder = name.len() > 4 && name.starts_with("__") && name.ends_with("__");
    dunder || METHODS.contains(&name)
}

/// None, bools, numbers, text, bytes, and tuples of them (to `depth`).
fn is_plain_value(graph: &Graph<'_>, id: NodeId, depth: u32) -> bool {
    match graph.node(id) {
        node if node.is_scalar() => true,
        Node::Tuple(items) => {
            depth > 0
                && items
                    .iter()
                    .all(|&i| is_plain_value(graph, i, depth.saturating_sub(1)))
        }
        _ => false,
    }
}

/// Whether a node may be callable: anything but plain values and containers.
fn maybe_callable(graph: &Graph<'_>, id: NodeId) -> bool {
    let node = graph.node(id);
    !node.is_scalar()
        && !matches!(
            node,
            Node::Tuple(_) | Node::List(_) | Node::Dict(_) | Node::Set(_) | Node::FrozenSet(_)
        )
}

/// `name(args)` with plain arguments as Python literals and everything else as `…`.
pub(crate) fn render_call(graph: &Graph<'_>, name: &str, args: NodeId) -> String {
    let items = match graph.node(args) {
        Node::Tuple(items) => items,
        _ => return format!("{name}(…)"),
    };
    let mut text = String::new();
    for (i, &item) in items.iter().enumerate() {
        if i > 0 {
            text.push_str(", ");
        }
        literal(graph, item, 2, &mut text);
        if text.chars().count() > MAX_RENDERED {
            text = text.chars().take(MAX_RENDERED).collect();
            text.push('…');
            break;
        }
    }
    format!("{name}({text})")
}

fn literal(graph: &Graph<'_>, id: NodeId, depth: u32, out: &mut String) {
    match graph.node(id) {
        Node::None => out.push_str("None"),
        Node::Bool(b) => out.push_str(if b { "True" } else { "False" }),
        Node::Int(v) => out.push_str(&v.to_string()),
        Node::BigInt(v) => out.push_str(&v.to_string()),
        Node::Float(v) => out.push_str(&format!("{v:?}")),
        Node::Str(s) => {
            let short: String = s.chars().take(MAX_RENDERED).collect();
            out.push_str(&format!("'{}'", short.escape_default()));
        }
        Node::Bytes(b, _) => {
            let short = b.get(..b.len().min(48)).unwrap_or_default();
            out.push_str(&format!("b'{}'", short.escape_ascii()));
            if b.len() > 48 {
                out.push('…');
            }
        }
        Node::Tuple(items) if depth > 0 => {
            out.push('(');
            for (i, &item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                literal(graph, item, depth.saturating_sub(1), out);
            }
            if items.len() == 1 {
                out.push(',');
            }
            out.push(')');
        }
        Node::Global { index, .. } => match graph.globals.get(index as usize) {
            Some(g) => out.push_str(&format!("{}.{}", g.module, g.name)),
            None => out.push('…'),
        },
        _ => out.push('…'),
    }
}

/// What one pickle's calls add to its imports and findings.
pub(crate) struct Judged {
    /// `unvetted-call` detections.
    pub(crate) findings: Vec<Detected>,
    /// Whether any call is unvetted (the `unvetted` verdict).
    pub(crate) unvetted: bool,
    /// Whether a method call is code-exec (the `dangerous` verdict).
    pub(crate) code_exec: bool,
}

/// Applies the stream's [`Calls`] to one pickle's imports: indirect callers whose every use
/// is harmless lose their code-exec row, each import records its first call, and each call
/// of a global that is not vetted (nor already code-exec, user-defined or a runtime handle,
/// which have their own findings) is an `unvetted-call`.
pub(crate) fn judge(
    graph: &Graph<'_>,
    vetted: &[bool],
    calls: &Calls,
    globals: &[(u32, usize)],
    span: (usize, usize),
    imports: &mut [ImportReport],
    member: Option<&str>,
) -> Judged {
    let mut findings = Vec::new();
    for (i, (&(index, _), import)) in globals.iter().zip(imports.iter_mut()).enumerate() {
        let Some(use_) = calls.globals.get(index as usize) else {
            continue;
        };
        if let (Some(category), Category::CodeExec) = (use_.indirect_ok, import.category) {
            import.category = category;
            import.reason = format!(
                "every use in this file was judged by its arguments and is harmless ({})",
                import.reason
            );
        }
        let Some((offset, rendering)) = &use_.first_call else {
            continue;
        };
        let render = || match rendering {
            Rendering::Args(args) => {
                render_call(graph, &format!("{}.{}", import.module, import.name), *args)
            }
            Rendering::Text(text) => text.clone(),
        };
        // Shown where a reviewer needs it: what a code-exec global would run.
        if import.category == Category::CodeExec {
            import.call = Some(render());
        }
        let own_finding = matches!(
            import.category,
            Category::CodeExec | Category::UserDefined | Category::RuntimeHandle
        );
        if vetted.get(i).copied().unwrap_or(false) || own_finding || use_.indirect_ok.is_some() {
            continue;
        }
        let rendered = render();
        import.call = Some(rendered.clone());
        let message = format!(
            "calls {rendered}, which pklinspect has not vetted; if you trust it, allow `{}.{}` \
             in pklinspect.toml",
            import.module, import.name
        );
        findings.push(
            Detected::new(Rule::UnvettedCall, message)
                .path(import.paths.first().map(String::as_str))
                .at(Some(*offset as u64))
                .member(member)
                .global(&import.module, &import.name),
        );
    }
    let mut code_exec = false;
    for other in calls
        .others
        .iter()
        .filter(|o| (span.0..span.1).contains(&o.offset))
    {
        code_exec |= other.rule == Rule::CodeExec;
        findings.push(
            Detected::new(other.rule, other.message.clone())
                .at(Some(other.offset as u64))
                .member(member),
        );
    }
    let unvetted = findings.iter().any(|f| f.rule == Rule::UnvettedCall);
    Judged {
        findings,
        unvetted,
        code_exec,
    }
}
