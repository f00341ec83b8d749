//! Containers (SPEC §3): what the bytes are, and how to get at the pickles and payloads inside.
//!
//! Everything is decided by content, never by file name: [`sniff`] looks at magic bytes,
//! [`decompress`] opens whole-file compressed streams (also joblib's, its legacy `ZF`
//! included, and pandas' zstd), [`zip_members`] and [`torch_zip`] map `torch.save` and
//! `np.savez` archives; any other zip, tar or 7z archive is opened member by member, nested
//! archives to three levels (the crate-internal `open`), a compressed tar too; torch's legacy
//! tar checkpoint has every pickle of its `storages` and `tensors` members found between the
//! raw bytes, as `torch.load` reads them (`torch_tar`). [`parse_npy_header`] reads `.npy`
//! headers (and [`npy_header_bytes`] writes them exactly as `numpy.save` does), and
//! [`legacy_storages`] locates the raw storages of a legacy (non-zip) `torch.save` file.
//! [`joblib_side_files`] lists the side files an old joblib dump's `NDArrayWrapper`s name
//! (`np.load`ed with `allow_pickle=True` on load), and [`check_joblib_side_files`] adds what
//! they hold to the dump's report.
//! Nothing here allocates more than a limit allows or reads a payload it does not have to.
//!
//! A lower-level stage: public for tests, fuzz targets and callers that need one container
//! format alone, and it may change between minor versions. [`crate::inspect()`] opens every
//! container itself.

mod compressed;
mod identify;
mod npy;
mod open;
mod pyliteral;
mod side_files;
mod streams;
mod torch;
pub(crate) mod torch_tar;
mod zipfile;

pub(crate) use compressed::decoded_prefix;
pub use compressed::decompress;
pub use identify::{
    archive_magic, describe, identify, not_a_pickle, pickle_evidence, Identity, LFS_POINTER_PREFIX,
};
pub use npy::{descr_itemsize, npy_header_bytes, parse_npy_header, Descr, DescrField, NpyHeader};
pub(crate) use npy::{MAX_NPY_HEADER_DEPTH, NPY_MAGIC};
pub(crate) use open::{in_member, open, NpyPart, Opened, Part, StreamPart};
pub use side_files::{check_joblib_side_files, joblib_side_files, SideFile};
pub use streams::{each_pickle_stream, PickleStream, StreamsSeen};
pub(crate) use torch::{legacy_storage_map, StorageBytes, StorageMap, StorageRef};
pub use torch::{legacy_storages, torch_zip, LegacyStorage, TorchZip};
pub(crate) use zipfile::DEFAULT_MAX_ZIP_MEMBERS;
pub use zipfile::{
    check_crc, duplicates, member_bytes, zip_members, zip_members_all, zip_members_with_limit,
    NameIssue, ZipMember,
};

use crate::opcode::Opcode;

/// What the bytes are, by content (magic bytes), never by file name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ContainerKind {
    /// Anything that is not one of the others: the pickle machine reports if it is not a pickle.
    Pickle,
    /// gzip (RFC 1952), one member or several concatenated (`gzip`, joblib `gzip`, pandas `.gz`).
    Gzip,
    /// bzip2, one stream or several concatenated.
    Bz2,
    /// xz (`.xz` container), one stream or several concatenated.
    Xz,
    /// lzma-alone, the legacy `.lzma` format (Python's `lzma.FORMAT_ALONE`, joblib's `lzma`).
    Lzma,
    /// zlib (RFC 1950), as written by `zlib.compress` and joblib's `zlib`.
    Zlib,
    /// LZ4 frame format (joblib's `lz4`, the `lz4.frame` module).
    Lz4,
    /// A `torch.save` zip archive: a member ending in `/data.pkl`.
    TorchZip,
    /// A `.npy` file (`\x93NUMPY` magic).
    Npy,
    /// A zip archive whose members all end in `.npy` (`np.savez`, `np.savez_compressed`).
    Npz,
    /// Any other zip archive (or one whose central directory cannot be read).
    Zip,
    /// A tar archive (POSIX ustar/pax or GNU): torch's legacy tar checkpoints, NeMo model
    /// tars, pandas `to_pickle("x.tar")`.
    Tar,
    /// A 7z archive (py7zr, 7-Zip).
    SevenZ,
    /// A Zstandard frame (pandas `to_pickle("x.zst")`).
    Zstd,
    /// joblib's legacy `ZF` format (joblib < 0.10 `numpy_pickle_compat`): `ZF`, the
    /// uncompressed length in hex padded to 19 characters, then a zlib stream.
    JoblibZfile,
}

impl ContainerKind {
    /// The name used in output (`container` in SPEC §6).
    pub fn as_str(self) -> &'static str {
        match self {
            ContainerKind::Pickle => "pickle",
            ContainerKind::Gzip => "gzip",
            ContainerKind::Bz2 => "bz2",
            ContainerKind::Xz => "xz",
            ContainerKind::Lzma => "lzma",
            ContainerKind::Zlib => "zlib",
            ContainerKind::Lz4 => "lz4",
            ContainerKind::TorchZip => "torch-zip",
            ContainerKind::Npy => "npy",
            ContainerKind::Npz => "npz",
            ContainerKind::Zip => "zip",
            ContainerKind::Tar => "tar",
            ContainerKind::SevenZ => "7z",
            ContainerKind::Zstd => "zstd",
            ContainerKind::JoblibZfile => "joblib-zfile",
        }
    }

    /// Whether this is a whole-file compressed stream that [`decompress`] opens.
    pub fn is_compressed(self) -> bool {
        matches!(
            self,
            ContainerKind::Gzip
                | ContainerKind::Bz2
                | ContainerKind::Xz
                | ContainerKind::Lzma
                | ContainerKind::Zlib
                | ContainerKind::Lz4
                | ContainerKind::Zstd
                | ContainerKind::JoblibZfile
        )
    }

    /// Whether this is an archive of members (opened member by member).
    pub fn is_archive(self) -> bool {
        matches!(
            self,
            ContainerKind::TorchZip
                | ContainerKind::Npz
                | ContainerKind::Zip
                | ContainerKind::Tar
                | ContainerKind::SevenZ
        )
    }
}

impl std::fmt::Display for ContainerKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Local file header (`PK\x03\x04`) and empty-archive end record (`PK\x05\x06`).
const ZIP_LOCAL_MAGIC: &[u8] = b"PK\x03\x04";
const ZIP_EMPTY_MAGIC: &[u8] = b"PK\x05\x06";
const GZIP_MAGIC: &[u8] = b"\x1f\x8b";
const XZ_MAGIC: &[u8] = b"\xfd7zXZ\x00";
/// bzip2: `BZh` + block size digit, then the first block's magic (π) or, for an empty
/// stream, the end-of-stream magic (√π).
const BZ2_BLOCK_MAGIC: &[u8] = b"\x31\x41\x59\x26\x53\x59";
const BZ2_EOS_MAGIC: &[u8] = b"\x17\x72\x45\x38\x50\x90";
/// 7z signature header.
const SEVENZ_MAGIC: &[u8] = b"7z\xbc\xaf\x27\x1c";
/// Zstandard frame magic (RFC 8878): `(` is MARK, but `\xb5` is no opcode.
const ZSTD_MAGIC: &[u8] = b"\x28\xb5\x2f\xfd";
/// joblib's `_ZFILE_PREFIX` and the `0x` of the hex length `write_zfile` writes after it.
const ZFILE_MAGIC: &[u8] = b"ZF0x";

/// What the bytes are, by content (magic bytes), never by file name.
///
/// Every magic is checked against the pickle opcode bytes: a raw pickle without a PROTO
/// opcode (protocols 0 and 1) starts with an opcode such as `(`, `]`, `}`, `c` or `N`. Magics
/// whose first byte is no opcode (gzip `1f`, xz `fd`, lz4 `04`, npy `93`, zlib `78`) are
/// taken at face value. Where a format's first byte *is* an opcode, more must agree:
/// bzip2 (`B`, BINBYTES) needs its ten-byte magic; zip (`P`, PERSID) its four-byte one;
/// lzma-alone (`]`, EMPTY_LIST, for the usual properties byte 0x5d) and zlib with an unusual
/// window (`(`, `X`, `h`) need a plausible header *and* a trial decode of the first bytes.
pub fn sniff(bytes: &[u8]) -> ContainerKind {
    if bytes.starts_with(NPY_MAGIC) {
        ContainerKind::Npy
    } else if bytes.starts_with(ZIP_LOCAL_MAGIC) || bytes.starts_with(ZIP_EMPTY_MAGIC) {
        zipfile::classify_zip(bytes)
    } else if bytes.starts_with(GZIP_MAGIC) {
        ContainerKind::Gzip
    } else if bytes.starts_with(XZ_MAGIC) {
        ContainerKind::Xz
    } else if bytes.starts_with(SEVENZ_MAGIC) {
        ContainerKind::SevenZ
    } else if bytes.starts_with(ZSTD_MAGIC) {
        ContainerKind::Zstd
    } else if bytes.starts_with(ZFILE_MAGIC) {
        ContainerKind::JoblibZfile
    } else if bytes.starts_with(&compressed::LZ4_FRAME_MAGIC.to_le_bytes()) {
        ContainerKind::Lz4
    } else if is_bz2(bytes) {
        ContainerKind::Bz2
    } else if compressed::looks_like_zlib(bytes)
        && (!is_opcode(bytes[0]) || compressed::trial_decode(ContainerKind::Zlib, bytes))
    {
        ContainerKind::Zlib
    } else if compressed::looks_like_lzma_alone(bytes)
        && (!is_opcode(bytes[0]) || compressed::trial_decode(ContainerKind::Lzma, bytes))
    {
        ContainerKind::Lzma
    } else if is_tar(bytes) {
        ContainerKind::Tar
    } else {
        ContainerKind::Pickle
    }
}

/// Whether `bytes` may decode to more than themselves (a compressed stream or an archive
/// whose members may be deflated), by their magic alone: [`sniff`] without its trial
/// decoding, so a pickle that merely starts like zlib or LZMA also says yes. For estimates
/// (lint's memory budget), where saying yes too often only reserves too much.
pub(crate) fn may_expand(bytes: &[u8]) -> bool {
    [
        ZIP_LOCAL_MAGIC,
        ZIP_EMPTY_MAGIC,
        GZIP_MAGIC,
        XZ_MAGIC,
        SEVENZ_MAGIC,
        ZSTD_MAGIC,
        ZFILE_MAGIC,
        &compressed::LZ4_FRAME_MAGIC.to_le_bytes(),
    ]
    .iter()
    .any(|magic| bytes.starts_with(magic))
        || is_bz2(bytes)
        || compressed::looks_like_zlib(bytes)
        || compressed::looks_like_lzma_alone(bytes)
        || is_tar(bytes)
}

/// A tar header block: `ustar` at offset 257 (POSIX and GNU) and a checksum that adds up
/// (the header's bytes summed with the checksum field read as spaces, as tarfile checks).
pub(crate) fn is_tar(bytes: &[u8]) -> bool {
    let Some(header) = bytes.get(..512) else {
        return false;
    };
    if header.get(257..262) != Some(b"ustar") {
        return false;
    }
    let field = header.get(148..156).unwrap_or_default();
    let digits: String = field
        .iter()
        .skip_while(|&&b| b == b' ')
        .take_while(|&&b| b != 0 && b != b' ')
        .map(|&b| char::from(b))
        .collect();
    let Ok(stated) = u32::from_str_radix(digits.trim(), 8) else {
        return false;
    };
    let sum: u32 = header
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                32
            } else {
                u32::from(b)
            }
        })
        .sum();
    sum == stated
}

fn is_opcode(byte: u8) -> bool {
    Opcode::from_byte(byte).is_some()
}

fn is_bz2(bytes: &[u8]) -> bool {
    match bytes {
        [b'B', b'Z', b'h', b'1'..=b'9', rest @ ..] => {
            rest.starts_with(BZ2_BLOCK_MAGIC) || rest.starts_with(BZ2_EOS_MAGIC)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every file of the fixtures and test data that sniffs as compressed or an archive is
    /// one `may_expand` (lint's memory estimate) says may expand.
    #[test]
    fn may_expand_covers_every_compressed_or_archive_file() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut dirs = vec![root.join("fixtures"), root.join("tests/data")];
        let mut seen = 0;
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                    continue;
                }
                let bytes = std::fs::read(&path).unwrap();
                let kind = sniff(&bytes);
                if kind.is_compressed() || kind.is_archive() {
                    seen += 1;
                    let head = bytes.get(..4096).unwrap_or(&bytes);
                    assert!(may_expand(head), "{}: {kind:?}", path.display());
                }
            }
        }
        assert!(seen > 20, "{seen}");
    }

    #[test]
    fn raw_pickles_of_every_protocol_sniff_as_pickle() {
        // Protocol 0/1 streams start with an opcode, never a magic.
        for stream in [
            &b"(lp0\nI1\naI2\na."[..],
            b"]q\x00(K\x01K\x02e.",
            b"}q\x00X\x01\x00\x00\x00aq\x01K\x01s.",
            b"cos\nsystem\n(S'echo'\ntR.",
            b"N.",
            b"].",
            b"]",
            b"",
            b"\x80\x04\x95\x05\x00\x00\x00\x00\x00\x00\x00K\x01.",
            b"X\x01\x00\x00\x00a.",
            b"h\x00.",
        ] {
            assert_eq!(sniff(stream), ContainerKind::Pickle, "{stream:?}");
        }
    }

    #[test]
    fn a_protocol_1_list_whose_bytes_mimic_an_lzma_header_is_still_a_pickle() {
        // EMPTY_LIST, then bytes that form a power-of-two dictionary size and an unknown
        // uncompressed size: only the trial decode can tell.
        let mut stream = vec![0x5d, 0x00, 0x00, 0x80, 0x00];
        stream.extend_from_slice(&[0xff; 8]);
        stream.extend_from_slice(b"\x00e.");
        assert_eq!(sniff(&stream), ContainerKind::Pickle);
    }

    #[test]
    fn random_streams_that_start_with_an_opcode_stay_pickles() {
        // A pickle without PROTO can start with any opcode; whatever follows, only a real
        // compressed stream may take it away from the pickle machine. Deterministic LCG.
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            (state >> 33) as u8
        };
        for first in (0..=255u8).filter(|&b| is_opcode(b)) {
            for round in 0..160 {
                let len = 1 + usize::from(next()) + usize::from(next());
                let mut stream = vec![first];
                // Favour the bytes that make zlib and lzma headers valid.
                match round % 4 {
                    // A zlib header for this first byte (valid FCHECK, no FDICT).
                    0 => stream.push(((31 - u16::from(first) * 256 % 31) % 31) as u8),
                    // An lzma-alone header: 8 MiB dictionary, unknown size, zero byte.
                    1 => {
                        stream.extend_from_slice(&[0x00, 0x00, 0x80, 0x00]);
                        stream.extend_from_slice(&[0xff; 8]);
                        stream.push(0x00);
                    }
                    _ => {}
                }
                stream.extend((0..len).map(|_| next()));
                assert_eq!(sniff(&stream), ContainerKind::Pickle, "{stream:02x?}");
            }
        }
    }

    #[test]
    fn bz2_needs_the_block_magic() {
        assert_eq!(sniff(b"BZh9"), ContainerKind::Pickle);
        assert_eq!(
            sniff(b"BZh91AY&SY\x00\x00"),
            ContainerKind::Bz2,
            "block magic present"
        );
    }

    #[test]
    fn names_are_stable() {
        assert_eq!(ContainerKind::TorchZip.as_str(), "torch-zip");
        assert_eq!(ContainerKind::Lzma.to_string(), "lzma");
    }
}
