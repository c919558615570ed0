//! The accept loop: how connections are taken, served and let go.
//!
//! `axum::serve` has no header-read timeout, no connection cap and waits for every connection
//! on shutdown, so 500 sockets that never finished their headers stayed open forever and one
//! of them kept the server alive long after SIGTERM (issue #11). Here:
//!
//! * at most `server.max_connections` are served at once: past the cap the loop stops
//!   accepting, and new connections wait in the kernel's backlog until one closes;
//! * hyper closes a connection that has not sent a whole request head within
//!   `server.header_read_timeout_seconds`, which also ends idle keep-alive connections;
//! * on shutdown the listener closes, every connection finishes its request in flight and
//!   closes, and whatever is still open after `server.shutdown_grace_seconds` is dropped.
//!
//! The request timeout is a layer of the router (`http::deadline`), not of the connection, so
//! the answer it gives passes through the request log and the metrics like any other.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request};
use axum::response::Response;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tower::ServiceExt;

use crate::config::Config;
use crate::http::metrics::Metrics;

/// The connection limits of `server.*`, as durations.
#[derive(Clone, Copy, Debug)]
pub struct ConnectionLimits {
    pub header_read_timeout: Duration,
    pub max_connections: usize,
    pub shutdown_grace: Duration,
}

impl ConnectionLimits {
    pub fn from_config(config: &Config) -> Self {
        Self {
            header_read_timeout: Duration::from_secs(config.header_read_timeout_seconds),
            max_connections: config.max_connections,
            shutdown_grace: Duration::from_secs(config.shutdown_grace_seconds),
        }
    }
}

/// Serves `service` on `listener` until `shutdown` resolves, then drains connections as the
/// module says. Each request carries `ConnectInfo<SocketAddr>` of its TCP peer.
pub async fn serve<S>(
    listener: TcpListener,
    service: S,
    limits: ConnectionLimits,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()>
where
    S: tower::Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    metrics.set_connections_max(limits.max_connections);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    // `true` once shutdown starts: every connection finishes its request, then closes.
    let (closing, closing_seen) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut shutdown = pin!(shutdown);
    loop {
        // Finished connections leave the set here, so it holds only live ones.
        while connections.try_join_next().is_some() {}
        let slot = tokio::select! {
            biased;
            () = &mut shutdown => break,
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break, // never closed; nothing left to serve with
            },
        };
        let (stream, peer) = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    accept_failed(error).await;
                    continue;
                }
            },
        };
        let counted = metrics.connection_opened();
        let connection =
            builder.serve_connection(TokioIo::new(stream), hyper_service(service.clone(), peer));
        let mut closing_seen = closing_seen.clone();
        connections.spawn(async move {
            // Held for the connection's life: its slot under the cap and its count in /metrics.
            let _slot = slot;
            let _counted = counted;
            let mut connection = pin!(connection);
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(error) = result {
                        tracing::debug!(%peer, %error, "connection ended with an error");
                    }
                }
                _ = async { closing_seen.wait_for(|closing| *closing).await.is_ok() } => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
        });
    }
    drop(listener);
    let _ = closing.send(true);
    drain(connections, limits.shutdown_grace).await;
    Ok(())
}

/// Gives open connections `grace` to finish their requests, then drops the rest (their
/// requests' futures with them; a write already handed to the writer still commits, since
/// the writer drains its queue after this).
async fn drain(mut connections: JoinSet<()>, grace: Duration) {
    if connections.is_empty() {
        return;
    }
    tracing::info!(
        connections = connections.len(),
        grace_seconds = grace.as_secs(),
        "waiting for open connections to finish"
    );
    let finished = tokio::time::timeout(grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if finished.is_err() {
        tracing::warn!(
            connections = connections.len(),
            "closing connections still open after the shutdown grace period"
        );
        connections.shutdown().await;
    }
}

/// The router as a hyper service for one connection, tagging each request with its peer.
fn hyper_service<S>(
    service: S,
    peer: SocketAddr,
) -> impl hyper::service::Service<
    hyper::Request<Incoming>,
    Response = Response,
    Error = Infallible,
    Future = impl Future<Output = Result<Response, Infallible>> + Send + 'static,
> + Clone
where
    S: tower::Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let mut request = request.map(axum::body::Body::new);
        request.extensions_mut().insert(ConnectInfo(peer));
        service.clone().oneshot(request)
    })
}

/// An accept error: a connection that died in the backlog is nothing; anything else (such as
/// running out of file descriptors) is logged and retried after a pause, as hyper used to.
async fn accept_failed(error: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        error.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::error!(%error, "accept failed; retrying in a second");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// Installs the signal handlers now (so a signal that arrives before the server is polled is
/// not lost) and resolves on SIGINT or SIGTERM.
///
/// SIGHUP is logged and ignored instead of killing the process (its default): operators and
/// log rotators send it expecting a reload, and bankd writes its log to standard error, which
/// has no file of its own to reopen.
pub fn shutdown_signal() -> std::io::Result<impl Future<Output = ()> + Send + 'static> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut hangup = signal(SignalKind::hangup())?;
    Ok(async move {
        loop {
            tokio::select! {
                _ = terminate.recv() => break,
                _ = interrupt.recv() => break,
                Some(()) = hangup.recv() => {
                    tracing::info!("SIGHUP ignored: bankd logs to standard error and has nothing to reopen");
                }
            }
        }
        tracing::info!("shutdown requested; finishing in-flight requests");
    })
}
