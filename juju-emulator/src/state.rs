//! The per-hook state file shared by the harness (writes it before the hook, reads it
//! back after) and the hook-tool binary (reads and updates it on every call).
//!
//! It is one unit's *view* of the model during one hook: what that unit may read, the
//! changes it buffered (`pending`, committed by the harness only on exit 0) and the
//! changes that take effect at once (status, logs, version, leader settings, machine).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// Env var naming the state file. Private to the emulator: real Juju has no such thing.
pub const STATE_ENV: &str = "JUJU_EMULATOR_STATE";

/// A relation databag: string keys to string values.
pub type Bag = BTreeMap<String, String>;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct HookState {
    pub unit: String,
    pub app: String,
    pub leader: bool,
    pub juju_version: String,
    pub hook: String,
    /// The hook's own relation (relation hooks only).
    pub relation_id: Option<u32>,
    pub remote_unit: Option<String>,
    pub remote_app: Option<String>,
    /// The charm dir (cwd of the hook): relative `--file` paths resolve against it.
    pub charm_dir: String,
    /// Effective config: user-set values, else defaults; `null` for an option that has
    /// neither (config-get omits those unless `--all`).
    pub config: BTreeMap<String, serde_json::Value>,
    pub relations: Vec<RelationView>,
    /// Binding name -> network info; bindings not listed use `default_network`.
    pub networks: BTreeMap<String, Network>,
    pub default_network: Network,
    /// Names network-get accepts: every endpoint, extra-bindings, and `juju-info`.
    pub bindings: BTreeSet<String>,
    pub private_address: String,
    pub public_address: Option<String>,
    pub unit_status: Status,
    pub app_status: Status,
    /// Workload status of every unit of the app (status-get --application).
    pub units_status: BTreeMap<String, Status>,
    pub app_units: Vec<String>,
    /// Units of the app whose life is dying (`goal-state` shows them `dying`).
    #[serde(default)]
    pub dying_units: Vec<String>,
    pub workload_version: Option<String>,
    pub charm_state: Bag,
    pub opened_ports: Vec<OpenedPort>,
    pub leader_settings: Bag,
    pub pending: Pending,
    pub effects: Effects,
    pub tool_calls: Vec<ToolCall>,
    pub machine: Machine,
    /// The running action, when this context is an action rather than a hook; the
    /// action-* tools answer "not running an action" without it.
    #[serde(default)]
    pub action: Option<ActionState>,
}

/// What an action's context holds for the action-* tools: the parameters (defaults
/// filled in) and what the charm reported so far.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ActionState {
    pub name: String,
    /// The validated parameters, a JSON object.
    pub params: serde_json::Map<String, serde_json::Value>,
    /// The results map action-set builds (nested maps of strings).
    pub results: serde_json::Map<String, serde_json::Value>,
    /// Set by action-fail.
    pub failed: bool,
    /// action-fail's message.
    pub message: String,
    /// action-log messages, in order.
    pub log: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct RelationView {
    pub id: u32,
    pub endpoint: String,
    pub interface: String,
    /// `regular`, `subordinate` or `peer`.
    pub kind: String,
    pub remote_app: String,
    pub local_app_data: Bag,
    pub local_unit_data: Bag,
    pub remote_app_data: Bag,
    /// Every remote unit whose settings this unit may read (peers: the other units).
    pub remote_units_data: BTreeMap<String, Bag>,
    /// Remote units in scope for this unit (relation-list), in join order.
    pub members: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Network {
    pub bind_addresses: Vec<BindAddress>,
    pub ingress_addresses: Vec<String>,
    pub egress_subnets: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct BindAddress {
    pub mac_address: String,
    pub interface_name: String,
    pub addresses: Vec<InterfaceAddress>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct InterfaceAddress {
    pub hostname: String,
    pub value: String,
    pub cidr: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Status {
    pub status: String,
    pub message: String,
}

impl Default for Status {
    fn default() -> Self {
        Status {
            status: "unknown".into(),
            message: String::new(),
        }
    }
}

impl Status {
    pub fn new(status: &str, message: &str) -> Status {
        Status {
            status: status.into(),
            message: message.into(),
        }
    }
}

/// A port range as Juju keeps it, e.g. `80/tcp`, `1000-2000/udp`, `icmp`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct OpenedPort {
    pub range: String,
    /// Endpoints the port is opened for; empty means all (`*`).
    pub endpoints: Vec<String>,
}

/// Changes buffered during the hook, applied by the harness only when it exits 0.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Pending {
    /// relation id -> key -> value; `""` deletes the key (Juju's own encoding).
    pub relation_unit: BTreeMap<u32, Bag>,
    pub relation_app: BTreeMap<u32, Bag>,
    /// key -> Some(value) set, None deleted.
    pub charm_state: BTreeMap<String, Option<String>>,
    pub port_ops: Vec<PortOp>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PortOp {
    pub open: bool,
    pub port: OpenedPort,
}

/// Changes that took effect at once, whatever the exit code (the harness applies them).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Effects {
    pub unit_status: Vec<Status>,
    pub app_status: Vec<Status>,
    pub workload_version: Vec<String>,
    pub juju_log: Vec<LogLine>,
    /// True when leader-set changed the leader settings in this hook.
    pub leader_settings_changed: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LogLine {
    pub level: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ToolCall {
    pub name: String,
    pub args: Vec<String>,
    pub exit_code: i32,
}

/// The stand-in machine behind `systemctl` and `sysctl` (systemd cannot be PID 1 in the
/// test container). Persistent per unit across hooks.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Machine {
    /// Root under which the charm writes every machine path (KEEPALIVED_CHARM_ROOT).
    pub root: String,
    /// Units that exist without a unit file under `root` (e.g. from distro packages).
    pub preinstalled_units: BTreeSet<String>,
    pub active: BTreeSet<String>,
    pub enabled: BTreeSet<String>,
    pub masked: BTreeSet<String>,
    /// Unit -> unit-file text systemd has loaded (for the daemon-reload warning).
    pub loaded: BTreeMap<String, String>,
    pub daemon_reloads: u32,
    pub sysctl: Bag,
    pub calls: Vec<ServiceCall>,
    pub failures: Vec<FailRule>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ServiceCall {
    pub hook: String,
    /// argv including the program name (`systemctl` / `sysctl`).
    pub argv: Vec<String>,
    pub exit_code: i32,
}

/// Makes a machine command fail: it matches when `program` is argv[0]'s name and `args`
/// is a subsequence of the rest of argv. `remaining` counts down; `None` = forever.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FailRule {
    pub program: String,
    pub args: Vec<String>,
    pub exit_code: i32,
    pub stderr: String,
    pub remaining: Option<u32>,
}
