//! Property tests for the `advanced` codec (docs/protocol.md §3): any value
//! survives encode → decode unchanged (and re-encodes to the same bytes);
//! however a frame stream is cut into reads it decodes the same; arbitrary
//! or corrupted bytes never panic, and whatever they decode to re-encodes
//! faithfully.
//!
//! Failure persistence is off: a case that once failed is kept as a plain
//! `#[test]` instead. `PROPTEST_CASES` raises the case count for a longer
//! hunt (`PROPTEST_CASES=20000 cargo test --release --test prop_v8`).

mod v8_values;

use nodeipc::codec::json::READ_CHUNK;
use nodeipc::codec::v8::{V8Decoder, decode_payload, encode, encode_payload};
use nodeipc::{DecodeError, Error, Limits, Value};
use proptest::collection::vec;
use proptest::prelude::*;
use v8_values::{config, value};

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
            match encode_payload(&v, &mut out) {
                Ok(()) => {}
                // The reader takes any RegExp source (what Node sent, V8
                // compiled); the writer refuses one that does not compile.
                Err(Error::Encode(e)) if e.to_string().starts_with("RegExp /") => return Ok(()),
                Err(e) => prop_assert!(false, "a decoded value does not encode: {e}"),
            }
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
