//! `juju-hook-tool-emulator`: one multi-call binary that answers, by the basename of
//! argv[0], as every Juju hook tool (`config-get`, `relation-set`, ...) and as the
//! machine stand-ins `systemctl` and `sysctl`. It reads and updates the per-hook state
//! file named by `JUJU_EMULATOR_STATE` (see `state.rs`), under an exclusive lock.
//!
//! Exit codes and stderr follow Juju's `cmd.Main`: 0 on success, 2 with `ERROR <msg>`
//! for usage errors, 1 with `ERROR <msg>` for run errors.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

mod action;
mod flags;
mod format;
mod machine;
mod misc;
mod relation;
mod store;

use flags::{Flag, Parsed};
use format::{Format, Out};
use juju_emulator::state::{self, HookState, ToolCall, STATE_ENV};

/// A failed tool run: `code` 2 for usage errors, 1 for run errors.
#[derive(Debug)]
pub struct ToolError {
    pub code: i32,
    pub message: String,
}

impl ToolError {
    pub fn usage(message: impl Into<String>) -> ToolError {
        ToolError {
            code: 2,
            message: message.into(),
        }
    }

    /// `-h`/`--help` was given: not an error, the caller prints the usage.
    pub fn help() -> ToolError {
        ToolError {
            code: 0,
            message: String::new(),
        }
    }

    pub fn run(message: impl Into<String>) -> ToolError {
        ToolError {
            code: 1,
            message: message.into(),
        }
    }
}

/// What a successful run prints.
#[derive(Debug, Default)]
pub struct Output {
    pub stdout: String,
    pub stderr: String,
    pub code: i32,
}

impl Output {
    pub fn stdout(text: impl Into<String>) -> Output {
        Output {
            stdout: text.into(),
            ..Output::default()
        }
    }
}

pub type ToolResult = Result<Output, ToolError>;

/// What every tool gets: the unit's view, its own name, and stdin on demand.
pub struct Ctx<'a> {
    pub state: &'a mut HookState,
    pub name: &'a str,
}

impl Ctx<'_> {
    pub fn read_stdin(&self) -> Result<String, ToolError> {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| ToolError::run(format!("reading stdin: {e}")))?;
        Ok(text)
    }

    /// A path given to a tool: relative paths resolve against the hook's cwd (Juju
    /// sends the client's cwd with the request).
    pub fn path(&self, given: &str) -> PathBuf {
        let p = Path::new(given);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            Path::new(&self.state.charm_dir).join(p)
        }
    }
}

/// The `--format`/`-o` pair most tools take.
pub const FORMAT_FLAGS: [Flag; 2] = [flags::value(&["format"]), flags::value(&["o", "output"])];

/// Parses the common format flags (validated like gnuflag's Set: exit 2).
pub fn format_of(parsed: &Parsed, default: Format, allowed: &[&str]) -> Result<Format, ToolError> {
    match parsed.get("format") {
        None => Ok(default),
        Some(given) => match Format::parse(&given.value) {
            Some(f) if allowed.contains(&given.value.as_str()) => Ok(f),
            _ => Err(ToolError::usage(format!(
                "invalid value {:?} for option {}: unknown format {:?}",
                given.value, given.spelling, given.value
            ))),
        },
    }
}

pub const ALL_FORMATS: [&str; 3] = ["smart", "yaml", "json"];

/// Formats `value` to stdout or to `-o FILE`.
pub fn emit(ctx: &Ctx, parsed: &Parsed, format: Format, value: &Out) -> ToolResult {
    let text = format::render(format, value);
    match parsed.value("o") {
        Some(path) => {
            std::fs::write(ctx.path(path), text)
                .map_err(|e| ToolError::run(format!("cannot write {path}: {e}")))?;
            Ok(Output::default())
        }
        None => Ok(Output::stdout(text)),
    }
}

fn help(name: &str) -> Output {
    let usage = match name {
        "config-get" => "config-get [options] [<key>]",
        "relation-ids" => "relation-ids [options] [<name>]",
        "relation-list" => "relation-list [options]",
        "relation-get" => "relation-get [options] <key> <unit id>",
        "relation-set" => "relation-set [options] key=value [key=value ...]",
        "is-leader" => "is-leader [options]",
        "status-set" => "status-set [options] <maintenance | blocked | waiting | active> [message]",
        "status-get" => "status-get [options] [--include-data] [--application]",
        "state-get" => "state-get [options] [<key>]",
        "state-set" => "state-set [options] key=value [key=value ...]",
        "state-delete" => "state-delete <key>",
        "juju-log" => "juju-log [options] <message>",
        "network-get" => "network-get [options] <binding-name>",
        "unit-get" => "unit-get [options] <setting>",
        "application-version-set" => "application-version-set <new-version>",
        "open-port" => {
            "open-port [options] <port>[/<protocol>] or <from>-<to>[/<protocol>] or icmp"
        }
        "close-port" => {
            "close-port [options] <port>[/<protocol>] or <from>-<to>[/<protocol>] or icmp"
        }
        "opened-ports" => "opened-ports [options]",
        "goal-state" => "goal-state [options]",
        "leader-get" => "leader-get [options] [<key>]",
        "leader-set" => "leader-set [options] <key>=<value> [...]",
        "action-get" => "action-get [options] [<key>[.<key>.<key>...]]",
        "action-set" => "action-set <key>=<value> [<key>=<value> ...]",
        "action-fail" => "action-fail [\"<failure message>\"]",
        "action-log" => "action-log <message>",
        _ => name,
    };
    Output::stdout(format!("Usage: {usage}\n"))
}

/// Runs hook tool `name`; `None` if there is no such tool.
fn dispatch(ctx: &mut Ctx, args: &[String]) -> Option<ToolResult> {
    let result = match ctx.name {
        "relation-ids" => relation::relation_ids(ctx, args),
        "relation-list" => relation::relation_list(ctx, args),
        "relation-get" => relation::relation_get(ctx, args),
        "relation-set" => relation::relation_set(ctx, args),
        "config-get" => misc::config_get(ctx, args),
        "is-leader" => misc::is_leader(ctx, args),
        "status-set" => misc::status_set(ctx, args),
        "status-get" => misc::status_get(ctx, args),
        "juju-log" => misc::juju_log(ctx, args),
        "application-version-set" => misc::application_version_set(ctx, args),
        "unit-get" => misc::unit_get(ctx, args),
        "network-get" => misc::network_get(ctx, args),
        "goal-state" => misc::goal_state(ctx, args),
        "leader-get" => store::leader_get(ctx, args),
        "leader-set" => store::leader_set(ctx, args),
        "state-get" => store::state_get(ctx, args),
        "state-set" => store::state_set(ctx, args),
        "state-delete" => store::state_delete(ctx, args),
        "open-port" => store::port_change(ctx, args, true),
        "close-port" => store::port_change(ctx, args, false),
        "opened-ports" => store::opened_ports(ctx, args),
        "action-get" => action::action_get(ctx, args),
        "action-set" => action::action_set(ctx, args),
        "action-fail" => action::action_fail(ctx, args),
        "action-log" => action::action_log(ctx, args),
        _ => return None,
    };
    Some(result)
}

fn run_tool(name: &str, args: &[String]) -> Output {
    let Some(path) = std::env::var_os(STATE_ENV) else {
        return Output {
            stderr: format!(
                "ERROR {STATE_ENV} is not set: {name} only works inside an emulated hook\n"
            ),
            code: 1,
            ..Output::default()
        };
    };
    let path = PathBuf::from(path);
    let result = store::with_state(&path, |state| {
        let mut ctx = Ctx { state, name };
        let out = match dispatch(&mut ctx, args) {
            Some(Ok(out)) => out,
            // gnuflag's ErrHelp: usage on stdout, exit 0.
            Some(Err(err)) if err.code == 0 => help(name),
            Some(Err(err)) => Output {
                stderr: format!("ERROR {}\n", err.message),
                code: err.code,
                ..Output::default()
            },
            None => Output {
                stderr: format!("ERROR unknown hook command {name:?}\n"),
                code: 1,
                ..Output::default()
            },
        };
        ctx.state.tool_calls.push(ToolCall {
            name: name.to_string(),
            args: args.to_vec(),
            exit_code: out.code,
        });
        out
    });
    match result {
        Ok(out) => out,
        Err(err) => Output {
            stderr: format!("ERROR emulator state {}: {err}\n", path.display()),
            code: 1,
            ..Output::default()
        },
    }
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().collect();
    let name = argv
        .first()
        .map(|a| {
            Path::new(a)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
        .unwrap_or_default();
    let args = argv.get(1..).unwrap_or_default();
    let out = match name.as_str() {
        "systemctl" | "sysctl" => machine::run(&name, args),
        _ => run_tool(&name, args),
    };
    let _ = std::io::stdout().write_all(out.stdout.as_bytes());
    let _ = std::io::stderr().write_all(out.stderr.as_bytes());
    ExitCode::from(u8::try_from(out.code).unwrap_or(1))
}
