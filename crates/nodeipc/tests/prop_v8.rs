//! Property tests for the `advanced` codec (PROTOCOL.md §3): any value
//! survives encode → decode unchanged (and re-encodes to the same bytes);
//! however a frame stream is cut into reads it decodes the same; arbitrary
//! or corrupted bytes never panic, and whatever they decode to re-encodes
//! faithfully.
//!
//! Failure persistence is off: a case that once failed is kept as a plain
//! `#[test]` instead. `PROPTEST_CASES` raises the case count for a longer
//! hunt (`PROPTEST_CASES=20000 cargo test --release --test prop_v8`).

use nodeipc::codec::json::READ_CHUNK;
use nodeipc::codec::v8::{V8Decoder, decode_payload, encode, encode_payload};
use nodeipc::value::{
    ArrayBufferView, BigInt, ErrorName, JsArray, JsArrayBuffer, JsError, JsMap, JsRegExp, JsSet,
    JsString, Primitive, PropertyKey, RegExpFlags, ViewKind,
};
use nodeipc::{DecodeError, Error, Limits, Value};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::test_runner::Config;

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

// ---------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------

fn number() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>(),
        any::<i32>().prop_map(f64::from),
        any::<u64>().prop_map(f64::from_bits), // NaN payloads included
        Just(-0.0),
        Just(2f64.powi(31)),
    ]
}

fn string() -> impl Strategy<Value = JsString> {
    prop_oneof![
        "[a-z€é]{0,5}".prop_map(JsString::from),
        ".{0,8}".prop_map(JsString::from),
        vec(any::<u16>(), 0..6).prop_map(|u| JsString::from_utf16(&u)),
    ]
}

fn flags() -> impl Strategy<Value = RegExpFlags> {
    any::<u32>().prop_map(|b| {
        RegExpFlags::from_bits(b & 0x1bf)
            .or_else(|| RegExpFlags::from_bits(b & 0xbf))
            .expect("valid without v")
    })
}

fn view() -> impl Strategy<Value = Value> {
    (0u32..13, vec(any::<u8>(), 0..24)).prop_map(|(i, mut bytes)| {
        let kind = ViewKind::from_type_index(i).expect("0..13");
        bytes.truncate(bytes.len() - bytes.len() % kind.element_size());
        ArrayBufferView::new(kind, bytes)
            .expect("whole elements")
            .into()
    })
}

fn leaf() -> impl Strategy<Value = Value> {
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
        (string(), flags()).prop_map(|(source, flags)| JsRegExp { source, flags }.into()),
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
        view(),
    ]
}

fn key() -> impl Strategy<Value = PropertyKey> {
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
fn child(inner: BoxedStrategy<Value>) -> impl Strategy<Value = Value> {
    prop_oneof![
        6 => inner,
        1 => Just(Value::Circular(0)),
        1 => Just(Value::array([Value::Circular(1)])),
    ]
}

/// Values of every kind, nested, with shared objects and cycles.
fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 48, 5, |inner| {
        let c = || child(inner.clone().boxed());
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
                option::of(inner.clone())
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

fn bytes_of(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    encode(v, &mut out).expect("encodes");
    out
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn any_value_survives_encode_then_decode(v in value()) {
        let bytes = bytes_of(&v);
        let back = decode_payload(&bytes[4..], &Limits::default()).expect("decodes");
        prop_assert_eq!(&back, &v);
        // Same sharing, same hints: the same bytes again.
        prop_assert_eq!(bytes_of(&back), bytes);
    }
}

// ---------------------------------------------------------------------------
// Framing
// ---------------------------------------------------------------------------

const LIMIT: usize = 1000;

/// One piece of a stream: a valid frame, a frame of garbage, a zero length,
/// or a frame over the limit.
fn piece() -> impl Strategy<Value = Vec<u8>> {
    let framed = |payload: Vec<u8>| {
        let mut f = (payload.len() as u32).to_be_bytes().to_vec();
        f.extend(payload);
        f
    };
    prop_oneof![
        4 => value().prop_map(|v| {
            let f = bytes_of(&v);
            if f.len() <= LIMIT + 4 { f } else { bytes_of(&Value::Null) }
        }),
        1 => vec(any::<u8>(), 1..40).prop_map(framed),
        1 => Just(vec![0, 0, 0, 0]),
        1 => (LIMIT + 1..LIMIT + 200).prop_map(move |n| framed(vec![0x5a; n])),
    ]
}

#[derive(Debug, PartialEq)]
enum Event {
    Frame(u64, Vec<u8>),
    TooLarge(u64),
    BadLength(u64),
}

/// What the decoder must report, worked out from the stream directly; and
/// what is left at the end: the bytes of an incomplete frame, and whether
/// a refused frame was still being skipped.
fn expected(stream: &[u8]) -> (Vec<Event>, usize, bool) {
    let (mut events, mut at, mut skipping) = (Vec::new(), 0usize, false);
    while stream.len() - at >= 4 {
        let len = u32::from_be_bytes(stream[at..at + 4].try_into().unwrap()) as usize;
        let end = at + 4 + len;
        if len == 0 || len >= 1 << 31 {
            events.push(Event::BadLength(at as u64));
            skipping = end > stream.len();
        } else if len > LIMIT {
            events.push(Event::TooLarge(at as u64));
            skipping = end > stream.len();
        } else if end <= stream.len() {
            events.push(Event::Frame(at as u64, stream[at + 4..end].to_vec()));
        } else {
            break;
        }
        at = end.min(stream.len());
    }
    (events, stream.len() - at, skipping)
}

/// Feeds `stream` in reads of `sizes` (cycled) and collects the events;
/// checks the memory bound after every read.
fn feed(stream: &[u8], sizes: &[usize]) -> (Vec<Event>, Result<(), Error>) {
    let mut dec = V8Decoder::new(Limits::default().with_max_message_len(LIMIT));
    let (mut events, mut fed) = (Vec::new(), 0);
    for &size in sizes.iter().cycle() {
        if fed == stream.len() {
            break;
        }
        let end = (fed + size).min(stream.len());
        dec.extend(&stream[fed..end]);
        fed = end;
        while let Some(r) = dec.decode() {
            events.push(match r {
                Ok(f) => {
                    // Parsing never panics, whatever the payload.
                    let _ = f.to_value();
                    Event::Frame(f.offset(), f.payload().to_vec())
                }
                Err(Error::TooLarge { offset, .. }) => Event::TooLarge(offset),
                Err(Error::Decode {
                    offset,
                    kind: DecodeError::FrameLength(_),
                }) => Event::BadLength(offset),
                Err(e) => panic!("unexpected {e:?}"),
            });
        }
        assert!(
            dec.buffered() <= LIMIT + 4,
            "{} bytes buffered",
            dec.buffered()
        );
        assert!(dec.read_buf().capacity() < 2 * (LIMIT + 4 + READ_CHUNK) + READ_CHUNK);
    }
    (events, dec.finish())
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn any_split_of_a_frame_stream_decodes_the_same(
        pieces in vec(piece(), 1..6),
        cut_short in 0usize..8,
        sizes in vec(1usize..40, 1..6),
    ) {
        let mut stream: Vec<u8> = pieces.concat();
        stream.truncate(stream.len().saturating_sub(cut_short));
        let (want, left, skipping) = expected(&stream);
        let (got, fin) = feed(&stream, &sizes);
        prop_assert_eq!(&got, &want);
        let (whole, _) = feed(&stream, &[stream.len().max(1)]);
        prop_assert_eq!(whole, want);
        match fin {
            Ok(()) => prop_assert!(left == 0 && !skipping),
            Err(Error::UnexpectedEof { buffered }) => {
                prop_assert!(buffered == left && (left > 0 || skipping));
            }
            Err(e) => prop_assert!(false, "finish: {e:?}"),
        }
    }
}

// ---------------------------------------------------------------------------
// Garbage
// ---------------------------------------------------------------------------

fn small_limits() -> Limits {
    Limits::default().with_max_depth(40).with_max_elements(2000)
}

/// Whatever decodes re-encodes, and reads back as the same value and bytes.
fn check_reencodes(payload: &[u8]) -> Result<(), TestCaseError> {
    match decode_payload(payload, &small_limits()) {
        Ok(v) => {
            let mut out = Vec::new();
            encode_payload(&v, &mut out).expect("a decoded value encodes");
            let back = decode_payload(&out, &Limits::default()).expect("our bytes decode");
            prop_assert_eq!(&back, &v);
            let mut again = Vec::new();
            encode_payload(&back, &mut again).expect("encodes");
            prop_assert_eq!(again, out);
        }
        Err(Error::Decode { offset: 0, .. }) => {}
        Err(e) => prop_assert!(false, "unexpected {e:?}"),
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(2048))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..200), header in any::<bool>()) {
        let payload = if header { [&[0xff, 0x0f][..], &bytes].concat() } else { bytes };
        check_reencodes(&payload)?;
    }

    #[test]
    fn corrupted_encodings_never_panic(
        v in value(),
        edits in vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut payload = bytes_of(&v)[4..].to_vec();
        for (at, b) in edits {
            let i = at.index(payload.len());
            payload[i] = b;
        }
        check_reencodes(&payload)?;
        check_reencodes(&payload[..cut.index(payload.len() + 1)])?;
    }
}
