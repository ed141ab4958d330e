'use strict';
// The Node child of tests/rust_parent.rs: `node child.js <mode> [args…]`,
// spawned by nodeipc::Command (channel at NODE_CHANNEL_FD). Plain Node IPC:
// process.send / process.on('message'), except where a mode writes raw
// bytes to the channel fd on purpose.

const fs = require('fs');
const { catalog, doubles, pattern } = require('./values.js');

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Writes all of `buf` to the (non-blocking) channel fd, waiting while the
// socket is full.
async function writeAll(fd, buf) {
  for (let off = 0; off < buf.length; ) {
    try {
      off += fs.writeSync(fd, buf, off);
    } catch (e) {
      if (e.code !== 'EAGAIN') throw e;
      await sleep(1);
    }
  }
}

const modes = {
  // Answers every message with the same message.
  echo() {
    process.on('message', (m) => process.send(m));
  },

  // Answers every message with JSON.stringify of what arrived: what Node
  // made of the bytes the Rust side wrote.
  stringify() {
    process.on('message', (m) => process.send(JSON.stringify(m)));
  },

  // For each entry of the catalog (`values catalog`) or of random doubles
  // (`values doubles`): {name, json, expect}, then the value twice (once
  // for RawValue, once for serde_json::Value), then {end: true}. The Rust
  // side sends each value back; on {done} we report which came back
  // different from `expect`.
  values(which) {
    const list = which === 'doubles' ? doubles() : catalog;
    const failures = [];
    let next = 0;
    process.on('message', (m) => {
      if (m !== null && typeof m === 'object' && m.done === true && next === list.length) {
        process.send({ checked: next, failures });
        return;
      }
      const entry = list[next++];
      if (entry === undefined) {
        failures.push({ name: '(extra message)', got: JSON.stringify(m) });
        return;
      }
      const [name, v, after] = entry;
      const want = JSON.stringify(after === undefined ? v : after);
      const got = JSON.stringify(m);
      if (got !== want) failures.push({ name, want, got });
    });
    for (const [name, v, after] of list) {
      const json = JSON.stringify(v);
      const expect = JSON.stringify(after === undefined ? v : after);
      process.send({ name, json, expect });
      process.send(v);
      process.send(v);
    }
    process.send({ end: true });
  },

  // Receives {i: 0}, {i: 1}, … then {done: true}; reports what it saw.
  countIn() {
    let received = 0;
    let firstBad = null;
    process.on('message', (m) => {
      if (m.done) {
        process.send({ received, firstBad });
        return;
      }
      if (m.i !== received && firstBad === null) firstBad = { expected: received, got: m };
      received++;
    });
  },

  // Sends {i: 0} … {i: n-1}, then ends (pending writes keep it alive).
  countOut(n) {
    for (let i = 0; i < Number(n); i++) process.send({ i });
  },

  // Counts messages; answers 'ping' with 'pong'; on 'disconnect' prints
  // the count and exits 0.
  disconnectReport() {
    let count = 0;
    process.on('message', (m) => {
      count++;
      if (m === 'ping') process.send('pong');
    });
    process.on('disconnect', () => {
      console.log(`disconnect after ${count} messages`);
      process.exit(0);
    });
  },

  // Sends 'bye', disconnects, and lives on for a while.
  async selfDisconnect() {
    process.send('bye');
    process.disconnect();
    await sleep(300);
  },

  // Sends one big message and returns normally: Node keeps the process
  // alive until the write is done (docs/protocol.md §5.2).
  sendAndReturn(n) {
    process.send({ big: pattern(Number(n)) });
  },

  // Starts sending a big message, says so on stdout, and waits to be killed.
  bigThenWait(n) {
    process.send({ big: pattern(Number(n)) });
    process.stdout.write('started\n');
    setInterval(() => {}, 1000);
  },

  // Writes half a message to the channel fd, then dies.
  partialKill() {
    fs.writeSync(process.channel.fd, '{"partial":');
    process.kill(process.pid, 'SIGKILL');
  },

  // Internal (NODE_*) and look-alike user messages.
  internal() {
    process.send({ cmd: 'NODE_FOO', x: 1 });
    process.send({ cmd: 'NODE_' });
    process.send({ cmd: 'node_x' });
    process.send({ cmd: 'NODE_BAR' });
    process.send({ n: 1 });
  },

  // n messages with pauses; every 25th carries ~200 KB so that it spans
  // several reads, and every 25th (offset 12) is written raw in three
  // pieces with pauses between them, cut inside a UTF-8 sequence: the Rust
  // side's recv futures are dropped while part of a message is buffered.
  async paced(n) {
    const fd = process.channel.fd;
    const sent = (m) => new Promise((resolve, reject) => process.send(m, (e) => (e ? reject(e) : resolve())));
    for (let i = 0; i < Number(n); i++) {
      if (i % 25 === 12) {
        const line = Buffer.from(JSON.stringify({ i, pad: '', s: '\u{1F600}' }) + '\n');
        const inEmoji = line.indexOf(Buffer.from('\u{1F600}')) + 2;
        const cuts = [0, 3, inEmoji, line.length];
        for (let k = 0; k < 3; k++) {
          await writeAll(fd, line.subarray(cuts[k], cuts[k + 1]));
          await sleep(3);
        }
      } else {
        // Waiting for each write keeps process.send's bytes and the raw
        // writes above from interleaving.
        await sent({ i, pad: i % 25 === 0 ? pattern(200000 + i) : '' });
      }
      if (i % 10 === 0) await sleep(2);
    }
  },

  // Writes each hex argument to the channel fd with one write(2), raw.
  raw(...hex) {
    for (const h of hex) fs.writeSync(process.channel.fd, Buffer.from(h, 'hex'));
  },

  // Reports where Node found the channel.
  channelInfo() {
    process.send({
      fd: process.channel.fd,
      // Node deletes both variables at startup (docs/protocol.md §1.2).
      envFd: process.env.NODE_CHANNEL_FD ?? null,
      envMode: process.env.NODE_CHANNEL_SERIALIZATION_MODE ?? null,
    });
  },
};

const [mode, ...args] = process.argv.slice(2);
if (!modes[mode]) {
  console.error(`child.js: unknown mode ${mode}`);
  process.exit(2);
}
modes[mode](...args);
