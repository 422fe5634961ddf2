//! One test per conformance rule of docs/requirements.md that belongs to the
//! state machine, named after it.

use super::*;

// ----- C-06: priority 0 on every Master → not-Master path ----------------------

#[test]
fn c06_shutdown_from_master_sends_priority_zero_and_holds_the_vips() {
    // Make before break: the VIPs stay until the successor speaks or the bound
    // passes (pinned in `handover`).
    let mut r = master(100, "10.0.0.1");
    let actions = r.handle(at_ms(10_000), Input::Shutdown);
    assert_eq!(actions, resignation());
    assert!(!r.is_finished());
    assert_eq!(r.counters().priority_zero_sent, 1);
}

#[test]
fn c06_shutdown_now_from_master_sends_priority_zero_then_removes_vips() {
    let mut r = master(100, "10.0.0.1");
    let actions = r.handle(at_ms(10_000), Input::ShutdownNow);
    assert_eq!(
        actions,
        vec![
            Action::StateChanged {
                from: State::Master,
                to: State::Initialize,
                reason: Reason::Shutdown
            },
            release_advert(),
            Action::RemoveVips(vec![ip(VIP)]),
        ]
    );
    assert_eq!(r.poll_timeout(), None, "nothing runs in Initialize");
    assert!(r.is_finished());
    assert_eq!(r.counters().priority_zero_sent, 1);
}

/// The link stays down past `Router::flap_debounce` (2 s at 1 s adverts, see
/// `tests::healing` for a shorter flap): FAULT, with the priority-0 advert first.
#[test]
fn c06_interface_down_on_master_sends_priority_zero_and_enters_fault() {
    let mut r = master(100, "10.0.0.1");
    let down = Input::InterfaceDown {
        name: "eth0".into(),
    };
    assert_eq!(r.handle(at_ms(10_000), down), vec![]);
    // Adverts due meanwhile cannot leave on a dead link.
    let mut now = r.poll_timeout().unwrap();
    while now < at_ms(12_000) {
        assert_eq!(r.handle_timeout(now), vec![]);
        now = r.poll_timeout().unwrap();
    }
    assert_eq!(now, at_ms(12_000));
    let actions = r.handle_timeout(now);
    assert_eq!(
        actions,
        vec![
            Action::StateChanged {
                from: State::Master,
                to: State::Fault,
                reason: Reason::Fault(FaultCause::InterfaceDown("eth0".into()))
            },
            release_advert(),
            Action::RemoveVips(vec![ip(VIP)]),
        ]
    );
    assert_eq!(r.poll_timeout(), None);
}

#[test]
fn c06_failed_unweighted_script_on_master_sends_priority_zero() {
    let mut c = config(100, "10.0.0.1");
    c.track_scripts.push(TrackScript::new("chk_svc", 0));
    let mut r = started(c);
    r.handle(
        at_ms(1),
        Input::ScriptResult {
            name: "chk_svc".into(),
            ok: true,
        },
    );
    promote(&mut r);
    let actions = r.handle(
        at_ms(5_000),
        Input::ScriptResult {
            name: "chk_svc".into(),
            ok: false,
        },
    );
    assert_eq!(changes(&actions), vec![(State::Master, State::Fault)]);
    assert_eq!(sent_priorities(&actions), vec![0]);
    // The VIPs follow when the successor speaks (K-14, pinned in `handover`).
    assert!(!actions.contains(&Action::RemoveVips(vec![ip(VIP)])));
}

#[test]
fn c06_identity_change_releases_the_old_instance() {
    let mut r = master(100, "10.0.0.1");
    let mut moved = config(100, "10.0.0.1");
    moved.vrid = Vrid::new(52).unwrap();
    let actions = r.reconfigure(at_ms(10_000), moved).unwrap();
    assert_eq!(
        changes(&actions),
        vec![
            (State::Master, State::Initialize),
            (State::Initialize, State::Backup)
        ]
    );
    assert_eq!(
        actions[1],
        release_advert(),
        "priority 0 with the old VRID 51"
    );
    assert_eq!(r.poll_timeout(), Some(at_ns(10_000_000_000 + DOWN_100)));
}

#[test]
fn c06_backup_and_fault_stop_without_any_advert() {
    let mut r = started(config(100, "10.0.0.1"));
    let actions = r.handle(at_ms(500), Input::Shutdown);
    assert_eq!(changes(&actions), vec![(State::Backup, State::Initialize)]);
    assert_eq!(sent_priorities(&actions), Vec::<u8>::new());
    let mut r = started(config(100, "10.0.0.1"));
    r.handle(
        at_ms(100),
        Input::InterfaceDown {
            name: "eth0".into(),
        },
    );
    let actions = r.handle(at_ms(500), Input::Shutdown);
    assert_eq!(changes(&actions), vec![(State::Fault, State::Initialize)]);
    assert_eq!(sent_priorities(&actions), Vec::<u8>::new());
}

// ----- C-13 / C-14: receive rules that are the router's -------------------------

#[test]
fn c13_v3_interval_mismatch_is_accepted_logged_and_adopted() {
    let mut r = started(config_v3(100, "10.0.0.1", 100));
    let mut input = adv_v3("10.0.0.9", 200, 50);
    if let Input::Advert {
        interval_mismatch, ..
    } = &mut input
    {
        *interval_mismatch = true;
    }
    assert_eq!(r.handle(at_ms(1_000), input), vec![]);
    assert_eq!(r.counters().interval_mismatches, 1);
    assert_eq!(r.master_adver_int().centis(), 50);
    // 1 s + 3 × 0.5 s + (156 × 0.5 s) / 256
    assert_eq!(
        r.poll_timeout(),
        Some(at_ns(1_000_000_000 + 1_500_000_000 + 304_687_500))
    );
    assert_eq!(r.master_address(), Some(ip("10.0.0.9")));
}

/// With a password: without one, K-15 applies (`keepalived.rs`).
#[test]
fn c13_v2_interval_mismatch_is_dropped() {
    let mut c = config(100, "10.0.0.1");
    c.auth = Auth::pass("s3cr3t");
    let mut r = started(c);
    let mut adv = advert(Version::V2, 200, AdvertInterval::from_secs(2).unwrap());
    adv.auth = Auth::pass("s3cr3t");
    let input = Input::Advert {
        from: ip("10.0.0.9"),
        advert: adv,
        interval_mismatch: true,
    };
    assert_eq!(r.handle(at_ms(1_000), input), vec![]);
    assert_eq!(
        r.poll_timeout(),
        Some(at_ns(DOWN_100)),
        "the down timer was not reset"
    );
    assert_eq!(r.master_address(), None);
    assert_eq!(r.counters().adverts_ignored, 1);
}

#[test]
fn c14_owner_receiving_an_owner_advert_runs_the_election() {
    // Lower address: reverts to Backup (erratum 8298: do not drop, elect).
    let mut low = started(config(255, "10.0.0.1"));
    assert_eq!(low.state(), State::Master);
    let actions = low.handle(at_ms(1), adv("10.0.0.2", 255));
    assert_eq!(
        actions,
        demotion(Reason::EqualPriorityHigherAddress {
            from: ip("10.0.0.2")
        })
    );
    // Higher address: stays Master, re-advertises and re-announces at once.
    let mut high = started(config(255, "10.0.0.2"));
    let actions = high.handle(at_ms(1), adv("10.0.0.1", 255));
    assert_eq!(high.state(), State::Master);
    assert_eq!(sent_priorities(&actions), vec![255]);
    assert!(actions.contains(&Action::SendGratuitous {
        vips: vec![ip(VIP)],
        repeat: 5
    }));
}

// ----- C-20..C-28: state machine and timers ------------------------------------

#[test]
fn c20_backup_promotes_exactly_at_down_interval_after_last_advert_never_before() {
    let mut r = started(config(100, "10.0.0.1"));
    r.handle(at_ms(1_000), adv("10.0.0.9", 200));
    let due = at_ns(1_000_000_000 + DOWN_100);
    assert_eq!(r.poll_timeout(), Some(due));
    assert_eq!(
        r.handle_timeout(at_ns(1_000_000_000 + DOWN_100 - 1)),
        vec![]
    );
    assert_eq!(r.state(), State::Backup);
    // The down timer sends the advert at once; the VIPs wait for the claim (K-18).
    assert_eq!(r.handle_timeout(due), claim(100));
    let taken = at_ns(1_000_000_000 + DOWN_100 + CLAIM);
    assert_eq!(r.poll_timeout(), Some(taken));
    assert_eq!(r.state(), State::Backup);
    let actions = r.handle_timeout(taken);
    assert_eq!(actions, promotion(Reason::MasterDown, 100));
    assert_eq!(r.master_address(), Some(ip("10.0.0.1")));
}

#[test]
fn c21_backup_promotes_at_skew_after_priority_zero() {
    let mut r = started(config(100, "10.0.0.1"));
    r.handle(at_ms(1_000), adv("10.0.0.9", 200));
    r.handle(at_ms(2_000), adv("10.0.0.9", 0));
    assert_eq!(r.poll_timeout(), Some(at_ns(2_000_000_000 + SKEW_100)));
    assert_eq!(
        r.handle_timeout(at_ns(2_000_000_000 + SKEW_100 - 1)),
        vec![]
    );
    let actions = r.handle_timeout(at_ns(2_000_000_000 + SKEW_100));
    assert_eq!(changes(&actions), vec![(State::Backup, State::Master)]);
    // v3 at 10 cs: the skew is scaled by the learned interval, 60.9375 ms.
    let mut r = started(config_v3(100, "10.0.0.1", 100));
    r.handle(at_ms(1_000), adv_v3("10.0.0.9", 200, 10));
    r.handle(at_ms(1_050), adv_v3("10.0.0.9", 0, 10));
    assert_eq!(r.poll_timeout(), Some(at_ns(1_050_000_000 + 60_937_500)));
}

#[test]
fn c22_backup_adopts_the_advertised_v3_interval_and_recomputes_skew_and_down_timer() {
    let mut r = started(config_v3(100, "10.0.0.1", 100));
    r.handle(at_ms(1_000), adv_v3("10.0.0.9", 200, 10));
    assert_eq!(r.timers().skew_time, Duration::from_nanos(60_937_500));
    assert_eq!(
        r.timers().master_down_interval,
        Duration::from_nanos(360_937_500)
    );
    assert_eq!(r.poll_timeout(), Some(at_ns(1_360_937_500)));
    r.handle(at_ms(1_100), adv_v3("10.0.0.9", 200, 200));
    // 3 × 2 s + 156 × 2 s / 256 = 7.21875 s
    assert_eq!(r.poll_timeout(), Some(at_ns(1_100_000_000 + 7_218_750_000)));
}

#[test]
fn c23_preempting_backup_waits_its_own_down_interval_then_the_old_master_yields() {
    let mut old = master(100, "10.0.0.1"); // Master since DOWN_100, adverts on that grid
    let mut new = Router::new(config(200, "10.0.0.2")).unwrap();
    new.handle(at_ms(10_000), Input::Startup);
    // 3 s + 56/256 s
    let own_down = at_ns(10_000_000_000 + 3_218_750_000);
    assert_eq!(new.poll_timeout(), Some(own_down));
    let mut t = old.poll_timeout().unwrap();
    while t < own_down {
        if t > at_ms(10_000) {
            let sent = sent_priorities(&old.handle_timeout(t));
            assert_eq!(sent, vec![100]);
            assert_eq!(
                new.handle(t, adv("10.0.0.1", 100)),
                vec![],
                "lower priority: discarded"
            );
            assert_eq!(
                new.poll_timeout(),
                Some(own_down),
                "the timer keeps running"
            );
        } else {
            old.handle_timeout(t);
        }
        t = old.poll_timeout().unwrap();
    }
    assert_eq!(new.counters().lower_priority_discarded, 3);
    let actions = new.handle_timeout(own_down);
    assert_eq!(changes(&actions), vec![(State::Backup, State::Master)]);
    let actions = old.handle(own_down, adv("10.0.0.2", 200));
    assert_eq!(
        actions,
        demotion(Reason::HigherPriority {
            from: ip("10.0.0.2"),
            priority: Priority::from_wire(200)
        })
    );
}

#[test]
fn c24_nopreempt_backup_never_takes_over_from_a_live_master() {
    let mut c = config(200, "10.0.0.2");
    c.preempt = false;
    let mut r = started(c);
    for second in 1..=600 {
        let now = at_ms(second * 1_000);
        assert_eq!(r.handle_timeout(now), vec![]);
        assert_eq!(r.handle(now, adv("10.0.0.1", 100)), vec![]);
        assert_eq!(
            r.poll_timeout(),
            Some(at_ns(second * 1_000_000_000 + 3_218_750_000))
        );
    }
    assert_eq!(r.state(), State::Backup);
    assert_eq!(r.master_address(), Some(ip("10.0.0.1")));
}

#[test]
fn c25_owner_goes_master_at_startup_and_always_preempts() {
    let mut c = config(255, "10.0.0.1");
    c.preempt = false; // ignored for an owner
    let mut r = Router::new(c).unwrap();
    let actions = r.handle(Time::ZERO, Input::Startup);
    assert_eq!(
        actions,
        vec![
            Action::StateChanged {
                from: State::Initialize,
                to: State::Master,
                reason: Reason::AddressOwner
            },
            Action::AddVips(vec![ip(VIP)]),
            Action::SendGratuitous {
                vips: vec![ip(VIP)],
                repeat: 5
            },
            Action::SendAdvert(advert(Version::V2, 255, AdvertInterval::DEFAULT)),
        ]
    );
    // Demoted by a second owner with a higher address, then that owner is gone and
    // a priority-254 router advertises: the owner discards it and takes over.
    r.handle(at_ms(100), adv("10.0.0.2", 255));
    assert_eq!(r.state(), State::Backup);
    let down = at_ns(100_000_000 + 3_003_906_250); // 3 s + 1/256 s
    assert_eq!(r.poll_timeout(), Some(down));
    assert_eq!(r.handle(at_ms(1_000), adv("10.0.0.3", 254)), vec![]);
    assert_eq!(r.poll_timeout(), Some(down));
    assert_eq!(
        changes(&r.handle_timeout(down)),
        vec![(State::Backup, State::Master)]
    );
}

#[test]
fn c26_master_yields_to_higher_priority_and_adopts_the_v3_interval() {
    let mut r = started(config_v3(255, "10.0.0.1", 100));
    r.reconfigure(Time::ZERO, config_v3(150, "10.0.0.1", 100))
        .unwrap();
    assert_eq!(
        r.state(),
        State::Master,
        "a reconfigured Master stays Master"
    );
    let actions = r.handle(at_ms(10), adv_v3("10.0.0.2", 151, 50));
    assert_eq!(changes(&actions), vec![(State::Master, State::Backup)]);
    assert_eq!(
        sent_priorities(&actions),
        Vec::<u8>::new(),
        "yielding is not resigning"
    );
    assert_eq!(r.master_adver_int().centis(), 50);
    // 3 × 0.5 s + (106 × 0.5 s) / 256
    assert_eq!(
        r.poll_timeout(),
        Some(at_ns(10_000_000 + 1_500_000_000 + 207_031_250))
    );
}

#[test]
fn c26_equal_priority_higher_address_wins_and_lower_address_loses() {
    let mut r = master(100, "10.0.0.5");
    let actions = r.handle(at_ms(4_000), adv("10.0.0.6", 100));
    assert_eq!(
        actions[0],
        Action::StateChanged {
            from: State::Master,
            to: State::Backup,
            reason: Reason::EqualPriorityHigherAddress {
                from: ip("10.0.0.6")
            }
        }
    );
    // Unsigned, network byte order: 10.0.0.200 > 10.0.0.5 although "2" < "5".
    let mut r = master(100, "10.0.0.5");
    r.handle(at_ms(4_000), adv("10.0.0.200", 100));
    assert_eq!(r.state(), State::Backup);
}

#[test]
fn c26_master_hearing_lower_priority_or_lower_address_re_advertises_and_re_announces() {
    for (from, prio) in [("10.0.0.9", 99), ("10.0.0.4", 100)] {
        let mut r = master(100, "10.0.0.5");
        let now = at_ms(4_000);
        let actions = r.handle(now, adv(from, prio));
        assert_eq!(
            actions,
            vec![
                Action::SendAdvert(advert(Version::V2, 100, AdvertInterval::DEFAULT)),
                Action::SendGratuitous {
                    vips: vec![ip(VIP)],
                    repeat: 5
                },
            ],
            "advert from {from} priority {prio}"
        );
        assert_eq!(r.state(), State::Master);
        // The second re-announcement comes first (pinned in `handover`), then
        // the restarted Adver_Timer.
        assert_eq!(r.poll_timeout(), Some(at_ms(4_050)));
        assert_eq!(
            sent_priorities(&r.handle_timeout(at_ms(4_050))),
            Vec::<u8>::new()
        );
        assert_eq!(
            r.poll_timeout(),
            Some(at_ms(5_000)),
            "Adver_Timer restarted"
        );
    }
}

#[test]
fn c27_master_receiving_priority_zero_sends_an_advert_immediately() {
    let mut r = master(100, "10.0.0.5");
    let actions = r.handle(at_ms(4_000), adv("10.0.0.9", 0));
    assert_eq!(
        actions,
        vec![Action::SendAdvert(advert(
            Version::V2,
            100,
            AdvertInterval::DEFAULT
        ))]
    );
    assert_eq!(r.poll_timeout(), Some(at_ms(5_000)));
    assert_eq!(r.counters().priority_zero_received, 1);
}

#[test]
fn c28_non_owner_never_claims_master_before_down_interval_nor_while_adverts_arrive() {
    let mut r = started(config(254, "10.0.0.1"));
    assert_eq!(r.poll_timeout(), Some(at_ns(3_007_812_500)));
    assert_eq!(r.handle_timeout(at_ns(3_007_812_499)), vec![]);
    assert_eq!(r.state(), State::Backup);
    // A Master at the same priority keeps advertising: never claimed, for 10 min.
    let mut r = started(config(254, "10.0.0.1"));
    for second in 0..600u64 {
        let now = at_ms(second * 1_000 + 500);
        assert_eq!(r.handle(now, adv("10.0.0.0", 254)), vec![]);
        assert_eq!(r.handle_timeout(now + Duration::from_millis(999)), vec![]);
    }
    assert_eq!(r.counters().became_master, 0);
}

#[test]
fn c28_state_master_startup_claims_after_one_interval_plus_minimal_skew() {
    let mut c = config(101, "10.0.0.1");
    c.initial_state = InitialState::Master;
    let mut r = started(c.clone());
    let due = at_ns(1_003_906_250); // 1 s + 1/256 s
    assert_eq!(r.poll_timeout(), Some(due));
    assert_eq!(r.handle_timeout(at_ns(1_003_906_249)), vec![]);
    let actions = r.handle_timeout(due);
    assert_eq!(
        actions[0],
        Action::StateChanged {
            from: State::Backup,
            to: State::Master,
            reason: Reason::InitialStateMaster
        }
    );
    // An advert inside that window turns it into an ordinary Backup.
    let mut r = started(c);
    r.handle(at_ms(500), adv("10.0.0.9", 101));
    assert_eq!(
        r.poll_timeout(),
        Some(at_ns(500_000_000 + 3_000_000_000 + 605_468_750))
    );
}
