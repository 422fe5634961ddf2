//! The receive path: a datagram the loop read goes through the socket's ladder
//! (`Demux`); an accepted advert becomes `Input::Advert` for the instance with its
//! VRID, a dropped one is counted (per instance when its VRID is known, per socket
//! always) and logged, rate-limited. Drops never change any state (RFC 9568 §7.1).

use std::time::Instant;

use vrrp_core::packet::{Accepted, Dropped, IpMeta};
use vrrp_core::proto::Family;
use vrrp_core::router::{ForeignReason, Input, State, Time};

use super::driver::Driver;
use super::sockets::Received;
use super::waiting::WaitCandidate;
use crate::engine::net::{RecvMeta, WaitPattern};

impl Driver {
    /// What `sockets::recv_any` read into `buf`: a datagram, or a receive error.
    pub(super) async fn on_received(&mut self, received: Received, buf: &[u8]) {
        let (id, result) = received;
        match result {
            Ok((len, meta)) => {
                let now = self.now();
                self.on_packet(id, &buf[..len.min(buf.len())], meta, now, false)
                    .await
            }
            Err(e) => {
                if let Some(r) = self.receivers.values_mut().find(|r| r.id == id) {
                    r.errors += 1;
                    if r.errors.is_power_of_two() {
                        let ifname = r.socket.get_ref().interface().name.clone();
                        tracing::warn!(interface = %ifname, error = %e, errors = r.errors, "receive error on the VRRP socket");
                    }
                }
            }
        }
    }

    /// One datagram that arrived at `now`: from the polled socket, or from the
    /// waiting queue (`queued`, with the time the kernel stamped on it).
    pub(super) async fn on_packet(
        &mut self,
        receiver: u64,
        bytes: &[u8],
        meta: RecvMeta,
        now: Time,
        queued: bool,
    ) {
        self.counters_dirty = true;
        let Some((key, receiver)) = self.receivers.iter_mut().find(|(_, r)| r.id == receiver)
        else {
            return; // from a receiver closed since
        };
        let (iface, family) = key.clone();
        let verdict = match family {
            Family::V4 => receiver.demux.receive_ipv4(bytes),
            Family::V6 => receiver.demux.receive(
                IpMeta {
                    src: meta.src,
                    dst: meta.dst,
                    // No ancillary data is "not 255" (net::RecvMeta).
                    ttl: meta.ttl_or_hop_limit.unwrap_or(0),
                },
                bytes,
            ),
        };
        match verdict {
            Ok(accepted) => {
                // Copies of an advert read when it came may wait next time; one
                // read from the queue is such a copy already.
                let pattern = match family {
                    Family::V4 if !queued => WaitPattern::from_ipv4_datagram(bytes),
                    _ => None,
                };
                self.on_accepted(now, &iface, family, accepted, pattern)
                    .await
            }
            Err(dropped) => self.on_dropped(now, &iface, family, dropped),
        }
    }
    pub(super) fn instance_on(&self, iface: &str, family: Family, vrid: u8) -> Option<usize> {
        self.instances.iter().position(|i| {
            (i.config.interface == iface || i.key.rolling_interface.as_deref() == Some(iface))
                && i.config.family == family
                && i.key.answers_to(vrid)
        })
    }
    async fn on_accepted(
        &mut self,
        now: Time,
        iface: &str,
        family: Family,
        accepted: Accepted,
        pattern: Option<WaitPattern>,
    ) {
        let Accepted { received, notices } = accepted;
        let Some(idx) = self.instance_on(iface, family, received.advert.vrid.get()) else {
            return;
        };
        let inst = &mut self.instances[idx];
        // Our own advert from the interface a rolling change leaves (K-17), heard
        // back on the other where both reach one segment: as the router ignores
        // one from its own source address, never an election input.
        if inst.rolling_source == Some(received.src) {
            return;
        }
        inst.checksum_forms
            .insert(received.src, received.checksum_form);
        if notices.owner_conflict
            || notices.address_list_mismatch
            || notices.interval_mismatch
            || notices.version_mismatch
            || notices.rolling_identity
        {
            let key = format!("notice {} {}", inst.config.name, received.src);
            if let Some(n) = self.log_limit.allow(&key, Instant::now()) {
                tracing::warn!(
                    instance = %inst.config.name,
                    from = %received.src,
                    owner_conflict = notices.owner_conflict,
                    address_list_mismatch = notices.address_list_mismatch,
                    interval = %received.advert.interval,
                    interval_mismatch = notices.interval_mismatch,
                    version = received.advert.version.wire(),
                    version_mismatch = notices.version_mismatch,
                    rolling_identity = notices.rolling_identity,
                    suppressed = n,
                    "advert accepted with a notice"
                );
            }
        }
        let from = received.src;
        let plain = !(notices.owner_conflict
            || notices.address_list_mismatch
            || notices.interval_mismatch
            || notices.version_mismatch
            || notices.rolling_identity);
        if let Some(pattern) = pattern {
            inst.wait_candidate = plain.then(|| WaitCandidate {
                from,
                advert: received.advert.clone(),
                pattern,
            });
        }
        let resigning = received.advert.priority.is_release();
        let input = Input::Advert {
            from,
            interval_mismatch: notices.interval_mismatch,
            advert: received.advert,
        };
        let known = inst.router.master_address();
        let split_before = inst.router.dual_master(now);
        let withdrawn_before = inst.router.counters().claims_withdrawn;
        let actions = inst.router.handle(now, input);
        if inst.router.counters().claims_withdrawn != withdrawn_before {
            // K-18: the down timer ran out, the Master answered the claim. Worth
            // an operator's look (adverts are being lost), not a transition.
            let key = format!("claim {}", inst.config.name);
            if let Some(n) = self.log_limit.allow(&key, Instant::now()) {
                tracing::warn!(
                    instance = %inst.config.name,
                    vrid = inst.config.vrid.get(),
                    master = %from,
                    withdrawn = inst.router.counters().claims_withdrawn,
                    suppressed = n,
                    "no advert heard for the master down interval, but the MASTER answered our claim: stayed BACKUP, VIPs untouched (adverts are being lost on this link)"
                );
            }
            self.notable_dirty = true;
        }
        // The age of the Master's last advert (metrics): a Backup that follows it.
        if !resigning
            && inst.router.state() == State::Backup
            && inst.router.master_address() == Some(from)
        {
            inst.master_heard = Some(now);
        }
        if inst.router.master_address() != known {
            // A new master is worth a state-file line at once, like a transition.
            self.state_dirty = true;
        }
        let split = inst.router.dual_master(now);
        if split.is_some() && split != split_before {
            tracing::error!(
                instance = %inst.config.name,
                vrid = inst.config.vrid.get(),
                other = ?split,
                "two MASTERs: another router keeps claiming this VRID and does not hear our adverts (a partition, one-way loss, or IP protocol 112 filtered)"
            );
            self.state_dirty = true;
        }
        self.apply(idx, actions).await;
    }
    fn on_dropped(&mut self, now: Time, iface: &str, family: Family, dropped: Dropped) {
        // An operator wants drops in the state file within a heartbeat, not at the
        // next full refresh; a flood still costs one rewrite per heartbeat.
        self.notable_dirty = true;
        let who = dropped
            .vrid
            .and_then(|v| self.instance_on(iface, family, v.get()));
        let name = match who {
            Some(idx) => {
                let inst = &mut self.instances[idx];
                inst.drops.record(&dropped.reason);
                // A router outside our cluster on our VRID: the router remembers it
                // for the state file (S-9); the packet itself stays dropped.
                if let (Some(reason), Some(from)) =
                    (ForeignReason::of_drop(&dropped.reason), dropped.src)
                {
                    if inst
                        .router
                        .foreign_routers(now)
                        .iter()
                        .all(|f| f.address != from)
                    {
                        tracing::error!(
                            instance = %inst.config.name,
                            vrid = inst.config.vrid.get(),
                            from = %from,
                            "a router outside this cluster uses our VRID ({reason}): its adverts are dropped; give one of the clusters another virtual_router_id"
                        );
                        self.state_dirty = true;
                    }
                    inst.router
                        .handle(now, Input::ForeignAdvert { from, reason });
                }
                inst.config.name.clone()
            }
            None => "-".to_string(),
        };
        let src = dropped
            .src
            .map_or_else(|| "?".to_string(), |s| s.to_string());
        let key = format!("drop {} {src}", dropped.reason.name());
        if let Some(n) = self.log_limit.allow(&key, Instant::now()) {
            tracing::warn!(
                interface = %iface,
                instance = %name,
                from = %src,
                vrid = dropped.vrid.map(|v| v.get()),
                reason = dropped.reason.name(),
                suppressed = n,
                "advert dropped: {}",
                dropped.reason
            );
        }
    }
}
