//! A Rust worker that answers connections a Node front-end accepted: Node
//! (`examples/frontend.js`) listens, and hands each accepted socket over
//! with `worker.send(msg, socket)`; this worker gets it from
//! `recv_with_handle` and answers on it. It uses the blocking channel, one
//! thread per connection.
//!
//! ```sh
//! cargo run --release --example socket_worker             # a few clients, then exit
//! cargo run --release --example socket_worker -- --serve --port 8081
//! ```
//!
//! Run by hand, it starts `node examples/frontend.js` with its own path,
//! and the front-end starts it again as its worker (with `'ipc'` in
//! `stdio`, so `NODE_CHANNEL_FD` is set): that second run is the worker.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;

use nodeipc::Handle;
use serde::Deserialize;

/// What the front-end sends with each socket.
#[derive(Debug, Deserialize)]
struct Connection {
    id: u64,
    from: String,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    if std::env::var_os("NODE_CHANNEL_FD").is_none() {
        return run_frontend();
    }
    let mut channel = nodeipc::blocking::Channel::from_env()?;
    let mut answering = Vec::new();
    while let Some((conn, handle)) = channel.recv_with_handle::<Connection>()? {
        match handle {
            Some(Handle::TcpStream(stream)) => {
                answering.push(std::thread::spawn(move || answer(conn, stream)));
            }
            other => eprintln!(
                "[worker] connection {} came without a socket: {other:?}",
                conn.id
            ),
        }
    }
    // The front-end disconnected: finish the connections in hand.
    for t in answering {
        if let Err(e) = t.join().expect("an answering thread panicked") {
            eprintln!("[worker] {e}");
        }
    }
    Ok(())
}

/// Reads one line from the client and answers it.
fn answer(conn: Connection, stream: TcpStream) -> std::io::Result<()> {
    // Node's sockets are non-blocking; this thread wants to block.
    stream.set_nonblocking(false)?;
    let mut line = String::new();
    BufReader::new(&stream).read_line(&mut line)?;
    writeln!(
        &stream,
        "Rust worker (pid {}) answers connection {} from {}: you said {:?}",
        std::process::id(),
        conn.id,
        conn.from,
        line.trim_end()
    )
}

/// Not started by Node: start the Node front-end, which starts us again.
fn run_frontend() -> Result<(), Box<dyn std::error::Error>> {
    let frontend = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/frontend.js");
    let status = std::process::Command::new("node")
        .arg(frontend)
        .arg(std::env::current_exe()?)
        .args(std::env::args_os().skip(1))
        .status()
        .map_err(|e| format!("cannot start `node {frontend}` (is Node.js installed?): {e}"))?;
    if !status.success() {
        return Err(format!("the front-end failed: {status}").into());
    }
    Ok(())
}
