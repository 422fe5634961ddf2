//! One host of the lab: a namespace with `eth0` on the bridge, the VRRP daemon it
//! runs (keepalived or our engine), and the faults a test inflicts on it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::ns::{self, Netns, Task};
use super::prober::{self, PROBE_PORT};
use super::proc::Proc;
use super::wait::wait_for;
use super::{mac_text, require_program};

/// One host namespace with its `eth0` on the lab bridge.
pub struct Host {
    pub name: String,
    pub ns: Netns,
    pub ipv4: Ipv4Addr,
    pub ipv6: Ipv6Addr,
    pub mac: [u8; 6],
    /// The EUI-64 link-local the kernel derives from `mac`.
    pub link_local: Ipv6Addr,
    bridge_ns: String,
    /// The veth end in the bridge namespace (the host's "switch port").
    pub port: String,
    dir: PathBuf,
    daemon: Mutex<Option<Daemon>>,
    others: Mutex<Vec<Proc>>,
    listener: Mutex<Option<Task<()>>>,
}

/// The VRRP daemon of a host: keepalived or our engine.
pub struct Daemon {
    pub kind: DaemonKind,
    pub proc: Proc,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DaemonKind {
    Keepalived,
    Engine,
}

impl Host {
    pub(super) fn new(
        name: &str,
        ns: Netns,
        (ipv4, ipv6, mac): (Ipv4Addr, Ipv6Addr, [u8; 6]),
        bridge_ns: String,
        port: String,
        dir: PathBuf,
    ) -> Host {
        Host {
            name: name.to_string(),
            ns,
            ipv4,
            ipv6,
            mac,
            link_local: super::eui64_link_local(&mac),
            bridge_ns,
            port,
            dir,
            daemon: Mutex::new(None),
            others: Mutex::new(Vec::new()),
            listener: Mutex::new(None),
        }
    }

    pub fn mac_text(&self) -> String {
        mac_text(&self.mac)
    }

    fn path(&self, suffix: &str) -> PathBuf {
        self.dir.join(format!("{}.{suffix}", self.name))
    }

    /// Starts keepalived 2.2.7 on `conf` in the foreground: VRRP only (-P), no
    /// respawn (-R, so a killed child stays dead), console logs, and pid files of its
    /// own so instances in several namespaces never see each other as "running".
    pub fn start_keepalived(&self, conf: &str) {
        require_program("keepalived", "keepalived");
        let conf_path = self.path("keepalived.conf");
        std::fs::write(&conf_path, conf).expect("write keepalived.conf");
        let pid = self.path("keepalived.pid");
        let vrrp_pid = self.path("keepalived.vrrp.pid");
        let (c, p, r) = (s(&conf_path), s(&pid), s(&vrrp_pid));
        let argv = [
            "keepalived",
            "-n",
            "-l",
            "-D",
            "-G",
            "-P",
            "-R",
            "-f",
            &c,
            "-p",
            &p,
            "-r",
            &r,
        ];
        let proc = Proc::spawn(
            &self.ns.name,
            "keepalived",
            &argv,
            &self.path("keepalived.log"),
            vec![vrrp_pid],
        );
        self.set_daemon(Daemon {
            kind: DaemonKind::Keepalived,
            proc,
        });
    }

    /// Starts our engine (`keepalived-charm vrrp --config FILE`) with a state file,
    /// a pid file and a metrics address file (see [`Host::engine_metrics_file`]) in
    /// the lab directory.
    pub fn start_engine(&self, conf: &str) {
        let conf_path = self.path("engine.conf");
        std::fs::write(&conf_path, conf).expect("write the engine's keepalived.conf");
        let (c, st, p, m) = (
            s(&conf_path),
            s(&self.path("engine.state.json")),
            s(&self.path("engine.pid")),
            s(&self.engine_metrics_file()),
        );
        let bin = crate::charm_binary();
        let argv = [
            bin,
            "vrrp",
            "--config",
            &c,
            "--state-file",
            &st,
            "--pid-file",
            &p,
            "--metrics-file",
            &m,
        ];
        let proc = Proc::spawn(
            &self.ns.name,
            "engine",
            &argv,
            &self.path("engine.log"),
            Vec::new(),
        );
        self.set_daemon(Daemon {
            kind: DaemonKind::Engine,
            proc,
        });
    }

    /// Starts `kind` on `conf`: keepalived or our engine.
    pub fn start_daemon(&self, kind: DaemonKind, conf: &str) {
        match kind {
            DaemonKind::Keepalived => self.start_keepalived(conf),
            DaemonKind::Engine => self.start_engine(conf),
        }
    }

    /// The engine's `--metrics-file`: absent (metrics off) unless a test writes an
    /// address into it before `start_engine` (or before a SIGHUP).
    pub fn engine_metrics_file(&self) -> PathBuf {
        self.path("engine.metrics-address")
    }

    /// Where our engine writes its state file.
    pub fn engine_state_path(&self) -> PathBuf {
        self.path("engine.state.json")
    }

    /// The engine's state file, if it has written one.
    pub fn engine_state(&self) -> Option<keepalived_charm::engine::state_file::EngineState> {
        keepalived_charm::engine::state_file::read(&self.engine_state_path())
    }

    /// Where our engine's pid file is.
    pub fn engine_pid_path(&self) -> PathBuf {
        self.path("engine.pid")
    }

    /// Replaces the running daemon's config file (atomically, as the charm does),
    /// without signalling it: follow with `signal_daemon(libc::SIGHUP)`.
    pub fn rewrite_conf(&self, conf: &str) {
        let kind = self.with_daemon(|d| d.kind);
        let path = match kind {
            DaemonKind::Engine => self.path("engine.conf"),
            DaemonKind::Keepalived => self.path("keepalived.conf"),
        };
        let tmp = path.with_extension("conf.new");
        std::fs::write(&tmp, conf).expect("write the new config");
        std::fs::rename(&tmp, &path).expect("replace the config");
    }

    /// Pids of the daemon: the main process and, for keepalived, its VRRP child.
    pub fn daemon_pids(&self) -> Vec<i32> {
        self.with_daemon(|d| {
            let mut pids = vec![d.proc.pid()];
            pids.extend(d.proc.child_pids());
            pids
        })
    }

    fn set_daemon(&self, d: Daemon) {
        let mut slot = self.daemon.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(mut old) = slot.take() {
            old.proc.kill_hard();
        }
        *slot = Some(d);
    }

    /// Runs `f` on the daemon; panics if none was started.
    pub fn with_daemon<T>(&self, f: impl FnOnce(&mut Daemon) -> T) -> T {
        let mut slot = self.daemon.lock().unwrap_or_else(|p| p.into_inner());
        let d = slot
            .as_mut()
            .unwrap_or_else(|| panic!("{} runs no daemon", self.name));
        f(d)
    }

    /// Sends `sig` to the daemon's main process (keepalived's parent forwards
    /// SIGTERM/SIGHUP to its VRRP child).
    pub fn signal_daemon(&self, sig: libc::c_int) {
        self.with_daemon(|d| d.proc.signal(sig));
    }

    /// SIGTERM, then waits until every process of the daemon is gone.
    pub fn stop_daemon(&self, within: Duration) {
        self.signal_daemon(libc::SIGTERM);
        wait_for(
            &format!("the daemon of {} to exit", self.name),
            within,
            || self.with_daemon(|d| d.proc.all_gone()),
        );
    }

    /// SIGKILL (children first: a killed keepalived parent would otherwise make its
    /// VRRP child resign gracefully with priority 0).
    pub fn kill_daemon(&self) {
        self.with_daemon(|d| d.proc.kill_hard());
    }

    pub fn daemon_log(&self) -> String {
        self.with_daemon(|d| d.proc.log_text())
    }

    /// Starts another program in this host, killed with the lab.
    pub fn spawn(&self, tag: &str, argv: &[&str]) {
        let proc = Proc::spawn(
            &self.ns.name,
            tag,
            argv,
            &self.path(&format!("{tag}.log")),
            Vec::new(),
        );
        self.others
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(proc);
    }

    /// The name-answering TCP listener for the prober.
    pub fn start_listener(&self) {
        let task = prober::start_listener(&self.ns, &self.name, PROBE_PORT);
        *self.listener.lock().unwrap_or_else(|p| p.into_inner()) = Some(task);
    }

    /// `ip link set eth0 down` inside the host: the daemon sees its interface go down.
    pub fn link_down(&self) {
        self.ns.ip("link set eth0 down");
    }

    /// `ip link set eth0 up`, returning once the link forwards (see
    /// [`Host::wait_operational`]).
    pub fn link_up(&self) {
        self.ns.ip("link set eth0 up");
        self.wait_operational();
    }

    /// Waits until eth0 and its switch port are operationally UP. The kernel attaches
    /// a device's real queueing discipline only when its link-watch work runs, which
    /// is rate-limited system-wide to once a second: until then frames sent on a
    /// freshly raised veth are silently dropped.
    pub fn wait_operational(&self) {
        let operstate = |ns: &str, dev: &str| -> String {
            let out =
                ns::run("ip", &["-n", ns, "-j", "link", "show", "dev", dev]).unwrap_or_default();
            serde_json::from_str::<serde_json::Value>(&out)
                .ok()
                .and_then(|v| v[0]["operstate"].as_str().map(str::to_string))
                .unwrap_or_default()
        };
        wait_for(
            &format!("{}'s link to be operational", self.name),
            Duration::from_secs(10),
            || {
                operstate(&self.ns.name, "eth0") == "UP"
                    && operstate(&self.bridge_ns, &self.port) == "UP"
            },
        );
    }

    /// Takes the host's switch port down: the host loses carrier and vanishes from
    /// the LAN with whatever addresses it still holds.
    pub fn unplug(&self) {
        run_in(&self.bridge_ns, &format!("link set {} down", self.port));
    }

    /// Brings the switch port back, returning once the link forwards.
    pub fn plug(&self) {
        run_in(&self.bridge_ns, &format!("link set {} up", self.port));
        self.wait_operational();
    }

    /// "The machine crashed": unplug, then SIGKILL the daemon. A killed daemon leaves
    /// its VIP on the interface; unplugging first makes that stale VIP disappear from
    /// the LAN the way a dead machine's does (docs/scenarios.md S2). Returns the crash instant.
    pub fn crash(&self) -> Instant {
        let at = Instant::now();
        self.unplug();
        self.kill_daemon();
        at
    }

    /// `ip -j addr show dev eth0`: (address, prefix, tentative).
    pub fn addresses(&self) -> Vec<(IpAddr, u8, bool)> {
        let out = self.ns.ip("-j addr show dev eth0");
        let v: serde_json::Value = serde_json::from_str(&out).expect("ip -j addr output is JSON");
        let mut res = Vec::new();
        for link in v.as_array().into_iter().flatten() {
            for a in link["addr_info"].as_array().into_iter().flatten() {
                let Some(ip) = a["local"].as_str().and_then(|s| s.parse().ok()) else {
                    continue;
                };
                let prefix = a["prefixlen"]
                    .as_u64()
                    .and_then(|p| u8::try_from(p).ok())
                    .unwrap_or(0);
                let tentative = a["tentative"].as_bool().unwrap_or(false);
                res.push((ip, prefix, tentative));
            }
        }
        res
    }

    pub fn has_address(&self, ip: IpAddr) -> bool {
        self.addresses().iter().any(|(a, _, _)| *a == ip)
    }

    /// The neighbour entry for `ip` on eth0: (MAC, states), if any.
    pub fn neighbour(&self, ip: IpAddr) -> Option<(String, Vec<String>)> {
        let out = self.ns.ip(&format!("-j neigh show to {ip} dev eth0"));
        let v: serde_json::Value =
            serde_json::from_str(if out.trim().is_empty() { "[]" } else { &out })
                .expect("ip -j neigh output is JSON");
        let e = v.as_array()?.first()?.clone();
        let mac = e["lladdr"].as_str()?.to_string();
        let states = e["state"]
            .as_array()
            .map(|s| {
                s.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        Some((mac, states))
    }

    /// Kills every process and stops the worker thread (the namespace itself goes
    /// when the Host is dropped).
    pub(super) fn shutdown(&self) {
        if let Some(task) = self
            .listener
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            task.abort();
        }
        if let Some(mut d) = self.daemon.lock().unwrap_or_else(|p| p.into_inner()).take() {
            d.proc.kill_hard();
        }
        for mut p in self
            .others
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain(..)
        {
            p.kill_hard();
        }
        self.ns.stop_worker();
    }
}

fn run_in(ns: &str, args: &str) {
    let mut argv = vec!["-n", ns];
    argv.extend(args.split_whitespace());
    ns::run_ok("ip", &argv);
}

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}
