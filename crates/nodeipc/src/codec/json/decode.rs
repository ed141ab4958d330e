//! Incremental decoder for `json` mode: one `JSON.stringify` text per line.

use std::borrow::Cow;

use serde::de::{DeserializeOwned, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::codec::buffer::{Pending, ReadBuffer};
use crate::error::{DecodeError, Error, Result};
use crate::limits::Limits;

/// Splits a byte stream into `json` messages.
///
/// Pure: one growable buffer, the framing state and no I/O (the channel
/// keeps the framing state and decodes from its own buffer). The caller appends bytes
/// (with [`read_buf`](Self::read_buf) or [`extend`](Self::extend)) and takes
/// messages out with [`decode`](Self::decode) until it returns `None`.
///
/// - Every byte is searched for `\n` once: the decoder remembers how far it
///   has scanned (the fix Node got in nodejs/node#10557).
/// - A message is handed out as a [`Frame`] borrowing the buffer, so a
///   message that arrived in one read is parsed without being copied.
/// - A line longer than [`Limits::max_message_len`] yields
///   [`Error::TooLarge`] as soon as the limit is passed; the rest of it is
///   dropped as it arrives, and decoding resumes after its `\n`.
/// - An empty line yields [`Error::Decode`] and decoding goes on: unlike
///   Node, which throws there and loses its place in the stream.
///
/// ```
/// use nodeipc::codec::json::JsonDecoder;
///
/// let mut dec = JsonDecoder::new(Default::default());
/// dec.extend(b"{\"a\":1}\n\"hel");
/// let first: serde_json::Value = dec.decode().unwrap().unwrap().parse().unwrap();
/// assert_eq!(first["a"], 1);
/// assert!(dec.decode().is_none()); // "hel… is incomplete
/// dec.extend(b"lo\"\n");
/// let second: String = dec.decode().unwrap().unwrap().parse().unwrap();
/// assert_eq!(second, "hello");
/// ```
#[derive(Debug)]
pub struct JsonDecoder {
    buf: ReadBuffer,
    framing: Lines,
    limits: Limits,
}

buffered_decoder!(JsonDecoder, Lines, Frame);

/// The state of `json` framing, apart from the bytes: how far the pending
/// bytes hold no `\n`, and whether an over-long line is being dropped. It
/// decodes from bytes it does not own ([`Pending`]: the channel's
/// [`ReadBuffer`], a [`JsonDecoder`]'s, or the caller's `BytesMut` in
/// `NodeCodec`), as tokio-util's codecs decode from the caller's buffer.
#[derive(Debug, Default)]
pub(crate) struct Lines {
    /// The first `scanned` pending bytes hold no `\n`.
    scanned: usize,
    /// Dropping the rest of an over-long line.
    discarding: bool,
}

impl Lines {
    /// Most bytes a buffer ever needs for one message: the longest line
    /// `limits` allow and its `\n`.
    pub(crate) fn max_buffered(limits: &Limits) -> usize {
        limits.max_message_len.saturating_add(1)
    }

    /// The next message in `buf` (see [`JsonDecoder::decode`]).
    pub(crate) fn decode<'b>(
        &mut self,
        buf: &'b mut impl Pending,
        limits: &Limits,
    ) -> Option<Result<Frame<'b>>> {
        let limit = limits.max_message_len;
        loop {
            let pending = buf.pending();
            let Some(i) = memchr::memchr(b'\n', &pending[self.scanned..]) else {
                let len = pending.len();
                self.scanned = len;
                if self.discarding {
                    buf.take(len);
                    self.scanned = 0;
                } else if len > limit {
                    let (_, offset) = buf.take(len);
                    self.scanned = 0;
                    self.discarding = true;
                    return Some(Err(Error::TooLarge { offset, len, limit }));
                }
                return None;
            };
            let len = self.scanned + i;
            self.scanned = 0;
            let (line, offset) = buf.take(len + 1);
            if std::mem::take(&mut self.discarding) {
                continue;
            }
            if len > limit {
                return Some(Err(Error::TooLarge { offset, len, limit }));
            }
            buf.note_message(len);
            let bytes = &buf.bytes(line)[..len];
            if bytes.iter().all(is_json_whitespace) {
                return Some(Err(Error::Decode {
                    offset,
                    kind: DecodeError::EmptyLine,
                }));
            }
            return Some(Ok(Frame { bytes, offset }));
        }
    }

    /// How many pending bytes, from the front, are whole lines that are
    /// plainly user messages: no `NODE_` and no `\u` escape anywhere in
    /// them (so [`Frame::is_internal`] is false for each), ending with the
    /// last `\n` pending. 0 unless that run holds two lines or more and the
    /// first is at most `first_max` bytes, or while an over-long line is
    /// dropped. The channel hands such a run to its receiving half, which
    /// decodes it without the channel's lock.
    pub(crate) fn plain_run(&mut self, buf: &impl Pending, first_max: usize) -> usize {
        if self.discarding {
            return 0;
        }
        let pending = buf.pending();
        let head = &pending[..pending.len().min(first_max + 1)];
        if memchr::memchr(b'\n', head).is_none() {
            // A long first line (or none): parsing it dwarfs the lock.
            return 0;
        }
        // Up to the first suspect byte, then back to the line end before it:
        // the bytes looked at are those handed over, the two lines after
        // them, or (no suspect) what is pending.
        let suspect = memchr::memchr2_iter(b'N', b'\\', pending)
            .find(|&i| pending[i..].starts_with(b"NODE_") || pending[i..].starts_with(b"\\u"))
            .unwrap_or(pending.len());
        let Some(last) = memchr::memrchr(b'\n', &pending[..suspect]) else {
            return 0;
        };
        if memchr::memchr(b'\n', &pending[..last]).is_none() {
            // One line: nothing to gain.
            return 0;
        }
        // What is left is scanned again from its start.
        self.scanned = 0;
        last + 1
    }

    /// At end of stream (see [`JsonDecoder::finish`]).
    pub(crate) fn finish(&mut self, buf: &mut impl Pending) -> Result<()> {
        let buffered = buf.take_all();
        self.scanned = 0;
        let discarding = std::mem::take(&mut self.discarding);
        if buffered > 0 || discarding {
            return Err(Error::UnexpectedEof { buffered });
        }
        Ok(())
    }
}

/// One complete `json` message, borrowed from the decoder's buffer (the line
/// without its `\n`).
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    bytes: &'a [u8],
    offset: u64,
}

impl<'a> Frame<'a> {
    /// Wraps one line (without its `\n`) that starts at stream `offset`.
    pub fn new(bytes: &'a [u8], offset: u64) -> Self {
        Frame { bytes, offset }
    }

    /// The message text as received, without the `\n`.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Stream offset of the first byte.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Parses the message into `T`, straight from the buffer.
    ///
    /// Reads what Node's reader reads: surrounding whitespace and `\r` are
    /// fine; invalid UTF-8 is decoded to U+FFFD as Node's `StringDecoder`
    /// does. Lone surrogates (`"\ud800"`, which `JSON.stringify` writes for
    /// JS strings holding one) cannot live in a Rust `String`: they become
    /// U+FFFD. Both repairs only run after a first parse failed, so
    /// well-formed input pays nothing for them. To keep the text exactly,
    /// parse into [`serde_json::value::RawValue`].
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T> {
        match serde_json::from_slice(self.bytes) {
            Ok(v) => Ok(v),
            Err(first) => match repair(self.bytes) {
                Some(text) => serde_json::from_str(&text),
                None => Err(first),
            }
            .map_err(|e| Error::Decode {
                offset: self.offset,
                kind: DecodeError::Json(e),
            }),
        }
    }

    /// The line made parseable the way [`parse`](Self::parse) makes it
    /// (invalid UTF-8, lone surrogates); `None` when there is nothing to
    /// repair.
    pub(crate) fn repaired(&self) -> Option<String> {
        repair(self.bytes)
    }

    /// Whether this is an internal message: an object whose `cmd` is a
    /// string starting with `NODE_` and longer than 5 characters
    /// (`isInternal()` in Node's `lib/internal/child_process.js`). Node
    /// hands those to `'internalMessage'`, never to `'message'`.
    pub fn is_internal(&self) -> bool {
        let first = self.bytes.iter().find(|b| !is_json_whitespace(b));
        if first != Some(&b'{') {
            return false;
        }
        // Fast path: an internal message spells out `NODE_`, or hides it
        // (or the `cmd` key) behind a `\u` escape; most messages have
        // neither. One pass for both (two passes cost a third of the
        // receiver's time on 1 MiB messages).
        let b = self.bytes;
        let suspect = memchr::memchr2_iter(b'N', b'\\', b)
            .any(|i| b[i..].starts_with(b"NODE_") || b[i..].starts_with(b"\\u"));
        if !suspect {
            return false;
        }
        self.parse::<CmdProbe>().is_ok_and(|p| p.0)
    }
}

/// JSON's insignificant whitespace (`\n` cannot occur inside a line).
fn is_json_whitespace(b: &u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r')
}

/// Makes a line that failed to parse parseable the way Node would: invalid
/// UTF-8 to U+FFFD, lone surrogate escapes to `\ufffd`. `None` when there is
/// nothing to repair (the first error stands).
fn repair(bytes: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(bytes);
    let fixed = replace_lone_surrogates(&text);
    match (text, fixed) {
        (Cow::Borrowed(_), None) => None,
        (text, None) => Some(text.into_owned()),
        (_, Some(fixed)) => Some(fixed),
    }
}

/// Rewrites `\uD800`–`\uDFFF` escapes that are not part of a surrogate pair
/// as `\ufffd`; `None` if there are none.
fn replace_lone_surrogates(text: &str) -> Option<String> {
    fn hex4(b: &[u8]) -> Option<u16> {
        let s = std::str::from_utf8(b.get(..4)?).ok()?;
        u16::from_str_radix(s, 16).ok()
    }
    let b = text.as_bytes();
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut i = 0;
    // `i` may step past the end after a trailing backslash: `get` stops there.
    while let Some(j) = b.get(i..).and_then(|rest| memchr::memchr(b'\\', rest)) {
        let at = i + j;
        if b.get(at + 1) != Some(&b'u') {
            i = at + 2; // a two-byte escape such as \\ or \"
            continue;
        }
        let Some(unit) = hex4(&b[at + 2..]) else {
            i = at + 2;
            continue;
        };
        let is_high = (0xD800..0xDC00).contains(&unit);
        let paired = is_high
            && b.get(at + 6..at + 8) == Some(b"\\u")
            && hex4(&b[at + 8..]).is_some_and(|u| (0xDC00..0xE000).contains(&u));
        if paired {
            i = at + 12;
        } else if (0xD800..0xE000).contains(&unit) {
            let o = out.get_or_insert_with(|| String::with_capacity(text.len()));
            o.push_str(&text[copied..at]);
            o.push_str("\\ufffd");
            copied = at + 6;
            i = copied;
        } else {
            i = at + 6;
        }
    }
    out.map(|mut o| {
        o.push_str(&text[copied..]);
        o
    })
}

/// Finds out whether an object has a `cmd` that makes it internal, without
/// building the object.
struct CmdProbe(bool);

impl<'de> Deserialize<'de> for CmdProbe {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = CmdProbe;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<CmdProbe, A::Error> {
                let mut internal = false;
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    if key == "cmd" {
                        // JSON.parse keeps the last of duplicate keys.
                        let cmd: serde_json::Value = map.next_value()?;
                        internal = cmd.as_str().is_some_and(crate::codec::is_internal_cmd);
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(CmdProbe(internal))
            }
        }
        d.deserialize_map(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::json::READ_CHUNK;
    use serde_json::{Value, json};

    /// The run of plain lines a channel may hand to its receiving half.
    #[test]
    fn plain_run_stops_at_what_may_be_internal_and_at_long_lines() {
        let run = |bytes: &[u8]| {
            let mut buf = ReadBuffer::new(1 << 20);
            buf.extend(bytes);
            Lines::default().plain_run(&buf, 16)
        };
        assert_eq!(run(b"1\n2\n3"), 4);
        assert_eq!(run(b"1\n2\n"), 4);
        // One line is not a run.
        assert_eq!(run(b"1\n"), 0);
        assert_eq!(run(b"1\n{\"cmd\":\"NODE_X\"}\n3\n"), 0);
        assert_eq!(run(b"1\n2\n{\"cmd\":\"NODE_X\"}\n3\n"), 4);
        assert_eq!(run(b"1\n2\n\"\\u0041\"\n3\n"), 4);
        // A first line longer than the bound: nothing.
        assert_eq!(run(b"\"0123456789abcdef\"\n2\n3\n"), 0);
        assert_eq!(run(b"1\n\"0123456789abcdef\"\n3\n"), 23);
    }

    fn all(dec: &mut JsonDecoder) -> Vec<Result<Value>> {
        let mut out = Vec::new();
        while let Some(r) = dec.decode() {
            out.push(r.and_then(|f| f.parse()));
        }
        out
    }

    #[test]
    fn hello_line_decodes_as_is() {
        let mut dec = JsonDecoder::new(Limits::default());
        dec.extend(b"\"hello\"\n");
        let got = all(&mut dec);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].as_ref().unwrap(), &json!("hello"));
    }

    #[test]
    fn two_messages_in_one_read() {
        let mut dec = JsonDecoder::new(Limits::default());
        dec.extend(b"{\"a\":1}\n[2]\n");
        let got: Vec<Value> = all(&mut dec).into_iter().map(|r| r.unwrap()).collect();
        assert_eq!(got, vec![json!({"a":1}), json!([2])]);
    }

    #[test]
    fn empty_lines_are_errors_with_offsets_and_stream_goes_on() {
        let mut dec = JsonDecoder::new(Limits::default());
        dec.extend(b"\n\n \t\n1\n");
        let got = all(&mut dec);
        let offsets: Vec<_> = got[..3]
            .iter()
            .map(|r| match r {
                Err(Error::Decode {
                    offset,
                    kind: DecodeError::EmptyLine,
                }) => *offset,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(offsets, vec![0, 1, 2]);
        assert_eq!(got[3].as_ref().unwrap(), &json!(1));
    }

    #[test]
    fn bad_line_between_good_ones_loses_nothing() {
        // The write pattern that corrupts Node's reader (docs/protocol.md §2.3).
        let mut dec = JsonDecoder::new(Limits::default());
        let mut got = Vec::new();
        for chunk in [
            &b"{\"a\":1"[..],
            b"}\nbad\n{\"lost\":1}\n",
            b"{\"next\":1}\n",
        ] {
            dec.extend(chunk);
            got.extend(all(&mut dec));
        }
        assert_eq!(got[0].as_ref().unwrap(), &json!({"a":1}));
        assert!(matches!(got[1], Err(Error::Decode { offset: 8, .. })));
        assert_eq!(got[2].as_ref().unwrap(), &json!({"lost":1}));
        assert_eq!(got[3].as_ref().unwrap(), &json!({"next":1}));
    }

    #[test]
    fn what_node_accepts_we_accept() {
        let mut dec = JsonDecoder::new(Limits::default());
        dec.extend(b"{\"a\":1}\r\n \t{\"a\":1} \n\"a\xffb\"\n\"\\ud800x\\udc00\"\n");
        let got: Vec<Value> = all(&mut dec).into_iter().map(|r| r.unwrap()).collect();
        assert_eq!(got[0], json!({"a":1}));
        assert_eq!(got[1], json!({"a":1}));
        assert_eq!(got[2], json!("a\u{fffd}b"));
        assert_eq!(got[3], json!("\u{fffd}x\u{fffd}"));
    }

    #[test]
    fn surrogate_pairs_and_escaped_backslashes_are_left_alone() {
        assert_eq!(replace_lone_surrogates(r#""\ud83d\ude00""#), None);
        assert_eq!(replace_lone_surrogates(r#""\\ud800""#), None);
        assert_eq!(replace_lone_surrogates("\\"), None);
        assert_eq!(
            replace_lone_surrogates(r#""\ud800\"#).as_deref(),
            Some(r#""\ufffd\"#)
        );
        assert_eq!(
            replace_lone_surrogates(r#""\ud83d\u0041""#).as_deref(),
            Some(r#""\ufffd\u0041""#)
        );
    }

    #[test]
    fn too_long_line_is_discarded_without_buffering_it() {
        let limits = Limits {
            max_message_len: 10,
            ..Limits::default()
        };
        let mut dec = JsonDecoder::new(limits);
        dec.extend(b"\"0123456789");
        assert!(matches!(
            dec.decode(),
            Some(Err(Error::TooLarge {
                offset: 0,
                len: 11,
                limit: 10
            }))
        ));
        assert_eq!(dec.buffered(), 0);
        dec.extend(b"abcdef");
        assert!(dec.decode().is_none());
        assert_eq!(dec.buffered(), 0);
        dec.extend(b"\"\n[1]\n");
        let got = all(&mut dec);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].as_ref().unwrap(), &json!([1]));
        assert_eq!(dec.decode().map(|_| ()), None);
    }

    #[test]
    fn complete_too_long_line_in_one_read_is_an_error() {
        let limits = Limits {
            max_message_len: 3,
            ..Limits::default()
        };
        let mut dec = JsonDecoder::new(limits);
        dec.extend(b"12345\n1\n");
        assert!(matches!(
            dec.decode(),
            Some(Err(Error::TooLarge { len: 5, .. }))
        ));
        assert_eq!(all(&mut dec)[0].as_ref().unwrap(), &json!(1));
    }

    #[test]
    fn partial_line_at_eof_is_unexpected_eof() {
        let mut dec = JsonDecoder::new(Limits::default());
        dec.extend(b"1\n{\"a\"");
        assert_eq!(all(&mut dec).len(), 1);
        assert!(matches!(
            dec.finish(),
            Err(Error::UnexpectedEof { buffered: 4 })
        ));
        assert!(dec.finish().is_ok());
    }

    #[test]
    fn internal_messages_follow_node_is_internal() {
        let internal = |s: &str| Frame::new(s.as_bytes(), 0).is_internal();
        assert!(internal(r#"{"cmd":"NODE_FOO"}"#));
        assert!(internal(
            r#"{"x":1,"cmd":"NODE_HANDLE","msg":{"cmd":"no"}}"#
        ));
        assert!(internal(r#"{"\u0063md":"\u004eODE_X"}"#));
        assert!(!internal(r#"{"cmd":"NODE_"}"#));
        assert!(!internal(r#"{"cmd":"node_x"}"#));
        assert!(!internal(r#"{"msg":{"cmd":"NODE_X"}}"#));
        assert!(!internal(r#"{"cmd":"NODE_X","cmd":"user"}"#));
        assert!(!internal(r#""NODE_X""#));
        assert!(!internal(r#"{"cmd":1,"s":"NODE_X"}"#));
    }

    #[test]
    fn offsets_count_from_the_start_of_the_stream() {
        let mut dec = JsonDecoder::new(Limits::default());
        for i in 0..3 * READ_CHUNK {
            dec.extend(b"1\n");
            let f = dec.decode().unwrap().unwrap();
            assert_eq!(f.offset(), 2 * i as u64);
        }
    }
}
