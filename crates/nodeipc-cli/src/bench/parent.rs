//! The Rust parent: spawns a peer (`node node-bench.js peer` or `nodeipc
//! bench peer`) with `nodeipc::Command` and drives one cell of the peers'
//! protocol (ready → go → data → done; the parent closes the channel),
//! timing it the way `node-bench.js baseline` does.

use std::time::{Duration, Instant};

use nodeipc::{Channel, Command};
use serde_json::Value;

use super::BoxError;
use super::measure::Measured;
use super::workload::{Cell, Direction, InMsg, Mode, Payload, warmup};

/// Longest a cell may take before it counts as hung.
const CELL_TIMEOUT: Duration = Duration::from_secs(120);
/// Longest the peer may take to exit after the channel closed.
const EXIT_TIMEOUT: Duration = Duration::from_secs(10);

/// Spawns `cmd` (with the cell's `BENCH_*` environment added) and runs the
/// cell against it.
pub async fn run(mut cmd: Command, cell: &Cell) -> Result<Measured, BoxError> {
    for (k, v) in cell.peer_env() {
        cmd.env(k, v);
    }
    cmd.as_tokio_mut().kill_on_drop(true);
    let program = cmd.as_tokio_mut().as_std().get_program().to_owned();
    let (mut child, channel) = cmd
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", program.to_string_lossy()))?;
    let measured = match tokio::time::timeout(CELL_TIMEOUT, drive(channel, cell)).await {
        Ok(r) => r?,
        Err(_) => return Err(format!("no result after {CELL_TIMEOUT:?}").into()),
    };
    let status = tokio::time::timeout(EXIT_TIMEOUT, child.wait())
        .await
        .map_err(|_| "the peer did not exit after the channel was closed")??;
    if !status.success() {
        return Err(format!("the peer exited with {status}").into());
    }
    Ok(measured)
}

async fn drive(mut ch: Channel, cell: &Cell) -> Result<Measured, BoxError> {
    let ready: Value = recv(&mut ch, "{\"ready\":true}").await?;
    if ready.get("ready") != Some(&Value::Bool(true)) {
        return Err(format!("expected {{\"ready\":true}}, got {ready}").into());
    }
    let payload = Payload::new(cell.size);
    let measured = match (cell.mode, cell.direction) {
        (Mode::Roundtrip, _) => roundtrip(&mut ch, cell, &payload).await?,
        (Mode::Throughput, Some(Direction::P2c)) => {
            let t0 = Instant::now();
            // Batched sends: `feed` writes ~64 KiB at a time and waits only
            // when 1 MiB is queued; `flush` pushes out the tail.
            for i in 0..cell.count {
                ch.feed(&payload.msg(i)).await?;
            }
            ch.flush().await?;
            expect_done(&mut ch).await?;
            Measured::throughput(cell, t0.elapsed())
        }
        (Mode::Seed, _) => {
            let t0 = Instant::now();
            ch.send(&serde_json::json!({ "go": true })).await?;
            for k in 0..cell.count {
                let m: String = recv(&mut ch, "a seed string").await?;
                if m.len() != cell.payload() {
                    return Err(format!("seed message {k}: {} bytes", m.len()).into());
                }
            }
            let elapsed = t0.elapsed();
            expect_done(&mut ch).await?;
            Measured::throughput(cell, elapsed)
        }
        (Mode::Throughput, _) => {
            let t0 = Instant::now();
            ch.send(&serde_json::json!({ "go": true })).await?;
            for k in 0..cell.count {
                let m: InMsg = recv(&mut ch, "a data message").await?;
                payload.check(k, &m)?;
            }
            let elapsed = t0.elapsed();
            expect_done(&mut ch).await?;
            Measured::throughput(cell, elapsed)
        }
    };
    ch.disconnect().await?;
    Ok(measured)
}

/// `count` timed ping-pongs after `warmup(count)` untimed ones.
async fn roundtrip(ch: &mut Channel, cell: &Cell, payload: &Payload) -> Result<Measured, BoxError> {
    let warm = warmup(cell.count);
    let mut lat = Vec::with_capacity(cell.count as usize);
    for i in 0..warm + cell.count {
        let t = Instant::now();
        ch.send(&payload.msg(i)).await?;
        let m: InMsg = recv(ch, "the echo").await?;
        let dt = t.elapsed();
        payload.check(i, &m)?;
        if i >= warm {
            lat.push(dt.as_secs_f64() * 1e6);
        }
    }
    Ok(Measured::latency(lat))
}

async fn recv<T: serde::de::DeserializeOwned>(ch: &mut Channel, what: &str) -> Result<T, BoxError> {
    match ch.recv::<T>().await {
        Ok(Some(m)) => Ok(m),
        Ok(None) => Err(format!("the peer closed the channel; expected {what}").into()),
        Err(e) => Err(format!("expected {what}: {e}").into()),
    }
}

async fn expect_done(ch: &mut Channel) -> Result<(), BoxError> {
    let done: Value = recv(ch, "{\"done\":true,…}").await?;
    if done.get("done") != Some(&Value::Bool(true)) {
        return Err(format!("expected {{\"done\":true,…}}, got {done}").into());
    }
    Ok(())
}
