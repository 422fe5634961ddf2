//! `recvmsg`/`sendmsg` with the ancillary data VRRP needs: the received TTL / hop
//! limit (RFC 9568 §7.1 check), the packet's destination and arrival interface
//! (pktinfo), and on send the source address and outgoing interface (pktinfo), so
//! the advert leaves from the interface's primary IPv4 / link-local IPv6 address
//! whatever VIPs sit on the interface.

use std::io;
use std::mem;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsRawFd, BorrowedFd};
use std::ptr;
use std::time::{Duration, SystemTime};

/// Room for IP_TTL + IP_PKTINFO or IPV6_HOPLIMIT + IPV6_PKTINFO (about 70 bytes),
/// plus a timestamp (about 32) where asked for, with a margin for
/// options we did not ask for. Aligned like `cmsghdr`.
#[repr(C, align(8))]
struct ControlBuf([u8; 256]);

/// What the kernel told us about one received datagram besides its bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Ancillary {
    /// IP_TTL (IPv4) or IPV6_HOPLIMIT (IPv6) from the packet's IP header.
    pub hop_limit: Option<u8>,
    /// The packet's destination address (`ipi_addr` / `ipi6_addr`).
    pub dst: Option<IpAddr>,
    /// The interface the packet arrived on.
    pub ifindex: Option<u32>,
    /// When the kernel received the packet (SO_TIMESTAMPNS; wall clock), on a
    /// socket that asked for it.
    pub stamp: Option<SystemTime>,
}

/// One datagram read by [`recv`].
#[derive(Debug)]
pub(crate) struct Received {
    pub len: usize,
    pub src: Option<IpAddr>,
    pub ancillary: Ancillary,
    /// The datagram was longer than the buffer and its tail was dropped.
    pub truncated: bool,
}

/// The source of an outgoing datagram, carried in IP_PKTINFO / IPV6_PKTINFO.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SendFrom {
    pub ifindex: u32,
    pub src: IpAddr,
}

/// One non-blocking `recvmsg` into `buf`.
pub(crate) fn recv(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<Received> {
    // SAFETY: sockaddr_storage is plain data for which all-zero bytes are valid.
    let mut name: libc::sockaddr_storage = unsafe { mem::zeroed() };
    let mut control = ControlBuf([0; 256]);
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: msghdr is plain data (pointers and integers, plus padding on musl);
    // all-zero is a valid empty header that we fill below.
    let mut msg: libc::msghdr = unsafe { mem::zeroed() };
    msg.msg_name = (&mut name as *mut libc::sockaddr_storage).cast();
    msg.msg_namelen = mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.0.as_mut_ptr().cast();
    msg.msg_controllen = control.0.len() as _;

    // SAFETY: every pointer in `msg` refers to a live local (`name`, `iov`, `control`)
    // or to `buf`, all of which outlive the call, with the lengths set to their sizes;
    // the kernel writes within those bounds only.
    let n = unsafe { libc::recvmsg(fd.as_raw_fd(), &mut msg, libc::MSG_DONTWAIT) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let len = usize::try_from(n).map_err(|_| io::Error::from(io::ErrorKind::InvalidData))?;
    let ancillary = parse_control(&msg);
    Ok(Received {
        len: len.min(buf.len()),
        src: sockaddr_ip(&name),
        ancillary,
        truncated: msg.msg_flags & libc::MSG_TRUNC != 0,
    })
}

/// Walks the control messages `recvmsg` left in `msg`.
fn parse_control(msg: &libc::msghdr) -> Ancillary {
    let mut out = Ancillary::default();
    if msg.msg_flags & libc::MSG_CTRUNC != 0 {
        // A truncated control area may hold a partial header: read nothing rather
        // than something half-written. The caller then sees no TTL and drops.
        return out;
    }
    // SAFETY: `msg` was filled by a successful recvmsg; msg_control/msg_controllen
    // describe our ControlBuf, so CMSG_FIRSTHDR/CMSG_NXTHDR walk within it and
    // return null at its end.
    let mut cmsg = unsafe { libc::CMSG_FIRSTHDR(msg) };
    while !cmsg.is_null() {
        // SAFETY: a non-null pointer from CMSG_FIRSTHDR/NXTHDR points at a complete
        // cmsghdr inside the control buffer; read_unaligned tolerates any alignment.
        let hdr: libc::cmsghdr = unsafe { ptr::read_unaligned(cmsg) };
        // SAFETY: CMSG_DATA of a valid header points just past it, in the buffer.
        let data = unsafe { libc::CMSG_DATA(cmsg) };
        let have = hdr.cmsg_len as usize;
        match (hdr.cmsg_level, hdr.cmsg_type) {
            (libc::IPPROTO_IP, libc::IP_TTL) | (libc::IPPROTO_IPV6, libc::IPV6_HOPLIMIT) => {
                if let Some(v) = read_data::<libc::c_int>(data, have) {
                    out.hop_limit = u8::try_from(v).ok();
                }
            }
            (libc::IPPROTO_IP, libc::IP_PKTINFO) => {
                if let Some(info) = read_data::<libc::in_pktinfo>(data, have) {
                    out.ifindex = u32::try_from(info.ipi_ifindex).ok();
                    out.dst = Some(IpAddr::V4(Ipv4Addr::from(u32::from_be(
                        info.ipi_addr.s_addr,
                    ))));
                }
            }
            (libc::SOL_SOCKET, libc::SCM_TIMESTAMPNS) => {
                if let Some(ts) = read_data::<libc::timespec>(data, have) {
                    out.stamp = wall_clock(ts);
                }
            }
            (libc::IPPROTO_IPV6, libc::IPV6_PKTINFO) => {
                if let Some(info) = read_data::<libc::in6_pktinfo>(data, have) {
                    out.ifindex = Some(info.ipi6_ifindex);
                    out.dst = Some(IpAddr::V6(Ipv6Addr::from(info.ipi6_addr.s6_addr)));
                }
            }
            _ => {}
        }
        // SAFETY: as for CMSG_FIRSTHDR: `msg` and `cmsg` describe our buffer.
        cmsg = unsafe { libc::CMSG_NXTHDR(msg, cmsg) };
    }
    out
}

/// Reads a `T` from a control message's data if the message (`cmsg_len` = `have`)
/// is long enough to hold one.
fn read_data<T: Copy>(data: *const u8, have: usize) -> Option<T> {
    let need = u32::try_from(mem::size_of::<T>()).ok()?;
    // SAFETY: CMSG_LEN is pure arithmetic on its argument.
    let need_len = unsafe { libc::CMSG_LEN(need) } as usize;
    if have < need_len {
        return None;
    }
    // SAFETY: `have` >= CMSG_LEN(sizeof T) means the kernel wrote a whole T at
    // `data`, inside the control buffer; read_unaligned copes with its alignment.
    Some(unsafe { ptr::read_unaligned(data.cast::<T>()) })
}

/// A kernel timestamp as a wall-clock instant (`None` if out of range).
fn wall_clock(ts: libc::timespec) -> Option<SystemTime> {
    let secs = u64::try_from(ts.tv_sec).ok()?;
    let nanos = u32::try_from(ts.tv_nsec)
        .ok()
        .filter(|n| *n < 1_000_000_000)?;
    SystemTime::UNIX_EPOCH.checked_add(Duration::new(secs, nanos))
}

fn sockaddr_ip(name: &libc::sockaddr_storage) -> Option<IpAddr> {
    match libc::c_int::from(name.ss_family) {
        libc::AF_INET => {
            // SAFETY: ss_family == AF_INET means the storage holds a sockaddr_in,
            // which is smaller than sockaddr_storage; read_unaligned copies it out.
            let sin: libc::sockaddr_in =
                unsafe { ptr::read_unaligned((name as *const libc::sockaddr_storage).cast()) };
            Some(IpAddr::V4(Ipv4Addr::from(u32::from_be(
                sin.sin_addr.s_addr,
            ))))
        }
        libc::AF_INET6 => {
            // SAFETY: as above for AF_INET6 / sockaddr_in6.
            let sin6: libc::sockaddr_in6 =
                unsafe { ptr::read_unaligned((name as *const libc::sockaddr_storage).cast()) };
            Some(IpAddr::V6(Ipv6Addr::from(sin6.sin6_addr.s6_addr)))
        }
        _ => None,
    }
}

/// One non-blocking `sendmsg` of `payload` to `dst`, from `from` when given.
pub(crate) fn send(
    fd: BorrowedFd<'_>,
    payload: &[u8],
    dst: SocketAddr,
    from: Option<SendFrom>,
) -> io::Result<usize> {
    let dst = socket2::SockAddr::from(dst);
    let mut control = ControlBuf([0; 256]);
    let mut iov = libc::iovec {
        // sendmsg never writes through iov_base; the cast only satisfies the type.
        iov_base: payload.as_ptr() as *mut libc::c_void,
        iov_len: payload.len(),
    };
    // SAFETY: all-zero msghdr is a valid empty header (see `recv`).
    let mut msg: libc::msghdr = unsafe { mem::zeroed() };
    msg.msg_name = dst.as_ptr() as *mut libc::c_void;
    msg.msg_namelen = dst.len();
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    if let Some(from) = from {
        let len = match from.src {
            IpAddr::V4(src) => write_control(
                &mut msg,
                &mut control,
                libc::IPPROTO_IP,
                libc::IP_PKTINFO,
                libc::in_pktinfo {
                    ipi_ifindex: libc::c_int::try_from(from.ifindex)
                        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?,
                    ipi_spec_dst: libc::in_addr {
                        s_addr: u32::from(src).to_be(),
                    },
                    ipi_addr: libc::in_addr { s_addr: 0 },
                },
            ),
            IpAddr::V6(src) => write_control(
                &mut msg,
                &mut control,
                libc::IPPROTO_IPV6,
                libc::IPV6_PKTINFO,
                libc::in6_pktinfo {
                    ipi6_addr: libc::in6_addr {
                        s6_addr: src.octets(),
                    },
                    ipi6_ifindex: from.ifindex,
                },
            ),
        };
        msg.msg_controllen = len as _;
    }
    // SAFETY: `msg` points at `dst` (a SockAddr alive until the end of this function),
    // at `iov` describing `payload`, and, when set, at `control`; the kernel only
    // reads through them.
    let n = unsafe { libc::sendmsg(fd.as_raw_fd(), &msg, libc::MSG_DONTWAIT) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    usize::try_from(n).map_err(|_| io::Error::from(io::ErrorKind::InvalidData))
}

/// Writes one control message carrying `value` at the start of `control`, points
/// `msg` at it and returns the control length to set.
fn write_control<T: Copy>(
    msg: &mut libc::msghdr,
    control: &mut ControlBuf,
    level: libc::c_int,
    kind: libc::c_int,
    value: T,
) -> usize {
    let size = mem::size_of::<T>() as u32;
    // SAFETY: CMSG_SPACE / CMSG_LEN are pure arithmetic.
    let (space, len) = unsafe { (libc::CMSG_SPACE(size) as usize, libc::CMSG_LEN(size)) };
    debug_assert!(space <= control.0.len());
    msg.msg_control = control.0.as_mut_ptr().cast();
    msg.msg_controllen = space as _;
    // SAFETY: msg_control/msg_controllen now describe `control`, which is aligned
    // for cmsghdr and at least `space` bytes long, so CMSG_FIRSTHDR returns a
    // pointer to its start, and the header plus CMSG_DATA..+size lie inside it.
    unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(msg);
        (*cmsg).cmsg_level = level;
        (*cmsg).cmsg_type = kind;
        (*cmsg).cmsg_len = len as _;
        ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<T>(), value);
    }
    space
}
