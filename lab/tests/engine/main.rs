//! The engine in network namespaces, one binary (each capability a module): sockets,
//! netlink and ARP/NA on real links, the engine's VRRP behaviour against its invariants,
//! interop with keepalived 2.2.7, and keepalived's own acceptance of our configs.
//! Needs root and keepalived; never skipped.

#[path = "../../../vrrp-core/tests/core/config_gen.rs"]
mod config_gen;

mod config_interop;
mod engine_lab;
mod golden_keepalived;
mod interop;
mod metrics;
mod net_lab;
