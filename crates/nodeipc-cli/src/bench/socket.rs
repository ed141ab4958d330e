//! The `socket` pair: what the unix socket alone carries, the ceiling of
//! every channel built on it.
//!
//! This process and a second one (`nodeipc bench socket-peer`, hidden)
//! move each message's payload bytes over a socketpair, as the cell's
//! direction says: one buffer written whole per message, reads of up to a
//! message into one buffer, both ends non-blocking and spinning (with a
//! `yield`) while the socket is full or empty. No framing, no
//! serialization, no copy in user space, no wake-ups: a channel moving the
//! same bytes over the same socket does at least the same kernel work, so
//! `socket ÷ Node↔Node` bounds what `Rust↔Rust ÷ Node↔Node` can reach on
//! the machine (`docs/benchmarks.md`).
//!
//! The peer's socket is its stdin, so no fd has to be placed by hand.

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use super::BoxError;
use super::measure::Measured;
use super::workload::{Cell, Direction, Mode};

/// Smallest payload the pair runs for: below it the per-message costs a
/// channel batches away (`feed` coalesces small messages into 64 KiB
/// writes) would be all this pair measures.
pub const MIN_PAYLOAD: usize = 64 * 1024;

/// Whether the pair runs `cell`, or why not.
pub fn runs(cell: &Cell) -> Result<(), String> {
    if cell.mode == Mode::Roundtrip || cell.payload() < MIN_PAYLOAD {
        return Err(format!(
            "the socket ceiling is measured for one-way cells of {} KiB and more",
            MIN_PAYLOAD / 1024
        ));
    }
    Ok(())
}

/// Runs `cell` against `exe bench socket-peer`.
pub async fn run(exe: &Path, cell: &Cell) -> Result<Measured, BoxError> {
    let (exe, cell) = (exe.to_owned(), *cell);
    // Blocking I/O and spinning: off the runtime's thread.
    Ok(tokio::task::spawn_blocking(move || measure(&exe, &cell)).await??)
}

fn direction(cell: &Cell) -> Direction {
    match cell.mode {
        Mode::Seed => Direction::C2p,
        _ => cell.peer_direction(),
    }
}

fn measure(exe: &Path, cell: &Cell) -> io::Result<Measured> {
    let (mut ours, theirs) = UnixStream::pair()?;
    let mut child = Command::new(exe)
        .args(["bench", "socket-peer"])
        .env("BENCH_DIRECTION", direction(cell).as_str())
        .env("BENCH_BYTES", cell.payload().to_string())
        .env("BENCH_COUNT", cell.count.to_string())
        .stdin(Stdio::from(OwnedFd::from(theirs)))
        .spawn()?;
    let moved = move_bytes(&mut ours, cell);
    drop(ours);
    if moved.is_err() {
        let _ = child.kill();
    }
    let status = child.wait()?;
    let elapsed = moved?;
    if !status.success() {
        return Err(io::Error::other(format!("the peer exited with {status}")));
    }
    Ok(Measured::throughput(cell, elapsed))
}

/// The parent's side: waits for the peer's ready byte, then the timed
/// part: c2p sends a go byte and reads every message; p2c writes every
/// message and reads the peer's done byte.
fn move_bytes(sock: &mut UnixStream, cell: &Cell) -> io::Result<std::time::Duration> {
    sock.set_nonblocking(true)?;
    read_exactly(sock, 1, 1)?;
    let bytes = cell.payload();
    let t0 = Instant::now();
    match direction(cell) {
        Direction::C2p => {
            write_all(sock, &[1])?;
            read_exactly(sock, bytes as u64 * cell.count, bytes)?;
        }
        Direction::P2c => {
            send(sock, cell.count, bytes)?;
            read_exactly(sock, 1, 1)?;
        }
    }
    Ok(t0.elapsed())
}

/// The peer: the other half of [`move_bytes`], on its stdin.
pub fn peer() -> Result<ExitCode, BoxError> {
    let var = |k: &str| std::env::var(k).map_err(|_| format!("{k} is not set"));
    let bytes: usize = var("BENCH_BYTES")?.parse()?;
    let count: u64 = var("BENCH_COUNT")?.parse()?;
    let mut sock = UnixStream::from(io::stdin().as_fd().try_clone_to_owned()?);
    sock.set_nonblocking(true)?;
    write_all(&mut sock, &[0])?;
    match var("BENCH_DIRECTION")?.as_str() {
        "c2p" => {
            read_exactly(&mut sock, 1, 1)?;
            send(&mut sock, count, bytes)?;
        }
        "p2c" => {
            read_exactly(&mut sock, bytes as u64 * count, bytes)?;
            write_all(&mut sock, &[1])?;
        }
        other => return Err(format!("bad BENCH_DIRECTION {other:?}").into()),
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes `count` messages of `bytes` bytes, all from one buffer.
fn send(sock: &mut UnixStream, count: u64, bytes: usize) -> io::Result<()> {
    let msg = vec![b'x'; bytes];
    for _ in 0..count {
        write_all(sock, &msg)?;
    }
    Ok(())
}

fn write_all(sock: &mut UnixStream, mut buf: &[u8]) -> io::Result<()> {
    while !buf.is_empty() {
        match sock.write(buf) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => buf = &buf[n..],
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::yield_now(),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Reads `total` bytes, at most `chunk` at a time, into one buffer.
fn read_exactly(sock: &mut UnixStream, total: u64, chunk: usize) -> io::Result<()> {
    let mut buf = vec![0; chunk.max(1)];
    let mut left = total;
    while left > 0 {
        let want = usize::try_from(left).map_or(buf.len(), |l| l.min(buf.len()));
        match sock.read(&mut buf[..want]) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => left -= n as u64,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::yield_now(),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
