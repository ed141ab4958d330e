//! The same channel on blocking std I/O, for tools that have no async
//! runtime (no tokio needed: build with `default-features = false`).
//!
//! ```no_run
//! // A Rust child of a Node parent that answers every message.
//! let mut channel = nodeipc::blocking::Channel::from_env()?;
//! while let Some(msg) = channel.recv::<serde_json::Value>()? {
//!     channel.send(&msg)?;
//! }
//! # Ok::<(), nodeipc::Error>(())
//! ```
//!
//! # How it waits
//!
//! The socket is non-blocking underneath; each half sleeps in `poll(2)`
//! when it has to wait, as the async channel sleeps in tokio. That lets
//! the receiving half write the `NODE_HANDLE_ACK`s it owes without ever
//! blocking on a full socket (two processes each stuck writing to the
//! other would deadlock). The ACK of a handle we sent is read by whoever
//! is free, as in the async channel: the [`Receiver`] if it is receiving
//! (it holds the receive state while it sleeps, and wakes the [`Sender`]
//! when it acts on the ACK), else the `Sender` itself, which keeps what
//! else it reads for the next `recv`. So `send_with_handle` never depends
//! on another thread's `recv`.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, TryLockError};
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::core::{
    AckStep, BusyPoll, DEFAULT_BUSY_POLL, Delivery, Outbox, Progress, Reader, Ready, RecvCore,
    SendHalf, SendState,
};
use crate::codec::Serialization;
use crate::error::Result;
use crate::handle::{Handle, OutgoingHandle, SendHandle};
use crate::limits::Limits;
use crate::message::Message;
use crate::sys;

/// How long a [`Sender`] waiting for an ACK sleeps before it looks again
/// whether the receive state is free for it to read the ACK itself. The
/// receiving half wakes it at once when it acts on the ACK; this only
/// bounds the case where that half stops receiving while the sender
/// waits.
const ACK_RECHECK: Duration = Duration::from_millis(1);

/// What the two halves of one channel share.
#[derive(Debug)]
struct Shared {
    /// Non-blocking; waits are `poll(2)`s.
    io: UnixStream,
    send: SendState,
    /// Held by whoever reads: the [`Receiver`] (also while it sleeps), or
    /// a [`Sender`] reading an ACK.
    recv: Mutex<RecvCore>,
    /// Notified when the receiving half acted on the handle protocol or
    /// took messages out of the read-ahead queue.
    answered: Condvar,
    /// The receiving half is gone.
    rx_gone: AtomicBool,
}

impl Shared {
    /// The receive state; a poisoned lock is still usable (see the tokio
    /// driver).
    fn recv(&self) -> MutexGuard<'_, RecvCore> {
        self.recv.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The receive state if nobody holds it.
    fn try_recv(&self) -> Option<MutexGuard<'_, RecvCore>> {
        match self.recv.try_lock() {
            Ok(r) => Some(r),
            Err(TryLockError::Poisoned(e)) => Some(e.into_inner()),
            Err(TryLockError::WouldBlock) => None,
        }
    }

    fn try_send(&self, bytes: &[u8], fd: Option<BorrowedFd<'_>>) -> io::Result<usize> {
        super::send_some(self.io.as_fd(), bytes, fd)
    }

    fn try_read(&self, buf: &mut Vec<u8>, fds: &mut Vec<OwnedFd>) -> io::Result<sys::Received> {
        sys::recv_with_fds(&self.io, buf, fds, true)
    }

    /// Writes the replies `rx` owes and wakes a waiting sender if needed.
    fn answer(&self, rx: &mut RecvCore) {
        if rx.answer(&self.send, |b, fd| self.try_send(b, fd)) {
            self.answered.notify_all();
        }
    }

    /// Writes every queued message to the kernel, with the queue's lock
    /// held (released while waiting); see the tokio driver's `flush`.
    fn flush<'a>(
        &'a self,
        half: &mut SendHalf,
        mut out: MutexGuard<'a, Outbox>,
        unsplit: bool,
    ) -> Result<MutexGuard<'a, Outbox>> {
        loop {
            match half.write(&mut out, |b, fd| self.try_send(b, fd))? {
                Progress::Done => return Ok(out),
                Progress::WouldBlock => {
                    drop(out);
                    sys::wait(&self.io, false, true)?;
                }
                Progress::AwaitingAck => match self.try_recv() {
                    Some(mut rx) => {
                        // Nobody is receiving: read the answer here.
                        drop(out);
                        let reader = Reader::of(unsplit, self.rx_gone.load(Ordering::SeqCst));
                        let step = rx.ack_step(&self.send, reader, |b, f| self.try_read(b, f));
                        self.answer(&mut rx);
                        match step? {
                            AckStep::Retry => {}
                            // Messages wait for the receiving half: let it
                            // have them, and look again later.
                            AckStep::WaitReadable
                                if reader == Reader::Split && rx.read_ahead_len() > 0 =>
                            {
                                drop(rx);
                                out = self.wait_answer(self.send.lock());
                                continue;
                            }
                            // We are the reader: sleep on the socket.
                            AckStep::WaitReadable => drop(sys::wait(&self.io, true, false)?),
                            AckStep::WaitReceiver => {
                                drop(rx);
                                out = self.wait_answer(self.send.lock());
                                continue;
                            }
                        }
                    }
                    // The receiving half reads, and wakes us when it acts
                    // on the answer.
                    None => {
                        out = self.wait_answer(out);
                        continue;
                    }
                },
            }
            out = self.send.lock();
        }
    }

    /// Sleeps until the receiving half acts on an answer (at most
    /// [`ACK_RECHECK`]).
    fn wait_answer<'a>(&self, out: MutexGuard<'a, Outbox>) -> MutexGuard<'a, Outbox> {
        self.answered
            .wait_timeout(out, ACK_RECHECK)
            .unwrap_or_else(|e| e.into_inner())
            .0
    }
}

channel_type!(
    /// A blocking IPC channel; the same protocol and guarantees as the async
    /// [`crate::Channel`].
);

impl Channel {
    /// Wraps a connected unix stream socket (switched to non-blocking mode:
    /// this channel waits in `poll(2)`, see the [module docs](self)).
    pub fn from_fd(fd: OwnedFd, serialization: Serialization, limits: Limits) -> Result<Channel> {
        Channel::assemble(fd, &limits, |fd| {
            let raw = fd.as_raw_fd();
            Ok(Shared {
                io: UnixStream::from(fd),
                send: SendState::new(serialization, &limits, raw),
                recv: Mutex::new(RecvCore::new(serialization, limits, raw)),
                answered: Condvar::new(),
                rx_gone: AtomicBool::new(false),
            })
        })
    }

    channel_constructors!();

    /// See [`Sender::send`].
    pub fn send<T: Serialize + ?Sized>(&mut self, msg: &T) -> Result<()> {
        self.tx.feed_with(msg, None, true)?;
        self.flush()
    }

    /// See [`Sender::send_with_handle`].
    pub fn send_with_handle<T: Serialize + ?Sized>(
        &mut self,
        msg: &T,
        handle: impl SendHandle,
    ) -> Result<()> {
        self.tx
            .feed_with(msg, Some(handle.into_outgoing()?), true)?;
        self.flush()
    }

    /// See [`Sender::feed`].
    pub fn feed<T: Serialize + ?Sized>(&mut self, msg: &T) -> Result<()> {
        self.tx.feed_with(msg, None, true)
    }

    /// See [`Sender::flush`].
    pub fn flush(&mut self) -> Result<()> {
        self.tx.flush_as(true)
    }

    /// See [`Receiver::recv`].
    pub fn recv<T: DeserializeOwned>(&mut self) -> Result<Option<T>> {
        self.rx.recv()
    }

    /// See [`Receiver::recv_with_handle`].
    pub fn recv_with_handle<T: DeserializeOwned>(&mut self) -> Result<Option<(T, Option<Handle>)>> {
        self.rx.recv_with_handle()
    }

    /// See [`Receiver::set_busy_poll`].
    pub fn set_busy_poll(&mut self, spin: Duration) {
        self.rx.set_busy_poll(spin);
    }

    /// See [`Receiver::recv_message`].
    pub fn recv_message<T: DeserializeOwned>(&mut self) -> Result<Option<Message<T>>> {
        self.rx.recv_message()
    }

    /// See [`Receiver::recv_message_with_handle`].
    pub fn recv_message_with_handle<T: DeserializeOwned>(
        &mut self,
    ) -> Result<Option<(Message<T>, Option<Handle>)>> {
        self.rx.recv_message_with_handle()
    }

    /// Writes out everything queued, then closes the channel.
    pub fn disconnect(mut self) -> Result<()> {
        self.flush()
    }
}

/// The sending half of a blocking [`Channel`].
///
/// `send` returns once the message is in the kernel; `feed` queues and
/// writes in batches; `flush` writes the queue. Dropping a `Sender` flushes
/// what is queued (blocking until the peer has room, ignoring errors; not
/// while a panic unwinds), so with the blocking channel even fed messages
/// survive a normal exit; only `std::process::exit` without a `flush` loses
/// them. A peer that never reads makes that drop wait: `flush` explicitly
/// where that matters.
///
/// After [`send_with_handle`](Self::send_with_handle), later messages wait
/// for the peer's ACK, as in Node (see [`crate::Sender`]); this half reads
/// the ACK itself when the [`Receiver`] is not receiving at the moment, so
/// it never depends on another thread's `recv` (see the
/// [module docs](self)), keeping the messages it reads on the way for the
/// `Receiver`. Once `Limits::max_read_ahead` of them wait, it waits for the
/// `Receiver` to take some: with both halves on one thread, that is
/// forever (the unsplit [`Channel`] fails with
/// [`Error::ReadAheadFull`](crate::Error::ReadAheadFull) instead).
#[derive(Debug)]
pub struct Sender {
    shared: Arc<Shared>,
    half: SendHalf,
}

impl Sender {
    /// Sends `msg` and returns once it (and everything queued before it) is
    /// in the kernel.
    pub fn send<T: Serialize + ?Sized>(&mut self, msg: &T) -> Result<()> {
        self.feed(msg)?;
        self.flush()
    }

    /// Sends `msg` with a socket or server: Node's `send(msg, handle)`,
    /// as [`crate::Sender::send_with_handle`] (the same rules for what is
    /// closed and what is kept). Returns once the message and its fd are
    /// in the kernel.
    ///
    /// ```no_run
    /// # fn demo(channel: &mut nodeipc::blocking::Channel) -> nodeipc::Result<()> {
    /// let listener = std::net::TcpListener::bind("127.0.0.1:8080")?;
    /// channel.send_with_handle(&"server", &listener)?; // keeps `listener`
    /// # Ok(()) }
    /// ```
    pub fn send_with_handle<T: Serialize + ?Sized>(
        &mut self,
        msg: &T,
        handle: impl SendHandle,
    ) -> Result<()> {
        self.feed_with(msg, Some(handle.into_outgoing()?), false)?;
        self.flush()
    }

    /// Queues `msg`; writes when about 64 KiB have built up, and waits for
    /// the peer when more than [`Limits::max_send_buffer`] bytes are queued.
    pub fn feed<T: Serialize + ?Sized>(&mut self, msg: &T) -> Result<()> {
        self.feed_with(msg, None, false)
    }

    fn feed_with<T: Serialize + ?Sized>(
        &mut self,
        msg: &T,
        handle: Option<OutgoingHandle>,
        unsplit: bool,
    ) -> Result<()> {
        let shared = &*self.shared;
        let mut out = shared.send.lock();
        if !self.half.has_room(&out) {
            out = shared.flush(&mut self.half, out, unsplit)?;
        }
        self.half
            .queue(&mut out, msg, handle, |b, fd| shared.try_send(b, fd))
    }

    /// Writes every queued message to the kernel.
    pub fn flush(&mut self) -> Result<()> {
        self.flush_as(false)
    }

    fn flush_as(&mut self, unsplit: bool) -> Result<()> {
        let shared = &*self.shared;
        shared
            .flush(&mut self.half, shared.send.lock(), unsplit)
            .map(drop)
    }

    /// Bytes queued but not yet written.
    pub fn queued(&self) -> usize {
        self.shared.send.lock().len()
    }

    /// Writes out everything queued, then ends the channel in this
    /// direction; see [`crate::Sender::disconnect`].
    pub fn disconnect(mut self) -> Result<()> {
        self.flush()?;
        super::shut_write(&mut self.half, &self.shared.io)
    }
}

/// Writes what is queued, waiting for the peer; after an error the channel
/// is closed (what is queued can never go out).
impl Drop for Sender {
    fn drop(&mut self) {
        // Not while unwinding: a stalled peer would turn a panic into a hang.
        if !self.half.is_closed() && !std::thread::panicking() {
            // Best effort: nobody is left to hear about a failure.
            let _ = self.flush();
        }
    }
}

/// The receiving half of a blocking [`Channel`].
///
/// It also answers the peer's handles (`NODE_HANDLE_ACK`), as
/// [`crate::Receiver`] does.
#[derive(Debug)]
pub struct Receiver {
    shared: Arc<Shared>,
    busy_poll: Duration,
    /// Messages handed to this half (see `core::Ready`), taken first.
    ready: Ready,
}

impl Receiver {
    /// The next user message; `Ok(None)` after a clean disconnect. Internal
    /// messages are skipped, and a handle that came with the message is
    /// closed. See [`crate::channel::Receiver::recv`].
    pub fn recv<T: DeserializeOwned>(&mut self) -> Result<Option<T>> {
        Ok(self.recv_with_handle()?.map(|(msg, _)| msg))
    }

    /// The next user message with the handle the peer sent with it, if
    /// any; see [`crate::Receiver::recv_with_handle`].
    ///
    /// ```no_run
    /// # fn demo(channel: &mut nodeipc::blocking::Channel) -> nodeipc::Result<()> {
    /// // Node parent: child.send('conn', socket)
    /// while let Some((msg, handle)) = channel.recv_with_handle::<String>()? {
    ///     if let Some(nodeipc::Handle::TcpStream(mut stream)) = handle {
    ///         stream.set_nonblocking(false)?; // it arrives non-blocking
    ///         std::io::Write::write_all(&mut stream, b"hello\n")?;
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub fn recv_with_handle<T: DeserializeOwned>(&mut self) -> Result<Option<(T, Option<Handle>)>> {
        loop {
            match self.next::<T>()? {
                Some(d) => match d.into_user() {
                    Some(user) => return Ok(Some(user)),
                    None => continue,
                },
                None => return Ok(None),
            }
        }
    }

    /// Bytes received and not yet returned as messages.
    pub fn buffered(&self) -> usize {
        self.ready.buffered() + self.shared.recv().buffered()
    }

    /// The next message, user or internal (a handle that came with one is
    /// closed).
    pub fn recv_message<T: DeserializeOwned>(&mut self) -> Result<Option<Message<T>>> {
        Ok(self.recv_message_with_handle()?.map(|(m, _)| m))
    }

    /// The next message, user or internal, with the handle that came with
    /// it; see [`crate::Receiver::recv_message_with_handle`].
    pub fn recv_message_with_handle<T: DeserializeOwned>(
        &mut self,
    ) -> Result<Option<(Message<T>, Option<Handle>)>> {
        Ok(self.next::<T>()?.map(Delivery::into_message))
    }

    /// How long `recv` polls before it sleeps in the kernel; see
    /// [`crate::Receiver::set_busy_poll`] (the same default and reasons).
    pub fn set_busy_poll(&mut self, spin: Duration) {
        self.busy_poll = spin;
    }

    fn next<T: DeserializeOwned>(&mut self) -> Result<Option<Delivery<T>>> {
        if let Some(d) = self.ready.next::<T>() {
            return d.map(Some);
        }
        let shared = &*self.shared;
        let mut rx = shared.recv();
        let mut spin = BusyPoll::new(self.busy_poll);
        loop {
            if let Some(d) = rx.next::<T>(&mut self.ready, &shared.send) {
                shared.answer(&mut rx);
                return d;
            }
            match rx.read(|b, f| shared.try_read(b, f)) {
                Ok(_) => spin.restart(),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() != io::ErrorKind::WouldBlock => return Err(e.into()),
                Err(_) if spin.spin() => std::thread::yield_now(),
                Err(_) => {
                    let replies = rx.wants_write();
                    if sys::wait(&shared.io, true, replies)? && replies {
                        shared.answer(&mut rx);
                    }
                }
            }
        }
    }
}

/// A sender waiting for an ACK reads it alone from now on.
impl Drop for Receiver {
    fn drop(&mut self) {
        self.shared.rx_gone.store(true, Ordering::SeqCst);
        // What was read ahead for it goes (its handles closed); a sender
        // that holds the state now drops it on its next step.
        if let Some(mut rx) = self.shared.try_recv() {
            rx.drop_read_ahead();
        }
        self.shared.answered.notify_all();
    }
}
