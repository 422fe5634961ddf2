//! Paced adverts (docs/architecture.md): a steady Master's periodic adverts are sent
//! by a thread of their own, each at its deadline, so the event loop does not wake
//! once per advert.
//!
//! The router decides: `Router::hand_over_adverts` gives the driver a schedule
//! (the advert, its first deadline, the interval) only when nothing else is due
//! until the next input; the driver encodes the advert once per destination and
//! hands the frames here ([`Pacer::pace`]). Before anything reaches that router
//! again, the driver takes every schedule back ([`Pacer::reclaim`]) and gives the
//! router the count and the next deadline (`Router::take_back_adverts`).
//!
//! The one rule that keeps this safe: **no advert is sent after `reclaim`
//! returns.** The thread sends only while it holds the lock, and `reclaim` empties
//! the schedules under that lock. A router that steps down, changes its priority or
//! resigns therefore never has a stale advert of ours handed to the kernel after
//! its own.
//!
//! A schedule also ends by itself at its **lease** ([`Pacer::lease`]): the loop
//! renews it every turn to a little past the instant it will wake next. A loop that
//! stalls (a blocked task on its thread) stops advertising soon after, so the
//! Backups take over as they would have before pacing, instead of a Master whose
//! health check or shutdown nobody processes advertising on.
//!
//! The thread runs with the loop's scheduling: `SCHED_RR` at the loop's priority
//! when the loop has it (`engine::realtime`), so a busy machine delays a paced
//! advert no more than one the loop sends. If it cannot have it, it does not start,
//! and the loop sends every advert itself.

use std::fmt;
use std::io;
use std::net::IpAddr;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::engine::net::SendHandle;

/// Where a frame goes out: a VRRP socket's sending side, or a test's stand-in.
pub trait Sink: Send + Sync + fmt::Debug {
    /// As `VrrpSocket::send_from`.
    fn send_from(&self, payload: &[u8], dst: IpAddr, src: IpAddr) -> io::Result<usize>;
}

impl Sink for SendHandle {
    fn send_from(&self, payload: &[u8], dst: IpAddr, src: IpAddr) -> io::Result<usize> {
        SendHandle::send_from(self, payload, dst, src)
    }
}

/// One paced advert, encoded for each of its destinations, and where it leaves by.
#[derive(Debug, Clone)]
pub struct Frames {
    pub sink: Arc<dyn Sink>,
    pub src: IpAddr,
    /// Each destination with the payload encoded for it.
    pub to: Vec<(IpAddr, Vec<u8>)>,
}

/// What one schedule did between `pace` and `reclaim`.
#[derive(Debug)]
pub struct Paced {
    /// The key it was paced under (the instance's index).
    pub key: usize,
    /// The deadline of the first advert it did not send.
    pub next: Instant,
    /// Adverts sent (each to every destination).
    pub sent: u64,
    /// Datagrams that could not be sent, and the last error.
    pub errors: u64,
    pub last_error: Option<io::Error>,
}

#[derive(Debug)]
struct Schedule {
    frames: Frames,
    interval: Duration,
    done: Paced,
}

#[derive(Debug, Default)]
struct State {
    schedules: Vec<Schedule>,
    /// No deadline after this is sent ([`Pacer::lease`]); `None`: none at all.
    lease: Option<Instant>,
    /// What the thread sleeps until (`None`: until woken). A change wakes it only
    /// when something is due before that ([`State::wake_needed`]): the loop
    /// hands the same schedules back every turn, and each needless wake-up of the
    /// thread would cost as much as an advert.
    sleeping_until: Option<Instant>,
    stop: bool,
}

impl State {
    /// The earliest deadline the lease lets through.
    fn earliest(&self) -> Option<Instant> {
        let lease = self.lease?;
        self.schedules
            .iter()
            .map(|s| s.done.next)
            .filter(|next| *next <= lease)
            .min()
    }

    /// Whether the thread sleeps past the earliest deadline it may send.
    fn wake_needed(&self) -> bool {
        match (self.earliest(), self.sleeping_until) {
            (Some(due), Some(until)) => due < until,
            (Some(_), None) => true,
            (None, _) => false,
        }
    }
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    wake: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // The thread never panics while holding the lock (no unwrap in it); a
        // poisoned lock still holds consistent schedules.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The pacing thread and its schedules.
#[derive(Debug)]
pub struct Pacer {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Pacer {
    /// Starts the thread, with `SCHED_RR` at `rt_priority` when given (the loop's);
    /// an error when the thread cannot be started or cannot have that scheduling
    /// (a paced advert must not be easier to delay than one the loop sends).
    pub fn start(rt_priority: Option<i32>) -> io::Result<Pacer> {
        let shared = Arc::new(Shared::default());
        let theirs = Arc::clone(&shared);
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("vrrp-pacer".into())
            // Sends from prebuilt frames: a small stack is plenty.
            .stack_size(64 * 1024)
            .spawn(move || {
                let ready = rt_priority.map_or(Ok(()), crate::engine::realtime::this_thread);
                let ok = ready.is_ok();
                let _ = ready_tx.send(ready);
                if ok {
                    run(&theirs)
                }
            })?;
        let ready = ready_rx.recv().unwrap_or_else(|_| {
            Err(io::Error::other(
                "the pacing thread ended before it started",
            ))
        });
        if let Err(e) = ready {
            let _ = thread.join();
            return Err(io::Error::new(
                e.kind(),
                format!("real-time scheduling for the pacing thread: {e}"),
            ));
        }
        Ok(Pacer {
            shared,
            thread: Some(thread),
        })
    }

    /// Sends `frames` at `first` and then every `interval`, keeping the cadence
    /// as the router's advert timer does (`take_periodic`: one interval after the
    /// deadline, or after the send when that is already past, so a deadline slept
    /// through is sent once, late, never in a burst), until [`Pacer::reclaim`] or
    /// the lease. A schedule already under `key` is replaced (its count is lost:
    /// reclaim first).
    pub fn pace(&self, key: usize, frames: Frames, first: Instant, interval: Duration) {
        let mut state = self.shared.lock();
        state.schedules.retain(|s| s.done.key != key);
        state.schedules.push(Schedule {
            frames,
            interval,
            done: Paced {
                key,
                next: first,
                sent: 0,
                errors: 0,
                last_error: None,
            },
        });
        self.wake_if_needed(state);
    }

    fn wake_if_needed(&self, state: MutexGuard<'_, State>) {
        let needed = state.wake_needed();
        drop(state);
        if needed {
            self.shared.wake.notify_one();
        }
    }

    /// Whether any schedule runs.
    #[cfg(test)]
    pub fn is_pacing(&self) -> bool {
        !self.shared.lock().schedules.is_empty()
    }

    /// No deadline after `until` is sent, whatever the schedules say, until the
    /// next call: the loop sets it every turn to a little past its next wake-up.
    pub fn lease(&self, until: Instant) {
        let mut state = self.shared.lock();
        state.lease = Some(until);
        self.wake_if_needed(state);
    }

    /// Stops every schedule and returns what each did. Once this returns, none of
    /// their frames is sent again.
    pub fn reclaim(&self) -> Vec<Paced> {
        let mut state = self.shared.lock();
        std::mem::take(&mut state.schedules)
            .into_iter()
            .map(|s| s.done)
            .collect()
    }
}

impl Drop for Pacer {
    fn drop(&mut self) {
        self.shared.lock().stop = true;
        self.shared.wake.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The thread: sends what is due, then sleeps until the next deadline or a change.
fn run(shared: &Shared) {
    let mut state = shared.lock();
    loop {
        if state.stop {
            return;
        }
        let now = Instant::now();
        let lease = state.lease;
        for s in &mut state.schedules {
            // Past the lease (the loop has not come back): nothing more.
            if lease.is_some_and(|l| s.done.next <= l) && s.done.next <= now {
                let f = &s.frames;
                for (dst, bytes) in &f.to {
                    if let Err(e) = f.sink.send_from(bytes, *dst, f.src) {
                        s.done.errors += 1;
                        s.done.last_error = Some(e);
                    }
                }
                s.done.sent += 1;
                // The router's cadence (`take_periodic`): one interval after the
                // deadline, or after now when that is already past.
                let next = s.done.next + s.interval;
                s.done.next = if next > now { next } else { now + s.interval };
            }
        }
        let earliest = state.earliest();
        state.sleeping_until = earliest;
        state = match earliest {
            None => shared.wake.wait(state).unwrap_or_else(|e| e.into_inner()),
            Some(at) => {
                let wait = at.saturating_duration_since(Instant::now());
                if wait.is_zero() {
                    continue;
                }
                shared
                    .wake
                    .wait_timeout(state, wait)
                    .unwrap_or_else(|e| e.into_inner())
                    .0
            }
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixDatagram;

    /// Writes each payload to a Unix datagram socket: the test reads them with the
    /// time they arrived.
    #[derive(Debug)]
    struct Wire(UnixDatagram);

    impl Sink for Wire {
        fn send_from(&self, payload: &[u8], _dst: IpAddr, _src: IpAddr) -> io::Result<usize> {
            self.0.send(payload)
        }
    }

    /// An advert whose payload for each destination is one of `bytes`.
    fn frames(wire: &Arc<Wire>, bytes: &[u8]) -> Frames {
        Frames {
            sink: Arc::clone(wire) as Arc<dyn Sink>,
            src: "10.0.0.1".parse().unwrap(),
            to: bytes
                .iter()
                .map(|b| ("224.0.0.18".parse().unwrap(), vec![*b]))
                .collect(),
        }
    }

    /// A pacer whose lease runs for the whole test.
    fn started() -> Pacer {
        let pacer = Pacer::start(None).unwrap();
        pacer.lease(Instant::now() + Duration::from_secs(60));
        pacer
    }

    fn pair() -> (Arc<Wire>, UnixDatagram) {
        let (a, b) = UnixDatagram::pair().unwrap();
        b.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        (Arc::new(Wire(a)), b)
    }

    /// As [`pair`], the reading end returning at once when nothing came.
    fn pair_nonblocking() -> (Arc<Wire>, UnixDatagram) {
        let (wire, rx) = pair();
        rx.set_nonblocking(true).unwrap();
        (wire, rx)
    }

    /// Each advert goes to every destination at its deadline, one interval apart,
    /// and the count and next deadline say so.
    #[test]
    fn sends_each_frame_at_each_deadline_and_counts_the_adverts() {
        let pacer = started();
        let (wire, rx) = pair();
        let interval = Duration::from_millis(50);
        let first = Instant::now() + Duration::from_millis(20);
        pacer.pace(7, frames(&wire, &[1, 2]), first, interval);
        let mut buf = [0u8; 4];
        let mut worst = Duration::ZERO;
        for k in 0..4u32 {
            for byte in [1, 2] {
                let n = rx.recv(&mut buf).unwrap();
                assert_eq!(&buf[..n], &[byte]);
            }
            let due = first + interval * k;
            let now = Instant::now();
            assert!(now >= due, "advert {k} sent early");
            worst = worst.max(now - due);
        }
        let done = pacer.reclaim();
        assert_eq!(done.len(), 1);
        assert_eq!(done[0].key, 7);
        let sent = u32::try_from(done[0].sent).unwrap();
        assert!(sent >= 4, "{sent}");
        assert_eq!(done[0].errors, 0);
        // Generous for a loaded CI machine (this thread has no real-time
        // scheduling here); the lab measures the engine's own lateness.
        assert!(
            worst < Duration::from_millis(40),
            "worst lateness {worst:?}"
        );
        // Each advert less than an interval late: the next deadline is on the
        // grid, first + sent intervals.
        assert_eq!(done[0].next, first + interval * sent);
    }

    /// The safety rule: once `reclaim` returns, nothing more goes out, even with a
    /// deadline due at that very moment; and a new schedule replaces nothing else.
    #[test]
    fn nothing_is_sent_after_reclaim_returns() {
        let pacer = started();
        let (wire, rx) = pair_nonblocking();
        let interval = Duration::from_millis(1);
        for round in 0..50u8 {
            pacer.pace(0, frames(&wire, &[round]), Instant::now(), interval);
            std::thread::sleep(Duration::from_micros(700));
            let done = pacer.reclaim();
            assert!(!pacer.is_pacing());
            let mut buf = [0u8; 4];
            let mut got = 0u64;
            while let Ok(n) = rx.recv(&mut buf) {
                assert_eq!(&buf[..n], &[round]);
                got += 1;
            }
            assert_eq!(got, done[0].sent, "round {round}");
            std::thread::sleep(Duration::from_millis(3));
            assert!(rx.recv(&mut buf).is_err(), "sent after reclaim");
        }
    }

    /// Past its lease a schedule sends nothing more (the loop did not come back to
    /// renew it); renewed, it goes on from where it stopped.
    #[test]
    fn nothing_past_the_lease_is_sent_until_it_is_renewed() {
        let pacer = started();
        let (wire, rx) = pair_nonblocking();
        let interval = Duration::from_millis(10);
        let first = Instant::now();
        pacer.lease(first + Duration::from_millis(35));
        pacer.pace(0, frames(&wire, &[1]), first, interval);
        std::thread::sleep(Duration::from_millis(120));
        let mut buf = [0u8; 4];
        let mut got = 0;
        while rx.recv(&mut buf).is_ok() {
            got += 1;
        }
        // Deadlines at 0, 10, 20 and 30 ms lie within the lease; none after.
        assert_eq!(got, 4);
        pacer.lease(Instant::now() + Duration::from_secs(60));
        std::thread::sleep(Duration::from_millis(30));
        let done = pacer.reclaim();
        assert!(done[0].sent >= 5, "{}", done[0].sent);
    }

    /// A send error is counted and kept, and the schedule goes on.
    #[test]
    fn a_failed_send_is_counted_and_the_cadence_goes_on() {
        let pacer = started();
        let (wire, rx) = pair();
        drop(rx);
        let interval = Duration::from_millis(5);
        pacer.pace(3, frames(&wire, &[9]), Instant::now(), interval);
        std::thread::sleep(Duration::from_millis(30));
        let done = pacer.reclaim();
        assert!(done[0].sent >= 2);
        assert_eq!(done[0].errors, done[0].sent);
        assert!(done[0].last_error.is_some());
    }

    /// A deadline slept through (the thread could not run) is sent once, late, and
    /// the next one is an interval after that send: no burst of catch-up adverts.
    #[test]
    fn a_missed_deadline_is_sent_once_not_in_a_burst() {
        let pacer = started();
        let (wire, rx) = pair_nonblocking();
        let interval = Duration::from_millis(50);
        // The first deadline passed 0.5 s ago: ten periods missed.
        let first = Instant::now() - Duration::from_millis(500);
        pacer.pace(0, frames(&wire, &[1]), first, interval);
        std::thread::sleep(Duration::from_millis(20));
        let done = pacer.reclaim();
        assert_eq!(done[0].sent, 1);
        assert!(done[0].next > Instant::now());
        let mut buf = [0u8; 4];
        assert!(rx.recv(&mut buf).is_ok());
        assert!(rx.recv(&mut buf).is_err());
    }
}
