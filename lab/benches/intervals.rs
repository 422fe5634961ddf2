//! `make bench-intervals`: which advert interval is short enough for a fast crash
//! failover and long enough to cause no false transitions on a stressed machine
//! (issue "sub-second crash failover by default"). For each interval, our engine as
//! the charm runs it (VRRPv3, `vrrp_rt_priority 10`, `vrrp_no_swap`), three hosts at
//! priorities 150/100/50, a client probing the VIP every 10 ms; and keepalived 2.2.7
//! at the charm's default (VRRPv2, 1 s) as the reference:
//!
//! * crash: the master's daemon is SIGKILLed; the client outage;
//! * busy core: 8 normal-priority busy loops on the master's core for `BUSY_SECS`
//!   (default 20); false transitions (promotions; no router failed);
//! * loss: 5 % of every host's VRRP packets dropped for `LOSS_SECS` (default 60);
//!   false transitions;
//! * stalls: the master stopped (SIGSTOP) for 200 ms, `STALLS` times (default 10),
//!   one second apart; false transitions.
//!
//! A measurement printed as a Markdown table, not a timed test.

use std::time::Duration;

use netns_lab::faults::{self, Outcome, Scene, Timing, CHARM_FAST, V2_1S};
use netns_lab::DaemonKind;

const fn v3(name: &'static str, advert_int: &'static str, ms: u64, down_adverts: u8) -> Timing {
    Timing {
        name,
        version: 3,
        advert_int,
        interval: Duration::from_millis(ms),
        down_adverts,
    }
}

/// The RFCs' three missed adverts at each interval, then a longer down count at
/// short intervals: the same crash failover as 0.1 s, with more adverts to lose.
const OURS: [Timing; 9] = [
    v3("v3 1 s", "1", 1000, 3),
    v3("v3 0.5 s", "0.5", 500, 3),
    v3("v3 0.3 s", "0.3", 300, 3),
    v3("v3 0.2 s", "0.2", 200, 3),
    v3("v3 0.1 s", "0.1", 100, 3),
    v3("v3 0.05 s", "0.05", 50, 3),
    v3("v3 0.08 s, 4 missed", "0.08", 80, 4),
    v3("v3 0.06 s, 5 missed", "0.06", 60, 5),
    CHARM_FAST,
];

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Row {
    daemon: &'static str,
    timing: Timing,
    crash: Outcome,
    busy: Outcome,
    loss: Outcome,
    stalls: usize,
    stall_outage: Duration,
}

fn scene(tag: &str, kind: DaemonKind, timing: Timing) -> Scene {
    let realtime = (kind == DaemonKind::Engine).then_some(10);
    Scene::start_tuned(tag, kind, timing, 0, realtime)
}

fn measure(daemon: &'static str, kind: DaemonKind, timing: Timing) -> Row {
    let busy_secs = env_u64("BUSY_SECS", 20);
    let loss_secs = env_u64("LOSS_SECS", 60);
    let stalls = env_u64("STALLS", 10);
    let window = timing.down() + timing.interval + Duration::from_secs(1);
    let crash = {
        let s = scene("ivcrash", kind, timing);
        faults::crash(&s, timing.down() + timing.interval + Duration::from_secs(2))
    };
    let busy = {
        let s = scene("ivbusy", kind, timing);
        faults::busy_core(&s, 8, Duration::from_secs(busy_secs), window)
    };
    let loss = {
        let s = scene("ivloss", kind, timing);
        faults::loss(&s, 5, Duration::from_secs(loss_secs))
    };
    let (mut promotions, mut stall_outage) = (0, Duration::ZERO);
    {
        let s = scene("ivstall", kind, timing);
        for _ in 0..stalls {
            let o = faults::stalled(&s, Duration::from_millis(200), window);
            promotions += o.promotions;
            stall_outage = stall_outage.max(o.outage);
        }
    }
    let row = Row {
        daemon,
        timing,
        crash,
        busy,
        loss,
        stalls: promotions,
        stall_outage,
    };
    eprintln!(
        "{} {}: crash outage {:?}, busy {} promotions, loss {} promotions, stalls {} promotions",
        row.daemon,
        row.timing.name,
        row.crash.outage,
        row.busy.promotions,
        row.loss.promotions,
        row.stalls
    );
    row
}

fn main() {
    let only = std::env::var("ONLY").unwrap_or_default();
    let mut rows = vec![measure("keepalived 2.2.7", DaemonKind::Keepalived, V2_1S)];
    for t in OURS {
        if t.name.contains(&only) {
            rows.push(measure("ours (SCHED_RR 10)", DaemonKind::Engine, t));
        }
    }
    let (busy, loss, stalls) = (
        env_u64("BUSY_SECS", 20),
        env_u64("LOSS_SECS", 60),
        env_u64("STALLS", 10),
    );
    println!(
        "\n| daemon | timing | crash: client outage ms | busy core {busy} s: false transitions | 5 % loss {loss} s: false transitions | {stalls} stalls of 200 ms: false transitions (longest outage ms) |"
    );
    println!("|---|---|---:|---:|---:|---:|");
    for r in &rows {
        println!(
            "| {} | {} | {:.0} | {} | {} | {} ({:.0}) |",
            r.daemon,
            r.timing.name,
            r.crash.outage.as_secs_f64() * 1e3,
            r.busy.promotions,
            r.loss.promotions,
            r.stalls,
            r.stall_outage.as_secs_f64() * 1e3
        );
    }
}
