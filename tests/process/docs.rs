//! The docs stay true to the code: every test a document in `docs/` names exists, and
//! every rule or scenario ID a comment or test name cites (C-xx, K-xx, S-xx) is
//! defined in `docs/`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.rs` file of the workspace (not `target/`).
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        let name = e.file_name();
        if path.is_dir() {
            if name != "target" && name != ".git" && name != ".venv" {
                rust_files(&path, out);
            }
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

fn docs_text() -> String {
    let mut text = String::new();
    for e in std::fs::read_dir(repo().join("docs")).unwrap().flatten() {
        if e.path().extension().is_some_and(|x| x == "md") {
            text.push_str(&std::fs::read_to_string(e.path()).unwrap());
        }
    }
    text
}

fn code_text() -> String {
    let mut files = Vec::new();
    rust_files(repo(), &mut files);
    files
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Backticked words that look like test names: snake_case with four or more parts.
fn cited_test_names(docs: &str) -> BTreeSet<String> {
    docs.split('`')
        .skip(1)
        .step_by(2)
        .filter(|w| {
            w.split('_').count() >= 5
                && w.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        })
        .map(str::to_string)
        .collect()
}

#[test]
fn every_test_the_docs_name_exists() {
    let code = code_text();
    let missing: Vec<String> = cited_test_names(&docs_text())
        .into_iter()
        .filter(|n| !code.contains(&format!("fn {n}(")))
        .collect();
    assert_eq!(
        missing,
        Vec::<String>::new(),
        "docs/ names tests that do not exist"
    );
}

/// IDs like C-13, K-04, S-20 or S20 in the code.
fn cited_ids(code: &str) -> BTreeSet<String> {
    let bytes = code.as_bytes();
    let mut out = BTreeSet::new();
    for (i, &b) in bytes.iter().enumerate() {
        if !matches!(b, b'C' | b'K' | b'S') || (i > 0 && bytes[i - 1].is_ascii_alphanumeric()) {
            continue;
        }
        let rest = &code[i + 1..];
        let rest = if b == b'S' {
            rest.strip_prefix('-').unwrap_or(rest)
        } else {
            match rest.strip_prefix('-') {
                Some(r) => r,
                None => continue,
            }
        };
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        let after = rest.chars().nth(digits.len());
        if digits.is_empty() || digits.len() > 2 || after.is_some_and(|c| c.is_ascii_alphanumeric())
        {
            continue;
        }
        let n: u32 = digits.parse().unwrap_or(0);
        out.insert(match b {
            b'S' => format!("S{n}"),
            _ => format!("{}-{digits}", b as char),
        });
    }
    out
}

#[test]
fn every_rule_and_scenario_id_the_code_cites_is_defined_in_docs() {
    let docs = docs_text();
    let undefined: Vec<String> = cited_ids(&code_text())
        .into_iter()
        .filter(|id| !docs.contains(&format!("| {id} |")) && !docs.contains(&format!("## {id}:")))
        .collect();
    assert_eq!(
        undefined,
        Vec::<String>::new(),
        "cited in the code, defined nowhere in docs/"
    );
}
