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

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
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
    runtime().block_on(common::timeout(TIMEOUT, async {
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
