//! Domain newtypes shared by the codec, the config parser and the routers.
//!
//! VRRP engines have a long history of unit bugs (seconds vs centiseconds, skew
//! scaled or not): every quantity here carries its unit in its type, and the
//! timer arithmetic of RFC 3768 §6.1 / RFC 9568 §6.1 lives in exactly one place.

mod advert;
mod interval;
mod mac;
mod priority;
mod vrid;

pub use advert::{Advert, Auth, RollingFrom};
pub use interval::{AdvertInterval, Timers};
pub use mac::MacAddr;
pub use priority::Priority;
pub use vrid::Vrid;

use std::fmt;

/// VRRP protocol version. keepalived defaults to v2 for IPv4; IPv6 is always v3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Version {
    /// RFC 3768: IPv4 only, interval in whole seconds, 8 authentication bytes.
    V2,
    /// RFC 5798 / RFC 9568: IPv4 and IPv6, interval in centiseconds, no authentication.
    V3,
}

impl Version {
    /// The value of the version nibble on the wire.
    pub fn wire(self) -> u8 {
        match self {
            Version::V2 => 2,
            Version::V3 => 3,
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VRRPv{}", self.wire())
    }
}

/// Address family of a virtual router. An IPv4 and an IPv6 router with the same VRID
/// are independent instances (RFC 9568 §6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// IPv4 (VRRPv2 or v3).
    V4,
    /// IPv6 (always VRRPv3).
    V6,
}

impl Family {
    /// Length in bytes of one address of this family in an advertisement.
    pub fn addr_len(self) -> usize {
        match self {
            Family::V4 => 4,
            Family::V6 => 16,
        }
    }

    /// The family of an address.
    pub fn of(addr: &std::net::IpAddr) -> Family {
        match addr {
            std::net::IpAddr::V4(_) => Family::V4,
            std::net::IpAddr::V6(_) => Family::V6,
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        })
    }
}

/// A value outside the range a domain type allows. The message names the quantity,
/// the bad value and the allowed range, so it can be shown to an operator as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} {value} is out of range: allowed {allowed}")]
pub struct RangeError {
    /// The quantity, as an operator writes it (`virtual_router_id`).
    pub what: &'static str,
    /// The value given.
    pub value: String,
    /// What is allowed (`1..255`).
    pub allowed: &'static str,
}
