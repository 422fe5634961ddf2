//! `systemctl` and `sysctl` stand-ins (systemd cannot be PID 1 in the test container).
//! They record every call in the unit's machine state, answer from recorded state
//! (active/enabled units, sysctl values) and can be told to fail a given command.

use std::path::{Path, PathBuf};

use super::state::{FailRule, Machine, ServiceCall, STATE_ENV};
use super::store::with_state;
use super::Output;

pub fn run(program: &str, args: &[String]) -> Output {
    let Some(path) = std::env::var_os(STATE_ENV) else {
        return fail(
            1,
            format!("{program}: {STATE_ENV} is not set (emulated machine only)\n"),
        );
    };
    let hook_and_machine = with_state(Path::new(&path), |state| {
        let machine = &mut state.machine;
        let out = match take_failure(machine, program, args) {
            Some(out) => out,
            None if program == "systemctl" => systemctl(machine, args),
            None => sysctl(machine, args),
        };
        let mut argv = vec![program.to_string()];
        argv.extend(args.iter().cloned());
        machine.calls.push(ServiceCall {
            hook: state.hook.clone(),
            argv,
            exit_code: out.code,
        });
        out
    });
    hook_and_machine.unwrap_or_else(|e| fail(1, format!("{program}: emulator state: {e}\n")))
}

fn fail(code: i32, stderr: String) -> Output {
    Output {
        stdout: String::new(),
        stderr,
        code,
    }
}

/// `args` of the rule must appear in `argv` in order (not necessarily adjacent).
fn rule_matches(rule: &FailRule, program: &str, args: &[String]) -> bool {
    if rule.program != program || rule.remaining == Some(0) {
        return false;
    }
    let mut it = args.iter();
    rule.args.iter().all(|want| it.any(|a| a == want))
}

fn take_failure(machine: &mut Machine, program: &str, args: &[String]) -> Option<Output> {
    let rule = machine
        .failures
        .iter_mut()
        .find(|r| rule_matches(r, program, args))?;
    if let Some(n) = rule.remaining.as_mut() {
        *n -= 1;
    }
    let mut stderr = rule.stderr.clone();
    if !stderr.is_empty() && !stderr.ends_with('\n') {
        stderr.push('\n');
    }
    Some(fail(rule.exit_code, stderr))
}

// ---------------------------------------------------------------- systemctl

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

fn systemctl(machine: &mut Machine, args: &[String]) -> Output {
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

// ---------------------------------------------------------------- sysctl

fn sysctl_key(key: &str) -> String {
    key.replace('/', ".")
}

fn proc_path(key: &str) -> String {
    format!("/proc/sys/{}", key.replace('.', "/"))
}

/// A key exists if the test set it, or if the host kernel has it (read, never written).
fn current(machine: &Machine, key: &str) -> Option<String> {
    if let Some(v) = machine.sysctl.get(key) {
        return Some(v.clone());
    }
    let text = std::fs::read_to_string(proc_path(key)).ok()?;
    Some(text.trim_end().replace('\t', " "))
}

struct SysctlOpts {
    values_only: bool,
    ignore: bool,
    quiet: bool,
    write: bool,
    load: bool,
    system: bool,
    files: Vec<String>,
    names: Vec<String>,
}

fn parse_sysctl(args: &[String]) -> Result<SysctlOpts, String> {
    let mut o = SysctlOpts {
        values_only: false,
        ignore: false,
        quiet: false,
        write: false,
        load: false,
        system: false,
        files: Vec::new(),
        names: Vec::new(),
    };
    for a in args {
        match a.as_str() {
            "--values" => o.values_only = true,
            "--ignore" => o.ignore = true,
            "--quiet" => o.quiet = true,
            "--write" => o.write = true,
            "--load" => o.load = true,
            "--system" => o.system = true,
            s if s.starts_with("--load=") => {
                o.load = true;
                o.files.push(s["--load=".len()..].to_string());
            }
            s if s.starts_with("--") => return Err(format!("unrecognized option '{s}'")),
            s if s.starts_with('-') && s.len() > 1 => {
                let letters = &s[1..];
                for (i, c) in letters.char_indices() {
                    match c {
                        'n' => o.values_only = true,
                        'e' => o.ignore = true,
                        'q' => o.quiet = true,
                        'w' => o.write = true,
                        'p' => {
                            o.load = true;
                            let rest = &letters[i + 1..];
                            if !rest.is_empty() {
                                o.files.push(rest.to_string());
                            }
                            break;
                        }
                        other => return Err(format!("invalid option -- '{other}'")),
                    }
                }
            }
            s => o.names.push(s.to_string()),
        }
    }
    if o.load {
        // procps: with -p, the remaining arguments are files to load.
        o.files.append(&mut o.names);
    }
    Ok(o)
}

fn write_setting(machine: &mut Machine, o: &SysctlOpts, setting: &str, out: &mut Output) {
    let Some((key, value)) = setting.split_once('=') else {
        out.stderr.push_str(&format!(
            "sysctl: \"{setting}\" must be of the form name=value\n"
        ));
        out.code = 255;
        return;
    };
    let (key, ignore) = match key.trim().strip_prefix('-') {
        Some(k) => (sysctl_key(k), true),
        None => (sysctl_key(key.trim()), o.ignore),
    };
    let value = value.trim().to_string();
    if current(machine, &key).is_none() {
        if !ignore {
            out.stderr.push_str(&format!(
                "sysctl: cannot stat {}: No such file or directory\n",
                proc_path(&key)
            ));
            out.code = 255;
        }
        return;
    }
    machine.sysctl.insert(key.clone(), value.clone());
    if !o.quiet {
        if o.values_only {
            out.stdout.push_str(&format!("{value}\n"));
        } else {
            out.stdout.push_str(&format!("{key} = {value}\n"));
        }
    }
}

/// A path the charm names: used as given if it exists, else under the machine root.
fn machine_path(machine: &Machine, path: &str) -> PathBuf {
    let given = Path::new(path);
    if given.exists() {
        return given.to_path_buf();
    }
    Path::new(&machine.root).join(path.trim_start_matches('/'))
}

fn load_file(machine: &mut Machine, o: &SysctlOpts, path: &Path, shown: &str, out: &mut Output) {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(_) => {
            out.stderr.push_str(&format!(
                "sysctl: cannot open \"{shown}\": No such file or directory\n"
            ));
            out.code = 255;
            return;
        }
    };
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        write_setting(machine, o, line, out);
    }
}

fn sysctl(machine: &mut Machine, args: &[String]) -> Output {
    let o = match parse_sysctl(args) {
        Ok(o) => o,
        Err(e) => return fail(255, format!("sysctl: {e}\n")),
    };
    let mut out = Output::default();
    if o.system {
        let mut files: Vec<(String, PathBuf)> = Vec::new();
        for dir in [
            "etc/sysctl.d",
            "run/sysctl.d",
            "usr/local/lib/sysctl.d",
            "usr/lib/sysctl.d",
            "lib/sysctl.d",
        ] {
            let Ok(entries) = std::fs::read_dir(Path::new(&machine.root).join(dir)) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.ends_with(".conf") && !files.iter().any(|(n, _)| *n == name) {
                    files.push((name, entry.path()));
                }
            }
        }
        files.sort();
        let etc = Path::new(&machine.root).join("etc/sysctl.conf");
        if etc.is_file() {
            files.push(("sysctl.conf".into(), etc));
        }
        for (_, path) in files {
            let shown = format!(
                "/{}",
                path.strip_prefix(&machine.root).unwrap_or(&path).display()
            );
            out.stdout.push_str(&format!("* Applying {shown} ...\n"));
            load_file(machine, &o, &path, &shown, &mut out);
        }
        return out;
    }
    if o.load {
        let files = if o.files.is_empty() {
            vec!["/etc/sysctl.conf".to_string()]
        } else {
            o.files.clone()
        };
        for f in files {
            let path = machine_path(machine, &f);
            load_file(machine, &o, &path, &f, &mut out);
        }
        return out;
    }
    if o.names.is_empty() {
        return fail(255, "sysctl: no variables specified\n".into());
    }
    for name in &o.names {
        if o.write || name.contains('=') {
            write_setting(machine, &o, name, &mut out);
            continue;
        }
        let key = sysctl_key(name);
        match current(machine, &key) {
            Some(v) if o.values_only => out.stdout.push_str(&format!("{v}\n")),
            Some(v) => out.stdout.push_str(&format!("{key} = {v}\n")),
            None if o.ignore => {}
            None => {
                out.stderr.push_str(&format!(
                    "sysctl: cannot stat {}: No such file or directory\n",
                    proc_path(&key)
                ));
                out.code = 255;
            }
        }
    }
    out
}
