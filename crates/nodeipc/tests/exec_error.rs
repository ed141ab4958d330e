//! A failed `exec` is reported whatever the channel fd's number: the fd
//! must never take the number of std's exec-error pipe in the child.
//!
//! Alone in its test binary: the channel's child end is numbered at or
//! above the fd asked for while the spawn runs, and another thread that
//! closes its fd at exactly that number in that window could free it for
//! std's pipe (see `sys::dup_at_or_above`). The other tests of a binary
//! run on other threads and open and close fds all the time; here nothing
//! else does, as in a program whose threads do not race their spawns.

use nodeipc::Error;

#[test]
fn a_failed_exec_is_an_error_whatever_the_channel_fd() {
    for fd in 3..12 {
        let r = nodeipc::Command::new("/nonexistent/program")
            .channel_fd(fd)
            .blocking_spawn();
        match r {
            Err(Error::Io(e)) => assert_eq!(e.kind(), std::io::ErrorKind::NotFound, "fd {fd}"),
            other => panic!("fd {fd}: {other:?}"),
        }
    }
}
