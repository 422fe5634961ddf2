//! The VRRP engine daemon. It knows nothing of Juju: its only inputs are a
//! keepalived.conf, signals and the network; its only outputs are packets, addresses
//! and a state file.
//!
//! The protocol itself (wire types, codec, receive ladder, router state machines,
//! keepalived.conf parser) is the pure `vrrp_core` package; this module is its I/O
//! edge: sockets and netlink (`net`), the tokio driver (`daemon`), health-check
//! scripts, the state file and the host checks of `vrrp --check`.

pub mod daemon;
pub mod host;
pub mod metrics;
pub mod net;
pub mod realtime;
pub mod script;
pub mod state_file;
