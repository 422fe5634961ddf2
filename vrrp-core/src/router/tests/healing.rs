//! What a Master does when something other than VRRP takes its VIP or its link away
//! for a moment (S-20, S-6): it puts a removed VIP back at once, and it rides out a
//! link flap shorter than `Router::flap_debounce` instead of handing over (a link
//! that stays down past it: `checklist::c06_interface_down_on_master_…`).

use super::*;

fn garp(repeat: u32) -> Action {
    Action::SendGratuitous {
        vips: vec![ip(VIP)],
        repeat,
    }
}

fn removed(addr: &str) -> Input {
    Input::AddressRemoved { addr: ip(addr) }
}

fn down() -> Input {
    Input::InterfaceDown {
        name: "eth0".into(),
    }
}

fn up() -> Input {
    Input::InterfaceUp {
        name: "eth0".into(),
    }
}

// ----- a VIP removed behind the Master's back -------------------------------------

#[test]
fn a_master_puts_back_a_vip_removed_behind_its_back_and_announces_it() {
    let mut r = master(100, "10.0.0.1");
    let t = at_ms(5_000);
    assert_eq!(
        r.handle(t, removed(VIP)),
        vec![
            Action::AddVips(vec![ip(VIP)]),
            garp(5),
            Action::SendAdvert(advert(Version::V2, 100, AdvertInterval::DEFAULT)),
        ]
    );
    assert_eq!(r.state(), State::Master);
    assert_eq!(r.counters().vips_restored, 1);
    // The advert cadence restarts from the re-assertion.
    assert_eq!(r.poll_timeout(), Some(at_ms(6_000)));
}

#[test]
fn only_a_masters_own_vips_are_put_back() {
    let mut m = master(100, "10.0.0.1");
    assert_eq!(m.handle(at_ms(5_000), removed("10.0.0.7")), vec![]);
    let mut b = started(config(100, "10.0.0.2"));
    assert_eq!(b.handle(at_ms(1_000), removed(VIP)), vec![]);
    assert_eq!(b.counters().vips_restored + m.counters().vips_restored, 0);
}

#[test]
fn a_resigned_master_does_not_put_back_what_it_released() {
    let mut r = master(100, "10.0.0.1");
    r.handle(at_ms(5_000), Input::ShutdownNow);
    assert_eq!(r.handle(at_ms(5_001), removed(VIP)), vec![]);
}

// ----- a flapping link ------------------------------------------------------------------

#[test]
fn the_flap_debounce_is_two_advert_intervals() {
    assert_eq!(
        master(100, "10.0.0.1").flap_debounce(),
        Duration::from_secs(2)
    );
    let r = Router::new(config_v3(100, "10.0.0.1", 10)).unwrap();
    assert_eq!(r.flap_debounce(), Duration::from_millis(200));
}

#[test]
fn a_link_back_within_the_debounce_keeps_the_master_and_re_announces_at_once() {
    let mut r = master(100, "10.0.0.1");
    let t_down = at_ms(4_000);
    assert_eq!(r.handle(t_down, down()), vec![]);
    assert_eq!(r.state(), State::Master);
    // The debounce deadline is armed; the advert due meanwhile does not go out.
    assert_eq!(r.poll_timeout(), Some(at_ns(MASTER_100 + 1_000_000_000)));
    let advert_due = at_ns(MASTER_100 + 1_000_000_000);
    assert_eq!(r.handle_timeout(advert_due), vec![]);
    let t_up = at_ms(4_200);
    assert_eq!(
        r.handle(t_up, up()),
        vec![
            Action::AddVips(vec![ip(VIP)]),
            garp(5),
            Action::SendAdvert(advert(Version::V2, 100, AdvertInterval::DEFAULT)),
        ]
    );
    assert_eq!(r.state(), State::Master);
    assert_eq!(r.counters().link_flaps_absorbed, 1);
    // The cadence restarts from the re-assertion.
    assert_eq!(r.poll_timeout(), Some(at_ms(5_200)));
}

#[test]
fn a_vip_removed_while_the_link_is_down_comes_back_with_the_link() {
    let mut r = master(100, "10.0.0.1");
    r.handle(at_ms(4_000), down());
    // The kernel drops IPv6 addresses with the link: nothing to do until it returns.
    assert_eq!(r.handle(at_ms(4_001), removed(VIP)), vec![]);
    let back = r.handle(at_ms(4_300), up());
    assert_eq!(back.first(), Some(&Action::AddVips(vec![ip(VIP)])));
}

#[test]
fn a_backup_whose_link_goes_down_enters_fault_at_once() {
    let mut r = started(config(100, "10.0.0.2"));
    let actions = r.handle(at_ms(1_000), down());
    assert_eq!(changes(&actions), vec![(State::Backup, State::Fault)]);
}

#[test]
fn a_failed_script_still_takes_a_master_to_fault_at_once() {
    let mut c = config(100, "10.0.0.1");
    c.track_scripts = vec![TrackScript {
        name: "chk".into(),
        weight: 0,
        rise: 1,
        fall: 1,
        init_fail: false,
    }];
    let mut r = started(c);
    promote(&mut r);
    let actions = r.handle(
        at_ms(5_000),
        Input::ScriptResult {
            name: "chk".into(),
            ok: false,
        },
    );
    assert_eq!(changes(&actions), vec![(State::Master, State::Fault)]);
}
