//! The receive ladder: every MUST of RFC 3768 §7.1 / RFC 9568 §7.1 (+ errata) in
//! order, one named [`DropReason`] and one counter per rule (reference §1.6, C-10..C-15).
//!
//! Order: IP header → TTL/hop limit → version → type → length → checksum → v3 count
//! and interval ≠ 0 → VRID → instance version → destination → unicast peer → v2 auth
//! type and password → v2 interval → v3 IPv6 first address link-local → address list.
//!
//! Accepted with a notice (the RFC says log, never drop): a v3 interval that differs
//! from ours (the Backup adopts it, C-13); an owner hearing another owner (erratum
//! 8298, C-14); an address-list mismatch from the owner, or under the log-only policy.

use std::collections::BTreeMap;
use std::net::IpAddr;

use thiserror::Error;

use super::addresses::{is_ipv6_link_local, same_addresses, Ipv6FirstAddress};
use super::counters::RxCounters;
use super::decode::{decode_vrrp, DecodeError, IpMeta, Received};
use super::ipv4::parse_ipv4;
use super::wire::{MCAST_GROUP_V4, MCAST_GROUP_V6, VRRP_TTL};
use crate::engine::proto::{AdvertInterval, Auth, Family, Version, Vrid};

/// How an instance's adverts travel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    /// To a multicast group (224.0.0.18 / ff02::12 unless configured otherwise).
    Multicast { group: IpAddr },
    /// keepalived's `unicast_peer {}`: one copy to each peer. Only adverts from a
    /// listed peer are accepted (keepalived's `check_unicast_src`), and the TTL/hop
    /// limit check is skipped, as keepalived does without `min_ttl`/`max_ttl`: unicast
    /// adverts may legitimately cross routers, so 255 cannot be demanded. The peer list
    /// is then the only guard (reference §2.2, pitfall 6).
    Unicast { peers: Vec<IpAddr> },
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

    pub fn is_unicast(&self) -> bool {
        matches!(self, Transport::Unicast { .. })
    }
}

/// What to do with an advert whose address list differs from ours (C-15).
///
/// RFC 3768 §7.1 says drop unless the sender is the owner; keepalived ≥ 2.3.3 only
/// logs, which lets a foreign cluster reusing the VRID take part in the election
/// (reference §2.13). Dropping is the safe default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AddressMismatchPolicy {
    #[default]
    Drop,
    LogOnly,
}

/// What one local instance expects of the adverts it receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RxExpect {
    pub version: Version,
    pub family: Family,
    pub vrid: Vrid,
    /// VRRPv2 only; VRRPv3 has no authentication.
    pub auth: Auth,
    /// Our `advert_int`: VRRPv2 drops any other; VRRPv3 only notes it.
    pub local_interval: AdvertInterval,
    /// The configured virtual addresses.
    pub addresses: Vec<IpAddr>,
    /// We are the address owner (priority 255).
    pub owner: bool,
    pub transport: Transport,
    pub address_mismatch: AddressMismatchPolicy,
    pub ipv6_first_address: Ipv6FirstAddress,
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
            address_mismatch: AddressMismatchPolicy::Drop,
        }
    }
}

/// Why an advert was discarded. Each reason has its own counter in
/// [`DropCounters`](super::DropCounters), named by [`DropReason::name`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum DropReason {
    #[error("unusable IP header: {0}")]
    IpHeader(&'static str),
    #[error("TTL/hop limit {0}, VRRP requires 255 (sender not on this link, or forged)")]
    Ttl(u8),
    #[error("VRRP version {0} not spoken by this instance")]
    Version(u8),
    #[error("VRRP type {0}: only 1 (ADVERTISEMENT) exists")]
    Type(u8),
    #[error("truncated VRRP packet: {len} bytes, {needed} needed")]
    Truncated { len: usize, needed: usize },
    #[error("VRRP packet of {len} bytes, its address count implies {expected}")]
    TrailingBytes { len: usize, expected: usize },
    #[error("bad VRRP checksum {0:#06x}")]
    Checksum(u16),
    #[error("VRRPv3 address count 0 (RFC 9568 erratum 8299)")]
    CountZero,
    #[error("advertisement interval 0 (RFC 9568 erratum 8301)")]
    IntervalZero,
    #[error("no instance with VRID {0} here")]
    UnknownVrid(u8),
    #[error("sent to {0}, which is not this instance's destination (multicast group vs unicast)")]
    Destination(IpAddr),
    #[error("unicast advert from {0}, which is not a configured unicast_peer")]
    UnicastPeer(IpAddr),
    #[error("VRRPv2 auth type {got}, this instance uses {expected}")]
    AuthType { got: u8, expected: u8 },
    #[error("VRRPv2 PASS authentication does not match auth_pass")]
    AuthPass,
    #[error("VRRPv2 advert_int {got} differs from the local {local} (RFC 3768 §7.1 MUST discard)")]
    IntervalMismatch {
        got: AdvertInterval,
        local: AdvertInterval,
    },
    #[error("first address {0} of a VRRPv3 IPv6 advert is not link-local (RFC 9568 erratum 8300)")]
    FirstAddressNotLinkLocal(IpAddr),
    #[error("advert lists {count} addresses that differ from the configured virtual_ipaddress (same VRID used by another cluster?)")]
    AddressListMismatch { count: usize },
}

impl DropReason {
    /// snake_case name, the same as the counter's field in the state file.
    pub fn name(&self) -> &'static str {
        match self {
            DropReason::IpHeader(_) => "ip_header",
            DropReason::Ttl(_) => "ttl",
            DropReason::Version(_) => "version",
            DropReason::Type(_) => "packet_type",
            DropReason::Truncated { .. } => "truncated",
            DropReason::TrailingBytes { .. } => "trailing_bytes",
            DropReason::Checksum(_) => "checksum",
            DropReason::CountZero => "count_zero",
            DropReason::IntervalZero => "interval_zero",
            DropReason::UnknownVrid(_) => "unknown_vrid",
            DropReason::Destination(_) => "destination",
            DropReason::UnicastPeer(_) => "unicast_peer",
            DropReason::AuthType { .. } => "auth_type",
            DropReason::AuthPass => "auth_pass",
            DropReason::IntervalMismatch { .. } => "interval_mismatch",
            DropReason::FirstAddressNotLinkLocal(_) => "first_address_not_link_local",
            DropReason::AddressListMismatch { .. } => "address_list_mismatch",
        }
    }

    fn from_decode(
        err: DecodeError,
        vrid_byte: Option<u8>,
        local_auth: Option<Auth>,
    ) -> DropReason {
        match err {
            DecodeError::IpHeader(why) => DropReason::IpHeader(why),
            DecodeError::IpFamilyMismatch => {
                DropReason::IpHeader("source and destination of different families")
            }
            DecodeError::Version(v) => DropReason::Version(v),
            DecodeError::V2OverIpv6 => DropReason::Version(2),
            DecodeError::Type(t) => DropReason::Type(t),
            DecodeError::Truncated { len, needed } => DropReason::Truncated { len, needed },
            DecodeError::TrailingBytes { len, expected } => {
                DropReason::TrailingBytes { len, expected }
            }
            DecodeError::Checksum(c) => DropReason::Checksum(c),
            // We only ever configure 0 (none) or 1 (PASS): any other type mismatches.
            DecodeError::AuthType(t) => DropReason::AuthType {
                got: t,
                expected: local_auth.map_or(0, |a| a.wire_type()),
            },
            DecodeError::IntervalZero => DropReason::IntervalZero,
            DecodeError::CountZero => DropReason::CountZero,
            DecodeError::VridZero => DropReason::UnknownVrid(vrid_byte.unwrap_or(0)),
        }
    }
}

/// Accepted, but the RFC says log it (and the router may act on it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Notices {
    /// VRRPv3: the sender's interval differs from ours; a Backup adopts it (C-13).
    pub interval_mismatch: bool,
    /// We own the addresses and the sender claims priority 255 too (C-14).
    pub owner_conflict: bool,
    /// Address list differs: sender is the owner, or the policy is log-only (C-15).
    pub address_list_mismatch: bool,
}

/// An advert that passed the ladder, for the instance `(family, advert.vrid)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub received: Received,
    pub notices: Notices,
}

/// A discarded advert, with what is known of its origin (for rate-limited logs and
/// per-instance attribution).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dropped {
    pub reason: DropReason,
    pub vrid: Option<Vrid>,
    pub src: Option<IpAddr>,
}

/// The instance-specific rungs, for an advert that decoded and matched `expect`'s VRID.
pub fn check(expect: &RxExpect, received: &Received) -> Result<Notices, DropReason> {
    let advert = &received.advert;
    if advert.version != expect.version {
        return Err(DropReason::Version(advert.version.wire()));
    }
    match &expect.transport {
        Transport::Multicast { group } => {
            if received.dst != *group {
                return Err(DropReason::Destination(received.dst));
            }
        }
        Transport::Unicast { peers } => {
            if received.dst.is_multicast() {
                return Err(DropReason::Destination(received.dst));
            }
            if !peers.contains(&received.src) {
                return Err(DropReason::UnicastPeer(received.src));
            }
        }
    }
    let mut notices = Notices::default();
    match advert.version {
        Version::V2 => {
            check_v2_auth(expect.auth, advert.auth)?;
            if advert.interval != expect.local_interval {
                return Err(DropReason::IntervalMismatch {
                    got: advert.interval,
                    local: expect.local_interval,
                });
            }
        }
        Version::V3 => {
            notices.interval_mismatch = advert.interval != expect.local_interval;
            if let Some(IpAddr::V6(first)) = advert.addresses.first() {
                if expect.ipv6_first_address == Ipv6FirstAddress::LinkLocal
                    && !is_ipv6_link_local(first)
                {
                    return Err(DropReason::FirstAddressNotLinkLocal(IpAddr::V6(*first)));
                }
            }
        }
    }
    if !same_addresses(&expect.addresses, &advert.addresses) {
        if !advert.priority.is_owner() && expect.address_mismatch == AddressMismatchPolicy::Drop {
            return Err(DropReason::AddressListMismatch {
                count: advert.addresses.len(),
            });
        }
        notices.address_list_mismatch = true;
    }
    notices.owner_conflict = expect.owner && advert.priority.is_owner();
    Ok(notices)
}

/// RFC 3768 §7.1: the auth type must match ours, and a PASS must match byte for byte.
fn check_v2_auth(local: Auth, got: Auth) -> Result<(), DropReason> {
    if local.wire_type() != got.wire_type() {
        return Err(DropReason::AuthType {
            got: got.wire_type(),
            expected: local.wire_type(),
        });
    }
    match (local, got) {
        (Auth::Pass(a), Auth::Pass(b)) if !constant_time_eq(&a, &b) => Err(DropReason::AuthPass),
        _ => Ok(()),
    }
}

/// Compares all 8 bytes whatever differs first, as keepalived does, so the time taken
/// says nothing about how much of a guessed password was right.
fn constant_time_eq(a: &[u8; 8], b: &[u8; 8]) -> bool {
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// The receive side of one socket (or all of them): instances by (family, VRID), the
/// whole ladder, and the counters. Pure: bytes in, verdict out.
#[derive(Debug, Clone, Default)]
pub struct Demux {
    instances: BTreeMap<(Family, Vrid), RxExpect>,
    counters: RxCounters,
}

impl Demux {
    pub fn new() -> Demux {
        Demux::default()
    }

    /// Adds or replaces the instance `(expect.family, expect.vrid)`.
    pub fn insert(&mut self, expect: RxExpect) -> Option<RxExpect> {
        self.instances.insert((expect.family, expect.vrid), expect)
    }

    pub fn remove(&mut self, family: Family, vrid: Vrid) -> Option<RxExpect> {
        self.instances.remove(&(family, vrid))
    }

    pub fn expectation(&self, family: Family, vrid: Vrid) -> Option<&RxExpect> {
        self.instances.get(&(family, vrid))
    }

    pub fn counters(&self) -> &RxCounters {
        &self.counters
    }

    /// What an IPv4 raw socket delivered: IPv4 header + VRRP (+ padding).
    pub fn receive_ipv4(&mut self, packet: &[u8]) -> Result<Accepted, Dropped> {
        match parse_ipv4(packet) {
            Ok((header, payload)) => {
                let meta = IpMeta {
                    src: IpAddr::V4(header.src),
                    dst: IpAddr::V4(header.dst),
                    ttl: header.ttl,
                };
                self.receive(meta, payload)
            }
            Err(err) => self.count(Err(Dropped {
                reason: DropReason::from_decode(err, None, None),
                vrid: None,
                src: None,
            })),
        }
    }

    /// A VRRP payload with its IP facts (the IPv6 path: hop limit and destination from
    /// ancillary data).
    pub fn receive(&mut self, meta: IpMeta, payload: &[u8]) -> Result<Accepted, Dropped> {
        let verdict = ladder(&self.instances, meta, payload);
        self.count(verdict)
    }

    fn count(&mut self, verdict: Result<Accepted, Dropped>) -> Result<Accepted, Dropped> {
        match &verdict {
            Ok(accepted) => {
                self.counters.accepted = self.counters.accepted.saturating_add(1);
                self.counters
                    .notices
                    .record(&accepted.notices, accepted.received.checksum_form);
            }
            Err(dropped) => self.counters.drops.record(&dropped.reason),
        }
        verdict
    }
}

fn ladder(
    instances: &BTreeMap<(Family, Vrid), RxExpect>,
    meta: IpMeta,
    payload: &[u8],
) -> Result<Accepted, Dropped> {
    let family = Family::of(&meta.src);
    let vrid_byte = payload.get(1).copied();
    let vrid = vrid_byte.and_then(|v| Vrid::new(v).ok());
    let drop = |reason| Dropped {
        reason,
        vrid,
        src: Some(meta.src),
    };
    // The VRID byte is peeked before anything is trusted, only to know whether the
    // instance is unicast (no TTL rule); every other check comes after the checksum.
    let expect = vrid.and_then(|v| instances.get(&(family, v)));
    let unicast = expect.is_some_and(|e| e.transport.is_unicast());
    if meta.ttl != VRRP_TTL && !unicast {
        return Err(drop(DropReason::Ttl(meta.ttl)));
    }
    let local_auth = expect.map(|e| e.auth);
    let received = decode_vrrp(meta, payload)
        .map_err(|e| drop(DropReason::from_decode(e, vrid_byte, local_auth)))?;
    let expect = expect.ok_or_else(|| drop(DropReason::UnknownVrid(received.advert.vrid.get())))?;
    let notices = check(expect, &received).map_err(drop)?;
    Ok(Accepted { received, notices })
}

#[cfg(test)]
mod tests;
