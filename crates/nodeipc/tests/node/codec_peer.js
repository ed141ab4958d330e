'use strict';
// The Node peer of tests/codec.rs: `node codec_peer.js <json|advanced> <port>`
// connects to 127.0.0.1:<port> and answers every message with {echo: m},
// in Node's IPC framing over a plain TCP socket: a JSON.stringify line, or
// a u32 big-endian length and v8.serialize's bytes.

const net = require('net');
const v8 = require('v8');

const [mode, port] = process.argv.slice(2);
const sock = net.connect(Number(port), '127.0.0.1');
let buf = Buffer.alloc(0);

function frames() {
  const out = [];
  for (;;) {
    if (mode === 'json') {
      const nl = buf.indexOf(10);
      if (nl < 0) return out;
      out.push(JSON.parse(buf.subarray(0, nl).toString('utf8')));
      buf = buf.subarray(nl + 1);
    } else {
      if (buf.length < 4) return out;
      const len = buf.readUInt32BE(0);
      if (buf.length < 4 + len) return out;
      out.push(v8.deserialize(buf.subarray(4, 4 + len)));
      buf = buf.subarray(4 + len);
    }
  }
}

function write(m) {
  if (mode === 'json') {
    sock.write(JSON.stringify(m) + '\n');
  } else {
    const payload = v8.serialize(m);
    const head = Buffer.alloc(4);
    head.writeUInt32BE(payload.length);
    sock.write(Buffer.concat([head, payload]));
  }
}

sock.on('data', (chunk) => {
  buf = Buffer.concat([buf, chunk]);
  for (const m of frames()) {
    if (m === 'end') {
      sock.end();
      return;
    }
    write({ echo: m });
  }
});
