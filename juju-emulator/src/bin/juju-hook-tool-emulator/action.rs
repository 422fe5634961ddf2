//! action-get, action-set, action-fail and action-log: the tools an action uses to
//! read its parameters and report its outcome (Juju's "action commands").
//!
//! As Juju documents them: they are on PATH in every hook, but only an action's
//! context has the data behind them, so outside an action each one fails with "not
//! running an action" (exit 1) once its arguments have parsed; argument errors come
//! first, with exit 2, like every hook tool's.

use serde_json::{Map, Value};

use super::flags;
use super::format::{Format, Out};
use super::state::ActionState;
use super::{emit, format_of, Ctx, Output, ToolError, ToolResult, ALL_FORMATS, FORMAT_FLAGS};

/// Keys Juju fills in itself after the action exits (the captured output), which
/// action-set therefore refuses, at any level of a dotted key.
const RESERVED: [&str; 4] = ["stdout", "stdout-encoding", "stderr", "stderr-encoding"];

fn action<'a>(ctx: &'a mut Ctx) -> Result<&'a mut ActionState, ToolError> {
    ctx.state
        .action
        .as_mut()
        .ok_or_else(|| ToolError::run("not running an action"))
}

/// `action-get [<key>[.<key>...]]`: the whole parameter map without a key (an empty
/// map rather than nothing when there are none), else the value found by walking
/// the dotted path through nested maps; a path that leads nowhere prints nothing
/// (`null` in JSON) and still exits 0.
pub fn action_get(ctx: &mut Ctx, args: &[String]) -> ToolResult {
    let parsed = flags::parse(args, &FORMAT_FLAGS)?;
    let format = format_of(&parsed, Format::Smart, &ALL_FORMATS)?;
    let keys: Option<Vec<String>> = parsed
        .positionals
        .first()
        .map(|k| k.split('.').map(str::to_string).collect());
    flags::check_empty(parsed.positionals.get(1..).unwrap_or_default())?;
    let params = Value::Object(action(ctx)?.params.clone());
    let value = match keys {
        None => Out::from_json(&params),
        Some(keys) => {
            let mut at = Some(&params);
            for k in &keys {
                at = at.and_then(|v| v.as_object()).and_then(|m| m.get(k));
            }
            at.map(Out::from_json).unwrap_or(Out::Nil)
        }
    };
    emit(ctx, &parsed, format, &value)
}

/// One dotted segment of an action-set key: lowercase letters and digits, with
/// hyphens inside (Juju's rule for action names and result keys alike).
fn valid_key(key: &str) -> bool {
    let ok = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    let (Some(first), Some(last)) = (key.chars().next(), key.chars().last()) else {
        return false;
    };
    ok(first) && ok(last) && key.chars().all(|c| ok(c) || c == '-')
}

/// `action-set <key>=<value> ...`: values are strings; dotted keys build nested
/// maps, and a later key overwrites whatever an earlier one left at that path (a
/// string in the way becomes a map, a map in the way is replaced by the string).
pub fn action_set(ctx: &mut Ctx, args: &[String]) -> ToolResult {
    let parsed = flags::parse(args, &[])?;
    let mut sets: Vec<(Vec<String>, String)> = Vec::new();
    for arg in &parsed.positionals {
        let Some((key, value)) = arg.split_once('=') else {
            return Err(ToolError::usage(format!(
                "argument {arg:?} must be of the form key...=value"
            )));
        };
        let path: Vec<String> = key.split('.').map(str::to_string).collect();
        for k in &path {
            if !valid_key(k) {
                return Err(ToolError::usage(format!(
                    "key {k:?} must start and end with lowercase alphanumeric, and contain only lowercase alphanumeric, hyphens and periods"
                )));
            }
            if RESERVED.contains(&k.as_str()) {
                return Err(ToolError::usage(format!(
                    "cannot set reserved action key {k:?}"
                )));
            }
        }
        sets.push((path, value.to_string()));
    }
    // With nothing to set, Juju never asks for the action, so even outside one this
    // succeeds.
    if sets.is_empty() {
        return Ok(Output::default());
    }
    let results = &mut action(ctx)?.results;
    for (path, value) in sets {
        set_path(results, &path, value);
    }
    Ok(Output::default())
}

fn set_path(map: &mut Map<String, Value>, path: &[String], value: String) {
    let (last, parents) = path.split_last().expect("split gives at least one key");
    let mut at = map;
    for k in parents {
        let slot = at
            .entry(k.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        if !slot.is_object() {
            *slot = Value::Object(Map::new());
        }
        at = slot.as_object_mut().expect("made an object above");
    }
    at.insert(last.clone(), Value::String(value));
}

/// `action-fail ["<message>"]`: marks the action failed; the charm goes on running
/// and its exit code still decides whether its other changes are kept.
pub fn action_fail(ctx: &mut Ctx, args: &[String]) -> ToolResult {
    let parsed = flags::parse(args, &[])?;
    let message = match parsed.positionals.first() {
        Some(m) => m.clone(),
        None => "action failed without reason given, check action for errors".to_string(),
    };
    flags::check_empty(parsed.positionals.get(1..).unwrap_or_default())?;
    let state = action(ctx)?;
    state.failed = true;
    state.message = message;
    Ok(Output::default())
}

/// `action-log <message>`: a progress message for whoever waits on the action (the
/// words are joined by spaces).
pub fn action_log(ctx: &mut Ctx, args: &[String]) -> ToolResult {
    let parsed = flags::parse(args, &[])?;
    if parsed.positionals.is_empty() {
        return Err(ToolError::usage("no message specified"));
    }
    let message = parsed.positionals.join(" ");
    action(ctx)?.log.push(message);
    Ok(Output::default())
}
