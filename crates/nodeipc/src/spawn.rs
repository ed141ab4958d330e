//! The parent side: spawn a program with a channel, as Node's `fork()` does.

use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;

use crate::child::{CHANNEL_FD_VAR, SERIALIZATION_MODE_VAR};
use crate::codec::Serialization;
use crate::error::Result;
use crate::limits::Limits;
use crate::{blocking, sys};

/// The command spawned: tokio's when the `tokio` feature is on (its
/// `spawn` needs it), else std's.
#[cfg(feature = "tokio")]
type Inner = tokio::process::Command;
#[cfg(not(feature = "tokio"))]
type Inner = std::process::Command;

/// The std command inside an [`Inner`].
fn std_of(inner: &mut Inner) -> &mut std::process::Command {
    #[cfg(feature = "tokio")]
    return inner.as_std_mut();
    #[cfg(not(feature = "tokio"))]
    return inner;
}

/// Builds and spawns a child process with an IPC channel, the way Node's
/// `child_process.fork()` does: one end of a unix socketpair at fd 3
/// (settable), `NODE_CHANNEL_FD` and `NODE_CHANNEL_SERIALIZATION_MODE` set.
/// A Node child then talks with plain `process.send` and
/// `process.on('message')`.
///
/// No other fd of ours leaks into the child: the parent's end and every
/// socket the crate makes are CLOEXEC; only the child's end is placed at the
/// channel fd, after `fork`, in the child.
///
/// ```no_run
/// # async fn demo() -> nodeipc::Result<()> {
/// let (mut child, mut channel) = nodeipc::Command::new("node")
///     .arg("worker.js")
///     .spawn()?;
/// channel.send(&"hello").await?;
/// let reply: Option<String> = channel.recv().await?;
/// drop(channel); // the child sees 'disconnect'
/// child.wait().await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Command {
    inner: Inner,
    channel_fd: RawFd,
    serialization: Serialization,
    limits: Limits,
    /// The child's end for the spawn under way, read by the pre-exec hook.
    child_end: Option<Arc<sys::FdPlacement>>,
}

impl Command {
    /// The channel fd `fork()` uses.
    pub const DEFAULT_CHANNEL_FD: RawFd = 3;

    /// A command for `program`, with the channel at fd 3, `json`
    /// serialization and default [`Limits`].
    pub fn new(program: impl AsRef<OsStr>) -> Self {
        Command {
            inner: Inner::new(program),
            channel_fd: Self::DEFAULT_CHANNEL_FD,
            serialization: Serialization::Json,
            limits: Limits::default(),
            child_end: None,
        }
    }

    /// Adds an argument.
    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Self {
        self.as_std_mut().arg(arg);
        self
    }

    /// Adds arguments.
    pub fn args<I, S>(&mut self, args: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.as_std_mut().args(args);
        self
    }

    /// Sets an environment variable for the child.
    pub fn env(&mut self, key: impl AsRef<OsStr>, val: impl AsRef<OsStr>) -> &mut Self {
        self.as_std_mut().env(key, val);
        self
    }

    /// Removes an environment variable for the child.
    pub fn env_remove(&mut self, key: impl AsRef<OsStr>) -> &mut Self {
        self.as_std_mut().env_remove(key);
        self
    }

    /// Sets the child's working directory.
    pub fn current_dir(&mut self, dir: impl AsRef<Path>) -> &mut Self {
        self.as_std_mut().current_dir(dir);
        self
    }

    /// The child's stdin (inherited by default).
    pub fn stdin(&mut self, cfg: impl Into<Stdio>) -> &mut Self {
        self.as_std_mut().stdin(cfg);
        self
    }

    /// The child's stdout (inherited by default).
    pub fn stdout(&mut self, cfg: impl Into<Stdio>) -> &mut Self {
        self.as_std_mut().stdout(cfg);
        self
    }

    /// The child's stderr (inherited by default).
    pub fn stderr(&mut self, cfg: impl Into<Stdio>) -> &mut Self {
        self.as_std_mut().stderr(cfg);
        self
    }

    /// The fd number the child finds the channel at (default 3; must be 3
    /// or more, since 0–2 are stdio).
    pub fn channel_fd(&mut self, fd: RawFd) -> &mut Self {
        self.channel_fd = fd;
        self
    }

    /// The serialization announced to the child and spoken on the channel.
    pub fn serialization(&mut self, serialization: Serialization) -> &mut Self {
        self.serialization = serialization;
        self
    }

    /// Limits for the returned channel.
    pub fn limits(&mut self, limits: Limits) -> &mut Self {
        self.limits = limits;
        self
    }

    /// The underlying tokio command, for everything else (`kill_on_drop`,
    /// `process_group`, …). Its std command is at `as_std_mut()`. Spawn
    /// through [`spawn`](Self::spawn) or [`blocking_spawn`](Self::blocking_spawn)
    /// only: after the first of those, spawning the inner command directly
    /// fails with `EBADF` (there is no channel end to place).
    #[cfg(feature = "tokio")]
    pub fn as_tokio_mut(&mut self) -> &mut tokio::process::Command {
        &mut self.inner
    }

    /// The underlying std command, for everything else (`process_group`,
    /// `uid`, …); the same rule as [`as_tokio_mut`](Self::as_tokio_mut)'s
    /// about spawning it directly.
    pub fn as_std_mut(&mut self) -> &mut std::process::Command {
        std_of(&mut self.inner)
    }

    /// Spawns the child. Must be called inside a tokio runtime (an error
    /// otherwise).
    #[cfg(feature = "tokio")]
    pub fn spawn(&mut self) -> Result<(tokio::process::Child, crate::Channel)> {
        if let Err(e) = tokio::runtime::Handle::try_current() {
            return Err(io::Error::other(e).into());
        }
        let (ours, theirs) = self.prepare()?;
        let child = self.inner.spawn();
        self.finish_spawn(theirs);
        Ok((
            child?,
            crate::Channel::from_fd(ours, self.serialization, self.limits)?,
        ))
    }

    /// Spawns the child with a [`blocking::Channel`]; needs no runtime (nor
    /// the `tokio` feature). Named as tokio names the blocking twins of its
    /// async methods (`blocking_recv`, `blocking_lock`).
    pub fn blocking_spawn(&mut self) -> Result<(std::process::Child, blocking::Channel)> {
        let (ours, theirs) = self.prepare()?;
        let child = self.as_std_mut().spawn();
        self.finish_spawn(theirs);
        Ok((
            child?,
            blocking::Channel::from_fd(ours, self.serialization, self.limits)?,
        ))
    }

    /// The old name of [`blocking_spawn`](Self::blocking_spawn).
    #[deprecated(
        since = "0.2.0",
        note = "renamed `blocking_spawn`: `spawn_blocking` read like tokio's `spawn_blocking`"
    )]
    pub fn spawn_blocking(&mut self) -> Result<(std::process::Child, blocking::Channel)> {
        self.blocking_spawn()
    }

    /// Makes the socketpair and points the child's setup at its end.
    fn prepare(&mut self) -> Result<(OwnedFd, OwnedFd)> {
        if self.channel_fd < 3 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "channel fd {} would replace stdio: use 3 or more",
                    self.channel_fd
                ),
            )
            .into());
        }
        let (ours, theirs) = sys::stream_pair()?;
        // Numbered at or above the target: see `dup_at_or_above`.
        let theirs = sys::dup_at_or_above(&theirs, self.channel_fd)?;
        let placement = self.child_end.get_or_insert_with(|| {
            let placement = Arc::new(sys::FdPlacement::default());
            sys::place_fd_in_child(std_of(&mut self.inner), placement.clone());
            placement
        });
        placement.set(theirs.as_raw_fd(), self.channel_fd);
        let (fd, mode) = (self.channel_fd.to_string(), self.serialization.as_str());
        self.as_std_mut()
            .env(CHANNEL_FD_VAR, fd)
            .env(SERIALIZATION_MODE_VAR, mode);
        Ok((ours, theirs))
    }

    /// Closes our copy of the child's end and disarms the pre-exec hook.
    fn finish_spawn(&mut self, theirs: OwnedFd) {
        if let Some(placement) = &self.child_end {
            placement.clear();
        }
        drop(theirs);
    }
}
