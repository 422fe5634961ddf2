//! The typed configuration: what the engine runs. Every field holds a resolved value
//! (keepalived's default when the file says nothing), in the domain types of
//! `engine::proto`, so the routers never see text.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use crate::proto::{
    AdvertInterval, Auth, Family, Priority, RangeError, RollingFrom, Timers, Version, Vrid,
};

/// A whole keepalived.conf.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Config {
    /// The `global_defs` block (defaults when absent).
    pub global: GlobalDefs,
    /// Every `vrrp_script`, in file order.
    pub scripts: Vec<VrrpScript>,
    /// Every `vrrp_instance`, in file order.
    pub instances: Vec<VrrpInstance>,
}

impl Config {
    /// The `vrrp_script` of this name.
    pub fn script(&self, name: &str) -> Option<&VrrpScript> {
        self.scripts.iter().find(|s| s.name == name)
    }

    /// The `vrrp_instance` of this name.
    pub fn instance(&self, name: &str) -> Option<&VrrpInstance> {
        self.instances.iter().find(|i| i.name == name)
    }
}

/// The `global_defs` block, reduced to what the engine uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlobalDefs {
    /// `router_id`: a name for this node in logs (keepalived defaults to the hostname).
    pub router_id: Option<String>,
    /// `vrrp_version`: the version of IPv4 instances that do not say `version`
    /// (keepalived default 2). IPv6 instances are always VRRPv3.
    pub vrrp_version: Version,
    /// `script_user USER [GROUP]`: who runs scripts that have no `user` of their own.
    /// keepalived's default when absent is the user `keepalived_script` if it exists,
    /// else root.
    pub script_user: Option<ScriptUser>,
    /// `enable_script_security`: refuse scripts that a non-root user could modify.
    pub enable_script_security: bool,
    /// `vrrp_garp_master_delay`, `vrrp_garp_master_repeat`, `vrrp_garp_master_refresh`:
    /// defaults for the instances' `garp_master_*` (keepalived 5 s, 5, off). They are
    /// already applied to every [`VrrpInstance`]; kept here to render the file back.
    pub garp_master_delay: Option<Duration>,
    /// `vrrp_garp_master_repeat`, if given.
    pub garp_master_repeat: Option<u32>,
    /// `vrrp_garp_master_refresh`, if given.
    pub garp_master_refresh: Option<Duration>,
    /// `vrrp_down_timer_adverts`, if given: the default of the instances'
    /// `down_timer_adverts` (already applied; kept to render the file back).
    pub down_timer_adverts: Option<u8>,
    /// `vrrp_rt_priority 1..99`: run the VRRP loop with real-time scheduling
    /// (`SCHED_RR` at this priority), so a busy machine does not delay adverts.
    pub rt_priority: Option<u8>,
    /// `vrrp_no_swap`: lock the process's memory (`mlockall`), so a swapping machine
    /// does not delay adverts.
    pub no_swap: bool,
}

impl Default for GlobalDefs {
    fn default() -> GlobalDefs {
        GlobalDefs {
            router_id: None,
            vrrp_version: Version::V2,
            script_user: None,
            enable_script_security: false,
            garp_master_delay: None,
            garp_master_repeat: None,
            garp_master_refresh: None,
            down_timer_adverts: None,
            rt_priority: None,
            no_swap: false,
        }
    }
}

/// A user and optional group that scripts run as.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ScriptUser {
    /// The user name.
    pub user: String,
    /// The group; `None` = the user's primary group.
    pub group: Option<String>,
}

/// A tracker weight, -253..=253 (keepalived's range for `weight` in `vrrp_script`,
/// `track_script` and `track_interface`). See `Priority::with_weight` for the sum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Weight(i16);

impl Weight {
    /// The largest magnitude keepalived accepts.
    pub const MAX: i32 = 253;

    /// A weight in -253..=253, or the error naming the range.
    pub fn new(value: i32) -> Result<Weight, RangeError> {
        if (-Weight::MAX..=Weight::MAX).contains(&value) {
            // In range, so it fits an i16.
            Ok(Weight(value as i16))
        } else {
            Err(RangeError {
                what: "weight",
                value: value.to_string(),
                allowed: "-253..253",
            })
        }
    }

    /// The signed value.
    pub fn get(self) -> i32 {
        i32::from(self.0)
    }
}

impl fmt::Display for Weight {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A `vrrp_script`: a health check run every `interval`.
///
/// keepalived semantics (vrrp_track.c): the result turns OK after `rise` successes
/// and KO after `fall` failures. Weight 0: KO puts tracking instances in FAULT;
/// weight > 0 adds while OK; weight < 0 subtracts while KO.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VrrpScript {
    /// The name instances refer to it by in `track_script`.
    pub name: String,
    /// The command line as written; [`VrrpScript::argv`] splits it like keepalived.
    pub script: String,
    /// Whole seconds, 1..=4294 (keepalived 2.2 refuses fractions). Default 1 s.
    pub interval: Duration,
    /// Whole seconds; default = `interval`.
    pub timeout: Duration,
    /// `weight`: how much the result moves the priority (0 = FAULT on KO).
    pub weight: Weight,
    /// Default 1.
    pub rise: u32,
    /// Default 1.
    pub fall: u32,
    /// `init_fail`: start in the KO state instead of OK-pending.
    pub init_fail: bool,
    /// `user`: who runs it; `None` = the global `script_user`.
    pub user: Option<ScriptUser>,
}

impl VrrpScript {
    /// keepalived's default `interval`.
    pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(1);

    /// A script with keepalived's defaults.
    pub fn new(name: &str, script: &str) -> VrrpScript {
        VrrpScript {
            name: name.to_string(),
            script: script.to_string(),
            interval: VrrpScript::DEFAULT_INTERVAL,
            timeout: VrrpScript::DEFAULT_INTERVAL,
            weight: Weight::default(),
            rise: 1,
            fall: 1,
            init_fail: false,
            user: None,
        }
    }

    /// The program and its arguments, split the way keepalived splits `script`:
    /// on blanks, with `'...'` grouping (so `/bin/bash -c '</dev/tcp/127.0.0.1/443'`
    /// is three words). The parser accepts only scripts this splits cleanly.
    pub fn argv(&self) -> Vec<String> {
        super::argv::split(&self.script).unwrap_or_default()
    }
}

/// The state an instance starts in (`state`). keepalived's FAULT is never configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InitialState {
    /// `state MASTER`: claim mastership at once (unless a better router is heard).
    Master,
    /// `state BACKUP`: wait Master_Down_Interval first.
    Backup,
}

impl fmt::Display for InitialState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InitialState::Master => "MASTER",
            InitialState::Backup => "BACKUP",
        })
    }
}

/// One `virtual_ipaddress` entry: `ADDR[/PREFIX] [dev IF] [label LABEL]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VirtualAddress {
    /// The address.
    pub addr: IpAddr,
    /// Default /32 for IPv4, /128 for IPv6 (keepalived).
    pub prefix_len: u8,
    /// Interface to add it to; None = the instance's `interface`.
    pub dev: Option<String>,
    /// IPv4 address label (`ip addr ... label`); must start with the device name.
    pub label: Option<String>,
}

impl VirtualAddress {
    /// An address with the default prefix of its family, on the instance interface.
    pub fn host(addr: IpAddr) -> VirtualAddress {
        VirtualAddress {
            addr,
            prefix_len: max_prefix(Family::of(&addr)),
            dev: None,
            label: None,
        }
    }

    /// IPv4 or IPv6.
    pub fn family(&self) -> Family {
        Family::of(&self.addr)
    }
}

/// The longest prefix of a family: 32 or 128.
pub fn max_prefix(family: Family) -> u8 {
    match family {
        Family::V4 => 32,
        Family::V6 => 128,
    }
}

/// `track_interface` entry: the instance goes FAULT while the interface is down
/// (no weight), or its priority moves by `weight`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TrackInterface {
    /// The interface name.
    pub name: String,
    /// `weight`; `None` = FAULT while the interface is down.
    pub weight: Option<Weight>,
}

/// `track_script` entry; `weight` overrides the script's own weight.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TrackScript {
    /// The `vrrp_script` it refers to.
    pub name: String,
    /// `weight`; `None` = the script's own.
    pub weight: Option<Weight>,
}

/// A `vrrp_instance`: one virtual router (one VRID on one interface, one family).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VrrpInstance {
    /// The instance name (`vrrp_instance NAME`), as logs and the state file show it.
    pub name: String,
    /// `state`; keepalived's default is MASTER if the priority is 255, else BACKUP.
    pub initial_state: InitialState,
    /// `interface`: where adverts are sent and the VIPs added.
    pub interface: String,
    /// `virtual_router_id`.
    pub vrid: Vrid,
    /// `priority`; keepalived's default is 255 with `state MASTER`, else 100.
    pub priority: Priority,
    /// `advert_int`; keepalived's default is 1 s.
    pub advert_int: AdvertInterval,
    /// Instance `version`, else global `vrrp_version`; IPv6 is always VRRPv3.
    pub version: Version,
    /// False with `nopreempt` (RFC Preempt_Mode False).
    pub preempt: bool,
    /// `preempt_delay`, 0..=1000 s.
    pub preempt_delay: Duration,
    /// VRRPv2 only.
    pub auth: Auth,
    /// `unicast_src_ip`: the source of unicast adverts; `None` = the interface's address.
    pub unicast_src_ip: Option<IpAddr>,
    /// Empty: multicast (224.0.0.18 / ff02::12).
    pub unicast_peers: Vec<IpAddr>,
    /// Never empty in a validated config; all of `family`.
    pub vips: Vec<VirtualAddress>,
    /// Added and removed with the VIPs but not advertised; any family.
    pub vips_excluded: Vec<VirtualAddress>,
    /// `track_interface` entries.
    pub track_interfaces: Vec<TrackInterface>,
    /// `track_script` entries.
    pub track_scripts: Vec<TrackScript>,
    /// Delay before the second gratuitous ARP / NA burst after becoming MASTER (5 s).
    pub garp_master_delay: Duration,
    /// Messages per burst (5).
    pub garp_master_repeat: u32,
    /// Periodic refresh while MASTER; None = off (keepalived default 0).
    pub garp_master_refresh: Option<Duration>,
    /// `down_timer_adverts`, else `vrrp_down_timer_adverts`, else the RFCs' 3: the
    /// advert intervals of silence (plus Skew_Time) that make the Master down.
    pub down_timer_adverts: u8,
    /// Ours, not keepalived's: `rolling_from {}`, the identity the cluster is moving
    /// from while a `virtual_router_id` or password change reaches its routers one by
    /// one (docs/requirements.md K-17).
    pub rolling_from: Option<RollingFrom>,
    /// The family of the VIPs (derived: the family of the first VIP).
    pub family: Family,
}

impl VrrpInstance {
    /// keepalived's `garp_master_delay`.
    pub const DEFAULT_GARP_DELAY: Duration = Duration::from_secs(5);
    /// keepalived's `garp_master_repeat`.
    pub const DEFAULT_GARP_REPEAT: u32 = 5;

    /// An instance with keepalived's defaults for everything the caller does not give.
    pub fn new(name: &str, interface: &str, vrid: Vrid, vips: Vec<VirtualAddress>) -> Self {
        let family = vips.first().map_or(Family::V4, VirtualAddress::family);
        VrrpInstance {
            name: name.to_string(),
            initial_state: InitialState::Backup,
            interface: interface.to_string(),
            vrid,
            priority: Priority::DEFAULT,
            advert_int: AdvertInterval::DEFAULT,
            version: match family {
                Family::V4 => Version::V2,
                Family::V6 => Version::V3,
            },
            preempt: true,
            preempt_delay: Duration::ZERO,
            auth: Auth::None,
            unicast_src_ip: None,
            unicast_peers: Vec::new(),
            vips,
            vips_excluded: Vec::new(),
            track_interfaces: Vec::new(),
            track_scripts: Vec::new(),
            garp_master_delay: VrrpInstance::DEFAULT_GARP_DELAY,
            garp_master_repeat: VrrpInstance::DEFAULT_GARP_REPEAT,
            garp_master_refresh: None,
            down_timer_adverts: Timers::RFC_DOWN_ADVERTS,
            rolling_from: None,
            family,
        }
    }

    /// Whether adverts go to `unicast_peers` rather than the multicast group.
    pub fn is_unicast(&self) -> bool {
        !self.unicast_peers.is_empty()
    }
}
