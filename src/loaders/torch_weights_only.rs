//! torch's weights-only unpickler, modelled on types: which globals and types
//! `torch.load(weights_only=True)` refuses in a pickle, in the order it meets them.
//!
//! torch's `Unpickler.load` (`torch/_weights_only_unpickler.py`, torch 2.15.0) is a small
//! opcode loop of its own, not CPython's. This module runs the same loop on abstract
//! values: each stack entry is a global (what a GLOBAL pushed), a string, an int, a tuple,
//! or an instance of a known (or unknown) type. Where torch raises, we record why and go
//! on as if the user had allowed what was refused, so the list holds every refusal in the
//! order torch would report them one run at a time:
//!
//! - GLOBAL of a name outside [`table::ALLOWED_GLOBALS`] (a refusal `add_safe_globals`
//!   fixes, unless the module is blocked: `sys`, `os`, `posix`, `nt`);
//! - BUILD on an instance whose `type()` is not allowed: the type is what the call that
//!   made the instance returns ([`table::RETURNS`]), so `numpy.dtype('f8')` + BUILD needs
//!   `numpy.dtypes.Float64DType`, a name no GLOBAL opcode spells;
//! - REDUCE or NEWOBJ of something no GLOBAL pushed, APPEND to a non-list, SETITEM to a
//!   non-dict, a persistent id other than `('storage', …)`, and any opcode outside torch's
//!   list (protocol 3+ opcodes such as FRAME, BINBYTES, STACK_GLOBAL, MEMOIZE; INST, OBJ,
//!   EXT*, PERSID): no allowlist fixes these, so the scan stops there ([`Stop`]);
//! - what torch calls raising ([`Stop::shared`]: `torch.load(weights_only=False)` fails
//!   there too): `persistent_load` given an id of the wrong shape, a storage type without a
//!   `dtype` or a missing `data/<key>` record; a rebuild function given the wrong number
//!   of arguments ([`table::ARGS`]) or a tensor reaching past its storage (ints keep their
//!   values for this); and BUILD states `set_`, `Tensor.__setstate__` or a type without
//!   `__dict__` cannot take ([`table::NO_DICT_TYPES`]).
//!
//! `tests/loaders_differential.rs` compares the result with real torch on 634 files.

#![warn(clippy::arithmetic_side_effects)]

use std::cell::Cell;
use std::rc::Rc;

use rustc_hash::FxHashMap as HashMap;
pub(crate) use rustc_hash::FxHashSet as HashSet;

use super::table::{self, Returns};
use crate::opcode::Opcode;
use crate::reader::{Arg, OpReader};

/// Where persistent ids go in the pickle being read (torch sets `persistent_load` only on
/// the pickle holding the object).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Persistent {
    /// No `persistent_load`: any persistent id is refused.
    None,
    /// A torch zip's: ids are `('storage', storage_type, key, location, numel)` tuples.
    Storage,
    /// A legacy file's: `('storage', storage_type, root_key, location, numel,
    /// view_metadata)`, and the storage type must have a `dtype` (not `UntypedStorage`).
    LegacyStorage,
}

/// What torch refuses that an allowlist entry fixes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefusalKind {
    /// A GLOBAL opcode names it.
    Global,
    /// BUILD gives state to an instance of it (its `type()`).
    BuildType,
}

/// One refusal, the first time torch meets it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawRefusal {
    /// Global or type.
    pub kind: RefusalKind,
    /// `module.name` (after torch's Python 2 mappings).
    pub name: String,
    /// Offset of the opcode in the stream.
    pub offset: u64,
    /// A Python expression for the object to allow, when its `module.name` is not one to
    /// import by attribute (`type(numpy.dtype('f8'))`).
    pub spelling: Option<String>,
    /// For a type: the global whose call made the instance (`numpy.dtype`).
    pub made_by: Option<String>,
}

/// Where torch stops for good: no allowlist entry fixes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stop {
    /// Offset of the opcode in the stream.
    pub offset: u64,
    /// What torch says (its message, or ours when it would fail outside its checks).
    pub message: String,
    /// The global behind it, when there is one (a blocked module's function).
    pub global: Option<String>,
    /// It is raised by what torch calls (`persistent_load`, a rebuild function), not by
    /// the weights-only checks: `torch.load(weights_only=False)` fails there too.
    pub shared: bool,
}

/// What the scan of one pickle found.
#[derive(Clone, Debug, Default)]
pub struct PickleScan {
    /// Each refusal an allowlist fixes, first meeting first.
    pub refusals: Vec<RawRefusal>,
    /// The first thing no allowlist fixes (the scan ends there).
    pub stop: Option<Stop>,
}

/// A type an instance on the stack has.
#[derive(Clone, Debug)]
enum Ty {
    /// `module.name`, and a Python expression for the type when it is not importable by
    /// attribute.
    /// The third field is the global whose call made the instance, when a call did.
    Known(Rc<str>, Option<Rc<str>>, Option<Rc<str>>),
    /// Made by a call whose result type the table does not know.
    Unknown(Rc<str>),
}

/// An abstract stack value (24 bytes: a million of them on a hostile stack stay small).
#[derive(Clone, Debug)]
enum Val {
    Global(Rc<str>),
    Str(Rc<str>),
    /// An int, and its value when it fits an `i64`.
    Int(Option<i64>),
    /// Its items; a tuple inside is kept only as [`Val::Ints`] (a tuple of ints: a
    /// tensor's size or stride) or [`Val::Static`]`("builtins.tuple")`, so values never
    /// nest (and never drop recursively).
    Tuple(Rc<[Val]>),
    /// A tuple of ints inside a tuple.
    Ints(Rc<[Option<i64>]>),
    /// A storage from a persistent id, and its element count when the id gives it.
    Storage(Option<i64>),
    /// A dict, and whether SETITEM(S) put anything in it (shared by the memo's copies).
    Dict(Rc<Cell<bool>>),
    /// An instance of a type known by a static name (`builtins.list`, `torch.Tensor`).
    Static(&'static str),
    Obj(Rc<Ty>),
}

fn obj(t: &'static str) -> Val {
    Val::Static(t)
}

fn instance(ty: Ty) -> Val {
    Val::Obj(Rc::new(ty))
}

/// A tuple of `items`, flattened one level (see [`Val::Tuple`]).
fn tuple(items: Vec<Val>) -> Val {
    let flat: Vec<Val> = items
        .into_iter()
        .map(|v| match v {
            Val::Tuple(inner) => inner
                .iter()
                .map(|i| match i {
                    Val::Int(n) => Some(*n),
                    _ => None,
                })
                .collect::<Option<Vec<_>>>()
                .map_or(obj("builtins.tuple"), |ints| Val::Ints(ints.into())),
            v => v,
        })
        .collect();
    Val::Tuple(flat.into())
}

/// Values on the stack (and open MARKs) past which the model stops: `torch.save` writes
/// stacks a few dozen deep; only a hostile file nests further.
const MAX_STACK: usize = 100_000;

/// Memo entries past which the model stops (a checkpoint of 100,000 tensors uses fewer).
const MAX_MEMO: usize = 2_000_000;

/// The loop's state.
struct Machine<'s> {
    has_record: HasRecord<'s>,
    /// The error being returned is raised by a call torch makes (see [`Stop::shared`]).
    shared: bool,
    stack: Vec<Val>,
    /// Where each open MARK's frame starts in `stack` (torch keeps a list per frame).
    metastack: Vec<usize>,
    memo: HashMap<u64, Val>,
    scan: &'s mut PickleScan,
    persistent: Persistent,
    /// Offset of the opcode being run.
    offset: u64,
    /// The global whose call made the instance BUILD is giving state to.
    made_by: Option<Rc<str>>,
    /// The names in `scan.refusals`.
    refused: HashSet<String>,
}

/// Whether a torch zip holds the record `data/<key>` (`None`: not known).
pub(crate) type HasRecord<'a> = Option<&'a dyn Fn(&str) -> bool>;

/// Runs torch's weights-only loop over the pickle at `start` in `bytes`. `allowed` holds
/// what earlier pickles' refusals allowed (it grows with this one's); `has_record` says
/// which storage records a torch zip holds.
pub(crate) fn scan_pickle(
    bytes: &[u8],
    start: usize,
    persistent: Persistent,
    allowed: &mut HashSet<String>,
    has_record: HasRecord<'_>,
) -> PickleScan {
    let mut scan = PickleScan::default();
    let mut m = Machine {
        stack: Vec::new(),
        metastack: Vec::new(),
        memo: HashMap::default(),
        scan: &mut scan,
        persistent,
        has_record,
        shared: false,
        offset: 0,
        made_by: None,
        refused: HashSet::default(),
    };
    // torch reads opcodes one by one: a FRAME is an unsupported opcode to it, whatever
    // its length says.
    // Text is validated by the machine's own pass (a stream with bad UTF-8 is malformed).
    let mut reader = OpReader::new(bytes, start)
        .without_frame_check()
        .deferring_text_check();
    while let Some(op) = reader.next_op() {
        let result = match op {
            Ok(op) => {
                m.offset = op.offset as u64;
                m.step(op.opcode, op.arg, allowed)
                    .and_then(|()| m.check_size())
                    .map_err(|e| (op.offset, e))
            }
            Err(e) => Err((e.offset() as usize, e.message().to_string())),
        };
        if let Err((offset, message)) = result {
            m.scan.stop = Some(Stop {
                offset: offset as u64,
                message,
                global: None,
                shared: m.shared,
            });
            break;
        }
    }
    // A blocked global's stop names it.
    if let Some(stop) = &mut scan.stop {
        if let Some(rest) = stop
            .message
            .strip_prefix("Trying to load unsupported GLOBAL ")
        {
            stop.global = rest.split(' ').next().map(str::to_string);
        }
    }
    for r in &scan.refusals {
        allowed.insert(r.name.clone());
    }
    scan
}

type Step = Result<(), String>;

impl Machine<'_> {
    /// Values in the current MARK frame (torch sees only those).
    fn frame_len(&self) -> usize {
        let start = self.metastack.last().copied().unwrap_or(0);
        self.stack.len().saturating_sub(start)
    }

    fn pop(&mut self) -> Result<Val, String> {
        if self.frame_len() == 0 {
            return Err("pop from empty list (malformed pickle)".to_string());
        }
        self.stack
            .pop()
            .ok_or_else(|| "pop from empty list (malformed pickle)".to_string())
    }

    fn top(&self) -> Result<&Val, String> {
        if self.frame_len() == 0 {
            return Err("list index out of range (malformed pickle)".to_string());
        }
        self.stack
            .last()
            .ok_or_else(|| "list index out of range (malformed pickle)".to_string())
    }

    fn pop_mark(&mut self) -> Result<Vec<Val>, String> {
        let start = self
            .metastack
            .pop()
            .ok_or_else(|| "pop from empty list: no MARK (malformed pickle)".to_string())?;
        Ok(self.stack.split_off(start.min(self.stack.len())))
    }

    /// Stops the model on a hostile nesting or memo size (see [`MAX_STACK`]).
    fn check_size(&self) -> Step {
        if self.stack.len().saturating_add(self.metastack.len()) > MAX_STACK {
            return Err(format!(
                "more than {MAX_STACK} values and MARKs on the stack: pklinspect models \
                 torch's unpickler no further (torch.save never nests this deep)"
            ));
        }
        if self.memo.len() > MAX_MEMO {
            return Err(format!(
                "more than {MAX_MEMO} memo entries: pklinspect models torch's unpickler no further"
            ));
        }
        Ok(())
    }

    fn refuse(&mut self, kind: RefusalKind, name: &str, spelling: Option<String>) {
        let offset = self.offset;
        if self.refused.insert(name.to_string()) {
            self.scan.refusals.push(RawRefusal {
                kind,
                name: name.to_string(),
                offset,
                spelling,
                made_by: self.made_by.take().map(|s| s.to_string()),
            });
        }
    }

    fn user_allowed(&self, allowed: &HashSet<String>, name: &str) -> bool {
        allowed.contains(name) || self.refused.contains(name)
    }

    /// One opcode, as `Unpickler.load` runs it.
    fn step(&mut self, opcode: Opcode, arg: Arg<'_>, allowed: &HashSet<String>) -> Step {
        use Opcode as O;
        match opcode {
            O::GLOBAL => self.global(arg, allowed)?,
            O::NEWOBJ | O::REDUCE => self.call(opcode)?,
            O::BUILD => self.build(allowed)?,
            O::APPEND | O::APPENDS | O::SETITEM | O::SETITEMS => self.add_items(opcode)?,
            O::MARK => self.metastack.push(self.stack.len()),
            O::TUPLE => {
                let items = self.pop_mark()?;
                self.stack.push(tuple(items));
            }
            O::TUPLE1 | O::TUPLE2 | O::TUPLE3 => {
                let n = match opcode {
                    O::TUPLE1 => 1,
                    O::TUPLE2 => 2,
                    _ => 3,
                };
                if self.frame_len() < n {
                    return Err("list index out of range (malformed pickle)".to_string());
                }
                let at = self.stack.len().saturating_sub(n);
                let items: Vec<Val> = self.stack.split_off(at);
                self.stack.push(tuple(items));
            }
            O::NONE => self.stack.push(obj("builtins.NoneType")),
            O::NEWFALSE | O::NEWTRUE => self.stack.push(obj("builtins.bool")),
            O::EMPTY_TUPLE => self.stack.push(Val::Tuple(Rc::from([]))),
            O::EMPTY_LIST => self.stack.push(obj("builtins.list")),
            O::EMPTY_DICT => self.stack.push(Val::Dict(Rc::new(Cell::new(false)))),
            O::EMPTY_SET => self.stack.push(obj("builtins.set")),
            O::BININT | O::BININT1 | O::BININT2 | O::LONG1 => self.stack.push(int(arg)),
            O::BINFLOAT => self.stack.push(obj("builtins.float")),
            O::BINUNICODE | O::SHORT_BINSTRING => self.stack.push(text(arg)),
            O::BINPERSID => self.persistent_id()?,
            O::BINGET | O::LONG_BINGET => {
                let key = uint(arg);
                let v = self.memo.get(&key).cloned().ok_or_else(|| {
                    format!("KeyError: {key} (a memo key no PUT stored: malformed pickle)")
                })?;
                self.stack.push(v);
            }
            O::BINPUT | O::LONG_BINPUT => {
                let v = self.top()?.clone();
                self.memo.insert(uint(arg), v);
            }
            O::PROTO => {}
            O::STOP => {
                self.pop()?;
            }
            other => return Err(format!("Unsupported operand {}", other.code())),
        }
        Ok(())
    }

    /// NEWOBJ and REDUCE: only of what a GLOBAL pushed (the allowlist's values).
    fn call(&mut self, opcode: Opcode) -> Step {
        use Opcode as O;
        match opcode {
            O::NEWOBJ => {
                let _args = self.pop()?;
                match self.pop()? {
                    Val::Global(cls) => self.stack.push(instance(Ty::Known(cls, None, None))),
                    other => {
                        return Err(format!(
                            "Can only create new object for nn.Parameter or classes \
                             allowlisted via `add_safe_globals` but got {}",
                            describe(&other)
                        ))
                    }
                }
            }
            O::REDUCE => {
                let args = self.pop()?;
                let f = match self.top()? {
                    Val::Global(f) => f.clone(),
                    other => {
                        return Err(format!(
                            "Trying to call reduce for unrecognized function {}",
                            describe(other)
                        ))
                    }
                };
                if let Err(e) = check_args(&f, &args) {
                    self.shared = true;
                    return Err(e);
                }
                let result = returns(&f, &args);
                self.stack.pop();
                self.stack.push(result);
            }
            _ => {}
        }
        Ok(())
    }

    /// APPEND(S) only to a list, SETITEM(S) only to a dict, OrderedDict or Counter.
    fn add_items(&mut self, opcode: Opcode) -> Step {
        use Opcode as O;
        match opcode {
            O::APPEND | O::APPENDS => {
                if opcode == O::APPEND {
                    self.pop()?;
                } else {
                    self.pop_mark()?;
                }
                let target = self.top()?;
                if type_name(target) != Some("builtins.list") {
                    let verb = if opcode == O::APPEND {
                        "append to"
                    } else {
                        "extend"
                    };
                    return Err(format!(
                        "Can only {verb} lists, but got {}",
                        describe(target)
                    ));
                }
            }
            O::SETITEM | O::SETITEMS => {
                let added = if opcode == O::SETITEM {
                    self.pop()?;
                    self.pop()?;
                    true
                } else {
                    !self.pop_mark()?.is_empty()
                };
                let target = self.top()?;
                let ok = type_name(target).is_some_and(|t| table::SETITEM_TYPES.contains(&t));
                if let Val::Dict(filled) = target {
                    // No longer empty, in every copy the memo holds (see `falsy`).
                    if added {
                        filled.set(true);
                    }
                } else if !ok {
                    return Err(format!(
                        "Can only {} for dict, collections.OrderedDict, collections.Counter, \
                         but got {}",
                        opcode.name(),
                        describe(target)
                    ));
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn global(&mut self, arg: Arg<'_>, allowed: &HashSet<String>) -> Step {
        let Arg::Pair(module, name) = arg else {
            return Err("GLOBAL without a module and name".to_string());
        };
        let (module, name) = table::mapped(module, name);
        let full = format!("{module}.{name}");
        if table::BLOCKED_MODULES.contains(&module) {
            return Err(format!(
                "Trying to load unsupported GLOBAL {full} whose module {module} is blocked."
            ));
        }
        if !table::is_allowed(&full) && !self.user_allowed(allowed, &full) {
            if table::DTENSOR_GLOBALS.contains(&full.as_str()) {
                return Err(
                    "``torch.distributed.tensor`` must be imported to load DTensors".into(),
                );
            }
            self.made_by = None;
            self.refuse(RefusalKind::Global, &full, None);
        }
        self.stack.push(Val::Global(Rc::from(full)));
        Ok(())
    }

    fn build(&mut self, allowed: &HashSet<String>) -> Step {
        let state = self.pop()?;
        let inst = self.top()?.clone();
        let (ty, spelling): (Rc<str>, _) = match &inst {
            Val::Static(t) => (Rc::from(*t), None),
            Val::Obj(ty) => match &**ty {
                Ty::Known(t, spelling, by) => {
                    self.made_by = by.clone();
                    (t.clone(), spelling.clone())
                }
                Ty::Unknown(by) => {
                    return Err(format!(
                        "BUILD on the result of {by}, whose type pklinspect cannot tell: \
                         torch refuses it unless that type is allowlisted"
                    ))
                }
            },
            other => {
                return Err(format!(
                    "Can only build Tensor, Parameter, OrderedDict or types allowlisted via \
                     `add_safe_globals`, but got {}",
                    describe(other)
                ))
            }
        };
        check_build_state(&ty, &state)?;
        if table::BUILD_TYPES.contains(&&*ty)
            || table::is_allowed(&ty)
            || self.user_allowed(allowed, &ty)
        {
            return Ok(());
        }
        if ty.starts_with("builtins.") {
            return Err(format!(
                "Can only build Tensor, Parameter, OrderedDict or types allowlisted via \
                 `add_safe_globals`, but got <class '{}'>",
                ty.trim_start_matches("builtins.")
            ));
        }
        self.refuse(RefusalKind::BuildType, &ty, spelling.map(|s| s.to_string()));
        Ok(())
    }

    fn persistent_id(&mut self) -> Step {
        let pid = self.pop()?;
        if self.persistent == Persistent::None {
            return Err("unsupported persistent id encountered".to_string());
        }
        // torch's unpickler lets a tuple or an int through ...
        let items = match &pid {
            Val::Int(_) => None,
            Val::Tuple(items) => {
                match items.first() {
                    None | Some(Val::Str(_)) => {}
                    Some(other) => {
                        return Err(format!(
                            "Only persistent_load of storage is allowed, but got {}",
                            describe(other)
                        ))
                    }
                }
                if let Some(Val::Str(s)) = items.first() {
                    if &**s != "storage" {
                        return Err(
                            "Only persistent_load of storage is allowed, but got <class 'str'>"
                                .to_string(),
                        );
                    }
                }
                Some(items)
            }
            other => {
                return Err(format!(
                    "persistent_load id must be tuple or int, but got {}",
                    describe(other)
                ))
            }
        };
        // ... and torch.serialization's persistent_load then unpacks it.
        let numel = storage_id(items.map(|i| &i[..]), self.persistent, self.has_record)
            .inspect_err(|_| self.shared = true)?;
        self.stack.push(Val::Storage(numel));
        Ok(())
    }
}

/// What `persistent_load` in `torch/serialization.py` (`_load`, `_legacy_load`, torch
/// 2.15.0) does with a storage id torch's unpickler let through: it must be a tuple,
/// unpack to the format's fields, and name a storage type with a `dtype`.
/// Returns the storage's element count, when the id gives it plainly.
fn storage_id(
    items: Option<&[Val]>,
    persistent: Persistent,
    has_record: HasRecord<'_>,
) -> Result<Option<i64>, String> {
    let Some(items) = items else {
        return Err("AssertionError: saved_id must be a tuple, got int".to_string());
    };
    if items.is_empty() {
        return Err("IndexError: tuple index out of range".to_string());
    }
    let legacy = persistent == Persistent::LegacyStorage;
    let fields = if legacy { 5 } else { 4 };
    let got = items.len().saturating_sub(1);
    if got < fields {
        return Err(format!(
            "ValueError: not enough values to unpack (expected {fields}, got {got})"
        ));
    }
    if got > fields {
        return Err(format!(
            "ValueError: too many values to unpack (expected {fields})"
        ));
    }
    let storage_type = match items.get(1) {
        Some(Val::Global(name)) => name.clone(),
        other => {
            let what = other.map(describe).unwrap_or_default();
            return Err(format!(
                "AttributeError: the storage type of a persistent id is {what}, which has no \
                 attribute 'dtype'"
            ));
        }
    };
    let has_dtype = storage_type.ends_with("Storage")
        && &*storage_type != "torch.storage.TypedStorage"
        && !(legacy && storage_type.ends_with("UntypedStorage"));
    if !has_dtype {
        return Err(format!(
            "AttributeError: type object '{storage_type}' has no attribute 'dtype'"
        ));
    }
    let Some(Val::Int(numel)) = items.get(4) else {
        return Err("TypeError: a persistent id's element count is not an int \
             (get_storage_from_record(): incompatible function arguments)"
            .to_string());
    };
    // `restore_location` matches the location tag against the registered backends.
    match items.get(3) {
        Some(Val::Str(tag)) if tag.len() < MAX_KEPT_TEXT && !table::known_location(tag) => {
            return Err(format!(
                "RuntimeError: don't know how to restore data location of \
                 torch.storage.UntypedStorage (tagged with {tag})"
            ))
        }
        Some(Val::Str(_)) => {}
        other => {
            return Err(format!(
                "TypeError: a storage location must be a string, not {}",
                other.map(describe).unwrap_or_default()
            ))
        }
    }
    // A zip's storage is its record `data/<key>` (a key kept whole: shorter than the
    // text the model keeps).
    if let (Some(Val::Str(key)), Some(has), false) = (items.get(2), has_record, legacy) {
        if key.len() < MAX_KEPT_TEXT && !has(key) {
            return Err(format!(
                "RuntimeError: PytorchStreamReader failed locating file data/{key}: file not found"
            ));
        }
    }
    // A legacy id with view metadata gives a view of another size; an untyped storage
    // counts bytes, and quint4x2/quint2x4 pack several elements in one.
    let plain = (!legacy || matches!(items.get(5), Some(Val::Static("builtins.NoneType"))))
        && !storage_type.ends_with("UntypedStorage")
        && !storage_type.ends_with("x2Storage")
        && !storage_type.ends_with("x4Storage");
    Ok(numel.filter(|_| plain))
}

/// A call torch makes raises before it returns when its positional arguments do not fit
/// ([`table::ARGS`]): too few or too many, or a first argument of the wrong kind.
fn check_args(f: &str, args: &Val) -> Step {
    let Val::Tuple(items) = args else {
        return Ok(());
    };
    let Some((_, min, max, first)) = table::ARGS.iter().find(|(n, ..)| *n == f) else {
        return Ok(());
    };
    let short = f.rsplit('.').next().unwrap_or(f);
    if items.len() < *min || items.len() > *max {
        let takes = if min == max {
            format!("{min}")
        } else {
            format!("{min} to {max}")
        };
        return Err(format!(
            "TypeError: {short}() takes {takes} positional arguments but {} were given",
            items.len()
        ));
    }
    let Some(arg) = items.first() else {
        return Ok(());
    };
    let ty = type_name(arg);
    let plain = matches!(
        arg,
        Val::Str(_) | Val::Int(_) | Val::Tuple(_) | Val::Ints(_) | Val::Global(_)
    ) || ty.is_some_and(|t| t.starts_with("builtins."));
    let wrong = match first {
        table::FirstArg::Any => false,
        table::FirstArg::Storage => {
            plain || ty.is_some_and(|t| t.starts_with("torch.") && !t.ends_with("Storage"))
        }
        table::FirstArg::Tensor => plain,
        table::FirstArg::Layout => match arg {
            Val::Str(s) => !table::LAYOUTS.contains(&&**s),
            _ => true,
        },
        table::FirstArg::Pairs => matches!(arg, Val::Str(_) | Val::Int(_)),
    };
    if wrong {
        return Err(format!(
            "{short}() cannot use its first argument, {}: the call raises and torch.load fails",
            describe(arg)
        ));
    }
    // `_rebuild_tensor_v3` takes the tensor's dtype apart from the storage's.
    if *first == table::FirstArg::Storage && !f.ends_with("_v3") {
        check_extent(items)?;
    }
    Ok(())
}

/// `_rebuild_tensor*(storage, offset, size, stride, ...)` sets the tensor on the storage
/// (`t.set_`), which raises when the tensor reaches past the storage's elements, or when a
/// size, stride or offset is negative ("Trying to resize storage that is not resizable").
/// Values the model does not know pass.
fn check_extent(items: &[Val]) -> Step {
    let (
        Some(Val::Storage(Some(numel))),
        Some(Val::Int(Some(offset))),
        Some(Val::Ints(size)),
        Some(Val::Ints(stride)),
    ) = (items.first(), items.get(1), items.get(2), items.get(3))
    else {
        return Ok(());
    };
    // No strides: set_ lays the tensor out contiguously. Other mismatches: not modelled.
    let contiguous: Vec<Option<i64>>;
    let stride: &[Option<i64>] = if stride.is_empty() && !size.is_empty() {
        let mut acc = Some(1i64);
        let mut out = vec![None; size.len()];
        for (slot, n) in out.iter_mut().zip(size.iter()).rev() {
            *slot = acc;
            acc = acc.zip(*n).and_then(|(a, n)| a.checked_mul(n.max(1)));
        }
        contiguous = out;
        &contiguous
    } else if size.len() != stride.len() {
        return Ok(());
    } else {
        stride
    };
    let bad = || {
        format!(
            "RuntimeError: Trying to resize storage that is not resizable: the tensor's \
             offset {offset}, size {size:?} and stride {stride:?} do not fit a storage of \
             {numel} elements"
        )
    };
    let mut last = *offset;
    if last < 0 {
        return Err(bad());
    }
    for (n, st) in size.iter().zip(stride.iter()) {
        let (Some(n), Some(st)) = (n, st) else {
            return Ok(());
        };
        if *n < 0 || *st < 0 {
            return Err(bad());
        }
        if *n == 0 {
            return Ok(()); // an empty tensor needs no elements
        }
        let reach = n
            .checked_sub(1)
            .and_then(|m| m.checked_mul(*st))
            .and_then(|r| last.checked_add(r))
            .ok_or_else(bad)?;
        last = reach;
    }
    if last >= *numel {
        return Err(bad());
    }
    Ok(())
}

/// BUILD on a tensor calls `inst.set_(*state)`, on a Parameter `Tensor.__setstate__`:
/// both need a tuple (a Parameter's of 3 to 5 items); on a type without `__dict__`
/// ([`table::NO_DICT_TYPES`]) only a falsy state sets nothing. Otherwise the load fails.
fn check_build_state(ty: &str, state: &Val) -> Step {
    let len = match state {
        Val::Tuple(items) => Some(items.len()),
        _ => None,
    };
    match ty {
        "torch.Tensor" if len.is_none() => Err(format!(
            "TypeError: set_() received an invalid combination of arguments: BUILD gives a \
             tensor {} as its state",
            describe(state)
        )),
        "torch.nn.parameter.Parameter" if !matches!(len, Some(3..=5)) => Err(format!(
            "ValueError: not enough values to unpack (expected 3, got {}): BUILD gives a \
             Parameter {} as its state",
            len.unwrap_or(1),
            describe(state)
        )),
        t if table::NO_DICT_TYPES.contains(&t) && !falsy(state) => Err(format!(
            "AttributeError: '{}' object has no attribute '__dict__': BUILD gives it {} as \
             its state",
            t.strip_prefix("builtins.").unwrap_or(t),
            describe(state)
        )),
        _ => Ok(()),
    }
}

/// Whether a state is surely falsy (BUILD then sets nothing): `None`, `0`, `''`, `()`, a
/// dict no SETITEM filled (EMPTY_DICT pushes it; SETITEM(S) marks it filled, in the
/// memo's copies too), or a `(state, slotstate)` pair of those.
fn falsy(v: &Val) -> bool {
    match v {
        Val::Static(t) => *t == "builtins.NoneType",
        Val::Dict(filled) => !filled.get(),
        Val::Int(n) => *n == Some(0),
        Val::Str(s) => s.is_empty(),
        Val::Tuple(items) => match &items[..] {
            [] => true,
            [a, b] => falsy(a) && falsy(b),
            _ => false,
        },
        Val::Ints(items) => items.is_empty(),
        _ => false,
    }
}

/// What torch's messages print for a value: `<class 'list'>` for an instance's type.
fn describe(v: &Val) -> String {
    match type_name(v) {
        Some(t) => format!("<class '{}'>", t.strip_prefix("builtins.").unwrap_or(t)),
        None => match v {
            Val::Obj(ty) => match &**ty {
                Ty::Unknown(by) => format!("the result of {by} (type unknown)"),
                Ty::Known(t, _, _) => format!("<class '{t}'>"),
            },
            _ => "an unknown value".to_string(),
        },
    }
}

/// The `module.name` of a value's type, when known.
fn type_name(v: &Val) -> Option<&str> {
    match v {
        Val::Global(_) => Some("builtins.type"),
        Val::Str(_) => Some("builtins.str"),
        Val::Int(_) => Some("builtins.int"),
        Val::Ints(_) => Some("builtins.tuple"),
        Val::Storage(_) => Some("torch.storage.TypedStorage"),
        Val::Dict(_) => Some("builtins.dict"),
        Val::Tuple(_) => Some("builtins.tuple"),
        Val::Static(t) => Some(t),
        Val::Obj(ty) => match &**ty {
            Ty::Known(t, _, _) => Some(t),
            Ty::Unknown(_) => None,
        },
    }
}

/// Text arguments up to this many bytes are kept (dtype strings, persistent-id tags).
const MAX_KEPT_TEXT: usize = 64;

fn text(arg: Arg<'_>) -> Val {
    let bytes = match arg {
        Arg::Text(b) | Arg::Bytes(b) => b,
        _ => &[],
    };
    let kept = bytes.get(..MAX_KEPT_TEXT).unwrap_or(bytes);
    Val::Str(Rc::from(String::from_utf8_lossy(kept).as_ref()))
}

/// An int opcode's value: BININT's `int4`, BININT1/2's unsigned, LONG1's two's
/// complement (up to eight bytes).
fn int(arg: Arg<'_>) -> Val {
    let value = match arg {
        Arg::Int(n) => Some(i64::from(n)),
        Arg::UInt(n) => i64::try_from(n).ok(),
        Arg::Bytes(b) if b.len() <= 8 => {
            let negative = b.last().is_some_and(|x| x & 0x80 != 0);
            let mut buf = [if negative { 0xff } else { 0 }; 8];
            buf.get_mut(..b.len())
                .map(|dst| dst.copy_from_slice(b))
                .map(|()| i64::from_le_bytes(buf))
        }
        _ => None,
    };
    Val::Int(value)
}

fn uint(arg: Arg<'_>) -> u64 {
    match arg {
        Arg::UInt(n) => n,
        _ => 0,
    }
}

/// What calling the global `f` with `args` returns (its type).
fn returns(f: &str, args: &Val) -> Val {
    let arg = |i: usize| match args {
        Val::Tuple(items) => items.get(i).cloned(),
        _ => None,
    };
    let unknown = || instance(Ty::Unknown(Rc::from(f)));
    let row = table::RETURNS
        .binary_search_by(|(name, _)| (*name).cmp(f))
        .ok()
        .and_then(|i| table::RETURNS.get(i));
    match row.map(|(_, r)| *r) {
        Some(Returns::Type(t)) => obj(t),
        Some(Returns::ArgClass(i)) => match arg(i) {
            Some(Val::Global(cls)) => instance(Ty::Known(cls, None, Some(Rc::from(f)))),
            _ => unknown(),
        },
        Some(Returns::NumpyDType) => match arg(0) {
            Some(Val::Str(spec)) => match table::numpy_dtype_class(&spec) {
                Some(class) => instance(Ty::Known(
                    Rc::from(format!("numpy.dtypes.{class}")),
                    python_str(&spec).map(|s| Rc::from(format!("type(numpy.dtype({s}))"))),
                    Some(Rc::from(f)),
                )),
                None => unknown(),
            },
            _ => unknown(),
        },
        None => {
            let last = f.rsplit('.').next().unwrap_or(f);
            if last.starts_with(|c: char| c.is_ascii_uppercase()) {
                instance(Ty::Known(Rc::from(f), None, None))
            } else {
                unknown()
            }
        }
    }
}

/// A Python string literal for a short dtype string, when it holds only plain characters.
fn python_str(s: &str) -> Option<String> {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '<' | '>' | '=' | '|' | '[' | ']'));
    plain.then(|| format!("'{s}'"))
}
