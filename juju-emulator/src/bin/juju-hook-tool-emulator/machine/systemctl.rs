//! `systemctl` stand-in: units exist when their unit file is under the machine root
//! (or they are marked preinstalled); start/stop/restart/enable/... update the recorded
//! active/enabled sets; is-active/is-enabled/show answer from them; a unit file changed
//! on disk without daemon-reload gets systemd's warning.

use std::path::{Path, PathBuf};

use super::fail;
use crate::Output;
use juju_emulator::state::Machine;

const UNIT_SUFFIXES: [&str; 9] = [
    ".service", ".socket", ".target", ".timer", ".mount", ".path", ".slice", ".scope", ".device",
];

pub fn unit_name(name: &str) -> String {
    if UNIT_SUFFIXES.iter().any(|s| name.ends_with(s)) {
        name.to_string()
    } else {
        format!("{name}.service")
    }
}

/// The unit file under the machine root, if the charm (or a package) installed one.
fn unit_file(machine: &Machine, unit: &str) -> Option<PathBuf> {
    [
        "etc/systemd/system",
        "run/systemd/system",
        "lib/systemd/system",
        "usr/lib/systemd/system",
    ]
    .iter()
    .map(|dir| Path::new(&machine.root).join(dir).join(unit))
    .find(|p| p.is_file())
}

fn exists(machine: &Machine, unit: &str) -> bool {
    machine.preinstalled_units.contains(unit) || unit_file(machine, unit).is_some()
}

/// systemd loads a unit file on first use; a later change on disk without
/// daemon-reload gives the familiar warning (and systemd keeps the old definition).
fn load(machine: &mut Machine, unit: &str, stderr: &mut String) {
    let Some(text) = unit_file(machine, unit).and_then(|p| std::fs::read_to_string(p).ok()) else {
        return;
    };
    match machine.loaded.get(unit) {
        None => {
            machine.loaded.insert(unit.to_string(), text);
        }
        Some(old) if *old != text => stderr.push_str(&format!(
            "Warning: The unit file, source configuration file or drop-ins of {unit} changed on disk. Run 'systemctl daemon-reload' to reload units.\n"
        )),
        Some(_) => {}
    }
}

struct SystemctlArgs {
    verb: Option<String>,
    units: Vec<String>,
    now: bool,
    quiet: bool,
    value: bool,
    properties: Vec<String>,
}

fn parse_systemctl(args: &[String]) -> Result<SystemctlArgs, String> {
    let mut out = SystemctlArgs {
        verb: None,
        units: Vec::new(),
        now: false,
        quiet: false,
        value: false,
        properties: Vec::new(),
    };
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        match a.as_str() {
            "--now" => out.now = true,
            "-q" | "--quiet" => out.quiet = true,
            "--value" => out.value = true,
            "--no-block" | "--no-pager" | "--system" | "--no-reload" | "--no-ask-password"
            | "-f" | "--force" | "--no-legend" | "--full" | "-l" => {}
            "-s" | "--signal" | "--kill-whom" | "--kill-value" | "-p" | "--property" => {
                let v = args
                    .get(i)
                    .cloned()
                    .ok_or_else(|| format!("option '{a}' requires an argument"))?;
                i += 1;
                if a == "-p" || a == "--property" {
                    out.properties.push(v);
                }
            }
            s if s.starts_with("--signal=") || s.starts_with("--kill-whom=") => {}
            s if s.starts_with("--property=") => {
                out.properties.push(s["--property=".len()..].to_string())
            }
            s if s.starts_with('-') && s.len() > 1 => {
                return Err(format!("unrecognized option '{s}'"));
            }
            s if out.verb.is_none() => out.verb = Some(s.to_string()),
            s => out.units.push(unit_name(s)),
        }
    }
    Ok(out)
}

pub fn systemctl(machine: &mut Machine, args: &[String]) -> Output {
    let parsed = match parse_systemctl(args) {
        Ok(p) => p,
        Err(e) => return fail(1, format!("systemctl: {e}\n")),
    };
    let mut out = Output::default();
    let verb = parsed.verb.clone().unwrap_or_else(|| "list-units".into());
    let needs_units = !matches!(
        verb.as_str(),
        "daemon-reload" | "list-units" | "reset-failed" | "daemon-reexec"
    );
    if needs_units && parsed.units.is_empty() {
        return fail(1, "Too few arguments.\n".to_string());
    }
    for unit in &parsed.units {
        let known = exists(machine, unit);
        let active = machine.active.contains(unit);
        match verb.as_str() {
            "start" | "restart" | "reload-or-restart" | "try-restart" | "reload" => {
                let what = verb.split('-').next().unwrap_or(&verb).to_string();
                if !known {
                    return fail(
                        5,
                        format!("Failed to {what} {unit}: Unit {unit} not found.\n"),
                    );
                }
                if machine.masked.contains(unit) {
                    return fail(
                        1,
                        format!("Failed to {what} {unit}: Unit {unit} is masked.\n"),
                    );
                }
                if verb == "reload" && !active {
                    return fail(
                        1,
                        format!("Failed to reload {unit}: Unit {unit} is not active.\n"),
                    );
                }
                load(machine, unit, &mut out.stderr);
                if verb != "try-restart" || active {
                    machine.active.insert(unit.clone());
                }
            }
            "stop" => {
                if !known && !active {
                    return fail(
                        5,
                        format!("Failed to stop {unit}: Unit {unit} not loaded.\n"),
                    );
                }
                machine.active.remove(unit);
            }
            "kill" => {
                if !active {
                    return fail(
                        1,
                        format!("Failed to kill unit {unit}: No main process to kill\n"),
                    );
                }
            }
            "enable" | "disable" => {
                if !known {
                    return fail(
                        1,
                        format!("Failed to {verb} unit: Unit file {unit} does not exist.\n"),
                    );
                }
                if verb == "enable" {
                    machine.enabled.insert(unit.clone());
                    if parsed.now {
                        load(machine, unit, &mut out.stderr);
                        machine.active.insert(unit.clone());
                    }
                } else {
                    machine.enabled.remove(unit);
                    if parsed.now {
                        machine.active.remove(unit);
                    }
                }
            }
            "mask" => {
                machine.masked.insert(unit.clone());
            }
            "unmask" => {
                machine.masked.remove(unit);
            }
            "is-active" => {
                if !parsed.quiet {
                    out.stdout
                        .push_str(if active { "active\n" } else { "inactive\n" });
                }
                if !active {
                    out.code = 3;
                }
            }
            "is-enabled" => {
                if !known {
                    return fail(
                        1,
                        format!(
                            "Failed to get unit file state for {unit}: No such file or directory\n"
                        ),
                    );
                }
                let enabled = machine.enabled.contains(unit);
                let masked = machine.masked.contains(unit);
                if !parsed.quiet {
                    let word = if masked {
                        "masked"
                    } else if enabled {
                        "enabled"
                    } else {
                        "disabled"
                    };
                    out.stdout.push_str(&format!("{word}\n"));
                }
                if !enabled {
                    out.code = 1;
                }
            }
            "is-failed" => {
                if !parsed.quiet {
                    out.stdout
                        .push_str(if active { "active\n" } else { "inactive\n" });
                }
                out.code = 1;
            }
            "status" => {
                if !known {
                    return fail(4, format!("Unit {unit} could not be found.\n"));
                }
                let state = if active {
                    "active (running)"
                } else {
                    "inactive (dead)"
                };
                out.stdout
                    .push_str(&format!("● {unit}\n     Active: {state}\n"));
                if !active {
                    out.code = 3;
                }
            }
            "show" => {
                let props = [
                    ("Id", unit.clone()),
                    (
                        "LoadState",
                        if known { "loaded" } else { "not-found" }.to_string(),
                    ),
                    (
                        "ActiveState",
                        if active { "active" } else { "inactive" }.to_string(),
                    ),
                    (
                        "SubState",
                        if active { "running" } else { "dead" }.to_string(),
                    ),
                    (
                        "UnitFileState",
                        if machine.enabled.contains(unit) {
                            "enabled"
                        } else {
                            "disabled"
                        }
                        .to_string(),
                    ),
                ];
                for (k, v) in props {
                    if parsed.properties.is_empty()
                        || parsed
                            .properties
                            .iter()
                            .any(|p| p.split(',').any(|q| q == k))
                    {
                        if parsed.value {
                            out.stdout.push_str(&format!("{v}\n"));
                        } else {
                            out.stdout.push_str(&format!("{k}={v}\n"));
                        }
                    }
                }
            }
            other => return fail(1, format!("Unknown command verb '{other}'.\n")),
        }
    }
    if verb == "daemon-reload" {
        machine.daemon_reloads += 1;
        let units: Vec<String> = machine.loaded.keys().cloned().collect();
        for unit in units {
            match unit_file(machine, &unit).and_then(|p| std::fs::read_to_string(p).ok()) {
                Some(text) => {
                    machine.loaded.insert(unit, text);
                }
                None => {
                    machine.loaded.remove(&unit);
                }
            }
        }
    }
    out
}
