//! keepalived-charm: a Juju subordinate charm and the VRRP engine it supervises.
//!
//! Two halves with one thin seam between them (see `STYLE`):
//! * [`engine`] knows nothing of Juju: its inputs are a keepalived.conf, signals and the
//!   network; its outputs are packets, addresses and a state file.
//! * [`charm`] knows Juju: it turns config, relations and leadership into the engine's
//!   config, relation data and status.
//!
//! [`atomic_write`] is the one helper both halves share.

pub mod atomic_write;
pub mod charm;
pub mod engine;
