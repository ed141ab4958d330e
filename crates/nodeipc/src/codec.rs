//! Wire formats, pure and synchronous: bytes in, frames and values out,
//! no I/O (docs/protocol.md §2, §3).
//!
//! The channel core decodes from one `ReadBuffer` it
//! owns, with the framing state of its serialization (`json::Lines`,
//! `v8::Frames`); [`json::JsonDecoder`] and [`v8::V8Decoder`] pair that
//! state with a buffer of their own for callers without a channel. Tests
//! and fuzzers drive them on byte slices.

/// The methods of a public decoder, which pairs a framing state (`$framing`,
/// giving `$frame`s) with a buffer of its own: written once for
/// [`json::JsonDecoder`] and [`v8::V8Decoder`].
macro_rules! buffered_decoder {
    ($name:ident, $framing:ident, $frame:ident) => {
        impl $name {
            /// A decoder enforcing `limits`.
            pub fn new(limits: Limits) -> Self {
                $name {
                    buf: ReadBuffer::new($framing::max_buffered(&limits)),
                    framing: $framing::default(),
                    limits,
                }
            }

            /// The buffer to read into: bytes must only be appended to it
            /// (into its spare capacity, as `tokio`'s `try_read_buf` or
            /// [`rustix::buffer::spare_capacity`] do). There is room for at
            /// least [`READ_CHUNK`](crate::codec::json::READ_CHUNK) bytes;
            /// what was decoded has been dropped.
            pub fn read_buf(&mut self) -> &mut Vec<u8> {
                self.buf.read_buf()
            }

            /// Appends `bytes` (for tests, fuzzing and callers without a
            /// socket).
            pub fn extend(&mut self, bytes: &[u8]) {
                self.buf.extend(bytes);
            }

            /// Bytes received but not yet handed out.
            pub fn buffered(&self) -> usize {
                self.buf.pending_len()
            }

            /// Bytes read in so far, from the start of the stream (the
            /// stream offset the next read starts at).
            pub fn received(&self) -> u64 {
                self.buf.received()
            }

            /// The next complete message, an error about one message, or
            /// `None` when more bytes are needed. After an error, call
            /// again: the stream stays in sync (in `advanced`, as long as
            /// length prefixes are intact).
            pub fn decode(&mut self) -> Option<Result<$frame<'_>>> {
                self.framing.decode(&mut self.buf, &self.limits)
            }

            /// Call at end of stream: an error if part of a message is
            /// left. Node drops such a fragment silently; we report it
            /// once, then forget it. `buffered` is 0 when the cut message
            /// was one already refused as too large.
            pub fn finish(&mut self) -> Result<()> {
                self.framing.finish(&mut self.buf)
            }
        }
    };
}

pub(crate) mod buffer;
pub mod json;
#[cfg(feature = "tokio-util")]
mod node_codec;
mod send_buf;
pub mod v8;

#[cfg(feature = "tokio-util")]
pub use node_codec::NodeCodec;
pub use send_buf::SendBuf;

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::limits::Limits;
use buffer::Pending;

/// The wire format of a channel (Node's `serialization` option).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Serialization {
    /// `JSON.stringify` lines: Node's default.
    #[default]
    Json,
    /// V8's ValueSerializer format with a length prefix (Node's
    /// `serialization: 'advanced'`): Buffers, Maps, BigInts, Dates and
    /// cycles survive. Rust types are written and read with the mapping of
    /// [`to_value`](crate::value::to_value) /
    /// [`from_value`](crate::value::from_value), straight to and from the
    /// bytes ([`v8::encode_serialize`], [`v8::Frame::deserialize`]).
    Advanced,
}

impl Serialization {
    /// The name Node uses in `NODE_CHANNEL_SERIALIZATION_MODE`.
    pub fn as_str(self) -> &'static str {
        match self {
            Serialization::Json => "json",
            Serialization::Advanced => "advanced",
        }
    }
}

impl Serialization {
    /// Appends `msg` as one message of this serialization
    /// ([`json::encode`] or [`v8::encode_serialize`]); nothing is appended
    /// on error.
    pub(crate) fn encode<T: Serialize + ?Sized>(self, msg: &T, out: &mut Vec<u8>) -> Result<()> {
        match self {
            Serialization::Json => json::encode(msg, out),
            Serialization::Advanced => v8::encode_serialize(msg, out),
        }
    }
}

/// The longest message a run of plain messages (see [`Framing::plain_run`])
/// begins with or holds: past it, decoding a message costs microseconds and
/// the lock a run saves (tens of nanoseconds) is not worth looking for one.
const RUN_MESSAGE: usize = 4096;

/// The framing state of a serialization, apart from the bytes (which it
/// decodes from a [`Pending`] it is lent).
#[derive(Debug)]
pub(crate) enum Framing {
    Json(json::Lines),
    V8(v8::Frames),
}

impl Framing {
    /// The framing state at the start of a stream.
    pub(crate) fn new(serialization: Serialization) -> Framing {
        match serialization {
            Serialization::Json => Framing::Json(json::Lines::default()),
            Serialization::Advanced => Framing::V8(v8::Frames::default()),
        }
    }

    /// Most bytes a buffer ever needs for one message under `limits`.
    pub(crate) fn max_buffered(&self, limits: &Limits) -> usize {
        match self {
            Framing::Json(_) => json::Lines::max_buffered(limits),
            Framing::V8(_) => v8::Frames::max_buffered(limits),
        }
    }

    /// The same framing at the start of a stream.
    pub(crate) fn fresh(&self) -> Framing {
        match self {
            Framing::Json(_) => Framing::Json(json::Lines::default()),
            Framing::V8(_) => Framing::V8(v8::Frames::default()),
        }
    }

    /// How many pending bytes, from the front, are two or more whole
    /// messages that cannot be internal ones (see
    /// [`json::Lines::plain_run`] and [`v8::Frames::plain_run`]); 0 if
    /// there are not two.
    pub(crate) fn plain_run(&mut self, buf: &impl Pending, limits: &Limits) -> usize {
        match self {
            Framing::Json(l) => l.plain_run(buf, RUN_MESSAGE),
            Framing::V8(f) => f.plain_run(buf, limits, RUN_MESSAGE),
        }
    }

    /// At end of stream: an error if part of a message is left (see
    /// [`json::JsonDecoder::finish`]).
    pub(crate) fn finish(&mut self, buf: &mut impl Pending) -> Result<()> {
        match self {
            Framing::Json(l) => l.finish(buf),
            Framing::V8(f) => f.finish(buf),
        }
    }
}

impl fmt::Display for Serialization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Node's `isInternal()` rule (`lib/internal/child_process.js`) for a
/// message's `cmd`: a string of more than 5 UTF-16 units that starts with
/// `NODE_` (docs/protocol.md §4.1). Written once: the json and advanced
/// readers apply it while decoding, so that user messages take the fast
/// path, and the message layer applies it to values.
pub(crate) fn is_internal_cmd(cmd: &str) -> bool {
    is_internal_cmd_units(cmd.encode_utf16())
}

/// [`is_internal_cmd`] on a string given as UTF-16 units.
pub(crate) fn is_internal_cmd_units(mut units: impl Iterator<Item = u16>) -> bool {
    "NODE_".encode_utf16().all(|p| units.next() == Some(p)) && units.next().is_some()
}

impl FromStr for Serialization {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "json" => Ok(Serialization::Json),
            "advanced" => Ok(Serialization::Advanced),
            other => Err(Error::UnsupportedSerialization(other.to_owned())),
        }
    }
}
