//! Getting the bytes: a memory map of a file, or standard input read into memory.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

/// The bytes of one input, borrowed by everything downstream.
pub enum Input {
    /// A read-only memory map of a regular file.
    Mapped(memmap2::Mmap),
    /// Bytes read from a pipe, standard input, or an empty file.
    Owned(Vec<u8>),
}

impl Input {
    /// Opens `path`: maps regular files, reads anything else (pipes, devices).
    pub fn open(path: &Path) -> io::Result<Input> {
        Input::open_file(path).map(|(input, _)| input)
    }

    /// Opens `path` as [`Input::open`] does, and keeps the file of a map: extract copies
    /// array data from it without reading the map ([`extract_mapped`](crate::extract::extract_mapped)).
    pub fn open_file(path: &Path) -> io::Result<(Input, Option<File>)> {
        let file = File::open(path)?;
        let meta = file.metadata()?;
        if meta.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "is a directory",
            ));
        }
        if !meta.is_file() || meta.len() == 0 {
            return Ok((Input::read(file)?, None));
        }
        // SAFETY: the map is read-only. If another process truncates or rewrites the file
        // while we read it, the contents we see may change (or reads may fault); this is
        // the documented trade-off of memory-mapped input, as in ripgrep.
        let map = unsafe { memmap2::Mmap::map(&file)? };
        Ok((Input::Mapped(map), Some(file)))
    }

    /// Maps (or, if it is not a regular file, reads) an open file: the caller may keep the
    /// handle to copy ranges of the same file later (`extract`'s kernel copies).
    pub fn from_file(file: &File) -> io::Result<Input> {
        let meta = file.metadata()?;
        if meta.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "is a directory",
            ));
        }
        if !meta.is_file() || meta.len() == 0 {
            return Input::read(file);
        }
        // SAFETY: as in `open_file`: a read-only map, the documented trade-off.
        let map = unsafe { memmap2::Mmap::map(file)? };
        Ok(Input::Mapped(map))
    }

    /// Reads everything from `reader` (standard input).
    pub fn read(mut reader: impl Read) -> io::Result<Input> {
        let mut bytes = Vec::new();
        reader.read_to_end(&mut bytes)?;
        Ok(Input::Owned(bytes))
    }

    /// Reads a regular file of `len` bytes (its size from a `stat` the caller already made):
    /// one allocation of the right size and one `read`, where `read_to_end` would `stat` the
    /// file again and read once more to find the end. Bytes appended after the `stat` are
    /// not read; a file that reports no size (as `/proc` files do) is read to its end.
    pub fn read_len(file: &std::fs::File, len: u64) -> io::Result<Input> {
        if len == 0 {
            return Input::read(file);
        }
        let capacity = usize::try_from(len).map_err(io::Error::other)?;
        let mut bytes = Vec::with_capacity(capacity);
        file.take(len).read_to_end(&mut bytes)?;
        Ok(Input::Owned(bytes))
    }

    /// The bytes.
    pub fn bytes(&self) -> &[u8] {
        match self {
            Input::Mapped(map) => map,
            Input::Owned(bytes) => bytes,
        }
    }
}
