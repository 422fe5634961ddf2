//! Fuzzes the keepalived.conf parser: any bytes must give diagnostics, never a panic,
//! every diagnostic must point inside the file, and whatever is accepted must render
//! back to text that parses to the same config.
#![no_main]

use vrrp_core::config::{self, AnyHost};
use libfuzzer_sys::fuzz_target;


fuzz_target!(|data: &[u8]| {
    let checked = config::check_text("fuzz.conf", data, &AnyHost);
    let lines = data.iter().filter(|b| **b == b'\n').count() + 1;
    for d in &checked.diagnostics {
        let pos = d.pos.expect("diagnostics about text have a position");
        assert!(pos.line >= 1 && pos.line as usize <= lines, "{d}");
        assert!(pos.column >= 1, "{d}");
    }
    if let Ok(loaded) = config::parse("fuzz.conf", data) {
        let rendered = loaded.config.to_keepalived_conf();
        let again = config::parse("rendered.conf", rendered.as_bytes())
            .unwrap_or_else(|e| panic!("render of accepted input refused: {e:?}\n{rendered}"));
        assert_eq!(again.config, loaded.config, "{rendered}");
    }
});
