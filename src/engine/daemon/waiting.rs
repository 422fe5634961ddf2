//! Adverts that wait (docs/architecture.md): which of a socket's adverts go to its
//! never-polled waiting queue (`refresh_waits`, from `Router::advert_may_wait`),
//! and reading that queue before anything else reaches a router (`read_waiting`),
//! each advert with the time the kernel stamped on it.
//!
//! The stamps are wall-clock time; the routers run on the monotonic clock. A stamp
//! becomes a router time by its age against the wall clock read now, which a step
//! of the wall clock would falsify: a step since the last read (the two clocks'
//! offset moved by more than `STEP`) or a full queue (datagrams dropped) makes
//! every advert of that read count as arriving now, which can only make the down
//! timer run later, never sooner.

use std::net::IpAddr;
use std::time::{Duration, SystemTime};

use crate::engine::net::waiting::{self, Keep, WaitPattern, WaitingQueue};
use crate::engine::net::Interface;
use vrrp_core::proto::{Advert, Family};
use vrrp_core::router::Time;

use super::driver::Driver;
use super::sockets::Receiver;

/// How far the wall clock may drift from the monotonic one between two reads of
/// the queues before it counts as stepped. NTP slews at most 500 ppm: 2 ms over
/// the longest default down interval; a step is hundreds of ms or more.
const STEP: Duration = Duration::from_millis(20);

/// Datagrams read from one waiting queue per read, at most: a queue holds a down
/// interval's worth of one Master's adverts (three or four), so this is only a
/// bound against a queue that refills as fast as it is read.
const READ_AT_MOST: usize = 256;

/// The advert an instance last read from its polled socket, for its copies to wait.
#[derive(Debug, Clone)]
pub struct WaitCandidate {
    pub from: IpAddr,
    pub advert: Advert,
    pub pattern: WaitPattern,
}

/// What the waiting queues need of the clocks between reads.
#[derive(Debug, Default)]
pub struct ArrivalClock {
    /// Wall clock minus monotonic clock (ns) at the last read or filter change.
    offset: Option<i128>,
    /// The monotonic time of the last read: an advert stamped earlier raced that
    /// read and is fed at its time, so a router never sees time run backwards.
    last_read: Time,
}

/// One read of the queues: the times it maps stamps with.
#[derive(Debug, Clone, Copy)]
pub struct Reading {
    now: Time,
    wall: SystemTime,
    floor: Time,
    trusted: bool,
}

fn offset_ns(now: Time, wall: SystemTime) -> i128 {
    let wall = match wall.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => d.as_nanos() as i128,
        Err(e) => -(e.duration().as_nanos() as i128),
    };
    wall - now.since_epoch().as_nanos() as i128
}

impl ArrivalClock {
    /// Notes the clocks' offset (when a filter starts sending adverts to a queue).
    pub fn mark(&mut self, now: Time, wall: SystemTime) {
        self.offset = Some(offset_ns(now, wall));
    }

    /// Starts a read at `now` / `wall`: stamps are trusted when the clocks kept
    /// their offset since the last read or mark.
    pub fn begin(&mut self, now: Time, wall: SystemTime) -> Reading {
        let offset = offset_ns(now, wall);
        let trusted = self
            .offset
            .is_some_and(|before| (offset - before).unsigned_abs() <= STEP.as_nanos());
        self.offset = Some(offset);
        let floor = self.last_read.min(now);
        self.last_read = now;
        Reading {
            now,
            wall,
            floor,
            trusted,
        }
    }
}

impl Reading {
    /// The router time of an advert stamped `stamp`, read at `fresh` (the
    /// monotonic clock read just now): its age subtracted from the reading's now,
    /// kept between the last read and then. `fresh` itself when the stamps are not
    /// trusted, the stamp is missing, or it is later than the reading's wall clock
    /// (it arrived while this read went on): the advert can only look younger than
    /// it is, never older.
    pub fn arrival(&self, stamp: Option<SystemTime>, fresh: Time) -> Time {
        let Some(stamp) = stamp.filter(|_| self.trusted) else {
            return fresh;
        };
        let Ok(age) = self.wall.duration_since(stamp) else {
            return fresh;
        };
        let since_floor = self.now.saturating_since(self.floor);
        if age >= since_floor {
            return self.floor;
        }
        Time::from_epoch(self.now.since_epoch() - age)
    }

    /// The same read, with every stamp distrusted (a queue dropped datagrams).
    pub fn distrusted(self) -> Reading {
        Reading {
            trusted: false,
            ..self
        }
    }
}

impl Receiver {
    /// Makes the waiting queue keep exactly `wanted` (IPv4 sockets only) and this
    /// socket turn them away, opening the queue on first use. The filters change
    /// in three steps so that no advert is lost meanwhile (one may be read from
    /// both; the copy from the queue carries the same arrival time, so it adds a
    /// count and re-arms the down timer for the same instant): the queue keeps old and new,
    /// then this socket turns the new away, then the queue keeps the new only.
    /// Returns whether anything changed.
    pub fn set_waits(
        &mut self,
        wanted: Vec<WaitPattern>,
        interface: &Interface,
    ) -> Result<bool, crate::engine::net::SocketError> {
        if wanted == self.asked {
            return Ok(false);
        }
        let err = |op: &'static str| {
            let ifname = interface.name.clone();
            move |source: std::io::Error| crate::engine::net::SocketError { op, ifname, source }
        };
        if self.waiting.is_none() {
            if wanted.is_empty() {
                self.asked = wanted;
                return Ok(false);
            }
            self.waiting = Some(WaitingQueue::open(interface, self.delivery)?);
        }
        let Some(queue) = self.waiting.as_ref() else {
            return Ok(false);
        };
        let queue = std::os::fd::AsFd::as_fd(queue);
        let main = std::os::fd::AsFd::as_fd(self.socket.get_ref());
        let mut both = self.waits.clone();
        both.extend(wanted.iter().filter(|p| !self.waits.contains(p)).cloned());
        if waiting::program(&both, Keep::Matching).1 < both.len() {
            // Old and new together do not fit one filter: for a moment nothing
            // waits (the socket takes everything first), then the new ones.
            waiting::detach(main).map_err(err("filter the VRRP socket"))?;
            let (nothing, _) = waiting::program(&[], Keep::Matching);
            waiting::attach(queue, &nothing).map_err(err("filter the waiting queue"))?;
            self.waits.clear();
            both = wanted.clone();
        }
        // Whatever the socket turns away, the queue keeps already.
        let (keep_both, held) = waiting::program(&both, Keep::Matching);
        let kept: Vec<WaitPattern> = wanted
            .iter()
            .filter(|p| both[..held].contains(p))
            .cloned()
            .collect();
        waiting::attach(queue, &keep_both).map_err(err("filter the waiting queue"))?;
        if kept.is_empty() {
            waiting::detach(main)
        } else {
            waiting::attach(main, &waiting::program(&kept, Keep::Others).0)
        }
        .map_err(err("filter the VRRP socket"))?;
        waiting::attach(queue, &waiting::program(&kept, Keep::Matching).0)
            .map_err(err("filter the waiting queue"))?;
        if !kept.is_empty() {
            self.waiting_live = true;
        }
        self.waits = kept;
        self.asked = wanted;
        Ok(true)
    }

    /// After a filter change failed: every advert goes to the polled socket again
    /// (best effort), the queue is read empty once more, and this socket lets no
    /// advert wait any more.
    fn stop_waiting(&mut self) {
        let main = std::os::fd::AsFd::as_fd(self.socket.get_ref());
        // Only once the socket takes every advert again may the queue stop
        // keeping any: otherwise the adverts it turns away would go nowhere. If
        // the socket's filter cannot be removed, the queue keeps what it keeps and
        // goes on being read.
        if waiting::detach(main).is_ok() {
            if let Some(queue) = self.waiting.as_ref() {
                let (nothing, _) = waiting::program(&[], Keep::Matching);
                if waiting::attach(std::os::fd::AsFd::as_fd(queue), &nothing).is_ok() {
                    self.waits.clear();
                }
            }
        }
        self.waiting_live = self.waiting.is_some();
        self.waiting_failed = true;
    }
}

/// The adverts the IPv4 instances on `interface` may let wait now.
fn waits_of<'a>(
    instances: &'a [super::instance::Instance],
    interface: &'a str,
) -> impl Iterator<Item = &'a WaitPattern> + 'a {
    instances
        .iter()
        .filter(move |i| i.config.family == Family::V4 && i.config.interface == interface)
        .filter_map(|i| {
            let c = i.wait_candidate.as_ref()?;
            i.router
                .advert_may_wait(c.from, &c.advert)
                .then_some(&c.pattern)
        })
}

impl Driver {
    /// Reads every waiting queue that may hold adverts and feeds them to the
    /// routers, each at the time it arrived. Called before any other input
    /// reaches a router, so the routers see inputs in the order they happened.
    pub(super) async fn read_waiting(&mut self) {
        if !self.receivers.values().any(|r| r.waiting_live) {
            return;
        }
        // The wall clock first: whatever passes before the monotonic one is read
        // makes the adverts look younger, never older.
        let wall = SystemTime::now();
        let reading = self.arrival.begin(self.now(), wall);
        let live: Vec<_> = self
            .receivers
            .iter()
            .filter(|(_, r)| r.waiting_live)
            .map(|(k, r)| (k.clone(), r.id))
            .collect();
        let mut buf = std::mem::take(&mut self.wait_buf);
        buf.resize(2048, 0);
        for (key, id) in live {
            let mut reading = reading;
            // A queue that dropped adverts since the last read (it was full: the
            // loop did not run for a long time) holds only older ones: what it
            // holds counts as arriving now. So does one whose count is unknown.
            if let Some(r) = self.receivers.get_mut(&key) {
                match r.waiting.as_ref().map(|q| q.drops()) {
                    Some(Ok(drops)) if drops == r.queue_drops => {}
                    Some(Ok(drops)) => {
                        r.queue_drops = drops;
                        reading = reading.distrusted();
                    }
                    _ => reading = reading.distrusted(),
                }
            }
            for _ in 0..READ_AT_MOST {
                let Some(r) = self.receivers.get_mut(&key) else {
                    break;
                };
                let Some(queue) = r.waiting.as_ref() else {
                    r.waiting_live = false;
                    break;
                };
                let (len, meta) = match queue.recv(&mut buf) {
                    Ok(got) => got,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        // Nothing left; a queue no advert goes to any more is not
                        // read again.
                        r.waiting_live = !r.waits.is_empty();
                        break;
                    }
                    Err(e) => {
                        tracing::warn!(interface = %key.0, error = %e, "cannot read the waiting queue");
                        break;
                    }
                };
                let at = reading.arrival(meta.stamp, self.now());
                self.on_packet(id, &buf[..len.min(buf.len())], meta, at, true)
                    .await;
            }
        }
        self.wait_buf = buf;
    }

    /// Points each IPv4 socket's waiting queue at the adverts its instances may
    /// let wait now (`Router::advert_may_wait`): run after every turn, it costs
    /// no system call unless the set changed. Returns whether it changed.
    pub(super) fn refresh_waits(&mut self) -> bool {
        let mut changed = false;
        let instances = &self.instances;
        for (key, r) in self.receivers.iter_mut() {
            if key.1 != Family::V4 || r.waiting_failed {
                continue;
            }
            // The usual turn (a Master's advert, a Backup whose set is unchanged)
            // allocates nothing.
            if waits_of(instances, &key.0).eq(r.asked.iter()) {
                continue;
            }
            let wanted: Vec<WaitPattern> = waits_of(instances, &key.0).cloned().collect();
            let Some(link) = self.host.link(&key.0) else {
                continue;
            };
            match r.set_waits(wanted, &link.interface()) {
                Ok(c) => changed |= c,
                Err(e) => {
                    // Half-changed filters could send one advert to both sockets
                    // for good: this socket reads every advert when it comes.
                    r.stop_waiting();
                    tracing::warn!(interface = %key.0, error = %e, "cannot let adverts wait: this interface's adverts are read when they come");
                }
            }
        }
        if changed {
            self.arrival.mark(self.now(), SystemTime::now());
        }
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_000_000_000_000; // a wall clock 1000 s after its epoch

    fn wall(ns: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_nanos(T0 + ns)
    }

    fn at(ns: u64) -> Time {
        Time::from_nanos(ns)
    }

    /// The monotonic clock read again 1 µs after the reading began.
    fn soon(r: &Reading) -> Time {
        r.now + Duration::from_micros(1)
    }

    /// Reads at 1 s and 4 s (monotonic), the wall clock in step.
    fn steady_reads() -> Reading {
        let mut c = ArrivalClock::default();
        c.mark(at(0), wall(0));
        c.begin(at(1_000_000_000), wall(1_000_000_000));
        c.begin(at(4_000_000_000), wall(4_000_000_000))
    }

    #[test]
    fn an_advert_is_fed_at_the_time_the_kernel_stamped_it() {
        let r = steady_reads();
        assert_eq!(
            r.arrival(Some(wall(3_250_000_000)), soon(&r)),
            at(3_250_000_000)
        );
        assert_eq!(
            r.arrival(Some(wall(4_000_000_000)), soon(&r)),
            at(4_000_000_000)
        );
    }

    /// Stamped before the last read but queued after it: fed at that read, so the
    /// router never sees time run backwards.
    #[test]
    fn an_advert_that_raced_the_last_read_is_fed_at_that_read() {
        let r = steady_reads();
        assert_eq!(
            r.arrival(Some(wall(999_999_000)), soon(&r)),
            at(1_000_000_000)
        );
    }

    /// Whatever could make the down timer run sooner than the adverts say counts
    /// as "arrived now", which can only make it run later.
    #[test]
    fn a_stamp_that_cannot_be_trusted_counts_as_arriving_now() {
        let r = steady_reads();
        let now = soon(&r);
        // Later than the reading's wall clock: it arrived while the read went on
        // (or the wall clock was stepped back before it arrived).
        assert_eq!(r.arrival(Some(wall(4_000_000_001)), now), now);
        assert_eq!(r.arrival(None, now), now);
        // A full queue dropped some.
        assert_eq!(r.distrusted().arrival(Some(wall(3_000_000_000)), now), now);
        // The wall clock was stepped forward an hour between the reads.
        let mut c = ArrivalClock::default();
        c.mark(at(0), wall(0));
        c.begin(at(1_000_000_000), wall(1_000_000_000));
        let hour = 3_600_000_000_000;
        let r = c.begin(at(4_000_000_000), wall(hour + 4_000_000_000));
        assert_eq!(
            r.arrival(Some(wall(hour + 3_000_000_000)), soon(&r)),
            soon(&r)
        );
        // ... and the next read, in step again, trusts the stamps again.
        let r = c.begin(at(5_000_000_000), wall(hour + 5_000_000_000));
        assert_eq!(
            r.arrival(Some(wall(hour + 4_500_000_000)), soon(&r)),
            at(4_500_000_000)
        );
        // No mark yet: nothing to compare with.
        let mut fresh = ArrivalClock::default();
        let r = fresh.begin(at(4_000_000_000), wall(4_000_000_000));
        assert_eq!(r.arrival(Some(wall(3_000_000_000)), soon(&r)), soon(&r));
    }

    /// NTP slews the wall clock by at most 500 ppm: between two reads of a down
    /// interval apart that stays far inside `STEP`.
    #[test]
    fn a_slewing_wall_clock_is_still_trusted() {
        let mut c = ArrivalClock::default();
        c.mark(at(0), wall(0));
        let r = c.begin(at(4_000_000_000), wall(4_002_000_000));
        assert_eq!(
            r.arrival(Some(wall(3_002_000_000)), soon(&r)),
            at(3_000_000_000)
        );
    }
}
