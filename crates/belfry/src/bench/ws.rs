//! The websocket side of the session scenarios, shaped like amazon-chime-sdk-js: ask
//! GetMessagingSessionEndpoint where sessions live, presign `GET /connect` (service `chime`,
//! only `host` signed, the empty-body hash), connect over wss trusting a given CA, and wait
//! for SESSION_ESTABLISHED. Also the receivers: one task per session that counts the bench's
//! messages and records send-to-receive latency.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{bail, Context};
use belfry_sigv4::Signer;
use futures_util::StreamExt;
use hdrhistogram::Histogram;
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;
use tokio_util::sync::CancellationToken;

/// The longest a connect or a REST call of a session scenario may take.
pub const CALL_LIMIT: Duration = Duration::from_secs(30);

/// A connected session.
pub type Socket = WebSocketStream<TlsStream<TcpStream>>;

/// Where the CA to trust comes from: `--ca`, else `NODE_EXTRA_CA_CERTS` (what a Node client
/// of the server is told to set).
pub fn ca_path(arg: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(p) = arg {
        return Ok(p.to_path_buf());
    }
    match std::env::var_os("NODE_EXTRA_CA_CERTS") {
        Some(p) if !p.is_empty() => Ok(PathBuf::from(p)),
        _ => bail!(
            "session scenarios connect over wss: give the server's CA with --ca <data-dir>/tls/ca.pem \
             (or set NODE_EXTRA_CA_CERTS)"
        ),
    }
}

/// Raises this process's open-file soft limit to its hard limit and says so; fails if `need`
/// descriptors will not fit.
pub fn raise_nofile(need: u64) -> anyhow::Result<u64> {
    let (soft, now, hard) = crate::raise_nofile_limit().context("raising RLIMIT_NOFILE")?;
    eprintln!("open-file limit: soft {soft} -> {now} (hard {hard})");
    if now < need {
        bail!(
            "this run needs about {need} open files but the limit is {now}; raise the hard limit \
             first (as root: `ulimit -n {}`) for both this generator and the server",
            need.next_power_of_two().max(65_536)
        );
    }
    Ok(now)
}

/// Connects sessions: the TLS configuration, the session endpoint and the signer.
pub struct Dialer {
    connector: TlsConnector,
    server_name: ServerName<'static>,
    /// `host:port` GetMessagingSessionEndpoint answered with.
    pub authority: String,
    signer: Signer,
}

impl Dialer {
    /// A dialer for sessions at `authority` trusting the PEM certificates in `ca`.
    pub fn new(ca: &Path, authority: &str, signer: Signer) -> anyhow::Result<Self> {
        let (config, server_name) = crate::tls::client_trusting(ca, authority)?;
        Ok(Dialer {
            connector: TlsConnector::from(config),
            server_name,
            authority: authority.to_string(),
            signer,
        })
    }

    /// Connects as `user` with `session_id` and reads SESSION_ESTABLISHED, within 30 s.
    pub async fn connect(&self, user: &str, session_id: &str) -> anyhow::Result<Socket> {
        match tokio::time::timeout(CALL_LIMIT, self.try_connect(user, session_id)).await {
            Ok(r) => r,
            Err(_) => bail!("no session within {} s", CALL_LIMIT.as_secs()),
        }
    }

    async fn try_connect(&self, user: &str, session_id: &str) -> anyhow::Result<Socket> {
        let query = self
            .signer
            .presign(
                "GET",
                &self.authority,
                "/connect",
                &[("userArn", user), ("sessionId", session_id)],
                Duration::from_secs(10),
                SystemTime::now(),
            )
            .map_err(|e| anyhow::anyhow!("presigning: {e}"))?;
        let tcp = TcpStream::connect(&self.authority)
            .await
            .with_context(|| format!("connecting to {}", self.authority))?;
        tcp.set_nodelay(true)?;
        let tls = self
            .connector
            .connect(self.server_name.clone(), tcp)
            .await
            .context("TLS handshake (is --ca the server's <data-dir>/tls/ca.pem?)")?;
        // Small buffers: thousands of idle sessions live in this process too.
        let config = WebSocketConfig::default()
            .read_buffer_size(8 * 1024)
            .write_buffer_size(0)
            .max_write_buffer_size(64 * 1024);
        let url = format!("wss://{}/connect?{query}", self.authority);
        let (mut socket, _) = tokio_tungstenite::client_async_with_config(url, tls, Some(config))
            .await
            .context("websocket upgrade")?;
        let t = next_text(&mut socket).await?;
        if !t.contains("\"SESSION_ESTABLISHED\"") {
            bail!("first frame is not SESSION_ESTABLISHED: {t}");
        }
        Ok(socket)
    }
}

/// The next text frame; an error on a close (with its code) or a broken socket.
async fn next_text(socket: &mut Socket) -> anyhow::Result<String> {
    loop {
        match socket.next().await {
            Some(Ok(Message::Text(t))) => return Ok(t.as_str().to_string()),
            Some(Ok(Message::Close(c))) => bail!(
                "closed by the server: {}",
                c.map(|c| format!("{} {}", u16::from(c.code), c.reason))
                    .unwrap_or_else(|| "no code".into())
            ),
            Some(Ok(_)) => continue,
            Some(Err(e)) => bail!("websocket error: {e}"),
            None => bail!("connection closed"),
        }
    }
}

/// Sends a close and waits briefly for the server's (bounded: the server may be gone).
pub async fn close(mut socket: Socket) {
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        let _ = socket.close(None).await;
        while let Some(Ok(_)) = socket.next().await {}
    })
    .await;
}

/// Marks a bench message: its number, when it was due (microseconds since `origin`) and
/// whether it falls in the measured window. Found in a frame by plain search: the marker has
/// no character JSON would escape, even twice.
const MARK: &str = "~bfm:";

/// The content of a bench message: the marker, then `x` up to `bytes`.
pub fn content(seq: u64, due_us: u64, measured: bool, bytes: usize) -> String {
    let mut s = format!("{MARK}{seq}:{due_us}:{};", u8::from(measured));
    while s.len() < bytes {
        s.push('x');
    }
    s
}

/// What [`content`] put in a frame: (seq, due_us, measured).
pub fn read_mark(frame: &str) -> Option<(u64, u64, bool)> {
    let start = frame.find(MARK)? + MARK.len();
    let rest = frame.get(start..)?;
    let end = rest.find(';')?;
    let mut parts = rest.get(..end)?.split(':');
    let seq = parts.next()?.parse().ok()?;
    let due = parts.next()?.parse().ok()?;
    let measured = parts.next()? == "1";
    Some((seq, due, measured))
}

const SHARDS: usize = 16;

/// What every receiver saw, shared.
pub struct Receivers {
    /// When due times are counted from.
    pub origin: Instant,
    /// Bench frames received.
    pub frames: AtomicU64,
    /// Bench frames of measured messages received.
    pub measured: AtomicU64,
    /// Sessions that ended before they were told to (closed by the server or broken).
    pub lost_sessions: AtomicU64,
    /// The first such ending, for the report.
    pub first_loss: Mutex<Option<String>>,
    latency: Vec<Mutex<Histogram<u64>>>,
    stop: CancellationToken,
}

/// Latency in microseconds up to ten minutes, three significant digits.
pub fn histogram() -> anyhow::Result<Histogram<u64>> {
    Histogram::new_with_bounds(1, 600_000_000, 3).context("histogram bounds")
}

impl Receivers {
    /// Nobody received anything yet.
    pub fn new(origin: Instant) -> anyhow::Result<Arc<Self>> {
        let mut latency = Vec::with_capacity(SHARDS);
        for _ in 0..SHARDS {
            latency.push(Mutex::new(histogram()?));
        }
        Ok(Arc::new(Receivers {
            origin,
            frames: AtomicU64::new(0),
            measured: AtomicU64::new(0),
            lost_sessions: AtomicU64::new(0),
            first_loss: Mutex::new(None),
            latency,
            stop: CancellationToken::new(),
        }))
    }

    /// Microseconds from `origin` to now.
    pub fn now_us(&self) -> u64 {
        self.origin.elapsed().as_micros() as u64
    }

    /// Runs a receiver on `socket` until [`Receivers::stop`]; returns the bench frames it got.
    pub fn spawn(
        self: &Arc<Self>,
        index: usize,
        mut socket: Socket,
    ) -> tokio::task::JoinHandle<u64> {
        let me = self.clone();
        tokio::spawn(async move {
            let mut got = 0u64;
            loop {
                let msg = tokio::select! {
                    biased;
                    () = me.stop.cancelled() => break,
                    msg = socket.next() => msg,
                };
                let ended = match msg {
                    Some(Ok(Message::Text(t))) => {
                        if let Some((_, due, measured)) = read_mark(t.as_str()) {
                            got += 1;
                            me.frames.fetch_add(1, Ordering::Relaxed);
                            if measured {
                                me.measured.fetch_add(1, Ordering::Relaxed);
                                let took = me.now_us().saturating_sub(due).max(1);
                                if let Ok(mut h) = me.latency[index % SHARDS].lock() {
                                    h.saturating_record(took);
                                }
                            }
                        }
                        None
                    }
                    Some(Ok(Message::Close(c))) => Some(format!(
                        "session {index} closed by the server: {}",
                        c.map(|c| format!("{} {}", u16::from(c.code), c.reason))
                            .unwrap_or_else(|| "no code".into())
                    )),
                    Some(Ok(_)) => None,
                    Some(Err(e)) => Some(format!("session {index}: websocket error: {e}")),
                    None => Some(format!("session {index}: connection closed")),
                };
                if let Some(why) = ended {
                    me.lost_sessions.fetch_add(1, Ordering::Relaxed);
                    if let Ok(mut first) = me.first_loss.lock() {
                        first.get_or_insert(why);
                    }
                    return got;
                }
            }
            close(socket).await;
            got
        })
    }

    /// Tells every receiver to close its session and return.
    pub fn stop(&self) {
        self.stop.cancel();
    }

    /// Send-to-receive latency of the measured messages, merged.
    pub fn latency(&self) -> anyhow::Result<Histogram<u64>> {
        let mut all = histogram()?;
        for shard in &self.latency {
            if let Ok(h) = shard.lock() {
                all.add(&*h).context("merging histograms")?;
            }
        }
        Ok(all)
    }

    /// The first session lost, if any.
    pub fn first_loss(&self) -> Option<String> {
        self.first_loss.lock().ok().and_then(|f| f.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_survive_double_json_encoding() {
        let c = content(42, 123_456, true, 100);
        assert_eq!(c.len(), 100);
        let payload = serde_json::json!({"Content": c}).to_string();
        let frame = serde_json::json!({"Headers": {}, "Payload": payload}).to_string();
        assert_eq!(read_mark(&frame), Some((42, 123_456, true)));
        assert_eq!(read_mark("{\"Payload\":\"\"}"), None);
    }
}
