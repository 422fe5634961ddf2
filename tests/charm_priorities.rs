//! End to end through the hook-tool emulator, three units: distinct and stable VRRP
//! priorities without Juju leadership (ISSUE2 item 8), unicast peers taken from the
//! peer relation (item 10), and membership changes (a unit leaves, a unit arrives)
//! reaching every other unit's engine config with one reload.

#[path = "emulator/mod.rs"]
mod emulator;

#[path = "e2e/mod.rs"]
mod e2e;

use std::collections::BTreeMap;

use e2e::*;
use emulator::Model;

const UNITS: [&str; 3] = ["keepalived/0", "keepalived/1", "keepalived/2"];
const UNICAST_VIP: &str = "192.0.2.100/24";

/// The golden default config with this unit's priority.
fn default_with_priority(m: &Model, unit: &str, priority: u8) -> String {
    golden(m, unit, "default-ipv4.conf")
        .replace("    priority 254\n", &format!("    priority {priority}\n"))
}

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

fn peer_priorities(m: &Model) -> BTreeMap<String, String> {
    let rel = m.relation_by_endpoint("cluster").expect("peer relation");
    rel.local_units_data
        .iter()
        .filter(|(u, _)| m.units.iter().any(|live| &live.name == *u))
        .map(|(u, bag)| (u.clone(), bag.get("priority").cloned().unwrap_or_default()))
        .collect()
}

fn expected_priorities(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(u, p)| (u.to_string(), p.to_string()))
        .collect()
}

#[test]
fn three_units_get_three_distinct_priorities() {
    let m = deployed(3, Net::Golden, &[("virtual_ip", VIP)]);
    for (unit, priority) in UNITS.iter().zip([254, 253, 252]) {
        assert_eq!(
            engine_config(&m, unit),
            default_with_priority(&m, unit, priority),
            "{unit}"
        );
        assert_eq!(m.unit(unit).status(), active("VIP 10.10.74.250 ready"));
    }
    assert_eq!(
        peer_priorities(&m),
        expected_priorities(&[
            ("keepalived/0", "254"),
            ("keepalived/1", "253"),
            ("keepalived/2", "252")
        ])
    );
}

#[test]
fn a_leader_change_changes_no_priority_and_no_engine_config() {
    let mut m = deployed(3, Net::Golden, &[("virtual_ip", VIP)]);
    let before: Vec<_> = UNITS.iter().map(|u| files(&m, u)).collect();
    let priorities = peer_priorities(&m);
    for leader in ["keepalived/1", "keepalived/2", "keepalived/0"] {
        let runs = m.set_leader(leader).unwrap();
        all_ok(&runs);
        for (unit, files_before) in UNITS.iter().zip(&before) {
            let expected_hook = if unit == &leader {
                "leader-elected"
            } else {
                "leader-settings-changed"
            };
            assert_eq!(hooks(&runs, unit), [expected_hook], "{unit}");
            assert_eq!(engine_actions(&runs, unit), Vec::<String>::new(), "{unit}");
            assert_untouched(files_before, &m, unit, &format!("{leader} elected"));
        }
        assert_eq!(peer_priorities(&m), priorities);
        // Nothing to tell anyone: no relation data written anywhere.
        assert!(runs.iter().all(|r| r.tool_count("relation-set") == 0));
    }
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
        assert_eq!(
            engine_actions(&runs, unit),
            ["systemctl reload keepalived-charm.service"],
            "{unit}"
        );
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
    assert_eq!(
        peer_priorities(&m),
        expected_priorities(&[("keepalived/0", "254"), ("keepalived/1", "253")])
    );
}

#[test]
fn removing_the_leader_moves_no_priority() {
    let mut m = deployed(3, Net::Golden, &[("virtual_ip", VIP)]);
    let before: Vec<_> = UNITS[1..].iter().map(|u| files(&m, u)).collect();
    let runs = m.remove_unit("keepalived/0").unwrap();
    all_ok(&runs);
    assert_eq!(m.leader.as_deref(), Some("keepalived/1"));
    for (unit, files_before) in UNITS[1..].iter().zip(&before) {
        assert_untouched(files_before, &m, unit, "the leader left");
        assert_eq!(engine_actions(&runs, unit), Vec::<String>::new(), "{unit}");
    }
    assert_eq!(
        peer_priorities(&m),
        expected_priorities(&[("keepalived/1", "253"), ("keepalived/2", "252")])
    );
}

#[test]
fn a_new_unit_joins_below_every_priority_and_becomes_everyones_peer() {
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
        assert_eq!(
            engine_actions(&runs, unit),
            ["systemctl reload keepalived-charm.service"],
            "{unit}"
        );
    }
}
