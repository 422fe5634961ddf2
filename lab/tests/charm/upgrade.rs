//! End to end through the hook-tool emulator: `juju refresh`. An upgrade that changes
//! the engine binary restarts the engine once (the only restart), one that does not
//! restarts nothing; a unit that runs the original charm's distro keepalived hands the
//! VIP over to the charm's engine on the same wire profile (docs/juju-contract.md O-11), but only
//! once the charm's engine can start.

use crate::e2e::*;
use juju_emulator::Model;

const UNIT0: &str = "keepalived/0";
const DISTRO: &str = "keepalived.service";

#[test]
fn an_upgrade_that_changes_the_engine_binary_restarts_the_engine_once() {
    let mut m = deployed(1, Net::Golden, &[("virtual_ip", VIP)]);
    let new_binary = next_revision(&m);
    let bytes = std::fs::read(&new_binary).unwrap();
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

/// The original charm's keepalived.conf (docs/juju-contract.md O-5), as it rendered it for
/// `virtual_ip=10.10.74.250` on the leader.
fn original_conf() -> String {
    let script = r#"vrrp_script chk_svc_port {
    script "/bin/bash -c '</dev/tcp/127.0.0.1/443'"  # returns 1 if connection is refused
    interval 2  # check every 2 seconds
    weight 2  # make sure master priority drops below backup priority on failure
}
"#;
    format!(
        "{script}\n{}",
        netns_lab::keepalived::original_charm_instance("10.10.74.250")
    )
}

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
fn original_charm_machine(m: &mut Model, unit: &str) -> Result<(), juju_emulator::EmuError> {
    prepare_machine(m, unit, Net::Golden)?;
    let root = m.unit(unit).root.clone();
    for (path, text) in [
        ("etc/keepalived/keepalived.conf", &*original_conf()),
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
    // What the original published (docs/juju-contract.md O-3).
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
    // The original's VRID (router_id) and multicast (no unicast keywords); alone in
    // its application, the unit runs the fast timing at once (`timing`; the mixed
    // cluster of the rolling refresh is `upgrade_lab`'s).
    let conf = engine_config(&m, UNIT0);
    assert_eq!(conf, fast(golden(&m, UNIT0, "default-ipv4.conf")));
    assert!(conf.contains(&format!(
        "    virtual_router_id 23\n    priority 254\n{}",
        crate::e2e::FAST_TIMING
    )));
    assert!(!conf.contains("unicast"));
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
    assert_eq!(read("etc/keepalived/keepalived.conf"), original_conf());
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
    let calls_before = m.unit(UNIT0).machine.calls.len();
    all_ok(&m.upgrade_charm().unwrap());
    assert_eq!(
        m.unit(UNIT0).status(),
        blocked("invalid port 0: allowed 1..65535")
    );
    // The refresh's hooks never touch the distro keepalived, not even to ask.
    let upgrade_calls = &calls_by_hook(&m, UNIT0)[calls_before..];
    assert!(
        upgrade_calls
            .iter()
            .all(|(_, c)| !c.contains(" keepalived.service")),
        "{upgrade_calls:?}"
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
