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
//! * **fast** — VRRPv3 at 70 ms, the Master down after five missed adverts instead
//!   of the RFCs' three (keepalived's `down_timer_adverts`, docs/requirements.md
//!   K-16) — once every unit announces it. A crash fails over in about 0.36 s instead
//!   of 3 s; a false takeover needs five adverts lost in a row (under 5 % loss rarer
//!   than three in a row at keepalived's 1 s) or adverts held up for 393 ms (a busy
//!   core). docs/architecture.md, "The timing profile", gives the measurements that
//!   ruled out 100 ms × 3 (packet loss) and 60 ms × 5 (a busy core). While some
//!   units still offer only the previous revision's profile (100 ms × 3), the
//!   cluster runs that.
//!
//! Units switch one hook at a time, in whatever order Juju runs them. The engine
//! treats adverts of the other version from an unauthenticated cluster as its own
//! cluster changing timing (docs/requirements.md K-15), so no unit promotes itself
//! during the switch, in either direction.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::options::Options;
use vrrp_core::proto::{AdvertInterval, Timers, Version};

/// A fast profile: VRRPv3 at `centis`, the Master down after `down_adverts` missed
/// adverts (plus Skew_Time; docs/requirements.md K-16), announced as `name`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Profile {
    pub name: &'static str,
    pub centis: u16,
    pub down_adverts: u8,
}

/// The fast profiles this engine runs, best first. The first is the default:
/// 70 ms adverts, down after five missed ones (0.3927 s at priority 100). The second
/// is what the previous revision of this charm ran (100 ms, three missed): kept, so a
/// cluster refreshing from it stays fast on the common profile until every unit
/// offers the first.
pub const FAST: [Profile; 2] = [
    Profile {
        name: "v3-0.07x5",
        centis: 7,
        down_adverts: 5,
    },
    Profile {
        name: "v3-0.1",
        centis: 10,
        down_adverts: 3,
    },
];
/// Every profile this unit's engine can run, comma-separated, for its peer bag.
pub const OFFERED: &str = "v2-1,v3-0.07x5,v3-0.1";

/// Why the timing is what it is (for the `status` action and the log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Why {
    /// The operator set `vrrp_version` or `advert_interval`.
    Pinned,
    /// `vrrp_password` is set and only VRRPv2 carries it.
    Password,
    /// The cluster is moving from a `vrrp_password` (a rolling change, K-17): the
    /// old password still goes out, and only VRRPv2 carries it.
    RollingPassword,
    /// This unit of the application does not announce the fast profile (not yet
    /// joined the peer relation, or on the original charm).
    NotEveryUnit(String),
    /// `goal-state` failed: the units cannot be counted, so stay compatible.
    UnitsUnknown,
    /// Every unit of the application announces the fast profile.
    EveryUnit,
    /// Every unit runs this charm's engine, but this one offers only an earlier fast
    /// profile (a refresh in progress): the best one they all share.
    EarlierRevision(String),
}

/// The VRRP timing of this unit's IPv4 instance (IPv6 is always VRRPv3, at the same
/// interval) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timing {
    pub ipv4_version: Version,
    pub advert_interval: AdvertInterval,
    /// Missed adverts that make the Master down (3 but in a fast profile, K-16).
    pub down_adverts: u8,
    pub why: Why,
}

impl Timing {
    /// keepalived's and the original charm's timing (VRRPv2, 1 s), for `why`.
    fn compatible(why: Why) -> Timing {
        Timing {
            ipv4_version: Version::V2,
            advert_interval: AdvertInterval::DEFAULT,
            down_adverts: Timers::RFC_DOWN_ADVERTS,
            why,
        }
    }

    fn fast(profile: &Profile, why: Why) -> Timing {
        Timing {
            ipv4_version: Version::V3,
            advert_interval: AdvertInterval::from_centis(profile.centis)
                .unwrap_or(AdvertInterval::DEFAULT),
            down_adverts: profile.down_adverts,
            why,
        }
    }

    /// Whether this is a fast profile.
    pub fn is_fast(&self) -> bool {
        matches!(self.why, Why::EveryUnit | Why::EarlierRevision(_))
    }
}

impl fmt::Display for Timing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let version = match self.ipv4_version {
            Version::V2 => "VRRPv2",
            Version::V3 => "VRRPv3",
        };
        let interval = super::render::advert_int_text(self.advert_interval);
        write!(f, "{version} {interval} s")?;
        if self.down_adverts != Timers::RFC_DOWN_ADVERTS {
            write!(f, ", down after {} missed adverts", self.down_adverts)?;
        }
        f.write_str(": ")?;
        match &self.why {
            Why::Pinned => f.write_str("set by vrrp_version/advert_interval"),
            Why::Password => f.write_str("vrrp_password needs VRRPv2"),
            Why::RollingPassword => {
                f.write_str("some unit still runs the previous vrrp_password, which needs VRRPv2")
            }
            Why::NotEveryUnit(unit) => {
                write!(f, "{unit} does not run this charm's engine yet")
            }
            Why::UnitsUnknown => f.write_str("goal-state failed, the units are unknown"),
            Why::EveryUnit => f.write_str("every unit runs this charm's engine"),
            Why::EarlierRevision(unit) => write!(
                f,
                "{unit} runs an earlier revision of this charm (the best profile all units offer)"
            ),
        }
    }
}

/// Whether the choice for `options` needs the application's units (`goal-state`):
/// only when neither the operator's timing nor a password decides it.
pub fn needs_units(options: &Options) -> bool {
    !options.timing_pinned() && options.vrrp_password.is_empty()
}

/// Whether a password decides the timing (only VRRPv2 carries one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordUse {
    /// No password, now or in the identity the cluster moves from.
    None,
    /// `vrrp_password` is set.
    Set,
    /// The cluster is moving from a `vrrp_password` (`super::identity`).
    RollingFrom,
}

/// One unit of the application as `goal-state` lists it: name and status.
pub type GoalUnit = (String, String);

/// What each peer offers (`timing-profiles`, see [`offers`]), by unit name.
pub type Offers = BTreeMap<String, BTreeSet<String>>;

/// The timing for this unit (`me`): `pinned` when the operator set it, else the
/// compatible profile with a `password`, else the first of [`FAST`] that every unit
/// of `app_units` (from `goal-state`; `None` when it failed) other than `me` offers
/// in `peer_offers`, not counting units still `allocating` or `dying`.
pub fn choose(
    pinned: Option<(Version, AdvertInterval)>,
    password: PasswordUse,
    me: &str,
    app_units: Option<&[GoalUnit]>,
    peer_offers: &Offers,
) -> Timing {
    if let Some((ipv4_version, advert_interval)) = pinned {
        return Timing {
            ipv4_version,
            advert_interval,
            down_adverts: Timers::RFC_DOWN_ADVERTS,
            why: Why::Pinned,
        };
    }
    match password {
        PasswordUse::Set => return Timing::compatible(Why::Password),
        PasswordUse::RollingFrom => return Timing::compatible(Why::RollingPassword),
        PasswordUse::None => {}
    }
    let Some(units) = app_units else {
        return Timing::compatible(Why::UnitsUnknown);
    };
    let counted = |status: &str| !matches!(status, "allocating" | "dying");
    let others: Vec<&str> = units
        .iter()
        .filter(|(u, status)| u.as_str() != me && counted(status))
        .map(|(u, _)| u.as_str())
        .collect();
    let offers = |unit: &str, profile: &Profile| {
        peer_offers
            .get(unit)
            .is_some_and(|o| o.contains(profile.name))
    };
    let lacking = |profile: &Profile| others.iter().find(|u| !offers(u, profile));
    for (rank, profile) in FAST.iter().enumerate() {
        if lacking(profile).is_none() {
            let why = match lacking(&FAST[0]) {
                Some(unit) if rank > 0 => Why::EarlierRevision((*unit).to_string()),
                _ => Why::EveryUnit,
            };
            return Timing::fast(profile, why);
        }
    }
    // Name a unit that offers no fast profile at all, else one lacking the best.
    let holding_back = others
        .iter()
        .find(|u| FAST.iter().all(|p| !offers(u, p)))
        .or_else(|| lacking(&FAST[0]))
        .map_or_else(String::new, |u| (*u).to_string());
    Timing::compatible(Why::NotEveryUnit(holding_back))
}

/// The profiles a peer's bag offers (`timing-profiles`, comma-separated). An
/// earlier revision of this charm published no offer, and its engine may not follow
/// a cluster changing timing (K-15): it offers nothing.
pub fn offers(profiles: Option<&str>) -> BTreeSet<String> {
    profiles
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect()
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

    /// Peers offering `profiles` (a `timing-profiles` value).
    fn peers(names: &[&str], profiles: &str) -> Offers {
        names
            .iter()
            .map(|s| (s.to_string(), offers(Some(profiles))))
            .collect()
    }

    /// The automatic choice for keepalived/0 among `all`, `fast` offering ours.
    fn automatic(all: &[GoalUnit], fast: &[&str]) -> Timing {
        choose(
            None,
            PasswordUse::None,
            "keepalived/0",
            Some(all),
            &peers(fast, OFFERED),
        )
    }

    fn timing_of(t: &Timing) -> (Version, u16, u8) {
        (t.ipv4_version, t.advert_interval.centis(), t.down_adverts)
    }

    #[test]
    fn every_unit_offering_the_fast_profile_gives_vrrpv3_at_70_ms_down_after_5() {
        let all = units(&["keepalived/0", "keepalived/1", "keepalived/2"]);
        let t = automatic(&all, &["keepalived/1", "keepalived/2"]);
        assert_eq!(timing_of(&t), (Version::V3, 7, 5));
        assert!(t.is_fast());
        assert_eq!(
            t.to_string(),
            "VRRPv3 0.07 s, down after 5 missed adverts: every unit runs this charm's engine"
        );
        // Alone: nothing to wait for.
        let alone = automatic(&all[..1], &[]);
        assert!(alone.is_fast());
    }

    /// A refresh from the previous revision: its units offer only its fast profile
    /// (0.1 s, three missed adverts), which the whole cluster runs until they are gone.
    #[test]
    fn units_of_the_previous_revision_keep_the_cluster_on_its_fast_profile() {
        let all = units(&["keepalived/0", "keepalived/1", "keepalived/2"]);
        let mut offers = peers(&["keepalived/1"], OFFERED);
        offers.extend(peers(&["keepalived/2"], "v2-1,v3-0.1"));
        let t = choose(None, PasswordUse::None, "keepalived/0", Some(&all), &offers);
        assert_eq!(timing_of(&t), (Version::V3, 10, 3));
        assert!(t.is_fast());
        assert_eq!(
            t.to_string(),
            "VRRPv3 0.1 s: keepalived/2 runs an earlier revision of this charm (the best profile all units offer)"
        );
    }

    /// A unit on the original charm never joins the peer relation: goal-state still
    /// lists it, and the cluster stays on keepalived's timing.
    #[test]
    fn a_unit_that_does_not_offer_it_keeps_the_compatible_profile() {
        let all = units(&["keepalived/0", "keepalived/1", "keepalived/2"]);
        let t = automatic(&all, &["keepalived/1"]);
        assert_eq!(timing_of(&t), (Version::V2, 100, 3));
        assert_eq!(
            t.to_string(),
            "VRRPv2 1 s: keepalived/2 does not run this charm's engine yet"
        );
        let unknown = choose(
            None,
            PasswordUse::None,
            "keepalived/0",
            None,
            &peers(&["keepalived/1"], OFFERED),
        );
        assert_eq!(unknown.why, Why::UnitsUnknown);
        assert_eq!(unknown.ipv4_version, Version::V2);
        // Two units that share no fast profile: compatible, naming one of them.
        let mut split = peers(&["keepalived/1"], "v2-1,v3-0.07x5");
        split.extend(peers(&["keepalived/2"], "v2-1,v3-0.1"));
        let t = choose(None, PasswordUse::None, "keepalived/0", Some(&all), &split);
        assert_eq!(t.why, Why::NotEveryUnit("keepalived/2".into()));
    }

    /// A unit still being allocated sends nothing and will run this charm; a dying
    /// one is leaving: neither holds the cluster back.
    #[test]
    fn allocating_and_dying_units_are_not_counted() {
        let mut all = units(&["keepalived/0", "keepalived/1", "keepalived/2"]);
        all[1].1 = "allocating".into();
        all[2].1 = "dying".into();
        assert!(choose(
            None,
            PasswordUse::None,
            "keepalived/0",
            Some(&all),
            &Offers::new()
        )
        .is_fast());
        all[2].1 = "waiting".into();
        assert_eq!(
            choose(
                None,
                PasswordUse::None,
                "keepalived/0",
                Some(&all),
                &Offers::new()
            )
            .why,
            Why::NotEveryUnit("keepalived/2".into())
        );
    }

    #[test]
    fn explicit_settings_win_and_a_password_pins_vrrpv2() {
        let all = units(&["keepalived/0"]);
        let two = AdvertInterval::from_secs(2).unwrap();
        let t = choose(
            Some((Version::V2, two)),
            PasswordUse::None,
            "keepalived/0",
            Some(&all),
            &Offers::new(),
        );
        assert_eq!(
            (t.ipv4_version, t.advert_interval, t.down_adverts, t.why),
            (Version::V2, two, 3, Why::Pinned)
        );
        let t = choose(
            None,
            PasswordUse::Set,
            "keepalived/0",
            Some(&all),
            &Offers::new(),
        );
        assert_eq!((t.ipv4_version, t.why), (Version::V2, Why::Password));
        // Moving from a password (K-17): the old one still goes out, in VRRPv2.
        let t = choose(
            None,
            PasswordUse::RollingFrom,
            "keepalived/0",
            Some(&all),
            &Offers::new(),
        );
        assert_eq!(
            (t.ipv4_version, t.to_string()),
            (
                Version::V2,
                "VRRPv2 1 s: some unit still runs the previous vrrp_password, which needs VRRPv2"
                    .to_string()
            )
        );
    }

    /// Only an explicit offer counts: an earlier revision of this charm, or a unit
    /// still on the original charm sitting in the relation, published none.
    #[test]
    fn a_peer_offers_only_what_its_bag_lists() {
        assert_eq!(
            offers(Some(OFFERED)),
            ["v2-1", "v3-0.07x5", "v3-0.1"]
                .map(String::from)
                .into_iter()
                .collect()
        );
        assert_eq!(offers(Some(" v3-0.1 ,")).len(), 1);
        assert!(offers(Some("")).is_empty());
        assert!(offers(None).is_empty());
        // What this unit offers includes every profile it can choose.
        for p in FAST {
            assert!(offers(Some(OFFERED)).contains(p.name), "{}", p.name);
        }
    }
}
