//! The Internet checksum (RFC 1071) and the scopes VRRP computes it over.
//!
//! VRRP has three real-world checksum variants (docs/requirements.md K-11), which differ only in
//! what is summed before the message: nothing (VRRPv2, and VRRPv3/IPv4 as RFC 9568
//! §5.2.8 words it), or an IPv4 / IPv6 pseudo-header (RFC 5798 reading, keepalived's
//! default; always for IPv6, RFC 8200 §8.1).

use std::net::{Ipv4Addr, Ipv6Addr};

use super::wire::{CHECKSUM_OFFSET, IPPROTO_VRRP};

/// A running one's-complement sum of 16-bit big-endian words.
///
/// Only the last chunk added may have an odd length (it is padded with a zero byte,
/// as RFC 1071 says); every chunk VRRP, ARP and ND sum before the last is even.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Sum(u64);

impl Sum {
    pub(crate) fn add(self, bytes: &[u8]) -> Sum {
        let mut acc = self.0;
        let mut words = bytes.chunks_exact(2);
        for w in &mut words {
            acc += u64::from(u16::from_be_bytes([w[0], w[1]]));
        }
        if let [last] = words.remainder() {
            acc += u64::from(*last) << 8;
        }
        Sum(acc)
    }

    pub(crate) fn add_u16(self, value: u16) -> Sum {
        Sum(self.0 + u64::from(value))
    }

    pub(crate) fn add_u32(self, value: u32) -> Sum {
        self.add_u16((value >> 16) as u16).add_u16(value as u16)
    }

    /// The folded 16-bit one's-complement sum (not yet complemented).
    pub(crate) fn fold(self) -> u16 {
        let mut acc = self.0;
        while acc > 0xffff {
            acc = (acc & 0xffff) + (acc >> 16);
        }
        acc as u16
    }

    /// The value to write into a checksum field.
    pub(crate) fn checksum(self) -> u16 {
        !self.fold()
    }
}

/// The Internet checksum of `bytes` (e.g. an IPv4 header with its checksum field zero).
pub fn internet_checksum(bytes: &[u8]) -> u16 {
    Sum::default().add(bytes).checksum()
}

/// What a VRRP checksum covers besides the VRRP message itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChecksumScope {
    /// The message alone: VRRPv2 (RFC 3768 §5.3.8), and VRRPv3 over IPv4 as RFC 9568
    /// §5.2.8 words it (Cisco, Juniper, holo, keepalived `v3_checksum_as_v2`).
    Message,
    /// IPv4 pseudo-header (src, dst, zero, protocol 112, VRRP length) then the message:
    /// the RFC 5798 reading, keepalived's and FRR's default for VRRPv3 over IPv4.
    Ipv4Pseudo {
        /// The IP source address.
        src: Ipv4Addr,
        /// The IP destination address.
        dst: Ipv4Addr,
    },
    /// IPv6 pseudo-header (RFC 8200 §8.1, Next Header 112): the only VRRPv3/IPv6 form.
    Ipv6Pseudo {
        /// The IP source address.
        src: Ipv6Addr,
        /// The IP destination address.
        dst: Ipv6Addr,
    },
}

impl ChecksumScope {
    fn start(self, len: usize, protocol: u8) -> Sum {
        // Messages we sum are bounded by the decoder's length checks (≤ 4104 bytes);
        // a length past u32 would only make the checksum fail, never panic.
        let len = u32::try_from(len).unwrap_or(u32::MAX);
        match self {
            ChecksumScope::Message => Sum::default(),
            ChecksumScope::Ipv4Pseudo { src, dst } => Sum::default()
                .add(&src.octets())
                .add(&dst.octets())
                .add_u16(u16::from(protocol))
                .add_u32(len),
            ChecksumScope::Ipv6Pseudo { src, dst } => Sum::default()
                .add(&src.octets())
                .add(&dst.octets())
                .add_u32(len)
                .add_u16(u16::from(protocol)),
        }
    }
}

/// The checksum to write into a VRRP message; the message's own checksum field
/// (bytes 6..8) is treated as zero whatever it holds.
pub fn vrrp_checksum(scope: ChecksumScope, msg: &[u8]) -> u16 {
    let head = msg.get(..CHECKSUM_OFFSET).unwrap_or(msg);
    let tail = msg.get(CHECKSUM_OFFSET + 2..).unwrap_or(&[]);
    scope
        .start(msg.len(), IPPROTO_VRRP)
        .add(head)
        .add(tail)
        .checksum()
}

/// True when the checksum field of `msg` is right for `scope`.
///
/// Sums everything including the checksum field and expects all ones (RFC 1071 §1),
/// so both encodings of zero (0x0000 and 0xffff) a sender may use are accepted.
pub fn vrrp_checksum_verifies(scope: ChecksumScope, msg: &[u8]) -> bool {
    scope.start(msg.len(), IPPROTO_VRRP).add(msg).fold() == 0xffff
}

/// ICMPv6 checksum (RFC 4443 §2.3) of `msg` with its checksum field (bytes 2..4) zero.
pub(crate) fn icmpv6_checksum(src: Ipv6Addr, dst: Ipv6Addr, msg: &[u8]) -> u16 {
    ChecksumScope::Ipv6Pseudo { src, dst }
        .start(msg.len(), super::wire::IPPROTO_ICMPV6)
        .add(msg)
        .checksum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn rfc1071_example_sums_to_the_published_value() {
        // RFC 1071 §3 example: 00 01 f2 03 f4 f5 f6 f7 sums to 0xddf2.
        let sum = Sum::default().add(&hex("0001f203f4f5f6f7")).fold();
        assert_eq!(sum, 0xddf2);
        assert_eq!(internet_checksum(&hex("0001f203f4f5f6f7")), !0xddf2);
    }

    #[test]
    fn odd_length_is_padded_with_a_zero_byte() {
        assert_eq!(internet_checksum(&[0x12]), !0x1200);
    }

    #[test]
    fn c02_checksum_v2_message_only_matches_keepalived() {
        // v2-mcast-auth-adverts.hex.txt packet 1.
        let msg = hex("21339601010132e90a6300647333637233740000");
        assert_eq!(vrrp_checksum(ChecksumScope::Message, &msg), 0x32e9);
        assert!(vrrp_checksum_verifies(ChecksumScope::Message, &msg));
    }

    #[test]
    fn c02_checksum_v3_ipv4_pseudo_header_uses_the_real_destination() {
        let msg = hex("31339601000a42fd0a630064"); // v3-mcast, 10.99.0.11 -> 224.0.0.18
        let mcast = ChecksumScope::Ipv4Pseudo {
            src: Ipv4Addr::new(10, 99, 0, 11),
            dst: Ipv4Addr::new(224, 0, 0, 18),
        };
        assert_eq!(vrrp_checksum(mcast, &msg), 0x42fd);
        let msg = hex("31339601006418470a630064"); // v3-ucast, 10.99.0.11 -> 10.99.0.12
        let ucast = ChecksumScope::Ipv4Pseudo {
            src: Ipv4Addr::new(10, 99, 0, 11),
            dst: Ipv4Addr::new(10, 99, 0, 12),
        };
        assert_eq!(vrrp_checksum(ucast, &msg), 0x1847);
        assert!(!vrrp_checksum_verifies(ChecksumScope::Message, &msg));
    }

    #[test]
    fn c02_checksum_v3_ipv4_without_pseudo_header_is_message_only() {
        let msg = hex("31339601000a00000a630064");
        // Same sum as a v2-style message checksum: the RFC 9568 §5.2.8 form.
        assert_eq!(vrrp_checksum(ChecksumScope::Message, &msg), 0x2dfa);
    }

    #[test]
    fn c02_checksum_v3_ipv6_pseudo_header_matches_keepalived() {
        // v3-ipv6-adverts: fe80::99:ff:fe00:c -> ff02::12
        let msg = hex("3133640100646ea3fd000000000000000000000000000100");
        let scope = ChecksumScope::Ipv6Pseudo {
            src: "fe80::99:ff:fe00:c".parse().unwrap(),
            dst: "ff02::12".parse().unwrap(),
        };
        assert_eq!(vrrp_checksum(scope, &msg), 0x6ea3);
        assert!(vrrp_checksum_verifies(scope, &msg));
    }

    #[test]
    fn both_encodings_of_a_zero_checksum_verify() {
        // Choose the last word so the message sums to all ones: its checksum is 0,
        // which a sender may equally write as 0xffff (one's-complement -0).
        let mut msg = hex("21339601010100000a630000");
        let partial = Sum::default().add(&msg).fold();
        msg[10..12].copy_from_slice(&(!partial).to_be_bytes());
        assert_eq!(vrrp_checksum(ChecksumScope::Message, &msg), 0);
        assert!(vrrp_checksum_verifies(ChecksumScope::Message, &msg));
        msg[6..8].copy_from_slice(&[0xff, 0xff]);
        assert!(vrrp_checksum_verifies(ChecksumScope::Message, &msg));
        msg[6..8].copy_from_slice(&[0xff, 0xfe]);
        assert!(!vrrp_checksum_verifies(ChecksumScope::Message, &msg));
    }
}
