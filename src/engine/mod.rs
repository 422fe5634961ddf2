//! The VRRP engine. It knows nothing of Juju: its only inputs are a keepalived.conf,
//! signals and the network; its only outputs are packets, addresses and a state file.
//!
//! Pure decisions in the middle (`proto`, codec, routers), I/O at the edges.

pub mod config;
pub mod daemon;
pub mod net;
pub mod packet;
pub mod proto;
pub mod router;
pub mod script;
pub mod state_file;
