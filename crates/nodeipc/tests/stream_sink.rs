//! `Receiver::into_stream` and `Sender::into_sink` (feature `futures`):
//! `StreamExt`/`SinkExt` over a real Node child in both serializations,
//! backpressure through `poll_ready`, errors about one message.

mod common;

use std::path::Path;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt, TryStreamExt, stream};
use nodeipc::{Error, Limits, Serialization};
use serde::{Deserialize, Serialize};

const TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Job {
    id: u32,
    payload: String,
}

fn jobs(n: u32) -> impl Iterator<Item = Job> + Clone {
    (0..n).map(|id| Job {
        id,
        payload: "x".repeat(id as usize % 3000),
    })
}

/// A Node child echoes what the sink sends; the stream reads the echoes;
/// closing the sink disconnects the child, which exits, and the stream
/// ends.
async fn node_echoes_through_stream_and_sink(serialization: Serialization) {
    let node = require_node!();
    common::timeout(TIMEOUT, echo_through_stream_and_sink(&node, serialization)).await;
}

async fn echo_through_stream_and_sink(node: &Path, serialization: Serialization) {
    let mut cmd = nodeipc::Command::new(node);
    cmd.arg(common::script("child.js"))
        .arg("echo")
        .serialization(serialization);
    cmd.as_tokio_mut().kill_on_drop(true);
    let (mut child, channel) = cmd.spawn().unwrap();
    let (tx, rx) = channel.split();
    let mut sink = tx.into_sink();
    let mut echoes = rx.into_stream::<Job>();
    let n = 2000;
    let send = async {
        let mut all = stream::iter(jobs(n).map(Ok));
        sink.send_all(&mut all).await.unwrap();
    };
    let recv = async {
        let got: Vec<Job> = (&mut echoes).take(n as usize).try_collect().await.unwrap();
        assert!(got.into_iter().eq(jobs(n)));
    };
    tokio::join!(send, recv);
    sink.close().await.unwrap();
    assert!(
        echoes.next().await.is_none(),
        "the stream ends at disconnect"
    );
    assert!(echoes.next().await.is_none(), "and stays ended");
    assert!(child.wait().await.unwrap().success());
}

#[tokio::test]
async fn stream_and_sink_with_a_node_child_in_both_serializations() {
    for serialization in [Serialization::Json, Serialization::Advanced] {
        node_echoes_through_stream_and_sink(serialization).await;
    }
}

/// A peer that does not read makes `poll_ready` wait once
/// `max_send_buffer` is queued; once it reads, everything arrives.
#[tokio::test]
async fn sink_waits_while_the_send_buffer_is_full() {
    common::timeout(TIMEOUT, async {
        let (a, b) = nodeipc::Channel::pair().unwrap();
        let (tx, _rx) = a.split();
        let mut sink = tx.into_sink();
        let limit = Limits::default().max_send_buffer;
        let big = "y".repeat(64 << 10);
        let mut fed = 0;
        while tokio::time::timeout(Duration::from_millis(200), sink.feed(&big))
            .await
            .is_ok()
        {
            fed += 1;
            assert!(fed * big.len() < 8 * limit, "feed never waited");
        }
        let queued = sink.get_ref().queued();
        // It waited with at least `max_send_buffer` accepted, and holds at
        // most that and one message (the kernel took some meanwhile).
        assert!(
            fed * big.len() >= limit && queued <= limit + big.len(),
            "{fed} {queued}"
        );
        let (_tx, rx) = b.split();
        let recv = rx.into_stream().take(fed).try_collect::<Vec<String>>();
        let (flushed, got) = tokio::join!(sink.flush(), recv);
        flushed.unwrap();
        assert!(got.unwrap().iter().all(|m| *m == big));
    })
    .await;
}

/// A message that does not fit `T` is an `Err` item; the stream goes on.
#[tokio::test]
async fn stream_goes_on_after_a_message_that_does_not_fit() {
    common::timeout(TIMEOUT, async {
        let (mut a, b) = nodeipc::Channel::pair().unwrap();
        a.send(&1).await.unwrap();
        a.send(&"two").await.unwrap();
        a.send(&3).await.unwrap();
        a.disconnect().await.unwrap();
        let got: Vec<_> = b.split().1.into_stream::<u32>().collect().await;
        assert!(
            matches!(
                got[..],
                [Ok(1), Err(Error::Decode { offset: 2, .. }), Ok(3)]
            ),
            "{got:?}"
        );
    })
    .await;
}
