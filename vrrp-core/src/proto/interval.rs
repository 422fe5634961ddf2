use std::fmt;
use std::time::Duration;

use super::{Priority, RangeError, Version};

const NANOS_PER_CENTI: u64 = 10_000_000;
const NANOS_PER_SEC: u64 = 1_000_000_000;

/// An advertisement interval, held in centiseconds (the VRRPv3 wire unit).
///
/// VRRPv3 carries 12 bits of centiseconds, 1..=4095 (RFC 9568 §5.2.7; erratum 8301
/// makes 0 invalid). VRRPv2 carries whole seconds in 8 bits; a v2 interval is a whole
/// number of seconds, 1..=255.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AdvertInterval {
    centis: u16,
}

impl AdvertInterval {
    /// keepalived's and the RFCs' default: 1 s.
    pub const DEFAULT: AdvertInterval = AdvertInterval { centis: 100 };

    /// A v3 wire value in centiseconds.
    pub fn from_centis(centis: u16) -> Result<AdvertInterval, RangeError> {
        if (1..=4095).contains(&centis) {
            Ok(AdvertInterval { centis })
        } else {
            Err(RangeError {
                what: "advertisement interval (centiseconds)",
                value: centis.to_string(),
                allowed: "1..4095",
            })
        }
    }

    /// A v2 wire value in whole seconds.
    pub fn from_secs(secs: u8) -> Result<AdvertInterval, RangeError> {
        if secs == 0 {
            return Err(RangeError {
                what: "advertisement interval (seconds)",
                value: "0".into(),
                allowed: "1..255",
            });
        }
        Ok(AdvertInterval {
            centis: u16::from(secs) * 100,
        })
    }

    /// The interval as written in keepalived.conf (`advert_int 0.1`), checked against
    /// what `version` can carry: v2 needs whole seconds 1..=255, v3 needs a multiple
    /// of 10 ms in 0.01..=40.95 s.
    pub fn parse(text: &str, version: Version) -> Result<AdvertInterval, RangeError> {
        let (allowed, what) = match version {
            Version::V2 => ("whole seconds 1..255 for VRRPv2", "advert_int"),
            Version::V3 => (
                "0.01..40.95 seconds in steps of 0.01 for VRRPv3",
                "advert_int",
            ),
        };
        let err = || RangeError {
            what,
            value: text.to_string(),
            allowed,
        };
        let centis = parse_centis(text.trim()).ok_or_else(err)?;
        match version {
            Version::V2 => {
                if centis % 100 != 0 || !(100..=25_500).contains(&centis) {
                    return Err(err());
                }
                Ok(AdvertInterval {
                    centis: u16::try_from(centis).map_err(|_| err())?,
                })
            }
            Version::V3 => {
                let c = u16::try_from(centis).map_err(|_| err())?;
                AdvertInterval::from_centis(c).map_err(|_| err())
            }
        }
    }

    /// The interval in centiseconds (the v3 wire unit).
    pub fn centis(self) -> u16 {
        self.centis
    }

    /// Whole seconds for a v2 header, or None if the interval is not representable.
    pub fn whole_secs(self) -> Option<u8> {
        if self.centis % 100 == 0 {
            u8::try_from(self.centis / 100).ok()
        } else {
            None
        }
    }

    /// The interval as a duration.
    pub fn as_duration(self) -> Duration {
        Duration::from_nanos(u64::from(self.centis) * NANOS_PER_CENTI)
    }
}

/// Parses "1", "0.1", "0.25", "40.95" into centiseconds; None for anything finer than
/// 0.01 s or not a plain decimal.
fn parse_centis(text: &str) -> Option<u32> {
    let (int, frac) = match text.split_once('.') {
        Some((i, f)) => (i, f),
        None => (text, ""),
    };
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if !int.chars().all(|c| c.is_ascii_digit()) || !frac.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let int: u32 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let frac = frac.trim_end_matches('0');
    if frac.len() > 2 {
        return None;
    }
    let frac_centis: u32 = match frac.len() {
        0 => 0,
        1 => frac.parse::<u32>().ok()? * 10,
        _ => frac.parse().ok()?,
    };
    int.checked_mul(100)?.checked_add(frac_centis)
}

impl fmt::Display for AdvertInterval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.centis % 100 == 0 {
            write!(f, "{}", self.centis / 100)
        } else {
            write!(f, "{}.{:02}", self.centis / 100, self.centis % 100)
        }
    }
}

/// The timers of one router, derived from its version, its priority and the
/// interval it listens to (v3: the Active's, learned from adverts).
///
/// All arithmetic is in nanoseconds, multiply before divide (a v3 skew at priority
/// 254 and 1 cs is 78.125 µs: integer milliseconds would make it 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timers {
    /// Skew_Time: ((256 - priority) × interval) / 256.
    pub skew_time: Duration,
    /// Master_Down_Interval: 3 × interval + Skew_Time (or `down_adverts` × interval
    /// with keepalived's `down_timer_adverts`).
    pub master_down_interval: Duration,
}

impl Timers {
    /// The RFCs' Master_Down_Interval: three advert intervals plus Skew_Time.
    pub const RFC_DOWN_ADVERTS: u8 = 3;
    /// keepalived's upper bound for `down_timer_adverts`.
    pub const MAX_DOWN_ADVERTS: u8 = 100;

    /// RFC 3768 §6.1: `Skew_Time = (256 - Priority) / 256` seconds — not scaled by the
    /// interval. RFC 9568 §6.1: `Skew_Time = ((256 - Priority) * Active_Adver_Interval)
    /// / 256`. Both: `Down_Interval = 3 * interval + Skew_Time`.
    pub fn new(version: Version, priority: Priority, master_adver_int: AdvertInterval) -> Timers {
        Timers::with_down_adverts(
            version,
            priority,
            master_adver_int,
            Timers::RFC_DOWN_ADVERTS,
        )
    }

    /// As [`Timers::new`], with `down_adverts` intervals instead of the RFCs' 3
    /// (keepalived's `down_timer_adverts`, docs/requirements.md K-16). Skew_Time is
    /// unchanged: it only orders the Backups.
    pub fn with_down_adverts(
        version: Version,
        priority: Priority,
        master_adver_int: AdvertInterval,
        down_adverts: u8,
    ) -> Timers {
        let weight = 256 - u64::from(priority.get());
        let interval_ns = u64::from(master_adver_int.centis()) * NANOS_PER_CENTI;
        let skew_ns = match version {
            Version::V2 => weight * NANOS_PER_SEC / 256,
            Version::V3 => weight * interval_ns / 256,
        };
        Timers {
            skew_time: Duration::from_nanos(skew_ns),
            master_down_interval: Duration::from_nanos(
                u64::from(down_adverts) * interval_ns + skew_ns,
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(v: u8) -> Priority {
        Priority::from_wire(v)
    }

    #[test]
    fn v2_skew_is_not_scaled_by_the_interval() {
        let t = Timers::new(Version::V2, p(100), AdvertInterval::from_secs(2).unwrap());
        assert_eq!(t.skew_time, Duration::from_nanos(609_375_000));
        assert_eq!(t.master_down_interval, Duration::from_nanos(6_609_375_000));
    }

    #[test]
    fn v3_skew_is_scaled_and_exact_to_the_nanosecond() {
        let t = Timers::new(
            Version::V3,
            p(100),
            AdvertInterval::from_centis(10).unwrap(),
        );
        assert_eq!(t.skew_time, Duration::from_nanos(60_937_500));
        assert_eq!(t.master_down_interval, Duration::from_nanos(360_937_500));
        // priority 254 at the 1 cs minimum: 78.125 µs, lost by ms arithmetic.
        let t = Timers::new(Version::V3, p(254), AdvertInterval::from_centis(1).unwrap());
        assert_eq!(t.skew_time, Duration::from_nanos(78_125));
    }

    #[test]
    fn down_timer_adverts_scales_the_intervals_but_not_the_skew() {
        let i = AdvertInterval::from_centis(8).unwrap();
        let t = Timers::with_down_adverts(Version::V3, p(100), i, 4);
        // 4 × 80 ms + (156 × 80 ms) / 256 = 320 ms + 48.75 ms.
        assert_eq!(t.skew_time, Duration::from_nanos(48_750_000));
        assert_eq!(t.master_down_interval, Duration::from_nanos(368_750_000));
        assert_eq!(
            Timers::with_down_adverts(Version::V2, p(100), AdvertInterval::DEFAULT, 3),
            Timers::new(Version::V2, p(100), AdvertInterval::DEFAULT)
        );
    }

    #[test]
    fn reference_table_figures() {
        let one = AdvertInterval::DEFAULT;
        let t = Timers::new(Version::V2, p(254), one);
        assert_eq!(t.skew_time, Duration::from_nanos(7_812_500));
        assert_eq!(t.master_down_interval, Duration::from_nanos(3_007_812_500));
        let t = Timers::new(Version::V2, p(150), one);
        assert_eq!(t.master_down_interval, Duration::from_nanos(3_414_062_500));
    }

    #[test]
    fn advert_int_parsing_respects_the_version() {
        assert_eq!(
            AdvertInterval::parse("1", Version::V2).unwrap().centis(),
            100
        );
        assert!(AdvertInterval::parse("0.5", Version::V2).is_err());
        assert_eq!(
            AdvertInterval::parse("0.1", Version::V3).unwrap().centis(),
            10
        );
        assert_eq!(
            AdvertInterval::parse("40.95", Version::V3)
                .unwrap()
                .centis(),
            4095
        );
        assert!(AdvertInterval::parse("40.96", Version::V3).is_err());
        assert!(AdvertInterval::parse("0.005", Version::V3).is_err());
        assert!(AdvertInterval::parse("0", Version::V3).is_err());
        assert!(AdvertInterval::parse("abc", Version::V3).is_err());
        let e = AdvertInterval::parse("0.5", Version::V2).unwrap_err();
        assert_eq!(
            e.to_string(),
            "advert_int 0.5 is out of range: allowed whole seconds 1..255 for VRRPv2"
        );
        assert_eq!(AdvertInterval::from_centis(10).unwrap().to_string(), "0.10");
        assert_eq!(AdvertInterval::DEFAULT.to_string(), "1");
    }
}
