//! `nodeipc bench`: the benchmark matrix of `docs/benchmarks.md`, run for
//! three pairs side by side, in one run:
//!
//! - **Rust ↔ Rust**: this process as parent, a second `nodeipc` process
//!   (`nodeipc bench peer`, hidden) as child, connected by
//!   `nodeipc::Command`. Two processes rather than `Channel::pair()` in one:
//!   the Node baseline is two processes too, so both pay the same
//!   scheduling and cross-CPU wake-ups, and a Rust user's workers are
//!   processes.
//! - **Rust → Node**: this process as parent, `node node-bench.js peer` as
//!   child.
//! - **Node ↔ Node**: `node node-bench.js baseline` (which forks itself as
//!   the peer with Node's own `fork()`).
//!
//! The Node script is `bench/node-bench.js`, embedded in the binary and
//! written to a temporary file, so an installed `nodeipc` needs only `node`.
//! - **socket**: the bare socketpair between two `nodeipc` processes, the
//!   payload bytes and nothing else (one-way cells of 64 KiB and more):
//!   the ceiling the kernel sets (`bench/socket.rs`).
//!
//! Every cell is a fresh process pair; the three pairs of a cell run one
//! after the other so they share the machine's state, and the table gives
//! their ratios.

mod handles;
mod measure;
mod node;
mod parent;
mod peer;
mod pin;
mod report;
mod socket;
mod workload;

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{ExitCode, Stdio};

use nodeipc::Serialization;

use measure::Outcome;
use node::NodeScript;
use report::{Machine, Row};
use workload::{Cell, Direction, Mode, Pair, SerializationArg, Size};

type BoxError = Box<dyn std::error::Error>;

/// Options of `nodeipc bench`.
///
/// Full run (the counts of `workload::default_count`): about 1½ minutes on
/// 2 cores.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BenchArgs {
    #[command(subcommand)]
    sub: Option<Sub>,

    /// The node binary.
    #[arg(long, value_name = "PATH", default_value = "node")]
    node: OsString,

    /// Small counts: a smoke run of a few seconds, not a measurement.
    #[arg(long)]
    quick: bool,

    /// Print one JSON document instead of the markdown tables.
    #[arg(long)]
    json: bool,

    /// Also write the JSON document to FILE.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,

    /// Serializations to run (the Rust pairs skip those nodeipc lacks).
    #[arg(long, value_delimiter = ',', default_value = "json")]
    serialization: Vec<SerializationArg>,

    /// Message sizes [default: all] (the seed workload counts as 1m;
    /// 1mbuf, a 1 MiB Buffer, runs with advanced only).
    #[arg(long, value_delimiter = ',')]
    size: Vec<Size>,

    /// Workloads [default: all].
    #[arg(long, value_delimiter = ',')]
    mode: Vec<Mode>,

    /// Throughput directions [default: both].
    #[arg(long, value_delimiter = ',')]
    direction: Vec<Direction>,

    /// Process pairs [default: all].
    #[arg(long, value_delimiter = ',')]
    pair: Vec<Pair>,

    /// Messages per cell, overriding the defaults (docs/benchmarks.md).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    count: Option<u64>,

    /// Runs of each cell per pair; the table shows the median run (by
    /// msgs/s, or by p50 for round trips).
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..))]
    repeat: u32,

    /// The CPU the pinned round-trip rows run on.
    #[arg(long, value_name = "CPU", default_value_t = 0)]
    pin_cpu: usize,

    /// Leave out the round-trip rows pinned to one CPU.
    #[arg(long)]
    no_pinned: bool,

    /// Exit 1 when a target is missed (and, always, when a cell fails).
    #[arg(long)]
    check: bool,
}

#[derive(Debug, clap::Subcommand)]
enum Sub {
    /// The Rust child end of the benchmark (node-bench.js peer's protocol).
    #[command(hide = true)]
    Peer,
    /// The other end of the `socket` pair (bare bytes on stdin).
    #[command(hide = true)]
    SocketPeer,
    /// Handles (sockets) passed per second, Rust -> Node beside Node -> Node.
    Handles(handles::HandlesArgs),
}

/// Runs the benchmarks and prints the table.
pub fn run(args: BenchArgs) -> Result<ExitCode, BoxError> {
    match args.sub {
        Some(Sub::Peer) => return peer::run(),
        Some(Sub::SocketPeer) => return socket::peer(),
        Some(Sub::Handles(args)) => return handles::run(args),
        None => {}
    }
    let pairs = or_all(&args.pair, &Pair::ALL);
    let cells = cells(&args);
    let notes = notes(&args);
    if cells.is_empty() {
        return Err(format!("the filters leave no cell to run. {}", notes.join(" ")).into());
    }
    let needs_node = pairs
        .iter()
        .any(|p| matches!(p, Pair::RustNode | Pair::NodeNode));
    let script = if needs_node {
        Some(NodeScript::write()?)
    } else {
        None
    };
    let machine = machine(&args.node, needs_node);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let rows = rt.block_on(run_cells(&args, &cells, &pairs, script.as_ref()))?;

    let doc = report::json(&machine, &rows, &notes, args.quick);
    if let Some(out) = &args.out {
        std::fs::write(out, format!("{doc:#}\n"))
            .map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    }
    if args.json {
        println!("{doc}");
    } else {
        print!(
            "{}",
            report::markdown(&machine, &rows, &pairs, &notes, args.quick)
        );
    }
    let failed = rows.iter().any(|r| {
        r.outcomes
            .iter()
            .any(|(_, o)| matches!(o, Outcome::Failed(_)))
    });
    let missed = report::targets(&rows).iter().any(|t| !t.met);
    Ok(if failed || (args.check && missed) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn or_all<T: Copy>(chosen: &[T], all: &[T]) -> Vec<T> {
    if chosen.is_empty() {
        all.to_vec()
    } else {
        chosen.to_vec()
    }
}

/// The matrix in its order (per serialization: throughput c2p then p2c by
/// size, round trips by size, the seed), filtered, with the pinned round
/// trips after the unpinned ones.
fn cells(args: &BenchArgs) -> Vec<Cell> {
    let sizes = or_all(&args.size, &Size::ALL);
    let modes = or_all(&args.mode, &[Mode::Throughput, Mode::Roundtrip, Mode::Seed]);
    let directions = or_all(&args.direction, &[Direction::C2p, Direction::P2c]);
    let count = |mode, size| {
        args.count.unwrap_or_else(|| {
            if args.quick {
                workload::quick_count(mode, size)
            } else {
                workload::default_count(mode, size)
            }
        })
    };
    let mut cells = Vec::new();
    for &serialization in &args.serialization {
        let cell = |mode, direction, size, pinned| Cell {
            serialization,
            mode,
            direction,
            size,
            count: count(mode, size),
            pinned,
        };
        let sizes: Vec<Size> = sizes
            .iter()
            .copied()
            .filter(|z| z.runs_in(serialization))
            .collect();
        if modes.contains(&Mode::Throughput) {
            for &d in &directions {
                for &size in &sizes {
                    cells.push(cell(Mode::Throughput, Some(d), size, false));
                }
            }
        }
        if modes.contains(&Mode::Roundtrip) {
            let pinned: &[bool] = if args.no_pinned || !pin::AVAILABLE {
                &[false]
            } else {
                &[false, true]
            };
            for &p in pinned {
                for &size in &sizes {
                    cells.push(cell(Mode::Roundtrip, None, size, p));
                }
            }
        }
        if modes.contains(&Mode::Seed)
            && sizes.contains(&Size::M1)
            && directions.contains(&Direction::C2p)
        {
            cells.push(cell(Mode::Seed, Some(Direction::C2p), Size::M1, false));
        }
    }
    cells
}

/// What the run leaves out of the matrix on purpose, for the report.
fn notes(args: &BenchArgs) -> Vec<String> {
    let sizes = or_all(&args.size, &Size::ALL);
    let left_out = args
        .serialization
        .iter()
        .any(|&z| sizes.iter().any(|size| !size.runs_in(z)));
    if left_out {
        vec![
            "The 1mbuf size (a 1 MiB Buffer) runs with advanced only: in json a Buffer \
             is {\"type\":\"Buffer\",\"data\":[…]}, ≈ 3.6 MB of numbers that arrive as \
             a plain array, not a Buffer (docs/decisions.md)."
                .to_owned(),
        ]
    } else {
        Vec::new()
    }
}

async fn run_cells(
    args: &BenchArgs,
    cells: &[Cell],
    pairs: &[Pair],
    script: Option<&NodeScript>,
) -> Result<Vec<Row>, BoxError> {
    let exe = std::env::current_exe()?;
    let mut rows = Vec::new();
    for cell in cells {
        let _pinned = if cell.pinned {
            Some(pin::pin_to(args.pin_cpu)?)
        } else {
            None
        };
        // Repeats are interleaved (R↔R, R→N, N↔N, R↔R, …) so that a slow
        // spell of the VM hits every pair alike.
        let mut runs: Vec<Vec<Outcome>> = vec![Vec::new(); pairs.len()];
        for rep in 0..args.repeat {
            if args.repeat > 1 {
                eprint!("{cell} [{}/{}]:", rep + 1, args.repeat);
            } else {
                eprint!("{cell}:");
            }
            for (k, &pair) in pairs.iter().enumerate() {
                let outcome = run_pair(pair, cell, &exe, &args.node, script).await;
                eprint!(" {} {}", pair.as_str(), progress(&outcome));
                runs[k].push(outcome);
            }
            eprintln!();
        }
        let outcomes = pairs
            .iter()
            .zip(runs)
            .map(|(&pair, outcomes)| (pair, measure::median(outcomes)))
            .collect();
        rows.push(Row {
            cell: *cell,
            outcomes,
        });
    }
    Ok(rows)
}

async fn run_pair(
    pair: Pair,
    cell: &Cell,
    exe: &std::path::Path,
    node: &OsString,
    script: Option<&NodeScript>,
) -> Outcome {
    let result = match pair {
        Pair::Socket => match socket::runs(cell) {
            Ok(()) => socket::run(exe, cell).await,
            Err(why) => return Outcome::Skipped(why),
        },
        Pair::NodeNode => {
            let script = script.expect("written when a Node pair is selected");
            node::run(node, script, cell).await
        }
        Pair::RustRust | Pair::RustNode => {
            let Ok(serialization) = cell.serialization.as_str().parse::<Serialization>() else {
                return Outcome::Skipped(format!(
                    "nodeipc does not speak the {} serialization yet",
                    cell.serialization.as_str()
                ));
            };
            let mut cmd = if pair == Pair::RustRust {
                let mut cmd = nodeipc::Command::new(exe);
                cmd.args(["bench", "peer"]);
                cmd
            } else {
                let script = script.expect("written when a Node pair is selected");
                let mut cmd = nodeipc::Command::new(node);
                cmd.arg(script.path()).arg("peer");
                cmd
            };
            cmd.serialization(serialization).stdin(Stdio::null());
            parent::run(cmd, cell).await
        }
    };
    match result {
        Ok(m) => Outcome::Ok(m),
        Err(e) => Outcome::Failed(e.to_string()),
    }
}

fn progress(o: &Outcome) -> String {
    match o {
        Outcome::Ok(measure::Measured::Throughput {
            msgs_per_sec,
            mb_per_sec,
            ..
        }) if *mb_per_sec > 0.0 => format!("{msgs_per_sec:.0} msgs/s {mb_per_sec:.1} MB/s;"),
        Outcome::Ok(measure::Measured::Throughput { msgs_per_sec, .. }) => {
            format!("{msgs_per_sec:.0} msgs/s;")
        }
        Outcome::Ok(measure::Measured::Latency {
            mean_us, p50_us, ..
        }) => {
            format!("mean {mean_us:.1} p50 {p50_us:.1} µs;")
        }
        Outcome::Skipped(_) => "skipped;".into(),
        Outcome::Failed(e) => format!("FAILED ({e});"),
    }
}

/// What the table's header says about this machine.
fn machine(node: &OsString, with_node: bool) -> Machine {
    let uname = rustix::system::uname();
    let kernel = format!(
        "{} {}",
        uname.sysname().to_string_lossy(),
        uname.release().to_string_lossy()
    );
    let node = if with_node {
        std::process::Command::new(node)
            .arg("--version")
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_else(|| "unknown".into())
    } else {
        "not run".into()
    };
    Machine {
        cpu: cpu_model().unwrap_or_else(|| "unknown CPU".into()),
        nproc: std::thread::available_parallelism().map_or(1, |n| n.get()),
        kernel,
        node,
        date: utc_now(),
    }
}

/// The CPU's model name: `/proc/cpuinfo` on Linux; elsewhere `sysctl`,
/// macOS's `machdep.cpu.brand_string` or the BSDs' `hw.model` (illumos has
/// neither: unknown).
fn cpu_model() -> Option<String> {
    if let Ok(info) = std::fs::read_to_string("/proc/cpuinfo") {
        return info
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, m)| m.trim().to_owned());
    }
    ["machdep.cpu.brand_string", "hw.model"]
        .into_iter()
        .find_map(|name| {
            let out = std::process::Command::new("sysctl")
                .args(["-n", name])
                .output()
                .ok()?;
            let model = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            (out.status.success() && !model.is_empty()).then_some(model)
        })
}

/// The current UTC time as `YYYY-MM-DDTHH:MM:SSZ`.
fn utc_now() -> String {
    utc_date(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    )
}

/// Seconds since the epoch as `YYYY-MM-DDTHH:MM:SSZ`.
fn utc_date(secs: u64) -> String {
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's civil_from_days.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        bench: BenchArgs,
    }

    fn cells_for(args: &[&str]) -> Vec<Cell> {
        let cli = Cli::try_parse_from(std::iter::once("bench").chain(args.iter().copied()))
            .expect("valid arguments");
        cells(&cli.bench)
    }

    #[test]
    #[cfg_attr(
        not(any(
            target_os = "linux",
            target_os = "android",
            target_os = "freebsd",
            target_os = "dragonfly"
        )),
        ignore = "no CPU pinning on this system, so no pinned rows"
    )]
    fn full_matrix_is_in_order_with_pinned_round_trips_last() {
        let cells = cells_for(&[]);
        // 2 directions × 4 sizes, 2 × 4 round trips, 1 seed.
        assert_eq!(cells.len(), 8 + 8 + 1);
        assert_eq!(cells[0].count, 500_000);
        assert_eq!(cells[0].direction, Some(Direction::C2p));
        assert_eq!(cells[4].direction, Some(Direction::P2c));
        assert!(!cells[8].pinned && cells[12].pinned);
        assert_eq!(cells[16].mode, Mode::Seed);
        assert_eq!(cells[16].count, 100);
    }

    #[test]
    fn filters_and_count_narrow_the_matrix() {
        let cells = cells_for(&["--mode", "roundtrip", "--size", "tiny,1k", "--no-pinned"]);
        assert_eq!(cells.len(), 2);
        assert!(
            cells
                .iter()
                .all(|c| c.mode == Mode::Roundtrip && c.direction.is_none())
        );
        let cells = cells_for(&["--size", "1m", "--direction", "p2c", "--count", "7"]);
        // The seed is child → parent only: no p2c seed.
        assert_eq!(cells.len(), 1 + 2);
        assert!(cells.iter().all(|c| c.count == 7 && c.size == Size::M1));
    }

    #[test]
    fn the_buffer_size_runs_with_advanced_only() {
        let cells = cells_for(&["--serialization", "json,advanced"]);
        let (json, advanced): (Vec<Cell>, Vec<Cell>) = cells
            .iter()
            .partition(|c| c.serialization == SerializationArg::Json);
        // json as before; advanced has one more size: 2 × 5, 2 × 5, 1 seed.
        assert_eq!((json.len(), advanced.len()), (17, 21));
        assert!(json.iter().all(|c| c.size != Size::M1Buf));
        let cells = cells_for(&["--serialization", "advanced", "--size", "1mbuf"]);
        assert_eq!(cells.len(), 2 + 2);
        assert!(
            cells
                .iter()
                .all(|c| c.size == Size::M1Buf && c.mode != Mode::Seed)
        );
        assert!(cells_for(&["--size", "1mbuf"]).is_empty());
    }

    #[test]
    fn quick_counts_are_small() {
        assert!(cells_for(&["--quick"]).iter().all(|c| c.count <= 20_000));
    }

    #[test]
    fn utc_dates_are_civil() {
        assert_eq!(utc_date(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc_date(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(utc_date(1_700_000_000), "2023-11-14T22:13:20Z");
    }
}
