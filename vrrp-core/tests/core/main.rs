//! The protocol core's integration tests, one binary (each capability a module):
//! golden bytes against keepalived 2.2.7 captures, codec and config properties, and
//! multi-router scenarios on a simulated segment with exact times.

mod codec_properties;
mod config_gen;
mod config_properties;
mod golden_vectors;
mod router_scenarios;
mod router_sim;
