//! `nodeipc bench peer` (hidden): the Rust twin of `node-bench.js peer`, the
//! child end for Rust ↔ Rust cells. The cell from the same variables
//! (`Cell::peer_env`; it reads `BENCH_SIZE` where the script reads
//! `BENCH_FIELD` and `BENCH_BYTES`), the same protocol, so one parent
//! driver serves both peers.

use std::process::ExitCode;
use std::time::Instant;

use nodeipc::Channel;
use serde::de::IgnoredAny;
use serde_json::json;

use super::BoxError;
use super::workload::{Direction, InMsg, Mode, Payload, SEED_BYTES, Size, default_count};

struct Options {
    mode: Mode,
    size: Size,
    direction: Direction,
    count: u64,
}

fn options() -> Result<Options, String> {
    let var = |k: &str| std::env::var(k).ok();
    let mode = var("BENCH_MODE").unwrap_or_else(|| "throughput".into());
    let size = var("BENCH_SIZE").unwrap_or_else(|| "tiny".into());
    let direction = var("BENCH_DIRECTION").unwrap_or_else(|| "c2p".into());
    let bad = || {
        format!(
            "bad options: mode={mode} size={size} direction={direction} \
             (mode throughput|roundtrip|seed, size tiny|1k|64k|1m|1mbuf, direction c2p|p2c, count > 0)"
        )
    };
    let mode = match mode.as_str() {
        "throughput" => Mode::Throughput,
        "roundtrip" => Mode::Roundtrip,
        "seed" => Mode::Seed,
        _ => return Err(bad()),
    };
    let size = Size::parse(&size).ok_or_else(bad)?;
    let direction = match direction.as_str() {
        "c2p" => Direction::C2p,
        "p2c" => Direction::P2c,
        _ => return Err(bad()),
    };
    let count = match var("BENCH_COUNT") {
        None => default_count(mode, size),
        Some(c) => c.parse().ok().filter(|&c| c > 0).ok_or_else(bad)?,
    };
    Ok(Options {
        mode,
        size,
        direction,
        count,
    })
}

/// Runs the peer; exit 2 on bad options or no channel, as `node-bench.js`.
pub fn run() -> Result<ExitCode, BoxError> {
    let o = match options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("nodeipc bench peer: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    // One thread, like Node's event loop: the cell measures the channel,
    // not a work-stealing scheduler.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let ch = match Channel::from_env() {
            Ok(ch) => ch,
            Err(e) => {
                eprintln!("nodeipc bench peer: {e}");
                return Ok(ExitCode::from(2));
            }
        };
        serve(ch, &o).await?;
        Ok(ExitCode::SUCCESS)
    })
}

async fn serve(mut ch: Channel, o: &Options) -> Result<(), BoxError> {
    ch.send(&json!({ "ready": true })).await?;
    let done = |ms: f64| {
        json!({
            "done": true,
            "mode": super::workload::mode_str(o.mode),
            "direction": o.direction.as_str(),
            "size": o.size.as_str(),
            "count": o.count,
            "ms": ms,
        })
    };
    match (o.mode, o.direction) {
        (Mode::Roundtrip, _) => {
            while let Some(m) = ch.recv::<InMsg>().await? {
                ch.send(&m).await?;
            }
            return Ok(());
        }
        (Mode::Throughput, Direction::P2c) => {
            let mut t0 = None;
            for _ in 0..o.count {
                if ch.recv::<InMsg>().await?.is_none() {
                    return Ok(());
                }
                t0.get_or_insert_with(Instant::now);
            }
            let ms = t0.map_or(0.0, |t| t.elapsed().as_secs_f64() * 1e3);
            ch.send(&done(ms)).await?;
        }
        (mode, _) => {
            if ch.recv::<IgnoredAny>().await?.is_none() {
                return Ok(());
            }
            let t0 = Instant::now();
            if mode == Mode::Seed {
                let s = "x".repeat(SEED_BYTES);
                for _ in 0..o.count {
                    ch.feed(s.as_str()).await?;
                }
            } else {
                let payload = Payload::new(o.size);
                for i in 0..o.count {
                    ch.feed(&payload.msg(i)).await?;
                }
            }
            ch.flush().await?;
            ch.send(&done(t0.elapsed().as_secs_f64() * 1e3)).await?;
        }
    }
    // Stay until the parent closes the channel, as node-bench.js does.
    while ch.recv::<IgnoredAny>().await?.is_some() {}
    Ok(())
}
