//! The decisions around a change of Master that the router owns (they used
//! to be the daemon's, invisible to exact-time tests): asking before taking after
//! silence (K-18), the wire order of a new Master's actions, the second
//! re-announcement after a won contention
//! (`CONTENTION_REANNOUNCE`) and the make-before-break release on shutdown
//! (`Input::Shutdown`, `RELEASE_MARGIN`) and on a script FAULT (K-14: the
//! charm's `pause`, a failing unweighted health check).

use super::*;

fn kinds(actions: &[Action]) -> Vec<&'static str> {
    actions
        .iter()
        .map(|a| match a {
            Action::SendAdvert(a) if a.priority.is_release() => "release",
            Action::SendAdvert(_) => "advert",
            Action::AddVips(_) => "add",
            Action::RemoveVips(_) => "remove",
            Action::SendGratuitous { .. } => "garp",
            Action::StateChanged { to, .. } => match to {
                State::Master => "to-master",
                _ => "to-other",
            },
        })
        .collect()
}

fn garp(repeat: u32) -> Action {
    Action::SendGratuitous {
        vips: vec![ip(VIP)],
        repeat,
    }
}

/// v2 / 1 s, priority 1: Skew_Time = 255/256 s, the latest any Backup takes over.
const SKEW_1: u64 = 996_093_750;
/// `RELEASE_MARGIN`.
const MARGIN: u64 = 50_000_000;

// ----- ask before taking: the claim after silence (K-18) ---------------------------

/// A priority-100 Backup that heard 10.0.0.9 (200) at 1 s and nothing since: it
/// claims at 1 s + DOWN_100.
fn claiming() -> (Router, u64) {
    let mut r = started(config(100, "10.0.0.1"));
    r.handle(at_ms(1_000), adv("10.0.0.9", 200));
    let t = 1_000_000_000 + DOWN_100;
    assert_eq!(r.handle_timeout(at_ns(t)), claim(100));
    (r, t)
}

/// Packet loss made the down timer run out while the Master lives: its answer to
/// the claim keeps this router a Backup that never touched the VIPs, timing the
/// Master again from its answer.
#[test]
fn a_claim_answered_by_a_better_master_is_withdrawn_without_taking_anything() {
    let (mut r, t) = claiming();
    assert_eq!(r.poll_timeout(), Some(at_ns(t + CLAIM)));
    let answer = t + 300_000; // a LAN round trip later
    assert_eq!(r.handle(at_ns(answer), adv("10.0.0.9", 200)), vec![]);
    assert_eq!(r.state(), State::Backup);
    assert_eq!(r.counters().claims_withdrawn, 1);
    assert_eq!(r.counters().became_master, 0);
    assert_eq!(r.master_address(), Some(ip("10.0.0.9")));
    assert_eq!(r.poll_timeout(), Some(at_ns(answer + DOWN_100)));
    assert_eq!(r.handle_timeout(at_ns(t + CLAIM)), vec![], "claim disarmed");
    // The same for an equal priority from a higher address (RFC 9568 §6.4.3's
    // tie-break, as a Master would lose it).
    let (mut r, t) = claiming();
    r.handle(at_ns(t + 100_000), adv("10.0.0.2", 100));
    assert_eq!(r.counters().claims_withdrawn, 1);
    assert_eq!(r.master_address(), Some(ip("10.0.0.2")));
}

/// An unanswered claim: the Backup takes the VIPs and repeats its advert
/// `TAKE_CONFIRMS` times, `CLAIM_WAIT` apart, then keeps the interval's cadence.
#[test]
fn a_take_after_an_unanswered_claim_repeats_the_advert_a_claim_wait_apart() {
    let (mut r, t) = claiming();
    let take = r.handle_timeout(at_ns(t + CLAIM));
    assert_eq!(kinds(&take), vec!["to-master", "advert", "add", "garp"]);
    assert_eq!(TAKE_CONFIRMS, 2);
    for k in 1..=u64::from(TAKE_CONFIRMS) {
        let due = t + CLAIM + k * CLAIM;
        assert_eq!(r.poll_timeout(), Some(at_ns(due)), "confirm {k}");
        assert_eq!(kinds(&r.handle_timeout(at_ns(due))), vec!["advert"]);
    }
    assert_eq!(
        r.poll_timeout(),
        Some(at_ns(t + CLAIM + 1_000_000_000)),
        "then the advert interval"
    );
}

/// Loss ate the claim or the answer, so the Backup took the VIPs while the Master
/// lives: the Master's answer to a repeat ends it within one claim wait, and no
/// repeat is left once the VIPs are given back.
#[test]
fn a_false_take_ends_at_the_first_repeat_the_master_answers() {
    let (mut r, t) = claiming();
    r.handle_timeout(at_ns(t + CLAIM));
    r.handle_timeout(at_ns(t + 2 * CLAIM));
    let answer = t + 2 * CLAIM + 300_000;
    let back = r.handle(at_ns(answer), adv("10.0.0.9", 200));
    assert_eq!(kinds(&back), vec!["to-other", "remove"]);
    assert_eq!(r.state(), State::Backup);
    assert_eq!(
        r.poll_timeout(),
        Some(at_ns(answer + DOWN_100)),
        "no repeat left"
    );
}

/// Another Backup's claim that would lose to ours (lower priority, or equal from a
/// lower address) does not hold ours back, with or without preemption: the claim
/// is in the election as a Master is.
#[test]
fn a_claim_that_would_win_goes_on_past_losing_claims() {
    for preempt in [true, false] {
        let mut c = config(100, "10.0.0.5");
        c.preempt = preempt;
        let mut r = started(c);
        r.handle(at_ms(1_000), adv("10.0.0.9", 200));
        let t = 1_000_000_000 + DOWN_100;
        r.handle_timeout(at_ns(t));
        assert_eq!(r.handle(at_ns(t + 1_000), adv("10.0.0.3", 50)), vec![]);
        assert_eq!(r.handle(at_ns(t + 2_000), adv("10.0.0.4", 100)), vec![]);
        assert_eq!(
            r.poll_timeout(),
            Some(at_ns(t + CLAIM)),
            "preempt {preempt}"
        );
        // Others were heard just now: announce first, as on a preemption.
        let actions = r.handle_timeout(at_ns(t + CLAIM));
        assert_eq!(kinds(&actions), vec!["to-master", "add", "garp", "advert"]);
        assert_eq!(r.counters().claims_withdrawn, 0);
    }
}

/// A priority 0 while the claim is pending: the resigning Master's successor is
/// chosen by Skew_Time (RFC 9568 §6.4.2), so the claim gives way to that timer.
#[test]
fn a_release_heard_while_claiming_leaves_the_choice_to_the_skew_time() {
    let (mut r, t) = claiming();
    let release = t + 1_000_000;
    r.handle(at_ns(release), adv("10.0.0.9", 0));
    assert_eq!(r.poll_timeout(), Some(at_ns(release + SKEW_100)));
    // Not after silence (it just heard the release): it takes at once.
    let actions = r.handle_timeout(at_ns(release + SKEW_100));
    assert_eq!(kinds(&actions), vec!["to-master", "add", "garp", "advert"]);
}

/// Only silence is answered by a claim: a Backup preempting a live lower-priority
/// Master, a successor after priority 0 and a `state MASTER` start take at once.
#[test]
fn only_a_down_timer_run_out_after_silence_claims() {
    // Preemption: it hears the lower Master all along.
    let mut r = started(config(100, "10.0.0.1"));
    for k in 0..4 {
        r.handle(at_ms(1_000 + 1_000 * k), adv("10.0.0.9", 50));
    }
    let actions = r.handle_timeout(at_ns(1_000_000_000 + DOWN_100));
    assert_eq!(kinds(&actions), vec!["to-master", "add", "garp", "advert"]);
    // `state MASTER`: one interval plus the smallest skew, then Master.
    let mut c = config(100, "10.0.0.1");
    c.initial_state = InitialState::Master;
    let mut r = started(c);
    r.handle_timeout(r.poll_timeout().unwrap());
    assert_eq!(r.state(), State::Master);
}

/// 10 ms, and never more than a quarter of the advert interval: the claim must
/// end long before the next advert of a live Master is due.
#[test]
fn the_claim_wait_is_10_ms_and_at_most_a_quarter_interval() {
    assert_eq!(CLAIM, 10_000_000);
    assert_eq!(
        master(100, "10.0.0.1").claim_wait(),
        Duration::from_millis(10)
    );
    for (centis, wait_us) in [(10u16, 10_000u64), (4, 10_000), (2, 5_000), (1, 2_500)] {
        let r = Router::new(config_v3(100, "10.0.0.1", centis)).unwrap();
        assert_eq!(
            r.claim_wait(),
            Duration::from_micros(wait_us),
            "{centis} cs"
        );
    }
}

// ----- wire order: announce before advert, but advert first after silence ----------

/// The Master went silent (a crash): nobody holds the VIPs, so the first advert
/// goes first (RFC 5798 §6.4.2's order) and the other Backups hear it at once.
#[test]
fn a_master_gone_silent_is_replaced_advert_first() {
    let mut r = started(config(100, "10.0.0.1"));
    assert_eq!(r.poll_timeout(), Some(at_ns(DOWN_100)));
    // The claim (K-18), then, unanswered, the promotion.
    assert_eq!(r.handle_timeout(at_ns(DOWN_100)), claim(100));
    let actions = r.handle_timeout(at_ns(MASTER_100));
    assert_eq!(actions, promotion(Reason::MasterDown, 100));
    assert_eq!(kinds(&actions), vec!["to-master", "advert", "add", "garp"]);
    // After its repeats (TAKE_CONFIRMS), the next advert one interval after the
    // first, on the same grid.
    settle_confirms(&mut r);
    assert_eq!(r.poll_timeout(), Some(at_ns(MASTER_100 + 1_000_000_000)));
    // The same after an advert heard a full down interval before.
    let mut r = started(config(100, "10.0.0.1"));
    r.handle(at_ms(1_000), adv("10.0.0.9", 200));
    r.handle_timeout(at_ns(1_000_000_000 + DOWN_100));
    let actions = r.handle_timeout(at_ns(1_000_000_000 + MASTER_100));
    assert_eq!(kinds(&actions), vec!["to-master", "advert", "add", "garp"]);
}

/// A preemption: the lower-priority Master is still speaking and drops the VIPs
/// at our first advert, so the VIPs are added and announced before it (make
/// before break).
#[test]
fn a_preempting_backup_announces_its_vips_before_its_first_advert() {
    let mut r = started(config(200, "10.0.0.1"));
    let due = r.poll_timeout().unwrap();
    let mut t = 0;
    while at_ms(t + 1_000) < due {
        t += 1_000;
        assert_eq!(r.handle(at_ms(t), adv("10.0.0.9", 100)), vec![]);
    }
    let actions = r.handle_timeout(due);
    assert_eq!(kinds(&actions), vec!["to-master", "add", "garp", "advert"]);
}

/// A graceful stop: the resigning Master (priority 0) keeps its VIPs until our
/// first advert (K-14, `Input::Shutdown`), so we announce before it.
#[test]
fn the_successor_of_a_resigning_master_announces_before_its_first_advert() {
    let mut r = started(config(100, "10.0.0.1"));
    r.handle(at_ms(1_000), adv("10.0.0.9", 200));
    r.handle(at_ms(1_500), adv("10.0.0.9", 0));
    let due = r.poll_timeout().unwrap();
    assert_eq!(due, at_ns(1_500_000_000 + SKEW_100));
    let actions = r.handle_timeout(due);
    assert_eq!(kinds(&actions), vec!["to-master", "add", "garp", "advert"]);
}

#[test]
fn an_owner_changing_identity_releases_first_then_announces_before_advertising() {
    let mut r = started(config(255, "10.0.0.1"));
    assert_eq!(r.state(), State::Master);
    let mut moved = config(255, "10.0.0.1");
    moved.vrid = Vrid::new(52).unwrap();
    let actions = r.reconfigure(at_ms(10_000), moved).unwrap();
    assert_eq!(
        kinds(&actions),
        vec![
            "to-other",
            "release",
            "remove",
            "to-master",
            "add",
            "garp",
            "advert"
        ]
    );
    let vrids: Vec<u8> = actions
        .iter()
        .filter_map(|a| match a {
            Action::SendAdvert(adv) => Some(adv.vrid.get()),
            _ => None,
        })
        .collect();
    assert_eq!(vrids, vec![51, 52], "the release with the old VRID");
}

// ----- contention: re-announce at once and CONTENTION_REANNOUNCE later ---------------

#[test]
fn a_won_contention_re_announces_at_once_and_exactly_50_ms_later() {
    assert_eq!(CONTENTION_REANNOUNCE, Duration::from_millis(50));
    let mut r = master(100, "10.0.0.5");
    let won = DOWN_100 + 100_000; // the loser's advert, one latency after both claimed
    let actions = r.handle(at_ns(won), adv("10.0.0.4", 100));
    assert_eq!(
        actions,
        vec![
            Action::SendAdvert(advert(Version::V2, 100, AdvertInterval::DEFAULT)),
            garp(5),
        ]
    );
    assert_eq!(r.poll_timeout(), Some(at_ns(won + 50_000_000)));
    assert_eq!(r.handle_timeout(at_ns(won + 49_999_999)), vec![]);
    assert_eq!(r.handle_timeout(at_ns(won + 50_000_000)), vec![garp(5)]);
    // Once: then the Adver_Timer restarted by the immediate advert.
    assert_eq!(r.poll_timeout(), Some(at_ns(won + 1_000_000_000)));
    assert_eq!(r.counters().gratuitous_bursts, 3);
}

#[test]
fn a_peer_repeating_lower_adverts_does_not_multiply_or_postpone_the_re_announcement() {
    let mut r = master(100, "10.0.0.5");
    r.handle(at_ms(4_000), adv("10.0.0.9", 99));
    r.handle(at_ms(4_030), adv("10.0.0.9", 99));
    assert_eq!(r.poll_timeout(), Some(at_ms(4_050)), "not moved to 4.08 s");
    assert_eq!(r.handle_timeout(at_ms(4_050)), vec![garp(5)]);
    assert_eq!(r.poll_timeout(), Some(at_ms(5_030)));
    // A contention after that one is a new one: re-announced again.
    r.handle(at_ms(6_000), adv("10.0.0.9", 99));
    assert_eq!(r.poll_timeout(), Some(at_ms(6_050)));
}

#[test]
fn a_master_that_loses_before_the_re_announcement_does_not_send_it() {
    let mut r = master(100, "10.0.0.5");
    r.handle(at_ms(4_000), adv("10.0.0.4", 100));
    let actions = r.handle(at_ms(4_020), adv("10.0.0.9", 200));
    assert_eq!(changes(&actions), vec![(State::Master, State::Backup)]);
    let down = at_ns(4_020_000_000 + DOWN_100);
    assert_eq!(r.poll_timeout(), Some(down), "only the Master_Down_Timer");
    assert_eq!(r.handle_timeout(at_ms(4_050)), vec![]);
}

#[test]
fn no_re_announcement_when_garp_lower_prio_repeat_is_zero() {
    let mut c = config(100, "10.0.0.5");
    c.garp.lower_prio_repeat = 0;
    let mut r = started(c);
    promote(&mut r);
    settle_confirms(&mut r);
    let actions = r.handle(at_ms(4_000), adv("10.0.0.4", 100));
    assert_eq!(sent_priorities(&actions), vec![100]);
    assert_eq!(r.poll_timeout(), Some(at_ms(5_000)));
}

// ----- make before break: Shutdown holds the VIPs until the successor speaks ---------

#[test]
fn shutdown_holds_the_vips_until_the_successors_first_advert() {
    let mut r = master(100, "10.0.0.1");
    let stop = 10_000_000_000;
    let actions = r.handle(at_ns(stop), Input::Shutdown);
    assert_eq!(actions, resignation());
    assert_eq!(r.state(), State::Initialize);
    assert!(!r.is_finished(), "still holds the VIPs");
    assert_eq!(r.release_bound(), Duration::from_nanos(SKEW_1 + MARGIN));
    assert_eq!(r.poll_timeout(), Some(at_ns(stop + SKEW_1 + MARGIN)));
    // Neither our own looped-back release nor another router's priority 0 is a
    // successor.
    assert_eq!(r.handle(at_ns(stop + 1), adv("10.0.0.1", 0)), vec![]);
    assert_eq!(r.handle(at_ns(stop + 2), adv("10.0.0.3", 0)), vec![]);
    assert!(!r.is_finished());
    // The priority-100 Backup took over after its skew, one latency later.
    let heard = stop + 100_000 + SKEW_100 + 100_000;
    assert_eq!(
        r.handle(at_ns(heard), adv("10.0.0.2", 100)),
        vec![Action::RemoveVips(vec![ip(VIP)])]
    );
    assert!(r.is_finished());
    assert_eq!(r.poll_timeout(), None, "the bound is disarmed");
    assert_eq!(
        r.handle(at_ns(heard + 1_000_000_000), adv("10.0.0.2", 100)),
        vec![]
    );
    assert_eq!(r.counters().priority_zero_sent, 1);
}

#[test]
fn shutdown_releases_the_vips_at_the_bound_when_no_successor_speaks() {
    let mut r = master(100, "10.0.0.1");
    let stop = 10_000_000_000;
    r.handle(at_ns(stop), Input::Shutdown);
    let bound = stop + SKEW_1 + MARGIN;
    assert_eq!(r.handle_timeout(at_ns(bound - 1)), vec![]);
    assert!(!r.is_finished());
    assert_eq!(
        r.handle_timeout(at_ns(bound)),
        vec![Action::RemoveVips(vec![ip(VIP)])]
    );
    assert!(r.is_finished());
    assert_eq!(r.poll_timeout(), None);
}

#[test]
fn the_release_bound_follows_the_advert_interval() {
    // v3 at 0.1 s: the skew of priority 1 is 255/256 of 100 ms.
    let mut r = started(config_v3(100, "10.0.0.1", 10));
    promote(&mut r);
    r.handle(at_ms(1_000), Input::Shutdown);
    assert_eq!(
        r.poll_timeout(),
        Some(at_ns(1_000_000_000 + 99_609_375 + MARGIN))
    );
}

#[test]
fn shutdown_now_or_a_restart_releases_held_vips_at_once() {
    let mut r = master(100, "10.0.0.1");
    r.handle(at_ms(10_000), Input::Shutdown);
    assert_eq!(
        r.handle(at_ms(10_100), Input::ShutdownNow),
        vec![Action::RemoveVips(vec![ip(VIP)])]
    );
    assert!(r.is_finished());
    assert_eq!(r.poll_timeout(), None);

    let mut r = master(100, "10.0.0.1");
    r.handle(at_ms(10_000), Input::Shutdown);
    let actions = r.handle(at_ms(10_100), Input::Startup);
    assert_eq!(kinds(&actions), vec!["remove", "to-other"]);
    assert_eq!(r.state(), State::Backup);
    assert_eq!(r.poll_timeout(), Some(at_ns(10_100_000_000 + DOWN_100)));
}

#[test]
fn shutdown_of_a_backup_or_an_idle_router_is_finished_at_once() {
    let mut r = Router::new(config(100, "10.0.0.1")).unwrap();
    assert!(r.is_finished(), "never started");
    r.handle(Time::ZERO, Input::Startup);
    assert!(!r.is_finished());
    let actions = r.handle(at_ms(500), Input::Shutdown);
    assert_eq!(changes(&actions), vec![(State::Backup, State::Initialize)]);
    assert!(r.is_finished());
    assert_eq!(r.poll_timeout(), None);
}

// ----- make before break on a script FAULT (K-14) ------------------------------------

/// The charm's `pause`: a reload adds an unweighted script that starts KO.
fn paused(priority: u8, addr: &str) -> RouterConfig {
    let mut c = config(priority, addr);
    c.track_scripts.push(TrackScript {
        init_fail: true,
        ..TrackScript::new("charm_paused", 0)
    });
    c
}

#[test]
fn a_master_paused_by_a_script_fault_holds_the_vips_until_its_successor_speaks() {
    let mut r = master(100, "10.0.0.1");
    let pause = 10_000_000_000;
    let actions = r
        .reconfigure(at_ns(pause), paused(100, "10.0.0.1"))
        .unwrap();
    assert_eq!(
        kinds(&actions),
        vec!["to-other", "release"],
        "no remove yet"
    );
    assert_eq!(r.state(), State::Fault);
    assert_eq!(r.poll_timeout(), Some(at_ns(pause + SKEW_1 + MARGIN)));
    // Another router's release is no successor; the successor's advert is.
    assert_eq!(r.handle(at_ns(pause + 1), adv("10.0.0.3", 0)), vec![]);
    let heard = pause + SKEW_100 + 200_000;
    assert_eq!(
        r.handle(at_ns(heard), adv("10.0.0.2", 100)),
        vec![Action::RemoveVips(vec![ip(VIP)])]
    );
    assert_eq!(r.poll_timeout(), None, "the bound is disarmed");
    // Still out of the election, but it knows who is Master now.
    assert_eq!(r.state(), State::Fault);
    assert_eq!(r.master_address(), Some(ip("10.0.0.2")));
    assert_eq!(
        r.handle(at_ns(heard + 3_700_000_000), Input::Startup),
        vec![]
    );
    assert_eq!(r.handle_timeout(at_ns(heard + 10_000_000_000)), vec![]);
}

#[test]
fn a_paused_master_releases_at_the_bound_when_no_successor_speaks() {
    let mut r = master(100, "10.0.0.1");
    r.reconfigure(at_ms(10_000), paused(100, "10.0.0.1"))
        .unwrap();
    let bound = 10_000_000_000 + SKEW_1 + MARGIN;
    assert_eq!(r.handle_timeout(at_ns(bound - 1)), vec![]);
    assert_eq!(
        r.handle_timeout(at_ns(bound)),
        vec![Action::RemoveVips(vec![ip(VIP)])]
    );
    assert_eq!(r.state(), State::Fault);
}

#[test]
fn a_paused_master_stopped_before_its_successor_speaks_still_releases_at_the_bound() {
    let mut r = master(100, "10.0.0.1");
    r.reconfigure(at_ms(10_000), paused(100, "10.0.0.1"))
        .unwrap();
    let actions = r.handle(at_ms(10_001), Input::Shutdown);
    assert_eq!(changes(&actions), vec![(State::Fault, State::Initialize)]);
    assert!(!r.is_finished(), "the VIPs are still held");
    let bound = 10_000_000_000 + SKEW_1 + MARGIN;
    assert_eq!(r.poll_timeout(), Some(at_ns(bound)));
    assert_eq!(
        r.handle_timeout(at_ns(bound)),
        vec![Action::RemoveVips(vec![ip(VIP)])]
    );
    assert!(r.is_finished());
}

#[test]
fn resuming_before_the_successor_spoke_releases_then_waits_as_a_backup() {
    let mut r = master(100, "10.0.0.1");
    r.reconfigure(at_ms(10_000), paused(100, "10.0.0.1"))
        .unwrap();
    let actions = r
        .reconfigure(at_ms(10_002), config(100, "10.0.0.1"))
        .unwrap();
    assert_eq!(kinds(&actions), vec!["remove", "to-other"]);
    assert_eq!(r.state(), State::Backup);
    assert_eq!(r.poll_timeout(), Some(at_ns(10_002_000_000 + DOWN_100)));
}

#[test]
fn a_paused_backup_leaves_the_election_and_a_resumed_one_preempts_after_its_down_interval() {
    let mut r = started(config(200, "10.0.0.1"));
    r.handle(at_ms(100), adv("10.0.0.2", 100));
    assert_eq!(r.state(), State::Backup);
    let actions = r.reconfigure(at_ms(200), paused(200, "10.0.0.1")).unwrap();
    assert_eq!(changes(&actions), vec![(State::Backup, State::Fault)]);
    assert_eq!(sent_priorities(&actions), Vec::<u8>::new());
    assert_eq!(r.poll_timeout(), None, "never claims while paused");
    // Resume: a Backup again; the lower Master's adverts are discarded
    // (preempt) and it takes over when its down timer runs out.
    r.reconfigure(at_ms(1_000), config(200, "10.0.0.1"))
        .unwrap();
    assert_eq!(r.state(), State::Backup);
    r.handle(at_ms(1_500), adv("10.0.0.2", 100));
    let down = crate::proto::Timers::new(
        Version::V2,
        Priority::from_wire(200),
        AdvertInterval::DEFAULT,
    )
    .master_down_interval;
    let due = at_ms(1_000) + down;
    assert_eq!(r.poll_timeout(), Some(due));
    assert_eq!(
        kinds(&r.handle_timeout(due)),
        vec!["to-master", "add", "garp", "advert"]
    );
}

// ----- which timers want the queued adverts first ----------------------------------

/// The down timer, a claim and a take's repeats judge silence or wait for an
/// answer: an advert waiting in the socket must reach the router before them. A
/// settled Master's advert timer decides the same either way, and so does a
/// router before its deadline.
#[test]
fn only_timers_that_wait_for_an_advert_want_the_queued_adverts_first() {
    let mut r = started(config(100, "10.0.0.1"));
    r.handle(at_ms(1_000), adv("10.0.0.9", 200));
    let down = 1_000_000_000 + DOWN_100;
    assert!(!r.wants_queued_adverts_first(at_ns(down - 1)));
    assert!(r.wants_queued_adverts_first(at_ns(down)));
    assert_eq!(r.handle_timeout(at_ns(down)), claim(100));
    assert!(!r.wants_queued_adverts_first(at_ns(down + CLAIM - 1)));
    assert!(r.wants_queued_adverts_first(at_ns(down + CLAIM)));
    r.handle_timeout(at_ns(down + CLAIM));
    assert_eq!(r.state(), State::Master);
    // The take's repeats wait for a live Master's answer too.
    let repeat = r.poll_timeout().unwrap();
    assert!(r.wants_queued_adverts_first(repeat));
    settle_confirms(&mut r);
    // Settled: only the advert timer is left.
    let advert = r.poll_timeout().unwrap();
    assert!(!r.wants_queued_adverts_first(advert));
    // A resigned Master's release bound waits for its successor.
    r.handle(advert, Input::Shutdown);
    let release = r.poll_timeout().unwrap();
    assert!(r.wants_queued_adverts_first(release));
}
