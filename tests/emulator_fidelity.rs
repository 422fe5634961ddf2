//! The emulator itself must behave like Juju: hook tools, formatters, exit codes and
//! error strings (juju-contract §3), transactions, permissions, and hook order/env.

#[path = "emulator/mod.rs"]
mod emulator;

use emulator::*;

#[test]
fn smoke() {
    let mut m = Model::new();
    let runs = m.deploy(2).unwrap();
    for r in &runs {
        eprintln!(
            "{} {} {:?} {:?}",
            r.unit, r.hook.name, r.exit_code, r.duration
        );
    }
}
