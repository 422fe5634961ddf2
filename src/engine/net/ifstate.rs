//! What the kernel reports about interfaces and their addresses, as plain values
//! built from rtnetlink messages (dumps and change notifications alike).

use std::net::{IpAddr, Ipv6Addr};

use rtnetlink::packet_route::address::{
    AddressAttribute, AddressFlags, AddressMessage, AddressScope,
};
use rtnetlink::packet_route::link::{LinkAttribute, LinkFlags, LinkMessage};
use vrrp_core::proto::MacAddr;

use super::Interface;

/// A network interface and its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub index: u32,
    pub name: String,
    /// IFF_UP: administratively up (`ip link set up`).
    pub admin_up: bool,
    /// IFF_RUNNING: the kernel's operational state is up (carrier present).
    pub running: bool,
    /// IFF_LOOPBACK: the host's loopback, which never faces a VRRP peer.
    pub loopback: bool,
    pub mac: Option<MacAddr>,
}

impl Link {
    /// Up and running, as keepalived decides an interface is usable (IFF_UP and
    /// IFF_RUNNING); anything else puts the instances on it in FAULT.
    pub fn is_usable(&self) -> bool {
        self.admin_up && self.running
    }

    pub fn interface(&self) -> Interface {
        Interface {
            name: self.name.clone(),
            index: self.index,
        }
    }

    pub(crate) fn from_message(msg: &LinkMessage) -> Link {
        let mut name = String::new();
        let mut mac = None;
        for attr in &msg.attributes {
            match attr {
                LinkAttribute::IfName(n) => name.clone_from(n),
                LinkAttribute::Address(bytes) if bytes.len() == 6 => {
                    let mut m = [0u8; 6];
                    m.copy_from_slice(bytes);
                    mac = Some(MacAddr(m));
                }
                _ => {}
            }
        }
        Link {
            index: msg.header.index,
            name,
            admin_up: msg.header.flags.contains(LinkFlags::Up),
            running: msg.header.flags.contains(LinkFlags::Running),
            loopback: msg.header.flags.contains(LinkFlags::Loopback),
            mac,
        }
    }
}

/// One address on one interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfAddr {
    pub ifindex: u32,
    pub addr: IpAddr,
    pub prefix_len: u8,
    /// IPv4 label (`eth0:vip`); the kernel reports the interface name when unset.
    pub label: Option<String>,
    /// IPv4: a further address in a subnet that already has a primary.
    pub secondary: bool,
    /// Link or host scope (fe80::/10, 127/8, ::1): valid only on this link or this
    /// host, so never the source of traffic to a peer.
    pub local_scope: bool,
    /// IPv6: duplicate address detection still running; the address cannot be used
    /// as a source yet.
    pub tentative: bool,
    /// IPv6: duplicate address detection found the address in use.
    pub dad_failed: bool,
    /// IPv6: added with IFA_F_NODAD.
    pub nodad: bool,
}

impl IfAddr {
    /// Whether `ip` falls inside this address's connected subnet.
    pub fn contains(&self, ip: IpAddr) -> bool {
        prefix_contains(self.addr, self.prefix_len, ip)
    }

    pub(crate) fn from_message(msg: &AddressMessage) -> Option<IfAddr> {
        let mut local = None;
        let mut address = None;
        let mut label = None;
        let mut flags = AddressFlags::from_bits_retain(u32::from(msg.header.flags.bits()));
        for attr in &msg.attributes {
            match attr {
                AddressAttribute::Local(a) => local = Some(*a),
                AddressAttribute::Address(a) => address = Some(*a),
                AddressAttribute::Label(l) => label = Some(l.clone()),
                // IFA_FLAGS carries all 32 bits; the header only the low 8.
                AddressAttribute::Flags(f) => flags = *f,
                _ => {}
            }
        }
        // IFA_LOCAL is the interface's own address (IFA_ADDRESS is the peer on
        // point-to-point links); IPv6 usually sends IFA_ADDRESS only.
        let addr = local.or(address)?;
        Some(IfAddr {
            ifindex: msg.header.index,
            addr,
            prefix_len: msg.header.prefix_len,
            label,
            secondary: flags.contains(AddressFlags::Secondary),
            local_scope: matches!(msg.header.scope, AddressScope::Link | AddressScope::Host),
            tentative: flags.contains(AddressFlags::Tentative),
            dad_failed: flags.contains(AddressFlags::Dadfailed),
            nodad: flags.contains(AddressFlags::Nodad),
        })
    }
}

/// Whether `ip` lies in `net`/`len` (same family, first `len` bits equal).
pub fn prefix_contains(net: IpAddr, len: u8, ip: IpAddr) -> bool {
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(a)) => {
            let len = u32::from(len.min(32));
            let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
            u32::from(n) & mask == u32::from(a) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(a)) => {
            let len = u32::from(len.min(128));
            let mask = u128::MAX.checked_shl(128 - len).unwrap_or(0);
            u128::from(n) & mask == u128::from(a) & mask
        }
        _ => false,
    }
}

pub(crate) fn is_link_local_v6(a: &Ipv6Addr) -> bool {
    (a.segments()[0] & 0xffc0) == 0xfe80
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_subnet_contains_exactly_the_addresses_under_its_prefix() {
        assert!(prefix_contains(ip("10.99.0.11"), 24, ip("10.99.0.100")));
        assert!(!prefix_contains(ip("10.99.0.11"), 24, ip("10.99.1.100")));
        assert!(prefix_contains(ip("10.99.0.11"), 0, ip("192.0.2.1")));
        assert!(prefix_contains(ip("10.99.0.100"), 32, ip("10.99.0.100")));
        assert!(!prefix_contains(ip("10.99.0.100"), 32, ip("10.99.0.101")));
        assert!(prefix_contains(ip("fd00:1::5"), 64, ip("fd00:1::ffff")));
        assert!(!prefix_contains(ip("fd00:1::5"), 64, ip("fd00:2::5")));
        assert!(prefix_contains(ip("fd00:1::5"), 128, ip("fd00:1::5")));
    }

    #[test]
    fn families_never_contain_each_other() {
        assert!(!prefix_contains(ip("0.0.0.0"), 0, ip("::1")));
        assert!(!prefix_contains(ip("::"), 0, ip("10.0.0.1")));
    }

    #[test]
    fn link_local_means_fe80_slash_10() {
        assert!(is_link_local_v6(&"fe80::99:ff:fe00:b".parse().unwrap()));
        assert!(is_link_local_v6(&"febf::1".parse().unwrap()));
        assert!(!is_link_local_v6(&"fec0::1".parse().unwrap()));
        assert!(!is_link_local_v6(&"fd00::1".parse().unwrap()));
    }

    #[test]
    fn a_link_message_reports_the_loopback_flag() {
        let mut msg = LinkMessage::default();
        msg.header.index = 1;
        msg.header.flags = LinkFlags::Up | LinkFlags::Running | LinkFlags::Loopback;
        msg.attributes.push(LinkAttribute::IfName("lo".into()));
        let lo = Link::from_message(&msg);
        assert_eq!(
            (lo.name.as_str(), lo.loopback, lo.is_usable()),
            ("lo", true, true)
        );
        msg.header.flags = LinkFlags::Up | LinkFlags::Running;
        assert!(!Link::from_message(&msg).loopback);
    }

    fn address_message(ip: &str, scope: AddressScope) -> AddressMessage {
        let mut msg = AddressMessage::default();
        msg.header.index = 2;
        msg.header.prefix_len = 64;
        msg.header.scope = scope;
        msg.attributes
            .push(AddressAttribute::Address(ip.parse().unwrap()));
        msg
    }

    #[test]
    fn link_and_host_scope_addresses_are_local_scope_and_universe_ones_are_not() {
        let local = |ip, scope| {
            IfAddr::from_message(&address_message(ip, scope))
                .unwrap()
                .local_scope
        };
        assert!(local("fe80::1", AddressScope::Link));
        assert!(local("::1", AddressScope::Host));
        assert!(!local("fd00::10", AddressScope::Universe));
        assert!(!local("fec0::10", AddressScope::Site));
    }

    #[test]
    fn the_secondary_flag_comes_from_ifa_flags_over_the_header() {
        let mut msg = address_message("192.0.2.77", AddressScope::Universe);
        assert!(!IfAddr::from_message(&msg).unwrap().secondary);
        msg.attributes
            .push(AddressAttribute::Flags(AddressFlags::Secondary));
        let a = IfAddr::from_message(&msg).unwrap();
        assert_eq!((a.addr, a.secondary), (ip("192.0.2.77"), true));
    }
}
