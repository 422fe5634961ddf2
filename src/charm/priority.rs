//! Distinct, stable VRRP priorities for the units, without Juju leadership.
//!
//! The original charm gave the leader 101 and everyone else 100 (+2 while healthy), so
//! backups tied (the VRRP tie-break by address decided), and a leadership change moved
//! the intended master without re-rendering (docs/juju-contract.md O-6). Here every unit owns
//! a priority **claim**:
//!
//! * The claim is persisted in the unit's charm state and published in its `cluster`
//!   peer bag (key `priority`).
//! * A unit keeps its claim unless a peer with a **lower** unit number claims the same
//!   value. Unit numbers are never reused by Juju, so the older unit always wins and
//!   only the newcomer moves.
//! * Claims are [`STEP`] apart where they can be. At the charm's fast timing (VRRPv3
//!   70 ms) the RFC's Skew_Time, `(256 - priority) × interval / 256`, separates
//!   neighbouring priorities by only 0.27 ms: when a Master resigns (priority 0), the
//!   next Backup must be heard by the one below it within that time, and in the lab it
//!   usually was not, so the third unit added the VIPs too and sent its gratuitous ARP
//!   before it heard the second (docs/scenarios.md, "One successor"). Ten apart the
//!   skew times differ by 2.7 ms at 70 ms and 39 ms at 1 s.
//! * The first claim of a unit that sees no peer claims is `254 - 10 × (unit_number %
//!   10)`: units that start together (and cannot see each other yet) differ already.
//! * A unit that must (re)claim takes [`STEP`] below the lowest peer claim when that is
//!   in range, so that a new unit joins below every existing one and never preempts
//!   the master. When the range is used up at the bottom it takes the free value
//!   farthest from every claim (the highest of those on a tie). Only with more than
//!   99 units can a tie remain, and VRRP's address tie-break still elects one master.
//! * Claims made before the spacing (adjacent values) are kept: a unit never changes
//!   a claim it holds, so the spacing comes with new units.
//!
//! Leadership is not an input: a leader change never changes a priority. The health
//! check weight [`HEALTH_CHECK_WEIGHT`] puts a failing unit (at most 154) below every
//! healthy one (at least 156, and 155 while another unit is preferred), and the high
//! range makes a graceful handover fast: the RFC's skew time `(256 - priority) / 256 s`
//! is 8 ms at 254 and 47 ms at 244 instead of 0.6 s at 100.
//!
//! **Switchover.** The `switchover` action names a unit that should hold the VIPs
//! ([`preferred`]): the newest request in the cluster wins. The preferred unit runs at
//! [`HIGHEST`] and every other unit one below its claim ([`running`]), so the order of
//! the others is kept, all stay distinct, and the preferred unit preempts the Master
//! as soon as the Master's priority has dropped (its next hook), make-before-break
//! (RFC 9568 §6.4.2: a higher-priority Backup takes over when its down timer runs out;
//! it announces before its first advert). The others run without preemption meanwhile
//! (`desired::Facts::yield_to_preferred`): the new order must not make one of them
//! take the VIP on the way.
//!
//! A preference for a **paused** unit is in abeyance until it resumes: every unit
//! runs on its claim, with preemption. When the preferred Master pauses, its
//! successor is chosen by Skew_Time, and at the charm's fast timing (VRRPv3 70 ms)
//! neighbouring claims differ there by 2.7 ms (0.27 ms for adjacent claims made
//! before the spacing), which a stalled or loaded machine can still exceed: a lower
//! unit can win that race. Without preemption it would keep
//! the VIPs for as long as the pause lasts; with it, the highest unit takes them back
//! once its hook has run, make-before-break.

use std::collections::{BTreeMap, BTreeSet};

use super::hooktools::Bag;
use super::relation_data::peer_paused;
use super::state::Switchover;

/// Highest priority a non-owner may have (255 is the address owner, RFC 9568 §5.2.4).
pub const HIGHEST: u8 = 254;
/// Lowest healthy priority: 99 distinct values, ten of them [`STEP`] apart.
pub const LOWEST: u8 = 156;
/// How far apart claims are where the range allows (see the module doc).
pub const STEP: u8 = 10;
/// vrrp_script weight: a unit whose health check fails drops by 100, below every
/// healthy unit (254 - 100 = 154 < 155, the lowest claim while another unit is
/// preferred).
pub const HEALTH_CHECK_WEIGHT: i32 = -100;

/// First claims: `HIGHEST`, `HIGHEST - STEP`, ... down to 164.
const FIRST_CLAIMS: u32 = 10;

/// What a peer unit has published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerClaim {
    pub unit_number: u32,
    /// Its claim, if it published one in range.
    pub claim: Option<u8>,
}

/// A claim read from a peer bag or from charm state: a number in 156..=254.
pub fn parse_claim(text: &str) -> Option<u8> {
    let value: u8 = text.trim().parse().ok()?;
    (LOWEST..=HIGHEST).contains(&value).then_some(value)
}

/// This unit's priority, given its current claim and what its peers claim.
pub fn decide(unit_number: u32, current: Option<u8>, peers: &[PeerClaim]) -> u8 {
    if let Some(mine) = current.filter(|c| (LOWEST..=HIGHEST).contains(c)) {
        let lost = peers
            .iter()
            .any(|p| p.claim == Some(mine) && p.unit_number < unit_number);
        if !lost {
            return mine;
        }
    }
    let taken: BTreeSet<u8> = peers.iter().filter_map(|p| p.claim).collect();
    let first_choice = HIGHEST - STEP * (unit_number % FIRST_CLAIMS) as u8;
    let Some(&lowest_taken) = taken.iter().next() else {
        return first_choice;
    };
    if let Some(below) = lowest_taken.checked_sub(STEP).filter(|v| *v >= LOWEST) {
        return below;
    }
    // The range is used up at the bottom: the free value farthest from every claim.
    let distance = |v: u8| taken.iter().map(|t| t.abs_diff(v)).min().unwrap_or(u8::MAX);
    // `max_by_key` keeps the last of equals: the highest value on a tie.
    (LOWEST..=HIGHEST)
        .filter(|v| !taken.contains(v))
        .max_by_key(|v| distance(*v))
        .unwrap_or(first_choice)
}

/// Which unit the newest `switchover` request names, seen from this unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preferred {
    /// No request names a unit that is still here.
    Nobody,
    ThisUnit,
    Another,
}

/// The newest `switchover` request among this unit's own and its peers' (their bag
/// key `switchover`), if it names this unit or one of its peers. A request for a unit
/// that has left counts as none, and so does one for a paused unit (this one when
/// `this_paused`, a peer whose bag says `paused`) until it resumes (see the module
/// doc).
pub fn preferred(
    this_unit: &str,
    this_paused: bool,
    own: Option<&Switchover>,
    peers: &BTreeMap<String, Bag>,
) -> Preferred {
    let newest = peers
        .values()
        .filter_map(|bag| bag.get("switchover").and_then(|t| Switchover::parse(t)))
        .chain(own.cloned())
        .max();
    match newest {
        Some(s) if s.unit == this_unit && !this_paused => Preferred::ThisUnit,
        Some(s) if peers.get(&s.unit).is_some_and(|bag| !peer_paused(bag)) => Preferred::Another,
        _ => Preferred::Nobody,
    }
}

/// The priority this unit runs with, from its claim and the switchover preference.
pub fn running(claim: u8, preferred: Preferred) -> u8 {
    match preferred {
        Preferred::Nobody => claim,
        Preferred::ThisUnit => HIGHEST,
        // Claims are at least LOWEST (156), so this stays above every unit whose
        // health check fails (at most 154).
        Preferred::Another => claim.saturating_sub(1).max(1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bags(entries: &[(&str, Option<&str>)]) -> BTreeMap<String, Bag> {
        entries
            .iter()
            .map(|(unit, switchover)| {
                let mut bag = Bag::new();
                if let Some(s) = switchover {
                    bag.insert("switchover".into(), s.to_string());
                }
                (unit.to_string(), bag)
            })
            .collect()
    }

    #[test]
    fn the_newest_switchover_in_the_cluster_names_the_preferred_unit() {
        let own = |unit: &str, seq| Switchover {
            seq,
            unit: unit.into(),
        };
        let peers = bags(&[("k/1", Some("k/2@100")), ("k/2", None)]);
        assert_eq!(preferred("k/0", false, None, &peers), Preferred::Another);
        assert_eq!(
            preferred("k/2", false, None, &bags(&[("k/1", Some("k/2@100"))])),
            Preferred::ThisUnit
        );
        // Our own newer request wins over a peer's older one, and the reverse.
        assert_eq!(
            preferred("k/0", false, Some(&own("k/0", 200)), &peers),
            Preferred::ThisUnit
        );
        assert_eq!(
            preferred("k/0", false, Some(&own("k/0", 50)), &peers),
            Preferred::Another
        );
        // A request for a unit that left, or garbage, is no preference.
        let gone = bags(&[("k/1", Some("k/9@300")), ("k/2", Some("nonsense"))]);
        assert_eq!(preferred("k/0", false, None, &gone), Preferred::Nobody);
        assert_eq!(
            preferred("k/0", false, None, &BTreeMap::new()),
            Preferred::Nobody
        );
    }

    #[test]
    fn a_preference_for_a_paused_unit_is_in_abeyance_until_it_resumes() {
        let own = Switchover {
            seq: 200,
            unit: "k/0".into(),
        };
        let mut peers = bags(&[("k/0", Some("k/0@200")), ("k/2", None)]);
        assert_eq!(preferred("k/1", false, None, &peers), Preferred::Another);
        let mut k0_paused = |paused: &str| {
            if let Some(bag) = peers.get_mut("k/0") {
                bag.insert("paused".into(), paused.into());
            }
            peers.clone()
        };
        let peers_paused = k0_paused("true");
        // The others run on their claims, with preemption, while k/0 is paused ...
        assert_eq!(
            preferred("k/1", false, None, &peers_paused),
            Preferred::Nobody
        );
        // ... and so does k/0 itself.
        assert_eq!(
            preferred("k/0", true, Some(&own), &BTreeMap::new()),
            Preferred::Nobody
        );
        // Resumed, it is preferred again.
        assert_eq!(
            preferred("k/1", false, None, &k0_paused("false")),
            Preferred::Another
        );
        assert_eq!(
            preferred("k/0", false, Some(&own), &BTreeMap::new()),
            Preferred::ThisUnit
        );
    }

    #[test]
    fn the_preferred_unit_runs_highest_and_the_others_keep_their_order_below_it() {
        let claims = [254u8, 244, 234];
        let with_k2 = [
            running(claims[0], Preferred::Another),
            running(claims[1], Preferred::Another),
            running(claims[2], Preferred::ThisUnit),
        ];
        assert_eq!(with_k2, [253, 243, 254]);
        assert_eq!(running(230, Preferred::Nobody), 230);
        // A preferred unit whose health check fails still drops below every healthy one.
        assert!(
            i32::from(running(LOWEST, Preferred::ThisUnit)) + HEALTH_CHECK_WEIGHT
                < i32::from(running(LOWEST, Preferred::Another))
        );
    }

    fn peer(unit_number: u32, claim: Option<u8>) -> PeerClaim {
        PeerClaim { unit_number, claim }
    }

    /// Runs every unit's decision until nothing changes, as hooks would.
    fn settle(units: &[u32], mut claims: Vec<Option<u8>>) -> Vec<u8> {
        for _ in 0..10 {
            let before = claims.clone();
            for (i, &n) in units.iter().enumerate() {
                let peers: Vec<PeerClaim> = units
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j != i)
                    .map(|(j, &m)| peer(m, claims[j]))
                    .collect();
                claims[i] = Some(decide(n, claims[i], &peers));
            }
            if claims == before {
                break;
            }
        }
        claims.into_iter().map(|c| c.unwrap()).collect()
    }

    #[test]
    fn first_claim_without_visible_peers_depends_on_the_unit_number() {
        assert_eq!(decide(0, None, &[]), 254);
        assert_eq!(decide(1, None, &[]), 244);
        assert_eq!(decide(9, None, &[]), 164);
        assert_eq!(decide(10, None, &[]), 254);
        // Peers that have not published a claim yet do not count.
        assert_eq!(decide(2, None, &[peer(0, None), peer(1, None)]), 234);
    }

    #[test]
    fn three_units_starting_together_get_three_priorities_a_step_apart() {
        let p = settle(&[0, 1, 2], vec![None, None, None]);
        assert_eq!(p, vec![254, 244, 234]);
    }

    #[test]
    fn a_unit_keeps_its_claim_across_hooks() {
        let peers = [peer(0, Some(254)), peer(2, Some(234))];
        assert_eq!(decide(1, Some(244), &peers), 244);
        assert_eq!(decide(1, Some(244), &peers), 244);
        // A claim made before the spacing is kept too.
        assert_eq!(decide(1, Some(253), &[peer(0, Some(254))]), 253);
    }

    #[test]
    fn on_a_conflict_only_the_higher_unit_number_moves() {
        // Units 0 and 10 both started alone and both claimed 254.
        let p = settle(&[0, 10], vec![Some(254), Some(254)]);
        assert_eq!(p, vec![254, 244]);
        assert_eq!(decide(0, Some(254), &[peer(10, Some(254))]), 254);
        assert_eq!(decide(10, Some(254), &[peer(0, Some(254))]), 244);
    }

    #[test]
    fn a_new_unit_joins_a_step_below_every_existing_claim_and_never_preempts() {
        let existing = [peer(0, Some(254)), peer(1, Some(244)), peer(2, Some(234))];
        // Unit 7 would pick 184 alone, but it sees the cluster: it goes below 234.
        assert_eq!(decide(7, None, &existing), 224);
        // Even a unit whose number maps to 254 does not take the master's slot.
        assert_eq!(decide(10, None, &existing), 224);
        // Below adjacent claims of an earlier revision, a step below the lowest.
        let adjacent = [peer(0, Some(254)), peer(1, Some(253)), peer(2, Some(252))];
        assert_eq!(decide(3, None, &adjacent), 242);
    }

    #[test]
    fn two_newcomers_with_the_same_pick_are_separated_by_a_step() {
        let p = settle(
            &[0, 1, 3, 4],
            vec![Some(254), Some(244), Some(234), Some(234)],
        );
        assert_eq!(p, vec![254, 244, 234, 224]);
    }

    #[test]
    fn a_departure_changes_nobody_else() {
        // Unit 1 (244) leaves: 0 and 2 keep their claims.
        assert_eq!(decide(0, Some(254), &[peer(2, Some(234))]), 254);
        assert_eq!(decide(2, Some(234), &[peer(0, Some(254))]), 234);
        // A newcomer still goes below the lowest claim, not into the gap.
        assert_eq!(
            decide(3, None, &[peer(0, Some(254)), peer(2, Some(234))]),
            224
        );
    }

    #[test]
    fn when_the_bottom_is_used_up_the_free_value_farthest_from_every_claim_is_taken() {
        // Ten units a step apart, 254 down to 164: a step below is out of range, so
        // the newcomer takes the free value farthest from every claim: 156, 8 below.
        let mut peers: Vec<PeerClaim> = (0..10u8)
            .map(|i| peer(i.into(), Some(254 - 10 * i)))
            .collect();
        assert_eq!(decide(400, None, &peers), 156);
        // With 156 taken too, the middle of a gap, the highest on a tie.
        peers.push(peer(400, Some(156)));
        assert_eq!(decide(401, None, &peers), 249);
        // Every value taken: the unit number decides (a tie VRRP still resolves).
        let full: Vec<PeerClaim> = (LOWEST..=HIGHEST)
            .map(|v| peer(v.into(), Some(v)))
            .collect();
        assert_eq!(decide(403, None, &full), 254 - 10 * (403 % 10) as u8);
    }

    #[test]
    fn an_out_of_range_stored_claim_is_replaced() {
        assert_eq!(decide(0, Some(100), &[]), 254);
        assert_eq!(parse_claim("254"), Some(254));
        assert_eq!(parse_claim("156"), Some(156));
        assert_eq!(parse_claim("155"), None);
        assert_eq!(parse_claim("255"), None);
        assert_eq!(parse_claim("abc"), None);
    }

    #[test]
    fn a_failing_unit_drops_below_every_healthy_unit() {
        let worst_healthy = i32::from(LOWEST);
        let best_failing = i32::from(HIGHEST) + HEALTH_CHECK_WEIGHT;
        assert!(best_failing < worst_healthy);
        assert!(best_failing >= 1);
    }
}
