//! Helpers shared by the interop tests: finding `node`, the scripts in
//! `tests/node/`, and timeouts so that a bug is a failure, not a hang.

// Each test crate uses its own subset of these helpers.
#![allow(dead_code)]

use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The `node` binary: `$NODEIPC_TEST_NODE` if set, else the first `node`
/// on `PATH`.
///
/// When there is none, the test must not pass silently in CI: with
/// `CI=true` this panics; otherwise it prints a notice and returns `None`
/// (the caller then returns early).
pub fn node() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("NODEIPC_TEST_NODE") {
        return Some(PathBuf::from(p));
    }
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("node"))
            .find(|p| is_executable(p))
    });
    if found.is_none() {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("`node` was not found on PATH, and CI=true: interop tests cannot be skipped");
        }
        eprintln!("notice: `node` not found on PATH; skipping this Node interop test");
    }
    found
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Returns the path of `node`, or returns from the calling test (see
/// [`node`]).
#[macro_export]
macro_rules! require_node {
    () => {
        match common::node() {
            Some(node) => node,
            None => return,
        }
    };
}

/// `target/<profile>/examples/<name>`, from the test binary's own path
/// (`target/<profile>/deps/<test>-…`): cargo builds the examples before
/// it runs the tests.
pub fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent()
        .and_then(Path::parent)
        .map(|dir| dir.join("examples").join(name))
        .filter(|p| p.exists())
        .unwrap_or_else(|| panic!("example {name} not built next to {}", exe.display()))
}

/// A current-thread tokio runtime with I/O and timers, for tests that
/// drive async code from a plain `#[test]`.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A script in `tests/node/`.
pub fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/node")
        .join(name)
}

/// Runs `fut`, panicking if it takes longer than `limit`. Children spawned
/// with `kill_on_drop(true)` inside it are killed when it is dropped.
pub async fn timeout<F: std::future::Future>(limit: Duration, fut: F) -> F::Output {
    match tokio::time::timeout(limit, fut).await {
        Ok(out) => out,
        Err(_) => panic!("test timed out after {limit:?}"),
    }
}

/// Kills a process with SIGKILL if it is still armed after `limit`: the
/// timeout for tests that block a thread. Dropping it disarms it.
pub struct Watchdog {
    disarm: Option<mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<bool>>,
}

impl Watchdog {
    pub fn new(pid: u32, limit: Duration) -> Watchdog {
        let (disarm, rx) = mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(limit) {
                eprintln!("watchdog: killing pid {pid} after {limit:?}");
                // SAFETY: kill(2) with a pid we spawned; no memory involved.
                unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
                return true;
            }
            false
        });
        Watchdog {
            disarm: Some(disarm),
            thread: Some(thread),
        }
    }

    /// Disarms it; true if it had already fired (the test then failed by
    /// timeout, whatever else it saw).
    pub fn disarm(mut self) -> bool {
        self.stop()
    }

    fn stop(&mut self) -> bool {
        drop(self.disarm.take());
        self.thread
            .take()
            .is_some_and(|t| t.join().unwrap_or(false))
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.stop();
    }
}

/// What a finished (or killed) process left behind.
#[derive(Debug)]
pub struct Outcome {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub timed_out: bool,
    pub elapsed: Duration,
}

impl Outcome {
    /// A readable summary for failure messages.
    pub fn describe(&self) -> String {
        let how = match (self.status.code(), self.status.signal()) {
            _ if self.timed_out => format!("TIMED OUT after {:?}", self.elapsed),
            (Some(c), _) => format!("exit code {c}"),
            (None, Some(s)) => format!("killed by signal {s}"),
            _ => format!("{:?}", self.status),
        };
        format!(
            "{how}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.stdout.trim_end(),
            self.stderr.trim_end()
        )
    }
}

/// Runs `cmd` in a process group of its own, collecting its output, and
/// kills the whole group (its children too) if it runs longer than
/// `limit`. Stragglers left in the group when the leader exits are killed
/// as well, so a test never leaves processes behind.
pub fn run_with_timeout(mut cmd: Command, limit: Duration) -> std::io::Result<Outcome> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    run_group(cmd, limit)
}

/// [`run_with_timeout`] without touching stdin (for callers that set it).
pub fn run_group(mut cmd: Command, limit: Duration) -> std::io::Result<Outcome> {
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let start = Instant::now();
    let mut child = cmd.spawn()?;
    let pgid = child.id() as libc::pid_t;
    let out = reader(child.stdout.take().expect("piped"));
    let err = reader(child.stderr.take().expect("piped"));
    let mut timed_out = false;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if start.elapsed() > limit {
            timed_out = true;
            kill_group(pgid);
            break child.wait()?;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let elapsed = start.elapsed();
    // Anything still running in the group would hold the pipes open.
    kill_group(pgid);
    Ok(Outcome {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
        timed_out,
        elapsed,
    })
}

fn kill_group(pgid: libc::pid_t) {
    // SAFETY: kill(2) on a process group we created; no memory involved.
    unsafe { libc::kill(-pgid, libc::SIGKILL) };
}

fn reader(mut r: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    })
}

/// A string of `n` bytes, the same as `pattern` in tests/node/values.js,
/// so both sides can check a large message without sending it twice.
pub fn pattern(n: usize) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(n + 9);
    let mut k = 0u64;
    while s.len() < n {
        write!(s, "{k:08x},").unwrap();
        k += 1;
    }
    s.truncate(n);
    s
}

/// Writes `bytes` on `sock` with `fd` attached (SCM_RIGHTS), in one
/// `sendmsg`, as libuv does.
pub fn send_with_fd(
    sock: &std::os::unix::net::UnixStream,
    bytes: &[u8],
    fd: std::os::fd::BorrowedFd<'_>,
) {
    use rustix::net::{SendAncillaryBuffer, SendAncillaryMessage, SendFlags, sendmsg};
    let fds = [fd];
    let mut space = [std::mem::MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    assert!(control.push(SendAncillaryMessage::ScmRights(&fds)));
    let n = sendmsg(
        sock,
        &[std::io::IoSlice::new(bytes)],
        &mut control,
        SendFlags::empty(),
    )
    .unwrap();
    assert_eq!(n, bytes.len());
}
