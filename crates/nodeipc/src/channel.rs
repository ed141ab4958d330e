//! The async channel (tokio): a thin loop around the codec.

use std::io;
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::io::Interest;
use tokio::net::UnixStream;

use crate::codec::json::READ_CHUNK;
use crate::codec::{Decoder, SendBuf, Serialization};
use crate::error::{Error, Result};
use crate::limits::Limits;
use crate::message::Message;
use crate::sys;

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
        sys::set_nonblocking(&fd, true)?;
        let io = Arc::new(UnixStream::from_std(std::os::unix::net::UnixStream::from(
            fd,
        ))?);
        Ok(Channel {
            tx: Sender {
                io: io.clone(),
                out: SendBuf::new(serialization, limits.max_send_buffer),
                limits,
                closed: false,
            },
            rx: Receiver {
                io,
                dec: Decoder::new(serialization, limits),
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

    /// See [`Sender::send`].
    pub async fn send<T: Serialize + ?Sized>(&mut self, msg: &T) -> Result<()> {
        self.tx.send(msg).await
    }

    /// See [`Sender::feed`].
    pub async fn feed<T: Serialize + ?Sized>(&mut self, msg: &T) -> Result<()> {
        self.tx.feed(msg).await
    }

    /// See [`Sender::flush`].
    pub async fn flush(&mut self) -> Result<()> {
        self.tx.flush().await
    }

    /// See [`Receiver::recv`].
    pub async fn recv<T: DeserializeOwned>(&mut self) -> Result<Option<T>> {
        self.rx.recv().await
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
        self.tx.flush().await
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
#[derive(Debug)]
pub struct Sender {
    io: Arc<UnixStream>,
    out: SendBuf,
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

    /// Queues `msg` for sending. Queued messages are written in batches of
    /// about 64 KiB; call [`flush`](Self::flush) (or [`send`](Self::send)) to
    /// push out the rest.
    ///
    /// Backpressure: when more than [`Limits::max_send_buffer`] bytes wait
    /// for a slow peer, this waits until the kernel took them, so memory
    /// stays bounded whatever the receiver's speed.
    pub async fn feed<T: Serialize + ?Sized>(&mut self, msg: &T) -> Result<()> {
        if self.closed {
            return Err(Error::Disconnected);
        }
        if self.out.len() >= self.limits.max_send_buffer {
            self.flush().await?;
        }
        self.out.push(msg)?;
        if self.out.len() >= READ_CHUNK {
            self.write_ready()?;
        }
        Ok(())
    }

    /// Writes every queued message to the kernel.
    pub async fn flush(&mut self) -> Result<()> {
        loop {
            self.write_ready()?;
            if self.out.is_empty() {
                return Ok(());
            }
            self.io.writable().await?;
        }
    }

    /// Bytes queued but not yet written.
    pub fn queued(&self) -> usize {
        self.out.len()
    }

    /// Writes out everything queued, then ends the channel in this
    /// direction: the peer reads EOF and sees `'disconnect'`. Messages the
    /// peer sent before it noticed still reach this side's [`Receiver`],
    /// which then returns `Ok(None)` (so nothing in flight is lost, unlike
    /// Node's `disconnect()`, which drops them).
    pub async fn disconnect(mut self) -> Result<()> {
        self.flush().await?;
        self.closed = true;
        sys::shutdown_write(&*self.io)?;
        Ok(())
    }

    /// Writes out what the socket takes now, without waiting.
    fn write_ready(&mut self) -> Result<()> {
        if self.closed {
            return Err(Error::Disconnected);
        }
        while !self.out.is_empty() {
            let io = &*self.io;
            let pending = self.out.pending();
            match io.try_io(Interest::WRITABLE, || sys::send_nosignal(io, pending)) {
                Ok(n) => self.out.advance(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // The channel is gone: what is queued can never go out.
                    self.closed = true;
                    self.out = SendBuf::new(Serialization::Json, 0);
                    return Err(Error::from_send(e));
                }
            }
        }
        Ok(())
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        if self.closed || self.write_ready().is_err() || self.out.is_empty() {
            return;
        }
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let out = std::mem::replace(&mut self.out, SendBuf::new(Serialization::Json, 0));
            rt.spawn(flush_detached(self.io.clone(), out));
        }
    }
}

/// Finishes the writes of a dropped [`Sender`]. A plain future with no
/// `Drop` of its own: if the runtime drops it unfinished, nothing respawns.
async fn flush_detached(io: Arc<UnixStream>, mut out: SendBuf) {
    while !out.is_empty() {
        if io.writable().await.is_err() {
            return;
        }
        let pending = out.pending();
        match io.try_io(Interest::WRITABLE, || sys::send_nosignal(&*io, pending)) {
            Ok(n) => out.advance(n),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) => {}
            // Best effort: nobody is left to hear about a failure.
            Err(_) => return,
        }
    }
}

/// The receiving half of a [`Channel`].
#[derive(Debug)]
pub struct Receiver {
    io: Arc<UnixStream>,
    dec: Decoder,
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
    /// on with the following message.
    ///
    /// Cancel safety: this method is cancel-safe. Bytes read belong to the
    /// receiver, not to the future, so a `recv` dropped in a
    /// `tokio::select!` loses no message.
    pub async fn recv<T: DeserializeOwned>(&mut self) -> Result<Option<T>> {
        loop {
            if let Some(msg) = self.dec.user() {
                return msg.map(Some);
            }
            if self.eof {
                self.dec.finish()?;
                return Ok(None);
            }
            self.fill().await?;
        }
    }

    /// The next message, user or internal. Cancel-safe, like
    /// [`recv`](Self::recv).
    pub async fn recv_message<T: DeserializeOwned>(&mut self) -> Result<Option<Message<T>>> {
        loop {
            if let Some(msg) = self.dec.message() {
                return msg.map(Some);
            }
            if self.eof {
                self.dec.finish()?;
                return Ok(None);
            }
            self.fill().await?;
        }
    }

    /// Bytes received and not yet returned as messages: when 0, the next
    /// `recv` has to wait for the peer (a good moment to flush output).
    pub fn buffered(&self) -> usize {
        self.dec.buffered()
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

    /// Reads once into the decoder's buffer.
    async fn fill(&mut self) -> Result<()> {
        let mut spin_until = None;
        loop {
            let io = &*self.io;
            let buf = self.dec.read_buf();
            match io.try_io(Interest::READABLE, || sys::recv_into(io, buf)) {
                Ok(0) => break,
                Ok(_) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if self.busy_poll.is_zero() {
                        self.io.readable().await?;
                        continue;
                    }
                    // tokio answers WouldBlock from its cached readiness
                    // without a syscall, so poll the socket itself.
                    let until = *spin_until.get_or_insert_with(|| Instant::now() + self.busy_poll);
                    match sys::recv_into_nowait(io, self.dec.read_buf()) {
                        Ok(0) => break,
                        Ok(_) => return Ok(()),
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                            if Instant::now() < until {
                                std::thread::yield_now();
                            } else {
                                self.io.readable().await?;
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
        Ok(())
    }
}
