//! One `vrrp_instance` as the daemon runs it: the parsed config mapped onto the
//! router's settings ([`RouterConfig`]), the receive ladder's expectations
//! ([`RxExpect`]), the encoder's choices ([`EncodeOptions`]) and where adverts go.
//!
//! Pure: the only fact from the host is the instance's source address, passed in.
//! Encoder and ladder derive their IPv6 first-address rule from the same configured
//! list ([`Ipv6FirstAddress::for_configured`]), so what we send is what we accept.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, SystemTime};

use vrrp_core::config::{Config, InitialState as ConfInitialState, VirtualAddress, VrrpInstance};
use vrrp_core::packet::{
    ChecksumForm, DropCounters, EncodeOptions, Ipv6FirstAddress, RxExpect, Transport,
    V3Ipv4Checksum,
};
use vrrp_core::proto::{Advert, Auth, Family, Version, Vrid};
use vrrp_core::router::{
    GarpConfig, InitialState, Router, RouterConfig, Time, TrackInterface, TrackScript,
};

/// What keepalived matches old and new instances by on a reload (`vrrp_exist`):
/// the same key means the same virtual router, reconfigured in place.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InstanceKey {
    pub vrid: Vrid,
    /// The `rolling_from` VRID when it differs (K-17): the router answers to it too.
    pub rolling_from: Option<Vrid>,
    /// Whether the `rolling_from` identity is unicast, when there is one.
    pub rolling_unicast: Option<bool>,
    pub family: Family,
    pub interface: String,
    /// The `rolling_from` interface when it differs (K-17): the router runs there too.
    pub rolling_interface: Option<String>,
    pub unicast: bool,
    pub unicast_src: Option<IpAddr>,
}

impl InstanceKey {
    pub fn of(instance: &VrrpInstance) -> InstanceKey {
        InstanceKey {
            vrid: instance.vrid,
            rolling_from: rolling_vrid(instance),
            rolling_unicast: instance
                .rolling_from
                .as_ref()
                .map(|r| !r.unicast_peers.is_empty()),
            family: instance.family,
            interface: instance.interface.clone(),
            rolling_interface: rolling_interface(instance).map(str::to_string),
            unicast: instance.is_unicast(),
            unicast_src: instance.unicast_src_ip,
        }
    }

    /// The same virtual router: the same family, and a VRID, a transport and an
    /// interface in common (equal, or one side's `rolling_from` naming the other's,
    /// K-17), and the same unicast source when both are unicast.
    pub fn same_router(&self, other: &InstanceKey) -> bool {
        fn shared<T: PartialEq + Copy>(a: [Option<T>; 2], b: [Option<T>; 2]) -> bool {
            a.iter().flatten().any(|x| b.contains(&Some(*x)))
        }
        let vrids = |k: &InstanceKey| [Some(k.vrid), k.rolling_from];
        let transports = |k: &InstanceKey| [Some(k.unicast), k.rolling_unicast];
        fn interfaces(k: &InstanceKey) -> [Option<&str>; 2] {
            [Some(k.interface.as_str()), k.rolling_interface.as_deref()]
        }
        shared(vrids(self), vrids(other))
            && shared(transports(self), transports(other))
            && shared(interfaces(self), interfaces(other))
            && self.family == other.family
            && (!(self.unicast && other.unicast) || self.unicast_src == other.unicast_src)
    }

    /// Whether the router answers to `vrid` (its own or its `rolling_from`).
    pub fn answers_to(&self, vrid: u8) -> bool {
        self.vrid.get() == vrid || self.rolling_from.is_some_and(|v| v.get() == vrid)
    }
}

/// The `rolling_from` VRID of `instance`, when it differs from its own (K-17).
pub fn rolling_vrid(instance: &VrrpInstance) -> Option<Vrid> {
    instance
        .rolling_from
        .as_ref()
        .and_then(|r| r.other_vrid(instance.vrid))
}

/// The interface `instance`'s `rolling_from` identity runs on, when not its own
/// (K-17: a rolling `interface` change).
pub fn rolling_interface(instance: &VrrpInstance) -> Option<&str> {
    instance
        .rolling_from
        .as_ref()
        .and_then(|r| r.interface.as_deref())
        .filter(|i| *i != instance.interface)
}

/// The source address a router uses before the interface has one: the unspecified
/// address of its family. The instance is held in FAULT until a real one is known,
/// so this never reaches the wire.
pub fn placeholder_source(family: Family) -> IpAddr {
    match family {
        Family::V4 => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        Family::V6 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    }
}

/// The router settings of `instance` in `config`, advertising from `source`.
pub fn router_config(config: &Config, instance: &VrrpInstance, source: IpAddr) -> RouterConfig {
    let mut rc = RouterConfig::new(
        instance.name.clone(),
        instance.interface.clone(),
        instance.vrid,
        source,
        advertised(instance),
    );
    rc.family = instance.family;
    rc.version = instance.version;
    rc.priority = instance.priority;
    rc.advert_interval = instance.advert_int;
    rc.preempt = instance.preempt;
    rc.preempt_delay = instance.preempt_delay;
    rc.initial_state = match instance.initial_state {
        ConfInitialState::Master => InitialState::Master,
        ConfInitialState::Backup => InitialState::Backup,
    };
    rc.auth = instance.auth;
    rc.garp = GarpConfig {
        repeat: instance.garp_master_repeat.max(1),
        delay: instance.garp_master_delay,
        refresh: instance.garp_master_refresh.unwrap_or(Duration::ZERO),
        ..GarpConfig::default()
    };
    rc.down_timer_adverts = instance.down_timer_adverts;
    rc.rolling_from = instance.rolling_from.clone();
    rc.track_scripts = instance
        .track_scripts
        .iter()
        .filter_map(|t| {
            let script = config.script(&t.name)?;
            Some(TrackScript {
                name: t.name.clone(),
                weight: t.weight.unwrap_or(script.weight).get(),
                rise: script.rise.max(1),
                fall: script.fall.max(1),
                init_fail: script.init_fail,
            })
        })
        .collect();
    rc.track_interfaces = instance
        .track_interfaces
        .iter()
        .map(|t| TrackInterface {
            name: t.name.clone(),
            weight: t.weight.map_or(0, |w| w.get()),
        })
        .collect();
    rc
}

/// The addresses the instance advertises, in configured order.
pub fn advertised(instance: &VrrpInstance) -> Vec<IpAddr> {
    instance.vips.iter().map(|v| v.addr).collect()
}

/// What the receive ladder expects of this instance's peers (in its `rolling_from`
/// identity too, K-17).
pub fn rx_expect(instance: &VrrpInstance) -> RxExpect {
    let mut expect = RxExpect::new(
        instance.version,
        instance.family,
        instance.vrid,
        instance.advert_int,
        advertised(instance),
    );
    expect.auth = instance.auth;
    expect.owner = instance.priority.is_owner();
    expect.rolling_from = instance.rolling_from.clone();
    expect.transport = Transport::of(instance.family, &instance.unicast_peers);
    expect
}

/// keepalived 2.2.7's encoding: v3/IPv4 checksummed with the pseudo-header, the IPv6
/// address list as configured unless the configuration itself follows RFC 9568.
pub fn encode_options(instance: &VrrpInstance) -> EncodeOptions {
    EncodeOptions {
        v3_ipv4_checksum: V3Ipv4Checksum::PseudoHeader,
        ipv6_first_address: Ipv6FirstAddress::for_configured(&advertised(instance)),
    }
}

/// Where the adverts go: the VRRP group, or one copy to each unicast peer.
pub fn destinations(instance: &VrrpInstance) -> Vec<IpAddr> {
    Transport::of(instance.family, &instance.unicast_peers).destinations()
}

/// Where adverts in the `rolling_from` identity go (K-17): its unicast peers, or
/// the group; nowhere without one.
pub fn rolling_destinations(instance: &VrrpInstance) -> Vec<IpAddr> {
    instance
        .rolling_from
        .as_ref()
        .map(|r| Transport::of(instance.family, &r.unicast_peers).destinations())
        .unwrap_or_default()
}

/// Every address the instance puts on an interface while MASTER (advertised and
/// `virtual_ipaddress_excluded`), with its prefix, device and label.
pub fn all_vips(instance: &VrrpInstance) -> impl Iterator<Item = &VirtualAddress> {
    instance.vips.iter().chain(instance.vips_excluded.iter())
}

/// The interface an address of the instance goes on (`dev`, else the instance's).
pub fn vip_device<'a>(instance: &'a VrrpInstance, vip: &'a VirtualAddress) -> &'a str {
    vip.dev.as_deref().unwrap_or(&instance.interface)
}

/// A running instance: its config, its router and what the daemon tracks about it.
#[derive(Debug)]
pub struct Instance {
    pub config: VrrpInstance,
    pub key: InstanceKey,
    pub router: Router,
    /// The address adverts leave from, once the interface has one.
    pub source: Option<IpAddr>,
    /// The address adverts in the `rolling_from` identity leave from when it runs
    /// on another interface and that interface has one (K-17).
    pub rolling_source: Option<IpAddr>,
    pub expect: RxExpect,
    pub encode: EncodeOptions,
    pub destinations: Vec<IpAddr>,
    /// Where adverts in the `rolling_from` identity go (K-17).
    pub rolling_destinations: Vec<IpAddr>,
    /// Interface names last reported down to the router (own interface without a
    /// usable link or source address, tracked interfaces without a link).
    pub reported_down: BTreeSet<String>,
    pub last_transition: Option<(SystemTime, String)>,
    /// State changes by reason (`metrics::reason_label`), for the metrics.
    pub transitions_by_reason: BTreeMap<&'static str, u64>,
    /// When the current Master's last advert arrived, while a Backup (metrics).
    pub master_heard: Option<Time>,
    /// Ladder drops attributed to this instance (by the VRID of the packet).
    pub drops: DropCounters,
    /// The checksum form each peer's adverts used (docs/requirements.md K-11: know who speaks which).
    pub checksum_forms: BTreeMap<IpAddr, ChecksumForm>,
    pub send_errors: u64,
    /// The addresses of the config this instance ran before the last reload, so a
    /// VIP dropped by the reload is removed from the device it was added to.
    pub retired: Vec<VirtualAddress>,
    /// The last advert read from the polled socket, as the waiting queue would
    /// match its copies (`super::waiting`).
    pub wait_candidate: Option<super::waiting::WaitCandidate>,
}

impl Instance {
    /// A router in Initialize for `instance`; the driver reports interfaces, then
    /// sends `Startup`.
    pub fn new(
        config: &Config,
        instance: &VrrpInstance,
        source: Option<IpAddr>,
    ) -> Result<Instance, vrrp_core::router::ConfigError> {
        let src = source.unwrap_or_else(|| placeholder_source(instance.family));
        let router = Router::new(router_config(config, instance, src))?;
        Ok(Instance {
            config: instance.clone(),
            key: InstanceKey::of(instance),
            router,
            source,
            rolling_source: None,
            expect: rx_expect(instance),
            encode: encode_options(instance),
            destinations: destinations(instance),
            rolling_destinations: rolling_destinations(instance),
            reported_down: BTreeSet::new(),
            last_transition: None,
            transitions_by_reason: BTreeMap::new(),
            master_heard: None,
            drops: DropCounters::default(),
            checksum_forms: BTreeMap::new(),
            send_errors: 0,
            retired: Vec::new(),
            wait_candidate: None,
        })
    }

    /// How `advert` leaves: (interface, source address, destinations) for each
    /// interface it goes out on. On the instance's own interface from its source,
    /// to [`Instance::destinations_of`]; when the `rolling_from` identity runs on
    /// another interface (K-17), an advert in that identity goes out there instead,
    /// from that interface's address (nowhere while it has none), so an interface
    /// change alone sends the one advert on both.
    pub fn legs(&self, advert: &Advert) -> Vec<(&str, IpAddr, Vec<IpAddr>)> {
        let mut legs = Vec::with_capacity(1);
        let Some(source) = self.source else {
            return legs;
        };
        let Some(elsewhere) = rolling_interface(&self.config) else {
            legs.push((
                self.config.interface.as_str(),
                source,
                self.destinations_of(advert).collect(),
            ));
            return legs;
        };
        let (own, rolling) = self.identities_of(advert);
        if own {
            legs.push((
                self.config.interface.as_str(),
                source,
                self.destinations.clone(),
            ));
        }
        if let (true, Some(rolling_source)) = (rolling, self.rolling_source) {
            legs.push((elsewhere, rolling_source, self.rolling_destinations.clone()));
        }
        legs
    }

    /// Whether `advert` is in the instance's own identity, and whether it is in the
    /// `rolling_from` one (both when they share VRID and password).
    fn identities_of(&self, advert: &Advert) -> (bool, bool) {
        let speaks = |vrid: Vrid, auth: &Auth| {
            advert.vrid == vrid && (advert.version == Version::V3 || advert.auth == *auth)
        };
        let own = speaks(self.config.vrid, &self.config.auth);
        let rolling = self
            .config
            .rolling_from
            .as_ref()
            .is_some_and(|r| speaks(r.vrid, &r.auth));
        (own, rolling)
    }

    /// Where `advert` goes on the instance's own interface: to this identity's
    /// destinations when it is in the instance's own identity, to the `rolling_from`
    /// identity's when it is in that one, to both when both are the same VRID and
    /// password on two transports.
    pub fn destinations_of<'a>(&'a self, advert: &Advert) -> impl Iterator<Item = IpAddr> + 'a {
        let (own, rolling) = self.identities_of(advert);
        let own_list = if own { &self.destinations[..] } else { &[] };
        let rolling_list = if rolling {
            &self.rolling_destinations[..]
        } else {
            &[]
        };
        own_list.iter().copied().chain(
            rolling_list
                .iter()
                .copied()
                .filter(move |d| !(own && self.destinations.contains(d))),
        )
    }

    /// The `VirtualAddress` entry of `addr` (advertised or excluded).
    pub fn vip(&self, addr: IpAddr) -> Option<&VirtualAddress> {
        all_vips(&self.config).find(|v| v.addr == addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vrrp_core::config::parse;
    use vrrp_core::proto::{AdvertInterval, Auth, Priority, Version};

    fn load(text: &str) -> Config {
        parse("k.conf", text.as_bytes()).unwrap().config
    }

    const CHARM: &str = r#"
global_defs {
    script_user root
    enable_script_security
}
vrrp_script chk_svc_port {
    script "/usr/bin/keepalived-charm check-tcp 127.0.0.1 443"
    interval 2
    weight -100
    fall 3
}
vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 23
    priority 254
    advert_int 1
    virtual_ipaddress {
        10.10.74.250/24 dev eth0 label eth0:vip
    }
    virtual_ipaddress_excluded {
        10.10.75.1/32
    }
    track_script {
        chk_svc_port
    }
    track_interface {
        eth1
        eth2 weight -20
    }
}
"#;

    #[test]
    fn the_charm_instance_maps_onto_the_router_with_keepalived_defaults() {
        let config = load(CHARM);
        let inst = &config.instances[0];
        let rc = router_config(&config, inst, "10.10.74.11".parse().unwrap());
        assert_eq!(rc.name, "VI_1");
        assert_eq!(rc.vrid.get(), 23);
        assert_eq!((rc.family, rc.version), (Family::V4, Version::V2));
        assert_eq!(rc.priority, Priority::from_wire(254));
        assert_eq!(rc.advert_interval, AdvertInterval::DEFAULT);
        assert_eq!(rc.initial_state, InitialState::Backup);
        assert_eq!(rc.vips, vec!["10.10.74.250".parse::<IpAddr>().unwrap()]);
        assert_eq!(
            rc.track_scripts,
            vec![TrackScript {
                name: "chk_svc_port".into(),
                weight: -100,
                rise: 1,
                fall: 3,
                init_fail: false
            }]
        );
        assert_eq!(
            rc.track_interfaces,
            vec![
                TrackInterface {
                    name: "eth1".into(),
                    weight: 0
                },
                TrackInterface {
                    name: "eth2".into(),
                    weight: -20
                }
            ]
        );
        assert_eq!(rc.garp.repeat, 5);
        assert_eq!(rc.garp.delay, Duration::from_secs(5));
        assert_eq!(rc.garp.refresh, Duration::ZERO);
        assert_eq!(rc.validate(), Ok(()));
    }

    #[test]
    fn excluded_addresses_are_installed_but_never_advertised() {
        let config = load(CHARM);
        let inst = &config.instances[0];
        assert_eq!(advertised(inst).len(), 1);
        let all: Vec<String> = all_vips(inst).map(|v| v.addr.to_string()).collect();
        assert_eq!(all, vec!["10.10.74.250", "10.10.75.1"]);
        let vip = &inst.vips[0];
        assert_eq!(vip.prefix_len, 24);
        assert_eq!(vip.label.as_deref(), Some("eth0:vip"));
        assert_eq!(vip_device(inst, &inst.vips_excluded[0]), "eth0");
    }

    #[test]
    fn a_track_script_weight_overrides_the_script_weight() {
        let text = CHARM.replace(
            "        chk_svc_port\n    }\n    track_interface",
            "        chk_svc_port weight 7\n    }\n    track_interface",
        );
        let config = load(&text);
        let rc = router_config(&config, &config.instances[0], "10.0.0.1".parse().unwrap());
        assert_eq!(rc.track_scripts[0].weight, 7);
    }

    #[test]
    fn unicast_instances_send_one_copy_per_peer_and_accept_only_the_peers() {
        let config = load(
            r#"
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 23
    priority 200
    unicast_src_ip 192.0.2.10
    unicast_peer {
        192.0.2.11
        192.0.2.12
    }
    authentication {
        auth_type PASS
        auth_pass s3cr3t
    }
    virtual_ipaddress {
        192.0.2.100/24
    }
}
"#,
        );
        let inst = &config.instances[0];
        let peers: Vec<IpAddr> = vec!["192.0.2.11".parse().unwrap(), "192.0.2.12".parse().unwrap()];
        assert_eq!(destinations(inst), peers);
        let expect = rx_expect(inst);
        assert_eq!(expect.transport, Transport::Unicast { peers });
        assert_eq!(expect.auth, Auth::pass("s3cr3t"));
        assert!(!expect.owner);
        let key = InstanceKey::of(inst);
        assert!(key.unicast);
        assert_eq!(key.unicast_src, Some("192.0.2.10".parse().unwrap()));
    }

    /// A v2 advert at priority 100 for 10.0.0.100 on `vrid`.
    fn advert(vrid: u8) -> vrrp_core::proto::Advert {
        vrrp_core::proto::Advert {
            version: Version::V2,
            vrid: Vrid::new(vrid).unwrap(),
            priority: Priority::from_wire(100),
            interval: AdvertInterval::DEFAULT,
            addresses: vec!["10.0.0.100".parse().unwrap()],
            auth: Auth::None,
        }
    }

    /// K-17: an advert goes where its identity's routers listen: a transport change
    /// alone sends the one advert to the group and to the old peers; a VRID change
    /// sends the router's advert and its old-VRID copy each to their own.
    #[test]
    fn a_rolling_instance_sends_each_identity_to_its_own_destinations() {
        let text = |rolling: &str| {
            format!("vrrp_instance VI_1 {{\n    interface eth0\n    virtual_router_id 23\n    virtual_ipaddress {{\n        10.0.0.100\n    }}\n    rolling_from {{\n{rolling}    }}\n}}\n")
        };
        let group: IpAddr = "224.0.0.18".parse().unwrap();
        let peer: IpAddr = "10.0.0.2".parse().unwrap();
        let transport = load(&text("        virtual_router_id 23\n        unicast_peer {\n            10.0.0.2\n        }\n"));
        let inst = Instance::new(&transport, &transport.instances[0], None).unwrap();
        let to = |inst: &Instance, vrid| inst.destinations_of(&advert(vrid)).collect::<Vec<_>>();
        assert_eq!(to(&inst, 23), vec![group, peer]);
        let vrid = load(&text("        virtual_router_id 22\n"));
        let inst = Instance::new(&vrid, &vrid.instances[0], None).unwrap();
        assert_eq!((to(&inst, 23), to(&inst, 22)), (vec![group], vec![group]));
        assert_eq!(to(&inst, 21), Vec::<IpAddr>::new());
    }

    /// K-17, a rolling `interface` change: the one advert goes out on the new
    /// interface from its address and on the old one from that one's; an advert in
    /// an old VRID only on the old interface; nothing on the old interface while it
    /// has no address.
    #[test]
    fn a_rolling_interface_sends_the_advert_on_both_interfaces_from_each_ones_address() {
        let text = |vrid: u8| {
            format!("vrrp_instance VI_1 {{\n    interface eth1\n    virtual_router_id 23\n    virtual_ipaddress {{\n        10.0.0.100\n    }}\n    rolling_from {{\n        virtual_router_id {vrid}\n        interface eth0\n    }}\n}}\n")
        };
        let group: IpAddr = "224.0.0.18".parse().unwrap();
        let (new_src, old_src): (IpAddr, IpAddr) =
            ("10.1.0.1".parse().unwrap(), "10.0.0.1".parse().unwrap());
        let config = load(&text(23));
        let mut inst = Instance::new(&config, &config.instances[0], Some(new_src)).unwrap();
        assert_eq!(rolling_interface(&inst.config), Some("eth0"));
        assert_eq!(
            inst.legs(&advert(23)),
            vec![("eth1", new_src, vec![group])],
            "no address on eth0: nothing goes out there"
        );
        inst.rolling_source = Some(old_src);
        assert_eq!(
            inst.legs(&advert(23)),
            vec![
                ("eth1", new_src, vec![group]),
                ("eth0", old_src, vec![group])
            ]
        );
        let config = load(&text(22));
        let mut inst = Instance::new(&config, &config.instances[0], Some(new_src)).unwrap();
        inst.rolling_source = Some(old_src);
        assert_eq!(inst.legs(&advert(23)), vec![("eth1", new_src, vec![group])]);
        assert_eq!(inst.legs(&advert(22)), vec![("eth0", old_src, vec![group])]);
        let key = InstanceKey::of(&config.instances[0]);
        assert_eq!(key.rolling_interface.as_deref(), Some("eth0"));
    }

    #[test]
    fn multicast_instances_send_to_the_vrrp_group_of_their_family() {
        let config = load(
            r#"
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 23
    virtual_ipaddress {
        10.0.0.100
    }
}
vrrp_instance VI_6 {
    interface eth0
    virtual_router_id 23
    virtual_ipaddress {
        fd00::100
    }
}
"#,
        );
        assert_eq!(
            destinations(&config.instances[0]),
            vec!["224.0.0.18".parse::<IpAddr>().unwrap()]
        );
        assert_eq!(
            destinations(&config.instances[1]),
            vec!["ff02::12".parse::<IpAddr>().unwrap()]
        );
    }

    #[test]
    fn encoder_and_ladder_agree_on_the_ipv6_first_address_rule() {
        for vips in ["fd00::100", "fe80::1:100\n        fd00::100"] {
            let config = load(&format!(
                "vrrp_instance VI_6 {{\n    interface eth0\n    virtual_router_id 9\n    virtual_ipaddress {{\n        {vips}\n    }}\n}}\n"
            ));
            let inst = &config.instances[0];
            assert_eq!(
                encode_options(inst).ipv6_first_address,
                rx_expect(inst).ipv6_first_address,
                "{vips}"
            );
        }
        let config = load("vrrp_instance VI_6 {\n    interface eth0\n    virtual_router_id 9\n    virtual_ipaddress {\n        fd00::100\n    }\n}\n");
        assert_eq!(
            encode_options(&config.instances[0]).ipv6_first_address,
            Ipv6FirstAddress::AsConfigured
        );
    }

    #[test]
    fn an_instance_without_a_source_yet_uses_the_unspecified_address() {
        let config = load(CHARM);
        let inst = Instance::new(&config, &config.instances[0], None).unwrap();
        assert_eq!(inst.source, None);
        assert_eq!(
            inst.router.config().primary_address,
            "0.0.0.0".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            inst.vip("10.10.75.1".parse().unwrap())
                .map(|v| v.prefix_len),
            Some(32)
        );
    }
}
