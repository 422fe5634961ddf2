//! Rolling `router_id`, `vrrp_password` and `unicast` changes (docs/requirements.md
//! K-17).
//!
//! Juju runs config-changed unit by unit. A unit on the new VRID, password or
//! transport and one still on the old would each drop or miss the other's adverts
//! (another VRID is another router; another password is a stranger, RFC 3768 §7.1;
//! a multicast router does not take unicast adverts, nor a unicast router group
//! adverts) and both hold the VIPs.
//! So a unit whose identity changed keeps speaking the old one too (the engine's
//! `rolling_from`: every advert goes out in both, adverts in either are its own)
//! while some peer still publishes the old identity in the peer relation.
//!
//! Why that is enough: a unit publishes its new identity only in the hook that
//! reloaded its engine onto it (with `rolling_from`), so while any unit still runs
//! the old identity alone, every unit on the new one still speaks the old one; once
//! every peer publishes the new identity, no unit runs the old one alone, and each
//! drops `rolling_from` in its own time (those still carrying it speak the new
//! identity too). One change at a time is bridged: a second change before the
//! first has reached every unit bridges the newest identity still published.
//! A unit that never ran the old identity (added mid-change) learns it from the
//! peers' fingerprints, when they tell all of it: a VRID or transport change, not a
//! password change (the old password is nowhere it can read it).
//!
//! The peer bag carries a fingerprint, never the password: the VRID, and 16 hex
//! digits of SHA-256 over a fixed tag and the password. The old identity itself is
//! read back from the engine config this unit last rendered (root-only, mode 0600
//! when it holds a password), never kept in charm state or relation data.

use std::fmt;
use std::path::Path;

use sha2::{Digest, Sha256};

/// The peer-bag key of a unit's identity fingerprint ([`Identity::fingerprint`]).
pub const PEER_KEY: &str = "vrrp-identity";

/// The peer-bag key of the segments a unit's instances run on, comma-separated
/// (`192.0.2.0/24,fd00::/64`, `super::iface::Link::segment`): what lets the others
/// ride out a rolling `network_interface` change (`desired::bridge_interfaces`).
pub const SEGMENTS_KEY: &str = "vrrp-segments";

/// What makes two VRRP routers one cluster, beside the VIPs: the VRID, the VRRPv2
/// password and the transport.
#[derive(Clone, PartialEq, Eq)]
pub struct Identity {
    pub vrid: u8,
    pub password: Option<String>,
    /// Unicast (`unicast=true`) rather than multicast adverts.
    pub unicast: bool,
}

impl fmt::Debug for Identity {
    /// The password is never shown, in logs or test output.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("vrid", &self.vrid)
            .field("password", &self.password.as_ref().map(|_| "(not shown)"))
            .field("unicast", &self.unicast)
            .finish()
    }
}

impl Identity {
    /// What the peer bag carries: the VRID; with a password, `:` and 16 hex digits
    /// of SHA-256 over `keepalived-charm vrrp_password ` and the password; with
    /// unicast, `/unicast`. `23`, `23:9f86d081884c7d65/unicast`.
    pub fn fingerprint(&self) -> String {
        let mut print = self.vrid.to_string();
        if let Some(password) = &self.password {
            let digest = Sha256::new()
                .chain_update(b"keepalived-charm vrrp_password ")
                .chain_update(password.as_bytes())
                .finalize();
            print.push(':');
            print.extend(digest[..8].iter().map(|b| format!("{b:02x}")));
        }
        if self.unicast {
            print.push_str("/unicast");
        }
        print
    }

    /// The identity a peer's fingerprint names, when this unit can speak it: the
    /// VRID and the transport always; a password only when it is `current`'s (the
    /// fingerprint carries a hash, never the password). `None` for another
    /// password, or a fingerprint that is not one.
    pub fn from_fingerprint(print: &str, current: &Identity) -> Option<Identity> {
        let (rest, unicast) = match print.strip_suffix("/unicast") {
            Some(rest) => (rest, true),
            None => (print, false),
        };
        let (vrid, hashed) = match rest.split_once(':') {
            Some((vrid, _)) => (vrid, true),
            None => (rest, false),
        };
        let vrid = vrid.parse().ok()?;
        let named = Identity {
            vrid,
            password: if hashed {
                Some(current.password.clone()?)
            } else {
                None
            },
            unicast,
        };
        (named.fingerprint() == print).then_some(named)
    }
}

/// The identity the engine config at `path` runs (its IPv4 instance, else its first)
/// and the one it still bridges (that instance's `rolling_from`); `None`s when there
/// is no file or it cannot be read (a first install: nothing to bridge).
pub fn of_engine_config(path: &Path) -> (Option<Identity>, Option<Identity>) {
    let Ok(text) = std::fs::read(path) else {
        return (None, None);
    };
    let Ok(loaded) = vrrp_core::config::parse(&path.display().to_string(), &text) else {
        return (None, None);
    };
    let instances = &loaded.config.instances;
    let Some(instance) = instances
        .iter()
        .find(|i| i.family == vrrp_core::proto::Family::V4)
        .or(instances.first())
    else {
        return (None, None);
    };
    let identity =
        |vrid: vrrp_core::proto::Vrid, auth: &vrrp_core::proto::Auth, unicast| Identity {
            vrid: vrid.get(),
            password: auth.password().map(|p| p.into_owned()),
            unicast,
        };
    (
        Some(identity(
            instance.vrid,
            &instance.auth,
            instance.is_unicast(),
        )),
        instance
            .rolling_from
            .as_ref()
            .map(|r| identity(r.vrid, &r.auth, !r.unicast_peers.is_empty())),
    )
}

/// The identity this unit should also speak (`rolling_from`), or `None`.
///
/// `ran` is the identity of the engine config this unit last rendered, `rolling`
/// the one it was still speaking besides; `peers` holds each peer's published
/// fingerprint (`None`: the peer publishes none yet, so it may run anything). Of
/// `ran` and `rolling` (in that order), the first that differs from `current` and
/// that some peer may still run; else another identity a peer publishes, when its
/// fingerprint tells all of it (`Identity::from_fingerprint`): a unit added while a
/// `router_id` or `unicast` change is under way has run nothing yet, and joins the
/// peers still on the old identity. One that changes the password too cannot
/// (the old password is nowhere this unit can read it).
pub fn rolling_from(
    current: &Identity,
    ran: Option<&Identity>,
    rolling: Option<&Identity>,
    peers: &[Option<&str>],
) -> Option<Identity> {
    let unknown = peers.iter().any(Option::is_none);
    let remembered = [ran, rolling]
        .into_iter()
        .flatten()
        .filter(|old| *old != current)
        .find(|old| {
            let print = old.fingerprint();
            unknown || peers.iter().flatten().any(|p| *p == print)
        })
        .cloned();
    remembered.or_else(|| {
        peers
            .iter()
            .flatten()
            .filter_map(|p| Identity::from_fingerprint(p, current))
            .find(|published| published != current)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(vrid: u8, password: Option<&str>) -> Identity {
        Identity {
            vrid,
            password: password.map(str::to_string),
            unicast: false,
        }
    }

    #[test]
    fn the_fingerprint_carries_the_vrid_and_never_the_password() {
        assert_eq!(id(23, None).fingerprint(), "23");
        let print = id(23, Some("s3cr3t")).fingerprint();
        assert!(print.starts_with("23:") && print.len() == 3 + 16, "{print}");
        assert!(!print.contains("s3cr3t"));
        assert_ne!(print, id(23, Some("s3cr3T")).fingerprint());
        assert_eq!(print, id(23, Some("s3cr3t")).fingerprint(), "stable");
        assert!(!format!("{:?}", id(23, Some("s3cr3t"))).contains("s3cr3t"));
        let unicast = Identity {
            unicast: true,
            ..id(23, None)
        };
        assert_eq!(unicast.fingerprint(), "23/unicast");
    }

    #[test]
    fn a_unit_speaks_its_old_identity_while_a_peer_still_publishes_it() {
        let old = id(23, None);
        let new = id(24, None);
        let (o, n) = (old.fingerprint(), new.fingerprint());
        // The hook that applies the change: a peer still on 23.
        assert_eq!(
            rolling_from(&new, Some(&old), None, &[Some(&o), Some(&n)]),
            Some(old.clone())
        );
        // Later hooks remember it while a peer still publishes it...
        assert_eq!(
            rolling_from(&new, Some(&new), Some(&old), &[Some(&n), Some(&o)]),
            Some(old.clone())
        );
        // ...or a peer publishes nothing yet (it may still run 23).
        assert_eq!(
            rolling_from(&new, Some(&new), Some(&old), &[Some(&n), None]),
            Some(old.clone())
        );
        // Every peer on 24: done.
        assert_eq!(
            rolling_from(&new, Some(&new), Some(&old), &[Some(&n), Some(&n)]),
            None
        );
        // Alone, or nothing changed: nothing to bridge.
        assert_eq!(rolling_from(&new, Some(&old), None, &[]), None);
        assert_eq!(rolling_from(&old, Some(&old), None, &[Some(&o)]), None);
    }

    #[test]
    fn a_password_change_is_bridged_like_a_vrid_change() {
        let old = id(23, Some("old"));
        let new = id(23, Some("new"));
        let removed = id(23, None);
        let o = old.fingerprint();
        assert_eq!(
            rolling_from(&new, Some(&old), None, &[Some(&o)]),
            Some(old.clone())
        );
        assert_eq!(
            rolling_from(&removed, Some(&old), None, &[Some(&o)]),
            Some(old.clone())
        );
        let added = id(23, Some("new"));
        assert_eq!(
            rolling_from(&added, Some(&removed), None, &[Some("23")]),
            Some(removed)
        );
    }

    #[test]
    fn a_unit_added_mid_change_bridges_the_identity_its_peers_still_publish() {
        let unicast = |vrid, password: Option<&str>| Identity {
            unicast: true,
            ..id(vrid, password)
        };
        // A router_id change: a fresh unit (it ran nothing) on 24, a peer on 23.
        let new = id(24, None);
        assert_eq!(
            rolling_from(&new, None, None, &[Some("23"), Some("24")]),
            Some(id(23, None))
        );
        // The same over unicast, and a unicast change with the password kept: the
        // peer's hash is the hash of our own password.
        assert_eq!(
            rolling_from(&unicast(24, None), None, None, &[Some("23/unicast")]),
            Some(unicast(23, None))
        );
        let kept = id(23, Some("s3cr3t"));
        let print = unicast(23, Some("s3cr3t")).fingerprint();
        assert_eq!(
            rolling_from(&kept, None, None, &[Some(&print)]),
            Some(unicast(23, Some("s3cr3t")))
        );
        // Another password cannot be spoken: its hash does not give it back.
        let other = id(23, Some("old")).fingerprint();
        assert_eq!(rolling_from(&kept, None, None, &[Some(&other)]), None);
        // Every peer on ours, or a fingerprint that is none: nothing.
        assert_eq!(rolling_from(&new, None, None, &[Some("24")]), None);
        for junk in ["", "x", "300", "23:zz", "23/multicast"] {
            assert_eq!(
                rolling_from(&new, None, None, &[Some(junk)]),
                None,
                "{junk:?}"
            );
        }
    }

    #[test]
    fn of_two_changes_in_flight_the_newest_still_published_is_bridged() {
        let (a, b, c) = (id(23, None), id(24, None), id(25, None));
        let (pa, pb) = (a.fingerprint(), b.fingerprint());
        // 23 → 24 → 25 before the peers caught up: one peer on 23, one on 24.
        assert_eq!(
            rolling_from(&c, Some(&b), Some(&a), &[Some(&pa), Some(&pb)]),
            Some(b.clone())
        );
        // Only 23 is still published.
        assert_eq!(rolling_from(&c, Some(&b), Some(&a), &[Some(&pa)]), Some(a));
    }
}
