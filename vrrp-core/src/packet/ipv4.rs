//! The IPv4 header around a VRRP advert: parsing what a raw socket delivers, and
//! building keepalived's header for senders that use `IP_HDRINCL`.

use std::net::Ipv4Addr;

use thiserror::Error;

use super::checksum::internet_checksum;
use super::wire::{IPPROTO_VRRP, IPV4_TOS_NETWORK_CONTROL, VRRP_TTL};

/// Length of an IPv4 header without options.
pub const IPV4_HEADER_LEN: usize = 20;

/// Why bytes are not a usable IPv4 header around a VRRP advert. Its own type, below
/// the VRRP decoder, so this module needs nothing of `decode` (which wraps it as
/// `DecodeError::IpHeader`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("unusable IPv4 header: {0}")]
pub struct Ipv4HeaderError(pub &'static str);

/// The facts of an IPv4 header the receive ladder needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Header {
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address: the VRRP group, or ours for unicast adverts.
    pub dst: Ipv4Addr,
    /// TTL as received (RFC 9568 §7.1 wants 255).
    pub ttl: u8,
    /// Header length in bytes (IHL × 4; more than 20 when IP options are present).
    pub header_len: usize,
    /// IP total length: header plus payload, without any link-layer padding.
    pub total_len: usize,
}

/// Splits an IPv4 packet (as an IPv4 raw socket delivers it: header + payload) into
/// its header and its VRRP payload.
///
/// * IHL > 5 (IP options) is honoured: the payload starts after the options.
/// * Bytes past the IP total length (Ethernet padding of short frames, e.g. a 46-byte
///   v3 advert padded to 60) are ignored.
/// * The header checksum is not checked: the kernel drops bad IPv4 headers before any
///   raw socket sees them.
pub fn parse_ipv4(packet: &[u8]) -> Result<(Ipv4Header, &[u8]), Ipv4HeaderError> {
    let fixed = packet
        .get(..IPV4_HEADER_LEN)
        .ok_or(Ipv4HeaderError("shorter than the 20-byte IPv4 header"))?;
    if fixed[0] >> 4 != 4 {
        return Err(Ipv4HeaderError("IP version is not 4"));
    }
    let header_len = usize::from(fixed[0] & 0x0f) * 4;
    if header_len < IPV4_HEADER_LEN {
        return Err(Ipv4HeaderError("IHL below 5"));
    }
    let total_len = usize::from(u16::from_be_bytes([fixed[2], fixed[3]]));
    if total_len < header_len {
        return Err(Ipv4HeaderError("total length below the header length"));
    }
    if total_len > packet.len() {
        return Err(Ipv4HeaderError("total length beyond the received bytes"));
    }
    if fixed[9] != IPPROTO_VRRP {
        return Err(Ipv4HeaderError("protocol is not 112 (VRRP)"));
    }
    let header = Ipv4Header {
        src: Ipv4Addr::new(fixed[12], fixed[13], fixed[14], fixed[15]),
        dst: Ipv4Addr::new(fixed[16], fixed[17], fixed[18], fixed[19]),
        ttl: fixed[8],
        header_len,
        total_len,
    };
    let payload = packet.get(header_len..total_len).unwrap_or(&[]);
    Ok((header, payload))
}

/// The 20-byte IPv4 header keepalived puts before a VRRP payload (`vrrp_build_ip4`):
/// TOS 0xc0, no fragmentation flags, TTL 255, protocol 112, header checksum filled in.
/// `identification` is the sender's running counter (keepalived starts at 1).
pub fn build_ipv4_header(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    identification: u16,
    payload_len: u16,
) -> [u8; IPV4_HEADER_LEN] {
    let total = payload_len.saturating_add(IPV4_HEADER_LEN as u16);
    let mut h = [0u8; IPV4_HEADER_LEN];
    h[0] = 0x45;
    h[1] = IPV4_TOS_NETWORK_CONTROL;
    h[2..4].copy_from_slice(&total.to_be_bytes());
    h[4..6].copy_from_slice(&identification.to_be_bytes());
    h[8] = VRRP_TTL;
    h[9] = IPPROTO_VRRP;
    h[12..16].copy_from_slice(&src.octets());
    h[16..20].copy_from_slice(&dst.octets());
    let checksum = internet_checksum(&h);
    h[10..12].copy_from_slice(&checksum.to_be_bytes());
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::test_support::hex;

    #[test]
    fn header_builder_matches_keepalived_byte_for_byte() {
        // v2-mcast-auth-adverts.hex.txt packet 1, IP header.
        let h = build_ipv4_header(
            Ipv4Addr::new(10, 99, 0, 11),
            Ipv4Addr::new(224, 0, 0, 18),
            1,
            20,
        );
        assert_eq!(h.to_vec(), hex("45c0002800010000ff70d0240a63000be0000012"));
    }

    #[test]
    fn c12_ip_options_are_skipped() {
        // IHL 6: one 4-byte option (NOP NOP NOP EOL) before the payload.
        let mut p = hex("46c0002800010000ff7000000a63000be000001201010100");
        p.extend_from_slice(&[0xaa; 16]);
        let (h, payload) = parse_ipv4(&p).unwrap();
        assert_eq!(h.header_len, 24);
        assert_eq!(payload, &[0xaa; 16][..]);
    }

    #[test]
    fn c12_ethernet_padding_after_total_length_is_ignored() {
        let mut p = hex("45c0002000010000ff7000000a63000be0000012");
        p.extend_from_slice(&[0xbb; 12]);
        p.extend_from_slice(&[0; 14]); // padding to a 60-byte frame
        let (h, payload) = parse_ipv4(&p).unwrap();
        assert_eq!(h.total_len, 32);
        assert_eq!(payload, &[0xbb; 12][..]);
    }

    #[test]
    fn malformed_headers_are_refused_with_a_reason() {
        let ok = hex("45c0001800010000ff7000000a63000be000001200000000");
        assert!(parse_ipv4(&ok).is_ok());
        let cases: [(&[u8], &str); 5] = [
            (&ok[..19], "shorter than the 20-byte IPv4 header"),
            (&[&[0x65][..], &ok[1..]].concat(), "IP version is not 4"),
            (&[&[0x44][..], &ok[1..]].concat(), "IHL below 5"),
            (&ok[..23], "total length beyond the received bytes"),
            (
                &[&ok[..9], &[6][..], &ok[10..]].concat(),
                "protocol is not 112 (VRRP)",
            ),
        ];
        for (bytes, why) in cases {
            assert_eq!(parse_ipv4(bytes), Err(Ipv4HeaderError(why)));
        }
        let short_total = [&ok[..2], &[0, 19][..], &ok[4..]].concat();
        assert_eq!(
            parse_ipv4(&short_total),
            Err(Ipv4HeaderError("total length below the header length"))
        );
    }
}
