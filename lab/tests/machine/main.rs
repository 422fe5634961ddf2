//! The scenarios that take the whole machine (`docs/scenarios.md` S15, S17): a
//! real-time hog and a busy core on the master's CPU, a step of the wall clock. Each
//! would disturb any other test running beside it, so `make test` runs this binary
//! alone, one test at a time, after every other lab test (`scripts/lab-tests`).
//! Needs root, keepalived and util-linux (taskset); never skipped.

use std::net::IpAddr;
use std::time::Duration;

use netns_lab::faults::{self, only, V2_1S, V3_100MS};

const SECS: fn(u64) -> Duration = Duration::from_secs;
const MS: fn(u64) -> Duration = Duration::from_millis;

/// S15: a real-time busy loop on the master's core for 5 s: afterwards one holder.
/// keepalived under the same hog is a row of `make bench-faults`.
#[test]
fn s15_a_cpu_hog_on_the_masters_core_ends_with_one_holder() {
    let ours = faults::ours_alone("s15hog", V3_100MS, |s| faults::cpu_hog(s, SECS(5), SECS(3)));
    assert_eq!(ours.holders_at_end.len(), 1, "ours: {ours:?}");
}

/// S17: the wall clock jumping an hour either way changes nothing: the timers are
/// monotonic. Ours and keepalived run side by side and see the same steps.
#[test]
fn s17_a_wall_clock_step_causes_no_transition() {
    for (step, ours, keepalived) in
        faults::clock_steps_side_by_side("s17", V2_1S, &[3600, -3600], SECS(3))
    {
        assert_eq!(ours.promotions, 0, "ours, clock {step:+} s: {ours:?}");
        assert_eq!(
            ours.holders_at_end,
            only("h1"),
            "ours, clock {step:+} s: {ours:?}"
        );
        assert_eq!(
            keepalived.promotions, 0,
            "keepalived, clock {step:+} s: {keepalived:?}"
        );
    }
}

/// S15, a busy machine rather than a real-time hog: 8 normal-priority busy loops on
/// the core the master's engine is pinned to, for 5 s, at VRRPv3 0.1 s. With the
/// charm's `vrrp_rt_priority` (SCHED_RR) the master's adverts stay on time; without
/// it they wait for the scheduler. Prints both; asserts the real-time one.
///
/// The test's own threads (the advert listener among them) stay off the busy core
/// for the test's length: the listener times each advert when it reads it, and
/// beside eight busy loops it read them up to 75 ms late (a "gap" of 175 ms with
/// the master on time, and the same with normal scheduling).
#[test]
fn s15_a_busy_core_delays_no_advert_of_a_real_time_master() {
    let _off_core_0 = OffCore0::pin();
    let mut gaps = Vec::new();
    for realtime in [None, Some(10)] {
        let lab = netns_lab::Lab::builder(&format!(
            "s15busy{}",
            if realtime.is_some() { "rt" } else { "no" }
        ))
        .hosts(2)
        .observer(true)
        .build();
        let vip: IpAddr = lab.vip4().into();
        let adverts = lab.watch_adverts(vip);
        for i in 0..2 {
            let mut c = lab.keepalived_conf(i, [254, 253][i]);
            c.version = 3;
            c.advert_int = "0.1".into();
            c.realtime = realtime;
            lab.host(i).start_engine(&c.render());
            if i == 0 {
                netns_lab::wait_for("h1 to hold the VIP", SECS(10), || {
                    lab.host(0).has_address(vip)
                });
            }
        }
        std::thread::sleep(SECS(1));
        let h1 = lab.host(0);
        for pid in h1.daemon_pids() {
            h1.ns
                .exec_ok(&["taskset", "-a", "-p", "1", &pid.to_string()]);
        }
        let t0 = std::time::Instant::now();
        for k in 0..8 {
            h1.spawn(
                &format!("busy{k}"),
                &[
                    "timeout",
                    "5",
                    "taskset",
                    "-c",
                    "0",
                    "sh",
                    "-c",
                    "while :; do :; done",
                ],
            );
        }
        std::thread::sleep(SECS(5) + MS(300));
        let t1 = std::time::Instant::now();
        let src1 = IpAddr::V4(h1.ipv4);
        let src2 = IpAddr::V4(lab.host(1).ipv4);
        let seen = adverts.all();
        let times: Vec<std::time::Instant> = seen
            .iter()
            .filter(|a| a.src == src1 && a.at >= t0 && a.at <= t1)
            .map(|a| a.at)
            .collect();
        let longest = times
            .windows(2)
            .map(|w| w[1] - w[0])
            .max()
            .unwrap_or(SECS(5));
        let claims = seen
            .iter()
            .filter(|a| a.src == src2 && a.at >= t0 && a.priority > 0)
            .count();
        eprintln!(
            "S15 busy core, master {}: {} adverts in 5 s, longest gap {:.1} ms, adverts of the backup (false takeover) {claims}",
            if realtime.is_some() { "SCHED_RR 10" } else { "normal scheduling" },
            times.len(),
            longest.as_secs_f64() * 1e3
        );
        gaps.push((realtime, longest, claims));
    }
    let (_, rt_gap, rt_claims) = gaps[1];
    assert_eq!(rt_claims, 0, "the backup took over from a real-time master");
    assert!(
        rt_gap <= MS(150),
        "real-time master's longest advert gap {rt_gap:?}"
    );
}

/// Keeps this test process's threads, and those it starts, off core 0 until
/// dropped, then restores the affinity they had.
struct OffCore0 {
    before: String,
}

impl OffCore0 {
    fn pin() -> OffCore0 {
        let pid = std::process::id().to_string();
        let shown = std::process::Command::new("taskset")
            .args(["-p", &pid])
            .output()
            .expect("run taskset");
        let before = String::from_utf8_lossy(&shown.stdout)
            .split_whitespace()
            .last()
            .expect("taskset prints the affinity mask")
            .to_string();
        set_affinity(&pid, "0x2");
        OffCore0 { before }
    }
}

impl Drop for OffCore0 {
    fn drop(&mut self) {
        set_affinity(&std::process::id().to_string(), &self.before);
    }
}

fn set_affinity(pid: &str, mask: &str) {
    let status = std::process::Command::new("taskset")
        .args(["-a", "-p", mask, pid])
        .stdout(std::process::Stdio::null())
        .status()
        .expect("run taskset");
    assert!(status.success(), "taskset -a -p {mask} {pid}");
}
