//! Handle passing: sockets and servers sent over the channel, as Node's
//! `child.send(msg, server)` / `process.on('message', (msg, handle) => …)`
//! send them (docs/protocol.md §4).
//!
//! The message travels wrapped in an internal `NODE_HANDLE` message, the fd
//! rides on the same write as `SCM_RIGHTS`, and the receiver answers
//! `NODE_HANDLE_ACK` (or `NODE_HANDLE_NACK` when no fd arrived). Until the
//! ACK, every later message of the sender waits, as in Node.
//!
//! Sending takes anything that implements [`SendHandle`]: the std and
//! tokio TCP, unix and UDP types, by value (the channel closes its copy
//! once the peer acknowledged it, as Node closes a sent `net.Socket`) or
//! by reference (the channel sends a duplicate, and the caller keeps
//! using its own, as a Node parent keeps a `net.Server` it sent to
//! workers). Receiving gives a [`Handle`]: an enum of owned std types.
//!
//! ```no_run
//! # async fn demo() -> nodeipc::Result<()> {
//! // A supervisor hands its listening socket to a Node worker, which
//! // serves on it: process.on('message', (m, server) => server.on('connection', …))
//! let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
//! let (mut child, mut channel) = nodeipc::Command::new("node").arg("worker.js").spawn()?;
//! channel.send_with_handle(&serde_json::json!({"serve": true}), &listener).await?;
//! # Ok(()) }
//! ```
//!
//! **The fd is shared, not copied.** Both processes hold the same open
//! socket, file status flags included: Node (libuv) makes every socket it
//! receives non-blocking, for the sender too. A received handle keeps the
//! flags the sender gave it (Node's are non-blocking), which is what
//! tokio's `from_std` expects; nodeipc does not change them, since that
//! would change them under the sender.

use std::io;
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};

use crate::sys::{self, SocketInfo};

/// A socket received from the peer, owned by this process.
///
/// Which variant comes out is decided by the kernel's view of the fd (its
/// domain, type and whether it listens), checked against the `type` the
/// peer named. A Node `net.Server` arrives as `TcpListener` or
/// `UnixListener`, a `net.Socket` as `TcpStream` or `UnixStream`, a
/// `dgram.Socket` as `UdpSocket`; a `net.Native` holding a pipe or anything
/// else that is not one of these sockets arrives as `Other`.
#[derive(Debug)]
#[non_exhaustive]
pub enum Handle {
    /// A listening TCP socket (Node's `net.Server`).
    TcpListener(TcpListener),
    /// A connected TCP socket (Node's `net.Socket`).
    TcpStream(TcpStream),
    /// A listening unix socket (Node's `net.Server` on a path).
    UnixListener(UnixListener),
    /// A connected unix socket (Node's `net.Socket` over a pipe).
    UnixStream(UnixStream),
    /// A UDP socket (Node's `dgram.Socket`).
    UdpSocket(UdpSocket),
    /// Any other fd (a pipe sent as `net.Native`).
    Other(OwnedFd),
}

impl Handle {
    /// The Node type this handle is sent as, and is received as by a Node
    /// peer.
    pub fn handle_type(&self) -> HandleType {
        match self {
            Handle::TcpListener(_) | Handle::UnixListener(_) => HandleType::NetServer,
            Handle::TcpStream(_) | Handle::UnixStream(_) => HandleType::NetSocket,
            Handle::UdpSocket(_) => HandleType::DgramSocket,
            Handle::Other(_) => HandleType::NetNative,
        }
    }

    /// Makes the handle for an fd received with a `NODE_HANDLE` of type
    /// `ty`; `None` (the fd is closed) when the fd cannot be that type.
    pub(crate) fn from_received(fd: OwnedFd, ty: HandleType) -> Option<Handle> {
        let info = sys::socket_info(fd.as_fd());
        let expected = match ty {
            HandleType::NetServer => info.is_some_and(|i| i.stream && i.listening),
            HandleType::NetSocket => info.is_some_and(|i| i.stream && !i.listening),
            HandleType::DgramSocket | HandleType::DgramNative => {
                info.is_some_and(|i| !i.stream && !i.unix)
            }
            HandleType::NetNative => true,
        };
        expected.then(|| Handle::guess(fd, info))
    }

    /// The variant the kernel says `fd` is (Node's `uv_guess_handle`).
    fn guess(fd: OwnedFd, info: Option<SocketInfo>) -> Handle {
        match info {
            Some(SocketInfo {
                unix: false,
                stream: true,
                listening: true,
                ..
            }) => Handle::TcpListener(fd.into()),
            Some(SocketInfo {
                unix: false,
                stream: true,
                ..
            }) => Handle::TcpStream(fd.into()),
            Some(SocketInfo {
                unix: true,
                stream: true,
                listening: true,
                ..
            }) => Handle::UnixListener(fd.into()),
            Some(SocketInfo {
                unix: true,
                stream: true,
                ..
            }) => Handle::UnixStream(fd.into()),
            Some(SocketInfo {
                unix: false,
                stream: false,
                ..
            }) => Handle::UdpSocket(fd.into()),
            _ => Handle::Other(fd),
        }
    }
}

impl AsFd for Handle {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Handle::TcpListener(h) => h.as_fd(),
            Handle::TcpStream(h) => h.as_fd(),
            Handle::UnixListener(h) => h.as_fd(),
            Handle::UnixStream(h) => h.as_fd(),
            Handle::UdpSocket(h) => h.as_fd(),
            Handle::Other(h) => h.as_fd(),
        }
    }
}

impl From<Handle> for OwnedFd {
    fn from(h: Handle) -> OwnedFd {
        match h {
            Handle::TcpListener(h) => h.into(),
            Handle::TcpStream(h) => h.into(),
            Handle::UnixListener(h) => h.into(),
            Handle::UnixStream(h) => h.into(),
            Handle::UdpSocket(h) => h.into(),
            Handle::Other(h) => h,
        }
    }
}

/// The `type` of a `NODE_HANDLE` message: which of Node's handle classes
/// the fd stands for (docs/protocol.md §4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HandleType {
    /// `net.Server`: a listening TCP or unix socket.
    NetServer,
    /// `net.Socket`: a connected TCP or unix stream.
    NetSocket,
    /// `net.Native`: a raw libuv `TCP` or `Pipe` handle.
    NetNative,
    /// `dgram.Socket`: a UDP socket (with `dgramType` `udp4` or `udp6`).
    DgramSocket,
    /// `dgram.Native`: a raw libuv `UDP` handle.
    DgramNative,
}

impl HandleType {
    /// The name on the wire, such as `"net.Server"`.
    pub fn as_str(self) -> &'static str {
        match self {
            HandleType::NetServer => "net.Server",
            HandleType::NetSocket => "net.Socket",
            HandleType::NetNative => "net.Native",
            HandleType::DgramSocket => "dgram.Socket",
            HandleType::DgramNative => "dgram.Native",
        }
    }

    /// The type named `name` on the wire, if Node has it.
    pub fn from_name(name: &str) -> Option<HandleType> {
        [
            HandleType::NetServer,
            HandleType::NetSocket,
            HandleType::NetNative,
            HandleType::DgramSocket,
            HandleType::DgramNative,
        ]
        .into_iter()
        .find(|t| t.as_str() == name)
    }
}

/// A handle on its way out: the fd this channel owns until the peer
/// acknowledged it, and what the `NODE_HANDLE` wrapper says about it.
#[derive(Debug)]
pub struct OutgoingHandle {
    pub(crate) fd: OwnedFd,
    pub(crate) ty: HandleType,
    pub(crate) dgram_type: Option<&'static str>,
}

impl OutgoingHandle {
    /// A handle of type `ty` for `fd`, switched to non-blocking mode. The
    /// std and tokio socket types do this for you through [`SendHandle`];
    /// use it for an fd of another origin (`HandleType::NetNative` for a
    /// pipe).
    ///
    /// Why non-blocking: libuv takes a received fd as it is and expects it
    /// non-blocking (a Node sender's always are). A blocking listener
    /// freezes the Node peer's event loop at its second `accept`, observed
    /// as a Node child that never answered. The mode belongs to the open
    /// socket, so a copy the caller keeps (a handle sent by reference)
    /// becomes non-blocking too.
    pub fn new(fd: OwnedFd, ty: HandleType) -> io::Result<OutgoingHandle> {
        sys::set_nonblocking(&fd, true)?;
        let dgram_type = matches!(ty, HandleType::DgramSocket).then(|| udp_type(fd.as_fd()));
        Ok(OutgoingHandle { fd, ty, dgram_type })
    }

    /// The type it is sent as.
    pub fn handle_type(&self) -> HandleType {
        self.ty
    }
}

/// `udp4` or `udp6`, the `dgramType` Node needs to rebuild a
/// `dgram.Socket`.
fn udp_type(fd: BorrowedFd<'_>) -> &'static str {
    match sys::socket_info(fd) {
        Some(SocketInfo { ipv6: true, .. }) => "udp6",
        _ => "udp4",
    }
}

/// What [`send_with_handle`](crate::Channel::send_with_handle) takes.
///
/// By value, the socket is moved into the channel and closed once the
/// peer acknowledged it (Node closes a sent `net.Socket` the same way).
/// By reference, the channel sends a duplicate fd and closes that, so the
/// caller keeps its socket (Node's `keepOpen`, and what Node does for a
/// `net.Server`). Either way the socket is made non-blocking first (see
/// [`OutgoingHandle::new`]). Implemented for the std and tokio TCP, unix and UDP
/// types, for [`Handle`] (to pass a received handle on) and for
/// [`OutgoingHandle`].
pub trait SendHandle {
    /// The fd to send and its type.
    fn into_outgoing(self) -> io::Result<OutgoingHandle>;
}

impl SendHandle for OutgoingHandle {
    fn into_outgoing(self) -> io::Result<OutgoingHandle> {
        Ok(self)
    }
}

impl SendHandle for Handle {
    fn into_outgoing(self) -> io::Result<OutgoingHandle> {
        let ty = self.handle_type();
        OutgoingHandle::new(self.into(), ty)
    }
}

impl SendHandle for &Handle {
    fn into_outgoing(self) -> io::Result<OutgoingHandle> {
        OutgoingHandle::new(sys::dup(self.as_fd())?, self.handle_type())
    }
}

/// `SendHandle` for a socket type, owned (moved in) and borrowed (a
/// duplicate goes out).
macro_rules! send_handle {
    ($ty:expr => $($t:ty),+) => {$(
        impl SendHandle for $t {
            fn into_outgoing(self) -> io::Result<OutgoingHandle> {
                OutgoingHandle::new(owned_fd(self)?, $ty)
            }
        }
        impl SendHandle for &$t {
            fn into_outgoing(self) -> io::Result<OutgoingHandle> {
                OutgoingHandle::new(sys::dup(self.as_fd())?, $ty)
            }
        }
    )+};
}

send_handle!(HandleType::NetServer => TcpListener, UnixListener);
send_handle!(HandleType::NetSocket => TcpStream, UnixStream);
send_handle!(HandleType::DgramSocket => UdpSocket);
#[cfg(feature = "tokio")]
send_handle!(HandleType::NetServer => tokio::net::TcpListener, tokio::net::UnixListener);
#[cfg(feature = "tokio")]
send_handle!(HandleType::NetSocket => tokio::net::TcpStream, tokio::net::UnixStream);
#[cfg(feature = "tokio")]
send_handle!(HandleType::DgramSocket => tokio::net::UdpSocket);

/// The fd of a socket moved into the channel.
fn owned_fd(socket: impl IntoStd) -> io::Result<OwnedFd> {
    socket.into_owned_fd()
}

/// Std and tokio sockets give up their fd differently (tokio's through
/// `into_std`, which deregisters it from the runtime).
trait IntoStd {
    fn into_owned_fd(self) -> io::Result<OwnedFd>;
}

macro_rules! into_std {
    (std: $($t:ty),+) => {$(
        impl IntoStd for $t {
            fn into_owned_fd(self) -> io::Result<OwnedFd> {
                Ok(self.into())
            }
        }
    )+};
    (tokio: $($t:ty),+) => {$(
        impl IntoStd for $t {
            fn into_owned_fd(self) -> io::Result<OwnedFd> {
                Ok(self.into_std()?.into())
            }
        }
    )+};
}

into_std!(std: TcpListener, UnixListener, TcpStream, UnixStream, UdpSocket);
#[cfg(feature = "tokio")]
into_std!(tokio: tokio::net::TcpListener, tokio::net::UnixListener, tokio::net::TcpStream,
    tokio::net::UnixStream, tokio::net::UdpSocket);
