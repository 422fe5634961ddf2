//! `vrrp_instance NAME { ... }`: one virtual router. Directives are read into a
//! draft with their positions, then resolved the way keepalived resolves them
//! (defaults, version, family) and checked against each other.

use std::net::IpAddr;
use std::time::Duration;

use super::addresses;
use super::global::{version, GARP_MAX_REPEAT, GARP_MAX_SECS};
use super::{args, block, block_name, check, one, unknown, InstanceOutline, Once};
use crate::engine::config::diagnostic::{Pos, Sink};
use crate::engine::config::model::{
    GlobalDefs, InitialState, TrackInterface, TrackScript, VirtualAddress, VrrpInstance,
};
use crate::engine::config::syntax::{Block, Stmt, Word};
use crate::engine::config::values::{decimal_secs, interface_name, uint, unicast_addr, whole_secs};
use crate::engine::proto::{AdvertInterval, Auth, Family, Priority, Version, Vrid};

const SUPPORTED: &[&str] = &[
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
    "down_timer_adverts",
    "kernel_rx_buf_size",
    "lvs_sync_daemon_interface",
    "promote_secondaries",
    "linkbeat_use_polling",
    "debug",
    "preempt",
];

/// Everything an instance block said, with where it said it.
#[derive(Default)]
struct Draft {
    state: Option<(InitialState, Pos)>,
    interface: Option<(String, Pos)>,
    vrid: Option<Vrid>,
    priority: Option<(Priority, Pos)>,
    advert_int: Option<Word>,
    version: Option<(Version, Pos)>,
    nopreempt: Option<Pos>,
    preempt_delay: Option<(Duration, Pos)>,
    auth: Option<(Auth, Pos)>,
    unicast_src_ip: Option<(IpAddr, Pos)>,
    peers: Option<(Vec<(IpAddr, Pos)>, Pos)>,
    /// Entries written in unicast_peer, valid or not.
    peer_entries: usize,
    vips: Option<Vec<(VirtualAddress, Pos)>>,
    /// Entries written in virtual_ipaddress, valid or not.
    vip_entries: usize,
    vips_excluded: Vec<(VirtualAddress, Pos)>,
    track_interfaces: Vec<(TrackInterface, Pos)>,
    track_scripts: Vec<(TrackScript, Pos)>,
    garp_master_delay: Option<Duration>,
    garp_master_repeat: Option<u32>,
    garp_master_refresh: Option<Duration>,
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
    let resolved = resolve(&draft, &once, name, header, global, sink);
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
                d.auth = authentication(sink, s, b, scope).map(|a| (a, s.pos()));
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
        _ => {}
    }
}

/// `authentication { auth_type PASS auth_pass PASSWORD }`.
fn authentication(sink: &mut Sink, stmt: &Stmt, b: &Block, scope: &str) -> Option<Auth> {
    let scope = format!("authentication of {scope}");
    let mut once = Once::default();
    let mut auth_type: Option<()> = None;
    let mut pass: Option<String> = None;
    let mut ok = true;
    for s in &b.stmts {
        if !matches!(s.name(), "auth_type" | "auth_pass") {
            unknown(sink, s, &scope, &["auth_type", "auth_pass"], &[]);
            ok = false;
            continue;
        }
        if !once.first(sink, s, &scope) {
            ok = false;
            continue;
        }
        let Some(w) = one(
            sink,
            s,
            if s.name() == "auth_type" {
                "auth_type PASS"
            } else {
                "auth_pass PASSWORD"
            },
        ) else {
            ok = false;
            continue;
        };
        if s.name() == "auth_type" {
            match w.text.as_str() {
                "PASS" => auth_type = Some(()),
                "AH" => {
                    ok = false;
                    sink.error(
                        w.pos,
                        "auth_type AH is not implemented: use auth_type PASS, or no authentication",
                    );
                }
                other => {
                    ok = false;
                    sink.error(
                        w.pos,
                        format!(
                            "auth_type \"{other}\" is not an authentication type: allowed PASS"
                        ),
                    );
                }
            }
        } else if w.text.is_empty() {
            ok = false;
            sink.error(w.pos, "auth_pass is empty: give 1 to 8 characters");
        } else if w.text.len() > 8 {
            // keepalived truncates with a "Truncating auth_pass" message, and
            // `keepalived -t` then fails: refuse rather than run a different password.
            ok = false;
            sink.error(
                w.pos,
                format!(
                    "auth_pass is {} bytes long: VRRPv2 carries at most 8 (keepalived would truncate it to \"{}\")",
                    w.text.len(),
                    String::from_utf8_lossy(&w.text.as_bytes()[..8])
                ),
            );
        } else {
            pass = Some(w.text.clone());
        }
    }
    if !ok {
        return None;
    }
    match (auth_type, pass) {
        (Some(()), Some(p)) => Some(Auth::pass(&p)),
        (Some(()), None) => {
            sink.error(
                stmt.pos(),
                "authentication has auth_type PASS but no auth_pass",
            );
            None
        }
        (None, _) => {
            sink.error(stmt.pos(), "authentication has no auth_type: add \"auth_type PASS\" (keepalived would silently send no authentication)");
            None
        }
    }
}

/// Applies keepalived's defaults and the checks that involve several directives.
fn resolve(
    d: &Draft,
    written: &Once,
    name: &str,
    header: Pos,
    global: &GlobalDefs,
    sink: &mut Sink,
) -> Option<VrrpInstance> {
    let scope = format!("vrrp_instance {name}");
    let interface = match &d.interface {
        Some((iface, pos)) => {
            if iface == "lo" {
                sink.error(*pos, "interface lo is the loopback: VRRP needs a broadcast interface (keepalived refuses lo)");
            }
            Some(iface.clone())
        }
        None => {
            if !written.seen("interface") {
                sink.error(
                    header,
                    format!("{scope} has no \"interface\": add \"interface IFNAME\""),
                );
            }
            None
        }
    };
    if !written.seen("virtual_router_id") {
        sink.error(header, format!("{scope} has no \"virtual_router_id\": add \"virtual_router_id 1..255\", the same on every node of this router"));
    }

    // Family: the first VIP's. Every VIP, the unicast source and the peers follow it.
    let vips = d.vips.clone().unwrap_or_default();
    let family = match vips.first() {
        Some((first, first_pos)) => {
            let family = first.family();
            for (vip, pos) in &vips[1..] {
                if vip.family() != family {
                    sink.error(*pos, format!(
                        "virtual_ipaddress {} is {} but {scope} is {family} (from {} at line {}): put each family in its own vrrp_instance",
                        vip.addr, vip.family(), first.addr, first_pos.line
                    ));
                }
            }
            Some(family)
        }
        None => {
            if d.vip_entries == 0 {
                sink.error(
                    header,
                    format!("{scope} has no virtual_ipaddress: add at least one address to float"),
                );
            }
            None
        }
    };
    // RFC 9568 §5.2.9: in IPv6 the first address of an advert is the link-local
    // one; keepalived only warns ("the first IPv6 VIP address should be link local").
    if let Some((first, pos)) = vips.first() {
        if let std::net::IpAddr::V6(a) = first.addr {
            if a.segments()[0] & 0xffc0 != 0xfe80 {
                sink.warning(*pos, format!("the first IPv6 virtual_ipaddress {a} is not link-local: RFC 9568 §5.2.9 puts a link-local address (fe80::/10) first, and other VRRP implementations may refuse the adverts"));
            }
        }
    }
    let mut seen = std::collections::HashSet::new();
    for (vip, pos) in &vips {
        if !seen.insert(vip.addr) {
            sink.warning(
                *pos,
                format!("virtual_ipaddress {} is listed twice in {scope}", vip.addr),
            );
        }
    }
    if let (Some(family), Some((src, pos))) = (family, d.unicast_src_ip) {
        if Family::of(&src) != family {
            sink.error(
                pos,
                format!(
                    "unicast_src_ip {src} is {} but {scope} is {family}",
                    Family::of(&src)
                ),
            );
        }
    }
    if let Some((peers, _)) = &d.peers {
        let mut seen = std::collections::HashSet::new();
        for (peer, pos) in peers {
            if let Some(family) = family {
                if Family::of(peer) != family {
                    sink.error(
                        *pos,
                        format!(
                            "unicast_peer {peer} is {} but {scope} is {family}",
                            Family::of(peer)
                        ),
                    );
                }
            }
            if !seen.insert(*peer) {
                sink.warning(*pos, format!("unicast_peer {peer} is listed twice"));
            }
            if d.unicast_src_ip.is_some_and(|(src, _)| src == *peer) {
                sink.error(
                    *pos,
                    format!("unicast_peer {peer} is this node's own unicast_src_ip"),
                );
            }
        }
    }
    let peers: Vec<IpAddr> = d
        .peers
        .iter()
        .flat_map(|(p, _)| p.iter().map(|(a, _)| *a))
        .collect();
    if peers.is_empty() {
        if let Some((_, pos)) = d.unicast_src_ip {
            sink.error(pos, "unicast_src_ip without any unicast_peer: add the peers, or remove unicast_src_ip for multicast (keepalived falls back to multicast and calls this deprecated)");
        } else if let (Some((_, pos)), 0) = (&d.peers, d.peer_entries) {
            sink.error(*pos, "unicast_peer block is empty: list the other nodes' addresses, one per line, or remove it for multicast");
        }
    }

    // Version: instance `version`, else global `vrrp_version`; IPv6 is always v3.
    let version = match (family, d.version) {
        (Some(Family::V6), Some((Version::V2, pos))) => {
            sink.error(pos, "version 2 cannot carry IPv6 addresses (RFC 3768 is IPv4 only): use version 3 or remove the line");
            Version::V3
        }
        (Some(Family::V6), _) => Version::V3,
        (_, Some((v, _))) => v,
        (_, None) => global.vrrp_version,
    };
    let advert_int = match &d.advert_int {
        Some(w) => check(
            sink,
            w,
            AdvertInterval::parse(&w.text, version).map_err(|e| e.to_string()),
        ),
        None => Some(AdvertInterval::DEFAULT),
    };
    let auth = match d.auth {
        Some((auth, pos)) => {
            if version == Version::V3 {
                sink.error(pos, format!("authentication is not part of VRRPv3 (RFC 5798 removed it) and keepalived refuses it: remove it, or use version 2 for IPv4 ({scope} is {version})"));
            }
            auth
        }
        None => Auth::None,
    };

    // keepalived: no priority -> 255 with state MASTER, else 100; no state -> MASTER
    // if the priority is 255, else BACKUP.
    let priority = match (d.priority, d.state) {
        (Some((p, _)), _) => p,
        (None, Some((InitialState::Master, pos))) => {
            sink.warning(pos, "state MASTER without a priority: keepalived then uses priority 255 (address owner), which always preempts; set \"priority\" explicitly");
            Priority::OWNER
        }
        (None, _) => Priority::DEFAULT,
    };
    let initial_state = match d.state {
        Some((s, _)) => s,
        None if priority.is_owner() => InitialState::Master,
        None => InitialState::Backup,
    };
    if let Some(pos) = d.nopreempt {
        // keepalived clears nopreempt in both cases, and `keepalived -t` fails.
        if initial_state == InitialState::Master {
            sink.error(pos, "nopreempt does not work with state MASTER (keepalived ignores it and `keepalived -t` fails): use state BACKUP on every node");
        } else if priority.is_owner() {
            sink.error(pos, "nopreempt does not work with priority 255: the address owner always preempts (RFC 9568 §6.4.2)");
        }
        if let Some((_, delay_pos)) = d.preempt_delay {
            // keepalived resets preempt_delay then, and `keepalived -t` fails.
            sink.error(
                delay_pos,
                format!(
                    "preempt_delay has no effect with nopreempt (line {}): remove one of them",
                    pos.line
                ),
            );
        }
    } else if let Some((_, delay_pos)) = d.preempt_delay {
        // keepalived: "preempt delay will not work with initial state MASTER - clearing".
        if initial_state == InitialState::Master {
            sink.error(delay_pos, "preempt_delay does not work with state MASTER (keepalived clears it and `keepalived -t` fails): use state BACKUP");
        } else if priority.is_owner() {
            sink.error(
                delay_pos,
                "preempt_delay does not work with priority 255: the address owner preempts at once",
            );
        }
    }

    // keepalived -t fails on each of these ("Ignoring track_interface ... since own
    // interface", "duplicate track_interface/track_script ... - ignoring").
    let mut tracked = std::collections::HashMap::new();
    for (t, pos) in &d.track_interfaces {
        if interface.as_deref() == Some(t.name.as_str()) {
            sink.error(*pos, format!("track_interface {} is the instance's own interface, which is always tracked: remove it", t.name));
        } else if let Some(first) = tracked.insert(t.name.as_str(), pos.line) {
            sink.error(
                *pos,
                format!(
                    "track_interface {} is listed twice (first at line {first})",
                    t.name
                ),
            );
        }
    }
    if priority.is_owner() {
        for (t, pos) in &d.track_interfaces {
            if t.weight.is_some_and(|w| w.get() != 0) {
                sink.error(*pos, format!("track_interface {} has a weight, but priority 255 (address owner) never changes (keepalived ignores it and `keepalived -t` fails): remove the weight or lower the priority", t.name));
            }
        }
    }
    let mut tracked = std::collections::HashMap::new();
    for (t, pos) in &d.track_scripts {
        if let Some(first) = tracked.insert(t.name.as_str(), pos.line) {
            sink.error(
                *pos,
                format!(
                    "track_script {} is listed twice (first at line {first})",
                    t.name
                ),
            );
        }
    }

    if let Some(iface) = &interface {
        for (vip, pos) in vips.iter().chain(&d.vips_excluded) {
            if let Some(label) = &vip.label {
                let dev = vip.dev.as_deref().unwrap_or(iface);
                if vip.family() == Family::V6 {
                    sink.error(*pos, format!("label {label} on IPv6 address {}: labels exist only for IPv4 addresses", vip.addr));
                } else if !label.starts_with(dev) {
                    sink.error(*pos, format!("label {label} must begin with the device name {dev} (kernel rule, e.g. {dev}:1)"));
                }
            }
        }
    }

    Some(VrrpInstance {
        name: name.to_string(),
        initial_state,
        interface: interface?,
        vrid: d.vrid?,
        priority,
        advert_int: advert_int?,
        version,
        preempt: d.nopreempt.is_none(),
        preempt_delay: d.preempt_delay.map_or(Duration::ZERO, |(p, _)| p),
        auth,
        unicast_src_ip: d.unicast_src_ip.map(|(a, _)| a),
        unicast_peers: peers,
        vips: vips.into_iter().map(|(v, _)| v).collect(),
        vips_excluded: d.vips_excluded.iter().map(|(v, _)| v.clone()).collect(),
        track_interfaces: d.track_interfaces.iter().map(|(t, _)| t.clone()).collect(),
        track_scripts: d.track_scripts.iter().map(|(t, _)| t.clone()).collect(),
        garp_master_delay: d
            .garp_master_delay
            .or(global.garp_master_delay)
            .unwrap_or(VrrpInstance::DEFAULT_GARP_DELAY),
        garp_master_repeat: d
            .garp_master_repeat
            .or(global.garp_master_repeat)
            .unwrap_or(VrrpInstance::DEFAULT_GARP_REPEAT),
        garp_master_refresh: d
            .garp_master_refresh
            .or(global.garp_master_refresh)
            .filter(|d| !d.is_zero()),
        family: family?,
    })
}
