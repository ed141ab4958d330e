'use strict';
// Handle passing with a Rust peer (tests/handles.rs), plain Node API only.
//
//   node handles.js child
//     A child of a Rust parent: answers every message with what arrived
//     ({got, kind}) and uses the handle: a net.Server answers each
//     connection with `hello <tag>`, a net.Socket gets `hi <tag>` and is
//     ended, a dgram.Socket reports each datagram it receives ({udp}).
//     `{fds: true}` closes every handle it was given (and their
//     connections) and answers `{fds: <open fds>}` from /proc/self/fd: the
//     test asks once before handing anything and once at the end, and the
//     two counts must be equal.
//
//   node handles.js parent <exe> <json|advanced> <server|socket|nack|first> <n>
//     A parent of the Rust test binary <exe> run as its child role: sends
//     it a listening server, or <n> accepted sockets, connects clients, and
//     prints one JSON line: what the clients read, whether every send
//     callback ran without error, the child's replies (the last with its
//     open-fd counts before and after) and this process's own (parentFds).

const net = require('net');
const dgram = require('dgram');
const { spawn } = require('child_process');

function kindOf(h) {
  if (!h) return null;
  if (h instanceof net.Server) return 'net.Server';
  if (h instanceof net.Socket) return 'net.Socket';
  if (h instanceof dgram.Socket) return 'dgram.Socket';
  return 'other';
}

const openFds = () => require('fs').readdirSync('/proc/self/fd').length;

// Closes `h` (a handle this child was given) and resolves once it is closed.
function closeHandle(h) {
  return new Promise((resolve) => {
    if (h instanceof net.Server) {
      if (!h.listening) return resolve();
      h.close(() => resolve());
    } else if (h instanceof net.Socket) {
      if (h.destroyed) return resolve();
      h.once('close', () => resolve());
      h.destroy();
    } else if (h instanceof dgram.Socket) {
      try {
        h.close(() => resolve());
      } catch {
        resolve(); // closed already
      }
    } else {
      // net.Native / dgram.Native: libuv's own handle object.
      h.close(() => resolve());
    }
  });
}

function child() {
  // A server or dgram socket it was handed would keep it alive.
  process.on('disconnect', () => process.exit(0));
  const held = [];
  process.on('message', async (m, h) => {
    if (m && m.fds) {
      await Promise.all(held.splice(0).map(closeHandle));
      // libuv closes fds at the end of the loop iteration.
      await new Promise((r) => setImmediate(r));
      process.send({ fds: openFds() });
      return;
    }
    const kind = kindOf(h);
    const tag = m && m.tag;
    if (h) held.push(h);
    if (kind === 'net.Server') {
      h.on('connection', (s) => {
        held.push(s);
        s.end(`hello ${tag}`);
      });
    } else if (kind === 'net.Socket') {
      h.end(`hi ${tag}`);
    } else if (kind === 'dgram.Socket') {
      h.on('message', (d) => process.send({ udp: d.toString() }));
    }
    process.send({ got: m, kind });
  });
}

function readAll(port) {
  return new Promise((resolve, reject) => {
    const c = net.connect(port, '127.0.0.1');
    let data = '';
    c.on('data', (d) => (data += d));
    c.on('end', () => resolve(data));
    c.on('error', reject);
  });
}

async function parent(exe, serialization, what, n) {
  // The Rust test binary runs only its child role (a libtest filter).
  const child = spawn(exe, ['--exact', 'rust_child_role', '--nocapture', '--test-threads=1'], {
    serialization,
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  // Counted with the channel open, before and after the handles: Node's
  // first spawn opens fds it keeps (a /dev/null for 'ignore' stdio).
  const fdsBefore = openFds();
  const replies = [];
  child.on('message', (m) => replies.push(m));
  const sendErrors = [];
  const send = (msg, h) =>
    new Promise((resolve) =>
      child.send(msg, h, (err) => {
        if (err) sendErrors.push(String(err));
        resolve();
      }));
  const out = { reads: [], sendErrors, replies };
  if (what === 'nack') {
    // The Rust child can open no fd: every transmission is NACKed, and
    // Node sends the socket again, 3 times, then warns.
    out.warnings = [];
    out.callbacks = 0;
    process.on('warning', (w) => out.warnings.push(w.name));
    const server = net.createServer({ pauseOnConnect: true });
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    const port = server.address().port;
    const sent = new Promise((r) => server.once('connection', (s) => {
      child.send({ tag: 'nack' }, s, () => ++out.callbacks);
      r();
    }));
    const c = net.connect(port, '127.0.0.1');
    c.on('error', () => {});
    await sent;
    await new Promise((r) => setTimeout(r, 50));
    while (!out.warnings.length) await new Promise((r) => setTimeout(r, 20));
    c.destroy();
    server.close();
  } else if (what === 'first') {
    // A server as the very first message, to a child that then only
    // accepts on it (no more recv): the ACK must go out by itself. We
    // connect once the send callback (the ACK) fired, or after 5 s.
    const server = net.createServer();
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    const port = server.address().port;
    const t0 = Date.now();
    let timer;
    out.acked = await Promise.race([
      send({ tag: 'first' }, server).then(() => true),
      new Promise((r) => { timer = setTimeout(() => r(false), 5000); }),
    ]);
    clearTimeout(timer);
    out.ackMs = Date.now() - t0;
    server.close();
    out.reads.push(await readAll(port));
  } else if (what === 'server') {
    const server = net.createServer();
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    const port = server.address().port;
    await send({ tag: 'server' }, server);
    // Stop accepting here: from now on only the Rust child accepts.
    server.close();
    for (let i = 0; i < n; i++) out.reads.push(await readAll(port));
  } else {
    const server = net.createServer({ pauseOnConnect: true });
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    const port = server.address().port;
    server.on('connection', (s) => send({ tag: `socket` }, s));
    for (let i = 0; i < n; i++) out.reads.push(await readAll(port));
    // The Rust side answers NODE_SOCKET_GET_COUNT and NODE_SOCKET_NOTIFY_CLOSE.
    out.connections = await new Promise((r) => server.getConnections((e, c) => r(e ? String(e) : c)));
    await new Promise((r) => server.close(() => r()));
    out.closed = true;
  }
  // The child answers `done` with its open-fd counts (before, now); then
  // we disconnect and it exits.
  const exited = new Promise((r) => child.on('exit', r));
  const counted = new Promise((r) => child.on('message', (m) => m && m.fds && r()));
  child.send({ done: true });
  await counted;
  out.parentFds = [fdsBefore, openFds()];
  child.disconnect();
  await exited;
  console.log(JSON.stringify(out));
}

const [mode, ...args] = process.argv.slice(2);
if (mode === 'parent') parent(args[0], args[1], args[2], Number(args[3] || 1));
else child();
