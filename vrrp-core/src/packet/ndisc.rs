//! Unsolicited IPv6 Neighbour Advertisement, as keepalived sends it on becoming MASTER
//! (RFC 4861 §7.2.6, docs/requirements.md C-30).

use std::net::Ipv6Addr;

use super::checksum::icmpv6_checksum;
use super::wire::{ETHERNET_HEADER_LEN, ETHERTYPE_IPV6, IPPROTO_ICMPV6};
use crate::proto::MacAddr;

const IPV6_HEADER_LEN: usize = 40;
/// ICMPv6 NA (24 bytes) + Target Link-Layer Address option (8 bytes).
const NA_LEN: usize = 32;
/// Ethernet + IPv6 + NA + TLLA option.
pub const NA_FRAME_LEN: usize = ETHERNET_HEADER_LEN + IPV6_HEADER_LEN + NA_LEN;

const ICMPV6_NEIGHBOR_ADVERT: u8 = 136;
const ND_OPT_TARGET_LINK_ADDR: u8 = 2;
const NA_FLAG_ROUTER: u8 = 0x80;
const NA_FLAG_OVERRIDE: u8 = 0x20;
/// RFC 4861 §7.1.2: ND messages are sent, and accepted, only with hop limit 255.
const ND_HOP_LIMIT: u8 = 255;
/// ff02::1, all nodes, and its Ethernet mapping 33:33:00:00:00:01 (RFC 2464 §7).
const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
const ALL_NODES_MAC: MacAddr = MacAddr([0x33, 0x33, 0, 0, 0, 1]);

/// The unsolicited NA frame announcing `vip` at `mac`, to ff02::1.
///
/// Matches keepalived byte for byte (`v3-ipv6-garp.hex.txt`): IPv6 source = the VIP
/// itself, hop limit 255, S=0, O=1, target = VIP, TLLA option = `mac`. The R flag is
/// `router`: keepalived sets it from the interface's `net.ipv6.conf.IF.forwarding`
/// (`get_ipv6_forwarding`), so on ordinary hosts — and in the captures — R=0, whereas
/// the reference's RFC-derived text says R=1. A host that does not forward must not
/// claim to be a router (RFC 4861 §7.2.4: R is set for routers), so following the
/// interface, as keepalived does, is both interoperable and correct; the net layer
/// passes the sysctl value.
pub fn unsolicited_na(mac: MacAddr, vip: Ipv6Addr, router: bool) -> [u8; NA_FRAME_LEN] {
    let mut f = [0u8; NA_FRAME_LEN];
    f[0..6].copy_from_slice(&ALL_NODES_MAC.octets());
    f[6..12].copy_from_slice(&mac.octets());
    f[12..14].copy_from_slice(&ETHERTYPE_IPV6.to_be_bytes());

    let ip = &mut f[ETHERNET_HEADER_LEN..ETHERNET_HEADER_LEN + IPV6_HEADER_LEN];
    ip[0] = 0x60; // version 6, traffic class 0, flow label 0
    ip[4..6].copy_from_slice(&(NA_LEN as u16).to_be_bytes());
    ip[6] = IPPROTO_ICMPV6;
    ip[7] = ND_HOP_LIMIT;
    ip[8..24].copy_from_slice(&vip.octets());
    ip[24..40].copy_from_slice(&ALL_NODES.octets());

    let na = &mut f[ETHERNET_HEADER_LEN + IPV6_HEADER_LEN..];
    na[0] = ICMPV6_NEIGHBOR_ADVERT;
    na[4] = NA_FLAG_OVERRIDE | if router { NA_FLAG_ROUTER } else { 0 };
    na[8..24].copy_from_slice(&vip.octets());
    na[24] = ND_OPT_TARGET_LINK_ADDR;
    na[25] = 1; // option length in units of 8 bytes
    na[26..32].copy_from_slice(&mac.octets());
    let checksum = icmpv6_checksum(vip, ALL_NODES, na);
    na[2..4].copy_from_slice(&checksum.to_be_bytes());
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::test_support::hex;

    const H2: MacAddr = MacAddr([0x02, 0x99, 0, 0, 0, 0x0c]);

    #[test]
    fn c30_unsolicited_na_matches_keepalived_byte_for_byte() {
        // v3-ipv6-garp.hex.txt packet 1.
        let frame = unsolicited_na(H2, "fd00::100".parse().unwrap(), false);
        assert_eq!(
            frame.to_vec(),
            hex("33330000000102990000000c86dd6000000000203afffd000000000000000000000000000100ff020000000000000000000000000001880057f920000000fd000000000000000000000000000100020102990000000c")
        );
    }

    #[test]
    fn c30_router_flag_follows_the_interface_and_keeps_the_checksum_valid() {
        let frame = unsolicited_na(H2, "fd00::100".parse().unwrap(), true);
        let na = &frame[ETHERNET_HEADER_LEN + IPV6_HEADER_LEN..];
        assert_eq!(na[4], 0xa0, "R=1 S=0 O=1");
        // Re-summing including the checksum field gives zero.
        let mut zeroed = na.to_vec();
        zeroed[2..4].copy_from_slice(&[0, 0]);
        let expect = icmpv6_checksum("fd00::100".parse().unwrap(), ALL_NODES, &zeroed);
        assert_eq!(u16::from_be_bytes([na[2], na[3]]), expect);
        assert_eq!(expect, 0xd7f8);
    }
}
