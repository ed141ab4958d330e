//! The operating-system layer: socketpair, fd flags, placing the channel in
//! a child, adopting an inherited fd. All of the crate's `unsafe` is here.
//!
//! One code path for every Unix Node runs on: OS calls go through rustix,
//! and libc only where rustix cannot do the job (`recvmsg` into an
//! uninitialized buffer, `fcntl` and `dup2` on fd numbers no `OwnedFd` or
//! `BorrowedFd` may stand for). What differs between systems is chosen in
//! [`os`]; docs/portability.md says what is tested where.

mod os;

use std::io::{self, IoSlice};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use rustix::fs::{FileType, fstat};
use rustix::io::{Errno, FdFlags, fcntl_setfd};
use rustix::net::{
    AddressFamily, SendAncillaryBuffer, SendAncillaryMessage, SocketFlags, SocketType, send,
    sendmsg, socketpair, sockopt,
};

/// A connected pair of unix stream sockets, both CLOEXEC, as libuv makes
/// for `'ipc'` (docs/protocol.md §1.1).
///
/// Without `SOCK_CLOEXEC` (macOS) the sockets exist without CLOEXEC until
/// the `fcntl`s, as libuv's `uv_socketpair` and std's `UnixStream::pair`
/// have them there: a `fork` + `exec` on another thread in that window
/// gives that child copies of them (so our peer would see end of stream
/// only once that child exits too). Closing the window would take a lock
/// every `fork` in the process honours, and there is none (std, tokio and
/// other libraries fork on their own). It never reaches our own children:
/// `Command::spawn` makes the pair on the thread that then forks.
pub(crate) fn stream_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    let flags = os::SOCK_CLOEXEC.unwrap_or(SocketFlags::empty());
    let (a, b) = socketpair(AddressFamily::UNIX, SocketType::STREAM, flags, None)?;
    if os::SOCK_CLOEXEC.is_none() {
        fcntl_setfd(&a, FdFlags::CLOEXEC)?;
        fcntl_setfd(&b, FdFlags::CLOEXEC)?;
    }
    Ok((a, b))
}

/// Makes `fd` ready to carry a channel: non-blocking, and where the system
/// has no `MSG_NOSIGNAL` (macOS), `SO_NOSIGPIPE` so that our sends on it
/// never raise `SIGPIPE`.
pub(crate) fn prepare_channel(fd: impl AsFd) -> io::Result<()> {
    let fd = fd.as_fd();
    set_nonblocking(fd, true)?;
    os::forbid_sigpipe(fd)
}

/// Sets or clears `O_NONBLOCK`.
pub(crate) fn set_nonblocking(fd: impl AsFd, on: bool) -> io::Result<()> {
    Ok(rustix::io::ioctl_fionbio(fd, on)?)
}

/// Writes as much of `buf` as the socket takes, without `SIGPIPE` (a dead
/// peer is an `EPIPE` error, not a dead process).
pub(crate) fn send_nosignal(fd: impl AsFd, buf: &[u8]) -> io::Result<usize> {
    Ok(send(fd, buf, os::SEND_NOSIGNAL)?)
}

/// Shuts down our sending direction: the peer reads EOF (Node sees
/// `'disconnect'`), while what it already sent can still be read here.
pub(crate) fn shutdown_write(fd: impl AsFd) -> io::Result<()> {
    Ok(rustix::net::shutdown(fd, rustix::net::Shutdown::Write)?)
}

/// Marks a bound socket as listening (`listen(2)`), with room for
/// `backlog` pending connections; a socket that listens already keeps
/// listening with the new backlog. (Only the cluster worker listens, and
/// it needs tokio.)
#[cfg(feature = "tokio")]
pub(crate) fn listen(fd: impl AsFd, backlog: i32) -> io::Result<()> {
    Ok(rustix::net::listen(fd, backlog)?)
}

/// A socket type that owns its fd, for [`readiness`].
#[cfg(feature = "tokio")]
pub(crate) trait OwnsFd: AsRawFd {}
#[cfg(feature = "tokio")]
impl OwnsFd for std::net::TcpListener {}
#[cfg(feature = "tokio")]
impl OwnsFd for std::os::unix::net::UnixListener {}
#[cfg(feature = "tokio")]
impl OwnsFd for std::os::unix::net::UnixStream {}
#[cfg(feature = "tokio")]
impl OwnsFd for OwnedFd {}

/// `s` (non-blocking) registered with tokio for `interest` alone. A
/// listening socket so registered accepts sockets tokio never sees (the
/// cluster primary hands connections to workers as they are); a channel
/// registered for reading only is not woken each time the peer reads (see
/// the tokio driver).
#[cfg(feature = "tokio")]
pub(crate) fn readiness<S: OwnsFd>(
    s: S,
    interest: tokio::io::Interest,
) -> io::Result<tokio::io::unix::AsyncFd<S>> {
    // SAFETY: `S` owns its fd (`OwnsFd` is implemented only for std socket
    // types and `OwnedFd`, which close it on drop and never replace it),
    // and the `AsyncFd` owns `S`: the fd stays open and the same while it
    // is registered, and is deregistered before it closes.
    let registered = unsafe { tokio::io::unix::AsyncFd::register_with_interest(s, interest) };
    registered.map_err(io::Error::from)
}

/// Sleeps until `fd` is readable (`read`) or writable (`write`): the
/// blocking channel's wait, on a non-blocking socket. `true` if it is
/// writable (or in error: a write tells which).
pub(crate) fn wait(fd: impl AsFd, read: bool, write: bool) -> io::Result<bool> {
    use rustix::event::{PollFd, PollFlags, poll};
    let mut flags = PollFlags::empty();
    flags.set(PollFlags::IN, read);
    flags.set(PollFlags::OUT, write);
    let mut fds = [PollFd::new(&fd, flags)];
    loop {
        match poll(&mut fds, None) {
            Ok(_) => break,
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let got = fds[0].revents();
    Ok(got.intersects(PollFlags::OUT | PollFlags::ERR | PollFlags::HUP | PollFlags::NVAL))
}

/// Writes as much of `buf` as the socket takes, with `fd` attached as one
/// `SCM_RIGHTS` fd, as libuv's `uv_write2` sends a handle (docs/protocol.md
/// §4.3): the fd rides on the first byte. No `SIGPIPE`.
pub(crate) fn send_with_fd(sock: impl AsFd, buf: &[u8], fd: BorrowedFd<'_>) -> io::Result<usize> {
    let fds = [fd];
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !control.push(SendAncillaryMessage::ScmRights(&fds)) {
        return Err(io::Error::other("control buffer too small for one fd"));
    }
    Ok(sendmsg(
        sock,
        &[IoSlice::new(buf)],
        &mut control,
        os::SEND_NOSIGNAL,
    )?)
}

/// Fds one `recvmsg` has room for at least. Node sends one per message; a
/// peer that sends more in one write than the control buffer holds (16 on
/// Linux: the buffer also has room for the `cmsghdr`, which the fds use when
/// it is not needed) gets [`Received::truncated`].
const MAX_FDS_PER_READ: usize = 4;

/// What one [`recv_with_fds`] call read.
#[derive(Debug)]
pub(crate) struct Received {
    /// Bytes appended to the buffer (0 at end of stream).
    pub(crate) len: usize,
    /// The kernel dropped control data (`MSG_CTRUNC`): more fds than
    /// [`MAX_FDS_PER_READ`] came with the bytes, or this process could not
    /// take them (out of fds). What did arrive is in `fds` and is closed by
    /// the caller like any other fd. Also set, with that fd closed, if an
    /// fd received without `MSG_CMSG_CLOEXEC` could not be made
    /// close-on-exec (`F_SETFD` fails only on an fd that is not open, so
    /// this is not expected).
    pub(crate) truncated: bool,
}

/// Reads into the spare capacity of `buf` (appending to it) with
/// `recvmsg`, taking the fds that came with the bytes into `fds`, each
/// close-on-exec before this returns. With `nowait` it never blocks,
/// whatever the fd's mode.
///
/// Why not rustix's `recvmsg`: it takes initialized `IoSliceMut`s, and the
/// read buffer's spare capacity is not initialized; zeroing 64 KiB before
/// every read would cost more than the read of a small message.
///
/// Close-on-exec: with `MSG_CMSG_CLOEXEC` the kernel installs the fds so;
/// without it (macOS, illumos) they are made so here, one `fcntl` each,
/// before any of them is handed on. In between, a `fork` + `exec` on
/// another thread gives that child copies of them, as it does under Node
/// (libuv's `uv__recvmsg` takes the same steps there); no lock that every
/// `fork` in the process honours exists to close the window, which lasts
/// a few system calls. No code of the caller's can run in it: the fds
/// are not returned before they are close-on-exec.
pub(crate) fn recv_with_fds(
    sock: impl AsFd,
    buf: &mut Vec<u8>,
    fds: &mut Vec<OwnedFd>,
    nowait: bool,
) -> io::Result<Received> {
    // u64s keep the control buffer aligned for `cmsghdr`.
    let mut control = [0u64; (MAX_FDS_PER_READ * 4 + 64) / 8];
    let spare = buf.spare_capacity_mut();
    let mut iov = libc::iovec {
        iov_base: spare.as_mut_ptr().cast(),
        iov_len: spare.len(),
    };
    // SAFETY: an all-zero msghdr is a valid empty one (null pointers, zero
    // lengths) on every target: libc declares it a plain C struct.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control) as _;
    let flags = os::MSG_CMSG_CLOEXEC.unwrap_or(0) | if nowait { libc::MSG_DONTWAIT } else { 0 };
    // SAFETY: `msg` points at one iovec covering exactly the spare capacity
    // of `buf` (writable, possibly uninitialized memory, which the kernel
    // only writes) and at `control`, with their true lengths; both outlive
    // the call.
    let n = unsafe { libc::recvmsg(sock.as_fd().as_raw_fd(), &mut msg, flags) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let len = n as usize;
    let mut truncated = msg.msg_flags & libc::MSG_CTRUNC != 0;
    // Take the fds before anything can fail, so that none leaks.
    // SAFETY: `msg` was filled in by a successful recvmsg; the CMSG macros
    // walk its control buffer within `msg_controllen`.
    let mut cmsg = unsafe { libc::CMSG_FIRSTHDR(&msg) };
    while !cmsg.is_null() {
        // SAFETY: `cmsg` is a non-null header inside the control buffer.
        let hdr = unsafe { &*cmsg };
        if hdr.cmsg_level == libc::SOL_SOCKET && hdr.cmsg_type == libc::SCM_RIGHTS {
            // SAFETY: CMSG_LEN(0) is a constant computation.
            let header = unsafe { libc::CMSG_LEN(0) } as usize;
            let count = (hdr.cmsg_len as usize).saturating_sub(header) / size_of::<RawFd>();
            // SAFETY: CMSG_DATA points at `count` fds the kernel installed
            // in this process for us (cmsg_len covers them); they are ours
            // to own, and each is taken once. The data may be unaligned.
            let data = unsafe { libc::CMSG_DATA(cmsg) }.cast::<RawFd>();
            for i in 0..count {
                // SAFETY: as above, `i < count`.
                let raw = unsafe { data.add(i).read_unaligned() };
                // SAFETY: a freshly received fd that nothing else owns.
                let fd = unsafe { OwnedFd::from_raw_fd(raw) };
                if os::MSG_CMSG_CLOEXEC.is_none() && fcntl_setfd(&fd, FdFlags::CLOEXEC).is_err() {
                    truncated = true; // and `fd` is closed
                    continue;
                }
                fds.push(fd);
            }
        }
        // SAFETY: as for CMSG_FIRSTHDR.
        cmsg = unsafe { libc::CMSG_NXTHDR(&msg, cmsg) };
    }
    // SAFETY: the kernel wrote `len` bytes at the start of the spare
    // capacity.
    unsafe { buf.set_len(buf.len() + len) };
    Ok(Received { len, truncated })
}

/// A close-on-exec duplicate of `fd`, for a handle we send while the
/// caller keeps its own.
pub(crate) fn dup(fd: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    Ok(rustix::io::fcntl_dupfd_cloexec(fd, 0)?)
}

/// What kind of socket `fd` is, for a handle whose kind the peer did not
/// say (`net.Native`) or to check what it did say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SocketInfo {
    pub(crate) unix: bool,
    pub(crate) ipv6: bool,
    pub(crate) stream: bool,
    pub(crate) listening: bool,
}

/// `None` if `fd` is not a socket (a pipe, a file).
pub(crate) fn socket_info(fd: BorrowedFd<'_>) -> Option<SocketInfo> {
    let stat = fstat(fd).ok()?;
    if FileType::from_raw_mode(stat.st_mode) != FileType::Socket {
        return None;
    }
    let domain = domain(fd)?;
    let stream = sockopt::socket_type(fd).ok()? == SocketType::STREAM;
    Some(SocketInfo {
        unix: domain == AddressFamily::UNIX,
        ipv6: domain == AddressFamily::INET6,
        stream,
        listening: stream && os::listening(fd),
    })
}

/// The address family of the socket `fd`. From `getsockname`, which every
/// system has, rather than `SO_DOMAIN`, which macOS lacks: an unbound unix
/// socket (a socketpair's) still reports `AF_UNIX` there, on Linux and
/// on the BSDs.
fn domain(fd: BorrowedFd<'_>) -> Option<AddressFamily> {
    Some(rustix::net::getsockname(fd).ok()?.address_family())
}

/// Which fd the next spawned child gets at which number: written by the
/// parent before each spawn, read in the child between fork and exec.
#[derive(Debug, Default)]
pub(crate) struct FdPlacement {
    src: AtomicI32,
    target: AtomicI32,
}

impl FdPlacement {
    /// The next spawn puts `src` at `target`.
    pub(crate) fn set(&self, src: RawFd, target: RawFd) {
        self.src.store(src, Ordering::Relaxed);
        self.target.store(target, Ordering::Relaxed);
    }

    /// No spawn is under way: a spawn now (through the underlying command,
    /// bypassing ours) fails instead of placing a stale fd number.
    pub(crate) fn clear(&self) {
        self.src.store(-1, Ordering::Relaxed);
    }
}

/// A CLOEXEC duplicate of `fd` numbered `min` or above. If the number is
/// exactly `min`, nothing else can hold that number when the child is set
/// up (std's exec-error pipe included); if it is above, `min` is taken by
/// some fd of ours, which the child's `dup2` then replaces in the child only.
/// One window is left: another thread that closes the fd at `min` while
/// the spawn runs frees the number for std's pipe, and a failed `exec` then
/// reads as a child whose channel ends at once (`tests/exec_error.rs` runs
/// alone in its binary for that reason).
pub(crate) fn dup_at_or_above(fd: impl AsFd, min: RawFd) -> io::Result<OwnedFd> {
    Ok(rustix::io::fcntl_dupfd_cloexec(fd, min)?)
}

/// Arranges for children spawned from `cmd` to find the fd named by
/// `placement` at its target number, without CLOEXEC; every other fd of
/// ours stays CLOEXEC. One registration serves every spawn of `cmd`.
pub(crate) fn place_fd_in_child(cmd: &mut std::process::Command, placement: Arc<FdPlacement>) {
    let hook = move || {
        let src = placement.src.load(Ordering::Relaxed);
        let target = placement.target.load(Ordering::Relaxed);
        if src < 0 {
            return Err(Errno::BADF.into());
        }
        if src == target {
            // dup2 onto itself keeps CLOEXEC: clear it instead.
            // SAFETY: `src` is open (the parent holds it until spawn
            // returns) and stays open while borrowed here.
            let fd = unsafe { BorrowedFd::borrow_raw(src) };
            fcntl_setfd(fd, FdFlags::empty())?;
        // SAFETY: dup2 is async-signal-safe; `src` is open (as above) and
        // `target` is a plain fd number, which may be open or not: that is
        // why this is libc's dup2, rustix's wants an `OwnedFd` there.
        } else if unsafe { libc::dup2(src, target) } == -1 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    };
    // SAFETY: the hook runs between fork and exec and calls only
    // async-signal-safe functions (atomic loads, fcntl, dup2: rustix's
    // fcntl_setfd is the fcntl system call or libc's fcntl); it allocates
    // nothing and takes no lock (io::Error from an OS error code does not
    // allocate).
    unsafe {
        cmd.pre_exec(hook);
    }
}

/// Set once an inherited channel fd has been adopted, so that two calls
/// can never make two owners of one fd.
static ADOPTED: AtomicBool = AtomicBool::new(false);

/// Why an inherited fd cannot be the channel.
pub(crate) enum AdoptError {
    NotOpen,
    CloseOnExec,
    NotASocket,
    WrongSocket,
    AlreadyAdopted,
    Io(io::Error),
}

/// Takes ownership of the inherited fd `fd` after checking that it is an
/// open unix stream socket that came through `exec`; makes it CLOEXEC so
/// grandchildren do not inherit it (as Node does). Succeeds once per
/// process.
///
/// Ownership is the delicate part: nothing may own the fd already. An fd
/// that survived `exec` had CLOEXEC clear; Rust's std, tokio, mio and
/// rustix set CLOEXEC on every fd they create. So an fd with CLOEXEC set
/// was made (or adopted) in this process and is refused — which is what
/// protects a grandchild that inherited `NODE_CHANNEL_FD` without the fd,
/// where the number may be one of its own sockets.
pub(crate) fn adopt_inherited_fd(fd: RawFd) -> Result<OwnedFd, AdoptError> {
    if ADOPTED.load(Ordering::SeqCst) {
        return Err(AdoptError::AlreadyAdopted);
    }
    if fd < 0 {
        return Err(AdoptError::NotOpen);
    }
    // SAFETY: F_GETFD on any number only reads this process's fd table; an
    // fd that is not open gives EBADF. (libc's fcntl: rustix's takes a
    // `BorrowedFd`, which may only stand for an open fd.)
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    if flags == -1 {
        return Err(AdoptError::NotOpen);
    }
    if flags & libc::FD_CLOEXEC != 0 {
        return Err(AdoptError::CloseOnExec);
    }
    // SAFETY: `fd` is open (just checked) and stays open while borrowed:
    // nothing in this function closes it.
    let borrowed = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
    let stat = fstat(borrowed).map_err(|e| AdoptError::Io(e.into()))?;
    if FileType::from_raw_mode(stat.st_mode) != FileType::Socket {
        return Err(AdoptError::NotASocket);
    }
    let unix_stream = sockopt::socket_type(borrowed).ok() == Some(SocketType::STREAM)
        && domain(borrowed) == Some(AddressFamily::UNIX);
    if !unix_stream {
        return Err(AdoptError::WrongSocket);
    }
    if ADOPTED.swap(true, Ordering::SeqCst) {
        return Err(AdoptError::AlreadyAdopted);
    }
    // SAFETY: `fd` is open, came through exec (CLOEXEC clear, so no
    // CLOEXEC-setting code in this process made it) and is named by the
    // parent as the channel; ADOPTED makes this the only owner this crate
    // ever creates. The residual assumption, documented on `from_env`, is
    // that no other code in the process took the same inherited fd.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    fcntl_setfd(&owned, FdFlags::CLOEXEC).map_err(|e| AdoptError::Io(e.into()))?;
    Ok(owned)
}

/// Removes `names` from this process's environment.
///
/// # Safety
///
/// No other thread may read or write the environment at the same time
/// (see [`std::env::remove_var`]).
pub(crate) unsafe fn remove_env(names: &[&str]) {
    for name in names {
        // SAFETY: forwarded to the caller.
        unsafe { std::env::remove_var(name) };
    }
}
