//! The daemon's start and end outside the loop: the netlink dump, stale VIPs left by
//! an unclean exit, the link watch feeder; and the SIGTERM release.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::engine::net::{LinkWatch, Netlink, NetlinkError};
use vrrp_core::config::Config;
use vrrp_core::proto::{Priority, Timers};
use vrrp_core::router::{Action, Input, State};

use super::driver::{Driver, Inbox, NetMsg};
use super::instance::{all_vips, vip_device};
use super::links::HostView;

/// How long past the latest possible successor a resigning Master keeps its VIPs.
const RELEASE_MARGIN: Duration = Duration::from_millis(50);

impl Driver {
    /// SIGTERM: every Master resigns with priority 0 (C-06) and removes its VIPs;
    /// the final state goes to the state file.
    ///
    /// Make before break: a resigning Master keeps its VIPs until the successor's
    /// first advert arrives (it comes Skew_Time after our priority 0, just before
    /// the successor's gratuitous ARP), or at the latest when any successor must
    /// have spoken (the skew of priority 1, plus a margin). keepalived removes them
    /// at once, which leaves the VIP unanswered for the whole skew; here clients
    /// are served by the old master until the new one announces itself.
    pub(super) async fn shutdown(mut self, inbox: &mut Inbox) {
        let now = self.now();
        let mut held: Vec<(usize, Vec<IpAddr>)> = Vec::new();
        let mut wait = Duration::ZERO;
        for idx in 0..self.instances.len() {
            let was_master = self.instances[idx].router.state() == State::Master;
            let mut actions = self.instances[idx].router.handle(now, Input::Shutdown);
            if was_master {
                if let Some(pos) = actions
                    .iter()
                    .position(|a| matches!(a, Action::RemoveVips(_)))
                {
                    if let Action::RemoveVips(vips) = actions.remove(pos) {
                        // Leaving Master: the excluded addresses go with the VIPs.
                        held.push((idx, vips));
                        let cfg = &self.instances[idx].config;
                        let last = Timers::new(cfg.version, Priority::MIN_BACKUP, cfg.advert_int);
                        wait = wait.max(last.skew_time);
                    }
                }
            }
            self.apply(idx, actions).await;
        }
        if !held.is_empty() {
            let deadline = Instant::now() + wait + RELEASE_MARGIN;
            let mut pending: BTreeSet<usize> = held.iter().map(|(i, _)| *i).collect();
            while !pending.is_empty() {
                let packet = tokio::select! {
                    _ = tokio::time::sleep_until(deadline) => break,
                    p = inbox.packets.recv() => match p {
                        Some(p) => p,
                        None => break,
                    },
                };
                if let Some(idx) = self.successor_heard(&packet) {
                    if pending.remove(&idx) {
                        tracing::info!(instance = %self.instances[idx].config.name, "successor heard: releasing the VIPs");
                        if let Some((_, vips)) = held.iter().find(|(i, _)| *i == idx) {
                            self.release_vips(idx, vips).await;
                        }
                    }
                }
            }
            for idx in pending {
                if let Some((_, vips)) = held.iter().find(|(i, _)| *i == idx) {
                    tracing::info!(instance = %self.instances[idx].config.name, "no successor heard: releasing the VIPs");
                    self.release_vips(idx, vips).await;
                }
            }
        }
        self.scripts.stop_all();
        let last = self.snapshot();
        let Driver { status, .. } = self;
        status.finish(last);
        tracing::info!("VRRP engine stopped");
    }
}

/// Links and addresses as the kernel reports them now.
pub(super) async fn dump(netlink: &Netlink) -> Result<HostView, NetlinkError> {
    let links = netlink.links().await?;
    let addrs = netlink.addresses(None).await?;
    Ok(HostView::new(links, addrs))
}

/// At start: VIPs of our instances left on their interfaces by an unclean exit
/// (SIGKILL, crash) are removed before any election, or two hosts would answer for
/// the VIP (reference original-charm §4.2). An address owner's (priority 255) VIPs
/// are the host's own addresses and are left alone, as is any `unicast_src_ip`.
pub(super) async fn remove_stale_vips(netlink: &Netlink, config: &Config) {
    let sources: BTreeSet<IpAddr> = config
        .instances
        .iter()
        .filter_map(|i| i.unicast_src_ip)
        .collect();
    let mut by_dev: BTreeMap<String, Vec<IpAddr>> = BTreeMap::new();
    for inst in config.instances.iter().filter(|i| !i.priority.is_owner()) {
        for vip in all_vips(inst).filter(|v| !sources.contains(&v.addr)) {
            by_dev
                .entry(vip_device(inst, vip).to_string())
                .or_default()
                .push(vip.addr);
        }
    }
    for (dev, vips) in by_dev {
        match netlink.remove_stale_vips(&dev, &vips).await {
            Ok(removed) if !removed.is_empty() => {
                tracing::warn!(interface = %dev, ?removed, "removed VIPs left by an unclean exit");
            }
            Ok(_) => {}
            Err(NetlinkError::NoSuchInterface { .. }) => {}
            Err(e) => tracing::warn!(interface = %dev, error = %e, "cannot check for stale VIPs"),
        }
    }
}

/// Forwards link watch events to the loop; renews a lost subscription.
pub(super) async fn forward_link_events(mut watch: LinkWatch, tx: mpsc::Sender<NetMsg>) {
    loop {
        while let Some(event) = watch.next().await {
            if tx.send(NetMsg::Event(event)).await.is_err() {
                return;
            }
        }
        tracing::warn!("link watch lost (notifications overflowed?): subscribing again");
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            match LinkWatch::subscribe() {
                Ok(w) => {
                    watch = w;
                    break;
                }
                Err(e) => tracing::error!(error = %e, "cannot subscribe to link changes"),
            }
        }
        if tx.send(NetMsg::Resync).await.is_err() {
            return;
        }
    }
}
