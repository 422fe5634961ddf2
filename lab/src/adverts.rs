//! An in-process VRRP listener (our own raw socket) in a namespace, recording every
//! advert with its arrival time: who advertised, with what priority, and when the
//! last advert of a dying master arrived (the start of docs/scenarios.md M-1, T_detect).

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use keepalived_charm::engine::net::vrrp_socket::Delivery;
use keepalived_charm::engine::net::{AsyncVrrpSocket, Interface, VrrpSocket};

use super::ns::{Netns, Task};

/// One advert as seen by the listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenAdvert {
    pub at: Instant,
    pub src: IpAddr,
    pub vrid: u8,
    pub priority: u8,
    pub ttl: Option<u8>,
}

pub struct AdvertLog {
    log: Arc<Mutex<Vec<SeenAdvert>>>,
    task: Task<()>,
}

impl AdvertLog {
    /// Listens on `ifname` in `ns` for adverts of the family of `own_addr` (the
    /// listener's own address on that interface, used only as the socket's source).
    pub fn start(ns: &Netns, ifname: &str, own_addr: IpAddr) -> AdvertLog {
        let ifname = ifname.to_string();
        let sock = ns.run(move || {
            let iface = Interface::by_name(&ifname).expect("listener interface");
            match own_addr {
                IpAddr::V4(a) => VrrpSocket::open_v4(&iface, a, Delivery::Multicast),
                IpAddr::V6(a) => VrrpSocket::open_v6(&iface, a, Delivery::Multicast),
            }
            .expect("open the advert listener socket")
        });
        let log = Arc::new(Mutex::new(Vec::new()));
        let shared = Arc::clone(&log);
        // Read at real-time priority: the arrival time is the moment this thread
        // read the advert, and the timings taken from this log (handovers, S15's
        // cadence) must not wait for the machine's scheduler.
        let task = ns.spawn_realtime(move || async move {
            let v4 = own_addr.is_ipv4();
            let sock = AsyncVrrpSocket::new(sock).expect("register the advert listener");
            let mut buf = [0u8; 2048];
            loop {
                let Ok((len, meta)) = sock.recv(&mut buf).await else {
                    continue;
                };
                let at = Instant::now();
                let bytes = &buf[..len];
                let vrrp = if v4 {
                    let ihl = usize::from(bytes.first().copied().unwrap_or(0) & 0x0f) * 4;
                    bytes.get(ihl..).unwrap_or(&[])
                } else {
                    bytes
                };
                if vrrp.len() < 3 {
                    continue;
                }
                shared
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(SeenAdvert {
                        at,
                        src: meta.src,
                        vrid: vrrp[1],
                        priority: vrrp[2],
                        ttl: meta.ttl_or_hop_limit,
                    });
            }
        });
        AdvertLog { log, task }
    }

    pub fn all(&self) -> Vec<SeenAdvert> {
        self.log.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The first advert from `src` that arrived after `after`, waiting up to `within`.
    pub fn wait_from(&self, src: IpAddr, after: Instant, within: Duration) -> SeenAdvert {
        super::wait::wait_until(&format!("an advert from {src}"), within, || {
            self.all()
                .into_iter()
                .find(|a| a.src == src && a.at > after)
        })
    }

    /// The last advert from `src` that arrived before `before`.
    pub fn last_from_before(&self, src: IpAddr, before: Instant) -> Option<SeenAdvert> {
        self.all()
            .into_iter()
            .rev()
            .find(|a| a.src == src && a.at < before)
    }

    /// The first advert from `src` after `after`, if any arrived yet.
    pub fn first_from_after(&self, src: IpAddr, after: Instant) -> Option<SeenAdvert> {
        self.all()
            .into_iter()
            .find(|a| a.src == src && a.at > after)
    }
}

impl Drop for AdvertLog {
    fn drop(&mut self) {
        self.task.abort();
    }
}
