//! A Rust supervisor that shares one TCP port among N Node HTTP workers:
//! it binds the port, starts `node examples/http-worker.js` N times, and
//! hands each worker the listening socket with a message
//! (`send_with_handle`). The workers are plain Node
//! (`process.on('message', (m, server) => http.createServer(…).listen(server))`):
//! Node's `cluster`, with a Rust primary.
//!
//! ```sh
//! cargo run --release --example supervisor                    # 2 workers, a few requests, exit
//! cargo run --release --example supervisor -- --workers 4 --port 8080 --serve   # until Ctrl-C
//! ```
//!
//! Without `--serve` it sends a few requests itself and prints which worker
//! answered each (the kernel picks; with few requests one worker may get
//! them all), then disconnects the workers, which exit.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};

use serde::{Deserialize, Serialize};

/// To a worker, with the listening socket.
#[derive(Serialize)]
struct Serve {
    cmd: &'static str,
    id: usize,
}

/// From a worker, once it serves.
#[derive(Deserialize)]
struct Listening {
    listening: usize,
    pid: u32,
}

struct Options {
    workers: usize,
    port: u16,
    serve: bool,
}

fn options() -> Result<Options, String> {
    let mut o = Options {
        workers: 2,
        port: 0,
        serve: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match a.as_str() {
            "--workers" => {
                o.workers = value("--workers")?
                    .parse()
                    .map_err(|e| format!("--workers: {e}"))?
            }
            "--port" => {
                o.port = value("--port")?
                    .parse()
                    .map_err(|e| format!("--port: {e}"))?
            }
            "--serve" => o.serve = true,
            other => {
                return Err(format!(
                    "unknown argument {other:?} (try --workers N, --port P, --serve)"
                ));
            }
        }
    }
    Ok(o)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let o = options()?;
    let worker = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/http-worker.js");
    let listener = TcpListener::bind(("127.0.0.1", o.port))?;
    let addr = listener.local_addr()?;

    let mut workers = Vec::new();
    for id in 0..o.workers {
        let (child, mut channel) = nodeipc::Command::new("node")
            .arg(worker)
            .spawn()
            .map_err(|e| format!("cannot start `node {worker}` (is Node.js installed?): {e}"))?;
        // By reference: each worker gets a duplicate, we keep ours.
        channel
            .send_with_handle(&Serve { cmd: "serve", id }, &listener)
            .await?;
        let ready: Listening = channel
            .recv()
            .await?
            .ok_or("a worker exited before serving")?;
        println!(
            "worker {} (pid {}) serves http://{addr}/",
            ready.listening, ready.pid
        );
        workers.push((child, channel));
    }
    // The workers hold their own copies; this process never accepts.
    drop(listener);

    if o.serve {
        println!("serving until Ctrl-C");
        for (mut child, _channel) in workers {
            let status = child.wait().await?;
            println!("a worker exited: {status}");
        }
        return Ok(());
    }

    let requests = 4 * o.workers;
    let answers = tokio::task::spawn_blocking(move || {
        (0..requests)
            .map(|_| get(addr))
            .collect::<std::io::Result<Vec<_>>>()
    })
    .await??;
    for answer in &answers {
        print!("GET / -> {answer}");
    }
    for (mut child, channel) in workers {
        channel.disconnect().await?; // the worker exits on 'disconnect'
        child.wait().await?;
    }
    println!("{requests} requests answered by Node workers on one Rust-bound port");
    Ok(())
}

/// One HTTP/1.0 GET; the body of the answer.
fn get(addr: SocketAddr) -> std::io::Result<String> {
    let mut s = TcpStream::connect(addr)?;
    s.write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")?;
    let mut response = String::new();
    s.read_to_string(&mut response)?;
    let body = response.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    Ok(body.to_string())
}
