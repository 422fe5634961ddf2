//! The machine this process runs on, as the keepalived.conf host checks see it
//! (`vrrp --check`): interfaces in /sys/class/net, programs in PATH, users and groups
//! through NSS. The rules themselves are pure and live in `vrrp_core::config::host`.

use std::ffi::CString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use vrrp_core::config::{check_text, Checked, Config, Diagnostic, Host, Severity};

/// `vrrp --check`: parse, validate, and check against this machine.
pub fn check_file(path: &Path) -> Checked {
    let file = path.display().to_string();
    match std::fs::read(path) {
        Ok(bytes) => check_text(&file, &bytes, &SystemHost),
        Err(e) => Checked {
            config: Config::default(),
            diagnostics: vec![Diagnostic {
                severity: Severity::Error,
                file,
                pos: None,
                message: format!("cannot read the file: {e}"),
            }],
        },
    }
}

/// The machine this process runs on.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemHost;

/// keepalived's fallback when PATH is unset.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

impl Host for SystemHost {
    fn interface_exists(&self, name: &str) -> bool {
        !name.contains('/') && Path::new("/sys/class/net").join(name).exists()
    }

    fn program_exists(&self, program: &str) -> bool {
        if program.contains('/') {
            return is_executable(Path::new(program));
        }
        let path = std::env::var("PATH").unwrap_or_else(|_| DEFAULT_PATH.to_string());
        path.split(':')
            .filter(|dir| !dir.is_empty())
            .any(|dir| is_executable(&PathBuf::from(dir).join(program)))
    }

    fn user_exists(&self, name: &str) -> bool {
        lookup(name, Database::Passwd)
    }

    fn group_exists(&self, name: &str) -> bool {
        lookup(name, Database::Group)
    }
}

enum Database {
    Passwd,
    Group,
}

/// getpwnam_r / getgrnam_r through NSS (so LDAP users count, as for keepalived).
fn lookup(name: &str, db: Database) -> bool {
    let Ok(cname) = CString::new(name) else {
        return false;
    };
    let mut buf = vec![0u8; 16 * 1024];
    match db {
        Database::Passwd => {
            // SAFETY: `pwd` is plain old data that getpwnam_r fills; `cname` is a valid
            // NUL-terminated string; `buf` outlives the call and its true length is
            // passed; `result` is a valid out-pointer. Nothing borrowed escapes.
            unsafe {
                let mut pwd: libc::passwd = std::mem::zeroed();
                let mut result: *mut libc::passwd = std::ptr::null_mut();
                let rc = libc::getpwnam_r(
                    cname.as_ptr(),
                    &mut pwd,
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    &mut result,
                );
                rc == 0 && !result.is_null()
            }
        }
        Database::Group => {
            // SAFETY: as above, with getgrnam_r and `libc::group`.
            unsafe {
                let mut grp: libc::group = std::mem::zeroed();
                let mut result: *mut libc::group = std::ptr::null_mut();
                let rc = libc::getgrnam_r(
                    cname.as_ptr(),
                    &mut grp,
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    &mut result,
                );
                rc == 0 && !result.is_null()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_host_sees_root_and_bin_sh_and_lo() {
        let host = SystemHost;
        assert!(host.user_exists("root"));
        assert!(host.group_exists("root"));
        assert!(!host.user_exists("no-such-user-kc"));
        assert!(!host.user_exists("a\0b"));
        assert!(host.program_exists("/bin/sh"));
        assert!(host.program_exists("sh"));
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("not-executable");
        std::fs::write(&plain, "#!/bin/sh\n").unwrap();
        assert!(!host.program_exists(plain.to_str().unwrap()));
        assert!(!host.program_exists(dir.path().to_str().unwrap()));
        assert!(!host.program_exists("/nonexistent/x"));
        assert!(host.interface_exists("lo"));
        assert!(!host.interface_exists("nosuchif0"));
        assert!(!host.interface_exists("../lo"));
    }
}
