//! The Juju half: every hook reconciles config, relations and peers into the engine's
//! keepalived.conf, relation data and status.
//!
//! | module | role |
//! |---|---|
//! | [`hook`] | which hook runs, and its Juju environment |
//! | [`actions`] | the `status` action, from the engine's state file |
//! | [`maintenance`] | pure: `pause`, `resume`, `switchover` as changes of the charm state |
//! | [`cos`] | pure: the `cos-agent` databag (alert rules, dashboard, scrape job) |
//! | [`hooktools`] | the ONLY module that runs hook tools (`HookTools` trait + process impl) |
//! | [`context`] | gathering relations and peers with few tool calls (cached in state) |
//! | [`options`] | config-get output, typed |
//! | [`desired`] | pure: options validated into typed options (or every problem), then a typed plan |
//! | [`iface`] | interface choice and VRRP source addresses (rtnetlink snapshot + pure choice) |
//! | [`priority`] | pure: distinct, stable priority claims without leadership |
//! | [`relation_data`] | pure: the published payloads and the minimal writes |
//! | [`render`] | the template context (the plan as text), tera templates, file writes |
//! | [`service`] | `systemctl` behind one trait |
//! | [`sysctl`] | `sysctl` behind one trait |
//! | [`status`] | pure: the unit status, from the engine's state file |
//! | [`state`] | the unit's memory between hooks (state-get/state-set) |
//! | [`install`] | engine binary, systemd unit, removal |
//! | [`paths`] | every machine path, under `KEEPALIVED_CHARM_ROOT` |
//! | [`reconcile`] | the one reconcile per hook that ties them together |

pub mod actions;
pub mod context;
pub mod cos;
pub mod desired;
pub mod hook;
pub mod hooktools;
pub mod identity;
pub mod iface;
pub mod install;
pub mod maintenance;
pub mod options;
pub mod paths;
pub mod priority;
pub mod reconcile;
pub mod relation_data;
pub mod render;
pub mod service;
pub mod state;
pub mod status;
pub mod sysctl;
pub mod timing;

use std::path::PathBuf;

use anyhow::Context as _;

use hook::{ContextError, Hook, HookContext};
use hooktools::{HookTools, LogLevel, ProcessTools, ToolError};
use iface::NetlinkError;
use render::RenderError;
use service::{ServiceError, Systemctl};
use sysctl::SysctlCommand;

/// Why a hook failed (then Juju puts the unit in error and retries it).
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error(transparent)]
    Tool(#[from] ToolError),
    #[error(transparent)]
    Service(#[from] ServiceError),
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error(transparent)]
    Netlink(#[from] NetlinkError),
    #[error(transparent)]
    Context(#[from] ContextError),
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Handles one hook. The hook is named by `JUJU_DISPATCH_PATH` (`hooks/<name>`), else
/// by `name` (the `hook` subcommand's argument), else by the program name. Hooks this
/// charm does not know exit 0. An action (`JUJU_ACTION_NAME`, `actions/<name>`) runs
/// [`actions::run`].
pub fn run_hook(name: Option<String>) -> anyhow::Result<()> {
    let dispatch = std::env::var("JUJU_DISPATCH_PATH").ok();
    let action_env = std::env::var("JUJU_ACTION_NAME").ok();
    if let Some(action) = actions::action_name(dispatch.as_deref(), action_env.as_deref()) {
        return run_action(&action);
    }
    let argv0 = std::env::args().next();
    let Some(hook_name) = hook::hook_name(dispatch.as_deref(), name.as_deref(), argv0.as_deref())
    else {
        println!("keepalived-charm: nothing to do for {dispatch:?}");
        return Ok(());
    };
    let Some(hook) = Hook::parse(&hook_name) else {
        println!("keepalived-charm: no handler for hook {hook_name:?}");
        return Ok(());
    };
    let ctx = HookContext::from_env(hook, |k| std::env::var(k).ok())
        .with_context(|| format!("hook {hook_name}"))?;
    let paths = paths::Paths::from_env();
    let charm_binary = std::env::current_exe().context("cannot find the charm's own binary")?;
    let started = std::time::Instant::now();
    let mut tools = ProcessTools::new();
    let mut service = Systemctl;
    let mut sysctl = SysctlCommand;
    let mut net = iface::read_snapshot;
    let result = reconcile::handle(
        &ctx,
        &mut reconcile::Deps {
            tools: &mut tools,
            service: &mut service,
            sysctl: &mut sysctl,
            net: &mut net,
            paths: &paths,
            charm_binary: &charm_binary,
        },
    );
    if let Err(e) = &result {
        // Juju shows only `hook failed`; say why in the debug log first.
        let _ = tools.juju_log(LogLevel::Error, &format!("hook {hook_name} failed: {e}"));
    }
    // stdout goes to the unit's debug log at DEBUG level.
    println!(
        "keepalived-charm: {hook_name} done in {:.1} ms with {} hook-tool calls",
        started.elapsed().as_secs_f64() * 1e3,
        tools.calls()
    );
    result.with_context(|| format!("hook {hook_name}"))
}

/// Runs one action; only a hook tool that cannot run fails the process.
fn run_action(name: &str) -> anyhow::Result<()> {
    if matches!(
        name,
        maintenance::PAUSE | maintenance::RESUME | maintenance::SWITCHOVER
    ) {
        return run_maintenance(name).with_context(|| format!("action {name}"));
    }
    if name != actions::STATUS {
        println!("keepalived-charm: no handler for action {name:?}");
        return Ok(());
    }
    let paths = paths::Paths::from_env();
    let mut tools = ProcessTools::new();
    actions::run(
        name,
        &mut tools,
        &paths.engine_state(),
        std::time::SystemTime::now(),
    )
    .with_context(|| format!("action {name}"))
}

/// How long `pause` waits for the VIPs to leave this machine: the release bound of
/// the slowest interval (40.95 s) is far above it; at the charm's intervals the
/// successor speaks within its skew time, or the bound (about 1 s at 1 s) passes.
const PAUSE_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// `pause`, `resume`, `switchover`: decide and reconcile (see [`maintenance`]), then
/// wait for what can be seen from here and report it.
fn run_maintenance(name: &str) -> anyhow::Result<()> {
    let mut tools = ProcessTools::new();
    let params = tools.action_get()?;
    let intent = match maintenance::Intent::from_action(name, &params) {
        Some(Ok(intent)) => intent,
        Some(Err(message)) => return Ok(tools.action_fail(&message)?),
        None => return Ok(()),
    };
    let ctx = HookContext::from_env(Hook::Action, |k| std::env::var(k).ok())?;
    let paths = paths::Paths::from_env();
    let charm_binary = std::env::current_exe().context("cannot find the charm's own binary")?;
    let mut service = Systemctl;
    let mut sysctl = SysctlCommand;
    let mut net = iface::read_snapshot;
    let started = std::time::Instant::now();
    let outcome = reconcile::handle_action(
        &ctx,
        &mut reconcile::Deps {
            tools: &mut tools,
            service: &mut service,
            sysctl: &mut sysctl,
            net: &mut net,
            paths: &paths,
            charm_binary: &charm_binary,
        },
        &intent,
    )?;
    let done = match outcome {
        Ok(done) => done,
        Err(refusal) => return Ok(tools.action_fail(&refusal)?),
    };
    let engine_state = paths.engine_state();
    let mut results: Vec<(String, String)> = Vec::new();
    let mut put = |k: &str, v: String| results.push((k.to_string(), v));
    match &done {
        maintenance::Done::Paused => {
            let left = wait_until(PAUSE_WAIT, || vips_gone(&engine_state));
            put("result", "paused".into());
            put(
                "message",
                if left {
                    "this unit is out of the election until `resume`; it holds no VIP".into()
                } else {
                    "this unit is out of the election until `resume`, but still held a VIP when the wait ended: check `juju run <unit> status`".into()
                },
            );
            put("master", current_master(&engine_state));
        }
        maintenance::Done::AlreadyPaused => {
            put("result", "already-paused".into());
            put("message", "nothing changed".into());
        }
        maintenance::Done::Resumed => {
            put("result", "resumed".into());
            put(
                "message",
                "this unit takes part in the election again; it takes the VIP back after its down interval if its priority is the highest".into(),
            );
        }
        maintenance::Done::NotPaused => {
            put("result", "not-paused".into());
            put("message", "nothing changed".into());
        }
        maintenance::Done::Switchover { unit } => {
            put("result", "requested".into());
            put("target", unit.clone());
            put(
                "message",
                format!("{unit} takes the VIP once the current MASTER's next hook has seen the request (its priority drops below {unit}'s); then {unit} preempts after its down interval, make before break"),
            );
        }
    }
    put("took-ms", started.elapsed().as_millis().to_string());
    tools.action_set(&results)?;
    Ok(())
}

/// Polls `done` every 50 ms until it holds or `limit` passes; whether it held.
fn wait_until(limit: std::time::Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if done() {
            return true;
        }
        if std::time::Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// No instance of the engine is MASTER and none of its VIPs is on this machine.
fn vips_gone(engine_state: &std::path::Path) -> bool {
    let Ok(text) = std::fs::read_to_string(engine_state) else {
        return true;
    };
    let Ok(state) = serde_json::from_str::<crate::engine::state_file::EngineState>(&text) else {
        return true;
    };
    if state.instances.iter().any(|i| i.state == "MASTER") {
        return false;
    }
    let vips: Vec<std::net::IpAddr> = state
        .instances
        .iter()
        .flat_map(|i| i.vips.iter())
        .filter_map(|v| v.split('/').next()?.parse().ok())
        .collect();
    match iface::read_snapshot() {
        Ok(net) => !net
            .links
            .iter()
            .any(|l| l.addresses.iter().any(|a| vips.contains(&a.addr))),
        Err(_) => true,
    }
}

/// The current MASTER as the engine last reported it (`unknown` before any).
fn current_master(engine_state: &std::path::Path) -> String {
    std::fs::read_to_string(engine_state)
        .ok()
        .and_then(|t| serde_json::from_str::<crate::engine::state_file::EngineState>(&t).ok())
        .and_then(|s| s.instances.iter().find_map(|i| i.master.clone()))
        .unwrap_or_else(|| "unknown".into())
}
