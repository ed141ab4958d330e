//! `nodeipc`: Node.js IPC from the shell. See `nodeipc --help`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod bench;
mod bridge;
mod cluster;

/// Talk to Node.js programs over their child_process IPC channel (what
/// fork() and process.send use), from the shell.
#[derive(Debug, Parser)]
#[command(
    name = "nodeipc",
    version,
    long_about = "Talk to Node.js programs over their child_process IPC channel (what fork() \
                  and process.send use), from the shell.\n\n\
                  `nodeipc run` starts a program with an IPC channel and turns the messages \
                  into JSON lines: one line of stdin is one message to the child, one line of \
                  stdout one message from it. `nodeipc echo` is a child for Node parents that \
                  sends back every message. `nodeipc bench` compares Rust and Node IPC on \
                  this machine. Run `nodeipc help <COMMAND>` for the details of each.",
    after_long_help = EXAMPLES
)]
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
    ///
    /// Every cell (a message size and a workload: throughput either way,
    /// round trips, 1 MiB strings) runs once for each pair of processes,
    /// one pair after the other, and the tables give the Rust pairs' ratios
    /// against Node <-> Node from the same run. The Node pairs need node
    /// (--node); their script is built into nodeipc. Without options: the
    /// json matrix, about 1.5 minutes on 2 cores. The workloads and how
    /// they are timed: docs/benchmarks.md in the nodeipc repository.
    Bench(Box<bench::BenchArgs>),
}

/// The examples at the end of `nodeipc --help`.
const EXAMPLES: &str = "\
Examples:
  # Send one message to a Node child and print its answer
  echo '{\"n\":1}' | nodeipc run -- node -e \"process.on('message', m => process.send({twice: m.n * 2}))\"
  {\"twice\":2}

  # Speak Node's 'advanced' serialization (Buffers, Maps, BigInts, Dates)
  nodeipc run --serialization advanced -- node worker.js < requests.ndjson > replies.ndjson

  # An echo child for a Node parent (fork() it, or spawn it with stdio [0, 1, 2, 'ipc'])
  node -e \"const c = require('child_process').spawn('nodeipc', ['echo'], {stdio: [0, 1, 2, 'ipc']}); c.on('message', m => { console.log(m); c.disconnect(); }); c.send({hi: 1})\"

  # Rust vs Node IPC on this machine: a smoke run, then the full matrix (needs node)
  nodeipc bench --quick
  nodeipc bench --serialization json,advanced

Exit status: `run` exits with the child's code (128 + signal if it was killed), `echo` with 0
when its parent closes the channel, `bench` with 1 when a cell fails (or, with --check, a
target is missed); any command with 2 when nodeipc itself fails (a bad argument, a program
that cannot start).";

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
