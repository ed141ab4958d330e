//! The workloads of `nodeipc bench` (`docs/benchmarks.md`, "Workloads"):
//! message shapes, default counts, and one cell of the matrix. The Node
//! script takes each cell from `Cell::peer_env`, so this file is the one
//! definition.

use std::fmt;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// What a cell measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Messages one way as fast as backpressure allows.
    Throughput,
    /// One message out, its echo back, repeat.
    Roundtrip,
    /// 100 bare 1 MiB strings, child → parent.
    Seed,
}

/// Message size: `tiny` = `{i}`, `1mbuf` = `{i, b}` with `b` a 1 MiB
/// Buffer of `x`, others = `{i, s}` with `s` that many `x`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
pub enum Size {
    /// `{i}`.
    #[value(name = "tiny")]
    #[serde(rename = "tiny")]
    Tiny,
    /// `{i, s}`, `s` 1024 bytes.
    #[value(name = "1k")]
    #[serde(rename = "1k")]
    K1,
    /// `{i, s}`, `s` 65536 bytes.
    #[value(name = "64k")]
    #[serde(rename = "64k")]
    K64,
    /// `{i, s}`, `s` 1048576 bytes.
    #[value(name = "1m")]
    #[serde(rename = "1m")]
    M1,
    /// `{i, b}`, `b` a Buffer of 1048576 bytes (`advanced` only: in `json`
    /// a Buffer is not a Buffer, see `runs_in`).
    #[value(name = "1mbuf")]
    #[serde(rename = "1mbuf")]
    M1Buf,
}

impl Size {
    pub const ALL: [Size; 5] = [Size::Tiny, Size::K1, Size::K64, Size::M1, Size::M1Buf];

    pub fn as_str(self) -> &'static str {
        match self {
            Size::Tiny => "tiny",
            Size::K1 => "1k",
            Size::K64 => "64k",
            Size::M1 => "1m",
            Size::M1Buf => "1mbuf",
        }
    }

    /// Length of `s` or `b` (payload bytes of one message).
    pub fn payload(self) -> usize {
        match self {
            Size::Tiny => 0,
            Size::K1 => 1 << 10,
            Size::K64 => 1 << 16,
            Size::M1 | Size::M1Buf => 1 << 20,
        }
    }

    /// Whether the payload is a Buffer (`b`) rather than a string (`s`).
    pub fn is_buffer(self) -> bool {
        self == Size::M1Buf
    }

    /// Whether `serialization` runs this size. A Buffer in `json` is
    /// `{"type":"Buffer","data":[…]}`, which Node parses into a plain array
    /// of numbers, not a Buffer: a different workload, left out
    /// (`docs/decisions.md`).
    pub fn runs_in(self, serialization: SerializationArg) -> bool {
        !(self.is_buffer() && serialization == SerializationArg::Json)
    }

    pub fn parse(s: &str) -> Option<Size> {
        Size::ALL.into_iter().find(|z| z.as_str() == s)
    }
}

/// Who sends in a throughput cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Child → parent.
    C2p,
    /// Parent → child.
    P2c,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::C2p => "c2p",
            Direction::P2c => "p2c",
        }
    }
}

/// Which two programs are at the ends of the channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
pub enum Pair {
    /// `nodeipc bench` ↔ a second `nodeipc` process (hidden `bench peer`).
    #[value(name = "rust-rust")]
    #[serde(rename = "rust-rust")]
    RustRust,
    /// `nodeipc bench` (parent) ↔ `node node-bench.js peer` (child).
    #[value(name = "rust-node")]
    #[serde(rename = "rust-node")]
    RustNode,
    /// `node node-bench.js baseline` ↔ the `peer` it forks.
    #[value(name = "node-node")]
    #[serde(rename = "node-node")]
    NodeNode,
    /// The bare socketpair between two `nodeipc` processes: the payload
    /// bytes only, no framing, no copies (the ceiling, `bench/socket.rs`).
    #[value(name = "socket")]
    #[serde(rename = "socket")]
    Socket,
}

impl Pair {
    pub const ALL: [Pair; 4] = [Pair::RustRust, Pair::RustNode, Pair::NodeNode, Pair::Socket];

    pub fn as_str(self) -> &'static str {
        match self {
            Pair::RustRust => "rust-rust",
            Pair::RustNode => "rust-node",
            Pair::NodeNode => "node-node",
            Pair::Socket => "socket",
        }
    }
}

/// Node's `serialization` option. Node ↔ Node runs both; the Rust pairs
/// run what `nodeipc::Serialization` knows and report the rest as skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SerializationArg {
    Json,
    Advanced,
}

impl SerializationArg {
    pub fn as_str(self) -> &'static str {
        match self {
            SerializationArg::Json => "json",
            SerializationArg::Advanced => "advanced",
        }
    }
}

/// Bytes of one seed message (a bare string).
pub const SEED_BYTES: usize = 1 << 20;

/// Messages per cell: one to three seconds per Node ↔ Node cell on a
/// 2-core machine.
/// The 1 MiB Buffer has the counts of the 1 MiB string.
pub fn default_count(mode: Mode, size: Size) -> u64 {
    match (mode, size) {
        (Mode::Seed, _) => 100,
        (Mode::Throughput, Size::Tiny) => 500_000,
        (Mode::Throughput, Size::K1) => 200_000,
        (Mode::Throughput, Size::K64) => 16_000,
        (Mode::Throughput, Size::M1 | Size::M1Buf) => 1_000,
        (Mode::Roundtrip, Size::Tiny) => 30_000,
        (Mode::Roundtrip, Size::K1) => 30_000,
        (Mode::Roundtrip, Size::K64) => 5_000,
        (Mode::Roundtrip, Size::M1 | Size::M1Buf) => 300,
    }
}

/// Counts for `--quick`: about 1/25 of the defaults (a smoke run, not a
/// measurement: process start-up is a large part of each cell).
pub fn quick_count(mode: Mode, size: Size) -> u64 {
    match (mode, size) {
        (Mode::Seed, _) => 10,
        (Mode::Roundtrip, Size::M1 | Size::M1Buf) => 20,
        (mode, size) => default_count(mode, size) / 25,
    }
}

/// Round trips before the timed ones: a tenth of the timed ones, at most
/// 1000.
pub fn warmup(count: u64) -> u64 {
    count.div_ceil(10).min(1000)
}

/// One cell of the matrix: a workload, run once per pair.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Cell {
    pub serialization: SerializationArg,
    pub mode: Mode,
    /// `None` for roundtrip (the report says `null` there).
    pub direction: Option<Direction>,
    pub size: Size,
    pub count: u64,
    /// Both processes pinned to one CPU (roundtrip only).
    pub pinned: bool,
}

impl Cell {
    /// Payload bytes of one message: `s.length`, or the bare seed string.
    pub fn payload(&self) -> usize {
        match self.mode {
            Mode::Seed => SEED_BYTES,
            _ => self.size.payload(),
        }
    }

    /// The direction the peers are told (they want one even when unused).
    pub fn peer_direction(&self) -> Direction {
        self.direction.unwrap_or(Direction::C2p)
    }

    /// The `BENCH_*` environment that tells a peer (`nodeipc bench peer`,
    /// `node-bench.js`) the cell. `BENCH_SIZE` is for the Rust peer, which
    /// shares this file; the Node script builds its messages from
    /// `BENCH_FIELD` (`s`, `b` or empty) and `BENCH_BYTES`.
    pub fn peer_env(&self) -> [(&'static str, String); 6] {
        let field = match self.size {
            Size::Tiny => "",
            Size::M1Buf => "b",
            Size::K1 | Size::K64 | Size::M1 => "s",
        };
        [
            ("BENCH_MODE", mode_str(self.mode).to_owned()),
            ("BENCH_SIZE", self.size.as_str().to_owned()),
            ("BENCH_COUNT", self.count.to_string()),
            ("BENCH_DIRECTION", self.peer_direction().as_str().to_owned()),
            ("BENCH_FIELD", field.to_owned()),
            ("BENCH_BYTES", self.payload().to_string()),
        ]
    }
}

pub fn mode_str(mode: Mode) -> &'static str {
    match mode {
        Mode::Throughput => "throughput",
        Mode::Roundtrip => "roundtrip",
        Mode::Seed => "seed",
    }
}

impl fmt::Display for Cell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.serialization.as_str(), mode_str(self.mode))?;
        if let Some(d) = self.direction {
            write!(f, " {}", d.as_str())?;
        }
        write!(f, " {} x{}", self.size.as_str(), self.count)?;
        if self.pinned {
            f.write_str(" (pinned)")?;
        }
        Ok(())
    }
}

/// The payload of a cell's data messages, built once: `x` repeated in `s`
/// or, for the Buffer size, in `b` (the other one empty).
#[derive(Debug)]
pub struct Payload {
    s: String,
    b: Bytes,
}

impl Payload {
    /// The payload of `size`.
    pub fn new(size: Size) -> Payload {
        let x = "x".repeat(size.payload());
        if size.is_buffer() {
            Payload {
                s: String::new(),
                b: Bytes::from(x.into_bytes()),
            }
        } else {
            Payload {
                s: x,
                b: Bytes::new(),
            }
        }
    }

    /// Data message `i`, borrowing the payload so sending allocates nothing.
    pub fn msg(&self, i: u64) -> OutMsg<'_> {
        OutMsg {
            i,
            s: &self.s,
            b: &self.b,
        }
    }

    /// Whether `m` is data message `expected` with this payload.
    pub fn check(&self, expected: u64, m: &InMsg) -> Result<(), String> {
        if m.i == expected && m.s.len() == self.s.len() && m.b.len() == self.b.len() {
            return Ok(());
        }
        Err(format!(
            "expected message {expected} with {} + {} bytes (s + b), got {} with {} + {}",
            self.s.len(),
            self.b.len(),
            m.i,
            m.s.len(),
            m.b.len()
        ))
    }
}

/// A data message as a sender builds it: `{"i":N}`, `{"i":N,"s":"x…"}` or
/// `{"i":N,"b":<Buffer>}` (`Bytes` serializes as bytes: a Node Buffer in
/// `advanced`).
#[derive(Debug, Serialize)]
pub struct OutMsg<'a> {
    pub i: u64,
    #[serde(skip_serializing_if = "str::is_empty")]
    pub s: &'a str,
    #[serde(skip_serializing_if = "Bytes::is_empty")]
    pub b: &'a Bytes,
}

/// A data message as a receiver types it (what `recv::<T>()` parses into).
#[derive(Debug, Deserialize, Serialize)]
pub struct InMsg {
    pub i: u64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub s: String,
    #[serde(default, skip_serializing_if = "Bytes::is_empty")]
    pub b: Bytes,
}
