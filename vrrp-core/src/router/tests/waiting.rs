//! Which adverts may wait in the socket (`Router::advert_may_wait`): the daemon
//! reads a settled Master's unchanged adverts only when a deadline or another
//! input comes, with the time each arrived, so an idle Backup wakes once per down
//! interval instead of once per advert. These pin that a waiting advert changes
//! nothing but a later down deadline and the counters, and that everything that
//! could change what the router does is read at once.

use super::*;

fn plain(priority: u8) -> Advert {
    advert(Version::V2, priority, AdvertInterval::DEFAULT)
}

/// A priority-100 Backup that heard 10.0.0.9 at priority 200 at 1 s.
fn following() -> Router {
    let mut r = started(config(100, "10.0.0.1"));
    r.handle(at_ms(1_000), adv("10.0.0.9", 200));
    r
}

#[test]
fn a_settled_backups_masters_unchanged_advert_may_wait() {
    let r = following();
    assert!(r.advert_may_wait(ip("10.0.0.9"), &plain(200)));
}

/// Read late with the time it arrived, the copy does what it would have done at
/// once: no action, the same state and Master, a down deadline from its arrival.
#[test]
fn a_waiting_advert_read_late_only_moves_the_down_deadline_later() {
    let mut r = following();
    let before = r.clone();
    let arrived = at_ms(2_000);
    assert_eq!(r.handle(arrived, adv("10.0.0.9", 200)), vec![]);
    assert_eq!(r.state(), before.state());
    assert_eq!(r.master_address(), before.master_address());
    assert_eq!(r.master_priority(), before.master_priority());
    assert_eq!(r.poll_timeout(), Some(at_ns(2_000_000_000 + DOWN_100)));
    assert!(r.poll_timeout() > before.poll_timeout());
    assert_eq!(
        r.counters().adverts_received,
        before.counters().adverts_received + 1
    );
    // And the next copy may wait too.
    assert!(r.advert_may_wait(ip("10.0.0.9"), &plain(200)));
}

#[test]
fn a_release_another_priority_or_another_sender_is_read_at_once() {
    let r = following();
    assert!(!r.advert_may_wait(ip("10.0.0.9"), &plain(0)));
    assert!(!r.advert_may_wait(ip("10.0.0.9"), &plain(199)));
    assert!(!r.advert_may_wait(ip("10.0.0.8"), &plain(200)));
    let v3 = advert(Version::V3, 200, AdvertInterval::DEFAULT);
    assert!(!r.advert_may_wait(ip("10.0.0.9"), &v3));
    let slower = advert(Version::V2, 200, AdvertInterval::from_centis(200).unwrap());
    assert!(!r.advert_may_wait(ip("10.0.0.9"), &slower));
    let mut other_vrid = plain(200);
    other_vrid.vrid = Vrid::new(52).unwrap();
    assert!(!r.advert_may_wait(ip("10.0.0.9"), &other_vrid));
}

#[test]
fn nothing_waits_before_a_master_is_known_nor_for_a_master() {
    let r = started(config(100, "10.0.0.1"));
    assert!(!r.advert_may_wait(ip("10.0.0.9"), &plain(200)));
    let m = master(100, "10.0.0.1");
    assert!(!m.advert_may_wait(ip("10.0.0.9"), &plain(50)));
}

/// The down timer ran out and the claim is in flight (K-18): the Master's answer
/// withdraws it and must be read when it comes.
#[test]
fn nothing_waits_while_a_claim_is_in_flight() {
    let mut r = following();
    let down = r.poll_timeout().unwrap();
    assert_eq!(r.handle_timeout(down), claim(100));
    assert!(!r.advert_may_wait(ip("10.0.0.9"), &plain(200)));
}

/// `state MASTER`'s shortened startup wait ends on the first advert heard.
#[test]
fn nothing_waits_during_the_startup_wait() {
    let mut c = config(100, "10.0.0.1");
    c.initial_state = InitialState::Master;
    let mut r = started(c);
    r.handle(at_ms(100), adv("10.0.0.9", 200));
    // The first advert ended the wait: from now on the Master's copies may wait.
    assert!(r.advert_may_wait(ip("10.0.0.9"), &plain(200)));
    let mut c = config(100, "10.0.0.1");
    c.initial_state = InitialState::Master;
    let mut fresh = started(c);
    fresh.master = Some(machine::MasterInfo {
        address: ip("10.0.0.9"),
        priority: Priority::from_wire(200),
    });
    assert!(!fresh.advert_may_wait(ip("10.0.0.9"), &plain(200)));
}

/// A lower-priority Master this router preempts: its adverts are discarded and
/// the down timer takes over (C-23), with a preempt delay counted on them; read
/// at once. Without preemption it is simply the Master and may wait.
#[test]
fn a_lower_master_waits_only_when_this_router_does_not_preempt() {
    let mut r = started(config(100, "10.0.0.1"));
    r.master = Some(machine::MasterInfo {
        address: ip("10.0.0.9"),
        priority: Priority::from_wire(50),
    });
    assert!(!r.advert_may_wait(ip("10.0.0.9"), &plain(50)));
    let mut c = config(100, "10.0.0.1");
    c.preempt = false;
    let mut r = started(c);
    r.handle(at_ms(1_000), adv("10.0.0.9", 50));
    assert!(r.advert_may_wait(ip("10.0.0.9"), &plain(50)));
}
