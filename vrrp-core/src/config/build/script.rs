//! `vrrp_script NAME { ... }`: a health check.

use std::time::Duration;

use super::global::script_user;
use super::{args, block_name, check, one, unknown, Once, ScriptOutline};
use crate::config::argv;
use crate::config::diagnostic::{Pos, Sink};
use crate::config::model::{VrrpScript, Weight};
use crate::config::syntax::Stmt;
use crate::config::values::{int, uint, whole_secs};

pub(super) const SUPPORTED: &[&str] = &[
    "script",
    "interval",
    "timeout",
    "weight",
    "rise",
    "fall",
    "init_fail",
    "user",
];

const UNSUPPORTED: &[&str] = &["reverse", "no_reverse", "init_state"];

/// keepalived 2.2 keeps script timers in microseconds in 32 bits and refuses
/// fractions: whole seconds 1..=4294.
const MAX_SECS: u32 = 4294;

/// keepalived reads rise and fall as a C int.
const MAX_COUNT: u32 = i32::MAX as u32;

/// The outline is returned whenever the block has a name (so references to it are
/// checked); the script only when it is complete and valid.
pub(super) fn vrrp_script(
    stmt: &Stmt,
    sink: &mut Sink,
) -> Option<(ScriptOutline, Option<VrrpScript>)> {
    let (name, block) = block_name(sink, stmt)?;
    let mut outline = ScriptOutline {
        name: name.to_string(),
        header: stmt.pos(),
        program: None,
        user: None,
        weight: Weight::default(),
    };
    let scope = format!("vrrp_script {name}");
    let errors_before = sink.diagnostics.len();
    let mut script = VrrpScript::new(name, "");
    let mut command: Option<Pos> = None;
    let mut timeout: Option<Duration> = None;
    let mut once = Once::default();

    for s in &block.stmts {
        if !SUPPORTED.contains(&s.name()) {
            unknown(sink, s, &scope, SUPPORTED, UNSUPPORTED);
            continue;
        }
        if !once.first(sink, s, &scope) {
            continue;
        }
        match s.name() {
            "script" => {
                let usage = "script \"/path/to/program ARG...\"";
                if s.args.len() > 1 {
                    sink.error(
                        s.args[1].pos,
                        format!("\"script\" takes one argument: quote the whole command line, usage {usage}"),
                    );
                    continue;
                }
                if let Some(w) = one(sink, s, usage) {
                    command = Some(w.pos);
                    match argv::split(&w.text) {
                        Ok(words) => {
                            script.script = w.text.clone();
                            outline.program = words.into_iter().next().map(|p| (p, w.pos));
                        }
                        Err(e) => sink.error(w.pos, format!("script \"{}\" {e}", w.text)),
                    }
                }
            }
            "interval" => {
                if let Some(w) = one(sink, s, "interval SECONDS") {
                    if let Some(d) = check(sink, w, whole_secs("interval", &w.text, 1, MAX_SECS)) {
                        script.interval = d;
                    }
                }
            }
            "timeout" => {
                if let Some(w) = one(sink, s, "timeout SECONDS") {
                    timeout = check(sink, w, whole_secs("timeout", &w.text, 1, MAX_SECS));
                }
            }
            "weight" => {
                if let Some(a) = args(sink, s, 1, 2, "weight -253..253") {
                    if let Some(extra) = a.get(1) {
                        sink.error(
                            extra.pos,
                            format!("unsupported \"{}\" after weight in {scope}: only \"weight N\" is implemented", extra.text),
                        );
                    } else if let Some(w) = a.first() {
                        if let Some(n) =
                            check(sink, w, int("weight", &w.text, -Weight::MAX, Weight::MAX))
                        {
                            script.weight = Weight::new(n).unwrap_or_default();
                        }
                    }
                }
            }
            "rise" | "fall" => {
                if let Some(w) = one(sink, s, &format!("{} COUNT", s.name())) {
                    if let Some(n) = check(sink, w, uint(s.name(), &w.text, 1, MAX_COUNT)) {
                        if s.name() == "rise" {
                            script.rise = n;
                        } else {
                            script.fall = n;
                        }
                    }
                }
            }
            "init_fail" if args(sink, s, 0, 0, "init_fail").is_some() => {
                script.init_fail = true;
            }
            "user" => {
                if let Some(a) = args(sink, s, 1, 2, "user USER [GROUP]") {
                    let user = script_user(a);
                    outline.user = Some((user.user.clone(), user.group.clone(), s.pos()));
                    script.user = Some(user);
                }
            }
            _ => {}
        }
    }
    if command.is_none() && !once.seen("script") {
        sink.error(
            stmt.pos(),
            format!("{scope} has no \"script\": add script \"/path/to/program ARG...\""),
        );
    }
    script.timeout = timeout.unwrap_or(script.interval);
    outline.weight = script.weight;
    let failed = sink.diagnostics[errors_before..]
        .iter()
        .any(|d| d.is_error());
    Some((outline, (!failed).then_some(script)))
}
