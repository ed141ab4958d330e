//! Messages handed to the receiving half: whole `json` lines that are
//! plainly user messages, which it decodes without the channel's lock.
//!
//! Why: the receive state is shared (a sender waiting for an ACK may read
//! for the receiving half), so each message taken from it costs a lock;
//! for small messages that was an eighth of the receiver's time. When the
//! buffer holds a run of lines that cannot be internal (no `NODE_`, no
//! `\u` escape) and no fds are pending, the run moves here at once
//! ([`RecvCore::next`](super::RecvCore::next)). Nothing the handle protocol
//! needs is ever here, so a sender reading for an ACK misses nothing; and
//! everything here came before anything left in the receive state, so
//! taking these first keeps the order.

use std::os::fd::RawFd;

use serde::de::DeserializeOwned;

use super::Delivery;
use crate::codec::buffer::{Pending, ReadBuffer};
use crate::codec::json;
use crate::error::Result;
use crate::limits::Limits;

/// The run of lines the receiving half owns (empty most of the time
/// messages are large or rare).
#[derive(Debug)]
pub(crate) struct Ready {
    buf: ReadBuffer,
    lines: json::Lines,
    /// The channel's limits and fd, set at each hand-over.
    limits: Limits,
    fd: RawFd,
}

impl Default for Ready {
    fn default() -> Ready {
        Ready {
            buf: ReadBuffer::new(0),
            lines: json::Lines::default(),
            limits: Limits::default(),
            fd: -1,
        }
    }
}

impl Ready {
    /// The next message of the run; `None` once it is used up.
    #[inline]
    pub(crate) fn next<T: DeserializeOwned>(&mut self) -> Option<Result<Delivery<T>>> {
        let frame = self.lines.decode(&mut self.buf, &self.limits)?;
        Some(
            frame
                .and_then(|f| Ok(Delivery::User(f.parse()?, None)))
                .inspect_err(|e| super::skipped(self.fd, e)),
        )
    }

    /// Bytes not yet returned as messages.
    pub(crate) fn buffered(&self) -> usize {
        self.buf.pending_len()
    }

    /// Whether the run is used up (a hand-over may refill it).
    pub(super) fn is_empty(&self) -> bool {
        self.buf.pending_len() == 0
    }

    /// Takes the first `n` bytes of `from` (whole lines; see
    /// [`json::Lines::plain_run`]); the run must be used up.
    pub(super) fn take_over(
        &mut self,
        from: &mut ReadBuffer,
        n: usize,
        limits: &Limits,
        fd: RawFd,
    ) {
        from.hand_over(n, &mut self.buf);
        (self.limits, self.fd) = (*limits, fd);
    }
}
