//! TLS and the listener: http and https on one port, the TLS-only address, the handshake
//! timeout, and graceful shutdown with its deadline.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use belfry_core::events::NoEvents;
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::harness::{uuid, TestServer, World};

/// A TLS connection to `addr` for `name`, offering h2 and http/1.1 like a browser; returns it
/// with the protocol the server chose.
async fn tls_connect(
    s: &TestServer,
    addr: SocketAddr,
    name: &str,
) -> (tokio_rustls::client::TlsStream<TcpStream>, Option<Vec<u8>>) {
    let mut config = (*s.tls_client_config()).clone();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let tcp = TcpStream::connect(addr).await.unwrap();
    let tls = TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from(name.to_string()).unwrap(), tcp)
        .await
        .unwrap();
    let alpn = tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
    (tls, alpn)
}

/// An HTTP/1.1 client connection over `io`, its driver spawned; the task ends when the
/// server closes the connection.
async fn http1<I>(
    io: I,
) -> (
    hyper::client::conn::http1::SendRequest<Empty<Bytes>>,
    tokio::task::JoinHandle<()>,
)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .unwrap();
    let task = tokio::spawn(async move {
        let _ = conn.await;
    });
    (send, task)
}

async fn get_health(send: &mut hyper::client::conn::http1::SendRequest<Empty<Bytes>>) -> String {
    let req = http::Request::get("/health")
        .header("host", "localhost")
        .body(Empty::new())
        .unwrap();
    let res = send.send_request(req).await.unwrap();
    assert_eq!(res.status(), 200);
    let body = res.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(body.to_vec()).unwrap()
}

#[tokio::test]
async fn http_and_https_share_the_listen_port() {
    let s = TestServer::start().await;
    let w = World::new(&s, &["alice"]).await;
    // The README's way: plain http:// with the official SDK.
    let channel = s
        .messaging()
        .create_channel()
        .app_instance_arn(&w.app)
        .name("room")
        .client_request_token(uuid())
        .chime_bearer(w.user(0))
        .send()
        .await
        .unwrap()
        .channel_arn
        .unwrap();
    // The same port over https, trusting only the generated ca.pem, by IP and by name.
    let port = s.addr.port();
    for authority in [format!("127.0.0.1:{port}"), format!("localhost:{port}")] {
        let described = s
            .messaging_https(&authority)
            .describe_channel()
            .channel_arn(&channel)
            .chime_bearer(w.user(0))
            .send()
            .await
            .unwrap_or_else(|e| panic!("https://{authority}: {e:?}"));
        assert_eq!(described.channel.unwrap().name.as_deref(), Some("room"));
    }
    // A browser offering h2 gets http/1.1, which websocket upgrades need.
    let (tls, alpn) = tls_connect(&s, s.addr, "localhost").await;
    assert_eq!(alpn.as_deref(), Some(&b"http/1.1"[..]));
    let (mut send, _) = http1(tls).await;
    assert!(get_health(&mut send).await.contains("ok"));
    s.stop().await;
}

#[tokio::test]
async fn the_tls_only_address_serves_tls_and_nothing_else() {
    let s = TestServer::start_with(Arc::new(NoEvents), |c| {
        c.tls_listen = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    let tls_addr = s.tls_addr.unwrap();
    assert_ne!(tls_addr, s.addr);
    let w = World::new(&s, &["alice"]).await;
    let listed = s
        .messaging_https(&format!("localhost:{}", tls_addr.port()))
        .list_channels()
        .app_instance_arn(&w.app)
        .chime_bearer(w.user(0))
        .send()
        .await
        .unwrap();
    assert!(listed.channels.unwrap_or_default().is_empty());
    // Plain HTTP there is taken for a bad handshake and the connection closed.
    let mut tcp = TcpStream::connect(tls_addr).await.unwrap();
    tcp.write_all(b"GET /health HTTP/1.1\r\nhost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut buf))
        .await
        .expect("closed");
    assert!(
        !String::from_utf8_lossy(&buf).contains("200 OK"),
        "plain HTTP was served on the TLS-only address"
    );
    s.stop().await;
}

#[tokio::test]
async fn a_connection_that_sends_nothing_is_closed_after_the_handshake_timeout() {
    let s = TestServer::start_with(Arc::new(NoEvents), |c| c.handshake_timeout_ms = 300).await;
    let started = Instant::now();
    let mut silent = TcpStream::connect(s.addr).await.unwrap();
    let mut buf = [0u8; 1];
    let n = tokio::time::timeout(Duration::from_secs(10), silent.read(&mut buf))
        .await
        .expect("the server closes a silent connection")
        .unwrap_or(0);
    assert_eq!(n, 0, "closed without a byte");
    assert!(started.elapsed() >= Duration::from_millis(300));
    // A client that speaks at once is served as usual.
    let tcp = TcpStream::connect(s.addr).await.unwrap();
    let (mut send, _) = http1(tcp).await;
    assert!(get_health(&mut send).await.contains("ok"));
    s.stop().await;
}

#[tokio::test]
async fn shutdown_does_not_wait_for_an_idle_keep_alive_connection() {
    let s = TestServer::start_with(Arc::new(NoEvents), |c| c.drain_secs = 5).await;
    let (tls, _) = tls_connect(&s, s.addr, "localhost").await;
    let (mut send, tls_conn) = http1(tls).await;
    get_health(&mut send).await;
    let tcp = TcpStream::connect(s.addr).await.unwrap();
    let (mut send, plain_conn) = http1(tcp).await;
    get_health(&mut send).await;
    // Both connections are now idle and kept alive.
    let started = Instant::now();
    s.stop().await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "shutdown took {:?} with idle connections open",
        started.elapsed()
    );
    for conn in [tls_conn, plain_conn] {
        tokio::time::timeout(Duration::from_secs(2), conn)
            .await
            .expect("the server closed the idle connection")
            .unwrap();
    }
}

#[tokio::test]
async fn shutdown_gives_up_on_a_request_that_never_finishes_at_the_drain_deadline() {
    let s = TestServer::start_with(Arc::new(NoEvents), |c| c.drain_secs = 1).await;
    // A request whose body never comes: its handler waits on it for ever.
    let mut tcp = TcpStream::connect(s.addr).await.unwrap();
    tcp.write_all(
        b"POST /app-instances HTTP/1.1\r\nhost: localhost\r\ncontent-length: 100\r\n\r\n",
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    tokio::time::timeout(Duration::from_secs(5), s.stop())
        .await
        .expect("shutdown returns after the drain deadline");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(900),
        "stopped after {took:?}, before the deadline"
    );
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut buf)).await;
}
