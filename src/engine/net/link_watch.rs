//! Kernel notifications of link and address changes (RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR,
//! RTNLGRP_IPV6_IFADDR): an interface going down puts its instances in FAULT
//! (RFC 9568 leaves it to the implementation; keepalived does it), and a VIP deleted
//! behind our back is noticed (docs/scenarios.md S20).

use futures::channel::mpsc::UnboundedReceiver;
use futures::StreamExt;
use rtnetlink::packet_core::{NetlinkMessage, NetlinkPayload};
use rtnetlink::packet_route::RouteNetlinkMessage;
use rtnetlink::sys::SocketAddr;
use rtnetlink::MulticastGroup;
use tokio::task::JoinHandle;

use super::ifstate::{IfAddr, Link};
use super::netlink::NetlinkError;

/// One change the kernel reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetEvent {
    /// RTM_NEWLINK: the link's current state. The kernel sends one for every change
    /// (flags, carrier, MTU, statistics...), so compare with the previous state.
    Link(Link),
    /// RTM_DELLINK: the interface is gone.
    LinkRemoved {
        index: u32,
        name: String,
    },
    AddressAdded(IfAddr),
    AddressRemoved(IfAddr),
}

impl NetEvent {
    /// The interface the event is about.
    pub fn ifindex(&self) -> u32 {
        match self {
            NetEvent::Link(l) => l.index,
            NetEvent::LinkRemoved { index, .. } => *index,
            NetEvent::AddressAdded(a) | NetEvent::AddressRemoved(a) => a.ifindex,
        }
    }
}

type Messages = UnboundedReceiver<(NetlinkMessage<RouteNetlinkMessage>, SocketAddr)>;

/// A subscription to link and address changes in the calling thread's namespace.
///
/// Subscribe first, then read the current state with [`super::Netlink`]: no change
/// between the two is lost. [`LinkWatch::next`] returning `None` means the
/// subscription ended (socket error, or the kernel dropped notifications because we
/// read too slowly): subscribe again and re-read the state.
#[derive(Debug)]
pub struct LinkWatch {
    messages: Messages,
    connection: JoinHandle<()>,
}

impl LinkWatch {
    /// Subscribes on the current tokio runtime.
    pub fn subscribe() -> Result<LinkWatch, NetlinkError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| NetlinkError::NoRuntime)?;
        let groups = [
            MulticastGroup::Link,
            MulticastGroup::Ipv4Ifaddr,
            MulticastGroup::Ipv6Ifaddr,
        ];
        let (connection, _handle, messages) =
            rtnetlink::new_multicast_connection(&groups).map_err(NetlinkError::Connect)?;
        let connection = runtime.spawn(connection);
        Ok(LinkWatch {
            messages,
            connection,
        })
    }

    /// The next change, of any interface.
    pub async fn next(&mut self) -> Option<NetEvent> {
        loop {
            let (msg, _) = self.messages.next().await?;
            let NetlinkPayload::InnerMessage(inner) = msg.payload else {
                continue;
            };
            let event = match inner {
                RouteNetlinkMessage::NewLink(m) => NetEvent::Link(Link::from_message(&m)),
                RouteNetlinkMessage::DelLink(m) => {
                    let link = Link::from_message(&m);
                    NetEvent::LinkRemoved {
                        index: link.index,
                        name: link.name,
                    }
                }
                RouteNetlinkMessage::NewAddress(m) => match IfAddr::from_message(&m) {
                    Some(a) => NetEvent::AddressAdded(a),
                    None => continue,
                },
                RouteNetlinkMessage::DelAddress(m) => match IfAddr::from_message(&m) {
                    Some(a) => NetEvent::AddressRemoved(a),
                    None => continue,
                },
                _ => continue,
            };
            return Some(event);
        }
    }

    /// The next change of interface `ifindex`.
    pub async fn next_for(&mut self, ifindex: u32) -> Option<NetEvent> {
        loop {
            let event = self.next().await?;
            if event.ifindex() == ifindex {
                return Some(event);
            }
        }
    }
}

impl Drop for LinkWatch {
    fn drop(&mut self) {
        self.connection.abort();
    }
}
