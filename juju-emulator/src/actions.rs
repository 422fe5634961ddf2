//! Juju actions: the charm's `actions.yaml` as a parameter schema, the checks Juju
//! makes before it queues an action, and running one on a unit.
//!
//! What the emulator follows, from Juju's documentation of actions and of the action
//! commands:
//! * Each action's parameters form a JSON-Schema object whose `properties` are the
//!   action's `params`; `required` lists the mandatory ones, and unless the action
//!   says otherwise with `additionalProperties`, parameters it does not declare are
//!   refused. Juju checks the parameters when the action is queued: a bad set is
//!   refused with "validation failed: ..." and the charm never runs. Declared
//!   defaults are then filled in for parameters the user left out.
//! * The action runs through `dispatch` like a hook, with `JUJU_DISPATCH_PATH` set to
//!   `actions/<name>`, `JUJU_ACTION_NAME`, `JUJU_ACTION_UUID` (in Juju 3 the task's
//!   number) and `JUJU_ACTION_TAG`; it has no relation context and no hook name.
//! * `action-fail` marks the action failed with a message but lets it go on. The
//!   exit code alone decides whether the context's buffered changes (relation data,
//!   charm state, ports) are kept, as for a hook; a non-zero exit also fails the
//!   action, with the process error ("exit status 1") as its message. Either way a
//!   failed action never puts the unit in error, and actions may run while a hook is
//!   in error.
//! * The results are what `action-set` built plus what Juju adds itself:
//!   `return-code`, and `stdout`/`stderr` when the charm printed anything.
//! * One thing runs at a time on a unit: an action runs between hooks. The follow-up
//!   hooks it causes (e.g. a peer's -relation-changed) are queued; `settle` runs them.
//!
//! Schema keywords the checks understand: `type` (one or a list), `enum`,
//! `properties`, `required` and `additionalProperties` (at any depth) and array
//! `items`; others (e.g. `minimum`) are accepted and not enforced.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde_json::{Map, Value};

use super::check::EmuError;
use super::model::Hook;
use super::state::{ActionState, ServiceCall, ToolCall};
use super::Model;

/// One action of `actions.yaml`: its JSON-Schema (an object schema).
#[derive(Debug, Clone, PartialEq)]
pub struct ActionSpec {
    pub description: String,
    pub schema: Value,
}

/// The charm's actions by name (empty when it has no `actions.yaml`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ActionsSchema {
    pub actions: BTreeMap<String, ActionSpec>,
}

/// Action names (and action-set keys): lowercase letters and digits, hyphens inside.
fn valid_name(name: &str) -> bool {
    let ok = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    match (name.chars().next(), name.chars().last()) {
        (Some(a), Some(z)) => ok(a) && ok(z) && name.chars().all(|c| ok(c) || c == '-'),
        _ => false,
    }
}

impl ActionsSchema {
    /// Parses `actions.yaml` into one object schema per action, as Juju builds it:
    /// `params` become `properties`, `additionalProperties` defaults to false, and
    /// every other key is kept as schema.
    pub fn parse(text: &str) -> Result<ActionsSchema, String> {
        let doc: Value = serde_yaml::from_str(text).map_err(|e| format!("actions.yaml: {e}"))?;
        let mut out = ActionsSchema::default();
        let Some(map) = doc.as_object() else {
            return if doc.is_null() {
                Ok(out)
            } else {
                Err("actions.yaml: expected a map of actions".into())
            };
        };
        for (name, spec) in map {
            if !valid_name(name) {
                return Err(format!("bad action name {name}"));
            }
            let mut schema = Map::new();
            schema.insert("description".into(), "No description".into());
            schema.insert("type".into(), "object".into());
            schema.insert("title".into(), name.clone().into());
            schema.insert("properties".into(), Value::Object(Map::new()));
            schema.insert("additionalProperties".into(), false.into());
            let empty = Map::new();
            for (key, value) in spec.as_object().unwrap_or(&empty) {
                match key.as_str() {
                    "description" | "title" if !value.is_string() => {
                        return Err(format!("value for schema key {key:?} must be a string"))
                    }
                    "required" if !value.is_array() => {
                        return Err(format!("value for schema key {key:?} must be a YAML list"))
                    }
                    "params" => {
                        if !value.is_object() {
                            return Err("params failed to parse as a map".into());
                        }
                        schema.insert("properties".into(), value.clone());
                    }
                    // Scheduling hints, not schema.
                    "parallel" | "execution-group" => {}
                    _ => {
                        schema.insert(key.clone(), value.clone());
                    }
                }
            }
            let description = schema["description"].as_str().unwrap_or_default().into();
            out.actions.insert(
                name.clone(),
                ActionSpec {
                    description,
                    schema: Value::Object(schema),
                },
            );
        }
        Ok(out)
    }
}

impl ActionSpec {
    /// Checks `params` against the schema; the error reads like Juju's
    /// ("validation failed: (root): Additional property x is not allowed").
    pub fn validate(&self, params: &Map<String, Value>) -> Result<(), String> {
        let mut errors = Vec::new();
        validate(
            &self.schema,
            &Value::Object(params.clone()),
            "",
            &mut errors,
        );
        if errors.is_empty() {
            Ok(())
        } else {
            Err(format!("validation failed: {}", errors.join("; ")))
        }
    }

    /// Fills in declared defaults for parameters not given (inside given objects too).
    pub fn insert_defaults(&self, params: &mut Map<String, Value>) {
        insert_defaults(&self.schema, params);
    }
}

/// The JSON-Schema name of a value's type: integral numbers are `integer`.
fn type_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) => {
            if n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0) {
                "integer"
            } else {
                "number"
            }
        }
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn type_matches(expected: &str, given: &str) -> bool {
    expected == given || (expected == "number" && given == "integer")
}

/// The field name in an error: the dotted path below the root, or `(root)`.
fn field(path: &str) -> &str {
    if path.is_empty() {
        "(root)"
    } else {
        path
    }
}

fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn validate(schema: &Value, value: &Value, path: &str, errors: &mut Vec<String>) {
    let Some(schema) = schema.as_object() else {
        return;
    };
    let at = field(path);
    if let Some(kind) = schema.get("type") {
        let expected: Vec<&str> = match kind {
            Value::String(s) => vec![s.as_str()],
            Value::Array(list) => list.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        let given = type_of(value);
        if !expected.is_empty() && !expected.iter().any(|e| type_matches(e, given)) {
            let shown = if expected.len() == 1 {
                expected[0].to_string()
            } else {
                format!("[{}]", expected.join(","))
            };
            errors.push(format!(
                "{at}: Invalid type. Expected: {shown}, given: {given}"
            ));
            return;
        }
    }
    if let Some(Value::Array(allowed)) = schema.get("enum") {
        if !allowed.contains(value) {
            let list: Vec<String> = allowed.iter().map(Value::to_string).collect();
            errors.push(format!(
                "{at}: {at} must be one of the following: {}",
                list.join(", ")
            ));
        }
    }
    match value {
        Value::Object(map) => {
            let empty = Map::new();
            let properties = schema
                .get("properties")
                .and_then(Value::as_object)
                .unwrap_or(&empty);
            if let Some(Value::Array(required)) = schema.get("required") {
                for name in required.iter().filter_map(Value::as_str) {
                    if !map.contains_key(name) {
                        errors.push(format!("{at}: {name} is required"));
                    }
                }
            }
            if schema.get("additionalProperties") == Some(&Value::Bool(false)) {
                for key in map.keys().filter(|k| !properties.contains_key(*k)) {
                    errors.push(format!("{at}: Additional property {key} is not allowed"));
                }
            }
            for (key, sub) in properties {
                if let Some(v) = map.get(key) {
                    validate(sub, v, &child(path, key), errors);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items").filter(|s| s.is_object()) {
                for (i, item) in items.iter().enumerate() {
                    validate(item_schema, item, &child(path, &i.to_string()), errors);
                }
            }
        }
        _ => {}
    }
}

fn insert_defaults(schema: &Value, params: &mut Map<String, Value>) {
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return;
    };
    for (key, sub) in properties {
        match params.get_mut(key) {
            Some(Value::Object(inner)) => insert_defaults(sub, inner),
            Some(_) => {}
            None => {
                if let Some(default) = sub.get("default") {
                    params.insert(key.clone(), default.clone());
                }
            }
        }
    }
}

/// How an action ended, as `juju show-task` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionStatus {
    Completed,
    Failed,
}

impl ActionStatus {
    pub fn name(self) -> &'static str {
        match self {
            ActionStatus::Completed => "completed",
            ActionStatus::Failed => "failed",
        }
    }
}

/// What one action run did.
#[derive(Debug, Clone)]
pub struct ActionRun {
    pub unit: String,
    pub name: String,
    /// The task number (`JUJU_ACTION_UUID`); its operation is the number before it.
    pub id: u64,
    /// The parameters the charm saw: the validated ones plus defaults.
    pub params: Map<String, Value>,
    pub status: ActionStatus,
    /// action-fail's message, or the process error for a non-zero exit.
    pub message: String,
    /// action-set's nested map plus Juju's `return-code`, `stdout`, `stderr`.
    pub results: Map<String, Value>,
    /// action-log messages, in order.
    pub log: Vec<String>,
    /// The exact environment the process was started with.
    pub env: BTreeMap<String, String>,
    /// `None` if the process was killed (timeout) or died from a signal.
    pub exit_code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub duration: Duration,
    pub tool_calls: Vec<ToolCall>,
    pub service_calls: Vec<ServiceCall>,
    pub timed_out: bool,
}

impl ActionRun {
    pub fn ok(&self) -> bool {
        self.status == ActionStatus::Completed
    }

    /// How many times the action called tool `name`.
    pub fn tool_count(&self, name: &str) -> usize {
        self.tool_calls.iter().filter(|c| c.name == name).count()
    }
}

/// Juju's captured output: each line ends with a newline, the last one included.
fn captured(text: &str) -> String {
    if text.is_empty() || text.ends_with('\n') {
        text.to_string()
    } else {
        format!("{text}\n")
    }
}

impl Model {
    /// Uses `text` as the charm's `actions.yaml` for every unit, now and later (the
    /// repo's own file, if any, is what a new model starts with).
    pub fn set_actions_yaml(&mut self, text: &str) -> Result<(), EmuError> {
        self.actions = ActionsSchema::parse(text).map_err(EmuError::Setup)?;
        let path = self.dir.path().join("actions.yaml");
        std::fs::write(&path, text).map_err(|e| EmuError::Setup(format!("actions.yaml: {e}")))?;
        for u in &self.units {
            let link = u.charm_dir.join("actions.yaml");
            let _ = std::fs::remove_file(&link);
            std::os::unix::fs::symlink(&path, &link)
                .map_err(|e| EmuError::Setup(format!("{}: {e}", link.display())))?;
        }
        self.actions_file = Some(path);
        Ok(())
    }

    /// `juju run <unit> <name> k=v ...`: checks the parameters against
    /// `actions.yaml` (refused without running the charm, with Juju's message, when
    /// the action is unknown or the parameters do not fit), fills in defaults, and
    /// runs the action now through `dispatch`. Buffered changes are committed on
    /// exit 0 only; the unit is never put in error.
    pub fn run_action(
        &mut self,
        unit: &str,
        name: &str,
        params: &[(&str, Value)],
    ) -> Result<ActionRun, EmuError> {
        self.check()?;
        if !self.units.iter().any(|u| u.name == unit) {
            return Err(EmuError::Inconsistent(format!("no live unit {unit}")));
        }
        let spec = self.actions.actions.get(name).ok_or_else(|| {
            EmuError::Action(format!("action {name:?} not defined on unit {unit:?}"))
        })?;
        let mut given: Map<String, Value> = params
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        spec.validate(&given).map_err(EmuError::Action)?;
        spec.insert_defaults(&mut given);

        // Juju 3 numbers operations and tasks from one sequence: `juju run` makes
        // operation N and its task N+1.
        self.next_task_id += 2;
        let id = self.next_task_id;

        let mut view = self.view(unit, &Hook::new(name));
        view.action = Some(ActionState {
            name: name.to_string(),
            params: given.clone(),
            ..ActionState::default()
        });
        self.write_view(unit, &view);
        let env = self.action_env(unit, name, id);
        let outcome = self.spawn_dispatch(unit, &env);
        let state = self.read_unit_state(unit);
        let service_calls = self.apply_effects(unit, &state);
        let ok = outcome.exit_code == Some(0);
        if ok {
            self.commit_changes(unit, &state);
        }

        let action = state.action.clone().unwrap_or_default();
        let mut status = if action.failed {
            ActionStatus::Failed
        } else {
            ActionStatus::Completed
        };
        let mut message = action.message.clone();
        if !ok {
            status = ActionStatus::Failed;
            message = match outcome.exit_code {
                Some(code) => format!("exit status {code}"),
                None => "signal: killed".to_string(),
            };
        }
        let mut results = action.results.clone();
        results.insert(
            "return-code".into(),
            Value::from(outcome.exit_code.unwrap_or(-1)),
        );
        for (key, text) in [("stdout", &outcome.stdout), ("stderr", &outcome.stderr)] {
            if !text.is_empty() {
                results.insert(key.into(), Value::String(captured(text)));
            }
        }
        let run = ActionRun {
            unit: unit.to_string(),
            name: name.to_string(),
            id,
            params: given,
            status,
            message,
            results,
            log: action.log,
            env,
            exit_code: outcome.exit_code,
            stdout: outcome.stdout,
            stderr: outcome.stderr,
            duration: outcome.duration,
            tool_calls: state.tool_calls.clone(),
            service_calls,
            timed_out: outcome.timed_out,
        };
        self.action_history.push(run.clone());
        Ok(run)
    }

    /// The action's environment: the hook environment of a context without a hook
    /// or relation, plus the action variables.
    pub fn action_env(&self, unit: &str, name: &str, id: u64) -> BTreeMap<String, String> {
        let mut env = self.hook_env(unit, &Hook::new(name));
        env.insert("JUJU_DISPATCH_PATH".into(), format!("actions/{name}"));
        env.insert("JUJU_HOOK_NAME".into(), String::new());
        env.insert("JUJU_ACTION_NAME".into(), name.to_string());
        env.insert("JUJU_ACTION_UUID".into(), id.to_string());
        env.insert("JUJU_ACTION_TAG".into(), format!("action-{id}"));
        env
    }
}

/// The repo's `actions.yaml`, if it has one.
pub(crate) fn read_repo_actions(repo: &Path) -> ActionsSchema {
    match std::fs::read_to_string(repo.join("actions.yaml")) {
        Ok(text) => ActionsSchema::parse(&text).unwrap_or_else(|e| panic!("{e}")),
        Err(_) => ActionsSchema::default(),
    }
}
