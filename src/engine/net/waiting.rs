//! The waiting queue: where a settled Backup's Master's unchanged adverts wait,
//! unread, until the daemon is awake anyway (docs/architecture.md, "Adverts that
//! wait").
//!
//! A Backup that hears its Master once a second need not wake once a second: such an
//! advert only pushes the down timer later (`Router::advert_may_wait`). So beside
//! the polled VRRP socket of an interface, a second one, never polled, receives
//! exactly the adverts that are byte for byte the Master's last one (a classic BPF
//! filter compares the length, IHL, TTL, source, destination and every VRRP byte;
//! the IP identification and header checksum, which change per packet, are not
//! compared), and the polled socket's filter turns those same adverts away. The
//! kernel stamps each on arrival (SO_TIMESTAMPNS), and the daemon reads the queue
//! before anything else reaches the routers, feeding each advert with the time it
//! arrived, so the routers see what they would have seen reading it at once.
//!
//! IPv4 only: an IPv6 raw socket's filter sees no IPv6 header, so the source could
//! only be compared through the kernel's negative offsets; IPv6 instances read
//! every advert as they come.

use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

use super::vrrp_socket::{Delivery, RecvMeta, VrrpSocket};
use super::{sockopt, Interface, SocketError};

/// The longest VRRP message a pattern compares (bytes after the IPv4 header): its
/// filter (123 instructions) must fit in `MAX_INSNS`, and so in the classic BPF
/// jump range. A VRRPv2 advert with 52 IPv4 VIPs is this long.
pub const MAX_PAYLOAD: usize = 224;

/// The most instructions one socket filter may have. The kernel takes 4096
/// (BPF_MAXINSNS) but charges each filter to the socket's option memory at about
/// 60 bytes per classic instruction once converted, the old and the new filter both
/// while one replaces the other, against `net.core.optmem_max` (20 KiB on older
/// kernels). 128 stay within that and hold six typical VRRPv2 adverts (21
/// instructions each); a longer advert than fits is read when it comes.
const MAX_INSNS: usize = 128;

/// "Keep the whole datagram" as a filter's return value.
const KEEP: u32 = u32::MAX;

/// One advert that may wait: its IPv4 source and destination and its VRRP bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitPattern {
    src: Ipv4Addr,
    dst: Ipv4Addr,
    payload: Vec<u8>,
}

impl WaitPattern {
    /// The pattern of an IPv4 datagram as a raw socket hands it over (header
    /// first): `None` for one with IP options, a TTL other than 255, or a VRRP
    /// message longer than [`MAX_PAYLOAD`].
    pub fn from_ipv4_datagram(bytes: &[u8]) -> Option<WaitPattern> {
        let header: &[u8; 20] = bytes.get(..20)?.try_into().ok()?;
        if header[0] != 0x45 || header[8] != 255 {
            return None;
        }
        let payload = bytes.get(20..)?;
        if payload.is_empty() || payload.len() > MAX_PAYLOAD {
            return None;
        }
        Some(WaitPattern {
            src: Ipv4Addr::new(header[12], header[13], header[14], header[15]),
            dst: Ipv4Addr::new(header[16], header[17], header[18], header[19]),
            payload: payload.to_vec(),
        })
    }

    /// The instructions that fall through to the next block on the first
    /// difference, and return `on_match` when every compared field is equal.
    fn block(&self, on_match: u32) -> Vec<libc::sock_filter> {
        let mut checks: Vec<(u16, u32, u32)> = Vec::new(); // (load, offset, value)
        let total = u32::try_from(20 + self.payload.len()).unwrap_or(u32::MAX);
        checks.push((LD_LEN, 0, total));
        checks.push((LD_B, 0, 0x45));
        checks.push((LD_B, 8, 255));
        checks.push((LD_W, 12, u32::from(self.src)));
        checks.push((LD_W, 16, u32::from(self.dst)));
        let mut at = 0;
        while at < self.payload.len() {
            let rest = &self.payload[at..];
            let offset = u32::try_from(20 + at).unwrap_or(u32::MAX);
            let (load, len) = match rest.len() {
                4.. => (LD_W, 4),
                2 | 3 => (LD_H, 2),
                _ => (LD_B, 1),
            };
            let value = rest[..len]
                .iter()
                .fold(0u32, |v, b| (v << 8) | u32::from(*b));
            checks.push((load, offset, value));
            at += len;
        }
        // Each check is a load and a compare; the block ends with the return.
        let size = checks.len() * 2 + 1;
        let mut out = Vec::with_capacity(size);
        for (n, (load, offset, value)) in checks.into_iter().enumerate() {
            out.push(stmt(load, offset));
            // From the instruction after this compare to the first after the block.
            let skip = size - (n * 2 + 2);
            out.push(libc::sock_filter {
                code: JEQ_K,
                jt: 0,
                jf: u8::try_from(skip).unwrap_or(u8::MAX),
                k: value,
            });
        }
        out.push(stmt(RET_K, on_match));
        out
    }
}

// Classic BPF opcodes (linux/filter.h, linux/bpf_common.h).
const LD_W: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
const LD_H: u16 = (libc::BPF_LD | libc::BPF_H | libc::BPF_ABS) as u16;
const LD_B: u16 = (libc::BPF_LD | libc::BPF_B | libc::BPF_ABS) as u16;
const LD_LEN: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_LEN) as u16;
const JEQ_K: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
const RET_K: u16 = (libc::BPF_RET | libc::BPF_K) as u16;

fn stmt(code: u16, k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

/// Which side of the split a filter keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// The waiting queue: the adverts that match a pattern.
    Matching,
    /// The polled socket: everything else.
    Others,
}

/// A socket filter keeping the datagrams `keep` names, and how many of `patterns`
/// it holds: those that fit the kernel's limit, in order.
pub fn program(patterns: &[WaitPattern], keep: Keep) -> (Vec<libc::sock_filter>, usize) {
    let (on_match, otherwise) = match keep {
        Keep::Matching => (KEEP, 0),
        Keep::Others => (0, KEEP),
    };
    let mut out = Vec::new();
    let mut held = 0;
    for p in patterns {
        let block = p.block(on_match);
        if out.len() + block.len() + 1 > MAX_INSNS {
            break;
        }
        out.extend(block);
        held += 1;
    }
    out.push(stmt(RET_K, otherwise));
    (out, held)
}

/// Replaces the socket's filter with `program` (SO_ATTACH_FILTER: atomic, the
/// kernel applies the old or the new one to each datagram).
pub fn attach(fd: BorrowedFd<'_>, program: &[libc::sock_filter]) -> io::Result<()> {
    let len =
        u16::try_from(program.len()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let prog = libc::sock_fprog {
        len,
        // The kernel copies the instructions during the call and never writes them.
        filter: program.as_ptr().cast_mut(),
    };
    sockopt::set(fd, libc::SOL_SOCKET, libc::SO_ATTACH_FILTER, prog)
}

/// Removes the socket's filter; none attached is fine.
pub fn detach(fd: BorrowedFd<'_>) -> io::Result<()> {
    match sockopt::set::<libc::c_int>(fd, libc::SOL_SOCKET, libc::SO_DETACH_FILTER, 0) {
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(()),
        other => other,
    }
}

/// The never-polled socket the waiting adverts queue on. Opened keeping nothing;
/// `set_patterns` decides what it keeps.
#[derive(Debug)]
pub struct WaitingQueue {
    socket: VrrpSocket,
}

impl WaitingQueue {
    /// Opens it on `interface` as the polled socket there is (joined to the group
    /// for multicast), with arrival stamps and drop counts on every datagram.
    pub fn open(interface: &Interface, delivery: Delivery) -> Result<WaitingQueue, SocketError> {
        let socket = VrrpSocket::open_v4(interface, Ipv4Addr::UNSPECIFIED, delivery)?;
        let err = |op: &'static str| {
            let ifname = interface.name.clone();
            move |source: io::Error| SocketError { op, ifname, source }
        };
        let fd = socket.as_fd();
        let (nothing, _) = program(&[], Keep::Matching);
        attach(fd, &nothing).map_err(err("attach the waiting queue's filter"))?;
        // The IPv4 header the datagram starts with has the TTL and destination the
        // receive ladder reads: no per-datagram ancillary data for them (each
        // costs a copy on every read).
        sockopt::set_flag(fd, libc::IPPROTO_IP, libc::IP_PKTINFO, false)
            .map_err(err("clear IP_PKTINFO"))?;
        sockopt::set_flag(fd, libc::IPPROTO_IP, libc::IP_RECVTTL, false)
            .map_err(err("clear IP_RECVTTL"))?;
        sockopt::set_flag(fd, libc::SOL_SOCKET, libc::SO_TIMESTAMPNS, true)
            .map_err(err("set SO_TIMESTAMPNS"))?;
        Ok(WaitingQueue { socket })
    }

    /// How many datagrams the queue has dropped so far for want of room
    /// (SO_MEMINFO's drop count). Read before the queue is: a full queue drops the
    /// newest adverts, which no datagram left in it could report.
    pub fn drops(&self) -> io::Result<u32> {
        /// SO_MEMINFO (asm-generic/socket.h) and its drop count's index
        /// (SK_MEMINFO_DROPS, linux/sock_diag.h).
        const SO_MEMINFO: libc::c_int = 55;
        const DROPS: usize = 8;
        let mut info = [0u32; DROPS + 1];
        let mut len = libc::socklen_t::try_from(std::mem::size_of_val(&info))
            .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        // SAFETY: the descriptor is our open socket; `info` and `len` are live
        // locals, `len` holds `info`'s size and the kernel writes at most that many
        // bytes into it and the length it wrote back into `len`.
        let rc = unsafe {
            libc::getsockopt(
                self.socket.as_raw_fd(),
                libc::SOL_SOCKET,
                SO_MEMINFO,
                info.as_mut_ptr().cast(),
                &mut len,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        if (len as usize) < std::mem::size_of_val(&info) {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "SO_MEMINFO without a drop count",
            ));
        }
        Ok(info[DROPS])
    }

    /// One queued datagram, `WouldBlock` when none is left.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<(usize, RecvMeta)> {
        self.socket.recv(buf)
    }
}

impl AsFd for WaitingQueue {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.socket.as_fd()
    }
}

impl AsRawFd for WaitingQueue {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.socket.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixDatagram;

    /// A v2 advert from `src` at `priority`, with an IP identification of `id`.
    fn datagram(src: [u8; 4], priority: u8, id: u16) -> Vec<u8> {
        let mut d = vec![
            0x45, 0xc0, 0, 40, 0, 0, 0, 0, 255, 112, 0, 0, src[0], src[1], src[2], src[3], 224, 0,
            0, 18,
        ];
        d[4..6].copy_from_slice(&id.to_be_bytes());
        d[10..12].copy_from_slice(&id.wrapping_mul(7).to_be_bytes()); // any header checksum
        d.extend([0x21, 51, priority, 1, 0, 1, 0xd6, 0x18, 10, 0, 0, 100]);
        d.extend([0; 8]);
        d
    }

    /// What a socket with `program` attached keeps of `sent`: classic BPF sees a
    /// Unix datagram's bytes from offset 0, as it sees a raw IPv4 socket's from the
    /// IP header, so the filter runs in the kernel without privileges.
    fn kept(program: &[libc::sock_filter], sent: &[Vec<u8>]) -> Vec<Vec<u8>> {
        let (tx, rx) = UnixDatagram::pair().unwrap();
        attach(rx.as_fd(), program).unwrap();
        rx.set_nonblocking(true).unwrap();
        for d in sent {
            tx.send(d).unwrap();
        }
        let mut out = Vec::new();
        let mut buf = [0u8; 2048];
        while let Ok(n) = rx.recv(&mut buf) {
            out.push(buf[..n].to_vec());
        }
        out
    }

    fn patterns(of: &[Vec<u8>]) -> Vec<WaitPattern> {
        of.iter()
            .map(|d| WaitPattern::from_ipv4_datagram(d).unwrap())
            .collect()
    }

    /// The IP identification and header checksum change per packet; nothing else
    /// of a settled Master's advert does. Another priority, sender, destination,
    /// TTL or length is not the same advert.
    #[test]
    fn the_waiting_queue_keeps_only_the_masters_unchanged_advert_and_the_socket_the_rest() {
        let master = datagram([10, 0, 0, 9], 200, 1);
        let waits = patterns(std::slice::from_ref(&master));
        let same_later = datagram([10, 0, 0, 9], 200, 2);
        let mut ttl = datagram([10, 0, 0, 9], 200, 3);
        ttl[8] = 254;
        let mut unicast = datagram([10, 0, 0, 9], 200, 4);
        unicast[19] = 19;
        let mut longer = datagram([10, 0, 0, 9], 200, 5);
        longer.extend([0; 4]);
        let mut options = datagram([10, 0, 0, 9], 200, 6);
        options[0] = 0x46;
        let others = vec![
            datagram([10, 0, 0, 9], 0, 7),   // a release
            datagram([10, 0, 0, 9], 199, 8), // another priority
            datagram([10, 0, 0, 8], 200, 9), // another sender
            ttl,
            unicast,
            longer,
            options,
            vec![0x45],
            Vec::new(),
        ];
        let mut sent = vec![master.clone(), same_later.clone()];
        sent.extend(others.iter().cloned());
        let (queue, held) = program(&waits, Keep::Matching);
        assert_eq!(held, 1);
        assert_eq!(kept(&queue, &sent), vec![master, same_later]);
        let (socket, _) = program(&waits, Keep::Others);
        assert_eq!(kept(&socket, &sent), others);
    }

    /// Several instances on one interface: each Master's advert waits.
    #[test]
    fn several_patterns_each_keep_their_own_advert() {
        let a = datagram([10, 0, 0, 9], 200, 1);
        let mut b = datagram([10, 0, 0, 7], 150, 1);
        b[21] = 52; // VRID 52
        let (queue, held) = program(&patterns(&[a.clone(), b.clone()]), Keep::Matching);
        assert_eq!(held, 2);
        let c = datagram([10, 0, 0, 7], 150, 2); // VRID 51 from b's sender
        assert_eq!(kept(&queue, &[a.clone(), c, b.clone()]), vec![a, b]);
    }

    /// A VRRP message whose length is no multiple of four is compared to its
    /// last byte.
    #[test]
    fn an_odd_length_is_compared_to_the_last_byte() {
        let mut a = datagram([10, 0, 0, 9], 200, 1);
        a.extend([1, 2, 3]);
        let mut b = a.clone();
        b[22] = 201; // priority: the length alone would match
        let mut c = a.clone();
        let last = c.len() - 1;
        c[last] = 4;
        let (queue, _) = program(&patterns(&[a.clone()]), Keep::Matching);
        assert_eq!(kept(&queue, &[a.clone(), b, c]), vec![a]);
    }

    #[test]
    fn no_pattern_keeps_nothing_on_the_queue_and_everything_on_the_socket() {
        let d = datagram([10, 0, 0, 9], 200, 1);
        assert!(kept(&program(&[], Keep::Matching).0, std::slice::from_ref(&d)).is_empty());
        assert_eq!(
            kept(&program(&[], Keep::Others).0, std::slice::from_ref(&d)),
            vec![d]
        );
    }

    #[test]
    fn a_datagram_with_options_a_low_ttl_or_a_long_message_gives_no_pattern() {
        let mut options = datagram([10, 0, 0, 9], 200, 1);
        options[0] = 0x46;
        assert_eq!(WaitPattern::from_ipv4_datagram(&options), None);
        let mut ttl = datagram([10, 0, 0, 9], 200, 1);
        ttl[8] = 1;
        assert_eq!(WaitPattern::from_ipv4_datagram(&ttl), None);
        let mut long = datagram([10, 0, 0, 9], 200, 1);
        long.resize(20 + MAX_PAYLOAD + 1, 0);
        assert_eq!(WaitPattern::from_ipv4_datagram(&long), None);
        long.truncate(20 + MAX_PAYLOAD);
        let p = WaitPattern::from_ipv4_datagram(&long).unwrap();
        // The longest message still fits the jump range of one block.
        assert!(p.block(KEEP).len() <= 257);
    }

    /// Past `MAX_INSNS`, the patterns that do not fit are left
    /// out (their adverts are read at once, as before).
    #[test]
    fn patterns_past_the_kernels_limit_are_left_out() {
        let mut long = datagram([10, 0, 0, 9], 200, 1);
        long.resize(20 + MAX_PAYLOAD, 0);
        let many = patterns(&vec![long; 40]);
        let (prog, held) = program(&many, Keep::Matching);
        assert!(held < 40 && held > 0, "{held}");
        assert!(prog.len() <= MAX_INSNS);
        let (tx, rx) = UnixDatagram::pair().unwrap();
        drop(tx);
        attach(rx.as_fd(), &prog).unwrap_or_else(|e| panic!("{} instructions: {e}", prog.len()));
    }
}
