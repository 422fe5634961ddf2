//! Starvation hardening, keepalived's `vrrp_rt_priority` and `vrrp_no_swap`: the VRRP
//! loop runs with real-time scheduling and locked memory, so a busy or swapping
//! machine does not delay adverts (a Master's late advert is a Backup's false
//! failover at short intervals).
//!
//! * `SCHED_RR` at the configured priority, with `SCHED_RESET_ON_FORK`: every thread
//!   and process created afterwards (the metrics server, the blocking pool, the
//!   health-check scripts) runs with normal scheduling, so a slow scraper or a
//!   runaway script never inherits the right to starve the machine (sched(7)).
//! * `mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT)`: pages are locked as they are
//!   touched, not faulted in up front (a thread's 8 MiB stack reservation stays
//!   virtual), so the resident size stays what it is.
//!
//! Both are applied once at startup (as keepalived does); a kernel that refuses
//! (no `CAP_SYS_NICE` / `CAP_IPC_LOCK`, a container) gets a clear log line and the
//! engine runs on without.

use vrrp_core::config::GlobalDefs;

/// What was asked and what the kernel said, for the log and the tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// `Some(Ok(priority))` when `SCHED_RR` is in force, `Some(Err(why))` when refused.
    pub realtime: Option<Result<u8, String>>,
    /// `Some(Ok(()))` when memory is locked, `Some(Err(why))` when refused.
    pub memory_locked: Option<Result<(), String>>,
}

/// Applies `vrrp_rt_priority` and `vrrp_no_swap` to this process (call from the
/// thread that runs the VRRP loop, before it starts any other thread).
pub fn apply(global: &GlobalDefs) -> Applied {
    let realtime = global
        .rt_priority
        .map(|priority| match this_thread(i32::from(priority)) {
            Ok(()) => {
                tracing::info!(priority, "real-time scheduling (SCHED_RR) for the VRRP loop");
                Ok(priority)
            }
            Err(e) => {
                tracing::warn!(
                    priority,
                    error = %e,
                    "the kernel refused real-time scheduling (vrrp_rt_priority): adverts may be late on a busy machine; the engine needs CAP_SYS_NICE"
                );
                Err(e.to_string())
            }
        });
    let memory_locked = global.no_swap.then(|| {
        // SAFETY: mlockall(2) takes flags only; it changes no memory contents.
        let rc = unsafe {
            libc::mlockall(libc::MCL_CURRENT | libc::MCL_FUTURE | libc::MCL_ONFAULT)
        };
        if rc == 0 {
            tracing::info!("memory locked (vrrp_no_swap)");
            Ok(())
        } else {
            let e = std::io::Error::last_os_error();
            tracing::warn!(
                error = %e,
                "the kernel refused to lock the engine's memory (vrrp_no_swap): adverts may be late on a swapping machine; the engine needs CAP_IPC_LOCK"
            );
            Err(e.to_string())
        }
    });
    Applied {
        realtime,
        memory_locked,
    }
}

/// This thread's scheduling policy and priority (`sched_getscheduler`,
/// `sched_getparam`), without the reset-on-fork flag.
pub fn current() -> (i32, i32) {
    // SAFETY: both calls query the calling thread (pid 0); `param` is a valid,
    // writable sched_param for the duration of the call.
    unsafe {
        let policy = libc::sched_getscheduler(0) & !libc::SCHED_RESET_ON_FORK;
        let mut param = libc::sched_param { sched_priority: 0 };
        libc::sched_getparam(0, &mut param);
        (policy, param.sched_priority)
    }
}

/// The calling thread's real-time priority, when it runs `SCHED_RR` (the VRRP loop
/// after [`apply`] was granted it).
pub fn this_threads_priority() -> Option<i32> {
    let (policy, priority) = current();
    (policy == libc::SCHED_RR).then_some(priority)
}

/// Gives the calling thread `SCHED_RR` at `priority`, with `SCHED_RESET_ON_FORK`:
/// the VRRP loop ([`apply`]), and a thread that does the loop's work (paced adverts)
/// with the loop's right to the CPU.
pub fn this_thread(priority: i32) -> std::io::Result<()> {
    let param = libc::sched_param {
        sched_priority: priority,
    };
    // SAFETY: sched_setscheduler(2) on the calling thread (pid 0) with a valid,
    // initialised sched_param that outlives the call; it touches no memory of ours.
    let rc =
        unsafe { libc::sched_setscheduler(0, libc::SCHED_RR | libc::SCHED_RESET_ON_FORK, &param) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_asked_changes_nothing() {
        let before = current();
        let applied = apply(&GlobalDefs::default());
        assert_eq!(
            applied,
            Applied {
                realtime: None,
                memory_locked: None
            }
        );
        assert_eq!(current(), before);
    }

    /// Run on a thread of its own: the policy is per thread, and the test harness's
    /// other threads must not become real-time. As a normal user the kernel refuses,
    /// and says so; as root it is granted and a thread started afterwards runs with
    /// normal scheduling (SCHED_RESET_ON_FORK).
    #[test]
    fn real_time_is_granted_or_refused_with_a_reason_and_never_inherited() {
        let outcome = std::thread::spawn(|| {
            let global = GlobalDefs {
                rt_priority: Some(5),
                ..GlobalDefs::default()
            };
            let applied = apply(&global);
            let child = std::thread::spawn(current).join().unwrap();
            (applied, current(), child)
        })
        .join()
        .unwrap();
        let (applied, mine, child) = outcome;
        match applied.realtime {
            Some(Ok(5)) => assert_eq!(mine, (libc::SCHED_RR, 5)),
            Some(Err(why)) => {
                assert!(!why.is_empty());
                assert_eq!(mine.0, libc::SCHED_OTHER);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(child, (libc::SCHED_OTHER, 0), "never inherited");
    }
}
