//! The daemon's sockets: one raw VRRP socket per (interface, family), shared by every
//! instance there (keepalived's socket pool); and one AF_PACKET socket per interface
//! for gratuitous ARP / unsolicited NA.
//!
//! The event loop reads every VRRP socket itself ([`recv_any`]), one datagram per
//! turn into one buffer, and owns the [`Demux`] (the receive ladder and its counters)
//! and the routers: no receive task, no channel, no copy per packet, and the kernel's
//! socket buffer is the only queue (bounded, whatever the rate). Sends go straight
//! through the socket from the loop, non-blocking: a full send buffer is a counted
//! send error, never a stalled loop.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::Arc;
use std::task::Poll;

use crate::engine::net::{
    AsyncVrrpSocket, Delivery, Interface, PacketSocket, RecvMeta, SendHandle, SocketError,
    VrrpSocket, WaitPattern, WaitingQueue,
};
use vrrp_core::packet::{Demux, RxExpect};
use vrrp_core::proto::{Family, Vrid};

use super::instance::{rolling_interface, Instance};

/// A receive socket's identity: the interface name and the family.
pub type ReceiverKey = (String, Family);

/// What one turn of the loop read: which receiver (receivers are re-created when
/// interfaces come back) and the datagram's length in the loop's buffer, or the
/// receive error.
pub type Received = (u64, std::io::Result<(usize, RecvMeta)>);

/// A raw VRRP socket and its ladder.
#[derive(Debug)]
pub struct Receiver {
    pub id: u64,
    pub ifindex: u32,
    pub delivery: Delivery,
    pub socket: AsyncVrrpSocket,
    pub demux: Demux,
    /// Receive errors so far (logged at 1, 2, 4, 8, ...).
    pub errors: u64,
    /// The (family, VRID)s the demux holds expectations for.
    expected: BTreeSet<(Family, Vrid)>,
    /// Where a settled Master's unchanged adverts wait (`super::waiting`), opened
    /// the first time one may.
    pub waiting: Option<WaitingQueue>,
    /// The adverts the waiting queue keeps and this socket turns away.
    pub waits: Vec<WaitPattern>,
    /// The adverts last asked to wait (`waits` holds those that fit the filters).
    pub asked: Vec<WaitPattern>,
    /// The waiting queue may hold adverts: it keeps some, or kept some since it
    /// was last read empty.
    pub waiting_live: bool,
    /// The waiting queue's drop count last seen (SO_MEMINFO, read before each read of it).
    pub queue_drops: u32,
    /// Changing the filters failed once: no advert waits on this socket.
    pub waiting_failed: bool,
    /// This socket's sending side for the pacing thread (`super::pacing`),
    /// duplicated the first time a Master's adverts are paced here.
    send_handle: Option<Arc<SendHandle>>,
}

impl Receiver {
    /// Opens the socket on `interface`. Must be called inside the runtime.
    pub fn open(
        id: u64,
        interface: &Interface,
        family: Family,
        delivery: Delivery,
    ) -> Result<Receiver, SocketError> {
        // The socket's own source is never used: every send names the instance's.
        let socket = match family {
            Family::V4 => {
                VrrpSocket::open_v4(interface, std::net::Ipv4Addr::UNSPECIFIED, delivery)?
            }
            Family::V6 => {
                VrrpSocket::open_v6(interface, std::net::Ipv6Addr::UNSPECIFIED, delivery)?
            }
        };
        let socket = AsyncVrrpSocket::new(socket).map_err(|source| SocketError {
            op: "register the VRRP socket with the runtime",
            ifname: interface.name.clone(),
            source,
        })?;
        Ok(Receiver {
            id,
            ifindex: interface.index,
            delivery,
            socket,
            demux: Demux::new(),
            errors: 0,
            expected: BTreeSet::new(),
            waiting: None,
            waits: Vec::new(),
            asked: Vec::new(),
            waiting_live: false,
            queue_drops: 0,
            waiting_failed: false,
            send_handle: None,
        })
    }

    /// Makes the ladder expect exactly `expects` (counters are kept).
    pub fn expect(&mut self, expects: Vec<RxExpect>) {
        let wanted: BTreeSet<(Family, Vrid)> = expects
            .iter()
            .flat_map(|e| e.vrids().map(move |v| (e.family, v)))
            .collect();
        for (family, vrid) in self.expected.difference(&wanted) {
            self.demux.remove(*family, *vrid);
        }
        for e in expects {
            self.demux.insert(e);
        }
        self.expected = wanted;
    }

    /// The socket's sending side for another thread (paced adverts), one per
    /// socket.
    pub fn send_handle(&mut self) -> std::io::Result<Arc<SendHandle>> {
        if let Some(handle) = &self.send_handle {
            return Ok(Arc::clone(handle));
        }
        let handle = Arc::new(self.socket.get_ref().send_handle()?);
        self.send_handle = Some(Arc::clone(&handle));
        Ok(handle)
    }

    /// Sends one VRRP payload from `src` to `dst` without waiting.
    pub fn send(&self, payload: &[u8], dst: IpAddr, src: IpAddr) -> std::io::Result<usize> {
        self.socket.get_ref().send_from(payload, dst, src)
    }
}

/// The next datagram any of `receivers` holds, read into `buf`. The receivers are
/// polled from the one after `*next` on, so a flooded socket cannot starve another
/// (each call returns one datagram, and the next call starts after it).
pub async fn recv_any(
    receivers: &BTreeMap<ReceiverKey, Receiver>,
    buf: &mut [u8],
    next: &mut usize,
) -> Received {
    std::future::poll_fn(
        |cx| match first_ready(receivers, next, |r| r.socket.poll_recv(cx, buf)) {
            Some(received) => Poll::Ready(received),
            None => Poll::Pending,
        },
    )
    .await
}

/// As [`recv_any`], without waiting: the next datagram already queued on any of
/// `receivers`, or `None` when every queue is empty.
pub fn try_recv_any(
    receivers: &BTreeMap<ReceiverKey, Receiver>,
    buf: &mut [u8],
    next: &mut usize,
) -> Option<Received> {
    first_ready(receivers, next, |r| match r.socket.get_ref().recv(buf) {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Poll::Pending,
        result => Poll::Ready(result),
    })
}

/// The round robin of [`recv_any`] and [`try_recv_any`]: `read` each receiver from
/// the one after `*next` on; the first that is ready gives the datagram and moves
/// `*next` past itself.
fn first_ready(
    receivers: &BTreeMap<ReceiverKey, Receiver>,
    next: &mut usize,
    mut read: impl FnMut(&Receiver) -> Poll<std::io::Result<(usize, RecvMeta)>>,
) -> Option<Received> {
    let n = receivers.len();
    for step in 0..n {
        let at = (*next + step) % n;
        let Some(r) = receivers.values().nth(at) else {
            continue;
        };
        if let Poll::Ready(result) = read(r) {
            *next = at + 1;
            return Some((r.id, result));
        }
    }
    None
}

/// Which receive sockets the instances need: one per (interface, family), joined to
/// the group when any instance there is multicast (or rolls from or to multicast).
pub fn wanted(instances: &[Instance]) -> BTreeMap<ReceiverKey, Delivery> {
    let mut out: BTreeMap<ReceiverKey, Delivery> = BTreeMap::new();
    let mut want = |interface: &str, family: Family, delivery: Delivery| {
        let slot = out
            .entry((interface.to_string(), family))
            .or_insert(delivery);
        if delivery == Delivery::Multicast {
            *slot = Delivery::Multicast;
        }
    };
    let delivery = |multicast: bool| {
        if multicast {
            Delivery::Multicast
        } else {
            Delivery::Unicast
        }
    };
    for i in instances {
        let own_multicast = !i.config.is_unicast();
        let rolling_multicast = i
            .config
            .rolling_from
            .as_ref()
            .map(|r| r.unicast_peers.is_empty());
        match rolling_interface(&i.config) {
            // A rolling change from or to multicast listens to the group too (K-17)...
            None => want(
                &i.config.interface,
                i.config.family,
                delivery(own_multicast || rolling_multicast == Some(true)),
            ),
            // ...on the interface the old identity runs on, when it is another.
            Some(elsewhere) => {
                want(
                    &i.config.interface,
                    i.config.family,
                    delivery(own_multicast),
                );
                want(
                    elsewhere,
                    i.config.family,
                    delivery(rolling_multicast == Some(true)),
                );
            }
        }
    }
    out
}

/// The expectations of the instances on `key` (on their own interface, or on the
/// interface their `rolling_from` identity runs on).
pub fn expectations(instances: &[Instance], key: &ReceiverKey) -> Vec<RxExpect> {
    instances
        .iter()
        .filter(|i| {
            i.config.family == key.1
                && (i.config.interface == key.0
                    || rolling_interface(&i.config) == Some(key.0.as_str()))
        })
        .map(|i| i.expect.clone())
        .collect()
}

/// AF_PACKET senders by interface name, opened on first use.
#[derive(Debug, Default)]
pub struct LinkLayer {
    sockets: BTreeMap<String, PacketSocket>,
}

impl LinkLayer {
    /// The socket for `interface`, (re)opened when missing or the index changed.
    pub fn socket(&mut self, interface: &Interface) -> Result<&PacketSocket, SocketError> {
        let stale = self
            .sockets
            .get(&interface.name)
            .is_some_and(|s| s.interface().index != interface.index);
        if stale {
            self.sockets.remove(&interface.name);
        }
        if !self.sockets.contains_key(&interface.name) {
            let s = PacketSocket::open(interface)?;
            self.sockets.insert(interface.name.clone(), s);
        }
        self.sockets
            .get(&interface.name)
            .ok_or_else(|| SocketError {
                op: "open a packet socket",
                ifname: interface.name.clone(),
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
            })
    }

    /// Forgets the socket of an interface that went away.
    pub fn forget(&mut self, name: &str) {
        self.sockets.remove(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vrrp_core::config::parse;

    fn instances(text: &str) -> Vec<Instance> {
        let config = parse("k.conf", text.as_bytes()).unwrap().config;
        config
            .instances
            .iter()
            .map(|i| Instance::new(&config, i, None).unwrap())
            .collect()
    }

    #[test]
    fn one_socket_per_interface_and_family_joined_when_any_instance_is_multicast() {
        let text = r#"
vrrp_instance A {
    interface eth0
    virtual_router_id 1
    unicast_peer {
        10.0.0.2
    }
    virtual_ipaddress {
        10.0.0.100
    }
}
vrrp_instance B {
    interface eth0
    virtual_router_id 2
    virtual_ipaddress {
        10.0.0.101
    }
}
vrrp_instance C {
    interface eth1
    virtual_router_id 3
    unicast_peer {
        10.1.0.2
    }
    virtual_ipaddress {
        10.1.0.100
    }
}
vrrp_instance D {
    interface eth0
    virtual_router_id 1
    virtual_ipaddress {
        fd00::100
    }
}
"#;
        let inst = instances(text);
        let w = wanted(&inst);
        assert_eq!(
            w,
            BTreeMap::from([
                (("eth0".to_string(), Family::V4), Delivery::Multicast),
                (("eth0".to_string(), Family::V6), Delivery::Multicast),
                (("eth1".to_string(), Family::V4), Delivery::Unicast),
            ])
        );
        let e = expectations(&inst, &("eth0".to_string(), Family::V4));
        let vrids: Vec<u8> = e.iter().map(|x| x.vrid.get()).collect();
        assert_eq!(vrids, vec![1, 2]);
    }

    /// K-17, a rolling `interface` change: the instance listens on the interface it
    /// leaves too (joined to the group when the old identity was multicast), and
    /// its expectation is in that socket's ladder.
    #[test]
    fn a_rolling_interface_listens_on_the_interface_it_leaves_too() {
        let inst = instances(
            r#"
vrrp_instance A {
    interface eth1
    virtual_router_id 1
    unicast_peer {
        10.1.0.2
    }
    virtual_ipaddress {
        10.0.0.100
    }
    rolling_from {
        virtual_router_id 1
        interface eth0
    }
}
"#,
        );
        assert_eq!(
            wanted(&inst),
            BTreeMap::from([
                (("eth0".to_string(), Family::V4), Delivery::Multicast),
                (("eth1".to_string(), Family::V4), Delivery::Unicast),
            ])
        );
        for iface in ["eth0", "eth1"] {
            let e = expectations(&inst, &(iface.to_string(), Family::V4));
            assert_eq!(e.len(), 1, "{iface}");
        }
    }
}
