//! The workloads of `shared/bench/README.md` (`common.js`): message shapes,
//! default counts, and one cell of the matrix.

use std::fmt;

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

/// Message size: `tiny` = `{i}`, others = `{i, s}` with `s` that many `x`.
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
}

impl Size {
    pub const ALL: [Size; 4] = [Size::Tiny, Size::K1, Size::K64, Size::M1];

    pub fn as_str(self) -> &'static str {
        match self {
            Size::Tiny => "tiny",
            Size::K1 => "1k",
            Size::K64 => "64k",
            Size::M1 => "1m",
        }
    }

    /// Length of `s` (payload bytes of one message).
    pub fn payload(self) -> usize {
        match self {
            Size::Tiny => 0,
            Size::K1 => 1 << 10,
            Size::K64 => 1 << 16,
            Size::M1 => 1 << 20,
        }
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
    /// `nodeipc bench` (parent) ↔ `node node-peer.js` (child).
    #[value(name = "rust-node")]
    #[serde(rename = "rust-node")]
    RustNode,
    /// `node node-baseline.js` ↔ `node node-peer.js`.
    #[value(name = "node-node")]
    #[serde(rename = "node-node")]
    NodeNode,
}

impl Pair {
    pub const ALL: [Pair; 3] = [Pair::RustRust, Pair::RustNode, Pair::NodeNode];

    pub fn as_str(self) -> &'static str {
        match self {
            Pair::RustRust => "rust-rust",
            Pair::RustNode => "rust-node",
            Pair::NodeNode => "node-node",
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

/// `common.js` `DEFAULT_COUNT`: one to three seconds per Node cell here.
pub fn default_count(mode: Mode, size: Size) -> u64 {
    match (mode, size) {
        (Mode::Seed, _) => 100,
        (Mode::Throughput, Size::Tiny) => 500_000,
        (Mode::Throughput, Size::K1) => 200_000,
        (Mode::Throughput, Size::K64) => 16_000,
        (Mode::Throughput, Size::M1) => 1_000,
        (Mode::Roundtrip, Size::Tiny) => 30_000,
        (Mode::Roundtrip, Size::K1) => 30_000,
        (Mode::Roundtrip, Size::K64) => 5_000,
        (Mode::Roundtrip, Size::M1) => 300,
    }
}

/// Counts for `--quick`: about 1/25 of the defaults (a smoke run, not a
/// measurement: process start-up is a large part of each cell).
pub fn quick_count(mode: Mode, size: Size) -> u64 {
    match (mode, size) {
        (Mode::Seed, _) => 10,
        (Mode::Roundtrip, Size::M1) => 20,
        (mode, size) => default_count(mode, size) / 25,
    }
}

/// Round trips before the timed ones (`node-baseline.js`).
pub fn warmup(count: u64) -> u64 {
    count.div_ceil(10).min(1000)
}

/// One cell of the matrix: a workload, run once per pair.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Cell {
    pub serialization: SerializationArg,
    pub mode: Mode,
    /// `None` for roundtrip (`node-baseline.js` reports `null` there).
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

    /// The direction `node-peer.js` is told (it wants one even when unused).
    pub fn peer_direction(&self) -> Direction {
        self.direction.unwrap_or(Direction::C2p)
    }

    /// `BENCH_*` environment for a peer, as `node-baseline.js` sets it.
    pub fn peer_env(&self) -> [(&'static str, String); 4] {
        [
            ("BENCH_MODE", mode_str(self.mode).to_owned()),
            ("BENCH_SIZE", self.size.as_str().to_owned()),
            ("BENCH_COUNT", self.count.to_string()),
            ("BENCH_DIRECTION", self.peer_direction().as_str().to_owned()),
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

/// A data message as a sender builds it: `{"i":N}` or `{"i":N,"s":"x…"}`,
/// the payload borrowed so sending allocates nothing.
#[derive(Debug, Serialize)]
pub struct OutMsg<'a> {
    pub i: u64,
    #[serde(skip_serializing_if = "str::is_empty")]
    pub s: &'a str,
}

/// A data message as a receiver types it (what `recv::<T>()` parses into).
#[derive(Debug, Deserialize, Serialize)]
pub struct InMsg {
    pub i: u64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub s: String,
}
