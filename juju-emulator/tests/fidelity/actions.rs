//! Juju actions: parameters checked against actions.yaml before the charm runs,
//! the action-* tools, and what an action's outcome keeps or drops.

use juju_emulator::*;
use serde_json::json;

use super::{err, ok};

const ACTIONS_YAML: &str = r#"
do-thing:
  description: Does the thing.
  params:
    count:
      type: integer
      default: 3
    mode:
      type: string
      enum: [fast, slow]
      default: fast
    target:
      type: object
      properties:
        host:
          type: string
        port:
          type: integer
          default: 22
    name:
      type: string
no-params:
  description: Takes nothing.
needs-name:
  params:
    name:
      type: string
  required: [name]
open-ended:
  additionalProperties: true
"#;

/// One unit (two with `units = 2`) under a no-op charm, with ACTIONS_YAML; then the
/// charm becomes `body` for the actions to come.
fn model_with(units: usize, body: &str) -> Model {
    let mut m = Model::new();
    m.use_script_charm("exit 0");
    m.deploy(units).unwrap();
    m.set_actions_yaml(ACTIONS_YAML).unwrap();
    m.use_script_charm(body);
    m
}

/// Runs `do-thing` on keepalived/0 with only `target.host` given.
fn do_thing_on_h(m: &mut Model) -> ActionRun {
    m.run_action(
        "keepalived/0",
        "do-thing",
        &[("target", json!({"host": "h"}))],
    )
    .unwrap()
}

#[test]
fn action_params_get_defaults_filled_in_and_nested_defaults_too() {
    let mut m = model_with(1, "action-get --format=json");
    let run = do_thing_on_h(&mut m);
    assert_eq!(run.status, ActionStatus::Completed);
    assert_eq!(
        run.stdout,
        "{\"count\":3,\"mode\":\"fast\",\"target\":{\"host\":\"h\",\"port\":22}}\n"
    );
    assert_eq!(
        json!(run.params),
        json!({"count": 3, "mode": "fast", "target": {"host": "h", "port": 22}})
    );
    // Given values win over defaults.
    let run = m
        .run_action(
            "keepalived/0",
            "do-thing",
            &[("count", json!(7)), ("mode", json!("slow"))],
        )
        .unwrap();
    assert!(run.stdout.starts_with("{\"count\":7,\"mode\":\"slow\""));
}

#[test]
fn action_params_that_do_not_fit_the_schema_are_refused_without_running_the_charm() {
    let mut m = model_with(1, "touch ran; exit 0");
    let refused = |m: &mut Model, name: &str, params: &[(&str, serde_json::Value)]| {
        m.run_action("keepalived/0", name, params).unwrap_err()
    };
    assert_eq!(
        refused(&mut m, "do-thing", &[("bogus", json!(1))]),
        EmuError::Action(
            "validation failed: (root): Additional property bogus is not allowed".into()
        )
    );
    assert_eq!(
        refused(&mut m, "do-thing", &[("count", json!("3"))]),
        EmuError::Action(
            "validation failed: count: Invalid type. Expected: integer, given: string".into()
        )
    );
    assert_eq!(
        refused(&mut m, "do-thing", &[("count", json!(1.5))]),
        EmuError::Action(
            "validation failed: count: Invalid type. Expected: integer, given: number".into()
        )
    );
    assert_eq!(
        refused(&mut m, "do-thing", &[("target", json!({"port": "ssh"}))]),
        EmuError::Action(
            "validation failed: target.port: Invalid type. Expected: integer, given: string".into()
        )
    );
    assert_eq!(
        refused(&mut m, "do-thing", &[("mode", json!("medium"))]),
        EmuError::Action(
            r#"validation failed: mode: mode must be one of the following: "fast", "slow""#.into()
        )
    );
    assert_eq!(
        refused(&mut m, "needs-name", &[]),
        EmuError::Action("validation failed: (root): name is required".into())
    );
    assert_eq!(
        refused(&mut m, "no-params", &[("x", json!(1))]),
        EmuError::Action("validation failed: (root): Additional property x is not allowed".into())
    );
    assert_eq!(
        refused(&mut m, "nope", &[]),
        EmuError::Action(r#"action "nope" not defined on unit "keepalived/0""#.into())
    );
    assert!(m.action_history.is_empty());
    assert!(!m.unit("keepalived/0").charm_dir.join("ran").exists());
    // An action that allows extra parameters takes anything; a whole-number float is
    // an integer for JSON-Schema.
    assert!(m
        .run_action("keepalived/0", "open-ended", &[("x", json!(1))])
        .unwrap()
        .ok());
    assert!(m
        .run_action("keepalived/0", "do-thing", &[("count", json!(4.0))])
        .unwrap()
        .ok());
    assert!(m.unit("keepalived/0").charm_dir.join("ran").exists());
}

#[test]
fn action_get_walks_dotted_keys_and_prints_in_every_format() {
    let mut m = model_with(
        1,
        r#"action-get target.host
action-get count
action-get target
action-get --format=json target
action-get -o got.yaml --format yaml target.port
cat got.yaml
action-get target.nothing.deeper
action-get --format=json no-such
action-get count.below"#,
    );
    let run = do_thing_on_h(&mut m);
    assert_eq!(
        run.stdout,
        "h\n3\nhost: h\nport: 22\n{\"host\":\"h\",\"port\":22}\n22\nnull\n"
    );
    assert!(run.tool_calls.iter().all(|c| c.exit_code == 0));

    m.use_script_charm("action-get; action-get --format=yaml; action-get --format=json");
    let run = m.run_action("keepalived/0", "no-params", &[]).unwrap();
    assert_eq!(run.stdout, "{}\n{}\n{}\n");

    m.use_script_charm("action-get a b 2>&1; echo rc=$?; action-get --format=xml 2>&1; echo rc=$?");
    let run = m.run_action("keepalived/0", "no-params", &[]).unwrap();
    assert_eq!(
        run.stdout,
        concat!(
            "ERROR unrecognized args: [\"b\"]\nrc=2\n",
            "ERROR invalid value \"xml\" for option --format: unknown format \"xml\"\nrc=2\n"
        )
    );
}

#[test]
fn action_set_builds_nested_results_and_juju_adds_return_code_and_output() {
    let mut m = model_with(
        1,
        r#"action-set outfile.size=10G foo.bar=2
action-set foo.baz.val=3
action-set foo.bar.zab=4
action-set foo.baz=1 500=x 5-o-0=y return-code=mine
echo hello
printf 'no newline'
echo oops >&2"#,
    );
    let run = m.run_action("keepalived/0", "no-params", &[]).unwrap();
    assert_eq!(run.status, ActionStatus::Completed);
    assert_eq!(run.message, "");
    assert_eq!(
        json!(run.results),
        json!({
            "outfile": {"size": "10G"},
            "foo": {"bar": {"zab": "4"}, "baz": "1"},
            "500": "x",
            "5-o-0": "y",
            "return-code": 0,
            "stdout": "hello\nno newline\n",
            "stderr": "oops\n",
        })
    );
    // Nothing printed: no stdout/stderr keys.
    m.use_script_charm("exit 0");
    let run = m.run_action("keepalived/0", "no-params", &[]).unwrap();
    assert_eq!(json!(run.results), json!({"return-code": 0}));
}

#[test]
fn action_set_refuses_bad_and_reserved_keys_like_juju() {
    let mut m = model_with(
        1,
        r#"for arg in Foo=1 -x=1 foo-=1 foo..bar=1 .foo=1 stdout=x foo.stderr-encoding=x novalue 'ok=1 2'; do
  action-set "$arg" 2>&1; echo "rc=$?"
done
action-set good=1 Bad=2 2>&1; echo "rc=$?""#,
    );
    let run = m.run_action("keepalived/0", "no-params", &[]).unwrap();
    let rule = "must start and end with lowercase alphanumeric, and contain only lowercase alphanumeric, hyphens and periods";
    let expected = [
        format!("ERROR key \"Foo\" {rule}\nrc=2"),
        "ERROR option provided but not defined: -x\nrc=2".to_string(),
        format!("ERROR key \"foo-\" {rule}\nrc=2"),
        format!("ERROR key \"\" {rule}\nrc=2"),
        format!("ERROR key \"\" {rule}\nrc=2"),
        "ERROR cannot set reserved action key \"stdout\"\nrc=2".to_string(),
        "ERROR cannot set reserved action key \"stderr-encoding\"\nrc=2".to_string(),
        "ERROR argument \"novalue\" must be of the form key...=value\nrc=2".to_string(),
        "rc=0".to_string(),
        format!("ERROR key \"Bad\" {rule}\nrc=2"),
    ];
    assert_eq!(run.stdout, expected.join("\n") + "\n");
    // Only the valid call took effect; a refused call sets none of its keys.
    assert_eq!(
        json!(run.results),
        json!({"ok": "1 2", "return-code": 0, "stdout": run.stdout})
    );
}

#[test]
fn action_fail_marks_the_action_failed_but_it_runs_on_and_its_changes_are_kept() {
    let mut m = model_with(
        1,
        r#"action-fail "disk full"
status-set blocked "after the failure"
state-set seen=yes
action-set done=yes
action-log "still going"
exit 0"#,
    );
    let run = m.run_action("keepalived/0", "no-params", &[]).unwrap();
    assert_eq!(run.status, ActionStatus::Failed);
    assert_eq!(run.message, "disk full");
    assert_eq!(run.results["done"], "yes");
    assert_eq!(run.log, ["still going"]);
    let u = m.unit("keepalived/0");
    assert_eq!(u.charm_state["seen"], "yes");
    assert_eq!(u.status(), Status::new("blocked", "after the failure"));
    assert!(u.failed.is_none());

    // Without a message Juju supplies one; a later action-fail replaces the message.
    m.use_script_charm("action-fail");
    let run = m.run_action("keepalived/0", "no-params", &[]).unwrap();
    assert_eq!(
        (run.status, run.message.as_str()),
        (
            ActionStatus::Failed,
            "action failed without reason given, check action for errors"
        )
    );
    m.use_script_charm("action-fail one; action-fail two; action-fail a b 2>&1; exit 0");
    let run = m.run_action("keepalived/0", "no-params", &[]).unwrap();
    assert_eq!(run.message, "two");
    assert_eq!(run.stdout, "ERROR unrecognized args: [\"b\"]\n");
}

#[test]
fn a_non_zero_exit_fails_the_action_and_drops_buffered_changes_but_not_the_unit() {
    let mut m = model_with(
        1,
        r#"action-fail "first"
state-set lost=yes
status-set maintenance busy
action-set partial=1
exit 3"#,
    );
    let hooks_before = m.history.len();
    let run = m.run_action("keepalived/0", "no-params", &[]).unwrap();
    assert_eq!(run.status, ActionStatus::Failed);
    assert_eq!(run.exit_code, Some(3));
    // The process error wins over action-fail's message.
    assert_eq!(run.message, "exit status 3");
    assert_eq!(
        json!(run.results),
        json!({"partial": "1", "return-code": 3})
    );
    let u = m.unit("keepalived/0");
    assert!(!u.charm_state.contains_key("lost"));
    // status-set took effect when called; the unit is not in error.
    assert_eq!(u.status(), Status::new("maintenance", "busy"));
    assert!(u.failed.is_none());
    assert_eq!(m.history.len(), hooks_before);
    m.use_script_charm("exit 0");
    assert!(m.run("keepalived/0", "update-status").unwrap().ok());
}

#[test]
fn actions_run_while_a_hook_is_in_error_and_leave_it_there() {
    let mut m = model_with(1, "exit 1");
    assert!(!m.run("keepalived/0", "update-status").unwrap().ok());
    m.use_script_charm("action-set ran=yes");
    let run = m.run_action("keepalived/0", "no-params", &[]).unwrap();
    assert!(run.ok());
    assert_eq!(m.unit("keepalived/0").status().status, "error");
    m.use_script_charm("exit 0");
    assert!(m.retry("keepalived/0").unwrap()[0].ok());
}

#[test]
fn relation_data_set_by_an_action_is_committed_and_the_peer_sees_changed() {
    // Only the action writes: the peer's -changed hook runs the same script.
    let mut m = model_with(
        2,
        r#"[ -z "$JUJU_ACTION_NAME" ] || relation-set -r cluster:0 from-action=1"#,
    );
    let run = m.run_action("keepalived/0", "no-params", &[]).unwrap();
    assert!(run.ok());
    let rel = m.relation_by_endpoint("cluster").unwrap();
    assert_eq!(rel.local_units_data["keepalived/0"]["from-action"], "1");
    let runs = m.settle().unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].unit, "keepalived/1");
    assert_eq!(runs[0].hook.name, "cluster-relation-changed");

    // On a failed action the same write is dropped and nobody hears of it.
    m.use_script_charm("relation-set -r cluster:0 from-action=2; exit 1");
    assert!(!m.run_action("keepalived/0", "no-params", &[]).unwrap().ok());
    let rel = m.relation_by_endpoint("cluster").unwrap();
    assert_eq!(rel.local_units_data["keepalived/0"]["from-action"], "1");
    assert!(m.settle().unwrap().is_empty());
}

#[test]
fn the_action_env_has_the_action_vars_and_no_hook_or_relation_vars() {
    let mut m = model_with(
        1,
        r#"echo "$JUJU_DISPATCH_PATH|$JUJU_ACTION_NAME|$JUJU_ACTION_UUID|$JUJU_ACTION_TAG"
echo "hook=${JUJU_HOOK_NAME-unset}|${JUJU_RELATION-unset}|${JUJU_RELATION_ID-unset}|${JUJU_REMOTE_UNIT-unset}|${JUJU_REMOTE_APP-unset}"
echo "$JUJU_UNIT_NAME|$(pwd -P)""#,
    );
    let run = m.run_action("keepalived/0", "do-thing", &[]).unwrap();
    let charm_dir = std::fs::canonicalize(&m.unit("keepalived/0").charm_dir).unwrap();
    assert_eq!(
        run.stdout,
        format!(
            "actions/do-thing|do-thing|2|action-2\nhook=|unset|unset|unset|unset\nkeepalived/0|{}\n",
            charm_dir.display()
        )
    );
    assert_eq!(run.env["JUJU_ACTION_UUID"], "2");
    // The next `juju run` is operation 3, task 4.
    let run = m.run_action("keepalived/0", "no-params", &[]).unwrap();
    assert!(run
        .stdout
        .starts_with("actions/no-params|no-params|4|action-4\n"));
    assert_eq!(m.action_history.len(), 2);
}

#[test]
fn action_tools_refuse_outside_an_action_as_juju_does() {
    let mut m = model_with(1, "exit 0");
    let mut s = m.begin("keepalived/0", Hook::new("update-status")).unwrap();
    let not_action = err(1, "not running an action");
    assert_eq!(s.tool("action-get", &[]), not_action);
    assert_eq!(s.tool("action-get", &["count"]), not_action);
    assert_eq!(s.tool("action-set", &["k=v"]), not_action);
    assert_eq!(s.tool("action-fail", &["why"]), not_action);
    assert_eq!(s.tool("action-fail", &[]), not_action);
    assert_eq!(s.tool("action-log", &["progress"]), not_action);
    // Argument errors are found before the context is asked, and action-set with
    // nothing to set never asks.
    assert_eq!(s.tool("action-log", &[]), err(2, "no message specified"));
    assert_eq!(
        s.tool("action-set", &["nokey"]),
        err(2, "argument \"nokey\" must be of the form key...=value")
    );
    assert_eq!(s.tool("action-set", &[]), ok(""));
    assert_eq!(
        s.tool("action-get", &["--help"]),
        ok("Usage: action-get [options] [<key>[.<key>.<key>...]]\n")
    );
    s.finish(0);

    // A hook run through dispatch gets the same answer.
    m.use_script_charm("action-get 2>&1; echo rc=$?");
    let run = m.run("keepalived/0", "update-status").unwrap();
    assert_eq!(run.stdout, "ERROR not running an action\nrc=1\n");
}
