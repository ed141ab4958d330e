//! Messages handed to the receiving half: whole messages that cannot be
//! internal ones, which it decodes without the channel's lock.
//!
//! Why: the receive state is shared (a sender waiting for an ACK may read
//! for the receiving half), so each message taken from it costs a lock;
//! for small messages that was an eighth of the receiver's time. When the
//! buffer holds a run of messages that cannot be internal (`json` lines
//! with no `NODE_` and no `\u` escape, `advanced` frames with no `NODE_` in
//! either string form) and no fds are pending, the run moves here at once
//! ([`RecvCore::next`](super::RecvCore::next)). Nothing the handle protocol
//! needs is ever here, so a sender reading for an ACK misses nothing; and
//! everything here came before anything left in the receive state, so
//! taking these first keeps the order.

use std::os::fd::RawFd;

use serde::de::DeserializeOwned;

use super::Delivery;
use crate::codec::Framing;
use crate::codec::buffer::{Pending, ReadBuffer};
use crate::error::Result;
use crate::limits::Limits;

/// The run of lines the receiving half owns (empty most of the time
/// messages are large or rare).
#[derive(Debug)]
pub(crate) struct Ready {
    buf: ReadBuffer,
    /// Its own framing state, the channel's kind.
    framing: Framing,
    /// The channel's limits and fd, set at each hand-over.
    limits: Limits,
    fd: RawFd,
}

impl Default for Ready {
    fn default() -> Ready {
        Ready {
            buf: ReadBuffer::new(0),
            framing: Framing::Json(Default::default()),
            limits: Limits::default(),
            fd: -1,
        }
    }
}

impl Ready {
    /// The next message of the run; `None` once it is used up.
    #[inline]
    pub(crate) fn next<T: DeserializeOwned>(&mut self) -> Option<Result<Delivery<T>>> {
        let user = match &mut self.framing {
            Framing::Json(l) => l
                .decode(&mut self.buf, &self.limits)?
                .and_then(|f| f.parse()),
            Framing::V8(f) => f
                .decode(&mut self.buf, &self.limits)?
                .and_then(|f| f.deserialize()),
        };
        Some(
            user.map(|t| Delivery::User(t, None))
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

    /// Takes the first `n` bytes of `from` (whole messages framed as
    /// `framing` frames them; see [`Framing::plain_run`]); the run must be
    /// used up.
    pub(super) fn take_over(
        &mut self,
        from: &mut ReadBuffer,
        n: usize,
        framing: &Framing,
        limits: &Limits,
        fd: RawFd,
    ) {
        from.hand_over(n, &mut self.buf);
        self.framing = framing.fresh();
        (self.limits, self.fd) = (*limits, fd);
    }
}
