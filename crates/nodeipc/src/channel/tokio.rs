//! The tokio driver of the channel core: it only does the I/O the core
//! asks for and waits (readiness, `Notify`).

use std::future::Future;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;
use tokio::sync::Notify;

#[cfg(feature = "futures")]
mod stream;

#[cfg(feature = "futures")]
pub use stream::{RecvStream, SendSink};

use super::core::{
    AckStep, BusyPoll, DEFAULT_BUSY_POLL, Delivery, Filled, Progress, Reader, Ready, RecvCore,
    SendHalf, SendState, write_left,
};
use crate::codec::Serialization;
use crate::error::{Error, Result};
use crate::handle::{Handle, OutgoingHandle, SendHandle};
use crate::limits::Limits;
use crate::message::Message;
use crate::sys;

/// What the two halves of one channel share.
#[derive(Debug)]
struct Shared {
    /// The socket, registered with tokio for reading only: registered for
    /// writing too, it would wake the runtime each time the peer reads
    /// (`EPOLLOUT`, edge-triggered), for nothing.
    io: AsyncFd<UnixStream>,
    /// A duplicate of it registered for writing, while writes wait for
    /// room: made at the first wait, dropped by a flush that did not wait
    /// (so a channel that sends steadily into a full socket keeps it, and
    /// an idle one is not woken by the peer's reads).
    room: Mutex<Option<Arc<AsyncFd<OwnedFd>>>>,
    /// `room` holds a registration.
    has_room: AtomicBool,
    send: SendState,
    recv: Mutex<RecvCore>,
    /// Woken when the receiving half acted on the handle protocol, took
    /// messages out of the read-ahead queue, or went away.
    answered: Notify,
    /// Woken when a sender read messages ahead for the receiving half.
    read_ahead: Notify,
    /// The receiving half is gone.
    rx_gone: AtomicBool,
}

impl Shared {
    /// The receive state. A panic while it was held (in a `Deserialize`
    /// impl, say) leaves it consistent, so a poisoned lock is still usable.
    #[inline]
    fn recv(&self) -> MutexGuard<'_, RecvCore> {
        self.recv.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A write that never waits (the socket is non-blocking; `WouldBlock`
    /// when it is full).
    fn try_send(&self, bytes: &[u8], fd: Option<std::os::fd::BorrowedFd<'_>>) -> io::Result<usize> {
        super::send_some(self.io.get_ref().as_fd(), bytes, fd)
    }

    /// A read that never waits; `direct` skips tokio's cached readiness
    /// (which answers `WouldBlock` without a syscall).
    fn try_read(&self, rx: &mut RecvCore, direct: bool) -> io::Result<Filled> {
        let read = |rx: &mut RecvCore| {
            rx.read(|buf, fds| sys::recv_with_fds(self.io.get_ref().as_fd(), buf, fds, true))
        };
        if direct {
            read(rx)
        } else {
            self.io.try_io(Interest::READABLE, |_| read(rx))
        }
    }

    /// Returns once the socket may have room (a write tells), through the
    /// registration for writing (`room`), made if there is none.
    async fn wait_room(&self) -> io::Result<()> {
        let room = {
            let mut room = self.room.lock().unwrap_or_else(|e| e.into_inner());
            match &*room {
                Some(w) => Some(w.clone()),
                None => match sys::dup(self.io.get_ref().as_fd())
                    .and_then(|dup| sys::readiness(dup, Interest::WRITABLE))
                {
                    Ok(w) => {
                        self.has_room.store(true, Ordering::Relaxed);
                        Some(room.insert(Arc::new(w)).clone())
                    }
                    // Out of fds (the duplicate is one): poll instead,
                    // yielding to other tasks between writes.
                    Err(_) => None,
                },
            }
        };
        match room {
            // Taken as seen: the write that follows tells, and a full
            // socket reports room again (a new edge) when the peer reads.
            Some(room) => room.writable().await?.clear_ready(),
            None => tokio::task::yield_now().await,
        }
        Ok(())
    }

    /// Writes the replies `rx` owes and wakes a waiting sender if needed.
    fn answer(&self, rx: &mut RecvCore) {
        if rx.answer(&self.send, |b, fd| self.try_send(b, fd)) {
            self.answered.notify_one();
        }
    }

    /// Writes every queued message to the kernel, waiting for room and for
    /// the peer's ACKs (reading ahead for them as the core says; `unsplit`:
    /// this channel's receiving half cannot be polled meanwhile).
    async fn flush(&self, half: &mut SendHalf, unsplit: bool) -> Result<()> {
        let mut waited = false;
        loop {
            let progress = half.write(&mut self.send.lock(), |b, fd| self.try_send(b, fd))?;
            match progress {
                Progress::Done => {
                    if !waited && self.has_room.swap(false, Ordering::Relaxed) {
                        *self.room.lock().unwrap_or_else(|e| e.into_inner()) = None;
                    }
                    return Ok(());
                }
                Progress::WouldBlock => {
                    waited = true;
                    self.wait_room().await?;
                }
                Progress::AwaitingAck => {
                    let reader = Reader::of(unsplit, self.rx_gone.load(Ordering::SeqCst));
                    let (step, kept) = {
                        let mut rx = self.recv();
                        let before = rx.read_ahead_len();
                        let step = rx.ack_step(&self.send, reader, |buf, fds| {
                            self.io.try_io(Interest::READABLE, |s| {
                                sys::recv_with_fds(s.as_fd(), buf, fds, true)
                            })
                        });
                        self.answer(&mut rx);
                        (step?, rx.read_ahead_len() > before)
                    };
                    if kept {
                        // For a receiver that may sleep.
                        self.read_ahead.notify_one();
                    }
                    match step {
                        AckStep::Retry => {}
                        AckStep::WaitReadable => {
                            readable_or(&self.io, self.answered.notified()).await?;
                        }
                        AckStep::WaitReceiver => self.answered.notified().await,
                    }
                }
            }
        }
    }

    /// The next message (see [`Receiver::recv_message`]), polling for
    /// `busy_poll` before it sleeps.
    async fn next<T: DeserializeOwned>(
        &self,
        ready: &mut Ready,
        busy_poll: Duration,
    ) -> Result<Option<Delivery<T>>> {
        let shared = self;
        let mut spin = BusyPoll::new(busy_poll);
        loop {
            // Decoding, reading and the busy poll run under one lock, never
            // across an await: a sender that wants to read ahead meanwhile
            // waits at most the busy poll (50 µs by default); the lock per
            // try cost round trips 4 % (measured).
            let then = {
                let mut rx = shared.recv();
                loop {
                    if let Some(d) = shared.take(&mut rx, ready) {
                        return d;
                    }
                    match shared.try_read(&mut rx, false) {
                        Ok(_) => {
                            spin.restart();
                            continue;
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) if e.kind() != io::ErrorKind::WouldBlock => return Err(e.into()),
                        Err(_) if rx.wants_write() => break Then::WaitWritable,
                        Err(_) => {}
                    }
                    // tokio answers WouldBlock from its cached readiness
                    // without a syscall, so the busy poll reads the socket
                    // itself.
                    let read = loop {
                        if !spin.spin() {
                            break None;
                        }
                        match shared.try_read(&mut rx, true) {
                            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                                std::thread::yield_now();
                            }
                            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                            other => break Some(other),
                        }
                    };
                    match read {
                        Some(Ok(_)) => spin.restart(),
                        Some(Err(e)) => return Err(e.into()),
                        None => break Then::Sleep,
                    }
                }
            };
            match then {
                Then::WaitWritable => {
                    match super::race(shared.wait_room(), shared.io.readable()).await {
                        Ok(writable) => {
                            writable?;
                            shared.answer(&mut shared.recv());
                        }
                        Err(readable) => drop(readable?),
                    }
                }
                Then::Sleep => readable_or(&shared.io, shared.read_ahead.notified()).await?,
            }
        }
    }

    /// The next message if one is decoded without reading (`None`: the
    /// driver must read), with the replies it owes written.
    fn take<T: DeserializeOwned>(
        &self,
        rx: &mut RecvCore,
        ready: &mut Ready,
    ) -> Option<Result<Option<Delivery<T>>>> {
        let d = rx.next::<T>(ready, &self.send)?;
        self.answer(rx);
        Some(d)
    }
}

/// Waits until the socket is readable or `notified` fires.
async fn readable_or(
    io: &AsyncFd<UnixStream>,
    notified: impl Future<Output = ()>,
) -> io::Result<()> {
    match super::race(io.readable(), notified).await {
        Ok(readable) => readable.map(drop),
        Err(()) => Ok(()),
    }
}

channel_type!(
    /// An IPC channel to a Node process (or to another nodeipc peer), in either
    /// serialization.
    ///
    /// Make one with [`Command::spawn`](crate::Command::spawn) (parent side),
    /// [`Channel::from_env`] (child side) or [`Channel::pair`] (in-process).
    /// [`split`](Channel::split) it to send and receive from different tasks.
    /// The socket is closed — the peer sees `'disconnect'` — when both halves
    /// are dropped.
    ///
    /// ```no_run
    /// # async fn demo() -> nodeipc::Result<()> {
    /// let (mut child, mut channel) = nodeipc::Command::new("node").arg("worker.js").spawn()?;
    /// channel.send(&serde_json::json!({"hello": "worker"})).await?;
    /// while let Some(msg) = channel.recv::<serde_json::Value>().await? {
    ///     println!("worker said {msg}");
    /// }
    /// child.wait().await?;
    /// # Ok(()) }
    /// ```
);

impl Channel {
    /// Wraps a connected unix stream socket. Must be called inside a tokio
    /// runtime (an error otherwise).
    pub fn from_fd(fd: OwnedFd, serialization: Serialization, limits: Limits) -> Result<Channel> {
        in_runtime()?;
        Channel::assemble(fd, &limits, |fd| {
            let raw = fd.as_raw_fd();
            Ok(Shared {
                io: sys::readiness(UnixStream::from(fd), Interest::READABLE)?,
                room: Mutex::new(None),
                has_room: AtomicBool::new(false),
                send: SendState::new(serialization, &limits, raw),
                recv: Mutex::new(RecvCore::new(serialization, limits, raw)),
                answered: Notify::new(),
                read_ahead: Notify::new(),
                rx_gone: AtomicBool::new(false),
            })
        })
    }

    channel_constructors!(in_runtime()?;);

    /// See [`Sender::send`]. While a handle waits for the peer's ACK, this
    /// reads ahead on the channel's receiving side (keeping what it reads
    /// for `recv`, up to `Limits::max_read_ahead`), so an unsplit channel
    /// never waits on itself.
    pub async fn send<T: Serialize + ?Sized>(&mut self, msg: &T) -> Result<()> {
        self.tx.feed_with(msg, None, true).await?;
        self.flush().await
    }

    /// See [`Sender::feed`].
    pub async fn feed<T: Serialize + ?Sized>(&mut self, msg: &T) -> Result<()> {
        self.tx.feed_with(msg, None, true).await
    }

    /// See [`Sender::send_with_handle`].
    pub async fn send_with_handle<T: Serialize + ?Sized>(
        &mut self,
        msg: &T,
        handle: impl SendHandle,
    ) -> Result<()> {
        let handle = handle.into_outgoing()?;
        self.tx.feed_with(msg, Some(handle), true).await?;
        self.flush().await
    }

    /// See [`Sender::flush`].
    pub async fn flush(&mut self) -> Result<()> {
        self.tx.shared.flush(&mut self.tx.half, true).await
    }

    /// See [`Receiver::recv`].
    pub async fn recv<T: DeserializeOwned>(&mut self) -> Result<Option<T>> {
        self.rx.recv().await
    }

    /// See [`Receiver::recv_with_handle`].
    pub async fn recv_with_handle<T: DeserializeOwned>(
        &mut self,
    ) -> Result<Option<(T, Option<Handle>)>> {
        self.rx.recv_with_handle().await
    }

    /// See [`Receiver::set_busy_poll`].
    pub fn set_busy_poll(&mut self, spin: Duration) {
        self.rx.set_busy_poll(spin);
    }

    /// See [`Receiver::recv_message`].
    pub async fn recv_message<T: DeserializeOwned>(&mut self) -> Result<Option<Message<T>>> {
        self.rx.recv_message().await
    }

    /// See [`Receiver::recv_message_with_handle`].
    pub async fn recv_message_with_handle<T: DeserializeOwned>(
        &mut self,
    ) -> Result<Option<(Message<T>, Option<Handle>)>> {
        self.rx.recv_message_with_handle().await
    }

    /// Writes out everything queued, then closes the channel: the peer sees
    /// `'disconnect'` (Node's `disconnect()`: a plain close, no bytes).
    pub async fn disconnect(mut self) -> Result<()> {
        self.flush().await
    }
}

/// An error unless called inside a tokio runtime (tokio would panic).
fn in_runtime() -> Result<()> {
    tokio::runtime::Handle::try_current()
        .map(drop)
        .map_err(|e| Error::Io(io::Error::other(e)))
}

/// The sending half of a [`Channel`].
///
/// Messages are encoded into one buffer and written in as few `write`s as
/// possible: [`send`](Self::send) returns once the message is in the kernel,
/// [`feed`](Self::feed) queues it and writes only when a batch has built up,
/// [`flush`](Self::flush) writes out the queue.
///
/// # Delivery and drop
///
/// A message is *delivered* once it is in the kernel's socket buffer: the
/// peer can read it even if this process exits right after. So after
/// `send(..).await` returns `Ok`, or after `flush().await` returns `Ok`,
/// everything sent so far reaches the peer, whatever this process does
/// next (unlike Node, which loses what is not yet written when it exits,
/// docs/protocol.md §5.4).
///
/// Dropping a `Sender` with fed but unflushed messages writes what the
/// socket takes at once; if anything is left and a tokio runtime is
/// running, a task finishes the write in the background (keeping the socket
/// open until it is done). A process that exits (`std::process::exit`, or
/// returning from `main`, which stops the runtime) before that task
/// finishes loses the rest: `flush` before exiting.
///
/// # Handles
///
/// [`send_with_handle`](Self::send_with_handle) sends a socket with the
/// message (see [`crate::handle`]). As in Node, every message sent after
/// it waits until the peer acknowledges the handle. Whoever is free reads
/// the answer: the [`Receiver`] if it is receiving, else this half, which
/// keeps the messages it reads on the way for the `Receiver` (waiting for
/// it to take some once `Limits::max_read_ahead` is reached; dropping them
/// if the `Receiver` is gone). `send` and `flush` of a message held that
/// way return once it is written, after the ACK; if the peer goes away
/// first, they fail with [`Error::Disconnected`].
#[derive(Debug)]
pub struct Sender {
    shared: Arc<Shared>,
    half: SendHalf,
}

impl Sender {
    /// Sends `msg` and waits until it is in the kernel (see the type's docs
    /// for what that guarantees). Also writes any earlier fed messages.
    ///
    /// Cancel safety: if the future is dropped after the message was
    /// queued, it stays queued and goes out with the next write.
    pub async fn send<T: Serialize + ?Sized>(&mut self, msg: &T) -> Result<()> {
        self.feed(msg).await?;
        self.flush().await
    }

    /// Sends `msg` with a socket: Node's `send(msg, handle)`. The peer gets
    /// `msg` with the handle (a Node peer: `process.on('message', (msg,
    /// handle) => …)`); returns once the message and its fd are in the
    /// kernel. `handle` by value is closed here once the peer acknowledged
    /// it; by reference, a duplicate is sent and the caller keeps its own
    /// (see [`SendHandle`]).
    ///
    /// Later messages wait for the peer's acknowledgement (see the type's
    /// docs).
    ///
    /// ```no_run
    /// # async fn demo(channel: &mut nodeipc::Channel) -> nodeipc::Result<()> {
    /// let listener = std::net::TcpListener::bind("127.0.0.1:8080")?;
    /// // worker.js: process.on('message', (m, server) => server.on('connection', (s) => s.end('hi')))
    /// channel.send_with_handle(&"server", &listener).await?; // keeps `listener`
    /// # Ok(()) }
    /// ```
    pub async fn send_with_handle<T: Serialize + ?Sized>(
        &mut self,
        msg: &T,
        handle: impl SendHandle,
    ) -> Result<()> {
        let handle = handle.into_outgoing()?;
        self.feed_with(msg, Some(handle), false).await?;
        self.flush().await
    }

    /// Queues `msg` for sending. Queued messages are written in batches of
    /// about 64 KiB; call [`flush`](Self::flush) (or [`send`](Self::send)) to
    /// push out the rest.
    ///
    /// Backpressure: when more than [`Limits::max_send_buffer`] bytes wait
    /// for a slow peer, this waits until the kernel took them, so memory
    /// stays bounded whatever the receiver's speed.
    pub async fn feed<T: Serialize + ?Sized>(&mut self, msg: &T) -> Result<()> {
        self.feed_with(msg, None, false).await
    }

    /// [`feed`](Self::feed), with a handle; `unsplit`: see [`Shared::flush`].
    async fn feed_with<T: Serialize + ?Sized>(
        &mut self,
        msg: &T,
        handle: Option<OutgoingHandle>,
        unsplit: bool,
    ) -> Result<()> {
        loop {
            {
                // One lock per message (the hot path's only atomic operations).
                let mut out = self.shared.send.lock();
                if self.half.has_room(&out) {
                    let shared = &self.shared;
                    return self
                        .half
                        .queue(&mut out, msg, handle, |b, fd| shared.try_send(b, fd));
                }
            }
            self.shared.flush(&mut self.half, unsplit).await?;
        }
    }

    /// Writes every queued message to the kernel.
    pub async fn flush(&mut self) -> Result<()> {
        self.shared.flush(&mut self.half, false).await
    }

    /// Bytes queued but not yet written.
    pub fn queued(&self) -> usize {
        self.shared.send.lock().len()
    }

    /// Writes out everything queued, then ends the channel in this
    /// direction: the peer reads EOF and sees `'disconnect'`. Messages the
    /// peer sent before it noticed still reach this side's [`Receiver`],
    /// which then returns `Ok(None)` (so nothing in flight is lost, unlike
    /// Node's `disconnect()`, which drops them).
    pub async fn disconnect(mut self) -> Result<()> {
        self.flush().await?;
        self.shut()
    }

    /// Ends the channel in this direction, without writing (see
    /// [`disconnect`](Self::disconnect)).
    fn shut(&mut self) -> Result<()> {
        super::shut_write(&mut self.half, self.shared.io.get_ref())
    }
}

/// Writes what the socket takes now; the rest in a task, if a runtime runs.
impl Drop for Sender {
    fn drop(&mut self) {
        if self.half.is_closed() {
            return;
        }
        let shared = &self.shared;
        let left = write_left(&shared.send, |b, fd| shared.try_send(b, fd));
        if left && let Ok(rt) = tokio::runtime::Handle::try_current() {
            let (shared, mut half) = (shared.clone(), SendHalf::new(&Limits::default()));
            // A plain future with no `Drop` of its own: if the runtime drops
            // it unfinished, nothing respawns. Best effort: nobody is left
            // to hear about a failure.
            rt.spawn(async move { shared.flush(&mut half, false).await.ok() });
        }
    }
}

/// The receiving half of a [`Channel`].
///
/// It also answers the peer's handles (`NODE_HANDLE_ACK`) and, while it
/// receives, reads the answers to ours (see [`Sender`]).
#[derive(Debug)]
pub struct Receiver {
    shared: Arc<Shared>,
    busy_poll: Duration,
    /// Messages handed to this half (see `core::Ready`), taken first.
    ready: Ready,
}

/// What a receiver that found no message waits for.
enum Then {
    /// Room for the replies it owes (or something to read).
    WaitWritable,
    /// Something to read, or messages a sender read ahead.
    Sleep,
}

impl Receiver {
    /// The next user message: `Ok(None)` once the peer disconnected cleanly,
    /// [`Error::UnexpectedEof`] if it went away in the middle of a message.
    ///
    /// Internal `NODE_*` messages are skipped (use
    /// [`recv_message`](Self::recv_message) to see them). A message that
    /// cannot be decoded as `T` is an [`Error::Decode`]; the next call goes
    /// on with the following message. A handle that came with the message
    /// is closed (it was acknowledged first; use
    /// [`recv_with_handle`](Self::recv_with_handle) to keep it).
    ///
    /// Cancel safety: this method is cancel-safe. Bytes read belong to the
    /// receiver, not to the future, so a `recv` dropped in a
    /// `tokio::select!` loses no message.
    pub async fn recv<T: DeserializeOwned>(&mut self) -> Result<Option<T>> {
        Ok(self.recv_with_handle().await?.map(|(msg, _)| msg))
    }

    /// The next user message with the handle (socket or server) the peer
    /// sent with it, if any: Node's `process.on('message', (msg, handle) =>
    /// …)`. The handle has been acknowledged to the peer (`NODE_HANDLE_ACK`)
    /// and is this process's to keep. One that cannot be taken (no fd came,
    /// or its type does not match the fd) is answered `NODE_HANDLE_NACK` and
    /// reported as [`Error::Handle`]; the next call goes on. Cancel-safe.
    ///
    /// ```no_run
    /// # async fn demo(channel: &mut nodeipc::Channel) -> nodeipc::Result<()> {
    /// // Node parent: child.send('conn', socket)
    /// while let Some((msg, handle)) = channel.recv_with_handle::<String>().await? {
    ///     if let Some(nodeipc::Handle::TcpStream(stream)) = handle {
    ///         let stream = tokio::net::TcpStream::from_std(stream)?; // already non-blocking
    ///         // ... answer on `stream`
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn recv_with_handle<T: DeserializeOwned>(
        &mut self,
    ) -> Result<Option<(T, Option<Handle>)>> {
        loop {
            match self.next::<T>().await? {
                Some(d) => match d.into_user() {
                    Some(user) => return Ok(Some(user)),
                    None => continue,
                },
                None => return Ok(None),
            }
        }
    }

    /// The next message, user or internal. Cancel-safe, like
    /// [`recv`](Self::recv). A handle that came with a message is closed
    /// (see [`recv_message_with_handle`](Self::recv_message_with_handle)).
    pub async fn recv_message<T: DeserializeOwned>(&mut self) -> Result<Option<Message<T>>> {
        Ok(self.recv_message_with_handle().await?.map(|(m, _)| m))
    }

    /// The next message, user or internal, with the handle that came with
    /// it: what Node's `'message'` and `'internalMessage'` listeners get
    /// together (cluster's `newconn` is an internal message carrying the
    /// connection). Cancel-safe.
    pub async fn recv_message_with_handle<T: DeserializeOwned>(
        &mut self,
    ) -> Result<Option<(Message<T>, Option<Handle>)>> {
        Ok(self.next::<T>().await?.map(Delivery::into_message))
    }

    async fn next<T: DeserializeOwned>(&mut self) -> Result<Option<Delivery<T>>> {
        if let Some(d) = self.ready.next::<T>() {
            return d.map(Some);
        }
        self.shared.next(&mut self.ready, self.busy_poll).await
    }

    /// Bytes received and not yet returned as messages: when 0, the next
    /// `recv` has to wait for the peer (a good moment to flush output).
    pub fn buffered(&self) -> usize {
        self.ready.buffered() + self.shared.recv().buffered()
    }

    /// The default of [`set_busy_poll`](Self::set_busy_poll): 50 µs.
    pub const DEFAULT_BUSY_POLL: Duration = DEFAULT_BUSY_POLL;

    /// How long `recv` keeps polling the socket when no message is waiting,
    /// yielding the CPU between tries, before it goes to sleep (default
    /// [`DEFAULT_BUSY_POLL`](Self::DEFAULT_BUSY_POLL); `Duration::ZERO`
    /// sleeps at once).
    ///
    /// Why: a receiver that sleeps must be woken by the sender's next
    /// `write`, and on another CPU that wake-up costs the *sender*
    /// microseconds per message, and the round trip tens of µs. Measured
    /// (`nodeipc bench`, 2-vCPU VM): a Node child streaming 1 KiB messages
    /// to a Rust parent went from 0.86–1.06× to 1.6× the speed of a Node
    /// parent, and the tiny round-trip p50 from 69 to 4.3 µs (Rust ↔ Rust)
    /// and 67 to 10 µs (Rust ↔ Node). Yielding between tries keeps a peer on
    /// the same CPU running (pinned round trips got faster too: 10 → 5 µs).
    ///
    /// The cost: up to this much CPU time each time `recv` has to wait, and
    /// in the meantime the tokio worker thread runs no other task.
    pub fn set_busy_poll(&mut self, spin: Duration) {
        self.busy_poll = spin;
    }
}

/// A sender waiting for an ACK reads it alone from now on.
impl Drop for Receiver {
    fn drop(&mut self) {
        self.shared.rx_gone.store(true, Ordering::SeqCst);
        // What was read ahead for it goes (its handles closed).
        self.shared.recv().drop_read_ahead();
        self.shared.answered.notify_one();
    }
}
