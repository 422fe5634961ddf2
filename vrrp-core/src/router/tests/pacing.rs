//! Paced adverts (`Router::hand_over_adverts`, docs/architecture.md): a steady
//! Master's periodic adverts go to the driver, which sends them on their cadence
//! and hands them back before anything else reaches the router. These pin that the
//! round trip leaves the router exactly as sending them itself would have, and
//! that nothing but a steady Master's lone advert timer is ever handed over.

use super::*;

/// A priority-200 Master past its take's repeats and its delayed GARP burst: only
/// the advert timer is armed. Returns it with its next advert deadline.
fn steady() -> (Router, Time) {
    let mut r = master(200, "10.0.0.1");
    // Fire everything but the adverts' cadence (the delayed GARP burst).
    while let Some(due) = r.poll_timeout() {
        let only_adverts = r.clone().hand_over_adverts(Time::ZERO).is_some();
        if only_adverts {
            return (r, due);
        }
        r.handle_timeout(due);
    }
    panic!("a Master always has an advert deadline");
}

/// The schedule is the advert `handle_timeout` would send, from its deadline on,
/// one interval apart; meanwhile the router has no deadline to give.
#[test]
fn a_steady_master_hands_over_its_advert_at_its_deadline_and_interval() {
    let (mut r, due) = steady();
    let mut twin = r.clone();
    let now = Time::from_epoch(due.since_epoch() - Duration::from_nanos(1));
    let pacing = r.hand_over_adverts(now).expect("a steady Master");
    assert_eq!(pacing.first, due);
    assert_eq!(pacing.interval, Duration::from_secs(1));
    assert_eq!(
        twin.handle_timeout(due),
        vec![Action::SendAdvert(pacing.advert.clone())]
    );
    assert_eq!(sent_priorities(&twin.handle_timeout(due)), Vec::<u8>::new());
    assert!(r.adverts_handed_over());
    assert_eq!(r.poll_timeout(), None);
    // Handed over once, not twice.
    assert_eq!(r.hand_over_adverts(now), None);
}

/// Three adverts sent by the driver, then taken back: the same advert timer and
/// the same counters as a twin that sent them itself, and the same next advert.
#[test]
fn taken_back_after_three_adverts_the_router_is_where_sending_them_itself_leaves_it() {
    let (mut r, due) = steady();
    let mut twin = r.clone();
    let pacing = r.hand_over_adverts(Time::ZERO).unwrap();
    for k in 0..3 {
        twin.handle_timeout(due + Duration::from_secs(k));
    }
    let next = due + Duration::from_secs(3);
    r.take_back_adverts(next, 3);
    assert!(!r.adverts_handed_over());
    assert_eq!(r.poll_timeout(), twin.poll_timeout());
    assert_eq!(r.poll_timeout(), Some(next));
    assert_eq!(r.counters(), twin.counters());
    assert_eq!(
        r.handle_timeout(next),
        vec![Action::SendAdvert(pacing.advert)]
    );
    assert_eq!(
        format!("{r:?}"),
        format!("{:?}", {
            twin.handle_timeout(next);
            twin
        })
    );
}

/// Taken back with its next advert already due (the driver was about to send
/// it): the router sends it at once, and nothing is lost.
#[test]
fn an_advert_due_at_the_take_back_is_sent_by_the_router() {
    let (mut r, due) = steady();
    let pacing = r.hand_over_adverts(Time::ZERO).unwrap();
    r.take_back_adverts(due, 0);
    assert_eq!(r.poll_timeout(), Some(due));
    assert_eq!(
        r.handle_timeout(due + Duration::from_micros(40)),
        vec![Action::SendAdvert(pacing.advert)]
    );
    // Taking back twice changes nothing.
    let before = format!("{r:?}");
    r.take_back_adverts(at_ms(99_000), 7);
    assert_eq!(format!("{r:?}"), before);
}

/// Any other timer armed, a due advert, another state or two adverts per period:
/// nothing is handed over, and the router is untouched.
#[test]
fn only_a_steady_masters_lone_future_advert_timer_is_handed_over() {
    // A Backup.
    let mut backup = started(config(100, "10.0.0.1"));
    backup.handle(at_ms(1_000), adv("10.0.0.9", 200));
    assert_eq!(backup.hand_over_adverts(at_ms(1_000)), None);
    // A new Master: its take's repeats and its delayed GARP burst are armed.
    let mut fresh = started(config(200, "10.0.0.1"));
    promote(&mut fresh);
    let before = format!("{fresh:?}");
    assert_eq!(fresh.hand_over_adverts(at_ns(MASTER_100)), None);
    assert_eq!(format!("{fresh:?}"), before);
    // A steady Master whose advert is due now.
    let (mut r, due) = steady();
    assert_eq!(r.hand_over_adverts(due), None);
    // A steady Master whose link went down (the debounce timer is armed).
    let (mut down, due) = steady();
    down.handle(
        Time::from_epoch(due.since_epoch() - Duration::from_millis(500)),
        Input::InterfaceDown {
            name: "eth0".into(),
        },
    );
    assert_eq!(down.state(), State::Master);
    assert_eq!(down.hand_over_adverts(Time::ZERO), None);
    // A Master rolling its VRID sends two adverts per period.
    let (mut rolling, due) = steady();
    let mut moved = config(200, "10.0.0.1");
    moved.vrid = Vrid::new(52).unwrap();
    moved.rolling_from = Some(RollingFrom {
        vrid: Vrid::new(51).unwrap(),
        auth: Auth::None,
        unicast_peers: Vec::new(),
        interface: None,
    });
    let now = Time::from_epoch(due.since_epoch() - Duration::from_millis(500));
    rolling.reconfigure(now, moved).unwrap();
    assert_eq!(rolling.state(), State::Master);
    assert_eq!(rolling.hand_over_adverts(now), None);
}
