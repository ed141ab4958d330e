//! The Node ends of the benchmark: `node-bench.js` (this directory),
//! embedded in the binary and written to a temporary file, run as the
//! child of Rust → Node cells (`peer`) and as the whole Node ↔ Node pair
//! (`baseline`, which forks itself as the peer). One fresh process pair per
//! cell.

use std::ffi::OsString;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use super::BoxError;
use super::measure::Measured;
use super::workload::{Cell, warmup};

/// Longest one Node ↔ Node cell may take.
const TIMEOUT: Duration = Duration::from_secs(120);

/// The script: both Node roles, the cell from `BENCH_*` variables.
const NODE_BENCH_JS: &str = include_str!("node-bench.js");

/// `node-bench.js`, written out for this run (removed on drop).
#[derive(Debug)]
pub struct NodeScript(TempFile);

impl NodeScript {
    /// Writes the embedded script to the temporary directory.
    pub fn write() -> Result<NodeScript, BoxError> {
        TempFile::new("node-bench.js", NODE_BENCH_JS).map(NodeScript)
    }

    /// Where it is: `node PATH peer` is the child end of a cell (its
    /// `BENCH_*` variables from `Cell::peer_env`).
    pub fn path(&self) -> &Path {
        &self.0.0
    }
}

/// A file in the temporary directory, unique to this process, removed
/// when dropped.
#[derive(Debug)]
pub(super) struct TempFile(pub(super) PathBuf);

impl TempFile {
    pub(super) fn new(name: &str, contents: &str) -> Result<TempFile, BoxError> {
        let path =
            std::env::temp_dir().join(format!("nodeipc-bench-{}-{name}", std::process::id()));
        let create = || {
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
        };
        // A left-over of an earlier process with our pid: replace it.
        let mut file = match create() {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                std::fs::remove_file(&path)?;
                create()
            }
            r => r,
        }
        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        let temp = TempFile(path);
        file.write_all(contents.as_bytes())
            .map_err(|e| format!("cannot write {}: {e}", temp.0.display()))?;
        Ok(temp)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Runs one cell Node ↔ Node (`node node-bench.js baseline`) and reads
/// the line it prints.
pub async fn run(node: &OsString, script: &NodeScript, cell: &Cell) -> Result<Measured, BoxError> {
    let mut cmd = tokio::process::Command::new(node);
    cmd.arg(script.path())
        .arg("baseline")
        .envs(cell.peer_env())
        .env("BENCH_WARMUP", warmup(cell.count).to_string())
        .env("BENCH_SERIALIZATION", cell.serialization.as_str())
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let out = tokio::time::timeout(TIMEOUT, cmd.output())
        .await
        .map_err(|_| format!("node-bench.js baseline: no result after {TIMEOUT:?}"))?
        .map_err(|e| format!("cannot start {}: {e}", node.to_string_lossy()))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "node-bench.js baseline exited with {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )
        .into());
    }
    let line = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(line)
        .map_err(|e| format!("node-bench.js baseline printed {line:?}: {e}").into())
}
