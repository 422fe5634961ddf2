//! Why an advert was discarded, and the one table of drop counters.
//!
//! A reason is either [`DropReason::Malformed`], which nests the decoder's
//! [`DecodeError`] (the rules of RFC 3768 §7.1 / RFC 9568 §7.1 that need no local
//! configuration), or one of the rules that compare an advert with the local
//! instance (TTL, version, destination, authentication, interval, address list).
//!
//! The state file shows one counter per receive rule. Which reasons land in which
//! counter, the counter's JSON name, its field in [`DropCounters`] and the total are
//! all generated from the single `drop_counters!` table below, so adding a rule is
//! one row there plus its variant, and the compiler checks every reason has a row
//! (the generated `match` is exhaustive).

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::decode::DecodeError;
use crate::proto::AdvertInterval;

/// Why an advert was discarded. Each reason is counted in one
/// [`DropCounters`] field, named by [`DropReason::name`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum DropReason {
    /// The bytes are not a well-formed advert: the decoder's verdict, kept whole.
    #[error(transparent)]
    Malformed(#[from] DecodeError),
    /// TTL / Hop Limit other than 255 on a multicast instance (RFC 9568 §7.1).
    #[error("TTL/hop limit {0}, VRRP requires 255 (sender not on this link, or forged)")]
    Ttl(u8),
    /// A well-formed advert of the other VRRP version than this instance's.
    #[error("VRRP version {0} not spoken by this instance")]
    Version(u8),
    /// No local instance has this VRID on this family.
    #[error("no instance with VRID {0} here")]
    UnknownVrid(u8),
    /// Multicast advert on a unicast instance or vice versa, or another group.
    #[error("sent to {0}, which is not this instance's destination (multicast group vs unicast)")]
    Destination(IpAddr),
    /// Unicast advert from an address that is not a configured `unicast_peer`.
    #[error("unicast advert from {0}, which is not a configured unicast_peer")]
    UnicastPeer(IpAddr),
    /// VRRPv2 auth type other than ours (RFC 3768 §7.1).
    #[error("VRRPv2 auth type {got}, this instance uses {expected}")]
    AuthType {
        /// The auth type in the advert.
        got: u8,
        /// Our configured auth type.
        expected: u8,
    },
    /// VRRPv2 PASS that differs from `auth_pass` (RFC 3768 §7.1).
    #[error("VRRPv2 PASS authentication does not match auth_pass")]
    AuthPass,
    /// VRRPv2 advertisement interval other than ours (RFC 3768 §7.1 MUST discard).
    #[error("VRRPv2 advert_int {got} differs from the local {local} (RFC 3768 §7.1 MUST discard)")]
    IntervalMismatch {
        /// The interval in the advert.
        got: AdvertInterval,
        /// Our configured interval.
        local: AdvertInterval,
    },
    /// VRRPv3/IPv6 advert whose first address is not link-local (RFC 9568 erratum 8300).
    #[error("first address {0} of a VRRPv3 IPv6 advert is not link-local (RFC 9568 erratum 8300)")]
    FirstAddressNotLinkLocal(IpAddr),
    /// Address list differs from ours and the sender is not the owner (RFC 3768 §7.1).
    #[error("advert lists {count} addresses that differ from the configured virtual_ipaddress (same VRID used by another cluster?)")]
    AddressListMismatch {
        /// How many addresses the advert lists.
        count: usize,
    },
}

impl DropReason {
    /// snake_case name of the reason's counter: its JSON key in the state file, and
    /// the key the daemon rate-limits its drop logs by.
    pub fn name(&self) -> &'static str {
        self.counter().name()
    }
}

/// The table: `Counter field: which reasons it counts,` one row per receive rule, in
/// the state file's order. Generates [`DropCounter`] (with its names),
/// [`DropCounters`] (its fields are the names), and [`DropReason::counter`].
macro_rules! drop_counters {
    ($(
        $(#[$doc:meta])*
        $counter:ident $field:ident: $reasons:pat,
    )*) => {
        /// One drop counter of the state file; several [`DropReason`]s may share one
        /// (a VRID of 0 counts as an unknown VRID, an unsupported auth type as an
        /// auth-type mismatch).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum DropCounter {
            $( $(#[$doc])* $counter, )*
        }

        impl DropCounter {
            /// Every counter, in the state file's order.
            pub const ALL: &'static [DropCounter] = &[$(DropCounter::$counter),*];

            /// snake_case name: the counter's JSON key in the state file, which the
            /// charm and operators read, so it never changes.
            pub const fn name(self) -> &'static str {
                match self {
                    $(DropCounter::$counter => stringify!($field),)*
                }
            }
        }

        /// One counter per [`DropCounter`]; the serialized field names are
        /// [`DropCounter::name`]. Counts saturate rather than wrap.
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
        pub struct DropCounters {
            $( $(#[$doc])* pub $field: u64, )*
        }

        impl DropCounters {
            /// The value of one counter.
            pub fn get(&self, counter: DropCounter) -> u64 {
                match counter {
                    $(DropCounter::$counter => self.$field,)*
                }
            }

            fn slot(&mut self, counter: DropCounter) -> &mut u64 {
                match counter {
                    $(DropCounter::$counter => &mut self.$field,)*
                }
            }
        }

        impl DropReason {
            /// The counter this reason is counted in.
            pub fn counter(&self) -> DropCounter {
                match self {
                    $($reasons => DropCounter::$counter,)*
                }
            }
        }
    };
}

drop_counters! {
    /// Unusable IPv4 header, or IP source and destination of different families.
    IpHeader ip_header:
        DropReason::Malformed(DecodeError::IpHeader(_) | DecodeError::IpFamilyMismatch),
    /// TTL / Hop Limit not 255 (RFC 9568 §7.1; skipped for unicast instances).
    Ttl ttl: DropReason::Ttl(_),
    /// A version that does not exist, VRRPv2 over IPv6, or not this instance's.
    Version version: DropReason::Version(_)
        | DropReason::Malformed(DecodeError::Version(_) | DecodeError::V2OverIpv6),
    /// A type other than ADVERTISEMENT.
    PacketType packet_type: DropReason::Malformed(DecodeError::Type(_)),
    /// Shorter than its header and address count imply.
    Truncated truncated: DropReason::Malformed(DecodeError::Truncated { .. }),
    /// Longer than its address count implies.
    TrailingBytes trailing_bytes: DropReason::Malformed(DecodeError::TrailingBytes { .. }),
    /// No checksum form verifies.
    Checksum checksum: DropReason::Malformed(DecodeError::Checksum(_)),
    /// VRRPv3 address count 0 (RFC 9568 erratum 8299).
    CountZero count_zero: DropReason::Malformed(DecodeError::CountZero),
    /// Advertisement interval 0 (RFC 9568 erratum 8301).
    IntervalZero interval_zero: DropReason::Malformed(DecodeError::IntervalZero),
    /// VRID 0, or no local instance with the VRID.
    UnknownVrid unknown_vrid:
        DropReason::UnknownVrid(_) | DropReason::Malformed(DecodeError::VridZero),
    /// Not sent to this instance's destination.
    Destination destination: DropReason::Destination(_),
    /// Unicast advert from an address that is not a configured peer.
    UnicastPeer unicast_peer: DropReason::UnicastPeer(_),
    /// VRRPv2 auth type unsupported or other than ours.
    AuthType auth_type:
        DropReason::AuthType { .. } | DropReason::Malformed(DecodeError::AuthType(_)),
    /// VRRPv2 PASS differs from ours.
    AuthPass auth_pass: DropReason::AuthPass,
    /// VRRPv2 interval differs from ours.
    IntervalMismatch interval_mismatch: DropReason::IntervalMismatch { .. },
    /// VRRPv3/IPv6 first address not link-local (RFC 9568 erratum 8300).
    FirstAddressNotLinkLocal first_address_not_link_local:
        DropReason::FirstAddressNotLinkLocal(_),
    /// Address list differs from ours, sender not the owner.
    AddressListMismatch address_list_mismatch: DropReason::AddressListMismatch { .. },
}

impl DropCounters {
    /// Counts one discarded advert in its reason's counter.
    pub fn record(&mut self, reason: &DropReason) {
        let slot = self.slot(reason.counter());
        *slot = slot.saturating_add(1);
    }

    /// Every counter with its value, in the state file's order.
    pub fn iter(&self) -> impl Iterator<Item = (DropCounter, u64)> + '_ {
        DropCounter::ALL.iter().map(|c| (*c, self.get(*c)))
    }

    /// All drops, whatever the reason.
    pub fn total(&self) -> u64 {
        self.iter().fold(0u64, |a, (_, n)| a.saturating_add(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The JSON keys of the state file before the table existed: the charm, the lab
    /// and operators' scripts read these, so the table must keep them exactly, in
    /// this order.
    const STATE_FILE_NAMES: [&str; 17] = [
        "ip_header",
        "ttl",
        "version",
        "packet_type",
        "truncated",
        "trailing_bytes",
        "checksum",
        "count_zero",
        "interval_zero",
        "unknown_vrid",
        "destination",
        "unicast_peer",
        "auth_type",
        "auth_pass",
        "interval_mismatch",
        "first_address_not_link_local",
        "address_list_mismatch",
    ];

    #[test]
    fn table_names_are_the_state_files_json_names() {
        let names: Vec<_> = DropCounter::ALL.iter().map(|c| c.name()).collect();
        assert_eq!(names, STATE_FILE_NAMES);
        let json = serde_json::to_value(DropCounters::default()).unwrap();
        let keys: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
        let mut sorted = STATE_FILE_NAMES.map(String::from).to_vec();
        sorted.sort();
        let mut keys_sorted = keys.clone();
        keys_sorted.sort();
        assert_eq!(keys_sorted, sorted);
        let text = serde_json::to_string(&DropCounters::default()).unwrap();
        let in_order: Vec<_> = STATE_FILE_NAMES
            .iter()
            .map(|n| text.find(&format!("\"{n}\"")).unwrap())
            .collect();
        assert!(in_order.windows(2).all(|w| w[0] < w[1]), "{text}");
    }

    #[test]
    fn each_counter_is_its_own_field_and_counts_into_the_total() {
        for (i, counter) in DropCounter::ALL.iter().enumerate() {
            let mut c = DropCounters::default();
            *c.slot(*counter) = 3;
            assert_eq!(c.get(*counter), 3);
            assert_eq!(c.total(), 3);
            let json = serde_json::to_value(c).unwrap();
            assert_eq!(json[STATE_FILE_NAMES[i]], 3, "{}", counter.name());
        }
    }

    #[test]
    fn counters_saturate() {
        let mut c = DropCounters {
            ttl: u64::MAX,
            checksum: 1,
            ..DropCounters::default()
        };
        c.record(&DropReason::Ttl(1));
        assert_eq!(c.ttl, u64::MAX);
        assert_eq!(c.total(), u64::MAX);
    }
}
