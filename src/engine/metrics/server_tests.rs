//! The endpoint on a loopback listener, driven by plain `TcpStream`s.

use std::io::{Read, Write};
use std::net::TcpStream;

use super::*;
use crate::engine::metrics::{Snapshot, METRICS};
use crate::engine::state_file::{EngineState, InstanceState};

fn server(limits: Limits) -> (MetricsServer, Published, SocketAddr) {
    let published = Published::default();
    let mut server = MetricsServer::start(published.clone(), limits).unwrap();
    server
        .set_address(Some("127.0.0.1:0".parse().unwrap()))
        .unwrap();
    let addr = server.local_addr().unwrap();
    (server, published, addr)
}

fn get(addr: SocketAddr, path: &str, accept: Option<&str>) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let accept = accept.map_or_else(String::new, |a| format!("Accept: {a}\r\n"));
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n{accept}\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

fn wait_for(what: &str, within: Duration, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < within, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// True when the server closed `s` (EOF or reset), false if it is still open.
fn closed_by_server(s: &mut TcpStream, within: Duration) -> bool {
    s.set_read_timeout(Some(within)).unwrap();
    let mut buf = [0u8; 64];
    match s.read(&mut buf) {
        Ok(0) => true,
        Ok(_) => panic!("unexpected data"),
        Err(e) if e.kind() == io::ErrorKind::ConnectionReset => true,
        Err(_) => false, // timed out: still open
    }
}

/// Small limits, so the tests see the caps and timeouts act quickly.
const SMALL: Limits = Limits {
    max_connections: 4,
    header_timeout: Duration::from_millis(300),
    write_timeout: Duration::from_millis(300),
};

/// A snapshot of one instance VI_1 (VRID 51 on eth0, priority 200) in `state`.
fn one_instance(state: &str, vips: Vec<String>) -> Snapshot {
    Snapshot {
        state: EngineState {
            instances: vec![InstanceState {
                vips,
                ..crate::engine::metrics::tests::instance("VI_1", state, 51, &[])
            }],
            ..EngineState::default()
        },
        extras: Vec::new(),
    }
}

#[test]
fn serves_the_snapshot_in_the_format_asked_for() {
    let (_server, published, addr) = server(Limits::default());
    published.set(one_instance("MASTER", vec!["10.0.0.100/24".into()]));
    let plain = get(addr, "/metrics", None);
    assert!(plain.starts_with("HTTP/1.1 200 OK\r\n"), "{plain}");
    assert!(
        plain.contains("content-type: text/plain; version=0.0.4; charset=utf-8\r\n"),
        "{plain}"
    );
    assert!(plain.contains(
        "\nkeepalived_vrrp_state{iname=\"VI_1\",intf=\"eth0\",vrid=\"51\",ip_address=\"10.0.0.100/24\"} 2\n"
    ));
    assert!(!plain.contains("# EOF"));
    let open = get(
        addr,
        "/metrics",
        Some("application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.3"),
    );
    assert!(
        open.contains(
            "content-type: application/openmetrics-text; version=1.0.0; charset=utf-8\r\n"
        ),
        "{open}"
    );
    assert!(open.ends_with("# EOF\n"), "{open}");
    assert!(get(addr, "/", None).starts_with("HTTP/1.1 404"));
}

#[test]
fn connections_beyond_the_cap_are_closed_and_idle_ones_time_out() {
    let limits = SMALL;
    let (server, _published, addr) = server(limits);
    // Four clients connect and never send anything: they hold every slot.
    let mut idle: Vec<TcpStream> = (0..4).map(|_| TcpStream::connect(addr).unwrap()).collect();
    wait_for("4 connections", Duration::from_secs(2), || {
        server.active_connections() == 4
    });
    // A fifth is closed at once.
    let mut extra = TcpStream::connect(addr).unwrap();
    assert!(closed_by_server(&mut extra, Duration::from_millis(200)));
    // The idle ones are closed by the header-read timeout, and the slots come back.
    let started = Instant::now();
    for s in &mut idle {
        assert!(closed_by_server(s, Duration::from_secs(2)));
    }
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    wait_for("slots back", Duration::from_secs(2), || {
        server.active_connections() == 0
    });
    assert!(get(addr, "/metrics", None).starts_with("HTTP/1.1 200"));
}

#[test]
fn a_client_that_never_reads_is_dropped_after_the_write_timeout() {
    let limits = SMALL;
    let (server, published, addr) = server(limits);
    // A body far larger than the socket buffers: ~100 bytes per VIP.
    let vips: Vec<String> = (0..200_000u32)
        .map(|n| format!("10.{}.{}.{}/32", n >> 16, (n >> 8) & 255, n & 255))
        .collect();
    published.set(one_instance("BACKUP", vips));
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(&addr.into()).unwrap();
    let mut s: TcpStream = socket.into();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    wait_for("the request in progress", Duration::from_secs(2), || {
        server.active_connections() == 1
    });
    let started = Instant::now();
    // Never read: the server gives up once header + write timeouts have passed.
    wait_for("the connection dropped", Duration::from_secs(5), || {
        server.active_connections() == 0
    });
    let took = started.elapsed();
    assert!(took < Duration::from_millis(1500), "{took:?}");
    drop(s);
}

#[test]
fn a_new_address_is_bound_before_the_old_closes_and_a_taken_one_keeps_the_old() {
    let (mut server, _published, first) = server(Limits::default());
    // Taken by someone else: the old address keeps serving, the error names both.
    let squatter = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = squatter.local_addr().unwrap();
    let err = server.set_address(Some(taken)).unwrap_err();
    assert_eq!(
        err,
        format!("metrics_address {taken}: Address already in use (os error 98)")
    );
    assert_eq!(server.local_addr(), Some(first));
    assert!(get(first, "/metrics", None).starts_with("HTTP/1.1 200"));
    // A free one: served, and the old one closes.
    drop(squatter);
    server.set_address(Some(taken)).unwrap();
    assert!(get(taken, "/metrics", None).starts_with("HTTP/1.1 200"));
    wait_for("the old address closed", Duration::from_secs(2), || {
        TcpStream::connect(first).is_err()
    });
    // Off.
    server.set_address(None).unwrap();
    wait_for("metrics off", Duration::from_secs(2), || {
        TcpStream::connect(taken).is_err()
    });
    assert_eq!(server.address(), None);
    assert!(!METRICS.is_empty());
}
