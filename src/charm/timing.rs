//! The automatic timing profile (docs/architecture.md, "The timing profile").
//!
//! Unless the operator sets `vrrp_version` or `advert_interval`, the charm picks the
//! VRRP timing itself:
//!
//! * **compatible** — VRRPv2 at 1 s, what keepalived and the original charm speak —
//!   while any unit of the application might run another engine: a unit still on the
//!   original charm (it has no peer relation, so it is counted from `goal-state`,
//!   which lists every unit of the application), or a peer whose bag shows an
//!   earlier revision of this charm (published, but without the fast profile in
//!   `timing-profiles`). Also with `vrrp_password`: VRRPv3 cannot carry it.
//!
//!   Not counted: a unit `goal-state` shows `allocating` (no machine, nothing on the
//!   wire yet) or `dying`. A unit that has not published its offer yet is counted,
//!   even in the peer relation: during a refresh from the original charm its units
//!   may sit in the relation with empty bags while still running keepalived. So a
//!   unit added to a fast cluster takes the others through the compatible timing
//!   until its first bag arrives: two hitless reloads on each (K-15).
//! * **fast** — VRRPv3 at 0.1 s, a crash failover in about 0.3 s instead of 3 s —
//!   once every unit announces it. 0.1 s is the shortest interval that showed no
//!   more false transitions than keepalived at 1 s in a short `make bench-intervals`
//!   run; ten minutes of 5 % packet loss gave it 4 against keepalived's 0 (README,
//!   "Advert interval vs false transitions").
//!
//! Units switch one hook at a time, in whatever order Juju runs them. The engine
//! treats adverts of the other version from an unauthenticated cluster as its own
//! cluster changing timing (docs/requirements.md K-15), so no unit promotes itself
//! during the switch, in either direction.

use std::collections::BTreeSet;
use std::fmt;

use super::options::Options;
use vrrp_core::proto::{AdvertInterval, Version};

/// The profile this engine offers besides the compatible one, as announced in the
/// peer relation (`timing-profiles`).
pub const FAST: &str = "v3-0.1";
/// Every profile this unit's engine can run, comma-separated, for its peer bag.
pub const OFFERED: &str = "v2-1,v3-0.1";

/// The fast profile's VRRPv3 interval: 10 centiseconds.
const FAST_CENTIS: u16 = 10;

/// Why the timing is what it is (for the `status` action and the log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Why {
    /// The operator set `vrrp_version` or `advert_interval`.
    Pinned,
    /// `vrrp_password` is set and only VRRPv2 carries it.
    Password,
    /// This unit of the application does not announce the fast profile (not yet
    /// joined the peer relation, or on the original charm).
    NotEveryUnit(String),
    /// `goal-state` failed: the units cannot be counted, so stay compatible.
    UnitsUnknown,
    /// Every unit of the application announces the fast profile.
    EveryUnit,
}

/// The VRRP timing of this unit's IPv4 instance (IPv6 is always VRRPv3, at the same
/// interval) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timing {
    pub ipv4_version: Version,
    pub advert_interval: AdvertInterval,
    pub why: Why,
}

impl Timing {
    /// keepalived's and the original charm's timing (VRRPv2, 1 s), for `why`.
    fn compatible(why: Why) -> Timing {
        Timing {
            ipv4_version: Version::V2,
            advert_interval: AdvertInterval::DEFAULT,
            why,
        }
    }

    /// Whether this is the fast profile.
    pub fn is_fast(&self) -> bool {
        self.why == Why::EveryUnit
    }
}

impl fmt::Display for Timing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let version = match self.ipv4_version {
            Version::V2 => "VRRPv2",
            Version::V3 => "VRRPv3",
        };
        let interval = super::render::advert_int_text(self.advert_interval);
        write!(f, "{version} {interval} s: ")?;
        match &self.why {
            Why::Pinned => f.write_str("set by vrrp_version/advert_interval"),
            Why::Password => f.write_str("vrrp_password needs VRRPv2"),
            Why::NotEveryUnit(unit) => {
                write!(f, "{unit} does not run this charm's engine yet")
            }
            Why::UnitsUnknown => f.write_str("goal-state failed, the units are unknown"),
            Why::EveryUnit => f.write_str("every unit runs this charm's engine"),
        }
    }
}

/// Whether the choice for `options` needs the application's units (`goal-state`):
/// only when neither the operator's timing nor a password decides it.
pub fn needs_units(options: &Options) -> bool {
    !options.timing_pinned() && options.vrrp_password.is_empty()
}

/// One unit of the application as `goal-state` lists it: name and status.
pub type GoalUnit = (String, String);

/// The timing for this unit (`me`): `pinned` when the operator set it, else the
/// compatible profile with a `password`, else fast when every unit of `app_units`
/// (from `goal-state`; `None` when it failed) other than `me` is in `fast_peers`
/// (the peers that can run it, see [`peer_can_run_fast`]) or still `allocating` or
/// `dying`.
pub fn choose(
    pinned: Option<(Version, AdvertInterval)>,
    password: bool,
    me: &str,
    app_units: Option<&[GoalUnit]>,
    fast_peers: &BTreeSet<String>,
) -> Timing {
    if let Some((ipv4_version, advert_interval)) = pinned {
        return Timing {
            ipv4_version,
            advert_interval,
            why: Why::Pinned,
        };
    }
    if password {
        return Timing::compatible(Why::Password);
    }
    let Some(units) = app_units else {
        return Timing::compatible(Why::UnitsUnknown);
    };
    let counted = |status: &str| !matches!(status, "allocating" | "dying");
    if let Some((unit, _)) = units
        .iter()
        .find(|(u, status)| u.as_str() != me && !fast_peers.contains(u.as_str()) && counted(status))
    {
        return Timing::compatible(Why::NotEveryUnit(unit.clone()));
    }
    Timing {
        ipv4_version: Version::V3,
        advert_interval: AdvertInterval::from_centis(FAST_CENTIS)
            .unwrap_or(AdvertInterval::DEFAULT),
        why: Why::EveryUnit,
    }
}

/// Whether a peer can run the fast profile: its bag's `timing-profiles` offers
/// [`FAST`]. An earlier revision of this charm published no offer, and its engine
/// may not follow a cluster changing timing (K-15).
pub fn peer_can_run_fast(profiles: Option<&str>) -> bool {
    profiles.is_some_and(|p| p.split(',').any(|p| p.trim() == FAST))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn units(names: &[&str]) -> Vec<GoalUnit> {
        names
            .iter()
            .map(|s| (s.to_string(), "active".to_string()))
            .collect()
    }

    fn peers(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    /// The automatic choice for keepalived/0 among `all`, `fast` offering it.
    fn automatic(all: &[GoalUnit], fast: &[&str]) -> Timing {
        choose(None, false, "keepalived/0", Some(all), &peers(fast))
    }

    #[test]
    fn every_unit_offering_the_fast_profile_gives_vrrpv3_at_0_1_s() {
        let all = units(&["keepalived/0", "keepalived/1", "keepalived/2"]);
        let t = automatic(&all, &["keepalived/1", "keepalived/2"]);
        assert_eq!(
            (t.ipv4_version, t.advert_interval.centis()),
            (Version::V3, 10)
        );
        assert!(t.is_fast());
        assert_eq!(
            t.to_string(),
            "VRRPv3 0.1 s: every unit runs this charm's engine"
        );
        // Alone: nothing to wait for.
        let alone = automatic(&all[..1], &[]);
        assert!(alone.is_fast());
    }

    /// A unit on the original charm never joins the peer relation: goal-state still
    /// lists it, and the cluster stays on keepalived's timing.
    #[test]
    fn a_unit_that_does_not_offer_it_keeps_the_compatible_profile() {
        let all = units(&["keepalived/0", "keepalived/1", "keepalived/2"]);
        let t = automatic(&all, &["keepalived/1"]);
        assert_eq!(
            (t.ipv4_version, t.advert_interval.centis()),
            (Version::V2, 100)
        );
        assert_eq!(
            t.to_string(),
            "VRRPv2 1 s: keepalived/2 does not run this charm's engine yet"
        );
        let unknown = choose(None, false, "keepalived/0", None, &peers(&["keepalived/1"]));
        assert_eq!(unknown.why, Why::UnitsUnknown);
        assert_eq!(unknown.ipv4_version, Version::V2);
    }

    /// A unit still being allocated sends nothing and will run this charm; a dying
    /// one is leaving: neither holds the cluster back.
    #[test]
    fn allocating_and_dying_units_are_not_counted() {
        let mut all = units(&["keepalived/0", "keepalived/1", "keepalived/2"]);
        all[1].1 = "allocating".into();
        all[2].1 = "dying".into();
        assert!(choose(None, false, "keepalived/0", Some(&all), &peers(&[])).is_fast());
        all[2].1 = "waiting".into();
        assert_eq!(
            choose(None, false, "keepalived/0", Some(&all), &peers(&[])).why,
            Why::NotEveryUnit("keepalived/2".into())
        );
    }

    #[test]
    fn explicit_settings_win_and_a_password_pins_vrrpv2() {
        let all = units(&["keepalived/0"]);
        let two = AdvertInterval::from_secs(2).unwrap();
        let t = choose(
            Some((Version::V2, two)),
            false,
            "keepalived/0",
            Some(&all),
            &peers(&[]),
        );
        assert_eq!(
            (t.ipv4_version, t.advert_interval, t.why),
            (Version::V2, two, Why::Pinned)
        );
        let t = choose(None, true, "keepalived/0", Some(&all), &peers(&[]));
        assert_eq!((t.ipv4_version, t.why), (Version::V2, Why::Password));
    }

    /// Only an explicit offer counts: an earlier revision of this charm, or a unit
    /// still on the original charm sitting in the relation, published none.
    #[test]
    fn a_peer_can_run_fast_only_when_it_offers_it() {
        assert!(peer_can_run_fast(Some(OFFERED)));
        assert!(peer_can_run_fast(Some(" v3-0.1 ")));
        assert!(!peer_can_run_fast(Some("v2-1")));
        assert!(!peer_can_run_fast(Some("")));
        assert!(!peer_can_run_fast(None));
    }
}
