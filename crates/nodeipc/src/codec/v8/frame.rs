//! Incremental frame decoder for `advanced` mode: a u32 big-endian payload
//! length, then the payload.

use serde::de::DeserializeOwned;

use crate::codec::buffer::{Pending, ReadBuffer};
use crate::error::{DecodeError, Error, Result};
use crate::limits::Limits;
use crate::value::{Value, from_value_limited};

/// Frame lengths from this one up are refused: no Node can receive one
/// (Node 20 reads the prefix as a signed 32-bit number and throws on every
/// read after it, nodejs/node#61312; Node 22 and later wait for that many
/// bytes, which they cannot hold), so no Node sends one.
const MAX_FRAME: u32 = 1 << 31;

/// Splits a byte stream into `advanced` frames (docs/protocol.md §3.1).
///
/// Pure, like [`JsonDecoder`](crate::codec::json::JsonDecoder): one
/// growable buffer, the framing state and no I/O. Append bytes with
/// [`read_buf`](Self::read_buf) or [`extend`](Self::extend), take frames
/// with [`decode`](Self::decode) until it returns `None`, and parse each
/// with [`Frame::to_value`].
///
/// - Only the 4-byte prefix of a frame is looked at until the whole frame
///   is there: nothing is rescanned, whatever the read sizes.
/// - A frame longer than [`Limits::max_message_len`] yields
///   [`Error::TooLarge`] as soon as its prefix is read; its bytes are
///   dropped as they arrive, and decoding resumes with the next frame. A
///   length of 0 or of 2^31 and more (which Node cannot read) yields
///   [`DecodeError::FrameLength`] and is skipped the same way.
/// - A payload that does not parse is an error about that frame only:
///   the next one is decoded normally.
///
/// ```
/// use nodeipc::codec::v8::V8Decoder;
/// use nodeipc::Value;
///
/// let mut dec = V8Decoder::new(Default::default());
/// dec.extend(&[0, 0, 0, 3, 0xff, 0x0f, 0x54, 0, 0]); // `true`, then part of a prefix
/// assert_eq!(dec.decode().unwrap().unwrap().to_value().unwrap(), Value::Bool(true));
/// assert!(dec.decode().is_none());
/// dec.extend(&[0, 3, 0xff, 0x0f, 0x30]); // the rest: `null`
/// assert_eq!(dec.decode().unwrap().unwrap().to_value().unwrap(), Value::Null);
/// ```
#[derive(Debug)]
pub struct V8Decoder {
    buf: ReadBuffer,
    framing: Frames,
    limits: Limits,
}

buffered_decoder!(V8Decoder, Frames, Frame);

/// The state of `advanced` framing, apart from the bytes: how much of a
/// refused frame is still to drop. It decodes from bytes it does not own
/// ([`Pending`]: the channel's [`ReadBuffer`], a [`V8Decoder`]'s, or the
/// caller's `BytesMut` in `NodeCodec`).
#[derive(Debug, Default)]
pub(crate) struct Frames {
    /// Bytes of a refused frame still to drop.
    skip: u64,
}

impl Frames {
    /// Most bytes a buffer ever needs for one frame: the largest payload
    /// `limits` allow and its prefix.
    pub(crate) fn max_buffered(limits: &Limits) -> usize {
        limits.max_message_len.saturating_add(4)
    }

    /// The next frame in `buf` (see [`V8Decoder::decode`]).
    #[inline]
    pub(crate) fn decode<'b>(
        &mut self,
        buf: &'b mut impl Pending,
        limits: &Limits,
    ) -> Option<Result<Frame<'b>>> {
        if self.skip > 0 {
            self.drop_skipped(buf);
            if self.skip > 0 {
                return None;
            }
        }
        let head: [u8; 4] = buf.pending().get(..4)?.try_into().ok()?;
        let len = u32::from_be_bytes(head);
        let offset = buf.offset();
        let limit = limits.max_message_len;
        if len == 0 || len >= MAX_FRAME {
            self.refuse(buf, len);
            let kind = DecodeError::FrameLength(len);
            return Some(Err(Error::Decode { offset, kind }));
        }
        if len as usize > limit {
            self.refuse(buf, len);
            return Some(Err(Error::TooLarge {
                offset,
                len: len as usize,
                limit,
            }));
        }
        if buf.pending_len() < 4 + len as usize {
            return None;
        }
        buf.note_message(len as usize);
        let (frame, _) = buf.take(4 + len as usize);
        Some(Ok(Frame {
            payload: &buf.bytes(frame)[4..],
            offset,
            limits: *limits,
        }))
    }

    /// How many pending bytes, from the front, are whole frames of at
    /// most `frame_max` bytes within `limits` whose payloads hold no
    /// `NODE_`, in one-byte or two-byte (UTF-16LE) form: no string in them
    /// can be a `cmd` that makes a message internal. 0 unless there are
    /// two such frames or more, or while a refused frame is dropped (see
    /// [`json::Lines::plain_run`](crate::codec::json::Lines::plain_run) for
    /// what the run is for).
    pub(crate) fn plain_run(&self, buf: &impl Pending, limits: &Limits, frame_max: usize) -> usize {
        if self.skip > 0 {
            return 0;
        }
        let pending = buf.pending();
        // The whole frames from the front that are small enough and end by
        // `limit`: where the last ends, and how many.
        let walk = |limit: usize| {
            let (mut end, mut frames) = (0, 0);
            while let Some(&[a, b, c, d]) = pending.get(end..end + 4) {
                let len = u32::from_be_bytes([a, b, c, d]) as usize;
                let next = end + 4 + len;
                if len == 0 || len > frame_max || len > limits.max_message_len || next > limit {
                    break;
                }
                (end, frames) = (next, frames + 1);
            }
            (end, frames)
        };
        let (end, _) = walk(pending.len());
        // One search over those frames (a match in a length prefix only
        // ends the run early), then the frames before the first match.
        let run = &pending[..end];
        let suspect = memchr::memchr_iter(b'N', run)
            .find(|&i| run[i..].starts_with(b"NODE_") || run[i..].starts_with(b"N\0O\0D\0E\0_\0"))
            .unwrap_or(end);
        match walk(suspect) {
            (end, frames) if frames >= 2 => end,
            _ => 0,
        }
    }

    /// Drops a refused frame: its prefix now, its payload as it arrives.
    fn refuse(&mut self, buf: &mut impl Pending, len: u32) {
        buf.take(4);
        self.skip = u64::from(len);
        self.drop_skipped(buf);
    }

    /// Drops what has arrived of a refused frame's payload.
    fn drop_skipped(&mut self, buf: &mut impl Pending) {
        let n = self.skip.min(buf.pending_len() as u64);
        buf.take(n as usize);
        self.skip -= n;
    }

    /// At end of stream (see [`V8Decoder::finish`]).
    pub(crate) fn finish(&mut self, buf: &mut impl Pending) -> Result<()> {
        let buffered = buf.take_all();
        let skipping = std::mem::take(&mut self.skip) > 0;
        if buffered > 0 || skipping {
            return Err(Error::UnexpectedEof { buffered });
        }
        Ok(())
    }
}

/// One complete `advanced` frame, borrowed from the decoder's buffer: the
/// payload (version header and value) without the length prefix.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    payload: &'a [u8],
    offset: u64,
    limits: Limits,
}

impl<'a> Frame<'a> {
    /// Wraps a payload whose frame (length prefix included) starts at
    /// stream `offset`, to be read under `limits`.
    pub fn new(payload: &'a [u8], offset: u64, limits: Limits) -> Self {
        Frame {
            payload,
            offset,
            limits,
        }
    }

    /// The payload: `FF`, the version, the value, and any trailing bytes.
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }

    /// Stream offset of the frame's first byte (its length prefix).
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// What a value read out of this frame into a Rust type may produce
    /// ([`from_value_limited`]): this frame's limits, with
    /// `max_message_len` set to the payload's length, so at most
    /// `max_elements` values and twice the payload's bytes of strings and
    /// buffers. A frame without shared objects or holes never reaches
    /// either (its strings take at most twice their wire size in memory).
    pub fn expansion_limits(&self) -> Limits {
        self.limits.with_max_message_len(self.payload.len())
    }

    /// Reads the value, copying buffers out of the frame. Errors are
    /// [`Error::Decode`] at this frame's offset, with the position in the
    /// payload in the [`DecodeError`].
    pub fn to_value(&self) -> Result<Value> {
        super::read::read_payload(self.payload, None, &self.limits).map_err(|kind| Error::Decode {
            offset: self.offset,
            kind,
        })
    }

    /// Reads the value as a `T`: the result of
    /// [`from_value_limited`]`(&self.`[`to_value`](Self::to_value)`()?,
    /// &self.`[`expansion_limits`](Self::expansion_limits)`())`, errors included (so a message
    /// that expands past the limits through shared objects is an error,
    /// not a hang), but read straight from the payload, without building the
    /// [`Value`] (strings are copied once, into `T`).
    ///
    /// Values the direct reader leaves to the value reader (Maps, Sets,
    /// Dates, back-references, sparse arrays…) make it read the whole
    /// frame through a `Value`, as do errors (so that they are the value
    /// reader's).
    ///
    /// ```
    /// use nodeipc::codec::v8::{Frame, encode};
    /// use nodeipc::Value;
    ///
    /// #[derive(serde::Deserialize, Debug, PartialEq)]
    /// struct Msg { a: u32, b: String }
    ///
    /// let mut bytes = Vec::new();
    /// encode(&Value::object([("a", Value::from(1)), ("b", Value::from("x"))]), &mut bytes)?;
    /// let frame = Frame::new(&bytes[4..], 0, Default::default());
    /// assert_eq!(frame.deserialize::<Msg>()?, Msg { a: 1, b: "x".into() });
    /// # Ok::<(), nodeipc::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Decode`] at this frame's offset: the value reader's
    /// [`DecodeError`], or [`DecodeError::Mismatch`] when the value does
    /// not fit `T`.
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T> {
        match super::de::read(self.payload, &self.limits) {
            Ok(read) => Ok(read.value),
            Err(_) => self.deserialize_through_value(),
        }
    }

    /// [`deserialize`](Self::deserialize) for a user message: `None` when
    /// the message may be an internal one (an object whose `cmd` starts
    /// with `NODE_`), or when the direct reader left it to the value
    /// reader (to be read with [`to_value`](Self::to_value)).
    pub(crate) fn deserialize_user<T: DeserializeOwned>(&self) -> Option<T> {
        super::de::read(self.payload, &self.limits)
            .ok()
            .filter(|read| !read.maybe_internal)
            .map(|read| read.value)
    }

    fn deserialize_through_value<T: DeserializeOwned>(&self) -> Result<T> {
        from_value_limited(&self.to_value()?, &self.expansion_limits()).map_err(|e| Error::Decode {
            offset: self.offset,
            kind: DecodeError::Mismatch(e.to_string()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(payload: &[u8]) -> Vec<u8> {
        let mut f = (payload.len() as u32).to_be_bytes().to_vec();
        f.extend_from_slice(payload);
        f
    }

    /// The run of plain frames a channel may hand to its receiving half.
    #[test]
    fn plain_run_stops_at_what_may_be_internal_and_at_long_frames() {
        let run = |payloads: &[&[u8]], tail: &[u8]| {
            let mut buf = ReadBuffer::new(1 << 20);
            for p in payloads {
                buf.extend(&frame(p));
            }
            buf.extend(tail);
            Frames::default().plain_run(&buf, &Limits::default(), 8)
        };
        let one = b"\xff\x0fI\x02";
        assert_eq!(run(&[one, one], b"\0\0"), 16);
        assert_eq!(run(&[one], b""), 0);
        assert_eq!(run(&[one, b"\xff\x0f\"\x05NODE_"], b""), 0);
        assert_eq!(run(&[one, one, b"\xff\x0f\"\x05NODE_", one], b""), 16);
        // Two-byte NODE_ (UTF-16LE) too.
        assert_eq!(run(&[one, one, b"c\nN\0O\0D\0E\0_\0", one], b""), 16);
        // Frames longer than the bound end the run.
        assert_eq!(run(&[one, one, b"\xff\x0f\"\x071234567", one], b""), 16);
        assert_eq!(run(&[b"\xff\x0f\"\x071234567", one, one], b""), 0);
    }

    /// Every event, as (offset, Ok(payload) or Err(description)).
    fn events(dec: &mut V8Decoder) -> Vec<(u64, std::result::Result<Vec<u8>, String>)> {
        let mut out = Vec::new();
        while let Some(r) = dec.decode() {
            out.push(match r {
                Ok(f) => (f.offset(), Ok(f.payload().to_vec())),
                Err(Error::Decode { offset, kind }) => (offset, Err(kind.to_string())),
                Err(Error::TooLarge { offset, len, .. }) => {
                    (offset, Err(format!("too large {len}")))
                }
                Err(e) => panic!("{e}"),
            });
        }
        out
    }

    #[test]
    fn frames_split_anywhere_decode_the_same() {
        let mut stream = frame(&[0xff, 0x0f, 0x54]);
        stream.extend(frame(&[0xff, 0x0f, 0x22, 0x01, 0x61]));
        for cut in 0..stream.len() {
            let mut dec = V8Decoder::new(Limits::default());
            dec.extend(&stream[..cut]);
            let mut got = events(&mut dec);
            dec.extend(&stream[cut..]);
            got.extend(events(&mut dec));
            assert_eq!(got.len(), 2, "cut at {cut}");
            assert_eq!(got[1], (7, Ok(vec![0xff, 0x0f, 0x22, 0x01, 0x61])));
            assert!(dec.finish().is_ok());
        }
    }

    #[test]
    fn zero_and_huge_lengths_are_errors_and_the_stream_goes_on() {
        let mut dec = V8Decoder::new(Limits::default());
        dec.extend(&[0, 0, 0, 0]);
        dec.extend(&frame(&[0xff, 0x0f, 0x30]));
        let got = events(&mut dec);
        assert_eq!(
            got[0],
            (0, Err("frame length 0 (expected 1 to 2^31 - 1)".into()))
        );
        assert_eq!(got[1].0, 4);
        assert!(got[1].1.is_ok());

        let mut dec = V8Decoder::new(Limits::default());
        dec.extend(&[0x80, 0, 0, 0, 1, 2]);
        let got = events(&mut dec);
        assert!(matches!(&got[..], [(0, Err(e))] if e.contains("2147483648")));
        assert_eq!(dec.buffered(), 0);
    }

    #[test]
    fn too_large_frames_are_dropped_as_they_arrive() {
        let mut dec = V8Decoder::new(Limits::default().with_max_message_len(4));
        let big = frame(&[0xff, 0x0f, 0x22, 0x02, b'a', b'b']);
        dec.extend(&big[..6]);
        assert_eq!(events(&mut dec), vec![(0, Err("too large 6".into()))]);
        assert_eq!(dec.buffered(), 0);
        dec.extend(&big[6..]);
        dec.extend(&frame(&[0xff, 0x0f, 0x30]));
        let got = events(&mut dec);
        assert_eq!(got, vec![(10, Ok(vec![0xff, 0x0f, 0x30]))]);
    }

    #[test]
    fn partial_frame_at_eof_is_reported_once() {
        let mut dec = V8Decoder::new(Limits::default());
        dec.extend(&[0, 0, 0, 9, 0xff]);
        assert!(dec.decode().is_none());
        assert!(matches!(
            dec.finish(),
            Err(Error::UnexpectedEof { buffered: 5 })
        ));
        assert!(dec.finish().is_ok());
    }

    #[test]
    fn bad_payloads_are_errors_at_the_frame_offset() {
        let mut dec = V8Decoder::new(Limits::default());
        dec.extend(&frame(&[0xff, 0x0f, 0x30]));
        dec.extend(&frame(&[0xff, 0x0f, 0x01]));
        let _ = dec.decode().unwrap().unwrap();
        let err = dec.decode().unwrap().unwrap().to_value().unwrap_err();
        assert!(matches!(
            err,
            Error::Decode {
                offset: 7,
                kind: DecodeError::UnexpectedTag { at: 2, tag: 1 }
            }
        ));
    }
}
