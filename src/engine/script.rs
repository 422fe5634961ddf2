//! Runs `vrrp_script` health checks: one command, a deadline, a verdict.
//!
//! keepalived does not hand the script line to a shell: it splits it into words
//! (honouring single and double quotes) and execs the first word. We do the same, so
//! the original charm's `script "/bin/bash -c '</dev/tcp/127.0.0.1/443'"` means
//! exactly what it meant under keepalived.
//!
//! A script that hangs is killed at its timeout together with everything it started:
//! each run gets its own process group and the whole group is SIGKILLed.

use std::process::Stdio;
use std::time::Duration;

use thiserror::Error;

/// The verdict of one run of a health-check script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exit status 0.
    Success,
    /// A non-zero exit status, or death by a signal.
    Failure,
    /// Still running at the timeout; killed (counts as a failure, like keepalived).
    TimedOut,
    /// Could not be started (missing executable, permissions).
    NotStarted,
}

impl Outcome {
    pub fn is_ok(self) -> bool {
        self == Outcome::Success
    }
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum SplitError {
    #[error("unterminated {0} quote in script {1:?}")]
    UnterminatedQuote(char, String),
    #[error("empty script")]
    Empty,
}

/// Splits a script line into argv words the way keepalived does: whitespace separates
/// words, single and double quotes group (and are removed), a backslash escapes the
/// next character outside single quotes. No variable or glob expansion.
pub fn split_words(line: &str) -> Result<Vec<String>, SplitError> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' => {
                in_word = true;
                let quote = c;
                loop {
                    match chars.next() {
                        Some(q) if q == quote => break,
                        Some('\\') if quote == '"' => match chars.next() {
                            Some(escaped) => word.push(escaped),
                            None => return Err(SplitError::UnterminatedQuote(quote, line.into())),
                        },
                        Some(other) => word.push(other),
                        None => return Err(SplitError::UnterminatedQuote(quote, line.into())),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(escaped) = chars.next() {
                    word.push(escaped);
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            other => {
                in_word = true;
                word.push(other);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    if words.is_empty() {
        return Err(SplitError::Empty);
    }
    Ok(words)
}

/// Runs `argv` with a deadline. Output is discarded (keepalived does the same unless
/// debugging); the exit status is the verdict.
pub async fn run(argv: &[String], timeout: Duration) -> Outcome {
    let Some((program, args)) = argv.split_first() else {
        return Outcome::NotStarted;
    };
    let mut command = tokio::process::Command::new(program);
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        // Its own process group, so a timeout can kill whatever the script started.
        .process_group(0)
        .kill_on_drop(true);
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(_) => return Outcome::NotStarted,
    };
    match tokio::time::timeout(timeout, child.wait()).await {
        Ok(Ok(status)) if status.success() => Outcome::Success,
        Ok(_) => Outcome::Failure,
        Err(_) => {
            if let Some(pid) = child.id() {
                kill_group(pid);
            }
            let _ = child.kill().await;
            Outcome::TimedOut
        }
    }
}

fn kill_group(pid: u32) {
    let Ok(pgid) = i32::try_from(pid) else {
        return;
    };
    // SAFETY: kill(2) takes two integers and touches no memory of ours; a negative pid
    // addresses the process group the child leads (process_group(0) above made its
    // pgid equal to its pid), so only the script and its descendants are signalled.
    unsafe {
        libc::kill(-pgid, libc::SIGKILL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<String> {
        split_words(line).unwrap()
    }

    #[test]
    fn original_charm_script_splits_like_keepalived() {
        assert_eq!(
            words("/bin/bash -c '</dev/tcp/127.0.0.1/443'"),
            vec!["/bin/bash", "-c", "</dev/tcp/127.0.0.1/443"]
        );
    }

    #[test]
    fn quotes_group_and_escapes_work() {
        assert_eq!(
            words(r#"a "b c" d\ e 'f"g'"#),
            vec!["a", "b c", "d e", "f\"g"]
        );
        assert_eq!(words("  x   y  "), vec!["x", "y"]);
        assert_eq!(words("''"), vec![""]);
    }

    #[test]
    fn bad_script_lines_are_refused() {
        assert_eq!(split_words("   "), Err(SplitError::Empty));
        assert!(matches!(
            split_words("a 'b"),
            Err(SplitError::UnterminatedQuote('\'', _))
        ));
    }

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn exit_status_decides_the_outcome() {
        let rt = rt();
        let t = Duration::from_secs(5);
        assert_eq!(rt.block_on(run(&words("/bin/true"), t)), Outcome::Success);
        assert_eq!(rt.block_on(run(&words("/bin/false"), t)), Outcome::Failure);
        assert_eq!(
            rt.block_on(run(&words("/nonexistent/check"), t)),
            Outcome::NotStarted
        );
    }

    #[test]
    fn a_hanging_script_is_killed_with_its_children_at_the_timeout() {
        let rt = rt();
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("child.pid");
        // The script starts a grandchild that would outlive a plain kill of the shell.
        let line = format!(
            "/bin/sh -c 'sleep 30 & echo $! > {}; wait'",
            marker.display()
        );
        let started = std::time::Instant::now();
        let outcome = rt.block_on(run(&words(&line), Duration::from_millis(300)));
        assert_eq!(outcome, Outcome::TimedOut);
        assert!(started.elapsed() < Duration::from_secs(5));
        let pid: i32 = std::fs::read_to_string(&marker)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        // The grandchild must be gone (reaped by init, or a zombie at worst).
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let alive = !stat.is_empty() && !stat.contains(") Z");
            if !alive {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "grandchild {pid} still alive"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
