'use strict';
// The Node side of `nodeipc bench handles`: plain child_process handle
// passing, nothing nodeipc-specific.
//
//   node node-handles.js child             receives handles and closes them; {end:true} -> {done:n}
//   node node-handles.js parent N SER      the Node -> Node baseline: forks itself as the child,
//                                          sends N messages each with the same net.Server,
//                                          prints {"handles":N,"secs":S}
const { fork } = require('child_process');
const net = require('net');

if (process.argv[2] === 'child') {
  let n = 0;
  process.on('message', (m, handle) => {
    if (handle) {
      handle.close();
      n++;
    }
    if (m.end) process.send({ done: n });
  });
  process.on('disconnect', () => process.exit(0));
  process.send({ ready: true });
} else {
  const count = Number(process.argv[3]);
  const child = fork(__filename, ['child'], { serialization: process.argv[4] });
  const server = net.createServer();
  server.listen(0, '127.0.0.1', () => {
    child.once('message', () => {
      // The child is up; time the handles alone. Node queues them and
      // writes each after the ACK of the one before.
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < count; i++) child.send({ i }, server);
      child.send({ end: true });
      child.once('message', (m) => {
        const secs = Number(process.hrtime.bigint() - t0) / 1e9;
        console.log(JSON.stringify({ handles: m.done, secs }));
        child.disconnect();
        server.close();
      });
    });
  });
}
