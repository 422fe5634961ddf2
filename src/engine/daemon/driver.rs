//! The event loop: one task owns every router, every ladder and the host view, and
//! turns events (packets, timers, script results, link changes, signals) into router
//! inputs and router actions into I/O. Nothing here decides VRRP: the routers do.
//!
//! Time: tokio's monotonic `Instant`, mapped onto the routers' [`Time`] from the
//! daemon's start instant. Each turn of the loop sleeps until the earliest router
//! deadline on a timerfd (`net::PreciseTimer`: microseconds, where tokio's timer
//! rounds up to the next millisecond); timers win over packets (`biased`), so a
//! flood cannot delay an advert.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::engine::config::{self, Config};
use crate::engine::net::{LinkWatch, NetEvent, Netlink, PreciseTimer};
use crate::engine::packet::{Accepted, Dropped, IpMeta};
use crate::engine::proto::Family;
use crate::engine::proto::{Priority, Timers};
use crate::engine::router::{Action, Input, State, Time};

use super::instance::{
    all_vips, destinations, encode_options, placeholder_source, router_config, rx_expect,
    vip_device, Instance, InstanceKey,
};
use super::links::HostView;
use super::ratelimit::RateLimit;
use super::reload::match_instances;
use super::sockets::{self, LinkLayer, Packet, Receiver, ReceiverKey};
use super::status::{self, Header, ReceiverView, StatusWriter};
use super::tracking::{self, Scheduler, ScriptResult};

/// How long past the latest possible successor a resigning Master keeps its VIPs.
const RELEASE_MARGIN: Duration = Duration::from_millis(50);

/// How often a line about the same dropped-packet reason and sender may be logged.
const DROP_LOG_PERIOD: Duration = Duration::from_secs(10);

/// Link watch output: a kernel event, or "the subscription was lost and renewed,
/// re-read everything".
#[derive(Debug)]
pub(super) enum NetMsg {
    Event(NetEvent),
    Resync,
}

/// The receiving ends of the channels the loop waits on.
pub(super) struct Inbox {
    packets: mpsc::Receiver<Packet>,
    scripts: mpsc::Receiver<ScriptResult>,
    net: mpsc::Receiver<NetMsg>,
    terminate: Signal,
    interrupt: Signal,
    hangup: Signal,
    /// The routers' deadlines, to the microsecond.
    timer: PreciseTimer,
}

pub(super) struct Driver {
    start: Instant,
    config_path: PathBuf,
    config: Config,
    pub(super) instances: Vec<Instance>,
    pub(super) host: HostView,
    pub(super) netlink: Netlink,
    pub(super) receivers: BTreeMap<ReceiverKey, Receiver>,
    next_receiver: u64,
    pub(super) link_layer: LinkLayer,
    packets_tx: mpsc::Sender<Packet>,
    scripts: Scheduler,
    scripts_tx: mpsc::Sender<ScriptResult>,
    status: StatusWriter,
    header: Header,
    /// A state changed: write the state file at the end of this turn.
    pub(super) state_dirty: bool,
    /// Counters moved: write at the next counter flush.
    pub(super) counters_dirty: bool,
    pub(super) log_limit: RateLimit,
    /// Encoding buffer, reused for every advert.
    pub(super) buf: Vec<u8>,
}

impl Driver {
    /// Everything before the first packet: signals, netlink, the link watch, stale
    /// VIPs, instances, sockets, scripts; then `Startup` to every router.
    pub(super) async fn start(
        config_path: PathBuf,
        config: Config,
        state_file: Option<PathBuf>,
    ) -> anyhow::Result<(Driver, Inbox)> {
        // Signal handlers first: a SIGTERM during startup must still be a clean stop.
        let terminate = signal(SignalKind::terminate()).context("install the SIGTERM handler")?;
        let interrupt = signal(SignalKind::interrupt()).context("install the SIGINT handler")?;
        let hangup = signal(SignalKind::hangup()).context("install the SIGHUP handler")?;

        let netlink = Netlink::connect().context("open the rtnetlink socket")?;
        // Subscribe before the dump, so no change between the two is lost.
        let watch = LinkWatch::subscribe().context("subscribe to link and address changes")?;
        let (net_tx, net_rx) = mpsc::channel(256);
        tokio::spawn(forward_link_events(watch, net_tx));

        remove_stale_vips(&netlink, &config).await;
        let host = dump(&netlink).await.context("read the interfaces")?;

        let (packets_tx, packets_rx) = mpsc::channel(1024);
        let (scripts_tx, scripts_rx) = mpsc::channel(64);
        let header = Header {
            config: config_path.display().to_string(),
            ..Header::default()
        };
        let mut driver = Driver {
            start: Instant::now(),
            config_path,
            config: Config::default(),
            instances: Vec::new(),
            host,
            netlink,
            receivers: BTreeMap::new(),
            next_receiver: 0,
            link_layer: LinkLayer::default(),
            packets_tx,
            scripts: Scheduler::default(),
            scripts_tx,
            status: StatusWriter::start(state_file),
            header,
            state_dirty: true,
            counters_dirty: false,
            log_limit: RateLimit::new(DROP_LOG_PERIOD),
            buf: Vec::with_capacity(64),
        };
        driver.install(config, Vec::new()).await;
        tracing::info!(
            config = %driver.config_path.display(),
            instances = driver.instances.len(),
            "VRRP engine started"
        );
        let timer = PreciseTimer::new().context("create the timer (timerfd)")?;
        let inbox = Inbox {
            timer,
            packets: packets_rx,
            scripts: scripts_rx,
            net: net_rx,
            terminate,
            interrupt,
            hangup,
        };
        Ok((driver, inbox))
    }

    fn now(&self) -> Time {
        Time::from_epoch(Instant::now().saturating_duration_since(self.start))
    }

    fn instant(&self, t: Time) -> Instant {
        self.start + t.since_epoch()
    }

    /// Runs until SIGTERM or SIGINT, then shuts every router down.
    pub(super) async fn run(mut self, mut inbox: Inbox) {
        let mut flush = tokio::time::interval(status::COUNTER_FLUSH);
        flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            if self.state_dirty {
                self.publish();
            }
            let deadline = self
                .instances
                .iter()
                .filter_map(|i| i.router.poll_timeout())
                .min()
                .map(|t| self.instant(t));
            let precise = &inbox.timer;
            let timer = async move {
                match deadline {
                    Some(at) => {
                        if let Err(e) = precise.sleep_until(at.into_std()).await {
                            // Never expected; fall back to tokio's millisecond timer.
                            tracing::warn!(error = %e, "timerfd failed");
                            tokio::time::sleep_until(at).await;
                        }
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                _ = inbox.terminate.recv() => {
                    tracing::info!("SIGTERM: shutting down");
                    break;
                }
                _ = inbox.interrupt.recv() => {
                    tracing::info!("SIGINT: shutting down");
                    break;
                }
                _ = timer => self.on_timers().await,
                _ = inbox.hangup.recv() => self.reload().await,
                Some(packet) = inbox.packets.recv() => self.on_packet(packet).await,
                Some(result) = inbox.scripts.recv() => self.on_script(result).await,
                Some(msg) = inbox.net.recv() => self.on_net(msg).await,
                _ = flush.tick() => {
                    if self.counters_dirty {
                        self.publish();
                    }
                }
            }
        }
        self.shutdown(&mut inbox).await;
    }

    fn snapshot(&self) -> crate::engine::state_file::EngineState {
        let receivers = self
            .receivers
            .iter()
            .map(|((iface, family), r)| ReceiverView {
                interface: iface,
                family: *family,
                counters: r.demux.counters(),
            });
        status::snapshot(&self.header, &self.instances, receivers, SystemTime::now())
    }

    fn publish(&mut self) {
        self.status.publish(self.snapshot());
        self.state_dirty = false;
        self.counters_dirty = false;
    }

    async fn on_timers(&mut self) {
        let now = self.now();
        for idx in 0..self.instances.len() {
            if self.instances[idx]
                .router
                .poll_timeout()
                .is_some_and(|t| t <= now)
            {
                let actions = self.instances[idx].router.handle_timeout(now);
                self.apply(idx, actions).await;
            }
        }
    }

    async fn on_packet(&mut self, packet: Packet) {
        let now = self.now();
        self.counters_dirty = true;
        let Some((key, receiver)) = self
            .receivers
            .iter_mut()
            .find(|(_, r)| r.id == packet.receiver)
        else {
            return; // from a receiver closed since
        };
        let (iface, family) = key.clone();
        let verdict = match family {
            Family::V4 => receiver.demux.receive_ipv4(&packet.bytes),
            Family::V6 => receiver.demux.receive(
                IpMeta {
                    src: packet.meta.src,
                    dst: packet.meta.dst,
                    // No ancillary data is "not 255" (net::RecvMeta).
                    ttl: packet.meta.ttl_or_hop_limit.unwrap_or(0),
                },
                &packet.bytes,
            ),
        };
        match verdict {
            Ok(accepted) => self.on_accepted(now, &iface, family, accepted).await,
            Err(dropped) => self.on_dropped(&iface, family, dropped),
        }
    }

    fn instance_on(&self, iface: &str, family: Family, vrid: u8) -> Option<usize> {
        self.instances.iter().position(|i| {
            i.config.interface == iface && i.config.family == family && i.config.vrid.get() == vrid
        })
    }

    async fn on_accepted(&mut self, now: Time, iface: &str, family: Family, accepted: Accepted) {
        let Accepted { received, notices } = accepted;
        let Some(idx) = self.instance_on(iface, family, received.advert.vrid.get()) else {
            return;
        };
        let inst = &mut self.instances[idx];
        inst.checksum_forms
            .insert(received.src, received.checksum_form);
        if notices.owner_conflict || notices.address_list_mismatch || notices.interval_mismatch {
            let key = format!("notice {} {}", inst.config.name, received.src);
            if let Some(n) = self.log_limit.allow(&key, std::time::Instant::now()) {
                tracing::warn!(
                    instance = %inst.config.name,
                    from = %received.src,
                    owner_conflict = notices.owner_conflict,
                    address_list_mismatch = notices.address_list_mismatch,
                    interval = %received.advert.interval,
                    interval_mismatch = notices.interval_mismatch,
                    suppressed = n,
                    "advert accepted with a notice"
                );
            }
        }
        let input = Input::Advert {
            from: received.src,
            interval_mismatch: notices.interval_mismatch,
            advert: received.advert,
        };
        let known = inst.router.master_address();
        let actions = inst.router.handle(now, input);
        if inst.router.master_address() != known {
            // A new master is worth a state-file line at once, like a transition.
            self.state_dirty = true;
        }
        self.apply(idx, actions).await;
    }

    fn on_dropped(&mut self, iface: &str, family: Family, dropped: Dropped) {
        let who = dropped
            .vrid
            .and_then(|v| self.instance_on(iface, family, v.get()));
        let name = match who {
            Some(idx) => {
                let inst = &mut self.instances[idx];
                inst.drops.record(&dropped.reason);
                inst.config.name.clone()
            }
            None => "-".to_string(),
        };
        let src = dropped
            .src
            .map_or_else(|| "?".to_string(), |s| s.to_string());
        let key = format!("drop {} {src}", dropped.reason.name());
        if let Some(n) = self.log_limit.allow(&key, std::time::Instant::now()) {
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

    async fn on_script(&mut self, result: ScriptResult) {
        let now = self.now();
        let ok = result.outcome.is_ok();
        for idx in 0..self.instances.len() {
            let router = &mut self.instances[idx].router;
            if !router
                .config()
                .track_scripts
                .iter()
                .any(|t| t.name == result.name)
            {
                continue;
            }
            let before = router.script_status(&result.name);
            let actions = router.handle(
                now,
                Input::ScriptResult {
                    name: result.name.clone(),
                    ok,
                },
            );
            let after = router.script_status(&result.name);
            if before != after {
                tracing::info!(
                    instance = %self.instances[idx].config.name,
                    script = %result.name,
                    outcome = ?result.outcome,
                    priority = self.instances[idx].router.effective_priority().get(),
                    "vrrp_script {:?} -> {:?}",
                    before,
                    after
                );
                self.state_dirty = true;
            }
            self.apply(idx, actions).await;
        }
    }

    async fn on_net(&mut self, msg: NetMsg) {
        let changed = match msg {
            NetMsg::Event(event) => {
                if let NetEvent::LinkRemoved { name, .. } = &event {
                    self.link_layer.forget(name);
                }
                let c = self.host.apply(&event);
                c.links || c.addresses
            }
            NetMsg::Resync => match dump(&self.netlink).await {
                Ok(view) => {
                    self.host = view;
                    true
                }
                Err(e) => {
                    tracing::error!(error = %e, "cannot re-read the interfaces");
                    false
                }
            },
        };
        if changed {
            self.refresh_interfaces().await;
        }
    }

    /// Every address any instance may put on an interface: never a source.
    fn our_addresses(&self) -> BTreeSet<IpAddr> {
        self.config
            .instances
            .iter()
            .flat_map(|i| all_vips(i).map(|v| v.addr))
            .collect()
    }

    /// Re-derives sources, sockets and up/down reports from the host view.
    async fn refresh_interfaces(&mut self) {
        let now = self.now();
        let ours = self.our_addresses();
        for idx in 0..self.instances.len() {
            let inst = &self.instances[idx];
            let source = self.host.source_for(&inst.config, inst.source, &ours);
            if source == inst.source {
                continue;
            }
            tracing::info!(
                instance = %inst.config.name,
                source = ?source,
                "advert source address changed"
            );
            let inst = &mut self.instances[idx];
            inst.source = source;
            if let Some(src) = source {
                let rc = router_config(&self.config, &inst.config, src);
                match inst.router.reconfigure(now, rc) {
                    Ok(actions) => self.apply(idx, actions).await,
                    Err(e) => tracing::error!(error = %e, "cannot use the new source address"),
                }
            }
        }
        self.reconcile_receivers();
        for idx in 0..self.instances.len() {
            self.report_links(idx, now).await;
        }
    }

    /// Tells instance `idx`'s router which of its interfaces changed state.
    async fn report_links(&mut self, idx: usize, now: Time) {
        let inst = &mut self.instances[idx];
        let down = self.host.down_for(&inst.config, inst.source.is_some());
        let mut actions = Vec::new();
        for name in down.difference(&inst.reported_down) {
            tracing::info!(instance = %inst.config.name, interface = %name, "interface down or not ready");
            actions.extend(
                inst.router
                    .handle(now, Input::InterfaceDown { name: name.clone() }),
            );
        }
        for name in inst.reported_down.difference(&down) {
            tracing::info!(instance = %inst.config.name, interface = %name, "interface up");
            actions.extend(
                inst.router
                    .handle(now, Input::InterfaceUp { name: name.clone() }),
            );
        }
        inst.reported_down = down;
        self.apply(idx, actions).await;
    }

    /// Opens and closes receive sockets to match the instances, and sets each
    /// ladder's expectations.
    fn reconcile_receivers(&mut self) {
        let wanted = sockets::wanted(&self.instances);
        let host = &self.host;
        self.receivers.retain(|key, r| {
            wanted.get(key) == Some(&r.delivery)
                && host.link(&key.0).map(|l| l.index) == Some(r.ifindex)
        });
        for (key, delivery) in wanted {
            if self.receivers.contains_key(&key) {
                continue;
            }
            let Some(link) = self.host.link(&key.0) else {
                continue; // opened when the interface appears
            };
            self.next_receiver += 1;
            match Receiver::open(
                self.next_receiver,
                &link.interface(),
                key.1,
                delivery,
                self.packets_tx.clone(),
            ) {
                Ok(r) => {
                    tracing::debug!(interface = %key.0, family = %key.1, ?delivery, "VRRP socket open");
                    self.receivers.insert(key, r);
                }
                Err(e) => {
                    if let Some(n) = self.log_limit.allow(
                        &format!("open {} {}", key.0, key.1),
                        std::time::Instant::now(),
                    ) {
                        tracing::error!(error = %e, suppressed = n, "cannot open the VRRP socket");
                    }
                }
            }
        }
        for (key, r) in self.receivers.iter_mut() {
            r.expect(sockets::expectations(&self.instances, key));
        }
    }

    /// Starts `config`: matched instances of the running config (`kept`, by their
    /// index in the new config) are already in place; everything else starts fresh.
    /// Returns where each config index landed in `self.instances`.
    async fn install(
        &mut self,
        config: Config,
        kept: Vec<(usize, Instance)>,
    ) -> BTreeMap<usize, usize> {
        let now = self.now();
        let ours: BTreeSet<IpAddr> = config
            .instances
            .iter()
            .flat_map(|i| all_vips(i).map(|v| v.addr))
            .collect();
        let mut kept: BTreeMap<usize, Instance> = kept.into_iter().collect();
        let mut instances = Vec::with_capacity(config.instances.len());
        let mut fresh = Vec::new();
        let mut placed = BTreeMap::new();
        for (n, cfg) in config.instances.iter().enumerate() {
            if let Some(inst) = kept.remove(&n) {
                placed.insert(n, instances.len());
                instances.push(inst);
                continue;
            }
            let source = self.host.source_for(cfg, None, &ours);
            match Instance::new(&config, cfg, source) {
                Ok(inst) => {
                    placed.insert(n, instances.len());
                    fresh.push(instances.len());
                    instances.push(inst);
                }
                Err(e) => tracing::error!(error = %e, "instance not started"),
            }
        }
        self.instances = instances;
        self.config = config;
        self.reconcile_receivers();
        for idx in fresh {
            // Link state first (Tracking assumes "up" for anything unreported), then
            // the RFC Startup event.
            self.report_links(idx, now).await;
            let actions = self.instances[idx].router.handle(now, Input::Startup);
            self.apply(idx, actions).await;
        }
        let wanted = tracking::wanted(&self.config);
        self.scripts.apply(&wanted, &self.scripts_tx);
        self.state_dirty = true;
        placed
    }

    /// SIGHUP: re-read the config; refuse it whole on any error.
    async fn reload(&mut self) {
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

        // Removed instances resign (priority 0 if Master) while their socket is open.
        for &o in &matching.removed {
            let actions = self.instances[o].router.handle(now, Input::Shutdown);
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
                    inst.retired = all_vips(&inst.config).cloned().collect();
                    inst.key = InstanceKey::of(cfg);
                    inst.expect = rx_expect(cfg);
                    inst.encode = encode_options(cfg);
                    inst.destinations = destinations(cfg);
                    inst.config = cfg.clone();
                    inst.source = source;
                    pending.push((n, actions, was_master.then_some(old_excluded)));
                    kept.push((n, inst));
                }
                Err(e) => {
                    // Validated by the parser; should not happen. Stop it cleanly
                    // rather than run something half-configured.
                    tracing::error!(error = %e, "instance cannot take the new configuration; stopping it");
                    let actions = inst.router.handle(now, Input::Shutdown);
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
            if let Some(old_excluded) = old_excluded {
                self.update_excluded(idx, &old_excluded).await;
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

    /// A Master's `virtual_ipaddress_excluded` changed by a reload: add the new
    /// entries, remove the dropped ones (the router only knows advertised VIPs).
    async fn update_excluded(&mut self, idx: usize, old: &[config::VirtualAddress]) {
        if self.instances[idx].router.state() != State::Master {
            return;
        }
        let cfg = self.instances[idx].config.clone();
        for v in old.iter().filter(|v| !cfg.vips_excluded.contains(v)) {
            let dev = v.dev.clone().unwrap_or_else(|| cfg.interface.clone());
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

    /// SIGTERM: every Master resigns with priority 0 (C-06) and removes its VIPs;
    /// the final state goes to the state file.
    ///
    /// Make before break: a resigning Master keeps its VIPs until the successor's
    /// first advert arrives (it comes Skew_Time after our priority 0, just before
    /// the successor's gratuitous ARP), or at the latest when any successor must
    /// have spoken (the skew of priority 1, plus a margin). keepalived removes them
    /// at once, which leaves the VIP unanswered for the whole skew; here clients
    /// are served by the old master until the new one announces itself.
    async fn shutdown(mut self, inbox: &mut Inbox) {
        let now = self.now();
        let mut held: Vec<(usize, Vec<IpAddr>)> = Vec::new();
        let mut wait = Duration::ZERO;
        for idx in 0..self.instances.len() {
            let was_master = self.instances[idx].router.state() == State::Master;
            let mut actions = self.instances[idx].router.handle(now, Input::Shutdown);
            if was_master {
                if let Some(pos) = actions
                    .iter()
                    .position(|a| matches!(a, Action::RemoveVips(_)))
                {
                    if let Action::RemoveVips(vips) = actions.remove(pos) {
                        // Leaving Master: the excluded addresses go with the VIPs.
                        held.push((idx, vips));
                        let cfg = &self.instances[idx].config;
                        let last = Timers::new(cfg.version, Priority::MIN_BACKUP, cfg.advert_int);
                        wait = wait.max(last.skew_time);
                    }
                }
            }
            self.apply(idx, actions).await;
        }
        if !held.is_empty() {
            let deadline = Instant::now() + wait + RELEASE_MARGIN;
            let mut pending: BTreeSet<usize> = held.iter().map(|(i, _)| *i).collect();
            while !pending.is_empty() {
                let packet = tokio::select! {
                    _ = tokio::time::sleep_until(deadline) => break,
                    p = inbox.packets.recv() => match p {
                        Some(p) => p,
                        None => break,
                    },
                };
                if let Some(idx) = self.successor_heard(&packet) {
                    if pending.remove(&idx) {
                        tracing::info!(instance = %self.instances[idx].config.name, "successor heard: releasing the VIPs");
                        if let Some((_, vips)) = held.iter().find(|(i, _)| *i == idx) {
                            self.release_vips(idx, vips).await;
                        }
                    }
                }
            }
            for idx in pending {
                if let Some((_, vips)) = held.iter().find(|(i, _)| *i == idx) {
                    tracing::info!(instance = %self.instances[idx].config.name, "no successor heard: releasing the VIPs");
                    self.release_vips(idx, vips).await;
                }
            }
        }
        self.scripts.stop_all();
        let last = self.snapshot();
        let Driver { status, .. } = self;
        status.finish(last);
        tracing::info!("VRRP engine stopped");
    }

    /// The instance whose successor sent `packet`: an advert that passes the ladder,
    /// from another router, with a priority above 0.
    fn successor_heard(&mut self, packet: &Packet) -> Option<usize> {
        let (key, receiver) = self
            .receivers
            .iter_mut()
            .find(|(_, r)| r.id == packet.receiver)?;
        let (iface, family) = key.clone();
        let verdict = match family {
            Family::V4 => receiver.demux.receive_ipv4(&packet.bytes),
            Family::V6 => receiver.demux.receive(
                IpMeta {
                    src: packet.meta.src,
                    dst: packet.meta.dst,
                    ttl: packet.meta.ttl_or_hop_limit.unwrap_or(0),
                },
                &packet.bytes,
            ),
        };
        let accepted = verdict.ok()?;
        let received = accepted.received;
        if received.advert.priority.is_release() {
            return None;
        }
        let idx = self.instance_on(&iface, family, received.advert.vrid.get())?;
        (Some(received.src) != self.instances[idx].source).then_some(idx)
    }
}

/// Links and addresses as the kernel reports them now.
async fn dump(netlink: &Netlink) -> Result<HostView, crate::engine::net::NetlinkError> {
    let links = netlink.links().await?;
    let addrs = netlink.addresses(None).await?;
    Ok(HostView::new(links, addrs))
}

/// At start: VIPs of our instances left on their interfaces by an unclean exit
/// (SIGKILL, crash) are removed before any election, or two hosts would answer for
/// the VIP (reference original-charm §4.2). An address owner's (priority 255) VIPs
/// are the host's own addresses and are left alone, as is any `unicast_src_ip`.
async fn remove_stale_vips(netlink: &Netlink, config: &Config) {
    let sources: BTreeSet<IpAddr> = config
        .instances
        .iter()
        .filter_map(|i| i.unicast_src_ip)
        .collect();
    let mut by_dev: BTreeMap<String, Vec<IpAddr>> = BTreeMap::new();
    for inst in config.instances.iter().filter(|i| !i.priority.is_owner()) {
        for vip in all_vips(inst).filter(|v| !sources.contains(&v.addr)) {
            by_dev
                .entry(vip_device(inst, vip).to_string())
                .or_default()
                .push(vip.addr);
        }
    }
    for (dev, vips) in by_dev {
        match netlink.remove_stale_vips(&dev, &vips).await {
            Ok(removed) if !removed.is_empty() => {
                tracing::warn!(interface = %dev, ?removed, "removed VIPs left by an unclean exit");
            }
            Ok(_) => {}
            Err(crate::engine::net::NetlinkError::NoSuchInterface { .. }) => {}
            Err(e) => tracing::warn!(interface = %dev, error = %e, "cannot check for stale VIPs"),
        }
    }
}

/// Forwards link watch events to the loop; renews a lost subscription.
async fn forward_link_events(mut watch: LinkWatch, tx: mpsc::Sender<NetMsg>) {
    loop {
        while let Some(event) = watch.next().await {
            if tx.send(NetMsg::Event(event)).await.is_err() {
                return;
            }
        }
        tracing::warn!("link watch lost (notifications overflowed?): subscribing again");
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            match LinkWatch::subscribe() {
                Ok(w) => {
                    watch = w;
                    break;
                }
                Err(e) => tracing::error!(error = %e, "cannot subscribe to link changes"),
            }
        }
        if tx.send(NetMsg::Resync).await.is_err() {
            return;
        }
    }
}
