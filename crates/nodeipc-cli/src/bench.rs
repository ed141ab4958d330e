//! `nodeipc bench`: the benchmark matrix.

use std::process::ExitCode;

/// Options of `nodeipc bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {}

/// Runs the benchmarks and prints the table.
pub fn run(_args: BenchArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    Err("not implemented yet".into())
}
