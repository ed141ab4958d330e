//! Codec micro-benchmarks: which JSON parser, and what the decoder and the
//! encoder cost per message, on the message shapes of `nodeipc bench`
//! (`docs/benchmarks.md`, "Workloads").
//!
//! ```sh
//! cargo bench -p nodeipc-bench --bench codec             # everything, ≈ 2 min
//! cargo bench -p nodeipc-bench --bench codec -- '^1k/'   # one workload
//! ```
//!
//! Workloads (one line each, as Node writes them): `tiny` = `{"i":N}`;
//! `1k`, `64k`, `1m` = `{"i":N,"s":"xxx…"}` with 1024, 65536, 1048576 ASCII
//! `x`; `seed` = a bare 1 MiB string. Throughput is reported over the bytes
//! of the line (the JSON text, without `\n`), decimal MB/s.
//!
//! Per workload (a criterion group named after it):
//!
//! - `serde_json/typed`: `serde_json::from_slice` into a struct (what the
//!   library does for `recv::<T>()`).
//! - `serde_json/value`: `serde_json::from_slice` into `serde_json::Value`.
//! - `simd_json/typed+copy`: `simd_json::serde::from_slice` on a fresh
//!   mutable copy of the line (`to_vec`): simd-json rewrites its input, and
//!   the channel hands out a borrowed `&[u8]`, so a copy is unavoidable.
//! - `simd_json/typed+copy,reuse`: the same with the copy made into a reused
//!   `Vec` and simd-json's scratch `Buffers` reused: the best a channel
//!   could do with simd-json.
//! - `simd_json/typed,nocopy`: the parse alone, `Buffers` reused:
//!   simd-json's lower bound. (It re-parses one buffer: simd-json leaves a
//!   line without escapes as it was.) `copy_only` times the copy alone.
//! - `simd_json/owned_value+copy`: `simd_json::to_owned_value` on a reused
//!   copy, to set against `serde_json/value`.
//! - `decoder/typed`, `decoder/value`: the library's receive path minus the
//!   syscall: `JsonDecoder::extend` (standing in for the kernel's copy into
//!   the read buffer) + `decode` + `Frame::parse`.
//! - `decoder/typed+is_internal`: plus the `NODE_*` check `recv` makes
//!   on every message (`message::from_frame`).
//! - `encode`: `nodeipc::codec::json::encode` into a reused buffer.
//!
//! A `tiny-batch` group feeds 64 KiB of tiny lines to the decoder at once,
//! as one socket read delivers them under load, and reports per message.
//!
//! The `adv-*` groups time the `advanced` codec on typed messages, the
//! path before issue 5 against the direct one: `encode/value` is
//! `v8::encode(&to_value(msg))`, `encode/direct` is
//! `v8::encode_serialize(msg)`; `decode/value` is
//! `from_value(frame.to_value())`, `decode/direct` is
//! `frame.deserialize()`. Workloads: `adv-1m-string` = `{i, s}` with a
//! 1 MiB ASCII `s`; `adv-1m-bytes` = `{i, b}` with `b` 1 MiB of bytes
//! (`bytes::Bytes`: a Buffer, as `serde_bytes` maps it); `adv-64k-object`
//! = one object of 4096 small fields (`"field0000": n`, ≈ 64 KiB);
//! `adv-64k-records` = an array of 1024 `{id, name, ok}` objects. Throughput
//! is over the frame's bytes.

use std::hint::black_box;
use std::time::Duration;

use std::collections::BTreeMap;

use bytes::Bytes;
use criterion::{BenchmarkGroup, Criterion, Throughput, measurement::WallTime};
use nodeipc::codec::json::{JsonDecoder, encode};
use nodeipc::codec::v8::{self, Frame};
use nodeipc::value::{from_value, to_value};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The `{i}` / `{i, s}` messages as a receiver types them (`s` is absent,
/// hence empty, for `tiny`).
#[derive(Debug, Deserialize)]
#[allow(dead_code)] // fields are only read by the parsers
struct Msg {
    i: u64,
    #[serde(default)]
    s: String,
}

/// The same message as a sender builds it, borrowing the payload.
#[derive(Serialize)]
struct MsgRef<'a> {
    i: u64,
    #[serde(skip_serializing_if = "str::is_empty")]
    s: &'a str,
}

/// Where message numbers start: a 6-digit `i`, as in the middle of a
/// 500 000-message run.
const I: u64 = 123_456;

fn line_of<T: Serialize + ?Sized>(msg: &T) -> Vec<u8> {
    let mut line = Vec::new();
    encode(msg, &mut line).unwrap();
    line.pop(); // the '\n'
    line
}

fn main() {
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();

    for (name, len) in [
        ("tiny", 0),
        ("1k", 1 << 10),
        ("64k", 1 << 16),
        ("1m", 1 << 20),
    ] {
        let s = "x".repeat(len);
        let msg = MsgRef { i: I, s: &s };
        let line = line_of(&msg);
        let mut g = c.benchmark_group(name);
        configure(&mut g, line.len());
        parsers::<Msg>(&mut g, &line);
        g.bench_function("encode", |b| {
            let mut out = Vec::with_capacity(line.len() + 1);
            b.iter(|| {
                out.clear();
                encode(black_box(&msg), &mut out).unwrap();
                black_box(&out);
            })
        });
        g.finish();
    }

    let seed = "x".repeat(1 << 20);
    let line = line_of(seed.as_str());
    let mut g = c.benchmark_group("seed");
    configure(&mut g, line.len());
    parsers::<String>(&mut g, &line);
    g.bench_function("encode", |b| {
        let mut out = Vec::with_capacity(line.len() + 1);
        b.iter(|| {
            out.clear();
            encode(black_box(seed.as_str()), &mut out).unwrap();
            black_box(&out);
        })
    });
    g.finish();

    tiny_batch(&mut c);
    advanced(&mut c);
    c.final_summary();
}

fn configure(g: &mut BenchmarkGroup<'_, WallTime>, line_len: usize) {
    g.throughput(Throughput::BytesDecimal(line_len as u64));
    if line_len > 1 << 19 {
        // ≈ 0.3–2 ms per iteration: fewer samples keep the group short.
        g.sample_size(20).measurement_time(Duration::from_secs(3));
    }
}

/// Every parser on one line, parsing into `T` where typed.
fn parsers<T: DeserializeOwned>(g: &mut BenchmarkGroup<'_, WallTime>, line: &[u8]) {
    // Check that every path accepts the line before timing anything.
    serde_json::from_slice::<T>(line).unwrap();
    simd_json::serde::from_slice::<T>(&mut line.to_vec()).unwrap();

    g.bench_function("serde_json/typed", |b| {
        b.iter(|| black_box(serde_json::from_slice::<T>(black_box(line)).unwrap()))
    });
    g.bench_function("serde_json/value", |b| {
        b.iter(|| black_box(serde_json::from_slice::<serde_json::Value>(black_box(line)).unwrap()))
    });
    g.bench_function("simd_json/typed+copy", |b| {
        b.iter(|| {
            let mut copy = black_box(line).to_vec();
            black_box(simd_json::serde::from_slice::<T>(&mut copy).unwrap())
        })
    });
    g.bench_function("simd_json/typed+copy,reuse", |b| {
        let mut copy = Vec::with_capacity(line.len());
        let mut buffers = simd_json::Buffers::new(line.len());
        b.iter(|| {
            copy.clear();
            copy.extend_from_slice(black_box(line));
            black_box(
                simd_json::serde::from_slice_with_buffers::<T>(&mut copy, &mut buffers).unwrap(),
            )
        })
    });
    // simd-json unescapes strings in place; a line without escapes (all
    // of ours) comes out of the parse byte for byte as it went in, so the
    // same buffer can be parsed again without a fresh copy.
    let mut reparse = line.to_vec();
    simd_json::serde::from_slice::<T>(&mut reparse).unwrap();
    if reparse == line {
        g.bench_function("simd_json/typed,nocopy", |b| {
            let mut buffers = simd_json::Buffers::new(line.len());
            b.iter(|| {
                black_box(
                    simd_json::serde::from_slice_with_buffers::<T>(&mut reparse, &mut buffers)
                        .unwrap(),
                )
            })
        });
    }
    g.bench_function("copy_only", |b| {
        // The copy the simd-json paths add, alone.
        let mut copy = Vec::with_capacity(line.len());
        b.iter(|| {
            copy.clear();
            copy.extend_from_slice(black_box(line));
            black_box(&copy);
        })
    });
    g.bench_function("simd_json/owned_value+copy", |b| {
        let mut copy = Vec::with_capacity(line.len());
        let mut buffers = simd_json::Buffers::new(line.len());
        b.iter(|| {
            copy.clear();
            copy.extend_from_slice(black_box(line));
            black_box(simd_json::to_owned_value_with_buffers(&mut copy, &mut buffers).unwrap())
        })
    });

    let mut framed = line.to_vec();
    framed.push(b'\n');
    g.bench_function("decoder/typed", |b| {
        let mut dec = JsonDecoder::new(Default::default());
        b.iter(|| {
            dec.extend(black_box(&framed));
            let frame = dec.decode().unwrap().unwrap();
            black_box(frame.parse::<T>().unwrap())
        })
    });
    g.bench_function("decoder/typed+is_internal", |b| {
        // What Receiver::recv does per message (message::from_frame).
        let mut dec = JsonDecoder::new(Default::default());
        b.iter(|| {
            dec.extend(black_box(&framed));
            let frame = dec.decode().unwrap().unwrap();
            assert!(!frame.is_internal());
            black_box(frame.parse::<T>().unwrap())
        })
    });
    g.bench_function("decoder/value", |b| {
        let mut dec = JsonDecoder::new(Default::default());
        b.iter(|| {
            dec.extend(black_box(&framed));
            let frame = dec.decode().unwrap().unwrap();
            black_box(frame.parse::<serde_json::Value>().unwrap())
        })
    });
}

/// 64 KiB of consecutive tiny lines decoded from one buffer fill.
fn tiny_batch(c: &mut Criterion) {
    let mut chunk = Vec::new();
    let mut n = 0u64;
    while chunk.len() < nodeipc::codec::json::READ_CHUNK - 32 {
        encode(&MsgRef { i: I + n, s: "" }, &mut chunk).unwrap();
        n += 1;
    }
    let mut g = c.benchmark_group("tiny-batch");
    g.throughput(Throughput::Elements(n));
    g.bench_function("decoder/typed", |b| {
        let mut dec = JsonDecoder::new(Default::default());
        b.iter(|| {
            dec.extend(black_box(&chunk));
            while let Some(frame) = dec.decode() {
                black_box(frame.unwrap().parse::<Msg>().unwrap());
            }
        })
    });
    g.bench_function("decoder/typed+is_internal", |b| {
        // What Receiver::recv does per frame (message::from_frame).
        let mut dec = JsonDecoder::new(Default::default());
        b.iter(|| {
            dec.extend(black_box(&chunk));
            while let Some(frame) = dec.decode() {
                let frame = frame.unwrap();
                assert!(!frame.is_internal());
                black_box(frame.parse::<Msg>().unwrap());
            }
        })
    });
    g.bench_function("serde_json/typed", |b| {
        b.iter(|| {
            for line in black_box(&chunk).split(|&b| b == b'\n') {
                if !line.is_empty() {
                    black_box(serde_json::from_slice::<Msg>(line).unwrap());
                }
            }
        })
    });
    g.finish();
}

/// `{i, b}`: a Buffer field.
#[derive(Serialize, Deserialize)]
struct BufMsg {
    i: u64,
    b: Bytes,
}

/// One element of `adv-64k-records`.
#[derive(Serialize, Deserialize)]
struct Record {
    id: u32,
    name: String,
    ok: bool,
}

/// The `advanced` groups: each message through both paths.
fn advanced(c: &mut Criterion) {
    let s = "x".repeat(1 << 20);
    adv_group::<MsgRef, Msg>(c, "adv-1m-string", &MsgRef { i: I, s: &s });
    let b = Bytes::from(vec![7u8; 1 << 20]);
    adv_group::<BufMsg, BufMsg>(c, "adv-1m-bytes", &BufMsg { i: I, b });
    let fields: BTreeMap<String, u32> = (0..4096).map(|n| (format!("field{n:04}"), n)).collect();
    adv_group::<_, BTreeMap<String, u32>>(c, "adv-64k-object", &fields);
    let records: Vec<Record> = (0..1024)
        .map(|id| Record {
            id,
            name: format!("record-{id:05}"),
            ok: id % 2 == 0,
        })
        .collect();
    adv_group::<_, Vec<Record>>(c, "adv-64k-records", &records);
}

/// Encodes `msg` (as `S`) and decodes it (as `D`), by either path.
fn adv_group<S: Serialize + ?Sized, D: DeserializeOwned>(c: &mut Criterion, name: &str, msg: &S) {
    let mut frame = Vec::new();
    v8::encode(&to_value(msg).unwrap(), &mut frame).unwrap();
    let mut direct = Vec::new();
    v8::encode_serialize(msg, &mut direct).unwrap();
    assert_eq!(direct, frame, "{name}: the direct bytes differ");

    let mut g = c.benchmark_group(name);
    configure(&mut g, frame.len());
    g.bench_function("encode/value", |b| {
        let mut out = Vec::with_capacity(frame.len());
        b.iter(|| {
            out.clear();
            v8::encode(&to_value(black_box(msg)).unwrap(), &mut out).unwrap();
            black_box(&out);
        })
    });
    g.bench_function("encode/direct", |b| {
        let mut out = Vec::with_capacity(frame.len());
        b.iter(|| {
            out.clear();
            v8::encode_serialize(black_box(msg), &mut out).unwrap();
            black_box(&out);
        })
    });
    let payload = Frame::new(&frame[4..], 0, Default::default());
    g.bench_function("decode/value", |b| {
        b.iter(|| black_box(from_value::<D>(black_box(payload).to_value().unwrap()).unwrap()))
    });
    g.bench_function("decode/direct", |b| {
        b.iter(|| black_box(black_box(payload).deserialize::<D>().unwrap()))
    });
    g.finish();
}
