//! End to end through the hook-tool emulator: every invalid value blocks the unit with
//! a message naming the option, the bad value and what is allowed (ISSUE2 item 6); the
//! last good engine config stays byte for byte and keeps running (no reload, no
//! restart, no stop); fixing the value makes the unit active again.

use crate::e2e::*;
use juju_emulator::Model;

const UNIT0: &str = "keepalived/0";
const IS_ACTIVE: &str = "systemctl is-active --quiet keepalived-charm.service";
const READY: &str = "VIP 10.10.74.250 ready";

fn configured(net: Net) -> Model {
    let m = deployed_and_related(1, net, &[("virtual_ip", VIP)]);
    assert_eq!(m.unit(UNIT0).status(), active(READY));
    m
}

/// `settings` are refused with `message`: the hook succeeds, the unit is blocked, no
/// file under the machine root changes, the engine is only asked whether it runs, and
/// the relation data stays as it was.
fn assert_refused(m: &mut Model, settings: &[(&str, &str)], message: &str) {
    let before = files(m, UNIT0);
    let website = unit_bag(m, "website", UNIT0);
    let runs = config(m, settings);
    assert_eq!(hooks(&runs, UNIT0), ["config-changed"], "{settings:?}");
    assert_eq!(m.unit(UNIT0).status(), blocked(message), "{settings:?}");
    assert_untouched(&before, m, UNIT0, &format!("{settings:?}"));
    assert_eq!(machine_calls(&runs, UNIT0), [IS_ACTIVE], "{settings:?}");
    assert!(m.unit(UNIT0).machine.active.contains(UNIT));
    assert_eq!(unit_bag(m, "website", UNIT0), website, "{settings:?}");
    // Said once in the log when the config arrives.
    let log = m.unit(UNIT0).juju_log.last().expect("a log line");
    assert_eq!(log.level, "WARNING");
    assert_eq!(
        log.message,
        format!("configuration refused, the engine config is left as it was: {message}")
    );
}

/// `settings` fix the config back to the last good one: active again, and since the
/// engine config comes out identical, nothing is written or reloaded.
fn assert_recovers_unchanged(m: &mut Model, settings: &[(&str, &str)]) {
    let before = files(m, UNIT0);
    let runs = config(m, settings);
    assert_eq!(m.unit(UNIT0).status(), active(READY), "{settings:?}");
    assert_untouched(&before, m, UNIT0, &format!("fix {settings:?}"));
    assert_eq!(machine_calls(&runs, UNIT0), [IS_ACTIVE], "{settings:?}");
    assert_eq!(
        engine_config(m, UNIT0),
        golden(m, UNIT0, "default-ipv4.conf")
    );
}

#[test]
fn a_virtual_ip_that_is_not_an_ip_or_ip_prefix_is_refused() {
    let mut m = configured(Net::Plain);
    assert_refused(
        &mut m,
        &[("virtual_ip", "10.10.74.256")],
        "invalid virtual_ip \"10.10.74.256\": expected an IPv4 or IPv6 address with an optional /prefix, e.g. 10.1.2.3/24 or fd00::5/64",
    );
    assert_recovers_unchanged(&mut m, &[("virtual_ip", VIP)]);
    assert_refused(
        &mut m,
        &[("virtual_ip", "10.10.74.250/33")],
        "invalid virtual_ip \"10.10.74.250/33\": prefix /33 is out of range, allowed /1../32 for IPv4",
    );
    assert_recovers_unchanged(&mut m, &[("virtual_ip", VIP)]);
    assert_refused(
        &mut m,
        &[("virtual_ip", "api.example.com")],
        "invalid virtual_ip \"api.example.com\": expected an IPv4 or IPv6 address with an optional /prefix, e.g. 10.1.2.3/24 or fd00::5/64",
    );
    assert_recovers_unchanged(&mut m, &[("virtual_ip", VIP)]);
}

#[test]
fn router_id_outside_1_to_255_is_refused() {
    let mut m = configured(Net::Plain);
    for bad in ["0", "256"] {
        assert_refused(
            &mut m,
            &[("router_id", bad)],
            &format!("invalid router_id {bad}: allowed 1..255 (unique per network segment)"),
        );
        assert_recovers_unchanged(&mut m, &[("router_id", "23")]);
    }
}

#[test]
fn port_outside_1_to_65535_is_refused() {
    let mut m = configured(Net::Plain);
    for bad in ["0", "65536"] {
        assert_refused(
            &mut m,
            &[("port", bad)],
            &format!("invalid port {bad}: allowed 1..65535"),
        );
        assert_recovers_unchanged(&mut m, &[("port", "443")]);
    }
}

#[test]
fn healthcheck_interval_below_1_is_refused() {
    let mut m = configured(Net::Plain);
    assert_refused(
        &mut m,
        &[("healthcheck_interval", "0")],
        "invalid healthcheck_interval 0: allowed 1..4294 seconds",
    );
    assert_recovers_unchanged(&mut m, &[("healthcheck_interval", "2")]);
}

#[test]
fn several_invalid_values_are_reported_together() {
    let mut m = configured(Net::Plain);
    assert_refused(
        &mut m,
        &[("router_id", "0"), ("port", "0")],
        "invalid router_id 0: allowed 1..255 (unique per network segment); invalid port 0: allowed 1..65535",
    );
    assert_recovers_unchanged(&mut m, &[("router_id", "23"), ("port", "443")]);
}

#[test]
fn a_network_interface_that_does_not_exist_is_refused() {
    let mut m = configured(Net::Plain);
    assert_refused(
        &mut m,
        &[("network_interface", "eth9")],
        "invalid network_interface \"eth9\": no such interface on this machine (interfaces: lo, eth0)",
    );
    assert_recovers_unchanged(&mut m, &[("network_interface", "eth0")]);
}

#[test]
fn a_vip_no_interface_can_carry_is_refused_until_network_interface_is_set() {
    // eth0 holds 10.77.0.10/24 and there is no default route.
    let mut m = deployed_and_related(1, Net::Isolated, &[("virtual_ip", "10.77.0.250")]);
    assert_eq!(m.unit(UNIT0).status(), active("VIP 10.77.0.250 ready"));
    let good = engine_config(&m, UNIT0);
    assert!(good.contains("    interface eth0\n"), "{good}");
    assert_refused(
        &mut m,
        &[("virtual_ip", VIP)],
        "no interface for virtual_ip 10.10.74.250: no interface has an IPv4 address in its subnet and there is no IPv4 default route; set network_interface",
    );
    // Never rendered with a bogus interface: the file is the last good one.
    assert_eq!(engine_config(&m, UNIT0), good);

    // Following the advice fixes it: one reload onto the new VIP.
    let runs = config(&mut m, &[("network_interface", "eth0")]);
    assert_eq!(m.unit(UNIT0).status(), active(READY));
    assert_eq!(
        machine_calls(&runs, UNIT0),
        [IS_ACTIVE, "systemctl reload keepalived-charm.service"]
    );
    assert_eq!(
        engine_config(&m, UNIT0),
        good.replace("10.77.0.250/32", "10.10.74.250/32")
    );
}

#[test]
fn a_unit_blocked_from_the_start_renders_nothing_and_starts_nothing() {
    let m = deployed_and_related(1, Net::Plain, &[("virtual_ip", VIP), ("port", "0")]);
    assert_eq!(
        m.unit(UNIT0).status(),
        blocked("invalid port 0: allowed 1..65535")
    );
    assert!(!engine_config_path(&m, UNIT0).exists());
    assert!(m.unit(UNIT0).machine.active.is_empty());
    assert_eq!(
        engine_actions(&m.history, UNIT0),
        [
            "systemctl daemon-reload",
            "systemctl enable keepalived-charm.service"
        ]
    );
}
