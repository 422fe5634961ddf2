//! Plain HTTP from inside a lab namespace, for the engine's metrics endpoint and
//! Prometheus' query API: one thread whose network namespace is switched with
//! `setns`, so in-process code reaches addresses that exist only in that namespace.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Runs `f` on a thread of its own inside namespace `ns` (not the namespace's
/// worker, which must keep serving the advert listener).
pub fn in_netns<T: Send + 'static>(
    ns: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> std::thread::JoinHandle<T> {
    let path = format!("/run/netns/{ns}");
    std::thread::spawn(move || {
        let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("open {path}: {e}"));
        use std::os::fd::AsRawFd;
        // SAFETY: setns(2) on a valid namespace fd, open for the whole call; it
        // only affects this thread.
        let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns {path}: {}", std::io::Error::last_os_error());
        f()
    })
}

/// One HTTP/1.0 GET from inside `ns`; the body of a 200 answer.
pub fn http_get(ns: &str, addr: SocketAddr, path_and_query: &str) -> Option<String> {
    let request = format!("GET {path_and_query} HTTP/1.0\r\nHost: {addr}\r\n\r\n");
    in_netns(ns, move || {
        let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        s.write_all(request.as_bytes()).ok()?;
        let mut out = String::new();
        s.read_to_string(&mut out).ok()?;
        let (head, body) = out.split_once("\r\n\r\n")?;
        head.starts_with("HTTP/1.1 200")
            .then(|| body.to_string())
            .or_else(|| head.starts_with("HTTP/1.0 200").then(|| body.to_string()))
    })
    .join()
    .ok()
    .flatten()
}
