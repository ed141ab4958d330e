//! Fuzzes `JsonDecoder` and `Frame::parse` with hostile peers.
//!
//! Input layout: byte 0 picks `max_message_len` (1 to 1021, small so that
//! over-long lines are cheap to reach), bytes 1..=4 are read sizes (1 to
//! 256, used in a cycle), the rest is the stream.
//!
//! Checked: no panic; every error is recoverable and about one line; after
//! `decode()` returns `None` at most `max_message_len` bytes are buffered
//! (the documented bound is that plus `READ_CHUNK`); the frames and errors
//! are exactly those of splitting the whole stream on `\n` at once, so they
//! do not depend on the read sizes; whatever parses as a `Value` also
//! parses as a `RawValue` holding the same JSON.

#![no_main]

use libfuzzer_sys::fuzz_target;
use nodeipc::codec::json::{Frame, JsonDecoder, READ_CHUNK};
use nodeipc::{DecodeError, Error, Limits};
use serde_json::Value;
use serde_json::value::RawValue;

#[derive(Debug, PartialEq)]
enum Event<'a> {
    Frame(u64, &'a [u8]),
    TooLarge(u64),
    EmptyLine(u64),
}

fuzz_target!(|input: &[u8]| {
    let Some((&[l, s0, s1, s2, s3], data)) = input.split_first_chunk::<5>() else {
        return;
    };
    let limit = usize::from(l) * 4 + 1;
    let sizes = [s0, s1, s2, s3].map(|s| usize::from(s) + 1);
    let mut limits = Limits::default();
    limits.max_message_len = limit;

    // What the decoder must say, line by line.
    let mut want = Vec::new();
    let mut want_eof = None;
    let mut offset = 0u64;
    let mut lines = data.split(|&b| b == b'\n').peekable();
    while let Some(line) = lines.next() {
        let complete = lines.peek().is_some();
        if line.len() > limit {
            want.push(Event::TooLarge(offset));
            if !complete {
                want_eof = Some(0);
            }
        } else if !complete {
            want_eof = (!line.is_empty()).then_some(line.len());
        } else if line.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r')) {
            want.push(Event::EmptyLine(offset));
        } else {
            want.push(Event::Frame(offset, line));
        }
        offset += line.len() as u64 + 1;
    }

    let mut dec = JsonDecoder::new(limits);
    let mut got = 0;
    let mut fed = 0usize;
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
                    check_frame(frame);
                    Event::Frame(frame.offset(), frame.as_bytes())
                }
                Err(Error::TooLarge {
                    offset,
                    len,
                    limit: l,
                }) => {
                    assert_eq!(l, limit);
                    assert!(len > limit && offset + len as u64 <= fed as u64);
                    Event::TooLarge(offset)
                }
                Err(Error::Decode {
                    offset,
                    kind: DecodeError::EmptyLine,
                }) => Event::EmptyLine(offset),
                Err(e) => panic!("unexpected error from decode(): {e:?}"),
            };
            // Frames borrow the decoder: compare with the data by position.
            match (&event, want.get(got)) {
                (Event::Frame(o, bytes), Some(Event::Frame(wo, wbytes))) => {
                    assert_eq!((o, bytes), (wo, wbytes));
                    assert_eq!(*bytes, &data[*o as usize..*o as usize + bytes.len()]);
                }
                (e, w) => assert_eq!(Some(e), w),
            }
            got += 1;
        }
        let buffered = dec.buffered();
        assert!(
            buffered <= limit + READ_CHUNK,
            "{buffered} > {limit} + READ_CHUNK"
        );
        assert!(
            buffered <= limit,
            "{buffered} bytes buffered, limit {limit}"
        );
    }
    assert_eq!(got, want.len(), "missing events");
    match (dec.finish(), want_eof) {
        (Ok(()), None) => {}
        (Err(Error::UnexpectedEof { buffered }), Some(n)) => assert_eq!(buffered, n),
        (r, w) => panic!("finish() gave {r:?}, expected UnexpectedEof of {w:?}"),
    }
    assert!(dec.finish().is_ok(), "finish() reports a fragment once");
});

fn check_frame(frame: Frame<'_>) {
    let bytes = frame.as_bytes();
    assert!(!bytes.contains(&b'\n'));
    let value = frame.parse::<Value>();
    let raw = frame.parse::<Box<RawValue>>();
    for e in [value.as_ref().err(), raw.as_ref().err()]
        .into_iter()
        .flatten()
    {
        assert!(e.is_recoverable(), "{e:?}");
        assert!(
            matches!(e, Error::Decode { offset, kind: DecodeError::Json(_) } if *offset == frame.offset()),
            "{e:?}"
        );
    }
    let internal = frame.is_internal();
    if let Ok(v) = value {
        // `1e400` is a RawValue but no Value: only this direction holds.
        let raw = raw.expect("a Value must also be a RawValue");
        // The raw text keeps a lone `\ud800` as sent: parse it the way the
        // frame was parsed, repairs included, and it is the same value.
        let again: Value = Frame::new(raw.get().as_bytes(), frame.offset())
            .parse()
            .expect("RawValue text parses");
        assert_eq!(v, again);
        let cmd_is_internal = v
            .get("cmd")
            .and_then(Value::as_str)
            .is_some_and(|c| c.len() > 5 && c.starts_with("NODE_"));
        assert_eq!(internal, cmd_is_internal, "is_internal() on {v:?}");
    }
}
