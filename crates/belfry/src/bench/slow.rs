//! Slow and silent clients, for the `abuse` scenario and the abuse tests: each kind holds a
//! connection open the way an attacker (or a broken network) would, until told to stop.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// How a slow client misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Connects and sends nothing.
    Idle,
    /// Sends a request head one byte at a time.
    SlowHeaders,
    /// Starts a TLS ClientHello and sends the rest one byte at a time.
    SlowTls,
    /// Sends a complete head announcing a body, then the body one byte at a time.
    SlowBody,
}

/// Pause between the bytes a slow client sends.
const DRIP: Duration = Duration::from_millis(500);

/// Starts `n` clients of `kind` against `addr`. Each reconnects when the server closes it
/// (as an attacker would), until `stop` is cancelled; then its socket is dropped.
pub fn spawn(
    set: &mut JoinSet<()>,
    addr: SocketAddr,
    kind: Kind,
    n: usize,
    stop: &CancellationToken,
) {
    for _ in 0..n {
        let stop = stop.clone();
        set.spawn(async move {
            while !stop.is_cancelled() {
                tokio::select! {
                    () = hold(addr, kind) => {}
                    () = stop.cancelled() => return,
                }
                // Closed by the server: come back, a little later.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        });
    }
}

/// Opens one connection and misbehaves on it until the server closes it.
async fn hold(addr: SocketAddr, kind: Kind) {
    let Ok(mut tcp) = TcpStream::connect(addr).await else {
        return;
    };
    let (opening, drip): (&[u8], &[u8]) = match kind {
        Kind::Idle => (b"", b""),
        Kind::SlowHeaders => (b"GET /health HTTP/1.1\r\n", b"x-slow: ...."),
        // A TLS handshake record announcing 512 bytes of ClientHello.
        Kind::SlowTls => (&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01], &[0u8; 512]),
        Kind::SlowBody => (
            b"POST /app-instances HTTP/1.1\r\nhost: x\r\ncontent-length: 100000\r\n\r\n",
            &[b'x'; 100_000],
        ),
    };
    if tcp.write_all(opening).await.is_err() {
        return;
    }
    let mut sink = [0u8; 4096];
    let mut rest = drip.iter().cycle();
    loop {
        tokio::select! {
            r = tcp.read(&mut sink) => match r {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            },
            () = tokio::time::sleep(DRIP) => {
                if kind != Kind::Idle {
                    let byte = rest.next().copied().unwrap_or(b'x');
                    if tcp.write_all(&[byte]).await.is_err() {
                        return;
                    }
                }
            }
        }
    }
}

/// Open sockets of process `pid`: what clients hold. Other descriptors (the database files
/// of a reader pool that grew under load, say) are not the clients' to release.
pub fn open_sockets(pid: u32) -> usize {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return 0;
    };
    dir.filter_map(Result::ok)
        .filter(|e| {
            std::fs::read_link(e.path())
                .is_ok_and(|target| target.to_string_lossy().starts_with("socket:"))
        })
        .count()
}

/// Resident memory of process `pid`, in KiB.
pub fn rss_kib(pid: u32) -> Option<u64> {
    super::sessions::rss_kib(pid)
}

/// GET /health on a fresh connection: the status line, or why not within `timeout`.
pub async fn health(addr: SocketAddr, timeout: Duration) -> Result<String, String> {
    let attempt = async {
        let mut tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
        tcp.write_all(b"GET /health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            .await
            .map_err(|e| e.to_string())?;
        let mut reply = Vec::new();
        tcp.read_to_end(&mut reply)
            .await
            .map_err(|e| e.to_string())?;
        let reply = String::from_utf8_lossy(&reply).into_owned();
        Ok(reply.lines().next().unwrap_or_default().to_string())
    };
    tokio::time::timeout(timeout, attempt)
        .await
        .map_err(|_| format!("no answer within {timeout:?}"))?
}
