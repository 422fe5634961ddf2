//! Checks across objects: names unique, references resolved, no two routers on the
//! same (VRID, family, interface). Per-directive and per-instance checks happen while
//! building (`build`), where every value still has its position.

use std::collections::HashMap;

use super::build::Outline;
use super::diagnostic::Sink;
use super::model::Config;

pub(crate) fn validate(config: &Config, outline: &Outline, sink: &mut Sink) {
    let mut scripts = HashMap::new();
    for script in &outline.scripts {
        if let Some(first) = scripts.insert(script.name.as_str(), script.header) {
            sink.error(
                script.header,
                format!(
                    "duplicate vrrp_script name \"{}\" (first defined at line {})",
                    script.name, first.line
                ),
            );
            scripts.insert(script.name.as_str(), first);
        }
    }

    let mut names = HashMap::new();
    let mut routers = HashMap::new();
    let mut vips = HashMap::new();
    for inst in &outline.instances {
        if let Some(first) = names.insert(inst.name.as_str(), inst.header) {
            sink.error(
                inst.header,
                format!(
                    "duplicate vrrp_instance name \"{}\" (first defined at line {})",
                    inst.name, first.line
                ),
            );
            names.insert(inst.name.as_str(), first);
        }
        if let Some(key) = &inst.key {
            if let Some((other, line)) = routers.get(key) {
                let (vrid, family, iface) = key;
                sink.error(
                    inst.header,
                    format!(
                        "vrrp_instance {} uses VRID {vrid} for {family} on {iface}, like vrrp_instance {other} (line {line}): give each router its own virtual_router_id",
                        inst.name
                    ),
                );
            } else {
                routers.insert(key.clone(), (inst.name.as_str(), inst.header.line));
            }
        }
        for (addr, pos) in &inst.vips {
            match vips.get(addr) {
                Some((other, line)) if *other != inst.name.as_str() => sink.warning(
                    *pos,
                    format!(
                        "virtual_ipaddress {addr} is also in vrrp_instance {other} (line {line}): two routers will fight over it"
                    ),
                ),
                Some(_) => {}
                None => {
                    vips.insert(*addr, (inst.name.as_str(), pos.line));
                }
            }
        }
        for (name, pos) in &inst.track_scripts {
            if !scripts.contains_key(name.as_str()) {
                let defined: Vec<&str> = outline.scripts.iter().map(|s| s.name.as_str()).collect();
                let defined = if defined.is_empty() {
                    "none is defined".to_string()
                } else {
                    format!("defined: {}", defined.join(", "))
                };
                sink.error(
                    *pos,
                    format!("track_script \"{name}\" names no vrrp_script ({defined})"),
                );
            }
        }
    }

    for script in &outline.scripts {
        let tracked = outline
            .instances
            .iter()
            .any(|i| i.track_scripts.iter().any(|(n, _)| *n == script.name));
        if !tracked {
            sink.warning(
                script.header,
                format!(
                    "vrrp_script {} is not tracked by any vrrp_instance: it runs for nothing",
                    script.name
                ),
            );
        }
    }
    if let Some(first) = outline.scripts.first() {
        if !config.global.enable_script_security {
            sink.warning(
                first.header,
                "vrrp_script without enable_script_security in global_defs: keepalived runs it but `keepalived -t` reports a SECURITY VIOLATION (exit 6); add global_defs { enable_script_security  script_user USER }",
            );
        }
    }
}
