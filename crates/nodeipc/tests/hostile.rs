//! Hostile peers over a real socket (issue 18): a raw peer in this process
//! writes what no Node peer would, and the channel must answer as Node
//! does, at a cost linear in what was sent.

mod common;

use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use nodeipc::codec::SendBuf;
use nodeipc::{Channel, Handle, Message, Serialization};
use serde_json::{Value, json};

const TIMEOUT: Duration = Duration::from_secs(60);

/// `inner` wrapped in `layers` `NODE_HANDLE` messages, as a peer would
/// write it.
fn wrapped(s: Serialization, layers: usize, inner: &Value) -> Vec<u8> {
    let msg = (0..layers).fold(
        inner.clone(),
        |msg, _| json!({"cmd": "NODE_HANDLE", "type": "net.Native", "msg": msg}),
    );
    let mut out = SendBuf::new(s, 0);
    out.push(&msg).unwrap();
    out.pending().to_vec()
}

/// Writes `bytes` with an fd from a raw peer and receives them on a
/// channel: the message, its handle, and what the channel answered (every message the peer then reads).
async fn receive_wrapped(
    s: Serialization,
    bytes: Vec<u8>,
) -> (Value, Option<Handle>, Vec<Message<Value>>) {
    let (ours, raw) = UnixStream::pair().unwrap();
    let mut ch = Channel::from_fd(ours.into(), s, Default::default()).unwrap();
    let (given, _kept) = UnixStream::pair().unwrap();
    // A thread of its own: the socket does not hold a large message.
    let writer = std::thread::spawn(move || {
        common::send_with_fd(&raw, &bytes, given.as_fd());
        raw
    });
    let (msg, handle) = ch.recv_with_handle::<Value>().await.unwrap().unwrap();
    let raw = writer.join().unwrap();
    // What the channel answered, read by a channel on the peer's side.
    let mut peer = Channel::from_fd(raw.into(), s, Default::default()).unwrap();
    drop(ch);
    let mut answers = Vec::new();
    while let Some(m) = peer.recv_message::<Value>().await.unwrap() {
        answers.push(m);
    }
    (msg, handle, answers)
}

/// Issue 18, defect 3: Node unwraps `NODE_HANDLE` wrappers to any depth
/// (each layer is one more `'internalMessage'` and one `NODE_HANDLE_ACK`;
/// Node 20 answered 2000 layers with 2000 ACKs and then the message with
/// its handle). So do we: the innermost message arrives with the handle
/// and the peer gets one ACK per layer, in both serializations.
#[test]
fn nested_handle_wrappers_all_come_off_with_one_ack_each_as_in_node() {
    const LAYERS: usize = 100;
    let inner = json!({"big": "x".repeat(1 << 20), "n": 1.5, "cmd": "user"});
    common::runtime().block_on(common::timeout(TIMEOUT, async {
        for s in [Serialization::Json, Serialization::Advanced] {
            let (msg, handle, answers) = receive_wrapped(s, wrapped(s, LAYERS, &inner)).await;
            assert_eq!(msg, inner, "{s}");
            assert!(
                matches!(handle, Some(Handle::UnixStream(_))),
                "{s}: {handle:?}"
            );
            let acks = answers
                .iter()
                .filter(|m| matches!(m, Message::Internal(i) if i.cmd() == "NODE_HANDLE_ACK"))
                .count();
            assert_eq!((acks, answers.len()), (LAYERS, LAYERS), "{s}");
        }
    }));
}

/// A raw peer that floods `{"n": i}` lines until `stop` is set, then
/// writes the ACK and `{"done": true}`, then reads until EOF (what we
/// sent). Returns how many it flooded, and what it read.
fn flooder(
    raw: UnixStream,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<(u64, String)> {
    use std::io::{Read, Write};
    use std::sync::atomic::Ordering;
    std::thread::spawn(move || {
        let mut raw = raw;
        let mut n = 0u64;
        while !stop.load(Ordering::SeqCst) {
            raw.write_all(format!("{{\"n\":{n}}}\n").as_bytes())
                .unwrap();
            n += 1;
        }
        raw.write_all(b"{\"cmd\":\"NODE_HANDLE_ACK\"}\n{\"done\":true}\n")
            .unwrap();
        let mut sink = Vec::new();
        raw.read_to_end(&mut sink).unwrap();
        (n, String::from_utf8(sink).unwrap())
    })
}

const READ_AHEAD: usize = 64 << 10;

/// What the Rust side got after the send stopped: every `n` in order up to
/// `done`, none lost; and the peer got the message queued behind the
/// handle.
fn check_flood(got: &[Value], (flooded, peer_read): (u64, String)) {
    assert!(peer_read.ends_with("{\"after\":1}\n"), "{peer_read}");
    let ns: Vec<u64> = got.iter().filter_map(|v| v["n"].as_u64()).collect();
    assert_eq!(
        ns,
        (0..flooded).collect::<Vec<_>>(),
        "messages lost or reordered"
    );
    assert_eq!(got.last(), Some(&json!({"done": true})));
}

/// Issue 18, defect 2: an unsplit channel's send that waits for
/// `NODE_HANDLE_ACK` keeps what the peer sends meanwhile for `recv`, but at
/// most `Limits::max_read_ahead` bytes: a peer that floods and never ACKs
/// gets `Error::ReadAheadFull` from the send queued behind the handle (no
/// hang, no unbounded memory), nothing is lost, and once the messages are
/// received the ACK lets `flush` finish.
#[test]
fn a_flood_while_a_send_waits_for_its_ack_is_bounded_async() {
    use std::sync::atomic::{AtomicBool, Ordering};
    common::runtime().block_on(common::timeout(TIMEOUT, async {
        let (ours, raw) = UnixStream::pair().unwrap();
        let limits = nodeipc::Limits::default().with_max_read_ahead(READ_AHEAD);
        let mut ch = Channel::from_fd(ours.into(), Serialization::Json, limits).unwrap();
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let peer = flooder(raw, stop.clone());
        let (given, _kept) = UnixStream::pair().unwrap();
        ch.send_with_handle(&json!({"h": 1}), given).await.unwrap();
        // Queued behind the handle: the send waits for its ACK.
        match ch.send(&json!({"after": 1})).await {
            Err(nodeipc::Error::ReadAheadFull { limit, .. }) => assert_eq!(limit, READ_AHEAD),
            other => panic!("expected ReadAheadFull, got {other:?}"),
        }
        stop.store(true, Ordering::SeqCst);
        let mut got = Vec::new();
        while got.last() != Some(&json!({"done": true})) {
            got.push(ch.recv::<Value>().await.unwrap().expect("a message"));
        }
        ch.flush().await.expect("the ACK came: the queue goes");
        drop(ch);
        check_flood(&got, peer.join().unwrap());
    }));
}

/// The same on the blocking channel.
#[test]
fn a_flood_while_a_send_waits_for_its_ack_is_bounded_blocking() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let (ours, raw) = UnixStream::pair().unwrap();
    let limits = nodeipc::Limits::default().with_max_read_ahead(READ_AHEAD);
    let mut ch =
        nodeipc::blocking::Channel::from_fd(ours.into(), Serialization::Json, limits).unwrap();
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let peer = flooder(raw, stop.clone());
    let (given, _kept) = UnixStream::pair().unwrap();
    ch.send_with_handle(&json!({"h": 1}), given).unwrap();
    match ch.send(&json!({"after": 1})) {
        Err(nodeipc::Error::ReadAheadFull { limit, .. }) => assert_eq!(limit, READ_AHEAD),
        other => panic!("expected ReadAheadFull, got {other:?}"),
    }
    stop.store(true, Ordering::SeqCst);
    let mut got = Vec::new();
    while got.last() != Some(&json!({"done": true})) {
        got.push(ch.recv::<Value>().unwrap().expect("a message"));
    }
    ch.flush().expect("the ACK came: the queue goes");
    drop(ch);
    check_flood(&got, peer.join().unwrap());
}

/// A peer that reads our handle message, then answers a message and the
/// ACK in one write, then reads until it has `"m2"`.
fn ack_behind_a_message(raw: UnixStream) -> std::thread::JoinHandle<String> {
    use std::io::{Read, Write};
    std::thread::spawn(move || {
        let mut raw = raw;
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        while !seen.ends_with(b"\n") {
            let n = raw.read(&mut buf).unwrap();
            seen.extend_from_slice(&buf[..n]);
        }
        raw.write_all(b"\"m1\"\n{\"cmd\":\"NODE_HANDLE_ACK\"}\n")
            .unwrap();
        while !String::from_utf8_lossy(&seen).contains("\"m2\"") {
            let n = raw.read(&mut buf).unwrap();
            assert!(n > 0, "EOF before m2");
            seen.extend_from_slice(&buf[..n]);
        }
        String::from_utf8(seen).unwrap()
    })
}

/// The ACK arrives in the same read as a message that `recv` returns: it
/// is still in the decoder when the next send waits for it, which must
/// decode it, not wait for more bytes (a deadlock: the peer waits for us).
#[test]
fn an_ack_already_buffered_behind_a_received_message_releases_the_send() {
    common::runtime().block_on(common::timeout(TIMEOUT, async {
        let (ours, raw) = UnixStream::pair().unwrap();
        let mut ch =
            Channel::from_fd(ours.into(), Serialization::Json, Default::default()).unwrap();
        let peer = ack_behind_a_message(raw);
        let (given, _kept) = UnixStream::pair().unwrap();
        ch.send_with_handle(&"h", given).await.unwrap();
        assert_eq!(ch.recv::<String>().await.unwrap().as_deref(), Some("m1"));
        ch.send(&"m2").await.unwrap();
        drop(ch);
        assert!(peer.join().unwrap().ends_with("\"m2\"\n"));
    }));
    let (ours, raw) = UnixStream::pair().unwrap();
    let mut ch =
        nodeipc::blocking::Channel::from_fd(ours.into(), Serialization::Json, Default::default())
            .unwrap();
    let _watchdog = common::Watchdog::new(std::process::id(), TIMEOUT);
    let peer = ack_behind_a_message(raw);
    let (given, _kept) = UnixStream::pair().unwrap();
    ch.send_with_handle(&"h", given).unwrap();
    assert_eq!(ch.recv::<String>().unwrap().as_deref(), Some("m1"));
    ch.send(&"m2").unwrap();
    drop(ch);
    assert!(peer.join().unwrap().ends_with("\"m2\"\n"));
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Handles read ahead hold open fds: they count against
/// `Limits::max_pending_fds`, so a peer that sends handle after handle and
/// never ACKs ours cannot exhaust this process's fds while a send waits.
#[test]
fn handles_read_ahead_count_against_max_pending_fds() {
    common::runtime().block_on(common::timeout(TIMEOUT, async {
        let (ours, raw) = UnixStream::pair().unwrap();
        let limits = nodeipc::Limits::default().with_max_pending_fds(16);
        let mut ch = Channel::from_fd(ours.into(), Serialization::Json, limits).unwrap();
        let before = open_fds();
        let (given, _kept) = UnixStream::pair().unwrap();
        ch.send_with_handle(&"h", given).await.unwrap();
        let peer = std::thread::spawn(move || {
            let (a, _b) = UnixStream::pair().unwrap();
            let line = b"{\"cmd\":\"NODE_HANDLE\",\"type\":\"net.Native\",\"msg\":1}\n";
            for _ in 0..200 {
                common::send_with_fd(&raw, line, a.as_fd());
            }
            raw
        });
        // Each handle message is one read (the kernel does not merge reads
        // that carry fds), so the send stops at the limit.
        match ch.send(&"after").await {
            Err(nodeipc::Error::ReadAheadFull { fds, .. }) => assert_eq!(fds, 16),
            other => panic!("expected ReadAheadFull, got {other:?}"),
        }
        // 16 kept, those of the last reads not yet decoded, ours: the
        // handle we sent (until its ACK) and the peer's pair.
        let held = open_fds() - before;
        assert!(held <= 16 + 8, "{held} fds held");
        drop(ch);
        // The peer fails to write once we are gone: that is its end.
        let _ = peer.join();
    }));
}
