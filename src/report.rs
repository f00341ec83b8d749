//! What `explain` (and later `lint` and `extract`) know about one input: an owned model,
//! independent of the bytes it came from and of how it is printed.

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
    pub verdict: Verdict,
    pub pickles: Vec<PickleReport>,
    /// Array payloads outside any pickle (plain members of an `.npz`, a plain `.npy`).
    pub arrays: Vec<ArrayReport>,
    pub findings: Vec<Finding>,
    /// Library objects whose state is plain data and arrays: what to extract instead.
    pub portable_hints: Vec<PortableHint>,
}

/// One pickle stream.
#[derive(Clone, Debug)]
pub struct PickleReport {
    /// The container member holding it (`archive/data.pkl`), if any.
    pub member: Option<String>,
    /// Offset of its first opcode in the decoded stream.
    pub offset: u64,
    pub length: u64,
    pub protocol: u8,
    pub opcode_count: u64,
    pub imports: Vec<ImportReport>,
    pub arrays: Vec<ArrayReport>,
}

/// One distinct global.
#[derive(Clone, Debug)]
pub struct ImportReport {
    /// As written in the stream.
    pub module: String,
    pub name: String,
    pub category: Category,
    pub reason: String,
    /// Offset of the opcode that first names it in this pickle.
    pub offset: u64,
    /// Object paths where it is used (at most [`crate::analysis::object_paths::MAX_PATHS_PER_GLOBAL`]).
    pub paths: Vec<String>,
    /// How many uses there are in all.
    pub uses: u64,
    pub numpy2_only: bool,
}

/// One array payload.
#[derive(Clone, Debug)]
pub struct ArrayReport {
    pub path: String,
    pub member: Option<String>,
    pub dtype: DType,
    pub shape: Vec<u64>,
    pub fortran_order: bool,
    /// Bytes of data; `None` for object arrays.
    pub nbytes: Option<u64>,
    /// Where the bytes start (in the decoded stream, or in `member`); `None` when they are
    /// not in the file (out of band) or not raw.
    pub offset: Option<u64>,
    /// The construction, for later stages.
    pub info: ArrayInfo,
    /// Why `extract` cannot write it, if it cannot.
    pub unavailable: Option<String>,
    /// The graph node that builds it, while its stream is alive (extractors meet arrays
    /// as nodes); `None` for arrays outside any pickle.
    pub node: Option<NodeId>,
}

/// One finding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub rule: Rule,
    pub severity: Severity,
    pub path: Option<String>,
    pub offset: Option<u64>,
    pub message: String,
    pub module: Option<String>,
    pub name: Option<String>,
    pub member: Option<String>,
}

/// What the analysis detected, before the findings pipeline
/// ([`crate::analysis::findings::judge`]) gives it the severity a rule set says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Detected {
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
    pub fn new(rule: Rule, message: impl Into<String>) -> Detected {
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
    pub fn at(mut self, offset: Option<u64>) -> Detected {
        self.offset = offset;
        self
    }

    /// About this object path.
    pub fn path(mut self, path: Option<&str>) -> Detected {
        self.path = path.map(str::to_string);
        self
    }

    /// In this container member.
    pub fn member(mut self, member: Option<&str>) -> Detected {
        self.member = member.map(str::to_string);
        self
    }

    /// About this global.
    pub fn global(mut self, module: &str, name: &str) -> Detected {
        self.module = Some(module.to_string());
        self.name = Some(name.to_string());
        self
    }

    /// The finding, at `severity`.
    pub fn with_severity(self, severity: Severity) -> Finding {
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
    pub path: String,
    pub class: String,
    pub category: Category,
    /// `name=value` for plain parameters, in state order.
    pub parameters: Vec<(String, String)>,
    /// Arrays in its state: attribute, path, shape, dtype.
    pub arrays: Vec<(String, String, Vec<u64>, String)>,
}
