//! The network-namespace lab (docs/scenarios.md L-1): one bridge namespace with a Linux
//! bridge (`mcast_snooping 0`), N host namespaces each with an `eth0` veth to the
//! bridge, and an observer namespace that plays the client: it probes the VIP every
//! 10 ms (TCP connect; each host answers with its name), listens to adverts, and can
//! capture with tcpdump.
//!
//! Everything a lab creates (processes, namespaces and with them the veths and the
//! bridge) is removed on drop, also when the test panics; artefacts (configs, logs,
//! captures) are kept and their directory printed when it panics. Names carry the pid
//! and a counter, subnets are private and per lab, so tests run in parallel.
//!
//! ```ignore
//! use netns_lab::Lab;
//!
//! let lab = Lab::builder("s3").hosts(3).build(); // h1..h3 + observer "ob"
//! lab.start_listeners(); // each host answers the prober with its name
//! for (i, prio) in [150, 100, 50].into_iter().enumerate() {
//!     lab.host(i).start_keepalived(&lab.keepalived_conf(i, prio).render());
//!     // or: lab.host(i).start_engine(&conf)  (keepalived-charm vrrp --config ...)
//! }
//! let t = Instant::now();
//! let prober = lab.start_prober(lab.vip4().into()); // TCP connect every 10 ms
//! prober.wait_holder("h1", t, Duration::from_secs(10));
//! let t0 = Instant::now();
//! lab.host(0).stop_daemon(Duration::from_secs(5)); // SIGTERM; or .crash(), .link_down()
//! prober.wait_holder("h2", t0, Duration::from_secs(5));
//! let outage = prober.stop().longest_gap_after(t0).unwrap().len();
//! ```
//!
//! In-process code runs inside a namespace through [`Netns::run`] / [`Netns::spawn`] /
//! [`Netns::block_on`] (a worker thread that called `setns`, see [`ns`]); programs run
//! through `ip netns exec` ([`Host::spawn`], [`Netns::exec`]).

pub mod adverts;
pub mod capture;
pub mod faults;
pub mod holders;
pub mod host;
pub mod http;
pub mod juju;
pub mod keepalived;
pub mod ns;
pub mod prober;
pub mod proc;
pub mod vectors;
pub mod wait;

/// The repository's root (the workspace, which is also the charm directory).
pub fn repo() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// The `keepalived-charm` binary cargo built beside this test (see
/// [`juju_emulator::workspace_binary`]).
pub fn charm_binary() -> &'static str {
    static BINARY: OnceLock<String> = OnceLock::new();
    BINARY.get_or_init(|| {
        juju_emulator::workspace_binary("keepalived-charm")
            .display()
            .to_string()
    })
}

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

pub use adverts::{AdvertLog, SeenAdvert};
pub use capture::{Capture, WireEvent};
pub use holders::{HolderReport, HolderWatch, Holding};
pub use host::{Daemon, DaemonKind, Host};
pub use keepalived::{HealthCheck, KeepalivedConf};
pub use ns::{Netns, Task};
pub use prober::{Gap, ProbeReport, Prober, PROBE_PORT};
pub use proc::Proc;
pub use wait::{wait_for, wait_until};

static COUNTER: AtomicU32 = AtomicU32::new(0);
const NS_PREFIX: &str = "kcl";

/// Fails the test with a clear message unless we are root and `ip` works. Lab
/// tests are never skipped silently.
pub fn require_root() {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(
        euid, 0,
        "the network lab needs root (it creates network namespaces and raw sockets); \
         run the tests as root, as CI does"
    );
    if let Err(e) = ns::run("ip", &["-V"]) {
        panic!("the network lab needs iproute2's `ip` on PATH: {e}");
    }
}

/// Panics with the Debian package to install when `name` is not on PATH.
pub fn require_program(name: &str, package: &str) {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
        .unwrap_or(false);
    assert!(
        found,
        "this lab test needs `{name}` on PATH: install the Debian package `{package}` (.ci/run does)"
    );
}

pub struct LabBuilder {
    tag: String,
    hosts: usize,
    observer: bool,
    ipv6_dad: bool,
    tmpfs: bool,
}

impl LabBuilder {
    /// Number of host namespaces (h1, h2, ...).
    pub fn hosts(mut self, n: usize) -> LabBuilder {
        assert!((1..=50).contains(&n), "a lab has 1..50 hosts");
        self.hosts = n;
        self
    }

    /// Whether to build the observer namespace (default yes).
    pub fn observer(mut self, on: bool) -> LabBuilder {
        self.observer = on;
        self
    }

    /// Keep IPv6 duplicate address detection on (default off, so link-locals are
    /// usable at once). The lab's own ULAs are always added with `nodad`.
    pub fn ipv6_dad(mut self, on: bool) -> LabBuilder {
        self.ipv6_dad = on;
        self
    }

    /// Keep the lab's files (daemon configs, state and pid files, logs) on a tmpfs
    /// (`/dev/shm`) rather than in the temporary directory, as production keeps the
    /// engine's state file on `/run`: for measurements of the daemons' own cost, which
    /// a disk-backed directory would inflate (ext4 flushes a file replaced by rename).
    pub fn on_tmpfs(mut self) -> LabBuilder {
        self.tmpfs = true;
        self
    }

    pub fn build(self) -> Lab {
        require_root();
        proc::become_subreaper();
        sweep_leftovers();
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        let id = format!("{NS_PREFIX}{pid}x{n}");
        // 10.X.Y.0/24 and fd00:X:Y::/64, X from the pid and Y from the counter.
        let net = [
            u8::try_from(100 + pid % 100).unwrap_or(100),
            u8::try_from(n % 250).unwrap_or(0) + 1,
        ];
        let base = if self.tmpfs {
            let shm = std::path::PathBuf::from("/dev/shm");
            assert!(
                shm.is_dir(),
                "/dev/shm (a tmpfs) is missing: this measurement needs one"
            );
            shm
        } else {
            std::env::temp_dir()
        };
        let dir = base.join(format!("{id}-{}", self.tag));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));

        let bridge = Netns::create(
            &format!("{id}br"),
            &[
                "net.ipv6.conf.all.disable_ipv6=1",
                "net.ipv6.conf.default.disable_ipv6=1",
            ],
        );
        bridge.ip("link add br0 type bridge mcast_snooping 0");
        bridge.ip("link set br0 up");

        let mut lab = Lab {
            id: id.clone(),
            tag: self.tag,
            dir,
            net,
            hosts: Vec::new(),
            observer: None,
            bridge,
        };
        for i in 0..self.hosts {
            let octet = u8::try_from(11 + i).expect("at most 50 hosts");
            let host = lab.add_host(&format!("h{}", i + 1), octet, self.ipv6_dad);
            lab.hosts.push(host);
        }
        if self.observer {
            lab.observer = Some(lab.add_host("ob", 250, self.ipv6_dad));
        }
        for h in lab.hosts.iter().chain(lab.observer.iter()) {
            h.wait_operational();
            if !self.ipv6_dad {
                let ll = IpAddr::V6(h.link_local);
                wait_for(
                    &format!("{}'s link-local {ll}", h.name),
                    Duration::from_secs(10),
                    || {
                        h.addresses()
                            .iter()
                            .any(|(a, _, tentative)| *a == ll && !tentative)
                    },
                );
            }
        }
        lab
    }
}

/// A built lab. See the module documentation.
pub struct Lab {
    pub id: String,
    pub tag: String,
    /// Configs, logs and captures; kept when the test panics.
    pub dir: PathBuf,
    net: [u8; 2],
    hosts: Vec<Host>,
    observer: Option<Host>,
    bridge: Netns,
}

impl Lab {
    /// A lab named after `tag` (a few letters naming the test).
    pub fn builder(tag: &str) -> LabBuilder {
        LabBuilder {
            tag: tag.to_string(),
            hosts: 2,
            observer: true,
            ipv6_dad: false,
            tmpfs: false,
        }
    }

    fn add_host(&self, name: &str, octet: u8, dad: bool) -> Host {
        let sysctls: &[&str] = if dad {
            &[]
        } else {
            &[
                "net.ipv6.conf.all.accept_dad=0",
                "net.ipv6.conf.default.accept_dad=0",
            ]
        };
        let ns = Netns::create(&format!("{}{}", self.id, name), sysctls);
        let port = format!("p{name}");
        self.bridge.ip(&format!(
            "link add {port} type veth peer name eth0 netns {}",
            ns.name
        ));
        self.bridge.ip(&format!("link set {port} master br0 up"));
        let mac = [0x02, self.net[0], self.net[1], 0, 0, octet];
        let ipv4 = self.addr4(octet);
        let ipv6 = self.addr6(u16::from(octet));
        ns.ip(&format!("link set eth0 address {}", mac_text(&mac)));
        ns.ip(&format!("addr add {ipv4}/24 dev eth0"));
        ns.ip(&format!("addr add {ipv6}/64 dev eth0 nodad"));
        ns.ip("link set eth0 up");
        Host::new(
            name,
            ns,
            (ipv4, ipv6, mac),
            self.bridge.name.clone(),
            port,
            self.dir.clone(),
        )
    }

    /// Host `i`, counted from 0 (`host(0)` is "h1").
    pub fn host(&self, i: usize) -> &Host {
        &self.hosts[i]
    }

    pub fn hosts(&self) -> &[Host] {
        &self.hosts
    }

    pub fn observer(&self) -> &Host {
        self.observer
            .as_ref()
            .expect("this lab was built without an observer")
    }

    pub fn bridge(&self) -> &Netns {
        &self.bridge
    }

    /// 10.X.Y.`last`
    pub fn addr4(&self, last: u8) -> Ipv4Addr {
        Ipv4Addr::new(10, self.net[0], self.net[1], last)
    }

    /// fd00:X:Y::`last` (hex digits of `last` as written: `addr6(0x100)` is ::100).
    pub fn addr6(&self, last: u16) -> Ipv6Addr {
        Ipv6Addr::new(
            0xfd00,
            u16::from(self.net[0]),
            u16::from(self.net[1]),
            0,
            0,
            0,
            0,
            last,
        )
    }

    /// The lab's IPv4 VIP, 10.X.Y.100.
    pub fn vip4(&self) -> Ipv4Addr {
        self.addr4(100)
    }

    /// The lab's IPv6 VIP, fd00:X:Y::100.
    pub fn vip6(&self) -> Ipv6Addr {
        self.addr6(0x100)
    }

    /// keepalived.conf for host `i` at `priority`: VRRPv2, VRID 51, 1 s, the IPv4 VIP.
    pub fn keepalived_conf(&self, i: usize, priority: u8) -> KeepalivedConf {
        KeepalivedConf::new(
            &self.hosts[i].name,
            priority,
            &[format!("{}/24", self.vip4())],
        )
    }

    /// Starts the name-answering listener on every host.
    pub fn start_listeners(&self) {
        for h in &self.hosts {
            h.start_listener();
        }
    }

    /// Probes `vip` from the observer every 10 ms (200 ms timeout per probe).
    pub fn start_prober(&self, vip: IpAddr) -> Prober {
        Prober::start(
            &self.observer().ns,
            SocketAddr::new(vip, PROBE_PORT),
            Duration::from_millis(10),
            Duration::from_millis(200),
        )
    }

    /// Records adverts seen by the observer (IPv4 or IPv6 per `family_of`).
    pub fn watch_adverts(&self, family_of: IpAddr) -> AdvertLog {
        let ob = self.observer();
        let own = match family_of {
            IpAddr::V4(_) => IpAddr::V4(ob.ipv4),
            IpAddr::V6(_) => IpAddr::V6(ob.link_local),
        };
        AdvertLog::start(&ob.ns, "eth0", own)
    }

    /// Records which hosts hold which addresses, and when (see [`holders`]).
    pub fn watch_holders(&self) -> HolderWatch {
        HolderWatch::start(self)
    }

    /// tcpdump on the observer's eth0 with `filter` (e.g. "vrrp or arp").
    pub fn capture(&self, filter: &str, tag: &str) -> Capture {
        require_program("tcpdump", "tcpdump");
        Capture::start(&self.observer().ns.name, "eth0", filter, &self.dir, tag)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // Processes first (they hold the namespaces busy), then the worker threads,
        // then the namespaces (deleting a namespace deletes its veth ends, which
        // deletes the peers in the bridge namespace).
        for h in self.hosts.iter().chain(self.observer.iter()) {
            h.shutdown();
        }
        self.bridge.stop_worker();
        // LAB_KEEP=1 keeps them after a pass too (daemon logs for a closer look).
        if std::thread::panicking() || std::env::var_os("LAB_KEEP").is_some() {
            eprintln!("lab {}: artefacts kept in {}", self.id, self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

pub fn mac_text(mac: &[u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// fe80::/64 + modified EUI-64 of `mac` (RFC 4291 appendix A), what the kernel
/// assigns with the default addr_gen_mode.
pub fn eui64_link_local(mac: &[u8; 6]) -> Ipv6Addr {
    let [a, b, c, d, e, f] = *mac;
    Ipv6Addr::new(
        0xfe80,
        0,
        0,
        0,
        u16::from_be_bytes([a ^ 0x02, b]),
        u16::from_be_bytes([c, 0xff]),
        u16::from_be_bytes([0xfe, d]),
        u16::from_be_bytes([e, f]),
    )
}

/// Removes namespaces (and the processes inside them) left by lab runs whose test
/// process died without cleaning up (killed by a timeout, SIGKILL). Only names with
/// our prefix and the pid of a process that no longer exists are touched.
fn sweep_leftovers() {
    let Ok(entries) = std::fs::read_dir("/run/netns") else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(NS_PREFIX) else {
            continue;
        };
        let Some(pid) = rest
            .split_once('x')
            .and_then(|(p, _)| p.parse::<i32>().ok())
        else {
            continue;
        };
        if pid == std::process::id() as i32 || proc::alive(pid) {
            continue;
        }
        if let Ok(pids) = ns::run("ip", &["netns", "pids", &name]) {
            for p in pids.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
                proc::send_signal(p, libc::SIGKILL);
            }
        }
        let _ = ns::run("ip", &["netns", "del", &name]);
    }
}
