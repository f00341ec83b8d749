//! [`open`]: from the bytes of an input to the parts a loader reads — pickle streams and
//! plain `.npy` arrays — each with what the analysis must know about it (the member holding
//! it, its root object path, torch storages and their byte order, whether persistent ids are
//! expected). The analysis never dispatches on container kinds: adding a container means
//! adding a [`Layout`] here.
//!
//! Parts are produced one at a time ([`Opened::parts`]), so the decoded bytes of one zip
//! member are dropped before the next is decoded. Archives other than a torch checkpoint
//! (an npz, any zip, tar or 7z) are walked member by member: every member is sniffed and
//! becomes a `.npy` part, a pickle stream (compressed or not), or neither; archives inside
//! are opened down to [`MAX_NESTING`] levels and their members named `outer:inner`. A
//! top-level tar with a `storages` member is torch's legacy tar checkpoint: its `storages`,
//! `tensors` and `pickle` members become one part per pickle torch reads
//! ([`super::torch_tar`]); its `pickle` part carries the tensors its persistent ids name
//! ([`crate::lift::tar_tensors`]), their storages read in place in the input.

#![warn(clippy::arithmetic_side_effects)]

use std::borrow::Cow;
use std::ops::Range;

use super::compressed::within_cap;
use super::torch::{torch_zip, StorageBytes, StorageMap, StorageRef};
use super::torch_tar;
use super::zipfile::{duplicates, member_bytes, zip_members_all, NameIssue, ZipMember};
use super::{decompress, parse_npy_header, sniff, ContainerKind, NpyHeader};
use crate::error::{Error, ErrorKind, Result};
use crate::lift::tar_tensors::{TarError, TarTensors};
use crate::limits::{Limit, Limits};
use crate::report::Detected;
use crate::rules::Rule;

/// How many archives deep members are opened: a zip in a zip in a zip.
/// How much of a compressed stream that hits a decompression limit is still read as a
/// pickle: room for a payload placed before a bomb, and at most some 64 thousand objects
/// (a few MiB) per file for lint's parallel workers. A payload hidden further in is not
/// seen, but the limit is an error finding on its own: the check still fails.
const PREFIX_PAST_A_LIMIT: usize = 64 << 10;

pub(crate) const MAX_NESTING: usize = 3;

/// An opened input: its kind and the parts inside, read on demand.
pub(crate) struct Opened<'a> {
    input: &'a [u8],
    kind: ContainerKind,
    /// The compressor around the whole input (a compressed stream, or a `.tar.gz`).
    compressed: Option<ContainerKind>,
    layout: Layout,
    limits: Limits,
    /// What the container itself shows (unsafe member names, duplicated names).
    notes: Vec<Detected>,
    /// Why a compressed stream could not be decoded to its end (corrupt, truncated, a
    /// limit): the stream part is then what was decoded before it.
    decode_error: Option<Error>,
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
    source: Source,
    /// One pickle torch's legacy tar loader reads (see [`super::torch_tar`]).
    torch: Option<TorchRecord>,
    /// For a legacy tar's `pickle` member: the tensors its persistent ids name, or why
    /// they cannot be rebuilt.
    tensors: Option<Box<std::result::Result<TarTensors, TarError>>>,
}

/// A pickle of a legacy torch tar checkpoint: where it starts in its member, and whether
/// it is the `pickle` member (the object `torch.load` returns, persistent ids naming
/// tensors) or a record of `storages`/`tensors` (bounded to the record's pickle).
#[derive(Clone, Copy)]
struct TorchRecord {
    start: usize,
    object: bool,
}

/// Where a member's bytes are, in its base.
enum Source {
    /// A zip member (stored, or deflated and decoded when read).
    Zip(ZipMember),
    /// A tar member or a decoded 7z entry: these bytes as they are.
    Range { start: usize, len: usize },
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
    /// A legacy tar's `pickle` member: the tensors its persistent ids name, or why torch
    /// cannot rebuild them.
    pub tar_tensors: Option<&'p std::result::Result<TarTensors, TarError>>,
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

impl<'p> StreamPart<'p> {
    /// A stream that is a whole file or member on its own: every pickle holds the loaded
    /// object, trailing bytes are worth a look, and it may be a legacy torch file.
    fn whole(bytes: Cow<'p, [u8]>, member: Option<String>) -> StreamPart<'p> {
        StreamPart {
            bytes,
            start: 0,
            member,
            root_path: "$".to_string(),
            storages: None,
            big_endian: false,
            persistent_ids_expected: false,
            object_pickles: None,
            scan_trailing: true,
            whole_file: true,
            tar_tensors: None,
        }
    }
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
            tar_tensors: None,
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
/// A compressed pickle stream whose decoder fails (corrupt, truncated) after producing
/// bytes is opened as those bytes, the failure kept in [`Opened::decode_error`].
pub(crate) fn open<'a>(input: &'a [u8], limits: &Limits) -> Result<Opened<'a>> {
    let mut kind = sniff(input);
    let compressed = kind.is_compressed().then_some(kind);
    let mut notes = Vec::new();
    let mut decode_error = None;
    let layout = match kind {
        ContainerKind::Pickle => Layout::Stream { decoded: None },
        ContainerKind::Gzip
        | ContainerKind::Bz2
        | ContainerKind::Xz
        | ContainerKind::Lzma
        | ContainerKind::Zlib
        | ContainerKind::Lz4
        | ContainerKind::Zstd
        | ContainerKind::JoblibZfile => {
            let (decoded, error) =
                super::compressed::decompress_partial_within_cap(limits, kind, input);
            // A stream that fails part-way: its loader reads what was decoded before the
            // failure (a pickle stream only; an archive or a `ZF` file is read whole). Past
            // a limit, only the first [`PREFIX_PAST_A_LIMIT`] bytes are read as a pickle
            // (a payload before a bomb is found; reading all of a bomb's first `cap` bytes
            // could cost what the limit is there to prevent), and the limit stays an error.
            let mut decoded = decoded;
            if let Some(e) = error {
                if matches!(e.kind(), ErrorKind::LimitExceeded(_)) {
                    decoded.truncate(PREFIX_PAST_A_LIMIT);
                    decoded.shrink_to_fit();
                }
                if decoded.is_empty()
                    || kind == ContainerKind::JoblibZfile
                    || super::is_tar(&decoded)
                {
                    return Err(e);
                }
                decode_error = Some(e);
            }
            // A compressed tar (pandas `to_pickle("x.tar.gz")`, a NeMo `.nemo`, `tar.zst`):
            // a tar, every member analysed.
            if kind == ContainerKind::JoblibZfile
                && decoded
                    .first()
                    .is_none_or(|&b| crate::opcode::Opcode::from_byte(b).is_none())
            {
                // joblib's `ZF` also holds the raw bytes of an array (a `ZNDArrayWrapper`'s
                // `.z` side file), which joblib hands to `ndarray.__setstate__`, never to
                // pickle. (Bytes that do not start with an opcode make pickle.load fail at
                // once, before anything runs.) Nothing in it to analyse.
                Layout::Members {
                    leaves: Vec::new(),
                    blobs: Vec::new(),
                }
            } else if super::is_tar(&decoded) {
                kind = ContainerKind::Tar;
                let mut layout =
                    archive_layout(ContainerKind::Tar, &decoded, limits, &mut notes, true)?;
                if let Layout::Members { blobs, .. } = &mut layout {
                    if let Some(slot) = blobs.first_mut() {
                        *slot = decoded;
                    }
                }
                layout
            } else {
                Layout::Stream {
                    decoded: Some(decoded),
                }
            }
        }
        ContainerKind::TorchZip => match torch_layout(input, limits)? {
            Some(layout) => layout,
            // An archive torch would refuse (a duplicated name, no `<archive>/data.pkl`):
            // some other reader may still run its pickles, so each member is analysed.
            None => {
                kind = ContainerKind::Zip;
                archive_layout(kind, input, limits, &mut notes, false)?
            }
        },
        ContainerKind::Npy => Layout::Npy,
        ContainerKind::Npz | ContainerKind::Zip | ContainerKind::Tar | ContainerKind::SevenZ => {
            archive_layout(kind, input, limits, &mut notes, false)?
        }
    };
    Ok(Opened {
        input,
        kind,
        compressed,
        layout,
        limits: limits.clone(),
        notes,
        decode_error,
    })
}

/// Every member of an archive, nested archives opened in turn. With `in_blob`, the archive
/// is the caller's decoded bytes, which become `blobs[0]` (the caller puts them there).
fn archive_layout(
    kind: ContainerKind,
    input: &[u8],
    limits: &Limits,
    notes: &mut Vec<Detected>,
    in_blob: bool,
) -> Result<Layout> {
    let mut leaves = Vec::new();
    let mut blobs = Vec::new();
    let base = if in_blob {
        blobs.push(Vec::new());
        Some(0)
    } else {
        None
    };
    let mut budget = limits.max_decompressed;
    let mut walk = Walk {
        limits,
        leaves: &mut leaves,
        blobs: &mut blobs,
        notes,
        budget: &mut budget,
    };
    walk.archive(kind, input, base, "", 1)?;
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
    fn archive(
        &mut self,
        kind: ContainerKind,
        bytes: &[u8],
        base: Option<usize>,
        prefix: &str,
        depth: usize,
    ) -> Result<()> {
        match kind {
            ContainerKind::Tar => self.tar(bytes, base, prefix, depth),
            ContainerKind::SevenZ => self.sevenz(bytes, prefix, depth),
            _ => self.zip(bytes, base, prefix, depth),
        }
    }

    /// A member: an archive to open in turn (within the depth), or a leaf.
    fn member(
        &mut self,
        bytes: &[u8],
        base: Option<usize>,
        name: String,
        source: Source,
        depth: usize,
    ) -> Result<()> {
        let head = match &source {
            Source::Zip(m) => super::zipfile::member_prefix(bytes, m, 512).unwrap_or_default(),
            Source::Range { start, len } => bytes
                .get(*start..start.saturating_add((*len).min(512)))
                .unwrap_or_default()
                .to_vec(),
        };
        let nested = archive_kind(&head);
        let Some(kind) = nested.filter(|_| depth < MAX_NESTING) else {
            self.leaves.push(Leaf {
                name,
                base,
                source,
                torch: None,
                tensors: None,
            });
            return Ok(());
        };
        let data: Cow<'_, [u8]> = match &source {
            Source::Zip(m) => within_cap(self.limits, compressed_len(m), |cap| {
                member_bytes(bytes, m, (*self.budget).min(cap))
            })
            .map_err(|e| in_member(e, Some(&name)))?,
            Source::Range { start, len } => Cow::Borrowed(
                bytes
                    .get(*start..start.saturating_add(*len))
                    .ok_or_else(no_part)?,
            ),
        };
        *self.budget = self.budget.saturating_sub(data.len() as u64);
        if *self.budget == 0 {
            return Err(Limit::Decompressed.exceeded(
                0,
                format_args!(
                    "archives nested in {name:?} hold more than the limit of {} bytes",
                    self.limits.max_decompressed
                ),
            ));
        }
        let data = data.into_owned();
        let id = self.blobs.len();
        self.blobs.push(Vec::new());
        self.archive(
            kind,
            &data,
            Some(id),
            &format!("{name}:"),
            depth.saturating_add(1),
        )?;
        if let Some(slot) = self.blobs.get_mut(id) {
            *slot = data;
        }
        Ok(())
    }

    /// A tar archive's regular files (`tarfile` reads the same headers: ustar, pax, GNU).
    fn tar(&mut self, bytes: &[u8], base: Option<usize>, prefix: &str, depth: usize) -> Result<()> {
        let bad = |e: std::io::Error| {
            in_member(
                Error::new(
                    ErrorKind::InvalidArgument,
                    0,
                    format!("tar archive cannot be read: {e}"),
                ),
                nonempty(prefix),
            )
        };
        let mut archive = tar::Archive::new(std::io::Cursor::new(bytes));
        let mut found = Vec::new();
        for entry in archive.entries_with_seek().map_err(bad)? {
            let entry = entry.map_err(bad)?;
            if found.len() >= self.limits.max_zip_members {
                return Err(Limit::ZipMembers.exceeded(
                    entry.raw_header_position(),
                    format_args!(
                        "tar archive has more than the limit of {} members",
                        self.limits.max_zip_members
                    ),
                ));
            }
            let header = entry.header();
            if !matches!(
                header.entry_type(),
                tar::EntryType::Regular | tar::EntryType::Continuous
            ) {
                continue;
            }
            let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            let start = usize::try_from(entry.raw_file_position()).unwrap_or(usize::MAX);
            let len = usize::try_from(entry.size()).unwrap_or(usize::MAX);
            if start.checked_add(len).is_none_or(|end| end > bytes.len()) {
                return Err(in_member(
                    Error::new(
                        ErrorKind::LengthPastEnd,
                        entry.raw_header_position(),
                        format!("tar member {name:?}: {len} bytes go past the end of the archive"),
                    ),
                    nonempty(prefix),
                ));
            }
            found.push((name, start, len, entry.raw_header_position()));
        }
        // torch's legacy tar checkpoint (read from the top level only, as torch reads it):
        // the last member of each name is the one `tarfile.getmember` gives torch.
        let legacy = depth == 1 && found.iter().any(|(name, ..)| name == torch_tar::STORAGES);
        let last = |wanted: &str| found.iter().rposition(|(name, ..)| name == wanted);
        let torch_members = if legacy {
            [
                last(torch_tar::STORAGES),
                last(torch_tar::TENSORS),
                last(torch_tar::PICKLE),
            ]
        } else {
            [None; 3]
        };
        let mut tar_table = legacy.then(|| {
            let member = |i: Option<usize>| {
                let (_, start, len, _) = found.get(i?)?;
                Some((*start, bytes.get(*start..start.checked_add(*len)?)?))
            };
            let (Some((at, storages)), Some((_, tensors))) =
                (member(torch_members[0]), member(torch_members[1]))
            else {
                return Err(TarError {
                    member: torch_tar::TENSORS,
                    error: Error::new(
                        ErrorKind::InvalidArgument,
                        0,
                        "legacy torch tar checkpoint without a tensors member",
                    ),
                });
            };
            let storages = crate::lift::tar_tensors::Member {
                bytes: storages,
                in_input: base.is_none().then_some(at as u64),
            };
            crate::lift::tar_tensors::tar_tensors(&storages, tensors, self.limits.max_pickles)
        });
        for (i, (name, start, len, at)) in found.into_iter().enumerate() {
            self.check_name(&name, prefix, at);
            let shown = format!("{prefix}{name}");
            let range = bytes
                .get(start..start.saturating_add(len))
                .unwrap_or_default();
            match torch_members.iter().position(|&m| m == Some(i)) {
                Some(2) => self.leaves.push(Leaf {
                    name: shown,
                    base,
                    source: Source::Range { start, len },
                    torch: Some(TorchRecord {
                        start: 0,
                        object: true,
                    }),
                    tensors: tar_table.take().map(Box::new),
                }),
                Some(role) => {
                    let records = if role == 0 {
                        torch_tar::storage_records(range, self.limits.max_pickles)
                    } else {
                        torch_tar::tensor_records(range, self.limits.max_pickles)
                    };
                    self.torch_records(records, range.len(), base, start, &shown);
                }
                None => self.member(bytes, base, shown, Source::Range { start, len }, depth)?,
            }
        }
        Ok(())
    }

    /// The pickles torch reads from a legacy tar's `storages` or `tensors` member (at
    /// `start` in its base), each a part of its own, and notes for what the walk could not
    /// follow or what torch leaves unread.
    fn torch_records(
        &mut self,
        records: torch_tar::Records,
        len: usize,
        base: Option<usize>,
        start: usize,
        name: &str,
    ) {
        for pickle in &records.pickles {
            self.leaves.push(Leaf {
                name: name.to_owned(),
                base,
                source: Source::Range {
                    start,
                    len: pickle.end,
                },
                torch: Some(TorchRecord {
                    start: pickle.start,
                    object: false,
                }),
                tensors: None,
            });
        }
        if let Some(e) = records.stopped {
            self.notes.push(
                Detected::new(
                    Rule::Malformed,
                    format!(
                        "{}; torch.load reads more pickles from this member, which were not \
                         analysed",
                        e.message()
                    ),
                )
                .at(Some(e.offset()))
                .member(Some(name)),
            );
        } else if records.end < len {
            self.notes.push(
                Detected::new(
                    Rule::TrailingData,
                    format!(
                        "{} bytes after the last record, which torch.load does not read",
                        len.saturating_sub(records.end)
                    ),
                )
                .at(Some(records.end as u64))
                .member(Some(name)),
            );
        }
    }

    /// A 7z archive: every entry decoded (its blocks are compressed as a whole), within the
    /// decompression budget.
    fn sevenz(&mut self, bytes: &[u8], prefix: &str, depth: usize) -> Result<()> {
        use std::io::Read;
        let bad = |e: sevenz_rust2::Error| {
            in_member(
                Error::new(
                    ErrorKind::InvalidArgument,
                    0,
                    format!("7z archive cannot be read: {e}"),
                ),
                nonempty(prefix),
            )
        };
        let mut reader = sevenz_rust2::ArchiveReader::new(
            std::io::Cursor::new(bytes),
            sevenz_rust2::Password::empty(),
        )
        .map_err(bad)?;
        let max_members = self.limits.max_zip_members;
        let mut budget = *self.budget;
        let mut entries: Vec<(String, Vec<u8>)> = Vec::new();
        let mut failure: Option<Error> = None;
        reader
            .for_each_entries(|entry, data| {
                if entry.is_directory || !entry.has_stream {
                    return Ok(true);
                }
                if entries.len() >= max_members {
                    failure = Some(Limit::ZipMembers.exceeded(
                        0,
                        format_args!("7z archive has more than the limit of {max_members} members"),
                    ));
                    return Ok(false);
                }
                let mut out = Vec::new();
                data.take(budget.saturating_add(1)).read_to_end(&mut out)?;
                if out.len() as u64 > budget {
                    failure = Some(Limit::Decompressed.exceeded(
                        0,
                        format_args!(
                            "7z entry {:?} decompresses to more than the limit",
                            entry.name
                        ),
                    ));
                    return Ok(false);
                }
                budget = budget.saturating_sub(out.len() as u64);
                entries.push((entry.name.clone(), out));
                Ok(true)
            })
            .map_err(bad)?;
        if let Some(e) = failure {
            return Err(e);
        }
        *self.budget = budget;
        for (name, data) in entries {
            self.check_name(&name, prefix, 0);
            let id = self.blobs.len();
            let len = data.len();
            self.blobs.push(data);
            let shown = format!("{prefix}{name}");
            let blob = std::mem::take(self.blobs.get_mut(id).ok_or_else(no_part)?);
            let result = self.member(
                &blob,
                Some(id),
                shown,
                Source::Range { start: 0, len },
                depth,
            );
            if let Some(slot) = self.blobs.get_mut(id) {
                *slot = blob;
            }
            result?;
        }
        Ok(())
    }

    /// An `unsafe-member-name` finding for a zip-slip name.
    fn check_name(&mut self, name: &str, prefix: &str, at: u64) {
        if let Some(issue @ (NameIssue::ParentDir | NameIssue::Absolute)) = NameIssue::of(name) {
            let shown = format!("{prefix}{name}");
            self.notes.push(
                Detected::new(
                    Rule::UnsafeMemberName,
                    format!(
                        "member name {name:?} {}: extracting the archive would write outside \
                         the target folder",
                        issue.as_str()
                    ),
                )
                .at(Some(at))
                .member(Some(&shown)),
            );
        }
    }

    /// The members of the zip archive `bytes` (`base`: where it lives), named with `prefix`.
    fn zip(&mut self, bytes: &[u8], base: Option<usize>, prefix: &str, depth: usize) -> Result<()> {
        let members = zip_members_all(bytes, self.limits.max_zip_members)
            .map_err(|e| in_member(e, nonempty(prefix)))?;
        // Each duplicated name once, in archive order (findings come out in a stable order).
        let mut duplicated: Vec<&str> = Vec::new();
        for m in duplicates(&members) {
            if !duplicated.contains(&m.name.as_str()) {
                duplicated.push(&m.name);
            }
        }
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
        // A torch archive inside another archive (a NeMo model tar holds one): its storage
        // records are raw tensor bytes, not pickles.
        let storages = torch_storage_prefix(&members);
        for member in members {
            self.check_name(&member.name, prefix, member.header_offset);
            if storages
                .as_deref()
                .is_some_and(|p| super::torch::strip_prefix_ignore_case(&member.name, p).is_some())
            {
                continue;
            }
            // Folders hold nothing.
            if member.name.ends_with('/') && member.size == 0 {
                continue;
            }
            let name = format!("{prefix}{}", member.name);
            self.member(bytes, base, name, Source::Zip(member), depth)?;
        }
        Ok(())
    }
}

/// `<archive>/data/` when these members are a torch archive (`<archive>/data.pkl`, its
/// folder named by the first member, as torch's reader takes it).
fn torch_storage_prefix(members: &[ZipMember]) -> Option<String> {
    let (folder, _) = members.first()?.name.split_once('/')?;
    let pickle = format!("{folder}/data.pkl");
    members
        .iter()
        .any(|m| m.name.eq_ignore_ascii_case(&pickle))
        .then(|| format!("{folder}/data/"))
}

/// The kind of archive these first bytes start, if any.
fn archive_kind(head: &[u8]) -> Option<ContainerKind> {
    if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
        Some(ContainerKind::Zip)
    } else if head.starts_with(b"7z\xbc\xaf\x27\x1c") {
        Some(ContainerKind::SevenZ)
    } else if super::is_tar(head) {
        Some(ContainerKind::Tar)
    } else {
        None
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

    /// Why a compressed stream could not be decoded to its end: its stream part is then
    /// the bytes decoded before the failure.
    pub(crate) fn decode_error(&self) -> Option<&Error> {
        self.decode_error.as_ref()
    }

    /// The compressor around the input, if it is a compressed stream or a compressed tar
    /// (then [`Opened::kind`] is [`ContainerKind::Tar`]).
    pub(crate) fn compression(&self) -> Option<&'static str> {
        self.compressed.map(ContainerKind::as_str)
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
            Layout::Stream { decoded } => Ok(Part::Stream(StreamPart::whole(
                Cow::Borrowed(decoded.as_deref().unwrap_or(self.input)),
                None,
            ))),
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
                    bytes: within_cap(&self.limits, compressed_len(member), |cap| {
                        member_bytes(self.input, member, cap)
                    })?,
                    start: 0,
                    member: Some(member.name.clone()),
                    root_path: "$".to_string(),
                    storages: Some(storages),
                    big_endian: *big_endian,
                    persistent_ids_expected: true,
                    object_pickles,
                    scan_trailing: true,
                    whole_file: false,
                    tar_tensors: None,
                }))
            }
            Layout::Npy => npy_part(Cow::Borrowed(self.input), None, "$".to_string()),
            Layout::Members { leaves, blobs } => {
                let leaf = leaves.get(i).ok_or_else(no_part)?;
                let base = match leaf.base {
                    None => self.input,
                    Some(id) => blobs.get(id).ok_or_else(no_part)?,
                };
                let bytes = match &leaf.source {
                    Source::Zip(member) => {
                        within_cap(&self.limits, compressed_len(member), |cap| {
                            member_bytes(base, member, cap)
                        })
                        .map_err(|e| in_member(e, Some(&leaf.name)))?
                    }
                    Source::Range { start, len } => Cow::Borrowed(
                        base.get(*start..start.saturating_add(*len))
                            .ok_or_else(no_part)?,
                    ),
                };
                match leaf.torch {
                    Some(record) => {
                        let mut part = torch_record_part(bytes, &leaf.name, record);
                        if let Some(table) = leaf.tensors.as_deref() {
                            part.storages = table.as_ref().ok().map(|t| &t.storages);
                            part.tar_tensors = Some(table);
                        }
                        Ok(Part::Stream(part))
                    }
                    None => member_part(bytes, &leaf.name, &self.limits),
                }
            }
        }
    }
}

/// A zip member's compressed size, as [`within_cap`] takes it.
fn compressed_len(member: &ZipMember) -> usize {
    usize::try_from(member.compressed_size).unwrap_or(usize::MAX)
}

/// A pickle of a legacy torch tar: `storages` and `tensors` records hold no object
/// `torch.load` returns and end at their STOP (the raw bytes after them are data); the
/// `pickle` member is the object, its persistent ids torch's own, and only its first pickle
/// is read (bytes after it are worth a look).
fn torch_record_part<'p>(bytes: Cow<'p, [u8]>, name: &str, record: TorchRecord) -> StreamPart<'p> {
    StreamPart {
        bytes,
        start: record.start,
        member: Some(name.to_owned()),
        root_path: "$".to_string(),
        storages: None,
        big_endian: false,
        persistent_ids_expected: record.object,
        object_pickles: Some(if record.object { 0..1 } else { 0..0 }),
        scan_trailing: record.object,
        whole_file: false,
        tar_tensors: None,
    }
}

/// A member of an archive, by its content: a `.npy` (its root path named after the member,
/// as `numpy.load` keys npz members), a pickle stream (compressed or not), or neither.
fn member_part<'p>(bytes: Cow<'p, [u8]>, name: &str, limits: &Limits) -> Result<Part<'p>> {
    let kind = sniff(&bytes);
    if kind == ContainerKind::Npy {
        let key = name.rsplit(':').next().unwrap_or(name);
        let key = key.strip_suffix(".npy").unwrap_or(key);
        let mut root = String::from("$");
        crate::analysis::path::push_json_key(key, &mut root);
        return npy_part(bytes, Some(name.to_owned()), root);
    }
    if kind.is_archive() {
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
        Cow::Owned(
            within_cap(limits, bytes.len(), |cap| decompress(kind, &bytes, cap))
                .map_err(|e| in_member(e, Some(name)))?,
        )
    } else if kind == ContainerKind::Pickle && looks_like_pickle(&bytes) {
        bytes
    } else {
        return Ok(Part::Other);
    };
    Ok(Part::Stream(StreamPart::whole(
        bytes,
        Some(name.to_owned()),
    )))
}

/// Whether a member's bytes are worth running as a pickle: protocol 2+ starts with PROTO;
/// protocols 0 and 1 with an opcode, and then must read to a STOP without error (a text
/// file, an image or a config in an archive is not a pickle, and not an error).
fn looks_like_pickle(bytes: &[u8]) -> bool {
    match bytes.first() {
        Some(0x80) => matches!(bytes.get(1), Some(0..=5)),
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
