//! A faithful Juju emulator for tests: it runs the REAL `keepalived-charm` binary
//! through the repo's `dispatch`, hook by hook, as a Juju unit agent would (env built
//! from scratch, cwd = charm dir, hook tools on PATH), and models Juju after
//! ops-scenario's `State` — but model-wide, because a peer bag written by one unit is
//! remote data for the others. See docs/juju-contract.md J-20.
//!
//! ```ignore
//! let mut m = juju_emulator::Model::new();                     // app deployed, 0 units, cluster:0
//! m.config(&[("virtual_ip", "10.0.0.9/24")]).unwrap();   // before or after deploy
//! let runs = m.deploy(2).unwrap();                        // juju-info:1, install .. peer changed
//! assert!(runs.iter().all(|r| r.ok()));
//! assert_eq!(m.unit("keepalived/0").status().status, "active");
//! let rel = m.relation_by_endpoint("cluster").unwrap();
//! assert_eq!(rel.local_units_data["keepalived/1"]["private-address"], "192.0.2.11");
//! ```
//!
//! API at a glance:
//! * Drivers (each returns the `HookRun`s it caused, follow-ups included):
//!   `deploy(n)` (also scale-out), `deploy_with(n, prepare)` (machine set-up before
//!   the first hook), `integrate(endpoint, app, &units)`, `config(&[(k, v)])`,
//!   `config_reset`, `remote_data_change(id, Some(unit) | None, &[(k, v)])`,
//!   `set_leader`, `remove_relation(id)`, `remove_unit`, `change_address`,
//!   `update_status`, `upgrade_charm`, `retry(unit)`, `settle()`.
//! * Single hooks: `run(unit, "update-status")`, `run_hook(unit, Hook::relation(ep, id,
//!   RelEvent::Changed(Some(u))))`; `begin(unit, hook)` opens a [`Session`] whose
//!   `tool(name, args)` runs one hook tool and `finish(code)` commits or discards.
//! * Actions ([`actions`]): `run_action(unit, name, &[(k, json!(v))])` checks the
//!   params against `actions.yaml` (`set_actions_yaml(text)` to give one), runs
//!   `dispatch` with `JUJU_DISPATCH_PATH=actions/<name>` and returns an [`ActionRun`]
//!   (status, message, results, log, output); `action_history` keeps them.
//! * Observations: `history`/`hooks_of(unit)`; each [`HookRun`] has env, exit code,
//!   stdout/stderr, duration, `tool_calls` (+`tool_count`), `service_calls`.
//!   `unit(u)`: `status()`, `status_history`, `charm_state`, `opened_ports`, `juju_log`,
//!   `machine` (systemctl/sysctl state and call log), `root` (KEEPALIVED_CHARM_ROOT).
//!   `relation(id)`: the bags; `app_status()`, `leader_settings`, `workload_version`.
//! * Setup knobs: `info` (model name/uuid/JUJU_VERSION/proxies), `with_seed`,
//!   `use_script_charm(body)`, `set_charm_binary`, `set_unit_netns(unit, NetnsSpec)`
//!   (root), `fail_command(unit, "systemctl", &["restart"], 1, "msg", Some(1))`,
//!   `unit_mut(u).machine.sysctl / preinstalled_units`, `unit_mut(u).networks`,
//!   `hook_timeout`.
//! * Machines for real (root): `use_netns(unit, name, spec)` / `place_next_units` put
//!   units in namespaces that exist already (lab hosts on one bridge);
//!   `enable_live_services()` turns on the live systemd stand-in ([`services`]): each
//!   hook's systemctl calls start, reload and stop real processes from the unit files
//!   under the unit's root, in its namespace; `services(u)` has their lifetimes;
//!   `crash_machine(u)` / `reboot_machine(u)` kill everything / boot the enabled units
//!   and fire `start`; `upgrade_charm_unit(u)` with `set_unit_charm_binary` refreshes
//!   one unit; `juju_status()` renders what `juju status` shows.
#![allow(dead_code)]

pub mod actions;
pub mod check;
pub mod drivers;
pub mod meta;
pub mod model;
pub mod netns;
pub mod run;
pub mod services;
pub mod state;
pub mod status;
pub mod unitfile;
pub mod view;

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

/// The emulator's multi-call hook-tool binary (`src/bin/juju-hook-tool-emulator`).
pub const TOOL_BINARY: &str = "juju-hook-tool-emulator";

/// The charm directory the emulated units run: this workspace's root, which holds
/// `dispatch`, `hooks/`, `metadata.yaml` and `config.yaml`.
pub fn charm_dir() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// A binary of this workspace as cargo built it for the running test or bench: test
/// executables live in `target/<profile>/deps/`, binaries one level up. Panics with the
/// command to run when it has not been built (`make test` builds every binary first).
pub fn workspace_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("current_exe: {e}"));
    let profile_dir = exe
        .parent()
        .and_then(|deps| {
            if deps.ends_with("deps") {
                deps.parent()
            } else {
                Some(deps)
            }
        })
        .unwrap_or_else(|| panic!("{} has no parent directory", exe.display()));
    let path = profile_dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: build it first with `cargo build --workspace --bins` (make test does)",
        path.display()
    );
    path
}

#[allow(unused_imports)]
pub use actions::{ActionRun, ActionSpec, ActionStatus, ActionsSchema};
#[allow(unused_imports)]
pub use check::EmuError;
#[allow(unused_imports)]
pub use meta::{ConfigSchema, Metadata, OptionType, Role};
#[allow(unused_imports)]
pub use model::{
    address_bag, default_network, Hook, HookRelation, HookRun, ModelInfo, RelEvent, Relation,
    RelationKind, Rng, Unit,
};
#[allow(unused_imports)]
pub use netns::NetnsSpec;
#[allow(unused_imports)]
pub use run::{Session, ToolOutput};
#[allow(unused_imports)]
pub use services::LiveServices;
#[allow(unused_imports)]
pub use state::{ActionState, Bag, FailRule, HookState, Machine, Network, OpenedPort, Status};

/// Every hook tool the emulator binary answers as (plus the machine stand-ins).
/// The action-* tools are there in every hook, as in Juju; outside an action they
/// fail with "not running an action".
pub const TOOL_NAMES: [&str; 27] = [
    "config-get",
    "relation-ids",
    "relation-list",
    "relation-get",
    "relation-set",
    "is-leader",
    "status-set",
    "status-get",
    "state-get",
    "state-set",
    "state-delete",
    "juju-log",
    "network-get",
    "unit-get",
    "application-version-set",
    "open-port",
    "close-port",
    "opened-ports",
    "goal-state",
    "leader-get",
    "leader-set",
    "action-get",
    "action-set",
    "action-fail",
    "action-log",
    "systemctl",
    "sysctl",
];

pub struct Model {
    pub info: ModelInfo,
    /// The local application (`keepalived`).
    pub app: String,
    pub meta: Metadata,
    pub schema: ConfigSchema,
    /// Only the values the user set; defaults come from config.yaml at read time.
    pub config: BTreeMap<String, Value>,
    pub units: Vec<Unit>,
    /// Units whose `remove` hook succeeded (kept for assertions).
    pub removed_units: Vec<Unit>,
    pub relations: Vec<Relation>,
    pub leader: Option<String>,
    /// What the leader set with `status-set --application`.
    pub app_status: Option<Status>,
    pub app_status_history: Vec<Status>,
    pub workload_version: Option<String>,
    pub workload_version_history: Vec<String>,
    /// leader-set data (Juju 3.x, deprecated).
    pub leader_settings: Bag,
    /// Every hook run, in order.
    pub history: Vec<HookRun>,
    /// The charm's actions (from `actions.yaml`, or [`Model::set_actions_yaml`]).
    pub actions: ActionsSchema,
    /// The `actions.yaml` every charm dir links to, when not the repo's.
    pub actions_file: Option<PathBuf>,
    /// Every action run, in order (not in `history`, which holds hooks).
    pub action_history: Vec<ActionRun>,
    /// The last operation/task number handed out (Juju 3 counts both in one sequence).
    pub next_task_id: u64,
    /// Hooks waiting to run, in order (drivers and follow-up events append here).
    pub agenda: VecDeque<(String, Hook)>,
    pub rng: Rng,
    pub next_relation_id: u32,
    pub hook_timeout: Duration,
    /// What `bin/keepalived-charm` points at in every charm dir.
    pub charm_binary: PathBuf,
    /// The repo: source of dispatch, hooks/, metadata.yaml, config.yaml, templates/.
    pub repo: PathBuf,
    pub principal_app: String,
    /// Whether units get the live systemd stand-in ([`Model::enable_live_services`]).
    pub live_services: bool,
    /// Namespaces the next units [`Model::deploy`] creates join, in order.
    pub placements: VecDeque<(String, NetnsSpec)>,
    pub dir: tempfile::TempDir,
}

impl Model {
    /// A model with the `keepalived` app deployed (0 units, peer relations created),
    /// seed 0 for shuffles.
    pub fn new() -> Model {
        Model::with_seed(0)
    }

    pub fn with_seed(seed: u64) -> Model {
        let repo = charm_dir();
        let read = |name: &str| {
            std::fs::read_to_string(repo.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
        };
        let meta = Metadata::parse(&read("metadata.yaml")).unwrap_or_else(|e| panic!("{e}"));
        let schema = ConfigSchema::parse(&read("config.yaml")).unwrap_or_else(|e| panic!("{e}"));
        let mut model = Model {
            info: ModelInfo::default(),
            app: meta.name.clone(),
            meta,
            schema,
            config: BTreeMap::new(),
            units: Vec::new(),
            removed_units: Vec::new(),
            relations: Vec::new(),
            leader: None,
            app_status: None,
            app_status_history: Vec::new(),
            workload_version: None,
            workload_version_history: Vec::new(),
            leader_settings: Bag::new(),
            history: Vec::new(),
            actions: actions::read_repo_actions(&repo),
            actions_file: None,
            action_history: Vec::new(),
            next_task_id: 0,
            agenda: VecDeque::new(),
            rng: Rng(seed),
            next_relation_id: 0,
            hook_timeout: Duration::from_secs(60),
            charm_binary: workspace_binary("keepalived-charm"),
            repo,
            principal_app: "kubeapi-load-balancer".into(),
            live_services: false,
            placements: VecDeque::new(),
            dir: tempfile::Builder::new()
                .prefix("juju-emulator-")
                .tempdir()
                .expect("temp dir"),
        };
        // Peer relations exist as soon as the application does.
        let peers: Vec<(String, String)> = model
            .meta
            .peer_endpoints()
            .map(|e| (e.name.clone(), e.interface.clone()))
            .collect();
        for (endpoint, interface) in peers {
            let app = model.app.clone();
            model.add_relation(&endpoint, &interface, RelationKind::Peer, &app);
        }
        model
    }

    // ------------------------------------------------------------ lookups

    pub fn unit(&self, name: &str) -> &Unit {
        self.units
            .iter()
            .chain(self.removed_units.iter())
            .find(|u| u.name == name)
            .unwrap_or_else(|| panic!("no unit {name}"))
    }

    pub fn unit_mut(&mut self, name: &str) -> &mut Unit {
        self.units
            .iter_mut()
            .find(|u| u.name == name)
            .unwrap_or_else(|| panic!("no live unit {name}"))
    }

    pub fn unit_names(&self) -> Vec<String> {
        self.units.iter().map(|u| u.name.clone()).collect()
    }

    pub fn relation(&self, id: u32) -> &Relation {
        self.relations
            .iter()
            .find(|r| r.id == id)
            .unwrap_or_else(|| panic!("no relation {id}"))
    }

    pub fn relation_mut(&mut self, id: u32) -> &mut Relation {
        self.relations
            .iter_mut()
            .find(|r| r.id == id)
            .unwrap_or_else(|| panic!("no relation {id}"))
    }

    /// The first relation on `endpoint`, if any.
    pub fn relation_by_endpoint(&self, endpoint: &str) -> Option<&Relation> {
        self.relations.iter().find(|r| r.endpoint == endpoint)
    }

    pub fn is_leader(&self, unit: &str) -> bool {
        self.leader.as_deref() == Some(unit)
    }

    /// Effective config: user values over config.yaml defaults; `null` when neither.
    pub fn effective_config(&self) -> BTreeMap<String, Value> {
        self.schema
            .options
            .iter()
            .map(|(k, opt)| {
                let v = self
                    .config
                    .get(k)
                    .cloned()
                    .or_else(|| opt.default.clone())
                    .unwrap_or(Value::Null);
                (k.clone(), v)
            })
            .collect()
    }

    /// The application status `juju status` shows: what the leader set, else the
    /// highest-priority unit status (error > blocked > maintenance > waiting > active).
    pub fn app_status(&self) -> Status {
        if let Some(s) = &self.app_status {
            return s.clone();
        }
        let rank = |s: &str| match s {
            "error" => 5,
            "blocked" => 4,
            "maintenance" => 3,
            "waiting" => 2,
            "active" => 1,
            _ => 0,
        };
        self.units
            .iter()
            .map(Unit::status)
            .max_by_key(|s| rank(&s.status))
            .unwrap_or_default()
    }

    /// Hook names run on `unit`, in order.
    pub fn hooks_of(&self, unit: &str) -> Vec<String> {
        self.history
            .iter()
            .filter(|r| r.unit == unit)
            .map(|r| r.hook.name.clone())
            .collect()
    }

    // ------------------------------------------------------------ building

    /// Adds a relation to the model (no hooks) and returns its id. Ids come from one
    /// model-wide counter starting at 0, as Juju's do.
    pub fn add_relation(
        &mut self,
        endpoint: &str,
        interface: &str,
        kind: RelationKind,
        remote_app: &str,
    ) -> u32 {
        let id = self.next_relation_id;
        self.next_relation_id += 1;
        let local_units_data = self
            .units
            .iter()
            .map(|u| (u.name.clone(), address_bag(&u.address)))
            .collect();
        self.relations.push(Relation {
            id,
            endpoint: endpoint.into(),
            interface: interface.into(),
            kind,
            remote_app: remote_app.into(),
            local_app_data: Bag::new(),
            local_units_data,
            remote_app_data: Bag::new(),
            remote_units_data: BTreeMap::new(),
            members: BTreeMap::new(),
            broken: Vec::new(),
        });
        id
    }

    /// Adds `keepalived/N` on the machine of `principal` (no hooks): charm dir, tools
    /// dir, machine root, and its address bag in every existing relation.
    pub fn add_unit(&mut self, principal: &str, address: &str) -> String {
        let n = self
            .units
            .iter()
            .chain(self.removed_units.iter())
            .map(|u| u.number() + 1)
            .max()
            .unwrap_or(0);
        let name = format!("{}/{n}", self.app);
        let tag = format!("unit-{}-{n}", self.app);
        let base = self.dir.path().join("agents").join(&tag);
        let charm_dir = base.join("charm");
        let tools_dir = self.dir.path().join("tools").join(&tag);
        let root = base.join("root");
        for dir in [&charm_dir, &tools_dir, &root, &charm_dir.join("bin")] {
            std::fs::create_dir_all(dir).expect("create unit dirs");
        }
        for entry in [
            "dispatch",
            "hooks",
            "metadata.yaml",
            "config.yaml",
            "actions.yaml",
            "templates",
        ] {
            let src = match (&self.actions_file, entry) {
                (Some(file), "actions.yaml") => file.clone(),
                _ => self.repo.join(entry),
            };
            if src.exists() {
                symlink(&src, &charm_dir.join(entry));
            }
        }
        symlink(&self.charm_binary, &charm_dir.join("bin/keepalived-charm"));
        let tool = workspace_binary(TOOL_BINARY);
        for t in TOOL_NAMES {
            symlink(&tool, &tools_dir.join(t));
        }
        let machine_id = principal
            .rsplit_once('/')
            .map(|(_, n)| n.to_string())
            .unwrap_or_else(|| "0".into());
        let machine = Machine {
            root: root.display().to_string(),
            ..Machine::default()
        };
        for rel in &mut self.relations {
            rel.local_units_data
                .insert(name.clone(), address_bag(address));
        }
        self.units.push(Unit {
            name: name.clone(),
            principal: Some(principal.to_string()),
            machine_id,
            address: address.into(),
            public_address: None,
            networks: BTreeMap::new(),
            workload_status: Status::default(),
            status_history: Vec::new(),
            failed: None,
            backlog: VecDeque::new(),
            charm_state: Bag::new(),
            opened_ports: Vec::new(),
            juju_log: Vec::new(),
            machine,
            dying: false,
            lost: false,
            netns: None,
            services: self
                .live_services
                .then(|| LiveServices::new(&root, &base.join("journal"))),
            state_file: base.join("hook-state.json"),
            charm_dir,
            tools_dir,
            root,
        });
        name
    }

    /// Points `bin/keepalived-charm` of every unit (and of units added later) at
    /// another executable, e.g. a script that dumps its env.
    pub fn set_charm_binary(&mut self, path: &Path) {
        self.charm_binary = path.to_path_buf();
        for unit in &self.units {
            let link = unit.charm_dir.join("bin/keepalived-charm");
            let _ = std::fs::remove_file(&link);
            symlink(path, &link);
        }
    }

    /// Points one unit's `bin/keepalived-charm` at `path`: that unit got a new charm
    /// (a refresh reaching the units one at a time) while the others keep theirs.
    pub fn set_unit_charm_binary(&mut self, unit: &str, path: &Path) {
        let link = self.unit(unit).charm_dir.join("bin/keepalived-charm");
        let _ = std::fs::remove_file(&link);
        symlink(path, &link);
    }

    /// Replaces the charm binary by a `/bin/sh` script with `body` (for tests of the
    /// emulator itself, or to record what a hook sees). Returns the script path.
    pub fn use_script_charm(&mut self, body: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let n = std::fs::read_dir(self.dir.path())
            .map(|d| d.count())
            .unwrap_or(0);
        let path = self.dir.path().join(format!("script-charm-{n}"));
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("write script charm");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
            .expect("chmod script charm");
        self.set_charm_binary(&path);
        path
    }

    /// Runs the unit's hooks inside a fresh network namespace (needs root): loopback
    /// plus one dummy interface; the unit's address and networks follow the spec.
    pub fn set_unit_netns(&mut self, unit: &str, spec: NetnsSpec) -> Result<(), EmuError> {
        let ns = netns::Netns::create(spec).map_err(EmuError::Setup)?;
        self.attach_netns(unit, ns);
        Ok(())
    }

    /// Runs the unit's hooks (and its live services) inside namespace `name`, which
    /// already exists and is not the emulator's to delete: e.g. a lab host on a shared
    /// bridge. `spec` says which interface carries which address there.
    pub fn use_netns(&mut self, unit: &str, name: &str, spec: NetnsSpec) -> Result<(), EmuError> {
        let ns = netns::Netns::existing(name, spec).map_err(EmuError::Setup)?;
        self.attach_netns(unit, ns);
        Ok(())
    }

    /// The next units [`Model::deploy`] creates join these existing namespaces, one
    /// each, before their first hook (their principal's machine is that host).
    pub fn place_next_units(&mut self, hosts: &[(String, NetnsSpec)]) {
        self.placements.extend(hosts.iter().cloned());
    }

    /// Gives every unit, now and later, the live systemd stand-in
    /// ([`services::LiveServices`]): after each hook its service calls are applied to
    /// real processes in the unit's network namespace.
    pub fn enable_live_services(&mut self) {
        self.live_services = true;
        for u in &mut self.units {
            if u.services.is_none() {
                let journal = u.root.with_file_name("journal");
                u.services = Some(LiveServices::new(&u.root, &journal));
            }
        }
    }

    /// The unit's live services (panics unless enabled).
    pub fn services(&mut self, unit: &str) -> &mut LiveServices {
        self.units
            .iter_mut()
            .chain(self.removed_units.iter_mut())
            .find(|u| u.name == unit)
            .and_then(|u| u.services.as_mut())
            .unwrap_or_else(|| panic!("{unit} has no live services (enable_live_services)"))
    }

    /// The unit's machine loses power: its services are SIGKILLed, no hook runs.
    /// (Taking its network away is the caller's part, e.g. unplugging a lab host.)
    pub fn crash_machine(&mut self, unit: &str) {
        self.services(unit).crash();
        self.unit_mut(unit).lost = true;
    }

    /// The unit's machine boots again: systemd starts the enabled services, then Juju
    /// fires `start` (its reboot resolver, docs/juju-contract.md J-4).
    pub fn reboot_machine(&mut self, unit: &str) -> Result<Vec<HookRun>, EmuError> {
        let enabled = self.unit(unit).machine.enabled.clone();
        let netns = self.unit(unit).netns.as_ref().map(|n| n.name.clone());
        self.services(unit).boot(netns.as_deref(), &enabled);
        let u = self.unit_mut(unit);
        u.lost = false;
        let waiting: Vec<Hook> = u.backlog.drain(..).collect();
        self.enqueue(unit, Hook::new("start"));
        for hook in waiting {
            self.enqueue(unit, hook);
        }
        self.settle()
    }

    fn attach_netns(&mut self, unit: &str, ns: netns::Netns) {
        let host = ns.spec.host().to_string();
        let iface = ns.spec.interface.clone();
        let prefix: u8 = ns
            .spec
            .address
            .split_once('/')
            .and_then(|(_, p)| p.parse().ok())
            .unwrap_or(32);
        let u = self.unit_mut(unit);
        u.netns = Some(ns);
        self.set_unit_address(unit, &host);
        let u = self.unit_mut(unit);
        let mut net = default_network(&host);
        net.bind_addresses[0].interface_name = iface;
        net.bind_addresses[0].addresses[0].cidr = cidr_of(&host, prefix);
        u.networks.insert(String::new(), net);
    }

    /// Changes a unit's address: its default network and its address keys in every
    /// relation bag (as Juju does when it updates network info).
    pub fn set_unit_address(&mut self, unit: &str, address: &str) {
        self.unit_mut(unit).address = address.to_string();
        for rel in &mut self.relations {
            if let Some(bag) = rel.local_units_data.get_mut(unit) {
                bag.extend(address_bag(address));
            }
        }
    }

    /// Makes a machine command fail (see [`FailRule`]), e.g.
    /// `fail_command("keepalived/0", "systemctl", &["restart"], 1, "boom", None)`.
    pub fn fail_command(
        &mut self,
        unit: &str,
        program: &str,
        args: &[&str],
        exit_code: i32,
        stderr: &str,
        times: Option<u32>,
    ) {
        self.unit_mut(unit).machine.failures.push(FailRule {
            program: program.into(),
            args: args.iter().map(|s| s.to_string()).collect(),
            exit_code,
            stderr: stderr.into(),
            remaining: times,
        });
    }

    /// Sets a user config value from its CLI text (`juju config app k=v` semantics,
    /// typed per config.yaml) without running hooks.
    pub fn set_config_value(&mut self, key: &str, text: &str) -> Result<(), EmuError> {
        let opt = self
            .schema
            .options
            .get(key)
            .ok_or_else(|| EmuError::Config(format!("unknown option {key:?}")))?;
        let value = opt.kind.parse_cli(key, text).map_err(EmuError::Config)?;
        self.config.insert(key.to_string(), value);
        Ok(())
    }
}

impl Default for Model {
    fn default() -> Self {
        Model::new()
    }
}

fn cidr_of(host: &str, prefix: u8) -> String {
    match host.parse::<std::net::Ipv4Addr>() {
        Ok(ip) => {
            let mask = if prefix == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(prefix.min(32)))
            };
            let net = std::net::Ipv4Addr::from(u32::from(ip) & mask);
            format!("{net}/{prefix}")
        }
        Err(_) => format!("{host}/{prefix}"),
    }
}

fn symlink(src: &Path, dst: &Path) {
    std::os::unix::fs::symlink(src, dst)
        .unwrap_or_else(|e| panic!("symlink {} -> {}: {e}", dst.display(), src.display()));
}
