//! Where an array's elements are, and reading them in C order.
//!
//! Every array becomes a [`Layout`] over a byte buffer: an offset and a byte stride per
//! dimension. numpy pickles are C- or Fortran-contiguous; torch tensors carry their own
//! strides (views, transposes). All bounds are checked once, before anything is read.

use crate::lift::{ArrayInfo, ByteOrder, DType};

/// A strided view of elements in a buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Layout {
    /// Byte offset of element (0, …, 0).
    pub offset: usize,
    pub shape: Vec<u64>,
    /// Byte strides, one per dimension (non-negative).
    pub strides: Vec<u64>,
    pub itemsize: usize,
}

fn product(dims: &[u64]) -> Option<u64> {
    dims.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d))
}

impl Layout {
    /// A contiguous layout: C order, or Fortran order.
    pub(crate) fn contiguous(
        offset: usize,
        shape: &[u64],
        itemsize: usize,
        fortran: bool,
    ) -> Option<Layout> {
        let mut strides = vec![0u64; shape.len()];
        let mut step = itemsize as u64;
        let order: Vec<usize> = if fortran {
            (0..shape.len()).collect()
        } else {
            (0..shape.len()).rev().collect()
        };
        for i in order {
            strides[i] = step;
            step = step.checked_mul(shape[i].max(1))?;
        }
        Some(Layout {
            offset,
            shape: shape.to_vec(),
            strides,
            itemsize,
        })
    }

    /// Elements in the array.
    pub(crate) fn count(&self) -> Option<u64> {
        product(&self.shape)
    }

    /// Bytes of the array in C order.
    pub(crate) fn nbytes(&self) -> Option<u64> {
        self.count()?.checked_mul(self.itemsize as u64)
    }

    /// Checks that every element lies inside a buffer of `len` bytes.
    pub(crate) fn check(&self, len: usize) -> Result<(), String> {
        if self.count() == Some(0) {
            return Ok(());
        }
        let mut last = self.offset as u64;
        for (&d, &s) in self.shape.iter().zip(&self.strides) {
            last = (d - 1)
                .checked_mul(s)
                .and_then(|x| last.checked_add(x))
                .ok_or("array strides overflow")?;
        }
        let end = last
            .checked_add(self.itemsize as u64)
            .ok_or("array end overflows")?;
        if end > len as u64 {
            return Err(format!(
                "array data needs bytes up to {end}, but its buffer holds {len}"
            ));
        }
        Ok(())
    }

    /// Whether the elements are already in C order, back to back.
    pub(crate) fn is_c_contiguous(&self) -> bool {
        let mut step = self.itemsize as u64;
        for (&d, &s) in self.shape.iter().zip(&self.strides).rev() {
            if d > 1 && s != step {
                return false;
            }
            step = step.saturating_mul(d);
        }
        true
    }

    /// Whether the elements are in Fortran order, back to back.
    #[cfg(test)]
    pub fn is_f_contiguous(&self) -> bool {
        let mut step = self.itemsize as u64;
        for (&d, &s) in self.shape.iter().zip(&self.strides) {
            if d > 1 && s != step {
                return false;
            }
            step = step.saturating_mul(d);
        }
        true
    }

    /// Byte offsets of the elements in C order. Call [`Layout::check`] first.
    pub(crate) fn c_order_offsets(&self) -> COrder<'_> {
        COrder {
            layout: self,
            index: vec![0; self.shape.len()],
            next: self.offset as u64,
            remaining: self.count().unwrap_or(0),
        }
    }
}

/// Iterator over element offsets in C order (an odometer over the shape).
pub(crate) struct COrder<'l> {
    layout: &'l Layout,
    index: Vec<u64>,
    next: u64,
    remaining: u64,
}

impl Iterator for COrder<'_> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let current = self.next as usize;
        for dim in (0..self.index.len()).rev() {
            self.index[dim] += 1;
            self.next += self.layout.strides[dim];
            if self.index[dim] < self.layout.shape[dim] {
                break;
            }
            self.next -= self.layout.strides[dim] * self.layout.shape[dim];
            self.index[dim] = 0;
        }
        Some(current)
    }
}

/// What `np.save` would write as `fortran_order`: true only for data that is Fortran- but
/// not C-contiguous (numpy's `a.flags.f_contiguous and not a.flags.c_contiguous`).
pub(super) fn npy_fortran_order(info: &ArrayInfo) -> bool {
    info.fortran_order
        && !info.shape.contains(&0)
        && info.shape.iter().filter(|&&d| d > 1).count() > 1
}

/// How torch's bfloat16 (which numpy has no name for) is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Bfloat16As {
    /// Widened to float32: exact (every bfloat16 is a float32 with 16 zero low bits).
    #[default]
    F4,
    /// The raw 16-bit patterns as uint16 (`.view(np.uint16)`).
    U2,
}

/// What happens to each element on its way out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Transform {
    /// Written as stored.
    None,
    /// Byte-swapped in units of this many bytes (to native order, as the loader would).
    Swap(usize),
    /// bfloat16 widened to little-endian float32.
    Bf16(ByteOrder),
}

impl Transform {
    /// Appends the transformed element to `out`.
    pub(super) fn apply(self, element: &[u8], out: &mut Vec<u8>) {
        match self {
            Transform::None => out.extend_from_slice(element),
            Transform::Swap(unit) => {
                for part in element.chunks(unit.max(1)) {
                    out.extend(part.iter().rev());
                }
            }
            Transform::Bf16(order) => {
                let pair = [element[0], element.get(1).copied().unwrap_or(0)];
                out.extend_from_slice(&bfloat16_to_f32(pair, order));
            }
        }
    }
}

/// The dtype written for an array and the transform of its elements: the array a loader
/// returns (native byte order where the loader converts, see
/// [`crate::lift::ArrayKind::loads_as_native`]), with bfloat16 written as chosen.
pub(super) fn plan_write(info: &ArrayInfo, bf16: Bfloat16As) -> (DType, Transform) {
    let native = info.kind.loads_as_native();
    match &info.dtype {
        DType::BFloat16 { byteorder } => match bf16 {
            Bfloat16As::F4 => (
                DType::simple('f', 4, ByteOrder::Little),
                Transform::Bf16(*byteorder),
            ),
            Bfloat16As::U2 if native && *byteorder == ByteOrder::Big => {
                (DType::simple('u', 2, ByteOrder::Little), Transform::Swap(2))
            }
            Bfloat16As::U2 => (DType::simple('u', 2, *byteorder), Transform::None),
        },
        // numpy has no 8-bit floats: the raw bytes, as `.view(np.uint8)` (the index keeps
        // the source dtype).
        DType::Float8(_) => (
            DType::simple('u', 1, ByteOrder::NotApplicable),
            Transform::None,
        ),
        DType::Scalar {
            kind,
            itemsize,
            byteorder: ByteOrder::Big,
            ..
        } if native => {
            let unit = match kind {
                'c' => *itemsize as usize / 2,
                'U' => 4,
                'i' | 'u' | 'f' | 'M' | 'm' => *itemsize as usize,
                _ => return (info.dtype.clone(), Transform::None),
            };
            (
                info.dtype.with_byteorder(ByteOrder::Little),
                Transform::Swap(unit),
            )
        }
        other => (other.clone(), Transform::None),
    }
}

/// Widens one bfloat16 element (2 bytes, in `order`) to little-endian float32 bytes.
pub(super) fn bfloat16_to_f32(bytes: [u8; 2], order: ByteOrder) -> [u8; 4] {
    let bits = match order {
        ByteOrder::Big => u16::from_be_bytes(bytes),
        _ => u16::from_le_bytes(bytes),
    };
    (u32::from(bits) << 16).to_le_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_order_over_fortran_data() {
        // 2x3 Fortran: memory holds columns [a00 a10 a01 a11 a02 a12].
        let l = Layout::contiguous(0, &[2, 3], 1, true).unwrap();
        let order: Vec<usize> = l.c_order_offsets().collect();
        assert_eq!(order, [0, 2, 4, 1, 3, 5]);
        assert!(l.is_f_contiguous() && !l.is_c_contiguous());
    }

    #[test]
    fn torch_views_and_bounds() {
        // A transposed 3x4 float32 tensor viewed as 4x3: strides (1, 4) elements.
        let l = Layout {
            offset: 0,
            shape: vec![4, 3],
            strides: vec![4, 16],
            itemsize: 4,
        };
        assert!(l.check(48).is_ok());
        assert!(l.check(47).is_err());
        let order: Vec<usize> = l.c_order_offsets().take(4).collect();
        assert_eq!(order, [0, 16, 32, 4]);
        // A stride-0 broadcast over one element is in bounds and repeats it.
        let b = Layout {
            offset: 8,
            shape: vec![3],
            strides: vec![0],
            itemsize: 4,
        };
        assert!(b.check(12).is_ok());
        assert_eq!(b.c_order_offsets().collect::<Vec<_>>(), [8, 8, 8]);
    }

    #[test]
    fn empty_and_zero_d() {
        let e = Layout::contiguous(0, &[0, 3], 8, false).unwrap();
        assert_eq!(e.c_order_offsets().count(), 0);
        assert!(e.check(0).is_ok());
        let z = Layout::contiguous(5, &[], 8, false).unwrap();
        assert_eq!(z.c_order_offsets().collect::<Vec<_>>(), [5]);
    }

    #[test]
    fn bfloat16_widens_exactly() {
        // 1.5 in bfloat16 is 0x3fc0.
        assert_eq!(
            f32::from_le_bytes(bfloat16_to_f32([0xc0, 0x3f], ByteOrder::Little)),
            1.5
        );
    }
}
