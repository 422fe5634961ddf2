//! `keepalived-charm vrrp --config FILE` refuses to start on a config with errors:
//! every diagnostic on stderr as FILE:LINE:COL, exit status 1, no pid file left
//! behind. (The daemon at work is proven in the namespace lab, tests/engine_lab.rs.)

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_keepalived-charm");

#[test]
fn a_config_with_errors_is_refused_with_every_diagnostic_and_exit_status_1() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("keepalived.conf");
    std::fs::write(
        &conf,
        "vrrp_instance VI_1 {\n    virtual_router_id 300\n}\n",
    )
    .unwrap();
    let pid = dir.path().join("run/engine.pid");
    let state = dir.path().join("run/state.json");
    let out = Command::new(BIN)
        .args(["vrrp", "--config"])
        .arg(&conf)
        .arg("--pid-file")
        .arg(&pid)
        .arg("--state-file")
        .arg(&state)
        .env("RUST_LOG", "info")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let c = conf.display();
    for line in [
        format!("{c}:1:1: error: vrrp_instance VI_1 has no \"interface\""),
        format!("{c}:2:23: error: virtual_router_id 300 is out of range: allowed 1..255"),
        format!("{c}: 3 errors in the configuration, not starting"),
    ] {
        assert!(stderr.contains(&line), "missing {line:?} in:\n{stderr}");
    }
    assert!(!pid.exists(), "no pid file for a daemon that never started");
    assert!(!state.exists(), "no state file either");
}

#[test]
fn a_missing_config_file_is_named_in_the_refusal() {
    let out = Command::new(BIN)
        .args(["vrrp", "--config", "/nonexistent/keepalived.conf"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("/nonexistent/keepalived.conf: error: cannot read the file"),
        "{stderr}"
    );
}
