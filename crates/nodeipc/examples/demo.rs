//! The quick-start demo: spawn a Node worker (`examples/worker.js`) with an
//! IPC channel and exchange typed messages both ways, including messages
//! over 1 MiB and non-ASCII text.
//!
//! ```sh
//! cargo run --example demo             # builds fastest: the README's first command
//! cargo run --release --example demo   # the timings it prints mean something
//! ```

use std::time::Instant;

use serde::{Deserialize, Serialize};

/// What we send to the worker. `kind` is the tag the JS side switches on.
#[derive(Debug, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
enum ToWorker {
    Greet { text: String },
    Big { data: String },
    AskBig { len: usize },
}

/// What the worker sends back.
#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
enum FromWorker {
    Ready {
        pid: u32,
        node: String,
    },
    #[serde(rename_all = "camelCase")]
    Greeted {
        text: String,
        utf16_units: usize,
    },
    BigAck {
        len: usize,
        checksum: u32,
    },
    BigReply {
        data: String,
        checksum: u32,
    },
}

/// The same checksum as worker.js, over UTF-16 code units as JS sees them.
fn checksum(s: &str) -> u32 {
    s.encode_utf16()
        .fold(0u32, |h, u| h.wrapping_mul(31).wrapping_add(u32::from(u)))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let worker = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/worker.js");
    let (mut child, mut channel) = nodeipc::Command::new("node")
        .arg(worker)
        .spawn()
        .map_err(|e| format!("cannot start `node {worker}` (is Node.js installed?): {e}"))?;

    match channel.recv().await? {
        Some(FromWorker::Ready { pid, node }) => println!("worker ready: node {node}, pid {pid}"),
        other => return Err(format!("expected ready, got {other:?}").into()),
    }

    let text = "héllo wörld — 你好 — 😀".to_string();
    channel
        .send(&ToWorker::Greet { text: text.clone() })
        .await?;
    if let Some(FromWorker::Greeted {
        text: reply,
        utf16_units,
    }) = channel.recv().await?
    {
        println!(
            "sent {text:?} ({} UTF-8 bytes), worker saw {utf16_units} UTF-16 units",
            text.len()
        );
        println!("worker replied {reply:?}");
    }

    let data = "rust→node ✓ ".repeat(100_000); // 1.4 MB of mixed ASCII/non-ASCII
    let started = Instant::now();
    channel.send(&ToWorker::Big { data: data.clone() }).await?;
    match channel.recv().await? {
        Some(FromWorker::BigAck { len, checksum: sum }) => {
            let ok = sum == checksum(&data);
            println!(
                "sent {:.2} MB to the worker: it got {len} UTF-16 units, checksum {} ({:?} round trip)",
                data.len() as f64 / 1e6,
                if ok { "matches" } else { "DIFFERS" },
                started.elapsed()
            );
            if !ok {
                return Err("checksum mismatch".into());
            }
        }
        other => return Err(format!("unexpected reply {other:?}").into()),
    }

    let started = Instant::now();
    channel.send(&ToWorker::AskBig { len: 2_000_000 }).await?;
    match channel.recv().await? {
        Some(FromWorker::BigReply {
            data,
            checksum: sum,
        }) => {
            let ok = sum == checksum(&data);
            println!(
                "received {:.2} MB from the worker ({} chars, starts {:?}), checksum {} ({:?})",
                data.len() as f64 / 1e6,
                data.chars().count(),
                data.chars().take(16).collect::<String>(),
                if ok { "matches" } else { "DIFFERS" },
                started.elapsed()
            );
            if !ok {
                return Err("checksum mismatch".into());
            }
        }
        other => return Err(format!("unexpected reply {other:?}").into()),
    }

    let started = Instant::now();
    let n = 100_000;
    for i in 0..n {
        channel
            .feed(&ToWorker::Greet {
                text: format!("#{i}"),
            })
            .await?;
    }
    channel.flush().await?;
    for _ in 0..n {
        channel.recv::<FromWorker>().await?.ok_or("worker left")?;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{n} small request/replies, pipelined: {secs:.2} s ({:.0} round trips/s)",
        n as f64 / secs
    );
    if cfg!(debug_assertions) {
        println!("(timings of an unoptimized build: add --release for representative ones)");
    }

    channel.disconnect().await?;
    let status = child.wait().await?;
    println!("disconnected; worker exited with {status}");
    Ok(())
}
