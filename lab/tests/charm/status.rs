//! End to end through the hook-tool emulator: what `juju status` shows (ISSUE2 item
//! 6). Unconfigured: the original's exact "Please configure virtual ips"; configured:
//! "VIP ... ready", and on update-status the VRRP role the engine reports in its state
//! file.

use crate::e2e::*;
use juju_emulator::Model;

const UNIT0: &str = "keepalived/0";
const UNCONFIGURED: &str = "Please configure virtual ips";

#[test]
fn an_unconfigured_deploy_is_blocked_with_the_original_message_and_runs_no_engine() {
    let m = deployed_and_related(2, Net::Golden, &[]);
    for unit in ["keepalived/0", "keepalived/1"] {
        assert_eq!(m.unit(unit).status(), blocked(UNCONFIGURED), "{unit}");
        // Every status the unit ever showed.
        let history = &m.unit(unit).status_history;
        assert!(!history.is_empty());
        assert!(
            history.iter().all(|s| *s == blocked(UNCONFIGURED)),
            "{history:?}"
        );
        assert!(!engine_config_path(&m, unit).exists());
        assert!(m.unit(unit).machine.active.is_empty());
        // Installed and enabled, never started.
        assert_eq!(
            engine_actions(&m.history, unit),
            [
                "systemctl daemon-reload",
                "systemctl enable keepalived-charm.service"
            ]
        );
    }
    assert_eq!(m.app_status(), blocked(UNCONFIGURED));
}

/// Writes the engine's state file as the engine would.
fn engine_reports(m: &Model, unit: &str, roles: &[(&str, &str)]) {
    let instances: Vec<serde_json::Value> = roles
        .iter()
        .map(|(name, state)| {
            serde_json::json!({
                "name": name, "family": "ipv4", "vrid": 23, "interface": "eth0",
                "state": state, "base_priority": 254, "effective_priority": 254,
                "master": null, "last_transition_unix_ms": 0,
                "last_transition_reason": "test", "vips": [], "counters": {}
            })
        })
        .collect();
    let state = serde_json::json!({
        "schema": 1, "pid": 4242, "config": "/etc/keepalived-charm/keepalived.conf",
        "updated_unix_ms": 0, "instances": instances
    });
    let path = m.unit(unit).root.join("run/keepalived-charm/state.json");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, state.to_string()).unwrap();
}

#[test]
fn update_status_shows_the_role_the_engine_reports() {
    let mut m = deployed(1, Net::Golden, &[("virtual_ip", VIP)]);
    assert_eq!(m.unit(UNIT0).status(), active("VIP 10.10.74.250 ready"));

    engine_reports(&m, UNIT0, &[("VI_1", "MASTER")]);
    all_ok(&m.update_status().unwrap());
    assert_eq!(
        m.unit(UNIT0).status(),
        active("VIP 10.10.74.250 ready (MASTER)")
    );

    engine_reports(&m, UNIT0, &[("VI_1", "BACKUP")]);
    all_ok(&m.update_status().unwrap());
    assert_eq!(
        m.unit(UNIT0).status(),
        active("VIP 10.10.74.250 ready (BACKUP)")
    );

    // A state file the charm cannot read shows no role, and fails no hook.
    let path = m.unit(UNIT0).root.join("run/keepalived-charm/state.json");
    std::fs::write(&path, "{ not json").unwrap();
    all_ok(&m.update_status().unwrap());
    assert_eq!(m.unit(UNIT0).status(), active("VIP 10.10.74.250 ready"));
}

#[test]
fn a_dual_stack_unit_shows_each_familys_role_when_they_differ() {
    let mut m = deployed(1, Net::Golden, &[("virtual_ip", "10.20.0.5 fd00::5")]);
    engine_reports(&m, UNIT0, &[("VI_1", "MASTER"), ("VI_1_V6", "BACKUP")]);
    all_ok(&m.update_status().unwrap());
    assert_eq!(
        m.unit(UNIT0).status(),
        active("VIPs 10.20.0.5, fd00::5 ready (IPv4 MASTER, IPv6 BACKUP)")
    );
    engine_reports(&m, UNIT0, &[("VI_1", "MASTER"), ("VI_1_V6", "MASTER")]);
    all_ok(&m.update_status().unwrap());
    assert_eq!(
        m.unit(UNIT0).status(),
        active("VIPs 10.20.0.5, fd00::5 ready (MASTER)")
    );
}
