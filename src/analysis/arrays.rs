//! Array payloads: where each array's bytes are (in the stream, a zip member, a torch
//! storage), how many there are, and why `extract` cannot write one when it cannot. Plain
//! `.npy` files and npz members are read here too.

#![warn(clippy::arithmetic_side_effects)]

use crate::container::{NpyPart, StorageBytes, StorageMap};
use crate::error::Result;
use crate::inspect::Visitor;
use crate::lift::{self, dtype::from_npy_descr, ArrayData, ArrayInfo, ByteOrder, DType};
use crate::pytext;
use crate::report::{ArrayReport, Detected};
use crate::rules::Rule;

use super::Analysis;

impl Analysis<'_> {
    /// A `.npy` file or npz member: a plain array, or an object array whose pickle follows
    /// the header (numpy pickles object arrays), analysed as a stream.
    pub(crate) fn npy(&mut self, part: NpyPart<'_>, visitor: &mut dyn Visitor) -> Result<()> {
        let dtype = from_npy_descr(&part.header.descr).filter(|d| !d.has_object());
        let Some(dtype) = dtype else {
            return self.stream(part.object_stream(), visitor);
        };
        let data_offset = part.header.data_offset;
        let info = ArrayInfo {
            kind: lift::ArrayKind::Npy,
            dtype,
            shape: part.header.shape.clone(),
            fortran_order: part.header.fortran_order,
            data: ArrayData::Stream {
                offset: data_offset,
                len: part.bytes.len().saturating_sub(data_offset) as u64,
            },
        };
        let report = array_report(&part.root_path, part.member.as_deref(), &info, None, false);
        visitor.plain_array(&report, &part.bytes)?;
        self.report.arrays.push(report);
        Ok(())
    }
}

/// An `out-of-band-buffer` finding for each array whose data protocol 5 kept outside the
/// file.
pub(crate) fn out_of_band_findings(arrays: &[ArrayReport], member: Option<&str>) -> Vec<Detected> {
    arrays
        .iter()
        .filter(|a| matches!(a.info.data, ArrayData::OutOfBand { .. }))
        .map(|a| {
            let message = format!(
                "array {} ({}) was written out of band: its data is not in the file",
                a.path,
                shape_text(&a.shape)
            );
            Detected::new(Rule::OutOfBand, message)
                .path(Some(&a.path))
                .member(member)
        })
        .collect()
}

/// The report of an array found at `path`: its bytes located through `storages` for torch
/// tensors, big-endian when the torch archive says so.
pub(crate) fn array_report(
    path: &str,
    member: Option<&str>,
    info: &ArrayInfo,
    storages: Option<&StorageMap>,
    big_endian: bool,
) -> ArrayReport {
    let mut info = info.clone();
    if big_endian {
        info.dtype = info.dtype.with_byteorder(ByteOrder::Big);
    }
    let nbytes = (!info.dtype.has_object()).then(|| info.nbytes()).flatten();
    let mut member = member.map(str::to_string);
    let mut unavailable = None;
    let offset = match &info.data {
        ArrayData::Stream { offset, len } => {
            unavailable = short_buffer(*len, nbytes, &info.dtype);
            Some(*offset as u64)
        }
        // Decoded from text, or empty: no raw bytes to point at.
        ArrayData::Decoded(_) | ArrayData::Latin1(_) | ArrayData::Empty => None,
        ArrayData::OutOfBand { .. } => {
            unavailable = Some("out-of-band buffer (pickle protocol 5) not in the file".into());
            None
        }
        ArrayData::Objects(_) => {
            unavailable = Some("object array: its elements are Python objects".into());
            None
        }
        ArrayData::Torch {
            key,
            storage_offset,
            ..
        } => match storages.and_then(|s| s.get(key)) {
            Some(storage) => {
                member = storage.member.clone();
                if let StorageBytes::Missing(reason) = &storage.bytes {
                    unavailable = Some(reason.clone());
                }
                // Both factors come from the input: an offset past 2**64 bytes lies
                // outside any file.
                let start = storage_offset
                    .checked_mul(info.dtype.itemsize())
                    .and_then(|o| o.checked_add(storage.offset));
                if start.is_none() {
                    unavailable = Some(format!(
                        "storage offset {storage_offset} of storage {key:?} lies past any file"
                    ));
                }
                start
            }
            None => {
                unavailable = Some(format!("storage {key:?} is not in the file"));
                None
            }
        },
        ArrayData::Unavailable(reason) => {
            unavailable = Some(reason.clone());
            None
        }
    };
    ArrayReport {
        path: path.to_string(),
        member,
        dtype: info.dtype.clone(),
        shape: info.shape.clone(),
        fortran_order: info.fortran_order,
        nbytes,
        offset,
        info,
        unavailable,
        node: None,
    }
}

/// Why a buffer of `len` bytes cannot hold the array, if it cannot.
fn short_buffer(len: u64, nbytes: Option<u64>, dtype: &DType) -> Option<String> {
    if Some(len) == nbytes || dtype.has_object() || len >= nbytes.unwrap_or(u64::MAX) {
        return None;
    }
    let need = nbytes.map_or("more than 2**64".to_string(), |n| n.to_string());
    Some(format!(
        "buffer holds {len} bytes, dtype and shape need {need}"
    ))
}

/// The report of an array whose recognised construction could not be read.
pub(crate) fn unreadable_array(path: &str, member: Option<&str>, reason: &str) -> ArrayReport {
    let nothing = DType::simple('V', 0, ByteOrder::NotApplicable);
    ArrayReport {
        path: path.to_string(),
        member: member.map(str::to_string),
        dtype: nothing.clone(),
        shape: Vec::new(),
        fortran_order: false,
        nbytes: None,
        offset: None,
        info: ArrayInfo {
            kind: lift::ArrayKind::Ndarray,
            dtype: nothing,
            shape: Vec::new(),
            fortran_order: false,
            data: ArrayData::Unavailable(reason.to_string()),
        },
        unavailable: Some(reason.to_string()),
        node: None,
    }
}

/// `(3, 4)`, `()`, `(5,)`: a shape as Python prints it.
pub(crate) fn shape_text(shape: &[u64]) -> String {
    let mut out = String::new();
    pytext::repr_int_tuple(shape, &mut out);
    out
}
