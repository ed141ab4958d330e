//! Interop: handle passing with real Node (issue 6), both directions and
//! both serializations. Rust parent → Node child (`tests/node/handles.js
//! child`): TCP and unix listeners the child serves on, connected TCP
//! streams it writes to, a UDP socket it reads from, ordering among plain
//! messages. Node parent (`handles.js parent`) → Rust child (this binary,
//! run as [`rust_child_role`]): a server and accepted sockets.
//!
//! The tests run one at a time (a lock) so that each can check that this
//! process's open-fd count is back where it started.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use nodeipc::{Channel, Handle, Serialization};
use serde_json::{Value, json};

const TIMEOUT: Duration = Duration::from_secs(30);
const ROLE_VAR: &str = "NODEIPC_HANDLES_ROLE";

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Runs `f` on a runtime of its own while no other test of this file runs,
/// then checks that this process has as many open fds as before (the
/// runtime's own are counted in both).
fn no_leaks<F: std::future::Future<Output = ()>>(f: F) {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let before = open_fds();
        common::timeout(TIMEOUT, f).await;
        // A killed child's pipes and the blocking pool's thread may take
        // a moment.
        for _ in 0..100 {
            if open_fds() == before {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(open_fds(), before, "fds leaked");
    });
}

fn node_child(node: &Path, serialization: Serialization) -> nodeipc::Command {
    let mut cmd = nodeipc::Command::new(node);
    cmd.arg(common::script("handles.js"))
        .arg("child")
        .serialization(serialization);
    cmd.as_tokio_mut().kill_on_drop(true);
    cmd
}

/// A Node child of `handles.js` on the async channel, and its open-fd
/// count before it was handed anything (see [`finish`]).
async fn spawn_node_child(node: &Path, s: Serialization) -> (tokio::process::Child, Channel, u64) {
    let (child, mut ch) = node_child(node, s).spawn().unwrap();
    let fds = child_fds(&mut ch).await;
    (child, ch, fds)
}

/// Asks the Node child to close every handle it was given and checks that
/// its open-fd count is back to `fds`, then disconnects and waits for it.
async fn finish(mut child: tokio::process::Child, mut ch: Channel, fds: u64) {
    assert_eq!(
        child_fds(&mut ch).await,
        fds,
        "fds leaked in the Node child"
    );
    ch.disconnect().await.unwrap();
    assert!(child.wait().await.unwrap().success());
}

async fn child_fds(ch: &mut Channel) -> u64 {
    ch.send(&json!({"fds": true})).await.unwrap();
    let r = reply(ch).await;
    r["fds"]
        .as_u64()
        .unwrap_or_else(|| panic!("not an fd count: {r}"))
}

async fn reply(ch: &mut Channel) -> Value {
    ch.recv()
        .await
        .unwrap()
        .expect("a reply from the Node child")
}

fn read_to_string(mut s: impl Read) -> String {
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

const BOTH: [Serialization; 2] = [Serialization::Json, Serialization::Advanced];

#[test]
fn node_child_serves_on_a_tcp_listener_we_keep() {
    let node = require_node!();
    for s in BOTH {
        no_leaks(async {
            let (child, mut ch, fds) = spawn_node_child(&node, s).await;
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            ch.send_with_handle(&json!({"tag": "tcp"}), &listener)
                .await
                .unwrap();
            assert_eq!(
                reply(&mut ch).await,
                json!({"got": {"tag": "tcp"}, "kind": "net.Server"})
            );
            // Node accepts on the shared socket; we never call accept.
            let answer = tokio::task::spawn_blocking(move || {
                read_to_string(TcpStream::connect(addr).unwrap())
            });
            assert_eq!(answer.await.unwrap(), "hello tcp");
            drop(listener);
            finish(child, ch, fds).await;
        });
    }
}

#[test]
fn node_child_writes_to_a_tcp_stream_we_hand_over() {
    let node = require_node!();
    for s in BOTH {
        no_leaks(async {
            let (child, mut ch, fds) = spawn_node_child(&node, s).await;
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let ours = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
            let (theirs, _) = listener.accept().unwrap();
            // By value: the channel closes its copy after the ACK, so only
            // Node holds the socket and its end() reaches us as EOF.
            ch.send_with_handle(&json!({"tag": "stream"}), theirs)
                .await
                .unwrap();
            assert_eq!(reply(&mut ch).await["kind"], "net.Socket");
            let got = tokio::task::spawn_blocking(move || read_to_string(ours));
            assert_eq!(got.await.unwrap(), "hi stream");
            finish(child, ch, fds).await;
        });
    }
}

#[test]
fn node_child_serves_on_a_unix_listener() {
    let node = require_node!();
    for s in BOTH {
        no_leaks(async {
            let dir = std::env::temp_dir().join(format!("nodeipc-h-{}-{s}", std::process::id()));
            let _ = std::fs::remove_file(&dir);
            let listener = UnixListener::bind(&dir).unwrap();
            let (child, mut ch, fds) = spawn_node_child(&node, s).await;
            ch.send_with_handle(&json!({"tag": "unix"}), &listener)
                .await
                .unwrap();
            assert_eq!(reply(&mut ch).await["kind"], "net.Server");
            let path = dir.clone();
            let got = tokio::task::spawn_blocking(move || {
                read_to_string(UnixStream::connect(path).unwrap())
            });
            assert_eq!(got.await.unwrap(), "hello unix");
            drop(listener);
            std::fs::remove_file(&dir).unwrap();
            finish(child, ch, fds).await;
        });
    }
}

#[test]
fn node_child_reads_from_a_udp_socket() {
    let node = require_node!();
    for s in BOTH {
        no_leaks(async {
            let (child, mut ch, fds) = spawn_node_child(&node, s).await;
            let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
            let addr = udp.local_addr().unwrap();
            ch.send_with_handle(&json!({"tag": "udp"}), udp)
                .await
                .unwrap();
            assert_eq!(reply(&mut ch).await["kind"], "dgram.Socket");
            let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
            sender.send_to(b"ping", addr).unwrap();
            assert_eq!(reply(&mut ch).await, json!({"udp": "ping"}));
            drop(sender);
            finish(child, ch, fds).await;
        });
    }
}

/// Handles interleaved with 10 000 plain messages, several handles in a
/// row: all arrive, in order, each handle with its message.
/// `net.Native` and `dgram.Native`: a raw fd of the kind named, which
/// Node hands to user code as libuv's own handle object (no `net` or
/// `dgram` wrapper around it), and acknowledges.
#[test]
fn node_child_takes_native_handles() {
    use nodeipc::HandleType;
    use nodeipc::handle::OutgoingHandle;
    let node = require_node!();
    for s in BOTH {
        no_leaks(async {
            let (child, mut ch, fds) = spawn_node_child(&node, s).await;
            let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
            let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
            let native = OutgoingHandle::new(tcp.into(), HandleType::NetNative).unwrap();
            ch.send_with_handle(&json!({"tag": "net"}), native)
                .await
                .unwrap();
            let native = OutgoingHandle::new(udp.into(), HandleType::DgramNative).unwrap();
            ch.send_with_handle(&json!({"tag": "dgram"}), native)
                .await
                .unwrap();
            // Sent after both ACKs.
            ch.send(&json!({"tag": "after"})).await.unwrap();
            for tag in ["net", "dgram", "after"] {
                let r = reply(&mut ch).await;
                assert_eq!(r["got"]["tag"], tag, "{s}: {r}");
                let kind = if tag == "after" {
                    json!(null)
                } else {
                    json!("other")
                };
                assert_eq!(r["kind"], kind, "{s}: {r}");
            }
            finish(child, ch, fds).await;
        });
    }
}

#[test]
fn handles_and_plain_messages_keep_their_order() {
    let node = require_node!();
    for s in BOTH {
        no_leaks(async {
            let (child, mut ch, fds) = spawn_node_child(&node, s).await;
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let mut expected = Vec::new();
            for i in 0..10_000u32 {
                if i % 1000 == 0 {
                    ch.send_with_handle(&json!({"tag": i}), &listener)
                        .await
                        .unwrap();
                    expected.push(json!({"got": {"tag": i}, "kind": "net.Server"}));
                    // Two in a row.
                    ch.send_with_handle(&json!({"tag": i + 1}), &listener)
                        .await
                        .unwrap();
                    expected.push(json!({"got": {"tag": i + 1}, "kind": "net.Server"}));
                } else {
                    ch.feed(&json!({"tag": i})).await.unwrap();
                    expected.push(json!({"got": {"tag": i}, "kind": null}));
                }
            }
            ch.flush().await.unwrap();
            for (n, want) in expected.iter().enumerate() {
                assert_eq!(&reply(&mut ch).await, want, "reply {n}");
            }
            finish(child, ch, fds).await;
        });
    }
}

/// A handle message to a peer that is gone fails cleanly and closes the fd.
#[test]
fn a_handle_to_a_closed_channel_is_an_error() {
    no_leaks(async {
        let (mut a, b) = Channel::pair().unwrap();
        drop(b);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let err = a.send_with_handle(&1, &listener).await.unwrap_err();
        assert!(matches!(err, nodeipc::Error::Disconnected), "{err}");
    });
}

/// Rust ↔ Rust: a handle goes through, is answered, and the message after
/// it arrives after it.
#[test]
fn rust_to_rust_handle_round_trip() {
    no_leaks(async {
        let (a, mut b) = Channel::pair().unwrap();
        let (mut tx, mut rx) = a.split();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let acks = tokio::spawn(async move {
            // The sending side's Receiver reads the ACK.
            let m: Option<Value> = rx.recv().await.unwrap();
            assert!(m.is_none());
        });
        tx.send_with_handle(&"first", listener).await.unwrap();
        // Queued behind the handle until `b` acknowledges it.
        tx.feed(&"second").await.unwrap();
        let (m, h) = b.recv_with_handle::<String>().await.unwrap().unwrap();
        assert_eq!(m, "first");
        let Some(Handle::TcpListener(l)) = h else {
            panic!("{h:?}")
        };
        assert_eq!(l.local_addr().unwrap(), addr);
        let (m, h) = b.recv_with_handle::<String>().await.unwrap().unwrap();
        assert_eq!((m.as_str(), h.is_none()), ("second", true));
        drop((l, b));
        tx.flush().await.unwrap();
        drop(tx);
        acks.await.unwrap();
    });
}

// ---------------------------------------------------------------------------
// A raw peer: the fd placements docs/protocol.md §4.3 records

const HANDLE_LINE: &[u8] =
    b"{\"cmd\":\"NODE_HANDLE\",\"type\":\"net.Socket\",\"msg\":\"with fd\"}\n";

/// The fd comes with the first bytes of a read that holds an earlier
/// message and only the first byte of the `NODE_HANDLE` line (both
/// placements of §4.3 in one): it goes to the handle message, the plain
/// message before it gets none, and the peer gets one ACK.
#[test]
fn an_fd_before_its_handle_message_goes_to_that_message() {
    no_leaks(async {
        let (ours, raw) = UnixStream::pair().unwrap();
        let mut ch =
            Channel::from_fd(ours.into(), Serialization::Json, Default::default()).unwrap();
        let (given, kept) = UnixStream::pair().unwrap();
        let mut first = b"\"plain\"\n".to_vec();
        first.push(HANDLE_LINE[0]);
        common::send_with_fd(&raw, &first, std::os::fd::AsFd::as_fd(&given));
        drop(given);
        (&raw).write_all(&HANDLE_LINE[1..]).unwrap();
        let (m, h) = ch.recv_with_handle::<String>().await.unwrap().unwrap();
        assert_eq!((m.as_str(), h.is_none()), ("plain", true));
        let (m, h) = ch.recv_with_handle::<String>().await.unwrap().unwrap();
        assert_eq!(m, "with fd");
        let Some(Handle::UnixStream(mut s)) = h else {
            panic!("{h:?}")
        };
        s.set_nonblocking(false).unwrap();
        s.write_all(b"through the fd").unwrap();
        drop(s);
        assert_eq!(read_to_string(kept), "through the fd");
        // The ACK may still be queued (tokio had not seen the new socket
        // writable yet): the dropped channel finishes it in a task, so
        // read on another thread and let the runtime run.
        drop(ch);
        let acks = tokio::task::spawn_blocking(move || read_to_string(raw));
        assert_eq!(acks.await.unwrap(), "{\"cmd\":\"NODE_HANDLE_ACK\"}\n");
    });
}

/// An fd with no `NODE_HANDLE` message is closed and reported, and the
/// messages around it still arrive.
#[test]
fn a_stray_fd_is_closed_and_reported() {
    no_leaks(async {
        let (ours, raw) = UnixStream::pair().unwrap();
        let mut ch =
            Channel::from_fd(ours.into(), Serialization::Json, Default::default()).unwrap();
        let (given, kept) = UnixStream::pair().unwrap();
        common::send_with_fd(&raw, b"1\n", std::os::fd::AsFd::as_fd(&given));
        drop(given);
        (&raw).write_all(b"2\n").unwrap();
        assert_eq!(ch.recv::<u32>().await.unwrap(), Some(1));
        let err = ch.recv::<u32>().await.unwrap_err();
        assert!(matches!(err, nodeipc::Error::Handle { .. }), "{err}");
        assert_eq!(ch.recv::<u32>().await.unwrap(), Some(2));
        // Our copy was closed: the peer's end sees EOF.
        assert_eq!(read_to_string(kept), "");
        drop((ch, raw));
    });
}

/// Issue 18, defect 5: a peer that attaches an fd to every one-byte write
/// of a line it never ends. The channel holds at most
/// `Limits::max_pending_fds` of them (19 006 were held before), closes the
/// rest as they come and says so; once the line ends, the fds held are
/// closed as strays and the next message arrives.
#[test]
fn fds_of_an_unfinished_message_are_held_up_to_max_pending_fds() {
    const SENT: usize = 300;
    let limit = nodeipc::Limits::DEFAULT_MAX_PENDING_FDS;
    no_leaks(async {
        let (ours, raw) = UnixStream::pair().unwrap();
        let mut ch =
            Channel::from_fd(ours.into(), Serialization::Json, Default::default()).unwrap();
        let (given, _kept) = UnixStream::pair().unwrap();
        let before = open_fds();
        // A thread of its own: the socket's buffer does not hold 300
        // fd-carrying writes.
        let writer = std::thread::spawn(move || {
            (&raw).write_all(b"\"").unwrap();
            for _ in 0..SENT {
                common::send_with_fd(&raw, b"x", std::os::fd::AsFd::as_fd(&given));
            }
            (raw, given)
        });
        let (mut dropped, mut most_held) = (0, 0);
        while dropped < SENT - limit {
            match ch.recv::<String>().await {
                Err(nodeipc::Error::TooManyFds {
                    dropped: n,
                    limit: l,
                    ..
                }) => {
                    assert_eq!(l, limit);
                    dropped += n;
                }
                other => panic!("{other:?}"),
            }
            most_held = most_held.max(open_fds() - before);
        }
        assert_eq!(dropped, SENT - limit);
        assert!(most_held <= limit, "held {most_held} fds");
        let (raw, given) = writer.join().unwrap();
        (&raw).write_all(b"\"\n\"next\"\n").unwrap();
        assert_eq!(
            ch.recv::<String>().await.unwrap().unwrap(),
            "x".repeat(SENT)
        );
        let err = ch.recv::<String>().await.unwrap_err();
        assert!(matches!(err, nodeipc::Error::Handle { .. }), "{err}");
        assert_eq!(ch.recv::<String>().await.unwrap().unwrap(), "next");
        assert_eq!(open_fds(), before);
        drop((ch, raw, given));
    });
}

// ---------------------------------------------------------------------------
// The blocking channel

fn blocking_reply(ch: &mut nodeipc::blocking::Channel) -> Value {
    ch.recv().unwrap().expect("a reply from the Node child")
}

fn blocking_child_fds(ch: &mut nodeipc::blocking::Channel) -> u64 {
    ch.send(&json!({"fds": true})).unwrap();
    let r = blocking_reply(ch);
    r["fds"]
        .as_u64()
        .unwrap_or_else(|| panic!("not an fd count: {r}"))
}

#[test]
fn blocking_parent_hands_a_tcp_listener_to_a_node_child() {
    let node = require_node!();
    for s in BOTH {
        no_leaks(async {
            let (mut child, mut ch) = node_child(&node, s).blocking_spawn().unwrap();
            let fds = blocking_child_fds(&mut ch);
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            ch.send_with_handle(&json!({"tag": "tcp"}), listener)
                .unwrap();
            // Behind the handle until Node's ACK, which `send` reads itself.
            ch.send(&json!({"tag": "after"})).unwrap();
            assert_eq!(
                blocking_reply(&mut ch),
                json!({"got": {"tag": "tcp"}, "kind": "net.Server"})
            );
            assert_eq!(blocking_reply(&mut ch)["got"], json!({"tag": "after"}));
            assert_eq!(
                read_to_string(TcpStream::connect(addr).unwrap()),
                "hello tcp"
            );
            assert_eq!(
                blocking_child_fds(&mut ch),
                fds,
                "fds leaked in the Node child"
            );
            ch.disconnect().unwrap();
            assert!(child.wait().unwrap().success());
        });
    }
}

/// Split blocking halves: the receiving thread reads the ACK and wakes the
/// sender, whose next message waited behind the handle.
#[test]
fn blocking_split_halves_pass_handles_between_threads() {
    no_leaks(async {
        let (a, mut b) = nodeipc::blocking::Channel::pair().unwrap();
        let (mut tx, mut rx) = a.split();
        let receiving = std::thread::spawn(move || rx.recv::<Value>().unwrap());
        let (ours, theirs) = UnixStream::pair().unwrap();
        tx.send_with_handle(&"first", theirs).unwrap();
        let peer = std::thread::spawn(move || {
            let (m, h) = b.recv_with_handle::<String>().unwrap().unwrap();
            let Some(Handle::UnixStream(mut s)) = h else {
                panic!("{h:?}")
            };
            s.set_nonblocking(false).unwrap();
            s.write_all(m.as_bytes()).unwrap();
            let (m, h) = b.recv_with_handle::<String>().unwrap().unwrap();
            assert_eq!((m.as_str(), h.is_none()), ("second", true));
        });
        tx.send(&"second").unwrap();
        peer.join().unwrap();
        drop(tx);
        assert_eq!(read_to_string(ours), "first");
        assert_eq!(receiving.join().unwrap(), None);
    });
}

/// An unsplit blocking channel nobody receives on: `send` reads the ACK
/// itself and keeps the peer's message that came first for `recv`.
#[test]
fn blocking_send_reads_the_ack_itself() {
    no_leaks(async {
        let (mut a, mut b) = nodeipc::blocking::Channel::pair().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let peer = std::thread::spawn(move || {
            b.send(&"before the ack").unwrap();
            let (m, h) = b.recv_with_handle::<u32>().unwrap().unwrap();
            assert!(matches!(h, Some(Handle::TcpListener(_))), "{h:?}");
            assert_eq!(b.recv::<u32>().unwrap(), Some(m + 1));
        });
        a.send_with_handle(&1, &listener).unwrap();
        a.send(&2).unwrap();
        assert_eq!(
            a.recv::<String>().unwrap().as_deref(),
            Some("before the ack")
        );
        peer.join().unwrap();
        assert_eq!(a.recv::<String>().unwrap(), None);
    });
}

// ---------------------------------------------------------------------------
// Node parent → Rust child

/// The Rust child's two builds: the async and the blocking channel.
const ROLES: [&str; 2] = ["async", "blocking"];

fn run_node_parent(node: &Path, role: &str, s: Serialization, what: &str, n: usize) -> Value {
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new(node)
        .arg(common::script("handles.js"))
        .args([
            "parent",
            exe.to_str().unwrap(),
            s.as_str(),
            what,
            &n.to_string(),
        ])
        .env(ROLE_VAR, role)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "node parent failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    // Both processes' open-fd counts are back where they started: the
    // child's last reply holds its own, `parentFds` the Node parent's.
    let child = &out["replies"].as_array().unwrap().last().unwrap()["fds"];
    assert_eq!(child[0], child[1], "fds leaked in the Rust child: {out}");
    let parent = &out["parentFds"];
    assert_eq!(parent[0], parent[1], "fds leaked in the Node parent: {out}");
    out
}

#[test]
fn node_parent_hands_a_server_to_a_rust_child() {
    let node = require_node!();
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    for (role, s) in ROLES.into_iter().flat_map(|r| BOTH.map(|s| (r, s))) {
        let out = run_node_parent(&node, role, s, "server", 2);
        assert_eq!(out["sendErrors"], json!([]), "{role} {s}: {out}");
        assert_eq!(
            out["reads"],
            json!(["rust accepted 0", "rust accepted 1"]),
            "{role} {s}: {out}"
        );
        assert_eq!(
            out["replies"][0],
            json!({"tag": "server", "kind": "TcpListener"}),
            "{role} {s}: {out}"
        );
    }
}

#[test]
fn node_parent_hands_accepted_sockets_to_a_rust_child() {
    let node = require_node!();
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    for (role, s) in ROLES.into_iter().flat_map(|r| BOTH.map(|s| (r, s))) {
        let out = run_node_parent(&node, role, s, "socket", 3);
        assert_eq!(out["sendErrors"], json!([]), "{role} {s}: {out}");
        assert_eq!(
            out["reads"],
            json!(["rust answered", "rust answered", "rust answered"]),
            "{role} {s}: {out}"
        );
        assert_eq!(out["connections"], json!(0), "{role} {s}: {out}");
        assert_eq!(out["closed"], json!(true), "{role} {s}: {out}");
    }
}

/// A handle as the first message, to a Rust child that does not call
/// `recv` again until Node used the server: the ACK goes out by itself.
#[test]
fn the_ack_goes_out_without_another_recv() {
    let node = require_node!();
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    for s in BOTH {
        let out = run_node_parent(&node, "first", s, "first", 1);
        assert_eq!(out["acked"], json!(true), "{s}: {out}");
        assert_eq!(out["reads"], json!(["rust accepted first"]), "{s}: {out}");
        assert_eq!(out["sendErrors"], json!([]), "{s}: {out}");
    }
}

/// NACK path against a real Node sender: the Rust child can take no fd
/// (`RLIMIT_NOFILE` reached), so it NACKs; Node sends the socket again 3
/// times (4 send callbacks), then gives up with its warning.
#[test]
fn node_resends_a_socket_we_nack_then_warns() {
    let node = require_node!();
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    for s in BOTH {
        let out = run_node_parent(&node, "nack", s, "nack", 1);
        assert_eq!(out["callbacks"], json!(4), "{s}: {out}");
        assert_eq!(
            out["warnings"],
            json!(["SentHandleNotReceivedWarning"]),
            "{s}: {out}"
        );
        // Two per transmission: the truncated read (MSG_CTRUNC), then its
        // NODE_HANDLE message, which found no fd and was NACKed.
        assert_eq!(out["replies"][0]["handleErrors"], 8, "{s}: {out}");
    }
}

/// The Rust child of `handles.js parent`: serves what it is handed, and
/// answers each message with the handle's kind, on the async or the
/// blocking channel as the role variable says. Does nothing unless the
/// Node parent started this binary with that variable.
#[test]
fn rust_child_role() {
    match std::env::var(ROLE_VAR).as_deref() {
        Ok("async") => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let mut ch = Channel::from_env().unwrap();
                let before = open_fds();
                while let Some((m, h)) = ch.recv_with_handle::<Value>().await.unwrap() {
                    let reply = serve(m, h).unwrap_or_else(|| json!({"fds": [before, open_fds()]}));
                    ch.send(&reply).await.unwrap();
                }
            });
        }
        Ok("nack") => nack_role(),
        Ok("first") => first_role(),
        Ok("blocking") => {
            let mut ch = nodeipc::blocking::Channel::from_env().unwrap();
            let before = open_fds();
            while let Some((m, h)) = ch.recv_with_handle::<Value>().unwrap() {
                let reply = serve(m, h).unwrap_or_else(|| json!({"fds": [before, open_fds()]}));
                ch.send(&reply).unwrap();
            }
        }
        _ => {}
    }
}

/// A Rust child whose first message is a server: it accepts one
/// connection on it before it calls `recv` again, so the ACK has to go out
/// without another `recv` (Node connects only once it has the ACK).
fn first_role() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut ch = Channel::from_env().unwrap();
        let before = open_fds();
        let (m, h) = ch.recv_with_handle::<Value>().await.unwrap().unwrap();
        assert_eq!(m["tag"], "first");
        let Some(Handle::TcpListener(l)) = h else {
            panic!("expected a TcpListener, got {h:?}");
        };
        let l = tokio::net::TcpListener::from_std(l).unwrap();
        let (mut s, _) = l.accept().await.unwrap();
        tokio::io::AsyncWriteExt::write_all(&mut s, b"rust accepted first")
            .await
            .unwrap();
        drop((s, l));
        let m = ch.recv::<Value>().await.unwrap().unwrap();
        assert!(m.get("done").is_some(), "{m}");
        ch.send(&json!({ "fds": [before, open_fds()] }))
            .await
            .unwrap();
        while ch.recv::<Value>().await.unwrap().is_some() {}
    });
}

/// A Rust child that can open no fd: each socket Node sends is dropped by
/// the kernel (`MSG_CTRUNC`) and answered NACK. Replies with how many
/// handle errors it saw.
fn nack_role() {
    let mut ch = nodeipc::blocking::Channel::from_env().unwrap();
    let before = open_fds();
    let highest = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u64>().ok())
        .max()
        .unwrap();
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit(2) and setrlimit(2) write / read the one struct
    // we pass; no other memory is involved.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        limit.rlim_cur = highest + 1;
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0);
    }
    // Fill the gaps below the limit too.
    let mut hold = Vec::new();
    while let Ok(f) = std::fs::File::open("/dev/null") {
        hold.push(f);
    }
    let mut errors = 0;
    loop {
        match ch.recv_with_handle::<Value>() {
            Ok(Some((m, None))) if m.get("done").is_some() => break,
            Ok(other) => panic!("unexpected {other:?}"),
            Err(nodeipc::Error::Handle { .. }) => errors += 1,
            Err(e) => panic!("{e}"),
        }
    }
    drop(hold);
    ch.send(&json!({ "handleErrors": errors, "fds": [before, open_fds()] }))
        .unwrap();
}

/// What the Rust child does with one message and its handle; `None` when
/// the parent says it is done (the child then answers with its open-fd
/// counts from before the first message and now, and Node disconnects).
fn serve(m: Value, h: Option<Handle>) -> Option<Value> {
    if m.get("done").is_some() {
        return None;
    }
    let kind = match h {
        Some(Handle::TcpListener(l)) => {
            l.set_nonblocking(false).unwrap();
            for i in 0..2 {
                let (mut s, _) = l.accept().unwrap();
                write!(s, "rust accepted {i}").unwrap();
            }
            "TcpListener"
        }
        Some(Handle::TcpStream(mut s)) => {
            s.set_nonblocking(false).unwrap();
            s.write_all(b"rust answered").unwrap();
            "TcpStream"
        }
        other => panic!("unexpected handle {other:?}"),
    };
    Some(json!({"tag": m["tag"], "kind": kind}))
}
