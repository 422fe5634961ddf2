//! `keepalived-charm vrrp --config FILE --check`: the real binary on good and bad
//! files, like `keepalived -t`. Exit 0 and a one-line summary for a good file; every
//! error as `FILE:LINE:COL: error: ...` on stderr and exit 1 otherwise.

use std::path::{Path, PathBuf};
use std::process::Command;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    /// The error lines only: warnings (e.g. an interface missing on this machine)
    /// depend on the host and are not what these tests pin.
    fn errors(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|l| l.contains(": error: ") || l.ends_with(" found"))
            .collect()
    }
}

fn check(path: &Path) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_keepalived-charm"))
        .arg("vrrp")
        .arg("--config")
        .arg(path)
        .arg("--check")
        .output()
        .expect("run keepalived-charm");
    Run {
        code: out.status.code().expect("exit code"),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// The original charm's template (src/templates/keepalived.conf) rendered with
/// service_port 443, healthcheck_interval 2, router_id 23, VIP 10.1.2.3/16, leader.
const ORIGINAL_TEMPLATE: &str = include_str!("../../vrrp-core/tests/fixtures/original-charm.conf");

#[test]
fn every_captured_keepalived_config_is_good() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("vrrp-core/tests/vectors");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "conf"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 16, "vrrp-core/tests/vectors holds 16 configs");
    for file in files {
        let run = check(&file);
        assert_eq!(run.code, 0, "{}: {}", file.display(), run.stderr);
        assert_eq!(run.errors(), Vec::<&str>::new(), "{}", file.display());
        assert!(
            run.stdout.starts_with(&format!(
                "{}: OK: 1 vrrp_instance (VI_1: VRID 51, ",
                file.display()
            )),
            "{}",
            run.stdout
        );
    }
}

#[test]
fn original_charm_template_is_good_with_one_security_warning() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, "keepalived.conf", ORIGINAL_TEMPLATE);
    let run = check(&path);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        format!(
            "{}: OK: 1 vrrp_instance (VI_1: VRID 23, IPv4, VRRPv2, MASTER, priority 101, eth0, 1 VIP), 1 vrrp_script (chk_svc_port)\n",
            path.display()
        )
    );
    assert!(run.stderr.contains(&format!(
        "{}:1:1: warning: vrrp_script without enable_script_security in global_defs",
        path.display()
    )));
}

#[test]
fn a_bad_file_gets_every_error_with_file_line_and_column_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        &dir,
        "bad.conf",
        "vrrp_instance VI_1 {\n    interface eth0\n    state master\n    virtual_router_id 256\n    use_vmac\n    advert_int 0.5\n    virtual_ipaddress {\n        10.1.2.3/16\n        fd00::1\n    }\n    track_script {\n        chk_x\n    }\n}\nvrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 5\n    virtual_ipaddress { 10.1.2.4 }\n}\ninclude other.conf\n",
    );
    let run = check(&path);
    assert_eq!(run.code, 1);
    assert_eq!(run.stdout, "");
    let p = path.display().to_string();
    let expected = vec![
        format!("{p}:3:11: error: state \"master\" is not an initial state: allowed MASTER or BACKUP (upper case, as keepalived requires)"),
        format!("{p}:4:23: error: virtual_router_id 256 is out of range: allowed 1..255"),
        format!("{p}:5:5: error: unsupported directive \"use_vmac\" in vrrp_instance VI_1: keepalived has it but this engine does not implement it (supported: state, interface, virtual_router_id, priority, advert_int, version, nopreempt, preempt_delay, authentication, unicast_src_ip, unicast_peer, virtual_ipaddress, virtual_ipaddress_excluded, track_interface, track_script, garp_master_delay, garp_master_repeat, garp_master_refresh, down_timer_adverts, rolling_from)"),
        format!("{p}:6:16: error: advert_int 0.5 is out of range: allowed whole seconds 1..255 for VRRPv2"),
        format!("{p}:9:9: error: virtual_ipaddress fd00::1 is IPv6 but vrrp_instance VI_1 is IPv4 (from 10.1.2.3 at line 8): put each family in its own vrrp_instance"),
        format!("{p}:12:9: error: track_script \"chk_x\" names no vrrp_script (none is defined)"),
        format!("{p}:15:1: error: duplicate vrrp_instance name \"VI_1\" (first defined at line 1)"),
        format!("{p}:20:1: error: unsupported directive \"include\" in the top level: keepalived has it but this engine does not implement it (supported: global_defs, vrrp_script, vrrp_instance)"),
        format!("{p}: 8 errors found"),
    ];
    assert_eq!(run.errors(), expected);
}

#[test]
fn syntax_errors_name_their_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        &dir,
        "k.conf",
        "vrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 5\n    authentication {\n        auth_type PASS\n        auth_pass \"abc\n    }\n    virtual_ipaddress { 10.1.2.3 }\n",
    );
    let run = check(&path);
    assert_eq!(run.code, 1);
    let p = path.display().to_string();
    assert_eq!(
        run.errors(),
        vec![
            format!("{p}:1:20: error: \"vrrp_instance\" block opened here is never closed: add the missing '}}'"),
            format!("{p}:6:19: error: unterminated quoted string: add the closing '\"' on the same line"),
            format!("{p}: 2 errors found"),
        ]
    );
}

#[test]
fn an_unreadable_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing.conf");
    let run = check(&path);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.errors(),
        vec![
            format!(
                "{}: error: cannot read the file: No such file or directory (os error 2)",
                path.display()
            ),
            format!("{}: 1 error found", path.display()),
        ]
    );
}

#[test]
fn a_missing_script_program_fails_the_check() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        &dir,
        "k.conf",
        &ORIGINAL_TEMPLATE.replace("/bin/bash", "/nonexistent/bash"),
    );
    let run = check(&path);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.errors(),
        vec![
            format!("{}:2:12: error: vrrp_script chk_svc_port: program /nonexistent/bash is not an executable file (keepalived disables the script)", path.display()),
            format!("{}: 1 error found", path.display()),
        ]
    );
}
