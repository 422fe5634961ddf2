//! Kernel settings the VIP needs, applied through `sysctl` found on `PATH`.
//!
//! Like the original charm, `net.ipv4.ip_nonlocal_bind=1` lets the principal bind to
//! the VIP on a unit that does not hold it; with an IPv6 VIP also
//! `net.ipv6.ip_nonlocal_bind=1`. The settings live in the original charm's file
//! (`/etc/sysctl.d/50-keepalived.conf`) so they survive reboots, are applied with
//! `sysctl -p FILE`, and are undone on removal: the value found before the charm first
//! set a key is kept in charm state and written back.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};

pub const IPV4_NONLOCAL_BIND: &str = "net.ipv4.ip_nonlocal_bind";
pub const IPV6_NONLOCAL_BIND: &str = "net.ipv6.ip_nonlocal_bind";

/// The kernel default of both keys, assumed as the value to restore when the file
/// already existed before this charm recorded anything (left by the original charm).
pub const KERNEL_DEFAULT: &str = "0";

#[derive(Debug, thiserror::Error)]
pub enum SysctlError {
    #[error("cannot run sysctl (is it on PATH?): {0}")]
    Spawn(#[source] std::io::Error),
    #[error("sysctl {args} failed (exit code {code:?}): {stderr}")]
    Failed {
        args: String,
        code: Option<i32>,
        stderr: String,
    },
}

/// The kernel parameters interface.
pub trait Sysctl {
    /// `sysctl -n KEY`.
    fn read(&mut self, key: &str) -> Result<String, SysctlError>;
    /// `sysctl -p FILE`.
    fn load_file(&mut self, path: &Path) -> Result<(), SysctlError>;
    /// `sysctl -w KEY=VALUE`.
    fn write(&mut self, key: &str, value: &str) -> Result<(), SysctlError>;
}

/// The settings for a configured unit, sorted by key.
pub fn settings(has_ipv6_vip: bool) -> BTreeMap<&'static str, &'static str> {
    let mut s = BTreeMap::new();
    s.insert(IPV4_NONLOCAL_BIND, "1");
    if has_ipv6_vip {
        s.insert(IPV6_NONLOCAL_BIND, "1");
    }
    s
}

/// The sysctl.d file for `settings`: `key=value` lines, as the original rendered.
pub fn file_content(settings: &BTreeMap<&'static str, &'static str>) -> String {
    let mut out = String::from("# Managed by the keepalived charm; restored on removal.\n");
    for (key, value) in settings {
        out.push_str(&format!("{key}={value}\n"));
    }
    out
}

/// The real `sysctl`.
#[derive(Debug, Default)]
pub struct SysctlCommand;

impl SysctlCommand {
    fn run(&self, args: &[&str]) -> Result<String, SysctlError> {
        let output = Command::new("sysctl")
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(SysctlError::Spawn)?;
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
        } else {
            Err(SysctlError::Failed {
                args: args.join(" "),
                code: output.status.code(),
                stderr: String::from_utf8_lossy(&output.stderr)
                    .trim_end()
                    .to_string(),
            })
        }
    }
}

impl Sysctl for SysctlCommand {
    fn read(&mut self, key: &str) -> Result<String, SysctlError> {
        self.run(&["-n", key])
    }

    fn load_file(&mut self, path: &Path) -> Result<(), SysctlError> {
        let path = path.display().to_string();
        self.run(&["-p", &path]).map(|_| ())
    }

    fn write(&mut self, key: &str, value: &str) -> Result<(), SysctlError> {
        self.run(&["-w", &format!("{key}={value}")]).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_only_file_is_the_original_setting() {
        assert_eq!(
            file_content(&settings(false)),
            "# Managed by the keepalived charm; restored on removal.\nnet.ipv4.ip_nonlocal_bind=1\n"
        );
    }

    #[test]
    fn an_ipv6_vip_adds_the_ipv6_setting() {
        assert_eq!(
            file_content(&settings(true)),
            "# Managed by the keepalived charm; restored on removal.\nnet.ipv4.ip_nonlocal_bind=1\nnet.ipv6.ip_nonlocal_bind=1\n"
        );
    }
}
