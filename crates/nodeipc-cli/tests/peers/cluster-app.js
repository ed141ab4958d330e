'use strict';
// A plain Node server for `nodeipc cluster` tests: it knows nothing of the
// primary beyond what Node's cluster module gives every worker.
//   node cluster-app.js http   HTTP on $PORT, answers its pid and cluster.worker.id;
//                              echoes every message back with process.send
//   node cluster-app.js unix   HTTP on the unix socket path in $SOCK
//   node cluster-app.js slow1  HTTP on $PORT, answering after 300 ms, at most one
//                              connection at a time (maxConnections = 1)
//   node cluster-app.js udp    dgram udp4 on $PORT, answers each datagram with its pid
//   node cluster-app.js crash  exits with code 3 at once
//   node cluster-app.js idle   never listens
// The mode may come from $APP_MODE instead (PM2's cluster mode runs the app
// under its own ProcessContainer.js, whose argv[2] is not ours).
const cluster = require('cluster');
const port = +process.env.PORT;
const mode = process.env.APP_MODE || process.argv[2];
const me = () => ({ pid: process.pid, isWorker: cluster.isWorker, id: cluster.worker && cluster.worker.id });

if (mode === 'http') {
  require('http').createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(me()));
  }).listen(port);
} else if (mode === 'unix') {
  require('http').createServer((req, res) => res.end(JSON.stringify(me()))).listen(process.env.SOCK);
} else if (mode === 'slow1') {
  const server = require('http').createServer((req, res) => {
    setTimeout(() => res.end(JSON.stringify(me())), 300);
  });
  server.maxConnections = 1;
  server.listen(port);
} else if (mode === 'udp') {
  const sock = require('dgram').createSocket('udp4');
  sock.on('message', (msg, rinfo) => sock.send(JSON.stringify(me()), rinfo.port, rinfo.address));
  sock.bind(port);
} else if (mode === 'crash') {
  process.exit(3);
} else if (mode === 'idle') {
  setTimeout(() => {}, 1e9);
}
process.on('message', (m) => process.send({ echo: m, ...me() }));
