//! keepalived.conf: the engine's only configuration input.
//!
//! The engine reads the subset of keepalived's language that the charm renders and
//! that operators know (`global_defs`, `vrrp_script`, `vrrp_instance`), with
//! keepalived 2.2's defaults, and refuses everything else by name: a file this module
//! accepts means the same to the engine as to keepalived (and `keepalived -t`
//! accepts it too — pinned by the interop tests).
//!
//! Pipeline: `lexer` (tokens with line/column) → `syntax` (statements and blocks)
//! → `build` (typed [`Config`] with keepalived's defaults, per-directive and
//! per-instance checks) → `validate` (cross-object checks) → optionally [`host`]
//! (interfaces, programs, users exist). Every problem is a [`Diagnostic`] naming
//! file:line:column; all of them are collected, not just the first. `render` writes
//! a [`Config`] back as keepalived.conf.
//!
//! Use [`load`] to run a file and to reload it (SIGHUP): it is pure apart from
//! reading the file, and does not require the interfaces to exist yet. Use
//! [`check_text`] with a [`Host`] for `vrrp --check`, which adds the host checks.
//!
//! Where we are stricter than keepalived 2.2.7, it is because `keepalived -t` fails
//! on the same file (it logs "ignoring"/"resetting" and exits 5) — e.g. an auth_pass
//! over 8 characters, nopreempt with state MASTER — or because the file would mean
//! something different to keepalived than it looks (backslashes, a directive given
//! twice). The one deliberate leniency: scripts without `enable_script_security` are
//! a warning (keepalived runs them; `keepalived -t` exits 6).

mod argv;
mod build;
mod diagnostic;
pub mod host;
mod lexer;
mod model;
mod render;
mod syntax;
mod validate;
mod values;

use std::path::Path;

pub use build::keywords;
pub use diagnostic::{Diagnostic, Pos, Severity};
pub use host::{AnyHost, Host};
pub use model::{
    max_prefix, Config, GlobalDefs, InitialState, ScriptUser, TrackInterface, TrackScript,
    VirtualAddress, VrrpInstance, VrrpScript, Weight,
};

use diagnostic::Sink;

/// A config that has no errors, and the warnings found on the way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    /// The typed configuration, with keepalived's defaults applied.
    pub config: Config,
    /// Problems that do not stop the file from being used, in file order.
    pub warnings: Vec<Diagnostic>,
}

/// Everything one pass over a file produced.
struct Pass {
    config: Config,
    outline: build::Outline,
    sink: Sink,
}

fn run(file: &str, bytes: &[u8]) -> Pass {
    let mut sink = Sink::new(file);
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        Err(e) => {
            let valid = &bytes[..e.valid_up_to()];
            let line = 1 + valid.iter().filter(|b| **b == b'\n').count();
            let column = 1 + String::from_utf8_lossy(valid)
                .rsplit('\n')
                .next()
                .map_or(0, |l| l.chars().count());
            sink.error(
                Pos::new(clamp(line), clamp(column)),
                "the file is not valid UTF-8",
            );
            String::from_utf8_lossy(bytes)
        }
    };
    let tokens = lexer::lex(&text, &mut sink);
    let stmts = syntax::parse(tokens, &mut sink);
    let (config, outline) = build::build(&stmts, &mut sink);
    validate::validate(&config, &outline, &mut sink);
    Pass {
        config,
        outline,
        sink,
    }
}

fn clamp(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn finish(mut diagnostics: Vec<Diagnostic>) -> Vec<Diagnostic> {
    diagnostics.sort_by_key(|d| d.pos);
    diagnostics
}

/// Parses and validates keepalived.conf text. `file` names it in diagnostics.
/// Pure: no file system, no clock.
pub fn parse(file: &str, bytes: &[u8]) -> Result<Loaded, Vec<Diagnostic>> {
    let pass = run(file, bytes);
    if pass.sink.has_errors() {
        return Err(finish(pass.sink.diagnostics));
    }
    Ok(Loaded {
        config: pass.config,
        warnings: finish(pass.sink.diagnostics),
    })
}

/// Reads, parses and validates a keepalived.conf: what the engine does at start and
/// on every reload. It does not look at the host (interfaces may appear later).
pub fn load(path: &Path) -> Result<Loaded, Vec<Diagnostic>> {
    let file = path.display().to_string();
    match std::fs::read(path) {
        Ok(bytes) => parse(&file, &bytes),
        Err(e) => Err(vec![Diagnostic {
            severity: Severity::Error,
            file,
            pos: None,
            message: format!("cannot read the file: {e}"),
        }]),
    }
}

/// The outcome of `vrrp --check`: every diagnostic in file order, and the config as
/// far as it could be built (complete only when there is no error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// The configuration as far as it could be built.
    pub config: Config,
    /// Every error and warning, in file order.
    pub diagnostics: Vec<Diagnostic>,
}

impl Checked {
    /// Whether any diagnostic is an error (`vrrp --check` then exits non-zero).
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// All diagnostics for `bytes`, including the checks against `host`.
pub fn check_text(file: &str, bytes: &[u8], host: &dyn Host) -> Checked {
    let mut pass = run(file, bytes);
    host::check(&pass.config, &pass.outline, host, &mut pass.sink);
    Checked {
        config: pass.config,
        diagnostics: finish(pass.sink.diagnostics),
    }
}
