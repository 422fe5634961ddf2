//! Running one hook: the unit's view written to the state file, the env built from
//! scratch (juju-contract §2), `./dispatch` started in the charm dir, and afterwards
//! the immediate effects applied always and the buffered changes only on exit 0.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::check::EmuError;
use super::model::{default_network, failed_status, Hook, HookRun, RelationKind};
use super::state::{HookState, RelationView, STATE_ENV};
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
    exit_code: Option<i32>,
    stdout: String,
    stderr: String,
    duration: Duration,
    timed_out: bool,
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
        let u = self.unit(unit);
        let state_file = u.state_file.clone();
        std::fs::write(
            &state_file,
            serde_json::to_vec(&view).expect("serialize view"),
        )
        .expect("write state file");
        self.hook_env(unit, hook)
    }

    fn view(&self, unit: &str, hook: &Hook) -> HookState {
        let u = self.unit(unit);
        let rel_ctx = hook.relation.as_ref();
        let relations = self
            .relations
            .iter()
            .filter(|r| !r.broken.iter().any(|b| b == unit))
            .map(|r| {
                let remote_units_data = match r.kind {
                    RelationKind::Peer => r
                        .local_units_data
                        .iter()
                        .filter(|(n, _)| *n != unit)
                        .map(|(n, b)| (n.clone(), b.clone()))
                        .collect(),
                    RelationKind::Subordinate => r
                        .remote_units_data
                        .iter()
                        .filter(|(n, _)| u.principal.as_ref() == Some(*n))
                        .map(|(n, b)| (n.clone(), b.clone()))
                        .collect(),
                    RelationKind::Regular => r.remote_units_data.clone(),
                };
                RelationView {
                    id: r.id,
                    endpoint: r.endpoint.clone(),
                    interface: r.interface.clone(),
                    kind: r.kind.name().into(),
                    remote_app: r.remote_app.clone(),
                    local_app_data: r.local_app_data.clone(),
                    local_unit_data: r.local_units_data.get(unit).cloned().unwrap_or_default(),
                    remote_app_data: r.remote_app_data.clone(),
                    remote_units_data,
                    members: r.members_of(unit).to_vec(),
                }
            })
            .collect();
        let mut bindings: std::collections::BTreeSet<String> =
            self.meta.endpoints.iter().map(|e| e.name.clone()).collect();
        bindings.extend(self.meta.extra_bindings.iter().cloned());
        bindings.insert("juju-info".into());
        let default_net = u
            .networks
            .get("")
            .cloned()
            .unwrap_or_else(|| default_network(&u.address));
        HookState {
            unit: unit.into(),
            app: self.app.clone(),
            leader: self.is_leader(unit),
            juju_version: self.info.juju_version.clone(),
            hook: hook.name.clone(),
            relation_id: rel_ctx.map(|c| c.id),
            remote_unit: rel_ctx.and_then(|c| c.remote_unit.clone()),
            remote_app: rel_ctx.map(|c| self.remote_app_env(c)),
            charm_dir: u.charm_dir.display().to_string(),
            config: self.effective_config(),
            relations,
            networks: u
                .networks
                .iter()
                .filter(|(k, _)| !k.is_empty())
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            default_network: default_net,
            bindings,
            private_address: u.address.clone(),
            public_address: u.public_address.clone(),
            unit_status: u.workload_status.clone(),
            app_status: self.app_status.clone().unwrap_or_default(),
            units_status: self
                .units
                .iter()
                .map(|x| (x.name.clone(), x.workload_status.clone()))
                .collect(),
            app_units: self.unit_names(),
            workload_version: self.workload_version.clone(),
            charm_state: u.charm_state.clone(),
            opened_ports: u.opened_ports.clone(),
            leader_settings: self.leader_settings.clone(),
            pending: Default::default(),
            effects: Default::default(),
            tool_calls: Vec::new(),
            machine: u.machine.clone(),
        }
    }

    fn remote_app_env(&self, ctx: &super::model::HookRelation) -> String {
        ctx.remote_app
            .clone()
            .unwrap_or_else(|| self.relation(ctx.id).remote_app.clone())
    }

    /// The hook environment, from scratch, exactly the variables of juju-contract §2.
    pub fn hook_env(&self, unit: &str, hook: &Hook) -> BTreeMap<String, String> {
        let u = self.unit(unit);
        let mut env = BTreeMap::new();
        let mut set = |k: &str, v: String| {
            env.insert(k.to_string(), v);
        };
        let charm_dir = u.charm_dir.display().to_string();
        let tag = format!("unit-{}", unit.replace('/', "-"));
        set("JUJU_DISPATCH_PATH", format!("hooks/{}", hook.name));
        set("JUJU_HOOK_NAME", hook.name.clone());
        set("JUJU_UNIT_NAME", unit.into());
        set("JUJU_CHARM_DIR", charm_dir.clone());
        set("CHARM_DIR", charm_dir);
        // Opaque to the charm; unique per hook run like Juju's.
        let n = 7_349_430_268_617_352_851_u64.wrapping_add(self.history.len() as u64 * 1_000_003);
        set("JUJU_CONTEXT_ID", format!("{unit}-{}-{n}", hook.name));
        set(
            "JUJU_AGENT_SOCKET_ADDRESS",
            format!("@{}/agents/{tag}/agent.socket", self.dir.path().display()),
        );
        set("JUJU_AGENT_SOCKET_NETWORK", "unix".into());
        set("JUJU_MODEL_UUID", self.info.uuid.clone());
        set("JUJU_MODEL_NAME", self.info.name.clone());
        set("JUJU_API_ADDRESSES", self.info.api_addresses.clone());
        set("JUJU_MACHINE_ID", u.machine_id.clone());
        set(
            "JUJU_PRINCIPAL_UNIT",
            u.principal.clone().unwrap_or_default(),
        );
        set(
            "JUJU_AVAILABILITY_ZONE",
            self.info.availability_zone.clone(),
        );
        set("JUJU_VERSION", self.info.juju_version.clone());
        set("CLOUD_API_VERSION", String::new());
        for (name, value) in ["HTTP", "HTTPS", "FTP", "NO"]
            .iter()
            .zip(&self.info.charm_proxy)
        {
            set(&format!("JUJU_CHARM_{name}_PROXY"), value.clone());
        }
        for (name, value) in ["http", "https", "ftp", "no"]
            .iter()
            .zip(&self.info.legacy_proxy)
        {
            if !value.is_empty() {
                set(&format!("{name}_proxy"), value.clone());
                set(&format!("{}_PROXY", name.to_uppercase()), value.clone());
            }
        }
        if let Some(ctx) = &hook.relation {
            let rel = self.relation(ctx.id);
            set("JUJU_RELATION", rel.endpoint.clone());
            set("JUJU_RELATION_ID", rel.key());
            set("JUJU_REMOTE_APP", self.remote_app_env(ctx));
            // Always present in relation hooks, maybe empty.
            set(
                "JUJU_REMOTE_UNIT",
                ctx.remote_unit.clone().unwrap_or_default(),
            );
            if let Some(departing) = &ctx.departing_unit {
                set("JUJU_DEPARTING_UNIT", departing.clone());
            }
        }
        set("APT_LISTCHANGES_FRONTEND", "none".into());
        set("DEBIAN_FRONTEND", "noninteractive".into());
        set("LANG", "C.UTF-8".into());
        set("TERM", "tmux-256color".into());
        set(
            "PATH",
            format!("{}:/usr/sbin:/usr/bin:/sbin:/bin", u.tools_dir.display()),
        );
        set("KEEPALIVED_CHARM_ROOT", u.root.display().to_string());
        set(STATE_ENV, u.state_file.display().to_string());
        env
    }

    fn spawn_dispatch(&self, unit: &str, env: &BTreeMap<String, String>) -> Outcome {
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
        let calls_before = self.unit(unit).machine.calls.len();
        let service_calls = state
            .machine
            .calls
            .get(calls_before..)
            .unwrap_or_default()
            .to_vec();

        // Immediate effects.
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
            u.machine = state.machine.clone();
        }

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

    fn commit(&mut self, unit: &str, hook: &Hook, state: &HookState) {
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
        self.after_success(unit, hook);
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
