//! The emulator's scenario drivers must generate hooks in the orders Juju does
//! (docs/juju-contract.md J-4) with exactly Juju's environment (J-2), and refuse models and
//! metadata real Juju would refuse (docs/juju-contract.md J-18, J-20).

use std::collections::BTreeMap;

use crate::e2e::LEADER_SETUP;
use juju_emulator::*;

/// Script charm that dumps its env and cwd, one file per hook run (by context id).
const ENV_DUMP: &str = r#"id=$(printf %s "$JUJU_CONTEXT_ID" | tr / _)
env -0 > "$KEEPALIVED_CHARM_ROOT/env-$id"
pwd > "$KEEPALIVED_CHARM_ROOT/cwd-$id""#;

fn dumped_env(m: &Model, run: &HookRun) -> (BTreeMap<String, String>, String) {
    let id = run.env["JUJU_CONTEXT_ID"].replace('/', "_");
    let root = &m.unit(&run.unit).root;
    let raw = std::fs::read(root.join(format!("env-{id}"))).unwrap();
    let env = raw
        .split(|b| *b == 0)
        .filter(|e| !e.is_empty())
        .map(|e| {
            let text = String::from_utf8_lossy(e);
            let (k, v) = text.split_once('=').unwrap();
            (k.to_string(), v.to_string())
        })
        .collect();
    let cwd = std::fs::read_to_string(root.join(format!("cwd-{id}"))).unwrap();
    (env, cwd.trim_end().to_string())
}

fn names(runs: &[HookRun], unit: &str) -> Vec<String> {
    runs.iter()
        .filter(|r| r.unit == unit)
        .map(|r| r.hook.name.clone())
        .collect()
}

/// Every run of `runs` as (unit, hook), in order.
fn fired(runs: &[HookRun]) -> Vec<(&str, &str)> {
    runs.iter()
        .map(|r| (r.unit.as_str(), r.hook.name.as_str()))
        .collect()
}

const PEER_JOINED: [&str; 2] = ["cluster-relation-joined", "cluster-relation-changed"];

/// The leader's set-up with one peer: a lone unit's, then the peer joins.
fn setup_0() -> Vec<&'static str> {
    LEADER_SETUP.into_iter().chain(PEER_JOINED).collect()
}

/// The other unit's set-up: its relations created in the other order, leadership
/// settings instead of the election, then as the leader's.
fn setup_1() -> Vec<&'static str> {
    [
        "install",
        "juju-info-relation-created",
        "cluster-relation-created",
        "leader-settings-changed",
    ]
    .into_iter()
    .chain(LEADER_SETUP[4..].iter().copied())
    .chain(PEER_JOINED)
    .collect()
}

#[test]
fn deploy_runs_the_real_charm_binary_in_juju_setup_order() {
    let mut m = Model::new();
    let runs = m.deploy(2).unwrap();
    for run in &runs {
        assert!(
            run.ok(),
            "{} {} failed: {}",
            run.unit,
            run.hook.name,
            run.stderr
        );
    }
    // Follow-up peer -changed events may come after the setup sequence.
    assert_eq!(m.hooks_of("keepalived/0")[..10], setup_0());
    assert_eq!(m.hooks_of("keepalived/1")[..10], setup_1());
    let joined = runs
        .iter()
        .find(|r| r.unit == "keepalived/0" && r.hook.name == "juju-info-relation-joined")
        .unwrap();
    assert_eq!(joined.env["JUJU_REMOTE_UNIT"], "kubeapi-load-balancer/0");
    let peer = runs
        .iter()
        .find(|r| r.unit == "keepalived/1" && r.hook.name == "cluster-relation-joined")
        .unwrap();
    assert_eq!(peer.env["JUJU_REMOTE_UNIT"], "keepalived/0");
    assert_eq!(peer.env["JUJU_RELATION_ID"], "cluster:0");
}

#[test]
fn hook_env_is_built_from_scratch_exactly_per_the_contract() {
    let mut m = Model::new();
    m.use_script_charm(ENV_DUMP);
    let runs = m.deploy(2).unwrap();
    assert_eq!(names(&runs, "keepalived/0"), setup_0());
    assert_eq!(names(&runs, "keepalived/1"), setup_1());
    for run in &runs {
        let (mut seen, cwd) = dumped_env(&m, run);
        // The shell running dispatch adds PWD (and may add SHLVL/_); nothing else.
        for shell_var in ["PWD", "OLDPWD", "SHLVL", "_"] {
            seen.remove(shell_var);
        }
        assert_eq!(seen, run.env, "{} {}", run.unit, run.hook.name);
        let u = m.unit(&run.unit);
        assert_eq!(cwd, u.charm_dir.display().to_string());
        assert_eq!(run.env["JUJU_CHARM_DIR"], cwd);
        assert_eq!(run.env["CHARM_DIR"], cwd);
        assert_eq!(
            run.env["JUJU_DISPATCH_PATH"],
            format!("hooks/{}", run.hook.name)
        );
        assert_eq!(run.env["JUJU_HOOK_NAME"], run.hook.name);
        assert_eq!(run.env["JUJU_UNIT_NAME"], run.unit);
        assert!(run.env["PATH"].starts_with(&format!("{}:", u.tools_dir.display())));
        assert!(run.env["PATH"].ends_with(":/usr/sbin:/usr/bin:/sbin:/bin"));
        assert!(!run.env.contains_key("HOME") && !run.env.contains_key("USER"));
        let relation_hook = run.hook.name.contains("-relation-");
        for var in [
            "JUJU_RELATION",
            "JUJU_RELATION_ID",
            "JUJU_REMOTE_APP",
            "JUJU_REMOTE_UNIT",
        ] {
            assert_eq!(
                run.env.contains_key(var),
                relation_hook,
                "{var} in {}",
                run.hook.name
            );
        }
        assert!(!run.env.contains_key("JUJU_DEPARTING_UNIT"));
    }
    let by = |unit: &str, hook: &str| {
        runs.iter()
            .find(|r| r.unit == unit && r.hook.name == hook)
            .unwrap()
            .env
            .clone()
    };
    let install = by("keepalived/1", "install");
    let keys: Vec<&str> = install.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "APT_LISTCHANGES_FRONTEND",
            "CHARM_DIR",
            "CLOUD_API_VERSION",
            "DEBIAN_FRONTEND",
            "JUJU_AGENT_SOCKET_ADDRESS",
            "JUJU_AGENT_SOCKET_NETWORK",
            "JUJU_API_ADDRESSES",
            "JUJU_AVAILABILITY_ZONE",
            "JUJU_CHARM_DIR",
            "JUJU_CHARM_FTP_PROXY",
            "JUJU_CHARM_HTTPS_PROXY",
            "JUJU_CHARM_HTTP_PROXY",
            "JUJU_CHARM_NO_PROXY",
            "JUJU_CONTEXT_ID",
            "JUJU_DISPATCH_PATH",
            "JUJU_EMULATOR_STATE",
            "JUJU_HOOK_NAME",
            "JUJU_MACHINE_ID",
            "JUJU_MODEL_NAME",
            "JUJU_MODEL_UUID",
            "JUJU_PRINCIPAL_UNIT",
            "JUJU_UNIT_NAME",
            "JUJU_VERSION",
            "KEEPALIVED_CHARM_ROOT",
            "LANG",
            "PATH",
            "TERM",
        ]
    );
    assert_eq!(install["JUJU_PRINCIPAL_UNIT"], "kubeapi-load-balancer/1");
    assert_eq!(install["JUJU_MACHINE_ID"], "1");
    assert_eq!(install["JUJU_VERSION"], "3.6.8");
    assert_eq!(install["JUJU_AGENT_SOCKET_NETWORK"], "unix");
    assert!(install["JUJU_AGENT_SOCKET_ADDRESS"].starts_with('@'));
    assert!(install["JUJU_CONTEXT_ID"].starts_with("keepalived/1-install-"));
    assert_eq!(install["LANG"], "C.UTF-8");
    let created = by("keepalived/0", "juju-info-relation-created");
    assert_eq!(created["JUJU_RELATION"], "juju-info");
    assert_eq!(created["JUJU_RELATION_ID"], "juju-info:1");
    assert_eq!(created["JUJU_REMOTE_APP"], "kubeapi-load-balancer");
    assert_eq!(created["JUJU_REMOTE_UNIT"], "");
    let changed = by("keepalived/0", "cluster-relation-changed");
    assert_eq!(changed["JUJU_REMOTE_APP"], "keepalived");
    assert_eq!(changed["JUJU_REMOTE_UNIT"], "keepalived/1");
}

#[test]
fn legacy_proxy_settings_appear_only_when_set() {
    let mut m = Model::new();
    m.use_script_charm("exit 0");
    m.info.legacy_proxy[0] = "http://proxy:3128".into();
    m.info.charm_proxy[3] = "10.0.0.0/8".into();
    let runs = m.deploy(1).unwrap();
    let env = &runs[0].env;
    assert_eq!(env["http_proxy"], "http://proxy:3128");
    assert_eq!(env["HTTP_PROXY"], "http://proxy:3128");
    assert!(!env.contains_key("https_proxy"));
    assert_eq!(env["JUJU_CHARM_NO_PROXY"], "10.0.0.0/8");
}

#[test]
fn relation_created_order_is_shuffled_by_seed_and_reproducible() {
    let order = |seed: u64| {
        let mut m = Model::with_seed(seed);
        m.use_script_charm("exit 0");
        m.deploy(1).unwrap();
        m.hooks_of("keepalived/0")[1..3].to_vec()
    };
    let orders: Vec<Vec<String>> = (0..8).map(order).collect();
    assert!(orders.iter().any(|o| o[0] == "cluster-relation-created"));
    assert!(orders.iter().any(|o| o[0] == "juju-info-relation-created"));
    assert_eq!(order(3), order(3));
}

fn model(n: usize) -> Model {
    let mut m = Model::new();
    m.use_script_charm("exit 0");
    m.deploy(n).unwrap();
    m
}

#[test]
fn integrate_runs_created_then_joined_and_changed_per_remote_unit_on_every_unit() {
    let mut m = model(2);
    let (id, runs) = m
        .integrate("website", "haproxy", &["haproxy/0", "haproxy/1"])
        .unwrap();
    assert_eq!(id, 2);
    let expected = [
        "website-relation-created",
        "website-relation-joined",
        "website-relation-changed",
        "website-relation-joined",
        "website-relation-changed",
    ];
    assert_eq!(names(&runs, "keepalived/0"), expected);
    assert_eq!(names(&runs, "keepalived/1"), expected);
    let remote: Vec<&str> = runs
        .iter()
        .filter(|r| r.unit == "keepalived/0")
        .map(|r| r.env["JUJU_REMOTE_UNIT"].as_str())
        .collect();
    assert_eq!(
        remote,
        ["", "haproxy/0", "haproxy/0", "haproxy/1", "haproxy/1"]
    );
}

#[test]
fn scaling_out_sets_up_the_new_unit_with_every_relation_and_peers_join_everywhere() {
    let mut m = model(2);
    m.integrate("website", "haproxy", &["haproxy/0"]).unwrap();
    let runs = m.deploy(1).unwrap();
    let new = names(&runs, "keepalived/2");
    assert_eq!(new[0], "install");
    let mut created = new[1..4].to_vec();
    created.sort();
    assert_eq!(
        created,
        [
            "cluster-relation-created",
            "juju-info-relation-created",
            "website-relation-created"
        ]
    );
    assert_eq!(
        new[4..7],
        ["leader-settings-changed", "config-changed", "start"]
    );
    // -joined/-changed per relation, in the (shuffled) relation order.
    let mut pairs: Vec<String> = new[7..11].chunks(2).map(|p| p.join(" ")).collect();
    pairs.sort();
    assert_eq!(
        pairs,
        [
            "juju-info-relation-joined juju-info-relation-changed",
            "website-relation-joined website-relation-changed",
        ]
    );
    assert_eq!(
        new[11..],
        [
            "cluster-relation-joined",
            "cluster-relation-changed",
            "cluster-relation-joined",
            "cluster-relation-changed",
        ]
    );
    for old in ["keepalived/0", "keepalived/1"] {
        assert_eq!(
            names(&runs, old),
            ["cluster-relation-joined", "cluster-relation-changed"]
        );
    }
    assert_eq!(runs.last().unwrap().env["JUJU_REMOTE_UNIT"], "keepalived/1");
    let joined = runs
        .iter()
        .find(|r| r.unit == "keepalived/2" && r.hook.name == "juju-info-relation-joined");
    assert_eq!(
        joined.unwrap().env["JUJU_REMOTE_UNIT"],
        "kubeapi-load-balancer/2"
    );
}

#[test]
fn address_change_updates_bags_and_fires_config_changed_on_that_unit() {
    let mut m = model(2);
    let runs = m.change_address("keepalived/1", "192.0.2.99").unwrap();
    let fired: Vec<(&str, &str)> = runs
        .iter()
        .map(|r| (r.unit.as_str(), r.hook.name.as_str()))
        .collect();
    assert_eq!(fired, [("keepalived/1", "config-changed")]);
    assert_eq!(
        m.relation(0).local_units_data["keepalived/1"]["ingress-address"],
        "192.0.2.99"
    );
    assert_eq!(
        m.relation(1).local_units_data["keepalived/1"]["egress-subnets"],
        "192.0.2.99/32"
    );
}

#[test]
fn config_change_fires_config_changed_only_when_a_value_really_changes() {
    let mut m = model(2);
    assert!(m.config(&[("port", "443")]).unwrap().is_empty());
    let runs = m.config(&[("port", "8443"), ("unicast", "true")]).unwrap();
    assert_eq!(
        fired(&runs),
        [
            ("keepalived/0", "config-changed"),
            ("keepalived/1", "config-changed")
        ]
    );
    assert_eq!(m.config["port"], serde_json::json!(8443));
    assert_eq!(m.config["unicast"], serde_json::json!(true));
    assert_eq!(
        m.config(&[("port", "abc")]).unwrap_err(),
        EmuError::Config(r#"option "port" expected int, got "abc""#.into())
    );
    assert_eq!(
        m.config(&[("nope", "1")]).unwrap_err(),
        EmuError::Config(r#"unknown option "nope""#.into())
    );
    assert_eq!(m.config_reset(&["port"]).unwrap().len(), 2);
}

#[test]
fn remote_data_changes_fire_changed_with_unit_or_empty_remote_unit() {
    let mut m = model(2);
    m.integrate("website", "haproxy", &["haproxy/0"]).unwrap();
    let runs = m
        .remote_data_change(2, Some("haproxy/0"), &[("hostname", "a")])
        .unwrap();
    assert_eq!(runs.len(), 2);
    assert!(runs
        .iter()
        .all(|r| r.env["JUJU_REMOTE_UNIT"] == "haproxy/0"));
    let runs = m.remote_data_change(2, None, &[("mode", "http")]).unwrap();
    assert_eq!(runs.len(), 2);
    for r in &runs {
        assert_eq!(r.hook.name, "website-relation-changed");
        assert_eq!(r.env["JUJU_REMOTE_UNIT"], "");
        assert_eq!(r.env["JUJU_REMOTE_APP"], "haproxy");
    }
    // No change, no hook.
    assert!(m
        .remote_data_change(2, None, &[("mode", "http")])
        .unwrap()
        .is_empty());
}

#[test]
fn committed_peer_writes_notify_the_other_units_but_not_the_writer() {
    let mut m = model(3);
    let mut s = m.begin("keepalived/0", Hook::new("update-status")).unwrap();
    s.tool("relation-set", &["-r", "cluster:0", "priority=150"]);
    s.tool("relation-set", &["-r", "cluster:0", "--app", "token=x"]);
    s.finish(0);
    let runs = m.settle().unwrap();
    let fired: Vec<(&str, &str)> = runs
        .iter()
        .map(|r| (r.unit.as_str(), r.env["JUJU_REMOTE_UNIT"].as_str()))
        .collect();
    assert_eq!(
        fired,
        [
            ("keepalived/1", "keepalived/0"),
            ("keepalived/2", "keepalived/0"),
            ("keepalived/1", ""),
            ("keepalived/2", ""),
        ]
    );
    assert!(runs
        .iter()
        .all(|r| r.hook.name == "cluster-relation-changed"));
    // keepalived/1 reads the new peer data.
    let mut s = m.begin("keepalived/1", Hook::new("update-status")).unwrap();
    assert_eq!(
        s.tool(
            "relation-get",
            &["-r", "cluster:0", "priority", "keepalived/0"]
        )
        .stdout,
        "150\n"
    );
    assert_eq!(
        s.tool(
            "relation-get",
            &["-r", "cluster:0", "--app", "token", "keepalived"]
        )
        .stdout,
        "x\n"
    );
}

#[test]
fn set_leader_fires_leader_elected_and_settings_changed_on_the_others() {
    let mut m = model(3);
    let runs = m.set_leader("keepalived/2").unwrap();
    assert_eq!(
        fired(&runs),
        [
            ("keepalived/2", "leader-elected"),
            ("keepalived/0", "leader-settings-changed"),
            ("keepalived/1", "leader-settings-changed"),
        ]
    );
    assert!(m.is_leader("keepalived/2"));
}

#[test]
fn remove_relation_departs_each_remote_unit_then_breaks_and_drops_it() {
    let mut m = model(2);
    m.integrate("website", "haproxy", &["haproxy/0", "haproxy/1"])
        .unwrap();
    let runs = m.remove_relation(2).unwrap();
    let expected = [
        "website-relation-departed",
        "website-relation-departed",
        "website-relation-broken",
    ];
    assert_eq!(names(&runs, "keepalived/0"), expected);
    assert_eq!(names(&runs, "keepalived/1"), expected);
    assert_eq!(runs[0].env["JUJU_DEPARTING_UNIT"], "haproxy/0");
    assert_eq!(runs[2].env["JUJU_REMOTE_UNIT"], "");
    assert!(!runs[2].env.contains_key("JUJU_DEPARTING_UNIT"));
    assert!(m.relations.iter().all(|r| r.id != 2));
    assert!(
        m.remove_relation(0).is_err(),
        "peer relations cannot be removed"
    );
}

#[test]
fn relation_is_still_listed_during_its_own_broken_hook() {
    let mut m = model(1);
    m.integrate("website", "haproxy", &["haproxy/0"]).unwrap();
    let mut s = m
        .begin(
            "keepalived/0",
            Hook::relation("website", 2, RelEvent::Broken),
        )
        .unwrap();
    assert_eq!(s.tool("relation-ids", &["website"]).stdout, "website:2\n");
    assert_eq!(s.tool("relation-list", &["--format=json"]).stdout, "[]\n");
}

#[test]
fn removing_a_unit_tears_down_relations_then_stops_and_the_peers_see_it_depart() {
    let mut m = model(3);
    let runs = m.remove_unit("keepalived/0").unwrap();
    let dying = names(&runs, "keepalived/0");
    assert_eq!(
        dying,
        [
            "cluster-relation-departed",
            "cluster-relation-departed",
            "juju-info-relation-departed",
            "juju-info-relation-broken",
            "stop",
            "remove",
        ]
    );
    let departing: Vec<&str> = runs
        .iter()
        .filter(|r| r.unit == "keepalived/0" && r.hook.name.ends_with("-departed"))
        .map(|r| r.env["JUJU_DEPARTING_UNIT"].as_str())
        .collect();
    assert_eq!(departing, ["keepalived/0"; 3]);
    // Leadership moves to the lowest remaining unit once the old leader is gone.
    assert_eq!(
        names(&runs, "keepalived/1"),
        ["cluster-relation-departed", "leader-elected"]
    );
    assert_eq!(
        names(&runs, "keepalived/2"),
        ["cluster-relation-departed", "leader-settings-changed"]
    );
    assert_eq!(m.unit_names(), ["keepalived/1", "keepalived/2"]);
    assert!(m.is_leader("keepalived/1"));
    let mut s = m.begin("keepalived/2", Hook::new("update-status")).unwrap();
    assert_eq!(
        s.tool("relation-list", &["-r", "cluster:0", "--format=json"])
            .stdout,
        "[\"keepalived/1\"]\n"
    );
}

#[test]
fn upgrade_charm_runs_upgrade_config_leader_settings_start() {
    let mut m = model(2);
    let runs = m.upgrade_charm().unwrap();
    assert_eq!(
        names(&runs, "keepalived/0"),
        ["upgrade-charm", "config-changed", "start"]
    );
    assert_eq!(
        names(&runs, "keepalived/1"),
        [
            "upgrade-charm",
            "config-changed",
            "leader-settings-changed",
            "start"
        ]
    );
}

#[test]
fn update_status_runs_on_every_unit() {
    let mut m = model(2);
    let runs = m.update_status().unwrap();
    assert_eq!(
        fired(&runs),
        [
            ("keepalived/0", "update-status"),
            ("keepalived/1", "update-status")
        ]
    );
}

#[test]
fn a_failing_hook_blocks_its_unit_until_retry_succeeds_while_others_go_on() {
    let mut m = Model::new();
    let flag = m.dir.path().join("fail-start");
    std::fs::write(&flag, "").unwrap();
    m.use_script_charm(&format!(
        r#"if [ "$JUJU_UNIT_NAME" = keepalived/1 ] && [ "$JUJU_HOOK_NAME" = start ] && [ -e {} ]; then
  echo "boom" >&2; exit 3
fi"#,
        flag.display()
    ));
    let runs = m.deploy(2).unwrap();
    let failed = runs.iter().find(|r| !r.ok()).unwrap();
    assert_eq!(
        (failed.unit.as_str(), failed.hook.name.as_str()),
        ("keepalived/1", "start")
    );
    assert_eq!(failed.exit_code, Some(3));
    assert_eq!(failed.stderr, "boom\n");
    assert_eq!(
        m.unit("keepalived/1").status(),
        Status::new("error", "hook failed: \"start\"")
    );
    assert_eq!(m.app_status().status, "error");
    // keepalived/0 completed its setup and peer hooks; keepalived/1 waits.
    assert_eq!(m.hooks_of("keepalived/0").len(), 10);
    assert_eq!(m.unit("keepalived/1").backlog.len(), 4);
    assert!(m.retry("keepalived/0").is_err());
    std::fs::remove_file(&flag).unwrap();
    let runs = m.retry("keepalived/1").unwrap();
    assert_eq!(
        names(&runs, "keepalived/1"),
        [
            "start",
            "juju-info-relation-joined",
            "juju-info-relation-changed",
            "cluster-relation-joined",
            "cluster-relation-changed",
        ]
    );
    assert_eq!(m.unit("keepalived/1").status(), Status::new("unknown", ""));
}

#[test]
fn hooks_that_hang_are_killed_after_the_timeout() {
    let mut m = model(1);
    m.use_script_charm("sleep 30");
    m.hook_timeout = std::time::Duration::from_millis(300);
    let run = m.run("keepalived/0", "update-status").unwrap();
    assert!(run.timed_out);
    assert_eq!(run.exit_code, None);
    assert!(run.duration < std::time::Duration::from_secs(5));
    assert_eq!(m.unit("keepalived/0").status().status, "error");
}

// ------------------------------------------------------------------ consistency and metadata

#[test]
fn the_consistency_checker_rejects_hooks_and_models_juju_cannot_produce() {
    let mut m = model(2);
    let joined_without_unit = Hook {
        name: "cluster-relation-joined".into(),
        relation: Some(HookRelation {
            id: 0,
            remote_unit: None,
            departing_unit: None,
            remote_app: None,
        }),
    };
    let refused = |m: &Model, why: &str| m.check().unwrap_err().to_string().contains(why);
    for hook in [
        joined_without_unit,
        Hook::new("juju-info-relation-changed"),
        Hook::relation("cluster", 0, RelEvent::Broken),
        Hook::relation("website", 0, RelEvent::Created),
        Hook::relation("cluster", 0, RelEvent::Changed(Some("keepalived/0".into()))),
    ] {
        let name = hook.name.clone();
        let e = m.run_hook("keepalived/0", hook).unwrap_err();
        assert!(matches!(e, EmuError::Inconsistent(_)), "{name}: {e}");
    }

    m.config.insert("port".into(), serde_json::json!("443"));
    assert_eq!(
        m.check().unwrap_err(),
        EmuError::Inconsistent(r#"config "port"="443" is not of type int"#.into())
    );
    m.config.clear();
    m.add_relation("juju-info", "juju-info", RelationKind::Regular, "other");
    assert!(refused(&m, "needs a subordinate relation"));
    m.relations.pop();
    m.add_relation("nope", "x", RelationKind::Regular, "other");
    assert!(refused(&m, "undeclared endpoint"));
    m.relations.pop();
    m.relation_mut(0)
        .members
        .get_mut("keepalived/0")
        .unwrap()
        .push("keepalived/0".into());
    assert!(refused(&m, "among its own remote units"));
}

#[test]
fn repo_metadata_passes_juju_rules() {
    let text = std::fs::read_to_string(netns_lab::repo().join("metadata.yaml")).unwrap();
    let meta = Metadata::parse(&text).unwrap();
    assert!(meta.subordinate);
    assert!(meta.endpoint("juju-info").unwrap().container);
    assert_eq!(
        meta.peer_endpoints()
            .map(|e| e.name.as_str())
            .collect::<Vec<_>>(),
        ["cluster"]
    );
}

#[test]
fn metadata_violating_juju_rules_is_rejected_with_juju_messages() {
    let cases = [
        (
            "name: keepalived\nsubordinate: true\nrequires:\n  lb-sink: {interface: http}\n",
            r#"subordinate charm "keepalived" lacks "requires" relation with container scope"#,
        ),
        (
            "name: keepalived\nrequires:\n  juju-info: {interface: juju-info, scope: container}\n",
            r#"charm "keepalived" using a reserved relation name: "juju-info""#,
        ),
        (
            "name: keepalived\nsubordinate: true\nrequires:\n  host: {interface: juju-info, scope: container}\nprovides:\n  juju-x: {interface: http}\n",
            r#"charm "keepalived" using a reserved relation name: "juju-x""#,
        ),
        (
            "name: keepalived\nprovides:\n  info: {interface: juju-info}\n",
            r#"charm "keepalived" relation "info" using a reserved interface: "juju-info""#,
        ),
        (
            "name: keepalived\nrequires:\n  a: {interface: http}\nprovides:\n  a: {interface: http}\n",
            r#"charm "keepalived" using a duplicated relation name: "a""#,
        ),
        (
            "name: keepalived\nrequires:\n  a: {interface: http, scope: bogus}\n",
            r#"metadata: relations.a.scope: expected "global" or "container", got "bogus""#,
        ),
    ];
    for (yaml, message) in cases {
        assert_eq!(Metadata::parse(yaml).unwrap_err(), message, "{yaml}");
    }
}

// ------------------------------------------------------------------ network namespace

#[test]
fn hooks_can_run_in_a_network_namespace_with_a_deterministic_interface() {
    let mut m = model(1);
    m.set_unit_netns(
        "keepalived/0",
        NetnsSpec::new("eth0", "10.77.0.5/24").with_gateway("10.77.0.1"),
    )
    .unwrap();
    let ns = m.unit("keepalived/0").netns.as_ref().unwrap().name.clone();
    m.use_script_charm(
        r#"{ ip -o -4 addr show; ip route; } > "$KEEPALIVED_CHARM_ROOT/net.txt"
network-get --format=json juju-info --bind-address > "$KEEPALIVED_CHARM_ROOT/bind.txt""#,
    );
    let run = m.run("keepalived/0", "update-status").unwrap();
    assert!(run.ok(), "{}", run.stderr);
    let root = m.unit("keepalived/0").root.clone();
    let net = std::fs::read_to_string(root.join("net.txt")).unwrap();
    assert!(net.contains("eth0    inet 10.77.0.5/24"), "{net}");
    assert!(net.contains("inet 127.0.0.1/8"), "{net}");
    assert!(net.contains("default via 10.77.0.1 dev eth0"), "{net}");
    assert_eq!(
        std::fs::read_to_string(root.join("bind.txt")).unwrap(),
        "\"10.77.0.5\"\n"
    );
    assert_eq!(
        m.relation(0).local_units_data["keepalived/0"]["private-address"],
        "10.77.0.5"
    );
    drop(m);
    let list = std::process::Command::new(juju_emulator::netns::ip_binary())
        .args(["netns", "list"])
        .output()
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&list.stdout).contains(&ns),
        "namespace {ns} left behind"
    );
}
