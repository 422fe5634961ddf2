//! Every golden engine config (tests/golden/*.conf, pinned by the charm's render tests)
//! is also a config real keepalived 2.2 accepts: `keepalived -t -f FILE` exits 0 and
//! prints nothing (it prints warnings even where it exits 0, and exits 0 for a missing
//! file, so silence is part of the check).
//!
//! keepalived -t checks that the interfaces exist and that the health-check program is
//! a root-owned executable, so each file is checked inside a fresh network namespace
//! holding `eth0` and `eth1` (veth ends), with the script path pointed at the binary
//! cargo built. Needs root and keepalived (`.ci/run` installs it); never skipped.

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

static COUNTER: AtomicU32 = AtomicU32::new(0);

const INSTALLED_BINARY: &str = "/usr/local/lib/keepalived-charm/keepalived-charm";

/// A network namespace deleted on drop, even when the test fails.
struct Netns(String);

impl Netns {
    fn new() -> Netns {
        let name = format!(
            "kc-golden-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        run("ip", &["netns", "add", &name]);
        let ns = Netns(name);
        for (a, b) in [("eth0", "eth0p"), ("eth1", "eth1p")] {
            ns.exec("ip", &["link", "add", a, "type", "veth", "peer", "name", b]);
        }
        ns
    }

    fn exec(&self, program: &str, args: &[&str]) -> std::process::Output {
        let mut full = vec!["netns", "exec", &self.0, program];
        full.extend_from_slice(args);
        let out = Command::new("ip")
            .args(&full)
            .output()
            .unwrap_or_else(|e| panic!("cannot run ip (iproute2 is required): {e}"));
        assert!(
            out.status.success() || program == "keepalived",
            "ip {full:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

fn run(program: &str, args: &[&str]) {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed (this test needs root): {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn golden_files() -> Vec<PathBuf> {
    let dir = netns_lab::repo().join("tests/golden");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/golden exists")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "conf"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 7,
        "expected the golden configs, found {files:?}"
    );
    files
}

#[test]
fn every_golden_config_is_accepted_by_keepalived() {
    let version = Command::new("keepalived")
        .arg("--version")
        .output()
        .unwrap_or_else(|e| {
            panic!("keepalived is not installed (apt-get install keepalived; .ci/run does it): {e}")
        });
    let banner = String::from_utf8_lossy(&version.stderr).to_string()
        + &String::from_utf8_lossy(&version.stdout);
    assert!(
        banner.contains("Keepalived v2."),
        "unexpected keepalived: {banner}"
    );

    let program = netns_lab::charm_binary();
    let ns = Netns::new();
    let dir = tempfile::tempdir().expect("tempdir");
    for golden in golden_files() {
        let text = std::fs::read_to_string(&golden).expect("golden readable");
        assert!(
            text.contains(INSTALLED_BINARY),
            "{golden:?} lost its script path"
        );
        let checked = dir.path().join(golden.file_name().expect("file name"));
        std::fs::write(&checked, text.replace(INSTALLED_BINARY, program)).expect("write");
        let path = checked.to_string_lossy().into_owned();
        let out = ns.exec("keepalived", &["-t", "-l", "-f", &path]);
        let output = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success() && output.trim().is_empty(),
            "keepalived -t refused {golden:?} (exit {:?}):\n{output}",
            out.status.code()
        );
    }
}

#[test]
fn keepalived_check_really_rejects_a_broken_config() {
    // Guards the test above against a keepalived -t that accepts anything.
    let ns = Netns::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("bad.conf");
    std::fs::write(
        &bad,
        "vrrp_instance VI_1 {\n    interface nosuch0\n    virtual_router_id 23\n    virtual_ipaddress {\n        10.0.0.1/32\n    }\n}\n",
    )
    .expect("write");
    let out = ns.exec("keepalived", &["-t", "-l", "-f", &bad.to_string_lossy()]);
    assert!(!out.status.success());
}
