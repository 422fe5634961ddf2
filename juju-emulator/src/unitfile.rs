//! The part of a systemd unit file the live service stand-in ([`super::services`])
//! acts on: how to start, reload and stop the service, its runtime directories and
//! start conditions. Everything else (the sandboxing directives, `Restart=`, ...) is
//! read past: systemd cannot run as PID 1 here, so hardening is checked with
//! `systemd-analyze verify` elsewhere, not enforced.
//!
//! Command lines follow systemd.service(5) "Command lines": `-@:+!` prefixes, double
//! and single quotes, C-style backslash escapes, `$NAME` as a word of its own splits
//! the value into words, `${NAME}` substitutes in place, `$$` and `%%` are literal.
//! Other `%` specifiers are refused rather than guessed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Which processes the stop signal goes to (systemd.kill(5) `KillMode=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KillMode {
    /// Every process of the unit (systemd's default).
    ControlGroup,
    /// The main process gets `KillSignal=`; the rest only the final SIGKILL.
    Mixed,
    /// Only the main process.
    Process,
    /// Nobody: the processes are left running (a stop only runs `ExecStop=`).
    None,
}

/// A `Condition...=` start condition; a failed one skips the start, as systemd does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// `ConditionPathExists=[!]PATH`
    PathExists { path: PathBuf, negate: bool },
    /// `ConditionFileNotEmpty=[!]PATH`
    FileNotEmpty { path: PathBuf, negate: bool },
}

impl Condition {
    /// `None` when it holds, else why not.
    pub fn failure(&self) -> Option<String> {
        let (holds, what, path, negate) = match self {
            Condition::PathExists { path, negate } => {
                (path.exists(), "ConditionPathExists", path, *negate)
            }
            Condition::FileNotEmpty { path, negate } => (
                std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.len() > 0),
                "ConditionFileNotEmpty",
                path,
                *negate,
            ),
        };
        (holds == negate).then(|| {
            let bang = if negate { "!" } else { "" };
            format!("{what}={bang}{} was not met", path.display())
        })
    }
}

/// What the stand-in needs from a `.service` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitFile {
    /// The raw `ExecStart=` command line (expanded when it runs).
    pub exec_start: String,
    pub exec_reload: Option<String>,
    pub exec_stop: Option<String>,
    /// `KillSignal=`, default SIGTERM.
    pub kill_signal: i32,
    pub kill_mode: KillMode,
    /// `TimeoutStopSec=` (or `TimeoutSec=`), default 90 s; `None` is `infinity`.
    pub timeout_stop: Option<Duration>,
    /// `RuntimeDirectory=` names, made under `<root>/run/` at start, removed at stop.
    pub runtime_directories: Vec<String>,
    pub runtime_directory_mode: u32,
    pub runtime_directory_preserve: bool,
    pub conditions: Vec<Condition>,
    /// `Environment=` assignments, in order.
    pub environment: Vec<(String, String)>,
    /// `EnvironmentFile=` paths; `true` = optional (`-` prefix).
    pub environment_files: Vec<(PathBuf, bool)>,
}

/// Joins continuation lines and drops comments; yields (line number, text).
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if current.is_none() && (line.starts_with('#') || line.starts_with(';')) {
            continue;
        }
        let (n, mut acc) = current.take().unwrap_or((i + 1, String::new()));
        match line.strip_suffix('\\') {
            Some(head) => {
                acc.push_str(head);
                acc.push(' ');
                current = Some((n, acc));
            }
            None => {
                acc.push_str(line);
                out.push((n, acc));
            }
        }
    }
    if let Some(last) = current {
        out.push(last);
    }
    out
}

impl UnitFile {
    /// Parses the `[Service]` and `[Unit]` directives the stand-in uses. `name` only
    /// labels errors (`name:line: ...`).
    pub fn parse(name: &str, text: &str) -> Result<UnitFile, String> {
        let mut unit = UnitFile {
            exec_start: String::new(),
            exec_reload: None,
            exec_stop: None,
            kill_signal: libc::SIGTERM,
            kill_mode: KillMode::ControlGroup,
            timeout_stop: Some(Duration::from_secs(90)),
            runtime_directories: Vec::new(),
            runtime_directory_mode: 0o755,
            runtime_directory_preserve: false,
            conditions: Vec::new(),
            environment: Vec::new(),
            environment_files: Vec::new(),
        };
        let mut section = String::new();
        for (n, line) in logical_lines(text) {
            if line.is_empty() {
                continue;
            }
            if let Some(s) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                section = s.to_string();
                continue;
            }
            let bad = |what: String| format!("{name}:{n}: {what}");
            let (key, value) = line
                .split_once('=')
                .map(|(k, v)| (k.trim(), v.trim()))
                .ok_or_else(|| bad(format!("{line:?} is not KEY=VALUE")))?;
            match (section.as_str(), key) {
                ("Service", "ExecStart") => {
                    if !unit.exec_start.is_empty() && !value.is_empty() {
                        return Err(bad(
                            "more than one ExecStart= (only Type=oneshot allows that, which the stand-in does not run)".into(),
                        ));
                    }
                    unit.exec_start = value.to_string();
                }
                ("Service", "ExecReload") => unit.exec_reload = non_empty(value),
                ("Service", "ExecStop") => unit.exec_stop = non_empty(value),
                ("Service", "KillSignal") => {
                    unit.kill_signal = signal_number(value).ok_or_else(|| {
                        bad(format!("KillSignal={value}: not a signal name or number"))
                    })?
                }
                ("Service", "KillMode") => {
                    unit.kill_mode = match value {
                        "control-group" => KillMode::ControlGroup,
                        "mixed" => KillMode::Mixed,
                        "process" => KillMode::Process,
                        "none" => KillMode::None,
                        other => {
                            return Err(bad(format!(
                                "KillMode={other}: allowed control-group, mixed, process, none"
                            )))
                        }
                    }
                }
                ("Service", "TimeoutStopSec" | "TimeoutSec") => {
                    unit.timeout_stop =
                        parse_timespan(value).map_err(|e| bad(format!("{key}={value}: {e}")))?
                }
                ("Service", "RuntimeDirectory") => unit
                    .runtime_directories
                    .extend(value.split_whitespace().map(str::to_string)),
                ("Service", "RuntimeDirectoryMode") => {
                    unit.runtime_directory_mode = u32::from_str_radix(value, 8)
                        .map_err(|_| bad(format!("RuntimeDirectoryMode={value}: not octal")))?
                }
                ("Service", "RuntimeDirectoryPreserve") => {
                    unit.runtime_directory_preserve = matches!(value, "yes" | "true" | "1")
                }
                ("Service", "Environment") => {
                    for word in split_words(value, &BTreeMap::new())
                        .map_err(|e| bad(format!("Environment=: {e}")))?
                    {
                        let (k, v) = word
                            .split_once('=')
                            .ok_or_else(|| bad(format!("Environment={word}: not NAME=VALUE")))?;
                        unit.environment.push((k.to_string(), v.to_string()));
                    }
                }
                ("Service", "EnvironmentFile") => {
                    let (path, optional) = match value.strip_prefix('-') {
                        Some(p) => (p, true),
                        None => (value, false),
                    };
                    unit.environment_files.push((PathBuf::from(path), optional));
                }
                ("Unit", "ConditionPathExists" | "ConditionFileNotEmpty") => {
                    let (path, negate) = match value.strip_prefix('!') {
                        Some(p) => (p, true),
                        None => (value, false),
                    };
                    let path = PathBuf::from(path);
                    unit.conditions.push(if key == "ConditionPathExists" {
                        Condition::PathExists { path, negate }
                    } else {
                        Condition::FileNotEmpty { path, negate }
                    });
                }
                _ => {}
            }
        }
        if unit.exec_start.is_empty() {
            return Err(format!("{name}: no ExecStart= in [Service]"));
        }
        Ok(unit)
    }

    /// The service's environment: `Environment=`, then `EnvironmentFile=`s (a missing
    /// optional file is skipped; a missing required one is an error, as in systemd).
    pub fn env(&self) -> Result<BTreeMap<String, String>, String> {
        let mut env: BTreeMap<String, String> = self.environment.iter().cloned().collect();
        for (path, optional) in &self.environment_files {
            match std::fs::read_to_string(path) {
                Ok(text) => env.extend(parse_env_file(&text)),
                Err(_) if *optional => {}
                Err(e) => return Err(format!("EnvironmentFile={}: {e}", path.display())),
            }
        }
        Ok(env)
    }

    /// `RuntimeDirectory=` paths under `root`.
    pub fn runtime_paths(&self, root: &Path) -> Vec<PathBuf> {
        self.runtime_directories
            .iter()
            .map(|d| root.join("run").join(d))
            .collect()
    }
}

fn non_empty(v: &str) -> Option<String> {
    (!v.is_empty()).then(|| v.to_string())
}

/// `KEY=value` lines, `#` comments, optional double or single quotes.
fn parse_env_file(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with(';'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| {
            let v = v.trim();
            let unquoted = v
                .strip_prefix('"')
                .and_then(|x| x.strip_suffix('"'))
                .or_else(|| v.strip_prefix('\'').and_then(|x| x.strip_suffix('\'')))
                .unwrap_or(v);
            (k.trim().to_string(), unquoted.to_string())
        })
        .collect()
}

/// `SIGTERM`, `TERM` or a number.
pub fn signal_number(text: &str) -> Option<i32> {
    if let Ok(n) = text.parse::<i32>() {
        return (1..=64).contains(&n).then_some(n);
    }
    let name = text.strip_prefix("SIG").unwrap_or(text);
    Some(match name {
        "HUP" => libc::SIGHUP,
        "INT" => libc::SIGINT,
        "QUIT" => libc::SIGQUIT,
        "KILL" => libc::SIGKILL,
        "USR1" => libc::SIGUSR1,
        "USR2" => libc::SIGUSR2,
        "TERM" => libc::SIGTERM,
        "CONT" => libc::SIGCONT,
        "STOP" => libc::SIGSTOP,
        _ => return None,
    })
}

/// A systemd time span: `90`, `10s`, `1min 30s`, `500ms`, `infinity` (= `None`).
pub fn parse_timespan(text: &str) -> Result<Option<Duration>, String> {
    let text = text.trim();
    if text == "infinity" {
        return Ok(None);
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    if rest.is_empty() {
        return Err("empty time span".into());
    }
    while !rest.is_empty() {
        rest = rest.trim_start();
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..digits]
            .parse()
            .map_err(|_| format!("{text:?}: expected a number at {rest:?}"))?;
        rest = rest[digits..].trim_start();
        let unit_len = rest
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(rest.len());
        let seconds_per = match &rest[..unit_len] {
            "" | "s" | "sec" | "second" | "seconds" => 1.0,
            "ms" | "msec" => 0.001,
            "us" | "usec" => 0.000_001,
            "m" | "min" | "minute" | "minutes" => 60.0,
            "h" | "hr" | "hour" | "hours" => 3600.0,
            other => return Err(format!("{text:?}: unknown time unit {other:?}")),
        };
        rest = &rest[unit_len..];
        total += Duration::from_secs_f64(number * seconds_per);
    }
    Ok(Some(total))
}

/// Splits a systemd command line (prefixes already removed) into words, expanding
/// `$NAME`, `${NAME}`, `$$`, `%%` and C escapes. Unknown variables expand to nothing,
/// as in systemd.
pub fn split_words(line: &str, env: &BTreeMap<String, String>) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let Some(&first) = chars.peek() else { break };
        // `$NAME` standing alone is split into words.
        if first == '$' {
            let mut probe = chars.clone();
            probe.next();
            if probe
                .peek()
                .is_some_and(|c| c.is_ascii_alphabetic() || *c == '_')
            {
                let name: String = std::iter::from_fn(|| {
                    probe.next_if(|c| c.is_ascii_alphanumeric() || *c == '_')
                })
                .collect();
                if probe.peek().map_or(true, |c| c.is_whitespace()) {
                    chars = probe;
                    if let Some(v) = env.get(&name) {
                        words.extend(v.split_whitespace().map(str::to_string));
                    }
                    continue;
                }
            }
        }
        let mut word = String::new();
        let mut quote: Option<char> = None;
        while let Some(c) = chars.next() {
            match (c, quote) {
                (q @ ('"' | '\''), None) => quote = Some(q),
                (q, Some(open)) if q == open => quote = None,
                (c, None) if c.is_whitespace() => break,
                ('\\', _) => match chars.next() {
                    Some('n') => word.push('\n'),
                    Some('t') => word.push('\t'),
                    Some(other) => word.push(other),
                    None => return Err("a backslash ends the line".into()),
                },
                ('$', _) if chars.peek() == Some(&'$') => {
                    chars.next();
                    word.push('$');
                }
                ('$', _) if chars.peek() == Some(&'{') => {
                    chars.next();
                    let name: String =
                        std::iter::from_fn(|| chars.next_if(|c| *c != '}')).collect();
                    if chars.next() != Some('}') {
                        return Err(format!("unterminated ${{{name}"));
                    }
                    word.push_str(env.get(&name).map(String::as_str).unwrap_or(""));
                }
                ('%', _) => match chars.next() {
                    Some('%') => word.push('%'),
                    other => {
                        return Err(format!(
                            "specifier %{} is not supported by the stand-in",
                            other.map(String::from).unwrap_or_default()
                        ))
                    }
                },
                (c, _) => word.push(c),
            }
        }
        if let Some(q) = quote {
            return Err(format!("unterminated {q} quote"));
        }
        words.push(word);
    }
    Ok(words)
}

/// A command line's argv: prefixes `-@:+!` stripped (their sandboxing meaning does
/// not apply here; `-` = ignore failure is reported by [`Command::ignore_failure`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub argv: Vec<String>,
    pub ignore_failure: bool,
}

impl Command {
    pub fn parse(line: &str, env: &BTreeMap<String, String>) -> Result<Command, String> {
        let trimmed = line.trim_start();
        let body = trimmed.trim_start_matches(['-', '@', ':', '+', '!']);
        let prefixes = &trimmed[..trimmed.len() - body.len()];
        if prefixes.contains('@') {
            return Err("the @ prefix (argv[0] override) is not supported by the stand-in".into());
        }
        let argv = split_words(body, env)?;
        if argv.is_empty() {
            return Err("empty command line".into());
        }
        Ok(Command {
            argv,
            ignore_failure: prefixes.contains('-'),
        })
    }
}
