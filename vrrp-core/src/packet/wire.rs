//! Wire constants of VRRP (RFC 3768 §5, RFC 9568 §5) and the frames around it: the
//! one home of these numbers for the codec and the engine's sockets alike, so the
//! frame a builder writes and the socket that sends it cannot disagree.

use std::net::{Ipv4Addr, Ipv6Addr};

/// IP protocol / IPv6 Next Header number of VRRP.
pub const IPPROTO_VRRP: u8 = 112;
/// Next Header number of ICMPv6 (neighbour advertisements).
pub const IPPROTO_ICMPV6: u8 = 58;
/// TTL / Hop Limit every advert is sent with and every receiver insists on (GTSM).
pub const VRRP_TTL: u8 = 255;
/// The IPv4 VRRP multicast group (RFC 9568 §5.1.1.2).
pub const MCAST_GROUP_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// The IPv6 VRRP multicast group (RFC 9568 §5.1.2.2).
pub const MCAST_GROUP_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);
/// Type nibble of an ADVERTISEMENT, the only VRRP packet type.
pub const TYPE_ADVERTISEMENT: u8 = 1;
/// Version, type, VRID, priority, count, auth type / interval, checksum.
pub const FIXED_HEADER_LEN: usize = 8;
/// VRRPv2's Authentication Data, always present (RFC 3768 §5.3.10).
pub const V2_AUTH_DATA_LEN: usize = 8;
/// Where the 16-bit checksum sits in the VRRP header.
pub const CHECKSUM_OFFSET: usize = 6;
/// keepalived sends its IPv4 adverts with IP precedence 6 / DSCP CS6 (vrrp.c).
pub const IPV4_TOS_NETWORK_CONTROL: u8 = 0xc0;
/// Ethernet header length: destination, source, EtherType (no VLAN tag).
pub const ETHERNET_HEADER_LEN: usize = 14;
/// EtherType of IPv4 (also ARP's protocol type for IPv4 addresses, RFC 826).
pub const ETHERTYPE_IPV4: u16 = 0x0800;
/// EtherType of ARP (RFC 826): gratuitous ARP of a new MASTER (RFC 9568 §6.4.2).
pub const ETHERTYPE_ARP: u16 = 0x0806;
/// EtherType of IPv6: unsolicited neighbour advertisements (RFC 9568 §6.4.2).
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
