//! The state file: a snapshot of every instance, built in the event loop (cheap, pure)
//! and written atomically off the loop (a file write must never delay an advert).
//!
//! When: at once on every state change, and otherwise every [`CONTENT_REFRESH`] (the
//! counters in the file). Every [`HEARTBEAT`] in between the file's modification
//! time is bumped (a reader's sign of life, `state_file::heartbeat_ms`) and moved
//! counters reach the metrics endpoint. Each rides on a wake-up the loop has anyway
//! when one comes within [`EARLY`] of its time. The writer is one thread of its own
//! that keeps only the newest snapshot, so a slow disk coalesces writes instead of
//! queueing them; the last one always lands.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::engine::state_file::{
    self, Counters, EngineState, ForeignRouterState, InstanceState, ReceiverState,
};
use vrrp_core::packet::{ChecksumForm, DropCounter, DropCounters, RxCounters};
use vrrp_core::proto::Family;
use vrrp_core::router::{ScriptStatus, Time};

use super::instance::Instance;

/// The heartbeat: how often the state file's modification time is bumped (the charm
/// calls a file older than 30 s stale) and moved counters reach the metrics
/// endpoint (Prometheus scrapes every 10 s or more rarely; rates are taken over
/// minutes). A bump is a few system calls on the loop; a snapshot for the metrics
/// is built only when counters moved and the endpoint serves.
pub const HEARTBEAT: Duration = Duration::from_secs(10);

/// How often the state file is rewritten when only counters moved. A rewrite
/// (snapshot, serialise, write, rename, and a wake-up of the writer thread) costs an
/// idle engine far more than a heartbeat: six a minute were about half of an idle
/// BACKUP's CPU time (`make bench-footprint`). State changes are written at once
/// whatever this says.
pub const CONTENT_REFRESH: Duration = Duration::from_secs(60);

/// How much earlier than due a heartbeat or a rewrite may be done, in a wake-up after
/// which the loop would sleep past the time it is due. Wider than the longest a
/// settled engine sleeps at the charm's 1 s adverts: a Backup wakes once per down
/// interval (about 3 s: its Master's unchanged adverts wait for it,
/// docs/architecture.md), so no heartbeat needs a wake-up of its own, and each
/// wake-up costs an idle engine more than the work done in it. A Master wakes every
/// second and so beats within the last second before the heartbeat is due.
pub const EARLY: Duration = Duration::from_millis(4000);

/// Daemon-wide facts that go into every snapshot.
#[derive(Debug, Clone, Default)]
pub struct Header {
    pub config: String,
    pub reloads: u64,
    pub last_reload_error: Option<String>,
    /// See `EngineState::metrics_error`.
    pub metrics_error: Option<String>,
}

/// A receive socket's identity and counters.
pub struct ReceiverView<'a> {
    pub interface: &'a str,
    pub family: Family,
    pub counters: &'a RxCounters,
}

pub fn family_name(family: Family) -> &'static str {
    match family {
        Family::V4 => "ipv4",
        Family::V6 => "ipv6",
    }
}

fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// The non-zero drop counters by reason name, from the counters' own table (a
/// snapshot is taken at every heartbeat: no round trip through JSON values).
pub fn drops_by_reason(drops: &DropCounters) -> BTreeMap<String, u64> {
    DropCounter::ALL
        .iter()
        .map(|&c| (c, drops.get(c)))
        .filter(|&(_, n)| n > 0)
        .map(|(c, n)| (c.name().to_string(), n))
        .collect()
}

pub fn checksum_form_name(form: ChecksumForm) -> &'static str {
    match form {
        ChecksumForm::V2Message => "v2_message",
        ChecksumForm::PseudoHeader => "pseudo_header",
        ChecksumForm::PseudoHeaderMulticastGroup => "pseudo_header_multicast_group",
        ChecksumForm::NoPseudoHeader => "no_pseudo_header",
    }
}

/// The same instant on the routers' clock and on the wall clock.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    pub router: Time,
    pub wall: SystemTime,
}

impl Clock {
    /// The wall-clock time of a router instant in the past.
    fn wall_of(&self, t: Time) -> SystemTime {
        self.wall
            .checked_sub(self.router.saturating_since(t))
            .unwrap_or(self.wall)
    }
}

/// One instance as the state file shows it.
pub fn instance_state(instance: &Instance, clock: Clock) -> InstanceState {
    let router = &instance.router;
    let c = router.counters();
    let (when, reason) = instance
        .last_transition
        .as_ref()
        .map_or((0, String::new()), |(t, r)| (unix_ms(*t), r.clone()));
    InstanceState {
        name: instance.config.name.clone(),
        family: family_name(instance.config.family).to_string(),
        vrid: instance.config.vrid.get(),
        interface: instance.config.interface.clone(),
        state: router.state().to_string(),
        base_priority: instance.config.priority.get(),
        effective_priority: router.effective_priority().get(),
        master: router.master_address().map(|a| a.to_string()),
        last_transition_unix_ms: when,
        last_transition_reason: reason,
        vips: instance
            .config
            .vips
            .iter()
            .map(|v| format!("{}/{}", v.addr, v.prefix_len))
            .collect(),
        counters: Counters {
            adverts_sent: c.adverts_sent,
            adverts_received: c.adverts_received,
            became_master: c.became_master,
            released: c.priority_zero_sent,
            priority_zero_received: c.priority_zero_received,
            drops: drops_by_reason(&instance.drops),
            checksum_forms: instance
                .checksum_forms
                .iter()
                .map(|(peer, form): (&IpAddr, &ChecksumForm)| {
                    (peer.to_string(), checksum_form_name(*form).to_string())
                })
                .collect(),
            transitions: c.transitions,
            send_errors: instance.send_errors,
            vips_restored: c.vips_restored,
            link_flaps_absorbed: c.link_flaps_absorbed,
            claims_withdrawn: c.claims_withdrawn,
            dual_master_seen: c.dual_master_seen,
            foreign_adverts: c.foreign_adverts,
        },
        dual_master: router.dual_master(clock.router).map(|a| a.to_string()),
        foreign_routers: router
            .foreign_routers(clock.router)
            .iter()
            .map(|f| ForeignRouterState {
                address: f.address.to_string(),
                reason: f.reason.to_string(),
                last_heard_unix_ms: unix_ms(clock.wall_of(f.last_heard)),
            })
            .collect(),
        fault: router.fault().map(|f| f.to_string()),
        scripts: instance
            .router
            .config()
            .track_scripts
            .iter()
            .map(|t| {
                let status = match router.script_status(&t.name) {
                    Some(ScriptStatus::Ok) => "OK",
                    Some(ScriptStatus::Ko) => "KO",
                    Some(ScriptStatus::Unknown) | None => "UNKNOWN",
                };
                (t.name.clone(), status.to_string())
            })
            .collect(),
    }
}

/// The whole file.
pub fn snapshot<'a>(
    header: &Header,
    instances: &[Instance],
    receivers: impl Iterator<Item = ReceiverView<'a>>,
    clock: Clock,
) -> EngineState {
    EngineState {
        schema: state_file::SCHEMA,
        pid: std::process::id(),
        config: header.config.clone(),
        updated_unix_ms: unix_ms(clock.wall),
        instances: instances.iter().map(|i| instance_state(i, clock)).collect(),
        receivers: receivers
            .map(|r| ReceiverState {
                interface: r.interface.to_string(),
                family: family_name(r.family).to_string(),
                accepted: r.counters.accepted,
                drops: drops_by_reason(&r.counters.drops),
            })
            .collect(),
        reloads: header.reloads,
        last_reload_error: header.last_reload_error.clone(),
        metrics_error: header.metrics_error.clone(),
    }
}

/// Writes snapshots off the event loop, on a thread of its own: handing it a snapshot
/// never waits for the disk, and its finished writes wake nobody (a tokio blocking
/// task would wake the loop to report each one, and its thread would die and be
/// re-spawned between heartbeats).
pub struct StatusWriter {
    path: Option<PathBuf>,
    slot: Arc<Slot>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// The newest snapshot not yet written, and whether the writer should stop.
#[derive(Default)]
struct Slot {
    pending: Mutex<(Option<EngineState>, bool)>,
    ready: Condvar,
}

impl StatusWriter {
    /// A writer for `path`; without a path every call is a no-op.
    pub fn start(path: Option<PathBuf>) -> StatusWriter {
        let slot = Arc::new(Slot::default());
        let thread = path.clone().and_then(|path| {
            let slot = Arc::clone(&slot);
            std::thread::Builder::new()
                .name("state-file".into())
                .spawn(move || write_loop(&path, &slot))
                .map_err(|e| tracing::warn!(error = %e, "cannot start the state file writer"))
                .ok()
        });
        StatusWriter { path, slot, thread }
    }

    /// The heartbeat between rewrites ([`state_file::touch`]), on the caller's
    /// thread: a few system calls, no wake-up of the writer. A file not written yet
    /// (the writer's first write still under way) is no error.
    pub fn touch(&self) {
        if let (Some(path), Some(_)) = (&self.path, &self.thread) {
            if let Err(e) = state_file::touch(path) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    tracing::warn!(path = %path.display(), error = %e, "cannot bump the state file's heartbeat");
                }
            }
        }
    }

    pub fn publish(&self, state: EngineState) {
        if self.thread.is_some() {
            self.slot
                .pending
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .0 = Some(state);
            // After the lock is released, so the writer does not wake into it.
            self.slot.ready.notify_one();
        }
    }

    /// Stops the background writer (after the write it may be doing) and writes
    /// `state` synchronously: the last word before the process exits.
    pub fn finish(mut self, state: EngineState) {
        if let Some(thread) = self.thread.take() {
            *self.slot.pending.lock().unwrap_or_else(|e| e.into_inner()) = (None, true);
            self.slot.ready.notify_one();
            let _ = thread.join();
        }
        if let Some(path) = &self.path {
            if let Err(e) = state_file::write(path, &state) {
                tracing::warn!(path = %path.display(), error = %e, "cannot write the state file");
            }
        }
    }
}

fn write_loop(path: &std::path::Path, slot: &Slot) {
    loop {
        let state = {
            let mut pending = slot.pending.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                if pending.1 {
                    return;
                }
                if let Some(state) = pending.0.take() {
                    break state;
                }
                pending = slot.ready.wait(pending).unwrap_or_else(|e| e.into_inner());
            }
        };
        if let Err(e) = state_file::write(path, &state) {
            tracing::warn!(path = %path.display(), error = %e, "cannot write the state file");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vrrp_core::config::parse;
    use vrrp_core::packet::DropReason;
    use vrrp_core::router::{Input, Time};

    fn instance() -> Instance {
        let text = r#"
vrrp_script chk {
    script "/bin/true"
    weight -100
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 23
    priority 254
    virtual_ipaddress {
        10.0.0.100/24
    }
    track_script {
        chk
    }
}
"#;
        let config = parse("k.conf", text.as_bytes()).unwrap().config;
        Instance::new(
            &config,
            &config.instances[0],
            Some("10.0.0.11".parse().unwrap()),
        )
        .unwrap()
    }

    #[test]
    fn an_instance_shows_the_fields_the_charm_and_operators_read() {
        let mut inst = instance();
        inst.router.handle(Time::ZERO, Input::Startup);
        inst.router.handle(
            Time::ZERO,
            Input::ScriptResult {
                name: "chk".into(),
                ok: false,
            },
        );
        inst.drops.record(&DropReason::Ttl(254));
        inst.drops.record(&DropReason::Ttl(254));
        inst.checksum_forms
            .insert("10.0.0.12".parse().unwrap(), ChecksumForm::V2Message);
        let clock = Clock {
            router: Time::ZERO,
            wall: UNIX_EPOCH,
        };
        let s = instance_state(&inst, clock);
        assert_eq!(s.name, "VI_1");
        assert_eq!(s.family, "ipv4");
        assert_eq!((s.vrid, s.interface.as_str()), (23, "eth0"));
        assert_eq!(s.state, "BACKUP");
        assert_eq!((s.base_priority, s.effective_priority), (254, 154));
        assert_eq!(s.vips, vec!["10.0.0.100/24".to_string()]);
        assert_eq!(s.counters.drops, BTreeMap::from([("ttl".to_string(), 2)]));
        assert_eq!(
            s.counters.checksum_forms,
            BTreeMap::from([("10.0.0.12".to_string(), "v2_message".to_string())])
        );
        assert_eq!(
            s.scripts,
            BTreeMap::from([("chk".to_string(), "KO".to_string())])
        );
        assert_eq!(s.fault, None);
        assert_eq!(s.master, None);
    }

    #[test]
    fn foreign_routers_show_with_the_wall_clock_time_they_were_last_heard() {
        let mut inst = instance();
        inst.router.handle(Time::ZERO, Input::Startup);
        inst.router.handle(
            Time::from_nanos(1_000_000_000),
            Input::ForeignAdvert {
                from: "10.0.0.9".parse().unwrap(),
                reason: vrrp_core::router::ForeignReason::AddressList,
            },
        );
        let clock = Clock {
            router: Time::from_nanos(3_000_000_000),
            wall: UNIX_EPOCH + Duration::from_secs(10),
        };
        let s = instance_state(&inst, clock);
        assert_eq!(
            s.foreign_routers,
            vec![ForeignRouterState {
                address: "10.0.0.9".into(),
                reason: "another virtual address list".into(),
                last_heard_unix_ms: 8_000,
            }]
        );
        assert_eq!(s.counters.foreign_adverts, 1);
        assert_eq!(s.dual_master, None);
        // Forgotten once silent for the report window (10 s here).
        let later = Clock {
            router: Time::from_nanos(11_000_000_001),
            wall: UNIX_EPOCH + Duration::from_secs(18),
        };
        assert_eq!(instance_state(&inst, later).foreign_routers, vec![]);
    }

    #[test]
    fn receivers_list_only_nonzero_drops() {
        let mut rx = RxCounters {
            accepted: 3,
            ..RxCounters::default()
        };
        rx.drops.record(&DropReason::UnknownVrid(9));
        let header = Header {
            config: "/etc/k.conf".into(),
            reloads: 2,
            last_reload_error: Some("bad".into()),
            metrics_error: None,
        };
        let state = snapshot(
            &header,
            &[instance()],
            [ReceiverView {
                interface: "eth0",
                family: Family::V4,
                counters: &rx,
            }]
            .into_iter(),
            Clock {
                router: Time::ZERO,
                wall: UNIX_EPOCH + Duration::from_millis(1500),
            },
        );
        assert_eq!(state.updated_unix_ms, 1500);
        assert_eq!(state.reloads, 2);
        assert_eq!(state.instances[0].state, "INIT");
        assert_eq!(
            state.receivers,
            vec![ReceiverState {
                interface: "eth0".into(),
                family: "ipv4".into(),
                accepted: 3,
                drops: BTreeMap::from([("unknown_vrid".to_string(), 1)]),
            }]
        );
    }
}
