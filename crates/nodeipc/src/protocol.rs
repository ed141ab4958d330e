//! What the async and blocking channels share above the codecs and below
//! their I/O loops: the receive state (decoder, received fds, messages
//! read ahead) and the send state both halves write through (the
//! [`Outbox`]), with the handle protocol between them.

use std::collections::VecDeque;
use std::io;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::sync::{Mutex, MutexGuard};

use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

use crate::codec::{Decoder, Incoming, Serialization};
use crate::error::{DecodeError, Error, Result};
use crate::handle::inbox::{self, Inbox};
use crate::handle::outbox::{Outbox, Progress};
use crate::handle::{Handle, HandleType};
use crate::limits::Limits;
use crate::message::{InternalMessage, Message};
use crate::sys;
use crate::value::{Value, from_value_limited};

/// A message as the channel hands it out. Internal ones are boxed to keep
/// the common case small (see [`Incoming`]).
#[derive(Debug)]
pub(crate) enum Delivery<T> {
    /// A user message, with the handle that came with it.
    User(T, Option<Handle>),
    /// An internal message (a handle that came with one is closed).
    Internal(Box<InternalMessage>),
}

impl<T> Delivery<T> {
    fn new(msg: Message<T>, handle: Option<Handle>) -> Delivery<T> {
        match msg {
            Message::User(t) => Delivery::User(t, handle),
            Message::Internal(m) => Delivery::Internal(Box::new(m)),
        }
    }

    /// As a [`Message`], dropping any handle.
    pub(crate) fn into_message(self) -> Message<T> {
        match self {
            Delivery::User(t, _) => Message::User(t),
            Delivery::Internal(m) => Message::Internal(*m),
        }
    }
}

/// The send queue, shared by a channel's [`Sender`](crate::Sender) (user
/// messages) and its [`Receiver`](crate::Receiver) (the ACKs it owes):
/// every write to the socket happens under this lock, so the two never
/// interleave bytes. It is held only while encoding and during
/// non-blocking writes, never across a wait.
#[derive(Debug)]
pub(crate) struct SendState {
    out: Mutex<Outbox>,
}

impl SendState {
    pub(crate) fn new(serialization: Serialization, limits: &Limits) -> SendState {
        SendState {
            out: Mutex::new(Outbox::new(serialization, limits.max_send_buffer)),
        }
    }

    /// The queue. A panic while it was held leaves whole messages in it,
    /// so a poisoned lock is still usable.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Outbox> {
        self.out.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Writes what the queue allows now to `sock` (fds included), without
/// waiting; `would_block` turns the socket's "full" into
/// [`Progress::WouldBlock`] (tokio's `try_io` does this for the async
/// channel). On an error the queue is dropped: nothing in it can go out.
pub(crate) fn write_out(
    out: &mut Outbox,
    mut write: impl FnMut(&[u8], Option<BorrowedFd<'_>>) -> io::Result<usize>,
) -> Result<Progress> {
    out.write(&mut write).map_err(|e| {
        out.clear();
        Error::from_send(e)
    })
}

/// A sender's write (`write` is its channel's [`write_out`]): refused once
/// the sender knows the channel is closed, and an error marks it closed,
/// since nothing queued can go out any more.
pub(crate) fn sender_write(
    closed: &mut bool,
    write: impl FnOnce() -> Result<Progress>,
) -> Result<Progress> {
    if *closed {
        return Err(Error::Disconnected);
    }
    let written = write();
    *closed = written.is_err();
    written
}

/// One write to the socket: plain, or with an fd.
pub(crate) fn send_some(
    sock: BorrowedFd<'_>,
    bytes: &[u8],
    fd: Option<BorrowedFd<'_>>,
) -> io::Result<usize> {
    match fd {
        None => sys::send_nosignal(sock, bytes),
        Some(fd) => sys::send_with_fd(sock, bytes, fd),
    }
}

/// A message read ahead (while a send waited for an ACK), kept in a form
/// any `T` can be read from later.
enum Raw {
    Json(Box<RawValue>),
    V8(Value),
}

/// A message read ahead (or the error in its place), with what it costs
/// against `Limits::max_read_ahead`.
struct Stashed {
    item: Result<(u64, Delivery<Raw>)>,
    /// Its length on the wire: the bytes it took from the stream.
    len: usize,
    /// What keeping it costs: its length, what it decoded to, and a
    /// constant for the queue entry.
    cost: usize,
    /// Whether it holds a handle (an open fd).
    fd: bool,
}

/// What a kept message costs on top of its length and value: its place in
/// the queue.
const STASH_ENTRY_COST: usize = 64;

/// The receiving state of a channel: bytes and fds in, messages out.
pub(crate) struct RecvState {
    dec: Decoder,
    inbox: Inbox,
    stash: VecDeque<Stashed>,
    /// What the messages in `stash` cost (see [`Stashed::cost`]).
    stashed_bytes: usize,
    /// How many of them hold a handle.
    stashed_fds: usize,
    serialization: Serialization,
    /// Control messages queued but not yet written (the socket was full).
    pub(crate) control_pending: bool,
}

impl std::fmt::Debug for RecvState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecvState")
            .field("dec", &self.dec)
            .field("inbox", &self.inbox)
            .field("stashed", &self.stash.len())
            .finish()
    }
}

impl RecvState {
    pub(crate) fn new(serialization: Serialization, limits: Limits) -> RecvState {
        RecvState {
            dec: Decoder::new(serialization, limits),
            inbox: Inbox::new(limits.max_pending_fds),
            stash: VecDeque::new(),
            stashed_bytes: 0,
            stashed_fds: 0,
            serialization,
            control_pending: false,
        }
    }

    /// Bytes received and not yet returned as messages.
    pub(crate) fn buffered(&self) -> usize {
        self.dec.buffered()
    }

    /// Reads once from `sock` into the decoder (`nowait`: never blocks).
    /// `Ok(0)` at end of stream.
    pub(crate) fn read(&mut self, sock: BorrowedFd<'_>, nowait: bool) -> io::Result<usize> {
        let start = self.dec.received();
        let mut fds: Vec<OwnedFd> = Vec::new();
        let r = sys::recv_with_fds(sock, self.dec.read_buf(), &mut fds, nowait)?;
        self.inbox.arrived(start, start + r.len as u64, fds);
        if r.truncated {
            // Reported once the bytes are decoded. The fds that did arrive
            // are there: a handle message takes the first, as usual.
            let e = Error::Handle {
                offset: start,
                reason: "fds came with this read but the kernel dropped them (MSG_CTRUNC: \
                         too many, or this process is out of fds)"
                    .into(),
            };
            self.stash(Stashed {
                item: Err(e),
                len: 0,
                cost: STASH_ENTRY_COST,
                fd: false,
            });
        }
        Ok(r.len)
    }

    /// At end of stream: what is left is an error (a partial message, an
    /// fd nobody claimed).
    pub(crate) fn finish(&mut self) -> Result<()> {
        self.dec.finish()?;
        self.inbox.finish()
    }

    /// The next message from what has been received, with its handle;
    /// `None` when more bytes are needed. Messages of the handle protocol
    /// are acted on here (through `send`) and returned as internal ones.
    pub(crate) fn next<T: DeserializeOwned>(
        &mut self,
        send: &SendState,
    ) -> Option<Result<Delivery<T>>> {
        if let Some(Stashed {
            item,
            len,
            cost,
            fd,
        }) = self.stash.pop_front()
        {
            self.stashed_bytes -= cost;
            self.stashed_fds -= usize::from(fd);
            let limits = self.dec.limits().with_max_message_len(len);
            return Some(item.and_then(|(offset, d)| typed(d, offset, &limits)));
        }
        self.decode::<T>(send).map(|r| r.map(|(_, d)| d))
    }

    /// Keeps `s` for a later `next`, counting its cost.
    fn stash(&mut self, s: Stashed) {
        self.stashed_bytes += s.cost;
        self.stashed_fds += usize::from(s.fd);
        self.stash.push_back(s);
    }

    /// Whether the read-ahead queue may take more: a send waiting for an
    /// ACK reads only while it may ([`Error::ReadAheadFull`] otherwise):
    /// under `Limits::max_read_ahead` bytes, and under
    /// `Limits::max_pending_fds` handles (each an open fd).
    pub(crate) fn may_read_ahead(&self) -> Result<()> {
        let limits = self.dec.limits();
        if self.stashed_bytes >= limits.max_read_ahead || self.stashed_fds >= limits.max_pending_fds
        {
            return Err(Error::ReadAheadFull {
                limit: limits.max_read_ahead,
                fds: limits.max_pending_fds,
            });
        }
        Ok(())
    }

    /// Decodes everything buffered into the read-ahead queue, acting on
    /// the handle protocol's messages: how a send that waits for an ACK
    /// makes progress on a channel whose receiving half it holds. Whether
    /// anything was decoded (the ACK may have been buffered already, behind
    /// a message a `recv` returned).
    pub(crate) fn read_ahead(&mut self, send: &SendState) -> bool {
        let mut any = false;
        loop {
            let before = self.dec.next_offset();
            let next = match self.serialization {
                Serialization::Json => self
                    .decode::<Box<RawValue>>(send)
                    .map(|r| r.map(|(o, d)| (o, map_user(d, Raw::Json)))),
                Serialization::Advanced => self
                    .decode::<Value>(send)
                    .map(|r| r.map(|(o, d)| (o, map_user(d, Raw::V8)))),
            };
            let Some(item) = next else { return any };
            any = true;
            // The message's bytes, or those an error skipped: a flood of
            // bad messages counts too.
            let len = usize::try_from(self.dec.next_offset() - before).unwrap_or(usize::MAX);
            let held = match &item {
                Ok((_, Delivery::User(Raw::V8(v), _))) => v.held_bytes(),
                _ => 0,
            };
            let cost = len.saturating_add(held).saturating_add(STASH_ENTRY_COST);
            let fd = matches!(&item, Ok((_, Delivery::User(_, Some(_)))));
            self.stash(Stashed {
                item,
                len,
                cost,
                fd,
            });
        }
    }

    fn decode<T: DeserializeOwned>(
        &mut self,
        send: &SendState,
    ) -> Option<Result<(u64, Delivery<T>)>> {
        let next = self.dec.next_offset();
        if let Err(e) = self
            .inbox
            .take_refused()
            .and_then(|()| self.inbox.drop_strays(next))
        {
            return Some(Err(e));
        }
        let (offset, incoming) = match self.dec.incoming::<T>()? {
            Ok(x) => x,
            Err(e) => return Some(Err(e)),
        };
        let delivery = match incoming {
            // The hot path: no lock.
            Incoming::User(t) => return Some(Ok((offset, Delivery::User(t, None)))),
            Incoming::Internal(m) => {
                inbox::on_internal(&mut send.lock(), &m).map(|()| (offset, Delivery::Internal(m)))
            }
            Incoming::Handle(w) => {
                let fd = self.inbox.claim(offset);
                let ty = HandleType::from_name(&w.name);
                inbox::answer_handle(&mut send.lock(), offset, w.layers, ty, &w.name, fd)
                    .and_then(|handle| Ok((offset, Delivery::new(w.msg?, Some(handle)))))
            }
        };
        // It may have queued a reply or let our queue go: the I/O loop
        // writes, and wakes a sender waiting for an ACK.
        self.control_pending = true;
        Some(delivery)
    }
}

fn map_user<T, U>(d: Delivery<T>, f: impl FnOnce(T) -> U) -> Delivery<U> {
    match d {
        Delivery::User(t, h) => Delivery::User(f(t), h),
        Delivery::Internal(i) => Delivery::Internal(i),
    }
}

/// A read-ahead message as the `T` asked for now, within `limits` (whose
/// `max_message_len` is the message's length on the wire). A message
/// that does not fit `T` is an error, and its handle is closed.
fn typed<T: DeserializeOwned>(
    d: Delivery<Raw>,
    offset: u64,
    limits: &Limits,
) -> Result<Delivery<T>> {
    Ok(match d {
        Delivery::Internal(i) => Delivery::Internal(i),
        Delivery::User(Raw::Json(raw), h) => Delivery::User(
            crate::codec::json::Frame::new(raw.get().as_bytes(), offset).parse()?,
            h,
        ),
        // `limits` has the frame's length as max_message_len.
        Delivery::User(Raw::V8(v), h) => Delivery::User(
            from_value_limited(&v, limits).map_err(|e| Error::Decode {
                offset,
                kind: DecodeError::Mismatch(e.to_string()),
            })?,
            h,
        ),
    })
}
