//! Splits a `vrrp_script` command line into a program and its arguments, the way
//! keepalived 2.2 does for the subset we accept: words separated by blanks, `'...'`
//! groups characters (blanks included) into a word, adjacent pieces join
//! (`'a b'c` is `a bc`), and `''` is an empty argument. keepalived also gives `\` a
//! meaning; we refuse it rather than risk splitting differently from keepalived.

/// Why a command line cannot be split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SplitError {
    Empty,
    Unterminated,
    Backslash,
}

impl std::fmt::Display for SplitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SplitError::Empty => "names no program",
            SplitError::Unterminated => "has a ' that is never closed",
            SplitError::Backslash => {
                "contains '\\', whose escaping rules differ between shells and keepalived; use '...' quoting instead"
            }
        })
    }
}

pub(crate) fn split(line: &str) -> Result<Vec<String>, SplitError> {
    let mut words = Vec::new();
    let mut current: Option<String> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' => {
                if let Some(word) = current.take() {
                    words.push(word);
                }
            }
            '\\' => return Err(SplitError::Backslash),
            '\'' => {
                let word = current.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err(SplitError::Unterminated),
                    }
                }
            }
            c => current.get_or_insert_with(String::new).push(c),
        }
    }
    if let Some(word) = current {
        words.push(word);
    }
    match words.first() {
        Some(program) if !program.is_empty() => Ok(words),
        _ => Err(SplitError::Empty),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(line: &str) -> Vec<String> {
        split(line).unwrap()
    }

    #[test]
    fn original_charm_health_check_splits_into_three_words() {
        assert_eq!(
            ok("/bin/bash -c '</dev/tcp/127.0.0.1/443'"),
            vec!["/bin/bash", "-c", "</dev/tcp/127.0.0.1/443"]
        );
    }

    #[test]
    fn quotes_group_join_and_may_be_empty_like_keepalived() {
        // keepalived 2.2.7 dumps this as '/usr/bin/echo' 'a bc' 'de' ''.
        assert_eq!(
            ok("/bin/echo 'a b'c  d'e'  ''"),
            vec!["/bin/echo", "a bc", "de", ""]
        );
    }

    #[test]
    fn unsplittable_command_lines_are_refused() {
        assert_eq!(split("  "), Err(SplitError::Empty));
        assert_eq!(split("'' x"), Err(SplitError::Empty));
        assert_eq!(split("/bin/x 'abc"), Err(SplitError::Unterminated));
        assert_eq!(split("/bin/x a\\ b"), Err(SplitError::Backslash));
    }
}
