//! Who holds a VIP, and when: a netlink watch in every host namespace records each
//! address added to or removed from `eth0` (or each of the interfaces named, for a
//! lab with two segments) and each change of its link state, stamped on arrival. A
//! host *holds* a VIP while the address is on one of those interfaces and that link
//! is usable (up, with carrier): a crashed host that was unplugged keeps the address
//! but no longer answers for it, so it does not count. A VIP on two interfaces of one
//! host is one holder.
//!
//! From that record a test reads what the fault scenarios of `docs/scenarios.md`
//! measure: the time with two holders, how many times a VIP was added, who held it
//! last. The watch is outside the daemons, so it treats our engine and keepalived alike.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use keepalived_charm::engine::net::{LinkWatch, NetEvent, Netlink};

use super::ns::Task;
use super::Lab;

/// What changed on a host's `eth0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// An address appeared.
    Added(IpAddr),
    /// An address went away.
    Removed(IpAddr),
    /// The link became usable (true) or unusable (false).
    Usable(bool),
}

/// One change, on one host, at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HolderEvent {
    /// When the watch received it.
    pub at: Instant,
    /// The host's index in the lab.
    pub host: usize,
    /// Which of the watched interfaces, by its index in the list watched.
    pub interface: usize,
    /// What changed.
    pub change: Change,
}

type Log = Arc<Mutex<Vec<HolderEvent>>>;

/// The running watch; dropping it stops the watchers.
pub struct HolderWatch {
    log: Log,
    hosts: Vec<String>,
    tasks: Vec<Task<()>>,
}

impl HolderWatch {
    /// Starts watching every host of `lab`. Each host's current addresses and link
    /// state are recorded first (as events at the start instant), so the record is
    /// complete from then on.
    pub fn start(lab: &Lab) -> HolderWatch {
        HolderWatch::start_on(lab, &["eth0"])
    }

    /// As [`HolderWatch::start`], watching each of `interfaces` on every host.
    pub fn start_on(lab: &Lab, interfaces: &[&str]) -> HolderWatch {
        let log: Log = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for (index, host) in lab.hosts().iter().enumerate() {
            for (nth, name) in interfaces.iter().enumerate() {
                let (ready_tx, ready_rx) = std::sync::mpsc::channel();
                let shared = Arc::clone(&log);
                let name = name.to_string();
                tasks.push(host.ns.spawn(move || async move {
                    watch((index, nth), &name, shared, ready_tx).await;
                }));
                ready_rx
                    .recv_timeout(Duration::from_secs(10))
                    .unwrap_or_else(|_| panic!("the holder watch of {} did not start", host.name));
            }
        }
        HolderWatch {
            log,
            hosts: lab.hosts().iter().map(|h| h.name.clone()).collect(),
            tasks,
        }
    }

    /// Everything recorded so far.
    pub fn report(&self) -> HolderReport {
        let mut events = self.log.lock().unwrap_or_else(|p| p.into_inner()).clone();
        events.sort_by_key(|e| e.at);
        HolderReport {
            hosts: self.hosts.clone(),
            events,
            until: Instant::now(),
        }
    }
}

impl Drop for HolderWatch {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

fn push(log: &Log, (host, interface): (usize, usize), change: Change) {
    log.lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(HolderEvent {
            at: Instant::now(),
            host,
            interface,
            change,
        });
}

/// Subscribes first, then reads the current state, so no change between the two is
/// lost; a lost subscription (the kernel dropped notifications) is renewed the same way.
async fn watch(
    host: (usize, usize),
    interface: &str,
    log: Log,
    ready: std::sync::mpsc::Sender<()>,
) {
    let mut ready = Some(ready);
    loop {
        let Ok(mut sub) = LinkWatch::subscribe() else {
            return;
        };
        let Ok(netlink) = Netlink::connect() else {
            return;
        };
        let Ok(link) = netlink.link(interface).await else {
            return;
        };
        let eth0 = link.index;
        push(&log, host, Change::Usable(link.is_usable()));
        for a in netlink.addresses(Some(eth0)).await.unwrap_or_default() {
            push(&log, host, Change::Added(a.addr));
        }
        if let Some(r) = ready.take() {
            let _ = r.send(());
        }
        while let Some(event) = sub.next_for(eth0).await {
            match event {
                NetEvent::Link(l) => push(&log, host, Change::Usable(l.is_usable())),
                NetEvent::LinkRemoved { .. } => push(&log, host, Change::Usable(false)),
                NetEvent::AddressAdded(a) => push(&log, host, Change::Added(a.addr)),
                NetEvent::AddressRemoved(a) => push(&log, host, Change::Removed(a.addr)),
            }
        }
    }
}

/// One stretch of time during which one host held a VIP (`to` = `None`: still holds
/// it at the end of the record).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holding {
    /// The host's name.
    pub host: String,
    /// When it started holding the VIP.
    pub from: Instant,
    /// When it stopped.
    pub to: Option<Instant>,
}

/// The record of a [`HolderWatch`], in time order.
#[derive(Debug, Clone)]
pub struct HolderReport {
    hosts: Vec<String>,
    /// Every change, in time order.
    pub events: Vec<HolderEvent>,
    until: Instant,
}

impl HolderReport {
    /// Who held `vip` when, in time order of the start.
    pub fn holdings(&self, vip: IpAddr) -> Vec<Holding> {
        use std::collections::BTreeMap;
        // (host, interface) -> (has the VIP, usable).
        let mut slots: BTreeMap<(usize, usize), (bool, bool)> = BTreeMap::new();
        let mut since: Vec<Option<Instant>> = vec![None; self.hosts.len()];
        let mut out = Vec::new();
        for e in &self.events {
            let slot = slots.entry((e.host, e.interface)).or_default();
            match e.change {
                Change::Added(a) if a == vip => slot.0 = true,
                Change::Removed(a) if a == vip => slot.0 = false,
                Change::Usable(u) => slot.1 = u,
                _ => continue,
            }
            let holds = slots
                .range((e.host, 0)..=(e.host, usize::MAX))
                .any(|(_, (has, usable))| *has && *usable);
            match (since[e.host], holds) {
                (None, true) => since[e.host] = Some(e.at),
                (Some(from), false) => {
                    out.push(Holding {
                        host: self.hosts[e.host].clone(),
                        from,
                        to: Some(e.at),
                    });
                    since[e.host] = None;
                }
                _ => {}
            }
        }
        for (i, s) in since.iter().enumerate() {
            if let Some(from) = s {
                out.push(Holding {
                    host: self.hosts[i].clone(),
                    from: *from,
                    to: None,
                });
            }
        }
        out.sort_by_key(|h| h.from);
        out
    }

    /// The total time after `since` during which two or more hosts held `vip`.
    pub fn two_holders_after(&self, vip: IpAddr, since: Instant) -> Duration {
        let mut edges: Vec<(Instant, i32)> = Vec::new();
        for h in self.holdings(vip) {
            let from = h.from.max(since);
            let to = h.to.unwrap_or(self.until);
            if to > from {
                edges.push((from, 1));
                edges.push((to, -1));
            }
        }
        // Ends before starts at the same instant: touching holdings do not overlap.
        edges.sort_by_key(|&(t, d)| (t, d));
        let (mut count, mut total, mut opened) = (0, Duration::ZERO, None);
        for (t, d) in edges {
            count += d;
            match (count >= 2, opened) {
                (true, None) => opened = Some(t),
                (false, Some(o)) => {
                    total += t - o;
                    opened = None;
                }
                _ => {}
            }
        }
        total
    }

    /// How many times `vip` was added to any host after `since`.
    pub fn additions_after(&self, vip: IpAddr, since: Instant) -> usize {
        self.events
            .iter()
            .filter(|e| e.at > since && e.change == Change::Added(vip))
            .count()
    }

    /// The hosts that hold `vip` at the end of the record.
    pub fn holders_now(&self, vip: IpAddr) -> BTreeSet<String> {
        self.holdings(vip)
            .into_iter()
            .filter(|h| h.to.is_none())
            .map(|h| h.host)
            .collect()
    }

    /// When `vip` was first held by someone after `since`, if it was.
    pub fn first_held_after(&self, vip: IpAddr, since: Instant) -> Option<Instant> {
        self.holdings(vip)
            .into_iter()
            .filter(|h| h.to.map_or(true, |to| to > since))
            .map(|h| h.from.max(since))
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(events: &[(u64, usize, Change)]) -> (HolderReport, Instant) {
        let on_eth0: Vec<(u64, (usize, usize), Change)> = events
            .iter()
            .map(|&(ms, host, change)| (ms, (host, 0), change))
            .collect();
        report_on(&on_eth0)
    }

    /// Events of (host, interface) slots.
    fn report_on(events: &[(u64, (usize, usize), Change)]) -> (HolderReport, Instant) {
        let t0 = Instant::now();
        let events = events
            .iter()
            .map(|&(ms, (host, interface), change)| HolderEvent {
                at: t0 + Duration::from_millis(ms),
                host,
                interface,
                change,
            })
            .collect();
        (
            HolderReport {
                hosts: vec!["h1".into(), "h2".into()],
                events,
                until: t0 + Duration::from_millis(1000),
            },
            t0,
        )
    }

    #[test]
    fn overlap_of_two_holders_is_measured_and_an_unusable_link_does_not_hold() {
        let vip: IpAddr = "10.0.0.100".parse().unwrap();
        let (r, t0) = report(&[
            (0, 0, Change::Usable(true)),
            (0, 1, Change::Usable(true)),
            (10, 0, Change::Added(vip)),
            (100, 1, Change::Added(vip)),
            (130, 0, Change::Removed(vip)),
            (500, 0, Change::Added(vip)),
            (510, 0, Change::Usable(false)),
        ]);
        assert_eq!(r.two_holders_after(vip, t0), Duration::from_millis(40));
        assert_eq!(r.additions_after(vip, t0), 3);
        assert_eq!(r.holders_now(vip), BTreeSet::from(["h2".to_string()]));
        assert_eq!(
            r.first_held_after(vip, t0 + Duration::from_millis(200)),
            Some(t0 + Duration::from_millis(200))
        );
    }

    /// A VIP moved from one interface of a host to another (added there first) is
    /// one holder throughout; a link down on one interface leaves the other holding.
    #[test]
    fn a_vip_on_two_interfaces_of_one_host_is_one_holder() {
        let vip: IpAddr = "10.0.0.100".parse().unwrap();
        let (r, t0) = report_on(&[
            (0, (0, 0), Change::Usable(true)),
            (0, (0, 1), Change::Usable(true)),
            (0, (1, 0), Change::Usable(true)),
            (10, (0, 0), Change::Added(vip)),
            (100, (0, 1), Change::Added(vip)),
            (110, (0, 0), Change::Removed(vip)),
            (200, (0, 0), Change::Added(vip)),
            (210, (0, 1), Change::Usable(false)),
        ]);
        assert_eq!(r.two_holders_after(vip, t0), Duration::ZERO);
        assert_eq!(r.holdings(vip).len(), 1, "{:?}", r.holdings(vip));
        assert_eq!(r.additions_after(vip, t0), 3);
        assert_eq!(r.holders_now(vip), BTreeSet::from(["h1".to_string()]));
    }

    #[test]
    fn a_handover_at_the_same_instant_is_not_two_holders() {
        let vip: IpAddr = "10.0.0.100".parse().unwrap();
        let (r, t0) = report(&[
            (0, 0, Change::Usable(true)),
            (0, 1, Change::Usable(true)),
            (10, 0, Change::Added(vip)),
            (50, 0, Change::Removed(vip)),
            (50, 1, Change::Added(vip)),
        ]);
        assert_eq!(r.two_holders_after(vip, t0), Duration::ZERO);
    }
}
