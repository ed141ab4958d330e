use std::collections::{BTreeMap, HashMap};
use std::fmt::Debug;

use ::serde::{Deserialize, Serialize};
use bytes::Bytes;
use serde_json::json;

use super::{from_value, from_value_limited, from_value_ref, to_value};
use crate::Limits;
use crate::codec::v8;
use crate::value::{BigInt, JsArray, JsMap, JsSet, Value};

/// `v` → Value → frame → Value → `T`, checked equal; returns the decoded
/// Value.
fn round_trip<T>(v: &T) -> Value
where
    T: Serialize + for<'de> Deserialize<'de> + PartialEq + Debug,
{
    let value = to_value(v).unwrap();
    let mut frame = Vec::new();
    v8::encode(&value, &mut frame).unwrap();
    let back = v8::decode_payload(&frame[4..], &Default::default()).unwrap();
    assert_eq!(back, value, "{v:?}");
    let mut decoder = v8::V8Decoder::new(Default::default());
    decoder.extend(&frame);
    let via_decoder = decoder.decode().unwrap().unwrap().to_value().unwrap();
    assert_eq!(via_decoder, value);
    let t: T = from_value(back.clone()).unwrap();
    assert_eq!(&t, v);
    back
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Unit;

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Newtype(u32);

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Tuple(i8, String, bool);

#[derive(Serialize, Deserialize, Debug, PartialEq)]
enum E {
    Unit,
    Newtype(i64),
    Tuple(u8, f64),
    Struct { a: String, b: Option<u16> },
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct All {
    b: bool,
    i8: i8,
    i16: i16,
    i32: i32,
    i64: i64,
    u8: u8,
    u16: u16,
    u32: u32,
    u64: u64,
    i128: i128,
    u128: u128,
    f32: f32,
    f64: f64,
    c: char,
    s: String,
    none: Option<u8>,
    some: Option<String>,
    unit: (),
    unit_struct: Unit,
    newtype: Newtype,
    tuple: Tuple,
    pair: (u8, String),
    vec: Vec<E>,
    map: BTreeMap<String, i32>,
    int_map: BTreeMap<i32, String>,
    bool_map: HashMap<bool, u8>,
    bytes_vec: Vec<u8>,
    bytes: Bytes,
    #[serde(with = "serde_bytes")]
    raw: Vec<u8>,
    nested: Vec<Vec<Option<E>>>,
}

fn all() -> All {
    All {
        b: true,
        i8: -8,
        i16: -16,
        i32: i32::MIN,
        i64: i64::MIN,
        u8: 255,
        u16: 65535,
        u32: u32::MAX,
        u64: u64::MAX,
        i128: i128::MIN,
        u128: u128::MAX,
        f32: 0.5,
        f64: -0.1,
        c: '€',
        s: "héllo 😀".into(),
        none: None,
        some: Some("x".into()),
        unit: (),
        unit_struct: Unit,
        newtype: Newtype(7),
        tuple: Tuple(-1, "t".into(), false),
        pair: (1, "p".into()),
        vec: vec![
            E::Unit,
            E::Newtype(-(1 << 60)),
            E::Tuple(3, 1.5),
            E::Struct {
                a: "a".into(),
                b: None,
            },
            E::Struct {
                a: "b".into(),
                b: Some(2),
            },
        ],
        map: [("x".to_string(), 1), ("10".to_string(), 2)].into(),
        int_map: [(-1, "m".to_string()), (3, "t".to_string())].into(),
        bool_map: [(true, 1)].into(),
        bytes_vec: vec![1, 2, 3],
        bytes: Bytes::from_static(b"\0\xffbytes"),
        raw: vec![9, 8],
        nested: vec![vec![None, Some(E::Unit)], vec![]],
    }
}

#[test]
fn every_serde_shape_round_trips_through_the_wire() {
    let back = round_trip(&all());
    assert!(matches!(back.get("u64"), Some(Value::BigInt(_))));
    assert!(matches!(back.get("i64"), Some(Value::BigInt(_))));
    assert_eq!(back.get("u32"), Some(&Value::Number(4_294_967_295.0)));
    assert_eq!(back.get("none"), Some(&Value::Undefined));
    assert_eq!(back.get("unit"), Some(&Value::Null));
    assert_eq!(back.get("unit_struct"), Some(&Value::Null));
    assert_eq!(back.get("newtype"), Some(&Value::from(7)));
    assert!(matches!(back.get("bytes_vec"), Some(Value::Array(_))));
    assert_eq!(back.get("bytes"), Some(&Value::buffer(&b"\0\xffbytes"[..])));
    assert_eq!(back.get("raw"), Some(&Value::buffer(&[9u8, 8][..])));
    assert!(matches!(back.get("bool_map"), Some(Value::Map(_))));
    assert_eq!(
        back.get("int_map"),
        Some(&Value::object([("-1", "m"), ("3", "t")]))
    );
    let vec = back.get("vec").unwrap();
    assert_eq!(vec.get("0"), Some(&Value::from("Unit")));
    assert_eq!(
        vec.get("2"),
        Some(&Value::object([("Tuple", Value::array([3.0, 1.5]))]))
    );
    assert_eq!(
        vec.get("3"),
        Some(&Value::object([(
            "Struct",
            Value::object([("a", Value::from("a")), ("b", Value::Undefined)])
        )]))
    );
}

#[test]
fn scalars_and_options_round_trip() {
    round_trip(&Some(5u8));
    round_trip(&None::<u8>);
    round_trip(&u64::MAX);
    round_trip(&i64::MIN);
    round_trip(&(1u64 << 53));
    round_trip(&((1u64 << 53) - 1));
    round_trip(&-0.0f64);
    round_trip(&f64::INFINITY);
    round_trip(&"s".to_string());
    round_trip(&E::Unit);
    round_trip(&vec![Some(1), None, Some(3)]);
    assert_eq!(to_value(&None::<u8>).unwrap(), Value::Undefined);
    assert_eq!(to_value(&()).unwrap(), Value::Null);
    assert_eq!(
        to_value(&u64::MAX).unwrap(),
        Value::BigInt(BigInt::from(u64::MAX))
    );
    assert_eq!(
        to_value(&((1u64 << 53) - 1)).unwrap(),
        Value::Number(9_007_199_254_740_991.0)
    );
    assert!(matches!(to_value(&(1i64 << 53)).unwrap(), Value::BigInt(_)));
    assert_eq!(from_value::<Option<u8>>(Value::Null).unwrap(), None);
}

#[test]
fn json_object_is_byte_exact_with_node() {
    let mut frame = Vec::new();
    v8::encode(&to_value(&json!({"a": 1, "b": "x"})).unwrap(), &mut frame).unwrap();
    // docs/protocol.md §3.4: what Node writes for {a:1,b:"x"}.
    assert_eq!(
        frame[4..],
        [
            0xff, 0x0f, 0x6f, 0x22, 0x01, 0x61, 0x49, 0x02, 0x22, 0x01, 0x62, 0x22, 0x01, 0x78,
            0x7b, 0x02
        ]
    );
    assert_eq!(frame[..4], [0, 0, 0, 16]);
}

#[test]
fn json_values_round_trip() {
    let j = json!({"n": null, "a": [1, -2.5, "x", true], "o": {"2": 1, "k": {}}});
    let v = to_value(&j).unwrap();
    assert_eq!(from_value::<serde_json::Value>(v).unwrap(), j);
    let raw = serde_json::value::RawValue::from_string(r#"{"r":[1,2]}"#.into()).unwrap();
    assert_eq!(
        to_value(&raw).unwrap(),
        Value::object([("r", Value::array([1, 2]))])
    );
}

#[test]
fn integer_fields_take_integral_numbers() {
    assert_eq!(from_value::<u32>(Value::Number(5.0)).unwrap(), 5);
    assert_eq!(from_value::<u32>(Value::Double(5.0)).unwrap(), 5);
    assert_eq!(from_value::<i8>(Value::Number(-0.0)).unwrap(), 0);
    assert_eq!(from_value::<i64>(Value::Number(-3.0)).unwrap(), -3);
    assert!(from_value::<u32>(Value::Number(5.5)).is_err());
    assert!(from_value::<u8>(Value::Number(256.0)).is_err());
    assert!(from_value::<u32>(Value::Number(-1.0)).is_err());
    assert_eq!(from_value::<f64>(Value::Number(5.0)).unwrap(), 5.0);
    assert_eq!(
        from_value::<u128>(Value::BigInt(BigInt::from(u128::MAX))).unwrap(),
        u128::MAX
    );
    assert_eq!(
        from_value::<i64>(Value::BigInt(BigInt::from(-7i64))).unwrap(),
        -7
    );
    assert!(from_value::<u64>(Value::BigInt(BigInt::from(u128::MAX))).is_err());
    assert!(from_value::<u128>(Value::BigInt(BigInt::from_words(false, &[1, 2, 3]))).is_err());
}

#[test]
fn node_values_read_into_rust_types() {
    // A Buffer into Vec<u8>, Bytes and borrowed &[u8].
    let buf = Value::buffer(&b"abc"[..]);
    assert_eq!(from_value::<Vec<u8>>(buf.clone()).unwrap(), b"abc");
    assert_eq!(from_value::<Bytes>(buf.clone()).unwrap(), &b"abc"[..]);
    assert_eq!(from_value_ref::<&[u8]>(&buf).unwrap(), b"abc");
    assert_eq!(from_value::<[u8; 3]>(buf).unwrap(), *b"abc");
    // Holes are undefined.
    let mut holey = JsArray::holey(3);
    holey.set(1, 5);
    assert_eq!(
        from_value::<Vec<Option<u8>>>(Value::from(holey)).unwrap(),
        [None, Some(5), None]
    );
    // Sets are sequences, Maps maps, Dates milliseconds.
    let set: JsSet = [1, 2].into_iter().collect();
    assert_eq!(from_value::<Vec<u8>>(Value::from(set)).unwrap(), [1, 2]);
    let map: JsMap = [(1, "a"), (2, "b")].into_iter().collect();
    assert_eq!(
        from_value::<BTreeMap<u8, String>>(Value::from(map)).unwrap(),
        [(1, "a".to_string()), (2, "b".to_string())].into()
    );
    assert_eq!(from_value::<f64>(Value::date(1e12)).unwrap(), 1e12);
    // Lone surrogates are replaced.
    let lone = Value::String(crate::value::JsString::from_utf16(&[0x61, 0xd800]));
    assert_eq!(from_value::<String>(lone).unwrap(), "a\u{fffd}");
    // Object keys parse into integer keys.
    let obj = Value::object([("1", "x"), ("-2", "y")]);
    assert_eq!(
        from_value::<BTreeMap<i32, String>>(obj).unwrap(),
        [(1, "x".to_string()), (-2, "y".to_string())].into()
    );
}

#[test]
fn js_types_without_serde_equivalent_are_named_in_errors() {
    let err = from_value::<serde_json::Value>(Value::Circular(0)).unwrap_err();
    assert!(err.to_string().contains("circular"), "{err}");
    let regexp = Value::from(crate::value::JsRegExp {
        source: "a".into(),
        flags: crate::value::RegExpFlags::parse("g").unwrap(),
    });
    let err = from_value::<String>(regexp).unwrap_err();
    assert!(err.to_string().contains("RegExp"), "{err}");
    let err = from_value::<E>(Value::from(3)).unwrap_err();
    assert!(err.to_string().contains("number"), "{err}");
}

#[test]
fn map_keys_choose_object_or_map() {
    let ints: BTreeMap<i64, u8> = [(-1, 1), (0, 2), (1 << 60, 3)].into();
    let v = to_value(&ints).unwrap();
    assert_eq!(
        v,
        Value::object([("0", 2), ("-1", 1), ("1152921504606846976", 3)])
    );
    assert_eq!(from_value::<BTreeMap<i64, u8>>(v).unwrap(), ints);
    let tuples: BTreeMap<(u8, u8), u8> = [((1, 2), 3)].into();
    let v = to_value(&tuples).unwrap();
    assert!(matches!(v, Value::Map(_)));
    assert_eq!(from_value::<BTreeMap<(u8, u8), u8>>(v).unwrap(), tuples);
}

#[test]
fn values_pass_through_whole() {
    let mut inner = crate::value::JsObject::new();
    inner.insert("self", Value::Circular(0));
    inner.insert("big", Value::BigInt(BigInt::from(5)));
    inner.insert("date", Value::date(0.0));
    inner.insert("double", Value::Double(2.0));
    inner.insert("map", Value::from(JsMap::from_iter([(1, "a")])));
    let v = Value::from(inner);

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Holder {
        id: u8,
        v: Value,
        m: BTreeMap<String, Value>,
    }
    let h = Holder {
        id: 1,
        v: v.clone(),
        m: [("k".to_string(), v.clone())].into(),
    };
    let back = round_trip(&h);
    assert!(matches!(
        back.get("v").unwrap().get("self"),
        Some(Value::Circular(0))
    ));
    assert_eq!(to_value(&v).unwrap(), v);
    assert!(matches!(
        to_value(&v).unwrap().get("double"),
        Some(Value::Double(_))
    ));
    assert_eq!(from_value::<Value>(v.clone()).unwrap(), v);
    let big = Value::BigInt(BigInt::from(5));
    assert!(matches!(
        from_value::<Value>(big).unwrap(),
        Value::BigInt(_)
    ));
}

#[test]
fn values_with_other_serde_formats() {
    let v = Value::object([
        ("n", Value::from(1)),
        ("f", Value::from(1.5)),
        ("u", Value::Undefined),
        ("a", Value::array([Value::Null, Value::from("x")])),
        ("b", Value::buffer(&[1u8, 2][..])),
    ]);
    let j = serde_json::to_value(&v).unwrap();
    assert_eq!(
        j,
        json!({"n": 1, "f": 1.5, "u": null, "a": [null, "x"], "b": [1, 2]})
    );
    let back: Value = serde_json::from_value(json!({"a": [1, "x", null], "2": true})).unwrap();
    assert_eq!(
        back,
        Value::object([
            ("2", Value::Bool(true)),
            (
                "a",
                Value::array([Value::from(1), Value::from("x"), Value::Null])
            )
        ])
    );
    assert!(serde_json::to_value(Value::Circular(0)).is_err());
}

#[test]
fn reading_out_is_bounded_by_what_it_produces_not_what_the_value_holds() {
    let values = |n| Limits::default().with_max_elements(n);
    // 2^60 arrays by sharing: refused after the budget, not built.
    let mut v = Value::array([1]);
    for _ in 0..60 {
        v = Value::array([v.clone(), v]);
    }
    let err = from_value_limited::<serde_json::Value>(&v, &values(10_000)).unwrap_err();
    assert!(err.to_string().contains("max_elements"), "{err}");
    // Every hole counts.
    let holes = Value::from(JsArray::holey(1000));
    assert_eq!(
        from_value_limited::<Vec<()>>(&holes, &values(1000))
            .unwrap()
            .len(),
        1000
    );
    assert!(from_value_limited::<Vec<()>>(&holes, &values(999)).is_err());
    // Refused up front: the cost of a container is taken before its items.
    assert!(from_value::<Vec<()>>(Value::from(JsArray::holey(u32::MAX - 1))).is_err());
    // The bytes of repeated strings and buffers, and 32 per value, against
    // max_expansion × max_message_len + 64 KiB.
    let bytes = |n| {
        Limits::default()
            .with_max_expansion(1)
            .with_max_message_len(n)
    };
    let s = Value::from("x".repeat(40_000));
    let shared = Value::array([s.clone(), s]);
    assert!(from_value_limited::<Vec<String>>(&shared, &bytes(14_528)).is_ok());
    let err = from_value_limited::<Vec<String>>(&shared, &bytes(14_527)).unwrap_err();
    assert!(err.to_string().contains("Limits::max_expansion"), "{err}");
    // A buffer read as a sequence also costs 8 per element (the numbers it
    // becomes), and object keys their text: 2 × (32 + 40 000) + 2 × 1 +
    // 2 × 320 000.
    let b = Value::buffer(vec![0u8; 40_000]);
    let m = Value::object([("a", b.clone()), ("b", b)]);
    assert!(from_value_limited::<HashMap<String, Vec<u8>>>(&m, &bytes(654_530)).is_ok());
    assert!(from_value_limited::<HashMap<String, Vec<u8>>>(&m, &bytes(654_529)).is_err());
    // A long key shared 200 times is counted each time.
    let o = Value::object([("k".repeat(1 << 20), 0)]);
    let keys = Value::array(vec![o; 200]);
    let limits = Limits::default().with_max_message_len(1 << 20);
    assert!(from_value_limited::<serde_json::Value>(&keys, &limits).is_err());
    // Enum content counts too.
    #[derive(Deserialize, Debug, PartialEq)]
    enum E {
        A(String),
    }
    let e = Value::object([("A", "y".repeat(70_000))]);
    assert_eq!(
        from_value_limited::<E>(&e, &bytes(4_496)).unwrap(),
        E::A("y".repeat(70_000))
    );
    assert!(from_value_limited::<E>(&e, &bytes(4_495)).is_err());
}
