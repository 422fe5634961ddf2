//! Rate-limited logging (RFC 9568 §7.1: log discarded packets, rate-limited): a
//! hostile or misconfigured peer at 100 adverts a second must not flood the journal.
//! Pure: the caller passes the time.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// At most one line per key per `period`; the next line says how many were
/// suppressed meanwhile.
#[derive(Debug)]
pub struct RateLimit {
    period: Duration,
    seen: BTreeMap<String, (Instant, u64)>,
}

impl RateLimit {
    pub fn new(period: Duration) -> RateLimit {
        RateLimit {
            period,
            seen: BTreeMap::new(),
        }
    }

    /// `Some(suppressed)` when a line for `key` may be logged at `now` (with the
    /// number of events suppressed since the last line), `None` when it must not.
    pub fn allow(&mut self, key: &str, now: Instant) -> Option<u64> {
        match self.seen.get_mut(key) {
            Some((last, suppressed)) => {
                if now.saturating_duration_since(*last) >= self.period {
                    let n = *suppressed;
                    *last = now;
                    *suppressed = 0;
                    Some(n)
                } else {
                    *suppressed += 1;
                    None
                }
            }
            None => {
                // Bounded memory: keys are (reason, peer) pairs an attacker could
                // vary; forget them all rather than grow without end.
                if self.seen.len() >= 1024 {
                    self.seen.clear();
                }
                self.seen.insert(key.to_string(), (now, 0));
                Some(0)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_period_per_key_then_the_suppressed_count() {
        let mut rl = RateLimit::new(Duration::from_secs(10));
        let t0 = Instant::now();
        assert_eq!(rl.allow("ttl 10.0.0.9", t0), Some(0));
        assert_eq!(rl.allow("ttl 10.0.0.9", t0 + Duration::from_secs(1)), None);
        assert_eq!(rl.allow("ttl 10.0.0.9", t0 + Duration::from_secs(2)), None);
        assert_eq!(
            rl.allow("checksum 10.0.0.9", t0 + Duration::from_secs(2)),
            Some(0)
        );
        assert_eq!(
            rl.allow("ttl 10.0.0.9", t0 + Duration::from_secs(10)),
            Some(2)
        );
        assert_eq!(rl.allow("ttl 10.0.0.9", t0 + Duration::from_secs(11)), None);
    }
}
