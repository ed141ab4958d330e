//! Interop: a real Node parent (`tests/node/parent.js`) and a Rust child.
//!
//! This is a `harness = false` test. The binary plays two parts:
//!
//! - run normally, it is the test runner: each case starts
//!   `node parent.js <case> <this binary>`, and the Node parent starts this
//!   binary again with `fork()` (`execPath`) or `spawn()` with `'ipc'` in
//!   `stdio`, or the runner starts it directly with a crafted
//!   `NODE_CHANNEL_FD`;
//! - run with `NODEIPC_TEST_ROLE=<role>`, it is that Rust child (see
//!   [`role`]), using `nodeipc::Channel::from_env` or
//!   `nodeipc::blocking::Channel::from_env`. A process can adopt its channel
//!   only once, which is why each role is a process of its own.
//!
//! Every case runs in its own process group and is killed (with its
//! children) after [`CASE_TIMEOUT`]. Output follows libtest's; a name
//! filter given on the command line selects cases by substring.

mod common;

use std::os::fd::OwnedFd;
use std::process::{Command, ExitCode, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::pattern;
use nodeipc::codec::json::encode;
use nodeipc::{Error, Message};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};

const ROLE_VAR: &str = "NODEIPC_TEST_ROLE";
const CASE_TIMEOUT: Duration = Duration::from_secs(30);
/// A role that ends because `recv` returned `Ok(None)` exits with this.
const EXIT_ON_EOF: i32 = 10;
/// A role that hit an unexpected error exits with this.
const EXIT_FAILED: i32 = 3;

fn main() -> ExitCode {
    if let Ok(role_name) = std::env::var(ROLE_VAR) {
        std::process::exit(role(&role_name));
    }
    run_cases()
}

// ===========================================================================
// The runner

type CaseFn = Box<dyn Fn(&std::path::Path) -> Result<(), String> + Send + Sync>;

fn cases() -> Vec<(String, CaseFn)> {
    let mut cases: Vec<(String, CaseFn)> = Vec::new();
    let mut node_case = |case: &str| {
        let case_owned = case.to_owned();
        let f: CaseFn = Box::new(move |node| run_node_parent(node, &case_owned));
        cases.push((format!("node_parent::{}", case.replace(':', "::")), f));
    };
    for (how, api) in [
        ("fork", "async"),
        ("fork", "blocking"),
        ("spawn", "async"),
        ("spawn-fd5", "blocking"),
    ] {
        node_case(&format!("values:{how}:{api}"));
        node_case(&format!("doubles:{how}:{api}"));
        node_case(&format!("internal:{how}:{api}"));
        node_case(&format!("parentDisconnect:{how}:{api}"));
    }
    for (how, api) in [("fork", "async"), ("spawn", "blocking")] {
        node_case(&format!("sizes:{how}:{api}"));
        node_case(&format!("many:{how}:{api}"));
    }
    for (how, api) in [("fork", "async"), ("spawn", "blocking")] {
        node_case(&format!("advancedKinds:{how}:{api}"));
        node_case(&format!("advancedSizes:{how}:{api}"));
        node_case(&format!("advancedMany:{how}:{api}"));
    }
    for (how, variant) in [
        ("fork", "async-drop"),
        ("spawn", "async-disconnect"),
        ("fork", "async-split"),
        ("spawn", "blocking-drop"),
        ("fork", "blocking-disconnect"),
    ] {
        node_case(&format!("childDrop:{how}:{variant}"));
    }
    for (how, variant) in [
        ("fork", "async-send"),
        ("spawn", "async-feed-flush"),
        ("fork", "blocking-send"),
        ("spawn", "blocking-feed-flush"),
        ("fork", "blocking-feed-return"),
    ] {
        node_case(&format!("sendExit:{how}:{variant}"));
    }
    node_case("sendExitAdvanced:fork:async-send");
    node_case("sendExitAdvanced:spawn:blocking-feed-flush");
    node_case("limited:fork:async");
    node_case("limited:spawn:blocking");
    node_case("grandchild:fork:async");
    node_case("grandchild:spawn:blocking");
    node_case("adoptTwice:fork:-");
    node_case("adoptTwice:spawn:-");
    node_case("advanced:fork:async");
    node_case("advanced:spawn:blocking");

    // from_env errors, with the child started directly by the runner.
    let mut direct = |name: &str, fd: Option<&str>, stdin: fn() -> Stdio, expect: String| {
        let fd = fd.map(str::to_owned);
        let f: CaseFn = Box::new(move |_node| {
            let mut cmd = Command::new(std::env::current_exe().map_err(|e| e.to_string())?);
            cmd.env(ROLE_VAR, "expect-error")
                .env("NODEIPC_TEST_EXPECT", &expect)
                .env_remove("NODE_CHANNEL_SERIALIZATION_MODE")
                .stdin(stdin());
            match &fd {
                Some(fd) => cmd.env("NODE_CHANNEL_FD", fd),
                None => cmd.env_remove("NODE_CHANNEL_FD"),
            };
            expect_success(common::run_group(cmd, CASE_TIMEOUT))
        });
        cases.push((format!("from_env::{name}"), f));
    };
    direct(
        "unset_is_no_channel",
        None,
        Stdio::null,
        "no-channel".into(),
    );
    direct(
        "not_a_number_names_the_fd",
        Some("abc"),
        Stdio::null,
        "invalid|abc|not a file descriptor number".into(),
    );
    direct(
        "empty_names_the_fd",
        Some(""),
        Stdio::null,
        "invalid||not a file descriptor number".into(),
    );
    direct(
        "negative_names_the_fd",
        Some("-1"),
        Stdio::null,
        "invalid|-1|fd -1 is not open".into(),
    );
    direct(
        "closed_fd_names_the_fd",
        Some("99"),
        Stdio::null,
        "invalid|99|fd 99 is not open".into(),
    );
    direct(
        "pipe_is_not_a_socket",
        Some("0"),
        Stdio::piped,
        "invalid|0|fd 0 is not a socket".into(),
    );
    direct(
        "regular_file_is_not_a_socket",
        Some("0"),
        || Stdio::from(std::fs::File::open(std::env::current_exe().unwrap()).unwrap()),
        "invalid|0|fd 0 is not a socket".into(),
    );
    direct(
        "unix_datagram_socket_is_refused",
        Some("0"),
        || {
            Stdio::from(OwnedFd::from(
                std::os::unix::net::UnixDatagram::unbound().unwrap(),
            ))
        },
        "invalid|0|fd 0 is not a unix stream socket".into(),
    );
    direct(
        "tcp_socket_is_refused",
        Some("0"),
        || {
            Stdio::from(OwnedFd::from(
                std::net::TcpListener::bind("127.0.0.1:0").unwrap(),
            ))
        },
        "invalid|0|fd 0 is not a unix stream socket".into(),
    );
    cases
}

fn run_node_parent(node: &std::path::Path, case: &str) -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut cmd = Command::new(node);
    cmd.arg(common::script("parent.js"))
        .arg(case)
        .arg(exe)
        .env_remove(ROLE_VAR)
        .env_remove("NODE_CHANNEL_FD")
        .env_remove("NODE_CHANNEL_SERIALIZATION_MODE");
    let out = common::run_with_timeout(cmd, CASE_TIMEOUT).map_err(|e| e.to_string())?;
    if out.status.success() && out.stdout.lines().any(|l| l == "ok") {
        Ok(())
    } else {
        Err(out.describe())
    }
}

fn expect_success(out: std::io::Result<common::Outcome>) -> Result<(), String> {
    let out = out.map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(out.describe())
    }
}

/// Runs the cases on a few threads (a case mostly waits for processes),
/// printing libtest-style lines.
fn run_cases() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let list = args.iter().any(|a| a == "--list");
    let exact = args.iter().any(|a| a == "--exact");
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    let all = cases();
    let total = all.len();
    let selected: Vec<_> = all
        .into_iter()
        .filter(|(name, _)| {
            filters.is_empty()
                || filters.iter().any(|f| {
                    if exact {
                        name == *f
                    } else {
                        name.contains(f.as_str())
                    }
                })
        })
        .collect();
    if list {
        for (name, _) in &selected {
            println!("{name}: test");
        }
        return ExitCode::SUCCESS;
    }
    // `--ignored` asks for ignored tests only: there are none.
    let selected = if args.iter().any(|a| a == "--ignored") {
        Vec::new()
    } else {
        selected
    };
    let filtered_out = total - selected.len();

    let start = Instant::now();
    println!("\nrunning {} tests", selected.len());
    // Without node (and not in CI, where common::node panics) the cases
    // that need it are reported as ignored; the from_env ones still run.
    let needs_node = |name: &str| name.starts_with("node_parent::");
    let node = if selected.iter().any(|(name, _)| needs_node(name)) {
        common::node()
    } else {
        None
    };
    let mut ignored = 0;
    let selected: Vec<_> = selected
        .into_iter()
        .filter(|(name, _)| {
            let run = node.is_some() || !needs_node(name);
            if !run {
                println!("test {name} ... ignored, node not found");
                ignored += 1;
            }
            run
        })
        .collect();
    let node = node.unwrap_or_default();

    let next = AtomicUsize::new(0);
    let failures = Mutex::new(Vec::new());
    let passed = AtomicUsize::new(0);
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get()) + 1;
    std::thread::scope(|s| {
        for _ in 0..workers.min(selected.len()) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((name, case)) = selected.get(i) else {
                        break;
                    };
                    let t = Instant::now();
                    let result =
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| case(&node)))
                            .unwrap_or_else(|p| Err(panic_message(&p)));
                    let secs = t.elapsed().as_secs_f64();
                    match result {
                        Ok(()) => {
                            passed.fetch_add(1, Ordering::Relaxed);
                            println!("test {name} ... ok ({secs:.2}s)");
                        }
                        Err(e) => {
                            println!("test {name} ... FAILED ({secs:.2}s)");
                            failures.lock().unwrap().push((name.clone(), e));
                        }
                    }
                }
            });
        }
    });

    let failures = failures.into_inner().unwrap();
    let passed = passed.into_inner();
    if !failures.is_empty() {
        println!("\nfailures:\n");
        for (name, e) in &failures {
            println!("---- {name} ----\n{e}\n");
        }
        println!("failures:");
        for (name, _) in &failures {
            println!("    {name}");
        }
    }
    println!(
        "\ntest result: {}. {passed} passed; {} failed; {ignored} ignored; 0 measured; {filtered_out} filtered out; finished in {:.2}s\n",
        if failures.is_empty() { "ok" } else { "FAILED" },
        failures.len(),
        start.elapsed().as_secs_f64()
    );
    if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(101)
    }
}

fn panic_message(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "panic".into())
}

// ===========================================================================
// The Rust child

/// Runs one role and returns the exit code. Roles named `<x>-async` use the
/// tokio [`nodeipc::Channel`], `<x>-blocking` the [`nodeipc::blocking::Channel`];
/// both run the same code (see [`roles!`]).
fn role(name: &str) -> i32 {
    if let Some(rest) = name.strip_suffix("-async") {
        return runtime().block_on(async {
            let ch = ok(
                nodeipc::Channel::from_env_with_limits(limits_for(rest)),
                "Channel::from_env",
            );
            match rest {
                "reflect" => async_roles::reflect(ch).await,
                "echo" => async_roles::echo(ch).await,
                "echo-value" => async_roles::echo_value(ch).await,
                "count" => async_roles::count(ch).await,
                "until-eof" => async_roles::until_eof(ch).await,
                "internal" => async_roles::internal(ch).await,
                "limited" => async_roles::limited(ch).await,
                "grandchild" => async_roles::grandchild(ch).await,
                _ => unknown(name),
            }
        });
    }
    if let Some(rest) = name.strip_suffix("-blocking") {
        let ch = ok(
            nodeipc::blocking::Channel::from_env_with_limits(limits_for(rest)),
            "blocking::Channel::from_env",
        );
        return match rest {
            "reflect" => blocking_roles::reflect(ch),
            "echo" => blocking_roles::echo(ch),
            "echo-value" => blocking_roles::echo_value(ch),
            "count" => blocking_roles::count(ch),
            "until-eof" => blocking_roles::until_eof(ch),
            "internal" => blocking_roles::internal(ch),
            "limited" => blocking_roles::limited(ch),
            "grandchild" => blocking_roles::grandchild(ch),
            _ => unknown(name),
        };
    }
    match name {
        "drop-async-drop" | "drop-async-disconnect" | "drop-async-split" => {
            let rt = runtime();
            rt.block_on(async {
                let mut ch = ok(nodeipc::Channel::from_env(), "Channel::from_env");
                ok(ch.send("hello").await, "send");
                match name {
                    "drop-async-drop" => drop(ch),
                    "drop-async-disconnect" => ok(ch.disconnect().await, "disconnect"),
                    _ => {
                        let (tx, rx) = ch.split();
                        drop(tx);
                        drop(rx);
                    }
                }
            });
            live_on()
        }
        "drop-blocking-drop" | "drop-blocking-disconnect" => {
            let mut ch = ok(nodeipc::blocking::Channel::from_env(), "from_env");
            ok(ch.send("hello"), "send");
            if name.ends_with("disconnect") {
                ok(ch.disconnect(), "disconnect");
            } else {
                drop(ch);
            }
            live_on()
        }
        "send-exit-async-send" | "send-exit-async-feed-flush" => {
            let big = json!({ "big": pattern(size_from_env()) });
            runtime().block_on(async {
                let mut ch = ok(nodeipc::Channel::from_env(), "Channel::from_env");
                if name.ends_with("-send") {
                    ok(ch.send(&big).await, "send");
                } else {
                    ok(ch.feed(&big).await, "feed");
                    ok(ch.flush().await, "flush");
                }
                // At once: no runtime shutdown, no destructors.
                std::process::exit(0)
            })
        }
        "send-exit-blocking-send"
        | "send-exit-blocking-feed-flush"
        | "send-exit-blocking-feed-return" => {
            let big = json!({ "big": pattern(size_from_env()) });
            let mut ch = ok(nodeipc::blocking::Channel::from_env(), "from_env");
            match name {
                "send-exit-blocking-send" => ok(ch.send(&big), "send"),
                "send-exit-blocking-feed-flush" => {
                    ok(ch.feed(&big), "feed");
                    ok(ch.flush(), "flush");
                }
                _ => {
                    // Dropping the blocking Sender writes out what is queued.
                    ok(ch.feed(&big), "feed");
                    return 0;
                }
            }
            std::process::exit(0)
        }
        "adopt-twice" => adopt_twice(),
        "expect-error" => expect_error(),
        _ => unknown(name),
    }
}

/// The `limited` role gets a 1 MiB message limit; the others the defaults.
const LIMITED_LEN: usize = 1 << 20;

fn limits_for(role: &str) -> nodeipc::Limits {
    let mut limits = nodeipc::Limits::default();
    if role == "limited" {
        limits.max_message_len = LIMITED_LEN;
    }
    limits
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn unknown(name: &str) -> i32 {
    eprintln!("node_parent: unknown role {name:?}");
    EXIT_FAILED
}

fn fail(msg: impl std::fmt::Display) -> ! {
    eprintln!(
        "rust child ({}): {msg}",
        std::env::var(ROLE_VAR).unwrap_or_default()
    );
    std::process::exit(EXIT_FAILED)
}

fn ok<T>(r: nodeipc::Result<T>, what: &str) -> T {
    r.unwrap_or_else(|e| fail(format_args!("{what}: {e} ({e:?})")))
}

/// Stays alive for a while after the channel is gone, so that the parent's
/// 'disconnect' can only come from the channel being closed.
fn live_on() -> i32 {
    std::thread::sleep(Duration::from_millis(500));
    0
}

fn size_from_env() -> usize {
    std::env::var("NODEIPC_TEST_SIZE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000_000)
}

fn encoded<T: Serialize + ?Sized>(v: &T) -> String {
    let mut out = Vec::new();
    encode(v, &mut out).unwrap();
    out.pop();
    String::from_utf8(out).unwrap()
}

/// A recv result with recoverable errors kept as text for the report.
fn keep<T>(r: nodeipc::Result<Option<T>>, what: &str, errors: &mut Vec<String>) -> Option<T> {
    match r {
        Ok(Some(v)) => Some(v),
        Ok(None) => fail(format_args!("{what}: the parent disconnected mid-pair")),
        Err(e) if e.is_recoverable() => {
            errors.push(format!("{what}: {e}"));
            None
        }
        Err(e) => fail(format_args!("{what}: {e}")),
    }
}

fn reflect_reply(raw: Option<Box<RawValue>>, value: Option<Value>, errors: Vec<String>) -> Value {
    json!({
        "raw": raw.map(|r| r.get().to_owned()),
        "encoded": value.as_ref().map(encoded),
        "value": value,
        "errors": errors,
    })
}

/// Writes each role once for both channel types: inside a body, `w!(e)` is
/// `e.await` in the async version and `e` in the blocking one.
macro_rules! roles {
    ($(fn $name:ident($ch:ident) $body:block)*) => {
        mod async_roles {
            #[allow(unused_imports)]
            use super::*;
            $(pub async fn $name(#[allow(unused_mut)] mut $ch: nodeipc::Channel) -> i32 {
                #[allow(unused_macros)]
                macro_rules! w { ($e:expr) => { $e.await }; }
                $body
            })*
        }
        mod blocking_roles {
            #[allow(unused_imports)]
            use super::*;
            $(pub fn $name(#[allow(unused_mut)] mut $ch: nodeipc::blocking::Channel) -> i32 {
                #[allow(unused_macros)]
                macro_rules! w { ($e:expr) => { $e }; }
                $body
            })*
        }
    };
}

roles! {
    // Each message comes twice: parsed into RawValue, then into Value. The
    // answer holds the raw text, the value and nodeipc's encoding of it.
    fn reflect(ch) {
        loop {
            let raw = match w!(ch.recv::<Box<RawValue>>()) {
                Ok(None) => return EXIT_ON_EOF,
                r => r,
            };
            let mut errors = Vec::new();
            let raw = keep(raw, "as RawValue", &mut errors);
            let value = keep(w!(ch.recv::<Value>()), "as Value", &mut errors);
            ok(w!(ch.send(&reflect_reply(raw, value, errors))), "send");
        }
    }

    fn echo(ch) {
        while let Some(m) = ok(w!(ch.recv::<String>()), "recv") {
            ok(w!(ch.send(&m)), "send");
        }
        EXIT_ON_EOF
    }

    // Every message back as it came, read as a nodeipc::Value (for the
    // `advanced` cases: Buffers, BigInts, Maps, cycles…).
    fn echo_value(ch) {
        while let Some(m) = ok(w!(ch.recv::<nodeipc::Value>()), "recv") {
            ok(w!(ch.send(&m)), "send");
        }
        EXIT_ON_EOF
    }

    // {i} messages are checked for order, {done} asks for a report,
    // {send: n} asks for n messages (fed, then flushed).
    fn count(ch) {
        let mut received = 0u64;
        let mut in_order = true;
        while let Some(m) = ok(w!(ch.recv::<Value>()), "recv") {
            if let Some(i) = m.get("i") {
                in_order &= i.as_u64() == Some(received);
                received += 1;
            } else if m.get("done").is_some() {
                ok(w!(ch.send(&json!({"received": received, "inOrder": in_order}))), "send");
            } else if let Some(n) = m.get("send").and_then(Value::as_u64) {
                for i in 0..n {
                    ok(w!(ch.feed(&json!({ "i": i }))), "feed");
                }
                ok(w!(ch.flush()), "flush");
            }
        }
        EXIT_ON_EOF
    }

    // With max_message_len = 1 MiB: a line of exactly 1 MiB is accepted,
    // one byte more is TooLarge, and the next message still arrives.
    fn limited(ch) {
        let mut report = Vec::new();
        for _ in 0..3 {
            report.push(match w!(ch.recv::<String>()) {
                Ok(Some(s)) => json!({ "ok": s.len() }),
                Ok(None) => fail("EOF"),
                Err(Error::TooLarge { len, limit, .. }) => {
                    json!({ "tooLarge": { "atLeast": len > LIMITED_LEN, "limit": limit } })
                }
                Err(e) => json!({ "error": e.to_string() }),
            });
        }
        ok(w!(ch.send(&report)), "send");
        while ok(w!(ch.recv::<Value>()), "recv").is_some() {}
        EXIT_ON_EOF
    }

    // The adopted channel is CLOEXEC: a program this child starts does not
    // get it. Reports the channel's socket and the grandchild's fd table.
    fn grandchild(ch) {
        let fd = std::env::var("NODE_CHANNEL_FD").unwrap_or_default();
        let channel = std::fs::read_link(format!("/proc/self/fd/{fd}"))
            .map(|t| t.to_string_lossy().into_owned())
            .unwrap_or_else(|e| fail(e));
        let out = Command::new("sh")
            .args(["-c", "ls -l /proc/self/fd"])
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| fail(e));
        let ls = String::from_utf8_lossy(&out.stdout).into_owned();
        ok(w!(ch.send(&json!({ "channel": channel, "ls": ls }))), "send");
        while ok(w!(ch.recv::<Value>()), "recv").is_some() {}
        EXIT_ON_EOF
    }

    fn until_eof(ch) {
        ok(w!(ch.send("ready")), "send");
        while ok(w!(ch.recv::<Value>()), "recv").is_some() {}
        EXIT_ON_EOF
    }

    // Four messages through recv_message, then three through recv (which
    // skips the NODE_FOO before them).
    fn internal(ch) {
        let mut via_recv_message = Vec::new();
        for _ in 0..4 {
            via_recv_message.push(match ok(w!(ch.recv_message::<Value>()), "recv_message") {
                Some(Message::User(v)) => json!({ "user": v }),
                Some(Message::Internal(m)) => json!({ "internal": m.cmd(), "msg": m }),
                None => fail("EOF"),
            });
        }
        let mut via_recv = Vec::new();
        for _ in 0..3 {
            via_recv.push(ok(w!(ch.recv::<Value>()), "recv").unwrap_or_else(|| fail("EOF")));
        }
        let report = json!({ "viaRecvMessage": via_recv_message, "viaRecv": via_recv });
        ok(w!(ch.send(&report)), "send");
        while ok(w!(ch.recv::<Value>()), "recv").is_some() {}
        EXIT_ON_EOF
    }
}

/// The first `from_env` adopts the channel; later ones (either kind) are
/// `InvalidChannelFd`; the first channel still works.
fn adopt_twice() -> i32 {
    let fd = std::env::var("NODE_CHANNEL_FD").unwrap_or_default();
    let mut ch = ok(nodeipc::blocking::Channel::from_env(), "first from_env");
    let mut errors = Vec::new();
    let mut check = |what: &str, r: nodeipc::Result<()>| match r {
        Err(Error::InvalidChannelFd { fd: got, reason })
            if got == fd && reason.contains("already adopted") => {}
        other => errors.push(format!("{what}: {other:?}")),
    };
    check(
        "second blocking from_env",
        nodeipc::blocking::Channel::from_env().map(drop),
    );
    let rt = runtime();
    check(
        "async from_env",
        rt.block_on(async { nodeipc::Channel::from_env().map(drop) }),
    );
    ok(ch.send(&json!({ "errors": errors })), "send");
    while ok(ch.recv::<Value>(), "recv").is_some() {}
    EXIT_ON_EOF
}

/// Both `from_env`s fail as `NODEIPC_TEST_EXPECT` says: `no-channel`,
/// `invalid|<fd>|<reason contains>`, or `unsupported|<mode>`.
fn expect_error() -> i32 {
    let expect = std::env::var("NODEIPC_TEST_EXPECT").unwrap_or_default();
    if expect.starts_with("invalid|99|") {
        // SAFETY: F_GETFD only reads this process's fd table.
        if unsafe { libc::fcntl(99, libc::F_GETFD) } != -1 {
            fail("test setup: fd 99 is open in this process");
        }
    }
    let check = |what: &str, r: nodeipc::Result<()>| -> Result<(), String> {
        let e = match r {
            Ok(()) => return Err(format!("{what}: succeeded")),
            Err(e) => e,
        };
        let parts: Vec<&str> = expect.split('|').collect();
        let good = match (&e, parts.as_slice()) {
            (Error::NoChannel, ["no-channel"]) => true,
            (Error::InvalidChannelFd { fd, reason }, ["invalid", want_fd, want_reason]) => {
                fd == want_fd
                    && reason.contains(want_reason)
                    && e.to_string()
                        .contains(&format!("NODE_CHANNEL_FD={want_fd}"))
            }
            (Error::UnsupportedSerialization(mode), ["unsupported", want]) => {
                mode == want && e.to_string().contains(want)
            }
            _ => false,
        };
        if good {
            Ok(())
        } else {
            Err(format!("{what}: got {e:?} (\"{e}\"), expected {expect}"))
        }
    };
    let blocking = check(
        "blocking::Channel::from_env",
        nodeipc::blocking::Channel::from_env().map(drop),
    );
    let rt = runtime();
    let tokio = check(
        "Channel::from_env",
        rt.block_on(async { nodeipc::Channel::from_env().map(drop) }),
    );
    let mut code = 0;
    for r in [blocking, tokio] {
        if let Err(msg) = r {
            eprintln!("{msg}");
            code = EXIT_FAILED;
        }
    }
    code
}
