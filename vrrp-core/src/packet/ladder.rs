//! The receive ladder: every MUST of RFC 3768 §7.1 / RFC 9568 §7.1 (+ errata) in
//! order, one named [`DropReason`] and one counter per rule (RFC 3768 §7.1, RFC 9568 §7.1; docs/requirements.md C-10..C-15).
//!
//! Order: IP header → TTL/hop limit → version → type → length → checksum → v3 count
//! and interval ≠ 0 → VRID → instance version → destination → unicast peer → v2 auth
//! type and password → v2 interval → v3 IPv6 first address link-local → address list.
//!
//! Accepted with a notice (the RFC says log, never drop): a v3 interval that differs
//! from ours (the Backup adopts it, C-13); an owner hearing another owner (erratum
//! 8298, C-14); an address-list mismatch from the owner, or under the log-only policy.
//! Ours, not the RFCs': when neither side authenticates, another version or a v2
//! interval that differs from ours is our own cluster changing its timing, accepted
//! with a notice (K-15, see [`crate::proto::Auth::tolerates_other_timing`]). An advert
//! in an instance's `rolling_from` identity (the old VRID or password of a rolling
//! change) is handed on in the instance's own identity, with a notice (K-17).

mod expect;

use std::collections::BTreeMap;
use std::net::IpAddr;

pub use expect::{AddressMismatchPolicy, RxExpect, Transport};

use super::addresses::{is_ipv6_link_local, same_addresses, Ipv6FirstAddress};
use super::counters::{Notices, RxCounters};
use super::decode::{decode_vrrp, IpMeta, Received};
use super::ipv4::parse_ipv4;
use super::reason::DropReason;
use super::wire::VRRP_TTL;
use crate::proto::{Auth, Family, Version, Vrid};

/// An advert that passed the ladder, for the instance `(family, advert.vrid)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The decoded advert with its IP facts.
    pub received: Received,
    /// What to log about it.
    pub notices: Notices,
}

/// A discarded advert, with what is known of its origin (for rate-limited logs and
/// per-instance attribution).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dropped {
    /// Why it was discarded.
    pub reason: DropReason,
    /// Its VRID byte, when it was readable and not 0.
    pub vrid: Option<Vrid>,
    /// Its IP source, when the IP header was usable.
    pub src: Option<IpAddr>,
}

/// The instance-specific rungs, for an advert that decoded and matched one of
/// `expect`'s VRIDs ([`RxExpect::vrids`]): in the instance's own identity, else in its
/// `rolling_from` one (K-17), which is noted. When neither passes, the own
/// identity's reason is reported if the VRID is the instance's own.
pub fn check(expect: &RxExpect, received: &Received) -> Result<Notices, DropReason> {
    let vrid = received.advert.vrid;
    let own =
        (vrid == expect.vrid).then(|| check_as(expect, expect.auth, &expect.transport, received));
    let rolling = expect.rolling_from.as_ref().filter(|r| r.vrid == vrid);
    match (own, rolling) {
        (Some(Ok(notices)), _) => Ok(notices),
        (own, Some(from)) => {
            match check_as(expect, from.auth, &expect.rolling_transport(from), received) {
                Ok(notices) => Ok(Notices {
                    rolling_identity: true,
                    ..notices
                }),
                Err(e) => Err(own.map_or(e, |o| o.err().unwrap_or(e))),
            }
        }
        (Some(Err(e)), None) => Err(e),
        (None, None) => Err(DropReason::UnknownVrid(vrid.get())),
    }
}

/// [`check`] in one identity: `expect` with the authentication `auth` and `transport`.
fn check_as(
    expect: &RxExpect,
    auth: Auth,
    transport: &Transport,
    received: &Received,
) -> Result<Notices, DropReason> {
    let advert = &received.advert;
    let tolerant = auth.tolerates_other_timing(&advert.auth);
    if advert.version != expect.version && !tolerant {
        return Err(DropReason::Version(advert.version.wire()));
    }
    match transport {
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
    let mut notices = Notices {
        version_mismatch: advert.version != expect.version,
        interval_mismatch: advert.interval != expect.local_interval,
        ..Notices::default()
    };
    match advert.version {
        Version::V2 => {
            check_v2_auth(auth, advert.auth)?;
            if notices.interval_mismatch && !tolerant {
                return Err(DropReason::IntervalMismatch {
                    got: advert.interval,
                    local: expect.local_interval,
                });
            }
        }
        Version::V3 => {
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
        let ours = &expect.addresses;
        let theirs = &advert.addresses;
        let contained =
            theirs.iter().all(|a| ours.contains(a)) || ours.iter().all(|a| theirs.contains(a));
        let drop = match expect.address_mismatch {
            AddressMismatchPolicy::Drop => true,
            AddressMismatchPolicy::DropUnlessContained => !contained,
            AddressMismatchPolicy::LogOnly => false,
        };
        if drop && !advert.priority.is_owner() {
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
    /// A demultiplexer with no instances: every advert is an unknown VRID.
    pub fn new() -> Demux {
        Demux::default()
    }

    /// Adds or replaces the instance `(expect.family, expect.vrid)`, under each of its
    /// VRIDs ([`RxExpect::vrids`]).
    pub fn insert(&mut self, expect: RxExpect) -> Option<RxExpect> {
        let rolling = expect.vrids().skip(1).collect::<Vec<_>>();
        for vrid in rolling {
            self.instances.insert((expect.family, vrid), expect.clone());
        }
        self.instances.insert((expect.family, expect.vrid), expect)
    }

    /// Stops expecting anything for `(family, vrid)` (an instance's own or
    /// `rolling_from` VRID), returning what was expected there.
    pub fn remove(&mut self, family: Family, vrid: Vrid) -> Option<RxExpect> {
        self.instances.remove(&(family, vrid))
    }

    /// What the instance `(family, vrid)` expects, if there is one.
    pub fn expectation(&self, family: Family, vrid: Vrid) -> Option<&RxExpect> {
        self.instances.get(&(family, vrid))
    }

    /// Everything counted so far.
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
                reason: DropReason::Malformed(err.into()),
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
    let vrid = payload.get(1).and_then(|v| Vrid::new(*v).ok());
    let drop = |reason| Dropped {
        reason,
        vrid,
        src: Some(meta.src),
    };
    // The VRID byte is peeked before anything is trusted, only to know whether the
    // instance is unicast (no TTL rule); every other check comes after the checksum.
    let expect = vrid.and_then(|v| instances.get(&(family, v)));
    // Only a unicast identity skips the TTL rule, and only for a datagram sent to us
    // rather than to a group (an identity in a rolling change may be either, K-17).
    let unicast = !meta.dst.is_multicast() && expect.is_some_and(RxExpect::any_unicast);
    if meta.ttl != VRRP_TTL && !unicast {
        return Err(drop(DropReason::Ttl(meta.ttl)));
    }
    let received = decode_vrrp(meta, payload).map_err(|e| drop(DropReason::Malformed(e)))?;
    let expect = expect.ok_or_else(|| drop(DropReason::UnknownVrid(received.advert.vrid.get())))?;
    let notices = check(expect, &received).map_err(drop)?;
    Ok(Accepted { received, notices })
}

#[cfg(test)]
mod tests;
