//! Advert → VRRP PDU bytes (the IP payload), for VRRPv2, VRRPv3/IPv4 and VRRPv3/IPv6.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use thiserror::Error;

use super::addresses::{is_ipv6_link_local, single_family, Ipv6FirstAddress};
use super::checksum::{vrrp_checksum, ChecksumScope};
use super::wire::{CHECKSUM_OFFSET, FIXED_HEADER_LEN, TYPE_ADVERTISEMENT, V2_AUTH_DATA_LEN};
use crate::proto::{Advert, AdvertInterval, Auth, Family, Version};

/// How a VRRPv3 advert over IPv4 is checksummed (docs/requirements.md K-11).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum V3Ipv4Checksum {
    /// With the IPv4 pseudo-header whose destination is the packet's real destination
    /// (224.0.0.18, or the peer in unicast mode): keepalived ≥ 1.3.6's default, FRR's
    /// default, the RFC 5798 reading. Checked against the v3-ucast captures.
    #[default]
    PseudoHeader,
    /// The message alone, as RFC 9568 §5.2.8 words it (Cisco, Juniper, holo;
    /// keepalived with `v3_checksum_as_v2`).
    NoPseudoHeader,
}

/// Per-instance choices of the encoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EncodeOptions {
    /// Which checksum form VRRPv3 over IPv4 adverts carry.
    pub v3_ipv4_checksum: V3Ipv4Checksum,
    /// Which address goes first in a VRRPv3/IPv6 advert.
    pub ipv6_first_address: Ipv6FirstAddress,
}

/// An advert that cannot go on the wire as asked. Each message names the bad value
/// and what VRRP allows, for the operator who configured it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EncodeError {
    /// IPv4 and IPv6 addresses in one advert.
    #[error("advert mixes address families ({first} and {other}): one VRRP instance carries either IPv4 or IPv6 addresses, configure one instance per family")]
    MixedFamilies {
        /// The first address of the list.
        first: IpAddr,
        /// The first address of the other family.
        other: IpAddr,
    },
    /// Addresses of one family sent in IP of the other.
    #[error("advert carries {addresses} addresses but is sent {src} -> {dst}: the IP header and the address list must be of the same family")]
    IpFamilyMismatch {
        /// The family of the advertised addresses.
        addresses: Family,
        /// The IP source.
        src: IpAddr,
        /// The IP destination.
        dst: IpAddr,
    },
    /// VRRPv2 over IPv6.
    #[error(
        "VRRPv2 advert over IPv6 ({src} -> {dst}): VRRPv2 carries IPv4 only, use VRRPv3 for IPv6"
    )]
    V2OverIpv6 {
        /// The IP source.
        src: IpAddr,
        /// The IP destination.
        dst: IpAddr,
    },
    /// A VRRPv2 interval that is not whole seconds 1..=255.
    #[error("advert_int {0} cannot be sent as VRRPv2: VRRPv2 carries whole seconds 1..255")]
    V2IntervalNotWholeSeconds(AdvertInterval),
    /// More than 255 addresses.
    #[error("advert carries {0} addresses: at most 255 fit in the count field")]
    TooManyAddresses(usize),
    /// A VRRPv3 advert with no address.
    #[error("VRRPv3 advert with no addresses: RFC 9568 erratum 8299 makes receivers drop a count of 0, configure at least one virtual address")]
    NoAddresses,
    /// An IPv6 list whose first address is not link-local.
    #[error("first IPv6 address of the advert is {0}, not link-local: RFC 9568 §5.2.9 requires the router's link-local address first")]
    FirstIpv6NotLinkLocal(Ipv6Addr),
    /// Authentication on a VRRPv3 advert.
    #[error(
        "VRRPv3 advert with authentication: VRRPv3 has no authentication field, remove auth_type"
    )]
    V3WithAuth,
}

/// Length of the VRRP PDU for `advert`.
pub fn encoded_len(advert: &Advert) -> usize {
    let addr_len = advert.family().addr_len();
    let auth = match advert.version {
        Version::V2 => V2_AUTH_DATA_LEN,
        Version::V3 => 0,
    };
    FIXED_HEADER_LEN + addr_len * advert.addresses.len() + auth
}

/// Encodes `advert` as it goes from `src` to `dst` (the IP header's addresses, needed
/// for the pseudo-header checksum: in unicast mode each peer gets its own bytes).
pub fn encode_advert(
    advert: &Advert,
    src: IpAddr,
    dst: IpAddr,
    options: &EncodeOptions,
) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::with_capacity(encoded_len(advert));
    encode_advert_into(advert, src, dst, options, &mut out)?;
    Ok(out)
}

/// [`encode_advert`] appending to a caller's buffer (no allocation once it is large
/// enough). On error nothing is appended.
pub fn encode_advert_into(
    advert: &Advert,
    src: IpAddr,
    dst: IpAddr,
    options: &EncodeOptions,
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    let scope = validate(advert, src, dst, options)?;
    let start = out.len();
    let count = advert.addresses.len() as u8; // validated ≤ 255
    let (byte4, byte5) = match advert.version {
        // RFC 3768 §5.3.6/§5.3.7: Auth Type, Adver Int in whole seconds.
        Version::V2 => (
            advert.auth.wire_type(),
            advert.interval.whole_secs().unwrap_or(0), // validated
        ),
        // RFC 9568 §5.2.6/§5.2.7: 4 reserved bits sent as 0, 12 bits of centiseconds.
        Version::V3 => {
            let cs = advert.interval.centis() & 0x0fff;
            ((cs >> 8) as u8, cs as u8)
        }
    };
    out.extend_from_slice(&[
        (advert.version.wire() << 4) | TYPE_ADVERTISEMENT,
        advert.vrid.get(),
        advert.priority.get(),
        count,
        byte4,
        byte5,
        0,
        0,
    ]);
    for addr in &advert.addresses {
        match addr {
            IpAddr::V4(a) => out.extend_from_slice(&a.octets()),
            IpAddr::V6(a) => out.extend_from_slice(&a.octets()),
        }
    }
    if advert.version == Version::V2 {
        // RFC 3768 §5.3.10: always present; zero unless PASS (keepalived: the password,
        // zero-padded to 8 bytes).
        match advert.auth {
            Auth::None => out.extend_from_slice(&[0; V2_AUTH_DATA_LEN]),
            Auth::Pass(bytes) => out.extend_from_slice(&bytes),
        }
    }
    let msg = &mut out[start..];
    let checksum = vrrp_checksum(scope, msg);
    msg[CHECKSUM_OFFSET..CHECKSUM_OFFSET + 2].copy_from_slice(&checksum.to_be_bytes());
    Ok(())
}

/// Checks everything that could make the bytes wrong and picks the checksum scope.
fn validate(
    advert: &Advert,
    src: IpAddr,
    dst: IpAddr,
    options: &EncodeOptions,
) -> Result<ChecksumScope, EncodeError> {
    let listed = single_family(&advert.addresses)
        .map_err(|(first, other)| EncodeError::MixedFamilies { first, other })?;
    if advert.addresses.len() > 255 {
        return Err(EncodeError::TooManyAddresses(advert.addresses.len()));
    }
    let ip: IpPair = match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => (s, d).into(),
        (IpAddr::V6(s), IpAddr::V6(d)) => (s, d).into(),
        _ => {
            return Err(EncodeError::IpFamilyMismatch {
                addresses: listed.unwrap_or(Family::of(&src)),
                src,
                dst,
            })
        }
    };
    if let Some(family) = listed {
        if family != ip.family() {
            return Err(EncodeError::IpFamilyMismatch {
                addresses: family,
                src,
                dst,
            });
        }
    }
    match (advert.version, ip) {
        (Version::V2, IpPair::V6(..)) => Err(EncodeError::V2OverIpv6 { src, dst }),
        (Version::V2, IpPair::V4(..)) => {
            if advert.interval.whole_secs().is_none() {
                return Err(EncodeError::V2IntervalNotWholeSeconds(advert.interval));
            }
            Ok(ChecksumScope::Message)
        }
        (Version::V3, ip) => {
            if advert.auth != Auth::None {
                return Err(EncodeError::V3WithAuth);
            }
            if advert.addresses.is_empty() {
                return Err(EncodeError::NoAddresses);
            }
            match ip {
                IpPair::V4(s, d) => Ok(match options.v3_ipv4_checksum {
                    V3Ipv4Checksum::PseudoHeader => ChecksumScope::Ipv4Pseudo { src: s, dst: d },
                    V3Ipv4Checksum::NoPseudoHeader => ChecksumScope::Message,
                }),
                IpPair::V6(s, d) => {
                    if let Some(IpAddr::V6(first)) = advert.addresses.first() {
                        if options.ipv6_first_address == Ipv6FirstAddress::LinkLocal
                            && !is_ipv6_link_local(first)
                        {
                            return Err(EncodeError::FirstIpv6NotLinkLocal(*first));
                        }
                    }
                    Ok(ChecksumScope::Ipv6Pseudo { src: s, dst: d })
                }
            }
        }
    }
}

#[derive(Clone, Copy)]
enum IpPair {
    V4(Ipv4Addr, Ipv4Addr),
    V6(Ipv6Addr, Ipv6Addr),
}

impl IpPair {
    fn family(self) -> Family {
        match self {
            IpPair::V4(..) => Family::V4,
            IpPair::V6(..) => Family::V6,
        }
    }
}

impl From<(Ipv4Addr, Ipv4Addr)> for IpPair {
    fn from((s, d): (Ipv4Addr, Ipv4Addr)) -> IpPair {
        IpPair::V4(s, d)
    }
}

impl From<(Ipv6Addr, Ipv6Addr)> for IpPair {
    fn from((s, d): (Ipv6Addr, Ipv6Addr)) -> IpPair {
        IpPair::V6(s, d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::test_support::{hex, ip};
    use crate::proto::{Priority, Vrid};

    fn advert(version: Version, prio: u8, interval: AdvertInterval, addrs: &[&str]) -> Advert {
        Advert {
            version,
            vrid: Vrid::new(51).unwrap(),
            priority: Priority::from_wire(prio),
            interval,
            addresses: addrs.iter().map(|a| ip(a)).collect(),
            auth: Auth::None,
        }
    }

    fn keepalived() -> EncodeOptions {
        EncodeOptions {
            ipv6_first_address: Ipv6FirstAddress::AsConfigured,
            ..EncodeOptions::default()
        }
    }

    #[test]
    fn c02_v2_header_and_eight_zero_auth_bytes_match_keepalived() {
        let a = advert(Version::V2, 150, AdvertInterval::DEFAULT, &["10.99.0.100"]);
        let bytes = encode_advert(&a, ip("10.99.0.11"), ip("224.0.0.18"), &keepalived());
        assert_eq!(
            bytes.unwrap(),
            hex("2133960100013e030a6300640000000000000000")
        );
    }

    #[test]
    fn c02_v2_pass_auth_carries_the_zero_padded_password() {
        let mut a = advert(Version::V2, 150, AdvertInterval::DEFAULT, &["10.99.0.100"]);
        a.auth = Auth::pass("s3cr3t");
        let bytes = encode_advert(&a, ip("10.99.0.11"), ip("224.0.0.18"), &keepalived());
        assert_eq!(
            bytes.unwrap(),
            hex("21339601010132e90a6300647333637233740000")
        );
    }

    #[test]
    fn c02_v3_reserved_nibble_is_zero_and_interval_is_in_centiseconds() {
        let a = advert(
            Version::V3,
            150,
            AdvertInterval::from_centis(4095).unwrap(),
            &["10.99.0.100"],
        );
        let bytes = encode_advert(&a, ip("10.99.0.11"), ip("224.0.0.18"), &keepalived()).unwrap();
        assert_eq!(
            bytes[4], 0x0f,
            "reserved nibble 0, interval high nibble 0xf"
        );
        assert_eq!(bytes[5], 0xff);
        let a = advert(
            Version::V3,
            150,
            AdvertInterval::from_centis(10).unwrap(),
            &["10.99.0.100"],
        );
        let bytes = encode_advert(&a, ip("10.99.0.11"), ip("224.0.0.18"), &keepalived());
        assert_eq!(bytes.unwrap(), hex("31339601000a42fd0a630064"));
    }

    #[test]
    fn c02_v3_ipv4_checksum_pseudo_header_uses_the_unicast_peer_as_destination() {
        let a = advert(Version::V3, 150, AdvertInterval::DEFAULT, &["10.99.0.100"]);
        let bytes = encode_advert(&a, ip("10.99.0.11"), ip("10.99.0.12"), &keepalived());
        assert_eq!(bytes.unwrap(), hex("31339601006418470a630064"));
    }

    #[test]
    fn c02_v3_ipv4_checksum_without_pseudo_header_is_the_rfc_9568_form() {
        let a = advert(
            Version::V3,
            150,
            AdvertInterval::from_centis(10).unwrap(),
            &["10.99.0.100"],
        );
        let options = EncodeOptions {
            v3_ipv4_checksum: V3Ipv4Checksum::NoPseudoHeader,
            ..keepalived()
        };
        let bytes = encode_advert(&a, ip("10.99.0.11"), ip("224.0.0.18"), &options).unwrap();
        assert_eq!(bytes, hex("31339601000a2dfa0a630064"));
        // Independent of the IP addresses.
        let other = encode_advert(&a, ip("10.1.1.1"), ip("10.2.2.2"), &options).unwrap();
        assert_eq!(other, bytes);
    }

    #[test]
    fn c02_v3_ipv6_checksum_uses_the_ipv6_pseudo_header() {
        let a = advert(
            Version::V3,
            100,
            AdvertInterval::DEFAULT,
            &["fe80::1:100", "fd00::100"],
        );
        let bytes = encode_advert(
            &a,
            ip("fe80::99:ff:fe00:c"),
            ip("ff02::12"),
            &EncodeOptions::default(),
        );
        assert_eq!(
            bytes.unwrap(),
            hex("3133640200646f10fe800000000000000000000000010100fd000000000000000000000000000100")
        );
    }

    #[test]
    fn c04_ipv6_first_address_must_be_link_local_by_default() {
        let a = advert(Version::V3, 100, AdvertInterval::DEFAULT, &["fd00::100"]);
        let err = encode_advert(
            &a,
            ip("fe80::99:ff:fe00:c"),
            ip("ff02::12"),
            &EncodeOptions::default(),
        )
        .unwrap_err();
        assert_eq!(
            err,
            EncodeError::FirstIpv6NotLinkLocal("fd00::100".parse().unwrap())
        );
        // keepalived-compatible instances send their configured list as is.
        let bytes = encode_advert(&a, ip("fe80::99:ff:fe00:c"), ip("ff02::12"), &keepalived());
        assert_eq!(
            bytes.unwrap(),
            hex("3133640100646ea3fd000000000000000000000000000100")
        );
    }

    #[test]
    fn c04_mixed_families_are_refused() {
        let a = advert(
            Version::V3,
            100,
            AdvertInterval::DEFAULT,
            &["fe80::1", "10.99.0.100"],
        );
        let err = encode_advert(&a, ip("fe80::2"), ip("ff02::12"), &keepalived()).unwrap_err();
        assert_eq!(
            err,
            EncodeError::MixedFamilies {
                first: ip("fe80::1"),
                other: ip("10.99.0.100")
            }
        );
    }

    #[test]
    fn c04_address_family_must_match_the_ip_header() {
        let a = advert(Version::V3, 100, AdvertInterval::DEFAULT, &["10.99.0.100"]);
        let err = encode_advert(&a, ip("fe80::2"), ip("ff02::12"), &keepalived()).unwrap_err();
        assert!(matches!(err, EncodeError::IpFamilyMismatch { .. }), "{err}");
        let err = encode_advert(&a, ip("10.0.0.1"), ip("ff02::12"), &keepalived()).unwrap_err();
        assert!(matches!(err, EncodeError::IpFamilyMismatch { .. }), "{err}");
    }

    #[test]
    fn v2_refuses_ipv6_sub_second_intervals_and_v3_refuses_auth_and_empty_lists() {
        let mut a = advert(Version::V2, 100, AdvertInterval::DEFAULT, &["fe80::1"]);
        assert!(matches!(
            encode_advert(&a, ip("fe80::2"), ip("ff02::12"), &keepalived()),
            Err(EncodeError::V2OverIpv6 { .. })
        ));
        a.addresses = vec![ip("10.0.0.1")];
        a.interval = AdvertInterval::from_centis(50).unwrap();
        let err = encode_advert(&a, ip("10.0.0.2"), ip("224.0.0.18"), &keepalived()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "advert_int 0.50 cannot be sent as VRRPv2: VRRPv2 carries whole seconds 1..255"
        );
        let mut a = advert(Version::V3, 100, AdvertInterval::DEFAULT, &["10.0.0.1"]);
        a.auth = Auth::pass("x");
        assert_eq!(
            encode_advert(&a, ip("10.0.0.2"), ip("224.0.0.18"), &keepalived()),
            Err(EncodeError::V3WithAuth)
        );
        a.auth = Auth::None;
        a.addresses.clear();
        assert_eq!(
            encode_advert(&a, ip("10.0.0.2"), ip("224.0.0.18"), &keepalived()),
            Err(EncodeError::NoAddresses)
        );
    }

    #[test]
    fn v2_with_no_addresses_is_allowed_as_keepalived_does() {
        let a = advert(Version::V2, 100, AdvertInterval::DEFAULT, &[]);
        let bytes = encode_advert(&a, ip("10.0.0.2"), ip("224.0.0.18"), &keepalived()).unwrap();
        assert_eq!(bytes.len(), 16);
        assert_eq!(bytes[3], 0);
    }

    #[test]
    fn encode_into_appends_and_leaves_the_buffer_alone_on_error() {
        let a = advert(Version::V3, 100, AdvertInterval::DEFAULT, &["10.0.0.1"]);
        let mut buf = vec![0xaa];
        encode_advert_into(
            &a,
            ip("10.0.0.2"),
            ip("224.0.0.18"),
            &keepalived(),
            &mut buf,
        )
        .unwrap();
        assert_eq!(buf.len(), 1 + 12);
        assert_eq!(buf[0], 0xaa);
        let bad = advert(Version::V3, 100, AdvertInterval::DEFAULT, &[]);
        assert!(encode_advert_into(
            &bad,
            ip("10.0.0.2"),
            ip("224.0.0.18"),
            &keepalived(),
            &mut buf
        )
        .is_err());
        assert_eq!(buf.len(), 13);
    }
}
