'use strict';
// Adds the size `1mbuf` to shared/bench (which stays unmodified): messages
// {i, b} with b a 1 MiB Buffer of 'x', the "1 MiB Buffer" workload of the
// `advanced` matrix. `nodeipc bench` embeds this file, writes it to a
// temporary file and preloads it for the Buffer cells:
//
//   node --require node-buffer.js shared/bench/node-peer.js        (Rust -> Node)
//   node --require node-buffer.js shared/bench/node-baseline.js …  (Node <-> Node)
//
// node-baseline.js forks node-peer.js with its own execArgv, so the peer it
// starts is patched too. Both scripts destructure common.js when they load,
// after this preload has run: they get the functions below, and
// checkOptions / payloadBytes see the new size through the SIZES object they
// share with the exports. The rest of the protocol (ready, go, done, echo,
// timing) is shared/bench's own.
const path = require('node:path');

const common = require(path.join(path.dirname(process.argv[1]), 'common.js'));
const SIZE = '1mbuf';
const BYTES = 1 << 20;

common.SIZES[SIZE] = BYTES;
const { defaultCount, messageMaker } = common;
// The counts of the 1 MiB string.
common.defaultCount = (mode, size) => defaultCount(mode, size === SIZE ? '1m' : size);
common.messageMaker = (mode, size) => {
  if (mode === 'seed' || size !== SIZE) return messageMaker(mode, size);
  const b = Buffer.alloc(BYTES, 'x');
  return (i) => ({ i, b });
};
