//! The live systemd stand-in of the emulator (tests/emulator/services.rs): unit files
//! are read as systemd reads them, and a hook's `systemctl` calls start, reload, stop
//! and kill real processes inside the unit's network namespace.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use juju_emulator::services::Action;
use juju_emulator::unitfile::{parse_timespan, Command, KillMode, UnitFile};
use juju_emulator::{Hook, Model, NetnsSpec};

// ------------------------------------------------------------------ unit files

fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn command_lines_follow_systemd_quoting_and_expansion() {
    let e = env(&[("MAINPID", "42"), ("ARGS", "-a  -b"), ("X", "x y")]);
    let c = Command::parse(r#"-/bin/kill -HUP $MAINPID"#, &e).unwrap();
    assert_eq!(c.argv, ["/bin/kill", "-HUP", "42"]);
    assert!(c.ignore_failure);
    let c = Command::parse(r#"/bin/sh -c 'echo "$$HOME" ${X}' $ARGS 100%%"#, &e).unwrap();
    assert_eq!(
        c.argv,
        ["/bin/sh", "-c", "echo \"$HOME\" x y", "-a", "-b", "100%"]
    );
    assert_eq!(
        Command::parse("/bin/true $UNSET", &e).unwrap().argv,
        ["/bin/true"]
    );
    assert!(Command::parse("/bin/x %i", &e).is_err());
    assert!(Command::parse("/bin/x 'open", &e).is_err());
}

#[test]
fn unit_file_directives_and_defaults() {
    let text = "[Unit]\nConditionPathExists=/etc/x.conf\nConditionFileNotEmpty=!/etc/y\n\
                [Service]\n# a comment\nExecStart=/bin/prog --config \\\n  /etc/x.conf\n\
                ExecReload=/bin/kill -HUP $MAINPID\nKillSignal=SIGINT\nKillMode=mixed\n\
                TimeoutStopSec=1min 30s\nRuntimeDirectory=a b\nRuntimeDirectoryMode=0750\n\
                Environment=\"A=1 2\" B=3\n";
    let u = UnitFile::parse("x.service", text).unwrap();
    assert_eq!(u.exec_start, "/bin/prog --config  /etc/x.conf");
    assert_eq!(u.exec_reload.as_deref(), Some("/bin/kill -HUP $MAINPID"));
    assert_eq!(u.kill_signal, libc::SIGINT);
    assert_eq!(u.kill_mode, KillMode::Mixed);
    assert_eq!(u.timeout_stop, Some(Duration::from_secs(90)));
    assert_eq!(u.runtime_directories, ["a", "b"]);
    assert_eq!(u.runtime_directory_mode, 0o750);
    assert_eq!(
        u.environment,
        [
            ("A".to_string(), "1 2".to_string()),
            ("B".into(), "3".into())
        ]
    );
    assert_eq!(u.conditions.len(), 2);
    let d = UnitFile::parse("d.service", "[Service]\nExecStart=/bin/true\n").unwrap();
    assert_eq!(
        (d.kill_signal, d.kill_mode, d.timeout_stop),
        (
            libc::SIGTERM,
            KillMode::ControlGroup,
            Some(Duration::from_secs(90))
        )
    );
    assert_eq!(
        UnitFile::parse("n.service", "[Service]\nType=exec\n").unwrap_err(),
        "n.service: no ExecStart= in [Service]"
    );
    assert_eq!(
        UnitFile::parse("k.service", "[Service]\nExecStart=/x\nKillMode=all\n").unwrap_err(),
        "k.service:3: KillMode=all: allowed control-group, mixed, process, none"
    );
}

#[test]
fn time_spans() {
    assert_eq!(
        parse_timespan("10s").unwrap(),
        Some(Duration::from_secs(10))
    );
    assert_eq!(parse_timespan("90").unwrap(), Some(Duration::from_secs(90)));
    assert_eq!(
        parse_timespan("500ms").unwrap(),
        Some(Duration::from_millis(500))
    );
    assert_eq!(parse_timespan("infinity").unwrap(), None);
    assert!(parse_timespan("5 fortnights").is_err());
}

// ------------------------------------------------------------------ live processes

const UNIT: &str = "keepalived/0";

/// A shell daemon that logs its pid, SIGHUP and SIGTERM to `$1` (ignoring SIGTERM
/// when `$2` is `stubborn`) and, when `$3` is set, the IPv4 addresses it sees.
const TOY_DAEMON: &str = r#"#!/bin/sh
log="$1"
[ -n "$3" ] && ip -o -4 addr show >> "$log"
if [ "$2" = stubborn ]; then trap '' TERM; else trap 'echo term >> "$log"; exit 0' TERM; fi
trap 'echo hup >> "$log"' HUP
echo "started $$" >> "$log"
while :; do sleep 0.02; done
"#;

struct Toy {
    m: Model,
    log: PathBuf,
}

/// A one-unit model with the live stand-in and `toy.service` installed under the
/// unit's root with `extra` directives in [Service] (and `unit_extra` in [Unit]).
fn toy(unit_extra: &str, extra: &str, args: &str) -> Toy {
    let mut m = Model::new();
    m.enable_live_services();
    m.use_script_charm("exit 0");
    assert!(m.deploy(1).unwrap().iter().all(|r| r.ok()));
    let root = m.unit(UNIT).root.clone();
    let daemon = root.join("toy-daemon.sh");
    std::fs::write(&daemon, TOY_DAEMON).unwrap();
    let log = root.join("toy.log");
    let unit = format!(
        "[Unit]\nDescription=toy\n{unit_extra}\n[Service]\nExecStart=/bin/sh {} {} {args}\n\
         ExecReload=/bin/kill -HUP $MAINPID\nRuntimeDirectory=toy\n{extra}\n",
        daemon.display(),
        log.display()
    );
    std::fs::create_dir_all(root.join("etc/systemd/system")).unwrap();
    std::fs::write(root.join("etc/systemd/system/toy.service"), unit).unwrap();
    Toy { m, log }
}

impl Toy {
    /// One hook on the unit that runs `systemctl ARGS` and exits 0.
    fn systemctl(&mut self, args: &[&str]) {
        let mut s = self.m.begin(UNIT, Hook::new("update-status")).unwrap();
        let out = s.tool("systemctl", args);
        assert_eq!(out.code, 0, "systemctl {args:?}: {}", out.stderr);
        s.finish(0);
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn wait_log(&self, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.log_text().contains(what) {
            assert!(
                Instant::now() < deadline,
                "no {what:?} in the toy log: {}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn actions(&self) -> Vec<Action> {
        self.m
            .unit(UNIT)
            .services
            .as_ref()
            .unwrap()
            .events
            .iter()
            .map(|e| e.action.clone())
            .collect()
    }
}

fn alive(pid: i32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with(['Z', 'X']))
}

#[test]
fn start_reload_stop_run_exec_lines_and_signals_on_the_real_process() {
    let mut t = toy("", "KillMode=mixed\nTimeoutStopSec=5s", "");
    let root = t.m.unit(UNIT).root.clone();
    t.systemctl(&["start", "toy.service"]);
    t.wait_log("started");
    let pid = t.m.services(UNIT).main_pid("toy.service").unwrap();
    assert!(
        t.log_text().contains(&format!("started {pid}")),
        "{}",
        t.log_text()
    );
    assert!(
        root.join("run/toy").is_dir(),
        "RuntimeDirectory= made under the root"
    );

    // A second start of a running service does nothing (systemd: already active).
    t.systemctl(&["start", "toy"]);
    assert_eq!(t.m.services(UNIT).main_pid("toy.service"), Some(pid));

    t.systemctl(&["reload", "toy.service"]);
    t.wait_log("hup");
    assert!(alive(pid), "reload keeps the process");

    t.systemctl(&["stop", "toy.service"]);
    assert!(t.log_text().contains("term"), "{}", t.log_text());
    assert!(!alive(pid));
    assert!(
        !root.join("run/toy").exists(),
        "RuntimeDirectory= removed at stop"
    );
    assert_eq!(
        t.actions(),
        [
            Action::Started { pid },
            Action::Reloaded { pid },
            Action::Stopped { pid, forced: false }
        ]
    );
    let life = &t.m.services(UNIT).lifetimes[0];
    assert_eq!((life.pid, life.end.as_deref()), (pid, Some("exit 0")));
    assert!(life.ended.unwrap() > life.started);
}

#[test]
fn services_start_with_no_signal_blocked_whatever_the_caller_blocks() {
    // SAFETY: sigset_t initialised by sigemptyset; the mask change affects this test's
    // thread (and what it spawns) only.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGHUP);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
    let mut t = toy("", "TimeoutStopSec=5s", "");
    t.systemctl(&["start", "toy.service"]);
    t.wait_log("started");
    let pid = t.m.services(UNIT).main_pid("toy.service").unwrap();
    // Checked by behaviour, not by /proc/PID/status: the toy's shell blocks every
    // signal for a moment whenever it forks, so a SigBlk snapshot is racy. A service
    // that inherited the blocked SIGHUP/SIGTERM would never log "hup", and its stop
    // would end in a forced SIGKILL.
    t.systemctl(&["reload", "toy.service"]);
    t.wait_log("hup");
    t.systemctl(&["stop", "toy.service"]);
    assert_eq!(t.actions()[2], Action::Stopped { pid, forced: false });
}

#[test]
fn restart_is_stop_then_start_with_a_new_main_process() {
    let mut t = toy("", "", "");
    t.systemctl(&["start", "toy.service"]);
    t.wait_log("started");
    let first = t.m.services(UNIT).main_pid("toy.service").unwrap();
    t.systemctl(&["restart", "toy.service"]);
    let second = t.m.services(UNIT).main_pid("toy.service").unwrap();
    assert_ne!(first, second);
    assert!(!alive(first));
    assert_eq!(
        t.actions(),
        [
            Action::Started { pid: first },
            Action::Stopped {
                pid: first,
                forced: false
            },
            Action::Started { pid: second }
        ]
    );
}

#[test]
fn a_service_that_ignores_its_kill_signal_is_killed_after_the_stop_timeout() {
    let mut t = toy("", "TimeoutStopSec=300ms", "stubborn");
    t.systemctl(&["start", "toy.service"]);
    t.wait_log("started");
    let pid = t.m.services(UNIT).main_pid("toy.service").unwrap();
    let t0 = Instant::now();
    t.systemctl(&["stop", "toy.service"]);
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(3),
        "{took:?}"
    );
    assert!(!alive(pid));
    assert_eq!(t.actions()[1], Action::Stopped { pid, forced: true });
    assert_eq!(
        t.m.services(UNIT).lifetimes[0].end.as_deref(),
        Some("SIGKILL")
    );
}

#[test]
fn a_failed_start_condition_skips_the_start_like_systemd() {
    let mut t = toy("ConditionPathExists=/nonexistent/keepalived.conf", "", "");
    t.systemctl(&["start", "toy.service"]);
    assert_eq!(
        t.actions(),
        [Action::Skipped(
            "ConditionPathExists=/nonexistent/keepalived.conf was not met".into()
        )]
    );
    assert!(t.m.services(UNIT).running().is_empty());
}

#[test]
fn calls_that_failed_in_the_hook_are_not_applied() {
    let mut t = toy("", "", "");
    t.m.fail_command(UNIT, "systemctl", &["start"], 1, "boom", Some(1));
    let mut s = t.m.begin(UNIT, Hook::new("update-status")).unwrap();
    assert_eq!(s.tool("systemctl", &["start", "toy.service"]).code, 1);
    s.finish(0);
    assert!(t.m.services(UNIT).running().is_empty());
    assert!(t.actions().is_empty());
}

#[test]
fn a_crash_kills_everything_and_boot_starts_the_enabled_services() {
    let mut t = toy("", "", "");
    t.systemctl(&["enable", "--now", "toy.service"]);
    t.wait_log("started");
    let pid = t.m.services(UNIT).main_pid("toy.service").unwrap();
    t.m.crash_machine(UNIT);
    assert!(!alive(pid));
    assert!(!t.log_text().contains("term"), "a crash runs no stop logic");
    assert_eq!(t.m.status_lines()[0].agent, "lost");
    let runs = t.m.reboot_machine(UNIT).unwrap();
    assert_eq!(
        runs.iter()
            .map(|r| r.hook.name.as_str())
            .collect::<Vec<_>>(),
        ["start"]
    );
    let again = t.m.services(UNIT).main_pid("toy.service").unwrap();
    assert_ne!(again, pid);
    assert_eq!(
        t.actions(),
        [
            Action::Started { pid },
            Action::Crashed { pid },
            Action::Started { pid: again }
        ]
    );
    assert_eq!(t.m.status_lines()[0].agent, "idle");
}

#[test]
fn services_run_inside_the_units_network_namespace_and_die_with_the_model() {
    let mut t = toy("", "", "stubborn addrs");
    t.m.set_unit_netns(UNIT, NetnsSpec::new("eth0", "10.77.9.5/24"))
        .unwrap();
    t.systemctl(&["start", "toy.service"]);
    t.wait_log("started");
    assert!(
        t.log_text().contains("eth0    inet 10.77.9.5/24"),
        "{}",
        t.log_text()
    );
    let pid = t.m.services(UNIT).main_pid("toy.service").unwrap();
    drop(t.m);
    assert!(!alive(pid), "the model's drop kills its services");
}

#[test]
fn a_unit_can_join_an_existing_namespace_without_owning_it() {
    // Someone else's namespace (here made by the emulator's own helper, but owned by
    // the test: it is deleted when `host` drops, after the model).
    let host = juju_emulator::netns::Netns::create(NetnsSpec::new("eth0", "10.77.8.3/24")).unwrap();
    let name = host.name.clone();
    let mut m = Model::new();
    m.use_script_charm(r#"ip -o -4 addr show > "$KEEPALIVED_CHARM_ROOT/net.txt""#);
    m.place_next_units(&[(name.clone(), NetnsSpec::new("eth0", "10.77.8.3/24"))]);
    let runs = m.deploy(1).unwrap();
    assert!(runs.iter().all(|r| r.ok()));
    let root = m.unit(UNIT).root.clone();
    let net = std::fs::read_to_string(root.join("net.txt")).unwrap();
    assert!(net.contains("eth0    inet 10.77.8.3/24"), "{net}");
    assert_eq!(m.unit(UNIT).address, "10.77.8.3");
    assert_eq!(
        m.relation_by_endpoint("juju-info")
            .unwrap()
            .remote_units_data["kubeapi-load-balancer/0"]["private-address"],
        "10.77.8.3"
    );
    drop(m);
    assert!(
        Path::new("/run/netns").join(&name).exists(),
        "the emulator must not delete a namespace it did not make"
    );
}
