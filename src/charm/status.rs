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
//! The engine's state file is read leniently: only the fields used here, unknown fields
//! ignored, and a missing or corrupt file simply shows no role.

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

/// One instance of the engine's state file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct InstanceReport {
    pub name: String,
    pub state: Role,
}

/// The part of the engine's state file the charm reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct EngineReport {
    #[serde(default)]
    pub instances: Vec<InstanceReport>,
}

/// Parses the engine's state file; `None` when it is missing or unreadable.
pub fn parse_engine_state(text: &str) -> Option<EngineReport> {
    #[derive(Deserialize)]
    struct Lenient {
        #[serde(default)]
        instances: Vec<serde_json::Value>,
    }
    let raw: Lenient = serde_json::from_str(text).ok()?;
    // One odd instance (a state we do not know yet) must not hide the others.
    let instances = raw
        .instances
        .into_iter()
        .filter_map(|v| serde_json::from_value(v).ok())
        .collect();
    Some(EngineReport { instances })
}

pub fn read_engine_state(path: &Path) -> Option<EngineReport> {
    let text = std::fs::read_to_string(path).ok()?;
    parse_engine_state(&text)
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

/// The status for `desired`, given the engine's report.
pub fn unit_status(desired: &Desired, report: Option<&EngineReport>) -> Status {
    match desired {
        Desired::Unconfigured => Status::blocked(UNCONFIGURED_MESSAGE),
        Desired::Blocked(message) => Status::blocked(message.clone()),
        Desired::Configured(plan) => {
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

    fn report(json: &str) -> Option<EngineReport> {
        parse_engine_state(json)
    }

    #[test]
    fn unconfigured_is_the_original_blocked_message() {
        let s = unit_status(&Desired::Unconfigured, None);
        assert_eq!(s.kind, StatusKind::Blocked);
        assert_eq!(s.message, "Please configure virtual ips");
    }

    #[test]
    fn invalid_config_is_blocked_with_its_message() {
        let s = unit_status(
            &Desired::Blocked("invalid port 0: allowed 1..65535".into()),
            None,
        );
        assert_eq!(s, Status::blocked("invalid port 0: allowed 1..65535"));
    }

    #[test]
    fn configured_without_engine_report_says_ready_without_a_role() {
        let s = unit_status(&configured("10.10.74.250/24"), None);
        assert_eq!(s, Status::active("VIP 10.10.74.250 ready"));
        let s = unit_status(&configured("fd00::5/64"), None);
        assert_eq!(s, Status::active("VIP fd00::5 ready"));
        let s = unit_status(&configured("10.20.0.5, fd00::5 10.20.0.6/16"), None);
        assert_eq!(
            s,
            Status::active("VIPs 10.20.0.5, fd00::5, 10.20.0.6 ready")
        );
    }

    #[test]
    fn the_role_comes_from_the_engine_state_file() {
        let r = report(
            r#"{"instances":[{"name":"VI_1","family":"ipv4","vrid":23,"state":"MASTER","effective_priority":254,"master":"10.0.0.1","counters":{}}],"pid":7}"#,
        );
        let s = unit_status(&configured("10.10.74.250"), r.as_ref());
        assert_eq!(s, Status::active("VIP 10.10.74.250 ready (MASTER)"));
    }

    #[test]
    fn several_vips_show_all_addresses_and_one_role_when_families_agree() {
        let r = report(
            r#"{"instances":[{"name":"VI_1","state":"BACKUP"},{"name":"VI_1_V6","state":"BACKUP"}]}"#,
        );
        let s = unit_status(&configured("10.20.0.5, fd00::5"), r.as_ref());
        assert_eq!(s, Status::active("VIPs 10.20.0.5, fd00::5 ready (BACKUP)"));
    }

    #[test]
    fn families_with_different_roles_are_shown_per_family() {
        let r = report(
            r#"{"instances":[{"name":"VI_1","state":"MASTER"},{"name":"VI_1_V6","state":"BACKUP"}]}"#,
        );
        let s = unit_status(&configured("10.20.0.5 fd00::5"), r.as_ref());
        assert_eq!(
            s,
            Status::active("VIPs 10.20.0.5, fd00::5 ready (IPv4 MASTER, IPv6 BACKUP)")
        );
    }

    #[test]
    fn missing_corrupt_or_foreign_state_shows_no_role() {
        assert_eq!(report("{not json"), None);
        assert_eq!(
            read_engine_state(Path::new("/nonexistent/state.json")),
            None
        );
        let r = report(r#"{"instances":[{"name":"OTHER","state":"MASTER"}]}"#);
        let s = unit_status(&configured("10.10.74.250"), r.as_ref());
        assert_eq!(s, Status::active("VIP 10.10.74.250 ready"));
        // An unknown state value does not break the others.
        let r = report(
            r#"{"instances":[{"name":"VI_1","state":"STOPPING"},{"name":"VI_1_V6","state":"FAULT"}]}"#,
        );
        let s = unit_status(&configured("10.20.0.5 fd00::5"), r.as_ref());
        assert_eq!(
            s,
            Status::active("VIPs 10.20.0.5, fd00::5 ready (IPv6 FAULT)")
        );
    }
}
