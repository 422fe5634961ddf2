//! Rolling changes of the VIP list through the charm's hooks, in the namespace lab
//! (docs/requirements.md K-13, docs/scenarios.md S14): Juju applies `juju config
//! virtual_ip=...` unit by unit, here with 4 s between units (longer than the
//! Master_Down_Interval, so any disagreement would become a second MASTER). Every
//! unit runs the union of the lists it knows of while they disagree, and the engine
//! accepts a list that contains its own or is contained in it: one unit holds every
//! VIP throughout, and clients lose nothing.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use juju_emulator::Hook;
use netns_lab::juju::JujuLab;
use netns_lab::{HolderReport, HolderWatch};

const PORT: u16 = 7777;

/// How long the units disagree at each step: longer than any Master_Down_Interval
/// (3.6 s at 1 s adverts), so a unit that dropped the others' adverts would claim.
const GAP: Duration = Duration::from_secs(5);

/// Sets `virtual_ip` in the model, then runs config-changed on one unit at a time
/// (backups first, the MASTER last: the longest disagreement). The peer hooks each
/// one causes (the others learning its new list) run only `gap` later, as they may
/// in a busy model: for that long the units run different lists.
fn roll(j: &mut JujuLab, virtual_ip: &str, gap: Duration) {
    j.model.set_config_value("virtual_ip", virtual_ip).unwrap();
    for unit in ["keepalived/2", "keepalived/1", "keepalived/0"] {
        let run = j.model.run_hook(unit, Hook::new("config-changed")).unwrap();
        assert!(run.ok(), "{unit} config-changed: {}", run.stderr);
        std::thread::sleep(gap);
        let runs = j.model.settle().unwrap();
        for r in &runs {
            assert!(r.ok(), "{} {}: {}", r.unit, r.hook.name, r.stderr);
        }
    }
}

#[test]
fn a_rolling_virtual_ip_change_keeps_every_vip_on_one_unit() {
    let mut j = JujuLab::new("roll", 3);
    j.listen(PORT);
    let a: IpAddr = j.lab.vip4().into();
    let b: IpAddr = j.lab.addr4(101).into();
    j.deploy_answering(3, PORT);
    let holders = j.lab.watch_holders();
    let t0 = Instant::now();

    // Add a VIP: [a] -> [a, b]. A unit on [a, b] and one on [a] hear each other.
    roll(&mut j, &format!("{a}/24 {b}/24"), GAP);
    let t1 = Instant::now();
    // Replace: [a, b] -> [b].
    roll(&mut j, &format!("{b}/24"), GAP);
    std::thread::sleep(Duration::from_secs(1));

    let report = holders.report();
    for vip in [a, b] {
        assert_eq!(
            report.two_holders_after(vip, t0),
            Duration::ZERO,
            "{vip} was on two units: {:?}",
            report.holdings(vip)
        );
    }
    // h1 (priority 254) held everything throughout: it gained b once and lost a once.
    assert_eq!(report.holders_now(b), ["h1".to_string()].into());
    assert!(report.holders_now(a).is_empty(), "{:?}", report.holdings(a));
    assert_eq!(report.additions_after(b, t0), 1, "{:?}", report.holdings(b));
    assert!(report.holdings(a).iter().all(|h| h.host == "h1"));
    // Clients of the first VIP lost nothing while it was configured.
    let gap = j.longest_answer_gap(t0, t1);
    eprintln!("rolling virtual_ip change: longest client gap on {a} while configured: {gap:?}");
    assert!(gap <= Duration::from_millis(300), "{gap:?}");
}

/// Rolling timing changes (docs/requirements.md K-15), each applied unit by unit with
/// `GAP` between units: from the automatic fast timing (every unit runs this charm:
/// VRRPv3 70 ms, down after five missed adverts) to VRRPv2 1 s pinned, to VRRPv3 1 s, to VRRPv2 at 2 s. While the
/// units disagree each follows the Master's adverts whatever their version or
/// interval: never a second holder, and the clients lose nothing.
#[test]
fn a_rolling_timing_change_keeps_the_vip_on_one_unit() {
    let mut j = JujuLab::new("rtim", 3);
    j.listen(PORT);
    let a: IpAddr = j.lab.vip4().into();
    j.deploy_answering(3, PORT);
    let conf = |j: &JujuLab, unit: &str| j.engine_config(unit);
    assert!(crate::e2e::runs_fast_timing(&conf(&j, "keepalived/0")));
    let holders = j.lab.watch_holders();
    let t0 = Instant::now();
    for (version, interval, expect) in [
        ("2", "1", "    advert_int 1\n    virtual_ipaddress"),
        ("3", "1", "    advert_int 1\n    version 3\n"),
        ("2", "2", "    advert_int 2\n    virtual_ipaddress"),
    ] {
        j.model.set_config_value("vrrp_version", version).unwrap();
        j.model
            .set_config_value("advert_interval", interval)
            .unwrap();
        // `roll` sets virtual_ip to what it is: the two options above change.
        roll(&mut j, &format!("{a}/24"), GAP);
        for unit in ["keepalived/0", "keepalived/1", "keepalived/2"] {
            assert!(
                conf(&j, unit).contains(expect),
                "{unit}: {}",
                conf(&j, unit)
            );
        }
    }
    h1_held_it_throughout(&j, &holders, a, t0, 0, "rolling timing changes");
}

/// Rolling `router_id`, `vrrp_password` and `unicast` changes (docs/requirements.md
/// K-17), each applied unit by unit with `GAP` between units: first a new VRID
/// together with a first password (which also moves the cluster from the fast timing
/// /// to VRRPv2 1 s), then another password, then unicast. A unit that moved speaks the
/// old identity too while a peer still publishes it: never a second holder, the VIP
/// never moves, the clients lose nothing, and once every unit moved nobody speaks the
/// old identity.
#[test]
fn a_rolling_router_id_password_and_unicast_change_keeps_the_vip_on_one_unit() {
    let mut j = JujuLab::new("rid", 3);
    j.listen(PORT);
    let a: IpAddr = j.lab.vip4().into();
    j.deploy_answering(3, PORT);
    let holders = j.lab.watch_holders();
    let t0 = Instant::now();
    for (changes, expect) in [
        (
            &[("router_id", "24"), ("vrrp_password", "s3cr3t")][..],
            "virtual_router_id 24\n",
        ),
        (&[("vrrp_password", "n3wpass")][..], "auth_pass n3wpass\n"),
        (&[("unicast", "true")][..], "    unicast_peer {\n"),
    ] {
        for (key, value) in changes {
            j.model.set_config_value(key, value).unwrap();
        }
        roll(&mut j, &format!("{a}/24"), GAP);
        for unit in ["keepalived/0", "keepalived/1", "keepalived/2"] {
            let conf = j.engine_config(unit);
            assert!(conf.contains(expect), "{unit}: {conf}");
            assert!(!conf.contains("rolling_from"), "{unit}: {conf}");
        }
    }
    h1_held_it_throughout(
        &j,
        &holders,
        a,
        t0,
        0,
        "rolling router_id, vrrp_password and unicast changes",
    );
}

/// A rolling `network_interface` change (docs/requirements.md K-17) between two
/// segments: every host has `eth1` on a second bridge too, and the cluster moves to
/// it and back, unit by unit with `GAP` between units. A unit on the new interface
/// also speaks on the one it leaves while a peer still publishes that segment
/// (`vrrp-segments`), and the peers not moved yet speak on the new one: one
/// election throughout, so the VIP is never on two units; the MASTER (h1) keeps it,
/// moving it from one device to the other in its own reload (one addition per
/// move), and the clients, on the first segment, lose nothing.
#[test]
fn a_rolling_network_interface_change_keeps_the_vip_on_one_unit() {
    let mut j = JujuLab::new("rnif", 3);
    let bridge = j.lab.bridge();
    bridge.ip("link add br1 type bridge mcast_snooping 0");
    bridge.ip("link set br1 up");
    for (i, h) in j.lab.hosts().iter().enumerate() {
        bridge.ip(&format!(
            "link add q{} type veth peer name eth1 netns {}",
            h.name, h.ns.name
        ));
        bridge.ip(&format!("link set q{} master br1 up", h.name));
        h.ns.ip(&format!("addr add 172.31.0.{}/24 dev eth1", 10 + i));
        h.ns.ip("link set eth1 up");
    }
    j.listen(PORT);
    let a: IpAddr = j.lab.vip4().into();
    j.deploy_answering(3, PORT);
    let holders = HolderWatch::start_on(&j.lab, &["eth0", "eth1"]);
    let t0 = Instant::now();
    for iface in ["eth1", "eth0"] {
        j.model
            .set_config_value("network_interface", iface)
            .unwrap();
        roll(&mut j, &format!("{a}/24"), GAP);
        for unit in ["keepalived/0", "keepalived/1", "keepalived/2"] {
            let conf = j.engine_config(unit);
            assert!(
                conf.contains(&format!("    interface {iface}\n")),
                "{unit}: {conf}"
            );
            assert!(!conf.contains("rolling_from"), "{unit}: {conf}");
        }
        let h1 = j.lab.host(0);
        let on = h1.ns.ip(&format!("-o addr show dev {iface}"));
        assert!(on.contains(&format!(" {a}/")), "h1 {iface}: {on}");
    }
    // One addition per move, all on h1.
    let report = h1_held_it_throughout(&j, &holders, a, t0, 2, "rolling network_interface change");
    assert!(
        report.holdings(a).iter().all(|h| h.host == "h1"),
        "{:?}",
        report.holdings(a)
    );
}

/// A second later: `vip` was never on two units since `t0`, was added `additions`
/// times, is on h1 (priority 254) now, and the clients lost at most 300 ms (printed
/// as `what`). Returns the holders' record.
fn h1_held_it_throughout(
    j: &JujuLab,
    holders: &HolderWatch,
    vip: IpAddr,
    t0: Instant,
    additions: usize,
    what: &str,
) -> HolderReport {
    std::thread::sleep(Duration::from_secs(1));
    let t1 = Instant::now();
    let report = holders.report();
    assert_eq!(
        report.two_holders_after(vip, t0),
        Duration::ZERO,
        "{:?}",
        report.holdings(vip)
    );
    assert_eq!(
        report.additions_after(vip, t0),
        additions,
        "{:?}",
        report.holdings(vip)
    );
    assert_eq!(report.holders_now(vip), ["h1".to_string()].into());
    let gap = j.longest_answer_gap(t0, t1);
    eprintln!("{what}: longest client gap {gap:?}");
    assert!(gap <= Duration::from_millis(300), "{gap:?}");
    report
}
