//! The `advanced` serialization: each message is a u32 big-endian length,
//! then V8's ValueSerializer format (header `FF 0F`) with Node's host
//! objects for Buffer, typed arrays and DataView (docs/protocol.md §3).
//!
//! Pure Rust, no V8: [`encode`] writes the bytes Node 20 writes for the same
//! value, byte for byte (two-byte string padding, the IPC host-object kind
//! byte, object back-references); [`V8Decoder`] and [`Frame::to_value`]
//! read everything Node 18–22 may send (versions 13–15, `U`, `S`, `?`,
//! `-`, V8's own `B`+`V` views, ASCII in two-byte strings, integers as
//! doubles, trailing bytes in a frame).
//!
//! Typed messages skip the [`Value`]: [`encode_serialize`] is a serde
//! `Serializer` writing the bytes of `encode(&to_value(msg)?)` directly,
//! and [`Frame::deserialize`] a serde `Deserializer` reading the payload
//! directly, with the result of `from_value(frame.to_value()?)`. Each hands
//! what it cannot do in one pass to the `Value` path (see their docs).
//!
//! The peer is untrusted: malformed input is an [`Error::Decode`] with the
//! position of the bad byte, never a panic; every declared length is
//! checked against the bytes present before anything is allocated; depth
//! and value count are bounded by [`Limits::max_depth`] and
//! [`Limits::max_elements`]; the reader does not recurse.
//!
//! ```
//! use nodeipc::codec::v8;
//! use nodeipc::Value;
//!
//! let mut frame = Vec::new();
//! v8::encode(&Value::object([("a", Value::from(1)), ("b", Value::from("x"))]), &mut frame)?;
//! assert_eq!(frame, b"\0\0\0\x10\xff\x0fo\"\x01aI\x02\"\x01b\"\x01x{\x02"); // docs/protocol.md §3.4
//! let back = v8::decode_payload(&frame[4..], &Default::default())?;
//! assert_eq!(back.get("b").and_then(Value::as_str), Some("x"));
//! # Ok::<(), nodeipc::Error>(())
//! ```

mod cursor;
mod de;
mod frame;
mod keys;
mod read;
mod ser;
#[cfg(test)]
mod tests;
mod write;

use bytes::Bytes;
use serde::Serialize;
use serde::ser::Error as _;

pub(crate) use frame::Frames;
pub use frame::{Frame, V8Decoder};

use crate::error::{EncodeError, Error, Result};
use crate::limits::Limits;
use crate::value::{Value, to_value};

/// The format version Node 20 writes (V8's `kLatestVersion`).
pub const VERSION: u8 = 15;

/// V8's serialization tags (`SerializationTag` in `value-serializer.cc`).
mod tag {
    pub const VERSION: u8 = 0xff;
    pub const PADDING: u8 = 0x00;
    pub const VERIFY_OBJECT_COUNT: u8 = b'?';
    pub const THE_HOLE: u8 = b'-';
    pub const UNDEFINED: u8 = b'_';
    pub const NULL: u8 = b'0';
    pub const TRUE: u8 = b'T';
    pub const FALSE: u8 = b'F';
    pub const INT32: u8 = b'I';
    pub const UINT32: u8 = b'U';
    pub const DOUBLE: u8 = b'N';
    pub const BIGINT: u8 = b'Z';
    pub const UTF8_STRING: u8 = b'S';
    pub const ONE_BYTE_STRING: u8 = b'"';
    pub const TWO_BYTE_STRING: u8 = b'c';
    pub const OBJECT_REFERENCE: u8 = b'^';
    pub const BEGIN_JS_OBJECT: u8 = b'o';
    pub const END_JS_OBJECT: u8 = b'{';
    pub const BEGIN_SPARSE_ARRAY: u8 = b'a';
    pub const END_SPARSE_ARRAY: u8 = b'@';
    pub const BEGIN_DENSE_ARRAY: u8 = b'A';
    pub const END_DENSE_ARRAY: u8 = b'$';
    pub const DATE: u8 = b'D';
    pub const TRUE_OBJECT: u8 = b'y';
    pub const FALSE_OBJECT: u8 = b'x';
    pub const NUMBER_OBJECT: u8 = b'n';
    pub const BIGINT_OBJECT: u8 = b'z';
    pub const STRING_OBJECT: u8 = b's';
    pub const REGEXP: u8 = b'R';
    pub const BEGIN_MAP: u8 = b';';
    pub const END_MAP: u8 = b':';
    pub const BEGIN_SET: u8 = b'\'';
    pub const END_SET: u8 = b',';
    pub const ARRAY_BUFFER: u8 = b'B';
    pub const RESIZABLE_ARRAY_BUFFER: u8 = b'~';
    pub const ARRAY_BUFFER_VIEW: u8 = b'V';
    pub const HOST_OBJECT: u8 = b'\\';
    pub const ERROR: u8 = b'r';
}

/// Appends `value` as one `advanced` message: the 4-byte big-endian length,
/// `FF 0F`, and the value, exactly as Node's `process.send` writes it.
///
/// Fails (appending nothing) on a [`Value::Circular`] that points above
/// the outermost object, on a length over 32 bits, or when the payload
/// would reach 2^31 bytes (Node cannot read such a frame).
pub fn encode(value: &Value, out: &mut Vec<u8>) -> Result<()> {
    framed(out, |out, start| write::write_value(value, out, start))
        .map_err(|msg: String| Error::Encode(EncodeError::custom(msg)))
}

/// Appends `msg` as one `advanced` message, with the bytes of
/// [`encode`]`(&`[`to_value`]`(msg)?)` — the same mapping, byte for byte —
/// but written straight from `msg`: strings and byte buffers are copied
/// once, into `out`, and no [`Value`] is built.
///
/// The rare values whose bytes depend on what comes later (a map whose
/// keys turn out to make a JS `Map`, or to need reordering; a sequence of
/// unknown length) go through [`to_value`], each on its own. A `Value`
/// inside `msg` is written as [`encode`] writes it.
///
/// ```
/// use nodeipc::codec::v8;
///
/// #[derive(serde::Serialize)]
/// struct Msg<'a> { a: u32, b: &'a str }
///
/// let mut frame = Vec::new();
/// v8::encode_serialize(&Msg { a: 1, b: "x" }, &mut frame)?;
/// assert_eq!(frame, b"\0\0\0\x10\xff\x0fo\"\x01aI\x02\"\x01b\"\x01x{\x02"); // docs/protocol.md §3.4
/// # Ok::<(), nodeipc::Error>(())
/// ```
///
/// # Errors
///
/// Those of [`to_value`] and [`encode`], as [`Error::Encode`]; nothing is
/// appended then.
pub fn encode_serialize<T: Serialize + ?Sized>(msg: &T, out: &mut Vec<u8>) -> Result<()> {
    match framed(out, |out, start| ser::write(msg, out, start)) {
        Ok(()) => Ok(()),
        // Whatever the direct path gave up on, or failed at, the Value
        // path does again and decides (with its own error messages).
        Err(_) => encode(&to_value(msg).map_err(Error::Encode)?, out),
    }
}

/// Appends one frame: the length prefix, the header, and what `body`
/// writes after them (given where the frame starts). On error, nothing
/// stays appended.
fn framed<E: From<String>>(
    out: &mut Vec<u8>,
    body: impl FnOnce(&mut Vec<u8>, usize) -> std::result::Result<(), E>,
) -> std::result::Result<(), E> {
    let start = out.len();
    out.extend_from_slice(&[0, 0, 0, 0, tag::VERSION, VERSION]);
    let written = body(out, start).and_then(|()| {
        let len = out.len() - start - 4;
        u32::try_from(len)
            .ok()
            .filter(|&l| l < 1 << 31)
            .ok_or_else(|| format!("message of {len} bytes: Node reads at most 2^31 - 1").into())
    });
    match written {
        Ok(len) => {
            out[start..start + 4].copy_from_slice(&len.to_be_bytes());
            Ok(())
        }
        Err(e) => {
            out.truncate(start);
            Err(e)
        }
    }
}

/// Appends `value` as a payload without the length prefix: `FF 0F` and the
/// value (Node's IPC encoding, which differs from `v8.serialize` for
/// Buffers and typed arrays by one kind byte).
pub fn encode_payload(value: &Value, out: &mut Vec<u8>) -> Result<()> {
    let start = out.len();
    out.extend_from_slice(&[tag::VERSION, VERSION]);
    write::write_value(value, out, start).map_err(|msg| {
        out.truncate(start);
        Error::Encode(EncodeError::custom(msg))
    })
}

/// Reads the value of one payload (what follows a frame's length prefix).
/// Buffers are copied out of `payload`. Errors are [`Error::Decode`] at
/// offset 0.
pub fn decode_payload(payload: &[u8], limits: &Limits) -> Result<Value> {
    read::read_payload(payload, None, limits).map_err(|kind| Error::Decode { offset: 0, kind })
}

/// [`decode_payload`] for a payload held in [`Bytes`]: Buffers, typed
/// arrays and ArrayBuffers of 1 KiB or more share its memory instead of
/// being copied (smaller ones are copied, so they do not keep the payload
/// alive).
pub fn decode_payload_bytes(payload: &Bytes, limits: &Limits) -> Result<Value> {
    read::read_payload(payload, Some(payload), limits)
        .map_err(|kind| Error::Decode { offset: 0, kind })
}
