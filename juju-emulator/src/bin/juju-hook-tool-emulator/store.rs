//! The state file itself (locked read-modify-write), and the tools that keep data:
//! state-get/-set/-delete (docs/juju-contract.md J-13), leader-get/-set (J-14), open-/close-/opened-ports
//! (J-16).

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::path::Path;

use super::flags::{self};
use super::format::{Format, Out};
use super::relation::{file_flag_settings, overlay};
use super::state::{HookState, OpenedPort, PortOp};
use super::{emit, format_of, Ctx, Output, ToolError, ToolResult, ALL_FORMATS, FORMAT_FLAGS};

/// An exclusive `flock` on `<state>.lock`, released when dropped (the file closes).
pub struct StateLock {
    _file: File,
}

pub fn lock(path: &Path) -> std::io::Result<StateLock> {
    let mut lock_path = path.as_os_str().to_owned();
    lock_path.push(".lock");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(lock_path)?;
    // SAFETY: `file` is an open descriptor we own for the whole call; flock only takes
    // an advisory lock on it and touches no memory.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(StateLock { _file: file })
}

/// Loads the state, lets `f` change it, and writes it back atomically (temp + rename),
/// all under the lock so concurrent tool calls of one hook serialize.
pub fn with_state<T>(path: &Path, f: impl FnOnce(&mut HookState) -> T) -> Result<T, String> {
    let _lock = lock(path).map_err(|e| format!("lock: {e}"))?;
    let text = std::fs::read(path).map_err(|e| format!("read: {e}"))?;
    let mut state: HookState = serde_json::from_slice(&text).map_err(|e| format!("parse: {e}"))?;
    let out = f(&mut state);
    let json = serde_json::to_vec(&state).map_err(|e| format!("serialize: {e}"))?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp{}", std::process::id()));
    std::fs::write(&tmp, json).map_err(|e| format!("write: {e}"))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("rename: {e}"))?;
    Ok(out)
}

fn major_version(version: &str) -> u32 {
    version
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0)
}

pub fn state_get(ctx: &mut Ctx, args: &[String]) -> ToolResult {
    let parsed = flags::parse(args, &{
        let mut f = FORMAT_FLAGS.to_vec();
        f.push(flags::boolean(&["strict"]));
        f
    })?;
    let format = format_of(&parsed, Format::Smart, &ALL_FORMATS)?;
    let key = parsed.positionals.first().cloned().filter(|k| k != "-");
    flags::check_empty(parsed.positionals.get(1..).unwrap_or_default())?;
    // state-get sees this hook's own buffered writes (Juju's charm-state cache).
    let mut current = ctx.state.charm_state.clone();
    for (k, v) in &ctx.state.pending.charm_state {
        match v {
            Some(v) => current.insert(k.clone(), v.clone()),
            None => current.remove(k),
        };
    }
    let value = match key {
        Some(k) => match current.get(&k) {
            Some(v) => Out::Str(v.clone()),
            None if parsed.is_set("strict") => {
                return Err(ToolError::run(format!("{k:?} not found")))
            }
            None => Out::Str(String::new()),
        },
        // Juju 4 prints null when the unit has no state yet (juju#22523).
        None if current.is_empty() && major_version(&ctx.state.juju_version) >= 4 => Out::Nil,
        None => Out::bag(&current),
    };
    emit(ctx, &parsed, format, &value)
}

pub fn state_set(ctx: &mut Ctx, args: &[String]) -> ToolResult {
    let parsed = flags::parse(args, &[flags::value(&["file"])])?;
    let overrides = flags::key_values(&parsed.positionals)?;
    let mut settings = file_flag_settings(ctx, &parsed)?;
    settings.extend(overrides);
    for (k, v) in settings {
        ctx.state.pending.charm_state.insert(k, Some(v));
    }
    Ok(Output::default())
}

pub fn state_delete(ctx: &mut Ctx, args: &[String]) -> ToolResult {
    let parsed = flags::parse(args, &[])?;
    let Some(key) = parsed.positionals.first() else {
        return Err(ToolError::usage("specify a key"));
    };
    flags::check_empty(&parsed.positionals[1..])?;
    ctx.state.pending.charm_state.insert(key.clone(), None);
    Ok(Output::default())
}

pub fn leader_get(ctx: &mut Ctx, args: &[String]) -> ToolResult {
    let parsed = flags::parse(args, &FORMAT_FLAGS)?;
    let format = format_of(&parsed, Format::Smart, &ALL_FORMATS)?;
    let key = parsed.positionals.first().cloned().filter(|k| k != "-");
    if let Some(k) = key.as_ref().filter(|k| k.contains('=')) {
        return Err(ToolError::usage(format!("invalid key {k:?}")));
    }
    flags::check_empty(parsed.positionals.get(1..).unwrap_or_default())?;
    let settings = &ctx.state.leader_settings;
    let value = match key {
        Some(k) => settings
            .get(&k)
            .map(|v| Out::Str(v.clone()))
            .unwrap_or(Out::Nil),
        None => Out::bag(settings),
    };
    emit(ctx, &parsed, format, &value)
}

pub fn leader_set(ctx: &mut Ctx, args: &[String]) -> ToolResult {
    let parsed = flags::parse(args, &[])?;
    let settings = flags::key_values(&parsed.positionals)?;
    if !ctx.state.leader {
        return Err(ToolError::run(
            "cannot write leadership settings: cannot write settings: not the leader",
        ));
    }
    let pending: super::state::Bag = settings.into_iter().collect();
    let updated = overlay(&ctx.state.leader_settings, Some(&pending));
    if updated != ctx.state.leader_settings {
        ctx.state.leader_settings = updated;
        ctx.state.effects.leader_settings_changed = true;
    }
    Ok(Output::default())
}

/// Parses `80`, `80/udp`, `1000-2000/tcp`, `icmp` into Juju's canonical text.
pub fn parse_port(text: &str) -> Result<String, ToolError> {
    let text = text.to_ascii_lowercase();
    if text == "icmp" {
        return Ok(text);
    }
    let (range, proto) = text.split_once('/').unwrap_or((&text, "tcp"));
    if !["tcp", "udp", "icmp"].contains(&proto) {
        return Err(ToolError::usage(format!(
            "invalid protocol {proto:?}, expected \"tcp\", \"udp\", or \"icmp\""
        )));
    }
    let bad = || ToolError::usage(format!("invalid port or range {text:?}"));
    let (from, to) = match range.split_once('-') {
        Some((a, b)) => (
            a.parse::<u32>().map_err(|_| bad())?,
            b.parse::<u32>().map_err(|_| bad())?,
        ),
        None => {
            let p = range.parse::<u32>().map_err(|_| bad())?;
            (p, p)
        }
    };
    if from == 0 || to > 65535 || from > to {
        return Err(ToolError::usage(format!("invalid port range {text:?}")));
    }
    Ok(if from == to {
        format!("{from}/{proto}")
    } else {
        format!("{from}-{to}/{proto}")
    })
}

/// Juju's port-range order: protocol, then from-port, then to-port.
pub fn port_sort_key(range: &str) -> (String, u32, u32) {
    let (ports, proto) = range.split_once('/').unwrap_or(("", range));
    let (from, to) = ports.split_once('-').unwrap_or((ports, ports));
    (
        proto.to_string(),
        from.parse().unwrap_or(0),
        to.parse().unwrap_or(0),
    )
}

pub fn port_change(ctx: &mut Ctx, args: &[String], open: bool) -> ToolResult {
    let parsed = flags::parse(
        args,
        &[flags::value(&["endpoints"]), flags::value(&["format"])],
    )?;
    let Some(text) = parsed.positionals.first() else {
        return Err(ToolError::usage("no port or range specified"));
    };
    let range = parse_port(text)?;
    flags::check_empty(&parsed.positionals[1..])?;
    let mut endpoints: Vec<String> = parsed
        .value("endpoints")
        .map(|e| {
            e.split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    endpoints.sort();
    ctx.state.pending.port_ops.push(PortOp {
        open,
        port: OpenedPort { range, endpoints },
    });
    Ok(Output::default())
}

pub fn opened_ports(ctx: &mut Ctx, args: &[String]) -> ToolResult {
    let parsed = flags::parse(args, &{
        let mut f = FORMAT_FLAGS.to_vec();
        f.push(flags::boolean(&["endpoints"]));
        f
    })?;
    let format = format_of(&parsed, Format::Smart, &ALL_FORMATS)?;
    flags::check_empty(&parsed.positionals)?;
    let mut ports = ctx.state.opened_ports.clone();
    ports.sort_by_key(|p| port_sort_key(&p.range));
    let list = ports
        .iter()
        .map(|p| {
            if parsed.is_set("endpoints") {
                let eps = if p.endpoints.is_empty() {
                    "*".to_string()
                } else {
                    p.endpoints.join(",")
                };
                format!("{} ({eps})", p.range)
            } else {
                p.range.clone()
            }
        })
        .collect();
    emit(ctx, &parsed, format, &Out::Strings(list))
}
