//! Pinning to one CPU for the pinned round-trip rows.
//!
//! Round trips on this kind of VM are bimodal: with the two processes on
//! different vCPUs every hop pays a cross-CPU wake-up (Node json tiny p50
//! ≈ 75 µs), on one CPU it does not (p50 ≈ 15 µs; `docs/benchmarks.md`).
//! Pinning the calling thread pins every process it spawns from then on
//! (the mask is inherited through fork and exec), so the same guard serves
//! Rust ↔ Rust, Rust ↔ Node and `node node-bench.js baseline` alike, the
//! equivalent of `taskset -c CPU`.
//!
//! rustix has `sched_setaffinity` on Linux, Android, FreeBSD and DragonFly
//! only: elsewhere (macOS, OpenBSD, illumos) [`AVAILABLE`] is false and the
//! pinned rows are left out, as with `--no-pinned`.

/// Whether this system can pin a thread to one CPU.
pub const AVAILABLE: bool = cfg!(any(
    target_os = "linux",
    target_os = "android",
    target_os = "freebsd",
    target_os = "dragonfly"
));

pub use affinity::pin_to;

/// Not compiled on Linux: where [`AVAILABLE`] is false no pinned cell is
/// made, so this is never called.
#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_os = "freebsd",
    target_os = "dragonfly"
)))]
mod affinity {
    pub fn pin_to(_cpu: usize) -> std::io::Result<()> {
        Err(std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            "this system cannot pin a thread to one CPU: use --no-pinned",
        ))
    }
}

#[cfg(any(
    target_os = "linux",
    target_os = "android",
    target_os = "freebsd",
    target_os = "dragonfly"
))]
mod affinity {
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
}
