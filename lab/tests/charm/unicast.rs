//! End to end through the hook-tool emulator: unicast VRRP with the peers taken from
//! the `cluster` peer relation (ISSUE2 item 10). Each unit publishes its VRRP source
//! address; every other unit lists it in `unicast_peer`; a unit leaving or arriving
//! reaches every other unit's engine config with one reload.

use crate::e2e::*;
use juju_emulator::Model;

const UNITS: [&str; 3] = ["keepalived/0", "keepalived/1", "keepalived/2"];
const UNICAST_VIP: &str = "192.0.2.100/24";
const RELOAD: &str = "systemctl reload keepalived-charm.service";

/// The golden unicast config (unit 0: source .10, peers .11 and .12) for another unit.
fn unicast_for(m: &Model, unit: &str, priority: u8, source: &str, peers: &[&str]) -> String {
    let block: String = peers.iter().map(|p| format!("        {p}\n")).collect();
    golden(m, unit, "unicast-peers.conf")
        .replace("    priority 254\n", &format!("    priority {priority}\n"))
        .replace(
            "    unicast_src_ip 192.0.2.10\n",
            &format!("    unicast_src_ip {source}\n"),
        )
        .replace("        192.0.2.11\n        192.0.2.12\n", &block)
}

#[test]
fn unicast_renders_each_units_peers_from_the_peer_relation() {
    let m = deployed(
        3,
        Net::Golden,
        &[("virtual_ip", UNICAST_VIP), ("unicast", "true")],
    );
    // Unit 0 is exactly the golden file; the others are the same with their own view.
    assert_eq!(
        engine_config(&m, UNITS[0]),
        golden(&m, UNITS[0], "unicast-peers.conf")
    );
    assert_eq!(
        engine_config(&m, UNITS[1]),
        unicast_for(
            &m,
            UNITS[1],
            253,
            "192.0.2.11",
            &["192.0.2.10", "192.0.2.12"]
        )
    );
    assert_eq!(
        engine_config(&m, UNITS[2]),
        unicast_for(
            &m,
            UNITS[2],
            252,
            "192.0.2.12",
            &["192.0.2.10", "192.0.2.11"]
        )
    );
    // What each unit published for the others.
    let rel = m.relation_by_endpoint("cluster").unwrap();
    for (i, unit) in UNITS.iter().enumerate() {
        let n = 10 + i;
        let p = (254 - i).to_string();
        assert_eq!(
            rel.local_units_data[*unit],
            bag_with(
                &format!("192.0.2.{n}"),
                &[("priority", &p), ("vrrp-address", &format!("192.0.2.{n}"))]
            ),
            "{unit}"
        );
    }
}

#[test]
fn a_departing_unit_disappears_from_the_others_peers() {
    let mut m = deployed(
        3,
        Net::Golden,
        &[("virtual_ip", UNICAST_VIP), ("unicast", "true")],
    );
    let runs = m.remove_unit("keepalived/2").unwrap();
    all_ok(&runs);
    assert_eq!(
        engine_config(&m, UNITS[0]),
        unicast_for(&m, UNITS[0], 254, "192.0.2.10", &["192.0.2.11"])
    );
    assert_eq!(
        engine_config(&m, UNITS[1]),
        unicast_for(&m, UNITS[1], 253, "192.0.2.11", &["192.0.2.10"])
    );
    for unit in &UNITS[..2] {
        assert_eq!(hooks(&runs, unit), ["cluster-relation-departed"], "{unit}");
        assert_eq!(engine_actions(&runs, unit), [RELOAD], "{unit}");
    }
    // The leaving unit does not reconfigure on its way out: it stops (releasing the
    // VIP with a priority-0 advert) and cleans up.
    assert_eq!(
        engine_actions(&runs, UNITS[2]),
        [
            "systemctl stop keepalived-charm.service",
            "systemctl disable keepalived-charm.service",
            "systemctl daemon-reload"
        ]
    );
    assert!(files(&m, UNITS[2]).is_empty());
}

#[test]
fn a_new_unit_becomes_everyones_peer_below_every_priority() {
    let mut m = deployed(
        3,
        Net::Golden,
        &[("virtual_ip", UNICAST_VIP), ("unicast", "true")],
    );
    let runs = m
        .deploy_with(1, |m, unit| prepare_machine(m, unit, Net::Golden))
        .unwrap();
    all_ok(&runs);
    let new = "keepalived/3";
    // It saw three claims (254, 253, 252) before it claimed: it never preempts them.
    assert_eq!(
        engine_config(&m, new),
        unicast_for(
            &m,
            new,
            251,
            "192.0.2.13",
            &["192.0.2.10", "192.0.2.11", "192.0.2.12"]
        )
    );
    let all = ["192.0.2.10", "192.0.2.11", "192.0.2.12", "192.0.2.13"];
    for (i, unit) in UNITS.iter().enumerate() {
        let own = all[i];
        let peers: Vec<&str> = all.iter().copied().filter(|a| *a != own).collect();
        assert_eq!(
            engine_config(&m, unit),
            unicast_for(&m, unit, 254 - i as u8, own, &peers),
            "{unit}"
        );
        assert_eq!(engine_actions(&runs, unit), [RELOAD], "{unit}");
    }
}

/// The engine of a MASTER adds the VIPs to its interface, as the engine would.
fn hold_vip(m: &Model, unit: &str, vip: &str) {
    let ns = m.unit(unit).netns.as_ref().expect("netns").name.clone();
    let out = std::process::Command::new(juju_emulator::netns::ip_binary())
        .args(["-n", &ns, "addr", "add", vip, "dev", "eth0", "nodad"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_master_holding_the_vip_still_publishes_its_own_address() {
    let mut m = deployed(
        2,
        Net::Golden,
        &[
            ("virtual_ip", "fd00::5/64 10.10.74.250"),
            ("unicast", "true"),
        ],
    );
    let conf = engine_config(&m, UNITS[0]);
    assert!(
        conf.contains("    unicast_src_ip fd00::10\n    unicast_peer {\n        fd00::11\n    }\n"),
        "{conf}"
    );
    // keepalived/0 is MASTER: its engine added the VIPs, so the kernel lists the VIP
    // first among eth0's global IPv6 addresses (newest first).
    hold_vip(&m, UNITS[0], "fd00::5/64");
    hold_vip(&m, UNITS[0], "10.10.74.250/32");

    // A hook now must not mistake the VIP for the unit's own address...
    all_ok(&[m.run(UNITS[0], "config-changed").unwrap()]);
    assert_eq!(engine_config(&m, UNITS[0]), conf);
    // ...nor must a VIP change, while the old VIP is still on the interface.
    let runs = config(&mut m, &[("virtual_ip", "fd00::6/64 10.10.74.251")]);
    for (unit, own, peer) in [(UNITS[0], "10", "11"), (UNITS[1], "11", "10")] {
        let conf = engine_config(&m, unit);
        assert!(
            conf.contains(&format!(
                "    unicast_src_ip fd00::{own}\n    unicast_peer {{\n        fd00::{peer}\n    }}\n"
            )),
            "{unit}: {conf}"
        );
        assert!(
            conf.contains(&format!(
                "    unicast_src_ip 192.0.2.{own}\n    unicast_peer {{\n        192.0.2.{peer}\n    }}\n"
            )),
            "{unit}: {conf}"
        );
        assert_eq!(engine_actions(&runs, unit), [RELOAD], "{unit}");
    }
    let rel = m.relation_by_endpoint("cluster").unwrap();
    assert_eq!(
        rel.local_units_data[UNITS[0]],
        bag_with(
            "192.0.2.10",
            &[
                ("priority", "254"),
                ("vrrp-address", "192.0.2.10"),
                ("vrrp-address-v6", "fd00::10")
            ]
        )
    );
}
