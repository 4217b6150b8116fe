//! Slow, silent and oversized clients: the server keeps serving normal clients, keeps its
//! memory and descriptors bounded, answers what it refuses, and still shuts down on time.

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::binary::{client, Proc};
use crate::harness::{uuid, TestServer, World};
use crate::ws::{self, Signing, Ws};
use belfry::bench::slow::{self, Kind};

/// The built binary on a fresh data directory, with `config` as its TOML file.
struct Bin {
    proc: Proc,
    addr: SocketAddr,
    endpoint: String,
    key: String,
    secret: String,
    _dir: tempfile::TempDir,
}

impl Bin {
    fn start(nofile: Option<u64>, config: &str) -> Bin {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("belfry.toml");
        std::fs::write(&file, config).unwrap();
        let data = dir.path().join("data");
        let args = [
            "serve",
            "--data-dir",
            data.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
            "--config",
            file.to_str().unwrap(),
        ];
        let mut proc = match nofile {
            Some(n) => Proc::start_with_nofile(n, &args, &[]),
            None => Proc::start(&args, &[]),
        };
        let key = proc.export("AWS_ACCESS_KEY_ID");
        let secret = proc.export("AWS_SECRET_ACCESS_KEY");
        let endpoint = proc.export("AWS_ENDPOINT_URL");
        let addr = endpoint.trim_start_matches("http://").parse().unwrap();
        Bin {
            proc,
            addr,
            endpoint,
            key,
            secret,
            _dir: dir,
        }
    }

    fn identity(&self) -> aws_sdk_chimesdkidentity::Client {
        client(&self.endpoint, &self.key, &self.secret, "us-east-1")
    }

    fn pid(&self) -> u32 {
        self.proc.pid()
    }
}

/// Raises this test process's open-file limit: the slow clients are sockets here too.
fn raise_own_nofile() {
    let (_, hard) = rlimit::Resource::NOFILE.get().unwrap();
    rlimit::increase_nofile_limit(hard).unwrap();
}

/// A normal request through the SDK: creates an AppInstance.
async fn normal_request(c: &aws_sdk_chimesdkidentity::Client) -> Result<(), String> {
    let call = c
        .create_app_instance()
        .name("normal")
        .client_request_token(uuid())
        .send();
    match tokio::time::timeout(Duration::from_secs(10), call).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(format!("{e:?}")),
        Err(_) => Err("no answer within 10 s".into()),
    }
}

#[tokio::test]
async fn with_every_descriptor_held_by_silent_clients_normal_clients_are_still_served() {
    raise_own_nofile();
    // As under a service manager that leaves the limit at 256: the server cannot raise it.
    let bin = Bin::start(Some(256), "");
    let stop = CancellationToken::new();
    let mut attack = JoinSet::new();
    slow::spawn(&mut attack, bin.addr, Kind::Idle, 150, &stop);
    slow::spawn(&mut attack, bin.addr, Kind::SlowHeaders, 50, &stop);
    // More trickled bodies than slots: a body still arriving is not a request in flight, so
    // these are evicted like trickled heads rather than holding every slot.
    slow::spawn(&mut attack, bin.addr, Kind::SlowBody, 250, &stop);
    // Let them take every slot (and every descriptor).
    tokio::time::sleep(Duration::from_secs(3)).await;

    let sdk = bin.identity();
    for i in 0..5 {
        let status = slow::health(bin.addr, Duration::from_secs(10)).await;
        assert_eq!(
            status.as_deref(),
            Ok("HTTP/1.1 200 OK"),
            "health check {i} during the attack"
        );
        normal_request(&sdk)
            .await
            .unwrap_or_else(|e| panic!("SDK request {i} during the attack: {e}"));
    }
    stop.cancel();
    while attack.join_next().await.is_some() {}
}

#[tokio::test]
async fn slow_clients_of_every_kind_leave_memory_bounded_and_every_descriptor_released() {
    raise_own_nofile();
    let bin = Bin::start(None, "");
    let sdk = bin.identity();
    normal_request(&sdk).await.unwrap();
    let baseline = slow::open_sockets(bin.pid());

    let world = World::with_client(&sdk, &["idle"]).await;
    let user = world.user(0).to_string();

    const EACH: usize = 200;
    let stop = CancellationToken::new();
    let mut attack = JoinSet::new();
    for kind in [Kind::Idle, Kind::SlowHeaders, Kind::SlowTls, Kind::SlowBody] {
        slow::spawn(&mut attack, bin.addr, kind, EACH, &stop);
    }
    // Idle websocket sessions: established, then never read again.
    let mut sessions = Vec::new();
    for i in 0..EACH {
        let host = bin.addr.to_string();
        let path = ws::presign(
            &host,
            &[("userArn", user.as_str()), ("sessionId", &format!("s{i}"))],
            &Signing {
                key: &bin.key,
                secret: &bin.secret,
                region: "us-east-1",
                at: SystemTime::now(),
                expires: Duration::from_secs(60),
            },
        );
        let tcp = TcpStream::connect(bin.addr).await.unwrap();
        let (mut stream, _) = tokio_tungstenite::client_async(format!("ws://{host}{path}"), tcp)
            .await
            .expect("websocket upgrade");
        let first = tokio::time::timeout(
            Duration::from_secs(10),
            futures_util::StreamExt::next(&mut stream),
        )
        .await
        .expect("SESSION_ESTABLISHED within 10 s");
        assert!(matches!(first, Some(Ok(_))), "{first:?}");
        sessions.push(stream);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let under_attack = slow::open_sockets(bin.pid());
    assert!(
        under_attack >= baseline + 4 * EACH,
        "the slow clients are connected ({under_attack} sockets, {baseline} before)"
    );

    for i in 0..10 {
        normal_request(&sdk)
            .await
            .unwrap_or_else(|e| panic!("SDK request {i} during the attack: {e}"));
        assert_eq!(
            slow::health(bin.addr, Duration::from_secs(10))
                .await
                .as_deref(),
            Ok("HTTP/1.1 200 OK")
        );
    }
    let rss = slow::rss_kib(bin.pid()).unwrap_or(0);
    assert!(
        rss > 0 && rss <= 512 * 1024,
        "server RSS {rss} KiB under attack"
    );

    stop.cancel();
    while attack.join_next().await.is_some() {}
    drop(sessions);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let now = slow::open_sockets(bin.pid());
        // The SDK client's pooled connection may come and go.
        if now <= baseline + 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{now} sockets open 30 s after the attack ended, {baseline} before it"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    normal_request(&sdk).await.unwrap();
}

#[tokio::test]
async fn sigterm_finishes_requests_in_flight_cuts_stalled_ones_and_exits_zero() {
    let mut bin = Bin::start(None, "drain_secs = 2\n");
    // A head that never ends, and a body that never ends.
    let mut stalled_head = TcpStream::connect(bin.addr).await.unwrap();
    stalled_head
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut stalled_body = TcpStream::connect(bin.addr).await.unwrap();
    stalled_body
        .write_all(b"POST /app-instances HTTP/1.1\r\nhost: x\r\ncontent-length: 10\r\n\r\nx")
        .await
        .unwrap();
    // A request in flight whose body is finished after the signal.
    let mut in_flight = TcpStream::connect(bin.addr).await.unwrap();
    in_flight
        .write_all(b"POST /app-instances HTTP/1.1\r\nhost: x\r\ncontent-length: 4\r\n\r\n{}")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    let signalled = Instant::now();
    bin.proc.signal_term();
    tokio::time::sleep(Duration::from_millis(200)).await;
    in_flight.write_all(b"  ").await.unwrap();
    let mut reply = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), in_flight.read_to_end(&mut reply))
        .await
        .expect("the request in flight is answered")
        .unwrap();
    let reply = String::from_utf8_lossy(&reply);
    // Unsigned, so refused; what matters is that it was answered during the drain.
    assert!(
        reply.starts_with("HTTP/1.1 403"),
        "in-flight request got {reply:?}"
    );

    let code = bin.proc.wait_exit(Duration::from_secs(15));
    assert_eq!(code, Some(0), "exit code after SIGTERM");
    assert!(signalled.elapsed() < Duration::from_secs(15));
    for (name, mut s) in [("head", stalled_head), ("body", stalled_body)] {
        let mut buf = Vec::new();
        let r = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut buf)).await;
        assert!(r.is_ok(), "the stalled {name} connection was closed");
    }
}

#[tokio::test]
async fn an_oversized_body_gets_its_413_even_when_the_client_reads_only_after_writing() {
    let s = TestServer::configured(|c| c.max_body_bytes = 64 * 1024).await;
    let body = vec![b'x'; 6 * 1024 * 1024];
    let mut tcp = TcpStream::connect(s.addr).await.unwrap();
    let head = format!(
        "POST /app-instances HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    // Everything first, as a simple client does; the server must not have hung up meanwhile.
    tokio::time::timeout(Duration::from_secs(20), tcp.write_all(&body))
        .await
        .expect("the server reads the body")
        .expect("the body is written without a reset");
    let mut reply = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(10), tcp.read(&mut reply))
        .await
        .expect("an answer")
        .expect("an answer, not a reset");
    let reply = String::from_utf8_lossy(&reply[..n]);
    assert!(reply.starts_with("HTTP/1.1 413"), "{reply}");
    assert!(reply.contains("RequestEntityTooLargeException"), "{reply}");
    assert!(reply.contains("65536 bytes"), "{reply}");
    s.stop().await;
}

#[tokio::test]
async fn a_body_that_stops_arriving_is_answered_408() {
    let s = TestServer::configured(|c| c.body_read_timeout_secs = 1).await;
    let mut tcp = TcpStream::connect(s.addr).await.unwrap();
    tcp.write_all(b"POST /app-instances HTTP/1.1\r\nhost: x\r\ncontent-length: 10\r\n\r\n{")
        .await
        .unwrap();
    let mut reply = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut reply))
        .await
        .expect("answered and closed")
        .unwrap();
    let reply = String::from_utf8_lossy(&reply);
    assert!(reply.starts_with("HTTP/1.1 408"), "{reply}");
    assert!(reply.contains("RequestTimeoutException"), "{reply}");
    assert!(reply.contains("within 1 seconds"), "{reply}");
    s.stop().await;
}

#[tokio::test]
async fn trickled_headers_and_idle_keep_alive_connections_are_closed_at_the_header_timeout() {
    let s = TestServer::configured(|c| c.header_read_timeout_secs = 1).await;
    // A byte every 200 ms: never a whole head.
    let mut trickle = TcpStream::connect(s.addr).await.unwrap();
    let started = Instant::now();
    let closed = async {
        for b in b"GET /health HTTP/1.1\r\nx-slow: ".iter().cycle() {
            if trickle.write_all(&[*b]).await.is_err() {
                return;
            }
            let mut buf = [0u8; 512];
            match tokio::time::timeout(Duration::from_millis(200), trickle.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return,
                _ => {}
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), closed)
        .await
        .expect("a trickled head is cut at the header timeout");
    assert!(started.elapsed() >= Duration::from_secs(1));

    // A keep-alive connection that goes quiet after its response.
    let mut idle = TcpStream::connect(s.addr).await.unwrap();
    idle.write_all(b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let mut all = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), idle.read_to_end(&mut all))
        .await
        .expect("the idle keep-alive connection is closed")
        .unwrap();
    assert!(String::from_utf8_lossy(&all).starts_with("HTTP/1.1 200"));
    s.stop().await;
}

#[tokio::test]
async fn a_websocket_frame_over_the_inbound_cap_closes_the_session_with_1009() {
    let s = TestServer::start().await;
    let w = World::new(&s, &["big"]).await;
    let mut ws = Ws::established(&s, w.user(0), "s1").await;
    ws.send_text("x".repeat(64 * 1024)).await;
    assert_eq!(ws.closed().await, 1009);
    s.stop().await;
}

#[tokio::test]
async fn websocket_sessions_hold_their_connection_slot_until_they_end() {
    let s = TestServer::configured(|c| c.max_connections = 2).await;
    let w = World::new(&s, &["a"]).await;
    let first = Ws::established(&s, w.user(0), "s1").await;
    let second = Ws::established(&s, w.user(0), "s2").await;
    // Both slots are held by sessions, which are never evicted: a new client waits.
    let waited = slow::health(s.addr, Duration::from_millis(500)).await;
    assert!(waited.is_err(), "served with every slot held: {waited:?}");
    first.stop().await;
    let served = slow::health(s.addr, Duration::from_secs(10)).await;
    assert_eq!(served.as_deref(), Ok("HTTP/1.1 200 OK"));
    second.stop().await;
    s.stop().await;
}
