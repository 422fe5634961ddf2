//! SIGHUP: which instances of the running config live on in the new one.
//!
//! keepalived matches old and new instances by what makes them the same virtual
//! router on the wire (`vrrp_exist`: VRID, family, interface, unicast or not, unicast
//! source), not by name. A matched instance is reconfigured in place
//! (`Router::reconfigure`: a Master stays Master, no transition, no advert gap); an
//! old instance without a match resigns with priority 0; a new one starts. Pure.

use std::collections::BTreeSet;
use std::net::IpAddr;

use vrrp_core::config::{self, VrrpInstance};
use vrrp_core::router::{Input, State};

use super::driver::Driver;
use super::instance::{
    all_vips, destinations, encode_options, placeholder_source, rolling_destinations,
    router_config, rx_expect, vip_device, Instance, InstanceKey,
};

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

/// Matches `old` and `new` by [`InstanceKey::same_router`]; each instance matches at
/// most once.
pub fn match_instances(old: &[InstanceKey], new: &[VrrpInstance]) -> Matching {
    let mut taken = vec![false; old.len()];
    let mut matching = Matching::default();
    for (n, instance) in new.iter().enumerate() {
        let key = InstanceKey::of(instance);
        match old
            .iter()
            .enumerate()
            .find(|(o, k)| !taken[*o] && k.same_router(&key))
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

impl Driver {
    /// SIGHUP: re-read the config; refuse it whole on any error.
    pub(super) async fn reload(&mut self) {
        tracing::info!(config = %self.config_path.display(), "SIGHUP: reloading");
        let loaded = match config::load(&self.config_path) {
            Ok(loaded) => loaded,
            Err(diagnostics) => {
                for d in &diagnostics {
                    tracing::error!("{d}");
                }
                let first = diagnostics
                    .first()
                    .map_or_else(String::new, |d| d.to_string());
                tracing::error!(
                    errors = diagnostics.len(),
                    "reload refused: the new configuration has errors, keeping the running one"
                );
                self.header.last_reload_error = Some(first);
                self.state_dirty = true;
                return;
            }
        };
        for w in &loaded.warnings {
            tracing::warn!("{w}");
        }
        let new = loaded.config;
        let now = self.now();
        let keys: Vec<_> = self.instances.iter().map(|i| i.key.clone()).collect();
        let matching = match_instances(&keys, &new.instances);

        // Removed instances resign (priority 0 if Master) while their socket is open,
        // and release their VIPs at once: they cannot wait for a successor.
        for &o in &matching.removed {
            let actions = self.instances[o].router.handle(now, Input::ShutdownNow);
            tracing::info!(instance = %self.instances[o].config.name, "instance removed by the reload");
            self.apply(o, actions).await;
        }

        // Matched ones are reconfigured in place, keeping state, timers and counters.
        let ours: BTreeSet<IpAddr> = new
            .instances
            .iter()
            .flat_map(|i| all_vips(i).map(|v| v.addr))
            .collect();
        let mut old: Vec<Option<Instance>> = std::mem::take(&mut self.instances)
            .into_iter()
            .map(Some)
            .collect();
        let mut kept = Vec::new();
        let mut pending = Vec::new();
        for &(o, n) in &matching.kept {
            let Some(mut inst) = old[o].take() else {
                continue;
            };
            let cfg = &new.instances[n];
            let source = self.host.source_for(cfg, inst.source, &ours);
            let rc = router_config(
                &new,
                cfg,
                source.unwrap_or_else(|| placeholder_source(cfg.family)),
            );
            match inst.router.reconfigure(now, rc) {
                Ok(actions) => {
                    let was_master = inst.router.state() == State::Master;
                    let old_excluded: Vec<_> = inst.config.vips_excluded.clone();
                    let old_placed = placements(&inst.config);
                    // With the device each was on: a reload may move the instance
                    // to another interface (K-17).
                    inst.retired = old_placed
                        .iter()
                        .map(|(dev, v)| config::VirtualAddress {
                            dev: Some(dev.clone()),
                            ..v.clone()
                        })
                        .collect();
                    inst.key = InstanceKey::of(cfg);
                    inst.expect = rx_expect(cfg);
                    inst.encode = encode_options(cfg);
                    inst.destinations = destinations(cfg);
                    inst.rolling_destinations = rolling_destinations(cfg);
                    inst.rolling_source =
                        self.host
                            .rolling_source_for(cfg, inst.rolling_source, &ours);
                    inst.config = cfg.clone();
                    inst.source = source;
                    pending.push((n, actions, was_master.then_some((old_excluded, old_placed))));
                    kept.push((n, inst));
                }
                Err(e) => {
                    // Validated by the parser; should not happen. Stop it cleanly
                    // rather than run something half-configured.
                    tracing::error!(error = %e, "instance cannot take the new configuration; stopping it");
                    let actions = inst.router.handle(now, Input::ShutdownNow);
                    self.instances.push(inst);
                    let idx = self.instances.len() - 1;
                    self.apply(idx, actions).await;
                    self.instances.pop();
                }
            }
        }
        drop(old);
        let placed = self.install(new, kept).await;
        for (n, actions, old_excluded) in pending {
            let Some(&idx) = placed.get(&n) else {
                continue;
            };
            self.apply(idx, actions).await;
            if let Some((old_excluded, old_placed)) = old_excluded {
                self.update_excluded(idx, &old_excluded, &old_placed).await;
                self.move_vips(idx, &old_excluded, &old_placed).await;
            }
            // Link reports for interfaces a matched instance newly tracks.
            self.report_links(idx, now).await;
        }
        self.header.reloads += 1;
        self.header.last_reload_error = None;
        self.state_dirty = true;
        tracing::info!(
            instances = self.instances.len(),
            kept = matching.kept.len(),
            removed = matching.removed.len(),
            added = matching.added.len(),
            "configuration reloaded"
        );
    }
    /// A Master whose addresses a reload puts on another device (the router only
    /// knows the addresses; K-17's rolling `interface` change moves them all): each
    /// goes on its new device first, then off the old one, and is announced there.
    /// Excluded entries that changed as a whole are `update_excluded`'s; a prefix or
    /// label change on the same device waits for the next transition, as before.
    async fn move_vips(
        &mut self,
        idx: usize,
        old_excluded: &[config::VirtualAddress],
        old_placed: &[(String, config::VirtualAddress)],
    ) {
        if self.instances[idx].router.state() != State::Master {
            return;
        }
        let cfg = self.instances[idx].config.clone();
        let moved: Vec<(String, config::VirtualAddress, String)> = placements(&cfg)
            .into_iter()
            .filter(|(_, v)| cfg.vips.iter().any(|a| a.addr == v.addr) || old_excluded.contains(v))
            .filter_map(|(dev, v)| {
                let (old_dev, _) = old_placed.iter().find(|(_, o)| o.addr == v.addr)?;
                (*old_dev != dev).then(|| (dev, v, old_dev.clone()))
            })
            .collect();
        if moved.is_empty() {
            return;
        }
        for (dev, v, old_dev) in &moved {
            tracing::info!(instance = %cfg.name, vip = %v.addr, from = %old_dev, to = %dev, "VIP moved by the reload");
            self.add_vip(idx, dev, v).await;
            self.remove_vip(idx, old_dev, v.addr).await;
        }
        let specs: Vec<(String, config::VirtualAddress)> =
            moved.into_iter().map(|(dev, v, _)| (dev, v)).collect();
        let repeat = cfg.garp_master_repeat.max(1);
        self.send_gratuitous(idx, &specs, repeat);
    }

    /// A Master's `virtual_ipaddress_excluded` changed by a reload: add the new
    /// entries, remove the dropped ones (the router only knows advertised VIPs).
    async fn update_excluded(
        &mut self,
        idx: usize,
        old: &[config::VirtualAddress],
        old_placed: &[(String, config::VirtualAddress)],
    ) {
        if self.instances[idx].router.state() != State::Master {
            return;
        }
        let cfg = self.instances[idx].config.clone();
        for v in old.iter().filter(|v| !cfg.vips_excluded.contains(v)) {
            // Where it was put, not where the new config would put it.
            let dev = old_placed
                .iter()
                .find(|(_, o)| o == v)
                .map_or_else(|| vip_device(&cfg, v).to_string(), |(d, _)| d.clone());
            if let Some(iface) = self.host.link(&dev).map(|l| l.interface()) {
                if let Err(e) = self.netlink.remove_address(&iface, v.addr).await {
                    tracing::error!(vip = %v.addr, error = %e, "cannot remove an excluded address");
                }
            }
        }
        for v in cfg.vips_excluded.iter().filter(|v| !old.contains(v)) {
            let dev = vip_device(&cfg, v).to_string();
            if let Some(iface) = self.host.link(&dev).map(|l| l.interface()) {
                if let Err(e) = self
                    .netlink
                    .add_address(&iface, v.addr, v.prefix_len, v.label.as_deref())
                    .await
                {
                    tracing::error!(vip = %v.addr, error = %e, "cannot add an excluded address");
                }
            }
        }
    }
}

/// Where each address of `instance` goes: (device, entry).
fn placements(instance: &VrrpInstance) -> Vec<(String, config::VirtualAddress)> {
    all_vips(instance)
        .map(|v| (vip_device(instance, v).to_string(), v.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use vrrp_core::config::parse;

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

    /// K-17: a VRID change is the same router when the new instance names the old
    /// VRID in `rolling_from` (and when the rolling identity is later dropped).
    #[test]
    fn a_vrid_change_rolling_from_the_old_vrid_is_the_same_router() {
        let old = inst("V", "eth0", 51, "10.0.0.100", "");
        let rolling = inst(
            "V",
            "eth0",
            61,
            "10.0.0.100",
            "    rolling_from {\n        virtual_router_id 51\n    }\n",
        );
        let settled = inst("V", "eth0", 61, "10.0.0.100", "");
        for (from, to) in [(&old, &rolling), (&rolling, &settled)] {
            let m = match_instances(&keys(from), &instances(to));
            assert_eq!(m.kept, vec![(0, 0)], "{from}\n->\n{to}");
        }
        let m = match_instances(&keys(&old), &instances(&settled));
        assert_eq!((m.removed, m.added), (vec![0], vec![0]));
        // A transport change the same way: multicast, then unicast rolling from it.
        let unicast = inst(
            "V",
            "eth0",
            51,
            "10.0.0.100",
            "    unicast_peer {\n        10.0.0.2\n    }\n    rolling_from {\n        virtual_router_id 51\n    }\n",
        );
        let m = match_instances(&keys(&old), &instances(&unicast));
        assert_eq!(m.kept, vec![(0, 0)]);
    }

    /// K-17, a rolling `interface` change: eth0, then eth1 rolling from eth0, then
    /// eth1 alone are one router at each step (a Master stays Master; its VIPs
    /// move to the new device, `Driver::move_vips`); eth0 straight to eth1 is not.
    #[test]
    fn an_interface_change_rolling_from_the_old_interface_is_the_same_router() {
        let old = inst("V", "eth0", 51, "10.0.0.100", "");
        let rolling = inst(
            "V",
            "eth1",
            51,
            "10.0.0.100",
            "    rolling_from {\n        virtual_router_id 51\n        interface eth0\n    }\n",
        );
        let settled = inst("V", "eth1", 51, "10.0.0.100", "");
        for (from, to) in [(&old, &rolling), (&rolling, &settled)] {
            let m = match_instances(&keys(from), &instances(to));
            assert_eq!(m.kept, vec![(0, 0)], "{from}\n->\n{to}");
        }
        let m = match_instances(&keys(&old), &instances(&settled));
        assert_eq!((m.removed, m.added), (vec![0], vec![0]));
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
