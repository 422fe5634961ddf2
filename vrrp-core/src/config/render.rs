//! Writes a [`Config`] back as keepalived.conf, every value explicit, in a form that
//! both this parser and keepalived 2.2 read back to the same thing
//! (`parse(render(c)) == c` is a property test).
//!
//! Only configs that could have come from the parser render faithfully: strings
//! must not contain `"` or line breaks, and GARP and script timers are whole seconds.

use std::borrow::Cow;
use std::fmt::{self, Write};

use super::model::{Config, GlobalDefs, ScriptUser, VirtualAddress, VrrpInstance, VrrpScript};
use super::values::format_secs;

/// A word as the lexer reads it back: quoted when it holds a blank, a brace, a quote
/// or a comment character, or is empty.
fn word(text: &str) -> Cow<'_, str> {
    let plain = !text.is_empty()
        && !text
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '{' | '}' | '"' | '#' | '!'));
    if plain {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(format!("\"{text}\""))
    }
}

fn user(u: &ScriptUser) -> String {
    match &u.group {
        Some(g) => format!("{} {}", word(&u.user), word(g)),
        None => word(&u.user).into_owned(),
    }
}

impl fmt::Display for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        global(f, &self.global)?;
        for s in &self.scripts {
            script(f, s)?;
        }
        for i in &self.instances {
            instance(f, i)?;
        }
        Ok(())
    }
}

impl Config {
    /// The config as keepalived.conf text (same as `to_string()`).
    pub fn to_keepalived_conf(&self) -> String {
        self.to_string()
    }

    /// One line for an operator: what the file defines.
    /// `1 vrrp_instance (VI_1: VRID 23, IPv4, VRRPv2, MASTER, priority 101, eth0, 1 VIP), 1 vrrp_script (chk)`
    pub fn summary(&self) -> String {
        let plural = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
        let instances: Vec<String> = self
            .instances
            .iter()
            .map(|i| {
                format!(
                    "{}: VRID {}, {}, {}, {}, priority {}, {}, {}{}",
                    i.name,
                    i.vrid,
                    i.family,
                    i.version,
                    i.initial_state,
                    i.priority,
                    i.interface,
                    plural(i.vips.len(), "VIP"),
                    if i.is_unicast() {
                        format!(", unicast to {}", plural(i.unicast_peers.len(), "peer"))
                    } else {
                        String::new()
                    }
                )
            })
            .collect();
        let mut out = format!(
            "{} ({})",
            plural(self.instances.len(), "vrrp_instance"),
            instances.join("; ")
        );
        if !self.scripts.is_empty() {
            let names: Vec<&str> = self.scripts.iter().map(|s| s.name.as_str()).collect();
            let _ = write!(
                out,
                ", {} ({})",
                plural(self.scripts.len(), "vrrp_script"),
                names.join(", ")
            );
        }
        out
    }
}

fn global(f: &mut fmt::Formatter<'_>, g: &GlobalDefs) -> fmt::Result {
    writeln!(f, "global_defs {{")?;
    if let Some(id) = &g.router_id {
        writeln!(f, "    router_id {}", word(id))?;
    }
    writeln!(f, "    vrrp_version {}", g.vrrp_version.wire())?;
    if let Some(u) = &g.script_user {
        writeln!(f, "    script_user {}", user(u))?;
    }
    if g.enable_script_security {
        writeln!(f, "    enable_script_security")?;
    }
    if let Some(d) = g.garp_master_delay {
        writeln!(f, "    vrrp_garp_master_delay {}", d.as_secs())?;
    }
    if let Some(n) = g.garp_master_repeat {
        writeln!(f, "    vrrp_garp_master_repeat {n}")?;
    }
    if let Some(d) = g.garp_master_refresh {
        writeln!(f, "    vrrp_garp_master_refresh {}", d.as_secs())?;
    }
    if let Some(n) = g.down_timer_adverts {
        writeln!(f, "    vrrp_down_timer_adverts {n}")?;
    }
    if let Some(p) = g.rt_priority {
        writeln!(f, "    vrrp_rt_priority {p}")?;
    }
    if g.no_swap {
        writeln!(f, "    vrrp_no_swap")?;
    }
    writeln!(f, "}}")
}

fn script(f: &mut fmt::Formatter<'_>, s: &VrrpScript) -> fmt::Result {
    writeln!(f, "vrrp_script {} {{", word(&s.name))?;
    // Always quoted: the command line is one argument whatever it holds.
    writeln!(f, "    script \"{}\"", s.script)?;
    writeln!(f, "    interval {}", s.interval.as_secs())?;
    writeln!(f, "    timeout {}", s.timeout.as_secs())?;
    writeln!(f, "    weight {}", s.weight)?;
    writeln!(f, "    rise {}", s.rise)?;
    writeln!(f, "    fall {}", s.fall)?;
    if s.init_fail {
        writeln!(f, "    init_fail")?;
    }
    if let Some(u) = &s.user {
        writeln!(f, "    user {}", user(u))?;
    }
    writeln!(f, "}}")
}

fn vip(v: &VirtualAddress) -> String {
    let mut out = format!("{}/{}", v.addr, v.prefix_len);
    if let Some(dev) = &v.dev {
        let _ = write!(out, " dev {}", word(dev));
    }
    if let Some(label) = &v.label {
        let _ = write!(out, " label {}", word(label));
    }
    out
}

fn list(f: &mut fmt::Formatter<'_>, name: &str, items: &[String]) -> fmt::Result {
    if items.is_empty() {
        return Ok(());
    }
    writeln!(f, "    {name} {{")?;
    for item in items {
        writeln!(f, "        {item}")?;
    }
    writeln!(f, "    }}")
}

fn instance(f: &mut fmt::Formatter<'_>, i: &VrrpInstance) -> fmt::Result {
    writeln!(f, "vrrp_instance {} {{", word(&i.name))?;
    writeln!(f, "    state {}", i.initial_state)?;
    writeln!(f, "    interface {}", word(&i.interface))?;
    writeln!(f, "    virtual_router_id {}", i.vrid)?;
    writeln!(f, "    priority {}", i.priority)?;
    writeln!(f, "    advert_int {}", i.advert_int)?;
    writeln!(f, "    version {}", i.version.wire())?;
    if !i.preempt {
        writeln!(f, "    nopreempt")?;
    }
    if !i.preempt_delay.is_zero() {
        writeln!(f, "    preempt_delay {}", format_secs(i.preempt_delay))?;
    }
    if let Some(pass) = i.auth.password() {
        writeln!(f, "    authentication {{")?;
        writeln!(f, "        auth_type PASS")?;
        writeln!(f, "        auth_pass {}", word(&pass))?;
        writeln!(f, "    }}")?;
    }
    if let Some(src) = i.unicast_src_ip {
        writeln!(f, "    unicast_src_ip {src}")?;
    }
    let peers: Vec<String> = i.unicast_peers.iter().map(|p| p.to_string()).collect();
    list(f, "unicast_peer", &peers)?;
    list(
        f,
        "virtual_ipaddress",
        &i.vips.iter().map(vip).collect::<Vec<_>>(),
    )?;
    list(
        f,
        "virtual_ipaddress_excluded",
        &i.vips_excluded.iter().map(vip).collect::<Vec<_>>(),
    )?;
    let tracked = |name: &str, weight: Option<super::model::Weight>| match weight {
        Some(w) => format!("{} weight {w}", word(name)),
        None => word(name).into_owned(),
    };
    list(
        f,
        "track_interface",
        &i.track_interfaces
            .iter()
            .map(|t| tracked(&t.name, t.weight))
            .collect::<Vec<_>>(),
    )?;
    list(
        f,
        "track_script",
        &i.track_scripts
            .iter()
            .map(|t| tracked(&t.name, t.weight))
            .collect::<Vec<_>>(),
    )?;
    writeln!(f, "    garp_master_delay {}", i.garp_master_delay.as_secs())?;
    writeln!(f, "    garp_master_repeat {}", i.garp_master_repeat)?;
    // Always written: an absent line would inherit vrrp_garp_master_refresh.
    writeln!(
        f,
        "    garp_master_refresh {}",
        i.garp_master_refresh.map_or(0, |d| d.as_secs())
    )?;
    // Always written, like the refresh: an absent line would inherit the global.
    writeln!(f, "    down_timer_adverts {}", i.down_timer_adverts)?;
    if let Some(from) = &i.rolling_from {
        writeln!(f, "    rolling_from {{")?;
        writeln!(f, "        virtual_router_id {}", from.vrid)?;
        if let Some(pass) = from.auth.password() {
            writeln!(f, "        authentication {{")?;
            writeln!(f, "            auth_type PASS")?;
            writeln!(f, "            auth_pass {}", word(&pass))?;
            writeln!(f, "        }}")?;
        }
        if !from.unicast_peers.is_empty() {
            writeln!(f, "        unicast_peer {{")?;
            for p in &from.unicast_peers {
                writeln!(f, "            {p}")?;
            }
            writeln!(f, "        }}")?;
        }
        if let Some(iface) = &from.interface {
            writeln!(f, "        interface {}", word(iface))?;
        }
        writeln!(f, "    }}")?;
    }
    writeln!(f, "}}")
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::config::{parse, Config, VirtualAddress, VrrpInstance};
    use crate::proto::{Auth, Vrid};

    fn round_trip(config: &Config) -> Config {
        let text = config.to_keepalived_conf();
        parse("r.conf", text.as_bytes())
            .unwrap_or_else(|e| panic!("{e:?}\n{text}"))
            .config
    }

    fn instance() -> VrrpInstance {
        VrrpInstance::new(
            "VI_1",
            "eth0",
            Vrid::new(23).unwrap(),
            vec![VirtualAddress::host("10.1.2.3".parse().unwrap())],
        )
    }

    #[test]
    fn refresh_off_under_a_global_refresh_survives_a_round_trip() {
        // Found by the round-trip property: without an explicit
        // `garp_master_refresh 0` the instance would inherit the global value.
        let mut config = Config::default();
        config.global.garp_master_refresh = Some(Duration::from_secs(60));
        config.instances.push(instance());
        assert_eq!(config.instances[0].garp_master_refresh, None);
        assert_eq!(round_trip(&config), config);
    }

    #[test]
    fn words_with_blanks_or_comment_characters_are_quoted() {
        let mut config = Config::default();
        let mut i = instance();
        i.name = "VI #1".into();
        i.auth = Auth::pass("a b!c");
        config.instances.push(i);
        let text = config.to_keepalived_conf();
        assert!(text.contains("vrrp_instance \"VI #1\" {\n"), "{text}");
        assert!(text.contains("        auth_pass \"a b!c\"\n"), "{text}");
        assert_eq!(round_trip(&config), config);
    }

    #[test]
    fn an_instance_renders_every_value_explicitly() {
        let mut config = Config::default();
        config.instances.push(instance());
        assert_eq!(
            config.to_keepalived_conf(),
            "global_defs {
    vrrp_version 2
}
vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 23
    priority 100
    advert_int 1
    version 2
    virtual_ipaddress {
        10.1.2.3/32
    }
    garp_master_delay 5
    garp_master_repeat 5
    garp_master_refresh 0
    down_timer_adverts 3
}
"
        );
    }
}
