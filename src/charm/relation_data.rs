//! What this unit publishes on its relations, and the minimal writes to get there.
//!
//! The original charm's contract, byte for byte (docs/juju-contract.md O-3): unit bags only,
//! values as strings, the VIP without its netmask (IPv6 without brackets).
//!
//! | endpoint | keys |
//! |---|---|
//! | `website` (http) | `hostname` (vip_hostname, else the VIP), `private-address` (the VIP), `port` |
//! | `loadbalancer` (public-address) | `public-address` (the VIP), `port` |
//! | `lb-sink`, `juju-info` | nothing |
//! | `cluster` (peers) | `priority`, `vrrp-address`, `vrrp-address-v6`, `vips` |
//!
//! With several VIPs the first one goes in these keys. When `virtual_ip` is cleared the
//! keys are retracted (`key=`); `private-address` is Juju's own key that the contract
//! overwrote, so it is given back the unit's `ingress-address` rather than deleted.

use std::net::IpAddr;

use super::desired::{Plan, Vip};
use super::hooktools::Bag;
use super::state::Switchover;

pub const WEBSITE: &str = "website";
pub const LOADBALANCER: &str = "loadbalancer";
pub const CLUSTER: &str = "cluster";
pub const LB_SINK: &str = "lb-sink";
pub const JUJU_INFO: &str = "juju-info";
/// Published by `cos` (the COS collector's `config` key), not by this module.
pub const COS_AGENT: &str = super::cos::COS_AGENT;

/// Every endpoint in metadata.yaml.
pub const ENDPOINTS: [&str; 6] = [
    JUJU_INFO,
    LB_SINK,
    LOADBALANCER,
    WEBSITE,
    CLUSTER,
    COS_AGENT,
];

/// The endpoints this unit publishes the VIP on.
pub const VIP_ENDPOINTS: [&str; 2] = [WEBSITE, LOADBALANCER];

pub const PRIVATE_ADDRESS: &str = "private-address";
pub const INGRESS_ADDRESS: &str = "ingress-address";

/// Our keys on `endpoint`, so that retraction knows what to clear.
pub fn contract_keys(endpoint: &str) -> &'static [&'static str] {
    match endpoint {
        WEBSITE => &["extended_data", "hostname", PRIVATE_ADDRESS, "port"],
        LOADBALANCER => &["extended_data", "port", "public-address"],
        CLUSTER => &[
            "paused",
            "priority",
            "switchover",
            TIMING_PROFILES,
            "vrrp-address",
            "vrrp-address-v6",
            "vips",
            super::identity::PEER_KEY,
            super::identity::SEGMENTS_KEY,
        ],
        _ => &[],
    }
}

fn bag(pairs: &[(&str, String)]) -> Bag {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

/// What `endpoint` should carry for `plan` (`None`: unconfigured, nothing).
pub fn vip_payload(endpoint: &str, plan: Option<&Plan>) -> Bag {
    let Some(plan) = plan else {
        return Bag::new();
    };
    // IpAddr's Display has no brackets and no netmask: exactly the contract.
    let vip = plan.first_vip().to_string();
    let port = plan.port.to_string();
    let mut b = match endpoint {
        WEBSITE => bag(&[
            ("hostname", plan.hostname.clone()),
            (PRIVATE_ADDRESS, vip),
            ("port", port),
        ]),
        LOADBALANCER => bag(&[("public-address", vip), ("port", port)]),
        _ => return Bag::new(),
    };
    // Every further VIP in `extended_data`: the interfaces' list form (the first
    // entry in the top-level keys, the rest as a JSON list of the same keys), which
    // their requires side merges into the hosts it hands the consumer.
    let rest: Vec<serde_json::Value> = plan.vips[1..]
        .iter()
        .map(|v| {
            let addr = v.addr.to_string();
            match endpoint {
                WEBSITE => serde_json::json!({
                    "hostname": addr,
                    "port": plan.port,
                    PRIVATE_ADDRESS: addr,
                }),
                _ => serde_json::json!({"public-address": addr, "port": plan.port}),
            }
        })
        .collect();
    if !rest.is_empty() {
        b.insert(
            "extended_data".into(),
            serde_json::Value::Array(rest).to_string(),
        );
    }
    b
}

/// The peer-bag key where a unit lists the timing profiles its engine runs
/// (`super::timing::OFFERED`); the original charm has no peer relation at all.
pub const TIMING_PROFILES: &str = "timing-profiles";

/// This unit's peer bag: its priority claim, VRRP source addresses and configured
/// VIPs (`addr/prefix`, comma-separated; what lets the others ride out a rolling
/// `virtual_ip` change, see `desired::build`).
pub fn peer_payload(priority: u8, v4: Option<IpAddr>, v6: Option<IpAddr>, vips: &[Vip]) -> Bag {
    let mut b = bag(&[
        ("priority", priority.to_string()),
        (TIMING_PROFILES, super::timing::OFFERED.to_string()),
    ]);
    if let Some(a) = v4 {
        b.insert("vrrp-address".into(), a.to_string());
    }
    if let Some(a) = v6 {
        b.insert("vrrp-address-v6".into(), a.to_string());
    }
    if !vips.is_empty() {
        let text: Vec<String> = vips.iter().map(Vip::to_string).collect();
        b.insert("vips".into(), text.join(","));
    }
    b
}

/// Adds this unit's identity fingerprint (`vrrp-identity`) and the segments its
/// instances run on (`vrrp-segments`, when known) to a peer bag (see
/// `super::identity`): what lets the others ride out a rolling `router_id`,
/// `vrrp_password`, `unicast` or `network_interface` change.
pub fn with_identity(
    mut bag: Bag,
    identity: &super::identity::Identity,
    segments: &[String],
) -> Bag {
    bag.insert(super::identity::PEER_KEY.into(), identity.fingerprint());
    if !segments.is_empty() {
        bag.insert(super::identity::SEGMENTS_KEY.into(), segments.join(","));
    }
    bag
}

/// Adds the maintenance keys to a peer bag: `paused` (`true`) while the `pause` action
/// is in force, `switchover` (`<unit>@<seq>`, see `priority::preferred`) once asked.
pub fn with_maintenance(mut bag: Bag, paused: bool, switchover: Option<&Switchover>) -> Bag {
    bag.remove("paused");
    bag.remove("switchover");
    if paused {
        bag.insert("paused".into(), "true".into());
    }
    if let Some(s) = switchover {
        bag.insert("switchover".into(), s.to_text());
    }
    bag
}

/// Whether a peer bag says its unit is paused.
pub fn peer_paused(bag: &Bag) -> bool {
    bag.get("paused").is_some_and(|v| v == "true")
}

/// The VIPs a peer bag announces (unparsable entries are skipped).
pub fn peer_vips(bag: &Bag) -> Vec<Vip> {
    bag.get("vips")
        .map(|text| text.split(',').filter_map(Vip::parse).collect())
        .unwrap_or_default()
}

/// The VRRP source addresses in a peer bag (this unit's, as last published).
pub fn peer_sources(bag: &Bag) -> Vec<IpAddr> {
    ["vrrp-address", "vrrp-address-v6"]
        .iter()
        .filter_map(|k| bag.get(*k)?.parse().ok())
        .collect()
}

/// The `relation-set` input that turns `published` into `desired`: changed and new
/// keys with their values, dropped keys with `""`. Empty when nothing changes.
/// `published: None` means unknown (never recorded): every desired key is set and
/// every other key of the endpoint's contract is cleared.
pub fn changes(endpoint: &str, published: Option<&Bag>, desired: &Bag) -> Bag {
    let mut out = Bag::new();
    for (k, v) in desired {
        if published.and_then(|p| p.get(k)) != Some(v) {
            out.insert(k.clone(), v.clone());
        }
    }
    match published {
        Some(p) => {
            for k in p.keys() {
                if !desired.contains_key(k) {
                    out.insert(k.clone(), String::new());
                }
            }
        }
        None => {
            for k in contract_keys(endpoint) {
                if !desired.contains_key(*k) {
                    out.insert(k.to_string(), String::new());
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::charm::desired::tests::run;
    use crate::charm::desired::Desired;
    use crate::charm::options::Options;

    fn plan(virtual_ip: &str, vip_hostname: &str, port: i64) -> Plan {
        let o = Options {
            virtual_ip: virtual_ip.into(),
            vip_hostname: vip_hostname.into(),
            port,
            ..Options::default()
        };
        match run(&o) {
            Desired::Configured(p) => *p,
            other => panic!("{other:?}"),
        }
    }

    fn json(b: &Bag) -> String {
        serde_json::to_string(b).unwrap()
    }

    #[test]
    fn website_payload_is_the_original_contract() {
        let p = plan("10.10.74.250/24", "", 443);
        assert_eq!(
            json(&vip_payload(WEBSITE, Some(&p))),
            r#"{"hostname":"10.10.74.250","port":"443","private-address":"10.10.74.250"}"#
        );
        let p = plan("10.10.74.250", "api.example.com", 6443);
        assert_eq!(
            json(&vip_payload(WEBSITE, Some(&p))),
            r#"{"hostname":"api.example.com","port":"6443","private-address":"10.10.74.250"}"#
        );
    }

    #[test]
    fn loadbalancer_payload_is_the_original_contract() {
        let p = plan("10.10.74.250/24", "api.example.com", 443);
        assert_eq!(
            json(&vip_payload(LOADBALANCER, Some(&p))),
            r#"{"port":"443","public-address":"10.10.74.250"}"#
        );
    }

    /// Every VIP after the first goes in `extended_data`, the interfaces' list form:
    /// a JSON list of the same keys (port as a number, as the interfaces' Python
    /// writes the value it was given); IPv6 without brackets.
    #[test]
    fn further_vips_are_published_in_extended_data_in_the_interfaces_list_form() {
        let p = plan("fd00::5/64 10.0.0.5 10.0.0.6/24", "", 443);
        assert_eq!(
            json(&vip_payload(LOADBALANCER, Some(&p))),
            r#"{"extended_data":"[{\"port\":443,\"public-address\":\"10.0.0.5\"},{\"port\":443,\"public-address\":\"10.0.0.6\"}]","port":"443","public-address":"fd00::5"}"#
        );
        assert_eq!(
            json(&vip_payload(WEBSITE, Some(&p))),
            r#"{"extended_data":"[{\"hostname\":\"10.0.0.5\",\"port\":443,\"private-address\":\"10.0.0.5\"},{\"hostname\":\"10.0.0.6\",\"port\":443,\"private-address\":\"10.0.0.6\"}]","hostname":"fd00::5","port":"443","private-address":"fd00::5"}"#
        );
        // Back to one VIP: extended_data is retracted with the rest of the contract.
        let one = plan("fd00::5/64", "", 443);
        let change = changes(
            LOADBALANCER,
            Some(&vip_payload(LOADBALANCER, Some(&p))),
            &vip_payload(LOADBALANCER, Some(&one)),
        );
        assert_eq!(json(&change), r#"{"extended_data":""}"#);
    }

    #[test]
    fn lb_sink_and_juju_info_publish_nothing() {
        let p = plan("10.0.0.5", "", 443);
        assert!(vip_payload(LB_SINK, Some(&p)).is_empty());
        assert!(vip_payload(JUJU_INFO, Some(&p)).is_empty());
        assert!(contract_keys(LB_SINK).is_empty());
        assert!(contract_keys(JUJU_INFO).is_empty());
    }

    #[test]
    fn peer_payload_carries_the_claim_and_addresses() {
        assert_eq!(
            json(&peer_payload(
                253,
                Some("192.0.2.10".parse().unwrap()),
                None,
                &[]
            )),
            r#"{"priority":"253","timing-profiles":"v2-1,v3-0.07x5,v3-0.1","vrrp-address":"192.0.2.10"}"#
        );
        let vips: Vec<Vip> = ["10.0.0.5/24", "fd00::5/64"]
            .iter()
            .map(|v| Vip::parse(v).unwrap())
            .collect();
        let b = peer_payload(
            254,
            Some("192.0.2.10".parse().unwrap()),
            Some("fd00::10".parse().unwrap()),
            &vips,
        );
        assert_eq!(
            json(&b),
            r#"{"priority":"254","timing-profiles":"v2-1,v3-0.07x5,v3-0.1","vips":"10.0.0.5/24,fd00::5/64","vrrp-address":"192.0.2.10","vrrp-address-v6":"fd00::10"}"#
        );
        assert_eq!(peer_vips(&b), vips);
    }

    #[test]
    fn the_maintenance_keys_are_published_only_while_in_force() {
        let base = peer_payload(253, None, None, &[]);
        let s = Switchover {
            seq: 1_700_000_000_000,
            unit: "keepalived/2".into(),
        };
        let b = with_maintenance(base.clone(), true, Some(&s));
        assert_eq!(
            json(&b),
            r#"{"paused":"true","priority":"253","switchover":"keepalived/2@1700000000000","timing-profiles":"v2-1,v3-0.07x5,v3-0.1"}"#
        );
        assert!(peer_paused(&b));
        assert_eq!(Switchover::parse(&b["switchover"]), Some(s));
        // resume: the key goes (relation-set with "" on the next write).
        let resumed = with_maintenance(b, false, None);
        assert_eq!(resumed, base);
        assert!(!peer_paused(&resumed));
        assert_eq!(
            changes(
                CLUSTER,
                Some(&with_maintenance(base.clone(), true, None)),
                &resumed
            )
            .get("paused")
            .map(String::as_str),
            Some("")
        );
    }

    #[test]
    fn nothing_changed_means_no_write() {
        let p = plan("10.0.0.5", "", 443);
        let d = vip_payload(WEBSITE, Some(&p));
        assert!(changes(WEBSITE, Some(&d), &d).is_empty());
    }

    #[test]
    fn only_changed_keys_are_written() {
        let before = vip_payload(WEBSITE, Some(&plan("10.0.0.5", "", 443)));
        let after = vip_payload(WEBSITE, Some(&plan("10.0.0.5", "", 8443)));
        assert_eq!(
            json(&changes(WEBSITE, Some(&before), &after)),
            r#"{"port":"8443"}"#
        );
    }

    #[test]
    fn clearing_the_vip_retracts_every_key() {
        let before = vip_payload(LOADBALANCER, Some(&plan("10.0.0.5", "", 443)));
        assert_eq!(
            json(&changes(LOADBALANCER, Some(&before), &Bag::new())),
            r#"{"port":"","public-address":""}"#
        );
        // Unknown history (first run after an upgrade): clear the whole contract.
        assert_eq!(
            json(&changes(WEBSITE, None, &Bag::new())),
            r#"{"extended_data":"","hostname":"","port":"","private-address":""}"#
        );
        // Already retracted: nothing to do.
        assert!(changes(WEBSITE, Some(&Bag::new()), &Bag::new()).is_empty());
    }

    #[test]
    fn unknown_history_sets_everything_desired() {
        // And clears the rest of the contract (a stale extended_data).
        let d = vip_payload(WEBSITE, Some(&plan("10.0.0.5", "", 443)));
        let mut expected = d.clone();
        expected.insert("extended_data".into(), String::new());
        assert_eq!(changes(WEBSITE, None, &d), expected);
    }
}
