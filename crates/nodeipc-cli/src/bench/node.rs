//! Node ↔ Node cells: `node node-baseline.js --json …`, one fresh process
//! pair per cell, exactly as `run-all.js` runs them.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use super::BoxError;
use super::measure::Measured;
use super::workload::{Cell, mode_str};

/// Longest one `node-baseline.js` run may take.
const TIMEOUT: Duration = Duration::from_secs(120);

/// Where `node-baseline.js` and `node-peer.js` are.
#[derive(Debug, Clone)]
pub struct BenchDir(PathBuf);

impl BenchDir {
    /// `--node-bench-dir`, else `$NODEIPC_NODE_BENCH_DIR`, else
    /// `../shared/bench` from the current directory or from this
    /// workspace (where `cargo run` builds it), else `shared/bench` from
    /// the current directory.
    pub fn find(flag: Option<PathBuf>) -> Result<BenchDir, BoxError> {
        let (candidates, origin): (Vec<PathBuf>, _) = if let Some(dir) = flag {
            (vec![dir], "--node-bench-dir")
        } else if let Some(dir) = std::env::var_os("NODEIPC_NODE_BENCH_DIR") {
            (vec![dir.into()], "NODEIPC_NODE_BENCH_DIR")
        } else {
            let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
            let cwd = std::env::current_dir().unwrap_or_default();
            (
                vec![
                    cwd.join("../shared/bench"),
                    workspace.join("../shared/bench"),
                    cwd.join("shared/bench"),
                ],
                "the default search",
            )
        };
        for dir in &candidates {
            if dir.join("node-peer.js").is_file() && dir.join("node-baseline.js").is_file() {
                return Ok(BenchDir(dir.canonicalize().unwrap_or_else(|_| dir.clone())));
            }
        }
        let tried: Vec<String> = candidates.iter().map(|d| d.display().to_string()).collect();
        Err(format!(
            "no Node benchmark directory (node-peer.js + node-baseline.js) found by {origin}; \
             tried: {}. Pass --node-bench-dir DIR or set NODEIPC_NODE_BENCH_DIR, \
             or leave the Node pairs out with --pair rust-rust",
            tried.join(", ")
        )
        .into())
    }

    pub fn peer(&self) -> PathBuf {
        self.0.join("node-peer.js")
    }

    pub fn baseline(&self) -> PathBuf {
        self.0.join("node-baseline.js")
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

/// Runs one cell Node ↔ Node and reads its `--json` line.
pub async fn run(node: &OsString, dir: &BenchDir, cell: &Cell) -> Result<Measured, BoxError> {
    let mut cmd = tokio::process::Command::new(node);
    cmd.arg(dir.baseline())
        .args(["--json", "--serialization", cell.serialization.as_str()])
        .args(["--mode", mode_str(cell.mode)])
        .args(["--size", cell.size.as_str()])
        .args(["--direction", cell.peer_direction().as_str()])
        .args(["--count", &cell.count.to_string()])
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let out = tokio::time::timeout(TIMEOUT, cmd.output())
        .await
        .map_err(|_| format!("node-baseline.js: no result after {TIMEOUT:?}"))?
        .map_err(|e| format!("cannot start {}: {e}", node.to_string_lossy()))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "node-baseline.js exited with {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )
        .into());
    }
    let line = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(line).map_err(|e| format!("node-baseline.js printed {line:?}: {e}").into())
}
