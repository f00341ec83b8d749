//! Whole-file compressed streams: gzip, bzip2, xz, lzma-alone, zlib and LZ4 frames.
//!
//! joblib's compressors (`joblib/compressor.py`) and pandas' `to_pickle(compression=…)`
//! write the whole file as one stream of one of these formats, so opening them is a matter
//! of running the right decoder. The decoders are fed through a reader that hands out small
//! chunks and counts them, so a failure can be placed in the compressed input, and their
//! output is pulled in chunks and refused past the caller's limit: a bomb costs at most
//! `limit` bytes of memory and stops as soon as it crosses the limit. What was decoded
//! before a failure is kept ([`decompress_partial`]): Python's file objects hand those
//! bytes to pickle before they raise.

use std::cell::Cell;
use std::io::{self, Read};

use super::ContainerKind;
use crate::error::{Error, ErrorKind, Result};
use crate::limits::{Limit, Limits};

/// Largest declared uncompressed size an lzma-alone header may carry to be recognised
/// (2^38 bytes = 256 GiB, liblzma's `lzma_alone_decoder` "picky" rule); larger values are
/// taken as "not an lzma-alone header".
pub const MAX_LZMA_UNCOMPRESSED_SIZE: u64 = 1 << 38;

/// The decoder is given at most this many compressed bytes per read, so the input position
/// at a failure is known to within this much plus the decoder's own look-ahead.
const INPUT_CHUNK: usize = 256;
/// Output is pulled from the decoder this much at a time.
const OUTPUT_CHUNK: usize = 64 * 1024;
/// A trial decode (for [`super::sniff`]) must reach the stream's verified end, or produce
/// this many bytes without error: no pickle decodes that far by chance.
const TRIAL_OUTPUT: usize = 1 << 20;

/// The compressed input, handed to the decoder a chunk at a time, with the count of bytes
/// given so far kept outside the decoder (which owns the reader) for error offsets.
struct CountingSlice<'a, 'c> {
    rest: &'a [u8],
    consumed: &'c Cell<u64>,
}

impl Read for CountingSlice<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(self.rest.len()).min(INPUT_CHUNK);
        let (head, tail) = self.rest.split_at(n);
        buf[..n].copy_from_slice(head);
        self.rest = tail;
        self.consumed.set(self.consumed.get() + n as u64);
        Ok(n)
    }
}

/// Decompresses a whole compressed stream, streamed through the decoder, refusing to
/// produce more than `limit` bytes (a bomb is an error naming the limit, not an
/// allocation), and reporting corrupt or truncated input as an error at an offset in the
/// *compressed* input: for corruption, how far the decoder had read when it failed (it reads
/// ahead, so this is at or a few hundred bytes after the fault); for truncation, the end of
/// the input.
///
/// Concatenated gzip members, bzip2 streams, xz streams and LZ4 frames are all read, as
/// Python's `gzip`/`bz2`/`lzma` modules and joblib do. Bytes after the end of a zlib or
/// lzma-alone stream are ignored, as `zlib.decompress` and liblzma ignore them.
pub fn decompress(kind: ContainerKind, bytes: &[u8], limit: u64) -> Result<Vec<u8>> {
    if kind == ContainerKind::JoblibZfile {
        return zfile(bytes, limit);
    }
    run(kind, bytes, limit, false).map(|(out, _)| out)
}

/// Runs `decode` with what a compressed stream (or deflated zip member) of `compressed`
/// bytes may expand to under `limits` ([`Limits::decompression_cap`]). Where the ratio set
/// that cap, a bomb is reported under `max_decompression_ratio`, so that the message and
/// the CLI's hint name the limit that stopped it.
pub(crate) fn within_cap<T>(
    limits: &Limits,
    compressed: usize,
    decode: impl FnOnce(u64) -> Result<T>,
) -> Result<T> {
    let compressed = u64::try_from(compressed).unwrap_or(u64::MAX);
    let (cap, limit) = limits.decompression_cap(compressed);
    decode(cap).map_err(|e| {
        if limit != Limit::DecompressionRatio
            || e.kind() != ErrorKind::LimitExceeded(Limit::Decompressed)
        {
            return e;
        }
        let note = format!(
            "({} times its {compressed} compressed bytes, at least {}) {}",
            limits.max_decompression_ratio,
            crate::limits::MIN_DECOMPRESSED,
            limit.note()
        );
        let message = e.message().replacen(&Limit::Decompressed.note(), &note, 1);
        Error::new(ErrorKind::LimitExceeded(limit), e.offset(), message)
    })
}

/// joblib's `_ZFILE_PREFIX`, and the width of the hex length after it: `_MAX_LEN =
/// len(hex_str(2 ** 64))`, 19 characters (`0x10000000000000000`).
const ZFILE_PREFIX: usize = 2;
const ZFILE_MAX_LEN: usize = 19;

/// Where the zlib stream of a joblib `ZF` file starts, and the length its header states
/// (joblib's `numpy_pickle_compat.read_zfile`: the prefix, the hex length left-justified in
/// 19 characters, and one more space that joblib <= 0.8.4 wrote under Python 2).
fn zfile_header(bytes: &[u8]) -> Result<(usize, u64)> {
    let header_len = ZFILE_PREFIX + ZFILE_MAX_LEN;
    let bad = |what: String| Error::new(ErrorKind::InvalidArgument, ZFILE_PREFIX as u64, what);
    let field = bytes.get(ZFILE_PREFIX..header_len).ok_or_else(|| {
        Error::new(
            ErrorKind::Truncated,
            bytes.len() as u64,
            "joblib ZF header is cut short",
        )
    })?;
    let text = std::str::from_utf8(field)
        .map_err(|_| bad("joblib ZF header: the length is not text".into()))?
        .trim();
    let hex = text.strip_prefix("0x").unwrap_or(text);
    let length = u64::from_str_radix(hex, 16)
        .map_err(|_| bad(format!("joblib ZF header: {text:?} is not a hex length")))?;
    let start = if bytes.get(header_len) == Some(&b' ') {
        header_len + 1
    } else {
        header_len
    };
    Ok((start, length))
}

/// A joblib `ZF` file: `zlib.decompress` of what follows the header, which must give the
/// length the header states (joblib asserts it).
fn zfile(bytes: &[u8], limit: u64) -> Result<Vec<u8>> {
    let (start, length) = zfile_header(bytes)?;
    if length > limit {
        return Err(Limit::Decompressed.exceeded(
            ZFILE_PREFIX as u64,
            format_args!("joblib ZF file declares {length} bytes, more than the limit of {limit}"),
        ));
    }
    let rest = bytes.get(start..).unwrap_or_default();
    let out = run(ContainerKind::Zlib, rest, limit, false)
        .map(|(out, _)| out)
        .map_err(|e| {
            Error::new(
                e.kind(),
                e.offset().saturating_add(start as u64),
                e.message(),
            )
        })?;
    if out.len() as u64 != length {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            ZFILE_PREFIX as u64,
            format!(
                "joblib ZF header states {length} bytes, but the zlib stream gives {}",
                out.len()
            ),
        ));
    }
    Ok(out)
}

/// Whether the first bytes of `bytes` decode as `kind` without error (for ambiguous magics).
pub(super) fn trial_decode(kind: ContainerKind, bytes: &[u8]) -> bool {
    run(kind, bytes, TRIAL_OUTPUT as u64, true).is_ok_and(|(out, finished)| {
        // Either the stream really ended, or it produced the bytes we asked for.
        finished || out.len() >= TRIAL_OUTPUT
    })
}

/// [`decompress`], keeping what was decoded before a failure (corrupt or truncated input,
/// or `limit`): Python's `gzip`, `bz2` and `lzma` file objects (which `joblib.load` and
/// `pandas.read_pickle` hand to pickle) give out decoded bytes as they come, so the opcodes
/// in them run before the decoder's error is raised. The error, if any, comes with them.
/// joblib's `ZF` files are decoded whole before pickle reads a byte: there, a failure
/// leaves nothing.
pub(crate) fn decompress_partial(
    kind: ContainerKind,
    bytes: &[u8],
    limit: u64,
) -> (Vec<u8>, Option<Error>) {
    if kind == ContainerKind::JoblibZfile {
        return match zfile(bytes, limit) {
            Ok(out) => (out, None),
            Err(e) => (Vec::new(), Some(e)),
        };
    }
    let (out, result) = run_keep(kind, bytes, limit, false);
    (out, result.err())
}

/// [`decompress_partial`] under [`within_cap`]'s cap (a bomb named by the limit that set it).
pub(crate) fn decompress_partial_within_cap(
    limits: &Limits,
    kind: ContainerKind,
    input: &[u8],
) -> (Vec<u8>, Option<Error>) {
    let mut kept = Vec::new();
    let result = within_cap(limits, input.len(), |cap| {
        let (decoded, error) = decompress_partial(kind, input, cap);
        kept = decoded;
        error.map_or(Ok(()), Err)
    });
    (kept, result.err())
}

/// The shared driver. With `trial`, stops without error once `limit` bytes are out and
/// returns whether the stream ended on its own.
fn run(kind: ContainerKind, bytes: &[u8], limit: u64, trial: bool) -> Result<(Vec<u8>, bool)> {
    let (out, result) = run_keep(kind, bytes, limit, trial);
    result.map(|finished| (out, finished))
}

/// [`run`], returning what was decoded whether or not the decoder then failed.
fn run_keep(kind: ContainerKind, bytes: &[u8], limit: u64, trial: bool) -> (Vec<u8>, Result<bool>) {
    let consumed = Cell::new(0u64);
    let input = CountingSlice {
        rest: bytes,
        consumed: &consumed,
    };
    let mut drain = Drain {
        kind,
        limit,
        trial,
        consumed: &consumed,
        total: bytes.len() as u64,
        out: Vec::new(),
    };
    let decoder = match decoder(kind, input) {
        Some(Ok(decoder)) => decoder,
        Some(Err(e)) => return (Vec::new(), Err(drain.decoder_error(&e))),
        None => {
            let e = Error::new(
                ErrorKind::InvalidArgument,
                0,
                format!("{kind} is not a compressed stream"),
            );
            return (Vec::new(), Err(e));
        }
    };
    let finished = if kind == ContainerKind::Lz4 {
        // lz4_flex takes input that ends between blocks for a finished frame, so the
        // frames' structure is walked first: a missing end mark is truncation (found
        // after what the frames before it decode to).
        let checked = check_lz4_frames(bytes);
        let finished = drain.pull_frames(decoder);
        checked.and(finished)
    } else {
        drain.pull(decoder)
    };
    (drain.out, finished)
}

/// The decoder for `kind` over `input`, built the same way for a whole decode and for a
/// peek at the first bytes ([`decoded_prefix`]); `None` when `kind` is not a compressed
/// stream. Concatenated gzip members and bzip2 and xz streams are all read, as Python's
/// `gzip`, `bz2` and `lzma` modules read them. xz and lzma-alone decoders get no memory limit:
/// Python's `lzma` sets none, and these decoders grow their window with the output rather
/// than allocating the dictionary size a header declares, so memory follows the output,
/// which the callers bound.
fn decoder<'a, R: Read + 'a>(
    kind: ContainerKind,
    input: R,
) -> Option<io::Result<Box<dyn Read + 'a>>> {
    let decoder: Box<dyn Read + 'a> = match kind {
        ContainerKind::Gzip => Box::new(flate2::read::MultiGzDecoder::new(input)),
        ContainerKind::Zlib => Box::new(flate2::read::ZlibDecoder::new(input)),
        ContainerKind::Bz2 => Box::new(bzip2::read::MultiBzDecoder::new(input)),
        ContainerKind::Xz => Box::new(lzma_rust2::XzReader::new(input, true)),
        ContainerKind::Lzma => match lzma_rust2::LzmaReader::new_mem_limit(input, u32::MAX, None) {
            Ok(reader) => Box::new(reader),
            Err(e) => return Some(Err(e)),
        },
        ContainerKind::Lz4 => Box::new(lz4_flex::frame::FrameDecoder::new(input)),
        ContainerKind::Zstd => match ruzstd::decoding::StreamingDecoder::new(input) {
            Ok(reader) => Box::new(reader),
            Err(e) => {
                return Some(Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    e.to_string(),
                )))
            }
        },
        _ => return None,
    };
    Some(Ok(decoder))
}

/// The first `len` decoded bytes of a compressed stream (fewer if it ends sooner), or
/// `None` when `kind` is not a compressed stream or they cannot be decoded. A cheap look
/// (for `lint`'s content test) with the decoders [`decompress`] uses; nothing past the
/// first bytes is read or checked.
pub fn decoded_prefix(kind: ContainerKind, bytes: &[u8], len: usize) -> Option<Vec<u8>> {
    let (kind, bytes) = if kind == ContainerKind::JoblibZfile {
        let (start, _) = zfile_header(bytes).ok()?;
        (ContainerKind::Zlib, bytes.get(start..)?)
    } else {
        (kind, bytes)
    };
    let decoder = decoder(kind, bytes)?.ok()?;
    let mut out = Vec::with_capacity(len);
    decoder
        .take(u64::try_from(len).unwrap_or(u64::MAX))
        .read_to_end(&mut out)
        .ok()?;
    Some(out)
}

struct Drain<'c> {
    kind: ContainerKind,
    limit: u64,
    trial: bool,
    consumed: &'c Cell<u64>,
    total: u64,
    out: Vec<u8>,
}

thread_local! {
    /// The output chunk of this thread's last decompression, kept for the next one: zeroing
    /// a fresh 64 KiB chunk per stream was 14% of `lint`'s instructions on a tree of small
    /// compressed files.
    static CHUNK: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

/// Runs `f` with a zeroed-once `OUTPUT_CHUNK` buffer of this thread (a nested
/// decompression finds the slot empty and makes its own).
fn with_chunk<T>(f: impl FnOnce(&mut [u8]) -> T) -> T {
    let mut chunk = CHUNK.with(|slot| slot.take());
    if chunk.len() != OUTPUT_CHUNK {
        chunk = vec![0u8; OUTPUT_CHUNK];
    }
    let result = f(&mut chunk);
    CHUNK.with(|slot| slot.set(chunk));
    result
}

impl Drain<'_> {
    /// Reads `decoder` to its end. Returns `true` when the stream ended, `false` when a
    /// trial stopped early.
    fn pull(&mut self, mut decoder: impl Read) -> Result<bool> {
        with_chunk(|chunk| loop {
            match self.read_some(&mut decoder, chunk)? {
                Some(0) => return Ok(true),
                Some(_) => {}
                None => return Ok(false),
            }
        })
    }

    /// Like [`Drain::pull`], for the LZ4 frame decoder, which reports end-of-input after
    /// each frame: keep reading frames while compressed input remains.
    fn pull_frames(&mut self, mut decoder: impl Read) -> Result<bool> {
        with_chunk(|chunk| self.pull_frames_into(&mut decoder, chunk))
    }

    fn pull_frames_into(&mut self, decoder: &mut impl Read, chunk: &mut [u8]) -> Result<bool> {
        loop {
            let before = self.consumed.get();
            match self.read_some(decoder, chunk)? {
                Some(0) if self.consumed.get() >= self.total || self.consumed.get() == before => {
                    // All input used, or no progress at all: a frame boundary at the end.
                    if self.consumed.get() < self.total {
                        return Err(Error::new(
                            ErrorKind::InvalidArgument,
                            self.consumed.get(),
                            format!(
                                "lz4: {} bytes after the last frame are not an lz4 frame",
                                self.total - self.consumed.get()
                            ),
                        ));
                    }
                    return Ok(true);
                }
                Some(_) => {}
                None => return Ok(false),
            }
        }
    }

    /// One read into `chunk`, appended to the output. `Some(0)` at the end of the stream,
    /// `None` when a trial has what it needs.
    fn read_some(&mut self, decoder: &mut impl Read, chunk: &mut [u8]) -> Result<Option<usize>> {
        let room = self.limit.saturating_sub(self.out.len() as u64);
        // Ask for one byte more than the limit allows, to see whether the stream goes on.
        let want = chunk
            .len()
            .min(usize::try_from(room.saturating_add(1)).unwrap_or(usize::MAX));
        let n = loop {
            match decoder.read(&mut chunk[..want]) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.decoder_error(&e)),
            }
        };
        if n as u64 > room {
            if self.trial {
                self.out.extend_from_slice(&chunk[..room as usize]);
                return Ok(None);
            }
            return Err(Limit::Decompressed.exceeded(
                self.consumed.get(),
                format_args!(
                    "{} stream decompresses to more than {} bytes",
                    self.kind, self.limit
                ),
            ));
        }
        self.grow_for(n);
        self.out.extend_from_slice(&chunk[..n]);
        if self.trial && self.out.len() as u64 >= self.limit {
            return Ok(None);
        }
        Ok(Some(n))
    }

    /// Makes room for `n` more bytes, doubling as `Vec` does but never past the limit (the
    /// caller has checked that `n` fits), so the buffer is at most `limit` bytes.
    fn grow_for(&mut self, n: usize) {
        let needed = self.out.len() + n;
        if needed > self.out.capacity() {
            let limit = usize::try_from(self.limit).unwrap_or(usize::MAX);
            let target = self
                .out
                .capacity()
                .saturating_mul(2)
                .max(needed)
                .min(limit.max(needed));
            self.out.reserve_exact(target - self.out.len());
        }
    }

    /// Places a decoder failure in the compressed input.
    fn decoder_error(&self, e: &io::Error) -> Error {
        let at = self.consumed.get();
        let truncated = e.kind() == io::ErrorKind::UnexpectedEof
            || (at >= self.total && looks_like_eof_message(&e.to_string()));
        if truncated {
            Error::new(
                ErrorKind::Truncated,
                self.total,
                format!(
                    "{} stream is truncated: the input ends after {} bytes, before the end of \
                     the compressed data ({e})",
                    self.kind, self.total
                ),
            )
        } else {
            Error::new(
                ErrorKind::InvalidArgument,
                at,
                format!(
                    "{} data is corrupt: {e} (the decoder had read {at} of {} bytes)",
                    self.kind, self.total
                ),
            )
        }
    }
}

/// Some decoders report running out of input as a generic error; recognise those.
fn looks_like_eof_message(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("eof")
        || m.contains("end of")
        || m.contains("truncat")
        || m.contains("unexpected end")
}

/// LZ4 frame format (lz4/doc/lz4_Frame_format.md) constants. The magic number is read
/// little-endian: the file starts `04 22 4d 18` ([`super::sniff`] looks for that too).
pub(super) const LZ4_FRAME_MAGIC: u32 = 0x184D_2204;
const LZ4_FLG_BLOCK_CHECKSUM: u8 = 0x10;
const LZ4_FLG_CONTENT_SIZE: u8 = 0x08;
const LZ4_FLG_CONTENT_CHECKSUM: u8 = 0x04;
const LZ4_FLG_DICT_ID: u8 = 0x01;
const LZ4_UNCOMPRESSED_BIT: u32 = 0x8000_0000;

/// Walks the structure of concatenated LZ4 frames without decoding them: each frame's
/// header, its blocks (size word, data, optional checksum) up to the end mark, and the
/// optional content checksum must all lie inside the input, and every byte must belong
/// to a frame.
fn check_lz4_frames(bytes: &[u8]) -> Result<()> {
    let truncated = |what: &str, at: usize| {
        Error::new(
            ErrorKind::Truncated,
            bytes.len() as u64,
            format!(
                "lz4 stream is truncated: the input ends after {} bytes, inside the {what} at offset {at}",
                bytes.len()
            ),
        )
    };
    let u32_at = |at: usize| -> Option<u32> {
        bytes
            .get(at..)
            .and_then(|rest| rest.first_chunk::<4>())
            .map(|w| u32::from_le_bytes(*w))
    };
    let mut pos = 0usize;
    while pos < bytes.len() {
        let frame = pos;
        match u32_at(pos) {
            Some(LZ4_FRAME_MAGIC) => {}
            Some(_) if frame > 0 => {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    frame as u64,
                    format!(
                        "lz4: {} bytes after the last frame are not an lz4 frame",
                        bytes.len() - frame
                    ),
                ))
            }
            Some(_) => {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    0,
                    "not an lz4 frame: expected the magic number 04 22 4d 18",
                ))
            }
            None => return Err(truncated("frame magic number", frame)),
        }
        let flg = *bytes
            .get(pos + 4)
            .ok_or_else(|| truncated("frame header", frame))?;
        let header_len = 4
            + 2
            + if flg & LZ4_FLG_CONTENT_SIZE != 0 {
                8
            } else {
                0
            }
            + if flg & LZ4_FLG_DICT_ID != 0 { 4 } else { 0 }
            + 1;
        if bytes.len() - pos < header_len {
            return Err(truncated("frame header", frame));
        }
        pos += header_len;
        let block_checksum = if flg & LZ4_FLG_BLOCK_CHECKSUM != 0 {
            4
        } else {
            0
        };
        loop {
            let block = pos;
            let word = u32_at(pos).ok_or_else(|| truncated("block size (or end mark)", block))?;
            pos += 4;
            if word == 0 {
                break;
            }
            let len = (word & !LZ4_UNCOMPRESSED_BIT) as usize + block_checksum;
            if bytes.len() - pos < len {
                return Err(truncated("block", block));
            }
            pos += len;
        }
        if flg & LZ4_FLG_CONTENT_CHECKSUM != 0 {
            if bytes.len() - pos < 4 {
                return Err(truncated("content checksum", pos));
            }
            pos += 4;
        }
    }
    Ok(())
}

/// zlib header (RFC 1950 §2.2): CM = 8 (deflate), CINFO ≤ 7 (window ≤ 32 KiB), the
/// FCHECK bits make `CMF*256 + FLG` a multiple of 31, and no preset dictionary (FDICT),
/// which Python's `zlib.decompress` could not open either.
pub(super) fn looks_like_zlib(bytes: &[u8]) -> bool {
    match bytes {
        [cmf, flg, ..] => {
            cmf & 0x0f == 8
                && cmf >> 4 <= 7
                && (u16::from(*cmf) * 256 + u16::from(*flg)) % 31 == 0
                && flg & 0x20 == 0
        }
        _ => false,
    }
}

/// lzma-alone header (13 bytes: properties, dictionary size u32, uncompressed size u64, all
/// little-endian), checked as strictly as liblzma's auto-detecting decoder does: the
/// properties byte encodes lc ≤ 8, lp ≤ 4, pb ≤ 4; the dictionary size is 2^n or
/// 2^n + 2^(n-1) (or u32::MAX); the uncompressed size is unknown (all ones) or below
/// [`MAX_LZMA_UNCOMPRESSED_SIZE`]; and the range coder's first byte, which is always 0,
/// follows. Python's `lzma.FORMAT_ALONE` writes `5d`, a power-of-two dictionary and an
/// unknown size.
pub(super) fn looks_like_lzma_alone(bytes: &[u8]) -> bool {
    let Some(header) = bytes.get(..14) else {
        return false;
    };
    let props = header[0];
    let dict = u32::from_le_bytes([header[1], header[2], header[3], header[4]]);
    let mut size = [0u8; 8];
    size.copy_from_slice(&header[5..13]);
    let size = u64::from_le_bytes(size);
    props < 9 * 5 * 5
        && plausible_dict_size(dict)
        && (size == u64::MAX || size < MAX_LZMA_UNCOMPRESSED_SIZE)
        && header[13] == 0
}

/// liblzma's test: round `dict` up to the next 2^n or 2^n + 2^(n-1); it must not change.
fn plausible_dict_size(dict: u32) -> bool {
    if dict == u32::MAX {
        return true;
    }
    let mut d = dict.wrapping_sub(1);
    d |= d >> 2;
    d |= d >> 3;
    d |= d >> 4;
    d |= d >> 8;
    d |= d >> 16;
    d.wrapping_add(1) == dict
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn dictionary_sizes_follow_liblzma() {
        for ok in [1u32 << 12, 1 << 23, 3 << 22, 1 << 26, u32::MAX] {
            assert!(plausible_dict_size(ok), "{ok:#x}");
        }
        for bad in [0x0080_0001u32, 0x2800_0071, 5 << 20, 0x0a30_706c] {
            assert!(!plausible_dict_size(bad), "{bad:#x}");
        }
    }

    #[test]
    fn concatenated_gzip_members_are_all_read() {
        let mut data = gzip(b"\x80\x04hello ");
        data.extend(gzip(b"world."));
        assert_eq!(
            decompress(ContainerKind::Gzip, &data, 100).unwrap(),
            b"\x80\x04hello world."
        );
    }

    #[test]
    fn a_prefix_is_decoded_as_the_whole_stream_is() {
        // An empty first member is read through, as `decompress` (and Python's gzip) do.
        let mut data = gzip(b"");
        data.extend(gzip(b"\x80\x04\x95N."));
        assert_eq!(
            decoded_prefix(ContainerKind::Gzip, &data, 2),
            Some(b"\x80\x04".to_vec())
        );
        assert_eq!(
            decoded_prefix(ContainerKind::Gzip, &gzip(b"N"), 2),
            Some(b"N".to_vec())
        );
        assert_eq!(
            decoded_prefix(ContainerKind::Gzip, b"\x1f\x8bnot gzip", 2),
            None
        );
        assert_eq!(
            decoded_prefix(ContainerKind::Pickle, b"\x80\x04N.", 2),
            None
        );
    }

    #[test]
    fn output_exactly_at_the_limit_is_allowed_and_one_more_byte_is_not() {
        let data = gzip(&[7u8; 1000]);
        assert_eq!(
            decompress(ContainerKind::Gzip, &data, 1000).unwrap().len(),
            1000
        );
        let err = decompress(ContainerKind::Gzip, &data, 999).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::LimitExceeded(Limit::Decompressed));
        assert!(err.message().contains("max_decompressed"), "{err}");
    }

    #[test]
    fn corrupt_deflate_data_is_placed_in_the_input() {
        let mut data = gzip(
            &(0..50_000u32)
                .map(|i| (i * 7919 % 251) as u8)
                .collect::<Vec<_>>(),
        );
        let middle = data.len() / 2;
        for b in &mut data[middle..middle + 64] {
            *b = 0xff;
        }
        let err = decompress(ContainerKind::Gzip, &data, 1 << 20).unwrap_err();
        assert!(err.offset() as usize >= middle, "{err}");
        assert!(err.offset() as usize <= data.len(), "{err}");
    }

    #[test]
    fn a_pickle_is_not_a_compressed_stream() {
        let err = decompress(ContainerKind::Pickle, b"N.", 10).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    }

    #[test]
    fn a_zlib_stream_with_a_bad_checksum_is_corrupt() {
        let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(b"\x80\x04N.").unwrap();
        let mut data = enc.finish().unwrap();
        let last = data.len() - 1;
        data[last] ^= 1;
        assert!(decompress(ContainerKind::Zlib, &data, 100).is_err());
        assert!(!trial_decode(ContainerKind::Zlib, &data));
    }
}
