//! `make bench-footprint`: memory and CPU of our engine and of keepalived 2.2.7, in
//! the same run, on the same two lab hosts (a MASTER and a BACKUP):
//!
//! * idle at the charm's defaults (VRRPv2, 1 s adverts): RSS of every process of the
//!   daemon, and CPU time over `IDLE_SECS` (default 60) from `/proc/PID/task/*/schedstat`;
//!   our engine with its metrics endpoint on and scraped every 10 s (as Prometheus
//!   would), and with it off;
//! * busy (VRRPv3, 0.02 s adverts): CPU per 1000 adverts sent, over 20 s;
//! * the floor beside them: the least any VRRP implementation does on this machine
//!   for the wire alone, in a process of its own (this bench, re-executed with
//!   `--floor`): a Master sleeps to each advert's deadline and sends it, one timer
//!   wake-up and one `sendto` per advert; a Backup blocks in `recv`, one wake-up per
//!   advert. No timers besides, no election, no state file, no health: what is left
//!   when the daemon's own work is taken away.
//!
//! Daemons are measured in turn, `REPS` rounds (default 3), interleaved so that the
//! machine's background noise falls on all of them alike; the table shows the median.
//! The lab's files live on a tmpfs, as the engine's state file does in production
//! (`/run`): on ext4, replacing the file by rename flushes it, which alone would
//! triple our engine's idle CPU time.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use netns_lab::http::http_get;
use netns_lab::proc::{cpu_ns, rss_kb, switches};
use netns_lab::{DaemonKind, KeepalivedConf, Lab};
use vrrp_core::packet::{encode_advert, EncodeOptions};
use vrrp_core::proto::{Advert, AdvertInterval, Auth, Priority, Version, Vrid};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Daemon {
    OursMetrics,
    Ours,
    Keepalived,
    Floor,
}

impl Daemon {
    fn name(self) -> &'static str {
        match self {
            Daemon::OursMetrics => "ours, metrics on (scraped every 10 s)",
            Daemon::Ours => "ours, metrics off",
            Daemon::Keepalived => "keepalived 2.2.7 (parent + VRRP child)",
            Daemon::Floor => "floor: a timed sendto per advert / a blocking recv",
        }
    }
}

const METRICS: &str = "127.0.0.1:9165";

#[derive(Clone, Copy, Debug, Default)]
struct Sample {
    rss_master_kb: u64,
    rss_backup_kb: u64,
    /// CPU ms per minute, idle at v2 1 s.
    idle_master_ms_per_min: f64,
    idle_backup_ms_per_min: f64,
    /// Times a thread of the daemon went to sleep and woke, per minute, idle: the
    /// structural part of idle CPU (each wake-up costs tens of µs of cold caches,
    /// whatever it does).
    idle_master_wakes_per_min: f64,
    idle_backup_wakes_per_min: f64,
    /// CPU s per 1000 adverts at v3 0.02 s.
    busy_master_per_1000: f64,
    busy_backup_per_1000: f64,
}

fn conf(lab: &Lab, i: usize, version: u8, advert_int: &str) -> String {
    let mut c: KeepalivedConf = lab.keepalived_conf(i, [254, 253][i]);
    c.version = version;
    c.advert_int = advert_int.to_string();
    c.render()
}

/// What runs on the two hosts: a daemon the lab started, or the floor's own
/// processes (master first).
enum Running {
    Lab,
    Floor(Vec<Child>),
}

impl Running {
    /// Every process of what runs on host `i`.
    fn pids(&self, lab: &Lab, i: usize) -> Vec<i32> {
        match self {
            Running::Lab => lab.host(i).daemon_pids(),
            Running::Floor(children) => vec![children[i].id() as i32],
        }
    }

    fn stop(self, lab: &Lab) {
        match self {
            Running::Lab => {
                for i in 0..2 {
                    lab.host(i).stop_daemon(Duration::from_secs(5));
                }
            }
            Running::Floor(children) => {
                for mut f in children {
                    let _ = f.kill();
                    let _ = f.wait();
                }
            }
        }
    }
}

fn start(lab: &Lab, daemon: Daemon, version: u8, advert_int: &str) -> Running {
    if daemon == Daemon::Floor {
        return Running::Floor(start_floor(lab, version, advert_int));
    }
    let vip: IpAddr = lab.vip4().into();
    for i in 0..2 {
        let host = lab.host(i);
        let metrics = if daemon == Daemon::OursMetrics {
            METRICS
        } else {
            ""
        };
        std::fs::write(host.engine_metrics_file(), metrics).expect("metrics file");
        let kind = match daemon {
            Daemon::Keepalived => DaemonKind::Keepalived,
            _ => DaemonKind::Engine,
        };
        host.start_daemon(kind, &conf(lab, i, version, advert_int));
        if i == 0 {
            netns_lab::wait_for("h1 to hold the VIP", Duration::from_secs(15), || {
                host.has_address(vip)
            });
        }
    }
    Running::Lab
}

/// Starts the floor (see the module doc) on h1 (Master) and h2 (Backup).
fn start_floor(lab: &Lab, version: u8, advert_int: &str) -> Vec<Child> {
    let exe = std::env::current_exe().expect("this bench's path");
    let centis = (advert_int.parse::<f64>().expect("an interval") * 100.0).round() as u16;
    ["master", "backup"]
        .iter()
        .enumerate()
        .map(|(i, role)| {
            let host = lab.host(i);
            Command::new("ip")
                .args(["netns", "exec", &host.ns.name])
                .arg(&exe)
                .args([
                    "--floor",
                    role,
                    &host.ipv4.to_string(),
                    &version.to_string(),
                    &centis.to_string(),
                    &lab.vip4().to_string(),
                    // The VRID the daemons measured beside it run.
                    &lab.keepalived_conf(i, 254).vrid.to_string(),
                ])
                .spawn()
                .expect("the floor process starts")
        })
        .collect()
}

/// The floor's process: `--floor master|backup SRC VERSION CENTIS VIP VRID`.
fn floor(args: &[String]) {
    let [role, src, version, centis, vip, vrid] = args else {
        panic!("--floor master|backup SRC VERSION CENTIS VIP VRID, not {args:?}");
    };
    let src: Ipv4Addr = src.parse().expect("SRC");
    let group = Ipv4Addr::new(224, 0, 0, 18);
    let socket = socket2::Socket::new(
        socket2::Domain::IPV4,
        socket2::Type::RAW,
        Some(socket2::Protocol::from(112)),
    )
    .expect("a raw VRRP socket");
    socket
        .set_multicast_loop_v4(false)
        .expect("IP_MULTICAST_LOOP");
    socket.set_multicast_ttl_v4(255).expect("IP_MULTICAST_TTL");
    socket.set_multicast_if_v4(&src).expect("IP_MULTICAST_IF");
    if role == "backup" {
        socket
            .join_multicast_v4(&group, &src)
            .expect("join 224.0.0.18");
        let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 2048];
        loop {
            let _ = socket.recv(&mut buf);
        }
    }
    let version = if version == "3" {
        Version::V3
    } else {
        Version::V2
    };
    let interval =
        AdvertInterval::from_centis(centis.parse().expect("CENTIS")).expect("an interval");
    let advert = Advert {
        version,
        vrid: Vrid::new(vrid.parse().expect("VRID")).expect("a VRID"),
        priority: Priority::from_wire(254),
        interval,
        addresses: vec![vip.parse().expect("VIP")],
        auth: Auth::None,
    };
    let bytes = encode_advert(&advert, src.into(), group.into(), &EncodeOptions::default())
        .expect("an advert");
    let to = socket2::SockAddr::from(SocketAddrV4::new(group, 0));
    let period = Duration::from_millis(u64::from(interval.centis()) * 10);
    let mut next = Instant::now();
    loop {
        let _ = socket.send_to(&bytes, &to);
        next += period;
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
}

/// Sleeps `total`, scraping both engines every 10 s when their metrics are on.
fn idle(lab: &Lab, daemon: Daemon, total: Duration) {
    let end = Instant::now() + total;
    let addr: SocketAddr = METRICS.parse().expect("address");
    while Instant::now() < end {
        if daemon == Daemon::OursMetrics {
            for i in 0..2 {
                let body = http_get(&lab.host(i).ns.name, addr, "/metrics");
                assert!(
                    body.is_some_and(|b| b.contains("keepalived_vrrp_state")),
                    "h{} serves no metrics",
                    i + 1
                );
            }
        }
        std::thread::sleep(
            Duration::from_secs(10).min(end.saturating_duration_since(Instant::now())),
        );
    }
}

fn measure(daemon: Daemon, idle_secs: u64) -> Sample {
    let lab = Lab::builder("foot").hosts(2).on_tmpfs().build();
    let adverts = lab.watch_adverts(lab.vip4().into());
    // Idle, at the charm's defaults.
    let running = start(&lab, daemon, 2, "1");
    std::thread::sleep(Duration::from_secs(5));
    let (m, b) = (running.pids(&lab, 0), running.pids(&lab, 1));
    let cpu = |pids: &[i32]| pids.iter().map(|p| cpu_ns(*p)).sum::<u64>();
    let sw = |pids: &[i32]| pids.iter().map(|p| switches(*p)).sum::<u64>();
    let (m0, b0, ms0, bs0) = (cpu(&m), cpu(&b), sw(&m), sw(&b));
    let t0 = Instant::now();
    idle(&lab, daemon, Duration::from_secs(idle_secs));
    let minutes = t0.elapsed().as_secs_f64() / 60.0;
    let (m1, b1, ms1, bs1) = (cpu(&m), cpu(&b), sw(&m), sw(&b));
    let per_min = |ns: u64| ns as f64 / 1e6 / minutes;
    let mut s = Sample {
        rss_master_kb: m.iter().copied().map(rss_kb).sum(),
        rss_backup_kb: b.iter().copied().map(rss_kb).sum(),
        idle_master_ms_per_min: per_min(m1 - m0),
        idle_backup_ms_per_min: per_min(b1 - b0),
        idle_master_wakes_per_min: (ms1 - ms0) as f64 / minutes,
        idle_backup_wakes_per_min: (bs1 - bs0) as f64 / minutes,
        ..Sample::default()
    };
    running.stop(&lab);
    // Busy: VRRPv3 at 0.02 s.
    let running = start(&lab, daemon, 3, "0.02");
    std::thread::sleep(Duration::from_secs(2));
    let (m, b) = (running.pids(&lab, 0), running.pids(&lab, 1));
    let (m0, b0) = (cpu(&m), cpu(&b));
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_secs(20));
    let (m1, b1) = (cpu(&m), cpu(&b));
    let t1 = Instant::now();
    let src = IpAddr::V4(lab.host(0).ipv4);
    let n = adverts
        .all()
        .iter()
        .filter(|a| a.src == src && a.at >= t0 && a.at <= t1)
        .count()
        .max(1);
    s.busy_master_per_1000 = (m1 - m0) as f64 / 1e9 / n as f64 * 1000.0;
    s.busy_backup_per_1000 = (b1 - b0) as f64 / 1e9 / n as f64 * 1000.0;
    running.stop(&lab);
    s
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(at) = args.iter().position(|a| a == "--floor") {
        floor(&args[at + 1..]);
        return;
    }
    let env = |k: &str, d: u64| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let reps = env("REPS", 3) as usize;
    let idle_secs = env("IDLE_SECS", 60);
    let daemons = [
        Daemon::OursMetrics,
        Daemon::Ours,
        Daemon::Keepalived,
        Daemon::Floor,
    ];
    let mut samples: Vec<(Daemon, Sample)> = Vec::new();
    for rep in 0..reps {
        for d in daemons {
            let s = measure(d, idle_secs);
            eprintln!("#{} {}: {s:?}", rep + 1, d.name());
            samples.push((d, s));
        }
    }
    println!(
        "\nFootprint: median of {reps} rounds; idle = VRRPv2 1 s over {idle_secs} s, busy = VRRPv3 0.02 s over 20 s\n"
    );
    println!("| daemon | RSS master / backup (kB) | idle CPU ms per minute, master / backup | idle wake-ups per minute, master / backup | busy CPU s per 1000 adverts, master / backup |");
    println!("|---|---|---|---|---|");
    for d in daemons {
        let of = |f: fn(&Sample) -> f64| {
            median(
                samples
                    .iter()
                    .filter(|(x, _)| *x == d)
                    .map(|(_, s)| f(s))
                    .collect(),
            )
        };
        println!(
            "| {} | {:.0} / {:.0} | {:.1} / {:.1} | {:.0} / {:.0} | {:.4} / {:.4} |",
            d.name(),
            of(|s| s.rss_master_kb as f64),
            of(|s| s.rss_backup_kb as f64),
            of(|s| s.idle_master_ms_per_min),
            of(|s| s.idle_backup_ms_per_min),
            of(|s| s.idle_master_wakes_per_min),
            of(|s| s.idle_backup_wakes_per_min),
            of(|s| s.busy_master_per_1000),
            of(|s| s.busy_backup_per_1000),
        );
    }
}
