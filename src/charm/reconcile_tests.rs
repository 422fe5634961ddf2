//! Reconcile tests: every hook kind against an in-process fake of the hook tools, a
//! recording fake service manager and a fake sysctl, with the machine paths under a
//! temporary root.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::PathBuf;

use serde_json::{json, Map, Value};

use super::*;
use crate::charm::hook::{Hook, HookContext};
use crate::charm::hooktools::{Status, StatusKind};
use crate::charm::iface::tests::snapshot;
use crate::charm::paths::Paths;
use crate::charm::service::ServiceError;
use crate::charm::sysctl::SysctlError;
use crate::charm::timing::OFFERED;

// ---------------------------------------------------------------- fakes

#[derive(Debug, Default, Clone)]
struct FakeRelation {
    local: Bag,
    remote: BTreeMap<String, Bag>,
}

/// The hook tools, answering from an in-memory model. Every call is recorded.
#[derive(Debug, Default)]
struct FakeJuju {
    unit: String,
    config: Map<String, Value>,
    state: Bag,
    relations: BTreeMap<RelationId, FakeRelation>,
    status: Option<Status>,
    /// `is-leader` answers this; `status-set --application` sets `app_status`.
    leader: bool,
    app_status: Option<Status>,
    /// Every status ever set, across hooks.
    statuses: Vec<Status>,
    calls: Vec<String>,
    logs: Vec<String>,
    /// The calls and log lines of the hooks before the last one.
    history: Vec<String>,
    /// The running action's parameters, results (action-set) and failure message.
    action_params: Map<String, Value>,
    action_results: Vec<(String, String)>,
    action_failed: Option<String>,
    /// Units of the application `goal-state` lists besides this one and its peers.
    app_units: Vec<String>,
}

impl FakeJuju {
    fn relation(&mut self, rid: &RelationId) -> Result<&mut FakeRelation, ToolError> {
        self.relations
            .get_mut(rid)
            .ok_or_else(|| ToolError::RelationNotFound {
                tool: "fake",
                relation: rid.to_string(),
                stderr: "ERROR relation not found".into(),
            })
    }
}

impl HookTools for FakeJuju {
    /// Like Juju: this unit, every peer in the peer relation, and `app_units` (units
    /// of the application that never joined it, e.g. still on the original charm).
    fn goal_state_units(&mut self) -> Result<Vec<(String, String)>, ToolError> {
        self.calls.push("goal-state".into());
        let mut units: BTreeSet<String> = self.app_units.iter().cloned().collect();
        units.insert(self.unit.clone());
        for (rid, rel) in &self.relations {
            if rid.endpoint == "cluster" {
                units.extend(rel.remote.keys().cloned());
            }
        }
        Ok(units.into_iter().map(|u| (u, "active".into())).collect())
    }

    fn config_get(&mut self) -> Result<Map<String, Value>, ToolError> {
        self.calls.push("config-get".into());
        Ok(self.config.clone())
    }

    fn relation_ids(&mut self, endpoint: &str) -> Result<Vec<RelationId>, ToolError> {
        self.calls.push(format!("relation-ids {endpoint}"));
        Ok(self
            .relations
            .keys()
            .filter(|r| r.endpoint == endpoint)
            .cloned()
            .collect())
    }

    fn relation_list(&mut self, relation: &RelationId) -> Result<Vec<String>, ToolError> {
        self.calls.push(format!("relation-list {relation}"));
        Ok(self.relation(relation)?.remote.keys().cloned().collect())
    }

    fn relation_get(&mut self, relation: &RelationId, unit: &str) -> Result<Bag, ToolError> {
        self.calls.push(format!("relation-get {relation} {unit}"));
        let me = self.unit.clone();
        let rel = self.relation(relation)?;
        if unit == me {
            return Ok(rel.local.clone());
        }
        Ok(rel.remote.get(unit).cloned().unwrap_or_default())
    }

    fn relation_set(&mut self, relation: &RelationId, data: &Bag) -> Result<(), ToolError> {
        self.calls.push(format!(
            "relation-set {relation} {}",
            serde_json::to_string(data).unwrap()
        ));
        let rel = self.relation(relation)?;
        for (k, v) in data {
            if v.is_empty() {
                rel.local.remove(k);
            } else {
                rel.local.insert(k.clone(), v.clone());
            }
        }
        Ok(())
    }

    fn state_get(&mut self) -> Result<Bag, ToolError> {
        self.calls.push("state-get".into());
        Ok(self.state.clone())
    }

    fn state_set(&mut self, data: &Bag) -> Result<(), ToolError> {
        self.calls.push("state-set".into());
        self.state.extend(data.clone());
        Ok(())
    }

    fn status_set(&mut self, status: &Status) -> Result<(), ToolError> {
        self.calls.push("status-set".into());
        self.status = Some(status.clone());
        self.statuses.push(status.clone());
        Ok(())
    }

    fn is_leader(&mut self) -> Result<bool, ToolError> {
        self.calls.push("is-leader".into());
        Ok(self.leader)
    }

    fn application_status_set(&mut self, status: &Status) -> Result<(), ToolError> {
        self.calls.push("status-set --application".into());
        self.app_status = Some(status.clone());
        Ok(())
    }

    fn juju_log(&mut self, level: LogLevel, message: &str) -> Result<(), ToolError> {
        self.calls.push("juju-log".into());
        self.logs.push(format!("{} {message}", level.as_str()));
        Ok(())
    }

    fn action_get(&mut self) -> Result<Map<String, Value>, ToolError> {
        self.calls.push("action-get".into());
        Ok(self.action_params.clone())
    }

    fn action_set(&mut self, results: &[(String, String)]) -> Result<(), ToolError> {
        self.calls.push("action-set".into());
        self.action_results.extend(results.iter().cloned());
        Ok(())
    }

    fn action_fail(&mut self, message: &str) -> Result<(), ToolError> {
        self.calls.push("action-fail".into());
        self.action_failed = Some(message.to_string());
        Ok(())
    }
}

#[derive(Debug, Default)]
struct FakeService {
    calls: Vec<String>,
    active: BTreeSet<String>,
}

impl ServiceManager for FakeService {
    fn call(&mut self, verb: Verb, unit: &str) -> Result<(), ServiceError> {
        match verb {
            Verb::DaemonReload => self.calls.push("daemon-reload".into()),
            _ => self.calls.push(format!("{verb} {unit}")),
        }
        match verb {
            Verb::Start | Verb::Restart => {
                self.active.insert(unit.to_string());
            }
            Verb::Stop => {
                self.active.remove(unit);
            }
            _ => {}
        }
        Ok(())
    }

    fn is_active(&mut self, unit: &str) -> Result<bool, ServiceError> {
        self.calls.push(format!("is-active {unit}"));
        Ok(self.active.contains(unit))
    }
}

#[derive(Debug)]
struct FakeSysctl {
    values: BTreeMap<String, String>,
    calls: Vec<String>,
}

impl Default for FakeSysctl {
    fn default() -> FakeSysctl {
        FakeSysctl {
            values: [
                ("net.ipv4.ip_nonlocal_bind".to_string(), "0".to_string()),
                ("net.ipv6.ip_nonlocal_bind".to_string(), "0".to_string()),
            ]
            .into(),
            calls: Vec::new(),
        }
    }
}

impl Sysctl for FakeSysctl {
    fn read(&mut self, key: &str) -> Result<String, SysctlError> {
        self.calls.push(format!("-n {key}"));
        Ok(self.values.get(key).cloned().unwrap_or_default())
    }

    fn load_file(&mut self, path: &Path) -> Result<(), SysctlError> {
        self.calls.push("-p".into());
        let text = fs::read_to_string(path).unwrap();
        for (k, v) in parse_sysctl_file(&text) {
            self.values.insert(k, v);
        }
        Ok(())
    }

    fn write(&mut self, key: &str, value: &str) -> Result<(), SysctlError> {
        self.calls.push(format!("-w {key}={value}"));
        self.values.insert(key.to_string(), value.to_string());
        Ok(())
    }
}

// ---------------------------------------------------------------- harness

const UNIT: &str = "keepalived/0";

struct Unit {
    juju: FakeJuju,
    service: FakeService,
    sysctl: FakeSysctl,
    net: NetSnapshot,
    root: tempfile::TempDir,
    binary: PathBuf,
}

impl Unit {
    fn new(unit: &str) -> Unit {
        let root = tempfile::tempdir().unwrap();
        let binary = root.path().join("charm/bin/keepalived-charm");
        fs::create_dir_all(binary.parent().unwrap()).unwrap();
        fs::write(&binary, b"engine v1").unwrap();
        Unit {
            juju: FakeJuju {
                unit: unit.to_string(),
                ..FakeJuju::default()
            },
            service: FakeService::default(),
            sysctl: FakeSysctl::default(),
            net: snapshot(),
            root,
            binary,
        }
    }

    /// A deployed unit with `virtual_ip` set (call records of the deploy cleared by
    /// the next hook, as usual).
    fn configured(vip: &str) -> Unit {
        let mut u = Unit::new(UNIT);
        u.deploy();
        u.set_config(json!({ "virtual_ip": vip }));
        u
    }

    fn paths(&self) -> Paths {
        Paths::new(self.root.path())
    }

    /// Runs `hook` with JUJU_* variables from `env`; clears the call records first.
    fn hook_env(&mut self, hook: &str, env: &[(&str, &str)]) {
        let done: Vec<String> = self
            .juju
            .calls
            .drain(..)
            .chain(self.juju.logs.drain(..))
            .collect();
        self.juju.history.extend(done);
        self.service.calls.clear();
        self.sysctl.calls.clear();
        let unit = self.juju.unit.clone();
        let mut vars: BTreeMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        vars.insert("JUJU_UNIT_NAME".into(), unit);
        let parsed = Hook::parse(hook).unwrap();
        let ctx = HookContext::from_env(parsed, |k| vars.get(k).cloned()).unwrap();
        let paths = self.paths();
        let net = self.net.clone();
        let mut read_net = move || Ok(net.clone());
        handle(
            &ctx,
            &mut Deps {
                tools: &mut self.juju,
                service: &mut self.service,
                sysctl: &mut self.sysctl,
                net: &mut read_net,
                paths: &paths,
                charm_binary: &self.binary,
            },
        )
        .unwrap();
    }

    fn hook(&mut self, hook: &str) {
        self.hook_env(hook, &[]);
    }

    /// A relation hook for relation `rid` (and remote unit, if any).
    fn relation_hook(&mut self, hook: &str, rid: &RelationId, remote: Option<&str>) {
        let id = rid.to_string();
        let mut env = vec![
            ("JUJU_RELATION", rid.endpoint.as_str()),
            ("JUJU_RELATION_ID", id.as_str()),
        ];
        if let Some(r) = remote {
            env.push(("JUJU_REMOTE_UNIT", r));
        }
        self.hook_env(hook, &env);
    }

    fn set_config(&mut self, value: Value) {
        for (k, v) in value.as_object().unwrap() {
            self.juju.config.insert(k.clone(), v.clone());
        }
        self.hook("config-changed");
    }

    /// install, the peer relation created, config-changed and start: a unit of a
    /// cluster, up before it has heard any peer.
    fn start_in_cluster(&mut self, rid: &RelationId) {
        self.hook("install");
        self.relation_hook("cluster-relation-created", rid, None);
        self.hook("config-changed");
        self.hook("start");
    }

    fn deploy(&mut self) {
        self.hook("install");
        self.hook("leader-elected");
        self.hook("config-changed");
        self.hook("start");
    }

    /// Adds a relation with one remote unit whose bag has Juju's default keys, and runs
    /// created → joined → changed.
    fn relate(&mut self, endpoint: &'static str, id: u32, remote: &str) -> RelationId {
        self.relate_counting_sets(endpoint, id, remote).0
    }

    /// `relate`, also giving how many relation-set calls each of the three hooks made.
    fn relate_counting_sets(
        &mut self,
        endpoint: &'static str,
        id: u32,
        remote: &str,
    ) -> (RelationId, Vec<usize>) {
        let rid = RelationId::new(endpoint, id);
        let mut rel = FakeRelation::default();
        rel.local
            .insert("private-address".into(), "192.0.2.10".into());
        rel.local
            .insert("ingress-address".into(), "192.0.2.10".into());
        rel.local
            .insert("egress-subnets".into(), "192.0.2.10/32".into());
        rel.remote.insert(
            remote.to_string(),
            [("private-address".to_string(), "192.0.2.50".to_string())].into(),
        );
        self.juju.relations.insert(rid.clone(), rel);
        let mut sets = Vec::new();
        for (event, remote) in [
            ("created", None),
            ("joined", Some(remote)),
            ("changed", Some(remote)),
        ] {
            self.relation_hook(&format!("{endpoint}-relation-{event}"), &rid, remote);
            sets.push(self.relation_sets().len());
        }
        (rid, sets)
    }

    fn local(&self, rid: &RelationId) -> String {
        serde_json::to_string(&self.juju.relations[rid].local).unwrap()
    }

    fn engine_config(&self) -> Option<String> {
        fs::read_to_string(self.paths().engine_config()).ok()
    }

    fn engine_config_inode(&self) -> u64 {
        fs::metadata(self.paths().engine_config()).unwrap().ino()
    }

    fn status(&self) -> Status {
        self.juju.status.clone().unwrap()
    }

    fn state(&self) -> CharmState {
        CharmState::from_bag(&self.juju.state).0
    }

    fn relation_sets(&self) -> Vec<&String> {
        self.juju
            .calls
            .iter()
            .filter(|c| c.starts_with("relation-set"))
            .collect()
    }

    /// Service calls other than the is-active probe.
    fn service_actions(&self) -> Vec<&str> {
        self.service
            .calls
            .iter()
            .map(String::as_str)
            .filter(|c| !c.starts_with("is-active"))
            .collect()
    }
}

/// What update-status (and any hook with nothing new) asks Juju: the facts, the
/// units for the automatic timing, the status.
const UPDATE_STATUS_CALLS: [&str; 5] = [
    "config-get",
    "state-get",
    "goal-state",
    "status-set",
    "is-leader",
];

/// A golden file (rendered at the compatible timing, VRRPv2 1 s) at the fast timing
/// profile: what a unit runs once every unit of the application offers it.
fn fast(conf: String) -> String {
    conf.replace(
        "    advert_int 1\n",
        "    advert_int 0.07\n    version 3\n    down_timer_adverts 5\n",
    )
}

fn golden(name: &str, root: &Path) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    fs::read_to_string(path).unwrap().replace(
        "/usr/local/lib/",
        &format!("{}/usr/local/lib/", root.display()),
    )
}

/// What "not written" means for one file: same bytes, inode, mtime and mode.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    bytes: Vec<u8>,
    ino: u64,
    mtime_ns: i128,
    mode: u32,
}

/// Every file under `dir`, by path relative to `root`.
fn walk_stamps(root: &Path, dir: &Path, out: &mut BTreeMap<String, Stamp>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        let meta = fs::symlink_metadata(&path).unwrap();
        if meta.is_dir() {
            walk_stamps(root, &path, out);
            continue;
        }
        let rel = path.strip_prefix(root).unwrap().display().to_string();
        out.insert(
            rel,
            Stamp {
                bytes: fs::read(&path).unwrap(),
                ino: meta.ino(),
                mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
                mode: meta.mode() & 0o7777,
            },
        );
    }
}

impl Unit {
    fn files(&self) -> BTreeMap<String, Stamp> {
        let mut out = BTreeMap::new();
        walk_stamps(self.root.path(), self.root.path(), &mut out);
        out
    }

    /// No file under the machine root was created, removed or rewritten.
    fn assert_untouched(&self, before: &BTreeMap<String, Stamp>, why: &str) {
        let after = self.files();
        assert_eq!(
            after.keys().collect::<Vec<_>>(),
            before.keys().collect::<Vec<_>>(),
            "files changed ({why})"
        );
        for (path, stamp) in before {
            assert_eq!(&after[path], stamp, "{path} was rewritten ({why})");
        }
    }

    /// Runs `hook` and checks it changed nothing: no file rewritten, the engine only
    /// probed, no relation data written.
    fn quiet_hook(&mut self, hook: &str, before: &BTreeMap<String, Stamp>) {
        self.hook(hook);
        self.assert_untouched(before, hook);
        self.assert_only_probed(hook);
        assert!(self.relation_sets().is_empty(), "{hook}");
    }

    /// Every call of the last hook to the service manager: the probe, then one reload.
    fn assert_reloaded_once(&self, why: &str) {
        assert_eq!(
            self.service.calls,
            vec![
                "is-active keepalived-charm.service",
                "reload keepalived-charm.service"
            ],
            "{why}"
        );
    }

    /// Every call of the last hook to the service manager: only the probe.
    fn assert_only_probed(&self, why: &str) {
        assert_eq!(
            self.service.calls,
            vec!["is-active keepalived-charm.service"],
            "{why}"
        );
    }
}

/// This unit's website bag: Juju's keys plus the original charm's contract.
fn website_bag(hostname: &str, vip: &str, port: &str) -> String {
    format!(
        r#"{{"egress-subnets":"192.0.2.10/32","hostname":"{hostname}","ingress-address":"192.0.2.10","port":"{port}","private-address":"{vip}"}}"#
    )
}

/// This unit's loadbalancer bag: Juju's keys plus the original charm's contract.
fn lb_bag(vip: &str, port: &str) -> String {
    format!(
        r#"{{"egress-subnets":"192.0.2.10/32","ingress-address":"192.0.2.10","port":"{port}","private-address":"192.0.2.10","public-address":"{vip}"}}"#
    )
}

// ---------------------------------------------------------------- tests

#[test]
fn deploy_unconfigured_is_blocked_with_the_original_message_and_runs_nothing() {
    let mut u = Unit::new(UNIT);
    u.hook("install");
    assert_eq!(
        u.service.calls,
        vec!["daemon-reload", "enable keepalived-charm.service"]
    );
    assert_eq!(
        fs::read(u.paths().engine_binary()).unwrap(),
        b"engine v1".to_vec()
    );
    assert!(u.paths().unit_file().exists());
    // Installed and enabled, never started.
    for hook in ["leader-elected", "config-changed", "start"] {
        u.hook(hook);
        assert!(u.service_actions().is_empty(), "{hook}");
    }
    assert!(u.service.active.is_empty());
    assert_eq!(u.status(), Status::blocked("Please configure virtual ips"));
    // Every status the unit ever showed.
    assert!(!u.juju.statuses.is_empty());
    assert!(
        u.juju
            .statuses
            .iter()
            .all(|s| *s == Status::blocked("Please configure virtual ips")),
        "{:?}",
        u.juju.statuses
    );
    assert_eq!(u.service.calls, vec!["is-active keepalived-charm.service"]);
    assert_eq!(u.engine_config(), None);
    assert!(!u.paths().sysctl_file().exists());
    assert!(u.state().started);
}

#[test]
fn configuring_renders_the_golden_config_starts_the_engine_and_sets_sysctl() {
    let u = Unit::configured("10.10.74.250");
    assert_eq!(
        u.engine_config().unwrap(),
        fast(golden("default-ipv4.conf", u.root.path()))
    );
    let mode = fs::metadata(u.paths().engine_config())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o644);
    assert_eq!(u.service_actions(), vec!["start keepalived-charm.service"]);
    assert_eq!(u.status(), Status::active("VIP 10.10.74.250 ready"));
    assert_eq!(
        fs::read_to_string(u.paths().sysctl_file()).unwrap(),
        "# Managed by the keepalived charm; restored on removal.\nnet.ipv4.ip_nonlocal_bind=1\n"
    );
    assert_eq!(u.sysctl.calls, vec!["-n net.ipv4.ip_nonlocal_bind", "-p"]);
    assert_eq!(u.state().sysctl_saved["net.ipv4.ip_nonlocal_bind"], "0");
}

#[test]
fn relation_data_is_the_original_contract_and_lb_sink_and_juju_info_are_untouched() {
    let mut u = Unit::new(UNIT);
    u.deploy();
    let info = u.relate("juju-info", 1, "kubeapi-load-balancer/0");
    u.set_config(
        json!({"virtual_ip": "10.10.74.250/24", "port": 443, "vip_hostname": "api.example.com"}),
    );
    // Joined after configuration: published by -created, the first hook that knows
    // the relation, and not sent again by -joined or -changed.
    let (website, sets) = u.relate_counting_sets("website", 2, "kubernetes-worker/0");
    assert_eq!(sets, [1, 0, 0]);
    let (lb, sets) = u.relate_counting_sets("loadbalancer", 3, "kubernetes-master/0");
    assert_eq!(sets, [1, 0, 0]);
    let sink = u.relate("lb-sink", 4, "kubeapi-load-balancer/0");
    u.hook("update-status");
    assert_eq!(
        u.local(&website),
        r#"{"egress-subnets":"192.0.2.10/32","hostname":"api.example.com","ingress-address":"192.0.2.10","port":"443","private-address":"10.10.74.250"}"#
    );
    assert_eq!(
        u.local(&lb),
        r#"{"egress-subnets":"192.0.2.10/32","ingress-address":"192.0.2.10","port":"443","private-address":"192.0.2.10","public-address":"10.10.74.250"}"#
    );
    let untouched = r#"{"egress-subnets":"192.0.2.10/32","ingress-address":"192.0.2.10","private-address":"192.0.2.10"}"#;
    assert_eq!(u.local(&sink), untouched);
    assert_eq!(u.local(&info), untouched);
    // And the charm never even wrote to them.
    for call in u.juju.history.iter().chain(&u.juju.calls) {
        assert!(
            !call.starts_with("relation-set lb-sink:4")
                && !call.starts_with("relation-set juju-info:1"),
            "{call}"
        );
    }
}

#[test]
fn website_data_is_rewritten_in_and_after_config_changed() {
    let mut u = Unit::configured("10.10.74.250");
    let website = u.relate("website", 2, "kubernetes-worker/0");
    u.set_config(json!({"healthcheck_interval": 3}));
    assert_eq!(
        u.relation_sets(),
        vec![
            r#"relation-set website:2 {"extended_data":"","hostname":"10.10.74.250","port":"443","private-address":"10.10.74.250"}"#
        ]
    );
    // Juju's commit of config-changed rewrites private-address to the unit address...
    let rel = u.juju.relations.get_mut(&website).unwrap();
    rel.local
        .insert("private-address".into(), "192.0.2.10".into());
    // ...so the next hook puts the VIP back, once.
    u.hook("update-status");
    assert_eq!(u.relation_sets().len(), 1);
    assert!(u
        .local(&website)
        .contains(r#""private-address":"10.10.74.250""#));
    u.hook("update-status");
    assert!(u.relation_sets().is_empty());

    // An address change: Juju rewrites its address keys in every bag of the unit
    // (private-address too) and runs config-changed, which puts the VIP back.
    let lb = u.relate("loadbalancer", 3, "kubernetes-master/0");
    for rid in [&website, &lb] {
        let rel = u.juju.relations.get_mut(rid).unwrap();
        for key in ["private-address", "ingress-address"] {
            rel.local.insert(key.into(), "192.0.2.99".into());
        }
    }
    u.hook("config-changed");
    assert_eq!(
        u.local(&website),
        website_bag("10.10.74.250", "10.10.74.250", "443").replace(
            r#""ingress-address":"192.0.2.10""#,
            r#""ingress-address":"192.0.2.99""#
        )
    );
    assert_eq!(
        u.local(&lb),
        lb_bag("10.10.74.250", "443").replace(
            r#""ingress-address":"192.0.2.10","port":"443","private-address":"192.0.2.10""#,
            r#""ingress-address":"192.0.2.99","port":"443","private-address":"192.0.2.99""#
        )
    );
}

#[test]
fn every_website_relation_gets_the_contract_and_a_change_reaches_each() {
    let mut u = Unit::configured("10.10.74.250");
    let first = u.relate("website", 2, "kubernetes-worker/0");
    let second = u.relate("website", 5, "haproxy/0");
    for rid in [&first, &second] {
        assert_eq!(
            u.local(rid),
            website_bag("10.10.74.250", "10.10.74.250", "443"),
            "{rid}"
        );
    }
    u.set_config(json!({"port": 8443}));
    for rid in [&first, &second] {
        assert_eq!(
            u.local(rid),
            website_bag("10.10.74.250", "10.10.74.250", "8443"),
            "{rid}"
        );
    }
}

#[test]
fn vip_hostname_change_updates_relation_data_and_never_touches_the_engine() {
    let mut u = Unit::configured("10.10.74.250");
    let website = u.relate("website", 2, "kubernetes-worker/0");
    let lb = u.relate("loadbalancer", 3, "kubernetes-master/0");
    let before = u.files();
    u.set_config(json!({"vip_hostname": "api.example.com"}));
    assert_eq!(
        u.local(&website),
        website_bag("api.example.com", "10.10.74.250", "443")
    );
    assert_eq!(u.local(&lb), lb_bag("10.10.74.250", "443"));
    // The engine is not touched: no reload, no restart, not a byte written.
    u.assert_only_probed("vip_hostname change");
    u.assert_untouched(&before, "vip_hostname change");
    // And back: the hostname is the VIP again.
    u.set_config(json!({"vip_hostname": ""}));
    assert_eq!(
        u.local(&website),
        website_bag("10.10.74.250", "10.10.74.250", "443")
    );
    u.assert_only_probed("vip_hostname reset");
    u.assert_untouched(&before, "vip_hostname reset");
}

#[test]
fn port_change_updates_relation_data_and_reloads_once_without_restart() {
    let mut u = Unit::configured("10.10.74.250");
    let website = u.relate("website", 2, "kubernetes-worker/0");
    let lb = u.relate("loadbalancer", 3, "kubernetes-master/0");
    u.set_config(json!({"port": 6443}));
    assert_eq!(
        u.relation_sets(),
        vec![
            r#"relation-set website:2 {"extended_data":"","hostname":"10.10.74.250","port":"6443","private-address":"10.10.74.250"}"#,
            r#"relation-set loadbalancer:3 {"port":"6443"}"#
        ]
    );
    assert_eq!(
        u.local(&website),
        website_bag("10.10.74.250", "10.10.74.250", "6443")
    );
    assert_eq!(u.local(&lb), lb_bag("10.10.74.250", "6443"));
    // Only the health check changed, and the engine takes it with a reload.
    assert_eq!(
        u.engine_config().unwrap(),
        fast(golden("default-ipv4.conf", u.root.path()))
            .replace("check-tcp 127.0.0.1 443\"", "check-tcp 127.0.0.1 6443\"")
    );
    u.assert_reloaded_once("port change");
}

#[test]
fn vip_router_id_and_interval_changes_reload_exactly_once() {
    for (change, from, to, vip) in [
        (
            json!({"virtual_ip": "10.10.74.251"}),
            "10.10.74.250/32\n",
            "10.10.74.251/32\n",
            "10.10.74.251",
        ),
        (
            json!({"router_id": 51}),
            "virtual_router_id 23\n",
            "virtual_router_id 51\n",
            "10.10.74.250",
        ),
        (
            json!({"healthcheck_interval": 5}),
            "    interval 2\n",
            "    interval 5\n",
            "10.10.74.250",
        ),
    ] {
        let mut u = Unit::configured("10.10.74.250");
        let website = u.relate("website", 2, "kubernetes-worker/0");
        let lb = u.relate("loadbalancer", 3, "kubernetes-master/0");
        let inode = u.engine_config_inode();
        u.set_config(change.clone());
        assert_eq!(
            u.engine_config().unwrap(),
            fast(golden("default-ipv4.conf", u.root.path())).replace(from, to),
            "{change}"
        );
        u.assert_reloaded_once(&format!("{change}"));
        // Written atomically: a new file renamed over the old one.
        assert_ne!(u.engine_config_inode(), inode, "{change}");
        assert_eq!(u.local(&website), website_bag(vip, vip, "443"), "{change}");
        assert_eq!(u.local(&lb), lb_bag(vip, "443"), "{change}");
        assert_eq!(u.status(), Status::active(format!("VIP {vip} ready")));
    }
}

#[test]
fn metrics_address_goes_to_the_engines_file_and_reloads_only_when_it_changes() {
    let mut u = Unit::configured("10.10.74.250");
    let file = u.paths().engine_metrics_file();
    let read = |p: &Path| std::fs::read_to_string(p).unwrap();
    // The default: loopback, the keepalived exporters' port.
    assert_eq!(read(&file), "127.0.0.1:9165\n");
    let config = u.engine_config();
    for (value, content) in [("10.0.0.5:9100", "10.0.0.5:9100\n"), ("", "")] {
        let inode = std::fs::metadata(&file).unwrap().ino();
        u.set_config(json!({"metrics_address": value}));
        assert_eq!(read(&file), content, "{value}");
        // Written atomically, the engine config untouched, one SIGHUP.
        assert_ne!(std::fs::metadata(&file).unwrap().ino(), inode, "{value}");
        assert_eq!(u.engine_config(), config, "{value}");
        u.assert_reloaded_once(&format!("metrics_address {value:?}"));
    }
    // The same value again: nothing written, nothing reloaded.
    let before = u.files();
    u.set_config(json!({"metrics_address": ""}));
    u.assert_untouched(&before, "same metrics_address");
    u.assert_only_probed("same metrics_address");
    // An invalid one blocks and keeps the file as it was.
    u.set_config(json!({"metrics_address": "localhost:9165"}));
    assert_eq!(read(&file), "");
    u.assert_only_probed("invalid metrics_address");
}

#[test]
fn a_hook_with_nothing_new_writes_nothing_and_reloads_nothing() {
    let mut u = Unit::configured("10.10.74.250");
    u.relate("loadbalancer", 3, "kubernetes-master/0");
    let sink = u.relate("lb-sink", 4, "kubeapi-load-balancer/0");
    let before = u.files();
    for file in [
        "etc/keepalived-charm/keepalived.conf",
        "etc/sysctl.d/50-keepalived.conf",
        "etc/systemd/system/keepalived-charm.service",
    ] {
        assert!(before.contains_key(file), "{file}");
    }
    // config-changed with the same values: Juju also runs it after an agent restart.
    for hook in [
        "update-status",
        "leader-elected",
        "leader-settings-changed",
        "config-changed",
        "start",
    ] {
        u.quiet_hook(hook, &before);
        assert!(!u.juju.calls.iter().any(|c| c == "state-set"), "{hook}");
        assert!(u.sysctl.calls.is_empty(), "{hook}");
        assert_eq!(u.status(), Status::active("VIP 10.10.74.250 ready"));
    }
    // update-status: the facts and the status, nothing else.
    u.hook("update-status");
    assert_eq!(u.juju.calls, UPDATE_STATUS_CALLS);

    // Remote data that does not concern us changes: a relation hook, nothing else.
    u.juju.relations.get_mut(&sink).unwrap().remote.insert(
        "kubeapi-load-balancer/0".into(),
        [("port", "443"), ("hostname", "lb")]
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .into(),
    );
    u.relation_hook(
        "lb-sink-relation-changed",
        &sink,
        Some("kubeapi-load-balancer/0"),
    );
    u.assert_untouched(&before, "lb-sink-relation-changed");
    u.assert_only_probed("lb-sink-relation-changed");
    assert!(u.relation_sets().is_empty());
    assert_eq!(u.status(), Status::active("VIP 10.10.74.250 ready"));
}

#[test]
fn update_status_costs_five_hook_tool_calls_and_one_more_on_the_leader() {
    let mut u = Unit::configured("10.10.74.250");
    u.relate("website", 2, "kubernetes-worker/0");
    u.relate("cluster", 9, "keepalived/1");
    u.hook("update-status"); // the resync after config-changed, if any
    u.hook("update-status");
    assert_eq!(u.juju.calls, UPDATE_STATUS_CALLS);
    assert_eq!(u.service.calls, vec!["is-active keepalived-charm.service"]);
    // The leader also describes the cluster (status::application_status).
    u.juju.leader = true;
    u.hook("update-status");
    assert_eq!(
        u.juju.calls,
        vec![
            "config-get",
            "state-get",
            "goal-state",
            "status-set",
            "is-leader",
            "status-set --application"
        ]
    );
    assert_eq!(
        u.juju.app_status.as_ref().map(|s| s.kind),
        Some(StatusKind::Maintenance),
        "no engine report in this fake: {:?}",
        u.juju.app_status
    );
}

#[test]
fn every_invalid_value_blocks_keeps_the_last_good_file_and_does_not_reload() {
    let mut u = Unit::configured("10.10.74.250");
    let website = u.relate("website", 2, "kubernetes-worker/0");
    u.hook("update-status");
    let good = fast(golden("default-ipv4.conf", u.root.path()));
    assert_eq!(u.engine_config().unwrap(), good);
    for (bad, message) in [
        (
            json!({"virtual_ip": "10.10.74.300"}),
            "invalid virtual_ip \"10.10.74.300\": expected an IPv4 or IPv6 address with an optional /prefix, e.g. 10.1.2.3/24 or fd00::5/64",
        ),
        (
            json!({"virtual_ip": "10.10.74.250/33"}),
            "invalid virtual_ip \"10.10.74.250/33\": prefix /33 is out of range, allowed /1../32 for IPv4",
        ),
        (
            json!({"virtual_ip": "api.example.com"}),
            "invalid virtual_ip \"api.example.com\": expected an IPv4 or IPv6 address with an optional /prefix, e.g. 10.1.2.3/24 or fd00::5/64",
        ),
        (
            json!({"router_id": 0}),
            "invalid router_id 0: allowed 1..255 (unique per network segment)",
        ),
        (
            json!({"router_id": 256}),
            "invalid router_id 256: allowed 1..255 (unique per network segment)",
        ),
        (json!({"port": 0}), "invalid port 0: allowed 1..65535"),
        (json!({"port": 65536}), "invalid port 65536: allowed 1..65535"),
        (
            json!({"healthcheck_interval": 0}),
            "invalid healthcheck_interval 0: allowed 1..4294 seconds",
        ),
        (
            json!({"network_interface": "eth9"}),
            "invalid network_interface \"eth9\": no such interface on this machine (interfaces: lo, eth0, eth1)",
        ),
        (
            json!({"router_id": 0, "port": 0}),
            "invalid router_id 0: allowed 1..255 (unique per network segment); invalid port 0: allowed 1..65535",
        ),
    ] {
        let fix: Map<String, Value> = bad
            .as_object()
            .unwrap()
            .keys()
            .map(|k| {
                let default = match k.as_str() {
                    "virtual_ip" => json!("10.10.74.250"),
                    "router_id" => json!(23),
                    "port" => json!(443),
                    "healthcheck_interval" => json!(2),
                    _ => json!(""),
                };
                (k.clone(), default)
            })
            .collect();
        let before = u.files();
        let published = u.local(&website);
        u.set_config(bad.clone());
        assert_eq!(u.status(), Status::blocked(message), "{bad}");
        // The last good config stays byte for byte and keeps running.
        u.assert_untouched(&before, &format!("{bad}"));
        u.assert_only_probed(&format!("{bad}"));
        assert_eq!(u.local(&website), published, "{bad}");
        // Said once in the log when the config arrives.
        assert_eq!(
            u.juju.logs,
            vec![format!(
                "WARNING configuration refused, the engine config is left as it was: {message}"
            )],
            "{bad}"
        );
        u.set_config(Value::Object(fix));
        assert_eq!(u.status(), Status::active("VIP 10.10.74.250 ready"), "{bad}");
        // Back to the same config: nothing to write, nothing to reload.
        u.assert_untouched(&before, &format!("fix {bad}"));
        u.assert_only_probed(&format!("fix {bad}"));
        assert_eq!(u.engine_config().unwrap(), good);
    }
}

#[test]
fn no_interface_for_the_vip_blocks() {
    let message = "no interface for virtual_ip 172.16.0.1: no interface has an IPv4 address in its subnet and there is no IPv4 default route; set network_interface";
    let mut u = Unit::new(UNIT);
    u.net.default_v4 = None;
    u.deploy();
    u.set_config(json!({"virtual_ip": "172.16.0.1"}));
    assert_eq!(u.status(), Status::blocked(message));
    assert_eq!(u.engine_config(), None);
    assert!(u.service_actions().is_empty());

    // Configured on the interface whose subnet holds the VIP, then moved off it.
    u.set_config(json!({"virtual_ip": "10.20.0.5"}));
    let good = u.engine_config().unwrap();
    assert!(good.contains("    interface eth1\n"), "{good}");
    let before = u.files();
    u.set_config(json!({"virtual_ip": "172.16.0.1"}));
    assert_eq!(u.status(), Status::blocked(message));
    // Never rendered with a bogus interface: the file is the last good one.
    u.assert_untouched(&before, "no interface");
    u.assert_only_probed("no interface");

    // Following the advice fixes it: one reload onto the new VIP.
    u.set_config(json!({"network_interface": "eth1"}));
    assert_eq!(u.status(), Status::active("VIP 172.16.0.1 ready"));
    u.assert_reloaded_once("network_interface set");
    assert_eq!(
        u.engine_config().unwrap(),
        good.replace("10.20.0.5/32", "172.16.0.1/32")
    );
}

#[test]
fn a_unit_blocked_from_the_start_renders_nothing_and_starts_nothing() {
    let mut u = Unit::new(UNIT);
    u.juju.config = json!({"virtual_ip": "10.10.74.250", "port": 0})
        .as_object()
        .unwrap()
        .clone();
    let mut service_calls = Vec::new();
    for hook in ["install", "leader-elected", "config-changed", "start"] {
        u.hook(hook);
        service_calls.extend(u.service_actions().into_iter().map(String::from));
    }
    assert_eq!(
        u.status(),
        Status::blocked("invalid port 0: allowed 1..65535")
    );
    assert_eq!(u.engine_config(), None);
    assert!(u.service.active.is_empty());
    // Installed and enabled, never started.
    assert_eq!(
        service_calls,
        vec!["daemon-reload", "enable keepalived-charm.service"]
    );
}

#[test]
fn a_leader_change_changes_nothing() {
    let mut u = Unit::configured("10.10.74.250");
    u.relate("website", 2, "kubernetes-worker/0");
    u.relate("cluster", 9, "keepalived/1");
    u.hook("update-status"); // the website resync after config-changed
    let before = u.files();
    let state = u.juju.state.clone();
    for hook in [
        "leader-elected",
        "leader-settings-changed",
        "leader-elected",
    ] {
        u.quiet_hook(hook, &before);
        // Nothing to tell anyone, nothing to remember: leadership is asked only to
        // know whether to set the application status.
        assert_eq!(u.juju.state, state, "{hook}");
        assert_eq!(u.juju.calls, UPDATE_STATUS_CALLS, "{hook}");
    }
}
#[test]
fn clearing_the_vip_retracts_relation_data_stops_the_engine_and_restores_sysctl() {
    let mut u = Unit::new(UNIT);
    u.deploy();
    u.set_config(json!({"virtual_ip": "10.10.74.250 fd00::5"}));
    let website = u.relate("website", 2, "kubernetes-worker/0");
    let lb = u.relate("loadbalancer", 3, "kubernetes-master/0");
    assert_eq!(u.sysctl.values["net.ipv6.ip_nonlocal_bind"], "1");
    u.set_config(json!({"virtual_ip": ""}));
    assert_eq!(u.status(), Status::blocked("Please configure virtual ips"));
    // private-address gets the unit's own address back; the other keys are gone.
    assert_eq!(
        u.local(&website),
        r#"{"egress-subnets":"192.0.2.10/32","ingress-address":"192.0.2.10","private-address":"192.0.2.10"}"#
    );
    assert_eq!(
        u.local(&lb),
        r#"{"egress-subnets":"192.0.2.10/32","ingress-address":"192.0.2.10","private-address":"192.0.2.10"}"#
    );
    assert_eq!(u.service_actions(), vec!["stop keepalived-charm.service"]);
    assert_eq!(u.engine_config(), None);
    assert!(!u.paths().sysctl_file().exists());
    assert_eq!(u.sysctl.values["net.ipv4.ip_nonlocal_bind"], "0");
    assert_eq!(u.sysctl.values["net.ipv6.ip_nonlocal_bind"], "0");
    assert!(u.state().sysctl_saved.is_empty());
    // A later hook has nothing left to retract.
    u.hook("update-status");
    assert!(u.relation_sets().is_empty());
    // Setting it again publishes again.
    u.set_config(json!({"virtual_ip": "10.10.74.250 fd00::5"}));
    assert_eq!(
        u.local(&website),
        r#"{"egress-subnets":"192.0.2.10/32","extended_data":"[{\"hostname\":\"fd00::5\",\"port\":443,\"private-address\":\"fd00::5\"}]","hostname":"10.10.74.250","ingress-address":"192.0.2.10","port":"443","private-address":"10.10.74.250"}"#
    );
    assert_eq!(
        u.local(&lb),
        r#"{"egress-subnets":"192.0.2.10/32","extended_data":"[{\"port\":443,\"public-address\":\"fd00::5\"}]","ingress-address":"192.0.2.10","port":"443","private-address":"192.0.2.10","public-address":"10.10.74.250"}"#
    );
}

#[test]
fn the_password_goes_only_into_a_0600_file_never_into_status_or_logs() {
    let mut u = Unit::new(UNIT);
    u.deploy();
    u.relate("website", 2, "kubernetes-worker/0");
    u.set_config(json!({"virtual_ip": "10.10.74.250", "vrrp_password": "s3cr3t"}));
    assert_eq!(u.status(), Status::active("VIP 10.10.74.250 ready"));
    let conf = u.engine_config().unwrap();
    assert!(conf.contains("        auth_pass s3cr3t\n"));
    let mode = fs::metadata(u.paths().engine_config())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    // Too long: refused without echoing it.
    u.set_config(json!({"vrrp_password": "much-too-long-secret"}));
    assert_eq!(
        u.status(),
        Status::blocked(
            "invalid vrrp_password (value not shown): 20 characters, allowed at most 8"
        )
    );
    // Every status ever set, every hook-tool call (with its arguments), every log
    // line and the charm state.
    let texts = u
        .juju
        .statuses
        .iter()
        .map(|s| s.message.clone())
        .chain(u.juju.history.iter().cloned())
        .chain(u.juju.calls.iter().cloned())
        .chain(u.juju.logs.iter().cloned())
        .chain(u.juju.state.values().cloned());
    for text in texts {
        assert!(
            !text.contains("s3cr3t") && !text.contains("much-too-long"),
            "{text}"
        );
    }
    // Clearing the password rewrites the file world-readable again.
    u.set_config(json!({"vrrp_password": ""}));
    let mode = fs::metadata(u.paths().engine_config())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o644);
}

#[test]
fn stop_releases_and_disables_and_remove_leaves_nothing_behind() {
    let mut u = Unit::new(UNIT);
    u.deploy();
    u.set_config(json!({"virtual_ip": "10.10.74.250 fd00::5"}));
    let state_file = u.paths().engine_state();
    fs::create_dir_all(state_file.parent().unwrap()).unwrap();
    fs::write(&state_file, "{}").unwrap();
    u.hook("stop");
    assert_eq!(
        u.service.calls,
        vec![
            "stop keepalived-charm.service",
            "disable keepalived-charm.service"
        ]
    );
    assert!(u.juju.calls.iter().all(|c| c == "juju-log"));
    u.hook("remove");
    assert_eq!(u.service.calls, vec!["daemon-reload"]);
    assert_eq!(
        u.sysctl.calls,
        vec![
            "-w net.ipv4.ip_nonlocal_bind=0",
            "-w net.ipv6.ip_nonlocal_bind=0"
        ]
    );
    let mut left = Vec::new();
    for entry in walk(u.root.path()) {
        if !entry.starts_with(u.root.path().join("charm")) && entry.is_file() {
            left.push(entry);
        }
    }
    assert!(left.is_empty(), "left behind: {left:?}");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            }
            out.push(p);
        }
    }
    out
}

#[test]
fn remove_restores_sysctl_left_by_the_original_charm() {
    let mut u = Unit::new(UNIT);
    let file = u.paths().sysctl_file();
    fs::create_dir_all(file.parent().unwrap()).unwrap();
    fs::write(&file, "net.ipv4.ip_nonlocal_bind=1\n").unwrap();
    u.hook("remove");
    assert_eq!(u.sysctl.calls, vec!["-w net.ipv4.ip_nonlocal_bind=0"]);
    assert!(!file.exists());
}

#[test]
fn upgrade_restarts_only_when_the_engine_binary_changed() {
    let mut u = Unit::configured("10.10.74.250");
    u.hook("upgrade-charm");
    assert_eq!(u.service_actions(), vec!["enable keepalived-charm.service"]);
    fs::write(&u.binary, b"engine v2").unwrap();
    u.hook("upgrade-charm");
    assert_eq!(
        u.service_actions(),
        vec![
            "enable keepalived-charm.service",
            "restart keepalived-charm.service"
        ]
    );
    assert_eq!(fs::read(u.paths().engine_binary()).unwrap(), b"engine v2");
    let mode = fs::metadata(u.paths().engine_binary())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o755);
    // Other hooks never replace a binary that is in place.
    fs::write(&u.binary, b"engine v3").unwrap();
    u.hook("update-status");
    assert_eq!(fs::read(u.paths().engine_binary()).unwrap(), b"engine v2");
}

#[test]
fn engine_role_shows_in_the_status_on_update_status() {
    let mut u = Unit::configured("10.10.74.250");
    let state_file = u.paths().engine_state();
    fs::create_dir_all(state_file.parent().unwrap()).unwrap();
    fs::write(
        &state_file,
        r#"{"instances":[{"name":"VI_1","family":"ipv4","vrid":23,"state":"MASTER","effective_priority":254,"master":"192.0.2.10"}]}"#,
    )
    .unwrap();
    u.hook("update-status");
    assert_eq!(
        u.status(),
        Status::active("VIP 10.10.74.250 ready (MASTER)")
    );
    assert_eq!(u.status().kind, StatusKind::Active);
    fs::write(
        &state_file,
        r#"{"instances":[{"name":"VI_1","family":"ipv4","vrid":23,"state":"BACKUP","effective_priority":254,"master":"192.0.2.11"}]}"#,
    )
    .unwrap();
    u.hook("update-status");
    assert_eq!(
        u.status(),
        Status::active("VIP 10.10.74.250 ready (BACKUP)")
    );
    // A state file the charm cannot read shows no role, and fails no hook.
    fs::write(&state_file, "{ not json").unwrap();
    u.hook("update-status");
    assert_eq!(u.status(), Status::active("VIP 10.10.74.250 ready"));
}

// ---------------------------------------------------------------- peers

/// Copies every unit's published peer bag into the others' view of it.
fn sync_peers(units: &mut [&mut Unit], rid: &RelationId) {
    let bags: Vec<(String, Bag)> = units
        .iter()
        .map(|u| (u.juju.unit.clone(), u.juju.relations[rid].local.clone()))
        .collect();
    for u in units.iter_mut() {
        let me = u.juju.unit.clone();
        let rel = u.juju.relations.get_mut(rid).unwrap();
        for (unit, bag) in &bags {
            if *unit != me {
                rel.remote.insert(unit.clone(), bag.clone());
            }
        }
    }
}

/// The golden unicast config (unit 0: priority 254, source .10, peers .11 and .12) as
/// unit `u` with its own priority, source and peers renders it, every peer offering
/// the fast timing.
fn unicast_conf(u: &Unit, priority: u8, source: &str, peers: &[&str]) -> String {
    let block: String = peers.iter().map(|p| format!("        {p}\n")).collect();
    fast(golden("unicast-peers.conf", u.root.path()))
        .replace("    priority 254\n", &format!("    priority {priority}\n"))
        .replace(
            "    unicast_src_ip 192.0.2.10\n",
            &format!("    unicast_src_ip {source}\n"),
        )
        .replace("        192.0.2.11\n        192.0.2.12\n", &block)
}

/// Runs the relation hooks `u` sees for peer `other` arriving (`joined` then
/// `changed`); the service calls of both, probes left out.
fn peer_arrives(u: &mut Unit, rid: &RelationId, other: &str) -> Vec<String> {
    let mut actions = Vec::new();
    for hook in ["cluster-relation-joined", "cluster-relation-changed"] {
        u.relation_hook(hook, rid, Some(other));
        actions.extend(u.service_actions().into_iter().map(String::from));
    }
    actions
}

fn peer_unit(name: &str, address: &str, rid: &RelationId) -> Unit {
    let mut u = Unit::new(name);
    u.net.links[1].addresses[0] = crate::charm::iface::tests::addr(&format!("{address}/24"));
    u.juju
        .relations
        .insert(rid.clone(), FakeRelation::default());
    u.juju.config = json!({"virtual_ip": "192.0.2.100/24", "unicast": true})
        .as_object()
        .unwrap()
        .clone();
    u
}

#[test]
fn three_units_get_distinct_priorities_and_unicast_peers_and_a_departure_is_removed() {
    let rid = RelationId::new("cluster", 1);
    let mut a = peer_unit("keepalived/0", "192.0.2.10", &rid);
    let mut b = peer_unit("keepalived/1", "192.0.2.11", &rid);
    let mut c = peer_unit("keepalived/2", "192.0.2.12", &rid);
    for u in [&mut a, &mut b, &mut c] {
        u.start_in_cluster(&rid);
    }
    peer_round(&mut [&mut a, &mut b, &mut c], &rid, true);
    // Each went from multicast (alone) to unicast on hearing its peers, and spoke the
    // group too while a peer still published multicast (K-17); a second round of
    // peer hooks shows every peer on unicast, and the group is dropped.
    assert!(a.engine_config().unwrap().contains("rolling_from"));
    peer_round(&mut [&mut a, &mut b, &mut c], &rid, false);
    let prio = |u: &Unit| u.state().priority.unwrap();
    assert_eq!((prio(&a), prio(&b), prio(&c)), (254, 244, 234));
    // What each unit published for the others.
    for (u, n) in [(&a, 10), (&b, 11), (&c, 12)] {
        assert_eq!(
            u.local(&rid),
            format!(
                r#"{{"priority":"{}","timing-profiles":"{OFFERED}","vips":"192.0.2.100/24","vrrp-address":"192.0.2.{n}","vrrp-identity":"23/unicast","vrrp-segments":"192.0.2.0/24"}}"#,
                254 - 10 * (n - 10)
            )
        );
    }
    // Unit 0 is exactly the golden file; the others are the same with their own view.
    assert_eq!(
        a.engine_config().unwrap(),
        fast(golden("unicast-peers.conf", a.root.path()))
    );
    assert_eq!(
        b.engine_config().unwrap(),
        unicast_conf(&b, 244, "192.0.2.11", &["192.0.2.10", "192.0.2.12"])
    );
    assert_eq!(
        c.engine_config().unwrap(),
        unicast_conf(&c, 234, "192.0.2.12", &["192.0.2.10", "192.0.2.11"])
    );

    // A new unit sees the three claims before it claims: it goes below all of them and
    // becomes everyone's peer, with one reload each.
    let mut d = peer_unit("keepalived/3", "192.0.2.13", &rid);
    sync_peers(&mut [&mut a, &mut b, &mut c, &mut d], &rid);
    d.hook("install");
    d.relation_hook("cluster-relation-created", &rid, None);
    for other in ["keepalived/0", "keepalived/1", "keepalived/2"] {
        peer_arrives(&mut d, &rid, other);
    }
    d.hook("config-changed");
    d.hook("start");
    assert_eq!(prio(&d), 224);
    sync_peers(&mut [&mut a, &mut b, &mut c, &mut d], &rid);
    assert_eq!(
        d.engine_config().unwrap(),
        unicast_conf(
            &d,
            224,
            "192.0.2.13",
            &["192.0.2.10", "192.0.2.11", "192.0.2.12"]
        )
    );
    let all = ["192.0.2.10", "192.0.2.11", "192.0.2.12", "192.0.2.13"];
    for (i, u) in [&mut a, &mut b, &mut c].into_iter().enumerate() {
        let actions = peer_arrives(u, &rid, "keepalived/3");
        assert_eq!(
            actions,
            ["reload keepalived-charm.service"],
            "{}",
            u.juju.unit
        );
        let peers: Vec<&str> = all.iter().copied().filter(|p| *p != all[i]).collect();
        assert_eq!(
            u.engine_config().unwrap(),
            unicast_conf(u, 254 - 10 * i as u8, all[i], &peers),
            "{}",
            u.juju.unit
        );
    }

    // keepalived/1 leaves: the others drop it from their peers with one reload.
    for u in [&mut a, &mut c, &mut d] {
        u.juju
            .relations
            .get_mut(&rid)
            .unwrap()
            .remote
            .remove("keepalived/1");
        u.hook_env(
            "cluster-relation-departed",
            &[
                ("JUJU_RELATION", "cluster"),
                ("JUJU_RELATION_ID", "cluster:1"),
                ("JUJU_REMOTE_UNIT", "keepalived/1"),
                ("JUJU_DEPARTING_UNIT", "keepalived/1"),
            ],
        );
        assert!(u.juju.calls.iter().all(|c| !c.starts_with("relation-get")));
        assert_eq!(u.service_actions(), vec!["reload keepalived-charm.service"]);
    }
    assert_eq!(
        a.engine_config().unwrap(),
        unicast_conf(&a, 254, "192.0.2.10", &["192.0.2.12", "192.0.2.13"])
    );
    assert_eq!(
        c.engine_config().unwrap(),
        unicast_conf(&c, 234, "192.0.2.12", &["192.0.2.10", "192.0.2.13"])
    );
    assert_eq!((prio(&a), prio(&c), prio(&d)), (254, 234, 224));
}

#[test]
fn a_conflicting_claim_moves_only_the_newer_unit() {
    let rid = RelationId::new("cluster", 1);
    // Units 0 and 50 both started alone and claimed 254.
    let mut a = peer_unit("keepalived/0", "192.0.2.10", &rid);
    let mut b = peer_unit("keepalived/50", "192.0.2.11", &rid);
    for u in [&mut a, &mut b] {
        // Multicast: a peer's address alone does not change the config.
        u.juju.config.insert("unicast".into(), json!(false));
        u.start_in_cluster(&rid);
        assert_eq!(u.state().priority, Some(254));
    }
    sync_peers(&mut [&mut a, &mut b], &rid);
    a.relation_hook("cluster-relation-changed", &rid, Some("keepalived/50"));
    b.relation_hook("cluster-relation-changed", &rid, Some("keepalived/0"));
    assert_eq!(a.state().priority, Some(254));
    assert!(a.service_actions().is_empty(), "{:?}", a.service.calls);
    assert_eq!(b.state().priority, Some(244));
    assert_eq!(b.service_actions(), vec!["reload keepalived-charm.service"]);
    assert_eq!(
        b.local(&rid),
        format!(
            r#"{{"priority":"244","timing-profiles":"{OFFERED}","vips":"192.0.2.100/24","vrrp-address":"192.0.2.11","vrrp-identity":"23","vrrp-segments":"192.0.2.0/24"}}"#
        )
    );
    assert!(
        b.juju.logs[0].contains("VRRP priority claim 254 is taken by an older unit; claimed 244")
    );
}

#[test]
fn cluster_changed_reads_only_the_remote_unit() {
    let rid = RelationId::new("cluster", 1);
    let mut a = peer_unit("keepalived/0", "192.0.2.10", &rid);
    a.deploy();
    a.relation_hook("cluster-relation-created", &rid, None);
    a.juju.relations.get_mut(&rid).unwrap().remote.insert(
        "keepalived/1".into(),
        [
            ("priority".to_string(), "253".to_string()),
            ("timing-profiles".to_string(), OFFERED.to_string()),
        ]
        .into(),
    );
    a.relation_hook("cluster-relation-changed", &rid, Some("keepalived/1"));
    assert_eq!(
        a.juju.calls,
        vec![
            "config-get",
            "state-get",
            "relation-get cluster:1 keepalived/1",
            "goal-state",
            "status-set",
            "is-leader",
            "state-set"
        ]
    );
}

#[test]
fn a_broken_website_relation_is_forgotten() {
    let mut u = Unit::configured("10.10.74.250");
    let website = u.relate("website", 2, "kubernetes-worker/0");
    assert!(u.state().published.contains_key("website:2"));
    u.relation_hook(
        "website-relation-departed",
        &website,
        Some("kubernetes-worker/0"),
    );
    u.juju.relations.remove(&website);
    u.relation_hook("website-relation-broken", &website, None);
    assert!(!u.state().published.contains_key("website:2"));
    assert!(u.relation_sets().is_empty());
    // Later hooks never touch the gone relation (relation-set on it would fail).
    let lb = u.relate("loadbalancer", 3, "kubernetes-master/0");
    u.set_config(json!({"port": 6443}));
    assert!(
        u.juju.calls.iter().all(|c| !c.contains("website:2")),
        "{:?}",
        u.juju.calls
    );
    assert_eq!(u.local(&lb), lb_bag("10.10.74.250", "6443"));
    // A new website relation gets the contract at once.
    let again = u.relate("website", 5, "kubernetes-worker/0");
    assert_eq!(
        u.local(&again),
        website_bag("10.10.74.250", "10.10.74.250", "6443")
    );
}

#[test]
fn a_departing_unit_leaves_its_engine_alone_until_stop() {
    let rid = RelationId::new("cluster", 1);
    let mut a = peer_unit("keepalived/0", "192.0.2.10", &rid);
    let mut b = peer_unit("keepalived/1", "192.0.2.11", &rid);
    for u in [&mut a, &mut b] {
        u.start_in_cluster(&rid);
    }
    sync_peers(&mut [&mut a, &mut b], &rid);
    a.relation_hook("cluster-relation-changed", &rid, Some("keepalived/1"));
    let conf = a.engine_config().unwrap();
    assert!(conf.contains("unicast_peer {\n        192.0.2.11\n"));
    a.juju
        .relations
        .get_mut(&rid)
        .unwrap()
        .remote
        .remove("keepalived/1");
    a.hook_env(
        "cluster-relation-departed",
        &[
            ("JUJU_RELATION", "cluster"),
            ("JUJU_RELATION_ID", "cluster:1"),
            ("JUJU_REMOTE_UNIT", "keepalived/1"),
            ("JUJU_DEPARTING_UNIT", "keepalived/0"),
        ],
    );
    assert_eq!(a.engine_config().unwrap(), conf);
    assert!(a.service_actions().is_empty());
}

#[test]
fn config_changed_relists_relations_and_rereads_every_peer_once() {
    let rid = RelationId::new("cluster", 1);
    let mut a = peer_unit("keepalived/0", "192.0.2.10", &rid);
    a.deploy();
    let mut peers = a.juju.relations[&rid].clone();
    peers.remote.insert("keepalived/1".into(), Bag::new());
    peers.remote.insert("keepalived/2".into(), Bag::new());
    a.juju.relations.insert(rid.clone(), peers);
    a.hook("config-changed");
    assert_eq!(
        a.juju.calls,
        vec![
            "config-get",
            "state-get",
            "relation-ids website",
            "relation-ids loadbalancer",
            "relation-ids cluster",
            "relation-list cluster:1",
            "relation-get cluster:1 keepalived/1",
            "relation-get cluster:1 keepalived/2",
            // The automatic timing profile counts the application's units.
            "goal-state",
            // The cos-agent relations (none here).
            "relation-ids cos-agent",
            // The peer bag was published by the deploy's config-changed: not again.
            "status-set",
            "is-leader",
            "state-set",
            // Peers that offer no fast timing yet (empty bags): back to VRRPv2 1 s.
            "juju-log",
        ]
    );
}

#[test]
fn a_distro_keepalived_the_original_charm_did_not_configure_is_left_alone() {
    let mut u = Unit::new(UNIT);
    let distro = u.root.path().join("lib/systemd/system/keepalived.service");
    fs::create_dir_all(distro.parent().unwrap()).unwrap();
    fs::write(&distro, "[Unit]\n").unwrap();
    let other = u.paths().distro_config();
    fs::create_dir_all(other.parent().unwrap()).unwrap();
    fs::write(&other, "vrrp_instance SOMEONE_ELSE {\n}\n").unwrap();
    u.service.active.insert("keepalived.service".into());
    u.hook("upgrade-charm");
    assert!(u
        .service
        .calls
        .iter()
        .all(|c| !c.contains("keepalived.service")));
    assert!(u.service.active.contains("keepalived.service"));
}

#[test]
fn a_dead_engine_is_started_again_by_the_next_hook_even_while_blocked() {
    let mut u = Unit::configured("10.10.74.250");
    let good = u.engine_config().unwrap();
    u.service.active.clear(); // the engine died, or the machine rebooted
    u.hook("update-status");
    assert_eq!(u.service_actions(), vec!["start keepalived-charm.service"]);
    // Blocked: the last good config keeps running, also after the engine died.
    u.set_config(json!({"port": 0}));
    u.service.active.clear();
    u.hook("update-status");
    assert_eq!(u.service_actions(), vec!["start keepalived-charm.service"]);
    assert_eq!(u.engine_config().unwrap(), good);
    assert_eq!(
        u.status(),
        Status::blocked("invalid port 0: allowed 1..65535")
    );
    // Fixed: the engine already runs exactly this config, nothing to tell it.
    u.set_config(json!({"port": 443}));
    assert!(u.service_actions().is_empty(), "{:?}", u.service.calls);
    assert_eq!(u.status(), Status::active("VIP 10.10.74.250 ready"));
    // Blocked before any good config: nothing to run.
    let mut fresh = Unit::new(UNIT);
    fresh.deploy();
    fresh.set_config(json!({"virtual_ip": "10.10.74.250", "port": 0}));
    assert!(fresh.service_actions().is_empty());
}

/// A unit refreshed from the original charm whose distro keepalived holds the VIP:
/// our engine starts beside it with the adopt marker, and the distro keepalived is
/// stopped and disabled by the next hook once our engine reports MASTER (make before
/// break).
#[test]
fn a_refresh_of_the_vip_holder_starts_our_engine_before_it_stops_the_distro_keepalived() {
    let mut u = Unit::new(UNIT);
    let paths = u.paths();
    let unit_file = u.root.path().join("lib/systemd/system/keepalived.service");
    fs::create_dir_all(unit_file.parent().unwrap()).unwrap();
    fs::write(&unit_file, "[Unit]\n").unwrap();
    fs::create_dir_all(paths.distro_config().parent().unwrap()).unwrap();
    fs::write(
        paths.distro_config(),
        "vrrp_script chk_svc_port {\n}\nvrrp_instance VI_1 {\n}\n",
    )
    .unwrap();
    u.service.active.insert("keepalived.service".into());
    // The distro keepalived holds the VIP on eth0.
    u.net.links[1]
        .addresses
        .push(crate::charm::iface::LinkAddress {
            addr: "192.0.2.100".parse().unwrap(),
            prefix_len: 24,
            secondary: true,
            local_scope: false,
        });
    u.juju
        .config
        .insert("virtual_ip".into(), json!("192.0.2.100/24"));
    u.hook("upgrade-charm");
    let keepalived_calls = |u: &Unit| -> Vec<String> {
        u.service
            .calls
            .iter()
            .filter(|c| c.contains("keepalived") && !c.starts_with("is-active"))
            .cloned()
            .collect()
    };
    assert_eq!(
        keepalived_calls(&u),
        [
            "enable keepalived-charm.service",
            "start keepalived-charm.service"
        ]
    );
    assert!(
        paths.adopt_marker().exists(),
        "written for the engine's start"
    );
    assert!(u.service.active.contains("keepalived.service"));
    // Our engine, now running, reports MASTER (the fake systemd runs nothing).
    fs::create_dir_all(paths.engine_state_dir()).unwrap();
    fs::write(
        paths.engine_state(),
        r#"{"instances":[{"name":"VI_1","state":"MASTER"}]}"#,
    )
    .unwrap();
    u.hook("config-changed");
    assert_eq!(
        keepalived_calls(&u),
        ["stop keepalived.service", "disable keepalived.service"]
    );
    assert!(!u.service.active.contains("keepalived.service"));
    assert!(u
        .juju
        .logs
        .iter()
        .any(|l| l.contains("the engine is MASTER: stopped and disabled the distro keepalived")));
    // Done: later hooks leave the distro keepalived alone.
    u.hook("update-status");
    assert_eq!(keepalived_calls(&u), Vec::<String>::new());
}

// ---------------------------------------------------------------- actions

/// Runs the `status` action on `u` with the engine's state file at `state_file`.
fn run_status_action(u: &mut Unit, state_file: &std::path::Path) {
    crate::charm::actions::run(
        "status",
        &mut u.juju,
        state_file,
        std::time::SystemTime::now(),
    )
    .unwrap();
}

#[test]
fn the_status_action_sets_the_engines_report_and_touches_nothing_else() {
    let mut u = Unit::new(UNIT);
    u.deploy();
    u.juju.calls.clear();
    let state_file = u.paths().engine_state();
    fs::create_dir_all(state_file.parent().unwrap()).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let text = format!(
        r#"{{"schema":1,"pid":7,"config":"c","updated_unix_ms":{now},"instances":[{{"name":"VI_1","family":"ipv4","vrid":23,"interface":"eth0","state":"BACKUP","base_priority":253,"effective_priority":253,"master":"192.0.2.11","last_transition_unix_ms":{now},"last_transition_reason":"higher priority advert","vips":["10.10.74.250/32"],"counters":{{"adverts_sent":0,"adverts_received":5,"became_master":0,"released":0,"drops":{{}},"checksum_forms":{{}}}}}}]}}"#
    );
    fs::write(&state_file, text).unwrap();
    run_status_action(&mut u, &state_file);
    assert_eq!(u.juju.calls, vec!["state-get", "action-set"]);
    assert_eq!(u.juju.action_failed, None);
    let results: BTreeMap<String, String> = u.juju.action_results.iter().cloned().collect();
    // Deployed without virtual_ip: no timing chosen yet.
    assert_eq!(results["timing"], "unknown");
    assert_eq!(results["instances.vi-1.role"], "BACKUP");
    assert_eq!(results["instances.vi-1.master"], "192.0.2.11");
    assert_eq!(results["engine.stale"], "false");
    assert_eq!(results["engine.pid"], "7");
}

#[test]
fn the_status_action_fails_with_what_to_check_when_the_engine_never_reported() {
    let mut u = Unit::new(UNIT);
    u.deploy();
    u.juju.calls.clear();
    let state_file = u.paths().engine_state();
    run_status_action(&mut u, &state_file);
    assert_eq!(u.juju.calls, vec!["action-fail"]);
    let message = u.juju.action_failed.clone().unwrap();
    assert!(
        message.contains("systemctl status keepalived-charm"),
        "{message}"
    );
    assert!(u.juju.action_results.is_empty());
}

// ---------------------------------------------------------------- cos-agent

#[test]
fn cos_agent_gets_its_config_on_joining_and_again_only_when_it_changes() {
    let mut u = Unit::new(UNIT);
    u.deploy();
    let rid = RelationId::new("cos-agent", 9);
    u.juju
        .relations
        .insert(rid.clone(), FakeRelation::default());
    u.relation_hook("cos-agent-relation-created", &rid, None);
    let text = u.juju.relations[&rid].local["config"].clone();
    let config: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        config,
        crate::charm::cos::payload(Some("127.0.0.1:9165".parse().unwrap()))
    );
    // joined, changed and a config-changed that does not touch it write nothing.
    u.relation_hook("cos-agent-relation-joined", &rid, Some("otelcol/0"));
    u.relation_hook("cos-agent-relation-changed", &rid, Some("otelcol/0"));
    u.set_config(json!({"port": 8443}));
    let sets = |u: &Unit| {
        u.juju
            .history
            .iter()
            .chain(&u.juju.calls)
            .filter(|c| c.starts_with("relation-set cos-agent:9"))
            .count()
    };
    assert_eq!(sets(&u), 1);
    // metrics_address off: no scrape job any more.
    u.set_config(json!({"port": 8443, "metrics_address": ""}));
    let config: Value = serde_json::from_str(&u.juju.relations[&rid].local["config"]).unwrap();
    assert_eq!(config["metrics_scrape_jobs"], json!([]));
    assert_eq!(sets(&u), 2);
    // Gone: forgotten, so a new relation with the same id would be written again.
    u.relation_hook("cos-agent-relation-broken", &rid, Some("otelcol/0"));
    assert!(!u.juju.state["keepalived-charm"].contains("cos-agent:9"));
}

/// The automatic timing profile (`timing`): VRRPv2 1 s while goal-state lists a unit
/// that does not offer the fast profile (one still on the original charm never joins
/// the peer relation), VRRPv3 0.1 s with one reload once it is gone, back when such a
/// unit appears; explicit settings or a password skip goal-state altogether.
#[test]
fn the_timing_profile_follows_goal_state_and_explicit_settings_win() {
    let mut u = Unit::new(UNIT);
    u.juju.app_units = vec!["keepalived/7".into()];
    u.deploy();
    u.set_config(json!({ "virtual_ip": "10.10.74.250" }));
    let compatible = golden("default-ipv4.conf", u.root.path());
    assert_eq!(u.engine_config().unwrap(), compatible);
    assert!(
        u.juju
            .logs
            .iter()
            .any(|l| l
                .contains("timing VRRPv2 1 s: keepalived/7 does not run this charm's engine yet")),
        "{:?}",
        u.juju.logs
    );
    // The old unit is replaced: the next hook moves this unit to the fast profile.
    u.juju.app_units.clear();
    u.hook("update-status");
    assert_eq!(u.engine_config().unwrap(), fast(compatible.clone()));
    u.assert_reloaded_once("to the fast profile");
    assert_eq!(
        u.state().timing.as_deref(),
        Some("VRRPv3 0.07 s, down after 5 missed adverts: every unit runs this charm's engine")
    );
    // An old unit appears again: back, with one reload.
    u.juju.app_units = vec!["keepalived/8".into()];
    u.hook("update-status");
    assert_eq!(u.engine_config().unwrap(), compatible);
    u.assert_reloaded_once("back to the compatible profile");

    // Explicit settings win, and goal-state is not asked.
    u.juju.app_units.clear();
    u.set_config(json!({ "vrrp_version": 2 }));
    assert_eq!(u.engine_config().unwrap(), compatible);
    assert!(!u.juju.calls.iter().any(|c| c == "goal-state"));
    u.juju.config.remove("vrrp_version");
    u.set_config(json!({ "advert_interval": "2" }));
    assert_eq!(
        u.engine_config().unwrap(),
        compatible.replace("advert_int 1\n", "advert_int 2\n")
    );
    assert!(!u.juju.calls.iter().any(|c| c == "goal-state"));
    // A password pins VRRPv2 (VRRPv3 cannot carry it).
    u.juju.config.remove("advert_interval");
    u.set_config(json!({ "vrrp_password": "s3cr3t" }));
    assert!(u.engine_config().unwrap().contains("advert_int 1\n"));
    assert!(!u.engine_config().unwrap().contains("version 3"));
    assert!(!u.juju.calls.iter().any(|c| c == "goal-state"));
}

/// Every unit publishes, then hears every other (each peer's joined and changed
/// hooks, twice: the second round sees what the first made the others publish).
fn converge(units: &mut [&mut Unit], rid: &RelationId) {
    peer_round(units, rid, true);
    peer_round(units, rid, false);
    sync_peers(units, rid);
}

/// Each unit publishes, then hears every other once: as arriving peers (joined and
/// changed) on the `first` round, as a changed bag after.
fn peer_round(units: &mut [&mut Unit], rid: &RelationId, first: bool) {
    sync_peers(units, rid);
    let names: Vec<String> = units.iter().map(|u| u.juju.unit.clone()).collect();
    for u in units.iter_mut() {
        let me = u.juju.unit.clone();
        for other in names.iter().filter(|n| **n != me) {
            if first {
                peer_arrives(u, rid, other);
            } else {
                u.relation_hook("cluster-relation-changed", rid, Some(other));
            }
        }
    }
}

/// K-17: a `router_id` change reaches the units one by one. A unit that moved speaks
/// the old VRID too (`rolling_from`) while some peer still publishes it, publishes
/// only its new identity, and drops the old one once every peer publishes the new.
#[test]
fn a_rolling_router_id_change_bridges_the_old_vrid_until_every_peer_moved() {
    let rid = RelationId::new("cluster", 1);
    let mut a = peer_unit("keepalived/0", "192.0.2.10", &rid);
    let mut b = peer_unit("keepalived/1", "192.0.2.11", &rid);
    let mut c = peer_unit("keepalived/2", "192.0.2.12", &rid);
    for u in [&mut a, &mut b, &mut c] {
        u.start_in_cluster(&rid);
    }
    converge(&mut [&mut a, &mut b, &mut c], &rid);
    let bridged = |u: &Unit| {
        let text = u.engine_config().unwrap();
        let vrid = text.contains("virtual_router_id 24\n");
        let rolling = text
            .contains("    rolling_from {\n        virtual_router_id 23\n        unicast_peer {");
        (vrid, rolling)
    };
    let identity = |u: &Unit| {
        let bag: Bag = serde_json::from_str(&u.local(&rid)).unwrap();
        bag["vrrp-identity"].clone()
    };
    a.set_config(json!({"router_id": 24}));
    assert_eq!(bridged(&a), (true, true), "{:?}", a.engine_config());
    assert_eq!(identity(&a), "24/unicast");
    assert!(a.juju.logs.iter().any(|l| l.contains(
        "router_id, vrrp_password or unicast changed while a peer may still run VRID 23 over unicast: the engine speaks both"
    )));
    sync_peers(&mut [&mut a, &mut b, &mut c], &rid);
    // A unit still on 23 that hears a peer on 24 speaks 24 too (it can: the
    // fingerprint tells all of it); either side's bridge keeps one election.
    b.relation_hook("cluster-relation-changed", &rid, Some("keepalived/0"));
    let text = b.engine_config().unwrap();
    assert!(text.contains("    virtual_router_id 23\n"), "{text}");
    assert!(
        text.contains("    rolling_from {\n        virtual_router_id 24\n"),
        "{text}"
    );
    b.set_config(json!({"router_id": 24}));
    assert_eq!(bridged(&b), (true, true), "c still publishes 23");
    sync_peers(&mut [&mut a, &mut b, &mut c], &rid);
    for other in ["keepalived/0", "keepalived/1"] {
        c.relation_hook("cluster-relation-changed", &rid, Some(other));
    }
    c.set_config(json!({"router_id": 24}));
    assert_eq!(bridged(&c), (true, false), "every peer already runs 24");
    sync_peers(&mut [&mut a, &mut b, &mut c], &rid);
    for (u, others) in [
        (&mut a, ["keepalived/1", "keepalived/2"]),
        (&mut b, ["keepalived/0", "keepalived/2"]),
    ] {
        for other in others {
            u.relation_hook("cluster-relation-changed", &rid, Some(other));
        }
        assert_eq!(bridged(u), (true, false), "{}", u.juju.unit);
    }
}

/// K-17: a unit added while a `router_id` change is under way has run nothing to
/// remember, and bridges the old VRID its peers still publish until they moved.
#[test]
fn a_unit_added_mid_router_id_change_bridges_the_vrid_its_peers_still_run() {
    let rid = RelationId::new("cluster", 1);
    let mut a = peer_unit("keepalived/0", "192.0.2.10", &rid);
    let mut b = peer_unit("keepalived/1", "192.0.2.11", &rid);
    for u in [&mut a, &mut b] {
        u.start_in_cluster(&rid);
    }
    converge(&mut [&mut a, &mut b], &rid);
    // `juju config keepalived router_id=24`, then `juju add-unit` before a and b
    // ran config-changed.
    let mut c = peer_unit("keepalived/2", "192.0.2.12", &rid);
    c.juju.config.insert("router_id".into(), json!(24));
    c.start_in_cluster(&rid);
    sync_peers(&mut [&mut a, &mut b, &mut c], &rid);
    for other in ["keepalived/0", "keepalived/1"] {
        peer_arrives(&mut c, &rid, other);
    }
    let text = c.engine_config().unwrap();
    assert!(text.contains("virtual_router_id 24\n"), "{text}");
    assert!(
        text.contains("    rolling_from {\n        virtual_router_id 23\n        unicast_peer {"),
        "{text}"
    );
    // Once both peers publish 24, c drops the old VRID.
    for u in [&mut a, &mut b] {
        u.set_config(json!({"router_id": 24}));
    }
    sync_peers(&mut [&mut a, &mut b, &mut c], &rid);
    for other in ["keepalived/0", "keepalived/1"] {
        c.relation_hook("cluster-relation-changed", &rid, Some(other));
    }
    assert!(!c.engine_config().unwrap().contains("rolling_from"));
}

/// K-17: a `vrrp_password` change is bridged the same way; the old password goes
/// into the engine config (mode 0600) only, while the peer bag carries a
/// fingerprint, and the timing stays on VRRPv2 while the old password is spoken.
#[test]
fn a_rolling_password_change_bridges_the_old_password_and_never_publishes_it() {
    let rid = RelationId::new("cluster", 1);
    let mut a = peer_unit("keepalived/0", "192.0.2.10", &rid);
    let mut b = peer_unit("keepalived/1", "192.0.2.11", &rid);
    for u in [&mut a, &mut b] {
        u.juju
            .config
            .insert("vrrp_password".into(), json!("oldpass"));
        u.start_in_cluster(&rid);
    }
    converge(&mut [&mut a, &mut b], &rid);
    a.set_config(json!({"vrrp_password": ""}));
    let text = a.engine_config().unwrap();
    assert!(!text.contains("\n    authentication {"), "{text}");
    assert!(
        text.contains("    rolling_from {\n        virtual_router_id 23\n        authentication {\n            auth_type PASS\n            auth_pass oldpass\n        }\n        unicast_peer {\n            192.0.2.11\n        }\n    }\n"),
        "{text}"
    );
    assert!(
        !text.contains("version 3"),
        "VRRPv2 while the old password goes out"
    );
    let mode = fs::metadata(a.paths().engine_config())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let texts = a
        .juju
        .statuses
        .iter()
        .map(|s| s.message.clone())
        .chain(a.juju.history.iter().cloned())
        .chain(a.juju.calls.iter().cloned())
        .chain(a.juju.logs.iter().cloned())
        .chain(a.juju.state.values().cloned())
        .chain([a.local(&rid)]);
    for text in texts {
        assert!(!text.contains("oldpass"), "{text}");
    }
    // The peer moves too: both drop the old password.
    sync_peers(&mut [&mut a, &mut b], &rid);
    b.set_config(json!({"vrrp_password": ""}));
    assert!(!b.engine_config().unwrap().contains("rolling_from"));
    sync_peers(&mut [&mut a, &mut b], &rid);
    a.relation_hook("cluster-relation-changed", &rid, Some("keepalived/1"));
    assert!(!a.engine_config().unwrap().contains("rolling_from"));
}

/// K-17: switching `unicast` on is bridged too: the first unit to switch sends to
/// the group and to its peers and hears both, until every peer publishes unicast.
#[test]
fn a_rolling_unicast_change_bridges_the_multicast_group_until_every_peer_moved() {
    let rid = RelationId::new("cluster", 1);
    let mut a = peer_unit("keepalived/0", "192.0.2.10", &rid);
    let mut b = peer_unit("keepalived/1", "192.0.2.11", &rid);
    for u in [&mut a, &mut b] {
        u.juju.config.insert("unicast".into(), json!(false));
        u.start_in_cluster(&rid);
    }
    sync_peers(&mut [&mut a, &mut b], &rid);
    a.relation_hook("cluster-relation-changed", &rid, Some("keepalived/1"));
    assert!(!a.engine_config().unwrap().contains("unicast_peer"));
    a.set_config(json!({"unicast": true}));
    let text = a.engine_config().unwrap();
    assert!(
        text.contains("    unicast_peer {\n        192.0.2.11\n    }\n    # A rolling")
            && text.contains("    rolling_from {\n        virtual_router_id 23\n    }\n"),
        "{text}"
    );
    sync_peers(&mut [&mut a, &mut b], &rid);
    b.relation_hook("cluster-relation-changed", &rid, Some("keepalived/0"));
    b.set_config(json!({"unicast": true}));
    assert!(!b.engine_config().unwrap().contains("rolling_from"));
    sync_peers(&mut [&mut a, &mut b], &rid);
    a.relation_hook("cluster-relation-changed", &rid, Some("keepalived/1"));
    assert!(!a.engine_config().unwrap().contains("rolling_from"));
}
