'use strict';
// The Node front-end of `cargo run --example socket_worker`: plain Node. It
// accepts TCP connections and hands each one to a Rust worker with
// `worker.send(msg, socket)`; the worker answers on the socket itself.
//
//   node frontend.js WORKER_EXE [--serve] [--port P]
//
// Without --serve it connects a few clients itself, prints what the worker
// answered them, and exits.
const { spawn } = require('child_process');
const net = require('net');

const [exe, ...rest] = process.argv.slice(2);
const serve = rest.includes('--serve');
const port = rest.includes('--port') ? Number(rest[rest.indexOf('--port') + 1]) : 0;

// 'ipc' in stdio: the worker finds the channel through NODE_CHANNEL_FD, as
// a fork()ed Node child would.
const worker = spawn(exe, [], { stdio: ['inherit', 'inherit', 'inherit', 'ipc'] });
worker.on('exit', (code) => {
  if (code !== 0) console.error(`[frontend] worker exited with ${code}`);
});

let handed = 0;
const server = net.createServer({ pauseOnConnect: true }, (socket) => {
  const id = handed++;
  // Node closes its copy once the worker acknowledged the handle.
  worker.send({ id, from: `${socket.remoteAddress}:${socket.remotePort}` }, socket, (err) => {
    if (err) console.error(`[frontend] could not hand over connection ${id}: ${err.message}`);
  });
});

server.listen(port, '127.0.0.1', async () => {
  const { port } = server.address();
  console.log(`[frontend] listening on 127.0.0.1:${port}, handing connections to the Rust worker (pid ${worker.pid})`);
  if (serve) return;
  const clients = 4;
  for (let i = 0; i < clients; i++) {
    console.log(`[client ${i}] got: ${(await ask(port, `question ${i}`)).trim()}`);
  }
  server.close();
  worker.disconnect(); // the worker's recv returns None and it exits
  console.log(`[frontend] ${clients} connections accepted by Node, answered by Rust`);
});

function ask(port, line) {
  return new Promise((resolve, reject) => {
    const c = net.connect(port, '127.0.0.1', () => c.write(line + '\n'));
    let got = '';
    c.setEncoding('utf8');
    c.on('data', (d) => (got += d));
    c.on('end', () => resolve(got));
    c.on('error', reject);
  });
}
