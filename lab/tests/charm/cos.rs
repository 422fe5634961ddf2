//! Operating the charm like a COS-era Juju charm: the `status` action on a deployed
//! unit whose real engine runs, the cos-agent databag as the COS collector's own
//! Python helpers read it, and the alert rules through promtool.
//!
//! Needs promtool (Debian's `prometheus` package) and the project's venv with cosl
//! (`make deps` installs both); a missing one fails the test with how to get it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use netns_lab::juju::JujuLab;
use serde_json::Value;

use crate::e2e::*;

fn repo() -> PathBuf {
    juju_emulator::charm_dir()
}

fn promtool() -> &'static str {
    let found = Command::new("promtool").arg("--version").output();
    assert!(
        found.is_ok_and(|o| o.status.success()),
        "promtool is missing: install Debian's `prometheus` package (`make deps` does)"
    );
    "promtool"
}

fn venv_python() -> PathBuf {
    let python = repo().join(".venv/bin/python");
    let ok = python.exists()
        && Command::new(&python)
            .args(["-c", "import cosl, pydantic"])
            .status()
            .is_ok_and(|s| s.success());
    assert!(
        ok,
        "{} with cosl is missing: run `make deps` (it installs cosl into the project's venv)",
        python.display()
    );
    python
}

fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{cmd:?} failed:\n{text}");
    text
}

#[test]
fn alert_rules_pass_promtool_check_and_every_alert_fires_only_on_its_condition() {
    let dir = repo().join("src/charm/cos");
    let out = run(Command::new(promtool()).current_dir(&dir).args([
        "check",
        "rules",
        "prometheus_alert_rules.json",
    ]));
    assert!(out.contains("SUCCESS: 7 rules found"), "{out}");
    let out = run(Command::new(promtool()).current_dir(&dir).args([
        "test",
        "rules",
        "prometheus_alert_rules_test.yaml",
    ]));
    assert!(out.contains("SUCCESS"), "{out}");
}

/// Validates a `config` value the way the collector's side does: the fields and
/// types of the cos_agent library's `CosAgentProviderUnitData` (a pydantic model in
/// the charm library, which cosl does not ship: declared here field for field),
/// dashboards through cosl's `LZMABase64`, the uid through cosl's
/// `DashboardPath40UID`, the rules through cosl's `AlertRules`.
const CHECK: &str = r#"
import json, sys
from typing import ClassVar, Dict, List, Optional
import pydantic
from cosl import AlertRules, DashboardPath40UID, LZMABase64

class CosAgentProviderUnitData(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    metrics_alert_rules: dict
    log_alert_rules: dict
    dashboards: List[str]
    subordinate: Optional[bool] = None
    metrics_scrape_jobs: List[Dict]
    log_slots: List[str]
    include_log_files: Optional[List[str]] = None
    tracing_protocols: Optional[List[str]] = None
    KEY: ClassVar[str] = "config"

bag = json.load(open(sys.argv[1]))
data = CosAgentProviderUnitData.model_validate_json(bag[CosAgentProviderUnitData.KEY])
dashboard = json.loads(LZMABase64.decompress(data.dashboards[0]))
assert dashboard["uid"] == DashboardPath40UID.generate("keepalived", sys.argv[2]), dashboard["uid"]
rules = AlertRules(query_type="promql")
rules.add(data.metrics_alert_rules)
print(json.dumps({
    "dashboard": dashboard,
    "rules": rules.as_dict(),
    "jobs": data.metrics_scrape_jobs,
    "subordinate": data.subordinate,
    "log_slots": data.log_slots,
    "log_alert_rules": data.log_alert_rules,
}))
"#;

#[test]
fn the_cos_agent_databag_decodes_with_the_collectors_own_library() {
    let python = venv_python();
    let mut m = deployed(1, Net::Golden, &[("virtual_ip", VIP)]);
    let (_, runs) = m
        .integrate(
            "cos-agent",
            "opentelemetry-collector",
            &["opentelemetry-collector/0"],
        )
        .expect("cos-agent relates");
    all_ok(&runs);
    let dir = tempfile::tempdir().unwrap();
    // The unit's cos-agent bag as the collector's own library reads it.
    let decode = |m: &juju_emulator::Model| -> Value {
        let bag = unit_bag(m, "cos-agent", "keepalived/0");
        let file = dir.path().join("bag.json");
        std::fs::write(&file, serde_json::to_string(&bag).unwrap()).unwrap();
        let out = run(Command::new(&python).args([
            "-c",
            CHECK,
            file.to_str().unwrap(),
            keepalived_charm::charm::cos::DASHBOARD_PATH,
        ]));
        serde_json::from_str(out.trim()).expect("the check prints JSON")
    };
    let decoded = decode(&m);
    // Our dashboard, byte for byte but for the uid and tag the library adds.
    let expected = keepalived_charm::charm::cos::dashboard();
    assert_eq!(decoded["dashboard"], expected);
    assert_eq!(decoded["dashboard"]["title"], "Keepalived");
    let rules = decoded["rules"]["groups"][0]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 7, "cosl keeps every rule");
    assert_eq!(
        decoded["jobs"],
        serde_json::json!([{
            "job_name": "keepalived",
            "metrics_path": "/metrics",
            "static_configs": [{"targets": ["127.0.0.1:9165"]}]
        }])
    );
    assert_eq!(decoded["subordinate"], true);
    assert_eq!(decoded["log_slots"], serde_json::json!([]));
    assert_eq!(decoded["log_alert_rules"], serde_json::json!({}));

    // metrics_address off: the same bag without a scrape job, still valid.
    all_ok(&config(&mut m, &[("metrics_address", "")]));
    assert_eq!(decode(&m)["jobs"], serde_json::json!([]));
}

fn state_file(j: &JujuLab, unit: &str) -> PathBuf {
    j.model
        .unit(unit)
        .root
        .join("run/keepalived-charm/state.json")
}

fn wait_for_role(path: &Path, role: &str, within: Duration) {
    let t = Instant::now();
    loop {
        if let Some(st) = keepalived_charm::engine::state_file::read(path) {
            if st.instances.iter().any(|i| i.state == role) {
                return;
            }
        }
        assert!(
            t.elapsed() < within,
            "{} did not report {role} within {within:?}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_status_action_reports_the_running_engine_of_a_deployed_unit() {
    let mut j = JujuLab::new("cosact", 2);
    // The principal's service, so that the health checks pass.
    j.listen(8080);
    let vip = format!("{}/24", j.lab.vip4());
    j.model
        .config(&[
            ("virtual_ip", vip.as_str()),
            ("network_interface", "eth0"),
            ("port", "8080"),
        ])
        .unwrap();
    let runs = j.model.deploy(2).unwrap();
    assert!(runs.iter().all(|r| r.ok()), "deploy hooks failed");
    wait_for_role(
        &state_file(&j, "keepalived/0"),
        "MASTER",
        Duration::from_secs(15),
    );
    wait_for_role(
        &state_file(&j, "keepalived/1"),
        "BACKUP",
        Duration::from_secs(15),
    );

    let run = j
        .model
        .run_action("keepalived/0", "status", &[])
        .expect("status is declared in actions.yaml");
    assert!(run.ok(), "{}: {}\n{}", run.message, run.stdout, run.stderr);
    assert_eq!(run.tool_count("action-set"), 1);
    let r = &run.results;
    let vi = &r["instances"]["vi-1"];
    assert_eq!(vi["name"], "VI_1");
    assert_eq!(vi["role"], "MASTER");
    assert_eq!(vi["interface"], "eth0");
    assert_eq!(vi["vrid"], "23");
    assert_eq!(vi["base-priority"], "254");
    assert_eq!(vi["effective-priority"], "254");
    assert!(
        vi["vips"]
            .as_str()
            .unwrap()
            .contains(&j.lab.vip4().to_string()),
        "{vi}"
    );
    assert_eq!(vi["dual-master"], "none");
    assert_eq!(vi["foreign-routers"], "none");
    assert!(vi["last-transition"]["time"]
        .as_str()
        .is_some_and(|t| t.ends_with('Z')));
    assert!(!vi["last-transition"]["reason"].as_str().unwrap().is_empty());
    let scripts = vi["scripts"]
        .as_object()
        .expect("the health check is tracked");
    assert!(scripts.values().all(|v| v == "OK"), "{vi}");
    assert_eq!(r["engine"]["stale"], "false");
    assert!(r["engine"]["pid"]
        .as_str()
        .unwrap()
        .parse::<u32>()
        .is_ok_and(|p| p > 0));
    let json: Value = serde_json::from_str(r["json"].as_str().unwrap()).unwrap();
    assert_eq!(json["instances"][0]["state"], "MASTER");
    assert_eq!(r["return-code"], 0);

    let run = j.model.run_action("keepalived/1", "status", &[]).unwrap();
    assert!(run.ok(), "{}", run.message);
    assert_eq!(run.results["instances"]["vi-1"]["role"], "BACKUP");
    assert_eq!(
        run.results["instances"]["vi-1"]["master"],
        j.host_of("keepalived/0").ipv4.to_string()
    );
    // Parameters the action does not declare are refused before the charm runs.
    assert!(j
        .model
        .run_action("keepalived/0", "status", &[("verbose", Value::Bool(true))])
        .is_err());
}

#[test]
fn the_status_action_fails_with_what_to_do_when_the_engine_never_reported() {
    // No virtual_ip: the engine never runs, so it never wrote a state file.
    let mut m = deployed(1, Net::Golden, &[]);
    let run = m.run_action("keepalived/0", "status", &[]).unwrap();
    assert!(!run.ok());
    assert!(
        run.message.contains("the engine has not reported yet")
            && run.message.contains("systemctl status keepalived-charm"),
        "{}",
        run.message
    );
    // action-fail, not a crash: exit 0, and the unit is not put in error.
    assert_eq!(run.exit_code, Some(0));
    assert_eq!(run.tool_count("action-fail"), 1);
    assert_eq!(m.unit("keepalived/0").status().status, "blocked");
}
