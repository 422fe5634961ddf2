//! Network namespaces, and a worker thread inside each one that runs closures and
//! async tasks there.
//!
//! Why a thread that calls `setns` rather than `ip netns exec` for in-process code:
//! the sockets and netlink connections under test are library values, not a
//! program; a thread whose network namespace is switched with `setns(CLONE_NEWNET)`
//! creates them in the namespace (a socket stays in the namespace it was created in,
//! whichever thread uses it later), and the test asserts on the returned Rust values
//! directly. `setns` of a network namespace affects only the calling thread, so the
//! test thread and parallel tests are untouched. External programs (keepalived,
//! tcpdump, our daemon) go through `ip netns exec` instead.

use std::fs::File;
use std::future::Future;
use std::os::fd::AsRawFd;
use std::process::{Command, Output};
use std::sync::mpsc as std_mpsc;
use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::AbortHandle;

type Job = Box<dyn FnOnce() + Send>;

/// A network namespace created by the lab and deleted on drop.
pub struct Netns {
    pub name: String,
    worker: Mutex<Option<Worker>>,
    /// A second worker at real-time priority, for instruments ([`Netns::spawn_realtime`]).
    rt_worker: Mutex<Option<Worker>>,
}

struct Worker {
    jobs: mpsc::UnboundedSender<Job>,
    thread: Option<JoinHandle<()>>,
}

impl Netns {
    /// `ip netns add NAME`, with `sysctls` applied before any interface exists (so
    /// `default.*` values reach the interfaces created later).
    pub fn create(name: &str, sysctls: &[&str]) -> Netns {
        run_ok("ip", &["netns", "add", name]);
        let ns = Netns {
            name: name.to_string(),
            worker: Mutex::new(None),
            rt_worker: Mutex::new(None),
        };
        for s in sysctls {
            ns.exec_ok(&["sysctl", "-qw", s]);
        }
        ns.ip("link set lo up");
        ns
    }

    /// `ip -n NS ARGS...` (ARGS split on whitespace); panics with ip's stderr on failure.
    pub fn ip(&self, args: &str) -> String {
        let mut argv = vec!["-n", self.name.as_str()];
        argv.extend(args.split_whitespace());
        run_ok("ip", &argv)
    }

    /// Like [`Netns::ip`] but returns ip's stderr on failure.
    pub fn try_ip(&self, args: &str) -> Result<String, String> {
        let mut argv = vec!["-n", self.name.as_str()];
        argv.extend(args.split_whitespace());
        run("ip", &argv)
    }

    /// `ip netns exec NS ARGV...` and waits for it.
    pub fn exec(&self, argv: &[&str]) -> Output {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name]).args(argv);
        cmd.output()
            .unwrap_or_else(|e| panic!("cannot run ip netns exec {} {argv:?}: {e}", self.name))
    }

    /// Like [`Netns::exec`]; panics unless it exits 0, returns stdout.
    pub fn exec_ok(&self, argv: &[&str]) -> String {
        let out = self.exec(argv);
        if !out.status.success() {
            panic!(
                "`ip netns exec {} {}` failed ({}): {}",
                self.name,
                argv.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs `f` on the namespace's worker thread and returns its result. `f` runs
    /// inside the worker's tokio runtime, so it may register sockets with it.
    pub fn run<T, F>(&self, f: F) -> T
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let (tx, rx) = std_mpsc::channel();
        self.submit_to(
            false,
            Box::new(move || {
                let _ = tx.send(f());
            }),
        );
        rx.recv()
            .unwrap_or_else(|_| panic!("a closure in namespace {} panicked", self.name))
    }

    /// Spawns the future `make()` returns on the namespace's runtime. The future need
    /// not be Send: it stays on the worker thread.
    pub fn spawn<T, Fut, F>(&self, make: F) -> Task<T>
    where
        T: Send + 'static,
        Fut: Future<Output = T> + 'static,
        F: FnOnce() -> Fut + Send + 'static,
    {
        self.spawn_on(false, make)
    }

    /// Like [`Netns::spawn`], on a second worker thread of the namespace that runs at
    /// real-time priority (`SCHED_FIFO` 1: above every normal task, below the engines'
    /// `vrrp_rt_priority`). For an instrument that stamps what it reads with the time
    /// it read it, so the stamps do not wait for the scheduler of a 2-core machine
    /// busy with parallel tests and a compile: the advert listener's longest interval
    /// at 0.1 s over 40 runs beside an idle-class release build was 100.4 ms at
    /// real-time priority, 103.8 ms without. (What the wire itself does under load,
    /// the bridge's forwarding included, no priority here changes.) Its tasks must
    /// only wait on I/O and timers: a real-time thread that spins starves the machine.
    pub fn spawn_realtime<T, Fut, F>(&self, make: F) -> Task<T>
    where
        T: Send + 'static,
        Fut: Future<Output = T> + 'static,
        F: FnOnce() -> Fut + Send + 'static,
    {
        self.spawn_on(true, make)
    }

    fn spawn_on<T, Fut, F>(&self, realtime: bool, make: F) -> Task<T>
    where
        T: Send + 'static,
        Fut: Future<Output = T> + 'static,
        F: FnOnce() -> Fut + Send + 'static,
    {
        let (tx, rx) = std_mpsc::channel();
        let (abort_tx, abort_rx) = std_mpsc::channel();
        self.submit_to(
            realtime,
            Box::new(move || {
                let fut = make();
                let handle = tokio::task::spawn_local(async move {
                    let _ = tx.send(fut.await);
                });
                let _ = abort_tx.send(handle.abort_handle());
            }),
        );
        let abort = abort_rx
            .recv()
            .unwrap_or_else(|_| panic!("spawning a task in namespace {} panicked", self.name));
        Task {
            what: format!("task in namespace {}", self.name),
            result: rx,
            abort,
        }
    }

    /// Runs the future `make()` returns to completion in the namespace (60 s cap).
    pub fn block_on<T, Fut, F>(&self, make: F) -> T
    where
        T: Send + 'static,
        Fut: Future<Output = T> + 'static,
        F: FnOnce() -> Fut + Send + 'static,
    {
        self.spawn(make).wait(Duration::from_secs(60))
    }

    /// Hands `job` to the real-time worker or the normal one, starting it first.
    fn submit_to(&self, realtime: bool, job: Job) {
        let worker = if realtime {
            &self.rt_worker
        } else {
            &self.worker
        };
        let mut guard = worker.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            *guard = Some(Worker::start(&self.name, realtime));
        }
        let worker = guard.as_ref().expect("worker just started");
        if worker.jobs.send(job).is_err() {
            panic!("the worker thread of namespace {} has died", self.name);
        }
    }

    /// Stops the worker threads: their tasks are dropped, their sockets closed.
    pub fn stop_worker(&self) {
        for worker in [&self.worker, &self.rt_worker] {
            let worker = worker.lock().unwrap_or_else(|p| p.into_inner()).take();
            if let Some(mut w) = worker {
                drop(w.jobs);
                if let Some(t) = w.thread.take() {
                    let _ = t.join();
                }
            }
        }
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        self.stop_worker();
        if let Err(e) = run("ip", &["netns", "del", &self.name]) {
            eprintln!("lab: cannot delete namespace {}: {e}", self.name);
        }
    }
}

impl Worker {
    fn start(ns: &str, realtime: bool) -> Worker {
        let (jobs, mut rx) = mpsc::unbounded_channel::<Job>();
        let (ready_tx, ready_rx) = std_mpsc::channel::<Result<(), String>>();
        let name = ns.to_string();
        let thread = std::thread::Builder::new()
            .name(format!("{}-{ns}", if realtime { "rt" } else { "ns" }))
            .spawn(move || {
                if let Err(e) = enter(&name) {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
                if realtime {
                    if let Err(e) = realtime_fifo_1() {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                }
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(format!("tokio runtime: {e}")));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(()));
                let local = tokio::task::LocalSet::new();
                local.block_on(&rt, async move {
                    while let Some(job) = rx.recv().await {
                        // A panicking closure fails its own caller (its result
                        // channel closes) but leaves the worker serving others.
                        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                    }
                });
            })
            .expect("spawn a namespace worker thread");
        match ready_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => panic!("cannot enter namespace {ns}: {e}"),
            Err(_) => panic!("the worker thread of namespace {ns} died at start"),
        }
        Worker {
            jobs,
            thread: Some(thread),
        }
    }
}

/// Moves the calling thread into network namespace `name`.
fn enter(name: &str) -> Result<(), String> {
    let path = format!("/run/netns/{name}");
    let file = File::open(&path).map_err(|e| format!("open {path}: {e}"))?;
    // SAFETY: `file` is an open descriptor of a network namespace (ip netns add
    // bind-mounts one at this path) and stays open across the call. setns with
    // CLONE_NEWNET changes only the calling thread's network namespace; it touches
    // no memory of ours.
    let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
    if rc != 0 {
        return Err(format!("setns {path}: {}", std::io::Error::last_os_error()));
    }
    Ok(())
}

/// Puts the calling thread in `SCHED_FIFO` at priority 1. The lab runs as root, so a
/// refusal is an error, not a silent downgrade of the instrument.
fn realtime_fifo_1() -> Result<(), String> {
    let param = libc::sched_param { sched_priority: 1 };
    // SAFETY: sched_setscheduler(2) on the calling thread (pid 0) with a valid,
    // initialised sched_param that outlives the call; it touches no memory of ours.
    let rc = unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) };
    if rc != 0 {
        return Err(format!(
            "sched_setscheduler(SCHED_FIFO, 1): {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

/// The result of a task spawned in a namespace.
pub struct Task<T> {
    what: String,
    result: std_mpsc::Receiver<T>,
    abort: AbortHandle,
}

impl<T> Task<T> {
    /// Waits for the task's result; panics if it does not come within `limit` or the
    /// task panicked.
    pub fn wait(self, limit: Duration) -> T {
        match self.result.recv_timeout(limit) {
            Ok(v) => v,
            Err(std_mpsc::RecvTimeoutError::Timeout) => {
                self.abort.abort();
                panic!("{} gave no result within {limit:?}", self.what)
            }
            Err(std_mpsc::RecvTimeoutError::Disconnected) => {
                panic!("{} panicked or was aborted", self.what)
            }
        }
    }

    /// The result, if the task has finished.
    pub fn try_take(&self) -> Option<T> {
        self.result.try_recv().ok()
    }

    pub fn abort(&self) {
        self.abort.abort();
    }
}

/// Runs a program and returns stdout, or stderr on failure.
pub fn run(program: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "`{program} {}` failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Like [`run`]; panics on failure.
pub fn run_ok(program: &str, args: &[&str]) -> String {
    run(program, args).unwrap_or_else(|e| panic!("{e}"))
}
