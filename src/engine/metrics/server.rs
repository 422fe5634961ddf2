//! The metrics endpoint: `GET /metrics` over HTTP/1.1 (hyper), on a thread of its own
//! with its own current-thread tokio runtime, so no scraper can delay the VRRP loop.
//!
//! What a slow or hostile client can cost is bounded by [`Limits`]:
//! * at most `max_connections` at once; a connection beyond that is closed as soon
//!   as it is accepted;
//! * the request head must arrive within `header_timeout` (hyper's header-read
//!   timeout), at most 16 KiB of it;
//! * the response must be written within `write_timeout` after that: the whole
//!   connection has `header_timeout + write_timeout` to live, then it is dropped;
//! * one request per connection (no keep-alive), so an idle connection never holds a
//!   slot.
//!
//! The address can change at run time ([`MetricsServer::set_address`], on SIGHUP): the
//! new one is bound first (by the caller's thread, a non-blocking `bind`), and only
//! then is the old listener closed; a failed bind keeps the old one serving.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{HeaderValue, ACCEPT, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinHandle;

use super::{encode, Format, Published};

/// What one client may cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_connections: usize,
    pub header_timeout: Duration,
    pub write_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_connections: 16,
            header_timeout: Duration::from_secs(5),
            write_timeout: Duration::from_secs(10),
        }
    }
}

/// Largest request head accepted (hyper's minimum buffer is 8 KiB).
const MAX_REQUEST_HEAD: usize = 16 * 1024;

enum Command {
    Serve(std::net::TcpListener),
    Stop,
}

/// The endpoint's handle, owned by the event loop.
pub struct MetricsServer {
    tx: Option<mpsc::UnboundedSender<Command>>,
    thread: Option<std::thread::JoinHandle<()>>,
    slots: Arc<Semaphore>,
    limits: Limits,
    /// The address asked for and its bound socket's address.
    serving: Option<(SocketAddr, SocketAddr)>,
}

impl MetricsServer {
    /// Starts the server thread, serving nothing until [`set_address`](Self::set_address).
    pub fn start(published: Published, limits: Limits) -> io::Result<MetricsServer> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (tx, rx) = mpsc::unbounded_channel();
        let slots = Arc::new(Semaphore::new(limits.max_connections));
        let thread_slots = slots.clone();
        let thread = std::thread::Builder::new()
            .name("metrics".into())
            .stack_size(256 * 1024)
            .spawn(move || runtime.block_on(control(rx, published, thread_slots, limits)))?;
        Ok(MetricsServer {
            tx: Some(tx),
            thread: Some(thread),
            slots,
            limits,
            serving: None,
        })
    }

    /// Serves on `addr` (`None`: stops serving). On a bind failure the previous
    /// address (if any) keeps serving and the error names the address and the OS
    /// error, as the state file shows it.
    pub fn set_address(&mut self, addr: Option<SocketAddr>) -> Result<(), String> {
        if addr == self.serving.map(|(asked, _)| asked) {
            return Ok(());
        }
        let Some(addr) = addr else {
            self.send(Command::Stop);
            self.serving = None;
            return Ok(());
        };
        let bound = std::net::TcpListener::bind(addr)
            .and_then(|l| {
                l.set_nonblocking(true)?;
                let local = l.local_addr()?;
                Ok((l, local))
            })
            .map_err(|e| format!("metrics_address {addr}: {e}"))?;
        self.send(Command::Serve(bound.0));
        self.serving = Some((addr, bound.1));
        Ok(())
    }

    /// The address configured and being served.
    pub fn address(&self) -> Option<SocketAddr> {
        self.serving.map(|(asked, _)| asked)
    }

    /// The bound socket's address (differs from [`address`](Self::address) for port 0).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.serving.map(|(_, local)| local)
    }

    /// Connections being served now.
    pub fn active_connections(&self) -> usize {
        self.limits.max_connections - self.slots.available_permits()
    }

    fn send(&self, command: Command) {
        if let Some(tx) = &self.tx {
            // The thread only ends when this handle is dropped.
            let _ = tx.send(command);
        }
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.tx.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The server thread: one accept loop at a time; replaced or stopped on command.
async fn control(
    mut rx: mpsc::UnboundedReceiver<Command>,
    published: Published,
    slots: Arc<Semaphore>,
    limits: Limits,
) {
    let mut accepting: Option<JoinHandle<()>> = None;
    while let Some(command) = rx.recv().await {
        let next = match command {
            Command::Serve(listener) => match tokio::net::TcpListener::from_std(listener) {
                Ok(listener) => Some(tokio::spawn(accept(
                    listener,
                    published.clone(),
                    slots.clone(),
                    limits,
                ))),
                Err(e) => {
                    tracing::error!(error = %e, "metrics: cannot use the listening socket");
                    continue;
                }
            },
            Command::Stop => None,
        };
        // The new listener is already bound: only now does the old one close.
        if let Some(old) = std::mem::replace(&mut accepting, next) {
            old.abort();
        }
    }
}

async fn accept(
    listener: tokio::net::TcpListener,
    published: Published,
    slots: Arc<Semaphore>,
    limits: Limits,
) {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(address = %addr, "serving metrics at http://{addr}/metrics");
    }
    let mut last_error: Option<Instant> = None;
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // EMFILE and the like: say so now and then, and do not spin.
                if last_error.map_or(true, |t| t.elapsed() > Duration::from_secs(10)) {
                    tracing::warn!(error = %e, "metrics: accept failed");
                    last_error = Some(Instant::now());
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            drop(stream); // over the cap: closed at once
            continue;
        };
        let published = published.clone();
        tokio::spawn(async move {
            serve(stream, published, limits).await;
            drop(slot);
        });
    }
}

async fn serve(stream: tokio::net::TcpStream, published: Published, limits: Limits) {
    let service = service_fn(move |request: Request<hyper::body::Incoming>| {
        let response = respond(&request, &published);
        async move { Ok::<_, Infallible>(response) }
    });
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(false)
        .max_buf_size(MAX_REQUEST_HEAD)
        .serve_connection(TokioIo::new(stream), service);
    let deadline = limits.header_timeout + limits.write_timeout;
    // Errors are the client's doing (closed early, garbage, too slow): nothing to log.
    let _ = tokio::time::timeout(deadline, connection).await;
}

fn respond(
    request: &Request<hyper::body::Incoming>,
    published: &Published,
) -> Response<Full<Bytes>> {
    let plain = |status: StatusCode, text: &'static str| {
        let mut r = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
        *r.status_mut() = status;
        r.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        r
    };
    if request.uri().path() != "/metrics" {
        return plain(
            StatusCode::NOT_FOUND,
            "Not found: the metrics are at /metrics\n",
        );
    }
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return plain(StatusCode::METHOD_NOT_ALLOWED, "GET /metrics\n");
    }
    let accept = request.headers().get(ACCEPT).and_then(|v| v.to_str().ok());
    let format = Format::negotiate(accept);
    let body = encode(published.get(), Instant::now(), format);
    let mut r = Response::new(Full::new(Bytes::from(body)));
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    r
}

#[cfg(test)]
#[path = "server_tests.rs"]
mod tests;
