'use strict';
// The Node child of tests/advanced.rs
// `every_value_kind_built_in_rust_is_what_node_builds` (serialization
// 'advanced'): the Rust parent builds each case below with nodeipc::Value's
// constructors and sends {name, value}; this script builds the JS value the
// case should be itself and answers {name, ok, why}: ok when
// util.isDeepStrictEqual holds and so do the case's own checks, for what
// isDeepStrictEqual does not look at (identity of shared and circular
// references, key order, holes, Error fields, resizable ArrayBuffers).
// After {done: true} it sends {report: true, missing: [names never sent]}.
const { isDeepStrictEqual, inspect } = require('node:util');

function nested(depth) {
  let v = ['bottom'];
  for (let i = 0; i < depth; i++) v = [v];
  return v;
}

const sparse = [1, , 3];
sparse[10] = 'ten';
sparse.p = 'prop';
sparse.q = undefined;

const tail = new Array(5);
tail[1] = 'x';

const huge = [];
huge[1e6] = 1;

const ab = Uint8Array.from({ length: 16 }, (_, i) => i).buffer;

const resizable = new ArrayBuffer(4, { maxByteLength: 16 });
new Uint8Array(resizable).set([1, 2, 3, 4]);

const shared = { k: 1 };
const day = new Date(5);
const buf = Buffer.from([7, 7]);

const circ = { name: 'c' };
circ.self = circ;
circ.list = [circ];

const selfMap = new Map();
selfMap.set('me', selfMap);
const selfSet = new Set();
selfSet.add(selfSet);

const selfArray = [1];
selfArray.push(selfArray);

const keys = (o) => JSON.stringify(Reflect.ownKeys(o));
const errorFields = (e) => ({
  proto: Object.getPrototypeOf(e).constructor.name,
  name: e.name,
  message: Object.hasOwn(e, 'message') ? e.message : '(no own message)',
  cause: Object.hasOwn(e, 'cause') ? e.cause : '(no own cause)',
});
const sameError = (got, expected) => isDeepStrictEqual(errorFields(got), errorFields(expected));
// The expected value of a case.
const want = (name) => cases.get(name)[0];

// The expected value of a case that only its check can judge.
const NOT_COMPARED = Symbol('not compared');

// name -> [the expected value, optional check(got) -> true or what is wrong]
const cases = new Map([
  ['undefined', [undefined]],
  ['null', [null]],
  ['booleans', [[true, false]]],
  ['negative zero', [-0]],
  ['NaN', [NaN]],
  ['Infinity', [Infinity]],
  ['-Infinity', [-Infinity]],
  ['numbers', [[0, -0, 1.5, -7, 2 ** 31, -(2 ** 31), 2 ** 32 - 1, 2 ** 53 + 1, -(2 ** 53),
    Number.MAX_VALUE, Number.MIN_VALUE, Number.EPSILON, 0.1]]],
  ['bigints', [[0n, 1n, -1n, 2n ** 64n, -(2n ** 70n), 2n ** 128n + 1n, -(2n ** 63n)]]],
  ['strings', [['', 'hello', 'café ÿ', 'h€llo', '😀 astral', 'a\u2028b\u2029c', 'x'.repeat(100000),
    '€'.repeat(50000)]]],
  ['lone surrogates', [['\ud800', 'a\udc00b', '\udc00\ud800', '\ud83d', 'ok 😀 \udfff']]],
  ['object with integer and string keys', [
    { b: 1, 2: 'two', a: [], 0: null, '-1': 'neg', 4294967295: 'not an index' },
    (v) => keys(v) === '["0","2","b","a","-1","4294967295"]' || `keys ${keys(v)}`,
  ]],
  ['nested objects', [{ outer: { inner: { deep: [1, { x: 'y' }] } }, empty: {}, none: [] }]],
  ['deeply nested arrays', [nested(200)]],
  ['sparse array with extra properties', [
    sparse,
    (v) => (v.length === 11 && !(1 in v) && 'q' in v && keys(v) === keys(sparse)) || `keys ${keys(v)}`,
  ]],
  ['dense array with an extra property', [Object.assign([1, 2], { p: 3 })]],
  ['undefined versus hole', [[undefined, , null], (v) => (0 in v && !(1 in v)) || 'hole or undefined lost']],
  ['holes at the end', [tail, (v) => v.length === 5 || `length ${v.length}`]],
  ['array with one element at 1e6', [huge, (v) => (v.length === 1e6 + 1 && v[1e6] === 1) || `length ${v.length}`]],
  ['Map', [new Map([[1, 'one'], ['k', { a: 1 }], [{ obj: 'key' }, [2]], [NaN, null], [2n, undefined]])]],
  ['Set', [new Set(['x', 1, { o: 1 }, 2n, NaN])]],
  ['Dates', [[new Date(0), new Date(1.7e12), new Date(-1), new Date(8.64e15)]]],
  // isDeepStrictEqual(new Date(NaN), new Date(NaN)) is false in Node 20
  // (it compares getTime() with !==): only the check.
  ['invalid Date', [NOT_COMPARED, (v) => (v instanceof Date && Number.isNaN(v.getTime())) || 'not an invalid Date']],
  ['RegExps', [[/ab+c/gi, /^\/path\/$/m, /\u{1F600}/u, /x/dsy, /[\p{L}--[a-z]]/v, /(?:)/]]],
  ['boxed primitives', [[new Number(1.5), new Number(-0), new String('s'), new String('\ud800'),
    new Boolean(false), Object(5n)]]],
  ['Error kinds', [
    [new Error('e'), new TypeError('t'), new RangeError('r'), new SyntaxError('s'), new ReferenceError('f'),
      new EvalError('v'), new URIError('u'), new Error()],
    (v) => v.every((e, i) => sameError(e, want('Error kinds')[i])) || inspect(v.map(errorFields)),
  ]],
  ['Error with cause', [
    new RangeError('boom', { cause: new Error('inner', { cause: 42n }) }),
    (v) => (sameError(v, want('Error with cause')) && sameError(v.cause, want('Error with cause').cause)
      && v.cause.cause === 42n) || inspect(errorFields(v)),
  ]],
  ['Error with cause undefined', [
    new Error('c', { cause: undefined }),
    (v) => (Object.hasOwn(v, 'cause') && v.cause === undefined) || 'no own cause',
  ]],
  ['Error with stack', [
    new TypeError('s'),
    (v) => v.stack === 'TypeError: s\n    at rust (main.rs:1:1)' || `stack ${JSON.stringify(v.stack)}`,
  ]],
  ['Buffer', [Buffer.from([0, 1, 2, 255]), (v) => Buffer.isBuffer(v) || 'not a Buffer']],
  ['empty Buffer', [Buffer.alloc(0), (v) => Buffer.isBuffer(v) || 'not a Buffer']],
  ['every typed array', [{
    i8: new Int8Array([-128, 127, 0]),
    u8: new Uint8Array([0, 255]),
    u8c: new Uint8ClampedArray([0, 255]),
    i16: new Int16Array([-32768, 32767]),
    u16: new Uint16Array([65535, 1]),
    i32: new Int32Array([-(2 ** 31), 2 ** 31 - 1]),
    u32: new Uint32Array([2 ** 32 - 1]),
    f32: new Float32Array([1.5, -0, Infinity, NaN]),
    f64: new Float64Array([0.1, -0, -Infinity, NaN]),
    bi64: new BigInt64Array([-1n, 2n ** 63n - 1n]),
    bu64: new BigUint64Array([2n ** 64n - 1n]),
    dv: new DataView(new Uint8Array([1, 2, 3]).buffer),
    empty: new Float64Array(0),
  }]],
  ['views sharing one ArrayBuffer', [{
    u8: new Uint8Array(ab, 4, 8),
    i16: new Int16Array(ab, 8, 4),
    dv: new DataView(ab, 2, 4),
    f32: new Float32Array(ab, 0, 2),
    buf: Buffer.from(ab, 1, 3),
    ab,
  }]],
  ['ArrayBuffer', [new Uint8Array([9, 8, 7]).buffer]],
  ['resizable ArrayBuffer', [
    resizable,
    (v) => (v.resizable && v.maxByteLength === 16) || `resizable ${v.resizable}, max ${v.maxByteLength}`,
  ]],
  ['shared references', [
    { a: shared, b: shared, list: [shared, day, day], map: new Map([[shared, day]]), bufs: [buf, buf] },
    (v) => (v.a === v.b && v.list[0] === v.a && v.list[1] === v.list[2] && [...v.map.keys()][0] === v.a
      && v.map.get(v.a) === v.list[1] && v.bufs[0] === v.bufs[1]) || 'shared objects arrived as copies',
  ]],
  ['circular object', [circ, (v) => (v.self === v && v.list[0] === v) || 'cycle lost']],
  ['circular Map and Set', [
    { m: selfMap, st: selfSet },
    (v) => (v.m.get('me') === v.m && [...v.st][0] === v.st) || 'cycle lost',
  ]],
  ['circular array', [selfArray, (v) => v[1] === v || 'cycle lost']],
]);

const seen = new Set();
process.on('message', (m) => {
  if (m.done === true) {
    process.send({ report: true, missing: [...cases.keys()].filter((n) => !seen.has(n)) });
    return;
  }
  const { name } = m;
  seen.add(name);
  const entry = cases.get(name);
  if (entry === undefined) {
    process.send({ name, ok: false, why: 'no such case in value_kinds.js' });
    return;
  }
  const [expected, check] = entry;
  const show = (v) => inspect(v, { depth: 3, maxStringLength: 80, maxArrayLength: 20 });
  let why = '';
  if (!('value' in m)) why = 'no value property';
  else if (expected !== NOT_COMPARED && !isDeepStrictEqual(m.value, expected)) {
    why = `got ${show(m.value)}, want ${show(expected)}`;
  } else if (check) {
    const r = check(m.value);
    if (r !== true) why = String(r);
  }
  process.send({ name, ok: why === '', why });
});
