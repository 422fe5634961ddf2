//! Reading `tests/vectors/*.hex.txt` (packets captured from keepalived 2.2.7).

use std::path::PathBuf;

fn path(file: &str) -> PathBuf {
    crate::repo().join("vrrp-core/tests/vectors").join(file)
}

fn hex(text: &str) -> Vec<u8> {
    assert!(text.len() % 2 == 0, "odd-length hex {text:?}");
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex digit"))
        .collect()
}

/// The `key:` hex (`frame` or `vrrp`) of packet number `n` (1-based) in `file`.
pub fn packet(file: &str, n: usize, key: &str) -> Vec<u8> {
    let p = path(file);
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()));
    let header = format!("# {n} ");
    let prefix = format!("{key}:");
    let mut in_packet = false;
    for line in text.lines() {
        if line.starts_with("# ") {
            in_packet = line.starts_with(&header);
        } else if in_packet {
            if let Some(rest) = line.strip_prefix(&prefix) {
                let h = rest.split_whitespace().next().expect("hex after the key");
                return hex(h);
            }
        }
    }
    panic!("no `{key}:` line for packet {n} in {}", p.display())
}
