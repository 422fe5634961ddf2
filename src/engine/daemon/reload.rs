//! SIGHUP: which instances of the running config live on in the new one.
//!
//! keepalived matches old and new instances by what makes them the same virtual
//! router on the wire (`vrrp_exist`: VRID, family, interface, unicast or not, unicast
//! source), not by name. A matched instance is reconfigured in place
//! (`Router::reconfigure`: a Master stays Master, no transition, no advert gap); an
//! old instance without a match resigns with priority 0; a new one starts. Pure.

use crate::engine::config::VrrpInstance;

use super::instance::InstanceKey;

/// The outcome of matching a running config against a new one, by index.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Matching {
    /// (old index, new index) pairs that are the same virtual router.
    pub kept: Vec<(usize, usize)>,
    /// Old instances with no counterpart: they shut down (priority 0 if Master).
    pub removed: Vec<usize>,
    /// New instances with no counterpart: they start.
    pub added: Vec<usize>,
}

/// Matches `old` and `new` by [`InstanceKey`]; each instance matches at most once.
pub fn match_instances(old: &[InstanceKey], new: &[VrrpInstance]) -> Matching {
    let mut taken = vec![false; old.len()];
    let mut matching = Matching::default();
    for (n, instance) in new.iter().enumerate() {
        let key = InstanceKey::of(instance);
        match old
            .iter()
            .enumerate()
            .find(|(o, k)| !taken[*o] && **k == key)
        {
            Some((o, _)) => {
                taken[o] = true;
                matching.kept.push((o, n));
            }
            None => matching.added.push(n),
        }
    }
    matching.removed = (0..old.len()).filter(|o| !taken[*o]).collect();
    matching
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::config::parse;

    fn instances(text: &str) -> Vec<VrrpInstance> {
        parse("k.conf", text.as_bytes()).unwrap().config.instances
    }

    fn keys(text: &str) -> Vec<InstanceKey> {
        instances(text).iter().map(InstanceKey::of).collect()
    }

    fn inst(name: &str, iface: &str, vrid: u8, vip: &str, extra: &str) -> String {
        format!(
            "vrrp_instance {name} {{\n    interface {iface}\n    virtual_router_id {vrid}\n{extra}    virtual_ipaddress {{\n        {vip}\n    }}\n}}\n"
        )
    }

    #[test]
    fn a_priority_and_vip_change_keeps_the_instance() {
        let old = inst("VI_1", "eth0", 51, "10.0.0.100", "    priority 254\n");
        let new = inst(
            "VI_1",
            "eth0",
            51,
            "10.0.0.100\n        10.0.0.101",
            "    priority 200\n",
        );
        let m = match_instances(&keys(&old), &instances(&new));
        assert_eq!(m.kept, vec![(0, 0)]);
        assert!(m.removed.is_empty() && m.added.is_empty());
    }

    #[test]
    fn instances_match_by_what_they_are_on_the_wire_not_by_name_or_order() {
        let old = [
            inst("A", "eth0", 51, "10.0.0.100", ""),
            inst("B", "eth0", 52, "10.0.0.101", ""),
        ]
        .concat();
        let new = [
            inst("B2", "eth0", 52, "10.0.0.101", ""),
            inst("A2", "eth0", 51, "10.0.0.100", ""),
        ]
        .concat();
        let m = match_instances(&keys(&old), &instances(&new));
        assert_eq!(m.kept, vec![(1, 0), (0, 1)]);
    }

    #[test]
    fn another_vrid_family_interface_or_transport_is_another_router() {
        let old = [
            inst("V", "eth0", 51, "10.0.0.100", ""),
            inst("F", "eth0", 52, "10.0.0.101", ""),
            inst("I", "eth0", 53, "10.0.0.102", ""),
            inst("U", "eth0", 54, "10.0.0.103", ""),
        ]
        .concat();
        let new = [
            inst("V", "eth0", 61, "10.0.0.100", ""),
            inst("F", "eth0", 52, "fd00::101", ""),
            inst("I", "eth1", 53, "10.0.0.102", ""),
            inst(
                "U",
                "eth0",
                54,
                "10.0.0.103",
                "    unicast_peer {\n        10.0.0.2\n    }\n",
            ),
        ]
        .concat();
        let m = match_instances(&keys(&old), &instances(&new));
        assert!(m.kept.is_empty());
        assert_eq!(m.removed, vec![0, 1, 2, 3]);
        assert_eq!(m.added, vec![0, 1, 2, 3]);
    }

    #[test]
    fn a_version_change_is_matched_and_left_to_the_router() {
        // Router::reconfigure stops and restarts a router whose version changed;
        // matching it keeps its counters and lets the router decide.
        let old = inst("A", "eth0", 51, "10.0.0.100", "");
        let new = inst("A", "eth0", 51, "10.0.0.100", "    version 3\n");
        let m = match_instances(&keys(&old), &instances(&new));
        assert_eq!(m.kept, vec![(0, 0)]);
    }

    #[test]
    fn removed_and_added_instances_are_reported() {
        let old = [
            inst("A", "eth0", 51, "10.0.0.100", ""),
            inst("B", "eth0", 52, "10.0.0.101", ""),
        ]
        .concat();
        let new = [
            inst("A", "eth0", 51, "10.0.0.100", ""),
            inst("C", "eth0", 53, "10.0.0.102", ""),
        ]
        .concat();
        let m = match_instances(&keys(&old), &instances(&new));
        assert_eq!(
            m,
            Matching {
                kept: vec![(0, 0)],
                removed: vec![1],
                added: vec![1]
            }
        );
    }
}
