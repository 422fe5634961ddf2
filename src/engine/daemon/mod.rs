//! The VRRP engine daemon: `keepalived-charm vrrp --config FILE`.
//!
//! It wires the pure parts (config, routers, codec, ladder) to the Linux edge
//! (`engine::net`) in one tokio runtime and runs in the foreground until SIGTERM /
//! SIGINT; SIGHUP reloads the config hitlessly. Its outputs are adverts, VIPs,
//! gratuitous ARP / NA, logs on stderr and the JSON state file.
//!
//! * `driver`: the event loop (timers, scripts, links, signals), installing a config
//!   and the SIGTERM stop (which waits for the routers' make-before-break release);
//! * `receive`: the receive ladder's verdicts → routers, counters, logs;
//! * `lifecycle`: start-up helpers (stale VIPs, link watch);
//! * `actions`: router actions → sockets, netlink, packet sockets, state file;
//! * `instance`: one config instance → router, ladder and encoder settings;
//! * `sockets`: per-interface raw sockets, read by the loop itself (`recv_any`);
//! * `links`: the host's links and addresses, source selection, readiness;
//! * `reload`: SIGHUP — matching old and new instances, reconfiguring in place;
//! * `tracking`: `vrrp_script` scheduling;
//! * `status`: state-file snapshots and their writer;
//! * `ratelimit`: rate-limited drop logs.
//!
//! The metrics endpoint (`engine::metrics`, `--metrics-file`) runs on a thread of its
//! own with its own runtime: the loop only hands it a snapshot in `publish()`.
//!
//! Why a current-thread runtime: the engine's work per event is microseconds (decode
//! a 40-byte packet, step a state machine, maybe send one), all of it owned by one
//! loop, so a second worker thread would only add wake-ups, locks and Send bounds.
//! Nothing that can block runs on the loop: scripts are child processes awaited in
//! their own tasks, and state-file writes go to a writer thread of their own (the
//! heartbeat between them is a modification-time bump on the loop). One thread
//! also keeps the idle footprint small on the 2-core machines the charm runs on.

mod actions;
mod driver;

pub use driver::{adopt_marker, ADOPT_MARKER};
mod instance;
mod lifecycle;
mod links;
mod pacer;
mod pacing;
mod ratelimit;
mod receive;
mod reload;
mod sockets;
mod status;
mod tracking;
mod waiting;

use std::path::{Path, PathBuf};

use anyhow::Context;

use vrrp_core::config;

/// The daemon's command line.
#[derive(Debug, Clone)]
pub struct DaemonArgs {
    /// keepalived.conf to run.
    pub config: PathBuf,
    /// JSON state file, rewritten atomically on every state change.
    pub state_file: Option<PathBuf>,
    /// Written at start, removed at exit.
    pub pid_file: Option<PathBuf>,
    /// Holds the metrics endpoint's address (`127.0.0.1:9165`; missing or empty:
    /// off), read at start and on every SIGHUP.
    pub metrics_file: Option<PathBuf>,
}

/// Why the daemon did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The config has errors; each diagnostic names file:line:column.
    #[error("{file}: {} error{} in the configuration, not starting", .diagnostics.len(), if .diagnostics.len() == 1 { "" } else { "s" })]
    Config {
        file: String,
        diagnostics: Vec<config::Diagnostic>,
    },
}

/// Runs the daemon until SIGTERM/SIGINT. Refuses to start (an error) when the config
/// has errors: the diagnostics are logged first.
pub fn run(args: DaemonArgs) -> anyhow::Result<()> {
    let loaded = match config::load(&args.config) {
        Ok(loaded) => loaded,
        Err(diagnostics) => {
            for d in &diagnostics {
                tracing::error!("{d}");
            }
            return Err(StartError::Config {
                file: args.config.display().to_string(),
                diagnostics,
            }
            .into());
        }
    };
    for w in &loaded.warnings {
        tracing::warn!("{w}");
    }
    // Before any other thread exists: they start with normal scheduling anyway
    // (SCHED_RESET_ON_FORK), but the locked memory covers them too.
    crate::engine::realtime::apply(&loaded.config.global);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("start the tokio runtime")?;
    let pid_file = PidFile::create(args.pid_file.as_deref())?;
    let result = runtime.block_on(async {
        let (driver, inbox) = driver::Driver::start(
            args.config.clone(),
            loaded.config,
            args.state_file.clone(),
            args.metrics_file.clone(),
        )
        .await?;
        driver.run(inbox).await;
        anyhow::Ok(())
    });
    drop(pid_file);
    result
}

/// The pid file: written at start, removed when dropped (normal exit and errors).
struct PidFile(Option<PathBuf>);

impl PidFile {
    fn create(path: Option<&Path>) -> anyhow::Result<PidFile> {
        let Some(path) = path else {
            return Ok(PidFile(None));
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| {
                format!("create the directory of --pid-file {}", path.display())
            })?;
        }
        std::fs::write(path, format!("{}\n", std::process::id()))
            .with_context(|| format!("write --pid-file {}", path.display()))?;
        Ok(PidFile(Some(path.to_path_buf())))
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        if let Some(path) = &self.0 {
            let _ = std::fs::remove_file(path);
        }
    }
}
