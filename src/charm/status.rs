//! The unit's workload status, computed at the end of every hook from the desired
//! state and the engine's state file.
//!
//! * `blocked` "Please configure virtual ips" while `virtual_ip` is empty (the
//!   original's exact string, asserted by its integration test);
//! * `blocked` with the validation message for any invalid value;
//! * `active` otherwise. The message keeps the word "ready" (the docs tell operators to
//!   wait for it) and shows the VIPs and, once the engine reports it, this unit's VRRP
//!   role: `VIP 10.10.74.250 ready (MASTER)`, `VIPs 10.0.0.5, fd00::5 ready (BACKUP)`.
//!
//! * `blocked` when the engine sees something only a human can fix: a router outside
//!   this application using our VRID ("VRID 51 on eth0 is also used by 10.0.0.9, not a
//!   unit of this application: set router_id to a free VRID"), or another MASTER that
//!   keeps claiming the VIP while this unit holds it (a split brain). Both clear by
//!   themselves once the engine stops hearing them.
//!
//! * `blocked` with the engine's `metrics_error` while it cannot serve
//!   `metrics_address` ("metrics_address 127.0.0.1:9165: Address already in use (os
//!   error 98)"): the VIP is unaffected, but the operator's scrapes fail.
//!
//! * `maintenance` "Paused. Use 'resume' action to resume normal service." while the
//!   `pause` action is in force.
//!
//! The **application** status, set by the leader ([`application_status`]), describes
//! the cluster as the leader's engine hears it, not the leader's own role: which unit
//! holds each VIP (`VIP 10.0.0.100 on keepalived/1`), the paused units, `waiting`
//! while an election is under way, and `blocked` when no unit holds a VIP or two do.
//!
//! The engine's state file is read leniently: only the fields used here, unknown fields
//! ignored, and a missing or corrupt file simply shows no role. A file whose heartbeat
//! (`updated_unix_ms` or the file's modification time, whichever is later: a live
//! engine bumps one of them at least every 10 s) is older than [`STALE_AFTER`] is the
//! last word of a dead engine and shows no role either.

use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use std::path::Path;

use serde::Deserialize;

use super::desired::{Desired, Plan, UNCONFIGURED_MESSAGE};
use super::hooktools::Status;

/// A VRRP role as the engine reports it (keepalived's words).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Role {
    Init,
    Backup,
    Master,
    Fault,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Init => "INIT",
            Role::Backup => "BACKUP",
            Role::Master => "MASTER",
            Role::Fault => "FAULT",
        }
    }
}

/// A state file not rewritten for this long comes from an engine that is gone (a
/// live one rewrites it at least every 10 s).
pub const STALE_AFTER: Duration = Duration::from_secs(30);

/// A router outside the cluster, as the engine reports it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ForeignReport {
    pub address: IpAddr,
    #[serde(default)]
    pub reason: String,
}

/// One instance of the engine's state file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct InstanceReport {
    pub name: String,
    pub state: Role,
    #[serde(default)]
    pub vrid: u8,
    #[serde(default)]
    pub interface: String,
    #[serde(default)]
    pub dual_master: Option<IpAddr>,
    #[serde(default)]
    pub foreign_routers: Vec<ForeignReport>,
    /// The current Master's address, as this unit last heard it.
    #[serde(default)]
    pub master: Option<IpAddr>,
    /// Tracked scripts: `OK`, `KO` or `UNKNOWN`.
    #[serde(default)]
    pub scripts: std::collections::BTreeMap<String, String>,
}

/// The part of the engine's state file the charm reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct EngineReport {
    #[serde(default)]
    pub instances: Vec<InstanceReport>,
    /// The heartbeat: when the engine last rewrote the file.
    #[serde(default)]
    pub updated_unix_ms: u64,
    /// Why the engine's metrics endpoint does not serve the address it was given.
    #[serde(default)]
    pub metrics_error: Option<String>,
}

impl EngineReport {
    /// Whether the file is older than [`STALE_AFTER`] at `now` (a file without a
    /// heartbeat cannot be judged and is taken as it is).
    pub fn is_stale(&self, now: SystemTime) -> bool {
        if self.updated_unix_ms == 0 {
            return false;
        }
        let written = UNIX_EPOCH + Duration::from_millis(self.updated_unix_ms);
        now.duration_since(written)
            .is_ok_and(|age| age > STALE_AFTER)
    }
}

/// Parses the engine's state file; `None` when it is missing or unreadable.
pub fn parse_engine_state(text: &str) -> Option<EngineReport> {
    #[derive(Deserialize)]
    struct Lenient {
        #[serde(default)]
        instances: Vec<serde_json::Value>,
        #[serde(default)]
        updated_unix_ms: u64,
        #[serde(default)]
        metrics_error: Option<serde_json::Value>,
    }
    let raw: Lenient = serde_json::from_str(text).ok()?;
    // One odd instance (a state we do not know yet) must not hide the others.
    let instances = raw
        .instances
        .into_iter()
        .filter_map(|v| serde_json::from_value(v).ok())
        .collect();
    Some(EngineReport {
        instances,
        updated_unix_ms: raw.updated_unix_ms,
        // Leniently: anything but a string is no error we can show.
        metrics_error: raw
            .metrics_error
            .and_then(|v| v.as_str().map(str::to_string)),
    })
}

/// Reads the engine's state file; `None` when it is missing, unreadable, or stale
/// at `now` (a dead engine's last word).
pub fn read_engine_state(path: &Path, now: SystemTime) -> Option<EngineReport> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut report = parse_engine_state(&text)?;
    report.updated_unix_ms = crate::engine::state_file::heartbeat_ms(path, report.updated_unix_ms);
    Some(report).filter(|r| !r.is_stale(now))
}

/// What only a human can fix, seen by the engine in one of our instances.
fn engine_alarm(plan: &Plan, report: &EngineReport, peers: &[IpAddr]) -> Option<String> {
    let ours = report
        .instances
        .iter()
        .filter(|r| plan.engine.instances.iter().any(|i| i.name == r.name));
    for r in ours {
        // A peer with another VIP list is a rolling change in progress, not a
        // stranger.
        if let Some(f) = r
            .foreign_routers
            .iter()
            .find(|f| !peers.contains(&f.address))
        {
            return Some(format!(
                "VRID {} on {} is also used by {}, not a unit of this application ({}): set router_id to a free VRID",
                r.vrid, r.interface, f.address, f.reason
            ));
        }
        if let Some(other) = r.dual_master {
            return Some(format!(
                "two MASTERs for VRID {} on {}: {} claims it too and does not hear this unit; check that VRRP (IP protocol 112) passes between the units",
                r.vrid, r.interface, other
            ));
        }
    }
    None
}

/// The role part of the message: `MASTER`, or `IPv4 MASTER, IPv6 BACKUP` when the
/// families differ; `None` while the engine reports nothing for our instances.
fn roles(plan: &Plan, report: Option<&EngineReport>) -> Option<String> {
    let report = report?;
    let found: Vec<(String, Role)> = plan
        .engine
        .instances
        .iter()
        .filter_map(|i| {
            report
                .instances
                .iter()
                .find(|r| r.name == i.name)
                .map(|r| (i.family.to_string(), r.state))
        })
        .collect();
    let first = found.first()?.1;
    if found.len() == plan.engine.instances.len() && found.iter().all(|(_, r)| *r == first) {
        return Some(first.as_str().to_string());
    }
    Some(
        found
            .iter()
            .map(|(family, role)| format!("{family} {}", role.as_str()))
            .collect::<Vec<_>>()
            .join(", "),
    )
}

/// The status for `desired`, given the engine's report and the peers' VRRP
/// addresses.
/// The unit status while the `pause` action is in force (the words operators know
/// from hacluster).
pub const PAUSED_MESSAGE: &str = "Paused. Use 'resume' action to resume normal service.";

pub fn unit_status(desired: &Desired, report: Option<&EngineReport>, peers: &[IpAddr]) -> Status {
    match desired {
        Desired::Unconfigured => Status::blocked(UNCONFIGURED_MESSAGE),
        Desired::Blocked(message) => Status::blocked(message.clone()),
        Desired::Configured(plan) => {
            if let Some(alarm) = report.and_then(|r| engine_alarm(plan, r, peers)) {
                return Status::blocked(alarm);
            }
            if let Some(error) = report.and_then(|r| r.metrics_error.as_ref()) {
                return Status::blocked(error.clone());
            }
            if plan.engine.paused {
                return Status::maintenance(PAUSED_MESSAGE);
            }
            let addrs: Vec<String> = plan.vips.iter().map(|v| v.addr.to_string()).collect();
            let noun = if addrs.len() == 1 { "VIP" } else { "VIPs" };
            let mut message = format!("{noun} {} ready", addrs.join(", "));
            if let Some(roles) = roles(plan, report) {
                message.push_str(&format!(" ({roles})"));
            }
            Status::active(message)
        }
    }
}

/// A unit of the application, for the application status: its name, its VRRP source
/// addresses (from its peer bag) and whether it is paused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub unit: String,
    pub addresses: Vec<IpAddr>,
    pub paused: bool,
}

/// The application status the leader (`leader`, whose engine reported `report`) sets:
/// see the module doc. Unconfigured or refused configs show what every unit shows.
pub fn application_status(
    desired: &Desired,
    report: Option<&EngineReport>,
    leader: &Member,
    peers: &[Member],
) -> Status {
    let Desired::Configured(plan) = desired else {
        return unit_status(desired, report, &[]);
    };
    let Some(report) = report else {
        // Short work that resolves itself: maintenance, not waiting (which is for
        // something else in the model, docs/juju-contract.md J-11).
        return Status::maintenance(format!(
            "waiting for the engine of {} to report",
            leader.unit
        ));
    };
    let name_of = |addr: IpAddr| -> String {
        std::iter::once(leader)
            .chain(peers)
            .find(|m| m.addresses.contains(&addr))
            .map_or_else(
                || format!("{addr} (not a unit of this application)"),
                |m| m.unit.clone(),
            )
    };
    let mut held = Vec::new();
    let mut electing = Vec::new();
    for i in &plan.engine.instances {
        let vips: Vec<String> = i.vips.iter().map(|v| v.addr.to_string()).collect();
        let what = format!(
            "{} {}",
            if vips.len() == 1 { "VIP" } else { "VIPs" },
            vips.join(", ")
        );
        let Some(r) = report.instances.iter().find(|r| r.name == i.name) else {
            electing.push(what);
            continue;
        };
        if let Some(other) = r.dual_master {
            return Status::blocked(format!(
                "two MASTERs for {what}: {} and {}; check that VRRP (IP protocol 112) passes between the units",
                leader.unit,
                name_of(other)
            ));
        }
        let holder = match (r.state, r.master) {
            (Role::Master, _) => Some(leader.unit.clone()),
            (_, Some(addr)) => Some(name_of(addr)),
            (_, None) => None,
        };
        match (holder, r.state) {
            (Some(unit), _) => held.push(format!("{what} on {unit}")),
            (None, Role::Backup) => electing.push(what),
            (None, _) => {
                let all_paused = leader.paused && peers.iter().all(|p| p.paused);
                let hint = if all_paused {
                    format!(
                        "every unit is paused: run `juju run {} resume`",
                        leader.unit
                    )
                } else {
                    format!(
                        "check `juju run {} status` and the other units' statuses",
                        leader.unit
                    )
                };
                return Status::blocked(format!("no unit holds {what}: {hint}"));
            }
        }
    }
    let mut paused: Vec<&str> = std::iter::once(leader)
        .chain(peers)
        .filter(|m| m.paused)
        .map(|m| m.unit.as_str())
        .collect();
    paused.sort();
    let paused = if paused.is_empty() {
        String::new()
    } else {
        format!("; paused: {}", paused.join(", "))
    };
    if !electing.is_empty() {
        return Status::maintenance(format!(
            "electing a MASTER for {}{paused}",
            electing.join(", ")
        ));
    }
    Status::active(format!("{}{paused}", held.join("; ")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::charm::desired::tests::run;
    use crate::charm::hooktools::StatusKind;
    use crate::charm::options::Options;

    fn configured(virtual_ip: &str) -> Desired {
        let o = Options {
            virtual_ip: virtual_ip.into(),
            ..Options::default()
        };
        run(&o)
    }

    const NO_PEERS: &[IpAddr] = &[];

    fn report(json: &str) -> Option<EngineReport> {
        parse_engine_state(json)
    }

    #[test]
    fn unconfigured_is_the_original_blocked_message() {
        let s = unit_status(&Desired::Unconfigured, None, NO_PEERS);
        assert_eq!(s.kind, StatusKind::Blocked);
        assert_eq!(s.message, "Please configure virtual ips");
    }

    #[test]
    fn invalid_config_is_blocked_with_its_message() {
        let s = unit_status(
            &Desired::Blocked("invalid port 0: allowed 1..65535".into()),
            None,
            NO_PEERS,
        );
        assert_eq!(s, Status::blocked("invalid port 0: allowed 1..65535"));
    }

    #[test]
    fn configured_without_engine_report_says_ready_without_a_role() {
        let s = unit_status(&configured("10.10.74.250/24"), None, NO_PEERS);
        assert_eq!(s, Status::active("VIP 10.10.74.250 ready"));
        let s = unit_status(&configured("fd00::5/64"), None, NO_PEERS);
        assert_eq!(s, Status::active("VIP fd00::5 ready"));
        let s = unit_status(
            &configured("10.20.0.5, fd00::5 10.20.0.6/16"),
            None,
            NO_PEERS,
        );
        assert_eq!(
            s,
            Status::active("VIPs 10.20.0.5, fd00::5, 10.20.0.6 ready")
        );
    }

    fn member(unit: &str, addr: &str, paused: bool) -> Member {
        Member {
            unit: unit.into(),
            addresses: vec![addr.parse().unwrap()],
            paused,
        }
    }

    fn app(state: &str, master: Option<&str>, extra: &str, paused: [bool; 3]) -> Status {
        let master = master.map_or("null".to_string(), |m| format!("\"{m}\""));
        let r = report(&format!(
            r#"{{"instances":[{{"name":"VI_1","state":"{state}","master":{master}{extra}}}]}}"#
        ));
        application_status(
            &configured("10.10.74.250"),
            r.as_ref(),
            &member("keepalived/0", "192.0.2.10", paused[0]),
            &[
                member("keepalived/1", "192.0.2.11", paused[1]),
                member("keepalived/2", "192.0.2.12", paused[2]),
            ],
        )
    }

    #[test]
    fn the_application_status_names_the_unit_that_holds_each_vip() {
        let none = [false; 3];
        assert_eq!(
            app("MASTER", Some("192.0.2.10"), "", none),
            Status::active("VIP 10.10.74.250 on keepalived/0")
        );
        // The leader is a BACKUP: the holder is the MASTER it hears.
        assert_eq!(
            app("BACKUP", Some("192.0.2.11"), "", none),
            Status::active("VIP 10.10.74.250 on keepalived/1")
        );
        assert_eq!(
            app("FAULT", Some("192.0.2.12"), "", [true, false, true]),
            Status::active("VIP 10.10.74.250 on keepalived/2; paused: keepalived/0, keepalived/2")
        );
        assert_eq!(
            app("BACKUP", Some("192.0.2.99"), "", none),
            Status::active("VIP 10.10.74.250 on 192.0.2.99 (not a unit of this application)")
        );
    }

    #[test]
    fn the_application_status_is_maintenance_during_an_election_and_blocks_with_no_or_two_holders()
    {
        let none = [false; 3];
        assert_eq!(
            app("BACKUP", None, "", none),
            Status::maintenance("electing a MASTER for VIP 10.10.74.250")
        );
        assert_eq!(
            app("FAULT", None, "", [true; 3]),
            Status::blocked(
                "no unit holds VIP 10.10.74.250: every unit is paused: run `juju run keepalived/0 resume`"
            )
        );
        assert_eq!(
            app("FAULT", None, "", none),
            Status::blocked(
                "no unit holds VIP 10.10.74.250: check `juju run keepalived/0 status` and the other units' statuses"
            )
        );
        assert_eq!(
            app("MASTER", Some("192.0.2.10"), r#","dual_master":"192.0.2.12""#, none),
            Status::blocked(
                "two MASTERs for VIP 10.10.74.250: keepalived/0 and keepalived/2; check that VRRP (IP protocol 112) passes between the units"
            )
        );
        // Unconfigured: what every unit says.
        assert_eq!(
            application_status(
                &Desired::Unconfigured,
                None,
                &member("keepalived/0", "192.0.2.10", false),
                &[]
            ),
            Status::blocked("Please configure virtual ips")
        );
    }

    #[test]
    fn a_paused_unit_is_in_maintenance_with_the_way_back_in_the_message() {
        let Desired::Configured(mut plan) = configured("10.10.74.250") else {
            panic!("configured")
        };
        plan.engine.paused = true;
        let r = report(
            r#"{"instances":[{"name":"VI_1","family":"ipv4","vrid":23,"state":"FAULT","effective_priority":254,"master":"10.0.0.2","counters":{}}],"pid":7}"#,
        );
        let s = unit_status(&Desired::Configured(plan), r.as_ref(), NO_PEERS);
        assert_eq!(
            s,
            Status::maintenance("Paused. Use 'resume' action to resume normal service.")
        );
    }

    #[test]
    fn the_role_comes_from_the_engine_state_file() {
        let r = report(
            r#"{"instances":[{"name":"VI_1","family":"ipv4","vrid":23,"state":"MASTER","effective_priority":254,"master":"10.0.0.1","counters":{}}],"pid":7}"#,
        );
        let s = unit_status(&configured("10.10.74.250"), r.as_ref(), NO_PEERS);
        assert_eq!(s, Status::active("VIP 10.10.74.250 ready (MASTER)"));
    }

    #[test]
    fn several_vips_show_all_addresses_and_one_role_when_families_agree() {
        let r = report(
            r#"{"instances":[{"name":"VI_1","state":"BACKUP"},{"name":"VI_1_V6","state":"BACKUP"}]}"#,
        );
        let s = unit_status(&configured("10.20.0.5, fd00::5"), r.as_ref(), NO_PEERS);
        assert_eq!(s, Status::active("VIPs 10.20.0.5, fd00::5 ready (BACKUP)"));
    }

    #[test]
    fn families_with_different_roles_are_shown_per_family() {
        let r = report(
            r#"{"instances":[{"name":"VI_1","state":"MASTER"},{"name":"VI_1_V6","state":"BACKUP"}]}"#,
        );
        let s = unit_status(&configured("10.20.0.5 fd00::5"), r.as_ref(), NO_PEERS);
        assert_eq!(
            s,
            Status::active("VIPs 10.20.0.5, fd00::5 ready (IPv4 MASTER, IPv6 BACKUP)")
        );
    }

    #[test]
    fn missing_corrupt_or_foreign_state_shows_no_role() {
        assert_eq!(report("{not json"), None);
        assert_eq!(
            read_engine_state(Path::new("/nonexistent/state.json"), SystemTime::now()),
            None
        );
        let r = report(r#"{"instances":[{"name":"OTHER","state":"MASTER"}]}"#);
        let s = unit_status(&configured("10.10.74.250"), r.as_ref(), NO_PEERS);
        assert_eq!(s, Status::active("VIP 10.10.74.250 ready"));
        // An unknown state value does not break the others.
        let r = report(
            r#"{"instances":[{"name":"VI_1","state":"STOPPING"},{"name":"VI_1_V6","state":"FAULT"}]}"#,
        );
        let s = unit_status(&configured("10.20.0.5 fd00::5"), r.as_ref(), NO_PEERS);
        assert_eq!(
            s,
            Status::active("VIPs 10.20.0.5, fd00::5 ready (IPv6 FAULT)")
        );
    }

    const MASTER_WITH: &str = r#"{"instances":[{"name":"VI_1","family":"ipv4","vrid":51,"interface":"eth0","state":"MASTER",EXTRA}],"updated_unix_ms":UPDATED}"#;

    fn engine(extra: &str, updated: u64) -> EngineReport {
        let json = MASTER_WITH
            .replace("EXTRA", extra)
            .replace("UPDATED", &updated.to_string());
        parse_engine_state(&json).expect("a state file")
    }

    #[test]
    fn a_foreign_router_on_our_vrid_blocks_with_its_address_and_the_fix() {
        let r = engine(
            r#""foreign_routers":[{"address":"10.0.0.9","reason":"another virtual address list","last_heard_unix_ms":5}]"#,
            0,
        );
        let s = unit_status(&configured("10.10.74.250"), Some(&r), NO_PEERS);
        assert_eq!(
            s,
            Status::blocked(
                "VRID 51 on eth0 is also used by 10.0.0.9, not a unit of this application (another virtual address list): set router_id to a free VRID"
            )
        );
    }

    #[test]
    fn a_peer_with_another_vip_list_is_a_rolling_change_not_a_stranger() {
        let r = engine(
            r#""foreign_routers":[{"address":"10.0.0.12","reason":"another virtual address list","last_heard_unix_ms":5}]"#,
            0,
        );
        let peers = ["10.0.0.12".parse().unwrap()];
        let s = unit_status(&configured("10.10.74.250"), Some(&r), &peers);
        assert_eq!(s, Status::active("VIP 10.10.74.250 ready (MASTER)"));
    }

    #[test]
    fn a_second_master_that_does_not_hear_us_blocks() {
        let r = engine(r#""dual_master":"10.0.0.12""#, 0);
        let s = unit_status(&configured("10.10.74.250"), Some(&r), NO_PEERS);
        assert_eq!(
            s,
            Status::blocked(
                "two MASTERs for VRID 51 on eth0: 10.0.0.12 claims it too and does not hear this unit; check that VRRP (IP protocol 112) passes between the units"
            )
        );
    }

    #[test]
    fn a_metrics_endpoint_that_cannot_bind_blocks_with_the_engines_error() {
        let json = r#"{"instances":[{"name":"VI_1","state":"MASTER"}],"metrics_error":"metrics_address 127.0.0.1:9165: Address already in use (os error 98)"}"#;
        let r = parse_engine_state(json).unwrap();
        let s = unit_status(&configured("10.10.74.250"), Some(&r), NO_PEERS);
        assert_eq!(
            s,
            Status::blocked("metrics_address 127.0.0.1:9165: Address already in use (os error 98)")
        );
        // Absent, null or odd: no error, the role shows.
        for extra in ["", r#","metrics_error":null"#, r#","metrics_error":5"#] {
            let json = format!(r#"{{"instances":[{{"name":"VI_1","state":"MASTER"}}]{extra}}}"#);
            let r = parse_engine_state(&json).unwrap();
            let s = unit_status(&configured("10.10.74.250"), Some(&r), NO_PEERS);
            assert_eq!(
                s,
                Status::active("VIP 10.10.74.250 ready (MASTER)"),
                "{json}"
            );
        }
    }

    #[test]
    fn a_state_file_without_a_heartbeat_for_30_s_is_a_dead_engines() {
        let written = 1_700_000_000_000;
        let r = engine(r#""dual_master":null"#, written);
        let at = |ms: u64| UNIX_EPOCH + Duration::from_millis(ms);
        assert!(!r.is_stale(at(written + 30_000)));
        assert!(r.is_stale(at(written + 30_001)));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        std::fs::write(
            &path,
            MASTER_WITH
                .replace("EXTRA", r#""dual_master":null"#)
                .replace("UPDATED", &written.to_string()),
        )
        .unwrap();
        let set_mtime = |ms: u64| {
            std::fs::File::open(&path)
                .unwrap()
                .set_modified(at(ms))
                .unwrap()
        };
        set_mtime(written);
        assert!(read_engine_state(&path, at(written + 1_000)).is_some());
        assert_eq!(read_engine_state(&path, at(written + 31_000)), None);
        // The engine's heartbeat between rewrites bumps the modification time only.
        set_mtime(written + 20_000);
        assert!(read_engine_state(&path, at(written + 31_000)).is_some());
        assert_eq!(read_engine_state(&path, at(written + 51_000)), None);
    }
}
