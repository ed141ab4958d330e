//! What the channels share above the codecs: the send queue and the
//! decoder of either serialization, each turning messages into bytes and
//! back.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::Serialization;
use super::json::{self, JsonDecoder};
use super::v8::{self, V8Decoder};
use crate::error::{DecodeError, Error, Result};
use crate::limits::Limits;
use crate::message::{InternalMessage, Message};
use crate::value::{Value, from_value_limited};

/// Encoded messages waiting to be written, shared by the async and blocking
/// senders: messages are appended whole, writes take bytes off the front.
#[derive(Debug)]
pub struct SendBuf {
    buf: Vec<u8>,
    written: usize,
    /// Bytes taken off the front before `buf[0]` (stream position of
    /// `buf[0]`).
    base: u64,
    /// Capacity kept after a large message has gone out.
    keep: usize,
    serialization: Serialization,
}

impl SendBuf {
    /// An empty buffer for messages in `serialization` that keeps up to
    /// `keep` bytes of capacity when idle.
    pub fn new(serialization: Serialization, keep: usize) -> Self {
        SendBuf {
            buf: Vec::new(),
            written: 0,
            base: 0,
            keep,
            serialization,
        }
    }

    /// Encodes `msg` at the end, as one message of this buffer's
    /// serialization ([`json::encode`] or [`v8::encode_serialize`]);
    /// nothing is added on error.
    pub fn push<T: Serialize + ?Sized>(&mut self, msg: &T) -> Result<()> {
        if self.written > 0 && self.written >= self.buf.len() - self.written {
            // Most of the buffer is already written: move the rest down
            // instead of growing.
            self.buf.copy_within(self.written.., 0);
            self.buf.truncate(self.buf.len() - self.written);
            self.base += self.written as u64;
            self.written = 0;
        }
        match self.serialization {
            Serialization::Json => json::encode(msg, &mut self.buf),
            Serialization::Advanced => v8::encode_serialize(msg, &mut self.buf),
        }
    }

    /// Stream position of the next byte to write: the number of bytes
    /// written so far.
    pub fn pos(&self) -> u64 {
        self.base + self.written as u64
    }

    /// Stream position just past the last queued byte.
    pub fn end(&self) -> u64 {
        self.base + self.buf.len() as u64
    }

    /// The unwritten bytes from stream position `from` (at least
    /// [`pos`](Self::pos)) to `to` (at most [`end`](Self::end)).
    pub(crate) fn range(&self, from: u64, to: u64) -> &[u8] {
        let start = usize::try_from(from - self.base).expect("position in the buffer");
        let end = usize::try_from(to - self.base).expect("position in the buffer");
        debug_assert!(start >= self.written);
        &self.buf[start..end]
    }

    /// Inserts `bytes` (whole encoded messages) at stream position `at`,
    /// between [`pos`](Self::pos) and [`end`](Self::end), which must be a
    /// message boundary; what was queued from there on moves back.
    pub(crate) fn insert(&mut self, at: u64, bytes: &[u8]) {
        let at = usize::try_from(at - self.base).expect("position in the buffer");
        assert!(at >= self.written && at <= self.buf.len());
        self.buf.splice(at..at, bytes.iter().copied());
    }

    /// Bytes not yet written.
    pub fn pending(&self) -> &[u8] {
        &self.buf[self.written..]
    }

    /// Number of bytes not yet written.
    pub fn len(&self) -> usize {
        self.buf.len() - self.written
    }

    /// Whether everything has been written.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Records that the first `n` pending bytes were written.
    pub fn advance(&mut self, n: usize) {
        assert!(
            n <= self.len(),
            "advance({n}) past the {} pending bytes",
            self.len()
        );
        self.written += n;
        if self.written == self.buf.len() {
            self.base += self.written as u64;
            self.written = 0;
            self.buf.clear();
            if self.buf.capacity() > self.keep {
                self.buf = Vec::new();
            }
        }
    }
}

/// The decoder of a channel's serialization.
#[derive(Debug)]
pub(crate) enum Decoder {
    Json(JsonDecoder),
    V8(V8Decoder),
}

impl Decoder {
    pub(crate) fn new(serialization: Serialization, limits: Limits) -> Self {
        match serialization {
            Serialization::Json => Decoder::Json(JsonDecoder::new(limits)),
            Serialization::Advanced => Decoder::V8(V8Decoder::new(limits)),
        }
    }

    pub(crate) fn read_buf(&mut self) -> &mut Vec<u8> {
        match self {
            Decoder::Json(d) => d.read_buf(),
            Decoder::V8(d) => d.read_buf(),
        }
    }

    /// The limits messages are read under.
    pub(crate) fn limits(&self) -> &Limits {
        match self {
            Decoder::Json(d) => d.limits(),
            Decoder::V8(d) => d.limits(),
        }
    }

    pub(crate) fn buffered(&self) -> usize {
        match self {
            Decoder::Json(d) => d.buffered(),
            Decoder::V8(d) => d.buffered(),
        }
    }

    pub(crate) fn finish(&mut self) -> Result<()> {
        match self {
            Decoder::Json(d) => d.finish(),
            Decoder::V8(d) => d.finish(),
        }
    }
}

/// A decoded message as the channel's handle layer sees it. The rare
/// kinds are boxed, so that a user message moves through the layers at
/// the size of `T` (measured: unboxed, the tiny-message rate fell by a
/// quarter).
#[derive(Debug)]
pub(crate) enum Incoming<T> {
    /// A user message without a handle.
    User(T),
    /// An internal message without a handle.
    Internal(Box<InternalMessage>),
    /// A `NODE_HANDLE` message.
    Handle(Box<Wrapped<T>>),
}

/// A `NODE_HANDLE` message, unwrapped through every layer (Node's
/// retransmission wraps twice).
#[derive(Debug)]
pub(crate) struct Wrapped<T> {
    /// How many `NODE_HANDLE` layers there were.
    pub(crate) layers: usize,
    /// The innermost `type`, as sent.
    pub(crate) name: String,
    /// The wrapped message (an internal one for cluster's `newconn`), or
    /// why it does not decode as `T` (the handle is still answered).
    pub(crate) msg: Result<Message<T>>,
}

/// `Incoming` for a message of `layers` wrappers around `msg`.
fn wrapped<T>(layers: usize, name: String, msg: Result<Message<T>>) -> Result<Incoming<T>> {
    match (layers, msg) {
        (0, Ok(Message::User(t))) => Ok(Incoming::User(t)),
        (0, Ok(Message::Internal(m))) => Ok(Incoming::Internal(Box::new(m))),
        (0, Err(e)) => Err(e),
        (layers, msg) => Ok(Incoming::Handle(Box::new(Wrapped { layers, name, msg }))),
    }
}

impl Decoder {
    /// Bytes received so far: the stream position after the last read.
    pub(crate) fn received(&self) -> u64 {
        match self {
            Decoder::Json(d) => d.received(),
            Decoder::V8(d) => d.received(),
        }
    }

    /// Where the next message starts: received minus buffered.
    pub(crate) fn next_offset(&self) -> u64 {
        self.received() - self.buffered() as u64
    }

    /// The next message with the stream offset it starts at; `None` when
    /// more bytes are needed.
    pub(crate) fn incoming<T: DeserializeOwned>(&mut self) -> Option<Result<(u64, Incoming<T>)>> {
        match self {
            Decoder::Json(d) => d.decode().map(|f| {
                let f = f?;
                let offset = f.offset();
                if !f.is_internal() {
                    return Ok((offset, Incoming::User(f.parse()?)));
                }
                json_incoming(f.as_bytes(), offset).map(|i| (offset, i))
            }),
            Decoder::V8(d) => d.decode().map(|f| {
                let f = f?;
                let offset = f.offset();
                if let Some(msg) = f.deserialize_user() {
                    return Ok((offset, Incoming::User(msg)));
                }
                v8_incoming(f.to_value()?, offset, &f.expansion_limits()).map(|i| (offset, i))
            }),
        }
    }
}

/// An internal json line: a `NODE_HANDLE` unwrapped (through every layer,
/// in a constant number of passes, see `json::Frame::unwrap_handle`), or
/// another internal message. The wrapped message is parsed from its own
/// text, so its numbers and strings are read as any user message's.
fn json_incoming<T: DeserializeOwned>(line: &[u8], offset: u64) -> Result<Incoming<T>> {
    let json::Unwrapped { layers, name, msg } = json::Frame::new(line, offset).unwrap_handle()?;
    let frame = json::Frame::new(&msg, offset);
    let msg = if frame.is_internal() {
        frame.parse().map(|v| Message::Internal(InternalMessage(v)))
    } else {
        frame.parse().map(Message::User)
    };
    wrapped(layers, name, msg)
}

/// An advanced message that the direct reader left to the value reader:
/// a user message, an internal one, or a `NODE_HANDLE` unwrapped.
fn v8_incoming<T: DeserializeOwned>(
    value: Value,
    offset: u64,
    limits: &Limits,
) -> Result<Incoming<T>> {
    // Each layer is borrowed from the one around it, not copied: linear
    // in the message whatever the depth, as in Node.
    let undefined = Value::Undefined;
    let mut value = &value;
    let mut layers = 0;
    let mut name = "";
    loop {
        let cmd = is_internal(value).then(|| value.get("cmd").and_then(Value::as_str));
        let msg = match cmd {
            None => from_value_limited(value, limits)
                .map(Message::User)
                .map_err(|e| mismatch(offset, e)),
            Some(Some("NODE_HANDLE")) => {
                layers += 1;
                name = value
                    .get("type")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                value = value.get("msg").unwrap_or(&undefined);
                continue;
            }
            Some(_) => value
                .to_json()
                .map(|json| Message::Internal(InternalMessage(json)))
                .map_err(|e| mismatch(offset, e)),
        };
        return wrapped(layers, name.to_owned(), msg);
    }
}

/// Node's `isInternal()`: an object whose `cmd` is a string of more than 5
/// characters starting with `NODE_`. Any `typeof 'object'` counts in Node;
/// of those, only objects and arrays (with a named `cmd` property) can
/// carry one over the wire. An array's named properties are not in the
/// [`InternalMessage`] (its JSON is the array's, as `JSON.stringify`
/// writes it).
fn is_internal(value: &Value) -> bool {
    matches!(value, Value::Object(_) | Value::Array(_))
        && value
            .get("cmd")
            .and_then(Value::as_str)
            .is_some_and(|c| c.len() > 5 && c.starts_with("NODE_"))
}

/// A message that decoded but does not fit the requested type.
fn mismatch(offset: u64, e: impl std::fmt::Display) -> Error {
    Error::Decode {
        offset,
        kind: DecodeError::Mismatch(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn send_buf_takes_writes_off_the_front() {
        let mut b = SendBuf::new(Serialization::Json, 16);
        b.push(&1).unwrap();
        b.push(&"ab").unwrap();
        assert_eq!(b.pending(), b"1\n\"ab\"\n");
        b.advance(3);
        assert_eq!(b.pending(), b"ab\"\n");
        b.push(&2).unwrap();
        assert_eq!(b.pending(), b"ab\"\n2\n");
        b.advance(6);
        assert!(b.is_empty());
    }

    #[test]
    fn send_buf_writes_advanced_frames_as_node_does() {
        // PROTOCOL.md §3.4: {a:1,b:"x"}
        let mut b = SendBuf::new(Serialization::Advanced, 16);
        b.push(&serde_json::json!({"a": 1, "b": "x"})).unwrap();
        assert_eq!(
            b.pending(),
            [
                0, 0, 0, 0x10, 0xff, 0x0f, 0x6f, 0x22, 1, b'a', 0x49, 2, 0x22, 1, b'b', 0x22, 1,
                b'x', 0x7b, 2
            ]
        );
    }

    #[test]
    fn both_decoders_keep_internal_messages_apart() {
        for s in [Serialization::Json, Serialization::Advanced] {
            let mut out = SendBuf::new(s, 0);
            out.push(&serde_json::json!({"cmd": "NODE_X"})).unwrap();
            out.push(&serde_json::json!({"cmd": "NODE_"})).unwrap();
            let mut dec = Decoder::new(s, Limits::default());
            dec.read_buf().extend_from_slice(out.pending());
            let (_, first) = dec.incoming::<serde_json::Value>().unwrap().unwrap();
            assert!(
                matches!(first, Incoming::Internal(ref m) if m.cmd() == "NODE_X"),
                "{s}"
            );
            let (_, second) = dec.incoming::<serde_json::Value>().unwrap().unwrap();
            assert!(
                matches!(second, Incoming::User(ref v) if *v == serde_json::json!({"cmd": "NODE_"})),
                "{s}"
            );
        }
    }
}
