//! Interop: a Rust parent (`nodeipc::Command`) and a real Node child
//! (`tests/node/child.js`). Every test has a timeout and kills its child
//! when it fails.

mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use common::pattern;
use nodeipc::codec::json::encode;
use nodeipc::{DecodeError, Error, Message};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

const TIMEOUT: Duration = Duration::from_secs(30);

/// A `nodeipc::Command` running `node tests/node/child.js <mode> <args…>`,
/// killed when dropped (so a timed-out test leaves nothing behind).
fn node_child(node: &Path, mode: &str, args: &[&str]) -> nodeipc::Command {
    let mut cmd = nodeipc::Command::new(node);
    cmd.arg(common::script("child.js")).arg(mode).args(args);
    cmd.as_tokio_mut().kill_on_drop(true);
    cmd
}

fn encoded<T: Serialize + ?Sized>(v: &T) -> String {
    let mut out = Vec::new();
    encode(v, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

// ---------------------------------------------------------------------------
// JSON values

/// Node → Rust: the exact bytes Node writes for each value of a list in
/// `tests/node/values.js` reach a `RawValue` unchanged; parsed into
/// `serde_json::Value` and encoded by nodeipc they give the bytes
/// `JSON.stringify` gives (lone surrogates → U+FFFD). Rust → Node: the value
/// sent back is what Node expects.
async fn check_node_values(which: &str, at_least: usize) {
    let node = require_node!();
    common::timeout(TIMEOUT, async {
        let (_child, mut ch) = node_child(&node, "values", &[which]).spawn().unwrap();
        let mut failures = Vec::new();
        let mut checked = 0;
        loop {
            let meta: Value = ch.recv().await.unwrap().expect("catalog entry");
            if meta.get("end").is_some() {
                break;
            }
            let name = meta["name"].as_str().unwrap().to_owned();
            let node_json = meta["json"].as_str().unwrap();
            let expect = meta["expect"].as_str().unwrap();

            let raw: Box<RawValue> = match ch.recv().await {
                Ok(v) => v.expect("value"),
                Err(e) => {
                    failures.push(format!("{name}: as RawValue: {e}"));
                    ch.recv::<Value>().await.ok();
                    ch.feed(&Value::Null).await.unwrap();
                    continue;
                }
            };
            if raw.get() != node_json {
                failures.push(format!(
                    "{name}: RawValue {:?} but Node wrote {node_json:?}",
                    raw.get()
                ));
            }
            let value: Value = match ch.recv().await {
                Ok(v) => v.expect("value"),
                Err(e) => {
                    failures.push(format!("{name}: as Value: {e}"));
                    ch.feed(&Value::Null).await.unwrap();
                    continue;
                }
            };
            let ours = encoded(&value);
            if ours.strip_suffix('\n') != Some(expect) {
                failures.push(format!(
                    "{name}: nodeipc encodes the parsed value as {ours:?}, JSON.stringify gives {expect:?}"
                ));
            }
            ch.feed(&value).await.unwrap();
            checked += 1;
        }
        ch.send(&json!({"done": true})).await.unwrap();
        let report: Value = ch.recv().await.unwrap().expect("report");
        assert_eq!(report["checked"], checked, "{report}");
        for f in report["failures"].as_array().unwrap() {
            failures.push(format!(
                "{}: Node got back {} (JSON.stringify), expected {}",
                f["name"], f["got"], f["want"]
            ));
        }
        assert!(checked >= at_least, "only {checked} values checked");
        assert!(
            failures.is_empty(),
            "{} checks failed over {checked} values (first 25 shown):\n{}",
            failures.len(),
            failures[..failures.len().min(25)].join("\n")
        );
    })
    .await;
}

/// Every JSON value kind: null, bools, numbers (-0, 1e21, 2**53+1, 2**64,
/// denormals), strings (escapes, astral, U+2028/9, lone surrogates), arrays,
/// nested and empty objects, key order.
#[tokio::test]
async fn node_values_arrive_byte_exact_and_survive_the_round_trip() {
    check_node_values("catalog", 45).await;
}

/// 300 doubles from random bit patterns: Node → Rust → Node gives back the
/// same number, written the same way.
#[tokio::test]
async fn node_doubles_survive_the_round_trip_exactly() {
    check_node_values("doubles", 300).await;
}

#[derive(Serialize)]
struct Fields {
    b: u8,
    a: Vec<Option<bool>>,
    nested: BTreeMap<u32, &'static str>,
    unit: (),
}

#[derive(Serialize)]
enum Kind {
    Unit,
    Newtype(i32),
}

/// Rust → Node: what Node parses from nodeipc's bytes, written back with
/// `JSON.stringify`, is exactly what nodeipc wrote (so the encoder writes
/// what `JSON.stringify` writes, and Node reads it as the same value).
#[tokio::test]
async fn rust_values_reach_node_as_json_stringify_writes_them() {
    let node = require_node!();
    common::timeout(TIMEOUT, async {
        let (_child, mut ch) = node_child(&node, "stringify", &[]).spawn().unwrap();
        let mut failures = Vec::new();
        // Sends `v`; Node answers with JSON.stringify of what it parsed.
        async fn node_text<T: Serialize + ?Sized>(ch: &mut nodeipc::Channel, v: &T) -> String {
            ch.send(v).await.unwrap();
            ch.recv().await.unwrap().expect("reply")
        }
        // `$text` is both nodeipc's encoding and what Node writes back.
        macro_rules! same {
            ($v:expr, $text:expr) => {{
                let v = $v;
                assert_eq!(
                    encoded(&v),
                    concat!($text, "\n"),
                    "encoding {}",
                    stringify!($v)
                );
                let got = node_text(&mut ch, &v).await;
                if got != $text {
                    failures.push(format!(
                        "{}: Node's JSON.stringify of it: {got:?}, expected {:?}",
                        stringify!($v),
                        $text
                    ));
                }
            }};
        }
        same!((), "null");
        same!(None::<i32>, "null");
        same!(true, "true");
        same!(0u8, "0");
        same!(-0.0f64, "0");
        same!(42i32, "42");
        same!(-7i64, "-7");
        same!(u64::MAX, "18446744073709552000");
        same!((1u64 << 53) + 1, "9007199254740992");
        same!(1u64 << 53, "9007199254740992");
        same!((1u64 << 53) - 1, "9007199254740991");
        same!(i64::MIN, "-9223372036854776000");
        same!(i64::MAX, "9223372036854776000");
        same!(u128::MAX, "3.402823669209385e+38");
        same!(1e21f64, "1e+21");
        same!(1e20f64, "100000000000000000000");
        same!(1.5e-7f64, "1.5e-7");
        same!(1e-6f64, "0.000001");
        same!(5e-324f64, "5e-324");
        same!(f64::MAX, "1.7976931348623157e+308");
        same!(0.1f64 + 0.2, "0.30000000000000004");
        same!(0.1f32, "0.10000000149011612");
        same!(f64::NAN, "null");
        same!(f64::INFINITY, "null");
        same!(f64::NEG_INFINITY, "null");
        same!("", r#""""#);
        same!("café", r#""café""#);
        same!("\u{1F600}\u{10FFFF}", "\"\u{1F600}\u{10FFFF}\"");
        same!("\u{2028}\u{2029}", "\"\u{2028}\u{2029}\"");
        same!(
            "\0\u{1f}\u{7f}\"\\/\u{8}\u{c}\n\r\t",
            "\"\\u0000\\u001f\u{7f}\\\"\\\\/\\b\\f\\n\\r\\t\""
        );
        same!('x', r#""x""#);
        same!(vec![1, 2, 3], "[1,2,3]");
        same!(Vec::<i32>::new(), "[]");
        same!(BTreeMap::<String, i32>::new(), "{}");
        same!((1, "a", None::<i32>, [(); 0]), r#"[1,"a",null,[]]"#);
        same!(
            Fields {
                b: 1,
                a: vec![Some(true), None],
                nested: [(2, "two"), (10, "ten")].into(),
                unit: (),
            },
            r#"{"b":1,"a":[true,null],"nested":{"2":"two","10":"ten"},"unit":null}"#
        );
        same!(Kind::Unit, r#""Unit""#);
        same!(Kind::Newtype(-1), r#"{"Newtype":-1}"#);
        same!(
            json!({"z": 1, "a": {"": [{}, []]}, "😀": "\u{2028}"}),
            "{\"z\":1,\"a\":{\"\":[{},[]]},\"😀\":\"\u{2028}\"}"
        );
        // JS puts integer-like keys first: a fact about JS objects, not the
        // wire. nodeipc keeps insertion order, as JSON.stringify does.
        let v = json!({"z": 1, "10": 2, "a": 3});
        assert_eq!(encoded(&v), "{\"z\":1,\"10\":2,\"a\":3}\n");
        assert_eq!(node_text(&mut ch, &v).await, r#"{"10":2,"z":1,"a":3}"#);
        // A lone surrogate can only be sent from Rust as a RawValue; Node
        // then holds the same lone surrogate.
        let raw = RawValue::from_string(r#""a\ud800b""#.into()).unwrap();
        assert_eq!(node_text(&mut ch, &raw).await, r#""a\ud800b""#);
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    })
    .await;
}

/// Parsing into `String`/`Value` maps lone surrogates to U+FFFD; a
/// `RawValue` keeps the exact text; valid escaped pairs decode normally.
#[tokio::test]
async fn lone_surrogates_become_fffd_in_strings_and_stay_exact_in_raw_value() {
    let node = require_node!();
    common::timeout(TIMEOUT, async {
        let lines = [
            r#""a\ud800b""#,                 // as String
            r#""a\ud800b""#,                 // as RawValue
            r#""a\ud800b""#,                 // as Value
            r#"{"k\udc00":"\ud83d\ude00"}"#, // Value: lone key, escaped pair value
            r#""\ud83d\ud83d\ude00""#,       // String: lone high then a pair
            r#""\\ud800\ud800""#,            // an escaped backslash, then a lone surrogate
            r#"["\udfff",{"x":"\ud800"}]"#,  // RawValue, nested
        ];
        let args: Vec<String> = lines
            .iter()
            .map(|l| hex(format!("{l}\n").as_bytes()))
            .collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (_child, mut ch) = node_child(&node, "raw", &args).spawn().unwrap();

        let s: String = ch.recv().await.unwrap().unwrap();
        assert_eq!(s, "a\u{FFFD}b");
        let raw: Box<RawValue> = ch.recv().await.unwrap().unwrap();
        assert_eq!(raw.get(), r#""a\ud800b""#);
        let v: Value = ch.recv().await.unwrap().unwrap();
        assert_eq!(v, json!("a\u{FFFD}b"));
        let v: Value = ch.recv().await.unwrap().unwrap();
        assert_eq!(v, json!({"k\u{FFFD}": "\u{1F600}"}));
        let s: String = ch.recv().await.unwrap().unwrap();
        assert_eq!(s, "\u{FFFD}\u{1F600}");
        let s: String = ch.recv().await.unwrap().unwrap();
        assert_eq!(s, "\\ud800\u{FFFD}");
        let raw: Box<RawValue> = ch.recv().await.unwrap().unwrap();
        assert_eq!(raw.get(), r#"["\udfff",{"x":"\ud800"}]"#);
        assert!(ch.recv::<Value>().await.unwrap().is_none());
    })
    .await;
}

// ---------------------------------------------------------------------------
// Sizes and volume

/// Strings from 0 bytes to 8 MiB go to Node and come back intact,
/// including lines of exactly 64 KiB ± 1 (libuv's read size).
#[tokio::test]
async fn messages_from_0_bytes_to_8_mib_round_trip_intact() {
    let node = require_node!();
    common::timeout(Duration::from_secs(60), async {
        let (mut child, mut ch) = node_child(&node, "echo", &[]).spawn().unwrap();
        let mut multibyte = String::new();
        while multibyte.len() < 1 << 20 {
            write!(multibyte, "é€\u{1F600}\u{2028}\"\\\n\t{}", multibyte.len()).unwrap();
        }
        let messages = [
            String::new(),
            "x".into(),
            // Lines (quotes and \n included) of 65535, 65536, 65537 bytes.
            pattern(65532),
            pattern(65533),
            pattern(65534),
            pattern(1 << 20),
            multibyte,
            pattern(8 << 20),
        ];
        for m in &messages {
            ch.send(m).await.unwrap();
            let back: String = ch.recv().await.unwrap().expect("echo");
            assert!(back == *m, "a {}-byte message came back changed", m.len());
        }
        drop(ch);
        assert!(child.wait().await.unwrap().success());
    })
    .await;
}

/// 100 000 small messages, fed and flushed in one go, reach Node in order.
#[tokio::test]
async fn hundred_thousand_messages_rust_to_node_arrive_in_order() {
    let node = require_node!();
    common::timeout(Duration::from_secs(60), async {
        let (mut child, mut ch) = node_child(&node, "countIn", &[]).spawn().unwrap();
        for i in 0..100_000u32 {
            ch.feed(&json!({ "i": i })).await.unwrap();
        }
        ch.feed(&json!({"done": true})).await.unwrap();
        ch.flush().await.unwrap();
        let report: Value = ch.recv().await.unwrap().expect("report");
        assert_eq!(report, json!({"received": 100_000, "firstBad": null}));
        drop(ch);
        assert!(child.wait().await.unwrap().success());
    })
    .await;
}

/// 100 000 small `process.send`s arrive in order, then a clean `Ok(None)`.
#[tokio::test]
async fn hundred_thousand_messages_node_to_rust_arrive_in_order() {
    let node = require_node!();
    common::timeout(Duration::from_secs(60), async {
        #[derive(Deserialize)]
        struct I {
            i: u32,
        }
        let (mut child, mut ch) = node_child(&node, "countOut", &["100000"]).spawn().unwrap();
        for want in 0..100_000u32 {
            let got: I = ch.recv().await.unwrap().expect("message");
            assert_eq!(got.i, want);
        }
        assert!(ch.recv::<Value>().await.unwrap().is_none());
        assert!(child.wait().await.unwrap().success());
    })
    .await;
}

// ---------------------------------------------------------------------------
// Lifecycle

async fn child_stdout(child: tokio::process::Child) -> (std::process::ExitStatus, String) {
    let out = child.wait_with_output().await.unwrap();
    (
        out.status,
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[tokio::test]
async fn dropping_the_channel_gives_the_node_child_disconnect() {
    let node = require_node!();
    common::timeout(TIMEOUT, async {
        let mut cmd = node_child(&node, "disconnectReport", &[]);
        let (child, mut ch) = cmd.stdout(Stdio::piped()).spawn().unwrap();
        for i in 0..3 {
            ch.send(&i).await.unwrap();
        }
        drop(ch);
        let (status, out) = child_stdout(child).await;
        assert!(status.success(), "{status:?} {out}");
        assert_eq!(out, "disconnect after 3 messages\n");
    })
    .await;
}

#[tokio::test]
async fn disconnect_flushes_fed_messages_then_node_sees_disconnect() {
    let node = require_node!();
    common::timeout(TIMEOUT, async {
        let mut cmd = node_child(&node, "disconnectReport", &[]);
        let (child, mut ch) = cmd.stdout(Stdio::piped()).spawn().unwrap();
        for i in 0..1000 {
            ch.feed(&json!({ "i": i, "pad": pattern(500) }))
                .await
                .unwrap();
        }
        ch.disconnect().await.unwrap();
        let (status, out) = child_stdout(child).await;
        assert!(status.success(), "{status:?} {out}");
        assert_eq!(out, "disconnect after 1000 messages\n");
    })
    .await;
}

/// The channel stays open while either half lives; dropping both closes it.
#[tokio::test]
async fn dropping_both_split_halves_disconnects() {
    let node = require_node!();
    common::timeout(TIMEOUT, async {
        let mut cmd = node_child(&node, "disconnectReport", &[]);
        let (child, ch) = cmd.stdout(Stdio::piped()).spawn().unwrap();
        let (mut tx, mut rx) = ch.split();
        tx.send(&"ping").await.unwrap();
        drop(tx);
        assert_eq!(rx.recv::<String>().await.unwrap().as_deref(), Some("pong"));
        drop(rx);
        let (status, out) = child_stdout(child).await;
        assert!(status.success(), "{status:?} {out}");
        assert_eq!(out, "disconnect after 1 messages\n");
    })
    .await;
}

/// `process.disconnect()` in the child: `recv` gives `Ok(None)` (and keeps
/// giving it); a later `send` is `Error::Disconnected`.
#[tokio::test]
async fn node_process_disconnect_gives_ok_none_and_send_fails() {
    let node = require_node!();
    common::timeout(TIMEOUT, async {
        let (mut child, mut ch) = node_child(&node, "selfDisconnect", &[]).spawn().unwrap();
        assert_eq!(ch.recv::<String>().await.unwrap().as_deref(), Some("bye"));
        assert!(ch.recv::<Value>().await.unwrap().is_none());
        assert!(ch.recv::<Value>().await.unwrap().is_none());
        match ch.send(&"too late").await {
            Err(Error::Disconnected) => {}
            other => panic!("send after the peer disconnected: {other:?}"),
        }
        assert!(child.wait().await.unwrap().success());
    })
    .await;
}

/// Dropping the channel with fed, unflushed messages delivers them: a few
/// that fit in the socket are written by the drop itself; when the socket is
/// full (the child is stopped with SIGSTOP), a background task writes the
/// rest once the child reads again. Node sees 'disconnect' after all.
#[tokio::test]
async fn dropping_with_fed_messages_still_delivers_them() {
    let node = require_node!();
    common::timeout(TIMEOUT, async {
        for (count, pad, stop) in [(1000, 0, false), (800, 1000, true)] {
            let mut cmd = node_child(&node, "disconnectReport", &[]);
            let (child, ch) = cmd.stdout(Stdio::piped()).spawn().unwrap();
            let pid = child.id().unwrap() as libc::pid_t;
            if stop {
                // SAFETY: kill(2) on our own child; no memory involved.
                assert_eq!(unsafe { libc::kill(pid, libc::SIGSTOP) }, 0);
            }
            let (mut tx, rx) = ch.split();
            for i in 0..count {
                tx.feed(&json!({ "i": i, "pad": pattern(pad) }))
                    .await
                    .unwrap();
            }
            assert!(tx.queued() > 0, "nothing left to write at drop");
            drop(tx);
            drop(rx);
            if stop {
                // SAFETY: as above.
                assert_eq!(unsafe { libc::kill(pid, libc::SIGCONT) }, 0);
            }
            let (status, out) = child_stdout(child).await;
            assert!(status.success(), "{status:?} {out}");
            assert_eq!(out, format!("disconnect after {count} messages\n"));
        }
    })
    .await;
}

/// A child that stops reading (SIGSTOP) and is then killed while a 50 MB
/// send waits for room: the send fails with `Disconnected`, it does not
/// hang.
#[tokio::test]
async fn send_to_a_child_killed_mid_send_is_disconnected() {
    let node = require_node!();
    common::timeout(TIMEOUT, async {
        let (mut child, mut ch) = node_child(&node, "echo", &[]).spawn().unwrap();
        ch.send(&"up?").await.unwrap();
        assert_eq!(ch.recv::<String>().await.unwrap().as_deref(), Some("up?"));
        let pid = child.id().unwrap() as libc::pid_t;
        // SAFETY: kill(2) on our own child; no memory involved.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGSTOP) }, 0);
        let big = pattern(50_000_000);
        {
            let send = ch.send(&big);
            tokio::pin!(send);
            // The socket fills up and the send waits.
            tokio::select! {
                r = &mut send => panic!("a 50 MB send to a stopped child finished: {r:?}"),
                _ = tokio::time::sleep(Duration::from_millis(300)) => {}
            }
            child.start_kill().unwrap();
            match send.await {
                Err(Error::Disconnected) => {}
                other => panic!("expected Disconnected, got {other:?}"),
            }
        }
        child.wait().await.unwrap();
        match ch.send(&"again").await {
            Err(Error::Disconnected) => {}
            other => panic!("a send after the failure: {other:?}"),
        }
    })
    .await;
}

/// A Node child that sends 20 MB and returns normally delivers all of it.
#[tokio::test]
async fn node_child_that_sends_20mb_and_exits_normally_delivers_it() {
    let node = require_node!();
    common::timeout(Duration::from_secs(60), async {
        #[derive(Deserialize)]
        struct Big {
            big: String,
        }
        let n = 20_000_000;
        let (mut child, mut ch) = node_child(&node, "sendAndReturn", &[&n.to_string()])
            .spawn()
            .unwrap();
        let got: Big = ch.recv().await.unwrap().expect("the big message");
        assert_eq!(got.big.len(), n);
        assert!(got.big == pattern(n), "20 MB message arrived changed");
        assert!(ch.recv::<Value>().await.unwrap().is_none());
        assert!(child.wait().await.unwrap().success());
    })
    .await;
}

#[tokio::test]
async fn node_child_killed_after_a_partial_line_is_unexpected_eof() {
    let node = require_node!();
    common::timeout(TIMEOUT, async {
        let (mut child, mut ch) = node_child(&node, "partialKill", &[]).spawn().unwrap();
        match ch.recv::<Value>().await {
            Err(Error::UnexpectedEof { buffered: 11 }) => {}
            other => panic!("expected UnexpectedEof {{ buffered: 11 }}, got {other:?}"),
        }
        // Reported once; then the channel is simply closed.
        assert!(ch.recv::<Value>().await.unwrap().is_none());
        let status = child.wait().await.unwrap();
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(9)
        );
    })
    .await;
}

#[tokio::test]
async fn node_child_killed_while_sending_50mb_is_unexpected_eof() {
    let node = require_node!();
    common::timeout(TIMEOUT, async {
        let n = 50_000_000;
        let mut cmd = node_child(&node, "bigThenWait", &[&n.to_string()]);
        let (mut child, mut ch) = cmd.stdout(Stdio::piped()).spawn().unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        assert_eq!(lines.next_line().await.unwrap().as_deref(), Some("started"));
        // The first bytes are in the socket (Node writes what fits at once);
        // the rest is queued in the child, which dies now.
        child.start_kill().unwrap();
        child.wait().await.unwrap();
        match ch.recv::<Value>().await {
            Err(Error::UnexpectedEof { buffered }) => {
                assert!(buffered > 0 && buffered < n, "buffered {buffered}");
            }
            other => panic!("expected UnexpectedEof, got {other:?}"),
        }
        assert!(ch.recv::<Value>().await.unwrap().is_none());
    })
    .await;
}

/// Parses `ls -l /proc/self/fd`: fd number → link target.
fn fd_table(ls: &str) -> BTreeMap<i32, String> {
    ls.lines()
        .filter_map(|line| {
            let (left, target) = line.split_once(" -> ")?;
            let fd = left.split_whitespace().last()?.parse().ok()?;
            Some((fd, target.to_owned()))
        })
        .collect()
}

/// Whether this test process itself holds `fd` without CLOEXEC, pointing
/// at `target`: such an fd came from whoever started the tests (a shell or
/// CI runner that leaks fds, as some do), and every child started with
/// `std::process` inherits it. That is not a leak of nodeipc's.
fn inherited_by_this_process(fd: i32, target: &str) -> bool {
    // SAFETY: F_GETFD on an fd number only reads this process's fd table.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    flags >= 0
        && flags & libc::FD_CLOEXEC == 0
        && std::fs::read_link(format!("/proc/self/fd/{fd}"))
            .is_ok_and(|t| t.to_string_lossy() == target)
}

/// The child gets stdio and the channel, nothing else of ours: a non-Node
/// child lists its fds. `ls` itself holds the directory it lists.
#[tokio::test]
async fn child_gets_only_stdio_and_the_channel_fd() {
    common::timeout(TIMEOUT, async {
        // Other sockets of this process, open while the child is spawned.
        let (_a, _b) = nodeipc::Channel::pair().unwrap();
        for channel_fd in [3, 5] {
            let mut cmd = nodeipc::Command::new("sh");
            cmd.arg("-c")
                .arg(
                    "echo \"$NODE_CHANNEL_FD $NODE_CHANNEL_SERIALIZATION_MODE\"; \
                     exec ls -l /proc/self/fd",
                )
                .channel_fd(channel_fd)
                .stdout(Stdio::piped());
            cmd.as_tokio_mut().kill_on_drop(true);
            let (child, _ch) = cmd.spawn().unwrap();
            let (status, out) = child_stdout(child).await;
            assert!(status.success(), "{out}");
            let (env, ls) = out.split_once('\n').unwrap();
            assert_eq!(env, format!("{channel_fd} json"));
            let fds = fd_table(ls);
            for fd in [0, 1, 2] {
                assert!(fds.contains_key(&fd), "no fd {fd} in the child:\n{ls}");
            }
            assert!(
                fds.get(&channel_fd)
                    .is_some_and(|t| t.starts_with("socket:")),
                "no socket at fd {channel_fd} in the child:\n{ls}"
            );
            let listing: Vec<_> = fds
                .iter()
                .filter(|(_, t)| t.starts_with("/proc/") && t.ends_with("/fd"))
                .collect();
            assert_eq!(listing.len(), 1, "where is ls's own directory fd?\n{ls}");
            let unexpected: Vec<String> = fds
                .iter()
                .filter(|&(&fd, t)| {
                    fd > 2
                        && fd != channel_fd
                        && *listing[0].0 != fd
                        && (t.starts_with("socket:") || !inherited_by_this_process(fd, t))
                })
                .map(|(fd, t)| format!("{fd} -> {t}"))
                .collect();
            assert!(
                unexpected.is_empty(),
                "fds leaked into the child: {unexpected:?}\nfull table:\n{ls}"
            );
        }
    })
    .await;
}

/// `channel_fd(5)` works with Node, which also deletes the variables.
#[tokio::test]
async fn node_child_finds_the_channel_at_fd_5() {
    let node = require_node!();
    common::timeout(TIMEOUT, async {
        let mut cmd = node_child(&node, "channelInfo", &[]);
        let (mut child, mut ch) = cmd.channel_fd(5).spawn().unwrap();
        let info: Value = ch.recv().await.unwrap().expect("info");
        assert_eq!(info, json!({"fd": 5, "envFd": null, "envMode": null}));
        assert!(ch.recv::<Value>().await.unwrap().is_none());
        assert!(child.wait().await.unwrap().success());
    })
    .await;
}

// ---------------------------------------------------------------------------
// Internal messages, cancel safety, bad input

/// `{cmd: 'NODE_FOO'}` is internal: `recv` skips it, `recv_message` shows
/// it. `{cmd: 'NODE_'}` and `{cmd: 'node_x'}` are user messages.
#[tokio::test]
async fn internal_messages_skip_recv_and_show_in_recv_message() {
    let node = require_node!();
    common::timeout(TIMEOUT, async {
        let (_child, mut ch) = node_child(&node, "internal", &[]).spawn().unwrap();
        let mut seen = Vec::new();
        while let Some(m) = ch.recv_message::<Value>().await.unwrap() {
            seen.push(m);
        }
        let internal = |v: Value| Message::Internal(nodeipc::InternalMessage(v));
        assert_eq!(
            seen,
            vec![
                internal(json!({"cmd": "NODE_FOO", "x": 1})),
                Message::User(json!({"cmd": "NODE_"})),
                Message::User(json!({"cmd": "node_x"})),
                internal(json!({"cmd": "NODE_BAR"})),
                Message::User(json!({"n": 1})),
            ]
        );
        if let Message::Internal(m) = &seen[0] {
            assert_eq!(m.cmd(), "NODE_FOO");
        }

        let (_child, mut ch) = node_child(&node, "internal", &[]).spawn().unwrap();
        let mut users = Vec::new();
        while let Some(m) = ch.recv::<Value>().await.unwrap() {
            users.push(m);
        }
        assert_eq!(
            users,
            vec![
                json!({"cmd": "NODE_"}),
                json!({"cmd": "node_x"}),
                json!({"n": 1})
            ]
        );
    })
    .await;
}

/// `recv` raced against a short timer in `select!`: every message arrives
/// once, in order, although many `recv` futures are dropped, some in the
/// middle of a 200 KB message.
#[tokio::test]
async fn recv_is_cancel_safe_in_a_select_loop() {
    let node = require_node!();
    common::timeout(Duration::from_secs(60), async {
        #[derive(Deserialize)]
        struct Paced {
            i: usize,
            pad: String,
            #[serde(default)]
            s: String,
        }
        let n = 300;
        let (mut child, mut ch) = node_child(&node, "paced", &[&n.to_string()]).spawn().unwrap();
        let mut next = 0;
        let mut cancelled = 0;
        loop {
            tokio::select! {
                m = ch.recv::<Paced>() => match m.unwrap() {
                    Some(m) => {
                        assert_eq!(m.i, next, "message out of order or lost");
                        let want = if m.i % 25 == 0 { 200_000 + m.i } else { 0 };
                        assert!(m.pad.len() == want && m.pad == pattern(want), "message {} changed", m.i);
                        let s = if m.i % 25 == 12 { "\u{1F600}" } else { "" };
                        assert_eq!(m.s, s, "message {} changed", m.i);
                        next += 1;
                    }
                    None => break,
                },
                _ = tokio::time::sleep(Duration::from_micros(300)) => cancelled += 1,
            }
        }
        assert_eq!(next, n);
        assert!(cancelled > 0, "the timer never won: nothing was cancelled");
        assert!(child.wait().await.unwrap().success());
    })
    .await;
}

/// Raw bytes from the child: an empty line and a bad line are errors with
/// their offsets, and the messages around them still arrive.
#[tokio::test]
async fn decode_errors_keep_the_channel_in_sync() {
    let node = require_node!();
    common::timeout(TIMEOUT, async {
        let (_child, mut ch) = node_child(&node, "raw", &[&hex(b"{\"a\":1}\n\nbad\n{\"b\":2}\n")])
            .spawn()
            .unwrap();
        assert_eq!(ch.recv::<Value>().await.unwrap(), Some(json!({"a": 1})));
        match ch.recv::<Value>().await {
            Err(
                e @ Error::Decode {
                    offset: 8,
                    kind: DecodeError::EmptyLine,
                },
            ) => assert!(e.is_recoverable()),
            other => panic!("expected an empty-line error at 8, got {other:?}"),
        }
        match ch.recv::<Value>().await {
            Err(Error::Decode {
                offset: 9,
                kind: DecodeError::Json(_),
            }) => {}
            other => panic!("expected a JSON error at 9, got {other:?}"),
        }
        assert_eq!(ch.recv::<Value>().await.unwrap(), Some(json!({"b": 2})));
        assert!(ch.recv::<Value>().await.unwrap().is_none());
    })
    .await;
}

/// What Node's reader accepts, we accept (docs/protocol.md §2.3), also when a
/// message arrives in pieces split inside a UTF-8 sequence; a message of
/// the wrong type is an error that does not lose the next one.
#[tokio::test]
async fn node_accepted_input_and_type_errors_decode_in_sync() {
    let node = require_node!();
    common::timeout(TIMEOUT, async {
        let writes: [&[u8]; 8] = [
            b"{\"a\":1}\r\n",
            b" \t{\"a\":2} \n",
            b"\"a\xffb\"\n",
            b"\"\xf0\x9f",
            b"\x98\x80\"\n",
            b" \t\n",
            b"\"not a number\"\n",
            b"3\n",
        ];
        let args: Vec<String> = writes.iter().map(|w| hex(w)).collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (_child, mut ch) = node_child(&node, "raw", &args).spawn().unwrap();
        assert_eq!(ch.recv::<Value>().await.unwrap(), Some(json!({"a": 1})));
        assert_eq!(ch.recv::<Value>().await.unwrap(), Some(json!({"a": 2})));
        assert_eq!(
            ch.recv::<String>().await.unwrap().as_deref(),
            Some("a\u{FFFD}b")
        );
        assert_eq!(
            ch.recv::<String>().await.unwrap().as_deref(),
            Some("\u{1F600}")
        );
        assert!(matches!(
            ch.recv::<Value>().await,
            Err(Error::Decode {
                kind: DecodeError::EmptyLine,
                ..
            })
        ));
        assert!(matches!(
            ch.recv::<u32>().await,
            Err(Error::Decode {
                kind: DecodeError::Json(_),
                ..
            })
        ));
        assert_eq!(ch.recv::<u32>().await.unwrap(), Some(3));
        assert!(ch.recv::<Value>().await.unwrap().is_none());
    })
    .await;
}

// ---------------------------------------------------------------------------
// Blocking channel

/// `blocking_spawn` + `blocking::Channel` with a Node child: values, a big
/// message, many fed messages, disconnect. A watchdog kills the child if
/// the test blocks.
#[test]
fn blocking_channel_talks_to_a_node_child() {
    let node = require_node!();
    let mut cmd = nodeipc::Command::new(&node);
    cmd.arg(common::script("child.js")).arg("echo");
    let (mut child, mut ch) = cmd.blocking_spawn().unwrap();
    let watchdog = common::Watchdog::new(child.id(), TIMEOUT);

    let value = json!({"s": "\u{1F600}\u{2028}", "n": [0, -1.5, 1e21], "o": {}});
    ch.send(&value).unwrap();
    assert_eq!(ch.recv::<Value>().unwrap(), Some(value));
    let big = pattern(1 << 20);
    ch.send(&big).unwrap();
    assert!(ch.recv::<String>().unwrap().as_deref() == Some(big.as_str()));
    for i in 0..10_000u32 {
        ch.feed(&i).unwrap();
    }
    ch.flush().unwrap();
    for i in 0..10_000u32 {
        assert_eq!(ch.recv::<u32>().unwrap(), Some(i));
    }
    ch.disconnect().unwrap();
    let status = child.wait().unwrap();
    assert!(!watchdog.disarm(), "timed out");
    assert!(status.success(), "{status:?}");
}
