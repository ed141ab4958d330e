//! The send queue: encoded messages, which of them carry an fd, and the
//! `NODE_HANDLE_ACK` wait (docs/protocol.md §4.4).
//!
//! Node's rules, kept here:
//! - the fd rides on the write that starts the `NODE_HANDLE` message;
//! - after it, nothing else is written until the peer answers (ACK or
//!   NACK), except our own ACK/NACK, which never wait (two sides passing
//!   handles at once would deadlock otherwise). Our other replies
//!   (`NODE_SOCKET_COUNT`, `NODE_SOCKET_ALL_CLOSED`) do not wait either,
//!   where Node queues them behind the pending handle: a deliberate
//!   difference, since the peer is waiting for them and they carry no fd;
//! - on ACK the fd is closed; on NACK a `net.Socket` is sent again, up to
//!   [`MAX_RETRANSMISSIONS`] times, and any other handle is given up;
//! - an ACK or NACK nobody asked for is ignored (a Node peer crashes on
//!   one, so we never send one unasked).
//!
//! Pure: the writes go through a closure, so the same state machine runs
//! on tokio, std and in unit tests.

use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, RawFd};

use serde::Serialize;

use crate::codec::json::READ_CHUNK;
use crate::codec::{SendBuf, Serialization};
use crate::error::Result;
use crate::handle::{HandleType, OutgoingHandle};
use crate::message::HandleWrapper;

/// How often Node sends a `net.Socket` again after a NACK
/// (`MAX_HANDLE_RETRANSMISSIONS` in `lib/internal/child_process.js`).
pub(crate) const MAX_RETRANSMISSIONS: u32 = 3;

/// A `NODE_HANDLE` message in the queue, not yet started.
#[derive(Debug)]
struct Queued {
    start: u64,
    end: u64,
    handle: OutgoingHandle,
    /// A copy of the message, kept for sockets, which are sent again on NACK.
    copy: Option<Vec<u8>>,
    retransmissions: u32,
}

/// What a write pass stopped at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Progress {
    /// Everything queued is in the kernel.
    Done,
    /// The socket is full.
    WouldBlock,
    /// What is left waits for the peer's answer to a handle.
    AwaitingAck,
}

/// Encoded messages on their way out, with the handles among them.
#[derive(Debug)]
pub(crate) struct Outbox {
    buf: SendBuf,
    queued: VecDeque<Queued>,
    /// The handle sent last, until the peer answers.
    awaiting: Option<Queued>,
    /// Nothing from this position on is written while `awaiting` is set.
    barrier: Option<u64>,
    /// Queue length from which `feed` tries a write: one batch
    /// ([`READ_CHUNK`]), or a batch more than was left when the last write
    /// stopped short, so that a full socket costs one try per batch and not
    /// one per message (measured: tiny messages 7.2–7.7 → 8.0–8.5 M/s,
    /// docs/decisions.md).
    write_at: usize,
    serialization: Serialization,
    /// The channel's fd (for diagnostics).
    fd: RawFd,
}

impl Outbox {
    /// A queue for the channel on fd `fd` that keeps `keep` bytes of
    /// capacity when idle.
    pub(crate) fn new(serialization: Serialization, keep: usize, fd: RawFd) -> Outbox {
        Outbox {
            buf: SendBuf::new(serialization, keep),
            queued: VecDeque::new(),
            awaiting: None,
            barrier: None,
            write_at: READ_CHUNK,
            serialization,
            fd,
        }
    }

    /// The channel's fd (for diagnostics).
    pub(crate) fn fd(&self) -> RawFd {
        self.fd
    }

    /// Whether a batch has built up since the last write: what `feed`
    /// writes on.
    pub(crate) fn batch_ready(&self) -> bool {
        self.len() >= self.write_at
    }

    /// Queues a user message.
    pub(crate) fn push<T: Serialize + ?Sized>(&mut self, msg: &T) -> Result<()> {
        self.buf.push(msg)
    }

    /// Queues `msg` wrapped in `NODE_HANDLE`, with `handle`'s fd to go on
    /// its first byte.
    pub(crate) fn push_handle<T: Serialize + ?Sized>(
        &mut self,
        msg: &T,
        handle: OutgoingHandle,
    ) -> Result<()> {
        let start = self.buf.end();
        self.buf.push(&HandleWrapper::new(
            msg,
            handle.ty.as_str(),
            handle.dgram_type,
        ))?;
        let end = self.buf.end();
        let copy =
            (handle.ty == HandleType::NetSocket).then(|| self.buf.range(start, end).to_vec());
        self.queued.push_back(Queued {
            start,
            end,
            handle,
            copy,
            retransmissions: 0,
        });
        Ok(())
    }

    /// Queues a reply of the channel's own protocol (an ACK, a NACK, a
    /// `NODE_SOCKET_*` answer) at the earliest message boundary that has
    /// not been started and is not held back by an ACK wait.
    pub(crate) fn push_control<T: Serialize + ?Sized>(&mut self, msg: &T) -> Result<()> {
        let mut bytes = SendBuf::new(self.serialization, 0);
        bytes.push(msg)?;
        let bytes = bytes.pending();
        let at = [self.barrier, self.queued.front().map(|q| q.start)]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(self.buf.end());
        self.buf.insert(at, bytes);
        let len = bytes.len() as u64;
        for q in &mut self.queued {
            q.start += len;
            q.end += len;
        }
        if let Some(b) = &mut self.barrier {
            *b += len;
        }
        Ok(())
    }

    /// Bytes queued and not yet written.
    pub(crate) fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether a handle waits for the peer's answer.
    #[cfg(test)]
    pub(crate) fn awaiting_ack(&self) -> bool {
        self.awaiting.is_some()
    }

    /// Writes what may be written now through `send(bytes, fd)`, which
    /// writes a prefix of `bytes` (with `fd` attached, if given) and says
    /// how much. `Interrupted` is retried; other errors are returned.
    pub(crate) fn write(
        &mut self,
        send: impl FnMut(&[u8], Option<BorrowedFd<'_>>) -> io::Result<usize>,
    ) -> io::Result<Progress> {
        let progress = self.write_some(send);
        self.write_at = match progress {
            Ok(Progress::Done) => READ_CHUNK,
            _ => self.len() + READ_CHUNK,
        };
        progress
    }

    fn write_some(
        &mut self,
        mut send: impl FnMut(&[u8], Option<BorrowedFd<'_>>) -> io::Result<usize>,
    ) -> io::Result<Progress> {
        loop {
            let pos = self.buf.pos();
            let mut end = self.buf.end();
            if pos == end {
                return Ok(Progress::Done);
            }
            if let Some(b) = self.barrier {
                if pos >= b {
                    return Ok(Progress::AwaitingAck);
                }
                end = end.min(b);
            }
            let fd_here = match self.queued.front() {
                Some(q) if q.start == pos && self.barrier.is_none() => {
                    end = q.end;
                    true
                }
                Some(q) => {
                    end = end.min(q.start);
                    false
                }
                None => false,
            };
            let bytes = self.buf.range(pos, end);
            let fd = fd_here.then(|| self.queued.front().expect("queued").handle.fd.as_fd());
            match send(bytes, fd) {
                Ok(n) => {
                    self.buf.advance(n);
                    if fd_here {
                        // The fd went with these bytes: the rest of the
                        // message follows without it, then we wait.
                        let q = self.queued.pop_front().expect("queued");
                        event!(
                            debug,
                            self.fd,
                            handle = q.handle.ty.as_str(),
                            offset = q.start,
                            retransmission = q.retransmissions,
                            "handle sent: later messages wait for NODE_HANDLE_ACK"
                        );
                        self.barrier = Some(q.end);
                        self.awaiting = Some(q);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    event!(
                        trace,
                        self.fd,
                        queued = self.len(),
                        "socket full: waiting for writable"
                    );
                    return Ok(Progress::WouldBlock);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// The peer acknowledged a handle: close our copy, let the queue go.
    /// An ACK nobody asked for is ignored.
    pub(crate) fn on_ack(&mut self) {
        let acked = self.awaiting.take();
        event!(debug, self.fd, handle = ?acked.as_ref().map(|q| q.handle.ty),
            "NODE_HANDLE_ACK received (handle=None: none was awaited; ignored)");
        drop(acked); // closes our copy of the fd
        self.barrier = None;
    }

    /// The peer got no fd with our handle: send a `net.Socket` again (at
    /// most [`MAX_RETRANSMISSIONS`] times), give anything else up, as Node
    /// does. Returns the handle type given up, if one was.
    pub(crate) fn on_nack(&mut self) -> Option<HandleType> {
        let Some(mut q) = self.awaiting.take() else {
            event!(
                debug,
                self.fd,
                "NODE_HANDLE_NACK nobody waited for: ignored"
            );
            return None;
        };
        let barrier = self.barrier.take().expect("barrier while awaiting");
        let again = q.copy.is_some() && q.retransmissions < MAX_RETRANSMISSIONS;
        event!(
            debug,
            self.fd,
            handle = q.handle.ty.as_str(),
            offset = q.start,
            again,
            "NODE_HANDLE_NACK: the peer got no fd (again: sent again, else given up)"
        );
        match q.copy.as_deref() {
            Some(copy) if again => {
                // Again, right where the first copy ended: before anything
                // that waited behind it.
                self.buf.insert(barrier, copy);
                let len = copy.len() as u64;
                for later in &mut self.queued {
                    later.start += len;
                    later.end += len;
                }
                q.start = barrier;
                q.end = barrier + len;
                q.retransmissions += 1;
                self.queued.push_front(q);
                None
            }
            _ => Some(q.handle.ty),
        }
    }

    /// The channel is gone: drop everything (closing the fds of handles
    /// not sent).
    pub(crate) fn clear(&mut self) {
        *self = Outbox::new(self.serialization, 0, self.fd);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::{AsRawFd, OwnedFd, RawFd};

    /// Records writes: the bytes, and the fd number attached to each.
    #[derive(Default)]
    struct Wire {
        bytes: Vec<u8>,
        fds: Vec<(usize, RawFd)>,
        /// Most bytes taken per write (0: unlimited), and writes allowed
        /// before WouldBlock.
        chunk: usize,
        budget: Option<usize>,
    }

    impl Wire {
        fn send(&mut self, b: &[u8], fd: Option<BorrowedFd<'_>>) -> io::Result<usize> {
            if let Some(n) = &mut self.budget {
                if *n == 0 {
                    return Err(io::ErrorKind::WouldBlock.into());
                }
                *n -= 1;
            }
            let n = if self.chunk == 0 {
                b.len()
            } else {
                b.len().min(self.chunk)
            };
            if let Some(fd) = fd {
                self.fds.push((self.bytes.len(), fd.as_raw_fd()));
            }
            self.bytes.extend_from_slice(&b[..n]);
            Ok(n)
        }
    }

    fn fd() -> OwnedFd {
        crate::sys::stream_pair().unwrap().0
    }

    fn lines(w: &Wire) -> Vec<String> {
        String::from_utf8(w.bytes.clone())
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn handle_message_carries_the_fd_and_later_messages_wait_for_the_ack() {
        let mut out = Outbox::new(Serialization::Json, 0, -1);
        out.push(&1).unwrap();
        let h = OutgoingHandle::new(fd(), HandleType::NetServer).unwrap();
        let raw = h.fd.as_raw_fd();
        out.push_handle(&serde_json::json!({"a": 1}), h).unwrap();
        out.push(&2).unwrap();
        let mut w = Wire {
            chunk: 5,
            ..Wire::default()
        };
        assert_eq!(
            out.write(|b, f| w.send(b, f)).unwrap(),
            Progress::AwaitingAck
        );
        assert_eq!(
            lines(&w),
            [
                "1",
                r#"{"cmd":"NODE_HANDLE","type":"net.Server","msg":{"a":1}}"#
            ]
        );
        // The fd went with the first chunk of the NODE_HANDLE line only.
        assert_eq!(w.fds, [(2, raw)]);
        out.push_control(&serde_json::json!({"cmd": "NODE_HANDLE_ACK"}))
            .unwrap();
        assert_eq!(
            out.write(|b, f| w.send(b, f)).unwrap(),
            Progress::AwaitingAck
        );
        assert_eq!(lines(&w)[2], r#"{"cmd":"NODE_HANDLE_ACK"}"#);
        out.on_ack();
        assert_eq!(out.write(|b, f| w.send(b, f)).unwrap(), Progress::Done);
        assert_eq!(lines(&w)[3], "2");
        out.on_ack(); // unasked: ignored
        assert!(!out.awaiting_ack());
    }

    #[test]
    fn control_messages_go_before_queued_handles_and_never_split_a_message() {
        let mut out = Outbox::new(Serialization::Json, 0, -1);
        out.push(&"abcdef").unwrap();
        out.push_handle(
            &0,
            OutgoingHandle::new(fd(), HandleType::NetSocket).unwrap(),
        )
        .unwrap();
        let mut w = Wire {
            chunk: 3,
            budget: Some(1),
            ..Wire::default()
        };
        assert_eq!(
            out.write(|b, f| w.send(b, f)).unwrap(),
            Progress::WouldBlock
        );
        out.push_control(&"ack").unwrap();
        w.budget = None;
        assert_eq!(out.write(|b, f| w.send(b, f)).unwrap(), Progress::Done);
        assert_eq!(lines(&w)[..2], [r#""abcdef""#, r#""ack""#]);
        assert!(lines(&w)[2].starts_with(r#"{"cmd":"NODE_HANDLE","type":"net.Socket""#));
    }

    #[test]
    fn nack_sends_a_socket_again_three_times_then_gives_up() {
        let mut out = Outbox::new(Serialization::Json, 0, -1);
        out.push_handle(
            &"s",
            OutgoingHandle::new(fd(), HandleType::NetSocket).unwrap(),
        )
        .unwrap();
        out.push(&"after").unwrap();
        let mut w = Wire::default();
        for _ in 0..MAX_RETRANSMISSIONS {
            assert_eq!(
                out.write(|b, f| w.send(b, f)).unwrap(),
                Progress::AwaitingAck
            );
            assert_eq!(out.on_nack(), None);
        }
        // The fourth NACK (after three retransmissions) gives it up.
        assert_eq!(
            out.write(|b, f| w.send(b, f)).unwrap(),
            Progress::AwaitingAck
        );
        assert_eq!(out.on_nack(), Some(HandleType::NetSocket));
        assert_eq!(out.write(|b, f| w.send(b, f)).unwrap(), Progress::Done);
        let got = lines(&w);
        assert_eq!(got.len(), 5);
        assert!(got[..4].iter().all(|l| l == &got[0]), "{got:?}");
        assert_eq!(got[4], r#""after""#);
        assert_eq!(w.fds.len(), 4);
    }

    #[test]
    fn nack_for_a_server_gives_it_up_and_lets_the_queue_go() {
        let mut out = Outbox::new(Serialization::Advanced, 0, -1);
        out.push_handle(
            &1,
            OutgoingHandle::new(fd(), HandleType::NetServer).unwrap(),
        )
        .unwrap();
        out.push(&2).unwrap();
        let mut w = Wire::default();
        assert_eq!(
            out.write(|b, f| w.send(b, f)).unwrap(),
            Progress::AwaitingAck
        );
        assert_eq!(out.on_nack(), Some(HandleType::NetServer));
        assert_eq!(out.write(|b, f| w.send(b, f)).unwrap(), Progress::Done);
        assert_eq!(w.fds.len(), 1);
    }
}
