//! What the daemon knows of the host's interfaces: links and addresses, kept from a
//! netlink dump at start and the link watch's events after. Pure: the driver feeds
//! it, and asks which interfaces are usable and which address an instance sends from.
//!
//! An instance can run only when its interface is up and running (keepalived:
//! IFF_UP and IFF_RUNNING; frames sent on a link that is not RUNNING are lost) and
//! has a source address; until then the router is told its interface is down, which
//! holds it in FAULT — so "wait for the link before sending" is the router's own
//! FAULT logic, not a separate state.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use crate::engine::net::{IfAddr, Link, NetEvent};
use vrrp_core::config::VrrpInstance;
use vrrp_core::packet::is_ipv6_link_local;
use vrrp_core::proto::Family;

/// Links by name and every address, as last reported by the kernel.
#[derive(Debug, Clone, Default)]
pub struct HostView {
    links: BTreeMap<String, Link>,
    addrs: Vec<IfAddr>,
}

/// What an event changed, so the driver knows what to re-derive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Changed {
    /// A link appeared, vanished, or its usability changed.
    pub links: bool,
    /// An address appeared or vanished.
    pub addresses: bool,
}

impl HostView {
    pub fn new(links: Vec<Link>, addrs: Vec<IfAddr>) -> HostView {
        HostView {
            links: links.into_iter().map(|l| (l.name.clone(), l)).collect(),
            addrs,
        }
    }

    pub fn link(&self, name: &str) -> Option<&Link> {
        self.links.get(name)
    }

    /// The link with kernel index `index`.
    pub fn link_by_index(&self, index: u32) -> Option<&Link> {
        self.links.values().find(|l| l.index == index)
    }

    /// Exists, administratively up and running.
    pub fn usable(&self, name: &str) -> bool {
        self.links.get(name).is_some_and(Link::is_usable)
    }

    /// Applies one kernel notification.
    pub fn apply(&mut self, event: &NetEvent) -> Changed {
        match event {
            NetEvent::Link(link) => {
                // An interface renamed in place keeps its index: forget the old name.
                let renamed: Vec<String> = self
                    .links
                    .iter()
                    .filter(|(name, l)| l.index == link.index && **name != link.name)
                    .map(|(name, _)| name.clone())
                    .collect();
                for name in &renamed {
                    self.links.remove(name);
                }
                let before = self.links.insert(link.name.clone(), link.clone());
                let changed = match &before {
                    None => true,
                    Some(old) => {
                        old.is_usable() != link.is_usable()
                            || old.index != link.index
                            || old.mac != link.mac
                    }
                };
                Changed {
                    links: changed || !renamed.is_empty(),
                    addresses: false,
                }
            }
            NetEvent::LinkRemoved { index, name } => {
                let removed = self.links.remove(name).is_some();
                let before = self.addrs.len();
                self.addrs.retain(|a| a.ifindex != *index);
                Changed {
                    links: removed,
                    addresses: self.addrs.len() != before,
                }
            }
            NetEvent::AddressAdded(a) => {
                match self
                    .addrs
                    .iter_mut()
                    .find(|x| x.ifindex == a.ifindex && x.addr == a.addr)
                {
                    // Flag changes (DAD finished) come as a new RTM_NEWADDR.
                    Some(x) => *x = a.clone(),
                    None => self.addrs.push(a.clone()),
                }
                Changed {
                    links: false,
                    addresses: true,
                }
            }
            NetEvent::AddressRemoved(a) => {
                let before = self.addrs.len();
                self.addrs
                    .retain(|x| !(x.ifindex == a.ifindex && x.addr == a.addr));
                Changed {
                    links: false,
                    addresses: self.addrs.len() != before,
                }
            }
        }
    }

    /// The address `instance` sends from: its `unicast_src_ip`, else the interface's
    /// primary IPv4 / usable IPv6 link-local (RFC 9568 §5.1.1.1, §5.1.2.1). `current`
    /// is kept while it is still on the interface, so a VIP that becomes a further
    /// primary never displaces it; `ours` (every VIP of every instance) is never chosen.
    pub fn source_for(
        &self,
        instance: &VrrpInstance,
        current: Option<IpAddr>,
        ours: &BTreeSet<IpAddr>,
    ) -> Option<IpAddr> {
        if let Some(src) = instance.unicast_src_ip {
            return Some(src);
        }
        self.source_on(&instance.interface, instance.family, current, ours)
    }

    /// The address adverts in `instance`'s `rolling_from` identity leave from when
    /// that identity runs on another interface (K-17): that interface's primary IPv4
    /// / usable IPv6 link-local, chosen as [`HostView::source_for`] chooses; `None`
    /// without such an interface or address (nothing goes out there then).
    pub fn rolling_source_for(
        &self,
        instance: &VrrpInstance,
        current: Option<IpAddr>,
        ours: &BTreeSet<IpAddr>,
    ) -> Option<IpAddr> {
        let interface = super::instance::rolling_interface(instance)?;
        if !self.usable(interface) {
            return None;
        }
        self.source_on(interface, instance.family, current, ours)
    }

    fn source_on(
        &self,
        interface: &str,
        family: Family,
        current: Option<IpAddr>,
        ours: &BTreeSet<IpAddr>,
    ) -> Option<IpAddr> {
        let index = self.links.get(interface)?.index;
        let candidates: Vec<&IfAddr> = self
            .addrs
            .iter()
            .filter(|a| a.ifindex == index && !ours.contains(&a.addr))
            .filter(|a| match (family, a.addr) {
                (Family::V4, IpAddr::V4(_)) => !a.secondary,
                (Family::V6, IpAddr::V6(v6)) => {
                    is_ipv6_link_local(&v6) && !a.tentative && !a.dad_failed
                }
                _ => false,
            })
            .collect();
        if let Some(cur) = current {
            if candidates.iter().any(|a| a.addr == cur) {
                return Some(cur);
            }
        }
        candidates.first().map(|a| a.addr)
    }

    /// The interface names `instance`'s router must see as down: its own interface
    /// while unusable or without a source address, and each tracked interface that
    /// is unusable (or missing).
    pub fn down_for(&self, instance: &VrrpInstance, has_source: bool) -> BTreeSet<String> {
        let mut down = BTreeSet::new();
        if !has_source || !self.usable(&instance.interface) {
            down.insert(instance.interface.clone());
        }
        for t in &instance.track_interfaces {
            if !self.usable(&t.name) {
                down.insert(t.name.clone());
            }
        }
        down
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vrrp_core::config::parse;

    fn link(index: u32, name: &str, up: bool) -> Link {
        Link {
            index,
            name: name.into(),
            admin_up: up,
            running: up,
            loopback: false,
            mac: None,
        }
    }

    fn addr(ifindex: u32, a: &str, secondary: bool) -> IfAddr {
        IfAddr {
            ifindex,
            addr: a.parse().unwrap(),
            prefix_len: 24,
            label: None,
            secondary,
            local_scope: false,
            tentative: false,
            dad_failed: false,
            nodad: false,
        }
    }

    fn instance(extra: &str, vip: &str) -> VrrpInstance {
        let text = format!(
            "vrrp_instance VI_1 {{\n    interface eth0\n    virtual_router_id 51\n{extra}    virtual_ipaddress {{\n        {vip}\n    }}\n}}\n"
        );
        parse("k.conf", text.as_bytes())
            .unwrap()
            .config
            .instances
            .remove(0)
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_source_is_the_primary_ipv4_never_a_vip_and_stays_while_present() {
        let view = HostView::new(
            vec![link(2, "eth0", true)],
            vec![
                addr(2, "10.0.0.100", false), // a stale VIP listed first
                addr(2, "10.0.0.11", false),
                addr(2, "10.0.0.12", true),
            ],
        );
        let inst = instance("", "10.0.0.100/24");
        let ours = BTreeSet::from([ip("10.0.0.100")]);
        assert_eq!(view.source_for(&inst, None, &ours), Some(ip("10.0.0.11")));
        // A secondary is never chosen, but a current source still present stays.
        let mut view2 = view.clone();
        view2.apply(&NetEvent::AddressAdded(addr(2, "10.0.1.5", false)));
        assert_eq!(
            view2.source_for(&inst, Some(ip("10.0.1.5")), &ours),
            Some(ip("10.0.1.5"))
        );
        view2.apply(&NetEvent::AddressRemoved(addr(2, "10.0.1.5", false)));
        assert_eq!(
            view2.source_for(&inst, Some(ip("10.0.1.5")), &ours),
            Some(ip("10.0.0.11"))
        );
    }

    /// K-17, a rolling `interface` change: adverts in the old identity leave the
    /// old interface from its own primary address, and not at all while that
    /// interface is down or gone.
    #[test]
    fn a_rolling_interface_sends_from_its_own_primary_address_while_usable() {
        let view = HostView::new(
            vec![link(2, "eth0", true), link(3, "eth1", true)],
            vec![addr(2, "10.0.0.11", false), addr(3, "10.1.0.11", false)],
        );
        let ours = BTreeSet::new();
        let rolling = instance(
            "    rolling_from {\n        virtual_router_id 51\n        interface eth1\n    }\n",
            "10.0.0.100/24",
        );
        assert_eq!(
            view.source_for(&rolling, None, &ours),
            Some(ip("10.0.0.11"))
        );
        assert_eq!(
            view.rolling_source_for(&rolling, None, &ours),
            Some(ip("10.1.0.11"))
        );
        assert_eq!(
            view.rolling_source_for(&instance("", "10.0.0.100/24"), None, &ours),
            None
        );
        let down = HostView::new(
            vec![link(2, "eth0", true), link(3, "eth1", false)],
            vec![addr(2, "10.0.0.11", false), addr(3, "10.1.0.11", false)],
        );
        assert_eq!(down.rolling_source_for(&rolling, None, &ours), None);
    }

    #[test]
    fn ipv6_sends_from_a_usable_link_local_and_unicast_from_its_configured_source() {
        let mut tentative = addr(2, "fe80::1", false);
        tentative.tentative = true;
        let mut view = HostView::new(
            vec![link(2, "eth0", true)],
            vec![addr(2, "fd00::11", false), tentative],
        );
        let inst = instance("", "fd00::100");
        assert_eq!(view.source_for(&inst, None, &BTreeSet::new()), None);
        let mut done = addr(2, "fe80::1", false);
        done.nodad = true;
        view.apply(&NetEvent::AddressAdded(done));
        assert_eq!(
            view.source_for(&inst, None, &BTreeSet::new()),
            Some(ip("fe80::1"))
        );
        let uni = instance(
            "    unicast_src_ip 192.0.2.10\n    unicast_peer {\n        192.0.2.11\n    }\n",
            "192.0.2.100",
        );
        assert_eq!(
            HostView::default().source_for(&uni, None, &BTreeSet::new()),
            Some(ip("192.0.2.10"))
        );
    }

    #[test]
    fn an_instance_is_down_until_its_link_runs_and_it_has_a_source() {
        let mut view = HostView::new(vec![link(2, "eth0", false)], vec![]);
        let inst = instance("    track_interface {\n        eth9\n    }\n", "10.0.0.100");
        assert_eq!(
            view.down_for(&inst, true),
            BTreeSet::from(["eth0".to_string(), "eth9".to_string()])
        );
        let c = view.apply(&NetEvent::Link(link(2, "eth0", true)));
        assert_eq!(
            c,
            Changed {
                links: true,
                addresses: false
            }
        );
        assert_eq!(
            view.down_for(&inst, false),
            BTreeSet::from(["eth0".to_string(), "eth9".to_string()])
        );
        view.apply(&NetEvent::Link(link(7, "eth9", true)));
        assert_eq!(view.down_for(&inst, true), BTreeSet::new());
        // A statistics-only update changes nothing.
        assert_eq!(
            view.apply(&NetEvent::Link(link(7, "eth9", true))),
            Changed::default()
        );
        let c = view.apply(&NetEvent::LinkRemoved {
            index: 7,
            name: "eth9".into(),
        });
        assert!(c.links);
        assert_eq!(
            view.down_for(&inst, true),
            BTreeSet::from(["eth9".to_string()])
        );
    }
}
