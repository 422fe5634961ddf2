//! The charm's journeys: the real `keepalived-charm` binary run hook by hook through the
//! Juju emulator, each unit in its own network namespace, one binary (each journey a
//! module). Needs root; never skipped.

mod e2e;

mod cos;
mod emulator_scenarios;
mod failures;
mod lifecycle;
mod live_services;
mod maintenance;
mod priorities;
mod relations;
mod rolling;
mod unicast;
mod upgrade;
mod upgrade_lab;
