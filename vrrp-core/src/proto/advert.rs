use std::net::IpAddr;

use super::{AdvertInterval, Family, Priority, Version, Vrid};

/// VRRPv2 authentication (RFC 3768 §5.3.6 / RFC 2338). Only what keepalived speaks
/// without IPsec: none, or an 8-byte simple password (zero-padded).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Auth {
    /// No authentication (auth type 0).
    None,
    /// auth_type PASS: the first 8 bytes of the password, zero-padded.
    Pass([u8; 8]),
}

impl Auth {
    /// keepalived truncates PASS passwords to 8 bytes and zero-pads shorter ones.
    pub fn pass(password: &str) -> Auth {
        let mut bytes = [0u8; 8];
        for (dst, src) in bytes.iter_mut().zip(password.as_bytes()) {
            *dst = *src;
        }
        Auth::Pass(bytes)
    }

    /// Auth Type byte on the wire (v2 only).
    pub fn wire_type(&self) -> u8 {
        match self {
            Auth::None => 0,
            Auth::Pass(_) => 1,
        }
    }

    /// Whether an instance authenticating with `self` takes an advert that carries
    /// `theirs` despite another VRRP version or advert interval (docs/requirements.md
    /// K-15): only when neither side uses authentication. Such an advert is our own
    /// cluster in the middle of a rolling timing change (the charm's automatic timing
    /// profile, an operator's `vrrp_version`/`advert_interval` change), which RFC 9568
    /// §8.4 expects when VRRPv2 routers move to VRRPv3; a Backup then times the Master
    /// by the Master's interval. A configured password is the operator's statement
    /// that only routers sharing it are ours: the RFC 3768 §7.1 rules apply to the
    /// letter, and a VRRPv3 advert (which cannot carry the password) is another
    /// version's.
    pub fn tolerates_other_timing(&self, theirs: &Auth) -> bool {
        *self == Auth::None && *theirs == Auth::None
    }

    /// A PASS password without its zero padding, as keepalived.conf writes it.
    pub fn password(&self) -> Option<std::borrow::Cow<'_, str>> {
        match self {
            Auth::None => None,
            Auth::Pass(bytes) => {
                let len = bytes.iter().rposition(|b| *b != 0).map_or(0, |p| p + 1);
                Some(String::from_utf8_lossy(&bytes[..len]))
            }
        }
    }
}

/// The content of one VRRP advertisement, as the codec decodes it and a router
/// sends it — independent of the wire version's layout.
///
/// The IP-level facts (source address, TTL/hop limit, destination) travel beside it
/// in the receive path; they are not part of the VRRP message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advert {
    /// VRRPv2 or v3.
    pub version: Version,
    /// The virtual router it speaks for.
    pub vrid: Vrid,
    /// 0 = the sender is resigning; 255 = the sender owns the addresses.
    pub priority: Priority,
    /// v2: whole seconds on the wire; v3: centiseconds ("Max Advertise Interval").
    pub interval: AdvertInterval,
    /// The virtual addresses, all of one family (the family of the IP header).
    /// For IPv6 the first is the router's link-local address (RFC 9568 §5.2.9).
    pub addresses: Vec<IpAddr>,
    /// v2 only; always `Auth::None` for v3.
    pub auth: Auth,
}

impl Advert {
    /// The family of its addresses (IPv4 when it carries none).
    pub fn family(&self) -> Family {
        match self.addresses.first() {
            Some(IpAddr::V6(_)) => Family::V6,
            _ => Family::V4,
        }
    }
}

/// `rolling_from { virtual_router_id N [authentication {...}] [unicast_peer {...}]
/// [interface NAME] }` (ours, not keepalived's; docs/requirements.md K-17): a second
/// wire identity of the same virtual router. While some routers of the cluster still
/// run the old `virtual_router_id`, password, transport or interface, the instance
/// also sends each advert in the old identity (on the old interface) and accepts
/// adverts in it as its own, so old and new routers keep one election and one
/// Master. Written in full: no `authentication` block means the old identity had
/// none, no `unicast_peer` block that it was multicast, no `interface` that it ran on
/// the instance's own interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollingFrom {
    /// The VRID the cluster is moving from (may equal the instance's).
    pub vrid: Vrid,
    /// The authentication the cluster is moving from (VRRPv2 only).
    pub auth: Auth,
    /// The unicast peers of the old identity; empty: it was multicast.
    pub unicast_peers: Vec<IpAddr>,
    /// The interface the old identity ran on, when not the instance's own: adverts
    /// in it go out there (from that interface's address) and are heard there.
    pub interface: Option<String>,
}

impl RollingFrom {
    /// The VRID this identity adds to a router on `own`: none when only the password
    /// or the transport changes.
    pub fn other_vrid(&self, own: Vrid) -> Option<Vrid> {
        (self.vrid != own).then_some(self.vrid)
    }

    /// `advert` (as the router built it) in the old identity.
    pub fn advert(&self, advert: &Advert) -> Advert {
        Advert {
            vrid: self.vrid,
            auth: match advert.version {
                Version::V2 => self.auth,
                Version::V3 => Auth::None,
            },
            ..advert.clone()
        }
    }
}
