//! `juju refresh` from the original charm, in the namespace lab (docs/juju-contract.md O-11): three
//! units installed by the original charm run the distro keepalived (VRRPv2, multicast,
//! leader 101 / others 100, `chk_svc_port` weight 2) as `keepalived.service` under the
//! live systemd stand-in; then each unit is refreshed in turn through the emulator
//! (upgrade-charm → config-changed → leader-settings-changed → start). After every
//! step the distro keepalived of that unit is stopped and disabled, our engine runs,
//! and clients lost the VIP only for a graceful handover.
//!
//! Needs root (namespaces, raw sockets) and keepalived on PATH, like the rest of the lab.

use std::time::{Duration, Instant};

use crate::e2e::{runs_compatible_timing, runs_fast_timing};
use netns_lab::juju::JujuLab;

/// The principal's port: the health check's target and what the client probes.
const PORT: u16 = 7777;

/// The original charm (docs/juju-contract.md O-10, O-5), as far as a running cluster
/// shows it: `install` installs the distro keepalived (its Debian unit file, enabled
/// by the package), `config-changed` renders keepalived.conf from the original
/// template (leader MASTER/101, others BACKUP/100, the bash `/dev/tcp` check with
/// weight 2, multicast VRRPv2, no advert_int so 1 s), writes the sysctl file and
/// restarts keepalived. Its reactive flags lived in its own database, so Juju's charm
/// state is empty, as the new charm finds it.
const ORIGINAL_CHARM: &str = r#"root="$KEEPALIVED_CHARM_ROOT"
conf="$root/etc/keepalived/keepalived.conf"
case "${JUJU_DISPATCH_PATH#hooks/}" in
install)
    status-set maintenance "Installing keepalived"
    # apt install keepalived: Debian's unit (paths under the machine root, pid files
    # of its own so instances in several namespaces never see each other).
    mkdir -p "$root/lib/systemd/system" "$root/etc/keepalived" "$root/etc/sysctl.d" "$root/run"
    cat > "$root/lib/systemd/system/keepalived.service" <<EOF
[Unit]
Description=Keepalive Daemon (LVS and VRRP)
After=network-online.target
Wants=network-online.target
ConditionFileNotEmpty=$conf

[Service]
Type=notify
ExecStart=/usr/sbin/keepalived --dont-fork -l -D -G -P -f $conf -p $root/run/keepalived.pid -r $root/run/keepalived_vrrp.pid
ExecReload=/bin/kill -HUP \$MAINPID

[Install]
WantedBy=multi-user.target
EOF
    systemctl daemon-reload
    systemctl enable keepalived.service
    ;;
config-changed)
    vip="$(config-get virtual_ip)"
    if [ -z "$vip" ]; then
        status-set blocked "Please configure virtual ips"
        exit 0
    fi
    if [ "$(is-leader --format=json)" = true ]; then
        state=MASTER prio=101
    else
        state=BACKUP prio=100
    fi
    cat > "$conf" <<EOF
vrrp_script chk_svc_port {
    script "/bin/bash -c '</dev/tcp/127.0.0.1/$(config-get port)'" # returns 1 if connection is refused
    interval $(config-get healthcheck_interval) # check every 2 seconds
    weight 2 # make sure master priority drops below backup priority on failure
}
vrrp_instance VI_1 {
    interface $(config-get network_interface)
    state $state
    priority $prio
    virtual_router_id $(config-get router_id)
    virtual_ipaddress {
        $vip
    }
    track_script {
        chk_svc_port
    }
}
EOF
    echo "net.ipv4.ip_nonlocal_bind=1" > "$root/etc/sysctl.d/50-keepalived.conf"
    systemctl restart keepalived
    status-set active "VIP ready"
    ;;
esac
exit 0"#;

const DISTRO: &str = "keepalived.service";
const ENGINE: &str = "keepalived-charm.service";

/// A graceful handover as the client sees it: the probe interval, the timed-out probe
/// in flight at the handover, ARP and scheduling on a loaded 2-core machine.
const SLACK: Duration = Duration::from_millis(300);

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Three units under the original charm, the VIP answered by the leader's host.
fn original_cluster(tag: &str) -> JujuLab {
    let mut j = JujuLab::new(tag, 3);
    j.listen(PORT);
    let vip = format!("{}/24", j.lab.vip4());
    j.model.use_script_charm(ORIGINAL_CHARM);
    j.model
        .config(&[
            ("virtual_ip", vip.as_str()),
            ("port", &PORT.to_string()),
            ("network_interface", "eth0"),
        ])
        .unwrap();
    let t = Instant::now();
    let runs = j.model.deploy(3).unwrap();
    assert!(runs.iter().all(|r| r.ok()), "original charm hooks failed");
    j.start_prober(PORT);
    j.settle_on("h1", t, Duration::from_secs(15), Duration::from_millis(300));
    for unit in ["keepalived/0", "keepalived/1", "keepalived/2"] {
        let running = j.model.services(unit).running();
        assert_eq!(
            running.into_iter().collect::<Vec<_>>(),
            [DISTRO],
            "{unit} runs the distro keepalived"
        );
    }
    j
}

#[test]
fn a_rolling_refresh_from_the_original_charm_keeps_the_vip_answered_but_for_graceful_handovers() {
    let mut j = original_cluster("upgr");
    let new_charm = std::path::Path::new(netns_lab::charm_binary());
    let vip: std::net::IpAddr = j.lab.vip4().into();
    let holders = j.lab.watch_holders();
    let t_start = Instant::now();

    let mut figures = Vec::new();
    for (unit, was_master) in [
        ("keepalived/0", true),
        ("keepalived/1", false),
        ("keepalived/2", false),
    ] {
        // The new charm reaches this unit; the others still run the original.
        j.model.set_unit_charm_binary(unit, new_charm);
        let t0 = Instant::now();
        let runs = j.model.upgrade_charm_unit(unit).unwrap();
        for r in &runs {
            assert!(r.ok(), "{} {}: {}", r.unit, r.hook.name, r.stderr);
        }
        // Its peer-bag writes wake the other units (cluster-relation-changed), which
        // the original charm ignores; on the unit itself the refresh order holds.
        let runs: Vec<_> = runs.into_iter().filter(|r| r.unit == unit).collect();
        let hooks: Vec<&str> = runs
            .iter()
            .map(|r| r.hook.name.as_str())
            .filter(|h| !h.starts_with("cluster-relation-"))
            .collect();
        let expected: &[&str] = if j.model.is_leader(unit) {
            &["upgrade-charm", "config-changed", "start"]
        } else {
            &[
                "upgrade-charm",
                "config-changed",
                "leader-settings-changed",
                "start",
            ]
        };
        assert_eq!(hooks, expected);
        // The distro keepalived is stopped and disabled, in that order. On a backup
        // upgrade-charm does it just before our engine starts; on the VIP holder our
        // engine starts first, beside it, and the next hook (config-changed) retires
        // the distro keepalived once our engine is MASTER (make before break).
        let calls: Vec<String> = runs
            .iter()
            .flat_map(|r| r.service_calls.iter().map(|c| c.argv[1..].join(" ")))
            .collect();
        let pos = |s: &str| {
            calls
                .iter()
                .position(|c| c == s)
                .unwrap_or_else(|| panic!("{unit}: no `systemctl {s}` in {calls:?}"))
        };
        assert!(pos("stop keepalived.service") < pos("disable keepalived.service"));
        if was_master {
            assert!(pos("start keepalived-charm.service") < pos("stop keepalived.service"));
        } else {
            assert!(
                pos("disable keepalived.service") < pos("start keepalived-charm.service"),
                "{unit}: {calls:?}"
            );
        }
        let machine = &j.model.unit(unit).machine;
        assert!(!machine.active.contains(DISTRO) && !machine.enabled.contains(DISTRO));
        assert!(machine.active.contains(ENGINE) && machine.enabled.contains(ENGINE));
        assert_eq!(
            j.model
                .services(unit)
                .running()
                .into_iter()
                .collect::<Vec<_>>(),
            [ENGINE],
            "{unit} runs our engine and nothing else"
        );
        assert!(
            j.model.services(unit).failures().is_empty(),
            "{:?}",
            j.model.services(unit).failures()
        );

        // Our engine claims 254, 244, 234 (priority.rs), above every keepalived: the
        // refreshed keepalived/0 ends as master and stays it.
        let outage = j.settle_on(
            "h1",
            t0,
            Duration::from_secs(15),
            Duration::from_millis(1500),
        );
        // A graceful handover's bound for every step: the VIP holder's refresh hands
        // the VIP from the distro keepalived to our engine on the same machine.
        let bound = SLACK;
        eprintln!(
            "refresh {unit} ({}): client outage {:.0} ms, bound {:.0} ms; handovers: {}; answers: {}",
            if was_master { "was MASTER" } else { "was BACKUP" },
            ms(outage.longest),
            ms(bound),
            outage.handovers_text(),
            outage.summary
        );
        assert!(
            outage.longest <= bound,
            "refresh of {unit}: outage {:?} > {bound:?}",
            outage.longest
        );
        let moves: Vec<(&str, &str)> = outage
            .handovers
            .iter()
            .map(|(a, b, _)| (a.as_str(), b.as_str()))
            .collect();
        // The VIP never leaves h1: on its own refresh the distro keepalived's
        // release is answered by our engine on the same machine before any backup
        // takes over; a backup's refresh does not touch it.
        assert!(
            moves.is_empty(),
            "refreshing {unit} moved the VIP: {moves:?}"
        );
        figures.push((unit, outage.longest));

        // The automatic timing (`timing`): VRRPv2 1 s, keepalived's, while a unit
        // still runs it; the fast timing on every unit once the last one is refreshed.
        let refreshed = ["keepalived/0", "keepalived/1", "keepalived/2"]
            .iter()
            .take_while(|u| **u != unit)
            .chain([&unit]);
        for u in refreshed {
            let conf = j.engine_config(u);
            if unit == "keepalived/2" {
                assert!(
                    runs_fast_timing(&conf),
                    "after the last refresh {u} runs the fast timing: {conf}"
                );
            } else {
                assert!(
                    runs_compatible_timing(&conf),
                    "{u} beside keepalived runs VRRPv2 1 s: {conf}"
                );
            }
        }
    }
    // Not one instant with two holders: neither at a refresh nor at the switch of the
    // whole cluster to the fast timing (K-15).
    let report = holders.report();
    assert_eq!(
        report.two_holders_after(vip, t_start),
        Duration::ZERO,
        "{:?}",
        report.holdings(vip)
    );

    assert_eq!(j.vip_holders(), ["h1"], "one master at the end");
    let roles: Vec<(String, u8)> = ["keepalived/0", "keepalived/1", "keepalived/2"]
        .iter()
        .map(|u| {
            let path = j.model.unit(u).root.join("run/keepalived-charm/state.json");
            let st = keepalived_charm::engine::state_file::read(&path)
                .unwrap_or_else(|| panic!("{u}: no engine state at {}", path.display()));
            (
                st.instances[0].state.clone(),
                st.instances[0].effective_priority,
            )
        })
        .collect();
    assert_eq!(
        roles,
        [
            ("MASTER".to_string(), 254),
            ("BACKUP".to_string(), 244),
            ("BACKUP".to_string(), 234)
        ]
    );
    for unit in ["keepalived/0", "keepalived/1", "keepalived/2"] {
        assert!(j.model.services(unit).is_running(ENGINE));
        // The apt package stays installed but inert.
        assert!(j
            .model
            .unit(unit)
            .root
            .join("lib/systemd/system/keepalived.service")
            .exists());
    }
    eprintln!(
        "rolling refresh outages: {}",
        figures
            .iter()
            .map(|(u, d)| format!("{u} {:.0} ms", ms(*d)))
            .collect::<Vec<_>>()
            .join(", ")
    );
}

/// The automatic timing both ways (`src/charm/timing.rs`): two units of this charm run
/// the fast timing (VRRPv3 70 ms); a unit of the original charm joins (distro keepalived, VRRPv2 1 s)
/// and both go back to VRRPv2 1 s at their next hook, before its keepalived's first
/// down interval ends, so it stays BACKUP; when it is removed they return to the
/// fast timing. Not one instant with two holders, and clients lose nothing.
#[test]
fn the_timing_follows_an_old_unit_joining_and_leaving_with_no_second_holder() {
    let mut j = JujuLab::new("tjoin", 3);
    j.listen(PORT);
    let vip: std::net::IpAddr = j.lab.vip4().into();
    let ours = ["keepalived/0", "keepalived/1"];
    j.deploy_answering(2, PORT);
    let conf = |j: &JujuLab, unit: &str| j.engine_config(unit);
    for u in ours {
        assert!(runs_fast_timing(&conf(&j, u)), "{u}: {}", conf(&j, u));
    }
    let holders = j.lab.watch_holders();
    let t0 = Instant::now();

    // An old unit joins: the original charm on h3.
    let ours_binary = std::path::Path::new(netns_lab::charm_binary());
    j.model.use_script_charm(ORIGINAL_CHARM);
    for u in ours {
        j.model.set_unit_charm_binary(u, ours_binary);
    }
    let runs = j.model.deploy(1).unwrap();
    assert!(runs.iter().all(|r| r.ok()), "the old unit's hooks failed");
    assert!(j.model.services("keepalived/2").is_running(DISTRO));
    for u in ours {
        assert!(runs_compatible_timing(&conf(&j, u)), "{u}: {}", conf(&j, u));
    }
    // Longer than keepalived's first down interval (3.6 s): it heard our MASTER.
    let joined = j.settle_on(
        "h1",
        Instant::now(),
        Duration::from_secs(10),
        Duration::from_secs(5),
    );

    // It goes away (its machine first, then the unit): back to the fast timing.
    j.model.services("keepalived/2").stop(DISTRO);
    let runs = j.model.remove_unit("keepalived/2").unwrap();
    assert!(runs.iter().all(|r| r.ok()), "removal hooks failed");
    for u in ours {
        assert!(runs_fast_timing(&conf(&j, u)), "{u}: {}", conf(&j, u));
    }
    let left = j.settle_on(
        "h1",
        Instant::now(),
        Duration::from_secs(10),
        Duration::from_secs(2),
    );

    let report = holders.report();
    assert_eq!(
        report.two_holders_after(vip, t0),
        Duration::ZERO,
        "{:?}",
        report.holdings(vip)
    );
    assert_eq!(
        report.additions_after(vip, t0),
        0,
        "{:?}",
        report.holdings(vip)
    );
    eprintln!(
        "old unit joins: client outage {:.0} ms; leaves: {:.0} ms (bound {:.0} ms)",
        ms(joined.longest),
        ms(left.longest),
        ms(SLACK)
    );
    assert!(joined.longest <= SLACK && left.longest <= SLACK);
}
