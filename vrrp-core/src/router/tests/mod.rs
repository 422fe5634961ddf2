//! Unit tests of the router as a whole: `checklist` has one test per conformance
//! rule of docs/requirements.md (C-06, C-13, C-14, C-20..C-28), named after it;
//! `handover` pins the wire order of a new Master, the contention re-announcement
//! and the make-before-break release on shutdown; `keepalived` pins the
//! keepalived rules K-01..K-05 of docs/requirements.md;
//! `healing` and `visibility` pin S-20, S-6, S-7, S-8 and S-9 (docs/scenarios.md);
//! `waiting` pins which adverts may wait unread and `pacing` which adverts the
//! driver may send on its own (docs/architecture.md). Every time is exact to the
//! nanosecond: the RFCs define them, and "roughly" would hide bugs (the v2 skews
//! of priorities 100 and 101 differ by 0.39 ms).

mod checklist;
mod handover;
mod healing;
mod keepalived;
mod pacing;
mod visibility;
mod waiting;

pub(super) use super::*;
pub(super) use crate::proto::{Advert, AdvertInterval, Auth, Priority, RollingFrom, Version, Vrid};
pub(super) use std::net::IpAddr;
pub(super) use std::time::Duration;

pub(super) const VIP: &str = "10.0.0.100";
/// v2 (and v3 at 1 s) priority 100: Skew_Time = 156/256 s.
pub(super) const SKEW_100: u64 = 609_375_000;
/// 3 s + SKEW_100.
pub(super) const DOWN_100: u64 = 3_609_375_000;
/// The claim wait at 1 s adverts (`CLAIM_WAIT`, K-18).
pub(super) const CLAIM: u64 = 10_000_000;
const _: () = assert!(CLAIM_WAIT.as_nanos() == CLAIM as u128);
/// When a priority-100 Backup that heard nobody becomes Master: its down timer,
/// then its unanswered claim.
pub(super) const MASTER_100: u64 = DOWN_100 + CLAIM;

pub(super) fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

pub(super) fn at_ms(ms: u64) -> Time {
    Time::from_nanos(ms * 1_000_000)
}

pub(super) fn at_ns(ns: u64) -> Time {
    Time::from_nanos(ns)
}

pub(super) fn config(priority: u8, addr: &str) -> RouterConfig {
    let mut c = RouterConfig::new(
        "VI_1",
        "eth0",
        Vrid::new(51).unwrap(),
        ip(addr),
        vec![ip(VIP)],
    );
    c.priority = Priority::from_wire(priority);
    c
}

pub(super) fn config_v3(priority: u8, addr: &str, centis: u16) -> RouterConfig {
    let mut c = config(priority, addr);
    c.version = Version::V3;
    c.advert_interval = AdvertInterval::from_centis(centis).unwrap();
    c
}

pub(super) fn advert(version: Version, priority: u8, interval: AdvertInterval) -> Advert {
    Advert {
        version,
        vrid: Vrid::new(51).unwrap(),
        priority: Priority::from_wire(priority),
        interval,
        addresses: vec![ip(VIP)],
        auth: Auth::None,
    }
}

/// A v2, 1 s advert with this priority from `from`.
pub(super) fn adv(from: &str, priority: u8) -> Input {
    Input::Advert {
        from: ip(from),
        advert: advert(Version::V2, priority, AdvertInterval::DEFAULT),
        interval_mismatch: false,
    }
}

pub(super) fn adv_v3(from: &str, priority: u8, centis: u16) -> Input {
    Input::Advert {
        from: ip(from),
        advert: advert(
            Version::V3,
            priority,
            AdvertInterval::from_centis(centis).unwrap(),
        ),
        interval_mismatch: false,
    }
}

pub(super) fn started(config: RouterConfig) -> Router {
    let mut r = Router::new(config).unwrap();
    r.handle(Time::ZERO, Input::Startup);
    r
}

/// A non-owner that became Master by its down timer and an unanswered claim
/// (MASTER_100 at priority 100).
pub(super) fn master(priority: u8, addr: &str) -> Router {
    let mut r = started(config(priority, addr));
    promote(&mut r);
    settle_confirms(&mut r);
    r
}

/// Fires a new Master's repeats of its take advert (`TAKE_CONFIRMS`, K-18), so
/// that only the advert interval's cadence is left.
pub(super) fn settle_confirms(r: &mut Router) {
    for _ in 0..TAKE_CONFIRMS {
        if let Some(due) = r.poll_timeout() {
            r.handle_timeout(due);
        }
    }
}

/// Runs a Backup that hears nobody through its down timer and its unanswered
/// claim (K-18); returns what it did on becoming Master.
pub(super) fn promote(r: &mut Router) -> Vec<Action> {
    loop {
        let due = r.poll_timeout().unwrap();
        let actions = r.handle_timeout(due);
        if r.state() == State::Master {
            return actions;
        }
    }
}

/// A claim after silence (K-18): the advert alone, at `priority` (v2, 1 s).
pub(super) fn claim(priority: u8) -> Vec<Action> {
    vec![Action::SendAdvert(advert(
        Version::V2,
        priority,
        AdvertInterval::DEFAULT,
    ))]
}

pub(super) fn sent_priorities(actions: &[Action]) -> Vec<u8> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::SendAdvert(adv) => Some(adv.priority.get()),
            _ => None,
        })
        .collect()
}

pub(super) fn changes(actions: &[Action]) -> Vec<(State, State)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::StateChanged { from, to, .. } => Some((*from, *to)),
            _ => None,
        })
        .collect()
}

pub(super) fn release_advert() -> Action {
    Action::SendAdvert(advert(Version::V2, 0, AdvertInterval::DEFAULT))
}

/// What a Backup that becomes Master after silence (its Master crashed) does, in
/// wire order (`become_master`): the first advert, then the VIPs and their
/// announcement, at `priority` (v2, 1 s).
pub(super) fn promotion(reason: Reason, priority: u8) -> Vec<Action> {
    vec![
        Action::StateChanged {
            from: State::Backup,
            to: State::Master,
            reason,
        },
        Action::SendAdvert(advert(Version::V2, priority, AdvertInterval::DEFAULT)),
        Action::AddVips(vec![ip(VIP)]),
        Action::SendGratuitous {
            vips: vec![ip(VIP)],
            repeat: 5,
        },
    ]
}

/// A Master resigning on shutdown: to Initialize, then priority 0.
pub(super) fn resignation() -> Vec<Action> {
    vec![
        Action::StateChanged {
            from: State::Master,
            to: State::Initialize,
            reason: Reason::Shutdown,
        },
        release_advert(),
    ]
}

/// A Master stepping down for a better Master: to Backup, VIPs removed, no advert.
pub(super) fn demotion(reason: Reason) -> Vec<Action> {
    vec![
        Action::StateChanged {
            from: State::Master,
            to: State::Backup,
            reason,
        },
        Action::RemoveVips(vec![ip(VIP)]),
    ]
}
