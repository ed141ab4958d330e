'use strict';
// The `advanced` corpus: the exact bytes Node writes over a real IPC channel
// for many values (docs/protocol.md §3), for tests/v8_corpus.rs.
//
//   node v8_corpus.js            prints [{label, hex, reencode}] as JSON
//   node v8_corpus.js child      (internal) sends every value on fd 3
//
// The parent spawns itself as a child whose fd 3 is a plain socket pair
// slot ('pipe') named by NODE_CHANNEL_FD, so the child's process.send()
// writes real IPC frames that the parent reads raw. It also serializes
// every value itself with a v8.DefaultSerializer subclass that mirrors
// Node's ChildProcessSerializer (lib/internal/child_process/serialization.js)
// and fails if any frame differs from the captured one: the captured bytes
// are what the corpus holds, the check shows the subclass is faithful.
//
// Values must be built deterministically (the child and the parent each
// build their own); Error stacks are set explicitly for that reason.

const { spawn } = require('child_process');
const v8 = require('v8');

class IpcSerializer extends v8.DefaultSerializer {
  _writeHostObject(object) {
    if (ArrayBuffer.isView(object)) {
      this.writeUint32(0);
      return super._writeHostObject(object);
    }
    this.writeUint32(1);
    this.writeValue({ ...object });
  }
}

function ipcFrame(value) {
  const ser = new IpcSerializer();
  ser.writeRawBytes(Buffer.alloc(4));
  ser.writeHeader();
  ser.writeValue(value);
  const frame = ser.releaseBuffer();
  frame.writeUInt32BE(frame.length - 4, 0);
  return frame;
}

function withStack(err, stack) {
  err.stack = stack;
  return err;
}

function nested(depth, wrap) {
  let v = [];
  for (let i = 0; i < depth; i++) v = wrap(v);
  return v;
}

// [label, value, options]: `natural` (the bytes differ between processes,
// skip the subclass check), `reencode: false` (our writer writes Node's
// *reading* of it instead: kind-1 host objects become plain objects).
// V8 before 12 (Node 20) writes an Error's cause before its stack; V8 12+
// (Node 22+) writes the stack first and refuses the other order. Our writer
// writes the newer order, so under Node 20 an Error with both is not
// written back byte for byte (`reencode: false`: the value must survive).
// docs/node-versions.md lists this difference.
const V8_MAJOR = Number(process.versions.v8.split('.')[0]);
const causeAndStack = V8_MAJOR < 12 ? { reencode: false } : {};
const HAS_FLOAT16 = typeof Float16Array === 'function';

function values() {
  const out = [];
  const add = (label, value, opts = {}) => out.push([label, value, opts]);

  // Numbers: Smis are written `I`, everything else `N`.
  for (const n of [0, 1, -1, 42, 2 ** 30, 2 ** 31 - 1, -(2 ** 31), 2 ** 31, -(2 ** 31) - 1,
    2 ** 32, 2 ** 53, 2 ** 53 + 1, -(2 ** 53), 1.5, 0.1, -1e-7, 1e21, 1e300, -0, NaN,
    Infinity, -Infinity, Number.MIN_VALUE, Number.MAX_VALUE, Number.EPSILON]) {
    add(`number ${Object.is(n, -0) ? '-0' : n}`, n);
  }
  const nanPayload = new Float64Array(new Uint32Array([1, 0x7ff00000]).buffer)[0];
  add('signalling NaN with a payload', nanPayload);
  add('negative NaN in an object field', { x: new Float64Array(new Uint32Array([5, 0xfff80000]).buffer)[0] });
  add('[1.5, 2] (double elements: 2 as N)', [1.5, 2]);
  add('[-0, 0] (double elements)', [-0, 0]);
  add('JSON.parse double field: [{x:1.5},{x:2}]', JSON.parse('[{"x":1.5},{"x":2}]'));
  add('field that held a fraction: o.x = 2', (() => { const o = { x: 1.5 }; o.x = 2; return o; })());

  // Oddballs and BigInts (top-level undefined and BigInt cannot be sent).
  add('null', null);
  add('true', true);
  add('false', false);
  add('[undefined]', [undefined]);
  for (const b of [0n, 1n, -1n, 123n, 2n ** 63n, -(2n ** 63n), 2n ** 64n - 1n, 2n ** 64n,
    -(2n ** 64n), 2n ** 1000n, -(3n ** 200n)]) {
    add(`[${b}n]`, [b]);
  }

  // Strings: one-byte (Latin-1) vs two-byte, padding, lone surrogates.
  for (const [label, s] of [
    ['empty string', ''], ['ascii', 'hello world'], ['latin-1', 'héllo ÿ'],
    ['non-latin-1', 'h€llo'], ['U+0100', '\u0100'], ['astral', '\u{1F600}'],
    ['lone high surrogate', '\ud800'], ['lone low surrogate then x', '\udc00x'],
    ['surrogate in the middle', 'a\ud800b'], ['reversed pair', '\ude00\ud83d'],
    ['controls', '\0\n\t\x7f'], ['ascii held two-byte', ('€abc').slice(1)],
    ['long ascii held two-byte', ('€' + 'abcdefghijklmnopqrstuvwxyz'.repeat(4)).slice(1)],
    ['huge one-byte string (1 MB)', 'x'.repeat(1 << 20)],
    ['huge two-byte string', '€'.repeat(300000)],
    ['latin-1 x 1000', 'é'.repeat(1000)],
  ]) {
    add(`string: ${label}`, s);
  }
  add('strings in an array, padded', ['x', '€', 'ab', '€€', 'abc', '\ud800']);
  add('two-byte strings at every offset', Array.from({ length: 6 }, (_, i) => 'a'.repeat(i) + '€'));

  // Objects and keys.
  add('{}', {});
  add('{a:1,b:"x"}', { a: 1, b: 'x' });
  add('{outer:{inner:[null]}}', { outer: { inner: [null] } });
  add('integer keys first', { b: 1, 2: 'two', a: 2, 0: 'zero' });
  add('large index keys', { 3000000000: 1, 4294967294: 2, 4294967295: 3, b: 4 });
  add('keys that are not indices', { '-1': 1, '01': 2, '1.5': 3, '': 4, '€': 5, '\ud800': 6 });
  add('own __proto__ key', JSON.parse('{"__proto__": 1, "a": 2}'));
  add('class instance', new (class P { constructor() { this.q = 1; this.r = [2]; } })());
  add('symbols and non-enumerables skipped',
    Object.defineProperty({ [Symbol('s')]: 1, v: 2 }, 'hidden', { value: 3, enumerable: false }));
  add('getter is read', { get g() { return 'got'; } });
  add('2000 properties', Object.fromEntries(Array.from({ length: 2000 }, (_, i) => [`k${i}`, i])));
  add('{cmd:"NODE_HANDLE_ACK"}', { cmd: 'NODE_HANDLE_ACK' });

  // Arrays: dense, holey, sparse, extra properties.
  add('[]', []);
  add('[1,"two",true]', [1, 'two', true]);
  add('mixed', [1, 'a', null, undefined, true, {}, [], 1.5]);
  add('[1,,3]', [1, , 3]); // eslint-disable-line no-sparse-arrays
  add('sparse, length 5', (() => { const a = [1, , 3]; a.length = 5; return a; })()); // eslint-disable-line no-sparse-arrays
  add('new Array(5)', new Array(5));
  add('holey kind without holes', new Array(3).fill(0));
  add('array with extra property', Object.assign([1, 2], { p: 3 }));
  add('sparse array with extra properties', Object.assign([, 1], { p: 'x', q: [2] })); // eslint-disable-line no-sparse-arrays
  add('a[100] = 1', (() => { const a = []; a[100] = 1; return a; })());
  add('largest index', (() => { const a = []; a[4294967294] = 'last'; return a; })());
  add('array of 100000 small ints', Array.from({ length: 100000 }, (_, i) => i % 1000));
  add('500 nested arrays', nested(500, (v) => [v]));
  add('500 nested objects', nested(500, (v) => ({ v })));

  // Map, Set, Date, RegExp, boxed primitives.
  add('new Map()', new Map());
  add('Map', new Map([['k', 1], [{ o: 1 }, [2]], [NaN, 'nan'], [-0, 'zero'], [2n, 'big']]));
  add('new Set()', new Set());
  add('Set', new Set([1, 'a', {}, [], NaN]));
  for (const ms of [0, -1, 1e12 + 0.5, 8.64e15, -8.64e15, NaN]) add(`new Date(${ms})`, new Date(ms));
  for (const re of [/ab+c/gi, /a/dgimsuy, /a/v, /x/dsy, /[\p{L}--[a-z]]/v, new RegExp('/'), /€/u,
    new RegExp('\ud800'), /[\]\\]/]) {
    add(`regexp ${re}`, re);
  }
  add('boxed primitives', [new String('s'), new String('€'), new Number(2), new Number(-0),
    new Number(NaN), new Boolean(true), new Boolean(false), Object(1n), Object(-(2n ** 70n))]);

  // ArrayBuffer, Buffer, typed arrays, DataView.
  add('empty ArrayBuffer', new ArrayBuffer(0));
  add('ArrayBuffer [07]', new Uint8Array([7]).buffer);
  add('resizable ArrayBuffer', (() => {
    const ab = new ArrayBuffer(4, { maxByteLength: 16 });
    new Uint8Array(ab).set([1, 2, 3, 4]);
    return ab;
  })());
  add('Buffer.alloc(0)', Buffer.alloc(0));
  add('Buffer.from([1,2,3])', Buffer.from([1, 2, 3]));
  add('Buffer subarray', Buffer.from('hello world').subarray(6));
  add('1 MiB Buffer', Buffer.alloc(1 << 20, 0xab));
  const bytes = Uint8Array.from({ length: 24 }, (_, i) => i * 11);
  for (const T of [Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array,
    Uint32Array, Float32Array, Float64Array, BigInt64Array, BigUint64Array, DataView,
    ...(HAS_FLOAT16 ? [Float16Array] : [])]) {
    add(`${T.name} over 24 bytes`, new T(bytes.slice().buffer));
    add(`empty ${T.name}`, new T(new ArrayBuffer(0)));
  }
  add('Float64Array edge values', new Float64Array([-0, NaN, Infinity, 1e-310, nanPayload]));
  if (HAS_FLOAT16) {
    add('Float16Array edge values', new Float16Array([NaN, -0, 0, 65504, -65504, 2 ** -24, Infinity, 1 / 3]));
    add('Float16Array NaN payloads', new Float16Array(new Uint16Array([0x7e01, 0xfc01, 0x7c01]).buffer));
  }
  add('view of a resizable ArrayBuffer', (() => {
    const ab = new ArrayBuffer(4, { maxByteLength: 16 });
    new Uint8Array(ab).set([1, 2, 3, 4]);
    return [new Uint8Array(ab), new Int16Array(ab, 2), new DataView(ab, 1)];
  })());
  add('Uint8Array subclass', new (class MyBytes extends Uint8Array {})([9, 8]));
  add('views into one ArrayBuffer', (() => {
    const ab = new ArrayBuffer(16);
    new Uint8Array(ab).forEach((_, i, a) => { a[i] = i; });
    return {
      whole: new Uint8Array(ab), mid: new Uint16Array(ab, 2, 3), tail: new Float32Array(ab, 8, 2),
      dv: new DataView(ab, 1, 5), ab,
    };
  })());

  // Errors.
  add('new Error("e")', withStack(new Error('e'), 'Error: e\n    at fixed'));
  for (const E of [EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError]) {
    add(`new ${E.name}`, withStack(new E('m'), `${E.name}: m`));
  }
  add('error without message', withStack(new Error(), 'Error'));
  add('error with object cause', withStack(new Error('e', { cause: { why: [1] } }), 'S'), causeAndStack);
  add('error with undefined cause', withStack(new Error('e', { cause: undefined }), 'S'), causeAndStack);
  add('error with string cause', withStack(new TypeError('t', { cause: 'why' }), 'T'), causeAndStack);
  add('error with error cause', withStack(new RangeError('r', { cause: withStack(new Error('in'), 'I') }), 'R'),
    causeAndStack);
  add('error that is its own cause', (() => { const e = withStack(new Error('x'), 'S'); e.cause = e; return e; })(),
    causeAndStack);
  add('error whose cause holds it', (() => { const e = withStack(new Error('x'), 'S'); e.cause = { e }; return e; })(),
    causeAndStack);
  add('error cause without a stack', (() => { const e = new SyntaxError('s', { cause: 1 }); delete e.stack; return e; })());
  for (const E of [Error, EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError]) {
    add(`${E.name} without a stack`, (() => { const e = new E('m'); delete e.stack; return e; })());
  }
  add('AggregateError arrives as Error', withStack(new AggregateError([1], 'agg'), 'S'));
  add('error with non-string stack', Object.assign(new Error('x'), { stack: 5 }));
  add('error extra properties dropped', Object.assign(withStack(new Error('x'), 's'), { code: 'E_X' }));
  add('subclass arrives as Error', withStack(new (class MyErr extends Error {})('m'), 's'));
  add('name picks the prototype', Object.assign(withStack(new Error('x'), 's'), { name: 'TypeError' }));
  add('message with €', withStack(new Error('€ failed'), 'Error: € failed'));
  add('error with a natural stack', new Error('natural'), { natural: true });

  // Identity: repeated and circular objects.
  const shared = { k: 1 };
  add('{x: shared, y: shared}', { x: shared, y: shared });
  add('[s, s, s]', [shared, shared, shared]);
  add('circ.self = circ', (() => { const c = { name: 'c' }; c.self = c; return c; })());
  add('a.b.c = a', (() => { const a = { b: {} }; a.b.c = a; return a; })());
  add('array containing itself', (() => { const a = [1]; a.push(a); return a; })());
  add('Map containing itself', (() => { const m = new Map(); m.set(m, m); return m; })());
  add('Set containing itself', (() => { const s = new Set(); s.add(s); return s; })());
  add('error cause pointing at its holder', (() => { const o = {}; o.e = withStack(new Error('x', { cause: o }), 's'); return o; })(),
    causeAndStack);
  add('repeated Buffer', (() => { const b = Buffer.from([9]); return { a: b, b }; })());
  add('repeated Date, RegExp, Map', (() => { const d = new Date(5); const r = /x/; const m = new Map(); return [d, r, m, d, r, m]; })());
  add('shared at different depths', (() => { const s = [1]; return { a: s, b: { c: s, d: [s] } }; })());
  add('diamond, 20 levels', (() => { let v = [0]; for (let i = 0; i < 20; i++) v = [v, v]; return v; })());
  add('cycle then repeat', (() => { const c = { n: 1 }; c.me = c; return [c, c, { again: c }]; })());

  // A host object that is not a view (kind 1): Node sends a plain copy.
  add('MessagePort (kind 1 host object)', (() => {
    const { port1, port2 } = new MessageChannel();
    port1.unref(); port2.unref();
    return [port1];
  })(), { reencode: false });
  return out;
}

if (process.argv[2] === 'child') {
  const all = values();
  all.forEach(([, value], i) => process.send(value, i === all.length - 1 ? () => process.disconnect() : undefined));
} else {
  const all = values();
  const child = spawn(process.execPath, [__filename, 'child'], {
    stdio: ['ignore', 'inherit', 'inherit', 'pipe'],
    env: { ...process.env, NODE_CHANNEL_FD: '3', NODE_CHANNEL_SERIALIZATION_MODE: 'advanced' },
  });
  const chunks = [];
  child.stdio[3].on('data', (d) => chunks.push(d));
  child.on('close', (code) => {
    if (code !== 0) throw new Error(`child exited with ${code}`);
    const stream = Buffer.concat(chunks);
    const frames = [];
    for (let at = 0; at < stream.length;) {
      const len = stream.readUInt32BE(at);
      frames.push(stream.subarray(at, at + 4 + len));
      at += 4 + len;
    }
    if (frames.length !== all.length) throw new Error(`${frames.length} frames for ${all.length} values`);
    const corpus = all.map(([label, value, opts], i) => {
      if (!opts.natural && !ipcFrame(value).equals(frames[i])) {
        throw new Error(`${label}: the serializer subclass wrote other bytes than process.send`);
      }
      // Labels are kept ASCII: some quote lone surrogates, which JSON can
      // escape but a Rust String cannot hold.
      const ascii = label.replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
      return { label: ascii, hex: frames[i].toString('hex'), reencode: opts.reencode !== false };
    });
    process.stdout.write(JSON.stringify(corpus));
  });
}
