//! Per-router counters for the state file and for tests (ze's "one counter per
//! rule" idea: every way an advert can be ignored is counted, never silent).

use serde::Serialize;

/// What one router did and saw, cumulative since it was created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counters {
    /// State changes of any kind.
    pub transitions: u64,
    /// Entries into Master (a flapping router shows here first).
    pub became_master: u64,
    /// Adverts sent, including priority-0 releases.
    pub adverts_sent: u64,
    /// Priority-0 adverts sent (shutdown, FAULT, reconfiguration).
    pub priority_zero_sent: u64,
    /// Adverts handed to the router (already validated by the receive ladder).
    pub adverts_received: u64,
    /// Priority-0 adverts received.
    pub priority_zero_received: u64,
    /// Adverts whose interval differs from ours (v3: adopted and counted; v2: dropped).
    pub interval_mismatches: u64,
    /// Claims withdrawn: this Backup's down timer ran out, but a better Master
    /// answered its advert within `CLAIM_WAIT`, so it stayed Backup and never took
    /// the VIPs (adverts are being lost on the segment, S-16).
    pub claims_withdrawn: u64,
    /// Adverts a Backup discarded because their priority is lower and it preempts
    /// (RFC 9568 §6.4.2), or, while it claims (K-18), because they would lose to
    /// it: the down timer or the claim keeps running and this router takes over.
    pub lower_priority_discarded: u64,
    /// Adverts that could not affect the state: our own source address (a looped
    /// packet or an address conflict), another VRID / version / family, a v2
    /// interval mismatch, or received in Initialize / FAULT.
    pub adverts_ignored: u64,
    /// Gratuitous ARP / NA bursts requested.
    pub gratuitous_bursts: u64,
    /// VIPs a Master put back after something else removed them (S-20).
    pub vips_restored: u64,
    /// Link losses a Master rode out because the link came back within
    /// `Router::flap_debounce` (S-20, S-6).
    pub link_flaps_absorbed: u64,
    /// Episodes of another router claiming Master for our VRID while we are
    /// Master, for longer than `DUAL_MASTER_AFTER` (S-7, S-8).
    pub dual_master_seen: u64,
    /// Adverts for our VRID from a router that is not part of our cluster (another
    /// address list or authentication, or not a configured peer, S-9).
    pub foreign_adverts: u64,
}
