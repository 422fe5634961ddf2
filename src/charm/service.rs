//! The service layer: every call the charm makes to the init system goes through
//! [`ServiceManager`], implemented by running `systemctl` found on `PATH`. Tests observe
//! it in process with a recording fake, and end to end with a fake `systemctl` on
//! `PATH` (systemd cannot run as PID 1 in the test environment).

use std::fmt;
use std::process::{Command, Stdio};

/// A `systemctl` verb the charm uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    DaemonReload,
    Enable,
    Disable,
    Start,
    Stop,
    /// SIGHUP through `ExecReload`: the engine re-reads its config without a gap.
    Reload,
    /// Only when the engine binary or its unit changed.
    Restart,
}

impl Verb {
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::DaemonReload => "daemon-reload",
            Verb::Enable => "enable",
            Verb::Disable => "disable",
            Verb::Start => "start",
            Verb::Stop => "stop",
            Verb::Reload => "reload",
            Verb::Restart => "restart",
        }
    }
}

impl fmt::Display for Verb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("cannot run systemctl (is it on PATH?): {0}")]
    Spawn(#[source] std::io::Error),
    #[error("systemctl {verb} {unit} failed (exit code {code:?}): {stderr}")]
    Failed {
        verb: Verb,
        unit: String,
        code: Option<i32>,
        stderr: String,
    },
}

/// The init system, as far as the charm uses it.
pub trait ServiceManager {
    /// `systemctl <verb> [unit]` (`daemon-reload` takes no unit).
    fn call(&mut self, verb: Verb, unit: &str) -> Result<(), ServiceError>;
    /// `systemctl is-active --quiet <unit>`.
    fn is_active(&mut self, unit: &str) -> Result<bool, ServiceError>;
}

/// The real init system: `systemctl` on `PATH`.
#[derive(Debug, Default)]
pub struct Systemctl;

impl ServiceManager for Systemctl {
    fn call(&mut self, verb: Verb, unit: &str) -> Result<(), ServiceError> {
        let mut command = Command::new("systemctl");
        command.arg(verb.as_str());
        if verb != Verb::DaemonReload {
            command.arg(unit);
        }
        let output = command
            .stdin(Stdio::null())
            .output()
            .map_err(ServiceError::Spawn)?;
        if output.status.success() {
            Ok(())
        } else {
            Err(ServiceError::Failed {
                verb,
                unit: unit.to_string(),
                code: output.status.code(),
                stderr: String::from_utf8_lossy(&output.stderr)
                    .trim_end()
                    .to_string(),
            })
        }
    }

    fn is_active(&mut self, unit: &str) -> Result<bool, ServiceError> {
        let status = Command::new("systemctl")
            .args(["is-active", "--quiet", unit])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(ServiceError::Spawn)?;
        Ok(status.success())
    }
}
