//! keepalived.conf for lab hosts: one vrrp_instance, the shape the charm renders
//! (vrrp-reference §2.14), with the knobs the scenarios turn.

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
        }
    }

    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "global_defs {{");
        let _ = writeln!(s, "    router_id {}", self.router_id);
        let _ = writeln!(s, "    vrrp_version {}", self.version);
        let _ = writeln!(s, "}}");
        let _ = writeln!(s, "vrrp_instance {} {{", self.instance);
        let _ = writeln!(s, "    state BACKUP");
        let _ = writeln!(s, "    interface {}", self.interface);
        let _ = writeln!(s, "    virtual_router_id {}", self.vrid);
        let _ = writeln!(s, "    priority {}", self.priority);
        let _ = writeln!(s, "    advert_int {}", self.advert_int);
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
        let _ = writeln!(s, "    virtual_ipaddress {{");
        for v in &self.vips {
            let _ = writeln!(s, "        {v} dev {}", self.interface);
        }
        let _ = writeln!(s, "    }}");
        let _ = writeln!(s, "}}");
        s
    }
}
