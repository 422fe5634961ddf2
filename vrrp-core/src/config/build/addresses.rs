//! The list blocks inside `vrrp_instance`: one entry per line.
//!
//! keepalived reads these blocks line by line too: `unicast_peer { 10.0.0.1
//! 10.0.0.2 }` on one line is one entry with a stray word, not two peers.

use std::net::IpAddr;

use super::check;
use crate::config::diagnostic::{Pos, Sink};
use crate::config::model::{TrackInterface, TrackScript, VirtualAddress, Weight};
use crate::config::syntax::{Block, Stmt, Word};
use crate::config::values::{addr_with_prefix, int, interface_name, unicast_addr};

/// keepalived VIP options this engine does not implement.
const VIP_UNSUPPORTED: &[&str] = &[
    "brd",
    "broadcast",
    "scope",
    "no_track",
    "preferred_lft",
    "home",
    "nodad",
    "noprefixroute",
    "autojoin",
    "track_group",
    "peer",
];

fn no_nested_block(sink: &mut Sink, entry: &Stmt, list: &str) -> bool {
    match &entry.block {
        Some(b) => {
            sink.error(b.open, format!("entries of {list} take no {{ }} block"));
            false
        }
        None => true,
    }
}

/// `virtual_ipaddress` / `virtual_ipaddress_excluded` entries:
/// `ADDR[/PREFIX] [dev IFNAME] [label LABEL]`, one per line.
pub(super) fn vips(sink: &mut Sink, block: &Block, list: &str) -> Vec<(VirtualAddress, Pos)> {
    let mut out = Vec::new();
    for entry in &block.stmts {
        if !no_nested_block(sink, entry, list) {
            continue;
        }
        let Some((addr, prefix_len)) =
            check(sink, &entry.keyword, addr_with_prefix(list, entry.name()))
        else {
            continue;
        };
        let mut vip = VirtualAddress {
            addr,
            prefix_len,
            dev: None,
            label: None,
        };
        let mut ok = true;
        let mut words = entry.args.iter();
        while let Some(option) = words.next() {
            let name = option.text.as_str();
            if !matches!(name, "dev" | "label") {
                ok = false;
                let usage = "ADDR[/PREFIX] [dev IFNAME] [label LABEL], one address per line";
                if VIP_UNSUPPORTED.contains(&name) {
                    sink.error(option.pos, format!("unsupported option \"{name}\" for {list} {}: keepalived has it but this engine does not implement it (usage: {usage})", entry.name()));
                } else {
                    sink.error(
                        option.pos,
                        format!(
                            "unknown option \"{name}\" for {list} {} (usage: {usage})",
                            entry.name()
                        ),
                    );
                }
                break;
            }
            let Some(value) = words.next() else {
                sink.error(
                    option.pos,
                    format!("\"{name}\" for {list} {} needs a value", entry.name()),
                );
                ok = false;
                break;
            };
            let slot = if name == "dev" {
                &mut vip.dev
            } else {
                &mut vip.label
            };
            if slot.is_some() {
                sink.error(
                    option.pos,
                    format!("duplicate \"{name}\" for {list} {}", entry.name()),
                );
                ok = false;
                continue;
            }
            let parsed = if name == "dev" {
                interface_name("dev", &value.text)
            } else {
                label(&value.text)
            };
            match check(sink, value, parsed) {
                Some(v) => *slot = Some(v),
                None => ok = false,
            }
        }
        if ok {
            out.push((vip, entry.pos()));
        }
    }
    out
}

/// An address label: the kernel's IFNAMSIZ limit; that it starts with the device
/// name is checked once the device is known.
fn label(text: &str) -> Result<String, String> {
    if text.is_empty()
        || text.len() > 15
        || text.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(format!(
            "label \"{text}\" is not a valid address label: 1 to 15 characters without blanks"
        ));
    }
    Ok(text.to_string())
}

/// `unicast_peer { ADDR ... }`, one address per line.
pub(super) fn peers(sink: &mut Sink, block: &Block) -> Vec<(IpAddr, Pos)> {
    let mut out = Vec::new();
    for entry in &block.stmts {
        if !no_nested_block(sink, entry, "unicast_peer") {
            continue;
        }
        if let Some(extra) = entry.args.first() {
            sink.error(
                extra.pos,
                format!(
                    "unexpected \"{}\" after unicast_peer {}: one address per line, and per-peer options (min_ttl, max_ttl) are not implemented",
                    extra.text,
                    entry.name()
                ),
            );
            continue;
        }
        if let Some(addr) = check(
            sink,
            &entry.keyword,
            unicast_addr("unicast_peer", entry.name()),
        ) {
            out.push((addr, entry.pos()));
        }
    }
    out
}

/// An optional `weight N` after a tracked object's name.
fn weight(sink: &mut Sink, entry: &Stmt, list: &str) -> Result<Option<Weight>, ()> {
    match entry.args.as_slice() {
        [] => Ok(None),
        [kw, value] if kw.text == "weight" => check(
            sink,
            value,
            int("weight", &value.text, -Weight::MAX, Weight::MAX),
        )
        .and_then(|n| Weight::new(n).ok())
        .map(Some)
        .ok_or(()),
        [first, ..] => {
            let what: &Word = if first.text == "weight" {
                entry.args.get(2).unwrap_or(first)
            } else {
                first
            };
            let hint = if matches!(what.text.as_str(), "reverse" | "no_reverse") {
                "reverse weights are not implemented"
            } else {
                "usage: NAME [weight -253..253], one per line"
            };
            sink.error(
                what.pos,
                format!(
                    "unexpected \"{}\" in {list} entry {}: {hint}",
                    what.text,
                    entry.name()
                ),
            );
            Err(())
        }
    }
}

/// `track_interface { IFNAME [weight N] }`.
pub(super) fn track_interfaces(sink: &mut Sink, block: &Block) -> Vec<(TrackInterface, Pos)> {
    let mut out = Vec::new();
    for entry in &block.stmts {
        if !no_nested_block(sink, entry, "track_interface") {
            continue;
        }
        let name = check(
            sink,
            &entry.keyword,
            interface_name("track_interface", entry.name()),
        );
        let weight = weight(sink, entry, "track_interface");
        if let (Some(name), Ok(weight)) = (name, weight) {
            out.push((TrackInterface { name, weight }, entry.pos()));
        }
    }
    out
}

/// `track_script { NAME [weight N] }`, with the position of each name.
pub(super) fn track_scripts(sink: &mut Sink, block: &Block) -> Vec<(TrackScript, Pos)> {
    let mut out = Vec::new();
    for entry in &block.stmts {
        if !no_nested_block(sink, entry, "track_script") {
            continue;
        }
        if let Ok(weight) = weight(sink, entry, "track_script") {
            out.push((
                TrackScript {
                    name: entry.name().to_string(),
                    weight,
                },
                entry.pos(),
            ));
        }
    }
    out
}
