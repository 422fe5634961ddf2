//! keepalived.conf for lab hosts: one vrrp_instance, the shape the charm renders
//! (docs/juju-contract.md O-5), with the knobs the scenarios turn.

use std::fmt::Write as _;
use std::net::IpAddr;

/// One host's keepalived.conf.
#[derive(Debug, Clone)]
pub struct KeepalivedConf {
    pub router_id: String,
    /// 2 or 3.
    pub version: u8,
    pub instance: String,
    pub interface: String,
    pub vrid: u8,
    pub priority: u8,
    /// As written in the file: "1", "0.1".
    pub advert_int: String,
    pub auth_pass: Option<String>,
    /// "10.1.2.100/24", "fd00:1:2::100/64".
    pub vips: Vec<String>,
    /// keepalived's unicast mode: `unicast_src_ip` and `unicast_peer`s.
    pub unicast: Option<(IpAddr, Vec<IpAddr>)>,
    pub nopreempt: bool,
    /// `state MASTER` instead of BACKUP (the original charm's leader).
    pub state_master: bool,
    /// A `vrrp_script` tracked by the instance (the charm's `chk_svc_port` shape).
    pub check: Option<HealthCheck>,
    /// `track_interface` entries (unweighted: down puts the instance in FAULT).
    pub track_interfaces: Vec<String>,
    /// `vrrp_rt_priority N` and `vrrp_no_swap` (the charm's starvation hardening).
    pub realtime: Option<u8>,
    /// `down_timer_adverts N` (the charm's fast timing: 5); `None` = the RFCs' 3.
    pub down_timer_adverts: Option<u8>,
}

/// A health check script: `vrrp_script NAME { script ...; interval; weight; rise; fall }`.
#[derive(Debug, Clone)]
pub struct HealthCheck {
    pub name: String,
    /// The command line, as written between the quotes.
    pub script: String,
    pub interval_s: u32,
    pub weight: i32,
    pub rise: u32,
    pub fall: u32,
}

impl HealthCheck {
    /// The charm's check: `keepalived-charm check-tcp 127.0.0.1 PORT`, weight -100.
    pub fn charm_tcp(binary: &str, port: u16) -> HealthCheck {
        HealthCheck {
            name: "chk_svc_port".to_string(),
            script: format!("{binary} check-tcp 127.0.0.1 {port}"),
            interval_s: 1,
            weight: -100,
            rise: 1,
            fall: 1,
        }
    }
}

impl KeepalivedConf {
    /// VRRPv2, VRID 51, advert_int 1, no authentication, state BACKUP (keepalived
    /// elects), on eth0.
    pub fn new(router_id: &str, priority: u8, vips: &[String]) -> KeepalivedConf {
        KeepalivedConf {
            router_id: router_id.to_string(),
            version: 2,
            instance: "VI_1".to_string(),
            interface: "eth0".to_string(),
            vrid: 51,
            priority,
            advert_int: "1".to_string(),
            auth_pass: None,
            vips: vips.to_vec(),
            unicast: None,
            nopreempt: false,
            state_master: false,
            check: None,
            track_interfaces: Vec::new(),
            realtime: None,
            down_timer_adverts: None,
        }
    }

    /// The whole file: global_defs, the script (if any), the instance.
    pub fn render(&self) -> String {
        let mut s = self.render_globals();
        s.push_str(&self.render_instance());
        s
    }

    /// global_defs and the vrrp_script block, without the instance (for files that
    /// hold several instances: `a.render_globals() + a.render_instance() + b.render_instance()`).
    pub fn render_globals(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "global_defs {{");
        let _ = writeln!(s, "    router_id {}", self.router_id);
        let _ = writeln!(s, "    vrrp_version {}", self.version);
        if let Some(p) = self.realtime {
            let _ = writeln!(s, "    vrrp_rt_priority {p}");
            let _ = writeln!(s, "    vrrp_no_swap");
        }
        if self.check.is_some() {
            let _ = writeln!(s, "    script_user root");
            let _ = writeln!(s, "    enable_script_security");
        }
        let _ = writeln!(s, "}}");
        if let Some(c) = &self.check {
            let _ = writeln!(s, "vrrp_script {} {{", c.name);
            let _ = writeln!(s, "    script \"{}\"", c.script);
            let _ = writeln!(s, "    interval {}", c.interval_s);
            let _ = writeln!(s, "    weight {}", c.weight);
            let _ = writeln!(s, "    rise {}", c.rise);
            let _ = writeln!(s, "    fall {}", c.fall);
            let _ = writeln!(s, "}}");
        }
        s
    }

    /// The vrrp_instance block alone.
    pub fn render_instance(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "vrrp_instance {} {{", self.instance);
        if self.state_master {
            let _ = writeln!(s, "    state MASTER");
        } else {
            let _ = writeln!(s, "    state BACKUP");
        }
        let _ = writeln!(s, "    interface {}", self.interface);
        let _ = writeln!(s, "    virtual_router_id {}", self.vrid);
        let _ = writeln!(s, "    priority {}", self.priority);
        let _ = writeln!(s, "    advert_int {}", self.advert_int);
        if let Some(n) = self.down_timer_adverts {
            let _ = writeln!(s, "    down_timer_adverts {n}");
        }
        if self.nopreempt {
            let _ = writeln!(s, "    nopreempt");
        }
        if let Some(pass) = &self.auth_pass {
            let _ = writeln!(s, "    authentication {{");
            let _ = writeln!(s, "        auth_type PASS");
            let _ = writeln!(s, "        auth_pass {pass}");
            let _ = writeln!(s, "    }}");
        }
        if let Some((src, peers)) = &self.unicast {
            let _ = writeln!(s, "    unicast_src_ip {src}");
            let _ = writeln!(s, "    unicast_peer {{");
            for p in peers {
                let _ = writeln!(s, "        {p}");
            }
            let _ = writeln!(s, "    }}");
        }
        if let Some(c) = &self.check {
            let _ = writeln!(s, "    track_script {{");
            let _ = writeln!(s, "        {}", c.name);
            let _ = writeln!(s, "    }}");
        }
        if !self.track_interfaces.is_empty() {
            let _ = writeln!(s, "    track_interface {{");
            for i in &self.track_interfaces {
                let _ = writeln!(s, "        {i}");
            }
            let _ = writeln!(s, "    }}");
        }
        let _ = writeln!(s, "    virtual_ipaddress {{");
        for v in &self.vips {
            let _ = writeln!(s, "        {v} dev {}", self.interface);
        }
        let _ = writeln!(s, "    }}");
        let _ = writeln!(s, "}}");
        s
    }
}

/// The `vrrp_instance` block of the original charm's keepalived.conf
/// (docs/juju-contract.md O-5) for `vip` as written in its `virtual_ipaddress` block.
pub fn original_charm_instance(vip: &str) -> String {
    format!(
        "vrrp_instance VI_1 {{
    interface eth0
    state MASTER
    priority 101
    virtual_router_id 23
    virtual_ipaddress {{
        {vip}
    }}
    track_script {{
        chk_svc_port
    }}
}}
"
    )
}
