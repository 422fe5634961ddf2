//! Generators of valid keepalived.conf models for the property and interop tests:
//! every generated `Config` is one the parser accepts without error.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use proptest::prelude::*;
use vrrp_core::config::{
    self, Config, GlobalDefs, InitialState, ScriptUser, TrackInterface, TrackScript,
    VirtualAddress, VrrpInstance, VrrpScript, Weight,
};
use vrrp_core::proto::{AdvertInterval, Auth, Family, Priority, Version, Vrid};

fn name() -> impl Strategy<Value = String> {
    "[A-Za-z_][A-Za-z0-9_.# -]{0,10}"
}

/// Interface names the models use (the interop test creates them).
pub const INTERFACES: &[&str] = &["eth0", "eth1", "ens3", "bond0", "br-lan"];

fn iface() -> impl Strategy<Value = String> {
    prop::sample::select(INTERFACES).prop_map(str::to_string)
}

fn user() -> impl Strategy<Value = ScriptUser> {
    (
        prop::sample::select(vec!["root", "nobody", "keepalived_script"]),
        prop::option::of(prop::sample::select(vec!["root", "nogroup"])),
    )
        .prop_map(|(u, g)| ScriptUser {
            user: u.to_string(),
            group: g.map(str::to_string),
        })
}

fn secs(lo: u64, hi: u64) -> impl Strategy<Value = Duration> {
    (lo..=hi).prop_map(Duration::from_secs)
}

fn global() -> impl Strategy<Value = GlobalDefs> {
    (
        prop::option::of(name()),
        prop::bool::ANY,
        prop::option::of(user()),
        prop::bool::ANY,
        prop::option::of(secs(0, 4294)),
        prop::option::of(1u32..=255),
        prop::option::of(secs(0, 4294)),
        (
            prop::option::of(1u8..=99),
            prop::bool::ANY,
            prop::option::of(1u8..=100),
        ),
    )
        .prop_map(
            |(
                router_id,
                v3,
                script_user,
                security,
                delay,
                repeat,
                refresh,
                (rt, no_swap, down),
            )| {
                GlobalDefs {
                    router_id,
                    vrrp_version: if v3 { Version::V3 } else { Version::V2 },
                    script_user,
                    enable_script_security: security,
                    garp_master_delay: delay,
                    garp_master_repeat: repeat,
                    garp_master_refresh: refresh,
                    down_timer_adverts: down,
                    rt_priority: rt,
                    no_swap,
                }
            },
        )
}

fn command() -> impl Strategy<Value = String> {
    let arg = prop_oneof!["[A-Za-z0-9/._=:<>-]{1,8}", "'[ !#-&(-\\[\\]-~]{0,8}'"];
    (
        prop::sample::select(vec![
            "/bin/true",
            "/usr/bin/check",
            "check-tcp",
            "/bin/bash",
        ]),
        prop::collection::vec(arg, 0..4),
    )
        .prop_map(|(program, args)| {
            let mut line = program.to_string();
            for a in args {
                line.push(' ');
                line.push_str(&a);
            }
            line
        })
}

fn weight() -> impl Strategy<Value = Weight> {
    (-253i32..=253).prop_map(|w| Weight::new(w).unwrap())
}

fn script(name: String) -> impl Strategy<Value = VrrpScript> {
    (
        command(),
        secs(1, 4294),
        secs(1, 4294),
        weight(),
        1u32..=i32::MAX as u32,
        1u32..=i32::MAX as u32,
        prop::bool::ANY,
        prop::option::of(user()),
    )
        .prop_map(
            move |(script, interval, timeout, weight, rise, fall, init_fail, user)| VrrpScript {
                name: name.clone(),
                script,
                interval,
                timeout,
                weight,
                rise,
                fall,
                init_fail,
                user,
            },
        )
}

fn v4() -> impl Strategy<Value = IpAddr> {
    (1u8..=223, any::<u8>(), any::<u8>(), 1u8..=254)
        .prop_filter("not loopback", |(a, ..)| *a != 127)
        .prop_map(|(a, b, c, d)| IpAddr::V4(Ipv4Addr::new(a, b, c, d)))
}

fn v6() -> impl Strategy<Value = IpAddr> {
    (
        prop::sample::select(vec![0xfd00u16, 0x2001, 0xfe80]),
        any::<u64>(),
        1u16..,
    )
        .prop_map(|(head, mid, tail)| {
            let m = mid.to_be_bytes();
            let seg = |i: usize| u16::from_be_bytes([m[i], m[i + 1]]);
            IpAddr::V6(Ipv6Addr::new(
                head,
                0,
                seg(0),
                seg(2),
                seg(4),
                seg(6),
                0,
                tail,
            ))
        })
}

fn addr(family: Family) -> BoxedStrategy<IpAddr> {
    match family {
        Family::V4 => v4().boxed(),
        Family::V6 => v6().boxed(),
    }
}

fn vip(family: Family, interface: String) -> impl Strategy<Value = VirtualAddress> {
    let max = config::max_prefix(family);
    (
        addr(family),
        0..=max,
        prop::option::of(iface()),
        prop::option::of(0u16..1000),
    )
        .prop_map(move |(addr, prefix_len, dev, label)| {
            let label = match (family, label) {
                (Family::V4, Some(n)) => {
                    Some(format!("{}:{n}", dev.as_deref().unwrap_or(&interface)))
                }
                _ => None,
            };
            VirtualAddress {
                addr,
                prefix_len,
                dev,
                label,
            }
        })
}

fn family() -> impl Strategy<Value = Family> {
    prop_oneof![Just(Family::V4), Just(Family::V6)]
}

fn instance(name: String, vrid: u8, scripts: Vec<String>) -> impl Strategy<Value = VrrpInstance> {
    (family(), iface()).prop_flat_map(move |(family, interface)| {
        let vips = prop::collection::vec(vip(family, interface.clone()), 1..4).prop_map(|v| {
            // Unique addresses: a duplicate is legal but warned about.
            let mut seen = BTreeSet::new();
            v.into_iter()
                .filter(|x| seen.insert(x.addr))
                .collect::<Vec<_>>()
        });
        let excluded = family_any().prop_flat_map({
            let interface = interface.clone();
            move |f| prop::collection::vec(vip(f, interface.clone()), 0..2)
        });
        let version = match family {
            Family::V6 => Just(Version::V3).boxed(),
            Family::V4 => prop_oneof![Just(Version::V2), Just(Version::V3)].boxed(),
        };
        let unicast = (
            prop::option::of(addr(family)),
            prop::collection::btree_set(addr(family), 0..3),
        )
            .prop_map(|(src, peers)| {
                let peers: Vec<IpAddr> = peers.into_iter().filter(|p| Some(*p) != src).collect();
                let src = if peers.is_empty() { None } else { src };
                (src, peers)
            });
        let tracked = prop::sample::subsequence(scripts.clone(), 0..=scripts.len());
        (
            (
                Just(name.clone()),
                Just(interface),
                version,
                1u32..=255,
                prop::bool::ANY,
            ),
            (
                prop::bool::ANY,
                0u64..=1000,
                "[ -!#-\\[\\]-~]{1,8}",
                prop::bool::ANY,
            ),
            (unicast, vips, excluded),
            (
                prop::collection::vec((iface(), prop::option::of(weight())), 0..3),
                tracked,
                prop::collection::vec(prop::option::of(weight()), 3),
            ),
            (
                secs(0, 4294),
                1u32..=255,
                prop::option::of(secs(1, 4294)),
                1u16..=4095,
                1u8..=100,
            ),
        )
            .prop_map(move |(basic, pre, addrs, tracks, garp)| {
                let (name, interface, version, priority, master) = basic;
                let (nopreempt, delay_ms, pass, with_auth) = pre;
                let (unicast, vips, vips_excluded) = addrs;
                let (track_ifaces, track_names, track_weights) = tracks;
                let (garp_delay, garp_repeat, garp_refresh, centis, down_timer_adverts) = garp;
                let priority = Priority::configured(priority).unwrap();
                let initial_state = if master {
                    InitialState::Master
                } else {
                    InitialState::Backup
                };
                let preempt = !(nopreempt && !master && !priority.is_owner());
                let advert_int = match version {
                    Version::V2 => {
                        AdvertInterval::from_secs(u8::try_from(centis % 255 + 1).unwrap()).unwrap()
                    }
                    Version::V3 => AdvertInterval::from_centis(centis).unwrap(),
                };
                let track_interfaces = track_ifaces
                    .into_iter()
                    .filter(|(name, _)| *name != interface)
                    .collect::<std::collections::BTreeMap<_, _>>()
                    .into_iter()
                    // An address owner's priority never moves: no weights (keepalived).
                    .map(|(name, weight)| TrackInterface {
                        name,
                        weight: weight.filter(|_| !priority.is_owner()),
                    })
                    .collect();
                VrrpInstance {
                    name,
                    initial_state,
                    interface,
                    vrid: Vrid::new(vrid).unwrap(),
                    priority,
                    advert_int,
                    version,
                    preempt,
                    preempt_delay: if preempt && !master && !priority.is_owner() {
                        Duration::from_millis(delay_ms * 1000)
                    } else {
                        Duration::ZERO
                    },
                    auth: if with_auth && version == Version::V2 {
                        Auth::pass(&pass)
                    } else {
                        Auth::None
                    },
                    unicast_src_ip: unicast.0,
                    unicast_peers: unicast.1,
                    // Ours, not keepalived's (K-17): these configs go to keepalived too.
                    rolling_from: None,
                    family: vips[0].family(),
                    vips,
                    vips_excluded,
                    track_interfaces,
                    track_scripts: track_names
                        .into_iter()
                        .zip(track_weights)
                        .map(|(name, weight)| TrackScript {
                            name,
                            weight: if priority.is_owner() {
                                Some(Weight::default())
                            } else {
                                weight
                            },
                        })
                        .collect(),
                    garp_master_delay: garp_delay,
                    garp_master_repeat: garp_repeat,
                    garp_master_refresh: garp_refresh,
                    down_timer_adverts,
                }
            })
    })
}

fn family_any() -> impl Strategy<Value = Family> {
    family()
}

pub fn config() -> impl Strategy<Value = Config> {
    (
        global(),
        prop::collection::btree_set(name(), 0..3),
        prop::collection::btree_set(name(), 1..4),
        prop::collection::btree_set(1u8..=255, 4),
    )
        .prop_flat_map(|(global, script_names, instance_names, vrids)| {
            let script_names: Vec<String> = script_names.into_iter().collect();
            let scripts: Vec<_> = script_names.iter().map(|n| script(n.clone())).collect();
            let instances: Vec<_> = instance_names
                .into_iter()
                .zip(vrids)
                .map(|(n, vrid)| instance(n, vrid, script_names.clone()))
                .collect();
            (Just(global), scripts, instances)
        })
        .prop_map(|(global, scripts, instances)| Config {
            global,
            scripts,
            instances,
        })
}
