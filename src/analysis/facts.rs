//! Writer facts (`explain`'s "Written by / will fail where"): library versions recorded in
//! the objects' state (`_sklearn_version`), read while a stream's graph is alive; and, once
//! the report is complete, the facts of [`crate::classify::facts_table`] its names match
//! (numpy 1 or 2, pandas generation, removals) and the minimum Python its protocols and
//! names need. [`WriterFacts::requirements`] turns them into pip requirements with evidence.

#![warn(clippy::arithmetic_side_effects)]

use crate::classify::facts_table::{
    facts_for, pattern_match, protocol_min_python, FactKind, FACTS, MIN_PYTHON_NAMES,
    VERSION_ATTRIBUTES,
};
use crate::container::{member_bytes, torch_zip, zip_members, ContainerKind, ZipMember};
use crate::machine::{Graph, Node, NodeId, Pickle};
use crate::opcode::Opcode;
use crate::pytext;
use crate::report::{
    FactHit, MinPython, RecordedVersion, Report, Requirement, TorchLegacyInfo, TorchZipInfo,
    WriterFacts,
};

use super::object_paths::ObjectPaths;
use super::Analysis;

/// At most this many paths are kept per recorded version (and globals per fact).
const MAX_EVIDENCE: usize = 8;

/// At most this many distinct recorded versions are kept: a hostile file can give every
/// object its own.
const MAX_VERSIONS: usize = 32;

/// Version strings longer than this are cut.
const MAX_VERSION_CHARS: usize = 40;

/// What the graph of a stream says about the writer, gathered pickle by pickle while it is
/// alive; [`writer_facts`] completes it from the report.
#[derive(Default)]
pub(crate) struct WriterState {
    /// Versions recorded in object state.
    versions: Vec<RecordedVersion>,
    /// Globals whose objects are given state (BUILD), for the facts that need it:
    /// `module.name`, offset of the call, container member.
    stateful: Vec<(String, u64, Option<String>)>,
    /// A legacy torch file's system record.
    torch_legacy: Option<TorchLegacyInfo>,
}

impl Analysis<'_> {
    /// Gathers what one pickle's graph says about the writer: versions recorded in the
    /// state of the objects `walk` found, objects given state whose class a fact names,
    /// and a legacy torch file's system record.
    pub(crate) fn writer_state(
        &mut self,
        graph: &Graph<'_>,
        pickle: &Pickle,
        walk: &ObjectPaths<'_>,
        member: Option<&str>,
    ) {
        self.recorded_versions(graph, walk, member);
        self.stateful_globals(graph, pickle, member);
        if self.torch_legacy && self.writer.torch_legacy.is_none() {
            self.writer.torch_legacy = torch_sys_info(graph, pickle.root, pickle.start);
        }
    }

    /// The objects `pickle` gives state (its BUILD trace entries) whose class is a global a
    /// state-only fact names. Reads the pickle's own trace, so a stream of many pickles
    /// costs its length once.
    fn stateful_globals(&mut self, graph: &Graph<'_>, pickle: &Pickle, member: Option<&str>) {
        const MAX_STATEFUL: usize = 64;
        let named = |module: &str, name: &str| {
            FACTS.iter().filter(|f| f.only_with_state).any(|f| {
                f.names
                    .iter()
                    .any(|&(pm, pn)| pattern_match(pm, pn, module, name).is_some())
            })
        };
        let imports_one = pickle.globals.iter().any(|&(index, _)| {
            graph
                .globals
                .get(index as usize)
                .is_some_and(|g| named(&g.module, &g.name))
        });
        if !imports_one {
            return;
        }
        for traced in &pickle.calls {
            if self.writer.stateful.len() >= MAX_STATEFUL {
                return;
            }
            if traced.opcode != Opcode::BUILD {
                continue;
            }
            let Some(call) = graph.call(traced.node) else {
                continue;
            };
            let Some(global) = graph.global(call.callable) else {
                continue;
            };
            if named(&global.module, &global.name) {
                self.writer.stateful.push((
                    format!("{}.{}", global.module, global.name),
                    call.offset as u64,
                    member.map(str::to_string),
                ));
            }
        }
    }

    /// Adds the versions recorded in the state of the objects `walk` found in one pickle.
    fn recorded_versions(
        &mut self,
        graph: &Graph<'_>,
        walk: &ObjectPaths<'_>,
        member: Option<&str>,
    ) {
        for (path, node) in &walk.objects {
            let Some(call) = graph.call(*node) else {
                continue;
            };
            let Some(pairs) = call.state.and_then(|s| graph.dict(s)) else {
                continue;
            };
            for &(k, v) in pairs {
                let Some(key) = graph.str(k) else { continue };
                let Some(attr) = VERSION_ATTRIBUTES.iter().find(|a| a.attribute == key) else {
                    continue;
                };
                let Some(text) = graph.str(v) else { continue };
                let version = version_text(text);
                let at = format!("{path}.{key}");
                let versions = &mut self.writer.versions;
                if let Some(seen) = versions
                    .iter_mut()
                    .find(|r| r.package == attr.package && r.version == version)
                {
                    seen.uses = seen.uses.saturating_add(1);
                    if seen.paths.len() < MAX_EVIDENCE {
                        seen.paths.push(at);
                    }
                } else if versions.len() < MAX_VERSIONS {
                    versions.push(RecordedVersion {
                        package: attr.package.to_string(),
                        attribute: attr.attribute.to_string(),
                        version,
                        paths: vec![at],
                        uses: 1,
                        offset: call.offset as u64,
                        member: member.map(str::to_string),
                        other_version: attr.other_version,
                    });
                }
            }
        }
    }
}

/// A legacy torch file's third pickle: `{"protocol_version": 1001, "little_endian": …,
/// "type_sizes": {…}}`, read only from a file already recognised as legacy torch.
fn torch_sys_info(graph: &Graph<'_>, root: NodeId, offset: usize) -> Option<TorchLegacyInfo> {
    let pairs = graph.dict(root)?;
    let get = |key: &str| {
        pairs
            .iter()
            .find(|&&(k, _)| graph.str(k) == Some(key))
            .map(|&(_, v)| v)
    };
    let int = |id: NodeId| match graph.node(id) {
        Node::Int(v) => Some(v),
        _ => None,
    };
    let protocol_version = get("protocol_version").and_then(int);
    let little_endian = get("little_endian").and_then(|v| match graph.node(v) {
        Node::Bool(b) => Some(b),
        _ => None,
    });
    if protocol_version.is_none() && little_endian.is_none() {
        return None;
    }
    let type_sizes = get("type_sizes")
        .and_then(|v| graph.dict(v))
        .map(|sizes| {
            sizes
                .iter()
                .take(MAX_EVIDENCE)
                .filter_map(|&(k, v)| Some((version_text(graph.str(k)?), int(v)?)))
                .collect()
        })
        .unwrap_or_default();
    Some(TorchLegacyInfo {
        protocol_version,
        little_endian,
        type_sizes,
        offset: offset as u64,
    })
}

/// A recorded version as text: as is when it is a plain version string, otherwise its
/// Python repr (cut to [`MAX_VERSION_CHARS`]), so nothing the file chooses reaches a
/// terminal raw.
fn version_text(text: &str) -> String {
    let plain = !text.is_empty()
        && text.chars().count() <= MAX_VERSION_CHARS
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".+-_!".contains(c));
    if plain {
        return text.to_string();
    }
    let cut: String = text.chars().take(MAX_VERSION_CHARS).collect();
    let mut out = String::new();
    pytext::repr_text(&cut, &mut out);
    out
}

/// The writer facts of a complete report: what the graphs said (`state`), the facts its
/// imports match, the minimum Python, and a torch zip archive's records (read from
/// `input` when it is one).
pub(crate) fn writer_facts(
    report: &Report,
    state: WriterState,
    input: &[u8],
    kind: ContainerKind,
) -> WriterFacts {
    let mut facts: Vec<FactHit> = Vec::new();
    for pickle in &report.pickles {
        for import in &pickle.imports {
            for fact in facts_for(&import.module, &import.name) {
                if fact.only_with_state {
                    continue;
                }
                let global = format!("{}.{}", import.module, import.name);
                match facts.iter_mut().find(|h| h.fact.id == fact.id) {
                    Some(hit) => {
                        if hit.globals.len() < MAX_EVIDENCE && !hit.globals.contains(&global) {
                            hit.globals.push(global);
                        }
                        if hit.path.is_none() {
                            hit.path = import.paths.first().cloned();
                        }
                    }
                    None => facts.push(FactHit {
                        fact,
                        globals: vec![global],
                        offset: import.offset,
                        path: import.paths.first().cloned(),
                        member: pickle.member.clone(),
                    }),
                }
            }
        }
    }
    for (global, offset, member) in state.stateful {
        let Some((module, name)) = global.rsplit_once('.') else {
            continue;
        };
        for fact in facts_for(module, name)
            .into_iter()
            .filter(|f| f.only_with_state)
        {
            match facts.iter_mut().find(|h| h.fact.id == fact.id) {
                Some(hit) => {
                    if hit.globals.len() < MAX_EVIDENCE && !hit.globals.contains(&global) {
                        hit.globals.push(global.clone());
                    }
                }
                None => facts.push(FactHit {
                    fact,
                    globals: vec![global.clone()],
                    offset,
                    path: None,
                    member: member.clone(),
                }),
            }
        }
    }
    // Table order: numpy before pandas, writers before removals.
    facts.sort_by_key(|h| FACTS.iter().position(|f| f.id == h.fact.id));
    WriterFacts {
        versions: state.versions,
        facts,
        min_python: min_python(report),
        torch_legacy: state.torch_legacy,
        torch_zip: (kind == ContainerKind::TorchZip)
            .then(|| torch_zip_records(input))
            .flatten(),
    }
}

/// Most bytes a version record may have.
const RECORD_MAX: u64 = 32;

/// A torch zip archive's version records (`version`, `.format_version`,
/// `.storage_alignment`, `byteorder`); `None` when the archive cannot be mapped.
fn torch_zip_records(input: &[u8]) -> Option<TorchZipInfo> {
    let members = zip_members(input).ok()?;
    let layout = torch_zip(input, &members).ok()?;
    let find = |name: &str| -> Option<&ZipMember> {
        let full = format!("{}/{name}", layout.prefix);
        members.iter().find(|m| m.name == full)
    };
    let read = |name: &str| -> Option<String> {
        let member = find(name)?;
        let raw = member_bytes(input, member, RECORD_MAX).ok()?;
        let text = String::from_utf8_lossy(&raw);
        Some(version_text(text.trim()))
    };
    let version_member = find("version").or_else(|| find(".data/version"));
    Some(TorchZipInfo {
        version: read("version").or_else(|| read(".data/version")),
        format_version: read(".format_version"),
        storage_alignment: read(".storage_alignment"),
        byteorder: layout.byteorder.clone(),
        offset: version_member.map_or(layout.data_pkl.header_offset, |m| m.header_offset),
    })
}

/// The newest Python the protocols and names need.
fn min_python(report: &Report) -> Option<MinPython> {
    let mut best: Option<MinPython> = None;
    let mut offer = |candidate: MinPython| {
        if best.as_ref().is_none_or(|b| candidate.version > b.version) {
            best = Some(candidate);
        }
    };
    for pickle in &report.pickles {
        if let Some(version) = protocol_min_python(pickle.protocol) {
            offer(MinPython {
                version,
                because: format!("pickle protocol {}", pickle.protocol),
                offset: pickle.offset,
            });
        }
        for import in &pickle.imports {
            for &(pm, pn, version, why) in MIN_PYTHON_NAMES {
                if pattern_match(pm, pn, &import.module, &import.name).is_some() {
                    offer(MinPython {
                        version,
                        because: format!("{}.{}: {why}", import.module, import.name),
                        offset: import.offset,
                    });
                }
            }
        }
    }
    best
}

impl Report {
    /// What loading the file requires, as pip takes it, with evidence: the same as
    /// [`WriterFacts::requirements`] of [`Report::writer`].
    pub fn requirements(&self) -> Vec<Requirement> {
        self.writer.requirements()
    }
}

impl WriterFacts {
    /// The bytes say nothing about the writer.
    pub fn is_empty(&self) -> bool {
        self.versions.is_empty()
            && self.facts.is_empty()
            && self.min_python.is_none()
            && self.torch_legacy.is_none()
            && self.torch_zip.is_none()
    }

    /// A torch zip archive's records in one line: `version 3, .format_version 1, storage
    /// alignment 64, byteorder little`.
    pub fn torch_zip_text(&self) -> Option<String> {
        let t = self.torch_zip.as_ref()?;
        let fields = [
            ("version", &t.version),
            (".format_version", &t.format_version),
            ("storage alignment", &t.storage_alignment),
            ("byteorder", &t.byteorder),
        ];
        let parts: Vec<String> = fields
            .iter()
            .map(|(name, value)| match value {
                Some(v) => format!("{name} {v}"),
                None => format!("no {name} record"),
            })
            .collect();
        Some(parts.join(", "))
    }

    /// A legacy torch file's system record in one line: `torch.save's legacy format
    /// (protocol version 1001, little-endian, short 2, int 4, long 8 bytes)`.
    pub fn torch_legacy_text(&self) -> Option<String> {
        let t = self.torch_legacy.as_ref()?;
        let mut parts = Vec::new();
        if let Some(v) = t.protocol_version {
            parts.push(format!("protocol version {v}"));
        }
        match t.little_endian {
            Some(true) => parts.push("little-endian".to_string()),
            Some(false) => parts.push("big-endian".to_string()),
            None => {}
        }
        if !t.type_sizes.is_empty() {
            let sizes: Vec<String> = t
                .type_sizes
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect();
            parts.push(format!("{} bytes", sizes.join(", ")));
        }
        Some(format!("torch.save's legacy format ({})", parts.join(", ")))
    }

    /// The writer fact of `package` (`numpy`, `pandas`) whose requirement is the newest:
    /// the generation that wrote the file, if the names say.
    pub fn generation(&self, package: &str) -> Option<&FactHit> {
        let writers = || {
            self.facts
                .iter()
                .filter(move |h| h.fact.package == package && h.fact.kind == FactKind::Writer)
        };
        // A fact with a requirement says more than one without (numpy 2 names beat numpy 1
        // names in the same file: numpy 2 must load it).
        writers()
            .find(|h| !h.fact.requires.is_empty())
            .or_else(|| writers().next())
    }

    /// The version recorded for the package whose globals live under `module` (its top
    /// level, `sklearn`), when exactly one is.
    pub fn recorded_for_module(&self, module: &str) -> Option<&RecordedVersion> {
        let top = module.split('.').next().unwrap_or(module);
        let attr = VERSION_ATTRIBUTES.iter().find(|a| a.module == top)?;
        let mut matching = self.versions.iter().filter(|v| v.package == attr.package);
        let first = matching.next()?;
        matching.next().is_none().then_some(first)
    }

    /// What loading the file requires, as pip takes it, each with its evidence: recorded
    /// versions (`scikit-learn==1.9.1`), generations and removals (`numpy>=2`,
    /// `keras-preprocessing==1.1.2`) and the minimum Python (`python>=3.8`).
    pub fn requirements(&self) -> Vec<Requirement> {
        let mut out = Vec::new();
        for v in &self.versions {
            out.push(Requirement {
                package: v.package.clone(),
                spec: format!("{}=={}", v.package, v.version),
                recorded: Some(v.version.clone()),
                evidence: format!("{} records {}", v.attribute, v.version),
                path: v.paths.first().cloned(),
                offset: v.offset,
                member: v.member.clone(),
            });
        }
        // Facts in table order: a package's strongest requirement comes first (numpy 2's
        // `numeric` before the names numpy 1.26.1 stubs), and only it is kept.
        let mut from_facts: Vec<&str> = Vec::new();
        for hit in &self.facts {
            if hit.fact.requires.is_empty() || from_facts.contains(&hit.fact.package) {
                continue;
            }
            from_facts.push(hit.fact.package);
            out.push(Requirement {
                package: hit.fact.package.to_string(),
                spec: hit.fact.requires.to_string(),
                recorded: None,
                evidence: format!(
                    "names {}: written by {}",
                    hit.globals.join(", "),
                    hit.fact.written_by
                ),
                path: hit.path.clone(),
                offset: hit.offset,
                member: hit.member.clone(),
            });
        }
        if let Some(p) = &self.min_python {
            out.push(Requirement {
                package: "python".to_string(),
                spec: format!("python>={}.{}", p.version.0, p.version.1),
                recorded: None,
                evidence: p.because.clone(),
                path: None,
                offset: p.offset,
                member: None,
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_version_strings_are_escaped_and_cut() {
        assert_eq!(version_text("1.9.1"), "1.9.1");
        assert_eq!(version_text("1.4.dev0+abc"), "1.4.dev0+abc");
        assert_eq!(version_text("1.0\x1b[31m"), "'1.0\\x1b[31m'");
        assert!(version_text(&"9".repeat(500)).chars().count() < 50);
    }
}
