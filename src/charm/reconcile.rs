//! One reconcile per hook (the "holistic" pattern): every hook but `stop` and `remove`
//! runs the same steps from the current facts, and each step only acts on a
//! difference, so a hook with nothing new writes nothing and reloads nothing.
//!
//! 1. facts: config, charm state, relations and peers (`context`);
//! 2. the engine binary and unit are in place (`install`);
//! 3. this unit's priority claim (`priority`);
//! 4. the desired state (`desired`, pure);
//! 5. the engine config: rendered and written atomically if it differs; an invalid
//!    config leaves the last good file untouched; no VIP removes it;
//!    The metrics address file (`--metrics-file`) likewise: `IP:PORT` or empty (off),
//!    written atomically only when the plan's `metrics_address` changed;
//! 6. sysctl settings;
//! 7. the service (once `start` ran): start it when configured (first stopping the
//!    distro keepalived the original charm ran, on a refreshed unit), or when blocked
//!    but a last good config exists; `reload` (SIGHUP) when the config on disk is not
//!    the one the engine was last given (or the metrics address file), `restart` when the binary or unit is not
//!    (only an upgrade writes those); stop when the VIP was removed. "Last given" is
//!    kept in charm state, which Juju discards when a hook fails, so a retried hook
//!    still tells the engine what its failed attempt wrote;
//! 8. relation data: only keys that differ from what was last published;
//! 9. the status, from the desired state and the engine's state file;
//! 10. the charm state, if it changed.

use std::fs;
use std::net::IpAddr;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use super::context::{self, Relations};
use super::desired::{self, Desired, Facts, Plan};
use super::hook::{Hook, HookContext};
use super::hooktools::{Bag, HookTools, LogLevel, RelationId, ToolError};
use super::identity;
use super::iface::{NetSnapshot, NetlinkError};
use super::install;
use super::maintenance::{self, Done, Intent};
use super::options::Options;
use super::paths::{self, Paths, UNIT_NAME};
use super::priority;
use super::relation_data::{self, CLUSTER, INGRESS_ADDRESS, PRIVATE_ADDRESS, WEBSITE};
use super::render::{self, PUBLIC_MODE, SECRET_MODE};
use super::service::{ServiceManager, Verb};
use super::state::{CharmState, EngineFiles};
use super::status;
use super::sysctl::{self, Sysctl, KERNEL_DEFAULT};
use super::timing;
use super::HookError;
use vrrp_core::proto::{Priority, Timers};

/// Everything a hook acts on, behind interfaces a test can replace.
pub struct Deps<'a> {
    pub tools: &'a mut dyn HookTools,
    pub service: &'a mut dyn ServiceManager,
    pub sysctl: &'a mut dyn Sysctl,
    /// Reads the machine's interfaces (netlink in production).
    pub net: &'a mut dyn FnMut() -> Result<NetSnapshot, NetlinkError>,
    pub paths: &'a Paths,
    /// The charm's own binary, copied to be the engine.
    pub charm_binary: &'a Path,
}

/// Notable events of one hook, sent with a single `juju-log` call at the end.
#[derive(Debug, Default)]
pub struct Journal {
    lines: Vec<(LogLevel, String)>,
}

impl Journal {
    pub fn info(&mut self, message: impl Into<String>) {
        self.lines.push((LogLevel::Info, message.into()));
    }

    pub fn warn(&mut self, message: impl Into<String>) {
        self.lines.push((LogLevel::Warning, message.into()));
    }

    /// One `juju-log` call for everything, at the highest level seen. Logging is best
    /// effort: a failure to log never fails the hook.
    pub fn flush(self, tools: &mut dyn HookTools) {
        if self.lines.is_empty() {
            return;
        }
        let level = if self.lines.iter().any(|(l, _)| *l == LogLevel::Warning) {
            LogLevel::Warning
        } else {
            LogLevel::Info
        };
        let text = self
            .lines
            .into_iter()
            .map(|(_, m)| m)
            .collect::<Vec<_>>()
            .join("; ");
        let _ = tools.juju_log(level, &text);
    }
}

/// Runs the hook.
pub fn handle(ctx: &HookContext, deps: &mut Deps<'_>) -> Result<(), HookError> {
    let mut journal = Journal::default();
    let result = match ctx.hook {
        Hook::Stop => stop(deps, &mut journal),
        Hook::Remove => remove(deps, &mut journal),
        _ => reconcile(ctx, deps, &mut journal, None).map(|_| ()),
    };
    journal.flush(deps.tools);
    result
}

/// Runs a maintenance action (`ctx.hook` is `Hook::Action`): decides on `intent`
/// from the fresh facts and, when accepted, reconciles with the changed state.
/// `Ok(Err(message))`: refused, nothing written.
pub fn handle_action(
    ctx: &HookContext,
    deps: &mut Deps<'_>,
    intent: &Intent,
) -> Result<Result<Done, String>, HookError> {
    let mut journal = Journal::default();
    let result = reconcile(ctx, deps, &mut journal, Some(intent));
    journal.flush(deps.tools);
    result.map(|outcome| outcome.unwrap_or(Err("not a maintenance action".into())))
}

fn reconcile(
    ctx: &HookContext,
    deps: &mut Deps<'_>,
    journal: &mut Journal,
    intent: Option<&Intent>,
) -> Result<Option<Result<Done, String>>, HookError> {
    // 1. Facts.
    let config = deps.tools.config_get()?;
    let (options, option_errors) = Options::from_config(&config);
    let (before, warning) = CharmState::from_bag(&deps.tools.state_get()?);
    if let Some(w) = warning {
        journal.warn(w);
    }
    let mut state = before.clone();
    match ctx.hook {
        Hook::Start => state.started = true,
        // Juju runs `start` after `upgrade-charm` on a refresh; a unit upgraded from the
        // original charm (no state yet) was running, so it counts as started.
        Hook::UpgradeCharm if before == CharmState::default() => state.started = true,
        _ => {}
    }
    let relations = context::refresh(ctx, deps.tools, &mut state)?;

    // 1b. A maintenance action changes the state, or is refused with nothing written.
    let mut outcome = None;
    if let Some(intent) = intent {
        let report = status::read_engine_state(&deps.paths.engine_state(), SystemTime::now());
        let now_ms = SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let view = maintenance::View {
            unit: &ctx.unit,
            report: report.as_ref(),
            preempt: options.preempt,
            now_ms,
        };
        match maintenance::decide(intent, &view, &mut state) {
            Ok(done) => {
                journal.info(format!("action: {done:?}"));
                outcome = Some(Ok(done));
            }
            Err(refusal) => return Ok(Some(Err(refusal))),
        }
    }

    // 2. Engine binary and unit.
    let installed = install::ensure(
        &ctx.hook,
        deps.paths,
        deps.charm_binary,
        deps.service,
        &mut state.unit_loaded,
    )?;
    if installed.binary_changed {
        journal.info(format!(
            "installed the engine binary at {}",
            deps.paths.engine_binary().display()
        ));
    }

    // 3. Priority claim.
    let claim = priority::decide(
        ctx.unit_number,
        state.priority,
        &context::peer_claims(&state),
    );
    if state.priority != Some(claim) {
        journal.info(match state.priority {
            None => format!("claimed VRRP priority {claim}"),
            Some(old) => {
                format!("VRRP priority claim {old} is taken by an older unit; claimed {claim}")
            }
        });
        state.priority = Some(claim);
    }

    // The switchover preference shifts the priority the engine runs with; the claim
    // (published) stays.
    let preferred = priority::preferred(
        &ctx.unit,
        state.paused,
        state.switchover.as_ref(),
        &state.peers,
    );
    let running = priority::running(claim, preferred);

    // 4. Desired state.
    let net = if options.virtual_ip.trim().is_empty() {
        NetSnapshot::default()
    } else {
        (deps.net)()?
    };
    let peers = context::peer_addresses(&state);
    let published_sources = relations
        .peer
        .as_ref()
        .and_then(|rid| state.published.get(&rid.to_string()))
        .map(relation_data::peer_sources)
        .unwrap_or_default();
    let engine_binary = deps.paths.engine_binary();
    // The automatic timing profile counts the application's units (`timing`).
    let app_units = if timing::needs_units(&options) && !options.virtual_ip.trim().is_empty() {
        match deps.tools.goal_state_units() {
            Ok(units) => Some(units),
            Err(e) => {
                journal.warn(format!(
                    "goal-state failed, staying on the compatible timing (VRRPv2 1 s): {e}"
                ));
                None
            }
        }
    } else {
        None
    };
    // What the engine config on disk runs and still bridges (`identity`).
    let (ran, rolling) = identity::of_engine_config(&deps.paths.engine_config());
    let desired = desired::desired(&Facts {
        options: &options,
        option_errors: &option_errors,
        net: &net,
        priority: Priority::from_wire(running),
        peers: &peers,
        published_sources: &published_sources,
        engine_binary: &engine_binary,
        paused: state.paused,
        yield_to_preferred: preferred == priority::Preferred::Another,
        unit: &ctx.unit,
        app_units: app_units.as_deref(),
        identity_ran: ran.as_ref(),
        identity_rolling: rolling.as_ref(),
    });
    // Said once, when the config arrives; the status keeps showing it.
    if let Desired::Blocked(message) = &desired {
        if matches!(ctx.hook, Hook::ConfigChanged | Hook::UpgradeCharm) {
            journal.warn(format!(
                "configuration refused, the engine config is left as it was: {message}"
            ));
        }
    }

    // 5. Engine config.
    if let Desired::Configured(plan) = &desired {
        state.timing = Some(plan.timing.to_string());
        if let Some(old) = &plan.rolling_from {
            if rolling.as_ref() != Some(old) {
                journal.info(format!(
                    "router_id, vrrp_password or unicast changed while a peer may still run VRID {}{}{}: the engine speaks both until every peer publishes the new one",
                    old.vrid,
                    if old.password.is_some() { " with the previous password" } else { "" },
                    if old.unicast { " over unicast" } else { " over multicast" }
                ));
            }
        } else if rolling.is_some() {
            journal.info("every peer runs the new router_id, vrrp_password and unicast: the previous identity is no longer spoken".to_string());
        }
    }
    let config_changed = apply_engine_config(&desired, deps.paths)?;
    if config_changed {
        journal.info(match &desired {
            Desired::Configured(plan) => {
                format!("rendered a new engine config; timing {}", plan.timing)
            }
            _ => "removed the engine config (no virtual_ip)".to_string(),
        });
    }

    if apply_metrics_file(&desired, deps.paths)? {
        journal.info(match &desired {
            Desired::Configured(plan) => match plan.metrics_address {
                Some(addr) => format!("metrics endpoint: {addr}"),
                None => "metrics endpoint off".to_string(),
            },
            _ => String::new(),
        });
    }

    // 6. sysctl.
    apply_sysctl(&desired, &mut state, deps, journal)?;

    // 7. Service.
    let vip_here = match &desired {
        Desired::Configured(plan) => plan.vips.iter().any(|v| {
            net.links
                .iter()
                .any(|l| l.addresses.iter().any(|a| a.addr == v.addr))
        }),
        _ => false,
    };
    apply_service(&desired, &mut state, installed, vip_here, deps, journal)?;

    // 8. Relation data.
    publish(
        ctx, &desired, claim, &before, &mut state, &relations, deps.tools,
    )?;

    // 8b. The cos-agent bag (rules, dashboard, scrape job).
    super::cos::publish(ctx, &options.metrics_address, &mut state, deps.tools)?;

    // 9. Status.
    let report = status::read_engine_state(&deps.paths.engine_state(), SystemTime::now());
    let peer_addresses: Vec<IpAddr> = peers.iter().flat_map(|p| [p.v4, p.v6]).flatten().collect();
    deps.tools.status_set(&status::unit_status(
        &desired,
        report.as_ref(),
        &peer_addresses,
    ))?;
    // 9b. The leader describes the cluster in the application status.
    if deps.tools.is_leader()? {
        let (v4, v6) = match &desired {
            Desired::Configured(plan) => (plan.vrrp_address_v4, plan.vrrp_address_v6),
            _ => (None, None),
        };
        let leader = status::Member {
            unit: ctx.unit.clone(),
            addresses: [v4, v6].into_iter().flatten().collect(),
            paused: state.paused,
        };
        let members: Vec<status::Member> = state
            .peers
            .iter()
            .map(|(unit, bag)| status::Member {
                unit: unit.clone(),
                addresses: relation_data::peer_sources(bag),
                paused: relation_data::peer_paused(bag),
            })
            .collect();
        deps.tools
            .application_status_set(&status::application_status(
                &desired,
                report.as_ref(),
                &leader,
                &members,
            ))?;
    }

    // 10. Charm state.
    state.website_resync =
        ctx.hook == Hook::ConfigChanged && relations.vip.iter().any(|r| r.endpoint == WEBSITE);
    if state != before {
        deps.tools.state_set(&state.to_bag())?;
    }
    Ok(outcome)
}

/// Writes (or removes) the engine config; returns whether the file changed.
fn apply_engine_config(desired: &Desired, paths: &Paths) -> Result<bool, HookError> {
    let path = paths.engine_config();
    match desired {
        Desired::Configured(plan) => {
            let text = render::engine_config(&plan.engine)?;
            let mode = if plan.engine.has_secret() {
                SECRET_MODE
            } else {
                PUBLIC_MODE
            };
            render::write_if_changed(&path, text.as_bytes(), mode).map_err(|source| HookError::Io {
                action: "cannot write",
                path: path.clone(),
                source,
            })
        }
        Desired::Unconfigured => render::remove_if_exists(&path).map_err(|source| HookError::Io {
            action: "cannot remove",
            path: path.clone(),
            source,
        }),
        // The last good config stays, byte for byte.
        Desired::Blocked(_) => Ok(false),
    }
}

/// Writes the engine's metrics address file from the plan (`IP:PORT`, or empty for
/// off); returns whether it changed. Left as it is while blocked (the engine runs on
/// its last good settings) or unconfigured (the engine is stopped).
fn apply_metrics_file(desired: &Desired, paths: &Paths) -> Result<bool, HookError> {
    let Desired::Configured(plan) = desired else {
        return Ok(false);
    };
    let path = paths.engine_metrics_file();
    let text = plan
        .metrics_address
        .map_or_else(String::new, |addr| format!("{addr}\n"));
    render::write_if_changed(&path, text.as_bytes(), PUBLIC_MODE).map_err(|source| HookError::Io {
        action: "cannot write",
        path: path.clone(),
        source,
    })
}

/// Keys and values of a sysctl.d file.
fn parse_sysctl_file(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with(';'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

fn apply_sysctl(
    desired: &Desired,
    state: &mut CharmState,
    deps: &mut Deps<'_>,
    journal: &mut Journal,
) -> Result<(), HookError> {
    let settings = match desired {
        Desired::Configured(plan) => sysctl::settings(plan.has_ipv6()),
        Desired::Unconfigured => Default::default(),
        Desired::Blocked(_) => return Ok(()),
    };
    let path = deps.paths.sysctl_file();
    let current = fs::read_to_string(&path).ok();
    let wanted = (!settings.is_empty()).then(|| sysctl::file_content(&settings));
    if current == wanted {
        return Ok(());
    }
    let io = |action: &'static str| {
        let path = path.clone();
        move |source| HookError::Io {
            action,
            path,
            source,
        }
    };
    // Remember what the kernel had before the charm first set each key.
    let left_by_original = current.is_some() && state.sysctl_saved.is_empty();
    for key in settings.keys() {
        if state.sysctl_saved.contains_key(*key) {
            continue;
        }
        if left_by_original {
            state
                .sysctl_saved
                .insert(key.to_string(), KERNEL_DEFAULT.to_string());
            continue;
        }
        match deps.sysctl.read(key) {
            Ok(value) => {
                state.sysctl_saved.insert(key.to_string(), value);
            }
            Err(e) => journal.warn(format!("cannot read {key}, it will not be restored: {e}")),
        }
    }
    match wanted {
        Some(text) => {
            render::write_atomic(&path, text.as_bytes(), PUBLIC_MODE)
                .map_err(io("cannot write"))?;
            match deps.sysctl.load_file(&path) {
                Ok(()) => journal.info(format!("applied {}", path.display())),
                Err(e) => journal.warn(format!("cannot apply {}: {e}", path.display())),
            }
        }
        None => {
            render::remove_if_exists(&path).map_err(io("cannot remove"))?;
        }
    }
    // Restore keys the charm no longer needs.
    let unneeded: Vec<String> = state
        .sysctl_saved
        .keys()
        .filter(|k| !settings.contains_key(k.as_str()))
        .cloned()
        .collect();
    for key in unneeded {
        if let Some(value) = state.sysctl_saved.remove(&key) {
            if let Err(e) = deps.sysctl.write(&key, &value) {
                journal.warn(format!("cannot restore {key}={value}: {e}"));
            }
        }
    }
    Ok(())
}

/// The stamps of the files the engine would run on now.
fn engine_files(paths: &Paths) -> EngineFiles {
    EngineFiles {
        config: render::stamp(&paths.engine_config()),
        binary: render::stamp(&paths.engine_binary()),
        unit: render::stamp(&paths.unit_file()),
        metrics: render::stamp(&paths.engine_metrics_file()),
    }
}

/// Starts, restarts, reloads or stops the engine so that it runs the files on disk,
/// comparing them with what it was last given (`state.engine_loaded`) rather than with
/// what this hook wrote: a retried hook finds its files already written.
fn apply_service(
    desired: &Desired,
    state: &mut CharmState,
    installed: install::Installed,
    vip_here: bool,
    deps: &mut Deps<'_>,
    journal: &mut Journal,
) -> Result<(), HookError> {
    if !state.started {
        return Ok(());
    }
    let active = deps.service.is_active(UNIT_NAME)?;
    // Set by an earlier hook: this one may retire the distro keepalived.
    let retire_pending = state.retire_distro;
    let files = engine_files(deps.paths);
    // Not known what a running engine was given (it was started by a hook that then
    // failed): reload, which is hitless; restart only if this hook changed the binary.
    let (other_binary, other_config) = match &state.engine_loaded {
        Some(loaded) => (
            loaded.binary != files.binary || loaded.unit != files.unit,
            loaded.config != files.config || loaded.metrics != files.metrics,
        ),
        None => (installed.binary_changed || installed.unit_changed, true),
    };
    match desired {
        // A unit refreshed from the original charm whose distro keepalived holds the
        // VIP right now: make before break. Our engine starts beside it, leaves the
        // VIP in place (the adopt marker) and becomes MASTER at its own, higher
        // priority after its down interval; only then is the distro keepalived
        // stopped. Its priority-0 advert and its removal of the VIP are answered at
        // once by our engine (it puts the VIP back and advertises, S-20), so clients
        // and Backups never see the VIP go: a refresh of the VIP holder costs no more
        // than a graceful handover.
        Desired::Configured(_)
            if !active
                && vip_here
                && install::original_keepalived_installed(deps.paths)
                && deps.service.is_active(paths::DISTRO_UNIT_NAME)? =>
        {
            let marker = deps.paths.adopt_marker();
            crate::atomic_write::write_atomic(&marker, b"", 0o600)
                .map_err(install::io_error("cannot write", &marker))?;
            deps.service.call(Verb::Start, UNIT_NAME)?;
            state.retire_distro = true;
            journal.info("started the engine beside the distro keepalived, which holds the VIP: it is stopped once the engine is MASTER");
        }
        Desired::Configured(_) if !active => {
            // A unit refreshed from the original charm still runs the distro keepalived
            // on the same VRID and VIP. It hands over when this engine starts, not at
            // upgrade-charm: with a refused config nothing would hold the VIP then.
            if install::take_over_from_distro_keepalived(deps.paths, deps.service)? {
                journal.info(
                    "stopped and disabled the distro keepalived; the charm's engine takes over",
                );
            }
            deps.service.call(Verb::Start, UNIT_NAME)?;
            journal.info("started the engine");
        }
        // Only after an upgrade in practice: no other hook writes the binary or unit.
        Desired::Configured(_) if other_binary => {
            deps.service.call(Verb::Restart, UNIT_NAME)?;
            journal.info("restarted the engine: its binary or unit changed");
        }
        Desired::Configured(_) if other_config => {
            deps.service.call(Verb::Reload, UNIT_NAME)?;
            journal.info("reloaded the engine (SIGHUP)");
        }
        // An invalid config never replaces the last good one, which keeps running.
        Desired::Blocked(_) if !active && deps.paths.engine_config().exists() => {
            deps.service.call(Verb::Start, UNIT_NAME)?;
            journal.info("started the engine on its last good config");
        }
        Desired::Unconfigured if active => {
            deps.service.call(Verb::Stop, UNIT_NAME)?;
            journal.info("stopped the engine: no virtual_ip");
        }
        _ => {}
    }
    // The second half of the make-before-break takeover, in the hook after the start
    // (the refresh runs config-changed and start right after upgrade-charm): once our
    // engine is MASTER, the distro keepalived goes. Its priority-0 advert and its
    // removal of the VIP are answered at once by our engine, which puts the VIP back
    // and advertises (S-20), so clients and Backups never see the VIP go.
    if retire_pending && active {
        if let Desired::Configured(plan) = desired {
            let bound = takeover_bound(plan);
            let master = wait_until_master(plan, deps.paths, bound);
            install::retire_distro_keepalived(deps.service)?;
            state.retire_distro = false;
            journal.info(if master {
                "the engine is MASTER: stopped and disabled the distro keepalived".to_string()
            } else {
                format!("the engine did not report MASTER within {bound:?}: stopped and disabled the distro keepalived anyway")
            });
        }
    }
    state.engine_loaded = match desired {
        Desired::Configured(_) => Some(files),
        // Still on the last good config, whatever it was given.
        Desired::Blocked(_) if active => state.engine_loaded.take(),
        // Started above on the last good config.
        Desired::Blocked(_) if deps.paths.engine_config().exists() => Some(files),
        Desired::Blocked(_) | Desired::Unconfigured => None,
    };
    Ok(())
}

/// How long a takeover waits for our engine to become MASTER: the longest down
/// interval of its instances (it starts as a Backup and claims when that expires,
/// RFC 9568 §6.4.2) plus a second for the start itself.
fn takeover_bound(plan: &Plan) -> Duration {
    plan.engine
        .instances
        .iter()
        .map(|i| Timers::new(i.version, i.priority, i.advert_interval).master_down_interval)
        .max()
        .unwrap_or_default()
        + Duration::from_secs(1)
}

/// Polls the engine's state file until every instance of `plan` is MASTER, or
/// `bound` passes. Returns whether it got there.
fn wait_until_master(plan: &Plan, paths: &Paths, bound: Duration) -> bool {
    let deadline = Instant::now() + bound;
    loop {
        let report = status::read_engine_state(&paths.engine_state(), SystemTime::now());
        let all_master = report.is_some_and(|r| {
            plan.engine.instances.iter().all(|i| {
                r.instances
                    .iter()
                    .any(|s| s.name == i.name && s.state == status::Role::Master)
            })
        });
        if all_master {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A relation that vanished under us is not an error: it is simply gone.
fn tolerate_gone<T>(result: Result<T, ToolError>) -> Result<Option<T>, ToolError> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(ToolError::RelationNotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

#[allow(clippy::too_many_arguments)]
fn publish(
    ctx: &HookContext,
    desired: &Desired,
    claim: u8,
    before: &CharmState,
    state: &mut CharmState,
    relations: &Relations,
    tools: &mut dyn HookTools,
) -> Result<(), HookError> {
    // The peer bag: claim and VRRP addresses. While blocked the engine runs on its
    // last good config, so the addresses published for it stay.
    if let Some(rid) = &relations.peer {
        let key = rid.to_string();
        let wanted = relation_data::with_maintenance(
            match desired {
                Desired::Configured(plan) => relation_data::with_identity(
                    relation_data::peer_payload(
                        claim,
                        plan.vrrp_address_v4,
                        plan.vrrp_address_v6,
                        &plan.vips,
                    ),
                    &plan.identity,
                    &plan.segments,
                ),
                Desired::Unconfigured => relation_data::peer_payload(claim, None, None, &[]),
                Desired::Blocked(_) => {
                    let mut bag = state.published.get(&key).cloned().unwrap_or_default();
                    bag.insert("priority".into(), claim.to_string());
                    bag
                }
            },
            state.paused,
            state.switchover.as_ref(),
        );
        let change = relation_data::changes(CLUSTER, state.published.get(&key), &wanted);
        if !change.is_empty() {
            if tolerate_gone(tools.relation_set(rid, &change))?.is_some() {
                state.published.insert(key, wanted);
            } else {
                state.published.remove(&key);
            }
        }
    }

    let plan = match desired {
        Desired::Configured(plan) => Some(plan.as_ref()),
        Desired::Unconfigured => None,
        Desired::Blocked(_) => return Ok(()),
    };
    // config-changed's commit makes Juju rewrite private-address in every unit bag
    // after the hook's own writes are queued; write the website data in that hook and
    // again in the next one, whatever the cache says.
    let resync = plan.is_some() && (ctx.hook == Hook::ConfigChanged || before.website_resync);
    for rid in &relations.vip {
        let key = rid.to_string();
        let wanted = relation_data::vip_payload(&rid.endpoint, plan);
        let published = if resync && rid.endpoint == WEBSITE {
            None
        } else {
            state.published.get(&key)
        };
        let mut change = relation_data::changes(&rid.endpoint, published, &wanted);
        if change.is_empty() {
            continue;
        }
        if change.get(PRIVATE_ADDRESS).is_some_and(|v| v.is_empty()) {
            restore_private_address(tools, rid, &ctx.unit, &mut change)?;
        }
        if tolerate_gone(tools.relation_set(rid, &change))?.is_some() {
            state.published.insert(key, wanted);
        } else {
            state.published.remove(&key);
        }
    }
    Ok(())
}

/// `private-address` is Juju's key that the contract overwrote with the VIP; when the
/// VIP is retracted it gets the unit's own `ingress-address` back instead of vanishing.
fn restore_private_address(
    tools: &mut dyn HookTools,
    rid: &RelationId,
    unit: &str,
    change: &mut Bag,
) -> Result<(), ToolError> {
    if let Some(own) = tolerate_gone(tools.relation_get(rid, unit))? {
        if let Some(ingress) = own.get(INGRESS_ADDRESS).filter(|a| !a.is_empty()) {
            change.insert(PRIVATE_ADDRESS.to_string(), ingress.clone());
        }
    }
    Ok(())
}

/// `stop`: the engine releases the VIP (priority-0 advert on SIGTERM) and is disabled.
fn stop(deps: &mut Deps<'_>, journal: &mut Journal) -> Result<(), HookError> {
    if !deps.paths.unit_file().exists() {
        return Ok(());
    }
    deps.service.call(Verb::Stop, UNIT_NAME)?;
    deps.service.call(Verb::Disable, UNIT_NAME)?;
    journal.info("stopped and disabled the engine");
    Ok(())
}

/// `remove`: deletes every file the charm wrote and restores the sysctl values.
fn remove(deps: &mut Deps<'_>, journal: &mut Journal) -> Result<(), HookError> {
    let (state, _) = CharmState::from_bag(&deps.tools.state_get()?);
    let path = deps.paths.sysctl_file();
    let mut restore = state.sysctl_saved.clone();
    if let Ok(text) = fs::read_to_string(&path) {
        for (key, _) in parse_sysctl_file(&text) {
            restore
                .entry(key)
                .or_insert_with(|| KERNEL_DEFAULT.to_string());
        }
    }
    for (key, value) in &restore {
        if let Err(e) = deps.sysctl.write(key, value) {
            journal.warn(format!("cannot restore {key}={value}: {e}"));
        }
    }
    render::remove_if_exists(&path).map_err(|source| HookError::Io {
        action: "cannot remove",
        path: path.clone(),
        source,
    })?;
    if install::remove_files(deps.paths)? {
        deps.service.call(Verb::DaemonReload, UNIT_NAME)?;
    }
    journal.info("removed the engine, its unit, config and state, and the sysctl settings");
    Ok(())
}

#[cfg(test)]
#[path = "reconcile_tests.rs"]
mod tests;
