//! Wire formats, pure and synchronous: bytes in, messages out, no I/O.
//!
//! The channels are thin loops around these; tests and fuzzers drive them on
//! byte slices.

mod buffer;
pub mod json;
mod wire;
pub use wire::SendBuf;
pub(crate) use wire::{Decoder, Incoming};
pub mod v8;

use std::fmt;
use std::str::FromStr;

use crate::error::Error;

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

impl fmt::Display for Serialization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
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
