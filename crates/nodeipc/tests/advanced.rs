//! The `advanced` serialization over a real channel with a real Node child:
//! typed Rust values through serde, and JS values Node alone can send
//! (Buffer, BigInt, Map, Date, cycles) as `nodeipc::Value`, and every kind
//! of JS value built in Rust as Node would build it.

mod common;

use std::time::Duration;

use bytes::Bytes;
use nodeipc::value::{
    ArrayBufferView, BigInt, ErrorName, JsArray, JsArrayBuffer, JsError, JsMap, JsObject, JsRegExp,
    JsSet, JsString, Primitive, RegExpFlags, ViewKind,
};
use nodeipc::{Command, Serialization, Value};
use serde::{Deserialize, Serialize};

const LIMIT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Job {
    id: u32,
    name: String,
    tags: Vec<String>,
    weight: f64,
    parent: Option<u32>,
    big: u64,
}

fn node_child(script: &str) -> Option<(tokio::process::Child, nodeipc::Channel)> {
    let node = common::node()?;
    Some(
        Command::new(node)
            .arg("-e")
            .arg(script)
            .serialization(Serialization::Advanced)
            .spawn()
            .expect("spawn node"),
    )
}

#[tokio::test]
async fn typed_messages_round_trip_through_a_node_child() {
    let Some((mut child, mut ch)) = node_child(
        "process.on('message', (m) => process.send({ echo: m, kinds: [typeof m.big, m.parent === undefined] }));",
    ) else {
        return;
    };
    let job = Job {
        id: 7,
        name: "héllo 😀 \u{2028}".into(),
        tags: vec!["a".into(), String::new()],
        weight: -0.5,
        parent: None,
        big: u64::MAX,
    };
    #[derive(Deserialize)]
    struct Reply {
        echo: Job,
        kinds: (String, bool),
    }
    common::timeout(LIMIT, async {
        ch.send(&job).await.unwrap();
        let reply: Reply = ch.recv().await.unwrap().expect("reply");
        assert_eq!(reply.echo, job);
        // u64 past 2^53 travels as a BigInt; None as undefined.
        assert_eq!(reply.kinds, ("bigint".to_string(), true));
    })
    .await;
    drop(ch);
    assert!(child.wait().await.unwrap().success());
}

#[tokio::test]
async fn js_only_values_from_node_arrive_as_values() {
    let Some((mut child, mut ch)) = node_child(
        "const o = { buf: Buffer.from([1, 2, 3]), big: 2n ** 64n, date: new Date(0), map: new Map([[1, 'a']]) };
         o.self = o;
         process.send(o);
         process.on('message', () => process.disconnect());",
    ) else {
        return;
    };
    common::timeout(LIMIT, async {
        let v: Value = ch.recv().await.unwrap().expect("message");
        assert_eq!(
            v.get("buf").and_then(Value::as_bytes).map(|b| b.to_vec()),
            Some(vec![1, 2, 3])
        );
        assert!(matches!(v.get("big"), Some(Value::BigInt(_))));
        assert!(matches!(v.get("date"), Some(Value::Date(_))));
        assert!(matches!(v.get("map"), Some(Value::Map(_))));
        assert!(matches!(v.get("self"), Some(Value::Circular(_))));
        ch.send(&"bye").await.unwrap();
        assert_eq!(ch.recv::<Value>().await.unwrap(), None);
    })
    .await;
    assert!(child.wait().await.unwrap().success());
}

#[tokio::test]
async fn many_messages_arrive_in_order_both_ways() {
    let Some((mut child, ch)) = node_child(
        "let n = 0; process.on('message', (m) => { if (m.i !== n++) throw new Error('order'); process.send(m); });",
    ) else {
        return;
    };
    #[derive(Serialize, Deserialize)]
    struct M {
        i: u32,
        s: String,
    }
    let (mut tx, mut rx) = ch.split();
    let count = 100_000;
    let sender = tokio::spawn(async move {
        for i in 0..count {
            tx.feed(&M {
                i,
                s: "x".repeat((i % 50) as usize),
            })
            .await
            .unwrap();
        }
        tx.flush().await.unwrap();
        tx
    });
    common::timeout(LIMIT, async {
        for i in 0..count {
            let m: M = rx.recv().await.unwrap().expect("echo");
            assert_eq!(m.i, i);
            assert_eq!(m.s.len(), (i % 50) as usize);
        }
    })
    .await;
    drop(sender.await.unwrap());
    drop(rx);
    assert!(child.wait().await.unwrap().success());
}

#[tokio::test]
async fn buffers_and_strings_from_0_bytes_to_8_mib_survive_a_node_echo() {
    let Some((mut child, mut ch)) = node_child(
        "process.on('message', (m) => process.send({ b: m.b, s: m.s, isBuf: Buffer.isBuffer(m.b) }));",
    ) else {
        return;
    };
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Blob {
        b: bytes::Bytes,
        s: String,
    }
    #[derive(Deserialize)]
    struct Reply {
        b: bytes::Bytes,
        s: String,
        #[serde(rename = "isBuf")]
        is_buf: bool,
    }
    common::timeout(LIMIT, async {
        for size in [0usize, 1, 65_535, 65_536, 1 << 20, 8 << 20] {
            let b: bytes::Bytes = (0..size).map(|i| (i * 7 % 251) as u8).collect();
            let s = common::pattern(size);
            ch.send(&Blob {
                b: b.clone(),
                s: s.clone(),
            })
            .await
            .unwrap();
            let r: Reply = ch.recv().await.unwrap().expect("reply");
            assert!(r.is_buf, "size {size}: Node did not get a Buffer");
            assert_eq!(r.b, b, "size {size}");
            assert_eq!(r.s, s, "size {size}");
        }
    })
    .await;
    drop(ch);
    assert!(child.wait().await.unwrap().success());
}

/// A shared object nested 60 deep is ~600 bytes of back-references but
/// 2^60 objects when read out into a tree: the typed read fails at the
/// read-out budget (64 × the message's bytes + 64 KiB, at the default
/// limits) and the channel goes on; read as a `Value` it keeps its sharing.
#[tokio::test]
async fn a_message_of_shared_objects_that_expands_past_the_limit_is_an_error_not_a_hang() {
    let Some(node) = common::node() else {
        return;
    };
    let (mut child, mut ch) = Command::new(node)
        .arg("-e")
        .arg(
            "let v = [1]; for (let i = 0; i < 60; i++) v = [v, v];
         process.send(v); process.send(v); process.send('after');
         process.on('message', () => process.disconnect());",
        )
        .serialization(Serialization::Advanced)
        .spawn()
        .expect("spawn node");
    common::timeout(LIMIT, async {
        match ch.recv::<serde_json::Value>().await {
            Err(nodeipc::Error::Decode { kind, .. }) => {
                assert!(kind.to_string().contains("Limits::max_expansion"), "{kind}")
            }
            other => panic!("expected a decode error, got {other:?}"),
        }
        let v: Value = ch
            .recv()
            .await
            .unwrap()
            .expect("the same message as a Value");
        assert!(matches!(v, Value::Array(_)));
        assert_eq!(ch.recv::<String>().await.unwrap().as_deref(), Some("after"));
        ch.send(&"bye").await.unwrap();
        assert_eq!(ch.recv::<Value>().await.unwrap(), None);
    })
    .await;
    assert!(child.wait().await.unwrap().success());
}

/// Node's `isInternal` takes any object with a `NODE_` `cmd`, an array
/// with such a property included: Node delivers it as `internalMessage`,
/// and so `recv` skips it.
#[tokio::test]
async fn an_array_with_a_node_cmd_property_is_internal_as_in_node() {
    let Some((mut child, mut ch)) = node_child(
        "process.send(Object.assign([1, 2], { cmd: 'NODE_X' }));
         process.send(Object.assign([3], { cmd: 'user' }));
         process.on('message', () => process.disconnect());",
    ) else {
        return;
    };
    common::timeout(LIMIT, async {
        match ch.recv_message::<Value>().await.unwrap() {
            Some(nodeipc::Message::Internal(m)) => assert_eq!(m.0, serde_json::json!([1, 2])),
            other => panic!("expected the internal message, got {other:?}"),
        }
        let v: Value = ch.recv().await.unwrap().expect("the user message");
        assert_eq!(v.get("cmd").and_then(Value::as_str), Some("user"));
        ch.send(&"bye").await.unwrap();
        assert_eq!(ch.recv::<Value>().await.unwrap(), None);
    })
    .await;
    assert!(child.wait().await.unwrap().success());
}

#[tokio::test]
async fn a_hundred_thousand_small_messages_from_node_arrive_in_order() {
    let Some((mut child, mut ch)) = node_child(
        "process.once('message', () => { for (let i = 0; i < 100000; i++) process.send(i); process.send('done'); });",
    ) else {
        return;
    };
    common::timeout(LIMIT, async {
        ch.send(&"go").await.unwrap();
        for i in 0..100_000u32 {
            assert_eq!(ch.recv::<u32>().await.unwrap(), Some(i));
        }
        assert_eq!(ch.recv::<String>().await.unwrap().as_deref(), Some("done"));
    })
    .await;
    drop(ch);
    assert!(child.wait().await.unwrap().success());
}

#[tokio::test]
async fn every_value_kind_survives_a_rust_parent_echo_as_node_checks_it() {
    // The Node child sends each value; the Rust parent answers with what
    // it decoded; Node compares with util.isDeepStrictEqual.
    let Some((mut child, mut ch)) = node_child(
        r#"
const { isDeepStrictEqual } = require('util');
const circ = { name: 'c' }; circ.self = circ;
const shared = { k: 1 };
const ab = new ArrayBuffer(16);
const err = new RangeError('boom', { cause: 1 });
const values = [null, true, -0, NaN, Infinity, 2 ** 31, 2 ** 53 + 1, 1.5, [2n ** 70n, -5n],
  '', 'héllo', 'h€llo 😀', '\ud800', 'x'.repeat(70000), [1, , 3], Object.assign([1, 2], { p: 3 }),
  { 1: 'a', b: 'c' }, { x: shared, y: shared }, circ, new Date(0), /ab+c/gi,
  new Map([[1, { a: 1 }], ['k', [2]]]), new Set(['x', 1]), Buffer.from([1, 2, 3]),
  new Uint8Array([1, 2]), new Int16Array([-1, 2]), new Float64Array([0.5]),
  new BigInt64Array([-1n]), new Uint8Array(ab, 4, 8), new DataView(ab, 2, 4), ab,
  [new String('s'), new Number(2), new Boolean(false)], err, { outer: { inner: [null] } }];
const got = [];
process.on('message', (m) => {
  got.push(m);
  if (got.length < values.length) return;
  const bad = values.map((v, i) => i).filter((i) => !isDeepStrictEqual(values[i], got[i]));
  process.send({ report: true, bad: bad.map((i) => String(i)) });
});
for (const v of values) process.send(v);
"#,
    ) else {
        return;
    };
    common::timeout(LIMIT, async {
        loop {
            let v: Value = ch.recv().await.unwrap().expect("message");
            if v.get("report").and_then(Value::as_bool) == Some(true) {
                let bad = format!("{:?}", v.get("bad"));
                assert!(
                    matches!(v.get("bad"), Some(Value::Array(a)) if a.is_empty()),
                    "values Node found changed (indexes): {bad}"
                );
                break;
            }
            ch.send(&v).await.unwrap();
        }
    })
    .await;
    drop(ch);
    assert!(child.wait().await.unwrap().success());
}

#[tokio::test]
async fn current_node_kinds_survive_a_rust_parent_echo() {
    // tests/node/current_kinds.js: Errors with every kind of cause (their
    // own included) and with and without stacks, Float16Array bits,
    // RegExp flags, resizable ArrayBuffers; each sent by Node, echoed as
    // the Value we decoded, and checked by Node (prototype, message, stack,
    // cause identity, exact bits).
    let Some(node) = common::node() else { return };
    let (mut child, mut ch) = Command::new(node)
        .arg(common::script("kinds_echo.js"))
        .serialization(Serialization::Advanced)
        .spawn()
        .expect("spawn node");
    common::timeout(LIMIT, async {
        loop {
            let v: Value = ch.recv().await.unwrap().expect("message");
            if let Value::Object(o) = &v
                && o.get("report").and_then(Value::as_bool) == Some(true)
            {
                assert!(
                    matches!(v.get("bad"), Some(Value::Array(a)) if a.is_empty()),
                    "cases Node found changed: {v:?}"
                );
                assert!(v.get("sent").and_then(Value::as_f64) >= Some(20.0), "{v:?}");
                break;
            }
            ch.send(&v).await.unwrap();
        }
    })
    .await;
    drop(ch);
    assert!(child.wait().await.unwrap().success());
}

/// Little-endian bytes of `xs` (the element order of typed arrays on the
/// wire).
macro_rules! le_bytes {
    ($($x:expr),* $(,)?) => {
        [$($x.to_le_bytes()),*].concat()
    };
}

/// A typed array, DataView or Buffer of `kind` over `bytes`.
fn view(kind: ViewKind, bytes: impl Into<Bytes>) -> Value {
    ArrayBufferView::new(kind, bytes)
        .expect("whole elements")
        .into()
}

fn regexp(source: &str, flags: &str) -> Value {
    JsRegExp {
        source: source.into(),
        flags: RegExpFlags::parse(flags).expect("valid flags"),
    }
    .into()
}

fn error(name: ErrorName, message: Option<&str>, cause: Option<Value>) -> Value {
    JsError {
        name,
        message: message.map(JsString::from),
        stack: None,
        cause,
    }
    .into()
}

fn utf16(units: &[u16]) -> Value {
    JsString::from_utf16(units).into()
}

/// Each case of `tests/node/value_kinds.js`, built with `Value`'s
/// constructors (the names are the script's).
fn value_kinds() -> Vec<(&'static str, Value)> {
    let holey = |len: u32, items: Vec<(u32, Value)>| {
        let mut a = JsArray::holey(len);
        for (i, v) in items {
            a.set(i, v);
        }
        a
    };
    let mut sparse = holey(11, vec![(0, 1.into()), (2, 3.into()), (10, "ten".into())]);
    sparse.insert_property("p", "prop");
    sparse.insert_property("q", Value::Undefined);
    let mut dense = JsArray::from(vec![Value::from(1), Value::from(2)]);
    dense.insert_property("p", 3);
    let mut nested = Value::array(["bottom"]);
    for _ in 0..200 {
        nested = Value::array([nested]);
    }

    let mut object = JsObject::new();
    object.insert("b", 1);
    object.insert(2u32, "two");
    object.insert("a", Value::array(Vec::<Value>::new()));
    object.insert(0u32, Value::Null);
    object.insert("-1", "neg");
    object.insert("4294967295", "not an index");

    let map: JsMap = [
        (Value::from(1), Value::from("one")),
        ("k".into(), Value::object([("a", 1)])),
        (Value::object([("obj", "key")]), Value::array([2])),
        (f64::NAN.into(), Value::Null),
        (BigInt::from(2u8).into(), Value::Undefined),
    ]
    .into_iter()
    .collect();
    let set: JsSet = [
        Value::from("x"),
        1.into(),
        Value::object([("o", 1)]),
        BigInt::from(2u8).into(),
        f64::NAN.into(),
    ]
    .into_iter()
    .collect();

    let cause = error(
        ErrorName::Error,
        Some("inner"),
        Some(BigInt::from(42u8).into()),
    );
    let with_stack = JsError {
        name: ErrorName::TypeError,
        message: Some("s".into()),
        stack: Some("TypeError: s\n    at rust (main.rs:1:1)".into()),
        cause: None,
    };

    let ab = Bytes::from((0u8..16).collect::<Vec<u8>>());
    let resizable = JsArrayBuffer::resizable(vec![1u8, 2, 3, 4], 16).expect("max ≥ length");

    let shared = Value::object([("k", 1)]);
    let day = Value::date(5.0);
    let buf = Value::buffer(vec![7u8, 7]);
    let shared_map: JsMap = [(shared.clone(), day.clone())].into_iter().collect();

    vec![
        ("undefined", Value::Undefined),
        ("null", Value::Null),
        ("booleans", Value::array([true, false])),
        ("negative zero", (-0.0).into()),
        ("NaN", f64::NAN.into()),
        ("Infinity", f64::INFINITY.into()),
        ("-Infinity", f64::NEG_INFINITY.into()),
        (
            "numbers",
            Value::array([
                0.0,
                -0.0,
                1.5,
                -7.0,
                2f64.powi(31),
                -(2f64.powi(31)),
                2f64.powi(32) - 1.0,
                2f64.powi(53) + 1.0,
                -(2f64.powi(53)),
                f64::MAX,
                5e-324,
                f64::EPSILON,
                0.1,
            ]),
        ),
        (
            "bigints",
            Value::array([
                BigInt::zero(),
                1u8.into(),
                (-1i8).into(),
                BigInt::from(1u128 << 64),
                BigInt::from_words(true, &[0, 64]),
                BigInt::from_words(false, &[1, 0, 1]),
                i64::MIN.into(),
            ]),
        ),
        (
            "strings",
            Value::array([
                String::new(),
                "hello".into(),
                "café ÿ".into(),
                "h€llo".into(),
                "😀 astral".into(),
                "a\u{2028}b\u{2029}c".into(),
                "x".repeat(100_000),
                "€".repeat(50_000),
            ]),
        ),
        (
            "lone surrogates",
            Value::array([
                utf16(&[0xD800]),
                utf16(&[0x61, 0xDC00, 0x62]),
                utf16(&[0xDC00, 0xD800]),
                utf16(&[0xD83D]),
                utf16(&[0x6F, 0x6B, 0x20, 0xD83D, 0xDE00, 0x20, 0xDFFF]),
            ]),
        ),
        ("object with integer and string keys", object.into()),
        (
            "nested objects",
            Value::object([
                (
                    "outer",
                    Value::object([(
                        "inner",
                        Value::object([(
                            "deep",
                            Value::array([Value::from(1), Value::object([("x", "y")])]),
                        )]),
                    )]),
                ),
                ("empty", JsObject::new().into()),
                ("none", JsArray::new().into()),
            ]),
        ),
        ("deeply nested arrays", nested),
        ("sparse array with extra properties", sparse.into()),
        ("dense array with an extra property", dense.into()),
        (
            "undefined versus hole",
            holey(3, vec![(0, Value::Undefined), (2, Value::Null)]).into(),
        ),
        ("holes at the end", holey(5, vec![(1, "x".into())]).into()),
        (
            "array with one element at 1e6",
            holey(1_000_001, vec![(1_000_000, 1.into())]).into(),
        ),
        ("Map", map.into()),
        ("Set", set.into()),
        (
            "Dates",
            Value::array([
                Value::date(0.0),
                Value::date(1.7e12),
                Value::date(-1.0),
                Value::date(8.64e15),
            ]),
        ),
        ("invalid Date", Value::date(f64::NAN)),
        (
            "RegExps",
            Value::array([
                regexp("ab+c", "gi"),
                regexp(r"^\/path\/$", "m"),
                regexp(r"\u{1F600}", "u"),
                regexp("x", "dsy"),
                regexp(r"[\p{L}--[a-z]]", "v"),
                regexp("(?:)", ""),
            ]),
        ),
        (
            "boxed primitives",
            Value::array([
                Primitive::Number(1.5),
                Primitive::Number(-0.0),
                Primitive::String("s".into()),
                Primitive::String(JsString::from_utf16(&[0xD800])),
                Primitive::Boolean(false),
                Primitive::BigInt(5u8.into()),
            ]),
        ),
        (
            "Error kinds",
            Value::array([
                error(ErrorName::Error, Some("e"), None),
                error(ErrorName::TypeError, Some("t"), None),
                error(ErrorName::RangeError, Some("r"), None),
                error(ErrorName::SyntaxError, Some("s"), None),
                error(ErrorName::ReferenceError, Some("f"), None),
                error(ErrorName::EvalError, Some("v"), None),
                error(ErrorName::UriError, Some("u"), None),
                error(ErrorName::Error, None, None),
            ]),
        ),
        (
            "Error with cause",
            error(ErrorName::RangeError, Some("boom"), Some(cause)),
        ),
        (
            "Error with cause undefined",
            error(ErrorName::Error, Some("c"), Some(Value::Undefined)),
        ),
        ("Error with stack", with_stack.into()),
        ("Buffer", Value::buffer(vec![0u8, 1, 2, 255])),
        ("empty Buffer", Value::buffer(Bytes::new())),
        (
            "every typed array",
            Value::object([
                (
                    "i8",
                    view(ViewKind::Int8Array, le_bytes![-128i8, 127i8, 0i8]),
                ),
                ("u8", view(ViewKind::Uint8Array, vec![0u8, 255])),
                ("u8c", view(ViewKind::Uint8ClampedArray, vec![0u8, 255])),
                (
                    "i16",
                    view(ViewKind::Int16Array, le_bytes![i16::MIN, i16::MAX]),
                ),
                (
                    "u16",
                    view(ViewKind::Uint16Array, le_bytes![u16::MAX, 1u16]),
                ),
                (
                    "i32",
                    view(ViewKind::Int32Array, le_bytes![i32::MIN, i32::MAX]),
                ),
                ("u32", view(ViewKind::Uint32Array, le_bytes![u32::MAX])),
                (
                    "f32",
                    view(
                        ViewKind::Float32Array,
                        le_bytes![1.5f32, -0.0f32, f32::INFINITY, f32::NAN],
                    ),
                ),
                (
                    "f64",
                    view(
                        ViewKind::Float64Array,
                        le_bytes![0.1f64, -0.0f64, f64::NEG_INFINITY, f64::NAN],
                    ),
                ),
                (
                    "bi64",
                    view(ViewKind::BigInt64Array, le_bytes![-1i64, i64::MAX]),
                ),
                ("bu64", view(ViewKind::BigUint64Array, le_bytes![u64::MAX])),
                ("dv", view(ViewKind::DataView, vec![1u8, 2, 3])),
                ("empty", view(ViewKind::Float64Array, Bytes::new())),
            ]),
        ),
        (
            "views sharing one ArrayBuffer",
            Value::object([
                ("u8", view(ViewKind::Uint8Array, ab.slice(4..12))),
                ("i16", view(ViewKind::Int16Array, ab.slice(8..16))),
                ("dv", view(ViewKind::DataView, ab.slice(2..6))),
                ("f32", view(ViewKind::Float32Array, ab.slice(0..8))),
                ("buf", Value::buffer(ab.slice(1..4))),
                ("ab", JsArrayBuffer::new(ab).into()),
            ]),
        ),
        ("ArrayBuffer", JsArrayBuffer::new(vec![9u8, 8, 7]).into()),
        ("resizable ArrayBuffer", resizable.into()),
        (
            "shared references",
            Value::object([
                ("a", shared.clone()),
                ("b", shared.clone()),
                ("list", Value::array([shared, day.clone(), day])),
                ("map", shared_map.into()),
                ("bufs", Value::array([buf.clone(), buf])),
            ]),
        ),
        (
            "circular object",
            Value::object([
                ("name", Value::from("c")),
                ("self", Value::Circular(0)),
                ("list", Value::array([Value::Circular(1)])),
            ]),
        ),
        (
            "circular Map and Set",
            Value::object([
                (
                    "m",
                    Value::from(JsMap::from_iter([("me", Value::Circular(0))])),
                ),
                ("st", Value::from(JsSet::from_iter([Value::Circular(0)]))),
            ]),
        ),
        (
            "circular array",
            Value::array([Value::from(1), Value::Circular(0)]),
        ),
    ]
}

#[tokio::test]
async fn every_value_kind_built_in_rust_is_what_node_builds() {
    // Rust builds each value with `Value`'s constructors; the Node child
    // builds the JS value itself and checks util.isDeepStrictEqual plus
    // identity (shared and circular references), key order, holes and
    // Error fields, one answer per case.
    let Some(node) = common::node() else {
        return;
    };
    let (mut child, mut ch) = Command::new(node)
        .arg(common::script("value_kinds.js"))
        .serialization(Serialization::Advanced)
        .spawn()
        .expect("spawn node");
    let cases = value_kinds();
    common::timeout(LIMIT, async {
        for (name, value) in &cases {
            ch.feed(&Value::object([
                ("name", Value::from(*name)),
                ("value", value.clone()),
            ]))
            .await
            .unwrap();
        }
        ch.send(&Value::object([("done", true)])).await.unwrap();
        let mut failed = Vec::new();
        for (name, _) in &cases {
            let reply: Value = ch.recv().await.unwrap().expect("a case's result");
            let text = |k| reply.get(k).and_then(Value::as_str).unwrap_or_default();
            assert_eq!(text("name"), *name, "results arrive in order");
            let ok = reply.get("ok").and_then(Value::as_bool) == Some(true);
            eprintln!("{name}: {}", if ok { "ok" } else { "FAILED" });
            if !ok {
                failed.push(format!("{name}: {}", text("why")));
            }
        }
        let report: Value = ch.recv().await.unwrap().expect("the report");
        assert!(
            failed.is_empty(),
            "{} of {} values are not what Node builds:\n{}",
            failed.len(),
            cases.len(),
            failed.join("\n")
        );
        assert!(
            matches!(report.get("missing"), Some(Value::Array(a)) if a.is_empty()),
            "cases of value_kinds.js that Rust did not send: {:?}",
            report.get("missing")
        );
    })
    .await;
    drop(ch);
    assert!(child.wait().await.unwrap().success());
}
