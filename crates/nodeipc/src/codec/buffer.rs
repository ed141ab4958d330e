//! The read buffer both decoders share: one growable `Vec` that reads are
//! appended to and messages are taken off the front of.

use std::ops::Range;

/// Size of one read into a decoder's buffer (libuv reads 64 KiB too). The
/// buffer grows past it only while a larger message is being received.
pub const READ_CHUNK: usize = 64 * 1024;

/// After this many messages in a row that fitted in [`READ_CHUNK`], a
/// buffer that grew for a large message is given back.
const SHRINK_AFTER: u32 = 64;

/// Bytes received and not yet taken, with their position in the stream.
#[derive(Debug)]
pub(crate) struct ReadBuffer {
    buf: Vec<u8>,
    /// First byte not yet taken.
    start: usize,
    /// Stream offset of `buf[0]`.
    base: u64,
    /// Consecutive messages that fitted in one read chunk.
    small_streak: u32,
    /// Most bytes worth growing for: the largest message the limits allow
    /// plus its framing.
    grow_limit: usize,
}

impl ReadBuffer {
    /// A buffer for messages of at most `max_message` bytes of framing and
    /// payload.
    pub(crate) fn new(max_message: usize) -> Self {
        ReadBuffer {
            buf: Vec::new(),
            start: 0,
            base: 0,
            small_streak: 0,
            grow_limit: max_message.saturating_add(2 * READ_CHUNK),
        }
    }

    /// The buffer to read into (see the decoders' `read_buf`): taken bytes
    /// are dropped, and there is room for at least [`READ_CHUNK`] more.
    pub(crate) fn read_buf(&mut self) -> &mut Vec<u8> {
        let pending = self.pending_len();
        if pending == 0 {
            // Nothing pending: start over at the front for free.
            self.base += self.buf.len() as u64;
            self.buf.clear();
            self.start = 0;
        } else if self.start > 0
            && (self.start >= pending || self.buf.capacity() - self.buf.len() < READ_CHUNK)
        {
            // Move the partial message to the front once the taken bytes
            // before it are at least as many, so each byte moves O(1)
            // times on average.
            self.buf.copy_within(self.start.., 0);
            self.buf.truncate(pending);
            self.base += self.start as u64;
            self.start = 0;
        }
        if self.small_streak >= SHRINK_AFTER
            && pending <= READ_CHUNK
            && self.buf.capacity() > 4 * READ_CHUNK
        {
            // Only small messages lately: give back what a large one took.
            self.buf.shrink_to(2 * READ_CHUNK);
        }
        let want = self.buf.len() + READ_CHUNK;
        if self.buf.capacity() < want {
            // Grow geometrically, but never much past what the limit allows
            // to be buffered (a message at the limit plus reads).
            let cap = (2 * self.buf.capacity()).min(self.grow_limit).max(want);
            self.buf.reserve_exact(cap - self.buf.len());
        }
        &mut self.buf
    }

    /// Whether [`hand_over`](Self::hand_over) may be used: not while
    /// this buffer is grown for a large message (it stays here, to be
    /// given back), which also bounds what is looked at to find what to
    /// hand over.
    pub(crate) fn may_hand_over(&self) -> bool {
        self.buf.capacity() <= 4 * READ_CHUNK
    }

    /// Moves the first `n` pending bytes to `to`, which has none pending
    /// and becomes a buffer of just those (same stream offsets): the
    /// buffers are swapped and the bytes past `n` copied back, so the bytes
    /// handed over are not copied.
    pub(crate) fn hand_over(&mut self, n: usize, to: &mut ReadBuffer) {
        debug_assert!(to.pending_len() == 0 && n <= self.pending_len());
        let cut = self.start + n;
        std::mem::swap(&mut self.buf, &mut to.buf);
        self.buf.clear();
        self.buf.extend_from_slice(&to.buf[cut..]);
        to.buf.truncate(cut);
        (to.start, to.base) = (self.start, self.base);
        self.base += cut as u64;
        self.start = 0;
    }

    /// Stream offset just past the last byte read in.
    pub(crate) fn received(&self) -> u64 {
        self.base + self.buf.len() as u64
    }

    /// Appends `bytes` in read-sized pieces.
    pub(crate) fn extend(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(READ_CHUNK) {
            self.read_buf().extend_from_slice(chunk);
        }
    }
}

/// Bytes received and not yet taken, with their stream offsets: what a
/// framing state (`json::Lines`, `v8::Frames`) decodes from. The channel's
/// [`ReadBuffer`] is one; with the `tokio-util` feature, a window on the
/// caller's `BytesMut` is another (`codec::NodeCodec`), so the framing
/// logic is written once. Both are a buffer, the index of the first byte
/// not yet taken, and the stream offset of the buffer's first byte.
pub(crate) trait Pending {
    /// The whole buffer, the index of the first byte not yet taken, and the
    /// stream offset of `buf[0]`.
    fn parts(&self) -> (&[u8], usize, u64);

    /// Moves the index of the first byte not yet taken.
    fn set_start(&mut self, start: usize);

    /// The bytes not yet taken.
    fn pending(&self) -> &[u8] {
        let (buf, start, _) = self.parts();
        &buf[start..]
    }

    /// Number of bytes not yet taken.
    fn pending_len(&self) -> usize {
        self.pending().len()
    }

    /// Stream offset of the first byte not yet taken.
    fn offset(&self) -> u64 {
        let (_, start, base) = self.parts();
        base + start as u64
    }

    /// Takes the first `n` pending bytes; returns where they are (for
    /// [`bytes`](Self::bytes), valid until more bytes are read in) and
    /// their stream offset.
    fn take(&mut self, n: usize) -> (Range<usize>, u64) {
        debug_assert!(n <= self.pending_len());
        let (_, start, base) = self.parts();
        self.set_start(start + n);
        (start..start + n, base + start as u64)
    }

    /// Bytes taken by [`take`](Self::take).
    fn bytes(&self, range: Range<usize>) -> &[u8] {
        &self.parts().0[range]
    }

    /// Counts a decoded message of `len` bytes towards giving back memory
    /// (nothing, for a buffer that is not ours to size).
    fn note_message(&mut self, _len: usize) {}

    /// Takes everything pending (end of stream); returns how much that was.
    fn take_all(&mut self) -> usize {
        let n = self.pending_len();
        self.take(n);
        n
    }
}

impl Pending for ReadBuffer {
    fn parts(&self) -> (&[u8], usize, u64) {
        (&self.buf, self.start, self.base)
    }

    fn set_start(&mut self, start: usize) {
        self.start = start;
    }

    fn note_message(&mut self, len: usize) {
        if len <= READ_CHUNK {
            self.small_streak = self.small_streak.saturating_add(1);
        } else {
            self.small_streak = 0;
        }
    }
}
