//! The channel: one I/O-free core and two thin drivers.
//!
//! - `core` (private) makes every protocol decision: decoding, the send
//!   queue and batching, handle ACK/NACK and the queue behind a pending
//!   handle, read-ahead and its bound, the busy-poll policy. It does no
//!   I/O and never waits.
//! - [`Channel`], [`Sender`], [`Receiver`] (this module; feature `tokio`,
//!   on by default) drive it on tokio.
//! - [`blocking`] drives it on std I/O, waiting in `poll(2)`; it needs no
//!   runtime.
//!
//! See `docs/architecture.md` in the repository for how a message travels
//! through the layers.

/// The constructors and `split` that both drivers' `Channel`s have, written
/// once; each ends in the driver's own `from_fd`. `$check` runs before an
/// inherited fd is adopted (failing after that would close it).
macro_rules! channel_constructors {
    ($($check:tt)*) => {
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
            $($check)*
            let (fd, serialization) = crate::child::inherited_channel()?;
            Channel::from_fd(fd, serialization, limits)
        }

        /// Splits into a sending and a receiving half, to be used from
        /// different tasks or threads.
        pub fn split(self) -> (Sender, Receiver) {
            (self.tx, self.rx)
        }

        /// The two halves around the state `shared` makes of `fd` (made
        /// non-blocking first: the drivers wait in their own way; and
        /// without `SIGPIPE` where that is a socket option, see
        /// `sys::prepare_channel`).
        fn assemble(
            fd: OwnedFd,
            limits: &Limits,
            shared: impl FnOnce(OwnedFd) -> std::io::Result<Shared>,
        ) -> Result<Channel> {
            sys::prepare_channel(&fd)?;
            let shared = Arc::new(shared(fd)?);
            Ok(Channel {
                rx: Receiver {
                    shared: shared.clone(),
                    busy_poll: DEFAULT_BUSY_POLL,
                    ready: Ready::default(),
                },
                tx: Sender {
                    shared,
                    half: SendHalf::new(limits),
                },
            })
        }
    };
}

/// A driver's `Channel` type: its two halves, with the docs given.
macro_rules! channel_type {
    ($(#[$doc:meta])*) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct Channel {
            // The receiving half drops first: the sending half's last
            // flush then knows nobody is left to receive.
            rx: Receiver,
            tx: Sender,
        }
    };
}

pub mod blocking;
mod core;
#[cfg(feature = "tokio")]
mod tokio;

#[cfg(feature = "tokio")]
pub use self::tokio::{Channel, Receiver, Sender};
#[cfg(feature = "futures")]
pub use self::tokio::{RecvStream, SendSink};

use std::io;
use std::os::fd::BorrowedFd;
#[cfg(feature = "tokio")]
use std::{future::Future, pin::pin, task::Poll};

use crate::sys;

/// Ends the channel in the sending direction for `half` (the peer reads
/// EOF and sees `'disconnect'`), without writing what is queued.
fn shut_write<S: std::os::fd::AsFd + std::os::fd::AsRawFd>(
    half: &mut core::SendHalf,
    sock: &S,
) -> crate::Result<()> {
    event!(
        debug,
        sock.as_raw_fd(),
        "disconnect: channel shut for writing"
    );
    half.close();
    sys::shutdown_write(sock)?;
    Ok(())
}

/// One write to the socket, plain or with an fd; never waits (the socket
/// is non-blocking).
fn send_some(sock: BorrowedFd<'_>, bytes: &[u8], fd: Option<BorrowedFd<'_>>) -> io::Result<usize> {
    match fd {
        None => sys::send_nosignal(sock, bytes),
        Some(fd) => sys::send_with_fd(sock, bytes, fd),
    }
}

/// Waits for `a` or `b`, whichever comes first: `Ok` with `a`'s output,
/// `Err` with `b`'s.
#[cfg(feature = "tokio")]
pub(crate) async fn race<A, B>(
    a: impl Future<Output = A>,
    b: impl Future<Output = B>,
) -> Result<A, B> {
    let (mut a, mut b) = (pin!(a), pin!(b));
    std::future::poll_fn(|cx| match a.as_mut().poll(cx) {
        Poll::Ready(r) => Poll::Ready(Ok(r)),
        Poll::Pending => b.as_mut().poll(cx).map(Err),
    })
    .await
}
