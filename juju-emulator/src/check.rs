//! The consistency checker (after ops-scenario's `_consistency_checker.py`): the model
//! and each hook must be something real Juju could produce, or the test is wrong.

use std::collections::BTreeSet;

use super::meta::Role;
use super::model::{Hook, RelationKind};
use super::Model;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EmuError {
    #[error("inconsistent model: {0}")]
    Inconsistent(String),
    #[error("config: {0}")]
    Config(String),
    #[error("unit {unit} is in error after hook {hook:?}; retry it first")]
    UnitInError { unit: String, hook: String },
    #[error("unit {0} has no failed hook to retry")]
    NothingToRetry(String),
    #[error(
        "hooks did not settle after {0} runs (a charm that rewrites relation data every hook?)"
    )]
    NoQuiescence(usize),
    #[error("setup: {0}")]
    Setup(String),
    /// Juju refused to queue an action (unknown action, parameters not valid); the
    /// text is Juju's.
    #[error("{0}")]
    Action(String),
}

fn bad(msg: String) -> EmuError {
    EmuError::Inconsistent(msg)
}

impl Model {
    /// Checks the model as a whole.
    pub fn check(&self) -> Result<(), EmuError> {
        for (key, value) in &self.config {
            let opt = self
                .schema
                .options
                .get(key)
                .ok_or_else(|| bad(format!("config key {key:?} is not in config.yaml")))?;
            if !opt.kind.accepts(value) {
                return Err(bad(format!(
                    "config {key:?}={value} is not of type {}",
                    opt.kind.name()
                )));
            }
        }
        let mut ids = BTreeSet::new();
        let unit_names: BTreeSet<&str> = self.units.iter().map(|u| u.name.as_str()).collect();
        for rel in &self.relations {
            if !ids.insert(rel.id) {
                return Err(bad(format!("duplicate relation id {}", rel.id)));
            }
            let ep = self.meta.endpoint(&rel.endpoint).ok_or_else(|| {
                bad(format!(
                    "relation {} is on undeclared endpoint {:?}",
                    rel.id, rel.endpoint
                ))
            })?;
            let expected = match (ep.role, ep.container) {
                (Role::Peers, _) => RelationKind::Peer,
                (_, true) => RelationKind::Subordinate,
                (_, false) => RelationKind::Regular,
            };
            if rel.kind != expected {
                return Err(bad(format!(
                    "relation {} on endpoint {:?} is {} but the endpoint needs a {} relation",
                    rel.id,
                    rel.endpoint,
                    rel.kind.name(),
                    expected.name()
                )));
            }
            for (local, members) in &rel.members {
                if members.contains(local) {
                    return Err(bad(format!(
                        "{local} is among its own remote units in {}",
                        rel.key()
                    )));
                }
                for m in members {
                    let known = match rel.kind {
                        // A departed peer's settings outlive it until the others see it go.
                        RelationKind::Peer => rel.local_units_data.contains_key(m),
                        _ => rel.remote_units_data.contains_key(m),
                    };
                    if !known {
                        return Err(bad(format!(
                            "{local} sees unknown unit {m} in {}",
                            rel.key()
                        )));
                    }
                }
                if rel.kind == RelationKind::Subordinate {
                    let principal = self
                        .units
                        .iter()
                        .find(|u| &u.name == local)
                        .and_then(|u| u.principal.clone());
                    if members.len() > 1 || members.iter().any(|m| Some(m) != principal.as_ref()) {
                        return Err(bad(format!(
                            "subordinate relation {}: {local} must see exactly its principal, sees {members:?}",
                            rel.key()
                        )));
                    }
                }
            }
        }
        if let Some(leader) = &self.leader {
            if !unit_names.contains(leader.as_str()) {
                return Err(bad(format!("leader {leader} is not a live unit")));
            }
        }
        Ok(())
    }

    /// Checks one hook against the model and metadata before it runs.
    pub fn check_hook(&self, unit: &str, hook: &Hook) -> Result<(), EmuError> {
        if !self.units.iter().any(|u| u.name == unit) {
            return Err(bad(format!("no live unit {unit}")));
        }
        let kind = hook.relation_kind();
        let Some(rel_ctx) = &hook.relation else {
            if kind.is_some() {
                return Err(bad(format!("{} needs a relation context", hook.name)));
            }
            return Ok(());
        };
        let Some(kind) = kind else {
            return Err(bad(format!("{} is not a relation hook", hook.name)));
        };
        let rel = self
            .relations
            .iter()
            .find(|r| r.id == rel_ctx.id)
            .ok_or_else(|| {
                bad(format!(
                    "{}: relation {} does not exist",
                    hook.name, rel_ctx.id
                ))
            })?;
        if hook.name != format!("{}-relation-{kind}", rel.endpoint) {
            return Err(bad(format!(
                "{} does not match relation {}",
                hook.name,
                rel.key()
            )));
        }
        if rel.kind == RelationKind::Peer && kind == "broken" {
            return Err(bad(format!(
                "a peer relation never gets -broken ({})",
                hook.name
            )));
        }
        let needs_remote = matches!(kind, "joined" | "departed");
        if needs_remote && rel_ctx.remote_unit.is_none() {
            return Err(bad(format!("{} needs a remote unit", hook.name)));
        }
        if kind == "departed" && rel_ctx.departing_unit.is_none() {
            return Err(bad(format!("{} needs a departing unit", hook.name)));
        }
        if matches!(kind, "created" | "broken") && rel_ctx.remote_unit.is_some() {
            return Err(bad(format!("{} has no remote unit", hook.name)));
        }
        if let Some(remote) = &rel_ctx.remote_unit {
            if remote == unit {
                return Err(bad(format!(
                    "{}: {unit} cannot be its own remote unit",
                    hook.name
                )));
            }
            let known = rel.remote_units_data.contains_key(remote)
                || (rel.kind == RelationKind::Peer && rel.local_units_data.contains_key(remote));
            if !known {
                return Err(bad(format!(
                    "{}: {remote} is not in relation {}",
                    hook.name,
                    rel.key()
                )));
            }
        }
        Ok(())
    }
}
