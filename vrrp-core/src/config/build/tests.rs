//! The builder's rules, one behaviour per test, through the public `parse`.

use std::net::IpAddr;
use std::time::Duration;

use crate::config::{
    parse, InitialState, Loaded, ScriptUser, TrackInterface, TrackScript, VirtualAddress, Weight,
};
use crate::proto::{AdvertInterval, Auth, Family, Priority, RollingFrom, Version, Vrid};

/// Every diagnostic (errors and warnings) as displayed.
fn diags(text: &str) -> Vec<String> {
    let list = match parse("k.conf", text.as_bytes()) {
        Ok(loaded) => loaded.warnings,
        Err(all) => all,
    };
    list.iter().map(|d| d.to_string()).collect()
}

fn errors(text: &str) -> Vec<String> {
    match parse("k.conf", text.as_bytes()) {
        Ok(_) => Vec::new(),
        Err(all) => all
            .iter()
            .filter(|d| d.is_error())
            .map(|d| d.to_string())
            .collect(),
    }
}

fn ok(text: &str) -> Loaded {
    match parse("k.conf", text.as_bytes()) {
        Ok(loaded) => loaded,
        Err(all) => panic!(
            "expected no errors, got:\n{}",
            all.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        ),
    }
}

/// An instance whose body starts on line 2 and whose own lines follow from line 5:
/// line 1 `vrrp_instance VI_1 {`, 2 `interface eth0`, 3 `virtual_router_id 5`,
/// 4 `virtual_ipaddress { 10.1.2.3 }`, then `body` from line 5.
fn inst(body: &str) -> String {
    format!(
        "vrrp_instance VI_1 {{\n    interface eth0\n    virtual_router_id 5\n    virtual_ipaddress {{ 10.1.2.3 }}\n{body}\n}}\n"
    )
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// The original charm's template (src/templates/keepalived.conf) rendered with
/// service_port 443, healthcheck_interval 2, router_id 23, VIP 10.1.2.3/16, leader.
pub(crate) const ORIGINAL_TEMPLATE: &str =
    include_str!("../../../tests/fixtures/original-charm.conf");

#[test]
fn original_charm_template_parses_to_keepalived_defaults() {
    let loaded = ok(ORIGINAL_TEMPLATE);
    let c = &loaded.config;
    assert_eq!(c.global.vrrp_version, Version::V2);
    let s = &c.scripts[0];
    assert_eq!(s.name, "chk_svc_port");
    assert_eq!(s.argv(), vec!["/bin/bash", "-c", "</dev/tcp/127.0.0.1/443"]);
    assert_eq!(s.interval, Duration::from_secs(2));
    assert_eq!(s.timeout, Duration::from_secs(2));
    assert_eq!(s.weight.get(), 2);
    assert_eq!((s.rise, s.fall, s.init_fail, &s.user), (1, 1, false, &None));
    let i = &c.instances[0];
    assert_eq!(i.name, "VI_1");
    assert_eq!(i.initial_state, InitialState::Master);
    assert_eq!(i.interface, "eth0");
    assert_eq!(i.vrid, Vrid::new(23).unwrap());
    assert_eq!(i.priority, Priority::from_wire(101));
    assert_eq!(i.advert_int, AdvertInterval::DEFAULT);
    assert_eq!(i.version, Version::V2);
    assert_eq!(i.family, Family::V4);
    assert!(i.preempt);
    assert_eq!(i.preempt_delay, Duration::ZERO);
    assert_eq!(i.auth, Auth::None);
    assert!(i.unicast_peers.is_empty() && i.unicast_src_ip.is_none());
    assert_eq!(
        i.vips,
        vec![VirtualAddress {
            addr: ip("10.1.2.3"),
            prefix_len: 16,
            dev: None,
            label: None
        }]
    );
    assert_eq!(
        i.track_scripts,
        vec![TrackScript {
            name: "chk_svc_port".into(),
            weight: None
        }]
    );
    assert_eq!(i.garp_master_delay, Duration::from_secs(5));
    assert_eq!(i.garp_master_repeat, 5);
    assert_eq!(i.garp_master_refresh, None);
    // The only remark: keepalived -t wants enable_script_security.
    assert_eq!(loaded.warnings.len(), 1);
    assert!(loaded.warnings[0]
        .message
        .starts_with("vrrp_script without enable_script_security"));
}

#[test]
fn captured_vector_configs_parse_to_what_keepalived_ran() {
    let auth = ok(include_str!("../../../tests/vectors/v2-mcast-auth.h1.conf"));
    let i = &auth.config.instances[0];
    assert_eq!(i.auth, Auth::pass("s3cr3t"));
    assert_eq!(i.priority.get(), 150);
    assert_eq!(i.vips[0].dev.as_deref(), Some("eth0"));
    assert_eq!(i.vips[0].prefix_len, 24);
    assert_eq!(auth.config.global.router_id.as_deref(), Some("h1"));

    let v3 = ok(include_str!("../../../tests/vectors/v3-mcast.h1.conf"));
    assert_eq!(v3.config.instances[0].version, Version::V3);
    assert_eq!(v3.config.instances[0].advert_int.centis(), 10);

    let v6 = ok(include_str!("../../../tests/vectors/v3-ipv6-ll.h1.conf"));
    let i = &v6.config.instances[0];
    assert_eq!((i.family, i.version), (Family::V6, Version::V3));
    assert_eq!(i.vips[0].addr, ip("fe80::1:100"));
    assert_eq!(i.vips[1].addr, ip("fd00::100"));

    let uc = ok(include_str!("../../../tests/vectors/v2-ucast.h2.conf"));
    let i = &uc.config.instances[0];
    assert_eq!(i.unicast_src_ip, Some(ip("10.99.0.12")));
    assert_eq!(i.unicast_peers, vec![ip("10.99.0.11")]);
}

#[test]
fn priority_and_state_default_from_each_other_like_keepalived() {
    let i = ok(&inst("")).config.instances[0].clone();
    assert_eq!(
        (i.initial_state, i.priority.get()),
        (InitialState::Backup, 100)
    );

    let loaded = ok(&inst("    state MASTER"));
    let i = &loaded.config.instances[0];
    assert_eq!(
        (i.initial_state, i.priority.get()),
        (InitialState::Master, 255)
    );
    assert_eq!(
        diags(&inst("    state MASTER")),
        vec!["k.conf:5:11: warning: state MASTER without a priority: keepalived then uses priority 255 (address owner), which always preempts; set \"priority\" explicitly"]
    );

    let i = ok(&inst("    priority 255")).config.instances[0].clone();
    assert_eq!(i.initial_state, InitialState::Master);
}

#[test]
fn vrid_outside_1_to_255_is_refused() {
    assert_eq!(
        errors(&inst("").replace("virtual_router_id 5", "virtual_router_id 0")),
        vec!["k.conf:3:23: error: virtual_router_id 0 is out of range: allowed 1..255"]
    );
    assert_eq!(
        errors(&inst("").replace("virtual_router_id 5", "virtual_router_id 256")),
        vec!["k.conf:3:23: error: virtual_router_id 256 is out of range: allowed 1..255"]
    );
    assert_eq!(
        errors(&inst("").replace("virtual_router_id 5", "virtual_router_id 0x10")),
        vec![
            "k.conf:3:23: error: virtual_router_id \"0x10\" is not a whole number: allowed 1..255"
        ]
    );
}

#[test]
fn missing_vrid_and_interface_are_reported_at_the_instance() {
    assert_eq!(
        errors("vrrp_instance VI_1 {\n    virtual_ipaddress { 10.1.2.3 }\n}\n"),
        vec![
            "k.conf:1:1: error: vrrp_instance VI_1 has no \"interface\": add \"interface IFNAME\"",
            "k.conf:1:1: error: vrrp_instance VI_1 has no \"virtual_router_id\": add \"virtual_router_id 1..255\", the same on every node of this router",
        ]
    );
}

#[test]
fn priority_outside_1_to_255_is_refused() {
    assert_eq!(
        errors(&inst("    priority 0")),
        vec!["k.conf:5:14: error: priority 0 is out of range: allowed 1..255"]
    );
    assert_eq!(
        errors(&inst("    priority 256")),
        vec!["k.conf:5:14: error: priority 256 is out of range: allowed 1..255"]
    );
}

#[test]
fn advert_int_must_be_representable_in_the_chosen_version() {
    assert_eq!(
        errors(&inst("    advert_int 0.5")),
        vec!["k.conf:5:16: error: advert_int 0.5 is out of range: allowed whole seconds 1..255 for VRRPv2"]
    );
    assert_eq!(
        errors(&inst("    advert_int 256")),
        vec!["k.conf:5:16: error: advert_int 256 is out of range: allowed whole seconds 1..255 for VRRPv2"]
    );
    let v3 = "0.01..40.95 seconds in steps of 0.01 for VRRPv3";
    assert_eq!(
        errors(&inst("    advert_int 0.005\n    version 3")),
        vec![format!(
            "k.conf:5:16: error: advert_int 0.005 is out of range: allowed {v3}"
        )]
    );
    assert_eq!(
        errors(&inst("    version 3\n    advert_int 41")),
        vec![format!(
            "k.conf:6:16: error: advert_int 41 is out of range: allowed {v3}"
        )]
    );
    // The version may come after advert_int.
    let i = ok(&inst("    advert_int 0.05\n    version 3"))
        .config
        .instances[0]
        .clone();
    assert_eq!(i.advert_int.centis(), 5);
    let i = ok(&format!(
        "global_defs {{\n vrrp_version 3\n}}\n{}",
        inst("    advert_int 40.95")
    ))
    .config
    .instances[0]
        .clone();
    assert_eq!((i.version, i.advert_int.centis()), (Version::V3, 4095));
}

#[test]
fn ipv6_instances_are_vrrpv3_and_refuse_an_explicit_version_2() {
    let v6 = inst("").replace("10.1.2.3", "fd00::3");
    let i = ok(&v6).config.instances[0].clone();
    assert_eq!((i.family, i.version), (Family::V6, Version::V3));
    assert_eq!(i.vips[0].prefix_len, 128);
    // global vrrp_version 2 does not apply to IPv6 (keepalived).
    let i = ok(&format!("global_defs {{\n vrrp_version 2\n}}\n{v6}"))
        .config
        .instances[0]
        .clone();
    assert_eq!(i.version, Version::V3);
    assert_eq!(
        errors(&inst("    version 2").replace("10.1.2.3", "fd00::3")),
        vec!["k.conf:5:13: error: version 2 cannot carry IPv6 addresses (RFC 3768 is IPv4 only): use version 3 or remove the line"]
    );
}

#[test]
fn ipv6_vips_should_start_with_a_link_local_address() {
    assert_eq!(
        diags(&inst("").replace("10.1.2.3", "fd00::3")),
        vec!["k.conf:4:25: warning: the first IPv6 virtual_ipaddress fd00::3 is not link-local: RFC 9568 §5.2.9 puts a link-local address (fe80::/10) first, and other VRRP implementations may refuse the adverts"]
    );
    let ll = inst("").replace(
        "{ 10.1.2.3 }",
        "{\n        fe80::1:100/64\n        fd00::3\n    }",
    );
    assert_eq!(diags(&ll), Vec::<String>::new());
}

#[test]
fn one_instance_holds_one_address_family() {
    assert_eq!(
        errors(&inst("    virtual_ipaddress_excluded { fd00::9/64 }").replace(
            "virtual_ipaddress { 10.1.2.3 }",
            "virtual_ipaddress {\n        10.1.2.3\n        fd00::3\n    }"
        )),
        vec!["k.conf:6:9: error: virtual_ipaddress fd00::3 is IPv6 but vrrp_instance VI_1 is IPv4 (from 10.1.2.3 at line 5): put each family in its own vrrp_instance"]
    );
    // Excluded addresses may be of either family (they are not advertised).
    let i = ok(&inst(
        "    virtual_ipaddress_excluded {\n        fd00::9/64\n        10.9.9.9/24 dev eth1\n    }",
    ))
    .config
    .instances[0]
        .clone();
    assert_eq!(i.vips_excluded.len(), 2);
    assert_eq!(i.vips_excluded[1].dev.as_deref(), Some("eth1"));
}

#[test]
fn an_instance_needs_at_least_one_vip() {
    assert_eq!(
        errors("vrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 5\n}\n"),
        vec!["k.conf:1:1: error: vrrp_instance VI_1 has no virtual_ipaddress: add at least one address to float"]
    );
}

#[test]
fn authentication_is_v2_pass_of_at_most_8_characters() {
    let auth = |body: &str| inst(&format!("    authentication {{\n{body}\n    }}"));
    let i = ok(&auth("        auth_type PASS\n        auth_pass \"a b#c\""))
        .config
        .instances[0]
        .clone();
    assert_eq!(i.auth, Auth::pass("a b#c"));
    assert_eq!(
        errors(&auth("        auth_type PASS\n        auth_pass 0123456789")),
        vec!["k.conf:7:19: error: auth_pass is 10 bytes long: VRRPv2 carries at most 8 (keepalived would truncate it to \"01234567\")"]
    );
    assert_eq!(
        errors(&auth("        auth_pass abc")),
        vec!["k.conf:5:5: error: authentication has no auth_type: add \"auth_type PASS\" (keepalived would silently send no authentication)"]
    );
    assert_eq!(
        errors(&auth("        auth_type PASS")),
        vec!["k.conf:5:5: error: authentication has auth_type PASS but no auth_pass"]
    );
    assert_eq!(
        errors(&auth("        auth_type AH\n        auth_pass abc")),
        vec!["k.conf:6:19: error: auth_type AH is not implemented: use auth_type PASS, or no authentication"]
    );
    assert_eq!(
        errors(&(auth("        auth_type PASS\n        auth_pass abc") .replace("    interface eth0", "    version 3\n    interface eth0"))),
        vec!["k.conf:6:5: error: authentication is not part of VRRPv3 (RFC 5798 removed it) and keepalived refuses it: remove it, or use version 2 for IPv4 (vrrp_instance VI_1 is VRRPv3)"]
    );
}

#[test]
fn state_must_be_master_or_backup_in_upper_case() {
    assert_eq!(
        errors(&inst("    state master")),
        vec!["k.conf:5:11: error: state \"master\" is not an initial state: allowed MASTER or BACKUP (upper case, as keepalived requires)"]
    );
    assert_eq!(errors(&inst("    state FAULT")).len(), 1);
}

#[test]
fn nopreempt_needs_state_backup_and_a_non_owner_priority() {
    let i = ok(&inst("    state BACKUP\n    nopreempt"))
        .config
        .instances[0]
        .clone();
    assert!(!i.preempt);
    assert_eq!(
        errors(&inst("    state MASTER\n    priority 101\n    nopreempt")),
        vec!["k.conf:7:5: error: nopreempt does not work with state MASTER (keepalived ignores it and `keepalived -t` fails): use state BACKUP on every node"]
    );
    assert_eq!(
        errors(&inst("    state BACKUP\n    priority 255\n    nopreempt")),
        vec!["k.conf:7:5: error: nopreempt does not work with priority 255: the address owner always preempts (RFC 9568 §6.4.2)"]
    );
}

#[test]
fn preempt_delay_with_nopreempt_is_refused_like_keepalived_t() {
    assert_eq!(
        errors(&inst("    nopreempt\n    preempt_delay 5")),
        vec!["k.conf:6:5: error: preempt_delay has no effect with nopreempt (line 5): remove one of them"]
    );
}

#[test]
fn preempt_delay_needs_a_backup_that_can_preempt_like_keepalived_t() {
    assert_eq!(
        errors(&inst("    state MASTER\n    priority 101\n    preempt_delay 5")),
        vec!["k.conf:7:5: error: preempt_delay does not work with state MASTER (keepalived clears it and `keepalived -t` fails): use state BACKUP"]
    );
    assert_eq!(
        errors(&inst("    state BACKUP\n    priority 255\n    preempt_delay 5")),
        vec!["k.conf:7:5: error: preempt_delay does not work with priority 255: the address owner preempts at once"]
    );
}

#[test]
fn tracked_objects_are_listed_once_and_not_the_own_interface() {
    assert_eq!(
        errors(&inst("    track_interface {\n        eth0 weight -10\n        eth1\n        eth1 weight 5\n    }")),
        vec![
            "k.conf:6:9: error: track_interface eth0 is the instance's own interface, which is always tracked: remove it",
            "k.conf:8:9: error: track_interface eth1 is listed twice (first at line 7)",
        ]
    );
    assert_eq!(
        errors(&format!(
            "vrrp_script chk {{\n    script /bin/true\n}}\n{}",
            inst("    track_script {\n        chk\n        chk weight 3\n    }")
        )),
        vec!["k.conf:10:9: error: track_script chk is listed twice (first at line 9)"]
    );
}

#[test]
fn preempt_delay_is_0_to_1000_seconds() {
    let i = ok(&inst("    preempt_delay 0.5")).config.instances[0].clone();
    assert_eq!(i.preempt_delay, Duration::from_millis(500));
    assert_eq!(
        errors(&inst("    preempt_delay 1001")),
        vec!["k.conf:5:19: error: preempt_delay 1001 is out of range: allowed 0..1000 seconds"]
    );
}

#[test]
fn unicast_peers_and_source_follow_the_instance_family() {
    let i = ok(&inst("    unicast_src_ip 10.0.0.1\n    unicast_peer {\n        10.0.0.2\n        10.0.0.3\n    }"))
        .config
        .instances[0]
        .clone();
    assert_eq!(i.unicast_peers, vec![ip("10.0.0.2"), ip("10.0.0.3")]);
    assert!(i.is_unicast());
    assert_eq!(
        errors(&inst(
            "    unicast_src_ip fd00::1\n    unicast_peer {\n        fd00::2\n    }"
        )),
        vec![
            "k.conf:5:20: error: unicast_src_ip fd00::1 is IPv6 but vrrp_instance VI_1 is IPv4",
            "k.conf:7:9: error: unicast_peer fd00::2 is IPv6 but vrrp_instance VI_1 is IPv4",
        ]
    );
    assert_eq!(
        errors(&inst("    unicast_src_ip 10.0.0.1")),
        vec!["k.conf:5:20: error: unicast_src_ip without any unicast_peer: add the peers, or remove unicast_src_ip for multicast (keepalived falls back to multicast and calls this deprecated)"]
    );
    assert_eq!(
        errors(&inst("    unicast_peer {\n        10.0.0.2 10.0.0.3\n    }")),
        vec!["k.conf:6:18: error: unexpected \"10.0.0.3\" after unicast_peer 10.0.0.2: one address per line, and per-peer options (min_ttl, max_ttl) are not implemented"]
    );
    assert_eq!(
        errors(&inst(
            "    unicast_src_ip 10.0.0.1\n    unicast_peer {\n        10.0.0.1\n    }"
        )),
        vec!["k.conf:7:9: error: unicast_peer 10.0.0.1 is this node's own unicast_src_ip"]
    );
    assert_eq!(
        errors(&inst("    unicast_peer {\n    }")),
        vec!["k.conf:5:5: error: unicast_peer block is empty: list the other nodes' addresses, one per line, or remove it for multicast"]
    );
}

#[test]
fn vip_entries_take_dev_and_label_and_nothing_else() {
    let i = ok(&inst(
        "    virtual_ipaddress_excluded {\n        10.9.9.9/24 dev eth1 label eth1:vip\n    }",
    ))
    .config
    .instances[0]
        .clone();
    assert_eq!(
        i.vips_excluded[0],
        VirtualAddress {
            addr: ip("10.9.9.9"),
            prefix_len: 24,
            dev: Some("eth1".into()),
            label: Some("eth1:vip".into())
        }
    );
    let with =
        |entry: &str| inst("").replace("{ 10.1.2.3 }", &format!("{{\n        {entry}\n    }}"));
    assert_eq!(
        errors(&with("10.1.2.3/24 brd 10.1.2.255")),
        vec!["k.conf:5:21: error: unsupported option \"brd\" for virtual_ipaddress 10.1.2.3/24: keepalived has it but this engine does not implement it (usage: ADDR[/PREFIX] [dev IFNAME] [label LABEL], one address per line)"]
    );
    assert_eq!(
        errors(&with("10.1.2.3/33")),
        vec!["k.conf:5:9: error: prefix length \"33\" of virtual_ipaddress 10.1.2.3/33 is out of range: allowed 0..32"]
    );
    assert_eq!(
        errors(&with("10.1.2.3 label foo")),
        vec!["k.conf:5:9: error: label foo must begin with the device name eth0 (kernel rule, e.g. eth0:1)"]
    );
    assert_eq!(
        errors(&with("fd00::3 label eth0:1")),
        vec!["k.conf:5:9: error: label eth0:1 on IPv6 address fd00::3: labels exist only for IPv4 addresses"]
    );
    assert_eq!(
        errors(&with("10.1.2.3 dev")),
        vec!["k.conf:5:18: error: \"dev\" for virtual_ipaddress 10.1.2.3 needs a value"]
    );
    assert_eq!(
        errors(&with("224.0.0.18")),
        vec!["k.conf:5:9: error: virtual_ipaddress 224.0.0.18 is not a unicast address (unspecified, multicast, loopback and broadcast addresses cannot be used)"]
    );
    assert_eq!(
        diags(&with("10.1.2.3\n        10.1.2.3")),
        vec![
            "k.conf:6:9: warning: virtual_ipaddress 10.1.2.3 is listed twice in vrrp_instance VI_1"
        ]
    );
}

#[test]
fn track_lists_take_an_optional_weight() {
    let i = ok(&format!(
        "vrrp_script chk {{\n    script /bin/true\n}}\n{}",
        inst("    track_interface {\n        eth1 weight -10\n        eth2\n    }\n    track_script {\n        chk weight 5\n    }")
    ))
    .config
    .instances[0]
    .clone();
    assert_eq!(
        i.track_interfaces,
        vec![
            TrackInterface {
                name: "eth1".into(),
                weight: Some(Weight::new(-10).unwrap())
            },
            TrackInterface {
                name: "eth2".into(),
                weight: None
            },
        ]
    );
    assert_eq!(i.track_scripts[0].weight, Some(Weight::new(5).unwrap()));
    assert_eq!(
        errors(&inst(
            "    track_interface {\n        eth1 weight 254\n    }"
        )),
        vec!["k.conf:6:21: error: weight 254 is out of range: allowed -253..253"]
    );
    assert_eq!(
        errors(&inst("    track_interface {\n        eth1 weight 5 reverse\n    }")),
        vec!["k.conf:6:23: error: unexpected \"reverse\" in track_interface entry eth1: reverse weights are not implemented"]
    );
}

#[test]
fn down_timer_adverts_defaults_from_global_defs_then_the_rfcs_three() {
    assert_eq!(ok(&inst("")).config.instances[0].down_timer_adverts, 3);
    let text = format!(
        "global_defs {{\n    vrrp_down_timer_adverts 5\n}}\n{}",
        inst("")
    );
    assert_eq!(ok(&text).config.instances[0].down_timer_adverts, 5);
    let text = format!(
        "global_defs {{\n    vrrp_down_timer_adverts 5\n}}\n{}",
        inst("    down_timer_adverts 4")
    );
    assert_eq!(ok(&text).config.instances[0].down_timer_adverts, 4);
    assert_eq!(
        errors(&inst("    down_timer_adverts 0")),
        vec!["k.conf:5:24: error: down_timer_adverts 0 is out of range: allowed 1..100"]
    );
    assert_eq!(
        errors(&inst("    down_timer_adverts 101")),
        vec!["k.conf:5:24: error: down_timer_adverts 101 is out of range: allowed 1..100"]
    );
}

#[test]
fn garp_settings_default_from_global_defs_then_keepalived() {
    let text = format!(
        "global_defs {{\n    vrrp_garp_master_delay 1\n    vrrp_garp_master_repeat 2\n    vrrp_garp_master_refresh 60\n}}\n{}",
        inst("    garp_master_repeat 3")
    );
    let i = ok(&text).config.instances[0].clone();
    assert_eq!(i.garp_master_delay, Duration::from_secs(1));
    assert_eq!(i.garp_master_repeat, 3);
    assert_eq!(i.garp_master_refresh, Some(Duration::from_secs(60)));
    let i = ok(&inst("    garp_master_refresh 0")).config.instances[0].clone();
    assert_eq!(i.garp_master_refresh, None);
    assert_eq!(
        errors(&inst("    garp_master_repeat 0")),
        vec!["k.conf:5:24: error: garp_master_repeat 0 is out of range: allowed 1..255"]
    );
    assert_eq!(
        errors(&inst("    garp_master_delay 0.5")),
        vec!["k.conf:5:23: error: garp_master_delay \"0.5\" is not a whole number: allowed 0..4294 seconds"]
    );
}

#[test]
fn unsupported_and_unknown_directives_are_errors_naming_line_and_directive() {
    let e = errors(&inst("    use_vmac\n    foo bar"));
    assert_eq!(e.len(), 2);
    assert!(e[0].starts_with("k.conf:5:5: error: unsupported directive \"use_vmac\" in vrrp_instance VI_1: keepalived has it but this engine does not implement it (supported: state, interface, virtual_router_id, priority,"));
    assert!(e[1].starts_with("k.conf:6:5: error: unknown directive \"foo\" in vrrp_instance VI_1 (supported: state, interface,"));
    assert_eq!(
        errors("include /etc/keepalived/other.conf\nvrrp_sync_group G {\n}\nvirtual_server 10.0.0.1 80 {\n}\n"),
        vec![
            "k.conf:1:1: error: unsupported directive \"include\" in the top level: keepalived has it but this engine does not implement it (supported: global_defs, vrrp_script, vrrp_instance)",
            "k.conf:2:1: error: unsupported directive \"vrrp_sync_group\" in the top level: keepalived has it but this engine does not implement it (supported: global_defs, vrrp_script, vrrp_instance)",
            "k.conf:4:1: error: unsupported directive \"virtual_server\" in the top level: keepalived has it but this engine does not implement it (supported: global_defs, vrrp_script, vrrp_instance)",
        ]
    );
}

#[test]
fn wrong_argument_counts_and_blocks_are_errors() {
    assert_eq!(
        errors(&inst("").replace("interface eth0", "interface eth0 virtual_router_id 5")),
        vec!["k.conf:2:5: error: \"interface\" takes 1 argument: usage \"interface IFNAME\", got \"eth0 virtual_router_id 5\""]
    );
    assert_eq!(
        errors(&inst("    nopreempt yes")),
        vec![
            "k.conf:5:5: error: \"nopreempt\" takes no arguments: usage \"nopreempt\", got \"yes\""
        ]
    );
    assert_eq!(
        errors(&inst("    priority {\n    }")),
        vec!["k.conf:5:14: error: \"priority\" takes no { } block"]
    );
    assert_eq!(
        errors(&inst("    track_script chk")),
        vec!["k.conf:5:5: error: \"track_script\" needs a block: usage \"track_script { NAME [weight N] ... }\""]
    );
    assert_eq!(
        errors(&inst("    track_interface eth1 {\n    }")),
        vec!["k.conf:5:21: error: \"track_interface\" takes no arguments before its block: usage \"track_interface { IFNAME [weight N] ... }\""]
    );
    assert_eq!(
        errors("vrrp_instance {\n}\n"),
        vec!["k.conf:1:1: error: \"vrrp_instance\" needs a name: usage \"vrrp_instance NAME { ... }\""]
    );
}

#[test]
fn a_directive_given_twice_is_an_error() {
    assert_eq!(
        errors(&inst("    interface eth1")),
        vec!["k.conf:5:5: error: duplicate \"interface\" in vrrp_instance VI_1 (first at line 2)"]
    );
}

#[test]
fn global_defs_comes_first_and_once() {
    assert_eq!(
        errors(&format!("{}global_defs {{\n}}\n", inst(""))),
        vec!["k.conf:7:1: error: global_defs must come before every vrrp_instance (the first is at line 1): keepalived applies its defaults in file order"]
    );
    assert_eq!(
        errors("global_defs {\n}\nglobal_defs {\n}\n"),
        vec![
            "k.conf:3:1: error: duplicate global_defs block (first at line 1): merge them into one"
        ]
    );
    assert_eq!(
        errors("global_defs {\n vrrp_version 4\n}\n"),
        vec!["k.conf:2:15: error: vrrp_version \"4\" is not a VRRP version: allowed 2 or 3"]
    );
    let g = ok("global_defs {\n router_id \"node 1\"\n script_user root root\n enable_script_security\n}\n").config.global;
    assert_eq!(g.router_id.as_deref(), Some("node 1"));
    assert_eq!(
        g.script_user,
        Some(ScriptUser {
            user: "root".into(),
            group: Some("root".into())
        })
    );
    assert!(g.enable_script_security);
    assert_eq!((g.rt_priority, g.no_swap), (None, false));
    let g = ok("global_defs {\n vrrp_rt_priority 10\n vrrp_no_swap\n}\n")
        .config
        .global;
    assert_eq!((g.rt_priority, g.no_swap), (Some(10), true));
    assert_eq!(
        errors("global_defs {\n vrrp_rt_priority 100\n}\n"),
        vec!["k.conf:2:19: error: vrrp_rt_priority 100 is out of range: allowed 1..99"]
    );
}

#[test]
fn vrrp_script_rules() {
    let script = |body: &str| {
        format!(
            "vrrp_script chk {{\n{body}\n}}\n{}",
            inst("    track_script {\n        chk\n    }")
        )
    };
    let s = ok(&script("    script \"/bin/true a\"\n    interval 3\n    timeout 1\n    weight -253\n    rise 3\n    fall 2\n    init_fail\n    user nobody"))
        .config
        .scripts[0]
        .clone();
    assert_eq!(s.argv(), vec!["/bin/true", "a"]);
    assert_eq!(
        (s.interval, s.timeout),
        (Duration::from_secs(3), Duration::from_secs(1))
    );
    assert_eq!(
        (s.weight.get(), s.rise, s.fall, s.init_fail),
        (-253, 3, 2, true)
    );
    assert_eq!(
        s.user,
        Some(ScriptUser {
            user: "nobody".into(),
            group: None
        })
    );
    // timeout defaults to interval
    let s = ok(&script("    script /bin/true\n    interval 7"))
        .config
        .scripts[0]
        .clone();
    assert_eq!(s.timeout, Duration::from_secs(7));

    assert_eq!(
        errors(&script("    interval 3")),
        vec!["k.conf:1:1: error: vrrp_script chk has no \"script\": add script \"/path/to/program ARG...\""]
    );
    assert_eq!(
        errors(&script("    script /bin/check arg")),
        vec!["k.conf:2:23: error: \"script\" takes one argument: quote the whole command line, usage script \"/path/to/program ARG...\""]
    );
    assert_eq!(
        errors(&script("    script \"/bin/check a\\ b\"")),
        vec!["k.conf:2:25: error: '\\' is not allowed: keepalived reads it as an escape character; write the value without it"]
    );
    assert_eq!(
        errors(&script("    script /bin/true\n    interval 0.5")),
        vec!["k.conf:3:14: error: interval \"0.5\" is not a whole number: allowed 1..4294 seconds"]
    );
    assert_eq!(
        errors(&script("    script /bin/true\n    rise 0")),
        vec!["k.conf:3:10: error: rise 0 is out of range: allowed 1..2147483647"]
    );
    assert_eq!(
        errors(&script("    script /bin/true\n    weight 2 reverse")),
        vec!["k.conf:3:14: error: unsupported \"reverse\" after weight in vrrp_script chk: only \"weight N\" is implemented"]
    );
}

#[test]
fn loopback_cannot_carry_vrrp() {
    assert_eq!(
        errors(&inst("").replace("interface eth0", "interface lo")),
        vec!["k.conf:2:15: error: interface lo is the loopback: VRRP needs a broadcast interface (keepalived refuses lo)"]
    );
}

#[test]
fn all_errors_are_collected_in_file_order() {
    let text = "vrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 300\n    priority 0\n    bogus\n    virtual_ipaddress { 10.1.2.3 }\n}\n";
    let e = errors(text);
    let lines: Vec<&str> = e
        .iter()
        .map(|d| d.split(": error").next().unwrap())
        .collect();
    assert_eq!(lines, vec!["k.conf:3:23", "k.conf:4:14", "k.conf:5:5"]);
}

#[test]
fn a_file_that_is_not_utf8_is_an_error_at_the_bad_byte() {
    let mut bytes = inst("    # comment ").into_bytes();
    let at = bytes.len() - 3;
    bytes.insert(at, 0xff);
    let all = parse("k.conf", &bytes).unwrap_err();
    let all: Vec<String> = all.iter().map(|d| d.to_string()).collect();
    assert_eq!(all, vec!["k.conf:5:15: error: the file is not valid UTF-8"]);
}

/// K-17: `rolling_from` (ours, not keepalived's) names the VRID, and the password if
/// there was one, that a rolling change moves from; it is written in full, must
/// differ from the instance's own identity, carries a password only in VRRPv2, and
/// its VRID belongs to no other router on the interface.
#[test]
fn k17_rolling_from_names_the_identity_a_rolling_change_moves_from() {
    let text = inst("    rolling_from {\n        virtual_router_id 4\n        authentication {\n            auth_type PASS\n            auth_pass old\n        }\n    }");
    let from = ok(&text).config.instances[0].rolling_from.clone();
    assert_eq!(
        from,
        Some(RollingFrom {
            vrid: Vrid::new(4).unwrap(),
            auth: Auth::pass("old"),
            unicast_peers: Vec::new(),
            interface: None,
        })
    );
    // No authentication block: the old identity had none (a password was added).
    let text = inst("    authentication {\n        auth_type PASS\n        auth_pass new\n    }\n    rolling_from {\n        virtual_router_id 5\n    }");
    let i = ok(&text).config.instances[0].clone();
    assert_eq!(
        i.rolling_from.as_ref().map(|r| (r.vrid.get(), r.auth)),
        Some((5, Auth::None))
    );
    assert_eq!(
        errors(&inst("    rolling_from {\n        virtual_router_id 5\n    }")),
        vec!["k.conf:5:5: error: rolling_from names the identity vrrp_instance VI_1 already has (the same virtual_router_id, authentication, transport and interface): remove it, or write the VRID, password, unicast peers or interface the cluster moves from"]
    );
    assert_eq!(
        errors(&inst("    rolling_from {\n        authentication {\n            auth_type PASS\n            auth_pass old\n        }\n    }")),
        vec!["k.conf:5:5: error: rolling_from of vrrp_instance VI_1 has no virtual_router_id: write the VRID the cluster moves from (1..255)"]
    );
    assert_eq!(
        errors(&inst("    version 3\n    rolling_from {\n        virtual_router_id 4\n        authentication {\n            auth_type PASS\n            auth_pass old\n        }\n    }")),
        vec!["k.conf:6:5: error: rolling_from has authentication, which VRRPv3 cannot carry (vrrp_instance VI_1 is VRRPv3): keep version 2 until every router has the new password"]
    );
    let two = format!(
        "{}vrrp_instance VI_2 {{\n    interface eth0\n    virtual_router_id 4\n    virtual_ipaddress {{ 10.1.2.4 }}\n}}\n",
        inst("    rolling_from {\n        virtual_router_id 4\n    }")
    );
    assert_eq!(
        errors(&two),
        vec!["k.conf:9:1: error: vrrp_instance VI_2 uses VRID 4 for IPv4 on eth0, like vrrp_instance VI_1 (line 5): give each router its own virtual_router_id"]
    );
    // From unicast to multicast: the old peers, of the instance's family.
    let uni = inst("    rolling_from {\n        virtual_router_id 5\n        unicast_peer {\n            10.1.2.7\n        }\n    }");
    let from = ok(&uni).config.instances[0].rolling_from.clone().unwrap();
    assert_eq!(from.unicast_peers, vec![ip("10.1.2.7")]);
    let rendered = ok(&uni).config.to_keepalived_conf();
    assert_eq!(ok(&rendered).config.instances[0].rolling_from, Some(from));
    assert_eq!(
        errors(&inst("    rolling_from {\n        virtual_router_id 5\n        unicast_peer {\n            fd00::7\n        }\n    }")),
        vec!["k.conf:5:5: error: rolling_from has unicast_peer fd00::7, which is IPv6 but vrrp_instance VI_1 is IPv4"]
    );
    // What the renderer writes, the parser reads back.
    let rendered = ok(&text).config.to_keepalived_conf();
    assert_eq!(
        ok(&rendered).config.instances[0].rolling_from,
        i.rolling_from
    );
}

/// K-17 for a rolling `interface` change: `rolling_from { interface NAME }` with the
/// instance's own VRID is the same router on the interface the cluster leaves; the
/// VRID is then taken on that interface too, and naming the instance's own interface
/// changes nothing (an error, like any identity it already has).
#[test]
fn k17_rolling_from_an_interface_names_the_one_the_cluster_leaves() {
    let text =
        inst("    rolling_from {\n        virtual_router_id 5\n        interface eth1\n    }");
    let from = ok(&text).config.instances[0].rolling_from.clone();
    assert_eq!(
        from,
        Some(RollingFrom {
            vrid: Vrid::new(5).unwrap(),
            auth: Auth::None,
            unicast_peers: Vec::new(),
            interface: Some("eth1".to_string()),
        })
    );
    let rendered = ok(&text).config.to_keepalived_conf();
    assert!(rendered.contains("        interface eth1\n"), "{rendered}");
    assert_eq!(ok(&rendered).config.instances[0].rolling_from, from);
    assert_eq!(
        errors(&inst("    rolling_from {\n        virtual_router_id 5\n        interface eth0\n    }")),
        vec!["k.conf:5:5: error: rolling_from names the identity vrrp_instance VI_1 already has (the same virtual_router_id, authentication, transport and interface): remove it, or write the VRID, password, unicast peers or interface the cluster moves from"]
    );
    let taken = format!(
        "{}vrrp_instance VI_2 {{\n    interface eth1\n    virtual_router_id 5\n    virtual_ipaddress {{ 10.1.2.4 }}\n}}\n",
        text
    );
    assert_eq!(
        errors(&taken),
        vec!["k.conf:10:1: error: vrrp_instance VI_2 uses VRID 5 for IPv4 on eth1, like vrrp_instance VI_1 (line 5): give each router its own virtual_router_id"]
    );
    // With a VRID change too, the router listens to both VRIDs on both
    // interfaces: each is taken on each.
    let both =
        inst("    rolling_from {\n        virtual_router_id 4\n        interface eth1\n    }");
    for (iface, vrid) in [("eth0", 4), ("eth1", 4), ("eth1", 5)] {
        let other = format!(
            "{both}vrrp_instance VI_2 {{\n    interface {iface}\n    virtual_router_id {vrid}\n    virtual_ipaddress {{ 10.1.2.4 }}\n}}\n"
        );
        assert_eq!(
            errors(&other),
            vec![format!("k.conf:10:1: error: vrrp_instance VI_2 uses VRID {vrid} for IPv4 on {iface}, like vrrp_instance VI_1 (line 5): give each router its own virtual_router_id")],
            "{iface} {vrid}"
        );
    }
}
