//! `extract --to parquet`: a frame as one Parquet file (snappy, as pandas writes it) with
//! the `pandas` schema metadata pyarrow writes, so that `pandas.read_parquet` restores the
//! index, the column order and the dtypes.
//!
//! Arrow types: numpy numbers as their Arrow numbers (NaN of a float column as null, as
//! `pyarrow.Table.from_pandas` does), nullable `Int64`/`boolean` with their mask as nulls,
//! text as `utf8` (object) or `large_utf8` (`string`/`str`), `datetime64` as timestamps
//! (time zone kept), `timedelta64` as durations, `category` as a dictionary. A RangeIndex is
//! metadata only; other index levels are columns `__index_level_N__` (or their names).
//! An object column of mixed Python types has no Arrow type: it is refused, naming it.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;

use arrow_array::types::{
    DurationMicrosecondType, DurationMillisecondType, DurationNanosecondType, DurationSecondType,
    Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType, UInt16Type, UInt32Type,
    UInt64Type, UInt8Type,
};
use arrow_array::{
    Array, ArrayRef, BooleanArray, DictionaryArray, LargeStringArray, PrimitiveArray, RecordBatch,
    StringArray,
};
use arrow_buffer::{NullBuffer, ScalarBuffer};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use serde_json::{json, Value as Json};

use super::frame::{Frame, FrameIndex, Num, Scalar, StrKind, Unit, Values, NAT};

type Res<T> = std::result::Result<T, String>;

fn nulls(mask: Option<&Vec<bool>>) -> Option<NullBuffer> {
    let mask = mask?;
    mask.iter()
        .any(|&m| m)
        .then(|| NullBuffer::from(mask.iter().map(|&m| !m).collect::<Vec<bool>>()))
}

fn prim<T: arrow_array::ArrowPrimitiveType>(
    data: &[T::Native],
    mask: Option<&Vec<bool>>,
) -> ArrayRef {
    Arc::new(PrimitiveArray::<T>::new(
        ScalarBuffer::from(data.to_vec()),
        nulls(mask),
    ))
}

/// A float column's NaN as nulls (unless a mask says which are missing).
fn nan_mask<F: num_like::IsNan>(data: &[F], mask: Option<&Vec<bool>>) -> Option<Vec<bool>> {
    match mask {
        Some(m) => Some(m.clone()),
        None => data
            .iter()
            .any(|x| x.is_nan())
            .then(|| data.iter().map(|x| x.is_nan()).collect()),
    }
}

mod num_like {
    /// Floats that can be NaN.
    pub(super) trait IsNan {
        fn is_nan(&self) -> bool;
    }
    impl IsNan for f32 {
        fn is_nan(&self) -> bool {
            f32::is_nan(*self)
        }
    }
    impl IsNan for f64 {
        fn is_nan(&self) -> bool {
            f64::is_nan(*self)
        }
    }
}

fn num_array(data: &Num, mask: Option<&Vec<bool>>) -> ArrayRef {
    match data {
        Num::I8(v) => prim::<Int8Type>(v, mask),
        Num::I16(v) => prim::<Int16Type>(v, mask),
        Num::I32(v) => prim::<Int32Type>(v, mask),
        Num::I64(v) => prim::<Int64Type>(v, mask),
        Num::U8(v) => prim::<UInt8Type>(v, mask),
        Num::U16(v) => prim::<UInt16Type>(v, mask),
        Num::U32(v) => prim::<UInt32Type>(v, mask),
        Num::U64(v) => prim::<UInt64Type>(v, mask),
        Num::F32(v) => prim::<Float32Type>(v, nan_mask(v, mask).as_ref()),
        Num::F64(v) => prim::<Float64Type>(v, nan_mask(v, mask).as_ref()),
    }
}

fn nat_mask(data: &[i64]) -> Option<Vec<bool>> {
    data.contains(&NAT)
        .then(|| data.iter().map(|&v| v == NAT).collect())
}

fn time_array(data: &[i64], unit: Unit, tz: Option<&str>, duration: bool) -> ArrayRef {
    let mask = nat_mask(data);
    let mask = mask.as_ref();
    macro_rules! ts {
        ($t:ty) => {{
            let a = PrimitiveArray::<$t>::new(ScalarBuffer::from(data.to_vec()), nulls(mask));
            Arc::new(a.with_timezone_opt(tz.map(str::to_string))) as ArrayRef
        }};
    }
    match (duration, unit) {
        (true, Unit::S) => prim::<DurationSecondType>(data, mask),
        (true, Unit::Ms) => prim::<DurationMillisecondType>(data, mask),
        (true, Unit::Us) => prim::<DurationMicrosecondType>(data, mask),
        (true, Unit::Ns) => prim::<DurationNanosecondType>(data, mask),
        (false, Unit::S) => ts!(TimestampSecondType),
        (false, Unit::Ms) => ts!(TimestampMillisecondType),
        (false, Unit::Us) => ts!(TimestampMicrosecondType),
        (false, Unit::Ns) => ts!(TimestampNanosecondType),
    }
}

/// A category column: its codes (-1 as null) as the keys of its categories.
fn dictionary(label: &str, codes: &Num, categories: &Values) -> Res<ArrayRef> {
    let values = arrow_values(label, categories)?;
    let n = codes.len();
    let mask: Vec<bool> = (0..n)
        .map(|i| codes.int_at(i).is_none_or(|c| c < 0))
        .collect();
    let mask = mask.iter().any(|&m| m).then_some(mask);
    macro_rules! dict {
        ($t:ty, $v:expr) => {{
            let keys: Vec<_> = $v.iter().map(|&c| if c < 0 { 0 } else { c }).collect();
            let keys = PrimitiveArray::<$t>::new(ScalarBuffer::from(keys), nulls(mask.as_ref()));
            DictionaryArray::<$t>::try_new(keys, values)
                .map(|d| Arc::new(d) as ArrayRef)
                .map_err(|e| format!("column {label:?}: {e}"))
        }};
    }
    match codes {
        Num::I8(v) => dict!(Int8Type, v),
        Num::I16(v) => dict!(Int16Type, v),
        Num::I32(v) => dict!(Int32Type, v),
        Num::I64(v) => dict!(Int64Type, v),
        _ => Err(format!(
            "column {label:?}: categorical codes of an unsigned type"
        )),
    }
}

/// A column's values as an Arrow array.
fn arrow_values(label: &str, values: &Values) -> Res<ArrayRef> {
    Ok(match values {
        Values::Num { data, mask } => num_array(data, mask.as_ref()),
        Values::Bool { data, mask } => Arc::new(BooleanArray::new(
            data.to_vec().into(),
            nulls(mask.as_ref()),
        )),
        Values::Str {
            data,
            kind: StrKind::Object,
        } => Arc::new(data.iter().map(|s| s.as_deref()).collect::<StringArray>()),
        Values::Str { data, .. } => Arc::new(
            data.iter()
                .map(|s| s.as_deref())
                .collect::<LargeStringArray>(),
        ),
        Values::Objects(items) => objects(label, items)?,
        Values::Datetime { data, unit, tz } => time_array(data, *unit, tz.as_deref(), false),
        Values::Timedelta { data, unit } => time_array(data, *unit, None, true),
        Values::Category {
            codes, categories, ..
        } => dictionary(label, codes, categories)?,
    })
}

/// An object column of one Python type (missing values aside), as pyarrow infers it:
/// int64, float64, bool, or null when every value is missing; mixed types are refused.
fn objects(label: &str, items: &[Scalar]) -> Res<ArrayRef> {
    let missing =
        |s: &Scalar| matches!(s, Scalar::None) || matches!(s, Scalar::Float(x) if x.is_nan());
    let mut kinds: Vec<&str> = items
        .iter()
        .filter(|s| !missing(s))
        .map(|s| match s {
            Scalar::Bool(_) => "bool",
            Scalar::Int(_) => "int",
            Scalar::Float(_) => "float",
            Scalar::Str(_) => "str",
            Scalar::None => "None",
        })
        .collect();
    kinds.sort_unstable();
    kinds.dedup();
    let mask: Vec<bool> = items.iter().map(missing).collect();
    Ok(match kinds.as_slice() {
        [] => Arc::new(arrow_array::NullArray::new(items.len())),
        ["int"] => {
            let v: Vec<i64> = items
                .iter()
                .map(|s| if let Scalar::Int(v) = s { *v } else { 0 })
                .collect();
            prim::<Int64Type>(&v, Some(&mask))
        }
        ["float"] => {
            let v: Vec<f64> = items
                .iter()
                .map(|s| if let Scalar::Float(x) = s { *x } else { 0.0 })
                .collect();
            prim::<Float64Type>(&v, Some(&mask))
        }
        ["bool"] => {
            let v: Vec<bool> = items
                .iter()
                .map(|s| matches!(s, Scalar::Bool(true)))
                .collect();
            Arc::new(BooleanArray::new(v.into(), nulls(Some(&mask))))
        }
        distinct => {
            return Err(format!(
                "column {label:?} is an object column holding {}: Parquet needs one type \
                 per column (--to csv writes it)",
                distinct.join(" and ")
            ))
        }
    })
}

/// pyarrow's `pandas_type` of an Arrow type (`pandas_compat.get_logical_type`).
fn pandas_type(data_type: &DataType) -> &'static str {
    match data_type {
        DataType::Null => "empty",
        DataType::Boolean => "bool",
        DataType::Int8 => "int8",
        DataType::Int16 => "int16",
        DataType::Int32 => "int32",
        DataType::Int64 => "int64",
        DataType::UInt8 => "uint8",
        DataType::UInt16 => "uint16",
        DataType::UInt32 => "uint32",
        DataType::UInt64 => "uint64",
        DataType::Float32 => "float32",
        DataType::Float64 => "float64",
        DataType::Utf8 => "unicode",
        DataType::Dictionary(..) => "categorical",
        DataType::Timestamp(_, Some(_)) => "datetimetz",
        DataType::Timestamp(_, None) => "datetime",
        _ => "object",
    }
}

/// The `numpy_type` pyarrow records: the numpy dtype, or the extension dtype's name.
fn numpy_type(values: &Values) -> String {
    match values {
        Values::Category { codes, .. } => codes.numpy_name().to_string(),
        Values::Datetime { unit, .. } => format!("datetime64[{}]", unit.name()),
        other => other.dtype_name(),
    }
}

fn column_meta(name: Option<String>, field_name: &str, values: &Values, array: &ArrayRef) -> Json {
    let metadata = match values {
        Values::Category {
            categories,
            ordered,
            ..
        } => json!({"num_categories": categories.len(), "ordered": ordered}),
        Values::Datetime { tz: Some(tz), .. } => json!({"timezone": tz}),
        _ => Json::Null,
    };
    json!({
        "name": name,
        "field_name": field_name,
        "pandas_type": pandas_type(array.data_type()),
        "numpy_type": numpy_type(values),
        "metadata": metadata,
    })
}

/// The frame as an Arrow record batch with pandas' metadata.
fn record_batch(frame: &Frame) -> Res<RecordBatch> {
    let mut fields = Vec::new();
    let mut arrays = Vec::new();
    let mut columns_meta = Vec::new();
    let mut index_columns = Vec::new();
    let mut seen: HashMap<String, ()> = HashMap::new();
    for (label, values) in &frame.columns {
        let name = label.label_text();
        if seen.insert(name.clone(), ()).is_some() {
            return Err(format!(
                "column {name:?} appears twice: Parquet needs unique names"
            ));
        }
        let array = arrow_values(&name, values)?;
        columns_meta.push(column_meta(label.label_name(), &name, values, &array));
        fields.push(field(&name, values, &array));
        arrays.push(array);
    }
    match &frame.index {
        FrameIndex::Range {
            start,
            stop,
            step,
            name,
        } => index_columns.push(json!({"kind": "range", "name": name.label_name(),
            "start": start, "stop": stop, "step": step})),
        FrameIndex::Levels(levels) => {
            for (i, (name, values)) in levels.iter().enumerate() {
                let field_name = match name.label_name() {
                    Some(n) if !seen.contains_key(&n) => n,
                    _ => format!("__index_level_{i}__"),
                };
                if seen.insert(field_name.clone(), ()).is_some() {
                    // A column named `__index_level_0__`: two fields of one name, which
                    // pyarrow cannot read back.
                    return Err(format!(
                        "index level {i} would be named {field_name:?}, as a column is: \
                         Parquet needs unique names"
                    ));
                }
                let array = arrow_values(&format!("index {field_name}"), values)?;
                columns_meta.push(column_meta(name.label_name(), &field_name, values, &array));
                index_columns.push(json!(field_name));
                fields.push(field(&field_name, values, &array));
                arrays.push(array);
            }
        }
    }
    let metadata = json!({
        "index_columns": index_columns,
        "column_indexes": [column_index_meta(frame)],
        "columns": columns_meta,
        "attributes": {},
        "creator": {"library": "pklinspect", "version": env!("CARGO_PKG_VERSION")},
        // Which pandas wrote the pickle is not recorded in it; pyarrow does not read this
        // field, and a pandas version keeps it parseable for tools that do.
        "pandas_version": "2.2.3",
    });
    let schema = Schema::new(fields).with_metadata(HashMap::from([(
        "pandas".to_string(),
        metadata.to_string(),
    )]));
    let options = arrow_array::RecordBatchOptions::new().with_row_count(Some(frame.rows));
    RecordBatch::try_new_with_options(Arc::new(schema), arrays, &options)
        .map_err(|e| format!("cannot assemble the table: {e}"))
}

fn field(name: &str, values: &Values, array: &ArrayRef) -> Field {
    let ordered = matches!(values, Values::Category { ordered: true, .. });
    let f = Field::new(name, array.data_type().clone(), true);
    #[allow(deprecated)]
    if ordered {
        return f.with_dict_is_ordered(true);
    }
    f
}

/// The metadata of the columns' own index (the labels' type).
fn column_index_meta(frame: &Frame) -> Json {
    let ints = frame
        .columns
        .iter()
        .all(|(l, _)| matches!(l, Scalar::Int(_)));
    let (pandas_type, numpy_type, metadata) = if ints && !frame.columns.is_empty() {
        ("int64", "int64", Json::Null)
    } else {
        ("unicode", "object", json!({"encoding": "UTF-8"}))
    };
    json!({
        "name": frame.columns_name.label_name(),
        "field_name": frame.columns_name.label_name(),
        "pandas_type": pandas_type,
        "numpy_type": numpy_type,
        "metadata": metadata,
    })
}

/// Writes `frame` as Parquet to `out`.
pub(crate) fn write_parquet<W: Write + Send>(frame: &Frame, out: W) -> Res<()> {
    let batch = record_batch(frame)?;
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .build();
    let io = |e: parquet::errors::ParquetError| format!("cannot write the Parquet file: {e}");
    let mut writer = ArrowWriter::try_new(out, batch.schema(), Some(props)).map_err(io)?;
    writer.write(&batch).map_err(io)?;
    writer.close().map_err(io)?;
    Ok(())
}
