'use strict';
// The Node parent of tests/node_parent.rs: `node parent.js <case> <bin>`.
//
// <bin> is the node_parent test binary; started with NODEIPC_TEST_ROLE set
// it acts as a Rust child (see `role` in node_parent.rs). <case> is
// `<what>:<how>:<variant>`, `how` being `fork`, `spawn` ('ipc' at fd 3) or
// `spawn-fd5` ('ipc' at fd 5). Prints `ok` and exits 0 when the case
// passed; otherwise prints what went wrong and exits 1.

const { fork, spawn } = require('child_process');
const assert = require('assert/strict');
const { isDeepStrictEqual, inspect } = require('node:util');
const { catalog, doubles, pattern } = require('./values.js');
const { currentKinds, echoDiff } = require('./current_kinds.js');

const [caseName, bin] = process.argv.slice(2);
const [what, how, variant] = caseName.split(':');

// A Rust child that ends cleanly on `Ok(None)` from recv exits with this.
const EXIT_ON_EOF = 10;
const CASE_TIMEOUT_MS = 20_000; // node_parent.rs kills the group at 30 s

let current = null; // the child, killed if the case times out

function start(role, { serialization, env = {} } = {}) {
  const options = { env: { ...process.env, NODEIPC_TEST_ROLE: role, ...env } };
  if (serialization) options.serialization = serialization;
  let child;
  if (how === 'fork') {
    child = fork(bin, [], { ...options, execPath: bin, execArgv: [] });
  } else if (how === 'spawn') {
    child = spawn(bin, [], { ...options, stdio: ['inherit', 'inherit', 'inherit', 'ipc'] });
  } else if (how === 'spawn-fd5') {
    child = spawn(bin, [], {
      ...options,
      stdio: ['inherit', 'inherit', 'inherit', 'ignore', 'ignore', 'ipc'],
    });
  } else {
    throw new Error(`unknown way to start a child: ${how}`);
  }
  current = child;
  const events = [];
  const exit = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      events.push('exit');
      resolve({ code, signal });
    });
  });
  const disconnected = new Promise((resolve) => {
    child.on('disconnect', () => {
      events.push('disconnect');
      resolve();
    });
  });
  // Messages in arrival order; next() waits for one.
  const queue = [];
  const waiting = [];
  let ended = null;
  child.on('message', (m) => {
    events.push('message');
    if (waiting.length) waiting.shift().resolve(m);
    else queue.push(m);
  });
  const end = (why) => {
    ended = why;
    while (waiting.length) waiting.shift().reject(new Error(`no message: ${why}`));
  };
  child.on('disconnect', () => end('the child disconnected'));
  child.on('exit', (code, signal) => end(`the child exited (${code ?? signal})`));
  child.on('error', (e) => end(`child error: ${e.message}`));
  const next = () => {
    if (queue.length) return Promise.resolve(queue.shift());
    if (ended) return Promise.reject(new Error(`no message: ${ended}`));
    return new Promise((resolve, reject) => waiting.push({ resolve, reject }));
  };
  return { child, next, exit, disconnected, events };
}

async function expectExit(c, code) {
  const got = await c.exit;
  assert.deepEqual(got, { code, signal: null }, `child exit`);
}

// The strings of `messages_from_0_bytes_to_8_mib`: lines (with quotes and
// \n) of 65535, 65536, 65537 bytes around libuv's read size, and text with
// multi-byte characters and escapes.
function sizedMessages() {
  // Same string as in rust_parent.rs: the number is the UTF-8 length so far.
  const parts = [];
  for (let bytes = 0; bytes < 1 << 20; ) {
    const part = `é€\u{1F600}\u2028"\\\n\t${bytes}`;
    parts.push(part);
    bytes += Buffer.byteLength(part);
  }
  const multibyte = parts.join('');
  return ['', 'x', pattern(65532), pattern(65533), pattern(65534), pattern(1 << 20), multibyte, pattern(8 << 20)];
}

async function reflectAll(list) {
  const c = start(`reflect-${variant}`);
  const failures = [];
  for (const [name, v, after] of list) {
    c.child.send(v);
    c.child.send(v);
    const r = await c.next();
    const nodeJson = JSON.stringify(v);
    const expect = JSON.stringify(after === undefined ? v : after);
    for (const e of r.errors) failures.push(`${name}: ${e}`);
    if (r.raw !== nodeJson) failures.push(`${name}: Rust's RawValue is ${JSON.stringify(r.raw)}, Node wrote ${nodeJson}`);
    if (JSON.stringify(r.value) !== expect) {
      failures.push(`${name}: the value Rust sent back is ${JSON.stringify(r.value)}, expected ${expect}`);
    }
    if (r.encoded !== expect) failures.push(`${name}: nodeipc encodes it as ${r.encoded}, JSON.stringify as ${expect}`);
  }
  c.child.disconnect();
  await expectExit(c, EXIT_ON_EOF);
  if (failures.length) {
    throw new Error(`${failures.length} checks failed (first 25 shown):\n${failures.slice(0, 25).join('\n')}`);
  }
}

// 100 000 messages each way, in order, with `serialization`.
async function manyEachWay(serialization) {
  const n = 100_000;
  const c = start(`count-${variant}`, { serialization });
  for (let i = 0; i < n; i++) c.child.send({ i });
  c.child.send({ done: true });
  assert.deepEqual(await c.next(), { received: n, inOrder: true });
  c.child.send({ send: n });
  for (let i = 0; i < n; i++) {
    const m = await c.next();
    if (m.i !== i) assert.fail(`message ${i} from Rust: ${JSON.stringify(m)}`);
  }
  c.child.disconnect();
  await expectExit(c, EXIT_ON_EOF);
}

// A value of every kind the `advanced` serialization carries.
function advancedKinds() {
  const ab = new ArrayBuffer(16);
  new Uint8Array(ab).set([...Array(16).keys()]);
  const sparse = [1, , 3];
  sparse[10] = 'ten';
  sparse.p = 'prop';
  const circ = { name: 'c' };
  circ.self = circ;
  const shared = { k: 1 };
  return [
    ['primitives', {
      u: undefined, n: null, t: true, f: false, z: -0, nan: NaN, inf: -Infinity,
      i31: 2 ** 31, i53: 2 ** 53 + 2, s: 'héllo 😀 \u2028', lone: '\ud800', latin1: 'ÿé', empty: '',
    }],
    ['bigint', { a: 2n ** 64n, b: -(2n ** 70n), z: 0n }],
    ['buffer', Buffer.from([0, 1, 255])],
    ['typed arrays', [
      new Int8Array([-1]), new Uint8Array([1]), new Uint8ClampedArray([2]), new Int16Array([-3]),
      new Uint16Array([4]), new Int32Array([-5]), new Uint32Array([6]), new Float32Array([0.5]),
      new Float64Array([-0.25]), new BigInt64Array([-7n]), new BigUint64Array([8n]),
    ]],
    ['views into one ArrayBuffer', [new Uint8Array(ab, 3, 4), new Int16Array(ab, 2, 3), new DataView(ab, 1, 5), ab]],
    ['Map and Set', new Map([[1, 'a'], [{ k: 1 }, new Set([1, 'x'])]])],
    ['Date and RegExp', [new Date(5), /a+b/gimsuy]],
    ['boxed primitives', [new Number(-0), new String('s'), new Boolean(false), Object(1n)]],
    ['errors', [new RangeError('bad', { cause: { why: [1] } }), new Error('plain'), new TypeError('t')]],
    ['sparse array with a property', sparse],
    ['shared and circular objects', { a: shared, b: shared, circ }],
    ['empty containers', [{}, [], new Map(), new Set()]],
  ];
}

const cases = {
  // Each catalog value, sent twice: the Rust child parses the first into
  // RawValue, the second into serde_json::Value, and answers with the raw
  // text, the value, and nodeipc's encoding of the value.
  async values() {
    await reflectAll(catalog);
  },

  // The same for random doubles over the whole exponent range.
  async doubles() {
    await reflectAll(doubles());
  },

  // Strings from 0 bytes to 8 MiB, echoed.
  async sizes() {
    const c = start(`echo-${variant}`);
    for (const m of sizedMessages()) {
      c.child.send(m);
      const back = await c.next();
      assert.ok(back === m, `a ${Buffer.byteLength(m)}-byte message came back changed`);
    }
    c.child.disconnect();
    await expectExit(c, EXIT_ON_EOF);
  },

  // 100 000 messages each way, in order.
  async many() {
    await manyEachWay();
  },

  // The same over serialization 'advanced'.
  async advancedMany() {
    await manyEachWay('advanced');
  },

  // serialization 'advanced': every kind of JS value, echoed by the Rust
  // child as a nodeipc::Value, comes back deep-equal.
  async advancedKinds() {
    const c = start(`echo-value-${variant}`, { serialization: 'advanced' });
    for (const [name, v] of advancedKinds()) {
      c.child.send(v);
      const back = await c.next();
      assert.ok(isDeepStrictEqual(back, v), `${name}: sent ${inspect(v)}, got ${inspect(back)}`);
    }
    // What changed between Node 20 and 26, with the checks
    // isDeepStrictEqual does not make (Error fields, exact bits).
    for (const kind of currentKinds()) {
      c.child.send(kind[1]);
      const why = echoDiff(kind, await c.next());
      assert.ok(why === null, `${kind[0]}: ${why}`);
    }
    // isDeepStrictEqual finds an invalid Date unequal to itself.
    c.child.send(new Date(NaN));
    const invalid = await c.next();
    assert.ok(invalid instanceof Date && Number.isNaN(invalid.getTime()), inspect(invalid));
    c.child.disconnect();
    await expectExit(c, EXIT_ON_EOF);
  },

  // serialization 'advanced': strings and Buffers from 0 bytes to 8 MiB.
  async advancedSizes() {
    const c = start(`echo-value-${variant}`, { serialization: 'advanced' });
    const buffers = [0, 1, 65535, 65536, 1 << 20, 8 << 20].map((n) =>
      Buffer.from(pattern(n), 'latin1'),
    );
    for (const m of [...sizedMessages(), ...buffers]) {
      c.child.send(m);
      const back = await c.next();
      assert.ok(isDeepStrictEqual(back, m), `a ${m.length}-long ${typeof m} came back changed`);
    }
    c.child.disconnect();
    await expectExit(c, EXIT_ON_EOF);
  },

  // child.disconnect(): the Rust child's recv gives Ok(None).
  async parentDisconnect() {
    const c = start(`until-eof-${variant}`);
    assert.equal(await c.next(), 'ready');
    c.child.send('x');
    c.child.disconnect();
    await expectExit(c, EXIT_ON_EOF);
  },

  // The Rust child drops (or disconnects) its channel and lives on for
  // 500 ms: Node sees 'disconnect' while it still runs.
  async childDrop() {
    const c = start(`drop-${variant}`);
    assert.equal(await c.next(), 'hello');
    await c.disconnected;
    assert.deepEqual(c.events, ['message', 'disconnect'], 'disconnect came before exit');
    await expectExit(c, 0);
  },

  // The Rust child sends 20 MB and calls std::process::exit(0) at once.
  async sendExit() {
    await sendExitWith(undefined);
  },

  // The same over serialization: 'advanced'.
  async sendExitAdvanced() {
    await sendExitWith('advanced');
  },
};

// A Rust child sends one 20 MB message and calls std::process::exit at
// once: all of it must arrive.
async function sendExitWith(serialization) {
  const n = 20_000_000;
  const c = start(`send-exit-${variant}`, { serialization, env: { NODEIPC_TEST_SIZE: String(n) } });
  const m = await c.next();
  assert.equal(typeof m.big, 'string', 'a {big} message');
  assert.equal(m.big.length, n, 'the whole message arrived');
  assert.ok(m.big === pattern(n), 'the message arrived changed');
  await expectExit(c, 0);
}

Object.assign(cases, {
  // NODE_* messages reach recv_message as internal and are skipped by recv.
  async internal() {
    const c = start(`internal-${variant}`);
    for (const last of [{ n: 1 }, { n: 2 }]) {
      for (const m of [{ cmd: 'NODE_FOO', x: 1 }, { cmd: 'NODE_' }, { cmd: 'node_x' }, last]) c.child.send(m);
    }
    assert.deepEqual(await c.next(), {
      viaRecvMessage: [
        { internal: 'NODE_FOO', msg: { cmd: 'NODE_FOO', x: 1 } },
        { user: { cmd: 'NODE_' } },
        { user: { cmd: 'node_x' } },
        { user: { n: 1 } },
      ],
      viaRecv: [{ cmd: 'NODE_' }, { cmd: 'node_x' }, { n: 2 }],
    });
    c.child.disconnect();
    await expectExit(c, EXIT_ON_EOF);
  },

  // A Rust child with max_message_len = 1 MiB (lines of 1 MiB + 2, 1 MiB
  // + 1 and 1 MiB bytes without the \n, then a small one).
  async limited() {
    const c = start(`limited-${variant}`);
    const mib = 1 << 20;
    c.child.send(pattern(mib));
    c.child.send(pattern(mib - 1));
    c.child.send(pattern(mib - 2));
    c.child.send('small');
    assert.deepEqual(await c.next(), [
      { tooLarge: { atLeast: true, limit: mib } },
      { tooLarge: { atLeast: true, limit: mib } },
      { ok: mib - 2 },
    ]);
    // (the 'small' one is read by the role's drain loop)
    c.child.disconnect();
    await expectExit(c, EXIT_ON_EOF);
  },

  // A program started by the Rust child does not inherit the channel.
  async grandchild() {
    const c = start(`grandchild-${variant}`);
    const { channel, ls } = await c.next();
    assert.match(channel, /^socket:\[\d+\]$/);
    assert.ok(ls.includes(' -> /proc/'), `no fd listing: ${ls}`);
    assert.ok(!ls.includes(channel), `the channel ${channel} leaked into the grandchild:\n${ls}`);
    c.child.disconnect();
    await expectExit(c, EXIT_ON_EOF);
  },

  // from_env adopts once; a second call is an error, the first channel works.
  async adoptTwice() {
    const c = start('adopt-twice');
    assert.deepEqual(await c.next(), { errors: [] });
    c.child.disconnect();
    await expectExit(c, EXIT_ON_EOF);
  },

  // A Node parent with serialization: 'advanced': from_env speaks it.
  async advanced() {
    const c = start(`echo-${variant}`, { serialization: 'advanced' });
    c.child.send('héllo 😀 \u2028');
    assert.deepEqual(await c.next(), 'héllo 😀 \u2028');
    c.child.disconnect();
    await expectExit(c, EXIT_ON_EOF);
  },
});

const timer = setTimeout(() => {
  console.log(`parent.js: case ${caseName} timed out after ${CASE_TIMEOUT_MS} ms`);
  if (current) current.kill('SIGKILL');
  process.exit(1);
}, CASE_TIMEOUT_MS);
timer.unref();

if (!cases[what]) {
  console.log(`parent.js: unknown case ${caseName}`);
  process.exit(2);
}
cases[what]().then(
  () => {
    console.log('ok');
    process.exit(0);
  },
  (e) => {
    console.log(`FAILED ${caseName}: ${e && e.stack ? e.stack : e}`);
    if (current) current.kill('SIGKILL');
    process.exit(1);
  },
);
