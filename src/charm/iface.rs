//! Which interface carries a VRRP instance, and this unit's VRRP source addresses.
//!
//! The original charm scraped `route` output and rendered `interface None` without a
//! default route (docs/juju-contract.md O-7). Here the machine's links, addresses and
//! default routes are read once per hook through the engine's rtnetlink edge
//! ([`crate::engine::net::Netlink`]) into a [`NetSnapshot`], and the choice is a pure
//! function of that snapshot:
//!
//! 1. `network_interface`, if set (it must exist);
//! 2. else the interface whose connected subnet contains the VIP (what `ip route get`
//!    would answer for an on-link VIP, and what hacluster does per VIP);
//! 3. else the interface of the default route of the VIP's family;
//! 4. else no interface: the unit is blocked, never rendered with a bogus interface.

use std::fmt;
use std::net::IpAddr;

use crate::engine::net::{self, ifstate::prefix_contains};
use vrrp_core::proto::Family;

/// One address on a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkAddress {
    pub addr: IpAddr,
    pub prefix_len: u8,
    /// IFA_F_SECONDARY: not the link's primary address of its subnet.
    pub secondary: bool,
    /// Link or host scope (fe80::/10, 127/8): not usable as a unicast VRRP source.
    pub local_scope: bool,
}

/// One network interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub index: u32,
    pub name: String,
    pub loopback: bool,
    pub addresses: Vec<LinkAddress>,
}

/// The machine's interfaces and default routes, read once per hook.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetSnapshot {
    pub links: Vec<Link>,
    /// Interface index of the IPv4 default route with the lowest metric.
    pub default_v4: Option<u32>,
    /// Interface index of the IPv6 default route with the lowest metric.
    pub default_v6: Option<u32>,
}

/// Why no interface can carry a VRRP instance.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IfaceError {
    #[error("invalid network_interface \"{name}\": no such interface on this machine (interfaces: {})", .available.join(", "))]
    NoSuchInterface {
        name: String,
        available: Vec<String>,
    },
    #[error("no interface for virtual_ip {vips}: no interface has an {family} address in its subnet and there is no {family} default route; set network_interface")]
    NoInterface { family: Family, vips: String },
}

/// Interface names that are safe to write into keepalived.conf unquoted.
pub fn valid_interface_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() < 16 // IFNAMSIZ
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':' | '@'))
}

impl NetSnapshot {
    pub fn link_by_name(&self, name: &str) -> Option<&Link> {
        self.links.iter().find(|l| l.name == name)
    }

    pub fn link_by_index(&self, index: u32) -> Option<&Link> {
        self.links.iter().find(|l| l.index == index)
    }

    /// The interface for the VRRP instance of `family` carrying `vips` (see module doc).
    pub fn choose(
        &self,
        network_interface: &str,
        family: Family,
        vips: &[IpAddr],
    ) -> Result<&Link, IfaceError> {
        if !network_interface.is_empty() {
            return self.link_by_name(network_interface).ok_or_else(|| {
                IfaceError::NoSuchInterface {
                    name: network_interface.to_string(),
                    available: self.links.iter().map(|l| l.name.clone()).collect(),
                }
            });
        }
        for vip in vips {
            let on_link = self.links.iter().filter(|l| !l.loopback).find(|l| {
                l.addresses
                    .iter()
                    .any(|a| !a.local_scope && prefix_contains(a.addr, a.prefix_len, *vip))
            });
            if let Some(link) = on_link {
                return Ok(link);
            }
        }
        let default = match family {
            Family::V4 => self.default_v4,
            Family::V6 => self.default_v6,
        };
        default
            .and_then(|index| self.link_by_index(index))
            .ok_or_else(|| IfaceError::NoInterface {
                family,
                vips: vips
                    .iter()
                    .map(|v| v.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }
}

impl Link {
    /// The address this unit sends VRRP from on this link, as peers must list it in
    /// their `unicast_peer` blocks. VIPs are never a source.
    ///
    /// A source this unit `published` before stays while it is still a usable address
    /// of the link: peers list it, and a fresh pick can land on a VIP the engine holds
    /// but `vips` no longer names (after a VIP change, until the engine reloads) — the
    /// kernel lists IPv6 addresses newest first, so on a MASTER that old VIP comes
    /// before the unit's own address. Otherwise: the primary IPv4 address (keepalived's
    /// default source), or the first global IPv6 address.
    pub fn vrrp_source(
        &self,
        family: Family,
        vips: &[IpAddr],
        published: &[IpAddr],
    ) -> Option<IpAddr> {
        let candidates = || {
            self.addresses.iter().filter(|a| {
                Family::of(&a.addr) == family && !a.local_scope && !vips.contains(&a.addr)
            })
        };
        candidates()
            .find(|a| published.contains(&a.addr))
            .or_else(|| candidates().find(|a| !a.secondary))
            .or_else(|| candidates().next())
            .map(|a| a.addr)
    }
}

impl Link {
    /// The segment this link is on for `family`, as peers compare it (docs/requirements.md
    /// K-17, a rolling `network_interface` change): the subnet of its primary
    /// address of that family (the first non-secondary IPv4, the first global
    /// IPv6), `network/prefix` (`192.0.2.0/24`, `2001:db8::/64`); `None` without one.
    /// `vips` (ours) are never the link's own address.
    pub fn segment(&self, family: Family, vips: &[IpAddr]) -> Option<String> {
        self.addresses
            .iter()
            .find(|a| {
                Family::of(&a.addr) == family
                    && !a.local_scope
                    && !a.secondary
                    && !vips.contains(&a.addr)
            })
            .map(|a| subnet(a.addr, a.prefix_len))
    }
}

/// `addr`'s subnet at `prefix_len` as `network/prefix` text.
pub fn subnet(addr: IpAddr, prefix_len: u8) -> String {
    let network = match addr {
        IpAddr::V4(a) => {
            let bits = u32::from(prefix_len.min(32));
            let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
            IpAddr::V4((u32::from(a) & mask).into())
        }
        IpAddr::V6(a) => {
            let bits = u32::from(prefix_len.min(128));
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            IpAddr::V6((u128::from(a) & mask).into())
        }
    };
    format!("{network}/{prefix_len}")
}

/// Reading the snapshot failed: the runtime that drives netlink, or a dump.
#[derive(Debug, thiserror::Error)]
pub enum NetlinkError {
    #[error("cannot read the network interfaces: cannot start the netlink runtime: {0}")]
    Runtime(#[source] std::io::Error),
    #[error("cannot read the network interfaces through netlink: {0}")]
    Dump(#[from] net::NetlinkError),
}

impl fmt::Display for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// Reads links, addresses and default routes through the engine's rtnetlink edge
/// (no `ip`/`route`).
pub fn read_snapshot() -> Result<NetSnapshot, NetlinkError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .map_err(NetlinkError::Runtime)?;
    runtime.block_on(dump())
}

async fn dump() -> Result<NetSnapshot, NetlinkError> {
    let netlink = net::Netlink::connect()?;
    let mut links: Vec<Link> = netlink
        .links()
        .await?
        .into_iter()
        .filter(|l| !l.name.is_empty())
        .map(|l| Link {
            index: l.index,
            name: l.name,
            loopback: l.loopback,
            addresses: Vec::new(),
        })
        .collect();
    // Kernel order is kept per link: vrrp_source falls back to the first candidate.
    for a in netlink.addresses(None).await? {
        if let Some(link) = links.iter_mut().find(|l| l.index == a.ifindex) {
            link.addresses.push(LinkAddress {
                addr: a.addr,
                prefix_len: a.prefix_len,
                secondary: a.secondary,
                local_scope: a.local_scope,
            });
        }
    }
    Ok(NetSnapshot {
        links,
        default_v4: netlink.default_route_index(Family::V4).await?,
        default_v6: netlink.default_route_index(Family::V6).await?,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn addr(text: &str) -> LinkAddress {
        let (ip, len) = text.split_once('/').unwrap();
        let addr: IpAddr = ip.parse().unwrap();
        let local_scope = match addr {
            IpAddr::V4(a) => a.is_loopback(),
            IpAddr::V6(a) => a.is_loopback() || (a.segments()[0] & 0xffc0) == 0xfe80,
        };
        LinkAddress {
            addr,
            prefix_len: len.parse().unwrap(),
            secondary: false,
            local_scope,
        }
    }

    /// lo; eth0 192.0.2.10/24 + fd00::10/64 (default routes); eth1 10.20.0.10/16.
    pub(crate) fn snapshot() -> NetSnapshot {
        NetSnapshot {
            links: vec![
                Link {
                    index: 1,
                    name: "lo".into(),
                    loopback: true,
                    addresses: vec![addr("127.0.0.1/8"), addr("::1/128")],
                },
                Link {
                    index: 2,
                    name: "eth0".into(),
                    loopback: false,
                    addresses: vec![
                        addr("192.0.2.10/24"),
                        addr("fd00::10/64"),
                        addr("fe80::1/64"),
                    ],
                },
                Link {
                    index: 3,
                    name: "eth1".into(),
                    loopback: false,
                    addresses: vec![addr("10.20.0.10/16")],
                },
            ],
            default_v4: Some(2),
            default_v6: Some(2),
        }
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    /// K-17: a link's segment is the subnet of its primary address of the family,
    /// never of a VIP, a link-local or a secondary address.
    #[test]
    fn a_links_segment_is_the_subnet_of_its_primary_address() {
        let net = snapshot();
        let eth0 = &net.links[1];
        assert_eq!(
            eth0.segment(Family::V4, &[]).as_deref(),
            Some("192.0.2.0/24")
        );
        assert_eq!(eth0.segment(Family::V6, &[]).as_deref(), Some("fd00::/64"));
        assert_eq!(
            net.links[2].segment(Family::V4, &[]).as_deref(),
            Some("10.20.0.0/16")
        );
        assert_eq!(net.links[2].segment(Family::V6, &[]), None);
        assert_eq!(eth0.segment(Family::V4, &[ip("192.0.2.10")]), None);
        assert_eq!(subnet(ip("10.1.2.3"), 0), "0.0.0.0/0");
        assert_eq!(subnet(ip("10.1.2.3"), 32), "10.1.2.3/32");
        assert_eq!(subnet(ip("2001:db8::1:2"), 112), "2001:db8::1:0/112");
    }

    #[test]
    fn configured_interface_wins_when_it_exists() {
        let s = snapshot();
        let link = s.choose("eth1", Family::V4, &[ip("192.0.2.99")]).unwrap();
        assert_eq!(link.name, "eth1");
    }

    #[test]
    fn configured_interface_that_does_not_exist_is_an_error_listing_the_interfaces() {
        let s = snapshot();
        let e = s
            .choose("eth9", Family::V4, &[ip("192.0.2.99")])
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid network_interface \"eth9\": no such interface on this machine (interfaces: lo, eth0, eth1)"
        );
    }

    #[test]
    fn the_interface_whose_subnet_holds_the_vip_is_chosen_before_the_default_route() {
        let s = snapshot();
        assert_eq!(
            s.choose("", Family::V4, &[ip("10.20.5.5")]).unwrap().name,
            "eth1"
        );
        assert_eq!(
            s.choose("", Family::V4, &[ip("192.0.2.99")]).unwrap().name,
            "eth0"
        );
        assert_eq!(
            s.choose("", Family::V6, &[ip("fd00::99")]).unwrap().name,
            "eth0"
        );
    }

    #[test]
    fn the_default_route_interface_is_the_fallback() {
        let s = snapshot();
        assert_eq!(
            s.choose("", Family::V4, &[ip("172.16.0.1")]).unwrap().name,
            "eth0"
        );
    }

    #[test]
    fn loopback_and_link_local_subnets_never_match() {
        let mut s = snapshot();
        s.default_v4 = Some(3);
        // 127.0.0.5 is in lo's subnet, but lo is never a VRRP interface.
        assert_eq!(
            s.choose("", Family::V4, &[ip("127.0.0.5")]).unwrap().name,
            "eth1"
        );
        s.default_v6 = Some(3);
        assert_eq!(
            s.choose("", Family::V6, &[ip("fe80::5")]).unwrap().name,
            "eth1"
        );
    }

    #[test]
    fn no_subnet_and_no_default_route_is_an_error_naming_the_vips() {
        let mut s = snapshot();
        s.default_v4 = None;
        let e = s
            .choose("", Family::V4, &[ip("172.16.0.1"), ip("172.16.0.2")])
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "no interface for virtual_ip 172.16.0.1, 172.16.0.2: no interface has an IPv4 address in its subnet and there is no IPv4 default route; set network_interface"
        );
    }

    #[test]
    fn vrrp_source_is_the_primary_address_and_never_a_vip_or_link_local() {
        let s = snapshot();
        let eth0 = s.link_by_name("eth0").unwrap();
        assert_eq!(
            eth0.vrrp_source(Family::V4, &[], &[]),
            Some(ip("192.0.2.10"))
        );
        assert_eq!(eth0.vrrp_source(Family::V6, &[], &[]), Some(ip("fd00::10")));
        assert_eq!(eth0.vrrp_source(Family::V4, &[ip("192.0.2.10")], &[]), None);
        let mut link = eth0.clone();
        link.addresses.insert(
            0,
            LinkAddress {
                secondary: true,
                ..addr("192.0.2.77/24")
            },
        );
        assert_eq!(
            link.vrrp_source(Family::V4, &[], &[]),
            Some(ip("192.0.2.10"))
        );
    }

    #[test]
    fn vrrp_source_keeps_the_published_address_over_a_vip_the_engine_still_holds() {
        let s = snapshot();
        let mut eth0 = s.link_by_name("eth0").unwrap().clone();
        // A MASTER holds the old VIP fd00::5; the kernel lists it first.
        eth0.addresses.insert(0, addr("fd00::5/64"));
        // The VIP moved to fd00::6: a fresh pick would take the old VIP...
        assert_eq!(
            eth0.vrrp_source(Family::V6, &[ip("fd00::6")], &[]),
            Some(ip("fd00::5"))
        );
        // ...the address published before stays.
        let published = [ip("192.0.2.10"), ip("fd00::10")];
        assert_eq!(
            eth0.vrrp_source(Family::V6, &[ip("fd00::6")], &published),
            Some(ip("fd00::10"))
        );
        // Unless it became a VIP itself, or is gone from the link.
        assert_eq!(
            eth0.vrrp_source(Family::V6, &[ip("fd00::10")], &published),
            Some(ip("fd00::5"))
        );
        assert_eq!(
            eth0.vrrp_source(Family::V4, &[], &[ip("192.0.2.99")]),
            Some(ip("192.0.2.10"))
        );
    }

    #[test]
    fn interface_names_with_config_syntax_characters_are_refused() {
        assert!(valid_interface_name("eth0"));
        assert!(valid_interface_name("enp0s31f6"));
        assert!(valid_interface_name("br-lan.100"));
        assert!(!valid_interface_name(""));
        assert!(!valid_interface_name("eth0 }"));
        assert!(!valid_interface_name("eth#0"));
        assert!(!valid_interface_name("averyveryverylongname"));
    }

    #[test]
    fn netlink_snapshot_of_this_machine_has_loopback_with_a_host_scope_address() {
        let s = read_snapshot().expect("netlink works in the test environment");
        let lo = s.link_by_name("lo").expect("lo exists");
        assert!(lo.loopback);
        assert!(lo
            .addresses
            .iter()
            .any(|a| a.addr == ip("127.0.0.1") && a.prefix_len == 8 && a.local_scope));
    }
}
