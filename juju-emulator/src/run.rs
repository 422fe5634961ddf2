//! Running one hook: the unit's view written to the state file, the env built from
//! scratch (docs/juju-contract.md J-2), `./dispatch` started in the charm dir, and afterwards
//! the immediate effects applied always and the buffered changes only on exit 0.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::check::EmuError;
use super::model::{failed_status, Hook, HookRun, RelationKind};
use super::state::{HookState, ServiceCall};
use super::Model;

/// What one direct tool call printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolOutput {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// A hook context opened by [`Model::begin`]: tools can be run in it one by one (as a
/// hook would), then [`Session::finish`] commits or discards like the hook's exit code.
pub struct Session<'m> {
    model: &'m mut Model,
    unit: String,
    hook: Hook,
    env: BTreeMap<String, String>,
    started: Instant,
}

impl Session<'_> {
    pub fn env(&self) -> &BTreeMap<String, String> {
        &self.env
    }

    /// Runs hook tool (or `systemctl`/`sysctl`) `name` with `args` in this context.
    pub fn tool(&mut self, name: &str, args: &[&str]) -> ToolOutput {
        self.tool_stdin(name, args, "")
    }

    pub fn tool_stdin(&mut self, name: &str, args: &[&str], stdin: &str) -> ToolOutput {
        let unit = self.model.unit(&self.unit);
        let mut child = Command::new(unit.tools_dir.join(name))
            .args(args)
            .current_dir(&unit.charm_dir)
            .env_clear()
            .envs(&self.env)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {name}: {e}"));
        if let Some(mut input) = child.stdin.take() {
            let _ = input.write_all(stdin.as_bytes());
        }
        let out = child.wait_with_output().expect("wait for tool");
        ToolOutput {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// The state file as the tools left it so far.
    pub fn state(&self) -> HookState {
        read_state(&self.model.unit(&self.unit).state_file)
    }

    /// Ends the hook as if it exited with `exit_code`.
    pub fn finish(self, exit_code: i32) -> HookRun {
        let duration = self.started.elapsed();
        self.model.finish(
            &self.unit,
            self.hook,
            self.env,
            Outcome {
                exit_code: Some(exit_code),
                duration,
                ..Outcome::default()
            },
        )
    }
}

#[derive(Default)]
pub(crate) struct Outcome {
    pub(crate) exit_code: Option<i32>,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
    pub(crate) duration: Duration,
    pub(crate) timed_out: bool,
}

fn read_state(path: &std::path::Path) -> HookState {
    let text = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

impl Model {
    /// Runs `hook` on `unit` now (refused while the unit is in error). Follow-up
    /// events it causes are queued; [`Model::settle`] runs them.
    pub fn run_hook(&mut self, unit: &str, hook: Hook) -> Result<HookRun, EmuError> {
        if let Some(failed) = &self.unit(unit).failed {
            return Err(EmuError::UnitInError {
                unit: unit.into(),
                hook: failed.name.clone(),
            });
        }
        self.execute(unit, hook)
    }

    /// Opens a hook context without running the charm, for driving tools directly.
    pub fn begin(&mut self, unit: &str, hook: Hook) -> Result<Session<'_>, EmuError> {
        self.check()?;
        self.check_hook(unit, &hook)?;
        self.apply_membership(unit, &hook);
        let env = self.prepare(unit, &hook);
        Ok(Session {
            model: self,
            unit: unit.into(),
            hook,
            env,
            started: Instant::now(),
        })
    }

    pub(crate) fn execute(&mut self, unit: &str, hook: Hook) -> Result<HookRun, EmuError> {
        self.check()?;
        self.check_hook(unit, &hook)?;
        self.apply_membership(unit, &hook);
        let env = self.prepare(unit, &hook);
        let outcome = self.spawn_dispatch(unit, &env);
        Ok(self.finish(unit, hook, env, outcome))
    }

    /// Juju updates a unit's view of who is in scope as it dispatches the hook: in
    /// -joined(U) U is already listed, in -departed(U) it is already gone.
    fn apply_membership(&mut self, unit: &str, hook: &Hook) {
        let Some(ctx) = &hook.relation else { return };
        let kind = hook.relation_kind().unwrap_or("");
        let rel = self.relation_mut(ctx.id);
        let members = rel.members.entry(unit.to_string()).or_default();
        match (kind, &ctx.remote_unit) {
            ("joined", Some(u)) if !members.contains(u) => members.push(u.clone()),
            ("departed", Some(u)) => members.retain(|m| m != u),
            ("broken", _) => members.clear(),
            _ => {}
        }
    }

    /// Writes the unit's view and returns the hook env.
    fn prepare(&mut self, unit: &str, hook: &Hook) -> BTreeMap<String, String> {
        let view = self.view(unit, hook);
        self.write_view(unit, &view);
        self.hook_env(unit, hook)
    }

    /// Writes the unit's view to its state file (and keeps the leader-* tool links in
    /// step with the Juju version), ready for a hook or an action.
    pub(crate) fn write_view(&self, unit: &str, view: &HookState) {
        let u = self.unit(unit);
        // leader-get/leader-set exist in Juju 2.x/3.x only (docs/juju-contract.md J-14).
        let juju4 = self
            .info
            .juju_version
            .split('.')
            .next()
            .and_then(|m| m.parse::<u32>().ok())
            >= Some(4);
        for tool in ["leader-get", "leader-set"] {
            let link = u.tools_dir.join(tool);
            if juju4 {
                let _ = std::fs::remove_file(&link);
            } else if !link.exists() {
                let _ =
                    std::os::unix::fs::symlink(crate::workspace_binary(crate::TOOL_BINARY), &link);
            }
        }
        std::fs::write(
            &u.state_file,
            serde_json::to_vec(view).expect("serialize view"),
        )
        .expect("write state file");
    }

    /// The unit's state file as the tools left it.
    pub(crate) fn read_unit_state(&self, unit: &str) -> HookState {
        read_state(&self.unit(unit).state_file)
    }

    pub(crate) fn spawn_dispatch(&self, unit: &str, env: &BTreeMap<String, String>) -> Outcome {
        let u = self.unit(unit);
        let dispatch = u.charm_dir.join("dispatch");
        let mut cmd = match &u.netns {
            Some(ns) => {
                let mut c = Command::new(super::netns::ip_binary());
                c.args(["netns", "exec", &ns.name]).arg(&dispatch);
                c
            }
            None => Command::new(&dispatch),
        };
        cmd.current_dir(&u.charm_dir)
            .env_clear()
            .envs(env)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let started = Instant::now();
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                return Outcome {
                    exit_code: Some(127),
                    stderr: format!("emulator: cannot start {}: {e}", dispatch.display()),
                    ..Outcome::default()
                }
            }
        };
        let mut stdout = child.stdout.take().expect("piped stdout");
        let mut stderr = child.stderr.take().expect("piped stderr");
        let out_thread = std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = stdout.read_to_end(&mut buf);
            buf
        });
        let err_thread = std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = stderr.read_to_end(&mut buf);
            buf
        });
        let mut timed_out = false;
        let mut nap = Duration::from_micros(100);
        let status = loop {
            if let Ok(Some(status)) = child.try_wait() {
                break Some(status);
            }
            if started.elapsed() > self.hook_timeout {
                timed_out = true;
                // SAFETY: kill(2) on the process group we created for this hook
                // (process_group(0) made the child its leader); no memory is involved.
                unsafe {
                    libc::kill(-(child.id() as i32), libc::SIGKILL);
                }
                break child.wait().ok();
            }
            std::thread::sleep(nap);
            nap = (nap * 2).min(Duration::from_millis(5));
        };
        let duration = started.elapsed();
        Outcome {
            exit_code: status.and_then(|s| s.code()),
            stdout: String::from_utf8_lossy(&out_thread.join().unwrap_or_default()).into_owned(),
            stderr: String::from_utf8_lossy(&err_thread.join().unwrap_or_default()).into_owned(),
            duration,
            timed_out,
        }
    }

    /// Applies what the hook did: immediate effects always, buffered changes on exit 0;
    /// on failure the unit goes to `error` and takes no other hook until a retry.
    fn finish(
        &mut self,
        unit: &str,
        hook: Hook,
        env: BTreeMap<String, String>,
        outcome: Outcome,
    ) -> HookRun {
        let state = read_state(&self.unit(unit).state_file);
        let ok = outcome.exit_code == Some(0);
        let service_calls = self.apply_effects(unit, &state);

        if ok {
            self.commit(unit, &hook, &state);
        } else {
            let u = self.unit_mut(unit);
            u.status_history.push(failed_status(&hook.name));
            u.failed = Some(hook.clone());
        }

        let run = HookRun {
            unit: unit.into(),
            hook,
            env,
            exit_code: outcome.exit_code,
            stdout: outcome.stdout,
            stderr: outcome.stderr,
            duration: outcome.duration,
            tool_calls: state.tool_calls.clone(),
            service_calls,
            timed_out: outcome.timed_out,
        };
        self.history.push(run.clone());
        run
    }

    /// Applies the effects a hook or action has whatever its exit code (statuses,
    /// logs, workload version, leader settings, the machine); returns its service
    /// calls.
    pub(crate) fn apply_effects(&mut self, unit: &str, state: &HookState) -> Vec<ServiceCall> {
        let service_calls = state.machine.calls.clone();
        let effects = &state.effects;
        if let Some(last) = effects.app_status.last() {
            self.app_status = Some(last.clone());
        }
        self.app_status_history
            .extend(effects.app_status.iter().cloned());
        if let Some(last) = effects.workload_version.last() {
            self.workload_version = Some(last.clone());
        }
        self.workload_version_history
            .extend(effects.workload_version.iter().cloned());
        if effects.leader_settings_changed {
            self.leader_settings = state.leader_settings.clone();
            for other in self.unit_names() {
                if other != unit && !self.unit(&other).dying {
                    self.enqueue(&other, Hook::new("leader-settings-changed"));
                }
            }
        }
        {
            let u = self.unit_mut(unit);
            if let Some(last) = effects.unit_status.last() {
                u.workload_status = last.clone();
            }
            u.status_history.extend(effects.unit_status.iter().cloned());
            u.juju_log.extend(effects.juju_log.iter().cloned());
            let mut calls = std::mem::take(&mut u.machine.calls);
            calls.extend(service_calls.iter().cloned());
            u.machine = super::state::Machine {
                calls,
                ..state.machine.clone()
            };
            // systemctl calls take effect when made, whatever the hook's exit code.
            let netns = u.netns.as_ref().map(|n| n.name.clone());
            if let Some(services) = u.services.as_mut() {
                services.apply(netns.as_deref(), &service_calls);
            }
        }
        service_calls
    }

    fn commit(&mut self, unit: &str, hook: &Hook, state: &HookState) {
        self.commit_changes(unit, state);
        self.after_success(unit, hook);
    }

    /// Applies the changes buffered in `state` (relation data, charm state, ports)
    /// and queues the follow-up hooks they cause.
    pub(crate) fn commit_changes(&mut self, unit: &str, state: &HookState) {
        let pending = &state.pending;
        let mut follow_ups: Vec<(String, Hook)> = Vec::new();
        let live: Vec<String> = self.unit_names();
        for (id, changes) in &pending.relation_unit {
            let rel = self.relation_mut(*id);
            let bag = rel.local_units_data.entry(unit.to_string()).or_default();
            let before = bag.clone();
            apply(bag, changes);
            if *bag != before && rel.kind == RelationKind::Peer {
                // Peers that have this unit in scope see -changed(unit).
                for (other, members) in &rel.members {
                    if other != unit && members.iter().any(|m| m == unit) {
                        follow_ups.push((
                            other.clone(),
                            Hook::relation(
                                &rel.endpoint,
                                rel.id,
                                super::RelEvent::Changed(Some(unit.into())),
                            ),
                        ));
                    }
                }
            }
        }
        for (id, changes) in &pending.relation_app {
            let rel = self.relation_mut(*id);
            let before = rel.local_app_data.clone();
            apply(&mut rel.local_app_data, changes);
            if rel.local_app_data != before && rel.kind == RelationKind::Peer {
                // Every other unit gets an app-level -changed; the writer does not.
                for other in &live {
                    if other != unit && !rel.members_of(other).is_empty() {
                        follow_ups.push((
                            other.clone(),
                            Hook::relation(&rel.endpoint, rel.id, super::RelEvent::Changed(None)),
                        ));
                    }
                }
            }
        }
        {
            let u = self.unit_mut(unit);
            for (k, v) in &pending.charm_state {
                match v {
                    Some(v) => u.charm_state.insert(k.clone(), v.clone()),
                    None => u.charm_state.remove(k),
                };
            }
            for op in &pending.port_ops {
                u.opened_ports.retain(|p| p.range != op.port.range);
                if op.open {
                    u.opened_ports.push(op.port.clone());
                }
            }
        }
        for (other, h) in follow_ups {
            self.enqueue(&other, h);
        }
    }

    /// Queues a hook unless the same one is already waiting.
    pub fn enqueue(&mut self, unit: &str, hook: Hook) {
        if !self.agenda.iter().any(|(u, h)| u == unit && *h == hook) {
            self.agenda.push_back((unit.to_string(), hook));
        }
    }
}

/// Applies Juju-encoded changes ("" deletes) to a bag.
fn apply(bag: &mut super::state::Bag, changes: &super::state::Bag) {
    for (k, v) in changes {
        if v.is_empty() {
            bag.remove(k);
        } else {
            bag.insert(k.clone(), v.clone());
        }
    }
}
