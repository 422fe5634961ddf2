//! Putting the engine on the machine and taking it off again: the engine binary, its
//! systemd unit, and the clean-up on `remove`.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::hook::Hook;
use super::paths::{Paths, DISTRO_UNIT_NAME, UNIT_NAME};
use super::render::{self, BINARY_MODE, PUBLIC_MODE};
use super::service::{ServiceError, ServiceManager, Verb};
use super::HookError;

/// What changed on the machine while making sure the engine is installed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Installed {
    /// The engine binary was (re)written with different content.
    pub binary_changed: bool,
    /// The unit file was (re)written with different content.
    pub unit_changed: bool,
}

pub(super) fn io_error<'a>(
    action: &'static str,
    path: &'a Path,
) -> impl FnOnce(io::Error) -> HookError + 'a {
    move |source| HookError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// Makes sure the engine binary and its unit are in place.
///
/// * `install` and `upgrade-charm` copy the charm's binary when its content differs
///   from the installed one (an upgrade that does not change the engine does not
///   restart it); other hooks only put it back if it is missing.
/// * The unit file is rendered on every hook and written only when it differs. When
///   it is not the one systemd last re-read (`unit_loaded`, a file stamp kept in charm
///   state: also after a hook that wrote it and failed before `daemon-reload`),
///   systemd re-reads it and it is enabled (also on every install and upgrade).
pub fn ensure(
    hook: &Hook,
    paths: &Paths,
    charm_binary: &Path,
    service: &mut dyn ServiceManager,
    unit_loaded: &mut Option<String>,
) -> Result<Installed, HookError> {
    let mut installed = Installed::default();
    let target = paths.engine_binary();
    let refresh = matches!(hook, Hook::Install | Hook::UpgradeCharm);
    if refresh || !target.exists() {
        let content = fs::read(charm_binary).map_err(io_error("cannot read", charm_binary))?;
        installed.binary_changed = render::write_if_changed(&target, &content, BINARY_MODE)
            .map_err(io_error("cannot install the engine binary at", &target))?;
    }
    let unit = render::unit_file(paths)?;
    let unit_path = paths.unit_file();
    installed.unit_changed = render::write_if_changed(&unit_path, unit.as_bytes(), PUBLIC_MODE)
        .map_err(io_error("cannot write", &unit_path))?;
    let on_disk = render::stamp(&unit_path);
    let reread = *unit_loaded != on_disk;
    if reread {
        service.call(Verb::DaemonReload, UNIT_NAME)?;
        *unit_loaded = on_disk;
    }
    if reread || refresh {
        service.call(Verb::Enable, UNIT_NAME)?;
    }
    Ok(installed)
}

/// The original charm's keepalived.conf always holds its health check, `chk_svc_port`.
const ORIGINAL_CHARM_MARK: &str = "vrrp_script chk_svc_port";

/// On a unit upgraded from the original charm, the distro keepalived still holds the
/// VIP. Stop it (it releases with a priority-0 advert, so a peer takes over within its
/// skew time) and disable it; the package stays installed but inert. A keepalived
/// whose config the original charm did not write is someone else's and left alone.
///
/// Called just before the charm's engine starts, so the VIP is never left without an
/// engine on this machine: a refreshed unit whose config this charm refuses keeps the
/// distro keepalived until the config is fixed.
pub fn take_over_from_distro_keepalived(
    paths: &Paths,
    service: &mut dyn ServiceManager,
) -> Result<bool, ServiceError> {
    if !original_keepalived_installed(paths) {
        return Ok(false);
    }
    retire_distro_keepalived(service)?;
    Ok(true)
}

/// The distro keepalived with the config the original charm rendered is installed.
pub fn original_keepalived_installed(paths: &Paths) -> bool {
    let ours = fs::read_to_string(paths.distro_config())
        .is_ok_and(|text| text.contains(ORIGINAL_CHARM_MARK));
    ours && paths.distro_unit_files().iter().any(|p| p.exists())
}

/// Stops (if running) and disables the distro keepalived.
pub fn retire_distro_keepalived(service: &mut dyn ServiceManager) -> Result<(), ServiceError> {
    if service.is_active(DISTRO_UNIT_NAME)? {
        service.call(Verb::Stop, DISTRO_UNIT_NAME)?;
    }
    service.call(Verb::Disable, DISTRO_UNIT_NAME)
}

/// Deletes everything the charm put on the machine except the sysctl file (handled
/// with its saved values by the caller). Returns whether the unit file existed.
pub fn remove_files(paths: &Paths) -> Result<bool, HookError> {
    let mut unit_existed = false;
    let files: [(PathBuf, bool); 5] = [
        (paths.unit_file(), true),
        (paths.engine_config(), false),
        (paths.engine_metrics_file(), false),
        (paths.engine_state(), false),
        (paths.engine_binary(), false),
    ];
    for (path, is_unit) in files {
        let existed = render::remove_if_exists(&path).map_err(io_error("cannot remove", &path))?;
        if is_unit {
            unit_existed = existed;
        }
        // The charm's own directories go too, if nothing else lives there.
        if let Some(dir) = path.parent() {
            if dir.ends_with("keepalived-charm") {
                let _ = fs::remove_dir(dir);
            }
        }
    }
    Ok(unit_existed)
}
