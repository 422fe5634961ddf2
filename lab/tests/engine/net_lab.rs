//! The engine's Linux I/O edge, proven in network namespaces (needs root; fails with a
//! clear message otherwise, never skips): raw VRRP sockets, netlink, AF_PACKET and
//! gratuitous ARP, and the lab itself measured against keepalived 2.2.7.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::time::Duration;

use keepalived_charm::engine::net::vrrp_socket::Delivery;
use keepalived_charm::engine::net::{AsyncVrrpSocket, Interface, RecvMeta, VrrpSocket};
use netns_lab::{Lab, Netns, Task};
use vrrp_core::packet::wire::{IPV4_TOS_NETWORK_CONTROL, MCAST_GROUP_V4, MCAST_GROUP_V6, VRRP_TTL};

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
        let advert = netns_lab::vectors::packet("v2-mcast-auth-adverts.hex.txt", 1, "vrrp");
        assert_eq!(advert.len(), 20, "the v2 advert with one VIP and PASS auth");

        let rx = receive(
            &b.ns,
            open_socket(&b.ns, b.ipv4.into(), Delivery::Multicast),
            1,
        );
        let tx = open_socket(&a.ns, a.ipv4.into(), Delivery::Multicast);
        let payload = advert.clone();
        let sent =
            a.ns.run(move || tx.send_to(&payload, MCAST_GROUP_V4.into()).expect("send"));
        assert_eq!(sent, 20);

        let got = rx.wait(RECV_LIMIT);
        let (bytes, meta) = &got[0];
        assert_eq!(meta.src, IpAddr::V4(a.ipv4));
        assert_eq!(meta.dst, IpAddr::V4(MCAST_GROUP_V4));
        assert_eq!(
            meta.ttl_or_hop_limit,
            Some(VRRP_TTL),
            "TTL from IP_RECVTTL ancillary data"
        );
        assert_eq!(meta.ifindex, eth0_index(&b.ns));
        assert!(!meta.truncated);
        // The IPv4 header the kernel built, as keepalived builds it.
        assert_eq!(bytes[0], 0x45, "IPv4, IHL 5 (no options)");
        assert_eq!(bytes[1], IPV4_TOS_NETWORK_CONTROL, "TOS 0xc0");
        assert_eq!(bytes[8], 255, "TTL in the header");
        assert_eq!(bytes[9], 112, "protocol VRRP");
        assert_eq!(
            &bytes[12..16],
            &a.ipv4.octets(),
            "source = A's primary address"
        );
        assert_eq!(&bytes[16..20], &MCAST_GROUP_V4.octets());
        assert_eq!(&bytes[20..], &advert[..], "VRRP payload unchanged");
    }

    #[test]
    fn ipv4_received_ttl_is_the_packets_own_not_an_assumed_255() {
        let lab = Lab::builder("v4ttl").hosts(2).observer(false).build();
        let (a, b) = (lab.host(0), lab.host(1));
        let advert = netns_lab::vectors::packet("v2-mcast-auth-adverts.hex.txt", 1, "vrrp");
        let rx = receive(
            &b.ns,
            open_socket(&b.ns, b.ipv4.into(), Delivery::Multicast),
            1,
        );
        // A forged advert one hop away: a plain raw socket with TTL 254 (C-10, S13).
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
            let dst: SocketAddr = SocketAddr::new(MCAST_GROUP_V4.into(), 0);
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
        let advert = netns_lab::vectors::packet("v2-ucast-adverts.hex.txt", 1, "vrrp");
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
        // keepalived's unicast_src_ip may name any address of the host: a secondary.
        let src = lab.addr4(150);
        a.ns.ip(&format!("addr add {src}/24 dev eth0"));
        let tx = open_socket(&a.ns, src.into(), Delivery::Multicast);
        let peers = [IpAddr::V4(b.ipv4), IpAddr::V4(c.ipv4)];
        let payload = advert.clone();
        a.ns.run(move || {
            // First to the group: unicast-mode sockets joined no group and must not
            // see it, so the first packet each peer reads is its own unicast copy.
            tx.send_to(&payload, MCAST_GROUP_V4.into()).unwrap();
            for p in peers {
                tx.send_to(&payload, p).unwrap();
            }
        });
        assert_eq!(
            b_group.wait(RECV_LIMIT)[0].1.dst,
            IpAddr::V4(MCAST_GROUP_V4)
        );
        for (rx, me) in [(rx_b, b.ipv4), (rx_c, c.ipv4)] {
            let got = rx.wait(RECV_LIMIT);
            let (bytes, meta) = &got[0];
            assert_eq!(
                meta.dst,
                IpAddr::V4(me),
                "the peer's own copy, not the group's"
            );
            assert_eq!(
                meta.src,
                IpAddr::V4(src),
                "the configured source, not the primary"
            );
            assert_eq!(
                meta.ttl_or_hop_limit,
                Some(255),
                "IP_TTL 255 for unicast too"
            );
            assert_eq!(bytes[1], IPV4_TOS_NETWORK_CONTROL);
            assert_eq!(&bytes[20..], &advert[..]);
        }
    }

    #[test]
    fn ipv6_advert_leaves_from_the_link_local_with_hop_limit_255_and_a_kernel_checksum() {
        let lab = Lab::builder("v6mc").hosts(2).observer(false).build();
        let (a, b) = (lab.host(0), lab.host(1));
        let advert = netns_lab::vectors::packet("v3-ipv6-adverts.hex.txt", 1, "vrrp");
        assert_eq!(advert.len(), 24);
        // The capture's checksum is for keepalived's source address, not A's.
        assert_ne!(v6_checksum(a.link_local, MCAST_GROUP_V6, 112, &advert), 0);

        let rx = receive(
            &b.ns,
            open_socket(&b.ns, b.link_local.into(), Delivery::Multicast),
            1,
        );
        let tx = open_socket(&a.ns, a.link_local.into(), Delivery::Multicast);
        let mut zeroed = advert.clone();
        zeroed[6] = 0;
        zeroed[7] = 0;
        a.ns.run(move || tx.send_to(&zeroed, MCAST_GROUP_V6.into()).expect("send"));

        let got = rx.wait(RECV_LIMIT);
        let (bytes, meta) = &got[0];
        assert_eq!(
            meta.src,
            IpAddr::V6(a.link_local),
            "source = A's link-local"
        );
        assert_eq!(meta.dst, IpAddr::V6(MCAST_GROUP_V6));
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
            v6_checksum(a.link_local, MCAST_GROUP_V6, 112, bytes),
            0,
            "the kernel filled in the pseudo-header checksum (IPV6_CHECKSUM 6)"
        );
    }

    #[test]
    fn ipv6_advert_with_a_bad_checksum_never_reaches_the_socket() {
        let lab = Lab::builder("v6ck").hosts(2).observer(false).build();
        let (a, b) = (lab.host(0), lab.host(1));
        let bad = netns_lab::vectors::packet("v3-ipv6-adverts.hex.txt", 1, "vrrp");
        let mut good = bad.clone();
        good[6] = 0;
        good[7] = 0;
        let sum = v6_checksum(a.link_local, MCAST_GROUP_V6, 112, &good);
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
            let dst = SocketAddrV6::new(MCAST_GROUP_V6, 0, 0, index);
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
        let advert = netns_lab::vectors::packet("v3-ipv6-adverts.hex.txt", 1, "vrrp");
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
            .send_to(&[0u8; 8], IpAddr::V6(MCAST_GROUP_V6))
            .unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
        assert_eq!(sock.source(), IpAddr::V4(h.ipv4));
    }
}

mod netlink {
    use super::*;
    use keepalived_charm::engine::net::{AddOutcome, LinkWatch, NetEvent, Netlink, RemoveOutcome};
    use vrrp_core::proto::{Family, MacAddr};

    #[test]
    fn vips_are_added_and_removed_idempotently_and_an_ipv6_vip_is_never_tentative() {
        // DAD stays on in this lab, so "not tentative" is nodad's doing.
        let lab = Lab::builder("nlvip")
            .hosts(1)
            .observer(false)
            .ipv6_dad(true)
            .build();
        let h = lab.host(0);
        let (vip4, vip6, host4, mac) = (
            IpAddr::V4(lab.vip4()),
            IpAddr::V6(lab.vip6()),
            h.ipv4,
            h.mac,
        );
        // An address added the ordinary way is tentative while DAD runs (~1 s).
        let plain6 = lab.addr6(0x200);
        h.ns.ip(&format!("addr add {plain6}/64 dev eth0"));
        h.ns.block_on(move || async move {
            let nl = Netlink::connect().unwrap();
            let link = nl.link("eth0").await.unwrap();
            assert_eq!(
                (link.admin_up, link.running, link.mac),
                (true, true, Some(MacAddr(mac)))
            );
            assert!(nl.links().await.unwrap().iter().any(|l| l.name == "lo"));
            let eth0 = link.interface();

            assert_eq!(
                nl.add_address(&eth0, vip4, 24, Some("eth0:vip"))
                    .await
                    .unwrap(),
                AddOutcome::Added
            );
            assert_eq!(
                nl.add_address(&eth0, vip4, 24, Some("eth0:vip"))
                    .await
                    .unwrap(),
                AddOutcome::AlreadyPresent
            );
            assert_eq!(
                nl.add_address(&eth0, vip6, 64, None).await.unwrap(),
                AddOutcome::Added
            );
            assert_eq!(
                nl.add_address(&eth0, vip6, 64, None).await.unwrap(),
                AddOutcome::AlreadyPresent
            );

            let addrs = nl.addresses(Some(eth0.index)).await.unwrap();
            let v4 = addrs
                .iter()
                .find(|a| a.addr == vip4)
                .expect("v4 VIP listed");
            assert_eq!(
                (v4.prefix_len, v4.secondary, v4.label.as_deref()),
                (24, true, Some("eth0:vip"))
            );
            let v6 = addrs
                .iter()
                .find(|a| a.addr == vip6)
                .expect("v6 VIP listed");
            assert_eq!((v6.prefix_len, v6.nodad, v6.tentative), (64, true, false));
            let plain = addrs
                .iter()
                .find(|a| a.addr == IpAddr::V6(plain6))
                .expect("plain v6 listed");
            assert!(plain.tentative, "DAD is on in this lab: {plain:?}");
            // The VIP (a secondary) never becomes the advert source.
            assert_eq!(nl.primary_ipv4(eth0.index).await.unwrap(), Some(host4));

            assert_eq!(
                nl.remove_address(&eth0, vip4).await.unwrap(),
                RemoveOutcome::Removed
            );
            assert_eq!(
                nl.remove_address(&eth0, vip4).await.unwrap(),
                RemoveOutcome::NotPresent
            );
            assert_eq!(
                nl.remove_address(&eth0, vip6).await.unwrap(),
                RemoveOutcome::Removed
            );
            assert_eq!(
                nl.remove_address(&eth0, vip6).await.unwrap(),
                RemoveOutcome::NotPresent
            );
            let left: Vec<IpAddr> = nl
                .addresses(Some(eth0.index))
                .await
                .unwrap()
                .iter()
                .map(|a| a.addr)
                .collect();
            assert!(!left.contains(&vip4) && !left.contains(&vip6), "{left:?}");
            assert!(
                left.contains(&IpAddr::V4(host4)),
                "the host's own address stays"
            );
        });
        // And the kernel agrees, seen from outside our code.
        assert!(!h.has_address(vip4) && !h.has_address(vip6));
    }

    #[test]
    fn the_ipv6_link_local_is_reported_only_once_dad_has_passed() {
        let lab = Lab::builder("nlll")
            .hosts(1)
            .observer(false)
            .ipv6_dad(true)
            .build();
        let h = lab.host(0);
        let expected = h.link_local;
        let found = h.ns.block_on(move || async move {
            let nl = Netlink::connect().unwrap();
            let index = nl.link("eth0").await.unwrap().index;
            let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
            loop {
                let all = nl.addresses(Some(index)).await.unwrap();
                let ll = all.iter().find(|a| a.addr == IpAddr::V6(expected)).cloned();
                let reported = nl.link_local_ipv6(index).await.unwrap();
                match ll {
                    Some(a) if !a.tentative => return reported,
                    // While DAD runs the address exists but must not be handed out.
                    Some(_) => assert_eq!(reported, None),
                    None => {}
                }
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "link-local never left DAD"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        assert_eq!(found, Some(expected));
    }

    #[test]
    fn the_interface_of_a_subnet_and_of_the_default_route_are_found() {
        let lab = Lab::builder("nlrt").hosts(1).observer(false).build();
        let h = lab.host(0);
        // A second interface (a veth pair inside the host: this kernel has no dummy).
        h.ns.ip("link add side0 type veth peer name side0p");
        h.ns.ip("addr add 172.31.250.1/24 dev side0");
        h.ns.ip("addr add 172.31.0.1/16 dev side0");
        h.ns.ip("link set side0p up");
        h.ns.ip("link set side0 up");
        let (in_lab, gw) = (IpAddr::V4(lab.addr4(200)), lab.addr4(1));
        let no_default = h.ns.block_on(move || async move {
            let nl = Netlink::connect().unwrap();
            let name = |l: Option<keepalived_charm::engine::net::Link>| l.map(|l| l.name);
            assert_eq!(
                name(nl.interface_for_address(in_lab).await.unwrap()).as_deref(),
                Some("eth0")
            );
            assert_eq!(
                name(
                    nl.interface_for_address("172.31.250.9".parse().unwrap())
                        .await
                        .unwrap()
                )
                .as_deref(),
                Some("side0")
            );
            assert_eq!(
                name(
                    nl.interface_for_address("172.31.7.9".parse().unwrap())
                        .await
                        .unwrap()
                )
                .as_deref(),
                Some("side0")
            );
            assert_eq!(
                nl.interface_for_address("192.168.77.1".parse().unwrap())
                    .await
                    .unwrap(),
                None
            );
            nl.default_route_interface(Family::V4).await.unwrap()
        });
        assert_eq!(no_default, None, "a fresh namespace has no default route");
        h.ns.ip(&format!("route add default via {gw} dev eth0 metric 100"));
        h.ns.ip("route add default dev side0 metric 50");
        h.ns.ip("-6 route add default dev side0 metric 10");
        let (v4, v6) = h.ns.block_on(|| async {
            let nl = Netlink::connect().unwrap();
            (
                nl.default_route_interface(Family::V4)
                    .await
                    .unwrap()
                    .map(|l| l.name),
                nl.default_route_interface(Family::V6)
                    .await
                    .unwrap()
                    .map(|l| l.name),
            )
        });
        assert_eq!(v4.as_deref(), Some("side0"), "the lowest metric wins");
        assert_eq!(v6.as_deref(), Some("side0"));
    }

    #[test]
    fn stale_vips_left_by_an_unclean_exit_are_removed_and_nothing_else() {
        let lab = Lab::builder("nlstale").hosts(1).observer(false).build();
        let h = lab.host(0);
        let (vip4, vip6) = (lab.vip4(), lab.vip6());
        let other = lab.addr4(150);
        // What a SIGKILLed daemon leaves behind, plus an address that is not ours.
        h.ns.ip(&format!("addr add {vip4}/24 dev eth0"));
        h.ns.ip(&format!("addr add {vip6}/64 dev eth0 nodad"));
        h.ns.ip(&format!("addr add {other}/24 dev eth0"));
        let listed = [
            IpAddr::V4(vip4),
            IpAddr::V6(vip6),
            IpAddr::V4(lab.addr4(151)),
        ];
        let removed = h.ns.block_on(move || async move {
            let nl = Netlink::connect().unwrap();
            nl.remove_stale_vips("eth0", &listed).await.unwrap()
        });
        assert_eq!(removed, vec![IpAddr::V4(vip4), IpAddr::V6(vip6)]);
        assert!(!h.has_address(vip4.into()) && !h.has_address(vip6.into()));
        assert!(h.has_address(other.into()) && h.has_address(h.ipv4.into()));
        let err = h.ns.block_on(|| async {
            Netlink::connect()
                .unwrap()
                .remove_stale_vips("eth9", &[])
                .await
                .unwrap_err()
                .to_string()
        });
        assert_eq!(err, "no interface named \"eth9\" in this network namespace");
    }

    /// (admin_up, running) of eth0 as the watch reported it, consecutive duplicates
    /// removed.
    fn states(events: &[NetEvent]) -> Vec<(bool, bool)> {
        let mut out: Vec<(bool, bool)> = Vec::new();
        for e in events {
            if let NetEvent::Link(l) = e {
                let s = (l.admin_up, l.running);
                if out.last() != Some(&s) {
                    out.push(s);
                }
            }
        }
        out
    }

    fn is_subsequence(want: &[(bool, bool)], got: &[(bool, bool)]) -> bool {
        let mut it = got.iter();
        want.iter().all(|w| it.any(|g| g == w))
    }

    #[test]
    fn the_link_watch_sees_admin_down_carrier_loss_and_recovery() {
        let lab = Lab::builder("nlwatch").hosts(1).observer(false).build();
        let h = lab.host(0);
        let index = eth0_index(&h.ns);
        let watch = h.ns.run(|| LinkWatch::subscribe().expect("subscribe"));
        let want = [(false, false), (true, true), (true, false), (true, true)];
        let events = h.ns.spawn(move || async move {
            let mut watch = watch;
            let mut seen = Vec::new();
            let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
            while !is_subsequence(&want, &states(&seen)) {
                match tokio::time::timeout_at(deadline, watch.next_for(index)).await {
                    Ok(Some(e)) => seen.push(e),
                    _ => break,
                }
            }
            seen
        });
        h.link_down(); // the operator's `ip link set eth0 down`
        h.link_up();
        netns_lab::wait_for("eth0 to run again", Duration::from_secs(5), || {
            h.ns.ip("-j link show dev eth0").contains("\"LOWER_UP\"")
        });
        h.unplug(); // the cable: carrier lost, eth0 still administratively up
        h.plug();
        let events = events.wait(Duration::from_secs(15));
        let got = states(&events);
        assert!(is_subsequence(&want, &got), "link states seen: {got:?}");
        let usable: Vec<bool> = events
            .iter()
            .filter_map(|e| match e {
                NetEvent::Link(l) => Some(l.is_usable()),
                _ => None,
            })
            .collect();
        assert!(
            usable.contains(&false) && usable.last() == Some(&true),
            "{usable:?}"
        );
    }

    #[test]
    fn the_link_watch_sees_a_vip_deleted_behind_our_back() {
        let lab = Lab::builder("nladdr").hosts(1).observer(false).build();
        let h = lab.host(0);
        let vip = IpAddr::V4(lab.vip4());
        h.ns.ip(&format!("addr add {vip}/24 dev eth0"));
        let watch = h.ns.run(|| LinkWatch::subscribe().expect("subscribe"));
        let index = eth0_index(&h.ns);
        let event = h.ns.spawn(move || async move {
            let mut watch = watch;
            loop {
                match watch.next_for(index).await {
                    Some(NetEvent::AddressRemoved(a)) if a.addr == vip => return a,
                    Some(_) => continue,
                    None => panic!("the watch ended"),
                }
            }
        });
        h.ns.ip(&format!("addr del {vip}/24 dev eth0"));
        let removed = event.wait(Duration::from_secs(5));
        assert_eq!(
            (removed.addr, removed.prefix_len, removed.ifindex),
            (vip, 24, index)
        );
    }
}

mod arp {
    use super::*;
    use keepalived_charm::engine::net::{interface_mac, AsyncPacketSocket, PacketSocket};
    use netns_lab::Host;
    use vrrp_core::packet::wire::{ETHERTYPE_ARP, ETHERTYPE_IPV6};

    const BROADCAST: [u8; 6] = [0xff; 6];

    /// An Ethernet+ARP frame, Ethernet source = `sha`.
    fn arp_frame(
        op: u16,
        eth_dst: [u8; 6],
        sha: [u8; 6],
        spa: Ipv4Addr,
        tha: [u8; 6],
        tpa: Ipv4Addr,
    ) -> Vec<u8> {
        let mut f = Vec::with_capacity(42);
        f.extend_from_slice(&eth_dst);
        f.extend_from_slice(&sha);
        f.extend_from_slice(&ETHERTYPE_ARP.to_be_bytes());
        f.extend_from_slice(&[0, 1, 0x08, 0x00, 6, 4]);
        f.extend_from_slice(&op.to_be_bytes());
        f.extend_from_slice(&sha);
        f.extend_from_slice(&spa.octets());
        f.extend_from_slice(&tha);
        f.extend_from_slice(&tpa.octets());
        f
    }

    /// keepalived's gratuitous ARP: a broadcast request, SPA = TPA = the VIP, THA
    /// broadcast.
    fn garp_request(ip: Ipv4Addr, mac: [u8; 6]) -> Vec<u8> {
        arp_frame(1, BROADCAST, mac, ip, BROADCAST, ip)
    }

    fn fake_mac(last: u8) -> [u8; 6] {
        [0x02, 0xee, 0, 0, 0, last]
    }

    fn send_frames(h: &Host, frames: Vec<Vec<u8>>) {
        h.ns.run(move || {
            let sock =
                PacketSocket::open(&Interface::by_name("eth0").unwrap()).expect("AF_PACKET socket");
            for f in frames {
                assert_eq!(sock.send(&f).expect("send a frame"), f.len());
            }
        });
    }

    #[test]
    fn the_hand_built_garp_matches_keepalived_byte_for_byte() {
        let golden = netns_lab::vectors::packet("v2-mcast-auth-garp.hex.txt", 1, "frame");
        let built = garp_request(Ipv4Addr::new(10, 99, 0, 100), [0x02, 0x99, 0, 0, 0, 0x0c]);
        assert_eq!(built, golden);
    }

    #[test]
    fn a_frame_sent_on_the_packet_socket_arrives_byte_for_byte_from_the_interface_mac() {
        let lab = Lab::builder("pkt").hosts(2).observer(false).build();
        let (a, b) = (lab.host(0), lab.host(1));
        let a_mac = a.mac;
        assert_eq!(
            a.ns.run(|| interface_mac("eth0").expect("SIOCGIFHWADDR")).0,
            a_mac
        );
        assert!(a.ns.run(|| interface_mac("nosuch0")).is_err());

        let rx = b.ns.run(|| {
            PacketSocket::open_receiver(&Interface::by_name("eth0").unwrap(), ETHERTYPE_ARP)
                .expect("receiver")
        });
        let got = b.ns.spawn(move || async move {
            let rx = AsyncPacketSocket::new(rx).unwrap();
            let mut buf = [0u8; 2048];
            loop {
                let n = rx.recv(&mut buf).await.unwrap();
                if buf[6..12] == a_mac {
                    return buf[..n].to_vec();
                }
            }
        });
        let frame = garp_request(lab.addr4(77), a_mac);
        send_frames(a, vec![frame.clone()]);
        assert_eq!(got.wait(RECV_LIMIT), frame);
    }

    /// Sends `frames`, then an ARP request for B from a fresh fake sender, and waits
    /// until B has learnt that sender: B handles frames from one port in order, so by
    /// then it has processed `frames` too. No sleeps.
    fn send_then_sync(a: &Host, b: &Host, mut frames: Vec<Vec<u8>>, sentinel: u8, lab: &Lab) {
        let s_ip = lab.addr4(sentinel);
        frames.push(arp_frame(
            1,
            BROADCAST,
            fake_mac(sentinel),
            s_ip,
            [0; 6],
            b.ipv4,
        ));
        send_frames(a, frames);
        netns_lab::wait_for(
            "B to process the sentinel ARP request",
            Duration::from_secs(3),
            || b.neighbour(s_ip.into()).is_some(),
        );
    }

    fn mac_of(entry: Option<(String, Vec<String>)>) -> Option<String> {
        entry.map(|(mac, _)| mac)
    }

    /// docs/requirements.md C-30, answered on this kernel: a GARP request
    /// (SPA == TPA) overrides an existing neighbour entry even inside `locktime`, where
    /// an ordinary ARP reply is ignored; it creates a new entry only with arp_accept=1.
    #[test]
    fn gratuitous_arp_overrides_existing_entries_despite_locktime_and_creates_them_only_with_arp_accept(
    ) {
        let lab = Lab::builder("garp").hosts(2).observer(false).build();
        let (a, b) = (lab.host(0), lab.host(1));
        let x = lab.addr4(77);
        let (m1, m2, m3, m4) = (fake_mac(1), fake_mac(2), fake_mac(3), fake_mac(4));
        let text = |m: [u8; 6]| netns_lab::mac_text(&m);
        // A 5 s locktime (default 1 s) so "inside locktime" holds however slow the box.
        b.ns.exec_ok(&["sysctl", "-qw", "net.ipv4.neigh.eth0.locktime=500"]);
        let set_arp_accept = |v: u8| {
            for scope in ["all", "eth0"] {
                b.ns.exec_ok(&[
                    "sysctl",
                    "-qw",
                    &format!("net.ipv4.conf.{scope}.arp_accept={v}"),
                ]);
            }
        };

        // 1. arp_accept 0 (the default): a GARP for an address B has no entry for.
        send_then_sync(a, b, vec![garp_request(x, m1)], 91, &lab);
        let new_without_accept = b.neighbour(x.into());
        assert_eq!(
            new_without_accept, None,
            "arp_accept=0: a GARP creates no entry"
        );

        // 2. arp_accept 1: the same GARP creates the entry (STALE: a broadcast request
        //    does not prove reachability).
        set_arp_accept(1);
        send_then_sync(a, b, vec![garp_request(x, m1)], 92, &lab);
        let created = b.neighbour(x.into());
        assert_eq!(
            created,
            Some((text(m1), vec!["STALE".to_string()])),
            "arp_accept=1 creates it"
        );
        set_arp_accept(0);

        // 3. An ordinary unicast ARP reply with a new MAC, inside locktime: ignored.
        let reply = arp_frame(2, b.mac, m2, x, b.mac, b.ipv4);
        send_then_sync(a, b, vec![reply], 93, &lab);
        assert_eq!(
            mac_of(b.neighbour(x.into())),
            Some(text(m1)),
            "a plain reply inside locktime is ignored"
        );

        // 4. A GARP request with a new MAC, inside locktime: applied (arp_is_garp ->
        //    override), with arp_accept back at 0 since the entry exists.
        send_then_sync(a, b, vec![garp_request(x, m3)], 94, &lab);
        assert_eq!(
            mac_of(b.neighbour(x.into())),
            Some(text(m3)),
            "a GARP request overrides despite locktime"
        );

        // 5. The GARP reply form (op 2, SPA == TPA, THA == SHA), inside locktime: applied too.
        let garp_reply = arp_frame(2, BROADCAST, m4, x, m4, x);
        send_then_sync(a, b, vec![garp_reply], 95, &lab);
        assert_eq!(
            mac_of(b.neighbour(x.into())),
            Some(text(m4)),
            "a GARP reply overrides despite locktime"
        );
        eprintln!(
            "GARP observations (kernel {}): arp_accept=0 new entry: {new_without_accept:?}; \
             arp_accept=1 new entry: {created:?}; plain reply inside locktime: ignored; \
             GARP request and GARP reply inside locktime: override",
            netns_lab::ns::run_ok("uname", &["-r"]).trim()
        );
    }

    /// An unsolicited neighbour advertisement like keepalived's (source = the VIP, to
    /// ff02::1, O flag, target link-layer address option).
    fn unsolicited_na(target: Ipv6Addr, mac: [u8; 6]) -> Vec<u8> {
        let all_nodes: Ipv6Addr = "ff02::1".parse().unwrap();
        let mut icmp = vec![136, 0, 0, 0, 0x20, 0, 0, 0];
        icmp.extend_from_slice(&target.octets());
        icmp.extend_from_slice(&[2, 1]);
        icmp.extend_from_slice(&mac);
        let sum = v6_checksum(target, all_nodes, 58, &icmp);
        icmp[2..4].copy_from_slice(&sum.to_be_bytes());
        let mut f = vec![0x33, 0x33, 0, 0, 0, 1];
        f.extend_from_slice(&mac);
        f.extend_from_slice(&ETHERTYPE_IPV6.to_be_bytes());
        f.extend_from_slice(&[0x60, 0, 0, 0]);
        f.extend_from_slice(&u16::try_from(icmp.len()).unwrap().to_be_bytes());
        f.extend_from_slice(&[58, 255]);
        f.extend_from_slice(&target.octets());
        f.extend_from_slice(&all_nodes.octets());
        f.extend_from_slice(&icmp);
        f
    }

    #[test]
    fn the_hand_built_unsolicited_na_matches_keepalived_byte_for_byte() {
        let golden = netns_lab::vectors::packet("v3-ipv6-garp.hex.txt", 1, "frame");
        let built = unsolicited_na("fd00::100".parse().unwrap(), [0x02, 0x99, 0, 0, 0, 0x0c]);
        assert_eq!(built, golden);
    }

    /// The IPv6 counterpart: an unsolicited NA with O=1 overrides an existing entry;
    /// without one (and accept_untracked_na 0, the default) it creates nothing.
    #[test]
    fn unsolicited_na_overrides_an_existing_neighbour_entry_but_creates_none() {
        let lab = Lab::builder("una").hosts(2).observer(false).build();
        let (a, b) = (lab.host(0), lab.host(1));
        let (x, y) = (lab.addr6(0x77), lab.addr6(0x78));
        let text = |m: [u8; 6]| netns_lab::mac_text(&m);
        b.ns.ip(&format!(
            "neigh replace {x} lladdr {} dev eth0 nud reachable",
            text(fake_mac(1))
        ));
        // y first: B has no entry for it. Then x: once x's override shows, y was seen.
        send_frames(
            a,
            vec![
                unsolicited_na(y, fake_mac(5)),
                unsolicited_na(x, fake_mac(2)),
            ],
        );
        netns_lab::wait_for(
            "the NA to override x's entry",
            Duration::from_secs(3),
            || mac_of(b.neighbour(x.into())) == Some(text(fake_mac(2))),
        );
        assert_eq!(
            b.neighbour(y.into()),
            None,
            "an unsolicited NA creates no entry"
        );
    }
}

/// The lab proven against keepalived 2.2.7, and keepalived's failover figures as the
/// baseline our engine must beat (docs/scenarios.md B-1 quotes
/// 3.61 s crash / 0.61 s graceful at the default interval). Bounds come from the RFC
/// timers: never below the earliest moment a backup may promote (promoting early is a
/// bug too), generous above.
mod keepalived_baseline {
    use super::*;
    use std::time::Instant;

    use netns_lab::{AdvertLog, Prober, WireEvent};
    use vrrp_core::proto::{AdvertInterval, Priority, Timers, Version};

    /// Priorities of h1, h2, h3: h1 wins, h2 takes over.
    const PRIORITIES: [u8; 3] = [150, 100, 50];

    /// The RFC 3768 timers of the backup that takes over (h2, priority 100, 1 s).
    fn h2_timers() -> Timers {
        Timers::new(
            Version::V2,
            Priority::from_wire(PRIORITIES[1]),
            AdvertInterval::DEFAULT,
        )
    }

    fn ms(d: Duration) -> f64 {
        d.as_secs_f64() * 1000.0
    }

    /// Three keepalived hosts (v2, VRID 51, 1 s, PASS auth like the captures), the
    /// observer probing the VIP and listening to adverts; returns once h1 holds the
    /// VIP and has advertised as master.
    fn elect(lab: &Lab) -> (Prober, AdvertLog) {
        elect_with(lab, |conf| conf.auth_pass = Some("s3cr3t".to_string()))
    }

    fn elect_with(
        lab: &Lab,
        adjust: impl Fn(&mut netns_lab::KeepalivedConf),
    ) -> (Prober, AdvertLog) {
        lab.start_listeners();
        let adverts = lab.watch_adverts(lab.vip4().into());
        for (i, prio) in PRIORITIES.into_iter().enumerate() {
            let mut conf = lab.keepalived_conf(i, prio);
            adjust(&mut conf);
            lab.host(i).start_keepalived(&conf.render());
        }
        let start = Instant::now();
        let prober = lab.start_prober(lab.vip4().into());
        prober.wait_holder("h1", start, Duration::from_secs(10));
        adverts.wait_from(
            lab.host(0).ipv4.into(),
            Instant::now(),
            Duration::from_secs(3),
        );
        (prober, adverts)
    }

    #[test]
    fn keepalived_graceful_stop_hands_the_vip_over_after_about_the_skew_time() {
        let lab = Lab::builder("kagrace").hosts(3).build();
        let (prober, _adverts) = elect(&lab);
        let t0 = Instant::now();
        lab.host(0).stop_daemon(Duration::from_secs(5));
        prober.wait_holder("h2", t0, Duration::from_secs(5));
        let report = prober.stop();
        let gap = report
            .longest_gap_after(t0)
            .expect("answers around the stop");
        let skew = h2_timers().skew_time;
        eprintln!(
            "keepalived baseline, graceful stop (SIGTERM) of the master: client outage {:.1} ms \
             (h2 skew time {:.1} ms); holders: {}",
            ms(gap.len()),
            ms(skew),
            report.summary_since(t0)
        );
        assert_eq!(
            (gap.host_before.as_str(), gap.host_after.as_str()),
            ("h1", "h2")
        );
        assert!(
            gap.len() + Duration::from_millis(20) >= skew,
            "h2 promoted before its skew time: outage {:?} < {skew:?}",
            gap.len()
        );
        assert!(
            gap.len() <= skew + Duration::from_millis(500),
            "outage {:?}",
            gap.len()
        );
        assert_eq!(
            report.hosts_since(gap.to),
            vec!["h2".to_string()],
            "h3 never answers"
        );
        assert!(
            !lab.host(0).has_address(lab.vip4().into()),
            "a stopped keepalived releases the VIP"
        );
    }

    /// The machine of the master dies (docs/scenarios.md S2): its switch port goes down and
    /// keepalived is SIGKILLed, right after an advert, so the outage covers the whole
    /// Master_Down_Interval of h2.
    #[test]
    fn keepalived_crash_of_the_master_hands_the_vip_over_after_about_the_master_down_interval() {
        let lab = Lab::builder("kacrash").hosts(3).build();
        let (prober, adverts) = elect(&lab);
        let capture = lab.capture("vrrp or arp", "crash");
        let h1 = IpAddr::V4(lab.host(0).ipv4);
        let h2 = IpAddr::V4(lab.host(1).ipv4);
        let last = adverts.wait_from(h1, Instant::now(), Duration::from_secs(3));
        let t_crash = lab.host(0).crash();
        // The host is surely gone once crash() returns: the outage cannot be shorter
        // than h2's Master_Down_Interval minus the time from h1's last advert to here
        // (10 ms slack: the observer stamps adverts in user space, a little late).
        let gone = Instant::now() - last.at;
        prober.wait_holder("h2", t_crash, Duration::from_secs(8));
        let first_h2 = adverts.wait_from(h2, t_crash, Duration::from_secs(2));
        let report = prober.stop();
        let wire = capture.stop();

        let gap = report
            .longest_gap_after(t_crash)
            .expect("answers around the crash");
        let md = h2_timers().master_down_interval;
        let late = t_crash - last.at;
        let t_detect = first_h2.at - last.at;
        let wire_detect = wire_t_detect(
            &wire,
            &lab.host(0).ipv4.to_string(),
            &lab.host(1).ipv4.to_string(),
        );
        eprintln!(
            "keepalived baseline, master crash (port down + SIGKILL) {:.1} ms after its last advert: \
             client outage {:.1} ms, T_detect {:.1} ms (wire {:.1} ms), h2 Master_Down_Interval {:.1} ms; \
             holders: {}",
            ms(late),
            ms(gap.len()),
            ms(t_detect),
            wire_detect * 1000.0,
            ms(md),
            report.summary_since(t_crash)
        );
        assert_eq!(
            (gap.host_before.as_str(), gap.host_after.as_str()),
            ("h1", "h2")
        );
        assert!(
            t_detect + Duration::from_millis(20) >= md,
            "h2 advertised before its Master_Down_Interval: {t_detect:?} < {md:?}"
        );
        assert!(
            t_detect <= md + Duration::from_millis(300),
            "T_detect {t_detect:?}"
        );
        assert!(
            gap.len() + gone + Duration::from_millis(10) >= md,
            "outage {:?} shorter than Master_Down_Interval {md:?} minus {gone:?}",
            gap.len()
        );
        assert!(
            gap.len() <= md + Duration::from_secs(1),
            "outage {:?}",
            gap.len()
        );
        assert!(
            (wire_detect - t_detect.as_secs_f64()).abs() < 0.05,
            "wire and socket agree"
        );
        assert!(
            wire.iter().any(|e| matches!(e, WireEvent::Arp { src_mac, text, .. }
                if *src_mac == lab.host(1).mac_text() && text.contains(&format!("who-has {} ", lab.vip4())))),
            "h2 sent a gratuitous ARP for the VIP"
        );
    }

    /// The master's interface goes down under a live keepalived: it cannot send
    /// priority 0 on a dead link, so h2 waits its full Master_Down_Interval.
    #[test]
    fn keepalived_master_link_down_hands_the_vip_over_after_about_the_master_down_interval() {
        let lab = Lab::builder("kalink").hosts(3).build();
        let (prober, adverts) = elect(&lab);
        let h1 = IpAddr::V4(lab.host(0).ipv4);
        let last = adverts.wait_from(h1, Instant::now(), Duration::from_secs(3));
        let t_down = Instant::now();
        lab.host(0).link_down();
        let gone = Instant::now() - last.at;
        prober.wait_holder("h2", t_down, Duration::from_secs(8));
        let report = prober.stop();
        let gap = report
            .longest_gap_after(t_down)
            .expect("answers around the link loss");
        let md = h2_timers().master_down_interval;
        let late = t_down - last.at;
        eprintln!(
            "keepalived baseline, master link down {:.1} ms after its last advert: client outage {:.1} ms, \
             h2 Master_Down_Interval {:.1} ms",
            ms(late),
            ms(gap.len()),
            ms(md)
        );
        assert!(
            gap.len() + gone + Duration::from_millis(10) >= md,
            "outage {:?}",
            gap.len()
        );
        assert!(
            gap.len() <= md + Duration::from_secs(1),
            "outage {:?}",
            gap.len()
        );
        assert_eq!(gap.host_after, "h2");
    }

    #[test]
    fn the_capture_reader_decodes_tcpdump_lines_for_adverts_and_arp() {
        let advert = "1795296926.229346 02:7c:01:00:00:0b > 01:00:5e:00:00:12, ethertype IPv4 (0x0800), \
                      length 54: 10.124.1.11 > 224.0.0.18: VRRPv2, Advertisement, vrid 51, prio 150, \
                      authtype simple, intvl 1s, length 20";
        assert_eq!(
            netns_lab::capture::parse_line(advert),
            Some(WireEvent::Advert {
                t: 1795296926.229346,
                src: "10.124.1.11".to_string(),
                vrid: 51,
                priority: 150
            })
        );
        let garp = "1795296953.271621 02:b1:01:00:00:0c > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806), \
                    length 42: Request who-has 10.177.1.100 (ff:ff:ff:ff:ff:ff) tell 10.177.1.100, length 28";
        assert_eq!(
            netns_lab::capture::parse_line(garp),
            Some(WireEvent::Arp {
                t: 1795296953.271621,
                src_mac: "02:b1:01:00:00:0c".to_string(),
                text:
                    "Request who-has 10.177.1.100 (ff:ff:ff:ff:ff:ff) tell 10.177.1.100, length 28"
                        .to_string()
            })
        );
    }

    /// VRRPv3 at advert_int 0.1 s (docs/scenarios.md B-1: keepalived ≈ 0.36 s): first a
    /// graceful stop of h1 (h2 takes over after its skew), then a crash of h2 (h3 takes
    /// over after its Master_Down_Interval), in one lab.
    #[test]
    fn keepalived_v3_at_100_ms_hands_over_within_the_scaled_skew_and_master_down_interval() {
        let lab = Lab::builder("kav3").hosts(3).build();
        let interval = AdvertInterval::from_centis(10).unwrap();
        let (prober, adverts) = elect_with(&lab, |conf| {
            conf.version = 3;
            conf.advert_int = "0.1".to_string();
        });
        let timers = |prio: u8| Timers::new(Version::V3, Priority::from_wire(prio), interval);

        let t_stop = Instant::now();
        lab.host(0).stop_daemon(Duration::from_secs(5));
        prober.wait_holder("h2", t_stop, Duration::from_secs(3));
        let graceful = prober
            .report()
            .longest_gap_after(t_stop)
            .expect("answers around the stop");
        let skew = timers(PRIORITIES[1]).skew_time;

        let h2 = IpAddr::V4(lab.host(1).ipv4);
        let h3 = IpAddr::V4(lab.host(2).ipv4);
        let last = adverts.wait_from(h2, Instant::now(), Duration::from_secs(1));
        let t_crash = lab.host(1).crash();
        prober.wait_holder("h3", t_crash, Duration::from_secs(3));
        let first_h3 = adverts.wait_from(h3, t_crash, Duration::from_secs(1));
        let crash = prober
            .stop()
            .longest_gap_after(t_crash)
            .expect("answers around the crash");
        let md = timers(PRIORITIES[2]).master_down_interval;
        let t_detect = first_h3.at - last.at;
        eprintln!(
            "keepalived baseline, VRRPv3 0.1 s: graceful stop outage {:.1} ms (h2 skew {:.1} ms); \
             crash {:.1} ms after the last advert: outage {:.1} ms, T_detect {:.1} ms \
             (h3 Master_Down_Interval {:.1} ms)",
            ms(graceful.len()),
            ms(skew),
            ms(t_crash - last.at),
            ms(crash.len()),
            ms(t_detect),
            ms(md)
        );
        assert_eq!(
            (graceful.host_before.as_str(), graceful.host_after.as_str()),
            ("h1", "h2")
        );
        assert!(
            graceful.len() + Duration::from_millis(20) >= skew,
            "{:?}",
            graceful.len()
        );
        assert!(
            graceful.len() <= skew + Duration::from_millis(400),
            "{:?}",
            graceful.len()
        );
        assert_eq!(
            (crash.host_before.as_str(), crash.host_after.as_str()),
            ("h2", "h3")
        );
        assert!(
            t_detect + Duration::from_millis(20) >= md,
            "h3 early: {t_detect:?} < {md:?}"
        );
        assert!(
            t_detect <= md + Duration::from_millis(200),
            "T_detect {t_detect:?}"
        );
        assert!(
            crash.len() <= md + Duration::from_millis(500),
            "{:?}",
            crash.len()
        );
    }

    /// Wire T_detect: first advert from `new` minus the last advert from `old` before it.
    fn wire_t_detect(events: &[WireEvent], old: &str, new: &str) -> f64 {
        let first_new = events
            .iter()
            .find_map(|e| match e {
                WireEvent::Advert { t, src, .. } if src == new => Some(*t),
                _ => None,
            })
            .expect("an advert from the new master in the capture");
        let last_old = events
            .iter()
            .rev()
            .find_map(|e| match e {
                WireEvent::Advert {
                    t, src, priority, ..
                } if src == old && *t < first_new && *priority > 0 => Some(*t),
                _ => None,
            })
            .expect("an advert from the old master in the capture");
        first_new - last_old
    }
}
