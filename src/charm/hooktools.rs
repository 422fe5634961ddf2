//! The Juju hook tools: the ONLY module that runs them.
//!
//! Every call goes through [`HookTools`], so the reconcile logic can be driven by an
//! in-process fake in unit tests and by the real tools (or the emulator) on `PATH`.
//! The process implementation follows docs/juju-contract.md J-6 and J-19: tools called by bare
//! name through `PATH`, always `--format=json`, always an explicit `-r endpoint:id`,
//! relation and charm state written with `--file -` and JSON on stdin (no argv quoting),
//! failures returned as typed errors carrying the exit code and stderr.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::Value;

/// A relation or state databag: string keys to string values (Juju stores strings).
pub type Bag = BTreeMap<String, String>;

/// A relation as the hook tools name it: `<endpoint>:<id>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RelationId {
    pub endpoint: String,
    pub id: u32,
}

impl RelationId {
    pub fn new(endpoint: &str, id: u32) -> RelationId {
        RelationId {
            endpoint: endpoint.to_string(),
            id,
        }
    }

    /// Parses `website:7`. The endpoint may itself contain `-` but not `:`.
    pub fn parse(text: &str) -> Option<RelationId> {
        let (endpoint, id) = text.rsplit_once(':')?;
        if endpoint.is_empty() {
            return None;
        }
        Some(RelationId {
            endpoint: endpoint.to_string(),
            id: id.parse().ok()?,
        })
    }
}

impl fmt::Display for RelationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.endpoint, self.id)
    }
}

/// The workload statuses a charm may set (docs/juju-contract.md J-11).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusKind {
    Maintenance,
    Blocked,
    Waiting,
    Active,
}

impl StatusKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StatusKind::Maintenance => "maintenance",
            StatusKind::Blocked => "blocked",
            StatusKind::Waiting => "waiting",
            StatusKind::Active => "active",
        }
    }
}

/// A unit workload status with its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub kind: StatusKind,
    pub message: String,
}

impl Status {
    pub fn active(message: impl Into<String>) -> Status {
        Status {
            kind: StatusKind::Active,
            message: message.into(),
        }
    }

    pub fn maintenance(message: impl Into<String>) -> Status {
        Status {
            kind: StatusKind::Maintenance,
            message: message.into(),
        }
    }

    pub fn blocked(message: impl Into<String>) -> Status {
        Status {
            kind: StatusKind::Blocked,
            message: message.into(),
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.as_str(), self.message)
    }
}

/// `juju-log` levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    Debug,
    Info,
    Warning,
    Error,
}

impl LogLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Debug => "DEBUG",
            LogLevel::Info => "INFO",
            LogLevel::Warning => "WARNING",
            LogLevel::Error => "ERROR",
        }
    }
}

/// A failed hook-tool call.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error("cannot run hook tool {tool} (is this a Juju hook? PATH must hold the hook tools): {source}")]
    Spawn {
        tool: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// `ERROR ... relation not found`: the relation went away (or never was).
    #[error("{tool}: relation {relation} not found: {stderr}")]
    RelationNotFound {
        tool: &'static str,
        relation: String,
        stderr: String,
    },
    /// A write this unit may not do (app bag as a non-leader and the like).
    #[error("{tool}: permission denied: {stderr}")]
    PermissionDenied { tool: &'static str, stderr: String },
    #[error("{tool} failed (exit code {code:?}): {stderr}")]
    Failed {
        tool: &'static str,
        code: Option<i32>,
        stderr: String,
    },
    #[error("{tool} printed {output:?}, which is not the JSON expected: {reason}")]
    Parse {
        tool: &'static str,
        output: String,
        reason: String,
    },
}

/// Everything the charm asks Juju. One method per tool use; see the module doc.
pub trait HookTools {
    /// `config-get --format=json`: every option (defaults filled in by Juju).
    fn config_get(&mut self) -> Result<serde_json::Map<String, Value>, ToolError>;
    /// `relation-ids --format=json <endpoint>`.
    fn relation_ids(&mut self, endpoint: &str) -> Result<Vec<RelationId>, ToolError>;
    /// `relation-list --format=json -r <rel>`: remote units in scope.
    fn relation_list(&mut self, relation: &RelationId) -> Result<Vec<String>, ToolError>;
    /// `relation-get --format=json -r <rel> - <unit>`: one unit's whole bag.
    fn relation_get(&mut self, relation: &RelationId, unit: &str) -> Result<Bag, ToolError>;
    /// `relation-set -r <rel> --file -`: this unit's bag; an empty value deletes a key.
    fn relation_set(&mut self, relation: &RelationId, data: &Bag) -> Result<(), ToolError>;
    /// `state-get --format=json`: this unit's persistent charm state.
    fn state_get(&mut self) -> Result<Bag, ToolError>;
    /// `state-set --file -`.
    fn state_set(&mut self, data: &Bag) -> Result<(), ToolError>;
    /// `status-set <status> <message>`.
    fn status_set(&mut self, status: &Status) -> Result<(), ToolError>;
    /// `is-leader --format=json`.
    fn is_leader(&mut self) -> Result<bool, ToolError>;
    /// `status-set --application <status> <message>` (the leader only).
    fn application_status_set(&mut self, status: &Status) -> Result<(), ToolError>;
    /// `juju-log -l <level> -- <message>`.
    fn juju_log(&mut self, level: LogLevel, message: &str) -> Result<(), ToolError>;
    /// `action-get --format=json`: the running action's parameters (defaults filled in).
    fn action_get(&mut self) -> Result<serde_json::Map<String, Value>, ToolError>;
    /// `action-set <key>=<value> ...`: the action's results, dotted keys nesting.
    fn action_set(&mut self, results: &[(String, String)]) -> Result<(), ToolError>;
    /// `action-fail <message>`: the action failed (the process still exits 0).
    fn action_fail(&mut self, message: &str) -> Result<(), ToolError>;
    /// `goal-state --format=json`, its `units`: every unit of this application with
    /// its status (`allocating`, `active`, `waiting`, `blocked`, `error`, `dying`),
    /// those still to come and those on an older charm included.
    fn goal_state_units(&mut self) -> Result<Vec<(String, String)>, ToolError>;
}

/// The real hook tools, found on `PATH`.
#[derive(Debug, Default)]
pub struct ProcessTools {
    calls: u32,
}

impl ProcessTools {
    pub fn new() -> ProcessTools {
        ProcessTools::default()
    }

    /// How many tool processes this hook has run (reported at the end of each hook).
    pub fn calls(&self) -> u32 {
        self.calls
    }

    fn run(
        &mut self,
        tool: &'static str,
        args: &[&str],
        stdin: Option<&[u8]>,
    ) -> Result<String, ToolError> {
        self.calls += 1;
        let mut command = Command::new(tool);
        command
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            });
        let mut child = command
            .spawn()
            .map_err(|source| ToolError::Spawn { tool, source })?;
        if let Some(input) = stdin {
            if let Some(mut pipe) = child.stdin.take() {
                pipe.write_all(input)
                    .map_err(|source| ToolError::Spawn { tool, source })?;
            }
        }
        let output = child
            .wait_with_output()
            .map_err(|source| ToolError::Spawn { tool, source })?;
        let stderr = String::from_utf8_lossy(&output.stderr)
            .trim_end()
            .to_string();
        if !output.status.success() {
            return Err(classify_failure(tool, args, output.status.code(), stderr));
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    fn run_json(&mut self, tool: &'static str, args: &[&str]) -> Result<Value, ToolError> {
        let out = self.run(tool, args, None)?;
        serde_json::from_str(out.trim()).map_err(|e| ToolError::Parse {
            tool,
            output: out.clone(),
            reason: e.to_string(),
        })
    }
}

/// Maps a tool's failure to a typed error by its `ERROR ...` message (docs/juju-contract.md J-6).
fn classify_failure(
    tool: &'static str,
    args: &[&str],
    code: Option<i32>,
    stderr: String,
) -> ToolError {
    let lower = stderr.to_lowercase();
    if lower.contains("relation not found") {
        let relation = args
            .iter()
            .position(|a| *a == "-r")
            .and_then(|i| args.get(i + 1))
            .map(|s| s.to_string())
            .unwrap_or_default();
        ToolError::RelationNotFound {
            tool,
            relation,
            stderr,
        }
    } else if lower.contains("permission denied")
        || lower.contains("not the leader")
        || lower.contains("cannot write relation settings")
    {
        ToolError::PermissionDenied { tool, stderr }
    } else {
        ToolError::Failed { tool, code, stderr }
    }
}

fn parse_error(tool: &'static str, value: &Value, reason: &str) -> ToolError {
    ToolError::Parse {
        tool,
        output: value.to_string(),
        reason: reason.to_string(),
    }
}

/// A JSON bag: an object of strings (Juju's values are strings; anything else is
/// kept as its JSON text), or `null` for none.
fn bag_from_json(tool: &'static str, value: Value) -> Result<Bag, ToolError> {
    match value {
        Value::Null => Ok(Bag::new()),
        Value::Object(map) => Ok(map
            .into_iter()
            .map(|(k, v)| {
                let v = match v {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                (k, v)
            })
            .collect()),
        other => Err(parse_error(tool, &other, "expected an object of strings")),
    }
}

fn strings_from_json(tool: &'static str, value: Value) -> Result<Vec<String>, ToolError> {
    match value {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => items
            .into_iter()
            .map(|item| match item {
                Value::String(s) => Ok(s),
                other => Err(parse_error(tool, &other, "expected a list of strings")),
            })
            .collect(),
        other => Err(parse_error(tool, &other, "expected a list of strings")),
    }
}

fn bag_to_json(data: &Bag) -> Vec<u8> {
    // A map of strings always serialises.
    serde_json::to_vec(data).unwrap_or_else(|_| b"{}".to_vec())
}

impl HookTools for ProcessTools {
    fn goal_state_units(&mut self) -> Result<Vec<(String, String)>, ToolError> {
        match self.run_json("goal-state", &["--format=json"])? {
            Value::Object(mut map) => match map.remove("units") {
                Some(Value::Object(units)) => Ok(units
                    .into_iter()
                    .map(|(unit, entry)| {
                        let status = entry
                            .get("status")
                            .and_then(Value::as_str)
                            .unwrap_or("unknown")
                            .to_string();
                        (unit, status)
                    })
                    .collect()),
                None | Some(Value::Null) => Ok(Vec::new()),
                Some(other) => Err(parse_error("goal-state", &other, "expected units: {...}")),
            },
            other => Err(parse_error("goal-state", &other, "expected an object")),
        }
    }

    fn config_get(&mut self) -> Result<serde_json::Map<String, Value>, ToolError> {
        match self.run_json("config-get", &["--format=json"])? {
            Value::Object(map) => Ok(map),
            Value::Null => Ok(serde_json::Map::new()),
            other => Err(parse_error("config-get", &other, "expected an object")),
        }
    }

    fn relation_ids(&mut self, endpoint: &str) -> Result<Vec<RelationId>, ToolError> {
        let ids = strings_from_json(
            "relation-ids",
            self.run_json("relation-ids", &["--format=json", endpoint])?,
        )?;
        ids.iter()
            .map(|id| {
                RelationId::parse(id).ok_or_else(|| ToolError::Parse {
                    tool: "relation-ids",
                    output: id.clone(),
                    reason: "expected <endpoint>:<id>".into(),
                })
            })
            .collect()
    }

    fn relation_list(&mut self, relation: &RelationId) -> Result<Vec<String>, ToolError> {
        let rel = relation.to_string();
        strings_from_json(
            "relation-list",
            self.run_json("relation-list", &["--format=json", "-r", &rel])?,
        )
    }

    fn relation_get(&mut self, relation: &RelationId, unit: &str) -> Result<Bag, ToolError> {
        let rel = relation.to_string();
        bag_from_json(
            "relation-get",
            self.run_json("relation-get", &["--format=json", "-r", &rel, "-", unit])?,
        )
    }

    fn relation_set(&mut self, relation: &RelationId, data: &Bag) -> Result<(), ToolError> {
        let rel = relation.to_string();
        self.run(
            "relation-set",
            &["-r", &rel, "--file", "-"],
            Some(&bag_to_json(data)),
        )?;
        Ok(())
    }

    fn state_get(&mut self) -> Result<Bag, ToolError> {
        bag_from_json("state-get", self.run_json("state-get", &["--format=json"])?)
    }

    fn state_set(&mut self, data: &Bag) -> Result<(), ToolError> {
        self.run("state-set", &["--file", "-"], Some(&bag_to_json(data)))?;
        Ok(())
    }

    fn status_set(&mut self, status: &Status) -> Result<(), ToolError> {
        self.run("status-set", &[status.kind.as_str(), &status.message], None)?;
        Ok(())
    }

    fn is_leader(&mut self) -> Result<bool, ToolError> {
        match self.run_json("is-leader", &["--format=json"])? {
            Value::Bool(leader) => Ok(leader),
            other => Err(parse_error("is-leader", &other, "expected true or false")),
        }
    }

    fn application_status_set(&mut self, status: &Status) -> Result<(), ToolError> {
        self.run(
            "status-set",
            &["--application", status.kind.as_str(), &status.message],
            None,
        )?;
        Ok(())
    }

    fn juju_log(&mut self, level: LogLevel, message: &str) -> Result<(), ToolError> {
        self.run("juju-log", &["-l", level.as_str(), "--", message], None)?;
        Ok(())
    }

    fn action_get(&mut self) -> Result<serde_json::Map<String, Value>, ToolError> {
        match self.run_json("action-get", &["--format=json"])? {
            Value::Object(map) => Ok(map),
            Value::Null => Ok(serde_json::Map::new()),
            other => Err(parse_error("action-get", &other, "expected an object")),
        }
    }

    fn action_set(&mut self, results: &[(String, String)]) -> Result<(), ToolError> {
        if results.is_empty() {
            return Ok(());
        }
        // One call: key=value arguments need no quoting (no shell), and a value
        // may hold `=` (only the first one splits).
        let args: Vec<String> = results.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.run("action-set", &args, None)?;
        Ok(())
    }

    fn action_fail(&mut self, message: &str) -> Result<(), ToolError> {
        self.run("action-fail", &[message], None)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relation_id_round_trips_and_keeps_hyphenated_endpoints() {
        let r = RelationId::parse("lb-sink:12").unwrap();
        assert_eq!(r, RelationId::new("lb-sink", 12));
        assert_eq!(r.to_string(), "lb-sink:12");
        assert_eq!(RelationId::parse("website"), None);
        assert_eq!(RelationId::parse(":3"), None);
        assert_eq!(RelationId::parse("website:x"), None);
    }

    #[test]
    fn relation_not_found_is_typed_and_names_the_relation() {
        let e = classify_failure(
            "relation-get",
            &["--format=json", "-r", "website:9", "-", "x/0"],
            Some(2),
            "ERROR invalid value \"website:9\" for option -r: relation not found".into(),
        );
        match e {
            ToolError::RelationNotFound { relation, .. } => assert_eq!(relation, "website:9"),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn permission_errors_are_typed() {
        for msg in [
            "ERROR permission denied",
            "ERROR cannot write relation settings",
            "ERROR this unit is not the leader",
        ] {
            let e = classify_failure("relation-set", &[], Some(1), msg.into());
            assert!(
                matches!(e, ToolError::PermissionDenied { .. }),
                "{msg}: {e:?}"
            );
        }
        let e = classify_failure("config-get", &[], Some(1), "ERROR boom".into());
        match e {
            ToolError::Failed { code, stderr, .. } => {
                assert_eq!(code, Some(1));
                assert_eq!(stderr, "ERROR boom");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn bags_accept_null_and_keep_non_string_values_as_json_text() {
        assert_eq!(bag_from_json("state-get", Value::Null).unwrap(), Bag::new());
        let bag =
            bag_from_json("relation-get", serde_json::json!({"port": "443", "n": 5})).unwrap();
        assert_eq!(bag.get("port").map(String::as_str), Some("443"));
        assert_eq!(bag.get("n").map(String::as_str), Some("5"));
        assert!(bag_from_json("relation-get", serde_json::json!([1])).is_err());
    }

    #[test]
    fn relation_set_payload_is_json_with_empty_values_for_deletion() {
        let mut bag = Bag::new();
        bag.insert("port".into(), "443".into());
        bag.insert("hostname".into(), String::new());
        assert_eq!(
            String::from_utf8(bag_to_json(&bag)).unwrap(),
            r#"{"hostname":"","port":"443"}"#
        );
    }
}
