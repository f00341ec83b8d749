//! Copying a byte range of the input file to an output while hashing it (sha256).
//!
//! The bytes never pass through the memory map: the kernel copies them file to file
//! (`copy_file_range`, through `std::io::copy`'s specialisation for files), and a second
//! thread reads the same range with `pread` in bounded chunks and hashes it. The two run
//! side by side, so the copy costs what the slower of the two costs instead of their sum,
//! and peak memory is one hashing buffer however large the range is (page cache is not
//! ours). A writer that is not a file gets the range from `pread` on this thread instead.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::sync::atomic::{AtomicBool, Ordering};

use sha2::{Digest, Sha256};

/// The hashing thread reads this much at a time.
const HASH_CHUNK: usize = 1 << 20;

/// The copying side reports progress after each step of this many bytes.
const COPY_STEP: u64 = 64 << 20;

/// Copies `len` bytes at `offset` of `input` to the end of what was written to `out` (the
/// kernel copies file to file), and returns the sha256 of those bytes. `progress` gets the
/// number of bytes copied in each step. A file shorter than `offset + len` is an error
/// of kind `UnexpectedEof`.
pub(crate) fn copy_to_file(
    input: &File,
    offset: u64,
    len: u64,
    out: &mut File,
    progress: &mut dyn FnMut(u64),
) -> io::Result<[u8; 32]> {
    with_hasher(input, offset, len, || {
        let mut reader = input;
        reader.seek(SeekFrom::Start(offset))?;
        copy_steps(len, progress, |step| {
            io::copy(&mut Read::take(reader, step), out)
        })
    })
}

/// Copies `len` bytes at `offset` of `input` into `out` (any writer: read with `pread` in
/// bounded chunks), and returns their sha256; as [`copy_to_file`] otherwise.
pub(crate) fn copy_to_writer(
    input: &File,
    offset: u64,
    len: u64,
    out: &mut dyn Write,
    progress: &mut dyn FnMut(u64),
) -> io::Result<[u8; 32]> {
    with_hasher(input, offset, len, || {
        let mut buffer = vec![0u8; HASH_CHUNK];
        let mut at = offset;
        copy_steps(len, progress, |step| {
            let mut left = step;
            while left > 0 {
                let want = usize::try_from(left.min(HASH_CHUNK as u64)).unwrap_or(HASH_CHUNK);
                let chunk = buffer.get_mut(..want).unwrap_or_default();
                read_exact_at(input, chunk, at)?;
                out.write_all(chunk)?;
                at = at.saturating_add(want as u64);
                left -= want as u64;
            }
            Ok(step)
        })
    })
}

/// Runs `copy` in steps of at most [`COPY_STEP`] bytes until `len` bytes are copied; a
/// step that copies less than asked means the input ended early.
fn copy_steps(
    len: u64,
    progress: &mut dyn FnMut(u64),
    mut copy: impl FnMut(u64) -> io::Result<u64>,
) -> io::Result<()> {
    let mut left = len;
    while left > 0 {
        let step = left.min(COPY_STEP);
        let copied = copy(step)?;
        if copied != step {
            return Err(short_input());
        }
        progress(step);
        left -= step;
    }
    Ok(())
}

/// Runs `copy` on this thread while another thread hashes the same range with `pread`.
/// The hasher stops early when the copy fails.
fn with_hasher(
    input: &File,
    offset: u64,
    len: u64,
    copy: impl FnOnce() -> io::Result<()>,
) -> io::Result<[u8; 32]> {
    offset.checked_add(len).ok_or_else(short_input)?;
    if len == 0 {
        return Ok(Sha256::digest([]).into());
    }
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let hasher = scope.spawn(|| hash_range(input, offset, len, &stop));
        let copied = copy();
        if copied.is_err() {
            stop.store(true, Ordering::Relaxed);
        }
        let hashed = hasher
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the hashing thread failed")));
        copied?;
        hashed
    })
}

/// The sha256 of `len` bytes at `offset` of `input`, read in [`HASH_CHUNK`] pieces.
fn hash_range(input: &File, offset: u64, len: u64, stop: &AtomicBool) -> io::Result<[u8; 32]> {
    let mut hash = Sha256::new();
    let mut buffer = vec![0u8; HASH_CHUNK];
    let mut at = offset;
    let mut left = len;
    while left > 0 {
        if stop.load(Ordering::Relaxed) {
            return Err(io::Error::other("copy abandoned"));
        }
        let want = usize::try_from(left.min(HASH_CHUNK as u64)).unwrap_or(HASH_CHUNK);
        let chunk = buffer.get_mut(..want).unwrap_or_default();
        read_exact_at(input, chunk, at)?;
        hash.update(&*chunk);
        at = at.saturating_add(want as u64);
        left -= want as u64;
    }
    Ok(hash.finalize().into())
}

/// Fills `buffer` from `input` at `offset` without moving the file's position.
#[cfg(unix)]
fn read_exact_at(input: &File, buffer: &mut [u8], offset: u64) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    input
        .read_exact_at(buffer, offset)
        .map_err(|e| match e.kind() {
            io::ErrorKind::UnexpectedEof => short_input(),
            _ => e,
        })
}

/// Fills `buffer` from `input` at `offset` without moving the file's position.
#[cfg(windows)]
fn read_exact_at(input: &File, mut buffer: &mut [u8], mut offset: u64) -> io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buffer.is_empty() {
        match input.seek_read(buffer, offset)? {
            0 => return Err(short_input()),
            n => {
                buffer = &mut buffer[n..];
                offset = offset.saturating_add(n as u64);
            }
        }
    }
    Ok(())
}

fn short_input() -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "the input file is shorter than when it was read (changed while extracting?)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input_of(bytes: &[u8]) -> File {
        let mut file = tempfile::tempfile().unwrap_or_else(|e| panic!("{e}"));
        file.write_all(bytes).unwrap_or_else(|e| panic!("{e}"));
        file
    }

    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
    }

    #[test]
    fn a_range_is_copied_after_what_was_written_and_hashed_exactly() {
        let bytes = pattern(3 * HASH_CHUNK + 12345);
        let input = input_of(&bytes);
        let (offset, len) = (1000usize, 2 * HASH_CHUNK + 777);
        let mut out = tempfile::tempfile().unwrap_or_else(|e| panic!("{e}"));
        out.write_all(b"HEADER").unwrap_or_else(|e| panic!("{e}"));
        let mut reported = 0u64;
        let digest = copy_to_file(&input, offset as u64, len as u64, &mut out, &mut |n| {
            reported += n
        })
        .unwrap_or_else(|e| panic!("{e}"));
        let want = &bytes[offset..offset + len];
        assert_eq!(digest, <[u8; 32]>::from(Sha256::digest(want)));
        assert_eq!(reported, len as u64);
        let mut written = Vec::new();
        out.seek(SeekFrom::Start(0))
            .and_then(|_| out.read_to_end(&mut written))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(&written[..6], b"HEADER");
        assert_eq!(&written[6..], want);

        let mut vec_out = Vec::new();
        let digest2 = copy_to_writer(&input, offset as u64, len as u64, &mut vec_out, &mut |_| {})
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(digest2, digest);
        assert_eq!(vec_out, want);
    }

    #[test]
    fn a_range_past_the_end_of_the_file_is_an_error_not_a_short_copy() {
        let input = input_of(&pattern(5000));
        let mut out = tempfile::tempfile().unwrap_or_else(|e| panic!("{e}"));
        let e = copy_to_file(&input, 4000, 2000, &mut out, &mut |_| {}).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
        let e = copy_to_writer(&input, 4000, 2000, &mut Vec::new(), &mut |_| {}).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
        let e = copy_to_file(&input, u64::MAX, 2, &mut out, &mut |_| {}).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn an_empty_range_hashes_to_the_empty_digest() {
        let input = input_of(b"abc");
        let digest = copy_to_writer(&input, 3, 0, &mut Vec::new(), &mut |_| {})
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(digest, <[u8; 32]>::from(Sha256::digest(b"")));
    }
}
