//! The client's view: from the observer, a TCP connect to the VIP every few
//! milliseconds. Each host runs a tiny listener that answers with its own name, so
//! every answered probe also says WHO held the VIP. The longest gap between two
//! answered probes is the client outage (docs/scenarios.md M-3, T_outage).
//!
//! Each probe is its own connection attempt with a short timeout: a SYN lost to a
//! dead MAC is not retried by TCP within the timeout (first retransmit after 1 s), so
//! a probe answered means the VIP was reachable when it was sent, to within one
//! probe interval.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::ns::{Netns, Task};

/// The port the host listeners answer on (inside the namespaces only).
pub const PROBE_PORT: u16 = 7777;

/// One connection attempt.
#[derive(Debug, Clone)]
pub struct Probe {
    pub sent: Instant,
    /// When the answer (the host's name) arrived, if it did within the timeout.
    pub answered: Option<Instant>,
    pub host: Option<String>,
}

/// Starts, in `ns`, a listener on `[::]:port` (IPv4 and IPv6) that writes `name`
/// and a newline to every connection.
pub fn start_listener(ns: &Netns, name: &str, port: u16) -> Task<()> {
    let answer = format!("{name}\n").into_bytes();
    let listener = ns.run(move || {
        let sock = socket2::Socket::new(socket2::Domain::IPV6, socket2::Type::STREAM, None)
            .expect("listener socket");
        sock.set_only_v6(false).expect("dual-stack listener");
        sock.set_reuse_address(true).expect("SO_REUSEADDR");
        let addr: SocketAddr = format!("[::]:{port}").parse().expect("literal address");
        sock.bind(&addr.into()).expect("bind the probe listener");
        sock.listen(128).expect("listen");
        sock.set_nonblocking(true).expect("non-blocking listener");
        std::net::TcpListener::from(sock)
    });
    ns.spawn(move || async move {
        let listener = TcpListener::from_std(listener).expect("register the listener");
        loop {
            let Ok((mut conn, _)) = listener.accept().await else {
                continue;
            };
            let answer = answer.clone();
            tokio::task::spawn_local(async move {
                let _ = conn.write_all(&answer).await;
                let _ = conn.shutdown().await;
            });
        }
    })
}

/// A running prober; [`Prober::report`] reads what it has seen so far.
pub struct Prober {
    log: Arc<Mutex<Vec<Probe>>>,
    task: Task<()>,
    pub target: SocketAddr,
}

impl Prober {
    /// Probes `target` from namespace `ns` every `interval`, each probe abandoned after
    /// `timeout`.
    pub fn start(ns: &Netns, target: SocketAddr, interval: Duration, timeout: Duration) -> Prober {
        let log = Arc::new(Mutex::new(Vec::new()));
        let shared = Arc::clone(&log);
        let task = ns.spawn(move || async move {
            let mut ticker = tokio::time::interval(interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                let shared = Arc::clone(&shared);
                tokio::task::spawn_local(async move {
                    let sent = Instant::now();
                    let outcome = tokio::time::timeout(timeout, probe_once(target)).await;
                    let (answered, host) = match outcome {
                        Ok(Some(name)) => (Some(Instant::now()), Some(name)),
                        _ => (None, None),
                    };
                    let mut log = shared.lock().unwrap_or_else(|p| p.into_inner());
                    log.push(Probe {
                        sent,
                        answered,
                        host,
                    });
                });
            }
        });
        Prober { log, task, target }
    }

    /// Every finished probe so far, in sending order.
    pub fn report(&self) -> ProbeReport {
        let mut probes = self.log.lock().unwrap_or_else(|p| p.into_inner()).clone();
        probes.sort_by_key(|p| p.sent);
        ProbeReport { probes }
    }

    /// Waits until a probe sent after `since` is answered by `host`; returns its send
    /// time. Panics after `within`, showing who answered meanwhile.
    pub fn wait_holder(&self, host: &str, since: Instant, within: Duration) -> Instant {
        let deadline = Instant::now() + within;
        loop {
            let report = self.report();
            if let Some(p) = report
                .probes
                .iter()
                .find(|p| p.sent >= since && p.host.as_deref() == Some(host))
            {
                return p.sent;
            }
            if Instant::now() >= deadline {
                panic!(
                    "{host} did not answer on {} within {within:?}; answers since: {}",
                    self.target,
                    report.summary_since(since)
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Stops probing and returns the final report.
    pub fn stop(self) -> ProbeReport {
        self.task.abort();
        // Probes in flight when stopped are lost; they carry no information.
        self.report()
    }
}

async fn probe_once(target: SocketAddr) -> Option<String> {
    let mut conn = TcpStream::connect(target).await.ok()?;
    let mut buf = Vec::with_capacity(32);
    conn.read_to_end(&mut buf).await.ok()?;
    let name = String::from_utf8(buf).ok()?;
    let name = name.trim();
    (!name.is_empty()).then(|| name.to_string())
}

/// A gap between two answered probes, measured on answer times: the end is when the
/// VIP answered again (probes queued behind an unresolved neighbour entry are all
/// answered at that moment, so send times would understate the outage).
#[derive(Debug, Clone)]
pub struct Gap {
    /// Answer time of the last answered probe before the gap.
    pub from: Instant,
    /// Answer time of the first answered probe after it.
    pub to: Instant,
    pub host_before: String,
    pub host_after: String,
}

impl Gap {
    pub fn len(&self) -> Duration {
        self.to - self.from
    }
}

/// What the prober saw.
#[derive(Debug, Clone)]
pub struct ProbeReport {
    pub probes: Vec<Probe>,
}

impl ProbeReport {
    pub fn answered(&self) -> impl Iterator<Item = &Probe> {
        self.probes.iter().filter(|p| p.host.is_some())
    }

    /// Every answer as (when it came, which host gave it), in time order.
    pub fn answers(&self) -> Vec<(Instant, &str)> {
        let mut answers: Vec<(Instant, &str)> = self
            .probes
            .iter()
            .filter_map(|p| Some((p.answered?, p.host.as_deref()?)))
            .collect();
        answers.sort_by_key(|(t, _)| *t);
        answers
    }

    /// The longest gap between consecutive answers where the later answer came after
    /// `since` (the client outage caused by something done at `since`).
    pub fn longest_gap_after(&self, since: Instant) -> Option<Gap> {
        self.answers()
            .windows(2)
            .filter(|w| w[1].0 > since)
            .map(|w| Gap {
                from: w[0].0,
                to: w[1].0,
                host_before: w[0].1.to_string(),
                host_after: w[1].1.to_string(),
            })
            .max_by_key(Gap::len)
    }

    /// Who answered, in order, with each change of holder once: `[(t, "h1"), (t, "h2")]`.
    pub fn holders(&self) -> Vec<(Instant, String)> {
        let mut out: Vec<(Instant, String)> = Vec::new();
        for p in self.answered() {
            let host = p.host.clone().unwrap_or_default();
            if out.last().map(|(_, h)| h != &host).unwrap_or(true) {
                out.push((p.sent, host));
            }
        }
        out
    }

    /// Hosts that answered any probe sent after `since`.
    pub fn hosts_since(&self, since: Instant) -> Vec<String> {
        let mut hosts: Vec<String> = self
            .answered()
            .filter(|p| p.sent >= since)
            .filter_map(|p| p.host.clone())
            .collect();
        hosts.sort();
        hosts.dedup();
        hosts
    }

    /// "h1 x120, (none) x30, h2 x50" for probes sent after `since`.
    pub fn summary_since(&self, since: Instant) -> String {
        let mut runs: Vec<(String, usize)> = Vec::new();
        for p in self.probes.iter().filter(|p| p.sent >= since) {
            let who = p.host.clone().unwrap_or_else(|| "(none)".to_string());
            match runs.last_mut() {
                Some((h, n)) if *h == who => *n += 1,
                _ => runs.push((who, 1)),
            }
        }
        if runs.is_empty() {
            return "no probes".to_string();
        }
        runs.iter()
            .map(|(h, n)| format!("{h} x{n}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}
