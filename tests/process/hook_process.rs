//! Dispatch and exit codes of the real binary that need no Juju at all: hooks this
//! charm does not handle, and actions, exit 0 without running a single tool; a hook
//! whose first tool cannot run fails with the reason on stderr (Juju logs a hook's
//! stderr). No hook tool is on `PATH` here, so any tool call would fail the hook.
//! The command lines the charm sends are pinned end to end through the Juju emulator
//! (netns-lab's `lifecycle::install_and_config_changed_send_exactly_these_command_lines`),
//! the hook sequencing in-process (`src/charm/reconcile_tests.rs`).

use std::process::{Command, Output};

/// Runs the binary as Juju would dispatch `path`, with nothing on `PATH`.
fn dispatch(path: &str, root: &std::path::Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_keepalived-charm"))
        .env_clear()
        .env("PATH", root.join("no-tools"))
        .env("JUJU_DISPATCH_PATH", path)
        .env("JUJU_UNIT_NAME", "keepalived/0")
        .env("KEEPALIVED_CHARM_ROOT", root)
        .current_dir(root)
        .output()
        .expect("binary runs")
}

#[test]
fn unknown_hooks_and_actions_exit_zero_without_any_tool_call() {
    let dir = tempfile::tempdir().expect("tempdir");
    for path in [
        "hooks/collect-metrics",
        "hooks/nosuch-relation-joined",
        "hooks/secret-changed",
        "actions/backup",
    ] {
        let out = dispatch(path, dir.path());
        assert!(
            out.status.success(),
            "{path}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Nothing was written under the machine root either.
    assert_eq!(std::fs::read_dir(dir.path()).expect("ls").count(), 0);
}

#[test]
fn a_hook_whose_tool_cannot_run_fails_with_the_reason_on_stderr() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dispatch("hooks/update-status", dir.path());
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("hook update-status"), "{stderr}");
    assert!(stderr.contains("config-get"), "{stderr}");
}
