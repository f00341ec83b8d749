//! Property tests beyond the reader's (tests/reader_never_panics.rs) and CPython's
//! (tests/extract_json.rs, tests/machine_fixtures.rs):
//!
//! * random plain values written by an independent pickler, `serde-pickle`, at protocols 2
//!   and 3, read back by `extract --to json` as the same value (docs/json.md's `$`-tags);
//! * random opcode sequences, with the globals and keys that lifting looks for mixed in,
//!   never panic anywhere in `inspect` (containers, machine, lifting, walk, renderers) or in
//!   `extract --to json`, and fail only with an offset inside the input.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine as _;
use pklinspect::extract::{extract, Bfloat16As, ExtractOptions, Target};
use pklinspect::inspect::{inspect, Options};
use proptest::prelude::*;
use serde_json::{json, Value as Json};
use serde_pickle::{HashableValue, SerOptions, Value};

fn hashable() -> impl Strategy<Value = HashableValue> {
    let leaf = prop_oneof![
        Just(HashableValue::None),
        any::<bool>().prop_map(HashableValue::Bool),
        any::<i64>().prop_map(HashableValue::I64),
        (-1000i64..1000).prop_map(HashableValue::I64),
        any::<f64>().prop_map(HashableValue::F64),
        proptest::collection::vec(any::<u8>(), 0..12).prop_map(HashableValue::Bytes),
        any::<String>().prop_map(HashableValue::String),
        "[a-z$]{0,6}".prop_map(HashableValue::String),
    ];
    leaf.prop_recursive(2, 8, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(HashableValue::Tuple),
            proptest::collection::btree_set(inner, 0..4).prop_map(HashableValue::FrozenSet),
        ]
    })
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::None),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::I64),
        (-1000i64..1000).prop_map(Value::I64),
        ((1i64 << 53) - 2..(1i64 << 53) + 2).prop_map(Value::I64),
        any::<f64>().prop_map(Value::F64),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(Value::Bytes),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::List),
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Tuple),
            proptest::collection::btree_set(hashable(), 0..5).prop_map(Value::Set),
            proptest::collection::btree_set(hashable(), 0..5).prop_map(Value::FrozenSet),
            proptest::collection::btree_map(hashable(), inner.clone(), 0..5).prop_map(Value::Dict),
            proptest::collection::btree_map("[a-z]{1,5}", inner, 0..5).prop_map(|m| {
                Value::Dict(
                    m.into_iter()
                        .map(|(k, v)| (HashableValue::String(k), v))
                        .collect(),
                )
            }),
        ]
    })
}

fn int(v: i64) -> Json {
    if v.unsigned_abs() <= 1 << 53 {
        json!(v)
    } else {
        json!({"$int": v.to_string()})
    }
}

fn float(x: f64) -> Json {
    if x.is_nan() {
        json!({"$float": "nan"})
    } else if x.is_infinite() {
        json!({"$float": if x > 0.0 { "inf" } else { "-inf" }})
    } else {
        json!(x)
    }
}

fn bytes(b: &[u8]) -> Json {
    json!({"$bytes": base64::engine::general_purpose::STANDARD.encode(b)})
}

/// What docs/json.md says a plain value becomes.
fn expected(v: &Value) -> Json {
    match v {
        Value::None => Json::Null,
        Value::Bool(b) => json!(b),
        Value::I64(i) => int(*i),
        Value::Int(i) => json!({"$int": i.to_string()}),
        Value::F64(x) => float(*x),
        Value::Bytes(b) => bytes(b),
        Value::String(s) => json!(s),
        Value::List(items) => Json::Array(items.iter().map(expected).collect()),
        Value::Tuple(items) => json!({"$tuple": items.iter().map(expected).collect::<Vec<_>>()}),
        Value::Set(items) => json!({"$set": items.iter().map(expected_key).collect::<Vec<_>>()}),
        Value::FrozenSet(items) => {
            json!({"$frozenset": items.iter().map(expected_key).collect::<Vec<_>>()})
        }
        Value::Dict(map) => expected_dict(map),
    }
}

fn expected_key(k: &HashableValue) -> Json {
    match k {
        HashableValue::None => Json::Null,
        HashableValue::Bool(b) => json!(b),
        HashableValue::I64(i) => int(*i),
        HashableValue::Int(i) => json!({"$int": i.to_string()}),
        HashableValue::F64(x) => float(*x),
        HashableValue::Bytes(b) => bytes(b),
        HashableValue::String(s) => json!(s),
        HashableValue::Tuple(items) => {
            json!({"$tuple": items.iter().map(expected_key).collect::<Vec<_>>()})
        }
        HashableValue::FrozenSet(items) => {
            json!({"$frozenset": items.iter().map(expected_key).collect::<Vec<_>>()})
        }
    }
}

fn expected_dict(map: &BTreeMap<HashableValue, Value>) -> Json {
    let all_plain_str = map
        .keys()
        .all(|k| matches!(k, HashableValue::String(s) if !s.starts_with('$')));
    if all_plain_str {
        let mut object = serde_json::Map::new();
        for (k, v) in map {
            if let HashableValue::String(s) = k {
                object.insert(s.clone(), expected(v));
            }
        }
        Json::Object(object)
    } else {
        json!({"$dict": map.iter().map(|(k, v)| json!([expected_key(k), expected(v)])).collect::<Vec<_>>()})
    }
}

/// Equal, with floats equal to the last bit (JSON text to f64 may round differently in
/// serde_json's fast parser, so they are compared by their shortest decimal instead).
fn same(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Number(x), Json::Number(y)) if x.is_f64() && y.is_f64() => {
            let (x, y) = (x.as_f64().unwrap_or(0.0), y.as_f64().unwrap_or(0.0));
            x == y || (x - y).abs() <= f64::EPSILON * x.abs().max(y.abs())
        }
        (Json::Array(x), Json::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Json::Object(x), Json::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, a)| y.get(k).is_some_and(|b| same(a, b)))
        }
        _ => a == b,
    }
}

fn json_of(pickle: &[u8]) -> Result<Json, String> {
    let options = ExtractOptions {
        inspect: Options::default(),
        target: Target::Json {
            file: None,
            arrays_as_files: false,
        },
        force: false,
        bfloat16: Bfloat16As::F4,
        max_bytes: 1 << 30,
        progress: None,
        progress_total: None,
        source_file: None,
    };
    let extracted = extract("value.pkl", pickle, &options).map_err(|e| e.to_string())?;
    let document = extracted.json.ok_or("no document")?;
    serde_json::from_slice(&document).map_err(|e| e.to_string())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn serde_pickle_values_read_back_as_the_same_value(v in value()) {
        let want = expected(&v);
        for (protocol, options) in [(2, SerOptions::new().proto_v2()), (3, SerOptions::new())] {
            let pickle = serde_pickle::value_to_vec(&v, options).unwrap();
            let got = json_of(&pickle);
            prop_assert!(
                got.as_ref().is_ok_and(|got| same(got, &want)),
                "protocol {}: {:?}\nwant {}\ngot  {:?}\npickle {:?}",
                protocol, v, want, got, pickle
            );
        }
    }
}

/// Pieces of pickles: opcodes that build, mark, memoize, pop and call, and the globals,
/// keys and arguments that lifting recognises (arrays, dtypes, tensors, joblib wrappers,
/// plain-value constructors), so random sequences reach past the machine.
const PIECES: &[&[u8]] = &[
    b"(",
    b".",
    b"N",
    b"a",
    b"e",
    b"l",
    b"t",
    b"0",
    b"1",
    b"2",
    b"}",
    b"]",
    b")",
    b"u",
    b"s",
    b"d",
    b"b",
    b"R",
    b"\x81",
    b"\x85",
    b"\x86",
    b"\x87",
    b"\x88",
    b"\x89",
    b"\x94",
    b"\x93",
    b"\x8f",
    b"\x90",
    b"\x91",
    b"Q",
    b"h\x00",
    b"h\x01",
    b"q\x00",
    b"q\x01",
    b"K\x00",
    b"K\x01",
    b"K\x02",
    b"K\x03",
    b"J\xff\xff\xff\xff",
    b"\x80\x02",
    b"\x80\x05",
    b"\x97",
    b"\x98",
    b"C\x08\x01\x00\x00\x00\x02\x00\x00\x00",
    b"C\x00",
    b"\x8c\x01<",
    b"\x8c\x01|",
    b"\x8c\x02i4",
    b"\x8c\x02f8",
    b"\x8c\x02O8",
    b"\x8c\x02V8",
    b"\x8c\x01a",
    b"\x8c\x01C",
    b"\x8c\x05shape",
    b"\x8c\x05dtype",
    b"\x8c\x05order",
    b"\x8c\x07storage",
    b"\x8c\x03cpu",
    b"\x8c\x0bnumpy.dtype",
    b"Vlatin1\n",
    b"Vx\n",
    b"I7\n",
    b"F1.5\n",
    b"S'ab'\n",
    b"cnumpy\ndtype\n",
    b"cnumpy\nndarray\n",
    b"cnumpy.core.multiarray\n_reconstruct\n",
    b"cnumpy._core.multiarray\nscalar\n",
    b"cnumpy._core.numeric\n_frombuffer\n",
    b"ctorch._utils\n_rebuild_tensor_v2\n",
    b"ctorch._utils\n_rebuild_parameter\n",
    b"ctorch\nFloatStorage\n",
    b"cjoblib.numpy_pickle\nNumpyArrayWrapper\n",
    b"ccollections\nOrderedDict\n",
    b"cbuiltins\nset\n",
    b"cbuiltins\nbytearray\n",
    b"c_codecs\nencode\n",
    b"ccopyreg\n_reconstructor\n",
    b"c__main__\nC\n",
    b"cos\nsystem\n",
    b"\x82\x01",
];

fn check_never_panics(data: &[u8]) {
    let len = data.len() as u64;
    match inspect("soup.pkl", data, &Options::default()) {
        Ok(report) => {
            let mut text = Vec::new();
            pklinspect::render::text::write_report(&mut text, &report).unwrap();
            let _ = pklinspect::render::json::explain_value(&report);
        }
        Err(e) => assert!(e.offset() <= len, "{e}"),
    }
    let options = ExtractOptions {
        inspect: Options::default(),
        target: Target::Json {
            file: None,
            arrays_as_files: false,
        },
        force: false,
        bfloat16: Bfloat16As::F4,
        max_bytes: 64 << 20,
        progress: None,
        progress_total: None,
        source_file: None,
    };
    if let Err(e) = extract("soup.pkl", data, &options) {
        assert!(e.offset() <= len, "{e}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    #[test]
    fn random_opcode_sequences_never_panic_through_inspect(
        pieces in proptest::collection::vec(proptest::sample::select(PIECES), 0..120),
        stop in any::<bool>(),
    ) {
        let mut data: Vec<u8> = pieces.concat();
        if stop {
            data.push(b'.');
        }
        check_never_panics(&data);
    }

    #[test]
    fn random_bytes_after_a_protocol_header_never_panic_through_inspect(
        body in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let mut data = b"\x80\x04".to_vec();
        data.extend_from_slice(&body);
        check_never_panics(&data);
    }
}

#[test]
fn the_expected_forms_match_the_documented_examples() {
    // A fixed value through both protocols, so a failure of the generator is told apart
    // from a failure of the reader.
    let mut map = BTreeMap::new();
    map.insert(HashableValue::String("a".into()), Value::I64(1 << 60));
    map.insert(
        HashableValue::String("b".into()),
        Value::Bytes(b"xy".to_vec()),
    );
    let mut set = BTreeSet::new();
    set.insert(HashableValue::I64(3));
    let v = Value::List(vec![
        Value::Dict(map),
        Value::Tuple(vec![Value::F64(f64::NAN), Value::None]),
        Value::FrozenSet(set),
    ]);
    let want = json!([
        {"a": {"$int": "1152921504606846976"}, "b": {"$bytes": "eHk="}},
        {"$tuple": [{"$float": "nan"}, null]},
        {"$frozenset": [3]}
    ]);
    assert_eq!(expected(&v), want);
    for options in [SerOptions::new().proto_v2(), SerOptions::new()] {
        let pickle = serde_pickle::value_to_vec(&v, options).unwrap();
        assert_eq!(json_of(&pickle).unwrap(), want);
    }
}
