//! End to end through the hook-tool emulator: configuring `virtual_ip` renders the
//! engine config (golden files) and publishes the original charm's relation contract
//! byte for byte (original-charm §1.11, ISSUE2 item 5): `website` gets `hostname`,
//! `private-address`, `port`; `loadbalancer` gets `public-address`, `port`; `lb-sink`
//! and `juju-info` get nothing; clearing `virtual_ip` retracts the keys.

use crate::e2e::*;
use juju_emulator::Bag;

const UNIT0: &str = "keepalived/0";
const ADDR0: &str = "192.0.2.10";

fn website(hostname: &str, vip: &str, port: &str) -> Bag {
    bag_with(
        ADDR0,
        &[
            ("hostname", hostname),
            ("private-address", vip),
            ("port", port),
        ],
    )
}

fn loadbalancer(vip: &str, port: &str) -> Bag {
    bag_with(ADDR0, &[("public-address", vip), ("port", port)])
}

#[test]
fn configuring_the_vip_renders_the_golden_engine_config() {
    let mut m = deployed_and_related(1, Net::Golden, &[]);
    assert!(!engine_config_path(&m, UNIT0).exists());
    let runs = config(&mut m, &[("virtual_ip", VIP)]);
    assert_eq!(hooks(&runs, UNIT0), ["config-changed"]);
    assert_eq!(
        engine_config(&m, UNIT0),
        golden(&m, UNIT0, "default-ipv4.conf")
    );
    assert_eq!(m.unit(UNIT0).status(), active("VIP 10.10.74.250 ready"));
}

#[test]
fn website_and_loadbalancer_carry_the_original_contract_exactly() {
    let mut m = deployed_and_related(1, Net::Golden, &[]);
    // Before the VIP: nothing but Juju's own keys.
    assert_eq!(unit_bag(&m, "website", UNIT0), bag_with(ADDR0, &[]));
    assert_eq!(unit_bag(&m, "loadbalancer", UNIT0), bag_with(ADDR0, &[]));

    config(&mut m, &[("virtual_ip", VIP)]);
    assert_eq!(unit_bag(&m, "website", UNIT0), website(VIP, VIP, "443"));
    assert_eq!(
        unit_bag(&m, "loadbalancer", UNIT0),
        loadbalancer(VIP, "443")
    );
    // The contract lives in unit bags only.
    for endpoint in ["website", "loadbalancer", "lb-sink", "juju-info"] {
        assert_eq!(app_bag(&m, endpoint), Bag::new(), "{endpoint}");
    }
}

#[test]
fn a_netmask_in_virtual_ip_is_never_published() {
    let mut m = deployed_and_related(1, Net::Golden, &[]);
    config(
        &mut m,
        &[("virtual_ip", "10.10.74.250/24"), ("port", "6443")],
    );
    assert_eq!(unit_bag(&m, "website", UNIT0), website(VIP, VIP, "6443"));
    assert_eq!(
        unit_bag(&m, "loadbalancer", UNIT0),
        loadbalancer(VIP, "6443")
    );
    assert!(engine_config(&m, UNIT0).contains("\n        10.10.74.250/24\n"));
}

#[test]
fn relations_joined_after_configuration_get_the_contract_at_once() {
    let mut m = deployed(1, Net::Golden, &[("virtual_ip", VIP)]);
    assert_eq!(m.unit(UNIT0).status(), active("VIP 10.10.74.250 ready"));
    let (_, runs) = m
        .integrate("website", "kubernetes-worker", &["kubernetes-worker/0"])
        .unwrap();
    all_ok(&runs);
    assert_eq!(
        hooks(&runs, UNIT0),
        [
            "website-relation-created",
            "website-relation-joined",
            "website-relation-changed"
        ]
    );
    // Published by -created, the first hook that knows the relation; not re-sent after.
    let sets: Vec<usize> = runs.iter().map(|r| r.tool_count("relation-set")).collect();
    assert_eq!(sets, [1, 0, 0]);
    assert_eq!(unit_bag(&m, "website", UNIT0), website(VIP, VIP, "443"));
    let (_, runs) = m
        .integrate(
            "loadbalancer",
            "kubernetes-master",
            &["kubernetes-master/0"],
        )
        .unwrap();
    all_ok(&runs);
    assert_eq!(
        unit_bag(&m, "loadbalancer", UNIT0),
        loadbalancer(VIP, "443")
    );
}

#[test]
fn lb_sink_and_juju_info_carry_only_jujus_own_keys() {
    let mut m = deployed_and_related(1, Net::Golden, &[]);
    config(
        &mut m,
        &[("virtual_ip", VIP), ("vip_hostname", "api.example.com")],
    );
    let runs = m.update_status().unwrap();
    all_ok(&runs);
    for endpoint in ["lb-sink", "juju-info"] {
        assert_eq!(
            unit_bag(&m, endpoint, UNIT0),
            bag_with(ADDR0, &[]),
            "{endpoint}"
        );
    }
    // And the charm never even wrote to them.
    let lb_sink = m.relation_by_endpoint("lb-sink").unwrap().key();
    let juju_info = m.relation_by_endpoint("juju-info").unwrap().key();
    for run in &m.history {
        for call in run.tool_calls.iter().filter(|c| c.name == "relation-set") {
            assert!(
                !call.args.contains(&lb_sink) && !call.args.contains(&juju_info),
                "{} wrote {:?}",
                run.hook.name,
                call.args
            );
        }
    }
}

#[test]
fn clearing_virtual_ip_retracts_the_published_keys() {
    let mut m = deployed_and_related(1, Net::Golden, &[("virtual_ip", VIP)]);
    assert_eq!(unit_bag(&m, "website", UNIT0), website(VIP, VIP, "443"));
    let runs = config(&mut m, &[("virtual_ip", "")]);
    // Exactly Juju's keys again: private-address is Juju's own key that the contract
    // overwrote, so it gets the unit's address back.
    assert_eq!(unit_bag(&m, "website", UNIT0), bag_with(ADDR0, &[]));
    assert_eq!(unit_bag(&m, "loadbalancer", UNIT0), bag_with(ADDR0, &[]));
    assert_eq!(
        m.unit(UNIT0).status(),
        blocked("Please configure virtual ips")
    );
    // No VIP: no engine config, the engine stopped, the sysctl setting undone.
    assert!(!engine_config_path(&m, UNIT0).exists());
    assert_eq!(
        engine_actions(&runs, UNIT0),
        ["systemctl stop keepalived-charm.service"]
    );
    assert_eq!(
        m.unit(UNIT0).machine.sysctl["net.ipv4.ip_nonlocal_bind"],
        "0"
    );
    assert!(!m
        .unit(UNIT0)
        .root
        .join("etc/sysctl.d/50-keepalived.conf")
        .exists());

    // Setting it again publishes again.
    config(&mut m, &[("virtual_ip", VIP)]);
    assert_eq!(unit_bag(&m, "website", UNIT0), website(VIP, VIP, "443"));
    assert_eq!(
        unit_bag(&m, "loadbalancer", UNIT0),
        loadbalancer(VIP, "443")
    );
}

#[test]
fn an_ipv6_vip_is_published_without_brackets_and_rendered_as_vi_1_v6() {
    let mut m = deployed_and_related(1, Net::Golden, &[]);
    config(&mut m, &[("virtual_ip", "fd00::5/64")]);
    assert_eq!(engine_config(&m, UNIT0), golden(&m, UNIT0, "ipv6.conf"));
    assert_eq!(
        unit_bag(&m, "website", UNIT0),
        website("fd00::5", "fd00::5", "443")
    );
    assert_eq!(
        unit_bag(&m, "loadbalancer", UNIT0),
        loadbalancer("fd00::5", "443")
    );
    assert_eq!(m.unit(UNIT0).status(), active("VIP fd00::5 ready"));
    // The IPv6 equivalent of the original's sysctl setting.
    let sysctl = &m.unit(UNIT0).machine.sysctl;
    assert_eq!(sysctl["net.ipv4.ip_nonlocal_bind"], "1");
    assert_eq!(sysctl["net.ipv6.ip_nonlocal_bind"], "1");
}

#[test]
fn a_dual_stack_vip_renders_one_instance_per_family_and_publishes_the_first_address() {
    let mut m = deployed_and_related(1, Net::Golden, &[]);
    config(&mut m, &[("virtual_ip", "10.20.0.5, fd00::5 10.20.0.6/16")]);
    assert_eq!(
        engine_config(&m, UNIT0),
        golden(&m, UNIT0, "dual-stack.conf")
    );
    assert_eq!(
        unit_bag(&m, "website", UNIT0),
        website("10.20.0.5", "10.20.0.5", "443")
    );
    assert_eq!(
        unit_bag(&m, "loadbalancer", UNIT0),
        loadbalancer("10.20.0.5", "443")
    );
    assert_eq!(
        m.unit(UNIT0).status(),
        active("VIPs 10.20.0.5, fd00::5, 10.20.0.6 ready")
    );

    // IPv6 first: the published address has no brackets either.
    config(&mut m, &[("virtual_ip", "fd00::5 10.20.0.5")]);
    assert_eq!(
        unit_bag(&m, "loadbalancer", UNIT0),
        loadbalancer("fd00::5", "443")
    );
    let conf = engine_config(&m, UNIT0);
    assert!(conf.contains("vrrp_instance VI_1 {\n"), "{conf}");
    assert!(conf.contains("vrrp_instance VI_1_V6 {\n"), "{conf}");
}

#[test]
fn every_website_relation_gets_the_contract() {
    let mut m = deployed_and_related(1, Net::Golden, &[("virtual_ip", VIP)]);
    let (second, runs) = m
        .integrate("website", "haproxy", &["haproxy/0", "haproxy/1"])
        .unwrap();
    all_ok(&runs);
    let first = m.relation_by_endpoint("website").unwrap().id;
    assert_ne!(first, second);
    for id in [first, second] {
        assert_eq!(
            m.relation(id).local_units_data[UNIT0],
            website(VIP, VIP, "443"),
            "website:{id}"
        );
    }
    // A change reaches both.
    config(&mut m, &[("port", "8443")]);
    for id in [first, second] {
        assert_eq!(
            m.relation(id).local_units_data[UNIT0],
            website(VIP, VIP, "8443"),
            "website:{id}"
        );
    }
}

#[test]
fn a_removed_relation_is_forgotten_and_a_new_one_gets_the_contract() {
    let mut m = deployed_and_related(1, Net::Golden, &[("virtual_ip", VIP)]);
    let website_id = m.relation_by_endpoint("website").unwrap().id;
    let runs = m.remove_relation(website_id).unwrap();
    all_ok(&runs);
    assert_eq!(
        hooks(&runs, UNIT0),
        ["website-relation-departed", "website-relation-broken"]
    );
    assert!(m.relations.iter().all(|r| r.id != website_id));
    // Later hooks never touch the gone relation (relation-set on it would fail).
    let runs = config(&mut m, &[("port", "6443")]);
    let key = format!("website:{website_id}");
    assert!(runs[0].tool_calls.iter().all(|c| !c.args.contains(&key)));
    assert_eq!(
        unit_bag(&m, "loadbalancer", UNIT0),
        loadbalancer(VIP, "6443")
    );

    let (_, runs) = m
        .integrate("website", "kubernetes-worker", &["kubernetes-worker/0"])
        .unwrap();
    all_ok(&runs);
    assert_eq!(unit_bag(&m, "website", UNIT0), website(VIP, VIP, "6443"));
}

#[test]
fn an_address_change_keeps_the_vip_in_website_private_address() {
    let mut m = deployed_and_related(1, Net::Golden, &[("virtual_ip", VIP)]);
    // Juju rewrites its address keys in every bag of the unit (private-address too,
    // which the contract had set to the VIP) and runs config-changed.
    let runs = m.change_address(UNIT0, "192.0.2.99").unwrap();
    all_ok(&runs);
    assert_eq!(hooks(&runs, UNIT0), ["config-changed"]);
    assert_eq!(
        unit_bag(&m, "website", UNIT0),
        bag_with(
            "192.0.2.99",
            &[("hostname", VIP), ("private-address", VIP), ("port", "443")]
        )
    );
    assert_eq!(
        unit_bag(&m, "loadbalancer", UNIT0),
        bag_with("192.0.2.99", &[("public-address", VIP), ("port", "443")])
    );
}
