//! `systemctl` and `sysctl` stand-ins (systemd cannot be PID 1 in the test container).
//! They record every call in the unit's machine state, answer from recorded state
//! (active/enabled units, sysctl values) and can be told to fail a given command.

use std::path::Path;

use super::state::{FailRule, Machine, ServiceCall, STATE_ENV};
use super::store::with_state;
use super::Output;

mod sysctl;
mod systemctl;

pub fn run(program: &str, args: &[String]) -> Output {
    let Some(path) = std::env::var_os(STATE_ENV) else {
        return fail(
            1,
            format!("{program}: {STATE_ENV} is not set (emulated machine only)\n"),
        );
    };
    let hook_and_machine = with_state(Path::new(&path), |state| {
        let machine = &mut state.machine;
        let out = match take_failure(machine, program, args) {
            Some(out) => out,
            None if program == "systemctl" => systemctl::systemctl(machine, args),
            None => sysctl::sysctl(machine, args),
        };
        let mut argv = vec![program.to_string()];
        argv.extend(args.iter().cloned());
        machine.calls.push(ServiceCall {
            hook: state.hook.clone(),
            argv,
            exit_code: out.code,
        });
        out
    });
    hook_and_machine.unwrap_or_else(|e| fail(1, format!("{program}: emulator state: {e}\n")))
}

pub fn fail(code: i32, stderr: String) -> Output {
    Output {
        stdout: String::new(),
        stderr,
        code,
    }
}

/// `args` of the rule must appear in `argv` in order (not necessarily adjacent).
fn rule_matches(rule: &FailRule, program: &str, args: &[String]) -> bool {
    if rule.program != program || rule.remaining == Some(0) {
        return false;
    }
    let mut it = args.iter();
    rule.args.iter().all(|want| it.any(|a| a == want))
}

fn take_failure(machine: &mut Machine, program: &str, args: &[String]) -> Option<Output> {
    let rule = machine
        .failures
        .iter_mut()
        .find(|r| rule_matches(r, program, args))?;
    if let Some(n) = rule.remaining.as_mut() {
        *n -= 1;
    }
    let mut stderr = rule.stderr.clone();
    if !stderr.is_empty() && !stderr.ends_with('\n') {
        stderr.push('\n');
    }
    Some(fail(rule.exit_code, stderr))
}
