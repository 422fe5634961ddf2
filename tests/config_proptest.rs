//! Properties of the keepalived.conf parser:
//! * any token soup (and any bytes) is answered with diagnostics, never a panic, and
//!   every diagnostic points inside the file;
//! * whatever the parser accepts renders back to text it parses to the same config;
//! * every valid model renders to text that parses back to exactly that model.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use keepalived_charm::engine::config::{
    self, Config, GlobalDefs, Host, InitialState, ScriptUser, TrackInterface, TrackScript,
    VirtualAddress, VrrpInstance, VrrpScript, Weight,
};
use keepalived_charm::engine::proto::{AdvertInterval, Auth, Family, Priority, Version, Vrid};
use proptest::prelude::*;

/// A host where everything exists, so the host checks run without I/O.
struct Everything;

impl Host for Everything {
    fn interface_exists(&self, _: &str) -> bool {
        true
    }
    fn program_exists(&self, _: &str) -> bool {
        true
    }
    fn user_exists(&self, _: &str) -> bool {
        true
    }
    fn group_exists(&self, _: &str) -> bool {
        true
    }
}

fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "global_defs",
            "vrrp_script",
            "vrrp_instance",
            "script",
            "interval",
            "timeout",
            "weight",
            "rise",
            "fall",
            "init_fail",
            "user",
            "router_id",
            "vrrp_version",
            "script_user",
            "enable_script_security",
            "state",
            "interface",
            "virtual_router_id",
            "priority",
            "advert_int",
            "version",
            "nopreempt",
            "preempt_delay",
            "authentication",
            "auth_type",
            "auth_pass",
            "PASS",
            "AH",
            "unicast_src_ip",
            "unicast_peer",
            "virtual_ipaddress",
            "virtual_ipaddress_excluded",
            "track_interface",
            "track_script",
            "garp_master_delay",
            "garp_master_repeat",
            "garp_master_refresh",
            "vrrp_garp_master_delay",
            "use_vmac",
            "include",
            "MASTER",
            "BACKUP",
            "dev",
            "label",
            "eth0",
            "lo",
            "eth0:1",
            "VI_1",
            "chk",
            "0",
            "1",
            "2",
            "3",
            "255",
            "256",
            "0.1",
            "40.95",
            "-253",
            "4294",
            "10.1.2.3",
            "10.1.2.3/16",
            "fd00::1",
            "fd00::1/64",
            "224.0.0.18",
            "/bin/true",
            "\"/bin/sh -c 'x'\"",
            "\"\"",
            "{",
            "}",
            "{",
            "}",
            "\n",
            "\n",
            "\n",
            "#",
            "!",
            "\"",
            "'",
            "\\",
            "\t",
            "\r\n",
        ])
        .prop_map(str::to_string),
        "[ -~]{0,12}",
        any::<char>().prop_map(|c| c.to_string()),
    ]
}

fn soup() -> impl Strategy<Value = String> {
    prop::collection::vec(token(), 0..120).prop_map(|tokens| tokens.join(" "))
}

/// A few instances, well formed, with one token somewhere replaced by noise.
fn near_valid() -> impl Strategy<Value = String> {
    (config(), any::<prop::sample::Index>(), token()).prop_map(|(c, index, noise)| {
        let text = c.to_keepalived_conf();
        let words: Vec<&str> = text.split(' ').collect();
        let i = index.index(words.len());
        let mut out: Vec<String> = words.iter().map(|w| w.to_string()).collect();
        out[i] = noise;
        out.join(" ")
    })
}

fn check_diagnostics_point_inside(text: &str, diagnostics: &[config::Diagnostic]) {
    let lines = u32::try_from(text.split('\n').count()).unwrap();
    for d in diagnostics {
        let pos = d.pos.expect("text diagnostics have a position");
        assert!(
            pos.line >= 1 && pos.line <= lines,
            "{d} outside 1..={lines}"
        );
        assert!(pos.column >= 1, "{d}");
        assert!(!d.message.is_empty());
    }
}

fn accepted_round_trips(text: &str) {
    let checked = config::check_text("soup.conf", text.as_bytes(), &Everything);
    check_diagnostics_point_inside(text, &checked.diagnostics);
    if let Ok(loaded) = config::parse("soup.conf", text.as_bytes()) {
        let rendered = loaded.config.to_keepalived_conf();
        let again = config::parse("rendered.conf", rendered.as_bytes())
            .unwrap_or_else(|e| panic!("render of accepted text is refused: {e:?}\n{rendered}"));
        assert_eq!(again.config, loaded.config, "{rendered}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn token_soup_never_panics_and_accepted_soup_round_trips(text in soup()) {
        accepted_round_trips(&text);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let _ = config::parse("bytes.conf", &bytes);
        let _ = config::check_text("bytes.conf", &bytes, &Everything);
    }

    #[test]
    fn near_valid_files_never_panic_and_accepted_ones_round_trip(text in near_valid()) {
        accepted_round_trips(&text);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn valid_models_round_trip_through_keepalived_conf(c in config()) {
        let text = c.to_keepalived_conf();
        let loaded = config::parse("model.conf", text.as_bytes())
            .unwrap_or_else(|e| panic!("{}\n{text}", e.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n")));
        prop_assert_eq!(&loaded.config, &c, "{}", text);
    }
}

// ---- generators of valid models ----

fn name() -> impl Strategy<Value = String> {
    "[A-Za-z_][A-Za-z0-9_.# -]{0,10}"
}

fn iface() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["eth0", "eth1", "ens3", "bond0", "br-lan"]).prop_map(str::to_string)
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
    )
        .prop_map(
            |(router_id, v3, script_user, security, delay, repeat, refresh)| GlobalDefs {
                router_id,
                vrrp_version: if v3 { Version::V3 } else { Version::V2 },
                script_user,
                enable_script_security: security,
                garp_master_delay: delay,
                garp_master_repeat: repeat,
                garp_master_refresh: refresh,
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
        1u32..=u32::MAX,
        1u32..=u32::MAX,
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
                "[ -!#-~]{1,8}",
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
            ),
        )
            .prop_map(move |(basic, pre, addrs, tracks, garp)| {
                let (name, interface, version, priority, master) = basic;
                let (nopreempt, delay_ms, pass, with_auth) = pre;
                let (unicast, vips, vips_excluded) = addrs;
                let (track_ifaces, track_names, track_weights) = tracks;
                let (garp_delay, garp_repeat, garp_refresh, centis) = garp;
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
                VrrpInstance {
                    name,
                    initial_state,
                    interface,
                    vrid: Vrid::new(vrid).unwrap(),
                    priority,
                    advert_int,
                    version,
                    preempt,
                    preempt_delay: if preempt {
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
                    family: vips[0].family(),
                    vips,
                    vips_excluded,
                    track_interfaces: track_ifaces
                        .into_iter()
                        .map(|(name, weight)| TrackInterface { name, weight })
                        .collect(),
                    track_scripts: track_names
                        .into_iter()
                        .zip(track_weights)
                        .map(|(name, weight)| TrackScript { name, weight })
                        .collect(),
                    garp_master_delay: garp_delay,
                    garp_master_repeat: garp_repeat,
                    garp_master_refresh: garp_refresh,
                }
            })
    })
}

fn family_any() -> impl Strategy<Value = Family> {
    family()
}

fn config() -> impl Strategy<Value = Config> {
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
