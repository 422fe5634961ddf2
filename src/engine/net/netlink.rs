//! Links, addresses and routes over rtnetlink, on the tokio runtime.
//!
//! The engine adds and removes VIPs here (IPv6 with IFA_F_NODAD: a VIP that sits
//! "tentative" for a second after every promotion is an outage, docs/requirements.md C-34),
//! finds an interface's advert source address, and cleans up VIPs a previous run left
//! behind (docs/requirements.md K-08: a stale VIP on a dead master's interface is a
//! split-brain source). The charm reads its per-hook snapshot here too (links,
//! addresses, default routes) to pick the VRRP interface and its unicast source.
//!
//! Add and remove are idempotent: EEXIST on add and EADDRNOTAVAIL / ENOENT on remove
//! are outcomes, not errors, so a reconcile loop can call them blindly.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use futures::TryStreamExt;
use rtnetlink::packet_route::address::{
    AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage,
};
use rtnetlink::packet_route::link::LinkMessage;
use rtnetlink::packet_route::route::{RouteAttribute, RouteMessage, RouteType};
use rtnetlink::packet_route::AddressFamily;
use rtnetlink::{Handle, RouteMessageBuilder};

use super::ifstate::{is_link_local_v6, IfAddr, Link};
use super::Interface;
use vrrp_core::proto::Family;

/// A netlink request failed. Messages name what was attempted and the kernel's reason.
#[derive(Debug, thiserror::Error)]
pub enum NetlinkError {
    #[error("cannot open a netlink socket: {0}")]
    Connect(#[source] io::Error),
    #[error("netlink needs a running tokio runtime (called outside one)")]
    NoRuntime,
    #[error("no interface named {name:?} in this network namespace")]
    NoSuchInterface { name: String },
    #[error("cannot {op}: {source}")]
    Request {
        op: String,
        #[source]
        source: io::Error,
    },
}

impl NetlinkError {
    fn request(op: impl Into<String>, e: rtnetlink::Error) -> NetlinkError {
        NetlinkError::Request {
            op: op.into(),
            source: to_io(e),
        }
    }

    /// The kernel's errno, if the kernel refused the request.
    pub fn errno(&self) -> Option<i32> {
        match self {
            NetlinkError::Request { source, .. } | NetlinkError::Connect(source) => {
                source.raw_os_error()
            }
            _ => None,
        }
    }
}

fn to_io(e: rtnetlink::Error) -> io::Error {
    match e {
        rtnetlink::Error::NetlinkError(msg) => msg.to_io(),
        other => io::Error::other(other.to_string()),
    }
}

/// What [`Netlink::add_address`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddOutcome {
    Added,
    /// The kernel answered EEXIST: the address was there already.
    AlreadyPresent,
}

/// What [`Netlink::remove_address`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoveOutcome {
    Removed,
    NotPresent,
}

/// A connection to the kernel's routing netlink in the calling thread's network
/// namespace. Cheap to clone; every clone shares one socket.
#[derive(Debug, Clone)]
pub struct Netlink {
    handle: Handle,
}

impl Netlink {
    /// Opens the socket and spawns its I/O task on the current tokio runtime. The
    /// task ends when the last clone is dropped.
    pub fn connect() -> Result<Netlink, NetlinkError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| NetlinkError::NoRuntime)?;
        let (connection, handle, _unsolicited) =
            rtnetlink::new_connection().map_err(NetlinkError::Connect)?;
        runtime.spawn(connection);
        Ok(Netlink { handle })
    }

    /// Every link in the namespace.
    pub async fn links(&self) -> Result<Vec<Link>, NetlinkError> {
        let msgs: Vec<LinkMessage> = self
            .handle
            .link()
            .get()
            .execute()
            .try_collect()
            .await
            .map_err(|e| NetlinkError::request("list links", e))?;
        Ok(msgs.iter().map(Link::from_message).collect())
    }

    /// The link named `name`, or [`NetlinkError::NoSuchInterface`].
    pub async fn link(&self, name: &str) -> Result<Link, NetlinkError> {
        self.links()
            .await?
            .into_iter()
            .find(|l| l.name == name)
            .ok_or_else(|| NetlinkError::NoSuchInterface {
                name: name.to_string(),
            })
    }

    pub async fn link_by_index(&self, index: u32) -> Result<Option<Link>, NetlinkError> {
        Ok(self.links().await?.into_iter().find(|l| l.index == index))
    }

    /// Every address, or those of one interface.
    pub async fn addresses(&self, ifindex: Option<u32>) -> Result<Vec<IfAddr>, NetlinkError> {
        let mut request = self.handle.address().get();
        if let Some(index) = ifindex {
            request = request.set_link_index_filter(index);
        }
        let msgs: Vec<AddressMessage> = request
            .execute()
            .try_collect()
            .await
            .map_err(|e| NetlinkError::request("list addresses", e))?;
        Ok(msgs.iter().filter_map(IfAddr::from_message).collect())
    }

    /// The interface's primary IPv4 address: the source of IPv4 adverts (RFC 9568
    /// §5.1.1.1). The kernel lists primaries before secondaries, in the order they
    /// were added, so VIPs (secondaries, or later primaries of other subnets) never
    /// displace it.
    pub async fn primary_ipv4(&self, ifindex: u32) -> Result<Option<Ipv4Addr>, NetlinkError> {
        Ok(self
            .addresses(Some(ifindex))
            .await?
            .into_iter()
            .find_map(|a| match a.addr {
                IpAddr::V4(v4) if !a.secondary => Some(v4),
                _ => None,
            }))
    }

    /// The interface's usable (not tentative, DAD passed) IPv6 link-local address:
    /// the source of IPv6 adverts (RFC 9568 §5.1.2.1). `None` while DAD runs.
    pub async fn link_local_ipv6(&self, ifindex: u32) -> Result<Option<Ipv6Addr>, NetlinkError> {
        Ok(self
            .addresses(Some(ifindex))
            .await?
            .into_iter()
            .find_map(|a| match a.addr {
                IpAddr::V6(v6) if is_link_local_v6(&v6) && !a.tentative && !a.dad_failed => {
                    Some(v6)
                }
                _ => None,
            }))
    }

    /// Adds `addr/prefix_len` to `interface`. IPv6 addresses get IFA_F_NODAD so they
    /// are usable at once; IPv4 ones get `label` when given (keepalived's `label`).
    pub async fn add_address(
        &self,
        interface: &Interface,
        addr: IpAddr,
        prefix_len: u8,
        label: Option<&str>,
    ) -> Result<AddOutcome, NetlinkError> {
        let mut request = self.handle.address().add(interface.index, addr, prefix_len);
        let msg = request.message_mut();
        match addr {
            IpAddr::V6(_) => {
                msg.header.flags |= AddressHeaderFlags::Nodad;
                msg.attributes
                    .push(AddressAttribute::Flags(AddressFlags::Nodad));
            }
            IpAddr::V4(_) => {
                if let Some(label) = label {
                    msg.attributes
                        .push(AddressAttribute::Label(label.to_string()));
                }
            }
        }
        match request.execute().await {
            Ok(()) => Ok(AddOutcome::Added),
            Err(e) => {
                let e = to_io(e);
                if e.raw_os_error() == Some(libc::EEXIST) {
                    Ok(AddOutcome::AlreadyPresent)
                } else {
                    Err(NetlinkError::Request {
                        op: format!("add {addr}/{prefix_len} to {}", interface.name),
                        source: e,
                    })
                }
            }
        }
    }

    /// Removes `addr` from `interface`, whatever prefix it was added with.
    pub async fn remove_address(
        &self,
        interface: &Interface,
        addr: IpAddr,
    ) -> Result<RemoveOutcome, NetlinkError> {
        let present: Vec<IfAddr> = self
            .addresses(Some(interface.index))
            .await?
            .into_iter()
            .filter(|a| a.addr == addr)
            .collect();
        let mut outcome = RemoveOutcome::NotPresent;
        for a in present {
            let mut msg = AddressMessage::default();
            msg.header.family = match addr {
                IpAddr::V4(_) => AddressFamily::Inet,
                IpAddr::V6(_) => AddressFamily::Inet6,
            };
            msg.header.index = interface.index;
            msg.header.prefix_len = a.prefix_len;
            msg.attributes.push(AddressAttribute::Local(addr));
            if addr.is_ipv6() {
                msg.attributes.push(AddressAttribute::Address(addr));
            }
            match self.handle.address().del(msg).execute().await {
                Ok(()) => outcome = RemoveOutcome::Removed,
                Err(e) => {
                    let e = to_io(e);
                    // Gone between the dump and the delete: someone else removed it.
                    if !matches!(
                        e.raw_os_error(),
                        Some(libc::EADDRNOTAVAIL) | Some(libc::ENOENT)
                    ) {
                        return Err(NetlinkError::Request {
                            op: format!("remove {addr}/{} from {}", a.prefix_len, interface.name),
                            source: e,
                        });
                    }
                }
            }
        }
        Ok(outcome)
    }

    /// The interface whose connected subnet contains `ip` (the longest prefix wins;
    /// loopback is never chosen for a non-loopback address).
    pub async fn interface_for_address(&self, ip: IpAddr) -> Result<Option<Link>, NetlinkError> {
        let links = self.links().await?;
        let best = self
            .addresses(None)
            .await?
            .into_iter()
            .filter(|a| a.contains(ip))
            .filter(|a| ip.is_loopback() || !a.addr.is_loopback())
            .max_by_key(|a| a.prefix_len);
        Ok(best.and_then(|a| links.into_iter().find(|l| l.index == a.ifindex)))
    }

    /// The interface of the default route of `family` in the main table (lowest
    /// metric first; the first next hop of a multipath route).
    pub async fn default_route_interface(
        &self,
        family: Family,
    ) -> Result<Option<Link>, NetlinkError> {
        match self.default_route_index(family).await? {
            Some(index) => self.link_by_index(index).await,
            None => Ok(None),
        }
    }

    /// The interface index of [`Self::default_route_interface`], for callers that
    /// already hold the links (one route dump, no link dump).
    pub async fn default_route_index(&self, family: Family) -> Result<Option<u32>, NetlinkError> {
        let query = match family {
            Family::V4 => RouteMessageBuilder::<Ipv4Addr>::new().build(),
            Family::V6 => RouteMessageBuilder::<Ipv6Addr>::new().build(),
        };
        let routes: Vec<RouteMessage> = self
            .handle
            .route()
            .get(query)
            .execute()
            .try_collect()
            .await
            .map_err(|e| NetlinkError::request(format!("list {family} routes"), e))?;
        let best = routes
            .iter()
            .filter(|r| {
                r.header.destination_prefix_length == 0 && r.header.kind == RouteType::Unicast
            })
            .filter(|r| {
                route_table(r)
                    == u32::from(rtnetlink::packet_route::route::RouteHeader::RT_TABLE_MAIN)
            })
            .filter_map(|r| route_oif(r).map(|oif| (route_metric(r), oif)))
            .min_by_key(|(metric, _)| *metric);
        Ok(best.map(|(_, oif)| oif))
    }

    /// At engine start: removes from interface `ifname` every address in `vips` that
    /// is still there (a previous run died without releasing them). Returns the
    /// addresses removed. The caller must not list an address the host owns for
    /// real (a priority-255 address owner's VIP is the interface's own address).
    pub async fn remove_stale_vips(
        &self,
        ifname: &str,
        vips: &[IpAddr],
    ) -> Result<Vec<IpAddr>, NetlinkError> {
        let interface = self.link(ifname).await?.interface();
        let present = self.addresses(Some(interface.index)).await?;
        let mut removed = Vec::new();
        for vip in vips {
            if present.iter().any(|a| a.addr == *vip)
                && self.remove_address(&interface, *vip).await? == RemoveOutcome::Removed
            {
                removed.push(*vip);
            }
        }
        Ok(removed)
    }
}

fn route_table(r: &RouteMessage) -> u32 {
    r.attributes
        .iter()
        .find_map(|a| match a {
            RouteAttribute::Table(t) => Some(*t),
            _ => None,
        })
        .unwrap_or(u32::from(r.header.table))
}

fn route_metric(r: &RouteMessage) -> u32 {
    r.attributes
        .iter()
        .find_map(|a| match a {
            RouteAttribute::Priority(p) => Some(*p),
            _ => None,
        })
        .unwrap_or(0)
}

fn route_oif(r: &RouteMessage) -> Option<u32> {
    r.attributes.iter().find_map(|a| match a {
        RouteAttribute::Oif(i) => Some(*i),
        RouteAttribute::MultiPath(hops) => hops.first().map(|h| h.interface_index),
        _ => None,
    })
}
