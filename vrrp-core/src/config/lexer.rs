//! Splits keepalived.conf text into tokens that remember their line and column.
//!
//! keepalived's configuration language is line oriented: a directive and its arguments
//! sit on one line, `{` and `}` open and close blocks (on the same line or their own),
//! and `#` or `!` start a comment that runs to the end of the line — even in the
//! middle of a word (keepalived 2.2 reads `auth_pass ab#cd` as `ab`). A double-quoted
//! string is one word that may hold spaces; it ends on the same line.

use super::diagnostic::{Pos, Sink};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TokenKind {
    /// A bare word.
    Word(String),
    /// A `"quoted string"`, without its quotes.
    Quoted(String),
    Open,
    Close,
    Newline,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    pub kind: TokenKind,
    pub pos: Pos,
}

/// Characters that end a bare word.
fn ends_word(c: char) -> bool {
    c.is_whitespace() || c.is_control() || matches!(c, '{' | '}' | '"' | '#' | '!')
}

/// keepalived reads `\` as an escape (`"a\"` is an unterminated string to it): a
/// file that uses one would mean different things to keepalived and to us.
fn backslash(sink: &mut Sink, pos: Pos) {
    sink.error(
        pos,
        "'\\' is not allowed: keepalived reads it as an escape character; write the value without it",
    );
}

/// Tokenizes `text`; problems (an unterminated quote) go to `sink` and lexing goes
/// on, so that one `--check` run reports every problem in the file.
pub(crate) fn lex(text: &str, sink: &mut Sink) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    let mut line: u32 = 1;
    let mut column: u32 = 1;

    while let Some(&c) = chars.peek() {
        let pos = Pos::new(line, column);
        match c {
            '\n' => {
                chars.next();
                tokens.push(Token {
                    kind: TokenKind::Newline,
                    pos,
                });
                line = line.saturating_add(1);
                column = 1;
            }
            c if c.is_whitespace() => {
                chars.next();
                column = column.saturating_add(1);
            }
            c if c.is_control() => {
                // A NUL or escape character in a config is corruption or an attack,
                // never intent; refuse it rather than carry it into a name.
                chars.next();
                column = column.saturating_add(1);
                sink.error(
                    pos,
                    format!(
                        "control character U+{:04X} is not allowed in keepalived.conf",
                        u32::from(c)
                    ),
                );
            }
            '#' | '!' => {
                while chars.next_if(|&c| c != '\n').is_some() {
                    column = column.saturating_add(1);
                }
            }
            '{' | '}' => {
                chars.next();
                column = column.saturating_add(1);
                let kind = if c == '{' {
                    TokenKind::Open
                } else {
                    TokenKind::Close
                };
                tokens.push(Token { kind, pos });
            }
            '"' => {
                chars.next();
                column = column.saturating_add(1);
                let mut value = String::new();
                let mut closed = false;
                while let Some(c) = chars.next_if(|&c| c != '\n') {
                    column = column.saturating_add(1);
                    if c == '"' {
                        closed = true;
                        break;
                    }
                    if c == '\\' {
                        backslash(sink, Pos::new(line, column.saturating_sub(1)));
                        continue;
                    }
                    if c.is_control() && c != '\t' {
                        sink.error(
                            Pos::new(line, column.saturating_sub(1)),
                            format!(
                                "control character U+{:04X} is not allowed in keepalived.conf",
                                u32::from(c)
                            ),
                        );
                        continue;
                    }
                    value.push(c);
                }
                if !closed {
                    sink.error(
                        pos,
                        "unterminated quoted string: add the closing '\"' on the same line",
                    );
                }
                tokens.push(Token {
                    kind: TokenKind::Quoted(value),
                    pos,
                });
            }
            _ => {
                let mut value = String::new();
                while let Some(c) = chars.next_if(|&c| !ends_word(c)) {
                    column = column.saturating_add(1);
                    if c == '\\' {
                        backslash(sink, Pos::new(line, column.saturating_sub(1)));
                        continue;
                    }
                    value.push(c);
                }
                tokens.push(Token {
                    kind: TokenKind::Word(value),
                    pos,
                });
            }
        }
    }
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;
    use TokenKind::*;

    fn kinds(text: &str) -> Vec<TokenKind> {
        let mut sink = Sink::new("t.conf");
        let toks = lex(text, &mut sink);
        assert!(sink.diagnostics.is_empty(), "{:?}", sink.diagnostics);
        toks.into_iter().map(|t| t.kind).collect()
    }

    fn w(s: &str) -> TokenKind {
        Word(s.to_string())
    }

    #[test]
    fn words_braces_and_newlines_are_separate_tokens() {
        assert_eq!(
            kinds("vrrp_instance VI_1{\n state MASTER }\n"),
            vec![
                w("vrrp_instance"),
                w("VI_1"),
                Open,
                Newline,
                w("state"),
                w("MASTER"),
                Close,
                Newline
            ]
        );
    }

    #[test]
    fn hash_and_bang_start_comments_even_inside_a_word() {
        assert_eq!(
            kinds("# whole line\nauth_pass ab#cd\nvirtual_router_id 5! trailing\n"),
            vec![
                Newline,
                w("auth_pass"),
                w("ab"),
                Newline,
                w("virtual_router_id"),
                w("5"),
                Newline
            ]
        );
    }

    #[test]
    fn quoted_strings_keep_spaces_and_comment_characters() {
        assert_eq!(
            kinds(r#"script "/bin/bash -c '</dev/tcp/127.0.0.1/443' # not a comment""#),
            vec![
                w("script"),
                Quoted("/bin/bash -c '</dev/tcp/127.0.0.1/443' # not a comment".into())
            ]
        );
    }

    #[test]
    fn tokens_carry_line_and_character_column() {
        let mut sink = Sink::new("t.conf");
        let toks = lex("a\n  é b\n", &mut sink);
        let positions: Vec<Pos> = toks.iter().map(|t| t.pos).collect();
        assert_eq!(
            positions,
            vec![
                Pos::new(1, 1),
                Pos::new(1, 2),
                Pos::new(2, 3),
                Pos::new(2, 5),
                Pos::new(2, 6)
            ]
        );
    }

    #[test]
    fn control_characters_are_refused_where_they_are() {
        let mut sink = Sink::new("k.conf");
        let toks = lex("a\u{0}b\n", &mut sink);
        assert_eq!(
            sink.diagnostics[0].to_string(),
            "k.conf:1:2: error: control character U+0000 is not allowed in keepalived.conf"
        );
        assert_eq!(toks.len(), 3);
    }

    #[test]
    fn backslashes_are_refused_in_words_and_quoted_strings() {
        let mut sink = Sink::new("k.conf");
        lex("auth_pass a\\b \"c\\\"\n", &mut sink);
        let got: Vec<String> = sink.diagnostics.iter().map(|d| d.to_string()).collect();
        let msg = "error: '\\' is not allowed: keepalived reads it as an escape character; write the value without it";
        assert_eq!(
            got,
            vec![format!("k.conf:1:12: {msg}"), format!("k.conf:1:17: {msg}"),]
        );
    }

    #[test]
    fn unterminated_quote_is_an_error_at_its_opening_and_lexing_continues() {
        let mut sink = Sink::new("k.conf");
        let toks = lex("auth_pass \"abc\nnext line\n", &mut sink);
        assert_eq!(sink.diagnostics.len(), 1);
        assert_eq!(
            sink.diagnostics[0].to_string(),
            "k.conf:1:11: error: unterminated quoted string: add the closing '\"' on the same line"
        );
        let kinds: Vec<TokenKind> = toks.into_iter().map(|t| t.kind).collect();
        assert_eq!(
            kinds,
            vec![
                w("auth_pass"),
                Quoted("abc".into()),
                Newline,
                w("next"),
                w("line"),
                Newline
            ]
        );
    }
}
