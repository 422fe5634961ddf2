//! The timers of one router as plain deadlines. The driver sleeps until the earliest
//! (`Router::poll_timeout`) and then calls `Router::handle_timeout(now)`.

use std::time::Duration;

use super::time::Time;

/// When a Master wins a contention (it hears a lower-priority advert, or an equal
/// one from a lower address, RFC 9568 §6.4.3) it re-announces its VIPs at once
/// (`garp_lower_prio_repeat`, keepalived#166) and once more this much later.
///
/// Why the second burst: two Backups whose down timers expire within a
/// millisecond of each other both claim (S-10). A loser that sends its gratuitous
/// ARPs after its advert (keepalived does) can have its frames reach the clients
/// after the winner's immediate burst, leaving them on the loser's MAC until the
/// next periodic burst, seconds later. 50 ms is far beyond any LAN latency and
/// well below one advert interval, so the winner has the last word.
pub const CONTENTION_REANNOUNCE: Duration = Duration::from_millis(50);

/// Make before break: how long past the latest possible successor a resigning
/// Master keeps its VIPs (`Router::release_bound`).
///
/// A Backup that hears priority 0 takes over after its Skew_Time (RFC 9568
/// §6.4.2, C-21); the longest is the skew of priority 1. This margin covers the
/// one-way latency of our priority-0 advert and of the successor's first advert.
pub const RELEASE_MARGIN: Duration = Duration::from_millis(50);

/// Ask before taking: a Backup whose down timer runs out after silence first sends
/// its advert and adds the VIPs only when no better Master has answered within
/// this long (`Router::claim_wait`, docs/requirements.md K-18).
///
/// Why: under packet loss a Backup's timer runs out while its Master is alive
/// (S-16). That Master answers a lower-priority advert at once (RFC 9568 §6.4.3,
/// keepalived does too), so a live Master's answer is back within a LAN round
/// trip plus its wake-up; the Backup then stays Backup and the VIP never has two
/// holders. After a real crash nobody answers, and the failover costs this much
/// more. At most a quarter of the advert interval.
pub const CLAIM_WAIT: Duration = Duration::from_millis(10);

/// A Backup that took the VIPs after an unanswered claim repeats its advert this
/// many times, `Router::claim_wait` apart, after the one it sends as it takes them
/// (docs/requirements.md K-18).
///
/// Why: a claim goes unanswered after a crash, but also when packet loss ate the
/// claim or the answer (S-16). A live Master answers each advert at once and the
/// taker gives the VIPs back at the first answer that gets through; without the
/// repeats the next exchange is a whole advert interval later, and the VIP has two
/// holders meanwhile. Three exchanges within `3 × claim_wait`: at 20 % loss each
/// way all three fail about one time in twenty. After a real crash they are two
/// adverts more for the other Backups, which only reset their timers.
pub const TAKE_CONFIRMS: u8 = 2;

/// Another router claiming Master while we are is a split brain, not a contention,
/// once its claims have gone on this many of our advert intervals: in a contention
/// the loser hears our advert and steps down within one round trip (RFC 9568
/// §6.4.3); a router that keeps claiming does not hear us (a partition, one-way
/// loss, protocol 112 filtered, S-7, S-8).
pub const DUAL_MASTER_AFTER: u32 = 2;

/// A split brain or a foreign router is reported while it was last heard within
/// this many of our advert intervals...
pub const REPORT_INTERVALS: u32 = 3;

/// ...and at least this long, so that a report does not come and go between two
/// adverts of a cluster that advertises less often than we do.
pub const REPORT_AT_LEAST: Duration = Duration::from_secs(10);

/// At most this many foreign routers are remembered per instance: a flood of
/// forged sources cannot grow the engine's memory.
pub const FOREIGN_MAX: usize = 8;

/// Every timer a router may have armed. Which ones are armed depends on the state:
/// Backup arms `master_down`, and `claim` while it waits for an answer to its
/// claim; Master arms `advert`, the GARP timers, after a
/// won contention `reannounce`, and while its link is down `link_fault`; Initialize
/// arms only `release` (while a resigned Master still holds its VIPs) and FAULT arms
/// nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Deadlines {
    /// RFC Master_Down_Timer (Backup).
    pub master_down: Option<Time>,
    /// A Backup that has claimed (sent its advert after silence) becomes Master at
    /// this instant unless a better Master answers first (`CLAIM_WAIT`).
    pub claim: Option<Time>,
    /// RFC Adver_Timer (Master).
    pub advert: Option<Time>,
    /// A Master that took the VIPs after an unanswered claim repeats its advert
    /// here (`TAKE_CONFIRMS`).
    pub confirm: Option<Time>,
    /// keepalived `garp_master_delay`: the second GARP burst (Master).
    pub garp_delayed: Option<Time>,
    /// keepalived `garp_master_refresh`: the next periodic GARP burst (Master).
    pub garp_refresh: Option<Time>,
    /// The second re-announcement after a won contention (Master,
    /// `CONTENTION_REANNOUNCE` after the win).
    pub reannounce: Option<Time>,
    /// The make-before-break bound: a resigned Master releases its VIPs at this
    /// instant if no successor has spoken (Initialize, `Router::release_bound`).
    pub release: Option<Time>,
    /// A Master whose link went down enters FAULT at this instant unless the link
    /// is back by then (`Router::flap_debounce`).
    pub link_fault: Option<Time>,
}

impl Deadlines {
    /// The earliest armed deadline.
    pub fn next(&self) -> Option<Time> {
        [
            self.master_down,
            self.claim,
            self.advert,
            self.confirm,
            self.garp_delayed,
            self.garp_refresh,
            self.reannounce,
            self.release,
            self.link_fault,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Disarms every timer of the state being left. The release bound is not a
    /// state's timer: it belongs to the VIPs still held after a resignation, which
    /// outlive a transition (FAULT → Initialize on a stop) until they are released.
    pub fn clear(&mut self) {
        *self = Deadlines {
            release: self.release,
            ..Deadlines::default()
        };
    }
}

/// Returns `Some(deadline)` and re-arms `slot` one `period` later when the deadline
/// in `slot` is due at `now`. Periodic timers keep their cadence (the next one is
/// due `period` after the previous *deadline*, not after a late wake-up), but a
/// driver that slept through several periods gets one event, not a burst of
/// catch-up events.
pub(super) fn take_periodic(slot: &mut Option<Time>, now: Time, period: Duration) -> bool {
    match *slot {
        Some(deadline) if deadline <= now => {
            let next = deadline + period;
            *slot = Some(if next > now { next } else { now + period });
            true
        }
        _ => false,
    }
}

/// Disarms `slot` and returns true when its deadline is due at `now`.
pub(super) fn take_once(slot: &mut Option<Time>, now: Time) -> bool {
    match *slot {
        Some(deadline) if deadline <= now => {
            *slot = None;
            true
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periodic_timers_keep_cadence_and_never_burst_after_a_stall() {
        let sec = Duration::from_secs(1);
        let mut slot = Some(Time::from_nanos(1_000_000_000));
        assert!(!take_periodic(
            &mut slot,
            Time::from_nanos(999_999_999),
            sec
        ));
        // 2 ms late: the next one is still due on the 1 s grid.
        assert!(take_periodic(
            &mut slot,
            Time::from_nanos(1_002_000_000),
            sec
        ));
        assert_eq!(slot, Some(Time::from_nanos(2_000_000_000)));
        // Slept 10 s: one event, the next a full period after the wake-up.
        assert!(take_periodic(
            &mut slot,
            Time::from_nanos(12_500_000_000),
            sec
        ));
        assert_eq!(slot, Some(Time::from_nanos(13_500_000_000)));
    }

    #[test]
    fn next_is_the_earliest_armed_deadline() {
        let mut d = Deadlines::default();
        assert_eq!(d.next(), None);
        d.advert = Some(Time::from_nanos(5));
        d.garp_delayed = Some(Time::from_nanos(3));
        assert_eq!(d.next(), Some(Time::from_nanos(3)));
        assert!(take_once(&mut d.garp_delayed, Time::from_nanos(3)));
        assert_eq!(d.next(), Some(Time::from_nanos(5)));
    }
}
