//! relation-ids, relation-list, relation-get, relation-set (docs/juju-contract.md J-8, J-9, J-10).

use std::collections::BTreeMap;

use super::flags::{self, Flag, Given, Parsed};
use super::format::{Format, Out};
use super::state::{Bag, HookState, RelationView};
use super::{emit, format_of, Ctx, Output, ToolError, ToolResult, ALL_FORMATS, FORMAT_FLAGS};

const RELATION: Flag = flags::value(&["r", "relation"]);
const APP: Flag = flags::boolean(&["app"]);

fn with_format(extra: &[Flag]) -> Vec<Flag> {
    let mut all = FORMAT_FLAGS.to_vec();
    all.extend_from_slice(extra);
    all
}

/// Resolves `-r` as Juju's `relationIdValue.Set` (plus the endpoint check newer Juju
/// does): `N` or `<endpoint>:N`; otherwise the hook's own relation.
pub fn relation_arg(state: &HookState, given: Option<&Given>) -> Result<u32, ToolError> {
    let Some(given) = given else {
        return state
            .relation_id
            .ok_or_else(|| ToolError::usage("no relation id specified"));
    };
    let invalid = |why: &str| {
        ToolError::usage(format!(
            "invalid value {:?} for option {}: {why}",
            given.value, given.spelling
        ))
    };
    let (endpoint, id_text) = match given.value.rsplit_once(':') {
        Some((endpoint, id)) => (Some(endpoint), id),
        None => (None, given.value.as_str()),
    };
    let id: u32 = id_text
        .parse()
        .map_err(|_| invalid("invalid relation id"))?;
    match state.relations.iter().find(|r| r.id == id) {
        Some(rel) if endpoint.map_or(true, |e| e == rel.endpoint) => Ok(id),
        _ => Err(invalid("relation not found")),
    }
}

pub fn view(state: &HookState, id: u32) -> &RelationView {
    // relation_arg only returns ids present in the view.
    state
        .relations
        .iter()
        .find(|r| r.id == id)
        .unwrap_or_else(|| panic!("relation {id} vanished from the view"))
}

/// Committed bag with this hook's buffered writes applied (`""` deletes).
pub fn overlay(committed: &Bag, pending: Option<&Bag>) -> Bag {
    let mut bag = committed.clone();
    for (k, v) in pending.into_iter().flatten() {
        if v.is_empty() {
            bag.remove(k);
        } else {
            bag.insert(k.clone(), v.clone());
        }
    }
    bag
}

pub fn relation_ids(ctx: &mut Ctx, args: &[String]) -> ToolResult {
    let parsed = flags::parse(args, &FORMAT_FLAGS)?;
    let format = format_of(&parsed, Format::Smart, &ALL_FORMATS)?;
    let mut rest = parsed.positionals.clone();
    let endpoint = if rest.is_empty() {
        let own = ctx
            .state
            .relation_id
            .and_then(|id| ctx.state.relations.iter().find(|r| r.id == id));
        match own {
            Some(rel) => rel.endpoint.clone(),
            None => return Err(ToolError::usage("no endpoint name specified")),
        }
    } else {
        rest.remove(0)
    };
    flags::check_empty(&rest)?;
    let mut ids: Vec<String> = ctx
        .state
        .relations
        .iter()
        .filter(|r| r.endpoint == endpoint)
        .map(|r| format!("{}:{}", r.endpoint, r.id))
        .collect();
    ids.sort();
    emit(ctx, &parsed, format, &Out::Strings(ids))
}

pub fn relation_list(ctx: &mut Ctx, args: &[String]) -> ToolResult {
    let parsed = flags::parse(args, &with_format(&[RELATION, APP]))?;
    let format = format_of(&parsed, Format::Smart, &ALL_FORMATS)?;
    let id = relation_arg(ctx.state, parsed.get("r"))?;
    flags::check_empty(&parsed.positionals)?;
    let rel = view(ctx.state, id);
    let value = if parsed.is_set("app") {
        Out::Str(rel.remote_app.clone())
    } else {
        let mut members = rel.members.clone();
        members.sort();
        Out::Strings(members)
    };
    emit(ctx, &parsed, format, &value)
}

fn valid_app_name(name: &str) -> bool {
    let mut parts = name.split('-');
    let first = parts.next().unwrap_or("");
    let word_ok = |w: &str| {
        !w.is_empty()
            && w.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    };
    first.starts_with(|c: char| c.is_ascii_lowercase())
        && word_ok(first)
        && parts.all(|w| word_ok(w) && w.chars().any(|c| c.is_ascii_lowercase()))
}

fn valid_unit_name(name: &str) -> bool {
    match name.rsplit_once('/') {
        Some((app, n)) => {
            valid_app_name(app) && !n.is_empty() && n.chars().all(|c| c.is_ascii_digit())
        }
        None => false,
    }
}

enum Target {
    Unit(String),
    App(String),
}

/// Juju's `determineUnitOrAppName`.
fn target(state: &HookState, parsed: &Parsed, rest: &mut Vec<String>) -> Result<Target, ToolError> {
    let app = parsed.is_set("app");
    if !rest.is_empty() {
        let name = rest.remove(0);
        if app {
            if valid_unit_name(&name) {
                let app_name = name.rsplit_once('/').map(|(a, _)| a).unwrap_or(&name);
                return Ok(Target::App(app_name.to_string()));
            }
            if valid_app_name(&name) {
                return Ok(Target::App(name));
            }
            return Err(ToolError::usage(format!(
                "invalid application name {name:?}"
            )));
        }
        if valid_unit_name(&name) {
            return Ok(Target::Unit(name));
        }
        if valid_app_name(&name) {
            return Err(ToolError::usage(format!(
                "expected unit name, got application name {name:?}"
            )));
        }
        return Err(ToolError::usage(format!("invalid unit name {name:?}")));
    }
    let remote_app = state.remote_app.clone().filter(|a| !a.is_empty());
    let remote_unit = state.remote_unit.clone().filter(|u| !u.is_empty());
    match (app, remote_unit, remote_app) {
        (true, _, Some(a)) => Ok(Target::App(a)),
        (false, Some(u), _) => Ok(Target::Unit(u)),
        (false, None, Some(a)) => Ok(Target::App(a)),
        _ => Err(ToolError::usage("no unit or application specified")),
    }
}

pub fn relation_get(ctx: &mut Ctx, args: &[String]) -> ToolResult {
    let parsed = flags::parse(args, &with_format(&[RELATION, APP]))?;
    let format = format_of(&parsed, Format::Smart, &ALL_FORMATS)?;
    let id = relation_arg(ctx.state, parsed.get("r"))?;
    let mut rest = parsed.positionals.clone();
    let key = if rest.is_empty() {
        None
    } else {
        Some(rest.remove(0)).filter(|k| k != "-")
    };
    let target = target(ctx.state, &parsed, &mut rest)?;
    flags::check_empty(&rest)?;

    let state = &*ctx.state;
    let rel = view(state, id);
    let rel_key = format!("{}:{}", rel.endpoint, rel.id);
    let bag: Bag = match target {
        Target::App(app) if app == state.app => {
            if rel.kind != "peer" && !state.leader {
                return Err(ToolError::run("permission denied"));
            }
            if state.leader {
                overlay(&rel.local_app_data, state.pending.relation_app.get(&id))
            } else {
                rel.local_app_data.clone()
            }
        }
        Target::App(app) if app == rel.remote_app => rel.remote_app_data.clone(),
        Target::App(app) => {
            return Err(ToolError::run(format!(
                "cannot read settings for application {app:?} in relation {rel_key:?}: application {app:?} not found"
            )))
        }
        Target::Unit(unit) if unit == state.unit => {
            overlay(&rel.local_unit_data, state.pending.relation_unit.get(&id))
        }
        Target::Unit(unit) => match rel.remote_units_data.get(&unit) {
            Some(bag) => bag.clone(),
            None => {
                return Err(ToolError::run(format!(
                    "cannot read settings for unit {unit:?} in relation {rel_key:?}: unit {unit:?}: settings not found"
                )))
            }
        },
    };
    let value = match key {
        Some(k) => bag.get(&k).map(|v| Out::str(v.clone())).unwrap_or(Out::Nil),
        None => Out::bag(&bag),
    };
    emit(ctx, &parsed, format, &value)
}

/// `--file` content: a YAML (or JSON) map of string to string, as yaml.v2 decodes it
/// into `map[string]string` (scalars keep their text; null becomes "" = delete).
/// The settings of `--file` (a path, or `-` for standard input) if given, as
/// relation-set and state-set read them.
pub fn file_flag_settings(ctx: &Ctx, parsed: &Parsed) -> Result<Vec<(String, String)>, ToolError> {
    let Some(file) = parsed.value("file") else {
        return Ok(Vec::new());
    };
    let text = if file == "-" {
        ctx.read_stdin()?
    } else {
        std::fs::read_to_string(ctx.path(file))
            .map_err(|e| ToolError::run(format!("open {file}: {e}")))?
    };
    settings_file(&text)
}

pub fn settings_file(text: &str) -> Result<Vec<(String, String)>, ToolError> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    let value: serde_yaml::Value =
        serde_yaml::from_str(text).map_err(|e| ToolError::run(format!("yaml: {e}")))?;
    let scalar = |v: &serde_yaml::Value| -> Option<String> {
        match v {
            serde_yaml::Value::Null => Some(String::new()),
            serde_yaml::Value::Bool(b) => Some(b.to_string()),
            serde_yaml::Value::Number(n) => Some(n.to_string()),
            serde_yaml::Value::String(s) => Some(s.clone()),
            _ => None,
        }
    };
    let tag = |v: &serde_yaml::Value| match v {
        serde_yaml::Value::Sequence(_) => "!!seq",
        serde_yaml::Value::Mapping(_) => "!!map",
        _ => "!!str",
    };
    let map = match &value {
        serde_yaml::Value::Null => return Ok(Vec::new()),
        serde_yaml::Value::Mapping(m) => m,
        other => {
            let shown = scalar(other).map(|s| format!(" `{s}`")).unwrap_or_default();
            return Err(ToolError::run(format!(
                "yaml: unmarshal errors:\n  line 1: cannot unmarshal {}{shown} into map[string]string",
                tag(other)
            )));
        }
    };
    let mut out = Vec::new();
    for (k, v) in map {
        let (Some(k), Some(v)) = (scalar(k), scalar(v)) else {
            return Err(ToolError::run(format!(
                "yaml: unmarshal errors:\n  line 1: cannot unmarshal {} into string",
                tag(v)
            )));
        };
        out.push((k, v));
    }
    Ok(out)
}

pub fn relation_set(ctx: &mut Ctx, args: &[String]) -> ToolResult {
    let parsed = flags::parse(
        args,
        &[
            RELATION,
            APP,
            flags::value(&["file"]),
            flags::value(&["format"]),
        ],
    )?;
    let id = relation_arg(ctx.state, parsed.get("r"))?;
    let overrides = flags::key_values(&parsed.positionals)?;

    let mut out = Output::default();
    if parsed.get("format").is_some() {
        // Juju prints this note without a trailing newline.
        out.stderr = format!("--format flag deprecated for command {:?}", ctx.name);
    }
    let mut settings: BTreeMap<String, String> = BTreeMap::new();
    settings.extend(file_flag_settings(ctx, &parsed)?);
    settings.extend(overrides);

    let app = parsed.is_set("app");
    if app && !ctx.state.leader {
        return Err(ToolError::run("cannot write relation settings"));
    }
    let pending = if app {
        &mut ctx.state.pending.relation_app
    } else {
        &mut ctx.state.pending.relation_unit
    };
    let bag = pending.entry(id).or_default();
    for (k, v) in settings {
        bag.insert(k, v);
    }
    Ok(out)
}
