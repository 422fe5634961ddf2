//! A microsecond-precise timer for the event loop (Linux timerfd on CLOCK_MONOTONIC,
//! driven by the tokio reactor).
//!
//! Why not `tokio::time::sleep`: tokio's timer wheel ticks in milliseconds and rounds
//! every deadline up to the next tick, so each router timer would fire up to 1 ms late
//! (plus the tick's own lateness). The RFC timers are exact to the nanosecond
//! (`Timers`); at the charm's priorities a Skew_Time is 3.9 ms per priority step and
//! at a 10 ms advert interval 40 µs, so a millisecond of rounding is the difference
//! between backups. A timerfd fires within microseconds of its deadline.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

/// One re-armable monotonic timer.
#[derive(Debug)]
pub struct PreciseTimer {
    fd: AsyncFd<OwnedFd>,
}

impl PreciseTimer {
    /// Creates the timer on the current tokio runtime (must be called inside one).
    pub fn new() -> io::Result<PreciseTimer> {
        // SAFETY: timerfd_create takes two integer flags and returns a new descriptor
        // or -1; it touches no memory of ours.
        let raw = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a descriptor timerfd_create just returned to us and that
        // nothing else owns; OwnedFd takes sole ownership and closes it on drop.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: the OwnedFd is moved into the AsyncFd, which owns it until it is
        // dropped: the descriptor stays open and is not replaced while registered.
        let fd = unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }
            .map_err(|e| e.into_parts().1)?;
        Ok(PreciseTimer { fd })
    }

    /// Waits until `deadline`. Re-arming replaces any earlier deadline (and clears an
    /// expiry nobody waited for), so the future may be dropped and recreated freely,
    /// e.g. as one branch of a `select!`.
    pub async fn sleep_until(&self, deadline: Instant) -> io::Result<()> {
        let now = Instant::now();
        if deadline <= now {
            return Ok(());
        }
        self.arm(deadline - now)?;
        loop {
            let mut guard = self.fd.readable().await?;
            // No read of the expiration count (keepalived makes one per wake-up; in
            // a process of several threads it is among the dearest of the loop's
            // system calls): arming resets the count, and each expiry is a new edge
            // for the edge-triggered reactor. The clock, read after the readiness
            // is cleared, tells this arming's expiry from one left over from an
            // earlier arming, and an expiry that came in between is not missed.
            guard.clear_ready();
            if Instant::now() >= deadline {
                return Ok(());
            }
        }
    }

    fn arm(&self, after: Duration) -> io::Result<()> {
        // A zero it_value would disarm the timer: never ask for less than 1 ns.
        let after = after.max(Duration::from_nanos(1));
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: libc::time_t::try_from(after.as_secs()).unwrap_or(libc::time_t::MAX),
                tv_nsec: after.subsec_nanos() as libc::c_long,
            },
        };
        // SAFETY: the descriptor is our open timerfd; `spec` is a valid itimerspec
        // that lives across the call; a null old_value asks for nothing back.
        let rc = unsafe {
            libc::timerfd_settime(
                self.fd.get_ref().as_raw_fd(),
                0,
                &spec,
                std::ptr::null_mut(),
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fires_at_its_deadline_within_a_fraction_of_a_millisecond_and_can_be_rearmed() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let timer = PreciseTimer::new().unwrap();
            // An arming abandoned before it fires must not wake the next wait early.
            let _ = tokio::time::timeout(
                Duration::from_millis(1),
                timer.sleep_until(Instant::now() + Duration::from_micros(1500)),
            )
            .await;
            tokio::time::sleep(Duration::from_millis(3)).await;
            let mut worst = Duration::ZERO;
            for _ in 0..20 {
                let deadline = Instant::now() + Duration::from_micros(2_345);
                timer.sleep_until(deadline).await.unwrap();
                let now = Instant::now();
                assert!(now >= deadline, "woke early");
                worst = worst.max(now - deadline);
            }
            // Generous for a loaded CI machine; tokio's own timer is ~1 ms late.
            assert!(worst < Duration::from_millis(5), "worst lateness {worst:?}");
            timer.sleep_until(Instant::now()).await.unwrap();
        });
    }
}
