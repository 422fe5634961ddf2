//! Scenario drivers: the hook sequences Juju generates for operator actions
//! (docs/juju-contract.md J-4, J-5), queued per unit and run by one scheduler. A unit in error
//! keeps its later hooks in a backlog until [`Model::retry`] succeeds.

use super::check::EmuError;
use super::meta::Role;
use super::model::{address_bag, Hook, HookRun, RelEvent, RelationKind};
use super::state::Bag;
use super::Model;

/// Upper bound on hooks one driver call may run (catches relation-data ping-pong).
const MAX_RUNS: usize = 5_000;

impl Model {
    /// Runs queued hooks in order until none are left; returns the runs.
    pub fn settle(&mut self) -> Result<Vec<HookRun>, EmuError> {
        let mut runs = Vec::new();
        while let Some((unit, hook)) = self.agenda.pop_front() {
            if runs.len() >= MAX_RUNS {
                return Err(EmuError::NoQuiescence(MAX_RUNS));
            }
            let Some(u) = self.units.iter().find(|u| u.name == unit) else {
                continue; // the unit is gone
            };
            if u.failed.is_some() || u.lost {
                self.unit_mut(&unit).backlog.push_back(hook);
                continue;
            }
            if let Some(ctx) = &hook.relation {
                if !self.relations.iter().any(|r| r.id == ctx.id) {
                    continue; // the relation is gone
                }
            }
            runs.push(self.execute(&unit, hook)?);
        }
        Ok(runs)
    }

    /// Retries the unit's failed hook with the same context (`juju resolved`, or the
    /// automatic retry); on success the unit leaves `error` and its backlog runs.
    pub fn retry(&mut self, unit: &str) -> Result<Vec<HookRun>, EmuError> {
        let hook = self
            .unit(unit)
            .failed
            .clone()
            .ok_or_else(|| EmuError::NothingToRetry(unit.into()))?;
        let u = self.unit_mut(unit);
        u.failed = None;
        let run = self.execute(unit, hook)?;
        let ok = run.ok();
        let mut runs = vec![run];
        if ok {
            let backlog: Vec<Hook> = self.unit_mut(unit).backlog.drain(..).collect();
            for h in backlog.into_iter().rev() {
                self.agenda.push_front((unit.to_string(), h));
            }
            runs.extend(self.settle()?);
        }
        Ok(runs)
    }

    /// Runs a non-relation hook now, e.g. `m.run("keepalived/0", "update-status")`.
    pub fn run(&mut self, unit: &str, hook: &str) -> Result<HookRun, EmuError> {
        self.run_hook(unit, Hook::new(hook))
    }

    /// The subordinate (container-scoped requires) relation, created on first use.
    fn container_relation(&mut self) -> u32 {
        let ep = self
            .meta
            .endpoints
            .iter()
            .find(|e| e.role == Role::Requires && e.container)
            .cloned()
            .expect("a subordinate charm has a container-scoped requires (checked)");
        if let Some(rel) = self.relations.iter().find(|r| r.endpoint == ep.name) {
            return rel.id;
        }
        let principal = self.principal_app.clone();
        self.add_relation(
            &ep.name,
            &ep.interface,
            RelationKind::Subordinate,
            &principal,
        )
    }

    /// `juju integrate keepalived:juju-info <principal>` with `n` principal units (or
    /// adding `n` more): one `keepalived/N` per principal unit, each running install →
    /// -created for every existing relation (shuffled, seeded) → leader-elected |
    /// leader-settings-changed → config-changed → start → -joined/-changed for its
    /// remote units; then peer -joined/-changed between the units.
    pub fn deploy(&mut self, n: usize) -> Result<Vec<HookRun>, EmuError> {
        self.deploy_with(n, |_, _| Ok(()))
    }

    /// [`Model::deploy`], with `prepare` run for each new unit after it exists and
    /// before its first hook: what its machine looks like when the charm arrives (a
    /// network namespace, sysctl values, services and files of an earlier charm).
    pub fn deploy_with(
        &mut self,
        n: usize,
        mut prepare: impl FnMut(&mut Model, &str) -> Result<(), EmuError>,
    ) -> Result<Vec<HookRun>, EmuError> {
        let sub = self.container_relation();
        let mut new_units = Vec::new();
        for _ in 0..n {
            // Principal units' settings outlive them, so this counts every one so far.
            let k = self.relation(sub).remote_units_data.len();
            let principal = format!("{}/{k}", self.principal_app);
            let placement = self.placements.pop_front();
            let address = match &placement {
                Some((_, spec)) => spec.host().to_string(),
                None => format!("192.0.2.{}", 10 + k),
            };
            let unit = self.add_unit(&principal, &address);
            self.relation_mut(sub)
                .remote_units_data
                .insert(principal, address_bag(&address));
            if let Some((name, spec)) = placement {
                self.use_netns(&unit, &name, spec)?;
            }
            new_units.push(unit);
        }
        for unit in &new_units {
            prepare(self, unit)?;
        }
        if self.leader.is_none() {
            self.leader = new_units.first().cloned();
        }
        for unit in &new_units {
            self.enqueue_setup(unit);
        }
        self.enqueue_peer_joins(&new_units);
        self.settle()
    }

    fn enqueue_setup(&mut self, unit: &str) {
        self.enqueue(unit, Hook::new("install"));
        let mut rels: Vec<(String, u32, RelationKind)> = self
            .relations
            .iter()
            .map(|r| (r.endpoint.clone(), r.id, r.kind))
            .collect();
        let mut rng = self.rng.clone();
        rng.shuffle(&mut rels);
        self.rng = rng;
        for (endpoint, id, _) in &rels {
            self.enqueue(unit, Hook::relation(endpoint, *id, RelEvent::Created));
        }
        let leadership = if self.is_leader(unit) {
            "leader-elected"
        } else {
            "leader-settings-changed"
        };
        self.enqueue(unit, Hook::new(leadership));
        self.enqueue(unit, Hook::new("config-changed"));
        self.enqueue(unit, Hook::new("start"));
        let principal = self.unit(unit).principal.clone();
        for (endpoint, id, kind) in rels {
            let remotes: Vec<String> = match kind {
                RelationKind::Peer => continue,
                RelationKind::Subordinate => principal.iter().cloned().collect(),
                RelationKind::Regular => self
                    .relation(id)
                    .remote_units_data
                    .keys()
                    .cloned()
                    .collect(),
            };
            for r in remotes {
                self.enqueue(
                    unit,
                    Hook::relation(&endpoint, id, RelEvent::Joined(r.clone())),
                );
                self.enqueue(
                    unit,
                    Hook::relation(&endpoint, id, RelEvent::Changed(Some(r))),
                );
            }
        }
    }

    /// Peer -joined/-changed between the new units and every other unit.
    fn enqueue_peer_joins(&mut self, new_units: &[String]) {
        let peers: Vec<(String, u32)> = self
            .relations
            .iter()
            .filter(|r| r.kind == RelationKind::Peer)
            .map(|r| (r.endpoint.clone(), r.id))
            .collect();
        let all = self.unit_names();
        for (endpoint, id) in peers {
            for a in &all {
                for b in &all {
                    let fresh = new_units.contains(a) || new_units.contains(b);
                    if a == b || !fresh || self.relation(id).members_of(a).contains(b) {
                        continue;
                    }
                    self.enqueue(
                        a,
                        Hook::relation(&endpoint, id, RelEvent::Joined(b.clone())),
                    );
                    self.enqueue(
                        a,
                        Hook::relation(&endpoint, id, RelEvent::Changed(Some(b.clone()))),
                    );
                }
            }
        }
    }

    /// `juju integrate keepalived:<endpoint> <remote_app>` with the given remote units
    /// (bags pre-seeded with their addresses, 198.51.100.x): on every unit -created,
    /// then -joined(U) → -changed(U) for each remote unit. Returns the relation id.
    pub fn integrate(
        &mut self,
        endpoint: &str,
        remote_app: &str,
        remote_units: &[&str],
    ) -> Result<(u32, Vec<HookRun>), EmuError> {
        let ep = self.meta.endpoint(endpoint).cloned().ok_or_else(|| {
            EmuError::Inconsistent(format!("no endpoint {endpoint:?} in metadata.yaml"))
        })?;
        if ep.role == Role::Peers || ep.container {
            return Err(EmuError::Inconsistent(format!(
                "integrate {endpoint:?}: peer relations exist already and container relations come with deploy"
            )));
        }
        let id = self.add_relation(endpoint, &ep.interface, RelationKind::Regular, remote_app);
        for (k, u) in remote_units.iter().enumerate() {
            let bag = address_bag(&format!("198.51.100.{}", k + 1));
            self.relation_mut(id)
                .remote_units_data
                .insert(u.to_string(), bag);
        }
        for unit in self.live_units() {
            self.enqueue(&unit, Hook::relation(endpoint, id, RelEvent::Created));
            for r in remote_units {
                self.enqueue(
                    &unit,
                    Hook::relation(endpoint, id, RelEvent::Joined(r.to_string())),
                );
                self.enqueue(
                    &unit,
                    Hook::relation(endpoint, id, RelEvent::Changed(Some(r.to_string()))),
                );
            }
        }
        Ok((id, self.settle()?))
    }

    fn live_units(&self) -> Vec<String> {
        self.units
            .iter()
            .filter(|u| !u.dying)
            .map(|u| u.name.clone())
            .collect()
    }

    /// `juju config keepalived k=v ...`: values typed per config.yaml from their CLI
    /// text; config-changed runs on every unit only if the effective config changed.
    pub fn config(&mut self, settings: &[(&str, &str)]) -> Result<Vec<HookRun>, EmuError> {
        let before = self.effective_config();
        for (k, v) in settings {
            self.set_config_value(k, v)?;
        }
        self.config_changed_if(before)
    }

    /// `juju config --reset k ...`.
    pub fn config_reset(&mut self, keys: &[&str]) -> Result<Vec<HookRun>, EmuError> {
        let before = self.effective_config();
        for k in keys {
            self.config.remove(*k);
        }
        self.config_changed_if(before)
    }

    fn config_changed_if(
        &mut self,
        before: std::collections::BTreeMap<String, serde_json::Value>,
    ) -> Result<Vec<HookRun>, EmuError> {
        self.check()?;
        if self.effective_config() == before {
            return Ok(Vec::new());
        }
        for unit in self.live_units() {
            self.enqueue(&unit, Hook::new("config-changed"));
        }
        self.settle()
    }

    /// The remote side commits new data: `unit` Some = that remote unit's bag, None =
    /// the remote app's bag (app-level -changed with an empty JUJU_REMOTE_UNIT).
    /// `""` deletes a key. Units that see the change get -changed.
    pub fn remote_data_change(
        &mut self,
        id: u32,
        unit: Option<&str>,
        changes: &[(&str, &str)],
    ) -> Result<Vec<HookRun>, EmuError> {
        let rel = self.relation_mut(id);
        let bag: &mut Bag = match unit {
            Some(u) => rel.remote_units_data.get_mut(u).ok_or_else(|| {
                EmuError::Inconsistent(format!("{u} is not a remote unit of relation {id}"))
            })?,
            None => &mut rel.remote_app_data,
        };
        let before = bag.clone();
        for (k, v) in changes {
            if v.is_empty() {
                bag.remove(*k);
            } else {
                bag.insert(k.to_string(), v.to_string());
            }
        }
        if *bag == before {
            return Ok(Vec::new());
        }
        let endpoint = rel.endpoint.clone();
        for local in self.live_units() {
            let rel = self.relation(id);
            let sees = match unit {
                Some(u) => rel.members_of(&local).iter().any(|m| m == u),
                None => !rel.broken.contains(&local),
            };
            if sees {
                let ev = RelEvent::Changed(unit.map(str::to_string));
                self.enqueue(&local, Hook::relation(&endpoint, id, ev));
            }
        }
        self.settle()
    }

    /// Leadership moves to `unit`: leader-elected there, leader-settings-changed on
    /// the others.
    pub fn set_leader(&mut self, unit: &str) -> Result<Vec<HookRun>, EmuError> {
        self.leader = Some(unit.to_string());
        self.enqueue(unit, Hook::new("leader-elected"));
        for other in self.live_units() {
            if other != unit {
                self.enqueue(&other, Hook::new("leader-settings-changed"));
            }
        }
        self.settle()
    }

    /// `juju remove-relation`: on every unit -departed for each remote unit in scope,
    /// then -broken; the relation disappears once every unit ran -broken.
    pub fn remove_relation(&mut self, id: u32) -> Result<Vec<HookRun>, EmuError> {
        let rel = self.relation(id).clone();
        if rel.kind == RelationKind::Peer {
            return Err(EmuError::Inconsistent(format!(
                "peer relation {} cannot be removed",
                rel.key()
            )));
        }
        for unit in self.live_units() {
            for remote in rel.members_of(&unit) {
                let ev = RelEvent::Departed {
                    remote: remote.clone(),
                    departing: remote.clone(),
                };
                self.enqueue(&unit, Hook::relation(&rel.endpoint, id, ev));
            }
            self.enqueue(&unit, Hook::relation(&rel.endpoint, id, RelEvent::Broken));
        }
        self.settle()
    }

    /// The principal unit under `unit` is removed, so `unit` dies: -departed for each
    /// remote unit of each relation (JUJU_DEPARTING_UNIT = itself) → -broken for each
    /// non-peer relation → stop → remove; the other units get -departed for it on the
    /// peer relation; if it led, the lowest remaining unit is elected.
    pub fn remove_unit(&mut self, unit: &str) -> Result<Vec<HookRun>, EmuError> {
        self.unit_mut(unit).dying = true;
        let rels: Vec<_> = self.relations.clone();
        for rel in &rels {
            for remote in rel.members_of(unit) {
                let ev = RelEvent::Departed {
                    remote: remote.clone(),
                    departing: unit.to_string(),
                };
                self.enqueue(unit, Hook::relation(&rel.endpoint, rel.id, ev));
            }
        }
        for rel in rels.iter().filter(|r| r.kind != RelationKind::Peer) {
            self.enqueue(
                unit,
                Hook::relation(&rel.endpoint, rel.id, RelEvent::Broken),
            );
        }
        self.enqueue(unit, Hook::new("stop"));
        self.enqueue(unit, Hook::new("remove"));
        for rel in rels.iter().filter(|r| r.kind == RelationKind::Peer) {
            for other in self.live_units() {
                if rel.members_of(&other).iter().any(|m| m == unit) {
                    let ev = RelEvent::Departed {
                        remote: unit.to_string(),
                        departing: unit.to_string(),
                    };
                    self.enqueue(&other, Hook::relation(&rel.endpoint, rel.id, ev));
                }
            }
        }
        let was_leader = self.is_leader(unit);
        let mut runs = self.settle()?;
        let gone = self.removed_units.iter().any(|u| u.name == unit);
        if gone && was_leader {
            // The lease expires once the unit agent is gone.
            if let Some(next) = self.live_units().first().cloned() {
                runs.extend(self.set_leader(&next)?);
            }
        }
        Ok(runs)
    }

    /// The machine's address changes: Juju rewrites the address keys in the unit's
    /// bags and runs config-changed on it (docs/juju-contract.md J-4).
    pub fn change_address(&mut self, unit: &str, address: &str) -> Result<Vec<HookRun>, EmuError> {
        self.set_unit_address(unit, address);
        self.enqueue(unit, Hook::new("config-changed"));
        self.settle()
    }

    /// update-status on every unit that is not in error (Juju never queues it then).
    pub fn update_status(&mut self) -> Result<Vec<HookRun>, EmuError> {
        for unit in self.live_units() {
            if self.unit(&unit).failed.is_none() && !self.unit(&unit).lost {
                self.enqueue(&unit, Hook::new("update-status"));
            }
        }
        self.settle()
    }

    /// `juju refresh`: upgrade-charm → config-changed → leader-settings-changed (not
    /// on the leader) → start, on every unit.
    pub fn upgrade_charm(&mut self) -> Result<Vec<HookRun>, EmuError> {
        for unit in self.live_units() {
            self.enqueue(&unit, Hook::new("upgrade-charm"));
            self.enqueue(&unit, Hook::new("config-changed"));
            if !self.is_leader(&unit) {
                self.enqueue(&unit, Hook::new("leader-settings-changed"));
            }
            self.enqueue(&unit, Hook::new("start"));
        }
        self.settle()
    }

    /// `juju refresh` as seen by one unit (Juju upgrades units independently; a
    /// rolling refresh is this per unit, in turn): upgrade-charm → config-changed →
    /// leader-settings-changed (not on the leader) → start.
    pub fn upgrade_charm_unit(&mut self, unit: &str) -> Result<Vec<HookRun>, EmuError> {
        self.enqueue(unit, Hook::new("upgrade-charm"));
        self.enqueue(unit, Hook::new("config-changed"));
        if !self.is_leader(unit) {
            self.enqueue(unit, Hook::new("leader-settings-changed"));
        }
        self.enqueue(unit, Hook::new("start"));
        self.settle()
    }

    /// Bookkeeping after a hook succeeded: -broken retires the relation for the unit,
    /// `remove` retires the unit.
    pub(crate) fn after_success(&mut self, unit: &str, hook: &Hook) {
        if hook.relation_kind() == Some("broken") {
            if let Some(ctx) = &hook.relation {
                let live = self.unit_names();
                let rel = self.relation_mut(ctx.id);
                if !rel.broken.iter().any(|b| b == unit) {
                    rel.broken.push(unit.to_string());
                }
                if live.iter().all(|u| rel.broken.contains(u)) {
                    let id = ctx.id;
                    self.relations.retain(|r| r.id != id);
                }
            }
        }
        if hook.name == "remove" && hook.relation.is_none() {
            if let Some(pos) = self.units.iter().position(|u| u.name == unit) {
                let u = self.units.remove(pos);
                if self.leader.as_deref() == Some(unit) {
                    self.leader = None;
                }
                for rel in &mut self.relations {
                    rel.members.remove(unit);
                    rel.broken.retain(|b| b != unit);
                }
                self.removed_units.push(u);
            }
        }
    }
}
