'use strict';
// A Node HTTP worker of `cargo run --example supervisor`: plain Node. The
// supervisor hands it a listening socket with the message; it serves HTTP
// on it with no port of its own (every worker shares the one socket, and
// the kernel spreads the connections among them).
const http = require('http');

process.on('message', (msg, server) => {
  if (msg.cmd !== 'serve' || !server) return;
  const app = http.createServer((req, res) => {
    res.setHeader('content-type', 'text/plain');
    res.end(`hello from worker ${msg.id} (pid ${process.pid})\n`);
  });
  // listen() takes a net.Server (or anything with a _handle) instead of a port.
  app.listen(server, () => process.send({ listening: msg.id, pid: process.pid }));
});
// The supervisor went away (or disconnected us): stop.
process.on('disconnect', () => process.exit(0));
