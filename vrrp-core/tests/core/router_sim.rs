//! A simulated shared Ethernet segment for the pure router state machine.
//!
//! Several `Router`s share one segment. Every `SendAdvert` one of them emits is
//! delivered to every other router after a fixed latency, unless the directed link
//! is partitioned or the packet is lost (per-link loss, deterministic pseudo-random
//! from a seed). One global clock: the next thing to happen is either the earliest
//! router deadline (`poll_timeout`) or the earliest queued delivery. At equal times
//! router timers fire first (in node order), then deliveries in send order — a
//! conservative model: a packet arriving at the very instant a timer fires is too
//! late to stop it.
//!
//! Everything observable is logged with its exact time, so scenarios assert exact
//! instants and window lengths. Only the public API of the router is used: this is
//! also a proof that a driver can be written against it.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::time::Duration;

use vrrp_core::proto::Advert;
use vrrp_core::router::{Action, Input, Reason, Router, RouterConfig, State, Time};

/// One observable event on the segment.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    State {
        from: State,
        to: State,
        reason: Reason,
    },
    Advert {
        priority: u8,
    },
    Gratuitous {
        repeat: u32,
    },
    VipsAdded,
    VipsRemoved,
    Crashed,
    Lost {
        to: usize,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub at: Time,
    pub node: usize,
    pub record: Record,
}

pub struct Node {
    pub router: Router,
    pub alive: bool,
    /// Whether the VIPs are configured on this node right now.
    pub holds_vips: bool,
}

enum Event {
    Deliver {
        from: usize,
        to: usize,
        advert: Advert,
    },
}

/// SplitMix64: tiny, seeded, good enough to decide packet loss reproducibly.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

pub struct Segment {
    pub now: Time,
    pub nodes: Vec<Node>,
    configs: Vec<RouterConfig>,
    pub latency: Duration,
    queue: BTreeMap<(Time, u64), Event>,
    seq: u64,
    rng: Rng,
    /// Loss probability per directed link, in parts per million.
    loss_ppm: BTreeMap<(usize, usize), u64>,
    blocked: BTreeSet<(usize, usize)>,
    pub log: Vec<Entry>,
}

impl Segment {
    /// Routers in Initialize (not started) on a lossless segment.
    pub fn new(configs: Vec<RouterConfig>, latency: Duration, seed: u64) -> Segment {
        let nodes = configs
            .iter()
            .map(|c| Node {
                router: Router::new(c.clone()).expect("valid config"),
                alive: true,
                holds_vips: false,
            })
            .collect();
        Segment {
            now: Time::ZERO,
            nodes,
            configs,
            latency,
            queue: BTreeMap::new(),
            seq: 0,
            rng: Rng(seed),
            loss_ppm: BTreeMap::new(),
            blocked: BTreeSet::new(),
            log: Vec::new(),
        }
    }

    pub fn address(&self, node: usize) -> IpAddr {
        self.configs[node].primary_address
    }

    /// Loss on every link between distinct nodes, both directions.
    pub fn set_loss_everywhere(&mut self, ppm: u64) {
        for a in 0..self.nodes.len() {
            for b in 0..self.nodes.len() {
                if a != b {
                    self.loss_ppm.insert((a, b), ppm);
                }
            }
        }
    }

    /// Cuts both directions between `a` and `b`.
    pub fn partition(&mut self, a: usize, b: usize) {
        self.blocked.insert((a, b));
        self.blocked.insert((b, a));
    }

    /// Drops everything `from` sends to `to` (one-way loss, S8).
    pub fn block(&mut self, from: usize, to: usize) {
        self.blocked.insert((from, to));
    }

    pub fn heal(&mut self, a: usize, b: usize) {
        self.blocked.remove(&(a, b));
        self.blocked.remove(&(b, a));
    }

    pub fn input(&mut self, node: usize, input: Input) {
        let actions = self.nodes[node].router.handle(self.now, input);
        self.apply(node, actions);
    }

    pub fn start(&mut self, node: usize) {
        self.input(node, Input::Startup);
    }

    pub fn start_all(&mut self) {
        for node in 0..self.nodes.len() {
            self.start(node);
        }
    }

    /// The machine dies: no more packets, its VIPs vanish with it, no priority 0.
    pub fn crash(&mut self, node: usize) {
        self.nodes[node].alive = false;
        self.nodes[node].holds_vips = false;
        self.record(node, Record::Crashed);
    }

    /// A crashed machine boots again with a fresh router (not yet started).
    pub fn reboot(&mut self, node: usize) {
        self.nodes[node] = Node {
            router: Router::new(self.configs[node].clone()).expect("valid config"),
            alive: true,
            holds_vips: false,
        };
    }

    /// The node's configuration changes at `now` (a SIGHUP after the charm rendered a
    /// new file): a refused config panics, it is a test bug.
    pub fn reconfigure(&mut self, node: usize, config: RouterConfig) {
        let actions = self.nodes[node]
            .router
            .reconfigure(self.now, config.clone())
            .expect("valid config");
        self.configs[node] = config;
        self.apply(node, actions);
    }

    /// Runs every timer and delivery due up to and including `end`.
    pub fn run_until(&mut self, end: Time) {
        loop {
            let timer = self
                .nodes
                .iter()
                .enumerate()
                .filter(|(_, n)| n.alive)
                .filter_map(|(i, n)| n.router.poll_timeout().map(|t| (t, i)))
                .min();
            let event = self.queue.keys().next().copied();
            match (timer, event) {
                (Some((t, node)), e) if t <= end && e.map_or(true, |(et, _)| t <= et) => {
                    self.now = t;
                    let actions = self.nodes[node].router.handle_timeout(t);
                    // A router must consume a due deadline; one that does not
                    // would spin the simulation forever.
                    let next = self.nodes[node].router.poll_timeout();
                    assert!(
                        next.map_or(true, |n| n > t),
                        "node {node} did not consume its deadline {t} (next {next:?})"
                    );
                    self.apply(node, actions);
                }
                (_, Some(key)) if key.0 <= end => {
                    let event = self.queue.remove(&key).expect("key just seen");
                    self.now = key.0;
                    self.deliver(event);
                }
                _ => break,
            }
        }
        self.now = end;
    }

    fn deliver(&mut self, event: Event) {
        let Event::Deliver { from, to, advert } = event;
        if !self.nodes[to].alive {
            return;
        }
        let mismatch = advert.interval != self.configs[to].advert_interval;
        let input = Input::Advert {
            from: self.address(from),
            advert,
            interval_mismatch: mismatch,
        };
        let actions = self.nodes[to].router.handle(self.now, input);
        self.apply(to, actions);
    }

    fn apply(&mut self, node: usize, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::SendAdvert(advert) => {
                    self.record(
                        node,
                        Record::Advert {
                            priority: advert.priority.get(),
                        },
                    );
                    self.broadcast(node, advert);
                }
                Action::AddVips(_) => {
                    self.nodes[node].holds_vips = true;
                    self.record(node, Record::VipsAdded);
                }
                Action::RemoveVips(_) => {
                    self.nodes[node].holds_vips = false;
                    self.record(node, Record::VipsRemoved);
                }
                Action::SendGratuitous { repeat, .. } => {
                    self.record(node, Record::Gratuitous { repeat })
                }
                Action::StateChanged { from, to, reason } => {
                    self.record(node, Record::State { from, to, reason })
                }
            }
        }
    }

    fn broadcast(&mut self, from: usize, advert: Advert) {
        for to in 0..self.nodes.len() {
            if to == from || self.blocked.contains(&(from, to)) {
                continue;
            }
            let ppm = self.loss_ppm.get(&(from, to)).copied().unwrap_or(0);
            if ppm > 0 && self.rng.next() % 1_000_000 < ppm {
                self.record(from, Record::Lost { to });
                continue;
            }
            self.seq += 1;
            let advert = advert.clone();
            self.queue.insert(
                (self.now + self.latency, self.seq),
                Event::Deliver { from, to, advert },
            );
        }
    }

    fn record(&mut self, node: usize, record: Record) {
        self.log.push(Entry {
            at: self.now,
            node,
            record,
        });
    }

    // ----- observations ------------------------------------------------------

    pub fn state(&self, node: usize) -> State {
        self.nodes[node].router.state()
    }

    /// Nodes currently in Master (alive ones only).
    pub fn masters(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&i| self.nodes[i].alive && self.state(i) == State::Master)
            .collect()
    }

    /// Every (time, node, from, to) state change, in order.
    pub fn transitions(&self) -> Vec<(Time, usize, State, State)> {
        self.log
            .iter()
            .filter_map(|e| match &e.record {
                Record::State { from, to, .. } => Some((e.at, e.node, *from, *to)),
                _ => None,
            })
            .collect()
    }

    /// Times at which `node` entered Master.
    pub fn became_master(&self, node: usize) -> Vec<Time> {
        self.transitions()
            .into_iter()
            .filter(|&(_, n, _, to)| n == node && to == State::Master)
            .map(|(t, ..)| t)
            .collect()
    }

    /// The maximal windows during which two or more live nodes were Master,
    /// up to `self.now`.
    pub fn multi_master_windows(&self) -> Vec<(Time, Time)> {
        let mut masters = BTreeSet::new();
        let mut windows = Vec::new();
        let mut opened: Option<Time> = None;
        for e in &self.log {
            match &e.record {
                Record::State { to, .. } if *to == State::Master => {
                    masters.insert(e.node);
                }
                Record::State { .. } | Record::Crashed => {
                    masters.remove(&e.node);
                }
                _ => continue,
            }
            match (opened, masters.len() >= 2) {
                (None, true) => opened = Some(e.at),
                (Some(start), false) => {
                    windows.push((start, e.at));
                    opened = None;
                }
                _ => {}
            }
        }
        if let Some(start) = opened {
            windows.push((start, self.now));
        }
        windows
    }

    /// Nodes whose gratuitous ARPs the clients would follow, in order: the sender
    /// of each burst. A "flip" is a change of sender between consecutive bursts.
    pub fn gratuitous_senders(&self) -> Vec<(Time, usize)> {
        self.log
            .iter()
            .filter(|e| matches!(e.record, Record::Gratuitous { .. }))
            .map(|e| (e.at, e.node))
            .collect()
    }

    pub fn gratuitous_flips(&self) -> usize {
        self.gratuitous_senders()
            .windows(2)
            .filter(|w| w[0].1 != w[1].1)
            .count()
    }

    /// Adverts with a non-zero priority sent by `node` within [from, to].
    pub fn adverts_sent(&self, node: usize, from: Time, to: Time) -> Vec<Time> {
        self.log
            .iter()
            .filter(|e| e.node == node && e.at >= from && e.at <= to)
            .filter(|e| matches!(e.record, Record::Advert { priority } if priority > 0))
            .map(|e| e.at)
            .collect()
    }

    /// What `node` did at exactly `at`, in the order the router asked for it
    /// (the wire order: the simulation applies actions as they come).
    pub fn records_at(&self, node: usize, at: Time) -> Vec<Record> {
        self.log
            .iter()
            .filter(|e| e.node == node && e.at == at)
            .map(|e| e.record.clone())
            .collect()
    }

    /// When `node` added (true) or removed (false) its VIPs, in order.
    pub fn vip_changes(&self, node: usize) -> Vec<(Time, bool)> {
        self.log
            .iter()
            .filter(|e| e.node == node)
            .filter_map(|e| match e.record {
                Record::VipsAdded => Some((e.at, true)),
                Record::VipsRemoved => Some((e.at, false)),
                _ => None,
            })
            .collect()
    }

    /// The maximal windows, after the VIPs were first added anywhere, during which
    /// no live node held them: what clients see as an outage.
    pub fn vip_gaps(&self) -> Vec<(Time, Time)> {
        let mut holders = BTreeSet::new();
        let mut gaps = Vec::new();
        let mut opened: Option<Time> = None;
        let mut seen = false;
        for e in &self.log {
            match e.record {
                Record::VipsAdded => {
                    holders.insert(e.node);
                    seen = true;
                }
                Record::VipsRemoved | Record::Crashed => {
                    holders.remove(&e.node);
                }
                _ => continue,
            }
            match (opened, seen && holders.is_empty()) {
                (None, true) => opened = Some(e.at),
                (Some(start), false) => {
                    gaps.push((start, e.at));
                    opened = None;
                }
                _ => {}
            }
        }
        if let Some(start) = opened {
            gaps.push((start, self.now));
        }
        gaps
    }

    pub fn lost(&self) -> usize {
        self.log
            .iter()
            .filter(|e| matches!(e.record, Record::Lost { .. }))
            .count()
    }
}
