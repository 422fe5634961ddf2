//! Turns the statement tree into the typed [`Config`], checking every directive and
//! value on the way. Problems go to the sink with the line of the offending word;
//! building goes on so that `--check` reports them all at once.
//!
//! Nothing is ever skipped silently: a directive this engine does not implement is an
//! error, even when keepalived knows it, because running a config with a feature
//! quietly missing is worse than refusing it.

mod addresses;
mod auth;
mod global;
mod instance;
mod resolve;
mod script;

use std::collections::HashMap;
use std::net::IpAddr;

use super::diagnostic::{Pos, Sink};
use super::model::{Config, Weight};
use super::syntax::{Block, Stmt, Word};
use crate::proto::{Family, Vrid};

/// What the cross-object checks (`validate`) need to know about each object — also
/// about objects that failed to build, so their references are still checked.
#[derive(Debug, Default)]
pub(crate) struct Outline {
    pub instances: Vec<InstanceOutline>,
    pub scripts: Vec<ScriptOutline>,
    /// Where global_defs says `script_user`.
    pub script_user: Option<Pos>,
    /// Where global_defs starts.
    pub global_defs: Option<Pos>,
}

#[derive(Debug)]
pub(crate) struct InstanceOutline {
    pub name: String,
    pub header: Pos,
    /// (VRID, family, interface), when all three are known.
    pub key: Option<(Vrid, Family, String)>,
    /// The same for what `rolling_from` adds (its VRID when it differs; on another
    /// interface, both VRIDs there too: the router listens to both on both), and
    /// where it is written.
    pub rolling_keys: Vec<((Vrid, Family, String), Pos)>,
    /// Name, weight override, position.
    pub track_scripts: Vec<(String, Option<Weight>, Pos)>,
    /// Priority 255: trackers must not carry weights.
    pub owner: bool,
    pub vips: Vec<(IpAddr, Pos)>,
    /// Every interface named: `interface`, VIP `dev`s, `track_interface`.
    pub interfaces: Vec<(String, Pos)>,
}

#[derive(Debug)]
pub(crate) struct ScriptOutline {
    pub name: String,
    pub header: Pos,
    /// The program (first word of `script`) and where it is written.
    pub program: Option<(String, Pos)>,
    pub weight: Weight,
    /// `user USER [GROUP]`.
    pub user: Option<(String, Option<String>, Pos)>,
}

const TOP: &[&str] = &["global_defs", "vrrp_script", "vrrp_instance"];

/// Every keyword the parser reads: the top-level blocks, then the directives of
/// `global_defs`, `vrrp_script` and `vrrp_instance`.
pub fn keywords() -> impl Iterator<Item = &'static str> {
    TOP.iter()
        .chain(global::SUPPORTED)
        .chain(script::SUPPORTED)
        .chain(instance::SUPPORTED)
        .copied()
}
/// keepalived top-level blocks this engine does not implement.
const TOP_UNSUPPORTED: &[&str] = &[
    "include",
    "vrrp_sync_group",
    "virtual_server",
    "virtual_server_group",
    "static_ipaddress",
    "static_routes",
    "static_rules",
    "vrrp_track_process",
    "vrrp_track_file",
    "track_file",
    "linkbeat_interfaces",
    "garp_group",
    "bfd_instance",
    "net_namespace",
    "instance",
    "use_pid_dir",
];

pub(crate) fn build(stmts: &[Stmt], sink: &mut Sink) -> (Config, Outline) {
    let mut config = Config::default();
    let mut outline = Outline::default();
    let mut global_seen: Option<Pos> = None;
    let mut first_instance: Option<Pos> = None;

    for stmt in stmts {
        match stmt.name() {
            "global_defs" => {
                if let Some(first) = global_seen {
                    sink.error(
                        stmt.pos(),
                        format!(
                            "duplicate global_defs block (first at line {}): merge them into one",
                            first.line
                        ),
                    );
                    continue;
                }
                global_seen = Some(stmt.pos());
                if let Some(inst) = first_instance {
                    sink.error(
                        stmt.pos(),
                        format!(
                            "global_defs must come before every vrrp_instance (the first is at line {}): keepalived applies its defaults in file order",
                            inst.line
                        ),
                    );
                }
                outline.global_defs = Some(stmt.pos());
                (config.global, outline.script_user) = global::global_defs(stmt, sink);
            }
            "vrrp_script" => {
                if let Some((script_outline, script)) = script::vrrp_script(stmt, sink) {
                    outline.scripts.push(script_outline);
                    config.scripts.extend(script);
                }
            }
            "vrrp_instance" => {
                first_instance.get_or_insert(stmt.pos());
                if let Some((inst_outline, inst)) =
                    instance::vrrp_instance(stmt, &config.global, sink)
                {
                    outline.instances.push(inst_outline);
                    config.instances.extend(inst);
                }
            }
            _ => unknown(sink, stmt, "the top level", TOP, TOP_UNSUPPORTED),
        }
    }
    (config, outline)
}

/// Reports a directive that is not in `supported`.
pub(crate) fn unknown(
    sink: &mut Sink,
    stmt: &Stmt,
    scope: &str,
    supported: &[&str],
    unsupported: &[&str],
) {
    let list = supported.join(", ");
    if unsupported.contains(&stmt.name()) {
        sink.error(
            stmt.pos(),
            format!(
                "unsupported directive \"{}\" in {scope}: keepalived has it but this engine does not implement it (supported: {list})",
                stmt.name()
            ),
        );
    } else {
        sink.error(
            stmt.pos(),
            format!(
                "unknown directive \"{}\" in {scope} (supported: {list})",
                stmt.name()
            ),
        );
    }
}

/// Refuses a block after a directive that takes none.
pub(crate) fn no_block(sink: &mut Sink, stmt: &Stmt) -> bool {
    match &stmt.block {
        Some(block) => {
            sink.error(
                block.open,
                format!("\"{}\" takes no {{ }} block", stmt.name()),
            );
            false
        }
        None => true,
    }
}

/// The arguments of a directive that takes `min..=max` of them and no block.
pub(crate) fn args<'s>(
    sink: &mut Sink,
    stmt: &'s Stmt,
    min: usize,
    max: usize,
    usage: &str,
) -> Option<&'s [Word]> {
    if !no_block(sink, stmt) {
        return None;
    }
    let n = stmt.args.len();
    if n < min || n > max {
        let got = if n == 0 {
            "none".to_string()
        } else {
            stmt.args
                .iter()
                .map(|w| w.text.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        };
        sink.error(
            stmt.pos(),
            format!(
                "\"{}\" takes {}: usage \"{usage}\", got {}",
                stmt.name(),
                count(min, max),
                if n == 0 { got } else { format!("\"{got}\"") }
            ),
        );
        return None;
    }
    Some(&stmt.args)
}

fn count(min: usize, max: usize) -> String {
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    match (min, max) {
        (0, 0) => "no arguments".to_string(),
        (a, b) if a == b => format!("{a} argument{}", plural(a)),
        (a, b) => format!("{a} to {b} arguments"),
    }
}

/// The only argument of a one-value directive.
pub(crate) fn one<'s>(sink: &mut Sink, stmt: &'s Stmt, usage: &str) -> Option<&'s Word> {
    args(sink, stmt, 1, 1, usage).and_then(|a| a.first())
}

/// The block of a directive that needs one and takes no arguments.
pub(crate) fn block<'s>(sink: &mut Sink, stmt: &'s Stmt, usage: &str) -> Option<&'s Block> {
    let Some(block) = &stmt.block else {
        sink.error(
            stmt.pos(),
            format!("\"{}\" needs a block: usage \"{usage}\"", stmt.name()),
        );
        return None;
    };
    if let Some(extra) = stmt.args.first() {
        sink.error(
            extra.pos,
            format!(
                "\"{}\" takes no arguments before its block: usage \"{usage}\"",
                stmt.name()
            ),
        );
        return None;
    }
    Some(block)
}

/// Reports a directive given twice in one block (keepalived silently keeps the last
/// one for some and merges others; we make the operator choose).
#[derive(Default)]
pub(crate) struct Once(HashMap<String, Pos>);

impl Once {
    pub fn first(&mut self, sink: &mut Sink, stmt: &Stmt, scope: &str) -> bool {
        if let Some(first) = self.0.get(stmt.name()) {
            sink.error(
                stmt.pos(),
                format!(
                    "duplicate \"{}\" in {scope} (first at line {})",
                    stmt.name(),
                    first.line
                ),
            );
            return false;
        }
        self.0.insert(stmt.name().to_string(), stmt.pos());
        true
    }

    /// Whether the directive was written at all (valid or not): a "missing X" error
    /// after an "invalid X" error would only be noise.
    pub fn seen(&self, keyword: &str) -> bool {
        self.0.contains_key(keyword)
    }
}

/// Reports `message` at `word` when `result` is an error.
pub(crate) fn check<T>(sink: &mut Sink, word: &Word, result: Result<T, String>) -> Option<T> {
    match result {
        Ok(v) => Some(v),
        Err(message) => {
            sink.error(word.pos, message);
            None
        }
    }
}

/// The name of a named block (`vrrp_instance NAME { ... }`).
pub(crate) fn block_name<'s>(sink: &mut Sink, stmt: &'s Stmt) -> Option<(&'s str, &'s Block)> {
    let usage = format!("{} NAME {{ ... }}", stmt.name());
    let name = match stmt.args.as_slice() {
        [name] if !name.text.is_empty() => Some(name.text.as_str()),
        [] => {
            sink.error(
                stmt.pos(),
                format!("\"{}\" needs a name: usage \"{usage}\"", stmt.name()),
            );
            None
        }
        _ => {
            sink.error(
                stmt.pos(),
                format!(
                    "\"{}\" takes one name: usage \"{usage}\" (quote a name with blanks)",
                    stmt.name()
                ),
            );
            None
        }
    };
    let block = match &stmt.block {
        Some(b) => Some(b),
        None => {
            sink.error(
                stmt.pos(),
                format!("\"{}\" needs a block: usage \"{usage}\"", stmt.name()),
            );
            None
        }
    };
    Some((name?, block?))
}

#[cfg(test)]
mod tests;
