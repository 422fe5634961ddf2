//! An in-process VRRP listener (our own raw socket) in a namespace, recording every
//! advert with its arrival time: who advertised, with what priority, and when the
//! last advert of a dying master arrived (the start of docs/scenarios.md M-1, T_detect).
//!
//! The arrival time is the kernel's receive stamp of each datagram (SIOCGSTAMPNS), not
//! the moment the listener's thread got to it: on a 2-core machine busy with other
//! tests that thread can run a hundred milliseconds late, and a cadence check would
//! then see a gap the wire never had.

use std::net::IpAddr;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

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
        let task = ns.spawn(move || async move {
            let v4 = own_addr.is_ipv4();
            let sock = AsyncVrrpSocket::new(sock).expect("register the advert listener");
            let fd = sock.get_ref().as_raw_fd();
            // The first request turns the socket's receive stamps on (and has none yet).
            let _ = kernel_stamp(fd);
            let mut buf = [0u8; 2048];
            loop {
                let Ok((len, meta)) = sock.recv(&mut buf).await else {
                    continue;
                };
                let at = arrival(fd);
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

/// `SIOCGSTAMPNS` of `<linux/sockios.h>` (0x8907; libc does not name it): the receive
/// time of the last datagram read, as a `struct timespec` of 64-bit fields on 64-bit
/// targets, which is what `libc::timespec` is there.
#[cfg(target_pointer_width = "64")]
const SIOCGSTAMPNS: libc::c_ulong = 0x8907;

/// The wall-clock time the kernel received the datagram `fd` gave last.
fn kernel_stamp(fd: RawFd) -> Option<SystemTime> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: SIOCGSTAMPNS writes exactly one `struct timespec` through its third
    // argument, which points to a live, writable `libc::timespec` on this stack frame;
    // `fd` is the listener's open socket, owned by the task calling this.
    let rc = unsafe { libc::ioctl(fd, SIOCGSTAMPNS, &mut ts) };
    if rc != 0 {
        return None;
    }
    let secs = u64::try_from(ts.tv_sec).ok()?;
    let nanos = u32::try_from(ts.tv_nsec).ok()?;
    Some(UNIX_EPOCH + Duration::new(secs, nanos))
}

/// The datagram's arrival as an `Instant`: now, less the age of its kernel stamp.
/// Falls back to now when there is no stamp or its age is not plausible (the wall
/// clock stepped between the stamp and the read: docs/scenarios.md S17).
fn arrival(fd: RawFd) -> Instant {
    let now = Instant::now();
    kernel_stamp(fd)
        .and_then(|stamp| SystemTime::now().duration_since(stamp).ok())
        .filter(|age| *age < Duration::from_secs(1))
        .and_then(|age| now.checked_sub(age))
        .unwrap_or(now)
}

impl Drop for AdvertLog {
    fn drop(&mut self) {
        self.task.abort();
    }
}
