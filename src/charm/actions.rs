//! Juju actions (`actions.yaml`), run by the same binary when Juju dispatches
//! `actions/<name>` (`JUJU_ACTION_NAME` set).
//!
//! `status`: what the engine reports in its state file, as structured results for
//! `juju run keepalived/0 status` plus the whole file as one JSON string under `json`
//! (`juju run keepalived/0 status --format=json | jq '.[].results.json | fromjson'`).
//!
//! | result key | value |
//! |---|---|
//! | `engine.pid`, `engine.config`, `engine.reloads` | the engine's process, config file, SIGHUP reloads |
//! | `engine.updated` | the heartbeat, RFC 3339 UTC |
//! | `engine.stale` | `true` when the heartbeat is older than [`STALE_AFTER`] (the engine is gone) |
//! | `engine.last-reload-error` | why the last reload was refused, when it was |
//! | `instances.<key>.name` | the `vrrp_instance` name (`<key>` is it in lower case, `_` → `-`: `VI_1` → `vi-1`) |
//! | `instances.<key>.role` | `INIT`, `BACKUP`, `MASTER` or `FAULT` |
//! | `instances.<key>.family`, `.vrid`, `.interface`, `.vips` (comma-separated) | the instance |
//! | `instances.<key>.base-priority`, `.effective-priority` | priorities (effective = after tracked scripts) |
//! | `instances.<key>.master` | the current master's address (`unknown` while none is heard) |
//! | `instances.<key>.last-transition.time`, `.last-transition.reason` | the last role change |
//! | `instances.<key>.fault` | why it is in FAULT, while it is |
//! | `instances.<key>.scripts.<script>` | `OK`, `KO` or `UNKNOWN` |
//! | `instances.<key>.dual-master` | the other MASTER of a split brain, else `none` |
//! | `instances.<key>.foreign-routers` | `ADDRESS (reason)`, comma-separated, else `none` |
//! | `instances.<key>.adverts-sent`, `.adverts-received`, `.transitions` | counters |
//! | `instances.<key>.drops.<reason>` | received adverts dropped, per reason (`_` → `-`) |
//! | `json` | the state file as compact JSON, every field as the engine wrote it |
//!
//! Without a state file (or with one that is not the engine's) the action fails with
//! what to check, and exits 0: a failed action never puts the unit in error.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use super::hooktools::{HookTools, ToolError};
use super::state::CharmState;
use super::status::STALE_AFTER;
use crate::engine::state_file::EngineState;

/// The actions `actions.yaml` declares.
pub const STATUS: &str = "status";

/// What the action failed with when the engine has not written its state file.
pub const NO_STATE_MESSAGE: &str = "the engine has not reported yet: check `systemctl status keepalived-charm` and `journalctl -u keepalived-charm` on this machine (the engine runs only once virtual_ip is set and the unit has started)";

/// The action Juju runs: `JUJU_ACTION_NAME`, else the name in `JUJU_DISPATCH_PATH`
/// (`actions/<name>`); `None` for a hook.
pub fn action_name(dispatch_path: Option<&str>, action_env: Option<&str>) -> Option<String> {
    if let Some(name) = action_env.filter(|n| !n.is_empty()) {
        return Some(name.to_string());
    }
    dispatch_path
        .and_then(|p| p.strip_prefix("actions/"))
        .filter(|n| !n.is_empty())
        .map(str::to_string)
}

/// A result key segment Juju accepts (lowercase letters, digits, inner hyphens) for
/// any name: lower case, every other character a hyphen, no leading, trailing or
/// doubled hyphen; `x` for a name with nothing left.
pub fn result_key(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    if out.is_empty() {
        out.push('x');
    }
    out
}

/// Milliseconds since the epoch as RFC 3339 UTC with milliseconds
/// (`2023-11-14T22:13:20.000Z`).
pub fn rfc3339(unix_ms: u64) -> String {
    let secs = unix_ms / 1000;
    let ms = unix_ms % 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Whether a heartbeat written at `updated_unix_ms` is older than [`STALE_AFTER`]
/// at `now` (the same rule as the unit status).
pub fn is_stale(updated_unix_ms: u64, now: SystemTime) -> bool {
    let written = UNIX_EPOCH + Duration::from_millis(updated_unix_ms);
    now.duration_since(written)
        .is_ok_and(|age| age > STALE_AFTER)
}

/// The `status` results for a state file (see the module doc), in a stable order.
/// `raw` is the file as parsed JSON (for `json`, with fields this version does not
/// know), `state` the same file typed.
pub fn status_results(
    raw: &Value,
    state: &EngineState,
    timing: Option<&str>,
    now: SystemTime,
) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut set = |k: String, v: String| out.push((k, v));
    // The charm's choice (`timing`), e.g. "VRRPv3 0.1 s: every unit runs this
    // charm's engine"; "unknown" before the first configured hook.
    set("timing".into(), timing.unwrap_or("unknown").to_string());
    set("engine.pid".into(), state.pid.to_string());
    set("engine.config".into(), state.config.clone());
    set("engine.updated".into(), rfc3339(state.updated_unix_ms));
    set(
        "engine.stale".into(),
        is_stale(state.updated_unix_ms, now).to_string(),
    );
    set("engine.reloads".into(), state.reloads.to_string());
    if let Some(e) = &state.last_reload_error {
        set("engine.last-reload-error".into(), e.clone());
    }
    for i in &state.instances {
        let p = format!("instances.{}", result_key(&i.name));
        let mut put = |k: &str, v: String| set(format!("{p}.{k}"), v);
        put("name", i.name.clone());
        put("role", i.state.clone());
        put("family", i.family.clone());
        put("vrid", i.vrid.to_string());
        put("interface", i.interface.clone());
        put("vips", i.vips.join(", "));
        put("base-priority", i.base_priority.to_string());
        put("effective-priority", i.effective_priority.to_string());
        put(
            "master",
            i.master.clone().unwrap_or_else(|| "unknown".into()),
        );
        put("last-transition.time", rfc3339(i.last_transition_unix_ms));
        put("last-transition.reason", i.last_transition_reason.clone());
        if let Some(fault) = &i.fault {
            put("fault", fault.clone());
        }
        for (script, result) in &i.scripts {
            put(&format!("scripts.{}", result_key(script)), result.clone());
        }
        put(
            "dual-master",
            i.dual_master.clone().unwrap_or_else(|| "none".into()),
        );
        let foreign: Vec<String> = i
            .foreign_routers
            .iter()
            .map(|f| format!("{} ({})", f.address, f.reason))
            .collect();
        put(
            "foreign-routers",
            if foreign.is_empty() {
                "none".into()
            } else {
                foreign.join(", ")
            },
        );
        put("adverts-sent", i.counters.adverts_sent.to_string());
        put("adverts-received", i.counters.adverts_received.to_string());
        put("transitions", i.counters.transitions.to_string());
        for (reason, n) in &i.counters.drops {
            put(&format!("drops.{}", result_key(reason)), n.to_string());
        }
    }
    set("json".into(), raw.to_string());
    out
}

/// Why the state file gives no results.
#[derive(Debug, PartialEq, Eq)]
pub enum NoReport {
    Missing,
    Unreadable(String),
}

/// Reads and parses the engine's state file.
pub fn read_state(path: &Path) -> Result<(Value, EngineState), NoReport> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(NoReport::Missing),
        Err(e) => return Err(NoReport::Unreadable(e.to_string())),
    };
    let raw: Value =
        serde_json::from_str(&text).map_err(|e| NoReport::Unreadable(e.to_string()))?;
    let mut state: EngineState =
        serde_json::from_value(raw.clone()).map_err(|e| NoReport::Unreadable(e.to_string()))?;
    state.updated_unix_ms = crate::engine::state_file::heartbeat_ms(path, state.updated_unix_ms);
    Ok((raw, state))
}

/// Runs action `name`: its results through `action-set`, or `action-fail` with what
/// to do. Only a hook tool that cannot run is an error (the process then exits 1).
/// An action this charm does not declare (Juju never dispatches one) does nothing,
/// like an unknown hook.
pub fn run(
    name: &str,
    tools: &mut dyn HookTools,
    state_file: &Path,
    now: SystemTime,
) -> Result<(), ToolError> {
    if name != STATUS {
        return Ok(());
    }
    match read_state(state_file) {
        Ok((raw, state)) => {
            let (charm, _) = CharmState::from_bag(&tools.state_get()?);
            let results = status_results(&raw, &state, charm.timing.as_deref(), now);
            tools.action_set(&results)
        }
        Err(NoReport::Missing) => tools.action_fail(NO_STATE_MESSAGE),
        Err(NoReport::Unreadable(why)) => tools.action_fail(&format!(
            "cannot read the engine's state file {}: {why}; {NO_STATE_MESSAGE}",
            state_file.display()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    const STATE: &str = r#"{
      "schema": 1, "pid": 4242, "config": "/etc/keepalived-charm/keepalived.conf",
      "updated_unix_ms": 1700000000000,
      "instances": [{
        "name": "VI_1", "family": "ipv4", "vrid": 23, "interface": "eth0",
        "state": "MASTER", "base_priority": 254, "effective_priority": 254,
        "master": "10.0.0.1", "last_transition_unix_ms": 1699999990500,
        "last_transition_reason": "master down timer expired",
        "vips": ["10.10.74.250/24", "10.10.74.251/24"],
        "counters": {"adverts_sent": 10, "adverts_received": 2, "became_master": 1,
          "released": 0, "transitions": 2,
          "drops": {"bad_ttl": 3, "vrid_mismatch": 1}, "checksum_forms": {}},
        "scripts": {"chk_tcp_443": "OK"},
        "dual_master": "10.0.0.2",
        "foreign_routers": [{"address": "10.0.0.9", "reason": "another virtual address list",
          "last_heard_unix_ms": 1699999999000}],
        "a_field_from_the_future": true
      }],
      "receivers": [], "reloads": 3, "last_reload_error": null
    }"#;

    fn results(now_ms: u64) -> BTreeMap<String, String> {
        let raw: Value = serde_json::from_str(STATE).unwrap();
        let state: EngineState = serde_json::from_value(raw.clone()).unwrap();
        let now = UNIX_EPOCH + Duration::from_millis(now_ms);
        let timing = Some("VRRPv3 0.1 s: every unit runs this charm's engine");
        status_results(&raw, &state, timing, now)
            .into_iter()
            .collect()
    }

    #[test]
    fn status_results_name_every_instance_fact_under_juju_keys() {
        let r = results(1_700_000_001_000);
        let expect = [
            (
                "timing",
                "VRRPv3 0.1 s: every unit runs this charm's engine",
            ),
            ("engine.pid", "4242"),
            ("engine.config", "/etc/keepalived-charm/keepalived.conf"),
            ("engine.updated", "2023-11-14T22:13:20.000Z"),
            ("engine.stale", "false"),
            ("engine.reloads", "3"),
            ("instances.vi-1.name", "VI_1"),
            ("instances.vi-1.role", "MASTER"),
            ("instances.vi-1.family", "ipv4"),
            ("instances.vi-1.vrid", "23"),
            ("instances.vi-1.interface", "eth0"),
            ("instances.vi-1.vips", "10.10.74.250/24, 10.10.74.251/24"),
            ("instances.vi-1.base-priority", "254"),
            ("instances.vi-1.effective-priority", "254"),
            ("instances.vi-1.master", "10.0.0.1"),
            (
                "instances.vi-1.last-transition.time",
                "2023-11-14T22:13:10.500Z",
            ),
            (
                "instances.vi-1.last-transition.reason",
                "master down timer expired",
            ),
            ("instances.vi-1.scripts.chk-tcp-443", "OK"),
            ("instances.vi-1.dual-master", "10.0.0.2"),
            (
                "instances.vi-1.foreign-routers",
                "10.0.0.9 (another virtual address list)",
            ),
            ("instances.vi-1.adverts-sent", "10"),
            ("instances.vi-1.adverts-received", "2"),
            ("instances.vi-1.transitions", "2"),
            ("instances.vi-1.drops.bad-ttl", "3"),
            ("instances.vi-1.drops.vrid-mismatch", "1"),
        ];
        for (k, v) in expect {
            assert_eq!(r.get(k).map(String::as_str), Some(v), "{k}");
        }
        assert!(!r.contains_key("engine.last-reload-error"));
        assert!(!r.contains_key("instances.vi-1.fault"));
        // The whole file, unknown fields included, as one JSON string.
        let json: Value = serde_json::from_str(&r["json"]).unwrap();
        assert_eq!(json, serde_json::from_str::<Value>(STATE).unwrap());
        assert_eq!(json["instances"][0]["a_field_from_the_future"], true);
        assert_eq!(r.len(), expect.len() + 1);
    }

    #[test]
    fn every_result_key_is_one_juju_accepts() {
        let ok = |s: &str| {
            let c = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
            s.starts_with(c) && s.ends_with(c) && s.chars().all(|x| c(x) || x == '-')
        };
        for k in results(1_700_000_001_000).keys() {
            assert!(k.split('.').all(ok), "{k}");
        }
        assert_eq!(result_key("VI_1_V6"), "vi-1-v6");
        assert_eq!(result_key("__a..b__"), "a-b");
        assert_eq!(result_key("_"), "x");
    }

    #[test]
    fn a_heartbeat_older_than_30_s_is_stale() {
        assert_eq!(results(1_700_000_030_000)["engine.stale"], "false");
        assert_eq!(results(1_700_000_030_001)["engine.stale"], "true");
    }

    #[test]
    fn optional_facts_show_none_unknown_or_appear() {
        let mut raw: Value = serde_json::from_str(STATE).unwrap();
        raw["instances"][0]["master"] = Value::Null;
        raw["instances"][0]["dual_master"] = Value::Null;
        raw["instances"][0]["foreign_routers"] = serde_json::json!([]);
        raw["instances"][0]["state"] = "FAULT".into();
        raw["instances"][0]["fault"] = "interface eth0 is down".into();
        raw["last_reload_error"] = "line 3: unknown keyword".into();
        let state: EngineState = serde_json::from_value(raw.clone()).unwrap();
        let r: BTreeMap<_, _> = status_results(&raw, &state, None, UNIX_EPOCH)
            .into_iter()
            .collect();
        assert_eq!(r["timing"], "unknown");
        assert_eq!(r["instances.vi-1.master"], "unknown");
        assert_eq!(r["instances.vi-1.dual-master"], "none");
        assert_eq!(r["instances.vi-1.foreign-routers"], "none");
        assert_eq!(r["instances.vi-1.role"], "FAULT");
        assert_eq!(r["instances.vi-1.fault"], "interface eth0 is down");
        assert_eq!(r["engine.last-reload-error"], "line 3: unknown keyword");
    }

    #[test]
    fn rfc3339_handles_epoch_leap_years_and_centuries() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(rfc3339(4_107_542_399_999), "2100-02-28T23:59:59.999Z");
    }

    #[test]
    fn the_action_comes_from_juju_action_name_or_the_dispatch_path() {
        assert_eq!(
            action_name(Some("actions/status"), None),
            Some("status".into())
        );
        assert_eq!(
            action_name(Some("actions/x"), Some("status")),
            Some("status".into())
        );
        assert_eq!(action_name(Some("hooks/install"), None), None);
        assert_eq!(action_name(None, Some("")), None);
    }

    #[test]
    fn a_missing_or_foreign_state_file_says_why() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        assert_eq!(read_state(&path).unwrap_err(), NoReport::Missing);
        std::fs::write(&path, "{\"instances\": []}").unwrap();
        assert!(matches!(read_state(&path), Err(NoReport::Unreadable(_))));
        std::fs::write(&path, STATE).unwrap();
        assert_eq!(read_state(&path).unwrap().1.pid, 4242);
    }
}
