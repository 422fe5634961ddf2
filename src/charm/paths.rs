//! Every machine path the charm writes, under one root directory.
//!
//! The root is `/` on a real machine and is moved by `KEEPALIVED_CHARM_ROOT`, so that
//! the hooks can run as Juju would (real binary, real files) without touching the
//! machine: a test points the root at a temporary directory.

use std::path::{Path, PathBuf};

/// Environment variable that moves every machine path under another root.
pub const ROOT_ENV: &str = "KEEPALIVED_CHARM_ROOT";

/// The systemd unit that runs the engine.
pub const UNIT_NAME: &str = "keepalived-charm.service";

/// The distro keepalived's unit, which the original charm ran.
pub const DISTRO_UNIT_NAME: &str = "keepalived.service";

/// Machine paths, all relative to one root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    root: PathBuf,
}

impl Paths {
    pub fn new(root: impl Into<PathBuf>) -> Paths {
        Paths { root: root.into() }
    }

    /// `/`, or `$KEEPALIVED_CHARM_ROOT` when it is set and not empty.
    pub fn from_env() -> Paths {
        match std::env::var_os(ROOT_ENV) {
            Some(root) if !root.is_empty() => Paths::new(root),
            _ => Paths::new("/"),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn under(&self, relative: &str) -> PathBuf {
        self.root.join(relative)
    }

    /// The keepalived.conf the engine runs.
    pub fn engine_config(&self) -> PathBuf {
        self.under("etc/keepalived-charm/keepalived.conf")
    }

    /// The metrics endpoint's address for the engine (`--metrics-file`): one line
    /// `IP:PORT`, empty for off; re-read by the engine on SIGHUP.
    pub fn engine_metrics_file(&self) -> PathBuf {
        self.under("etc/keepalived-charm/metrics-address")
    }

    /// The engine's JSON state file (roles, priorities); lives in the unit's
    /// RuntimeDirectory, so it disappears when the engine stops.
    pub fn engine_state(&self) -> PathBuf {
        self.under("run/keepalived-charm/state.json")
    }

    /// Written just before a start that takes over from a live distro keepalived
    /// holding the VIP on this machine: the engine then leaves the VIP in place
    /// instead of removing it as stale (see `engine::daemon::adopt_marker`).
    pub fn adopt_marker(&self) -> PathBuf {
        crate::engine::daemon::adopt_marker(&self.engine_state())
    }

    /// Directory of the engine state file (the unit's only writable path).
    pub fn engine_state_dir(&self) -> PathBuf {
        self.under("run/keepalived-charm")
    }

    pub fn unit_file(&self) -> PathBuf {
        self.under("etc/systemd/system").join(UNIT_NAME)
    }

    /// The original charm's file name, so that a unit upgraded from it keeps one file.
    pub fn sysctl_file(&self) -> PathBuf {
        self.under("etc/sysctl.d/50-keepalived.conf")
    }

    /// The engine binary the unit runs: a copy of the charm's binary, so that a
    /// charm upgrade (which replaces the charm directory) never changes the running
    /// engine behind systemd's back.
    pub fn engine_binary(&self) -> PathBuf {
        self.under("usr/local/lib/keepalived-charm/keepalived-charm")
    }

    /// The distro keepalived's config, which the original charm rendered.
    pub fn distro_config(&self) -> PathBuf {
        self.under("etc/keepalived/keepalived.conf")
    }

    /// Where Debian and Ubuntu install the distro keepalived's unit.
    pub fn distro_unit_files(&self) -> [PathBuf; 2] {
        [
            self.under("lib/systemd/system").join(DISTRO_UNIT_NAME),
            self.under("usr/lib/systemd/system").join(DISTRO_UNIT_NAME),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_path_lives_under_the_root() {
        let p = Paths::new("/tmp/x");
        assert_eq!(
            p.engine_config(),
            Path::new("/tmp/x/etc/keepalived-charm/keepalived.conf")
        );
        assert_eq!(
            p.engine_metrics_file(),
            Path::new("/tmp/x/etc/keepalived-charm/metrics-address")
        );
        assert_eq!(
            p.engine_state(),
            Path::new("/tmp/x/run/keepalived-charm/state.json")
        );
        assert_eq!(
            p.unit_file(),
            Path::new("/tmp/x/etc/systemd/system/keepalived-charm.service")
        );
        assert_eq!(
            p.sysctl_file(),
            Path::new("/tmp/x/etc/sysctl.d/50-keepalived.conf")
        );
        assert_eq!(
            p.engine_binary(),
            Path::new("/tmp/x/usr/local/lib/keepalived-charm/keepalived-charm")
        );
    }

    #[test]
    fn default_root_is_the_machine_root() {
        let p = Paths::new("/");
        assert_eq!(
            p.engine_config(),
            Path::new("/etc/keepalived-charm/keepalived.conf")
        );
    }
}
