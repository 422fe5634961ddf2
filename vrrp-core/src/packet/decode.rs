//! VRRP PDU bytes → [`Received`]: structure, checksum and the version-level MUSTs
//! that do not depend on local configuration (RFC 3768 §7.1, RFC 9568 §7.1 + errata
//! 8299 / 8301). Configuration-dependent checks live in the receive ladder.
//!
//! Never panics and never allocates more than the packet justifies: the address
//! count is one byte (≤ 255) and is checked against the packet length before the
//! address list is allocated.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use thiserror::Error;

use super::checksum::{vrrp_checksum_verifies, ChecksumScope};
use super::ipv4::{parse_ipv4, Ipv4HeaderError};
use super::wire::{FIXED_HEADER_LEN, MCAST_GROUP_V4, TYPE_ADVERTISEMENT, V2_AUTH_DATA_LEN};
use crate::proto::{Advert, AdvertInterval, Auth, Family, Priority, Version, Vrid};

/// What the IP layer says about a received advert. IPv4 raw sockets deliver it in the
/// packet; IPv6 raw sockets deliver only the payload, the hop limit comes from
/// `IPV6_RECVHOPLIMIT` and the destination from `IPV6_RECVPKTINFO` ancillary data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpMeta {
    /// IP source: the sending router's primary address or IPv6 link-local.
    pub src: IpAddr,
    /// IP destination: the VRRP group, or ours for unicast adverts.
    pub dst: IpAddr,
    /// TTL (IPv4) or Hop Limit (IPv6).
    pub ttl: u8,
}

/// Which checksum form a received advert used, so the daemon can count it per peer
/// (docs/requirements.md K-11: transmit one form, accept all, know who speaks which).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChecksumForm {
    /// VRRPv2: the message alone.
    V2Message,
    /// VRRPv3 with the pseudo-header on the packet's real destination: keepalived ≥
    /// 1.3.6 / FRR over IPv4, every implementation over IPv6.
    PseudoHeader,
    /// VRRPv3/IPv4 unicast whose pseudo-header names 224.0.0.18 instead of the real
    /// destination: keepalived < 1.3.6 (keepalived's `old_unicast_checksum` form).
    PseudoHeaderMulticastGroup,
    /// VRRPv3/IPv4 without pseudo-header: RFC 9568 §5.2.8, Cisco, Juniper, holo.
    NoPseudoHeader,
}

/// A structurally valid advert with its IP facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// IP source of the advert.
    pub src: IpAddr,
    /// IP destination of the advert.
    pub dst: IpAddr,
    /// TTL (IPv4) or Hop Limit (IPv6) as received.
    pub ttl: u8,
    /// The decoded advertisement.
    pub advert: Advert,
    /// Which checksum form verified.
    pub checksum_form: ChecksumForm,
}

impl Received {
    /// Address family of the packet (of its source; decoding refused mixed ones).
    pub fn family(&self) -> Family {
        Family::of(&self.src)
    }
}

/// Why bytes are not a usable VRRP advert, whatever the local configuration. Every
/// variant is a receive-ladder drop, nested whole in
/// [`DropReason::Malformed`](super::DropReason::Malformed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// The IPv4 header around the advert is unusable (see [`Ipv4HeaderError`]).
    #[error("unusable IPv4 header: {0}")]
    IpHeader(&'static str),
    /// IP source and destination of different families: not a packet a socket gives.
    #[error("IP source and destination are of different families")]
    IpFamilyMismatch,
    /// Version nibble other than 2 or 3.
    #[error("VRRP version {0}: only 2 and 3 exist")]
    Version(u8),
    /// VRRPv2 is IPv4 only (RFC 3768 §5.3.1).
    #[error("VRRPv2 over IPv6: VRRPv2 is IPv4 only")]
    V2OverIpv6,
    /// Type nibble other than ADVERTISEMENT (RFC 9568 §5.2.2).
    #[error("VRRP type {0}: only 1 (ADVERTISEMENT) exists")]
    Type(u8),
    /// Shorter than the fixed header, or than the address count implies.
    #[error("truncated VRRP packet: {len} bytes, {needed} needed")]
    Truncated {
        /// Bytes received.
        len: usize,
        /// Bytes the header and address count need.
        needed: usize,
    },
    /// Longer than the address count implies (RFC 9568 §7.1: the length must match).
    #[error("VRRP packet of {len} bytes, its address count implies {expected}")]
    TrailingBytes {
        /// Bytes received.
        len: usize,
        /// Bytes the header and address count imply.
        expected: usize,
    },
    /// No checksum form verifies; carries the checksum field as received.
    #[error("bad VRRP checksum {0:#06x}")]
    Checksum(u16),
    /// VRRPv2 auth type other than 0 (none) or 1 (PASS): type 2 (IP AH) is obsolete.
    #[error("VRRPv2 auth type {0} is not supported (0 none, 1 PASS)")]
    AuthType(u8),
    /// Advertisement interval 0 (RFC 9568 erratum 8301).
    #[error("advertisement interval 0 (RFC 9568 erratum 8301)")]
    IntervalZero,
    /// VRRPv3 address count 0 (RFC 9568 erratum 8299).
    #[error("VRRPv3 address count 0 (RFC 9568 erratum 8299)")]
    CountZero,
    /// VRID 0: VRIDs are 1..255 (RFC 9568 §5.2.3).
    #[error("VRID 0: VRIDs are 1..255")]
    VridZero,
}

impl From<Ipv4HeaderError> for DecodeError {
    fn from(err: Ipv4HeaderError) -> DecodeError {
        DecodeError::IpHeader(err.0)
    }
}

/// Decodes what an IPv4 raw socket delivers: IPv4 header (options allowed) + VRRP,
/// possibly followed by link-layer padding.
pub fn decode_ipv4_packet(packet: &[u8]) -> Result<Received, DecodeError> {
    let (header, payload) = parse_ipv4(packet)?;
    let meta = IpMeta {
        src: IpAddr::V4(header.src),
        dst: IpAddr::V4(header.dst),
        ttl: header.ttl,
    };
    decode_vrrp(meta, payload)
}

/// Decodes a VRRP payload whose IP facts come separately (the IPv6 path, or an
/// already parsed IPv4 header). `payload` is exactly the IP payload.
pub fn decode_vrrp(meta: IpMeta, payload: &[u8]) -> Result<Received, DecodeError> {
    let family = match (meta.src, meta.dst) {
        (IpAddr::V4(_), IpAddr::V4(_)) => Family::V4,
        (IpAddr::V6(_), IpAddr::V6(_)) => Family::V6,
        _ => return Err(DecodeError::IpFamilyMismatch),
    };
    let truncated = |needed| DecodeError::Truncated {
        len: payload.len(),
        needed,
    };
    let first = *payload.first().ok_or(truncated(FIXED_HEADER_LEN))?;
    let version = match first >> 4 {
        2 if family == Family::V6 => return Err(DecodeError::V2OverIpv6),
        2 => Version::V2,
        3 => Version::V3,
        other => return Err(DecodeError::Version(other)),
    };
    if first & 0x0f != TYPE_ADVERTISEMENT {
        return Err(DecodeError::Type(first & 0x0f));
    }
    let header: [u8; FIXED_HEADER_LEN] = payload
        .get(..FIXED_HEADER_LEN)
        .and_then(|h| h.try_into().ok())
        .ok_or(truncated(FIXED_HEADER_LEN))?;
    let count = usize::from(header[3]);
    let auth_len = match version {
        Version::V2 => V2_AUTH_DATA_LEN,
        Version::V3 => 0,
    };
    let expected = FIXED_HEADER_LEN + count * family.addr_len() + auth_len;
    if payload.len() < expected {
        return Err(truncated(expected));
    }
    if payload.len() > expected {
        return Err(DecodeError::TrailingBytes {
            len: payload.len(),
            expected,
        });
    }
    let checksum_form = verify_checksum(version, meta, payload).ok_or(DecodeError::Checksum(
        u16::from_be_bytes([header[6], header[7]]),
    ))?;

    let (interval, auth) = match version {
        Version::V2 => {
            let auth = match header[4] {
                0 => Auth::None,
                1 => {
                    let mut pass = [0u8; V2_AUTH_DATA_LEN];
                    pass.copy_from_slice(&payload[expected - V2_AUTH_DATA_LEN..]);
                    Auth::Pass(pass)
                }
                other => return Err(DecodeError::AuthType(other)),
            };
            let interval =
                AdvertInterval::from_secs(header[5]).map_err(|_| DecodeError::IntervalZero)?;
            (interval, auth)
        }
        Version::V3 => {
            // The high nibble of byte 4 is reserved: ignored on receive (C-12).
            let centis = u16::from_be_bytes([header[4] & 0x0f, header[5]]);
            let interval =
                AdvertInterval::from_centis(centis).map_err(|_| DecodeError::IntervalZero)?;
            if count == 0 {
                return Err(DecodeError::CountZero);
            }
            (interval, Auth::None)
        }
    };
    let vrid = Vrid::new(header[1]).map_err(|_| DecodeError::VridZero)?;
    let addresses = read_addresses(family, &payload[FIXED_HEADER_LEN..], count);
    Ok(Received {
        src: meta.src,
        dst: meta.dst,
        ttl: meta.ttl,
        advert: Advert {
            version,
            vrid,
            priority: Priority::from_wire(header[2]),
            interval,
            addresses,
            auth,
        },
        checksum_form,
    })
}

/// The first checksum form that verifies, trying the one we send first.
fn verify_checksum(version: Version, meta: IpMeta, msg: &[u8]) -> Option<ChecksumForm> {
    let verifies = |scope| vrrp_checksum_verifies(scope, msg);
    match (version, meta.src, meta.dst) {
        (Version::V2, ..) => verifies(ChecksumScope::Message).then_some(ChecksumForm::V2Message),
        (Version::V3, IpAddr::V6(src), IpAddr::V6(dst)) => {
            verifies(ChecksumScope::Ipv6Pseudo { src, dst }).then_some(ChecksumForm::PseudoHeader)
        }
        (Version::V3, IpAddr::V4(src), IpAddr::V4(dst)) => [
            (
                ChecksumForm::PseudoHeader,
                ChecksumScope::Ipv4Pseudo { src, dst },
            ),
            (ChecksumForm::NoPseudoHeader, ChecksumScope::Message),
            (
                ChecksumForm::PseudoHeaderMulticastGroup,
                ChecksumScope::Ipv4Pseudo {
                    src,
                    dst: MCAST_GROUP_V4,
                },
            ),
        ]
        .into_iter()
        .find(|(_, scope)| verifies(*scope))
        .map(|(form, _)| form),
        _ => None,
    }
}

/// `count` addresses of `family` from `bytes` (length already checked).
fn read_addresses(family: Family, bytes: &[u8], count: usize) -> Vec<IpAddr> {
    let len = family.addr_len();
    bytes
        .chunks_exact(len)
        .take(count)
        .map(|chunk| match family {
            Family::V4 => {
                let mut o = [0u8; 4];
                o.copy_from_slice(chunk);
                IpAddr::V4(Ipv4Addr::from(o))
            }
            Family::V6 => {
                let mut o = [0u8; 16];
                o.copy_from_slice(chunk);
                IpAddr::V6(Ipv6Addr::from(o))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::checksum::vrrp_checksum;
    use crate::packet::test_support::{hex, ip};

    fn meta(src: &str, dst: &str) -> IpMeta {
        IpMeta {
            src: ip(src),
            dst: ip(dst),
            ttl: 255,
        }
    }

    fn reseal_v2(msg: &mut [u8]) {
        let c = vrrp_checksum(ChecksumScope::Message, msg);
        msg[6..8].copy_from_slice(&c.to_be_bytes());
    }

    #[test]
    fn decodes_keepalived_v3_ipv6_list_in_wire_order() {
        let pdu =
            hex("3133960200643d11fe800000000000000000000000010100fd000000000000000000000000000100");
        let r = decode_vrrp(meta("fe80::99:ff:fe00:b", "ff02::12"), &pdu).unwrap();
        assert_eq!(r.advert.addresses, vec![ip("fe80::1:100"), ip("fd00::100")]);
        assert_eq!(r.advert.priority.get(), 150);
        assert_eq!(r.advert.interval, AdvertInterval::DEFAULT);
        assert_eq!(r.family(), Family::V6);
    }

    #[test]
    fn v2_auth_data_is_ignored_when_auth_type_is_none() {
        // RFC 3768 §5.3.10: SHOULD be zero on send, ignored on receive when type 0.
        let mut pdu = hex("2133960100013e030a6300641122334455667788");
        reseal_v2(&mut pdu);
        let r = decode_vrrp(meta("10.99.0.11", "224.0.0.18"), &pdu).unwrap();
        assert_eq!(r.advert.auth, Auth::None);
    }

    #[test]
    fn v2_pass_is_the_eight_auth_bytes() {
        let pdu = hex("21339601010132e90a6300647333637233740000");
        let r = decode_vrrp(meta("10.99.0.11", "224.0.0.18"), &pdu).unwrap();
        assert_eq!(r.advert.auth, Auth::pass("s3cr3t"));
    }

    #[test]
    fn structural_errors_are_named() {
        let m = meta("10.99.0.11", "224.0.0.18");
        assert_eq!(
            decode_vrrp(m, &[]),
            Err(DecodeError::Truncated { len: 0, needed: 8 })
        );
        assert_eq!(
            decode_vrrp(meta("10.99.0.11", "ff02::12"), &[0x31]),
            Err(DecodeError::IpFamilyMismatch)
        );
        let mut vrid0 = hex("2100960100013e030a6300640000000000000000");
        reseal_v2(&mut vrid0);
        assert_eq!(decode_vrrp(m, &vrid0), Err(DecodeError::VridZero));
        let mut ah = hex("2133960102013e030a6300640000000000000000");
        reseal_v2(&mut ah);
        assert_eq!(decode_vrrp(m, &ah), Err(DecodeError::AuthType(2)));
    }

    #[test]
    fn ipv4_packet_decode_carries_the_ip_facts() {
        let packet =
            hex("45c0002800010000ff70d0240a63000be000001221339601010132e90a6300647333637233740000");
        let r = decode_ipv4_packet(&packet).unwrap();
        assert_eq!(
            (r.src, r.dst, r.ttl),
            (ip("10.99.0.11"), ip("224.0.0.18"), 255)
        );
        assert_eq!(r.checksum_form, ChecksumForm::V2Message);
    }
}
