//! The async channel (tokio): a thin loop around the codec.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::io::Interest;
use tokio::net::UnixStream;
use tokio::sync::Notify;

use crate::codec::Serialization;
use crate::error::{Error, Result};
use crate::handle::outbox::{Outbox, Progress};
use crate::handle::{Handle, SendHandle};
use crate::limits::Limits;
use crate::message::Message;
use crate::protocol::{self, Delivery, RecvState, SendState};
use crate::sys;

/// What the two halves of one channel share.
#[derive(Debug)]
struct Shared {
    io: UnixStream,
    send: SendState,
    /// Woken when the receiving half acted on a message of the handle
    /// protocol (an ACK may have let the queue go) or stopped reading.
    answered: Notify,
    /// The receiving half is gone or saw the end of the stream: no ACK can
    /// arrive any more.
    deaf: AtomicBool,
}

impl Shared {
    /// Writes what the queue allows now, without waiting.
    fn write_now(&self, out: &mut Outbox) -> Result<Progress> {
        let io = &self.io;
        protocol::write_out(out, |bytes, fd| {
            io.try_io(Interest::WRITABLE, || {
                protocol::send_some(io.as_fd(), bytes, fd)
            })
        })
    }
}

/// An IPC channel to a Node process (or to another nodeipc peer), speaking
/// the `json` serialization.
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
#[derive(Debug)]
pub struct Channel {
    tx: Sender,
    rx: Receiver,
}

impl Channel {
    /// Wraps a connected unix stream socket. Must be called inside a tokio
    /// runtime (an error otherwise).
    pub fn from_fd(fd: OwnedFd, serialization: Serialization, limits: Limits) -> Result<Channel> {
        in_runtime()?;
        sys::prepare_channel(fd.as_fd())?;
        let io = UnixStream::from_std(std::os::unix::net::UnixStream::from(fd))?;
        let shared = Arc::new(Shared {
            io,
            send: SendState::new(serialization, &limits),
            answered: Notify::new(),
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
                state: RecvState::new(serialization, limits),
                eof: false,
                busy_poll: Receiver::DEFAULT_BUSY_POLL,
            },
        })
    }

    /// Two connected channels in this process (tests, benchmarks, Rust ↔ Rust).
    pub fn pair() -> Result<(Channel, Channel)> {
        let (a, b) = sys::stream_pair()?;
        Ok((
            Channel::from_fd(a, Serialization::Json, Limits::default())?,
            Channel::from_fd(b, Serialization::Json, Limits::default())?,
        ))
    }

    /// Adopts the channel a Node parent made (`fork()`, or `spawn` with
    /// `'ipc'` in `stdio`), with default [`Limits`]. See
    /// [`crate::child`] for the checks made and their errors.
    pub fn from_env() -> Result<Channel> {
        Self::from_env_with_limits(Limits::default())
    }

    /// [`from_env`](Self::from_env) with the given limits.
    pub fn from_env_with_limits(limits: Limits) -> Result<Channel> {
        // Checked first: failing after the fd was adopted would close it.
        in_runtime()?;
        let (fd, serialization) = crate::child::inherited_channel()?;
        Channel::from_fd(fd, serialization, limits)
    }

    /// Splits into a sending and a receiving half that can live in
    /// different tasks.
    pub fn split(self) -> (Sender, Receiver) {
        (self.tx, self.rx)
    }

    /// See [`Sender::send`]. While a handle waits for the peer's ACK, this
    /// reads ahead on the channel's receiving side (keeping what it reads
    /// for `recv`), so an unsplit channel never waits on itself.
    pub async fn send<T: Serialize + ?Sized>(&mut self, msg: &T) -> Result<()> {
        self.feed(msg).await?;
        self.flush().await
    }

    /// See [`Sender::feed`].
    pub async fn feed<T: Serialize + ?Sized>(&mut self, msg: &T) -> Result<()> {
        self.tx.feed_with(msg, None, Some(&mut self.rx)).await
    }

    /// See [`Sender::send_with_handle`].
    pub async fn send_with_handle<T: Serialize + ?Sized>(
        &mut self,
        msg: &T,
        handle: impl SendHandle,
    ) -> Result<()> {
        let handle = handle.into_outgoing()?;
        self.tx
            .feed_with(msg, Some(handle), Some(&mut self.rx))
            .await?;
        self.flush().await
    }

    /// See [`Sender::flush`].
    pub async fn flush(&mut self) -> Result<()> {
        self.tx.flush_with(Some(&mut self.rx)).await
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
/// PROTOCOL.md §5.4).
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
/// it waits until the peer acknowledges the handle; the acknowledgement
/// arrives on the [`Receiver`], so keep receiving on it (or use the
/// unsplit [`Channel`], whose `send` reads ahead itself). `send` and
/// `flush` of a message held that way return once it is written, after
/// the ACK; if the receiving half is dropped or the peer goes away first,
/// they fail with [`Error::Disconnected`].
#[derive(Debug)]
pub struct Sender {
    shared: Arc<Shared>,
    limits: Limits,
    closed: bool,
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
    /// Later messages wait for the peer's acknowledgement, which the
    /// [`Receiver`] reads (see the type's docs).
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
        self.feed_with(msg, Some(handle), None).await?;
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
        self.feed_with(msg, None, None).await
    }

    /// [`feed`](Self::feed), with a handle, and with the receiving half to
    /// read ahead on while waiting for an ACK (the unsplit channel).
    pub(crate) async fn feed_with<T: Serialize + ?Sized>(
        &mut self,
        msg: &T,
        handle: Option<crate::handle::OutgoingHandle>,
        mut rx: Option<&mut Receiver>,
    ) -> Result<()> {
        if self.closed {
            return Err(Error::Disconnected);
        }
        // One lock per message (the hot path's only atomic operations).
        let mut out = loop {
            {
                let out = self.shared.send.lock();
                if out.len() < self.limits.max_send_buffer {
                    break out;
                }
            }
            self.flush_with(rx.as_deref_mut()).await?;
        };
        match handle {
            None => out.push(msg)?,
            Some(h) => out.push_handle(msg, h)?,
        }
        if out.batch_ready() {
            protocol::sender_write(&mut self.closed, || self.shared.write_now(&mut out))?;
        }
        Ok(())
    }

    /// Writes every queued message to the kernel.
    pub async fn flush(&mut self) -> Result<()> {
        self.flush_with(None).await
    }

    /// [`flush`](Self::flush); while an ACK is awaited, reads ahead on
    /// `rx` if given, else waits for the receiving half to get it.
    pub(crate) async fn flush_with(&mut self, mut rx: Option<&mut Receiver>) -> Result<()> {
        loop {
            let progress = {
                let mut out = self.shared.send.lock();
                protocol::sender_write(&mut self.closed, || self.shared.write_now(&mut out))?
            };
            match progress {
                Progress::Done => return Ok(()),
                Progress::WouldBlock => self.shared.io.writable().await?,
                Progress::AwaitingAck => match rx.as_deref_mut() {
                    Some(rx) => rx.read_ahead().await?,
                    None if self.shared.deaf.load(Ordering::SeqCst) => {
                        return Err(Error::Disconnected);
                    }
                    None => self.shared.answered.notified().await,
                },
            }
        }
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
        self.closed = true;
        sys::shutdown_write(&self.shared.io)?;
        Ok(())
    }
}

/// A [`Sender`]'s write of what the socket takes now, without waiting.
impl Drop for Sender {
    fn drop(&mut self) {
        if self.closed {
            return;
        }
        let left = {
            let mut out = self.shared.send.lock();
            matches!(
                protocol::sender_write(&mut self.closed, || self.shared.write_now(&mut out)),
                Ok(Progress::WouldBlock | Progress::AwaitingAck)
            )
        };
        if left && let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(flush_detached(self.shared.clone()));
        }
    }
}

/// Finishes the writes of a dropped [`Sender`]. A plain future with no
/// `Drop` of its own: if the runtime drops it unfinished, nothing respawns.
/// Best effort: nobody is left to hear about a failure.
async fn flush_detached(shared: Arc<Shared>) {
    loop {
        let progress = {
            let mut out = shared.send.lock();
            shared.write_now(&mut out)
        };
        match progress {
            Ok(Progress::WouldBlock) => {
                if shared.io.writable().await.is_err() {
                    return;
                }
            }
            Ok(Progress::AwaitingAck) if !shared.deaf.load(Ordering::SeqCst) => {
                shared.answered.notified().await;
            }
            _ => return,
        }
    }
}

/// The receiving half of a [`Channel`].
///
/// It also answers the peer's handles (`NODE_HANDLE_ACK`) and reads the
/// answers to ours, so a channel whose `Receiver` is not polled cannot
/// receive handles, and its [`Sender`] waits forever after sending one.
#[derive(Debug)]
pub struct Receiver {
    shared: Arc<Shared>,
    state: RecvState,
    eof: bool,
    busy_poll: Duration,
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
                Some(Delivery::User(msg, handle)) => return Ok(Some((msg, handle))),
                Some(Delivery::Internal(_)) => {}
                None => return Ok(None),
            }
        }
    }

    /// The next message, user or internal. Cancel-safe, like
    /// [`recv`](Self::recv). A handle that came with a message is closed
    /// (see [`recv_with_handle`](Self::recv_with_handle)).
    pub async fn recv_message<T: DeserializeOwned>(&mut self) -> Result<Option<Message<T>>> {
        Ok(self.next::<T>().await?.map(Delivery::into_message))
    }

    async fn next<T: DeserializeOwned>(&mut self) -> Result<Option<Delivery<T>>> {
        loop {
            if let Some(msg) = self.state.next(&self.shared.send) {
                self.answer();
                return msg.map(Some);
            }
            if self.eof {
                self.state.finish()?;
                return Ok(None);
            }
            self.fill().await?;
        }
    }

    /// Reads once and keeps every complete message for later `recv`s,
    /// acting on the handle protocol (an ACK lets the send queue go): what
    /// an unsplit channel's send does while it waits for an ACK. Refuses
    /// ([`Error::ReadAheadFull`]) once `Limits::max_read_ahead` bytes are
    /// kept.
    async fn read_ahead(&mut self) -> Result<()> {
        // What is buffered first: the ACK may be there already.
        if !self.state.read_ahead(&self.shared.send) {
            if self.eof {
                return Err(Error::Disconnected);
            }
            self.state.may_read_ahead()?;
            self.fill().await?;
            self.state.read_ahead(&self.shared.send);
        }
        self.answer();
        Ok(())
    }

    /// Writes the replies the last messages queued and wakes a sender
    /// waiting for an ACK.
    fn answer(&mut self) {
        if !self.state.control_pending {
            return;
        }
        let mut out = self.shared.send.lock();
        // A failed write is the sender's to report; replies are best
        // effort, as in Node.
        let progress = self.shared.write_now(&mut out);
        self.state.control_pending = matches!(progress, Ok(Progress::WouldBlock));
        drop(out);
        self.shared.answered.notify_one();
    }

    /// Bytes received and not yet returned as messages: when 0, the next
    /// `recv` has to wait for the peer (a good moment to flush output).
    pub fn buffered(&self) -> usize {
        self.state.buffered()
    }

    /// The default of [`set_busy_poll`](Self::set_busy_poll): 50 µs.
    pub const DEFAULT_BUSY_POLL: Duration = Duration::from_micros(50);

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

    /// Reads once into the decoder's buffer (with any fds that came along);
    /// while replies wait for room in the socket, writes them when it has.
    async fn fill(&mut self) -> Result<()> {
        let mut spin_until = None;
        loop {
            let io = &self.shared.io;
            let state = &mut self.state;
            match io.try_io(Interest::READABLE, || state.read(io.as_fd(), false)) {
                Ok(0) => break,
                Ok(_) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if self.state.control_pending {
                        let ready = io.ready(Interest::READABLE | Interest::WRITABLE).await?;
                        if ready.is_writable() {
                            self.answer();
                        }
                        continue;
                    }
                    if self.busy_poll.is_zero() {
                        io.readable().await?;
                        continue;
                    }
                    // tokio answers WouldBlock from its cached readiness
                    // without a syscall, so poll the socket itself.
                    let until = *spin_until.get_or_insert_with(|| Instant::now() + self.busy_poll);
                    match self.state.read(io.as_fd(), true) {
                        Ok(0) => break,
                        Ok(_) => return Ok(()),
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                            if Instant::now() < until {
                                std::thread::yield_now();
                            } else {
                                io.readable().await?;
                            }
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // A reset peer is a gone peer: report it like EOF.
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => break,
                Err(e) => return Err(e.into()),
            }
        }
        self.eof = true;
        self.go_deaf();
        Ok(())
    }

    /// No ACK can come any more: wake a sender that waits for one.
    fn go_deaf(&self) {
        self.shared.deaf.store(true, Ordering::SeqCst);
        self.shared.answered.notify_one();
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.go_deaf();
    }
}
