//! Golden vectors: every packet keepalived 2.2.7 put on the wire in the lab captures
//! (`tests/vectors/*.hex.txt`, described in `tests/vectors/INDEX.md`) decodes to the
//! configured values, verifies, passes the receive ladder of the peer that received
//! it, and is re-encoded by our engine to the same bytes (C-01, C-02, C-04, C-30).

use std::fs;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use vrrp_core::packet::{
    build_ipv4_header, decode_ipv4_packet, decode_vrrp, encode_advert, gratuitous_arp,
    unsolicited_na, ChecksumForm, Demux, EncodeOptions, IpMeta, Ipv6FirstAddress, Received,
    RxExpect, Transport,
};
use vrrp_core::proto::{AdvertInterval, Auth, Family, MacAddr, Priority, Version, Vrid};

// ---------------------------------------------------------------- the files

/// One captured frame and what the capture tool said about it.
struct Frame {
    file: String,
    index: u32,
    /// The decode on the '#' line, e.g. "VRRP Announcement (v2)".
    description: String,
    bytes: Vec<u8>,
    /// The 'vrrp:' line: the VRRP PDU the capture tool extracted.
    vrrp: Option<Vec<u8>>,
}

fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

fn hex(s: &str) -> Vec<u8> {
    assert!(s.len() % 2 == 0, "odd hex {s}");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn load_all() -> Vec<Frame> {
    let mut files: Vec<_> = fs::read_dir(vectors_dir())
        .expect("tests/vectors")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.to_string_lossy().ends_with(".hex.txt"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 32, "the 32 capture files of INDEX.md");
    files.iter().flat_map(|p| load(p)).collect()
}

fn load(path: &Path) -> Vec<Frame> {
    let file = path.file_name().unwrap().to_string_lossy().into_owned();
    let text = fs::read_to_string(path).expect("vector file");
    let mut frames: Vec<Frame> = Vec::new();
    let mut header: Option<(u32, String)> = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# ") {
            // "# 12 t=+1.0s len=54 VRRP Announcement (v2)"
            let mut words = rest.splitn(4, ' ');
            if let (Some(n), Some(t), Some(_len), Some(desc)) =
                (words.next(), words.next(), words.next(), words.next())
            {
                if let (Ok(n), true) = (n.parse(), t.starts_with("t=")) {
                    header = Some((n, desc.to_string()));
                }
            }
        } else if let Some(rest) = line.strip_prefix("frame: ") {
            let (index, description) = header.take().expect("frame without # line");
            frames.push(Frame {
                file: file.clone(),
                index,
                description,
                bytes: hex(rest.trim()),
                vrrp: None,
            });
        } else if let Some(rest) = line.strip_prefix("vrrp: ") {
            let pdu = rest.split_whitespace().next().expect("vrrp hex");
            frames.last_mut().expect("vrrp without frame").vrrp = Some(hex(pdu));
        }
    }
    assert!(!frames.is_empty(), "{file} holds no frame");
    frames
}

// ------------------------------------------------- what the lab was configured with

const H1_V4: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 11);
const H2_V4: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 12);
const H1_LL: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0x99, 0xff, 0xfe00, 0xb);
const H2_LL: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0x99, 0xff, 0xfe00, 0xc);

/// The scenario of a capture file, from INDEX.md and the h1/h2 configs beside it.
#[derive(Debug)]
struct Scenario {
    name: &'static str,
    version: Version,
    family: Family,
    interval: AdvertInterval,
    addresses: Vec<IpAddr>,
    auth: Auth,
    unicast: bool,
}

fn scenario(file: &str) -> Scenario {
    let stem = file.strip_suffix(".hex.txt").expect("a .hex.txt file");
    let stem = ["-adverts", "-garp", "-prio0", "-arp-replies"]
        .iter()
        .find_map(|suffix| stem.strip_suffix(suffix))
        .unwrap_or(stem);
    let name = [
        "v2-kill-stale",
        "v2-mcast-auth",
        "v2-startup-race",
        "v2-ucast",
        "v3-ipv6-ll",
        "v3-ipv6",
        "v3-mcast",
        "v3-ucast",
    ]
    .into_iter()
    .find(|n| *n == stem)
    .unwrap_or_else(|| panic!("no scenario for {file}"));
    let vip4 = vec!["10.99.0.100".parse().unwrap()];
    let version = if name.starts_with("v2") {
        Version::V2
    } else {
        Version::V3
    };
    let (family, addresses) = match name {
        "v3-ipv6" => (Family::V6, vec!["fd00::100".parse().unwrap()]),
        "v3-ipv6-ll" => (
            Family::V6,
            vec!["fe80::1:100".parse().unwrap(), "fd00::100".parse().unwrap()],
        ),
        _ => (Family::V4, vip4),
    };
    Scenario {
        name,
        version,
        family,
        interval: if name == "v3-mcast" {
            AdvertInterval::from_centis(10).unwrap()
        } else {
            AdvertInterval::DEFAULT
        },
        addresses,
        auth: if name == "v2-mcast-auth" {
            Auth::pass("s3cr3t")
        } else {
            Auth::None
        },
        unicast: name.ends_with("ucast"),
    }
}

/// h1 is configured with priority 150, h2 with 100 (every *.h1.conf / *.h2.conf).
fn configured_priority(src: IpAddr) -> u8 {
    match src {
        IpAddr::V4(a) if a == H1_V4 => 150,
        IpAddr::V4(a) if a == H2_V4 => 100,
        IpAddr::V6(a) if a == H1_LL => 150,
        IpAddr::V6(a) if a == H2_LL => 100,
        other => panic!("unexpected sender {other}"),
    }
}

/// The other host: the one whose keepalived received the advert.
fn peer_of(src: IpAddr) -> IpAddr {
    match src {
        IpAddr::V4(a) if a == H1_V4 => IpAddr::V4(H2_V4),
        IpAddr::V4(_) => IpAddr::V4(H1_V4),
        IpAddr::V6(a) if a == H1_LL => IpAddr::V6(H2_LL),
        IpAddr::V6(_) => IpAddr::V6(H1_LL),
    }
}

/// The receive expectations of the host that received an advert from `src`.
fn receiver(s: &Scenario, src: IpAddr) -> RxExpect {
    let mut expect = RxExpect::new(
        s.version,
        s.family,
        Vrid::new(51).unwrap(),
        s.interval,
        s.addresses.clone(),
    );
    expect.auth = s.auth;
    if s.unicast {
        expect.transport = Transport::Unicast { peers: vec![src] };
    }
    expect
}

// ------------------------------------------------------------- the VRRP packets

/// One VRRP packet found in a capture, with the IP facts around it.
struct VrrpPacket<'a> {
    frame: &'a Frame,
    /// The IPv4 packet (header + VRRP) when carried over IPv4.
    ipv4: Option<&'a [u8]>,
    meta: IpMeta,
    payload: &'a [u8],
    /// Quoted inside an ICMP Protocol Unreachable (the peer had no VRRP socket yet).
    quoted: bool,
}

const ETH: usize = 14;

fn vrrp_packets(frames: &[Frame]) -> Vec<VrrpPacket<'_>> {
    let mut out = Vec::new();
    for f in frames {
        let b = &f.bytes;
        match u16::from_be_bytes([b[12], b[13]]) {
            0x0800 => {
                let ip = &b[ETH..];
                let ihl = usize::from(ip[0] & 0x0f) * 4;
                match ip[9] {
                    112 => out.push(ipv4_packet(f, ip, false)),
                    // ICMP type 3 code 2 quoting a whole VRRP packet (IP header + PDU).
                    1 if ip[ihl] == 3 && ip[ihl + 1] == 2 && ip[ihl + 8 + 9] == 112 => {
                        out.push(ipv4_packet(f, &ip[ihl + 8..], true))
                    }
                    _ => {}
                }
            }
            0x86dd if b[ETH + 6] == 112 => {
                let ip = &b[ETH..];
                let len = usize::from(u16::from_be_bytes([ip[4], ip[5]]));
                let addr = |at: usize| {
                    let mut o = [0u8; 16];
                    o.copy_from_slice(&ip[at..at + 16]);
                    IpAddr::V6(Ipv6Addr::from(o))
                };
                out.push(VrrpPacket {
                    frame: f,
                    ipv4: None,
                    meta: IpMeta {
                        src: addr(8),
                        dst: addr(24),
                        ttl: ip[7],
                    },
                    payload: &ip[40..40 + len],
                    quoted: false,
                });
            }
            _ => {}
        }
    }
    out
}

fn ipv4_packet<'a>(frame: &'a Frame, ip: &'a [u8], quoted: bool) -> VrrpPacket<'a> {
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
    let v4 = |at: usize| IpAddr::V4(Ipv4Addr::new(ip[at], ip[at + 1], ip[at + 2], ip[at + 3]));
    VrrpPacket {
        frame,
        ipv4: Some(&ip[..total]),
        meta: IpMeta {
            src: v4(12),
            dst: v4(16),
            ttl: ip[8],
        },
        payload: &ip[ihl..total],
        quoted,
    }
}

fn decode(p: &VrrpPacket<'_>) -> Received {
    let what = format!("{} #{}", p.frame.file, p.frame.index);
    let received = match p.ipv4 {
        Some(packet) => decode_ipv4_packet(packet),
        None => decode_vrrp(p.meta, p.payload),
    };
    received.unwrap_or_else(|e| panic!("{what}: {e}"))
}

fn where_(p: &VrrpPacket<'_>) -> String {
    format!("{} #{}", p.frame.file, p.frame.index)
}

// -------------------------------------------------------------------- the tests

#[test]
fn every_vrrp_packet_of_every_capture_is_examined() {
    let frames = load_all();
    let packets = vrrp_packets(&frames);
    let announced = frames
        .iter()
        .filter(|f| f.description.starts_with("VRRP Announcement"))
        .count();
    let with_pdu_line = frames.iter().filter(|f| f.vrrp.is_some()).count();
    let direct = packets.iter().filter(|p| !p.quoted).count();
    let quoted = packets.iter().filter(|p| p.quoted).count();
    let unreachables = frames
        .iter()
        .filter(|f| f.description.contains("Protocol unreachable"))
        .count();
    assert_eq!(direct, announced, "one VRRP packet per 'VRRP Announcement'");
    assert_eq!(direct, with_pdu_line, "one VRRP packet per 'vrrp:' line");
    assert_eq!(quoted, unreachables, "each ICMP error quotes one advert");
    assert_eq!((direct, quoted), (489, 50));
    for p in packets.iter().filter(|p| !p.quoted) {
        assert_eq!(
            p.frame.vrrp.as_deref(),
            Some(p.payload),
            "{}: 'vrrp:' line is the IP payload",
            where_(p)
        );
    }
}

#[test]
fn every_keepalived_advert_decodes_to_the_configured_fields() {
    let frames = load_all();
    for p in vrrp_packets(&frames) {
        let at = where_(&p);
        let s = scenario(&p.frame.file);
        let r = decode(&p);
        let a = &r.advert;
        assert_eq!(a.version, s.version, "{at}");
        assert_eq!(a.vrid.get(), 51, "{at}");
        assert_eq!(a.interval, s.interval, "{at}");
        assert_eq!(a.addresses, s.addresses, "{at}: same list, same order");
        assert_eq!(a.auth, s.auth, "{at}");
        let prio = a.priority.get();
        if p.frame.file.ends_with("-prio0.hex.txt") {
            assert_eq!(prio, 0, "{at}: priority-0 capture");
        } else {
            assert!(
                prio == configured_priority(r.src) || prio == 0,
                "{at}: priority {prio}"
            );
        }
        // C-01: TTL / hop limit 255, and the right destination.
        assert_eq!(r.ttl, 255, "{at}");
        let expected_dst: IpAddr = match (s.unicast, s.family) {
            (true, _) => peer_of(r.src),
            (false, Family::V4) => "224.0.0.18".parse().unwrap(),
            (false, Family::V6) => "ff02::12".parse().unwrap(),
        };
        assert_eq!(r.dst, expected_dst, "{at}");
        // The checksum verified (decode succeeded), in the form keepalived sends.
        let form = match s.version {
            Version::V2 => ChecksumForm::V2Message,
            Version::V3 => ChecksumForm::PseudoHeader,
        };
        assert_eq!(r.checksum_form, form, "{at}");
    }
}

#[test]
fn priority_zero_adverts_are_in_every_graceful_scenario() {
    let frames = load_all();
    let packets = vrrp_packets(&frames);
    for file in [
        "v2-mcast-auth-prio0.hex.txt",
        "v2-startup-race-prio0.hex.txt",
        "v2-ucast-prio0.hex.txt",
        "v3-ipv6-prio0.hex.txt",
        "v3-ipv6-ll-prio0.hex.txt",
        "v3-mcast-prio0.hex.txt",
        "v3-ucast-prio0.hex.txt",
    ] {
        let zeros: Vec<_> = packets
            .iter()
            .filter(|p| p.frame.file == file && !p.quoted)
            .map(decode)
            .collect();
        assert!(!zeros.is_empty(), "{file}");
        for r in zeros {
            assert_eq!(r.advert.priority, Priority::RELEASE, "{file}");
            assert_eq!(r.src, peer_of(peer_of(r.src)));
            assert_eq!(configured_priority(r.src), 150, "{file}: sent by h1");
        }
    }
}

#[test]
fn every_keepalived_advert_is_reencoded_byte_for_byte() {
    let frames = load_all();
    for p in vrrp_packets(&frames) {
        let at = where_(&p);
        let r = decode(&p);
        let options = EncodeOptions {
            ipv6_first_address: Ipv6FirstAddress::for_configured(&r.advert.addresses),
            ..EncodeOptions::default()
        };
        let bytes = encode_advert(&r.advert, r.src, r.dst, &options)
            .unwrap_or_else(|e| panic!("{at}: {e}"));
        assert_eq!(bytes, p.payload, "{at}: VRRP PDU");
        // keepalived's IPv4 header, given its identification counter.
        if let (Some(ip), IpAddr::V4(src), IpAddr::V4(dst)) = (p.ipv4, r.src, r.dst) {
            let id = u16::from_be_bytes([ip[4], ip[5]]);
            let header = build_ipv4_header(src, dst, id, bytes.len() as u16);
            assert_eq!(&header[..], &ip[..20], "{at}: IPv4 header");
        }
    }
}

#[test]
fn every_keepalived_advert_passes_the_receive_ladder_of_its_peer() {
    let frames = load_all();
    let mut total = 0;
    for p in vrrp_packets(&frames) {
        let at = where_(&p);
        let s = scenario(&p.frame.file);
        let mut demux = Demux::new();
        demux.insert(receiver(&s, p.meta.src));
        let verdict = match p.ipv4 {
            Some(packet) => demux.receive_ipv4(packet),
            None => demux.receive(p.meta, p.payload),
        };
        let accepted = verdict.unwrap_or_else(|d| panic!("{at}: dropped: {}", d.reason));
        assert_eq!(accepted.notices, Default::default(), "{at}");
        total += 1;
    }
    assert_eq!(total, 539);
}

#[test]
fn every_gratuitous_arp_and_neighbour_advert_is_rebuilt_byte_for_byte() {
    let frames = load_all();
    let (mut garps, mut nas) = (0, 0);
    for f in &frames {
        let at = format!("{} #{}", f.file, f.index);
        let b = &f.bytes;
        let mac = |at: usize| {
            let mut m = [0u8; 6];
            m.copy_from_slice(&b[at..at + 6]);
            MacAddr(m)
        };
        match u16::from_be_bytes([b[12], b[13]]) {
            // ARP request with SPA == TPA: a gratuitous ARP.
            0x0806 if b[20..22] == [0, 1] && b[28..32] == b[38..42] => {
                let vip = Ipv4Addr::new(b[28], b[29], b[30], b[31]);
                assert_eq!(gratuitous_arp(mac(22), vip).to_vec(), *b, "{at}");
                assert!(f.description.contains("Gratuitous ARP"), "{at}");
                garps += 1;
            }
            // ICMPv6 type 136: neighbour advertisement.
            0x86dd if b[ETH + 6] == 58 && b[ETH + 40] == 136 => {
                let mut t = [0u8; 16];
                t.copy_from_slice(&b[ETH + 48..ETH + 64]);
                let router = b[ETH + 44] & 0x80 != 0;
                assert!(
                    !router,
                    "{at}: keepalived sent R=0 (no forwarding in the lab)"
                );
                let frame = unsolicited_na(mac(6), Ipv6Addr::from(t), router);
                assert_eq!(frame.to_vec(), *b, "{at}");
                nas += 1;
            }
            _ => {}
        }
    }
    let said_garp = frames
        .iter()
        .filter(|f| f.description.contains("Gratuitous ARP"))
        .count();
    let said_na = frames
        .iter()
        .filter(|f| f.description.contains("Neighbor Advertisement"))
        .count();
    assert_eq!((garps, nas), (said_garp, said_na));
    assert_eq!((garps, nas), (185, 90));
}

#[test]
fn scenario_names_cover_every_file() {
    let mut seen: Vec<&str> = load_all().iter().map(|f| scenario(&f.file).name).collect();
    seen.dedup();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 8, "{seen:?}");
}
