//! Node ↔ Node cells: `node node-baseline.js --json …`, one fresh process
//! pair per cell, exactly as `run-all.js` runs them; the Node peers'
//! scripts, and the 1 MiB Buffer size they lack (`node-buffer.js`).

use std::ffi::OsString;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use super::BoxError;
use super::measure::Measured;
use super::workload::{Cell, mode_str};

/// Longest one `node-baseline.js` run may take.
const TIMEOUT: Duration = Duration::from_secs(120);

/// `node-buffer.js`: preloaded into the shared scripts, it adds the
/// `1mbuf` size (`{i, b}`, `b` a 1 MiB Buffer) that `shared/bench` lacks.
const NODE_BUFFER_JS: &str = include_str!("node-buffer.js");

/// Where `node-baseline.js` and `node-peer.js` are, and our
/// `node-buffer.js` (written to a temporary file, removed on drop).
#[derive(Debug)]
pub struct BenchDir {
    dir: PathBuf,
    node_buffer_js: TempFile,
}

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
                return Ok(BenchDir {
                    dir: dir.canonicalize().unwrap_or_else(|_| dir.clone()),
                    node_buffer_js: TempFile::new("node-buffer.js", NODE_BUFFER_JS)?,
                });
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

    /// `node` arguments that run `node-peer.js` for `cell`.
    pub fn peer(&self, cell: &Cell) -> Vec<OsString> {
        self.script(cell, "node-peer.js")
    }

    /// `node` arguments that run `node-baseline.js` for `cell`.
    pub fn baseline(&self, cell: &Cell) -> Vec<OsString> {
        self.script(cell, "node-baseline.js")
    }

    /// `[--require node-buffer.js] DIR/name`: the preload only for the
    /// Buffer size, so the other cells run the shared scripts as they are.
    fn script(&self, cell: &Cell, name: &str) -> Vec<OsString> {
        let mut args = Vec::new();
        if cell.size.is_buffer() {
            args.push("--require".into());
            args.push(self.node_buffer_js.0.clone().into());
        }
        args.push(self.dir.join(name).into());
        args
    }

    pub fn path(&self) -> &Path {
        &self.dir
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

/// Runs one cell Node ↔ Node and reads its `--json` line.
pub async fn run(node: &OsString, dir: &BenchDir, cell: &Cell) -> Result<Measured, BoxError> {
    let mut cmd = tokio::process::Command::new(node);
    cmd.args(dir.baseline(cell))
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
