//! Shared set-up and observations for the end-to-end charm tests (`tests/charm_*.rs`):
//! the REAL `keepalived-charm` binary runs every hook through the Juju hook-tool
//! emulator, each unit in its own network namespace so that the charm's netlink
//! interface discovery sees a known machine.
//!
//! Use it from a test file after the emulator:
//! `#[path = "emulator/mod.rs"] mod emulator;` then `#[path = "e2e/mod.rs"] mod e2e;`.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use juju_emulator::{address_bag, Bag, EmuError, HookRun, Model, NetnsSpec, Status};

/// The VIP of the seeds (`juju config keepalived virtual_ip=10.10.74.250`).
pub const VIP: &str = "10.10.74.250";

/// The engine's systemd unit.
pub const UNIT: &str = "keepalived-charm.service";

/// Where the golden files name the engine binary (machine root `/`).
const INSTALLED_BINARY: &str = "/usr/local/lib/keepalived-charm/keepalived-charm";

/// The kernel values every unit's machine starts with (the stand-in `sysctl` would
/// otherwise read the namespace's /proc, which the test does not control).
pub const SYSCTL_BASELINE: [(&str, &str); 2] = [
    ("net.ipv4.ip_nonlocal_bind", "0"),
    ("net.ipv6.ip_nonlocal_bind", "0"),
];

/// What a unit's machine looks like on the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Net {
    /// `lo` and `eth0` with the unit's address in a /24 and a default route via .1:
    /// the machine the golden files in tests/golden/ were rendered for (render.rs's
    /// snapshot), plus `fd00::1N/64` on `eth0` and `eth1` (with its veth end `eth1p`)
    /// holding `10.20.0.1N/16`.
    Golden,
    /// Only `lo` and `eth0` with the unit's address in a /24, default route via .1.
    Plain,
    /// `lo` and `eth0` with `10.77.0.1N/24` and NO default route: a VIP outside that
    /// subnet has no interface.
    Isolated,
}

fn ip(args: &[&str]) {
    let out = Command::new(juju_emulator::netns::ip_binary())
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run ip (iproute2 is required): {e}"));
    assert!(
        out.status.success(),
        "ip {args:?} failed (these tests need root): {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The last octet of a unit's deploy address (`192.0.2.1N`).
fn host_octet(m: &Model, unit: &str) -> String {
    let address = &m.unit(unit).address;
    address
        .rsplit('.')
        .next()
        .unwrap_or_else(|| panic!("{unit} has no IPv4 address: {address}"))
        .to_string()
}

/// Gives `unit` its machine: network namespace and sysctl baseline.
pub fn prepare_machine(m: &mut Model, unit: &str, net: Net) -> Result<(), EmuError> {
    let n = host_octet(m, unit);
    let spec = match net {
        Net::Golden | Net::Plain => {
            NetnsSpec::new("eth0", &format!("192.0.2.{n}/24")).with_gateway("192.0.2.1")
        }
        Net::Isolated => NetnsSpec::new("eth0", &format!("10.77.0.{n}/24")),
    };
    m.set_unit_netns(unit, spec)?;
    if net == Net::Golden {
        let ns = m.unit(unit).netns.as_ref().expect("netns").name.clone();
        ip(&[
            "-n",
            &ns,
            "addr",
            "add",
            &format!("fd00::{n}/64"),
            "dev",
            "eth0",
            "nodad",
        ]);
        ip(&[
            "-n", &ns, "link", "add", "eth1", "type", "veth", "peer", "name", "eth1p",
        ]);
        ip(&[
            "-n",
            &ns,
            "addr",
            "add",
            &format!("10.20.0.{n}/16"),
            "dev",
            "eth1",
        ]);
        ip(&["-n", &ns, "link", "set", "eth1", "up"]);
    }
    let machine = &mut m.unit_mut(unit).machine;
    for (k, v) in SYSCTL_BASELINE {
        machine.sysctl.insert(k.into(), v.into());
    }
    Ok(())
}

/// A lone unit's set-up hooks in Juju's order (docs/juju-contract.md J-4); with a peer, the
/// peer relation is joined after these.
pub const LEADER_SETUP: [&str; 8] = [
    "install",
    "cluster-relation-created",
    "juju-info-relation-created",
    "leader-elected",
    "config-changed",
    "start",
    "juju-info-relation-joined",
    "juju-info-relation-changed",
];

/// Panics with the hook's output unless every run exited 0.
pub fn all_ok(runs: &[HookRun]) {
    for r in runs {
        assert!(
            r.ok(),
            "{} {} exited {:?}:\n{}\n{}",
            r.unit,
            r.hook.name,
            r.exit_code,
            r.stdout,
            r.stderr
        );
    }
}

/// The charm binary the units run: the one cargo built, without its debug info.
///
/// Same code, same behaviour; but `install` copies the charm's binary to be the
/// engine (and fsyncs it), and the debug build is ~100 MB, which made every install
/// take most of a second. Stripped once per test process into cargo's scratch dir
/// (temp file + rename, so concurrent test processes never see half a file); if
/// `strip` is missing the full binary is used.
pub fn charm_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let built = PathBuf::from(netns_lab::charm_binary());
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("e2e-charm");
        let target = dir.join("keepalived-charm");
        let tmp = dir.join(format!(".keepalived-charm.{}", std::process::id()));
        let stripped = std::fs::create_dir_all(&dir).is_ok()
            && Command::new("strip")
                .arg("-o")
                .arg(&tmp)
                .arg(&built)
                .status()
                .is_ok_and(|s| s.success())
            && std::fs::rename(&tmp, &target).is_ok();
        if stripped {
            target
        } else {
            let _ = std::fs::remove_file(&tmp);
            eprintln!("e2e: cannot strip {}, using it as built", built.display());
            built
        }
    })
}

/// An empty model whose units run [`charm_binary`].
pub fn model() -> Model {
    let mut m = Model::new();
    m.set_charm_binary(charm_binary());
    m
}

/// A model of `n` units on `net` machines, with `config` set before deploy (an empty
/// `config` deploys unconfigured), every hook of the deploy succeeding.
pub fn deployed(n: usize, net: Net, config: &[(&str, &str)]) -> Model {
    let mut m = model();
    for (k, v) in config {
        m.set_config_value(k, v).expect("config value");
    }
    let runs = m
        .deploy_with(n, |m, unit| prepare_machine(m, unit, net))
        .expect("deploy");
    all_ok(&runs);
    m
}

/// [`deployed`] plus the seed relations: `website` (kubernetes-worker),
/// `loadbalancer` (kubernetes-master) and `lb-sink` (kubeapi-load-balancer).
pub fn deployed_and_related(n: usize, net: Net, config: &[(&str, &str)]) -> Model {
    let mut m = deployed(n, net, config);
    for (endpoint, app) in [
        ("website", "kubernetes-worker"),
        ("loadbalancer", "kubernetes-master"),
        ("lb-sink", "kubeapi-load-balancer"),
    ] {
        let unit = format!("{app}/0");
        let (_, runs) = m.integrate(endpoint, app, &[&unit]).expect("integrate");
        all_ok(&runs);
    }
    m
}

/// Sets config values (`juju config`) and requires every hook to succeed.
pub fn config(m: &mut Model, settings: &[(&str, &str)]) -> Vec<HookRun> {
    let runs = m.config(settings).expect("config");
    all_ok(&runs);
    runs
}

pub fn engine_config_path(m: &Model, unit: &str) -> PathBuf {
    m.unit(unit)
        .root
        .join("etc/keepalived-charm/keepalived.conf")
}

/// The engine config the unit rendered (panics if there is none).
pub fn engine_config(m: &Model, unit: &str) -> String {
    let path = engine_config_path(m, unit);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A golden file as `unit` renders it: the engine binary lives under its root.
/// A golden file (rendered at the compatible timing, VRRPv2 1 s) at the fast timing
/// profile, what every unit runs once all of them run this charm (`timing`).
pub fn fast(conf: String) -> String {
    conf.replace("    advert_int 1\n", FAST_TIMING)
}

/// The fast timing's lines in a rendered engine config: VRRPv3 70 ms, the Master down
/// after five missed adverts (`src/charm/timing.rs`).
pub const FAST_TIMING: &str = "    advert_int 0.07\n    version 3\n    down_timer_adverts 5\n";

/// Whether a rendered engine config runs the fast timing.
pub fn runs_fast_timing(conf: &str) -> bool {
    conf.contains(FAST_TIMING)
}

/// Whether a rendered engine config runs the compatible timing (VRRPv2 1 s).
pub fn runs_compatible_timing(conf: &str) -> bool {
    conf.contains("    advert_int 1\n") && !conf.contains("version 3")
}

pub fn golden(m: &Model, unit: &str, name: &str) -> String {
    let path = netns_lab::repo().join("tests/golden").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let installed = m
        .unit(unit)
        .root
        .join(INSTALLED_BINARY.trim_start_matches('/'));
    text.replace(INSTALLED_BINARY, &installed.display().to_string())
}

/// One file's identity and content: equal stamps mean the file was not written
/// (every write of the charm is a rename of a new file, so the inode changes too).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    pub ino: u64,
    pub mtime_ns: i128,
    pub mode: u32,
    pub bytes: Vec<u8>,
}

/// Every file under the unit's machine root, by path relative to it.
pub fn files(m: &Model, unit: &str) -> BTreeMap<String, Stamp> {
    let root = m.unit(unit).root.clone();
    let mut out = BTreeMap::new();
    walk(&root, &root, &mut out);
    out
}

fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Stamp>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.expect("dir entry").path();
        let meta = std::fs::symlink_metadata(&path).expect("metadata");
        if meta.is_dir() {
            walk(root, &path, out);
            continue;
        }
        let rel = path
            .strip_prefix(root)
            .expect("under root")
            .display()
            .to_string();
        let stamp = Stamp {
            ino: meta.ino(),
            mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
            mode: meta.mode() & 0o7777,
            bytes: std::fs::read(&path).unwrap_or_default(),
        };
        out.insert(rel, stamp);
    }
}

/// Asserts that no file under the unit's root was created, removed or written.
pub fn assert_untouched(before: &BTreeMap<String, Stamp>, m: &Model, unit: &str, why: &str) {
    let after = files(m, unit);
    let names = |f: &BTreeMap<String, Stamp>| f.keys().cloned().collect::<Vec<_>>();
    assert_eq!(
        names(&after),
        names(before),
        "{unit}: files changed ({why})"
    );
    for (path, stamp) in before {
        let now = &after[path];
        assert!(
            now.bytes == stamp.bytes,
            "{unit}: {path} content changed ({why})"
        );
        assert_eq!(
            (now.ino, now.mtime_ns, now.mode),
            (stamp.ino, stamp.mtime_ns, stamp.mode),
            "{unit}: {path} was rewritten ({why})"
        );
    }
}

/// The machine calls (`systemctl ...`, `sysctl ...`) the runs made on `unit`, in order.
pub fn machine_calls(runs: &[HookRun], unit: &str) -> Vec<String> {
    runs.iter()
        .filter(|r| r.unit == unit)
        .flat_map(|r| r.service_calls.iter().map(|c| c.argv.join(" ")))
        .collect()
}

/// `systemctl` calls of `runs` on `unit` that act on the engine (not `is-active`).
pub fn engine_actions(runs: &[HookRun], unit: &str) -> Vec<String> {
    machine_calls(runs, unit)
        .into_iter()
        .filter(|c| c.starts_with("systemctl ") && !c.starts_with("systemctl is-active"))
        .collect()
}

/// How often `systemctl <verb> keepalived-charm.service` appears in the runs on `unit`.
pub fn count_verb(runs: &[HookRun], unit: &str, verb: &str) -> usize {
    let call = format!("systemctl {verb} {UNIT}");
    machine_calls(runs, unit)
        .iter()
        .filter(|c| **c == call)
        .count()
}

/// The hook names of `runs` on `unit`.
pub fn hooks(runs: &[HookRun], unit: &str) -> Vec<String> {
    runs.iter()
        .filter(|r| r.unit == unit)
        .map(|r| r.hook.name.clone())
        .collect()
}

/// The unit's own bag on the first relation of `endpoint`.
pub fn unit_bag(m: &Model, endpoint: &str, unit: &str) -> Bag {
    let rel = m
        .relation_by_endpoint(endpoint)
        .unwrap_or_else(|| panic!("no {endpoint} relation"));
    rel.local_units_data.get(unit).cloned().unwrap_or_default()
}

/// The application bag of the first relation of `endpoint`.
pub fn app_bag(m: &Model, endpoint: &str) -> Bag {
    m.relation_by_endpoint(endpoint)
        .unwrap_or_else(|| panic!("no {endpoint} relation"))
        .local_app_data
        .clone()
}

/// Juju's own keys of a unit at `address` plus `extra`.
pub fn bag_with(address: &str, extra: &[(&str, &str)]) -> Bag {
    let mut bag = address_bag(address);
    for (k, v) in extra {
        bag.insert(k.to_string(), v.to_string());
    }
    bag
}

pub fn active(message: &str) -> Status {
    Status::new("active", message)
}

pub fn blocked(message: &str) -> Status {
    Status::new("blocked", message)
}

/// Every machine call of the unit so far as `(hook, call)`, the root shown as `{root}`.
pub fn calls_by_hook(m: &Model, unit: &str) -> Vec<(String, String)> {
    let root = m.unit(unit).root.display().to_string();
    m.unit(unit)
        .machine
        .calls
        .iter()
        .map(|c| (c.hook.clone(), c.argv.join(" ").replace(&root, "{root}")))
        .collect()
}

/// `(hook, call)` pairs to compare with [`calls_by_hook`].
pub fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(h, c)| (h.to_string(), c.to_string()))
        .collect()
}

/// A copy of [`charm_binary`] with different bytes (trailing bytes do not stop an ELF
/// from running): the next charm revision, whose engine binary differs.
pub fn next_revision(m: &Model) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = m.dir.path().join("next-keepalived-charm");
    let mut bytes = std::fs::read(charm_binary()).expect("charm binary");
    bytes.extend_from_slice(b"next");
    std::fs::write(&path, bytes).expect("write next revision");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}
