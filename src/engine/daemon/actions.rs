//! Carrying out what a router decided, in the order it decided it (router::Action):
//! adverts through the shared raw socket (one copy per unicast peer, each encoded
//! with its own pseudo-header), VIPs through netlink, gratuitous ARP / unsolicited NA
//! through the interface's packet socket, state changes into the log and the state
//! file.
//!
//! Repeats are the router's: it schedules the second GARP burst
//! (`garp_master_delay`), the refreshes and the contention re-announce itself and
//! asks for each burst with its own `SendGratuitous`, so a burst here is sent once,
//! `repeat` frames per VIP. So is the order: the router lists a new Master's
//! announcement before its first advert, and a resigned Master's `RemoveVips`
//! comes when the router decides (make before break), so nothing is reordered
//! or held back here.

use std::net::IpAddr;
use std::time::{Instant, SystemTime};

use crate::engine::net::Interface;
use vrrp_core::config::VirtualAddress;
use vrrp_core::packet::{encode_advert_into, gratuitous_arp, unsolicited_na};
use vrrp_core::proto::{Advert, MacAddr};
use vrrp_core::router::{Action, State};

use super::driver::Driver;
use super::instance::{all_vips, vip_device};

impl Driver {
    /// Executes `actions` of instance `idx`, in the order given.
    ///
    /// The `virtual_ipaddress_excluded` entries follow the VIPs as a whole: they are
    /// added and announced with the VIPs of a Master being entered, and removed
    /// with VIPs removed outside Master (leaving it, or a resigned Master's release
    /// later on); a Master that only changes its VIP list (reload) keeps them.
    pub(super) async fn apply(&mut self, idx: usize, actions: Vec<Action>) {
        if actions.is_empty() {
            return;
        }
        let changes = actions
            .iter()
            .any(|a| matches!(a, Action::StateChanged { .. }));
        // The state before the batch: the first change's origin, else the current.
        let mut in_master = actions
            .iter()
            .find_map(|a| match a {
                Action::StateChanged { from, .. } => Some(*from),
                _ => None,
            })
            .unwrap_or_else(|| self.instances[idx].router.state())
            == State::Master;
        let mut entered = false;
        for action in actions {
            match action {
                Action::SendAdvert(advert) => self.send_advert(idx, &advert),
                Action::AddVips(vips) => {
                    let mut specs = self.specs(idx, &vips);
                    if entered {
                        specs.extend(self.excluded(idx));
                    }
                    for (dev, vip) in specs {
                        self.add_vip(idx, &dev, &vip).await;
                    }
                }
                Action::RemoveVips(vips) => {
                    let mut specs = self.specs(idx, &vips);
                    if !in_master {
                        specs.extend(self.excluded(idx));
                    }
                    if !changes && !in_master {
                        tracing::info!(instance = %self.instances[idx].config.name, "resigned: VIPs released");
                    }
                    for (dev, vip) in specs {
                        self.remove_vip(idx, &dev, vip.addr).await;
                    }
                }
                Action::SendGratuitous { vips, repeat } => {
                    let mut specs = self.specs(idx, &vips);
                    if entered {
                        specs.extend(self.excluded(idx));
                    }
                    self.send_gratuitous(idx, &specs, repeat);
                }
                Action::StateChanged { from, to, reason } => {
                    in_master = to == State::Master;
                    entered |= in_master;
                    let inst = &mut self.instances[idx];
                    tracing::info!(
                        instance = %inst.config.name,
                        vrid = inst.config.vrid.get(),
                        priority = inst.router.effective_priority().get(),
                        "{from} -> {to}: {reason}"
                    );
                    inst.last_transition = Some((SystemTime::now(), reason.to_string()));
                    *inst
                        .transitions_by_reason
                        .entry(crate::engine::metrics::reason_label(&reason))
                        .or_default() += 1;
                    self.state_dirty = true;
                }
            }
        }
    }

    /// (device, address entry) of each of `vips`: from the running config, else
    /// from the config the instance ran before the last reload (a removed VIP).
    fn specs(&self, idx: usize, vips: &[IpAddr]) -> Vec<(String, VirtualAddress)> {
        let inst = &self.instances[idx];
        vips.iter()
            .map(|addr| match inst.vip(*addr) {
                Some(v) => (vip_device(&inst.config, v).to_string(), v.clone()),
                None => match inst.retired.iter().find(|v| v.addr == *addr) {
                    Some(v) => (
                        v.dev
                            .clone()
                            .unwrap_or_else(|| inst.config.interface.clone()),
                        v.clone(),
                    ),
                    None => (inst.config.interface.clone(), VirtualAddress::host(*addr)),
                },
            })
            .collect()
    }

    /// The `virtual_ipaddress_excluded` entries: installed with the VIPs, never
    /// advertised.
    fn excluded(&self, idx: usize) -> Vec<(String, VirtualAddress)> {
        let cfg = &self.instances[idx].config;
        all_vips(cfg)
            .skip(cfg.vips.len())
            .map(|v| (vip_device(cfg, v).to_string(), v.clone()))
            .collect()
    }

    pub(super) fn send_advert(&mut self, idx: usize, advert: &Advert) {
        self.counters_dirty = true;
        let inst = &self.instances[idx];
        let mut errors = 0;
        // Held in FAULT without a source, nothing goes out; a Shutdown can still
        // ask for a release.
        if let Some(src) = inst.source {
            let mut out = Sender {
                receivers: &self.receivers,
                buf: &mut self.buf,
                log_limit: &mut self.log_limit,
                inst,
                advert,
            };
            if super::instance::rolling_interface(&inst.config).is_none() {
                // One interface (all but a rolling interface change): the
                // destinations as they come, nothing allocated per advert.
                errors += out.send(&inst.config.interface, src, inst.destinations_of(advert));
            } else {
                for (interface, src, dsts) in inst.legs(advert) {
                    errors += out.send(interface, src, dsts.into_iter());
                }
            }
        }
        if errors > 0 {
            self.instances[idx].send_errors += errors;
            self.notable_dirty = true;
        }
    }

    fn interface(&self, dev: &str) -> Option<Interface> {
        self.host
            .link(dev)
            .map(|l| l.interface())
            .or_else(|| Interface::by_name(dev).ok())
    }

    pub(super) async fn add_vip(&mut self, idx: usize, dev: &str, vip: &VirtualAddress) {
        let name = self.instances[idx].config.name.clone();
        let Some(iface) = self.interface(dev) else {
            tracing::error!(instance = %name, vip = %vip.addr, dev, "cannot add the VIP: no such interface");
            return;
        };
        match self
            .netlink
            .add_address(&iface, vip.addr, vip.prefix_len, vip.label.as_deref())
            .await
        {
            Ok(_) => {
                tracing::debug!(instance = %name, vip = %vip.addr, dev, "VIP added");
            }
            Err(e) => {
                tracing::error!(instance = %name, vip = %vip.addr, dev, error = %e, "cannot add the VIP")
            }
        }
    }

    pub(super) async fn remove_vip(&mut self, idx: usize, dev: &str, addr: IpAddr) {
        let name = self.instances[idx].config.name.clone();
        let Some(iface) = self.interface(dev) else {
            return; // the interface is gone, and its addresses with it
        };
        if let Err(e) = self.netlink.remove_address(&iface, addr).await {
            tracing::error!(instance = %name, vip = %addr, dev, error = %e, "cannot remove the VIP");
        }
    }

    pub(super) fn send_gratuitous(
        &mut self,
        idx: usize,
        specs: &[(String, VirtualAddress)],
        repeat: u32,
    ) {
        let name = self.instances[idx].config.name.clone();
        for (dev, vip) in specs {
            let Some(iface) = self.interface(dev) else {
                continue;
            };
            let mac = match self.host.link(dev).and_then(|l| l.mac) {
                Some(m) => m,
                None => match crate::engine::net::interface_mac(dev) {
                    Ok(m) => m,
                    Err(e) => {
                        tracing::warn!(instance = %name, dev, error = %e, "no MAC for gratuitous ARP/NA");
                        continue;
                    }
                },
            };
            let mac = MacAddr(mac.0);
            let frame: Vec<u8> = match vip.addr {
                IpAddr::V4(a) => gratuitous_arp(mac, a).to_vec(),
                IpAddr::V6(a) => unsolicited_na(mac, a, ipv6_forwarding(dev)).to_vec(),
            };
            let socket = match self.link_layer.socket(&iface) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(instance = %name, dev, error = %e, "cannot open the packet socket");
                    continue;
                }
            };
            for _ in 0..repeat {
                if let Err(e) = socket.send(&frame) {
                    tracing::debug!(instance = %name, dev, vip = %vip.addr, error = %e, "gratuitous frame not sent");
                    break;
                }
            }
        }
    }
}

/// One advert of one instance on its way out, encoded per destination (each with
/// its own pseudo-header) into the loop's buffer.
struct Sender<'a> {
    receivers:
        &'a std::collections::BTreeMap<super::sockets::ReceiverKey, super::sockets::Receiver>,
    buf: &'a mut Vec<u8>,
    log_limit: &'a mut super::ratelimit::RateLimit,
    inst: &'a super::instance::Instance,
    advert: &'a Advert,
}

impl Sender<'_> {
    /// Sends through `interface`'s socket from `src` to each of `dsts`; returns the
    /// errors (a missing socket is one).
    fn send(&mut self, interface: &str, src: IpAddr, dsts: impl Iterator<Item = IpAddr>) -> u64 {
        let inst = self.inst;
        let key = (interface.to_string(), inst.config.family);
        let Some(receiver) = self.receivers.get(&key) else {
            return 1;
        };
        let mut errors = 0;
        for dst in dsts {
            self.buf.clear();
            if let Err(e) = encode_advert_into(self.advert, src, dst, &inst.encode, self.buf) {
                errors += 1;
                if let Some(n) = self
                    .log_limit
                    .allow(&format!("encode {}", inst.config.name), Instant::now())
                {
                    tracing::error!(instance = %inst.config.name, error = %e, suppressed = n, "cannot encode the advert");
                }
                continue;
            }
            if let Err(e) = receiver.send(self.buf, dst, src) {
                errors += 1;
                if let Some(n) = self
                    .log_limit
                    .allow(&format!("send {} {dst}", inst.config.name), Instant::now())
                {
                    tracing::warn!(instance = %inst.config.name, to = %dst, error = %e, suppressed = n, "cannot send the advert");
                }
            }
        }
        errors
    }
}

/// `net.ipv6.conf.IF.forwarding`: keepalived sets the NA router flag from it.
fn ipv6_forwarding(dev: &str) -> bool {
    std::fs::read_to_string(format!("/proc/sys/net/ipv6/conf/{dev}/forwarding"))
        .map(|s| s.trim() == "1")
        .unwrap_or(false)
}
