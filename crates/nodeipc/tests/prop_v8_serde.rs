//! Property tests for the direct serde path of the `advanced` codec
//! (issue 5): `encode_serialize(msg)` writes the bytes of
//! `encode(&to_value(msg)?)`, and `Frame::deserialize::<T>()` gives what
//! `from_value_limited::<T>(frame.to_value()?, frame.expansion_limits())` gives, errors included, for any
//! message, any JS value and any bytes; hostile nesting is an error, not a
//! stack overflow.
//!
//! `PROPTEST_CASES` raises the case count (see `prop_v8.rs`).

mod v8_values;

use std::collections::BTreeMap;
use std::fmt::{self, Debug};
use std::marker::PhantomData;

use bytes::Bytes;
use nodeipc::codec::v8::{Frame, encode, encode_serialize};
use nodeipc::value::{from_value_limited, to_value};
use nodeipc::{DecodeError, Error, Limits, Value};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use serde::de::{DeserializeOwned, IgnoredAny, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use v8_values::{config, value};

// ---------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------

/// A serde type with every shape the serializer maps.
#[derive(Serialize, Deserialize, Debug, Clone)]
enum Data {
    Unit,
    Bool(bool),
    I64(i64),
    U64(u64),
    I128(i128),
    F32(f32),
    F64(f64),
    Str(String),
    Char(char),
    Bytes(Bytes),
    Octets(Vec<u8>),
    Opt(Option<Box<Data>>),
    List(Vec<Data>),
    Pair(i32, String),
    Record(Record),
    Named(BTreeMap<String, Data>),
    Ints(BTreeMap<i64, Data>),
    Keys(Entries<String>),
    IntKeys(Entries<i64>),
    BigKeys(Entries<u64>),
    FloatKeys(Entries<f64>),
    OtherKeys(Entries<Option<bool>>),
    Unsized(Unsized),
    Lying(Lying),
    Flat(Flat),
    Digits(Digits),
    Js(Value),
    Json(serde_json::Value),
}

#[derive(Serialize, Deserialize, Debug, Clone)]
struct Record {
    id: u64,
    name: String,
    tags: Vec<String>,
    next: Option<Box<Data>>,
    value: Value,
}

/// Fields that are array indices, out of order: JS puts `0` first.
#[derive(Serialize, Deserialize, Debug, Clone)]
struct Digits {
    #[serde(rename = "1")]
    one: bool,
    #[serde(rename = "0")]
    zero: u8,
}

/// A map through `serialize_map(None)`, whose keys may repeat `a`.
#[derive(Serialize, Deserialize, Debug, Clone)]
struct Flat {
    a: u8,
    #[serde(flatten)]
    rest: BTreeMap<String, u8>,
}

/// Map entries in the order given, repeats included.
#[derive(Debug, Clone)]
struct Entries<K>(Vec<(K, Data)>);

impl<K: Serialize> Serialize for Entries<K> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de, K: Deserialize<'de>> Deserialize<'de> for Entries<K> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<K>(PhantomData<K>);
        impl<'de, K: Deserialize<'de>> Visitor<'de> for V<K> {
            type Value = Entries<K>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries<K>, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    entries.push(entry);
                }
                Ok(Entries(entries))
            }
        }
        d.deserialize_map(V(PhantomData))
    }
}

/// A sequence of unknown length (`serialize_seq(None)`).
#[derive(Deserialize, Debug, Clone)]
struct Unsized(Vec<Data>);

impl Serialize for Unsized {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().filter(|_| true))
    }
}

/// A sequence that announces one element more than it has.
#[derive(Deserialize, Debug, Clone)]
struct Lying(Vec<Data>);

impl Serialize for Lying {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = s.serialize_seq(Some(self.0.len() + 1))?;
        for v in &self.0 {
            seq.serialize_element(v)?;
        }
        seq.end()
    }
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-c]{0,3}",
        "[a-zé€😀]{0,6}",
        ".{0,12}",
        Just("cmd".to_owned()),
        Just("NODE_X".to_owned()),
        prop_oneof!["0", "1", "01", "-1", "4294967294", "4294967295"].prop_map(String::from),
    ]
}

fn float() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>(),
        any::<i32>().prop_map(f64::from),
        Just(-0.0),
        Just(f64::NAN),
        Just(2f64.powi(31)),
        Just(2f64.powi(53) + 2.0),
    ]
}

fn integer() -> impl Strategy<Value = i64> {
    prop_oneof![
        any::<i64>(),
        any::<i32>().prop_map(i64::from),
        (0i64..10),
        prop_oneof![Just(1 << 53), Just((1 << 53) - 1), Just(-(1 << 53))],
    ]
}

fn json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        integer().prop_map(serde_json::Value::from),
        any::<u64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        text().prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            vec((text(), inner), 0..4)
                .prop_map(|e| serde_json::Value::Object(e.into_iter().collect())),
        ]
    })
}

fn entries_of<K: Debug>(
    key: impl Strategy<Value = K>,
    inner: impl Strategy<Value = Data>,
) -> impl Strategy<Value = Vec<(K, Data)>> {
    vec((key, inner), 0..4)
}

fn data() -> impl Strategy<Value = Data> {
    let leaf = prop_oneof![
        Just(Data::Unit),
        any::<bool>().prop_map(Data::Bool),
        integer().prop_map(Data::I64),
        any::<u64>().prop_map(Data::U64),
        any::<i128>().prop_map(Data::I128),
        any::<f32>().prop_map(Data::F32),
        float().prop_map(Data::F64),
        text().prop_map(Data::Str),
        any::<char>().prop_map(Data::Char),
        vec(any::<u8>(), 0..9).prop_map(|b| Data::Bytes(b.into())),
        vec(any::<u8>(), 0..9).prop_map(Data::Octets),
        (any::<i32>(), text()).prop_map(|(n, s)| Data::Pair(n, s)),
        (any::<bool>(), any::<u8>()).prop_map(|(one, zero)| Data::Digits(Digits { one, zero })),
        (any::<u8>(), vec((text(), any::<u8>()), 0..3)).prop_map(|(a, rest)| Data::Flat(Flat {
            a,
            rest: rest.into_iter().collect()
        })),
        value().prop_map(Data::Js),
        Just(Data::Js(Value::Circular(0))),
        json().prop_map(Data::Json),
    ];
    leaf.prop_recursive(4, 40, 4, |inner| {
        prop_oneof![
            option::of(inner.clone()).prop_map(|d| Data::Opt(d.map(Box::new))),
            vec(inner.clone(), 0..4).prop_map(Data::List),
            (
                any::<u64>(),
                text(),
                vec(text(), 0..3),
                option::of(inner.clone()),
                value()
            )
                .prop_map(|(id, name, tags, next, value)| {
                    Data::Record(Record {
                        id,
                        name,
                        tags,
                        next: next.map(Box::new),
                        value,
                    })
                }),
            entries_of(text(), inner.clone()).prop_map(|e| Data::Named(e.into_iter().collect())),
            entries_of(integer(), inner.clone()).prop_map(|e| Data::Ints(e.into_iter().collect())),
            entries_of(text(), inner.clone()).prop_map(|e| Data::Keys(Entries(e))),
            entries_of(integer(), inner.clone()).prop_map(|e| Data::IntKeys(Entries(e))),
            entries_of(any::<u64>(), inner.clone()).prop_map(|e| Data::BigKeys(Entries(e))),
            entries_of(float(), inner.clone()).prop_map(|e| Data::FloatKeys(Entries(e))),
            entries_of(option::of(any::<bool>()), inner.clone())
                .prop_map(|e| Data::OtherKeys(Entries(e))),
            vec(inner.clone(), 0..3).prop_map(|v| Data::Unsized(Unsized(v))),
            vec(inner.clone(), 0..3).prop_map(|v| Data::Lying(Lying(v))),
            // The same `Value` object in two places: one id, then `^`.
            value().prop_map(|v| Data::List(vec![Data::Js(v.clone()), Data::Js(v)])),
        ]
    })
}

// ---------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------

/// `msg` appended after `prefix` by the direct path and by the `Value`
/// path: the same bytes, or both an error that appends nothing.
fn check_encodes<T: Serialize + ?Sized>(msg: &T, prefix: usize) -> Result<(), TestCaseError> {
    let start = vec![7u8; prefix];
    let mut direct = start.clone();
    let direct_result = encode_serialize(msg, &mut direct);
    let mut through_value = start.clone();
    let value_result = to_value(msg)
        .map_err(Error::Encode)
        .and_then(|v| encode(&v, &mut through_value));
    prop_assert_eq!(
        direct_result.map_err(|e| e.to_string()),
        value_result.map_err(|e| e.to_string())
    );
    prop_assert_eq!(direct, through_value);
    Ok(())
}

/// What the `Value` path gives for `T`: the result of the receive path
/// before issue 5.
fn through_value<T: DeserializeOwned>(frame: &Frame<'_>) -> Result<T, Error> {
    from_value_limited(&frame.to_value()?, &frame.expansion_limits()).map_err(|e| Error::Decode {
        offset: frame.offset(),
        kind: DecodeError::Mismatch(e.to_string()),
    })
}

/// Both paths, compared by their `Debug` text (NaN and `-0` included).
fn check_reads_as<T: DeserializeOwned + Debug>(
    payload: &[u8],
    limits: Limits,
) -> Result<(), TestCaseError> {
    let frame = Frame::new(payload, 0, limits);
    let direct = format!("{:?}", frame.deserialize::<T>());
    let value = format!("{:?}", through_value::<T>(&frame));
    prop_assert_eq!(direct, value, "as {}", std::any::type_name::<T>());
    Ok(())
}

/// Fields of everything, most of them absent: the others are ignored.
#[derive(Deserialize, Debug)]
#[allow(dead_code)] // read through Debug
struct Loose {
    id: Option<u64>,
    name: Option<String>,
    value: Option<Value>,
    tags: Option<Vec<String>>,
    #[serde(rename = "0")]
    zero: Option<f64>,
    next: Option<Box<Loose>>,
    #[serde(rename = "Bytes")]
    bytes: Option<Bytes>,
    #[serde(rename = "Octets")]
    octets: Option<Vec<u8>>,
}

fn check_reads(payload: &[u8], limits: Limits) -> Result<(), TestCaseError> {
    check_reads_as::<Data>(payload, limits)?;
    check_reads_as::<serde_json::Value>(payload, limits)?;
    check_reads_as::<Value>(payload, limits)?;
    check_reads_as::<Loose>(payload, limits)?;
    check_reads_as::<Vec<Loose>>(payload, limits)?;
    check_reads_as::<BTreeMap<String, serde_json::Value>>(payload, limits)?;
    check_reads_as::<BTreeMap<u32, Option<String>>>(payload, limits)?;
    check_reads_as::<(u8, String)>(payload, limits)?;
    check_reads_as::<Vec<u8>>(payload, limits)?;
    check_reads_as::<String>(payload, limits)?;
    check_reads_as::<Option<i64>>(payload, limits)?;
    check_reads_as::<IgnoredAny>(payload, limits)?;
    Ok(())
}

fn payload_of<T: Serialize + ?Sized>(msg: &T) -> Vec<u8> {
    let mut out = Vec::new();
    encode_serialize(msg, &mut out).expect("encodes");
    out.split_off(4)
}

fn small_limits() -> Limits {
    Limits::default().with_max_depth(12).with_max_elements(300)
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn direct_encoding_is_the_value_encoding(msg in data(), prefix in 0usize..3) {
        check_encodes(&msg, prefix)?;
    }

    #[test]
    fn direct_encoding_of_json_is_the_value_encoding(msg in json(), prefix in 0usize..3) {
        check_encodes(&msg, prefix)?;
    }

    #[test]
    fn direct_reading_of_messages_is_the_value_reading(msg in data(), small in any::<bool>()) {
        let limits = if small { small_limits() } else { Limits::default() };
        check_reads(&payload_of(&msg), limits)?;
    }

    #[test]
    fn direct_reading_of_js_values_is_the_value_reading(v in value(), small in any::<bool>()) {
        let limits = if small { small_limits() } else { Limits::default() };
        let mut frame = Vec::new();
        encode(&v, &mut frame).expect("encodes");
        check_reads(&frame[4..], limits)?;
    }
}

proptest! {
    #![proptest_config(config(1024))]

    #[test]
    fn direct_reading_of_arbitrary_bytes_is_the_value_reading(
        bytes in vec(any::<u8>(), 0..120),
        header in any::<bool>(),
    ) {
        let payload = if header { [&[0xff, 0x0f][..], &bytes].concat() } else { bytes };
        check_reads(&payload, small_limits())?;
    }

    #[test]
    fn direct_reading_of_corrupted_messages_is_the_value_reading(
        msg in data(),
        edits in vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut payload = payload_of(&msg);
        for (at, b) in edits {
            let i = at.index(payload.len());
            payload[i] = b;
        }
        check_reads(&payload, small_limits())?;
        check_reads(&payload[..cut.index(payload.len() + 1)], small_limits())?;
    }
}

#[test]
fn hostile_nesting_is_an_error_not_a_stack_overflow() {
    for (open, close) in [(&b"A\x01"[..], &b"$\x00\x01"[..]), (b"o\"\x01a", b"{\x01")] {
        // Past 128 levels (serde_json's recursion limit, as in `json`) a
        // recursive `T` is refused: 1000 levels of `serde_json::Value`
        // overflow the 2 MiB stack of a test thread in a debug build.
        for depth in [100, 128, 129, 200, Limits::DEFAULT_MAX_DEPTH + 1, 100_000] {
            let mut payload = vec![0xff, 0x0f];
            payload.extend(open.repeat(depth));
            payload.push(b'0');
            payload.extend(close.repeat(depth));
            let frame = Frame::new(&payload, 0, Limits::default());
            let deep = frame.deserialize::<serde_json::Value>();
            let ignored = frame.deserialize::<IgnoredAny>();
            if depth > Limits::DEFAULT_MAX_DEPTH {
                for r in [deep.map(drop), ignored.map(drop)] {
                    assert!(
                        matches!(
                            r,
                            Err(Error::Decode {
                                kind: DecodeError::TooDeep { .. },
                                ..
                            })
                        ),
                        "{depth}"
                    );
                }
            } else if depth > 128 {
                assert!(
                    matches!(
                        &deep,
                        Err(Error::Decode { kind: DecodeError::Mismatch(m), .. })
                            if m.contains("nested more than 128 levels")
                    ),
                    "{depth}: {deep:?}"
                );
                assert!(ignored.is_ok(), "{depth}");
            } else {
                assert!(deep.is_ok() && ignored.is_ok(), "{depth}");
            }
        }
    }
}

#[test]
fn a_failed_encoding_appends_nothing() {
    struct Fails;
    impl Serialize for Fails {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut map = s.serialize_map(None)?;
            map.serialize_entry("a", "written")?;
            Err(serde::ser::Error::custom("no"))
        }
    }
    let mut out = vec![1, 2, 3];
    let err = encode_serialize(&(1, Fails), &mut out).unwrap_err();
    assert_eq!(err.to_string(), "cannot encode message: no");
    assert_eq!(out, [1, 2, 3]);
}
