//! The router itself: one virtual router (VRID, family) as a pure state machine.
//!
//! `(now, input) -> actions`: time is injected, never read; nothing here touches a
//! socket or an address. The transitions follow RFC 9568 §6.4 (the table in
//! docs/requirements.md C-20..C-28) plus keepalived's FAULT state and startup rules (K-01, C-28).
//! The reception rules (who wins an election) live in `election`, live
//! reconfiguration in `reconfigure`.

use std::net::IpAddr;
use std::time::Duration;

use crate::proto::{Advert, AdvertInterval, Auth, Priority, Timers, Version};

use super::action::{Action, FaultCause, ForeignReason, ForeignRouter, Reason, State};
use super::config::{ConfigError, InitialState, RouterConfig};
use super::counters::Counters;
use super::deadlines::{
    take_once, take_periodic, Deadlines, CLAIM_WAIT, DUAL_MASTER_AFTER, FOREIGN_MAX,
    RELEASE_MARGIN, REPORT_AT_LEAST, REPORT_INTERVALS, TAKE_CONFIRMS,
};
use super::time::Time;
use super::tracking::{ScriptStatus, Tracking};

/// An event from the world, handed to `Router::handle` with the time it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Start the instance (RFC Startup event): Initialize → Master for an owner,
    /// else Backup (or FAULT when a fault is present).
    Startup,
    /// Stop the instance (RFC Shutdown event, SIGTERM): a Master resigns with a
    /// priority-0 advert (RFC 9568 §6.4.3, C-06) and enters Initialize, but keeps
    /// its VIPs until its successor's first advert arrives (`Input::Advert`) or
    /// the release bound passes (`poll_timeout`, `handle_timeout`): make before
    /// break. `Router::is_finished` tells when nothing is held any more.
    Shutdown,
    /// Stop at once: like `Shutdown`, but the VIPs go with the priority-0 advert
    /// (keepalived's way). For an instance that cannot wait for its successor
    /// (removed by a reload), or a second stop request; also releases at once the
    /// VIPs a resigned Master still holds.
    ShutdownNow,
    /// An advert that passed the receive ladder (TTL, checksum, VRID, auth, …).
    Advert {
        /// The IP source: the sender's primary address (IPv6: link-local).
        from: IpAddr,
        /// The decoded VRRP message.
        advert: Advert,
        /// The ladder saw an interval different from ours (v3: logged and adopted;
        /// v2: a MUST drop, also enforced here).
        interval_mismatch: bool,
    },
    /// A link came up (any interface; the router picks the ones it tracks).
    InterfaceUp {
        /// The interface name.
        name: String,
    },
    /// A link went down.
    InterfaceDown {
        /// The interface name.
        name: String,
    },
    /// An advert for our VRID that the receive ladder dropped because it comes from
    /// a router outside our cluster (S-9). Never an election input: the router only
    /// remembers the sender for `foreign_routers`.
    ForeignAdvert {
        /// The IP source.
        from: IpAddr,
        /// Why it is foreign.
        reason: ForeignReason,
    },
    /// An address was removed from an interface, by anyone (the kernel's
    /// RTM_DELADDR). A Master puts back a VIP of its own that it did not remove
    /// (S-20); every other router ignores it.
    AddressRemoved {
        /// The address that went away.
        addr: IpAddr,
    },
    /// One raw result of a `vrrp_script` run; rise/fall counting happens here.
    ScriptResult {
        /// The `vrrp_script` name.
        name: String,
        /// Exit status 0 (and no timeout).
        ok: bool,
    },
}

/// What the router knows about the current Master.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct MasterInfo {
    pub address: IpAddr,
    pub priority: Priority,
}

/// One virtual router. See the module documentation.
#[derive(Debug, Clone)]
pub struct Router {
    pub(super) config: RouterConfig,
    pub(super) state: State,
    pub(super) tracking: Tracking,
    /// Base priority plus tracking weights, clamped (cached; recomputed by `retrack`).
    pub(super) effective: Priority,
    pub(super) deadlines: Deadlines,
    /// RFC 9568 Active_Adver_Interval: v3 learns it from the Master's adverts;
    /// v2 always uses its own (a v2 mismatch is dropped).
    pub(super) master_adver_int: AdvertInterval,
    pub(super) master: Option<MasterInfo>,
    /// keepalived `preempt_delay`: until this instant a Backup keeps accepting a
    /// lower-priority Master's adverts instead of preempting.
    pub(super) preempt_hold_until: Option<Time>,
    /// The running down timer is the shortened `state MASTER` startup wait.
    pub(super) startup_wait: bool,
    /// Repeats of the advert still due after a take that followed an unanswered
    /// claim (`TAKE_CONFIRMS`, `deadlines.confirm`).
    pub(super) confirms_left: u8,
    /// When this Backup last heard an advert of its cluster, of any priority (a
    /// release, a lower-priority Master it is about to preempt): whether a claim
    /// follows silence, see `become_master`.
    pub(super) last_heard: Option<Time>,
    /// The VIPs a resigned Master still holds (make before break, see
    /// `Input::Shutdown`); `deadlines.release` is armed while this is `Some`.
    pub(super) held: Option<Vec<IpAddr>>,
    /// Another router that claims Master while we are (`dual_master`).
    pub(super) rival: Option<Rival>,
    /// Routers outside our cluster heard on our VRID (`foreign_routers`), at most
    /// `FOREIGN_MAX`.
    pub(super) foreign: Vec<ForeignRouter>,
    pub(super) counters: Counters,
    /// The periodic adverts are with the driver (`pacing`).
    pub(super) paced: bool,
}

/// Another router claiming Master while we are Master.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Rival {
    pub address: IpAddr,
    /// Its first claim of this episode.
    pub first: Time,
    /// Its last claim.
    pub last: Time,
    /// The episode has lasted `DUAL_MASTER_AFTER` intervals and was counted.
    pub split: bool,
}

impl Router {
    /// A router in Initialize; it does nothing until `Input::Startup`.
    pub fn new(config: RouterConfig) -> Result<Router, ConfigError> {
        config.validate()?;
        let tracking = Tracking::new(&config);
        let mut router = Router {
            effective: config.priority,
            master_adver_int: config.advert_interval,
            config,
            state: State::Initialize,
            tracking,
            deadlines: Deadlines::default(),
            master: None,
            preempt_hold_until: None,
            startup_wait: false,
            confirms_left: 0,
            last_heard: None,
            held: None,
            rival: None,
            foreign: Vec::new(),
            counters: Counters::default(),
            paced: false,
        };
        router.retrack();
        Ok(router)
    }

    /// Feeds one input that happened at `now`; returns what to do, in order.
    pub fn handle(&mut self, now: Time, input: Input) -> Vec<Action> {
        self.reclaim_forgotten_adverts(now);
        let mut out = Vec::new();
        match input {
            Input::Startup => {
                if self.state == State::Initialize {
                    self.start(now, Reason::Startup, &mut out);
                }
            }
            Input::Shutdown => self.resign(now, &mut out),
            Input::ShutdownNow => {
                self.stop(Reason::Shutdown, &mut out);
                self.release_held(&mut out);
            }
            Input::Advert {
                from,
                advert,
                interval_mismatch,
            } => self.receive(now, from, &advert, interval_mismatch, &mut out),
            Input::InterfaceUp { name } => {
                self.tracking.interface(&name, true);
                self.after_tracking(now, &mut out);
            }
            Input::InterfaceDown { name } => {
                self.tracking.interface(&name, false);
                self.after_tracking(now, &mut out);
            }
            Input::AddressRemoved { addr } => self.address_removed(now, addr, &mut out),
            Input::ForeignAdvert { from, reason } => self.foreign_heard(now, from, reason),
            Input::ScriptResult { name, ok } => {
                self.tracking.script_result(&name, ok);
                self.after_tracking(now, &mut out);
            }
        }
        out
    }

    /// The earliest instant at which `handle_timeout` has something to do.
    pub fn poll_timeout(&self) -> Option<Time> {
        self.deadlines.next()
    }

    /// Whether an advert already waiting in a socket must reach this router before
    /// `handle_timeout(now)`: when a due timer judges silence or waits for an answer
    /// (the down timer, a claim, a take's repeat, a resigned Master's release), or
    /// announces the VIPs (GARP bursts, the re-announce: a better Master's advert
    /// waiting in the socket means this one must not pull the clients back to its
    /// MAC), a queued advert changes what it does. Only a Master's advert timer and
    /// the link debounce decide the same either way, so an idle Master's wake-up
    /// reads no socket it has no news from (`make bench-footprint`); any other
    /// due deadline reads the queue first, also one added to `Deadlines` later.
    pub fn wants_queued_adverts_first(&self, now: Time) -> bool {
        Deadlines {
            advert: None,
            link_fault: None,
            ..self.deadlines
        }
        .next()
        .is_some_and(|t| t <= now)
    }

    /// Fires every timer due at `now`. Calling it early or twice is harmless.
    pub fn handle_timeout(&mut self, now: Time) -> Vec<Action> {
        self.reclaim_forgotten_adverts(now);
        let mut out = Vec::new();
        match self.state {
            State::Backup => {
                if take_once(&mut self.deadlines.claim, now) {
                    // Nobody better answered the claim: the Master is gone, or
                    // the claim or the answer was lost; the repeats tell which.
                    self.become_master(now, Reason::MasterDown, &mut out);
                    self.confirms_left = TAKE_CONFIRMS;
                    self.deadlines.confirm = Some(now + self.claim_wait());
                } else if take_once(&mut self.deadlines.master_down, now) {
                    if self.startup_wait {
                        self.become_master(now, Reason::InitialStateMaster, &mut out);
                    } else if self.after_silence(now) {
                        self.claim(now, &mut out);
                    } else {
                        self.become_master(now, Reason::MasterDown, &mut out);
                    }
                }
            }
            State::Master => {
                if take_once(&mut self.deadlines.link_fault, now) {
                    // The link stayed down: FAULT as keepalived does at once.
                    if let Some(cause) = self.tracking.fault() {
                        self.leave_master(State::Fault, Reason::Fault(cause), true, &mut out);
                        return out;
                    }
                }
                let interval = self.config.advert_interval.as_duration();
                // While the link is down an advert cannot leave; the cadence goes on.
                let link_down = self.deadlines.link_fault.is_some();
                if take_once(&mut self.deadlines.confirm, now) {
                    self.confirms_left = self.confirms_left.saturating_sub(1);
                    if self.confirms_left > 0 {
                        self.deadlines.confirm = Some(now + self.claim_wait());
                    }
                    if !link_down {
                        self.send_advert(self.effective, &mut out);
                    }
                }
                if take_periodic(&mut self.deadlines.advert, now, interval) && !link_down {
                    self.send_advert(self.effective, &mut out);
                }
                if take_once(&mut self.deadlines.garp_delayed, now) && !link_down {
                    self.send_gratuitous(
                        self.config.vips.clone(),
                        self.config.garp.repeat,
                        &mut out,
                    );
                }
                let refresh = self.config.garp.refresh;
                if take_periodic(&mut self.deadlines.garp_refresh, now, refresh) && !link_down {
                    let repeat = self.config.garp.refresh_repeat;
                    self.send_gratuitous(self.config.vips.clone(), repeat, &mut out);
                }
                if take_once(&mut self.deadlines.reannounce, now) && !link_down {
                    let repeat = self.config.garp.lower_prio_repeat;
                    self.send_gratuitous(self.config.vips.clone(), repeat, &mut out);
                }
            }
            State::Initialize | State::Fault => {
                // No successor spoke within the bound: release anyway.
                if take_once(&mut self.deadlines.release, now) {
                    self.release_held(&mut out);
                }
            }
        }
        out
    }

    /// True once the router has stopped and holds nothing: in Initialize with no
    /// resigned VIPs left (never started, or released after `Input::Shutdown`).
    /// A driver that is exiting waits for this, sleeping until `poll_timeout`.
    pub fn is_finished(&self) -> bool {
        self.state == State::Initialize && self.held.is_none()
    }

    /// How long a Master rides out the loss of its link before it enters FAULT: two
    /// advert intervals.
    ///
    /// Why: a link that flaps (a switch port renegotiating, a cable reseated, a
    /// bond failing over) comes back within milliseconds to a second. Entering
    /// FAULT at once (keepalived) drops the VIPs, and when the link returns the
    /// router waits a whole Master_Down_Interval as a Backup while the others take
    /// over: a needless handover and seconds of outage for a 200 ms flap. Holding
    /// on is safe for two intervals: the last advert left at most one interval
    /// before the link went down, and no Backup promotes before three intervals
    /// of silence plus its Skew_Time (RFC 9568 §6.4.2), so a Master back within
    /// two intervals re-asserts itself before anyone has claimed. A link that
    /// stays down gives FAULT after the debounce, still before any Backup takes
    /// over, so a real loss hands over exactly as before.
    pub fn flap_debounce(&self) -> Duration {
        self.config.advert_interval.as_duration() * 2
    }

    /// How long a Backup that has claimed after silence waits for a better Master
    /// to answer before it adds the VIPs: `CLAIM_WAIT`, at most a quarter of the
    /// advert interval (docs/requirements.md K-18).
    pub fn claim_wait(&self) -> Duration {
        CLAIM_WAIT.min(self.config.advert_interval.as_duration() / 4)
    }

    /// Whether the down timer ran out after silence: no advert heard for a whole
    /// Master_Down_Interval (the Master crashed, or its adverts are being lost),
    /// rather than Skew_Time after a priority 0 or on a preemption.
    fn after_silence(&self, now: Time) -> bool {
        self.last_heard
            .map_or(true, |t| now >= t + self.timers().master_down_interval)
    }

    /// The down timer ran out after silence: ask before taking (K-18). The advert
    /// goes out now, as RFC 9568 §6.4.2 sends it on the way to Master, so the other
    /// Backups reset their timers; a live Master answers it at once (§6.4.3) and
    /// `backup_receive` withdraws the claim. The VIPs come with `claim_wait`'s
    /// deadline, when nobody better has spoken.
    fn claim(&mut self, now: Time, out: &mut Vec<Action>) {
        self.send_advert(self.effective, out);
        self.deadlines.claim = Some(now + self.claim_wait());
    }

    /// A better Master spoke while this Backup's claim was pending: it stays Backup.
    pub(super) fn withdraw_claim(&mut self) {
        if self.deadlines.claim.take().is_some() {
            self.counters.claims_withdrawn += 1;
        }
    }

    /// How long after its priority-0 advert a resigning Master keeps its VIPs when
    /// no successor speaks: the Skew_Time of the lowest Backup priority (1), the
    /// latest any Backup takes over (RFC 9568 §6.4.2, C-21), plus `RELEASE_MARGIN`.
    pub fn release_bound(&self) -> Duration {
        let last = Timers::new(
            self.config.version,
            Priority::MIN_BACKUP,
            self.config.advert_interval,
        );
        last.skew_time + RELEASE_MARGIN
    }

    /// The current state, for the state file and keepalived-style notifications.
    pub fn state(&self) -> State {
        self.state
    }

    /// Base priority plus tracking weights, clamped to 1..=254; 255 for an owner.
    /// This is the priority in every advert this router sends (except releases).
    pub fn effective_priority(&self) -> Priority {
        self.effective
    }

    /// The last known Master: ourselves while Master, else the source of the last
    /// advert heard from a Master (None before any).
    pub fn master_address(&self) -> Option<IpAddr> {
        self.master.map(|m| m.address)
    }

    /// The priority the last known Master advertised.
    pub fn master_priority(&self) -> Option<Priority> {
        self.master.map(|m| m.priority)
    }

    /// The interval the down timer is computed from (v3: learned from the Master).
    pub fn master_adver_int(&self) -> AdvertInterval {
        self.master_adver_int
    }

    /// Skew_Time and Master_Down_Interval as they stand now (effective priority,
    /// learned interval, `down_timer_adverts`), RFC 3768 §6.1 / RFC 9568 §6.1.
    pub fn timers(&self) -> Timers {
        Timers::with_down_adverts(
            self.config.version,
            self.effective,
            self.master_adver_int,
            self.config.down_timer_adverts,
        )
    }

    /// Another router that has kept claiming Master for our VRID while we are
    /// Master (a split brain: it does not hear us), if one was heard recently.
    pub fn dual_master(&self, now: Time) -> Option<IpAddr> {
        let rival = self.rival.filter(|r| r.split)?;
        (now <= rival.last + self.report_window()).then_some(rival.address)
    }

    /// Routers outside our cluster heard on our VRID recently, most recent first.
    pub fn foreign_routers(&self, now: Time) -> Vec<ForeignRouter> {
        let window = self.report_window();
        let mut recent: Vec<ForeignRouter> = self
            .foreign
            .iter()
            .filter(|f| now <= f.last_heard + window)
            .copied()
            .collect();
        recent.sort_by_key(|f| std::cmp::Reverse(f.last_heard));
        recent
    }

    /// How long a split brain or a foreign router stays reported after it was last
    /// heard: `REPORT_INTERVALS` of our intervals, at least `REPORT_AT_LEAST`.
    pub fn report_window(&self) -> Duration {
        (self.config.advert_interval.as_duration() * REPORT_INTERVALS).max(REPORT_AT_LEAST)
    }

    /// The configuration in force (the last accepted by `reconfigure`).
    pub fn config(&self) -> &RouterConfig {
        &self.config
    }

    /// Counters since the router was created (they survive reconfiguration).
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// The status of a tracked script, for the state file.
    pub fn script_status(&self, name: &str) -> Option<ScriptStatus> {
        self.tracking.script_status(name)
    }

    /// Why the router is (or would be) in FAULT, if it is.
    pub fn fault(&self) -> Option<FaultCause> {
        self.tracking.fault()
    }

    // ----- transitions -------------------------------------------------------

    /// Initialize (or FAULT) → running: FAULT if a fault is present, Master at once
    /// for an owner (RFC 9568 §6.4.1), else Backup.
    pub(super) fn start(&mut self, now: Time, reason: Reason, out: &mut Vec<Action>) {
        // Restarted while still holding resigned VIPs: a fresh start holds none.
        self.release_held(out);
        if let Some(cause) = self.tracking.fault() {
            self.transition(State::Fault, Reason::Fault(cause), out);
            return;
        }
        if self.config.is_owner() {
            let reason = match reason {
                Reason::Startup => Reason::AddressOwner,
                other => other,
            };
            self.become_master(now, reason, out);
            return;
        }
        self.transition(State::Backup, reason, out);
        self.master_adver_int = self.config.advert_interval;
        let wait = match self.config.initial_state {
            InitialState::Backup => self.timers().master_down_interval,
            // keepalived: one advert interval plus the skew of priority 255.
            InitialState::Master => {
                let min_skew =
                    Timers::new(self.config.version, Priority::OWNER, self.master_adver_int)
                        .skew_time;
                self.master_adver_int.as_duration() + min_skew
            }
        };
        self.startup_wait = self.config.initial_state == InitialState::Master;
        self.deadlines.master_down = Some(now + wait);
        // keepalived arms the preempt delay at startup and on leaving FAULT.
        self.preempt_hold_until =
            (!self.config.preempt_delay.is_zero()).then(|| now + self.config.preempt_delay);
    }

    /// Any running state → Initialize. A Master resigns (priority 0, RFC 9568
    /// §6.4.3 Shutdown) and removes its VIPs.
    pub(super) fn stop(&mut self, reason: Reason, out: &mut Vec<Action>) {
        match self.state {
            State::Initialize => {}
            State::Master => self.leave_master(State::Initialize, reason, true, out),
            State::Backup | State::Fault => self.transition(State::Initialize, reason, out),
        }
    }

    /// Any state → Master. The VIPs are added and announced (gratuitous ARP / NA)
    /// *before* the first advert — except after silence, see below.
    ///
    /// Why announce first: a preemption or a graceful stop (the old Master still
    /// holds the VIPs and drops them at our first advert) becomes make-before-break:
    /// clients follow the new Master's announcement before its advert makes the old
    /// one drop the VIPs. It also puts a loser's frames on the wire before the
    /// advert that triggers the winner's re-announcement when two Backups claim at
    /// once (S-10).
    ///
    /// After silence (the down timer ran out a full Master_Down_Interval after the
    /// last advert heard: the Master crashed), nobody holds the VIPs to break
    /// with, and the advert goes first, in RFC 5798 §6.4.2's order: the other
    /// Backups hear it as early as possible. With many instances promoted at once
    /// (fifty VIPs of one crashed Master, docs/scenarios.md S21) the driver can then
    /// send every instance's advert before it adds any VIP, instead of making a
    /// Backup of lower priority, whose timer runs out a skew later, wait for fifty
    /// address additions. S-10's ordering is kept by the contention re-announcement
    /// (`CONTENTION_REANNOUNCE`): the winner speaks last.
    pub(super) fn become_master(&mut self, now: Time, reason: Reason, out: &mut Vec<Action>) {
        let after_silence = reason == Reason::MasterDown && self.after_silence(now);
        self.transition(State::Master, reason, out);
        self.counters.became_master += 1;
        self.preempt_hold_until = None;
        self.last_heard = None;
        self.master = Some(MasterInfo {
            address: self.config.primary_address,
            priority: self.effective,
        });
        if after_silence {
            self.send_advert(self.effective, out);
        }
        out.push(Action::AddVips(self.config.vips.clone()));
        self.send_gratuitous(self.config.vips.clone(), self.config.garp.repeat, out);
        if !after_silence {
            self.send_advert(self.effective, out);
        }
        let garp = &self.config.garp;
        self.deadlines.advert = Some(now + self.config.advert_interval.as_duration());
        self.deadlines.garp_delayed = (!garp.delay.is_zero()).then(|| now + garp.delay);
        self.deadlines.garp_refresh = (!garp.refresh.is_zero()).then(|| now + garp.refresh);
    }

    /// `Input::Shutdown`: like `stop`, except that a Master keeps its VIPs after its
    /// priority-0 advert until its successor speaks (`successor_heard`) or the
    /// release bound passes. keepalived removes them at once, which leaves the VIPs
    /// unanswered for the successor's whole Skew_Time; held, clients are served by
    /// the old Master until the new one has announced itself (it announces before
    /// its first advert, see `become_master`).
    fn resign(&mut self, now: Time, out: &mut Vec<Action>) {
        if self.state != State::Master {
            self.stop(Reason::Shutdown, out);
            return;
        }
        self.transition(State::Initialize, Reason::Shutdown, out);
        self.send_advert(Priority::RELEASE, out);
        self.held = Some(self.config.vips.clone());
        self.deadlines.release = Some(now + self.release_bound());
    }

    /// A resigned Master heard its successor: release the VIPs now.
    pub(super) fn successor_heard(&mut self, out: &mut Vec<Action>) {
        self.release_held(out);
    }

    /// Removes the VIPs held since `resign`, if any, and disarms the bound.
    pub(super) fn release_held(&mut self, out: &mut Vec<Action>) {
        self.deadlines.release = None;
        if let Some(vips) = self.held.take() {
            out.push(Action::RemoveVips(vips));
        }
    }

    /// Master → `to`. `release` sends the priority-0 advert that lets a Backup take
    /// over after Skew_Time instead of a full down interval (C-06).
    pub(super) fn leave_master(
        &mut self,
        to: State,
        reason: Reason,
        release: bool,
        out: &mut Vec<Action>,
    ) {
        self.transition(to, reason, out);
        if release {
            self.send_advert(Priority::RELEASE, out);
        }
        out.push(Action::RemoveVips(self.config.vips.clone()));
    }

    /// Records a state change and disarms the old state's timers; the caller arms
    /// the new state's.
    pub(super) fn transition(&mut self, to: State, reason: Reason, out: &mut Vec<Action>) {
        let from = self.state;
        self.state = to;
        self.rival = None;
        self.confirms_left = 0;
        self.deadlines.clear();
        self.startup_wait = false;
        self.counters.transitions += 1;
        out.push(Action::StateChanged { from, to, reason });
    }

    /// Re-evaluates priority and faults after a tracking or config change.
    pub(super) fn after_tracking(&mut self, now: Time, out: &mut Vec<Action>) {
        self.retrack();
        match (self.state, self.tracking.fault()) {
            (State::Backup, Some(cause)) => {
                self.transition(State::Fault, Reason::Fault(cause), out);
            }
            (State::Master, Some(FaultCause::InterfaceDown(_)))
                if self.deadlines.link_fault.is_some() => {}
            (State::Master, Some(FaultCause::InterfaceDown(_))) => {
                // Ride out a flap (see `flap_debounce`).
                self.deadlines.link_fault = Some(now + self.flap_debounce());
            }
            (State::Master, Some(cause)) => {
                // keepalived: leaving MASTER for FAULT sends priority 0 (vrrp.c).
                // A script fault leaves the link and the machine able to answer,
                // so the VIPs are held until the successor speaks, as on a
                // graceful stop (K-14): the operator's `pause` and a failing
                // health check hand over without a gap. keepalived drops them
                // at once and leaves the VIPs dark for the successor's skew time.
                self.transition(State::Fault, Reason::Fault(cause), out);
                self.send_advert(Priority::RELEASE, out);
                self.held = Some(self.config.vips.clone());
                self.deadlines.release = Some(now + self.release_bound());
            }
            (State::Master, None) if self.deadlines.link_fault.take().is_some() => {
                // The link is back within the debounce: still Master. Say so at
                // once: put back what the kernel took with the link (IPv6
                // addresses), re-announce (switches and neighbours may have
                // forgotten us) and advertise before any Backup's timer runs out.
                self.counters.link_flaps_absorbed += 1;
                out.push(Action::AddVips(self.config.vips.clone()));
                self.send_gratuitous(self.config.vips.clone(), self.config.garp.repeat, out);
                self.send_advert(self.effective, out);
                let interval = self.config.advert_interval.as_duration();
                self.deadlines.advert = Some(now + interval);
            }
            (State::Fault, None) => self.start(now, Reason::FaultCleared, out),
            _ => {}
        }
    }

    /// `Input::ForeignAdvert`: remember the sender (bounded), count the advert.
    fn foreign_heard(&mut self, now: Time, from: IpAddr, reason: ForeignReason) {
        self.counters.foreign_adverts += 1;
        let heard = ForeignRouter {
            address: from,
            reason,
            last_heard: now,
        };
        if let Some(known) = self.foreign.iter_mut().find(|f| f.address == from) {
            *known = heard;
            return;
        }
        if self.foreign.len() >= FOREIGN_MAX {
            // Forget the one heard longest ago.
            if let Some(oldest) =
                (0..self.foreign.len()).min_by_key(|&i| self.foreign[i].last_heard)
            {
                self.foreign.swap_remove(oldest);
            }
        }
        self.foreign.push(heard);
    }

    /// A Master won against `from`'s claim: a contention, or, if `from` keeps
    /// claiming for `DUAL_MASTER_AFTER` intervals, a split brain (`dual_master`).
    ///
    /// "Keeps claiming" means at its advert cadence: a Master that does not hear
    /// us advertises every interval (`its_interval`), so an episode goes on while
    /// its claims come within `REPORT_INTERVALS` of the longer of the two intervals
    /// of each other (and, once reported, within the report window). A Backup
    /// whose timer runs out now and then under packet loss, and whose claim we
    /// answer (K-18), claims once per episode: never a split brain.
    pub(super) fn rival_claims(&mut self, now: Time, from: IpAddr, its_interval: Duration) {
        let interval = self.config.advert_interval.as_duration();
        let cadence = interval.max(its_interval) * REPORT_INTERVALS;
        let episode = match self.rival {
            Some(r)
                if r.address == from
                    && (now <= r.last + cadence
                        || (r.split && now <= r.last + self.report_window())) =>
            {
                Rival { last: now, ..r }
            }
            _ => Rival {
                address: from,
                first: now,
                last: now,
                split: false,
            },
        };
        let split = episode.last.saturating_since(episode.first) >= interval * DUAL_MASTER_AFTER;
        if split && !episode.split {
            self.counters.dual_master_seen += 1;
        }
        self.rival = Some(Rival {
            split: episode.split || split,
            ..episode
        });
    }

    /// `Input::AddressRemoved`: a Master puts back a VIP of its own that was removed
    /// behind its back (an admin's `ip addr del`, netplan or networkd re-applying
    /// the interface) and announces it (S-20). keepalived notices only at its next
    /// state change, so the VIP stays dark until then. While the link is down the
    /// VIPs are put back when it returns (`after_tracking`).
    ///
    /// It also advertises at once: a daemon that removes the VIPs it shared with us
    /// is usually resigning (another VRRP daemon on this machine handing over, with
    /// a priority-0 advert from our very address), and Backups that heard that
    /// release must hear their Master again before their Skew_Time runs out.
    fn address_removed(&mut self, now: Time, addr: IpAddr, out: &mut Vec<Action>) {
        let ours = self.config.vips.contains(&addr);
        if self.state != State::Master || !ours || self.deadlines.link_fault.is_some() {
            return;
        }
        self.counters.vips_restored += 1;
        out.push(Action::AddVips(vec![addr]));
        self.send_gratuitous(vec![addr], self.config.garp.repeat, out);
        self.send_advert(self.effective, out);
        self.restart_advert_timer(now);
    }

    pub(super) fn retrack(&mut self) {
        self.effective = self.config.priority.with_weight(self.tracking.weight_sum());
        if self.state == State::Master {
            if let Some(m) = self.master.as_mut() {
                m.priority = self.effective;
            }
        }
    }

    // ----- outputs -----------------------------------------------------------

    pub(super) fn send_advert(&mut self, priority: Priority, out: &mut Vec<Action>) {
        self.counters.adverts_sent += 1;
        if priority.is_release() {
            self.counters.priority_zero_sent += 1;
        }
        let advert = self.advert(priority);
        // During a rolling VRID or password change the advert also goes out in the
        // old identity, so routers still on it keep one election with us (K-17). A
        // change of transport or interface alone changes where it goes, not what it
        // says: the driver sends the one advert to both identities' destinations.
        let rolling = self
            .config
            .rolling_from
            .as_ref()
            .map(|r| r.advert(&advert))
            .filter(|copy| *copy != advert);
        out.push(Action::SendAdvert(advert));
        out.extend(rolling.map(Action::SendAdvert));
    }

    /// Our advert at `priority`, in the instance's own identity.
    pub(super) fn advert(&self, priority: Priority) -> Advert {
        Advert {
            version: self.config.version,
            vrid: self.config.vrid,
            priority,
            interval: self.config.advert_interval,
            addresses: self.config.vips.clone(),
            auth: match self.config.version {
                Version::V2 => self.config.auth,
                Version::V3 => Auth::None,
            },
        }
    }

    pub(super) fn send_gratuitous(
        &mut self,
        vips: Vec<IpAddr>,
        repeat: u32,
        out: &mut Vec<Action>,
    ) {
        if repeat == 0 || vips.is_empty() {
            return;
        }
        self.counters.gratuitous_bursts += 1;
        out.push(Action::SendGratuitous { vips, repeat });
    }

    /// Re-arms the Adver_Timer one interval from `now` (after an immediate advert).
    pub(super) fn restart_advert_timer(&mut self, now: Time) {
        self.deadlines.advert = Some(now + self.config.advert_interval.as_duration());
    }

    /// Arms the Master_Down_Timer `wait` from `now`.
    pub(super) fn arm_master_down(&mut self, now: Time, wait: Duration) {
        self.deadlines.master_down = Some(now + wait);
    }
}
