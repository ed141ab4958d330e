//! The same channel on blocking std I/O, for tools that have no async
//! runtime.
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
//! other would deadlock), and a [`Sender`] whose handle waits for the
//! peer's ACK read the answer itself when nobody is receiving: the
//! receive state lives with the channel, not with the [`Receiver`], so
//! `send_with_handle` never waits on a `Receiver` that is not being
//! polled (what read ahead is kept for the next `recv`).

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, TryLockError};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::codec::Serialization;
use crate::error::{Error, Result};
use crate::handle::outbox::{Outbox, Progress};
use crate::handle::{Handle, OutgoingHandle, SendHandle};
use crate::limits::Limits;
use crate::message::Message;
use crate::protocol::{self, Delivery, RecvState, SendState};
use crate::sys;

/// How long a [`Sender`] waiting for an ACK sleeps before it looks again
/// whether the receiving side is free for it to read the ACK itself. The
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
    /// Whoever reads: the [`Receiver`], or a [`Sender`] reading an ACK.
    recv: Mutex<Reading>,
    /// Notified (with the send queue's lock) when a message of the handle
    /// protocol was acted on, or the end of the stream was seen.
    answered: Condvar,
    /// The end of the stream was seen: no ACK can arrive any more.
    deaf: AtomicBool,
}

#[derive(Debug)]
struct Reading {
    state: RecvState,
    eof: bool,
}

impl Shared {
    /// The receive state. A panic while it was held (in a `Deserialize`
    /// impl, say) leaves it consistent, so a poisoned lock is still usable.
    fn reading(&self) -> MutexGuard<'_, Reading> {
        self.recv.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes what the queue allows now, without waiting.
    fn write_now(&self, out: &mut Outbox) -> Result<Progress> {
        protocol::write_out(out, |bytes, fd| {
            protocol::send_some(self.io.as_fd(), bytes, fd)
        })
    }

    /// Writes the replies the last messages queued, and wakes a sender
    /// waiting for an ACK.
    fn answer(&self, reading: &mut Reading) {
        if !reading.state.control_pending {
            return;
        }
        let mut out = self.send.lock();
        // A failed write is the sender's to report; replies are best
        // effort, as in Node.
        let progress = self.write_now(&mut out);
        reading.state.control_pending = matches!(progress, Ok(Progress::WouldBlock));
        self.answered.notify_all();
    }

    /// Reads once into the decoder's buffer (with any fds that came
    /// along), polling without sleeping for `busy_poll` first; while
    /// replies wait for room in the socket, writes them when it has.
    fn fill(&self, reading: &mut Reading, busy_poll: Duration) -> Result<()> {
        let mut spin_until = None;
        loop {
            match reading.state.read(self.io.as_fd(), true) {
                Ok(0) => break,
                Ok(_) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let until = *spin_until.get_or_insert_with(|| Instant::now() + busy_poll);
                    if Instant::now() < until {
                        std::thread::yield_now();
                        continue;
                    }
                    let pending = reading.state.control_pending;
                    if sys::wait(&self.io, true, pending)? && pending {
                        self.answer(reading);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // A reset peer is a gone peer: report it like EOF.
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => break,
                Err(e) => return Err(e.into()),
            }
        }
        reading.eof = true;
        let _out = self.send.lock();
        self.deaf.store(true, Ordering::SeqCst);
        self.answered.notify_all();
        Ok(())
    }
}

/// A blocking IPC channel; the same protocol and guarantees as the async
/// [`crate::Channel`].
#[derive(Debug)]
pub struct Channel {
    tx: Sender,
    rx: Receiver,
}

impl Channel {
    /// Wraps a connected unix stream socket (switched to non-blocking mode:
    /// this channel waits in `poll(2)`, see the [module docs](self)).
    pub fn from_fd(fd: OwnedFd, serialization: Serialization, limits: Limits) -> Result<Channel> {
        sys::prepare_channel(fd.as_fd())?;
        let shared = Arc::new(Shared {
            io: UnixStream::from(fd),
            send: SendState::new(serialization, &limits),
            recv: Mutex::new(Reading {
                state: RecvState::new(serialization, limits),
                eof: false,
            }),
            answered: Condvar::new(),
            deaf: AtomicBool::new(false),
        });
        Ok(Channel {
            tx: Sender {
                shared: shared.clone(),
                limits,
                closed: false,
            },
            rx: Receiver {
                shared,
                busy_poll: crate::Receiver::DEFAULT_BUSY_POLL,
            },
        })
    }

    /// Two connected channels in this process.
    pub fn pair() -> Result<(Channel, Channel)> {
        let (a, b) = sys::stream_pair()?;
        Ok((
            Channel::from_fd(a, Serialization::Json, Limits::default())?,
            Channel::from_fd(b, Serialization::Json, Limits::default())?,
        ))
    }

    /// Adopts the channel a Node parent made; see [`crate::child`].
    pub fn from_env() -> Result<Channel> {
        Self::from_env_with_limits(Limits::default())
    }

    /// [`from_env`](Self::from_env) with the given limits.
    pub fn from_env_with_limits(limits: Limits) -> Result<Channel> {
        let (fd, serialization) = crate::child::inherited_channel()?;
        Channel::from_fd(fd, serialization, limits)
    }

    /// Splits into halves that can be used from different threads.
    pub fn split(self) -> (Sender, Receiver) {
        (self.tx, self.rx)
    }

    /// See [`Sender::send`].
    pub fn send<T: Serialize + ?Sized>(&mut self, msg: &T) -> Result<()> {
        self.tx.send(msg)
    }

    /// See [`Sender::send_with_handle`].
    pub fn send_with_handle<T: Serialize + ?Sized>(
        &mut self,
        msg: &T,
        handle: impl SendHandle,
    ) -> Result<()> {
        self.tx.send_with_handle(msg, handle)
    }

    /// See [`Sender::feed`].
    pub fn feed<T: Serialize + ?Sized>(&mut self, msg: &T) -> Result<()> {
        self.tx.feed(msg)
    }

    /// See [`Sender::flush`].
    pub fn flush(&mut self) -> Result<()> {
        self.tx.flush()
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

    /// Writes out everything queued, then closes the channel.
    pub fn disconnect(mut self) -> Result<()> {
        self.tx.flush()
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
/// [module docs](self)).
#[derive(Debug)]
pub struct Sender {
    shared: Arc<Shared>,
    limits: Limits,
    closed: bool,
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
        let handle = handle.into_outgoing()?;
        self.feed_with(msg, Some(handle))?;
        self.flush()
    }

    /// Queues `msg`; writes when about 64 KiB have built up, and waits for
    /// the peer when more than [`Limits::max_send_buffer`] bytes are queued.
    pub fn feed<T: Serialize + ?Sized>(&mut self, msg: &T) -> Result<()> {
        self.feed_with(msg, None)
    }

    fn feed_with<T: Serialize + ?Sized>(
        &mut self,
        msg: &T,
        handle: Option<OutgoingHandle>,
    ) -> Result<()> {
        if self.closed {
            return Err(Error::Disconnected);
        }
        let shared = &*self.shared;
        let mut out = shared.send.lock();
        if out.len() >= self.limits.max_send_buffer {
            out = flush_locked(shared, &mut self.closed, out)?;
        }
        match handle {
            None => out.push(msg)?,
            Some(h) => out.push_handle(msg, h)?,
        }
        if out.batch_ready() {
            protocol::sender_write(&mut self.closed, || shared.write_now(&mut out))?;
        }
        Ok(())
    }

    /// Writes every queued message to the kernel.
    pub fn flush(&mut self) -> Result<()> {
        let shared = &*self.shared;
        flush_locked(shared, &mut self.closed, shared.send.lock()).map(drop)
    }

    /// Bytes queued but not yet written.
    pub fn queued(&self) -> usize {
        self.shared.send.lock().len()
    }

    /// Writes out everything queued, then ends the channel in this
    /// direction; see [`crate::Sender::disconnect`].
    pub fn disconnect(mut self) -> Result<()> {
        self.flush()?;
        self.closed = true;
        sys::shutdown_write(&self.shared.io)?;
        Ok(())
    }
}

/// [`Sender::flush`] with the queue's lock held (released while waiting).
fn flush_locked<'a>(
    shared: &'a Shared,
    closed: &mut bool,
    mut out: MutexGuard<'a, Outbox>,
) -> Result<MutexGuard<'a, Outbox>> {
    loop {
        match protocol::sender_write(closed, || shared.write_now(&mut out))? {
            Progress::Done => return Ok(out),
            Progress::WouldBlock => {
                drop(out);
                sys::wait(&shared.io, false, true)?;
                out = shared.send.lock();
            }
            Progress::AwaitingAck => {
                let reading = match shared.recv.try_lock() {
                    Ok(r) => Some(r),
                    Err(TryLockError::Poisoned(e)) => Some(e.into_inner()),
                    Err(TryLockError::WouldBlock) => None,
                };
                if let Some(mut reading) = reading {
                    // Nobody is receiving: read the answer here,
                    // keeping what else comes for the next `recv`.
                    drop(out);
                    // What is buffered first: the ACK may be there already.
                    if !reading.state.read_ahead(&shared.send) {
                        if reading.eof {
                            return Err(Error::Disconnected);
                        }
                        reading.state.may_read_ahead()?;
                        shared.fill(&mut reading, Duration::ZERO)?;
                        reading.state.read_ahead(&shared.send);
                    }
                    shared.answer(&mut reading);
                    drop(reading);
                    out = shared.send.lock();
                } else if shared.deaf.load(Ordering::SeqCst) {
                    return Err(Error::Disconnected);
                } else {
                    // The receiving half is in `recv` and wakes us when
                    // it acts on the answer.
                    out = shared
                        .answered
                        .wait_timeout(out, ACK_RECHECK)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
            }
        }
    }
}

/// Writes what the socket takes now; after an error the channel is closed
/// (what is queued can never go out).
impl Drop for Sender {
    fn drop(&mut self) {
        // Not while unwinding: a stalled peer would turn a panic into a hang.
        if !self.closed && !std::thread::panicking() {
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
                Some(Delivery::User(msg, handle)) => return Ok(Some((msg, handle))),
                Some(Delivery::Internal(_)) => {}
                None => return Ok(None),
            }
        }
    }

    /// Bytes received and not yet returned as messages.
    pub fn buffered(&self) -> usize {
        self.shared.reading().state.buffered()
    }

    /// The next message, user or internal (a handle that came with one is
    /// closed).
    pub fn recv_message<T: DeserializeOwned>(&mut self) -> Result<Option<Message<T>>> {
        Ok(self.next::<T>()?.map(Delivery::into_message))
    }

    /// How long `recv` polls before it sleeps in the kernel; see
    /// [`crate::Receiver::set_busy_poll`] (the same default and reasons).
    pub fn set_busy_poll(&mut self, spin: Duration) {
        self.busy_poll = spin;
    }

    fn next<T: DeserializeOwned>(&mut self) -> Result<Option<Delivery<T>>> {
        let shared = &*self.shared;
        let mut reading = shared.reading();
        loop {
            if let Some(msg) = reading.state.next(&shared.send) {
                shared.answer(&mut reading);
                return msg.map(Some);
            }
            if reading.eof {
                reading.state.finish()?;
                return Ok(None);
            }
            shared.fill(&mut reading, self.busy_poll)?;
        }
    }
}
