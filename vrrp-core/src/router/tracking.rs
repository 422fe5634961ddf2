//! Tracked scripts and interfaces: raw results in, a weight sum and a fault out
//! (keepalived `vrrp_track.c`, docs/requirements.md K-02).
//!
//! Weight semantics, exactly keepalived's:
//! * weight 0: KO (script) / down (interface) puts the instance in FAULT;
//! * weight > 0: added while OK / up;
//! * weight < 0: subtracted while KO / down.
//!
//! The sum goes through `Priority::with_weight`, which clamps to 1..=254 and never
//! touches an owner's 255.

use std::collections::BTreeSet;

use super::action::FaultCause;
use super::config::{RouterConfig, TrackInterface, TrackScript};

/// What is known about a tracked script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScriptStatus {
    /// No result yet: contributes no weight and causes no fault. The first result
    /// decides either way (keepalived: "one success is enough", one failure too).
    Unknown,
    /// `rise` consecutive successes (or the first result) said OK.
    Ok,
    /// `fall` consecutive failures (or the first result, or `init_fail`) said KO.
    Ko,
}

#[derive(Debug, Clone)]
struct Script {
    config: TrackScript,
    status: ScriptStatus,
    /// Consecutive results that disagree with `status` (the rise / fall counter).
    streak: u32,
}

impl Script {
    fn new(config: TrackScript) -> Script {
        let status = if config.init_fail {
            ScriptStatus::Ko
        } else {
            ScriptStatus::Unknown
        };
        Script {
            config,
            status,
            streak: 0,
        }
    }

    /// keepalived's hysteresis: `fall` consecutive failures turn OK into KO, `rise`
    /// consecutive successes turn KO into OK; a result that agrees resets the count.
    fn record(&mut self, ok: bool) {
        let (needed, flipped) = match (self.status, ok) {
            (ScriptStatus::Unknown, true) => (1, ScriptStatus::Ok),
            (ScriptStatus::Unknown, false) => (1, ScriptStatus::Ko),
            (ScriptStatus::Ok, false) => (self.config.fall, ScriptStatus::Ko),
            (ScriptStatus::Ko, true) => (self.config.rise, ScriptStatus::Ok),
            (ScriptStatus::Ok, true) | (ScriptStatus::Ko, false) => {
                self.streak = 0;
                return;
            }
        };
        self.streak += 1;
        if self.streak >= needed {
            self.status = flipped;
            self.streak = 0;
        }
    }

    fn weight(&self) -> i32 {
        match (self.status, self.config.weight) {
            (ScriptStatus::Ok, w) if w > 0 => w,
            (ScriptStatus::Ko, w) if w < 0 => w,
            _ => 0,
        }
    }
}

/// The tracking state of one router.
#[derive(Debug, Clone)]
pub struct Tracking {
    own_interface: String,
    scripts: Vec<Script>,
    interfaces: Vec<TrackInterface>,
    /// Interfaces reported down. Link state is a fact about the host, not config,
    /// so it is kept for every reported name and survives reconfiguration. An
    /// interface never reported is assumed up (the driver reports the initial
    /// state before `Startup`).
    down: BTreeSet<String>,
}

impl Tracking {
    pub fn new(config: &RouterConfig) -> Tracking {
        Tracking {
            own_interface: config.interface.clone(),
            scripts: config
                .track_scripts
                .iter()
                .cloned()
                .map(Script::new)
                .collect(),
            interfaces: config.track_interfaces.clone(),
            down: BTreeSet::new(),
        }
    }

    /// Takes a new config, keeping the status of scripts that are still tracked
    /// (keepalived ≥ 2.3.2 keeps script state across a reload when the script is
    /// unchanged) and every known link state.
    pub fn reconfigure(&mut self, config: &RouterConfig) {
        let old = std::mem::take(&mut self.scripts);
        self.scripts = config
            .track_scripts
            .iter()
            .map(|c| match old.iter().find(|s| s.config.name == c.name) {
                Some(kept) => Script {
                    config: c.clone(),
                    status: kept.status,
                    streak: kept.streak,
                },
                None => Script::new(c.clone()),
            })
            .collect();
        self.interfaces = config.track_interfaces.clone();
        self.own_interface = config.interface.clone();
    }

    /// Records one raw script result; unknown names are ignored (a script this
    /// instance does not track).
    pub fn script_result(&mut self, name: &str, ok: bool) {
        if let Some(script) = self.scripts.iter_mut().find(|s| s.config.name == name) {
            script.record(ok);
        }
    }

    /// Records a link state change of any interface.
    pub fn interface(&mut self, name: &str, up: bool) {
        if up {
            self.down.remove(name);
        } else {
            self.down.insert(name.to_string());
        }
    }

    /// The status of a tracked script, for the state file.
    pub fn script_status(&self, name: &str) -> Option<ScriptStatus> {
        self.scripts
            .iter()
            .find(|s| s.config.name == name)
            .map(|s| s.status)
    }

    /// The sum of the weights in effect (before clamping).
    pub fn weight_sum(&self) -> i32 {
        let scripts: i32 = self.scripts.iter().map(Script::weight).sum();
        let interfaces: i32 = self
            .interfaces
            .iter()
            .map(|i| {
                let up = !self.down.contains(&i.name);
                match i.weight {
                    w if w > 0 && up => w,
                    w if w < 0 && !up => w,
                    _ => 0,
                }
            })
            .sum();
        scripts + interfaces
    }

    /// The first reason this router cannot run, if any: its own interface down, an
    /// unweighted tracked interface down, an unweighted script KO.
    pub fn fault(&self) -> Option<FaultCause> {
        if self.down.contains(&self.own_interface) {
            return Some(FaultCause::InterfaceDown(self.own_interface.clone()));
        }
        if let Some(i) = self
            .interfaces
            .iter()
            .find(|i| i.weight == 0 && self.down.contains(&i.name))
        {
            return Some(FaultCause::InterfaceDown(i.name.clone()));
        }
        self.scripts
            .iter()
            .find(|s| s.config.weight == 0 && s.status == ScriptStatus::Ko)
            .map(|s| FaultCause::ScriptFailed(s.config.name.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{Priority, Vrid};

    fn config(scripts: Vec<TrackScript>, interfaces: Vec<TrackInterface>) -> RouterConfig {
        let mut c = RouterConfig::new(
            "VI_1",
            "eth0",
            Vrid::new(1).unwrap(),
            "10.0.0.1".parse().unwrap(),
            vec!["10.0.0.100".parse().unwrap()],
        );
        c.track_scripts = scripts;
        c.track_interfaces = interfaces;
        c
    }

    fn script(name: &str, weight: i32, rise: u32, fall: u32) -> TrackScript {
        TrackScript {
            rise,
            fall,
            ..TrackScript::new(name, weight)
        }
    }

    #[test]
    fn positive_weight_is_added_only_while_ok() {
        // The original charm: `weight 2` on the TCP check (leader 101 → 103).
        let mut t = Tracking::new(&config(vec![script("chk", 2, 1, 1)], vec![]));
        assert_eq!(t.weight_sum(), 0, "no result yet: no weight");
        t.script_result("chk", true);
        assert_eq!(t.weight_sum(), 2);
        assert_eq!(
            Priority::from_wire(101).with_weight(t.weight_sum()).get(),
            103
        );
        t.script_result("chk", false);
        assert_eq!(t.weight_sum(), 0);
        assert_eq!(t.fault(), None, "a weighted script never faults");
    }

    #[test]
    fn negative_weight_is_subtracted_only_while_ko() {
        let mut t = Tracking::new(&config(vec![script("chk", -30, 1, 1)], vec![]));
        t.script_result("chk", true);
        assert_eq!(t.weight_sum(), 0);
        t.script_result("chk", false);
        assert_eq!(t.weight_sum(), -30);
    }

    #[test]
    fn fall_needs_consecutive_failures_and_rise_consecutive_successes() {
        let mut t = Tracking::new(&config(vec![script("chk", 10, 2, 3)], vec![]));
        t.script_result("chk", true);
        assert_eq!(t.script_status("chk"), Some(ScriptStatus::Ok));
        t.script_result("chk", false);
        t.script_result("chk", false);
        t.script_result("chk", true); // resets the fall count
        t.script_result("chk", false);
        t.script_result("chk", false);
        assert_eq!(t.script_status("chk"), Some(ScriptStatus::Ok));
        t.script_result("chk", false);
        assert_eq!(t.script_status("chk"), Some(ScriptStatus::Ko));
        assert_eq!(t.weight_sum(), 0);
        t.script_result("chk", true);
        t.script_result("chk", false); // resets the rise count
        t.script_result("chk", true);
        assert_eq!(t.script_status("chk"), Some(ScriptStatus::Ko));
        t.script_result("chk", true);
        assert_eq!(t.script_status("chk"), Some(ScriptStatus::Ok));
        assert_eq!(t.weight_sum(), 10);
    }

    #[test]
    fn unweighted_script_ko_is_a_fault_and_init_fail_starts_ko() {
        let mut s = script("chk", 0, 2, 1);
        s.init_fail = true;
        let mut t = Tracking::new(&config(vec![s], vec![]));
        assert_eq!(t.fault(), Some(FaultCause::ScriptFailed("chk".into())));
        t.script_result("chk", true);
        assert!(t.fault().is_some(), "rise 2 needs two successes");
        t.script_result("chk", true);
        assert_eq!(t.fault(), None);
    }

    #[test]
    fn interfaces_fault_when_unweighted_and_weigh_when_weighted() {
        let mut t = Tracking::new(&config(
            vec![],
            vec![
                TrackInterface {
                    name: "bond0".into(),
                    weight: 0,
                },
                TrackInterface {
                    name: "eth1".into(),
                    weight: 20,
                },
                TrackInterface {
                    name: "eth2".into(),
                    weight: -50,
                },
            ],
        ));
        assert_eq!(t.weight_sum(), 20);
        t.interface("eth1", false);
        t.interface("eth2", false);
        assert_eq!(t.weight_sum(), -50);
        assert_eq!(t.fault(), None);
        t.interface("bond0", false);
        assert_eq!(t.fault(), Some(FaultCause::InterfaceDown("bond0".into())));
        t.interface("eth0", false);
        assert_eq!(
            t.fault(),
            Some(FaultCause::InterfaceDown("eth0".into())),
            "the instance's own interface is reported first"
        );
    }

    #[test]
    fn reconfigure_keeps_the_status_of_scripts_still_tracked() {
        let mut t = Tracking::new(&config(vec![script("a", 5, 1, 1)], vec![]));
        t.script_result("a", true);
        t.interface("eth9", false);
        t.reconfigure(&config(
            vec![script("a", 7, 1, 1), script("b", -3, 1, 1)],
            vec![TrackInterface {
                name: "eth9".into(),
                weight: -4,
            }],
        ));
        assert_eq!(t.script_status("a"), Some(ScriptStatus::Ok));
        assert_eq!(t.script_status("b"), Some(ScriptStatus::Unknown));
        assert_eq!(t.weight_sum(), 7 - 4);
    }
}
