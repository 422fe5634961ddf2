//! What one local instance expects of received adverts.

use std::net::IpAddr;

use crate::packet::addresses::Ipv6FirstAddress;
use crate::packet::wire::{MCAST_GROUP_V4, MCAST_GROUP_V6};
use crate::proto::{AdvertInterval, Auth, Family, RollingFrom, Version, Vrid};

/// How an instance's adverts travel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    /// To a multicast group (224.0.0.18 / ff02::12 unless configured otherwise).
    Multicast {
        /// The group adverts are sent to and expected at.
        group: IpAddr,
    },
    /// keepalived's `unicast_peer {}`: one copy to each peer. Only adverts from a
    /// listed peer are accepted (keepalived's `check_unicast_src`), and the TTL/hop
    /// limit check is skipped, as keepalived does without `min_ttl`/`max_ttl`: unicast
    /// adverts may legitimately cross routers, so 255 cannot be demanded. The peer list
    /// is then the only guard (docs/requirements.md K-09).
    Unicast {
        /// The peers adverts go to, and the only accepted sources.
        peers: Vec<IpAddr>,
    },
}

impl Transport {
    /// The standard VRRP group of `family`.
    pub fn multicast(family: Family) -> Transport {
        Transport::Multicast {
            group: match family {
                Family::V4 => IpAddr::V4(MCAST_GROUP_V4),
                Family::V6 => IpAddr::V6(MCAST_GROUP_V6),
            },
        }
    }

    /// keepalived's rule: one copy to each of `peers` when there are any, else the
    /// standard group of `family`.
    pub fn of(family: Family, peers: &[IpAddr]) -> Transport {
        if peers.is_empty() {
            Transport::multicast(family)
        } else {
            Transport::Unicast {
                peers: peers.to_vec(),
            }
        }
    }

    /// Where adverts go: the group, or each peer.
    pub fn destinations(&self) -> Vec<IpAddr> {
        match self {
            Transport::Multicast { group } => vec![*group],
            Transport::Unicast { peers } => peers.clone(),
        }
    }

    /// Whether adverts go to listed peers rather than a group.
    pub fn is_unicast(&self) -> bool {
        matches!(self, Transport::Unicast { .. })
    }
}

/// What to do with an advert whose address list differs from ours (C-15).
///
/// RFC 3768 §7.1 says drop unless the sender is the owner (RFC 9568 §7.1 makes the
/// check a MAY); keepalived ≥ 2.3.3 only logs, which lets a foreign cluster reusing
/// the VRID take part in the election (docs/requirements.md C-15, docs/scenarios.md
/// S9). The default sits between: a list that contains ours or is contained in it
/// is our own cluster in the middle of a rolling `virtual_ip` change (the charm
/// renders the union of the old and new lists while units disagree, K-13), and is
/// accepted with a notice; any other list is a stranger's and is dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AddressMismatchPolicy {
    /// Accept a list that contains ours or is contained in ours, with a notice;
    /// drop and count any other (K-13).
    #[default]
    DropUnlessContained,
    /// Drop every other list and count it (RFC 3768 §7.1 to the letter).
    Drop,
    /// Log it and let it take part in the election (keepalived ≥ 2.3.3).
    LogOnly,
}

/// What one local instance expects of the adverts it receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RxExpect {
    /// Our VRRP version: adverts of the other version are dropped.
    pub version: Version,
    /// Our address family.
    pub family: Family,
    /// Our VRID.
    pub vrid: Vrid,
    /// VRRPv2 only; VRRPv3 has no authentication.
    pub auth: Auth,
    /// Our `advert_int`: VRRPv2 drops any other; VRRPv3 only notes it.
    pub local_interval: AdvertInterval,
    /// The configured virtual addresses.
    pub addresses: Vec<IpAddr>,
    /// We are the address owner (priority 255).
    pub owner: bool,
    /// Multicast or unicast, and from whom adverts are accepted.
    pub transport: Transport,
    /// What an address-list mismatch does.
    pub address_mismatch: AddressMismatchPolicy,
    /// What the first address of a VRRPv3/IPv6 advert must be.
    pub ipv6_first_address: Ipv6FirstAddress,
    /// The identity a rolling VRID or password change moves from (K-17): adverts in
    /// it are the instance's too, accepted with a notice.
    pub rolling_from: Option<RollingFrom>,
}

impl RxExpect {
    /// A multicast, unauthenticated, non-owner instance that drops address-list
    /// mismatches and applies the IPv6 link-local-first rule when its own list
    /// follows it ([`Ipv6FirstAddress::for_configured`]). Adjust the fields for more.
    pub fn new(
        version: Version,
        family: Family,
        vrid: Vrid,
        local_interval: AdvertInterval,
        addresses: Vec<IpAddr>,
    ) -> RxExpect {
        RxExpect {
            version,
            family,
            vrid,
            auth: Auth::None,
            local_interval,
            ipv6_first_address: Ipv6FirstAddress::for_configured(&addresses),
            addresses,
            owner: false,
            transport: Transport::multicast(family),
            address_mismatch: AddressMismatchPolicy::default(),
            rolling_from: None,
        }
    }

    /// How adverts of the `rolling_from` identity `from` travel.
    pub fn rolling_transport(&self, from: &RollingFrom) -> Transport {
        Transport::of(self.family, &from.unicast_peers)
    }

    /// Whether the instance, in its own or its `rolling_from` identity, is unicast.
    pub fn any_unicast(&self) -> bool {
        self.transport.is_unicast()
            || self
                .rolling_from
                .as_ref()
                .is_some_and(|r| !r.unicast_peers.is_empty())
    }

    /// The VRIDs the instance answers to: its own, and its `rolling_from` one when
    /// that differs.
    pub fn vrids(&self) -> impl Iterator<Item = Vrid> + '_ {
        let rolling = self
            .rolling_from
            .as_ref()
            .and_then(|r| r.other_vrid(self.vrid));
        std::iter::once(self.vrid).chain(rolling)
    }
}
