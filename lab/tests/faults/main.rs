//! The fault suite (`docs/scenarios.md` S7, S8, S15, S16, S17, S20, S21): each
//! scenario on our engine and on keepalived 2.2.7 in the same run, with its invariant
//! asserted on our engine and generous bounds (the figures belong to
//! `make bench-faults`, not to timed asserts). Needs root, keepalived and nftables;
//! never skipped.
//!
//! Scenarios run two at a time (the test threads), but a CPU hog or a step of the
//! wall clock runs alone ([`MACHINE`]): it must not disturb another scenario.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use netns_lab::faults::{self, ManyScene, Nft, Outcome, Scene, Timing, V2_1S, V3_100MS};
use netns_lab::DaemonKind;

/// Held shared by scenarios that only touch their own lab, exclusively by those that
/// touch the whole machine (its CPU, its wall clock).
static MACHINE: RwLock<()> = RwLock::new(());

fn shared() -> RwLockReadGuard<'static, ()> {
    MACHINE.read().unwrap_or_else(|p| p.into_inner())
}

fn exclusive() -> RwLockWriteGuard<'static, ()> {
    MACHINE.write().unwrap_or_else(|p| p.into_inner())
}

const SECS: fn(u64) -> Duration = Duration::from_secs;
const MS: fn(u64) -> Duration = Duration::from_millis;

/// Runs `fault` on a fresh scene of each daemon: (ours, keepalived).
fn both(tag: &str, timing: Timing, fault: impl Fn(&Scene) -> Outcome) -> (Outcome, Outcome) {
    let run = |kind: DaemonKind, t: &str| {
        let scene = Scene::start(&format!("{tag}{t}"), kind, timing);
        let out = fault(&scene);
        eprintln!("{tag} {kind:?} {}: {out:?}", timing.name);
        out
    };
    (
        run(DaemonKind::Engine, "o"),
        run(DaemonKind::Keepalived, "k"),
    )
}

fn only(host: &str) -> BTreeSet<String> {
    BTreeSet::from([host.to_string()])
}

/// S20: the master puts a VIP deleted behind its back back within a second (then
/// announces it); keepalived 2.2.7 does it on its next advert.
#[test]
fn s20_a_vip_deleted_on_the_master_is_served_again_within_a_second() {
    let _machine = shared();
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
    let _machine = shared();
    let (ours, _keepalived) = both("s20flap", V2_1S, |s| faults::link_flap(s, MS(200), SECS(6)));
    assert_eq!(ours.two_holders, Duration::ZERO, "ours: {ours:?}");
    assert_eq!(ours.holders_at_end, only("h1"), "ours: {ours:?}");
}

/// S7: a master cut off from the other routers (not from the client) for 10 s: once
/// the partition heals, one holder within 3 s, and the client's neighbour entry ends
/// on that holder's MAC (the winner announces itself again).
#[test]
fn s7_after_a_partition_heals_one_host_holds_the_vip_and_the_client_follows_it() {
    let _machine = shared();
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
    let _machine = shared();
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
    let _machine = shared();
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

/// S15: a real-time busy loop on the master's core for 5 s: afterwards one holder.
#[test]
fn s15_a_cpu_hog_on_the_masters_core_ends_with_one_holder() {
    let _machine = exclusive();
    let (ours, _keepalived) = both("s15hog", V3_100MS, |s| faults::cpu_hog(s, SECS(5), SECS(3)));
    assert_eq!(ours.holders_at_end.len(), 1, "ours: {ours:?}");
}

/// S16: 5 % and 20 % VRRP loss on every link (nobody fails): no more false
/// transitions than keepalived in the same run, give or take the randomness of 10 s
/// samples; the figures over 3 minutes are `make bench-faults`'.
#[test]
fn s16_packet_loss_causes_no_more_false_transitions_than_keepalived() {
    let _machine = shared();
    for timing in [V2_1S, V3_100MS] {
        for pct in [5u8, 20] {
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
    }
}

/// S17: the wall clock jumping an hour either way changes nothing: the timers are
/// monotonic.
#[test]
fn s17_a_wall_clock_step_causes_no_transition() {
    let _machine = exclusive();
    for step in [3600, -3600] {
        let (ours, keepalived) = both(&format!("s17{}", step > 0), V2_1S, |s| {
            faults::clock_step(s, step, SECS(3))
        });
        assert_eq!(ours.promotions, 0, "ours: {ours:?}");
        assert_eq!(ours.holders_at_end, only("h1"), "ours: {ours:?}");
        assert_eq!(keepalived.promotions, 0, "keepalived: {keepalived:?}");
    }
}

/// S21: fifty instances whose master crashes: every VIP is held again within 1.5 ×
/// keepalived's time, and (nearly) never on two hosts.
#[test]
fn s21_fifty_instances_are_held_again_in_time_and_nearly_never_on_two_hosts() {
    let _machine = shared();
    let run = |kind: DaemonKind, tag: &str| {
        let scene = ManyScene::start(tag, kind, V3_100MS, 50);
        let out = scene.crash_master(SECS(3));
        eprintln!("S21 {kind:?}: {out:?}");
        out
    };
    let ours = run(DaemonKind::Engine, "s21o");
    let keepalived = run(DaemonKind::Keepalived, "s21k");
    assert_eq!(ours.never_held, 0, "ours: {ours:?}");
    // The target is 0 ms and one addition per VIP; measured 0 ms in most runs but
    // 1.6 ms in 2 of 50 instances (52 additions) in one: a loser's claim racing the
    // winner's advert, not yet fixed (docs/scenarios.md S21). The bound catches a
    // regression to the old tens of milliseconds in most instances.
    assert!(ours.two_holders < MS(50), "ours: {ours:?}");
    assert!(ours.instances_with_two_holders <= 5, "ours: {ours:?}");
    assert!((50..=55).contains(&ours.additions), "ours: {ours:?}");
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
    let _machine = shared();
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
    let _machine = shared();
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

/// S15, a busy machine rather than a real-time hog: 8 normal-priority busy loops on
/// the core the master's engine is pinned to, for 5 s, at VRRPv3 0.1 s. With the
/// charm's `vrrp_rt_priority` (SCHED_RR) the master's adverts stay on time; without
/// it they wait for the scheduler. Prints both; asserts the real-time one.
#[test]
fn s15_a_busy_core_delays_no_advert_of_a_real_time_master() {
    let _machine = exclusive();
    let mut gaps = Vec::new();
    for realtime in [None, Some(10)] {
        let lab = netns_lab::Lab::builder(&format!(
            "s15busy{}",
            if realtime.is_some() { "rt" } else { "no" }
        ))
        .hosts(2)
        .observer(true)
        .build();
        let vip: IpAddr = lab.vip4().into();
        let adverts = lab.watch_adverts(vip);
        for i in 0..2 {
            let mut c = lab.keepalived_conf(i, [254, 253][i]);
            c.version = 3;
            c.advert_int = "0.1".into();
            c.realtime = realtime;
            lab.host(i).start_engine(&c.render());
            if i == 0 {
                netns_lab::wait_for("h1 to hold the VIP", SECS(10), || {
                    lab.host(0).has_address(vip)
                });
            }
        }
        std::thread::sleep(SECS(1));
        let h1 = lab.host(0);
        for pid in h1.daemon_pids() {
            h1.ns
                .exec_ok(&["taskset", "-a", "-p", "1", &pid.to_string()]);
        }
        let t0 = std::time::Instant::now();
        for k in 0..8 {
            h1.spawn(
                &format!("busy{k}"),
                &[
                    "timeout",
                    "5",
                    "taskset",
                    "-c",
                    "0",
                    "sh",
                    "-c",
                    "while :; do :; done",
                ],
            );
        }
        std::thread::sleep(SECS(5) + MS(300));
        let t1 = std::time::Instant::now();
        let src1 = IpAddr::V4(h1.ipv4);
        let src2 = IpAddr::V4(lab.host(1).ipv4);
        let seen = adverts.all();
        let times: Vec<std::time::Instant> = seen
            .iter()
            .filter(|a| a.src == src1 && a.at >= t0 && a.at <= t1)
            .map(|a| a.at)
            .collect();
        let longest = times
            .windows(2)
            .map(|w| w[1] - w[0])
            .max()
            .unwrap_or(SECS(5));
        let claims = seen
            .iter()
            .filter(|a| a.src == src2 && a.at >= t0 && a.priority > 0)
            .count();
        eprintln!(
            "S15 busy core, master {}: {} adverts in 5 s, longest gap {:.1} ms, adverts of the backup (false takeover) {claims}",
            if realtime.is_some() { "SCHED_RR 10" } else { "normal scheduling" },
            times.len(),
            longest.as_secs_f64() * 1e3
        );
        gaps.push((realtime, longest, claims));
    }
    let (_, rt_gap, rt_claims) = gaps[1];
    assert_eq!(rt_claims, 0, "the backup took over from a real-time master");
    assert!(
        rt_gap <= MS(150),
        "real-time master's longest advert gap {rt_gap:?}"
    );
}
