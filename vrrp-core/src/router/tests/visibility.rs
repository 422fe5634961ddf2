//! What the router tells the operator without acting on it: a split brain (another
//! router that keeps claiming Master while we are, S-7, S-8) and routers outside our
//! cluster on our VRID (S-9). Neither ever changes the state.

use super::*;

const RIVAL: &str = "10.0.0.2";

/// A Master (priority 100, Master since DOWN_100) and the instant it became one.
fn master_at() -> (Router, u64) {
    (master(100, "10.0.0.1"), DOWN_100)
}

#[test]
fn a_contention_that_ends_at_once_is_not_a_dual_master() {
    let (mut r, t) = master_at();
    r.handle(at_ns(t + 500_000_000), adv(RIVAL, 50));
    assert_eq!(r.dual_master(at_ns(t + 600_000_000)), None);
    assert_eq!(r.dual_master(at_ns(t + 5_000_000_000)), None);
    assert_eq!(r.counters().dual_master_seen, 0);
}

/// Under packet loss a Backup's timer runs out now and then; it claims, we answer
/// and it withdraws (K-18). Claims seconds apart are contentions, not a split
/// brain, however many there are.
#[test]
fn claims_now_and_then_are_contentions_never_a_dual_master() {
    let (mut r, t) = master_at();
    for k in 0..10 {
        let at = at_ns(t + 100_000_000 + k * 3_100_000_000);
        r.handle(at, adv(RIVAL, 50));
        assert_eq!(r.dual_master(at), None, "claim {k}");
    }
    assert_eq!(r.counters().dual_master_seen, 0);
}

/// A rival that advertises at a longer interval than ours is timed by its own:
/// a Master at 5 s that does not hear our 1 s adverts is a split brain too, though
/// its claims come more than three of our intervals apart.
#[test]
fn a_rival_at_a_longer_interval_is_timed_by_its_own_cadence() {
    let (mut r, t) = master_at();
    let slow = |priority| Input::Advert {
        from: ip(RIVAL),
        advert: advert(
            Version::V2,
            priority,
            AdvertInterval::from_centis(500).unwrap(),
        ),
        // Without authentication another interval is our own cluster changing
        // its timing (K-15), so the v2 interval rule lets it through.
        interval_mismatch: false,
    };
    for k in 0..3 {
        r.handle(at_ns(t + 100_000_000 + k * 5_000_000_000), slow(50));
    }
    assert_eq!(r.dual_master(at_ns(t + 10_100_000_000)), Some(ip(RIVAL)));
}

#[test]
fn a_rival_claiming_for_two_intervals_is_a_dual_master_until_ten_seconds_of_silence() {
    let (mut r, t) = master_at();
    let first = t + 100_000_000;
    r.handle(at_ns(first), adv(RIVAL, 50));
    r.handle(at_ns(first + 1_000_000_000), adv(RIVAL, 50));
    assert_eq!(r.dual_master(at_ns(first + 1_000_000_000)), None);
    // Two intervals after its first claim it still claims: it does not hear us.
    let last = first + 2_000_000_000;
    let actions = r.handle(at_ns(last), adv(RIVAL, 50));
    assert!(changes(&actions).is_empty(), "no state change: {actions:?}");
    assert_eq!(r.state(), State::Master);
    assert_eq!(r.dual_master(at_ns(last)), Some(ip(RIVAL)));
    assert_eq!(r.counters().dual_master_seen, 1);
    // Reported for max(3 intervals, 10 s) after its last claim, then gone.
    assert_eq!(r.report_window(), Duration::from_secs(10));
    assert_eq!(r.dual_master(at_ns(last + 10_000_000_000)), Some(ip(RIVAL)));
    assert_eq!(r.dual_master(at_ns(last + 10_000_000_001)), None);
    // More claims of the same episode are not counted again.
    r.handle(at_ns(last + 1_000_000_000), adv(RIVAL, 50));
    assert_eq!(r.counters().dual_master_seen, 1);
}

#[test]
fn stepping_down_ends_the_dual_master_report() {
    let (mut r, t) = master_at();
    for k in 0..3 {
        r.handle(at_ns(t + k * 1_000_000_000 + 1), adv(RIVAL, 50));
    }
    assert!(r.dual_master(at_ns(t + 2_000_000_001)).is_some());
    r.handle(at_ns(t + 2_500_000_000), adv("10.0.0.3", 200));
    assert_eq!(r.state(), State::Backup);
    assert_eq!(r.dual_master(at_ns(t + 2_500_000_000)), None);
}

fn foreign(from: &str) -> Input {
    Input::ForeignAdvert {
        from: ip(from),
        reason: ForeignReason::AddressList,
    }
}

#[test]
fn a_foreign_router_is_remembered_never_obeyed_and_forgotten_when_silent() {
    let (mut r, t) = master_at();
    let heard = at_ns(t + 1);
    assert_eq!(r.handle(heard, foreign("10.0.0.9")), vec![]);
    assert_eq!(r.state(), State::Master);
    assert_eq!(
        r.foreign_routers(heard),
        vec![ForeignRouter {
            address: ip("10.0.0.9"),
            reason: ForeignReason::AddressList,
            last_heard: heard,
        }]
    );
    assert_eq!(r.counters().foreign_adverts, 1);
    assert_eq!(r.foreign_routers(at_ns(t + 1 + 10_000_000_000)).len(), 1);
    assert_eq!(r.foreign_routers(at_ns(t + 2 + 10_000_000_000)), vec![]);
}

#[test]
fn a_flood_of_forged_sources_keeps_only_the_most_recent_eight() {
    let mut r = started(config(100, "10.0.0.1"));
    for k in 0..100u64 {
        r.handle(at_ns(k), foreign(&format!("10.9.0.{k}")));
    }
    let now = at_ns(100);
    let kept: Vec<IpAddr> = r.foreign_routers(now).iter().map(|f| f.address).collect();
    let expected: Vec<IpAddr> = (92..100u64)
        .rev()
        .map(|k| ip(&format!("10.9.0.{k}")))
        .collect();
    assert_eq!(kept, expected);
    assert_eq!(r.counters().foreign_adverts, 100);
    assert_eq!(r.state(), State::Backup);
}

#[test]
fn only_foreign_list_auth_or_peer_drops_name_a_foreign_router() {
    use crate::packet::DropReason;
    assert_eq!(
        ForeignReason::of_drop(&DropReason::AddressListMismatch { count: 1 }),
        Some(ForeignReason::AddressList)
    );
    assert_eq!(
        ForeignReason::of_drop(&DropReason::AuthPass),
        Some(ForeignReason::Authentication)
    );
    assert_eq!(
        ForeignReason::of_drop(&DropReason::UnicastPeer(ip("10.0.0.9"))),
        Some(ForeignReason::NotAPeer)
    );
    assert_eq!(ForeignReason::of_drop(&DropReason::Ttl(254)), None);
}
