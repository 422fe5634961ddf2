//! End to end through the hook-tool emulator: a config change touches only what it
//! must (ISSUE2 item 4). `vip_hostname` reaches the relation data and never the
//! engine; `port` changes the health check, a hitless reload; `virtual_ip`,
//! `router_id` and `healthcheck_interval` cost exactly one reload; a hook with nothing
//! new writes no file and reloads nothing. "No write" is checked on every file under
//! the machine root: same bytes, inode, mtime and mode.

use crate::e2e::*;

const UNIT0: &str = "keepalived/0";
const ADDR0: &str = "192.0.2.10";

fn configured() -> juju_emulator::Model {
    let m = deployed_and_related(1, Net::Golden, &[("virtual_ip", VIP)]);
    assert_eq!(
        engine_config(&m, UNIT0),
        golden(&m, UNIT0, "default-ipv4.conf")
    );
    m
}

const IS_ACTIVE: &str = "systemctl is-active --quiet keepalived-charm.service";
const RELOAD: &str = "systemctl reload keepalived-charm.service";

#[test]
fn changing_vip_hostname_updates_relation_data_and_leaves_the_engine_alone() {
    let mut m = configured();
    let before = files(&m, UNIT0);
    let runs = config(&mut m, &[("vip_hostname", "api.example.com")]);
    assert_eq!(hooks(&runs, UNIT0), ["config-changed"]);
    assert_eq!(
        unit_bag(&m, "website", UNIT0),
        bag_with(
            ADDR0,
            &[
                ("hostname", "api.example.com"),
                ("private-address", VIP),
                ("port", "443")
            ]
        )
    );
    assert_eq!(
        unit_bag(&m, "loadbalancer", UNIT0),
        bag_with(ADDR0, &[("public-address", VIP), ("port", "443")])
    );
    // The engine is not touched: no reload, no restart, not a byte written.
    assert_eq!(machine_calls(&runs, UNIT0), [IS_ACTIVE]);
    assert_untouched(&before, &m, UNIT0, "vip_hostname change");

    // And back: the hostname is the VIP again.
    let before = files(&m, UNIT0);
    let runs = config(&mut m, &[("vip_hostname", "")]);
    assert_eq!(unit_bag(&m, "website", UNIT0)["hostname"], VIP);
    assert_eq!(machine_calls(&runs, UNIT0), [IS_ACTIVE]);
    assert_untouched(&before, &m, UNIT0, "vip_hostname reset");
}

#[test]
fn changing_port_updates_relation_data_and_reloads_once_without_restart() {
    let mut m = configured();
    let runs = config(&mut m, &[("port", "6443")]);
    assert_eq!(
        unit_bag(&m, "website", UNIT0),
        bag_with(
            ADDR0,
            &[
                ("hostname", VIP),
                ("private-address", VIP),
                ("port", "6443")
            ]
        )
    );
    assert_eq!(
        unit_bag(&m, "loadbalancer", UNIT0),
        bag_with(ADDR0, &[("public-address", VIP), ("port", "6443")])
    );
    // Only the health check changed, and the engine takes it with a reload.
    let expected = golden(&m, UNIT0, "default-ipv4.conf")
        .replace("check-tcp 127.0.0.1 443\"", "check-tcp 127.0.0.1 6443\"");
    assert_eq!(engine_config(&m, UNIT0), expected);
    assert_eq!(machine_calls(&runs, UNIT0), [IS_ACTIVE, RELOAD]);
    assert_eq!(count_verb(&runs, UNIT0, "restart"), 0);
}

/// Changes one option and expects exactly one reload and `expected` as the new file.
fn assert_one_reload(m: &mut juju_emulator::Model, key: &str, value: &str, expected: &str) {
    let old_inode = files(m, UNIT0)["etc/keepalived-charm/keepalived.conf"].ino;
    let runs = config(m, &[(key, value)]);
    assert_eq!(engine_config(m, UNIT0), expected, "{key}={value}");
    assert_eq!(
        machine_calls(&runs, UNIT0),
        [IS_ACTIVE, RELOAD],
        "{key}={value}"
    );
    // Written atomically: a new file renamed over the old one.
    assert_ne!(
        files(m, UNIT0)["etc/keepalived-charm/keepalived.conf"].ino,
        old_inode
    );
}

#[test]
fn changing_virtual_ip_reloads_exactly_once_and_republishes() {
    let mut m = configured();
    let expected =
        golden(&m, UNIT0, "default-ipv4.conf").replace("10.10.74.250/32", "10.10.74.251/32");
    assert_one_reload(&mut m, "virtual_ip", "10.10.74.251", &expected);
    assert_eq!(
        unit_bag(&m, "loadbalancer", UNIT0),
        bag_with(
            ADDR0,
            &[("public-address", "10.10.74.251"), ("port", "443")]
        )
    );
    assert_eq!(
        unit_bag(&m, "website", UNIT0),
        bag_with(
            ADDR0,
            &[
                ("hostname", "10.10.74.251"),
                ("private-address", "10.10.74.251"),
                ("port", "443")
            ]
        )
    );
    assert_eq!(m.unit(UNIT0).status(), active("VIP 10.10.74.251 ready"));
}

#[test]
fn changing_router_id_reloads_exactly_once() {
    let mut m = configured();
    let expected = golden(&m, UNIT0, "default-ipv4.conf")
        .replace("virtual_router_id 23\n", "virtual_router_id 51\n");
    assert_one_reload(&mut m, "router_id", "51", &expected);
}

#[test]
fn changing_healthcheck_interval_reloads_exactly_once() {
    let mut m = configured();
    let expected =
        golden(&m, UNIT0, "default-ipv4.conf").replace("    interval 2\n", "    interval 5\n");
    assert_one_reload(&mut m, "healthcheck_interval", "5", &expected);
}

#[test]
fn a_hook_with_nothing_new_writes_nothing_and_reloads_nothing() {
    let mut m = configured();
    let before = files(&m, UNIT0);
    assert!(before.contains_key("etc/keepalived-charm/keepalived.conf"));
    assert!(before.contains_key("etc/sysctl.d/50-keepalived.conf"));
    assert!(before.contains_key("etc/systemd/system/keepalived-charm.service"));

    // Setting an option to the value it has is no change: Juju runs no hook at all.
    assert!(m.config(&[("virtual_ip", VIP)]).unwrap().is_empty());

    let runs = m.update_status().unwrap();
    all_ok(&runs);
    assert_eq!(machine_calls(&runs, UNIT0), [IS_ACTIVE]);
    let tools: Vec<&str> = runs[0].tool_calls.iter().map(|c| c.name.as_str()).collect();
    // Facts, the status, nothing else: no relation data, no charm state written.
    assert_eq!(tools, ["config-get", "state-get", "status-set"]);
    assert_untouched(&before, &m, UNIT0, "update-status");

    // config-changed with the same values (Juju also runs it after an agent restart).
    let run = m.run(UNIT0, "config-changed").unwrap();
    all_ok(std::slice::from_ref(&run));
    assert_eq!(machine_calls(&[run], UNIT0), [IS_ACTIVE]);
    assert_untouched(&before, &m, UNIT0, "config-changed with the same values");

    for hook in ["leader-elected", "start", "update-status"] {
        let run = m.run(UNIT0, hook).unwrap();
        all_ok(std::slice::from_ref(&run));
        assert_eq!(machine_calls(&[run], UNIT0), [IS_ACTIVE], "{hook}");
        assert_untouched(&before, &m, UNIT0, hook);
    }

    // Remote data that does not concern us changes: a relation hook, nothing else.
    let lb_sink = m.relation_by_endpoint("lb-sink").unwrap().id;
    let runs = m
        .remote_data_change(
            lb_sink,
            Some("kubeapi-load-balancer/0"),
            &[("port", "443"), ("hostname", "lb")],
        )
        .unwrap();
    all_ok(&runs);
    assert_eq!(hooks(&runs, UNIT0), ["lb-sink-relation-changed"]);
    assert_eq!(machine_calls(&runs, UNIT0), [IS_ACTIVE]);
    assert_eq!(runs[0].tool_count("relation-set"), 0);
    assert_untouched(&before, &m, UNIT0, "lb-sink-relation-changed");
    assert_eq!(m.unit(UNIT0).status(), active("VIP 10.10.74.250 ready"));
}
