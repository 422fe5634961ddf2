//! `vrrp_instance NAME { ... }`: one virtual router. Directives are read into a
//! draft with their positions, then resolved the way keepalived resolves them
//! (defaults, version, family) and checked against each other.

use std::net::IpAddr;
use std::time::Duration;

use super::addresses;
use super::global::{version, GARP_MAX_REPEAT, GARP_MAX_SECS};
use super::{args, block, block_name, check, one, unknown, InstanceOutline, Once};
use crate::config::diagnostic::{Pos, Sink};
use crate::config::model::{
    GlobalDefs, InitialState, TrackInterface, TrackScript, VirtualAddress, VrrpInstance,
};
use crate::config::syntax::{Block, Stmt, Word};
use crate::config::values::{decimal_secs, interface_name, uint, unicast_addr, whole_secs};
use crate::proto::{Auth, Priority, RollingFrom, Timers, Version, Vrid};

pub(super) const SUPPORTED: &[&str] = &[
    "state",
    "interface",
    "virtual_router_id",
    "priority",
    "advert_int",
    "version",
    "nopreempt",
    "preempt_delay",
    "authentication",
    "unicast_src_ip",
    "unicast_peer",
    "virtual_ipaddress",
    "virtual_ipaddress_excluded",
    "track_interface",
    "track_script",
    "garp_master_delay",
    "garp_master_repeat",
    "garp_master_refresh",
    "down_timer_adverts",
    "rolling_from",
];

/// keepalived `vrrp_instance` keywords this engine does not implement.
const UNSUPPORTED: &[&str] = &[
    "use_vmac",
    "vmac_xmit_base",
    "native_ipv6",
    "dont_track_primary",
    "track_file",
    "track_process",
    "track_bfd",
    "track_src_ip",
    "mcast_src_ip",
    "unicast_ttl",
    "unicast_fault_no_peer",
    "check_unicast_src",
    "notify",
    "notify_master",
    "notify_backup",
    "notify_fault",
    "notify_stop",
    "notify_deleted",
    "notify_master_rx_lower_pri",
    "smtp_alert",
    "virtual_routes",
    "virtual_rules",
    "accept",
    "no_accept",
    "skip_check_adv_addr",
    "strict_mode",
    "garp_master_refresh_repeat",
    "garp_lower_prio_delay",
    "garp_lower_prio_repeat",
    "lower_prio_no_advert",
    "higher_prio_send_advert",
    "kernel_rx_buf_size",
    "lvs_sync_daemon_interface",
    "promote_secondaries",
    "linkbeat_use_polling",
    "debug",
    "preempt",
];

/// Everything an instance block said, with where it said it.
#[derive(Default)]
pub(super) struct Draft {
    pub(super) state: Option<(InitialState, Pos)>,
    pub(super) interface: Option<(String, Pos)>,
    pub(super) vrid: Option<Vrid>,
    pub(super) priority: Option<(Priority, Pos)>,
    pub(super) advert_int: Option<Word>,
    pub(super) version: Option<(Version, Pos)>,
    pub(super) nopreempt: Option<Pos>,
    pub(super) preempt_delay: Option<(Duration, Pos)>,
    pub(super) auth: Option<(Auth, Pos)>,
    pub(super) unicast_src_ip: Option<(IpAddr, Pos)>,
    pub(super) peers: Option<(Vec<(IpAddr, Pos)>, Pos)>,
    /// Entries written in unicast_peer, valid or not.
    pub(super) peer_entries: usize,
    pub(super) vips: Option<Vec<(VirtualAddress, Pos)>>,
    /// Entries written in virtual_ipaddress, valid or not.
    pub(super) vip_entries: usize,
    pub(super) vips_excluded: Vec<(VirtualAddress, Pos)>,
    pub(super) track_interfaces: Vec<(TrackInterface, Pos)>,
    pub(super) track_scripts: Vec<(TrackScript, Pos)>,
    pub(super) garp_master_delay: Option<Duration>,
    pub(super) garp_master_repeat: Option<u32>,
    pub(super) garp_master_refresh: Option<Duration>,
    pub(super) down_timer_adverts: Option<u8>,
    pub(super) rolling_from: Option<(RollingFrom, Pos)>,
}

pub(super) fn vrrp_instance(
    stmt: &Stmt,
    global: &GlobalDefs,
    sink: &mut Sink,
) -> Option<(InstanceOutline, Option<VrrpInstance>)> {
    let (name, body) = block_name(sink, stmt)?;
    let scope = format!("vrrp_instance {name}");
    let errors_before = sink.diagnostics.len();
    let mut draft = Draft::default();
    let mut once = Once::default();
    for s in &body.stmts {
        if !SUPPORTED.contains(&s.name()) {
            unknown(sink, s, &scope, SUPPORTED, UNSUPPORTED);
            continue;
        }
        if once.first(sink, s, &scope) {
            directive(&mut draft, s, &scope, sink);
        }
    }
    let header = stmt.pos();
    let resolved = super::resolve::resolve(&draft, &once, name, header, global, sink);
    let family = resolved.as_ref().map(|i| i.family).or_else(|| {
        draft
            .vips
            .as_ref()
            .and_then(|v| v.first())
            .map(|(v, _)| v.family())
    });
    let outline = InstanceOutline {
        name: name.to_string(),
        header,
        key: match (draft.vrid, family, &draft.interface) {
            (Some(vrid), Some(family), Some((iface, _))) => Some((vrid, family, iface.clone())),
            _ => None,
        },
        rolling_keys: match (&draft.rolling_from, draft.vrid, family, &draft.interface) {
            (Some((from, pos)), Some(vrid), Some(family), Some((iface, _))) => {
                let mut keys = Vec::new();
                if let Some(other) = from.other_vrid(vrid) {
                    keys.push(((other, family, iface.clone()), *pos));
                }
                // On another interface the router listens to both VRIDs there too
                // (K-17): no other router may use either.
                if let Some(elsewhere) = from.interface.as_ref().filter(|i| *i != iface) {
                    keys.push(((vrid, family, elsewhere.clone()), *pos));
                    if let Some(other) = from.other_vrid(vrid) {
                        keys.push(((other, family, elsewhere.clone()), *pos));
                    }
                }
                keys
            }
            _ => Vec::new(),
        },
        track_scripts: draft
            .track_scripts
            .iter()
            .map(|(t, pos)| (t.name.clone(), t.weight, *pos))
            .collect(),
        owner: resolved.as_ref().is_some_and(|i| i.priority.is_owner()),
        vips: draft
            .vips
            .iter()
            .flatten()
            .map(|(v, pos)| (v.addr, *pos))
            .collect(),
        interfaces: draft
            .interface
            .iter()
            .cloned()
            .chain(
                draft
                    .vips
                    .iter()
                    .flatten()
                    .chain(&draft.vips_excluded)
                    .filter_map(|(v, pos)| v.dev.clone().map(|d| (d, *pos))),
            )
            .chain(
                draft
                    .track_interfaces
                    .iter()
                    .map(|(t, pos)| (t.name.clone(), *pos)),
            )
            .collect(),
    };
    let failed = sink.diagnostics[errors_before..]
        .iter()
        .any(|d| d.is_error());
    Some((outline, resolved.filter(|_| !failed)))
}

/// Reads one directive into the draft.
fn directive(d: &mut Draft, s: &Stmt, scope: &str, sink: &mut Sink) {
    let name = s.name();
    match name {
        "state" => {
            if let Some(w) = one(sink, s, "state MASTER|BACKUP") {
                let state = match w.text.as_str() {
                    "MASTER" => Some(InitialState::Master),
                    "BACKUP" => Some(InitialState::Backup),
                    other => {
                        sink.error(
                            w.pos,
                            format!("state \"{other}\" is not an initial state: allowed MASTER or BACKUP (upper case, as keepalived requires)"),
                        );
                        None
                    }
                };
                d.state = state.map(|st| (st, w.pos));
            }
        }
        "interface" => {
            if let Some(w) = one(sink, s, "interface IFNAME") {
                d.interface =
                    check(sink, w, interface_name("interface", &w.text)).map(|i| (i, w.pos));
            }
        }
        "virtual_router_id" => {
            if let Some(w) = one(sink, s, "virtual_router_id 1..255") {
                d.vrid = check(
                    sink,
                    w,
                    uint(name, &w.text, 1, 255).and_then(|n| {
                        u8::try_from(n)
                            .ok()
                            .and_then(|n| Vrid::new(n).ok())
                            .ok_or_else(|| {
                                format!("virtual_router_id {n} is out of range: allowed 1..255")
                            })
                    }),
                );
            }
        }
        "priority" => {
            if let Some(w) = one(sink, s, "priority 1..255") {
                d.priority = check(
                    sink,
                    w,
                    uint(name, &w.text, 1, 255)
                        .and_then(|n| Priority::configured(n).map_err(|e| e.to_string())),
                )
                .map(|p| (p, w.pos));
            }
        }
        "advert_int" => {
            // Resolved once the version is known (it may come later in the block).
            d.advert_int = one(sink, s, "advert_int SECONDS").cloned();
        }
        "version" => {
            if let Some(w) = one(sink, s, "version 2|3") {
                d.version = check(sink, w, version("version", w)).map(|v| (v, w.pos));
            }
        }
        "nopreempt" if args(sink, s, 0, 0, "nopreempt").is_some() => {
            d.nopreempt = Some(s.pos());
        }
        "preempt_delay" => {
            if let Some(w) = one(sink, s, "preempt_delay SECONDS") {
                d.preempt_delay =
                    check(sink, w, decimal_secs(name, &w.text, 1000)).map(|p| (p, s.pos()));
            }
        }
        "authentication" => {
            if let Some(b) = block(
                sink,
                s,
                "authentication { auth_type PASS auth_pass PASSWORD }",
            ) {
                d.auth = super::auth::authentication(sink, s, b, scope).map(|a| (a, s.pos()));
            }
        }
        "unicast_src_ip" => {
            if let Some(w) = one(sink, s, "unicast_src_ip ADDRESS") {
                d.unicast_src_ip = check(sink, w, unicast_addr(name, &w.text)).map(|a| (a, w.pos));
            }
        }
        "unicast_peer" => {
            if let Some(b) = block(sink, s, "unicast_peer { ADDRESS ... }") {
                d.peer_entries = b.stmts.len();
                d.peers = Some((addresses::peers(sink, b), s.pos()));
            }
        }
        "virtual_ipaddress" => {
            if let Some(b) = block(
                sink,
                s,
                "virtual_ipaddress { ADDR[/PREFIX] [dev IFNAME] [label LABEL] ... }",
            ) {
                d.vip_entries = b.stmts.len();
                d.vips = Some(addresses::vips(sink, b, name));
            }
        }
        "virtual_ipaddress_excluded" => {
            if let Some(b) = block(
                sink,
                s,
                "virtual_ipaddress_excluded { ADDR[/PREFIX] [dev IFNAME] [label LABEL] ... }",
            ) {
                d.vips_excluded = addresses::vips(sink, b, name);
            }
        }
        "track_interface" => {
            if let Some(b) = block(sink, s, "track_interface { IFNAME [weight N] ... }") {
                d.track_interfaces = addresses::track_interfaces(sink, b);
            }
        }
        "track_script" => {
            if let Some(b) = block(sink, s, "track_script { NAME [weight N] ... }") {
                d.track_scripts = addresses::track_scripts(sink, b);
            }
        }
        "garp_master_delay" => {
            if let Some(w) = one(sink, s, "garp_master_delay SECONDS") {
                d.garp_master_delay = check(sink, w, whole_secs(name, &w.text, 0, GARP_MAX_SECS));
            }
        }
        "garp_master_repeat" => {
            if let Some(w) = one(sink, s, "garp_master_repeat COUNT") {
                d.garp_master_repeat = check(sink, w, uint(name, &w.text, 1, GARP_MAX_REPEAT));
            }
        }
        "garp_master_refresh" => {
            if let Some(w) = one(sink, s, "garp_master_refresh SECONDS") {
                d.garp_master_refresh = check(sink, w, whole_secs(name, &w.text, 0, GARP_MAX_SECS));
            }
        }
        "down_timer_adverts" => {
            if let Some(w) = one(sink, s, "down_timer_adverts COUNT") {
                d.down_timer_adverts = check(sink, w, down_timer_adverts(name, &w.text));
            }
        }
        "rolling_from" => {
            if let Some(b) = block(
                sink,
                s,
                "rolling_from { virtual_router_id 1..255 [authentication { ... }] [unicast_peer { ADDRESS ... }] [interface NAME] }",
            ) {
                d.rolling_from = rolling_from(sink, s, b, scope).map(|r| (r, s.pos()));
            }
        }
        _ => {}
    }
}

/// Ours, not keepalived's: `rolling_from { virtual_router_id N [authentication {...}]
/// [unicast_peer {...}] [interface NAME] }`, the identity a rolling
/// `virtual_router_id`, password, transport or interface change moves from
/// (docs/requirements.md K-17). Written in full: the VRID is required, no
/// `authentication` block means the old identity had none, no `unicast_peer` block
/// that it was multicast, and no `interface` that it ran on the instance's own.
fn rolling_from(sink: &mut Sink, stmt: &Stmt, b: &Block, scope: &str) -> Option<RollingFrom> {
    const KEYWORDS: &[&str] = &[
        "virtual_router_id",
        "authentication",
        "unicast_peer",
        "interface",
    ];
    let scope = format!("rolling_from of {scope}");
    let mut once = Once::default();
    let mut vrid = None;
    let mut vrid_written = false;
    let mut auth = Some(Auth::None);
    let mut unicast_peers = Vec::new();
    let mut interface = None;
    let mut ok = true;
    for s in &b.stmts {
        if !KEYWORDS.contains(&s.name()) {
            unknown(sink, s, &scope, KEYWORDS, &[]);
            ok = false;
            continue;
        }
        if !once.first(sink, s, &scope) {
            ok = false;
            continue;
        }
        let mut draft = Draft::default();
        directive(&mut draft, s, &scope, sink);
        match s.name() {
            "virtual_router_id" => {
                vrid_written = true;
                vrid = draft.vrid;
            }
            "unicast_peer" => {
                unicast_peers = draft
                    .peers
                    .map(|(peers, _)| peers.into_iter().map(|(p, _)| p).collect())
                    .unwrap_or_default();
            }
            "interface" => match draft.interface {
                Some((name, _)) => interface = Some(name),
                None => ok = false,
            },
            _ => auth = draft.auth.map(|(a, _)| a),
        }
    }
    let Some(vrid) = vrid else {
        if ok && !vrid_written {
            sink.error(
                stmt.pos(),
                format!("{scope} has no virtual_router_id: write the VRID the cluster moves from (1..255)"),
            );
        }
        return None;
    };
    Some(RollingFrom {
        vrid,
        auth: auth?,
        unicast_peers,
        interface,
    })
    .filter(|_| ok)
}

/// keepalived's `down_timer_adverts` / `vrrp_down_timer_adverts`: 1..=100 advert
/// intervals (docs/requirements.md K-16).
pub(super) fn down_timer_adverts(name: &str, text: &str) -> Result<u8, String> {
    let max = u32::from(Timers::MAX_DOWN_ADVERTS);
    uint(name, text, 1, max).map(|n| u8::try_from(n).unwrap_or(u8::MAX))
}
