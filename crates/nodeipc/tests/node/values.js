'use strict';
// The JSON value catalog both interop suites send through the channel.
//
// Each entry is [name, value, afterRust?]: `afterRust` is the value a Rust
// peer gives back after parsing into String / serde_json::Value, when that
// differs from `value` (lone surrogates cannot live in a Rust String and
// become U+FFFD, docs/protocol.md §2.2).

function nested(depth) {
  let v = [];
  for (let i = 0; i < depth; i++) v = [v];
  return v;
}

const catalog = [
  ['null', null],
  ['true', true],
  ['false', false],
  ['zero', 0],
  ['negative zero', -0], // JSON.stringify writes 0
  ['small int', 42],
  ['negative int', -7],
  ['2**31', 2 ** 31],
  ['MAX_SAFE_INTEGER', Number.MAX_SAFE_INTEGER],
  ['-MAX_SAFE_INTEGER', -Number.MAX_SAFE_INTEGER],
  ['2**53', 2 ** 53],
  ['2**53+1 (== 2**53 in JS)', 2 ** 53 + 1],
  ['2**63', 2 ** 63],
  ['-(2**63)', -(2 ** 63)],
  ['2**64', 2 ** 64],
  ['1e21', 1e21],
  ['1e20', 1e20],
  ['-1e21', -1e21],
  ['1e-7', 1e-7],
  ['1e-6', 1e-6],
  ['0.1+0.2', 0.1 + 0.2],
  ['-1.5', -1.5],
  ['1/3', 1 / 3],
  ['MAX_VALUE', Number.MAX_VALUE],
  ['MIN_VALUE (denormal)', Number.MIN_VALUE],
  ['smallest normal', 2.2250738585072014e-308],
  ['EPSILON', Number.EPSILON],
  ['123456789.12345678', 123456789.12345678],
  ['NaN (null on the wire)', NaN],
  ['Infinity (null on the wire)', Infinity],
  ['empty string', ''],
  ['ascii string', 'hello world'],
  ['escapes', '"\\/\b\f\n\r\t\u0000\u0001\u001f\u007f'],
  ['latin-1 and BMP', 'café ñ ü 中文 € \u00ff\u0100\u07ff\u0800\uffff'],
  ['astral', '\u{1F600} \u{1D11E} \u{10000} \u{10FFFF}'],
  ['U+2028 U+2029', 'a\u2028b\u2029c'],
  ['lone high surrogate', '\ud800', '\ufffd'],
  ['lone low surrogate in text', 'a\udc00b', 'a\ufffdb'],
  ['reversed pair', '\udc00\ud800', '\ufffd\ufffd'],
  ['lone high before a pair', '\ud800\u{1F600}', '\ufffd\u{1F600}'],
  ['lone surrogate as key', { '\udbff': 1, ok: '\udfff' }, { '\ufffd': 1, ok: '\ufffd' }],
  ['empty array', []],
  ['empty object', {}],
  ['mixed array', [1, 'two', null, true, false, 3.5, [], {}, -0]],
  [
    'nested object',
    { a: { b: { c: [1, { d: [[[]]] }] } }, 'k"e\\y': 1, '': 0, '\u{1F600}': '\u{1F600}', x: null },
  ],
  ['key order (integer keys first)', { b: 1, a: 2, 10: 3, 2: 4, '-1': 5 }],
  ['duplicate-looking keys', { a: 1, A: 2, 'a ': 3 }],
  ['nested 100 deep', nested(100)],
  ['array of numbers', [0, -1, 1.5, 1e300, -1e-300, 4294967296, 4294967295]],
];

// Deterministic doubles spread over the whole exponent range: xorshift64
// bit patterns reinterpreted as IEEE-754 (NaN/Infinity skipped).
function randomDoubles(count, seed = 0x9e3779b97f4a7c15n) {
  const out = [];
  const view = new DataView(new ArrayBuffer(8));
  let x = seed;
  const mask = (1n << 64n) - 1n;
  while (out.length < count) {
    x ^= (x << 13n) & mask;
    x ^= x >> 7n;
    x ^= (x << 17n) & mask;
    view.setBigUint64(0, x);
    const d = view.getFloat64(0);
    if (Number.isFinite(d)) out.push(d);
    // Also short decimals, the common case in real messages.
    if (out.length % 7 === 0) out.push(Number((Number(x % 100000n) / 1000).toFixed(3)));
  }
  return out;
}

// `count` random doubles as catalog entries.
function doubles(count = 300) {
  return randomDoubles(count).map((d, i) => [`double #${i} (${d})`, d]);
}

// `n` characters of `00000000,00000001,…` (hex counters): content whose
// every 9-byte block is distinct, so a lost, doubled or reordered chunk
// shows. tests/*.rs build the same string.
function pattern(n) {
  const parts = [];
  let len = 0;
  for (let k = 0; len < n; k++) {
    const block = k.toString(16).padStart(8, '0') + ',';
    parts.push(block);
    len += block.length;
  }
  return parts.join('').slice(0, n);
}

module.exports = { catalog, doubles, pattern };
