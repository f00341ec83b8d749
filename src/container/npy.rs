//! The `.npy` header (numpy's `numpy/lib/format.py`): reading it safely, and writing it
//! byte for byte as `numpy.save` does.
//!
//! Layout: the magic `\x93NUMPY`, a major and a minor version byte, the header length
//! (little-endian `u16` for format 1.0, `u32` for 2.0 and 3.0), then the header: `repr()` of
//! a dict with the keys `descr`, `fortran_order` and `shape`, padded with spaces and ended by
//! `\n` so that the array data starts on a 64-byte boundary. Formats 1.0 and 2.0 encode the
//! header as latin-1, 3.0 as UTF-8. An object-dtype array is followed by a pickle.

use super::pyliteral::{self, Encoding, Lit};
use crate::error::{Error, ErrorKind, Result};
use crate::pytext;

/// The first six bytes of every `.npy` file.
pub const NPY_MAGIC: &[u8] = b"\x93NUMPY";

/// How deeply the header's literals may nest (a structured dtype nests two levels per
/// level of fields). numpy's own limit is Python's parser's (about 200 brackets).
pub const MAX_NPY_HEADER_DEPTH: usize = 64;

/// numpy's `ARRAY_ALIGN`: the header is padded so the data starts at a multiple of this.
const ARRAY_ALIGN: usize = 64;
/// numpy's `GROWTH_AXIS_MAX_DIGITS`: spare spaces left after the dict so the header can be
/// rewritten in place when the array grows along its first (C) or last (Fortran) axis.
const GROWTH_AXIS_MAX_DIGITS: usize = 21;

/// The header of a `.npy` file: format versions 1.0, 2.0 and 3.0.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NpyHeader {
    /// Format version (major, minor).
    pub version: (u8, u8),
    /// The dtype description as written.
    pub descr: Descr,
    /// Whether the data is in Fortran (column-major) order.
    pub fortran_order: bool,
    /// The array's shape; empty for a 0-d array.
    pub shape: Vec<u64>,
    /// Where the array bytes (or, for an object dtype, the pickle) start.
    pub data_offset: usize,
}

impl NpyHeader {
    /// Number of elements (the product of the shape), unless it overflows `u64`.
    pub fn count(&self) -> Option<u64> {
        self.shape.iter().try_fold(1u64, |n, &d| n.checked_mul(d))
    }

    /// Bytes of array data, for dtypes whose item size [`descr_itemsize`] knows.
    pub fn nbytes(&self) -> Option<u64> {
        self.count()?.checked_mul(descr_itemsize(&self.descr)?)
    }
}

/// `descr` as written: a type string like `"<f8"`, or the list form of a structured dtype.
/// Also the typed form of a lifted dtype's descr ([`crate::lift::DType::descr`]), which the
/// JSON outputs print with [`Descr::to_json`] and `extract` writes in `.npy` headers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Descr {
    /// A type string (`dtype.str`): byte order, kind, size, e.g. `<f8`, `|b1`, `<M8[ns]`, `|O`.
    Str(String),
    /// A structured dtype (`dtype.descr`), padding entries (`('', '|V3')`) included.
    Fields(Vec<DescrField>),
    /// A subarray `(base, shape)` where numpy's grammar allows a descr but a field's own
    /// shape does not hold it: at the top level, or as the base of a field's subarray. numpy
    /// never writes one (it folds nested shapes), and [`parse_npy_header`] refuses it; a
    /// dtype rebuilt from a pickle's `numpy.dtype` state can still be one.
    SubArray {
        /// The type of each element of the subarray.
        base: Box<Descr>,
        /// The subarray's fixed shape.
        shape: Vec<u64>,
    },
}

/// One entry of a structured dtype's `descr` list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DescrField {
    /// The field name (`''` for padding).
    pub name: String,
    /// The field's title, when the entry's name is a `(title, name)` pair.
    pub title: Option<String>,
    /// The field's dtype.
    pub descr: Descr,
    /// Subarray shape; empty when the field is not a subarray.
    pub shape: Vec<u64>,
}

impl Descr {
    /// Whether the dtype holds Python objects (kind `O`), in which case `numpy.save` wrote a
    /// pickle after the header instead of raw bytes.
    pub fn has_object(&self) -> bool {
        match self {
            Descr::Str(s) => s.trim_start_matches(['<', '>', '|', '=']).starts_with('O'),
            Descr::Fields(fields) => fields.iter().any(|f| f.descr.has_object()),
            Descr::SubArray { base, .. } => base.has_object(),
        }
    }

    /// The JSON form used in output and in the fixtures' sidecars: the type string, or the
    /// `descr` list as nested lists (`[["a", "<i4"], ["b", "<f8", [2]]]`, a titled name as
    /// `[title, name]`); a [`Descr::SubArray`] as `[base, shape]`.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match self {
            Descr::Str(s) => Value::String(s.clone()),
            Descr::Fields(fields) => Value::Array(
                fields
                    .iter()
                    .map(|f| {
                        let name = match &f.title {
                            Some(title) => Value::Array(vec![
                                Value::String(title.clone()),
                                Value::String(f.name.clone()),
                            ]),
                            None => Value::String(f.name.clone()),
                        };
                        let mut entry = vec![name, f.descr.to_json()];
                        if !f.shape.is_empty() {
                            entry.push(Value::Array(
                                f.shape.iter().map(|&d| Value::from(d)).collect(),
                            ));
                        }
                        Value::Array(entry)
                    })
                    .collect(),
            ),
            Descr::SubArray { base, shape } => Value::Array(vec![
                base.to_json(),
                Value::Array(shape.iter().map(|&d| Value::from(d)).collect()),
            ]),
        }
    }
}

/// Item size in bytes of a dtype description: simple type strings (`<f8`, `|S5`, `<U3`,
/// `<M8[ns]`, `|O`, `|V16` …) and structured dtypes built from them (the sum of the
/// fields, padding entries included, times their subarray sizes). `None` when unknown.
pub fn descr_itemsize(descr: &Descr) -> Option<u64> {
    match descr {
        Descr::Str(s) => type_string_itemsize(s),
        Descr::Fields(fields) => fields.iter().try_fold(0u64, |total, f| {
            let count = f.shape.iter().try_fold(1u64, |n, &d| n.checked_mul(d))?;
            total.checked_add(descr_itemsize(&f.descr)?.checked_mul(count)?)
        }),
        Descr::SubArray { base, shape } => shape
            .iter()
            .try_fold(descr_itemsize(base)?, |size, &d| size.checked_mul(d)),
    }
}

fn type_string_itemsize(s: &str) -> Option<u64> {
    let s = s.strip_prefix(['<', '>', '|', '=']).unwrap_or(s);
    let mut chars = s.chars();
    let kind = chars.next()?;
    let rest = chars.as_str();
    // Datetime units: `M8[ns]`, `m8[s]`, `M8[10us]`.
    let digits = match (kind, rest.find('[')) {
        ('M' | 'm', Some(i)) if rest.ends_with(']') => &rest[..i],
        _ => rest,
    };
    if kind == 'O' && digits.is_empty() {
        // Object arrays store pointers; numpy writes `|O` (older files `|O8`).
        return Some(8);
    }
    if kind == '?' && digits.is_empty() {
        return Some(1);
    }
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    match kind {
        'b' | 'i' | 'u' | 'f' | 'c' | 'S' | 'a' | 'V' | 'M' | 'm' | 'O' => Some(n),
        'U' => n.checked_mul(4),
        _ => None,
    }
}

/// Parses the header of a `.npy` file (or `.npz` member) held in `bytes`.
///
/// Checks the magic, the version (1.0, 2.0 or 3.0), that the header lies inside `bytes`,
/// its encoding (latin-1 for 1.0/2.0, UTF-8 for 3.0), that it is a dict with exactly the
/// keys numpy requires, a bool `fortran_order`, and a tuple of non-negative ints `shape`.
/// Whether the data fits after `data_offset` is the caller's check (it knows the item size;
/// see [`descr_itemsize`]).
pub fn parse_npy_header(bytes: &[u8]) -> Result<NpyHeader> {
    if !bytes.starts_with(NPY_MAGIC) {
        let shown = bytes.len().min(NPY_MAGIC.len());
        if NPY_MAGIC.starts_with(bytes) {
            return Err(Error::new(
                ErrorKind::Truncated,
                bytes.len() as u64,
                "npy file ends inside the magic string",
            ));
        }
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            0,
            format!(
                "not an npy file: expected the magic b'\\x93NUMPY', found {:?}",
                String::from_utf8_lossy(&bytes[..shown])
            ),
        ));
    }
    let (major, minor) = match bytes.get(6..8) {
        Some(&[major, minor]) => (major, minor),
        _ => {
            return Err(Error::new(
                ErrorKind::Truncated,
                bytes.len() as u64,
                "npy file ends before the format version",
            ))
        }
    };
    let (len_size, encoding) = match (major, minor) {
        (1, 0) => (2, Encoding::Latin1),
        (2, 0) => (4, Encoding::Latin1),
        (3, 0) => (4, Encoding::Utf8),
        _ => {
            return Err(Error::new(
                ErrorKind::Unsupported,
                6,
                format!("npy format version {major}.{minor} is not supported (numpy writes 1.0, 2.0 and 3.0)"),
            ))
        }
    };
    let header_start = 8 + len_size;
    let header_len = match bytes.get(8..header_start) {
        Some(&[a, b]) => u64::from(u16::from_le_bytes([a, b])),
        Some(&[a, b, c, d]) => u64::from(u32::from_le_bytes([a, b, c, d])),
        _ => {
            return Err(Error::new(
                ErrorKind::Truncated,
                bytes.len() as u64,
                "npy file ends inside the header length",
            ))
        }
    };
    let available = (bytes.len() - header_start) as u64;
    if header_len > available {
        return Err(Error::new(
            ErrorKind::LengthPastEnd,
            8,
            format!(
                "npy header length {header_len} goes past the end of the input ({available} bytes follow)"
            ),
        ));
    }
    let header_end = header_start + header_len as usize;
    let text = &bytes[header_start..header_end];
    let lit = pyliteral::parse(
        text,
        header_start as u64,
        encoding,
        major <= 2,
        MAX_NPY_HEADER_DEPTH,
    )?;
    let at = header_start as u64;
    let Lit::Dict(entries) = lit else {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            at,
            format!("npy header is a {}, not a dict", lit.type_name()),
        ));
    };
    let mut descr = None;
    let mut fortran_order = None;
    let mut shape = None;
    let mut keys = Vec::new();
    // Python's dict keeps the last value of a repeated key; so do we.
    for (key, value) in entries {
        let Lit::Str(key) = key else {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                at,
                format!(
                    "npy header has a {} key; numpy expects str keys",
                    key.type_name()
                ),
            ));
        };
        match key.as_str() {
            "descr" => descr = Some(value),
            "fortran_order" => fortran_order = Some(value),
            "shape" => shape = Some(value),
            _ => {}
        }
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    let (Some(descr), Some(fortran_order), Some(shape), 3) =
        (descr, fortran_order, shape, keys.len())
    else {
        keys.sort();
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            at,
            format!(
                "npy header must have exactly the keys 'descr', 'fortran_order' and 'shape', found {keys:?}"
            ),
        ));
    };
    let Lit::Bool(fortran_order) = fortran_order else {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            at,
            format!(
                "npy header: fortran_order must be True or False, found a {}",
                fortran_order.type_name()
            ),
        ));
    };
    let mut shape = match shape {
        Lit::Tuple(items) => dims(&items, at, "shape")?,
        other => {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                at,
                format!(
                    "npy header: shape must be a tuple of ints, found a {}",
                    other.type_name()
                ),
            ))
        }
    };
    // A `(base, subshape)` descr: numpy's `descr_to_dtype` makes `dtype((base, subshape))`,
    // and an array of a subarray dtype is an array of `base` whose shape ends with the
    // subshape (`('|O', (1,))`: an object array, so a pickle follows the header).
    let descr = match descr {
        Lit::Tuple(items) if items.len() == 2 => {
            let mut items = items.into_iter();
            let (Some(base), Some(sub)) = (items.next(), items.next()) else {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    at,
                    "npy header: a subarray descr must be (dtype, shape)",
                ));
            };
            let sub = match sub {
                Lit::Tuple(d) => dims(&d, at, "subarray shape")?,
                item @ (Lit::Int(_) | Lit::Bool(_)) => dims(&[item], at, "subarray shape")?,
                other => {
                    return Err(Error::new(
                        ErrorKind::InvalidArgument,
                        at,
                        format!(
                            "npy header: a subarray shape must be a tuple of ints, found a {}",
                            other.type_name()
                        ),
                    ))
                }
            };
            shape.extend(sub);
            base
        }
        other => other,
    };
    let descr = descr_from_lit(descr, at)?;
    Ok(NpyHeader {
        version: (major, minor),
        descr,
        fortran_order,
        shape,
        data_offset: header_end,
    })
}

/// Dimensions: non-negative ints (Python's `bool` is an `int`, so `True` counts as 1).
fn dims(items: &[Lit], at: u64, what: &str) -> Result<Vec<u64>> {
    items
        .iter()
        .map(|item| match item {
            Lit::Int(n) => u64::try_from(*n).map_err(|_| {
                Error::new(
                    ErrorKind::InvalidArgument,
                    at,
                    format!("npy header: {what} entry {n} is negative or too large"),
                )
            }),
            Lit::Bool(b) => Ok(u64::from(*b)),
            other => Err(Error::new(
                ErrorKind::InvalidArgument,
                at,
                format!(
                    "npy header: {what} entries must be ints, found a {}",
                    other.type_name()
                ),
            )),
        })
        .collect()
}

/// `descr` as numpy's `descr_to_dtype` reads it: a str, or a list of `(name, descr)` /
/// `(name, descr, shape)` entries, `name` possibly a `(title, name)` tuple. Recursion is
/// bounded by the literal's nesting, which the parser limits.
fn descr_from_lit(lit: Lit, at: u64) -> Result<Descr> {
    let invalid = |message: String| Error::new(ErrorKind::InvalidArgument, at, message);
    match lit {
        Lit::Str(s) => Ok(Descr::Str(s)),
        Lit::List(entries) => {
            let mut fields = Vec::with_capacity(entries.len());
            for entry in entries {
                let parts = match entry {
                    Lit::Tuple(parts) | Lit::List(parts) => parts,
                    other => {
                        return Err(invalid(format!(
                            "npy header: a descr field must be a tuple, found a {}",
                            other.type_name()
                        )))
                    }
                };
                let mut parts = parts.into_iter();
                let (Some(name), Some(descr), shape, None) =
                    (parts.next(), parts.next(), parts.next(), parts.next())
                else {
                    return Err(invalid(
                        "npy header: a descr field must have 2 or 3 items (name, dtype[, shape])"
                            .into(),
                    ));
                };
                let (title, name) = match name {
                    Lit::Str(name) => (None, name),
                    Lit::Tuple(pair) => match <[Lit; 2]>::try_from(pair) {
                        Ok([Lit::Str(title), Lit::Str(name)]) => (Some(title), name),
                        _ => return Err(invalid(
                            "npy header: a titled field name must be a (title, name) pair of strs"
                                .into(),
                        )),
                    },
                    other => {
                        return Err(invalid(format!(
                            "npy header: a field name must be a str, found a {}",
                            other.type_name()
                        )))
                    }
                };
                let shape = match shape {
                    None => Vec::new(),
                    Some(Lit::Tuple(items)) => dims(&items, at, "field shape")?,
                    Some(item @ (Lit::Int(_) | Lit::Bool(_))) => dims(&[item], at, "field shape")?,
                    Some(other) => {
                        return Err(invalid(format!(
                            "npy header: a field shape must be a tuple of ints, found a {}",
                            other.type_name()
                        )))
                    }
                };
                let descr = descr_from_lit(descr, at)?;
                fields.push(DescrField {
                    name,
                    title,
                    descr,
                    shape,
                });
            }
            Ok(Descr::Fields(fields))
        }
        Lit::Tuple(_) => Err(Error::new(
            ErrorKind::Unsupported,
            at,
            "npy header: a top-level (dtype, shape) subarray descr is not supported",
        )),
        other => Err(invalid(format!(
            "npy header: descr must be a str or a list, found a {}",
            other.type_name()
        ))),
    }
}

/// The bytes `numpy.save` writes before the array data: magic, version, header length and
/// the padded header, exactly as numpy 2.x's `_write_array_header` produces them.
///
/// The header is `{'descr': …, 'fortran_order': …, 'shape': …, }` (keys sorted, values by
/// `repr`), followed by spaces for growth of the first axis (last when Fortran-ordered),
/// then padded with spaces and a `\n` to a multiple of 64 bytes. The version is the oldest
/// that can hold it: 1.0, else 2.0 when the header is longer than 65535 bytes, else 3.0
/// when it is not latin-1 (field names outside latin-1).
pub fn npy_header_bytes(descr: &Descr, fortran_order: bool, shape: &[u64]) -> Vec<u8> {
    let mut header = String::from("{'descr': ");
    repr_descr(descr, &mut header);
    header.push_str(", 'fortran_order': ");
    header.push_str(if fortran_order { "True" } else { "False" });
    header.push_str(", 'shape': ");
    pytext::repr_int_tuple(shape, &mut header);
    header.push_str(", }");
    let growth_axis = if fortran_order {
        shape.last()
    } else {
        shape.first()
    };
    if let Some(dim) = growth_axis {
        let digits = dim.to_string().len();
        header.extend(std::iter::repeat_n(
            ' ',
            GROWTH_AXIS_MAX_DIGITS.saturating_sub(digits),
        ));
    }
    let latin1: Option<Vec<u8>> = header
        .chars()
        .map(|c| u8::try_from(u32::from(c)).ok())
        .collect();
    match latin1 {
        Some(encoded) => wrap_header(&encoded, (1, 0)).unwrap_or_else(|| {
            // Past 65535 bytes: format 2.0's u32 length always suffices for real dtypes.
            wrap_header(&encoded, (2, 0)).unwrap_or_default()
        }),
        None => wrap_header(header.as_bytes(), (3, 0)).unwrap_or_default(),
    }
}

/// numpy's `_wrap_header`: prefix, header, space padding and `\n`, or `None` when the
/// length does not fit the version's length field.
fn wrap_header(header: &[u8], version: (u8, u8)) -> Option<Vec<u8>> {
    let len_size = if version == (1, 0) { 2 } else { 4 };
    let hlen = header.len() + 1;
    let padlen = ARRAY_ALIGN - (NPY_MAGIC.len() + 2 + len_size + hlen) % ARRAY_ALIGN;
    let total = hlen + padlen;
    let mut out = Vec::with_capacity(NPY_MAGIC.len() + 2 + len_size + total);
    out.extend_from_slice(NPY_MAGIC);
    out.extend_from_slice(&[version.0, version.1]);
    if len_size == 2 {
        out.extend_from_slice(&u16::try_from(total).ok()?.to_le_bytes());
    } else {
        out.extend_from_slice(&u32::try_from(total).ok()?.to_le_bytes());
    }
    out.extend_from_slice(header);
    out.extend(std::iter::repeat_n(b' ', padlen));
    out.push(b'\n');
    Some(out)
}

/// Python's `repr` of a descr: the str, the list of tuples, or a subarray's
/// `(base, shape)` tuple (which numpy's `descr_to_dtype` reads as a subarray).
fn repr_descr(descr: &Descr, out: &mut String) {
    match descr {
        Descr::Str(s) => pytext::repr_text(s, out),
        Descr::Fields(fields) => {
            out.push('[');
            for (i, field) in fields.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push('(');
                match &field.title {
                    Some(title) => {
                        out.push('(');
                        pytext::repr_text(title, out);
                        out.push_str(", ");
                        pytext::repr_text(&field.name, out);
                        out.push(')');
                    }
                    None => pytext::repr_text(&field.name, out),
                }
                out.push_str(", ");
                repr_descr(&field.descr, out);
                if !field.shape.is_empty() {
                    out.push_str(", ");
                    pytext::repr_int_tuple(&field.shape, out);
                }
                out.push(')');
            }
            out.push(']');
        }
        Descr::SubArray { base, shape } => {
            out.push('(');
            repr_descr(base, out);
            out.push_str(", ");
            pytext::repr_int_tuple(shape, out);
            out.push(')');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(text: &str) -> Vec<u8> {
        let mut out = NPY_MAGIC.to_vec();
        out.extend_from_slice(&[1, 0]);
        out.extend_from_slice(&(text.len() as u16).to_le_bytes());
        out.extend_from_slice(text.as_bytes());
        out
    }

    #[test]
    fn writes_what_numpy_writes_for_a_2d_float_array() {
        let bytes = npy_header_bytes(&Descr::Str("<f8".into()), false, &[3, 4]);
        assert_eq!(bytes.len(), 128);
        let text = std::str::from_utf8(&bytes[10..]).unwrap();
        assert!(text.starts_with("{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }"));
        assert!(text.ends_with(" \n"));
        assert_eq!(&bytes[8..10], &118u16.to_le_bytes());
    }

    #[test]
    fn round_trips_through_the_parser() {
        let descr = Descr::Fields(vec![
            DescrField {
                name: "a".into(),
                title: Some("it's".into()),
                descr: Descr::Str("<i4".into()),
                shape: vec![],
            },
            DescrField {
                name: "".into(),
                title: None,
                descr: Descr::Str("|V4".into()),
                shape: vec![],
            },
            DescrField {
                name: "名".into(),
                title: None,
                descr: Descr::Fields(vec![DescrField {
                    name: "x".into(),
                    title: None,
                    descr: Descr::Str("<f8".into()),
                    shape: vec![2, 3],
                }]),
                shape: vec![5],
            },
        ]);
        let bytes = npy_header_bytes(&descr, true, &[7, 0]);
        assert_eq!(bytes.len() % 64, 0);
        assert_eq!(&bytes[6..8], &[3, 0], "non-latin-1 name needs format 3.0");
        let parsed = parse_npy_header(&bytes).unwrap();
        assert_eq!(parsed.descr, descr);
        assert!(parsed.fortran_order);
        assert_eq!(parsed.shape, vec![7, 0]);
        assert_eq!(parsed.data_offset, bytes.len());
        assert_eq!(descr_itemsize(&descr), Some(4 + 4 + 5 * 6 * 8));
    }

    #[test]
    fn a_huge_header_switches_to_format_2() {
        let fields = (0..5000)
            .map(|i| DescrField {
                name: format!("field_{i:05}"),
                title: None,
                descr: Descr::Str("<f8".into()),
                shape: vec![],
            })
            .collect();
        let bytes = npy_header_bytes(&Descr::Fields(fields), false, &[1]);
        assert_eq!(&bytes[6..8], &[2, 0]);
        assert_eq!(bytes.len() % 64, 0);
        assert_eq!(parse_npy_header(&bytes).unwrap().version, (2, 0));
    }

    #[test]
    fn itemsizes_of_type_strings() {
        for (s, n) in [
            ("<f8", Some(8)),
            ("|b1", Some(1)),
            ("<U5", Some(20)),
            ("|S0", Some(0)),
            ("<M8[ns]", Some(8)),
            ("<m8", Some(8)),
            ("|O", Some(8)),
            ("|V16", Some(16)),
            (">c16", Some(16)),
            ("<f", None),
            ("bfloat16", None),
            ("", None),
        ] {
            assert_eq!(descr_itemsize(&Descr::Str(s.into())), n, "{s}");
        }
    }

    #[test]
    fn rejects_what_numpy_rejects() {
        let cases = [
            ("{'descr': '<f8', 'shape': (3,), }", "keys"),
            (
                "{'descr': '<f8', 'fortran_order': 0, 'shape': (3,), }",
                "fortran_order",
            ),
            (
                "{'descr': '<f8', 'fortran_order': False, 'shape': [3], }",
                "shape",
            ),
            (
                "{'descr': '<f8', 'fortran_order': False, 'shape': (-1,), }",
                "negative",
            ),
            (
                "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), 'x': 1}",
                "keys",
            ),
            ("['descr']", "not a dict"),
            (
                "{'descr': 3, 'fortran_order': False, 'shape': (), }",
                "descr",
            ),
        ];
        for (text, needle) in cases {
            let err = parse_npy_header(&header(text)).unwrap_err();
            assert!(err.message().contains(needle), "{text}: {err}");
        }
    }

    #[test]
    fn header_bounds_and_versions_are_checked() {
        let mut bytes = header("{'descr': '<f8', 'fortran_order': False, 'shape': (), }");
        bytes.truncate(bytes.len() - 1);
        assert_eq!(
            parse_npy_header(&bytes).unwrap_err().kind(),
            ErrorKind::LengthPastEnd
        );
        let mut bytes = header("{}");
        bytes[6] = 4;
        assert_eq!(
            parse_npy_header(&bytes).unwrap_err().kind(),
            ErrorKind::Unsupported
        );
        assert_eq!(
            parse_npy_header(b"\x93NUM").unwrap_err().kind(),
            ErrorKind::Truncated
        );
        assert_eq!(
            parse_npy_header(b"\x93NUMPY\x01").unwrap_err().kind(),
            ErrorKind::Truncated
        );
        assert_eq!(
            parse_npy_header(b"PK\x03\x04").unwrap_err().kind(),
            ErrorKind::InvalidArgument
        );
    }

    #[test]
    fn a_repeated_key_keeps_the_last_value_as_python_does() {
        let parsed = parse_npy_header(&header(
            "{'descr': '<f8', 'descr': '<i2', 'fortran_order': False, 'shape': (2,), }",
        ))
        .unwrap();
        assert_eq!(parsed.descr, Descr::Str("<i2".into()));
    }

    #[test]
    fn object_dtypes_are_recognised() {
        assert!(Descr::Str("|O".into()).has_object());
        assert!(!Descr::Str("<f8".into()).has_object());
    }
}
