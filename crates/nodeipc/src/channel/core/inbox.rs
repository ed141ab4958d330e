//! The receiving side of handle passing: which fd belongs to which
//! `NODE_HANDLE` message, and the answers the protocol owes the peer.
//!
//! **Which fd is whose.** A sender attaches the fd to the write that
//! starts the `NODE_HANDLE` message, and Linux hands it to the `recvmsg`
//! that returns that first byte (bytes before it may come in the same
//! read; bytes after an fd-carrying write never do, docs/protocol.md §4.3). So
//! the fd of a read covering stream bytes `[start, end)` belongs to the
//! `NODE_HANDLE` message that *starts* in that range. Node keeps a pending
//! fd until any later `NODE_HANDLE`; we are stricter: once a message that
//! starts at or past `end` is decoded, no message can claim the fd any
//! more, and it is closed and reported ([`Error::Handle`]). This covers
//! both observed placements (the fd with an earlier plain message, the fd
//! with only the first byte of the line).

use std::collections::VecDeque;
use std::os::fd::OwnedFd;

use serde::Serialize;

use super::outbox::Outbox;
use crate::error::{Error, Result};
use crate::handle::{Handle, HandleType};
use crate::message::{Cmd, InternalMessage};

/// Fds received and not yet claimed by a `NODE_HANDLE` message, at most
/// [`Limits::max_pending_fds`](crate::Limits::max_pending_fds) of them.
#[derive(Debug)]
pub(crate) struct Inbox {
    fds: VecDeque<Arrived>,
    limit: usize,
    /// Fds closed at arrival for want of room, not yet reported: the
    /// offset of the first read that brought one, and how many.
    refused: Option<(u64, usize)>,
    /// The stream range of the first read whose fds the kernel cut off
    /// (`MSG_CTRUNC`), not yet reported.
    cut: Option<(u64, u64)>,
}

#[derive(Debug)]
struct Arrived {
    /// The stream range of the read that carried the fd.
    start: u64,
    end: u64,
    fd: OwnedFd,
}

impl Inbox {
    /// An inbox that holds at most `limit` fds.
    pub(crate) fn new(limit: usize) -> Inbox {
        Inbox {
            fds: VecDeque::new(),
            limit,
            refused: None,
            cut: None,
        }
    }

    /// Records the fds that came with a read of the bytes `[start, end)`.
    /// Past the limit they are closed here (the oldest are kept: a message
    /// that started earlier may still claim one), to be reported by
    /// [`take_refused`](Self::take_refused).
    pub(crate) fn arrived(&mut self, start: u64, end: u64, fds: impl IntoIterator<Item = OwnedFd>) {
        for fd in fds {
            if self.fds.len() < self.limit {
                self.fds.push_back(Arrived { start, end, fd });
            } else {
                drop(fd);
                self.refused.get_or_insert((start, 0)).1 += 1;
            }
        }
    }

    /// Whether no fd waits for a message, and no error about fds waits to
    /// be reported.
    pub(crate) fn is_empty(&self) -> bool {
        self.fds.is_empty() && self.refused.is_none() && self.cut.is_none()
    }

    /// An error for the fds closed at arrival since the last call, if any.
    pub(crate) fn take_refused(&mut self) -> Result<()> {
        match self.refused.take() {
            None => Ok(()),
            Some((offset, dropped)) => Err(Error::TooManyFds {
                offset,
                dropped,
                limit: self.limit,
            }),
        }
    }

    /// Records that the kernel cut off fds of the read of the bytes
    /// `[start, end)` (`MSG_CTRUNC`: too many, or this process is out of
    /// fds).
    pub(crate) fn cut_off(&mut self, start: u64, end: u64) {
        self.cut.get_or_insert((start, end));
    }

    /// An error for fds cut off from a read, once the message starting at
    /// `offset` is past it, as for stray fds: the messages of that read
    /// come out first (its handle message with the fds that did arrive).
    pub(crate) fn take_cut_off(&mut self, offset: u64) -> Result<()> {
        match self.cut {
            Some((at, end)) if end <= offset => {
                self.cut = None;
                Err(Error::Handle {
                    offset: at,
                    reason: "fds came with this read but the kernel dropped them (MSG_CTRUNC: \
                             too many, or this process is out of fds)"
                        .into(),
                })
            }
            _ => Ok(()),
        }
    }

    /// Closes the fds no message can claim once the message starting at
    /// `offset` is decoded; an error naming the first, if there were any.
    pub(crate) fn drop_strays(&mut self, offset: u64) -> Result<()> {
        let mut first = None;
        while let Some(a) = self.fds.front() {
            if a.end > offset {
                break;
            }
            first.get_or_insert(a.start);
            self.fds.pop_front();
        }
        match first {
            None => Ok(()),
            Some(at) => Err(Error::Handle {
                offset: at,
                reason: "an fd arrived with no NODE_HANDLE message; it was closed".into(),
            }),
        }
    }

    /// The fd of the `NODE_HANDLE` message starting at `offset`.
    pub(crate) fn claim(&mut self, offset: u64) -> Option<OwnedFd> {
        let a = self.fds.front()?;
        (a.start <= offset && offset < a.end).then(|| self.fds.pop_front().expect("front").fd)
    }

    /// At end of stream: closes every unclaimed fd; an error if there was
    /// one, or if fds were cut off.
    pub(crate) fn finish(&mut self) -> Result<()> {
        self.take_cut_off(u64::MAX)?;
        self.drop_strays(u64::MAX)
    }
}

const ACK: Cmd = Cmd {
    cmd: "NODE_HANDLE_ACK",
};
const NACK: Cmd = Cmd {
    cmd: "NODE_HANDLE_NACK",
};

/// Answers a `NODE_HANDLE` message that starts at `offset`, wrapped
/// `layers` times (Node's NACK retransmission wraps it twice, and a Node
/// receiver sends one ACK per layer, so we do too), with the innermost
/// `type` and the fd that came with it. An ACK per layer and the handle,
/// or a NACK and an error when it cannot be taken.
pub(crate) fn answer_handle(
    out: &mut Outbox,
    offset: u64,
    layers: usize,
    ty: Option<HandleType>,
    name: &str,
    fd: Option<OwnedFd>,
) -> Result<Handle> {
    let refuse = |out: &mut Outbox, reason: String| {
        event!(debug, out.fd(), offset, handle = name, %reason, "handle refused: NODE_HANDLE_NACK");
        out.push_control(&NACK)?;
        Err(Error::Handle { offset, reason })
    };
    let Some(fd) = fd else {
        return refuse(
            out,
            "no fd came with this NODE_HANDLE message (answered NACK)".into(),
        );
    };
    let Some(ty) = ty else {
        return refuse(
            out,
            format!("unknown handle type {name:?} (fd closed, answered NACK)"),
        );
    };
    let Some(handle) = Handle::from_received(fd, ty) else {
        return refuse(
            out,
            format!("the fd is not a {name} (fd closed, answered NACK)"),
        );
    };
    for _ in 0..layers {
        out.push_control(&ACK)?;
    }
    event!(
        debug,
        out.fd(),
        offset,
        handle = name,
        "handle received: NODE_HANDLE_ACK"
    );
    Ok(handle)
}

/// The replies of `lib/internal/socket_list.js`.
#[derive(Serialize)]
struct SocketReply<'a> {
    cmd: &'static str,
    key: &'a serde_json::Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    count: Option<u32>,
}

/// Acts on an internal message of the handle protocol: an answer to a
/// handle we sent, or a `NODE_SOCKET_*` question about sockets the peer
/// sent us. Anything else is left alone.
///
/// Sockets received are the user's to keep or close, and nodeipc cannot
/// see when they close; so it answers as for sockets already closed:
/// `NODE_SOCKET_COUNT` 0, `NODE_SOCKET_ALL_CLOSED` at once. A Node
/// server's `getConnections()` then counts only its own connections, and
/// its `close()` callback fires without waiting for ours.
pub(crate) fn on_internal(out: &mut Outbox, msg: &InternalMessage) -> Result<()> {
    let key = msg.0.get("key").unwrap_or(&serde_json::Value::Null);
    match msg.cmd() {
        "NODE_HANDLE_ACK" => out.on_ack(),
        "NODE_HANDLE_NACK" => {
            out.on_nack();
        }
        "NODE_SOCKET_GET_COUNT" => out.push_control(&SocketReply {
            cmd: "NODE_SOCKET_COUNT",
            key,
            count: Some(0),
        })?,
        "NODE_SOCKET_NOTIFY_CLOSE" => out.push_control(&SocketReply {
            cmd: "NODE_SOCKET_ALL_CLOSED",
            key,
            count: None,
        })?,
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fd() -> OwnedFd {
        crate::sys::stream_pair().unwrap().0
    }

    #[test]
    fn an_fd_belongs_to_the_handle_message_starting_in_its_read() {
        let mut inbox = Inbox::new(64);
        inbox.arrived(10, 20, [fd()]);
        // A message starting before the read cannot claim it...
        assert!(inbox.claim(5).is_none());
        inbox.drop_strays(12).unwrap();
        // ...one starting inside it can.
        assert!(inbox.claim(12).is_some());
    }

    #[test]
    fn an_unclaimed_fd_is_closed_and_reported_once_past_its_read() {
        let mut inbox = Inbox::new(64);
        inbox.arrived(0, 8, [fd(), fd()]);
        inbox.drop_strays(7).unwrap();
        let err = inbox.drop_strays(8).unwrap_err();
        assert!(matches!(err, Error::Handle { offset: 0, .. }), "{err}");
        inbox.drop_strays(9).unwrap();
        inbox.arrived(9, 10, [fd()]);
        assert!(inbox.finish().is_err());
    }

    #[test]
    fn fds_past_the_limit_are_closed_at_once_and_reported_together() {
        let mut inbox = Inbox::new(2);
        inbox.arrived(0, 1, [fd(), fd()]);
        inbox.take_refused().unwrap();
        inbox.arrived(1, 2, [fd()]);
        inbox.arrived(2, 3, [fd(), fd()]);
        assert_eq!(inbox.fds.len(), 2);
        let err = inbox.take_refused().unwrap_err();
        assert!(
            matches!(
                err,
                Error::TooManyFds {
                    offset: 1,
                    dropped: 3,
                    limit: 2
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("Limits::max_pending_fds"), "{err}");
        inbox.take_refused().unwrap();
        // The oldest are kept for the message that may claim them.
        assert!(inbox.claim(0).is_some());
    }
}
