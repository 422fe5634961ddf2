//! The engine's state file: JSON, rewritten atomically on every state change.
//!
//! It is the engine's only report to the outside world besides packets and
//! addresses: the charm's update-status hook reads it to show MASTER/BACKUP/FAULT,
//! and operators can `cat` it. Readers must tolerate fields they do not know.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// Schema version written into every file; bumped on incompatible changes only.
pub const SCHEMA: u32 = 1;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineState {
    pub schema: u32,
    pub pid: u32,
    /// The config file the engine runs on.
    pub config: String,
    /// Milliseconds since the Unix epoch of this write. The engine bumps the file's
    /// modification time between rewrites ([`touch`]): [`read`] and [`heartbeat_ms`]
    /// report the later of the two, the engine's last sign of life.
    pub updated_unix_ms: u64,
    pub instances: Vec<InstanceState>,
    /// One entry per receive socket (interface, family): every advert the ladder saw
    /// there, including drops no instance can be blamed for (unknown VRID, bad IP
    /// header).
    #[serde(default)]
    pub receivers: Vec<ReceiverState>,
    /// SIGHUP reloads applied since start.
    #[serde(default)]
    pub reloads: u64,
    /// Why the last SIGHUP was refused (the old config kept running), if it was.
    #[serde(default)]
    pub last_reload_error: Option<String>,
    /// Why the metrics endpoint does not serve the address it was given (a failed
    /// bind: "metrics_address 127.0.0.1:9165: Address already in use (os error 98)",
    /// or an unreadable metrics file); the previous address, if any, still serves.
    #[serde(default)]
    pub metrics_error: Option<String>,
}

/// The receive ladder's counters of one socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiverState {
    pub interface: String,
    /// "ipv4" or "ipv6".
    pub family: String,
    pub accepted: u64,
    /// Non-zero drop counters by reason (snake_case reason names).
    pub drops: BTreeMap<String, u64>,
}

/// One `vrrp_instance` as the engine sees it now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceState {
    pub name: String,
    /// "ipv4" or "ipv6".
    pub family: String,
    pub vrid: u8,
    pub interface: String,
    /// keepalived's words: "INIT", "BACKUP", "MASTER" or "FAULT".
    pub state: String,
    pub base_priority: u8,
    pub effective_priority: u8,
    /// Source address of the current master's adverts, if known (ourselves when MASTER).
    pub master: Option<String>,
    pub last_transition_unix_ms: u64,
    pub last_transition_reason: String,
    pub vips: Vec<String>,
    pub counters: Counters,
    /// Why the instance is in FAULT, while it is.
    #[serde(default)]
    pub fault: Option<String>,
    /// Tracked scripts' status: "OK", "KO" or "UNKNOWN" (no result yet).
    #[serde(default)]
    pub scripts: BTreeMap<String, String>,
    /// Another router that keeps claiming MASTER for this VRID while this instance
    /// is MASTER (a split brain: it does not hear us), while it is heard.
    #[serde(default)]
    pub dual_master: Option<String>,
    /// Routers outside this cluster heard on this VRID recently (their adverts are
    /// dropped, never obeyed).
    #[serde(default)]
    pub foreign_routers: Vec<ForeignRouterState>,
}

/// A router outside the cluster that uses our VRID.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForeignRouterState {
    /// Its IP source address.
    pub address: String,
    /// Why it is not one of ours ("another virtual address list", ...).
    pub reason: String,
    /// When its last advert arrived.
    pub last_heard_unix_ms: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    pub adverts_sent: u64,
    pub adverts_received: u64,
    pub became_master: u64,
    pub released: u64,
    /// State changes of any kind.
    #[serde(default)]
    pub transitions: u64,
    /// Adverts (or copies to unicast peers) the kernel refused to send.
    #[serde(default)]
    pub send_errors: u64,
    /// VIPs put back after something else removed them while MASTER.
    #[serde(default)]
    pub vips_restored: u64,
    /// Link losses ridden out as MASTER (the link came back within two intervals).
    #[serde(default)]
    pub link_flaps_absorbed: u64,
    /// Claims withdrawn: the down timer ran out, but the Master answered our claim,
    /// so this BACKUP never took the VIPs (adverts are being lost).
    #[serde(default)]
    pub claims_withdrawn: u64,
    /// Priority-0 adverts received (a Master resigning).
    #[serde(default)]
    pub priority_zero_received: u64,
    /// Split-brain episodes seen as MASTER.
    #[serde(default)]
    pub dual_master_seen: u64,
    /// Adverts for our VRID from routers outside the cluster.
    #[serde(default)]
    pub foreign_adverts: u64,
    /// Received packets dropped, by reason (snake_case reason names).
    pub drops: BTreeMap<String, u64>,
    /// v3 IPv4 checksum form seen per peer ("pseudo_header" / "no_pseudo_header").
    pub checksum_forms: BTreeMap<String, String>,
}

/// Mode of the state file: what the engine's systemd unit (`UMask=0077`) always gave
/// it, now explicit so it no longer depends on how the engine was started.
pub const MODE: u32 = 0o600;

/// Writes `state` to `path` atomically (see [`crate::atomic_write::replace_atomic`]),
/// so a reader never sees half a file. Not durable: the file describes a running
/// process, and after a crash the heartbeat says it is stale anyway.
pub fn write(path: &Path, state: &EngineState) -> std::io::Result<()> {
    let mut json = serde_json::to_vec_pretty(state).map_err(std::io::Error::other)?;
    json.push(b'\n');
    crate::atomic_write::replace_atomic(path, &json, MODE)
}

/// Reads a state file; `None` if it is missing or not a state file we understand.
/// `updated_unix_ms` is the heartbeat ([`heartbeat_ms`]).
pub fn read(path: &Path) -> Option<EngineState> {
    let text = std::fs::read(path).ok()?;
    let mut state: EngineState = serde_json::from_slice(&text).ok()?;
    state.updated_unix_ms = heartbeat_ms(path, state.updated_unix_ms);
    Some(state)
}

/// The engine's last sign of life in the file at `path` whose content says it was
/// written at `updated_unix_ms`: the later of that and the file's modification
/// time, which the engine bumps every heartbeat without rewriting the file. 0 (a
/// file without a heartbeat) stays 0.
pub fn heartbeat_ms(path: &Path, updated_unix_ms: u64) -> u64 {
    if updated_unix_ms == 0 {
        return 0;
    }
    let touched = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    updated_unix_ms.max(touched)
}

/// The heartbeat between rewrites: sets the file's modification time to now. A
/// few system calls where a rewrite (serialise, write, rename) costs an idle
/// engine most of its CPU time (`make bench-footprint`).
pub fn touch(path: &Path) -> std::io::Result<()> {
    std::fs::File::open(path)?.set_modified(std::time::SystemTime::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> EngineState {
        EngineState {
            schema: SCHEMA,
            pid: 42,
            config: "/etc/keepalived-charm/keepalived.conf".into(),
            updated_unix_ms: 1_700_000_000_000,
            instances: vec![InstanceState {
                name: "VI_1".into(),
                family: "ipv4".into(),
                vrid: 23,
                interface: "eth0".into(),
                state: "MASTER".into(),
                base_priority: 254,
                effective_priority: 254,
                master: Some("10.0.0.1".into()),
                last_transition_unix_ms: 1_700_000_000_000,
                last_transition_reason: "master down timer expired".into(),
                vips: vec!["10.0.0.100/24".into()],
                counters: Counters::default(),
                fault: None,
                scripts: BTreeMap::new(),
                dual_master: Some("10.0.0.2".into()),
                foreign_routers: vec![ForeignRouterState {
                    address: "10.0.0.9".into(),
                    reason: "another virtual address list".into(),
                    last_heard_unix_ms: 1_699_999_999_000,
                }],
            }],
            receivers: Vec::new(),
            reloads: 0,
            last_reload_error: None,
            metrics_error: None,
        }
    }

    /// A touch is a heartbeat: the content's time stays, the reader sees the later.
    #[test]
    fn a_touch_is_a_heartbeat_without_a_rewrite() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        write(&path, &sample()).unwrap();
        let before = std::fs::read(&path).unwrap();
        touch(&path).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), before, "content unchanged");
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let seen = read(&path).unwrap().updated_unix_ms;
        assert!(
            seen + 5_000 >= now_ms && seen <= now_ms,
            "{seen} vs {now_ms}"
        );
        assert_eq!(
            heartbeat_ms(&path, 0),
            0,
            "no heartbeat in the content: none"
        );
    }

    #[test]
    fn state_file_round_trips_and_replaces_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run/state.json");
        write(&path, &sample()).unwrap();
        // The reader reports the heartbeat (the file was written now, after the
        // content's 2023 timestamp); everything else round-trips.
        let mut got = read(&path).unwrap();
        assert!(got.updated_unix_ms > sample().updated_unix_ms);
        got.updated_unix_ms = sample().updated_unix_ms;
        assert_eq!(got, sample());
        let mut next = sample();
        next.instances[0].state = "BACKUP".into();
        write(&path, &next).unwrap();
        assert_eq!(read(&path).unwrap().instances[0].state, "BACKUP");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o7777, MODE);
        // No temporary file is left behind.
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("state.json")]);
    }

    #[test]
    fn unreadable_state_is_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        assert_eq!(read(&path), None);
        std::fs::write(&path, b"{not json").unwrap();
        assert_eq!(read(&path), None);
    }
}
