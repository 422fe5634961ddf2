//! The router's notion of time: an instant as a `Duration` since an arbitrary epoch.
//!
//! The state machine never reads a clock (quinn-proto style): every input carries
//! `now`. A plain newtype over `Duration` keeps simulations exact to the nanosecond
//! (the RFC timers are nanosecond-exact, see `Timers`), and the daemon maps tokio's
//! monotonic `Instant` onto it by subtracting its start instant.

use std::fmt;
use std::ops::{Add, AddAssign};
use std::time::Duration;

/// A point in time, measured from an epoch chosen by whoever drives the router.
///
/// Only differences between two `Time`s mean anything; the epoch is usually the
/// daemon's start (or 0 in a simulation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Time(Duration);

impl Time {
    /// The epoch itself.
    pub const ZERO: Time = Time(Duration::ZERO);

    /// The instant `since_epoch` after the epoch.
    pub const fn from_epoch(since_epoch: Duration) -> Time {
        Time(since_epoch)
    }

    /// Convenience for tests and simulations: `nanos` nanoseconds after the epoch.
    pub const fn from_nanos(nanos: u64) -> Time {
        Time(Duration::from_nanos(nanos))
    }

    /// How far after the epoch this instant lies.
    pub const fn since_epoch(self) -> Duration {
        self.0
    }

    /// `self - earlier`, or zero when `earlier` is in fact later (a driver that
    /// reorders inputs must never make the router panic).
    pub fn saturating_since(self, earlier: Time) -> Duration {
        self.0.saturating_sub(earlier.0)
    }
}

impl Add<Duration> for Time {
    type Output = Time;

    /// Saturates instead of overflowing: a deadline ~585 years out is "never".
    fn add(self, rhs: Duration) -> Time {
        Time(self.0.saturating_add(rhs))
    }
}

impl AddAssign<Duration> for Time {
    fn add_assign(&mut self, rhs: Duration) {
        *self = *self + rhs;
    }
}

impl fmt::Display for Time {
    /// Seconds with nanosecond precision, e.g. `3.609375000s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:09}s", self.0.as_secs(), self.0.subsec_nanos())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_arithmetic_is_exact_and_never_panics() {
        let t = Time::from_nanos(3_609_375_000);
        assert_eq!(t + Duration::from_nanos(1), Time::from_nanos(3_609_375_001));
        assert_eq!(
            t.saturating_since(Time::from_nanos(609_375_000)),
            Duration::from_secs(3)
        );
        assert_eq!(Time::ZERO.saturating_since(t), Duration::ZERO);
        assert_eq!(t.to_string(), "3.609375000s");
        assert_eq!(
            Time::from_epoch(Duration::MAX) + Duration::from_secs(1),
            Time::from_epoch(Duration::MAX)
        );
    }
}
