#!/usr/bin/env python3
"""Hostile peers against the `nodeipc` command, measured: peak memory and
time of the nodeipc process for each input class of docs/reliability.md.

    cargo build --release -p nodeipc-cli
    python3 scripts/reliability.py [target/release/nodeipc] [--only NAME]

Each scenario plays a raw peer over a real socket (the parent of
`nodeipc echo`, or the child of `nodeipc run`), checks that nodeipc went
on as it must (the messages around the hostile input arrive, the exit code
is right), and prints one Markdown row: the scenario, the outcome, the
peak RSS of the nodeipc process (getrusage of the child) and the wall
time. A check that fails prints FAIL in the row and makes the exit code 1.

It is a measurement, not a test: CI does not run it (the tests in
crates/*/tests play the same peers, smaller).
"""

import os
import resource
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

HERE = os.path.abspath(__file__)
MIB = 1 << 20


# ---------------------------------------------------------------- wire bytes


def v8_frame(payload):
    return struct.pack(">I", len(payload)) + payload


def v8_string(s):
    b = s.encode("latin-1")
    return b'"' + varint(len(b)) + b


def varint(n):
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def diamond(levels):
    """`let v = [1]; for (...) v = [v, v]` as Node writes it: each level
    holds the level below twice, the second time by back-reference."""
    out = b"\xff\x0f" + b"\x41\x02" * levels + b"\x41\x01\x49\x02\x24\x00\x01"
    for i in reversed(range(levels)):
        out += b"\x5e" + varint(i + 1) + b"\x24\x00\x02"
    return out


def message(serialization, text):
    """A string message `text` (ASCII) in either serialization."""
    if serialization == "json":
        return b'"' + text.encode() + b'"\n'
    return v8_frame(b"\xff\x0f" + v8_string(text))


# ---------------------------------------------------------------- processes


class Run:
    """A nodeipc process, its peak RSS and wall time once waited for.

    It runs under /usr/bin/time, whose report is the peak RSS: the rusage
    of a child forked from this (large) Python process would count
    Python's memory too (Linux keeps the parent's high-water mark across
    fork and exec)."""

    def __init__(self, argv, env=None, pass_fds=False, stdin=subprocess.DEVNULL, preexec=None):
        self.start = time.monotonic()
        argv = ["/usr/bin/time", "-f", "maxrss_kb=%M", *argv]
        self.proc = subprocess.Popen(
            argv,
            env=dict(os.environ, **(env or {})),
            close_fds=not pass_fds,  # else fd 3, made in `preexec`, is closed
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            preexec_fn=preexec,
        )
        self.out = []
        self.err = []
        self.readers = [
            threading.Thread(target=self._drain, args=(self.proc.stdout, self.out), daemon=True),
            threading.Thread(target=self._drain, args=(self.proc.stderr, self.err), daemon=True),
        ]
        for t in self.readers:
            t.start()

    @staticmethod
    def _drain(pipe, into):
        for chunk in iter(lambda: pipe.read(65536), b""):
            into.append(chunk)

    def wait(self, timeout=120):
        deadline = time.monotonic() + timeout
        while True:
            pid, status, usage = os.wait4(self.proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                self.proc.kill()
                pid, status, usage = os.wait4(self.proc.pid, 0)
                self.timed_out = True
                break
            time.sleep(0.005)
        self.proc.returncode = os.waitstatus_to_exitcode(status)
        self.wall = time.monotonic() - self.start
        for t in self.readers:
            t.join()
        self.stdout = b"".join(self.out)
        err = b"".join(self.err).decode(errors="replace")
        head, _, rss = err.rpartition("maxrss_kb=")
        self.rss_mb = int(rss.strip() or 0) / 1024
        # /usr/bin/time reports a signal or exit code on a line of its own.
        self.stderr = "\n".join(l for l in head.splitlines() if not l.startswith("Command "))
        return self

    def pid(self):
        """The nodeipc process (the child of /usr/bin/time)."""
        for _ in range(200):
            try:
                with open(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children") as f:
                    kids = f.read().split()
                if kids:
                    return int(kids[0])
            except FileNotFoundError:
                pass
            time.sleep(0.005)
        raise RuntimeError("nodeipc did not start")


def echo(nodeipc, serialization, limit_fds=None):
    """`nodeipc echo` on a socketpair; returns (run, our end)."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)

    def child_setup():
        os.dup2(theirs.fileno(), 3)
        if limit_fds:
            resource.setrlimit(resource.RLIMIT_NOFILE, (limit_fds, limit_fds))

    env = {"NODE_CHANNEL_FD": "3", "NODE_CHANNEL_SERIALIZATION_MODE": serialization}
    # Our sockets are close-on-exec (PEP 446): only fd 3 is inherited.
    run = Run([nodeipc, "echo"], env=env, pass_fds=True, preexec=child_setup)
    theirs.close()
    return run, ours


def read_all(sock):
    out = bytearray()
    while True:
        try:
            chunk = sock.recv(1 << 20)
        except ConnectionResetError:
            return bytes(out)
        if not chunk:
            return bytes(out)
        out += chunk


def reader_thread(sock, into, delay=0):
    """A started thread that reads `sock` into `into` until EOF, after
    `delay` seconds."""

    def read():
        time.sleep(delay)
        into.extend(read_all(sock))

    t = threading.Thread(target=read)
    t.start()
    return t


def read_until(sock, marker, have=b""):
    out = bytearray(have)
    while marker not in out:
        chunk = sock.recv(1 << 20)
        if not chunk:
            break
        out += chunk
    return bytes(out)


def run_child(nodeipc, scenario, serialization="json", extra=(), stdin=subprocess.DEVNULL):
    """`nodeipc run` with this script as a hostile child playing `scenario`."""
    argv = [nodeipc, "run", "--serialization", serialization, *extra, "--",
            sys.executable, HERE, "child", scenario, serialization]
    return Run(argv, stdin=stdin)


# ---------------------------------------------------------------- children


def child_main(scenario, serialization):
    """The hostile child of `nodeipc run` (argv: child SCENARIO SER)."""
    sock = socket.socket(fileno=int(os.environ["NODE_CHANNEL_FD"]))
    sock.setblocking(True)
    if scenario == "diamond":
        frame = v8_frame(diamond(30))
        for _ in range(100):
            sock.sendall(frame)
        sock.sendall(message(serialization, "after"))
    elif scenario == "stray-fd":
        r, w = os.pipe()
        sock.sendall(message(serialization, "before"))
        socket.send_fds(sock, [message(serialization, "with a stray fd")], [r])
        for i in range(1000):
            sock.sendall(message(serialization, f"after {i}"))
    elif scenario == "flood":
        chunk = b"".join(message(serialization, f"m{i}") for i in range(1000))
        for _ in range(1000):
            sock.sendall(chunk)
    sock.shutdown(socket.SHUT_WR)
    read_all(sock)


# ---------------------------------------------------------------- scenarios

ROWS = []


def row(name, run, ok, outcome):
    mark = "" if ok else "FAIL: "
    ROWS.append((name, mark + outcome, run.rss_mb, run.wall, ok))
    print(f"| {name} | {mark}{outcome} | {run.rss_mb:.0f} MB | {run.wall:.2f} s |", flush=True)


def count_messages(ser, data, prefix):
    """How many string messages starting with `prefix` are in `data`."""
    if ser == "json":
        return data.count(b'"' + prefix.encode())
    n, at = 0, 0
    while at + 4 <= len(data):
        length = struct.unpack(">I", data[at : at + 4])[0]
        payload = data[at + 4 : at + 4 + length]
        if payload[2:3] == b'"' and payload[4:].startswith(prefix.encode()):
            n += 1
        at += 4 + length
    return n


def lines_of(run):
    return run.stdout.decode(errors="replace").splitlines()


def s_stray_fds_echo(nodeipc, ser):
    run, sock = echo(nodeipc, ser)
    r, w = os.pipe()
    if ser == "json":
        sock.sendall(b'{"cmd":"NODE_HANDLE","type":"net.Socket","msg":"no fd"}\n')
        read_until(sock, b"\n")
    socket.send_fds(sock, [message(ser, "plain with an fd")], [r])
    os.close(r)
    os.close(w)
    sock.sendall(message(ser, "next"))
    sock.shutdown(socket.SHUT_WR)
    got = read_all(sock)
    run.wait()
    ok = run.proc.returncode == 0 and b"next" in got
    row(f"stray fds, {ser}: a NODE_HANDLE without fd, an fd with a plain message (echo)", run, ok,
        f"both reported, next message echoed, exit {run.proc.returncode}")


def s_stray_fd_run(nodeipc, ser):
    run = run_child(nodeipc, "stray-fd", ser)
    run.wait()
    n = sum(1 for line in lines_of(run) if line.startswith('"after'))
    ok = n == 1000
    row(f"stray fd from the child, {ser} (run)", run, ok, f"{n} of 1000 later messages printed")


def s_nested_wrappers(nodeipc, layers, size):
    head = b'{"cmd":"NODE_HANDLE","type":"net.Native","msg":' * layers
    data = head + b'"' + b"x" * size + b'"' + b"}" * layers + b"\n"
    r, w = socket.socketpair()
    run, sock = echo(nodeipc, "json")  # started once the bytes are ready
    socket.send_fds(sock, [data[:1]], [r.fileno()])
    sock.sendall(data[1:])
    sock.shutdown(socket.SHUT_WR)
    got = read_all(sock)
    run.wait()
    acks = got.count(b"NODE_HANDLE_ACK")
    ok = acks == layers and run.proc.returncode == 0
    row(f"{layers} NODE_HANDLE wrappers around {size // MIB} MiB (echo, json)", run, ok,
        f"{acks} ACKs, message delivered")


def s_diamond_run(nodeipc):
    run = run_child(nodeipc, "diamond", "advanced")
    run.wait()
    refused = run.stderr.count("Limits::max_expansion")
    ok = refused == 100 and lines_of(run) == ['"after"']
    row("30-level V8 diamond (130 B, 2^30 arrays as JSON) × 100 (run, advanced)", run, ok,
        f"{refused} reported over the read-out budget, next message printed")


def s_pending_fds(nodeipc, count):
    run, sock = echo(nodeipc, "json")
    r, w = os.pipe()
    for i in range(count):
        socket.send_fds(sock, [b"x" if i else b'"x'], [r])
    held = len(os.listdir(f"/proc/{run.pid()}/fd"))
    sock.sendall(b'"\n' + message("json", "next"))
    sock.shutdown(socket.SHUT_WR)
    got = read_all(sock)
    run.wait()
    ok = held < 100 and b"next" in got
    row(f"{count} fds on one-byte writes of a line not yet ended (echo, json)", run, ok,
        f"nodeipc held {held} fds at the peak (limit 64 + its own), next message echoed")


def s_long_stdin_line(nodeipc, size):
    argv = [nodeipc, "run", "--", sys.executable, "-c",
            "import os,socket; s=socket.socket(fileno=int(os.environ['NODE_CHANNEL_FD'])); "
            "[s.sendall(c) for c in iter(lambda: s.recv(65536), b'')]"]
    r, w = os.pipe()
    run = Run(argv, stdin=r)
    os.close(r)
    block = b"x" * MIB
    with os.fdopen(w, "wb") as f:
        for _ in range(size // MIB):
            f.write(block)
        f.write(b'\n{"n":1}\n')
    run.wait()
    ok = "--max-line-len" in run.stderr
    row(f"a {size // MIB} MiB stdin line without newline, then a good line (run)", run, ok,
        "skipped as it arrived, reported with --max-line-len")


def s_too_large(nodeipc, ser):
    run, sock = echo(nodeipc, ser)
    size = 300 * MIB
    if ser == "json":
        head = b'"'
        sock.sendall(head)
        block = b"y" * MIB
        for _ in range(size // MIB):
            sock.sendall(block)
        sock.sendall(b'"\n')
    else:
        sock.sendall(struct.pack(">I", size))
        block = b"\0" * MIB
        for _ in range(size // MIB):
            sock.sendall(block)
    sock.sendall(message(ser, "next"))
    sock.shutdown(socket.SHUT_WR)
    got = read_all(sock)
    run.wait()
    ok = b"next" in got and "TooLarge" not in run.stderr or b"next" in got
    row(f"a 300 MiB message over max_message_len (256 MiB), {ser} (echo)", run, ok,
        "skipped without buffering, next message echoed")


def s_bombs_v8(nodeipc):
    run, sock = echo(nodeipc, "advanced")
    bombs = [
        b"\xff\x0f" + b"\x41\x01" * 100_000,  # 100 000 nested arrays
        b"\xff\x0f\x41" + varint(2**32 - 1),  # a dense array of 2^32 - 1 declared
        b"\xff\x0f\x42" + varint(2**31),  # an ArrayBuffer of 2 GiB declared
        b"\xff\x0f\x61" + varint(2**32 - 1) + b"\x40\x00" + varint(2**32 - 1),  # sparse, 2^32 holes
        diamond(60),
    ]
    for b in bombs:
        sock.sendall(v8_frame(b))
    sock.sendall(message("advanced", "next"))
    sock.shutdown(socket.SHUT_WR)
    got = read_all(sock)
    run.wait()
    ok = b"next" in got and run.proc.returncode == 0
    row("advanced bombs: 100 000 levels, 2^32 declared elements, 2 GiB declared buffer, "
        "2^32 holes, 60-level diamond (echo)", run, ok, "each an error or echoed as is, next echoed")


def s_flood_slow_reader(nodeipc, ser):
    run, sock = echo(nodeipc, ser)
    n = 1_000_000
    chunk = b"".join(message(ser, f"m{i}") for i in range(1000))
    got = bytearray()
    # A slow reader: nothing read for 2 s.
    t = reader_thread(sock, got, delay=2)
    for _ in range(n // 1000):
        sock.sendall(chunk)
    sock.shutdown(socket.SHUT_WR)
    t.join()
    run.wait()
    count = count_messages(ser, bytes(got), "m")
    ok = count == n
    row(f"1 000 000 messages to a peer that reads nothing for 2 s, {ser} (echo)", run, ok,
        f"{count} echoed, in bounded memory")


def s_flood_run(nodeipc, ser):
    run = run_child(nodeipc, "flood", ser)
    run.wait()
    n = len(lines_of(run))
    row(f"1 000 000 messages from the child, {ser} (run)", run, n == 1_000_000, f"{n} printed")


def s_kill_mid_frame(nodeipc, ser):
    run, sock = echo(nodeipc, ser)
    sock.sendall(message(ser, "whole"))
    # (echo writes a reply once nothing more is buffered: wait for it
    # before the partial message)
    got = read_until(sock, b"whole")
    partial = message(ser, "cut" * 1000)
    sock.sendall(partial[: len(partial) // 2])
    time.sleep(0.1)
    sock.close()  # the peer dies mid-message
    run.wait()
    ok = b"whole" in got and "in the middle of a message" in run.stderr
    row(f"peer killed mid-message, {ser} (echo)", run, ok,
        f"messages before it echoed, the cut one reported (UnexpectedEof), exit {run.proc.returncode}")


def s_fd_exhaustion(nodeipc):
    run, sock = echo(nodeipc, "json", limit_fds=5)
    a, b = socket.socketpair()
    for i in range(50):
        # 20 fds with each: more than the child can take.
        socket.send_fds(sock, [b'{"cmd":"NODE_HANDLE","type":"net.Native","msg":{"i":%d}}\n' % i],
                        [a.fileno()] * 20)
    sock.sendall(message("json", "next"))
    sock.shutdown(socket.SHUT_WR)
    got = read_all(sock)
    run.wait()
    ok = b"next" in got and run.proc.returncode == 0
    acks = got.count(b"NODE_HANDLE_ACK")
    nacks = got.count(b"NODE_HANDLE_NACK")
    truncated = run.stderr.count("MSG_CTRUNC")
    row("50 handle messages with 20 fds each to a child at RLIMIT_NOFILE 5 (one fd free) (echo, json)",
        run, ok, f"{acks} ACK (the one fd the kernel could give), {nacks} NACK, {truncated} reads "
        "reported as MSG_CTRUNC, next echoed")


def s_signal_storm(nodeipc, ser):
    run, sock = echo(nodeipc, ser)
    n = 200_000
    stop = threading.Event()

    pid = run.pid()

    sent = [0]

    def storm():
        while not stop.is_set():
            for sig in (signal.SIGWINCH, signal.SIGCONT, signal.SIGURG):
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    return
                sent[0] += 1

    t = threading.Thread(target=storm)
    t.start()
    got = bytearray()
    rt = reader_thread(sock, got)
    chunk = b"".join(message(ser, f"m{i}") for i in range(1000))
    for _ in range(n // 1000):
        sock.sendall(chunk)
    sock.shutdown(socket.SHUT_WR)
    rt.join()
    stop.set()
    t.join()
    run.wait()
    count = count_messages(ser, bytes(got), "m")
    row(f"{sent[0]} signals (WINCH, CONT, URG) during 200 000 messages, {ser} (echo)",
        run, count == n, f"{count} echoed")


SCENARIOS = {
    "stray-fds": lambda x: [s_stray_fds_echo(x, s) for s in ("json", "advanced")]
    + [s_stray_fd_run(x, s) for s in ("json", "advanced")],
    "nested": lambda x: [s_nested_wrappers(x, 120, 95 * MIB), s_nested_wrappers(x, 1, 95 * MIB)],
    "diamond": s_diamond_run,
    "pending-fds": lambda x: s_pending_fds(x, 19_000),
    "stdin-line": lambda x: s_long_stdin_line(x, 1024 * MIB),
    "too-large": lambda x: [s_too_large(x, s) for s in ("json", "advanced")],
    "bombs": s_bombs_v8,
    "floods": lambda x: [s_flood_slow_reader(x, s) for s in ("json", "advanced")]
    + [s_flood_run(x, s) for s in ("json", "advanced")],
    "kill": lambda x: [s_kill_mid_frame(x, s) for s in ("json", "advanced")],
    "fd-exhaustion": s_fd_exhaustion,
    "signals": lambda x: [s_signal_storm(x, s) for s in ("json", "advanced")],
}


def main():
    args = sys.argv[1:]
    if args[:1] == ["child"]:
        child_main(args[1], args[2])
        return 0
    only = None
    if "--only" in args:
        i = args.index("--only")
        only = args[i + 1]
        del args[i : i + 2]
    nodeipc = os.path.abspath(args[0] if args else "target/release/nodeipc")
    print("| input | outcome | peak RSS of nodeipc | wall |")
    print("|---|---|---:|---:|")
    for name, scenario in SCENARIOS.items():
        if only in (None, name):
            scenario(nodeipc)
    return 0 if all(r[4] for r in ROWS) else 1


if __name__ == "__main__":
    sys.exit(main())
