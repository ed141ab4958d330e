//! Every bound the channel puts on memory, in one place.

/// Limits for one channel. The peer is untrusted input: whatever it sends,
/// the channel never holds more than these bounds (plus one read chunk of
/// 64 KiB) in memory.
///
/// `max_depth` and `max_elements` bound `advanced` messages only. One
/// bound is fixed rather than set here: read into a Rust type
/// (`recv::<T>()`), a message of either serialization may nest arrays,
/// objects, Maps and Sets 128 levels deep (`serde_json`'s recursion limit,
/// which keeps a hostile message from overflowing the stack, since `T`
/// recurses as it reads). A deeper message is an
/// [`Error::Decode`](crate::Error::Decode) and the channel goes on; read it
/// as a [`Value`](crate::Value) (`advanced`, up to `max_depth`) or
/// [`serde_json::value::RawValue`] (`json`) to take it whole. Node itself
/// accepts any depth its JS stack allows. The same 128 levels bound the
/// `NODE_HANDLE` wrappers of a `json` message (127 layers; Node
/// unwraps any number, its own senders write at most two).
///
/// ```
/// let limits = nodeipc::Limits::default().with_max_message_len(16 << 20); // 16 MiB
/// assert_eq!(limits.max_send_buffer, 1 << 20);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Largest message accepted from the peer, in bytes of its encoding
    /// (for `json`: the line without its `\n`). Default 256 MiB.
    ///
    /// A longer message gives [`Error::TooLarge`](crate::Error::TooLarge)
    /// and is skipped without being buffered whole; the next message is
    /// delivered. Node's own bound is V8's string length limit
    /// (2^29 − 24 UTF-16 units, about 512 MiB of ASCII), past which it crashes.
    pub max_message_len: usize,
    /// Bytes of encoded messages a sender may hold that the kernel has not
    /// taken yet. `feed` waits for the peer to read once this is exceeded,
    /// so a slow receiver bounds the sender's memory. Default 1 MiB. A single
    /// message larger than this is still accepted (it is written out before
    /// the next one is queued).
    pub max_send_buffer: usize,
    /// `advanced` only: deepest nesting of arrays, objects, Maps, Sets and
    /// Errors in one message. Default 1000.
    ///
    /// The decoder does not recurse, so any depth is safe to *reject*; the
    /// bound protects code that walks the decoded [`Value`](crate::Value)
    /// recursively (`Drop`, `Debug`, `==`, `to_json`). Reading into a Rust
    /// type stops at 128 levels whatever this says (above). Node writes up to
    /// about 3300 levels and reads about 2000 (its JS stack is the limit).
    pub max_depth: usize,
    /// `advanced` only: most values in one message, counting every value
    /// and property key at any depth (a `Value` takes 32 bytes, so the
    /// default of 2^24 bounds the decoded tree at about 512 MiB on top of
    /// its strings and buffers). Hostile lengths cost nothing: a declared
    /// length larger than the bytes present is an error before anything is
    /// allocated.
    ///
    /// It also caps the values a message is read *out* into (`recv::<T>()`,
    /// [`from_value_limited`](crate::value::from_value_limited),
    /// [`Value::to_json_limited`](crate::Value::to_json_limited)), with a
    /// shared object counted at every place it appears; `max_expansion` is
    /// the tighter bound there.
    pub max_elements: usize,
    /// The read-out budget, as a multiple of the message: reading one
    /// message into a Rust type (`recv::<T>()`,
    /// [`from_value`](crate::value::from_value)) or into JSON
    /// ([`Value::to_json`](crate::Value::to_json), what `nodeipc run`
    /// prints) may produce at most `max_expansion` × its size +
    /// [`EXPANSION_ALLOWANCE`](Self::EXPANSION_ALLOWANCE) bytes, counting 32
    /// bytes per value produced plus its string or buffer bytes. Default 64.
    ///
    /// The size of the message is its length on the wire where the channel
    /// or [`Frame`](crate::codec::v8::Frame) has it, else what its
    /// [`Value`](crate::Value) holds (shared objects once). `advanced` lets
    /// a message share one object at many places by back-reference, so a
    /// few hundred bytes can stand for 2^60 objects; read out, each place
    /// is a copy. Past the budget the read-out is an
    /// [`Error::Decode`](crate::Error::Decode) naming this field, and the
    /// channel goes on. A message without shared objects or holes never
    /// reaches it (each value takes at least a byte on the wire, a string
    /// at most twice its wire bytes). A legitimate message that shares one
    /// large object many times is read whole with `recv::<Value>()`, which
    /// keeps the sharing and costs what the message holds, or with a larger
    /// `max_expansion`. `json` messages have no sharing: they are bounded by
    /// `max_message_len` alone (a line holds at most one value per 2
    /// bytes; read as `serde_json::Value`, a line of zeros took 39× its
    /// length).
    pub max_expansion: usize,
    /// Most fds held for messages not yet complete: fds the kernel handed
    /// over with bytes whose message has not been decoded yet. Default 64.
    ///
    /// A sender attaches an fd to the first write of a `NODE_HANDLE`
    /// message, and Node (as nodeipc) sends nothing more until the
    /// receiver answered it, so an honest peer has at most one pending. A
    /// hostile one can attach an fd to every one-byte write of a line it
    /// never ends: 19 006 were held before this bound, starving the
    /// process's own `open` and `accept`. Past the bound, each fd is closed
    /// as it arrives and reported as
    /// [`Error::TooManyFds`](crate::Error::TooManyFds); a handle message
    /// that it belonged to finds no fd and is answered `NODE_HANDLE_NACK`.
    /// The fds held are closed once the message their bytes were part of is
    /// decoded (see [`crate::handle`]). 0 refuses every fd.
    pub max_pending_fds: usize,
    /// Bytes of the peer's messages an unsplit channel keeps for later
    /// `recv`s while a send waits for the peer's `NODE_HANDLE_ACK`, each
    /// counted as its length on the wire, plus what it decoded to (an
    /// `advanced` message's [`Value`](crate::Value)), plus 64. Default
    /// 16 MiB.
    ///
    /// The ACK may come after other messages, so the waiting send reads
    /// them and keeps them; a peer that floods and never answers would
    /// otherwise grow this side without bound (1.7 GB in 10 s). Past the
    /// bound the send returns
    /// [`Error::ReadAheadFull`](crate::Error::ReadAheadFull) (recoverable:
    /// nothing is lost) instead of reading further. The messages of the
    /// last read (64 KiB) may go past the bound, and one message is kept
    /// whole: a 16 MiB flood of tiny `json` messages peaked at 26 MB.
    pub max_read_ahead: usize,
}

impl Limits {
    /// The default `max_message_len`: 256 MiB.
    pub const DEFAULT_MAX_MESSAGE_LEN: usize = 256 << 20;
    /// The default `max_send_buffer`: 1 MiB.
    pub const DEFAULT_MAX_SEND_BUFFER: usize = 1 << 20;
    /// The default `max_depth`: 1000.
    pub const DEFAULT_MAX_DEPTH: usize = 1000;
    /// The default `max_elements`: 2^24.
    pub const DEFAULT_MAX_ELEMENTS: usize = 1 << 24;
    /// The default `max_expansion`: 64.
    pub const DEFAULT_MAX_EXPANSION: usize = 64;
    /// What any message may expand to on top of `max_expansion` × its
    /// size: 64 KiB (so that a tiny message is not held to a few values).
    pub const EXPANSION_ALLOWANCE: usize = 64 << 10;
    /// The default `max_pending_fds`: 64.
    pub const DEFAULT_MAX_PENDING_FDS: usize = 64;
    /// The default `max_read_ahead`: 16 MiB.
    pub const DEFAULT_MAX_READ_AHEAD: usize = 16 << 20;

    /// These limits with `max_message_len` set to `len`.
    pub fn with_max_message_len(mut self, len: usize) -> Self {
        self.max_message_len = len;
        self
    }

    /// These limits with `max_send_buffer` set to `len`.
    pub fn with_max_send_buffer(mut self, len: usize) -> Self {
        self.max_send_buffer = len;
        self
    }

    /// These limits with `max_depth` set to `depth`.
    pub fn with_max_depth(mut self, depth: usize) -> Self {
        self.max_depth = depth;
        self
    }

    /// These limits with `max_elements` set to `count`.
    pub fn with_max_elements(mut self, count: usize) -> Self {
        self.max_elements = count;
        self
    }

    /// These limits with `max_expansion` set to `factor`.
    pub fn with_max_expansion(mut self, factor: usize) -> Self {
        self.max_expansion = factor;
        self
    }

    /// The read-out budget for a message of `size` bytes, in bytes:
    /// `max_expansion` × `size` + [`EXPANSION_ALLOWANCE`](Self::EXPANSION_ALLOWANCE).
    pub fn expansion_budget(&self, size: usize) -> usize {
        self.max_expansion
            .saturating_mul(size)
            .saturating_add(Self::EXPANSION_ALLOWANCE)
    }

    /// These limits with `max_pending_fds` set to `count`.
    pub fn with_max_pending_fds(mut self, count: usize) -> Self {
        self.max_pending_fds = count;
        self
    }

    /// These limits with `max_read_ahead` set to `len`.
    pub fn with_max_read_ahead(mut self, len: usize) -> Self {
        self.max_read_ahead = len;
        self
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_len: Self::DEFAULT_MAX_MESSAGE_LEN,
            max_send_buffer: Self::DEFAULT_MAX_SEND_BUFFER,
            max_depth: Self::DEFAULT_MAX_DEPTH,
            max_elements: Self::DEFAULT_MAX_ELEMENTS,
            max_expansion: Self::DEFAULT_MAX_EXPANSION,
            max_pending_fds: Self::DEFAULT_MAX_PENDING_FDS,
            max_read_ahead: Self::DEFAULT_MAX_READ_AHEAD,
        }
    }
}
