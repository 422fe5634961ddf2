//! Gratuitous ARP, as keepalived sends it on becoming MASTER (docs/requirements.md C-30).

use std::net::Ipv4Addr;

use super::wire::{ETHERNET_HEADER_LEN, ETHERTYPE_ARP, ETHERTYPE_IPV4};
use crate::proto::MacAddr;

/// Ethernet header + 28-byte ARP packet. keepalived sends exactly this on a packet
/// socket, without padding to the 60-byte Ethernet minimum (the NIC pads on the
/// wire; captures on veth show 42 bytes).
pub const GARP_FRAME_LEN: usize = ETHERNET_HEADER_LEN + 28;

const ARP_HTYPE_ETHERNET: u16 = 1;
const ARP_OP_REQUEST: u16 = 1;

/// The gratuitous ARP frame announcing `vip` at `mac` (the interface MAC, or the
/// virtual MAC in vMAC mode).
///
/// keepalived's form (captures `*-garp.hex.txt`): an ARP *request* (op 1) to the
/// Ethernet broadcast, SHA = `mac`, SPA = TPA = `vip` (errata 7947/7949), THA =
/// ff:ff:ff:ff:ff:ff. Linux treats a request with SPA == TPA as gratuitous and
/// updates an existing neighbour entry with it.
pub fn gratuitous_arp(mac: MacAddr, vip: Ipv4Addr) -> [u8; GARP_FRAME_LEN] {
    let mut f = [0u8; GARP_FRAME_LEN];
    f[0..6].copy_from_slice(&MacAddr::BROADCAST.octets());
    f[6..12].copy_from_slice(&mac.octets());
    f[12..14].copy_from_slice(&ETHERTYPE_ARP.to_be_bytes());
    let arp = &mut f[ETHERNET_HEADER_LEN..];
    arp[0..2].copy_from_slice(&ARP_HTYPE_ETHERNET.to_be_bytes());
    arp[2..4].copy_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
    arp[4] = 6; // hardware address length
    arp[5] = 4; // protocol address length
    arp[6..8].copy_from_slice(&ARP_OP_REQUEST.to_be_bytes());
    arp[8..14].copy_from_slice(&mac.octets());
    arp[14..18].copy_from_slice(&vip.octets());
    arp[18..24].copy_from_slice(&MacAddr::BROADCAST.octets());
    arp[24..28].copy_from_slice(&vip.octets());
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::test_support::hex;

    #[test]
    fn c30_garp_matches_keepalived_byte_for_byte() {
        // v2-mcast-auth-garp.hex.txt packet 1 (h2, 02:99:00:00:00:0c).
        let frame = gratuitous_arp(
            MacAddr([0x02, 0x99, 0, 0, 0, 0x0c]),
            Ipv4Addr::new(10, 99, 0, 100),
        );
        assert_eq!(
            frame.to_vec(),
            hex("ffffffffffff02990000000c0806000108000604000102990000000c0a630064ffffffffffff0a630064")
        );
    }
}
