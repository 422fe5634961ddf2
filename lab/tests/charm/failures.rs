//! End to end through the hook-tool emulator: a hook that fails half way is retried by
//! Juju with its charm state rolled back, and the retry must finish the job. A file the
//! failed hook already wrote is not "new" any more on the retry, so the charm cannot
//! decide from what it wrote in this hook whether the engine (or systemd) still has to
//! be told: a failed `systemctl reload` (or restart, or daemon-reload) must be done by
//! the retry, or the engine keeps running the old config (binary, unit) for good.

use crate::e2e::*;

const UNIT0: &str = "keepalived/0";

/// The only service calls of `runs` that act on the engine or systemd.
fn actions(runs: &[juju_emulator::HookRun]) -> Vec<String> {
    engine_actions(runs, UNIT0)
}

#[test]
fn a_reload_that_failed_is_done_when_the_hook_is_retried() {
    let mut m = deployed(1, Net::Golden, &[("virtual_ip", VIP)]);
    m.fail_command(
        UNIT0,
        "systemctl",
        &["reload"],
        1,
        "Job for keepalived-charm.service failed.",
        Some(1),
    );
    let runs = m.config(&[("port", "6443")]).unwrap();
    assert_eq!(runs.len(), 1);
    assert!(!runs[0].ok());
    assert_eq!(runs[0].exit_code, Some(1));
    // Juju shows only "hook failed": the reason is in the debug log first.
    let log = m.unit(UNIT0).juju_log.last().expect("a log line");
    assert_eq!(log.level, "ERROR");
    assert!(
        log.message.starts_with("hook config-changed failed: ")
            && log
                .message
                .contains("Job for keepalived-charm.service failed."),
        "{}",
        log.message
    );
    assert_eq!(
        m.unit(UNIT0).status(),
        juju_emulator::Status::new("error", "hook failed: \"config-changed\"")
    );
    assert!(engine_config(&m, UNIT0).contains("check-tcp 127.0.0.1 6443\""));

    let runs = m.retry(UNIT0).unwrap();
    all_ok(&runs);
    assert_eq!(
        actions(&runs),
        ["systemctl reload keepalived-charm.service"]
    );
    assert_eq!(m.unit(UNIT0).status(), active("VIP 10.10.74.250 ready"));
    // And only once: the next hook has nothing left to do.
    let runs = m.update_status().unwrap();
    all_ok(&runs);
    assert_eq!(actions(&runs), Vec::<String>::new());
}

#[test]
fn a_restart_that_failed_is_done_when_the_upgrade_is_retried() {
    let mut m = deployed(1, Net::Golden, &[("virtual_ip", VIP)]);
    let next = next_revision(&m);
    m.set_charm_binary(&next);
    m.fail_command(UNIT0, "systemctl", &["restart"], 1, "Job failed.", Some(1));
    let runs = m.upgrade_charm().unwrap();
    assert_eq!(hooks(&runs, UNIT0), ["upgrade-charm"]);
    assert!(!runs[0].ok());

    // The retry runs the new binary's engine; then the rest of the refresh.
    let runs = m.retry(UNIT0).unwrap();
    all_ok(&runs);
    assert_eq!(
        hooks(&runs, UNIT0),
        ["upgrade-charm", "config-changed", "start"]
    );
    assert_eq!(
        actions(&runs),
        [
            "systemctl enable keepalived-charm.service",
            "systemctl restart keepalived-charm.service"
        ]
    );
}

#[test]
fn a_daemon_reload_that_failed_is_done_when_the_upgrade_is_retried() {
    let mut m = deployed(1, Net::Golden, &[("virtual_ip", VIP)]);
    // The machine as an older revision left it: its unit file, loaded by systemd.
    let unit_file = m
        .unit(UNIT0)
        .root
        .join("etc/systemd/system/keepalived-charm.service");
    let current = std::fs::read_to_string(&unit_file).unwrap();
    let older = current.replace("TimeoutStopSec=10s\n", "TimeoutStopSec=30s\n");
    assert_ne!(older, current);
    std::fs::write(&unit_file, &older).unwrap();
    m.unit_mut(UNIT0)
        .machine
        .loaded
        .insert(UNIT.into(), older.clone());
    m.fail_command(
        UNIT0,
        "systemctl",
        &["daemon-reload"],
        1,
        "Failed.",
        Some(1),
    );

    let runs = m.upgrade_charm().unwrap();
    assert!(!runs[0].ok());
    let runs = m.retry(UNIT0).unwrap();
    all_ok(&runs);
    // systemd re-reads the new unit, then the engine restarts under it.
    assert_eq!(
        actions(&runs),
        [
            "systemctl daemon-reload",
            "systemctl enable keepalived-charm.service",
            "systemctl restart keepalived-charm.service"
        ]
    );
    assert_eq!(m.unit(UNIT0).machine.loaded[UNIT], current);
    assert!(
        runs.iter().all(|r| !r.stderr.contains("changed on disk")),
        "systemd ran a stale unit"
    );
}
