//! The one error type of the crate.

use std::fmt;
use std::io;

/// Everything that can go wrong on a channel.
///
/// Variants are meant to be matched on: a decode error carries the byte
/// offset (counted from the first byte the channel ever received) of the
/// message it concerns. [`Error::is_recoverable`] says, for each variant,
/// whether the channel goes on after it (after [`Error::Decode`],
/// [`Error::TooLarge`] and [`Error::Handle`] the next well-formed message is
/// still delivered).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A message from the peer could not be decoded (invalid JSON, an empty
    /// line, JSON that does not fit the requested Rust type, or invalid
    /// `advanced` data).
    #[error("invalid message at byte {offset}: {kind}")]
    Decode {
        /// Stream offset of the first byte of the bad message.
        offset: u64,
        /// What was wrong with it.
        kind: DecodeError,
    },
    /// A message longer than [`Limits::max_message_len`](crate::Limits::max_message_len).
    /// Its bytes are discarded up to the end of the message without being
    /// buffered whole.
    #[error(
        "message at byte {offset} is larger than the limit: at least {len} bytes, limit {limit} \
         (Limits::max_message_len)"
    )]
    TooLarge {
        /// Stream offset of the first byte of the message.
        offset: u64,
        /// How many bytes of it were seen when the limit was hit.
        len: usize,
        /// The limit in force.
        limit: usize,
    },
    /// The peer closed the channel in the middle of a message.
    #[error("the peer closed the channel in the middle of a message ({buffered} bytes received)")]
    UnexpectedEof {
        /// Bytes of the incomplete message that had arrived.
        buffered: usize,
    },
    /// The channel is closed: the peer is gone or we disconnected
    /// (Node's `ERR_IPC_CHANNEL_CLOSED`).
    #[error("the IPC channel is closed")]
    Disconnected,
    /// A message could not be serialized: a map key that is not a string,
    /// number, `bool` or `char` (JSON object keys are strings), a NaN or
    /// infinite float map key, or an error raised by the message's own
    /// `Serialize` impl. Nothing of it was queued.
    #[error("cannot encode message: {0}")]
    Encode(#[source] EncodeError),
    /// This process has no IPC channel: `NODE_CHANNEL_FD` is not set.
    #[error("NODE_CHANNEL_FD is not set: this process was not started with an IPC channel")]
    NoChannel,
    /// This process is not a cluster worker: `NODE_UNIQUE_ID` is not set
    /// (or not a number), so no Node primary started it with
    /// `cluster.fork()` (see `cluster::Worker`).
    #[error("NODE_UNIQUE_ID is not set: this process was not started by cluster.fork()")]
    NotAWorker,
    /// `NODE_CHANNEL_FD` names something that is not a usable channel.
    #[error("invalid IPC channel NODE_CHANNEL_FD={fd}: {reason}")]
    InvalidChannelFd {
        /// The value of `NODE_CHANNEL_FD`.
        fd: String,
        /// Why it cannot be used.
        reason: String,
    },
    /// `NODE_CHANNEL_SERIALIZATION_MODE` (or the requested serialization)
    /// is not one this build speaks.
    #[error("unsupported serialization mode {0:?} (supported: \"json\", \"advanced\")")]
    UnsupportedSerialization(String),
    /// A handle (a socket passed with `NODE_HANDLE`, see
    /// [`crate::handle`]) could not be taken: no fd came with the message,
    /// its `type` is unknown or does not match the fd, or an fd came with
    /// no `NODE_HANDLE` message. The fd, if any, is closed; a handle
    /// message is answered `NODE_HANDLE_NACK` (a Node sender then sends a
    /// `net.Socket` again, up to 3 times). The channel goes on.
    #[error("handle at byte {offset}: {reason}")]
    Handle {
        /// Stream offset of the message, or of the read that brought the fd.
        offset: u64,
        /// What was wrong.
        reason: String,
    },
    /// More fds arrived than
    /// [`Limits::max_pending_fds`](crate::Limits::max_pending_fds) lets the
    /// channel hold for messages not yet complete (a peer attached one to
    /// every write of a message it does not finish). They were closed as
    /// they came; a handle message one of them belonged to finds no fd and
    /// is answered `NODE_HANDLE_NACK`. The channel goes on.
    #[error(
        "{dropped} fds arrived from byte {offset} on with {limit} already held for messages \
         not yet complete; they were closed (Limits::max_pending_fds)"
    )]
    TooManyFds {
        /// Stream offset of the first read that brought one of them.
        offset: u64,
        /// How many were closed.
        dropped: usize,
        /// The limit in force.
        limit: usize,
    },
    /// A send waited for the peer's `NODE_HANDLE_ACK` (an unsplit channel
    /// reads ahead meanwhile, keeping the peer's messages for `recv`) while
    /// the peer sent more than [`Limits::max_read_ahead`](crate::Limits::max_read_ahead)
    /// bytes of other messages, or more than
    /// [`Limits::max_pending_fds`](crate::Limits::max_pending_fds) handles. Nothing is lost: the handle message went
    /// out, what is queued behind it stays queued, and the messages read
    /// ahead come out of the next `recv`s. Receive them, then
    /// [`flush`](crate::Channel::flush) (or send again) to go on waiting for
    /// the ACK.
    #[error(
        "the peer sent more than {limit} bytes of messages (Limits::max_read_ahead), or \
         {fds} handles (Limits::max_pending_fds), while a send waited for its \
         NODE_HANDLE_ACK; recv them, then flush"
    )]
    ReadAheadFull {
        /// `Limits::max_read_ahead` in force.
        limit: usize,
        /// `Limits::max_pending_fds` in force: handles kept count against
        /// it too (each holds an open fd).
        fds: usize,
    },
    /// An operating-system error.
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// What was wrong with a message that could not be decoded.
///
/// For `advanced` messages, `at` is the position of the offending byte in
/// the frame's payload (the bytes after the 4-byte length prefix, starting
/// with the `FF` version tag): the bad byte is at stream offset
/// `offset + 4 + at` of the [`Error::Decode`] holding it.
#[derive(Debug)]
#[non_exhaustive]
pub enum DecodeError {
    /// An empty line, or one with only whitespace. Node dies on these; we
    /// report them and go on with the next line.
    EmptyLine,
    /// The line is not JSON, or not JSON of the requested type.
    Json(serde_json::Error),
    /// `advanced`: the value decoded but does not fit the requested Rust
    /// type (or, for an internal message, has no JSON form).
    Mismatch(String),
    /// `advanced`: a frame length prefix of 0 or of 2^31 or more. Node
    /// cannot read either (it crashes on the second, nodejs/node#61312); the
    /// frame's bytes are skipped and decoding goes on after it.
    FrameLength(u32),
    /// `advanced`: the payload does not start with a version header `FF`
    /// and a version from 13 to 15 (`found` is the version, if there was a
    /// header).
    UnsupportedVersion {
        /// The version in the header.
        found: Option<u32>,
    },
    /// `advanced`: the payload ends in the middle of a value.
    UnexpectedEnd {
        /// Where more bytes were needed.
        at: usize,
    },
    /// `advanced`: a varint longer than 5 bytes or larger than 32 bits.
    BadVarint {
        /// Its first byte.
        at: usize,
    },
    /// `advanced`: a byte that starts no value here: an unknown tag, an end
    /// tag where a value is expected, a key that is neither a string nor a
    /// number, a hole outside a dense array, a transfer or shared-memory tag
    /// (meaningless over IPC).
    UnexpectedTag {
        /// The tag's position.
        at: usize,
        /// The tag.
        tag: u8,
    },
    /// `advanced`: a back-reference (`^`) to an object id that was not
    /// assigned, or to an Error or host object still being read (V8
    /// registers those once complete).
    BadReference {
        /// The reference's position.
        at: usize,
        /// The id.
        id: u32,
    },
    /// `advanced`: the count at the end of an object, array, Map or Set is
    /// not the number of entries read.
    CountMismatch {
        /// The end tag's position.
        at: usize,
        /// The count written.
        expected: u32,
        /// The count read.
        found: u32,
    },
    /// `advanced`: a property defined twice in one object or array (or an
    /// array's `length`).
    DuplicateKey {
        /// The key's position.
        at: usize,
    },
    /// `advanced`: a value that is well-formed bytes but not a valid value:
    /// an odd two-byte string length, invalid RegExp flags, an unknown
    /// typed-array type, a view outside its buffer…
    InvalidValue {
        /// Where the value starts.
        at: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// `advanced`: nesting deeper than [`Limits::max_depth`](crate::Limits::max_depth).
    TooDeep {
        /// Where the level too many starts.
        at: usize,
        /// The limit in force.
        limit: usize,
    },
    /// `advanced`: more values than [`Limits::max_elements`](crate::Limits::max_elements).
    TooManyElements {
        /// Where the value too many starts.
        at: usize,
        /// The limit in force.
        limit: usize,
    },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::EmptyLine => f.write_str("empty line"),
            DecodeError::Json(e) => write!(f, "{e}"),
            DecodeError::FrameLength(len) => {
                write!(f, "frame length {len} (expected 1 to 2^31 - 1)")
            }
            DecodeError::Mismatch(e) => write!(f, "value does not fit the requested type: {e}"),
            DecodeError::UnsupportedVersion { found: Some(v) } => {
                write!(f, "serialization format version {v} (expected 13 to 15)")
            }
            DecodeError::UnsupportedVersion { found: None } => {
                f.write_str("no serialization version header (expected FF 0D to FF 0F)")
            }
            DecodeError::UnexpectedEnd { at } => {
                write!(f, "the frame ends inside a value (payload byte {at})")
            }
            DecodeError::BadVarint { at } => write!(f, "invalid varint at payload byte {at}"),
            DecodeError::UnexpectedTag { at, tag } => {
                write!(f, "unexpected tag 0x{tag:02x} at payload byte {at}")
            }
            DecodeError::BadReference { at, id } => {
                write!(
                    f,
                    "reference to unknown object id {id} at payload byte {at}"
                )
            }
            DecodeError::CountMismatch {
                at,
                expected,
                found,
            } => write!(
                f,
                "count mismatch at payload byte {at}: the end tag says {expected}, {found} were read"
            ),
            DecodeError::DuplicateKey { at } => {
                write!(f, "property defined twice at payload byte {at}")
            }
            DecodeError::InvalidValue { at, reason } => {
                write!(f, "invalid value at payload byte {at}: {reason}")
            }
            DecodeError::TooDeep { at, limit } => write!(
                f,
                "nesting deeper than {limit} levels at payload byte {at} (Limits::max_depth)"
            ),
            DecodeError::TooManyElements { at, limit } => write!(
                f,
                "more than {limit} values at payload byte {at} (Limits::max_elements)"
            ),
        }
    }
}

impl std::error::Error for DecodeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DecodeError::Json(e) => Some(e),
            _ => None,
        }
    }
}

/// Why a message could not be encoded ([`Error::Encode`]).
///
/// It holds a message: for the `json` encoder serde_json's wording for the
/// same failure (`key must be a string`, …), or the text the message's
/// `Serialize` impl gave to [`serde::ser::Error::custom`] (which also makes
/// one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodeError(Box<str>);

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for EncodeError {}

impl serde::ser::Error for EncodeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        EncodeError(msg.to_string().into())
    }
}

impl Error {
    /// Whether the channel goes on after this error: the next `recv` reads
    /// the messages that follow, and `send` still works. A receive loop
    /// reports these and carries on.
    ///
    /// True for an error about one message or one fd:
    /// - [`Error::Decode`], [`Error::TooLarge`]: that message is skipped
    ///   (an over-long one without being buffered whole).
    /// - [`Error::Encode`]: nothing of the message was queued.
    /// - [`Error::Handle`]: the fd, if any, was closed and a handle message
    ///   answered `NODE_HANDLE_NACK`. At the end of the stream (an fd no
    ///   message claimed) the next `recv` returns `Ok(None)`.
    /// - [`Error::TooManyFds`]: the fds over the limit were closed.
    /// - [`Error::ReadAheadFull`]: the messages read ahead wait for `recv`;
    ///   the send queue waits for the ACK.
    ///
    /// False when the channel is over, or was never made:
    /// - [`Error::UnexpectedEof`]: the peer closed its end mid-message;
    ///   nothing more arrives (the next `recv` returns `Ok(None)`, after an
    ///   [`Error::Handle`] if an fd came with the cut-off message).
    /// - [`Error::Disconnected`]: the channel is closed.
    /// - [`Error::NoChannel`], [`Error::InvalidChannelFd`],
    ///   [`Error::UnsupportedSerialization`], [`Error::NotAWorker`]: no
    ///   channel was made.
    /// - [`Error::Io`]: the socket itself failed; after a failed write the
    ///   send queue is dropped and the sender is closed. One `Io` error does
    ///   leave the channel whole, a `send_with_handle` that could not make
    ///   the caller's socket ready (`dup`, `fcntl`) before queueing
    ///   anything, but the variant cannot tell it apart, so `Io` counts as
    ///   fatal.
    pub fn is_recoverable(&self) -> bool {
        matches!(
            self,
            Error::Decode { .. }
                | Error::TooLarge { .. }
                | Error::Encode(_)
                | Error::Handle { .. }
                | Error::TooManyFds { .. }
                | Error::ReadAheadFull { .. }
        )
    }

    /// Maps an I/O error from a send to [`Error::Disconnected`] when it means
    /// the peer is gone.
    pub(crate) fn from_send(e: io::Error) -> Error {
        match e.kind() {
            io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::NotConnected => Error::Disconnected,
            _ => Error::Io(e),
        }
    }
}

/// Shorthand for `std::result::Result<T, nodeipc::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;
