//! End to end through the hook-tool emulator: the unit's whole life (ISSUE5 item 1)
//! with the EXACT `systemctl`/`sysctl` calls of every hook and the files left on the
//! machine (none after `remove`), an upgrade that changes the engine binary (the only
//! restart), and the refresh of a unit that runs the original charm's distro
//! keepalived (ISSUE5 item 2).

#[path = "emulator/mod.rs"]
mod emulator;

#[path = "e2e/mod.rs"]
mod e2e;

use std::path::Path;

use e2e::*;
use emulator::Model;

const UNIT0: &str = "keepalived/0";
const DISTRO: &str = "keepalived.service";

/// Every machine call of the unit so far as `(hook, call)`, the root shown as `{root}`.
fn calls_by_hook(m: &Model, unit: &str) -> Vec<(String, String)> {
    let root = m.unit(unit).root.display().to_string();
    m.unit(unit)
        .machine
        .calls
        .iter()
        .map(|c| (c.hook.clone(), c.argv.join(" ").replace(&root, "{root}")))
        .collect()
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(h, c)| (h.to_string(), c.to_string()))
        .collect()
}

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

const CHARM_FILES: [&str; 4] = [
    "etc/keepalived-charm/keepalived.conf",
    "etc/sysctl.d/50-keepalived.conf",
    "etc/systemd/system/keepalived-charm.service",
    "usr/local/lib/keepalived-charm/keepalived-charm",
];

#[test]
fn a_units_life_sends_exactly_these_service_calls_and_leaves_nothing_behind() {
    // `juju deploy keepalived --config virtual_ip=...`: install -> ... -> start.
    let mut m = deployed(1, Net::Golden, &[("virtual_ip", VIP)]);
    assert_eq!(
        hooks(&m.history, UNIT0),
        [
            "install",
            "cluster-relation-created",
            "juju-info-relation-created",
            "leader-elected",
            "config-changed",
            "start",
            "juju-info-relation-joined",
            "juju-info-relation-changed"
        ]
    );
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
            // port: the health check changed, a hitless reload.
            (
                "config-changed",
                "systemctl is-active --quiet keepalived-charm.service"
            ),
            (
                "config-changed",
                "systemctl reload keepalived-charm.service"
            ),
            // virtual_ip: a reload.
            (
                "config-changed",
                "systemctl is-active --quiet keepalived-charm.service"
            ),
            (
                "config-changed",
                "systemctl reload keepalived-charm.service"
            ),
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
fn an_upgrade_that_changes_the_engine_binary_restarts_the_engine_once() {
    let mut m = deployed(1, Net::Golden, &[("virtual_ip", VIP)]);
    // The new charm's binary: different bytes (an appended byte still runs).
    let new_binary = m.dir.path().join("new-keepalived-charm");
    let mut bytes = std::fs::read(charm_binary()).unwrap();
    bytes.push(0);
    std::fs::write(&new_binary, &bytes).unwrap();
    std::fs::set_permissions(
        &new_binary,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    m.set_charm_binary(&new_binary);
    let before = m.unit(UNIT0).machine.calls.len();

    let runs = m.upgrade_charm().unwrap();
    all_ok(&runs);
    assert_eq!(
        calls_by_hook(&m, UNIT0)[before..],
        pairs(&[
            ("upgrade-charm", "systemctl enable keepalived-charm.service"),
            (
                "upgrade-charm",
                "systemctl is-active --quiet keepalived-charm.service"
            ),
            (
                "upgrade-charm",
                "systemctl restart keepalived-charm.service"
            ),
            (
                "config-changed",
                "systemctl is-active --quiet keepalived-charm.service"
            ),
            (
                "start",
                "systemctl is-active --quiet keepalived-charm.service"
            ),
        ])
    );
    let installed = m
        .unit(UNIT0)
        .root
        .join("usr/local/lib/keepalived-charm/keepalived-charm");
    assert!(std::fs::read(installed).unwrap() == bytes);
    // Refreshing again to the same charm restarts nothing.
    let runs = m.upgrade_charm().unwrap();
    all_ok(&runs);
    assert_eq!(count_verb(&runs, UNIT0, "restart"), 0);
}

/// The original charm's keepalived.conf (original-charm §1.6), as it rendered it for
/// `virtual_ip=10.10.74.250` on the leader.
const ORIGINAL_CONF: &str = r#"vrrp_script chk_svc_port {
    script "/bin/bash -c '</dev/tcp/127.0.0.1/443'"  # returns 1 if connection is refused
    interval 2  # check every 2 seconds
    weight 2  # make sure master priority drops below backup priority on failure
}

vrrp_instance VI_1 {
    interface eth0
    state MASTER
    priority 101
    virtual_router_id 23
    virtual_ipaddress {
        10.10.74.250
    }
    track_script {
        chk_svc_port
    }
}
"#;

/// Debian's keepalived.service, as the apt package installs it on Ubuntu 22.04.
const DISTRO_UNIT_FILE: &str = "[Unit]
Description=Keepalive Daemon (LVS and VRRP)
After=network-online.target
Wants=network-online.target
ConditionFileNotEmpty=/etc/keepalived/keepalived.conf

[Service]
Type=notify
EnvironmentFile=-/etc/default/keepalived
ExecStart=/usr/sbin/keepalived --dont-fork $DAEMON_ARGS
ExecReload=/bin/kill -HUP $MAINPID

[Install]
WantedBy=multi-user.target
";

const ORIGINAL_SYSCTL: &str = "net.ipv4.ip_nonlocal_bind=1\n";

/// A machine as the original charm left it: the apt keepalived running its config,
/// nonlocal bind on.
fn original_charm_machine(m: &mut Model, unit: &str) -> Result<(), emulator::EmuError> {
    prepare_machine(m, unit, Net::Golden)?;
    let root = m.unit(unit).root.clone();
    for (path, text) in [
        ("etc/keepalived/keepalived.conf", ORIGINAL_CONF),
        ("lib/systemd/system/keepalived.service", DISTRO_UNIT_FILE),
        ("etc/sysctl.d/50-keepalived.conf", ORIGINAL_SYSCTL),
    ] {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let machine = &mut m.unit_mut(unit).machine;
    machine.active.insert(DISTRO.into());
    machine.enabled.insert(DISTRO.into());
    machine
        .sysctl
        .insert("net.ipv4.ip_nonlocal_bind".into(), "1".into());
    Ok(())
}

#[test]
fn refreshing_from_the_original_charm_stops_the_distro_keepalived_and_takes_over() {
    let mut m = Model::new();
    m.set_config_value("virtual_ip", VIP).unwrap();
    // The original charm: its hooks did their work long ago; here they succeed and
    // leave the machine as it is.
    m.use_script_charm("exit 0");
    all_ok(&m.deploy_with(1, original_charm_machine).unwrap());
    let (website, runs) = m
        .integrate("website", "kubernetes-worker", &["kubernetes-worker/0"])
        .unwrap();
    all_ok(&runs);
    // What the original published (original-charm §1.11).
    m.relation_mut(website)
        .local_units_data
        .get_mut(UNIT0)
        .unwrap()
        .extend(
            [("hostname", VIP), ("private-address", VIP), ("port", "443")]
                .map(|(k, v)| (k.to_string(), v.to_string())),
        );
    let calls_before = m.unit(UNIT0).machine.calls.len();

    // `juju refresh keepalived`: the new charm's first hooks on this machine.
    m.set_charm_binary(charm_binary());
    let runs = m.upgrade_charm().unwrap();
    all_ok(&runs);
    assert_eq!(
        hooks(&runs, UNIT0),
        ["upgrade-charm", "config-changed", "start"]
    );
    assert_eq!(
        calls_by_hook(&m, UNIT0)[calls_before..],
        pairs(&[
            ("upgrade-charm", "systemctl daemon-reload"),
            ("upgrade-charm", "systemctl enable keepalived-charm.service"),
            (
                "upgrade-charm",
                "sysctl -p {root}/etc/sysctl.d/50-keepalived.conf"
            ),
            (
                "upgrade-charm",
                "systemctl is-active --quiet keepalived-charm.service"
            ),
            // Right before the charm's engine starts. Graceful: stop (SIGTERM,
            // keepalived releases with priority 0), never kill.
            (
                "upgrade-charm",
                "systemctl is-active --quiet keepalived.service"
            ),
            ("upgrade-charm", "systemctl stop keepalived.service"),
            ("upgrade-charm", "systemctl disable keepalived.service"),
            ("upgrade-charm", "systemctl start keepalived-charm.service"),
            (
                "config-changed",
                "systemctl is-active --quiet keepalived-charm.service"
            ),
            (
                "start",
                "systemctl is-active --quiet keepalived-charm.service"
            ),
        ])
    );
    let machine = &m.unit(UNIT0).machine;
    assert!(!machine.active.contains(DISTRO) && !machine.enabled.contains(DISTRO));
    assert!(machine.active.contains(UNIT) && machine.enabled.contains(UNIT));
    // The same wire profile the remaining keepalived units speak: VRRPv2 (no
    // `version`), VRID = router_id, advert 1 s, multicast (no unicast keywords).
    let conf = engine_config(&m, UNIT0);
    assert_eq!(conf, golden(&m, UNIT0, "default-ipv4.conf"));
    assert!(conf.contains(
        "    virtual_router_id 23\n    priority 254\n    advert_int 1\n    virtual_ipaddress {\n"
    ));
    assert!(!conf.contains("version") && !conf.contains("unicast"));
    assert_eq!(m.unit(UNIT0).status(), active("VIP 10.10.74.250 ready"));
    // The contract is published again, unchanged.
    assert_eq!(
        unit_bag(&m, "website", UNIT0),
        bag_with(
            "192.0.2.10",
            &[("hostname", VIP), ("private-address", VIP), ("port", "443")]
        )
    );
    // The package stays installed but inert: its config and unit are left alone.
    let root = m.unit(UNIT0).root.clone();
    let read = |p: &str| std::fs::read_to_string(root.join(p)).unwrap();
    assert_eq!(read("etc/keepalived/keepalived.conf"), ORIGINAL_CONF);
    assert_eq!(
        read("lib/systemd/system/keepalived.service"),
        DISTRO_UNIT_FILE
    );

    // Removal restores the kernel default the original charm had changed.
    all_ok(&m.remove_unit(UNIT0).unwrap());
    let machine = &m.unit(UNIT0).machine;
    assert_eq!(machine.sysctl["net.ipv4.ip_nonlocal_bind"], "0");
    let left: Vec<String> = files(&m, UNIT0).into_keys().collect();
    assert_eq!(
        left,
        [
            "etc/keepalived/keepalived.conf",
            "lib/systemd/system/keepalived.service"
        ]
    );
    assert!(machine.active.is_empty());
}

#[test]
fn a_refresh_onto_a_refused_config_keeps_the_distro_keepalived_until_the_config_is_fixed() {
    // The original charm ran keepalived with port=0 (its health check never passed,
    // but keepalived held the VIP); this charm refuses port 0.
    let mut m = Model::new();
    m.set_config_value("virtual_ip", VIP).unwrap();
    m.set_config_value("port", "0").unwrap();
    m.use_script_charm("exit 0");
    all_ok(&m.deploy_with(1, original_charm_machine).unwrap());
    m.set_charm_binary(charm_binary());
    all_ok(&m.upgrade_charm().unwrap());
    assert_eq!(
        m.unit(UNIT0).status(),
        blocked("invalid port 0: allowed 1..65535")
    );
    // Nothing would hold the VIP on this machine if the distro keepalived went: it
    // keeps running, and the charm's engine does not start.
    let machine = &m.unit(UNIT0).machine;
    assert!(machine.active.contains(DISTRO) && machine.enabled.contains(DISTRO));
    assert!(!machine.active.contains(UNIT));
    assert!(!engine_config_path(&m, UNIT0).exists());

    // Fixed: now the charm takes over, in the hook that starts its engine.
    let before = m.unit(UNIT0).machine.calls.len();
    config(&mut m, &[("port", "443")]);
    assert_eq!(
        calls_by_hook(&m, UNIT0)[before..],
        pairs(&[
            (
                "config-changed",
                "sysctl -p {root}/etc/sysctl.d/50-keepalived.conf"
            ),
            (
                "config-changed",
                "systemctl is-active --quiet keepalived-charm.service"
            ),
            (
                "config-changed",
                "systemctl is-active --quiet keepalived.service"
            ),
            ("config-changed", "systemctl stop keepalived.service"),
            ("config-changed", "systemctl disable keepalived.service"),
            ("config-changed", "systemctl start keepalived-charm.service"),
        ])
    );
    let machine = &m.unit(UNIT0).machine;
    assert!(!machine.active.contains(DISTRO) && !machine.enabled.contains(DISTRO));
    assert!(machine.active.contains(UNIT));
    assert_eq!(m.unit(UNIT0).status(), active("VIP 10.10.74.250 ready"));
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
    assert_eq!(
        sysctl_file(&m).unwrap(),
        format!("{HEADER}net.ipv4.ip_nonlocal_bind=1\n")
    );
    assert_eq!(values(&m), ("1".into(), "0".into()));

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
    assert_eq!(
        sysctl_file(&m).unwrap(),
        format!("{HEADER}net.ipv4.ip_nonlocal_bind=1\n")
    );
    assert_eq!(values(&m), ("1".into(), "0".into()));

    // No VIP at all: no file, every key restored.
    config(&mut m, &[("virtual_ip", "")]);
    assert_eq!(sysctl_file(&m), None);
    assert_eq!(values(&m), ("0".into(), "0".into()));
}
