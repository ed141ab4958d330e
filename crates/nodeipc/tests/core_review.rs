//! Review of the channel core rebuilt in issue 17 (e7df15d): the "whoever
//! is free reads" ACK wait, the read-ahead queue and its bound, and the two
//! drivers under concurrency. Real sockets throughout; raw peers are std
//! `UnixStream`s driven by hand. Every test is bounded in time: async ones
//! by `common::timeout`, blocking ones by read timeouts on the raw peer and
//! a `common::Watchdog` as the last resort.
//!
//! The tests run one at a time (a lock): some count this process's fds.
//!
//! The review found five bugs (e7df15d); their tests pass since the fixes
//! that followed and stay as regression tests. The one ignored test shows
//! behaviour kept by design (see `blocking::Sender`).

mod common;

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use nodeipc::{Channel, Error, Handle, Limits, Message, Serialization, blocking};
use serde_json::{Value, json};

const TIMEOUT: Duration = Duration::from_secs(20);
/// What a test that shows a hang waits before calling it one.
const HANG: Duration = Duration::from_secs(5);

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

fn multi_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A raw peer socket whose blocking reads and writes give up after `HANG`
/// (so a test that would hang fails instead).
fn raw_pair() -> (UnixStream, UnixStream) {
    let (ours, raw) = UnixStream::pair().unwrap();
    raw.set_read_timeout(Some(HANG)).unwrap();
    raw.set_write_timeout(Some(HANG)).unwrap();
    (ours, raw)
}

/// Reads from `raw` until what was read contains `needle` (or EOF, or the
/// read timeout); what was read.
fn read_until(raw: &mut UnixStream, needle: &str) -> String {
    let mut seen = Vec::new();
    let mut buf = [0u8; 65536];
    while !String::from_utf8_lossy(&seen).contains(needle) {
        match raw.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&seen).into_owned()
}

/// Reads from `raw` until EOF; what was read, and whether EOF came (not
/// the read timeout).
fn read_to_eof(raw: &mut UnixStream) -> (String, bool) {
    let mut seen = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        match raw.read(&mut buf) {
            Ok(0) => return (String::from_utf8_lossy(&seen).into_owned(), true),
            Ok(n) => seen.extend_from_slice(&buf[..n]),
            Err(_) => return (String::from_utf8_lossy(&seen).into_owned(), false),
        }
    }
}

const ACK: &[u8] = b"{\"cmd\":\"NODE_HANDLE_ACK\"}\n";

fn lines(range: std::ops::Range<u32>, f: impl Fn(u32) -> String) -> Vec<u8> {
    range.flat_map(|i| (f(i) + "\n").into_bytes()).collect()
}

fn json_limits(read_ahead: usize) -> Limits {
    Limits::default().with_max_read_ahead(read_ahead)
}

// ---------------------------------------------------------------------------
// Bug 1: the read-ahead queue of a sender whose Receiver is gone
// ---------------------------------------------------------------------------

/// A split `Sender` waits for its `Receiver` once the read-ahead queue is
/// full (the peer floods and has not ACKed yet). When that `Receiver` is
/// then dropped, the docs say user messages are dropped from now on — but
/// the queue already full is never emptied: `ack_step` with
/// `Reader::Alone` still finds it full and answers `WaitReceiver`, and
/// nobody will ever take messages out. The ACK the peer sends next is
/// never decoded: the send hangs forever.
#[test]
fn split_sender_waiting_for_its_receiver_finishes_once_the_receiver_is_dropped() {
    let _one = serial();
    multi_thread().block_on(common::timeout(TIMEOUT, async {
        let (ours, mut raw) = raw_pair();
        let ch = Channel::from_fd(ours.into(), Serialization::Json, json_limits(4096)).unwrap();
        let (mut tx, rx) = ch.split();
        let (given, _kept) = UnixStream::pair().unwrap();
        tx.send_with_handle(&"h", given).await.unwrap();
        // ~200 × (12 + 64) bytes of read-ahead cost: past the 4096 bound.
        raw.write_all(&lines(0..200, |i| format!("{{\"n\":{i}}}")))
            .unwrap();
        let send = tokio::spawn(async move { tx.send(&"after").await.map(|()| tx) });
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!send.is_finished(), "no ACK yet: the send must wait");
        drop(rx);
        raw.write_all(ACK).unwrap();
        let tx = tokio::time::timeout(HANG, send)
            .await
            .expect("the send still waits for a Receiver that is gone")
            .unwrap()
            .unwrap();
        drop(tx);
        let (got, eof) = read_to_eof(&mut raw);
        assert!(got.ends_with("\"after\"\n") && eof, "{got:?} eof={eof}");
    }));
}

/// The same with the blocking driver.
#[test]
fn blocking_split_sender_waiting_for_its_receiver_finishes_once_the_receiver_is_dropped() {
    let _one = serial();
    let _watchdog = common::Watchdog::new(std::process::id(), TIMEOUT * 2);
    let (ours, mut raw) = raw_pair();
    let ch =
        blocking::Channel::from_fd(ours.into(), Serialization::Json, json_limits(4096)).unwrap();
    let (mut tx, rx) = ch.split();
    let (given, _kept) = UnixStream::pair().unwrap();
    tx.send_with_handle(&"h", given).unwrap();
    raw.write_all(&lines(0..200, |i| format!("{{\"n\":{i}}}")))
        .unwrap();
    let (done_tx, done) = std::sync::mpsc::channel();
    let sender = std::thread::spawn(move || {
        let r = tx.send(&"after");
        let _ = done_tx.send(r.is_ok());
        // Stuck or not, do not flush again on drop.
        std::mem::forget(tx);
    });
    std::thread::sleep(Duration::from_millis(300));
    drop(rx);
    raw.write_all(ACK).unwrap();
    let ok = done
        .recv_timeout(HANG)
        .expect("the send still waits for a Receiver that is gone");
    assert!(ok);
    sender.join().unwrap();
    assert!(read_until(&mut raw, "\"after\"").ends_with("\"after\"\n"));
}

/// Same root cause, through `drop`: the unsplit channel's send fails with
/// `ReadAheadFull` (a flooding peer, as in tests/hostile.rs), and the user
/// drops the channel without draining it, a message still queued behind
/// the handle. tokio: the `Sender`'s drop leaves a flush task that reads
/// as `Reader::Alone`, finds the queue full, and waits forever for a
/// Receiver that is gone, keeping the socket open: the peer ACKs and never
/// gets the queued message, nor EOF (`'disconnect'`); the fd leaks for the
/// life of the runtime.
#[test]
fn dropping_a_channel_after_read_ahead_full_still_flushes_and_closes() {
    let _one = serial();
    multi_thread().block_on(common::timeout(TIMEOUT, async {
        let (ours, mut raw) = raw_pair();
        let mut ch = Channel::from_fd(ours.into(), Serialization::Json, json_limits(4096)).unwrap();
        let (given, _kept) = UnixStream::pair().unwrap();
        ch.send_with_handle(&"h", given).await.unwrap();
        raw.write_all(&lines(0..200, |i| format!("{{\"n\":{i}}}")))
            .unwrap();
        match ch.send(&"after").await {
            Err(Error::ReadAheadFull { .. }) => {}
            other => panic!("expected ReadAheadFull, got {other:?}"),
        }
        drop(ch);
        raw.write_all(ACK).unwrap();
        let (got, eof) = tokio::task::spawn_blocking(move || read_to_eof(&mut raw))
            .await
            .unwrap();
        assert!(
            got.ends_with("\"after\"\n") && eof,
            "the peer ACKed; it should get \"after\" then EOF: got {got:?}, eof={eof}"
        );
    }));
}

/// The blocking twin: `drop(channel)` itself hangs. The `Sender` is dropped
/// first (field order) and flushes as a *split* sender whose `Receiver` is
/// alive (`rx_gone` is still false), so with the read-ahead queue full it
/// waits for that Receiver — which is dropped only after the `Sender`'s
/// drop returns. The thread hangs in `drop` forever, ACK or no ACK.
#[test]
fn dropping_a_blocking_channel_after_read_ahead_full_does_not_hang() {
    let _one = serial();
    let (ours, mut raw) = raw_pair();
    let mut ch =
        blocking::Channel::from_fd(ours.into(), Serialization::Json, json_limits(4096)).unwrap();
    let (given, _kept) = UnixStream::pair().unwrap();
    ch.send_with_handle(&"h", given).unwrap();
    raw.write_all(&lines(0..200, |i| format!("{{\"n\":{i}}}")))
        .unwrap();
    match ch.send(&"after") {
        Err(Error::ReadAheadFull { .. }) => {}
        other => panic!("expected ReadAheadFull, got {other:?}"),
    }
    raw.write_all(ACK).unwrap();
    let (done_tx, done) = std::sync::mpsc::channel();
    // A thread we may have to leave behind: it hangs in `drop`.
    std::thread::spawn(move || {
        drop(ch);
        let _ = done_tx.send(());
    });
    done.recv_timeout(HANG)
        .expect("drop(blocking::Channel) hangs in Sender::drop");
    let (got, eof) = read_to_eof(&mut raw);
    assert!(got.ends_with("\"after\"\n") && eof, "{got:?} eof={eof}");
}

/// Handles read ahead for a `Receiver` that is then dropped stay open as
/// long as the `Sender` lives: the read-ahead queue is not emptied when the
/// `Receiver` goes (nobody can ever take them), so a long-lived sending
/// half holds up to `max_pending_fds` of the peer's sockets open (a TCP
/// connection handed to us is never closed: the client hangs).
#[test]
fn handles_kept_for_a_dropped_receiver_are_closed_when_it_goes() {
    let _one = serial();
    current_thread().block_on(common::timeout(TIMEOUT, async {
        let (ours, raw) = raw_pair();
        let ch = Channel::from_fd(ours.into(), Serialization::Json, Limits::default()).unwrap();
        let (mut tx, rx) = ch.split();
        let (given, _kept) = UnixStream::pair().unwrap();
        tx.send_with_handle(&"h", given).await.unwrap();
        let mut theirs = Vec::new();
        for _ in 0..5 {
            let (p, q) = UnixStream::pair().unwrap();
            common::send_with_fd(
                &raw,
                b"{\"cmd\":\"NODE_HANDLE\",\"type\":\"net.Native\",\"msg\":1}\n",
                p.as_fd(),
            );
            drop(p);
            q.set_read_timeout(Some(Duration::from_millis(200)))
                .unwrap();
            theirs.push(q);
        }
        (&raw).write_all(ACK).unwrap();
        // The sender reads the ACK and keeps the 5 handles for `rx`.
        tx.send(&"after").await.unwrap();
        drop(rx);
        tx.send(&"more").await.unwrap();
        // Each of our ends sees EOF once every copy of its peer is closed.
        let open = theirs
            .iter()
            .filter(|q| !matches!((&**q).read(&mut [0u8; 8]), Ok(0)))
            .count();
        assert_eq!(open, 0, "handles still held open for a dropped Receiver");
        drop(tx);
    }));
}

// ---------------------------------------------------------------------------
// Bug 2: Reader::Alone keeps internal messages forever. Found on e7df15d;
// fixed on main meanwhile by 4a2ad95 (`read_ahead` skips every item for
// `Reader::Alone`). These tests failed on e7df15d (hang after ~46 handles)
// and pass now: regression tests.
// ---------------------------------------------------------------------------

/// A `Sender` whose `Receiver` is dropped keeps every *internal* message it
/// reads while waiting for an ACK in the read-ahead queue — including the
/// ACKs themselves (`read_ahead` skips only user messages for
/// `Reader::Alone`). Nobody ever takes them out, so the queue grows by one
/// entry (~90 bytes of cost) per handle sent until it reaches
/// `max_read_ahead`; then the next send waits forever (`WaitReceiver`,
/// which nobody answers). A parent that only hands connections to a worker
/// and dropped its `Receiver` stops after ~186 000 handles with the default
/// 16 MiB (here 4 KiB: after ~45).
#[test]
fn a_sender_without_receiver_can_send_many_handles() {
    let _one = serial();
    multi_thread().block_on(common::timeout(TIMEOUT, async {
        let (a, b) = UnixStream::pair().unwrap();
        let a = Channel::from_fd(a.into(), Serialization::Json, json_limits(4096)).unwrap();
        let mut b = Channel::from_fd(b.into(), Serialization::Json, Limits::default()).unwrap();
        let (mut tx, rx) = a.split();
        drop(rx);
        let peer = tokio::spawn(async move {
            let mut n = 0;
            while let Some((_, h)) = b.recv_with_handle::<u32>().await.unwrap() {
                assert!(h.is_some());
                n += 1;
            }
            n
        });
        for i in 0..200u32 {
            let (given, _kept) = UnixStream::pair().unwrap();
            tokio::time::timeout(HANG, tx.send_with_handle(&i, given))
                .await
                .unwrap_or_else(|_| panic!("handle {i}: the send hangs"))
                .unwrap();
        }
        tokio::time::timeout(HANG, tx.disconnect())
            .await
            .expect("flush hangs")
            .unwrap();
        assert_eq!(peer.await.unwrap(), 200);
    }));
}

/// The blocking twin of the above.
#[test]
fn blocking_sender_without_receiver_can_send_many_handles() {
    let _one = serial();
    let _watchdog = common::Watchdog::new(std::process::id(), TIMEOUT * 2);
    let (a, b) = UnixStream::pair().unwrap();
    let a = blocking::Channel::from_fd(a.into(), Serialization::Json, json_limits(4096)).unwrap();
    let mut b =
        blocking::Channel::from_fd(b.into(), Serialization::Json, Limits::default()).unwrap();
    let (tx, rx) = a.split();
    drop(rx);
    let peer = std::thread::spawn(move || {
        let mut n = 0;
        while let Some((_, h)) = b.recv_with_handle::<u32>().unwrap() {
            assert!(h.is_some());
            n += 1;
        }
        n
    });
    let (done_tx, done) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut tx = tx;
        for i in 0..200u32 {
            let (given, _kept) = UnixStream::pair().unwrap();
            tx.send_with_handle(&i, given).unwrap();
            let _ = done_tx.send(i);
        }
        tx.disconnect().unwrap();
        let _ = done_tx.send(u32::MAX);
    });
    let mut last = 0;
    while last != u32::MAX {
        last = done
            .recv_timeout(HANG)
            .unwrap_or_else(|_| panic!("the send after handle {last} hangs"));
    }
    assert_eq!(peer.join().unwrap(), 200);
}

/// A peer that sends internal messages of its own (`process.send({cmd:
/// 'NODE_…'})` from user code, cluster messages, unasked ACKs) while a
/// `Sender` without `Receiver` waits for the ACK: they fill the read-ahead
/// queue and the ACK behind them is never decoded.
#[test]
fn internal_messages_from_the_peer_do_not_block_a_sender_without_receiver() {
    let _one = serial();
    current_thread().block_on(common::timeout(TIMEOUT, async {
        let (ours, mut raw) = raw_pair();
        let ch = Channel::from_fd(ours.into(), Serialization::Json, json_limits(4096)).unwrap();
        let (mut tx, rx) = ch.split();
        drop(rx);
        let (given, _kept) = UnixStream::pair().unwrap();
        tx.send_with_handle(&"h", given).await.unwrap();
        let mut flood = lines(0..200, |i| format!("{{\"cmd\":\"NODE_PING\",\"n\":{i}}}"));
        flood.extend_from_slice(ACK);
        raw.write_all(&flood).unwrap();
        tokio::time::timeout(HANG, tx.send(&"after"))
            .await
            .expect("the ACK is behind 200 internal messages: the send hangs")
            .unwrap();
        assert!(read_until(&mut raw, "\"after\"").ends_with("\"after\"\n"));
    }));
}

// ---------------------------------------------------------------------------
// Bug 3: a blocking Receiver starved while a Sender sleeps holding the
// receive state
// ---------------------------------------------------------------------------

/// blocking: a `Sender` waiting for an ACK that found the receive state
/// free sleeps in `poll(2)` *holding it* (`AckStep::WaitReadable`). What it
/// reads meanwhile is kept for the `Receiver` — which cannot take it: its
/// `recv` blocks on the mutex until the sender's poll returns, i.e. until
/// the peer sends something else (here the ACK, 2 s later). A message that
/// arrived is not delivered while the sender waits (in the tokio driver it
/// is: the sender never holds the state across a wait and wakes the
/// receiver).
#[test]
fn blocking_receiver_gets_messages_while_the_sender_waits_for_its_ack() {
    let _one = serial();
    let _watchdog = common::Watchdog::new(std::process::id(), TIMEOUT * 2);
    let (ours, mut raw) = raw_pair();
    let ch =
        blocking::Channel::from_fd(ours.into(), Serialization::Json, Limits::default()).unwrap();
    let (mut tx, mut rx) = ch.split();
    let (given, _kept) = UnixStream::pair().unwrap();
    tx.send_with_handle(&"h", given).unwrap();
    let sender = std::thread::spawn(move || {
        tx.send(&"after").unwrap();
        tx
    });
    std::thread::sleep(Duration::from_millis(100));
    raw.write_all(b"\"m1\"\n").unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let start = Instant::now();
    let receiver = std::thread::spawn(move || {
        let m = rx.recv::<String>().unwrap();
        (m, start.elapsed(), rx)
    });
    std::thread::sleep(Duration::from_secs(2));
    raw.write_all(ACK).unwrap();
    let (m, took, _rx) = receiver.join().unwrap();
    let _tx = sender.join().unwrap();
    assert_eq!(m.as_deref(), Some("m1"));
    assert!(
        took < Duration::from_millis(500),
        "m1 was read ahead at once but recv returned it only after {took:?} (when the ACK came)"
    );
}

/// `Receiver::buffered` ("when 0, the next `recv` has to wait for the
/// peer") counts only the read buffer, not the read-ahead queue. Since
/// issue 17 a split tokio `Sender` reads ahead for its `Receiver`, so a
/// `Receiver` can have messages waiting while `buffered()` says 0 (a loop
/// that drains with `while rx.buffered() > 0` leaves them there). The
/// blocking `Receiver::buffered` even blocks, on the receive state a
/// `Sender` holds while it sleeps in `poll(2)` (bug 3).
#[test]
fn buffered_counts_messages_read_ahead() {
    let _one = serial();
    current_thread().block_on(common::timeout(TIMEOUT, async {
        let (ours, mut raw) = raw_pair();
        let ch = Channel::from_fd(ours.into(), Serialization::Json, Limits::default()).unwrap();
        let (mut tx, mut rx) = ch.split();
        let (given, _kept) = UnixStream::pair().unwrap();
        tx.send_with_handle(&"h", given).await.unwrap();
        raw.write_all(b"\"m1\"\n").unwrap();
        // The sender waits for the ACK and reads "m1" ahead meanwhile.
        assert!(
            tokio::time::timeout(Duration::from_millis(200), tx.send(&"after"))
                .await
                .is_err()
        );
        let buffered = rx.buffered();
        assert_eq!(rx.recv::<String>().await.unwrap().as_deref(), Some("m1"));
        assert!(
            buffered > 0,
            "buffered() was 0 with \"m1\" waiting for recv"
        );
    }));
}

/// Behaviour change not in the CHANGELOG: in 15231d9 a blocking split
/// `Sender` whose read-ahead queue filled failed with `ReadAheadFull`
/// (`may_read_ahead()?` in `flush_locked`); now it waits for its
/// `Receiver`. A program that keeps both halves on one thread (split only
/// to store them apart) used to get an error and now hangs forever.
#[test]
#[ignore = "by design: a split Sender waits for its Receiver to take messages when the read-ahead queue is full; one thread holding both halves waits forever (documented in blocking::Sender)"]
fn blocking_split_sender_on_the_receivers_thread_does_not_hang() {
    let _one = serial();
    let (ours, raw) = raw_pair();
    let ch =
        blocking::Channel::from_fd(ours.into(), Serialization::Json, json_limits(4096)).unwrap();
    let (mut tx, rx) = ch.split();
    let (given, _kept) = UnixStream::pair().unwrap();
    tx.send_with_handle(&"h", given).unwrap();
    (&raw)
        .write_all(&lines(0..200, |i| format!("{{\"n\":{i}}}")))
        .unwrap();
    let (done_tx, done) = std::sync::mpsc::channel();
    // The same thread would own `rx` and call `recv` after this send.
    std::thread::spawn(move || {
        let r = tx.send(&"after");
        let _ = done_tx.send(format!("{r:?}"));
        std::mem::forget(tx);
    });
    let r = done
        .recv_timeout(HANG)
        .expect("the send waits for a Receiver its own thread holds");
    assert!(r.contains("ReadAheadFull"), "{r}");
    drop((rx, raw));
}

/// Minor, pre-existing (also in 15231d9): when a read brings more fds than
/// `recvmsg` has room for (MSG_CTRUNC), `RecvCore::read` puts the error in
/// the read-ahead queue at once — in front of the messages that came
/// *before* it in the same read and are still undecoded in the buffer, so
/// `recv` reports the error before an earlier message.
#[test]
fn a_truncated_read_is_reported_after_the_messages_before_it() {
    use rustix::net::{SendAncillaryBuffer, SendAncillaryMessage, SendFlags, sendmsg};
    let _one = serial();
    current_thread().block_on(common::timeout(TIMEOUT, async {
        let (ours, raw) = raw_pair();
        let mut ch = Channel::from_fd(ours.into(), Serialization::Json, Limits::default()).unwrap();
        // A plain message, then a handle message with 32 fds (more than
        // one read takes) in one sendmsg; the first read gets both.
        (&raw).write_all(b"\"first\"\n").unwrap();
        let pairs: Vec<_> = (0..32).map(|_| UnixStream::pair().unwrap()).collect();
        let fds: Vec<_> = pairs.iter().map(|(a, _)| a.as_fd()).collect();
        let mut space = vec![std::mem::MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(32))];
        let mut control = SendAncillaryBuffer::new(&mut space);
        assert!(control.push(SendAncillaryMessage::ScmRights(&fds)));
        let line = b"{\"cmd\":\"NODE_HANDLE\",\"type\":\"net.Native\",\"msg\":1}\n\"last\"\n";
        sendmsg(
            &raw,
            &[std::io::IoSlice::new(line)],
            &mut control,
            SendFlags::empty(),
        )
        .unwrap();
        let first = ch.recv::<String>().await;
        assert_eq!(
            first.as_ref().ok().cloned().flatten().as_deref(),
            Some("first"),
            "got {first:?} before \"first\""
        );
    }));
}

// ---------------------------------------------------------------------------
// Passing tests: concurrency not covered by the existing suites
// ---------------------------------------------------------------------------

/// tokio, multi-thread runtime, halves in different tasks: the sender
/// sends handles (so it reads ahead while the peer answers), the receiver's
/// `recv` is cancelled over and over by a `select!` (a timer that often
/// wins): every echo arrives, once, in order. Not covered before: recv
/// cancellation racing with a split sender's read-ahead.
#[test]
fn split_halves_on_a_multi_thread_runtime_with_cancelled_recvs_lose_nothing() {
    const N: u32 = 400;
    let _one = serial();
    multi_thread().block_on(common::timeout(TIMEOUT, async {
        let before = open_fds();
        let (a, b) = Channel::pair().unwrap();
        let (mut tx, mut rx) = a.split();
        let echo = tokio::spawn(async move {
            let mut b = b;
            while let Some((n, h)) = b.recv_with_handle::<u32>().await.unwrap() {
                assert_eq!(h.is_some(), n % 3 == 0, "{n}");
                b.send(&n).await.unwrap();
            }
        });
        let send = tokio::spawn(async move {
            for n in 0..N {
                if n % 3 == 0 {
                    let (given, _kept) = UnixStream::pair().unwrap();
                    tx.send_with_handle(&n, given).await.unwrap();
                } else {
                    tx.send(&n).await.unwrap();
                }
            }
            tx
        });
        let mut got = Vec::new();
        let mut cancelled = 0u32;
        while got.len() < N as usize {
            tokio::select! {
                m = rx.recv::<u32>() => got.push(m.unwrap().expect("a message")),
                () = tokio::time::sleep(Duration::from_micros(50)) => cancelled += 1,
            }
        }
        assert_eq!(got, (0..N).collect::<Vec<_>>());
        let tx = send.await.unwrap();
        drop((tx, rx));
        echo.await.unwrap();
        eprintln!("recv cancelled {cancelled} times");
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(open_fds(), before, "fds leaked");
    }));
}

/// Both peers send handles to each other at once, unsplit tokio channels:
/// each `send` waiting for its ACK reads the other's `NODE_HANDLE`s ahead
/// and must ACK them (the ACK goes out in front of its own queue). Not
/// covered before: handles crossing in both directions at the same time.
#[test]
fn both_peers_send_handles_to_each_other_at_once() {
    let _one = serial();
    multi_thread().block_on(common::timeout(TIMEOUT, async {
        let (a, b) = Channel::pair().unwrap();
        let side = |mut ch: Channel| async move {
            for n in 0..50u32 {
                let (given, _kept) = UnixStream::pair().unwrap();
                ch.send_with_handle(&n, given).await.unwrap();
                ch.send(&(1000 + n)).await.unwrap();
            }
            let mut got = Vec::new();
            let mut handles = 0;
            while got.len() < 100 {
                let (m, h) = ch.recv_with_handle::<u32>().await.unwrap().unwrap();
                handles += usize::from(h.is_some());
                got.push(m);
            }
            (got, handles, ch)
        };
        let (ra, rb) = tokio::join!(tokio::spawn(side(a)), tokio::spawn(side(b)));
        for (got, handles, _) in [ra.unwrap(), rb.unwrap()] {
            let want: Vec<u32> = (0..50).flat_map(|n| [n, 1000 + n]).collect();
            assert_eq!(got, want);
            assert_eq!(handles, 50);
        }
    }));
}

/// The same with blocking channels, split, sender and receiver of each
/// side on threads of their own (four threads): the senders read each
/// other's handles ahead when their receivers are between `recv`s.
#[test]
fn blocking_both_peers_send_handles_to_each_other_at_once() {
    let _one = serial();
    let _watchdog = common::Watchdog::new(std::process::id(), TIMEOUT * 2);
    let (a, b) = blocking::Channel::pair().unwrap();
    let mut threads = Vec::new();
    let mut receivers = Vec::new();
    for ch in [a, b] {
        let (mut tx, mut rx) = ch.split();
        threads.push(std::thread::spawn(move || {
            for n in 0..100u32 {
                let (given, _kept) = UnixStream::pair().unwrap();
                tx.send_with_handle(&n, given).unwrap();
                tx.send(&(1000 + n)).unwrap();
            }
            tx.flush().unwrap();
            // Keep the socket open until the other side has everything.
            std::thread::sleep(Duration::from_millis(200));
        }));
        receivers.push(std::thread::spawn(move || {
            let mut got = Vec::new();
            while got.len() < 200 {
                let (m, h) = rx.recv_with_handle::<u32>().unwrap().unwrap();
                assert_eq!(h.is_some(), m < 1000);
                got.push(m);
            }
            got
        }));
    }
    for r in receivers {
        let want: Vec<u32> = (0..100).flat_map(|n| [n, 1000 + n]).collect();
        assert_eq!(r.join().unwrap(), want);
    }
    for t in threads {
        t.join().unwrap();
    }
}

/// A split tokio `Sender` whose `Receiver` is alive and *receiving* (slowly)
/// while the peer floods without ACKing: the sender reads ahead up to the
/// bound, then waits for the Receiver to take messages; nothing is lost or
/// reordered between the read-ahead queue and the buffer, and the ACK at
/// the end lets the send go. Not covered before: `WaitReceiver` (only the
/// unsplit `ReadAheadFull` was tested).
#[test]
fn split_sender_and_a_slow_receiver_under_a_flood_lose_nothing() {
    const N: u32 = 20_000;
    let _one = serial();
    multi_thread().block_on(common::timeout(TIMEOUT, async {
        let (ours, raw) = raw_pair();
        let ch = Channel::from_fd(ours.into(), Serialization::Json, json_limits(8192)).unwrap();
        let (mut tx, mut rx) = ch.split();
        let (given, _kept) = UnixStream::pair().unwrap();
        tx.send_with_handle(&"h", given).await.unwrap();
        let peer = std::thread::spawn(move || {
            let mut raw = raw;
            raw.set_write_timeout(None).unwrap();
            for chunk in (0..N).collect::<Vec<_>>().chunks(500) {
                raw.write_all(&lines(chunk[0]..chunk[0] + chunk.len() as u32, |i| {
                    format!("{{\"n\":{i}}}")
                }))
                .unwrap();
            }
            raw.write_all(ACK).unwrap();
            read_until(&mut raw, "\"after\"")
        });
        let send = tokio::spawn(async move {
            tx.send(&"after").await.unwrap();
            tx
        });
        for want in 0..N {
            if want % 1000 == 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            let v = rx.recv::<Value>().await.unwrap().expect("a message");
            assert_eq!(v, json!({"n": want}));
        }
        let _tx = send.await.unwrap();
        assert!(peer.join().unwrap().ends_with("\"after\"\n"));
    }));
}

/// The peer closes while a split `Sender` waits for its ACK, the
/// `Receiver` asleep in `recv` at the same time (tokio) or idle: the send
/// fails with `Disconnected` (no hang), the `Receiver` gets the message the
/// peer sent before closing, then `Ok(None)`. Not covered before: EOF
/// while a split sender waits, both ways of who reads it.
#[test]
fn eof_while_a_split_sender_waits_for_its_ack() {
    let _one = serial();
    multi_thread().block_on(common::timeout(TIMEOUT, async {
        for receiving in [true, false] {
            let (ours, mut raw) = raw_pair();
            let ch = Channel::from_fd(ours.into(), Serialization::Json, Limits::default()).unwrap();
            let (mut tx, mut rx) = ch.split();
            let (given, _kept) = UnixStream::pair().unwrap();
            tx.send_with_handle(&"h", given).await.unwrap();
            let recv = receiving.then(|| {
                tokio::spawn(async move {
                    let a = rx.recv::<String>().await;
                    let b = rx.recv::<String>().await;
                    (a.unwrap(), b.unwrap())
                })
            });
            let send = tokio::spawn(async move { tx.send(&"after").await });
            tokio::time::sleep(Duration::from_millis(100)).await;
            raw.write_all(b"\"bye\"\n").unwrap();
            drop(raw);
            match tokio::time::timeout(HANG, send).await {
                Ok(Ok(Err(Error::Disconnected))) => {}
                other => panic!("receiving={receiving}: {other:?}"),
            }
            if let Some(recv) = recv {
                let (a, b) = recv.await.unwrap();
                assert_eq!((a.as_deref(), b), (Some("bye"), None));
            }
        }
    }));
}

/// A `Sender` dropped while a message waits behind its handle, with the
/// `Receiver` dropped too: the detached flush task reads the ACK alone,
/// writes the message, and closes the socket (the peer sees EOF); the
/// handle's fd is closed once ACKed, and the user message with a handle
/// the peer sent meanwhile is dropped with its fd. Not covered before: the
/// detached task reading its own ACK (before issue 17 it could not).
#[test]
fn a_dropped_sender_mid_handle_finishes_alone_and_closes() {
    let _one = serial();
    multi_thread().block_on(common::timeout(TIMEOUT, async {
        let before = open_fds();
        let (ours, mut raw) = raw_pair();
        let ch = Channel::from_fd(ours.into(), Serialization::Json, Limits::default()).unwrap();
        let (mut tx, rx) = ch.split();
        let (given, kept) = UnixStream::pair().unwrap();
        tx.send_with_handle(&"h", given).await.unwrap();
        tx.feed(&"after").await.unwrap();
        drop(tx);
        drop(rx);
        let (p, _q) = UnixStream::pair().unwrap();
        common::send_with_fd(
            &raw,
            b"{\"cmd\":\"NODE_HANDLE\",\"type\":\"net.Native\",\"msg\":\"yours\"}\n",
            p.as_fd(),
        );
        drop(p);
        tokio::time::sleep(Duration::from_millis(100)).await;
        raw.write_all(ACK).unwrap();
        let (got, eof) = tokio::task::spawn_blocking(move || read_to_eof(&mut raw))
            .await
            .unwrap();
        assert!(eof, "no EOF: {got:?}");
        assert!(got.contains("\"after\"\n"), "{got:?}");
        // Our ACK for their handle went out before "after" too.
        assert!(got.contains("NODE_HANDLE_ACK"), "{got:?}");
        drop(kept);
        drop(_q);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(open_fds(), before, "fds leaked");
    }));
}

/// A peer that ACKs unasked (before any handle, and twice after one):
/// ignored, messages keep flowing both ways, and internal messages show in
/// `recv_message` in order.
#[test]
fn unasked_acks_are_ignored() {
    let _one = serial();
    current_thread().block_on(common::timeout(TIMEOUT, async {
        let (ours, mut raw) = raw_pair();
        let mut ch = Channel::from_fd(ours.into(), Serialization::Json, Limits::default()).unwrap();
        raw.write_all(b"{\"cmd\":\"NODE_HANDLE_ACK\"}\n1\n")
            .unwrap();
        ch.send(&"x").await.unwrap();
        match ch.recv_message::<u32>().await.unwrap() {
            Some(Message::Internal(i)) => assert_eq!(i.cmd(), "NODE_HANDLE_ACK"),
            other => panic!("{other:?}"),
        }
        assert_eq!(ch.recv::<u32>().await.unwrap(), Some(1));
        let (given, _kept) = UnixStream::pair().unwrap();
        ch.send_with_handle(&"h", given).await.unwrap();
        raw.write_all(b"{\"cmd\":\"NODE_HANDLE_ACK\"}\n{\"cmd\":\"NODE_HANDLE_ACK\"}\n2\n")
            .unwrap();
        ch.send(&"y").await.unwrap();
        assert_eq!(ch.recv::<u32>().await.unwrap(), Some(2));
        assert!(read_until(&mut raw, "\"y\"").ends_with("\"y\"\n"));
    }));
}

/// A handle read ahead for a `Receiver` that is later dropped: its fd is
/// closed when the channel goes (no leak), tokio and blocking.
#[test]
fn handles_read_ahead_are_closed_with_the_channel() {
    let _one = serial();
    let before = open_fds();
    current_thread().block_on(common::timeout(TIMEOUT, async {
        let (ours, raw) = raw_pair();
        let ch = Channel::from_fd(ours.into(), Serialization::Json, Limits::default()).unwrap();
        let (mut tx, rx) = ch.split();
        let (given, _kept) = UnixStream::pair().unwrap();
        tx.send_with_handle(&"h", given).await.unwrap();
        for _ in 0..5 {
            let (p, _q) = UnixStream::pair().unwrap();
            common::send_with_fd(
                &raw,
                b"{\"cmd\":\"NODE_HANDLE\",\"type\":\"net.Native\",\"msg\":1}\n",
                p.as_fd(),
            );
        }
        (&raw).write_all(ACK).unwrap();
        tx.send(&"after").await.unwrap();
        drop((tx, rx, raw));
    }));
    {
        let (ours, raw) = raw_pair();
        let ch = blocking::Channel::from_fd(ours.into(), Serialization::Json, Limits::default())
            .unwrap();
        let (mut tx, rx) = ch.split();
        let (given, _kept) = UnixStream::pair().unwrap();
        tx.send_with_handle(&"h", given).unwrap();
        for _ in 0..5 {
            let (p, _q) = UnixStream::pair().unwrap();
            common::send_with_fd(
                &raw,
                b"{\"cmd\":\"NODE_HANDLE\",\"type\":\"net.Native\",\"msg\":1}\n",
                p.as_fd(),
            );
        }
        (&raw).write_all(ACK).unwrap();
        tx.send(&"after").unwrap();
        drop((tx, rx, raw));
    }
    assert_eq!(open_fds(), before, "fds leaked");
}

// ---------------------------------------------------------------------------
// Real Node
// ---------------------------------------------------------------------------

/// A Rust parent that only sends handles to a Node child and has dropped
/// its `Receiver` (a load balancer handing out connections): Node ACKs
/// every handle; with `max_read_ahead` at 4 KiB the ~90-byte-per-ACK leak
/// of bug 2 stops the sends after ~45 handles.
#[test]
fn node_child_gets_many_handles_from_a_parent_without_receiver() {
    let _one = serial();
    let node = require_node!();
    multi_thread().block_on(common::timeout(TIMEOUT, async {
        let script = "let n = 0; process.on('message', (m, h) => { if (h) { n++; h.close(); } \
                      if (m === 'end') { console.log(n); process.disconnect(); } });";
        let mut cmd = nodeipc::Command::new(&node);
        cmd.args(["-e", script])
            .limits(json_limits(4096))
            .stdout(std::process::Stdio::piped());
        cmd.as_tokio_mut().kill_on_drop(true);
        let (child, ch) = cmd.spawn().unwrap();
        let (mut tx, rx) = ch.split();
        drop(rx);
        for i in 0..200u32 {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            tokio::time::timeout(HANG, tx.send_with_handle(&i, l))
                .await
                .unwrap_or_else(|_| panic!("handle {i}: the send hangs"))
                .unwrap();
        }
        tx.send(&"end").await.unwrap();
        let out = child.wait_with_output().await.unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "200");
    }));
}

/// Real Node, both directions at once, split tokio halves in two tasks of
/// a multi-thread runtime: we hand the child TCP listeners while it hands
/// us servers of its own. Our `Sender` reads Node's ACKs itself whenever
/// the `Receiver` is between `recv`s, and the `Receiver` ACKs Node's
/// handles; everything arrives. Not covered before: handles crossing with
/// Node, and the issue-17 "whoever is free reads" against a Node peer.
#[test]
fn handles_cross_with_a_node_child_in_both_directions() {
    const N: u32 = 30;
    let _one = serial();
    let node = require_node!();
    multi_thread().block_on(common::timeout(TIMEOUT, async {
        let script = format!(
            "const net = require('net'); const N = {N}; let got = 0;
             process.on('message', (m, h) => {{
               if (h) h.close();
               if (++got === N) process.send({{ got }});
             }});
             for (let i = 0; i < N; i++) {{
               const s = net.createServer();
               s.listen(0, '127.0.0.1', () => process.send({{ i }}, s, () => s.close()));
             }}"
        );
        let mut cmd = nodeipc::Command::new(&node);
        cmd.args(["-e", &script]);
        cmd.as_tokio_mut().kill_on_drop(true);
        let (mut child, ch) = cmd.spawn().unwrap();
        let (mut tx, mut rx) = ch.split();
        let send = tokio::spawn(async move {
            for i in 0..N {
                let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
                tx.send_with_handle(&i, l).await.unwrap();
            }
            tx
        });
        let mut servers = Vec::new();
        let mut acked = None;
        while acked.is_none() || servers.len() < N as usize {
            let (m, h) = rx.recv_with_handle::<Value>().await.unwrap().unwrap();
            if let Some(got) = m.get("got") {
                acked = Some(got.as_u64().unwrap());
            } else {
                assert!(matches!(h, Some(Handle::TcpListener(_))), "{m} {h:?}");
                servers.push(m["i"].as_u64().unwrap());
            }
        }
        servers.sort_unstable();
        assert_eq!(servers, (0..u64::from(N)).collect::<Vec<_>>());
        assert_eq!(acked, Some(u64::from(N)));
        let tx = send.await.unwrap();
        tx.disconnect().await.unwrap();
        drop(rx);
        assert!(child.wait().await.unwrap().success());
    }));
}

/// The blocking twin of `eof_while_a_split_sender_waits_for_its_ack`: the
/// `Receiver` asleep in `recv` on one thread (holding the receive state in
/// `poll(2)`), the `Sender` waiting on the `Condvar` on another, then idle.
#[test]
fn blocking_eof_while_a_split_sender_waits_for_its_ack() {
    let _one = serial();
    let _watchdog = common::Watchdog::new(std::process::id(), TIMEOUT * 2);
    for receiving in [true, false] {
        let (ours, mut raw) = raw_pair();
        let ch = blocking::Channel::from_fd(ours.into(), Serialization::Json, Limits::default())
            .unwrap();
        let (mut tx, mut rx) = ch.split();
        let (given, _kept) = UnixStream::pair().unwrap();
        tx.send_with_handle(&"h", given).unwrap();
        let recv = receiving.then(|| {
            std::thread::spawn(move || {
                let a = rx.recv::<String>().unwrap();
                let b = rx.recv::<String>().unwrap();
                (a, b)
            })
        });
        let (done_tx, done) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let r = tx.send(&"after");
            let _ = done_tx.send(format!("{r:?}"));
        });
        std::thread::sleep(Duration::from_millis(100));
        raw.write_all(b"\"bye\"\n").unwrap();
        drop(raw);
        let r = done.recv_timeout(HANG).expect("the send hangs after EOF");
        assert_eq!(r, "Err(Disconnected)", "receiving={receiving}");
        if let Some(recv) = recv {
            let (a, b) = recv.join().unwrap();
            assert_eq!((a.as_deref(), b), (Some("bye"), None));
        }
    }
}
