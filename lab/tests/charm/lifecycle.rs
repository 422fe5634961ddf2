//! End to end through the hook-tool emulator: the unit's whole life (docs/juju-contract.md O-10)
//! with the EXACT `systemctl`/`sysctl` calls of every hook and the files left on the
//! machine (none after `remove`), and the kernel settings following the VIPs.

use std::path::Path;

use crate::e2e::*;
use juju_emulator::Model;

const UNIT0: &str = "keepalived/0";

/// What a config-changed that only needs a reload sends.
const PROBE_THEN_RELOAD: [(&str, &str); 2] = [
    (
        "config-changed",
        "systemctl is-active --quiet keepalived-charm.service",
    ),
    (
        "config-changed",
        "systemctl reload keepalived-charm.service",
    ),
];

/// Directories under the root, relative (files are checked with [`files`]).
fn dirs(root: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                out.push(path.strip_prefix(root).unwrap().display().to_string());
                walk(root, &path, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

const CHARM_FILES: [&str; 5] = [
    "etc/keepalived-charm/keepalived.conf",
    "etc/keepalived-charm/metrics-address",
    "etc/sysctl.d/50-keepalived.conf",
    "etc/systemd/system/keepalived-charm.service",
    "usr/local/lib/keepalived-charm/keepalived-charm",
];

#[test]
fn a_units_life_sends_exactly_these_service_calls_and_leaves_nothing_behind() {
    // `juju deploy keepalived --config virtual_ip=...`: install -> ... -> start.
    let mut m = deployed(1, Net::Golden, &[("virtual_ip", VIP)]);
    assert_eq!(hooks(&m.history, UNIT0), LEADER_SETUP);
    assert_eq!(m.unit(UNIT0).status(), active("VIP 10.10.74.250 ready"));
    config(&mut m, &[("port", "6443")]);
    config(&mut m, &[("virtual_ip", "10.10.74.251")]);
    all_ok(&m.upgrade_charm().unwrap());
    let on_disk: Vec<String> = files(&m, UNIT0).into_keys().collect();
    assert_eq!(on_disk, CHARM_FILES);
    assert_eq!(
        m.unit(UNIT0).machine.active,
        [UNIT.to_string()].into_iter().collect()
    );
    assert_eq!(
        m.unit(UNIT0).machine.sysctl["net.ipv4.ip_nonlocal_bind"],
        "1"
    );

    all_ok(&m.remove_unit(UNIT0).unwrap());
    assert_eq!(
        calls_by_hook(&m, UNIT0),
        pairs(&[
            ("install", "systemctl daemon-reload"),
            ("install", "systemctl enable keepalived-charm.service"),
            ("install", "sysctl -n net.ipv4.ip_nonlocal_bind"),
            (
                "install",
                "sysctl -p {root}/etc/sysctl.d/50-keepalived.conf"
            ),
            // The engine runs from `start` on, never before.
            (
                "start",
                "systemctl is-active --quiet keepalived-charm.service"
            ),
            ("start", "systemctl start keepalived-charm.service"),
            (
                "juju-info-relation-joined",
                "systemctl is-active --quiet keepalived-charm.service"
            ),
            (
                "juju-info-relation-changed",
                "systemctl is-active --quiet keepalived-charm.service"
            ),
            // port: the health check changed, a hitless reload; virtual_ip: a reload.
            PROBE_THEN_RELOAD[0],
            PROBE_THEN_RELOAD[1],
            PROBE_THEN_RELOAD[0],
            PROBE_THEN_RELOAD[1],
            // Same binary, same unit: no restart.
            ("upgrade-charm", "systemctl enable keepalived-charm.service"),
            (
                "upgrade-charm",
                "systemctl is-active --quiet keepalived-charm.service"
            ),
            (
                "config-changed",
                "systemctl is-active --quiet keepalived-charm.service"
            ),
            (
                "start",
                "systemctl is-active --quiet keepalived-charm.service"
            ),
            (
                "juju-info-relation-departed",
                "systemctl is-active --quiet keepalived-charm.service"
            ),
            (
                "juju-info-relation-broken",
                "systemctl is-active --quiet keepalived-charm.service"
            ),
            // SIGTERM: the engine releases the VIP with a priority-0 advert.
            ("stop", "systemctl stop keepalived-charm.service"),
            ("stop", "systemctl disable keepalived-charm.service"),
            ("remove", "sysctl -w net.ipv4.ip_nonlocal_bind=0"),
            ("remove", "systemctl daemon-reload"),
        ])
    );
    assert_eq!(
        hooks(&m.history, UNIT0)[8..],
        [
            "config-changed",
            "config-changed",
            "upgrade-charm",
            "config-changed",
            "start",
            "juju-info-relation-departed",
            "juju-info-relation-broken",
            "stop",
            "remove"
        ]
    );

    // Nothing the charm created is left: no file at all, and of the directories only
    // the machine's own (which exist on every Ubuntu machine anyway).
    let unit = m.unit(UNIT0);
    assert!(files(&m, UNIT0).is_empty(), "{:?}", files(&m, UNIT0).keys());
    assert_eq!(
        dirs(&unit.root),
        [
            "etc",
            "etc/sysctl.d",
            "etc/systemd",
            "etc/systemd/system",
            "usr",
            "usr/local",
            "usr/local/lib"
        ]
    );
    assert!(unit.machine.active.is_empty() && unit.machine.enabled.is_empty());
    assert!(unit.machine.loaded.is_empty(), "systemd forgot the unit");
    // The kernel settings are back to what they were before the charm came.
    assert_eq!(
        unit.machine.sysctl,
        SYSCTL_BASELINE
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    );
}

#[test]
fn the_sysctl_settings_follow_the_vip_families_and_are_undone() {
    let mut m = deployed(1, Net::Golden, &[("virtual_ip", VIP)]);
    let sysctl_file = |m: &Model| {
        std::fs::read_to_string(m.unit(UNIT0).root.join("etc/sysctl.d/50-keepalived.conf")).ok()
    };
    let values = |m: &Model| {
        let s = &m.unit(UNIT0).machine.sysctl;
        (
            s["net.ipv4.ip_nonlocal_bind"].clone(),
            s["net.ipv6.ip_nonlocal_bind"].clone(),
        )
    };
    const HEADER: &str = "# Managed by the keepalived charm; restored on removal.\n";
    // IPv4 only: the original's setting, IPv6 left as it was.
    let assert_ipv4_only = |m: &Model| {
        assert_eq!(
            sysctl_file(m).unwrap(),
            format!("{HEADER}net.ipv4.ip_nonlocal_bind=1\n")
        );
        assert_eq!(values(m), ("1".into(), "0".into()));
    };
    assert_ipv4_only(&m);

    let runs = config(&mut m, &[("virtual_ip", "10.10.74.250 fd00::5")]);
    assert_eq!(
        sysctl_file(&m).unwrap(),
        format!("{HEADER}net.ipv4.ip_nonlocal_bind=1\nnet.ipv6.ip_nonlocal_bind=1\n")
    );
    assert_eq!(values(&m), ("1".into(), "1".into()));
    let root = m.unit(UNIT0).root.display().to_string();
    let sysctl_calls: Vec<String> = machine_calls(&runs, UNIT0)
        .into_iter()
        .filter(|c| c.starts_with("sysctl"))
        .map(|c| c.replace(&root, "{root}"))
        .collect();
    assert_eq!(
        sysctl_calls,
        [
            "sysctl -n net.ipv6.ip_nonlocal_bind",
            "sysctl -p {root}/etc/sysctl.d/50-keepalived.conf"
        ]
    );

    // IPv6 gone: its key goes back to what it was; IPv4's stays.
    config(&mut m, &[("virtual_ip", VIP)]);
    assert_ipv4_only(&m);

    // No VIP at all: no file, every key restored.
    config(&mut m, &[("virtual_ip", "")]);
    assert_eq!(sysctl_file(&m), None);
    assert_eq!(values(&m), ("0".into(), "0".into()));
}

/// The hook tools' command lines of one run, as the real binary sent them.
fn tool_lines(m: &Model, run: &juju_emulator::HookRun) -> Vec<String> {
    let root = m.unit(UNIT0).root.display().to_string();
    run.tool_calls
        .iter()
        .map(|c| format!("{} {}", c.name, c.args.join(" ")).replace(&root, "{root}"))
        .collect()
}

/// The exact command lines of the hook tools and of `systemctl`/`sysctl`, as the real
/// binary sends them (the in-process fake sees calls, not argv).
#[test]
fn install_and_config_changed_send_exactly_these_command_lines() {
    let mut m = deployed_and_related(1, Net::Golden, &[]);
    let install = m
        .history
        .iter()
        .find(|r| r.unit == UNIT0 && r.hook.name == "install")
        .unwrap();
    assert_eq!(
        tool_lines(&m, install),
        [
            "config-get --format=json",
            "state-get --format=json",
            "status-set blocked Please configure virtual ips",
            "is-leader --format=json",
            "status-set --application blocked Please configure virtual ips",
            "state-set --file -",
            "juju-log -l INFO -- installed the engine binary at {root}/usr/local/lib/keepalived-charm/keepalived-charm; claimed VRRP priority 254",
        ]
    );
    assert_eq!(
        machine_calls(std::slice::from_ref(install), UNIT0),
        [
            "systemctl daemon-reload",
            "systemctl enable keepalived-charm.service"
        ]
    );
    let runs = config(&mut m, &[("virtual_ip", VIP)]);
    assert_eq!(hooks(&runs, UNIT0), ["config-changed"]);
    let mut lines = tool_lines(&m, &runs[0]);
    // The leader's application status depends on whether the engine it just started
    // has written its first report yet: maintenance either way.
    let app = lines.remove(13);
    assert!(
        app.starts_with("status-set --application maintenance "),
        "{app}"
    );
    assert_eq!(
        lines,
        [
            "config-get --format=json",
            "state-get --format=json",
            "relation-ids --format=json website",
            "relation-ids --format=json loadbalancer",
            "relation-ids --format=json cluster",
            "relation-list --format=json -r cluster:0",
            "goal-state --format=json",
            "relation-set -r cluster:0 --file -",
            "relation-set -r website:2 --file -",
            "relation-set -r loadbalancer:3 --file -",
            "relation-ids --format=json cos-agent",
            "status-set active VIP 10.10.74.250 ready",
            "is-leader --format=json",
            "state-set --file -",
            "juju-log -l INFO -- rendered a new engine config; timing VRRPv3 0.07 s, down after 5 missed adverts: every unit runs this charm's engine; metrics endpoint: 127.0.0.1:9165; applied {root}/etc/sysctl.d/50-keepalived.conf; started the engine",
        ]
    );
    // What `relation-set --file -` carried on stdin, as Juju stored it.
    assert_eq!(
        unit_bag(&m, "website", UNIT0),
        bag_with(
            "192.0.2.10",
            &[("hostname", VIP), ("private-address", VIP), ("port", "443")]
        )
    );
    let root = m.unit(UNIT0).root.display().to_string();
    let machine: Vec<String> = machine_calls(&runs, UNIT0)
        .into_iter()
        .map(|c| c.replace(&root, "{root}"))
        .collect();
    assert_eq!(
        machine,
        [
            "sysctl -n net.ipv4.ip_nonlocal_bind",
            "sysctl -p {root}/etc/sysctl.d/50-keepalived.conf",
            "systemctl is-active --quiet keepalived-charm.service",
            "systemctl start keepalived-charm.service",
        ]
    );
}
