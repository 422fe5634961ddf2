//! `make bench-faults`: the fault scenarios of `docs/scenarios.md` against our engine
//! and keepalived 2.2.7 in the same run (needs root, keepalived and nftables). Not a
//! timed test: a measurement, printed as a Markdown table.
//!
//! Each row is one scenario on three hosts (priorities 150/100/50), a client probing
//! the VIP every 10 ms and a netlink watch of who holds it. Columns, per daemon: the
//! longest client outage, the total time with two VIP holders, the promotions after
//! the fault (false transitions where no router failed) and the VIP additions.
//!
//! `REPS=N` (default 3) repetitions, reported as min / median / max of the outage and
//! totals of the rest; `LOSS_SECS=N` (default 180) the duration of each loss run;
//! `ONLY=substring` runs the scenarios whose name, followed by a space and the
//! timing's name, contains it (`ONLY="S16 20 % loss on every link, 180 s v3 0.1 s"`
//! runs one row).

use std::fmt::Write as _;
use std::time::Duration;

use netns_lab::faults::{self, Outcome, Scene, Timing, CHARM_FAST, V2_1S, V3_100MS};
use netns_lab::DaemonKind;

struct Scenario {
    name: String,
    timing: Timing,
    run: Box<dyn Fn(&Scene) -> Outcome>,
}

fn scenarios(loss_secs: u64) -> Vec<Scenario> {
    let s = |name: &str, timing: Timing, run: Box<dyn Fn(&Scene) -> Outcome>| Scenario {
        name: name.to_string(),
        timing,
        run,
    };
    let secs = Duration::from_secs;
    let ms = Duration::from_millis;
    let mut out = vec![
        s(
            "S20 VIP deleted on the master",
            V2_1S,
            Box::new(move |sc| faults::vip_deleted(sc, secs(5))),
        ),
        s(
            "S20 master's link flaps for 200 ms",
            V2_1S,
            Box::new(move |sc| faults::link_flap(sc, ms(200), secs(6))),
        ),
        s(
            "S7 partition of the master for 10 s, then heal",
            V2_1S,
            Box::new(move |sc| faults::partition(sc, secs(10), secs(5))),
        ),
        s(
            "S8 the master's adverts lost for 10 s",
            V2_1S,
            Box::new(move |sc| faults::one_way_loss(sc, secs(10), secs(5))),
        ),
        s(
            "S15 master stopped (SIGSTOP) 2.5 s",
            V2_1S,
            Box::new(move |sc| faults::stalled(sc, ms(2500), secs(4))),
        ),
        s(
            "S15 master stopped (SIGSTOP) 5 s",
            V2_1S,
            Box::new(move |sc| faults::stalled(sc, secs(5), secs(5))),
        ),
        s(
            "S15 real-time CPU hog on the master's core 10 s",
            V3_100MS,
            Box::new(move |sc| faults::cpu_hog(sc, secs(10), secs(3))),
        ),
        s(
            "S17 wall clock +1 h",
            V2_1S,
            Box::new(move |sc| faults::clock_step(sc, 3600, secs(3))),
        ),
        s(
            "S17 wall clock -1 h",
            V2_1S,
            Box::new(move |sc| faults::clock_step(sc, -3600, secs(3))),
        ),
    ];
    // The charm's fast timing too: keepalived runs it as well (`down_timer_adverts`).
    for timing in [V2_1S, V3_100MS, CHARM_FAST] {
        for pct in [5u8, 20] {
            out.push(s(
                &format!("S16 {pct} % loss on every link, {loss_secs} s"),
                timing,
                Box::new(move |sc| faults::loss(sc, pct, secs(loss_secs))),
            ));
        }
    }
    out
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// min / median / max of the outages; totals of the rest.
fn cell(runs: &[Outcome]) -> String {
    let mut outages: Vec<Duration> = runs.iter().map(|o| o.outage).collect();
    outages.sort();
    let (min, med, max) = (
        outages[0],
        outages[outages.len() / 2],
        outages[outages.len() - 1],
    );
    let two: Duration = runs.iter().map(|o| o.two_holders).sum();
    let promotions: usize = runs.iter().map(|o| o.promotions).sum();
    let additions: usize = runs.iter().map(|o| o.additions).sum();
    format!(
        "{:.0} / {:.0} / {:.0} | {:.1} | {promotions} | {additions}",
        ms(min),
        ms(med),
        ms(max),
        ms(two)
    )
}

fn main() {
    let reps = usize::try_from(env_u64("REPS", 3)).unwrap_or(3).max(1);
    let loss_secs = env_u64("LOSS_SECS", 180);
    let only = std::env::var("ONLY").unwrap_or_default();
    let mut table = String::new();
    let _ = writeln!(
        table,
        "\n| scenario | timing | ours: outage ms min / med / max | ours: ms two holders | ours: promotions | ours: VIP additions | keepalived: outage ms min / med / max | keepalived: ms two holders | keepalived: promotions | keepalived: VIP additions |"
    );
    let _ = writeln!(table, "|---|---|---|---:|---:|---:|---|---:|---:|---:|");
    for (n, sc) in scenarios(loss_secs).into_iter().enumerate() {
        if !format!("{} {}", sc.name, sc.timing.name).contains(&only) {
            continue;
        }
        let mut cells = Vec::new();
        for kind in [DaemonKind::Engine, DaemonKind::Keepalived] {
            let runs: Vec<Outcome> = (0..reps)
                .map(|r| {
                    let scene = Scene::start(&format!("bf{n}r{r}"), kind, sc.timing);
                    let out = (sc.run)(&scene);
                    eprintln!("{} {:?} {}: {out:?}", sc.name, kind, sc.timing.name);
                    out
                })
                .collect();
            cells.push(cell(&runs));
        }
        let _ = writeln!(
            table,
            "| {} | {} | {} | {} |",
            sc.name, sc.timing.name, cells[0], cells[1]
        );
    }
    println!("{table}");
    println!(
        "{reps} repetition(s) per row; outage = longest client gap (10 ms probes); two holders and promotions are totals over the repetitions."
    );
}
