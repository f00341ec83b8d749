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
use super::zipfile::{member_bytes, zip_members_with_limit, ZipMember};
use super::{decompress, parse_npy_header, sniff, ContainerKind, NpyHeader};
use crate::error::{Error, ErrorKind, Result};
use crate::limits::Limits;

/// An opened input: its kind and the parts inside, read on demand.
pub(crate) struct Opened<'a> {
    input: &'a [u8],
    kind: ContainerKind,
    layout: Layout,
    max_decompressed: u64,
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
    /// An `.npz` archive: one `.npy` per member.
    Npz { members: Vec<ZipMember> },
}

/// One part of an input.
pub(crate) enum Part<'p> {
    /// A pickle stream.
    Stream(StreamPart<'p>),
    /// A `.npy` file or member: a plain array, or an object array (a pickle after the
    /// header, see [`NpyPart::object_stream`]).
    Npy(NpyPart<'p>),
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
    let kind = sniff(input);
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
        ContainerKind::TorchZip => torch_layout(input, limits)?,
        ContainerKind::Npy => Layout::Npy,
        ContainerKind::Npz => Layout::Npz {
            members: zip_members_with_limit(input, limits.max_zip_members)?,
        },
        ContainerKind::Zip => {
            return Err(Error::new(
                ErrorKind::Unsupported,
                0,
                "a zip archive that is neither a torch checkpoint (no */data.pkl) nor an .npz \
                 (members not all .npy)",
            ))
        }
    };
    Ok(Opened {
        input,
        kind,
        layout,
        max_decompressed: limits.max_decompressed,
    })
}

fn torch_layout(input: &[u8], limits: &Limits) -> Result<Layout> {
    let members = zip_members_with_limit(input, limits.max_zip_members)?;
    let layout = torch_zip(input, &members)?;
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
    Ok(Layout::TorchZip {
        big_endian: layout.byteorder.as_deref() == Some("big"),
        data_pkl: layout.data_pkl,
        others: layout.other_pickles,
        storages,
    })
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
            Layout::Npz { members } => members.len(),
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
            Layout::Npz { members } => {
                let member = members.get(i).ok_or_else(no_part)?;
                let bytes = member_bytes(self.input, member, self.max_decompressed)?;
                let key = member.name.strip_suffix(".npy").unwrap_or(&member.name);
                let mut root = String::from("$");
                crate::analysis::path::push_json_key(key, &mut root);
                npy_part(bytes, Some(member.name.clone()), root)
            }
        }
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
