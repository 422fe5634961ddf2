//! The VRRP codec and receive ladder: pure functions from bytes to domain values and
//! back, no I/O.
//!
//! * [`encode_advert`] — [`Advert`](crate::proto::Advert) → VRRP PDU (v2,
//!   v3/IPv4 with or without pseudo-header, v3/IPv6), byte-identical to keepalived
//!   2.2.7 (pinned by `tests/golden_vectors.rs`); [`build_ipv4_header`] for senders
//!   that build their own IPv4 header.
//! * [`decode_ipv4_packet`] / [`decode_vrrp`] — bytes → [`Received`]; never panics,
//!   allocation bounded by the packet length.
//! * [`Demux`] — per-socket demultiplexing by (family, VRID) and the receive ladder
//!   of RFC 3768/9568 §7.1 with one [`DropReason`] and one counter per rule; the
//!   counters' names, fields and total come from one table ([`DropCounter`]).
//! * [`gratuitous_arp`] / [`unsolicited_na`] — the link-layer announcements of a new
//!   MASTER, byte-identical to keepalived's.
//!
//! No two modules import each other: each uses only those before it in `wire`,
//! `checksum`, `addresses`, `ipv4`, `decode`, `reason`, `counters`, `ladder` (the
//! frame builders `encode`, `garp` and `ndisc` use only `wire`, `checksum` and
//! `addresses`).

mod addresses;
mod checksum;
mod counters;
mod decode;
mod encode;
mod garp;
mod ipv4;
mod ladder;
mod ndisc;
mod reason;
pub mod wire;

#[cfg(test)]
pub(crate) mod test_support;

pub use addresses::{is_ipv6_link_local, Ipv6FirstAddress};
pub use checksum::{internet_checksum, vrrp_checksum, vrrp_checksum_verifies, ChecksumScope};
pub use counters::{NoticeCounters, Notices, RxCounters};
pub use decode::{decode_ipv4_packet, decode_vrrp, ChecksumForm, DecodeError, IpMeta, Received};
pub use encode::{
    encode_advert, encode_advert_into, encoded_len, EncodeError, EncodeOptions, V3Ipv4Checksum,
};
pub use garp::{gratuitous_arp, GARP_FRAME_LEN};
pub use ipv4::{build_ipv4_header, parse_ipv4, Ipv4Header, Ipv4HeaderError, IPV4_HEADER_LEN};
pub use ladder::{check, Accepted, AddressMismatchPolicy, Demux, Dropped, RxExpect, Transport};
pub use ndisc::{unsolicited_na, NA_FRAME_LEN};
pub use reason::{DropCounter, DropCounters, DropReason};
