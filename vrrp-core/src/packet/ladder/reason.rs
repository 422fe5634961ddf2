//! Why an advert was discarded: one named reason per receive rule.

use std::net::IpAddr;

use thiserror::Error;

use crate::packet::decode::DecodeError;
use crate::proto::{AdvertInterval, Auth};

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

    pub(super) fn from_decode(
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
