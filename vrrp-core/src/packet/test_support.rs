//! Helpers shared by the codec's unit tests.

use std::net::IpAddr;

pub(crate) fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

pub(crate) fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}
