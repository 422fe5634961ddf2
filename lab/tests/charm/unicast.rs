//! End to end through the hook-tool emulator: unicast VRRP with the peers taken from
//! the `cluster` peer relation (docs/juju-contract.md O-12), where it needs the real process: the
//! unit's own address read from the kernel of its network namespace while the engine
//! holds the VIP there. Peers arriving and leaving (one reload each, the golden
//! configs, the published bags) are pinned in-process in `reconcile_tests`.

use crate::e2e::*;
use juju_emulator::Model;

const UNITS: [&str; 2] = ["keepalived/0", "keepalived/1"];
const RELOAD: &str = "systemctl reload keepalived-charm.service";

/// The engine of a MASTER adds the VIPs to its interface, as the engine would.
fn hold_vip(m: &Model, unit: &str, vip: &str) {
    let ns = m.unit(unit).netns.as_ref().expect("netns").name.clone();
    let out = std::process::Command::new(juju_emulator::netns::ip_binary())
        .args(["-n", &ns, "addr", "add", vip, "dev", "eth0", "nodad"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_master_holding_the_vip_still_publishes_its_own_address() {
    let mut m = deployed(
        2,
        Net::Golden,
        &[
            ("virtual_ip", "fd00::5/64 10.10.74.250"),
            ("unicast", "true"),
        ],
    );
    let conf = engine_config(&m, UNITS[0]);
    assert!(
        conf.contains("    unicast_src_ip fd00::10\n    unicast_peer {\n        fd00::11\n    }\n"),
        "{conf}"
    );
    // keepalived/0 is MASTER: its engine added the VIPs, so the kernel lists the VIP
    // first among eth0's global IPv6 addresses (newest first).
    hold_vip(&m, UNITS[0], "fd00::5/64");
    hold_vip(&m, UNITS[0], "10.10.74.250/32");

    // A hook now must not mistake the VIP for the unit's own address...
    all_ok(&[m.run(UNITS[0], "config-changed").unwrap()]);
    assert_eq!(engine_config(&m, UNITS[0]), conf);
    // ...nor must a VIP change, while the old VIP is still on the interface.
    let runs = config(&mut m, &[("virtual_ip", "fd00::6/64 10.10.74.251")]);
    // keepalived/0 changes first while keepalived/1 still publishes the old VIPs: it
    // runs the union of both lists (K-13) and drops the old ones once keepalived/1
    // publishes the new list, a reload each; keepalived/1 sees the new list at once.
    for (unit, own, peer, reloads) in [
        (UNITS[0], "10", "11", &[RELOAD, RELOAD][..]),
        (UNITS[1], "11", "10", &[RELOAD][..]),
    ] {
        let conf = engine_config(&m, unit);
        assert!(
            conf.contains(&format!(
                "    unicast_src_ip fd00::{own}\n    unicast_peer {{\n        fd00::{peer}\n    }}\n"
            )),
            "{unit}: {conf}"
        );
        assert!(
            conf.contains(&format!(
                "    unicast_src_ip 192.0.2.{own}\n    unicast_peer {{\n        192.0.2.{peer}\n    }}\n"
            )),
            "{unit}: {conf}"
        );
        assert_eq!(engine_actions(&runs, unit), reloads, "{unit}");
        assert!(
            !conf.contains("fd00::5/") && !conf.contains("10.10.74.250/"),
            "{conf}"
        );
    }
    let rel = m.relation_by_endpoint("cluster").unwrap();
    assert_eq!(
        rel.local_units_data[UNITS[0]],
        bag_with(
            "192.0.2.10",
            &[
                ("priority", "254"),
                ("timing-profiles", keepalived_charm::charm::timing::OFFERED),
                ("vips", "fd00::6/64,10.10.74.251/32"),
                ("vrrp-address", "192.0.2.10"),
                ("vrrp-address-v6", "fd00::10"),
                ("vrrp-identity", "23/unicast"),
                ("vrrp-segments", "192.0.2.0/24,fd00::/64")
            ]
        )
    );
}
