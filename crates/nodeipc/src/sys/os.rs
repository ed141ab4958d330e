//! What differs between the Unix systems Node runs on (Linux, macOS,
//! FreeBSD, OpenBSD, illumos and their kin), all in one place.
//!
//! Each item is the one-call form on the systems that have it, per the
//! libc and rustix crates' definitions for each target, and `None` (the
//! portable sequence, which the caller then runs) elsewhere. Building with
//! `--cfg nodeipc_portable_sys` makes a Linux build choose `None` for every
//! item whose portable sequence exists on Linux, so that CI runs the
//! sequences macOS and illumos run (`.ci/run`). Both forms are type-checked
//! on Linux, one per build; the few lines no Linux build compiles are
//! marked "not compiled on Linux" and listed in `docs/portability.md`.

use std::io;
use std::os::fd::BorrowedFd;

use rustix::io::Errno;
use rustix::net::{SendFlags, SocketFlags};

/// Defines `$name` as `$one_call` on the systems listed (unless
/// `nodeipc_portable_sys` is set) and as `$portable` everywhere else: the
/// two cfgs are complements by construction.
macro_rules! per_os {
    ($(#[$doc:meta])* const $name:ident: $ty:ty =
        if target_os in [$($os:literal),+] { $one_call:expr } else { $portable:expr };) => {
        $(#[$doc])*
        #[cfg(all(not(nodeipc_portable_sys), any($(target_os = $os),+)))]
        pub(super) const $name: $ty = $one_call;
        $(#[$doc])*
        #[cfg(not(all(not(nodeipc_portable_sys), any($(target_os = $os),+))))]
        pub(super) const $name: $ty = $portable;
    };
}

per_os! {
    /// `SOCK_CLOEXEC`: `socketpair` makes close-on-exec sockets. rustix
    /// has it for every target but Apple's, AIX and Haiku; std's
    /// `UnixStream::pair` uses it on all of these (not on Solaris), libuv
    /// on Linux and FreeBSD only. Elsewhere: `socketpair`, then
    /// `FD_CLOEXEC` on both ends.
    const SOCK_CLOEXEC: Option<SocketFlags> = if target_os in [
        "linux", "android", "freebsd", "dragonfly", "netbsd", "openbsd", "illumos"
    ] {
        Some(SocketFlags::CLOEXEC)
    } else {
        None
    };
}

per_os! {
    /// `MSG_CMSG_CLOEXEC`: `recvmsg` installs the fds it receives
    /// close-on-exec. The systems where both libc defines it and rustix
    /// offers it, which are also the ones where libuv uses it
    /// (`uv__recvmsg`); libc has it for illumos too, rustix and libuv do
    /// not use it there. Elsewhere: `recvmsg`, then `FD_CLOEXEC` on every
    /// fd received.
    const MSG_CMSG_CLOEXEC: Option<libc::c_int> = if target_os in [
        "linux", "android", "freebsd", "dragonfly", "netbsd", "openbsd"
    ] {
        Some(libc::MSG_CMSG_CLOEXEC)
    } else {
        None
    };
}

/// `getsockopt(SO_ACCEPTCONN)`: whether a stream socket is listening.
type AcceptConn = fn(BorrowedFd<'_>) -> rustix::io::Result<bool>;

per_os! {
    /// `SO_ACCEPTCONN`. Apple's systems declare it but do not implement it
    /// (rustix leaves it out there). Elsewhere a stream socket with no peer
    /// ([`listening`]) counts as listening.
    const SO_ACCEPTCONN: Option<AcceptConn> = if target_os in [
        "linux", "android", "freebsd", "dragonfly", "netbsd", "openbsd", "illumos", "solaris"
    ] {
        Some(|fd| rustix::net::sockopt::socket_acceptconn(fd))
    } else {
        None
    };
}

/// Whether the stream socket `fd` is listening. Without `SO_ACCEPTCONN`:
/// `getpeername` fails with `ENOTCONN` on a listening socket and succeeds
/// on a connected one, so a stream socket not yet connected, or whose
/// connection was reset, counts as listening too (a `net.Socket` that is
/// already dead, refused as the wrong kind).
pub(super) fn listening(fd: BorrowedFd<'_>) -> bool {
    match SO_ACCEPTCONN {
        Some(acceptconn) => acceptconn(fd).unwrap_or(false),
        None => rustix::net::getpeername(fd) == Err(Errno::NOTCONN),
    }
}

/// The `send` flag that turns `SIGPIPE` on a closed peer into `EPIPE`:
/// `MSG_NOSIGNAL`, which rustix (and every system here) has but Apple's;
/// there [`forbid_sigpipe`] sets `SO_NOSIGPIPE` on the socket instead.
/// Linux has no `SO_NOSIGPIPE`, so `nodeipc_portable_sys` leaves this
/// alone.
#[cfg(not(target_vendor = "apple"))]
pub(super) const SEND_NOSIGNAL: SendFlags = SendFlags::NOSIGNAL;
/// See above. Not compiled on Linux.
#[cfg(target_vendor = "apple")]
pub(super) const SEND_NOSIGNAL: SendFlags = SendFlags::empty();

/// Where [`SEND_NOSIGNAL`] is empty, sets `SO_NOSIGPIPE` on a socket we
/// are going to send on.
pub(super) fn forbid_sigpipe(fd: BorrowedFd<'_>) -> io::Result<()> {
    // Not compiled on Linux.
    #[cfg(target_vendor = "apple")]
    rustix::net::sockopt::set_socket_nosigpipe(fd, true)?;
    #[cfg(not(target_vendor = "apple"))]
    let _ = fd;
    Ok(())
}
