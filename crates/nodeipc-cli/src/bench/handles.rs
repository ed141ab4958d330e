//! `nodeipc bench handles`: handles passed per second, Rust → Node beside
//! Node → Node in the same run (issue 6). Each message carries the same
//! listening TCP socket (a `net.Server`); the Node child closes each one
//! it gets. Both senders wait for the ACK of one handle before writing
//! the next (Node's rule), so this measures the handle round trip: the
//! `sendmsg`/`recvmsg` with `SCM_RIGHTS`, the child turning the fd into a
//! server, its ACK, and the wake-ups between.

use std::ffi::OsString;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use nodeipc::Serialization;
use serde_json::{Value, json};

use super::BoxError;
use super::node::TempFile;
use super::workload::SerializationArg;

const NODE_HANDLES_JS: &str = include_str!("node-handles.js");

/// Longest one run may take.
const TIMEOUT: Duration = Duration::from_secs(120);

/// Options of `nodeipc bench handles`.
#[derive(Debug, clap::Args)]
pub struct HandlesArgs {
    /// The node binary.
    #[arg(long, value_name = "PATH", default_value = "node")]
    node: OsString,

    /// Handles per run.
    #[arg(long, default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    count: u64,

    /// Runs per pair; the table shows the median.
    #[arg(long, value_name = "N", default_value_t = 3,
          value_parser = clap::value_parser!(u32).range(1..))]
    repeat: u32,

    /// Serializations to run.
    #[arg(long, value_delimiter = ',', default_value = "json,advanced")]
    serialization: Vec<SerializationArg>,
}

/// Runs the handle benchmark and prints its table.
pub fn run(args: HandlesArgs) -> Result<ExitCode, BoxError> {
    let script = TempFile::new("node-handles.js", NODE_HANDLES_JS)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    println!(
        "Handles passed per second ({} per run, median of {}; higher is better)\n",
        args.count, args.repeat
    );
    println!("| serialization | Rust → Node | Node → Node | ratio |");
    println!("|---|---|---|---|");
    for &s in &args.serialization {
        let s: Serialization = s.as_str().parse()?;
        let mut rust = Vec::new();
        let mut node = Vec::new();
        // Alternating, so both pairs see the same machine.
        for _ in 0..args.repeat {
            rust.push(rt.block_on(rust_to_node(&args, &script, s))?);
            node.push(rt.block_on(node_to_node(&args, &script, s))?);
        }
        let (r, n) = (median(rust), median(node));
        println!("| {s} | {r:.0} /s | {n:.0} /s | {:.2}× |", r / n);
    }
    Ok(ExitCode::SUCCESS)
}

fn median(mut runs: Vec<f64>) -> f64 {
    runs.sort_by(f64::total_cmp);
    runs[runs.len() / 2]
}

/// This process sends to `node node-handles.js child`; handles per second.
async fn rust_to_node(
    args: &HandlesArgs,
    script: &TempFile,
    s: Serialization,
) -> Result<f64, BoxError> {
    let mut cmd = nodeipc::Command::new(&args.node);
    cmd.arg(&script.0).arg("child").serialization(s);
    cmd.as_tokio_mut().kill_on_drop(true);
    let (mut child, mut ch) = cmd.spawn()?;
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let run = async {
        ch.recv::<Value>().await?.ok_or("the Node child left")?;
        let started = Instant::now();
        for i in 0..args.count {
            // By reference: a duplicate each time, as Node sends its server.
            ch.send_with_handle(&json!({ "i": i }), &listener).await?;
        }
        ch.send(&json!({ "end": true })).await?;
        let done: Value = ch.recv().await?.ok_or("the Node child left")?;
        let secs = started.elapsed().as_secs_f64();
        check(&done["done"], args.count)?;
        Ok::<_, BoxError>(args.count as f64 / secs)
    };
    let rate = tokio::time::timeout(TIMEOUT, run)
        .await
        .map_err(|_| format!("Rust → Node: no result after {TIMEOUT:?}"))??;
    ch.disconnect().await?;
    child.wait().await?;
    Ok(rate)
}

/// `node node-handles.js parent`; handles per second.
async fn node_to_node(
    args: &HandlesArgs,
    script: &TempFile,
    s: Serialization,
) -> Result<f64, BoxError> {
    let mut cmd = tokio::process::Command::new(&args.node);
    cmd.arg(&script.0)
        .args(["parent", &args.count.to_string(), s.as_str()])
        .kill_on_drop(true);
    let out = tokio::time::timeout(TIMEOUT, cmd.output())
        .await
        .map_err(|_| format!("Node → Node: no result after {TIMEOUT:?}"))??;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "node-handles.js parent exited with {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )
        .into());
    }
    let got: Value = serde_json::from_str(stdout.trim())
        .map_err(|e| format!("node-handles.js printed {stdout:?}: {e}"))?;
    check(&got["handles"], args.count)?;
    let secs = got["secs"]
        .as_f64()
        .ok_or("node-handles.js printed no secs")?;
    Ok(args.count as f64 / secs)
}

fn check(got: &Value, count: u64) -> Result<(), String> {
    if got.as_u64() == Some(count) {
        Ok(())
    } else {
        Err(format!("the Node child got {got} handles of {count}"))
    }
}
