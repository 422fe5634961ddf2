//! The event loop: one task owns every router, every ladder and the host view, and
//! turns events (packets, timers, script results, link changes, signals) into router
//! inputs and router actions into I/O. Nothing here decides VRRP: the routers do,
//! timers included (the contention re-announce and the make-before-break release on
//! SIGTERM are router deadlines like the advert timer), so the loop only sleeps
//! until the earliest `poll_timeout` and applies actions in the order given.
//!
//! Time: tokio's monotonic `Instant`, mapped onto the routers' [`Time`] from the
//! daemon's start instant. Each turn of the loop sleeps until the earliest router
//! deadline on a timerfd (`net::PreciseTimer`: microseconds, where tokio's timer
//! rounds up to the next millisecond); timers win over packets (`biased`), so a
//! flood cannot delay an advert.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::engine::metrics::server::{Limits, MetricsServer};
use crate::engine::metrics::{InstanceExtra, Published, Snapshot};
use crate::engine::net::{LinkWatch, NetEvent, Netlink, PreciseTimer};
use vrrp_core::config::Config;
use vrrp_core::proto::Advert;
use vrrp_core::router::{Action, Input, Time};

use super::instance::{all_vips, router_config, vip_device, Instance};
use super::lifecycle::{dump, forward_link_events, remove_stale_vips, NetMsg};
use super::links::HostView;
use super::ratelimit::RateLimit;
use super::sockets::{self, recv_any, try_recv_any, LinkLayer, Receiver, ReceiverKey};
use super::status::{self, Header, ReceiverView, StatusWriter};
use super::tracking::{self, Scheduler, ScriptResult};

/// Beside the state file: its presence at start means "another VRRP daemon on this
/// machine holds our VIPs and hands over to us: do not remove them as stale". The
/// engine deletes it as it reads it, so it applies to one start only.
pub fn adopt_marker(state_file: &std::path::Path) -> PathBuf {
    state_file.with_file_name(ADOPT_MARKER)
}

/// The file name of [`adopt_marker`].
pub const ADOPT_MARKER: &str = "adopt-vips";

/// How often a line about the same dropped-packet reason and sender may be logged.
const DROP_LOG_PERIOD: Duration = Duration::from_secs(10);

/// Datagrams read before the due timers fire, at most (`Driver::on_timers`).
const DRAIN_BEFORE_TIMERS: usize = 64;

/// The loop's receive buffer (one datagram at a time; VRRP packets are far below
/// 2 KiB) and where `recv_any` goes on polling.
struct RxBuffer {
    buf: Vec<u8>,
    next: usize,
}

impl Default for RxBuffer {
    fn default() -> RxBuffer {
        RxBuffer {
            buf: vec![0u8; 2048],
            next: 0,
        }
    }
}

/// A signal that stops the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stop {
    Terminate,
    Interrupt,
}

/// Forwards the signals to the loop: a stop first whenever one is pending, and
/// SIGHUPs coalesced into one pending reload (as tokio's own streams merge them),
/// so a burst of reload requests never queues ahead of a SIGTERM. Ends when the
/// loop is gone.
async fn forward_signals(
    mut terminate: Signal,
    mut interrupt: Signal,
    mut hangup: Signal,
    stop: mpsc::Sender<Stop>,
    reload: mpsc::Sender<()>,
) {
    loop {
        tokio::select! {
            biased;
            Some(()) = terminate.recv() => {
                if stop.send(Stop::Terminate).await.is_err() {
                    return;
                }
            }
            Some(()) = interrupt.recv() => {
                if stop.send(Stop::Interrupt).await.is_err() {
                    return;
                }
            }
            Some(()) = hangup.recv() => {
                if let Err(mpsc::error::TrySendError::Closed(())) = reload.try_send(()) {
                    return;
                }
            }
            else => return,
        }
    }
}

/// The receiving ends of the channels the loop waits on.
pub(super) struct Inbox {
    pub(super) scripts: mpsc::Receiver<ScriptResult>,
    pub(super) net: mpsc::Receiver<NetMsg>,
    /// SIGTERM and SIGINT, forwarded by one task (`forward_signals`): the loop
    /// polls two queues per turn instead of three signal streams.
    pub(super) stop: mpsc::Receiver<Stop>,
    /// SIGHUP: at most one reload pending, however many came.
    pub(super) hangup: mpsc::Receiver<()>,
    /// The routers' deadlines, to the microsecond.
    pub(super) timer: PreciseTimer,
}

pub(super) struct Driver {
    start: Instant,
    pub(super) config_path: PathBuf,
    pub(super) config: Config,
    pub(super) instances: Vec<Instance>,
    pub(super) host: HostView,
    pub(super) netlink: Netlink,
    pub(super) receivers: BTreeMap<ReceiverKey, Receiver>,
    next_receiver: u64,
    pub(super) link_layer: LinkLayer,
    pub(super) scripts: Scheduler,
    scripts_tx: mpsc::Sender<ScriptResult>,
    pub(super) status: StatusWriter,
    pub(super) header: Header,
    /// A state changed: write the state file at the end of this turn.
    pub(super) state_dirty: bool,
    /// Counters moved since they last reached the metrics endpoint.
    pub(super) counters_dirty: bool,
    /// Counters an operator looks for moved (drops, send errors): rewrite the state
    /// file at the next heartbeat rather than at the next `status::CONTENT_REFRESH`.
    pub(super) notable_dirty: bool,
    /// When the state file was last handed to the writer (see
    /// `status::CONTENT_REFRESH`).
    pub(super) file_written: Instant,
    /// The last heartbeat: a rewrite or a bump of the file's modification time, with
    /// the counters to the metrics endpoint (see `status::HEARTBEAT`).
    beat: Instant,
    /// `alarms()` as last written to the state file.
    alarms_written: Vec<(usize, bool)>,
    pub(super) log_limit: RateLimit,
    /// Encoding buffer, reused for every advert.
    pub(super) buf: Vec<u8>,
    /// The metrics endpoint, with `--metrics-file`.
    pub(super) metrics: Option<Metrics>,
    /// The clocks behind the waiting queues' stamps (`super::waiting`).
    pub(super) arrival: super::waiting::ArrivalClock,
    /// The buffer the waiting queues are read into.
    pub(super) wait_buf: Vec<u8>,
    /// The thread that sends steady Masters' adverts (`super::pacing`), started at
    /// the first hand-over.
    pub(super) pacer: Option<super::pacer::Pacer>,
    /// It could not be started: the loop sends every advert itself.
    pub(super) pacing_failed: bool,
}

/// The metrics endpoint: where its address comes from, the snapshot it serves and
/// the server thread.
pub(super) struct Metrics {
    file: PathBuf,
    published: Published,
    server: MetricsServer,
}

impl Driver {
    /// Everything before the first packet: signals, netlink, the link watch, stale
    /// VIPs, instances, sockets, scripts; then `Startup` to every router.
    pub(super) async fn start(
        config_path: PathBuf,
        config: Config,
        state_file: Option<PathBuf>,
        metrics_file: Option<PathBuf>,
    ) -> anyhow::Result<(Driver, Inbox)> {
        // Signal handlers first: a SIGTERM during startup must still be a clean stop.
        let terminate = signal(SignalKind::terminate()).context("install the SIGTERM handler")?;
        let interrupt = signal(SignalKind::interrupt()).context("install the SIGINT handler")?;
        let hangup = signal(SignalKind::hangup()).context("install the SIGHUP handler")?;
        let (stop_tx, stop) = mpsc::channel(2);
        let (hangup_tx, hangup_rx) = mpsc::channel(1);
        tokio::spawn(forward_signals(
            terminate, interrupt, hangup, stop_tx, hangup_tx,
        ));

        let netlink = Netlink::connect().context("open the rtnetlink socket")?;
        // Subscribe before the dump, so no change between the two is lost.
        let watch = LinkWatch::subscribe().context("subscribe to link and address changes")?;
        let (net_tx, net_rx) = mpsc::channel(256);
        tokio::spawn(forward_link_events(watch, net_tx));

        // A takeover from a live keepalived that holds the VIPs on this machine (the
        // charm's refresh from the original charm) asks, once, to leave them in place:
        // removing them would leave the VIP dark until this engine's down timer fires.
        let adopt = state_file.as_deref().map(adopt_marker);
        if adopt
            .as_ref()
            .is_some_and(|m| std::fs::remove_file(m).is_ok())
        {
            tracing::info!("taking over from another VRRP daemon on this machine: addresses present at start are left in place");
        } else {
            remove_stale_vips(&netlink, &config).await;
        }
        let host = dump(&netlink).await.context("read the interfaces")?;

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
            scripts: Scheduler::default(),
            scripts_tx,
            status: StatusWriter::start(state_file),
            header,
            state_dirty: true,
            counters_dirty: false,
            notable_dirty: false,
            file_written: Instant::now(),
            beat: Instant::now(),
            alarms_written: Vec::new(),
            log_limit: RateLimit::new(DROP_LOG_PERIOD),
            buf: Vec::with_capacity(64),
            metrics: None,
            arrival: super::waiting::ArrivalClock::default(),
            wait_buf: Vec::new(),
            pacer: None,
            pacing_failed: false,
        };
        if let Some(file) = metrics_file {
            let published = Published::default();
            let server = MetricsServer::start(published.clone(), Limits::default())
                .context("start the metrics server thread")?;
            driver.metrics = Some(Metrics {
                file,
                published,
                server,
            });
            driver.configure_metrics();
        }
        driver.install(config, Vec::new()).await;
        tracing::info!(
            config = %driver.config_path.display(),
            instances = driver.instances.len(),
            "VRRP engine started"
        );
        let timer = PreciseTimer::new().context("create the timer (timerfd)")?;
        let inbox = Inbox {
            timer,
            scripts: scripts_rx,
            net: net_rx,
            stop,
            hangup: hangup_rx,
        };
        Ok((driver, inbox))
    }

    pub(super) fn now(&self) -> Time {
        Time::from_epoch(Instant::now().saturating_duration_since(self.start))
    }

    pub(super) fn instant(&self, t: Time) -> Instant {
        self.start + t.since_epoch()
    }

    /// The router time of `at` (the epoch for an instant before the engine started).
    pub(super) fn time_of(&self, at: Instant) -> Time {
        Time::from_epoch(at.saturating_duration_since(self.start))
    }

    /// The earliest deadline of any router, as a tokio instant.
    fn next_deadline(&self) -> Option<Instant> {
        self.instances
            .iter()
            .filter_map(|i| i.router.poll_timeout())
            .min()
            .map(|t| self.instant(t))
    }

    /// Runs until SIGTERM or SIGINT, then shuts every router down.
    pub(super) async fn run(mut self, mut inbox: Inbox) {
        // Every datagram is read here, in the loop's own turn (`sockets::recv_any`).
        let mut rx = RxBuffer::default();
        loop {
            if self.refresh_waits() {
                // Adverts that came to the queue during this turn, before a router
                // stopped letting them wait (it became Master, or claims), are
                // read now rather than at the next wake-up.
                self.read_waiting().await;
            }
            // The last thing a turn does to the routers: from here until
            // `begin_turn`, steady Masters' adverts go out without the loop.
            self.pace();
            self.housekeeping();
            let wake = self.next_wake();
            self.lease_paced(wake);
            let timer = sleep_until(&inbox.timer, wake);
            // Whatever woke the loop, the paced adverts come back to their
            // routers and the adverts that waited reach them first: they arrived
            // before it (`super::pacing`, `super::waiting`).
            tokio::select! {
                biased;
                Some(sig) = inbox.stop.recv() => {
                    match sig {
                        Stop::Terminate => tracing::info!("SIGTERM: shutting down"),
                        Stop::Interrupt => tracing::info!("SIGINT: shutting down"),
                    }
                    self.begin_turn().await;
                    break;
                }
                _ = timer => {
                    self.begin_turn().await;
                    self.on_timers(&mut rx).await
                }
                Some(()) = inbox.hangup.recv() => {
                    self.begin_turn().await;
                    self.reload().await;
                    self.configure_metrics();
                }
                received = recv_any(&self.receivers, &mut rx.buf, &mut rx.next) => {
                    self.begin_turn().await;
                    self.on_received(received, &rx.buf).await
                }
                Some(result) = inbox.scripts.recv() => {
                    self.begin_turn().await;
                    self.on_script(result).await
                }
                Some(msg) = inbox.net.recv() => {
                    self.begin_turn().await;
                    self.on_net(msg).await
                }
            }
        }
        self.shutdown(&mut inbox).await;
    }

    /// The state file and the metrics, at the end of each turn: a state change at
    /// once, a rewrite every `status::CONTENT_REFRESH`, and in between the heartbeat
    /// (the file's modification time, and moved counters to the metrics endpoint),
    /// each when due, or in this wake-up when the next router deadline comes after
    /// it is due and it is at most `status::EARLY` away: so an idle engine does not
    /// wake for its heartbeat between the wake-ups it needs anyway (a Backup's reads
    /// of its waiting queue, health-check results), and still beats every 10 s
    /// (`make bench-footprint`).
    fn housekeeping(&mut self) {
        let now = Instant::now();
        let next = self.next_deadline();
        // Due, or due before the loop would wake again anyway.
        let due =
            |at: Instant| now >= at || (now + status::EARLY >= at && next.map_or(true, |n| n > at));
        let beat_due = due(self.beat + status::HEARTBEAT);
        if self.state_dirty
            || due(self.file_written + status::CONTENT_REFRESH)
            // Drops and send errors, and a foreign router or a split brain no
            // longer heard, reach the file at the next heartbeat, as they did when
            // every heartbeat was a rewrite.
            || (beat_due && (self.notable_dirty || self.alarms() != self.alarms_written))
        {
            self.publish();
        } else if beat_due {
            self.status.touch();
            if self.counters_dirty && self.metrics_serving() {
                self.publish_metrics(&self.snapshot());
                self.counters_dirty = false;
            }
            self.beat = now;
        }
    }

    /// What the time-filtered reports of the state file show per instance: how many
    /// foreign routers were heard lately, and whether a split brain is seen.
    fn alarms(&self) -> Vec<(usize, bool)> {
        let now = self.now();
        self.instances
            .iter()
            .map(|i| {
                (
                    i.router.foreign_routers(now).len(),
                    i.router.dual_master(now).is_some(),
                )
            })
            .collect()
    }

    /// The next time the loop must wake with nothing to read: the earliest router
    /// deadline or the heartbeat (a rewrite is never due before a heartbeat). One
    /// timerfd for all of them, no tokio timer: tokio's wheel wakes the loop again
    /// on its way down to a far deadline.
    fn next_wake(&self) -> Option<Instant> {
        let heartbeat = self.beat + status::HEARTBEAT;
        [self.next_deadline(), Some(heartbeat)]
            .into_iter()
            .flatten()
            .min()
    }

    /// SIGTERM / SIGINT: every router gets `Input::Shutdown` (a Master resigns with
    /// priority 0, C-06, and keeps its VIPs until its successor speaks or its
    /// release deadline passes: make before break, decided by the router). The loop
    /// goes on moving packets and timers until every router is finished; a second
    /// signal asks for the release at once (`Input::ShutdownNow`). Then the final
    /// state goes to the state file.
    async fn shutdown(mut self, inbox: &mut Inbox) {
        let mut rx = RxBuffer::default();
        self.input_all(Input::Shutdown).await;
        while !self.instances.iter().all(|i| i.router.is_finished()) {
            if self.state_dirty {
                self.publish();
            }
            let Some(deadline) = self.next_deadline() else {
                // A router that holds something always has a release deadline.
                tracing::error!("a stopping router has no deadline: exiting now");
                break;
            };
            let timer = sleep_until(&inbox.timer, Some(deadline));
            tokio::select! {
                biased;
                Some(_) = inbox.stop.recv() => self.input_all(Input::ShutdownNow).await,
                _ = timer => self.on_timers(&mut rx).await,
                received = recv_any(&self.receivers, &mut rx.buf, &mut rx.next) => {
                    self.on_received(received, &rx.buf).await
                }
            }
        }
        self.scripts.stop_all();
        let last = self.snapshot();
        let Driver { status, .. } = self;
        status.finish(last);
        tracing::info!("VRRP engine stopped");
    }

    /// Feeds `input` to every router now and applies what each decides.
    async fn input_all(&mut self, input: Input) {
        let now = self.now();
        for idx in 0..self.instances.len() {
            let actions = self.instances[idx].router.handle(now, input.clone());
            self.apply(idx, actions).await;
        }
    }

    pub(super) fn snapshot(&self) -> crate::engine::state_file::EngineState {
        let receivers = self
            .receivers
            .iter()
            .map(|((iface, family), r)| ReceiverView {
                interface: iface,
                family: *family,
                counters: r.demux.counters(),
            });
        let clock = status::Clock {
            router: self.now(),
            wall: SystemTime::now(),
        };
        status::snapshot(&self.header, &self.instances, receivers, clock)
    }

    pub(super) fn publish(&mut self) {
        let state = self.snapshot();
        self.publish_metrics(&state);
        self.status.publish(state);
        self.alarms_written = self.alarms();
        self.file_written = Instant::now();
        self.beat = self.file_written;
        self.state_dirty = false;
        self.counters_dirty = false;
        self.notable_dirty = false;
    }

    fn metrics_serving(&self) -> bool {
        self.metrics
            .as_ref()
            .is_some_and(|m| m.server.address().is_some())
    }

    /// Hands `state` to the metrics endpoint, when it serves.
    fn publish_metrics(&self, state: &crate::engine::state_file::EngineState) {
        if let Some(m) = &self.metrics {
            if m.server.address().is_some() {
                let extras = self
                    .instances
                    .iter()
                    .map(|i| InstanceExtra {
                        master_heard: i.master_heard.map(|t| self.instant(t).into_std()),
                        transitions_by_reason: i.transitions_by_reason.clone(),
                    })
                    .collect();
                m.published.set(Snapshot {
                    state: state.clone(),
                    extras,
                });
            }
        }
    }

    /// Reads the metrics file (at start and on SIGHUP) and serves the address it
    /// names: a missing or empty file turns metrics off. A new address is bound before
    /// the old one closes; when it cannot be, the old one keeps serving and the error
    /// goes to the log and to the state file (`metrics_error`).
    pub(super) fn configure_metrics(&mut self) {
        let Some(m) = &mut self.metrics else {
            return;
        };
        let wanted = match read_metrics_file(&m.file) {
            Ok(addr) => addr,
            Err(e) => {
                tracing::error!("{e}; metrics stay as they were");
                self.header.metrics_error = Some(e);
                self.state_dirty = true;
                return;
            }
        };
        let before = m.server.address();
        match m.server.set_address(wanted) {
            Ok(()) => {
                if before != wanted {
                    match wanted {
                        Some(addr) => tracing::info!(address = %addr, "metrics endpoint on {addr}"),
                        None => tracing::info!("metrics endpoint off"),
                    }
                }
                self.header.metrics_error = None;
            }
            Err(e) => {
                match before {
                    Some(old) => tracing::error!("cannot serve metrics: {e}; still serving {old}"),
                    None => tracing::error!("cannot serve metrics: {e}"),
                }
                self.header.metrics_error = Some(e);
            }
        }
        self.state_dirty = true;
    }

    /// The routers' due timers. When a due timer waits for an advert
    /// (`Router::wants_queued_adverts_first`), datagrams already queued are read
    /// first (at most `DRAIN_BEFORE_TIMERS`): an advert that arrived while the loop
    /// was busy or waking up must reach its router before that router's down timer
    /// is judged, or a Backup claims over an advert waiting in its socket. Then every due
    /// router decides, and the adverts each one lists before any other work (a
    /// Master replaced after silence advertises first, `Router::become_master`) go
    /// out before any instance's VIPs are added: with fifty instances promoted at
    /// once, the fiftieth advert does not wait for 49 netlink round trips while a
    /// lower Backup's timer runs out (docs/scenarios.md S21). The same holds for a
    /// timer that comes due while that work is done: between two instances' work
    /// the queue is read and due timers fire again, so no advert waits behind
    /// another instance's VIP additions. Each instance's own actions keep the
    /// router's order.
    async fn on_timers(&mut self, rx: &mut RxBuffer) {
        let mut work = std::collections::VecDeque::new();
        self.fire_due(rx, &mut work).await;
        while let Some((idx, actions)) = work.pop_front() {
            self.apply(idx, actions).await;
            if self.any_due() {
                self.fire_due(rx, &mut work).await;
            }
        }
    }

    /// Whether some router's deadline has passed.
    fn any_due(&self) -> bool {
        let now = self.now();
        self.instances
            .iter()
            .any(|i| i.router.poll_timeout().is_some_and(|t| t <= now))
    }

    /// Reads what is queued when a due timer wants it, then runs every due
    /// router's timer: its leading adverts go out now, the rest joins `work`.
    async fn fire_due(
        &mut self,
        rx: &mut RxBuffer,
        work: &mut std::collections::VecDeque<(usize, Vec<Action>)>,
    ) {
        let mut now = self.now();
        if self
            .instances
            .iter()
            .any(|i| i.router.wants_queued_adverts_first(now))
        {
            self.read_waiting().await;
            let mut read = false;
            for _ in 0..DRAIN_BEFORE_TIMERS {
                let Some(received) = try_recv_any(&self.receivers, &mut rx.buf, &mut rx.next)
                else {
                    break;
                };
                self.on_received(received, &rx.buf).await;
                read = true;
            }
            if read {
                now = self.now();
            }
        }
        for idx in 0..self.instances.len() {
            if self.instances[idx]
                .router
                .poll_timeout()
                .is_some_and(|t| t <= now)
            {
                let actions = self.instances[idx].router.handle_timeout(now);
                let rest = send_leading_adverts(actions, |advert| self.send_advert(idx, advert));
                if !rest.is_empty() {
                    work.push_back((idx, rest));
                }
            }
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
                if let NetEvent::AddressRemoved(a) = &event {
                    self.address_removed(a.addr, a.ifindex).await;
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

    /// Tells every router that `addr` went away from interface `ifindex`; a Master
    /// whose VIP it was puts it back (the router decides, S-20).
    async fn address_removed(&mut self, addr: IpAddr, ifindex: u32) {
        let now = self.now();
        for idx in 0..self.instances.len() {
            // Gone from a device it is not configured on (a reload moved it to
            // another): nothing of ours was lost.
            let inst = &self.instances[idx];
            let elsewhere = inst.vip(addr).is_some_and(|v| {
                self.host
                    .link(vip_device(&inst.config, v))
                    .is_some_and(|l| l.index != ifindex)
            });
            if elsewhere {
                continue;
            }
            let actions = self.instances[idx]
                .router
                .handle(now, Input::AddressRemoved { addr });
            if actions.is_empty() {
                continue;
            }
            let interface = self
                .host
                .link_by_index(ifindex)
                .map_or_else(|| format!("interface {ifindex}"), |l| l.name.clone());
            tracing::warn!(
                instance = %self.instances[idx].config.name,
                vip = %addr,
                interface = %interface,
                "VIP removed by something other than this engine (RTM_DELADDR): putting it back and announcing it"
            );
            self.state_dirty = true;
            self.apply(idx, actions).await;
        }
    }

    /// Every address any instance may put on an interface: never a source.
    pub(super) fn our_addresses(&self) -> BTreeSet<IpAddr> {
        self.config
            .instances
            .iter()
            .flat_map(|i| all_vips(i).map(|v| v.addr))
            .collect()
    }

    /// Re-derives sources, sockets and up/down reports from the host view.
    pub(super) async fn refresh_interfaces(&mut self) {
        let now = self.now();
        let ours = self.our_addresses();
        for idx in 0..self.instances.len() {
            let inst = &self.instances[idx];
            let rolling = self
                .host
                .rolling_source_for(&inst.config, inst.rolling_source, &ours);
            let source = self.host.source_for(&inst.config, inst.source, &ours);
            self.instances[idx].rolling_source = rolling;
            let inst = &self.instances[idx];
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
    pub(super) async fn report_links(&mut self, idx: usize, now: Time) {
        let inst = &mut self.instances[idx];
        let down = self.host.down_for(&inst.config, inst.source.is_some());
        let mut actions = Vec::new();
        for name in down.difference(&inst.reported_down) {
            let link = self.host.link(name);
            let why = match link {
                None => "no such interface",
                Some(l) if !l.admin_up => "administratively down",
                Some(l) if !l.running => "no carrier (not RUNNING)",
                Some(_) => "no source address yet",
            };
            tracing::info!(instance = %inst.config.name, interface = %name, "interface not usable: {why}");
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
    pub(super) fn reconcile_receivers(&mut self) {
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
            match Receiver::open(self.next_receiver, &link.interface(), key.1, delivery) {
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
    pub(super) async fn install(
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
                Ok(mut inst) => {
                    inst.rolling_source = self.host.rolling_source_for(cfg, None, &ours);
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
}

/// The address in the metrics file: one line `IP:PORT`; a missing or empty file is
/// `None` (off).
pub(super) fn read_metrics_file(path: &std::path::Path) -> Result<Option<SocketAddr>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("metrics file {}: {e}", path.display())),
    };
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse().map(Some).map_err(|_| {
        format!(
            "metrics file {}: {text:?} is not an IP:PORT address",
            path.display()
        )
    })
}

/// Hands the adverts a router lists before any other work (its state changes
/// aside) to `send`, and returns the rest in order: `Driver::on_timers` sends the
/// first of every due instance before it applies the rest of any. A Master's plain
/// advert timer leaves nothing to return, and nothing is allocated for it.
fn send_leading_adverts(actions: Vec<Action>, mut send: impl FnMut(&Advert)) -> Vec<Action> {
    let mut rest = Vec::new();
    let mut leading = true;
    for action in actions {
        match action {
            Action::SendAdvert(advert) if leading => send(&advert),
            Action::StateChanged { .. } => rest.push(action),
            other => {
                leading = false;
                rest.push(other);
            }
        }
    }
    rest
}

/// Sleeps until `deadline` on the timerfd (forever without one).
async fn sleep_until(precise: &PreciseTimer, deadline: Option<Instant>) {
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
}
