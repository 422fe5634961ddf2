//! The `cos-agent` endpoint (interface `cos_agent`): this unit tells the COS collector
//! subordinate (opentelemetry-collector, grafana-agent) what to scrape and which alert
//! rules and dashboards go with it.
//!
//! Wire format: one key, `config`, in this unit's bag, holding one JSON object as the
//! reference library's `CosAgentProviderUnitData` dumps it (charm library
//! `charms.grafana_agent.v0.cos_agent`, which the collector charms read it with):
//!
//! | field | type | ours |
//! |---|---|---|
//! | `metrics_alert_rules` | dict | `{"groups": [...]}`, [`RULES`] (Prometheus rule format) |
//! | `log_alert_rules` | dict | `{}` |
//! | `dashboards` | list of str | [`DASHBOARD`], uid and tags set as the library does, xz-compressed then base64 (cosl's `LZMABase64`) |
//! | `metrics_scrape_jobs` | list of dict | one job for `metrics_address`, `[]` when it is empty |
//! | `log_slots` | list of str | `[]` |
//! | `subordinate` | bool | `true` |
//!
//! The library sets each dashboard's `uid` to cosl's `DashboardPath40UID`: the first 40
//! hex digits of shake_256(`<charm>-<path>`), path relative to the charm root. Both are
//! fixed here, so the uid is the constant [`DASHBOARD_UID`] (checked against the hash in
//! the unit tests and against cosl itself in the lab), not a hash computed at run time.
//!
//! The rules group by the Juju topology labels the collector adds to every series
//! (`juju_model`, `juju_model_uuid`, `juju_application`, `juju_unit`); the collector
//! scopes them to the principal's topology when it forwards them.
//!
//! Published on `cos-agent-relation-created/-joined/-changed`, `config-changed` and
//! `upgrade-charm`; written only when it differs from what this unit last wrote (a
//! fingerprint is kept in charm state).

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use base64::Engine as _;
use serde_json::{json, Value};

use super::hook::{Hook, HookContext, RelationKind};
use super::hooktools::{Bag, HookTools, RelationId, ToolError};
use super::state::CharmState;

/// The endpoint in metadata.yaml.
pub const COS_AGENT: &str = "cos-agent";
/// The unit-bag key the library nests its data under.
pub const KEY: &str = "config";
/// metadata.yaml's `name`, which the library puts in the uid and tags.
pub const CHARM_NAME: &str = "keepalived";
/// The alert rules, Prometheus rule-file format (also `promtool check rules` input).
pub const RULES: &str = include_str!("cos/prometheus_alert_rules.json");
/// The Grafana dashboard (datasource `${prometheusds}`, topology template variables).
pub const DASHBOARD: &str = include_str!("cos/keepalived_dashboard.json");
/// The dashboard's path relative to the charm root, for its uid.
pub const DASHBOARD_PATH: &str = "src/charm/cos/keepalived_dashboard.json";
/// `DashboardPath40UID.generate(CHARM_NAME, DASHBOARD_PATH)`.
pub const DASHBOARD_UID: &str = "7ad8016d746567b71df26dd66b8410903f0d9fe9";
/// The scrape job's name (the collector may prefix it with the topology).
pub const JOB_NAME: &str = "keepalived";

/// Where the collector, on the same machine, scrapes an address: a wildcard bind
/// (`0.0.0.0`, `::`) is reached on loopback.
pub fn scrape_target(address: SocketAddr) -> String {
    let ip = match address.ip() {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, address.port()).to_string()
}

/// Python's `lzma.compress` (xz container, CRC64, preset 6) then base64: cosl's
/// `LZMABase64.compress`.
pub fn lzma_base64(text: &str) -> String {
    let mut encoder = xz2::write::XzEncoder::new(Vec::new(), 6);
    // Writing to a Vec cannot fail.
    let _ = encoder.write_all(text.as_bytes());
    let compressed = encoder.finish().unwrap_or_default();
    base64::engine::general_purpose::STANDARD.encode(compressed)
}

/// The dashboard as the library ships it: its uid replaced, `charm: <name>` tagged.
pub fn dashboard() -> Value {
    let mut d: Value = serde_json::from_str(DASHBOARD).unwrap_or_else(|_| json!({}));
    if let Some(obj) = d.as_object_mut() {
        obj.insert("uid".into(), DASHBOARD_UID.into());
        let tags = obj.entry("tags").or_insert_with(|| json!([]));
        if let Some(tags) = tags.as_array_mut() {
            let tagged = tags
                .iter()
                .any(|t| t.as_str().is_some_and(|t| t.starts_with("charm: ")));
            if !tagged {
                tags.push(format!("charm: {CHARM_NAME}").into());
            }
        }
    }
    d
}

/// The `config` object for a metrics endpoint (`None`: metrics off).
pub fn payload(metrics_address: Option<SocketAddr>) -> Value {
    let rules: Value = serde_json::from_str(RULES).unwrap_or_else(|_| json!({"groups": []}));
    let jobs: Vec<Value> = metrics_address
        .map(|a| {
            json!({
                "job_name": JOB_NAME,
                "metrics_path": "/metrics",
                "static_configs": [{"targets": [scrape_target(a)]}],
            })
        })
        .into_iter()
        .collect();
    json!({
        "metrics_alert_rules": rules,
        "log_alert_rules": {},
        "dashboards": [lzma_base64(&dashboard().to_string())],
        "metrics_scrape_jobs": jobs,
        "log_slots": [],
        "subordinate": true,
    })
}

/// A stable fingerprint (FNV-1a, 64 bits) of what was written, kept in charm state
/// instead of the ~10 kB value.
pub fn fingerprint(text: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// The `metrics_address` option as a scrape address (empty or invalid: none; an
/// invalid one also blocks the unit with its message).
pub fn metrics_address(option: &str) -> Option<SocketAddr> {
    option.trim().parse().ok()
}

/// Publishes [`payload`] on the cos-agent relations this hook concerns (see the module
/// doc); forgets a relation on its `-broken`. Returns how many bags were written.
pub fn publish(
    ctx: &HookContext,
    metrics_address_option: &str,
    state: &mut CharmState,
    tools: &mut dyn HookTools,
) -> Result<usize, ToolError> {
    let relations: Vec<RelationId> = match &ctx.hook {
        Hook::ConfigChanged | Hook::UpgradeCharm => {
            let ids = tools.relation_ids(COS_AGENT)?;
            let keep: Vec<String> = ids.iter().map(|r| r.to_string()).collect();
            state
                .published
                .retain(|k, _| !k.starts_with(&format!("{COS_AGENT}:")) || keep.contains(k));
            ids
        }
        Hook::Relation {
            endpoint: COS_AGENT,
            kind,
        } => {
            let Some(rid) = ctx.relation_id.clone() else {
                return Ok(0);
            };
            match kind {
                RelationKind::Created | RelationKind::Joined | RelationKind::Changed => {
                    vec![rid]
                }
                RelationKind::Broken => {
                    state.published.remove(&rid.to_string());
                    return Ok(0);
                }
                RelationKind::Departed => return Ok(0),
            }
        }
        _ => return Ok(0),
    };
    if relations.is_empty() {
        return Ok(0);
    }
    let text = payload(metrics_address(metrics_address_option)).to_string();
    let print = fingerprint(&text);
    let mut written = 0;
    for rid in relations {
        let key = rid.to_string();
        if state
            .published
            .get(&key)
            .and_then(|b| b.get(KEY))
            .is_some_and(|p| *p == print)
        {
            continue;
        }
        let mut bag = Bag::new();
        bag.insert(KEY.to_string(), text.clone());
        match tools.relation_set(&rid, &bag) {
            Ok(()) => {
                let mut cached = Bag::new();
                cached.insert(KEY.to_string(), print.clone());
                state.published.insert(key, cached);
                written += 1;
            }
            // Gone under us: nothing to publish to.
            Err(ToolError::RelationNotFound { .. }) => {
                state.published.remove(&key);
            }
            Err(e) => return Err(e),
        }
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn decompress(b64: &str) -> String {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        let mut out = String::new();
        xz2::read::XzDecoder::new(&bytes[..])
            .read_to_string(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn payload_has_exactly_the_library_fields_and_types() {
        let p = payload(Some("127.0.0.1:9165".parse().unwrap()));
        let obj = p.as_object().unwrap();
        let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "dashboards",
                "log_alert_rules",
                "log_slots",
                "metrics_alert_rules",
                "metrics_scrape_jobs",
                "subordinate"
            ]
        );
        assert!(p["metrics_alert_rules"]["groups"].is_array());
        assert_eq!(p["log_alert_rules"], json!({}));
        assert_eq!(p["log_slots"], json!([]));
        assert_eq!(p["subordinate"], json!(true));
        assert_eq!(
            p["metrics_scrape_jobs"],
            json!([{
                "job_name": "keepalived",
                "metrics_path": "/metrics",
                "static_configs": [{"targets": ["127.0.0.1:9165"]}]
            }])
        );
        assert_eq!(p["dashboards"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn no_metrics_address_means_no_scrape_job() {
        assert_eq!(payload(None)["metrics_scrape_jobs"], json!([]));
        assert_eq!(metrics_address(""), None);
        assert_eq!(metrics_address("localhost:9165"), None);
        assert_eq!(
            metrics_address(" [::1]:9165 "),
            Some("[::1]:9165".parse().unwrap())
        );
    }

    #[test]
    fn wildcard_binds_are_scraped_on_loopback() {
        assert_eq!(
            scrape_target("0.0.0.0:9165".parse().unwrap()),
            "127.0.0.1:9165"
        );
        assert_eq!(scrape_target("[::]:9165".parse().unwrap()), "[::1]:9165");
        assert_eq!(
            scrape_target("10.0.0.5:9100".parse().unwrap()),
            "10.0.0.5:9100"
        );
    }

    #[test]
    fn the_dashboard_round_trips_with_the_library_uid_and_charm_tag() {
        let p = payload(None);
        let d: Value =
            serde_json::from_str(&decompress(p["dashboards"][0].as_str().unwrap())).unwrap();
        assert_eq!(d["uid"], DASHBOARD_UID);
        assert!(d["tags"]
            .as_array()
            .unwrap()
            .contains(&json!("charm: keepalived")));
        let mut original: Value = serde_json::from_str(DASHBOARD).unwrap();
        original["uid"] = d["uid"].clone();
        original["tags"] = d["tags"].clone();
        assert_eq!(d, original);
    }

    #[test]
    fn the_dashboard_uid_is_cosl_dashboard_path_40_uid() {
        use sha3::digest::{ExtendableOutput, Update, XofReader};
        let mut h = sha3::Shake256::default();
        h.update(format!("{CHARM_NAME}-{DASHBOARD_PATH}").as_bytes());
        let mut out = [0u8; 20];
        XofReader::read(&mut h.finalize_xof(), &mut out);
        let hex: String = out.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, DASHBOARD_UID);
        assert!(std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(DASHBOARD_PATH)
            .exists());
    }

    #[test]
    fn the_dashboard_uses_the_cos_datasource_and_topology_variables() {
        let d: Value = serde_json::from_str(DASHBOARD).unwrap();
        let vars: Vec<&str> = d["templating"]["list"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["name"].as_str().unwrap())
            .collect();
        for v in [
            "prometheusds",
            "juju_model",
            "juju_model_uuid",
            "juju_application",
            "juju_unit",
        ] {
            assert!(vars.contains(&v), "{v}");
        }
        for panel in d["panels"].as_array().unwrap() {
            assert_eq!(panel["datasource"]["uid"], "${prometheusds}", "{panel}");
        }
    }

    #[test]
    fn the_rules_name_every_required_alert() {
        let rules: Value = serde_json::from_str(RULES).unwrap();
        let names: Vec<&str> = rules["groups"][0]["rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["alert"].as_str().unwrap())
            .collect();
        for a in [
            "KeepalivedNoMaster",
            "KeepalivedMultipleMasters",
            "KeepalivedFlapping",
            "KeepalivedEngineDown",
            "KeepalivedForeignRouter",
            "KeepalivedHealthCheckFailingOnMaster",
        ] {
            assert!(names.contains(&a), "{a}");
        }
    }

    #[test]
    fn the_fingerprint_is_stable_and_tells_payloads_apart() {
        assert_eq!(fingerprint(""), "cbf29ce484222325");
        let a = payload(None).to_string();
        let b = payload(Some("127.0.0.1:9165".parse().unwrap())).to_string();
        assert_eq!(fingerprint(&a), fingerprint(&payload(None).to_string()));
        assert_ne!(fingerprint(&a), fingerprint(&b));
    }
}
