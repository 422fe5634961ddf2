//! Properties of the codec over arbitrary inputs: decoding never panics, and every
//! valid advert of every version and family survives encode → decode unchanged.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;
use vrrp_core::packet::{
    build_ipv4_header, decode_ipv4_packet, decode_vrrp, encode_advert, encoded_len, ChecksumForm,
    Demux, EncodeOptions, IpMeta, Ipv6FirstAddress, RxExpect, Transport, V3Ipv4Checksum,
};
use vrrp_core::proto::{Advert, AdvertInterval, Auth, Family, Priority, Version, Vrid};

fn any_ip(family: Family) -> BoxedStrategy<IpAddr> {
    match family {
        Family::V4 => any::<[u8; 4]>()
            .prop_map(|o| IpAddr::V4(Ipv4Addr::from(o)))
            .boxed(),
        Family::V6 => any::<[u8; 16]>()
            .prop_map(|o| IpAddr::V6(Ipv6Addr::from(o)))
            .boxed(),
    }
}

fn link_local() -> impl Strategy<Value = IpAddr> {
    any::<[u8; 16]>().prop_map(|mut o| {
        o[0] = 0xfe;
        o[1] = 0x80 | (o[1] & 0x3f);
        IpAddr::V6(Ipv6Addr::from(o))
    })
}

/// (advert, src, dst, options) that the encoder must accept.
fn valid_case() -> impl Strategy<Value = (Advert, IpAddr, IpAddr, EncodeOptions)> {
    prop_oneof![
        // VRRPv2 over IPv4: whole seconds, optional PASS, 0..=255 addresses.
        (
            1u8..=255,
            any::<u8>(),
            1u8..=255,
            prop::collection::vec(any_ip(Family::V4), 0..=255),
            prop::option::of(any::<[u8; 8]>()),
            any_ip(Family::V4),
            any_ip(Family::V4),
        )
            .prop_map(|(vrid, prio, secs, addresses, pass, src, dst)| {
                let advert = Advert {
                    version: Version::V2,
                    vrid: Vrid::new(vrid).unwrap(),
                    priority: Priority::from_wire(prio),
                    interval: AdvertInterval::from_secs(secs).unwrap(),
                    addresses,
                    auth: pass.map_or(Auth::None, Auth::Pass),
                };
                (advert, src, dst, EncodeOptions::default())
            }),
        // VRRPv3 over IPv4, either checksum form.
        (
            1u8..=255,
            any::<u8>(),
            1u16..=4095,
            prop::collection::vec(any_ip(Family::V4), 1..=255),
            any::<bool>(),
            any_ip(Family::V4),
            any_ip(Family::V4),
        )
            .prop_map(|(vrid, prio, cs, addresses, pseudo, src, dst)| {
                let advert = v3(vrid, prio, cs, addresses);
                let options = EncodeOptions {
                    v3_ipv4_checksum: if pseudo {
                        V3Ipv4Checksum::PseudoHeader
                    } else {
                        V3Ipv4Checksum::NoPseudoHeader
                    },
                    ..EncodeOptions::default()
                };
                (advert, src, dst, options)
            }),
        // VRRPv3 over IPv6: link-local first (RFC form) then anything.
        (
            1u8..=255,
            any::<u8>(),
            1u16..=4095,
            link_local(),
            prop::collection::vec(any_ip(Family::V6), 0..=254),
            link_local(),
            any_ip(Family::V6),
        )
            .prop_map(|(vrid, prio, cs, first, rest, src, dst)| {
                let mut addresses = vec![first];
                addresses.extend(rest);
                (advert_v6(vrid, prio, cs, addresses), src, dst)
            })
            .prop_map(|(a, s, d)| (a, s, d, EncodeOptions::default())),
        // VRRPv3 over IPv6, keepalived-style list as configured.
        (
            1u8..=255,
            any::<u8>(),
            1u16..=4095,
            prop::collection::vec(any_ip(Family::V6), 1..=255),
            link_local(),
            any_ip(Family::V6),
        )
            .prop_map(|(vrid, prio, cs, addresses, src, dst)| {
                let options = EncodeOptions {
                    ipv6_first_address: Ipv6FirstAddress::AsConfigured,
                    ..EncodeOptions::default()
                };
                (advert_v6(vrid, prio, cs, addresses), src, dst, options)
            }),
    ]
}

fn v3(vrid: u8, prio: u8, cs: u16, addresses: Vec<IpAddr>) -> Advert {
    Advert {
        version: Version::V3,
        vrid: Vrid::new(vrid).unwrap(),
        priority: Priority::from_wire(prio),
        interval: AdvertInterval::from_centis(cs).unwrap(),
        addresses,
        auth: Auth::None,
    }
}

fn advert_v6(vrid: u8, prio: u8, cs: u16, addresses: Vec<IpAddr>) -> Advert {
    v3(vrid, prio, cs, addresses)
}

fn any_meta() -> impl Strategy<Value = IpMeta> {
    prop_oneof![
        (any_ip(Family::V4), any_ip(Family::V4), any::<u8>()),
        (any_ip(Family::V6), any_ip(Family::V6), any::<u8>()),
        (any_ip(Family::V4), any_ip(Family::V6), any::<u8>()),
    ]
    .prop_map(|(src, dst, ttl)| IpMeta { src, dst, ttl })
}

/// A demux holding a few instances of every kind, so the ladder's deeper rungs run.
fn busy_demux() -> Demux {
    let mut d = Demux::new();
    let vip4: IpAddr = "10.99.0.100".parse().unwrap();
    for (vrid, version) in [(1, Version::V2), (51, Version::V2), (52, Version::V3)] {
        let mut e = RxExpect::new(
            version,
            Family::V4,
            Vrid::new(vrid).unwrap(),
            AdvertInterval::DEFAULT,
            vec![vip4],
        );
        if vrid == 1 {
            e.auth = Auth::pass("s3cr3t");
            e.transport = Transport::Unicast {
                peers: vec!["10.99.0.11".parse().unwrap()],
            };
        }
        d.insert(e);
    }
    d.insert(RxExpect::new(
        Version::V3,
        Family::V6,
        Vrid::new(51).unwrap(),
        AdvertInterval::DEFAULT,
        vec!["fe80::1:100".parse().unwrap()],
    ));
    d
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn decoding_arbitrary_bytes_never_panics(
        bytes in prop::collection::vec(any::<u8>(), 0..600),
        meta in any_meta(),
    ) {
        let _ = decode_ipv4_packet(&bytes);
        let _ = decode_vrrp(meta, &bytes);
        let mut d = busy_demux();
        let _ = d.receive_ipv4(&bytes);
        let _ = d.receive(meta, &bytes);
        let c = d.counters();
        prop_assert_eq!(c.accepted + c.drops.total(), 2);
    }

    #[test]
    fn decoding_mutated_valid_packets_never_panics(
        (advert, src, dst, options) in valid_case(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = encode_advert(&advert, src, dst, &options).unwrap();
        for (at, value) in flips {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        let meta = IpMeta { src, dst, ttl: 255 };
        let _ = decode_vrrp(meta, &bytes);
        let cut = cut.index(bytes.len() + 1);
        let _ = decode_vrrp(meta, &bytes[..cut]);
        let mut d = busy_demux();
        let _ = d.receive(meta, &bytes);
    }

    #[test]
    fn encode_then_decode_round_trips_every_valid_advert(
        (advert, src, dst, options) in valid_case(),
    ) {
        let bytes = encode_advert(&advert, src, dst, &options).unwrap();
        prop_assert_eq!(bytes.len(), encoded_len(&advert));
        let received = decode_vrrp(IpMeta { src, dst, ttl: 255 }, &bytes).unwrap();
        prop_assert_eq!(&received.advert, &advert);
        prop_assert_eq!(received.src, src);
        prop_assert_eq!(received.dst, dst);
        let expected_form = match (advert.version, advert.family(), options.v3_ipv4_checksum) {
            (Version::V2, ..) => ChecksumForm::V2Message,
            (Version::V3, Family::V6, _) => ChecksumForm::PseudoHeader,
            (Version::V3, Family::V4, V3Ipv4Checksum::PseudoHeader) => ChecksumForm::PseudoHeader,
            (Version::V3, Family::V4, V3Ipv4Checksum::NoPseudoHeader) => {
                // A message whose pseudo-header sum happens to be zero verifies both
                // ways (probability 2^-16); the pseudo form is tried first.
                if received.checksum_form == ChecksumForm::PseudoHeader {
                    ChecksumForm::PseudoHeader
                } else {
                    ChecksumForm::NoPseudoHeader
                }
            }
        };
        prop_assert_eq!(received.checksum_form, expected_form);
        // And through a whole IPv4 packet, as a raw socket delivers it.
        if let (IpAddr::V4(s), IpAddr::V4(d)) = (src, dst) {
            let mut packet = build_ipv4_header(s, d, 7, bytes.len() as u16).to_vec();
            packet.extend_from_slice(&bytes);
            let again = decode_ipv4_packet(&packet).unwrap();
            prop_assert_eq!(again.advert, advert);
            prop_assert_eq!(again.ttl, 255);
        }
    }

    #[test]
    fn any_single_bit_flip_in_a_valid_advert_is_detected(
        (advert, src, dst, options) in valid_case(),
        bit in any::<prop::sample::Index>(),
    ) {
        let mut bytes = encode_advert(&advert, src, dst, &options).unwrap();
        let meta = IpMeta { src, dst, ttl: 255 };
        let original = decode_vrrp(meta, &bytes).unwrap().checksum_form;
        let bit = bit.index(bytes.len() * 8);
        bytes[bit / 8] ^= 1 << (bit % 8);
        if let Ok(r) = decode_vrrp(meta, &bytes) {
            // The one's-complement sum catches every single-bit error (RFC 1071); only
            // VRRPv3/IPv4, which accepts three forms, can land by chance on another.
            prop_assert!(
                advert.version == Version::V3
                    && advert.family() == Family::V4
                    && r.checksum_form != original,
                "undetected flip of bit {}", bit
            );
        }
    }
}
