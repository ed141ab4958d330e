//! Strategies shared by the `advanced` property tests: JS values of every
//! kind, nested, with shared objects and cycles.

// Each test crate uses its own subset of these.
#![allow(dead_code)]

use nodeipc::Value;
use nodeipc::value::{
    ArrayBufferView, BigInt, ErrorName, JsArray, JsArrayBuffer, JsError, JsMap, JsRegExp, JsSet,
    JsString, Primitive, PropertyKey, RegExpFlags, ViewKind,
};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::test_runner::Config;

/// `cases` cases, or `$PROPTEST_CASES`; no failure persistence.
pub fn config(cases: u32) -> Config {
    let from_env = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok());
    Config {
        cases: from_env.unwrap_or(cases),
        failure_persistence: None,
        ..Config::default()
    }
}

// ---------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------

pub fn number() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>(),
        any::<i32>().prop_map(f64::from),
        any::<u64>().prop_map(f64::from_bits), // NaN payloads included
        Just(-0.0),
        Just(2f64.powi(31)),
    ]
}

pub fn string() -> impl Strategy<Value = JsString> {
    prop_oneof![
        "[a-z€é]{0,5}".prop_map(JsString::from),
        ".{0,8}".prop_map(JsString::from),
        vec(any::<u16>(), 0..6).prop_map(|u| JsString::from_utf16(&u)),
    ]
}

pub fn flags() -> impl Strategy<Value = RegExpFlags> {
    any::<u32>().prop_map(|b| {
        RegExpFlags::from_bits(b & 0x1bf)
            .or_else(|| RegExpFlags::from_bits(b & 0xbf))
            .expect("valid without v")
    })
}

/// What the Node under test can read (every kind, by default).
#[derive(Clone, Copy, Debug)]
pub struct Caps {
    /// `Float16Array` (Node 24+).
    pub float16: bool,
    /// An Error whose cause refers back to it (Node 22+).
    pub cause_cycles: bool,
}

impl Caps {
    pub const ALL: Caps = Caps {
        float16: true,
        cause_cycles: true,
    };

    /// What a Node with V8 `v8_major` reads.
    pub fn of_v8(v8_major: u32) -> Caps {
        Caps {
            float16: v8_major >= 13,
            cause_cycles: v8_major >= 12,
        }
    }
}

pub fn view() -> impl Strategy<Value = Value> {
    view_with(Caps::ALL)
}

pub fn view_with(caps: Caps) -> impl Strategy<Value = Value> {
    let kinds = if caps.float16 { 14 } else { 13 };
    (0u32..kinds, vec(any::<u8>(), 0..24)).prop_map(|(i, mut bytes)| {
        let kind = ViewKind::from_type_index(i).expect("0..14");
        bytes.truncate(bytes.len() - bytes.len() % kind.element_size());
        ArrayBufferView::new(kind, bytes)
            .expect("whole elements")
            .into()
    })
}

pub fn leaf() -> impl Strategy<Value = Value> {
    leaf_with(Caps::ALL)
}

pub fn leaf_with(caps: Caps) -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Undefined),
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        number().prop_map(Value::Number),
        number().prop_map(Value::Double),
        (any::<bool>(), vec(any::<u64>(), 0..3))
            .prop_map(|(neg, w)| Value::BigInt(BigInt::from_words(neg, &w))),
        string().prop_map(Value::String),
        number().prop_map(Value::date),
        (string(), flags())
            .prop_map(|(source, flags)| JsRegExp { source, flags })
            .prop_filter("a pattern JS compiles", JsRegExp::is_valid)
            .prop_map(Value::from),
        prop_oneof![
            any::<bool>().prop_map(Primitive::Boolean),
            number().prop_map(Primitive::Number),
            any::<i64>().prop_map(|n| Primitive::BigInt(n.into())),
            string().prop_map(Primitive::String),
        ]
        .prop_map(Value::from),
        (vec(any::<u8>(), 0..8), option::of(0usize..4)).prop_map(|(b, extra)| match extra {
            Some(e) => JsArrayBuffer::resizable(b.clone(), b.len() + e)
                .expect("max >= len")
                .into(),
            None => JsArrayBuffer::new(b).into(),
        }),
        view_with(caps),
    ]
}

pub fn key() -> impl Strategy<Value = PropertyKey> {
    prop_oneof![
        (0u32..6).prop_map(PropertyKey::Index),
        prop_oneof![Just(3_000_000_000u32), Just(u32::MAX - 1), Just(u32::MAX)]
            .prop_map(PropertyKey::Index),
        "[a-c]{0,2}|01|-1|1.5|4294967295".prop_map(PropertyKey::from),
        string().prop_map(PropertyKey::from),
    ]
}

/// A child of a container: any value, or a cycle back to the container
/// (directly, or from inside a one-element array).
pub fn child(inner: BoxedStrategy<Value>) -> impl Strategy<Value = Value> {
    prop_oneof![
        6 => inner,
        1 => Just(Value::Circular(0)),
        1 => Just(Value::array([Value::Circular(1)])),
    ]
}

/// Values of every kind, nested, with shared objects and cycles.
pub fn value() -> impl Strategy<Value = Value> {
    value_with(Caps::ALL)
}

/// Values that a Node with `caps` reads.
pub fn value_with(caps: Caps) -> impl Strategy<Value = Value> {
    leaf_with(caps).prop_recursive(4, 48, 5, move |inner| {
        let c = || child(inner.clone().boxed());
        let cause = if caps.cause_cycles {
            c().boxed()
        } else {
            inner.clone()
        };
        prop_oneof![
            vec(c(), 0..5).prop_map(Value::array),
            (
                0u32..10,
                vec((0u32..10, c()), 0..4),
                vec(("[a-z]{1,3}", c()), 0..2)
            )
                .prop_map(|(len, items, props)| {
                    let mut a = JsArray::holey(len);
                    for (i, v) in items {
                        a.set(i, v);
                    }
                    for (k, v) in props {
                        a.insert_property(k, v);
                    }
                    a.into()
                }),
            vec((key(), c()), 0..5).prop_map(Value::object),
            vec((c(), c()), 0..3).prop_map(|e| JsMap::from(e).into()),
            vec(c(), 0..4).prop_map(|v| JsSet::from(v).into()),
            (
                0usize..7,
                option::of(string()),
                option::of(string()),
                option::of(cause)
            )
                .prop_map(|(n, message, stack, cause)| {
                    let names = [
                        ErrorName::Error,
                        ErrorName::EvalError,
                        ErrorName::RangeError,
                        ErrorName::ReferenceError,
                        ErrorName::SyntaxError,
                        ErrorName::TypeError,
                        ErrorName::UriError,
                    ];
                    JsError {
                        name: names[n],
                        message,
                        stack,
                        cause,
                    }
                    .into()
                }),
            // The same objects in several places.
            (vec(inner.clone(), 1..3), vec(any::<usize>(), 2..5)).prop_map(|(pool, picks)| {
                Value::array(picks.iter().map(|&i| pool[i % pool.len()].clone()))
            }),
        ]
    })
}
