'use strict';
// The values whose `advanced` bytes changed between Node 20 and Node 26
// (docs/node-versions.md), with the checks util.isDeepStrictEqual does not
// make: an Error's prototype, own message, own stack and cause (identity
// for a cause that refers back to the Error), a RegExp's flags, a
// Float16Array's exact bits, a resizable ArrayBuffer's maximum.
//
// Used by the Rust-parent echo (kinds_echo.js, tests/advanced.rs) and the
// Rust-child echo (parent.js advancedKinds, tests/node_parent.rs).
//
// Cases the Node under test cannot carry at all are left out, so every
// supported version runs what it can:
// - Float16Array exists from Node 24 (V8 13.6);
// - an Error whose cause refers back to it is readable from Node 22 (V8 12):
//   V8 11 registers an Error only once it is complete, so Node 20 throws
//   "Unable to deserialize cloned data" on its own bytes for `e.cause = e`.
const { isDeepStrictEqual, inspect } = require('node:util');
const v8 = require('node:v8');

const V8_MAJOR = Number(process.versions.v8.split('.')[0]);
const HAS_FLOAT16 = typeof Float16Array === 'function';
const CYCLIC_CAUSE = V8_MAJOR >= 12;

function withStack(err, stack) {
  err.stack = stack;
  return err;
}

function noStack(err) {
  delete err.stack;
  return err;
}

// Sets `cause` as the Error constructor's option does (not enumerable).
function setCause(err, cause) {
  Object.defineProperty(err, 'cause', { value: cause, writable: true, configurable: true, enumerable: false });
  return err;
}

// Whether Node itself delivers `err` with an own stack: V8 gives an Error
// read without one a stack of its own.
const readBackHasStack = (err) => Object.hasOwn(v8.deserialize(v8.serialize(err)), 'stack');

const hex = (view) => Buffer.from(view.buffer, view.byteOffset, view.byteLength).toString('hex');

// got vs want for an Error: what isDeepStrictEqual does not compare.
function errorDiff(got, want, path = 'error') {
  if (!(got instanceof Error)) return `${path}: not an Error: ${inspect(got)}`;
  if (Object.getPrototypeOf(got) !== Object.getPrototypeOf(want)) {
    return `${path}: prototype ${Object.getPrototypeOf(got).constructor.name}, want ${want.constructor.name}`;
  }
  const ownStack = Object.hasOwn(want, 'stack') || readBackHasStack(want);
  if (Object.hasOwn(got, 'stack') !== ownStack) return `${path}: own stack ${!ownStack}, want ${ownStack}`;
  for (const field of ['message', 'cause']) {
    if (Object.hasOwn(got, field) !== Object.hasOwn(want, field)) {
      return `${path}: own ${field} ${Object.hasOwn(got, field)}, want ${Object.hasOwn(want, field)}`;
    }
  }
  if (got.message !== want.message) return `${path}: message ${inspect(got.message)}`;
  if (Object.hasOwn(want, 'stack') && got.stack !== want.stack) return `${path}: stack ${inspect(got.stack)}`;
  if (!Object.hasOwn(want, 'cause')) return null;
  if (want.cause === want) return got.cause === got ? null : `${path}: cause is not the error itself`;
  if (want.cause instanceof Error) return errorDiff(got.cause, want.cause, `${path}.cause`);
  if (!isDeepStrictEqual(got.cause, want.cause)) return `${path}: cause ${inspect(got.cause)}`;
  return null;
}

// [name, value, check(got) -> null or what is wrong, deep]: `deep` false
// where isDeepStrictEqual cannot be used (it recurses forever through an
// Error's cause cycle in Node 22+), the check judges alone.
function currentKinds() {
  const out = [];
  const add = (name, value, check = () => null, deep = true) => out.push([name, value, check, deep]);
  const errorCase = (name, e) => add(name, e, (got) => errorDiff(got, e));

  errorCase('Error with object cause', withStack(new Error('e', { cause: { why: [1] } }), 'Error: e\n    at x'));
  errorCase('Error with string cause', withStack(new TypeError('t', { cause: 'why' }), 'TypeError: t'));
  errorCase('Error with Error cause', withStack(new RangeError('r', { cause: withStack(new Error('in'), 'I') }), 'R'));
  errorCase('Error with undefined cause', withStack(new Error('u', { cause: undefined }), 'S'));
  errorCase('Error with a cause and no stack', noStack(new SyntaxError('s', { cause: 1n })));
  for (const E of [Error, EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError]) {
    errorCase(`${E.name} with a stack`, withStack(new E('m'), `${E.name}: m\n    at fixed`));
    errorCase(`${E.name} without a stack`, noStack(new E('m')));
  }
  errorCase('Error without a message', withStack(new Error(), 'Error'));
  if (CYCLIC_CAUSE) {
    const self = withStack(new Error('self'), 'S');
    setCause(self, self);
    add('Error that is its own cause', self, (got) => errorDiff(got, self), false);
    const held = withStack(new Error('held'), 'S');
    setCause(held, { e: held });
    add('Error whose cause holds it', held, (got) => (got instanceof Error && got.message === 'held'
      && got.stack === 'S' && got.cause?.e === got && Object.keys(got.cause).length === 1
      ? null : 'cause is not { e: the error }'), false);
    const a = withStack(new Error('a'), 'A');
    const b = withStack(new TypeError('b', { cause: a }), 'B');
    setCause(a, b);
    add('two Errors each the cause of the other', a, (got) => (got instanceof Error && got.cause instanceof TypeError
      && got.cause.cause === got && got.stack === 'A' && got.cause.stack === 'B' && got.cause.message === 'b'
      ? null : 'cycle lost'), false);
  }

  if (HAS_FLOAT16) {
    const f16 = new Float16Array([NaN, -0, 0, 65504, -65504, 2 ** -24, Infinity, -Infinity, 1 / 3]);
    add('Float16Array edge values', f16, (got) => (got instanceof Float16Array && hex(got) === hex(f16)
      ? null : `bits ${got instanceof Float16Array ? hex(got) : inspect(got)}`));
    const payloads = new Float16Array(new Uint16Array([0x7e01, 0xfc01, 0x7c01, 0xffff]).buffer);
    add('Float16Array NaN payloads', payloads, (got) => (hex(got) === hex(payloads) ? null : `bits ${hex(got)}`));
    add('empty Float16Array', new Float16Array(0));
  }

  for (const re of [/a/v, /[\p{L}--[a-z]]/v, /x/d, /x/s, /x/y, /x/dgimsuy, /x/dgimsvy]) {
    add(`RegExp ${re}`, re, (got) => (got instanceof RegExp && got.flags === re.flags && got.source === re.source
      ? null : `got ${inspect(got)}`));
  }

  const rab = new ArrayBuffer(4, { maxByteLength: 16 });
  new Uint8Array(rab).set([1, 2, 3, 4]);
  add('resizable ArrayBuffer', rab, (got) => (got.resizable && got.maxByteLength === 16 && got.byteLength === 4
    ? null : `resizable ${got.resizable}, max ${got.maxByteLength}, length ${got.byteLength}`));
  const grown = new ArrayBuffer(2, { maxByteLength: 1 << 20 });
  grown.resize(8);
  add('resizable ArrayBuffer after resize', grown, (got) => (got.maxByteLength === 1 << 20 && got.byteLength === 8
    ? null : `max ${got.maxByteLength}, length ${got.byteLength}`));
  // Node sends a view of a resizable buffer as its bytes (a host object).
  add('views of a resizable ArrayBuffer', [new Uint8Array(rab), new Int16Array(rab, 2), new DataView(rab, 1)]);
  return out;
}

// What is wrong with `got` as the echo of case `[name, want, check]`, or
// null.
function echoDiff([, want, check, deep], got) {
  if (deep && !isDeepStrictEqual(got, want)) {
    const show = (v) => inspect(v, { depth: 4 });
    return `got ${show(got)}, want ${show(want)}`;
  }
  return check(got);
}

module.exports = { currentKinds, echoDiff };
