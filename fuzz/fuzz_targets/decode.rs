//! Arbitrary bytes into both decode entry points and the receive ladder: nothing may
//! panic, and every packet is either accepted or counted as exactly one drop.
#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use vrrp_core::packet::{
    decode_ipv4_packet, decode_vrrp, Demux, IpMeta, RxExpect, Transport,
};
use vrrp_core::proto::{AdvertInterval, Auth, Family, Version, Vrid};
use libfuzzer_sys::fuzz_target;

fn demux() -> Demux {
    let mut d = Demux::new();
    let vip = IpAddr::V4(Ipv4Addr::new(10, 99, 0, 100));
    for (vrid, version) in [(1u8, Version::V2), (51, Version::V2), (52, Version::V3)] {
        let Ok(vrid) = Vrid::new(vrid) else { return d };
        let mut e = RxExpect::new(version, Family::V4, vrid, AdvertInterval::DEFAULT, vec![vip]);
        if vrid.get() == 1 {
            e.auth = Auth::pass("s3cr3t");
            e.transport = Transport::Unicast {
                peers: vec![IpAddr::V4(Ipv4Addr::new(10, 99, 0, 11))],
            };
        }
        d.insert(e);
    }
    if let Ok(vrid) = Vrid::new(51) {
        let ll = IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 1, 0x100));
        d.insert(RxExpect::new(
            Version::V3,
            Family::V6,
            vrid,
            AdvertInterval::DEFAULT,
            vec![ll],
        ));
    }
    d
}

fuzz_target!(|data: &[u8]| {
    let _ = decode_ipv4_packet(data);
    // The first 34 bytes, when present, choose the IP facts of the IPv6-style path.
    let (meta, payload) = match data.split_first_chunk::<34>() {
        Some((head, rest)) => {
            let mut src = [0u8; 16];
            let mut dst = [0u8; 16];
            src.copy_from_slice(&head[..16]);
            dst.copy_from_slice(&head[16..32]);
            let meta = if head[33] & 1 == 0 {
                IpMeta {
                    src: IpAddr::V6(Ipv6Addr::from(src)),
                    dst: IpAddr::V6(Ipv6Addr::from(dst)),
                    ttl: head[32],
                }
            } else {
                IpMeta {
                    src: IpAddr::V4(Ipv4Addr::new(src[0], src[1], src[2], src[3])),
                    dst: IpAddr::V4(Ipv4Addr::new(dst[0], dst[1], dst[2], dst[3])),
                    ttl: head[32],
                }
            };
            (meta, rest)
        }
        None => (
            IpMeta {
                src: IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1)),
                dst: IpAddr::V6(Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12)),
                ttl: 255,
            },
            data,
        ),
    };
    let _ = decode_vrrp(meta, payload);
    let mut d = demux();
    let _ = d.receive_ipv4(data);
    let _ = d.receive(meta, payload);
    let c = d.counters();
    assert_eq!(c.accepted + c.drops.total(), 2);
});
