//! What one virtual router is told to be: the plain, already-parsed settings of one
//! keepalived `vrrp_instance`. The daemon builds it from the parsed keepalived.conf;
//! the router only checks the invariants its own arithmetic relies on.

use std::net::IpAddr;
use std::time::Duration;

use crate::proto::{AdvertInterval, Auth, Family, Priority, RollingFrom, Timers, Version, Vrid};

/// keepalived's `state` keyword: only a startup hint, never a guarantee.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitialState {
    /// `state BACKUP` (and the RFC's only behaviour): the first claim comes after a
    /// full Master_Down_Interval of silence (3.609 s at the defaults).
    Backup,
    /// `state MASTER` with a priority below 255: keepalived waits one `advert_int`
    /// plus the minimal skew (the skew of priority 255) and claims Master if nobody
    /// advertised in that time ("We need to allow one adver_int to pass to ensure
    /// there is no other master", vrrp_scheduler.c). An owner (255) claims at once
    /// whatever this says.
    Master,
}

/// Gratuitous ARP / unsolicited NA policy of a Master, keepalived's `garp_*` options.
///
/// Neighbours and switches only learn that the VIP moved from these frames (without
/// vMAC the VIP answers with the physical MAC), so they are repeated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GarpConfig {
    /// `garp_master_repeat`: frames per VIP in each burst on becoming Master (5).
    pub repeat: u32,
    /// `garp_master_delay`: a second burst this long after becoming Master (5 s);
    /// zero means no second burst.
    pub delay: Duration,
    /// `garp_master_refresh`: a periodic burst while Master; zero (the default) is off.
    pub refresh: Duration,
    /// `garp_master_refresh_repeat`: frames per VIP in each refresh burst (1).
    pub refresh_repeat: u32,
    /// `garp_lower_prio_repeat`: frames per VIP re-sent when a Master hears a
    /// lower-priority advert, i.e. wins a contention. After a split brain the clients
    /// still point at the loser's MAC unless the winner re-announces (keepalived#166,
    /// docs/requirements.md K-04), so this defaults to a full burst (5); 0 turns it off.
    pub lower_prio_repeat: u32,
}

impl Default for GarpConfig {
    fn default() -> Self {
        GarpConfig {
            repeat: 5,
            delay: Duration::from_secs(5),
            refresh: Duration::ZERO,
            refresh_repeat: 1,
            lower_prio_repeat: 5,
        }
    }
}

/// A `track_script` entry of an instance, with the `vrrp_script` settings the
/// router needs to turn raw results into a status (docs/requirements.md K-02).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackScript {
    /// The `vrrp_script` name; `Input::ScriptResult` refers to it.
    pub name: String,
    /// −253..=253. 0: KO puts the instance in FAULT. > 0: added while OK.
    /// < 0: subtracted while KO (keepalived vrrp_track.c).
    pub weight: i32,
    /// Consecutive successes that turn a KO script OK (keepalived `rise`, ≥ 1).
    pub rise: u32,
    /// Consecutive failures that turn an OK script KO (keepalived `fall`, ≥ 1).
    pub fall: u32,
    /// keepalived `init_fail`: the script starts KO instead of "not yet known".
    pub init_fail: bool,
}

impl TrackScript {
    /// keepalived's defaults: rise 1, fall 1, not `init_fail`.
    pub fn new(name: impl Into<String>, weight: i32) -> TrackScript {
        TrackScript {
            name: name.into(),
            weight,
            rise: 1,
            fall: 1,
            init_fail: false,
        }
    }
}

/// A `track_interface` entry: weight 0 means "down puts the instance in FAULT";
/// otherwise a positive weight is added while up, a negative one subtracted while down.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackInterface {
    /// The interface name, as `Input::InterfaceUp/Down` report it.
    pub name: String,
    /// −253..=253; 0 = down is a FAULT.
    pub weight: i32,
}

/// The settings of one virtual router (one VRID on one interface, one family).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouterConfig {
    /// The `vrrp_instance` name, used in errors and the state file.
    pub name: String,
    /// The interface the instance runs on; `Input::InterfaceDown` for it → FAULT.
    pub interface: String,
    /// `virtual_router_id`; with `family`, the identity of the router on the link.
    pub vrid: Vrid,
    /// IPv4 and IPv6 routers with the same VRID are independent (RFC 9568 §6.1).
    pub family: Family,
    /// keepalived defaults to v2 for IPv4; v3 is required for IPv6 and sub-second
    /// intervals.
    pub version: Version,
    /// Base priority, 1..=255; 255 makes this router the address owner.
    pub priority: Priority,
    /// The interval this router advertises at when Master (and listens to before it
    /// has heard a Master, RFC 9568 §6.4.1).
    pub advert_interval: AdvertInterval,
    /// RFC Preempt_Mode (keepalived: true unless `nopreempt`). An owner always preempts.
    pub preempt: bool,
    /// keepalived `preempt_delay` (0..=1000 s): how long after startup, after leaving
    /// FAULT, or after first seeing a lower-priority Master this router keeps
    /// deferring to that Master before it preempts.
    pub preempt_delay: Duration,
    /// keepalived `state`: how long the first claim waits (see `InitialState`).
    pub initial_state: InitialState,
    /// This router's own primary address on the interface (IPv6: its link-local):
    /// the advert source and the equal-priority tie-break (RFC 9568 §6.4.3).
    pub primary_address: IpAddr,
    /// The virtual addresses, in the order they go into adverts (IPv6: the
    /// link-local VIP first, RFC 9568 §5.2.9).
    pub vips: Vec<IpAddr>,
    /// v2 only: `auth_type PASS`; must be `Auth::None` for v3.
    pub auth: Auth,
    /// Gratuitous ARP / NA policy while Master.
    pub garp: GarpConfig,
    /// keepalived `down_timer_adverts` (1..=100, RFC default 3): how many advert
    /// intervals of silence, plus Skew_Time, make the Master down. A value other than
    /// 3 is a deviation from the RFCs that every router of the instance must share
    /// (docs/requirements.md K-16).
    pub down_timer_adverts: u8,
    /// The identity a rolling `virtual_router_id` or password change moves from
    /// (K-17): every advert also goes out in it, an advert for its VRID is the
    /// router's own, and a reconfigure from or to its VRID keeps the state.
    pub rolling_from: Option<RollingFrom>,
    /// keepalived `lower_prio_no_advert`: a Master that hears a lower-priority advert
    /// stays silent (RFC 5798 behaviour) instead of re-advertising at once (RFC 9568).
    pub lower_prio_no_advert: bool,
    /// `track_script` entries: weights and FAULT (docs/requirements.md K-01, K-02).
    pub track_scripts: Vec<TrackScript>,
    /// `track_interface` entries, besides `interface` itself.
    pub track_interfaces: Vec<TrackInterface>,
}

impl RouterConfig {
    /// A router with keepalived's defaults: VRRPv2 for IPv4 / v3 for IPv6, priority
    /// 100, 1 s adverts, preempt on, no delay, `state BACKUP`, no auth, GARP 5 + 5
    /// after 5 s, no refresh, RFC 9568 re-advertising, nothing tracked. The family
    /// is the family of `primary_address`.
    pub fn new(
        name: impl Into<String>,
        interface: impl Into<String>,
        vrid: Vrid,
        primary_address: IpAddr,
        vips: Vec<IpAddr>,
    ) -> RouterConfig {
        let family = Family::of(&primary_address);
        RouterConfig {
            name: name.into(),
            interface: interface.into(),
            vrid,
            family,
            version: match family {
                Family::V4 => Version::V2,
                Family::V6 => Version::V3,
            },
            priority: Priority::DEFAULT,
            advert_interval: AdvertInterval::DEFAULT,
            preempt: true,
            preempt_delay: Duration::ZERO,
            initial_state: InitialState::Backup,
            primary_address,
            vips,
            auth: Auth::None,
            garp: GarpConfig::default(),
            down_timer_adverts: Timers::RFC_DOWN_ADVERTS,
            rolling_from: None,
            lower_prio_no_advert: false,
            track_scripts: Vec::new(),
            track_interfaces: Vec::new(),
        }
    }

    /// Whether this router owns the addresses (configured priority 255).
    pub fn is_owner(&self) -> bool {
        self.priority.is_owner()
    }

    /// Checks what the router's arithmetic and the wire format rely on. The config
    /// parser reports file:line errors first; this is the last line of defence and
    /// names the instance, the option, the value and what is allowed.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let err = |option: &'static str, value: String, allowed: &str| ConfigError {
            instance: self.name.clone(),
            option,
            value,
            allowed: allowed.to_string(),
        };
        if self.priority.is_release() {
            return Err(err(
                "priority",
                "0".into(),
                "1..255 (0 is only sent, to resign)",
            ));
        }
        if self.version == Version::V2 && self.family == Family::V6 {
            return Err(err(
                "version",
                "2".into(),
                "3 for IPv6 (VRRPv2 is IPv4 only)",
            ));
        }
        if self.version == Version::V2 && self.advert_interval.whole_secs().is_none() {
            return Err(err(
                "advert_int",
                self.advert_interval.to_string(),
                "whole seconds 1..255 for VRRPv2",
            ));
        }
        if self.version == Version::V3
            && self
                .rolling_from
                .as_ref()
                .is_some_and(|r| r.auth != Auth::None)
        {
            return Err(err(
                "rolling_from",
                "authentication PASS".into(),
                "no authentication with VRRPv3 (keep version 2 while the cluster moves from a password)",
            ));
        }
        if self.version == Version::V3 && self.auth != Auth::None {
            return Err(err("authentication", "PASS".into(), "none with VRRPv3"));
        }
        if Family::of(&self.primary_address) != self.family {
            return Err(err(
                "source address",
                self.primary_address.to_string(),
                &format!("an {} address", self.family),
            ));
        }
        if self.vips.is_empty() {
            return Err(err(
                "virtual_ipaddress",
                "(none)".into(),
                "at least one address (a VRRPv3 advert with count 0 is dropped)",
            ));
        }
        if let Some(vip) = self.vips.iter().find(|v| Family::of(v) != self.family) {
            return Err(err(
                "virtual_ipaddress",
                vip.to_string(),
                &format!(
                    "only {} addresses in an {} instance",
                    self.family, self.family
                ),
            ));
        }
        if self.preempt_delay > Duration::from_secs(1000) {
            return Err(err(
                "preempt_delay",
                format!("{}", self.preempt_delay.as_secs_f64()),
                "0..1000 seconds",
            ));
        }
        if !(1..=Timers::MAX_DOWN_ADVERTS).contains(&self.down_timer_adverts) {
            return Err(err(
                "down_timer_adverts",
                self.down_timer_adverts.to_string(),
                "1..100",
            ));
        }
        if self.garp.repeat == 0 {
            return Err(err("garp_master_repeat", "0".into(), "1 or more"));
        }
        if self.garp.refresh_repeat == 0 {
            return Err(err("garp_master_refresh_repeat", "0".into(), "1 or more"));
        }
        for script in &self.track_scripts {
            check_weight("track_script weight", &script.name, script.weight, &err)?;
            if script.rise == 0 || script.fall == 0 {
                return Err(err(
                    "vrrp_script rise/fall",
                    format!(
                        "{} (rise {}, fall {})",
                        script.name, script.rise, script.fall
                    ),
                    "1 or more",
                ));
            }
        }
        for (i, script) in self.track_scripts.iter().enumerate() {
            if self.track_scripts[..i]
                .iter()
                .any(|s| s.name == script.name)
            {
                return Err(err(
                    "track_script",
                    script.name.clone(),
                    "each script once per instance",
                ));
            }
        }
        for iface in &self.track_interfaces {
            check_weight("track_interface weight", &iface.name, iface.weight, &err)?;
        }
        Ok(())
    }
}

fn check_weight(
    option: &'static str,
    name: &str,
    weight: i32,
    err: &impl Fn(&'static str, String, &str) -> ConfigError,
) -> Result<(), ConfigError> {
    if (-253..=253).contains(&weight) {
        Ok(())
    } else {
        Err(err(option, format!("{name} {weight}"), "-253..253"))
    }
}

/// A router setting that the state machine cannot run with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("vrrp_instance {instance}: {option} {value} is not allowed: use {allowed}")]
pub struct ConfigError {
    /// The `vrrp_instance` name.
    pub instance: String,
    /// The keepalived.conf keyword at fault.
    pub option: &'static str,
    /// The offending value, as configured.
    pub value: String,
    /// What would be accepted.
    pub allowed: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4() -> RouterConfig {
        RouterConfig::new(
            "VI_1",
            "eth0",
            Vrid::new(51).unwrap(),
            "10.0.0.2".parse().unwrap(),
            vec!["10.0.0.100".parse().unwrap()],
        )
    }

    #[test]
    fn defaults_are_keepalived_defaults() {
        let c = v4();
        assert_eq!(c.version, Version::V2);
        assert_eq!(c.priority, Priority::DEFAULT);
        assert_eq!(c.advert_interval, AdvertInterval::DEFAULT);
        assert!(c.preempt);
        assert_eq!(c.garp.repeat, 5);
        assert_eq!(c.garp.delay, Duration::from_secs(5));
        assert_eq!(c.garp.refresh, Duration::ZERO);
        assert!(!c.lower_prio_no_advert);
        assert_eq!(c.validate(), Ok(()));
        let c6 = RouterConfig::new(
            "VI_6",
            "eth0",
            Vrid::new(51).unwrap(),
            "fe80::2".parse().unwrap(),
            vec!["fe80::100".parse().unwrap()],
        );
        assert_eq!((c6.family, c6.version), (Family::V6, Version::V3));
    }

    #[test]
    fn validation_names_the_instance_the_option_and_the_bad_value() {
        let mut c = v4();
        c.advert_interval = AdvertInterval::from_centis(50).unwrap();
        assert_eq!(
            c.validate().unwrap_err().to_string(),
            "vrrp_instance VI_1: advert_int 0.50 is not allowed: use whole seconds 1..255 for VRRPv2"
        );
        let mut c = v4();
        c.vips.push("fe80::1".parse().unwrap());
        assert_eq!(c.validate().unwrap_err().option, "virtual_ipaddress");
        let mut c = v4();
        c.vips.clear();
        assert_eq!(c.validate().unwrap_err().option, "virtual_ipaddress");
        let mut c = v4();
        c.track_scripts.push(TrackScript::new("chk", 254));
        assert_eq!(
            c.validate().unwrap_err().to_string(),
            "vrrp_instance VI_1: track_script weight chk 254 is not allowed: use -253..253"
        );
        let mut c = v4();
        c.preempt_delay = Duration::from_secs(1001);
        assert_eq!(c.validate().unwrap_err().option, "preempt_delay");
        let mut c = v4();
        c.version = Version::V3;
        c.auth = Auth::pass("secret");
        assert_eq!(c.validate().unwrap_err().option, "authentication");
        let mut c = v4();
        c.priority = Priority::RELEASE;
        assert_eq!(c.validate().unwrap_err().option, "priority");
        for n in [0, 101] {
            let mut c = v4();
            c.down_timer_adverts = n;
            assert_eq!(
                c.validate().unwrap_err().to_string(),
                format!("vrrp_instance VI_1: down_timer_adverts {n} is not allowed: use 1..100")
            );
        }
    }
}
