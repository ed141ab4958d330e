//! A send to a peer that has gone is an error, not a `SIGPIPE` that kills
//! the process, even where `SIGPIPE` is not ignored (Rust programs ignore
//! it from `main`; a library cannot count on that). `MSG_NOSIGNAL` on
//! Linux and the BSDs, `SO_NOSIGPIPE` on macOS. Alone in its test binary:
//! it changes the process's `SIGPIPE` disposition.

use std::net::TcpListener;

use nodeipc::blocking::Channel;

#[test]
fn a_send_to_a_closed_peer_is_an_error_not_a_signal() {
    // SAFETY: setting a signal's disposition to its default touches no
    // memory of ours; the only test in this binary.
    let previous = unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    assert_ne!(previous, libc::SIG_ERR);

    let (mut a, b) = Channel::pair().unwrap();
    drop(b);
    assert!(a.send(&"to nobody").is_err());

    // The other send path: bytes with an fd attached (`sendmsg`).
    let (mut a, b) = Channel::pair().unwrap();
    drop(b);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    assert!(a.send_with_handle(&"to nobody", &listener).is_err());
}
