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

use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::codec::json::READ_CHUNK;
use crate::codec::{Decoder, SendBuf, Serialization};
use crate::error::{Error, Result};
use crate::limits::Limits;
use crate::message::Message;
use crate::sys;

/// A blocking IPC channel; the same protocol and guarantees as the async
/// [`crate::Channel`].
#[derive(Debug)]
pub struct Channel {
    tx: Sender,
    rx: Receiver,
}

impl Channel {
    /// Wraps a connected unix stream socket (switched to blocking mode).
    pub fn from_fd(fd: OwnedFd, serialization: Serialization, limits: Limits) -> Result<Channel> {
        sys::set_nonblocking(&fd, false)?;
        let io = Arc::new(UnixStream::from(fd));
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
#[derive(Debug)]
pub struct Sender {
    io: Arc<UnixStream>,
    out: SendBuf,
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

    /// Queues `msg`; writes when about 64 KiB have built up, and waits for
    /// the peer when more than [`Limits::max_send_buffer`] bytes are queued.
    pub fn feed<T: Serialize + ?Sized>(&mut self, msg: &T) -> Result<()> {
        if self.closed {
            return Err(Error::Disconnected);
        }
        if self.out.len() >= self.limits.max_send_buffer {
            self.flush()?;
        }
        self.out.push(msg)?;
        if self.out.len() >= READ_CHUNK {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes every queued message to the kernel.
    pub fn flush(&mut self) -> Result<()> {
        if self.closed {
            return Err(Error::Disconnected);
        }
        while !self.out.is_empty() {
            match sys::send_nosignal(&*self.io, self.out.pending()) {
                Ok(n) => self.out.advance(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.closed = true;
                    self.out = SendBuf::new(Serialization::Json, 0);
                    return Err(Error::from_send(e));
                }
            }
        }
        Ok(())
    }

    /// Bytes queued but not yet written.
    pub fn queued(&self) -> usize {
        self.out.len()
    }

    /// Writes out everything queued, then ends the channel in this
    /// direction; see [`crate::Sender::disconnect`].
    pub fn disconnect(mut self) -> Result<()> {
        self.flush()?;
        self.closed = true;
        sys::shutdown_write(&*self.io)?;
        Ok(())
    }
}

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
#[derive(Debug)]
pub struct Receiver {
    io: Arc<UnixStream>,
    dec: Decoder,
    eof: bool,
    busy_poll: Duration,
}

impl Receiver {
    /// The next user message; `Ok(None)` after a clean disconnect. Internal
    /// messages are skipped. See [`crate::channel::Receiver::recv`].
    pub fn recv<T: DeserializeOwned>(&mut self) -> Result<Option<T>> {
        loop {
            if let Some(msg) = self.dec.user() {
                return msg.map(Some);
            }
            if !self.fill()? {
                self.dec.finish()?;
                return Ok(None);
            }
        }
    }

    /// Bytes received and not yet returned as messages.
    pub fn buffered(&self) -> usize {
        self.dec.buffered()
    }

    /// The next message, user or internal.
    pub fn recv_message<T: DeserializeOwned>(&mut self) -> Result<Option<Message<T>>> {
        loop {
            if let Some(msg) = self.dec.message() {
                return msg.map(Some);
            }
            if !self.fill()? {
                self.dec.finish()?;
                return Ok(None);
            }
        }
    }

    /// How long `recv` polls before it sleeps in the kernel; see
    /// [`crate::Receiver::set_busy_poll`] (the same default and reasons).
    pub fn set_busy_poll(&mut self, spin: Duration) {
        self.busy_poll = spin;
    }

    /// Reads once into the decoder's buffer; `false` at end of stream.
    fn fill(&mut self) -> Result<bool> {
        let until = Instant::now() + self.busy_poll;
        while !self.eof {
            let read = if Instant::now() < until {
                sys::recv_into_nowait(&*self.io, self.dec.read_buf())
            } else {
                sys::recv_into(&*self.io, self.dec.read_buf())
            };
            match read {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::yield_now(),
                Ok(0) => self.eof = true,
                Ok(_) => return Ok(true),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // A reset peer is a gone peer: report it like EOF.
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => self.eof = true,
                Err(e) => return Err(e.into()),
            }
        }
        Ok(false)
    }
}
