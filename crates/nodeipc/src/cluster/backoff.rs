//! When to restart a worker that died: a pure policy, the caller keeps the
//! time.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Exponential backoff between restarts, and a limit on restarts per
/// minute, for one worker slot.
///
/// Each quick death doubles the delay (from `initial` to at most `max`); a
/// worker that got as far as listening resets it, so a server that crashes
/// now and then under load comes back at once while one that dies on
/// start-up is retried ever more slowly. Past `per_minute` restarts in the
/// last 60 s, the answer is [`Restart::GiveUp`]: a crash loop is reported,
/// not spun on forever.
///
/// ```
/// use std::time::{Duration, Instant};
/// use nodeipc::cluster::{Backoff, Restart};
///
/// let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(10), 3);
/// let now = Instant::now();
/// assert_eq!(backoff.on_exit(now, false), Restart::After(Duration::from_millis(100)));
/// assert_eq!(backoff.on_exit(now, false), Restart::After(Duration::from_millis(200)));
/// assert_eq!(backoff.on_exit(now, true), Restart::After(Duration::from_millis(100)));
/// assert_eq!(backoff.on_exit(now, false), Restart::GiveUp);
/// ```
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    per_minute: usize,
    /// Deaths since the last worker that listened.
    failures: u32,
    /// When the restarts of the last minute were decided.
    recent: VecDeque<Instant>,
}

/// What [`Backoff::on_exit`] decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restart {
    /// Start a new worker after this long.
    After(Duration),
    /// Too many restarts in the last minute: do not.
    GiveUp,
}

impl Backoff {
    /// The window `per_minute` counts in.
    const WINDOW: Duration = Duration::from_secs(60);

    /// A policy starting at `initial`, doubling up to `max`, at most
    /// `per_minute` restarts in any 60 s.
    pub fn new(initial: Duration, max: Duration, per_minute: usize) -> Backoff {
        Backoff {
            initial,
            max,
            per_minute,
            failures: 0,
            recent: VecDeque::new(),
        }
    }

    /// A worker of this slot died at `now`; `listened` says whether it had
    /// got as far as listening.
    pub fn on_exit(&mut self, now: Instant, listened: bool) -> Restart {
        while self
            .recent
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= Self::WINDOW)
        {
            self.recent.pop_front();
        }
        if self.recent.len() >= self.per_minute {
            return Restart::GiveUp;
        }
        if listened {
            self.failures = 0;
        }
        let delay = self
            .initial
            .saturating_mul(1 << self.failures.min(20))
            .min(self.max);
        self.failures = self.failures.saturating_add(1);
        self.recent.push_back(now);
        Restart::After(delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delay_doubles_to_the_cap_and_the_window_forgets() {
        let ms = Duration::from_millis;
        let mut b = Backoff::new(ms(100), ms(500), 5);
        let t0 = Instant::now();
        let delays: Vec<_> = (0..5).map(|_| b.on_exit(t0, false)).collect();
        assert_eq!(
            delays,
            [100, 200, 400, 500, 500].map(|d| Restart::After(ms(d)))
        );
        assert_eq!(b.on_exit(t0 + ms(59_000), false), Restart::GiveUp);
        assert_eq!(b.on_exit(t0 + ms(60_000), true), Restart::After(ms(100)));
    }
}
