//! What each hook costs: drives a configured 3-unit model through the Juju hook-tool
//! emulator with the RELEASE `keepalived-charm` binary (cargo bench builds it with the
//! release profile) and reports, per hook kind, the hook-tool calls it makes (and
//! which) and its wall time, median over many runs.
//!
//! `make bench-hooks` (= `cargo bench --bench hooks`), as root: every unit runs in its
//! own network namespace, as in the end-to-end tests. `BENCH_ROUNDS=N` sets the number
//! of fresh models (default 21; each hook kind gets at least that many samples).
//!
//! Two times per hook:
//! * binary: what the binary measures itself, from reading its environment to exit
//!   (the `done in X ms` line it prints to the debug log);
//! * hook: the hook process as the unit agent sees it, from spawning `dispatch` (via
//!   `ip netns exec`) to its exit, including process start-up.
//!
//! Both include the hook tools the hook runs, and each of those is a process here as
//! with real Juju (jujuc), but the emulator's tools read and write a JSON file where
//! Juju's talk to the unit agent over a socket: compare counts across charms, and
//! times only with the same harness.

#[path = "../tests/charm/e2e.rs"]
mod e2e;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use e2e::{all_ok, prepare_machine, Net, VIP};
use juju_emulator::{HookRun, Model};

/// One hook run, as measured.
struct Sample {
    tools: Vec<String>,
    machine_calls: usize,
    binary: Option<Duration>,
    hook: Duration,
}

/// The step of the scenario a hook ran in, so that e.g. the deploy's config-changed
/// and a port change's are told apart.
type Key = (&'static str, String);

fn binary_time(stdout: &str) -> Option<Duration> {
    // "keepalived-charm: <hook> done in 3.2 ms with 5 hook-tool calls"
    let rest = stdout.split(" done in ").nth(1)?;
    let ms: f64 = rest.split(" ms").next()?.trim().parse().ok()?;
    Some(Duration::from_secs_f64(ms / 1e3))
}

fn record(samples: &mut BTreeMap<Key, Vec<Sample>>, step: &'static str, runs: &[HookRun]) {
    all_ok(runs);
    for run in runs {
        samples
            .entry((step, run.hook.name.clone()))
            .or_default()
            .push(Sample {
                tools: run.tool_calls.iter().map(|c| c.name.clone()).collect(),
                machine_calls: run.service_calls.len(),
                binary: binary_time(&run.stdout),
                hook: run.duration,
            });
    }
}

/// One fresh model through its life: deploy 3 configured units, relate, change the
/// port, update-status, move leadership, refresh, remove a unit.
fn round(samples: &mut BTreeMap<Key, Vec<Sample>>) {
    let mut m = Model::new();
    m.set_config_value("virtual_ip", VIP).expect("config");
    let runs = m
        .deploy_with(3, |m, unit| prepare_machine(m, unit, Net::Golden))
        .expect("deploy (needs root for the network namespaces)");
    record(samples, "1 deploy", &runs);
    let (_, runs) = m
        .integrate("website", "kubernetes-worker", &["kubernetes-worker/0"])
        .expect("integrate");
    record(samples, "2 relate website", &runs);
    record(
        samples,
        "3 config port",
        &m.config(&[("port", "6443")]).expect("config"),
    );
    record(
        samples,
        "4 update-status",
        &m.update_status().expect("update"),
    );
    record(
        samples,
        "5 leader change",
        &m.set_leader("keepalived/1").expect("leader"),
    );
    record(samples, "6 refresh", &m.upgrade_charm().expect("upgrade"));
    record(
        samples,
        "7 remove unit",
        &m.remove_unit("keepalived/2").expect("remove"),
    );
}

fn median(mut values: Vec<Duration>) -> Option<Duration> {
    if values.is_empty() {
        return None;
    }
    values.sort();
    Some(values[values.len() / 2])
}

fn ms(d: Option<Duration>) -> String {
    d.map(|d| format!("{:.1}", d.as_secs_f64() * 1e3))
        .unwrap_or_else(|| "-".into())
}

/// `config-get, state-get, relation-set ×2` for one call list.
fn which(tools: &[String]) -> String {
    let mut out: Vec<(String, usize)> = Vec::new();
    for t in tools {
        match out.last_mut() {
            Some((name, n)) if name == t => *n += 1,
            _ => out.push((t.clone(), 1)),
        }
    }
    out.iter()
        .map(|(name, n)| {
            if *n == 1 {
                name.clone()
            } else {
                format!("{name} ×{n}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The most common call list (ties: the first seen) and the range of counts.
fn calls_summary(samples: &[Sample]) -> (String, String) {
    let mut lists: BTreeMap<&[String], usize> = BTreeMap::new();
    for s in samples {
        *lists.entry(&s.tools).or_default() += 1;
    }
    let common = lists
        .iter()
        .max_by_key(|(_, n)| **n)
        .map(|(l, _)| which(l))
        .unwrap_or_default();
    let min = samples.iter().map(|s| s.tools.len()).min().unwrap_or(0);
    let max = samples.iter().map(|s| s.tools.len()).max().unwrap_or(0);
    let count = if min == max {
        min.to_string()
    } else {
        format!("{min}–{max}")
    };
    (count, common)
}

fn main() {
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(21);
    let mut samples: BTreeMap<Key, Vec<Sample>> = BTreeMap::new();
    let started = Instant::now();
    for _ in 0..rounds {
        round(&mut samples);
    }
    let binary = netns_lab::charm_binary();
    let size = std::fs::metadata(binary).map(|m| m.len()).unwrap_or(0);
    println!(
        "\nkeepalived-charm hooks through the Juju hook-tool emulator: {rounds} rounds of a configured 3-unit model \
         ({:.1} s), binary {binary} ({:.1} MB)\n",
        started.elapsed().as_secs_f64(),
        size as f64 / 1e6
    );
    println!("| step | hook | runs | hook-tool calls | which (most common) | systemctl/sysctl calls | binary median ms | hook median ms |");
    println!("|---|---|---:|---:|---|---:|---:|---:|");
    for ((step, hook), list) in &samples {
        let (count, common) = calls_summary(list);
        let machine = {
            let min = list.iter().map(|s| s.machine_calls).min().unwrap_or(0);
            let max = list.iter().map(|s| s.machine_calls).max().unwrap_or(0);
            if min == max {
                min.to_string()
            } else {
                format!("{min}–{max}")
            }
        };
        let binary = median(list.iter().filter_map(|s| s.binary).collect());
        let hook_time = median(list.iter().map(|s| s.hook).collect());
        println!(
            "| {} | {hook} | {} | {count} | {common} | {machine} | {} | {} |",
            &step[2..],
            list.len(),
            ms(binary),
            ms(hook_time)
        );
    }
}
