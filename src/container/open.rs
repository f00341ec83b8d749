//! [`open`]: from the bytes of an input to the parts a loader reads — pickle streams and
//! plain `.npy` arrays — each with what the analysis must know about it (the member holding
//! it, its root object path, torch storages and their byte order, whether persistent ids are
//! expected). The analysis never dispatches on container kinds: adding a container means
//! adding a [`Layout`] here.
//!
//! Parts are produced one at a time ([`Opened::parts`]), so the decoded bytes of one zip
//! member are dropped before the next is decoded.

#![warn(clippy::arithmetic_side_effects)]

use std::borrow::Cow;
use std::ops::Range;

use super::torch::{torch_zip, StorageBytes, StorageMap, StorageRef};
use super::zipfile::{duplicates, member_bytes, zip_members_all, NameIssue, ZipMember};
use super::{decompress, parse_npy_header, sniff, ContainerKind, NpyHeader};
use crate::error::{Error, ErrorKind, Result};
use crate::limits::{Limit, Limits};
use crate::report::Detected;
use crate::rules::Rule;

/// How many archives deep members are opened: a zip in a zip in a zip.
pub(crate) const MAX_NESTING: usize = 3;

/// An opened input: its kind and the parts inside, read on demand.
pub(crate) struct Opened<'a> {
    input: &'a [u8],
    kind: ContainerKind,
    layout: Layout,
    max_decompressed: u64,
    /// What the container itself shows (unsafe member names, duplicated names).
    notes: Vec<Detected>,
}

/// How the parts of an input are laid out.
enum Layout {
    /// One pickle stream: the input itself, or its decompressed bytes.
    Stream { decoded: Option<Vec<u8>> },
    /// A `torch.save` zip archive: `data.pkl`, then every other `.pkl` member.
    TorchZip {
        data_pkl: ZipMember,
        others: Vec<ZipMember>,
        storages: StorageMap,
        big_endian: bool,
    },
    /// A `.npy` file.
    Npy,
    /// Any other archive (an `.npz`, a zip of pickles, a torch archive torch itself would
    /// not read): every member, in archive order, with the archives inside it opened in turn
    /// down to [`MAX_NESTING`] levels.
    Members {
        leaves: Vec<Leaf>,
        /// Decoded nested archives the leaves point into.
        blobs: Vec<Vec<u8>>,
    },
}

/// One member of an archive (possibly inside another archive).
struct Leaf {
    /// `inner.zip:model/data.pkl` for a member of a nested archive.
    name: String,
    /// `None`: in the input; else in `blobs[i]`.
    base: Option<usize>,
    member: ZipMember,
}

/// One part of an input.
pub(crate) enum Part<'p> {
    /// A pickle stream.
    Stream(StreamPart<'p>),
    /// A `.npy` file or member: a plain array, or an object array (a pickle after the
    /// header, see [`NpyPart::object_stream`]).
    Npy(NpyPart<'p>),
    /// An archive member that is neither a pickle nor an array: loaders hand its bytes
    /// over as they are (`numpy.load` returns a non-`.npy` npz member as `bytes`).
    Other,
}

/// What a loader reads of one pickle stream, and how.
pub(crate) struct StreamPart<'p> {
    /// The decoded stream.
    pub bytes: Cow<'p, [u8]>,
    /// Where its first pickle starts (after an `.npy` header).
    pub start: usize,
    /// The container member holding it (`archive/data.pkl`), if any.
    pub member: Option<String>,
    /// The object path of its root object: `$`, or `$["member"]` inside an npz.
    pub root_path: String,
    /// Torch storages that its persistent ids name.
    pub storages: Option<&'p StorageMap>,
    /// Storage bytes are big-endian (a torch `byteorder` record says "big").
    pub big_endian: bool,
    /// PERSID/BINPERSID are the format's own (torch) and not worth a finding.
    pub persistent_ids_expected: bool,
    /// Which of its pickles hold the object a loader returns; `None`: all of them.
    pub object_pickles: Option<Range<usize>>,
    /// Bytes after the last pickle are worth a look (trailing data, hidden payloads).
    pub scan_trailing: bool,
    /// A whole-file stream, which may be a legacy (non-zip) `torch.save` file: five
    /// pickles, then the raw storages ([`super::legacy_storages`]).
    pub whole_file: bool,
}

/// A `.npy` file or npz member.
pub(crate) struct NpyPart<'p> {
    /// The whole `.npy` (header and data).
    pub bytes: Cow<'p, [u8]>,
    pub header: NpyHeader,
    pub member: Option<String>,
    /// `$`, or `$["name"]` for the npz member `name.npy`.
    pub root_path: String,
}

impl<'p> NpyPart<'p> {
    /// An object-dtype `.npy` as the pickle numpy writes after the header.
    pub(crate) fn object_stream(self) -> StreamPart<'p> {
        StreamPart {
            start: self.header.data_offset,
            bytes: self.bytes,
            member: self.member,
            root_path: self.root_path,
            storages: None,
            big_endian: false,
            persistent_ids_expected: false,
            object_pickles: None,
            scan_trailing: true,
            whole_file: false,
        }
    }
}

/// Adds the member's name to an error from inside it.
pub(crate) fn in_member(e: Error, member: Option<&str>) -> Error {
    match member {
        Some(m) => Error::new(
            e.kind(),
            e.offset(),
            format!("{} (in member {m})", e.message()),
        ),
        None => e,
    }
}

/// Recognises the input by content ([`sniff`]) and maps its parts: decompresses a
/// compressed stream, reads a zip's central directory and a torch archive's records.
/// Errors are malformed containers, limits, and zip archives no loader reads as a pickle.
pub(crate) fn open<'a>(input: &'a [u8], limits: &Limits) -> Result<Opened<'a>> {
    let mut kind = sniff(input);
    let mut notes = Vec::new();
    let layout = match kind {
        ContainerKind::Pickle => Layout::Stream { decoded: None },
        ContainerKind::Gzip
        | ContainerKind::Bz2
        | ContainerKind::Xz
        | ContainerKind::Lzma
        | ContainerKind::Zlib
        | ContainerKind::Lz4 => Layout::Stream {
            decoded: Some(decompress(kind, input, limits.max_decompressed)?),
        },
        ContainerKind::TorchZip => match torch_layout(input, limits)? {
            Some(layout) => layout,
            // An archive torch would refuse (a duplicated name, no `<archive>/data.pkl`):
            // some other reader may still run its pickles, so each member is analysed.
            None => {
                kind = ContainerKind::Zip;
                members_layout(input, limits, &mut notes)?
            }
        },
        ContainerKind::Npy => Layout::Npy,
        ContainerKind::Npz | ContainerKind::Zip => members_layout(input, limits, &mut notes)?,
    };
    Ok(Opened {
        input,
        kind,
        layout,
        max_decompressed: limits.max_decompressed,
        notes,
    })
}

/// Every member of a zip archive, nested archives opened in turn.
fn members_layout(input: &[u8], limits: &Limits, notes: &mut Vec<Detected>) -> Result<Layout> {
    let mut leaves = Vec::new();
    let mut blobs = Vec::new();
    let mut budget = limits.max_decompressed;
    let mut walk = Walk {
        limits,
        leaves: &mut leaves,
        blobs: &mut blobs,
        notes,
        budget: &mut budget,
    };
    walk.zip(input, None, "", 1)?;
    Ok(Layout::Members { leaves, blobs })
}

struct Walk<'w> {
    limits: &'w Limits,
    leaves: &'w mut Vec<Leaf>,
    blobs: &'w mut Vec<Vec<u8>>,
    notes: &'w mut Vec<Detected>,
    /// Bytes that nested archives may still decode to, all together.
    budget: &'w mut u64,
}

impl Walk<'_> {
    /// The members of the zip archive `bytes` (`base`: where it lives), named with `prefix`.
    fn zip(&mut self, bytes: &[u8], base: Option<usize>, prefix: &str, depth: usize) -> Result<()> {
        let members = zip_members_all(bytes, self.limits.max_zip_members)
            .map_err(|e| in_member(e, nonempty(prefix)))?;
        let duplicated: std::collections::HashSet<&str> = duplicates(&members)
            .iter()
            .map(|m| m.name.as_str())
            .collect();
        for name in &duplicated {
            let copies = members.iter().filter(|m| m.name == *name).count();
            let at = members
                .iter()
                .find(|m| m.name == *name)
                .map(|m| m.header_offset);
            let shown = format!("{prefix}{name}");
            self.notes.push(
                Detected::new(
                    Rule::DuplicateMember,
                    format!(
                        "the archive holds {copies} members named {name:?}; numpy.load reads \
                         the last, other readers another: every copy is analysed"
                    ),
                )
                .at(at)
                .member(Some(&shown)),
            );
        }
        for member in members {
            let name = format!("{prefix}{}", member.name);
            if let Some(issue @ (NameIssue::ParentDir | NameIssue::Absolute)) = member.name_issue {
                self.notes.push(
                    Detected::new(
                        Rule::UnsafeMemberName,
                        format!(
                            "member name {:?} {}: extracting the archive would write outside \
                             the target folder",
                            member.name,
                            issue.as_str()
                        ),
                    )
                    .at(Some(member.header_offset))
                    .member(Some(&name)),
                );
            }
            // Folders hold nothing.
            if member.name.ends_with('/') && member.size == 0 {
                continue;
            }
            if depth < MAX_NESTING && self.is_zip(bytes, &member) {
                let data = member_bytes(
                    bytes,
                    &member,
                    (*self.budget).min(self.limits.max_decompressed),
                )
                .map_err(|e| in_member(e, Some(&name)))?;
                *self.budget = self.budget.saturating_sub(data.len() as u64);
                if *self.budget == 0 {
                    return Err(Limit::Decompressed.exceeded(
                        member.header_offset,
                        format_args!(
                            "archives nested in {name:?} decompress to more than the limit of {} bytes",
                            self.limits.max_decompressed
                        ),
                    ));
                }
                let data = data.into_owned();
                let id = self.blobs.len();
                self.blobs.push(Vec::new());
                self.zip(
                    &data,
                    Some(id),
                    &format!("{name}:"),
                    depth.saturating_add(1),
                )?;
                if let Some(slot) = self.blobs.get_mut(id) {
                    *slot = data;
                }
                continue;
            }
            self.leaves.push(Leaf { name, base, member });
        }
        Ok(())
    }

    /// Whether a member is itself a zip archive (from its first bytes only).
    fn is_zip(&self, bytes: &[u8], member: &ZipMember) -> bool {
        let start = usize::try_from(member.data_offset).unwrap_or(usize::MAX);
        let head = bytes.get(start..).unwrap_or_default();
        let head = head.get(..4).unwrap_or(head);
        if member.stored {
            head == b"PK\x03\x04" || head == b"PK\x05\x06"
        } else {
            // A deflated member: look at its first decoded bytes.
            super::zipfile::member_prefix(bytes, member, 4)
                .is_some_and(|p| p.starts_with(b"PK\x03\x04") || p.starts_with(b"PK\x05\x06"))
        }
    }
}

fn nonempty(prefix: &str) -> Option<&str> {
    let p = prefix.strip_suffix(':').unwrap_or(prefix);
    (!p.is_empty()).then_some(p)
}

/// The torch layout, or `None` when torch would not read the archive (then its members
/// are analysed one by one).
fn torch_layout(input: &[u8], limits: &Limits) -> Result<Option<Layout>> {
    let members = zip_members_all(input, limits.max_zip_members)?;
    if !duplicates(&members).is_empty() {
        return Ok(None);
    }
    let Ok(layout) = torch_zip(input, &members) else {
        return Ok(None);
    };
    let storages = layout
        .storages
        .iter()
        .map(|(key, member)| {
            // torch stores storages uncompressed: read them in place.
            let bytes = if member.stored {
                StorageBytes::Input(member.data_offset)
            } else {
                StorageBytes::Missing(format!("storage member {} is compressed", member.name))
            };
            let storage = StorageRef {
                member: Some(member.name.clone()),
                offset: 0,
                len: member.size,
                bytes,
            };
            (key.clone(), storage)
        })
        .collect();
    Ok(Some(Layout::TorchZip {
        big_endian: layout.byteorder.as_deref() == Some("big"),
        data_pkl: layout.data_pkl,
        others: layout.other_pickles,
        storages,
    }))
}

impl<'a> Opened<'a> {
    /// What the bytes are.
    pub(crate) fn kind(&self) -> ContainerKind {
        self.kind
    }

    /// The whole input.
    pub(crate) fn input(&self) -> &'a [u8] {
        self.input
    }

    /// What the container itself shows: unsafe member names, duplicated names.
    pub(crate) fn notes(&self) -> &[Detected] {
        &self.notes
    }

    /// The compressor around the stream, if the input is a compressed stream.
    pub(crate) fn compression(&self) -> Option<&'static str> {
        self.kind.is_compressed().then(|| self.kind.as_str())
    }

    /// The parts, in the order a loader meets them; each is read when the iterator
    /// reaches it.
    pub(crate) fn parts(&self) -> impl Iterator<Item = Result<Part<'_>>> + '_ {
        let count = match &self.layout {
            Layout::Stream { .. } | Layout::Npy => 1,
            Layout::TorchZip { others, .. } => others.len().saturating_add(1),
            Layout::Members { leaves, .. } => leaves.len(),
        };
        (0..count).map(move |i| self.part(i))
    }

    fn part(&self, i: usize) -> Result<Part<'_>> {
        match &self.layout {
            Layout::Stream { decoded } => Ok(Part::Stream(StreamPart {
                bytes: Cow::Borrowed(decoded.as_deref().unwrap_or(self.input)),
                start: 0,
                member: None,
                root_path: "$".to_string(),
                storages: None,
                big_endian: false,
                persistent_ids_expected: false,
                object_pickles: None,
                scan_trailing: true,
                whole_file: true,
            })),
            Layout::TorchZip {
                data_pkl,
                others,
                storages,
                big_endian,
            } => {
                // Other pickles in the archive (TorchScript's constants.pkl, or one planted
                // beside data.pkl): torch.load does not run them, torch.jit.load may; they
                // are inspected alike, holding no object torch.load returns.
                let (member, object_pickles) = match i.checked_sub(1) {
                    None => (data_pkl, None),
                    Some(j) => (others.get(j).ok_or_else(no_part)?, Some(0..0)),
                };
                Ok(Part::Stream(StreamPart {
                    bytes: member_bytes(self.input, member, self.max_decompressed)?,
                    start: 0,
                    member: Some(member.name.clone()),
                    root_path: "$".to_string(),
                    storages: Some(storages),
                    big_endian: *big_endian,
                    persistent_ids_expected: true,
                    object_pickles,
                    scan_trailing: true,
                    whole_file: false,
                }))
            }
            Layout::Npy => npy_part(Cow::Borrowed(self.input), None, "$".to_string()),
            Layout::Members { leaves, blobs } => {
                let leaf = leaves.get(i).ok_or_else(no_part)?;
                let base = match leaf.base {
                    None => self.input,
                    Some(id) => blobs.get(id).ok_or_else(no_part)?,
                };
                let bytes = member_bytes(base, &leaf.member, self.max_decompressed)
                    .map_err(|e| in_member(e, Some(&leaf.name)))?;
                member_part(bytes, &leaf.name, self.max_decompressed)
            }
        }
    }
}

/// A member of an archive, by its content: a `.npy` (its root path named after the member,
/// as `numpy.load` keys npz members), a pickle stream (compressed or not), or neither.
fn member_part<'p>(bytes: Cow<'p, [u8]>, name: &str, limit: u64) -> Result<Part<'p>> {
    let kind = sniff(&bytes);
    if kind == ContainerKind::Npy {
        let key = name.rsplit(':').next().unwrap_or(name);
        let key = key.strip_suffix(".npy").unwrap_or(key);
        let mut root = String::from("$");
        crate::analysis::path::push_json_key(key, &mut root);
        return npy_part(bytes, Some(name.to_owned()), root);
    }
    if matches!(
        kind,
        ContainerKind::Zip | ContainerKind::TorchZip | ContainerKind::Npz
    ) {
        return Err(Error::new(
            ErrorKind::Unsupported,
            0,
            format!(
                "member {name:?} is an archive nested more than {MAX_NESTING} levels deep; \
                 archives are opened to that depth"
            ),
        ));
    }
    let bytes = if kind.is_compressed() {
        Cow::Owned(decompress(kind, &bytes, limit).map_err(|e| in_member(e, Some(name)))?)
    } else if kind == ContainerKind::Pickle && looks_like_pickle(&bytes) {
        bytes
    } else {
        return Ok(Part::Other);
    };
    Ok(Part::Stream(StreamPart {
        bytes,
        start: 0,
        member: Some(name.to_owned()),
        root_path: "$".to_string(),
        storages: None,
        big_endian: false,
        persistent_ids_expected: false,
        object_pickles: None,
        scan_trailing: true,
        whole_file: true,
    }))
}

/// Whether a member's bytes are worth running as a pickle: protocol 2+ starts with PROTO;
/// protocols 0 and 1 with an opcode, and then must read to a STOP without error (a text
/// file, an image or a config in an archive is not a pickle, and not an error).
fn looks_like_pickle(bytes: &[u8]) -> bool {
    match bytes.first() {
        Some(0x80) => true,
        Some(_) => crate::reader::OpReader::new(bytes, 0)
            .take(1 << 20)
            .try_fold(false, |_, op| {
                op.map(|op| op.opcode == crate::opcode::Opcode::STOP)
            })
            .unwrap_or(false),
        None => false,
    }
}

fn npy_part(bytes: Cow<'_, [u8]>, member: Option<String>, root_path: String) -> Result<Part<'_>> {
    let header = parse_npy_header(&bytes).map_err(|e| in_member(e, member.as_deref()))?;
    Ok(Part::Npy(NpyPart {
        bytes,
        header,
        member,
        root_path,
    }))
}

/// Parts are indexed by a range the layout itself gives: a miss is a bug, reported as an
/// error rather than a panic.
fn no_part() -> Error {
    Error::new(
        ErrorKind::Unsupported,
        0,
        "internal error: no such container part",
    )
}
