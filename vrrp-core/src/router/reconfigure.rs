//! Live reconfiguration (what makes SIGHUP hitless, docs/requirements.md K-07, docs/scenarios.md S14):
//! a priority or VIP change is applied without a state transition. A Master stays
//! Master, announces added VIPs and drops removed ones; its next advert carries
//! the new priority. Only a change of identity (VRID, family; a VRID change with
//! `rolling_from` naming the old one is not, K-17) stops the
//! old instance (a Master resigns with priority 0) and starts the new one, like
//! keepalived does for instances it cannot match across a reload.

use crate::proto::Version;

use super::action::{Action, Reason, State};
use super::config::{ConfigError, RouterConfig};
use super::time::Time;
use super::Router;

impl Router {
    /// Applies a new configuration at `now`. An invalid one is refused and the
    /// router keeps running on the old one.
    pub fn reconfigure(
        &mut self,
        now: Time,
        config: RouterConfig,
    ) -> Result<Vec<Action>, ConfigError> {
        config.validate()?;
        self.reclaim_forgotten_adverts(now);
        let mut out = Vec::new();
        // The version is timing, not identity (K-15): a VRRPv2 → v3 change (the
        // charm's automatic timing profile) keeps the state, as an interval change
        // does; the next advert goes out in the new version.
        // A VRID change is the same router when either side names the other's VRID
        // as its `rolling_from` identity (K-17): the cluster is moving from one VRID
        // to the other unit by unit, and this router keeps its state throughout.
        let vrids = |c: &RouterConfig| [Some(c.vrid), c.rolling_from.as_ref().map(|r| r.vrid)];
        let same_vrid = vrids(&config)
            .iter()
            .flatten()
            .any(|v| vrids(&self.config).contains(&Some(*v)));
        let same_identity = same_vrid && config.family == self.config.family;
        if !same_identity {
            let was_running = self.state != State::Initialize;
            self.stop(Reason::IdentityChanged, &mut out);
            self.config = config;
            self.tracking.reconfigure(&self.config);
            self.retrack();
            self.master = None;
            self.master_adver_int = self.config.advert_interval;
            if was_running {
                self.start(now, Reason::Startup, &mut out);
            }
            return Ok(out);
        }

        let old = std::mem::replace(&mut self.config, config);
        self.tracking.reconfigure(&self.config);
        if self.config.version == Version::V2 || self.master.is_none() {
            // v2 always listens at its own interval; a v3 router that has not
            // heard a Master yet too (RFC 9568 §6.4.1).
            self.master_adver_int = self.config.advert_interval;
        }
        if self.state == State::Master {
            let removed: Vec<_> = old
                .vips
                .iter()
                .filter(|v| !self.config.vips.contains(v))
                .copied()
                .collect();
            let added: Vec<_> = self
                .config
                .vips
                .iter()
                .filter(|v| !old.vips.contains(v))
                .copied()
                .collect();
            if !removed.is_empty() {
                out.push(Action::RemoveVips(removed));
            }
            if !added.is_empty() {
                out.push(Action::AddVips(added.clone()));
                self.send_gratuitous(added, self.config.garp.repeat, &mut out);
            }
            // A shorter interval takes effect now, not after the old, longer one.
            let next = now + self.config.advert_interval.as_duration();
            if self.deadlines.advert.map_or(true, |at| next < at) {
                self.deadlines.advert = Some(next);
            }
            if self.config.garp.refresh != old.garp.refresh {
                let refresh = self.config.garp.refresh;
                self.deadlines.garp_refresh = (!refresh.is_zero()).then(|| now + refresh);
            }
        }
        // Tracking may have changed: this re-derives the effective priority and
        // enters or leaves FAULT when needed.
        self.after_tracking(now, &mut out);
        Ok(out)
    }
}
