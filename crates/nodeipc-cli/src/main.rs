//! `nodeipc`: Node.js IPC from the shell. See `nodeipc --help`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod bench;
mod bridge;
mod cluster;

/// Node.js child_process IPC from the command line.
#[derive(Debug, Parser)]
#[command(name = "nodeipc", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a program with an IPC channel and bridge it to NDJSON on stdio.
    ///
    /// Each line of stdin is one JSON message for the child (it gets it with
    /// process.on('message')); each message the child sends (process.send)
    /// is printed as one line on stdout. The child's own stdout goes to
    /// stderr. End of stdin disconnects the child (unless --keep-open);
    /// messages it sends before it notices are still printed. The bridge
    /// ends when the child disconnects, or 100 ms after it exits. The exit
    /// code is the child's (128 + signal number if it was killed). Bad lines
    /// on stdin (not JSON, or longer than --max-line-len) are reported on
    /// stderr with their line number and skipped; blank lines are skipped.
    Run(bridge::RunArgs),
    /// Be a child that answers every message with the same message.
    ///
    /// Start it from Node with fork() (execPath) or spawn(..., {stdio:
    /// [0, 1, 2, 'ipc']}): a test peer for Node parents. Messages are echoed
    /// byte for byte; internal NODE_* messages are not echoed. A message
    /// that cannot be read (or a handle that cannot be taken) is reported
    /// on stderr and skipped. Exits 0 when the parent closes the channel,
    /// even with replies it did not read.
    Echo,
    /// Run an unmodified Node server as N workers sharing its port (Node's cluster).
    ///
    /// Each worker is started with NODE_UNIQUE_ID and an IPC channel, so in
    /// it `cluster.isWorker` is true and `server.listen(port)` gets its
    /// socket from this primary, as under Node's own cluster primary. A
    /// worker that dies is restarted (exponential backoff, at most
    /// --max-restarts a minute; its exit code or signal is logged). SIGHUP
    /// reloads without downtime: a new worker is started, and once it
    /// listens the old one is disconnected, one at a time. SIGTERM or SIGINT
    /// stops: no new connections, every worker disconnected (it finishes
    /// its connections and exits), killed after --grace seconds; the exit
    /// code is 0 when every worker left in time.
    ///
    /// Messages are NDJSON, one per line. A worker's process.send(m) is
    /// printed on stdout as {"worker": ID, "message": m}. A stdin line
    /// {"worker": ID, "message": m} goes to that worker's
    /// process.on('message'); without "worker" it goes to every worker. The
    /// workers' own stdout goes to stderr, with this command's log lines
    /// (prefixed "nodeipc cluster:").
    Cluster(Box<cluster::ClusterArgs>),
    /// Run the benchmark matrix (Rust <-> Rust, Rust <-> Node, Node <-> Node).
    Bench(Box<bench::BenchArgs>),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => bridge::run(args),
        Command::Echo => bridge::echo(),
        Command::Cluster(args) => cluster::run(*args),
        Command::Bench(args) => bench::run(*args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("nodeipc: {e}");
            ExitCode::from(2)
        }
    }
}
