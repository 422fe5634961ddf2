//! The fault suite (`docs/scenarios.md` S7, S8, S15, S16, S17, S20, S21): each
//! scenario on our engine and on keepalived 2.2.7 in the same run, with its invariant
//! asserted on our engine and generous bounds (the figures belong to
//! `make bench-faults`, not to timed asserts). Needs root, keepalived and nftables;
//! never skipped.
//!
//! Each scenario touches only its own namespaces, so they run side by side (and
//! beside the other lab binaries); the ones that load the CPU or step the wall clock
//! are in `tests/machine`, run alone after everything else.

use std::net::IpAddr;
use std::time::Duration;

use netns_lab::faults::{self, both, only, ManyScene, Nft, Scene, Timing, V2_1S, V3_100MS};
use netns_lab::DaemonKind;

const SECS: fn(u64) -> Duration = Duration::from_secs;
const MS: fn(u64) -> Duration = Duration::from_millis;

/// S20: the master puts a VIP deleted behind its back back within a second (then
/// announces it); keepalived 2.2.7 does it on its next advert.
#[test]
fn s20_a_vip_deleted_on_the_master_is_served_again_within_a_second() {
    let (ours, keepalived) = both("s20del", V2_1S, |s| faults::vip_deleted(s, SECS(4)));
    assert!(ours.outage <= MS(1000), "ours: {ours:?}");
    assert_eq!(ours.holders_at_end, only("h1"), "ours: {ours:?}");
    assert_eq!(ours.two_holders, Duration::ZERO, "ours: {ours:?}");
    assert_eq!(
        keepalived.holders_at_end,
        only("h1"),
        "keepalived: {keepalived:?}"
    );
}

/// S20 / S6: a 200 ms flap of the master's link hands nothing over and never puts
/// the VIP on two hosts.
#[test]
fn s20_a_200_ms_link_flap_never_puts_the_vip_on_two_hosts() {
    let (ours, _keepalived) = both("s20flap", V2_1S, |s| faults::link_flap(s, MS(200), SECS(6)));
    assert_eq!(ours.two_holders, Duration::ZERO, "ours: {ours:?}");
    assert_eq!(ours.holders_at_end, only("h1"), "ours: {ours:?}");
}

/// S7: a master cut off from the other routers (not from the client) for 10 s: once
/// the partition heals, one holder within 3 s, and the client's neighbour entry ends
/// on that holder's MAC (the winner announces itself again).
#[test]
fn s7_after_a_partition_heals_one_host_holds_the_vip_and_the_client_follows_it() {
    for kind in [DaemonKind::Engine, DaemonKind::Keepalived] {
        let scene = Scene::start(&format!("s7{kind:?}"), kind, V2_1S);
        let out = faults::partition(&scene, SECS(10), SECS(4));
        eprintln!("S7 {kind:?}: {out:?}");
        if kind == DaemonKind::Engine {
            assert_eq!(out.holders_at_end.len(), 1, "ours: {out:?}");
            let settled = out.settled_after_end.unwrap_or_default();
            assert!(settled <= SECS(3), "ours settled {settled:?} after heal");
            let holder = out
                .holders_at_end
                .iter()
                .next()
                .cloned()
                .unwrap_or_default();
            let host = scene
                .lab
                .hosts()
                .iter()
                .find(|h| h.name == holder)
                .unwrap_or_else(|| panic!("no host {holder}"));
            let (mac, _) = scene
                .lab
                .observer()
                .neighbour(scene.vip())
                .expect("the client has a neighbour entry for the VIP");
            assert_eq!(mac, host.mac_text(), "the client follows {holder}");
        }
    }
}

/// S8: the master's adverts are lost (the others' still reach it) for 10 s: after
/// it ends, one holder again within 3 s.
#[test]
fn s8_one_way_loss_ends_with_one_holder() {
    let (ours, keepalived) = both("s8", V2_1S, |s| faults::one_way_loss(s, SECS(10), SECS(4)));
    assert_eq!(ours.holders_at_end.len(), 1, "ours: {ours:?}");
    assert!(
        ours.settled_after_end.unwrap_or_default() <= SECS(3),
        "ours: {ours:?}"
    );
    assert_eq!(
        keepalived.holders_at_end.len(),
        1,
        "keepalived: {keepalived:?}"
    );
}

/// S15: a master stopped for 2.5 s (less than Master_Down_Interval) loses nothing
/// that keepalived keeps; one stopped for 5 s is replaced, and after it continues one
/// host holds the VIP again within 3 s.
#[test]
fn s15_a_stalled_master_ends_with_one_holder_and_a_bounded_outage() {
    for (stall, tag) in [(MS(2500), "s15a"), (SECS(5), "s15b")] {
        let (ours, keepalived) = both(tag, V2_1S, |s| faults::stalled(s, stall, SECS(4)));
        assert_eq!(ours.holders_at_end.len(), 1, "ours: {ours:?}");
        assert!(
            ours.settled_after_end.unwrap_or_default() <= SECS(3),
            "ours: {ours:?}"
        );
        // The outage can be no longer than the stall plus a takeover.
        assert!(ours.outage <= stall + SECS(4), "ours: {ours:?}");
        assert_eq!(
            keepalived.holders_at_end.len(),
            1,
            "keepalived: {keepalived:?}"
        );
    }
}

/// S16: 5 % and 20 % VRRP loss on every link (nobody fails): no more false
/// transitions than keepalived in the same run, give or take the randomness of 10 s
/// samples; the figures over 3 minutes are `make bench-faults`'.
fn s16_loss(pct: u8, timing: Timing) {
    let (ours, keepalived) = both(&format!("s16l{pct}v{}", timing.version), timing, |s| {
        faults::loss(s, pct, SECS(10))
    });
    assert!(
        // 10 s samples of random loss: a generous margin; the comparison
        // proper is `make bench-faults`' (not yet met at 20 % and 0.1 s).
        ours.promotions <= keepalived.promotions + 6,
        "{pct} % at {}: ours {ours:?}, keepalived {keepalived:?}",
        timing.name
    );
    assert!(
        ours.two_holders <= keepalived.two_holders + MS(1500),
        "{pct} % at {}: ours {ours:?}, keepalived {keepalived:?}",
        timing.name
    );
    assert_eq!(ours.holders_at_end.len(), 1, "ours: {ours:?}");
}

#[test]
fn s16_5_pct_loss_at_v2_1_s_causes_no_more_false_transitions_than_keepalived() {
    s16_loss(5, V2_1S);
}

#[test]
fn s16_20_pct_loss_at_v2_1_s_causes_no_more_false_transitions_than_keepalived() {
    s16_loss(20, V2_1S);
}

#[test]
fn s16_5_pct_loss_at_v3_100_ms_causes_no_more_false_transitions_than_keepalived() {
    s16_loss(5, V3_100MS);
}

#[test]
fn s16_20_pct_loss_at_v3_100_ms_causes_no_more_false_transitions_than_keepalived() {
    s16_loss(20, V3_100MS);
}

/// S21: fifty instances whose master crashes: every VIP is held again within 1.5 ×
/// keepalived's time, and never on two hosts, each VIP added exactly once. The
/// second backup's timer runs out 19 ms after the first's; the first claims all
/// fifty with its adverts before it adds any VIP (K-18: the VIPs come a claim wait
/// later), so the second hears fifty claims, not fifty silences. Before the claim,
/// the same scene gave up to 34 instances with two holders (1.39 s), and once in a
/// fresh-clone CI run 8 instances (108 ms); with it, 5 of 5 local runs gave 0 ms
/// and 50 additions, all held after 346–362 ms (keepalived 357–363 ms).
#[test]
fn s21_fifty_instances_are_held_again_in_time_and_never_on_two_hosts() {
    let run = |kind: DaemonKind, tag: &str| {
        let scene = ManyScene::start(tag, kind, V3_100MS, 50);
        let out = scene.crash_master(SECS(3));
        eprintln!("S21 {kind:?}: {out:?}");
        out
    };
    let ours = run(DaemonKind::Engine, "s21o");
    let keepalived = run(DaemonKind::Keepalived, "s21k");
    assert_eq!(ours.never_held, 0, "ours: {ours:?}");
    assert_eq!(ours.two_holders, Duration::ZERO, "ours: {ours:?}");
    assert_eq!(ours.instances_with_two_holders, 0, "ours: {ours:?}");
    assert_eq!(ours.additions, 50, "ours: {ours:?}");
    assert!(
        ours.all_held_after.as_secs_f64() <= keepalived.all_held_after.as_secs_f64() * 1.5,
        "ours {ours:?}, keepalived {keepalived:?}"
    );
}

/// S8 / dual master visible: while the master's adverts are lost, it still hears h2
/// claiming MASTER; its state file names h2 as a second MASTER (the charm turns that
/// into a blocked status).
#[test]
fn s8_the_master_reports_the_second_master_it_hears() {
    let scene = Scene::start("s8dual", DaemonKind::Engine, V2_1S);
    let h2 = IpAddr::V4(scene.lab.host(1).ipv4);
    let nft = Nft::install(scene.master(), &[("output", "meta l4proto 112 drop")]);
    let seen = netns_lab::wait_until("h1 to report h2 as a second MASTER", SECS(12), || {
        let state = scene.master().engine_state()?;
        let vi = state.instances.into_iter().find(|i| i.name == "VI_1")?;
        (vi.dual_master.as_deref() == Some(h2.to_string().as_str())).then_some(vi)
    });
    assert_eq!(seen.state, "MASTER");
    assert!(seen.counters.dual_master_seen >= 1, "{seen:?}");
    drop(nft);
}

/// S9: a foreign keepalived cluster on the segment with our VRID, another VIP and a
/// higher priority: our VIP stays on h1 alone, the foreign router shows in the state
/// file, and it is forgotten after it goes away.
#[test]
fn s9_a_foreign_router_on_our_vrid_is_reported_never_obeyed_and_forgotten() {
    for kind in [DaemonKind::Engine, DaemonKind::Keepalived] {
        let scene = Scene::start_with(&format!("s9{kind:?}"), kind, V2_1S, 1);
        let foreign_vip = IpAddr::V4(scene.lab.addr4(200));
        let h4 = IpAddr::V4(scene.lab.host(3).ipv4);
        let out = faults::foreign_cluster(&scene, foreign_vip, SECS(6));
        eprintln!("S9 {kind:?}: {out:?}");
        // keepalived is the comparison, not the subject: its cluster sometimes
        // re-elects when the foreign router resigns (a backup's "advertisement
        // timeout" seen once here), which is printed above, not asserted.
        if kind == DaemonKind::Engine {
            assert_eq!(out.promotions, 0, "{kind:?}: {out:?}");
            assert_eq!(out.holders_at_end, only("h1"), "{kind:?}: {out:?}");
            let state = scene.master().engine_state().expect("a state file");
            let vi = &state.instances[0];
            assert_eq!(vi.foreign_routers.len(), 1, "{vi:?}");
            assert_eq!(vi.foreign_routers[0].address, h4.to_string());
            assert!(vi.counters.foreign_adverts >= 1, "{vi:?}");
            // Forgotten 10 s after it was last heard; the state file says so at its
            // next heartbeat (10 s).
            netns_lab::wait_for("the foreign router to be forgotten", SECS(25), || {
                scene
                    .master()
                    .engine_state()
                    .is_some_and(|s| s.instances[0].foreign_routers.is_empty())
            });
        }
    }
}
