//! Groups tokens into statements: the words of one line, optionally followed by a
//! `{ ... }` block of further statements. This is keepalived's grammar with no
//! knowledge of what any directive means.
//!
//! The tree is built with an explicit stack and a nesting limit, so a hostile file of
//! a million `{` neither overflows the stack while parsing nor while being dropped.

use super::diagnostic::{Pos, Sink};
use super::lexer::{Token, TokenKind};

/// Deeper than anything keepalived.conf needs (`vrrp_instance { authentication { } }`
/// is two levels); blocks below this depth are reported and skipped.
pub(crate) const MAX_DEPTH: usize = 8;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Word {
    pub text: String,
    pub pos: Pos,
    pub quoted: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Block {
    pub open: Pos,
    pub stmts: Vec<Stmt>,
}

/// One directive: its keyword, its arguments, and its block if it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stmt {
    pub keyword: Word,
    pub args: Vec<Word>,
    pub block: Option<Block>,
}

impl Stmt {
    pub fn pos(&self) -> Pos {
        self.keyword.pos
    }

    pub fn name(&self) -> &str {
        &self.keyword.text
    }
}

struct Frame {
    /// The words of the statement that owns this block (None: a stray `{`).
    header: Option<Vec<Word>>,
    open: Pos,
    stmts: Vec<Stmt>,
    /// Whether the last statement ended at a newline and may still take a `{` that
    /// sits alone on the next line (`vrrp_instance VI_1` NEWLINE `{`).
    last_may_open: bool,
}

impl Frame {
    fn new(header: Option<Vec<Word>>, open: Pos) -> Frame {
        Frame {
            header,
            open,
            stmts: Vec::new(),
            last_may_open: false,
        }
    }
}

fn stmt_from(words: Vec<Word>, block: Option<Block>) -> Option<Stmt> {
    let mut words = words.into_iter();
    let keyword = words.next()?;
    Some(Stmt {
        keyword,
        args: words.collect(),
        block,
    })
}

/// Builds the statement tree. Unbalanced braces are reported to `sink`; the tree
/// holds whatever could be recovered.
pub(crate) fn parse(tokens: Vec<Token>, sink: &mut Sink) -> Vec<Stmt> {
    let mut stack = vec![Frame::new(None, Pos::new(1, 1))];
    let mut line: Vec<Word> = Vec::new();
    // `{` seen below MAX_DEPTH whose `}` is still to come.
    let mut skipped_depth: usize = 0;

    for token in tokens {
        if skipped_depth > 0 {
            match token.kind {
                TokenKind::Open => skipped_depth += 1,
                TokenKind::Close => skipped_depth -= 1,
                _ => {}
            }
            continue;
        }
        let Some(top) = stack.last_mut() else {
            break;
        };
        match token.kind {
            TokenKind::Word(text) => {
                line.push(Word {
                    text,
                    pos: token.pos,
                    quoted: false,
                });
                top.last_may_open = false;
            }
            TokenKind::Quoted(text) => {
                line.push(Word {
                    text,
                    pos: token.pos,
                    quoted: true,
                });
                top.last_may_open = false;
            }
            TokenKind::Newline => {
                if let Some(stmt) = stmt_from(std::mem::take(&mut line), None) {
                    top.stmts.push(stmt);
                    top.last_may_open = true;
                }
            }
            TokenKind::Open => {
                let header = if !line.is_empty() {
                    Some(std::mem::take(&mut line))
                } else if top.last_may_open {
                    top.stmts.pop().map(|s| {
                        let mut words = vec![s.keyword];
                        words.extend(s.args);
                        words
                    })
                } else {
                    sink.error(token.pos, "'{' without a directive before it");
                    None
                };
                top.last_may_open = false;
                if stack.len() > MAX_DEPTH {
                    sink.error(
                        token.pos,
                        format!("blocks nested deeper than {MAX_DEPTH} levels; skipped up to the matching '}}'"),
                    );
                    skipped_depth = 1;
                    continue;
                }
                stack.push(Frame::new(header, token.pos));
            }
            TokenKind::Close => {
                if let Some(stmt) = stmt_from(std::mem::take(&mut line), None) {
                    top.stmts.push(stmt);
                }
                top.last_may_open = false;
                if stack.len() == 1 {
                    sink.error(token.pos, "'}' without a matching '{'");
                    continue;
                }
                close_frame(&mut stack);
            }
        }
    }
    if let Some(top) = stack.last_mut() {
        if let Some(stmt) = stmt_from(std::mem::take(&mut line), None) {
            top.stmts.push(stmt);
        }
    }
    while stack.len() > 1 {
        if let Some(frame) = stack.last() {
            let what = frame
                .header
                .as_ref()
                .and_then(|w| w.first())
                .map_or("block".to_string(), |w| format!("\"{}\" block", w.text));
            sink.error(
                frame.open,
                format!("{what} opened here is never closed: add the missing '}}'"),
            );
        }
        close_frame(&mut stack);
    }
    stack.pop().map(|f| f.stmts).unwrap_or_default()
}

/// Pops the innermost frame and attaches it, as a block, to its owning statement.
fn close_frame(stack: &mut Vec<Frame>) {
    let Some(frame) = stack.pop() else {
        return;
    };
    let Some(parent) = stack.last_mut() else {
        return;
    };
    let block = Block {
        open: frame.open,
        stmts: frame.stmts,
    };
    if let Some(stmt) = frame.header.and_then(|h| stmt_from(h, Some(block))) {
        parent.stmts.push(stmt);
    }
    parent.last_may_open = false;
}

#[cfg(test)]
mod tests {
    use super::super::lexer::lex;
    use super::*;

    fn tree(text: &str) -> (Vec<Stmt>, Vec<String>) {
        let mut sink = Sink::new("k.conf");
        let tokens = lex(text, &mut sink);
        let stmts = parse(tokens, &mut sink);
        let diags = sink.diagnostics.iter().map(|d| d.to_string()).collect();
        (stmts, diags)
    }

    /// A compact picture of the tree: `kw(args){...}`.
    fn shape(stmts: &[Stmt]) -> String {
        stmts
            .iter()
            .map(|s| {
                let mut out = s.keyword.text.clone();
                for a in &s.args {
                    out.push(' ');
                    out.push_str(&a.text);
                }
                if let Some(b) = &s.block {
                    out.push_str(&format!("{{{}}}", shape(&b.stmts)));
                }
                out
            })
            .collect::<Vec<_>>()
            .join(";")
    }

    #[test]
    fn each_line_is_one_statement_and_braces_make_blocks() {
        let (stmts, diags) = tree("a 1\nb {\n c 2\n d\n}\ne\n");
        assert!(diags.is_empty());
        assert_eq!(shape(&stmts), "a 1;b{c 2;d};e");
    }

    #[test]
    fn brace_may_sit_on_the_next_line_or_be_crammed_on_one_line() {
        let (stmts, diags) = tree(
            "vrrp_instance VI_1\n{\n interface eth0\n virtual_ipaddress\n {\n 10.1.2.3 }\n}\n",
        );
        assert!(diags.is_empty());
        assert_eq!(
            shape(&stmts),
            "vrrp_instance VI_1{interface eth0;virtual_ipaddress{10.1.2.3}}"
        );
        let (stmts, _) = tree("x { y {z} }");
        assert_eq!(shape(&stmts), "x{y{z}}");
    }

    #[test]
    fn quoted_words_are_marked() {
        let (stmts, _) = tree("script \"/bin/true a\"\n");
        assert_eq!(stmts[0].args[0].text, "/bin/true a");
        assert!(stmts[0].args[0].quoted);
        assert!(!stmts[0].keyword.quoted);
    }

    #[test]
    fn unbalanced_braces_are_reported_with_their_lines() {
        let (stmts, diags) = tree("a {\n b\n");
        assert_eq!(shape(&stmts), "a{b}");
        assert_eq!(
            diags,
            vec!["k.conf:1:3: error: \"a\" block opened here is never closed: add the missing '}'"]
        );
        let (_, diags) = tree("a\n}\n{ b }\n");
        assert_eq!(
            diags,
            vec![
                "k.conf:2:1: error: '}' without a matching '{'",
                "k.conf:3:1: error: '{' without a directive before it"
            ]
        );
    }

    #[test]
    fn deep_nesting_is_cut_off_without_recursion() {
        let text = format!("{}{}", "a {".repeat(100_000), "}".repeat(100_000));
        let (stmts, diags) = tree(&text);
        assert_eq!(stmts.len(), 1);
        assert_eq!(
            diags,
            vec![format!("k.conf:1:{}: error: blocks nested deeper than 8 levels; skipped up to the matching '}}'", 8 * 3 + 3)]
        );
    }
}
