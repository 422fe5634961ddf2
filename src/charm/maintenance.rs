//! The maintenance actions: `pause`, `resume` and `switchover` (actions.yaml).
//!
//! Each one changes the unit's charm state ([`decide`], pure), then the charm
//! reconciles as a hook would (`reconcile::handle_action`): the engine config, the
//! reload, the peer bag and the status follow from the new state, so nothing here
//! touches the engine directly, and the change survives hooks, engine restarts,
//! reboots and charm upgrades because it lives in the charm state.
//!
//! * `pause [force]`: the engine config keeps every instance in FAULT (see
//!   `desired::EngineConfig::paused`); a MASTER hands over make-before-break
//!   (docs/requirements.md K-14). Refused for the last unit that could hold the VIP
//!   unless `force=true`.
//! * `resume`: back in the election; a unit whose priority is the highest preempts
//!   after its down interval (RFC 9568 §6.4.2).
//! * `switchover [unit]`: the named unit (default: this one) becomes the preferred
//!   one (`priority::preferred`) and takes the VIPs once the Master's next hook has
//!   lowered its priority. Refused for an unknown or paused unit, for this unit while
//!   its health check fails, and when `preempt` is off (nothing would move).

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde_json::Value;

use super::hooktools::Bag;
use super::relation_data::peer_paused;
use super::state::{CharmState, Switchover};
use super::status::{EngineReport, Role};

pub const PAUSE: &str = "pause";
pub const RESUME: &str = "resume";
pub const SWITCHOVER: &str = "switchover";

/// What the operator asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Intent {
    Pause {
        force: bool,
    },
    Resume,
    /// `None`: this unit.
    Switchover {
        unit: Option<String>,
    },
}

impl Intent {
    /// The intent of action `name` with its `action-get` parameters; `Err` with the
    /// message for a parameter of the wrong type. `None` for another action.
    pub fn from_action(
        name: &str,
        params: &serde_json::Map<String, Value>,
    ) -> Option<Result<Intent, String>> {
        match name {
            PAUSE => Some(match params.get("force") {
                None => Ok(Intent::Pause { force: false }),
                Some(Value::Bool(force)) => Ok(Intent::Pause { force: *force }),
                Some(other) => Err(format!("force must be true or false, got {other}")),
            }),
            RESUME => Some(Ok(Intent::Resume)),
            SWITCHOVER => Some(match params.get("unit") {
                None => Ok(Intent::Switchover { unit: None }),
                Some(Value::String(u)) if u.trim().is_empty() => {
                    Ok(Intent::Switchover { unit: None })
                }
                Some(Value::String(u)) => Ok(Intent::Switchover {
                    unit: Some(u.trim().to_string()),
                }),
                Some(other) => Err(format!(
                    "unit must be a unit name such as keepalived/1, got {other}"
                )),
            }),
            _ => None,
        }
    }
}

/// What the unit knows when it decides.
pub struct View<'a> {
    /// This unit, `keepalived/0`.
    pub unit: &'a str,
    /// The engine's report, when it has written one (and is not stale).
    pub report: Option<&'a EngineReport>,
    /// The `preempt` option.
    pub preempt: bool,
    /// Milliseconds since the epoch (orders switchover requests).
    pub now_ms: u64,
}

/// What an accepted action did, for its results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Done {
    Paused,
    AlreadyPaused,
    Resumed,
    NotPaused,
    /// `unit` is now the preferred unit.
    Switchover {
        unit: String,
    },
}

/// Applies `intent` to `state`, or says why not (nothing is changed then).
pub fn decide(intent: &Intent, view: &View<'_>, state: &mut CharmState) -> Result<Done, String> {
    match intent {
        Intent::Pause { force } => {
            if state.paused {
                return Ok(Done::AlreadyPaused);
            }
            if !force && !another_candidate(view, &state.peers) {
                return Err(format!(
                    "{} is the last unit that could hold the VIP: no other unit of the application is in the peer relation unpaused, and no other MASTER is heard. Resume or add another unit first, or run the action again with force=true to leave the VIP unheld",
                    view.unit
                ));
            }
            state.paused = true;
            Ok(Done::Paused)
        }
        Intent::Resume => {
            if !state.paused {
                return Ok(Done::NotPaused);
            }
            state.paused = false;
            Ok(Done::Resumed)
        }
        Intent::Switchover { unit } => {
            let target = unit.clone().unwrap_or_else(|| view.unit.to_string());
            let known = target == view.unit || state.peers.contains_key(&target);
            if !known {
                let mut units: Vec<&str> = state.peers.keys().map(String::as_str).collect();
                units.push(view.unit);
                units.sort();
                return Err(format!(
                    "unknown unit {target:?}: the units of this application are {}",
                    units.join(", ")
                ));
            }
            if !view.preempt {
                return Err(
                    "switchover needs preemption, and preempt=false: set `juju config keepalived preempt=true` first (or stop the MASTER's engine with `pause` on it)"
                        .to_string(),
                );
            }
            let paused = if target == view.unit {
                state.paused
            } else {
                state.peers.get(&target).is_some_and(peer_paused)
            };
            if paused {
                return Err(format!(
                    "{target} is paused: run `juju run {target} resume` first"
                ));
            }
            if target == view.unit {
                if let Some(script) = failing_script(view.report) {
                    return Err(format!(
                        "{target}'s health check {script} fails, so it would not keep the VIP: fix the service it checks first"
                    ));
                }
            }
            state.switchover = Some(Switchover {
                seq: view.now_ms,
                unit: target.clone(),
            });
            Ok(Done::Switchover { unit: target })
        }
    }
}

/// Whether some other unit could hold the VIP: an unpaused peer, or a MASTER heard
/// that is not this unit (a unit the peer relation does not show, such as one still
/// running the original charm).
fn another_candidate(view: &View<'_>, peers: &BTreeMap<String, Bag>) -> bool {
    if peers.values().any(|bag| !peer_paused(bag)) {
        return true;
    }
    view.report.is_some_and(|r| {
        r.instances.iter().any(|i| {
            i.state != Role::Master && i.master.is_some_and(|m: IpAddr| !m.is_unspecified())
        })
    })
}

/// The first tracked script of this unit that is KO.
fn failing_script(report: Option<&EngineReport>) -> Option<String> {
    report?.instances.iter().find_map(|i| {
        i.scripts
            .iter()
            .find(|(_, status)| status.as_str() == "KO")
            .map(|(name, _)| name.clone())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::charm::status::parse_engine_state;

    fn peers(entries: &[(&str, bool)]) -> BTreeMap<String, Bag> {
        entries
            .iter()
            .map(|(unit, paused)| {
                let mut bag = Bag::new();
                if *paused {
                    bag.insert("paused".into(), "true".into());
                }
                (unit.to_string(), bag)
            })
            .collect()
    }

    fn state_with(entries: &[(&str, bool)]) -> CharmState {
        CharmState {
            peers: peers(entries),
            ..CharmState::default()
        }
    }

    fn view<'a>(report: Option<&'a EngineReport>) -> View<'a> {
        View {
            unit: "keepalived/0",
            report,
            preempt: true,
            now_ms: 1_700_000_000_000,
        }
    }

    fn report(state: &str, master: Option<&str>, script: &str) -> EngineReport {
        let master = master.map_or("null".to_string(), |m| format!("\"{m}\""));
        parse_engine_state(&format!(
            r#"{{"instances":[{{"name":"VI_1","state":"{state}","master":{master},"scripts":{{"chk_svc_port":"{script}"}}}}]}}"#
        ))
        .unwrap()
    }

    #[test]
    fn pause_with_another_unpaused_unit_is_accepted_and_kept_once() {
        let mut s = state_with(&[("keepalived/1", false)]);
        let pause = Intent::Pause { force: false };
        assert_eq!(decide(&pause, &view(None), &mut s), Ok(Done::Paused));
        assert!(s.paused);
        assert_eq!(decide(&pause, &view(None), &mut s), Ok(Done::AlreadyPaused));
        assert_eq!(
            decide(&Intent::Resume, &view(None), &mut s),
            Ok(Done::Resumed)
        );
        assert!(!s.paused);
        assert_eq!(
            decide(&Intent::Resume, &view(None), &mut s),
            Ok(Done::NotPaused)
        );
    }

    #[test]
    fn pausing_the_last_candidate_is_refused_without_force_and_changes_nothing() {
        for entries in [&[][..], &[("keepalived/1", true)][..]] {
            let mut s = state_with(entries);
            let before = s.clone();
            let err = decide(&Intent::Pause { force: false }, &view(None), &mut s).unwrap_err();
            assert!(
                err.starts_with("keepalived/0 is the last unit that could hold the VIP"),
                "{err}"
            );
            assert!(err.contains("force=true"), "{err}");
            assert_eq!(s, before);
            assert_eq!(
                decide(&Intent::Pause { force: true }, &view(None), &mut s),
                Ok(Done::Paused)
            );
        }
    }

    #[test]
    fn a_master_heard_outside_the_peer_relation_counts_as_a_candidate() {
        let r = report("BACKUP", Some("10.0.0.9"), "OK");
        let mut s = state_with(&[]);
        assert_eq!(
            decide(&Intent::Pause { force: false }, &view(Some(&r)), &mut s),
            Ok(Done::Paused)
        );
        // But not ourselves as MASTER.
        let r = report("MASTER", Some("10.0.0.1"), "OK");
        let mut s = state_with(&[]);
        assert!(decide(&Intent::Pause { force: false }, &view(Some(&r)), &mut s).is_err());
    }

    #[test]
    fn switchover_names_this_unit_by_default_or_a_known_peer() {
        let mut s = state_with(&[("keepalived/1", false)]);
        let here = Intent::Switchover { unit: None };
        assert_eq!(
            decide(&here, &view(None), &mut s),
            Ok(Done::Switchover {
                unit: "keepalived/0".into()
            })
        );
        assert_eq!(
            s.switchover,
            Some(Switchover {
                seq: 1_700_000_000_000,
                unit: "keepalived/0".into()
            })
        );
        let there = Intent::Switchover {
            unit: Some("keepalived/1".into()),
        };
        assert_eq!(
            decide(&there, &view(None), &mut s),
            Ok(Done::Switchover {
                unit: "keepalived/1".into()
            })
        );
    }

    #[test]
    fn switchover_refuses_unknown_paused_unhealthy_targets_and_nopreempt_with_the_fix() {
        let refused = |intent: Intent, s: &mut CharmState, v: &View<'_>| {
            let before = s.clone();
            let err = decide(&intent, v, s).unwrap_err();
            assert_eq!(*s, before, "a refusal changes nothing");
            err
        };
        let mut s = state_with(&[("keepalived/1", true), ("keepalived/2", false)]);
        let to = |u: &str| Intent::Switchover {
            unit: Some(u.into()),
        };
        assert_eq!(
            refused(to("keepalived/7"), &mut s, &view(None)),
            "unknown unit \"keepalived/7\": the units of this application are keepalived/0, keepalived/1, keepalived/2"
        );
        assert_eq!(
            refused(to("keepalived/1"), &mut s, &view(None)),
            "keepalived/1 is paused: run `juju run keepalived/1 resume` first"
        );
        let sick = report("BACKUP", Some("10.0.0.2"), "KO");
        assert_eq!(
            refused(Intent::Switchover { unit: None }, &mut s, &view(Some(&sick))),
            "keepalived/0's health check chk_svc_port fails, so it would not keep the VIP: fix the service it checks first"
        );
        let mut s2 = state_with(&[("keepalived/1", false)]);
        s2.paused = true;
        assert!(
            refused(Intent::Switchover { unit: None }, &mut s2, &view(None))
                .starts_with("keepalived/0 is paused")
        );
        let mut v = view(None);
        v.preempt = false;
        assert!(refused(to("keepalived/2"), &mut s, &v).starts_with("switchover needs preemption"));
    }

    #[test]
    fn parameters_are_read_with_their_types_checked() {
        let params =
            |json: &str| -> serde_json::Map<String, Value> { serde_json::from_str(json).unwrap() };
        assert_eq!(
            Intent::from_action("pause", &params("{}")),
            Some(Ok(Intent::Pause { force: false }))
        );
        assert_eq!(
            Intent::from_action("pause", &params(r#"{"force": true}"#)),
            Some(Ok(Intent::Pause { force: true }))
        );
        assert_eq!(
            Intent::from_action("pause", &params(r#"{"force": "yes"}"#)),
            Some(Err("force must be true or false, got \"yes\"".into()))
        );
        assert_eq!(
            Intent::from_action("switchover", &params(r#"{"unit": "keepalived/2"}"#)),
            Some(Ok(Intent::Switchover {
                unit: Some("keepalived/2".into())
            }))
        );
        assert_eq!(Intent::from_action("status", &params("{}")), None);
    }
}
