//! keepalived behaviour beyond the RFC checklist: equal-priority Backups, v2/v3
//! skew, preempt_delay, FAULT, tracking, GARP policy, live reconfiguration
//! (docs/requirements.md K-01..K-08), and the timing changes of our own cluster
//! (K-15).

use super::*;

#[test]
fn equal_priority_backups_never_compare_addresses() {
    // A Backup with the higher address still accepts an equal-priority advert from
    // a lower address: tie-breaks only happen in Master (RFC 9568 §6.4.2).
    let mut r = started(config(100, "10.0.0.9"));
    r.handle(at_ms(1_000), adv("10.0.0.1", 100));
    assert_eq!(r.poll_timeout(), Some(at_ns(1_000_000_000 + DOWN_100)));
    assert_eq!(r.counters().lower_priority_discarded, 0);
}

#[test]
fn v2_skew_is_not_scaled_by_the_interval_but_v3_skew_is() {
    let mut v2 = config(100, "10.0.0.1");
    v2.advert_interval = AdvertInterval::from_secs(3).unwrap();
    assert_eq!(
        started(v2).poll_timeout(),
        Some(at_ns(9_000_000_000 + SKEW_100))
    );
    let v3 = config_v3(100, "10.0.0.1", 300);
    assert_eq!(
        started(v3).poll_timeout(),
        Some(at_ns(9_000_000_000 + 3 * SKEW_100))
    );
}

#[test]
fn preempt_delay_defers_to_a_lower_priority_master_then_preempts() {
    let mut c = config(200, "10.0.0.2");
    c.preempt_delay = Duration::from_secs(5);
    let mut r = Router::new(c).unwrap();
    r.handle(at_ms(10_000), Input::Startup);
    // A lower-priority Master advertising at .5: accepted until 15 s…
    for ms in [10_500, 11_500, 12_500, 13_500, 14_500] {
        r.handle(at_ms(ms), adv("10.0.0.1", 100));
        assert_eq!(
            r.poll_timeout(),
            Some(at_ns(ms * 1_000_000 + 3_218_750_000))
        );
    }
    // …then discarded: the timer runs out 3.21875 s after the last accepted one.
    r.handle(at_ms(15_500), adv("10.0.0.1", 100));
    assert_eq!(
        r.poll_timeout(),
        Some(at_ns(14_500_000_000 + 3_218_750_000))
    );
    assert_eq!(r.counters().lower_priority_discarded, 1);
}

#[test]
fn preempt_delay_restarts_when_a_lower_priority_master_appears_later() {
    let mut c = config(200, "10.0.0.2");
    c.preempt_delay = Duration::from_secs(5);
    let mut r = started(c);
    r.handle(at_ms(1_000), adv("10.0.0.3", 250)); // a better Master clears the delay
    r.handle(at_ms(100_000), adv("10.0.0.1", 100)); // first lower one: delay starts
    r.handle(at_ms(104_900), adv("10.0.0.1", 100));
    assert_eq!(
        r.poll_timeout(),
        Some(at_ns(104_900_000_000 + 3_218_750_000))
    );
    r.handle(at_ms(105_000), adv("10.0.0.1", 100));
    assert_eq!(r.counters().lower_priority_discarded, 1);
}

#[test]
fn leaving_fault_goes_backup_and_waits_a_full_down_interval() {
    let mut r = started(config(100, "10.0.0.1"));
    r.handle(
        at_ms(100),
        Input::InterfaceDown {
            name: "eth0".into(),
        },
    );
    assert_eq!(r.state(), State::Fault);
    assert_eq!(
        r.handle(at_ms(200), adv("10.0.0.9", 200)),
        vec![],
        "FAULT ignores adverts"
    );
    let actions = r.handle(
        at_ms(1_000),
        Input::InterfaceUp {
            name: "eth0".into(),
        },
    );
    assert_eq!(
        actions,
        vec![Action::StateChanged {
            from: State::Fault,
            to: State::Backup,
            reason: Reason::FaultCleared
        }]
    );
    assert_eq!(r.poll_timeout(), Some(at_ns(1_000_000_000 + DOWN_100)));
}

#[test]
fn startup_with_the_interface_down_enters_fault() {
    let mut r = Router::new(config(255, "10.0.0.1")).unwrap();
    r.handle(
        Time::ZERO,
        Input::InterfaceDown {
            name: "eth0".into(),
        },
    );
    let actions = r.handle(at_ms(1), Input::Startup);
    assert_eq!(changes(&actions), vec![(State::Initialize, State::Fault)]);
    assert_eq!(sent_priorities(&actions), Vec::<u8>::new());
    // An owner leaving FAULT claims at once, as at startup.
    let actions = r.handle(
        at_ms(2),
        Input::InterfaceUp {
            name: "eth0".into(),
        },
    );
    assert_eq!(changes(&actions), vec![(State::Fault, State::Master)]);
}

#[test]
fn tracking_weights_change_the_advertised_priority_clamped() {
    let mut c = config(250, "10.0.0.1");
    c.track_scripts.push(TrackScript::new("chk", 10));
    let mut r = started(c);
    assert_eq!(r.effective_priority().get(), 250);
    r.handle(
        at_ms(1),
        Input::ScriptResult {
            name: "chk".into(),
            ok: true,
        },
    );
    assert_eq!(
        r.effective_priority().get(),
        254,
        "never 255 for a non-owner"
    );
    let actions = promote(&mut r);
    assert_eq!(sent_priorities(&actions), vec![254]);
    let mut owner = config(255, "10.0.0.1");
    owner.track_scripts.push(TrackScript::new("chk", -100));
    let mut r = started(owner);
    r.handle(
        at_ms(1),
        Input::ScriptResult {
            name: "chk".into(),
            ok: false,
        },
    );
    assert_eq!(r.effective_priority(), Priority::OWNER);
}

#[test]
fn master_adverts_follow_the_interval_grid_and_garp_bursts_repeat_as_configured() {
    let mut c = config(100, "10.0.0.1");
    c.garp.refresh = Duration::from_secs(60);
    let mut r = started(c);
    promote(&mut r);
    // The take's repeats (K-18, `TAKE_CONFIRMS`) are pinned in `handover`.
    settle_confirms(&mut r);
    let mut adverts = Vec::new();
    let mut garps = Vec::new();
    while let Some(t) = r
        .poll_timeout()
        .filter(|t| *t <= at_ns(MASTER_100 + 61_000_000_000))
    {
        for a in r.handle_timeout(t) {
            match a {
                Action::SendAdvert(_) => adverts.push(t),
                Action::SendGratuitous { repeat, .. } => garps.push((t, repeat)),
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    assert_eq!(adverts.len(), 61);
    assert_eq!(adverts[0], at_ns(MASTER_100 + 1_000_000_000));
    assert_eq!(adverts[60], at_ns(MASTER_100 + 61_000_000_000));
    assert_eq!(
        garps,
        vec![
            (at_ns(MASTER_100 + 5_000_000_000), 5), // garp_master_delay: second burst
            (at_ns(MASTER_100 + 60_000_000_000), 1), // garp_master_refresh
        ]
    );
}

#[test]
fn lower_prio_no_advert_keeps_the_master_silent_but_still_re_announces() {
    let mut c = config(100, "10.0.0.5");
    c.lower_prio_no_advert = true;
    let mut r = started(c);
    promote(&mut r);
    let actions = r.handle(at_ms(4_000), adv("10.0.0.9", 50));
    assert_eq!(
        actions,
        vec![Action::SendGratuitous {
            vips: vec![ip(VIP)],
            repeat: 5
        }]
    );
}

#[test]
fn adverts_from_our_own_address_or_another_vrid_never_change_state() {
    let mut r = master(100, "10.0.0.5");
    assert_eq!(r.handle(at_ms(4_000), adv("10.0.0.5", 200)), vec![]);
    let mut other = advert(Version::V2, 200, AdvertInterval::DEFAULT);
    other.vrid = Vrid::new(52).unwrap();
    let input = Input::Advert {
        from: ip("10.0.0.9"),
        advert: other,
        interval_mismatch: false,
    };
    assert_eq!(r.handle(at_ms(4_001), input), vec![]);
    assert_eq!(r.state(), State::Master);
    assert_eq!(r.counters().adverts_ignored, 2);
}

#[test]
fn reconfigure_on_master_is_hitless() {
    let mut c = config(100, "10.0.0.1");
    c.vips = vec![ip("10.0.0.100"), ip("10.0.0.101")];
    let mut r = started(c.clone());
    promote(&mut r);
    let mut next = c;
    next.priority = Priority::from_wire(150);
    next.vips = vec![ip("10.0.0.100"), ip("10.0.0.102")];
    let actions = r.reconfigure(at_ms(4_000), next).unwrap();
    assert_eq!(
        actions,
        vec![
            Action::RemoveVips(vec![ip("10.0.0.101")]),
            Action::AddVips(vec![ip("10.0.0.102")]),
            Action::SendGratuitous {
                vips: vec![ip("10.0.0.102")],
                repeat: 5
            },
        ]
    );
    assert_eq!(r.state(), State::Master);
    assert_eq!(
        r.counters().transitions,
        2,
        "Initialize→Backup→Master, nothing more"
    );
    let actions = r.handle_timeout(r.poll_timeout().unwrap());
    match &actions[..] {
        [Action::SendAdvert(a)] => {
            assert_eq!(a.priority.get(), 150);
            assert_eq!(a.addresses, vec![ip("10.0.0.100"), ip("10.0.0.102")]);
        }
        other => panic!("expected one advert, got {other:?}"),
    }
}

#[test]
fn reconfigure_refuses_an_invalid_config_and_keeps_running() {
    let mut r = master(100, "10.0.0.1");
    let mut bad = config(100, "10.0.0.1");
    bad.vips.clear();
    assert!(r.reconfigure(at_ms(4_000), bad).is_err());
    assert_eq!(r.state(), State::Master);
    assert_eq!(r.config().vips, vec![ip(VIP)]);
}

#[test]
fn reconfigure_adding_an_unweighted_failed_tracker_enters_fault() {
    let mut r = master(100, "10.0.0.1");
    let mut next = config(100, "10.0.0.1");
    next.track_scripts.push(TrackScript {
        init_fail: true,
        ..TrackScript::new("chk", 0)
    });
    let actions = r.reconfigure(at_ms(4_000), next).unwrap();
    assert_eq!(changes(&actions), vec![(State::Master, State::Fault)]);
    assert_eq!(sent_priorities(&actions), vec![0]);
}

// ----- K-16: down_timer_adverts -------------------------------------------------

/// With `down_timer_adverts 4` at VRRPv3 80 ms, three lost adverts in a row are not
/// a Master failure; the fourth makes it one, after 4 × 80 ms + (156 × 80 ms) / 256.
#[test]
fn k16_down_timer_adverts_sets_how_many_lost_adverts_make_the_master_down() {
    let mut c = config_v3(100, "10.0.0.1", 8);
    c.down_timer_adverts = 4;
    let mut r = started(c);
    assert_eq!(r.handle(at_ms(100), adv_v3("10.0.0.9", 200, 8)), vec![]);
    assert_eq!(r.poll_timeout(), Some(at_ns(100_000_000 + 368_750_000)));
    // The adverts at 180, 260 and 340 ms are lost; the one at 420 ms arrives.
    assert_eq!(r.handle(at_ms(420), adv_v3("10.0.0.9", 200, 8)), vec![]);
    assert_eq!(r.state(), State::Backup);
    assert_eq!(r.poll_timeout(), Some(at_ns(420_000_000 + 368_750_000)));
    // Then four are lost: the claim at the deadline, not a nanosecond earlier,
    // and Master when nobody answered it within 10 ms (K-18).
    assert_eq!(r.handle_timeout(at_ns(788_749_999)), vec![]);
    assert_eq!(
        sent_priorities(&r.handle_timeout(at_ns(788_750_000))),
        vec![100]
    );
    assert_eq!(r.state(), State::Backup);
    let actions = r.handle_timeout(at_ns(798_750_000));
    assert_eq!(changes(&actions), vec![(State::Backup, State::Master)]);
}

// ----- K-15: a cluster changing its timing unit by unit -------------------------

/// A v3 Backup at 0.1 s whose Master still speaks v2 at 1 s times it by 1 s: no
/// false takeover while the Master's unit has not switched yet.
#[test]
fn k15_a_v3_backup_times_a_v2_master_by_the_masters_interval() {
    let mut r = started(config_v3(100, "10.0.0.1", 10));
    assert_eq!(r.handle(at_ms(100), adv("10.0.0.9", 200)), vec![]);
    assert_eq!(r.master_adver_int().centis(), 100);
    // 3 × 1 s + (156 × 1 s) / 256 after the advert.
    assert_eq!(r.poll_timeout(), Some(at_ns(100_000_000 + DOWN_100)));
    assert_eq!(r.master_address(), Some(ip("10.0.0.9")));
}

/// A v2 Backup at 1 s whose Master already speaks v3 at 0.1 s follows it and would
/// take over as fast as the new timing says (3 × 0.1 s + the v2 skew).
#[test]
fn k15_a_v2_backup_follows_a_v3_master_and_its_interval() {
    let mut r = started(config(100, "10.0.0.1"));
    assert_eq!(r.handle(at_ms(100), adv_v3("10.0.0.9", 200, 10)), vec![]);
    assert_eq!(r.master_adver_int().centis(), 10);
    assert_eq!(
        r.poll_timeout(),
        Some(at_ns(100_000_000 + 300_000_000 + SKEW_100))
    );
    // A lower-priority v3 Master is preempted as any other (C-23).
    let mut high = started(config(200, "10.0.0.1"));
    high.handle(at_ms(100), adv_v3("10.0.0.9", 100, 10));
    assert_eq!(high.counters().lower_priority_discarded, 1);
}

/// The version is timing, not identity: a Master switched from v2 1 s to v3 0.1 s
/// stays Master, sends nothing extra, and its next advert is v3, 0.1 s after the
/// change (the shorter interval takes effect at once).
#[test]
fn k15_a_version_change_on_the_master_keeps_it_master() {
    let mut r = master(100, "10.0.0.1");
    let actions = r
        .reconfigure(at_ms(4_000), config_v3(100, "10.0.0.1", 10))
        .unwrap();
    assert_eq!(actions, vec![]);
    assert_eq!(r.state(), State::Master);
    assert_eq!(r.poll_timeout(), Some(at_ms(4_100)));
    match &r.handle_timeout(at_ms(4_100))[..] {
        [Action::SendAdvert(a)] => {
            assert_eq!(a.version, Version::V3);
            assert_eq!(a.interval.centis(), 10);
        }
        other => panic!("expected one v3 advert, got {other:?}"),
    }
    // And back: v3 → v2 keeps it Master too.
    assert_eq!(
        r.reconfigure(at_ms(5_000), config(100, "10.0.0.1"))
            .unwrap(),
        vec![]
    );
    assert_eq!(r.state(), State::Master);
}

/// With a password another version stays another router's, never an input.
#[test]
fn k15_with_a_password_another_version_is_ignored() {
    let mut c = config(100, "10.0.0.1");
    c.auth = Auth::pass("s3cr3t");
    let mut r = started(c);
    assert_eq!(r.handle(at_ms(100), adv_v3("10.0.0.9", 200, 10)), vec![]);
    assert_eq!(r.master_address(), None);
    assert_eq!(r.poll_timeout(), Some(at_ns(DOWN_100)));
    assert_eq!(r.counters().adverts_ignored, 1);
}

/// K-17: a Master moved from VRID 51 to 52 with `rolling_from` 51 keeps its state,
/// sends every advert in both identities, and hears a Backup still on 51 as its own
/// cluster; once `rolling_from` is dropped it speaks 52 only, still Master.
#[test]
fn k17_a_vrid_change_with_rolling_from_keeps_the_master_and_speaks_both_vrids() {
    let vrid = |n| Vrid::new(n).unwrap();
    let mut r = master(100, "10.0.0.1");
    let mut moved = config(100, "10.0.0.1");
    moved.vrid = vrid(52);
    moved.rolling_from = Some(RollingFrom {
        vrid: vrid(51),
        auth: Auth::None,
        unicast_peers: Vec::new(),
        interface: None,
    });
    assert_eq!(r.reconfigure(at_ms(10_000), moved.clone()).unwrap(), vec![]);
    assert_eq!(r.state(), State::Master);
    let due = r.poll_timeout().unwrap();
    let sent: Vec<u8> = r
        .handle_timeout(due)
        .iter()
        .filter_map(|a| match a {
            Action::SendAdvert(a) => Some(a.vrid.get()),
            _ => None,
        })
        .collect();
    assert_eq!(sent, vec![52, 51]);
    // A higher-priority router still on VRID 51 is heard: this Master steps down.
    let actions = r.handle(due + Duration::from_millis(10), adv("10.0.0.2", 200));
    assert_eq!(changes(&actions), vec![(State::Master, State::Backup)]);
    assert_eq!(r.master_address(), Some(ip("10.0.0.2")));

    // Without the rolling identity a VRID-51 advert is another router's.
    let mut r = master(100, "10.0.0.1");
    r.reconfigure(at_ms(10_000), moved.clone()).unwrap();
    let mut done = moved;
    done.rolling_from = None;
    assert_eq!(r.reconfigure(at_ms(11_000), done).unwrap(), vec![]);
    assert_eq!(r.state(), State::Master);
    assert_eq!(r.handle(at_ms(11_100), adv("10.0.0.2", 200)), vec![]);
    assert_eq!(r.state(), State::Master);
    assert_eq!(r.counters().adverts_ignored, 1);
}

/// K-17 with K-15: a router that gained a password (VRRPv2, `rolling_from` without
/// one) still follows a Master on the old identity that runs VRRPv3 without a
/// password (the charm's fast timing before the change): that advert came in the
/// rolling identity, where neither side authenticates.
#[test]
fn k17_a_v3_advert_without_a_password_is_heard_in_the_rolling_identity() {
    let mut c = config(100, "10.0.0.1");
    c.auth = Auth::pass("s3cr3t");
    c.rolling_from = Some(RollingFrom {
        vrid: Vrid::new(51).unwrap(),
        auth: Auth::None,
        unicast_peers: Vec::new(),
        interface: None,
    });
    let mut r = started(c.clone());
    r.handle(at_ms(100), adv_v3("10.0.0.9", 200, 10));
    assert_eq!(r.master_address(), Some(ip("10.0.0.9")));
    // Without the rolling identity it is another router's (K-15 needs no password).
    c.rolling_from = None;
    let mut r = started(c);
    assert_eq!(r.handle(at_ms(100), adv_v3("10.0.0.9", 200, 10)), vec![]);
    assert_eq!(r.master_address(), None);
}
