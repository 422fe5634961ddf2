//! What the receive ladder reports about accepted adverts, and the counters of
//! every outcome for the engine's JSON state file. Below the ladder: the ladder
//! imports these, never the other way round.

use serde::{Deserialize, Serialize};

use super::decode::ChecksumForm;
use super::reason::DropCounters;

/// Accepted, but the RFC says log it (and the router may act on it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Notices {
    /// The sender's interval differs from ours; a Backup adopts it (C-13; VRRPv2
    /// only without authentication, K-15).
    pub interval_mismatch: bool,
    /// The sender speaks the other VRRP version: our own cluster in the middle of
    /// a timing change (no authentication on either side, K-15).
    pub version_mismatch: bool,
    /// We own the addresses and the sender claims priority 255 too (C-14).
    pub owner_conflict: bool,
    /// Address list differs: sender is the owner, or the policy is log-only (C-15).
    pub address_list_mismatch: bool,
    /// The advert came in the instance's `rolling_from` identity (the old VRID or
    /// password of a rolling change, K-17) and is taken as the instance's own.
    pub rolling_identity: bool,
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
    /// Advert of the other VRRP version, accepted (K-15: no authentication).
    #[serde(default)]
    pub version_mismatch: u64,
    /// Advert in the instance's `rolling_from` identity, accepted as its own (K-17).
    #[serde(default)]
    pub rolling_identity: u64,
    /// VRRPv3/IPv4 adverts checksummed without pseudo-header (RFC 9568 form).
    pub checksum_no_pseudo_header: u64,
    /// VRRPv3/IPv4 unicast adverts checksummed on 224.0.0.18 (keepalived < 1.3.6).
    pub checksum_pseudo_header_multicast_group: u64,
}

impl NoticeCounters {
    /// Counts the notices of one accepted advert and its checksum form.
    pub fn record(&mut self, notices: &Notices, form: ChecksumForm) {
        let bump = |c: &mut u64, on: bool| {
            if on {
                *c = c.saturating_add(1);
            }
        };
        bump(&mut self.interval_mismatch, notices.interval_mismatch);
        bump(&mut self.version_mismatch, notices.version_mismatch);
        bump(&mut self.rolling_identity, notices.rolling_identity);
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
    /// Adverts that passed the ladder.
    pub accepted: u64,
    /// Discarded adverts, one counter per rule.
    pub drops: DropCounters,
    /// Accepted adverts worth a log line.
    pub notices: NoticeCounters,
}
