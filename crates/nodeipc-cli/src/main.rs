//! `nodeipc`: Node.js IPC from the shell. See `nodeipc --help`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod bench;

/// Node.js child_process IPC from the command line.
#[derive(Debug, Parser)]
#[command(name = "nodeipc", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the benchmark matrix (Rust <-> Rust, Rust <-> Node, Node <-> Node).
    Bench(bench::BenchArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Bench(args) => bench::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("nodeipc: {e}");
            ExitCode::from(2)
        }
    }
}
