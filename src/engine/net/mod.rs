//! The engine's Linux I/O edge: it moves bytes and addresses, and decides nothing.
//!
//! * [`vrrp_socket`]: raw IPv4/IPv6 sockets for IP protocol 112 (VRRP), bound to one
//!   interface, joined to 224.0.0.18 / ff02::12, TTL/hop limit 255 on send, the
//!   received TTL/hop limit read from ancillary data (RFC 9568 §7.1: a receiver MUST
//!   discard a packet whose TTL is not 255, so the number must reach the codec).
//! * [`packet_socket`]: an AF_PACKET socket that sends frames the codec built
//!   (gratuitous ARP, unsolicited neighbour advertisements), and the interface MAC.
//! * [`netlink`]: links, addresses and routes over rtnetlink ([`ifstate`] holds what
//!   it reports): VIPs are added and removed here; [`link_watch`] feeds link state to
//!   the routers' Fault state.
//! * [`waiting`]: the never-polled second socket where a settled Master's unchanged
//!   adverts wait for the daemon, with the socket filters that split the traffic.
//! * [`timer`]: a timerfd, so router deadlines fire within microseconds rather than
//!   on tokio's millisecond ticks.
//!
//! Everything here works in the network namespace of the thread that opens it, which
//! is what lets the namespace lab drive it from ordinary tests.

mod cmsg;
pub mod ifstate;
pub mod link_watch;
pub mod netlink;
pub mod packet_socket;
mod sockopt;
pub mod timer;
pub mod vrrp_socket;
pub mod waiting;

pub use ifstate::{IfAddr, Link};
pub use link_watch::{LinkWatch, NetEvent};
pub use netlink::{AddOutcome, Netlink, NetlinkError, RemoveOutcome};
pub use packet_socket::{interface_mac, AsyncPacketSocket, PacketSocket};
pub use timer::PreciseTimer;
pub use vrrp_socket::{AsyncVrrpSocket, Delivery, RecvMeta, SendHandle, VrrpSocket};
pub use waiting::{WaitPattern, WaitingQueue};

use std::ffi::CString;
use std::fmt;
use std::io;

/// A network interface as the kernel knows it in the current namespace: the name an
/// operator writes in keepalived.conf and the index every socket option wants.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Interface {
    pub name: String,
    pub index: u32,
}

impl Interface {
    /// Looks `name` up in the calling thread's network namespace.
    pub fn by_name(name: &str) -> Result<Interface, SocketError> {
        let no_such = || SocketError {
            op: "look up interface",
            ifname: name.to_string(),
            source: io::Error::from(io::ErrorKind::NotFound),
        };
        let c_name = CString::new(name).map_err(|_| no_such())?;
        // SAFETY: `c_name` is a valid NUL-terminated C string that lives across the
        // call; if_nametoindex only reads it and returns 0 on failure.
        let index = unsafe { libc::if_nametoindex(c_name.as_ptr()) };
        if index == 0 {
            return Err(SocketError {
                op: "look up interface",
                ifname: name.to_string(),
                source: io::Error::last_os_error(),
            });
        }
        Ok(Interface {
            name: name.to_string(),
            index,
        })
    }
}

impl fmt::Display for Interface {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (index {})", self.name, self.index)
    }
}

/// Opening or configuring a socket failed. The message names the step, the interface
/// and the kernel's reason, which is what an operator needs (usually: not root, or no
/// such interface).
#[derive(Debug, thiserror::Error)]
#[error("cannot {op} on interface {ifname}: {source}")]
pub struct SocketError {
    pub op: &'static str,
    pub ifname: String,
    #[source]
    pub source: io::Error,
}
