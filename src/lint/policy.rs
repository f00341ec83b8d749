//! The policy `lint` applies: rule severities, `allow` and `deny` lists of globals,
//! `per-path` overrides, `exclude` globs, limits and the failing severity. It is read from
//! `pklinspect.toml`, or the `[tool.pklinspect]` table of `pyproject.toml`, found upward
//! from the current directory ([`discover`]), or from a file the user names ([`load`]).
//!
//! ```toml
//! fail-on = "error"                      # or "warning", "info", "never"
//! exclude = ["tests/hostile/"]           # .gitignore syntax, relative to this file
//! allow = ["acme.models.**", { pattern = "__main__.Config", reason = "tiny dataclass" }]
//! deny = [{ pattern = "torch.nn.**", reason = "commit state_dicts, not modules" }]
//!
//! [rules]
//! unknown-import = "error"
//! numpy2-only = "off"
//!
//! [limits]
//! max-decompressed = 8589934592
//!
//! [[per-path]]
//! paths = ["models/**"]
//! allow = ["sklearn.**"]
//! deny = ["__main__.*"]
//! rules = { library-import = "off" }
//! ```
//!
//! Unknown keys are errors that name the key. Patterns are those of
//! [`KnownGlobals::add`]: `module.name`, `module.*` (the module's own attributes) and
//! `module.**` (the module and its submodules).
//!
//! * An **allow** entry makes the global count as `plain`: no finding, and it does not worsen
//!   the verdict. It goes through the classifier's safeguard: a wildcard cannot unlock a
//!   global the built-in table names exactly as code-exec (`torch.*` does not allow
//!   `torch.load`, `torch.load` itself would), nor the structural code-exec rules.
//! * A **deny** entry raises a `denied-import` finding with the entry's reason, whatever the
//!   global's category; no allow entry lifts it (turn the rule off for a path instead).
//! * **per-path** overrides apply, in file order, to files that match one of their `paths`
//!   (`.gitignore` syntax, relative to the policy file): their rule severities replace the
//!   ones before, their allow and deny entries add to them.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Component, Path, PathBuf};

use ignore::gitignore::{Gitignore, GitignoreBuilder};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeStruct, Serializer};
use serde::{Deserialize, Serialize};

use crate::classify::{Category, DenyEntry, KnownGlobals};
use crate::inspect::Options;
use crate::limits::Limits;
use crate::rules::{Rule, RuleSet, Severity, RULES};

/// The policy file's name.
pub const CONFIG_FILE: &str = "pklinspect.toml";
/// Python projects' metadata file; the policy is its `[tool.pklinspect]` table.
pub const PYPROJECT_FILE: &str = "pyproject.toml";

/// The lowest severity that makes `lint` exit with 1.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FailOn {
    /// Any finding fails the run, info ones included.
    Info,
    /// Warnings and errors fail the run.
    Warning,
    /// Only errors fail the run (the default): warnings and info findings are reported
    /// without failing CI.
    #[default]
    Error,
    /// Findings never fail the run (exit 0 unless a file cannot be read).
    Never,
}

impl FailOn {
    /// The failing severity; `None` for never.
    pub fn severity(self) -> Option<Severity> {
        match self {
            FailOn::Info => Some(Severity::Info),
            FailOn::Warning => Some(Severity::Warning),
            FailOn::Error => Some(Severity::Error),
            FailOn::Never => None,
        }
    }
}

/// One allow or deny entry: a pattern and an optional reason. Written as a string
/// (`"sklearn.**"`) or a table (`{ pattern = "sklearn.**", reason = "our models" }`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GlobalEntry {
    pub pattern: String,
    pub reason: Option<String>,
}

impl<'de> Deserialize<'de> for GlobalEntry {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EntryVisitor;
        impl<'de> Visitor<'de> for EntryVisitor {
            type Value = GlobalEntry;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a pattern such as \"module.name\", or a table { pattern, reason }")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<GlobalEntry, E> {
                Ok(GlobalEntry {
                    pattern: v.to_string(),
                    reason: None,
                })
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<GlobalEntry, A::Error> {
                let mut pattern = None;
                let mut reason = None;
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "pattern" => pattern = Some(map.next_value::<String>()?),
                        "reason" => reason = Some(map.next_value::<String>()?),
                        other => {
                            return Err(de::Error::unknown_field(other, &["pattern", "reason"]))
                        }
                    }
                }
                let pattern = pattern.ok_or_else(|| de::Error::missing_field("pattern"))?;
                Ok(GlobalEntry { pattern, reason })
            }
        }
        deserializer.deserialize_any(EntryVisitor)
    }
}

impl Serialize for GlobalEntry {
    /// As it would be written: a string without a reason, a table with one.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let Some(reason) = &self.reason else {
            return serializer.serialize_str(&self.pattern);
        };
        let mut s = serializer.serialize_struct("GlobalEntry", 2)?;
        s.serialize_field("pattern", &self.pattern)?;
        s.serialize_field("reason", reason)?;
        s.end()
    }
}

/// `[limits]`: the resource limits of [`Limits`], each optional (declared with them, in
/// `src/limits.rs`).
pub use crate::limits::LimitOverrides as LimitsConfig;

/// One `[[per-path]]` override.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PerPath {
    /// Globs in `.gitignore` syntax, relative to the policy file's folder.
    pub paths: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<GlobalEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deny: Vec<GlobalEntry>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub rules: BTreeMap<String, Severity>,
}

/// A policy file as written (also the `[tool.pklinspect]` table of `pyproject.toml`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_on: Option<FailOn>,
    /// Unknown references are errors too (`unknown-import` at error, unless `[rules]` sets
    /// it), like `--strict`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub strict: bool,
    /// Check only files with these extensions (like `--extensions`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extensions: Option<Vec<String>>,
    /// Globs in `.gitignore` syntax, relative to the policy file's folder.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<GlobalEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deny: Vec<GlobalEntry>,
    /// Rule id → severity.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub rules: BTreeMap<String, Severity>,
    #[serde(default, skip_serializing_if = "LimitsConfig::is_default")]
    pub limits: LimitsConfig,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub per_path: Vec<PerPath>,
}

impl LimitsConfig {
    fn is_default(&self) -> bool {
        *self == LimitsConfig::default()
    }
}

impl Config {
    /// Parses a `pklinspect.toml`.
    pub fn from_toml(text: &str) -> Result<Config, String> {
        toml::from_str(text).map_err(|e| e.to_string().trim_end().to_string())
    }

    /// The `[tool.pklinspect]` table of a `pyproject.toml`; `Ok(None)` when it has none.
    pub fn from_pyproject(text: &str) -> Result<Option<Config>, String> {
        let table: toml::Table = toml::from_str(text).map_err(|e| e.to_string())?;
        let Some(section) = table.get("tool").and_then(|tool| tool.get("pklinspect")) else {
            return Ok(None);
        };
        section
            .clone()
            .try_into::<Config>()
            .map(Some)
            .map_err(|e| format!("[tool.pklinspect]: {}", e.to_string().trim_end()))
    }
}

/// Where the policy came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// No policy file: built-in defaults.
    Defaults,
    /// A `pklinspect.toml` (or any file given with `--config`).
    File(PathBuf),
    /// The `[tool.pklinspect]` table of this `pyproject.toml`.
    Pyproject(PathBuf),
}

impl Source {
    /// The file, if any.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Source::Defaults => None,
            Source::File(p) | Source::Pyproject(p) => Some(p),
        }
    }
}

/// A policy file that could not be used: the file and what is wrong, naming the key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The policy file, as it was found or named (so a message can point at it).
    pub file: PathBuf,
    /// What is wrong, naming the key or table.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file.display(), self.message)
    }
}

impl std::error::Error for ConfigError {}

/// Reads the policy file the user named. A file called `pyproject.toml` is read for its
/// `[tool.pklinspect]` table (which must be there); any other file is a `pklinspect.toml`.
pub fn load(file: &Path) -> Result<(Source, Config), ConfigError> {
    let error = |message: String| ConfigError {
        file: file.to_path_buf(),
        message,
    };
    let text = std::fs::read_to_string(file).map_err(|e| error(format!("cannot read: {e}")))?;
    if file.file_name().is_some_and(|n| n == PYPROJECT_FILE) {
        match Config::from_pyproject(&text).map_err(error)? {
            Some(config) => Ok((Source::Pyproject(file.to_path_buf()), config)),
            None => Err(error("has no [tool.pklinspect] table".to_string())),
        }
    } else {
        let config = Config::from_toml(&text).map_err(error)?;
        Ok((Source::File(file.to_path_buf()), config))
    }
}

/// Finds the policy for `start` (an absolute folder, normally the current directory):
/// in `start` and then each parent, the first `pklinspect.toml`, or `pyproject.toml` with
/// a `[tool.pklinspect]` table (a `pklinspect.toml` beside it wins). A `pyproject.toml`
/// without the table is passed over, as ruff does with its own table.
pub fn discover(start: &Path) -> Result<(Source, Config), ConfigError> {
    for dir in start.ancestors() {
        let candidate = dir.join(CONFIG_FILE);
        if candidate.is_file() {
            return load(&candidate);
        }
        let pyproject = dir.join(PYPROJECT_FILE);
        if pyproject.is_file() {
            let text = std::fs::read_to_string(&pyproject).map_err(|e| ConfigError {
                file: pyproject.clone(),
                message: format!("cannot read: {e}"),
            })?;
            let found = Config::from_pyproject(&text).map_err(|message| ConfigError {
                file: pyproject.clone(),
                message,
            })?;
            if let Some(config) = found {
                return Ok((Source::Pyproject(pyproject), config));
            }
        }
    }
    Ok((Source::Defaults, Config::default()))
}

/// What applies to one file: the inspect options — limits, known globals with the allow
/// entries, and the rule set (each rule's severity and the deny entries) that the findings
/// pipeline applies.
pub struct Scope {
    pub options: Options,
}

/// A `[[per-path]]` override, compiled.
struct Override {
    matcher: Gitignore,
    spec: PerPath,
}

/// The policy in force: the file it came from, the folder its globs are relative to, and
/// everything a file's `Scope` is made from.
pub struct Policy {
    /// Where the policy came from (a file, a `pyproject.toml` table, or the built-in
    /// defaults), for messages and `effective_toml`'s header.
    pub source: Source,
    /// Absolute; `exclude` and `per-path` globs are relative to it.
    pub root: PathBuf,
    /// Absolute current directory: relative paths from the walk are relative to it.
    cwd: PathBuf,
    /// The lowest severity that fails the run (the CLI's `--fail-on` replaces it).
    pub fail_on: FailOn,
    /// `strict = true` or `--strict`: unknown references are errors too.
    pub strict: bool,
    /// Check only these extensions (`None`: the built-in selection).
    pub extensions: Option<Vec<String>>,
    /// The limits every file is read under: the defaults with the policy's `[limits]`
    /// table applied.
    pub limits: Limits,
    config: Config,
    exclude: Gitignore,
    overrides: Vec<Override>,
}

impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Policy")
            .field("source", &self.source)
            .field("root", &self.root)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Makes `path` absolute against `cwd` and removes `.` and `..` without touching the file
/// system (symbolic links are not resolved: globs match the path as the user sees it).
pub fn absolute(cwd: &Path, path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in cwd.join(path).components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

impl Policy {
    /// Checks a configuration and compiles its globs. `cwd` is the absolute current
    /// directory; globs are relative to the policy file's folder (or `cwd` without one).
    pub(crate) fn new(source: Source, config: Config, cwd: &Path) -> Result<Policy, String> {
        let cwd = absolute(Path::new("/"), cwd);
        let root = match source.path() {
            Some(file) => {
                let file = absolute(&cwd, file);
                file.parent().map_or_else(|| cwd.clone(), Path::to_path_buf)
            }
            None => cwd.clone(),
        };
        check_rules(&config.rules, "[rules]")?;
        let exclude = globs(&root, &config.exclude, "exclude")?;
        let mut overrides = Vec::with_capacity(config.per_path.len());
        for (i, spec) in config.per_path.iter().enumerate() {
            let place = format!("[[per-path]] #{}", i + 1);
            if spec.paths.is_empty() {
                return Err(format!("{place}: `paths` is empty: it would match nothing"));
            }
            check_rules(&spec.rules, &format!("{place} rules"))?;
            overrides.push(Override {
                matcher: globs(&root, &spec.paths, &format!("{place} paths"))?,
                spec: spec.clone(),
            });
        }
        let mut limits = Limits::default();
        config.limits.apply(&mut limits);
        let policy = Policy {
            fail_on: config.fail_on.unwrap_or(FailOn::Error),
            strict: config.strict,
            extensions: config.extensions.clone(),
            source,
            root,
            cwd,
            limits,
            config,
            exclude,
            overrides,
        };
        // Every allow and deny entry, at the top and in each override, is checked now, so a
        // mistake is reported once, before any file is read.
        policy.scope(&[])?;
        for i in 0..policy.overrides.len() {
            policy.scope(&[i])?;
        }
        Ok(policy)
    }

    /// The policy file the user named (`load`), for a run in `cwd`.
    pub fn load(file: &Path, cwd: &Path) -> Result<Policy, ConfigError> {
        let (source, config) = load(file)?;
        Policy::from_file(source, config, cwd)
    }

    /// The policy found upward from `cwd` (`discover`), or the built-in one if there is
    /// none.
    pub fn discover(cwd: &Path) -> Result<Policy, ConfigError> {
        let (source, config) = discover(cwd)?;
        Policy::from_file(source, config, cwd)
    }

    /// [`Policy::new`] for what [`load`] or [`discover`] read, with its error naming the
    /// file; without a file, the built-in policy.
    fn from_file(source: Source, config: Config, cwd: &Path) -> Result<Policy, ConfigError> {
        let Some(file) = source.path().map(Path::to_path_buf) else {
            return Ok(Policy::defaults(cwd));
        };
        Policy::new(source, config, cwd).map_err(|message| ConfigError { file, message })
    }

    /// The absolute current directory the policy was made for.
    pub(crate) fn cwd(&self) -> &Path {
        &self.cwd
    }

    /// The built-in policy: default severities, no lists, default limits.
    pub fn defaults(cwd: &Path) -> Policy {
        // The default configuration has nothing that can fail to compile.
        match Policy::new(Source::Defaults, Config::default(), cwd) {
            Ok(policy) => policy,
            Err(_) => unreachable!("the default policy compiles"),
        }
    }

    /// `path` relative to the policy's root, if it is under it.
    fn relative(&self, path: &Path) -> Option<PathBuf> {
        let absolute = absolute(&self.cwd, path);
        absolute
            .strip_prefix(&self.root)
            .ok()
            .map(Path::to_path_buf)
    }

    /// Whether `exclude` matches the path (a folder's files are excluded with it).
    pub(crate) fn is_excluded(&self, path: &Path, is_dir: bool) -> bool {
        if self.config.exclude.is_empty() {
            return false;
        }
        self.relative(path).is_some_and(|rel| {
            !rel.as_os_str().is_empty()
                && self
                    .exclude
                    .matched_path_or_any_parents(&rel, is_dir)
                    .is_ignore()
        })
    }

    /// The indices of the `per-path` overrides that apply to a file.
    pub(crate) fn overrides_for(&self, path: &Path) -> Vec<usize> {
        if self.overrides.is_empty() {
            return Vec::new();
        }
        let Some(rel) = self.relative(path) else {
            return Vec::new();
        };
        self.overrides
            .iter()
            .enumerate()
            .filter(|(_, o)| {
                o.matcher
                    .matched_path_or_any_parents(&rel, false)
                    .is_ignore()
            })
            .map(|(i, _)| i)
            .collect()
    }

    /// The scope made of the top level and these overrides (in this order).
    pub(crate) fn scope(&self, overrides: &[usize]) -> Result<Scope, String> {
        let mut severities: BTreeMap<Rule, Severity> = BTreeMap::new();
        let mut allow: Vec<GlobalEntry> = Vec::new();
        let mut deny: Vec<GlobalEntry> = Vec::new();
        let mut layer =
            |rules: &BTreeMap<String, Severity>, a: &[GlobalEntry], d: &[GlobalEntry]| {
                for (id, severity) in rules {
                    if let Some(rule) = Rule::from_id(id) {
                        severities.insert(rule, *severity);
                    }
                }
                for entry in a {
                    // A later entry for the same pattern replaces the earlier one.
                    allow.retain(|e| e.pattern != entry.pattern);
                    allow.push(entry.clone());
                }
                for entry in d {
                    deny.retain(|e| e.pattern != entry.pattern);
                    deny.push(entry.clone());
                }
            };
        layer(&self.config.rules, &self.config.allow, &self.config.deny);
        for &i in overrides {
            if let Some(o) = self.overrides.get(i) {
                layer(&o.spec.rules, &o.spec.allow, &o.spec.deny);
            }
        }
        let source = self.source_name();
        let mut known = KnownGlobals::builtin();
        for entry in &allow {
            let reason = entry
                .reason
                .clone()
                .unwrap_or_else(|| format!("allowed by {source}"));
            known
                .add(&entry.pattern, Category::Plain, reason)
                .map_err(|e| format!("allow: {e}"))?;
        }
        let deny = deny
            .iter()
            .map(|e| DenyEntry::new(&e.pattern, e.reason.clone()).map_err(|m| format!("deny: {m}")))
            .collect::<Result<Vec<_>, _>>()?;
        let mut rules = RuleSet::default();
        rules.deny = deny;
        if self.strict {
            rules.set_severity(Rule::UnknownImport, Severity::Error);
        }
        for (rule, severity) in severities {
            rules.set_severity(rule, severity);
        }
        Ok(Scope {
            options: Options {
                limits: self.limits.clone(),
                known,
                // Hints are for `explain`; lint reports findings only.
                portable_hints: false,
                trace: false,
                // Loader verdicts and writer facts are for `explain`.
                loaders: false,
                rules,
            },
        })
    }

    /// The policy file's name for messages (`pklinspect.toml`, `the built-in policy`).
    pub(crate) fn source_name(&self) -> String {
        match &self.source {
            Source::Defaults => "the built-in policy".to_string(),
            Source::File(p) => p.display().to_string(),
            Source::Pyproject(p) => format!("{} [tool.pklinspect]", p.display()),
        }
    }

    /// The effective policy as a policy file (TOML), with a comment saying where it came
    /// from: every rule's severity and every limit spelled out. Reading it back gives the
    /// same policy.
    pub fn effective_toml(&self) -> String {
        let mut rules = BTreeMap::new();
        for &rule in RULES {
            let severity = self.config.rules.get(rule.id()).copied().unwrap_or(
                if self.strict && rule == Rule::UnknownImport {
                    Severity::Error
                } else {
                    rule.default_severity()
                },
            );
            rules.insert(rule.id().to_string(), severity);
        }
        let effective = Config {
            fail_on: Some(self.fail_on),
            strict: self.strict,
            extensions: self.extensions.clone(),
            exclude: self.config.exclude.clone(),
            allow: self.config.allow.clone(),
            deny: self.config.deny.clone(),
            rules,
            limits: LimitsConfig::of(&self.limits),
            per_path: self.config.per_path.clone(),
        };
        let mut out = String::new();
        out.push_str("# pklinspect lint: the effective policy\n");
        out.push_str(&format!("# from: {}\n", self.source_name()));
        out.push_str(&format!(
            "# globs are relative to: {}\n",
            self.root.display()
        ));
        if self.extensions.is_none() {
            out.push_str(&format!(
                "# files checked: every file whose content may hold a pickle; .{} must be \
                 pickles\n",
                crate::lint::select::PICKLE_EXTENSIONS.join(" ."),
            ));
        }
        match toml::to_string(&effective) {
            Ok(text) => out.push_str(&text),
            Err(e) => out.push_str(&format!("# cannot write the policy as TOML: {e}\n")),
        }
        out
    }
}

/// Unknown rule ids are errors that name them.
fn check_rules(rules: &BTreeMap<String, Severity>, place: &str) -> Result<(), String> {
    for id in rules.keys() {
        if Rule::from_id(id).is_none() {
            let known: Vec<&str> = RULES.iter().map(|r| r.id()).collect();
            return Err(format!(
                "{place}: unknown rule `{id}`: expected one of {}",
                known.join(", ")
            ));
        }
    }
    Ok(())
}

/// Compiles globs in `.gitignore` syntax rooted at `root`.
fn globs(root: &Path, patterns: &[String], place: &str) -> Result<Gitignore, String> {
    let mut builder = GitignoreBuilder::new(root);
    for pattern in patterns {
        builder
            .add_line(None, pattern)
            .map_err(|e| format!("{place}: bad glob `{pattern}`: {e}"))?;
    }
    builder
        .build()
        .map_err(|e| format!("{place}: bad globs: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(text: &str) -> Result<Policy, String> {
        let config = Config::from_toml(text)?;
        Policy::new(
            Source::File(PathBuf::from("/repo/pklinspect.toml")),
            config,
            Path::new("/repo"),
        )
    }

    #[test]
    fn unknown_keys_are_errors_that_name_the_key() {
        for (text, key) in [
            ("fail_on = \"error\"", "fail_on"),
            ("[rules]\ncode-exec = \"error\"\n[limit]\n", "limit"),
            ("[limits]\nmax-nodez = 3", "max-nodez"),
            ("allow = [{ pattern = \"a.b\", why = \"x\" }]", "why"),
            ("[[per-path]]\npaths = [\"a\"]\nexclude = []", "exclude"),
        ] {
            let err = Config::from_toml(text).unwrap_err();
            assert!(err.contains(&format!("`{key}`")), "{text:?}: {err}");
        }
        let err = policy("[rules]\ncode-exek = \"off\"").unwrap_err();
        assert!(err.contains("`code-exek`"), "{err}");
        let err = policy("[rules]\ncode-exec = \"fatal\"").unwrap_err();
        assert!(err.contains("fatal"), "{err}");
    }

    #[test]
    fn bad_patterns_are_errors() {
        assert!(policy("allow = [\"os\"]").unwrap_err().contains("`os`"));
        assert!(policy("deny = [\"a.b c\"]").is_err());
        assert!(
            policy("allow = [\"a.b\", \"a.b\"]").is_ok(),
            "the later one wins"
        );
        assert!(policy("[[per-path]]\npaths = []").is_err());
    }

    #[test]
    fn severities_layer_top_level_then_overrides_in_order() {
        let p = policy(
            "[rules]\nunknown-import = \"error\"\n\
             [[per-path]]\npaths = [\"models/**\"]\nrules = { unknown-import = \"info\" }\n\
             [[per-path]]\npaths = [\"models/legacy/\"]\nrules = { unknown-import = \"off\" }\n",
        )
        .unwrap();
        let sev = |path: &str| {
            let key = p.overrides_for(Path::new(path));
            p.scope(&key)
                .unwrap()
                .options
                .rules
                .severity(Rule::UnknownImport)
        };
        assert_eq!(sev("/repo/a.pkl"), Severity::Error);
        assert_eq!(sev("/repo/models/a.pkl"), Severity::Info);
        assert_eq!(sev("models/legacy/a.pkl"), Severity::Off);
        assert_eq!(sev("/elsewhere/models/a.pkl"), Severity::Error);
        // Rules not named keep their default.
        assert_eq!(
            p.scope(&[])
                .unwrap()
                .options
                .rules
                .severity(Rule::LibraryImport),
            Severity::Off
        );
    }

    #[test]
    fn allow_makes_plain_but_not_past_the_safeguard() {
        let p = policy("allow = [\"sklearn.**\", \"torch.*\", \"__main__.Config\"]").unwrap();
        let known = p.scope(&[]).unwrap().options.known;
        let cat = |m: &str, n: &str| known.classify(m, n).category;
        assert_eq!(
            cat("sklearn.linear_model._base", "LinearRegression"),
            Category::Plain
        );
        assert_eq!(cat("__main__", "Config"), Category::Plain);
        assert_eq!(cat("__main__", "Other"), Category::UserDefined);
        assert_eq!(cat("torch", "load"), Category::CodeExec);
    }

    #[test]
    fn exclude_and_per_path_globs_are_relative_to_the_policy_file() {
        let p = policy(
            "exclude = [\"tests/hostile/\", \"*.tmp.pkl\"]\n\
             [[per-path]]\npaths = [\"models/**\"]\n",
        )
        .unwrap();
        assert!(p.is_excluded(Path::new("/repo/tests/hostile/a.pkl"), false));
        assert!(p.is_excluded(Path::new("tests/hostile"), true));
        assert!(p.is_excluded(Path::new("./deep/x.tmp.pkl"), false));
        assert!(!p.is_excluded(Path::new("tests/a.pkl"), false));
        assert!(!p.is_excluded(Path::new("/other/tests/hostile/a.pkl"), false));
        assert_eq!(p.overrides_for(Path::new("models/a/b.pkl")), vec![0]);
        assert_eq!(p.overrides_for(Path::new("sub/../models/b.pkl")), vec![0]);
        assert!(p.overrides_for(Path::new("data/b.pkl")).is_empty());
    }

    #[test]
    fn pyproject_table() {
        let text = "[project]\nname = \"x\"\n[tool.pklinspect]\nfail-on = \"warning\"\n";
        let config = Config::from_pyproject(text).unwrap().unwrap();
        assert_eq!(config.fail_on, Some(FailOn::Warning));
        assert_eq!(Config::from_pyproject("[tool.ruff]\n").unwrap(), None);
        let err = Config::from_pyproject("[tool.pklinspect]\nfoo = 1\n").unwrap_err();
        assert!(err.contains("`foo`"), "{err}");
    }

    #[test]
    fn the_effective_policy_reads_back_as_the_same_policy() {
        let text = "fail-on = \"warning\"\nexclude = [\"x/\"]\n\
                    allow = [\"a.b\", { pattern = \"c.*\", reason = \"why\" }]\n\
                    deny = [\"d.**\"]\n[rules]\nnumpy2-only = \"off\"\n\
                    [limits]\nmax-nodes = 5\n\
                    [[per-path]]\npaths = [\"m/**\"]\nallow = [\"e.f\"]\nrules = { user-defined = \"info\" }\n";
        let p = policy(text).unwrap();
        let shown = p.effective_toml();
        let again = policy(&shown).unwrap_or_else(|e| panic!("{e}\n{shown}"));
        assert_eq!(again.effective_toml(), shown);
        assert!(shown.contains("numpy2-only = \"off\""), "{shown}");
        assert!(shown.contains("code-exec = \"error\""), "{shown}");
        assert!(shown.contains("max-nodes = 5"), "{shown}");
        assert_eq!(again.limits.max_nodes, 5);
    }
}
