//! Pickled pandas DataFrames and Series, read from the object graph without pandas.
//!
//! What pandas pickles is its internal layout: a `DataFrame` (or `Series`) whose BUILD state
//! holds `_mgr` (`_data` before pandas 1.1), a `BlockManager` (`SingleBlockManager`) made
//! either by calling the class with `(blocks, axes)` (pandas ≥ 2.1: each block an
//! `_unpickle_block(values, placement, ndim)` call) or by BUILD state
//! `(axes, values, items, {"0.14.1": {"axes", "blocks": [{"values", "mgr_locs"}]}})`
//! (pandas ≤ 2.0). Axes are `_new_Index(cls, {…})` calls: `RangeIndex` (start, stop, step),
//! `Index` of any values, `DatetimeIndex` (a `DatetimeArray` with or without a time zone),
//! `MultiIndex` (levels and codes). Block values are numpy arrays (2-D, one row per column)
//! or extension arrays: `IntegerArray`/`FloatingArray`/`BooleanArray` (`_data` + `_mask`),
//! `Categorical` (codes + a `CategoricalDtype`), `DatetimeArray`/`TimedeltaArray`,
//! `StringArray` (objects) and `ArrowStringArray` (a pyarrow `_restore_array` of
//! `large_string`/`string` buffers).
//!
//! Nothing is called: each construction is recognised by the global it names and its
//! arguments are read as data. Anything not recognised is an error naming the column (or
//! the part of the frame) so that a conversion refuses rather than drops it.

#![warn(clippy::arithmetic_side_effects)]

use std::borrow::Cow;
use std::collections::HashMap;

use super::layout::Layout;
use super::locate;
use crate::inspect::StreamView;
use crate::lift::{value::PlainValue, ArrayData, ByteOrder, DType, Lifted};
use crate::machine::{Graph, Node, NodeId};
use crate::report::ArrayReport;

/// How deep index and dtype objects may nest (a MultiIndex's levels are one level down).
const MAX_DEPTH: u32 = 16;

/// A label or an element of an object column.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Scalar {
    /// `None` (or a missing label).
    None,
    /// A Python bool.
    Bool(bool),
    /// A Python int that fits i64.
    Int(i64),
    /// A Python float.
    Float(f64),
    /// A Python str.
    Str(String),
}

impl Scalar {
    /// The label as pandas prints it in a CSV header (`str(label)`; nothing for `None`).
    pub(crate) fn label_text(&self) -> String {
        match self {
            Scalar::None => String::new(),
            Scalar::Bool(b) => if *b { "True" } else { "False" }.to_string(),
            Scalar::Int(v) => v.to_string(),
            Scalar::Float(x) => {
                let mut out = String::new();
                crate::pytext::repr_float(*x, &mut out);
                out
            }
            Scalar::Str(s) => s.clone(),
        }
    }

    /// The label as a name in pandas' Parquet metadata (`str(label)`, `None` for `None`).
    pub(crate) fn label_name(&self) -> Option<String> {
        match self {
            Scalar::None => None,
            other => Some(other.label_text()),
        }
    }
}

/// Numbers of one numpy type, native order.
#[derive(Clone, Debug, PartialEq)]
#[allow(missing_docs)]
pub(crate) enum Num {
    I8(Vec<i8>),
    I16(Vec<i16>),
    I32(Vec<i32>),
    I64(Vec<i64>),
    U8(Vec<u8>),
    U16(Vec<u16>),
    U32(Vec<u32>),
    U64(Vec<u64>),
    F32(Vec<f32>),
    F64(Vec<f64>),
}

impl Num {
    /// numpy's name of the type (`int64`).
    pub(crate) fn numpy_name(&self) -> &'static str {
        match self {
            Num::I8(_) => "int8",
            Num::I16(_) => "int16",
            Num::I32(_) => "int32",
            Num::I64(_) => "int64",
            Num::U8(_) => "uint8",
            Num::U16(_) => "uint16",
            Num::U32(_) => "uint32",
            Num::U64(_) => "uint64",
            Num::F32(_) => "float32",
            Num::F64(_) => "float64",
        }
    }

    /// How many values.
    pub(crate) fn len(&self) -> usize {
        match self {
            Num::I8(v) => v.len(),
            Num::I16(v) => v.len(),
            Num::I32(v) => v.len(),
            Num::I64(v) => v.len(),
            Num::U8(v) => v.len(),
            Num::U16(v) => v.len(),
            Num::U32(v) => v.len(),
            Num::U64(v) => v.len(),
            Num::F32(v) => v.len(),
            Num::F64(v) => v.len(),
        }
    }

    /// Value `i` as an integer (`None` for floats).
    pub(crate) fn int_at(&self, i: usize) -> Option<i128> {
        Some(match self {
            Num::I8(v) => i128::from(*v.get(i)?),
            Num::I16(v) => i128::from(*v.get(i)?),
            Num::I32(v) => i128::from(*v.get(i)?),
            Num::I64(v) => i128::from(*v.get(i)?),
            Num::U8(v) => i128::from(*v.get(i)?),
            Num::U16(v) => i128::from(*v.get(i)?),
            Num::U32(v) => i128::from(*v.get(i)?),
            Num::U64(v) => i128::from(*v.get(i)?),
            Num::F32(_) | Num::F64(_) => return None,
        })
    }

    /// Value `i` as a float (`None` for integers).
    pub(crate) fn float_at(&self, i: usize) -> Option<f64> {
        match self {
            Num::F32(v) => v.get(i).map(|&x| f64::from(x)),
            Num::F64(v) => v.get(i).copied(),
            _ => None,
        }
    }
}

/// How pandas stores a column of text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StrKind {
    /// A numpy object array of str (dtype `object`).
    Object,
    /// `StringDtype("python")` with `pd.NA` (dtype `string`).
    Python,
    /// `StringDtype("pyarrow")` with `pd.NA` (dtype `string`).
    Arrow,
    /// pandas 3's default `str` dtype (either storage, missing values are NaN).
    Str,
}

/// A datetime unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Unit {
    /// Seconds.
    S,
    /// Milliseconds.
    Ms,
    /// Microseconds.
    Us,
    /// Nanoseconds.
    Ns,
}

impl Unit {
    fn parse(text: &str) -> Option<Unit> {
        Some(match text {
            "s" => Unit::S,
            "ms" => Unit::Ms,
            "us" => Unit::Us,
            "ns" => Unit::Ns,
            _ => return None,
        })
    }

    /// numpy's spelling (`ns`).
    pub(crate) fn name(self) -> &'static str {
        match self {
            Unit::S => "s",
            Unit::Ms => "ms",
            Unit::Us => "us",
            Unit::Ns => "ns",
        }
    }

    /// Ticks per second.
    pub(crate) fn per_second(self) -> i64 {
        match self {
            Unit::S => 1,
            Unit::Ms => 1_000,
            Unit::Us => 1_000_000,
            Unit::Ns => 1_000_000_000,
        }
    }
}

/// numpy's NaT: the smallest i64.
pub(crate) const NAT: i64 = i64::MIN;

/// The values of one column (or index level), in row order.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Values {
    /// Numbers; `mask` (true = missing) for pandas' nullable `Int64`/`Float64` dtypes.
    Num {
        /// The values (a masked slot holds an arbitrary number).
        data: Num,
        /// Present for nullable (extension) dtypes.
        mask: Option<Vec<bool>>,
    },
    /// Booleans; `mask` for the nullable `boolean` dtype.
    Bool {
        /// The values.
        data: Vec<bool>,
        /// Present for `boolean`.
        mask: Option<Vec<bool>>,
    },
    /// Text, `None` where missing.
    Str {
        /// The values.
        data: Vec<Option<String>>,
        /// Which pandas dtype holds them.
        kind: StrKind,
    },
    /// An object column of mixed Python scalars.
    Objects(Vec<Scalar>),
    /// `datetime64[unit]` (with a time zone: `datetime64[unit, tz]`); NaT is [`NAT`].
    Datetime {
        /// Ticks since the epoch, UTC.
        data: Vec<i64>,
        /// The tick.
        unit: Unit,
        /// The time zone's name, if the column is tz-aware.
        tz: Option<String>,
    },
    /// `timedelta64[unit]`; NaT is [`NAT`].
    Timedelta {
        /// Ticks.
        data: Vec<i64>,
        /// The tick.
        unit: Unit,
    },
    /// `category`: codes (-1 = missing) into the categories.
    Category {
        /// The codes, in numpy's integer type for them.
        codes: Num,
        /// The categories (no missing values).
        categories: Box<Values>,
        /// Whether the categories are ordered.
        ordered: bool,
    },
}

impl Values {
    /// How many rows.
    pub(crate) fn len(&self) -> usize {
        match self {
            Values::Num { data, .. } => data.len(),
            Values::Bool { data, .. } => data.len(),
            Values::Str { data, .. } => data.len(),
            Values::Objects(data) => data.len(),
            Values::Datetime { data, .. } | Values::Timedelta { data, .. } => data.len(),
            Values::Category { codes, .. } => codes.len(),
        }
    }

    /// The pandas dtype, as `str(dtype)` spells it.
    pub(crate) fn dtype_name(&self) -> String {
        match self {
            Values::Num { data, mask: None } => data.numpy_name().to_string(),
            Values::Num {
                data,
                mask: Some(_),
            } => {
                let name = data.numpy_name();
                let mut chars = name.chars();
                match (name.starts_with('u'), chars.next()) {
                    (true, _) => format!("UInt{}", &name[4..]),
                    (false, Some(first)) => {
                        format!("{}{}", first.to_ascii_uppercase(), chars.as_str())
                    }
                    (false, None) => String::new(),
                }
            }
            Values::Bool { mask: None, .. } => "bool".into(),
            Values::Bool { mask: Some(_), .. } => "boolean".into(),
            Values::Str { kind, .. } => match kind {
                StrKind::Object => "object",
                StrKind::Python | StrKind::Arrow => "string",
                StrKind::Str => "str",
            }
            .into(),
            Values::Objects(_) => "object".into(),
            Values::Datetime { unit, tz: None, .. } => format!("datetime64[{}]", unit.name()),
            Values::Datetime {
                unit, tz: Some(tz), ..
            } => format!("datetime64[{}, {tz}]", unit.name()),
            Values::Timedelta { unit, .. } => format!("timedelta64[{}]", unit.name()),
            Values::Category { .. } => "category".into(),
        }
    }
}

/// A frame's row index.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum FrameIndex {
    /// `RangeIndex(start, stop, step, name)`.
    Range {
        /// First value.
        start: i64,
        /// End (exclusive).
        stop: i64,
        /// Step (not 0).
        step: i64,
        /// The index's name.
        name: Scalar,
    },
    /// An index of values: one level, or a MultiIndex's levels taken by their codes.
    Levels(Vec<(Scalar, Values)>),
}

/// A DataFrame (or a Series, as a frame of one column).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Frame {
    /// Columns in order: label and values.
    pub columns: Vec<(Scalar, Values)>,
    /// The row index.
    pub index: FrameIndex,
    /// Rows.
    pub rows: usize,
    /// The name of the columns' index (`df.columns.name`).
    pub columns_name: Scalar,
    /// Whether the pickle held a Series.
    pub series: bool,
}

/// Whether `node` builds a pandas DataFrame or Series: its class name.
pub(crate) fn frame_class(
    graph: &Graph<'_>,
    lifted: &Lifted,
    node: NodeId,
) -> Option<&'static str> {
    let (module, name) = class_name(graph, lifted, node)?;
    if module != "pandas" && !module.starts_with("pandas.") {
        return None;
    }
    match name {
        "DataFrame" => Some("DataFrame"),
        "Series" => Some("Series"),
        _ => None,
    }
}

/// The class a call builds: the callable's global, or the class given to copyreg's helpers.
fn class_name<'g>(
    graph: &'g Graph<'_>,
    lifted: &Lifted,
    node: NodeId,
) -> Option<(&'g str, &'g str)> {
    let call = graph.call(node)?;
    let class = match lifted.constructed_class(graph, node) {
        Some((class, _)) => class,
        None => call.callable,
    };
    let global = graph.global(class)?;
    // Cython's `__pyx_unpickle_<Base>(cls, checksum, state)` builds an instance of `cls`.
    if global.name.starts_with("__pyx_unpickle_") {
        let cls = *graph.tuple(call.args)?.first()?;
        let global = graph.global(cls)?;
        return Some((&global.module, &global.name));
    }
    Some((&global.module, &global.name))
}

/// Reads frames from one stream's graph.
pub(crate) struct Reader<'r, 'v, 'd> {
    view: &'r StreamView<'v, 'd>,
    graph: &'r Graph<'d>,
    lifted: &'r Lifted,
    reports: HashMap<NodeId, &'r ArrayReport>,
}

/// An array located in its buffer.
struct Located<'a> {
    dtype: DType,
    shape: Vec<u64>,
    data: LocatedData<'a>,
}

enum LocatedData<'a> {
    Bytes(Cow<'a, [u8]>, Layout),
    /// Object elements, in C order.
    Objects(Vec<NodeId>),
}

type Res<T> = std::result::Result<T, String>;

impl<'r, 'v, 'd> Reader<'r, 'v, 'd> {
    /// A reader of the frames in `view`'s stream.
    pub(crate) fn new(view: &'r StreamView<'v, 'd>) -> Reader<'r, 'v, 'd> {
        let mut reports = HashMap::new();
        for array in view.pickles.iter().flat_map(|p| p.arrays.iter()) {
            if let Some(node) = array.node {
                reports.entry(node).or_insert(array);
            }
        }
        Reader {
            view,
            graph: &view.stream.graph,
            lifted: view.lifted,
            reports,
        }
    }

    /// The graph read.
    pub(crate) fn graph(&self) -> &'r Graph<'d> {
        self.graph
    }

    /// The lift pass of the graph.
    pub(crate) fn lifted(&self) -> &'r Lifted {
        self.lifted
    }

    fn class(&self, node: NodeId) -> Option<(&'r str, &'r str)> {
        class_name(self.graph, self.lifted, node)
    }

    fn class_is(&self, node: NodeId, name: &str) -> bool {
        self.class(node).is_some_and(|(_, n)| n == name)
    }

    /// The BUILD state of a call, or its dict items.
    fn state(&self, node: NodeId) -> Option<NodeId> {
        self.graph.call(node)?.state
    }

    /// `state[key]` of an object whose state is a dict (or a `(dict, slots)` pair).
    fn attr(&self, node: NodeId, key: &str) -> Option<NodeId> {
        let state = self.state(node)?;
        if let Some(found) = self.graph.dict_get(state, key) {
            return Some(found);
        }
        let pair = self.graph.tuple(state)?;
        pair.iter().find_map(|&part| self.graph.dict_get(part, key))
    }

    /// The real arguments of a call (after copyreg's class argument).
    fn args(&self, node: NodeId) -> &'r [NodeId] {
        let Some(call) = self.graph.call(node) else {
            return &[];
        };
        let args = self.graph.tuple(call.args).unwrap_or(&[]);
        match self.lifted.constructed_class(self.graph, node) {
            Some((_, skip)) => args.get(skip..).unwrap_or(&[]),
            None => args,
        }
    }

    /// A mapping's value: a dict node or an `OrderedDict(...)`.
    fn get(&self, dict: NodeId, key: &str) -> Option<NodeId> {
        if let Some(found) = self.graph.dict_get(dict, key) {
            return Some(found);
        }
        match self.lifted.plain(self.graph, dict) {
            Some(PlainValue::OrderedDict(pairs)) => pairs
                .iter()
                .rev()
                .find(|(k, _)| self.graph.str(*k) == Some(key))
                .map(|(_, v)| *v),
            _ => None,
        }
    }

    fn items(&self, node: NodeId) -> Option<&'r [NodeId]> {
        self.graph.tuple(node).or_else(|| self.graph.list(node))
    }

    /// A label or object element.
    fn scalar(&self, node: NodeId) -> Res<Scalar> {
        Ok(match self.graph.node(node) {
            Node::None => Scalar::None,
            Node::Bool(b) => Scalar::Bool(b),
            Node::Int(v) => Scalar::Int(v),
            Node::Float(x) => Scalar::Float(x),
            Node::Str(s) => Scalar::Str(s.to_string()),
            Node::BigInt(_) => return Err("an int beyond 64 bits".into()),
            _ if self.is_missing(node) => Scalar::None,
            _ => match self.numpy_scalar(node) {
                Some(found) => found,
                None => return Err(format!("a Python object ({})", self.describe(node))),
            },
        })
    }

    /// `pandas.NA` (a global) or `pandas.NaT` (`__nat_unpickle()`).
    fn is_missing(&self, node: NodeId) -> bool {
        let global = match self.graph.node(node) {
            Node::Global { .. } => self.graph.global(node),
            _ => self
                .graph
                .call(node)
                .and_then(|c| self.graph.global(c.callable)),
        };
        global.is_some_and(|g| {
            g.module.starts_with("pandas") && matches!(&*g.name, "NA" | "NaT" | "__nat_unpickle")
        })
    }

    /// A numpy scalar (`numpy.int64(3)`), as the Python value it equals.
    fn numpy_scalar(&self, node: NodeId) -> Option<Scalar> {
        let arr = self.array(node).ok()?;
        // Numbers only: an object scalar may hold itself (through the memo).
        if !arr.shape.is_empty() || matches!(arr.data, LocatedData::Objects(_)) {
            return None;
        }
        let values = self.column_of(&arr, None).ok()?;
        match values {
            Values::Num { data, .. } => match data.float_at(0) {
                Some(x) => Some(Scalar::Float(x)),
                None => i64::try_from(data.int_at(0)?).ok().map(Scalar::Int),
            },
            Values::Bool { data, .. } => data.first().map(|&b| Scalar::Bool(b)),
            _ => None,
        }
    }

    fn describe(&self, node: NodeId) -> String {
        match self.class(node) {
            Some((module, name)) => format!("{module}.{name}"),
            None => match self.graph.node(node) {
                Node::Tuple(_) => "tuple".into(),
                Node::List(_) => "list".into(),
                Node::Dict(_) => "dict".into(),
                Node::Bytes(..) => "bytes".into(),
                _ => "an unrecognised object".into(),
            },
        }
    }

    fn int(&self, node: NodeId) -> Option<i64> {
        match self.graph.node(node) {
            Node::Int(v) => Some(v),
            Node::Bool(b) => Some(i64::from(b)),
            _ => match self.numpy_scalar(node)? {
                Scalar::Int(v) => Some(v),
                _ => None,
            },
        }
    }

    /// The bytes of a `bytes`, a `bytearray`, or either as protocols < 5 write them.
    fn bytes(&self, node: NodeId) -> Option<Cow<'r, [u8]>> {
        match self.graph.node(node) {
            Node::Bytes(bytes, _) => Some(Cow::Borrowed(bytes)),
            _ => match self.lifted.plain(self.graph, node)? {
                PlainValue::ByteArray(b) => Some(b),
                PlainValue::Bytes(b) => Some(Cow::Owned(b)),
                _ => None,
            },
        }
    }

    /// The numpy array built at `node`, located in its buffer.
    fn array(&self, node: NodeId) -> Res<Located<'r>> {
        let report = self
            .reports
            .get(&node)
            .ok_or_else(|| format!("not a numpy array ({})", self.describe(node)))?;
        let info = &report.info;
        if let ArrayData::Objects(list) = &info.data {
            let items = self
                .graph
                .list(*list)
                .ok_or("object array elements are not a list")?;
            return Ok(Located {
                dtype: info.dtype.clone(),
                shape: info.shape.clone(),
                data: LocatedData::Objects(items.to_vec()),
            });
        }
        let (buffer, layout) = locate(Some(self.graph), self.view.bytes, Some(self.view), report)?;
        Ok(Located {
            dtype: info.dtype.clone(),
            shape: info.shape.clone(),
            data: LocatedData::Bytes(buffer, layout),
        })
    }

    /// Row `row` of a 2-D block (or the whole of a 1-D array) as column values.
    fn column_of(&self, arr: &Located<'_>, row: Option<usize>) -> Res<Values> {
        let (count, elements) = row_elements(&arr.shape, row)?;
        match &arr.data {
            LocatedData::Objects(items) => {
                let mut out = Vec::with_capacity(count.min(items.len()));
                for at in elements {
                    let node = *items.get(at).ok_or("object array shorter than its shape")?;
                    out.push(self.scalar(node)?);
                }
                Ok(objects_to_values(out))
            }
            LocatedData::Bytes(buffer, layout) => {
                let offsets = element_offsets(layout, &arr.shape, row, count)?;
                decode(&arr.dtype, buffer, &offsets)
            }
        }
    }
}

/// The flat (C-order) element numbers of row `row` of a 2-D array, or all of a 1-D (or 0-d)
/// array: `(count, iterator)`.
fn row_elements(shape: &[u64], row: Option<usize>) -> Res<(usize, std::ops::Range<usize>)> {
    let usize_of = |v: u64| usize::try_from(v).map_err(|_| "array too large".to_string());
    match (shape, row) {
        ([], None) => Ok((1, 0..1)),
        ([n], None) => {
            let n = usize_of(*n)?;
            Ok((n, 0..n))
        }
        ([rows, n], Some(r)) if (r as u64) < *rows => {
            let n = usize_of(*n)?;
            let start = r.checked_mul(n).ok_or("array too large")?;
            let end = start.checked_add(n).ok_or("array too large")?;
            Ok((n, start..end))
        }
        _ => Err(format!("unexpected block shape {shape:?}")),
    }
}

/// Byte offsets of the elements of `row` (2-D) or of the whole 1-D array.
fn element_offsets(
    layout: &Layout,
    shape: &[u64],
    row: Option<usize>,
    count: usize,
) -> Res<Vec<usize>> {
    let mut out = Vec::with_capacity(count.min(layout.count().unwrap_or(0) as usize));
    let base = match (row, layout.strides.first()) {
        (Some(r), Some(&s)) if shape.len() == 2 => (r as u64).checked_mul(s),
        _ => Some(0),
    }
    .and_then(|b| b.checked_add(layout.offset as u64))
    .ok_or("array offset overflows")?;
    let step = match shape.len() {
        2 => layout.strides.get(1).copied().unwrap_or(0),
        _ => layout.strides.first().copied().unwrap_or(0),
    };
    let mut at = base;
    for _ in 0..count {
        out.push(usize::try_from(at).map_err(|_| "array offset overflows")?);
        at = at.checked_add(step).ok_or("array offset overflows")?;
    }
    Ok(out)
}

/// Reads `N` bytes at `at` in the dtype's order, as native-order bytes.
fn read_n<const N: usize>(buffer: &[u8], at: usize, order: ByteOrder) -> Res<[u8; N]> {
    let bytes: [u8; N] = at
        .checked_add(N)
        .and_then(|end| buffer.get(at..end))
        .and_then(|b| b.try_into().ok())
        .ok_or("array element outside its buffer")?;
    Ok(match order {
        ByteOrder::Big => {
            let mut b = bytes;
            b.reverse();
            b
        }
        _ => bytes,
    })
}

macro_rules! gather {
    ($variant:ident, $ty:ty, $n:literal, $buffer:expr, $offsets:expr, $order:expr) => {{
        let mut v: Vec<$ty> = Vec::with_capacity($offsets.len());
        for &at in $offsets {
            v.push(<$ty>::from_le_bytes(read_n::<$n>($buffer, at, $order)?));
        }
        Num::$variant(v)
    }};
}

/// Decodes numeric, bool, datetime and timedelta elements.
fn decode(dtype: &DType, buffer: &[u8], offsets: &[usize]) -> Res<Values> {
    let DType::Scalar {
        kind,
        itemsize,
        byteorder,
        unit,
    } = dtype
    else {
        return Err(format!("unsupported array dtype {}", dtype.str()));
    };
    let order = if cfg!(target_endian = "little") || *byteorder != ByteOrder::Little {
        *byteorder
    } else {
        ByteOrder::Big
    };
    let num = match (kind, itemsize) {
        ('b', 1) => {
            let mut v = Vec::with_capacity(offsets.len());
            for &at in offsets {
                v.push(read_n::<1>(buffer, at, order)?[0] != 0);
            }
            return Ok(Values::Bool {
                data: v,
                mask: None,
            });
        }
        ('i', 1) => gather!(I8, i8, 1, buffer, offsets, order),
        ('i', 2) => gather!(I16, i16, 2, buffer, offsets, order),
        ('i', 4) => gather!(I32, i32, 4, buffer, offsets, order),
        ('i' | 'M' | 'm', 8) => gather!(I64, i64, 8, buffer, offsets, order),
        ('u', 1) => gather!(U8, u8, 1, buffer, offsets, order),
        ('u', 2) => gather!(U16, u16, 2, buffer, offsets, order),
        ('u', 4) => gather!(U32, u32, 4, buffer, offsets, order),
        ('u', 8) => gather!(U64, u64, 8, buffer, offsets, order),
        ('f', 4) => gather!(F32, f32, 4, buffer, offsets, order),
        ('f', 8) => gather!(F64, f64, 8, buffer, offsets, order),
        _ => return Err(format!("unsupported array dtype {}", dtype.str())),
    };
    match (kind, num) {
        ('M' | 'm', Num::I64(data)) => {
            let unit = unit
                .as_deref()
                .and_then(Unit::parse)
                .ok_or_else(|| format!("unsupported datetime unit in {}", dtype.str()))?;
            Ok(if *kind == 'M' {
                Values::Datetime {
                    data,
                    unit,
                    tz: None,
                }
            } else {
                Values::Timedelta { data, unit }
            })
        }
        (_, num) => Ok(Values::Num {
            data: num,
            mask: None,
        }),
    }
}

/// An object column: text where every value is a str or missing, else mixed scalars.
fn objects_to_values(items: Vec<Scalar>) -> Values {
    let text = items
        .iter()
        .all(|s| matches!(s, Scalar::Str(_) | Scalar::None) || is_nan(s));
    if !text || items.iter().all(|s| !matches!(s, Scalar::Str(_))) {
        return Values::Objects(items);
    }
    Values::Str {
        data: items
            .into_iter()
            .map(|s| match s {
                Scalar::Str(s) => Some(s),
                _ => None,
            })
            .collect(),
        kind: StrKind::Object,
    }
}

fn is_nan(s: &Scalar) -> bool {
    matches!(s, Scalar::Float(x) if x.is_nan())
}

/// Where a block's columns go: a slice `start..stop` by `step`, or a list of positions.
fn placement(reader: &Reader<'_, '_, '_>, node: NodeId, count: usize) -> Res<Vec<usize>> {
    let graph = reader.graph;
    if reader.class_is(node, "slice") {
        let args = reader.args(node);
        let get = |i: usize, default: i64| match args.get(i) {
            Some(&a) => reader
                .int(a)
                .or(matches!(graph.node(a), Node::None).then_some(default)),
            None => Some(default),
        };
        let (start, stop, step) = (get(0, 0), get(1, 0), get(2, 1));
        let (Some(start), Some(stop), Some(step)) = (start, stop, step) else {
            return Err("block placement slice is not of ints".into());
        };
        if step <= 0 || start < 0 {
            return Err("block placement slice is not increasing".into());
        }
        let positions: Vec<usize> = (start..stop)
            .step_by(usize::try_from(step).map_err(|_| "bad step")?)
            .take(count.saturating_add(1))
            .map(|p| usize::try_from(p).unwrap_or(usize::MAX))
            .collect();
        return Ok(positions);
    }
    if let Some(items) = reader.items(node) {
        return items
            .iter()
            .map(|&i| reader.int(i).and_then(|v| usize::try_from(v).ok()))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| "block placement is not a list of ints".into());
    }
    let arr = reader.array(node)?;
    match reader.column_of(&arr, None)? {
        Values::Num { data, .. } => (0..data.len())
            .map(|i| data.int_at(i).and_then(|v| usize::try_from(v).ok()))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| "block placement is not of ints".into()),
        _ => Err("block placement is not of ints".into()),
    }
}

/// One block: its values node and the column positions it fills.
struct Block {
    values: NodeId,
    placement: NodeId,
}

/// The manager's axes (columns first for a frame) and blocks.
fn manager(reader: &Reader<'_, '_, '_>, mgr: NodeId) -> Res<(Vec<NodeId>, Vec<Block>)> {
    let args = reader.args(mgr);
    // pandas >= 2.1: BlockManager(blocks, axes) / SingleBlockManager(block, axis).
    if let [blocks, axes, ..] = args {
        let axes = match reader.items(*axes) {
            Some(items) => items.to_vec(),
            None => vec![*axes],
        };
        let blocks = match reader.items(*blocks) {
            Some(items) => items.to_vec(),
            None => vec![*blocks],
        };
        let mut out = Vec::with_capacity(blocks.len());
        for block in blocks {
            let name = reader.class(block).map(|(_, n)| n);
            let b = reader.args(block);
            match (name, b) {
                (Some("_unpickle_block" | "new_block"), [values, placement, ..]) => {
                    out.push(Block {
                        values: *values,
                        placement: *placement,
                    })
                }
                _ => return Err(format!("unrecognised block ({})", reader.describe(block))),
            }
        }
        return Ok((axes, out));
    }
    // pandas <= 2.0: BUILD state (axes, values, items, {"0.14.1": {"axes", "blocks"}}).
    let state = reader.state(mgr).ok_or("the block manager has no state")?;
    let parts = reader
        .items(state)
        .ok_or("the block manager's state is not a tuple")?;
    let extra = parts
        .get(3)
        .and_then(|&e| reader.get(e, "0.14.1"))
        .ok_or("the block manager's state has no 0.14.1 layout (pandas < 0.14 is not read)")?;
    let axes = reader
        .get(extra, "axes")
        .and_then(|a| reader.items(a))
        .ok_or("the block manager has no axes")?
        .to_vec();
    let blocks = reader
        .get(extra, "blocks")
        .and_then(|b| reader.items(b))
        .ok_or("the block manager has no blocks")?;
    let mut out = Vec::with_capacity(blocks.len());
    for &block in blocks {
        let values = reader.get(block, "values");
        let placement = reader.get(block, "mgr_locs");
        match (values, placement) {
            (Some(values), Some(placement)) => out.push(Block { values, placement }),
            _ => return Err("a block without values or mgr_locs".into()),
        }
    }
    Ok((axes, out))
}

impl Reader<'_, '_, '_> {
    /// The columns a block holds: the rows of a 2-D array (numpy, or a datetime array
    /// pandas keeps 2-D), or one 1-D array.
    fn block_columns(&self, values: NodeId) -> Res<Vec<Values>> {
        if self.reports.contains_key(&values) {
            return self.rows(values);
        }
        self.extension(values, 0)
    }

    /// A numpy array's rows (2-D) or the array itself (1-D).
    fn rows(&self, node: NodeId) -> Res<Vec<Values>> {
        let arr = self.array(node)?;
        match arr.shape.as_slice() {
            [_] => Ok(vec![self.column_of(&arr, None)?]),
            [k, _] => {
                let k = usize::try_from(*k).map_err(|_| "a block too large")?;
                (0..k).map(|r| self.column_of(&arr, Some(r))).collect()
            }
            shape => Err(format!("an array of shape {shape:?}")),
        }
    }

    /// A 1-D array of values: numpy or an extension array.
    fn values(&self, node: NodeId, depth: u32) -> Res<Values> {
        let mut found = if self.reports.contains_key(&node) {
            self.rows(node)?
        } else {
            self.extension(node, depth)?
        };
        match (found.len(), self.array(node).map(|a| a.shape.len())) {
            (1, Ok(1) | Err(_)) => Ok(found.remove(0)),
            _ => Err("a 2-D array where 1-D values were expected".into()),
        }
    }

    /// `(dtype, ndarray)` of an `NDArrayBacked` array (`Categorical`, `DatetimeArray`,
    /// `TimedeltaArray`, `StringArray`): a state tuple, or a dict of `_dtype`/`_ndarray`.
    fn ndarray_backed(&self, node: NodeId) -> Res<(NodeId, NodeId)> {
        let state = self.state(node).ok_or("an extension array without state")?;
        if let Some(&[dtype, data, ..]) = self.graph.tuple(state) {
            return Ok((dtype, data));
        }
        let dtype = self
            .attr(node, "_dtype")
            .or_else(|| self.attr(node, "dtype"));
        let data = ["_ndarray", "_codes", "_data"]
            .iter()
            .find_map(|k| self.attr(node, k));
        dtype
            .zip(data)
            .ok_or_else(|| "an extension array without _dtype and _ndarray".into())
    }

    /// An extension array (or an object that is not a numpy array): its columns (more than
    /// one only for a 2-D datetime array).
    fn extension(&self, node: NodeId, depth: u32) -> Res<Vec<Values>> {
        if depth > MAX_DEPTH {
            return Err("nested too deep".into());
        }
        let depth = depth.saturating_add(1);
        let name = self.class(node).map(|(_, n)| n).unwrap_or_default();
        let one = match name {
            "IntegerArray" | "FloatingArray" | "BooleanArray" => self.masked(node, depth),
            "Categorical" => self.categorical(node, depth),
            "DatetimeArray" | "TimedeltaArray" => {
                let (dtype, data) = self.ndarray_backed(node)?;
                let mut columns = self.rows(data)?;
                let zone = self.dtype_tz(dtype)?;
                for values in &mut columns {
                    if let Values::Datetime { tz, .. } = values {
                        tz.clone_from(&zone);
                    }
                }
                return Ok(columns);
            }
            "StringArray" | "StringArrayNumpySemantics" => {
                let (dtype, data) = self.ndarray_backed(node)?;
                let values = self.values(data, depth)?;
                self.as_strings(values, self.string_kind(dtype, false))
            }
            "ArrowStringArray" | "ArrowStringArrayNumpySemantics" => {
                let array = self
                    .attr(node, "_pa_array")
                    .or_else(|| self.attr(node, "_data"));
                let array = array.ok_or("an ArrowStringArray without _pa_array")?;
                let kind = match self.attr(node, "_dtype") {
                    Some(dtype) => self.string_kind(dtype, true),
                    None if name.ends_with("Semantics") => StrKind::Str,
                    None => StrKind::Arrow,
                };
                Ok(Values::Str {
                    data: self.arrow_strings(array, depth)?,
                    kind,
                })
            }
            _ => Err(format!("unsupported values ({})", self.describe(node))),
        };
        one.map(|v| vec![v])
    }

    /// Object values as text of the string dtype `kind`.
    fn as_strings(&self, values: Values, kind: StrKind) -> Res<Values> {
        match values {
            Values::Str { data, .. } => Ok(Values::Str { data, kind }),
            Values::Objects(items)
                if items.iter().all(|s| matches!(s, Scalar::None) || is_nan(s)) =>
            {
                Ok(Values::Str {
                    data: vec![None; items.len()],
                    kind,
                })
            }
            Values::Objects(_) => Err("a string array holding non-str values".into()),
            other => Err(format!("a string array of {}", other.dtype_name())),
        }
    }

    /// `StringDtype(storage, na_value)`: which string dtype.
    fn string_kind(&self, dtype: NodeId, arrow: bool) -> StrKind {
        let args = self.args(dtype);
        let state = |k: &str| self.attr(dtype, k);
        let na = args.get(1).copied().or_else(|| state("_na_value"));
        let nan = na.is_some_and(|n| matches!(self.graph.node(n), Node::Float(x) if x.is_nan()));
        match (nan, arrow) {
            (true, _) => StrKind::Str,
            (false, true) => StrKind::Arrow,
            (false, false) => StrKind::Python,
        }
    }

    /// `IntegerArray`/`FloatingArray`/`BooleanArray`: `_data` and `_mask`.
    fn masked(&self, node: NodeId, depth: u32) -> Res<Values> {
        let data = self
            .attr(node, "_data")
            .ok_or("a masked array without _data")?;
        let mask = self
            .attr(node, "_mask")
            .ok_or("a masked array without _mask")?;
        let data = self.values(data, depth)?;
        let Values::Bool { data: mask, .. } = self.values(mask, depth)? else {
            return Err("a masked array whose mask is not bool".into());
        };
        if mask.len() != data.len() {
            return Err("a masked array whose mask differs in length".into());
        }
        match data {
            Values::Num { data, .. } => Ok(Values::Num {
                data,
                mask: Some(mask),
            }),
            Values::Bool { data, .. } => Ok(Values::Bool {
                data,
                mask: Some(mask),
            }),
            other => Err(format!("a masked array of {}", other.dtype_name())),
        }
    }

    /// `Categorical`: codes and a `CategoricalDtype(categories, ordered)`.
    fn categorical(&self, node: NodeId, depth: u32) -> Res<Values> {
        let (dtype, codes) = self.ndarray_backed(node)?;
        let Values::Num { data: codes, .. } = self.values(codes, depth)? else {
            return Err("categorical codes are not integers".into());
        };
        let categories = self
            .attr(dtype, "categories")
            .or_else(|| self.args(dtype).first().copied())
            .ok_or("a CategoricalDtype without categories")?;
        let ordered = self
            .attr(dtype, "ordered")
            .or_else(|| self.attr(dtype, "_ordered"))
            .or_else(|| self.args(dtype).get(1).copied());
        let ordered = ordered.is_some_and(|o| matches!(self.graph.node(o), Node::Bool(true)));
        let categories = match self.index(categories, depth)? {
            FrameIndex::Levels(mut levels) if levels.len() == 1 => levels.remove(0).1,
            FrameIndex::Range {
                start, stop, step, ..
            } => range_values(start, stop, step)?,
            FrameIndex::Levels(_) => return Err("categories that are a MultiIndex".into()),
        };
        let n = categories.len() as i128;
        for i in 0..codes.len() {
            let code = codes
                .int_at(i)
                .ok_or("categorical codes are not integers")?;
            if code < -1 || code >= n {
                return Err(format!(
                    "categorical code {code} outside its {n} categories"
                ));
            }
        }
        Ok(Values::Category {
            codes,
            categories: Box::new(categories),
            ordered,
        })
    }

    /// The time zone of a `DatetimeTZDtype` (or `None` for a numpy datetime64 dtype).
    fn dtype_tz(&self, dtype: NodeId) -> Res<Option<String>> {
        if !self.class_is(dtype, "DatetimeTZDtype") {
            return Ok(None);
        }
        let tz = self
            .attr(dtype, "_tz")
            .or_else(|| self.attr(dtype, "tz"))
            .or_else(|| self.args(dtype).get(1).copied())
            .ok_or("a DatetimeTZDtype without a time zone")?;
        self.tz_name(tz).map(Some)
    }

    /// A time zone's IANA name: a str, a pytz zone (`pytz._p('Europe/Paris', …)`,
    /// `pytz._UTC()`), a `zoneinfo.ZoneInfo` (`getattr(ZoneInfo, '_unpickle')(key, 1)`),
    /// or UTC as `datetime.timezone.utc`.
    fn tz_name(&self, tz: NodeId) -> Res<String> {
        if let Some(name) = self.graph.str(tz) {
            return Ok(name.to_string());
        }
        let callable = self
            .callable_name(tz)
            .ok_or("a time zone that is not recognised")?;
        let first = self.args(tz).first().and_then(|&a| self.graph.str(a));
        match (callable.as_str(), first) {
            ("pytz._UTC", _) => Ok("UTC".into()),
            ("pytz._p" | "pytz.timezone", Some(key)) => Ok(key.to_string()),
            (
                "zoneinfo.ZoneInfo._unpickle"
                | "zoneinfo._zoneinfo.ZoneInfo._unpickle"
                | "zoneinfo.ZoneInfo",
                Some(key),
            ) => Ok(key.to_string()),
            ("datetime.timezone", _) if self.is_zero_timedelta(self.args(tz).first()) => {
                Ok("UTC".into())
            }
            // Fixed offsets, as pyarrow names them (`+05:30`).
            ("datetime.timezone", _) => {
                let delta = self.args(tz).first().copied();
                let delta = delta.filter(|&d| self.class_is(d, "timedelta"));
                let args = self.args(delta.ok_or("a datetime.timezone without a timedelta")?);
                let part = |i: usize| args.get(i).and_then(|&a| self.int(a)).unwrap_or(0);
                let seconds = part(0)
                    .checked_mul(86_400)
                    .and_then(|d| d.checked_add(part(1)))
                    .filter(|_| part(2) == 0)
                    .ok_or("a fixed time zone offset that is not whole seconds")?;
                offset_name(seconds)
            }
            ("pytz.FixedOffset", _) => {
                let minutes = self.args(tz).first().and_then(|&a| self.int(a));
                offset_name(
                    minutes
                        .ok_or("pytz.FixedOffset without minutes")?
                        .saturating_mul(60),
                )
            }
            // dateutil's zone files (`tz.gettz("Europe/London")`): by their key, or the
            // file's path under a zoneinfo folder.
            ("dateutil.tz._tzfile._unpickle" | "dateutil.tz.tz.tzfile", _) => {
                let texts = self.args(tz).iter().filter_map(|&a| self.graph.str(a));
                texts
                    .map(|t| t.rsplit_once("zoneinfo/").map_or(t, |(_, key)| key))
                    .find(|key| !key.is_empty() && !key.starts_with('/'))
                    .map(str::to_string)
                    .ok_or_else(|| "a dateutil time zone without a zone name".to_string())
            }
            ("dateutil.tz.tz.tzutc", _) => Ok("UTC".into()),
            (other, _) => Err(format!("the time zone {other} is not recognised")),
        }
    }

    /// `module.name` of what a call calls: a global, or `getattr(global, 'attr')`.
    fn callable_name(&self, node: NodeId) -> Option<String> {
        let call = self.graph.call(node)?;
        if let Some(g) = self.graph.global(call.callable) {
            return Some(format!("{}.{}", g.module, g.name));
        }
        let inner = self.graph.call(call.callable)?;
        let g = self.graph.global(inner.callable)?;
        if (&*g.module, &*g.name) != ("builtins", "getattr") {
            return None;
        }
        let [owner, attr] = self.graph.tuple(inner.args)? else {
            return None;
        };
        let owner = self.graph.global(*owner)?;
        Some(format!(
            "{}.{}.{}",
            owner.module,
            owner.name,
            self.graph.str(*attr)?
        ))
    }

    fn is_zero_timedelta(&self, node: Option<&NodeId>) -> bool {
        let Some(&node) = node else { return false };
        self.class_is(node, "timedelta") && self.args(node).iter().all(|&a| self.int(a) == Some(0))
    }

    /// The strings of a pyarrow array (`_restore_array`) or chunked array.
    fn arrow_strings(&self, node: NodeId, depth: u32) -> Res<Vec<Option<String>>> {
        let name = self.class(node).map(|(_, n)| n).unwrap_or_default();
        let args = self.args(node);
        match name {
            "_restore_array" => {
                let state = args.first().and_then(|&s| self.items(s));
                self.arrow_array(state.ok_or("a pyarrow array without state")?)
            }
            "chunked_array" if depth < MAX_DEPTH => {
                let chunks = args
                    .first()
                    .and_then(|&c| self.items(c))
                    .ok_or("a pyarrow chunked array without chunks")?;
                let mut out = Vec::new();
                for &chunk in chunks {
                    out.extend(self.arrow_strings(chunk, depth.saturating_add(1))?);
                }
                Ok(out)
            }
            _ => Err(format!(
                "unsupported pyarrow data ({})",
                self.describe(node)
            )),
        }
    }

    /// One pyarrow array's state `(type, length, null_count, offset, buffers, children,
    /// dictionary)` of type `string` or `large_string`.
    fn arrow_array(&self, state: &[NodeId]) -> Res<Vec<Option<String>>> {
        let [ty, length, _nulls, offset, buffers, ..] = state else {
            return Err("a pyarrow array state of unexpected shape".into());
        };
        let ty = self.args(*ty).first().and_then(|&t| self.graph.str(t));
        let wide = match ty {
            Some("large_string" | "large_utf8") => true,
            Some("string" | "utf8") => false,
            other => return Err(format!("a pyarrow array of type {other:?}")),
        };
        let int = |n: NodeId| {
            self.int(n)
                .and_then(|v| usize::try_from(v).ok())
                .ok_or("a pyarrow array length that is not a count")
        };
        let (length, offset) = (int(*length)?, int(*offset)?);
        let buffers = self
            .items(*buffers)
            .ok_or("pyarrow buffers are not a list")?;
        let buffer = |i: usize| -> Res<Option<Cow<'_, [u8]>>> {
            let Some(&b) = buffers.get(i) else {
                return Ok(None);
            };
            if matches!(self.graph.node(b), Node::None) {
                return Ok(None);
            }
            let data = self.args(b).first().and_then(|&d| self.bytes(d));
            data.map(Some)
                .ok_or_else(|| "a pyarrow buffer that is not bytes".into())
        };
        let validity = buffer(0)?;
        let offsets = buffer(1)?.ok_or("a pyarrow string array without offsets")?;
        let data = buffer(2)?.unwrap_or(Cow::Borrowed(&[]));
        arrow_decode(validity.as_deref(), &offsets, &data, length, offset, wide)
    }
}

/// Decodes Arrow string arrays from their buffers, every bound checked.
fn arrow_decode(
    validity: Option<&[u8]>,
    offsets: &[u8],
    data: &[u8],
    length: usize,
    offset: usize,
    wide: bool,
) -> Res<Vec<Option<String>>> {
    let width = if wide { 8 } else { 4 };
    let bad = || "pyarrow string buffers out of bounds".to_string();
    let at = |i: usize| -> Res<usize> {
        let start = i.checked_mul(width).ok_or_else(bad)?;
        let bytes = offsets
            .get(start..start.checked_add(width).ok_or_else(bad)?)
            .ok_or_else(bad)?;
        let v = if wide {
            i64::from_le_bytes(bytes.try_into().map_err(|_| bad())?)
        } else {
            i64::from(i32::from_le_bytes(bytes.try_into().map_err(|_| bad())?))
        };
        usize::try_from(v).map_err(|_| bad())
    };
    let mut out = Vec::with_capacity(length.min(1 << 24));
    for i in 0..length {
        let slot = offset.checked_add(i).ok_or_else(bad)?;
        if let Some(bits) = validity {
            let byte = bits.get(slot / 8).ok_or_else(bad)?;
            if byte >> (slot % 8) & 1 == 0 {
                out.push(None);
                continue;
            }
        }
        let (start, end) = (at(slot)?, at(slot.checked_add(1).ok_or_else(bad)?)?);
        let bytes = data.get(start..end).ok_or_else(bad)?;
        let text = std::str::from_utf8(bytes).map_err(|_| "a pyarrow string that is not UTF-8")?;
        out.push(Some(text.to_string()));
    }
    Ok(out)
}

/// The values of a range, as int64.
fn range_values(start: i64, stop: i64, step: i64) -> Res<Values> {
    let n = range_len(start, stop, step)?;
    if n > MAX_RANGE_VALUES {
        return Err(format!(
            "a RangeIndex of {n} values where at most {MAX_RANGE_VALUES} are expanded"
        ));
    }
    let mut data = Vec::with_capacity(n);
    let mut v = start;
    for _ in 0..n {
        data.push(v);
        v = v.wrapping_add(step);
    }
    Ok(Values::Num {
        data: Num::I64(data),
        mask: None,
    })
}

/// How many values `range(start, stop, step)` has.
pub(crate) fn range_len(start: i64, stop: i64, step: i64) -> Res<usize> {
    let (from, to, step) = match step {
        0 => return Err("a RangeIndex with step 0".into()),
        s if s > 0 => (i128::from(start), i128::from(stop), i128::from(s)),
        s => (
            i128::from(stop),
            i128::from(start),
            i128::from(s).saturating_neg(),
        ),
    };
    let span = to.saturating_sub(from);
    if span <= 0 {
        return Ok(0);
    }
    // ceil(span / step), both positive.
    let n = span
        .div_euclid(step)
        .saturating_add(i128::from(span.rem_euclid(step) != 0));
    usize::try_from(n).map_err(|_| "a RangeIndex too long".into())
}

/// The most values a range is expanded to (categories, MultiIndex levels, column labels,
/// the rows of a frame without columns): input says how long a range is, and expanding
/// one costs memory per value.
const MAX_RANGE_VALUES: usize = 1 << 24;

impl Reader<'_, '_, '_> {
    /// An index: `_new_Index(cls, {…})` (or `_new_DatetimeIndex`) of a `RangeIndex`, a
    /// `MultiIndex` or an index of values.
    fn index(&self, node: NodeId, depth: u32) -> Res<FrameIndex> {
        if depth > MAX_DEPTH {
            return Err("index nested too deep".into());
        }
        let depth = depth.saturating_add(1);
        let args = self.args(node);
        let (Some(&class), Some(&dict)) = (args.first(), args.get(1)) else {
            return Err(format!("unrecognised index ({})", self.describe(node)));
        };
        let class = self
            .graph
            .global(class)
            .map(|g| g.name.to_string())
            .unwrap_or_default();
        let name = match self.get(dict, "name") {
            Some(n) => self.scalar(n)?,
            None => Scalar::None,
        };
        match class.as_str() {
            "RangeIndex" => {
                let int = |k: &str, default: i64| match self.get(dict, k) {
                    Some(v) => self.int(v).ok_or(format!("RangeIndex {k} is not an int")),
                    None => Ok(default),
                };
                let (start, stop, step) = (int("start", 0)?, int("stop", 0)?, int("step", 1)?);
                range_len(start, stop, step)?;
                Ok(FrameIndex::Range {
                    start,
                    stop,
                    step,
                    name,
                })
            }
            "MultiIndex" => self.multi_index(dict, depth),
            _ => {
                let data = self.get(dict, "data").ok_or("an index without data")?;
                let mut values = self.values(data, depth)?;
                if let (Values::Datetime { tz, .. }, Some(t)) = (&mut values, self.get(dict, "tz"))
                {
                    if !matches!(self.graph.node(t), Node::None) {
                        *tz = Some(self.tz_name(t)?);
                    }
                }
                Ok(FrameIndex::Levels(vec![(name, values)]))
            }
        }
    }

    /// A MultiIndex: each level's values taken by its codes.
    fn multi_index(&self, dict: NodeId, depth: u32) -> Res<FrameIndex> {
        let list = |k: &str| {
            self.get(dict, k)
                .and_then(|l| self.items(l))
                .ok_or(format!("a MultiIndex without {k}"))
        };
        let (levels, codes) = (list("levels")?, list("codes").or_else(|_| list("labels"))?);
        let names = list("names").unwrap_or(&[]);
        if levels.len() != codes.len() {
            return Err("a MultiIndex with as many levels as codes".into());
        }
        let mut out = Vec::with_capacity(levels.len());
        for (i, (&level, &code)) in levels.iter().zip(codes).enumerate() {
            let values = match self.index(level, depth)? {
                FrameIndex::Levels(mut l) if l.len() == 1 => l.remove(0).1,
                FrameIndex::Range {
                    start, stop, step, ..
                } => range_values(start, stop, step)?,
                FrameIndex::Levels(_) => {
                    return Err("a MultiIndex level that is a MultiIndex".into())
                }
            };
            let Values::Num { data: codes, .. } = self.values(code, depth)? else {
                return Err("MultiIndex codes are not integers".into());
            };
            let name = match names.get(i) {
                Some(&n) => self.scalar(n)?,
                None => Scalar::None,
            };
            out.push((name, take(&values, &codes)?));
        }
        Ok(FrameIndex::Levels(out))
    }

    /// The DataFrame or Series built at `node`.
    pub(crate) fn frame(&self, node: NodeId) -> Res<Frame> {
        let kind = frame_class(self.graph, self.lifted, node)
            .ok_or_else(|| format!("not a pandas DataFrame or Series ({})", self.describe(node)))?;
        let mgr = self
            .attr(node, "_mgr")
            .or_else(|| self.attr(node, "_data"))
            .ok_or("a DataFrame without _mgr")?;
        let (axes, blocks) = manager(self, mgr)?;
        let series = kind == "Series";
        let (labels, columns_name, index) = match (series, axes.as_slice()) {
            (true, [index]) => {
                let name = match self.attr(node, "_name").or_else(|| self.attr(node, "name")) {
                    Some(n) => self.scalar(n)?,
                    None => Scalar::None,
                };
                let label = match name {
                    Scalar::None => Scalar::Int(0),
                    other => other,
                };
                (vec![label], Scalar::None, self.index(*index, 0)?)
            }
            (false, [columns, index]) => {
                let (labels, name) = self.labels(*columns)?;
                (labels, name, self.index(*index, 0)?)
            }
            _ => return Err(format!("a {kind} with {} axes", axes.len())),
        };
        let rows = match &index {
            FrameIndex::Range {
                start, stop, step, ..
            } => range_len(*start, *stop, *step)?,
            FrameIndex::Levels(levels) => levels.first().map_or(0, |(_, v)| v.len()),
        };
        if columns_empty_and_long(&labels, rows) {
            return Err(format!(
                "a frame without columns and {rows} rows (at most {MAX_RANGE_VALUES} without data)"
            ));
        }
        let columns = if series {
            let [block] = blocks.as_slice() else {
                return Err(format!("a Series with {} blocks", blocks.len()));
            };
            let mut values = self.block_columns(block.values)?;
            match (values.pop(), values.is_empty()) {
                (Some(v), true) if v.len() == rows => labels.into_iter().zip([v]).collect(),
                _ => return Err("a Series whose values do not match its index".into()),
            }
        } else {
            self.fill_columns(labels, &blocks, rows)?
        };
        Ok(Frame {
            columns,
            index,
            rows,
            columns_name,
            series,
        })
    }

    /// Column labels: a flat index of str, int or float labels.
    fn labels(&self, columns: NodeId) -> Res<(Vec<Scalar>, Scalar)> {
        match self.index(columns, 0)? {
            FrameIndex::Range {
                start,
                stop,
                step,
                name,
            } => {
                let n = range_len(start, stop, step)?;
                if n > MAX_RANGE_VALUES {
                    return Err(format!("{n} column labels"));
                }
                let mut labels = Vec::with_capacity(n);
                let mut v = start;
                for _ in 0..n {
                    labels.push(Scalar::Int(v));
                    v = v.wrapping_add(step);
                }
                Ok((labels, name))
            }
            FrameIndex::Levels(mut levels) if levels.len() == 1 => {
                let (name, values) = levels.remove(0);
                Ok((labels_of(values)?, name))
            }
            FrameIndex::Levels(_) => Err("MultiIndex columns are not supported".into()),
        }
    }

    /// Places each block's columns at their positions; every position filled once.
    fn fill_columns(
        &self,
        labels: Vec<Scalar>,
        blocks: &[Block],
        rows: usize,
    ) -> Res<Vec<(Scalar, Values)>> {
        let mut slots: Vec<Option<Values>> = vec![None; labels.len()];
        for block in blocks {
            let positions = placement(self, block.placement, labels.len())?;
            let columns = self.block_columns(block.values).map_err(|e| {
                let names: Vec<String> = positions
                    .iter()
                    .filter_map(|&p| labels.get(p))
                    .map(|l| format!("{:?}", l.label_text()))
                    .collect();
                match names.as_slice() {
                    [one] => format!("column {one}: {e}"),
                    many => format!("columns {}: {e}", many.join(", ")),
                }
            })?;
            if columns.len() != positions.len() {
                return Err("a block whose placement does not match its columns".into());
            }
            for (pos, values) in positions.into_iter().zip(columns) {
                let label = labels.get(pos).map(Scalar::label_text).unwrap_or_default();
                if values.len() != rows {
                    return Err(format!(
                        "column {label:?} has {} values for {rows} rows",
                        values.len()
                    ));
                }
                match slots.get_mut(pos) {
                    Some(slot @ None) => *slot = Some(values),
                    _ => {
                        return Err(format!(
                            "a block places a column at {pos} twice or out of range"
                        ))
                    }
                }
            }
        }
        labels
            .into_iter()
            .zip(slots)
            .map(|(label, values)| match values {
                Some(v) => Ok((label, v)),
                None => Err(format!("column {:?} is in no block", label.label_text())),
            })
            .collect()
    }
}

/// A frame whose row count no column backs, beyond [`MAX_RANGE_VALUES`].
fn columns_empty_and_long(labels: &[Scalar], rows: usize) -> bool {
    labels.is_empty() && rows > MAX_RANGE_VALUES
}

/// Column labels from index values.
fn labels_of(values: Values) -> Res<Vec<Scalar>> {
    match values {
        Values::Str { data, .. } => Ok(data
            .into_iter()
            .map(|s| s.map_or(Scalar::None, Scalar::Str))
            .collect()),
        Values::Objects(items) => Ok(items),
        Values::Num { data, mask: None } => (0..data.len())
            .map(|i| match data.float_at(i) {
                Some(x) => Ok(Scalar::Float(x)),
                None => data
                    .int_at(i)
                    .and_then(|v| i64::try_from(v).ok())
                    .map(Scalar::Int)
                    .ok_or_else(|| "a column label beyond int64".to_string()),
            })
            .collect(),
        other => Err(format!("column labels of dtype {}", other.dtype_name())),
    }
}

/// `values[codes]`, a code of -1 giving a missing value.
fn take(values: &Values, codes: &Num) -> Res<Values> {
    let n = codes.len();
    let mut idx = Vec::with_capacity(n);
    for i in 0..n {
        let code = codes.int_at(i).ok_or("codes are not integers")?;
        let at = match code {
            -1 => None,
            c => Some(
                usize::try_from(c)
                    .ok()
                    .filter(|&c| c < values.len())
                    .ok_or("a code outside its level")?,
            ),
        };
        idx.push(at);
    }
    take_at(values, &idx)
}

fn pick<T: Clone>(data: &[T], idx: &[Option<usize>], missing: T) -> Vec<T> {
    idx.iter()
        .map(|i| {
            i.and_then(|i| data.get(i).cloned())
                .unwrap_or_else(|| missing.clone())
        })
        .collect()
}

macro_rules! pick_num {
    ($data:expr, $idx:expr, $($v:ident),*) => {
        match $data {
            $(Num::$v(d) => Num::$v(pick(d, $idx, Default::default())),)*
        }
    };
}

/// `values` at the positions `idx` (`None` = missing).
fn take_at(values: &Values, idx: &[Option<usize>]) -> Res<Values> {
    let any_missing = idx.iter().any(Option::is_none);
    Ok(match values {
        Values::Num { data, mask } => {
            let taken = pick_num!(data, idx, I8, I16, I32, I64, U8, U16, U32, U64, F32, F64);
            match (&taken, any_missing) {
                (Num::F64(_) | Num::F32(_), _) | (_, false) => Values::Num {
                    data: taken,
                    mask: mask.as_ref().map(|m| pick(m, idx, true)),
                },
                // A missing level value makes an int level float, as pandas does.
                _ => Values::Num {
                    data: Num::F64(
                        (0..idx.len())
                            .map(|i| match idx[i] {
                                Some(_) => taken.int_at(i).map_or(f64::NAN, |v| v as f64),
                                None => f64::NAN,
                            })
                            .collect(),
                    ),
                    mask: None,
                },
            }
        }
        Values::Bool { data, mask } => Values::Bool {
            data: pick(data, idx, false),
            mask: mask.as_ref().map(|m| pick(m, idx, true)),
        },
        Values::Str { data, kind } => Values::Str {
            data: pick(data, idx, None),
            kind: *kind,
        },
        Values::Objects(items) => Values::Objects(pick(items, idx, Scalar::None)),
        Values::Datetime { data, unit, tz } => Values::Datetime {
            data: pick(data, idx, NAT),
            unit: *unit,
            tz: tz.clone(),
        },
        Values::Timedelta { data, unit } => Values::Timedelta {
            data: pick(data, idx, NAT),
            unit: *unit,
        },
        Values::Category { .. } => return Err("a categorical MultiIndex level".into()),
    })
}

/// One step of a `--path`.
#[derive(Clone, Debug, PartialEq)]
enum PathStep {
    Key(String),
    Index(usize),
    Attr(String),
}

/// Parses `$`, `$["key"]`, `$['key']`, `$[0]`, `$.attr` and their sequences.
fn parse_path(path: &str) -> Res<Vec<PathStep>> {
    let bad = || format!("cannot read the path {path:?}: write it as $[\"key\"][0].attr");
    let mut rest = path.strip_prefix('$').ok_or_else(bad)?;
    let mut steps = Vec::new();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            let (name, tail) = after.split_at(end);
            if name.is_empty() {
                return Err(bad());
            }
            steps.push(PathStep::Attr(name.to_string()));
            rest = tail;
        } else if let Some(after) = rest.strip_prefix('[') {
            let (step, tail) = bracket(after).ok_or_else(bad)?;
            steps.push(step);
            rest = tail;
        } else {
            return Err(bad());
        }
    }
    Ok(steps)
}

/// A bracketed step after its `[`: a quoted key (JSON or Python quoting) or an index.
fn bracket(after: &str) -> Option<(PathStep, &str)> {
    let quote = after.chars().next()?;
    if quote == '"' || quote == '\'' {
        let mut escaped = false;
        for (i, c) in after.char_indices().skip(1) {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, c) if c == quote => {
                    let inner = after.get(1..i)?;
                    let key = if quote == '"' {
                        serde_json::from_str::<String>(after.get(..=i)?).ok()?
                    } else {
                        inner.replace("\\'", "'").replace("\\\\", "\\")
                    };
                    let tail = after.get(i.checked_add(1)?..)?.strip_prefix(']')?;
                    return Some((PathStep::Key(key), tail));
                }
                _ => {}
            }
        }
        return None;
    }
    let end = after.find(']')?;
    let index = after.get(..end)?.trim().parse().ok()?;
    Some((PathStep::Index(index), after.get(end.checked_add(1)?..)?))
}

impl Reader<'_, '_, '_> {
    /// Follows `path` from `root`.
    pub(crate) fn resolve(&self, root: NodeId, path: &str) -> Res<NodeId> {
        let mut at = root;
        for step in parse_path(path)? {
            let next = match &step {
                PathStep::Key(key) => self.get(at, key).or_else(|| {
                    let call = self.graph.call(at)?;
                    call.dict_items
                        .iter()
                        .rev()
                        .find(|(k, _)| self.graph.str(*k) == Some(key))
                        .map(|(_, v)| *v)
                }),
                PathStep::Index(i) => self
                    .items(at)
                    .and_then(|items| items.get(*i).copied())
                    .or_else(|| self.graph.call(at)?.list_items.get(*i).copied()),
                PathStep::Attr(name) => self.attr(at, name),
            };
            at = next.ok_or_else(|| format!("{path}: no {step:?} in {}", self.describe(at)))?;
        }
        Ok(at)
    }

    /// Paths of the frames among the first objects below `root` (dict values by str key,
    /// list and tuple items, object attributes), breadth first, at most `max`.
    pub(crate) fn frames_below(&self, root: NodeId, max: usize) -> Vec<String> {
        let mut found = Vec::new();
        let mut queue = std::collections::VecDeque::from([(root, "$".to_string())]);
        let mut seen = std::collections::HashSet::new();
        let mut budget = 10_000usize;
        while let Some((node, path)) = queue.pop_front() {
            budget = budget.saturating_sub(1);
            if budget == 0 || found.len() >= max || !seen.insert(node) {
                continue;
            }
            if frame_class(self.graph, self.lifted, node).is_some() {
                found.push(path);
                continue;
            }
            for (child, step) in self.children(node) {
                if queue.len() >= budget {
                    break;
                }
                queue.push_back((child, format!("{path}{step}")));
            }
        }
        found
    }

    fn children(&self, node: NodeId) -> Vec<(NodeId, String)> {
        let key = |k: NodeId| {
            self.graph
                .str(k)
                .map(|s| format!("[{}]", serde_json::to_string(s).unwrap_or_default()))
        };
        if let Some(pairs) = self.graph.dict(node) {
            return pairs
                .iter()
                .filter_map(|&(k, v)| Some((v, key(k)?)))
                .collect();
        }
        if let Some(items) = self.items(node) {
            return items
                .iter()
                .enumerate()
                .map(|(i, &v)| (v, format!("[{i}]")))
                .collect();
        }
        let Some(call) = self.graph.call(node) else {
            return Vec::new();
        };
        let mut out: Vec<(NodeId, String)> = call
            .dict_items
            .iter()
            .filter_map(|&(k, v)| Some((v, key(k)?)))
            .collect();
        if let Some(pairs) = call.state.and_then(|s| self.graph.dict(s)) {
            out.extend(pairs.iter().filter_map(|&(k, v)| {
                let name = self.graph.str(k)?;
                Some((v, format!(".{name}")))
            }));
        }
        out
    }
}

/// How many frames `explain` summarises per stream.
const MAX_SUMMARIES: usize = 16;

/// Summaries read the frames' data; `explain` does so only in streams up to this size
/// (beyond it, the frame is named with a note, and `extract` reads it).
const MAX_SUMMARY_STREAM: usize = 64 << 20;

/// The frames below the roots of a stream's object pickles, summarised for `explain`.
pub(crate) fn frame_summaries(view: &StreamView<'_, '_>) -> Vec<crate::report::FrameSummary> {
    let graph = &view.stream.graph;
    let has_frame = graph
        .globals
        .iter()
        .any(|g| g.module.starts_with("pandas") && matches!(&*g.name, "DataFrame" | "Series"));
    if !has_frame {
        return Vec::new();
    }
    let reader = Reader::new(view);
    let mut out = Vec::new();
    for index in view.object_pickles.clone() {
        let Some(pickle) = view.stream.pickles.get(index) else {
            continue;
        };
        for path in reader.frames_below(pickle.root, MAX_SUMMARIES) {
            if out.len() >= MAX_SUMMARIES {
                return out;
            }
            let Ok(node) = reader.resolve(pickle.root, &path) else {
                continue;
            };
            let shown = format!("{}{}", view.root_path, path.get(1..).unwrap_or_default());
            if view.bytes.len() > MAX_SUMMARY_STREAM {
                let kind = frame_class(reader.graph, reader.lifted, node).unwrap_or("DataFrame");
                out.push(crate::report::FrameSummary {
                    path: shown,
                    kind: kind.to_string(),
                    rows: 0,
                    columns: Vec::new(),
                    index: String::new(),
                    error: Some(format!(
                        "not summarised: the pickle is larger than {} MiB (extract --to parquet reads it)",
                        MAX_SUMMARY_STREAM >> 20
                    )),
                });
                continue;
            }
            out.push(summary(&reader, node, shown));
        }
    }
    out
}

fn summary(reader: &Reader<'_, '_, '_>, node: NodeId, path: String) -> crate::report::FrameSummary {
    let kind = frame_class(reader.graph, reader.lifted, node).unwrap_or("DataFrame");
    let mut summary = crate::report::FrameSummary {
        path,
        kind: kind.to_string(),
        rows: 0,
        columns: Vec::new(),
        index: String::new(),
        error: None,
    };
    match reader.frame(node) {
        Ok(frame) => {
            summary.rows = frame.rows as u64;
            summary.columns = frame
                .columns
                .iter()
                .map(|(label, values)| (label.label_text(), values.dtype_name()))
                .collect();
            summary.index = match &frame.index {
                FrameIndex::Range {
                    start, stop, step, ..
                } => format!("RangeIndex({start}, {stop}, {step})"),
                FrameIndex::Levels(levels) => levels
                    .iter()
                    .map(|(name, values)| {
                        let name = name.label_name().unwrap_or_else(|| "None".into());
                        format!("{name}: {}", values.dtype_name())
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
            };
        }
        Err(e) => summary.error = Some(format!("cannot be read as a table: {e}")),
    }
    summary
}

/// A fixed UTC offset as pyarrow names it (`+05:30`, `-05:00`): whole minutes, less than a
/// day, as Arrow's time zone strings allow.
fn offset_name(seconds: i64) -> Res<String> {
    if seconds % 60 != 0 || seconds.unsigned_abs() >= 86_400 {
        return Err(format!(
            "a fixed time zone offset of {seconds} s, not whole minutes within a day"
        ));
    }
    let sign = if seconds < 0 { '-' } else { '+' };
    let minutes = seconds.unsigned_abs() / 60;
    Ok(format!("{sign}{:02}:{:02}", minutes / 60, minutes % 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrow_strings_are_bounds_checked() {
        // "ab", null, "c": offsets 0, 2, 2, 3; validity 0b101.
        let offsets: Vec<u8> = [0i32, 2, 2, 3]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let got = arrow_decode(Some(&[0b101]), &offsets, b"abc", 3, 0, false).unwrap();
        assert_eq!(got, [Some("ab".into()), None, Some("c".into())]);
        // An offset past the data, a length past the offsets, a missing validity byte.
        let past: Vec<u8> = [0i32, 9].iter().flat_map(|v| v.to_le_bytes()).collect();
        assert!(arrow_decode(None, &past, b"abc", 1, 0, false).is_err());
        assert!(arrow_decode(None, &offsets, b"abc", 4, 0, false).is_err());
        assert!(arrow_decode(Some(&[]), &offsets, b"abc", 1, 0, false).is_err());
        assert!(arrow_decode(None, &offsets, b"abc", 1, usize::MAX, false).is_err());
        // Decreasing offsets and bytes that are not UTF-8.
        let back: Vec<u8> = [2i64, 0].iter().flat_map(|v| v.to_le_bytes()).collect();
        assert!(arrow_decode(None, &back, b"abc", 1, 0, true).is_err());
        let wide: Vec<u8> = [0i64, 2].iter().flat_map(|v| v.to_le_bytes()).collect();
        assert!(arrow_decode(None, &wide, b"\xff\xfe", 1, 0, true).is_err());
    }

    #[test]
    fn ranges_count_like_python() {
        assert_eq!(range_len(0, 10, 3), Ok(4));
        assert_eq!(range_len(10, 0, -3), Ok(4));
        assert_eq!(range_len(5, 5, 1), Ok(0));
        assert_eq!(range_len(5, 0, 1), Ok(0));
        assert!(range_len(0, 1, 0).is_err());
        // No overflow at the extremes; expanding such a range is refused.
        assert!(range_len(i64::MIN, i64::MAX, i64::MIN).is_ok());
        assert!(range_values(0, i64::MAX, 1).is_err());
    }

    #[test]
    fn paths_parse_in_both_quotings() {
        assert_eq!(parse_path("$"), Ok(vec![]));
        assert_eq!(
            parse_path(r#"$["a\"]"][0].model['b']"#),
            Ok(vec![
                PathStep::Key("a\"]".into()),
                PathStep::Index(0),
                PathStep::Attr("model".into()),
                PathStep::Key("b".into()),
            ])
        );
        for bad in ["", "x", "$[", "$[\"a\"", "$.", "$[x]", "$[-1]"] {
            assert!(parse_path(bad).is_err(), "{bad}");
        }
    }
}
