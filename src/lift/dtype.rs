//! numpy dtypes rebuilt from `numpy.dtype(...)` calls and their BUILD state.
//!
//! A dtype pickles as `numpy.dtype(<type string>, align, copy)` followed by BUILD with
//! `(version, byteorder, subarray, names, fields, elsize, alignment, flags[, metadata])`
//! (numpy `arraydescr_reduce`/`arraydescr_setstate`). From that we compute what numpy
//! itself prints: `dtype.str` and, for structured dtypes, `dtype.descr`.

use serde_json::{json, Value};

use crate::machine::{Graph, Node, NodeId};

/// Byte order as numpy writes it in a dtype's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ByteOrder {
    Little,
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
    pub name: String,
    pub title: Option<String>,
    pub dtype: DType,
    pub offset: u64,
}

/// A numpy dtype (or a tensor element type numpy has no name for).
#[derive(Clone, Debug, PartialEq)]
pub enum DType {
    /// A builtin type: kind letter (`b i u f c M m O S U V`), size in bytes, byte order,
    /// and for datetimes the unit (`ns`, `10ms`, or empty for generic).
    Scalar {
        kind: char,
        itemsize: u64,
        byteorder: ByteOrder,
        unit: Option<String>,
    },
    /// A structured dtype: fields in `names` order.
    Structured { fields: Vec<Field>, itemsize: u64 },
    /// A fixed-shape subarray of a base type (only inside structured dtypes).
    SubArray { base: Box<DType>, shape: Vec<u64> },
    /// torch.bfloat16: 2 bytes, no numpy equivalent.
    BFloat16 { byteorder: ByteOrder },
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
        }
    }

    /// Whether elements are Python objects (then an array's data is a list of objects).
    pub fn has_object(&self) -> bool {
        match self {
            DType::Scalar { kind, .. } => *kind == 'O',
            DType::Structured { fields, .. } => fields.iter().any(|f| f.dtype.has_object()),
            DType::SubArray { base, .. } => base.has_object(),
            DType::BFloat16 { .. } => false,
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
        }
    }

    /// numpy's `dtype.descr` as JSON, as `np.save` writes it (`format.dtype_to_descr`): the
    /// `str` for plain dtypes; for structured ones a list of `[name, descr]` or
    /// `[name, descr, shape]` with `["", "|Vn"]` padding, names as `[title, name]` when titled.
    pub fn descr(&self) -> Value {
        match self {
            DType::Structured { fields, itemsize } => {
                let mut out = Vec::new();
                let mut offset = 0u64;
                for field in fields {
                    if field.offset > offset {
                        out.push(json!(["", format!("|V{}", field.offset - offset)]));
                        offset = field.offset;
                    }
                    let name = match &field.title {
                        Some(title) => json!([title, field.name]),
                        None => json!(field.name),
                    };
                    match &field.dtype {
                        DType::SubArray { base, shape } => {
                            out.push(json!([name, base.descr(), shape]))
                        }
                        other => out.push(json!([name, other.descr()])),
                    }
                    offset = offset.saturating_add(field.dtype.itemsize());
                }
                if *itemsize > offset {
                    out.push(json!(["", format!("|V{}", itemsize - offset)]));
                }
                Value::Array(out)
            }
            DType::SubArray { base, shape } => json!([base.descr(), shape]),
            other => Value::String(other.str()),
        }
    }
}

/// Why a dtype could not be rebuilt.
pub type DTypeError = String;

fn tuple_items<'g>(graph: &'g Graph<'_>, id: NodeId) -> Option<&'g [NodeId]> {
    graph.tuple(id)
}

/// Text of a str, of bytes, or of bytes as protocols 0–2 write them
/// (`_codecs.encode(text, 'latin1')`).
fn text(graph: &Graph<'_>, id: NodeId) -> Option<String> {
    text_within(graph, id).filter(|t| t.len() <= super::MAX_LIFTED_TEXT)
}

fn text_within(graph: &Graph<'_>, id: NodeId) -> Option<String> {
    match graph.node(id) {
        Node::Str(s) => Some(s.to_string()),
        Node::Bytes(b, _) => Some(String::from_utf8_lossy(b).into_owned()),
        Node::Call(call) => {
            let global = graph.global(call.callable)?;
            if (&*global.module, &*global.name) != ("_codecs", "encode") {
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

/// Whether `(module, name)` is `numpy.dtype` (the only spelling numpy has used).
pub fn is_dtype_global(module: &str, name: &str) -> bool {
    module == "numpy" && name == "dtype"
}

/// Fields and subarray bases one dtype may have in all, nested ones included. Memo
/// references can reuse one structured dtype for every field of the next, so without a
/// budget a few hundred bytes describe a dtype of 8**40 fields.
const MAX_DTYPE_PARTS: u32 = 4096;

/// Rebuilds the dtype made by the `numpy.dtype(...)` call at `id`. `depth` bounds the
/// recursion through nested structured dtypes (input controls it).
pub fn parse(graph: &Graph<'_>, id: NodeId, depth: u32) -> Result<DType, DTypeError> {
    let mut budget = MAX_DTYPE_PARTS;
    parse_within(graph, id, depth, &mut budget)
}

fn parse_within(
    graph: &Graph<'_>,
    id: NodeId,
    depth: u32,
    budget: &mut u32,
) -> Result<DType, DTypeError> {
    if depth > 64 {
        return Err("dtype nested more than 64 deep".into());
    }
    *budget = budget
        .checked_sub(1)
        .ok_or_else(|| format!("dtype has more than {MAX_DTYPE_PARTS} fields and subarrays"))?;
    if !graph.spend_dtype_parts(1) {
        return Err(
            "the dtypes of this stream have more fields and subarrays in all than its size \
             allows (one dtype shared by very many arrays?)"
                .into(),
        );
    }
    let call = graph
        .call(id)
        .ok_or_else(|| "expected a numpy.dtype(...) object".to_string())?;
    let global = graph
        .global(call.callable)
        .ok_or_else(|| "dtype built by something other than numpy.dtype".to_string())?;
    if !is_dtype_global(&global.module, &global.name) {
        return Err(format!(
            "dtype built by {}.{}, not numpy.dtype",
            global.module, global.name
        ));
    }
    let args = tuple_items(graph, call.args).ok_or("numpy.dtype arguments are not a tuple")?;
    let type_string = args
        .first()
        .and_then(|&a| text(graph, a))
        .ok_or("numpy.dtype needs a type string")?;
    let mut chars = type_string.chars();
    let kind = chars.next().ok_or("empty dtype string")?;
    let kind = if kind == 'a' { 'S' } else { kind };
    let digits: String = chars.collect();
    let size_from_string: Option<u64> = digits.parse().ok();

    // BUILD state; without it numpy would use native order and default sizes.
    let state: Vec<NodeId> = call
        .state
        .and_then(|s| tuple_items(graph, s))
        .map(<[NodeId]>::to_vec)
        .unwrap_or_default();
    let get = |i: usize| state.get(i).copied();
    let (endian_at, subarray_at, names_at, fields_at, elsize_at, metadata_at) = match state.len() {
        9 => (1, Some(2), Some(3), Some(4), Some(5), Some(8)),
        8 => (1, Some(2), Some(3), Some(4), Some(5), None),
        // numpy < 1.7 layouts
        7 => (1, Some(2), Some(3), Some(4), Some(5), None),
        6 => (1, Some(2), None, Some(3), Some(4), None),
        0 => (usize::MAX, None, None, None, None, None),
        n => return Err(format!("dtype state of unknown layout ({n} items)")),
    };
    let byteorder = match get(endian_at).and_then(|e| text(graph, e)).as_deref() {
        Some(">") => ByteOrder::Big,
        Some("|") => ByteOrder::NotApplicable,
        // '<', and '=' (the writer's native order: every platform numpy ships for today is
        // little-endian).
        _ if matches!(kind, 'b' | 'S' | 'V' | 'O') => ByteOrder::NotApplicable,
        _ if size_from_string == Some(1) && matches!(kind, 'i' | 'u') => ByteOrder::NotApplicable,
        _ => ByteOrder::Little,
    };
    let elsize = elsize_at
        .and_then(get)
        .and_then(|e| graph.int(e))
        .filter(|&e| e >= 0)
        .map(|e| e as u64);

    // Subarray: (base dtype, shape).
    if let Some(sub) = subarray_at.and_then(get) {
        if let Some(items) = tuple_items(graph, sub) {
            let [base, shape] = items else {
                return Err("dtype subarray is not (base, shape)".into());
            };
            let base = parse_within(graph, *base, depth + 1, budget)?;
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
                    .map(|&d| graph.int(d).and_then(|v| u64::try_from(v).ok()))
                    .collect::<Option<Vec<u64>>>()
                    .ok_or("dtype subarray shape is not non-negative ints")?,
                _ => vec![graph
                    .int(*shape)
                    .and_then(|v| u64::try_from(v).ok())
                    .ok_or("dtype subarray shape is not an int")?],
            };
            return Ok(DType::SubArray {
                base: Box::new(base),
                shape,
            });
        }
    }

    // Structured: names and the fields dict name -> (dtype, offset[, title]).
    let names = names_at.and_then(get).and_then(|n| tuple_items(graph, n));
    let fields = fields_at.and_then(get);
    if let (Some(names), Some(fields)) = (names, fields) {
        // Each name is looked up in the fields dict: bound both before the quadratic part.
        let entries = match graph.node(fields) {
            Node::Dict(pairs) => pairs.len(),
            _ => 0,
        };
        if names.len().max(entries) > *budget as usize {
            return Err(format!(
                "dtype has more than {MAX_DTYPE_PARTS} fields and subarrays"
            ));
        }
        let mut out = Vec::with_capacity(names.len());
        for &name_id in names {
            let name = text(graph, name_id).ok_or("dtype field name is not text")?;
            let entry = graph
                .dict_get(fields, &name)
                .ok_or_else(|| format!("dtype field {name:?} missing from fields"))?;
            let entry = tuple_items(graph, entry).ok_or("dtype field entry is not a tuple")?;
            let (dtype_id, offset_id) = match entry {
                [d, o, ..] => (*d, *o),
                _ => return Err("dtype field entry is too short".into()),
            };
            let offset = graph
                .int(offset_id)
                .and_then(|o| u64::try_from(o).ok())
                .ok_or("dtype field offset is not a non-negative int")?;
            let title = entry.get(2).and_then(|&t| text(graph, t));
            out.push(Field {
                name,
                title,
                dtype: parse_within(graph, dtype_id, depth + 1, budget)?,
                offset,
            });
        }
        let itemsize = elsize.or(size_from_string).unwrap_or(0);
        return Ok(DType::Structured {
            fields: out,
            itemsize,
        });
    }

    let itemsize = match kind {
        'U' | 'S' | 'V' => elsize.or(size_from_string.map(|n| if kind == 'U' { n * 4 } else { n })),
        'O' => Some(8),
        'M' | 'm' => Some(8),
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
    let unit = if matches!(kind, 'M' | 'm') {
        Some(datetime_unit(graph, metadata_at.and_then(get)))
    } else {
        None
    };
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
fn datetime_unit(graph: &Graph<'_>, metadata: Option<NodeId>) -> String {
    let Some(items) = metadata.and_then(|m| graph.tuple(m)) else {
        return String::new();
    };
    let Some(info) = items.get(1).and_then(|&i| graph.tuple(i)) else {
        return String::new();
    };
    let unit = info
        .first()
        .and_then(|&u| text(graph, u))
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
pub fn from_npy_descr(descr: &crate::container::Descr) -> Option<DType> {
    use crate::container::Descr;
    match descr {
        Descr::Str(s) => DType::from_str_descr(s),
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
            aligned.descr(),
            json!([["x", "|u1"], ["", "|V3"], ["y", "<i4"]])
        );
    }
}
