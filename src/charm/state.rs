//! What a unit remembers between hooks, kept with `state-get`/`state-set` (Juju's
//! per-unit charm state, committed only when the hook succeeds — so it never claims
//! an effect that was rolled back).
//!
//! Everything lives as one JSON document under one key: one `state-get` reads it and
//! at most one `state-set` writes it per hook.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::hooktools::Bag;

/// The charm-state key holding the document.
pub const STATE_KEY: &str = "keepalived-charm";

/// The unit's memory.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CharmState {
    /// This unit's VRRP priority claim (see `priority`).
    pub priority: Option<u8>,
    /// The start hook ran (and stop has not): the engine should run when configured.
    pub started: bool,
    /// Our own keys as last published, per relation (`website:3` → bag).
    pub published: BTreeMap<String, Bag>,
    /// The peer relation (`cluster:N`), once seen.
    pub peer_relation: Option<String>,
    /// What each peer last published that matters to us (priority, VRRP addresses),
    /// refreshed only by the hooks that can change it.
    pub peers: BTreeMap<String, Bag>,
    /// Kernel values found before the charm first set each key, to restore on removal.
    pub sysctl_saved: BTreeMap<String, String>,
    /// The last hook was config-changed, whose commit makes Juju rewrite
    /// `private-address` in every unit bag: re-publish the website data once.
    pub website_resync: bool,
    /// The unit file as systemd last re-read it (`daemon-reload`), as a file stamp.
    pub unit_loaded: Option<String>,
    /// The files the running engine was started, restarted or reloaded with; `None`
    /// while it is not running (or not known to run them).
    pub engine_loaded: Option<EngineFiles>,
    /// Our engine was started beside a distro keepalived that held the VIP; the
    /// distro keepalived is stopped once our engine is MASTER (make before break).
    pub retire_distro: bool,
    /// The `pause` action is in force (until `resume`): the engine config keeps every
    /// instance out of the election, across hooks, engine restarts, reboots and charm
    /// upgrades (Juju keeps this state with the unit).
    pub paused: bool,
    /// The last `switchover` this unit was asked for (see `priority::preferred`).
    pub switchover: Option<Switchover>,
    /// The VRRP timing the engine config was last rendered with, and why
    /// (`timing::Timing`'s text), for the `status` action.
    pub timing: Option<String>,
}

/// A `switchover` request: `unit` should hold the VIPs. The newest request in the
/// cluster wins (`seq`, milliseconds since the epoch when it was made; then the unit
/// name).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Switchover {
    pub seq: u64,
    pub unit: String,
}

impl Switchover {
    /// The peer-bag form, `<unit>@<seq>`.
    pub fn to_text(&self) -> String {
        format!("{}@{}", self.unit, self.seq)
    }

    /// Reads the peer-bag form; `None` for anything else.
    pub fn parse(text: &str) -> Option<Switchover> {
        let (unit, seq) = text.trim().rsplit_once('@')?;
        let (app, number) = unit.split_once('/')?;
        if app.is_empty() || number.parse::<u32>().is_err() {
            return None;
        }
        Some(Switchover {
            seq: seq.parse().ok()?,
            unit: unit.to_string(),
        })
    }
}

/// Stamps (`render::stamp`: inode and mtime) of the files the engine runs on.
///
/// Recorded only by a hook that succeeded (Juju discards the charm state of a failed
/// one). A hook that wrote a file and then failed before telling the engine or systemd
/// leaves a stamp that differs from the record, so its retry still reloads, restarts
/// or re-reads: deciding from "did this hook write the file" would lose that, because
/// the retry finds the file already written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EngineFiles {
    pub config: Option<String>,
    pub binary: Option<String>,
    pub unit: Option<String>,
    /// The metrics address file (`--metrics-file`), read by the engine on SIGHUP.
    pub metrics: Option<String>,
}

impl CharmState {
    /// Reads the document from `state-get` output; a missing or unreadable document
    /// starts afresh (returned as the second value for logging).
    pub fn from_bag(bag: &Bag) -> (CharmState, Option<String>) {
        match bag.get(STATE_KEY) {
            None => (CharmState::default(), None),
            Some(text) => match serde_json::from_str(text) {
                Ok(state) => (state, None),
                Err(e) => (
                    CharmState::default(),
                    Some(format!("ignoring unreadable charm state: {e}")),
                ),
            },
        }
    }

    /// The document as `state-set` input.
    pub fn to_bag(&self) -> Bag {
        let mut bag = Bag::new();
        // Plain maps, strings and numbers always serialise.
        let text = serde_json::to_string(self).unwrap_or_else(|_| "{}".into());
        bag.insert(STATE_KEY.to_string(), text);
        bag
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_through_one_key() {
        let mut s = CharmState {
            priority: Some(253),
            started: true,
            ..CharmState::default()
        };
        s.sysctl_saved
            .insert("net.ipv4.ip_nonlocal_bind".into(), "0".into());
        let bag = s.to_bag();
        assert_eq!(bag.len(), 1);
        assert_eq!(CharmState::from_bag(&bag), (s, None));
    }

    #[test]
    fn missing_state_is_fresh_and_corrupt_state_is_reported() {
        assert_eq!(
            CharmState::from_bag(&Bag::new()),
            (CharmState::default(), None)
        );
        let mut bag = Bag::new();
        bag.insert(STATE_KEY.into(), "{not json".into());
        let (s, warning) = CharmState::from_bag(&bag);
        assert_eq!(s, CharmState::default());
        assert!(warning
            .unwrap()
            .starts_with("ignoring unreadable charm state"));
    }

    #[test]
    fn unknown_and_missing_fields_are_tolerated() {
        let mut bag = Bag::new();
        bag.insert(STATE_KEY.into(), r#"{"priority":250,"future":1}"#.into());
        let (s, warning) = CharmState::from_bag(&bag);
        assert_eq!(warning, None);
        assert_eq!(s.priority, Some(250));
        assert!(!s.started);
    }
}
