//! `from_env` refuses an fd this process made itself (close-on-exec set),
//! such as a grandchild's own socket when a stale `NODE_CHANNEL_FD` names
//! its number. Alone in its test binary: it changes the environment.

use std::os::fd::AsRawFd;

#[test]
fn from_env_refuses_a_socket_this_process_owns() {
    let (mine, _peer) = std::os::unix::net::UnixStream::pair().unwrap();
    let fd = mine.as_raw_fd();
    // SAFETY: the only test in this binary; no other thread touches the
    // environment.
    unsafe {
        std::env::set_var("NODE_CHANNEL_FD", fd.to_string());
        std::env::remove_var("NODE_CHANNEL_SERIALIZATION_MODE");
    }
    match nodeipc::blocking::Channel::from_env() {
        Err(nodeipc::Error::InvalidChannelFd { fd: got, reason }) => {
            assert_eq!(got, fd.to_string());
            assert!(reason.contains("close-on-exec"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    // Still ours, still open.
    assert!(mine.peer_addr().is_ok());
}
