//! Carrying out what a router decided, in the order it decided it (router::Action):
//! adverts through the shared raw socket (one copy per unicast peer, each encoded
//! with its own pseudo-header), VIPs through netlink, gratuitous ARP / unsolicited NA
//! through the interface's packet socket, state changes into the log and the state
//! file.
//!
//! Repeats are the router's: it schedules the second GARP burst
//! (`garp_master_delay`) and the refreshes itself and asks for each burst with its
//! own `SendGratuitous`, so a burst here is sent once, `repeat` frames per VIP.

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
    /// Executes `actions` of instance `idx`.
    pub(super) async fn apply(&mut self, idx: usize, actions: Vec<Action>) {
        if actions.is_empty() {
            return;
        }
        let entering = actions.iter().any(|a| {
            matches!(
                a,
                Action::StateChanged {
                    to: State::Master,
                    ..
                }
            )
        });
        let leaving = actions.iter().any(|a| {
            matches!(
                a,
                Action::StateChanged {
                    from: State::Master,
                    ..
                }
            )
        });
        let actions = if entering {
            announce_before_advert(actions)
        } else {
            actions
        };
        for action in actions {
            match action {
                Action::SendAdvert(advert) => self.send_advert(idx, &advert),
                Action::AddVips(vips) => {
                    let mut specs = self.specs(idx, &vips);
                    if entering {
                        specs.extend(self.excluded(idx));
                    }
                    for (dev, vip) in specs {
                        self.add_vip(idx, &dev, &vip).await;
                    }
                }
                Action::RemoveVips(vips) => {
                    let mut specs = self.specs(idx, &vips);
                    if leaving {
                        specs.extend(self.excluded(idx));
                    }
                    for (dev, vip) in specs {
                        self.remove_vip(idx, &dev, vip.addr).await;
                    }
                }
                Action::SendGratuitous { vips, repeat } => {
                    let mut specs = self.specs(idx, &vips);
                    if entering {
                        specs.extend(self.excluded(idx));
                    }
                    self.send_gratuitous(idx, &specs, repeat);
                }
                Action::StateChanged { from, to, reason } => {
                    let inst = &mut self.instances[idx];
                    tracing::info!(
                        instance = %inst.config.name,
                        vrid = inst.config.vrid.get(),
                        priority = inst.router.effective_priority().get(),
                        "{from} -> {to}: {reason}"
                    );
                    inst.last_transition = Some((SystemTime::now(), reason.to_string()));
                    self.state_dirty = true;
                }
            }
        }
    }

    /// Removes `vips` and the excluded addresses of a Master that resigned earlier
    /// (the make-before-break release of `Driver::shutdown`).
    pub(super) async fn release_vips(&mut self, idx: usize, vips: &[IpAddr]) {
        let mut specs = self.specs(idx, vips);
        specs.extend(self.excluded(idx));
        for (dev, vip) in specs {
            self.remove_vip(idx, &dev, vip.addr).await;
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

    fn send_advert(&mut self, idx: usize, advert: &Advert) {
        self.counters_dirty = true;
        let inst = &mut self.instances[idx];
        let Some(src) = inst.source else {
            // Held in FAULT without a source; a Shutdown can still ask for a release.
            return;
        };
        let key = (inst.config.interface.clone(), inst.config.family);
        let Some(receiver) = self.receivers.get(&key) else {
            inst.send_errors += 1;
            return;
        };
        for dst in &inst.destinations {
            self.buf.clear();
            if let Err(e) = encode_advert_into(advert, src, *dst, &inst.encode, &mut self.buf) {
                inst.send_errors += 1;
                if let Some(n) = self
                    .log_limit
                    .allow(&format!("encode {}", inst.config.name), Instant::now())
                {
                    tracing::error!(instance = %inst.config.name, error = %e, suppressed = n, "cannot encode the advert");
                }
                continue;
            }
            if let Err(e) = receiver.send(&self.buf, *dst, src) {
                inst.send_errors += 1;
                if let Some(n) = self
                    .log_limit
                    .allow(&format!("send {} {dst}", inst.config.name), Instant::now())
                {
                    tracing::warn!(instance = %inst.config.name, to = %dst, error = %e, suppressed = n, "cannot send the advert");
                }
            }
        }
    }

    fn interface(&self, dev: &str) -> Option<Interface> {
        self.host
            .link(dev)
            .map(|l| l.interface())
            .or_else(|| Interface::by_name(dev).ok())
    }

    async fn add_vip(&mut self, idx: usize, dev: &str, vip: &VirtualAddress) {
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

    async fn remove_vip(&mut self, idx: usize, dev: &str, addr: IpAddr) {
        let name = self.instances[idx].config.name.clone();
        let Some(iface) = self.interface(dev) else {
            return; // the interface is gone, and its addresses with it
        };
        if let Err(e) = self.netlink.remove_address(&iface, addr).await {
            tracing::error!(instance = %name, vip = %addr, dev, error = %e, "cannot remove the VIP");
        }
    }

    fn send_gratuitous(&mut self, idx: usize, specs: &[(String, VirtualAddress)], repeat: u32) {
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

/// On becoming Master: add the VIPs and send the gratuitous ARPs / NAs *before*
/// the first advert (the router lists the advert first).
///
/// Why: two Backups whose down timers expire within a millisecond of each other
/// (the charm's neighbouring priorities at VRRPv3 0.1 s are 0.4 ms apart) both
/// claim. The winner re-announces the VIPs when it hears the loser's advert
/// (`garp_lower_prio_repeat`); if the loser's own gratuitous ARPs followed its
/// advert, they could reach the clients after the winner's, leaving them on the
/// loser's MAC until the next burst 5 s later (seen in the lab). Announcing first
/// puts the loser's frames on the wire before the advert that triggers the winner's.
/// It also makes a preemption make-before-break: clients follow the new Master's
/// announcement before its advert makes the old one drop the VIPs. The cost is the
/// netlink round trip (well under a millisecond) before the first advert.
fn announce_before_advert(actions: Vec<Action>) -> Vec<Action> {
    let Some(k) = actions.iter().position(|a| {
        matches!(
            a,
            Action::StateChanged {
                to: State::Master,
                ..
            }
        )
    }) else {
        return actions;
    };
    let mut out = actions;
    let tail = out.split_off(k + 1);
    let (adverts, others): (Vec<Action>, Vec<Action>) = tail
        .into_iter()
        .partition(|a| matches!(a, Action::SendAdvert(_)));
    out.extend(others);
    out.extend(adverts);
    out
}

/// `net.ipv6.conf.IF.forwarding`: keepalived sets the NA router flag from it.
fn ipv6_forwarding(dev: &str) -> bool {
    std::fs::read_to_string(format!("/proc/sys/net/ipv6/conf/{dev}/forwarding"))
        .map(|s| s.trim() == "1")
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use vrrp_core::proto::{AdvertInterval, Auth, Priority, Version, Vrid};
    use vrrp_core::router::Reason;

    fn advert(prio: u8) -> Action {
        Action::SendAdvert(Advert {
            version: Version::V3,
            vrid: Vrid::new(51).unwrap(),
            priority: Priority::from_wire(prio),
            interval: AdvertInterval::DEFAULT,
            addresses: vec!["10.0.0.100".parse().unwrap()],
            auth: Auth::None,
        })
    }

    fn kinds(actions: &[Action]) -> Vec<&'static str> {
        actions
            .iter()
            .map(|a| match a {
                Action::SendAdvert(a) if a.priority.is_release() => "release",
                Action::SendAdvert(_) => "advert",
                Action::AddVips(_) => "add",
                Action::RemoveVips(_) => "remove",
                Action::SendGratuitous { .. } => "garp",
                Action::StateChanged { to, .. } => match to {
                    State::Master => "to-master",
                    _ => "to-other",
                },
            })
            .collect()
    }

    #[test]
    fn a_new_master_announces_its_vips_before_its_first_advert() {
        let vip = vec!["10.0.0.100".parse().unwrap()];
        let batch = vec![
            Action::StateChanged {
                from: State::Backup,
                to: State::Master,
                reason: Reason::MasterDown,
            },
            advert(254),
            Action::AddVips(vip.clone()),
            Action::SendGratuitous {
                vips: vip.clone(),
                repeat: 5,
            },
        ];
        assert_eq!(
            kinds(&announce_before_advert(batch)),
            vec!["to-master", "add", "garp", "advert"]
        );
        // A release before the change (identity change of an owner) stays first.
        let batch = vec![
            Action::StateChanged {
                from: State::Master,
                to: State::Initialize,
                reason: Reason::IdentityChanged,
            },
            advert(0),
            Action::RemoveVips(vip.clone()),
            Action::StateChanged {
                from: State::Initialize,
                to: State::Master,
                reason: Reason::AddressOwner,
            },
            advert(255),
            Action::AddVips(vip.clone()),
            Action::SendGratuitous {
                vips: vip,
                repeat: 5,
            },
        ];
        assert_eq!(
            kinds(&announce_before_advert(batch)),
            vec![
                "to-other",
                "release",
                "remove",
                "to-master",
                "add",
                "garp",
                "advert"
            ]
        );
    }
}
