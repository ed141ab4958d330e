//! The send buffer: encoded messages of either serialization, appended
//! whole and written off the front.

use serde::Serialize;

use super::Serialization;

use crate::error::Result;

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
    /// serialization ([`json::encode`](super::json::encode) or
    /// [`v8::encode_serialize`](super::v8::encode_serialize));
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
        self.serialization.encode(msg, &mut self.buf)
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
        // docs/protocol.md §3.4: {a:1,b:"x"}
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
}
