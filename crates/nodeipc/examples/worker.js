'use strict';
// The Node side of `cargo run --example demo`: plain process.send and
// process.on('message'), nothing nodeipc-specific.
const checksum = (s) => {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) >>> 0;
  return h;
};

process.on('message', (msg) => {
  switch (msg.kind) {
    case 'greet':
      process.send({ kind: 'greeted', text: `Node ${process.version} got: ${msg.text}`, utf16Units: msg.text.length });
      break;
    case 'big':
      process.send({ kind: 'bigAck', len: msg.data.length, checksum: checksum(msg.data) });
      break;
    case 'askBig': {
      const data = '¡Hola, 世界! 😀 '.repeat(Math.ceil(msg.len / 16)).slice(0, msg.len);
      process.send({ kind: 'bigReply', data, checksum: checksum(data) });
      break;
    }
    default:
      console.error(`[worker] unknown message kind ${msg.kind}`);
  }
});
process.on('disconnect', () => console.log('[worker] parent disconnected, exiting'));
process.send({ kind: 'ready', pid: process.pid, node: process.version });
