//! Processes started in a namespace, killed by pid (never by name) on drop.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A program run with `ip netns exec` (which execs it: the child's pid is the
/// program's). `pidfiles` name further processes it forks (keepalived's VRRP child)
/// so they can be signalled and killed too.
pub struct Proc {
    pub name: String,
    pub log: PathBuf,
    child: Child,
    pidfiles: Vec<PathBuf>,
    exited: Option<ExitStatus>,
}

impl Proc {
    /// Starts `argv` in namespace `ns`, stdout and stderr to `log`.
    pub fn spawn(ns: &str, name: &str, argv: &[&str], log: &Path, pidfiles: Vec<PathBuf>) -> Proc {
        let out = File::create(log).unwrap_or_else(|e| panic!("create {}: {e}", log.display()));
        let err = out.try_clone().expect("clone log file handle");
        let child = Command::new("ip")
            .args(["netns", "exec", ns])
            .args(argv)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {argv:?} in {ns}: {e}"));
        Proc {
            name: name.to_string(),
            log: log.to_path_buf(),
            child,
            pidfiles,
            exited: None,
        }
    }

    /// The pid of the program itself.
    pub fn pid(&self) -> i32 {
        i32::try_from(self.child.id()).expect("pid fits i32")
    }

    /// Pids read from the pid files (forked children), without the main pid.
    pub fn child_pids(&self) -> Vec<i32> {
        let main = self.pid();
        self.pidfiles
            .iter()
            .filter_map(|p| std::fs::read_to_string(p).ok())
            .filter_map(|s| s.trim().parse::<i32>().ok())
            .filter(|&p| p > 1 && p != main)
            .collect()
    }

    /// Sends `sig` to the main process, unless it has exited and been reaped (its pid
    /// may belong to someone else by now).
    pub fn signal(&mut self, sig: libc::c_int) {
        if self.is_running() {
            send_signal(self.pid(), sig);
        }
    }

    /// SIGKILL, children first (so a parent cannot react to its child's death, e.g.
    /// keepalived respawning it, and a child cannot react to its parent's: keepalived's
    /// VRRP child sends priority 0 when its parent dies). Then reaps what it can.
    pub fn kill_hard(&mut self) {
        let children = self.child_pids();
        for &pid in &children {
            send_signal(pid, libc::SIGKILL);
        }
        if self.exited.is_none() {
            send_signal(self.pid(), libc::SIGKILL);
            self.exited = self.child.wait().ok();
        }
        for pid in children {
            reap(pid);
        }
        self.forget_children();
    }

    /// Deletes the pid files once their processes are dead and reaped, so a stale
    /// pid (soon reused by an unrelated process) is never signalled.
    fn forget_children(&mut self) {
        for p in &self.pidfiles {
            let _ = std::fs::remove_file(p);
        }
    }

    /// Whether the main process still runs.
    pub fn is_running(&mut self) -> bool {
        if self.exited.is_some() {
            return false;
        }
        match self.child.try_wait() {
            Ok(Some(status)) => {
                self.exited = Some(status);
                false
            }
            Ok(None) => true,
            Err(_) => false,
        }
    }

    /// Waits up to `limit` for the main process to exit.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if !self.is_running() {
                return self.exited;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        None
    }

    /// Whether every process of this program (main and pid-file children) is gone.
    pub fn all_gone(&mut self) -> bool {
        if self.is_running() {
            return false;
        }
        let children = self.child_pids();
        if children.iter().any(|&p| alive(p)) {
            return false;
        }
        for pid in children {
            reap(pid);
        }
        self.forget_children();
        true
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill_hard();
    }
}

pub fn send_signal(pid: i32, sig: libc::c_int) {
    // SAFETY: kill(2) only takes integers; a stale pid makes it fail with ESRCH,
    // which we ignore.
    unsafe {
        libc::kill(pid, sig);
    }
}

/// Alive and not a zombie.
pub fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name.
        Ok(stat) => stat
            .rsplit_once(')')
            .map(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X']))
            .unwrap_or(false),
        Err(_) => false,
    }
}

/// Reaps `pid` if it became our child (we are a child subreaper, see
/// [`become_subreaper`]); harmless otherwise.
fn reap(pid: i32) {
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        let mut status = 0;
        // SAFETY: waitpid writes only to `status`, a live local; WNOHANG never blocks.
        let rc = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if rc == pid || rc < 0 {
            return; // reaped, or not our child (ECHILD): nothing to do
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Makes this test process the reaper of orphaned descendants (keepalived's VRRP
/// child outlives its killed parent), so they are reaped instead of lingering as
/// zombies of init.
pub fn become_subreaper() {
    // SAFETY: PR_SET_CHILD_SUBREAPER takes an integer flag and touches no memory.
    unsafe {
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    }
}

/// VmRSS of `pid` in kB (0 once it is gone).
pub fn rss_kb(pid: i32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

/// CPU time of every thread of `pid`, in ns (schedstat's first field).
pub fn cpu_ns(pid: i32) -> u64 {
    per_thread(pid, "schedstat", |s| {
        s.split_whitespace().next()?.parse::<u64>().ok()
    })
}

/// Context switches (voluntary and not) of every thread of `pid`.
pub fn switches(pid: i32) -> u64 {
    per_thread(pid, "status", ctxt_switches)
}

/// Context switches (voluntary and not) of `pid`'s main thread alone: the engine's
/// event loop (its tokio runtime runs on the main thread).
pub fn main_thread_switches(pid: i32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/status"))
        .ok()
        .and_then(|s| ctxt_switches(&s))
        .unwrap_or(0)
}

/// The voluntary and involuntary context switches in a thread's `status` file.
fn ctxt_switches(status: &str) -> Option<u64> {
    status
        .lines()
        .filter(|l| l.contains("ctxt_switches:"))
        .map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        .sum()
}

/// `read` of `/proc/PID/task/*/FILE`, summed over the threads of `pid`.
fn per_thread(pid: i32, file: &str, read: impl Fn(&str) -> Option<u64>) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join(file)).ok())
        .filter_map(|s| read(&s))
        .sum()
}
