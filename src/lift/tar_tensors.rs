//! The tensors of torch's legacy **tar** checkpoint (torch < 0.4; `legacy_load` in
//! torch/serialization.py), rebuilt as `torch.load` rebuilds them, without running a
//! pickle: [`tar_tensors`] reads the `storages` and `tensors` members into a table of
//! tensors by key, and [`Lifted::add_tar_tensors`] makes each persistent id of the `pickle`
//! member that names one of them an array of the stream.
//!
//! The layout ([`crate::container::torch_tar`] steps over it for the analysis):
//!
//! * `storages`: a pickle of the count; per storage a pickle of `(key, location,
//!   storage_type)`, an int64 element count and count × element-size bytes; then a pickle
//!   of the storage views, a list of `(key, root_key, offset, numel)` (slices of a storage,
//!   in elements).
//! * `tensors`: a pickle of the count; per tensor a pickle of `(key, storage_key,
//!   tensor_type)`, an int32 `ndim`, four unused bytes, `ndim` int64 sizes, `ndim` int64
//!   strides and an int64 storage offset, all little-endian.
//! * `pickle`: the object; its persistent ids are the keys (as text: `int(saved_id)`).
//!
//! Every record pickle must be plain data (ints, text, a global, tuples, a list): anything
//! else is refused. Every count, size, stride and offset from the members is checked with
//! checked arithmetic against what the members hold, and a tensor must lie inside its
//! storage (torch's `set_` refuses one that does not). Errors carry the member and the
//! offset in it; `torch.load` fails on any of them, so `extract` refuses the whole file.

#![warn(clippy::arithmetic_side_effects)]

use std::collections::HashMap;
use std::ops::Range;

use crate::container::torch_tar::{self, Records};
use crate::container::{in_member, StorageBytes, StorageMap, StorageRef};
use crate::error::{Error, ErrorKind, Result};
use crate::machine::{Graph, Node};
use crate::opcode::Opcode;
use crate::reader::{Arg, OpReader};

use super::{torch_storage_dtype, ArrayData, ArrayInfo, ArrayKind, DType, Lifted, MAX_DIMS};

/// A legacy tar checkpoint's storages and tensors, by key.
#[derive(Debug, Default)]
pub(crate) struct TarTensors {
    /// The storages (and storage views), by key as text; their bytes lie in the `storages`
    /// member.
    pub storages: StorageMap,
    /// The tensors, by key.
    pub tensors: HashMap<i64, ArrayInfo>,
}

/// Why the tensors cannot be rebuilt: the member (`storages` or `tensors`) and the error
/// (its message names the member).
#[derive(Debug)]
pub(crate) struct TarError {
    pub member: &'static str,
    pub error: Error,
}

/// A storage as the tensors see it: element type, elements, device.
struct StorageInfo {
    dtype: DType,
    numel: u64,
    location: String,
}

/// Where a member's bytes are.
pub(crate) struct Member<'a> {
    /// The member's bytes.
    pub bytes: &'a [u8],
    /// The offset of its first byte in the input file, when the member lies there as it
    /// is (an uncompressed tar at the top level); else storages are not read in place.
    pub in_input: Option<u64>,
}

/// Reads the `storages` and `tensors` members into the table of tensors torch rebuilds.
pub(crate) fn tar_tensors(
    storages: &Member<'_>,
    tensors: &[u8],
    max_pickles: usize,
) -> std::result::Result<TarTensors, TarError> {
    let in_member = |member: &'static str| {
        move |e| TarError {
            member,
            error: in_member(e, Some(member)),
        }
    };
    let mut table = TarTensors::default();
    let infos = read_storages(storages, max_pickles, &mut table.storages)
        .map_err(in_member(torch_tar::STORAGES))?;
    read_tensors(tensors, max_pickles, &infos, &mut table.tensors)
        .map_err(in_member(torch_tar::TENSORS))?;
    Ok(table)
}

fn read_storages(
    member: &Member<'_>,
    max_pickles: usize,
    map: &mut StorageMap,
) -> Result<HashMap<i64, StorageInfo>> {
    let data = member.bytes;
    let mut records = Records::default();
    let count = torch_tar::count_pickle(data, &mut records, max_pickles)?;
    let mut infos = HashMap::new();
    for _ in 0..count {
        let args = torch_tar::next_pickle(data, &mut records, max_pickles)?;
        let (key, storage, info) = read_storage(member, args.clone())?;
        // The storage's bytes end within the member (checked in `read_storage`).
        records.end =
            usize::try_from(storage.offset.saturating_add(storage.len)).unwrap_or(data.len());
        duplicate_key(
            map.insert(key.to_string(), storage).is_some(),
            key,
            args.start,
        )?;
        infos.insert(key, info);
    }
    let views = torch_tar::next_pickle(data, &mut records, max_pickles)?;
    read_views(data, views, map, &mut infos)?;
    Ok(infos)
}

/// One storage: its `(key, location, storage_type)` record pickle at `args`, then its
/// element count and bytes.
fn read_storage(member: &Member<'_>, args: Range<usize>) -> Result<(i64, StorageRef, StorageInfo)> {
    let data = member.bytes;
    let (key, location, class) = match record(data, args.clone())? {
        Value::Tuple(items) => match items.as_slice() {
            [Value::Int(k), Value::Text(l), Value::Global(m, n)] => {
                (*k, l.clone(), (m.clone(), n.clone()))
            }
            _ => return Err(not_a_record(args.start, "(key, location, storage type)")),
        },
        _ => return Err(not_a_record(args.start, "(key, location, storage type)")),
    };
    let dtype = (class.0 == "torch" || class.0 == "torch.cuda")
        .then(|| torch_storage_dtype(&class.1))
        .flatten()
        .ok_or_else(|| {
            Error::new(
                ErrorKind::Unsupported,
                args.start as u64,
                format!(
                    "storage {key}: unknown storage type {}.{}",
                    class.0, class.1
                ),
            )
        })?;
    let numel = u64::from_le_bytes(torch_tar::read_le::<8>(
        data,
        args.end,
        "storage element count",
    )?);
    let at = args.end.checked_add(8).ok_or_else(|| overflow(args.end))?;
    let len = numel
        .checked_mul(dtype.itemsize())
        .filter(|&n| n <= data.len().saturating_sub(at) as u64)
        .ok_or_else(|| {
            Error::new(
                ErrorKind::LengthPastEnd,
                args.end as u64,
                format!(
                    "storage {key}: {numel} elements of {} bytes go past the end of the \
                     member ({} bytes)",
                    dtype.itemsize(),
                    data.len()
                ),
            )
        })?;
    let bytes = match member.in_input {
        Some(base) => StorageBytes::Input(base.checked_add(at as u64).ok_or_else(|| overflow(at))?),
        None => StorageBytes::Missing(
            "the storages of a compressed or nested legacy tar checkpoint are not read \
             in place (torch.load reads only an uncompressed tar)"
                .into(),
        ),
    };
    let storage = StorageRef {
        member: Some(torch_tar::STORAGES.to_string()),
        offset: at as u64,
        len,
        bytes,
    };
    let info = StorageInfo {
        dtype,
        numel,
        location,
    };
    Ok((key, storage, info))
}

/// The storage views: slices of a storage read above, each a storage of its own.
fn read_views(
    data: &[u8],
    at: Range<usize>,
    map: &mut StorageMap,
    infos: &mut HashMap<i64, StorageInfo>,
) -> Result<()> {
    let Value::List(views) = record(data, at.clone())? else {
        return Err(not_a_record(at.start, "a list of storage views"));
    };
    let bad = |what: String| Error::new(ErrorKind::InvalidArgument, at.start as u64, what);
    for view in views {
        let Value::Tuple(items) = view else {
            return Err(not_a_record(
                at.start,
                "a list of (key, root, offset, numel)",
            ));
        };
        let [Value::Int(key), Value::Int(root), Value::Int(offset), Value::Int(numel)] =
            items.as_slice()
        else {
            return Err(not_a_record(
                at.start,
                "a list of (key, root, offset, numel)",
            ));
        };
        let info = infos.get(root).ok_or_else(|| {
            bad(format!(
                "storage view {key} names storage {root}, not in the member"
            ))
        })?;
        let (root_ref, size) = (map.get(&root.to_string()), info.dtype.itemsize());
        let within = u64::try_from(*offset)
            .ok()
            .zip(u64::try_from(*numel).ok())
            .filter(|&(o, n)| o.checked_add(n).is_some_and(|end| end <= info.numel));
        let (Some((offset, numel)), Some(root_ref)) = (within, root_ref) else {
            return Err(bad(format!(
                "storage view {key}: offset {offset} and {numel} elements lie outside storage {root} \
                 ({} elements)",
                info.numel
            )));
        };
        // offset + numel <= the root's elements, whose bytes fit the member.
        let skip = offset.saturating_mul(size);
        let bytes = match &root_ref.bytes {
            StorageBytes::Input(o) => StorageBytes::Input(o.saturating_add(skip)),
            other => other.clone(),
        };
        let storage = StorageRef {
            member: root_ref.member.clone(),
            offset: root_ref.offset.saturating_add(skip),
            len: numel.saturating_mul(size),
            bytes,
        };
        let view = StorageInfo {
            dtype: info.dtype.clone(),
            numel,
            location: info.location.clone(),
        };
        duplicate_key(
            map.insert(key.to_string(), storage).is_some(),
            *key,
            at.start,
        )?;
        infos.insert(*key, view);
    }
    Ok(())
}

fn read_tensors(
    data: &[u8],
    max_pickles: usize,
    storages: &HashMap<i64, StorageInfo>,
    out: &mut HashMap<i64, ArrayInfo>,
) -> Result<()> {
    let mut records = Records::default();
    let count = torch_tar::count_pickle(data, &mut records, max_pickles)?;
    for _ in 0..count {
        let args = torch_tar::next_pickle(data, &mut records, max_pickles)?;
        let (key, storage_key) = match record(data, args.clone())? {
            Value::Tuple(items) => match items.as_slice() {
                [Value::Int(k), Value::Int(s), Value::Global(..)] => (*k, *s),
                _ => return Err(not_a_record(args.start, "(key, storage key, tensor type)")),
            },
            _ => return Err(not_a_record(args.start, "(key, storage key, tensor type)")),
        };
        let storage = storages.get(&storage_key).ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidArgument,
                args.start as u64,
                format!("tensor {key} names storage {storage_key}, which the storages member does not hold"),
            )
        })?;
        let (info, end) = tensor_metadata(data, args.end, key, storage_key, storage)?;
        records.end = end;
        if out.insert(key, info).is_some() {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                args.start as u64,
                format!("tensor key {key} appears twice"),
            ));
        }
    }
    Ok(())
}

/// The metadata after a tensor record (at `at`): the tensor, and where the next record
/// starts.
fn tensor_metadata(
    data: &[u8],
    at: usize,
    key: i64,
    storage_key: i64,
    storage: &StorageInfo,
) -> Result<(ArrayInfo, usize)> {
    let ndim = i32::from_le_bytes(torch_tar::read_le::<4>(data, at, "tensor ndim")?);
    let dims = usize::try_from(ndim)
        .ok()
        .filter(|&n| n <= MAX_DIMS)
        .ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidArgument,
                at as u64,
                format!("tensor {key}: ndim {ndim} is not between 0 and {MAX_DIMS}"),
            )
        })?;
    // 8 bytes of ndim, then sizes, strides (8 bytes each) and the offset: dims <= 64.
    let mut pos = at.checked_add(8).ok_or_else(|| overflow(at))?;
    let mut ints = Vec::with_capacity(dims.saturating_mul(2).saturating_add(1));
    for _ in 0..dims.saturating_mul(2).saturating_add(1) {
        let v = i64::from_le_bytes(torch_tar::read_le::<8>(
            data,
            pos,
            "tensor sizes and strides",
        )?);
        let v = u64::try_from(v).map_err(|_| {
            Error::new(
                ErrorKind::InvalidArgument,
                pos as u64,
                format!("tensor {key}: negative size, stride or offset {v}"),
            )
        })?;
        ints.push(v);
        pos = pos.checked_add(8).ok_or_else(|| overflow(pos))?;
    }
    let (shape, rest) = ints.split_at(dims);
    let (strides, offset) = rest.split_at(dims);
    let offset = offset.first().copied().unwrap_or(0);
    // The last element's index in the storage; an empty tensor reads nothing.
    let last = if shape.contains(&0) {
        Some(0)
    } else {
        shape.iter().zip(strides).try_fold(offset, |acc, (&n, &s)| {
            n.checked_sub(1)?.checked_mul(s)?.checked_add(acc)
        })
    };
    let inside = shape.contains(&0) || last.is_some_and(|l| l < storage.numel);
    if !inside {
        return Err(Error::new(
            ErrorKind::LengthPastEnd,
            at as u64,
            format!(
                "tensor {key} (shape {shape:?}, strides {strides:?}, offset {offset}) reads past \
                 the end of storage {storage_key} ({} elements)",
                storage.numel
            ),
        ));
    }
    let info = ArrayInfo {
        kind: ArrayKind::Tensor,
        dtype: storage.dtype.clone(),
        shape: shape.to_vec(),
        fortran_order: false,
        data: ArrayData::Torch {
            key: storage_key.to_string(),
            location: storage.location.clone(),
            storage_offset: offset,
            // Each is at most i64::MAX: read as i64 and found non-negative.
            stride: strides.iter().map(|&s| s as i64).collect(),
            storage_numel: Some(storage.numel),
        },
    };
    Ok((info, pos))
}

impl Lifted {
    /// Makes each persistent id of a legacy tar's `pickle` member that names a tensor of
    /// `table` (`persistent_load` returns `deserialized_objects[int(saved_id)]`) an array.
    pub(crate) fn add_tar_tensors(&mut self, graph: &Graph<'_>, table: &TarTensors) {
        let mut added = false;
        for (id, node) in graph.references() {
            let Node::PersistentId { pid, .. } = node else {
                continue;
            };
            let key = match graph.node(pid) {
                Node::Int(v) => Some(v),
                Node::Str(s) => python_int(s),
                Node::Bytes(b, _) => std::str::from_utf8(b).ok().and_then(python_int),
                _ => None,
            };
            if let Some(info) = key.and_then(|k| table.tensors.get(&k)) {
                self.arrays.push((id, Ok(info.clone())));
                added = true;
            }
        }
        if added {
            self.arrays.sort_by_key(|(id, _)| *id);
        }
    }
}

/// `int(text)` for the plain spellings a key has: optional sign, ASCII digits, whitespace
/// around.
fn python_int(text: &str) -> Option<i64> {
    let t = text.trim();
    let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| t.parse().ok())
        .flatten()
}

/// A record pickle's value: only what torch writes in these records.
#[derive(Debug)]
enum Value {
    Int(i64),
    Text(String),
    Global(String, String),
    Tuple(Vec<Value>),
    List(Vec<Value>),
    Mark,
}

/// The value of the pickle in `at`, read as plain data (see [`Value`]).
fn record(data: &[u8], at: Range<usize>) -> Result<Value> {
    let mut stack: Vec<Value> = Vec::new();
    let bounded = data.get(..at.end).unwrap_or(data);
    for op in OpReader::new(bounded, at.start) {
        let op = op?;
        let unexpected = || {
            Error::new(
                ErrorKind::Unsupported,
                op.offset as u64,
                format!(
                    "opcode {:?} in a record pickle, which holds only ints, text, a global, \
                     tuples and lists as torch writes them",
                    op.opcode
                ),
            )
        };
        if op.opcode == Opcode::STOP {
            return match (stack.pop(), stack.is_empty()) {
                (Some(v), true) if !matches!(v, Value::Mark) => Ok(v),
                _ => Err(unexpected()),
            };
        }
        step(&mut stack, op.opcode, op.arg).ok_or_else(unexpected)?;
    }
    Err(Error::new(
        ErrorKind::Truncated,
        at.end as u64,
        "record pickle ended before STOP",
    ))
}

/// One opcode of a record pickle on `stack`; `None` for anything a record does not hold.
fn step(stack: &mut Vec<Value>, opcode: Opcode, arg: Arg<'_>) -> Option<()> {
    let value = match (opcode, arg) {
        (Opcode::PROTO | Opcode::FRAME | Opcode::MEMOIZE, _)
        | (Opcode::PUT | Opcode::BINPUT | Opcode::LONG_BINPUT, _) => return Some(()),
        (Opcode::BININT1 | Opcode::BININT2, Arg::UInt(v)) => Value::Int(i64::try_from(v).ok()?),
        (Opcode::BININT, Arg::Int(v)) => Value::Int(i64::from(v)),
        (Opcode::LONG1, Arg::Bytes(b)) if b.len() <= 8 => Value::Int(le_signed(b)),
        (Opcode::INT | Opcode::LONG, Arg::Line(line)) => Value::Int(python_int(
            std::str::from_utf8(line).ok()?.trim_end_matches('L'),
        )?),
        (Opcode::BINUNICODE | Opcode::SHORT_BINUNICODE | Opcode::BINUNICODE8, Arg::Text(t)) => {
            Value::Text(String::from_utf8(t.to_vec()).ok()?)
        }
        (Opcode::GLOBAL, Arg::Pair(m, n)) => Value::Global(m.to_string(), n.to_string()),
        (Opcode::STACK_GLOBAL, _) => match (stack.pop()?, stack.pop()?) {
            (Value::Text(n), Value::Text(m)) => Value::Global(m, n),
            _ => return None,
        },
        (Opcode::MARK, _) => Value::Mark,
        (Opcode::EMPTY_TUPLE, _) => Value::Tuple(Vec::new()),
        (Opcode::EMPTY_LIST, _) => Value::List(Vec::new()),
        (Opcode::TUPLE1 | Opcode::TUPLE2 | Opcode::TUPLE3, _) => {
            let n = match opcode {
                Opcode::TUPLE1 => 1,
                Opcode::TUPLE2 => 2,
                _ => 3,
            };
            let items = stack.split_off(stack.len().checked_sub(n)?);
            if items.iter().any(|v| matches!(v, Value::Mark)) {
                return None;
            }
            Value::Tuple(items)
        }
        (Opcode::TUPLE, _) => Value::Tuple(pop_to_mark(stack)?),
        (Opcode::LIST, _) => Value::List(pop_to_mark(stack)?),
        (Opcode::APPEND, _) => {
            let item = stack.pop().filter(|v| !matches!(v, Value::Mark))?;
            match stack.last_mut()? {
                Value::List(list) => list.push(item),
                _ => return None,
            }
            return Some(());
        }
        (Opcode::APPENDS, _) => {
            let items = pop_to_mark(stack)?;
            match stack.last_mut()? {
                Value::List(list) => list.extend(items),
                _ => return None,
            }
            return Some(());
        }
        _ => return None,
    };
    stack.push(value);
    Some(())
}

/// The items above the topmost mark (the mark removed), or `None` without one.
fn pop_to_mark(stack: &mut Vec<Value>) -> Option<Vec<Value>> {
    let mark = stack.iter().rposition(|v| matches!(v, Value::Mark))?;
    let items = stack.split_off(mark.checked_add(1)?);
    stack.pop();
    Some(items)
}

/// A LONG1 payload of at most 8 bytes: two's complement, little-endian.
fn le_signed(bytes: &[u8]) -> i64 {
    let fill = if bytes.last().is_some_and(|&b| b >= 0x80) {
        0xff
    } else {
        0
    };
    let mut le = [fill; 8];
    for (slot, &b) in le.iter_mut().zip(bytes) {
        *slot = b;
    }
    i64::from_le_bytes(le)
}

fn not_a_record(at: usize, what: &str) -> Error {
    Error::new(
        ErrorKind::InvalidArgument,
        at as u64,
        format!("the record pickle is not {what}, as torch writes it"),
    )
}

fn duplicate_key(duplicate: bool, key: i64, at: usize) -> Result<()> {
    if duplicate {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            at as u64,
            format!("storage key {key} appears twice"),
        ));
    }
    Ok(())
}

fn overflow(at: usize) -> Error {
    Error::new(ErrorKind::LengthPastEnd, at as u64, "offset overflows")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn whole(p: &[u8]) -> Result<Value> {
        record(p, 0..p.len())
    }

    #[test]
    fn records_are_read_as_plain_data() {
        // pickle.dumps([(2500, 2001, 2, 3)], protocol=2)
        let views = b"\x80\x02]q\x00(M\xc4\tM\xd1\x07K\x02K\x03tq\x01a.";
        let Ok(Value::List(items)) = whole(views) else {
            panic!("{:?}", whole(views))
        };
        assert!(matches!(
            items.as_slice(),
            [Value::Tuple(t)] if matches!(t.as_slice(),
                [Value::Int(2500), Value::Int(2001), Value::Int(2), Value::Int(3)])
        ));
        // (-2, "cpu", torch.HalfStorage) with LONG1 and STACK_GLOBAL (protocol 4).
        let p = b"\x80\x04\x8a\x01\xfe\x8c\x03cpu\x8c\x05torch\x8c\x0bHalfStorage\x93\x87.";
        let Ok(Value::Tuple(items)) = whole(p) else {
            panic!("{:?}", whole(p))
        };
        assert!(matches!(items.as_slice(),
            [Value::Int(-2), Value::Text(l), Value::Global(m, n)]
                if l == "cpu" && m == "torch" && n == "HalfStorage"));
        assert_eq!(python_int(" +12 "), Some(12));
        assert_eq!(python_int("1_0"), None);
        assert_eq!(python_int("-"), None);
    }

    #[test]
    fn anything_but_plain_data_is_refused_at_its_offset() {
        // A REDUCE: a record that calls something.
        let call = b"\x80\x02cposix\nsystem\nX\x01\x00\x00\x00a\x85R.";
        let e = whole(call).unwrap_err();
        assert_eq!((e.kind(), e.offset()), (ErrorKind::Unsupported, 23));
        // A memo fetch, a mark left open, an APPEND to a tuple, no STOP.
        for bad in [
            &b"\x80\x02K\x01q\x00h\x00\x86."[..],
            b"\x80\x02(K\x01.",
            b"\x80\x02)K\x01a.",
            b"\x80\x02K\x01",
        ] {
            assert!(whole(bad).is_err(), "{bad:?}");
        }
    }
}
