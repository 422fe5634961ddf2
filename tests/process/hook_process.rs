//! The real binary runs hooks as Juju would: hook from `JUJU_DISPATCH_PATH`, hook
//! tools, `systemctl` and `sysctl` found on `PATH`, every machine path under
//! `KEEPALIVED_CHARM_ROOT`. The tools here are tiny shell stubs that record their argv
//! and stdin, so this pins the exact command lines the charm sends (the hook-tool
//! emulator's tests cover Juju's semantics).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

const STUB: &str = r#"#!/bin/sh
dir=$(dirname "$0")/..
name=$(basename "$0")
echo "$name $*" >> "$dir/calls"
case "$name" in
  config-get) cat "$dir/config.json" ;;
  state-get) if [ -f "$dir/state.json" ]; then cat "$dir/state.json"; else echo null; fi ;;
  state-set) cat > "$dir/state.json" ;;
  relation-ids) if [ "$2" = website ]; then echo '["website:3"]'; else echo '[]'; fi ;;
  relation-set) cat >> "$dir/calls"; echo >> "$dir/calls" ;;
  systemctl) if [ "$1" = is-active ]; then exit 3; fi ;;
  sysctl) if [ "$1" = -n ]; then echo 0; fi ;;
esac
exit 0
"#;

const TOOLS: &[&str] = &[
    "config-get",
    "state-get",
    "state-set",
    "relation-ids",
    "relation-list",
    "relation-get",
    "relation-set",
    "status-set",
    "juju-log",
    "systemctl",
    "sysctl",
];

struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    fn new(config: &str) -> Sandbox {
        let dir = tempfile::tempdir().expect("tempdir");
        let tools = dir.path().join("tools");
        std::fs::create_dir_all(&tools).expect("mkdir");
        let stub = tools.join("stub");
        std::fs::write(&stub, STUB).expect("stub");
        std::fs::set_permissions(&stub, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        for tool in TOOLS {
            std::os::unix::fs::symlink("stub", tools.join(tool)).expect("symlink");
        }
        std::fs::write(dir.path().join("config.json"), config).expect("config");
        Sandbox { dir }
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    fn hook(&self, hook: &str, extra: &[(&str, &str)]) -> (bool, String) {
        let _ = std::fs::remove_file(self.dir.path().join("calls"));
        let path = format!("{}:/usr/bin:/bin", self.dir.path().join("tools").display());
        let out = Command::new(env!("CARGO_BIN_EXE_keepalived-charm"))
            .env_clear()
            .env("PATH", path)
            .env("JUJU_DISPATCH_PATH", format!("hooks/{hook}"))
            .env("JUJU_UNIT_NAME", "keepalived/0")
            .env("KEEPALIVED_CHARM_ROOT", self.root())
            .envs(extra.iter().copied())
            .current_dir(self.dir.path())
            .output()
            .expect("binary runs");
        let calls = std::fs::read_to_string(self.dir.path().join("calls")).unwrap_or_default();
        (out.status.success(), calls)
    }
}

fn exists(root: &Path, rel: &str) -> bool {
    root.join(rel).exists()
}

#[test]
fn install_then_configure_sends_exactly_these_command_lines() {
    let sb = Sandbox::new(r#"{"virtual_ip":"","port":443}"#);
    let (ok, calls) = sb.hook("install", &[]);
    assert!(ok, "{calls}");
    let root = sb.root().display().to_string();
    assert_eq!(
        calls,
        format!(
            "config-get --format=json\n\
             state-get --format=json\n\
             systemctl daemon-reload\n\
             systemctl enable keepalived-charm.service\n\
             status-set blocked Please configure virtual ips\n\
             state-set --file -\n\
             juju-log -l INFO -- installed the engine binary at {root}/usr/local/lib/keepalived-charm/keepalived-charm; claimed VRRP priority 254\n"
        )
    );
    assert!(exists(
        &sb.root(),
        "etc/systemd/system/keepalived-charm.service"
    ));
    assert!(exists(
        &sb.root(),
        "usr/local/lib/keepalived-charm/keepalived-charm"
    ));

    let (ok, _) = sb.hook("start", &[]);
    assert!(ok);
    // Point the VIP at loopback's subnet-free default: name the interface explicitly so
    // the test does not depend on this machine's routes.
    std::fs::write(
        sb.dir.path().join("config.json"),
        r#"{"virtual_ip":"10.10.74.250","port":443,"network_interface":"lo"}"#,
    )
    .expect("config");
    let (ok, calls) = sb.hook("config-changed", &[]);
    assert!(ok, "{calls}");
    assert_eq!(
        calls,
        format!(
            "config-get --format=json\n\
             state-get --format=json\n\
             relation-ids --format=json website\n\
             relation-ids --format=json loadbalancer\n\
             relation-ids --format=json cluster\n\
             sysctl -n net.ipv4.ip_nonlocal_bind\n\
             sysctl -p {root}/etc/sysctl.d/50-keepalived.conf\n\
             systemctl is-active --quiet keepalived-charm.service\n\
             systemctl start keepalived-charm.service\n\
             relation-set -r website:3 --file -\n\
             {{\"hostname\":\"10.10.74.250\",\"port\":\"443\",\"private-address\":\"10.10.74.250\"}}\n\
             status-set active VIP 10.10.74.250 ready\n\
             state-set --file -\n\
             juju-log -l INFO -- rendered a new engine config; applied {root}/etc/sysctl.d/50-keepalived.conf; started the engine\n"
        )
    );
    let conf = std::fs::read_to_string(sb.root().join("etc/keepalived-charm/keepalived.conf"))
        .expect("engine config written");
    assert!(conf.contains("    interface lo\n"));
}

#[test]
fn unknown_hooks_and_actions_exit_zero_without_any_tool_call() {
    let sb = Sandbox::new("{}");
    for hook in [
        "collect-metrics",
        "nosuch-relation-joined",
        "secret-changed",
    ] {
        let (ok, calls) = sb.hook(hook, &[]);
        assert!(ok, "{hook}");
        assert_eq!(calls, "", "{hook}");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_keepalived-charm"))
        .env_clear()
        .env("JUJU_DISPATCH_PATH", "actions/backup")
        .output()
        .expect("runs");
    assert!(out.status.success());
}

#[test]
fn a_failing_hook_tool_fails_the_hook_with_its_error() {
    let sb = Sandbox::new("not json");
    let (ok, calls) = sb.hook("update-status", &[]);
    assert!(!ok);
    assert!(calls.starts_with("config-get --format=json\n"), "{calls}");
    // The reason is logged for the operator before the hook fails.
    assert!(calls.contains("juju-log -l ERROR -- hook update-status failed: config-get printed"));
}
