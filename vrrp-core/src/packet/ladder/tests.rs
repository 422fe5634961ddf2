//! The receive ladder, one test per rule (checklist C-10..C-15).

use std::net::{IpAddr, Ipv4Addr};

use super::*;
use crate::packet::checksum::{vrrp_checksum, ChecksumScope};
use crate::packet::decode::{ChecksumForm, DecodeError};
use crate::packet::encode::{encode_advert, EncodeOptions, V3Ipv4Checksum};
use crate::packet::ipv4::build_ipv4_header;
use crate::packet::reason::DropCounters;
use crate::packet::test_support::ip;
use crate::packet::wire::CHECKSUM_OFFSET;
use crate::proto::{Advert, AdvertInterval, Priority, RollingFrom};

const H1: &str = "10.99.0.11";
const H2: &str = "10.99.0.12";
const GROUP: &str = "224.0.0.18";
const VIP: &str = "10.99.0.100";
const LL1: &str = "fe80::99:ff:fe00:b";
const GROUP6: &str = "ff02::12";

fn vrid() -> Vrid {
    Vrid::new(51).unwrap()
}

fn secs(s: u8) -> AdvertInterval {
    AdvertInterval::from_secs(s).unwrap()
}

fn centis(c: u16) -> AdvertInterval {
    AdvertInterval::from_centis(c).unwrap()
}

fn advert(version: Version, prio: u8, interval: AdvertInterval, addrs: &[&str]) -> Advert {
    Advert {
        version,
        vrid: vrid(),
        priority: Priority::from_wire(prio),
        interval,
        addresses: addrs.iter().map(|a| ip(a)).collect(),
        auth: Auth::None,
    }
}

fn loose() -> EncodeOptions {
    EncodeOptions {
        ipv6_first_address: Ipv6FirstAddress::AsConfigured,
        ..EncodeOptions::default()
    }
}

fn pdu(a: &Advert, src: &str, dst: &str) -> Vec<u8> {
    encode_advert(a, ip(src), ip(dst), &loose()).unwrap()
}

/// IPv4 header (keepalived's, with `ttl`) + `payload`.
fn ipv4(src: &str, dst: &str, ttl: u8, payload: &[u8]) -> Vec<u8> {
    let (IpAddr::V4(s), IpAddr::V4(d)) = (ip(src), ip(dst)) else {
        panic!("IPv4 only")
    };
    let mut p = build_ipv4_header(s, d, 1, payload.len() as u16).to_vec();
    p[8] = ttl;
    p.extend_from_slice(payload);
    p
}

/// Recomputes the checksum after a test has changed bytes of `msg`.
fn reseal(msg: &mut [u8], scope: ChecksumScope) {
    let c = vrrp_checksum(scope, msg);
    msg[CHECKSUM_OFFSET..CHECKSUM_OFFSET + 2].copy_from_slice(&c.to_be_bytes());
}

fn v3_scope(src: &str, dst: &str) -> ChecksumScope {
    match (ip(src), ip(dst)) {
        (IpAddr::V4(src), IpAddr::V4(dst)) => ChecksumScope::Ipv4Pseudo { src, dst },
        (IpAddr::V6(src), IpAddr::V6(dst)) => ChecksumScope::Ipv6Pseudo { src, dst },
        _ => panic!("mixed"),
    }
}

fn v2_instance() -> RxExpect {
    RxExpect::new(Version::V2, Family::V4, vrid(), secs(1), vec![ip(VIP)])
}

fn v3_instance() -> RxExpect {
    RxExpect::new(Version::V3, Family::V4, vrid(), centis(10), vec![ip(VIP)])
}

fn v3_ipv6_instance(addrs: &[&str]) -> RxExpect {
    let addrs = addrs.iter().map(|a| ip(a)).collect();
    RxExpect::new(Version::V3, Family::V6, vrid(), secs(1), addrs)
}

fn demux(expect: RxExpect) -> Demux {
    let mut d = Demux::new();
    d.insert(expect);
    d
}

fn meta(src: &str, dst: &str, ttl: u8) -> IpMeta {
    IpMeta {
        src: ip(src),
        dst: ip(dst),
        ttl,
    }
}

/// Feeds one IPv4 packet and returns the drop reason, checking its counter moved.
fn dropped_v4(d: &mut Demux, packet: &[u8]) -> DropReason {
    let before = d.counters().drops.total();
    let reason = d.receive_ipv4(packet).unwrap_err().reason;
    assert_eq!(d.counters().drops.total(), before + 1);
    reason
}

fn good_v2() -> Vec<u8> {
    pdu(&advert(Version::V2, 150, secs(1), &[VIP]), H1, GROUP)
}

fn good_v3() -> Vec<u8> {
    pdu(&advert(Version::V3, 150, centis(10), &[VIP]), H1, GROUP)
}

#[test]
fn well_formed_adverts_are_accepted_and_counted() {
    let mut d = demux(v2_instance());
    let ok = d.receive_ipv4(&ipv4(H1, GROUP, 255, &good_v2())).unwrap();
    assert_eq!(ok.notices, Notices::default());
    assert_eq!(ok.received.advert.priority.get(), 150);
    assert_eq!(ok.received.checksum_form, ChecksumForm::V2Message);
    assert_eq!(d.counters().accepted, 1);
    assert_eq!(d.counters().drops.total(), 0);
}

// C-10 ---------------------------------------------------------------------------

#[test]
fn c10_ttl_254_is_dropped_even_with_a_forged_owner_priority() {
    let mut d = demux(v2_instance());
    let forged = pdu(&advert(Version::V2, 255, secs(1), &[VIP]), H1, GROUP);
    let reason = dropped_v4(&mut d, &ipv4(H1, GROUP, 254, &forged));
    assert_eq!(reason, DropReason::Ttl(254));
    assert_eq!(d.counters().drops.ttl, 1);
    for ttl in [0, 1, 64, 128] {
        assert_eq!(
            dropped_v4(&mut d, &ipv4(H1, GROUP, ttl, &forged)),
            DropReason::Ttl(ttl)
        );
    }
}

#[test]
fn c10_ipv6_hop_limit_below_255_is_dropped() {
    let mut d = demux(v3_ipv6_instance(&["fe80::1:100"]));
    let a = advert(Version::V3, 100, secs(1), &["fe80::1:100"]);
    let payload = pdu(&a, LL1, GROUP6);
    let err = d.receive(meta(LL1, GROUP6, 254), &payload).unwrap_err();
    assert_eq!(err.reason, DropReason::Ttl(254));
    assert!(d.receive(meta(LL1, GROUP6, 255), &payload).is_ok());
}

#[test]
fn c10_ttl_rule_comes_before_every_other_rule() {
    let mut d = demux(v2_instance());
    let mut bad = good_v2();
    bad[0] = 0x41; // version 4 and a wrong checksum
    assert_eq!(
        dropped_v4(&mut d, &ipv4(H1, GROUP, 1, &bad)),
        DropReason::Ttl(1)
    );
}

#[test]
fn c10_unicast_instances_skip_the_ttl_rule_like_keepalived() {
    let mut expect = v2_instance();
    expect.transport = Transport::Unicast {
        peers: vec![ip(H1)],
    };
    let mut d = demux(expect);
    let payload = pdu(&advert(Version::V2, 150, secs(1), &[VIP]), H1, H2);
    let ok = d.receive_ipv4(&ipv4(H1, H2, 62, &payload)).unwrap();
    assert_eq!(ok.received.ttl, 62);
    // ... but only configured peers get in.
    let stranger = pdu(&advert(Version::V2, 150, secs(1), &[VIP]), "10.99.0.13", H2);
    assert_eq!(
        dropped_v4(&mut d, &ipv4("10.99.0.13", H2, 255, &stranger)),
        DropReason::UnicastPeer(ip("10.99.0.13"))
    );
}

// C-11 ---------------------------------------------------------------------------

#[test]
fn c11_unknown_version_is_dropped() {
    let mut d = demux(v2_instance());
    let mut p = good_v2();
    p[0] = 0x41;
    reseal(&mut p, ChecksumScope::Message);
    assert_eq!(
        dropped_v4(&mut d, &ipv4(H1, GROUP, 255, &p)),
        DropReason::Malformed(DecodeError::Version(4))
    );
    assert_eq!(d.counters().drops.version, 1);
}

/// With a password (K-15 applies only without one), another version is dropped.
#[test]
fn c11_version_other_than_the_instance_is_dropped() {
    let mut expect = v2_instance();
    expect.auth = Auth::pass("s3cr3t");
    let mut d = demux(expect);
    let v3 = pdu(&advert(Version::V3, 150, secs(1), &[VIP]), H1, GROUP);
    assert_eq!(
        dropped_v4(&mut d, &ipv4(H1, GROUP, 255, &v3)),
        DropReason::Version(3)
    );
    // A v3 instance and a v2 advert that carries a password: another version too.
    let mut d = demux(v3_instance());
    let mut a = advert(Version::V2, 150, secs(1), &[VIP]);
    a.auth = Auth::pass("s3cr3t");
    assert_eq!(
        dropped_v4(&mut d, &ipv4(H1, GROUP, 255, &pdu(&a, H1, GROUP))),
        DropReason::Version(2)
    );
    assert_eq!(d.counters().drops.version, 1);
}

/// K-15: without authentication on either side, another version, or a v2 interval
/// other than ours, is our own cluster changing its timing: accepted with notices.
#[test]
fn k15_another_version_or_v2_interval_without_authentication_is_accepted_with_a_notice() {
    let mut d = demux(v2_instance());
    let v3 = pdu(&advert(Version::V3, 150, centis(10), &[VIP]), H1, GROUP);
    let ok = d.receive_ipv4(&ipv4(H1, GROUP, 255, &v3)).unwrap();
    assert!(ok.notices.version_mismatch && ok.notices.interval_mismatch);
    let v2_at_2s = pdu(&advert(Version::V2, 150, secs(2), &[VIP]), H1, GROUP);
    let ok = d.receive_ipv4(&ipv4(H1, GROUP, 255, &v2_at_2s)).unwrap();
    assert!(!ok.notices.version_mismatch && ok.notices.interval_mismatch);

    let mut d = demux(v3_instance());
    let v2 = pdu(&advert(Version::V2, 150, secs(1), &[VIP]), H1, GROUP);
    let ok = d.receive_ipv4(&ipv4(H1, GROUP, 255, &v2)).unwrap();
    assert!(ok.notices.version_mismatch && ok.notices.interval_mismatch);
    assert_eq!(d.counters().notices.version_mismatch, 1);
    assert_eq!(d.counters().drops.version, 0);
    // Every other rung still applies: a stranger's address list is dropped.
    let stranger = pdu(
        &advert(Version::V2, 150, secs(1), &["10.99.0.7"]),
        H1,
        GROUP,
    );
    assert_eq!(
        dropped_v4(&mut d, &ipv4(H1, GROUP, 255, &stranger)),
        DropReason::AddressListMismatch { count: 1 }
    );
}

#[test]
fn c11_v2_over_ipv6_is_a_version_drop() {
    let mut d = demux(v3_ipv6_instance(&["fe80::1:100"]));
    let mut p = vec![0x21, 51, 100, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    reseal(&mut p, ChecksumScope::Message);
    let err = d.receive(meta(LL1, GROUP6, 255), &p).unwrap_err();
    assert_eq!(err.reason, DropReason::Malformed(DecodeError::V2OverIpv6));
    assert_eq!(d.counters().drops.version, 1);
}

#[test]
fn c11_type_other_than_advertisement_is_dropped() {
    let mut d = demux(v2_instance());
    let mut p = good_v2();
    p[0] = 0x22;
    reseal(&mut p, ChecksumScope::Message);
    assert_eq!(
        dropped_v4(&mut d, &ipv4(H1, GROUP, 255, &p)),
        DropReason::Malformed(DecodeError::Type(2))
    );
    assert_eq!(d.counters().drops.packet_type, 1);
}

#[test]
fn c11_truncated_packets_are_dropped() {
    let mut d = demux(v2_instance());
    let p = good_v2();
    // Missing the last auth byte: count says 1 address + 8 auth bytes = 20.
    assert_eq!(
        dropped_v4(&mut d, &ipv4(H1, GROUP, 255, &p[..19])),
        DropReason::Malformed(DecodeError::Truncated {
            len: 19,
            needed: 20
        })
    );
    // Shorter than the fixed header.
    assert_eq!(
        dropped_v4(&mut d, &ipv4(H1, GROUP, 255, &p[..5])),
        DropReason::Malformed(DecodeError::Truncated { len: 5, needed: 8 })
    );
    // Count claims more addresses than present.
    let mut more = good_v3();
    more[3] = 2;
    reseal(&mut more, v3_scope(H1, GROUP));
    let mut d = demux(v3_instance());
    assert_eq!(
        dropped_v4(&mut d, &ipv4(H1, GROUP, 255, &more)),
        DropReason::Malformed(DecodeError::Truncated {
            len: 12,
            needed: 16
        })
    );
    assert_eq!(d.counters().drops.truncated, 1);
}

#[test]
fn bytes_beyond_what_the_count_implies_are_dropped() {
    let mut d = demux(v3_instance());
    let mut p = good_v3();
    p.extend_from_slice(&[0, 0, 0, 0]);
    reseal(&mut p, v3_scope(H1, GROUP));
    assert_eq!(
        dropped_v4(&mut d, &ipv4(H1, GROUP, 255, &p)),
        DropReason::Malformed(DecodeError::TrailingBytes {
            len: 16,
            expected: 12
        })
    );
}

#[test]
fn c11_bad_checksum_is_dropped() {
    let mut d = demux(v2_instance());
    let mut p = good_v2();
    p[7] ^= 0x01;
    assert_eq!(
        dropped_v4(&mut d, &ipv4(H1, GROUP, 255, &p)),
        DropReason::Malformed(DecodeError::Checksum(0x3e02))
    );
    let mut d = demux(v3_instance());
    let mut p = good_v3();
    p[11] ^= 0x01; // last address byte
    assert!(matches!(
        dropped_v4(&mut d, &ipv4(H1, GROUP, 255, &p)),
        DropReason::Malformed(DecodeError::Checksum(_))
    ));
    assert_eq!(d.counters().drops.checksum, 1);
}

#[test]
fn c11_v3_count_zero_is_dropped() {
    let mut d = demux(v3_instance());
    let mut p = good_v3()[..8].to_vec();
    p[3] = 0;
    reseal(&mut p, v3_scope(H1, GROUP));
    assert_eq!(
        dropped_v4(&mut d, &ipv4(H1, GROUP, 255, &p)),
        DropReason::Malformed(DecodeError::CountZero)
    );
    assert_eq!(d.counters().drops.count_zero, 1);
}

#[test]
fn c11_v3_interval_zero_is_dropped() {
    let mut d = demux(v3_instance());
    let mut p = good_v3();
    p[4] = 0xf0; // reserved bits set, interval 0
    p[5] = 0;
    reseal(&mut p, v3_scope(H1, GROUP));
    assert_eq!(
        dropped_v4(&mut d, &ipv4(H1, GROUP, 255, &p)),
        DropReason::Malformed(DecodeError::IntervalZero)
    );
    assert_eq!(d.counters().drops.interval_zero, 1);
}

#[test]
fn c11_ipv6_first_address_not_link_local_is_dropped() {
    let mut d = demux(v3_ipv6_instance(&["fe80::1:100", "fd00::100"]));
    let a = advert(Version::V3, 100, secs(1), &["fd00::100", "fe80::1:100"]);
    let err = d
        .receive(meta(LL1, GROUP6, 255), &pdu(&a, LL1, GROUP6))
        .unwrap_err();
    assert_eq!(
        err.reason,
        DropReason::FirstAddressNotLinkLocal(ip("fd00::100"))
    );
    assert_eq!(d.counters().drops.first_address_not_link_local, 1);
}

#[test]
fn keepalived_style_global_only_ipv6_lists_are_accepted_from_peers_configured_alike() {
    // keepalived 2.2.7 without vrrp_strict sends [fd00::100] (capture v3-ipv6).
    let mut d = demux(v3_ipv6_instance(&["fd00::100"]));
    let a = advert(Version::V3, 100, secs(1), &["fd00::100"]);
    assert!(d
        .receive(meta(LL1, GROUP6, 255), &pdu(&a, LL1, GROUP6))
        .is_ok());
}

#[test]
fn c11_unknown_vrid_is_dropped() {
    let mut d = demux(v2_instance());
    let mut p = good_v2();
    p[1] = 52;
    reseal(&mut p, ChecksumScope::Message);
    let err = d.receive_ipv4(&ipv4(H1, GROUP, 255, &p)).unwrap_err();
    assert_eq!(err.reason, DropReason::UnknownVrid(52));
    assert_eq!(err.vrid, Some(Vrid::new(52).unwrap()));
    assert_eq!(err.src, Some(ip(H1)));
    // VRID 0 exists on no instance either.
    p[1] = 0;
    reseal(&mut p, ChecksumScope::Message);
    assert_eq!(
        dropped_v4(&mut d, &ipv4(H1, GROUP, 255, &p)),
        DropReason::Malformed(DecodeError::VridZero)
    );
    assert_eq!(d.counters().drops.unknown_vrid, 2);
}

#[test]
fn c11_same_vrid_of_the_other_family_is_unknown() {
    let mut d = demux(v3_ipv6_instance(&["fe80::1:100"]));
    assert_eq!(
        dropped_v4(&mut d, &ipv4(H1, GROUP, 255, &good_v3())),
        DropReason::UnknownVrid(51)
    );
}

#[test]
fn c11_v2_auth_type_mismatch_is_dropped() {
    let mut expect = v2_instance();
    expect.auth = Auth::pass("s3cr3t");
    let mut d = demux(expect);
    assert_eq!(
        dropped_v4(&mut d, &ipv4(H1, GROUP, 255, &good_v2())),
        DropReason::AuthType {
            got: 0,
            expected: 1
        }
    );
    // IPsec AH (type 2) is spoken by nobody here.
    let mut ah = good_v2();
    ah[4] = 2;
    reseal(&mut ah, ChecksumScope::Message);
    assert_eq!(
        dropped_v4(&mut d, &ipv4(H1, GROUP, 255, &ah)),
        DropReason::Malformed(DecodeError::AuthType(2))
    );
    assert_eq!(d.counters().drops.auth_type, 2);
    // And a PASS advert to an instance without authentication.
    let mut d = demux(v2_instance());
    let mut a = advert(Version::V2, 150, secs(1), &[VIP]);
    a.auth = Auth::pass("s3cr3t");
    assert_eq!(
        dropped_v4(&mut d, &ipv4(H1, GROUP, 255, &pdu(&a, H1, GROUP))),
        DropReason::AuthType {
            got: 1,
            expected: 0
        }
    );
    assert_eq!(d.counters().drops.auth_type, 1);
}

#[test]
fn c11_v2_pass_mismatch_is_dropped_and_match_is_accepted() {
    let mut expect = v2_instance();
    expect.auth = Auth::pass("s3cr3t");
    let mut d = demux(expect);
    let mut a = advert(Version::V2, 150, secs(1), &[VIP]);
    a.auth = Auth::pass("s3cr3T");
    assert_eq!(
        dropped_v4(&mut d, &ipv4(H1, GROUP, 255, &pdu(&a, H1, GROUP))),
        DropReason::AuthPass
    );
    // Only the first 8 bytes count, as keepalived truncates.
    a.auth = Auth::pass("s3cr3t");
    assert!(d
        .receive_ipv4(&ipv4(H1, GROUP, 255, &pdu(&a, H1, GROUP)))
        .is_ok());
    assert_eq!(d.counters().drops.auth_pass, 1);
    assert!(constant_time_eq(b"abcdefgh", b"abcdefgh"));
    assert!(!constant_time_eq(b"abcdefgh", b"abcdefgi"));
    assert!(!constant_time_eq(b"abcdefgh", b"bbcdefgh"));
}

/// With a password (K-15 applies only without one).
#[test]
fn c11_v2_interval_mismatch_is_dropped() {
    let mut expect = v2_instance();
    expect.auth = Auth::pass("s3cr3t");
    let mut d = demux(expect);
    let mut a = advert(Version::V2, 150, secs(2), &[VIP]);
    a.auth = Auth::pass("s3cr3t");
    let p = pdu(&a, H1, GROUP);
    assert_eq!(
        dropped_v4(&mut d, &ipv4(H1, GROUP, 255, &p)),
        DropReason::IntervalMismatch {
            got: secs(2),
            local: secs(1)
        }
    );
    assert_eq!(d.counters().drops.interval_mismatch, 1);
}

#[test]
fn v2_interval_zero_is_dropped() {
    let mut d = demux(v2_instance());
    let mut p = good_v2();
    p[5] = 0;
    reseal(&mut p, ChecksumScope::Message);
    assert_eq!(
        dropped_v4(&mut d, &ipv4(H1, GROUP, 255, &p)),
        DropReason::Malformed(DecodeError::IntervalZero)
    );
}

#[test]
fn multicast_instances_drop_adverts_not_sent_to_their_group() {
    let mut d = demux(v2_instance());
    let p = pdu(&advert(Version::V2, 150, secs(1), &[VIP]), H1, H2);
    assert_eq!(
        dropped_v4(&mut d, &ipv4(H1, H2, 255, &p)),
        DropReason::Destination(ip(H2))
    );
    let mut expect = v2_instance();
    expect.transport = Transport::Unicast {
        peers: vec![ip(H1)],
    };
    let mut d = demux(expect);
    assert_eq!(
        dropped_v4(&mut d, &ipv4(H1, GROUP, 255, &good_v2())),
        DropReason::Destination(ip(GROUP))
    );
    assert_eq!(d.counters().drops.destination, 1);
}

// C-12 ---------------------------------------------------------------------------

#[test]
fn c12_v3_reserved_bits_set_are_ignored() {
    let mut d = demux(v3_instance());
    let mut p = good_v3();
    p[4] |= 0xf0;
    reseal(&mut p, v3_scope(H1, GROUP));
    let ok = d.receive_ipv4(&ipv4(H1, GROUP, 255, &p)).unwrap();
    assert_eq!(ok.received.advert.interval, centis(10));
    assert_eq!(ok.notices, Notices::default());
}

#[test]
fn c12_ethernet_padding_is_accepted() {
    // A 46-byte v3 frame is padded to 60 on the wire: 14 bytes after the IP packet.
    let mut d = demux(v3_instance());
    let mut p = ipv4(H1, GROUP, 255, &good_v3());
    p.extend_from_slice(&[0; 14]);
    let ok = d.receive_ipv4(&p).unwrap();
    assert_eq!(ok.received.advert.addresses, vec![ip(VIP)]);
}

#[test]
fn c12_ip_options_ihl_above_5_are_honoured() {
    let mut d = demux(v3_instance());
    let plain = ipv4(H1, GROUP, 255, &good_v3());
    // IHL 6 with a Router Alert-free 4-byte option (NOP NOP NOP EOL).
    let mut p = plain[..20].to_vec();
    p[0] = 0x46;
    let total = (plain.len() + 4) as u16;
    p[2..4].copy_from_slice(&total.to_be_bytes());
    p.extend_from_slice(&[1, 1, 1, 0]);
    p.extend_from_slice(&plain[20..]);
    let ok = d.receive_ipv4(&p).unwrap();
    assert_eq!(ok.received.src, ip(H1));
    assert_eq!(ok.received.advert.priority.get(), 150);
}

#[test]
fn ipv4_header_problems_are_their_own_drop() {
    let mut d = demux(v3_instance());
    let p = ipv4(H1, GROUP, 255, &good_v3());
    let err = d.receive_ipv4(&p[..30]).unwrap_err();
    assert_eq!(
        err.reason,
        DropReason::Malformed(DecodeError::IpHeader(
            "total length beyond the received bytes"
        ))
    );
    assert_eq!(err.src, None);
    assert_eq!(d.counters().drops.ip_header, 1);
    let err = d.receive(meta(H1, GROUP6, 255), &good_v3()).unwrap_err();
    assert_eq!(
        err.reason,
        DropReason::Malformed(DecodeError::IpFamilyMismatch)
    );
}

// C-13 ---------------------------------------------------------------------------

#[test]
fn c13_v3_interval_mismatch_is_accepted_and_flagged() {
    let mut d = demux(v3_instance());
    let p = pdu(&advert(Version::V3, 150, centis(25), &[VIP]), H1, GROUP);
    let ok = d.receive_ipv4(&ipv4(H1, GROUP, 255, &p)).unwrap();
    assert!(ok.notices.interval_mismatch);
    assert_eq!(ok.received.advert.interval, centis(25));
    assert_eq!(d.counters().notices.interval_mismatch, 1);
    assert_eq!(d.counters().drops.total(), 0);
    let same = d.receive_ipv4(&ipv4(H1, GROUP, 255, &good_v3())).unwrap();
    assert!(!same.notices.interval_mismatch);
    assert_eq!(d.counters().notices.interval_mismatch, 1);
}

// C-14 ---------------------------------------------------------------------------

#[test]
fn c14_owner_receiving_an_owner_advert_is_not_dropped() {
    for version in [Version::V2, Version::V3] {
        let interval = secs(1);
        let mut expect = RxExpect::new(version, Family::V4, vrid(), interval, vec![ip(VIP)]);
        expect.owner = true;
        let mut d = demux(expect);
        let p = pdu(&advert(version, 255, interval, &[VIP]), H1, GROUP);
        let ok = d.receive_ipv4(&ipv4(H1, GROUP, 255, &p)).unwrap();
        assert!(ok.notices.owner_conflict, "{version}");
        assert_eq!(d.counters().notices.owner_conflict, 1);
        // A non-owner advert to an owner is ordinary (it was Active before we came up).
        let p = pdu(&advert(version, 100, interval, &[VIP]), H1, GROUP);
        let ok = d.receive_ipv4(&ipv4(H1, GROUP, 255, &p)).unwrap();
        assert!(!ok.notices.owner_conflict);
    }
}

// C-15 ---------------------------------------------------------------------------

#[test]
fn c15_a_stranger_address_list_is_dropped_by_default_and_counted() {
    let mut d = demux(v2_instance());
    // Disjoint from ours.
    let p = pdu(
        &advert(Version::V2, 150, secs(1), &["10.99.0.200"]),
        H1,
        GROUP,
    );
    assert_eq!(
        dropped_v4(&mut d, &ipv4(H1, GROUP, 255, &p)),
        DropReason::AddressListMismatch { count: 1 }
    );
    assert_eq!(d.counters().drops.address_list_mismatch, 1);
}

/// K-13: a list that contains ours, or that ours contains, is our own cluster in the
/// middle of a rolling `virtual_ip` change: accepted, with a notice.
#[test]
fn k13_a_list_containing_ours_or_contained_in_it_is_accepted_with_a_notice() {
    let mut expect = v2_instance();
    expect.addresses.push(ip("10.99.0.201"));
    let mut d = demux(expect);
    for list in [&[VIP, "10.99.0.201", "10.99.0.200"][..], &[VIP][..]] {
        let p = pdu(&advert(Version::V2, 150, secs(1), list), H1, GROUP);
        let ok = d.receive_ipv4(&ipv4(H1, GROUP, 255, &p)).unwrap();
        assert!(ok.notices.address_list_mismatch, "{list:?}");
    }
    // Overlapping but neither containing the other: a stranger.
    let p = pdu(
        &advert(Version::V2, 150, secs(1), &[VIP, "10.99.0.200"]),
        H1,
        GROUP,
    );
    assert_eq!(
        dropped_v4(&mut d, &ipv4(H1, GROUP, 255, &p)),
        DropReason::AddressListMismatch { count: 2 }
    );
    assert_eq!(d.counters().notices.address_list_mismatch, 2);
}

#[test]
fn c15_under_strict_drop_any_other_list_is_dropped() {
    let mut expect = v2_instance();
    expect.address_mismatch = AddressMismatchPolicy::Drop;
    let mut d = demux(expect);
    let p = pdu(
        &advert(Version::V2, 0, secs(1), &[VIP, "10.99.0.200"]),
        H1,
        GROUP,
    );
    assert_eq!(
        dropped_v4(&mut d, &ipv4(H1, GROUP, 255, &p)),
        DropReason::AddressListMismatch { count: 2 }
    );
}

#[test]
fn c15_address_list_mismatch_is_accepted_and_flagged_under_log_only() {
    let mut expect = v3_instance();
    expect.address_mismatch = AddressMismatchPolicy::LogOnly;
    let mut d = demux(expect);
    let p = pdu(
        &advert(Version::V3, 150, centis(10), &["10.99.0.200"]),
        H1,
        GROUP,
    );
    let ok = d.receive_ipv4(&ipv4(H1, GROUP, 255, &p)).unwrap();
    assert!(ok.notices.address_list_mismatch);
    assert_eq!(d.counters().notices.address_list_mismatch, 1);
    assert_eq!(d.counters().drops.total(), 0);
}

#[test]
fn c15_address_list_mismatch_from_the_owner_is_accepted_and_flagged() {
    // RFC 3768 §7.1: drop on mismatch only when the sender is not the owner.
    let mut d = demux(v2_instance());
    let p = pdu(
        &advert(Version::V2, 255, secs(1), &["10.99.0.200"]),
        H1,
        GROUP,
    );
    let ok = d.receive_ipv4(&ipv4(H1, GROUP, 255, &p)).unwrap();
    assert!(ok.notices.address_list_mismatch);
}

#[test]
fn c15_address_order_does_not_matter() {
    let mut expect = v3_instance();
    expect.addresses = vec![ip(VIP), ip("10.99.0.101")];
    let mut d = demux(expect);
    let p = pdu(
        &advert(Version::V3, 150, centis(10), &["10.99.0.101", VIP]),
        H1,
        GROUP,
    );
    let ok = d.receive_ipv4(&ipv4(H1, GROUP, 255, &p)).unwrap();
    assert!(!ok.notices.address_list_mismatch);
}

// Checksum forms ----------------------------------------------------------------

#[test]
fn v3_ipv4_accepts_every_checksum_form_and_reports_which() {
    let a = advert(Version::V3, 150, secs(1), &[VIP]);
    let mut expect = RxExpect::new(Version::V3, Family::V4, vrid(), secs(1), vec![ip(VIP)]);
    expect.transport = Transport::Unicast {
        peers: vec![ip(H1)],
    };
    let mut d = demux(expect);

    let real = pdu(&a, H1, H2);
    let ok = d.receive_ipv4(&ipv4(H1, H2, 255, &real)).unwrap();
    assert_eq!(ok.received.checksum_form, ChecksumForm::PseudoHeader);

    let options = EncodeOptions {
        v3_ipv4_checksum: V3Ipv4Checksum::NoPseudoHeader,
        ..loose()
    };
    let rfc9568 = encode_advert(&a, ip(H1), ip(H2), &options).unwrap();
    let ok = d.receive_ipv4(&ipv4(H1, H2, 255, &rfc9568)).unwrap();
    assert_eq!(ok.received.checksum_form, ChecksumForm::NoPseudoHeader);

    // keepalived < 1.3.6 in unicast: pseudo-header on the group, packet to the peer.
    let old = pdu(&a, H1, GROUP);
    let ok = d.receive_ipv4(&ipv4(H1, H2, 255, &old)).unwrap();
    assert_eq!(
        ok.received.checksum_form,
        ChecksumForm::PseudoHeaderMulticastGroup
    );
    let n = d.counters().notices;
    assert_eq!(
        (
            n.checksum_no_pseudo_header,
            n.checksum_pseudo_header_multicast_group
        ),
        (1, 1)
    );
    assert_eq!(d.counters().accepted, 3);
}

#[test]
fn v3_ipv6_accepts_only_the_pseudo_header_form() {
    let mut d = demux(v3_ipv6_instance(&["fe80::1:100"]));
    let a = advert(Version::V3, 100, secs(1), &["fe80::1:100"]);
    let mut p = pdu(&a, LL1, GROUP6);
    let ok = d.receive(meta(LL1, GROUP6, 255), &p).unwrap();
    assert_eq!(ok.received.checksum_form, ChecksumForm::PseudoHeader);
    reseal(&mut p, ChecksumScope::Message);
    let err = d.receive(meta(LL1, GROUP6, 255), &p).unwrap_err();
    assert!(matches!(
        err.reason,
        DropReason::Malformed(DecodeError::Checksum(_))
    ));
}

// Counters ----------------------------------------------------------------------

#[test]
fn every_drop_reason_has_its_own_counter_named_like_the_reason() {
    let v4 = Ipv4Addr::new(10, 0, 0, 1);
    // Every decoder error and every configuration-dependent rule; several share a
    // counter (the table in reason.rs), and together they reach every counter.
    let reasons = [
        DropReason::Malformed(DecodeError::IpHeader("x")),
        DropReason::Malformed(DecodeError::IpFamilyMismatch),
        DropReason::Ttl(1),
        DropReason::Version(4),
        DropReason::Malformed(DecodeError::Version(4)),
        DropReason::Malformed(DecodeError::V2OverIpv6),
        DropReason::Malformed(DecodeError::Type(2)),
        DropReason::Malformed(DecodeError::Truncated { len: 1, needed: 8 }),
        DropReason::Malformed(DecodeError::TrailingBytes {
            len: 9,
            expected: 8,
        }),
        DropReason::Malformed(DecodeError::Checksum(0)),
        DropReason::Malformed(DecodeError::CountZero),
        DropReason::Malformed(DecodeError::IntervalZero),
        DropReason::UnknownVrid(1),
        DropReason::Malformed(DecodeError::VridZero),
        DropReason::Destination(IpAddr::V4(v4)),
        DropReason::UnicastPeer(IpAddr::V4(v4)),
        DropReason::AuthType {
            got: 0,
            expected: 1,
        },
        DropReason::Malformed(DecodeError::AuthType(2)),
        DropReason::AuthPass,
        DropReason::IntervalMismatch {
            got: secs(2),
            local: secs(1),
        },
        DropReason::FirstAddressNotLinkLocal(ip("fd00::1")),
        DropReason::AddressListMismatch { count: 1 },
    ];
    let fields = serde_json::to_value(DropCounters::default()).unwrap();
    let mut reached = std::collections::BTreeSet::new();
    for reason in reasons {
        let mut c = DropCounters::default();
        c.record(&reason);
        let json = serde_json::to_value(c).unwrap();
        let set: Vec<_> = json
            .as_object()
            .unwrap()
            .iter()
            .filter(|(_, v)| v.as_u64() != Some(0))
            .map(|(k, _)| k.clone())
            .collect();
        assert_eq!(set, vec![reason.name().to_string()], "{reason}");
        assert_eq!(c.total(), 1);
        reached.insert(reason.name().to_string());
    }
    let all: std::collections::BTreeSet<_> = fields.as_object().unwrap().keys().cloned().collect();
    assert_eq!(reached, all);
}

#[test]
fn counters_serialize_with_snake_case_names() {
    let mut d = demux(v2_instance());
    d.receive_ipv4(&ipv4(H1, GROUP, 254, &good_v2()))
        .unwrap_err();
    let json = serde_json::to_string(d.counters()).unwrap();
    assert!(
        json.starts_with(r#"{"accepted":0,"drops":{"ip_header":0,"ttl":1,"#),
        "{json}"
    );
    assert!(
        json.contains(r#""notices":{"interval_mismatch":0,"#),
        "{json}"
    );
}

#[test]
fn demux_instances_can_be_replaced_and_removed() {
    let mut d = Demux::new();
    assert!(d.insert(v2_instance()).is_none());
    assert!(d.insert(v2_instance()).is_some());
    assert!(d.expectation(Family::V4, vrid()).is_some());
    assert!(d.remove(Family::V4, vrid()).is_some());
    assert_eq!(
        d.receive_ipv4(&ipv4(H1, GROUP, 255, &good_v2()))
            .unwrap_err()
            .reason,
        DropReason::UnknownVrid(51)
    );
}

/// K-17: an instance moving from VRID 51 with password "old" to VRID 52 with "new"
/// takes adverts in either identity as its own (the old one with a notice), and
/// nothing in between: the old VRID with the new password, or the new VRID with the
/// old password, is a stranger's.
#[test]
fn k17_an_advert_in_the_rolling_from_identity_is_accepted_with_a_notice() {
    let vrid_52 = Vrid::new(52).unwrap();
    let mut expect = v2_instance();
    expect.vrid = vrid_52;
    expect.auth = Auth::pass("new");
    expect.rolling_from = Some(RollingFrom {
        vrid: vrid(),
        auth: Auth::pass("old"),
        unicast_peers: Vec::new(),
        interface: None,
    });
    let mut d = demux(expect.clone());
    let send = |d: &mut Demux, vrid: Vrid, pass: &str| {
        let mut a = advert(Version::V2, 150, secs(1), &[VIP]);
        a.vrid = vrid;
        a.auth = Auth::pass(pass);
        d.receive_ipv4(&ipv4(H1, GROUP, 255, &pdu(&a, H1, GROUP)))
    };
    let own = send(&mut d, vrid_52, "new").unwrap();
    assert!(!own.notices.rolling_identity);
    let old = send(&mut d, vrid(), "old").unwrap();
    assert!(old.notices.rolling_identity);
    assert_eq!(old.received.advert.vrid, vrid(), "handed on as it came");
    for (v, pass) in [(vrid(), "new"), (vrid_52, "old")] {
        assert_eq!(
            send(&mut d, v, pass).unwrap_err().reason,
            DropReason::AuthPass,
            "VRID {v} with {pass}"
        );
    }
    assert_eq!(d.counters().notices.rolling_identity, 1);

    // A password change alone: one VRID, either password.
    expect.vrid = vrid();
    let mut d = demux(expect.clone());
    assert!(
        !send(&mut d, vrid(), "new")
            .unwrap()
            .notices
            .rolling_identity
    );
    assert!(
        send(&mut d, vrid(), "old")
            .unwrap()
            .notices
            .rolling_identity
    );
    assert_eq!(
        send(&mut d, vrid(), "other").unwrap_err().reason,
        DropReason::AuthPass
    );

    // Once the instance stops rolling (the driver removes the VRIDs it no longer
    // answers to), the old VRID is unknown again.
    expect.vrid = vrid_52;
    let mut d = demux(expect.clone());
    d.remove(Family::V4, vrid());
    expect.rolling_from = None;
    d.insert(expect);
    assert_eq!(
        send(&mut d, vrid(), "old").unwrap_err().reason,
        DropReason::UnknownVrid(51)
    );
}

/// K-17, transport: a multicast instance rolling from unicast takes the unicast
/// adverts of its old peers as its own (and no one else's), a unicast instance
/// rolling from multicast takes group adverts, which keep the TTL rule.
#[test]
fn k17_an_advert_on_the_rolling_from_transport_is_accepted_with_a_notice() {
    let own = pdu(&advert(Version::V2, 150, secs(1), &[VIP]), H1, GROUP);
    let to_us = pdu(&advert(Version::V2, 150, secs(1), &[VIP]), H1, H2);
    let mut expect = v2_instance();
    expect.rolling_from = Some(RollingFrom {
        vrid: vrid(),
        auth: Auth::None,
        unicast_peers: vec![ip(H1)],
        interface: None,
    });
    let mut d = demux(expect.clone());
    let ok = d.receive_ipv4(&ipv4(H1, GROUP, 255, &own)).unwrap();
    assert!(!ok.notices.rolling_identity);
    let ok = d.receive_ipv4(&ipv4(H1, H2, 255, &to_us)).unwrap();
    assert!(ok.notices.rolling_identity);
    let stranger = pdu(&advert(Version::V2, 150, secs(1), &[VIP]), "10.99.0.13", H2);
    assert_eq!(
        dropped_v4(&mut d, &ipv4("10.99.0.13", H2, 255, &stranger)),
        DropReason::Destination(ip(H2)),
        "the own identity's reason: not to the group"
    );

    expect.transport = Transport::Unicast {
        peers: vec![ip(H1)],
    };
    expect.rolling_from = Some(RollingFrom {
        vrid: vrid(),
        auth: Auth::None,
        unicast_peers: Vec::new(),
        interface: None,
    });
    let mut d = demux(expect);
    assert!(
        !d.receive_ipv4(&ipv4(H1, H2, 62, &to_us))
            .unwrap()
            .notices
            .rolling_identity
    );
    assert!(
        d.receive_ipv4(&ipv4(H1, GROUP, 255, &own))
            .unwrap()
            .notices
            .rolling_identity
    );
    assert_eq!(
        dropped_v4(&mut d, &ipv4(H1, GROUP, 254, &own)),
        DropReason::Ttl(254)
    );
}
