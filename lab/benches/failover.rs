//! `make bench-failover`: client outage of our engine and of keepalived 2.2.7, in the
//! same run, on the namespace lab (needs root and keepalived). Not a timed test: a
//! measurement, printed as a Markdown table.
//!
//! For each fault (the master's machine dies: port down + SIGKILL; its link goes
//! down; graceful stop; config reload on every unit) and each timing (VRRPv2 1 s, and
//! the charm's fast timing: VRRPv3 70 ms, `down_timer_adverts 5`), three hosts run:
//! * "ours": our engine at the charm's priorities 254/244/234 (`charm::priority`);
//! * "keepalived": keepalived 2.2.7 on the same config;
//! * "before": keepalived as the original charm ran it: `state MASTER` priority 101
//!   on the leader, 100 elsewhere, a health check of weight +2 (effective 103 /
//!   102 / 102); its "reload" is a restart, which is what the original charm did on
//!   config-changed.
//!
//! The outage is the longest interval between two answered probes (TCP connect to
//! the VIP from the observer every 10 ms, so ~10 ms means "no probe lost"); "lost" is
//! the number of probes never answered. Then idle RSS and CPU per 1000 adverts of
//! both daemons (/proc/PID/status VmRSS; CPU from /proc/PID/task/*/schedstat, which
//! counts nanoseconds where /proc/PID/stat counts 10 ms ticks).
//!
//! `REPS=N` (default 5) sets the repetitions; `ONLY=v2|v3` one timing;
//! `FAULTS=crash,link,graceful,reload,none` some faults only.
//!
//! With both timings, a last table compares the defaults: the charm's automatic
//! timing runs VRRPv3 70 ms (five missed adverts) once every unit runs this charm (`src/charm/timing.rs`),
//! keepalived and the original charm default to VRRPv2 1 s.
use std::fmt::Write as _;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use netns_lab::faults::{Timing, CHARM_FAST, V2_1S};
use netns_lab::proc::{cpu_ns, rss_kb};
use netns_lab::{DaemonKind, HealthCheck, KeepalivedConf, Lab, Prober};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Variant {
    Ours,
    Keepalived,
    Before,
}

impl Variant {
    fn name(self) -> &'static str {
        match self {
            Variant::Ours => "ours",
            Variant::Keepalived => "keepalived",
            Variant::Before => "before",
        }
    }

    fn kind(self) -> DaemonKind {
        match self {
            Variant::Ours => DaemonKind::Engine,
            Variant::Keepalived | Variant::Before => DaemonKind::Keepalived,
        }
    }
}

const V2: Timing = V2_1S;
/// The charm's automatic timing for an all-ours cluster.
const V3: Timing = CHARM_FAST;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Fault {
    Crash,
    LinkDown,
    Graceful,
    Reload,
    /// Control: nothing happens for 1.5 s; the longest answer gap the prober sees
    /// anyway (scheduling noise on the shared machine) is the floor of every row.
    Nothing,
}

const FAULTS: [Fault; 5] = [
    Fault::Crash,
    Fault::LinkDown,
    Fault::Graceful,
    Fault::Reload,
    Fault::Nothing,
];

impl Fault {
    /// The name `FAULTS=` selects it by.
    fn key(self) -> &'static str {
        match self {
            Fault::Crash => "crash",
            Fault::LinkDown => "link",
            Fault::Graceful => "graceful",
            Fault::Reload => "reload",
            Fault::Nothing => "none",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Fault::Crash => "SIGKILL + link",
            Fault::LinkDown => "link down",
            Fault::Graceful => "graceful stop",
            Fault::Reload => "config reload",
            Fault::Nothing => "none (noise floor)",
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Sample {
    outage: Duration,
    lost: usize,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Host `i`'s config; `extra_vip` adds a second VIP (the reload toggles it).
fn conf(lab: &Lab, i: usize, variant: Variant, timing: Timing, extra_vip: bool) -> String {
    let prio = match variant {
        Variant::Ours | Variant::Keepalived => [254, 244, 234][i],
        Variant::Before => [101, 100, 100][i],
    };
    let mut c: KeepalivedConf = lab.keepalived_conf(i, prio);
    timing.apply(&mut c);
    if extra_vip {
        c.vips.push(format!("{}/24", lab.addr4(101)));
    }
    if variant == Variant::Before {
        c.state_master = i == 0;
        c.check = Some(HealthCheck {
            name: "chk_svc_port".to_string(),
            script: "/bin/true".to_string(),
            interval_s: 1,
            weight: 2,
            rise: 1,
            fall: 1,
        });
    }
    c.render()
}

fn start(lab: &Lab, i: usize, variant: Variant, timing: Timing, extra_vip: bool) {
    let text = conf(lab, i, variant, timing, extra_vip);
    match variant.kind() {
        DaemonKind::Engine => lab.host(i).start_engine(&text),
        DaemonKind::Keepalived => lab.host(i).start_keepalived(&text),
    }
}

fn vip(lab: &Lab) -> IpAddr {
    lab.vip4().into()
}

fn holders(lab: &Lab) -> Vec<String> {
    lab.hosts()
        .iter()
        .filter(|h| h.has_address(vip(lab)))
        .map(|h| h.name.clone())
        .collect()
}

/// h1 holds the VIP alone, and has for a few adverts.
fn wait_steady(lab: &Lab, timing: Timing) {
    netns_lab::wait_for("h1 alone to hold the VIP", Duration::from_secs(15), || {
        holders(lab) == vec!["h1".to_string()]
    });
    std::thread::sleep(timing.interval * 2 + Duration::from_millis(200));
}

/// A fresh prober, returned once it has seen h1 answer.
fn probe(lab: &Lab) -> Prober {
    let p = lab.start_prober(vip(lab));
    p.wait_holder("h1", Instant::now(), Duration::from_secs(5));
    p
}

/// Waits until someone other than `old` answers (probes sent after `t0`), then a
/// settling moment; returns the sample.
fn measure_handover(p: Prober, old: &str, t0: Instant, within: Duration) -> Sample {
    netns_lab::wait_until(
        &format!("a host other than {old} to answer"),
        within,
        || {
            p.report()
                .answered()
                .find(|x| x.sent >= t0 && x.host.as_deref() != Some(old))
                .map(|_| ())
        },
    );
    std::thread::sleep(Duration::from_millis(300));
    finish(p, t0)
}

fn finish(p: Prober, t0: Instant) -> Sample {
    let end = Instant::now() - Duration::from_millis(250);
    let report = p.stop();
    let outage = report
        .longest_gap_after(t0)
        .map(|g| g.len())
        .unwrap_or_default();
    let lost = report
        .probes
        .iter()
        .filter(|x| x.sent >= t0 && x.sent <= end && x.answered.is_none())
        .count();
    Sample { outage, lost }
}

/// One fault on h1, measured, then h1 restored as the master. `extra` is the
/// reload toggle's state.
fn run_fault(
    lab: &Lab,
    variant: Variant,
    timing: Timing,
    fault: Fault,
    adverts: &netns_lab::AdvertLog,
    extra: &mut bool,
) -> Sample {
    let h1 = lab.host(0);
    let h1_src = IpAddr::V4(h1.ipv4);
    // Pessimistic instant for crash and link loss: right after an advert.
    let p = probe(lab);
    let within = Duration::from_secs(10);
    let sample = match fault {
        Fault::Crash => {
            adverts.wait_from(h1_src, Instant::now(), Duration::from_secs(3));
            let t0 = h1.crash();
            let s = measure_handover(p, "h1", t0, within);
            h1.plug();
            let _ = h1
                .ns
                .try_ip(&format!("addr del {}/24 dev eth0", lab.vip4()));
            start(lab, 0, variant, timing, *extra);
            s
        }
        Fault::LinkDown => {
            adverts.wait_from(h1_src, Instant::now(), Duration::from_secs(3));
            let t0 = Instant::now();
            h1.link_down();
            let s = measure_handover(p, "h1", t0, within);
            h1.link_up();
            s
        }
        Fault::Graceful => {
            let t0 = Instant::now();
            h1.stop_daemon(Duration::from_secs(5));
            let s = measure_handover(p, "h1", t0, within);
            start(lab, 0, variant, timing, *extra);
            s
        }
        Fault::Reload if variant == Variant::Before => {
            // The original charm restarted keepalived on config-changed.
            let t0 = Instant::now();
            h1.stop_daemon(Duration::from_secs(5));
            start(lab, 0, variant, timing, *extra);
            netns_lab::wait_until("h1 to be master again", Duration::from_secs(15), || {
                p.report()
                    .answered()
                    .filter(|x| x.sent >= t0)
                    .any(|x| x.host.as_deref() != Some("h1"))
                    .then_some(())
            });
            p.wait_holder("h1", Instant::now(), Duration::from_secs(15));
            std::thread::sleep(Duration::from_millis(300));
            finish(p, t0)
        }
        Fault::Reload => {
            *extra = !*extra;
            for i in 0..3 {
                lab.host(i)
                    .rewrite_conf(&conf(lab, i, variant, timing, *extra));
            }
            let t0 = Instant::now();
            for i in 0..3 {
                lab.host(i).signal_daemon(libc::SIGHUP);
            }
            std::thread::sleep(Duration::from_millis(1500));
            finish(p, t0)
        }
        Fault::Nothing => {
            let t0 = Instant::now();
            std::thread::sleep(Duration::from_millis(1500));
            finish(p, t0)
        }
    };
    wait_steady(lab, timing);
    sample
}

fn stats(samples: &[Sample]) -> (Duration, Duration, Duration, usize) {
    let mut v: Vec<Duration> = samples.iter().map(|s| s.outage).collect();
    v.sort();
    let lost = samples.iter().map(|s| s.lost).max().unwrap_or(0);
    match v.len() {
        0 => (Duration::ZERO, Duration::ZERO, Duration::ZERO, 0),
        n => (v[0], v[n / 2], v[n - 1], lost),
    }
}

/// utime + stime of `pid` in seconds, from /proc/PID/stat (10 ms ticks).
fn stat_cpu_s(pid: i32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0.0;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 and 15 of stat; `rest` starts at field 3.
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|&i| f.get(i).and_then(|x| x.parse::<u64>().ok()))
        .sum();
    ticks as f64 / 100.0
}

fn daemon_rss(lab: &Lab, i: usize) -> u64 {
    lab.host(i).daemon_pids().into_iter().map(rss_kb).sum()
}

struct Resources {
    rss_master_kb: u64,
    rss_backup_kb: u64,
    cpu_master_per_1000: f64,
    cpu_backup_per_1000: f64,
    stat_master_s: f64,
    adverts: usize,
}

/// Idle RSS at v2 1 s, then CPU per 1000 adverts at VRRPv3 0.02 s over 20 s.
fn resources(variant: Variant) -> Resources {
    let lab = Lab::builder(&format!("res{}", variant.name()))
        .hosts(2)
        .build();
    let adverts = lab.watch_adverts(vip(&lab));
    start(&lab, 0, variant, V2, false);
    netns_lab::wait_for("h1 to hold the VIP", Duration::from_secs(10), || {
        lab.host(0).has_address(vip(&lab))
    });
    start(&lab, 1, variant, V2, false);
    std::thread::sleep(Duration::from_secs(3));
    let rss_master_kb = daemon_rss(&lab, 0);
    let rss_backup_kb = daemon_rss(&lab, 1);
    for i in 0..2 {
        lab.host(i).stop_daemon(Duration::from_secs(5));
    }
    let fast = Timing {
        name: "v3 0.02 s",
        version: 3,
        advert_int: "0.02",
        interval: Duration::from_millis(20),
        down_adverts: 3,
    };
    start(&lab, 0, variant, fast, false);
    netns_lab::wait_for("h1 to hold the VIP", Duration::from_secs(10), || {
        lab.host(0).has_address(vip(&lab))
    });
    start(&lab, 1, variant, fast, false);
    std::thread::sleep(Duration::from_secs(2));
    let (m, b) = (lab.host(0).daemon_pids(), lab.host(1).daemon_pids());
    let cpu = |pids: &[i32]| pids.iter().map(|p| cpu_ns(*p)).sum::<u64>();
    let stat = |pids: &[i32]| pids.iter().map(|p| stat_cpu_s(*p)).sum::<f64>();
    let (m0, b0, s0) = (cpu(&m), cpu(&b), stat(&m));
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_secs(20));
    let (m1, b1, s1) = (cpu(&m), cpu(&b), stat(&m));
    let t1 = Instant::now();
    let src = IpAddr::V4(lab.host(0).ipv4);
    let n = adverts
        .all()
        .iter()
        .filter(|a| a.src == src && a.at >= t0 && a.at <= t1)
        .count()
        .max(1);
    let per_1000 = |ns: u64| ns as f64 / 1e9 / n as f64 * 1000.0;
    Resources {
        rss_master_kb,
        rss_backup_kb,
        cpu_master_per_1000: per_1000(m1 - m0),
        cpu_backup_per_1000: per_1000(b1 - b0),
        stat_master_s: (s1 - s0) / n as f64 * 1000.0,
        adverts: n,
    }
}

fn main() {
    // `cargo bench` passes --bench; a filter argument is accepted and ignored.
    let reps: usize = std::env::var("REPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let only = std::env::var("ONLY").ok();
    let timings: Vec<Timing> = [V2, V3]
        .into_iter()
        .filter(|t| match only.as_deref() {
            Some(o) => t.name.starts_with(o),
            None => true,
        })
        .collect();
    let wanted = std::env::var("FAULTS").ok();
    let faults: Vec<Fault> = FAULTS
        .into_iter()
        .filter(|f| match wanted.as_deref() {
            Some(list) => list.split(',').any(|k| k.trim() == f.key()),
            None => true,
        })
        .collect();
    let variants = [Variant::Ours, Variant::Keepalived, Variant::Before];
    let mut results: Vec<(Timing, Variant, Fault, Vec<Sample>)> = Vec::new();
    for &timing in &timings {
        for &variant in &variants {
            let lab = Lab::builder(&format!("bench{}", variant.name()))
                .hosts(3)
                .build();
            lab.start_listeners();
            let adverts = lab.watch_adverts(vip(&lab));
            start(&lab, 0, variant, timing, false);
            netns_lab::wait_for("h1 to hold the VIP", Duration::from_secs(15), || {
                lab.host(0).has_address(vip(&lab))
            });
            for i in 1..3 {
                start(&lab, i, variant, timing, false);
            }
            wait_steady(&lab, timing);
            let mut extra = false;
            let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); faults.len()];
            for rep in 0..reps {
                for (f, fault) in faults.iter().enumerate() {
                    let s = run_fault(&lab, variant, timing, *fault, &adverts, &mut extra);
                    eprintln!(
                        "{} {} {} #{}: outage {:.1} ms, {} probes lost",
                        timing.name,
                        variant.name(),
                        fault.name(),
                        rep + 1,
                        ms(s.outage),
                        s.lost
                    );
                    samples[f].push(s);
                }
            }
            for (f, fault) in faults.iter().enumerate() {
                results.push((timing, variant, *fault, samples[f].clone()));
            }
        }
    }

    let mut out = String::new();
    let _ = writeln!(
        out,
        "\nClient outage (ms, min / median / max over {reps} runs; probe every 10 ms, so ~10 ms = no probe lost; lost = most probes lost in one run)\n"
    );
    let _ = writeln!(
        out,
        "| timing | fault | ours 254/244/234 | keepalived 254/244/234 | ratio ours/keepalived (median) | before: keepalived 101/100 +2 |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|");
    let cell = |s: &[Sample]| {
        let (lo, med, hi, lost) = stats(s);
        format!(
            "{:.1} / {:.1} / {:.1} (lost {lost})",
            ms(lo),
            ms(med),
            ms(hi)
        )
    };
    let get = |timing: Timing, v: Variant, fault: Fault| {
        results
            .iter()
            .find(|(t, var, f, _)| *t == timing && *var == v && *f == fault)
            .map(|(_, _, _, s)| s.clone())
            .unwrap_or_default()
    };
    for &timing in &timings {
        for &fault in &faults {
            let (ours, ka, before) = (
                get(timing, Variant::Ours, fault),
                get(timing, Variant::Keepalived, fault),
                get(timing, Variant::Before, fault),
            );
            let ratio = ms(stats(&ours).1) / ms(stats(&ka).1).max(f64::MIN_POSITIVE);
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {:.2} | {} |",
                timing.name,
                fault.name(),
                cell(&ours),
                cell(&ka),
                ratio,
                cell(&before)
            );
        }
    }
    if timings.len() == 2 {
        let _ = writeln!(
            out,
            "\nAt the defaults, same run: the charm's automatic timing for an all-ours cluster (VRRPv3 70 ms, down after 5 missed adverts) vs keepalived and the original charm at theirs (VRRPv2 1 s)\n"
        );
        let _ = writeln!(
            out,
            "| fault | ours, charm default (v3 0.07 s, 5 missed) | keepalived default (v2 1 s) | ratio (median) | before: original charm (v2 1 s) |"
        );
        let _ = writeln!(out, "|---|---|---|---:|---|");
        for &fault in &faults {
            let ours = get(V3, Variant::Ours, fault);
            let ka = get(V2, Variant::Keepalived, fault);
            let before = get(V2, Variant::Before, fault);
            let ratio = ms(stats(&ours).1) / ms(stats(&ka).1).max(f64::MIN_POSITIVE);
            let _ = writeln!(
                out,
                "| {} | {} | {} | {:.2} | {} |",
                fault.name(),
                cell(&ours),
                cell(&ka),
                ratio,
                cell(&before)
            );
        }
    }
    println!("{out}");

    let ours = resources(Variant::Ours);
    let ka = resources(Variant::Keepalived);
    println!("Resources (idle RSS at v2 1 s; CPU over 20 s at VRRPv3 0.02 s)\n");
    println!("| daemon | RSS master (kB) | RSS backup (kB) | CPU s / 1000 adverts, master | CPU s / 1000 adverts, backup | master, /proc/PID/stat ticks | adverts measured |");
    println!("|---|---|---|---|---|---|---|");
    for (name, r) in [("ours", &ours), ("keepalived (parent + VRRP child)", &ka)] {
        println!(
            "| {name} | {} | {} | {:.4} | {:.4} | {:.3} | {} |",
            r.rss_master_kb,
            r.rss_backup_kb,
            r.cpu_master_per_1000,
            r.cpu_backup_per_1000,
            r.stat_master_s,
            r.adverts
        );
    }
}
