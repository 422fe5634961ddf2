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
        // A rolling_from VRID is the router's too (K-17): no other may use it.
        let keys = inst.key.iter().map(|k| (k, inst.header, "uses")).chain(
            inst.rolling_keys
                .iter()
                .map(|(k, pos)| (k, *pos, "rolls from")),
        );
        for (key, pos, verb) in keys {
            if let Some((other, line)) = routers.get(key) {
                let (vrid, family, iface) = key;
                sink.error(
                    pos,
                    format!(
                        "vrrp_instance {} {verb} VRID {vrid} for {family} on {iface}, like vrrp_instance {other} (line {line}): give each router its own virtual_router_id",
                        inst.name
                    ),
                );
            } else {
                routers.insert(key.clone(), (inst.name.as_str(), pos.line));
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
        for (name, weight, pos) in &inst.track_scripts {
            let script_weight = outline
                .scripts
                .iter()
                .find(|s| s.name == *name)
                .map(|s| s.weight);
            let effective = weight.or(script_weight).map_or(0, |w| w.get());
            if inst.owner && effective != 0 {
                sink.error(
                    *pos,
                    format!(
                        "track_script {name} has weight {effective}, but vrrp_instance {} has priority 255 (address owner), which never changes (keepalived ignores the script and `keepalived -t` fails): use \"{name} weight 0\" or lower the priority",
                        inst.name
                    ),
                );
            }
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
            .any(|i| i.track_scripts.iter().any(|(n, _, _)| *n == script.name));
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

#[cfg(test)]
mod tests {
    use crate::config::parse;

    fn diags(text: &str) -> Vec<String> {
        let list = match parse("k.conf", text.as_bytes()) {
            Ok(loaded) => loaded.warnings,
            Err(all) => all,
        };
        list.iter().map(|d| d.to_string()).collect()
    }

    fn inst(name: &str, vrid: u8, iface: &str, vip: &str) -> String {
        format!(
            "vrrp_instance {name} {{\n    interface {iface}\n    virtual_router_id {vrid}\n    virtual_ipaddress {{ {vip} }}\n}}\n"
        )
    }

    const SECURE: &str = "global_defs {\n    enable_script_security\n    script_user root\n}\n";

    #[test]
    fn instance_names_are_unique() {
        let text = inst("VI_1", 1, "eth0", "10.0.0.1") + &inst("VI_1", 2, "eth0", "10.0.0.2");
        assert_eq!(
            diags(&text),
            vec!["k.conf:6:1: error: duplicate vrrp_instance name \"VI_1\" (first defined at line 1)"]
        );
    }

    #[test]
    fn vrid_family_and_interface_together_are_unique() {
        let text = inst("A", 7, "eth0", "10.0.0.1") + &inst("B", 7, "eth0", "10.0.0.2");
        assert_eq!(
            diags(&text),
            vec!["k.conf:6:1: error: vrrp_instance B uses VRID 7 for IPv4 on eth0, like vrrp_instance A (line 1): give each router its own virtual_router_id"]
        );
        // Another family or another interface is another router (RFC 9568 §6.1).
        let text = inst("A", 7, "eth0", "10.0.0.1")
            + &inst("B", 7, "eth0", "fe80::2")
            + &inst("C", 7, "eth1", "10.0.0.3");
        assert_eq!(diags(&text), Vec::<String>::new());
    }

    #[test]
    fn track_script_must_name_a_defined_vrrp_script() {
        let text = inst("A", 1, "eth0", "10.0.0.1")
            .replace("}\n}", "}\n    track_script {\n        chk_x\n    }\n}");
        assert_eq!(
            diags(&text),
            vec![
                "k.conf:6:9: error: track_script \"chk_x\" names no vrrp_script (none is defined)"
            ]
        );
        let text = format!("{SECURE}vrrp_script chk {{\n    script /bin/true\n}}\n{text}");
        assert_eq!(
            diags(&text),
            vec![
                "k.conf:5:1: warning: vrrp_script chk is not tracked by any vrrp_instance: it runs for nothing",
                "k.conf:13:9: error: track_script \"chk_x\" names no vrrp_script (defined: chk)",
            ]
        );
    }

    #[test]
    fn an_address_owner_takes_no_weighted_trackers() {
        let owner = inst("A", 1, "eth0", "10.0.0.1").replace(
            "}\n}",
            "}\n    priority 255\n    track_script {\n        chk\n        chk0 weight 0\n    }\n    track_interface {\n        eth1 weight 5\n        eth2\n    }\n}",
        );
        let text = format!(
            "{SECURE}vrrp_script chk {{\n    script /bin/true\n    weight 2\n}}\nvrrp_script chk0 {{\n    script /bin/true\n    weight 2\n}}\n{owner}"
        );
        assert_eq!(
            diags(&text),
            vec![
                "k.conf:19:9: error: track_script chk has weight 2, but vrrp_instance A has priority 255 (address owner), which never changes (keepalived ignores the script and `keepalived -t` fails): use \"chk weight 0\" or lower the priority",
                "k.conf:23:9: error: track_interface eth1 has a weight, but priority 255 (address owner) never changes (keepalived ignores it and `keepalived -t` fails): remove the weight or lower the priority",
            ]
        );
    }

    #[test]
    fn script_names_are_unique() {
        let text = format!(
            "{SECURE}vrrp_script chk {{\n    script /bin/true\n}}\nvrrp_script chk {{\n    script /bin/false\n}}\n{}",
            inst("A", 1, "eth0", "10.0.0.1").replace(
                "}\n}",
                "}\n    track_script {\n        chk\n    }\n}"
            )
        );
        assert_eq!(
            diags(&text),
            vec!["k.conf:8:1: error: duplicate vrrp_script name \"chk\" (first defined at line 5)"]
        );
    }

    #[test]
    fn scripts_without_script_security_get_a_warning() {
        let text = format!(
            "vrrp_script chk {{\n    script /bin/true\n}}\n{}",
            inst("A", 1, "eth0", "10.0.0.1")
                .replace("}\n}", "}\n    track_script {\n        chk\n    }\n}")
        );
        assert_eq!(
            diags(&text),
            vec!["k.conf:1:1: warning: vrrp_script without enable_script_security in global_defs: keepalived runs it but `keepalived -t` reports a SECURITY VIOLATION (exit 6); add global_defs { enable_script_security  script_user USER }"]
        );
        assert_eq!(diags(&format!("{SECURE}{text}")), Vec::<String>::new());
    }

    #[test]
    fn a_vip_in_two_instances_gets_a_warning() {
        let text = inst("A", 1, "eth0", "10.0.0.1") + &inst("B", 2, "eth0", "10.0.0.1");
        assert_eq!(
            diags(&text),
            vec!["k.conf:9:25: warning: virtual_ipaddress 10.0.0.1 is also in vrrp_instance A (line 4): two routers will fight over it"]
        );
    }
}
