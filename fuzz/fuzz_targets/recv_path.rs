//! Fuzzes the whole receive path of a real channel: a hostile peer writes
//! bytes and fds over a socket pair to a `blocking::Channel`, which decodes
//! them, acts on the internal messages (`NODE_HANDLE` wrappers, ACK/NACK,
//! `NODE_SOCKET_*`), matches fds to handle messages and answers them.
//!
//! Input layout: byte 0: bit 0 picks the serialization (`json` or
//! `advanced`), bit 1 "send first" (the channel first sends a handle of its
//! own, so the peer's messages are read ahead while it waits for the ACK,
//! and come out of the read-ahead queue), bits 2..=4 `max_pending_fds`
//! (0 to 7); byte 1: `max_message_len` = 16·b + 1 (1 to 4081); byte 2:
//! `max_read_ahead` = 16·b (0 to 4080). The rest is a list of writes, each
//! `[kind][len − 1][len bytes]` (the last one may be short): kind & 7 says
//! which fds ride on that write as `SCM_RIGHTS`: 1 a unix stream socket,
//! 2 `/dev/null`, 3 a UDP socket, 4 a listening TCP socket, 5 a unix socket
//! and `/dev/null` together, 6 24 fds (more than the channel takes from one
//! read: the kernel truncates them), anything else none. So `net.Socket`,
//! `net.Server`, `net.Native` and `dgram.Socket` handle messages see the fd
//! they name, a wrong one, two, or none. A writer thread sends the writes,
//! shuts its end for writing and reads whatever the channel answers until
//! the channel is dropped.
//!
//! The receiver calls `recv_with_handle::<nodeipc::Value>()` (`advanced`) or
//! `recv_with_handle::<serde_json::Value>()` (`json`) until `Ok(None)` or an
//! error that is not recoverable. Checked: no panic and no hang (the loop
//! is bounded by the input's size); the only error that is not recoverable
//! is `UnexpectedEof`, and it comes exactly when the stream ends inside a
//! message; after the end, further `recv`s give at most the errors for fds
//! nobody claimed, then `Ok(None)` again and again; every complete message
//! that is not internal gives one result (a message or an error: a
//! recoverable error does not stop the channel), an internal one at most
//! one; a handle returned is one of the fds the peer sent, of the variant
//! the kernel says it is; and no fd leaks: once the channel and the handles
//! are dropped, `/proc/self/fd` has as many entries as before the input.

#![no_main]

use std::collections::HashMap;
use std::fs::File;
use std::io::{IoSlice, Read};
use std::mem::MaybeUninit;
use std::net::{Shutdown, TcpListener, UdpSocket};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use nodeipc::blocking::Channel;
use nodeipc::codec::Serialization;
use nodeipc::{Error, Handle, Limits};
use rustix::net::{SendAncillaryBuffer, SendAncillaryMessage, SendFlags, sendmsg};
use serde::de::DeserializeOwned;

/// What a sent fd is, as the kernel sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    UnixStream,
    DevNull,
    Udp,
    TcpListener,
}

/// The fds the peer sends duplicates of, made once (so they are open
/// both times the fds are counted).
struct Fds {
    /// A unix stream socket (one end of a pair; the other is kept open).
    stream: (UnixStream, UnixStream),
    null: File,
    /// `None` if this machine has no loopback network.
    udp: Option<UdpSocket>,
    tcp: Option<TcpListener>,
    /// What each fd is, by (device, inode).
    kinds: HashMap<(u64, u64), Kind>,
}

fn fds() -> &'static Fds {
    static FDS: OnceLock<Fds> = OnceLock::new();
    FDS.get_or_init(|| {
        let stream = UnixStream::pair().expect("socketpair");
        let null = File::open("/dev/null").expect("/dev/null");
        let udp = UdpSocket::bind("127.0.0.1:0").ok();
        let tcp = TcpListener::bind("127.0.0.1:0").ok();
        let mut kinds = HashMap::new();
        kinds.insert(id(stream.0.as_fd()), Kind::UnixStream);
        kinds.insert(id(null.as_fd()), Kind::DevNull);
        if let Some(u) = &udp {
            kinds.insert(id(u.as_fd()), Kind::Udp);
        }
        if let Some(t) = &tcp {
            kinds.insert(id(t.as_fd()), Kind::TcpListener);
        }
        Fds {
            stream,
            null,
            udp,
            tcp,
            kinds,
        }
    })
}

fn id(fd: BorrowedFd<'_>) -> (u64, u64) {
    let st = rustix::fs::fstat(fd).expect("fstat");
    (st.st_dev, st.st_ino)
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .count()
}

/// Fds on a write of kind 6: more than `recvmsg`'s control buffer in
/// the channel has room for (16), so the kernel truncates them.
const MANY: usize = 24;

/// One write of the peer, and the fds that ride on it.
struct Write<'a> {
    bytes: &'a [u8],
    fds: Vec<BorrowedFd<'static>>,
}

fn parse_writes(mut data: &[u8]) -> Vec<Write<'_>> {
    let f = fds();
    let mut writes = Vec::new();
    while let Some((&[kind, len], rest)) = data.split_first_chunk::<2>() {
        let len = (usize::from(len) + 1).min(rest.len());
        let (bytes, rest) = rest.split_at(len);
        data = rest;
        let fds = match kind & 7 {
            1 => vec![f.stream.0.as_fd()],
            2 => vec![f.null.as_fd()],
            3 => f.udp.iter().map(|u| u.as_fd()).collect(),
            4 => f.tcp.iter().map(|t| t.as_fd()).collect(),
            5 => vec![f.stream.0.as_fd(), f.null.as_fd()],
            // More than the channel's control buffer takes (MSG_CTRUNC).
            6 => [f.stream.0.as_fd(), f.null.as_fd()].repeat(MANY / 2),
            _ => vec![],
        };
        if !bytes.is_empty() {
            writes.push(Write { bytes, fds });
        }
    }
    writes
}

/// Sends every write, then shuts the socket for writing and reads what
/// the channel answers until it is closed (fds it sends are closed by the
/// kernel as the bytes are read without room for them).
fn peer(mut sock: UnixStream, writes: &[Write<'_>]) {
    for w in writes {
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MANY))];
        let mut control = SendAncillaryBuffer::new(&mut space);
        if !w.fds.is_empty() {
            assert!(control.push(SendAncillaryMessage::ScmRights(&w.fds)));
        }
        // NOSIGNAL: the fuzzer's process does not ignore SIGPIPE.
        let mut sent = 0;
        while sent < w.bytes.len() {
            let r = sendmsg(
                &sock,
                &[IoSlice::new(&w.bytes[sent..])],
                &mut control,
                SendFlags::NOSIGNAL,
            );
            match r {
                // The fds went with the first part.
                Ok(n) => {
                    sent += n;
                    control = SendAncillaryBuffer::default();
                }
                Err(rustix::io::Errno::INTR) => {}
                // The channel is gone (it stopped early): nothing to do.
                Err(_) => return,
            }
        }
    }
    let _ = sock.shutdown(Shutdown::Write);
    let mut buf = [0u8; 4096];
    while matches!(sock.read(&mut buf), Ok(n) if n > 0) {}
}

/// The messages the whole stream holds, as the decoder frames them:
/// `(complete messages, of which possibly internal, ends inside one)`.
fn frames(data: &[u8], advanced: bool, limit: usize) -> (usize, usize, bool) {
    let (mut n, mut internal) = (0, 0);
    if !advanced {
        let mut lines = data.split(|&b| b == b'\n').peekable();
        while let Some(line) = lines.next() {
            if lines.peek().is_none() {
                // A fragment too long is reported before the end.
                return (
                    n + usize::from(line.len() > limit),
                    internal,
                    !line.is_empty(),
                );
            }
            n += 1;
            if line.len() <= limit && nodeipc::codec::json::Frame::new(line, 0).is_internal() {
                internal += 1;
            }
        }
        unreachable!("split yields at least one piece");
    }
    let (mut at, mut skipping) = (0usize, false);
    while data.len() - at >= 4 {
        let len = u32::from_be_bytes(data[at..at + 4].try_into().unwrap()) as usize;
        let end = at + 4 + len;
        if len == 0 || len >= 1 << 31 || len > limit {
            skipping = end > data.len();
        } else if end <= data.len() {
            // A `cmd` naming an internal message is a string holding
            // `NODE_`, in one-byte, UTF-8 or two-byte form.
            let p = &data[at + 4..end];
            if contains(p, b"NODE_") || contains(p, b"N\0O\0D\0E\0_\0") {
                internal += 1;
            }
        } else {
            break;
        }
        n += 1;
        at = end.min(data.len());
    }
    (n, internal, at < data.len() || skipping)
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// An error about an fd rather than about a message.
fn about_an_fd(e: &Error) -> bool {
    match e {
        Error::TooManyFds { .. } => true,
        Error::Handle { reason, .. } => {
            reason.starts_with("an fd arrived with no NODE_HANDLE message")
                || reason.starts_with("fds came with this read")
        }
        _ => false,
    }
}

fuzz_target!(|input: &[u8]| {
    let Some((&[flags, len, ahead], rest)) = input.split_first_chunk::<3>() else {
        return;
    };
    let advanced = flags & 1 != 0;
    let limits = Limits::default()
        .with_max_pending_fds(usize::from(flags >> 2) & 7)
        .with_max_message_len(usize::from(len) * 16 + 1)
        .with_max_read_ahead(usize::from(ahead) * 16);
    let writes = parse_writes(rest);
    let before = open_fds();
    if advanced {
        run::<nodeipc::Value>(Serialization::Advanced, limits, flags & 2 != 0, &writes);
    } else {
        run::<serde_json::Value>(Serialization::Json, limits, flags & 2 != 0, &writes);
    }
    assert_eq!(open_fds(), before, "fds leaked");
});

fn run<T: DeserializeOwned>(
    serialization: Serialization,
    limits: Limits,
    send_first: bool,
    writes: &[Write<'_>],
) {
    let stream: Vec<u8> = writes
        .iter()
        .flat_map(|w| w.bytes.iter().copied())
        .collect();
    let fds_sent: usize = writes.iter().map(|w| w.fds.len()).sum();
    let (want_msgs, internal, want_eof) = frames(
        &stream,
        serialization == Serialization::Advanced,
        limits.max_message_len,
    );
    let bound = want_msgs + 2 * writes.len() + 2 * fds_sent + 8;
    let f = fds();
    let (ours, theirs) = UnixStream::pair().expect("socketpair");

    std::thread::scope(|s| {
        let writer = s.spawn(move || peer(theirs, writes));
        let mut ch = Channel::from_fd(OwnedFd::from(ours), serialization, limits).expect("from_fd");
        if send_first {
            // Waits for the peer's ACK, reading its messages ahead; any
            // outcome will do, as long as it returns.
            let _ = ch.send_with_handle(&"first", &f.stream.0);
            let _ = ch.send(&"after");
        }
        let (mut got, mut handles, mut calls) = (0usize, 0usize, 0usize);
        let mut eof = false;
        loop {
            calls += 1;
            assert!(calls <= bound, "recv does not end: {calls} calls");
            match ch.recv_with_handle::<T>() {
                Ok(None) => break,
                Ok(Some((_, handle))) => {
                    got += 1;
                    if let Some(h) = handle {
                        handles += 1;
                        check_handle(h, f);
                    }
                }
                Err(e) if e.is_recoverable() => {
                    if !about_an_fd(&e) {
                        got += 1;
                    }
                }
                Err(Error::UnexpectedEof { .. }) => {
                    eof = true;
                    break;
                }
                Err(e) => panic!("a peer's bytes gave an error that ends the channel: {e:?}"),
            }
        }
        assert_eq!(
            eof, want_eof,
            "UnexpectedEof iff the stream ends inside a message"
        );
        assert!(
            got <= want_msgs && got + internal >= want_msgs,
            "{got} results for {want_msgs} messages ({internal} possibly internal)"
        );
        assert!(handles <= fds_sent);
        // After the end: the errors for fds nobody claimed, then the end
        // again, for good.
        for i in 0.. {
            assert!(i <= fds_sent, "recv does not end after the end");
            match ch.recv_with_handle::<T>() {
                Ok(None) => break,
                Err(e) if about_an_fd(&e) => {}
                r => panic!("after the end, recv gave {:?}", r.map(|o| o.is_some())),
            }
        }
        assert!(matches!(ch.recv_with_handle::<T>(), Ok(None)));
        drop(ch);
        writer.join().expect("writer");
    });
}

/// A handle is one of the fds the peer sent, of the variant its kind is.
fn check_handle(h: Handle, f: &Fds) {
    let (fd, variant) = match &h {
        Handle::UnixStream(s) => (s.as_fd(), Kind::UnixStream),
        Handle::UdpSocket(s) => (s.as_fd(), Kind::Udp),
        Handle::TcpListener(s) => (s.as_fd(), Kind::TcpListener),
        Handle::Other(fd) => (fd.as_fd(), Kind::DevNull),
        other => panic!("a handle of a kind never sent: {other:?}"),
    };
    let kind = f.kinds.get(&id(fd));
    assert_eq!(
        kind,
        Some(&variant),
        "handle {h:?} is not an fd the peer sent"
    );
}
