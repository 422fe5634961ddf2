use std::fmt;

use super::{Family, Vrid};

/// An Ethernet (EUI-48) address: the sender hardware address of a gratuitous ARP, the
/// Target Link-Layer Address of a neighbour advertisement, a router's virtual MAC, an
/// interface's hardware address as the engine reads it. Shown as `02:99:00:00:00:0b`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    /// `ff:ff:ff:ff:ff:ff`, the destination of a gratuitous ARP.
    pub const BROADCAST: MacAddr = MacAddr([0xff; 6]);

    /// The virtual router MAC of RFC 9568 §7.3: `00-00-5E-00-01-{VRID}` for IPv4,
    /// `00-00-5E-00-02-{VRID}` for IPv6.
    pub fn virtual_router(family: Family, vrid: Vrid) -> MacAddr {
        let family_octet = match family {
            Family::V4 => 0x01,
            Family::V6 => 0x02,
        };
        MacAddr([0x00, 0x00, 0x5e, 0x00, family_octet, vrid.get()])
    }

    /// The six octets in wire order.
    pub fn octets(self) -> [u8; 6] {
        self.0
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_addresses_print_as_colon_separated_lowercase_hex() {
        assert_eq!(
            MacAddr([0x02, 0x99, 0, 0, 0, 0x0b]).to_string(),
            "02:99:00:00:00:0b"
        );
    }

    #[test]
    fn virtual_router_mac_carries_family_and_vrid() {
        let vrid = Vrid::new(51).unwrap();
        assert_eq!(
            MacAddr::virtual_router(Family::V4, vrid).to_string(),
            "00:00:5e:00:01:33"
        );
        assert_eq!(
            MacAddr::virtual_router(Family::V6, vrid).to_string(),
            "00:00:5e:00:02:33"
        );
    }
}
