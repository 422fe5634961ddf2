//! End to end through the hook-tool emulator, three units: distinct and stable VRRP
//! priorities without Juju leadership (docs/juju-contract.md O-6): the leader's removal moves no
//! priority and rewrites no engine config; added units move no priority either. That a leadership hook changes nothing is a
//! rule of one unit, pinned in-process (`reconcile_tests::a_leader_change_changes_nothing`).

use std::collections::BTreeMap;

use crate::e2e::*;
use juju_emulator::Model;

const UNITS: [&str; 3] = ["keepalived/0", "keepalived/1", "keepalived/2"];

/// The golden default config with this unit's priority, at the fast timing (every
/// unit runs this charm).
fn default_with_priority(m: &Model, unit: &str, priority: u8) -> String {
    fast(golden(m, unit, "default-ipv4.conf"))
        .replace("    priority 254\n", &format!("    priority {priority}\n"))
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
    for (unit, priority) in UNITS.iter().zip([254, 244, 234]) {
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
            ("keepalived/1", "244"),
            ("keepalived/2", "234")
        ])
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
        expected_priorities(&[("keepalived/1", "244"), ("keepalived/2", "234")])
    );
}

#[test]
fn units_added_together_end_with_distinct_priorities_below_the_others() {
    let mut m = deployed(3, Net::Golden, &[("virtual_ip", VIP)]);
    let runs = m
        .deploy_with(2, |m, unit| prepare_machine(m, unit, Net::Golden))
        .unwrap();
    all_ok(&runs);
    assert_eq!(
        peer_priorities(&m),
        expected_priorities(&[
            ("keepalived/0", "254"),
            ("keepalived/1", "244"),
            ("keepalived/2", "234"),
            ("keepalived/3", "224"),
            ("keepalived/4", "214")
        ])
    );
    // Each engine runs on the priority it claims; the existing units were not touched.
    for (unit, priority) in [("keepalived/3", 224), ("keepalived/4", 214)] {
        assert_eq!(
            engine_config(&m, unit),
            default_with_priority(&m, unit, priority),
            "{unit}"
        );
    }
    // The units already there keep their priority and end where they were, on the
    // fast timing. While a new unit has not published its offer yet they ran the
    // compatible one (`timing`): reloads only, never a restart (K-15 makes the
    // timing change hitless).
    for (unit, priority) in UNITS.iter().zip([254, 244, 234]) {
        assert_eq!(
            engine_config(&m, unit),
            default_with_priority(&m, unit, priority),
            "{unit}"
        );
        let actions = engine_actions(&runs, unit);
        assert!(
            actions
                .iter()
                .all(|a| a == "systemctl reload keepalived-charm.service"),
            "{unit}: {actions:?}"
        );
    }
}
