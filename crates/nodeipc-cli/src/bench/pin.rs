//! Pinning to one CPU for the pinned round-trip rows.
//!
//! Round trips on this kind of VM are bimodal: with the two processes on
//! different vCPUs every hop pays a cross-CPU wake-up (Node json tiny p50
//! ≈ 75 µs), on one CPU it does not (p50 ≈ 15 µs; `docs/benchmarks.md`).
//! Pinning the calling thread pins every process it spawns from then on
//! (the mask is inherited through fork and exec), so the same guard serves
//! Rust ↔ Rust, Rust ↔ Node and `node node-bench.js baseline` alike, the
//! equivalent of `taskset -c CPU`.

use std::io;

use rustix::thread::{CpuSet, sched_getaffinity, sched_setaffinity};

/// Restores the thread's previous CPU mask when dropped.
pub struct Pinned {
    saved: CpuSet,
}

/// Pins the calling thread (and so the processes it spawns) to `cpu`.
pub fn pin_to(cpu: usize) -> io::Result<Pinned> {
    let saved = sched_getaffinity(None)?;
    if cpu >= CpuSet::MAX_CPU || !saved.is_set(cpu) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("CPU {cpu} is not available to this process"),
        ));
    }
    let mut one = CpuSet::new();
    one.set(cpu);
    sched_setaffinity(None, &one)?;
    Ok(Pinned { saved })
}

impl Drop for Pinned {
    fn drop(&mut self) {
        // Best effort: failing to widen the mask again only makes later
        // cells run pinned too, which their rows would not say; warn.
        if let Err(e) = sched_setaffinity(None, &self.saved) {
            eprintln!("nodeipc bench: cannot restore the CPU mask: {e}");
        }
    }
}
