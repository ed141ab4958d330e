//! The run of plain `json` messages the channel hands to its receiving
//! half (`core::Ready`, decoded without the channel's lock): order kept
//! around what stays with the channel (internal messages, handles, lines
//! that only look internal), errors where they were, and a sender waiting
//! for an ACK still gets it while such a run waits, unread, in an idle
//! receiver. Raw peers over real sockets; every test bounded in time.

mod common;

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use nodeipc::{Channel, Error, Handle, Limits, Message, Serialization, blocking};
use serde_json::Value;

const TIMEOUT: Duration = Duration::from_secs(20);
const ACK: &[u8] = b"{\"cmd\":\"NODE_HANDLE_ACK\"}\n";

fn plain(range: std::ops::Range<u32>) -> Vec<u8> {
    range
        .flat_map(|i| format!("{{\"i\":{i}}}\n").into_bytes())
        .collect()
}

/// What a receiver saw, one line per message, for comparing runs.
fn show(m: nodeipc::Result<Option<(Message<Value>, Option<Handle>)>>) -> String {
    match m {
        Ok(Some((Message::User(v), h))) => format!("user {v} handle={}", h.is_some()),
        Ok(Some((Message::Internal(m), h))) => {
            format!("internal {} handle={}", m.cmd(), h.is_some())
        }
        Ok(None) => "end".into(),
        Err(Error::Decode { offset, .. }) => format!("decode error at {offset}"),
        Err(e) => format!("error {e}"),
    }
}

/// The stream a peer writes, and what a receiver must see, message by
/// message: runs of plain lines between everything a run must stop at.
fn script() -> (Vec<Vec<u8>>, Vec<String>) {
    let mut writes = Vec::new();
    let mut want = Vec::new();
    let mut first = plain(0..100);
    want.extend((0..100).map(|i| format!("user {{\"i\":{i}}} handle=false")));
    // Internal: acted on by the channel, never in a run.
    first.extend_from_slice(b"{\"cmd\":\"NODE_PING\"}\n");
    want.push("internal NODE_PING handle=false".into());
    first.extend(plain(100..150));
    want.extend((100..150).map(|i| format!("user {{\"i\":{i}}} handle=false")));
    // User messages that only look internal, or hide it behind an escape.
    first.extend_from_slice(b"{\"s\":\"NODE_ is text here\"}\n");
    want.push("user {\"s\":\"NODE_ is text here\"} handle=false".into());
    first.extend_from_slice(b"{\"s\":\"\\u00e9\"}\n");
    want.push("user {\"s\":\"\u{e9}\"} handle=false".into());
    first.extend_from_slice(b"{\"\\u0063md\":\"NODE_HIDDEN\"}\n");
    want.push("internal NODE_HIDDEN handle=false".into());
    first.extend(plain(150..160));
    want.extend((150..160).map(|i| format!("user {{\"i\":{i}}} handle=false")));
    // Errors inside a run: where they are, and the run goes on.
    let at = first.len();
    first.extend_from_slice(b"{\"i\":\n");
    want.push(format!("decode error at {at}"));
    let at = first.len();
    first.extend_from_slice(b" \n");
    want.push(format!("decode error at {at}"));
    first.extend(plain(160..170));
    want.extend((160..170).map(|i| format!("user {{\"i\":{i}}} handle=false")));
    // A partial line at the end of the write.
    first.extend_from_slice(b"{\"i\":1");
    writes.push(first);
    // Its end, then a handle message (its fd comes with this write).
    let mut second = b"70}\n".to_vec();
    want.push("user {\"i\":170} handle=false".into());
    second.extend(plain(171..200));
    want.extend((171..200).map(|i| format!("user {{\"i\":{i}}} handle=false")));
    second.extend_from_slice(
        b"{\"cmd\":\"NODE_HANDLE\",\"type\":\"net.Socket\",\"msg\":{\"h\":1}}\n",
    );
    want.push("user {\"h\":1} handle=true".into());
    second.extend(plain(200..300));
    want.extend((200..300).map(|i| format!("user {{\"i\":{i}}} handle=false")));
    writes.push(second);
    want.push("end".into());
    (writes, want)
}

/// The peer's side of [`script`]: the first write plain, the second with
/// an fd (a unix socket), then EOF; what the channel wrote back.
fn play(mut raw: UnixStream, writes: Vec<Vec<u8>>) -> String {
    let (given, _kept) = UnixStream::pair().unwrap();
    raw.write_all(&writes[0]).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    common::send_with_fd(&raw, &writes[1], given.as_fd());
    raw.shutdown(std::net::Shutdown::Write).unwrap();
    let mut back = String::new();
    raw.read_to_string(&mut back).unwrap();
    back
}

#[test]
fn a_run_keeps_the_order_and_the_errors_tokio() {
    let (writes, want) = script();
    let (ours, raw) = UnixStream::pair().unwrap();
    let peer = std::thread::spawn(move || play(raw, writes));
    let seen = common::runtime().block_on(common::timeout(TIMEOUT, async {
        let mut ch = Channel::from_fd(ours.into(), Serialization::Json, Limits::default()).unwrap();
        let mut seen = Vec::new();
        loop {
            let m = ch.recv_message_with_handle::<Value>().await;
            let end = matches!(m, Ok(None));
            seen.push(show(m));
            if end {
                return seen;
            }
        }
    }));
    assert_eq!(seen, want);
    assert!(peer.join().unwrap().contains("NODE_HANDLE_ACK"));
}

#[test]
fn a_run_keeps_the_order_and_the_errors_blocking() {
    let (writes, want) = script();
    let (ours, raw) = UnixStream::pair().unwrap();
    let _watchdog = common::Watchdog::new(std::process::id(), TIMEOUT);
    let peer = std::thread::spawn(move || play(raw, writes));
    let mut ch =
        blocking::Channel::from_fd(ours.into(), Serialization::Json, Limits::default()).unwrap();
    let mut seen = Vec::new();
    loop {
        let m = ch.recv_message_with_handle::<Value>();
        let end = matches!(m, Ok(None));
        seen.push(show(m));
        if end {
            break;
        }
    }
    drop(ch);
    assert_eq!(seen, want);
    assert!(peer.join().unwrap().contains("NODE_HANDLE_ACK"));
}

/// The receiver takes one message, so the rest of the run is its own; it
/// then stops receiving. The ACK behind the run stayed with the channel:
/// the sender reads it and its next message goes out.
#[test]
fn an_ack_behind_a_run_reaches_the_sender_while_the_receiver_idles() {
    common::runtime().block_on(common::timeout(TIMEOUT, async {
        let (ours, mut raw) = UnixStream::pair().unwrap();
        let ch = Channel::from_fd(ours.into(), Serialization::Json, Limits::default()).unwrap();
        let (mut tx, mut rx) = ch.split();
        let (given, _kept) = UnixStream::pair().unwrap();
        tx.send_with_handle(&"h", given).await.unwrap();
        let mut flood = plain(0..50);
        flood.extend_from_slice(ACK);
        raw.write_all(&flood).unwrap();
        let first = rx.recv::<Value>().await.unwrap().unwrap();
        assert_eq!(first["i"], 0);
        assert!(rx.buffered() > 0);
        tx.send(&"after").await.unwrap();
        raw.set_read_timeout(Some(TIMEOUT)).unwrap();
        let mut back = Vec::new();
        let mut buf = [0u8; 4096];
        while !String::from_utf8_lossy(&back).contains("\"after\"") {
            let n = raw.read(&mut buf).unwrap();
            assert!(n > 0);
            back.extend_from_slice(&buf[..n]);
        }
        for i in 1..50 {
            assert_eq!(rx.recv::<Value>().await.unwrap().unwrap()["i"], i);
        }
    }));
}

#[test]
fn an_ack_behind_a_run_reaches_the_blocking_sender_while_the_receiver_idles() {
    let _watchdog = common::Watchdog::new(std::process::id(), TIMEOUT);
    let (ours, mut raw) = UnixStream::pair().unwrap();
    let ch =
        blocking::Channel::from_fd(ours.into(), Serialization::Json, Limits::default()).unwrap();
    let (mut tx, mut rx) = ch.split();
    let (given, _kept) = UnixStream::pair().unwrap();
    tx.send_with_handle(&"h", given).unwrap();
    let mut flood = plain(0..50);
    flood.extend_from_slice(ACK);
    raw.write_all(&flood).unwrap();
    assert_eq!(rx.recv::<Value>().unwrap().unwrap()["i"], 0);
    tx.send(&"after").unwrap();
    for i in 1..50 {
        assert_eq!(rx.recv::<Value>().unwrap().unwrap()["i"], i);
    }
}
