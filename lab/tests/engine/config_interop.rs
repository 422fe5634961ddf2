//! Interop with real keepalived 2.2: a file `vrrp --check` accepts is accepted by
//! `keepalived -t`, means the same values to keepalived (compared against
//! keepalived's own `--dump-conf`), and files keepalived refuses we refuse too.
//!
//! Needs root and keepalived on PATH (CI installs it): it fails, never skips, when
//! they are missing. keepalived checks that interfaces exist, so everything runs in a
//! network namespace this test creates, holding a veth pair eth0/eth1, removed by a
//! Drop guard even when the test fails. The dump test starts the keepalived VRRP
//! daemon for a moment inside that namespace; its adverts never leave it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use vrrp_core::config::{self, Config, InitialState, VrrpInstance};
use vrrp_core::proto::{Auth, Version};

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn require_tools() {
    let keepalived = Command::new("keepalived").arg("--version").output();
    assert!(
        keepalived.is_ok(),
        "keepalived is not on PATH: install keepalived 2.2 (apt-get install keepalived) to run the interop tests"
    );
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(
        euid, 0,
        "the keepalived interop tests need root (network namespaces)"
    );
}

/// A network namespace with eth0 (10.99.0.11/24) and eth1, deleted on drop.
struct Netns {
    name: String,
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Netns {
    fn new() -> Netns {
        require_tools();
        let name = format!(
            "kc-cfg-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        ip(&["netns", "add", &name]);
        let ns = Netns { name };
        ip(&[
            "-n", &ns.name, "link", "add", "eth0", "type", "veth", "peer", "name", "eth1",
        ]);
        ip(&[
            "-n",
            &ns.name,
            "addr",
            "add",
            "10.99.0.11/24",
            "dev",
            "eth0",
        ]);
        ip(&["-n", &ns.name, "link", "set", "eth0", "up"]);
        ip(&["-n", &ns.name, "link", "set", "eth1", "up"]);
        ip(&["-n", &ns.name, "link", "set", "lo", "up"]);
        // The other interfaces the generated models name.
        for name in crate::config_gen::INTERFACES
            .iter()
            .filter(|n| !n.starts_with("eth"))
        {
            let peer = format!("{name}p");
            ip(&[
                "-n", &ns.name, "link", "add", name, "type", "veth", "peer", "name", &peer,
            ]);
            ip(&["-n", &ns.name, "link", "set", name, "up"]);
            ip(&["-n", &ns.name, "link", "set", &peer, "up"]);
        }
        ns
    }

    fn exec(&self, program: &str) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name, program]);
        cmd
    }

    /// `keepalived -t -f FILE`: exit code and output.
    fn keepalived_test(&self, file: &Path) -> (i32, String) {
        let out = self
            .exec("keepalived")
            .arg("-t")
            .arg("-f")
            .arg(file)
            .output()
            .expect("run keepalived -t");
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        (out.status.code().unwrap_or(-1), text)
    }

    /// Our `vrrp --check` in the same namespace: exit code and stderr.
    fn our_check(&self, file: &Path) -> (i32, String) {
        let out = self
            .exec(netns_lab::charm_binary())
            .args(["vrrp", "--check", "--config"])
            .arg(file)
            .output()
            .expect("run keepalived-charm");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// keepalived (VRRP only) started with --dump-conf; killed with its whole process
/// group on drop. SIGKILL at once: the dump is all this test wants, in a namespace of
/// its own, and a SIGTERM'd keepalived took about 1.4 s to exit, most of the time of
/// the tests that dump 20 and 10 files (28 s and 17 s).
struct Daemon {
    pgid: i32,
    child: std::process::Child,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // SAFETY: kill() on the process group we created (process_group(0) at spawn);
        // no memory is involved.
        unsafe {
            libc::kill(-self.pgid, libc::SIGKILL);
        }
        let _ = self.child.wait();
    }
}

/// What keepalived itself parsed: the text of its configuration dump.
fn keepalived_dump(ns: &Netns, file: &Path, dir: &Path) -> String {
    use std::os::unix::process::CommandExt;
    // Pid files of their own: the last dump's VRRP child may still be dying of its
    // SIGKILL, and keepalived refuses to start beside a live pid file.
    let pids = tempfile::tempdir_in(dir).expect("a directory for the pid files");
    let mut cmd = ns.exec("keepalived");
    cmd.args(["-n", "-l", "-d", "-P", "-f"])
        .arg(file)
        .arg("-p")
        .arg(pids.path().join("keepalived.pid"))
        .arg("-r")
        .arg(pids.path().join("vrrp.pid"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = cmd.spawn().expect("start keepalived");
    let stdout = child.stdout.take().expect("stdout");
    let stderr = child.stderr.take().expect("stderr");
    let pgid = i32::try_from(child.id()).expect("pid");
    let _daemon = Daemon { pgid, child };
    let (tx, rx) = mpsc::channel::<String>();
    for stream in [
        Box::new(stdout) as Box<dyn std::io::Read + Send>,
        Box::new(stderr),
    ] {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
    }
    drop(tx);
    let mut lines = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(line) => {
                // Strip the "Sat Nov 21 21:31:05 2026: " timestamp.
                let text = line
                    .split_once(": ")
                    .map_or(line.as_str(), |(_, t)| t)
                    .to_string();
                let done = text.contains("------< Interfaces >------");
                lines.push(text);
                if done {
                    return lines.join("\n");
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => continue,
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    panic!(
        "keepalived printed no configuration dump:\n{}",
        lines.join("\n")
    );
}

/// The trimmed dump lines of one section (`VRRP Instance = NAME`, `VRRP Script = NAME`).
fn section<'d>(dump: &'d str, header: &str) -> Vec<&'d str> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in dump.lines() {
        let t = line.trim_start();
        if t.starts_with("VRRP Instance = ")
            || t.starts_with("VRRP Script = ")
            || t.starts_with("------<")
        {
            inside = t.trim_end() == header.trim();
            continue;
        }
        if inside {
            out.push(t);
        }
    }
    assert!(!out.is_empty(), "no section {header} in the dump:\n{dump}");
    out
}

/// The dump lines keepalived prints for what our model says an instance is.
fn expected_instance_lines(config: &Config, i: &VrrpInstance) -> Vec<String> {
    let mut lines = vec![
        format!("VRRP Version = {}", i.version.wire()),
        format!(
            "Wantstate = {}",
            match i.initial_state {
                InitialState::Master => "MASTER",
                InitialState::Backup => "BACKUP",
            }
        ),
        format!("Interface = {}", i.interface),
        format!("Virtual Router ID = {}", i.vrid),
        format!("Priority = {}", i.priority),
        match i.version {
            Version::V2 => format!("Advert interval = {} sec", i.advert_int.centis() / 100),
            Version::V3 => format!(
                "Advert interval = {} milli-sec",
                u32::from(i.advert_int.centis()) * 10
            ),
        },
        format!(
            "Preempt = {}",
            if i.preempt { "enabled" } else { "disabled" }
        ),
        format!("Gratuitous ARP delay = {}", i.garp_master_delay.as_secs()),
        format!("Gratuitous ARP repeat = {}", i.garp_master_repeat),
        format!(
            "Gratuitous ARP refresh = {}",
            i.garp_master_refresh.map_or(0, |d| d.as_secs())
        ),
        format!("Down timer adverts = {}", i.down_timer_adverts),
    ];
    if !i.preempt_delay.is_zero() {
        lines.push(format!(
            "Preempt delay = {} secs",
            i.preempt_delay.as_secs_f64()
        ));
    }
    if let Auth::Pass(bytes) = i.auth {
        let len = bytes.iter().rposition(|b| *b != 0).map_or(0, |p| p + 1);
        lines.push(format!(
            "Password = {}",
            String::from_utf8_lossy(&bytes[..len])
        ));
    }
    for v in i.vips.iter().chain(&i.vips_excluded) {
        let max = config::max_prefix(v.family());
        let mut line = if v.prefix_len == max {
            v.addr.to_string()
        } else {
            format!("{}/{}", v.addr, v.prefix_len)
        };
        line.push_str(&format!(
            " dev {} scope global",
            v.dev.as_deref().unwrap_or(&i.interface)
        ));
        if let Some(label) = &v.label {
            line.push_str(&format!(" label {label}"));
        }
        lines.push(line);
    }
    for p in &i.unicast_peers {
        lines.push(format!("{p} min_ttl 0 max_ttl 255"));
    }
    for t in &i.track_interfaces {
        lines.push(format!(
            "{} weight {}",
            t.name,
            t.weight.map_or(0, |w| w.get())
        ));
    }
    for t in &i.track_scripts {
        let weight = t
            .weight
            .or_else(|| config.script(&t.name).map(|s| s.weight))
            .map_or(0, |w| w.get());
        lines.push(format!("{} weight {weight}", t.name));
    }
    lines
}

/// Asserts that keepalived's dump of `file` shows the values our parser resolved.
fn assert_same_values(ns: &Netns, file: &Path, dir: &Path) {
    let ours = config::load(file).expect("our parser accepts it").config;
    let dump = keepalived_dump(ns, file, dir);
    for i in &ours.instances {
        let got = section(&dump, &format!("VRRP Instance = {}", i.name));
        for want in expected_instance_lines(&ours, i) {
            assert!(
                got.iter().any(|l| l.starts_with(&want)),
                "{}: keepalived's dump of {} lacks \"{want}\":\n{}",
                file.display(),
                i.name,
                got.join("\n")
            );
        }
    }
    // keepalived drops unused scripts ("Warning - script X is not used").
    let tracked = |name: &str| {
        ours.instances
            .iter()
            .any(|i| i.track_scripts.iter().any(|t| t.name == name))
    };
    for s in ours.scripts.iter().filter(|s| tracked(&s.name)) {
        let got = section(&dump, &format!("VRRP Script = {}", s.name));
        // keepalived shows an unset timeout as 0 and then uses the interval
        // (`timeout ? timeout : interval` in vrrp_track.c), which is our model.
        let timeout = format!("Timeout = {} sec", s.timeout.as_secs());
        assert!(
            got.contains(&timeout.as_str())
                || (s.timeout == s.interval && got.contains(&"Timeout = 0 sec")),
            "{}: keepalived's dump of script {} lacks \"{timeout}\":\n{}",
            file.display(),
            s.name,
            got.join("\n")
        );
        for want in [
            format!("Interval = {} sec", s.interval.as_secs()),
            format!("Weight = {}", s.weight),
            format!("Rise = {}", s.rise),
            format!("Fall = {}", s.fall),
        ] {
            assert!(
                got.contains(&want.as_str()),
                "{}: keepalived's dump of script {} lacks \"{want}\":\n{}",
                file.display(),
                s.name,
                got.join("\n")
            );
        }
    }
}

const SECURE: &str = "global_defs {\n    enable_script_security\n    script_user root\n}\n";

/// The original charm's template (docs/juju-contract.md O-5), comments left out.
fn template() -> String {
    let script = r#"vrrp_script chk_svc_port {
    script "/bin/bash -c '</dev/tcp/127.0.0.1/443'"
    interval 2
    weight 2
}
"#;
    format!(
        "{script}{}",
        netns_lab::keepalived::original_charm_instance("10.1.2.3/16")
    )
}

const KITCHEN_SINK: &str = r#"global_defs {
    router_id "lab node"
    vrrp_version 3
    enable_script_security
    script_user root
    vrrp_garp_master_delay 2
}
vrrp_script chk {
    script "/bin/sh -c 'exit 0'"
    interval 3
    timeout 2
    weight -5
    rise 2
    fall 3
    init_fail
    user root
}
vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 5
    priority 150
    advert_int 0.1
    nopreempt
    unicast_src_ip 10.99.0.11
    unicast_peer {
        10.99.0.12
        10.99.0.13
    }
    garp_master_repeat 2
    garp_master_refresh 60
    virtual_ipaddress {
        10.1.2.3/16 dev eth0 label eth0:1
        10.1.2.4
    }
    virtual_ipaddress_excluded {
        fd00::9/64
    }
    track_script {
        chk weight 5
    }
    track_interface {
        eth1 weight -10
    }
}
vrrp_instance VI_6 {
    interface eth0
    virtual_router_id 5
    state MASTER
    virtual_ipaddress {
        fd00::6
    }
}
vrrp_instance "VI auth" {
    interface eth0
    version 2
    virtual_router_id 7
    advert_int 3
    preempt_delay 2.5
    authentication {
        auth_type PASS
        auth_pass "pa ss#1"
    }
    virtual_ipaddress { 10.1.2.7/24 }
}
"#;

fn good_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let vectors = netns_lab::repo().join("vrrp-core/tests/vectors");
    for entry in std::fs::read_dir(vectors).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "conf") {
            files.push(path);
        }
    }
    files.sort();
    let mut write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        files.push(path);
    };
    write("template-secure.conf", &format!("{SECURE}{}", template()));
    write("kitchen-sink.conf", KITCHEN_SINK);
    // Our render-back of a parsed file must be as good as the file.
    let rendered = config::parse("k", format!("{SECURE}{}", template()).as_bytes())
        .unwrap()
        .config
        .to_keepalived_conf();
    write("template-rendered.conf", &rendered);
    let rendered = config::parse("k", KITCHEN_SINK.as_bytes())
        .unwrap()
        .config
        .to_keepalived_conf();
    write("kitchen-sink-rendered.conf", &rendered);
    files
}

#[test]
fn files_we_accept_keepalived_accepts() {
    let ns = Netns::new();
    let dir = tempfile::tempdir().unwrap();
    for file in good_files(dir.path()) {
        let (ours, our_text) = ns.our_check(&file);
        assert_eq!(
            ours,
            0,
            "vrrp --check refuses {}:\n{our_text}",
            file.display()
        );
        assert!(
            !our_text.contains(": error: "),
            "{}: {our_text}",
            file.display()
        );
        let (theirs, text) = ns.keepalived_test(&file);
        assert_eq!(
            theirs,
            0,
            "keepalived -t refuses {}:\n{text}",
            file.display()
        );
    }
}

#[test]
fn keepalived_reads_the_same_values_from_files_we_accept() {
    let ns = Netns::new();
    let dir = tempfile::tempdir().unwrap();
    for file in good_files(dir.path()) {
        assert_same_values(&ns, &file, dir.path());
    }
}

/// Files keepalived 2.2.7 refuses (`keepalived -t` exits non-zero), each with the
/// error line our check must print.
const REFUSED: &[(&str, &str, &str)] = &[
    (
        "auth-pass-too-long",
        "    authentication {\n        auth_type PASS\n        auth_pass 0123456789\n    }",
        ":7:19: error: auth_pass is 10 bytes long",
    ),
    (
        "nopreempt-master",
        "    state MASTER\n    priority 101\n    nopreempt",
        ":7:5: error: nopreempt does not work with state MASTER",
    ),
    (
        "vrid-256",
        "    virtual_router_id 256",
        ":5:5: error: duplicate \"virtual_router_id\"",
    ),
    (
        "unknown-keyword",
        "    foo bar",
        ":5:5: error: unknown directive \"foo\"",
    ),
    (
        "v3-advert-41",
        "    version 3\n    advert_int 41",
        ":6:16: error: advert_int 41 is out of range",
    ),
    (
        "v2-advert-fraction",
        "    advert_int 1.5",
        ":5:16: error: advert_int 1.5 is out of range",
    ),
    (
        "state-lowercase",
        "    state master",
        ":5:11: error: state \"master\"",
    ),
    (
        "undefined-track-script",
        "    track_script {\n        nosuch\n    }",
        ":6:9: error: track_script \"nosuch\" names no vrrp_script",
    ),
    (
        "unicast-src-no-peers",
        "    unicast_src_ip 10.99.0.11",
        ":5:20: error: unicast_src_ip without any unicast_peer",
    ),
    (
        "peer-family",
        "    unicast_peer {\n        fd00::5\n    }",
        ":6:9: error: unicast_peer fd00::5 is IPv6",
    ),
    (
        "vip-prefix-33",
        "    virtual_ipaddress_excluded {\n        10.1.2.9/33\n    }",
        ":6:9: error: prefix length \"33\"",
    ),
    (
        "preempt-delay-1001",
        "    preempt_delay 1001",
        ":5:19: error: preempt_delay 1001 is out of range",
    ),
    (
        "preempt-delay-nopreempt",
        "    nopreempt\n    preempt_delay 5",
        ":6:5: error: preempt_delay has no effect with nopreempt",
    ),
    (
        "v3-auth",
        "    version 3\n    authentication {\n        auth_type PASS\n        auth_pass abc\n    }",
        ":6:5: error: authentication is not part of VRRPv3",
    ),
    (
        "track-weight-254",
        "    track_interface {\n        eth1 weight 254\n    }",
        ":6:21: error: weight 254 is out of range",
    ),
];

fn refused_instance(body: &str) -> String {
    format!("vrrp_instance VI_1 {{\n    interface eth0\n    virtual_router_id 5\n    virtual_ipaddress {{ 10.1.2.3 }}\n{body}\n}}\n")
}

#[test]
fn files_keepalived_refuses_we_refuse_too() {
    let ns = Netns::new();
    let dir = tempfile::tempdir().unwrap();
    let mut cases: Vec<(String, String, String)> = REFUSED
        .iter()
        .map(|(name, body, want)| (name.to_string(), refused_instance(body), want.to_string()))
        .collect();
    cases.push((
        "duplicate-name".into(),
        refused_instance("")
            + &refused_instance("")
                .replace("router_id 5", "router_id 6")
                .replace("10.1.2.3", "10.1.2.4"),
        ":7:1: error: duplicate vrrp_instance name \"VI_1\"".into(),
    ));
    cases.push((
        "duplicate-vrid".into(),
        refused_instance("")
            + &refused_instance("")
                .replace("VI_1", "VI_2")
                .replace("10.1.2.3", "10.1.2.4"),
        ":7:1: error: vrrp_instance VI_2 uses VRID 5 for IPv4 on eth0".into(),
    ));
    cases.push((
        "no-vip".into(),
        "vrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 5\n}\n".into(),
        ":1:1: error: vrrp_instance VI_1 has no virtual_ipaddress".into(),
    ));
    cases.push((
        "missing-script-program".into(),
        format!("{SECURE}{}", template().replace("/bin/bash", "/nonexistent/bash")),
        ":6:12: error: vrrp_script chk_svc_port: program /nonexistent/bash is not an executable file".into(),
    ));
    for (name, text, want) in cases {
        let file = dir.path().join(format!("{name}.conf"));
        std::fs::write(&file, &text).unwrap();
        let (theirs, their_text) = ns.keepalived_test(&file);
        assert_ne!(
            theirs, 0,
            "keepalived -t accepts {name}:\n{text}\n{their_text}"
        );
        let (ours, our_text) = ns.our_check(&file);
        assert_eq!(ours, 1, "vrrp --check accepts {name}:\n{text}");
        let want = format!("{}{want}", file.display());
        assert!(
            our_text.lines().any(|l| l.starts_with(&want)),
            "{name}: expected a line starting with\n{want}\ngot:\n{our_text}"
        );
    }
}

/// The one known difference, on purpose: keepalived runs scripts without
/// enable_script_security (the original charm did) but `keepalived -t` exits 6 on it.
/// We accept the file with a warning, so the original template keeps working.
#[test]
fn script_security_is_a_warning_for_us_and_exit_6_for_keepalived_t() {
    let ns = Netns::new();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("template.conf");
    std::fs::write(&file, template()).unwrap();
    let (theirs, their_text) = ns.keepalived_test(&file);
    assert_eq!(theirs, 6, "{their_text}");
    assert!(their_text.contains("SECURITY VIOLATION"), "{their_text}");
    let (ours, our_text) = ns.our_check(&file);
    assert_eq!(ours, 0, "{our_text}");
    assert!(our_text.contains(":1:1: warning: vrrp_script without enable_script_security"));
}

/// Generated valid models (the property tests' generator), made to fit the
/// namespace (programs and users that exist, script security on), rendered: our check
/// accepts each, `keepalived -t` accepts each, and for some keepalived's dump shows
/// our values.
#[test]
fn generated_valid_configs_are_accepted_by_keepalived_with_the_same_values() {
    use proptest::strategy::{Strategy, ValueTree};
    use proptest::test_runner::{Config as RunnerConfig, RngAlgorithm, TestRng, TestRunner};

    let ns = Netns::new();
    let dir = tempfile::tempdir().unwrap();
    let mut runner = TestRunner::new_with_rng(
        RunnerConfig::default(),
        TestRng::deterministic_rng(RngAlgorithm::ChaCha),
    );
    let strategy = crate::config_gen::config();
    for n in 0..100 {
        let mut c = strategy.new_tree(&mut runner).unwrap().current();
        c.global.enable_script_security = true;
        c.global.script_user = Some(config::ScriptUser {
            user: "root".into(),
            group: None,
        });
        for s in &mut c.scripts {
            let args = s.script.split_once(' ').map_or("", |(_, a)| a);
            s.script = format!("/bin/true {args}").trim_end().to_string();
            s.user = None;
        }
        let file = dir.path().join(format!("generated-{n}.conf"));
        let text = c.to_keepalived_conf();
        std::fs::write(&file, &text).unwrap();
        let (ours, our_text) = ns.our_check(&file);
        assert_eq!(
            ours, 0,
            "vrrp --check refuses generated-{n}:\n{our_text}\n{text}"
        );
        let (theirs, their_text) = ns.keepalived_test(&file);
        assert_eq!(
            theirs, 0,
            "keepalived -t refuses generated-{n}:\n{their_text}\n{text}"
        );
        if n % 10 == 0 {
            assert_same_values(&ns, &file, dir.path());
        }
    }
}
