//! Deadline-bounded polling: assertions never rest on fixed sleeps.

use std::time::{Duration, Instant};

/// Polls `probe` every 5 ms until it returns `Some`, and returns that value; panics
/// naming `what` if `within` passes first.
pub fn wait_until<T>(what: &str, within: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = probe() {
            return v;
        }
        if Instant::now() >= deadline {
            panic!("timed out after {within:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Like [`wait_until`] for a condition.
pub fn wait_for(what: &str, within: Duration, mut cond: impl FnMut() -> bool) {
    wait_until(what, within, || cond().then_some(()))
}
