//! Fuzzes the `advanced` codec with hostile peers: `V8Decoder` framing and
//! the value reader, and the writer on whatever the reader accepts.
//!
//! Input layout: byte 0 picks `max_message_len` (8·b + 1: 1 to 2041, small
//! so that over-long frames are cheap to reach); byte 1 picks
//! `max_depth` (low 6 bits + 1) and, with its top bit, "payload mode": the
//! rest is one payload (`FF 0F …`), without framing; bytes 2..=5 are read
//! sizes (1 to 256, used in a cycle); the rest is the stream.
//!
//! Checked: no panic; the frames and framing errors are exactly those of
//! walking the length prefixes of the whole stream, at the right offsets,
//! whatever the read sizes; after `decode()` returns `None` at most
//! `max_message_len + 4` bytes are buffered; `finish()` reports a leftover
//! once; a payload that does not decode is `Error::Decode` at its frame's
//! offset; one that does re-encodes (unless it holds a RegExp that does not
//! compile, which the writer refuses), reads back as an equal value, and
//! re-encodes to the same bytes. Read through serde, straight from the
//! payload (`Frame::deserialize`), as a `serde_json::Value` and as a
//! struct, it gives what `from_value_limited` gives on the decoded value, errors
//! included.

#![no_main]

use std::collections::BTreeMap;
use std::fmt::Debug;

use libfuzzer_sys::fuzz_target;
use nodeipc::codec::v8::{Frame, V8Decoder, decode_payload, encode_payload};
use nodeipc::value::from_value_limited;
use nodeipc::{DecodeError, Error, Limits, Value};
use serde::de::DeserializeOwned;

#[derive(Debug, PartialEq)]
enum Event<'a> {
    Frame(u64, &'a [u8]),
    TooLarge(u64),
    BadLength(u64),
}

fuzz_target!(|input: &[u8]| {
    let Some((&[l, d, s0, s1, s2, s3], data)) = input.split_first_chunk::<6>() else {
        return;
    };
    let limit = usize::from(l) * 8 + 1;
    let limits = Limits::default()
        .with_max_message_len(limit)
        .with_max_depth(usize::from(d & 0x3f) + 1)
        .with_max_elements(10_000);
    if d & 0x80 != 0 {
        check_payload(data, &limits, 0);
        return;
    }
    let sizes = [s0, s1, s2, s3].map(|s| usize::from(s) + 1);

    // What the decoder must say, from the length prefixes.
    let mut want = Vec::new();
    let (mut at, mut skipping) = (0usize, false);
    while data.len() - at >= 4 {
        let len = u32::from_be_bytes(data[at..at + 4].try_into().unwrap()) as usize;
        let end = at + 4 + len;
        if len == 0 || len >= 1 << 31 {
            want.push(Event::BadLength(at as u64));
            skipping = end > data.len();
        } else if len > limit {
            want.push(Event::TooLarge(at as u64));
            skipping = end > data.len();
        } else if end <= data.len() {
            want.push(Event::Frame(at as u64, &data[at + 4..end]));
        } else {
            break;
        }
        at = end.min(data.len());
    }
    let left = data.len() - at;

    let mut dec = V8Decoder::new(limits);
    let (mut got, mut fed) = (0, 0);
    for &size in sizes.iter().cycle() {
        if fed == data.len() {
            break;
        }
        let end = (fed + size).min(data.len());
        dec.extend(&data[fed..end]);
        fed = end;
        while let Some(r) = dec.decode() {
            let event = match r {
                Ok(frame) => {
                    check_payload(frame.payload(), &limits, frame.offset());
                    match frame.to_value() {
                        Ok(_) => {}
                        Err(Error::Decode { offset, .. }) => assert_eq!(offset, frame.offset()),
                        Err(e) => panic!("to_value gave {e:?}"),
                    }
                    // Compare by position: frames borrow the decoder.
                    let (o, p) = (frame.offset(), frame.payload());
                    assert_eq!(p, &data[o as usize + 4..o as usize + 4 + p.len()]);
                    Event::Frame(o, &data[o as usize + 4..o as usize + 4 + p.len()])
                }
                Err(Error::TooLarge {
                    offset,
                    len,
                    limit: l,
                }) => {
                    assert!(l == limit && len > limit);
                    Event::TooLarge(offset)
                }
                Err(Error::Decode {
                    offset,
                    kind: DecodeError::FrameLength(_),
                }) => Event::BadLength(offset),
                Err(e) => panic!("decode() gave {e:?}"),
            };
            assert_eq!(Some(&event), want.get(got), "event {got}");
            got += 1;
        }
        assert!(
            dec.buffered() <= limit + 4,
            "{} buffered, limit {limit}",
            dec.buffered()
        );
    }
    assert_eq!(got, want.len(), "missing events");
    match dec.finish() {
        Ok(()) => assert!(left == 0 && !skipping),
        Err(Error::UnexpectedEof { buffered }) => {
            assert!(buffered == left && (left > 0 || skipping));
        }
        Err(e) => panic!("finish() gave {e:?}"),
    }
    assert!(dec.finish().is_ok(), "finish() reports a leftover once");
});

/// A payload either fails to decode, at `offset`, or decodes to a value
/// that re-encodes, reads back equal, and re-encodes to the same bytes.
fn check_payload(payload: &[u8], limits: &Limits, offset: u64) {
    check_serde::<serde_json::Value>(payload, limits, offset);
    check_serde::<Record>(payload, limits, offset);
    let v = match decode_payload(payload, limits) {
        Ok(v) => v,
        Err(Error::Decode { offset: 0, .. }) => return,
        Err(e) => panic!("decode_payload gave {e:?} at frame {offset}"),
    };
    let mut out = Vec::new();
    match encode_payload(&v, &mut out) {
        Ok(()) => {}
        // The reader takes any RegExp source (what Node sent, V8 compiled);
        // the writer refuses one that does not compile.
        Err(Error::Encode(e)) if e.to_string().starts_with("RegExp /") => return,
        Err(e) => panic!("a decoded value does not encode: {e}"),
    }
    let back: Value = decode_payload(&out, &Limits::default()).expect("our bytes decode");
    assert!(back == v, "{v:?} came back as {back:?}");
    let mut again = Vec::new();
    encode_payload(&back, &mut again).expect("encodes");
    assert_eq!(again, out);
    // Debug and JSON conversion never panic either.
    let _ = format!("{v:?}");
    let _ = v.to_json_limited(&Limits::default().with_max_elements(100_000));
}

/// A typed message: known fields of several kinds, the rest ignored.
#[derive(serde::Deserialize, Debug)]
#[allow(dead_code)] // read through Debug
struct Record {
    id: Option<u64>,
    name: Option<String>,
    data: Option<Vec<u8>>,
    value: Option<Value>,
    more: Option<Vec<Record>>,
    map: Option<BTreeMap<String, f64>>,
}

/// `Frame::deserialize` gives what
/// `from_value_limited(frame.to_value(), frame.expansion_limits())` gives.
fn check_serde<T: DeserializeOwned + Debug>(payload: &[u8], limits: &Limits, offset: u64) {
    let frame = Frame::new(payload, offset, *limits);
    let direct = frame.deserialize::<T>();
    let through_value = frame.to_value().and_then(|v| {
        from_value_limited::<T>(&v, &frame.expansion_limits()).map_err(|e| Error::Decode {
            offset,
            kind: DecodeError::Mismatch(e.to_string()),
        })
    });
    assert_eq!(format!("{direct:?}"), format!("{through_value:?}"));
}
