use std::fmt;

use super::RangeError;

/// A VRRP priority as carried on the wire (RFC 9568 §5.2.4).
///
/// * 255: the address owner; it always preempts and its priority is never changed
///   by tracking.
/// * 1..=254: backups (keepalived default 100).
/// * 0: "the current Active is resigning" — only ever sent, never configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Priority(u8);

impl Priority {
    /// 0: the sender is resigning (RFC 9568 §5.2.4).
    pub const RELEASE: Priority = Priority(0);
    /// 255: the address owner.
    pub const OWNER: Priority = Priority(255);
    /// keepalived's and the RFC's default for a backup.
    pub const DEFAULT: Priority = Priority(100);
    /// Highest priority a non-owner can reach through tracking weights.
    pub const MAX_BACKUP: Priority = Priority(254);
    /// Lowest priority a non-owner can fall to through tracking weights.
    pub const MIN_BACKUP: Priority = Priority(1);

    /// Any wire value, including 0 and 255 (what a decoder produces).
    pub const fn from_wire(value: u8) -> Priority {
        Priority(value)
    }

    /// A configured priority: 1..=255 (0 is reserved for release).
    pub fn configured(value: u32) -> Result<Priority, RangeError> {
        match u8::try_from(value) {
            Ok(v) if v >= 1 => Ok(Priority(v)),
            _ => Err(RangeError {
                what: "priority",
                value: value.to_string(),
                allowed: "1..255",
            }),
        }
    }

    /// The wire value.
    pub fn get(self) -> u8 {
        self.0
    }

    /// Whether this is the address owner's 255.
    pub fn is_owner(self) -> bool {
        self.0 == 255
    }

    /// Whether this is the resigning 0.
    pub fn is_release(self) -> bool {
        self.0 == 0
    }

    /// keepalived's effective priority: base plus the sum of tracker weights, clamped
    /// to 1..=254; an owner stays 255 whatever the trackers say (vrrp_track.c).
    pub fn with_weight(self, weight_sum: i32) -> Priority {
        if self.is_owner() {
            return self;
        }
        let raw = i32::from(self.0) + weight_sum;
        Priority(raw.clamp(1, 254) as u8)
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn effective_priority_is_clamped_and_owner_is_untouched() {
        assert_eq!(Priority::from_wire(250).with_weight(10).get(), 254);
        assert_eq!(Priority::from_wire(5).with_weight(-50).get(), 1);
        assert_eq!(Priority::OWNER.with_weight(-100), Priority::OWNER);
        assert_eq!(Priority::from_wire(100).with_weight(2).get(), 102);
    }

    #[test]
    fn configured_priority_refuses_zero() {
        assert!(Priority::configured(0).is_err());
        assert!(Priority::configured(256).is_err());
        assert_eq!(Priority::configured(255).unwrap(), Priority::OWNER);
    }
}
