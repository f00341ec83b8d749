//! What `explain`, `lint` and `extract` know about one input: an owned model, independent
//! of the bytes it came from and of how it is printed ([`crate::render`] prints it).

use crate::classify::{Category, Verdict};
use crate::lift::{ArrayInfo, DType};
use crate::machine::NodeId;
use crate::rules::{Rule, Severity};

/// Everything found in one input.
#[derive(Clone, Debug)]
pub struct Report {
    /// The file as given.
    pub file: String,
    /// `pickle`, `gzip`, …, `joblib`, `torch-zip`, `torch-legacy`, `npy`, `npz`.
    pub container: String,
    /// The compressor around a joblib stream, if any.
    pub compression: Option<String>,
    /// Size of the input in bytes.
    pub size: u64,
    /// Whether it is safe to load: the worst category among its imports.
    pub verdict: Verdict,
    /// Every pickle stream, in file order (a torch checkpoint has several).
    pub pickles: Vec<PickleReport>,
    /// Array payloads outside any pickle (plain members of an `.npz`, a plain `.npy`).
    pub arrays: Vec<ArrayReport>,
    /// What the rules found, at the severities of the [`RuleSet`](crate::rules::RuleSet)
    /// applied, in the order of the pickles.
    pub findings: Vec<Finding>,
    /// Library objects whose state is plain data and arrays: what to extract instead.
    pub portable_hints: Vec<PortableHint>,
    /// pandas DataFrames and Series in the object tree, as tables (what `extract --to
    /// parquet|csv` writes).
    pub frames: Vec<FrameSummary>,
    /// What the bytes say about the versions that wrote the file and where loading it
    /// fails (`docs/writer-facts.md`).
    pub writer: WriterFacts,
    /// Each real loader that applies to the container (`pickle.load`, `joblib.load`,
    /// `torch.load(weights_only=True)`, `numpy.load(allow_pickle=False)`, …): whether it
    /// loads the file, what it refuses or needs, and what would make it load
    /// ([`crate::loaders`]).
    pub loaders: Vec<crate::loaders::LoaderReport>,
    /// Where and why the loader stops in a stream that fails part-way (the first such
    /// stream): the report then holds what was read before it, and a `malformed` (or
    /// `limit-exceeded`) finding at that place. Only [`crate::inspect::inspect_partial`]
    /// returns such a report.
    pub stopped: Option<crate::Error>,
}

impl Report {
    /// For a report that [`stopped`](Report::stopped): nothing read before the failure
    /// imports or calls, so nothing ran that a loader would not also have refused.
    pub fn ran_nothing(&self) -> bool {
        let imports = self.pickles.iter().any(|p| !p.imports.is_empty());
        let calls = self.pickles.iter().any(|p| p.calls_total > 0);
        !imports && !calls
    }

    /// [`Report::ran_nothing`], and no finding of its own either: the stop's `malformed`
    /// (or `limit-exceeded`) finding is all there is.
    pub fn only_the_stop(&self) -> bool {
        self.ran_nothing()
            && self
                .findings
                .iter()
                .all(|f| matches!(f.rule, Rule::Malformed | Rule::LimitExceeded))
    }
}

/// A pickled pandas DataFrame or Series, summarised as a table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameSummary {
    /// Its object path (`$`, `$["train"]`): what `extract --path` takes.
    pub path: String,
    /// `DataFrame` or `Series`.
    pub kind: String,
    /// Rows (0 when it could not be read).
    pub rows: u64,
    /// Columns in order: label (as `str(label)`) and pandas dtype (`int64`, `category`,
    /// `datetime64[ns, UTC]`); a Series is one column.
    pub columns: Vec<(String, String)>,
    /// The index: `RangeIndex(start, stop, step)`, or its levels as `name: dtype`.
    pub index: String,
    /// Why it is not summarised: it cannot be read as a table (then `extract --to
    /// parquet|csv` refuses it too), or its pickle is too large for `explain` to read.
    pub error: Option<String>,
}

/// One pickle stream.
#[derive(Clone, Debug)]
pub struct PickleReport {
    /// The container member holding it (`archive/data.pkl`), if any.
    pub member: Option<String>,
    /// Offset of its first opcode in the decoded stream.
    pub offset: u64,
    /// Its length in bytes, up to and including STOP.
    pub length: u64,
    /// The highest protocol among its opcodes (as pickletools reports it).
    pub protocol: u8,
    /// How many opcodes it has.
    pub opcode_count: u64,
    /// Each distinct global it imports, in order of first appearance.
    pub imports: Vec<ImportReport>,
    /// The arrays in its object tree (numpy arrays, torch tensors, joblib arrays).
    pub arrays: Vec<ArrayReport>,
    /// The execution trace: each call the loader makes, in stream order (the first
    /// [`crate::machine::MAX_TRACED`]).
    pub calls: Vec<CallTrace>,
    /// How many calls there are in all.
    pub calls_total: u64,
    /// Why the loader stops in this pickle, if it fails part-way; everything above is
    /// what it read (and ran) before.
    pub error: Option<crate::Error>,
}

/// One call the loader makes (REDUCE, NEWOBJ, NEWOBJ_EX, INST, OBJ; BUILD on an object
/// that may define `__setstate__`, or on a module or class; STACK_GLOBAL on a computed
/// name).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallTrace {
    /// Offset of the opcode.
    pub offset: u64,
    /// The opcode's name (`REDUCE`).
    pub opcode: &'static str,
    /// What is called, `module.name`, when it is a global named in the stream (for BUILD,
    /// the class or global given state); `None` when it is computed at load time.
    pub callable: Option<String>,
    /// The object path of the result (for BUILD, of the object given state; `…` when the
    /// walk reached it past the paths it keeps); `None` when
    /// the result is discarded (popped, left on the stack, overwritten in the memo, or the
    /// pickle fails before returning it): the call runs all the same.
    pub result: Option<String>,
}

/// One distinct global.
#[derive(Clone, Debug)]
pub struct ImportReport {
    /// As written in the stream.
    pub module: String,
    /// The name in the module, as written (`system`, `OrderedDict`).
    pub name: String,
    /// What importing and calling it can do.
    pub category: Category,
    /// Why it has that category (the known-globals table's reason, or what made it unknown).
    pub reason: String,
    /// Offset of the opcode that first names it in this pickle.
    pub offset: u64,
    /// Object paths where it is used (at most [`crate::analysis::object_paths::MAX_PATHS_PER_GLOBAL`]).
    pub paths: Vec<String>,
    /// How many uses there are in all.
    pub uses: u64,
    /// It exists only in numpy 2 (`numpy._core`): numpy 1 cannot load the file.
    pub numpy2_only: bool,
    /// Offset of the first call of it in the trace, if it is called: with no `paths`, that
    /// call runs on load and its result is discarded.
    pub called_at: Option<u64>,
    /// Its first call at load, with its literal arguments (`posix.system('echo hi')`);
    /// `None` when the stream only references it (SPEC §5, calls and references).
    pub call: Option<String>,
}

/// One array payload.
#[derive(Clone, Debug)]
pub struct ArrayReport {
    /// Its object path (`$['model']['weight']`).
    pub path: String,
    /// The container member holding its bytes, if any.
    pub member: Option<String>,
    /// Its element type.
    pub dtype: DType,
    /// Its shape.
    pub shape: Vec<u64>,
    /// Whether its elements are in Fortran (column-major) order.
    pub fortran_order: bool,
    /// Bytes of data; `None` for object arrays.
    pub nbytes: Option<u64>,
    /// Where the bytes start (in the decoded stream, or in `member`); `None` when they are
    /// not in the file (out of band) or not raw.
    pub offset: Option<u64>,
    /// The construction, for later stages.
    pub(crate) info: ArrayInfo,
    /// Why `extract` cannot write it, if it cannot.
    pub unavailable: Option<String>,
    /// The graph node that builds it, while its stream is alive (extractors meet arrays
    /// as nodes); `None` for arrays outside any pickle.
    pub node: Option<NodeId>,
}

impl ArrayReport {
    /// An array known only from its construction (no offset in the file, no member): what
    /// the JSON extractor reports for an array the walk did not list, or a masked array's
    /// mask.
    pub(crate) fn unlocated(path: String, info: &ArrayInfo, node: NodeId) -> ArrayReport {
        ArrayReport {
            path,
            member: None,
            dtype: info.dtype.clone(),
            shape: info.shape.clone(),
            fortran_order: info.fortran_order,
            nbytes: info.nbytes(),
            offset: None,
            info: info.clone(),
            unavailable: None,
            node: Some(node),
        }
    }
}

/// One finding: a rule, at a severity, with the byte offset of the opcode behind it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// The rule that found it.
    pub rule: Rule,
    /// Its severity under the rule set applied (never [`Severity::Off`]).
    pub severity: Severity,
    /// The object path it concerns, if any.
    pub path: Option<String>,
    /// Where in the decoded stream or member (`member`) it was found.
    pub offset: Option<u64>,
    /// What was found, in one lowercase line.
    pub message: String,
    /// The global it is about, as written in the stream.
    pub module: Option<String>,
    /// The global's name, with `module`.
    pub name: Option<String>,
    /// The container member, if any.
    pub member: Option<String>,
}

/// What the analysis detected, before the findings pipeline
/// ([`crate::analysis::findings::judge`]) gives it the severity a rule set says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Detected {
    pub rule: Rule,
    /// The object path it concerns, if any.
    pub path: Option<String>,
    /// Where in the decoded stream or member (`member`) it was found.
    pub offset: Option<u64>,
    pub message: String,
    /// The global it is about, as written in the stream.
    pub module: Option<String>,
    pub name: Option<String>,
    /// The container member, if any.
    pub member: Option<String>,
}

impl Detected {
    /// A detection of `rule` with `message`, at no particular place.
    pub(crate) fn new(rule: Rule, message: impl Into<String>) -> Detected {
        Detected {
            rule,
            path: None,
            offset: None,
            message: message.into(),
            module: None,
            name: None,
            member: None,
        }
    }

    /// At this offset.
    pub(crate) fn at(mut self, offset: Option<u64>) -> Detected {
        self.offset = offset;
        self
    }

    /// About this object path.
    pub(crate) fn path(mut self, path: Option<&str>) -> Detected {
        self.path = path.map(str::to_string);
        self
    }

    /// In this container member.
    pub(crate) fn member(mut self, member: Option<&str>) -> Detected {
        self.member = member.map(str::to_string);
        self
    }

    /// About this global.
    pub(crate) fn global(mut self, module: &str, name: &str) -> Detected {
        self.module = Some(module.to_string());
        self.name = Some(name.to_string());
        self
    }

    /// The finding, at `severity`.
    pub(crate) fn with_severity(self, severity: Severity) -> Finding {
        Finding {
            rule: self.rule,
            severity,
            path: self.path,
            offset: self.offset,
            message: self.message,
            module: self.module,
            name: self.name,
            member: self.member,
        }
    }
}

/// A library or script object that could be replaced by its plain content.
#[derive(Clone, Debug)]
pub struct PortableHint {
    /// The object's path.
    pub path: String,
    /// Its class, `module.name`.
    pub class: String,
    /// The class's category.
    pub category: Category,
    /// `name=value` for plain parameters, in state order.
    pub parameters: Vec<(String, String)>,
    /// Arrays in its state: attribute, path, shape, dtype.
    pub arrays: Vec<(String, String, Vec<u64>, String)>,
    /// For a class whose constructor takes other values than it stores (a rebuild recipe,
    /// `docs/rebuild.md`): what the recipe changed; `parameters` are then the constructor's.
    pub recipe: Option<String>,
}

/// What the bytes say about who wrote the file, and what will fail where: versions recorded
/// in object state, library generations and removals read from the names, and the minimum
/// Python (`docs/writer-facts.md`). Built by `analysis/facts.rs` from
/// [`crate::classify::facts_table`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriterFacts {
    /// Library versions recorded in the objects' state (`_sklearn_version`), one per
    /// distinct (package, version).
    pub versions: Vec<RecordedVersion>,
    /// The facts the names match, one per fact row, in table order.
    pub facts: Vec<FactHit>,
    /// The newest Python feature the file needs, if any: protocol or names.
    pub min_python: Option<MinPython>,
    /// A legacy `torch.save` file's system record (its third pickle), if it is one.
    pub torch_legacy: Option<TorchLegacyInfo>,
    /// A `torch.save` zip archive's version records, if it is one.
    pub torch_zip: Option<TorchZipInfo>,
}

/// The records a `torch.save` zip archive keeps beside `data.pkl` (`torch/serialization.py`,
/// `_save`; `caffe2/serialize/versions.h`), each as written (a plain version string, or an
/// escaped repr), `None` when absent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TorchZipInfo {
    /// `<archive>/version` (or `.data/version`): the archive format version; torch.save
    /// writes 3 (`kMinProducedFileFormatVersion`).
    pub version: Option<String>,
    /// `<archive>/.format_version`: 1 when storages are numbered in order.
    pub format_version: Option<String>,
    /// `<archive>/.storage_alignment`: the alignment of storage members in bytes.
    pub storage_alignment: Option<String>,
    /// `<archive>/byteorder`: `little` or `big`.
    pub byteorder: Option<String>,
    /// Offset of the `version` record's local header (or of `data.pkl`'s).
    pub offset: u64,
}

/// What a legacy (pre-zip) `torch.save` file records about the writer: its third pickle,
/// `{"protocol_version": 1001, "little_endian": True, "type_sizes": {…}}`
/// (`torch/serialization.py`, `_legacy_save`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TorchLegacyInfo {
    /// torch's legacy serialization protocol version (1001).
    pub protocol_version: Option<i64>,
    /// Whether the writer was little-endian.
    pub little_endian: Option<bool>,
    /// C type sizes of the writer (`short`, `int`, `long`), in bytes.
    pub type_sizes: Vec<(String, i64)>,
    /// Offset of the pickle holding the record.
    pub offset: u64,
}

/// A library version recorded in the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedVersion {
    /// The distribution, as pip names it (`scikit-learn`).
    pub package: String,
    /// The attribute holding it (`_sklearn_version`).
    pub attribute: String,
    /// The version as recorded (escaped when it is not a plain version string).
    pub version: String,
    /// Object paths of the attribute (`$.steps[0][1]._sklearn_version`), the first few.
    pub paths: Vec<String>,
    /// How many objects record this version in all.
    pub uses: u64,
    /// Offset of the opcode that built the first object recording it.
    pub offset: u64,
    /// The container member holding that pickle, if any.
    pub member: Option<String>,
    /// What loading it in another version does.
    pub other_version: &'static str,
}

/// One fact of the table that the file's names match.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FactHit {
    /// The row.
    pub fact: &'static crate::classify::facts_table::Fact,
    /// The globals that match it, `module.name`, in order of first appearance (the first
    /// few).
    pub globals: Vec<String>,
    /// Offset of the opcode that first names one of them.
    pub offset: u64,
    /// An object path where one is used, if any.
    pub path: Option<String>,
    /// The container member holding that pickle, if any.
    pub member: Option<String>,
}

/// The minimum Python version that loads the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MinPython {
    /// `(major, minor)`.
    pub version: (u8, u8),
    /// Why: `protocol 5` or the name that needs it.
    pub because: String,
    /// Offset of the pickle (for a protocol) or of the opcode naming the global.
    pub offset: u64,
}

/// What loading the file requires, as pip takes it, with the evidence: the API callers use
/// to pin an environment (`WriterFacts::requirements`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requirement {
    /// The distribution (`scikit-learn`), or `python`.
    pub package: String,
    /// A pip requirement (`scikit-learn==1.9.1`, `numpy>=2`, `python>=3.8`).
    pub spec: String,
    /// The version recorded in the file, when the requirement comes from one.
    pub recorded: Option<String>,
    /// Why, in one line.
    pub evidence: String,
    /// An object path of the evidence, if any.
    pub path: Option<String>,
    /// Offset of the evidence.
    pub offset: u64,
    /// The container member holding it, if any.
    pub member: Option<String>,
}
