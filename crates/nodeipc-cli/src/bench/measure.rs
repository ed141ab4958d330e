//! What one cell measured, computed as `node-bench.js baseline` computes it.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::workload::Cell;

/// The numbers of one cell for one pair; field names are those of
/// `node-bench.js baseline`'s line.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Measured {
    #[serde(rename_all = "camelCase")]
    Throughput {
        seconds: f64,
        msgs_per_sec: f64,
        /// Payload bytes / s / 10^6.
        mb_per_sec: f64,
    },
    #[serde(rename_all = "camelCase")]
    Latency {
        /// Sum of the timed round trips.
        seconds: f64,
        mean_us: f64,
        p50_us: f64,
        p99_us: f64,
    },
}

impl Measured {
    pub fn throughput(cell: &Cell, elapsed: Duration) -> Measured {
        let seconds = elapsed.as_secs_f64();
        let msgs_per_sec = cell.count as f64 / seconds;
        Measured::Throughput {
            seconds,
            msgs_per_sec,
            mb_per_sec: msgs_per_sec * cell.payload() as f64 / 1e6,
        }
    }

    /// From the timed round trips, in µs (sorted here). Quantiles as in
    /// `node-bench.js`: `lat[max(0, ceil(p·n) − 1)]`.
    pub fn latency(mut lat_us: Vec<f64>) -> Measured {
        lat_us.sort_by(f64::total_cmp);
        let n = lat_us.len();
        let q = |p: f64| lat_us[((p * n as f64).ceil() as usize).saturating_sub(1)];
        let total: f64 = lat_us.iter().sum();
        Measured::Latency {
            seconds: total / 1e6,
            mean_us: total / n as f64,
            p50_us: q(0.5),
            p99_us: q(0.99),
        }
    }

    pub fn msgs_per_sec(&self) -> Option<f64> {
        match *self {
            Measured::Throughput { msgs_per_sec, .. } => Some(msgs_per_sec),
            Measured::Latency { .. } => None,
        }
    }

    pub fn p50_us(&self) -> Option<f64> {
        match *self {
            Measured::Latency { p50_us, .. } => Some(p50_us),
            Measured::Throughput { .. } => None,
        }
    }
}

/// The result of one cell for one pair.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Ok(Measured),
    /// Not run, and why (an unsupported serialization).
    Skipped(String),
    /// Run and failed: the error.
    Failed(String),
}

impl Outcome {
    pub fn measured(&self) -> Option<&Measured> {
        match self {
            Outcome::Ok(m) => Some(m),
            _ => None,
        }
    }
}

/// The median of repeated runs of one cell: the run with the middle
/// msgs/s (throughput) or p50 (round trip); of two middles, the slower.
/// A failure in any run is the outcome.
pub fn median(mut runs: Vec<Outcome>) -> Outcome {
    if let Some(failed) = runs.iter().find(|o| !matches!(o, Outcome::Ok(_))) {
        return failed.clone();
    }
    let key = |o: &Outcome| match o.measured() {
        Some(Measured::Throughput { msgs_per_sec, .. }) => *msgs_per_sec,
        Some(Measured::Latency { p50_us, .. }) => -p50_us,
        None => f64::NAN,
    };
    runs.sort_by(|a, b| key(a).total_cmp(&key(b)));
    runs.swap_remove((runs.len() - 1) / 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_picks_the_middle_run() {
        let t = |m: f64| {
            Outcome::Ok(Measured::Throughput {
                seconds: 1.0,
                msgs_per_sec: m,
                mb_per_sec: 0.0,
            })
        };
        assert_eq!(median(vec![t(3.0), t(1.0), t(2.0)]), t(2.0));
        assert_eq!(median(vec![t(3.0), t(1.0)]), t(1.0));
        let failed = Outcome::Failed("x".into());
        assert_eq!(median(vec![t(1.0), failed.clone()]), failed);
    }

    #[test]
    fn latency_quantiles_match_node_baseline() {
        let m = Measured::latency((1..=100).rev().map(f64::from).collect());
        assert_eq!(
            m,
            Measured::Latency {
                seconds: 5050e-6,
                mean_us: 50.5,
                p50_us: 50.0,
                p99_us: 99.0
            }
        );
    }
}
