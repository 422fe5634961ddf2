//! The engine's Prometheus metrics: what is exposed ([`METRICS`], the one list of
//! names, also the README's "Metrics" table) and how a snapshot becomes the text
//! exposition format (Prometheus 0.0.4, or OpenMetrics when the scraper asks for it),
//! encoded by `prometheus-client`.
//!
//! The event loop never encodes anything: every `publish()` (each state change and
//! counter flush, within 3 s while the endpoint serves) hands an `Arc`'d [`Snapshot`] to [`Published`]; the HTTP server
//! (`server`, its own thread and runtime) encodes the latest one per scrape. The only
//! value computed at scrape time is the age of the master's last advert.
//!
//! Names and labels follow the community keepalived exporter, so existing Grafana
//! dashboards work: `{iname, intf, vrid}` on every per-instance series. Its error
//! counters map from the receive ladder's drop reasons ([`DROP_MAP`]).

pub mod server;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use crate::engine::state_file::{EngineState, InstanceState};

/// What the event loop publishes: the state file's snapshot plus the few facts only
/// the metrics show.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub state: EngineState,
    /// Per instance, in the order of `state.instances`.
    pub extras: Vec<InstanceExtra>,
}

/// Per-instance facts that are not in the state file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InstanceExtra {
    /// When the current master's last advert arrived (a Backup that heard one).
    pub master_heard: Option<Instant>,
    /// State changes by reason (one of [`TRANSITION_REASONS`]).
    pub transitions_by_reason: BTreeMap<&'static str, u64>,
}

/// The `reason` label values of `keepalived_vrrp_transitions_total`: a small fixed
/// set, one per `vrrp_core::router::Reason` variant.
pub const TRANSITION_REASONS: &[&str] = &[
    "startup",
    "address_owner",
    "master_down",
    "initial_state_master",
    "higher_priority",
    "equal_priority_higher_address",
    "fault",
    "fault_cleared",
    "shutdown",
    "identity_changed",
];

/// The `reason` label of a router transition reason.
pub fn reason_label(reason: &vrrp_core::router::Reason) -> &'static str {
    use vrrp_core::router::Reason;
    match reason {
        Reason::Startup => "startup",
        Reason::AddressOwner => "address_owner",
        Reason::MasterDown => "master_down",
        Reason::InitialStateMaster => "initial_state_master",
        Reason::HigherPriority { .. } => "higher_priority",
        Reason::EqualPriorityHigherAddress { .. } => "equal_priority_higher_address",
        Reason::Fault(_) => "fault",
        Reason::FaultCleared => "fault_cleared",
        Reason::Shutdown => "shutdown",
        Reason::IdentityChanged => "identity_changed",
    }
}

/// The latest snapshot, shared between the event loop (writer) and the HTTP server
/// (reader). The lock is held only to swap or clone an `Arc`.
#[derive(Debug, Clone, Default)]
pub struct Published(Arc<Mutex<Arc<Snapshot>>>);

impl Published {
    pub fn set(&self, snapshot: Snapshot) {
        let snapshot = Arc::new(snapshot);
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = snapshot;
    }

    pub fn get(&self) -> Arc<Snapshot> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// A metric's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Gauge,
    Counter,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Gauge => "gauge",
            Kind::Counter => "counter",
        }
    }
}

/// Which value a metric shows (see [`samples`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Id {
    Up,
    BuildInfo,
    VrrpState,
    AdvertsReceived,
    AdvertsSent,
    BecomeMaster,
    ReleaseMaster,
    PriorityZeroReceived,
    PriorityZeroSent,
    /// One of the ladder's drop counters, by the keepalived exporter's name.
    Drops(&'static [&'static str]),
    ScriptStatus,
    Transitions,
    DualMaster,
    DualMasterSeen,
    ForeignRouters,
    ForeignAdverts,
    VipsRestored,
    ClaimsWithdrawn,
    EffectivePriority,
    BasePriority,
    MasterAdvertAge,
}

/// One exposed metric.
#[derive(Debug, Clone, Copy)]
pub struct Metric {
    /// The family name; a counter's samples get `_total` appended.
    pub name: &'static str,
    pub kind: Kind,
    pub labels: &'static [&'static str],
    pub help: &'static str,
    pub id: Id,
}

impl Metric {
    /// The name of the series as scraped (counters end in `_total`).
    pub fn series_name(&self) -> String {
        match self.kind {
            Kind::Counter => format!("{}_total", self.name),
            Kind::Gauge => self.name.to_string(),
        }
    }
}

const INST: &[&str] = &["iname", "intf", "vrid"];

/// How the keepalived exporter's error counters map onto our drop reasons (the
/// snake_case names of `vrrp_core::packet::DropCounters`, as in the state file).
pub const DROP_MAP: &[(&str, &[&str])] = &[
    (
        "keepalived_advertisements_interval_errors",
        &["interval_mismatch"],
    ),
    ("keepalived_ip_ttl_errors", &["ttl"]),
    ("keepalived_address_list_errors", &["address_list_mismatch"]),
    ("keepalived_authentication_invalid", &["auth_type"]),
    ("keepalived_authentication_mismatch", &["auth_pass"]),
    (
        "keepalived_packet_length_errors",
        &["truncated", "trailing_bytes"],
    ),
    ("keepalived_invalid_type_received", &["packet_type"]),
];

const fn drops(i: usize) -> Id {
    Id::Drops(DROP_MAP[i].1)
}

/// Every metric the engine exposes, in exposition order. The README's "Metrics"
/// section lists the same (a test keeps them in step).
pub const METRICS: &[Metric] = &[
    Metric {
        name: "keepalived_up",
        kind: Kind::Gauge,
        labels: &[],
        help: "1 while the engine runs",
        id: Id::Up,
    },
    Metric {
        name: "keepalived_build_info",
        kind: Kind::Gauge,
        labels: &["version"],
        help: "Always 1; the engine's version in the label",
        id: Id::BuildInfo,
    },
    Metric {
        name: "keepalived_vrrp_state",
        kind: Kind::Gauge,
        labels: &["iname", "intf", "vrid", "ip_address"],
        help: "VRRP state per VIP: 0 INIT, 1 BACKUP, 2 MASTER, 3 FAULT",
        id: Id::VrrpState,
    },
    Metric {
        name: "keepalived_advertisements_received",
        kind: Kind::Counter,
        labels: INST,
        help: "Adverts received and accepted by the instance",
        id: Id::AdvertsReceived,
    },
    Metric {
        name: "keepalived_advertisements_sent",
        kind: Kind::Counter,
        labels: INST,
        help: "Adverts sent",
        id: Id::AdvertsSent,
    },
    Metric {
        name: "keepalived_become_master",
        kind: Kind::Counter,
        labels: INST,
        help: "Transitions to MASTER",
        id: Id::BecomeMaster,
    },
    Metric {
        name: "keepalived_release_master",
        kind: Kind::Counter,
        labels: INST,
        help: "MASTER releases (priority-0 adverts sent)",
        id: Id::ReleaseMaster,
    },
    Metric {
        name: "keepalived_priority_zero_received",
        kind: Kind::Counter,
        labels: INST,
        help: "Priority-0 adverts received (a master resigning)",
        id: Id::PriorityZeroReceived,
    },
    Metric {
        name: "keepalived_priority_zero_sent",
        kind: Kind::Counter,
        labels: INST,
        help: "Priority-0 adverts sent",
        id: Id::PriorityZeroSent,
    },
    Metric {
        name: DROP_MAP[0].0,
        kind: Kind::Counter,
        labels: INST,
        help: "Adverts dropped: VRRPv2 advert interval differs from ours",
        id: drops(0),
    },
    Metric {
        name: DROP_MAP[1].0,
        kind: Kind::Counter,
        labels: INST,
        help: "Adverts dropped: TTL / hop limit not 255",
        id: drops(1),
    },
    Metric {
        name: DROP_MAP[2].0,
        kind: Kind::Counter,
        labels: INST,
        help: "Adverts dropped: virtual address list differs from ours",
        id: drops(2),
    },
    Metric {
        name: DROP_MAP[3].0,
        kind: Kind::Counter,
        labels: INST,
        help: "Adverts dropped: VRRPv2 authentication type unsupported or not ours",
        id: drops(3),
    },
    Metric {
        name: DROP_MAP[4].0,
        kind: Kind::Counter,
        labels: INST,
        help: "Adverts dropped: VRRPv2 authentication password differs",
        id: drops(4),
    },
    Metric {
        name: DROP_MAP[5].0,
        kind: Kind::Counter,
        labels: INST,
        help: "Adverts dropped: shorter or longer than the address count implies",
        id: drops(5),
    },
    Metric {
        name: DROP_MAP[6].0,
        kind: Kind::Counter,
        labels: INST,
        help: "Adverts dropped: VRRP type other than ADVERTISEMENT",
        id: drops(6),
    },
    Metric {
        name: "keepalived_script_status",
        kind: Kind::Gauge,
        labels: &["name"],
        help: "Tracked script status: 0 KO, 1 OK (no series before its first result)",
        id: Id::ScriptStatus,
    },
    Metric {
        name: "keepalived_vrrp_transitions",
        kind: Kind::Counter,
        labels: &["iname", "intf", "vrid", "reason"],
        help: "State changes by reason",
        id: Id::Transitions,
    },
    Metric {
        name: "keepalived_vrrp_dual_master",
        kind: Kind::Gauge,
        labels: INST,
        help: "1 while another MASTER keeps claiming the VRID while we are MASTER (split brain)",
        id: Id::DualMaster,
    },
    Metric {
        name: "keepalived_vrrp_dual_master_seen",
        kind: Kind::Counter,
        labels: INST,
        help: "Split-brain episodes seen as MASTER",
        id: Id::DualMasterSeen,
    },
    Metric {
        name: "keepalived_vrrp_foreign_routers",
        kind: Kind::Gauge,
        labels: INST,
        help: "Routers outside the cluster heard recently on our VRID",
        id: Id::ForeignRouters,
    },
    Metric {
        name: "keepalived_vrrp_foreign_adverts",
        kind: Kind::Counter,
        labels: INST,
        help: "Adverts on our VRID from routers outside the cluster",
        id: Id::ForeignAdverts,
    },
    Metric {
        name: "keepalived_vrrp_vips_restored",
        kind: Kind::Counter,
        labels: INST,
        help: "VIPs put back after something else removed them while MASTER",
        id: Id::VipsRestored,
    },
    Metric {
        name: "keepalived_vrrp_claims_withdrawn",
        kind: Kind::Counter,
        labels: INST,
        help: "Claims withdrawn: the down timer ran out but the MASTER answered, so the VIPs stayed put (adverts being lost)",
        id: Id::ClaimsWithdrawn,
    },
    Metric {
        name: "keepalived_vrrp_effective_priority",
        kind: Kind::Gauge,
        labels: INST,
        help: "Priority advertised now (base priority plus tracking weights)",
        id: Id::EffectivePriority,
    },
    Metric {
        name: "keepalived_vrrp_base_priority",
        kind: Kind::Gauge,
        labels: INST,
        help: "Configured priority",
        id: Id::BasePriority,
    },
    Metric {
        name: "keepalived_vrrp_master_advert_age_seconds",
        kind: Kind::Gauge,
        labels: INST,
        help: "Seconds since the current master's last advert (0 when MASTER; no series before a BACKUP hears one)",
        id: Id::MasterAdvertAge,
    },
];

/// A sample value.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Value {
    Counter(u64),
    Gauge(i64),
    Seconds(f64),
}

type Labels = Vec<(&'static str, String)>;

fn inst_labels(i: &InstanceState) -> Labels {
    vec![
        ("iname", i.name.clone()),
        ("intf", i.interface.clone()),
        ("vrid", i.vrid.to_string()),
    ]
}

fn state_code(state: &str) -> i64 {
    match state {
        "BACKUP" => 1,
        "MASTER" => 2,
        "FAULT" => 3,
        _ => 0,
    }
}

/// The samples of `metric` in `snap` at `now`.
fn samples(metric: &Metric, snap: &Snapshot, now: Instant) -> Vec<(Labels, Value)> {
    let per_instance = |f: &dyn Fn(&InstanceState, Option<&InstanceExtra>) -> Option<Value>| {
        snap.state
            .instances
            .iter()
            .enumerate()
            .filter_map(|(n, i)| f(i, snap.extras.get(n)).map(|v| (inst_labels(i), v)))
            .collect::<Vec<_>>()
    };
    let counter = |f: fn(&InstanceState) -> u64| per_instance(&|i, _| Some(Value::Counter(f(i))));
    match metric.id {
        Id::Up => vec![(Vec::new(), Value::Gauge(1))],
        Id::BuildInfo => vec![(
            vec![("version", env!("CARGO_PKG_VERSION").to_string())],
            Value::Gauge(1),
        )],
        Id::VrrpState => snap
            .state
            .instances
            .iter()
            .flat_map(|i| {
                i.vips.iter().map(move |vip| {
                    let mut labels = inst_labels(i);
                    labels.push(("ip_address", vip.clone()));
                    (labels, Value::Gauge(state_code(&i.state)))
                })
            })
            .collect(),
        Id::AdvertsReceived => counter(|i| i.counters.adverts_received),
        Id::AdvertsSent => counter(|i| i.counters.adverts_sent),
        Id::BecomeMaster => counter(|i| i.counters.became_master),
        Id::ReleaseMaster | Id::PriorityZeroSent => counter(|i| i.counters.released),
        Id::PriorityZeroReceived => counter(|i| i.counters.priority_zero_received),
        Id::Drops(reasons) => per_instance(&|i, _| {
            Some(Value::Counter(
                reasons
                    .iter()
                    .filter_map(|r| i.counters.drops.get(*r))
                    .sum(),
            ))
        }),
        Id::ScriptStatus => {
            // A script tracked by several instances shows once.
            let mut by_name = BTreeMap::new();
            for i in &snap.state.instances {
                for (name, status) in &i.scripts {
                    match status.as_str() {
                        "OK" => by_name.insert(name.clone(), 1),
                        "KO" => by_name.insert(name.clone(), 0),
                        _ => None,
                    };
                }
            }
            by_name
                .into_iter()
                .map(|(name, v)| (vec![("name", name)], Value::Gauge(v)))
                .collect()
        }
        Id::Transitions => snap
            .state
            .instances
            .iter()
            .enumerate()
            .flat_map(|(n, i)| {
                let by_reason = snap
                    .extras
                    .get(n)
                    .map(|e| e.transitions_by_reason.clone())
                    .unwrap_or_default();
                by_reason.into_iter().map(move |(reason, count)| {
                    let mut labels = inst_labels(i);
                    labels.push(("reason", reason.to_string()));
                    (labels, Value::Counter(count))
                })
            })
            .collect(),
        Id::DualMaster => {
            per_instance(&|i, _| Some(Value::Gauge(i64::from(i.dual_master.is_some()))))
        }
        Id::DualMasterSeen => counter(|i| i.counters.dual_master_seen),
        Id::ForeignRouters => per_instance(&|i, _| {
            Some(Value::Gauge(
                i64::try_from(i.foreign_routers.len()).unwrap_or(i64::MAX),
            ))
        }),
        Id::ForeignAdverts => counter(|i| i.counters.foreign_adverts),
        Id::VipsRestored => counter(|i| i.counters.vips_restored),
        Id::ClaimsWithdrawn => counter(|i| i.counters.claims_withdrawn),
        Id::EffectivePriority => {
            per_instance(&|i, _| Some(Value::Gauge(i64::from(i.effective_priority))))
        }
        Id::BasePriority => per_instance(&|i, _| Some(Value::Gauge(i64::from(i.base_priority)))),
        Id::MasterAdvertAge => per_instance(&|i, e| match i.state.as_str() {
            "MASTER" => Some(Value::Seconds(0.0)),
            "BACKUP" => e
                .and_then(|e| e.master_heard)
                .map(|t| Value::Seconds(now.saturating_duration_since(t).as_secs_f64())),
            _ => None,
        }),
    }
}

/// A snapshot as a `prometheus-client` collector (encoded on each scrape).
#[derive(Debug)]
struct SnapshotCollector {
    snap: Arc<Snapshot>,
    now: Instant,
}

impl Collector for SnapshotCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        for metric in METRICS {
            let metric_type = match metric.kind {
                Kind::Gauge => MetricType::Gauge,
                Kind::Counter => MetricType::Counter,
            };
            let mut family =
                encoder.encode_descriptor(metric.name, metric.help, None, metric_type)?;
            for (labels, value) in samples(metric, &self.snap, self.now) {
                let m = family.encode_family(&labels)?;
                match value {
                    Value::Counter(v) => ConstCounter::new(v).encode(m)?,
                    Value::Gauge(v) => ConstGauge::new(v).encode(m)?,
                    Value::Seconds(v) => ConstGauge::new(v).encode(m)?,
                }
            }
        }
        Ok(())
    }
}

/// The exposition format to answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text format 0.0.4.
    Prometheus,
    /// OpenMetrics text 1.0.0.
    OpenMetrics,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Prometheus => prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }

    /// OpenMetrics when the `Accept` header asks for it at least as much as for the
    /// Prometheus text format (`text/plain`, `text/*`, `*/*`); Prometheus otherwise.
    pub fn negotiate(accept: Option<&str>) -> Format {
        let Some(accept) = accept else {
            return Format::Prometheus;
        };
        let (mut open, mut plain) = (0.0f32, 0.0f32);
        for range in accept.split(',') {
            let mut parts = range.split(';').map(str::trim);
            let media = parts.next().unwrap_or("").to_ascii_lowercase();
            let q = parts
                .filter_map(|p| p.strip_prefix("q="))
                .find_map(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            match media.as_str() {
                "application/openmetrics-text" => open = open.max(q),
                "text/plain" | "text/*" | "*/*" => plain = plain.max(q),
                _ => {}
            }
        }
        if open > 0.0 && open >= plain {
            Format::OpenMetrics
        } else {
            Format::Prometheus
        }
    }
}

/// `snap` in `format`, with the master advert ages as of `now`.
pub fn encode(snap: Arc<Snapshot>, now: Instant, format: Format) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(SnapshotCollector { snap, now }));
    let mut out = String::new();
    // Writing into a String cannot fail; a collector error would be ours.
    let result = match format {
        Format::Prometheus => {
            prometheus_client::encoding::prometheus_text::encode(&mut out, &registry)
        }
        Format::OpenMetrics => prometheus_client::encoding::text::encode(&mut out, &registry),
    };
    if let Err(e) = result {
        tracing::error!(error = %e, "cannot encode the metrics");
    }
    out
}

#[cfg(test)]
mod tests;
