//! Channel behaviour between two nodeipc ends in one process: batching,
//! backpressure, disconnect, drop, errors. (Interop with real Node is in
//! the other test files.)

use std::time::Duration;

use nodeipc::{Channel, Error, Limits, Message, Serialization, blocking};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::time::timeout;

const LIMIT: Duration = Duration::from_secs(20);

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Item {
    i: u32,
    s: String,
}

#[tokio::test]
async fn typed_messages_round_trip_and_arrive_in_order() {
    let (a, b) = Channel::pair().unwrap();
    let (mut tx, _rx_a) = a.split();
    let (_tx_b, mut rx) = b.split();
    let sender = tokio::spawn(async move {
        for i in 0..50_000 {
            tx.feed(&Item {
                i,
                s: "é".repeat(i as usize % 7),
            })
            .await
            .unwrap();
        }
        tx.flush().await.unwrap();
        tx
    });
    timeout(LIMIT, async {
        for i in 0..50_000 {
            let item: Item = rx.recv().await.unwrap().unwrap();
            assert_eq!(item.i, i);
            assert_eq!(item.s.chars().count(), i as usize % 7);
        }
    })
    .await
    .unwrap();
    drop(sender.await.unwrap());
}

#[tokio::test]
async fn feed_waits_for_a_slow_reader_so_memory_stays_bounded() {
    let (a, b) = Channel::pair().unwrap();
    let (mut tx, _keep) = a.split();
    let big = "x".repeat(100_000);
    // Nobody reads b yet: the kernel buffer fills, then feed must wait.
    let mut fed = 0;
    loop {
        match timeout(Duration::from_millis(200), tx.feed(&big)).await {
            Ok(r) => r.unwrap(),
            Err(_) => break,
        }
        fed += 1;
        assert!(fed < 1000, "feed never applied backpressure");
        assert!(tx.queued() <= Limits::DEFAULT_MAX_SEND_BUFFER + big.len() + 1);
    }
    // Once the reader drains, everything fed arrives.
    let (_tx_b, mut rx) = b.split();
    let reader = tokio::spawn(async move {
        let mut n = 0;
        while let Some(s) = rx.recv::<String>().await.unwrap() {
            assert_eq!(s.len(), 100_000);
            n += 1;
        }
        n
    });
    timeout(LIMIT, tx.flush()).await.unwrap().unwrap();
    drop(tx);
    drop(_keep);
    drop(_tx_b);
    // The feed cancelled by the timer had already queued its message.
    let n = timeout(LIMIT, reader).await.unwrap().unwrap();
    assert!(n == fed || n == fed + 1, "fed {fed}, received {n}");
}

#[tokio::test]
async fn dropping_a_sender_with_queued_messages_still_delivers_them() {
    let (a, b) = Channel::pair().unwrap();
    let (mut tx, rx_a) = a.split();
    for i in 0..1000 {
        tx.feed(&json!({"i": i, "pad": "y".repeat(1000)}))
            .await
            .unwrap();
    }
    assert!(tx.queued() > 0);
    drop(tx);
    drop(rx_a);
    let mut b = b;
    let mut n = 0;
    timeout(LIMIT, async {
        while let Some(v) = b.recv::<Value>().await.unwrap() {
            assert_eq!(v["i"], n);
            n += 1;
        }
    })
    .await
    .unwrap();
    assert_eq!(n, 1000);
}

#[tokio::test]
async fn sender_disconnect_is_a_half_close() {
    let (a, b) = Channel::pair().unwrap();
    let (tx_a, mut rx_a) = a.split();
    let mut b = b;
    b.send(&"before").await.unwrap();
    tx_a.disconnect().await.unwrap();
    // b sees the disconnect but can still answer; a still receives.
    assert_eq!(b.recv::<Value>().await.unwrap(), None);
    b.send(&"after").await.unwrap();
    drop(b);
    assert_eq!(rx_a.recv::<String>().await.unwrap().unwrap(), "before");
    assert_eq!(rx_a.recv::<String>().await.unwrap().unwrap(), "after");
    assert_eq!(rx_a.recv::<String>().await.unwrap(), None);
}

#[tokio::test]
async fn sending_to_a_closed_peer_is_disconnected() {
    let (mut a, b) = Channel::pair().unwrap();
    drop(b);
    let mut result = Ok(());
    for _ in 0..10 {
        result = a.send(&"x".repeat(10_000)).await;
        if result.is_err() {
            break;
        }
    }
    assert!(matches!(result, Err(Error::Disconnected)), "{result:?}");
    assert!(matches!(a.send(&1).await, Err(Error::Disconnected)));
}

#[tokio::test]
async fn internal_messages_are_kept_apart() {
    let (mut a, mut b) = Channel::pair().unwrap();
    a.send(&json!({"cmd": "NODE_FOO", "x": 1})).await.unwrap();
    a.send(&json!({"cmd": "NODE_"})).await.unwrap();
    a.send(&json!({"cmd": "NODE_BAR"})).await.unwrap();
    a.send(&"user").await.unwrap();
    match b.recv_message::<Value>().await.unwrap().unwrap() {
        Message::Internal(m) => assert_eq!(m.cmd(), "NODE_FOO"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        b.recv_message::<Value>().await.unwrap().unwrap(),
        Message::User(json!({"cmd": "NODE_"}))
    );
    // recv() skips NODE_BAR.
    assert_eq!(b.recv::<String>().await.unwrap().unwrap(), "user");
}

#[tokio::test]
async fn a_message_of_the_wrong_type_is_an_error_and_the_next_one_arrives() {
    let (mut a, mut b) = Channel::pair().unwrap();
    a.send(&json!({"i": "not a number"})).await.unwrap();
    a.send(&Item {
        i: 7,
        s: "ok".into(),
    })
    .await
    .unwrap();
    let err = b.recv::<Item>().await.unwrap_err();
    assert!(matches!(err, Error::Decode { offset: 0, .. }), "{err:?}");
    assert!(err.is_recoverable());
    assert_eq!(b.recv::<Item>().await.unwrap().unwrap().i, 7);
}

#[tokio::test]
async fn too_large_messages_are_skipped() {
    let (x, y) = std::os::unix::net::UnixStream::pair().unwrap();
    let limits = Limits::default().with_max_message_len(1000);
    let mut a = Channel::from_fd(x.into(), Serialization::Json, Limits::default()).unwrap();
    let mut b = Channel::from_fd(y.into(), Serialization::Json, limits).unwrap();
    tokio::spawn(async move {
        a.send(&"small").await.unwrap();
        a.send(&"x".repeat(1_000_000)).await.unwrap();
        a.send(&"after").await.unwrap();
    });
    assert_eq!(b.recv::<String>().await.unwrap().unwrap(), "small");
    let err = b.recv::<String>().await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::TooLarge {
                offset: 8,
                limit: 1000,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(b.recv::<String>().await.unwrap().unwrap(), "after");
}

#[test]
fn blocking_channel_round_trip_and_drop_flushes() {
    let (mut a, mut b) = blocking::Channel::pair().unwrap();
    let t = std::thread::spawn(move || {
        for i in 0..10_000 {
            a.feed(&i).unwrap();
        }
        // No flush: dropping a blocking channel writes the queue out.
    });
    for i in 0..10_000 {
        assert_eq!(b.recv::<i32>().unwrap(), Some(i));
    }
    t.join().unwrap();
    assert_eq!(b.recv::<i32>().unwrap(), None);
}

#[test]
fn dropping_a_sender_then_the_runtime_neither_hangs_nor_crashes() {
    // The background flush of a dropped Sender must not respawn itself
    // when the runtime drops it unfinished (it once recursed until the
    // stack overflowed).
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    rt.block_on(async {
        let mut a = Channel::from_fd(a.into(), Serialization::Json, Limits::default()).unwrap();
        for _ in 0..20 {
            a.feed(&"z".repeat(50_000)).await.unwrap();
        }
        assert!(a.split().0.queued() > 0);
    });
    drop(rt);
}

#[test]
fn async_constructors_outside_a_runtime_are_errors_not_panics() {
    assert!(matches!(Channel::pair(), Err(Error::Io(_))));
    assert!(matches!(
        nodeipc::Command::new("true").spawn(),
        Err(Error::Io(_))
    ));
}

#[test]
fn spawning_the_inner_command_directly_fails_instead_of_leaking_an_fd() {
    let mut cmd = nodeipc::Command::new("true");
    let (mut child, _channel) = cmd.blocking_spawn().unwrap();
    assert!(child.wait().unwrap().success());
    let err = cmd.as_tokio_mut().as_std_mut().status().unwrap_err();
    assert_eq!(err.raw_os_error(), Some(9), "EBADF: {err}");
}

/// `advanced` frames that do not decode are errors at their offsets, and
/// the channel resynchronises on the next length prefix: every good frame
/// after a bad one arrives.
#[tokio::test]
async fn bad_advanced_frames_are_errors_and_the_next_frame_arrives() {
    use std::io::Write;
    let (mut raw, y) = std::os::unix::net::UnixStream::pair().unwrap();
    let limits = Limits::default().with_max_message_len(1000);
    let mut ch = Channel::from_fd(y.into(), Serialization::Advanced, limits).unwrap();
    let frame = |payload: &[u8]| [&(payload.len() as u32).to_be_bytes()[..], payload].concat();
    let good = |i: i32| {
        let mut out = Vec::new();
        nodeipc::codec::v8::encode(&nodeipc::Value::from(i), &mut out).unwrap();
        out
    };
    let bad: [(&str, Vec<u8>); 6] = [
        ("an unknown tag", frame(b"\xff\x0f\x07")),
        ("a zero length", vec![0, 0, 0, 0]),
        ("a frame over the limit", frame(&[0xff; 2000])),
        ("a truncated varint", frame(b"\xff\x0fI\xff")),
        ("a back-reference to nothing", frame(b"\xff\x0f^\x05")),
        (
            "an object cut short by the end of its frame",
            frame(b"\xff\x0fo"),
        ),
    ];
    let mut stream = good(0);
    for (i, (_, bytes)) in bad.iter().enumerate() {
        stream.extend_from_slice(bytes);
        stream.extend(good(i as i32 + 1));
    }
    let writer = std::thread::spawn(move || raw.write_all(&stream).unwrap());
    timeout(LIMIT, async {
        assert_eq!(ch.recv::<i32>().await.unwrap(), Some(0));
        for (i, (what, _)) in bad.iter().enumerate() {
            match ch.recv::<i32>().await {
                Err(Error::Decode { .. } | Error::TooLarge { .. }) => {}
                other => panic!("{what}: expected an error, got {other:?}"),
            }
            assert_eq!(
                ch.recv::<i32>().await.unwrap(),
                Some(i as i32 + 1),
                "after {what}"
            );
        }
        writer.join().unwrap();
        assert_eq!(ch.recv::<i32>().await.unwrap(), None);
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn an_internal_message_keeps_the_handle_that_came_with_it() {
    // How cluster's `newconn` travels: an internal message sent with a
    // socket. `recv_message_with_handle` gives both; `recv` skips it (and
    // closes the socket); the user message after it still arrives.
    let (mut a, mut b) = Channel::pair().unwrap();
    let (ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
    let newconn = json!({"cmd": "NODE_CLUSTER", "act": "newconn", "key": "k"});
    timeout(LIMIT, async {
        let send = async {
            a.send_with_handle(&newconn, theirs).await.unwrap();
            a.send(&json!({"user": 1})).await.unwrap();
        };
        let recv = async {
            let (msg, handle) = b
                .recv_message_with_handle::<Value>()
                .await
                .unwrap()
                .unwrap();
            match msg {
                Message::Internal(m) => assert_eq!(m.0, newconn),
                other => panic!("{other:?}"),
            }
            match handle {
                Some(nodeipc::Handle::UnixStream(mut s)) => {
                    std::io::Write::write_all(&mut s, b"x").unwrap();
                }
                other => panic!("{other:?}"),
            }
            let user: Value = b.recv().await.unwrap().unwrap();
            assert_eq!(user, json!({"user": 1}));
        };
        tokio::join!(send, recv);
    })
    .await
    .unwrap();
    let mut got = [0u8; 1];
    std::io::Read::read_exact(&mut &ours, &mut got).unwrap();
    assert_eq!(&got, b"x");
}
