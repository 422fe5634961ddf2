use std::fmt;

use super::RangeError;

/// Virtual Router IDentifier, 1..=255 (RFC 9568 §5.2.3). Zero is not a VRID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Vrid(u8);

impl Vrid {
    /// A VRID, or the error naming the range when `value` is 0.
    pub fn new(value: u8) -> Result<Vrid, RangeError> {
        if value == 0 {
            return Err(RangeError {
                what: "virtual_router_id",
                value: value.to_string(),
                allowed: "1..255",
            });
        }
        Ok(Vrid(value))
    }

    /// Parses a VRID written by a person (config file, charm option).
    pub fn parse(text: &str) -> Result<Vrid, RangeError> {
        let err = || RangeError {
            what: "virtual_router_id",
            value: text.to_string(),
            allowed: "1..255",
        };
        let n: u32 = text.trim().parse().map_err(|_| err())?;
        u8::try_from(n)
            .ok()
            .and_then(|v| Vrid::new(v).ok())
            .ok_or_else(err)
    }

    /// The wire value.
    pub fn get(self) -> u8 {
        self.0
    }
}

impl fmt::Display for Vrid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vrid_zero_is_refused_and_255_is_allowed() {
        assert!(Vrid::new(0).is_err());
        assert_eq!(Vrid::new(255).unwrap().get(), 255);
        assert_eq!(Vrid::parse(" 23 ").unwrap().get(), 23);
        let err = Vrid::parse("256").unwrap_err();
        assert_eq!(
            err.to_string(),
            "virtual_router_id 256 is out of range: allowed 1..255"
        );
    }
}
