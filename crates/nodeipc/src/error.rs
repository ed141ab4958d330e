//! The one error type of the crate.

use std::fmt;
use std::io;

/// Everything that can go wrong on a channel.
///
/// Variants are meant to be matched on: a decode error carries the byte
/// offset (counted from the first byte the channel ever received) of the
/// message it concerns, and the channel stays usable after
/// [`Error::Decode`] and [`Error::TooLarge`] — the next well-formed message is
/// still delivered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A message from the peer could not be decoded (invalid JSON, an empty
    /// line, or JSON that does not fit the requested Rust type).
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
    /// A message could not be serialized (for example a map with non-string
    /// keys). Nothing of it was queued.
    #[error("cannot encode message: {0}")]
    Encode(#[source] serde_json::Error),
    /// This process has no IPC channel: `NODE_CHANNEL_FD` is not set.
    #[error("NODE_CHANNEL_FD is not set: this process was not started with an IPC channel")]
    NoChannel,
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
    #[error("unsupported serialization mode {0:?} (supported: \"json\")")]
    UnsupportedSerialization(String),
    /// An operating-system error.
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// What was wrong with a message that could not be decoded.
#[derive(Debug)]
#[non_exhaustive]
pub enum DecodeError {
    /// An empty line, or one with only whitespace. Node dies on these; we
    /// report them and go on with the next line.
    EmptyLine,
    /// The line is not JSON, or not JSON of the requested type.
    Json(serde_json::Error),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::EmptyLine => f.write_str("empty line"),
            DecodeError::Json(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for DecodeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DecodeError::EmptyLine => None,
            DecodeError::Json(e) => Some(e),
        }
    }
}

impl Error {
    /// Whether the channel can still be used after this error: true for
    /// errors about one message ([`Error::Decode`], [`Error::TooLarge`],
    /// [`Error::Encode`]), false once the channel is gone.
    pub fn is_recoverable(&self) -> bool {
        matches!(
            self,
            Error::Decode { .. } | Error::TooLarge { .. } | Error::Encode(_)
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
