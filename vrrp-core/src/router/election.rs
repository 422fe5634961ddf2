//! What a received advert does: RFC 9568 §6.4.2 (Backup) and §6.4.3 (Active),
//! with keepalived's additions (RFC 9568 §6.4.2, §6.4.3; docs/requirements.md C-26, C-28, K-03..K-05).
//!
//! The advert has already passed the receive ladder (docs/requirements.md C-10..C-15); the only checks here
//! are the ones whose answer depends on this router (its own address, its VRID,
//! its version, the v2 interval rule), so that no advert can ever change the state
//! of a router it was not meant for.

use std::net::IpAddr;

use crate::proto::{Advert, Version};

use super::action::{Action, Reason, State};
use super::deadlines::CONTENTION_REANNOUNCE;
use super::machine::{MasterInfo, Router};
use super::time::Time;

impl Router {
    pub(super) fn receive(
        &mut self,
        now: Time,
        from: IpAddr,
        advert: &Advert,
        interval_mismatch: bool,
        out: &mut Vec<Action>,
    ) {
        self.counters.adverts_received += 1;
        if advert.priority.is_release() {
            self.counters.priority_zero_received += 1;
        }
        // An advert in the `rolling_from` identity is ours (K-17); the ladder has
        // checked its authentication.
        let rolling = self.config.rolling_from.as_ref().filter(|r| {
            r.vrid == advert.vrid && (r.vrid != self.config.vrid || r.auth == advert.auth)
        });
        // Another version is our own cluster changing its timing only when neither
        // side authenticates (K-15), in whichever identity the advert came; the
        // ladder applies the same rule first.
        let tolerant = self.config.auth.tolerates_other_timing(&advert.auth)
            || rolling.is_some_and(|r| r.auth.tolerates_other_timing(&advert.auth));
        let foreign = (advert.vrid != self.config.vrid && rolling.is_none())
            || (advert.version != self.config.version && !tolerant)
            || advert.family() != self.config.family;
        // Our own packet looped back, or an address conflict: never an election
        // input (keepalived logs "advert received from remote host with our IP").
        if foreign || from == self.config.primary_address {
            self.counters.adverts_ignored += 1;
            return;
        }
        if interval_mismatch || advert.interval != self.config.advert_interval {
            self.counters.interval_mismatches += 1;
            // RFC 3768 §7.1: a v2 router MUST discard an advert whose interval
            // differs from its own (v3 adopts it instead, C-13); without
            // authentication it is our own cluster changing its timing (K-15).
            if self.config.version == Version::V2 && advert.version == Version::V2 && !tolerant {
                self.counters.adverts_ignored += 1;
                return;
            }
        }
        match self.state {
            State::Backup => self.backup_receive(now, from, advert),
            State::Master => self.master_receive(now, from, advert, out),
            // Make before break (`Input::Shutdown`): the first advert of another
            // router after our priority 0 is our successor's, sent once it has
            // announced the VIPs; ours can go now. Another resignation (priority 0)
            // is not a successor.
            State::Initialize | State::Fault
                if self.held.is_some() && !advert.priority.is_release() =>
            {
                self.successor_heard(out);
                self.heard_master(from, advert);
            }
            // FAULT takes no part in the election but keeps track of who is
            // Master, for the operator (the `status` action of a paused unit).
            State::Fault => {
                self.counters.adverts_ignored += 1;
                self.heard_master(from, advert);
            }
            State::Initialize => self.counters.adverts_ignored += 1,
        }
    }

    /// Remembers the sender of a Master's advert (a release forgets it), outside
    /// the election.
    fn heard_master(&mut self, from: IpAddr, advert: &Advert) {
        self.master = (!advert.priority.is_release()).then_some(MasterInfo {
            address: from,
            priority: advert.priority,
        });
    }

    /// Whether another copy of `advert` from `from` may wait in the socket until
    /// the router's next deadline (or its next other input) instead of waking the
    /// daemon when it arrives: a settled Backup hearing its own Master say nothing
    /// new. Such a copy only re-arms the down timer (to a later instant) and
    /// counts; fed later with the time it arrived, it leaves the router exactly as
    /// it would have at once. Anything else may change what the router does and is
    /// read when it comes: a release, another priority or interval, another
    /// sender, a claim in flight, the startup wait, or a lower-priority Master this
    /// router preempts (its preempt delay counts adverts).
    pub fn advert_may_wait(&self, from: IpAddr, advert: &Advert) -> bool {
        let Some(master) = self.master else {
            return false;
        };
        let preempt = self.config.preempt || self.config.is_owner();
        self.state == State::Backup
            && !self.startup_wait
            && self.config.rolling_from.is_none()
            && self.deadlines.claim.is_none()
            && !advert.priority.is_release()
            && master.address == from
            && master.priority == advert.priority
            && from != self.config.primary_address
            && advert.vrid == self.config.vrid
            && advert.version == self.config.version
            && advert.family() == self.config.family
            && advert.interval == self.config.advert_interval
            && advert.interval == self.master_adver_int
            && !(preempt && advert.priority < self.effective)
    }

    /// RFC 9568 §6.4.2, Backup state.
    fn backup_receive(&mut self, now: Time, from: IpAddr, advert: &Advert) {
        self.last_heard = Some(now);
        // The Master resigns: take over after Skew_Time only (C-21). The skew is
        // the one of the Master's interval we last learned.
        if advert.priority.is_release() {
            self.startup_wait = false;
            // A claim in flight gives way: the resigning Master's successor is
            // chosen by Skew_Time, as RFC 9568 §6.4.2 says.
            self.deadlines.claim = None;
            let skew = self.timers().skew_time;
            self.arm_master_down(now, skew);
            return;
        }
        // While this Backup claims (K-18) it is in the election as a Master would
        // be (RFC 9568 §6.4.3): an advert that would lose to it, another Backup's
        // claim of lower priority or of equal priority from a lower address, does
        // not hold it back; the sender hears our claim and gives way.
        if self.deadlines.claim.is_some() && !self.beaten_by(from, advert) {
            self.counters.lower_priority_discarded += 1;
            return;
        }
        let lower = advert.priority < self.effective;
        // An owner always preempts, whatever `nopreempt` says (RFC 9568 §6.4.2).
        let preempt = self.config.preempt || self.config.is_owner();
        if preempt && lower && !self.preempt_delay_holds(now) {
            // Discard: the down timer keeps running and this router takes over
            // when it fires (C-23).
            self.counters.lower_priority_discarded += 1;
            return;
        }
        if !lower {
            // A Master at least as good as us: any preempt delay starts afresh the
            // next time a lower-priority Master shows up.
            self.preempt_hold_until = None;
        }
        // It answered our claim (or spoke just in time): we stay Backup (K-18).
        self.withdraw_claim();
        // Adopt the Master's interval and recompute Skew_Time and the down interval
        // from it (RFC 9568 §6.4.2, C-13, C-22). A v2 router only hears its own
        // interval, or one the ladder let through as our cluster's timing change
        // (K-15): a v2 Backup of a v3 Master at 0.1 s must time it at 0.1 s.
        self.master_adver_int = advert.interval;
        self.master = Some(MasterInfo {
            address: from,
            priority: advert.priority,
        });
        self.startup_wait = false;
        let down = self.timers().master_down_interval;
        self.arm_master_down(now, down);
    }

    /// Whether `advert` from `from` wins the election against this router as a
    /// Master (RFC 9568 §6.4.3): a higher priority, or the same from a higher
    /// address. Unsigned compare in network byte order: `Ipv4Addr`/`Ipv6Addr` order
    /// their octets lexicographically, which is exactly that. Two owners (255) run
    /// the same election (erratum 8298: log, do not drop, C-14).
    fn beaten_by(&self, from: IpAddr, advert: &Advert) -> bool {
        advert.priority > self.effective
            || (advert.priority == self.effective && from > self.config.primary_address)
    }

    /// keepalived `preempt_delay`: after startup, after FAULT, or on first seeing a
    /// lower-priority Master, keep deferring to it for `preempt_delay`.
    fn preempt_delay_holds(&mut self, now: Time) -> bool {
        if self.config.preempt_delay.is_zero() || self.config.is_owner() {
            return false;
        }
        match self.preempt_hold_until {
            Some(until) => now < until,
            None => {
                self.preempt_hold_until = Some(now + self.config.preempt_delay);
                true
            }
        }
    }

    /// RFC 9568 §6.4.3, Active state.
    fn master_receive(&mut self, now: Time, from: IpAddr, advert: &Advert, out: &mut Vec<Action>) {
        // Someone resigned (or rebooted as Master and is handing over): assert
        // ourselves at once so Backups reset their timers (C-27).
        if advert.priority.is_release() {
            self.send_advert(self.effective, out);
            self.restart_advert_timer(now);
            return;
        }
        let ours = self.effective;
        if self.beaten_by(from, advert) {
            let reason = if advert.priority > ours {
                Reason::HigherPriority {
                    from,
                    priority: advert.priority,
                }
            } else {
                Reason::EqualPriorityHigherAddress { from }
            };
            self.leave_master(State::Backup, reason, false, out);
            self.master_adver_int = advert.interval;
            self.master = Some(MasterInfo {
                address: from,
                priority: advert.priority,
            });
            let down = self.timers().master_down_interval;
            self.arm_master_down(now, down);
            return;
        }
        self.rival_claims(now, from, advert.interval.as_duration());
        // We win (lower priority, or a tie with a lower address). RFC 9568 adds an
        // immediate advert so the other side learns at once; keepalived#166: also
        // re-announce the VIPs, because the clients may have followed the loser's
        // gratuitous ARPs during the split brain (docs/requirements.md K-04).
        if !self.config.lower_prio_no_advert {
            self.send_advert(ours, out);
            self.restart_advert_timer(now);
        }
        let repeat = self.config.garp.lower_prio_repeat;
        self.send_gratuitous(self.config.vips.clone(), repeat, out);
        // And once more a little later (CONTENTION_REANNOUNCE): a loser's late
        // frames must not have the last word. One pending re-announcement at a
        // time: a peer that keeps sending lower-priority adverts must not multiply
        // the bursts.
        if repeat > 0 && self.deadlines.reannounce.is_none() {
            self.deadlines.reannounce = Some(now + CONTENTION_REANNOUNCE);
        }
    }
}
