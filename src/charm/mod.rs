//! The Juju half: every hook reconciles config, relations and peers into the engine's
//! keepalived.conf, relation data and status.
//!
//! | module | role |
//! |---|---|
//! | [`hook`] | which hook runs, and its Juju environment |
//! | [`actions`] | the actions of `actions.yaml` (`status`), from the engine's state file |
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
pub mod iface;
pub mod install;
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
