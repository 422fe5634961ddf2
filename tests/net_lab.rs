//! The engine's Linux I/O edge, proven in network namespaces (needs root; fails with a
//! clear message otherwise, never skips): raw VRRP sockets, netlink, AF_PACKET and
//! gratuitous ARP, and the lab itself measured against keepalived 2.2.7.
#[path = "lab/mod.rs"]
mod lab;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::time::Duration;

use keepalived_charm::engine::net::vrrp_socket::{Delivery, VRRP_TOS, VRRP_TTL};
use keepalived_charm::engine::net::{
    AsyncVrrpSocket, Interface, RecvMeta, VrrpSocket, VRRP_GROUP_V4, VRRP_GROUP_V6,
};
use lab::{Lab, Netns, Task};

const RECV_LIMIT: Duration = Duration::from_secs(3);

/// Opens a VRRP socket on eth0 of `ns` (on its worker thread, so in its namespace).
fn open_socket(ns: &Netns, src: IpAddr, delivery: Delivery) -> VrrpSocket {
    ns.run(move || {
        let eth0 = Interface::by_name("eth0").expect("eth0 exists in a lab host");
        match src {
            IpAddr::V4(a) => VrrpSocket::open_v4(&eth0, a, delivery),
            IpAddr::V6(a) => VrrpSocket::open_v6(&eth0, a, delivery),
        }
        .expect("open a VRRP socket")
    })
}

/// Receives `count` packets on `sock` in `ns`, in arrival order.
fn receive(ns: &Netns, sock: VrrpSocket, count: usize) -> Task<Vec<(Vec<u8>, RecvMeta)>> {
    ns.spawn(move || async move {
        let sock = AsyncVrrpSocket::new(sock).expect("register the socket");
        let mut got = Vec::new();
        let mut buf = [0u8; 2048];
        while got.len() < count {
            let (len, meta) = sock.recv(&mut buf).await.expect("recv");
            got.push((buf[..len].to_vec(), meta));
        }
        got
    })
}

fn eth0_index(ns: &Netns) -> u32 {
    ns.run(|| Interface::by_name("eth0").expect("eth0").index)
}

/// Internet checksum over the IPv6 pseudo-header and `payload` (RFC 8200 §8.1);
/// 0 when `payload` carries a correct checksum.
fn v6_checksum(src: Ipv6Addr, dst: Ipv6Addr, next_header: u8, payload: &[u8]) -> u16 {
    let mut data = Vec::new();
    data.extend_from_slice(&src.octets());
    data.extend_from_slice(&dst.octets());
    data.extend_from_slice(&u32::try_from(payload.len()).unwrap().to_be_bytes());
    data.extend_from_slice(&[0, 0, 0, next_header]);
    data.extend_from_slice(payload);
    if data.len() % 2 == 1 {
        data.push(0);
    }
    let mut sum: u32 = data
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

mod sockets {
    use super::*;

    #[test]
    fn ipv4_advert_from_a_keepalived_capture_crosses_the_lan_with_ttl_255_tos_c0_and_identical_payload(
    ) {
        let lab = Lab::builder("v4mc").hosts(2).observer(false).build();
        let (a, b) = (lab.host(0), lab.host(1));
        let advert = lab::vectors::packet("v2-mcast-auth-adverts.hex.txt", 1, "vrrp");
        assert_eq!(advert.len(), 20, "the v2 advert with one VIP and PASS auth");

        let rx = receive(
            &b.ns,
            open_socket(&b.ns, b.ipv4.into(), Delivery::Multicast),
            1,
        );
        let tx = open_socket(&a.ns, a.ipv4.into(), Delivery::Multicast);
        let payload = advert.clone();
        let sent =
            a.ns.run(move || tx.send_to(&payload, VRRP_GROUP_V4.into()).expect("send"));
        assert_eq!(sent, 20);

        let got = rx.wait(RECV_LIMIT);
        let (bytes, meta) = &got[0];
        assert_eq!(meta.src, IpAddr::V4(a.ipv4));
        assert_eq!(meta.dst, IpAddr::V4(VRRP_GROUP_V4));
        assert_eq!(
            meta.ttl_or_hop_limit,
            Some(VRRP_TTL),
            "TTL from IP_RECVTTL ancillary data"
        );
        assert_eq!(meta.ifindex, eth0_index(&b.ns));
        assert!(!meta.truncated);
        // The IPv4 header the kernel built, as keepalived builds it.
        assert_eq!(bytes[0], 0x45, "IPv4, IHL 5 (no options)");
        assert_eq!(bytes[1], VRRP_TOS, "TOS 0xc0");
        assert_eq!(bytes[8], 255, "TTL in the header");
        assert_eq!(bytes[9], 112, "protocol VRRP");
        assert_eq!(
            &bytes[12..16],
            &a.ipv4.octets(),
            "source = A's primary address"
        );
        assert_eq!(&bytes[16..20], &VRRP_GROUP_V4.octets());
        assert_eq!(&bytes[20..], &advert[..], "VRRP payload unchanged");
    }

    #[test]
    fn ipv4_received_ttl_is_the_packets_own_not_an_assumed_255() {
        let lab = Lab::builder("v4ttl").hosts(2).observer(false).build();
        let (a, b) = (lab.host(0), lab.host(1));
        let advert = lab::vectors::packet("v2-mcast-auth-adverts.hex.txt", 1, "vrrp");
        let rx = receive(
            &b.ns,
            open_socket(&b.ns, b.ipv4.into(), Delivery::Multicast),
            1,
        );
        // A forged advert one hop away: a plain raw socket with TTL 254 (C-TTL, S13).
        let a_ip = a.ipv4;
        a.ns.run(move || {
            let s = socket2::Socket::new(
                socket2::Domain::IPV4,
                socket2::Type::RAW,
                Some(socket2::Protocol::from(112)),
            )
            .unwrap();
            s.set_multicast_ttl_v4(254).unwrap();
            s.set_multicast_if_v4(&a_ip).unwrap();
            let dst: SocketAddr = SocketAddr::new(VRRP_GROUP_V4.into(), 0);
            s.send_to(&advert, &dst.into()).unwrap();
        });
        let got = rx.wait(RECV_LIMIT);
        assert_eq!(got[0].1.ttl_or_hop_limit, Some(254));
        assert_eq!(got[0].0[8], 254);
    }

    #[test]
    fn unicast_mode_sends_one_copy_per_peer_and_does_not_receive_the_group() {
        let lab = Lab::builder("v4uc").hosts(3).observer(false).build();
        let (a, b, c) = (lab.host(0), lab.host(1), lab.host(2));
        let advert = lab::vectors::packet("v2-ucast-adverts.hex.txt", 1, "vrrp");
        // B also runs a multicast instance on the same interface, so the group IS
        // joined on B: its unicast socket must still not see the group's packets.
        let b_group = receive(
            &b.ns,
            open_socket(&b.ns, b.ipv4.into(), Delivery::Multicast),
            1,
        );
        let rx_b = receive(
            &b.ns,
            open_socket(&b.ns, b.ipv4.into(), Delivery::Unicast),
            1,
        );
        let rx_c = receive(
            &c.ns,
            open_socket(&c.ns, c.ipv4.into(), Delivery::Unicast),
            1,
        );
        let tx = open_socket(&a.ns, a.ipv4.into(), Delivery::Multicast);
        let peers = [IpAddr::V4(b.ipv4), IpAddr::V4(c.ipv4)];
        let payload = advert.clone();
        a.ns.run(move || {
            // First to the group: unicast-mode sockets joined no group and must not
            // see it, so the first packet each peer reads is its own unicast copy.
            tx.send_to(&payload, VRRP_GROUP_V4.into()).unwrap();
            for p in peers {
                tx.send_to(&payload, p).unwrap();
            }
        });
        assert_eq!(b_group.wait(RECV_LIMIT)[0].1.dst, IpAddr::V4(VRRP_GROUP_V4));
        for (rx, me) in [(rx_b, b.ipv4), (rx_c, c.ipv4)] {
            let got = rx.wait(RECV_LIMIT);
            let (bytes, meta) = &got[0];
            assert_eq!(
                meta.dst,
                IpAddr::V4(me),
                "the peer's own copy, not the group's"
            );
            assert_eq!(meta.src, IpAddr::V4(a.ipv4));
            assert_eq!(
                meta.ttl_or_hop_limit,
                Some(255),
                "IP_TTL 255 for unicast too"
            );
            assert_eq!(bytes[1], VRRP_TOS);
            assert_eq!(&bytes[20..], &advert[..]);
        }
    }

    #[test]
    fn ipv6_advert_leaves_from_the_link_local_with_hop_limit_255_and_a_kernel_checksum() {
        let lab = Lab::builder("v6mc").hosts(2).observer(false).build();
        let (a, b) = (lab.host(0), lab.host(1));
        let advert = lab::vectors::packet("v3-ipv6-adverts.hex.txt", 1, "vrrp");
        assert_eq!(advert.len(), 24);
        // The capture's checksum is for keepalived's source address, not A's.
        assert_ne!(v6_checksum(a.link_local, VRRP_GROUP_V6, 112, &advert), 0);

        let rx = receive(
            &b.ns,
            open_socket(&b.ns, b.link_local.into(), Delivery::Multicast),
            1,
        );
        let tx = open_socket(&a.ns, a.link_local.into(), Delivery::Multicast);
        let mut zeroed = advert.clone();
        zeroed[6] = 0;
        zeroed[7] = 0;
        a.ns.run(move || tx.send_to(&zeroed, VRRP_GROUP_V6.into()).expect("send"));

        let got = rx.wait(RECV_LIMIT);
        let (bytes, meta) = &got[0];
        assert_eq!(
            meta.src,
            IpAddr::V6(a.link_local),
            "source = A's link-local"
        );
        assert_eq!(meta.dst, IpAddr::V6(VRRP_GROUP_V6));
        assert_eq!(
            meta.ttl_or_hop_limit,
            Some(255),
            "hop limit from IPV6_HOPLIMIT"
        );
        assert_eq!(
            meta.ifindex,
            eth0_index(&b.ns),
            "arrival interface from IPV6_PKTINFO"
        );
        assert_eq!(
            bytes.len(),
            advert.len(),
            "IPv6 raw sockets deliver no IP header"
        );
        assert_eq!(&bytes[..6], &advert[..6]);
        assert_eq!(&bytes[8..], &advert[8..]);
        assert_eq!(
            v6_checksum(a.link_local, VRRP_GROUP_V6, 112, bytes),
            0,
            "the kernel filled in the pseudo-header checksum (IPV6_CHECKSUM 6)"
        );
    }

    #[test]
    fn ipv6_advert_with_a_bad_checksum_never_reaches_the_socket() {
        let lab = Lab::builder("v6ck").hosts(2).observer(false).build();
        let (a, b) = (lab.host(0), lab.host(1));
        let bad = lab::vectors::packet("v3-ipv6-adverts.hex.txt", 1, "vrrp");
        let mut good = bad.clone();
        good[6] = 0;
        good[7] = 0;
        let sum = v6_checksum(a.link_local, VRRP_GROUP_V6, 112, &good);
        good[6..8].copy_from_slice(&sum.to_be_bytes());
        assert_ne!(bad[6..8], good[6..8]);

        let rx = receive(
            &b.ns,
            open_socket(&b.ns, b.link_local.into(), Delivery::Multicast),
            1,
        );
        let index = eth0_index(&a.ns);
        let good_sent = good.clone();
        a.ns.run(move || {
            // A plain raw socket: it sends the checksum bytes as given.
            let s = socket2::Socket::new(
                socket2::Domain::IPV6,
                socket2::Type::RAW,
                Some(socket2::Protocol::from(112)),
            )
            .unwrap();
            s.set_multicast_hops_v6(255).unwrap();
            s.set_multicast_if_v6(index).unwrap();
            let dst = SocketAddrV6::new(VRRP_GROUP_V6, 0, 0, index);
            s.send_to(&bad, &SocketAddr::V6(dst).into()).unwrap();
            s.send_to(&good_sent, &SocketAddr::V6(dst).into()).unwrap();
        });
        let got = rx.wait(RECV_LIMIT);
        assert_eq!(got[0].0, good, "the first packet delivered is the good one");
    }

    #[test]
    fn ipv6_unicast_copy_reaches_a_peer_by_its_global_address() {
        let lab = Lab::builder("v6uc").hosts(2).observer(false).build();
        let (a, b) = (lab.host(0), lab.host(1));
        let advert = lab::vectors::packet("v3-ipv6-adverts.hex.txt", 1, "vrrp");
        let rx = receive(
            &b.ns,
            open_socket(&b.ns, b.link_local.into(), Delivery::Unicast),
            1,
        );
        let tx = open_socket(&a.ns, a.link_local.into(), Delivery::Unicast);
        let peer = IpAddr::V6(b.ipv6);
        let payload = advert.clone();
        a.ns.run(move || tx.send_to(&payload, peer).expect("send"));
        let got = rx.wait(RECV_LIMIT);
        let (bytes, meta) = &got[0];
        assert_eq!(meta.dst, IpAddr::V6(b.ipv6));
        assert_eq!(meta.src, IpAddr::V6(a.link_local));
        assert_eq!(meta.ttl_or_hop_limit, Some(255), "IPV6_UNICAST_HOPS 255");
        assert_eq!(v6_checksum(a.link_local, b.ipv6, 112, bytes), 0);
    }

    #[test]
    fn a_source_of_the_wrong_family_is_refused() {
        let lab = Lab::builder("fam").hosts(1).observer(false).build();
        let h = lab.host(0);
        let mut sock = open_socket(&h.ns, h.ipv4.into(), Delivery::Multicast);
        let e = sock
            .set_source(IpAddr::V6(Ipv6Addr::LOCALHOST))
            .unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
        let e = sock
            .send_to(&[0u8; 8], IpAddr::V6(VRRP_GROUP_V6))
            .unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
        assert_eq!(sock.source(), IpAddr::V4(h.ipv4));
        let _ = Ipv4Addr::UNSPECIFIED;
    }
}
