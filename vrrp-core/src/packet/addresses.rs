//! Rules about the address list an advert carries (C-04, C-15).

use std::net::{IpAddr, Ipv6Addr};

use crate::proto::Family;

/// What the first address of a VRRPv3 IPv6 advert must be.
///
/// RFC 9568 §5.2.9 makes it the router's link-local address and erratum 8300 makes
/// receivers drop adverts where it is not. keepalived 2.2.7 without `vrrp_strict`
/// sends the configured list as is, so a global-only VIP list goes out with a global
/// first address (capture `v3-ipv6.hex.txt`), and a keepalived receiver compares the
/// list with its own config. Sending the RFC form to such a peer, or requiring it from
/// one, breaks the cluster; so this is a per-instance choice, derived by default from
/// the instance's own configured list ([`Ipv6FirstAddress::for_configured`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Ipv6FirstAddress {
    /// RFC 9568 / erratum 8300: the first IPv6 address must be link-local (encode
    /// refuses otherwise; receive drops otherwise).
    #[default]
    LinkLocal,
    /// keepalived-compatible: the list is whatever the configuration says.
    AsConfigured,
}

impl Ipv6FirstAddress {
    /// `LinkLocal` when the configured list itself starts with a link-local IPv6
    /// address (an RFC-form configuration), `AsConfigured` otherwise (a keepalived-style
    /// global-only list, or IPv4, where the rule does not apply).
    pub fn for_configured(addresses: &[IpAddr]) -> Ipv6FirstAddress {
        match addresses.first() {
            Some(IpAddr::V6(first)) if is_ipv6_link_local(first) => Ipv6FirstAddress::LinkLocal,
            _ => Ipv6FirstAddress::AsConfigured,
        }
    }
}

/// fe80::/10, the IPv6 link-local unicast prefix (RFC 4291 §2.5.6).
pub fn is_ipv6_link_local(addr: &Ipv6Addr) -> bool {
    addr.segments()[0] & 0xffc0 == 0xfe80
}

/// The one family of `addresses` (None when empty), or the first pair that mixes
/// families: one advert carries one family (RFC 9568 §5.2.9).
pub(crate) fn single_family(addresses: &[IpAddr]) -> Result<Option<Family>, (IpAddr, IpAddr)> {
    let Some(first) = addresses.first() else {
        return Ok(None);
    };
    let family = Family::of(first);
    match addresses.iter().find(|a| Family::of(a) != family) {
        Some(other) => Err((*first, *other)),
        None => Ok(Some(family)),
    }
}

/// Whether an advertised list equals the configured one, ignoring order (keepalived
/// compares VIP sets, not sequences).
pub(crate) fn same_addresses(configured: &[IpAddr], advertised: &[IpAddr]) -> bool {
    if configured.len() != advertised.len() {
        return false;
    }
    if configured == advertised {
        return true;
    }
    let mut a = configured.to_vec();
    let mut b = advertised.to_vec();
    a.sort_unstable();
    b.sort_unstable();
    a == b
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn link_local_is_fe80_slash_10() {
        assert!(is_ipv6_link_local(&"fe80::1:100".parse().unwrap()));
        assert!(is_ipv6_link_local(&"febf::1".parse().unwrap()));
        assert!(!is_ipv6_link_local(&"fec0::1".parse().unwrap()));
        assert!(!is_ipv6_link_local(&"fd00::100".parse().unwrap()));
    }

    #[test]
    fn first_address_rule_follows_the_configured_list() {
        assert_eq!(
            Ipv6FirstAddress::for_configured(&[ip("fe80::1:100"), ip("fd00::100")]),
            Ipv6FirstAddress::LinkLocal
        );
        assert_eq!(
            Ipv6FirstAddress::for_configured(&[ip("fd00::100")]),
            Ipv6FirstAddress::AsConfigured
        );
        assert_eq!(
            Ipv6FirstAddress::for_configured(&[ip("10.99.0.100")]),
            Ipv6FirstAddress::AsConfigured
        );
    }

    #[test]
    fn c04_mixed_families_are_reported_with_the_offending_pair() {
        assert_eq!(single_family(&[]), Ok(None));
        assert_eq!(
            single_family(&[ip("10.0.0.1"), ip("10.0.0.2")]),
            Ok(Some(Family::V4))
        );
        assert_eq!(
            single_family(&[ip("10.0.0.1"), ip("fd00::1")]),
            Err((ip("10.0.0.1"), ip("fd00::1")))
        );
    }

    #[test]
    fn address_lists_compare_as_multisets() {
        let a = [ip("10.0.0.1"), ip("10.0.0.2")];
        assert!(same_addresses(&a, &[ip("10.0.0.2"), ip("10.0.0.1")]));
        assert!(!same_addresses(&a, &[ip("10.0.0.1")]));
        assert!(!same_addresses(&a, &[ip("10.0.0.1"), ip("10.0.0.3")]));
        assert!(!same_addresses(
            &[ip("10.0.0.1"), ip("10.0.0.1"), ip("10.0.0.2")],
            &[ip("10.0.0.1"), ip("10.0.0.2"), ip("10.0.0.2")]
        ));
    }
}
