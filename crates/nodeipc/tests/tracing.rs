//! Diagnostics through `tracing` (feature `tracing`): the events a user
//! filters on, with their fields, from real channels.

mod common;

use std::fmt::Write as _;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use nodeipc::{Channel, Limits, Serialization};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// Every event as `LEVEL message k=v k=v…`.
static EVENTS: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Collector;

struct Line(String);

impl Visit for Line {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            write!(self.0, " {value:?}").unwrap();
        } else {
            write!(self.0, " {}={value:?}", field.name()).unwrap();
        }
    }
}

impl Subscriber for Collector {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut line = Line(event.metadata().level().to_string());
        event.record(&mut line);
        EVENTS.lock().unwrap().push(line.0);
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

/// The events about fd `fd` so far.
fn events(fd: i32) -> Vec<String> {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| tracing::subscriber::set_global_default(Collector).unwrap());
    let tag = format!("fd={fd}");
    let all = EVENTS.lock().unwrap();
    all.iter()
        .filter(|e| e.split(' ').any(|w| w == tag))
        .cloned()
        .collect()
}

/// One event about `fd` whose text contains every one of `parts`.
fn assert_event(fd: i32, parts: &[&str]) {
    let got = events(fd);
    assert!(
        got.iter().any(|e| parts.iter().all(|p| e.contains(p))),
        "no event on fd {fd} with {parts:?} in {got:#?}"
    );
}

fn pair(limits: Limits) -> ((Channel, i32), (Channel, i32)) {
    events(-1); // installs the collector
    let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
    let (a, b) = (OwnedFd::from(a), OwnedFd::from(b));
    let (fa, fb) = (a.as_raw_fd(), b.as_raw_fd());
    let open = |fd| Channel::from_fd(fd, Serialization::Json, limits).unwrap();
    ((open(a), fa), (open(b), fb))
}

#[tokio::test]
async fn channel_open_handles_skipped_messages_and_close_are_traced() {
    common::timeout(Duration::from_secs(30), async {
        let ((mut a, fa), (mut b, fb)) = pair(Limits::default());
        assert_event(fa, &["DEBUG", "channel open", "serialization=json"]);

        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let (sent, got) = tokio::join!(
            a.send_with_handle(&"server", &listener),
            b.recv_with_handle::<String>()
        );
        sent.unwrap();
        assert!(got.unwrap().unwrap().1.is_some());
        assert_event(fa, &["handle sent", "handle=\"net.Server\"", "offset=0"]);
        assert_event(
            fb,
            &["handle received: NODE_HANDLE_ACK", "handle=\"net.Server\""],
        );
        a.send(&"after").await.unwrap(); // reads the ACK
        assert_event(fa, &["NODE_HANDLE_ACK", "handle=Some(NetServer)"]);

        assert_eq!(b.recv::<String>().await.unwrap().unwrap(), "after");
        a.send(&"not a number").await.unwrap();
        assert!(b.recv::<u32>().await.is_err());
        assert_event(fb, &["message skipped", "error=", "not a number"]);

        let (mut tx, _rx) = a.split();
        tx.flush().await.unwrap();
        tx.disconnect().await.unwrap();
        assert_event(fa, &["disconnect"]);
        assert!(b.recv::<String>().await.unwrap().is_none());
        assert_event(fb, &["the peer closed the channel"]);
        drop(b);
        assert_event(fb, &["channel closed"]);
    })
    .await;
}

#[tokio::test]
async fn backpressure_waits_are_traced() {
    common::timeout(Duration::from_secs(30), async {
        let ((mut a, fa), (_b, _)) = pair(Limits::default().with_max_send_buffer(1024));
        let big = "z".repeat(4096);
        a.feed(&big).await.unwrap();
        a.feed(&big).await.unwrap();
        assert_event(fa, &["send buffer full", "queued=4099", "limit=1024"]);
    })
    .await;
}
