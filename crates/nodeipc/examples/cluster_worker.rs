//! A Rust HTTP/1.1 worker of a Node `cluster` primary.
//!
//! ```js
//! // primary.js: node primary.js  (NODE_CLUSTER_SCHED_POLICY=none for SCHED_NONE)
//! const cluster = require('node:cluster');
//! cluster.setupPrimary({ exec: 'worker', execPath: 'target/release/examples/cluster_worker' });
//! for (let i = 0; i < 2; i++) cluster.fork({ PORT: '8000' });
//! cluster.on('listening', (w, addr) => console.log(`worker ${w.id} listening on ${addr.port}`));
//! ```
//!
//! Each worker listens through the primary on `PORT` (default 8000) and
//! answers every request with one fixed response naming itself (`worker
//! <id> pid <pid>`). A message from the primary is answered with
//! `{ worker: <id>, got: <message> }`. On `worker.disconnect()` it stops
//! accepting, lets the connections in flight finish, and exits 0.
//!
//! `UDP_PORT` set: the worker also binds that UDP port through the primary
//! (a socket all workers share) and answers each datagram with its body.
//! `UNIX_PATH` set: it also serves HTTP on a unix socket at that path,
//! through the primary (which listens there, or binds it for every worker
//! under `SCHED_NONE`).
//!
//! `LAZY=1` makes a worker at its limit: it holds one connection it has
//! not accepted and refuses the rest (Node hands them to another worker)
//! until the first message from the primary. `tests/cluster_worker.rs` runs it.

use std::net::SocketAddr;

use nodeipc::cluster::Worker;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

#[tokio::main(flavor = "current_thread")]
async fn main() -> nodeipc::Result<()> {
    let worker = Worker::from_env()?;
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(8000);
    let host = std::env::var("HOST").unwrap_or_else(|_| "0.0.0.0".into());
    let addr: SocketAddr = format!("{host}:{port}")
        .parse()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let lazy = std::env::var_os("LAZY").is_some_and(|v| v == "1");
    let listener = match lazy {
        true => worker.listen_with_backlog(addr, 1).await?,
        false => worker.listen(addr).await?,
    };
    let mut accepting = !lazy;
    let body = format!("worker {} pid {}\n", worker.id(), std::process::id());
    if let Some(port) = std::env::var("UDP_PORT").ok().and_then(|p| p.parse().ok()) {
        let socket = worker.bind_udp(SocketAddr::new(addr.ip(), port)).await?;
        tokio::spawn(answer_datagrams(socket, body.clone()));
    }
    if let Some(path) = std::env::var_os("UNIX_PATH") {
        let unix = worker.listen_unix(path).await?;
        let body = body.clone();
        tokio::spawn(async move {
            while let Ok(stream) = unix.accept().await {
                tokio::spawn(serve(stream, body.clone()));
            }
        });
    }
    let id = worker.id();
    loop {
        tokio::select! {
            conn = listener.accept(), if accepting => match conn {
                Ok((stream, _)) => {
                    tokio::spawn(serve(stream, body.clone()));
                }
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionAborted => break,
                Err(e) => eprintln!("worker {id}: accept: {e}"),
            },
            msg = worker.recv() => match msg {
                Some(msg) => {
                    accepting = true;
                    let msg = msg.to_json().unwrap_or_default();
                    worker.send(&serde_json::json!({ "worker": id, "got": msg })).await?;
                }
                None => break,
            },
            () = worker.disconnected() => break,
        }
    }
    Ok(())
}

/// Answers each request on `stream` (keep-alive) with `body`.
async fn serve(
    mut stream: impl AsyncRead + AsyncWrite + Unpin,
    body: String,
) -> std::io::Result<()> {
    let response = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    loop {
        // One response per request head; requests carry no body here.
        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            buf.drain(..end + 4);
            stream.write_all(response.as_bytes()).await?;
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Answers each datagram on `socket` with `body`.
async fn answer_datagrams(socket: tokio::net::UdpSocket, body: String) -> std::io::Result<()> {
    let mut buf = [0u8; 1500];
    loop {
        let (_, peer) = socket.recv_from(&mut buf).await?;
        socket.send_to(body.as_bytes(), peer).await?;
    }
}
