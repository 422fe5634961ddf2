//! The model-wide state, after ops-scenario's `State` but for every unit at once: a
//! peer relation's bag written by keepalived/0 is remote data for keepalived/1.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::time::Duration;

use super::netns::Netns;
use super::services::LiveServices;
use super::state::{Bag, LogLine, Machine, Network, OpenedPort, ServiceCall, Status, ToolCall};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelationKind {
    /// A global-scope relation with a remote application.
    Regular,
    /// A container-scoped relation: each local unit sees exactly one remote unit, its
    /// principal.
    Subordinate,
    Peer,
}

impl RelationKind {
    pub fn name(self) -> &'static str {
        match self {
            RelationKind::Regular => "regular",
            RelationKind::Subordinate => "subordinate",
            RelationKind::Peer => "peer",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Relation {
    pub id: u32,
    pub endpoint: String,
    pub interface: String,
    pub kind: RelationKind,
    /// The other application (the local one for a peer relation).
    pub remote_app: String,
    pub local_app_data: Bag,
    /// Each local unit's own bag (for a peer relation these are also the peers' data).
    pub local_units_data: BTreeMap<String, Bag>,
    pub remote_app_data: Bag,
    pub remote_units_data: BTreeMap<String, Bag>,
    /// Local unit -> remote units in scope for it (relation-list), in join order.
    pub members: BTreeMap<String, Vec<String>>,
    /// Local units that have run -broken; the relation goes when all have.
    pub broken: Vec<String>,
}

impl Relation {
    pub fn key(&self) -> String {
        format!("{}:{}", self.endpoint, self.id)
    }

    pub fn members_of(&self, unit: &str) -> &[String] {
        self.members
            .get(unit)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// A unit's bag as the other side reads it.
    pub fn unit_data(&self, unit: &str) -> Option<&Bag> {
        self.local_units_data
            .get(unit)
            .or_else(|| self.remote_units_data.get(unit))
    }
}

/// The three keys Juju writes into every unit's bag when it enters scope.
pub fn address_bag(address: &str) -> Bag {
    Bag::from([
        ("egress-subnets".to_string(), format!("{address}/32")),
        ("ingress-address".to_string(), address.to_string()),
        ("private-address".to_string(), address.to_string()),
    ])
}

/// A default network for a unit at `address` (one bind address on eth0).
pub fn default_network(address: &str) -> Network {
    use super::state::{BindAddress, InterfaceAddress};
    let octets: Vec<&str> = address.split('.').collect();
    let cidr = if octets.len() == 4 {
        format!("{}.{}.{}.0/24", octets[0], octets[1], octets[2])
    } else {
        String::new()
    };
    Network {
        bind_addresses: vec![BindAddress {
            mac_address: String::new(),
            interface_name: "eth0".into(),
            addresses: vec![InterfaceAddress {
                hostname: String::new(),
                value: address.to_string(),
                cidr,
            }],
        }],
        ingress_addresses: vec![address.to_string()],
        egress_subnets: vec![format!("{address}/32")],
    }
}

#[derive(Debug)]
pub struct Unit {
    pub name: String,
    /// The principal unit on the same machine (`kubeapi-load-balancer/0`).
    pub principal: Option<String>,
    pub machine_id: String,
    pub address: String,
    pub public_address: Option<String>,
    /// Per-binding network info; bindings not listed use `default_network(address)`.
    pub networks: BTreeMap<String, Network>,
    /// The status the charm set (what `juju status` shows unless the unit is in error).
    pub workload_status: Status,
    /// Every status the unit went through, including Juju's `error`.
    pub status_history: Vec<Status>,
    /// The hook that failed; no other hook runs on this unit until a retry succeeds.
    pub failed: Option<Hook>,
    /// Hooks that arrived while the unit was in error, in order.
    pub backlog: VecDeque<Hook>,
    pub charm_state: Bag,
    pub opened_ports: Vec<OpenedPort>,
    pub juju_log: Vec<LogLine>,
    /// The systemctl/sysctl stand-in machine (service-call log included).
    pub machine: Machine,
    pub dying: bool,
    /// The machine is down ([`super::Model::crash_machine`]): its agent runs no hooks
    /// (they wait in `backlog`) and `juju status` shows it lost.
    pub lost: bool,
    pub netns: Option<Netns>,
    /// The live systemd stand-in, when the model enabled it.
    pub services: Option<LiveServices>,
    pub charm_dir: PathBuf,
    pub tools_dir: PathBuf,
    pub root: PathBuf,
    pub state_file: PathBuf,
}

impl Unit {
    /// The status `juju status` shows: `error` while a hook is failed, else the
    /// charm's workload status.
    pub fn status(&self) -> Status {
        match &self.failed {
            Some(hook) => failed_status(&hook.name),
            None => self.workload_status.clone(),
        }
    }

    pub fn number(&self) -> u32 {
        self.name
            .rsplit_once('/')
            .and_then(|(_, n)| n.parse().ok())
            .unwrap_or(0)
    }
}

pub fn failed_status(hook: &str) -> Status {
    Status::new("error", &format!("hook failed: \"{hook}\""))
}

/// One relation hook's relation context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookRelation {
    pub id: u32,
    /// JUJU_REMOTE_UNIT: `None` is the empty value (created, broken, app-level changed).
    pub remote_unit: Option<String>,
    /// JUJU_DEPARTING_UNIT (departed only).
    pub departing_unit: Option<String>,
    /// Overrides JUJU_REMOTE_APP (e.g. `Some("")` for LP#1960934 in -broken).
    pub remote_app: Option<String>,
}

/// A hook to run: its name and, for relation hooks, the relation context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hook {
    pub name: String,
    pub relation: Option<HookRelation>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RelEvent {
    Created,
    Joined(String),
    /// A remote unit's data changed (`Some`), or the remote app's (`None`).
    Changed(Option<String>),
    /// `remote` left; `departing` is the unit that is leaving (remote, or this unit).
    Departed {
        remote: String,
        departing: String,
    },
    Broken,
}

impl Hook {
    pub fn new(name: &str) -> Hook {
        Hook {
            name: name.to_string(),
            relation: None,
        }
    }

    pub fn relation(endpoint: &str, id: u32, event: RelEvent) -> Hook {
        let (kind, remote_unit, departing_unit) = match event {
            RelEvent::Created => ("created", None, None),
            RelEvent::Joined(u) => ("joined", Some(u), None),
            RelEvent::Changed(u) => ("changed", u, None),
            RelEvent::Departed { remote, departing } => ("departed", Some(remote), Some(departing)),
            RelEvent::Broken => ("broken", None, None),
        };
        Hook {
            name: format!("{endpoint}-relation-{kind}"),
            relation: Some(HookRelation {
                id,
                remote_unit,
                departing_unit,
                remote_app: None,
            }),
        }
    }

    /// The `-relation-<kind>` suffix, if this is a relation hook.
    pub fn relation_kind(&self) -> Option<&str> {
        ["created", "joined", "changed", "departed", "broken"]
            .into_iter()
            .find(|k| self.name.ends_with(&format!("-relation-{k}")))
    }
}

/// What one hook run did: everything a test may want to assert on.
#[derive(Debug, Clone)]
pub struct HookRun {
    pub unit: String,
    pub hook: Hook,
    /// The exact environment the hook process was started with.
    pub env: BTreeMap<String, String>,
    /// `None` if the process was killed (timeout) or died from a signal.
    pub exit_code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// Wall time of the hook process.
    pub duration: Duration,
    pub tool_calls: Vec<ToolCall>,
    pub service_calls: Vec<ServiceCall>,
    pub timed_out: bool,
}

impl HookRun {
    pub fn ok(&self) -> bool {
        self.exit_code == Some(0)
    }

    /// How many times the hook called tool `name`.
    pub fn tool_count(&self, name: &str) -> usize {
        self.tool_calls.iter().filter(|c| c.name == name).count()
    }
}

/// Model-level settings of the Juju deployment the hooks see in their env.
#[derive(Debug, Clone)]
pub struct ModelInfo {
    pub name: String,
    pub uuid: String,
    pub juju_version: String,
    pub availability_zone: String,
    /// JUJU_CHARM_{HTTP,HTTPS,FTP,NO}_PROXY.
    pub charm_proxy: [String; 4],
    /// Legacy proxy settings (http_proxy, https_proxy, ftp_proxy, no_proxy), set in the
    /// env in lower and upper case only when non-empty.
    pub legacy_proxy: [String; 4],
    pub api_addresses: String,
}

impl Default for ModelInfo {
    fn default() -> Self {
        ModelInfo {
            name: "test-model".into(),
            uuid: "6fb1c3a3-5a0d-4a3e-8f5e-2d7c1c0e9b11".into(),
            juju_version: "3.6.8".into(),
            availability_zone: String::new(),
            charm_proxy: Default::default(),
            legacy_proxy: Default::default(),
            api_addresses: "192.0.2.1:17070".into(),
        }
    }
}

/// splitmix64: a tiny seeded generator for shuffles and context ids (no crate needed).
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = (self.next_u64() % (i as u64 + 1)) as usize;
            items.swap(i, j);
        }
    }
}
