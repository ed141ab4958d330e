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
use serde_json::{Value, json};

const TIMEOUT: Duration = Duration::from_secs(20);
const ACK: &[u8] = b"{\"cmd\":\"NODE_HANDLE_ACK\"}\n";

/// One message as a peer writes it.
fn wire(serialization: Serialization, msg: &Value) -> Vec<u8> {
    match serialization {
        Serialization::Json => format!("{msg}\n").into_bytes(),
        _ => {
            let mut out = Vec::new();
            nodeipc::codec::v8::encode_serialize(msg, &mut out).unwrap();
            out
        }
    }
}

fn plain(serialization: Serialization, range: std::ops::Range<u32>) -> Vec<u8> {
    range
        .flat_map(|i| wire(serialization, &json!({ "i": i })))
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
/// message: runs of plain messages between everything a run must stop at.
fn script(ser: Serialization) -> (Vec<Vec<u8>>, Vec<String>) {
    let json = ser == Serialization::Json;
    let mut want = Vec::new();
    let mut first = Vec::new();
    let put = |out: &mut Vec<u8>, want: &mut Vec<String>, msg: Value, seen: &str| {
        out.extend(wire(ser, &msg));
        want.push(seen.to_owned());
    };
    let users = |range: std::ops::Range<u32>| {
        range
            .map(|i| format!("user {{\"i\":{i}}} handle=false"))
            .collect::<Vec<_>>()
    };
    first.extend(plain(ser, 0..100));
    want.extend(users(0..100));
    // Internal: acted on by the channel, never in a run.
    put(
        &mut first,
        &mut want,
        json!({"cmd": "NODE_PING"}),
        "internal NODE_PING handle=false",
    );
    // After an internal message the channel looks for a run again: two
    // plain messages, then internal ones in a two-byte string (advanced) and
    // behind text that is not a cmd.
    first.extend(plain(ser, 100..102));
    want.extend(users(100..102));
    put(
        &mut first,
        &mut want,
        json!({"cmd": "NODE_TWO\u{263a}"}),
        "internal NODE_TWO\u{263a} handle=false",
    );
    first.extend(plain(ser, 102..104));
    want.extend(users(102..104));
    put(
        &mut first,
        &mut want,
        json!({"a": "x", "cmd": "NODE_LATE"}),
        "internal NODE_LATE handle=false",
    );
    first.extend(plain(ser, 104..150));
    want.extend(users(104..150));
    // User messages that only look internal; in advanced, a two-byte string.
    put(
        &mut first,
        &mut want,
        json!({"s": "NODE_ is text here"}),
        "user {\"s\":\"NODE_ is text here\"} handle=false",
    );
    put(
        &mut first,
        &mut want,
        json!({"s": "NODE_ \u{263a}"}),
        "user {\"s\":\"NODE_ \u{263a}\"} handle=false",
    );
    if json {
        // An escape may hide anything.
        first.extend_from_slice(b"{\"s\":\"\\u00e9\"}\n");
        want.push("user {\"s\":\"\u{e9}\"} handle=false".into());
        first.extend_from_slice(b"{\"\\u0063md\":\"NODE_HIDDEN\"}\n");
        want.push("internal NODE_HIDDEN handle=false".into());
    }
    first.extend(plain(ser, 150..160));
    want.extend(users(150..160));
    // Errors inside a run: where they are, and the run goes on.
    let bad: &[&[u8]] = if json {
        &[b"{\"i\":\n", b" \n"]
    } else {
        &[b"\0\0\0\x03\xff\x0f\x99", b"\0\0\0\x02\xff\x0f"]
    };
    for b in bad {
        want.push(format!("decode error at {}", first.len()));
        first.extend_from_slice(b);
    }
    first.extend(plain(ser, 160..170));
    want.extend(users(160..170));
    // A partial message at the end of the write, its end in the next.
    let split = wire(ser, &json!({"i": 170}));
    first.extend_from_slice(&split[..split.len() - 2]);
    let mut second = split[split.len() - 2..].to_vec();
    want.extend(users(170..171));
    second.extend(plain(ser, 171..200));
    want.extend(users(171..200));
    // A handle message (its fd comes with this write).
    put(
        &mut second,
        &mut want,
        json!({"cmd": "NODE_HANDLE", "type": "net.Socket", "msg": {"h": 1}}),
        "user {\"h\":1} handle=true",
    );
    second.extend(plain(ser, 200..300));
    want.extend(users(200..300));
    want.push("end".into());
    (vec![first, second], want)
}

/// The peer's side of [`script`]: the first write plain, the second with
/// an fd (a unix socket), then EOF; what the channel wrote back.
fn play(mut raw: UnixStream, writes: Vec<Vec<u8>>) -> String {
    let (given, _kept) = UnixStream::pair().unwrap();
    let [first, second] = &writes[..] else {
        unreachable!()
    };
    raw.write_all(first).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    common::send_with_fd(&raw, second, given.as_fd());
    raw.shutdown(std::net::Shutdown::Write).unwrap();
    let mut back = Vec::new();
    raw.read_to_end(&mut back).unwrap();
    String::from_utf8_lossy(&back).into_owned()
}

#[test]
fn a_run_keeps_the_order_and_the_errors_tokio() {
    for ser in [Serialization::Json, Serialization::Advanced] {
        tokio_order(ser);
    }
}

fn tokio_order(ser: Serialization) {
    let (writes, want) = script(ser);
    let (ours, raw) = UnixStream::pair().unwrap();
    let peer = std::thread::spawn(move || play(raw, writes));
    let seen = common::runtime().block_on(common::timeout(TIMEOUT, async {
        let mut ch = Channel::from_fd(ours.into(), ser, Limits::default()).unwrap();
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
    assert_eq!(seen, want, "{ser}");
    assert!(peer.join().unwrap().contains("NODE_HANDLE_ACK"));
}

#[test]
fn a_run_keeps_the_order_and_the_errors_blocking() {
    let _watchdog = common::Watchdog::new(std::process::id(), TIMEOUT);
    for ser in [Serialization::Json, Serialization::Advanced] {
        blocking_order(ser);
    }
}

fn blocking_order(ser: Serialization) {
    let (writes, want) = script(ser);
    let (ours, raw) = UnixStream::pair().unwrap();
    let peer = std::thread::spawn(move || play(raw, writes));
    let mut ch = blocking::Channel::from_fd(ours.into(), ser, Limits::default()).unwrap();
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
    assert_eq!(seen, want, "{ser}");
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
        let mut flood = plain(Serialization::Json, 0..50);
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
    let mut flood = plain(Serialization::Json, 0..50);
    flood.extend_from_slice(ACK);
    raw.write_all(&flood).unwrap();
    assert_eq!(rx.recv::<Value>().unwrap().unwrap()["i"], 0);
    tx.send(&"after").unwrap();
    for i in 1..50 {
        assert_eq!(rx.recv::<Value>().unwrap().unwrap()["i"], i);
    }
}
