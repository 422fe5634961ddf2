//! Per-packet cost of the codec: decode + receive ladder, and encode, for VRRPv2,
//! VRRPv3/IPv4 and VRRPv3/IPv6 adverts shaped like the lab captures.
//!
//! `cargo bench -p vrrp-benches --bench codec -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::net::IpAddr;

use criterion::{criterion_group, criterion_main, Criterion};
use vrrp_core::packet::{
    build_ipv4_header, encode_advert_into, Demux, EncodeOptions, IpMeta, Ipv6FirstAddress, RxExpect,
};
use vrrp_core::proto::{Advert, AdvertInterval, Auth, Family, Priority, Version, Vrid};

struct Case {
    name: &'static str,
    advert: Advert,
    src: IpAddr,
    dst: IpAddr,
    options: EncodeOptions,
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn cases() -> Vec<Case> {
    let vrid = Vrid::new(51).unwrap();
    let advert = |version, interval, addresses: Vec<IpAddr>, auth| Advert {
        version,
        vrid,
        priority: Priority::from_wire(150),
        interval,
        addresses,
        auth,
    };
    vec![
        Case {
            name: "v2",
            advert: advert(
                Version::V2,
                AdvertInterval::DEFAULT,
                vec![ip("10.99.0.100")],
                Auth::pass("s3cr3t"),
            ),
            src: ip("10.99.0.11"),
            dst: ip("224.0.0.18"),
            options: EncodeOptions::default(),
        },
        Case {
            name: "v3-ipv4",
            advert: advert(
                Version::V3,
                AdvertInterval::from_centis(10).unwrap(),
                vec![ip("10.99.0.100")],
                Auth::None,
            ),
            src: ip("10.99.0.11"),
            dst: ip("224.0.0.18"),
            options: EncodeOptions::default(),
        },
        Case {
            name: "v3-ipv6",
            advert: advert(
                Version::V3,
                AdvertInterval::DEFAULT,
                vec![ip("fe80::1:100"), ip("fd00::100")],
                Auth::None,
            ),
            src: ip("fe80::99:ff:fe00:b"),
            dst: ip("ff02::12"),
            options: EncodeOptions {
                ipv6_first_address: Ipv6FirstAddress::LinkLocal,
                ..EncodeOptions::default()
            },
        },
    ]
}

fn receiver(case: &Case) -> Demux {
    let a = &case.advert;
    let mut expect = RxExpect::new(
        a.version,
        a.family(),
        a.vrid,
        a.interval,
        a.addresses.clone(),
    );
    expect.auth = a.auth;
    let mut demux = Demux::new();
    demux.insert(expect);
    demux
}

fn bench(c: &mut Criterion) {
    for case in cases() {
        let mut pdu = Vec::new();
        encode_advert_into(&case.advert, case.src, case.dst, &case.options, &mut pdu).unwrap();

        c.bench_function(&format!("encode/{}", case.name), |b| {
            let mut buf = Vec::with_capacity(128);
            b.iter(|| {
                buf.clear();
                encode_advert_into(
                    black_box(&case.advert),
                    case.src,
                    case.dst,
                    &case.options,
                    &mut buf,
                )
                .unwrap();
                black_box(&buf);
            })
        });

        let mut demux = receiver(&case);
        match (case.src, case.dst, case.advert.family()) {
            (IpAddr::V4(s), IpAddr::V4(d), Family::V4) => {
                let mut packet = build_ipv4_header(s, d, 1, pdu.len() as u16).to_vec();
                packet.extend_from_slice(&pdu);
                c.bench_function(&format!("decode+ladder/{}", case.name), |b| {
                    b.iter(|| black_box(demux.receive_ipv4(black_box(&packet)).unwrap()))
                });
            }
            _ => {
                let meta = IpMeta {
                    src: case.src,
                    dst: case.dst,
                    ttl: 255,
                };
                c.bench_function(&format!("decode+ladder/{}", case.name), |b| {
                    b.iter(|| black_box(demux.receive(meta, black_box(&pdu)).unwrap()))
                });
            }
        }
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
