//! End to end through the hook-tool emulator: the one journey that proves the wiring
//! of the original charm's relation contract (docs/juju-contract.md O-3)
//! from dispatch to `relation-set`, byte for byte in Juju's bags. The contract's rules
//! (keys, no brackets, the first VIP, retraction) are pinned in `relation_data`'s unit
//! tests, the hooks that publish them in `reconcile_tests`.

use crate::e2e::*;
use juju_emulator::Bag;

const UNIT0: &str = "keepalived/0";
const ADDR0: &str = "192.0.2.10";

fn website(hostname: &str, vip: &str, port: &str) -> Bag {
    bag_with(
        ADDR0,
        &[
            ("hostname", hostname),
            ("private-address", vip),
            ("port", port),
        ],
    )
}

fn loadbalancer(vip: &str, port: &str) -> Bag {
    bag_with(ADDR0, &[("public-address", vip), ("port", port)])
}

#[test]
fn website_and_loadbalancer_carry_the_original_contract_exactly() {
    let mut m = deployed_and_related(1, Net::Golden, &[]);
    // Before the VIP: nothing but Juju's own keys.
    assert_eq!(unit_bag(&m, "website", UNIT0), bag_with(ADDR0, &[]));
    assert_eq!(unit_bag(&m, "loadbalancer", UNIT0), bag_with(ADDR0, &[]));

    config(&mut m, &[("virtual_ip", VIP)]);
    assert_eq!(unit_bag(&m, "website", UNIT0), website(VIP, VIP, "443"));
    assert_eq!(
        unit_bag(&m, "loadbalancer", UNIT0),
        loadbalancer(VIP, "443")
    );
    // lb-sink and juju-info keep Juju's own keys only.
    for endpoint in ["lb-sink", "juju-info"] {
        assert_eq!(
            unit_bag(&m, endpoint, UNIT0),
            bag_with(ADDR0, &[]),
            "{endpoint}"
        );
    }
    // The contract lives in unit bags only.
    for endpoint in ["website", "loadbalancer", "lb-sink", "juju-info"] {
        assert_eq!(app_bag(&m, endpoint), Bag::new(), "{endpoint}");
    }
}
