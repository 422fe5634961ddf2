//! vrrp-core: the VRRP protocol without I/O.
//!
//! Everything a VRRP router decides, as plain data in and plain data out, so every rule
//! is testable to the nanosecond without root, sockets or a runtime. The manifest keeps
//! it that way: this package depends on no async runtime, socket, netlink or libc
//! crate.
//!
//! * [`proto`] — domain newtypes (`Vrid`, `Priority`, `AdvertInterval`) and the RFC
//!   timer arithmetic (RFC 3768 §6.1, RFC 9568 §6.1);
//! * [`packet`] — the codec (VRRPv2, v3 over IPv4 and IPv6), the receive ladder of
//!   RFC 9568 §7.1 with one drop reason per rule, gratuitous ARP and unsolicited NA;
//! * [`router`] — one clock-injected state machine per (VRID, family), polled for its
//!   next deadline and its actions;
//! * [`config`] — keepalived.conf: lexer, parser, typed model with keepalived 2.2's
//!   defaults, validation and rendering.
//!
//! The engine daemon (the `keepalived-charm` package) drives these with tokio, raw
//! sockets and netlink; see `docs/architecture.md`.

#![warn(missing_docs)]

pub mod config;
pub mod packet;
pub mod proto;
pub mod router;
