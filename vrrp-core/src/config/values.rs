//! Parsers for the values of directives. Each returns a message that names the
//! directive, the bad value and what is allowed; the caller adds file:line.
//!
//! Numbers are plain decimal digits: keepalived 2.2 refuses `0x10` and `1e0`, and we
//! also refuse signs and spaces rather than guess.

use std::net::IpAddr;
use std::time::Duration;

use crate::proto::Family;

/// A whole number in `lo..=hi`.
pub(crate) fn uint(what: &str, text: &str, lo: u32, hi: u32) -> Result<u32, String> {
    let expected = || format!("{what} \"{text}\" is not a whole number: allowed {lo}..{hi}");
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(expected());
    }
    match text.parse::<u32>() {
        Ok(n) if (lo..=hi).contains(&n) => Ok(n),
        _ => Err(format!("{what} {text} is out of range: allowed {lo}..{hi}")),
    }
}

/// A signed whole number in `lo..=hi` (weights).
pub(crate) fn int(what: &str, text: &str, lo: i32, hi: i32) -> Result<i32, String> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "{what} \"{text}\" is not a whole number: allowed {lo}..{hi}"
        ));
    }
    match text.parse::<i32>() {
        Ok(n) if (lo..=hi).contains(&n) => Ok(n),
        _ => Err(format!("{what} {text} is out of range: allowed {lo}..{hi}")),
    }
}

/// Whole seconds in `lo..=hi`.
pub(crate) fn whole_secs(what: &str, text: &str, lo: u32, hi: u32) -> Result<Duration, String> {
    let secs = uint(what, text, lo, hi).map_err(|e| format!("{e} seconds"))?;
    Ok(Duration::from_secs(u64::from(secs)))
}

/// Decimal seconds (`0.5`, `10`, `0.000001`) in `0..=max_secs`, microsecond
/// resolution (keepalived's timer unit).
pub(crate) fn decimal_secs(what: &str, text: &str, max_secs: u64) -> Result<Duration, String> {
    let bad = || {
        format!(
            "{what} \"{text}\" is not a number of seconds: allowed 0..{max_secs} in steps of at least 0.000001"
        )
    };
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !digits(int) || !digits(frac) {
        return Err(bad());
    }
    let frac = frac.trim_end_matches('0');
    if frac.len() > 6 {
        return Err(bad());
    }
    let int: u64 = if int.is_empty() {
        0
    } else {
        int.parse()
            .map_err(|_| format!("{what} {text} is out of range: allowed 0..{max_secs} seconds"))?
    };
    let micros: u64 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<6}").parse().map_err(|_| bad())?
    };
    let total = Duration::from_secs(int) + Duration::from_micros(micros);
    if total > Duration::from_secs(max_secs) {
        return Err(format!(
            "{what} {text} is out of range: allowed 0..{max_secs} seconds"
        ));
    }
    Ok(total)
}

/// Seconds as keepalived reads them back: `5`, `0.5`, `0.000001`.
pub(crate) fn format_secs(d: Duration) -> String {
    let micros = d.subsec_micros();
    if micros == 0 {
        d.as_secs().to_string()
    } else {
        let frac = format!("{micros:06}");
        format!("{}.{}", d.as_secs(), frac.trim_end_matches('0'))
    }
}

/// An IPv4 or IPv6 address that can be a VIP or a unicast peer: not unspecified, not
/// multicast, not loopback, not the IPv4 broadcast address.
pub(crate) fn unicast_addr(what: &str, text: &str) -> Result<IpAddr, String> {
    let addr: IpAddr = text
        .parse()
        .map_err(|_| format!("{what} \"{text}\" is not an IPv4 or IPv6 address"))?;
    let refused = match addr {
        IpAddr::V4(a) => {
            a.is_unspecified() || a.is_multicast() || a.is_loopback() || a.is_broadcast()
        }
        IpAddr::V6(a) => a.is_unspecified() || a.is_multicast() || a.is_loopback(),
    };
    if refused {
        return Err(format!(
            "{what} {addr} is not a unicast address (unspecified, multicast, loopback and broadcast addresses cannot be used)"
        ));
    }
    Ok(addr)
}

/// `ADDR` or `ADDR/PREFIX`; the prefix defaults to the full length of the family.
pub(crate) fn addr_with_prefix(what: &str, text: &str) -> Result<(IpAddr, u8), String> {
    let (addr_text, prefix_text) = match text.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (text, None),
    };
    let addr = unicast_addr(what, addr_text)?;
    let max: u8 = match Family::of(&addr) {
        Family::V4 => 32,
        Family::V6 => 128,
    };
    let prefix = match prefix_text {
        None => max,
        Some(p) => uint("prefix length", p, 0, u32::from(max))
            .ok()
            .and_then(|n| u8::try_from(n).ok())
            .ok_or_else(|| {
                format!("prefix length \"{p}\" of {what} {text} is out of range: allowed 0..{max}")
            })?,
    };
    Ok((addr, prefix))
}

/// A Linux interface name: 1..=15 bytes, no blank, no '/', no ':' (IFNAMSIZ and
/// dev_valid_name in the kernel), not "." or "..".
pub(crate) fn interface_name(what: &str, text: &str) -> Result<String, String> {
    let valid = !text.is_empty()
        && text.len() <= 15
        && text != "."
        && text != ".."
        && !text
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '/' || c == ':');
    if valid {
        Ok(text.to_string())
    } else {
        Err(format!(
            "{what} \"{text}\" is not a valid interface name: 1 to 15 characters, without blanks, '/' or ':'"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uint_accepts_plain_digits_in_range_only() {
        assert_eq!(uint("priority", "0100", 1, 255), Ok(100));
        assert_eq!(
            uint("priority", "256", 1, 255).unwrap_err(),
            "priority 256 is out of range: allowed 1..255"
        );
        assert_eq!(
            uint("virtual_router_id", "0x10", 1, 255).unwrap_err(),
            "virtual_router_id \"0x10\" is not a whole number: allowed 1..255"
        );
        assert!(uint("x", "+1", 0, 9).is_err());
        assert!(uint("x", "", 0, 9).is_err());
        assert!(uint("x", "99999999999999999999", 0, 9).is_err());
    }

    #[test]
    fn int_accepts_negative_weights() {
        assert_eq!(int("weight", "-253", -253, 253), Ok(-253));
        assert_eq!(
            int("weight", "254", -253, 253).unwrap_err(),
            "weight 254 is out of range: allowed -253..253"
        );
        assert!(int("weight", "-", -253, 253).is_err());
    }

    #[test]
    fn decimal_seconds_have_microsecond_resolution() {
        assert_eq!(
            decimal_secs("preempt_delay", "0.5", 1000),
            Ok(Duration::from_millis(500))
        );
        assert_eq!(
            decimal_secs("preempt_delay", "0.000001", 1000),
            Ok(Duration::from_micros(1))
        );
        assert_eq!(
            decimal_secs("preempt_delay", "1000", 1000),
            Ok(Duration::from_secs(1000))
        );
        assert_eq!(
            decimal_secs("preempt_delay", "1001", 1000).unwrap_err(),
            "preempt_delay 1001 is out of range: allowed 0..1000 seconds"
        );
        assert!(decimal_secs("preempt_delay", "0.0000001", 1000).is_err());
        assert!(decimal_secs("preempt_delay", ".", 1000).is_err());
        assert!(decimal_secs("preempt_delay", "-1", 1000).is_err());
        assert_eq!(format_secs(Duration::from_micros(500_000)), "0.5");
        assert_eq!(format_secs(Duration::from_secs(7)), "7");
        assert_eq!(format_secs(Duration::from_micros(1_000_001)), "1.000001");
    }

    #[test]
    fn addresses_default_to_a_host_prefix_and_must_be_unicast() {
        assert_eq!(
            addr_with_prefix("virtual_ipaddress", "10.1.2.3/16"),
            Ok(("10.1.2.3".parse().unwrap(), 16))
        );
        assert_eq!(
            addr_with_prefix("virtual_ipaddress", "fd00::1"),
            Ok(("fd00::1".parse().unwrap(), 128))
        );
        assert_eq!(
            addr_with_prefix("virtual_ipaddress", "10.1.2.3/33").unwrap_err(),
            "prefix length \"33\" of virtual_ipaddress 10.1.2.3/33 is out of range: allowed 0..32"
        );
        assert_eq!(
            addr_with_prefix("virtual_ipaddress", "224.0.0.18").unwrap_err(),
            "virtual_ipaddress 224.0.0.18 is not a unicast address (unspecified, multicast, loopback and broadcast addresses cannot be used)"
        );
        assert_eq!(
            unicast_addr("unicast_peer", "10.1.2").unwrap_err(),
            "unicast_peer \"10.1.2\" is not an IPv4 or IPv6 address"
        );
    }

    #[test]
    fn interface_names_follow_the_kernel_rules() {
        assert_eq!(interface_name("interface", "eth0"), Ok("eth0".into()));
        assert!(interface_name("interface", "a23456789012345").is_ok());
        assert!(interface_name("interface", "a234567890123456").is_err());
        assert!(interface_name("interface", "eth0:1").is_err());
        assert!(interface_name("interface", "a/b").is_err());
        assert!(interface_name("interface", "..").is_err());
    }
}
