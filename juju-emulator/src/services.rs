//! The live systemd stand-in: systemd cannot be PID 1 in the test environment, so when
//! a test enables it ([`super::Model::enable_live_services`]) the harness plays
//! systemd's part for real after each hook. The `systemctl` tool still only records
//! calls and answers from recorded state; this module then applies the hook's
//! successful calls, in order, to real processes:
//!
//! * `start` runs the unit file's `ExecStart=` (read from the unit file under the
//!   unit's machine root, as systemd would load it) as a child in its own process
//!   group (the stand-in's "cgroup") inside the unit's network namespace, output to
//!   `<journal dir>/<service>.log`; `RuntimeDirectory=` is made under `<root>/run/`
//!   first and a failed `Condition...=` skips the start, as in systemd;
//! * `reload` runs `ExecReload=` with `$MAINPID` (the charm's is `kill -HUP`; helpers
//!   run outside the namespace: pids are not namespaced);
//! * `stop` runs `ExecStop=` if any, sends `KillSignal=` per `KillMode=`, waits
//!   `TimeoutStopSec=` for the main process, then SIGKILLs what is left of the group,
//!   and removes the runtime directories;
//! * `restart` is stop + start; `enable --now` / `disable --now` start / stop.
//!
//! Calls are applied after the hook, whatever its exit code: a `systemctl` call takes
//! effect when it is made, as the recorded machine state already does. Services start
//! with an empty signal mask and default dispositions, as under systemd, whatever the
//! test process blocked. The unit file is read from disk at each start (systemd would
//! use the definition loaded at the last daemon-reload). Not emulated:
//! `Restart=` (a dead service stays dead, like on a machine that died), the sandboxing
//! directives (checked with `systemd-analyze verify` elsewhere) and `Type=notify`
//! readiness. Every start and end is recorded with its instant ([`Lifetime`],
//! [`ServiceEvent`]) for timelines. Everything still running is SIGKILLed on drop.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::OpenOptions;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command as Process, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::state::ServiceCall;
use super::unitfile::{Command, KillMode, UnitFile};

/// The PATH systemd gives services.
const SERVICE_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// How long ExecReload= / ExecStop= may run.
const HELPER_TIMEOUT: Duration = Duration::from_secs(10);

/// One run of a service's main process.
#[derive(Debug, Clone)]
pub struct Lifetime {
    pub service: String,
    pub pid: i32,
    pub started: Instant,
    pub ended: Option<Instant>,
    /// How it ended: `"exit 0"`, `"SIGTERM"`, `"SIGKILL"`.
    pub end: Option<String>,
}

/// What the stand-in did, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Started {
        pid: i32,
    },
    /// A `Condition...=` failed: systemd skips the start (the job still succeeds).
    Skipped(String),
    Reloaded {
        pid: i32,
    },
    /// Stopped on request: `forced` when the stop timeout ran out and SIGKILL was sent.
    Stopped {
        pid: i32,
        forced: bool,
    },
    /// The main process ended by itself (or was killed outside systemd).
    Exited {
        pid: i32,
        how: String,
    },
    /// SIGKILLed with the whole machine ([`LiveServices::crash`]).
    Crashed {
        pid: i32,
    },
    /// The stand-in could not do what systemd would have done.
    Failed(String),
}

#[derive(Debug, Clone)]
pub struct ServiceEvent {
    pub at: Instant,
    pub service: String,
    pub action: Action,
}

#[derive(Debug)]
struct Running {
    child: Child,
    unit: UnitFile,
    lifetime: usize,
}

impl Running {
    fn pid(&self) -> i32 {
        i32::try_from(self.child.id()).unwrap_or(i32::MAX)
    }
}

/// The live services of one machine (one unit's root and network namespace).
#[derive(Debug)]
pub struct LiveServices {
    root: PathBuf,
    journal: PathBuf,
    running: BTreeMap<String, Running>,
    pub events: Vec<ServiceEvent>,
    pub lifetimes: Vec<Lifetime>,
}

fn describe(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit {code}"),
        (None, Some(sig)) => signal_name(sig),
        _ => "ended".into(),
    }
}

pub fn signal_name(sig: i32) -> String {
    match sig {
        libc::SIGHUP => "SIGHUP".into(),
        libc::SIGINT => "SIGINT".into(),
        libc::SIGKILL => "SIGKILL".into(),
        libc::SIGTERM => "SIGTERM".into(),
        libc::SIGABRT => "SIGABRT".into(),
        libc::SIGSEGV => "SIGSEGV".into(),
        n => format!("signal {n}"),
    }
}

fn kill(pid: i32, sig: i32) {
    // SAFETY: kill(2) takes plain integers and touches no memory of ours; a pid or
    // group that is gone makes it fail with ESRCH, which is fine.
    unsafe {
        libc::kill(pid, sig);
    }
}

/// Reaps whatever is left of process group `pgid` among our children (the stand-in
/// is a child subreaper, so a service's orphaned helpers become ours).
fn reap_group(pgid: i32, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let mut status = 0;
        // SAFETY: waitpid writes only to `status`, a live local; WNOHANG never blocks.
        let rc = unsafe { libc::waitpid(-pgid, &mut status, libc::WNOHANG) };
        if rc < 0 {
            return; // ECHILD: none of our children is left in the group
        }
        if rc == 0 {
            if Instant::now() >= deadline {
                return;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

/// Makes this process the reaper of orphaned descendants, as PID 1 is for systemd's
/// services (keepalived's VRRP child outlives a killed parent).
fn become_subreaper() {
    // SAFETY: PR_SET_CHILD_SUBREAPER takes an integer flag and touches no memory.
    unsafe {
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    }
}

/// `systemctl VERB UNIT...` with options dropped; `None` for calls that change nothing.
fn parse_call(call: &ServiceCall) -> Option<(String, Vec<String>, bool)> {
    if call.argv.first().map(String::as_str) != Some("systemctl") || call.exit_code != 0 {
        return None;
    }
    let mut verb = None;
    let mut units = Vec::new();
    let mut now = false;
    let mut args = call.argv[1..].iter();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--now" => now = true,
            "-s" | "--signal" | "-p" | "--property" | "--kill-whom" | "--kill-value" => {
                args.next();
            }
            s if s.starts_with('-') => {}
            s if verb.is_none() => verb = Some(s.to_string()),
            s if s.contains('.') => units.push(s.to_string()),
            s => units.push(format!("{s}.service")),
        }
    }
    Some((verb?, units, now))
}

impl LiveServices {
    /// Services of the machine whose files live under `root`; logs go to `journal`.
    pub fn new(root: &Path, journal: &Path) -> LiveServices {
        become_subreaper();
        let _ = std::fs::create_dir_all(journal);
        LiveServices {
            root: root.to_path_buf(),
            journal: journal.to_path_buf(),
            running: BTreeMap::new(),
            events: Vec::new(),
            lifetimes: Vec::new(),
        }
    }

    fn record(&mut self, service: &str, action: Action) {
        self.events.push(ServiceEvent {
            at: Instant::now(),
            service: service.to_string(),
            action,
        });
    }

    /// Applies one hook's recorded service calls, in order, inside `netns`.
    pub fn apply(&mut self, netns: Option<&str>, calls: &[ServiceCall]) {
        for call in calls {
            let Some((verb, units, now)) = parse_call(call) else {
                continue;
            };
            for unit in units {
                match verb.as_str() {
                    "start" => self.start(&unit, netns),
                    "stop" => self.stop(&unit),
                    "restart" => self.restart(&unit, netns),
                    "reload" => self.reload(&unit),
                    "reload-or-restart" => {
                        if self.is_running(&unit) {
                            self.reload(&unit)
                        } else {
                            self.start(&unit, netns)
                        }
                    }
                    "try-restart" if self.is_running(&unit) => self.restart(&unit, netns),
                    "enable" if now => self.start(&unit, netns),
                    "disable" if now => self.stop(&unit),
                    _ => {}
                }
            }
        }
    }

    /// The unit file as systemd would find it under the machine root.
    fn unit_file(&self, service: &str) -> Result<UnitFile, String> {
        let path = [
            "etc/systemd/system",
            "run/systemd/system",
            "lib/systemd/system",
            "usr/lib/systemd/system",
        ]
        .iter()
        .map(|d| self.root.join(d).join(service))
        .find(|p| p.is_file())
        .ok_or_else(|| format!("no unit file for {service} under {}", self.root.display()))?;
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        UnitFile::parse(&path.display().to_string(), &text)
    }

    /// Notes services whose main process ended by itself.
    pub fn refresh(&mut self) {
        let names: Vec<String> = self.running.keys().cloned().collect();
        for name in names {
            let Some(r) = self.running.get_mut(&name) else {
                continue;
            };
            if let Ok(Some(status)) = r.child.try_wait() {
                let pid = r.pid();
                if let Some(r) = self.running.remove(&name) {
                    // systemd stops the unit when its main process ends: what is left
                    // of the group goes too.
                    if matches!(r.unit.kill_mode, KillMode::ControlGroup | KillMode::Mixed) {
                        kill(-pid, libc::SIGKILL);
                    }
                    reap_group(pid, Duration::from_millis(200));
                    self.end_lifetime(r.lifetime, status);
                    self.remove_runtime_dirs(&r.unit);
                }
                self.record(
                    &name,
                    Action::Exited {
                        pid,
                        how: describe(status),
                    },
                );
            }
        }
    }

    fn end_lifetime(&mut self, index: usize, status: ExitStatus) {
        if let Some(l) = self.lifetimes.get_mut(index) {
            l.ended = Some(Instant::now());
            l.end = Some(describe(status));
        }
    }

    pub fn is_running(&mut self, service: &str) -> bool {
        self.refresh();
        self.running.contains_key(service)
    }

    /// The main pid of a running service.
    pub fn main_pid(&mut self, service: &str) -> Option<i32> {
        self.refresh();
        self.running.get(service).map(Running::pid)
    }

    /// Services running now.
    pub fn running(&mut self) -> BTreeSet<String> {
        self.refresh();
        self.running.keys().cloned().collect()
    }

    pub fn log_path(&self, service: &str) -> PathBuf {
        self.journal.join(format!("{service}.log"))
    }

    pub fn start(&mut self, service: &str, netns: Option<&str>) {
        if self.is_running(service) {
            return;
        }
        match self.spawn(service, netns) {
            Ok(Some(pid)) => self.record(service, Action::Started { pid }),
            Ok(None) => {}
            Err(e) => self.record(service, Action::Failed(format!("start: {e}"))),
        }
    }

    /// Starts the service; `Ok(None)` when a condition skipped it.
    fn spawn(&mut self, service: &str, netns: Option<&str>) -> Result<Option<i32>, String> {
        let unit = self.unit_file(service)?;
        if let Some(why) = unit.conditions.iter().find_map(|c| c.failure()) {
            self.record(service, Action::Skipped(why));
            return Ok(None);
        }
        let mut env = unit.env()?;
        let command =
            Command::parse(&unit.exec_start, &env).map_err(|e| format!("ExecStart=: {e}"))?;
        for dir in unit.runtime_paths(&self.root) {
            std::fs::create_dir_all(&dir)
                .and_then(|()| {
                    std::fs::set_permissions(
                        &dir,
                        std::fs::Permissions::from_mode(unit.runtime_directory_mode),
                    )
                })
                .map_err(|e| format!("RuntimeDirectory {}: {e}", dir.display()))?;
        }
        env.insert("PATH".into(), SERVICE_PATH.into());
        env.insert("LANG".into(), "C.UTF-8".into());
        let log = self.log_path(service);
        let out = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .map_err(|e| format!("{}: {e}", log.display()))?;
        let mut process = in_netns(netns, &command.argv);
        // SAFETY: the closure runs in the forked child before exec and only calls
        // sigemptyset, sigprocmask and signal, which are async-signal-safe; it touches
        // only its own local sigset.
        unsafe {
            process.pre_exec(|| {
                clean_signals();
                Ok(())
            });
        }
        let child = process
            .env_clear()
            .envs(&env)
            .current_dir("/")
            .stdin(Stdio::null())
            .stdout(out.try_clone().map_err(|e| e.to_string())?)
            .stderr(out)
            .process_group(0)
            .spawn()
            .map_err(|e| format!("cannot run {:?}: {e}", command.argv))?;
        let pid = i32::try_from(child.id()).unwrap_or(i32::MAX);
        self.lifetimes.push(Lifetime {
            service: service.to_string(),
            pid,
            started: Instant::now(),
            ended: None,
            end: None,
        });
        let lifetime = self.lifetimes.len() - 1;
        self.running.insert(
            service.to_string(),
            Running {
                child,
                unit,
                lifetime,
            },
        );
        Ok(Some(pid))
    }

    pub fn reload(&mut self, service: &str) {
        let Some(pid) = self.main_pid(service) else {
            self.record(service, Action::Failed("reload: not running".into()));
            return;
        };
        let line = self
            .running
            .get(service)
            .and_then(|r| r.unit.exec_reload.clone());
        let Some(line) = line else {
            self.record(
                service,
                Action::Failed(
                    "reload: no ExecReload= (systemd: job type reload is not applicable)".into(),
                ),
            );
            return;
        };
        match self.run_helper(service, &line, pid) {
            Ok(()) => self.record(service, Action::Reloaded { pid }),
            Err(e) => self.record(service, Action::Failed(format!("ExecReload=: {e}"))),
        }
    }

    /// Runs ExecReload=/ExecStop= with $MAINPID and waits for it.
    fn run_helper(&self, service: &str, line: &str, main_pid: i32) -> Result<(), String> {
        let unit = self
            .running
            .get(service)
            .map(|r| r.unit.clone())
            .ok_or("not running")?;
        let mut env = unit.env()?;
        env.insert("MAINPID".into(), main_pid.to_string());
        let command = Command::parse(line, &env)?;
        env.insert("PATH".into(), SERVICE_PATH.into());
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path(service))
            .map_err(|e| e.to_string())?;
        let mut child = Process::new(&command.argv[0])
            .args(&command.argv[1..])
            .env_clear()
            .envs(&env)
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot run {:?}: {e}", command.argv))?;
        let deadline = Instant::now() + HELPER_TIMEOUT;
        let status = loop {
            if let Ok(Some(s)) = child.try_wait() {
                break s;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "{:?} did not finish within {HELPER_TIMEOUT:?}",
                    command.argv
                ));
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        if status.success() || command.ignore_failure {
            Ok(())
        } else {
            Err(format!("{:?}: {}", command.argv, describe(status)))
        }
    }

    pub fn stop(&mut self, service: &str) {
        let Some(pid) = self.main_pid(service) else {
            return;
        };
        if let Some(line) = self
            .running
            .get(service)
            .and_then(|r| r.unit.exec_stop.clone())
        {
            if let Err(e) = self.run_helper(service, &line, pid) {
                self.record(service, Action::Failed(format!("ExecStop=: {e}")));
            }
        }
        let Some(mut r) = self.running.remove(service) else {
            return;
        };
        let (signal, mode, timeout) = (r.unit.kill_signal, r.unit.kill_mode, r.unit.timeout_stop);
        match mode {
            KillMode::ControlGroup => kill(-pid, signal),
            KillMode::Mixed | KillMode::Process => kill(pid, signal),
            KillMode::None => {}
        }
        if signal != libc::SIGKILL {
            kill(pid, libc::SIGCONT);
        }
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut forced = false;
        let status = loop {
            if let Ok(Some(s)) = r.child.try_wait() {
                break Some(s);
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                forced = true;
                kill(
                    if mode == KillMode::Process { pid } else { -pid },
                    libc::SIGKILL,
                );
                break r.child.wait().ok();
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        // systemd's final SIGKILL for whatever is left of the unit.
        if matches!(mode, KillMode::ControlGroup | KillMode::Mixed) {
            kill(-pid, libc::SIGKILL);
        }
        reap_group(pid, Duration::from_secs(2));
        if let Some(s) = status {
            self.end_lifetime(r.lifetime, s);
        }
        self.remove_runtime_dirs(&r.unit);
        self.record(service, Action::Stopped { pid, forced });
    }

    fn remove_runtime_dirs(&self, unit: &UnitFile) {
        if unit.runtime_directory_preserve {
            return;
        }
        for dir in unit.runtime_paths(&self.root) {
            let _ = std::fs::remove_dir_all(dir);
        }
    }

    pub fn restart(&mut self, service: &str, netns: Option<&str>) {
        self.stop(service);
        self.start(service, netns);
    }

    /// The machine dies: every service is SIGKILLed at once, nothing runs its stop
    /// logic and runtime directories stay (until [`LiveServices::boot`]).
    pub fn crash(&mut self) {
        let names: Vec<String> = self.running.keys().cloned().collect();
        for name in &names {
            if let Some(r) = self.running.get(name) {
                kill(-r.pid(), libc::SIGKILL);
            }
        }
        for name in names {
            if let Some(mut r) = self.running.remove(&name) {
                let pid = r.pid();
                if let Ok(status) = r.child.wait() {
                    self.end_lifetime(r.lifetime, status);
                }
                reap_group(pid, Duration::from_secs(2));
                self.record(&name, Action::Crashed { pid });
            }
        }
    }

    /// The machine boots: runtime directories are gone (tmpfs) and every `enabled`
    /// service with a unit file starts.
    pub fn boot(&mut self, netns: Option<&str>, enabled: &BTreeSet<String>) {
        let _ = std::fs::remove_dir_all(self.root.join("run"));
        for service in enabled {
            if self.unit_file(service).is_ok() {
                self.start(service, netns);
            }
        }
    }

    /// Events that went wrong (a test asserts there are none).
    pub fn failures(&self) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|e| match &e.action {
                Action::Failed(m) => Some(format!("{}: {m}", e.service)),
                _ => None,
            })
            .collect()
    }
}

/// systemd starts services with no signal blocked and default dispositions; a test
/// process may have either changed (std does not reset the mask for its children).
/// Called between fork and exec: async-signal-safe calls only.
fn clean_signals() {
    // SAFETY: see the caller; `set` is a local initialised by sigemptyset.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
        for sig in [
            libc::SIGHUP,
            libc::SIGINT,
            libc::SIGTERM,
            libc::SIGPIPE,
            libc::SIGUSR1,
            libc::SIGUSR2,
        ] {
            libc::signal(sig, libc::SIG_DFL);
        }
    }
}

/// `argv` run inside `netns` (through `ip netns exec`, which execs it, so the child's
/// pid is the program's) or directly.
fn in_netns(netns: Option<&str>, argv: &[String]) -> Process {
    match netns {
        Some(ns) => {
            let mut p = Process::new(super::netns::ip_binary());
            p.args(["netns", "exec", ns]).args(argv);
            p
        }
        None => {
            let mut p = Process::new(&argv[0]);
            p.args(&argv[1..]);
            p
        }
    }
}

impl Drop for LiveServices {
    fn drop(&mut self) {
        for r in self.running.values() {
            kill(-r.pid(), libc::SIGKILL);
        }
        for (_, mut r) in std::mem::take(&mut self.running) {
            let pid = r.pid();
            let _ = r.child.wait();
            reap_group(pid, Duration::from_secs(1));
        }
    }
}

/// A log file's text ("" if none).
pub fn read_log(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}
