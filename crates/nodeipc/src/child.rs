//! The child side: adopting the channel a Node parent made.
//!
//! A Node parent (`fork()`, or `spawn` with `'ipc'` in `stdio`) puts one end
//! of a unix socketpair at fd N and sets `NODE_CHANNEL_FD=N` and
//! `NODE_CHANNEL_SERIALIZATION_MODE` (docs/protocol.md §1.1).
//! [`Channel::from_env`](crate::Channel::from_env) and
//! [`blocking::Channel::from_env`](crate::blocking::Channel::from_env):
//!
//! - fail with [`Error::NoChannel`] when `NODE_CHANNEL_FD` is unset;
//! - fail with [`Error::InvalidChannelFd`], naming the fd, when it is not a
//!   number, not open, close-on-exec (then it was not inherited: something
//!   in this process made it), not a socket, not a unix stream socket, or
//!   already adopted (a process has one channel, adopted once);
//! - fail with [`Error::UnsupportedSerialization`] for a mode other than
//!   `json` and `advanced` (an unset or empty mode means `json`, as in
//!   Node), and speak the mode the parent chose;
//! - set CLOEXEC on the fd, so programs this process spawns do not inherit
//!   it (Node does the same).
//!
//! # Ownership of the fd
//!
//! `from_env` takes ownership of the fd the environment names. It checks
//! that the fd came through `exec` (close-on-exec clear: Rust's std,
//! tokio, mio and rustix mark every fd they create close-on-exec), so it
//! will not take a socket this process made. What it cannot check is that
//! no *other* code took the same inherited fd: call it once, early, and do
//! not wrap the channel fd yourself.
//!
//! # The environment variables
//!
//! Node deletes both variables at startup so that grandchildren do not see
//! them. Changing the environment of a running Rust program is `unsafe`
//! (another thread may read it at the same time), so `from_env` leaves them
//! in place. A child that spawns programs of its own should either call
//! [`remove_channel_env`] early in `main`, before any thread starts, or
//! `env_remove` both names on each `Command` — otherwise a Node grandchild
//! finds `NODE_CHANNEL_FD` pointing at an fd it does not have: Node 22 and
//! later abort (`SIGABRT`, at exit), Node 20 runs on with a `send()` that
//! fails with `EINVAL` (docs/protocol.md §1.2). [`crate::Command`] always sets both for its own
//! children.

use crate::codec::Serialization;
use crate::error::{Error, Result};
use crate::sys::{self, AdoptError};
use std::os::fd::OwnedFd;

/// The variable that names the channel's fd.
pub const CHANNEL_FD_VAR: &str = "NODE_CHANNEL_FD";
/// The variable that names the serialization (`json` or `advanced`).
pub const SERIALIZATION_MODE_VAR: &str = "NODE_CHANNEL_SERIALIZATION_MODE";

/// The serialization `NODE_CHANNEL_SERIALIZATION_MODE` names: unset or
/// empty is `json`, as Node reads it (`env.NODE_CHANNEL_SERIALIZATION_MODE
/// || 'json'`).
fn serialization_mode(mode: Option<&std::ffi::OsStr>) -> Result<Serialization> {
    match mode {
        Some(mode) if !mode.is_empty() => Ok(mode.to_string_lossy().parse::<Serialization>()?),
        _ => Ok(Serialization::Json),
    }
}

/// Validates and takes the fd named by `NODE_CHANNEL_FD`.
pub(crate) fn inherited_channel() -> Result<(OwnedFd, Serialization)> {
    let Some(value) = std::env::var_os(CHANNEL_FD_VAR) else {
        return Err(Error::NoChannel);
    };
    let value = value.to_string_lossy().into_owned();
    let invalid = |reason: String| Error::InvalidChannelFd {
        fd: value.clone(),
        reason,
    };
    let Ok(fd) = value.parse::<i32>() else {
        return Err(invalid("not a file descriptor number".into()));
    };
    let serialization = serialization_mode(std::env::var_os(SERIALIZATION_MODE_VAR).as_deref())?;
    let fd = sys::adopt_inherited_fd(fd).map_err(|e| {
        invalid(match e {
            AdoptError::NotOpen => format!("fd {fd} is not open in this process"),
            AdoptError::CloseOnExec => format!(
                "fd {fd} is close-on-exec, so it was not inherited: it belongs to this process \
                 (a stale NODE_CHANNEL_FD from an ancestor?)"
            ),
            AdoptError::NotASocket => format!("fd {fd} is not a socket"),
            AdoptError::WrongSocket => format!("fd {fd} is not a unix stream socket"),
            AdoptError::AlreadyAdopted => {
                "the channel was already adopted by an earlier from_env call".into()
            }
            AdoptError::Io(e) => format!("cannot inspect fd {fd}: {e}"),
        })
    })?;
    Ok((fd, serialization))
}

/// Removes `NODE_CHANNEL_FD` and `NODE_CHANNEL_SERIALIZATION_MODE` from this
/// process's environment, as Node does at startup, so that programs spawned
/// later do not believe they have a channel.
///
/// # Safety
///
/// No other thread may read or change the environment while this runs
/// (see [`std::env::remove_var`]): call it first thing in `main`, before a
/// runtime or any thread is started. Read the variables (or call
/// `from_env`) first if you need them: `from_env` fails with
/// [`Error::NoChannel`] afterwards.
// The one `unsafe` outside `sys`: the contract of `std::env::remove_var`,
// passed on to the caller; the body is `sys`'s.
#[allow(unsafe_code)]
pub unsafe fn remove_channel_env() {
    // SAFETY: forwarded to the caller.
    unsafe { sys::remove_env(&[CHANNEL_FD_VAR, SERIALIZATION_MODE_VAR]) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    #[test]
    fn an_unset_or_empty_mode_is_json_as_in_node() {
        let mode = |m: Option<&str>| serialization_mode(m.map(OsStr::new));
        assert_eq!(mode(None).unwrap(), Serialization::Json);
        assert_eq!(mode(Some("")).unwrap(), Serialization::Json);
        assert_eq!(mode(Some("json")).unwrap(), Serialization::Json);
        assert_eq!(mode(Some("advanced")).unwrap(), Serialization::Advanced);
        assert!(matches!(
            mode(Some("v8")),
            Err(Error::UnsupportedSerialization(m)) if m == "v8"
        ));
    }
}
