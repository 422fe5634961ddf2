//! Checks against the machine the file is for: do the interfaces, the script
//! programs and the users exist? `keepalived -t` makes the same checks, so a file that
//! passes `vrrp --check` on a host also passes `keepalived -t` there.
//!
//! The facts come through [`Host`], so the rules are tested with a fake host; the
//! engine's `SystemHost` answers them for the machine it runs on.

use super::build::Outline;
use super::diagnostic::Sink;
use super::model::Config;

/// The facts about the machine the checks need.
pub trait Host {
    /// Whether a network interface of this name exists.
    fn interface_exists(&self, name: &str) -> bool;
    /// Whether `program` (a path, or a name looked up in PATH) is an executable file.
    fn program_exists(&self, program: &str) -> bool;
    /// Whether the user exists (through NSS, as keepalived looks it up).
    fn user_exists(&self, name: &str) -> bool;
    /// Whether the group exists.
    fn group_exists(&self, name: &str) -> bool;
}

/// A host on which every interface, program, user and group exists: the rules still
/// run, without I/O. For checking a file meant for another machine, and for tests.
#[derive(Debug, Default, Clone, Copy)]
pub struct AnyHost;

impl Host for AnyHost {
    fn interface_exists(&self, _: &str) -> bool {
        true
    }
    fn program_exists(&self, _: &str) -> bool {
        true
    }
    fn user_exists(&self, _: &str) -> bool {
        true
    }
    fn group_exists(&self, _: &str) -> bool {
        true
    }
}

/// keepalived's default script user when `script_user` is not set.
pub const DEFAULT_SCRIPT_USER: &str = "keepalived_script";

pub(crate) fn check(config: &Config, outline: &Outline, host: &dyn Host, sink: &mut Sink) {
    for inst in &outline.instances {
        let mut seen = std::collections::HashSet::new();
        for (name, pos) in &inst.interfaces {
            if seen.insert(name.as_str()) && !host.interface_exists(name) {
                // A warning only: the engine waits in FAULT until the interface
                // appears, while `keepalived -t` refuses the file.
                sink.warning(
                    *pos,
                    format!("interface {name} does not exist on this host (keepalived -t refuses a missing interface; the engine waits for it in FAULT)"),
                );
            }
        }
    }
    for script in &outline.scripts {
        if let Some((program, pos)) = &script.program {
            if !host.program_exists(program) {
                sink.error(
                    *pos,
                    format!(
                        "vrrp_script {}: program {program} is not an executable file{} (keepalived disables the script)",
                        script.name,
                        if program.contains('/') { "" } else { " in PATH" }
                    ),
                );
            }
        }
        if let Some((user, group, pos)) = &script.user {
            check_user(host, sink, *pos, user, group.as_deref());
        }
    }
    if let (Some(u), Some(pos)) = (&config.global.script_user, outline.script_user) {
        check_user(host, sink, pos, &u.user, u.group.as_deref());
    }
    // With enable_script_security and no script_user, keepalived runs scripts without
    // a `user` as keepalived_script, and drops them if that user does not exist.
    let needs_default = outline.scripts.iter().any(|s| s.user.is_none());
    if config.global.enable_script_security
        && config.global.script_user.is_none()
        && needs_default
        && !host.user_exists(DEFAULT_SCRIPT_USER)
    {
        if let Some(pos) = outline.global_defs {
            sink.error(
                pos,
                format!("enable_script_security without script_user: keepalived runs scripts as user {DEFAULT_SCRIPT_USER}, which does not exist; add \"script_user USER\""),
            );
        }
    }
}

fn check_user(
    host: &dyn Host,
    sink: &mut Sink,
    pos: super::diagnostic::Pos,
    user: &str,
    group: Option<&str>,
) {
    if !host.user_exists(user) {
        sink.error(pos, format!("user {user} does not exist on this host"));
    }
    if let Some(group) = group {
        if !host.group_exists(group) {
            sink.error(pos, format!("group {group} does not exist on this host"));
        }
    }
}

#[cfg(test)]
mod fake_host_tests {
    use super::*;
    use crate::config::check_text;

    /// A host with eth0, /bin/true and the users root and nobody.
    struct Fake;

    impl Host for Fake {
        fn interface_exists(&self, name: &str) -> bool {
            name == "eth0"
        }
        fn program_exists(&self, program: &str) -> bool {
            program == "/bin/true" || program == "true"
        }
        fn user_exists(&self, name: &str) -> bool {
            matches!(name, "root" | "nobody")
        }
        fn group_exists(&self, name: &str) -> bool {
            name == "root"
        }
    }

    fn diags(text: &str) -> Vec<String> {
        check_text("k.conf", text.as_bytes(), &Fake)
            .diagnostics
            .iter()
            .map(|d| d.to_string())
            .collect()
    }

    fn config(global: &str, script: &str, extra: &str) -> String {
        format!(
            "global_defs {{\n{global}\n}}\nvrrp_script chk {{\n{script}\n}}\nvrrp_instance A {{\n    interface eth0\n    virtual_router_id 1\n    virtual_ipaddress {{ 10.0.0.1 }}\n    track_script {{\n        chk\n    }}\n{extra}\n}}\n"
        )
    }

    const SECURE: &str = "    enable_script_security\n    script_user root";

    #[test]
    fn a_good_file_on_a_matching_host_has_no_diagnostics() {
        assert_eq!(
            diags(&config(SECURE, "    script \"/bin/true x\"", "")),
            Vec::<String>::new()
        );
        assert_eq!(
            diags(&config(SECURE, "    script true", "")),
            Vec::<String>::new()
        );
    }

    #[test]
    fn a_missing_interface_is_a_warning() {
        assert_eq!(
            diags(&config(SECURE, "    script /bin/true", "    track_interface {\n        eth9\n    }")),
            vec!["k.conf:16:9: warning: interface eth9 does not exist on this host (keepalived -t refuses a missing interface; the engine waits for it in FAULT)"]
        );
    }

    #[test]
    fn a_missing_script_program_is_an_error() {
        assert_eq!(
            diags(&config(SECURE, "    script \"/usr/lib/check x\"", "")),
            vec!["k.conf:6:12: error: vrrp_script chk: program /usr/lib/check is not an executable file (keepalived disables the script)"]
        );
        assert_eq!(
            diags(&config(SECURE, "    script bash", "")),
            vec!["k.conf:6:12: error: vrrp_script chk: program bash is not an executable file in PATH (keepalived disables the script)"]
        );
    }

    #[test]
    fn script_users_and_groups_must_exist() {
        assert_eq!(
            diags(&config(
                "    enable_script_security\n    script_user ghost",
                "    script /bin/true\n    user nobody nogroup",
                ""
            )),
            vec![
                "k.conf:3:5: error: user ghost does not exist on this host",
                "k.conf:7:5: error: group nogroup does not exist on this host",
            ]
        );
    }

    #[test]
    fn script_security_without_script_user_needs_keepalived_script() {
        assert_eq!(
            diags(&config("    enable_script_security", "    script /bin/true", "")),
            vec!["k.conf:1:1: error: enable_script_security without script_user: keepalived runs scripts as user keepalived_script, which does not exist; add \"script_user USER\""]
        );
        // Not needed when every script names its user.
        assert_eq!(
            diags(&config(
                "    enable_script_security",
                "    script /bin/true\n    user root",
                ""
            )),
            Vec::<String>::new()
        );
    }
}
