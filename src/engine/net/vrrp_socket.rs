//! Raw sockets for IP protocol 112 (VRRP), one per (interface, family).
//!
//! The kernel builds the IP header: TTL / hop limit 255 (RFC 9568 §5.1.1.3 /
//! §5.1.2.3, a MUST), TOS 0xc0 like keepalived (`vrrp_build_ip4`), source = the
//! address given at open (the interface's primary IPv4 or its IPv6 link-local,
//! RFC 9568 §5.1.1.1 / §5.1.2.1) carried per packet in pktinfo so VIPs on the same
//! interface never become the advert's source. For IPv6 the kernel also computes and
//! verifies the VRRP checksum over the pseudo-header (IPV6_CHECKSUM = 6): a packet
//! with a bad v6 checksum never reaches us.
//!
//! On receive, IPv4 bytes start with the IP header (the codec honours IHL and reads
//! the TTL itself); IPv6 bytes start with the VRRP header. Either way the TTL / hop
//! limit the kernel saw is also returned from ancillary data in [`RecvMeta`].

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

use socket2::{Domain, InterfaceIndexOrAddress, Protocol, Socket, Type};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

use super::cmsg::{self, SendFrom};
use super::{sockopt, Interface, SocketError};
use vrrp_core::packet::wire::{
    CHECKSUM_OFFSET, IPPROTO_VRRP, IPV4_TOS_NETWORK_CONTROL, MCAST_GROUP_V4, MCAST_GROUP_V6,
    VRRP_TTL,
};
use vrrp_core::proto::Family;

/// IP protocol number of VRRP (RFC 9568 §5.1.1.4), as socket2 wants it.
const VRRP_PROTOCOL: i32 = IPPROTO_VRRP as i32;
/// Offset of the checksum in the VRRP header, handed to the kernel for IPv6.
const VRRP_CHECKSUM_OFFSET: libc::c_int = CHECKSUM_OFFSET as libc::c_int;

/// How adverts reach the peers: RFC multicast, or keepalived's `unicast_peer` mode
/// (one copy per peer, for networks that drop multicast).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Join 224.0.0.18 / ff02::12 on the interface and send there.
    Multicast,
    /// Join no group: multicast adverts of other clusters are not delivered at all.
    Unicast,
}

/// Where a received packet came from and how it arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecvMeta {
    /// IP source address (IPv6: usually a link-local; the scope is `ifindex`).
    pub src: IpAddr,
    /// IP destination address: the VRRP group or one of our unicast addresses.
    pub dst: IpAddr,
    /// TTL (IPv4) or hop limit (IPv6) as the kernel read it from the IP header.
    /// `None` only if the kernel gave no ancillary data, which a receiver must treat
    /// as "not 255".
    pub ttl_or_hop_limit: Option<u8>,
    /// Index of the interface the packet arrived on.
    pub ifindex: u32,
    /// The datagram was longer than the receive buffer; its tail is missing.
    pub truncated: bool,
    /// When the kernel received it (wall clock), on a waiting queue
    /// ([`super::waiting::WaitingQueue`]); `None` elsewhere.
    pub stamp: Option<std::time::SystemTime>,
}

/// A non-blocking raw VRRP socket bound to one interface (SO_BINDTODEVICE).
///
/// Use it directly with `try_*` style calls from any loop, or wrap it in an
/// [`AsyncVrrpSocket`] on a tokio runtime.
#[derive(Debug)]
pub struct VrrpSocket {
    socket: Socket,
    family: Family,
    interface: Interface,
    source: IpAddr,
    delivery: Delivery,
}

impl VrrpSocket {
    /// Opens an IPv4 VRRP socket on `interface`, sending from `source` (its primary
    /// IPv4 address, or keepalived's `unicast_src_ip`).
    pub fn open_v4(
        interface: &Interface,
        source: Ipv4Addr,
        delivery: Delivery,
    ) -> Result<VrrpSocket, SocketError> {
        let err = |op: &'static str| {
            let ifname = interface.name.clone();
            move |source: io::Error| SocketError { op, ifname, source }
        };
        let socket = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::from(VRRP_PROTOCOL)))
            .map_err(err(
                "open a raw IPv4 socket for protocol 112 (needs CAP_NET_RAW)",
            ))?;
        common_setup(&socket, interface).map_err(err("bind the VRRP socket to the interface"))?;
        let fd = socket.as_fd();
        socket
            .set_ttl_v4(u32::from(VRRP_TTL))
            .map_err(err("set IP_TTL 255"))?;
        socket
            .set_multicast_ttl_v4(u32::from(VRRP_TTL))
            .map_err(err("set IP_MULTICAST_TTL 255"))?;
        socket
            .set_tos_v4(u32::from(IPV4_TOS_NETWORK_CONTROL))
            .map_err(err("set IP_TOS 0xc0"))?;
        socket
            .set_multicast_loop_v4(false)
            .map_err(err("clear IP_MULTICAST_LOOP"))?;
        socket
            .set_multicast_all_v4(false)
            .map_err(err("clear IP_MULTICAST_ALL"))?;
        let mreqn = libc::ip_mreqn {
            imr_multiaddr: libc::in_addr { s_addr: 0 },
            imr_address: libc::in_addr { s_addr: 0 },
            imr_ifindex: libc::c_int::try_from(interface.index)
                .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
                .map_err(err("set IP_MULTICAST_IF"))?,
        };
        sockopt::set(fd, libc::IPPROTO_IP, libc::IP_MULTICAST_IF, mreqn)
            .map_err(err("set IP_MULTICAST_IF"))?;
        sockopt::set_flag(fd, libc::IPPROTO_IP, libc::IP_RECVTTL, true)
            .map_err(err("set IP_RECVTTL"))?;
        sockopt::set_flag(fd, libc::IPPROTO_IP, libc::IP_PKTINFO, true)
            .map_err(err("set IP_PKTINFO"))?;
        if delivery == Delivery::Multicast {
            socket
                .join_multicast_v4_n(
                    &MCAST_GROUP_V4,
                    &InterfaceIndexOrAddress::Index(interface.index),
                )
                .map_err(err("join 224.0.0.18"))?;
        }
        Ok(VrrpSocket {
            socket,
            family: Family::V4,
            interface: interface.clone(),
            source: IpAddr::V4(source),
            delivery,
        })
    }

    /// Opens an IPv6 VRRP socket on `interface`, sending from `source` (its
    /// link-local address, RFC 9568 §5.1.2.1).
    pub fn open_v6(
        interface: &Interface,
        source: Ipv6Addr,
        delivery: Delivery,
    ) -> Result<VrrpSocket, SocketError> {
        let err = |op: &'static str| {
            let ifname = interface.name.clone();
            move |source: io::Error| SocketError { op, ifname, source }
        };
        let socket = Socket::new(Domain::IPV6, Type::RAW, Some(Protocol::from(VRRP_PROTOCOL)))
            .map_err(err(
                "open a raw IPv6 socket for protocol 112 (needs CAP_NET_RAW)",
            ))?;
        common_setup(&socket, interface).map_err(err("bind the VRRP socket to the interface"))?;
        let fd = socket.as_fd();
        sockopt::set::<libc::c_int>(
            fd,
            libc::IPPROTO_IPV6,
            libc::IPV6_CHECKSUM,
            VRRP_CHECKSUM_OFFSET,
        )
        .map_err(err("set IPV6_CHECKSUM 6"))?;
        socket
            .set_unicast_hops_v6(u32::from(VRRP_TTL))
            .map_err(err("set IPV6_UNICAST_HOPS 255"))?;
        socket
            .set_multicast_hops_v6(u32::from(VRRP_TTL))
            .map_err(err("set IPV6_MULTICAST_HOPS 255"))?;
        socket
            .set_multicast_loop_v6(false)
            .map_err(err("clear IPV6_MULTICAST_LOOP"))?;
        socket
            .set_multicast_all_v6(false)
            .map_err(err("clear IPV6_MULTICAST_ALL"))?;
        socket
            .set_multicast_if_v6(interface.index)
            .map_err(err("set IPV6_MULTICAST_IF"))?;
        socket
            .set_recv_hoplimit_v6(true)
            .map_err(err("set IPV6_RECVHOPLIMIT"))?;
        sockopt::set_flag(fd, libc::IPPROTO_IPV6, libc::IPV6_RECVPKTINFO, true)
            .map_err(err("set IPV6_RECVPKTINFO"))?;
        if delivery == Delivery::Multicast {
            socket
                .join_multicast_v6(&MCAST_GROUP_V6, interface.index)
                .map_err(err("join ff02::12"))?;
        }
        Ok(VrrpSocket {
            socket,
            family: Family::V6,
            interface: interface.clone(),
            source: IpAddr::V6(source),
            delivery,
        })
    }

    pub fn family(&self) -> Family {
        self.family
    }

    pub fn interface(&self) -> &Interface {
        &self.interface
    }

    pub fn delivery(&self) -> Delivery {
        self.delivery
    }

    /// The source address of every packet we send.
    pub fn source(&self) -> IpAddr {
        self.source
    }

    /// Changes the source address, e.g. when the interface's primary IPv4 changed.
    /// An address of the other family is refused.
    pub fn set_source(&mut self, source: IpAddr) -> io::Result<()> {
        if Family::of(&source) != self.family {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("source {source} is not an {} address", self.family),
            ));
        }
        self.source = source;
        Ok(())
    }

    /// The group this socket's adverts go to in multicast mode.
    pub fn group(&self) -> IpAddr {
        match self.family {
            Family::V4 => IpAddr::V4(MCAST_GROUP_V4),
            Family::V6 => IpAddr::V6(MCAST_GROUP_V6),
        }
    }

    /// Sends one VRRP packet (the VRRP header and what follows, no IP header) to
    /// `dst`: the group, or one unicast peer (call once per peer in unicast mode).
    /// Returns `WouldBlock` when the send buffer is full.
    pub fn send_to(&self, payload: &[u8], dst: IpAddr) -> io::Result<usize> {
        self.send_from(payload, dst, self.source)
    }

    /// Like [`VrrpSocket::send_to`] from an explicit source address: several
    /// instances share one socket per (interface, family), and an instance with its
    /// own `unicast_src_ip` sends from it (keepalived sets the source per packet too).
    pub fn send_from(&self, payload: &[u8], dst: IpAddr, src: IpAddr) -> io::Result<usize> {
        send_from(
            self.socket.as_fd(),
            self.family,
            self.interface.index,
            payload,
            dst,
            src,
        )
    }

    /// A handle that sends through this socket from another thread (paced adverts,
    /// `engine::daemon::pacer`): a duplicate of its descriptor, so the socket stays
    /// open for as long as the handle lives, whatever becomes of this one.
    pub fn send_handle(&self) -> io::Result<SendHandle> {
        Ok(SendHandle {
            fd: self.socket.as_fd().try_clone_to_owned()?,
            family: self.family,
            ifindex: self.interface.index,
        })
    }

    /// Receives one packet into `buf` (2 KiB is plenty: 255 IPv6 addresses make a
    /// 4 KiB packet, more than any Ethernet MTU carries, and are then `truncated`).
    /// Returns `WouldBlock` when nothing is queued.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<(usize, RecvMeta)> {
        let got = cmsg::recv(self.socket.as_fd(), buf)?;
        let bytes = &buf[..got.len];
        let src = got.src.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                "datagram without a source address",
            )
        })?;
        let dst = match (got.ancillary.dst, self.family) {
            (Some(dst), _) => dst,
            // No pktinfo (should not happen, we asked for it): an IPv4 raw socket
            // still has the destination in the header it hands us.
            (None, Family::V4) if bytes.len() >= 20 => {
                IpAddr::V4(Ipv4Addr::new(bytes[16], bytes[17], bytes[18], bytes[19]))
            }
            (None, _) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "datagram without a destination address",
                ))
            }
        };
        let meta = RecvMeta {
            src,
            dst,
            ttl_or_hop_limit: got.ancillary.hop_limit,
            ifindex: got.ancillary.ifindex.unwrap_or(self.interface.index),
            truncated: got.truncated,
            stamp: got.ancillary.stamp,
        };
        Ok((got.len, meta))
    }
}

fn common_setup(socket: &Socket, interface: &Interface) -> io::Result<()> {
    socket.set_nonblocking(true)?;
    socket.bind_device(Some(interface.name.as_bytes()))
}

fn needs_scope(a: &Ipv6Addr) -> bool {
    let link_local_unicast = (a.segments()[0] & 0xffc0) == 0xfe80;
    let link_scope_multicast = a.is_multicast() && (a.segments()[0] & 0x000f) <= 2;
    link_local_unicast || link_scope_multicast
}

impl AsFd for VrrpSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.socket.as_fd()
    }
}

impl AsRawFd for VrrpSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.socket.as_raw_fd()
    }
}

/// Sends one VRRP payload from `src` to `dst` through `fd`, a VRRP socket of
/// `family` on interface `ifindex` (see [`VrrpSocket::send_from`]).
fn send_from(
    fd: BorrowedFd<'_>,
    family: Family,
    ifindex: u32,
    payload: &[u8],
    dst: IpAddr,
    src: IpAddr,
) -> io::Result<usize> {
    if Family::of(&src) != family {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("source {src} is not an {family} address"),
        ));
    }
    let dst = match dst {
        IpAddr::V4(a) if family == Family::V4 => SocketAddr::V4(SocketAddrV4::new(a, 0)),
        IpAddr::V6(a) if family == Family::V6 => {
            // Link-scope destinations (ff02::12, fe80::/10 peers) need the scope.
            let scope = if needs_scope(&a) { ifindex } else { 0 };
            SocketAddr::V6(SocketAddrV6::new(a, 0, 0, scope))
        }
        other => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("destination {other} is not an {family} address"),
            ))
        }
    };
    cmsg::send(fd, payload, dst, Some(SendFrom { ifindex, src }))
}

/// A VRRP socket's sending side for another thread ([`VrrpSocket::send_handle`]).
#[derive(Debug)]
pub struct SendHandle {
    fd: OwnedFd,
    family: Family,
    ifindex: u32,
}

impl SendHandle {
    /// As [`VrrpSocket::send_from`].
    pub fn send_from(&self, payload: &[u8], dst: IpAddr, src: IpAddr) -> io::Result<usize> {
        send_from(
            self.fd.as_fd(),
            self.family,
            self.ifindex,
            payload,
            dst,
            src,
        )
    }
}

/// A [`VrrpSocket`] driven by the tokio reactor.
#[derive(Debug)]
pub struct AsyncVrrpSocket {
    inner: AsyncFd<VrrpSocket>,
}

impl AsyncVrrpSocket {
    /// Registers `socket` with the current tokio runtime (must be called inside one).
    pub fn new(socket: VrrpSocket) -> io::Result<AsyncVrrpSocket> {
        // Readable only: sends never wait (a full send buffer is a counted error,
        // `VrrpSocket::send_from`), and a writable interest would wake the loop
        // after every advert sent.
        // SAFETY: a VrrpSocket owns its descriptor in a private `Socket` that nothing
        // replaces or closes while it lives (no method hands it out by value), so
        // as_raw_fd returns the same open descriptor until the AsyncFd is dropped.
        let inner = unsafe { AsyncFd::register_with_interest(socket, Interest::READABLE) }
            .map_err(|e| e.into_parts().1)?;
        Ok(AsyncVrrpSocket { inner })
    }

    pub fn get_ref(&self) -> &VrrpSocket {
        self.inner.get_ref()
    }

    pub fn get_mut(&mut self) -> &mut VrrpSocket {
        self.inner.get_mut()
    }

    /// Waits for and receives one packet; see [`VrrpSocket::recv`].
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<(usize, RecvMeta)> {
        std::future::poll_fn(|cx| self.poll_recv(cx, buf)).await
    }

    /// One datagram if one is queued, else `Pending` with `cx` woken when the socket
    /// becomes readable: what lets the event loop read every socket in its own turn,
    /// with no task and no channel between. After an error the readiness is
    /// forgotten, so a socket whose error persists (its interface gone) waits for
    /// the next readiness event instead of being polled in a loop.
    pub fn poll_recv(
        &self,
        cx: &mut std::task::Context<'_>,
        buf: &mut [u8],
    ) -> std::task::Poll<io::Result<(usize, RecvMeta)>> {
        loop {
            let mut guard = match self.inner.poll_read_ready(cx) {
                std::task::Poll::Ready(Ok(guard)) => guard,
                std::task::Poll::Ready(Err(e)) => return std::task::Poll::Ready(Err(e)),
                std::task::Poll::Pending => return std::task::Poll::Pending,
            };
            match guard.try_io(|s| s.get_ref().recv(buf)) {
                Ok(Ok(received)) => return std::task::Poll::Ready(Ok(received)),
                Ok(Err(e)) => {
                    guard.clear_ready();
                    return std::task::Poll::Ready(Err(e));
                }
                Err(_would_block) => continue,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_scope_destinations_carry_the_interface_as_scope() {
        assert!(needs_scope(&MCAST_GROUP_V6));
        assert!(needs_scope(&"fe80::1".parse().unwrap()));
        assert!(!needs_scope(&"fd00::1".parse().unwrap()));
        assert!(!needs_scope(&"ff05::12".parse().unwrap()));
    }
}
