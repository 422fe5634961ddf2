//! `vrrp_script` scheduling: every tracked script runs every `interval` in a task of
//! its own, killed at its `timeout`, and each raw result goes to the event loop as
//! [`ScriptResult`]; rise/fall counting and weights are the routers' business
//! (`router::tracking`). Scripts run concurrently with packet handling: the loop
//! never waits for a script.
//!
//! Like keepalived, only scripts some instance tracks are run. On reload, a script
//! whose definition (command, interval, timeout, user) is unchanged keeps running on
//! its cadence; changed ones restart, removed ones stop.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::engine::script::{self, Outcome};
use vrrp_core::config::{Config, ScriptUser};

/// What decides how a script runs; two equal specs are the same running script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptSpec {
    pub name: String,
    pub argv: Vec<String>,
    pub interval: Duration,
    pub timeout: Duration,
    pub user: Option<ScriptUser>,
}

/// One run's verdict, for `Input::ScriptResult`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptResult {
    pub name: String,
    pub outcome: Outcome,
}

/// The scripts `config` needs running: those tracked by at least one instance, in
/// definition order.
pub fn wanted(config: &Config) -> Vec<ScriptSpec> {
    config
        .scripts
        .iter()
        .filter(|s| {
            config
                .instances
                .iter()
                .any(|i| i.track_scripts.iter().any(|t| t.name == s.name))
        })
        .map(|s| ScriptSpec {
            name: s.name.clone(),
            argv: s.argv(),
            interval: s.interval,
            timeout: s.timeout,
            user: s.user.clone().or_else(|| config.global.script_user.clone()),
        })
        .collect()
}

/// What to change to go from `running` to `wanted`, by name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScriptDiff {
    pub stop: Vec<String>,
    pub start: Vec<ScriptSpec>,
}

pub fn diff(running: &[ScriptSpec], wanted: &[ScriptSpec]) -> ScriptDiff {
    let stop = running
        .iter()
        .filter(|r| !wanted.contains(r))
        .map(|r| r.name.clone())
        .collect();
    let start = wanted
        .iter()
        .filter(|w| !running.contains(w))
        .cloned()
        .collect();
    ScriptDiff { stop, start }
}

/// The running script tasks.
#[derive(Debug, Default)]
pub struct Scheduler {
    running: BTreeMap<String, (ScriptSpec, JoinHandle<()>)>,
}

impl Scheduler {
    /// Makes the running set equal to `wanted`; results go to `results`.
    pub fn apply(&mut self, wanted: &[ScriptSpec], results: &mpsc::Sender<ScriptResult>) {
        let running: Vec<ScriptSpec> = self.running.values().map(|(s, _)| s.clone()).collect();
        let changes = diff(&running, wanted);
        for name in &changes.stop {
            if let Some((_, task)) = self.running.remove(name) {
                task.abort();
                tracing::info!(script = %name, "vrrp_script stopped");
            }
        }
        for spec in changes.start {
            if let Some(user) = spec.user.as_ref().filter(|u| u.user != "root") {
                tracing::warn!(
                    script = %spec.name,
                    user = %user.user,
                    "vrrp_script runs as the engine's own user: running scripts as another user is not supported"
                );
            }
            tracing::info!(
                script = %spec.name,
                interval_s = spec.interval.as_secs_f64(),
                timeout_s = spec.timeout.as_secs_f64(),
                "vrrp_script scheduled"
            );
            let task = tokio::spawn(run_forever(spec.clone(), results.clone()));
            self.running.insert(spec.name.clone(), (spec, task));
        }
    }

    pub fn stop_all(&mut self) {
        for (_, (_, task)) in std::mem::take(&mut self.running) {
            task.abort();
        }
    }
}

impl Drop for Scheduler {
    fn drop(&mut self) {
        self.stop_all();
    }
}

async fn run_forever(spec: ScriptSpec, results: mpsc::Sender<ScriptResult>) {
    let mut ticker = tokio::time::interval(spec.interval);
    // A script slower than its interval runs back to back, never in a burst.
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let outcome = script::run(&spec.argv, spec.timeout).await;
        let result = ScriptResult {
            name: spec.name.clone(),
            outcome,
        };
        if results.send(result).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vrrp_core::config::parse;

    const CONF: &str = r#"
global_defs {
    script_user root
}
vrrp_script chk_a {
    script "/bin/true"
    interval 2
}
vrrp_script chk_unused {
    script "/bin/false"
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    virtual_ipaddress {
        10.0.0.100
    }
    track_script {
        chk_a
    }
}
"#;

    fn config(text: &str) -> Config {
        parse("k.conf", text.as_bytes()).unwrap().config
    }

    #[test]
    fn only_tracked_scripts_run_with_their_interval_timeout_and_user() {
        let specs = wanted(&config(CONF));
        assert_eq!(
            specs,
            vec![ScriptSpec {
                name: "chk_a".into(),
                argv: vec!["/bin/true".into()],
                interval: Duration::from_secs(2),
                timeout: Duration::from_secs(2),
                user: Some(ScriptUser {
                    user: "root".into(),
                    group: None
                }),
            }]
        );
    }

    #[test]
    fn an_unchanged_script_keeps_running_and_a_changed_one_restarts() {
        let old = wanted(&config(CONF));
        assert_eq!(diff(&old, &old), ScriptDiff::default());
        let changed = wanted(&config(&CONF.replace("interval 2", "interval 3")));
        let d = diff(&old, &changed);
        assert_eq!(d.stop, vec!["chk_a".to_string()]);
        assert_eq!(d.start, changed);
        let gone = diff(&old, &[]);
        assert_eq!(gone.stop, vec!["chk_a".to_string()]);
        assert!(gone.start.is_empty());
    }

    #[test]
    fn results_arrive_every_interval_without_blocking_the_caller() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let (tx, mut rx) = mpsc::channel(8);
            let mut scheduler = Scheduler::default();
            let spec = ScriptSpec {
                name: "ok".into(),
                argv: vec!["/bin/true".into()],
                interval: Duration::from_millis(100),
                timeout: Duration::from_secs(1),
                user: None,
            };
            scheduler.apply(std::slice::from_ref(&spec), &tx);
            let started = std::time::Instant::now();
            for _ in 0..3 {
                let r = tokio::time::timeout(Duration::from_secs(5), rx.recv())
                    .await
                    .unwrap()
                    .unwrap();
                assert_eq!(r.outcome, Outcome::Success);
            }
            // Three runs: at 0, 100 and 200 ms.
            assert!(started.elapsed() >= Duration::from_millis(190));
            scheduler.apply(&[], &tx);
            assert!(scheduler.running.is_empty());
        });
    }
}
