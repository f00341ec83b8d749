//! Classification of imported globals (SPEC §5): every `(module, name)` a pickle imports
//! gets exactly one [`Category`] and a reason, and a file's categories give its [`Verdict`].
//!
//! The known globals are data, in one table (`table.rs`, [`BUILTIN_TABLE`]). This module
//! holds the rules around it, applied in this order by [`KnownGlobals::classify`]:
//!
//! 1. **Python 2 spellings** are rewritten as CPython's `_compat_pickle` rewrites them
//!    (`__builtin__` → `builtins`, `copy_reg` → `copyreg`, …; see [`normalise`]).
//! 2. **Malformed names** (empty, or holding whitespace or control characters) cannot
//!    resolve in Python and are `unknown`.
//! 3. For a plain name: a user entry for exactly `module.name` is final; a package's
//!    `__main__` module is code-exec (importing `pip.__main__` runs pip's command line).
//!    Then the built-in answer (the row for exactly `module.name`, else the nearest
//!    wildcard: `module.*`, `module.**`, then parent `**` rows), replaced by a user
//!    wildcard that is stricter or at least as specific. A code-exec answer, or a
//!    built-in row written for exactly this global, is final. Otherwise three structural
//!    rules can still make the global code-exec, whatever a wildcard says: a dunder name
//!    (`__dict__`, `__builtins__`, `__loader__`: module internals), a name that is a
//!    module the table knows (`torch` + `nn`: BUILD on a module object rewrites its
//!    globals), and a name that is most likely an imported `os`, `sys`, `builtins`,
//!    `subprocess`… (`__main__` + `os`). Then the wildcard's answer; then IPython's
//!    `_cython_magic_*` modules are user-defined; anything else is `unknown`.
//! 4. For a **dotted name** (protocol 4 resolves `a.b.c` by a getattr chain): an exact
//!    row for the whole qualified name; a dunder or frame/function internal anywhere in
//!    the chain (`__globals__`, `__class__`, `f_globals`, …) is code-exec; so is any step
//!    of the chain that rule 3 calls code-exec, read both as an attribute of what came
//!    before and as a module imported under that name (`_os.system`). A head that is a
//!    known class or function (`builtins.str` + `format`) reaches methods with arguments
//!    the file picks, which no pickler writes: code-exec. A `__main__` head stays
//!    user-defined (nested classes); everything else is at least `unknown`.
//!
//! User entries ([`KnownGlobals::add`]) win over built-in rows, with one safeguard: a
//! user wildcard more lenient than a built-in row wins only if it is at least as specific.
//! So a deny-list `numpy.**` tightens `numpy.ndarray`, and an allow-list `torch.*` does
//! not unlock `torch.load` (an exact `torch.load` entry would). The structural rules of
//! 3 and 4 are not rows: only an exact user entry overrides them.
//!
//! 5. **Default-deny** (after 3 and 4, `default_deny`): a global of a standard-library
//!    module (`stdlib.rs`, every module of CPython 3.8–3.14) that no row covers is
//!    code-exec, and a name that libraries re-export from subprocess, os, pickle or numpy
//!    (`Popen`, `system`, `loads`, `fromfile`, …) that only a library wildcard covers is
//!    code-exec too.
//!
//! Each answer also says whether the global is a **vetted call target**
//! ([`Classification::vetted`]): a row marked `call` in the table, or a user entry.
//! `analysis/calls.rs` decides which globals a pickle calls; a call of anything else is an
//! `unvetted-call`.

mod compat;
mod deny;
pub mod facts_table;
mod stdlib;
mod table;

use std::borrow::Cow;
// Fx hashing: lookups run for every global of every file (lint checks thousands); the keys
// are the table's own names plus the user's, not attacker-chosen in bulk.
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::fmt;
use std::str::FromStr;

pub use compat::{normalise, normalise_module, IMPORT_MAPPING, NAME_MAPPING};
pub use deny::DenyEntry;
pub(crate) use stdlib::is_stdlib;
pub use table::{Entry, BUILTIN_TABLE};

/// SPEC §5 categories, ordered from most benign to worst; the verdict takes the maximum.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Category {
    /// Python builtins and standard-library value types; portable.
    Plain,
    /// Array machinery whose payload `extract` writes out.
    Array,
    /// A class or function of a third-party package, which must be installed.
    Library,
    /// Not in the table; any importable callable can run code on load.
    Unknown,
    /// An object tied to a live runtime: locks, files, devices, sessions.
    RuntimeHandle,
    /// Defined in a script or notebook (`__main__`), not in a published package.
    UserDefined,
    /// Runs code or touches the system when the file is loaded.
    CodeExec,
}

impl Category {
    /// Every category, most benign first.
    pub const ALL: [Category; 7] = [
        Category::Plain,
        Category::Array,
        Category::Library,
        Category::Unknown,
        Category::RuntimeHandle,
        Category::UserDefined,
        Category::CodeExec,
    ];

    /// The name used in output and config files (`"code-exec"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Plain => "plain",
            Category::Array => "array",
            Category::Library => "library",
            Category::Unknown => "unknown",
            Category::RuntimeHandle => "runtime-handle",
            Category::UserDefined => "user-defined",
            Category::CodeExec => "code-exec",
        }
    }

    /// The verdict of a file whose worst import has this category.
    pub fn verdict(self) -> Verdict {
        match self {
            Category::Plain | Category::Array => Verdict::Portable,
            Category::Library | Category::Unknown => Verdict::NeedsLibraries,
            Category::RuntimeHandle | Category::UserDefined => Verdict::NonPortable,
            Category::CodeExec => Verdict::Dangerous,
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Category {
    type Err = String;

    /// Parses the names [`Category::as_str`] prints.
    fn from_str(s: &str) -> Result<Self, String> {
        Category::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown category `{s}`: expected one of plain, array, library, unknown, \
                     runtime-handle, user-defined, code-exec"
                )
            })
    }
}

/// SPEC §5 verdicts: `Portable < NeedsLibraries < NonPortable < Unvetted < Dangerous`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verdict {
    /// Only plain and array imports: `extract` gets everything out.
    Portable,
    /// Some library or unknown import: loads only where those packages are installed.
    NeedsLibraries,
    /// Some user-defined or runtime-handle import: loads only where that code or runtime is.
    NonPortable,
    /// Some call of a global pklinspect has not vetted (an `unvetted-call`): it calls code
    /// pklinspect cannot vouch for; treat it as unsafe until vetted.
    Unvetted,
    /// Some code-exec import: never load it.
    Dangerous,
}

impl Verdict {
    /// The name used in output (`"needs-libraries"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Portable => "portable",
            Verdict::NeedsLibraries => "needs-libraries",
            Verdict::NonPortable => "non-portable",
            Verdict::Unvetted => "unvetted",
            Verdict::Dangerous => "dangerous",
        }
    }

    /// The verdict of a file with these import categories: the worst one present, and
    /// `Portable` when there are none.
    pub fn of(categories: impl IntoIterator<Item = Category>) -> Verdict {
        categories
            .into_iter()
            .map(Category::verdict)
            .max()
            .unwrap_or(Verdict::Portable)
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The answer for one global.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Classification {
    /// The one category of this `(module, name)`.
    pub category: Category,
    /// One lowercase sentence saying why, printed by `explain` next to the import.
    pub reason: Cow<'static, str>,
    /// The module path exists only in numpy >= 2 (`numpy._core.*`), so numpy 1.x cannot
    /// load it. (numpy 1.26 ships shims for `numpy._core.multiarray` and a few siblings,
    /// but not `numpy._core.numeric`; older 1.x has none.)
    pub numpy2_only: bool,
    /// `Some(provenance)` when the global is a vetted call target (a row marked `call`, or
    /// a user entry): a pickle may call it. Calling anything else is an `unvetted-call`.
    pub vetted: Option<Cow<'static, str>>,
}

/// The reason given to every global the table does not know.
pub const UNKNOWN_REASON: &str =
    "not in pklinspect's table: any importable callable can run code on load";

/// Module names that, as the name of a global or a step of a dotted name, are most likely
/// that module imported by the named module (`__main__.os`, `collections._sys`): a module
/// object whose globals BUILD can rewrite, and a step away from running commands.
const CROWN_JEWELS: &[&str] = &[
    "os",
    "sys",
    "builtins",
    "subprocess",
    "posix",
    "nt",
    "importlib",
    "pickle",
    "marshal",
    "ctypes",
    "runpy",
    "shutil",
    "socket",
];

/// Attributes of functions, frames, generators and tracebacks (Python 3 and Python 2
/// spellings) that lead to globals, builtins and code: from any of them, everything is
/// reachable. Dunder names (`__globals__`, `__class__`, …) are caught by [`is_dunder`].
const ESCAPE_ATTRIBUTES: &[&str] = &[
    "f_globals",
    "f_locals",
    "f_builtins",
    "f_back",
    "f_code",
    "gi_frame",
    "gi_code",
    "cr_frame",
    "cr_code",
    "ag_frame",
    "ag_code",
    "tb_frame",
    "tb_next",
    "func_globals",
    "func_code",
    "func_closure",
    "func_dict",
    "im_func",
    "im_self",
    "im_class",
];

/// A row of the table, or a user entry: what a name is and why.
#[derive(Clone, Debug)]
struct TableRow {
    category: Category,
    reason: Cow<'static, str>,
    /// Where a vetted call target comes from; `None` for rows that may not be called.
    vetted: Option<Cow<'static, str>>,
}

/// The rows of one module: exact names, `*` and `**`.
#[derive(Clone, Debug, Default)]
struct ModuleRows {
    names: HashMap<Cow<'static, str>, TableRow>,
    star: Option<TableRow>,
    tree: Option<TableRow>,
}

type Table = HashMap<Cow<'static, str>, ModuleRows>;

/// Where an answer came from; dotted names treat an exact built-in head specially.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Provenance {
    UserExact,
    BuiltinExact,
    Wildcard,
    Structural,
}

/// An answer before `numpy2_only` is attached.
#[derive(Clone, Debug)]
struct Resolved {
    category: Category,
    reason: Cow<'static, str>,
    provenance: Provenance,
    vetted: Option<Cow<'static, str>>,
}

impl Resolved {
    fn from_row(row: &TableRow, provenance: Provenance) -> Resolved {
        Resolved {
            category: row.category,
            reason: row.reason.clone(),
            provenance,
            vetted: row.vetted.clone(),
        }
    }

    fn structural(category: Category, reason: String) -> Resolved {
        Resolved {
            category,
            reason: Cow::Owned(reason),
            provenance: Provenance::Structural,
            vetted: None,
        }
    }
}

/// The table of known globals plus the user's additions; built once, then shared.
#[derive(Clone, Debug)]
pub struct KnownGlobals {
    builtin: Table,
    user: Table,
    /// Every module path the table (built-in and user) names, with all its ancestors,
    /// as parent → children: `torch.nn` is a module, so `torch` + `nn` is a module object.
    submodules: HashMap<String, HashSet<String>>,
    /// The length of the longest module path either table holds: a longer path is never
    /// looked up, which keeps resolving a long dotted name linear in its length.
    longest_module: usize,
}

impl KnownGlobals {
    /// The built-in table ([`BUILTIN_TABLE`]), indexed for lookups.
    pub fn builtin() -> KnownGlobals {
        let mut known = KnownGlobals {
            builtin: Table::default(),
            user: Table::default(),
            submodules: HashMap::default(),
            longest_module: 0,
        };
        for entry in BUILTIN_TABLE {
            known.longest_module = known.longest_module.max(entry.module.len());
            let row = TableRow {
                category: entry.category,
                reason: Cow::Borrowed(entry.reason),
                vetted: entry.vetted.map(Cow::Borrowed),
            };
            let rows = known
                .builtin
                .entry(Cow::Borrowed(entry.module))
                .or_default();
            // Duplicates are rejected by the table's own test; the first row wins here.
            match entry.name {
                "*" => {
                    rows.star.get_or_insert(row);
                }
                "**" => {
                    rows.tree.get_or_insert(row);
                }
                name => {
                    rows.names.entry(Cow::Borrowed(name)).or_insert(row);
                }
            }
            known.register_module(entry.module);
        }
        known
    }

    /// Adds a user entry (from a config file's allow or deny list), which wins over the
    /// built-in table as the module docs describe. `pattern` is `module.name` (exactly that
    /// global; `module.Outer.Inner` for a nested class), `module.*` (every attribute of the
    /// module) or `module.**` (the module and all its submodules). Python 2 spellings are
    /// normalised as the classifier normalises its input. Adding the same pattern twice, a
    /// malformed pattern or an empty reason is an error, returned as a lowercase message.
    pub fn add(
        &mut self,
        pattern: &str,
        category: Category,
        reason: impl Into<String>,
    ) -> Result<(), String> {
        let reason = reason.into();
        if reason.trim().is_empty() {
            return Err(format!("pattern `{pattern}` needs a reason"));
        }
        let (module, name) = parse_pattern(pattern)?;
        let (module, name): (String, String) = match name {
            "*" | "**" => (normalise_module(module).to_owned(), name.to_owned()),
            _ => {
                let (m, n) = normalise(module, name);
                (m.into_owned(), n.into_owned())
            }
        };
        // The user's word vets calls too: an allow entry is how a team vets its own
        // library's constructors (`sympy.core.add.Add`).
        let vetted = (category < Category::CodeExec)
            .then(|| Cow::Owned(format!("the policy's entry `{pattern}`")));
        let row = TableRow {
            category,
            reason: Cow::Owned(reason),
            vetted,
        };
        self.longest_module = self.longest_module.max(module.len());
        let rows = self.user.entry(Cow::Owned(module.clone())).or_default();
        let duplicate = || format!("pattern `{pattern}` was already added");
        match name.as_str() {
            "*" if rows.star.is_some() => return Err(duplicate()),
            "*" => rows.star = Some(row),
            "**" if rows.tree.is_some() => return Err(duplicate()),
            "**" => rows.tree = Some(row),
            n if rows.names.contains_key(n) => return Err(duplicate()),
            _ => {
                rows.names.insert(Cow::Owned(name.clone()), row);
            }
        }
        // Only a wildcard says its stem is a module: `a.b.C` may name a nested class.
        if name.starts_with('*') {
            self.register_module(&module);
        }
        Ok(())
    }

    /// The category and reason of the global `module.name`, spelled exactly as in the
    /// stream (whatever opcode delivered it: GLOBAL, STACK_GLOBAL, INST or EXT*).
    pub fn classify(&self, module: &str, name: &str) -> Classification {
        let (module, name) = normalise(module, name);
        let numpy2_only = module == "numpy._core" || module.starts_with("numpy._core.");
        let resolved = self.resolve(&module, &name);
        Classification {
            category: resolved.category,
            reason: resolved.reason,
            numpy2_only,
            vetted: resolved.vetted,
        }
    }

    fn resolve(&self, module: &str, name: &str) -> Resolved {
        if !is_dotted_path(module) {
            return Resolved::structural(
                Category::Unknown,
                format!(
                    "the module path `{}` is malformed, so Python cannot import it",
                    module.escape_debug()
                ),
            );
        }
        if !is_dotted_path(name) {
            return Resolved::structural(
                Category::Unknown,
                format!(
                    "the attribute name `{}` is malformed, so Python cannot resolve it",
                    name.escape_debug()
                ),
            );
        }
        let resolved = if name.contains('.') {
            self.resolve_dotted(module, name)
        } else {
            self.resolve_name(module, name).unwrap_or(Resolved {
                category: Category::Unknown,
                reason: Cow::Borrowed(UNKNOWN_REASON),
                provenance: Provenance::Structural,
                vetted: None,
            })
        };
        default_deny(module, name, resolved)
    }

    /// Rule 3 of the module docs, for a name without dots; `None` when nothing matches.
    fn resolve_name(&self, module: &str, name: &str) -> Option<Resolved> {
        let wildcards = Wildcards {
            builtin: self.wildcard(&self.builtin, module),
            user: self.wildcard(&self.user, module),
        };
        self.resolve_name_with(module, name, wildcards)
    }

    /// [`Self::resolve_name`] with the wildcards covering `module` already found (a dotted
    /// name finds them step by step, [`Chain`]).
    fn resolve_name_with(
        &self,
        module: &str,
        name: &str,
        wildcards: Wildcards<'_>,
    ) -> Option<Resolved> {
        if let Some(row) = self.exact(&self.user, module, name) {
            return Some(Resolved::from_row(row, Provenance::UserExact));
        }
        if let Some(resolved) = package_main(module) {
            return Some(resolved);
        }
        // The built-in answer: its exact row, else its most specific wildcard. A user
        // wildcard replaces it when it is stricter, or at least as specific: an allow-list
        // `torch.*` does not unlock `torch.load`, but `torch.load` itself would.
        let builtin = self
            .exact(&self.builtin, module, name)
            .map(|row| (row, Specificity::EXACT, Provenance::BuiltinExact))
            .or_else(|| {
                wildcards
                    .builtin
                    .map(|(row, spec)| (row, spec, Provenance::Wildcard))
            });
        let user = wildcards.user;
        let winner = match (user, builtin) {
            (Some((u, us)), Some((b, bs, _))) if u.category >= b.category || us >= bs => {
                Some(Resolved::from_row(u, Provenance::Wildcard))
            }
            (Some((u, _)), None) => Some(Resolved::from_row(u, Provenance::Wildcard)),
            (_, Some((b, _, provenance))) => Some(Resolved::from_row(b, provenance)),
            (None, None) => None,
        };
        if let Some(w) = winner.as_ref().filter(|w| {
            w.category == Category::CodeExec || w.provenance == Provenance::BuiltinExact
        }) {
            // A code-exec answer cannot get worse, and a row written for exactly this
            // global (`copyreg.__newobj__`) knows better than the structural rules.
            return Some(w.clone());
        }
        if is_dunder(name) {
            return Some(Resolved::structural(
                Category::CodeExec,
                format!(
                    "names the interpreter attribute `{name}` of `{module}`, which exposes \
                     module internals (namespace, loader, builtins)"
                ),
            ));
        }
        if self.is_submodule(module, name) {
            return Some(Resolved::structural(
                Category::CodeExec,
                format!(
                    "names the module object `{module}.{name}`: BUILD on a module rewrites \
                     its globals, and the modules it imports are one attribute away"
                ),
            ));
        }
        if let Some(jewel) = crown_jewel(name) {
            return Some(Resolved::structural(
                Category::CodeExec,
                format!(
                    "names `{name}`, most likely the `{jewel}` module imported by `{module}`: \
                     BUILD on a module object rewrites its globals"
                ),
            ));
        }
        if winner.is_some() {
            return winner;
        }
        if module.starts_with("_cython_magic_") {
            return Some(Resolved {
                category: Category::UserDefined,
                reason: Cow::Borrowed(
                    "compiled by IPython's %%cython magic in a notebook session: loads only \
                     where that session's extension module exists",
                ),
                provenance: Provenance::Structural,
                vetted: None,
            });
        }
        None
    }

    /// Rule 4 of the module docs: a protocol-4 qualified name resolved by a getattr chain.
    /// Linear in the name's length: each step is looked up once, against the path before
    /// it, and the wildcards above it are carried along ([`Chain`]).
    fn resolve_dotted(&self, module: &str, name: &str) -> Resolved {
        if let Some(row) = self.exact(&self.user, module, name) {
            return Resolved::from_row(row, Provenance::UserExact);
        }
        if let Some(resolved) = package_main(module) {
            return resolved;
        }
        if let Some(row) = self.exact(&self.builtin, module, name) {
            return Resolved::from_row(row, Provenance::BuiltinExact);
        }
        let steps: Vec<&str> = name.split('.').collect();
        if let Some(step) = steps
            .iter()
            .find(|s| is_dunder(s) || ESCAPE_ATTRIBUTES.contains(s))
        {
            return Resolved::structural(
                Category::CodeExec,
                format!(
                    "the dotted name `{name}` reaches `{step}`, an interpreter internal from \
                     which every module, builtin and function is reachable"
                ),
            );
        }

        if steps.len() > MAX_DOTTED_STEPS {
            return Resolved::structural(
                Category::CodeExec,
                format!(
                    "the dotted name `{}` has {} steps, more than the {MAX_DOTTED_STEPS} any \
                     real qualified name needs: no pickler writes it, and a getattr chain that \
                     long is not followed",
                    shortened(name),
                    steps.len()
                ),
            );
        }

        // Each step as an attribute of what the chain reached so far.
        let mut found: Vec<Resolved> = Vec::new();
        let mut head: Option<Resolved> = None;
        let mut last: Option<Resolved> = None;
        let mut owner = module.to_owned();
        let mut chain = self.chain(module);
        for (i, step) in steps.iter().enumerate() {
            let wildcards = chain.wildcards(self, &owner);
            if let Some(r) = self.resolve_name_with(&owner, step, wildcards) {
                if r.category == Category::CodeExec {
                    return Resolved::structural(
                        Category::CodeExec,
                        format!(
                            "the dotted name `{name}` reaches `{owner}.{step}`: {}",
                            r.reason
                        ),
                    );
                }
                if i == 0 {
                    head = Some(r.clone());
                }
                if i + 1 == steps.len() {
                    last = Some(r.clone());
                }
                found.push(r);
            }
            chain.descend(self, &owner);
            owner.push('.');
            owner.push_str(step);
        }
        // Each step as a module imported under its own name (`os`, or `_os` as many
        // modules spell it), followed by the next step.
        for pair in steps.windows(2) {
            let &[step, next] = pair else { continue };
            for alias in [step, step.trim_start_matches('_')] {
                let alias = normalise_module(alias);
                if alias.is_empty() {
                    continue;
                }
                match self.resolve_name(alias, next) {
                    Some(r) if r.category == Category::CodeExec => {
                        return Resolved::structural(
                            Category::CodeExec,
                            format!(
                                "the dotted name `{name}` reaches `{alias}.{next}` through the \
                                 attribute `{step}`: {}",
                                r.reason
                            ),
                        );
                    }
                    _ => {}
                }
            }
        }

        // A user entry for the whole path (`acme.models.Outer.Inner` in a config file,
        // which cannot say where the module ends) is the user's word.
        if let Some(last) = last.filter(|r| r.provenance == Provenance::UserExact) {
            return last;
        }
        if let Some(head) = head {
            // Nested classes of a script (`Outer.Inner`) are what protocol 4 writes.
            if head.category == Category::UserDefined {
                return head;
            }
            // Picklers reach methods through getattr, never through a qualified name.
            if head.provenance == Provenance::BuiltinExact {
                let first = steps.first().copied().unwrap_or_default();
                return Resolved::structural(
                    Category::CodeExec,
                    format!(
                        "the dotted name `{name}` reaches a method or attribute of \
                         `{module}.{first}` with arguments the file chooses; no pickler writes \
                         such a name"
                    ),
                );
            }
        }
        match found.into_iter().max_by_key(|r| r.category) {
            Some(worst) if worst.category > Category::Unknown => worst,
            _ => Resolved::structural(
                Category::Unknown,
                format!(
                    "the dotted name `{name}` is resolved attribute by attribute from \
                     `{module}`, and pklinspect cannot tell where the chain leads"
                ),
            ),
        }
    }

    /// Records `module` and its ancestors as known module paths.
    fn register_module(&mut self, module: &str) {
        let mut path = module;
        while let Some((parent, child)) = path.rsplit_once('.') {
            self.submodules
                .entry(parent.to_owned())
                .or_default()
                .insert(child.to_owned());
            path = parent;
        }
    }

    /// Whether `module.name` is a module path the table knows.
    fn is_submodule(&self, module: &str, name: &str) -> bool {
        module.len() <= self.longest_module
            && self
                .submodules
                .get(module)
                .is_some_and(|children| children.contains(name))
    }

    /// The rows of `module` in one table. No key is longer than `longest_module`, so a
    /// longer path is not hashed: along a dotted name of n steps that would cost n² bytes.
    fn rows<'t>(&self, table: &'t Table, module: &str) -> Option<&'t ModuleRows> {
        if module.len() > self.longest_module {
            return None;
        }
        table.get(module)
    }

    /// The exact row for `module.name` in one table.
    fn exact<'t>(&self, table: &'t Table, module: &str, name: &str) -> Option<&'t TableRow> {
        self.rows(table, module)?.names.get(name)
    }

    /// The most specific wildcard of one table covering an attribute of `module`: the
    /// module's own `*` or `**`, then the `**` of each parent, nearest first.
    fn wildcard<'t>(&self, table: &'t Table, module: &str) -> Option<(&'t TableRow, Specificity)> {
        own_wildcard(self.rows(table, module), module).or_else(|| self.parent_tree(table, module))
    }

    /// The `**` row of the nearest parent of `module` (not `module` itself). Each parent is
    /// found by one backward scan to its dot, so the walk is linear in `module`'s length.
    fn parent_tree<'t>(
        &self,
        table: &'t Table,
        module: &str,
    ) -> Option<(&'t TableRow, Specificity)> {
        let mut path = module;
        while let Some((parent, _)) = path.rsplit_once('.') {
            if let Some(row) = self.rows(table, parent).and_then(|r| r.tree.as_ref()) {
                return Some((row, Specificity::tree(parent)));
            }
            path = parent;
        }
        None
    }

    /// The wildcards above `module`, to be carried down a dotted name from it.
    fn chain(&self, module: &str) -> Chain<'_> {
        Chain {
            builtin: self.parent_tree(&self.builtin, module),
            user: self.parent_tree(&self.user, module),
        }
    }
}

/// The most specific wildcard of each table covering an attribute of one module.
#[derive(Clone, Copy)]
struct Wildcards<'t> {
    builtin: Option<(&'t TableRow, Specificity)>,
    user: Option<(&'t TableRow, Specificity)>,
}

/// Walking down a dotted name: the nearest `**` row of each table above the path reached
/// so far, so that each step looks up only its own path, not all its parents again.
struct Chain<'t> {
    builtin: Option<(&'t TableRow, Specificity)>,
    user: Option<(&'t TableRow, Specificity)>,
}

impl<'t> Chain<'t> {
    /// The wildcards covering an attribute of `owner`, the path reached so far.
    fn wildcards(&self, known: &'t KnownGlobals, owner: &str) -> Wildcards<'t> {
        Wildcards {
            builtin: own_wildcard(known.rows(&known.builtin, owner), owner).or(self.builtin),
            user: own_wildcard(known.rows(&known.user, owner), owner).or(self.user),
        }
    }

    /// Steps below `owner`: its own `**` rows become the nearest ones above.
    fn descend(&mut self, known: &'t KnownGlobals, owner: &str) {
        let tree = |table| {
            known
                .rows(table, owner)
                .and_then(|r| r.tree.as_ref())
                .map(|row| (row, Specificity::tree(owner)))
        };
        self.builtin = tree(&known.builtin).or(self.builtin);
        self.user = tree(&known.user).or(self.user);
    }
}

/// The most dotted steps a qualified name is resolved through. Real ones have a handful
/// (`Outer.Inner.method`); a longer name is code-exec without being walked (fail closed).
pub const MAX_DOTTED_STEPS: usize = 256;

/// A long name as a message shows it: its first 120 bytes, then `…`.
fn shortened(name: &str) -> Cow<'_, str> {
    if name.len() <= 120 {
        return Cow::Borrowed(name);
    }
    let mut end = 120;
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}\u{2026}", &name[..end]))
}

/// Names of functions that run commands, evaluate code, import modules, unpickle or read
/// files, which libraries re-export under their own module names (`from subprocess import
/// Popen`): under a library wildcard they are most likely that function.
const REEXPORTED_GADGETS: &[&str] = &[
    "Popen",
    "system",
    "popen",
    "check_output",
    "check_call",
    "getoutput",
    "getstatusoutput",
    "run_command",
    "spawnv",
    "spawnve",
    "spawnl",
    "spawnle",
    "spawnvp",
    "spawnlp",
    "execv",
    "execve",
    "execl",
    "execle",
    "execvp",
    "execvpe",
    "execlp",
    "startfile",
    "eval",
    "exec",
    "execfile",
    "import_module",
    "__import__",
    "run_path",
    "run_module",
    "_run_code",
    "loads",
    "load_pickle",
    "read_pickle",
    "unpickle",
    "fromfile",
    "open_memmap",
    "memmap",
    "load_library",
    "LoadLibrary",
];

/// Default-deny (SPEC §5) after the rules of the module docs: a standard-library global
/// that no row covers is code-exec, and a name in [`REEXPORTED_GADGETS`] that only a
/// library wildcard covers is code-exec too.
fn default_deny(module: &str, name: &str, resolved: Resolved) -> Resolved {
    if resolved.category == Category::CodeExec {
        return resolved;
    }
    let no_row = resolved.provenance == Provenance::Structural;
    if no_row && resolved.category == Category::Unknown && stdlib::is_stdlib(module) {
        return Resolved::structural(
            Category::CodeExec,
            format!(
                "a standard-library function pklinspect has not vetted (`{module}.{name}`): \
                 it may run commands, import modules or open files"
            ),
        );
    }
    let last = name.rsplit('.').next().unwrap_or(name);
    if resolved.provenance == Provenance::Wildcard
        && resolved.category == Category::Library
        && REEXPORTED_GADGETS.contains(&last)
    {
        return Resolved::structural(
            Category::CodeExec,
            format!(
                "has the name of a function that runs commands, evaluates code, unpickles \
                 or reads files (`{name}`, most likely re-exported by `{module}` from \
                 subprocess, os, pickle or numpy)"
            ),
        );
    }
    resolved
}

/// How specific a matching row is: an exact row, then the module's own `*`, then `**`
/// rows, the longer (nearer) module first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Specificity {
    kind: u8,
    stem: usize,
}

impl Specificity {
    const EXACT: Specificity = Specificity { kind: 2, stem: 0 };
    const STAR: Specificity = Specificity { kind: 1, stem: 0 };

    fn tree(stem: &str) -> Specificity {
        Specificity {
            kind: 0,
            stem: stem.len(),
        }
    }
}

/// A module's own wildcard: its `*`, else its `**`.
fn own_wildcard<'t>(
    rows: Option<&'t ModuleRows>,
    module: &str,
) -> Option<(&'t TableRow, Specificity)> {
    let rows = rows?;
    if let Some(row) = &rows.star {
        return Some((row, Specificity::STAR));
    }
    rows.tree
        .as_ref()
        .map(|row| (row, Specificity::tree(module)))
}

/// A package's `__main__` module (`pip.__main__`): importing it runs the command line.
/// (A `__main__` module is never a package, so it can only be the last component.)
fn package_main(module: &str) -> Option<Resolved> {
    module.ends_with(".__main__").then(|| {
        Resolved::structural(
            Category::CodeExec,
            format!("imports `{module}`, which runs the package's command-line program"),
        )
    })
}

/// The module a name most likely is, if it is one of [`CROWN_JEWELS`] (leading
/// underscores stripped: `_os`, `_sys`).
fn crown_jewel(name: &str) -> Option<&'static str> {
    let bare = normalise_module(name.trim_start_matches('_'));
    CROWN_JEWELS.iter().copied().find(|j| *j == bare)
}

/// `__name__`-style names: special attributes of modules, classes and functions.
fn is_dunder(name: &str) -> bool {
    name.len() > 4 && name.starts_with("__") && name.ends_with("__")
}

/// Non-empty dot-separated components without whitespace or control characters: what
/// `__import__` and `getattr` could possibly resolve.
fn is_dotted_path(s: &str) -> bool {
    !s.is_empty()
        && s.split('.')
            .all(|c| !c.is_empty() && !c.chars().any(|ch| ch.is_whitespace() || ch.is_control()))
}

/// Splits a user pattern into module and name, checking its shape.
fn parse_pattern(pattern: &str) -> Result<(&str, &str), String> {
    let Some((module, name)) = pattern.rsplit_once('.') else {
        return Err(format!(
            "pattern `{pattern}` names no module: expected `module.name`, `module.*` or \
             `module.**`"
        ));
    };
    let well_formed = |s: &str| is_dotted_path(s) && !s.contains('*');
    if !well_formed(module) {
        return Err(format!(
            "pattern `{pattern}` has a malformed module `{module}`: expected dot-separated \
             names without spaces or `*`"
        ));
    }
    if !(name == "*" || name == "**" || well_formed(name)) {
        return Err(format!(
            "pattern `{pattern}` has a malformed name `{name}`: expected a name, `*` or `**`"
        ));
    }
    Ok((module, name))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows are unique by `(module, name)`, so no row silently shadows another.
    #[test]
    fn rows_are_unique() {
        let mut seen = HashSet::default();
        for e in BUILTIN_TABLE {
            assert!(
                seen.insert((e.module, e.name)),
                "duplicate row {}.{}",
                e.module,
                e.name
            );
        }
    }

    /// Modules are dotted paths, names are a name, a qualified name, `*` or `**`.
    #[test]
    fn rows_are_well_formed() {
        for e in BUILTIN_TABLE {
            let ok_ident = |s: &str| {
                s.split('.').all(|c| {
                    !c.is_empty()
                        && c.chars().all(|ch| ch == '_' || ch.is_ascii_alphanumeric())
                        && !c.starts_with(|ch: char| ch.is_ascii_digit())
                })
            };
            assert!(ok_ident(e.module), "malformed module in {e:?}");
            assert!(
                e.name == "*" || e.name == "**" || ok_ident(e.name),
                "malformed name in {e:?}"
            );
            assert!(parse_pattern(&format!("{}.{}", e.module, e.name)).is_ok());
        }
    }

    /// A row under a Python 2 spelling could never match: input is normalised first.
    #[test]
    fn no_row_uses_a_python2_spelling() {
        // A `**` row of a renamed module still covers its submodules (`dbm.**` covers
        // `dbm.ndbm`, where Python 2's `dbm` now lives).
        for e in BUILTIN_TABLE.iter().filter(|e| e.name != "**") {
            assert_eq!(
                normalise_module(e.module),
                e.module,
                "row {}.{} is unreachable",
                e.module,
                e.name
            );
            assert_eq!(
                normalise(e.module, e.name),
                (Cow::Borrowed(e.module), Cow::Borrowed(e.name)),
                "row {}.{} is unreachable",
                e.module,
                e.name
            );
        }
    }

    /// Reasons are one lowercase-first sentence without a final full stop.
    #[test]
    fn reasons_are_one_lowercase_sentence() {
        for e in BUILTIN_TABLE {
            let r = e.reason;
            assert!(
                r.starts_with(|c: char| c.is_ascii_lowercase()),
                "reason of {e:?} must start lowercase"
            );
            assert!(!r.ends_with('.'), "reason of {e:?} ends with a full stop");
            assert!(!r.contains(". "), "reason of {e:?} has several sentences");
            assert!(!r.contains("  "), "reason of {e:?} has a double space");
        }
    }

    /// Dotted-name exact rows must not be shadowed by the structural rules (they are
    /// checked first), and a qualified row's first step must not itself be a module.
    #[test]
    fn qualified_rows_resolve_to_themselves() {
        let known = KnownGlobals::builtin();
        for e in BUILTIN_TABLE.iter().filter(|e| e.name.contains('.')) {
            let c = known.classify(e.module, e.name);
            assert_eq!(c.category, e.category, "{e:?}");
            assert_eq!(c.reason, e.reason, "{e:?}");
        }
    }

    /// Every exact row answers with its own category and reason: no structural rule or
    /// wildcard overrides a row written for exactly that global.
    #[test]
    fn exact_rows_resolve_to_themselves() {
        let known = KnownGlobals::builtin();
        for e in BUILTIN_TABLE.iter().filter(|e| !e.name.starts_with('*')) {
            let c = known.classify(e.module, e.name);
            assert_eq!(
                (c.category, c.reason.as_ref()),
                (e.category, e.reason),
                "{}.{}",
                e.module,
                e.name
            );
        }
    }

    #[test]
    fn wildcard_prefers_the_nearest_row() {
        let known = KnownGlobals::builtin();
        // torch.utils.data.** (library) is nearer than nothing, and its datapipes child
        // (code-exec) is nearer still.
        assert_eq!(
            known
                .classify("torch.utils.data.dataloader", "DataLoader")
                .category,
            Category::Library
        );
        assert_eq!(
            known
                .classify(
                    "torch.utils.data.datapipes.iter.fileopener",
                    "FileOpenerIterDataPipe"
                )
                .category,
            Category::CodeExec
        );
    }

    #[test]
    fn patterns_are_checked() {
        for bad in [
            "os", "", ".x", "a..b", "a.b c", "a.*.b", "a.***", "a.b*", "*.x",
        ] {
            assert!(parse_pattern(bad).is_err(), "{bad:?} accepted");
        }
        for good in ["a.b", "a.*", "a.**", "a.b.c", "__main__.Foo"] {
            assert!(parse_pattern(good).is_ok(), "{good:?} rejected");
        }
    }
}
