//! Every fd nodeipc creates or receives is close-on-exec by the time the
//! caller could start a process with it: the sockets of `Channel::pair`
//! (async and blocking), our end of a spawned child's channel, the
//! duplicate a handle is sent as, a received handle, and the channel a
//! child adopts with `from_env`. `.ci/run` runs this file as built and
//! with `--cfg nodeipc_portable_sys` (`socketpair` then `fcntl`, `recvmsg`
//! then `fcntl`: the sequences of macOS and illumos).
//!
//! The fd table is read from `/proc/self/fd` (the test may; the library
//! does not). The tests run one at a time (a lock), so that the fds new
//! during one of them are that test's.
//! (`/proc/self/fd` is Linux's, as in the other interop tests' fd counts.)

mod common;

use std::collections::BTreeSet;
use std::net::TcpListener;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::sync::Mutex;

use nodeipc::{Channel, Handle};
use serde_json::{Value, json};

const CHILD_VAR: &str = "NODEIPC_CLOEXEC_CHILD";

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// The fds open in this process.
fn open_fds() -> BTreeSet<RawFd> {
    let listed: Vec<RawFd> = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    // The directory's own fd is listed, and closed by now.
    listed
        .into_iter()
        .filter(|&fd| fd_flags(fd).is_some())
        .collect()
}

/// `F_GETFD` of `fd`, `None` if it is not open.
fn fd_flags(fd: RawFd) -> Option<libc::c_int> {
    // SAFETY: F_GETFD on an fd number only reads this process's fd table.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    (flags >= 0).then_some(flags)
}

fn is_cloexec(fd: RawFd) -> bool {
    fd_flags(fd).is_some_and(|f| f & libc::FD_CLOEXEC != 0)
}

/// Holds off the other tests of this file: fds they open (even for an
/// instant without close-on-exec, in the portable sequences) are not
/// mistaken for the running test's.
fn alone() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs `make`, then checks that it opened at least one fd and that every
/// fd it opened (and still holds: `make` returns what owns them) is
/// close-on-exec.
fn new_fds_are_cloexec<T>(what: &str, make: impl FnOnce() -> T) -> T {
    let before = open_fds();
    let made = make();
    let new: Vec<RawFd> = open_fds().difference(&before).copied().collect();
    assert!(!new.is_empty(), "{what}: no new fd");
    for fd in new {
        assert!(is_cloexec(fd), "{what}: fd {fd} is not close-on-exec");
    }
    made
}

#[test]
fn channel_pairs_are_cloexec() {
    let _alone = alone();
    let rt = common::runtime();
    let _async = new_fds_are_cloexec("Channel::pair", || {
        rt.block_on(async { Channel::pair().unwrap() })
    });
    let _blocking = new_fds_are_cloexec("blocking::Channel::pair", || {
        nodeipc::blocking::Channel::pair().unwrap()
    });
}

#[test]
fn our_end_of_a_spawned_childs_channel_is_cloexec() {
    let _alone = alone();
    let rt = common::runtime();
    let (mut child, _ch) = new_fds_are_cloexec("Command::spawn", || {
        rt.block_on(async { nodeipc::Command::new("true").spawn().unwrap() })
    });
    assert!(rt.block_on(child.wait()).unwrap().success());
    let (mut child, _ch) = new_fds_are_cloexec("Command::blocking_spawn", || {
        nodeipc::Command::new("true").blocking_spawn().unwrap()
    });
    assert!(child.wait().unwrap().success());
}

/// A handle sent by reference goes as a duplicate, and arrives through
/// `recvmsg`: both are new fds of this process, and both are close-on-exec.
#[test]
fn sent_and_received_handles_are_cloexec() {
    let _alone = alone();
    let rt = common::runtime();
    let (a, mut b) = rt.block_on(async { Channel::pair().unwrap() });
    let (mut tx, mut rx) = a.split();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let received = new_fds_are_cloexec("send_with_handle + recv_with_handle", || {
        rt.block_on(async {
            let acks = tokio::spawn(async move { rx.recv::<Value>().await });
            tx.send_with_handle(&"listener", &listener).await.unwrap();
            let (m, h) = b.recv_with_handle::<String>().await.unwrap().unwrap();
            assert_eq!(m, "listener");
            // `tx` (with the duplicate, until it is acknowledged) and
            // `acks` stay alive while the fds are looked at.
            (h, tx, acks, b)
        })
    });
    let Some(Handle::TcpListener(l)) = &received.0 else {
        panic!("{:?}", received.0)
    };
    assert!(is_cloexec(l.as_fd().as_raw_fd()));
    assert_eq!(l.local_addr().unwrap(), listener.local_addr().unwrap());
}

/// A Rust child adopts its channel with `from_env` and finds it
/// close-on-exec at once, before it could start a process of its own.
/// This binary is the child, started with [`CHILD_VAR`] set.
#[test]
fn an_adopted_channel_is_cloexec() {
    if std::env::var_os(CHILD_VAR).is_some() {
        let fd: RawFd = std::env::var("NODE_CHANNEL_FD").unwrap().parse().unwrap();
        let before = is_cloexec(fd);
        let mut ch = nodeipc::blocking::Channel::from_env().unwrap();
        let report = json!({ "before": before, "after": is_cloexec(fd) });
        ch.send(&report).unwrap();
        return;
    }
    let _alone = alone();
    let exe = std::env::current_exe().unwrap();
    let (mut child, mut ch) = nodeipc::Command::new(exe)
        .args([
            "--exact",
            "an_adopted_channel_is_cloexec",
            "--test-threads=1",
        ])
        .env(CHILD_VAR, "1")
        .blocking_spawn()
        .unwrap();
    let report: Value = ch.recv().unwrap().expect("the child's report");
    assert!(child.wait().unwrap().success());
    // Inherited without close-on-exec (or it would not have come through
    // exec), close-on-exec once adopted.
    assert_eq!(report, json!({ "before": false, "after": true }));
}
