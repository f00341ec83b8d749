//! Zip archives held in memory: `torch.save` checkpoints, `np.savez` files and any other zip.
//!
//! The central directory is found where Python's `zipfile` finds it (the end records, zip64
//! included, and the shift of any data before the archive) and read entry by entry as
//! Python reads it, every entry kept, duplicated names included ([`zip_members_all`]); the
//! `zip` crate checks the end records first. Everything a hostile archive can lie about is
//! then checked against the bytes: each member's local header, that its data lies inside
//! the input, that stored members' sizes agree, that no two members share bytes
//! (overlapping members are how zip bombs and parser-confusion tricks are built), and how
//! many members there are. Member payloads are never read here: a stored member is handed
//! out as a borrowed slice, so inspecting a multi-GB checkpoint touches only its pickle.

use std::borrow::Cow;
use std::io::Cursor;

use super::ContainerKind;
use crate::error::{Error, ErrorKind, Result};
use crate::limits::Limit;

/// Default for the most members [`zip_members`] accepts. torch writes one member per
/// storage plus a handful, so even very large checkpoints stay far below this.
pub(crate) const DEFAULT_MAX_ZIP_MEMBERS: usize = 1_000_000;

/// Fixed part of a local file header (APPNOTE 4.3.7), signature included.
const LOCAL_HEADER_LEN: usize = 30;
const LOCAL_HEADER_SIGNATURE: &[u8] = b"PK\x03\x04";
/// Compression methods (APPNOTE 4.4.5) we can open.
const METHOD_STORED: u16 = 0;
const METHOD_DEFLATED: u16 = 8;

/// Why a member's name is suspicious. Names are only ever reported, never used as paths
/// (pklinspect names the files it writes after object paths), so a suspicious name is a
/// flag for `lint`, not an error: torch and numpy look members up by exact name and would
/// load such an archive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NameIssue {
    /// A `..` path component (`../evil`, `a/../../b`): would escape an extraction directory.
    ParentDir,
    /// An absolute path (`/etc/x`) or a drive letter (`C:x`).
    Absolute,
    /// A backslash, which Windows tools treat as a path separator.
    Backslash,
    /// A NUL byte, which C-based tools treat as the end of the name.
    Nul,
}

impl NameIssue {
    /// A short description for messages.
    pub fn as_str(self) -> &'static str {
        match self {
            NameIssue::ParentDir => "contains a '..' path component",
            NameIssue::Absolute => "is an absolute path",
            NameIssue::Backslash => "contains a backslash",
            NameIssue::Nul => "contains a NUL byte",
        }
    }

    pub(crate) fn of(name: &str) -> Option<NameIssue> {
        let bytes = name.as_bytes();
        if name.contains('\0') {
            Some(NameIssue::Nul)
        } else if name.starts_with('/')
            || name.starts_with('\\')
            || matches!(bytes, [drive, b':', ..] if drive.is_ascii_alphabetic())
        {
            Some(NameIssue::Absolute)
        } else if name.split(['/', '\\']).any(|part| part == "..") {
            Some(NameIssue::ParentDir)
        } else if name.contains('\\') {
            Some(NameIssue::Backslash)
        } else {
            None
        }
    }
}

/// One member of a zip archive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZipMember {
    /// The name from the central directory (UTF-8 when it is valid UTF-8, else CP437, as the
    /// `zip` crate decodes it; Python decodes by the UTF-8 flag, which agrees for the ASCII
    /// names torch and numpy write).
    pub name: String,
    /// Position in the central directory.
    pub index: usize,
    /// Offset of the member's local file header in the input.
    pub header_offset: u64,
    /// Offset of the member's (compressed) data in the input.
    pub data_offset: u64,
    /// Bytes of data in the archive.
    pub compressed_size: u64,
    /// Bytes once decompressed (as declared in the central directory).
    pub size: u64,
    /// Compression method number (0 stored, 8 deflate, …).
    pub method: u16,
    /// Whether the member is stored uncompressed (method 0).
    pub stored: bool,
    /// Whether the member is encrypted (its bytes cannot be read).
    pub encrypted: bool,
    /// CRC-32 of the uncompressed data, as declared.
    pub crc32: u32,
    /// Set when the name is suspicious; see [`NameIssue`].
    pub name_issue: Option<NameIssue>,
}

impl ZipMember {
    /// Offset just past the member's data.
    pub fn data_end(&self) -> u64 {
        self.data_offset.saturating_add(self.compressed_size)
    }
}

/// Lists the members of a zip held in memory (a memory-mapped file), with at most
/// the default [`Limits::max_zip_members`](crate::Limits::max_zip_members) members. See
/// [`zip_members_with_limit`].
pub fn zip_members(bytes: &[u8]) -> Result<Vec<ZipMember>> {
    zip_members_with_limit(bytes, DEFAULT_MAX_ZIP_MEMBERS)
}

/// Lists the members of a zip held in memory, validating what a hostile archive can lie
/// about. Errors:
/// * the central directory cannot be read (`InvalidArgument` at offset 0);
/// * more than `max_members` members (`LimitExceeded`);
/// * a name appears twice (`InvalidArgument`: which copy a loader picks differs between
///   zip readers, so what we inspect might not be what loads);
/// * a local header is missing, or names a different file than the central directory
///   (`InvalidArgument`, at the local header), as Python's `zipfile` checks;
/// * member data runs past the end of the input (`LengthPastEnd`, at the local header);
/// * a stored member's compressed and uncompressed sizes differ (`InvalidArgument`);
/// * two members' local header + data spans overlap (`InvalidArgument`).
///
/// Suspicious names (`..`, absolute paths, backslashes, NUL) are not errors; they are
/// flagged in [`ZipMember::name_issue`].
pub fn zip_members_with_limit(bytes: &[u8], max_members: usize) -> Result<Vec<ZipMember>> {
    let members = zip_members_all(bytes, max_members)?;
    if let Some(dup) = duplicates(&members).first() {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            dup.header_offset,
            "zip archive lists the same member name more than once; loaders disagree on which \
             copy they read",
        ));
    }
    Ok(members)
}

/// Like [`zip_members_with_limit`], but keeps every central directory entry when a name
/// appears more than once, as Python's `ZipFile.infolist()` does (its lookups by name, and
/// so `numpy.load`'s, read the last copy).
pub fn zip_members_all(bytes: &[u8], max_members: usize) -> Result<Vec<ZipMember>> {
    let unreadable = |e: &dyn std::fmt::Display| {
        Error::new(
            ErrorKind::InvalidArgument,
            0,
            format!("zip central directory cannot be read: {e}"),
        )
    };
    // The zip crate checks the end records; the entries are then read as Python reads them.
    open_archive(bytes).map_err(|e| unreadable(&e))?;
    let cd = central_dir(bytes).ok_or_else(|| unreadable(&"no end of central directory record"))?;
    let entries = raw_entries(bytes, &cd, max_members)?;
    let mut members = Vec::with_capacity(entries.len());
    for (index, entry) in entries.iter().enumerate() {
        members.push(member(entry, bytes, index)?);
    }
    check_overlaps(&members)?;
    Ok(members)
}

/// The members whose name an earlier member already has, in archive order. Python's
/// `zipfile` (and so `numpy.load`) reads the last copy of a name, miniz (torch) whichever its
/// sorted index finds, other tools the first: every copy may be what loads.
pub fn duplicates(members: &[ZipMember]) -> Vec<&ZipMember> {
    let mut seen = std::collections::HashSet::new();
    members
        .iter()
        .filter(|m| !seen.insert(m.name.as_str()))
        .collect()
}

/// Opens the central directory where the loaders find it.
///
/// The end record states where the central directory starts relative to the archive; data
/// may precede the archive (a self-extracting stub), which shifts everything. Python's
/// `zipfile` (numpy's npz reader) computes that shift from the end record's position, the
/// directory's size and stated offset, minus the zip64 end record and locator when present
/// (`_RealGetContents`); miniz (torch's reader) allows no shift at all, and for the archives
/// it reads Python's rule gives 0 too. The `zip` crate's own detection prefers a central
/// directory that abuts the classic end record, which misses the 76 bytes of zip64 records
/// torch writes between them: when the first central entry is exactly 76 bytes long (a
/// 30-byte name, as a 21-character file stem gives torch's `<stem>/data.pkl`), it takes the
/// second entry for the first and refuses the archive.
fn open_archive(bytes: &[u8]) -> ::zip::result::ZipResult<::zip::ZipArchive<Cursor<&[u8]>>> {
    let archive_offset = match central_dir(bytes) {
        Some(cd) => ::zip::read::ArchiveOffset::Known(cd.shift),
        None => ::zip::read::ArchiveOffset::Detect,
    };
    ::zip::ZipArchive::with_config(::zip::read::Config { archive_offset }, Cursor::new(bytes))
}

/// Classic end record, zip64 end record and zip64 locator (APPNOTE 4.3.14-4.3.16).
const EOCD_LEN: usize = 22;
const EOCD64_LEN: usize = 56;
const EOCD64_LOCATOR_LEN: usize = 20;

/// Where the central directory is, as Python's `zipfile` finds it.
struct CentralDir {
    /// How much data precedes the archive.
    shift: u64,
    /// Absolute offset of the first central directory entry.
    start: u64,
    /// Entries, as the end record counts them.
    count: u64,
}

/// Python's `zipfile._EndRecData` + `_RealGetContents`: the end record (without a comment,
/// else the last signature in the final 64 KiB + 22 bytes), the zip64 records before it, and
/// from them where the archive starts in `bytes`. `None` when there is no end record or the
/// numbers do not add up (then the `zip` crate's reading reports why).
fn central_dir(bytes: &[u8]) -> Option<CentralDir> {
    let le16 = |at: usize| -> Option<u64> {
        bytes
            .get(at..at.checked_add(2)?)
            .map(|b| u64::from(u16::from_le_bytes([b[0], b[1]])))
    };
    let le32 = |at: usize| -> Option<u64> {
        let b = bytes.get(at..at.checked_add(4)?)?;
        Some(u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])))
    };
    let le64 = |at: usize| -> Option<u64> {
        let b: [u8; 8] = bytes.get(at..at.checked_add(8)?)?.try_into().ok()?;
        Some(u64::from_le_bytes(b))
    };
    let tail = bytes.len().checked_sub(EOCD_LEN)?;
    let eocd = if bytes.get(tail..tail + 4) == Some(b"PK\x05\x06") && le16(tail + 20) == Some(0) {
        tail
    } else {
        let from = tail.saturating_sub(1 << 16);
        let window = bytes.get(from..)?;
        from + memchr::memmem::rfind(window, b"PK\x05\x06")?
    };
    let (mut count, mut size_cd, mut offset_cd) =
        (le16(eocd + 10)?, le32(eocd + 12)?, le32(eocd + 16)?);
    let mut records = 0u64;
    // `_EndRecData64`: a zip64 locator just before the end record (disk 0, at most one
    // disk), and the zip64 end record just before the locator.
    let locator = eocd.checked_sub(EOCD64_LOCATOR_LEN);
    let record = locator.and_then(|l| l.checked_sub(EOCD64_LEN));
    if let (Some(locator), Some(record)) = (locator, record) {
        if bytes.get(locator..locator + 4) == Some(b"PK\x06\x07")
            && le32(locator + 4) == Some(0)
            && le32(locator + 16).is_some_and(|disks| disks <= 1)
            && bytes.get(record..record + 4) == Some(b"PK\x06\x06")
        {
            count = le64(record + 32)?;
            size_cd = le64(record + 40)?;
            offset_cd = le64(record + 48)?;
            records = (EOCD64_LEN + EOCD64_LOCATOR_LEN) as u64;
        }
    }
    let shift = (eocd as u64)
        .checked_sub(size_cd)?
        .checked_sub(offset_cd)?
        .checked_sub(records)?;
    Some(CentralDir {
        shift,
        start: offset_cd.checked_add(shift)?,
        count,
    })
}

/// One central directory entry, as read from its bytes (APPNOTE 4.3.12), with the zip64
/// extra field (id 1) applied as Python's `_decodeExtra` applies it.
struct RawEntry<'a> {
    name_raw: &'a [u8],
    flags: u16,
    method: u16,
    crc32: u32,
    compressed_size: u64,
    size: u64,
    /// Absolute offset of the local header.
    header_offset: u64,
}

/// Fixed part of a central directory entry, signature included.
const CENTRAL_HEADER_LEN: usize = 46;

/// Every central directory entry, in order, duplicates included (Python's `infolist()`).
fn raw_entries<'a>(bytes: &'a [u8], cd: &CentralDir, max: usize) -> Result<Vec<RawEntry<'a>>> {
    let count = usize::try_from(cd.count).unwrap_or(usize::MAX);
    if count > max {
        return Err(Limit::ZipMembers.exceeded(
            cd.start,
            format_args!("zip archive has {count} members, more than the limit of {max}"),
        ));
    }
    let mut out = Vec::with_capacity(count.min(bytes.len() / CENTRAL_HEADER_LEN + 1));
    let mut at = usize::try_from(cd.start).unwrap_or(usize::MAX);
    for index in 0..count {
        let bad = |what: &str| {
            Error::new(
                ErrorKind::InvalidArgument,
                at as u64,
                format!("zip central directory entry #{index} {what}"),
            )
        };
        let fixed = bytes
            .get(at..)
            .and_then(|b| b.get(..CENTRAL_HEADER_LEN))
            .filter(|b| b.starts_with(b"PK\x01\x02"))
            .ok_or_else(|| bad("is missing or has no signature"))?;
        let u16_at = |o: usize| u16::from_le_bytes([fixed[o], fixed[o + 1]]);
        let u32_at =
            |o: usize| u32::from_le_bytes([fixed[o], fixed[o + 1], fixed[o + 2], fixed[o + 3]]);
        let (name_len, extra_len, comment_len) = (
            usize::from(u16_at(28)),
            usize::from(u16_at(30)),
            usize::from(u16_at(32)),
        );
        let name_at = at + CENTRAL_HEADER_LEN;
        let name_raw = bytes
            .get(name_at..name_at + name_len)
            .ok_or_else(|| bad("has a name past the end of the input"))?;
        let extra = bytes
            .get(name_at + name_len..name_at + name_len + extra_len)
            .ok_or_else(|| bad("has an extra field past the end of the input"))?;
        let mut size = u64::from(u32_at(24));
        let mut compressed_size = u64::from(u32_at(20));
        let mut header_offset = u64::from(u32_at(42));
        // The zip64 extra field holds, in this order, each of the three values whose
        // 32-bit field is 0xffffffff.
        let mut rest = extra;
        while let [a, b, c, d, tail @ ..] = rest {
            let id = u16::from_le_bytes([*a, *b]);
            let len = usize::from(u16::from_le_bytes([*c, *d]));
            let Some(data) = tail.get(..len) else { break };
            if id == 1 {
                let mut values = data
                    .chunks_exact(8)
                    .map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8])));
                for field in [&mut size, &mut compressed_size, &mut header_offset] {
                    if *field == u64::from(u32::MAX) {
                        *field = values
                            .next()
                            .ok_or_else(|| bad("has a zip64 extra field that is too short"))?;
                    }
                }
            }
            rest = tail.get(len..).unwrap_or_default();
        }
        out.push(RawEntry {
            name_raw,
            flags: u16_at(8),
            method: u16_at(10),
            crc32: u32_at(16),
            compressed_size,
            size,
            header_offset: header_offset.saturating_add(cd.shift),
        });
        at = name_at + name_len + extra_len + comment_len;
    }
    Ok(out)
}

/// A member name as Python decodes it: UTF-8 when flag bit 11 says so, else CP437 (which
/// agrees with ASCII; other bytes are kept as UTF-8 when they are valid UTF-8, as the `zip`
/// crate does, else replaced).
fn decode_name(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw).into_owned()
}

fn member(entry: &RawEntry<'_>, bytes: &[u8], index: usize) -> Result<ZipMember> {
    let name = decode_name(entry.name_raw);
    let header_offset = entry.header_offset;
    let (flags, method) = (entry.flags, entry.method);
    let local_at = usize::try_from(header_offset).unwrap_or(usize::MAX);
    let local = bytes
        .get(local_at..)
        .filter(|l| l.len() >= LOCAL_HEADER_LEN && l.starts_with(LOCAL_HEADER_SIGNATURE))
        .ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidArgument,
                header_offset,
                format!("zip member {name:?}: no local file header at offset {header_offset}"),
            )
        })?;
    let name_len = usize::from(u16::from_le_bytes([local[26], local[27]]));
    let extra_len = usize::from(u16::from_le_bytes([local[28], local[29]]));
    let local_name = local.get(LOCAL_HEADER_LEN..LOCAL_HEADER_LEN + name_len);
    if local_name != Some(entry.name_raw) {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            header_offset,
            format!(
                "zip member {name:?}: the local header names {:?}, not the central directory's name",
                local_name.map(String::from_utf8_lossy).unwrap_or_default()
            ),
        ));
    }
    let data_offset = header_offset + (LOCAL_HEADER_LEN + name_len + extra_len) as u64;
    let (compressed_size, size) = (entry.compressed_size, entry.size);
    let end = data_offset.checked_add(compressed_size);
    if end.is_none_or(|end| end > bytes.len() as u64) {
        return Err(Error::new(
            ErrorKind::LengthPastEnd,
            header_offset,
            format!(
                "zip member {name:?}: {compressed_size} bytes of data at offset {data_offset} go past the end of the input ({} bytes)",
                bytes.len()
            ),
        ));
    }
    let stored = method == METHOD_STORED;
    if stored && compressed_size != size {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            header_offset,
            format!(
                "zip member {name:?} is stored, but its sizes disagree: {compressed_size} bytes in the archive, {size} declared"
            ),
        ));
    }
    let name_issue = NameIssue::of(&name);
    Ok(ZipMember {
        name,
        index,
        header_offset,
        data_offset,
        compressed_size,
        size,
        method,
        stored,
        encrypted: flags & 1 != 0,
        crc32: entry.crc32,
        name_issue,
    })
}

/// No two members may share bytes: each one's span runs from its local header to the end
/// of its data.
fn check_overlaps(members: &[ZipMember]) -> Result<()> {
    let mut spans: Vec<(u64, u64, usize)> = members
        .iter()
        .enumerate()
        .map(|(i, m)| (m.header_offset, m.data_end(), i))
        .collect();
    spans.sort_unstable();
    for pair in spans.windows(2) {
        let (_, first_end, a) = pair[0];
        let (second_start, _, b) = pair[1];
        if second_start < first_end {
            let (a, b) = (&members[a], &members[b]);
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                b.header_offset,
                format!(
                    "zip members {:?} and {:?} overlap: {:?} starts at offset {} inside {:?} (which ends at {})",
                    a.name, b.name, b.name, b.header_offset, a.name, a.data_end()
                ),
            ));
        }
    }
    Ok(())
}

/// The bytes of one member: borrowed from `bytes` when stored (zero-copy; torch and
/// `np.savez` store members uncompressed), decompressed with at most `limit` bytes of
/// output otherwise (`np.savez_compressed` deflates). A deflated member must decompress
/// to its declared size and CRC. Stored members' CRCs are not checked here (that would
/// read every payload); see [`check_crc`].
pub fn member_bytes<'a>(bytes: &'a [u8], member: &ZipMember, limit: u64) -> Result<Cow<'a, [u8]>> {
    let raw = raw_data(bytes, member)?;
    if member.encrypted {
        return Err(Error::new(
            ErrorKind::Unsupported,
            member.header_offset,
            format!("zip member {:?} is encrypted", member.name),
        ));
    }
    match member.method {
        METHOD_STORED => Ok(Cow::Borrowed(raw)),
        METHOD_DEFLATED => {
            if member.size > limit {
                return Err(Limit::Decompressed.exceeded(
                    member.header_offset,
                    format_args!(
                        "zip member {:?} declares {} bytes uncompressed, more than the limit of {limit}",
                        member.name, member.size
                    ),
                ));
            }
            let out = inflate(raw, member, limit)?;
            if out.len() as u64 != member.size {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    member.data_offset,
                    format!(
                        "zip member {:?} decompresses to {} bytes, but {} are declared",
                        member.name,
                        out.len(),
                        member.size
                    ),
                ));
            }
            let crc = crc32(&out);
            if crc != member.crc32 {
                return Err(crc_error(member, crc));
            }
            Ok(Cow::Owned(out))
        }
        other => Err(Error::new(
            ErrorKind::Unsupported,
            member.header_offset,
            format!(
                "zip member {:?} uses compression method {other}; only stored (0) and deflate (8) are supported",
                member.name
            ),
        )),
    }
}

/// The first `len` bytes of a member (fewer if it is shorter), decoding no more of a
/// deflated member than that; `None` when they cannot be read.
pub(crate) fn member_prefix(bytes: &[u8], member: &ZipMember, len: usize) -> Option<Vec<u8>> {
    use std::io::Read;
    let raw = raw_data(bytes, member).ok()?;
    match member.method {
        METHOD_STORED => Some(raw.get(..len).unwrap_or(raw).to_vec()),
        METHOD_DEFLATED if !member.encrypted => {
            let mut out = Vec::with_capacity(len);
            flate2::read::DeflateDecoder::new(raw)
                .take(len as u64)
                .read_to_end(&mut out)
                .ok()?;
            Some(out)
        }
        _ => None,
    }
}

/// Checks a member's CRC-32 against its uncompressed bytes (reads the whole payload).
pub fn check_crc(bytes: &[u8], member: &ZipMember, limit: u64) -> Result<()> {
    let data = member_bytes(bytes, member, limit)?;
    // Deflated members were already checked by member_bytes.
    let crc = crc32(&data);
    if crc != member.crc32 {
        return Err(crc_error(member, crc));
    }
    Ok(())
}

fn crc_error(member: &ZipMember, found: u32) -> Error {
    Error::new(
        ErrorKind::InvalidArgument,
        member.data_offset,
        format!(
            "zip member {:?}: CRC-32 is {found:08x}, but {:08x} is declared",
            member.name, member.crc32
        ),
    )
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = flate2::Crc::new();
    crc.update(data);
    crc.sum()
}

fn raw_data<'a>(bytes: &'a [u8], member: &ZipMember) -> Result<&'a [u8]> {
    usize::try_from(member.data_offset)
        .ok()
        .zip(usize::try_from(member.data_end()).ok())
        .and_then(|(start, end)| bytes.get(start..end))
        .ok_or_else(|| {
            Error::new(
                ErrorKind::LengthPastEnd,
                member.header_offset,
                format!("zip member {:?}: data lies outside the input", member.name),
            )
        })
}

/// Raw deflate, read in chunks, refused past `limit` (and one byte past the declared size).
fn inflate(raw: &[u8], member: &ZipMember, limit: u64) -> Result<Vec<u8>> {
    use std::io::Read;
    let cap = limit.min(member.size.saturating_add(1));
    let mut decoder = flate2::read::DeflateDecoder::new(raw).take(cap.saturating_add(1));
    let mut out = Vec::with_capacity(usize::try_from(member.size.min(1 << 26)).unwrap_or(0));
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = match decoder.read(&mut chunk) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                let kind = if e.kind() == std::io::ErrorKind::UnexpectedEof {
                    ErrorKind::Truncated
                } else {
                    ErrorKind::InvalidArgument
                };
                return Err(Error::new(
                    kind,
                    member.data_offset,
                    format!("zip member {:?}: deflate data is corrupt: {e}", member.name),
                ));
            }
        };
        if n == 0 {
            return Ok(out);
        }
        if out.len() as u64 + n as u64 > limit {
            return Err(Limit::Decompressed.exceeded(
                member.data_offset,
                format_args!(
                    "zip member {:?} decompresses to more than {limit} bytes",
                    member.name
                ),
            ));
        }
        out.extend_from_slice(&chunk[..n]);
        if out.len() as u64 > member.size {
            // More than declared: report it as a size mismatch without reading further.
            return Ok(out);
        }
    }
}

/// `TorchZip` when a member ends in `/data.pkl` (in any case); `Npz` when there are members and all end
/// in `.npy`; else `Zip` (also when the central directory cannot be read: the caller's
/// [`zip_members`] then reports why).
pub(super) fn classify_zip(bytes: &[u8]) -> ContainerKind {
    let Ok(archive) = open_archive(bytes) else {
        return ContainerKind::Zip;
    };
    // The suffixes are ASCII, so the raw names decide without decoding them.
    let mut names = archive.file_names_raw();
    // torch looks records up ignoring ASCII case (see `torch::record`).
    let torch_pickle =
        |n: &[u8]| n.len() >= 9 && n[n.len() - 9..].eq_ignore_ascii_case(b"/data.pkl");
    if archive.file_names_raw().any(torch_pickle) {
        ContainerKind::TorchZip
    } else if !archive.is_empty() && names.all(|n| n.ends_with(b".npy")) {
        ContainerKind::Npz
    } else {
        ContainerKind::Zip
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suspicious_names_are_classified() {
        for (name, issue) in [
            ("archive/data.pkl", None),
            ("a..b/c", None),
            ("../evil", Some(NameIssue::ParentDir)),
            ("a/../../b", Some(NameIssue::ParentDir)),
            ("/etc/passwd", Some(NameIssue::Absolute)),
            ("C:evil", Some(NameIssue::Absolute)),
            ("a\\b", Some(NameIssue::Backslash)),
            ("..\\evil", Some(NameIssue::ParentDir)),
            ("a\0b", Some(NameIssue::Nul)),
        ] {
            assert_eq!(NameIssue::of(name), issue, "{name:?}");
        }
    }

    #[test]
    fn garbage_is_not_a_zip() {
        assert_eq!(classify_zip(b"PK\x03\x04garbage"), ContainerKind::Zip);
        let err = zip_members(b"PK\x03\x04garbage").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    }
}
