//! One counter per receive-ladder outcome, for the engine's JSON state file.

use serde::{Deserialize, Serialize};

use super::decode::ChecksumForm;
use super::ladder::{DropReason, Notices};

/// One counter per [`DropReason`]; field names are the reasons' [`DropReason::name`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub struct DropCounters {
    pub ip_header: u64,
    pub ttl: u64,
    pub version: u64,
    pub packet_type: u64,
    pub truncated: u64,
    pub trailing_bytes: u64,
    pub checksum: u64,
    pub count_zero: u64,
    pub interval_zero: u64,
    pub unknown_vrid: u64,
    pub destination: u64,
    pub unicast_peer: u64,
    pub auth_type: u64,
    pub auth_pass: u64,
    pub interval_mismatch: u64,
    pub first_address_not_link_local: u64,
    pub address_list_mismatch: u64,
}

impl DropCounters {
    pub fn record(&mut self, reason: &DropReason) {
        let slot = match reason {
            DropReason::IpHeader(_) => &mut self.ip_header,
            DropReason::Ttl(_) => &mut self.ttl,
            DropReason::Version(_) => &mut self.version,
            DropReason::Type(_) => &mut self.packet_type,
            DropReason::Truncated { .. } => &mut self.truncated,
            DropReason::TrailingBytes { .. } => &mut self.trailing_bytes,
            DropReason::Checksum(_) => &mut self.checksum,
            DropReason::CountZero => &mut self.count_zero,
            DropReason::IntervalZero => &mut self.interval_zero,
            DropReason::UnknownVrid(_) => &mut self.unknown_vrid,
            DropReason::Destination(_) => &mut self.destination,
            DropReason::UnicastPeer(_) => &mut self.unicast_peer,
            DropReason::AuthType { .. } => &mut self.auth_type,
            DropReason::AuthPass => &mut self.auth_pass,
            DropReason::IntervalMismatch { .. } => &mut self.interval_mismatch,
            DropReason::FirstAddressNotLinkLocal(_) => &mut self.first_address_not_link_local,
            DropReason::AddressListMismatch { .. } => &mut self.address_list_mismatch,
        };
        *slot = slot.saturating_add(1);
    }

    pub fn total(&self) -> u64 {
        [
            self.ip_header,
            self.ttl,
            self.version,
            self.packet_type,
            self.truncated,
            self.trailing_bytes,
            self.checksum,
            self.count_zero,
            self.interval_zero,
            self.unknown_vrid,
            self.destination,
            self.unicast_peer,
            self.auth_type,
            self.auth_pass,
            self.interval_mismatch,
            self.first_address_not_link_local,
            self.address_list_mismatch,
        ]
        .iter()
        .fold(0u64, |a, b| a.saturating_add(*b))
    }
}

/// Accepted adverts that are worth knowing about: the RFC says log, not drop.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub struct NoticeCounters {
    /// VRRPv3 advert with an interval other than ours (the Backup adopts it).
    pub interval_mismatch: u64,
    /// We own the addresses (priority 255) and another router claims them too.
    pub owner_conflict: u64,
    /// Address list differs and was accepted (sender is the owner, or log-only policy).
    pub address_list_mismatch: u64,
    /// VRRPv3/IPv4 adverts checksummed without pseudo-header (RFC 9568 form).
    pub checksum_no_pseudo_header: u64,
    /// VRRPv3/IPv4 unicast adverts checksummed on 224.0.0.18 (keepalived < 1.3.6).
    pub checksum_pseudo_header_multicast_group: u64,
}

impl NoticeCounters {
    pub fn record(&mut self, notices: &Notices, form: ChecksumForm) {
        let bump = |c: &mut u64, on: bool| {
            if on {
                *c = c.saturating_add(1);
            }
        };
        bump(&mut self.interval_mismatch, notices.interval_mismatch);
        bump(&mut self.owner_conflict, notices.owner_conflict);
        bump(
            &mut self.address_list_mismatch,
            notices.address_list_mismatch,
        );
        bump(
            &mut self.checksum_no_pseudo_header,
            form == ChecksumForm::NoPseudoHeader,
        );
        bump(
            &mut self.checksum_pseudo_header_multicast_group,
            form == ChecksumForm::PseudoHeaderMulticastGroup,
        );
    }
}

/// Everything a receive path counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub struct RxCounters {
    pub accepted: u64,
    pub drops: DropCounters,
    pub notices: NoticeCounters,
}
