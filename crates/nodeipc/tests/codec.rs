//! `codec::NodeCodec` (feature `tokio-util`) with tokio-util's `Framed`:
//! over a real TCP socket to a Node peer speaking Node's framing, and
//! what `Framed` makes of an error about one message.

mod common;

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use nodeipc::codec::NodeCodec;
use nodeipc::{Error, Serialization};
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio_util::codec::{FramedRead, FramedWrite};

const TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Job {
    id: u32,
    name: String,
    tags: Vec<String>,
}

#[derive(Deserialize, Debug, PartialEq)]
struct Echo {
    echo: Job,
}

/// A Node peer connects to our listener and echoes `{echo: m}` for each
/// message, in `serialization`; 500 messages go through each way, then
/// the socket ends cleanly.
async fn node_echoes_over_tcp(serialization: Serialization) {
    let node = require_node!();
    common::timeout(TIMEOUT, async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port().to_string();
        let mut peer = tokio::process::Command::new(node)
            .arg(common::script("codec_peer.js"))
            .arg(serialization.as_str())
            .arg(&port)
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let (sock, _) = listener.accept().await.unwrap();
        let codec = || NodeCodec::<Echo>::new(serialization, Default::default());
        let (r, w) = sock.into_split();
        let (mut rx, mut tx) = (FramedRead::new(r, codec()), FramedWrite::new(w, codec()));
        let jobs = (0..500).map(|id| Job {
            id,
            name: format!("job {id} é\u{1F600}"),
            tags: vec!["a".repeat(id as usize); 3],
        });
        let send = async {
            for job in jobs.clone() {
                tx.feed(&job).await.unwrap();
            }
            tx.send("end").await.unwrap();
        };
        let recv = async {
            let got: Vec<Echo> = (&mut rx).map(|r| r.unwrap()).collect().await;
            assert_eq!(got.len(), 500);
            for (echo, job) in got.into_iter().zip(jobs.clone()) {
                assert_eq!(echo.echo, job);
            }
        };
        tokio::join!(send, recv);
        drop((rx, tx)); // Node's socket closes once ours does
        assert!(peer.wait().await.unwrap().success());
    })
    .await;
}

#[tokio::test]
async fn codec_talks_to_node_over_tcp_in_both_serializations() {
    for serialization in [Serialization::Json, Serialization::Advanced] {
        node_echoes_over_tcp(serialization).await;
    }
}

/// After an error about one message, `FramedRead` yields `None` once and
/// then goes on with the next message (tokio-rs/tokio#3976), as the docs
/// of `NodeCodec` say; a cut-off message at the end is `UnexpectedEof`.
#[tokio::test]
async fn framed_goes_on_after_a_bad_message() {
    let (mut w, r) = tokio::io::duplex(1024);
    w.write_all(b"1\nnot json\n2\n[3").await.unwrap();
    drop(w);
    let mut rx = FramedRead::new(r, NodeCodec::<u32>::json());
    assert_eq!(rx.next().await.unwrap().unwrap(), 1);
    assert!(matches!(
        rx.next().await,
        Some(Err(Error::Decode { offset: 2, .. }))
    ));
    assert!(rx.next().await.is_none());
    assert_eq!(rx.next().await.unwrap().unwrap(), 2);
    assert!(matches!(
        rx.next().await,
        Some(Err(Error::UnexpectedEof { buffered: 2 }))
    ));
}
