//! The engine's systemd unit, as the install hook renders it, passes
//! `systemd-analyze verify` with no complaint, and carries the hardening the charm
//! promises (docs/juju-contract.md O-10).

use std::process::Command;

use keepalived_charm::charm::paths::Paths;
use keepalived_charm::charm::render;

fn rendered_unit_in(root: &std::path::Path) -> std::path::PathBuf {
    let paths = Paths::new(root);
    // verify insists that ExecStart's program exists and is executable.
    let binary = paths.engine_binary();
    std::fs::create_dir_all(binary.parent().expect("parent")).expect("mkdir");
    std::fs::copy(env!("CARGO_BIN_EXE_keepalived-charm"), &binary).expect("copy binary");
    let unit = paths.unit_file();
    render::write_atomic(
        &unit,
        render::unit_file(&paths).expect("renders").as_bytes(),
        render::PUBLIC_MODE,
    )
    .expect("write unit");
    unit
}

#[test]
fn rendered_unit_passes_systemd_analyze_verify() {
    let root = tempfile::tempdir().expect("tempdir");
    let unit = rendered_unit_in(root.path());
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&unit)
        .output()
        .unwrap_or_else(|e| panic!("systemd-analyze is required (package systemd): {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    // verify exits 0 even for ignored bad settings; they show up on stderr.
    assert!(
        out.status.success() && stderr.trim().is_empty(),
        "systemd-analyze verify complained (exit {:?}):\n{stderr}",
        out.status.code()
    );
}

#[test]
fn systemd_analyze_verify_really_reports_bad_settings() {
    // Guards the test above: a bad value must produce output.
    let root = tempfile::tempdir().expect("tempdir");
    let unit = rendered_unit_in(root.path());
    let text = std::fs::read_to_string(&unit).expect("read");
    std::fs::write(&unit, text.replace("Restart=on-failure", "Restart=bogus")).expect("write");
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&unit)
        .output()
        .expect("systemd-analyze runs");
    assert!(String::from_utf8_lossy(&out.stderr).contains("bogus"));
}

#[test]
fn unit_is_hardened_and_reloads_with_sighup() {
    let text = render::unit_file(&Paths::new("/")).expect("renders");
    for line in [
        "ExecStart=/usr/local/lib/keepalived-charm/keepalived-charm vrrp --config /etc/keepalived-charm/keepalived.conf --state-file /run/keepalived-charm/state.json --metrics-file /etc/keepalived-charm/metrics-address",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "KillSignal=SIGTERM",
        "Restart=on-failure",
        "RuntimeDirectory=keepalived-charm",
        "CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_RAW CAP_SYS_NICE CAP_IPC_LOCK",
        "AmbientCapabilities=CAP_NET_ADMIN CAP_NET_RAW CAP_SYS_NICE CAP_IPC_LOCK",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ReadWritePaths=-/run/keepalived-charm",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_NETLINK AF_PACKET AF_UNIX",
        "ConditionPathExists=/etc/keepalived-charm/keepalived.conf",
        "WantedBy=multi-user.target",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "unit lacks {line:?}:\n{text}"
        );
    }
}
