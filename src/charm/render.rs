//! Rendering the engine config and the systemd unit (tera), and writing files
//! atomically.
//!
//! The templates are compiled into the binary from `templates/`: the charm's binary
//! and the templates it renders can never come from different versions, and the
//! golden tests check exactly what ships.

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::desired::{EngineConfig, Instance};
use super::paths::Paths;
use vrrp_core::proto::{AdvertInterval, Version};

const ENGINE_TEMPLATE: &str = include_str!("../../templates/keepalived.conf.tera");
const UNIT_TEMPLATE: &str = include_str!("../../templates/keepalived-charm.service.tera");

/// Mode of a rendered file that carries `vrrp_password`.
pub const SECRET_MODE: u32 = 0o600;
/// Mode of any other rendered file.
pub const PUBLIC_MODE: u32 = 0o644;
/// Mode of the installed engine binary.
pub const BINARY_MODE: u32 = 0o755;

/// A template failed to render: a bug in a template, never an operator's mistake.
#[derive(Debug, thiserror::Error)]
#[error("cannot render template {template}: {message}")]
pub struct RenderError {
    template: &'static str,
    message: String,
}

fn render(
    name: &'static str,
    source: &str,
    context: &impl Serialize,
) -> Result<String, RenderError> {
    let err = |e: tera::Error| {
        // tera keeps the useful part in the source chain.
        let mut message = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            message.push_str(": ");
            message.push_str(&s.to_string());
            source = s.source();
        }
        RenderError {
            template: name,
            message,
        }
    };
    let mut tera = tera::Tera::default();
    tera.autoescape_on(Vec::new());
    tera.add_raw_template(name, source).map_err(err)?;
    let context = tera::Context::from_serialize(context).map_err(err)?;
    tera.render(name, &context).map_err(err)
}

/// The keepalived.conf template's context: the typed plan, in keepalived.conf's words
/// (the only place the plan becomes text).
#[derive(Debug, PartialEq, Eq, Serialize)]
struct EngineContext {
    check_program: String,
    port: u16,
    healthcheck_interval: u32,
    check_weight: i32,
    instances: Vec<InstanceContext>,
    paused: bool,
}

#[derive(Debug, PartialEq, Eq, Serialize)]
struct InstanceContext {
    name: &'static str,
    interface: String,
    vrid: u8,
    priority: u8,
    advert_int: String,
    /// `Some(3)` renders `version 3`; `None` leaves keepalived's default (v2 for IPv4),
    /// so the default file is the original charm's plus the priority.
    version: Option<u8>,
    /// `Some(n)` renders `down_timer_adverts n`; the RFCs' 3 is not written.
    down_timer_adverts: Option<u8>,
    nopreempt: bool,
    auth_pass: Option<String>,
    unicast_src_ip: Option<String>,
    unicast_peers: Vec<String>,
    vips: Vec<String>,
    /// `rolling_from { virtual_router_id N [authentication] [unicast_peer]
    /// [interface] }` (K-17).
    rolling_vrid: Option<u8>,
    rolling_auth_pass: Option<String>,
    rolling_unicast_peers: Vec<String>,
    rolling_interface: Option<String>,
}

fn engine_context(config: &EngineConfig) -> EngineContext {
    EngineContext {
        check_program: config.check_program.display().to_string(),
        port: config.port,
        healthcheck_interval: config.healthcheck_interval,
        check_weight: config.check_weight,
        instances: config.instances.iter().map(instance_context).collect(),
        paused: config.paused,
    }
}

fn instance_context(i: &Instance) -> InstanceContext {
    let show = |v: &[std::net::IpAddr]| v.iter().map(ToString::to_string).collect();
    InstanceContext {
        name: i.name,
        interface: i.interface.clone(),
        vrid: i.vrid.get(),
        priority: i.priority.get(),
        advert_int: advert_int_text(i.advert_interval),
        version: (i.version == Version::V3).then_some(3),
        down_timer_adverts: Some(i.down_timer_adverts)
            .filter(|n| *n != vrrp_core::proto::Timers::RFC_DOWN_ADVERTS),
        nopreempt: !i.preempt,
        auth_pass: i.password.as_ref().map(|p| p.expose().to_string()),
        unicast_src_ip: i.unicast.as_ref().map(|u| u.source.to_string()),
        unicast_peers: i
            .unicast
            .as_ref()
            .map(|u| show(&u.peers))
            .unwrap_or_default(),
        vips: i.vips.iter().map(ToString::to_string).collect(),
        rolling_vrid: i.rolling_from.as_ref().map(|r| r.vrid.get()),
        rolling_auth_pass: i
            .rolling_from
            .as_ref()
            .and_then(|r| r.password.as_ref())
            .map(|p| p.expose().to_string()),
        rolling_unicast_peers: i
            .rolling_from
            .as_ref()
            .map(|r| show(&r.unicast_peers))
            .unwrap_or_default(),
        rolling_interface: i.rolling_from.as_ref().and_then(|r| r.interface.clone()),
    }
}

/// `advert_int` as keepalived.conf writes it: `1`, `0.1`, `0.25`, `40.95` (the
/// shortest decimal, unlike `AdvertInterval`'s `Display`, which keeps two places).
pub fn advert_int_text(interval: AdvertInterval) -> String {
    let c = interval.centis();
    match (c / 100, c % 100) {
        (s, 0) => s.to_string(),
        (s, f) if f % 10 == 0 => format!("{s}.{}", f / 10),
        (s, f) => format!("{s}.{f:02}"),
    }
}

/// The engine's keepalived.conf.
pub fn engine_config(config: &EngineConfig) -> Result<String, RenderError> {
    render(
        "keepalived.conf.tera",
        ENGINE_TEMPLATE,
        &engine_context(config),
    )
}

#[derive(Serialize)]
struct UnitContext {
    binary: String,
    config: String,
    state_file: String,
    state_dir: String,
    metrics_file: String,
}

/// The engine's systemd unit, with every path under the charm's root.
pub fn unit_file(paths: &Paths) -> Result<String, RenderError> {
    let show = |p: PathBuf| p.display().to_string();
    render(
        "keepalived-charm.service.tera",
        UNIT_TEMPLATE,
        &UnitContext {
            binary: show(paths.engine_binary()),
            config: show(paths.engine_config()),
            state_file: show(paths.engine_state()),
            state_dir: show(paths.engine_state_dir()),
            metrics_file: show(paths.engine_metrics_file()),
        },
    )
}

/// Writes files atomically and durably (see [`crate::atomic_write`]); re-exported
/// because every file the charm writes goes through this module.
pub use crate::atomic_write::write_atomic;

/// Writes the file only if its content or mode differ; returns whether it wrote.
pub fn write_if_changed(path: &Path, content: &[u8], mode: u32) -> io::Result<bool> {
    if let Ok(meta) = fs::metadata(path) {
        if meta.permissions().mode() & 0o7777 == mode {
            if let Ok(existing) = fs::read(path) {
                if existing == content {
                    return Ok(false);
                }
            }
        }
    }
    write_atomic(path, content, mode)?;
    Ok(true)
}

/// A file's identity for "has it been rewritten since": inode and mtime (ns). Every
/// write here is a rename of a new file, so any write changes the inode; nothing
/// secret is in it, unlike a hash of a file that holds `vrrp_password`. `None` when
/// the file does not exist.
pub fn stamp(path: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let meta = fs::metadata(path).ok()?;
    Some(format!(
        "{}:{}.{:09}",
        meta.ino(),
        meta.mtime(),
        meta.mtime_nsec()
    ))
}

/// Removes a file; a file that is already gone is fine. Returns whether it existed.
pub fn remove_if_exists(path: &Path) -> io::Result<bool> {
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::charm::desired::{desired, Desired, Facts, PeerAddresses};
    use crate::charm::iface::tests::snapshot;
    use crate::charm::options::Options;

    /// The interesting configurations, each with its golden file in tests/golden/.
    pub(crate) fn golden_cases() -> Vec<(&'static str, Options, Vec<PeerAddresses>)> {
        let o = |virtual_ip: &str| Options {
            virtual_ip: virtual_ip.into(),
            ..Options::default()
        };
        let peer = |unit: &str, v4: &str| PeerAddresses {
            unit: unit.into(),
            v4: Some(v4.parse().unwrap()),
            v6: None,
            vips: Vec::new(),
            timing_profiles: Default::default(),
            identity: None,
            segments: Vec::new(),
        };
        vec![
            ("default-ipv4.conf", o("10.10.74.250"), vec![]),
            // A unit under the `pause` action (`rendered` sees the name).
            ("paused.conf", o("10.10.74.250"), vec![]),
            ("ipv6.conf", o("fd00::5/64"), vec![]),
            (
                "dual-stack.conf",
                o("10.20.0.5, fd00::5 10.20.0.6/16"),
                vec![],
            ),
            (
                "unicast-peers.conf",
                Options {
                    unicast: true,
                    ..o("192.0.2.100/24")
                },
                vec![
                    peer("keepalived/2", "192.0.2.12"),
                    peer("keepalived/1", "192.0.2.11"),
                ],
            ),
            (
                "password.conf",
                Options {
                    vrrp_password: "s3cr3t".into(),
                    ..o("10.10.74.250")
                },
                vec![],
            ),
            (
                "v3-fast.conf",
                Options {
                    vrrp_version: Some(3),
                    advert_interval: Some("0.1".into()),
                    ..o("10.10.74.250")
                },
                vec![],
            ),
            (
                "nopreempt.conf",
                Options {
                    preempt: false,
                    port: 6443,
                    healthcheck_interval: 5,
                    router_id: 51,
                    ..o("10.10.74.250")
                },
                vec![],
            ),
        ]
    }

    fn rendered(options: &Options, peers: &[PeerAddresses]) -> String {
        let paths = Paths::new("/");
        let binary = paths.engine_binary();
        let d = desired(&Facts {
            options,
            option_errors: &[],
            net: &snapshot(),
            priority: vrrp_core::proto::Priority::from_wire(254),
            peers,
            published_sources: &[],
            engine_binary: &binary,
            paused: false,
            yield_to_preferred: false,
            unit: "keepalived/0",
            app_units: None,
            identity_ran: None,
            identity_rolling: None,
        });
        match d {
            Desired::Configured(plan) => engine_config(&plan.engine).unwrap(),
            other => panic!("{other:?}"),
        }
    }

    fn rendered_paused(options: &Options) -> String {
        let paths = Paths::new("/");
        let binary = paths.engine_binary();
        let d = desired(&Facts {
            options,
            option_errors: &[],
            net: &snapshot(),
            priority: vrrp_core::proto::Priority::from_wire(254),
            peers: &[],
            published_sources: &[],
            engine_binary: &binary,
            paused: true,
            yield_to_preferred: false,
            unit: "keepalived/0",
            app_units: None,
            identity_ran: None,
            identity_rolling: None,
        });
        match d {
            Desired::Configured(plan) => engine_config(&plan.engine).unwrap(),
            other => panic!("{other:?}"),
        }
    }

    /// Set UPDATE_GOLDEN=1 to rewrite the files after an intended change (then review
    /// the diff).
    #[test]
    fn rendered_configs_match_the_golden_files() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
        for (name, options, peers) in golden_cases() {
            let text = if name == "paused.conf" {
                rendered_paused(&options)
            } else {
                rendered(&options, &peers)
            };
            let path = dir.join(name);
            if std::env::var_os("UPDATE_GOLDEN").is_some() {
                fs::write(&path, &text).unwrap();
            }
            let golden = fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 creates it)", path.display()));
            assert_eq!(text, golden, "{name} differs from its golden file");
        }
    }

    #[test]
    fn every_golden_file_is_covered_by_a_case() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
        let cases: Vec<&str> = golden_cases().iter().map(|c| c.0).collect();
        for entry in fs::read_dir(dir).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            if name.ends_with(".conf") {
                assert!(cases.contains(&name.as_str()), "stale golden file {name}");
            }
        }
    }

    #[test]
    fn rendering_is_deterministic_whatever_the_peer_order() {
        let (_, options, mut peers) = golden_cases().swap_remove(4);
        let one = rendered(&options, &peers);
        peers.reverse();
        assert_eq!(rendered(&options, &peers), one);
    }

    #[test]
    fn unchanged_content_and_mode_is_not_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        assert!(write_if_changed(&path, b"x", PUBLIC_MODE).unwrap());
        let inode = std::os::unix::fs::MetadataExt::ino(&fs::metadata(&path).unwrap());
        assert!(!write_if_changed(&path, b"x", PUBLIC_MODE).unwrap());
        assert_eq!(
            std::os::unix::fs::MetadataExt::ino(&fs::metadata(&path).unwrap()),
            inode
        );
        // A mode change alone is a change (a password was added or removed).
        assert!(write_if_changed(&path, b"x", SECRET_MODE).unwrap());
        assert!(write_if_changed(&path, b"y", SECRET_MODE).unwrap());
    }

    #[test]
    fn removing_a_missing_file_is_fine() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        assert!(!remove_if_exists(&path).unwrap());
        fs::write(&path, "x").unwrap();
        assert!(remove_if_exists(&path).unwrap());
    }

    #[test]
    fn unit_file_paths_follow_the_root() {
        let unit = unit_file(&Paths::new("/srv/root")).unwrap();
        assert!(unit.contains(
            "ExecStart=/srv/root/usr/local/lib/keepalived-charm/keepalived-charm vrrp --config /srv/root/etc/keepalived-charm/keepalived.conf --state-file /srv/root/run/keepalived-charm/state.json --metrics-file /srv/root/etc/keepalived-charm/metrics-address\n"
        ));
        assert!(
            unit.contains("ConditionPathExists=/srv/root/etc/keepalived-charm/keepalived.conf\n")
        );
        assert!(unit.contains("ReadWritePaths=-/srv/root/run/keepalived-charm\n"));
    }

    #[test]
    fn advert_int_text_is_minimal() {
        let t = |s: &str, v| advert_int_text(AdvertInterval::parse(s, v).unwrap());
        assert_eq!(t("1", Version::V2), "1");
        assert_eq!(t("0.10", Version::V3), "0.1");
        assert_eq!(t("0.25", Version::V3), "0.25");
        assert_eq!(t("0.05", Version::V3), "0.05");
        assert_eq!(t("40.95", Version::V3), "40.95");
        assert_eq!(t("2.50", Version::V3), "2.5");
    }
}
