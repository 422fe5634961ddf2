//! The driver's side of paced adverts (docs/architecture.md): at the end of a turn,
//! each steady Master's periodic adverts go to the pacing thread
//! (`Router::hand_over_adverts`, `super::pacer`); at the start of the next turn,
//! before anything else reaches a router, they come back
//! (`Router::take_back_adverts`). An idle Master's loop then wakes for its
//! heartbeat and what else it waits for (health-check results), not for every
//! advert (`make bench-footprint`).

use std::sync::Arc;
use std::time::Duration;

use vrrp_core::packet::encode_advert_into;
use vrrp_core::router::Pacing;

use super::driver::Driver;
use super::pacer::{Frames, Pacer, Sink};

/// How far past the loop's next wake-up the paced adverts go on without it
/// (`Pacer::lease`): a loop that stalls stops advertising this long after it
/// should have woken, and its Backups take over.
pub(super) const LEASE_MARGIN: Duration = Duration::from_secs(1);

impl Driver {
    /// Renews the paced adverts' lease to `LEASE_MARGIN` past `wake`, the instant
    /// the loop is about to sleep until.
    pub(super) fn lease_paced(&self, wake: Option<tokio::time::Instant>) {
        if let (Some(pacer), Some(wake)) = (&self.pacer, wake) {
            pacer.lease(wake.into_std() + LEASE_MARGIN);
        }
    }

    /// Hands every steady Master's periodic adverts to the pacing thread. Run at
    /// the end of a turn, after which nothing reaches a router until the next
    /// turn's [`Driver::begin_turn`].
    pub(super) fn pace(&mut self) {
        if self.pacing_failed {
            return;
        }
        let now = self.now();
        for idx in 0..self.instances.len() {
            let Some(pacing) = self.instances[idx].router.hand_over_adverts(now) else {
                continue;
            };
            let handed = self.frames(idx, &pacing).and_then(|frames| {
                let first = self.instant(pacing.first).into_std();
                let pacer = self.pacer()?;
                pacer.pace(idx, frames, first, pacing.interval);
                Some(())
            });
            if handed.is_none() {
                // Nothing to send them with: the router keeps its adverts.
                self.instances[idx]
                    .router
                    .take_back_adverts(pacing.first, 0);
            }
        }
    }

    /// The pacing thread, started the first time it is needed; `None` when it
    /// cannot be (said once), and the loop then sends every advert itself.
    fn pacer(&mut self) -> Option<&super::pacer::Pacer> {
        if self.pacer.is_none() && !self.pacing_failed {
            match Pacer::start(crate::engine::realtime::this_threads_priority()) {
                Ok(p) => self.pacer = Some(p),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot start the thread for paced adverts: the loop sends every advert itself");
                    self.pacing_failed = true;
                }
            }
        }
        self.pacer.as_ref()
    }

    /// The advert of `pacing`, encoded once for each destination, with the socket
    /// it leaves by; `None` when the instance cannot send (no source address, no
    /// socket), and the router then keeps its adverts and meets the problem itself.
    fn frames(&mut self, idx: usize, pacing: &Pacing) -> Option<Frames> {
        let inst = &self.instances[idx];
        let src = inst.source?;
        let key = (inst.config.interface.clone(), inst.config.family);
        let receiver = self.receivers.get_mut(&key)?;
        let sink: Arc<dyn Sink> = match receiver.send_handle() {
            Ok(handle) => handle,
            Err(e) => {
                // Tried again every turn, so said at most once a minute.
                if let Some(n) = self
                    .log_limit
                    .allow(&format!("send handle {}", key.0), std::time::Instant::now())
                {
                    tracing::warn!(interface = %key.0, error = %e, suppressed = n, "cannot pace adverts on this socket: the loop sends them");
                }
                return None;
            }
        };
        let mut to = Vec::new();
        for dst in inst.destinations_of(&pacing.advert) {
            let mut bytes = Vec::new();
            encode_advert_into(&pacing.advert, src, dst, &inst.encode, &mut bytes).ok()?;
            to.push((dst, bytes));
        }
        (!to.is_empty()).then_some(Frames { sink, src, to })
    }

    /// Takes every paced advert back to its router, with what the thread did,
    /// then reads the waiting queues: what must happen first in every turn, before
    /// any input reaches a router.
    pub(super) async fn begin_turn(&mut self) {
        self.reclaim_paced();
        self.read_waiting().await;
    }

    fn reclaim_paced(&mut self) {
        let Some(pacer) = &self.pacer else {
            return;
        };
        for done in pacer.reclaim() {
            let next = self.time_of(tokio::time::Instant::from_std(done.next));
            let Some(inst) = self.instances.get_mut(done.key) else {
                continue;
            };
            inst.router.take_back_adverts(next, done.sent);
            if done.sent > 0 {
                self.counters_dirty = true;
            }
            if done.errors > 0 {
                inst.send_errors += done.errors;
                self.notable_dirty = true;
                let name = inst.config.name.clone();
                if let (Some(e), Some(n)) = (
                    done.last_error,
                    self.log_limit
                        .allow(&format!("send {name} paced"), std::time::Instant::now()),
                ) {
                    tracing::warn!(instance = %name, error = %e, failed = done.errors, suppressed = n, "cannot send the advert");
                }
            }
        }
    }
}
