//! Node's framing as a `tokio_util::codec` [`Decoder`] and [`Encoder`]
//! (feature `tokio-util`): the channel's framing states, decoding from the
//! caller's `BytesMut` instead of the channel's buffer.

use std::fmt;
use std::marker::PhantomData;

use bytes::{Buf, BytesMut};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio_util::codec::{Decoder, Encoder};

use super::buffer::Pending;
use super::{Framing, Serialization};
use crate::error::{Error, Result};
use crate::limits::Limits;

/// Node's IPC framing and serialization on any byte stream: a
/// [`tokio_util::codec`] [`Decoder`] of typed messages `T` and an
/// [`Encoder`] of anything [`Serialize`], for a TCP socket, a pipe or a
/// file of the caller's own (with [`Framed`](tokio_util::codec::Framed),
/// [`FramedRead`](tokio_util::codec::FramedRead),
/// [`FramedWrite`](tokio_util::codec::FramedWrite)).
///
/// The bytes are those of Node's channel: in `json`, a line of
/// `JSON.stringify` text (what a Node peer writes with
/// `socket.write(JSON.stringify(m) + '\n')`); in `advanced`, a u32
/// big-endian length and V8's serialization of the value (what
/// `v8.serialize` gives for plain values; Node's channel writes Buffers and
/// typed arrays with its own host-object byte, which this reads and writes
/// too).
///
/// It decodes exactly as the channel does, under the same [`Limits`]:
/// `max_message_len` (an over-long message is [`Error::TooLarge`] as soon
/// as it is known to be, and is dropped as it arrives, never buffered
/// whole), `max_depth`, `max_elements` and `max_expansion`. Each byte is
/// looked at once, whatever the read sizes: a partial `json` line is not
/// searched again for its `\n`, a partial `advanced` frame only has its
/// length read. The fd limits do not apply: a byte stream carries no fds,
/// and no `NODE_*` message is acted on or set apart (a message is a `T`
/// like any other).
///
/// **Errors.** An error about one message ([`Error::Decode`],
/// [`Error::TooLarge`]; [`Error::is_recoverable`]) leaves the decoder in
/// sync: the next `decode` goes on with the message after it, as tokio's
/// `LinesCodec` does after an over-long line. Note that tokio-util's
/// `FramedRead` answers the `next()` after an error with `None` once, and
/// goes on reading if polled again (tokio-rs/tokio#3976). At the end of the
/// stream, part of a message left is [`Error::UnexpectedEof`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> nodeipc::Result<()> {
/// use futures_util::{SinkExt, StreamExt};
/// use nodeipc::codec::NodeCodec;
/// use tokio_util::codec::Framed;
///
/// #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
/// struct Job { id: u32 }
///
/// // Any AsyncRead + AsyncWrite: a TcpStream, a pipe; here an in-memory one.
/// let (a, b) = tokio::io::duplex(64 << 10);
/// let mut left = Framed::new(a, NodeCodec::<Job>::json());
/// let mut right = Framed::new(b, NodeCodec::<Job>::json());
/// left.send(Job { id: 7 }).await?; // writes {"id":7}\n
/// assert_eq!(right.next().await.transpose()?, Some(Job { id: 7 }));
/// # Ok(()) }
/// ```
pub struct NodeCodec<T> {
    serialization: Serialization,
    framing: Framing,
    limits: Limits,
    /// Stream offset of the first byte of the caller's buffer (for the
    /// offsets in errors).
    offset: u64,
    /// Where messages are encoded before they are copied into the
    /// caller's buffer (the encoders write to a `Vec`).
    scratch: Vec<u8>,
    _msg: PhantomData<fn() -> T>,
}

impl<T> NodeCodec<T> {
    /// A codec for `serialization` that decodes within `limits`.
    pub fn new(serialization: Serialization, limits: Limits) -> Self {
        NodeCodec {
            serialization,
            framing: Framing::new(serialization),
            limits,
            offset: 0,
            scratch: Vec::new(),
            _msg: PhantomData,
        }
    }

    /// A `json` codec (Node's default serialization) with default
    /// [`Limits`].
    ///
    /// ```
    /// use bytes::BytesMut;
    /// use tokio_util::codec::Decoder;
    ///
    /// let mut codec = nodeipc::codec::NodeCodec::<Vec<u32>>::json();
    /// let mut buf = BytesMut::from(&b"[1,2]\n[3"[..]);
    /// assert_eq!(codec.decode(&mut buf)?, Some(vec![1, 2]));
    /// assert_eq!(codec.decode(&mut buf)?, None); // "[3" waits for its line's end
    /// # Ok::<(), nodeipc::Error>(())
    /// ```
    pub fn json() -> Self {
        Self::new(Serialization::Json, Limits::default())
    }

    /// An `advanced` codec (Node's `serialization: 'advanced'`) with
    /// default [`Limits`].
    ///
    /// ```
    /// use bytes::BytesMut;
    /// use tokio_util::codec::{Decoder, Encoder};
    ///
    /// let mut codec = nodeipc::codec::NodeCodec::<String>::advanced();
    /// let mut buf = BytesMut::new();
    /// codec.encode("hi", &mut buf)?;
    /// assert_eq!(&buf[..], b"\0\0\0\x06\xff\x0f\"\x02hi");
    /// assert_eq!(codec.decode(&mut buf)?.as_deref(), Some("hi"));
    /// # Ok::<(), nodeipc::Error>(())
    /// ```
    pub fn advanced() -> Self {
        Self::new(Serialization::Advanced, Limits::default())
    }

    /// The serialization this codec speaks.
    pub fn serialization(&self) -> Serialization {
        self.serialization
    }

    /// The limits it decodes within.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Runs the framing state on `buf` (through a [`Window`], which takes
    /// what it consumed off `buf` when dropped).
    fn frame<R>(
        &mut self,
        buf: &mut BytesMut,
        f: impl FnOnce(&mut Framing, &mut Window<'_>, &Limits) -> R,
    ) -> R {
        let mut window = Window {
            buf,
            start: 0,
            base: &mut self.offset,
        };
        f(&mut self.framing, &mut window, &self.limits)
    }
}

impl<T> fmt::Debug for NodeCodec<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeCodec")
            .field("serialization", &self.serialization)
            .field("limits", &self.limits)
            .field("offset", &self.offset)
            .finish_non_exhaustive()
    }
}

impl<T: DeserializeOwned> Decoder for NodeCodec<T> {
    type Item = T;
    type Error = Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<T>> {
        self.frame(src, |framing, window, limits| match framing {
            Framing::Json(lines) => lines.decode(window, limits).map(|f| f?.parse()),
            Framing::V8(frames) => frames.decode(window, limits).map(|f| f?.deserialize()),
        })
        .transpose()
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<T>> {
        match self.decode(src)? {
            Some(msg) => Ok(Some(msg)),
            None => self
                .frame(src, |framing, window, _| framing.finish(window))
                .map(|()| None),
        }
    }
}

impl<T, I: Serialize> Encoder<I> for NodeCodec<T> {
    type Error = Error;

    /// Appends `msg` as one message, as the channel writes it ([`Error::Encode`]
    /// and nothing appended when it cannot be encoded).
    fn encode(&mut self, msg: I, dst: &mut BytesMut) -> Result<()> {
        self.scratch.clear();
        self.serialization.encode(&msg, &mut self.scratch)?;
        dst.extend_from_slice(&self.scratch);
        Ok(())
    }
}

/// The caller's buffer as [`Pending`] bytes: taking bytes only moves
/// `start` (so that a frame can borrow them); they leave the buffer when
/// the window is dropped.
struct Window<'a> {
    buf: &'a mut BytesMut,
    start: usize,
    /// Stream offset of `buf[0]`.
    base: &'a mut u64,
}

impl Pending for Window<'_> {
    fn parts(&self) -> (&[u8], usize, u64) {
        (self.buf, self.start, *self.base)
    }

    fn set_start(&mut self, start: usize) {
        self.start = start;
    }
}

impl Drop for Window<'_> {
    fn drop(&mut self) {
        self.buf.advance(self.start);
        *self.base += self.start as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Every message of `stream` decoded with `codec`, the bytes given in
    /// pieces cut at `cuts`, then end of stream: each as `Ok(value)` or
    /// `Err((offset, error text))`.
    fn decode_all<T: DeserializeOwned>(
        codec: &mut NodeCodec<T>,
        stream: &[u8],
        cuts: &[usize],
    ) -> Vec<std::result::Result<T, String>> {
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        let mut at = 0;
        for &cut in cuts.iter().chain([&stream.len()]) {
            let cut = cut.clamp(at, stream.len());
            buf.extend_from_slice(&stream[at..cut]);
            at = cut;
            loop {
                match codec.decode(&mut buf) {
                    Ok(Some(m)) => out.push(Ok(m)),
                    Ok(None) => break,
                    Err(e) => out.push(Err(describe(&e))),
                }
            }
        }
        loop {
            match codec.decode_eof(&mut buf) {
                Ok(Some(m)) => out.push(Ok(m)),
                Ok(None) => break,
                Err(e) => {
                    out.push(Err(describe(&e)));
                    break;
                }
            }
        }
        assert!(buf.is_empty());
        out
    }

    /// An error as text, without what depends on the read sizes (how much
    /// of an over-long message had been seen).
    fn describe(e: &Error) -> String {
        match e {
            Error::TooLarge { offset, limit, .. } => format!("at byte {offset}: over {limit}"),
            e => e.to_string(),
        }
    }

    /// A stream with good messages, a bad one, one over the limit (16
    /// bytes) and a cut-off one at the end.
    fn stream(serialization: Serialization) -> Vec<u8> {
        let mut codec = NodeCodec::<()>::new(serialization, Limits::default());
        let mut buf = BytesMut::new();
        codec.encode(serde_json::json!({"a": 1}), &mut buf).unwrap();
        codec.encode("x".repeat(40), &mut buf).unwrap();
        match serialization {
            Serialization::Json => buf.extend_from_slice(b"{bad\n"),
            _ => buf.extend_from_slice(&[0, 0, 0, 3, 0xff, 0x0f, 0x01]),
        }
        codec.encode([1, 2, 3], &mut buf).unwrap();
        buf.extend_from_slice(&buf.clone()[..5]);
        buf.to_vec()
    }

    fn limits() -> Limits {
        Limits::default().with_max_message_len(16)
    }

    /// What the stream of `serialization` decodes to whole, after
    /// checking that it decodes to the same when cut at any byte.
    fn same_at_every_cut(
        serialization: Serialization,
    ) -> Vec<std::result::Result<serde_json::Value, String>> {
        let stream = stream(serialization);
        let codec = || NodeCodec::<serde_json::Value>::new(serialization, limits());
        let whole = decode_all(&mut codec(), &stream, &[]);
        for cut in 0..=stream.len() {
            assert_eq!(
                decode_all(&mut codec(), &stream, &[cut]),
                whole,
                "cut at {cut}"
            );
        }
        whole
    }

    #[test]
    fn json_split_at_every_byte_decodes_the_same() {
        let whole = same_at_every_cut(Serialization::Json);
        assert_eq!(whole.len(), 5, "{whole:?}");
        assert!(
            whole[1].as_ref().unwrap_err().contains("at byte 8"),
            "{whole:?}"
        );
        assert!(
            whole[2].as_ref().unwrap_err().contains("at byte 51"),
            "{whole:?}"
        );
        assert_eq!(whole[3], Ok(serde_json::json!([1, 2, 3])));
        assert!(
            whole[4].as_ref().unwrap_err().contains("5 bytes"),
            "{whole:?}"
        );
    }

    #[test]
    fn advanced_split_at_every_byte_decodes_the_same() {
        let whole = same_at_every_cut(Serialization::Advanced);
        assert_eq!(whole.len(), 5, "{whole:?}");
        assert_eq!(whole[3], Ok(serde_json::json!([1, 2, 3])));
    }

    proptest! {
        #[test]
        fn any_split_decodes_the_same(
            advanced: bool,
            mut cuts in proptest::collection::vec(0usize..200, 0..12),
        ) {
            let s = if advanced { Serialization::Advanced } else { Serialization::Json };
            let stream = stream(s);
            let whole = decode_all(&mut NodeCodec::<serde_json::Value>::new(s, limits()), &stream, &[]);
            cuts.sort_unstable();
            prop_assert_eq!(decode_all(&mut NodeCodec::<serde_json::Value>::new(s, limits()), &stream, &cuts), whole);
        }
    }

    #[test]
    fn a_partial_line_is_not_searched_again() {
        // 1 MiB of one line, a byte at a time, must take linear time: a
        // rescan from the start at each call would take ~5e11 steps.
        let mut codec = NodeCodec::<String>::json();
        let mut buf = BytesMut::new();
        buf.extend_from_slice(b"\"");
        for _ in 0..(1 << 20) {
            buf.extend_from_slice(b"a");
            assert_eq!(codec.decode(&mut buf).unwrap(), None);
        }
        buf.extend_from_slice(b"\"\n");
        assert_eq!(
            codec.decode(&mut buf).unwrap().map(|s| s.len()),
            Some(1 << 20)
        );
    }
}
