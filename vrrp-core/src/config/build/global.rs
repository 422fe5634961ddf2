//! `global_defs`: the few global settings the engine uses.

use super::{args, check, no_block, one, unknown, Once};
use crate::config::diagnostic::{Pos, Sink};
use crate::config::model::{GlobalDefs, ScriptUser};
use crate::config::syntax::{Stmt, Word};
use crate::config::values::{uint, whole_secs};
use crate::proto::Version;

pub(super) const SUPPORTED: &[&str] = &[
    "router_id",
    "vrrp_version",
    "script_user",
    "enable_script_security",
    "vrrp_garp_master_delay",
    "vrrp_garp_master_repeat",
    "vrrp_garp_master_refresh",
    "vrrp_rt_priority",
    "vrrp_no_swap",
    "vrrp_down_timer_adverts",
];

/// keepalived `global_defs` keywords this engine does not implement.
const UNSUPPORTED: &[&str] = &[
    "notification_email",
    "notification_email_from",
    "smtp_server",
    "smtp_connect_timeout",
    "smtp_helo_name",
    "smtp_alert",
    "smtp_alert_vrrp",
    "vrrp_mcast_group4",
    "vrrp_mcast_group6",
    "vrrp_strict",
    "vrrp_skip_check_adv_addr",
    "vrrp_check_unicast_src",
    "vrrp_garp_interval",
    "vrrp_gna_interval",
    "vrrp_garp_master_refresh_repeat",
    "vrrp_garp_lower_prio_delay",
    "vrrp_garp_lower_prio_repeat",
    "vrrp_lower_prio_no_advert",
    "vrrp_higher_prio_send_advert",
    "vrrp_min_garp",
    "vrrp_startup_delay",
    "vrrp_iptables",
    "vrrp_ipsets",
    "nftables",
    "vrrp_priority",
    "vrrp_notify_fifo",
    "notify_fifo",
    "dynamic_interfaces",
    "default_interface",
    "enable_snmp_vrrp",
    "enable_snmp_keepalived",
    "enable_snmp_rfc",
    "enable_dbus",
    "lvs_id",
    "lvs_sync_daemon",
    "max_auto_priority",
    "process_names",
    "disable_local_igmp",
];

/// Settings are applied in any order within the block.
/// Returns the settings and where `script_user` is written.
pub(super) fn global_defs(stmt: &Stmt, sink: &mut Sink) -> (GlobalDefs, Option<Pos>) {
    let mut global = GlobalDefs::default();
    let mut script_user_pos = None;
    if let Some(extra) = stmt.args.first() {
        sink.error(
            extra.pos,
            "\"global_defs\" takes no arguments before its block",
        );
    }
    let Some(block) = &stmt.block else {
        sink.error(
            stmt.pos(),
            "\"global_defs\" needs a block: usage \"global_defs { ... }\"",
        );
        return (global, None);
    };
    let scope = "global_defs";
    let mut once = Once::default();
    for s in &block.stmts {
        if !SUPPORTED.contains(&s.name()) {
            unknown(sink, s, scope, SUPPORTED, UNSUPPORTED);
            continue;
        }
        if !once.first(sink, s, scope) {
            continue;
        }
        match s.name() {
            "router_id" => {
                if let Some(w) = one(sink, s, "router_id NAME") {
                    global.router_id = Some(w.text.clone());
                }
            }
            "vrrp_version" => {
                if let Some(w) = one(sink, s, "vrrp_version 2|3") {
                    if let Some(v) = check(sink, w, version("vrrp_version", w)) {
                        global.vrrp_version = v;
                    }
                }
            }
            "script_user" => {
                if let Some(a) = args(sink, s, 1, 2, "script_user USER [GROUP]") {
                    global.script_user = Some(script_user(a));
                    script_user_pos = Some(s.pos());
                }
            }
            "enable_script_security" => {
                if args(sink, s, 0, 0, "enable_script_security").is_some() {
                    global.enable_script_security = true;
                }
            }
            "vrrp_garp_master_delay" => {
                if let Some(w) = one(sink, s, "vrrp_garp_master_delay SECONDS") {
                    global.garp_master_delay =
                        check(sink, w, whole_secs(s.name(), &w.text, 0, GARP_MAX_SECS));
                }
            }
            "vrrp_garp_master_repeat" => {
                if let Some(w) = one(sink, s, "vrrp_garp_master_repeat COUNT") {
                    global.garp_master_repeat =
                        check(sink, w, uint(s.name(), &w.text, 1, GARP_MAX_REPEAT));
                }
            }
            "vrrp_down_timer_adverts" => {
                if let Some(w) = one(sink, s, "vrrp_down_timer_adverts COUNT") {
                    global.down_timer_adverts = check(
                        sink,
                        w,
                        super::instance::down_timer_adverts(s.name(), &w.text),
                    );
                }
            }
            "vrrp_rt_priority" => {
                if let Some(w) = one(sink, s, "vrrp_rt_priority 1..99") {
                    global.rt_priority = check(sink, w, uint(s.name(), &w.text, 1, 99))
                        .and_then(|p| u8::try_from(p).ok());
                }
            }
            "vrrp_no_swap" => {
                if args(sink, s, 0, 0, "vrrp_no_swap").is_some() {
                    global.no_swap = true;
                }
            }
            "vrrp_garp_master_refresh" => {
                if let Some(w) = one(sink, s, "vrrp_garp_master_refresh SECONDS") {
                    global.garp_master_refresh =
                        check(sink, w, whole_secs(s.name(), &w.text, 0, GARP_MAX_SECS));
                }
            }
            _ => {
                let _ = no_block(sink, s);
            }
        }
    }
    (global, script_user_pos)
}

/// keepalived stores GARP timers in microseconds in 32 bits: at most 4294 s.
pub(super) const GARP_MAX_SECS: u32 = 4294;
/// More than one burst of 255 GARPs is a flood, not a failover.
pub(super) const GARP_MAX_REPEAT: u32 = 255;

pub(super) fn version(what: &str, w: &Word) -> Result<Version, String> {
    match w.text.as_str() {
        "2" => Ok(Version::V2),
        "3" => Ok(Version::V3),
        other => Err(format!(
            "{what} \"{other}\" is not a VRRP version: allowed 2 or 3"
        )),
    }
}

pub(super) fn script_user(args: &[Word]) -> ScriptUser {
    ScriptUser {
        user: args.first().map(|w| w.text.clone()).unwrap_or_default(),
        group: args.get(1).map(|w| w.text.clone()),
    }
}
