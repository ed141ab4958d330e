'use strict';
// A plain Node cluster primary of a Rust worker (tests/cluster_worker.rs):
//
//   node cluster_primary.js <worker-exe> <rr|none> <workers> <requests> [lazy|kill|udp|unix]
//   (SERIALIZATION=advanced in the environment: the channels speak advanced)
//
// Forks <workers> copies of <worker-exe> (as process.execPath, see below)
// with PORT=0 HOST=127.0.0.1, waits for each one's 'online' and
// 'listening', makes <requests> HTTP requests at once, sends each worker a
// message and waits for its answer, then disconnects every worker and
// waits for its exit. Prints one JSON line of what it saw. With `lazy`,
// worker 1 is started with LAZY=1 (it takes one connection into its
// queue and accepts nothing until the primary's message) and the requests
// go out before the messages. With `kill`, each worker is killed
// (worker.kill()) once it listens. With `udp`, the workers also bind a
// shared UDP port and each of <requests> datagrams gets an answer. With
// `unix`, the workers also serve on a unix socket path (UNIX_PATH, in a
// fresh temporary directory) and the requests go there.

const cluster = require('node:cluster');
const http = require('node:http');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const [exe, policy, workersArg, requestsArg, flag] = process.argv.slice(2);
const lazy = flag === 'lazy';
cluster.schedulingPolicy = policy === 'none' ? cluster.SCHED_NONE : cluster.SCHED_RR;
// Node's cluster does not pass setupPrimary's `execPath` on to fork() (20
// to 26: createWorkerProcess passes cwd, env, serialization, silent,
// windowsHide, execArgv, stdio, gid, uid); fork() runs process.execPath.
// So a primary runs a non-Node worker by pointing process.execPath at it.
// The worker gets [...execArgv, exec, ...args] as its arguments.
cluster.setupPrimary({ exec: 'worker', args: [], serialization: process.env.SERIALIZATION || 'json' });
process.execPath = exe;

const n = Number(workersArg);
const requests = Number(requestsArg);
const seen = { online: [], listening: [], bodies: [], replies: [], exits: [], errors: [] };
const timer = setTimeout(() => {
  seen.errors.push('timeout');
  console.log(JSON.stringify(seen));
  process.exit(1);
}, 30000);

const socketPath = flag === 'unix'
  ? path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'nodeipc-cluster-')), 'http.sock')
  : undefined;
if (socketPath) {
  process.on('exit', () => fs.rmSync(path.dirname(socketPath), { recursive: true, force: true }));
}
const workers = [];
for (let i = 0; i < n; i++) {
  const env = { PORT: '0', HOST: '127.0.0.1' };
  if (lazy && i === 0) env.LAZY = '1';
  if (flag === 'udp') env.UDP_PORT = '0';
  if (socketPath) env.UNIX_PATH = socketPath;
  workers.push(cluster.fork(env));
}
let port;
let udpPort;
const listening = Promise.all(workers.map((w) => new Promise((resolve) => {
  w.on('online', () => seen.online.push(w.id));
  let left = flag === 'udp' || flag === 'unix' ? 2 : 1;
  w.on('listening', (addr) => {
    seen.listening.push({ id: w.id, address: addr.address, port: addr.port, addressType: addr.addressType });
    if (addr.addressType === 'udp4') udpPort = addr.port;
    else if (addr.addressType !== -1) port = addr.port;
    if (--left === 0) resolve();
  });
})));

function get() {
  return new Promise((resolve) => {
    const where = socketPath ? { socketPath } : { host: '127.0.0.1', port };
    http.get({ ...where, path: '/', agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(body.trim()));
    }).on('error', (e) => resolve(`error ${e.code}`));
  });
}

function ask(w) {
  return new Promise((resolve) => {
    w.once('message', (m) => resolve(m));
    w.send({ hello: w.id, text: 'é' });
  });
}

(async () => {
  await listening;
  if (flag === 'kill') {
    // worker.kill(): SIGTERM, as Node's primary sends it.
    await Promise.all(workers.map((w) => new Promise((resolve) => {
      w.on('exit', (code, signal) => {
        seen.exits.push({ id: w.id, code, signal, exitedAfterDisconnect: w.exitedAfterDisconnect });
        resolve();
      });
      w.kill();
    })));
    clearTimeout(timer);
    console.log(JSON.stringify(seen));
    return;
  }
  if (flag === 'udp') {
    // Datagrams to the shared socket, answered by whichever worker reads.
    const dgram = require('node:dgram');
    const sock = dgram.createSocket('udp4');
    seen.udp = await new Promise((resolve) => {
      const got = [];
      sock.on('message', (m) => {
        got.push(m.toString().trim());
        if (got.length === requests) resolve(got);
      });
      for (let i = 0; i < requests; i++) sock.send(`ping ${i}`, udpPort, '127.0.0.1');
    });
    sock.close();
  }
  if (lazy) {
    const pending = Array.from({ length: requests }, get);
    // The lazy worker holds one connection; the rest are re-dispatched
    // and served by the others. Then it is told to go on.
    await new Promise((r) => setTimeout(r, 500));
    seen.replies = await Promise.all(workers.map(ask));
    seen.bodies = await Promise.all(pending);
  } else {
    seen.bodies = await Promise.all(Array.from({ length: requests }, get));
    seen.replies = await Promise.all(workers.map(ask));
  }
  await Promise.all(workers.map((w) => new Promise((resolve) => {
    w.on('exit', (code, signal) => {
      seen.exits.push({ id: w.id, code, signal, exitedAfterDisconnect: w.exitedAfterDisconnect });
      resolve();
    });
    w.disconnect();
  })));
  clearTimeout(timer);
  console.log(JSON.stringify(seen));
})();
