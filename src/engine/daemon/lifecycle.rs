//! The daemon's start outside the loop: the netlink dump, stale VIPs left by an
//! unclean exit, the link watch feeder. (The SIGTERM release is the routers'
//! decision, carried out by the loop in `driver`.)

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::engine::net::{LinkWatch, NetEvent, Netlink, NetlinkError};
use vrrp_core::config::Config;

use super::instance::{all_vips, vip_device};
use super::links::HostView;

/// Link watch output: a kernel event, or "the subscription was lost and renewed,
/// re-read everything".
#[derive(Debug)]
pub(super) enum NetMsg {
    Event(NetEvent),
    Resync,
}

/// Links and addresses as the kernel reports them now.
pub(super) async fn dump(netlink: &Netlink) -> Result<HostView, NetlinkError> {
    let links = netlink.links().await?;
    let addrs = netlink.addresses(None).await?;
    Ok(HostView::new(links, addrs))
}

/// At start: VIPs of our instances left on their interfaces by an unclean exit
/// (SIGKILL, crash) are removed before any election, or two hosts would answer for
/// the VIP (docs/requirements.md K-08). An address owner's (priority 255) VIPs
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
