use std::time::Duration;

use super::*;
use crate::engine::state_file::Counters;

pub(super) fn instance(name: &str, state: &str, vrid: u8, vips: &[&str]) -> InstanceState {
    InstanceState {
        name: name.into(),
        family: "ipv4".into(),
        vrid,
        interface: "eth0".into(),
        state: state.into(),
        base_priority: 200,
        effective_priority: 200,
        master: None,
        last_transition_unix_ms: 0,
        last_transition_reason: String::new(),
        vips: vips.iter().map(|v| v.to_string()).collect(),
        counters: Counters::default(),
        fault: None,
        scripts: BTreeMap::new(),
        dual_master: None,
        foreign_routers: Vec::new(),
    }
}

/// A MASTER (two VIPs, a failing script, a split brain) and a BACKUP that heard its
/// master 1.5 s ago.
fn snapshot(now: Instant) -> Snapshot {
    let mut master = instance("VI_1", "MASTER", 51, &["10.0.0.100/24", "10.0.0.101/24"]);
    master.effective_priority = 150;
    master.counters.adverts_sent = 120;
    master.counters.adverts_received = 3;
    master.counters.became_master = 2;
    master.counters.released = 1;
    master.counters.priority_zero_received = 4;
    master.counters.transitions = 4;
    master.counters.dual_master_seen = 1;
    master.counters.vips_restored = 5;
    master.counters.drops = BTreeMap::from([
        ("ttl".to_string(), 7),
        ("truncated".to_string(), 2),
        ("trailing_bytes".to_string(), 1),
        ("auth_pass".to_string(), 6),
    ]);
    master.dual_master = Some("10.0.0.9".into());
    master.scripts = BTreeMap::from([("chk".to_string(), "KO".to_string())]);
    let mut backup = instance("VI_6", "BACKUP", 52, &["fd00::100/64"]);
    backup.family = "ipv6".into();
    backup.counters.adverts_received = 80;
    backup.counters.foreign_adverts = 9;
    backup.counters.claims_withdrawn = 4;
    backup.counters.drops = BTreeMap::from([
        ("interval_mismatch".to_string(), 3),
        ("address_list_mismatch".to_string(), 9),
        ("auth_type".to_string(), 1),
        ("packet_type".to_string(), 2),
    ]);
    backup.foreign_routers = vec![crate::engine::state_file::ForeignRouterState {
        address: "fd00::9".into(),
        reason: "another virtual address list".into(),
        last_heard_unix_ms: 0,
    }];
    backup.scripts = BTreeMap::from([
        ("chk".to_string(), "KO".to_string()),
        ("web".to_string(), "OK".to_string()),
        ("new".to_string(), "UNKNOWN".to_string()),
    ]);
    Snapshot {
        state: EngineState {
            instances: vec![master, backup],
            ..EngineState::default()
        },
        extras: vec![
            InstanceExtra {
                master_heard: None,
                transitions_by_reason: BTreeMap::from([("startup", 2), ("master_down", 2)]),
            },
            InstanceExtra {
                master_heard: Some(now - Duration::from_millis(1500)),
                transitions_by_reason: BTreeMap::from([("startup", 1)]),
            },
        ],
    }
}

fn lines(text: &str) -> Vec<&str> {
    text.lines().collect()
}

#[test]
fn a_master_and_a_backup_in_the_prometheus_text_format() {
    let now = Instant::now();
    let text = encode(Arc::new(snapshot(now)), now, Format::Prometheus);
    let got = lines(&text);
    let version = env!("CARGO_PKG_VERSION");
    let build_info = format!("keepalived_build_info{{version=\"{version}\"}} 1");
    let m = r#"iname="VI_1",intf="eth0",vrid="51""#;
    let b = r#"iname="VI_6",intf="eth0",vrid="52""#;
    let expected: Vec<String> = [
        "keepalived_up 1".to_string(),
        build_info,
        format!(r#"keepalived_vrrp_state{{{m},ip_address="10.0.0.100/24"}} 2"#),
        format!(r#"keepalived_vrrp_state{{{m},ip_address="10.0.0.101/24"}} 2"#),
        format!(r#"keepalived_vrrp_state{{{b},ip_address="fd00::100/64"}} 1"#),
        format!("keepalived_advertisements_received_total{{{m}}} 3"),
        format!("keepalived_advertisements_received_total{{{b}}} 80"),
        format!("keepalived_advertisements_sent_total{{{m}}} 120"),
        format!("keepalived_advertisements_sent_total{{{b}}} 0"),
        format!("keepalived_become_master_total{{{m}}} 2"),
        format!("keepalived_release_master_total{{{m}}} 1"),
        format!("keepalived_priority_zero_received_total{{{m}}} 4"),
        format!("keepalived_priority_zero_sent_total{{{m}}} 1"),
        format!("keepalived_advertisements_interval_errors_total{{{b}}} 3"),
        format!("keepalived_ip_ttl_errors_total{{{m}}} 7"),
        format!("keepalived_address_list_errors_total{{{b}}} 9"),
        format!("keepalived_authentication_invalid_total{{{b}}} 1"),
        format!("keepalived_authentication_mismatch_total{{{m}}} 6"),
        format!("keepalived_packet_length_errors_total{{{m}}} 3"),
        format!("keepalived_invalid_type_received_total{{{b}}} 2"),
        r#"keepalived_script_status{name="chk"} 0"#.to_string(),
        r#"keepalived_script_status{name="web"} 1"#.to_string(),
        format!(r#"keepalived_vrrp_transitions_total{{{m},reason="master_down"}} 2"#),
        format!(r#"keepalived_vrrp_transitions_total{{{m},reason="startup"}} 2"#),
        format!(r#"keepalived_vrrp_transitions_total{{{b},reason="startup"}} 1"#),
        format!("keepalived_vrrp_dual_master{{{m}}} 1"),
        format!("keepalived_vrrp_dual_master{{{b}}} 0"),
        format!("keepalived_vrrp_dual_master_seen_total{{{m}}} 1"),
        format!("keepalived_vrrp_foreign_routers{{{m}}} 0"),
        format!("keepalived_vrrp_foreign_routers{{{b}}} 1"),
        format!("keepalived_vrrp_foreign_adverts_total{{{b}}} 9"),
        format!("keepalived_vrrp_vips_restored_total{{{m}}} 5"),
        format!("keepalived_vrrp_claims_withdrawn_total{{{b}}} 4"),
        format!("keepalived_vrrp_effective_priority{{{m}}} 150"),
        format!("keepalived_vrrp_effective_priority{{{b}}} 200"),
        format!("keepalived_vrrp_base_priority{{{m}}} 200"),
        format!("keepalived_vrrp_master_advert_age_seconds{{{m}}} 0.0"),
        format!("keepalived_vrrp_master_advert_age_seconds{{{b}}} 1.5"),
        "# TYPE keepalived_vrrp_state gauge".to_string(),
        "# TYPE keepalived_advertisements_sent_total counter".to_string(),
        "# HELP keepalived_up 1 while the engine runs".to_string(),
    ]
    .into();
    for line in &expected {
        assert!(got.contains(&line.as_str()), "missing {line:?} in:\n{text}");
    }
    // The script with no result yet has no series; no OpenMetrics trailer.
    assert!(!text.contains("name=\"new\""), "{text}");
    assert!(!text.contains("# EOF"), "{text}");
    // Every sample belongs to a metric of the table.
    for line in got.iter().filter(|l| !l.starts_with('#')) {
        let name = line.split(['{', ' ']).next().unwrap();
        assert!(
            METRICS.iter().any(|m| m.series_name() == name),
            "{name} is not in METRICS"
        );
    }
}

#[test]
fn openmetrics_names_counter_families_without_total_and_ends_with_eof() {
    let now = Instant::now();
    let text = encode(Arc::new(snapshot(now)), now, Format::OpenMetrics);
    let got = lines(&text);
    assert!(got.contains(&"# TYPE keepalived_advertisements_sent counter"));
    assert!(got.contains(
        &r#"keepalived_advertisements_sent_total{iname="VI_1",intf="eth0",vrid="51"} 120"#
    ));
    assert_eq!(got.last(), Some(&"# EOF"));
}

#[test]
fn an_instance_in_init_or_fault_has_no_master_advert_age() {
    let now = Instant::now();
    let mut snap = snapshot(now);
    snap.state.instances[0].state = "FAULT".into();
    snap.state.instances[1].state = "INIT".into();
    let text = encode(Arc::new(snap), now, Format::Prometheus);
    assert!(text.contains(
        r#"keepalived_vrrp_state{iname="VI_1",intf="eth0",vrid="51",ip_address="10.0.0.100/24"} 3"#
    ));
    assert!(text.contains(
        r#"keepalived_vrrp_state{iname="VI_6",intf="eth0",vrid="52",ip_address="fd00::100/64"} 0"#
    ));
    assert!(!text.contains("keepalived_vrrp_master_advert_age_seconds{"));
}

#[test]
fn the_drop_map_names_real_drop_counters() {
    // The state file's names: DropCounters' serde field names.
    let json = serde_json::to_value(vrrp_core::packet::DropCounters::default()).unwrap();
    let names: Vec<String> = json.as_object().unwrap().keys().cloned().collect();
    for (metric, reasons) in DROP_MAP {
        for r in *reasons {
            assert!(
                names.contains(&r.to_string()),
                "{metric}: no drop counter {r}"
            );
        }
    }
}

#[test]
fn every_transition_reason_has_a_label_in_the_fixed_set() {
    use vrrp_core::router::{FaultCause, Reason};
    let reasons = [
        Reason::Startup,
        Reason::AddressOwner,
        Reason::MasterDown,
        Reason::InitialStateMaster,
        Reason::HigherPriority {
            from: "10.0.0.1".parse().unwrap(),
            priority: vrrp_core::proto::Priority::from_wire(200),
        },
        Reason::EqualPriorityHigherAddress {
            from: "10.0.0.1".parse().unwrap(),
        },
        Reason::Fault(FaultCause::InterfaceDown("eth0".into())),
        Reason::FaultCleared,
        Reason::Shutdown,
        Reason::IdentityChanged,
    ];
    let labels: Vec<_> = reasons.iter().map(reason_label).collect();
    assert_eq!(labels, TRANSITION_REASONS);
}

#[test]
fn openmetrics_only_when_asked_for() {
    assert_eq!(Format::negotiate(None), Format::Prometheus);
    assert_eq!(Format::negotiate(Some("text/plain")), Format::Prometheus);
    assert_eq!(Format::negotiate(Some("*/*")), Format::Prometheus);
    assert_eq!(
        Format::negotiate(Some("application/openmetrics-text")),
        Format::OpenMetrics
    );
    // Prometheus' own Accept header.
    assert_eq!(
        Format::negotiate(Some(
            "application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2"
        )),
        Format::OpenMetrics
    );
    assert_eq!(
        Format::negotiate(Some("text/plain;q=0.9, application/openmetrics-text;q=0.5")),
        Format::Prometheus
    );
    assert_eq!(
        Format::negotiate(Some("application/openmetrics-text;q=0")),
        Format::Prometheus
    );
    assert!(Format::OpenMetrics
        .content_type()
        .starts_with("application/openmetrics-text"));
    assert!(Format::Prometheus
        .content_type()
        .starts_with("text/plain; version=0.0.4"));
}

#[test]
fn the_readme_lists_every_metric() {
    let readme = include_str!("../../../README.md");
    for m in METRICS {
        let row = format!("| `{}` | {} |", m.series_name(), m.kind.as_str());
        assert!(readme.contains(&row), "README has no row starting {row:?}");
    }
}
