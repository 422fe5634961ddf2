//! The VRRP router: one pure, clock-injected state machine per (VRID, family).
//!
//! Shaped like quinn-proto: the driver feeds [`Input`]s with the time they
//! happened, asks [`Router::poll_timeout`] when to wake up, calls
//! [`Router::handle_timeout`] then, and executes the returned [`Action`]s (send an
//! advert, add or remove VIPs, send gratuitous ARP / NA). No clock, socket or
//! `async` in here, so every rule is testable to the nanosecond.
//!
//! * `machine`: the router, its states and transitions (RFC 9568 §6.4);
//! * `election`: what a received advert does (Backup / Master rules);
//! * `tracking`: scripts and interfaces → weights and FAULT (keepalived);
//! * `reconfigure`: hitless live changes (SIGHUP);
//! * `pacing`: a steady Master's periodic adverts handed to the driver;
//! * `deadlines`, `time`, `counters`, `config`, `action`: plain data.
//!
//! A driver, reduced to its bones:
//!
//! ```
//! use vrrp_core::proto::Vrid;
//! use vrrp_core::router::{Action, Input, Router, RouterConfig, State, Time};
//!
//! let vip = "10.0.0.100".parse()?;
//! let config = RouterConfig::new("VI_1", "eth0", Vrid::new(51)?, "10.0.0.2".parse()?, vec![vip]);
//! let mut router = Router::new(config)?;
//! router.handle(Time::ZERO, Input::Startup);
//! // Nobody advertises: sleep until the deadline (3 s + 156/256 s at priority 100)…
//! let now = router.poll_timeout().expect("a Backup always has a deadline");
//! assert_eq!(now, Time::from_nanos(3_609_375_000));
//! // …and carry out what the router decided, in wire order.
//! for action in router.handle_timeout(now) {
//!     match action {
//!         Action::SendAdvert(_advert) => { /* encode, send to 224.0.0.18, TTL 255 */ }
//!         Action::AddVips(vips) => assert_eq!(vips, vec![vip]),
//!         Action::RemoveVips(_vips) => { /* netlink RTM_DELADDR */ }
//!         Action::SendGratuitous { vips: _, repeat } => assert_eq!(repeat, 5),
//!         Action::StateChanged { to, .. } => assert_eq!(to, State::Master),
//!     }
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

mod action;
mod config;
mod counters;
mod deadlines;
mod election;
mod machine;
mod pacing;
mod reconfigure;
mod time;
mod tracking;

#[cfg(test)]
mod tests;

pub use action::{Action, FaultCause, ForeignReason, ForeignRouter, Reason, State};
pub use config::{
    ConfigError, GarpConfig, InitialState, RouterConfig, TrackInterface, TrackScript,
};
pub use counters::Counters;
pub use deadlines::{CLAIM_WAIT, CONTENTION_REANNOUNCE, RELEASE_MARGIN, TAKE_CONFIRMS};
pub use machine::{Input, Router};
pub use pacing::Pacing;
pub use time::Time;
pub use tracking::ScriptStatus;
