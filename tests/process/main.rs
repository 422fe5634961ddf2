//! The shipped binary as a process, without root: its command line (`vrrp --check`,
//! the engine's refusals), the hooks/ and dispatch layout Juju runs, the systemd unit it
//! renders, and hook dispatch and exit codes with no hook tool at all. One binary, each
//! capability a module.

mod config_check;
mod docs;
mod engine_daemon_cli;
mod hook_process;
mod hooks_layout;
mod systemd_unit;
