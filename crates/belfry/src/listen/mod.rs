//! The accept loop: TLS and plain HTTP on one port, a bound on open connections, and a
//! graceful shutdown with a deadline.
//!
//! On a [`Accept::Sniff`] listener the first byte of each connection decides: `0x16` opens a
//! TLS ClientHello, so the connection is handshaken with rustls; anything else is plain HTTP.
//! So `http://`, `https://` and `wss://` share one address, which keeps the README's
//! `AWS_ENDPOINT_URL=http://…` working while browsers get TLS on the very same port, and lets
//! tests (`127.0.0.1:0`) and several servers on one machine need one port each.
//!
//! At the connection bound, or when the process is out of descriptors, the loop closes the
//! connection idle the longest ([`conns`]) so that clients sending nothing, or a header byte
//! now and then, cannot keep everyone else in the backlog.
//!
//! Every connection is served by hyper's HTTP/1 with upgrades enabled (axum's websocket
//! upgrade needs them). An upgraded connection leaves this loop, but its slot goes with it
//! (in the request's extensions) and is freed when the session ends, so `max_connections`
//! bounds every client socket; the websocket layer closes sessions on the same shutdown token,
//! so shutdown never waits for a websocket here.

use std::any::Any;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::Router;
use belfry_wire::ConnectionSlot;
use hyper::body::{Body as _, Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

mod conns;
use conns::{ConnHandle, Conns, RequestMark};

/// What a listener accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accept {
    /// TLS when the first byte opens a ClientHello, plain HTTP otherwise (plain only when the
    /// server has no TLS).
    Sniff,
    /// TLS only.
    TlsOnly,
}

/// Bounds of the accept loop.
#[derive(Debug, Clone)]
pub struct ListenLimits {
    /// Most connections open at once (across all listeners). At the bound a new client gets
    /// the slot of the connection idle the longest; while every connection has a request in
    /// flight, it waits (and later clients wait in the kernel's backlog).
    pub max_connections: usize,
    /// How long a new connection may take to send its first byte and finish its TLS
    /// handshake, so a silent client cannot hold a slot.
    pub handshake_timeout: Duration,
    /// How long a connection may take to send a complete request head, counted from the
    /// connection's start or the end of its previous response; so it is also the keep-alive
    /// idle timeout.
    pub header_read_timeout: Duration,
    /// After shutdown is requested, how long requests in flight may take to finish before
    /// their connections are dropped.
    pub drain: Duration,
    /// Each connection's kernel send buffer (`SO_SNDBUF`), set explicitly so that what a slow
    /// websocket client can leave buffered in the kernel is bounded and known; 0 leaves the
    /// kernel's autotuning.
    pub send_buffer: usize,
    /// Counters the loop keeps up to date, for metrics.
    pub stats: Arc<ListenStats>,
}

impl Default for ListenLimits {
    fn default() -> Self {
        ListenLimits {
            max_connections: 50_000,
            handshake_timeout: Duration::from_secs(10),
            header_read_timeout: Duration::from_secs(30),
            drain: Duration::from_secs(10),
            send_buffer: 0,
            stats: Arc::default(),
        }
    }
}

/// What the accept loop has done so far.
#[derive(Debug, Default)]
pub struct ListenStats {
    /// Connections open now (accepted and not closed, websocket sessions included).
    pub open: AtomicUsize,
    /// Connections accepted since start.
    pub accepted: AtomicU64,
    /// Times the loop reached `max_connections` and paused accepting (once per burst).
    pub limit_reached: AtomicU64,
    /// Connections dropped before HTTP: silent past the handshake timeout, closed at once,
    /// or a failed TLS handshake.
    pub handshake_failed: AtomicU64,
    /// Idle connections closed to make room for a new one (at the bound or out of
    /// descriptors).
    pub evicted: AtomicU64,
}

/// After the drain deadline, how long connections get to drop their sockets.
const ABORT_GRACE: Duration = Duration::from_secs(1);

/// Serves `app` on `listeners` until `shutdown` is cancelled; then stops accepting, asks every
/// HTTP connection to finish its request in flight and close, and returns once all are closed
/// or `limits.drain` has passed, whichever comes first (connections still open then are
/// dropped). `tls` is required by [`Accept::TlsOnly`] listeners; without it a
/// [`Accept::Sniff`] listener serves plain HTTP only.
pub async fn serve_http(
    listeners: Vec<(TcpListener, Accept)>,
    app: Router,
    tls: Option<Arc<rustls::ServerConfig>>,
    limits: ListenLimits,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    if tls.is_none() && listeners.iter().any(|(_, a)| *a == Accept::TlsOnly) {
        anyhow::bail!("a TLS-only listener needs a TLS configuration");
    }
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let shared = Arc::new(Shared {
        app,
        tls: tls.map(TlsAcceptor::from),
        permits: Arc::new(Semaphore::new(limits.max_connections)),
        at_limit: AtomicBool::new(false),
        conns: Arc::default(),
        accept_failing: AtomicBool::new(false),
        limits,
        connections: TaskTracker::new(),
        shutdown,
        abort: CancellationToken::new(),
        http,
    });
    let mut loops = tokio::task::JoinSet::new();
    for (listener, accept) in listeners {
        loops.spawn(accept_loop(listener, accept, shared.clone()));
    }
    // The loops return only once shutdown is requested.
    while loops.join_next().await.is_some() {}

    shared.connections.close();
    let open = shared.connections.len();
    if open > 0 {
        tracing::info!(open, "waiting for requests in flight");
    }
    let drain = shared.limits.drain;
    if tokio::time::timeout(drain, shared.connections.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            open = shared.connections.len(),
            drain_secs = drain.as_secs_f64(),
            "drain deadline passed; closing the connections still open"
        );
        shared.abort.cancel();
        let _ = tokio::time::timeout(ABORT_GRACE, shared.connections.wait()).await;
    }
    Ok(())
}

/// What every connection task shares.
struct Shared {
    app: Router,
    tls: Option<TlsAcceptor>,
    limits: ListenLimits,
    /// One permit per open connection.
    permits: Arc<Semaphore>,
    /// Set while accepting is paused at the bound, so the pause is logged once per burst.
    at_limit: AtomicBool,
    /// The open connections, for evicting the idle one at the bound.
    conns: Arc<Conns>,
    /// Set while `accept` keeps failing (out of descriptors), so it is logged once per burst.
    accept_failing: AtomicBool,
    /// The connection tasks, so shutdown can wait for them.
    connections: TaskTracker,
    shutdown: CancellationToken,
    /// Cancelled when the drain deadline passes: connections still open are dropped.
    abort: CancellationToken,
    http: hyper::server::conn::http1::Builder,
}

async fn accept_loop(listener: TcpListener, accept: Accept, shared: Arc<Shared>) {
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            () = shared.shutdown.cancelled() => return,
        };
        let (stream, peer) = match accepted {
            Ok(a) => {
                shared.accept_failing.store(false, Ordering::Relaxed);
                a
            }
            Err(e) => {
                if !is_per_connection(&e) {
                    // Out of file descriptors or memory: free a descriptor by closing the
                    // connection idle the longest; either way pause briefly, as retrying at
                    // once would spin while the closed connection winds down.
                    let evicted = evict(&shared);
                    // Once per burst: this repeats every 10 ms while it lasts.
                    if !shared.accept_failing.swap(true, Ordering::Relaxed) {
                        tracing::warn!(error = %e, evicted, "accepting a connection failed");
                    }
                    tokio::select! {
                        () = tokio::time::sleep(Duration::from_millis(10)) => {}
                        () = shared.shutdown.cancelled() => return,
                    }
                }
                continue;
            }
        };
        // At the bound this waits (the next clients stay in the kernel's backlog) until an
        // idle connection has been evicted or a busy one has closed.
        let Some(permit) = slot(&shared).await else {
            return;
        };
        let stats = &shared.limits.stats;
        stats.accepted.fetch_add(1, Ordering::Relaxed);
        stats.open.fetch_add(1, Ordering::Relaxed);
        let slot = Arc::new(Slot {
            _permit: permit,
            stats: stats.clone(),
        });
        let conn = shared.conns.register();
        let task_shared = shared.clone();
        shared.connections.spawn(async move {
            serve_connection(stream, peer, accept, &conn, slot, &task_shared).await;
            drop(conn);
        });
    }
}

/// A connection slot for a client just accepted. At the bound, the connection idle the
/// longest is evicted to make room, and again every `EVICT_RETRY` while every connection is
/// busy (one may have finished its request since). `None` once shutdown is requested.
async fn slot(shared: &Shared) -> Option<OwnedSemaphorePermit> {
    match shared.permits.clone().try_acquire_owned() {
        Ok(p) => {
            shared.at_limit.store(false, Ordering::Relaxed);
            return Some(p);
        }
        Err(TryAcquireError::Closed) => return None,
        Err(TryAcquireError::NoPermits) => {}
    }
    if !shared.at_limit.swap(true, Ordering::Relaxed) {
        shared
            .limits
            .stats
            .limit_reached
            .fetch_add(1, Ordering::Relaxed);
        tracing::warn!(
            max_connections = shared.limits.max_connections,
            "connection limit reached; closing idle connections to make room"
        );
    }
    loop {
        // The evicted connection frees its slot as its task ends, which the wait sees.
        evict(shared);
        tokio::select! {
            p = shared.permits.clone().acquire_owned() => return p.ok(),
            () = tokio::time::sleep(EVICT_RETRY) => {}
            () = shared.shutdown.cancelled() => return None,
        }
    }
}

/// How often a client waiting for a slot retries eviction while every connection is busy.
const EVICT_RETRY: Duration = Duration::from_millis(100);

/// Evicts the connection idle the longest, counting it. Returns whether there was one.
fn evict(shared: &Shared) -> bool {
    let evicted = shared.conns.evict_oldest_idle();
    if evicted {
        shared.limits.stats.evicted.fetch_add(1, Ordering::Relaxed);
    }
    evicted
}

/// Frees its connection's slot when the connection ends, however it ends. A websocket
/// session holds it too (its socket is a descriptor like any other), until the session ends.
struct Slot {
    _permit: OwnedSemaphorePermit,
    stats: Arc<ListenStats>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.stats.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Errors that concern one connection only (the client gave up before it was accepted).
fn is_per_connection(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionAborted | ConnectionReset | ConnectionRefused | Interrupted | WouldBlock
    )
}

/// A connection after the first-byte check and any TLS handshake.
enum Io {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    accept: Accept,
    conn: &ConnHandle,
    slot: Arc<Slot>,
    shared: &Shared,
) {
    // Replies and websocket frames are small and latency-bound; Nagle would hold them back.
    if let Err(e) = stream.set_nodelay(true) {
        tracing::debug!(%peer, error = %e, "setting TCP_NODELAY failed");
    }
    if shared.limits.send_buffer > 0 {
        if let Err(e) =
            socket2::SockRef::from(&stream).set_send_buffer_size(shared.limits.send_buffer)
        {
            tracing::debug!(%peer, error = %e, "setting SO_SNDBUF failed");
        }
    }
    let prepared = tokio::select! {
        r = tokio::time::timeout(shared.limits.handshake_timeout, prepare(stream, accept, shared)) => r,
        () = shared.shutdown.cancelled() => return,
        () = conn.evicted().cancelled() => return,
    };
    let io = match prepared {
        Ok(Ok(io)) => io,
        Ok(Err(e)) => {
            shared
                .limits
                .stats
                .handshake_failed
                .fetch_add(1, Ordering::Relaxed);
            tracing::debug!(%peer, error = %e, "connection closed before HTTP");
            return;
        }
        Err(_) => {
            shared
                .limits
                .stats
                .handshake_failed
                .fetch_add(1, Ordering::Relaxed);
            tracing::debug!(%peer, "connection closed: nothing or no TLS handshake in time");
            return;
        }
    };
    match io {
        Io::Plain(s) => serve_http1(TokioIo::new(s), peer, conn, slot, shared).await,
        Io::Tls(s) => serve_http1(TokioIo::new(s), peer, conn, slot, shared).await,
    }
}

/// Tells TLS from plain HTTP by the first byte (without consuming it) and does the handshake.
async fn prepare(stream: TcpStream, accept: Accept, shared: &Shared) -> std::io::Result<Io> {
    let Some(tls) = &shared.tls else {
        return Ok(Io::Plain(stream));
    };
    if accept == Accept::Sniff {
        let mut first = [0u8; 1];
        if stream.peek(&mut first).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        // 0x16 is the TLS record type "handshake", which every ClientHello starts with; no
        // HTTP method starts with it.
        if first[0] != 0x16 {
            return Ok(Io::Plain(stream));
        }
    }
    Ok(Io::Tls(Box::new(tls.accept(stream).await?)))
}

async fn serve_http1<I>(
    io: I,
    peer: SocketAddr,
    handle: &ConnHandle,
    slot: Arc<Slot>,
    shared: &Shared,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let app = shared.app.clone();
    let tracked = handle.tracker();
    let service =
        TowerToHyperService::new(tower::service_fn(move |req: http::Request<Incoming>| {
            // Not evictable from when the whole request is in until it is answered.
            let mark = tracked.request();
            let mut req = req.map(|inner| {
                if inner.is_end_stream() {
                    mark.mark();
                }
                Body::new(MarkOnEnd {
                    inner,
                    mark: mark.clone(),
                })
            });
            // The peer address, for handlers that log or limit by it (axum's ConnectInfo).
            req.extensions_mut().insert(ConnectInfo(peer));
            // A websocket upgrade keeps the slot for as long as its session lasts.
            req.extensions_mut()
                .insert(ConnectionSlot(slot.clone() as Arc<dyn Any + Send + Sync>));
            let app = app.clone();
            async move {
                let response = app.oneshot(req).await;
                drop(mark);
                response
            }
        }));
    let conn = shared.http.serve_connection(io, service).with_upgrades();
    tokio::pin!(conn);
    let result = tokio::select! {
        r = conn.as_mut() => r,
        () = handle.evicted().cancelled() => {
            tracing::debug!(%peer, "idle connection closed to make room");
            return;
        }
        () = shared.shutdown.cancelled() => {
            // Finishes the request in flight, if any, then closes; an idle keep-alive
            // connection closes at once.
            conn.as_mut().graceful_shutdown();
            tokio::select! {
                r = conn.as_mut() => r,
                () = shared.abort.cancelled() => return,
            }
        }
    };
    if let Err(e) = result {
        tracing::debug!(%peer, error = %e, "connection ended with an error");
    }
}

/// A request body that marks its request in flight once it has all arrived.
struct MarkOnEnd {
    inner: Incoming,
    mark: Arc<RequestMark>,
}

impl hyper::body::Body for MarkOnEnd {
    type Data = bytes::Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None)) || self.inner.is_end_stream() {
            self.mark.mark();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use axum::routing::get;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nhost: localhost\r\n\r\n";

    /// Reads until a whole response to `REQUEST` has arrived.
    async fn response(tcp: &mut TcpStream) -> String {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 1024];
        while !String::from_utf8_lossy(&buf).ends_with("ok") {
            let n = tcp.read(&mut chunk).await.unwrap();
            assert!(n > 0, "closed: {}", String::from_utf8_lossy(&buf));
            buf.extend_from_slice(&chunk[..n]);
        }
        String::from_utf8(buf).unwrap()
    }

    #[tokio::test]
    async fn at_the_bound_a_new_client_waits_for_busy_connections_and_evicts_an_idle_one() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let limits = ListenLimits {
            max_connections: 1,
            ..ListenLimits::default()
        };
        let stats = limits.stats.clone();
        let shutdown = CancellationToken::new();
        let release = Arc::new(tokio::sync::Notify::new());
        let gate = release.clone();
        let app = Router::new().route(
            "/",
            get(move || {
                let gate = gate.clone();
                async move {
                    gate.notified().await;
                    "ok"
                }
            }),
        );
        let server = tokio::spawn(serve_http(
            vec![(listener, Accept::Sniff)],
            app,
            None,
            limits,
            shutdown.clone(),
        ));

        // The first connection has a request in flight: it is not evicted.
        let mut first = TcpStream::connect(addr).await.unwrap();
        first.write_all(REQUEST).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut second = TcpStream::connect(addr).await.unwrap();
        second.write_all(REQUEST).await.unwrap();
        let waited = tokio::time::timeout(Duration::from_millis(300), response(&mut second)).await;
        assert!(waited.is_err(), "served beyond max_connections");
        assert_eq!(stats.limit_reached.load(Ordering::Relaxed), 1);
        assert_eq!(stats.evicted.load(Ordering::Relaxed), 0);

        // Once answered, the first connection is idle, and gives its slot to the second.
        release.notify_one();
        assert!(response(&mut first).await.starts_with("HTTP/1.1 200"));
        let served_second = async {
            loop {
                release.notify_one();
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        };
        let served = tokio::select! {
            r = tokio::time::timeout(Duration::from_secs(5), response(&mut second)) => r,
            () = served_second => unreachable!(),
        };
        assert!(served
            .expect("served once the first went idle")
            .starts_with("HTTP/1.1 200"));
        assert_eq!(stats.evicted.load(Ordering::Relaxed), 1);
        let mut rest = Vec::new();
        let closed =
            tokio::time::timeout(Duration::from_secs(5), first.read_to_end(&mut rest)).await;
        assert!(
            matches!(closed, Ok(Ok(_))),
            "the idle connection was closed"
        );
        assert_eq!(stats.accepted.load(Ordering::Relaxed), 2);

        shutdown.cancel();
        server.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn a_tls_only_listener_without_tls_is_refused() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let r = serve_http(
            vec![(listener, Accept::TlsOnly)],
            Router::new(),
            None,
            ListenLimits::default(),
            CancellationToken::new(),
        )
        .await;
        assert!(r.is_err());
    }
}
