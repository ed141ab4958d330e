//! Property tests for the `json` decoder (docs/protocol.md §2): however a stream
//! is cut into reads, it decodes the same; garbage never panics, never grows
//! the buffer past the limit, and never costs a good message.
//!
//! Every property feeds the decoder through [`feed`], which checks the
//! memory bound after every read. Failure persistence is off: a case that
//! once failed is kept below as a plain `#[test]` instead.

use nodeipc::codec::json::{Frame, JsonDecoder, READ_CHUNK, encode};
use nodeipc::{DecodeError, Error, Limits};
use proptest::prelude::*;
use proptest::test_runner::Config;
use serde_json::value::RawValue;
use serde_json::{Map, Number, Value};

/// The limit the garbage properties run with: small, so that over-long
/// lines are cheap to generate.
const SMALL_LIMIT: usize = 1000;

fn limits(max_message_len: usize) -> Limits {
    // `Limits` is `#[non_exhaustive]`: no struct literal outside the crate.
    let mut l = Limits::default();
    l.max_message_len = max_message_len;
    l
}

/// `cases` per property, unless `PROPTEST_CASES` says otherwise (for a
/// longer hunt: `PROPTEST_CASES=20000 cargo test --release --test prop_json`).
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
// Driving the decoder
// ---------------------------------------------------------------------------

/// How a stream is cut into reads: chunk sizes, used in a cycle.
fn split(data: &[u8], sizes: &[usize]) -> Vec<Vec<u8>> {
    assert!(sizes.iter().all(|&s| s > 0));
    let mut out = Vec::new();
    let mut rest = data;
    for &size in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (head, tail) = rest.split_at(size.min(rest.len()));
        out.push(head.to_vec());
        rest = tail;
    }
    out
}

/// What the decoder said about one line, in a form that does not depend on
/// how the stream was split (a `TooLarge`'s `len` does, so it is checked
/// in [`feed`] and left out here).
#[derive(Debug, Clone, PartialEq)]
enum Event {
    Frame { offset: u64, bytes: Vec<u8> },
    TooLarge { offset: u64 },
    EmptyLine { offset: u64 },
}

/// Feeds `reads` one by one, draining `decode()` after each, and returns the
/// events and the result of `finish()`.
///
/// Checked on the way: every error is recoverable and about one line; after
/// `decode()` returns `None` at most `limit + READ_CHUNK` bytes are buffered
/// (in fact at most `limit`); the buffer's capacity stays below
/// `2 * (limit + READ_CHUNK)` (one doubling of a limit-sized line plus a
/// read chunk), as long as no single read is larger than `READ_CHUNK`.
fn feed(dec: &mut JsonDecoder, limit: usize, reads: &[Vec<u8>]) -> (Vec<Event>, Result<(), Error>) {
    let mut events = Vec::new();
    let mut seen: u64 = 0; // bytes fed so far
    let mut largest_read = 0;
    for read in reads {
        largest_read = largest_read.max(read.len());
        dec.extend(read);
        seen += read.len() as u64;
        while let Some(r) = dec.decode() {
            match r {
                Ok(frame) => {
                    let offset = frame.offset();
                    assert!(offset + frame.as_bytes().len() as u64 <= seen);
                    events.push(Event::Frame {
                        offset,
                        bytes: frame.as_bytes().to_vec(),
                    });
                }
                Err(e) => {
                    assert!(e.is_recoverable(), "{e:?}");
                    match e {
                        Error::TooLarge {
                            offset,
                            len,
                            limit: l,
                        } => {
                            assert_eq!(l, limit);
                            assert!(len > limit, "TooLarge with len {len} <= limit {limit}");
                            assert!(offset + len as u64 <= seen);
                            events.push(Event::TooLarge { offset });
                        }
                        Error::Decode {
                            offset,
                            kind: DecodeError::EmptyLine,
                        } => events.push(Event::EmptyLine { offset }),
                        e => panic!("decode() gave an unexpected error: {e:?}"),
                    }
                }
            }
        }
        let buffered = dec.buffered();
        assert!(
            buffered <= limit + READ_CHUNK,
            "{buffered} bytes buffered with limit {limit}"
        );
        assert!(
            buffered <= limit,
            "{buffered} bytes buffered with limit {limit}"
        );
        if largest_read <= READ_CHUNK {
            // `read_buf()` without appending is allowed, and it is what
            // `extend` calls first anyway.
            let cap = dec.read_buf().capacity();
            assert!(
                cap < 2 * (limit + READ_CHUNK),
                "buffer capacity {cap} with limit {limit}"
            );
        }
    }
    let fin = dec.finish();
    (events, fin)
}

/// Parses a frame as `Value` and as `RawValue`. Errors must be recoverable
/// `Decode` errors at the frame's offset; what parses as a `Value` must
/// parse as a `RawValue` holding the same value. (Not the other way round:
/// `1e400` is a fine `RawValue`, but a `Value` cannot hold the `Infinity`
/// that `JSON.parse` gives for it.)
fn parse_frame(offset: u64, bytes: &[u8]) -> Result<Value, u64> {
    let frame = Frame::new(bytes, offset);
    let value = frame.parse::<Value>();
    let raw = frame.parse::<Box<RawValue>>();
    for e in [value.as_ref().err(), raw.as_ref().err()]
        .into_iter()
        .flatten()
    {
        assert!(e.is_recoverable(), "{e:?}");
        match e {
            Error::Decode {
                offset: o,
                kind: DecodeError::Json(_),
            } => assert_eq!(*o, offset),
            other => panic!("parse() gave {other:?}"),
        }
    }
    let Ok(v) = value else {
        return Err(offset);
    };
    let raw = raw.unwrap_or_else(|e| {
        panic!(
            "{:?} parses as Value {v:?} but not as RawValue: {e}",
            String::from_utf8_lossy(bytes)
        )
    });
    // The raw text is kept as sent (a lone `\ud800` too), so it needs the
    // same repairs: parse it the way the frame was parsed.
    let again: Value = Frame::new(raw.get().as_bytes(), offset)
        .parse()
        .unwrap_or_else(|e| {
            panic!(
                "RawValue {:?} from {:?} does not parse: {e}",
                raw.get(),
                String::from_utf8_lossy(bytes)
            )
        });
    assert_eq!(v, again, "raw {:?}", raw.get());
    Ok(v)
}

/// The events a correct decoder gives for `data`, computed the obvious way:
/// split on `\n`, classify each line. Returns the events and what
/// `finish()` must report (`None`: Ok; `Some(n)`: `UnexpectedEof` with `n`
/// bytes buffered).
fn model(data: &[u8], limit: usize) -> (Vec<Event>, Option<usize>) {
    let mut events = Vec::new();
    let mut offset = 0u64;
    let mut lines = data.split(|&b| b == b'\n').peekable();
    while let Some(line) = lines.next() {
        let complete = lines.peek().is_some();
        if line.len() > limit {
            events.push(Event::TooLarge { offset });
            if !complete {
                return (events, Some(0));
            }
        } else if !complete {
            return (events, (!line.is_empty()).then_some(line.len()));
        } else if line.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r')) {
            events.push(Event::EmptyLine { offset });
        } else {
            events.push(Event::Frame {
                offset,
                bytes: line.to_vec(),
            });
        }
        offset += line.len() as u64 + 1;
    }
    unreachable!("split always yields a last piece")
}

fn check_finish(fin: Result<(), Error>, expected: Option<usize>) {
    match (fin, expected) {
        (Ok(()), None) => {}
        (Err(Error::UnexpectedEof { buffered }), Some(n)) => assert_eq!(buffered, n),
        (fin, expected) => panic!("finish() gave {fin:?}, expected {expected:?}"),
    }
}

// ---------------------------------------------------------------------------
// Values and their comparison
// ---------------------------------------------------------------------------

/// Equality as a JS peer sees it: numbers are doubles (`1`, `1.0` and
/// `-0` are equal, `2^53 + 1` is `2^53`), object keys keep their order.
/// Doubles must come back bit for bit: the encoder writes the shortest form
/// that round-trips (ryu-js) and serde_json parses it exactly with its
/// `float_roundtrip` feature, as `JSON.parse` does.
fn js_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => js_number(x) == js_number(y),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| js_eq(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((ka, va), (kb, vb))| ka == kb && js_eq(va, vb))
        }
        _ => a == b,
    }
}

/// The double a JS peer holds for `n` (an `as` cast rounds to nearest, as
/// JS does for integer literals).
fn js_number(n: &Number) -> f64 {
    if let Some(u) = n.as_u64() {
        u as f64
    } else if let Some(i) = n.as_i64() {
        i as f64
    } else {
        n.as_f64().unwrap()
    }
}

/// Characters that matter to the encoder or to UTF-8 splitting, plus any
/// `char` at all.
fn interesting_char() -> impl Strategy<Value = char> {
    prop_oneof![
        3 => any::<char>(),
        2 => prop::char::range(' ', '~'),
        2 => prop::sample::select(vec![
            '\n', '\r', '\t', '\0', '\u{1}', '\u{1f}', '\u{7f}', '"', '\\', '/',
            'é', '\u{80}', '\u{7ff}', '\u{800}', '\u{2028}', '\u{2029}', '\u{feff}',
            '\u{fffd}', '\u{ffff}', '\u{10000}', '\u{1F600}', '\u{10ffff}',
        ]),
    ]
}

fn string() -> impl Strategy<Value = String> {
    prop::collection::vec(interesting_char(), 0..12).prop_map(String::from_iter)
}

fn number() -> impl Strategy<Value = Value> {
    const SAFE: i64 = 1 << 53;
    prop_oneof![
        any::<u64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-SAFE - 4..=SAFE + 4).prop_map(Value::from),
        (-1000i64..1000).prop_map(Value::from),
        any::<f64>().prop_filter_map("JSON has no NaN or Infinity", |f| {
            Number::from_f64(f).map(Value::Number)
        }),
        (-1e6f64..1e6).prop_map(Value::from),
        prop::sample::select(vec![
            0.0,
            -0.0,
            0.1,
            0.3,
            1.5e-7,
            1e21,
            1e-7,
            123e20,
            5e-324,
            f64::MIN_POSITIVE,
            f64::MAX,
            f64::MIN,
            f64::EPSILON,
            9007199254740992.0,
            9007199254740994.0,
            18446744073709552000.0,
        ])
        .prop_map(Value::from),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        number(),
        string().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((string(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Read sizes: every single byte, tiny reads (which cut UTF-8 sequences),
/// medium ones, or whole `READ_CHUNK`s.
fn read_sizes() -> impl Strategy<Value = Vec<usize>> {
    prop_oneof![
        Just(vec![1]),
        prop::collection::vec(1usize..=8, 1..16),
        prop::collection::vec(1usize..=300, 1..16),
        prop::collection::vec(1usize..=READ_CHUNK, 1..4),
    ]
}

fn encoded(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    encode(v, &mut out).unwrap();
    out
}

// ---------------------------------------------------------------------------
// 1. Encoded messages survive any split
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(1024))]

    #[test]
    fn json_messages_split_anywhere_decode_to_the_same_messages(
        msgs in prop::collection::vec(value(), 1..8),
        sizes in read_sizes(),
    ) {
        let mut stream = Vec::new();
        let mut offsets = Vec::new();
        for m in &msgs {
            offsets.push(stream.len() as u64);
            encode(m, &mut stream).unwrap();
        }
        // The writer's guarantees (docs/protocol.md §2.1): valid UTF-8, one `\n`
        // per message, at its end.
        prop_assert!(std::str::from_utf8(&stream).is_ok());
        prop_assert_eq!(stream.iter().filter(|&&b| b == b'\n').count(), msgs.len());

        let limit = Limits::DEFAULT_MAX_MESSAGE_LEN;
        let mut dec = JsonDecoder::new(limits(limit));
        let (events, fin) = feed(&mut dec, limit, &split(&stream, &sizes));
        prop_assert!(fin.is_ok(), "finish(): {:?}", fin);
        prop_assert_eq!(events.len(), msgs.len());
        for ((event, msg), want_offset) in events.iter().zip(&msgs).zip(&offsets) {
            let Event::Frame { offset, bytes } = event else {
                panic!("expected a frame, got {event:?}");
            };
            prop_assert_eq!(offset, want_offset);
            let got = parse_frame(*offset, bytes).expect("an encoded message parses");
            prop_assert!(js_eq(&got, msg), "sent {:?}\n got {:?}\nwire {:?}",
                msg, got, String::from_utf8_lossy(bytes));
        }
    }
}

// ---------------------------------------------------------------------------
// 2. One fixed stream, cut at every byte
// ---------------------------------------------------------------------------

/// Messages that exercise every escaping and UTF-8 rule of docs/protocol.md §2.2.
fn fixed_messages() -> Vec<Value> {
    use serde_json::json;
    vec![
        json!({"a": 1, "b": "x"}),
        json!("café"),
        json!("\u{2028}\u{2029}"),
        json!("\u{1F600}"),
        json!("a\nb\t\u{1}\u{7f}"),
        json!(null),
        json!(42),
        json!(true),
        json!([1, null, null, null]),
        json!({"type": "Buffer", "data": [1, 2, 3]}),
        json!({"cmd": "NODE_FOO", "nested": {"é": ["\u{10ffff}", -0.0, 1.5e-7, 1e21]}}),
        json!(u64::MAX),
        json!(i64::MIN),
        json!(0.1),
        json!({}),
        json!([]),
        json!(""),
    ]
}

fn decode_all(reads: &[Vec<u8>]) -> Vec<Value> {
    let limit = Limits::DEFAULT_MAX_MESSAGE_LEN;
    let mut dec = JsonDecoder::new(limits(limit));
    let (events, fin) = feed(&mut dec, limit, reads);
    assert!(fin.is_ok(), "{fin:?}");
    events
        .into_iter()
        .map(|e| match e {
            Event::Frame { offset, bytes } => parse_frame(offset, &bytes).unwrap(),
            other => panic!("{other:?}"),
        })
        .collect()
}

fn assert_same(got: &[Value], want: &[Value], how: &str) {
    assert_eq!(got.len(), want.len(), "{how}");
    for (g, w) in got.iter().zip(want) {
        assert!(js_eq(g, w), "{how}: got {g:?}, want {w:?}");
    }
}

#[test]
fn json_stream_split_at_every_byte_decodes_same() {
    let msgs = fixed_messages();
    let stream: Vec<u8> = msgs.iter().flat_map(encoded).collect();
    let whole = decode_all(std::slice::from_ref(&stream));
    assert_same(&whole, &msgs, "one read");
    for i in 0..=stream.len() {
        let reads = [stream[..i].to_vec(), stream[i..].to_vec()];
        assert_same(&decode_all(&reads), &msgs, &format!("split at {i}"));
    }
    let bytes: Vec<Vec<u8>> = stream.iter().map(|&b| vec![b]).collect();
    assert_same(&decode_all(&bytes), &msgs, "one byte per read");
}

#[test]
fn json_stream_split_at_every_pair_of_bytes_decodes_same() {
    // Three reads: catches state carried across two boundaries (a UTF-8
    // sequence cut twice). Kept to a short stream: O(n²) runs.
    let msgs = vec![
        serde_json::json!("é\u{1F600}\u{2028}"),
        serde_json::json!({"\u{10000}": [1, "\n"]}),
    ];
    let stream: Vec<u8> = msgs.iter().flat_map(encoded).collect();
    for i in 0..=stream.len() {
        for j in i..=stream.len() {
            let reads = [
                stream[..i].to_vec(),
                stream[i..j].to_vec(),
                stream[j..].to_vec(),
            ];
            assert_same(&decode_all(&reads), &msgs, &format!("split at {i}, {j}"));
        }
    }
}

#[test]
fn json_value_and_raw_value_agree_on_what_node_accepts() {
    // Lone surrogates stay in a RawValue and become U+FFFD in a Value;
    // invalid UTF-8 becomes U+FFFD in both; `1e400` (Infinity in JS) is a
    // RawValue only.
    for (line, want) in [
        (&br#""\ud800""#[..], Some(serde_json::json!("\u{fffd}"))),
        (
            br#" {"a":"\udc00x"} "#,
            Some(serde_json::json!({"a": "\u{fffd}x"})),
        ),
        (b"\"a\xffb\"\r", Some(serde_json::json!("a\u{fffd}b"))),
        (b"1e400", None),
    ] {
        let got = parse_frame(7, line);
        assert_eq!(got.ok(), want, "{:?}", String::from_utf8_lossy(line));
    }
    let raw: Box<RawValue> = Frame::new(b"[1e400]", 0).parse().unwrap();
    assert_eq!(raw.get(), "[1e400]");
}

// ---------------------------------------------------------------------------
// 3. Arbitrary bytes: no panic, bounded memory, same result for any split
// ---------------------------------------------------------------------------

/// Pieces of hostile input: random bytes, runs of `\n`, long lines, broken
/// UTF-8, JSON tokens, whole messages.
fn hostile_piece() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => prop::collection::vec(any::<u8>(), 0..48),
        2 => (1usize..6).prop_map(|n| vec![b'\n'; n]),
        1 => (any::<u8>(), 0usize..3 * SMALL_LIMIT).prop_map(|(b, n)| vec![b; n]),
        1 => (prop::sample::select(vec![b'a', b' ', b'\r', b'"', 0xff]), 0usize..3 * SMALL_LIMIT)
            .prop_map(|(b, n)| vec![b; n]),
        2 => prop::sample::select(vec![
            &b"\xff"[..], b"\xc3", b"\xe2\x80", b"\xf0\x9f\x98", b"\xed\xa0\x80", b"\xc0\xaf",
            b"\xef\xbb\xbf", b"\x80", b"\xf4\x90\x80\x80",
        ])
        .prop_map(<[u8]>::to_vec),
        3 => prop::sample::select(vec![
            &b"{"[..], b"}", b"[", b"]", b"\"", b"\\", b"\\u", b"d800", b"\\udc00", b"dfff",
            b",", b":", b"1", b"-", b"e", b"1e400", b"null", b"true", b" ", b"\r", b"\t",
            b"\"cmd\":\"NODE_X\"", b"\0",
        ])
        .prop_map(<[u8]>::to_vec),
        1 => value().prop_map(|v| encoded(&v)),
    ]
}

proptest! {
    #![proptest_config(config(1024))]

    #[test]
    fn json_arbitrary_bytes_never_panic_and_stay_bounded(
        pieces in prop::collection::vec(hostile_piece(), 0..40),
        sizes in read_sizes(),
    ) {
        let data = pieces.concat();
        let mut dec = JsonDecoder::new(limits(SMALL_LIMIT));
        let (events, fin) = feed(&mut dec, SMALL_LIMIT, &split(&data, &sizes));
        let (want, want_fin) = model(&data, SMALL_LIMIT);
        prop_assert_eq!(&events, &want);
        check_finish(fin, want_fin);
        for e in &events {
            if let Event::Frame { offset, bytes } = e {
                let _ = parse_frame(*offset, bytes);
            }
        }
        // Still usable after all that.
        dec.extend(b"{\"ok\":true}\n");
        let f = dec.decode().expect("a message").expect("a frame");
        prop_assert_eq!(f.parse::<Value>().unwrap(), serde_json::json!({"ok": true}));
        prop_assert!(dec.decode().is_none());
        prop_assert!(dec.finish().is_ok());
    }
}

// ---------------------------------------------------------------------------
// 4. Resync: bad lines cost exactly one error each, good ones all arrive
// ---------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Line {
    /// A message; if its encoding is longer than the limit it is a bad line.
    Good(Value),
    /// Bytes without `\n` that are never JSON, even after Node's repairs
    /// (they start with a byte no JSON text starts with).
    Garbage(Vec<u8>),
    /// Nothing but JSON whitespace.
    Blank(Vec<u8>),
    /// Valid JSON, but longer than the limit.
    TooLong(usize),
}

fn line() -> impl Strategy<Value = Line> {
    let garbage_start = prop::sample::select(vec![
        b'#', b'}', b']', b',', b':', b'x', b'\'', b'\\', 0u8, 0x7f, 0xff, 0xc3, 0x80,
    ]);
    let garbage_rest =
        prop::collection::vec(any::<u8>().prop_filter("no \\n", |&b| b != b'\n'), 0..64);
    prop_oneof![
        4 => value().prop_map(Line::Good),
        2 => (garbage_start, garbage_rest).prop_map(|(first, mut rest)| {
            rest.insert(0, first);
            Line::Garbage(rest)
        }),
        1 => prop::collection::vec(prop::sample::select(vec![b' ', b'\t', b'\r']), 0..4)
            .prop_map(Line::Blank),
        1 => (SMALL_LIMIT + 1..4 * SMALL_LIMIT).prop_map(Line::TooLong),
    ]
}

/// What the receiver should see for one line.
#[derive(Debug)]
enum Outcome {
    Message(Value),
    Error { offset: u64 },
}

proptest! {
    #![proptest_config(config(768))]

    #[test]
    fn json_bad_lines_cost_one_error_each_and_good_ones_all_arrive(
        lines in prop::collection::vec(line(), 0..24),
        sizes in read_sizes(),
    ) {
        let mut stream = Vec::new();
        let mut want = Vec::new();
        for l in &lines {
            let offset = stream.len() as u64;
            match l {
                Line::Good(v) => {
                    encode(v, &mut stream).unwrap();
                    if stream.len() - offset as usize - 1 > SMALL_LIMIT {
                        want.push(Outcome::Error { offset });
                    } else {
                        want.push(Outcome::Message(v.clone()));
                    }
                }
                Line::Garbage(bytes) | Line::Blank(bytes) => {
                    stream.extend_from_slice(bytes);
                    stream.push(b'\n');
                    want.push(Outcome::Error { offset });
                }
                Line::TooLong(n) => {
                    let s = "x".repeat(n - 2);
                    encode(&s, &mut stream).unwrap();
                    want.push(Outcome::Error { offset });
                }
            }
        }

        let mut dec = JsonDecoder::new(limits(SMALL_LIMIT));
        let (events, fin) = feed(&mut dec, SMALL_LIMIT, &split(&stream, &sizes));
        prop_assert!(fin.is_ok(), "finish(): {:?}", fin);
        let got: Vec<Outcome> = events
            .into_iter()
            .map(|e| match e {
                Event::Frame { offset, bytes } => match parse_frame(offset, &bytes) {
                    Ok(v) => Outcome::Message(v),
                    Err(offset) => Outcome::Error { offset },
                },
                Event::TooLarge { offset } | Event::EmptyLine { offset } => {
                    Outcome::Error { offset }
                }
            })
            .collect();

        let count = |o: &[Outcome]| o.iter().filter(|o| matches!(o, Outcome::Error { .. })).count();
        prop_assert_eq!(count(&got), count(&want), "errors: got {:?}, want {:?}", got, want);
        prop_assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(&want) {
            match (g, w) {
                (Outcome::Message(g), Outcome::Message(w)) => {
                    prop_assert!(js_eq(g, w), "got {:?}, want {:?}", g, w)
                }
                (Outcome::Error { offset: g }, Outcome::Error { offset: w }) => {
                    prop_assert_eq!(g, w)
                }
                (g, w) => prop_assert!(false, "got {:?}, want {:?}", g, w),
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Regressions
// ---------------------------------------------------------------------------

/// Regression: doubles used to come back up to 2 ULPs off (about 1 in 10
/// values of `Math.random()`), because serde_json was built without
/// `float_roundtrip`. Found by
/// `json_messages_split_anywhere_decode_to_the_same_messages`; fixed by
/// enabling that feature in the workspace `Cargo.toml`.
#[test]
fn json_doubles_come_back_bit_for_bit() {
    for x in [
        0.9856906946328695f64,
        1.4144041958246261e-121,
        -1.572517902871314e-308,
        -9.867437071726851e-60,
    ] {
        let mut line = Vec::new();
        encode(&x, &mut line).unwrap();
        assert_eq!(line, format!("{x:?}\n").as_bytes());
        let mut dec = JsonDecoder::new(Limits::default());
        dec.extend(&line);
        let got: f64 = dec.decode().unwrap().unwrap().parse().unwrap();
        assert_eq!(got.to_bits(), x.to_bits(), "sent {x:?}, got {got:?}");
    }
}

/// Regression: a peer line that ended with a backslash (wire bytes
/// `5c 0a`, or `{"a":"\` + `\n`) panicked the receiver: the lone-surrogate
/// repair in `Frame::parse` (also reached from `Frame::is_internal`) stepped
/// past the end of the line. Found by
/// `json_arbitrary_bytes_never_panic_and_stay_bounded` (minimal input
/// `5c 0a`) and by the resync property (`#\`).
#[test]
fn json_line_ending_in_a_backslash_is_an_error_not_a_panic() {
    for line in [&b"\\"[..], b"\"abc\\", b"#\\", b"{\"a\":\"\\", b"\\\\\\"] {
        let frame = Frame::new(line, 0);
        let r = std::panic::catch_unwind(|| frame.parse::<Value>().map(|_| ()));
        let e = r
            .unwrap_or_else(|_| panic!("parse() panicked on {:?}", String::from_utf8_lossy(line)))
            .unwrap_err();
        assert!(e.is_recoverable());
    }
    // `is_internal()` (which `recv()` calls first) goes through the same code.
    for line in [&b"{\\"[..], b"{\"cmd\":\"NODE_X\\"] {
        let frame = Frame::new(line, 0);
        let r = std::panic::catch_unwind(|| frame.is_internal());
        assert_eq!(r.ok(), Some(false), "{:?}", String::from_utf8_lossy(line));
    }
    // The same through the decoder, as a peer would send it.
    let mut dec = JsonDecoder::new(Limits::default());
    dec.extend(b"\\\n1\n");
    assert!(dec.decode().unwrap().unwrap().parse::<Value>().is_err());
    assert_eq!(dec.decode().unwrap().unwrap().parse::<Value>().unwrap(), 1);
}
