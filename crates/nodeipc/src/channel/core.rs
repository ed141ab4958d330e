//! The channel core: every protocol decision of a channel, with no I/O and
//! no waiting (the model: quinn-proto under quinn, rustls under its
//! `complete_io` and tokio-rustls).
//!
//! It holds the receive state ([`RecvCore`]: the one read buffer, the
//! framing state, the fds received and the messages read ahead), the send
//! queue ([`SendState`] around the [`Outbox`](outbox::Outbox): batching,
//! the handle ACK/NACK wait and the queue behind it), a sender's own state
//! ([`SendHalf`]) and the busy-poll policy ([`BusyPoll`]). Its methods take
//! the bytes and fds a driver read (a closure that reads) or a closure that
//! writes, and return a result or what the driver must wait for: a
//! readable socket, a writable one, or an ACK.
//!
//! The two drivers — [`crate::channel`] (tokio) and [`crate::blocking`]
//! (std, `poll(2)`) — only do the I/O they are told to and wait. They share
//! one design for the ACK wait (see [`RecvCore::ack_step`]): whoever is
//! free reads. The ACK is read by the receiving half if it is receiving,
//! else by the sender that waits for it, which keeps what else it reads
//! for the receiving half (up to `Limits::max_read_ahead`).

mod inbox;
mod outbox;
mod ready;

use std::collections::VecDeque;
use std::io;
use std::os::fd::{BorrowedFd, OwnedFd, RawFd};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

pub(crate) use outbox::{Outbox, Progress};
pub(crate) use ready::Ready;

use crate::codec::buffer::{Pending, ReadBuffer};
use crate::codec::{Framing, Serialization, json};
use crate::error::{DecodeError, Error, Result};
use crate::handle::{Handle, HandleType, OutgoingHandle};
use crate::limits::Limits;
use crate::message::{Incoming, InternalMessage, Message};
use crate::sys::Received;
use crate::value::{Value, from_value_limited};

/// How long a receiver polls the socket before it sleeps (see
/// `Receiver::set_busy_poll`).
pub(crate) const DEFAULT_BUSY_POLL: Duration = Duration::from_micros(50);

/// A message as the channel hands it out. Internal ones are boxed to keep
/// the common case small (see [`Incoming`]).
#[derive(Debug)]
pub(crate) enum Delivery<T> {
    /// A user message, with the handle that came with it.
    User(T, Option<Handle>),
    /// An internal message, with the handle that came with it (cluster's
    /// `newconn` carries the connection).
    Internal(Box<InternalMessage>, Option<Handle>),
}

impl<T> Delivery<T> {
    fn new(msg: Message<T>, handle: Option<Handle>) -> Delivery<T> {
        match msg {
            Message::User(t) => Delivery::User(t, handle),
            Message::Internal(m) => Delivery::Internal(Box::new(m), handle),
        }
    }

    /// As a [`Message`], with its handle.
    pub(crate) fn into_message(self) -> (Message<T>, Option<Handle>) {
        match self {
            Delivery::User(t, h) => (Message::User(t), h),
            Delivery::Internal(m, h) => (Message::Internal(*m), h),
        }
    }

    /// The user message with its handle; `None` for an internal one.
    pub(crate) fn into_user(self) -> Option<(T, Option<Handle>)> {
        match self {
            Delivery::User(t, h) => Some((t, h)),
            Delivery::Internal(..) => None,
        }
    }

    fn map_user<U>(self, f: impl FnOnce(T) -> U) -> Delivery<U> {
        match self {
            Delivery::User(t, h) => Delivery::User(f(t), h),
            Delivery::Internal(i, h) => Delivery::Internal(i, h),
        }
    }
}

// ---------------------------------------------------------------------------
// Sending
// ---------------------------------------------------------------------------

/// The send queue, shared by a channel's sending half (user messages) and
/// its receiving half (the replies it owes): every write to the socket
/// happens under this lock, so the two never interleave bytes. It is held
/// only while encoding and during non-blocking writes, never across a wait.
#[derive(Debug)]
pub(crate) struct SendState {
    out: Mutex<Outbox>,
}

impl SendState {
    /// The send queue of the channel on fd `fd` (for diagnostics).
    pub(crate) fn new(serialization: Serialization, limits: &Limits, fd: RawFd) -> SendState {
        SendState {
            out: Mutex::new(Outbox::new(serialization, limits.max_send_buffer, fd)),
        }
    }

    /// The queue. A panic while it was held leaves whole messages in it,
    /// so a poisoned lock is still usable.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Outbox> {
        self.out.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A write of a prefix of `bytes` (with `fd` attached, if given) that
/// never waits: how many bytes went out, or `WouldBlock`.
pub(crate) trait Write: FnMut(&[u8], Option<BorrowedFd<'_>>) -> io::Result<usize> {}
impl<F: FnMut(&[u8], Option<BorrowedFd<'_>>) -> io::Result<usize>> Write for F {}

/// Writes what the queue allows now through `write`. On an error the queue
/// is dropped: nothing in it can go out any more.
fn write_out(out: &mut Outbox, write: impl Write) -> Result<Progress> {
    out.write(write).map_err(|e| {
        out.clear();
        Error::from_send(e)
    })
}

/// What one sending half knows: whether the channel is closed for it, and
/// how much may be queued before a `feed` waits.
#[derive(Debug, Clone)]
pub(crate) struct SendHalf {
    closed: bool,
    max_queued: usize,
}

impl SendHalf {
    pub(crate) fn new(limits: &Limits) -> SendHalf {
        SendHalf {
            closed: false,
            max_queued: limits.max_send_buffer,
        }
    }

    /// Whether this half may not send any more (it disconnected, or a
    /// write failed).
    pub(crate) fn is_closed(&self) -> bool {
        self.closed
    }

    /// Whether a message may be queued in `out` now: there is room, or
    /// this half is closed (which [`queue`](Self::queue) reports). If not,
    /// the driver flushes first (backpressure, `Limits::max_send_buffer`).
    pub(crate) fn has_room(&self, out: &Outbox) -> bool {
        let room = self.closed || out.len() < self.max_queued;
        if !room {
            event!(
                debug,
                out.fd(),
                queued = out.len(),
                limit = self.max_queued,
                "send buffer full (Limits::max_send_buffer): waiting for the peer to read"
            );
        }
        room
    }

    /// Queues `msg` (with `handle`'s fd on its first byte, wrapped in
    /// `NODE_HANDLE`), and writes through `write` once a batch has built
    /// up.
    pub(crate) fn queue<T: Serialize + ?Sized>(
        &mut self,
        out: &mut Outbox,
        msg: &T,
        handle: Option<OutgoingHandle>,
        write: impl Write,
    ) -> Result<()> {
        if self.closed {
            return Err(Error::Disconnected);
        }
        match handle {
            None => out.push(msg)?,
            Some(h) => out.push_handle(msg, h)?,
        }
        if out.batch_ready() {
            self.write(out, write)?;
        }
        Ok(())
    }

    /// Writes what the queue allows now through `write`: refused once this
    /// half knows the channel is closed, and an error closes it.
    pub(crate) fn write(&mut self, out: &mut Outbox, write: impl Write) -> Result<Progress> {
        if self.closed {
            return Err(Error::Disconnected);
        }
        let written = write_out(out, write);
        self.closed = written.is_err();
        written
    }

    /// After a disconnect: nothing more goes out.
    pub(crate) fn close(&mut self) {
        self.closed = true;
    }
}

/// A dropped sending half's last write, best effort (nobody is left to
/// hear about a failure): whether anything is left for a later try.
#[cfg(feature = "tokio")]
pub(crate) fn write_left(send: &SendState, write: impl Write) -> bool {
    matches!(
        write_out(&mut send.lock(), write),
        Ok(Progress::WouldBlock | Progress::AwaitingAck)
    )
}

// ---------------------------------------------------------------------------
// Receiving
// ---------------------------------------------------------------------------

/// A message read ahead (while a send waited for an ACK), kept in a form
/// any `T` can be read from later.
#[derive(Debug)]
enum Raw {
    Json(Box<RawValue>),
    V8(Value),
}

/// A message read ahead (or the error in its place), with what it costs
/// against `Limits::max_read_ahead`.
#[derive(Debug)]
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

/// Who reads ahead while a send waits for an ACK, which decides what
/// happens to the user messages read on the way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reader {
    /// The unsplit channel's send: its caller holds the receiving half,
    /// so nobody else can take what is kept; past the bound the send
    /// fails with [`Error::ReadAheadFull`].
    Unsplit,
    /// A split sending half while its receiving half lives: past the
    /// bound it waits for the receiving half to take messages.
    Split,
    /// A sending half whose receiving half is gone: user messages are
    /// dropped (nobody can receive them; their handles are closed).
    Alone,
}

impl Reader {
    /// Who reads for a send: the unsplit channel's (`unsplit`), else a
    /// split sending half, alone once its receiving half is gone.
    pub(crate) fn of(unsplit: bool, receiver_gone: bool) -> Reader {
        match (unsplit, receiver_gone) {
            (true, _) => Reader::Unsplit,
            (false, true) => Reader::Alone,
            (false, false) => Reader::Split,
        }
    }
}

/// What a sender waiting for an ACK does next (see [`RecvCore::ack_step`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AckStep {
    /// Something was read or decoded: try writing again.
    Retry,
    /// Nothing to read now: wait until the socket is readable (or the
    /// receiving half acted on the answer).
    WaitReadable,
    /// The read-ahead queue is full: wait for the receiving half to take
    /// messages (or act on the answer).
    WaitReceiver,
}

/// What a driver's read brought.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Filled {
    /// Bytes (or only fds).
    Data,
    /// The end of the stream: the peer closed its end, or reset it.
    Eof,
}

/// The receiving state of a channel: bytes and fds in, messages out.
#[derive(Debug)]
pub(crate) struct RecvCore {
    buf: ReadBuffer,
    framing: Framing,
    limits: Limits,
    /// The channel's fd (for diagnostics).
    fd: RawFd,
    inbox: inbox::Inbox,
    stash: VecDeque<Stashed>,
    /// What the messages in `stash` cost (see [`Stashed::cost`]).
    stashed_bytes: usize,
    /// How many of them hold a handle.
    stashed_fds: usize,
    /// Their length on the wire.
    stashed_len: usize,
    eof: bool,
    /// Replies were queued by decoding and may not be written yet.
    replies_pending: bool,
    /// A message was taken out of the read-ahead queue since the last
    /// [`answer`](Self::answer).
    stash_popped: bool,
    /// A hand-over to the receiving half is worth trying: bytes arrived
    /// or an internal message was decoded since the last try (so each
    /// pending byte is looked at a bounded number of times).
    hand_over_armed: bool,
}

impl RecvCore {
    /// The receive state of the channel on fd `fd` (for diagnostics).
    pub(crate) fn new(serialization: Serialization, limits: Limits, fd: RawFd) -> RecvCore {
        event!(debug, fd, %serialization, "channel open");
        let framing = Framing::new(serialization);
        RecvCore {
            buf: ReadBuffer::new(framing.max_buffered(&limits)),
            framing,
            limits,
            fd,
            inbox: inbox::Inbox::new(limits.max_pending_fds),
            stash: VecDeque::new(),
            stashed_bytes: 0,
            stashed_fds: 0,
            stashed_len: 0,
            eof: false,
            replies_pending: false,
            stash_popped: false,
            hand_over_armed: false,
        }
    }

    /// Bytes received and not yet returned as messages: in the buffer, and
    /// those of the messages read ahead.
    pub(crate) fn buffered(&self) -> usize {
        self.buf.pending_len() + self.stashed_len
    }

    /// How many messages wait in the read-ahead queue.
    pub(crate) fn read_ahead_len(&self) -> usize {
        self.stash.len()
    }

    /// Drops what was read ahead for a receiving half that is gone (the
    /// handles in it are closed).
    pub(crate) fn drop_read_ahead(&mut self) {
        self.stash.clear();
        self.stashed_bytes = 0;
        self.stashed_fds = 0;
        self.stashed_len = 0;
    }

    /// Whether replies wait for room in the socket: the driver waits for
    /// "writable" too, and then calls [`answer`](Self::answer).
    pub(crate) fn wants_write(&self) -> bool {
        self.replies_pending
    }

    /// Reads once through `recv`, which appends bytes to the buffer it is
    /// given (into its spare capacity) and fds to the `Vec`. Its errors
    /// come back as they are (`WouldBlock`: nothing to read), except a
    /// reset, which is a gone peer like the end of the stream.
    pub(crate) fn read(
        &mut self,
        recv: impl FnOnce(&mut Vec<u8>, &mut Vec<OwnedFd>) -> io::Result<Received>,
    ) -> io::Result<Filled> {
        let start = self.buf.received();
        let mut fds = Vec::new();
        let r = match recv(self.buf.read_buf(), &mut fds) {
            Ok(r) => r,
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {
                event!(debug, self.fd, offset = start, "the peer reset the channel");
                self.eof = true;
                return Ok(Filled::Eof);
            }
            Err(e) => return Err(e),
        };
        self.inbox.arrived(start, start + r.len as u64, fds);
        if r.truncated {
            // Reported when decoding reaches this read, after the messages
            // before it. The fds that did arrive are there: a handle
            // message takes the first, as usual.
            self.inbox.cut_off(start, start + r.len as u64);
        }
        if r.len == 0 {
            event!(
                debug,
                self.fd,
                offset = start,
                "the peer closed the channel"
            );
            self.eof = true;
            return Ok(Filled::Eof);
        }
        self.hand_over_armed = true;
        Ok(Filled::Data)
    }

    /// The next message from what has been received, with its handle:
    /// `Some(Ok(None))` at the end of the stream (after the errors for
    /// what is left there), `None` when the driver must read. Messages of
    /// the handle protocol are acted on here (through `send`) and returned
    /// as internal ones. A run of plain user messages after the one
    /// returned may move to `ready` (the receiving half's, used up: see
    /// [`Ready`]).
    #[inline]
    pub(crate) fn next<T: DeserializeOwned>(
        &mut self,
        ready: &mut Ready,
        send: &SendState,
    ) -> Option<Result<Option<Delivery<T>>>> {
        if let Some(s) = self.stash.pop_front() {
            self.stashed_bytes -= s.cost;
            self.stashed_fds -= usize::from(s.fd);
            self.stashed_len -= s.len;
            self.stash_popped = true;
            let limits = self.limits.with_max_message_len(s.len);
            return Some(
                s.item
                    .and_then(|(offset, d)| typed(d, offset, &limits).map(Some))
                    .inspect_err(|e| skipped(self.fd, e)),
            );
        }
        if let Some(d) = self.decode::<T>(send) {
            // What follows it may be a run for the receiving half.
            self.hand_over(ready);
            return Some(d.map(|(_, d)| Some(d)).inspect_err(|e| skipped(self.fd, e)));
        }
        if self.eof {
            return Some(self.finish().map(|()| None));
        }
        None
    }

    /// Moves the run of plain user messages at the front of the buffer to
    /// `ready` (see [`Ready`]), if there is one and no fd is pending (an fd
    /// belongs to a message by its place in the stream).
    fn hand_over(&mut self, ready: &mut Ready) {
        if !std::mem::take(&mut self.hand_over_armed)
            || !self.inbox.is_empty()
            || !ready.is_empty()
            || !self.buf.may_hand_over()
        {
            return;
        }
        let n = self.framing.plain_run(&self.buf, &self.limits);
        if n > 0 {
            ready.take_over(&mut self.buf, n, &self.framing, &self.limits, self.fd);
        }
    }

    /// At end of stream: what is left is an error (a partial message, an
    /// fd nobody claimed).
    fn finish(&mut self) -> Result<()> {
        self.framing.finish(&mut self.buf)?;
        self.inbox.finish()
    }

    /// One step of a send that waits for an ACK, on the receiving side:
    /// decodes what is buffered (keeping user messages for the receiving
    /// half, as `reader` says, and acting on the handle protocol: an ACK
    /// lets the queue go), else reads once through `recv` (non-blocking).
    ///
    /// # Errors
    ///
    /// [`Error::Disconnected`] at the end of the stream (no ACK can come),
    /// [`Error::ReadAheadFull`] when the queue is full and `reader` is
    /// [`Reader::Unsplit`], or the read's error.
    pub(crate) fn ack_step(
        &mut self,
        send: &SendState,
        reader: Reader,
        recv: impl FnOnce(&mut Vec<u8>, &mut Vec<OwnedFd>) -> io::Result<Received>,
    ) -> Result<AckStep> {
        if reader == Reader::Alone {
            // Kept for a receiving half that has gone since.
            self.drop_read_ahead();
        }
        if self.read_ahead(send, reader) {
            return Ok(AckStep::Retry);
        }
        if self.eof {
            return Err(Error::Disconnected);
        }
        if self.full() {
            event!(
                debug,
                self.fd,
                bytes = self.stashed_bytes,
                handles = self.stashed_fds,
                "read-ahead full (Limits::max_read_ahead): a send waiting for an ACK stops reading"
            );
            return match reader {
                Reader::Unsplit => Err(Error::ReadAheadFull {
                    limit: self.limits.max_read_ahead,
                    fds: self.limits.max_pending_fds,
                }),
                _ => Ok(AckStep::WaitReceiver),
            };
        }
        match self.read(recv) {
            Ok(_) => Ok(AckStep::Retry),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(AckStep::WaitReadable),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(AckStep::Retry),
            Err(e) => Err(e.into()),
        }
    }

    /// Whether the read-ahead queue is at its bound: `Limits::max_read_ahead`
    /// bytes, or `Limits::max_pending_fds` handles (each an open fd).
    fn full(&self) -> bool {
        self.stashed_bytes >= self.limits.max_read_ahead
            || self.stashed_fds >= self.limits.max_pending_fds
    }

    /// After [`next`](Self::next): writes the replies the last messages
    /// queued through `write`, if any, and says whether a sender waiting
    /// for an ACK should be woken (an ACK may have been acted on, or room
    /// made in the read-ahead queue). A failed write is the sender's to
    /// report; replies are best effort, as in Node.
    pub(crate) fn answer(&mut self, send: &SendState, write: impl Write) -> bool {
        let wake = std::mem::take(&mut self.stash_popped);
        if !self.replies_pending {
            return wake;
        }
        let progress = write_out(&mut send.lock(), write);
        self.replies_pending = matches!(progress, Ok(Progress::WouldBlock));
        true
    }

    /// Keeps `s` for a later `next`, counting its cost.
    fn stash(&mut self, s: Stashed) {
        self.stashed_bytes += s.cost;
        self.stashed_fds += usize::from(s.fd);
        self.stashed_len += s.len;
        self.stash.push_back(s);
    }

    /// Decodes everything buffered into the read-ahead queue (user
    /// messages only while a receiving half can take them), acting on the
    /// handle protocol's messages. Whether anything was decoded.
    fn read_ahead(&mut self, send: &SendState, reader: Reader) -> bool {
        let mut any = false;
        while !self.full() {
            let before = self.buf.offset();
            let next = match self.framing {
                Framing::Json(_) => self
                    .decode::<Box<RawValue>>(send)
                    .map(|r| r.map(|(o, d)| (o, d.map_user(Raw::Json)))),
                Framing::V8(_) => self
                    .decode::<Value>(send)
                    .map(|r| r.map(|(o, d)| (o, d.map_user(Raw::V8)))),
            };
            let Some(item) = next else { return any };
            any = true;
            if reader == Reader::Alone {
                // Acted on already; nobody is left to receive it.
                continue;
            }
            // The message's bytes, or those an error skipped: a flood of
            // bad messages counts too.
            let len = usize::try_from(self.buf.offset() - before).unwrap_or(usize::MAX);
            let held = match &item {
                Ok((_, Delivery::User(Raw::V8(v), _))) => v.held_bytes(),
                _ => 0,
            };
            let cost = len.saturating_add(held).saturating_add(STASH_ENTRY_COST);
            let fd = matches!(
                &item,
                Ok((
                    _,
                    Delivery::User(_, Some(_)) | Delivery::Internal(_, Some(_))
                ))
            );
            self.stash(Stashed {
                item,
                len,
                cost,
                fd,
            });
        }
        any
    }

    /// The next message decoded from the buffer, with its offset.
    #[inline]
    fn decode<T: DeserializeOwned>(
        &mut self,
        send: &SendState,
    ) -> Option<Result<(u64, Delivery<T>)>> {
        let next = self.buf.offset();
        if let Err(e) = self
            .inbox
            .take_refused()
            .and_then(|()| self.inbox.take_cut_off(next))
            .and_then(|()| self.inbox.drop_strays(next))
        {
            return Some(Err(e));
        }
        let decoded = match &mut self.framing {
            Framing::Json(l) => l
                .decode(&mut self.buf, &self.limits)?
                .and_then(|f| Ok((f.offset(), Incoming::from_json(f)?))),
            Framing::V8(fr) => fr
                .decode(&mut self.buf, &self.limits)?
                .and_then(|f| Ok((f.offset(), Incoming::from_v8(f)?))),
        };
        let (offset, incoming) = match decoded {
            Ok(x) => x,
            Err(e) => return Some(Err(e)),
        };
        let delivery = match incoming {
            // The hot path: no lock.
            Incoming::User(t) => return Some(Ok((offset, Delivery::User(t, None)))),
            Incoming::Internal(m) => inbox::on_internal(&mut send.lock(), &m)
                .map(|()| (offset, Delivery::Internal(m, None))),
            Incoming::Handle(w) => {
                let fd = self.inbox.claim(offset);
                let ty = HandleType::from_name(&w.name);
                inbox::answer_handle(&mut send.lock(), offset, w.layers, ty, &w.name, fd)
                    .and_then(|handle| Ok((offset, Delivery::new(w.msg?, Some(handle)))))
            }
        };
        // It may have queued a reply or let our queue go: the driver
        // writes, and wakes a sender waiting for an ACK.
        self.replies_pending = true;
        self.hand_over_armed = true;
        Some(delivery)
    }
}

/// Reports a message the receiver gets as an error and goes past.
#[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
fn skipped(fd: RawFd, e: &Error) {
    event!(debug, fd, error = %e, "message skipped");
}

/// The channel's socket closes with its receive state (both halves gone).
#[cfg(feature = "tracing")]
impl Drop for RecvCore {
    fn drop(&mut self) {
        event!(
            debug,
            self.fd,
            received = self.buf.received(),
            "channel closed"
        );
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
        Delivery::Internal(i, h) => Delivery::Internal(i, h),
        Delivery::User(Raw::Json(raw), h) => {
            Delivery::User(json::Frame::new(raw.get().as_bytes(), offset).parse()?, h)
        }
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

// ---------------------------------------------------------------------------
// Waiting
// ---------------------------------------------------------------------------

/// The busy-poll policy of a receiver that found nothing to read: poll
/// again (yielding the CPU between tries) until `spin` has passed, then
/// sleep. Why: see `Receiver::set_busy_poll`.
#[derive(Debug)]
pub(crate) struct BusyPoll {
    until: Option<Instant>,
    spin: Duration,
}

impl BusyPoll {
    /// The policy for one wait of a receiver polling for `spin`.
    pub(crate) fn new(spin: Duration) -> BusyPoll {
        BusyPoll { until: None, spin }
    }

    /// Something arrived: the next wait polls for the whole `spin` again
    /// (a large message arrives in many reads; each wait between them is
    /// one wait).
    pub(crate) fn restart(&mut self) {
        self.until = None;
    }

    /// Whether to try again now (after yielding) rather than sleep.
    pub(crate) fn spin(&mut self) -> bool {
        if self.spin.is_zero() {
            return false;
        }
        let until = *self.until.get_or_insert_with(|| Instant::now() + self.spin);
        Instant::now() < until
    }
}
