//! PyTorch `torch.save` layouts (torch/serialization.py): the zip archive of `_save` and the
//! legacy stream of `_legacy_save`.

use super::zipfile::{member_bytes, ZipMember};
use crate::error::{Error, ErrorKind, Result};

/// Where a torch storage's bytes can be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum StorageBytes {
    /// At this offset of the stream's own bytes (legacy files: after the pickles).
    Stream(u64),
    /// At this offset of the input file (zip members, stored uncompressed as torch writes them).
    Input(u64),
    /// Not readable in place (the reason).
    Missing(String),
}

/// A torch storage: the member holding it (zip), its offset there as reported, its
/// length, and where to read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct StorageRef {
    pub member: Option<String>,
    pub offset: u64,
    pub len: u64,
    pub bytes: StorageBytes,
}

/// Torch storages by key.
pub(crate) type StorageMap = std::collections::HashMap<String, StorageRef>;

/// A `torch.save` zip archive's layout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TorchZip {
    /// The archive's top folder (`archive`, or the file stem, e.g. `state_dict`).
    pub prefix: String,
    /// `<prefix>/data.pkl`: the pickle `torch.load` runs.
    pub data_pkl: ZipMember,
    /// `little` or `big`, from `<prefix>/byteorder`; `None` when absent (torch before 1.13
    /// did not write it, and wrote little-endian).
    pub byteorder: Option<String>,
    /// `<prefix>/data/<key>` records: (key, member), in archive order. The pickle's
    /// persistent ids name the keys.
    pub storages: Vec<(String, ZipMember)>,
    /// Other members whose name ends in `.pkl` (e.g. `constants.pkl` of a TorchScript
    /// archive, or a second `*/data.pkl`): pickles some loader may also run.
    pub other_pickles: Vec<ZipMember>,
}

/// Most bytes a `byteorder` record may have (it holds `little` or `big`).
const BYTEORDER_MAX: u64 = 16;

/// Maps a `torch.save` zip archive, given its members from [`super::zip_members`].
///
/// Follows torch's reader (caffe2/serialize/inline_container.cc): the archive's name is
/// the first member's name up to its first `/`, and every record is looked up under
/// `<name>/`. So `<name>/data.pkl` must exist, even when some other `*/data.pkl` does.
pub fn torch_zip(bytes: &[u8], members: &[ZipMember]) -> Result<TorchZip> {
    let first = members.first().ok_or_else(|| {
        Error::new(
            ErrorKind::InvalidArgument,
            0,
            "torch archive has no members",
        )
    })?;
    let Some((prefix, _)) = first.name.split_once('/') else {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            first.header_offset,
            format!(
                "torch archive's first member {:?} is not in a folder; torch takes the archive name from it",
                first.name
            ),
        ));
    };
    let prefix = prefix.to_owned();
    let data_pkl_name = format!("{prefix}/data.pkl");
    let data_pkl = record(members, &data_pkl_name).cloned().ok_or_else(|| {
        Error::new(
            ErrorKind::InvalidArgument,
            first.header_offset,
            format!("torch archive {prefix:?} has no {data_pkl_name:?}"),
        )
    })?;
    let byteorder = match record(members, &format!("{prefix}/byteorder")) {
        None => None,
        Some(member) => {
            let raw = member_bytes(bytes, member, BYTEORDER_MAX)?;
            match &*raw {
                b"little" => Some("little".to_owned()),
                b"big" => Some("big".to_owned()),
                other => {
                    return Err(Error::new(
                        ErrorKind::InvalidArgument,
                        member.data_offset,
                        format!(
                            "torch byteorder record must be \"little\" or \"big\", found {:?}",
                            String::from_utf8_lossy(other)
                        ),
                    ))
                }
            }
        }
    };
    let storage_prefix = format!("{prefix}/data/");
    let storages = members
        .iter()
        .filter_map(|m| {
            let key = strip_prefix_ignore_case(&m.name, &storage_prefix)?;
            (!key.is_empty() && !key.ends_with('/')).then(|| (key.to_owned(), m.clone()))
        })
        .collect();
    let other_pickles = members
        .iter()
        .filter(|m| is_pkl(&m.name) && m.index != data_pkl.index)
        .cloned()
        .collect();
    Ok(TorchZip {
        prefix,
        data_pkl,
        byteorder,
        storages,
        other_pickles,
    })
}

/// A record as torch's reader finds it: miniz's `mz_zip_reader_locate_file` without
/// `MZ_ZIP_FLAG_CASE_SENSITIVE` compares names ignoring ASCII case (`torch.load` opens an
/// archive whose pickle is `archive/DATA.PKL`). The exact name wins; else the first member
/// that matches ignoring case (every other `.pkl` is analysed as well).
fn record<'m>(members: &'m [ZipMember], name: &str) -> Option<&'m ZipMember> {
    members
        .iter()
        .find(|m| m.name == name)
        .or_else(|| members.iter().find(|m| m.name.eq_ignore_ascii_case(name)))
}

/// `name` without `prefix`, compared ignoring ASCII case as torch's lookups are.
pub(crate) fn strip_prefix_ignore_case<'n>(name: &'n str, prefix: &str) -> Option<&'n str> {
    let head = name.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| name.get(prefix.len()..))
        .flatten()
}

/// A member name ending in `.pkl`, in any case.
pub(crate) fn is_pkl(name: &str) -> bool {
    name.len() >= 4
        && name
            .get(name.len() - 4..)
            .is_some_and(|end| end.eq_ignore_ascii_case(".pkl"))
}

/// Where one storage of a legacy (non-zip) `torch.save` file lies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LegacyStorage {
    /// The storage key, from the key-list pickle.
    pub key: String,
    /// Element count, as written before the bytes.
    pub count: u64,
    /// Offset of the storage's first byte (after its count).
    pub offset: usize,
    /// Bytes of storage: `count` × element size.
    pub len: u64,
}

/// Locates the raw storages of a legacy `torch.save` file.
///
/// `_legacy_save` writes five pickles (magic number, protocol version, sys info, the
/// object, the sorted storage-key list) and then each storage, in key-list order, as its
/// element count (8 bytes, little-endian, written by `_write_file` with `save_size`)
/// followed by count × element-size bytes. `start` is where the first storage begins (just
/// after the key-list pickle's STOP); `keys` are the keys in list order with each one's
/// element size (from the storage type in the object pickle's persistent ids). Every
/// length is checked against the input, overflow-safely, before it is used. Bytes after
/// the last storage are left to the caller (`end` of the last one tells where they start).
pub fn legacy_storages(
    bytes: &[u8],
    start: usize,
    keys: &[(String, u64)],
) -> Result<Vec<LegacyStorage>> {
    let mut pos = start;
    let mut out = Vec::with_capacity(keys.len().min(bytes.len() / 8 + 1));
    for (key, element_size) in keys {
        if *element_size == 0 {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                pos as u64,
                format!("legacy torch storage {key:?}: element size 0 is not valid"),
            ));
        }
        let count = bytes
            .get(pos..)
            .and_then(|rest| rest.first_chunk::<8>())
            .map(|c| u64::from_le_bytes(*c))
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::Truncated,
                    pos as u64,
                    format!(
                        "legacy torch file ends before the element count of storage {key:?} (8 bytes expected, {} left)",
                        bytes.len().saturating_sub(pos)
                    ),
                )
            })?;
        let offset = pos + 8;
        let remaining = (bytes.len() - offset) as u64;
        let len = count
            .checked_mul(*element_size)
            .filter(|&len| len <= remaining);
        let Some(len) = len else {
            return Err(Error::new(
                ErrorKind::LengthPastEnd,
                pos as u64,
                format!(
                    "legacy torch storage {key:?}: {count} elements of {element_size} bytes go past the end of the input ({remaining} bytes left)"
                ),
            ));
        };
        out.push(LegacyStorage {
            key: key.clone(),
            count,
            offset,
            len,
        });
        // len <= remaining, so this stays within the input.
        pos = offset + len as usize;
    }
    Ok(out)
}

/// The storages of a legacy file ([`legacy_storages`]) as a [`StorageMap`]: their bytes lie in
/// the stream itself, after the pickles.
pub(crate) fn legacy_storage_map(
    bytes: &[u8],
    start: usize,
    keys: &[(String, u64)],
) -> Result<StorageMap> {
    Ok(legacy_storages(bytes, start, keys)?
        .into_iter()
        .map(|s| {
            let offset = s.offset as u64;
            let storage = StorageRef {
                member: None,
                offset,
                len: s.len,
                bytes: StorageBytes::Stream(offset),
            };
            (s.key, storage)
        })
        .collect())
}

impl LegacyStorage {
    /// Offset just past the storage's bytes.
    pub fn end(&self) -> usize {
        self.offset + self.len as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn storage(count: u64, bytes: &[u8]) -> Vec<u8> {
        let mut out = count.to_le_bytes().to_vec();
        out.extend_from_slice(bytes);
        out
    }

    #[test]
    fn storages_follow_each_other_in_key_order() {
        let mut file = b"pickles".to_vec();
        file.extend(storage(2, &[1, 0, 0, 0, 2, 0, 0, 0]));
        file.extend(storage(0, &[]));
        file.extend(storage(3, &[7, 8, 9]));
        let keys = [
            ("a".to_owned(), 4),
            ("b".to_owned(), 8),
            ("c".to_owned(), 1),
        ];
        let found = legacy_storages(&file, 7, &keys).unwrap();
        assert_eq!(
            found,
            vec![
                LegacyStorage {
                    key: "a".into(),
                    count: 2,
                    offset: 15,
                    len: 8
                },
                LegacyStorage {
                    key: "b".into(),
                    count: 0,
                    offset: 31,
                    len: 0
                },
                LegacyStorage {
                    key: "c".into(),
                    count: 3,
                    offset: 39,
                    len: 3
                },
            ]
        );
        assert_eq!(found[2].end(), file.len());
    }

    #[test]
    fn hostile_counts_are_errors_not_overflows() {
        let file = storage(u64::MAX, &[0; 16]);
        let err = legacy_storages(&file, 0, &[("k".into(), 8)]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::LengthPastEnd);
        let file = storage(1 << 61, &[0; 16]);
        let err = legacy_storages(&file, 0, &[("k".into(), 8)]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::LengthPastEnd);
        let err = legacy_storages(&file, 20, &[("k".into(), 8)]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Truncated);
        let err = legacy_storages(&[0; 4], 0, &[("k".into(), 8)]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Truncated);
        let err = legacy_storages(&file, 0, &[("k".into(), 0)]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    }
}
