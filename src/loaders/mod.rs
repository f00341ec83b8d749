//! Per-loader verdicts: for each real loader that applies to the container, whether it
//! loads the file, what it refuses or needs, and what would make it load (SPEC §5,
//! `loaders`; `docs/loaders.md`).
//!
//! - `pickle.load`, `joblib.load`, `pandas.read_pickle` (and `torch.load(weights_only=False)`,
//!   `numpy.load(allow_pickle=True)`): the third-party packages the file imports (top-level
//!   module → pip name) and the user-defined modules that must be importable. Each
//!   [`Requirement`] has a `version` hook, left empty here, for the writer's versions.
//! - `torch.load(weights_only=True)` (torch ≥ 2.6's default): [`torch_weights_only`] runs
//!   torch's own unpickler loop on types against the allowlist in [`table`].
//! - `torch.load(weights_only=False)`: pickle-like, and `no` where the weights-only scan
//!   stopped in what both modes call (a storage id or rebuild call torch cannot use).
//! - `numpy.load(allow_pickle=False)`: loads `.npy`/`.npz` without object arrays (a pickle
//!   at the start of an npz member is handed back as bytes) and with `.npy` headers of at
//!   most 10,000 bytes.
//!
//! `loads` is `yes` (loads as is, in a Python with only the standard library and, for
//! torch and numpy, that library), `only-with` (loads once the listed packages are
//! installed, modules importable, or globals allowlisted — none of which runs code the
//! analysis flags) or `no` (refuses, and nothing safe makes it load).

#![warn(clippy::arithmetic_side_effects)]

pub mod table;
pub mod torch_weights_only;
pub(crate) mod wire;

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use crate::classify::{is_stdlib, Category, KnownGlobals};
use crate::report::{ImportReport, PickleReport, Report};
use crate::rules::Rule;
use torch_weights_only::{Persistent, PickleScan, RefusalKind};

/// Whether a loader loads the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loads {
    /// As is.
    Yes,
    /// Once its requirements are met (packages, importable modules, allowlisted globals).
    OnlyWith,
    /// Refuses, and nothing safe makes it load.
    No,
}

impl Loads {
    /// `yes`, `only-with`, `no`.
    pub fn as_str(self) -> &'static str {
        match self {
            Loads::Yes => "yes",
            Loads::OnlyWith => "only-with",
            Loads::No => "no",
        }
    }
}

/// One loader's verdict.
#[derive(Clone, Debug)]
pub struct LoaderReport {
    /// The call (`pickle.load`, `torch.load(weights_only=True)`).
    pub loader: String,
    /// Whether it loads the file.
    pub loads: Loads,
    /// One lowercase line: why.
    pub summary: String,
    /// What it refuses, in the order it would refuse them (torch: one per run).
    pub refusals: Vec<Refusal>,
    /// Third-party packages the file needs (pickle-like loaders).
    pub requirements: Vec<Requirement>,
    /// Modules that are not published packages and must be importable (`__main__`, a
    /// project's own modules).
    pub user_modules: Vec<String>,
    /// What to do to make it load, when something safe does.
    pub fix: Option<String>,
}

/// One thing a loader refuses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// `module.name` of the global or type.
    pub global: String,
    /// `global` (a GLOBAL opcode names it), `type` (BUILD on an instance of it), or `stop`
    /// (nothing allowlisted fixes it: an opcode, a blocked module, a persistent id).
    pub kind: &'static str,
    /// What the loader says.
    pub message: String,
    /// The container member holding the stream.
    pub member: Option<String>,
    /// Offset of the opcode in the stream.
    pub offset: Option<u64>,
    /// Object paths that need it.
    pub paths: Vec<String>,
    /// Whether pklinspect suggests allowing it.
    pub allow: bool,
    /// Why it is safe to allow, or why not.
    pub why: String,
    /// A Python expression for the object (`argparse.Namespace`,
    /// `type(numpy.dtype('f8'))`).
    pub spelling: String,
}

/// A package a pickle-like loader needs installed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requirement {
    /// The top-level module (`sklearn`).
    pub package: String,
    /// Its name on PyPI (`scikit-learn`).
    pub pip_name: String,
    /// The version the file needs, as a pip specifier after the name (`==1.9.1`, `>=2`),
    /// when the writer facts say ([`Report::requirements`]).
    pub version: Option<String>,
    /// Why: the first global that imports it.
    pub evidence: String,
}

/// What torch's weights-only unpickler makes of one stream.
#[derive(Clone, Debug, Default)]
pub struct StreamScan {
    /// The member holding it.
    pub member: Option<String>,
    /// Each pickle torch reads, scanned.
    pub pickles: Vec<PickleScan>,
    /// It is a legacy torch file (five pickles and raw storages).
    pub legacy: bool,
}

/// Scans the pickles torch.load reads in a stream: the first (a torch zip's `data.pkl`, or
/// a plain pickle's only one: torch reads it as the legacy format's magic number), or a
/// legacy file's five.
pub(crate) fn scan_stream(
    bytes: &[u8],
    pickles: &[PickleReport],
    legacy: bool,
    member: Option<&str>,
    storages: Option<&crate::container::StorageMap>,
) -> StreamScan {
    let has = |key: &str| storages.is_some_and(|m| m.contains_key(key));
    let has_record: torch_weights_only::HasRecord<'_> = match storages {
        Some(_) if member.is_some() => Some(&has),
        _ => None,
    };
    let zip = member.is_some();
    let count = if legacy { 5 } else { 1 };
    let mut allowed = torch_weights_only::HashSet::default();
    let mut scans = Vec::new();
    for (i, p) in pickles.iter().take(count).enumerate() {
        let persistent = if zip {
            Persistent::Storage
        } else if legacy && i == 3 {
            Persistent::LegacyStorage
        } else {
            Persistent::None
        };
        let start = usize::try_from(p.offset).unwrap_or(usize::MAX);
        let scan =
            torch_weights_only::scan_pickle(bytes, start, persistent, &mut allowed, has_record);
        let stopped = scan.stop.is_some();
        scans.push(scan);
        if stopped {
            break;
        }
    }
    StreamScan {
        member: member.map(str::to_string),
        pickles: scans,
        legacy,
    }
}

/// The loaders that apply to the report's container, with their verdicts.
pub(crate) fn verdicts(
    report: &Report,
    scans: &[StreamScan],
    known: &KnownGlobals,
) -> Vec<LoaderReport> {
    let c = report.container.as_str();
    let mut out = Vec::new();
    match c {
        "pickle" => {
            out.push(pickle_like("pickle.load", report));
            out.push(pickle_like("joblib.load", report));
            out.push(pickle_like("pandas.read_pickle", report));
            out.push(torch_weights_only(report, scans, known));
            out.push(numpy_no_pickle(report));
        }
        "joblib" => {
            out.push(pickle_like("joblib.load", report));
            if report.compression.is_none() {
                out.push(torch_weights_only(report, scans, known));
            }
        }
        "gzip" | "bz2" | "xz" | "lzma" | "zlib" | "lz4" => {
            out.push(pickle_like("joblib.load", report));
            let mut pandas = pickle_like("pandas.read_pickle", report);
            pandas.summary = format!(
                "{} (pandas infers the {c} compression from the file name's extension, or \
                 takes compression='{c}')",
                pandas.summary
            );
            out.push(pandas);
        }
        "torch-zip" | "torch-legacy" => {
            out.push(torch_weights_only(report, scans, known));
            out.push(torch_full(report, scans));
        }
        "npy" | "npz" => {
            out.push(numpy_no_pickle(report));
            if object_arrays(report) {
                out.push(pickle_like("numpy.load(allow_pickle=True)", report));
            }
        }
        // numpy.load opens any zip as an npz (by its magic, not its name).
        "zip" if report.file.ends_with(".npz") => out.push(numpy_no_pickle(report)),
        _ => {}
    }
    out
}

/// `torch.load(weights_only=False)`: a pickle-like loader, which fails where the
/// weights-only scan stopped on what both call (`persistent_load`, a rebuild function).
fn torch_full(report: &Report, scans: &[StreamScan]) -> LoaderReport {
    let mut full = pickle_like("torch.load(weights_only=False)", report);
    let shared = scans
        .iter()
        .flat_map(|s| &s.pickles)
        .filter_map(|p| p.stop.as_ref())
        .find(|s| s.shared);
    if let Some(stop) = shared {
        // What ran before the failure still ran: the summary keeps its warnings.
        full.loads = Loads::No;
        full.summary = format!(
            "{}; and it fails whatever weights_only says, in what torch.load calls: {}",
            full.summary, stop.message
        );
    }
    full
}

/// The imports a loader meets, each once (by `module.name`).
fn imports(report: &Report) -> Vec<&ImportReport> {
    let mut seen = HashSet::default();
    report
        .pickles
        .iter()
        .flat_map(|p| &p.imports)
        .filter(|i| seen.insert((i.module.as_str(), i.name.as_str())))
        .collect()
}

/// What judging torch's refusals looks up, built once: the imports by `module.name` after
/// torch's Python 2 mappings, and the globals called without being vetted.
struct Lookup<'r> {
    /// The table (with the user's allow entries): which globals are vetted call targets.
    known: &'r KnownGlobals,
    by_name: HashMap<String, &'r ImportReport>,
    unvetted: HashSet<(&'r str, &'r str)>,
}

impl<'r> Lookup<'r> {
    fn new(report: &'r Report, known: &'r KnownGlobals) -> Lookup<'r> {
        let mut by_name = HashMap::default();
        for i in imports(report) {
            let (m, n) = table::mapped(&i.module, &i.name);
            by_name.entry(format!("{m}.{n}")).or_insert(i);
        }
        let unvetted = report
            .findings
            .iter()
            .filter(|f| f.rule == Rule::UnvettedCall)
            .filter_map(|f| Some((f.module.as_deref()?, f.name.as_deref()?)))
            .collect();
        Lookup {
            known,
            by_name,
            unvetted,
        }
    }
}

/// `pickle.load` and the loaders built on it: the packages and modules the file imports.
fn pickle_like(loader: &str, report: &Report) -> LoaderReport {
    let mut requirements: Vec<Requirement> = Vec::new();
    let mut user_modules: Vec<String> = Vec::new();
    let mut code = Vec::new();
    let lib = loader.split('.').next().unwrap_or(loader);
    if lib != "pickle" {
        requirements.push(requirement(lib, &format!("the loader is {loader}")));
    }
    let mut seen_modules = HashSet::default();
    let mut seen_packages: HashSet<String> =
        requirements.iter().map(|r| r.package.clone()).collect();
    for i in imports(report) {
        // Python 2 names (`__builtin__`, `copy_reg`) are the standard library's.
        let (module, _) = crate::classify::normalise(&i.module, &i.name);
        let top = module.split('.').next().unwrap_or(&module);
        match i.category {
            Category::UserDefined => {
                if seen_modules.insert(i.module.as_str()) {
                    user_modules.push(i.module.clone());
                }
            }
            Category::CodeExec => code.push(format!("{}.{}", i.module, i.name)),
            _ if is_stdlib(top) || top.is_empty() => {}
            _ => {
                if seen_packages.insert(top.to_string()) {
                    let evidence =
                        format!("imports {}.{} at offset {}", i.module, i.name, i.offset);
                    requirements.push(requirement(top, &evidence));
                }
            }
        }
    }
    fill_versions(&mut requirements, report);
    // A standard-library name newer than the oldest CPython still supported
    // (`pathlib._local`, 3.13) is a ModuleNotFoundError on older ones: the interpreter is
    // then a requirement like a package. Protocols alone never need one that new.
    if let Some(p) = report.writer.min_python.as_ref() {
        if p.version > OLDEST_SUPPORTED_PYTHON {
            let mut python = requirement("python", &p.because);
            python.version = Some(format!(">={}.{}", p.version.0, p.version.1));
            requirements.push(python);
        }
    }
    let needs = requirements.len() > usize::from(lib != "pickle") || !user_modules.is_empty();
    let loads = if needs || lib != "pickle" {
        Loads::OnlyWith
    } else {
        Loads::Yes
    };
    let mut summary = match (requirements.is_empty(), user_modules.is_empty()) {
        (true, true) => "loads with the standard library alone".to_string(),
        (false, true) => format!("needs {} installed", pip_list(&requirements)),
        (true, false) => format!("needs {} importable", user_modules.join(", ")),
        (false, false) => format!(
            "needs {} installed and {} importable",
            pip_list(&requirements),
            user_modules.join(", ")
        ),
    };
    if !code.is_empty() {
        summary.push_str(&format!(
            "; it runs code while loading ({}): do not load it",
            code.join(", ")
        ));
    } else if report.verdict == crate::classify::Verdict::Unvetted {
        summary.push_str("; it calls code pklinspect cannot vouch for while loading");
    }
    LoaderReport {
        loader: loader.to_string(),
        loads,
        summary,
        refusals: Vec::new(),
        requirements,
        user_modules,
        fix: None,
    }
}

/// The oldest CPython release still supported upstream (python.org's release status,
/// December 2026: 3.10 to 3.14). A name that needs a newer one makes the interpreter a
/// requirement of `pickle.load`.
const OLDEST_SUPPORTED_PYTHON: (u8, u8) = (3, 10);

fn pip_list(r: &[Requirement]) -> String {
    r.iter()
        .map(|r| format!("{}{}", r.pip_name, r.version.as_deref().unwrap_or("")))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The version each package needs, from the writer facts (`==1.9.1` where the file records
/// the version, `>=2` where its names need a generation): the spec after the package name.
fn fill_versions(requirements: &mut [Requirement], report: &Report) {
    let known = report.requirements();
    for r in requirements.iter_mut() {
        r.version = known
            .iter()
            .find(|k| k.package == r.pip_name)
            .and_then(|k| k.spec.strip_prefix(k.package.as_str()))
            .filter(|v| !v.is_empty())
            .map(str::to_string);
    }
}

fn requirement(package: &str, evidence: &str) -> Requirement {
    Requirement {
        package: package.to_string(),
        pip_name: table::pip_name(package),
        version: None,
        evidence: evidence.to_string(),
    }
}

/// Whether a `.npy`/`.npz` holds object arrays: pickles after a `.npy` header. A pickle
/// at the start of an npz member is no `.npy`: `NpzFile` hands back its bytes unread.
fn object_arrays(report: &Report) -> bool {
    report
        .pickles
        .iter()
        .any(|p| p.member.is_none() || p.offset > 0)
}

/// numpy's `_MAX_HEADER_SIZE` (`numpy/lib/_format_impl.py`, numpy 2.4): a longer `.npy`
/// header is refused unless `max_header_size` is raised or `allow_pickle=True`.
const NUMPY_MAX_HEADER: u64 = 10_000;

/// Whether a plain array's `.npy` header is longer than numpy reads by default: its data
/// starts past magic (6), version (2), length (2 in version 1, 4 after) and the header.
/// Fail closed: the shorter length field is assumed.
fn numpy_header_too_long(report: &Report) -> bool {
    report
        .arrays
        .iter()
        .filter(|a| a.node.is_none())
        .filter_map(|a| a.offset)
        .any(|o| o.saturating_sub(10) > NUMPY_MAX_HEADER)
}

/// `numpy.load(allow_pickle=False)`: plain `.npy`/`.npz` arrays load; object arrays and
/// pickles do not.
fn numpy_no_pickle(report: &Report) -> LoaderReport {
    let loader = "numpy.load(allow_pickle=False)".to_string();
    let (loads, summary) = match report.container.as_str() {
        "npy" | "npz" | "zip" if numpy_header_too_long(report) => (
            Loads::No,
            "a .npy header longer than 10,000 bytes: numpy refuses it (\"Header info length \
             ... is large and may not be safe to load securely\") unless max_header_size is \
             raised"
                .to_string(),
        ),
        "npy" | "npz" | "zip" if !object_arrays(report) => {
            (Loads::Yes, "no object arrays: loads as is".to_string())
        }
        "npy" => (
            Loads::No,
            "an object array (its elements are a pickle): numpy refuses it with \
             \"Object arrays cannot be loaded when allow_pickle=False\""
                .to_string(),
        ),
        "npz" => (
            Loads::No,
            "object-array members (pickles): numpy refuses each of them with \"Object \
             arrays cannot be loaded when allow_pickle=False\" when it is read"
                .to_string(),
        ),
        _ => (
            Loads::No,
            "a pickle, not a .npy: numpy refuses it with \"Cannot load file containing \
             pickled data when allow_pickle=False\""
                .to_string(),
        ),
    };
    LoaderReport {
        loader,
        loads,
        summary,
        refusals: Vec::new(),
        requirements: Vec::new(),
        user_modules: Vec::new(),
        fix: None,
    }
}

/// `torch.load(weights_only=True)`.
fn torch_weights_only(report: &Report, scans: &[StreamScan], known: &KnownGlobals) -> LoaderReport {
    let loader = "torch.load(weights_only=True)".to_string();
    let torch_file = matches!(report.container.as_str(), "torch-zip" | "torch-legacy");
    let mut refusals = Vec::new();
    let mut stop = None;
    let lookup = Lookup::new(report, known);
    if let Some(scan) = scans.first() {
        for p in &scan.pickles {
            for r in &p.refusals {
                refusals.push(refusal(report, &lookup, scan, r));
            }
            if let Some(s) = &p.stop {
                stop = Some(stop_refusal(scan, s));
            }
        }
    }
    let blocked: Vec<&Refusal> = refusals.iter().filter(|r| !r.allow).collect();
    let (loads, summary, fix) = if let Some(s) = &stop {
        let summary = if torch_file {
            format!("refuses it: {}", s.message)
        } else {
            format!(
                "not a torch.save file, and torch's unpickler stops: {}",
                s.message
            )
        };
        (Loads::No, summary, None)
    } else if !torch_file {
        (
            Loads::No,
            "not a torch.save file: torch reads its first pickle as the legacy format's \
             magic number and fails (\"Invalid magic number; corrupt file?\")"
                .to_string(),
            None,
        )
    } else if refusals.is_empty() {
        (
            Loads::Yes,
            format!("loads as is (modelled on {})", table::SOURCE_VERSION),
            None,
        )
    } else if !blocked.is_empty() {
        let names: Vec<&str> = blocked.iter().map(|r| r.global.as_str()).collect();
        (
            Loads::No,
            format!(
                "refuses {} global(s); allowing {} would run code pklinspect does not vouch for",
                refusals.len(),
                names.join(", ")
            ),
            None,
        )
    } else {
        (
            Loads::OnlyWith,
            format!(
                "refuses {} global(s) until they are allowlisted with \
                 torch.serialization.add_safe_globals",
                refusals.len()
            ),
            Some(format!(
                "pklinspect explain {} --emit torch-safe-globals",
                shell_word(&report.file)
            )),
        )
    };
    refusals.extend(stop);
    LoaderReport {
        loader,
        loads,
        summary,
        refusals,
        requirements: Vec::new(),
        user_modules: Vec::new(),
        fix,
    }
}

/// A file name as one shell word (quoted when it needs it).
fn shell_word(s: &str) -> String {
    // A name that starts with `-` would be read as an option (`--force`).
    if s.starts_with('-') {
        return shell_word(&format!("./{s}"));
    }
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '_' | '-' | '+'));
    if plain {
        s.to_string()
    } else if s.chars().any(crate::render::style::acts) {
        // One line that still names the file: bash's `$'…'` with escapes.
        let quoted = s.replace('\\', "\\\\").replace('\'', "\\'");
        format!("$'{}'", crate::render::style::shown(&quoted))
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

fn stop_refusal(scan: &StreamScan, s: &torch_weights_only::Stop) -> Refusal {
    Refusal {
        global: s.global.clone().unwrap_or_default(),
        kind: "stop",
        message: s.message.clone(),
        member: scan.member.clone(),
        offset: Some(s.offset),
        paths: Vec::new(),
        allow: false,
        why: "no allowlist entry makes torch's unpickler accept this".to_string(),
        spelling: String::new(),
    }
}

/// A refusal, judged: its paths, and whether allowing it is safe.
fn refusal(
    report: &Report,
    lookup: &Lookup<'_>,
    scan: &StreamScan,
    r: &torch_weights_only::RawRefusal,
) -> Refusal {
    let import = lookup.by_name.get(&r.name).copied();
    let mut paths = import.map(|i| i.paths.clone()).unwrap_or_default();
    if r.kind == RefusalKind::BuildType {
        let built = report
            .pickles
            .iter()
            .filter(|p| p.member == scan.member)
            .flat_map(|p| &p.calls)
            .find(|c| c.offset == r.offset && c.opcode == "BUILD")
            .and_then(|c| c.result.clone());
        let maker = r
            .made_by
            .as_deref()
            .and_then(|m| lookup.by_name.get(m).copied());
        paths = match (built, maker) {
            (Some(path), _) => vec![path],
            (None, Some(i)) => i.paths.clone(),
            (None, None) => paths,
        };
    }
    let (allow, why) = judge(lookup, import, &r.name);
    let message = match r.kind {
        RefusalKind::Global => format!(
            "Unsupported global: GLOBAL {} was not an allowed global by default",
            torch_printed(&r.name)
        ),
        RefusalKind::BuildType => format!(
            "Can only build Tensor, Parameter, OrderedDict or types allowlisted via \
             `add_safe_globals`, but got <class '{}'>",
            r.name
        ),
    };
    Refusal {
        global: r.name.clone(),
        kind: match r.kind {
            RefusalKind::Global => "global",
            RefusalKind::BuildType => "type",
        },
        message,
        member: scan.member.clone(),
        offset: Some(r.offset),
        paths,
        allow,
        why,
        spelling: r.spelling.clone().unwrap_or_else(|| r.name.clone()),
    }
}

/// How torch prints a global in its error: `builtins.` dropped.
fn torch_printed(name: &str) -> &str {
    name.strip_prefix("builtins.").unwrap_or(name)
}

/// Whether to suggest allowing `name`, and why. Never anything the analysis rates
/// code-exec, and never a call it could not vet.
fn judge(lookup: &Lookup<'_>, import: Option<&ImportReport>, name: &str) -> (bool, String) {
    if let Some((_, why)) = table::NEVER_ALLOW.iter().find(|(n, _)| *n == name) {
        return (false, format!("never allow it: {why}"));
    }
    // What `--emit torch-safe-globals` cannot write as code, it does not suggest.
    if !python_name(name) {
        return (
            false,
            "not a dotted path of Python identifiers: no allowlist entry names it".to_string(),
        );
    }
    let Some(i) = import else {
        if name.starts_with("numpy.dtypes.") {
            return (
                true,
                "a numpy dtype class: BUILD gives a dtype its state through numpy's own \
                 dtype.__setstate__"
                    .to_string(),
            );
        }
        return (
            false,
            "the type of an object a call made, which pklinspect has not vetted".to_string(),
        );
    };
    match i.category {
        Category::CodeExec => return (false, format!("rated code-exec: {}", i.reason)),
        // Fail closed: a global the table does not know may run code when torch calls it
        // or gives it state.
        Category::Unknown => {
            return (
                false,
                "unknown to pklinspect: it may run code when torch calls it or gives it \
                 state; vet it before allowlisting it"
                    .to_string(),
            )
        }
        // Wildcard entries (`tensorflow.python.eager.**`, `multiprocessing.synchronize.**`)
        // rate functions too: allowlisted, torch calls them with any arguments (TF's
        // `execute` runs any op; `sem_unlink` removes any named semaphore), in this file
        // and every later one the process loads.
        Category::RuntimeHandle => {
            return (
                false,
                format!(
                    "rated runtime-handle: {}; allowlisted, torch would call it with any \
                     arguments, so pklinspect does not suggest it",
                    i.reason
                ),
            )
        }
        Category::UserDefined => {
            return (
                true,
                format!(
                    "user-defined: {}; its code runs when torch builds it, so allow it only \
                     if you trust that code",
                    i.reason
                ),
            )
        }
        _ => {}
    }
    let unvetted = lookup
        .unvetted
        .contains(&(i.module.as_str(), i.name.as_str()));
    if unvetted {
        return (
            false,
            "the file calls it and pklinspect has not vetted it (unvetted-call)".to_string(),
        );
    }
    // Allowlisted, a global is callable with any arguments in every later load of the
    // process. One this file only refers to (a function stored as a value) and that
    // pklinspect has not vetted as a call target is not suggested: a class the file builds
    // or calls is judged by that use above.
    if i.called_at.is_none() && lookup.known.classify(&i.module, &i.name).vetted.is_none() {
        return (
            false,
            "only referred to here, and not vetted as a call target: allowlisted, torch would \
             let any later file call it with any arguments; vet it before allowlisting it"
                .to_string(),
        );
    }
    (true, format!("{}: {}", i.category.as_str(), i.reason))
}

/// The Python snippet that makes `torch.load(weights_only=True)` load the file: imports of
/// each refused global and `torch.serialization.add_safe_globals([...])`, with the
/// `safe_globals` context-manager form in a comment (`explain --emit torch-safe-globals`).
///
/// GLOBAL refusals are given as `(object, "module.name")` pairs: torch looks a GLOBAL up by
/// the name the stream spells, which need not be the object's `__module__`/`__qualname__`
/// (a numpy 1 file's `numpy.core.multiarray.scalar` is `numpy._core` in numpy 2). Types
/// that BUILD meets are given as objects (torch compares `type(obj)` with the values).
///
/// `Err` with the reason when nothing safe makes it load: something it refuses runs code
/// (or is not vetted), torch stops on something no allowlist fixes, or it is not a
/// `torch.save` file.
pub fn torch_safe_globals_snippet(report: &Report) -> Result<String, String> {
    let Some(torch) = report
        .loaders
        .iter()
        .find(|l| l.loader == "torch.load(weights_only=True)")
    else {
        return Err(format!(
            "torch.load does not read a {} file: nothing to allowlist",
            report.container
        ));
    };
    let file = python_repr(&report.file);
    // The first two lines are fixed text: Python reads an encoding declaration
    // (`coding: utf-7`) from a comment there, and a file name could carry one.
    match torch.loads {
        Loads::Yes => {
            return Ok(format!(
                "# Nothing to allow: the file below loads with torch.load(weights_only=True)\n\
                 # as is (pklinspect, modelled on {}).\n\
                 # file: {file}\n",
                table::SOURCE_VERSION
            ))
        }
        Loads::No => {
            return Err(format!(
                "no safe allowlist makes torch.load(weights_only=True) load it: {}",
                refusal_reasons(torch)
            ))
        }
        Loads::OnlyWith => {}
    }
    let (imports, items) = snippet_items(torch)?;
    let mut out = format!(
        "# Makes torch.load(weights_only=True) load the file below: the {} global(s) it\n\
         # refuses (pklinspect, modelled on {}; review each before trusting the file).\n\
         # file: {file}\n",
        items.len(),
        table::SOURCE_VERSION
    );
    for m in &imports {
        out.push_str(&format!("import {m}\n"));
    }
    let list: String = items
        .iter()
        .map(|i| {
            // An item that ends in a comment carries its comma before it.
            let last = i.lines().last().unwrap_or_default();
            let comma = if last.contains("  # ") { "" } else { "," };
            format!("    {i}{comma}\n")
        })
        .collect();
    out.push_str("\nSAFE_GLOBALS = [\n");
    out.push_str(&list);
    out.push_str("]\ntorch.serialization.add_safe_globals(SAFE_GLOBALS)\n");
    out.push_str(&format!(
        "\n# or, for one load only:\n\
         # with torch.serialization.safe_globals(SAFE_GLOBALS):\n\
         #     obj = torch.load({file}, weights_only=True)\n"
    ));
    Ok(out)
}

/// Why nothing safe makes torch load the file: each refusal not to allow, or its stop.
fn refusal_reasons(torch: &LoaderReport) -> String {
    let reasons: Vec<String> = torch
        .refusals
        .iter()
        .filter(|r| !r.allow)
        .map(|r| match r.kind {
            "stop" => r.message.clone(),
            _ => format!("{}: {}", r.global, r.why),
        })
        .collect();
    if reasons.is_empty() {
        torch.summary.clone()
    } else {
        reasons.join("; ")
    }
}

/// Whether `s` is a dotted path of ASCII Python identifiers (`argparse.Namespace`): the
/// only names from the file the snippet writes as code.
fn python_name(s: &str) -> bool {
    s.split('.').all(crate::rebuild::is_identifier)
}

/// Whether `s` is an expression the snippet may write: a [`python_name`], or the
/// `type(numpy.dtype('f8'))` spelling of a numpy dtype class (its string plain).
fn python_expression(s: &str) -> bool {
    let dtype = s
        .strip_prefix("type(numpy.dtype('")
        .and_then(|rest| rest.strip_suffix("'))"))
        .is_some_and(|spec| {
            !spec.is_empty()
                && spec.chars().all(|c| {
                    c.is_ascii_alphanumeric() || matches!(c, '<' | '>' | '=' | '|' | '[' | ']')
                })
        });
    dtype || python_name(s)
}

/// The modules to import (sorted) and the list items of the snippet, or why a refused
/// global cannot be written as Python (its name is not a dotted path of identifiers: a
/// name such as `A),__import__("os").system(…),0` would be code in the snippet).
fn snippet_items(torch: &LoaderReport) -> Result<(Vec<String>, Vec<String>), String> {
    let mut imports = vec!["torch".to_string()];
    let mut items = Vec::new();
    for r in &torch.refusals {
        if !python_name(&r.global) || !python_expression(&r.spelling) {
            return Err(format!(
                "{} is not a Python name (a dotted path of ASCII identifiers): pklinspect \
                 does not write it into code",
                python_repr(&r.global)
            ));
        }
        let module = if r.spelling != r.global {
            "numpy".to_string()
        } else {
            type_module(&r.global)
        };
        if !imports.contains(&module) {
            imports.push(module);
        }
        let item = match (r.kind, r.spelling != r.global) {
            ("global", _) => format!("({}, {})", r.spelling, python_repr(&r.global)),
            (_, true) => format!("{},  # {}", r.spelling, r.global),
            _ => r.spelling.clone(),
        };
        // Said where it is allowed, not only in explain: the file's own code runs.
        items.push(match r.why.starts_with("user-defined") {
            true => format!(
                "# {}: user-defined, its code runs when torch builds it; allow it only if\n    \
                 # you trust that code\n    {item}",
                r.global
            ),
            false => item,
        });
    }
    imports.sort();
    Ok((imports, items))
}

/// The module to import for a type's `module.name`: the segments before the first one
/// that starts with an upper-case letter (the class), or all but the last.
fn type_module(name: &str) -> String {
    let parts: Vec<&str> = name.split('.').collect();
    let class_at = parts
        .iter()
        .position(|p| p.starts_with(|c: char| c.is_ascii_uppercase()))
        .unwrap_or(parts.len().saturating_sub(1))
        .max(1);
    parts.get(..class_at).unwrap_or_default().join(".")
}

/// A Python string literal, ASCII only (other characters as `\x`, `\u`, `\U` escapes).
fn python_repr(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            ' '..='~' => out.push(c),
            c if (c as u32) <= 0xff => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if (c as u32) <= 0xffff => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}
