//! The one binary of the charm. Run by Juju (through `dispatch` or `hooks/<name>`)
//! with no arguments it handles the hook named by `JUJU_DISPATCH_PATH`; with a
//! subcommand it is the VRRP engine daemon or the health-check helper.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "keepalived-charm", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the VRRP engine on a keepalived.conf (in the foreground), or only check it.
    Vrrp(VrrpArgs),
    /// Exit 0 if a TCP connection to HOST:PORT opens within the timeout, else 1.
    /// Used as the vrrp_script health check by our engine and by keepalived alike.
    CheckTcp {
        host: String,
        port: u16,
        /// Connect timeout in milliseconds.
        #[arg(long, default_value_t = 1000)]
        timeout_ms: u64,
    },
    /// Handle a Juju hook (the default when run with no arguments).
    Hook {
        /// Hook name; defaults to JUJU_DISPATCH_PATH, then to the program name.
        name: Option<String>,
    },
}

#[derive(clap::Args)]
struct VrrpArgs {
    /// keepalived.conf to run (or check).
    #[arg(
        long,
        short = 'f',
        default_value = "/etc/keepalived-charm/keepalived.conf"
    )]
    config: PathBuf,
    /// Parse and validate only, print every error, exit non-zero on any (like `keepalived -t`).
    #[arg(long)]
    check: bool,
    /// JSON state file, rewritten atomically on every state change.
    #[arg(long)]
    state_file: Option<PathBuf>,
    /// PID file to write at start and remove at exit.
    #[arg(long)]
    pid_file: Option<PathBuf>,
    /// File holding the metrics endpoint's address, one line `IP:PORT` (missing or
    /// empty: no metrics); re-read on SIGHUP.
    #[arg(long)]
    metrics_file: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        None => hook(None),
        Some(Command::Hook { name }) => hook(name),
        Some(Command::CheckTcp {
            host,
            port,
            timeout_ms,
        }) => check_tcp(&host, port, Duration::from_millis(timeout_ms)),
        Some(Command::Vrrp(args)) => vrrp(args),
    }
}

fn hook(name: Option<String>) -> ExitCode {
    match keepalived_charm::charm::run_hook(name) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("ERROR {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn vrrp(args: VrrpArgs) -> ExitCode {
    if args.check {
        return vrrp_check(&args.config);
    }
    init_logging();
    let daemon = keepalived_charm::engine::daemon::DaemonArgs {
        config: args.config,
        state_file: args.state_file,
        pid_file: args.pid_file,
        metrics_file: args.metrics_file,
    };
    match keepalived_charm::engine::daemon::run(daemon) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("{err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs to stderr (systemd's journal takes them), level from `RUST_LOG`, default
/// info. No colours: the journal stores the bytes.
fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
}

/// `vrrp --check`, like `keepalived -t`: every diagnostic on stderr as
/// `FILE:LINE:COL: error: ...`, a one-line summary on stdout when the file is good,
/// exit 1 on any error.
fn vrrp_check(path: &std::path::Path) -> ExitCode {
    let checked = keepalived_charm::engine::host::check_file(path);
    for diagnostic in &checked.diagnostics {
        eprintln!("{diagnostic}");
    }
    let errors = checked.diagnostics.iter().filter(|d| d.is_error()).count();
    if errors > 0 {
        eprintln!(
            "{}: {errors} error{} found",
            path.display(),
            if errors == 1 { "" } else { "s" }
        );
        return ExitCode::FAILURE;
    }
    println!("{}: OK: {}", path.display(), checked.config.summary());
    ExitCode::SUCCESS
}

fn check_tcp(host: &str, port: u16, timeout: Duration) -> ExitCode {
    use std::net::{TcpStream, ToSocketAddrs};
    let addrs = match (host, port).to_socket_addrs() {
        Ok(addrs) => addrs,
        Err(err) => {
            eprintln!("check-tcp: cannot resolve {host}: {err}");
            return ExitCode::FAILURE;
        }
    };
    for addr in addrs {
        if TcpStream::connect_timeout(&addr, timeout).is_ok() {
            return ExitCode::SUCCESS;
        }
    }
    ExitCode::FAILURE
}
