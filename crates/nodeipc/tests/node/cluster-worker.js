'use strict';
// A cluster worker for tests/cluster.rs: listens on a port of the kernel's
// choice, reports its cluster identity, and on the message "leave"
// disconnects itself (cluster.worker.disconnect()).
const cluster = require('cluster');
require('net').createServer((s) => s.end(String(process.pid))).listen(0, '127.0.0.1', () => {
  process.send({ isWorker: cluster.isWorker, id: cluster.worker.id });
});
process.on('message', (m) => {
  if (m === 'leave') cluster.worker.disconnect();
});
