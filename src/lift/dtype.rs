//! numpy dtypes rebuilt from `numpy.dtype(...)` calls and their BUILD state.
//!
//! A dtype pickles as `numpy.dtype(<type string>, align, copy)` followed by BUILD with
//! `(version, byteorder, subarray, names, fields, elsize, alignment, flags[, metadata])`
//! (numpy `arraydescr_reduce`/`arraydescr_setstate`). From that we compute what numpy
//! itself prints: `dtype.str` and, for structured dtypes, `dtype.descr`.

#![warn(clippy::arithmetic_side_effects)]

use super::{Known, Lifter, Names};
use crate::container::{Descr, DescrField};
use crate::machine::{Graph, Node, NodeId};

/// Byte order as numpy writes it in a dtype's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ByteOrder {
    /// `<`, and numpy's `=` (native order) as written on the little-endian platforms
    /// numpy ships for.
    Little,
    /// `>`: big-endian, as written on a big-endian machine or asked for explicitly.
    Big,
    /// `|`: single bytes, strings, voids, objects.
    NotApplicable,
}

impl ByteOrder {
    fn char(self) -> char {
        match self {
            ByteOrder::Little => '<',
            ByteOrder::Big => '>',
            ByteOrder::NotApplicable => '|',
        }
    }
}

/// A field of a structured dtype.
#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    /// The field name, the key of `dtype.fields`.
    pub name: String,
    /// numpy's optional second name for a field (`dtype.fields[name][2]`), written in
    /// `descr` as a `(title, name)` pair.
    pub title: Option<String>,
    /// The field's element type (a [`DType::SubArray`] for a fixed-shape field).
    pub dtype: DType,
    /// Byte offset of the field in each element: padding between fields (aligned
    /// dtypes) is only visible as a gap between offsets.
    pub offset: u64,
}

/// A numpy dtype (or a tensor element type numpy has no name for).
#[derive(Clone, Debug, PartialEq)]
pub enum DType {
    /// A builtin type: kind letter (`b i u f c M m O S U V`), size in bytes, byte order,
    /// and for datetimes the unit (`ns`, `10ms`, or empty for generic).
    Scalar {
        /// numpy's `dtype.kind` (`?` read as `b`, Python 2's `a` as `S`).
        kind: char,
        /// Bytes per element: 4 per character for `U`.
        itemsize: u64,
        /// The byte order of the element's bytes.
        byteorder: ByteOrder,
        /// The datetime unit for `M` and `m` (empty for generic), `None` for other kinds.
        unit: Option<String>,
    },
    /// A structured dtype: fields in `names` order.
    Structured {
        /// The fields, in `dtype.names` order (which need not be offset order).
        fields: Vec<Field>,
        /// Bytes per element, trailing padding included (numpy's `elsize`).
        itemsize: u64,
    },
    /// A fixed-shape subarray of a base type (only inside structured dtypes).
    SubArray {
        /// The type of each element of the subarray.
        base: Box<DType>,
        /// The subarray's fixed shape.
        shape: Vec<u64>,
    },
    /// torch's 8-bit floats (`torch.float8_e4m3fn`, …): 1 byte, no numpy equivalent.
    Float8(Float8Format),
    /// torch.bfloat16: 2 bytes, no numpy equivalent.
    BFloat16 {
        /// The byte order of the 2-byte elements.
        byteorder: ByteOrder,
    },
}

/// The 8-bit float formats torch saves (`torch/_utils.py`'s `_rebuild_tensor_v3` gets them
/// as a dtype argument), named as torch names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Float8Format {
    /// `float8_e4m3fn`: 4 exponent bits (bias 7), 3 mantissa bits, no infinities.
    E4M3Fn,
    /// `float8_e4m3fnuz`: bias 8, no infinities, no negative zero.
    E4M3Fnuz,
    /// `float8_e5m2`: 5 exponent bits (bias 15), 2 mantissa bits, IEEE-like.
    E5M2,
    /// `float8_e5m2fnuz`: bias 16, no infinities, no negative zero.
    E5M2Fnuz,
    /// `float8_e8m0fnu`: an exponent only (a power of two), no sign.
    E8M0Fnu,
}

impl Float8Format {
    /// The torch dtype name (`torch.float8_e4m3fn` without the module).
    pub fn name(self) -> &'static str {
        match self {
            Float8Format::E4M3Fn => "float8_e4m3fn",
            Float8Format::E4M3Fnuz => "float8_e4m3fnuz",
            Float8Format::E5M2 => "float8_e5m2",
            Float8Format::E5M2Fnuz => "float8_e5m2fnuz",
            Float8Format::E8M0Fnu => "float8_e8m0fnu",
        }
    }

    /// The format torch names `name`.
    pub fn from_name(name: &str) -> Option<Float8Format> {
        [
            Float8Format::E4M3Fn,
            Float8Format::E4M3Fnuz,
            Float8Format::E5M2,
            Float8Format::E5M2Fnuz,
            Float8Format::E8M0Fnu,
        ]
        .into_iter()
        .find(|f| f.name() == name)
    }

    /// The value of one element (`c10/util/Float8_*.h`), exactly, as an f32.
    pub fn to_f32(self, byte: u8) -> f32 {
        // (mantissa bits, exponent bias, NaN is 0x80 and there are no infinities)
        let (man_bits, bias, fnuz) = match self {
            Float8Format::E8M0Fnu => {
                return if byte == 0xff {
                    f32::NAN
                } else {
                    (f32::from(byte) - 127.0).exp2()
                }
            }
            Float8Format::E4M3Fn => (3u32, 7.0f32, false),
            Float8Format::E4M3Fnuz => (3, 8.0, true),
            Float8Format::E5M2 => (2, 15.0, false),
            Float8Format::E5M2Fnuz => (2, 16.0, true),
        };
        let magnitude = byte & 0x7f;
        let exp = magnitude.checked_shr(man_bits).unwrap_or(0);
        let man_mask = 0xffu8
            .checked_shr(8u32.saturating_sub(man_bits))
            .unwrap_or(0);
        let man = f32::from(magnitude & man_mask);
        let scale = f32::from(man_mask) + 1.0;
        let sign = if byte & 0x80 != 0 { -1.0f32 } else { 1.0 };
        match self {
            _ if fnuz && byte == 0x80 => return f32::NAN,
            // e4m3fn has no infinities: only S.1111.111 is NaN.
            Float8Format::E4M3Fn if magnitude == 0x7f => return f32::NAN,
            Float8Format::E5M2 if exp == 0x1f => {
                return if man == 0.0 {
                    sign * f32::INFINITY
                } else {
                    f32::NAN
                }
            }
            _ => {}
        }
        if exp == 0 {
            sign * (man / scale) * (1.0 - bias).exp2()
        } else {
            sign * (1.0 + man / scale) * (f32::from(exp) - bias).exp2()
        }
    }
}

impl DType {
    /// A plain builtin dtype, e.g. `DType::simple('f', 8, ByteOrder::Little)`.
    pub fn simple(kind: char, itemsize: u64, byteorder: ByteOrder) -> DType {
        DType::Scalar {
            kind,
            itemsize,
            byteorder,
            unit: None,
        }
    }

    /// The same dtype with multi-byte elements in `order` (torch archives say "big").
    pub fn with_byteorder(&self, order: ByteOrder) -> DType {
        match self {
            DType::Scalar {
                kind,
                itemsize,
                byteorder,
                unit,
            } => DType::Scalar {
                kind: *kind,
                itemsize: *itemsize,
                byteorder: if *byteorder == ByteOrder::NotApplicable {
                    *byteorder
                } else {
                    order
                },
                unit: unit.clone(),
            },
            DType::BFloat16 { .. } => DType::BFloat16 { byteorder: order },
            DType::Float8(format) => DType::Float8(*format),
            DType::Structured { fields, itemsize } => DType::Structured {
                fields: fields
                    .iter()
                    .map(|f| Field {
                        dtype: f.dtype.with_byteorder(order),
                        ..f.clone()
                    })
                    .collect(),
                itemsize: *itemsize,
            },
            DType::SubArray { base, shape } => DType::SubArray {
                base: Box::new(base.with_byteorder(order)),
                shape: shape.clone(),
            },
        }
    }

    /// Parses a dtype string as numpy writes `dtype.str` (`<f8`, `|S5`, `<U3`, `<M8[ns]`,
    /// `|O`, `|V8`, `>i4`).
    pub fn from_str_descr(s: &str) -> Option<DType> {
        let mut chars = s.chars();
        let byteorder = match chars.next()? {
            '<' | '=' => ByteOrder::Little,
            '>' => ByteOrder::Big,
            '|' => ByteOrder::NotApplicable,
            _ => return None,
        };
        let kind = chars.next()?;
        let rest: String = chars.collect();
        let (size, unit) = match rest.split_once('[') {
            Some((size, unit)) => (size.to_string(), Some(unit.strip_suffix(']')?.to_string())),
            None => (rest, None),
        };
        let size: u64 = if size.is_empty() && kind == 'O' {
            8
        } else {
            size.parse().ok()?
        };
        let itemsize = match kind {
            'U' => size.checked_mul(4)?,
            'b' | 'i' | 'u' | 'f' | 'c' if !numpy_knows_size(kind, size) => return None,
            'b' | 'i' | 'u' | 'f' | 'c' | 'S' | 'V' | 'O' | 'M' | 'm' => size,
            _ => return None,
        };
        Some(DType::Scalar {
            kind,
            itemsize,
            byteorder,
            unit: if matches!(kind, 'M' | 'm') {
                Some(unit.unwrap_or_default())
            } else {
                None
            },
        })
    }

    /// Bytes per element.
    pub fn itemsize(&self) -> u64 {
        match self {
            DType::Scalar { itemsize, .. } | DType::Structured { itemsize, .. } => *itemsize,
            DType::SubArray { base, shape } => shape
                .iter()
                .try_fold(base.itemsize(), |acc, &d| acc.checked_mul(d))
                .unwrap_or(u64::MAX),
            DType::BFloat16 { .. } => 2,
            DType::Float8(_) => 1,
        }
    }

    /// Whether elements are Python objects (then an array's data is a list of objects).
    pub fn has_object(&self) -> bool {
        match self {
            DType::Scalar { kind, .. } => *kind == 'O',
            DType::Structured { fields, .. } => fields.iter().any(|f| f.dtype.has_object()),
            DType::SubArray { base, .. } => base.has_object(),
            DType::BFloat16 { .. } | DType::Float8(_) => false,
        }
    }

    /// numpy's `dtype.str`: `<f8`, `|b1`, `<U5`, `<M8[ns]`, `|O`, `|V20`.
    pub fn str(&self) -> String {
        match self {
            DType::Scalar {
                kind,
                itemsize,
                byteorder,
                unit,
            } => {
                let order = byteorder.char();
                match kind {
                    'O' => format!("{order}O"),
                    'U' => format!("{order}U{}", itemsize / 4),
                    'M' | 'm' => match unit.as_deref() {
                        None | Some("") | Some("generic") => format!("{order}{kind}8"),
                        Some(unit) => format!("{order}{kind}8[{unit}]"),
                    },
                    _ => format!("{order}{kind}{itemsize}"),
                }
            }
            DType::Structured { itemsize, .. } => format!("|V{itemsize}"),
            DType::SubArray { .. } => format!("|V{}", self.itemsize()),
            DType::BFloat16 { .. } => "bfloat16".to_string(),
            DType::Float8(format) => format.name().to_string(),
        }
    }

    /// numpy's `dtype.descr` as `np.save` writes it (`format.dtype_to_descr`): the `str`
    /// for plain dtypes; for structured ones the fields in order, with `('', '|Vn')` padding
    /// entries for the gaps between offsets, a field's subarray as its shape. The JSON
    /// outputs print it with [`Descr::to_json`]; `extract` writes it in `.npy` headers.
    pub fn descr(&self) -> Descr {
        let padding = |gap: u64| DescrField {
            name: String::new(),
            title: None,
            descr: Descr::Str(format!("|V{gap}")),
            shape: Vec::new(),
        };
        match self {
            DType::Structured { fields, itemsize } => {
                let mut out = Vec::new();
                let mut offset = 0u64;
                for field in fields {
                    if field.offset > offset {
                        // Greater, just checked.
                        out.push(padding(field.offset.saturating_sub(offset)));
                        offset = field.offset;
                    }
                    let (descr, shape) = match &field.dtype {
                        DType::SubArray { base, shape } => (base.descr(), shape.clone()),
                        other => (other.descr(), Vec::new()),
                    };
                    out.push(DescrField {
                        name: field.name.clone(),
                        title: field.title.clone(),
                        descr,
                        shape,
                    });
                    offset = offset.saturating_add(field.dtype.itemsize());
                }
                if *itemsize > offset {
                    out.push(padding(itemsize.saturating_sub(offset)));
                }
                Descr::Fields(out)
            }
            DType::SubArray { base, shape } => Descr::SubArray {
                base: Box::new(base.descr()),
                shape: shape.clone(),
            },
            other => Descr::Str(other.str()),
        }
    }
}

/// Why a dtype could not be rebuilt.
pub(crate) type DTypeError = String;

/// Text of a str, of bytes, or of bytes as protocols 0–2 write them
/// (`_codecs.encode(text, 'latin1')`).
fn text(graph: &Graph<'_>, names: Names<'_>, id: NodeId) -> Option<String> {
    text_within(graph, names, id).filter(|t| t.len() <= super::MAX_LIFTED_TEXT)
}

fn text_within(graph: &Graph<'_>, names: Names<'_>, id: NodeId) -> Option<String> {
    match graph.node(id) {
        Node::Str(s) => Some(s.to_string()),
        Node::Bytes(b, _) => Some(String::from_utf8_lossy(b).into_owned()),
        Node::Call(call) => {
            if names.of(graph, call.callable) != Known::CodecsEncode {
                return None;
            }
            // One level only: the writer encodes a str, and input controls any nesting.
            match graph.node(*graph.tuple(call.args)?.first()?) {
                Node::Str(s) => Some(s.to_string()),
                _ => None,
            }
        }
        _ => None,
    }
}

/// Fields and subarray bases one dtype may have in all, nested ones included. Memo
/// references can reuse one structured dtype for every field of the next, so without a
/// budget a few hundred bytes describe a dtype of 8**40 fields.
const MAX_DTYPE_PARTS: u32 = 4096;

/// How deep structured dtypes and subarrays may nest (input controls the recursion).
const MAX_DTYPE_DEPTH: u32 = 64;

/// Rebuilds the dtype made by the `numpy.dtype(...)` call at `id`, spending the lifting
/// job's allowance of dtype parts.
pub(crate) fn parse(lifter: &mut Lifter<'_, '_>, id: NodeId) -> Result<DType, DTypeError> {
    Parser {
        graph: lifter.graph,
        names: lifter.names,
        lifter,
        budget: MAX_DTYPE_PARTS,
    }
    .dtype(id, 0)
}

struct Parser<'l, 'g, 'data> {
    graph: &'g Graph<'data>,
    names: Names<'g>,
    lifter: &'l mut Lifter<'g, 'data>,
    /// Parts this dtype may still have ([`MAX_DTYPE_PARTS`]).
    budget: u32,
}

/// Where each item of a dtype's BUILD state is; the layout depends on the numpy that
/// wrote it.
struct StateLayout {
    endian: Option<usize>,
    subarray: Option<usize>,
    names: Option<usize>,
    fields: Option<usize>,
    elsize: Option<usize>,
    metadata: Option<usize>,
}

impl StateLayout {
    fn of(len: usize) -> Result<StateLayout, DTypeError> {
        let layout = |names, metadata| StateLayout {
            endian: Some(1),
            subarray: Some(2),
            names,
            fields: Some(if names.is_some() { 4 } else { 3 }),
            elsize: Some(if names.is_some() { 5 } else { 4 }),
            metadata,
        };
        Ok(match len {
            9 => layout(Some(3), Some(8)),
            // 8 items, and numpy < 1.7's 7
            8 | 7 => layout(Some(3), None),
            6 => layout(None, None),
            // No BUILD: numpy would use native order and default sizes.
            0 => StateLayout {
                endian: None,
                subarray: None,
                names: None,
                fields: None,
                elsize: None,
                metadata: None,
            },
            n => return Err(format!("dtype state of unknown layout ({n} items)")),
        })
    }
}

impl Parser<'_, '_, '_> {
    fn dtype(&mut self, id: NodeId, depth: u32) -> Result<DType, DTypeError> {
        let graph = self.graph;
        if depth > MAX_DTYPE_DEPTH {
            return Err(format!("dtype nested more than {MAX_DTYPE_DEPTH} deep"));
        }
        self.budget = self.budget.checked_sub(1).ok_or_else(too_many_parts)?;
        if !self.lifter.spend_part() {
            return Err(
                "the dtypes of this stream have more fields and subarrays in all than its size \
                 allows (one dtype shared by very many arrays?)"
                    .into(),
            );
        }
        let (call, known) = self
            .names
            .call(graph, id)
            .ok_or_else(|| "expected a numpy.dtype(...) object".to_string())?;
        if known != Known::Dtype {
            // numpy 2's variable-width StringDType pickles as this call. Its elements are
            // Python strings held outside the array (`dtype.hasobject`), so joblib writes
            // such an array as a nested pickle, as it does object arrays: read as `|O`.
            if graph.global(call.callable).is_some_and(|g| {
                g.name == "_convert_to_stringdtype_kwargs"
                    && matches!(&*g.module, "numpy._core._internal" | "numpy.core._internal")
            }) {
                return Ok(DType::simple('O', 8, ByteOrder::NotApplicable));
            }
            return Err(match graph.global(call.callable) {
                Some(g) => format!("dtype built by {}.{}, not numpy.dtype", g.module, g.name),
                None => "dtype built by something other than numpy.dtype".to_string(),
            });
        }
        let args = graph
            .tuple(call.args)
            .ok_or("numpy.dtype arguments are not a tuple")?;
        let type_string = args
            .first()
            .and_then(|&a| text(graph, self.names, a))
            .ok_or("numpy.dtype needs a type string")?;
        let mut chars = type_string.chars();
        chars.next().ok_or("empty dtype string")?;
        let size_from_string: Option<u64> = chars.as_str().parse().ok();
        let state: &[NodeId] = call.state.and_then(|s| graph.tuple(s)).unwrap_or(&[]);
        let layout = StateLayout::of(state.len())?;
        let get = |at: Option<usize>| at.and_then(|i| state.get(i)).copied();
        let elsize = get(layout.elsize)
            .and_then(|e| graph.int(e))
            .and_then(|e| u64::try_from(e).ok());

        // Subarray: (base dtype, shape).
        if let Some(items) = get(layout.subarray).and_then(|s| graph.tuple(s)) {
            return self.subarray(items, depth);
        }
        // Structured: names and the fields dict name -> (dtype, offset[, title]).
        let names = get(layout.names).and_then(|n| graph.tuple(n));
        if let (Some(names), Some(fields)) = (names, get(layout.fields)) {
            let out = self.fields(names, fields, depth)?;
            return Ok(DType::Structured {
                fields: out,
                itemsize: elsize.or(size_from_string).unwrap_or(0),
            });
        }
        let endian = get(layout.endian).and_then(|e| text(graph, self.names, e));
        let metadata = get(layout.metadata);
        scalar(
            graph,
            self.names,
            &type_string,
            endian.as_deref(),
            elsize,
            metadata,
        )
    }

    fn subarray(&mut self, items: &[NodeId], depth: u32) -> Result<DType, DTypeError> {
        let graph = self.graph;
        let [base, shape] = items else {
            return Err("dtype subarray is not (base, shape)".into());
        };
        // At most MAX_DTYPE_DEPTH + 1, checked on entry.
        let base = self.dtype(*base, depth.saturating_add(1))?;
        let non_negative = |d: NodeId| graph.int(d).and_then(|v| u64::try_from(v).ok());
        let shape = match graph.node(*shape) {
            Node::Tuple(dims) if dims.len() > super::MAX_DIMS => {
                return Err(format!(
                    "dtype subarray has {} dimensions, more than numpy's {}",
                    dims.len(),
                    super::MAX_DIMS
                ))
            }
            Node::Tuple(dims) => dims
                .iter()
                .map(|&d| non_negative(d))
                .collect::<Option<Vec<u64>>>()
                .ok_or("dtype subarray shape is not non-negative ints")?,
            _ => vec![non_negative(*shape).ok_or("dtype subarray shape is not an int")?],
        };
        Ok(DType::SubArray {
            base: Box::new(base),
            shape,
        })
    }

    fn fields(
        &mut self,
        names: &[NodeId],
        fields: NodeId,
        depth: u32,
    ) -> Result<Vec<Field>, DTypeError> {
        let graph = self.graph;
        // Each name is looked up in the fields dict: bound both before the quadratic part.
        let entries = match graph.node(fields) {
            Node::Dict(pairs) => pairs.len(),
            _ => 0,
        };
        if names.len().max(entries) > self.budget as usize {
            return Err(too_many_parts());
        }
        let mut out = Vec::with_capacity(names.len());
        for &name_id in names {
            let name = text(graph, self.names, name_id).ok_or("dtype field name is not text")?;
            let entry = graph
                .dict_get(fields, &name)
                .ok_or_else(|| format!("dtype field {name:?} missing from fields"))?;
            let entry = graph
                .tuple(entry)
                .ok_or("dtype field entry is not a tuple")?;
            let (dtype_id, offset_id) = match entry {
                [d, o, ..] => (*d, *o),
                _ => return Err("dtype field entry is too short".into()),
            };
            let offset = graph
                .int(offset_id)
                .and_then(|o| u64::try_from(o).ok())
                .ok_or("dtype field offset is not a non-negative int")?;
            let title = entry.get(2).and_then(|&t| text(graph, self.names, t));
            out.push(Field {
                name,
                title,
                // At most MAX_DTYPE_DEPTH + 1, checked on entry.
                dtype: self.dtype(dtype_id, depth.saturating_add(1))?,
                offset,
            });
        }
        Ok(out)
    }
}

fn too_many_parts() -> DTypeError {
    format!("dtype has more than {MAX_DTYPE_PARTS} fields and subarrays")
}

/// A builtin dtype from its type string (`f8`, `U5`, `M8`, `?`), the byte order and element
/// size its state gives, and for datetimes the unit in its metadata.
fn scalar(
    graph: &Graph<'_>,
    names: Names<'_>,
    type_string: &str,
    endian: Option<&str>,
    elsize: Option<u64>,
    metadata: Option<NodeId>,
) -> Result<DType, DTypeError> {
    let mut chars = type_string.chars();
    let kind = chars.next().ok_or("empty dtype string")?;
    let kind = if kind == 'a' { 'S' } else { kind };
    let size_from_string: Option<u64> = chars.as_str().parse().ok();
    let byteorder = match endian {
        Some(">") => ByteOrder::Big,
        Some("|") => ByteOrder::NotApplicable,
        // '<', and '=' (the writer's native order: every platform numpy ships for today is
        // little-endian).
        _ if matches!(kind, 'b' | 'S' | 'V' | 'O') => ByteOrder::NotApplicable,
        _ if size_from_string == Some(1) && matches!(kind, 'i' | 'u') => ByteOrder::NotApplicable,
        _ => ByteOrder::Little,
    };
    let itemsize = match kind {
        'U' => match (elsize, size_from_string) {
            (Some(size), _) => Some(size),
            // Four bytes (UCS-4) per character.
            (None, Some(chars)) => Some(chars.checked_mul(4).ok_or_else(|| {
                format!("dtype {type_string:?} has more than 2**64 bytes per element")
            })?),
            (None, None) => None,
        },
        'S' | 'V' => elsize.or(size_from_string),
        'O' | 'M' | 'm' => Some(8),
        'b' | 'i' | 'u' | 'f' | 'c' => match size_from_string {
            Some(size) if !numpy_knows_size(kind, size) => {
                return Err(format!("numpy has no dtype {type_string:?}"))
            }
            size => size,
        },
        '?' => Some(1),
        _ => return Err(format!("unknown dtype kind {kind:?} in {type_string:?}")),
    }
    .ok_or_else(|| format!("dtype {type_string:?} has no size"))?;
    let kind = if kind == '?' { 'b' } else { kind };
    let unit = matches!(kind, 'M' | 'm').then(|| datetime_unit(graph, names, metadata));
    Ok(DType::Scalar {
        kind,
        itemsize,
        byteorder,
        unit,
    })
}

/// Whether numpy (on the 64-bit platforms it ships for) has a numeric dtype of this kind
/// and size: `b1`, `i8` and `c32` exist, `b0`, `i3` and `f1` are refused by
/// `numpy.dtype`, so a pickle naming one fails to load and its elements have no meaning.
fn numpy_knows_size(kind: char, size: u64) -> bool {
    match kind {
        'b' => size == 1,
        'i' | 'u' => matches!(size, 1 | 2 | 4 | 8),
        'f' => matches!(size, 2 | 4 | 8 | 16),
        'c' => matches!(size, 8 | 16 | 32),
        _ => true,
    }
}

/// The unit of a datetime dtype from its metadata `(dict|None, (unit, num, den, events))`.
fn datetime_unit(graph: &Graph<'_>, names: Names<'_>, metadata: Option<NodeId>) -> String {
    let Some(items) = metadata.and_then(|m| graph.tuple(m)) else {
        return String::new();
    };
    let Some(info) = items.get(1).and_then(|&i| graph.tuple(i)) else {
        return String::new();
    };
    let unit = info
        .first()
        .and_then(|&u| text(graph, names, u))
        .unwrap_or_default();
    let num = info.get(1).and_then(|&n| graph.int(n)).unwrap_or(1);
    if unit == "generic" {
        String::new()
    } else if num == 1 {
        unit
    } else {
        format!("{num}{unit}")
    }
}

/// The dtype an `.npy` header's `descr` describes (numpy's `format.descr_to_dtype`).
/// Structured fields are packed in order; `('', '|Vn')` entries are padding, dropped with
/// their offset kept. `None` when numpy would not read it.
pub(crate) fn from_npy_descr(descr: &Descr) -> Option<DType> {
    match descr {
        Descr::Str(s) => DType::from_str_descr(s),
        Descr::SubArray { base, shape } => Some(DType::SubArray {
            base: Box::new(from_npy_descr(base)?),
            shape: shape.clone(),
        }),
        Descr::Fields(entries) => {
            let mut fields = Vec::new();
            let mut offset = 0u64;
            for entry in entries {
                let base = from_npy_descr(&entry.descr)?;
                let dtype = if entry.shape.is_empty() {
                    base
                } else {
                    DType::SubArray {
                        base: Box::new(base),
                        shape: entry.shape.clone(),
                    }
                };
                let size = dtype.itemsize();
                let is_padding =
                    entry.name.is_empty() && matches!(dtype, DType::Scalar { kind: 'V', .. });
                if !is_padding {
                    fields.push(Field {
                        name: entry.name.clone(),
                        title: entry.title.clone(),
                        dtype,
                        offset,
                    });
                }
                offset = offset.checked_add(size)?;
            }
            Some(DType::Structured {
                fields,
                itemsize: offset,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dtype_strings_round_trip() {
        for s in [
            "<f8", "|b1", ">i4", "<U5", "|S5", "<M8[ns]", "<m8[s]", "|O", "|V8", "<c16", "|u1",
        ] {
            assert_eq!(
                DType::from_str_descr(s).map(|d| d.str()).as_deref(),
                Some(s)
            );
        }
        assert_eq!(
            DType::from_str_descr("<M8").map(|d| d.str()).as_deref(),
            Some("<M8")
        );
        assert!(DType::from_str_descr("f8").is_none());
        // Sizes numpy.dtype refuses (checked against numpy 1.26 and 2.4).
        for refused in [
            "|b0", "|b2", "<i0", "<i3", "<u16", "<f1", "<f0", "<c4", "<c0",
        ] {
            assert!(DType::from_str_descr(refused).is_none(), "{refused}");
        }
        for known in ["|b1", "|i1", "<u8", "<f2", "<f16", "<c8", "<c32"] {
            assert!(DType::from_str_descr(known).is_some(), "{known}");
        }
    }

    #[test]
    fn str_and_descr_match_numpy() {
        let f8 = DType::simple('f', 8, ByteOrder::Little);
        assert_eq!(f8.str(), "<f8");
        assert_eq!(DType::simple('O', 8, ByteOrder::NotApplicable).str(), "|O");
        assert_eq!(DType::simple('U', 20, ByteOrder::Little).str(), "<U5");
        let dt = DType::Scalar {
            kind: 'M',
            itemsize: 8,
            byteorder: ByteOrder::Little,
            unit: Some("ns".into()),
        };
        assert_eq!(dt.str(), "<M8[ns]");
        let aligned = DType::Structured {
            fields: vec![
                Field {
                    name: "x".into(),
                    title: None,
                    dtype: DType::simple('u', 1, ByteOrder::NotApplicable),
                    offset: 0,
                },
                Field {
                    name: "y".into(),
                    title: None,
                    dtype: DType::simple('i', 4, ByteOrder::Little),
                    offset: 4,
                },
            ],
            itemsize: 8,
        };
        assert_eq!(aligned.str(), "|V8");
        assert_eq!(
            aligned.descr().to_json(),
            serde_json::json!([["x", "|u1"], ["", "|V3"], ["y", "<i4"]])
        );
    }

    #[test]
    fn a_subarray_outside_a_field_keeps_its_json_and_gets_a_header_numpy_can_parse() {
        // Only a crafted pickle makes one (numpy folds subarrays into a field's shape). The
        // JSON is what the outputs always printed; the `.npy` header, once
        // `[('', ''), ('', '')]` (a conversion through that JSON), is now the
        // `(base, shape)` tuple numpy's `format.descr_to_dtype` reads.
        let i4 = DType::simple('i', 4, ByteOrder::Little);
        let sub = DType::SubArray {
            base: Box::new(i4.clone()),
            shape: vec![2],
        };
        assert_eq!(sub.descr().to_json(), serde_json::json!(["<i4", [2]]));
        let header = crate::container::npy_header_bytes(&sub.descr(), false, &[3]);
        let text = String::from_utf8_lossy(&header);
        assert!(text.contains("{'descr': ('<i4', (2,)), "), "{text}");
        let field = DType::Structured {
            fields: vec![Field {
                name: "b".into(),
                title: None,
                dtype: DType::SubArray {
                    base: Box::new(sub),
                    shape: vec![3],
                },
                offset: 0,
            }],
            itemsize: 24,
        };
        assert_eq!(
            field.descr().to_json(),
            serde_json::json!([["b", ["<i4", [2]], [3]]])
        );
    }
}
