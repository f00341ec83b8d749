//! torch's legacy **tar** checkpoint (torch < 0.4 wrote it; `torch.load` still reads it,
//! `legacy_load` in torch/serialization.py): a tar with the members `sys_info`, `pickle`,
//! `tensors` and `storages`. torch unpickles `storages` first, then `tensors`, then
//! `pickle`; `storages` and `tensors` are runs of small pickles with raw bytes between
//! them, so a pickle after the first raw bytes is not "trailing data" but something
//! `torch.load` runs. [`storage_records`] and [`tensor_records`] find every pickle torch
//! reads from those members, stepping over the raw bytes exactly as torch does; the
//! tensors themselves are rebuilt from the same members by [`crate::lift::tar_tensors`].
//!
//! `storages`: a pickle of the storage count; per storage, a pickle of `(key, location,
//! storage_type)`, then the storage as `_new_with_file` reads it (an int64 element count,
//! little-endian, then count × the element size of `storage_type`); then a pickle of the
//! storage views. `tensors`: a pickle of the tensor count; per tensor, a pickle of `(key,
//! storage_id, tensor_type)`, then an int32 `ndim`, four unused bytes, `ndim` int64 sizes,
//! `ndim` int64 strides and an int64 storage offset.

#![warn(clippy::arithmetic_side_effects)]

use std::ops::Range;

use crate::error::{Error, ErrorKind, Result};
use crate::limits::Limit;
use crate::opcode::Opcode;
use crate::reader::{Arg, OpReader};

/// The members `legacy_load` reads, in the order it reads them.
pub(crate) const STORAGES: &str = "storages";
/// See [`STORAGES`].
pub(crate) const TENSORS: &str = "tensors";
/// The pickle of the object `torch.load` returns; its persistent ids name tensors.
pub(crate) const PICKLE: &str = "pickle";

/// The pickles torch reads from one member, in order.
#[derive(Debug, Default)]
pub(crate) struct Records {
    /// Each pickle's bytes in the member (start to just past STOP).
    pub pickles: Vec<Range<usize>>,
    /// Where torch stops reading the member: bytes after it are not read.
    pub end: usize,
    /// Why the walk stopped before torch would have: what torch reads after the last
    /// pickle found could not be located (a truncated member, an unknown storage type).
    pub stopped: Option<Error>,
}

/// The pickles torch reads from the `storages` member.
pub(crate) fn storage_records(data: &[u8], max_pickles: usize) -> Records {
    let mut records = Records::default();
    let result = walk_storages(data, max_pickles, &mut records);
    finish(records, result)
}

/// The pickles torch reads from the `tensors` member.
pub(crate) fn tensor_records(data: &[u8], max_pickles: usize) -> Records {
    let mut records = Records::default();
    let result = walk_tensors(data, max_pickles, &mut records);
    finish(records, result)
}

fn finish(mut records: Records, result: Result<()>) -> Records {
    if let Err(e) = result {
        records.stopped = Some(e);
    }
    records
}

fn walk_storages(data: &[u8], max_pickles: usize, records: &mut Records) -> Result<()> {
    let count = count_pickle(data, records, max_pickles)?;
    for _ in 0..count {
        let args = next_pickle(data, records, max_pickles)?;
        let size = element_size(data, args.clone())?;
        let numel = read_le::<8>(data, args.end, "storage element count")?;
        let numel = u64::from_le_bytes(numel);
        let body = numel
            .checked_mul(size)
            .and_then(|n| usize::try_from(n).ok());
        let next = body
            .and_then(|n| args.end.checked_add(8)?.checked_add(n))
            .filter(|&end| end <= data.len())
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::LengthPastEnd,
                    args.end as u64,
                    format!(
                        "storage of {numel} elements of {size} bytes goes past the end of the \
                         storages member ({} bytes)",
                        data.len()
                    ),
                )
            })?;
        records.end = next;
    }
    // The storage views.
    next_pickle(data, records, max_pickles)?;
    Ok(())
}

fn walk_tensors(data: &[u8], max_pickles: usize, records: &mut Records) -> Result<()> {
    let count = count_pickle(data, records, max_pickles)?;
    for _ in 0..count {
        let args = next_pickle(data, records, max_pickles)?;
        let ndim = i32::from_le_bytes(read_le::<4>(data, args.end, "tensor ndim")?);
        // ndim, 4 unused bytes, sizes and strides (8 bytes each per dimension), the offset.
        let next = usize::try_from(ndim)
            .ok()
            .and_then(|n| n.checked_mul(16)?.checked_add(16)?.checked_add(args.end))
            .filter(|&end| end <= data.len())
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::LengthPastEnd,
                    args.end as u64,
                    format!(
                        "tensor record with ndim {ndim} goes past the end of the tensors \
                         member ({} bytes)",
                        data.len()
                    ),
                )
            })?;
        records.end = next;
    }
    Ok(())
}

/// The pickle at `records.end`: recorded (before anything else is read from it, so it is
/// analysed whatever it holds), and `records.end` moved past it.
pub(crate) fn next_pickle(
    data: &[u8],
    records: &mut Records,
    max_pickles: usize,
) -> Result<Range<usize>> {
    if records.pickles.len() >= max_pickles {
        return Err(Limit::Pickles.exceeded(
            records.end as u64,
            format_args!("more than {max_pickles} pickles in one member"),
        ));
    }
    let start = records.end;
    let end = pickle_end(data, start)?;
    records.pickles.push(start..end);
    records.end = end;
    Ok(start..end)
}

/// The first pickle, a count: how many records follow.
pub(crate) fn count_pickle(data: &[u8], records: &mut Records, max_pickles: usize) -> Result<u64> {
    let range = next_pickle(data, records, max_pickles)?;
    let mut value = None;
    for op in OpReader::new(data, range.start) {
        let op = op?;
        let v = match (op.opcode, op.arg) {
            (Opcode::PROTO | Opcode::FRAME, _) => continue,
            (Opcode::STOP, _) => break,
            (Opcode::BININT1 | Opcode::BININT2, Arg::UInt(v)) => Some(v),
            (Opcode::BININT, Arg::Int(v)) => u64::try_from(v).ok(),
            (Opcode::INT | Opcode::LONG, Arg::Line(text)) => std::str::from_utf8(text)
                .ok()
                .and_then(|t| t.trim_end_matches('L').parse::<u64>().ok()),
            (Opcode::LONG1, Arg::Bytes(b)) if b.len() <= 8 && b.last() < Some(&0x80) => {
                let mut le = [0u8; 8];
                le.get_mut(..b.len())
                    .map(|head| head.copy_from_slice(b))
                    .map(|()| u64::from_le_bytes(le))
            }
            _ => None,
        };
        if value.is_some() || v.is_none() {
            value = None;
            break;
        }
        value = v;
    }
    value.ok_or_else(|| {
        Error::new(
            ErrorKind::InvalidArgument,
            range.start as u64,
            "the first pickle is not a record count (a non-negative integer), as torch expects",
        )
    })
}

/// Where the pickle starting at `start` ends (just past its STOP).
fn pickle_end(data: &[u8], start: usize) -> Result<usize> {
    for op in OpReader::new(data, start) {
        let op = op?;
        if op.opcode == Opcode::STOP {
            return Ok(op.end);
        }
    }
    Err(Error::new(
        ErrorKind::Truncated,
        data.len() as u64,
        "pickle ended before STOP",
    ))
}

/// `N` bytes at `at`.
pub(crate) fn read_le<const N: usize>(data: &[u8], at: usize, what: &str) -> Result<[u8; N]> {
    at.checked_add(N)
        .and_then(|end| data.get(at..end))
        .and_then(|b| <[u8; N]>::try_from(b).ok())
        .ok_or_else(|| {
            Error::new(
                ErrorKind::Truncated,
                data.len() as u64,
                format!("{what}: {N} bytes expected at offset {at}"),
            )
        })
}

/// The element size of the storage type a `(key, location, storage_type)` pickle names
/// (a `torch.*Storage` global, by GLOBAL or by STACK_GLOBAL after its two strings).
fn element_size(data: &[u8], pickle: Range<usize>) -> Result<u64> {
    let mut strings: Vec<&[u8]> = Vec::new();
    let mut global: Option<(&[u8], &[u8])> = None;
    for op in OpReader::new(data, pickle.start) {
        let op = op?;
        match (op.opcode, op.arg) {
            (Opcode::STOP, _) => break,
            (Opcode::GLOBAL, Arg::Pair(module, name)) => {
                global = Some((module.as_bytes(), name.as_bytes()));
            }
            (Opcode::STACK_GLOBAL, _) => {
                if let [.., module, name] = strings.as_slice() {
                    global = Some((module, name));
                }
            }
            (_, Arg::Text(s) | Arg::Line(s)) => strings.push(s),
            _ => {}
        }
    }
    let size = global.and_then(|(module, name)| {
        let module = std::str::from_utf8(module).ok()?;
        let name = std::str::from_utf8(name).ok()?;
        (module == "torch" || module.starts_with("torch.")).then_some(())?;
        storage_element_size(name)
    });
    size.ok_or_else(|| {
        Error::new(
            ErrorKind::Unsupported,
            pickle.start as u64,
            "the storage record names no torch storage type known here: its size is \
             unknown, so what torch reads after it cannot be located",
        )
    })
}

/// Bytes per element of a torch storage class (`torch.FloatStorage`, `torch.cuda.HalfStorage`).
fn storage_element_size(name: &str) -> Option<u64> {
    Some(match name {
        "DoubleStorage" | "LongStorage" | "ComplexFloatStorage" => 8,
        "FloatStorage" | "IntStorage" | "QInt32Storage" => 4,
        "HalfStorage" | "BFloat16Storage" | "ShortStorage" => 2,
        "CharStorage" | "ByteStorage" | "BoolStorage" | "QUInt8Storage" | "QInt8Storage"
        | "QUInt4x2Storage" | "QUInt2x4Storage" => 1,
        "ComplexDoubleStorage" => 16,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `pickle.dumps(n, protocol=2)` for a small n.
    fn count(n: u8) -> Vec<u8> {
        vec![0x80, 2, b'K', n, b'.']
    }

    /// `pickle.dumps(("1", "cpu", torch.FloatStorage), protocol=2)`, shape-alike.
    fn storage_args(class: &str) -> Vec<u8> {
        let mut p = b"\x80\x02X\x01\x00\x00\x001X\x03\x00\x00\x00cpuctorch\n".to_vec();
        p.extend_from_slice(class.as_bytes());
        p.extend_from_slice(b"\n\x87.");
        p
    }

    #[test]
    fn storages_are_stepped_over_by_their_element_size() {
        let mut m = count(2);
        m.extend(storage_args("FloatStorage"));
        m.extend(3u64.to_le_bytes());
        m.extend([0xaa; 12]);
        m.extend(storage_args("HalfStorage"));
        m.extend(1u64.to_le_bytes());
        // Raw bytes that look like a pickle are not one: torch reads them as data.
        m.extend(b"N.");
        let views = m.len();
        m.extend(b"\x80\x02]q\x00.");
        let r = storage_records(&m, 100);
        assert!(r.stopped.is_none(), "{:?}", r.stopped);
        assert_eq!(r.pickles.len(), 4);
        assert_eq!(r.pickles.last(), Some(&(views..m.len())));
        assert_eq!(r.end, m.len());
    }

    #[test]
    fn an_unknown_storage_type_stops_the_walk_after_its_record() {
        let mut m = count(1);
        m.extend(storage_args("SecretStorage"));
        m.extend(0u64.to_le_bytes());
        let r = storage_records(&m, 100);
        assert_eq!(r.pickles.len(), 2, "the record itself is still analysed");
        assert!(r
            .stopped
            .unwrap()
            .message()
            .contains("no torch storage type"));
    }

    #[test]
    fn counts_and_lengths_from_the_input_are_checked() {
        // A huge count over a short member: stops at the end, no loop, no panic.
        let mut m = vec![0x80, 2, b'J', 0xff, 0xff, 0xff, 0x7f, b'.'];
        m.extend(storage_args("DoubleStorage"));
        m.extend(u64::MAX.to_le_bytes());
        let r = storage_records(&m, 100);
        assert_eq!(r.pickles.len(), 2);
        assert_eq!(r.stopped.unwrap().kind(), ErrorKind::LengthPastEnd);
        // A negative ndim in a tensor record.
        let mut t = count(1);
        t.extend(b"\x80\x02K\x00.");
        t.extend((-1i32).to_le_bytes());
        t.extend([0; 4]);
        let r = tensor_records(&t, 100);
        assert_eq!(r.pickles.len(), 2);
        assert!(r.stopped.is_some());
        // The pickle limit.
        let r = storage_records(&m, 1);
        assert_eq!(r.pickles.len(), 1);
        assert!(matches!(
            r.stopped.unwrap().kind(),
            ErrorKind::LimitExceeded(_)
        ));
        // A count that is not a count.
        let r = tensor_records(b"\x80\x02X\x01\x00\x00\x00a.", 100);
        assert_eq!(r.pickles.len(), 1);
        assert!(r.stopped.is_some());
    }

    #[test]
    fn tensor_records_step_over_their_metadata() {
        let mut t = count(2);
        for ndim in [2i32, 0] {
            t.extend(b"\x80\x02K\x00.");
            t.extend(ndim.to_le_bytes());
            t.extend([0; 4]);
            t.extend(vec![0x2e; 16 * ndim as usize + 8]);
        }
        let r = tensor_records(&t, 100);
        assert!(r.stopped.is_none(), "{:?}", r.stopped);
        assert_eq!(r.pickles.len(), 3);
        assert_eq!(r.end, t.len());
    }
}
