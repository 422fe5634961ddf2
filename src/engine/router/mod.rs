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
//! * `deadlines`, `time`, `counters`, `config`, `action`: plain data.

mod action;
mod config;
mod counters;
mod deadlines;
mod election;
mod machine;
mod reconfigure;
mod time;
mod tracking;

#[cfg(test)]
mod conformance;

pub use action::{Action, FaultCause, Reason, State};
pub use config::{
    ConfigError, GarpConfig, InitialState, RouterConfig, TrackInterface, TrackScript,
};
pub use counters::Counters;
pub use machine::{Input, Router};
pub use time::Time;
pub use tracking::ScriptStatus;
