//! What a router decides, as values: the driver turns them into packets, netlink
//! calls and state-file lines. Nothing here performs I/O.

use std::fmt;
use std::net::IpAddr;

use crate::proto::{Advert, Priority};

/// The state of one virtual router: the RFC's three plus keepalived's FAULT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Not running: before `Startup` and after `Shutdown` (RFC 9568 §6.4.1).
    Initialize,
    /// Listening to a Master; holds no VIP, answers no ARP (RFC 9568 §6.4.2).
    Backup,
    /// Holds the VIPs and advertises every `advert_int` (RFC "Active", §6.4.3).
    Master,
    /// keepalived's FAULT: the interface is down or an unweighted tracker failed.
    /// Holds no VIP, sends nothing and ignores adverts until the fault clears.
    Fault,
}

impl fmt::Display for State {
    /// keepalived's words, as operators know them from its logs and notify scripts.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            State::Initialize => "INIT",
            State::Backup => "BACKUP",
            State::Master => "MASTER",
            State::Fault => "FAULT",
        })
    }
}

/// Why the router entered FAULT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultCause {
    /// The instance's own interface, or an unweighted `track_interface`, is down.
    InterfaceDown(String),
    /// An unweighted (`weight 0`) `track_script` is KO.
    ScriptFailed(String),
}

impl fmt::Display for FaultCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FaultCause::InterfaceDown(name) => write!(f, "interface {name} down"),
            FaultCause::ScriptFailed(name) => write!(f, "script {name} failed"),
        }
    }
}

/// Why an advert for our VRID shows a router outside our cluster (S-9). Such adverts
/// are dropped by the receive ladder and never take part in the election; the
/// router only remembers who sent them, for the operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ForeignReason {
    /// Another list of virtual addresses (RFC 3768 §7.1).
    AddressList,
    /// Another authentication type or password (RFC 3768 §5.3.6).
    Authentication,
    /// Unicast mode, and the source is not one of our peers.
    NotAPeer,
}

impl ForeignReason {
    /// Whether a receive-ladder drop means "a router outside our cluster uses our
    /// VRID", and why (S-9): another address list, another authentication, or a
    /// unicast source that is not our peer. Every other drop is a broken or forged
    /// packet, not a router.
    pub fn of_drop(reason: &crate::packet::DropReason) -> Option<ForeignReason> {
        use crate::packet::DropReason;
        match reason {
            DropReason::AddressListMismatch { .. } => Some(ForeignReason::AddressList),
            DropReason::AuthType { .. } | DropReason::AuthPass => {
                Some(ForeignReason::Authentication)
            }
            DropReason::UnicastPeer(_) => Some(ForeignReason::NotAPeer),
            _ => None,
        }
    }
}

impl fmt::Display for ForeignReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ForeignReason::AddressList => "another virtual address list",
            ForeignReason::Authentication => "another authentication",
            ForeignReason::NotAPeer => "not a configured unicast peer",
        })
    }
}

/// A router outside our cluster that uses our VRID, as last heard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForeignRouter {
    /// Its IP source address.
    pub address: IpAddr,
    /// Why it is not one of ours.
    pub reason: ForeignReason,
    /// When its last advert arrived.
    pub last_heard: crate::router::Time,
}

/// Why a state change happened; goes to the log and the state file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// Initialize → Backup (or FAULT when a fault is already present).
    Startup,
    /// Initialize → Master at once: this router owns the addresses (priority 255).
    AddressOwner,
    /// Backup → Master: Master_Down_Timer expired (after a full down interval of
    /// silence, or Skew_Time after a priority-0 advert).
    MasterDown,
    /// Backup → Master after the shortened `state MASTER` startup wait (docs/requirements.md C-28).
    InitialStateMaster,
    /// Master → Backup: an advert with a higher priority than ours.
    HigherPriority {
        /// The new Master's primary address.
        from: IpAddr,
        /// The priority it advertised.
        priority: Priority,
    },
    /// Master → Backup: same priority, and the sender's primary address is higher
    /// (unsigned, network byte order, RFC 9568 §6.4.3).
    EqualPriorityHigherAddress {
        /// The new Master's primary address.
        from: IpAddr,
    },
    /// Any → FAULT.
    Fault(FaultCause),
    /// FAULT → Backup (or Master for an owner).
    FaultCleared,
    /// Backup/Master/FAULT → Initialize on `Input::Shutdown`.
    Shutdown,
    /// Initialize after a reconfiguration that changed the router's identity
    /// (VRID, family or version): the old instance is stopped, the new one started.
    IdentityChanged,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Startup => f.write_str("startup"),
            Reason::AddressOwner => f.write_str("address owner (priority 255)"),
            Reason::MasterDown => f.write_str("master down timer expired"),
            Reason::InitialStateMaster => f.write_str("state MASTER startup wait elapsed"),
            Reason::HigherPriority { from, priority } => {
                write!(f, "higher priority {priority} advert from {from}")
            }
            Reason::EqualPriorityHigherAddress { from } => {
                write!(f, "equal priority advert from higher address {from}")
            }
            Reason::Fault(cause) => write!(f, "fault: {cause}"),
            Reason::FaultCleared => f.write_str("fault cleared"),
            Reason::Shutdown => f.write_str("shutdown"),
            Reason::IdentityChanged => f.write_str("VRID, family or version changed"),
        }
    }
}

/// One thing the driver must do, in the order given: the order is the wire order,
/// the driver never reorders.
///
/// Becoming Master yields `StateChanged`, `AddVips`, `SendGratuitous`, `SendAdvert`:
/// the addresses before the gratuitous frames that announce them (docs/requirements.md C-30),
/// and both before the first advert, so that a contender's announcement is on the
/// wire before the advert that makes the winner re-announce (S-10) and clients
/// follow a new Master before its advert makes the old one drop the VIPs.
/// Leaving Master yields `StateChanged`, then `SendAdvert` with priority 0 when the
/// router resigns, then `RemoveVips` — except on `Input::Shutdown`, where
/// `RemoveVips` comes later, when the successor speaks or the release bound
/// passes (make before break).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send this advert to the VRRP group (224.0.0.18 / ff02::12), TTL 255, from the
    /// router's primary address. Its priority is the effective priority, or 0 when
    /// resigning (RFC 9568 §6.4.3, keepalived on shutdown and FAULT).
    SendAdvert(Advert),
    /// Add these VIPs to the interface (accept mode, IPv6 without DAD, docs/requirements.md C-34).
    AddVips(Vec<IpAddr>),
    /// Remove these VIPs from the interface.
    RemoveVips(Vec<IpAddr>),
    /// Send a burst of `repeat` gratuitous ARPs (IPv4) / unsolicited NAs (IPv6) for
    /// each of these VIPs; the driver builds the frames.
    SendGratuitous {
        /// The VIPs to announce (all of them, or only the newly added ones).
        vips: Vec<IpAddr>,
        /// Frames per VIP (`garp_master_repeat`, `…_refresh_repeat` or
        /// `garp_lower_prio_repeat`); back to back, keepalived's default spacing.
        repeat: u32,
    },
    /// The router changed state; for logs, notify hooks and the state file.
    StateChanged {
        /// The state left.
        from: State,
        /// The state entered.
        to: State,
        /// Why.
        reason: Reason,
    },
}
