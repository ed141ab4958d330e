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
use crate::value::{Value, from_value};

/// Encoded messages waiting to be written, shared by the async and blocking
/// senders: messages are appended whole, writes take bytes off the front.
#[derive(Debug)]
pub struct SendBuf {
    buf: Vec<u8>,
    written: usize,
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
            self.written = 0;
        }
        match self.serialization {
            Serialization::Json => json::encode(msg, &mut self.buf),
            Serialization::Advanced => v8::encode_serialize(msg, &mut self.buf),
        }
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

    /// The next message, user or internal; `None` when more bytes are
    /// needed.
    pub(crate) fn message<T: DeserializeOwned>(&mut self) -> Option<Result<Message<T>>> {
        match self {
            Decoder::Json(d) => d.decode().map(|f| f.and_then(json_message)),
            Decoder::V8(d) => d.decode().map(|f| {
                let f = f?;
                // Straight from the frame when it is a user message the
                // direct reader vouches for; through a `Value` otherwise.
                if let Some(msg) = f.deserialize_user() {
                    return Ok(Message::User(msg));
                }
                let offset = f.offset();
                let value = f.to_value()?;
                if is_internal(&value) {
                    let json = value.to_json().map_err(|e| mismatch(offset, e))?;
                    Ok(Message::Internal(InternalMessage(json)))
                } else {
                    from_value(value)
                        .map(Message::User)
                        .map_err(|e| mismatch(offset, e))
                }
            }),
        }
    }

    /// The next user message, skipping internal ones; `None` when more
    /// bytes are needed.
    pub(crate) fn user<T: DeserializeOwned>(&mut self) -> Option<Result<T>> {
        loop {
            match self {
                // json can tell an internal line without building it.
                Decoder::Json(d) => match d.decode()? {
                    Err(e) => return Some(Err(e)),
                    Ok(f) if f.is_internal() => {}
                    Ok(f) => return Some(f.parse()),
                },
                Decoder::V8(_) => match self.message()? {
                    Ok(Message::Internal(_)) => {}
                    other => return Some(other.map(|m| m.into_user().expect("user"))),
                },
            }
        }
    }
}

/// Sorts one json line into a user or an internal message.
fn json_message<T: DeserializeOwned>(frame: json::Frame<'_>) -> Result<Message<T>> {
    if frame.is_internal() {
        Ok(Message::Internal(InternalMessage(frame.parse()?)))
    } else {
        Ok(Message::User(frame.parse()?))
    }
}

/// Node's `isInternal()`: an object whose `cmd` is a string of more than 5
/// characters starting with `NODE_`.
fn is_internal(value: &Value) -> bool {
    matches!(value, Value::Object(_))
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
            let first = dec.message::<serde_json::Value>().unwrap().unwrap();
            assert!(
                matches!(first, Message::Internal(ref m) if m.cmd() == "NODE_X"),
                "{s}"
            );
            let second: serde_json::Value = dec.user().unwrap().unwrap();
            assert_eq!(second, serde_json::json!({"cmd": "NODE_"}));
        }
    }
}
