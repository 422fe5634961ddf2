//! The fault scenarios of `docs/scenarios.md` that break real clusters, runnable
//! against our engine and against keepalived alike: a [`Scene`] is three hosts at
//! priorities 150/100/50 on one segment with a client probing the VIP every 10 ms and
//! a [`HolderWatch`] recording who holds it; each fault function injects one fault on
//! the master (h1) and returns an [`Outcome`] measured from outside the daemons.
//!
//! The root tests (`lab/tests/faults`) assert each scenario's invariant with generous
//! bounds; `make bench-faults` prints the figures side by side.
//!
//! Faults are made with what the lab's kernel offers: nftables rules inside the host
//! namespaces (loss, partitions; the kernel here has no netem), signals, `ip`,
//! a real-time busy loop pinned to the daemon's core, and a step of the wall clock
//! that is always stepped back (also when the test panics).

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::{DaemonKind, HolderReport, HolderWatch, Host, KeepalivedConf, Lab, Prober};

/// The VRRP timing a scene runs at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// As a table shows it.
    pub name: &'static str,
    /// 2 or 3.
    pub version: u8,
    /// `advert_int` as written in keepalived.conf.
    pub advert_int: &'static str,
    /// The same, as a duration.
    pub interval: Duration,
    /// `down_timer_adverts`: missed adverts that make the Master down (the RFCs' 3).
    pub down_adverts: u8,
}

impl Timing {
    /// Writes this timing into a host's keepalived.conf.
    pub fn apply(&self, c: &mut KeepalivedConf) {
        c.version = self.version;
        c.advert_int = self.advert_int.to_string();
        c.down_timer_adverts = (self.down_adverts != 3).then_some(self.down_adverts);
    }

    /// How long the Master may be silent before a Backup takes over, without the
    /// skew: `down_adverts` intervals.
    pub fn down(&self) -> Duration {
        self.interval * u32::from(self.down_adverts)
    }
}

/// keepalived's and the charm's default: VRRPv2, adverts every second.
pub const V2_1S: Timing = Timing {
    name: "v2 1 s",
    version: 2,
    advert_int: "1",
    interval: Duration::from_secs(1),
    down_adverts: 3,
};

/// VRRPv3 at 100 ms.
pub const V3_100MS: Timing = Timing {
    name: "v3 0.1 s",
    version: 3,
    advert_int: "0.1",
    interval: Duration::from_millis(100),
    down_adverts: 3,
};

/// The charm's fast timing once every unit runs our engine (`src/charm/timing.rs`):
/// VRRPv3 at 70 ms, the Master down after five missed adverts.
pub const CHARM_FAST: Timing = Timing {
    name: "v3 0.07 s, 5 missed",
    version: 3,
    advert_int: "0.07",
    interval: Duration::from_millis(70),
    down_adverts: 5,
};

/// The priorities of h1, h2, h3.
pub const PRIOS: [u8; 3] = [150, 100, 50];

/// What a fault did, seen from the client and from the hosts' addresses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// The longest time the client got no answer from the VIP (from the last answer
    /// before the fault to the next one; to the end of the window if none came).
    pub outage: Duration,
    /// Total time with two or more hosts holding the VIP, from the fault on.
    pub two_holders: Duration,
    /// How many times a host started holding the VIP after the fault (a promotion,
    /// or the VIP put back): for faults where the master never failed these are
    /// false transitions.
    pub promotions: usize,
    /// How many times the VIP was added to a host after the fault.
    pub additions: usize,
    /// Who holds the VIP at the end.
    pub holders_at_end: BTreeSet<String>,
    /// From the end of the fault until the VIP was last settled on one holder (when a
    /// fault has an end, e.g. a healed partition).
    pub settled_after_end: Option<Duration>,
}

/// Three hosts running one kind of daemon at one timing, the VIP settled on h1.
pub struct Scene {
    /// The lab (h1..h3 and the observer).
    pub lab: Lab,
    /// Which daemon the hosts run.
    pub kind: DaemonKind,
    /// At what timing.
    pub timing: Timing,
    prober: Prober,
    holders: HolderWatch,
}

impl Scene {
    /// Builds the lab, starts the daemons and waits until h1 alone holds the VIP and
    /// has advertised for a few intervals.
    pub fn start(tag: &str, kind: DaemonKind, timing: Timing) -> Scene {
        Scene::start_with(tag, kind, timing, 0)
    }

    /// Like [`Scene::start`], with `spare` more hosts (h4...) that run nothing yet.
    pub fn start_with(tag: &str, kind: DaemonKind, timing: Timing, spare: usize) -> Scene {
        Scene::start_tuned(tag, kind, timing, spare, None)
    }

    /// Like [`Scene::start_with`], the daemons with `vrrp_rt_priority` and
    /// `vrrp_no_swap` when `realtime` is given (the charm's rendering).
    pub fn start_tuned(
        tag: &str,
        kind: DaemonKind,
        timing: Timing,
        spare: usize,
        realtime: Option<u8>,
    ) -> Scene {
        let lab = Lab::builder(tag).hosts(3 + spare).build();
        lab.start_listeners();
        let holders = lab.watch_holders();
        for (i, prio) in PRIOS.into_iter().enumerate() {
            let mut c = lab.keepalived_conf(i, prio);
            timing.apply(&mut c);
            c.realtime = realtime;
            lab.host(i).start_daemon(kind, &c.render());
        }
        let prober = lab.start_prober(lab.vip4().into());
        let scene = Scene {
            lab,
            kind,
            timing,
            prober,
            holders,
        };
        scene.wait_settled_on("h1", Duration::from_secs(15));
        scene
    }

    /// The VIP.
    pub fn vip(&self) -> IpAddr {
        self.lab.vip4().into()
    }

    /// h1, the master.
    pub fn master(&self) -> &Host {
        self.lab.host(0)
    }

    /// Waits until `host` alone holds the VIP, answers the client, and has for two
    /// intervals.
    pub fn wait_settled_on(&self, host: &str, within: Duration) {
        let vip = self.vip();
        super::wait_for(&format!("{host} alone to hold the VIP"), within, || {
            self.holders.report().holders_now(vip) == BTreeSet::from([host.to_string()])
        });
        self.prober.wait_holder(host, Instant::now(), within);
        std::thread::sleep(self.timing.interval * 2 + Duration::from_millis(100));
    }

    /// Waits out `window` after `t0`, then measures. `fault_end` is when a fault with
    /// an end (a partition, a stall) ended.
    pub fn observe(&self, t0: Instant, window: Duration, fault_end: Option<Instant>) -> Outcome {
        let end = t0 + window;
        if let Some(rest) = end.checked_duration_since(Instant::now()) {
            std::thread::sleep(rest);
        }
        let probes = self.prober.report();
        let holders = self.holders.report();
        let vip = self.vip();
        outcome(&probes, &holders, vip, t0, end, fault_end)
    }

    /// The holder record so far.
    pub fn holder_report(&self) -> HolderReport {
        self.holders.report()
    }
}

fn outcome(
    probes: &super::ProbeReport,
    holders: &HolderReport,
    vip: IpAddr,
    t0: Instant,
    end: Instant,
    fault_end: Option<Instant>,
) -> Outcome {
    let mut answers: Vec<Instant> = probes
        .answers()
        .into_iter()
        .map(|(t, _)| t)
        .filter(|t| *t <= end)
        .collect();
    let before = answers.iter().rev().find(|t| **t <= t0).copied();
    answers.retain(|t| *t > t0);
    let mut outage = Duration::ZERO;
    let mut last = before.unwrap_or(t0);
    for t in answers {
        outage = outage.max(t - last);
        last = t;
    }
    // No answer for the last stretch of the window: the outage lasts to its end.
    outage = outage.max(end.saturating_duration_since(last));
    let holdings = holders.holdings(vip);
    let settled_after_end = fault_end.map(|fe| {
        holdings
            .iter()
            .flat_map(|h| [Some(h.from), h.to])
            .flatten()
            .filter(|t| *t > fe && *t <= end)
            .max()
            .map_or(Duration::ZERO, |t| t - fe)
    });
    Outcome {
        outage,
        two_holders: holders.two_holders_after(vip, t0),
        promotions: holdings.iter().filter(|h| h.from > t0).count(),
        additions: holders.additions_after(vip, t0),
        holders_at_end: holders.holders_now(vip),
        settled_after_end,
    }
}

/// S20: the VIP is deleted on the master behind the daemon's back (an admin's
/// `ip addr del`, netplan re-applying the interface).
pub fn vip_deleted(scene: &Scene, window: Duration) -> Outcome {
    let t0 = Instant::now();
    scene
        .master()
        .ns
        .ip(&format!("addr del {}/24 dev eth0", scene.lab.vip4()));
    scene.observe(t0, window, None)
}

/// S20 / S6: the master's link goes down and comes back after `down_for`.
pub fn link_flap(scene: &Scene, down_for: Duration, window: Duration) -> Outcome {
    let h1 = scene.master();
    let t0 = Instant::now();
    h1.ns.ip("link set eth0 down");
    std::thread::sleep(down_for);
    h1.ns.ip("link set eth0 up");
    let fault_end = Instant::now();
    let out = scene.observe(t0, window, Some(fault_end));
    h1.wait_operational();
    out
}

/// nftables rules in a host's namespace, removed with [`Nft::clear`] or on drop.
pub struct Nft<'a> {
    host: &'a Host,
    active: bool,
}

impl<'a> Nft<'a> {
    /// A table `inet lab` with an input and an output filter chain, each rule given as
    /// `(chain, rule words)`.
    pub fn install(host: &'a Host, rules: &[(&str, &str)]) -> Nft<'a> {
        let nft = |args: &[&str]| {
            let mut argv = vec!["nft"];
            argv.extend_from_slice(args);
            host.ns.exec_ok(&argv);
        };
        nft(&["add", "table", "inet", "lab"]);
        for chain in ["input", "output"] {
            let spec = format!("{{ type filter hook {chain} priority 0; }}");
            nft(&["add", "chain", "inet", "lab", chain, &spec]);
        }
        for (chain, rule) in rules {
            let mut args = vec!["add", "rule", "inet", "lab", chain];
            args.extend(rule.split_whitespace());
            nft(&args);
        }
        Nft { host, active: true }
    }

    /// Removes the rules.
    pub fn clear(&mut self) {
        if std::mem::take(&mut self.active) {
            let _ = self
                .host
                .ns
                .exec(&["nft", "delete", "table", "inet", "lab"]);
        }
    }
}

impl Drop for Nft<'_> {
    fn drop(&mut self) {
        self.clear();
    }
}

/// VRRP is IP protocol 112.
const VRRP: &str = "meta l4proto 112";

/// S7: the master is cut off from the other routers' adverts (both ways) but not from
/// the client, for `duration`; then the partition heals.
pub fn partition(scene: &Scene, duration: Duration, window: Duration) -> Outcome {
    let t0 = Instant::now();
    let mut nft = Nft::install(
        scene.master(),
        &[
            ("input", &format!("{VRRP} drop")),
            ("output", &format!("{VRRP} drop")),
        ],
    );
    std::thread::sleep(duration);
    nft.clear();
    let healed = Instant::now();
    scene.observe(t0, duration + window, Some(healed))
}

/// S8: the master's adverts are lost, the others' reach it, for `duration`.
pub fn one_way_loss(scene: &Scene, duration: Duration, window: Duration) -> Outcome {
    let t0 = Instant::now();
    let mut nft = Nft::install(scene.master(), &[("output", &format!("{VRRP} drop"))]);
    std::thread::sleep(duration);
    nft.clear();
    let healed = Instant::now();
    scene.observe(t0, duration + window, Some(healed))
}

/// S9: a foreign cluster on the same segment uses our VRID with another VIP: h4 (a
/// spare host of a [`Scene::start_with`]) runs keepalived at priority 200 with the VIP
/// `foreign_vip` for `duration`, then stops. Our cluster must neither obey nor lose
/// its VIP.
pub fn foreign_cluster(scene: &Scene, foreign_vip: IpAddr, duration: Duration) -> Outcome {
    let h4 = scene.lab.host(3);
    let mut c = scene.lab.keepalived_conf(3, 200);
    scene.timing.apply(&mut c);
    c.vips = vec![format!("{foreign_vip}/24")];
    let t0 = Instant::now();
    h4.start_daemon(DaemonKind::Keepalived, &c.render());
    std::thread::sleep(duration);
    h4.stop_daemon(Duration::from_secs(5));
    let end = Instant::now();
    scene.observe(t0, duration + Duration::from_millis(500), Some(end))
}

/// S15: the master's daemon is stopped (SIGSTOP) for `duration`, then continued.
pub fn stalled(scene: &Scene, duration: Duration, window: Duration) -> Outcome {
    let pids = scene.master().daemon_pids();
    let t0 = Instant::now();
    for &pid in &pids {
        super::proc::send_signal(pid, libc::SIGSTOP);
    }
    std::thread::sleep(duration);
    for &pid in &pids {
        super::proc::send_signal(pid, libc::SIGCONT);
    }
    let resumed = Instant::now();
    scene.observe(t0, duration + window, Some(resumed))
}

/// S16: every host loses `percent` % of the VRRP packets it sends, for `duration`; no
/// router fails, so every promotion is a false transition.
pub fn loss(scene: &Scene, percent: u8, duration: Duration) -> Outcome {
    let rule = format!("{VRRP} numgen random mod 100 < {percent} drop");
    let t0 = Instant::now();
    let mut rules: Vec<Nft> = scene
        .lab
        .hosts()
        .iter()
        .map(|h| Nft::install(h, &[("output", &rule)]))
        .collect();
    std::thread::sleep(duration);
    rules.iter_mut().for_each(Nft::clear);
    let end = Instant::now();
    scene.observe(t0, duration + Duration::from_millis(500), Some(end))
}

/// Steps the wall clock by `by_secs` and steps it back on drop, whatever happens.
struct ClockStep {
    by_secs: i64,
}

fn step_wall_clock(by_secs: i64) {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_REALTIME always exists.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime: {}", std::io::Error::last_os_error());
    ts.tv_sec += by_secs;
    // SAFETY: `ts` is a valid timespec read from the same clock; setting
    // CLOCK_REALTIME needs CAP_SYS_TIME, which the root lab has.
    let rc = unsafe { libc::clock_settime(libc::CLOCK_REALTIME, &ts) };
    assert_eq!(rc, 0, "clock_settime: {}", std::io::Error::last_os_error());
}

impl ClockStep {
    fn new(by_secs: i64) -> ClockStep {
        step_wall_clock(by_secs);
        ClockStep { by_secs }
    }
}

impl Drop for ClockStep {
    fn drop(&mut self) {
        step_wall_clock(-self.by_secs);
    }
}

/// S17: the wall clock jumps by `by_secs` (±3600) for `hold`, then back. Timers on
/// the monotonic clock see nothing.
pub fn clock_step(scene: &Scene, by_secs: i64, hold: Duration) -> Outcome {
    let t0 = Instant::now();
    {
        let _step = ClockStep::new(by_secs);
        std::thread::sleep(hold);
    }
    scene.observe(t0, hold + scene.timing.down() + scene.timing.interval, None)
}

/// S17 for both daemons at once, a scene of each started side by side: the wall
/// clock is the machine's, so each step of `steps` (each held for `hold`, then
/// stepped back) is seen by both scenes at the same moment, and one stepper avoids
/// two threads racing to read and set the clock. Returns (step, ours, keepalived)
/// per step, each observed for `hold` plus a Master_Down_Interval.
pub fn clock_steps_side_by_side(
    tag: &str,
    timing: Timing,
    steps: &[i64],
    hold: Duration,
) -> Vec<(i64, Outcome, Outcome)> {
    let (ours, keepalived) = std::thread::scope(|s| {
        let keepalived =
            s.spawn(|| Scene::start(&format!("{tag}k"), DaemonKind::Keepalived, timing));
        let ours = Scene::start(&format!("{tag}o"), DaemonKind::Engine, timing);
        let keepalived = keepalived
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (ours, keepalived)
    });
    let window = hold + timing.down() + timing.interval;
    steps
        .iter()
        .map(|&by_secs| {
            let t0 = Instant::now();
            {
                let _step = ClockStep::new(by_secs);
                std::thread::sleep(hold);
            }
            let o = ours.observe(t0, window, None);
            let k = keepalived.observe(t0, window, None);
            eprintln!("{tag} clock {by_secs:+} s: ours {o:?}; keepalived {k:?}");
            (by_secs, o, k)
        })
        .collect()
}

/// S15: a real-time busy loop (SCHED_FIFO 99) on the core the master's daemon is
/// pinned to, for `duration`.
pub fn cpu_hog(scene: &Scene, duration: Duration, window: Duration) -> Outcome {
    let h1 = scene.master();
    for pid in h1.daemon_pids() {
        h1.ns
            .exec_ok(&["taskset", "-a", "-p", "1", &pid.to_string()]);
    }
    let secs = format!("{:.3}", duration.as_secs_f64());
    let t0 = Instant::now();
    h1.spawn(
        "hog",
        &[
            "timeout",
            &secs,
            "chrt",
            "-f",
            "99",
            "taskset",
            "-c",
            "0",
            "sh",
            "-c",
            "while :; do :; done",
        ],
    );
    std::thread::sleep(duration);
    let end = Instant::now();
    scene.observe(t0, duration + window, Some(end))
}

/// S15, a busy machine: `loops` normal-priority busy loops on the core the master's
/// daemon is pinned to, for `duration`.
pub fn busy_core(scene: &Scene, loops: usize, duration: Duration, window: Duration) -> Outcome {
    let h1 = scene.master();
    for pid in h1.daemon_pids() {
        h1.ns
            .exec_ok(&["taskset", "-a", "-p", "1", &pid.to_string()]);
    }
    let secs = format!("{:.3}", duration.as_secs_f64());
    let t0 = Instant::now();
    for k in 0..loops {
        h1.spawn(
            &format!("busy{k}"),
            &[
                "timeout",
                &secs,
                "taskset",
                "-c",
                "0",
                "sh",
                "-c",
                "while :; do :; done",
            ],
        );
    }
    std::thread::sleep(duration);
    let end = Instant::now();
    scene.observe(t0, duration + window, Some(end))
}

/// A crash of the master: its link goes and its daemon is SIGKILLed (a killed
/// daemon alone leaves the VIP on the interface, still answered by the kernel). The
/// client outage is the takeover time.
pub fn crash(scene: &Scene, window: Duration) -> Outcome {
    let t0 = scene.master().crash();
    scene.observe(t0, window, None)
}

/// S21: `n` VRRP instances (one VIP each, VRIDs 1..=n) on the three hosts.
pub struct ManyScene {
    /// The lab.
    pub lab: Lab,
    /// The VIPs, one per instance.
    pub vips: Vec<IpAddr>,
    holders: HolderWatch,
}

/// The VIP of instance `k` (0-based): 10.X.Y.(100 + k).
fn many_vip(lab: &Lab, k: usize) -> IpAddr {
    IpAddr::V4(lab.addr4(100 + u8::try_from(k).expect("at most 150 instances")))
}

impl ManyScene {
    /// Starts `n` instances per host and waits until h1 holds every VIP alone.
    pub fn start(tag: &str, kind: DaemonKind, timing: Timing, n: usize) -> ManyScene {
        let lab = Lab::builder(tag).hosts(3).build();
        let holders = lab.watch_holders();
        let vips: Vec<IpAddr> = (0..n).map(|k| many_vip(&lab, k)).collect();
        for (i, prio) in PRIOS.into_iter().enumerate() {
            let mut text = String::new();
            for (k, vip) in vips.iter().enumerate() {
                let mut c: KeepalivedConf = lab.keepalived_conf(i, prio);
                timing.apply(&mut c);
                c.instance = format!("VI_{}", k + 1);
                c.vrid = u8::try_from(k + 1).expect("VRIDs up to 255");
                c.vips = vec![format!("{vip}/24")];
                if k == 0 {
                    text.push_str(&c.render_globals());
                }
                text.push_str(&c.render_instance());
            }
            lab.host(i).start_daemon(kind, &text);
        }
        let scene = ManyScene { lab, vips, holders };
        super::wait_for(
            "h1 to hold every VIP alone",
            Duration::from_secs(20),
            || {
                let r = scene.holders.report();
                scene
                    .vips
                    .iter()
                    .all(|v| r.holders_now(*v) == BTreeSet::from(["h1".to_string()]))
            },
        );
        std::thread::sleep(timing.interval * 3);
        scene
    }

    /// Crashes h1 (unplug + SIGKILL) and measures every VIP over `window`.
    pub fn crash_master(&self, window: Duration) -> ManyOutcome {
        let t0 = self.lab.host(0).crash();
        std::thread::sleep(window);
        let r = self.holders.report();
        let mut out = ManyOutcome::default();
        for vip in &self.vips {
            let first = r.holdings(*vip).into_iter().find(|h| h.from > t0);
            match first {
                Some(h) => out.all_held_after = out.all_held_after.max(h.from - t0),
                None => out.never_held += 1,
            }
            out.two_holders += r.two_holders_after(*vip, t0);
            out.instances_with_two_holders += usize::from(!r.two_holders_after(*vip, t0).is_zero());
            out.additions += r.additions_after(*vip, t0);
        }
        out
    }
}

/// What a crash did to many instances.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ManyOutcome {
    /// From the crash until the last VIP was held again.
    pub all_held_after: Duration,
    /// VIPs nobody held again within the window.
    pub never_held: usize,
    /// Time with two holders, summed over the VIPs.
    pub two_holders: Duration,
    /// How many instances had two holders at some instant.
    pub instances_with_two_holders: usize,
    /// VIP additions after the crash, summed (one per VIP is the ideal).
    pub additions: usize,
}

/// Runs `fault` on a fresh scene of each daemon, both at the same time (each in its
/// own namespaces, so neither sees the other; both see the same machine):
/// (ours, keepalived). A fault that loads the machine itself (a CPU hog) must not
/// run beside anything: [`ours_alone`], and the benchmark for keepalived's figures.
pub fn both(
    tag: &str,
    timing: Timing,
    fault: impl Fn(&Scene) -> Outcome + Sync,
) -> (Outcome, Outcome) {
    std::thread::scope(|s| {
        let keepalived = s.spawn(|| run_one(tag, DaemonKind::Keepalived, timing, &fault));
        let ours = run_one(tag, DaemonKind::Engine, timing, &fault);
        let keepalived = keepalived
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (ours, keepalived)
    })
}

/// Our engine alone, for a machine-wide fault whose test asserts only ours
/// (keepalived's run of it is the benchmark's, `make bench-faults`).
pub fn ours_alone(tag: &str, timing: Timing, fault: impl Fn(&Scene) -> Outcome) -> Outcome {
    run_one(tag, DaemonKind::Engine, timing, &fault)
}

fn run_one(
    tag: &str,
    kind: DaemonKind,
    timing: Timing,
    fault: &impl Fn(&Scene) -> Outcome,
) -> Outcome {
    let t = match kind {
        DaemonKind::Engine => "o",
        DaemonKind::Keepalived => "k",
    };
    let scene = Scene::start(&format!("{tag}{t}"), kind, timing);
    let out = fault(&scene);
    eprintln!("{tag} {kind:?} {}: {out:?}", timing.name);
    out
}

/// The holder set of exactly `host`.
pub fn only(host: &str) -> BTreeSet<String> {
    BTreeSet::from([host.to_string()])
}
