'use strict';
// The Node side of `nodeipc bench` (docs/benchmarks.md). Plain Node, no
// dependencies; `nodeipc bench` embeds this file and writes it to a
// temporary file. Two roles:
//
//   node node-bench.js peer      the child end of a cell: spawned by the Rust
//                                parent (Rust -> Node), or forked by `baseline`
//   node node-bench.js baseline  Node <-> Node: forks this file as the peer
//                                with Node's own fork(), drives one cell,
//                                prints one JSON line: {seconds, msgsPerSec,
//                                mbPerSec} or {seconds, meanUs, p50Us, p99Us}
//
// `nodeipc bench` defines the cells (crates/nodeipc-cli/src/bench/workload.rs)
// and passes one in the environment, which the peer inherits from `baseline`:
//
//   BENCH_MODE           throughput | roundtrip | seed
//   BENCH_DIRECTION      c2p | p2c: who sends (throughput)
//   BENCH_COUNT          data messages, or timed round trips
//   BENCH_FIELD          '' -> {i};  s -> {i, s} with s a string of BENCH_BYTES
//                        'x';  b -> {i, b} with b a Buffer of BENCH_BYTES 'x'
//                        (seed: bare strings of BENCH_BYTES 'x')
//   BENCH_BYTES          payload bytes of one message
//   BENCH_WARMUP         untimed round trips before the timed ones (baseline)
//   BENCH_SERIALIZATION  json | advanced (baseline; a peer follows its parent)
//
// The peer's protocol, the same as `nodeipc bench peer` (its Rust twin), so
// one parent driver serves both: the peer sends {ready: true}; then
//   throughput c2p, seed: the parent's first message starts the peer, which
//     sends BENCH_COUNT data messages and then {done: true, ms};
//   throughput p2c: the parent sends BENCH_COUNT data messages; after the last
//     one the peer sends {done: true, ms};
//   roundtrip: the peer sends back every message it gets.
// It stays until the parent disconnects, then exits 0.

const { fork } = require('node:child_process');

function fail(why) {
  console.error(`node-bench.js ${process.argv[2] ?? ''}: ${why}`);
  process.exit(2);
}

function cellFromEnv() {
  const env = process.env;
  const cell = {
    mode: env.BENCH_MODE,
    direction: env.BENCH_DIRECTION,
    count: Number(env.BENCH_COUNT),
    field: env.BENCH_FIELD ?? '',
    bytes: Number(env.BENCH_BYTES ?? 0),
    warmup: Number(env.BENCH_WARMUP ?? 0),
    serialization: env.BENCH_SERIALIZATION ?? 'json',
  };
  const valid = ['throughput', 'roundtrip', 'seed'].includes(cell.mode) &&
    ['c2p', 'p2c'].includes(cell.direction) && ['', 's', 'b'].includes(cell.field) &&
    Number.isSafeInteger(cell.count) && cell.count > 0 &&
    Number.isSafeInteger(cell.bytes) && cell.bytes >= 0 &&
    Number.isSafeInteger(cell.warmup) && cell.warmup >= 0;
  if (!valid) fail(`not a cell: ${JSON.stringify(cell)} (set by nodeipc bench)`);
  return cell;
}

// Data message number i of the cell; the payload is made once.
function messages(cell) {
  if (cell.mode === 'seed') {
    const s = 'x'.repeat(cell.bytes);
    return () => s;
  }
  if (cell.field === 's') {
    const s = 'x'.repeat(cell.bytes);
    return (i) => ({ i, s });
  }
  if (cell.field === 'b') {
    const b = Buffer.alloc(cell.bytes, 'x');
    return (i) => ({ i, b });
  }
  return (i) => ({ i });
}

// Whether m is data message i of the cell.
function isMessage(cell, m, i) {
  if (cell.mode === 'seed') return typeof m === 'string' && m.length === cell.bytes;
  if (m?.i !== i) return false;
  if (cell.field === 's') return m.s?.length === cell.bytes;
  if (cell.field === 'b') return m.b?.length === cell.bytes;
  return true;
}

// Sends `count` messages through `send` (process.send or child.send) as fast
// as the channel takes them: send() returns false once Node's queue for the
// channel is full, and then the next message waits until the callback of
// that one has run. Calls `then` after the last send.
function sendAll(send, count, make, then) {
  let next = 0;
  let written = 0;
  let waitFor = 0;
  const onWritten = (err) => {
    if (err) fail(`send: ${err.message}`);
    written += 1;
    if (written === waitFor) go();
  };
  const go = () => {
    while (next < count) {
      next += 1;
      if (!send(make(next - 1), onWritten)) {
        waitFor = next;
        return;
      }
    }
    then();
  };
  go();
}

function peer() {
  if (!process.send) fail('no IPC channel: start me with an IPC channel (fork, or NODE_CHANNEL_FD)');
  const cell = cellFromEnv();
  const send = process.send.bind(process);
  const done = (t0) => send({ done: true, ms: performance.now() - t0 });
  if (cell.mode === 'roundtrip') {
    process.on('message', (m) => send(m));
  } else if (cell.mode === 'throughput' && cell.direction === 'p2c') {
    let received = 0;
    let t0;
    process.on('message', (m) => {
      if (received === 0) t0 = performance.now();
      if (!isMessage(cell, m, received)) fail(`message ${received} is not the expected one`);
      received += 1;
      if (received === cell.count) done(t0);
    });
  } else {
    process.once('message', () => {
      const t0 = performance.now();
      sendAll(send, cell.count, messages(cell), () => done(t0));
    });
    // A 'message' listener keeps the channel, and so this process, alive
    // until the parent disconnects.
    process.on('message', () => {});
  }
  send({ ready: true });
}

function baseline() {
  const cell = cellFromEnv();
  const child = fork(__filename, ['peer'], { serialization: cell.serialization });
  child.on('error', (err) => fail(`fork: ${err.message}`));
  const finish = (result) => {
    child.removeAllListeners('message');
    child.on('exit', (code, signal) => {
      if (code !== 0) fail(`the peer exited with ${code ?? signal}`);
      console.log(JSON.stringify(result));
    });
    child.disconnect();
  };
  child.once('message', (ready) => {
    if (ready?.ready !== true) fail(`expected {ready: true}, got ${JSON.stringify(ready)}`);
    if (cell.mode === 'roundtrip') roundTrips(child, cell, finish);
    else throughput(child, cell, finish);
  });
}

// c2p and seed: from sending {go: true} to the count-th message.
// p2c: from the first send to the peer's {done}.
function throughput(child, cell, finish) {
  const make = messages(cell);
  let received = 0;
  let seconds;
  const t0 = performance.now();
  child.on('message', (m) => {
    if (m?.done === true) {
      if (cell.direction === 'p2c') seconds = (performance.now() - t0) / 1e3;
      else if (received !== cell.count) fail(`{done} after ${received} of ${cell.count} messages`);
      const msgsPerSec = cell.count / seconds;
      finish({ seconds, msgsPerSec, mbPerSec: (msgsPerSec * cell.bytes) / 1e6 });
      return;
    }
    if (!isMessage(cell, m, received)) fail(`message ${received} is not the expected one`);
    received += 1;
    if (received === cell.count) seconds = (performance.now() - t0) / 1e3;
  });
  if (cell.direction === 'p2c' && cell.mode === 'throughput') {
    sendAll(child.send.bind(child), cell.count, make, () => {});
  } else {
    child.send({ go: true });
  }
}

// `warmup` untimed round trips, then `count` timed ones; quantile p is the
// ceil(p * n)-th smallest latency.
function roundTrips(child, cell, finish) {
  const make = messages(cell);
  const total = cell.warmup + cell.count;
  const us = new Float64Array(cell.count);
  let k = 0;
  let t;
  const ping = () => {
    t = performance.now();
    child.send(make(k));
  };
  child.on('message', (m) => {
    const dt = (performance.now() - t) * 1e3;
    if (!isMessage(cell, m, k)) fail(`echo ${k} is not the message sent`);
    if (k >= cell.warmup) us[k - cell.warmup] = dt;
    k += 1;
    if (k < total) return ping();
    us.sort();
    const sum = us.reduce((a, b) => a + b, 0);
    const q = (p) => us[Math.max(0, Math.ceil(p * cell.count) - 1)];
    finish({ seconds: sum / 1e6, meanUs: sum / cell.count, p50Us: q(0.5), p99Us: q(0.99) });
  });
  ping();
}

switch (process.argv[2]) {
  case 'peer':
    peer();
    break;
  case 'baseline':
    baseline();
    break;
  default:
    fail('usage: node node-bench.js peer|baseline (the cell in BENCH_* variables)');
}
