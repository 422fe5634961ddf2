//! `tcpdump -tt -w` in a namespace for wire timestamps, and a reader of the capture
//! through `tcpdump -tt -n -e -r` for VRRP adverts and ARP frames.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::proc::Proc;

/// One decoded line of a capture.
#[derive(Debug, Clone, PartialEq)]
pub enum WireEvent {
    Advert {
        /// Seconds since the epoch, as tcpdump stamped it.
        t: f64,
        src: String,
        vrid: u8,
        priority: u8,
    },
    Arp {
        t: f64,
        src_mac: String,
        /// "Request who-has 10.1.2.100 tell 10.1.2.100" etc., as tcpdump prints it.
        text: String,
    },
    Other {
        t: f64,
        line: String,
    },
}

impl WireEvent {
    pub fn time(&self) -> f64 {
        match self {
            WireEvent::Advert { t, .. } | WireEvent::Arp { t, .. } | WireEvent::Other { t, .. } => {
                *t
            }
        }
    }
}

/// A running tcpdump.
pub struct Capture {
    proc: Proc,
    pub file: PathBuf,
}

impl Capture {
    /// Starts `tcpdump -i IFACE -w FILE FILTER` in namespace `ns` and waits until it
    /// listens.
    pub fn start(ns: &str, iface: &str, filter: &str, dir: &Path, tag: &str) -> Capture {
        let file = dir.join(format!("{tag}.pcap"));
        let log = dir.join(format!("{tag}.tcpdump.log"));
        let file_s = file.to_string_lossy().into_owned();
        let mut argv = vec![
            "tcpdump",
            "-i",
            iface,
            "-n",
            "--immediate-mode",
            "-U",
            "-w",
            file_s.as_str(),
        ];
        argv.extend(filter.split_whitespace());
        let proc = Proc::spawn(ns, &format!("tcpdump {tag}"), &argv, &log, Vec::new());
        super::wait::wait_for("tcpdump to listen", Duration::from_secs(10), || {
            proc.log_text().contains("listening on")
        });
        Capture { proc, file }
    }

    /// Stops tcpdump (SIGINT flushes the file) and decodes the capture.
    pub fn stop(mut self) -> Vec<WireEvent> {
        self.proc.signal(libc::SIGINT);
        self.proc.wait_exit(Duration::from_secs(5));
        read_capture(&self.file)
    }
}

/// Decodes a pcap file with `tcpdump -tt -n -e -r`.
pub fn read_capture(file: &Path) -> Vec<WireEvent> {
    let file_s = file.to_string_lossy().into_owned();
    let out = super::ns::run_ok("tcpdump", &["-tt", "-n", "-e", "-r", &file_s]);
    out.lines().filter_map(parse_line).collect()
}

/// Parses one `tcpdump -tt -n -e` line.
pub fn parse_line(line: &str) -> Option<WireEvent> {
    let (t, rest) = line.split_once(' ')?;
    let t: f64 = t.parse().ok()?;
    let src_mac = rest.split_whitespace().next().unwrap_or("").to_string();
    if let Some(idx) = rest.find("VRRPv") {
        // "... 10.1.2.11 > 224.0.0.18: VRRPv2, Advertisement, vrid 51, prio 150, ..."
        let head = &rest[..idx];
        let src = head
            .rsplit_once(" > ")
            .and_then(|(l, _)| l.rsplit(' ').next())
            .unwrap_or("")
            .to_string();
        let field = |name: &str| -> Option<u8> {
            let at = rest.find(name)? + name.len();
            rest[at..]
                .split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse()
                .ok()
        };
        return Some(WireEvent::Advert {
            t,
            src,
            vrid: field("vrid ")?,
            priority: field("prio ")?,
        });
    }
    // With -e: "... ethertype ARP (0x0806), length 42: Request who-has A (ff:..) tell B, length 28"
    if let Some(idx) = rest.find("ethertype ARP") {
        let text = rest[idx..].split_once(": ").map(|(_, t)| t).unwrap_or("");
        return Some(WireEvent::Arp {
            t,
            src_mac,
            text: text.to_string(),
        });
    }
    Some(WireEvent::Other {
        t,
        line: rest.to_string(),
    })
}
