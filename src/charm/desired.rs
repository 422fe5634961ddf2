//! The desired state of this unit, derived purely from gathered facts.
//!
//! Two steps, both pure and unit-tested here:
//! 1. [`validate`]: the options (and the machine's interfaces, against which
//!    `network_interface` and the implicit interface choice are checked) become
//!    [`ValidOptions`] — typed: [`Vrid`], [`AdvertInterval`], [`Version`], [`Vip`]
//!    networks, a port, a [`Password`] — or the list of EVERY problem;
//! 2. [`build`]: valid options plus this unit's priority and its peers' VRRP addresses
//!    become a typed [`Plan`], from which the engine config, the relation data and the
//!    status follow.
//!
//! [`desired`] ties them together into [`Desired`]: unconfigured, blocked with an
//! operator-facing message, or the plan. No value is turned into text here: the
//! keepalived.conf words are made where the template context is (`render`).
//!
//! Every invalid value is reported with the option's name, the bad value and what is
//! allowed; `vrrp_password` is a secret and its value is never shown.

use std::collections::BTreeSet;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use super::identity::{self, Identity};
use super::iface::{valid_interface_name, Link, NetSnapshot};
use super::options::Options;
use super::priority::HEALTH_CHECK_WEIGHT;
use super::timing::{self, Timing};
use vrrp_core::proto::{AdvertInterval, Family, Priority, Version, Vrid};

/// The original charm's exact message for an empty `virtual_ip`; its integration test
/// asserts it (docs/juju-contract.md O-4), so it must not change.
pub const UNCONFIGURED_MESSAGE: &str = "Please configure virtual ips";

/// Healthcheck interval bounds: keepalived's own (`vrrp script interval ... must be
/// between 1 and 4294`).
pub const HEALTHCHECK_INTERVAL_MAX: i64 = 4294;

/// Longest VRRPv2 simple password (8 bytes of Authentication Data, RFC 2338 §5.3.10).
pub const PASSWORD_MAX_LEN: usize = 8;

/// A virtual IP with the prefix length it is added with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Vip {
    pub addr: IpAddr,
    pub prefix_len: u8,
}

impl Vip {
    pub fn family(&self) -> Family {
        Family::of(&self.addr)
    }

    /// `addr/prefix` as `Display` writes it.
    pub fn parse(text: &str) -> Option<Vip> {
        let (addr, prefix) = text.trim().split_once('/')?;
        let addr: IpAddr = addr.parse().ok()?;
        let prefix_len: u8 = prefix.parse().ok()?;
        (prefix_len <= vrrp_core::config::max_prefix(Family::of(&addr)))
            .then_some(Vip { addr, prefix_len })
    }
}

impl fmt::Display for Vip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix_len)
    }
}

/// A valid `vrrp_password`: at most 8 printable ASCII characters keepalived.conf can
/// carry unquoted. Its `Debug` never shows it, so no log or panic message can leak it.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// The secret itself, for the one place that must write it (keepalived.conf).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(value not shown)")
    }
}

/// Options that passed every check, typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidOptions {
    /// At least one, each address once, in the operator's order.
    pub vips: Vec<Vip>,
    /// `vip_hostname`, when set.
    pub vip_hostname: Option<String>,
    /// 1..=65535.
    pub port: u16,
    pub vrid: Vrid,
    /// Seconds, 1..=[`HEALTHCHECK_INTERVAL_MAX`].
    pub healthcheck_interval: u32,
    /// The IPv4 instance's version (`vrrp_version`); IPv6 always uses VRRPv3.
    pub ipv4_version: Version,
    /// Fits every version in use.
    pub advert_interval: AdvertInterval,
    /// The operator set `vrrp_version` or `advert_interval`: the two fields above
    /// are the timing. Otherwise they are the compatible profile's, and
    /// [`super::timing::choose`] decides.
    pub timing_pinned: bool,
    /// Only with IPv4-only VIPs and VRRPv2 (VRRPv3 has no authentication).
    pub password: Option<Password>,
    pub unicast: bool,
    pub preempt: bool,
    /// Where the engine serves its metrics; `None` = off (`metrics_address` empty).
    pub metrics_address: Option<SocketAddr>,
    /// The interface of each family present in `vips`, IPv4 first.
    pub links: Vec<(Family, Link)>,
}

/// One `vrrp_instance`: one per address family present in `virtual_ip`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    /// `VI_1` for IPv4 (the original charm's name), `VI_1_V6` for IPv6.
    pub name: &'static str,
    pub family: Family,
    pub interface: String,
    pub vrid: Vrid,
    pub priority: Priority,
    pub advert_interval: AdvertInterval,
    /// VRRPv2 is keepalived's default for IPv4 and is not written, so the default file
    /// is the original charm's plus the priority.
    pub version: Version,
    /// Missed adverts that make the Master down: 3 (the RFCs', not written) but in a
    /// fast timing profile (docs/requirements.md K-16).
    pub down_timer_adverts: u8,
    pub preempt: bool,
    pub password: Option<Password>,
    /// `None` while there is no peer to talk to or no source address.
    pub unicast: Option<Unicast>,
    pub vips: Vec<Vip>,
    /// The identity a rolling `router_id`/`vrrp_password`/`unicast` change moves
    /// from, while a peer may still run it (the engine's `rolling_from`, K-17).
    pub rolling_from: Option<Rolling>,
}

/// The engine's `rolling_from`: the VRID, password and unicast peers (none:
/// multicast) of the identity a rolling change moves from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rolling {
    pub vrid: Vrid,
    pub password: Option<Password>,
    pub unicast_peers: Vec<IpAddr>,
    /// The interface the old identity runs on, when not the instance's own (a
    /// rolling `network_interface` change).
    pub interface: Option<String>,
}

/// Unicast adverts (keepalived's `unicast_src_ip` and `unicast_peer`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unicast {
    pub source: IpAddr,
    /// Sorted and without duplicates, so the rendered file does not depend on
    /// relation order; never empty.
    pub peers: Vec<IpAddr>,
}

/// Everything the engine config holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineConfig {
    /// The health-check command's program: the installed engine binary.
    pub check_program: PathBuf,
    pub port: u16,
    pub healthcheck_interval: u32,
    pub check_weight: i32,
    pub instances: Vec<Instance>,
    /// The `pause` action is in force: every instance also tracks `charm_paused`,
    /// an unweighted check that never passes, so it stays in FAULT (out of the
    /// election) until `resume` (docs/requirements.md K-14 for the handover).
    pub paused: bool,
}

impl EngineConfig {
    /// Whether the rendered file carries a secret (then it is written mode 0600).
    pub fn has_secret(&self) -> bool {
        self.instances.iter().any(|i| {
            i.password.is_some()
                || i.rolling_from
                    .as_ref()
                    .is_some_and(|r| r.password.is_some())
        })
    }
}

/// A validated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub vips: Vec<Vip>,
    /// What clients are told: `vip_hostname`, else the first VIP.
    pub hostname: String,
    pub port: u16,
    pub engine: EngineConfig,
    /// This unit's VRRP source addresses, published to peers for unicast.
    pub vrrp_address_v4: Option<IpAddr>,
    pub vrrp_address_v6: Option<IpAddr>,
    /// Where the engine serves its metrics (`metrics_address`); `None` = off.
    pub metrics_address: Option<SocketAddr>,
    /// The VRRP timing the instances run, and why (`super::timing`).
    pub timing: Timing,
    /// This unit's VRID, password and transport, as it publishes them (fingerprinted)
    /// to peers.
    pub identity: Identity,
    /// The identity a rolling change still bridges, to remember for the next hook.
    pub rolling_from: Option<Identity>,
    /// The segments the instances run on, as peers compare them (`vrrp-segments`).
    pub segments: Vec<String>,
}

impl Plan {
    pub fn first_vip(&self) -> IpAddr {
        self.vips[0].addr
    }

    pub fn has_ipv6(&self) -> bool {
        self.vips.iter().any(|v| v.family() == Family::V6)
    }
}

/// What this unit should be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Desired {
    /// `virtual_ip` is empty: no engine, relation data retracted.
    Unconfigured,
    /// Some value is invalid: the message lists every problem. The last good engine
    /// config stays in place and keeps running.
    Blocked(String),
    Configured(Box<Plan>),
}

/// A peer's published VRRP source addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerAddresses {
    pub unit: String,
    pub v4: Option<IpAddr>,
    pub v6: Option<IpAddr>,
    /// The VIPs the peer is configured with (its `virtual_ip`, as it published it).
    pub vips: Vec<Vip>,
    /// The timing profiles its engine offers (`timing-profiles`).
    pub timing_profiles: BTreeSet<String>,
    /// Its identity fingerprint (`vrrp-identity`), when it publishes one.
    pub identity: Option<String>,
    /// The segments its instances run on (`vrrp-segments`, `iface::Link::segment`).
    pub segments: Vec<String>,
}

/// The facts the desired state depends on.
#[derive(Debug, Clone)]
pub struct Facts<'a> {
    pub options: &'a Options,
    /// Type errors from reading the options (see [`Options::from_config`]).
    pub option_errors: &'a [String],
    pub net: &'a NetSnapshot,
    pub priority: Priority,
    pub peers: &'a [PeerAddresses],
    /// The VRRP source addresses this unit published to its peers before: they stay
    /// while still usable (see [`super::iface::Link::vrrp_source`]).
    pub published_sources: &'a [IpAddr],
    pub engine_binary: &'a Path,
    /// This unit's name (`keepalived/0`).
    pub unit: &'a str,
    /// Every unit of the application (`goal-state`), when the timing is automatic
    /// and it could be read; `None` otherwise (see [`super::timing::choose`]).
    pub app_units: Option<&'a [timing::GoalUnit]>,
    /// The `pause` action is in force on this unit.
    pub paused: bool,
    /// The identity of the engine config this unit last rendered, and the one it was
    /// still bridging (read back from that file, `identity::of_engine_config`).
    pub identity_ran: Option<&'a Identity>,
    pub identity_rolling: Option<&'a Identity>,
    /// A `switchover` made another unit the preferred one: this unit does not
    /// preempt (`nopreempt`), so only the preferred unit takes the VIPs from a live
    /// Master and a switchover moves them once, not through every unit whose
    /// priority the new preference reorders (`priority::running`).
    pub yield_to_preferred: bool,
}

/// The desired state for `facts` (see the module doc). An empty `virtual_ip` is
/// unconfigured whatever the other options say; otherwise the option type errors come
/// first, then every problem [`validate`] finds, in one message.
pub fn desired(facts: &Facts<'_>) -> Desired {
    let o = facts.options;
    if o.virtual_ip.trim().is_empty() {
        return Desired::Unconfigured;
    }
    let mut errors: Vec<String> = facts.option_errors.to_vec();
    match validate(o, facts.net) {
        Ok(valid) if errors.is_empty() => {
            let peer_offers: timing::Offers = facts
                .peers
                .iter()
                .map(|p| (p.unit.clone(), p.timing_profiles.clone()))
                .collect();
            let identity = identity_of(&valid, facts.peers);
            let peer_prints: Vec<Option<&str>> =
                facts.peers.iter().map(|p| p.identity.as_deref()).collect();
            let rolling = identity::rolling_from(
                &identity,
                facts.identity_ran,
                facts.identity_rolling,
                &peer_prints,
            );
            let password = if valid.password.is_some() {
                timing::PasswordUse::Set
            } else if rolling.as_ref().is_some_and(|r| r.password.is_some()) {
                timing::PasswordUse::RollingFrom
            } else {
                timing::PasswordUse::None
            };
            let timing = timing::choose(
                valid
                    .timing_pinned
                    .then_some((valid.ipv4_version, valid.advert_interval)),
                password,
                facts.unit,
                facts.app_units,
                &peer_offers,
            );
            let mut plan = build(
                &valid,
                &timing,
                identity,
                facts.priority,
                facts.peers,
                facts.published_sources,
                facts.engine_binary,
            );
            bridge(&mut plan, rolling, facts.peers);
            bridge_interfaces(&mut plan, facts.net, facts.peers);
            plan.engine.paused = facts.paused;
            if facts.yield_to_preferred {
                for i in &mut plan.engine.instances {
                    i.preempt = false;
                }
            }
            Desired::Configured(Box::new(plan))
        }
        Ok(_) => Desired::Blocked(errors.join("; ")),
        Err(mut problems) => {
            errors.append(&mut problems);
            Desired::Blocked(errors.join("; "))
        }
    }
}

/// Splits `virtual_ip` on spaces and commas and parses each address.
pub fn parse_vips(text: &str) -> Result<Vec<Vip>, Vec<String>> {
    let mut vips: Vec<Vip> = Vec::new();
    let mut errors = Vec::new();
    let mut seen = BTreeSet::new();
    for token in text
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|t| !t.is_empty())
    {
        match parse_vip(token) {
            Ok(vip) => {
                if seen.insert(vip.addr) {
                    vips.push(vip);
                } else {
                    errors.push(format!(
                        "invalid virtual_ip: {} is listed twice (each address may appear once)",
                        vip.addr
                    ));
                }
            }
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(vips)
    } else {
        Err(errors)
    }
}

fn parse_vip(token: &str) -> Result<Vip, String> {
    let expected =
        "expected an IPv4 or IPv6 address with an optional /prefix, e.g. 10.1.2.3/24 or fd00::5/64";
    let bad = || format!("invalid virtual_ip \"{token}\": {expected}");
    let (addr_text, prefix_text) = match token.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (token, None),
    };
    let addr: IpAddr = addr_text.parse().map_err(|_| bad())?;
    let max = match addr {
        IpAddr::V4(_) => 32u8,
        IpAddr::V6(_) => 128u8,
    };
    let prefix_len = match prefix_text {
        None => max,
        Some(p) => match p.parse::<u8>() {
            Ok(len) if (1..=max).contains(&len) && p.chars().all(|c| c.is_ascii_digit()) => len,
            _ => {
                return Err(format!(
                    "invalid virtual_ip \"{token}\": prefix /{p} is out of range, allowed /1../{max} for {}",
                    Family::of(&addr)
                ))
            }
        },
    };
    let unusable = match addr {
        IpAddr::V4(a) => {
            a.is_unspecified() || a.is_loopback() || a.is_multicast() || a.is_broadcast()
        }
        IpAddr::V6(a) => a.is_unspecified() || a.is_loopback() || a.is_multicast(),
    };
    if unusable {
        return Err(format!(
            "invalid virtual_ip \"{token}\": an unspecified, loopback, multicast or broadcast address cannot be a virtual IP"
        ));
    }
    Ok(Vip { addr, prefix_len })
}

/// Checks every option and returns them typed, or EVERY problem found, in option
/// order, each naming the option, the bad value and what is allowed.
///
/// `net` is needed because `network_interface` (or, when empty, the interface each
/// address family's VIPs are on) can only be checked against the machine. An empty
/// `virtual_ip` is a problem here; [`desired`] treats it as unconfigured first.
pub fn validate(o: &Options, net: &NetSnapshot) -> Result<ValidOptions, Vec<String>> {
    let mut errors: Vec<String> = Vec::new();

    let vips = match parse_vips(&o.virtual_ip) {
        Ok(v) if v.is_empty() => {
            errors.push(format!(
                "invalid virtual_ip \"{}\": expected at least one address",
                o.virtual_ip
            ));
            Vec::new()
        }
        Ok(v) => v,
        Err(mut e) => {
            errors.append(&mut e);
            Vec::new()
        }
    };
    let vrid = u8::try_from(o.router_id)
        .ok()
        .and_then(|v| Vrid::new(v).ok());
    if vrid.is_none() {
        errors.push(format!(
            "invalid router_id {}: allowed 1..255 (unique per network segment)",
            o.router_id
        ));
    }
    let port = u16::try_from(o.port).ok().filter(|p| *p >= 1);
    if port.is_none() {
        errors.push(format!("invalid port {}: allowed 1..65535", o.port));
    }
    let healthcheck_interval = Some(o.healthcheck_interval)
        .filter(|i| (1..=HEALTHCHECK_INTERVAL_MAX).contains(i))
        .and_then(|i| u32::try_from(i).ok());
    if healthcheck_interval.is_none() {
        errors.push(format!(
            "invalid healthcheck_interval {}: allowed 1..{HEALTHCHECK_INTERVAL_MAX} seconds",
            o.healthcheck_interval
        ));
    }
    // Unset, both are the compatible profile's (VRRPv2, 1 s): what the charm runs
    // until `timing::choose` moves the cluster to the fast one.
    let ipv4_version = match o.vrrp_version.unwrap_or(2) {
        2 => Some(Version::V2),
        3 => Some(Version::V3),
        other => {
            errors.push(format!("invalid vrrp_version {other}: allowed 2 or 3"));
            None
        }
    };
    let families: BTreeSet<Family> = vips.iter().map(Vip::family).collect();
    let advert_interval = advert_interval(o, &families, ipv4_version, &mut errors);
    let password = password(o, &families, ipv4_version, &mut errors);
    let links = links(o, net, &vips, &families, &mut errors);
    let metrics_address = metrics_address(o, &mut errors);

    match (
        vrid,
        port,
        healthcheck_interval,
        ipv4_version,
        advert_interval,
        links,
    ) {
        (
            Some(vrid),
            Some(port),
            Some(healthcheck_interval),
            Some(ipv4_version),
            Some(advert_interval),
            Some(links),
        ) if errors.is_empty() => Ok(ValidOptions {
            vips,
            vip_hostname: (!o.vip_hostname.is_empty()).then(|| o.vip_hostname.clone()),
            port,
            vrid,
            healthcheck_interval,
            ipv4_version,
            advert_interval,
            timing_pinned: o.timing_pinned(),
            password,
            unicast: o.unicast,
            preempt: o.preempt,
            metrics_address,
            links,
        }),
        _ => Err(errors),
    }
}

/// `metrics_address`: empty (off) or HOST:PORT with a literal IP address and a port
/// 1..65535 (`[::1]:9165` for IPv6).
fn metrics_address(o: &Options, errors: &mut Vec<String>) -> Option<SocketAddr> {
    let text = o.metrics_address.trim();
    if text.is_empty() {
        return None;
    }
    match text.parse::<SocketAddr>() {
        Ok(a) if a.port() != 0 => Some(a),
        _ => {
            errors.push(format!(
                "invalid metrics_address {text:?}: allowed an IP address and a port 1..65535 (127.0.0.1:9165, [::1]:9165), or empty to turn metrics off"
            ));
            None
        }
    }
}

/// `advert_interval`, which must fit every version in use (IPv6 is always VRRPv3):
/// VRRPv2 carries whole seconds (RFC 3768 §5.3.7), VRRPv3 centiseconds (RFC 9568
/// §5.2.7). With an invalid `vrrp_version` only the IPv6 requirement is checked.
fn advert_interval(
    o: &Options,
    families: &BTreeSet<Family>,
    ipv4_version: Option<Version>,
    errors: &mut Vec<String>,
) -> Option<AdvertInterval> {
    let text = o.advert_interval.as_deref().unwrap_or("1");
    let mut versions: Vec<Version> = Vec::new();
    if families.contains(&Family::V4) {
        versions.extend(ipv4_version);
    }
    if families.contains(&Family::V6) {
        versions.push(Version::V3);
    }
    versions.dedup();
    let mut advert = None;
    for version in versions {
        match AdvertInterval::parse(text, version) {
            Ok(i) => advert = Some(i),
            Err(e) => {
                // A v3 requirement the operator did not ask for comes from IPv6.
                let why = if version == Version::V3 && ipv4_version != Some(Version::V3) {
                    " (IPv6 VIPs always use VRRPv3)"
                } else {
                    ""
                };
                errors.push(format!(
                    "invalid advert_interval \"{}\": allowed {}{why}",
                    text, e.allowed
                ));
                return None;
            }
        }
    }
    advert
}

/// `vrrp_password`: only the VRRPv2 header has authentication (RFC 2338 §5.3.6); the
/// VRRPv3 header has none (RFC 9568 §5.2). Its value is never shown.
fn password(
    o: &Options,
    families: &BTreeSet<Family>,
    ipv4_version: Option<Version>,
    errors: &mut Vec<String>,
) -> Option<Password> {
    if o.vrrp_password.is_empty() {
        return None;
    }
    if let Some(problem) = password_problem(&o.vrrp_password) {
        errors.push(problem);
    }
    if ipv4_version == Some(Version::V3) {
        errors.push(
            "vrrp_password is set but vrrp_version is 3: VRRPv3 has no authentication; clear vrrp_password or set vrrp_version=2"
                .to_string(),
        );
    }
    if families.contains(&Family::V6) {
        errors.push(
            "vrrp_password is set but virtual_ip has IPv6 addresses, which always use VRRPv3 (no authentication); clear vrrp_password or use IPv4 VIPs only"
                .to_string(),
        );
    }
    Some(Password(o.vrrp_password.clone()))
}

/// The interface of each family's instance: `network_interface` if set, else the one
/// the VIPs are on (see [`NetSnapshot::choose`]). `None` if any family has none.
fn links(
    o: &Options,
    net: &NetSnapshot,
    vips: &[Vip],
    families: &BTreeSet<Family>,
    errors: &mut Vec<String>,
) -> Option<Vec<(Family, Link)>> {
    if !o.network_interface.is_empty() && !valid_interface_name(&o.network_interface) {
        errors.push(format!(
            "invalid network_interface \"{}\": not an interface name (letters, digits, . _ - : @, at most 15 characters)",
            o.network_interface
        ));
        return None;
    }
    let mut chosen = Vec::new();
    let mut complete = true;
    for family in families {
        let addrs: Vec<IpAddr> = vips
            .iter()
            .filter(|v| v.family() == *family)
            .map(|v| v.addr)
            .collect();
        match net.choose(&o.network_interface, *family, &addrs) {
            Ok(link) if valid_interface_name(&link.name) => chosen.push((*family, link.clone())),
            Ok(link) => {
                complete = false;
                errors.push(format!(
                    "interface \"{}\" chosen for virtual_ip has a name keepalived.conf cannot carry; set network_interface",
                    link.name
                ));
            }
            Err(e) => {
                complete = false;
                // Both families name the same missing interface: say it once.
                let text = e.to_string();
                if !errors.contains(&text) {
                    errors.push(text);
                }
            }
        }
    }
    complete.then_some(chosen)
}

/// The VIPs of the `family` instance: ours, then those only our peers are configured
/// with (K-13).
///
/// Why: Juju applies a `virtual_ip` change unit by unit. A unit on the new list and
/// one on the old would each drop the other's adverts (a foreign address list) and
/// both become MASTER. While the units disagree every unit runs the union of the
/// lists it knows of; any two units' lists then contain one another (each unit's
/// union holds its own list, and a unit drops a list only once every unit it knows
/// publishes the other), which the engine accepts (the receive ladder's default,
/// `AddressMismatchPolicy::DropUnlessContained`). The MASTER serves the old and the
/// new VIPs during the change and one MASTER holds them throughout; when every unit
/// publishes the new list, the union is the new list again.
fn rolling_union(ours: &[Vip], peers: &[PeerAddresses], family: Family) -> Vec<Vip> {
    let mut vips: Vec<Vip> = ours
        .iter()
        .filter(|v| v.family() == family)
        .copied()
        .collect();
    let mut extra: Vec<Vip> = peers
        .iter()
        .flat_map(|p| p.vips.iter().copied())
        .filter(|v| v.family() == family && !vips.iter().any(|o| o.addr == v.addr))
        .collect();
    extra.sort_by_key(|v| v.addr);
    extra.dedup_by_key(|v| v.addr);
    vips.extend(extra);
    vips
}

/// The plan for `valid` options on this unit: its `identity` (`identity_of`), its
/// `priority` claim, its `peers'` VRRP addresses (for unicast) and the sources it
/// `published` before.
pub fn build(
    valid: &ValidOptions,
    timing: &Timing,
    identity: Identity,
    priority: Priority,
    peers: &[PeerAddresses],
    published: &[IpAddr],
    engine_binary: &Path,
) -> Plan {
    let all_vip_addrs: Vec<IpAddr> = valid.vips.iter().map(|v| v.addr).collect();
    let mut instances = Vec::new();
    let mut vrrp_address_v4 = None;
    let mut vrrp_address_v6 = None;
    let mut segments = Vec::new();
    for (family, link) in &valid.links {
        let family = *family;
        segments.extend(link.segment(family, &all_vip_addrs));
        let source = link.vrrp_source(family, &all_vip_addrs, published);
        match family {
            Family::V4 => vrrp_address_v4 = source,
            Family::V6 => vrrp_address_v6 = source,
        }
        let peer_addrs = peer_addresses(peers, family, source);
        // keepalived falls back to multicast (with a deprecation warning) when a
        // unicast keyword has no peer; say nothing until there is a peer to talk to.
        let unicast = match source {
            Some(source) if valid.unicast && !peer_addrs.is_empty() => Some(Unicast {
                source,
                peers: peer_addrs,
            }),
            _ => None,
        };
        instances.push(Instance {
            name: match family {
                Family::V4 => "VI_1",
                Family::V6 => "VI_1_V6",
            },
            family,
            interface: link.name.clone(),
            vrid: valid.vrid,
            priority,
            advert_interval: timing.advert_interval,
            version: match family {
                Family::V4 => timing.ipv4_version,
                Family::V6 => Version::V3,
            },
            down_timer_adverts: timing.down_adverts,
            preempt: valid.preempt,
            password: match family {
                Family::V4 => valid.password.clone(),
                Family::V6 => None,
            },
            unicast,
            vips: rolling_union(&valid.vips, peers, family),
            rolling_from: None,
        });
    }
    Plan {
        hostname: valid
            .vip_hostname
            .clone()
            .unwrap_or_else(|| valid.vips[0].addr.to_string()),
        port: valid.port,
        metrics_address: valid.metrics_address,
        engine: EngineConfig {
            check_program: engine_binary.to_path_buf(),
            port: valid.port,
            healthcheck_interval: valid.healthcheck_interval,
            check_weight: HEALTH_CHECK_WEIGHT,
            paused: false,
            instances,
        },
        vips: valid.vips.clone(),
        vrrp_address_v4,
        vrrp_address_v6,
        timing: timing.clone(),
        identity,
        rolling_from: None,
        segments,
    }
}

/// The `family` VRRP addresses of `peers`, but `source` (ours), sorted, once each.
fn peer_addresses(peers: &[PeerAddresses], family: Family, source: Option<IpAddr>) -> Vec<IpAddr> {
    let mut addrs: Vec<IpAddr> = peers
        .iter()
        .filter_map(|p| match family {
            Family::V4 => p.v4,
            Family::V6 => p.v6,
        })
        .filter(|a| Some(*a) != source)
        .collect();
    addrs.sort();
    addrs.dedup();
    addrs
}

/// This unit's identity under `valid` options (see `super::identity`).
/// What it runs, not what it is configured with: `unicast=true` renders multicast
/// until a peer publishes an address to send to (see `build`).
fn identity_of(valid: &ValidOptions, peers: &[PeerAddresses]) -> Identity {
    let family = valid.links.first().map_or(Family::V4, |(f, _)| *f);
    let has_peer = peers.iter().any(|p| match family {
        Family::V4 => p.v4.is_some(),
        Family::V6 => p.v6.is_some(),
    });
    Identity {
        vrid: valid.vrid.get(),
        password: valid.password.as_ref().map(|p| p.expose().to_string()),
        unicast: valid.unicast && has_peer,
    }
}

/// Makes every instance of `plan` also speak the identity `rolling` (K-17), where it
/// differs from the instance's own: the VRID; the password where the instance runs
/// VRRPv2 (VRRPv3 carries none; the timing keeps IPv4 on VRRPv2 while the cluster
/// moves from a password, `timing::PasswordUse::RollingFrom`); the transport (to
/// the `peers` when the old identity was unicast).
fn bridge(plan: &mut Plan, rolling: Option<Identity>, peers: &[PeerAddresses]) {
    if let Some(old) = &rolling {
        for i in &mut plan.engine.instances {
            let Ok(vrid) = Vrid::new(old.vrid) else {
                continue;
            };
            let password = old
                .password
                .clone()
                .filter(|_| i.version == Version::V2)
                .map(Password);
            let source = match i.family {
                Family::V4 => plan.vrrp_address_v4,
                Family::V6 => plan.vrrp_address_v6,
            };
            let unicast_peers = if old.unicast {
                peer_addresses(peers, i.family, source)
            } else {
                Vec::new()
            };
            let transport_changed = unicast_peers.is_empty() != i.unicast.is_none();
            if vrid != i.vrid || password != i.password || transport_changed {
                i.rolling_from = Some(Rolling {
                    vrid,
                    password,
                    unicast_peers,
                    interface: None,
                });
            }
        }
    }
    plan.rolling_from = rolling;
}

/// Makes every multicast instance of `plan` also speak on the interface its cluster
/// is leaving (K-17, a rolling `network_interface` change): when a peer publishes a
/// segment of the instance's family other than the instance's own, and another link
/// of this machine is on it, the instance rolls from that link (the first such: an
/// instance rolls from one identity at a time). A segment is a subnet of a global
/// address (`iface::Link::segment`): an IPv6 instance on links with link-local
/// addresses only is not bridged. That covers a unit
/// that moved (its old link is on the peers' old segment), a unit added mid-change
/// (it never ran the old link but has it) and a unit that has not moved yet; a peer
/// on a routed segment this machine has no link on (unicast across subnets) bridges
/// nothing. Unicast instances are not bridged: their peers' addresses are on either
/// segment, and a socket bound to one interface reaches only the peers on it.
fn bridge_interfaces(plan: &mut Plan, net: &NetSnapshot, peers: &[PeerAddresses]) {
    let vips: Vec<IpAddr> = plan.vips.iter().map(|v| v.addr).collect();
    for i in &mut plan.engine.instances {
        if i.unicast.is_some() {
            continue;
        }
        let Some(own) = net
            .links
            .iter()
            .find(|l| l.name == i.interface)
            .and_then(|l| l.segment(i.family, &vips))
        else {
            continue;
        };
        let elsewhere = peers
            .iter()
            .flat_map(|p| p.segments.iter())
            .filter(|s| **s != own)
            .find_map(|s| {
                net.links
                    .iter()
                    .filter(|l| !l.loopback && l.name != i.interface)
                    .find(|l| l.segment(i.family, &vips).as_ref() == Some(s))
            });
        let Some(link) = elsewhere else {
            continue;
        };
        let rolling = i.rolling_from.get_or_insert_with(|| Rolling {
            vrid: i.vrid,
            password: i.password.clone(),
            unicast_peers: Vec::new(),
            interface: None,
        });
        rolling.interface = Some(link.name.clone());
    }
}

fn password_problem(password: &str) -> Option<String> {
    let len = password.chars().count();
    if len > PASSWORD_MAX_LEN {
        return Some(format!(
            "invalid vrrp_password (value not shown): {len} characters, allowed at most {PASSWORD_MAX_LEN}"
        ));
    }
    let bad_char = password
        .chars()
        .any(|c| !c.is_ascii_graphic() || matches!(c, '"' | '\'' | '#' | '!' | '{' | '}' | '\\'));
    if bad_char {
        return Some(
            "invalid vrrp_password (value not shown): allowed are printable ASCII characters except spaces, quotes, #, !, {, } and \\"
                .to_string(),
        );
    }
    None
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::charm::iface::tests::snapshot;

    const BIN: &str = "/usr/local/lib/keepalived-charm/keepalived-charm";

    /// What `options` come to on the test machine, alone with priority 254.
    pub(crate) fn run(options: &Options) -> Desired {
        run_with(options, &[], &snapshot())
    }

    fn run_with(options: &Options, peers: &[PeerAddresses], net: &NetSnapshot) -> Desired {
        desired(&Facts {
            options,
            option_errors: &[],
            net,
            priority: Priority::from_wire(254),
            peers,
            published_sources: &[],
            engine_binary: Path::new(BIN),
            paused: false,
            yield_to_preferred: false,
            unit: "keepalived/0",
            app_units: None,
            identity_ran: None,
            identity_rolling: None,
        })
    }

    /// Typed values as keepalived.conf and the operator write them.
    fn texts<T: ToString>(values: &[T]) -> Vec<String> {
        values.iter().map(ToString::to_string).collect()
    }

    fn advert(text: &str, version: Version) -> AdvertInterval {
        AdvertInterval::parse(text, version).unwrap()
    }

    fn opts(virtual_ip: &str) -> Options {
        Options {
            virtual_ip: virtual_ip.into(),
            ..Options::default()
        }
    }

    fn blocked(d: Desired) -> String {
        match d {
            Desired::Blocked(m) => m,
            other => panic!("expected blocked, got {other:?}"),
        }
    }

    fn plan(d: Desired) -> Plan {
        match d {
            Desired::Configured(p) => *p,
            other => panic!("expected a plan, got {other:?}"),
        }
    }

    fn peer(unit: &str, v4: Option<&str>, v6: Option<&str>) -> PeerAddresses {
        PeerAddresses {
            unit: unit.into(),
            v4: v4.map(|a| a.parse().unwrap()),
            v6: v6.map(|a| a.parse().unwrap()),
            vips: Vec::new(),
            timing_profiles: BTreeSet::new(),
            identity: None,
            segments: Vec::new(),
        }
    }

    #[test]
    fn empty_virtual_ip_is_unconfigured_even_with_other_bad_values() {
        assert_eq!(run(&opts("")), Desired::Unconfigured);
        assert_eq!(run(&opts("  ")), Desired::Unconfigured);
        let o = Options {
            port: 0,
            ..opts("")
        };
        assert_eq!(run(&o), Desired::Unconfigured);
        assert_eq!(UNCONFIGURED_MESSAGE, "Please configure virtual ips");
    }

    #[test]
    fn default_single_ipv4_matches_the_original_wire_profile() {
        let p = plan(run(&opts("10.10.74.250")));
        assert_eq!(p.hostname, "10.10.74.250");
        assert_eq!(p.port, 443);
        assert_eq!(p.engine.healthcheck_interval, 2);
        assert_eq!(p.engine.check_weight, -100);
        assert_eq!(p.engine.check_program, Path::new(BIN));
        assert_eq!(p.engine.instances.len(), 1);
        let i = &p.engine.instances[0];
        assert_eq!(i.name, "VI_1");
        assert_eq!(i.interface, "eth0"); // default route: 10.10.74.250 is on no subnet
        assert_eq!(i.vrid.get(), 23);
        assert_eq!(i.priority.get(), 254);
        assert_eq!(i.advert_interval, advert("1", Version::V2));
        assert_eq!(i.version, Version::V2);
        assert!(i.preempt);
        assert_eq!(i.password, None);
        assert_eq!(i.unicast, None);
        assert_eq!(texts(&i.vips), vec!["10.10.74.250/32"]);
        assert_eq!(p.vrrp_address_v4, Some("192.0.2.10".parse().unwrap()));
        assert_eq!(p.vrrp_address_v6, None);
        assert!(!p.engine.has_secret());
    }

    #[test]
    fn vip_hostname_is_what_clients_are_told() {
        let o = Options {
            vip_hostname: "api.example.com".into(),
            ..opts("10.10.74.250/24")
        };
        let p = plan(run(&o));
        assert_eq!(p.hostname, "api.example.com");
        assert_eq!(texts(&p.engine.instances[0].vips), vec!["10.10.74.250/24"]);
    }

    #[test]
    fn several_vips_of_both_families_make_one_instance_per_family() {
        let p = plan(run(&opts("10.20.0.5, fd00::5 10.20.0.6/16")));
        assert_eq!(p.engine.instances.len(), 2);
        let v4 = &p.engine.instances[0];
        let v6 = &p.engine.instances[1];
        assert_eq!((v4.name, v4.interface.as_str()), ("VI_1", "eth1"));
        assert_eq!(texts(&v4.vips), vec!["10.20.0.5/32", "10.20.0.6/16"]);
        assert_eq!(v4.version, Version::V2);
        assert_eq!((v6.name, v6.interface.as_str()), ("VI_1_V6", "eth0"));
        assert_eq!(texts(&v6.vips), vec!["fd00::5/128"]);
        assert_eq!(v6.version, Version::V3);
        assert_eq!(p.hostname, "10.20.0.5");
        assert!(p.has_ipv6());
        assert_eq!(p.vrrp_address_v4, Some("10.20.0.10".parse().unwrap()));
        assert_eq!(p.vrrp_address_v6, Some("fd00::10".parse().unwrap()));
    }

    #[test]
    fn ipv6_only_has_only_the_v6_instance() {
        let p = plan(run(&opts("fd00::5/64")));
        assert_eq!(p.engine.instances.len(), 1);
        assert_eq!(p.engine.instances[0].name, "VI_1_V6");
        assert_eq!(p.hostname, "fd00::5");
    }

    #[test]
    fn v3_with_sub_second_adverts() {
        let o = Options {
            vrrp_version: Some(3),
            advert_interval: Some("0.10".into()),
            ..opts("10.10.74.250")
        };
        let i = plan(run(&o)).engine.instances.remove(0);
        assert_eq!(i.version, Version::V3);
        assert_eq!(i.advert_interval, advert("0.1", Version::V3));
    }

    #[test]
    fn preempt_false_renders_nopreempt_and_password_goes_to_v4_only() {
        let o = Options {
            preempt: false,
            vrrp_password: "s3cr3t".into(),
            ..opts("10.10.74.250")
        };
        let p = plan(run(&o));
        assert!(!p.engine.instances[0].preempt);
        let password = p.engine.instances[0].password.as_ref();
        assert_eq!(password.map(Password::expose), Some("s3cr3t"));
        // Debug output (logs, panics) never carries it.
        assert!(!format!("{p:?}").contains("s3cr3t"));
        assert!(p.engine.has_secret());
    }

    #[test]
    fn unicast_lists_peers_sorted_without_itself_and_per_family() {
        let peers = [
            peer("keepalived/2", Some("192.0.2.12"), Some("fd00::12")),
            peer("keepalived/1", Some("192.0.2.11"), None),
            peer("keepalived/5", None, None),
            peer("keepalived/7", Some("192.0.2.10"), None), // reports our address
        ];
        let o = Options {
            unicast: true,
            ..opts("192.0.2.100 fd00::100")
        };
        let p = plan(run_with(&o, &peers, &snapshot()));
        let v4 = p.engine.instances[0].unicast.as_ref().unwrap();
        assert_eq!(v4.source.to_string(), "192.0.2.10");
        assert_eq!(texts(&v4.peers), vec!["192.0.2.11", "192.0.2.12"]);
        let v6 = p.engine.instances[1].unicast.as_ref().unwrap();
        assert_eq!(v6.source.to_string(), "fd00::10");
        assert_eq!(texts(&v6.peers), vec!["fd00::12"]);
    }

    #[test]
    fn unicast_without_any_peer_stays_multicast() {
        let o = Options {
            unicast: true,
            ..opts("192.0.2.100")
        };
        let i = plan(run(&o)).engine.instances.remove(0);
        assert_eq!(i.unicast, None);
    }

    #[test]
    fn peers_are_ignored_without_unicast() {
        let peers = [peer("keepalived/1", Some("192.0.2.11"), None)];
        let i = plan(run_with(&opts("192.0.2.100"), &peers, &snapshot()))
            .engine
            .instances
            .remove(0);
        assert_eq!(i.unicast, None);
    }

    #[test]
    fn invalid_virtual_ip_messages_name_the_value_and_the_format() {
        assert_eq!(
            blocked(run(&opts("10.0.0.300"))),
            "invalid virtual_ip \"10.0.0.300\": expected an IPv4 or IPv6 address with an optional /prefix, e.g. 10.1.2.3/24 or fd00::5/64"
        );
        assert_eq!(
            blocked(run(&opts("api.example.com"))),
            "invalid virtual_ip \"api.example.com\": expected an IPv4 or IPv6 address with an optional /prefix, e.g. 10.1.2.3/24 or fd00::5/64"
        );
        assert_eq!(
            blocked(run(&opts("10.0.0.5/33"))),
            "invalid virtual_ip \"10.0.0.5/33\": prefix /33 is out of range, allowed /1../32 for IPv4"
        );
        assert_eq!(
            blocked(run(&opts("fd00::5/129"))),
            "invalid virtual_ip \"fd00::5/129\": prefix /129 is out of range, allowed /1../128 for IPv6"
        );
        assert_eq!(
            blocked(run(&opts("10.0.0.5/+8"))),
            "invalid virtual_ip \"10.0.0.5/+8\": prefix /+8 is out of range, allowed /1../32 for IPv4"
        );
        assert_eq!(
            blocked(run(&opts("10.0.0.5 10.0.0.5/24"))),
            "invalid virtual_ip: 10.0.0.5 is listed twice (each address may appear once)"
        );
        assert_eq!(
            blocked(run(&opts("127.0.0.5"))),
            "invalid virtual_ip \"127.0.0.5\": an unspecified, loopback, multicast or broadcast address cannot be a virtual IP"
        );
        assert_eq!(
            blocked(run(&opts(","))),
            "invalid virtual_ip \",\": expected at least one address"
        );
    }

    #[test]
    fn invalid_router_id_port_and_interval_messages() {
        for (o, msg) in [
            (
                Options {
                    router_id: 0,
                    ..opts("10.0.0.5")
                },
                "invalid router_id 0: allowed 1..255 (unique per network segment)",
            ),
            (
                Options {
                    router_id: 256,
                    ..opts("10.0.0.5")
                },
                "invalid router_id 256: allowed 1..255 (unique per network segment)",
            ),
            (
                Options {
                    port: 0,
                    ..opts("10.0.0.5")
                },
                "invalid port 0: allowed 1..65535",
            ),
            (
                Options {
                    port: 65536,
                    ..opts("10.0.0.5")
                },
                "invalid port 65536: allowed 1..65535",
            ),
            (
                Options {
                    metrics_address: "localhost:9165".into(),
                    ..opts("10.0.0.5")
                },
                "invalid metrics_address \"localhost:9165\": allowed an IP address and a port 1..65535 (127.0.0.1:9165, [::1]:9165), or empty to turn metrics off",
            ),
            (
                Options {
                    metrics_address: "127.0.0.1:0".into(),
                    ..opts("10.0.0.5")
                },
                "invalid metrics_address \"127.0.0.1:0\": allowed an IP address and a port 1..65535 (127.0.0.1:9165, [::1]:9165), or empty to turn metrics off",
            ),
            (
                Options {
                    healthcheck_interval: 0,
                    ..opts("10.0.0.5")
                },
                "invalid healthcheck_interval 0: allowed 1..4294 seconds",
            ),
            (
                Options {
                    healthcheck_interval: 5000,
                    ..opts("10.0.0.5")
                },
                "invalid healthcheck_interval 5000: allowed 1..4294 seconds",
            ),
            (
                Options {
                    vrrp_version: Some(4),
                    ..opts("10.0.0.5")
                },
                "invalid vrrp_version 4: allowed 2 or 3",
            ),
        ] {
            assert_eq!(blocked(run(&o)), msg);
        }
    }

    #[test]
    fn advert_interval_must_fit_every_version_in_use() {
        let o = Options {
            advert_interval: Some("0.5".into()),
            ..opts("10.0.0.5")
        };
        assert_eq!(
            blocked(run(&o)),
            "invalid advert_interval \"0.5\": allowed whole seconds 1..255 for VRRPv2"
        );
        let o = Options {
            advert_interval: Some("50".into()),
            ..opts("fd00::5")
        };
        assert_eq!(
            blocked(run(&o)),
            "invalid advert_interval \"50\": allowed 0.01..40.95 seconds in steps of 0.01 for VRRPv3 (IPv6 VIPs always use VRRPv3)"
        );
        let o = Options {
            advert_interval: Some("0.5".into()),
            vrrp_version: Some(3),
            ..opts("10.0.0.5")
        };
        assert_eq!(
            plan(run(&o)).engine.instances[0].advert_interval,
            advert("0.5", Version::V3)
        );
        let o = Options {
            advert_interval: Some("fast".into()),
            vrrp_version: Some(3),
            ..opts("10.0.0.5")
        };
        assert_eq!(
            blocked(run(&o)),
            "invalid advert_interval \"fast\": allowed 0.01..40.95 seconds in steps of 0.01 for VRRPv3"
        );
    }

    #[test]
    fn password_problems_never_show_the_password() {
        let o = Options {
            vrrp_password: "waytoolongsecret".into(),
            ..opts("10.0.0.5")
        };
        let m = blocked(run(&o));
        assert_eq!(
            m,
            "invalid vrrp_password (value not shown): 16 characters, allowed at most 8"
        );
        let o = Options {
            vrrp_password: "a b#".into(),
            ..opts("10.0.0.5")
        };
        let m = blocked(run(&o));
        assert!(!m.contains("a b#"));
        assert_eq!(
            m,
            "invalid vrrp_password (value not shown): allowed are printable ASCII characters except spaces, quotes, #, !, {, } and \\"
        );
        let o = Options {
            vrrp_password: "secret".into(),
            vrrp_version: Some(3),
            ..opts("10.0.0.5")
        };
        let m = blocked(run(&o));
        assert!(!m.contains("secret\""));
        assert_eq!(
            m,
            "vrrp_password is set but vrrp_version is 3: VRRPv3 has no authentication; clear vrrp_password or set vrrp_version=2"
        );
        let o = Options {
            vrrp_password: "secret".into(),
            ..opts("10.0.0.5 fd00::5")
        };
        assert_eq!(
            blocked(run(&o)),
            "vrrp_password is set but virtual_ip has IPv6 addresses, which always use VRRPv3 (no authentication); clear vrrp_password or use IPv4 VIPs only"
        );
    }

    #[test]
    fn interface_problems_are_blocked_with_their_message() {
        let o = Options {
            network_interface: "eth9".into(),
            ..opts("10.0.0.5")
        };
        assert_eq!(
            blocked(run(&o)),
            "invalid network_interface \"eth9\": no such interface on this machine (interfaces: lo, eth0, eth1)"
        );
        let o = Options {
            network_interface: "eth0 }".into(),
            ..opts("10.0.0.5")
        };
        assert_eq!(
            blocked(run(&o)),
            "invalid network_interface \"eth0 }\": not an interface name (letters, digits, . _ - : @, at most 15 characters)"
        );
        let mut net = snapshot();
        net.default_v4 = None;
        assert_eq!(
            blocked(run_with(&opts("172.16.0.1"), &[], &net)),
            "no interface for virtual_ip 172.16.0.1: no interface has an IPv4 address in its subnet and there is no IPv4 default route; set network_interface"
        );
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let o = Options {
            router_id: 300,
            port: -1,
            network_interface: "eth9".into(),
            ..opts("10.0.0.5 fd00::5")
        };
        assert_eq!(
            blocked(run(&o)),
            "invalid router_id 300: allowed 1..255 (unique per network segment); invalid port -1: allowed 1..65535; invalid network_interface \"eth9\": no such interface on this machine (interfaces: lo, eth0, eth1)"
        );
    }

    #[test]
    fn option_type_errors_block() {
        let o = opts("10.0.0.5");
        let errors = vec!["invalid port \"x\": expected an int".to_string()];
        let d = desired(&Facts {
            options: &o,
            option_errors: &errors,
            net: &snapshot(),
            priority: Priority::from_wire(254),
            peers: &[],
            published_sources: &[],
            engine_binary: Path::new(BIN),
            paused: false,
            yield_to_preferred: false,
            unit: "keepalived/0",
            app_units: None,
            identity_ran: None,
            identity_rolling: None,
        });
        assert_eq!(blocked(d), "invalid port \"x\": expected an int");
    }

    #[test]
    fn validation_yields_typed_options_and_building_needs_nothing_more() {
        let o = Options {
            router_id: 51,
            port: 6443,
            vrrp_version: Some(3),
            advert_interval: Some("0.25".into()),
            vip_hostname: "api.example.com".into(),
            ..opts("10.20.0.5/24 fd00::5")
        };
        let valid = validate(&o, &snapshot()).unwrap();
        assert_eq!(valid.vrid, Vrid::new(51).unwrap());
        assert_eq!(valid.port, 6443);
        assert_eq!(valid.ipv4_version, Version::V3);
        assert_eq!(valid.advert_interval, advert("0.25", Version::V3));
        assert_eq!(valid.vip_hostname.as_deref(), Some("api.example.com"));
        assert_eq!(texts(&valid.vips), vec!["10.20.0.5/24", "fd00::5/128"]);
        let names: Vec<_> = valid
            .links
            .iter()
            .map(|(f, l)| (*f, l.name.as_str()))
            .collect();
        assert_eq!(names, vec![(Family::V4, "eth1"), (Family::V6, "eth0")]);
        let pinned = (valid.ipv4_version, valid.advert_interval);
        let timing = timing::choose(
            Some(pinned),
            timing::PasswordUse::None,
            "keepalived/0",
            None,
            &timing::Offers::new(),
        );
        let built = build(
            &valid,
            &timing,
            identity_of(&valid, &[]),
            Priority::from_wire(254),
            &[],
            &[],
            Path::new(BIN),
        );
        assert_eq!(Desired::Configured(Box::new(built)), run(&o));
    }

    #[test]
    fn validation_alone_reports_an_empty_address_list() {
        // desired() calls this unconfigured before validating.
        assert_eq!(
            validate(&opts(" "), &snapshot()).unwrap_err(),
            vec!["invalid virtual_ip \" \": expected at least one address"]
        );
    }

    #[test]
    fn metrics_are_served_on_loopback_by_default_and_can_be_moved_or_turned_off() {
        let plan = |address: &str| match run(&Options {
            metrics_address: address.into(),
            ..opts("10.0.0.5")
        }) {
            Desired::Configured(plan) => plan.metrics_address,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            plan(crate::charm::options::DEFAULT_METRICS_ADDRESS),
            Some("127.0.0.1:9165".parse().unwrap())
        );
        assert_eq!(plan("[::1]:9100"), Some("[::1]:9100".parse().unwrap()));
        assert_eq!(plan(""), None);
    }

    /// Maintenance: `pause` marks the engine config, and a unit that is not the
    /// preferred one after a `switchover` runs without preemption.
    #[test]
    fn pause_and_another_units_switchover_shape_the_engine_config() {
        let o = opts("10.0.0.5");
        let net = snapshot();
        let facts = |paused, yield_to_preferred| Facts {
            options: &o,
            option_errors: &[],
            net: &net,
            priority: Priority::from_wire(253),
            peers: &[],
            published_sources: &[],
            engine_binary: Path::new(BIN),
            paused,
            yield_to_preferred,
            unit: "keepalived/0",
            app_units: None,
            identity_ran: None,
            identity_rolling: None,
        };
        let plan = |d: Desired| match d {
            Desired::Configured(p) => p,
            other => panic!("{other:?}"),
        };
        let normal = plan(desired(&facts(false, false)));
        assert!(!normal.engine.paused);
        assert!(normal.engine.instances.iter().all(|i| i.preempt));
        let paused = plan(desired(&facts(true, false)));
        assert!(paused.engine.paused);
        let yielding = plan(desired(&facts(false, true)));
        assert!(yielding.engine.instances.iter().all(|i| !i.preempt));
        assert_eq!(yielding.engine.instances[0].priority.get(), 253);
    }

    /// K-13: during a rolling `virtual_ip` change each instance carries the union of
    /// our list and the lists our peers are configured with, ours first.
    #[test]
    fn a_peer_on_another_vip_list_makes_the_instance_carry_the_union() {
        let mut old = peer("keepalived/1", Some("192.0.2.11"), None);
        old.vips = vec![
            Vip::parse("192.0.2.99/24").unwrap(),
            Vip::parse("fd00::99/64").unwrap(),
        ];
        let same = PeerAddresses {
            vips: vec![Vip::parse("192.0.2.100/24").unwrap()],
            ..peer("keepalived/2", Some("192.0.2.12"), None)
        };
        let plan = match run_with(&opts("192.0.2.100/24"), &[old, same], &snapshot()) {
            Desired::Configured(plan) => plan,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            plan.engine.instances.len(),
            1,
            "no IPv6 instance for a peer's IPv6 VIP"
        );
        let vips: Vec<String> = plan.engine.instances[0]
            .vips
            .iter()
            .map(Vip::to_string)
            .collect();
        assert_eq!(vips, ["192.0.2.100/24", "192.0.2.99/24"]);
        // What we publish and tell clients stays our own list.
        let ours: Vec<String> = plan.vips.iter().map(Vip::to_string).collect();
        assert_eq!(ours, ["192.0.2.100/24"]);
    }

    /// K-17, a rolling `network_interface` change: a peer still publishing the
    /// segment of another of our links (eth0's 192.0.2.0/24, we moved to eth1)
    /// makes the instance roll from that link, with its own VRID and password; a
    /// peer on our segment, on a segment we have no link on (routed), or a unicast
    /// instance bridges nothing. We publish the segment we run on.
    #[test]
    fn a_peer_on_a_segment_of_another_link_makes_the_instance_roll_from_that_link() {
        let on = |segments: &[&str]| PeerAddresses {
            segments: segments.iter().map(|s| s.to_string()).collect(),
            ..peer("keepalived/1", Some("192.0.2.11"), None)
        };
        let moved = Options {
            network_interface: "eth1".into(),
            ..opts("192.0.2.100/24")
        };
        let rolling = |o: &Options, peers: &[PeerAddresses]| {
            let p = plan(run_with(o, peers, &snapshot()));
            (
                p.segments.clone(),
                p.engine.instances[0].rolling_from.clone(),
            )
        };
        let (segments, from) = rolling(&moved, &[on(&["192.0.2.0/24"])]);
        assert_eq!(segments, ["10.20.0.0/16"]);
        assert_eq!(
            from,
            Some(Rolling {
                vrid: Vrid::new(23).unwrap(),
                password: None,
                unicast_peers: Vec::new(),
                interface: Some("eth0".into()),
            })
        );
        // A unit not moved yet hears a peer that did: it speaks on eth1 too.
        let (segments, from) = rolling(&opts("192.0.2.100/24"), &[on(&["10.20.0.0/16"])]);
        assert_eq!(segments, ["192.0.2.0/24"]);
        assert_eq!(from.and_then(|r| r.interface).as_deref(), Some("eth1"));
        for peers in [
            vec![on(&["10.20.0.0/16"])],
            vec![on(&["10.99.0.0/24"])],
            vec![on(&[])],
        ] {
            assert_eq!(rolling(&moved, &peers).1, None, "{peers:?}");
        }
        let unicast = Options {
            unicast: true,
            ..moved.clone()
        };
        assert_eq!(rolling(&unicast, &[on(&["192.0.2.0/24"])]).1, None);
    }
}
