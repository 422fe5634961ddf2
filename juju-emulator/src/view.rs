//! What a hook sees: the unit's view of the model (written to the state file for the
//! hook tools) and the process environment, built from scratch per docs/juju-contract.md J-2.

use std::collections::BTreeMap;

use super::model::{default_network, Hook, RelationKind};
use super::state::{HookState, Machine, RelationView, STATE_ENV};
use super::Model;

impl Model {
    pub(crate) fn view(&self, unit: &str, hook: &Hook) -> HookState {
        let u = self.unit(unit);
        let rel_ctx = hook.relation.as_ref();
        let relations = self
            .relations
            .iter()
            .filter(|r| !r.broken.iter().any(|b| b == unit))
            .map(|r| {
                let remote_units_data = match r.kind {
                    RelationKind::Peer => r
                        .local_units_data
                        .iter()
                        .filter(|(n, _)| *n != unit)
                        .map(|(n, b)| (n.clone(), b.clone()))
                        .collect(),
                    RelationKind::Subordinate => r
                        .remote_units_data
                        .iter()
                        .filter(|(n, _)| u.principal.as_ref() == Some(*n))
                        .map(|(n, b)| (n.clone(), b.clone()))
                        .collect(),
                    RelationKind::Regular => r.remote_units_data.clone(),
                };
                RelationView {
                    id: r.id,
                    endpoint: r.endpoint.clone(),
                    interface: r.interface.clone(),
                    kind: r.kind.name().into(),
                    remote_app: r.remote_app.clone(),
                    local_app_data: r.local_app_data.clone(),
                    local_unit_data: r.local_units_data.get(unit).cloned().unwrap_or_default(),
                    remote_app_data: r.remote_app_data.clone(),
                    remote_units_data,
                    members: r.members_of(unit).to_vec(),
                }
            })
            .collect();
        let mut bindings: std::collections::BTreeSet<String> =
            self.meta.endpoints.iter().map(|e| e.name.clone()).collect();
        bindings.extend(self.meta.extra_bindings.iter().cloned());
        bindings.insert("juju-info".into());
        let default_net = u
            .networks
            .get("")
            .cloned()
            .unwrap_or_else(|| default_network(&u.address));
        HookState {
            unit: unit.into(),
            app: self.app.clone(),
            leader: self.is_leader(unit),
            juju_version: self.info.juju_version.clone(),
            hook: hook.name.clone(),
            relation_id: rel_ctx.map(|c| c.id),
            remote_unit: rel_ctx.and_then(|c| c.remote_unit.clone()),
            remote_app: rel_ctx.map(|c| self.remote_app_env(c)),
            charm_dir: u.charm_dir.display().to_string(),
            config: self.effective_config(),
            relations,
            networks: u
                .networks
                .iter()
                .filter(|(k, _)| !k.is_empty())
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            default_network: default_net,
            bindings,
            private_address: u.address.clone(),
            public_address: u.public_address.clone(),
            unit_status: u.workload_status.clone(),
            app_status: self.app_status.clone().unwrap_or_default(),
            units_status: self
                .units
                .iter()
                .map(|x| (x.name.clone(), x.workload_status.clone()))
                .collect(),
            app_units: self.unit_names(),
            dying_units: self
                .units
                .iter()
                .filter(|x| x.dying)
                .map(|x| x.name.clone())
                .collect(),
            workload_version: self.workload_version.clone(),
            charm_state: u.charm_state.clone(),
            opened_ports: u.opened_ports.clone(),
            leader_settings: self.leader_settings.clone(),
            pending: Default::default(),
            effects: Default::default(),
            tool_calls: Vec::new(),
            // The call log starts empty per hook (the harness keeps the history) so
            // every tool call stays cheap however long the test runs.
            machine: Machine {
                calls: Vec::new(),
                ..u.machine.clone()
            },
            action: None,
        }
    }

    pub(crate) fn remote_app_env(&self, ctx: &super::model::HookRelation) -> String {
        ctx.remote_app
            .clone()
            .unwrap_or_else(|| self.relation(ctx.id).remote_app.clone())
    }

    /// The hook environment, from scratch, exactly the variables of docs/juju-contract.md J-2.
    pub fn hook_env(&self, unit: &str, hook: &Hook) -> BTreeMap<String, String> {
        let u = self.unit(unit);
        let mut env = BTreeMap::new();
        let mut set = |k: &str, v: String| {
            env.insert(k.to_string(), v);
        };
        let charm_dir = u.charm_dir.display().to_string();
        let tag = format!("unit-{}", unit.replace('/', "-"));
        set("JUJU_DISPATCH_PATH", format!("hooks/{}", hook.name));
        set("JUJU_HOOK_NAME", hook.name.clone());
        set("JUJU_UNIT_NAME", unit.into());
        set("JUJU_CHARM_DIR", charm_dir.clone());
        set("CHARM_DIR", charm_dir);
        // Opaque to the charm; unique per hook run like Juju's.
        let n = 7_349_430_268_617_352_851_u64.wrapping_add(self.history.len() as u64 * 1_000_003);
        set("JUJU_CONTEXT_ID", format!("{unit}-{}-{n}", hook.name));
        set(
            "JUJU_AGENT_SOCKET_ADDRESS",
            format!("@{}/agents/{tag}/agent.socket", self.dir.path().display()),
        );
        set("JUJU_AGENT_SOCKET_NETWORK", "unix".into());
        set("JUJU_MODEL_UUID", self.info.uuid.clone());
        set("JUJU_MODEL_NAME", self.info.name.clone());
        set("JUJU_API_ADDRESSES", self.info.api_addresses.clone());
        set("JUJU_MACHINE_ID", u.machine_id.clone());
        set(
            "JUJU_PRINCIPAL_UNIT",
            u.principal.clone().unwrap_or_default(),
        );
        set(
            "JUJU_AVAILABILITY_ZONE",
            self.info.availability_zone.clone(),
        );
        set("JUJU_VERSION", self.info.juju_version.clone());
        set("CLOUD_API_VERSION", String::new());
        for (name, value) in ["HTTP", "HTTPS", "FTP", "NO"]
            .iter()
            .zip(&self.info.charm_proxy)
        {
            set(&format!("JUJU_CHARM_{name}_PROXY"), value.clone());
        }
        for (name, value) in ["http", "https", "ftp", "no"]
            .iter()
            .zip(&self.info.legacy_proxy)
        {
            if !value.is_empty() {
                set(&format!("{name}_proxy"), value.clone());
                set(&format!("{}_PROXY", name.to_uppercase()), value.clone());
            }
        }
        if let Some(ctx) = &hook.relation {
            let rel = self.relation(ctx.id);
            set("JUJU_RELATION", rel.endpoint.clone());
            set("JUJU_RELATION_ID", rel.key());
            set("JUJU_REMOTE_APP", self.remote_app_env(ctx));
            // Always present in relation hooks, maybe empty.
            set(
                "JUJU_REMOTE_UNIT",
                ctx.remote_unit.clone().unwrap_or_default(),
            );
            if let Some(departing) = &ctx.departing_unit {
                set("JUJU_DEPARTING_UNIT", departing.clone());
            }
        }
        set("APT_LISTCHANGES_FRONTEND", "none".into());
        set("DEBIAN_FRONTEND", "noninteractive".into());
        set("LANG", "C.UTF-8".into());
        set("TERM", "tmux-256color".into());
        set(
            "PATH",
            format!("{}:/usr/sbin:/usr/bin:/sbin:/bin", u.tools_dir.display()),
        );
        set("KEEPALIVED_CHARM_ROOT", u.root.display().to_string());
        set(STATE_ENV, u.state_file.display().to_string());
        env
    }
}
