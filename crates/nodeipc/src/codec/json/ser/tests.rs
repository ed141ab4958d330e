//! The serializer against the encoder it replaced (serde_json's serializer
//! with `JsFormatter`, kept here verbatim as the oracle): same bytes, or
//! the same error, for every input.

use std::fmt;
use std::io;

use proptest::prelude::*;
use proptest::test_runner::Config;
use serde::{Serialize, Serializer};
use serde_json::json;
use serde_json::value::RawValue;

use super::scalar::MAX_SAFE;

// ---------------------------------------------------------------------------
// The oracle: the former encoder
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
struct JsFormatter;

impl JsFormatter {
    fn write_double<W: io::Write + ?Sized>(w: &mut W, v: f64) -> io::Result<()> {
        if v.is_finite() {
            w.write_all(ryu_js::Buffer::new().format_finite(v).as_bytes())
        } else {
            w.write_all(b"null")
        }
    }
}

impl serde_json::ser::Formatter for JsFormatter {
    fn write_f64<W: io::Write + ?Sized>(&mut self, w: &mut W, v: f64) -> io::Result<()> {
        Self::write_double(w, v)
    }

    fn write_f32<W: io::Write + ?Sized>(&mut self, w: &mut W, v: f32) -> io::Result<()> {
        Self::write_double(w, f64::from(v))
    }

    fn write_u64<W: io::Write + ?Sized>(&mut self, w: &mut W, v: u64) -> io::Result<()> {
        if v <= MAX_SAFE {
            serde_json::ser::CompactFormatter.write_u64(w, v)
        } else {
            Self::write_double(w, v as f64)
        }
    }

    fn write_i64<W: io::Write + ?Sized>(&mut self, w: &mut W, v: i64) -> io::Result<()> {
        if v.unsigned_abs() <= MAX_SAFE {
            serde_json::ser::CompactFormatter.write_i64(w, v)
        } else {
            Self::write_double(w, v as f64)
        }
    }

    fn write_u128<W: io::Write + ?Sized>(&mut self, w: &mut W, v: u128) -> io::Result<()> {
        match u64::try_from(v) {
            Ok(v) => self.write_u64(w, v),
            Err(_) => Self::write_double(w, v as f64),
        }
    }

    fn write_i128<W: io::Write + ?Sized>(&mut self, w: &mut W, v: i128) -> io::Result<()> {
        match i64::try_from(v) {
            Ok(v) => self.write_i64(w, v),
            Err(_) => Self::write_double(w, v as f64),
        }
    }
}

fn oracle<T: Serialize + ?Sized>(v: &T) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, JsFormatter);
    v.serialize(&mut ser).map_err(|e| e.to_string())?;
    Ok(out)
}

fn ours<T: Serialize + ?Sized>(v: &T) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    super::write(v, &mut out).map_err(|e| e.to_string())?;
    Ok(out)
}

/// Same bytes, or the same error message.
#[track_caller]
fn check<T: Serialize + ?Sized + fmt::Debug>(v: &T) {
    let (want, got) = (oracle(v), ours(v));
    if want != got {
        let show = |r: &Result<Vec<u8>, String>| match r {
            Ok(b) => format!("Ok({:?})", String::from_utf8_lossy(b)),
            Err(e) => format!("Err({e})"),
        };
        panic!("{v:?}:\n oracle {}\n ours   {}", show(&want), show(&got));
    }
}

fn config(cases: u32) -> Config {
    let from_env = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok());
    Config {
        cases: from_env.unwrap_or(cases),
        failure_persistence: None,
        ..Config::default()
    }
}

mod strategies;

use strategies::{Node, arb_everything, arb_long_string, arb_node, arb_value};

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn values_are_written_as_before(v in arb_value()) {
        check(&v);
    }

    #[test]
    fn data_model_calls_are_written_as_before(v in arb_node()) {
        check(&v);
    }

    #[test]
    fn derived_types_are_written_as_before(v in arb_everything()) {
        check(&v);
    }

    #[test]
    fn long_strings_are_written_as_before(s in arb_long_string()) {
        check(&s);
        check(&Node::CollectStr(s));
    }
}

// ---------------------------------------------------------------------------
// Dedicated cases
// ---------------------------------------------------------------------------

/// Each special character at each position of strings up to 3 blocks long,
/// in an ASCII and a non-ASCII filler.
#[test]
fn escapes_at_every_position() {
    for filler in ['x', 'é'] {
        for len in 0..100 {
            for c in ['"', '\\', '\n', '\0', '\u{1f}', ' ', '\u{7f}', '\u{2028}'] {
                for pos in 0..=len {
                    let mut s: String = std::iter::repeat_n(filler, len).collect();
                    s.insert(s.char_indices().nth(pos).map_or(s.len(), |(i, _)| i), c);
                    check(&s);
                }
            }
        }
    }
    // Blocks with many escapes, in every phase.
    for period in 1..10 {
        for len in 0..140 {
            for c in ['"', '\u{5}'] {
                let s: String = (0..len)
                    .map(|i| if i % period == 0 { c } else { 'x' })
                    .collect();
                check(&s);
                check(&format!("é{s}"));
            }
        }
    }
    let all: String = (0..=0x80u8).map(char::from).collect();
    check(&all);
    check(&all.repeat(3));
}

#[test]
fn numbers_are_written_as_before() {
    for v in [
        0,
        1,
        MAX_SAFE - 1,
        MAX_SAFE,
        MAX_SAFE + 1,
        MAX_SAFE + 2,
        u64::MAX,
    ] {
        check(&v);
        check(&u128::from(v));
        for i in [v as i64, (v as i64).wrapping_neg()] {
            check(&i);
            check(&i128::from(i));
        }
    }
    check(&(
        u128::MAX,
        i128::MIN,
        i128::MAX,
        i64::MIN,
        u128::from(u64::MAX) + 1,
    ));
    for f in [
        0.0,
        -0.0,
        1e21,
        1e-7,
        1.5e-7,
        0.1,
        f64::MAX,
        f64::MIN_POSITIVE,
        5e-324,
    ] {
        check(&f);
        check(&-f);
        check(&(f as f32));
    }
    check(&(f64::NAN, f64::INFINITY, f32::NEG_INFINITY, f32::NAN));
}

#[test]
fn map_keys_are_written_as_before() {
    let keys = [
        Node::Str("k\"".into()),
        Node::Char('\n'),
        Node::Bool(true),
        Node::I8(-1),
        Node::U64(u64::MAX),
        Node::I128(i128::MIN),
        Node::F64(-0.0),
        Node::F32(1.5),
        Node::F64(f64::NAN),
        Node::F32(f32::INFINITY),
        Node::UnitVariant(1),
        Node::NewtypeStruct(Box::new(Node::U8(7))),
        Node::Some(Box::new(Node::Str("s".into()))),
        Node::CollectStr("c\u{1}".into()),
        Node::None,
        Node::Unit,
        Node::UnitStruct,
        Node::Bytes(vec![1]),
        Node::NewtypeVariant(0, Box::new(Node::Unit)),
        Node::Seq(None, vec![]),
        Node::Tuple(vec![]),
        Node::TupleStruct(0, vec![]),
        Node::TupleVariant(0, 0, vec![]),
        Node::Map(None, vec![]),
        Node::Struct(0, 0, vec![]),
        Node::StructVariant(0, 0, vec![]),
        Node::Raw(RawValue::from_string("1".into()).unwrap()),
        Node::Value(json!("v")),
        Node::Value(json!(1)),
    ];
    for k in keys {
        check(&Node::Map(Some(1), vec![(k.clone(), Node::Unit)]));
        check(&Node::Map(
            None,
            vec![(Node::Unit, Node::Unit), (k, Node::Unit)],
        ));
    }
}

#[test]
fn raw_values_are_written_verbatim() {
    let raw = RawValue::from_string("{ \"a\" : [1 , 2.50] }".into()).unwrap();
    assert_eq!(ours(&raw).unwrap(), b"{ \"a\" : [1 , 2.50] }");
    check(&raw);
    check(&vec![raw.clone(), raw.clone()]);
    check(&json!({ "r": 1 }));
    // The token with another field name, or with something else than text.
    check(&Node::Struct(5, 1, vec![(0, Node::Str("1".into()))]));
    check(&Node::Struct(5, 1, vec![(5, Node::U8(1))]));
    check(&Node::Struct(
        5,
        1,
        vec![(5, Node::CollectStr("[ 1 ]".into()))],
    ));
    check(&Node::Struct(5, 2, vec![(5, Node::Str("1".into())); 2]));
    // Without serde_json's `arbitrary_precision`, the number token is not
    // special.
    assert!(!super::arbitrary_precision());
    check(&Node::Struct(6, 1, vec![(6, Node::Str("1.0".into()))]));
}

#[test]
fn errors_leave_nothing_and_have_serde_json_messages() {
    let bad = Node::Map(None, vec![(Node::Unit, Node::Unit)]);
    assert_eq!(ours(&bad), Err("key must be a string".to_string()));
    check(&bad);
    struct Fails;
    impl Serialize for Fails {
        fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
            Err(serde::ser::Error::custom("no \"way\""))
        }
    }
    assert_eq!(ours(&Fails), Err("no \"way\"".to_string()));
    assert_eq!(oracle(&Fails), Err("no \"way\"".to_string()));
}

/// A `Display` impl that fails on its own: serde_json panics ("there should
/// be an error"), this serializer returns an error.
#[test]
fn failing_display_is_an_error() {
    struct Bad;
    impl fmt::Display for Bad {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("part")?;
            Err(fmt::Error)
        }
    }
    struct Collect;
    impl Serialize for Collect {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.collect_str(&Bad)
        }
    }
    assert!(ours(&Collect).is_err());
}
