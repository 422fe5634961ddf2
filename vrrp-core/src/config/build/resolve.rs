//! The second half of a vrrp_instance: keepalived's defaults (priority from state,
//! state from priority, version from family, GARP from global_defs) and every check
//! that involves more than one directive of the instance.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::time::Duration;

use super::instance::Draft;
use super::{check, Once};
use crate::config::diagnostic::{Pos, Sink};
use crate::config::model::{GlobalDefs, InitialState, VrrpInstance};
use crate::proto::{AdvertInterval, Auth, Family, Priority, Timers, Version};

/// Applies keepalived's defaults and the checks that involve several directives.
pub(super) fn resolve(
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
    let mut seen = HashSet::new();
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
        let mut seen = HashSet::new();
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
    let rolling_from = match &d.rolling_from {
        Some((from, pos)) => {
            let unicast = d.peers.as_ref().is_some_and(|(p, _)| !p.is_empty());
            let own_interface = d.interface.as_ref().map(|(i, _)| i.as_str());
            if from.vrid == d.vrid.unwrap_or(from.vrid)
                && from.auth == auth
                && from.unicast_peers.is_empty() != unicast
                && from
                    .interface
                    .as_deref()
                    .map_or(true, |i| Some(i) == own_interface)
            {
                sink.error(*pos, format!("rolling_from names the identity {scope} already has (the same virtual_router_id, authentication, transport and interface): remove it, or write the VRID, password, unicast peers or interface the cluster moves from"));
            }
            let stranger = family.and_then(|f| {
                from.unicast_peers
                    .iter()
                    .find(|p| Family::of(p) != f)
                    .map(|p| (f, p))
            });
            if let Some((family, peer)) = stranger {
                sink.error(
                    *pos,
                    format!(
                        "rolling_from has unicast_peer {peer}, which is {} but {scope} is {family}",
                        Family::of(peer)
                    ),
                );
            }
            if from.auth != Auth::None && version == Version::V3 {
                sink.error(*pos, format!("rolling_from has authentication, which VRRPv3 cannot carry ({scope} is {version}): keep version 2 until every router has the new password"));
            }
            Some(from.clone())
        }
        None => None,
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
    let mut tracked = HashMap::new();
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
    let mut tracked = HashMap::new();
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
        down_timer_adverts: d
            .down_timer_adverts
            .or(global.down_timer_adverts)
            .unwrap_or(Timers::RFC_DOWN_ADVERTS),
        rolling_from,
        family: family?,
    })
}
