//! The engine's metrics endpoint in the namespace lab: a real Prometheus (the Debian
//! package) in the observer namespace scrapes two engines every second and sees the
//! VIP move; a hostile scraper (1000 connections, a client that never reads its
//! responses) delays no advert and does not grow the engine's memory.
//!
//! `cargo test -p netns-lab --test engine -- metrics --nocapture` prints the figures.

use std::io::Write;
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use netns_lab::http::{http_get, in_netns};
use netns_lab::{require_program, wait_until, Host, Lab};

const PORT: u16 = 9165;

fn write_metrics_address(host: &Host, addr: SocketAddr) {
    std::fs::write(host.engine_metrics_file(), format!("{addr}\n")).expect("write");
}

/// `keepalived_vrrp_state` per scrape target (`instance` label), via Prometheus'
/// query API.
fn prometheus_states(ns: &str) -> Vec<(String, String)> {
    let api: SocketAddr = "127.0.0.1:9090".parse().unwrap();
    let Some(body) = http_get(ns, api, "/api/v1/query?query=keepalived_vrrp_state") else {
        return Vec::new();
    };
    let Ok(json) = serde_json::from_str::<serde_json::Value>(&body) else {
        return Vec::new();
    };
    json["data"]["result"]
        .as_array()
        .map(|results| {
            results
                .iter()
                .map(|r| {
                    (
                        r["metric"]["instance"].as_str().unwrap_or("").to_string(),
                        r["value"][1].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn state_of(states: &[(String, String)], target: &str) -> Option<String> {
    states
        .iter()
        .find(|(i, _)| i == target)
        .map(|(_, v)| v.clone())
}

fn rss_kib(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn engine_pid(host: &Host) -> i32 {
    *host.daemon_pids().first().expect("the engine runs")
}

fn wait_state(host: &Host, state: &str) {
    wait_until(
        &format!("{} {state}", host.name),
        Duration::from_secs(15),
        || {
            host.engine_state()
                .filter(|s| s.instances.first().is_some_and(|i| i.state == state))
        },
    );
}

#[test]
fn metrics_a_real_prometheus_sees_the_vip_move() {
    require_program("prometheus", "prometheus");
    let lab = Lab::builder("mprom").hosts(2).build();
    let (h1, h2) = (lab.host(0), lab.host(1));
    let targets: Vec<SocketAddr> = [h1, h2]
        .iter()
        .map(|h| SocketAddr::new(IpAddr::V4(h.ipv4), PORT))
        .collect();
    for (i, (host, prio)) in [(h1, 200), (h2, 100)].into_iter().enumerate() {
        write_metrics_address(host, targets[i]);
        host.start_engine(&lab.keepalived_conf(i, prio).render());
    }
    wait_state(h1, "MASTER");
    wait_state(h2, "BACKUP");

    // Prometheus in the observer namespace, API on its loopback, scraping every 1 s.
    let config = lab.dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\nscrape_configs:\n  - job_name: keepalived\n    static_configs:\n      - targets: ['{}', '{}']\n",
            targets[0], targets[1]
        ),
    )
    .expect("write prometheus.yml");
    let data = lab.dir.join("prometheus-data");
    let arg = |flag: &str, p: &Path| format!("--{flag}={}", p.display());
    let (config_arg, data_arg) = (arg("config.file", &config), arg("storage.tsdb.path", &data));
    let ob = lab.observer();
    ob.spawn(
        "prometheus",
        &[
            "prometheus",
            &config_arg,
            &data_arg,
            "--web.listen-address=127.0.0.1:9090",
        ],
    );
    let (t1, t2) = (targets[0].to_string(), targets[1].to_string());
    let ns = ob.ns.name.clone();
    let before = wait_until(
        "Prometheus to see h1 MASTER (2) and h2 BACKUP (1)",
        Duration::from_secs(60),
        || {
            let s = prometheus_states(&ns);
            (state_of(&s, &t1).as_deref() == Some("2") && state_of(&s, &t2).as_deref() == Some("1"))
                .then_some(s)
        },
    );
    eprintln!("before failover: {before:?}");

    // Failover: h1's engine stops (priority 0), h2 takes the VIP.
    h1.stop_daemon(Duration::from_secs(10));
    wait_state(h2, "MASTER");
    let after = wait_until(
        "Prometheus to see h2 MASTER and h1 gone or BACKUP",
        Duration::from_secs(30),
        || {
            let s = prometheus_states(&ns);
            let h1_now = state_of(&s, &t1);
            (state_of(&s, &t2).as_deref() == Some("2")
                && matches!(h1_now.as_deref(), None | Some("1")))
            .then_some(s)
        },
    );
    eprintln!("after failover: {after:?}");
}

#[test]
fn metrics_a_hostile_scraper_delays_no_advert_and_memory_stays_bounded() {
    let lab = Lab::builder("mhost").hosts(1).build();
    let h1 = lab.host(0);
    let target = SocketAddr::new(IpAddr::V4(h1.ipv4), PORT);
    write_metrics_address(h1, target);
    let mut conf = lab.keepalived_conf(0, 200);
    conf.version = 3;
    conf.advert_int = "0.1".to_string();
    h1.start_engine(&conf.render());
    wait_state(h1, "MASTER");
    let ob = lab.observer().ns.name.clone();
    let scraped = http_get(&ob, target, "/metrics").expect("a scrape");
    assert!(scraped.contains("keepalived_vrrp_state{"), "{scraped}");
    std::thread::sleep(Duration::from_secs(1));
    let pid = engine_pid(h1);
    let idle_rss = rss_kib(pid);

    let adverts = lab.watch_adverts(IpAddr::V4(h1.ipv4));
    std::thread::sleep(Duration::from_secs(2));
    let quiet_until = Instant::now();

    // The attack, for 5 s: rounds of 1000 connections held open without a byte,
    // and clients that send a request and never read the answer.
    let attack_for = Duration::from_secs(5);
    let attack = in_netns(&ob, move || {
        let limit = libc::rlimit {
            rlim_cur: 4096,
            rlim_max: 4096,
        };
        // SAFETY: plain setrlimit(2) on a valid struct.
        unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) };
        let start = Instant::now();
        let (mut opened, mut rounds) = (0usize, 0usize);
        while start.elapsed() < attack_for {
            let mut held = Vec::with_capacity(1000);
            for _ in 0..1000 {
                if let Ok(s) = TcpStream::connect_timeout(&target, Duration::from_millis(500)) {
                    held.push(s);
                    opened += 1;
                }
            }
            for s in held.iter_mut().take(32) {
                let _ = s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
            }
            std::thread::sleep(Duration::from_millis(500));
            rounds += 1;
            drop(held);
        }
        (opened, rounds)
    });
    let mut peak_rss = idle_rss;
    while !attack.is_finished() {
        peak_rss = peak_rss.max(rss_kib(pid));
        std::thread::sleep(Duration::from_millis(50));
    }
    let (opened, rounds) = attack.join().expect("the attack thread");
    let attack_end = Instant::now();
    peak_rss = peak_rss.max(rss_kib(pid));

    let gaps = |from: Instant, to: Instant| -> (Duration, usize) {
        let at: Vec<Instant> = adverts
            .all()
            .into_iter()
            .filter(|a| a.src == IpAddr::V4(h1.ipv4) && a.at >= from && a.at <= to)
            .map(|a| a.at)
            .collect();
        let max = at
            .windows(2)
            .map(|w| w[1] - w[0])
            .max()
            .unwrap_or(Duration::MAX);
        (max, at.len())
    };
    let (quiet_gap, quiet_n) = gaps(quiet_until - Duration::from_secs(2), quiet_until);
    let (attack_gap, attack_n) = gaps(quiet_until, attack_end);
    // Still serving once the attack is over.
    let after = wait_until("a scrape after the attack", Duration::from_secs(20), || {
        http_get(&ob, target, "/metrics")
    });
    assert!(after.contains("keepalived_up 1"));
    eprintln!(
        "metrics hostile scraper: {opened} connections in {rounds} rounds; adverts every 100 ms: \
         max gap {:.1} ms quiet ({quiet_n} adverts), {:.1} ms under attack ({attack_n} adverts); \
         engine RSS {idle_rss} KiB idle with metrics on, {peak_rss} KiB peak under attack",
        quiet_gap.as_secs_f64() * 1000.0,
        attack_gap.as_secs_f64() * 1000.0,
    );
    assert!(opened >= 1000, "only {opened} connections opened");
    assert!(attack_n >= 40, "only {attack_n} adverts under attack");
    // No advert missed under attack (two intervals or more would be one); the jitter
    // figures are printed above for the note.
    assert!(
        attack_gap < Duration::from_millis(200),
        "an advert gap of {attack_gap:?} under attack (interval 100 ms): an advert was missed"
    );
    assert!(
        peak_rss < 20 * 1024,
        "engine RSS {peak_rss} KiB under attack"
    );
}
