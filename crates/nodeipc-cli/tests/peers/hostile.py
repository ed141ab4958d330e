"""Hostile peers of the nodeipc command, over a raw unix socket.

Python's socket.send_fds attaches fds to any bytes, which Node never
does: an fd with a plain message, a NODE_HANDLE line with no fd.

    hostile.py echo-parent NODEIPC   be the parent of `nodeipc echo`
    hostile.py run-child             be the child of `nodeipc run`
    hostile.py parent-leaves NODEIPC be a parent that leaves while a reply is pending
"""

import os
import socket
import subprocess
import sys


def spawn_echo(nodeipc, sock):
    """`nodeipc echo` with `sock` as its channel at fd 3."""

    def at_fd_3():
        os.dup2(sock.fileno(), 3)
        os.set_inheritable(3, True)

    return subprocess.Popen(
        [nodeipc, "echo"],
        env=dict(os.environ, NODE_CHANNEL_FD="3"),
        close_fds=False,
        preexec_fn=at_fd_3,
        stderr=subprocess.PIPE,
    )


def read_all(sock):
    out = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:  # the child died with our bytes unread
            return out
        if not chunk:
            return out
        out += chunk


def echo_parent(nodeipc):
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    child = spawn_echo(nodeipc, theirs)
    theirs.close()
    stray, _keep = os.pipe()
    # A handle message with no fd: answered NACK. Wait for it, or the fd
    # below could come in the same read and be taken as this message's
    # (the rule Node follows too).
    ours.sendall(b'{"cmd":"NODE_HANDLE","type":"net.Socket","msg":"no fd"}\n')
    nack = b""
    while not nack.endswith(b"\n"):
        nack += ours.recv(1)
    sys.stdout.buffer.write(nack)
    # An fd with a plain message: echoed, the fd closed.
    socket.send_fds(ours, [b'"plain"\n'], [stray])
    os.close(stray)
    # Then a normal message, which must still be echoed.
    ours.sendall(b'{"n":1}\n')
    ours.shutdown(socket.SHUT_WR)
    sys.stdout.buffer.write(read_all(ours))
    _, err = child.communicate(timeout=20)
    sys.stderr.buffer.write(err)
    print("exit", child.returncode)


def parent_leaves(nodeipc):
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    child = spawn_echo(nodeipc, theirs)
    theirs.close()
    # The reply to this can only be written after we are gone.
    ours.sendall(b'{"n":1}\n')
    ours.close()
    _, err = child.communicate(timeout=20)
    sys.stderr.buffer.write(err)
    print("exit", child.returncode)


def run_child():
    sock = socket.socket(fileno=int(os.environ["NODE_CHANNEL_FD"]))
    stray, _keep = os.pipe()
    socket.send_fds(sock, [b'"one"\n'], [stray])
    os.close(stray)
    sock.sendall(b'"two"\n"three"\n')
    sock.close()


if __name__ == "__main__":
    role = sys.argv[1]
    if role == "echo-parent":
        echo_parent(sys.argv[2])
    elif role == "parent-leaves":
        parent_leaves(sys.argv[2])
    elif role == "run-child":
        run_child()
    else:
        sys.exit("unknown role " + role)
