//! A tokio channel whose process is out of fds still gets its messages out
//! into a full socket: waiting for room takes a duplicate fd (a writing
//! registration with tokio); without one the send polls instead.
//!
//! Alone in its test binary: it lowers this process's `RLIMIT_NOFILE`.

use std::io::Read;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use nodeipc::{Channel, Limits, Serialization};
use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};

#[test]
fn a_send_into_a_full_socket_finishes_with_no_fd_to_spare() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (ours, mut raw) = UnixStream::pair().unwrap();
    raw.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let before = getrlimit(Resource::Nofile);
    let sent = rt.block_on(async {
        let mut ch = Channel::from_fd(ours.into(), Serialization::Json, Limits::default()).unwrap();
        // No new fd: the limit is on fd numbers, and 0–2 are taken (the
        // open ones above stay usable).
        setrlimit(
            Resource::Nofile,
            Rlimit {
                current: Some(3),
                maximum: before.maximum,
            },
        )
        .unwrap();
        let reader = std::thread::spawn(move || {
            // Let the send fill the socket and wait first.
            std::thread::sleep(Duration::from_millis(200));
            let mut got = 0usize;
            let mut buf = vec![0u8; 1 << 16];
            while got < 4 << 20 {
                match raw.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => got += n,
                }
            }
            got
        });
        let big = "x".repeat(4 << 20);
        let sent = ch.send(&big).await.map(|()| big.len());
        let got = tokio::task::spawn_blocking(move || reader.join().unwrap())
            .await
            .unwrap();
        (sent, got)
    });
    setrlimit(Resource::Nofile, before).unwrap();
    let (sent, got) = sent;
    assert_eq!(sent.unwrap(), 4 << 20);
    assert!(got >= 4 << 20, "the peer got {got} bytes");
}
