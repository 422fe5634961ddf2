//! What the parser and validator report: one [`Diagnostic`] per problem, each with the
//! file, the line and column, and a message written for the operator who has to fix it.

use std::fmt;

/// A 1-based line and column (columns count characters, not bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pos {
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in characters.
    pub column: u32,
}

impl Pos {
    /// A position from a 1-based line and column.
    pub const fn new(line: u32, column: u32) -> Pos {
        Pos { line, column }
    }
}

/// Errors make `vrrp --check` fail and the engine refuse the file; warnings are
/// printed but the file is used (keepalived makes the same distinction).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Printed; the file is still used.
    Warning,
    /// The file is refused.
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// One problem found in a keepalived.conf.
///
/// `pos` is `None` only for problems with the file as a whole (it cannot be read).
/// Displays as `FILE:LINE:COL: error: MESSAGE`, the format compilers use, so editors
/// and CI logs can jump to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// The file as it was named to the parser.
    pub file: String,
    /// Where in the file; `None` for the file as a whole.
    pub pos: Option<Pos>,
    /// What is wrong, with the offending value and what is allowed.
    pub message: String,
}

impl Diagnostic {
    /// An error at `pos` in `file`.
    pub fn error(file: &str, pos: Pos, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            file: file.to_string(),
            pos: Some(pos),
            message: message.into(),
        }
    }

    /// A warning at `pos` in `file`.
    pub fn warning(file: &str, pos: Pos, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            file: file.to_string(),
            pos: Some(pos),
            message: message.into(),
        }
    }

    /// Whether this diagnostic refuses the file.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// The line, or 0 for a whole-file problem.
    pub fn line(&self) -> u32 {
        self.pos.map_or(0, |p| p.line)
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.pos {
            Some(p) => write!(
                f,
                "{}:{}:{}: {}: {}",
                self.file, p.line, p.column, self.severity, self.message
            ),
            None => write!(f, "{}: {}: {}", self.file, self.severity, self.message),
        }
    }
}

/// Collects diagnostics for one file.
#[derive(Debug)]
pub(crate) struct Sink {
    file: String,
    pub(crate) diagnostics: Vec<Diagnostic>,
}

impl Sink {
    pub(crate) fn new(file: &str) -> Sink {
        Sink {
            file: file.to_string(),
            diagnostics: Vec::new(),
        }
    }

    pub(crate) fn error(&mut self, pos: Pos, message: impl Into<String>) {
        self.diagnostics
            .push(Diagnostic::error(&self.file, pos, message));
    }

    pub(crate) fn warning(&mut self, pos: Pos, message: impl Into<String>) {
        self.diagnostics
            .push(Diagnostic::warning(&self.file, pos, message));
    }

    pub(crate) fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diagnostic_displays_as_file_line_column_severity_message() {
        let d = Diagnostic::error("keepalived.conf", Pos::new(12, 5), "bad thing");
        assert_eq!(d.to_string(), "keepalived.conf:12:5: error: bad thing");
        let w = Diagnostic::warning("k.conf", Pos::new(1, 1), "odd thing");
        assert_eq!(w.to_string(), "k.conf:1:1: warning: odd thing");
        let whole = Diagnostic {
            severity: Severity::Error,
            file: "k.conf".into(),
            pos: None,
            message: "cannot read".into(),
        };
        assert_eq!(whole.to_string(), "k.conf: error: cannot read");
        assert_eq!(whole.line(), 0);
    }
}
