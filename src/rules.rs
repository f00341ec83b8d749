//! The rules behind findings: one table, each rule with a stable id, a default severity,
//! a one-line summary and an explanation (`pklinspect rules` prints them).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::classify::{Category, DenyEntry};

/// How serious a finding is. `Off` rules produce no findings. Policy files (and
/// `lint --show-config`) spell it as [`Severity::as_str`] does: `"off"`, `"info"`,
/// `"warning"`, `"error"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The rule is switched off: its findings are dropped.
    Off,
    /// Worth knowing; fails a lint run only with `fail-on = "info"`.
    Info,
    /// Probably a problem.
    Warning,
    /// A problem: lint fails by default.
    Error,
}

impl Severity {
    /// Its name in policies and output (`off`, `info`, `warning`, `error`).
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Off => "off",
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

macro_rules! rules {
    ($( $variant:ident = $id:literal, $severity:ident, category: $category:expr, security: $security:expr,
        $summary:literal, $explanation:literal; )*) => {
        /// A rule. Ids are kebab-case and stable: CI configurations refer to them.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Rule { $( #[doc = $summary] $variant, )* }

        /// Every rule, in the order `pklinspect rules` lists them.
        pub const RULES: &[Rule] = &[ $( Rule::$variant, )* ];

        impl Rule {
            /// The stable id.
            pub fn id(self) -> &'static str {
                match self { $( Rule::$variant => $id, )* }
            }
            /// Severity unless a policy says otherwise.
            pub fn default_severity(self) -> Severity {
                match self { $( Rule::$variant => Severity::$severity, )* }
            }
            /// One line.
            pub fn summary(self) -> &'static str {
                match self { $( Rule::$variant => $summary, )* }
            }
            /// What it detects and why it matters.
            pub fn explanation(self) -> &'static str {
                match self { $( Rule::$variant => $explanation, )* }
            }
            /// The rule with this id.
            pub fn from_id(id: &str) -> Option<Rule> {
                match id { $( $id => Some(Rule::$variant), )* _ => None }
            }
            /// The import category this rule reports, if it reports one (each category has
            /// at most one rule; `plain` and `array` have none).
            pub fn category(self) -> Option<Category> {
                match self { $( Rule::$variant => $category, )* }
            }
            /// GitHub code scanning's `security-severity` (a CVSS-like score) for rules about
            /// what a file does when loaded; `None` for rules about whether it loads elsewhere.
            pub fn security_severity(self) -> Option<&'static str> {
                match self { $( Rule::$variant => $security, )* }
            }
        }
    };
}

rules! {
    CodeExec = "code-exec", Error, category: Some(Category::CodeExec), security: Some("9.8"),
        "the file imports something that runs code or touches the system when it is loaded",
        "Unpickling calls the globals a pickle names. Functions such as os.system, builtins.eval, \
         subprocess.Popen or runpy._run_code run whatever the file's author chose, with the \
         loader's privileges, the moment pickle.load (or joblib.load, torch.load) reads the file. \
         Never load such a file; get its data out with `pklinspect extract`.";
    UnvettedCall = "unvetted-call", Error, category: None, security: Some("8.8"),
        "the file calls a function or class that pklinspect has not vetted",
        "Unpickling calls the globals a pickle names with arguments the file chooses (REDUCE, \
         INST, OBJ, the copyreg routes). pklinspect keeps a list of vetted call targets: the \
         value types and reconstructors that real picklers write (datetime.datetime, \
         numpy.core.multiarray._reconstruct, torch._utils._rebuild_tensor_v2, …), each with \
         where it comes from. Any other call is this finding, even inside a library that is \
         otherwise only `library-import`: libraries hold functions that evaluate strings, run \
         commands or read files. A reference that is not called (a class instantiated without \
         __init__, a function stored in the object) is not a call. If you trust the callable, \
         vet it in pklinspect.toml: `allow = [{ pattern = \"acme.models.build\", reason = \
         \"our own constructor\" }]` (an exact `module.name`; a `module.**` entry vets every \
         callable of that package). The verdict of a file whose worst finding is an unvetted \
         call is `unvetted`: lint fails on it.";
    UserDefined = "user-defined", Error, category: Some(Category::UserDefined), security: None,
        "the file needs a class or function defined in the script that wrote it",
        "Objects of classes defined in a script (__main__) or notebook are pickled by reference to \
         that script. They load only where exactly that code is importable under the same name: \
         anywhere else pickle.load fails with AttributeError or ModuleNotFoundError. Convert \
         them to plain data (dicts, lists, arrays) before saving.";
    RuntimeHandle = "runtime-handle", Error, category: Some(Category::RuntimeHandle), security: None,
        "the file holds an object tied to a live runtime (tensors of a framework session, locks, files)",
        "Objects such as TensorFlow eager tensors or resource variables, thread locks and open \
         files belong to the process that made them. They load only inside the same framework \
         runtime and version, if at all. Save their values (e.g. as numpy arrays) instead.";
    UnknownImport = "unknown-import", Warning, category: Some(Category::Unknown), security: Some("5.3"),
        "the file imports something pklinspect does not know",
        "The global is neither standard library, nor known array machinery, nor a known library. \
         Any importable callable can run code on load, so an unknown one deserves a look.";
    LibraryImport = "library-import", Off, category: Some(Category::Library), security: None,
        "the file needs a third-party library (and a compatible version) to load",
        "Classes of pandas, scikit-learn, keras and similar libraries load only where that \
         library is installed, in a version whose internals match the writer's.";
    DeniedImport = "denied-import", Error, category: None, security: None,
        "the file imports a global that the project's policy forbids (a `deny` entry)",
        "A policy file (pklinspect.toml, or [tool.pklinspect] in pyproject.toml) can list globals \
         a project never wants in its committed files, each with a reason: a class that should \
         have been saved as plain data, a framework whose pickles break between versions. The \
         finding repeats the policy's reason. Deny entries are checked whatever the global's \
         category, and an `allow` entry does not lift them.";
    ExtensionRef = "extension-ref", Error, category: None, security: Some("8.1"),
        "the file refers to copyreg's extension registry (EXT1/EXT2/EXT4)",
        "Extension codes name a global through a registry that is empty in a fresh interpreter. \
         Loading fails unless the loader registered the code, and what it resolves to cannot be \
         known from the file.";
    UnreachablePayload = "unreachable-payload", Warning, category: None, security: Some("7.5"),
        "code-executing pickle data sits where no loader reads it (after the data a loader stops at)",
        "A loader reads one pickle, or pickles one after another. Bytes after something that is \
         not a pickle are never reached by pickle.load, but a tool or a later format change \
         might read them: a hidden payload there is suspicious even though it is not run today.";
    Numpy2Only = "numpy2-only", Warning, category: None, security: None,
        "the file names numpy._core, which only numpy 2 has: numpy 1.x cannot load it",
        "numpy 2 writes its array machinery as numpy._core.*. numpy 1.x has no such module, so \
         the file fails to load there (ModuleNotFoundError). numpy 2 still reads files written \
         by numpy 1.";
    OutOfBand = "out-of-band-buffer", Warning, category: None, security: None,
        "array data was written out of band (pickle protocol 5) and is not in the file",
        "With a buffer_callback, protocol 5 stores large buffers outside the pickle stream. The \
         file alone cannot be loaded: the loader must be handed the same buffers.";
    PersistentRef = "persistent-ref", Info, category: None, security: None,
        "the file refers to objects kept outside it (persistent ids)",
        "PERSID/BINPERSID opcodes ask the loader's persistent_load to supply an object. torch \
         uses them for tensor storages; a plain pickle.load fails on them.";
    Malformed = "malformed", Error, category: None, security: None,
        "the file is not a valid pickle (or container) and cannot be loaded",
        "The bytes are truncated, corrupt, or break the pickle machine's rules (stack underflow, \
         unknown memo key, unsupported protocol). The message gives the byte offset.";
    TrailingData = "trailing-data", Warning, category: None, security: None,
        "bytes follow the last pickle and are not a pickle",
        "Loaders stop after the data they expect and ignore what follows. Trailing bytes are \
         harmless to loading but may be a damaged write or hidden data.";
    LimitExceeded = "limit-exceeded", Error, category: None, security: None,
        "the file exceeds a resource limit and was not fully read",
        "pklinspect bounds nodes, memo entries, nesting depth and decompressed size so that no \
         input can exhaust memory. Raise the limit if the file is trusted to be that large.";
    UnsafeMemberName = "unsafe-member-name", Warning, category: None, security: Some("6.5"),
        "an archive member's name would escape the folder it is extracted to (zip-slip)",
        "A member named with a `..` component, an absolute path or a drive letter is written \
         outside the target folder by tools that extract archives naively, overwriting files \
         of the extracting user. No pickle loader writes members out, but no legitimate \
         checkpoint or npz needs such a name. The member is still analysed.";
    DuplicateMember = "duplicate-member", Warning, category: None, security: Some("6.5"),
        "an archive lists the same member name more than once",
        "Zip readers disagree on which copy of a duplicated name they read: Python's zipfile \
         (numpy.load) reads the last, miniz (torch.load) whichever its sorted index finds, \
         other tools the first. A scanner that checks one copy while the loader reads \
         another is blind: every copy is analysed, and the duplication reported.";
    Unreadable = "unreadable", Error, category: None, security: None,
        "the file could not be read at all (permissions, an I/O error)",
        "pklinspect could not open or read the file, so nothing in it was checked. `lint` exits \
         with code 2 whatever this rule's severity: a check that did not happen is not a pass.";
    LfsPointer = "lfs-pointer", Warning, category: None, security: None,
        "the file is a Git LFS pointer: the model it stands for was not fetched",
        "Git LFS replaces large files by a three-line pointer (`version \
         https://git-lfs.github.com/spec/v1`, an oid, a size). A checkout without LFS \
         (actions/checkout leaves pointers unless `lfs: true`) has only the pointer, so the real \
         file was not checked, and loading the pointer fails. Fetch the LFS objects (`git lfs \
         pull`, or `with: lfs: true` in actions/checkout) before linting.";
    ParserDifferential = "parser-differential", Error, category: None, security: Some("9.8"),
        "python's own loaders read the same bytes differently (C vs pure-Python unpickler, or before vs after a fix)",
        "A scanner sees one reading of a pickle; the loader that runs it may see another. Frames \
         whose opcodes run past the frame's end, INT/LONG/FLOAT lines with a NUL byte or an octal \
         spelling, and FLOAT text only pickle.py accepts are read differently by `_pickle` (the C \
         unpickler, and its file reader before CPython 3.14.7/3.13.15) and `pickle._Unpickler`. \
         pklinspect analyses every reading and names the versions and the offset; a file built to \
         be read two ways is treated as dangerous.";
}

impl Rule {
    /// The rule that reports imports of `category` (`code-exec` for `Category::CodeExec`, …),
    /// from the [`Rule::category`] column.
    pub fn for_category(category: Category) -> Option<Rule> {
        RULES
            .iter()
            .copied()
            .find(|r| r.category() == Some(category))
    }
}

/// What the findings pipeline applies to what the analysis detected: each rule's severity
/// (a policy may change the defaults; `off` drops the rule's findings) and the policy's deny
/// entries. The default is the built-in policy, which `explain` uses.
#[derive(Clone, Debug, Default)]
pub struct RuleSet {
    severities: BTreeMap<Rule, Severity>,
    /// Globals the policy forbids, each a `denied-import` finding wherever it is imported.
    pub deny: Vec<DenyEntry>,
}

impl RuleSet {
    /// Sets `rule`'s severity.
    pub fn set_severity(&mut self, rule: Rule, severity: Severity) {
        self.severities.insert(rule, severity);
    }

    /// The severity of `rule` here.
    pub fn severity(&self, rule: Rule) -> Severity {
        self.severities
            .get(&rule)
            .copied()
            .unwrap_or_else(|| rule.default_severity())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each category that is worth a finding has exactly one rule; plain and array none.
    #[test]
    fn every_reported_category_has_one_rule() {
        for category in Category::ALL {
            let rules: Vec<Rule> = RULES
                .iter()
                .copied()
                .filter(|r| r.category() == Some(category))
                .collect();
            let expected = usize::from(!matches!(category, Category::Plain | Category::Array));
            assert_eq!(rules.len(), expected, "{category}: {rules:?}");
        }
    }

    #[test]
    fn ids_are_unique_kebab_case_and_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for &rule in RULES {
            let id = rule.id();
            assert!(seen.insert(id), "duplicate {id}");
            assert!(id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c == '-' || c.is_ascii_digit()));
            assert_eq!(Rule::from_id(id), Some(rule));
            assert!(!rule.summary().is_empty() && !rule.explanation().is_empty());
        }
    }

    /// CI configurations and SARIF consumers refer to these ids: they never change.
    #[test]
    fn ids_are_stable() {
        let ids: Vec<&str> = RULES.iter().map(|r| r.id()).collect();
        assert_eq!(
            ids,
            [
                "code-exec",
                "unvetted-call",
                "user-defined",
                "runtime-handle",
                "unknown-import",
                "library-import",
                "denied-import",
                "extension-ref",
                "unreachable-payload",
                "numpy2-only",
                "out-of-band-buffer",
                "persistent-ref",
                "malformed",
                "trailing-data",
                "limit-exceeded",
                "unsafe-member-name",
                "duplicate-member",
                "unreadable",
                "lfs-pointer",
                "parser-differential",
            ]
        );
    }

    /// Summaries are one lowercase line without a final full stop: `rules` and the text
    /// output print them after other text.
    #[test]
    fn summaries_are_one_lowercase_line() {
        for &rule in RULES {
            let s = rule.summary();
            assert!(s.starts_with(|c: char| c.is_ascii_lowercase()), "{s}");
            assert!(!s.ends_with('.') && !s.contains('\n'), "{s}");
        }
    }
}
