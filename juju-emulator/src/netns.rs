//! A network namespace per unit, so the charm's netlink interface discovery sees a
//! deterministic machine: loopback plus one interface (a dummy link, or a veth whose
//! far end sits in a second private namespace when the kernel has no dummy driver) with
//! a given address and an optional default route. Unique names (pid + counter); deleted on drop, also when
//! the test panics.
//!
//! A unit can also join a namespace someone else made ([`Netns::existing`], e.g. a lab
//! host on a shared bridge): then the emulator only uses it and never deletes it.

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// What the unit's machine looks like on the network.
#[derive(Debug, Clone)]
pub struct NetnsSpec {
    /// Interface name, e.g. `eth0` (a dummy link).
    pub interface: String,
    /// Address with prefix, e.g. `10.77.0.5/24` (a private test subnet).
    pub address: String,
    /// Optional default gateway inside the interface's subnet.
    pub gateway: Option<String>,
}

impl NetnsSpec {
    pub fn new(interface: &str, address: &str) -> NetnsSpec {
        NetnsSpec {
            interface: interface.into(),
            address: address.into(),
            gateway: None,
        }
    }

    pub fn with_gateway(mut self, gateway: &str) -> NetnsSpec {
        self.gateway = Some(gateway.into());
        self
    }

    /// The address without its prefix length.
    pub fn host(&self) -> &str {
        self.address.split('/').next().unwrap_or(&self.address)
    }
}

#[derive(Debug)]
pub struct Netns {
    pub name: String,
    pub spec: NetnsSpec,
    /// Where the far end of the veth lives when the kernel has no dummy links.
    pub peer: Option<String>,
    /// Whether the emulator created it (and deletes it on drop).
    pub owned: bool,
}

pub fn ip_binary() -> &'static str {
    ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .unwrap_or("ip")
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new(ip_binary())
        .args(args)
        .output()
        .map_err(|e| format!("ip {}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

impl Netns {
    pub fn create(spec: NetnsSpec) -> Result<Netns, String> {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let name = format!("kaemu-{}-{n}", std::process::id());
        ip(&["netns", "add", &name])?;
        // From here on, Drop cleans up whatever fails below.
        let mut ns = Netns {
            name,
            spec,
            peer: None,
            owned: true,
        };
        let name = ns.name.clone();
        let iface = ns.spec.interface.clone();
        ip(&["-n", &name, "link", "set", "lo", "up"])?;
        if ip(&["-n", &name, "link", "add", &iface, "type", "dummy"]).is_err() {
            // No dummy driver (e.g. a container without the module): a veth whose other
            // end sits in a second private namespace, so the unit still sees lo + iface.
            let peer = format!("{name}-peer");
            ip(&["netns", "add", &peer])?;
            ns.peer = Some(peer.clone());
            ip(&[
                "-n", &name, "link", "add", &iface, "type", "veth", "peer", "name", "veth0",
                "netns", &peer,
            ])?;
            ip(&["-n", &peer, "link", "set", "veth0", "up"])?;
        }
        let name = ns.name.as_str();
        let spec = &ns.spec;
        ip(&[
            "-n",
            name,
            "addr",
            "add",
            &spec.address,
            "dev",
            &spec.interface,
        ])?;
        ip(&["-n", name, "link", "set", &spec.interface, "up"])?;
        if let Some(gw) = &spec.gateway {
            ip(&[
                "-n",
                name,
                "route",
                "add",
                "default",
                "via",
                gw,
                "dev",
                &spec.interface,
            ])?;
        }
        Ok(ns)
    }
}

impl Netns {
    /// A namespace that already exists (made by the caller, who also deletes it), whose
    /// `spec.interface` carries `spec.address`. Fails if there is no such namespace.
    pub fn existing(name: &str, spec: NetnsSpec) -> Result<Netns, String> {
        if !std::path::Path::new("/run/netns").join(name).exists() {
            return Err(format!("no network namespace {name:?} (ip netns list)"));
        }
        Ok(Netns {
            name: name.to_string(),
            spec,
            peer: None,
            owned: false,
        })
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        if !self.owned {
            return;
        }
        let _ = ip(&["netns", "del", &self.name]);
        if let Some(peer) = &self.peer {
            let _ = ip(&["netns", "del", peer]);
        }
    }
}
