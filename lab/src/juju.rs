//! Juju units on the namespace lab: each `keepalived/N` is driven through its hooks by
//! the emulator inside lab host `hN+1` (one bridge, one subnet), with the live systemd
//! stand-in running its services for real; each host runs a tiny TCP listener that
//! stands in for the principal (kubeapi-load-balancer's nginx) and answers with the
//! host's name, and the observer probes the VIP as a client.
//!
//! Needs the including crate to declare `mod emulator;` and `mod lab;` (the usual
//! `#[path]` includes). Drop order kills the prober, then the units' services, then the
//! lab's namespaces.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::{prober, Host, Lab, ProbeReport, Prober, Task};
use juju_emulator::{Model, NetnsSpec};

/// What one step did to the clients.
#[derive(Debug, Clone)]
pub struct Outage {
    /// The longest time without an answer from the VIP (answer to answer).
    pub longest: Duration,
    /// Who answered before and after that gap (host names).
    pub before: String,
    pub after: String,
    /// Who answers at the end of the step (the host waited for).
    pub holder: String,
    /// Every change of the answering host since the step began: (from, to, time
    /// from the last answer of `from` to the first of `to`).
    pub handovers: Vec<(String, String, Duration)>,
    /// "h1 x120, (none) x30, h2 x50" since the step began.
    pub summary: String,
}

impl Outage {
    /// "h1→h3 619 ms, h3→h1 12 ms", or "none".
    pub fn handovers_text(&self) -> String {
        if self.handovers.is_empty() {
            return "none".to_string();
        }
        self.handovers
            .iter()
            .map(|(a, b, d)| format!("{a}→{b} {:.0} ms", d.as_secs_f64() * 1000.0))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Changes of the answering host among answers after `since`, with the gap each took.
fn handovers(report: &ProbeReport, since: Instant) -> Vec<(String, String, Duration)> {
    report
        .answers()
        .windows(2)
        .filter(|w| w[1].0 > since && w[0].1 != w[1].1)
        .map(|w| (w[0].1.to_string(), w[1].1.to_string(), w[1].0 - w[0].0))
        .collect()
}

/// A lab whose hosts are the machines of the units.
pub struct JujuLab {
    pub prober: Option<Prober>,
    /// Listeners started with [`JujuLab::listen`], aborted on drop.
    listeners: Vec<Task<()>>,
    pub model: Model,
    pub lab: Lab,
    /// unit -> host index.
    pub hosts: BTreeMap<String, usize>,
}

impl JujuLab {
    /// `n` lab hosts and an observer; a model with the live systemd stand-in whose
    /// next `n` units (the next `deploy`) go on h1..hN in order.
    pub fn new(tag: &str, n: usize) -> JujuLab {
        let lab = Lab::builder(tag).hosts(n).build();
        let mut model = Model::new();
        model.enable_live_services();
        let placements: Vec<(String, NetnsSpec)> = lab
            .hosts()
            .iter()
            .map(|h| {
                (
                    h.ns.name.clone(),
                    NetnsSpec::new("eth0", &format!("{}/24", h.ipv4)),
                )
            })
            .collect();
        model.place_next_units(&placements);
        let hosts = (0..n).map(|i| (format!("keepalived/{i}"), i)).collect();
        JujuLab {
            prober: None,
            listeners: Vec::new(),
            model,
            lab,
            hosts,
        }
    }

    pub fn host_of(&self, unit: &str) -> &Host {
        self.lab.host(self.hosts[unit])
    }

    /// The unit on host `name` ("h2" -> "keepalived/1").
    pub fn unit_on(&self, host: &str) -> String {
        self.hosts
            .iter()
            .find(|(_, &i)| self.lab.host(i).name == host)
            .map(|(u, _)| u.clone())
            .unwrap_or_else(|| host.to_string())
    }

    /// Starts, in every host, a listener on `port` answering with the host's name (the
    /// principal's service: the health check connects to it, the prober probes it).
    pub fn listen(&mut self, port: u16) {
        for h in self.lab.hosts() {
            self.listeners
                .push(prober::start_listener(&h.ns, &h.name, port));
        }
    }

    /// The observer probes `VIP:port` every 10 ms from now on.
    pub fn start_prober(&mut self, port: u16) {
        let target = std::net::SocketAddr::new(self.lab.vip4().into(), port);
        self.prober = Some(Prober::start(
            &self.lab.observer().ns,
            target,
            Duration::from_millis(10),
            Duration::from_millis(200),
        ));
    }

    pub fn prober(&self) -> &Prober {
        self.prober.as_ref().expect("start_prober first")
    }

    pub fn report(&self) -> ProbeReport {
        self.prober().report()
    }

    /// Waits until `host` answers on the VIP (a probe sent after this call: the step's
    /// actions are done), then for `quiet` more, and returns the outage clients saw
    /// since the step began at `since`.
    pub fn settle_on(
        &self,
        host: &str,
        since: Instant,
        within: Duration,
        quiet: Duration,
    ) -> Outage {
        self.prober().wait_holder(host, Instant::now(), within);
        std::thread::sleep(quiet);
        let report = self.report();
        let summary = report.summary_since(since);
        let handovers = handovers(&report, since);
        match report.longest_gap_after(since) {
            Some(gap) => Outage {
                longest: gap.len(),
                before: gap.host_before.clone(),
                after: gap.host_after.clone(),
                holder: host.to_string(),
                handovers: handovers.clone(),
                summary,
            },
            None => Outage {
                longest: Duration::ZERO,
                before: host.to_string(),
                after: host.to_string(),
                holder: host.to_string(),
                handovers: handovers.clone(),
                summary,
            },
        }
    }

    /// Deploys `n` units of the charm with `virtual_ip` (the lab's VIP, /24), `port`
    /// and `network_interface=eth0`, starts probing `VIP:port` and waits until h1
    /// answers and has for half a second: the usual first step of a journey.
    pub fn deploy_answering(&mut self, n: usize, port: u16) {
        let vip = format!("{}/24", self.lab.vip4());
        self.model
            .config(&[
                ("virtual_ip", vip.as_str()),
                ("port", &port.to_string()),
                ("network_interface", "eth0"),
            ])
            .expect("config");
        let runs = self.model.deploy(n).expect("deploy");
        assert!(runs.iter().all(|r| r.ok()), "deploy hooks failed");
        self.start_prober(port);
        self.settle_on(
            "h1",
            Instant::now(),
            Duration::from_secs(15),
            Duration::from_millis(500),
        );
    }

    /// The engine config the charm rendered on `unit`.
    pub fn engine_config(&self, unit: &str) -> String {
        let path = self
            .model
            .unit(unit)
            .root
            .join("etc/keepalived-charm/keepalived.conf");
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// The longest time between two answers the client got from `from` to `to`.
    pub fn longest_answer_gap(&self, from: Instant, to: Instant) -> Duration {
        let answers: Vec<Instant> = self
            .report()
            .answers()
            .into_iter()
            .map(|(t, _)| t)
            .filter(|t| (from..=to).contains(t))
            .collect();
        answers
            .windows(2)
            .map(|w| w[1] - w[0])
            .max()
            .unwrap_or_default()
    }

    /// Hosts whose eth0 carries the VIP now.
    pub fn vip_holders(&self) -> Vec<String> {
        let vip = self.lab.vip4().into();
        self.lab
            .hosts()
            .iter()
            .filter(|h| h.has_address(vip))
            .map(|h| h.name.clone())
            .collect()
    }
}

impl Drop for JujuLab {
    fn drop(&mut self) {
        if let Some(p) = self.prober.take() {
            let _ = p.stop();
        }
        // The units' directories (hook logs, charm state, engine config, state file
        // and log) are what a failed journey is diagnosed from: kept as the lab's are.
        if std::thread::panicking() || std::env::var_os("LAB_KEEP").is_some() {
            self.model.dir.disable_cleanup(true);
            eprintln!("model: units kept in {}", self.model.dir.path().display());
        }
        for l in self.listeners.drain(..) {
            l.abort();
        }
    }
}
