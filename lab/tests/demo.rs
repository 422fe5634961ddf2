//! `make demo`: the charm's main job, live, on one machine (root needed).
//!
//! Three `keepalived` units on three kubeapi-load-balancer machines (network
//! namespaces on one bridge), each driven through its hooks by the Juju hook-tool
//! emulator, their engines run for real by the live systemd stand-in, and a client
//! probing the VIP every 10 ms. Then: the master's principal is removed (graceful
//! stop), the next master's machine dies, comes back, and the config changes three
//! times. Each step prints the client outage it caused, who holds the VIP, and what
//! `juju status keepalived` shows; the end prints a summary and the engines'
//! lifetimes. Nothing is left behind, also on failure or Ctrl-C.
//!
//! Built as a test target without harness that `cargo test` does not run
//! (`test = false` in Cargo.toml); `make demo` builds and runs it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use juju_emulator::services::Action;
use juju_emulator::HookRun;
use netns_lab::juju::{JujuLab, Outage};

/// The principal's ports (kubeapi-load-balancer's nginx): 443, and 6443 after the
/// `port` change. The client probes the VIP on 443 throughout.
const PORT: u16 = 443;
const NEW_PORT: u16 = 6443;
const ENGINE: &str = "keepalived-charm.service";

/// Temp dirs to remove if a signal ends the demo (namespaces are found by name).
static CLEANUP: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn register_cleanup(path: PathBuf) {
    CLEANUP.lock().unwrap_or_else(|p| p.into_inner()).push(path);
}

/// One line of the final summary.
struct Row {
    step: String,
    outage: String,
    holder: String,
}

struct Demo {
    start: Instant,
    rows: Vec<Row>,
}

impl Demo {
    fn stamp(&self) -> String {
        format!("[{:>6.2} s]", self.start.elapsed().as_secs_f64())
    }

    fn say(&self, text: &str) {
        println!("{} {text}", self.stamp());
    }

    fn detail(&self, text: &str) {
        for line in text.lines() {
            println!("             {line}");
        }
    }

    fn heading(&self, text: &str) {
        println!();
        println!("{} == {text}", self.stamp());
    }
}

fn secs(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

/// "keepalived/0: stop → remove; keepalived/1: cluster-relation-departed" for a step.
fn hooks_summary(runs: &[HookRun]) -> String {
    let mut per_unit: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for r in runs {
        per_unit
            .entry(r.unit.as_str())
            .or_default()
            .push(r.hook.name.as_str());
    }
    let failed = runs.iter().filter(|r| !r.ok()).count();
    let mut out = match runs.len() {
        0 => "no hook ran".to_string(),
        1 => "1 hook ran".to_string(),
        n => format!("{n} hooks ran"),
    };
    if failed > 0 {
        out.push_str(&format!(", {failed} FAILED"));
    }
    for (unit, hooks) in per_unit {
        let shown: Vec<&str> = hooks.iter().take(7).copied().collect();
        let more = hooks.len().saturating_sub(shown.len());
        out.push_str(&format!("\n  {unit}: {}", shown.join(" → ")));
        if more > 0 {
            out.push_str(&format!(" … (+{more})"));
        }
    }
    out
}

/// What the live systemd stand-in did since `since`, on every unit.
fn service_summary(j: &mut JujuLab, since: Instant) -> String {
    let mut lines = Vec::new();
    let units: Vec<String> = j.hosts.keys().cloned().collect();
    for unit in units {
        let services = j.model.services(&unit);
        for e in services.events.iter().filter(|e| e.at >= since) {
            let what = match &e.action {
                Action::Started { pid } => format!("started (pid {pid})"),
                Action::Skipped(why) => format!("start skipped: {why}"),
                Action::Reloaded { pid } => format!("reloaded: SIGHUP to pid {pid}"),
                Action::Stopped { pid, forced } => format!(
                    "stopped: SIGTERM to pid {pid}{}",
                    if *forced {
                        ", SIGKILL after the timeout"
                    } else {
                        ""
                    }
                ),
                Action::Exited { pid, how } => format!("pid {pid} ended by itself ({how})"),
                Action::Crashed { pid } => format!("pid {pid} killed with its machine"),
                Action::Failed(m) => format!("STAND-IN FAILURE: {m}"),
            };
            lines.push(format!("  {unit}: systemd: {} {what}", e.service));
        }
    }
    if lines.is_empty() {
        "  systemd: no service was started, reloaded or stopped".to_string()
    } else {
        lines.join("\n")
    }
}

fn holder_text(j: &JujuLab, host: &str) -> String {
    format!("{host} ({})", j.unit_on(host))
}

/// What each live engine's state file says: "keepalived/1 MASTER 253 (reloads 1)".
fn engines_summary(j: &JujuLab) -> String {
    let mut parts = Vec::new();
    for u in &j.model.units {
        if u.lost {
            continue;
        }
        let path = u.root.join("run/keepalived-charm/state.json");
        match keepalived_charm::engine::state_file::read(&path) {
            Some(st) => {
                for i in &st.instances {
                    parts.push(format!(
                        "{} {} {} (reloads {})",
                        u.name, i.state, i.effective_priority, st.reloads
                    ));
                }
            }
            None => parts.push(format!("{} no engine state", u.name)),
        }
    }
    format!("engines: {}", parts.join("; "))
}

/// Runs update-status everywhere (so the role in the message is fresh) and returns
/// the `juju status` text.
fn juju_status(j: &mut JujuLab) -> String {
    let runs = j.model.update_status().expect("update-status");
    assert!(runs.iter().all(HookRun::ok), "update-status failed");
    j.model.juju_status()
}

/// Prints a step's outcome and records its summary row.
fn report_step(
    demo: &mut Demo,
    j: &mut JujuLab,
    step: &str,
    since: Instant,
    outage: &Outage,
    runs: &[HookRun],
) {
    demo.detail(&hooks_summary(runs));
    demo.detail(&service_summary(j, since));
    let holder = holder_text(j, &outage.holder);
    let verdict = if outage.handovers.is_empty() {
        "the VIP did not move (longest gap between answers; probes every 10 ms)".to_string()
    } else {
        format!("VIP moved: {}", outage.handovers_text())
    };
    demo.say(&format!(
        "client outage {}: {verdict}; now held by {holder}",
        secs(outage.longest)
    ));
    demo.detail(&format!("client saw: {}", outage.summary));
    demo.detail(&engines_summary(j));
    let status = juju_status(j);
    demo.detail(&format!("$ juju status keepalived\n{status}"));
    demo.rows.push(Row {
        step: step.to_string(),
        outage: secs(outage.longest),
        holder,
    });
}

fn run() {
    let mut demo = Demo {
        start: Instant::now(),
        rows: Vec::new(),
    };
    println!("make demo: the keepalived charm's main job on this machine (network namespaces)");
    demo.heading("setting up: a bridge, three kubeapi-load-balancer machines, one client");
    let mut j = JujuLab::new("demo", 3);
    register_cleanup(j.lab.dir.clone());
    register_cleanup(j.model.dir.path().to_path_buf());
    let outcome =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| steps(&mut demo, &mut j)));
    if outcome.is_err() {
        print_journals(&j);
    }
    drop(j);
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// On failure: the tail of every service log, before the temp dirs go.
fn print_journals(j: &JujuLab) {
    for unit in j.model.units.iter().chain(j.model.removed_units.iter()) {
        let Some(services) = &unit.services else {
            continue;
        };
        for service in ["keepalived-charm.service", "keepalived.service"] {
            let text = juju_emulator::services::read_log(&services.log_path(service));
            if text.is_empty() {
                continue;
            }
            let lines: Vec<&str> = text.lines().collect();
            eprintln!("--- {} {service} (last lines of its log)", unit.name);
            for line in &lines[lines.len().saturating_sub(15)..] {
                eprintln!("    {line}");
            }
        }
    }
}

fn steps(demo: &mut Demo, j: &mut JujuLab) {
    j.listen(PORT);
    j.listen(NEW_PORT);
    let vip = j.lab.vip4();
    for h in j.lab.hosts() {
        demo.detail(&format!(
            "{}: eth0 {}/24, nginx stand-in on :{PORT} and :{NEW_PORT}",
            h.name, h.ipv4
        ));
    }
    demo.detail(&format!(
        "client: {} probing {vip}:{PORT} every 10 ms",
        j.lab.observer().ipv4
    ));
    j.start_prober(PORT);

    // ---------------------------------------------------------------- deploy
    demo.heading(
        "juju deploy keepalived; juju integrate keepalived:juju-info kubeapi-load-balancer",
    );
    let runs = j.model.deploy(3).expect("deploy");
    demo.detail(&hooks_summary(&runs));
    let (_, more) = j
        .model
        .integrate(
            "website",
            "kubernetes-control-plane",
            &["kubernetes-control-plane/0"],
        )
        .expect("integrate website");
    let (_, more2) = j
        .model
        .integrate(
            "loadbalancer",
            "kubernetes-worker",
            &["kubernetes-worker/0"],
        )
        .expect("integrate loadbalancer");
    demo.say(&format!(
        "juju integrate keepalived:website kubernetes-control-plane; keepalived:loadbalancer kubernetes-worker ({} hooks)",
        more.len() + more2.len()
    ));
    demo.detail(&format!(
        "$ juju status keepalived\n{}",
        j.model.juju_status()
    ));

    let step = format!("juju config keepalived virtual_ip={vip}/24");
    demo.heading(&step);
    let t = Instant::now();
    let runs = j
        .model
        .config(&[("virtual_ip", &format!("{vip}/24"))])
        .expect("config virtual_ip");
    let outage = j.settle_on("h1", t, Duration::from_secs(20), Duration::from_millis(500));
    let first = j
        .report()
        .probes
        .iter()
        .filter(|p| p.sent >= t)
        .find_map(|p| p.answered)
        .map(|a| a - t)
        .unwrap_or_default();
    demo.detail(&hooks_summary(&runs));
    demo.detail(&service_summary(j, t));
    demo.say(&format!(
        "VIP {vip} answered {} after the config change (the engines start as BACKUP and \
         wait one Master_Down_Interval), by {}",
        secs(first),
        holder_text(j, &outage.holder)
    ));
    demo.detail(&engines_summary(j));
    let status = juju_status(j);
    demo.detail(&format!("$ juju status keepalived\n{status}"));
    demo.rows.push(Row {
        step: "virtual_ip set: first answer".into(),
        outage: format!("up after {}", secs(first)),
        holder: holder_text(j, &outage.holder),
    });
    let website = j.model.relation_by_endpoint("website").expect("website");
    demo.detail(&format!(
        "website relation data of keepalived/0: {:?}",
        website.local_units_data["keepalived/0"]
    ));

    // ---------------------------------------------------------------- graceful stop
    let step = "juju remove-unit kubeapi-load-balancer/0 (keepalived/0, the MASTER, stops)";
    demo.heading(step);
    demo.detail(
        "stop hook → systemctl stop → SIGTERM → the engine sends priority 0; the next backup takes over after its skew time",
    );
    let t = Instant::now();
    let runs = j.model.remove_unit("keepalived/0").expect("remove-unit");
    let outage = j.settle_on(
        "h2",
        t,
        Duration::from_secs(10),
        Duration::from_millis(1000),
    );
    report_step(demo, j, "graceful stop of the master", t, &outage, &runs);

    // ---------------------------------------------------------------- crash
    let step = "the machine of keepalived/1 (the new MASTER) dies";
    demo.heading(step);
    demo.detail("its switch port goes down and its engine is SIGKILLed: no priority 0, backups wait Master_Down_Interval");
    let t = Instant::now();
    j.host_of("keepalived/1").unplug();
    j.model.crash_machine("keepalived/1");
    let outage = j.settle_on(
        "h3",
        t,
        Duration::from_secs(10),
        Duration::from_millis(1000),
    );
    report_step(demo, j, "crash of the master's machine", t, &outage, &[]);

    // ---------------------------------------------------------------- reboot
    let step = "the machine of keepalived/1 boots again";
    demo.heading(step);
    demo.detail("systemd starts the enabled engine, Juju fires start; priority 253 > 252: it takes the VIP back");
    let h2 = j.host_of("keepalived/1");
    // A rebooted machine has only its own address; the VIP its killed engine left on
    // eth0 is gone.
    let _ = h2.ns.try_ip(&format!("addr del {vip}/24 dev eth0"));
    h2.plug();
    let t = Instant::now();
    let runs = j.model.reboot_machine("keepalived/1").expect("reboot");
    let outage = j.settle_on(
        "h2",
        t,
        Duration::from_secs(10),
        Duration::from_millis(1000),
    );
    report_step(demo, j, "machine back: preemption", t, &outage, &runs);

    // ---------------------------------------------------------------- config changes
    for (key, value, why) in [
        (
            "port",
            NEW_PORT.to_string(),
            "new health-check target: config rendered, systemctl reload (SIGHUP), no restart",
        ),
        (
            "vip_hostname",
            "kubeapi.lab.internal".to_string(),
            "only what clients are told changes: relation data, the engine is not touched",
        ),
        (
            "healthcheck_interval",
            "1".to_string(),
            "health check every second: systemctl reload (SIGHUP)",
        ),
    ] {
        let step = format!("juju config keepalived {key}={value}");
        demo.heading(&step);
        demo.detail(why);
        let t = Instant::now();
        let runs = j.model.config(&[(key, &value)]).expect("config");
        let outage = j.settle_on(
            "h2",
            t,
            Duration::from_secs(10),
            Duration::from_millis(1500),
        );
        report_step(demo, j, &format!("config {key}={value}"), t, &outage, &runs);
    }
    if let Some(website) = j.model.relation_by_endpoint("website") {
        demo.detail(&format!(
            "website relation data of keepalived/1 now: {:?}",
            website.local_units_data["keepalived/1"]
        ));
    }

    // ---------------------------------------------------------------- summary
    demo.heading("timeline");
    let w = demo
        .rows
        .iter()
        .map(|r| r.step.len())
        .max()
        .unwrap_or(4)
        .max(4);
    println!("  {:<w$}  {:>16}  VIP holder", "step", "client outage");
    for r in &demo.rows {
        println!("  {:<w$}  {:>16}  {}", r.step, r.outage, r.holder);
    }
    println!();
    println!("  engine lifetimes (live systemd stand-in):");
    let units: Vec<String> = j.hosts.keys().cloned().collect();
    for unit in units {
        let start = demo.start;
        let services = j.model.services(&unit);
        services.refresh();
        for l in services.lifetimes.iter().filter(|l| l.service == ENGINE) {
            let from = (l.started - start).as_secs_f64();
            let to = match (l.ended, &l.end) {
                (Some(e), Some(how)) => format!("{:>6.2} s ({how})", (e - start).as_secs_f64()),
                _ => "  running".to_string(),
            };
            println!("    {unit}  pid {:<7} {from:>6.2} s → {to}", l.pid);
        }
    }
    let failures: Vec<String> = j
        .hosts
        .keys()
        .cloned()
        .collect::<Vec<_>>()
        .iter()
        .flat_map(|u| j.model.services(u).failures())
        .collect();
    assert!(failures.is_empty(), "the stand-in failed: {failures:?}");
    println!();
    demo.say("tearing down: engines, listeners, namespaces, temp dirs");
}

/// Names of network namespaces this process made (lab and emulator prefixes).
fn our_namespaces() -> Vec<String> {
    let pid = std::process::id();
    let prefixes = [format!("kcl{pid}x"), format!("kaemu-{pid}-")];
    std::fs::read_dir("/run/netns")
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| prefixes.iter().any(|p| n.starts_with(p)))
                .collect()
        })
        .unwrap_or_default()
}

/// After a signal: kill every process in our namespaces, delete them, remove our
/// temp dirs. (The demo thread may be anywhere; nothing of it is needed any more.)
fn emergency_cleanup() {
    for _ in 0..2 {
        for ns in our_namespaces() {
            if let Ok(out) = std::process::Command::new(juju_emulator::netns::ip_binary())
                .args(["netns", "pids", &ns])
                .output()
            {
                for pid in String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .filter_map(|l| l.trim().parse::<i32>().ok())
                {
                    // SAFETY: kill(2) with integers only; a pid gone meanwhile gives ESRCH.
                    unsafe {
                        libc::kill(pid, libc::SIGKILL);
                    }
                }
            }
        }
    }
    for ns in our_namespaces() {
        let _ = std::process::Command::new(juju_emulator::netns::ip_binary())
            .args(["netns", "del", &ns])
            .status();
    }
    for dir in CLEANUP.lock().unwrap_or_else(|p| p.into_inner()).iter() {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// The signal that asked the demo to end (0: none yet).
static SIGNAL: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(sig: libc::c_int) {
    // Only an atomic store: async-signal-safe.
    SIGNAL.store(sig, Ordering::SeqCst);
}

fn main() -> ExitCode {
    // Handlers, not a blocked mask: a blocked mask would be inherited by every service
    // the stand-in starts (std does not reset it), and the engines would never see
    // their SIGTERM or SIGHUP. Handlers are reset to the default by exec.
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: the sigaction struct is zeroed then filled (handler, empty mask, no
        // flags); `on_signal` only stores to an atomic, which is async-signal-safe.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(sig, &action, std::ptr::null_mut());
        }
    }
    let demo = std::thread::spawn(|| std::panic::catch_unwind(run).is_ok());
    loop {
        if demo.is_finished() {
            let ok = demo.join().unwrap_or(false);
            // The lab keeps its artefacts when a step panics; the demo leaves nothing.
            for dir in CLEANUP.lock().unwrap_or_else(|p| p.into_inner()).iter() {
                let _ = std::fs::remove_dir_all(dir);
            }
            let left = our_namespaces();
            if !left.is_empty() {
                eprintln!("make demo: namespaces left behind: {left:?}; removing them");
                emergency_cleanup();
                return ExitCode::FAILURE;
            }
            if ok {
                println!("make demo: done, nothing left behind");
                return ExitCode::SUCCESS;
            }
            eprintln!("make demo: FAILED (see above); everything it started was removed");
            return ExitCode::FAILURE;
        }
        let sig = SIGNAL.load(Ordering::SeqCst);
        if sig != 0 {
            eprintln!("\nmake demo: interrupted (signal {sig}); removing everything it started");
            emergency_cleanup();
            return ExitCode::from(130);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
