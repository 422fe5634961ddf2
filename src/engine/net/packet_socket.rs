//! An AF_PACKET socket bound to one interface, for frames the codec builds whole:
//! gratuitous ARP (RFC 9568 §6.4.2 via errata 7947/7949: sender IP = target IP = VIP)
//! and unsolicited IPv6 neighbour advertisements. Ethernet only.

use std::io;
use std::mem;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use vrrp_core::packet::wire::ETHERNET_HEADER_LEN;
use vrrp_core::proto::MacAddr;

use super::{Interface, SocketError};

/// A non-blocking AF_PACKET/SOCK_RAW socket bound to one interface.
#[derive(Debug)]
pub struct PacketSocket {
    socket: Socket,
    interface: Interface,
}

impl PacketSocket {
    /// A send-only socket: bound with protocol 0, the kernel queues no received
    /// frames on it, so it never needs draining.
    pub fn open(interface: &Interface) -> Result<PacketSocket, SocketError> {
        PacketSocket::open_with_protocol(interface, 0)
    }

    /// A socket that also receives the frames of `ethertype` seen on the interface
    /// (both directions), e.g.
    /// [`ETHERTYPE_ARP`](vrrp_core::packet::wire::ETHERTYPE_ARP). For tests and diagnostics.
    pub fn open_receiver(
        interface: &Interface,
        ethertype: u16,
    ) -> Result<PacketSocket, SocketError> {
        PacketSocket::open_with_protocol(interface, ethertype)
    }

    fn open_with_protocol(
        interface: &Interface,
        ethertype: u16,
    ) -> Result<PacketSocket, SocketError> {
        let err = |op: &'static str| {
            let ifname = interface.name.clone();
            move |source: io::Error| SocketError { op, ifname, source }
        };
        let protocol = libc::c_int::from(ethertype.to_be());
        let socket = Socket::new(Domain::PACKET, Type::RAW, Some(Protocol::from(protocol)))
            .map_err(err("open an AF_PACKET socket (needs CAP_NET_RAW)"))?;
        socket
            .set_nonblocking(true)
            .map_err(err("make the AF_PACKET socket non-blocking"))?;
        let addr = link_addr(interface.index, ethertype, [0; 6])
            .map_err(err("bind the AF_PACKET socket"))?;
        // SAFETY: `addr` is a fully initialised sockaddr_ll on our stack and the length
        // passed is its size; bind only reads it. The descriptor is owned by `socket`.
        let rc = unsafe {
            libc::bind(
                socket.as_raw_fd(),
                (&addr as *const libc::sockaddr_ll).cast::<libc::sockaddr>(),
                mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(err("bind the AF_PACKET socket")(io::Error::last_os_error()));
        }
        Ok(PacketSocket {
            socket,
            interface: interface.clone(),
        })
    }

    pub fn interface(&self) -> &Interface {
        &self.interface
    }

    /// Sends one complete Ethernet frame (header included) out of the interface.
    /// Returns `WouldBlock` when the device queue is full.
    pub fn send(&self, frame: &[u8]) -> io::Result<usize> {
        if frame.len() < ETHERNET_HEADER_LEN {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "an Ethernet frame needs at least {ETHERNET_HEADER_LEN} bytes, got {}",
                    frame.len()
                ),
            ));
        }
        let mut dst = [0u8; 6];
        dst.copy_from_slice(&frame[0..6]);
        let ethertype = u16::from_be_bytes([frame[12], frame[13]]);
        let addr = link_addr(self.interface.index, ethertype, dst)?;
        // SAFETY: `frame` is a live slice and `addr` a fully initialised sockaddr_ll,
        // both outliving the call; sendto only reads them within the given lengths.
        let n = unsafe {
            libc::sendto(
                self.socket.as_raw_fd(),
                frame.as_ptr().cast::<libc::c_void>(),
                frame.len(),
                libc::MSG_DONTWAIT,
                (&addr as *const libc::sockaddr_ll).cast::<libc::sockaddr>(),
                mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        usize::try_from(n).map_err(|_| io::Error::from(io::ErrorKind::InvalidData))
    }

    /// Receives one frame (receivers only). Returns `WouldBlock` when none is queued.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        // SAFETY: `buf` is a live, writable slice; recv writes at most buf.len() bytes.
        let n = unsafe {
            libc::recv(
                self.socket.as_raw_fd(),
                buf.as_mut_ptr().cast::<libc::c_void>(),
                buf.len(),
                libc::MSG_DONTWAIT,
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        usize::try_from(n).map_err(|_| io::Error::from(io::ErrorKind::InvalidData))
    }
}

fn link_addr(ifindex: u32, ethertype: u16, dst: [u8; 6]) -> io::Result<libc::sockaddr_ll> {
    let mut sll_addr = [0u8; 8];
    sll_addr[..6].copy_from_slice(&dst);
    Ok(libc::sockaddr_ll {
        sll_family: libc::AF_PACKET as libc::c_ushort,
        sll_protocol: ethertype.to_be(),
        sll_ifindex: libc::c_int::try_from(ifindex)
            .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?,
        sll_hatype: 0,
        sll_pkttype: 0,
        sll_halen: 6,
        sll_addr,
    })
}

impl AsFd for PacketSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.socket.as_fd()
    }
}

impl AsRawFd for PacketSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.socket.as_raw_fd()
    }
}

/// A [`PacketSocket`] driven by the tokio reactor.
#[derive(Debug)]
pub struct AsyncPacketSocket {
    inner: AsyncFd<PacketSocket>,
}

impl AsyncPacketSocket {
    /// Registers `socket` with the current tokio runtime (must be called inside one).
    pub fn new(socket: PacketSocket) -> io::Result<AsyncPacketSocket> {
        // SAFETY: a PacketSocket owns its descriptor in a private `Socket` that nothing
        // replaces or closes while it lives, so as_raw_fd keeps returning the same
        // open descriptor until the AsyncFd is dropped.
        let inner = unsafe {
            AsyncFd::register_with_interest(socket, Interest::READABLE | Interest::WRITABLE)
        }
        .map_err(|e| e.into_parts().1)?;
        Ok(AsyncPacketSocket { inner })
    }

    pub fn get_ref(&self) -> &PacketSocket {
        self.inner.get_ref()
    }

    /// Sends one frame, waiting while the device queue is full.
    pub async fn send(&self, frame: &[u8]) -> io::Result<usize> {
        loop {
            let mut guard = self.inner.writable().await?;
            match guard.try_io(|s| s.get_ref().send(frame)) {
                Ok(result) => return result,
                Err(_would_block) => continue,
            }
        }
    }

    /// Waits for and receives one frame (receivers only).
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let mut guard = self.inner.readable().await?;
            match guard.try_io(|s| s.get_ref().recv(buf)) {
                Ok(result) => return result,
                Err(_would_block) => continue,
            }
        }
    }
}

/// The hardware address of interface `name` (SIOCGIFHWADDR), in the calling
/// thread's network namespace: the source MAC of our GARP/NA frames.
pub fn interface_mac(name: &str) -> Result<MacAddr, SocketError> {
    let err = |source: io::Error| SocketError {
        op: "read the MAC address (SIOCGIFHWADDR)",
        ifname: name.to_string(),
        source,
    };
    if name.is_empty() || name.len() >= libc::IFNAMSIZ {
        return Err(err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("an interface name has 1..{} bytes", libc::IFNAMSIZ - 1),
        )));
    }
    let probe = Socket::new(Domain::IPV4, Type::DGRAM, None).map_err(err)?;
    // SAFETY: ifreq is plain data (a name array and a union of plain data); all-zero
    // is valid and NUL-terminates the name we copy in below.
    let mut req: libc::ifreq = unsafe { mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(name.bytes()) {
        *dst = src as libc::c_char;
    }
    // SAFETY: SIOCGIFHWADDR reads ifr_name (NUL-terminated above, shorter than
    // IFNAMSIZ) and writes a sockaddr into the union of `req`, which outlives the call.
    let rc = unsafe { libc::ioctl(probe.as_raw_fd(), libc::SIOCGIFHWADDR as _, &mut req) };
    if rc != 0 {
        return Err(err(io::Error::last_os_error()));
    }
    // SAFETY: after a successful SIOCGIFHWADDR the union holds ifru_hwaddr.
    let hw = unsafe { req.ifr_ifru.ifru_hwaddr };
    if hw.sa_family != libc::ARPHRD_ETHER {
        return Err(err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!("hardware type {} is not Ethernet", hw.sa_family),
        )));
    }
    let mut mac = [0u8; 6];
    for (dst, src) in mac.iter_mut().zip(hw.sa_data.iter()) {
        *dst = *src as u8;
    }
    Ok(MacAddr(mac))
}
