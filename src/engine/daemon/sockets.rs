//! The daemon's sockets: one raw VRRP socket per (interface, family), shared by every
//! instance there (keepalived's socket pool), each with one receive task; and one
//! AF_PACKET socket per interface for gratuitous ARP / unsolicited NA.
//!
//! A receive task only moves bytes: it hands each datagram to the event loop, which
//! owns the [`Demux`] (the receive ladder and its counters) and the routers. Sends go
//! straight through the socket from the loop, non-blocking: a full send buffer is a
//! counted send error, never a stalled loop.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::engine::net::{
    AsyncVrrpSocket, Delivery, Interface, PacketSocket, RecvMeta, SocketError, VrrpSocket,
};
use vrrp_core::packet::{Demux, RxExpect};
use vrrp_core::proto::{Family, Vrid};

use super::instance::Instance;

/// A receive socket's identity: the interface name and the family.
pub type ReceiverKey = (String, Family);

/// One datagram from a receive task.
#[derive(Debug)]
pub struct Packet {
    /// Which receiver read it (receivers are re-created when interfaces come back).
    pub receiver: u64,
    pub bytes: Vec<u8>,
    pub meta: RecvMeta,
}

/// A raw VRRP socket, its receive task and its ladder.
#[derive(Debug)]
pub struct Receiver {
    pub id: u64,
    pub ifindex: u32,
    pub delivery: Delivery,
    pub socket: Arc<AsyncVrrpSocket>,
    pub demux: Demux,
    /// The (family, VRID)s the demux holds expectations for.
    expected: BTreeSet<(Family, Vrid)>,
    task: JoinHandle<()>,
}

impl Receiver {
    /// Opens the socket on `interface` and starts its receive task. Must be called
    /// inside the runtime.
    pub fn open(
        id: u64,
        interface: &Interface,
        family: Family,
        delivery: Delivery,
        packets: mpsc::Sender<Packet>,
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
        let socket = Arc::new(socket);
        let task = tokio::spawn(receive_loop(id, Arc::clone(&socket), packets));
        Ok(Receiver {
            id,
            ifindex: interface.index,
            delivery,
            socket,
            demux: Demux::new(),
            expected: BTreeSet::new(),
            task,
        })
    }

    /// Makes the ladder expect exactly `expects` (counters are kept).
    pub fn expect(&mut self, expects: Vec<RxExpect>) {
        let wanted: BTreeSet<(Family, Vrid)> = expects.iter().map(|e| (e.family, e.vrid)).collect();
        for (family, vrid) in self.expected.difference(&wanted) {
            self.demux.remove(*family, *vrid);
        }
        for e in expects {
            self.demux.insert(e);
        }
        self.expected = wanted;
    }

    /// Sends one VRRP payload from `src` to `dst` without waiting.
    pub fn send(&self, payload: &[u8], dst: IpAddr, src: IpAddr) -> std::io::Result<usize> {
        self.socket.get_ref().send_from(payload, dst, src)
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn receive_loop(id: u64, socket: Arc<AsyncVrrpSocket>, packets: mpsc::Sender<Packet>) {
    let mut buf = vec![0u8; 2048];
    let mut errors: u64 = 0;
    loop {
        match socket.recv(&mut buf).await {
            Ok((len, meta)) => {
                let packet = Packet {
                    receiver: id,
                    bytes: buf[..len].to_vec(),
                    meta,
                };
                if packets.send(packet).await.is_err() {
                    return;
                }
            }
            Err(e) => {
                errors += 1;
                if errors.is_power_of_two() {
                    let ifname = socket.get_ref().interface().name.clone();
                    tracing::warn!(interface = %ifname, error = %e, errors, "receive error on the VRRP socket");
                }
                // Never spin on a persistent error (interface gone).
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Which receive sockets the instances need: one per (interface, family), joined to
/// the group when any instance there is multicast.
pub fn wanted(instances: &[Instance]) -> BTreeMap<ReceiverKey, Delivery> {
    let mut out: BTreeMap<ReceiverKey, Delivery> = BTreeMap::new();
    for i in instances {
        let key = (i.config.interface.clone(), i.config.family);
        let delivery = if i.config.is_unicast() {
            Delivery::Unicast
        } else {
            Delivery::Multicast
        };
        let slot = out.entry(key).or_insert(delivery);
        if delivery == Delivery::Multicast {
            *slot = Delivery::Multicast;
        }
    }
    out
}

/// The expectations of the instances on `key`.
pub fn expectations(instances: &[Instance], key: &ReceiverKey) -> Vec<RxExpect> {
    instances
        .iter()
        .filter(|i| i.config.interface == key.0 && i.config.family == key.1)
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
}
