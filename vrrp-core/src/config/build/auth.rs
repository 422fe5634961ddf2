//! `authentication { auth_type PASS auth_pass PASSWORD }` inside a vrrp_instance.

use super::{one, unknown, Once};
use crate::config::diagnostic::Sink;
use crate::config::syntax::{Block, Stmt};
use crate::proto::Auth;

/// `authentication { auth_type PASS auth_pass PASSWORD }`.
pub(super) fn authentication(sink: &mut Sink, stmt: &Stmt, b: &Block, scope: &str) -> Option<Auth> {
    let scope = format!("authentication of {scope}");
    let mut once = Once::default();
    let mut auth_type: Option<()> = None;
    let mut pass: Option<String> = None;
    let mut ok = true;
    for s in &b.stmts {
        if !matches!(s.name(), "auth_type" | "auth_pass") {
            unknown(sink, s, &scope, &["auth_type", "auth_pass"], &[]);
            ok = false;
            continue;
        }
        if !once.first(sink, s, &scope) {
            ok = false;
            continue;
        }
        let Some(w) = one(
            sink,
            s,
            if s.name() == "auth_type" {
                "auth_type PASS"
            } else {
                "auth_pass PASSWORD"
            },
        ) else {
            ok = false;
            continue;
        };
        if s.name() == "auth_type" {
            match w.text.as_str() {
                "PASS" => auth_type = Some(()),
                "AH" => {
                    ok = false;
                    sink.error(
                        w.pos,
                        "auth_type AH is not implemented: use auth_type PASS, or no authentication",
                    );
                }
                other => {
                    ok = false;
                    sink.error(
                        w.pos,
                        format!(
                            "auth_type \"{other}\" is not an authentication type: allowed PASS"
                        ),
                    );
                }
            }
        } else if w.text.is_empty() {
            ok = false;
            sink.error(w.pos, "auth_pass is empty: give 1 to 8 characters");
        } else if w.text.len() > 8 {
            // keepalived truncates with a "Truncating auth_pass" message, and
            // `keepalived -t` then fails: refuse rather than run a different password.
            ok = false;
            sink.error(
                w.pos,
                format!(
                    "auth_pass is {} bytes long: VRRPv2 carries at most 8 (keepalived would truncate it to \"{}\")",
                    w.text.len(),
                    String::from_utf8_lossy(&w.text.as_bytes()[..8])
                ),
            );
        } else {
            pass = Some(w.text.clone());
        }
    }
    if !ok {
        return None;
    }
    match (auth_type, pass) {
        (Some(()), Some(p)) => Some(Auth::pass(&p)),
        (Some(()), None) => {
            sink.error(
                stmt.pos(),
                "authentication has auth_type PASS but no auth_pass",
            );
            None
        }
        (None, _) => {
            sink.error(stmt.pos(), "authentication has no auth_type: add \"auth_type PASS\" (keepalived would silently send no authentication)");
            None
        }
    }
}
