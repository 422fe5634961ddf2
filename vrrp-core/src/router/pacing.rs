//! Paced adverts (docs/architecture.md): a steady Master's periodic adverts handed
//! to the driver, which sends them on their own schedule without a turn of its
//! event loop per advert, and hands them back before anything else reaches the
//! router.
//!
//! Between the hand-over and the take-back the router does not run: it has no
//! deadline to give (`poll_timeout` shows none for the adverts), and the driver
//! feeds it nothing. What it would have done meanwhile is exactly what the driver
//! does: send the same advert at `first`, `first + interval`, ..., each period's
//! deadline on the cadence of `handle_timeout`'s advert timer. So handing the
//! adverts over and taking them back leaves the router as sending them itself
//! would have: the same advert timer, the same counters.

use std::time::Duration;

use super::machine::Router;
use super::time::Time;
use super::State;
use crate::proto::Advert;

/// A steady Master's periodic adverts, handed to the driver
/// ([`Router::hand_over_adverts`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pacing {
    /// What every one of them says: the advert `handle_timeout` would send.
    pub advert: Advert,
    /// When the first one is due; then one every `interval`.
    pub first: Time,
    /// The advert interval.
    pub interval: Duration,
}

impl Router {
    /// Hands this Master's periodic adverts to the driver, when nothing but them
    /// is due until the next input: the router is Master, its advert timer is its
    /// only armed timer and lies after `now`, and each period sends one advert (no
    /// rolling identity, which sends two). The advert timer is disarmed until
    /// [`Router::take_back_adverts`], which the driver must call before it feeds
    /// this router anything else (an input, a timeout, a reconfiguration).
    pub fn hand_over_adverts(&mut self, now: Time) -> Option<Pacing> {
        let first = self.deadlines.advert?;
        let only_adverts = super::deadlines::Deadlines {
            advert: None,
            ..self.deadlines
        }
        .next()
        .is_none();
        if self.paced
            || self.state != State::Master
            || !only_adverts
            || first <= now
            || self.config.rolling_from.is_some()
        {
            return None;
        }
        self.deadlines.advert = None;
        self.paced = true;
        Some(Pacing {
            advert: self.advert(self.effective),
            first,
            interval: self.config.advert_interval.as_duration(),
        })
    }

    /// Takes the adverts handed over back: the driver sent `sent` of them, and
    /// `next` is the deadline of the first it did not send. The advert timer is
    /// armed there again (it may be due already) and the sent ones are counted as
    /// `handle_timeout` counts its own. Nothing happens when nothing was handed
    /// over.
    pub fn take_back_adverts(&mut self, next: Time, sent: u64) {
        if !self.paced {
            return;
        }
        self.paced = false;
        self.deadlines.advert = Some(next);
        self.counters.adverts_sent += sent;
    }

    /// Whether the periodic adverts are with the driver.
    pub fn adverts_handed_over(&self) -> bool {
        self.paced
    }

    /// A driver that feeds this router while its adverts are handed over breaks
    /// the contract above (a debug build panics). Rather than go silent with no
    /// advert timer, the router takes them back with its next advert one interval
    /// after `now`, counting none.
    pub(super) fn reclaim_forgotten_adverts(&mut self, now: Time) {
        if !self.paced {
            return;
        }
        debug_assert!(false, "input fed to a router whose adverts are handed over");
        let interval = self.config.advert_interval.as_duration();
        self.take_back_adverts(now + interval, 0);
    }
}
