//! config-get, is-leader, status-set/-get, juju-log, application-version-set,
//! unit-get, network-get, goal-state (docs/juju-contract.md J-7, J-11, J-12, J-14, J-15, J-16).

use std::collections::BTreeMap;

use super::flags::{self, Flag};
use super::format::{Format, Out};
use super::relation::relation_arg;
use super::state::{LogLine, Network, Status};
use super::{emit, format_of, Ctx, Output, ToolError, ToolResult, ALL_FORMATS, FORMAT_FLAGS};

fn with_format(extra: &[Flag]) -> Vec<Flag> {
    let mut all = FORMAT_FLAGS.to_vec();
    all.extend_from_slice(extra);
    all
}

pub fn config_get(ctx: &mut Ctx, args: &[String]) -> ToolResult {
    let parsed = flags::parse(args, &with_format(&[flags::boolean(&["a", "all"])]))?;
    let format = format_of(&parsed, Format::Smart, &ALL_FORMATS)?;
    let all = parsed.is_set("a");
    let key = parsed.positionals.first().cloned();
    if let Some(k) = &key {
        if !k.is_empty() && all {
            return Err(ToolError::usage(format!(
                "cannot use argument --all together with key {k:?}"
            )));
        }
    }
    flags::check_empty(parsed.positionals.get(1..).unwrap_or_default())?;
    let config = &ctx.state.config;
    let value = match key.filter(|k| !k.is_empty()) {
        Some(k) => config.get(&k).map(Out::from_json).unwrap_or(Out::Nil),
        None => Out::Map(
            config
                .iter()
                .filter(|(_, v)| all || !v.is_null())
                .map(|(k, v)| (k.clone(), Out::from_json(v)))
                .collect(),
        ),
    };
    emit(ctx, &parsed, format, &value)
}

pub fn is_leader(ctx: &mut Ctx, args: &[String]) -> ToolResult {
    let parsed = flags::parse(args, &FORMAT_FLAGS)?;
    let format = format_of(&parsed, Format::Smart, &ALL_FORMATS)?;
    flags::check_empty(&parsed.positionals)?;
    let leader = ctx.state.leader;
    emit(ctx, &parsed, format, &Out::Bool(leader))
}

const SETTABLE: [&str; 4] = ["maintenance", "blocked", "waiting", "active"];

pub fn status_set(ctx: &mut Ctx, args: &[String]) -> ToolResult {
    let parsed = flags::parse(args, &[flags::boolean(&["application"])])?;
    let pos = &parsed.positionals;
    let Some(status) = pos.first() else {
        return Err(ToolError::usage("invalid args, require <status> [message]"));
    };
    if !SETTABLE.contains(&status.as_str()) {
        return Err(ToolError::usage(format!(
            "invalid status {status:?}, expected one of [{}]",
            SETTABLE.join(" ")
        )));
    }
    let message = pos.get(1).cloned().unwrap_or_default();
    flags::check_empty(pos.get(2..).unwrap_or_default())?;
    let new = Status::new(status, &message);
    let state = &mut *ctx.state;
    if parsed.is_set("application") {
        if !state.leader {
            return Err(ToolError::run("this unit is not the leader"));
        }
        state.app_status = new.clone();
        state.effects.app_status.push(new);
    } else {
        state.unit_status = new.clone();
        state.units_status.insert(state.unit.clone(), new.clone());
        state.effects.unit_status.push(new);
    }
    Ok(Output::default())
}

fn status_details(status: &Status, include_data: bool) -> Out {
    let mut map = BTreeMap::new();
    map.insert("status".to_string(), Out::str(status.status.clone()));
    if include_data {
        map.insert("message".to_string(), Out::str(status.message.clone()));
        map.insert("status-data".to_string(), Out::Map(BTreeMap::new()));
    }
    Out::Map(map)
}

pub fn status_get(ctx: &mut Ctx, args: &[String]) -> ToolResult {
    let parsed = flags::parse(
        args,
        &with_format(&[
            flags::boolean(&["include-data"]),
            flags::boolean(&["application"]),
        ]),
    )?;
    let format = format_of(&parsed, Format::Smart, &ALL_FORMATS)?;
    flags::check_empty(&parsed.positionals)?;
    let include = parsed.is_set("include-data");
    let state = &*ctx.state;
    let value = if parsed.is_set("application") {
        if !state.leader {
            return Err(ToolError::run(
                "finding application status: this unit is not the leader",
            ));
        }
        let Out::Map(mut app) = status_details(&state.app_status, include) else {
            unreachable!("status_details builds a map")
        };
        let units = state
            .units_status
            .iter()
            .map(|(u, s)| (u.clone(), status_details(s, include)))
            .collect();
        app.insert("units".to_string(), Out::Map(units));
        Out::Map(BTreeMap::from([(
            "application-status".to_string(),
            Out::Map(app),
        )]))
    } else if !include && format == Format::Smart {
        Out::str(state.unit_status.status.clone())
    } else {
        status_details(&state.unit_status, include)
    };
    emit(ctx, &parsed, format, &value)
}

pub fn juju_log(ctx: &mut Ctx, args: &[String]) -> ToolResult {
    let parsed = flags::parse(
        args,
        &[
            flags::boolean(&["debug"]),
            flags::value(&["l", "log-level"]),
            // Accepted and ignored, as Juju does.
            flags::value(&["format"]),
        ],
    )?;
    if parsed.positionals.is_empty() {
        return Err(ToolError::usage("no message specified"));
    }
    let level = if parsed.is_set("debug") {
        "DEBUG".to_string()
    } else {
        match parsed.value("l").map(|l| l.to_ascii_uppercase()) {
            None => "INFO".to_string(),
            Some(l) if l == "WARN" => "WARNING".to_string(),
            Some(l)
                if ["TRACE", "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
                    .contains(&l.as_str()) =>
            {
                l
            }
            // Juju logs a warning about the level and uses INFO; still exit 0.
            Some(_) => "INFO".to_string(),
        }
    };
    let mut message = parsed.positionals.join(" ");
    let state = &mut *ctx.state;
    if let Some(rel) = state
        .relation_id
        .and_then(|id| state.relations.iter().find(|r| r.id == id))
    {
        message = format!("{}:{}: {message}", rel.endpoint, rel.id);
    }
    state.effects.juju_log.push(LogLine { level, message });
    Ok(Output::default())
}

pub fn application_version_set(ctx: &mut Ctx, args: &[String]) -> ToolResult {
    let parsed = flags::parse(args, &[])?;
    let Some(version) = parsed.positionals.first() else {
        return Err(ToolError::usage("no version specified"));
    };
    flags::check_empty(&parsed.positionals[1..])?;
    ctx.state.workload_version = Some(version.clone());
    ctx.state.effects.workload_version.push(version.clone());
    Ok(Output::default())
}

pub fn unit_get(ctx: &mut Ctx, args: &[String]) -> ToolResult {
    let parsed = flags::parse(args, &FORMAT_FLAGS)?;
    let format = format_of(&parsed, Format::Smart, &ALL_FORMATS)?;
    let Some(setting) = parsed.positionals.first() else {
        return Err(ToolError::usage("no setting specified"));
    };
    if setting != "private-address" && setting != "public-address" {
        return Err(ToolError::usage(format!("unknown setting {setting:?}")));
    }
    flags::check_empty(&parsed.positionals[1..])?;
    let value = if setting == "private-address" {
        ctx.state.private_address.clone()
    } else {
        ctx.state
            .public_address
            .clone()
            .ok_or_else(|| ToolError::run("public-address not set"))?
    };
    emit(ctx, &parsed, format, &Out::Str(value))
}

fn network_out(net: &Network, yaml: bool) -> Out {
    let binds: Vec<Out> = net
        .bind_addresses
        .iter()
        .map(|b| {
            let addrs = b
                .addresses
                .iter()
                .map(|a| {
                    let mut f = vec![
                        ("hostname".to_string(), Out::str(a.hostname.clone())),
                        ("value".to_string(), Out::str(a.value.clone())),
                        ("cidr".to_string(), Out::str(a.cidr.clone())),
                    ];
                    if yaml {
                        f.push(("address".to_string(), Out::str(a.value.clone())));
                    }
                    Out::Struct(f)
                })
                .collect();
            let mut f = vec![
                ("mac-address".to_string(), Out::str(b.mac_address.clone())),
                (
                    "interface-name".to_string(),
                    Out::str(b.interface_name.clone()),
                ),
                ("addresses".to_string(), Out::List(addrs)),
            ];
            if yaml {
                f.push(("macaddress".to_string(), Out::str(b.mac_address.clone())));
                f.push((
                    "interfacename".to_string(),
                    Out::str(b.interface_name.clone()),
                ));
            }
            Out::Struct(f)
        })
        .collect();
    let mut fields = Vec::new();
    if !binds.is_empty() {
        fields.push(("bind-addresses".to_string(), Out::List(binds)));
    }
    if !net.egress_subnets.is_empty() {
        fields.push((
            "egress-subnets".to_string(),
            Out::Strings(net.egress_subnets.clone()),
        ));
    }
    if !net.ingress_addresses.is_empty() {
        fields.push((
            "ingress-addresses".to_string(),
            Out::Strings(net.ingress_addresses.clone()),
        ));
    }
    Out::Struct(fields)
}

pub fn network_get(ctx: &mut Ctx, args: &[String]) -> ToolResult {
    let parsed = flags::parse(
        args,
        &with_format(&[
            flags::value(&["r", "relation"]),
            flags::boolean(&["bind-address"]),
            flags::boolean(&["ingress-address"]),
            flags::boolean(&["egress-subnets"]),
            flags::boolean(&["primary-address"]),
        ]),
    )?;
    let format = format_of(&parsed, Format::Smart, &ALL_FORMATS)?;
    if parsed.get("r").is_some() {
        relation_arg(ctx.state, parsed.get("r"))?;
    }
    let Some(binding) = parsed.positionals.first() else {
        return Err(ToolError::usage("no arguments specified"));
    };
    if binding.is_empty() {
        return Err(ToolError::usage("no binding name specified"));
    }
    flags::check_empty(&parsed.positionals[1..])?;
    let state = &*ctx.state;
    if !state.bindings.contains(binding) {
        return Err(ToolError::run(format!(
            "no network config found for binding {binding:?}"
        )));
    }
    let net = state
        .networks
        .get(binding)
        .unwrap_or(&state.default_network);
    let first_bind = net
        .bind_addresses
        .iter()
        .flat_map(|b| b.addresses.iter())
        .map(|a| a.value.clone())
        .next();
    let mut picked: Vec<(&str, Out)> = Vec::new();
    for key in ["primary-address", "bind-address"] {
        if parsed.is_set(key) {
            picked.push((key, first_bind.clone().map(Out::Str).unwrap_or(Out::Nil)));
        }
    }
    if parsed.is_set("ingress-address") {
        let ingress = net
            .ingress_addresses
            .first()
            .cloned()
            .or(first_bind.clone());
        picked.push(("ingress-address", ingress.map(Out::Str).unwrap_or(Out::Nil)));
    }
    if parsed.is_set("egress-subnets") {
        picked.push(("egress-subnets", Out::Strings(net.egress_subnets.clone())));
    }
    let value = match picked.len() {
        0 => network_out(net, format != Format::Json),
        1 => picked.remove(0).1,
        _ => Out::Map(
            picked
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        ),
    };
    emit(ctx, &parsed, format, &value)
}

pub fn goal_state(ctx: &mut Ctx, args: &[String]) -> ToolResult {
    let parsed = flags::parse(args, &FORMAT_FLAGS)?;
    let format = format_of(&parsed, Format::Yaml, &["yaml", "json"])?;
    flags::check_empty(&parsed.positionals)?;
    const SINCE: &str = "2200-11-05 15:29:12Z";
    let entry = |status: &str| {
        Out::Struct(vec![
            ("status".to_string(), Out::str(status)),
            ("since".to_string(), Out::str(SINCE)),
        ])
    };
    let state = &*ctx.state;
    // A unit's status is its workload status, or `dying` once its life is dying
    // (Juju's goal-state documentation); every live unit here reads `active`.
    let units = state
        .app_units
        .iter()
        .map(|u| {
            let status = if state.dying_units.contains(u) {
                "dying"
            } else {
                "active"
            };
            (u.clone(), entry(status))
        })
        .collect();
    let mut relations: BTreeMap<String, Out> = BTreeMap::new();
    for rel in &state.relations {
        let mut members: BTreeMap<String, Out> = BTreeMap::new();
        if rel.kind != "peer" {
            members.insert(rel.remote_app.clone(), entry("joined"));
        }
        for unit in &rel.members {
            members.insert(unit.clone(), entry("joined"));
        }
        if let Some(Out::Map(existing)) = relations.get_mut(&rel.endpoint) {
            existing.extend(members);
        } else {
            relations.insert(rel.endpoint.clone(), Out::Map(members));
        }
    }
    let value = Out::Struct(vec![
        ("units".to_string(), Out::Map(units)),
        ("relations".to_string(), Out::Map(relations)),
    ]);
    emit(ctx, &parsed, format, &value)
}
