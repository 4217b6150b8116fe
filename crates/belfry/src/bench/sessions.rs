//! What the websocket-session scenarios share (the REST pool, users and channels made
//! concurrently, sessions connected with bounded concurrency, the server's memory and realtime
//! counters), and the `sessions-idle` scenario: how fast sessions connect and what an open
//! session costs the server.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use belfry_sigv4::{SecretKey, Signer};
use serde_json::{json, Value};
use tokio::sync::Semaphore;

use super::client::{label, Call, Connection};
use super::setup::{post, token};
use super::ws::{self, Dialer, Receivers, Socket};
use super::BenchArgs;

/// What every session scenario starts from.
pub struct Env {
    /// REST connections (plain http to `--endpoint`) for the setup. The server closes a
    /// connection idle for 30 s, so the runs open their own with [`Env::connection`].
    pub pool: Vec<Connection>,
    host: String,
    signer: Signer,
    /// Connects sessions (wss to the session endpoint).
    pub dialer: Arc<Dialer>,
    /// The AppInstance made for this run.
    pub app: String,
}

/// Raises the open-file limit for `sessions` sockets, opens the REST pool (`--connections`,
/// at least `min_conns`), asks
/// GetMessagingSessionEndpoint where sessions go (as amazon-chime-sdk-js does), and creates
/// the run's AppInstance.
pub async fn env(args: &BenchArgs, sessions: usize, min_conns: usize) -> anyhow::Result<Env> {
    let conns = args.connections.max(min_conns).max(1);
    // Room for the setup pool and the run's own connections (at most as many again).
    ws::raise_nofile((sessions + 2 * conns + 32) as u64)?;
    let Some(host) = args.endpoint.strip_prefix("http://") else {
        bail!(
            "--endpoint is the REST endpoint, http:// (sessions then use wss on the endpoint \
             GetMessagingSessionEndpoint names), not {}",
            args.endpoint
        );
    };
    let host = host.trim_end_matches('/').to_string();
    let signer = Signer {
        access_key_id: args.access_key_id.clone(),
        secret: SecretKey::new(args.secret_access_key.clone()),
        region: args.region.clone(),
        service: "chime".into(),
    };
    let mut pool = Vec::new();
    for _ in 0..conns {
        pool.push(Connection::open(&host, signer.clone()).await?);
    }
    let first = pool.first_mut().context("no connection")?;
    let endpoint = get(first, "/endpoints/messaging-session", "").await?;
    let authority = endpoint["Endpoint"]["Url"]
        .as_str()
        .context("GetMessagingSessionEndpoint: no Endpoint.Url")?
        .to_string();
    let ca = ws::ca_path(args.ca.as_deref())?;
    let dialer = Arc::new(Dialer::new(&ca, &authority, signer.clone())?);
    eprintln!(
        "sessions: wss://{authority}/connect trusting {}",
        ca.display()
    );
    let app = post(
        first,
        "/app-instances".into(),
        "",
        None,
        json!({"Name": "belfry-bench-sessions", "ClientRequestToken": token()}),
    )
    .await?["AppInstanceArn"]
        .as_str()
        .context("no AppInstanceArn")?
        .to_string();
    Ok(Env {
        pool,
        host,
        signer,
        dialer,
        app,
    })
}

impl Env {
    /// The REST endpoint's host:port.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// A new REST connection.
    pub async fn connection(&self) -> anyhow::Result<Connection> {
        Connection::open(&self.host, self.signer.clone()).await
    }

    /// A new REST connection to `endpoint` (`http://host:port`), or to `--endpoint`.
    pub async fn connection_to(&self, endpoint: Option<&str>) -> anyhow::Result<Connection> {
        match endpoint {
            Some(e) => {
                let Some(host) = e.strip_prefix("http://") else {
                    bail!("--send-endpoint must be http://host:port, not {e}");
                };
                Connection::open(host.trim_end_matches('/'), self.signer.clone()).await
            }
            None => self.connection().await,
        }
    }

    /// `GET /realtime/stats` on a new connection, starting a new latency window with `reset`.
    pub async fn stats(&self, reset: bool) -> anyhow::Result<Value> {
        stats(&mut self.connection().await?, reset).await
    }
}

/// A signed GET whose answer must be 200 JSON.
pub async fn get(conn: &mut Connection, path: &str, query: &str) -> anyhow::Result<Value> {
    let call = Call {
        method: "GET",
        path: path.to_string(),
        query: query.to_string(),
        bearer: None,
        body: Vec::new(),
    };
    let answer = conn.call(&call).await?;
    if answer.status != 200 {
        bail!(
            "GET {path} failed: {} {}",
            answer.status,
            String::from_utf8_lossy(&answer.body)
        );
    }
    Ok(serde_json::from_slice(&answer.body)?)
}

/// `GET /realtime/stats`, starting a new latency window with `reset`.
pub async fn stats(conn: &mut Connection, reset: bool) -> anyhow::Result<Value> {
    get(
        conn,
        "/realtime/stats",
        if reset { "reset=true" } else { "" },
    )
    .await
}

/// Runs `work(connection, i)` for every `i` in `0..n`, spread over the pool's connections,
/// all at once; returns the results in order.
pub async fn over_pool<T, F, Fut>(
    pool: &mut Vec<Connection>,
    n: usize,
    work: F,
) -> anyhow::Result<Vec<T>>
where
    T: Send + 'static,
    F: Fn(Connection, usize) -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = anyhow::Result<(Connection, T)>> + Send + 'static,
{
    let width = pool.len();
    let mut tasks = Vec::new();
    for (k, conn) in pool.drain(..).enumerate() {
        let work = work.clone();
        tasks.push(tokio::spawn(async move {
            let mut conn = conn;
            let mut out = Vec::new();
            let mut i = k;
            while i < n {
                let (c, t) = work(conn, i).await?;
                conn = c;
                out.push((i, t));
                i += width;
            }
            Ok::<_, anyhow::Error>((conn, out))
        }));
    }
    let mut all = Vec::with_capacity(n);
    let mut failure = None;
    for t in tasks {
        match t.await.context("setup task")? {
            Ok((conn, out)) => {
                pool.push(conn);
                all.extend(out);
            }
            Err(e) => failure = Some(e),
        }
    }
    if let Some(e) = failure {
        return Err(e);
    }
    all.sort_by_key(|(i, _)| *i);
    Ok(all.into_iter().map(|(_, t)| t).collect())
}

/// Creates `n` AppInstanceUsers concurrently over the pool.
pub async fn create_users(
    pool: &mut Vec<Connection>,
    app: &str,
    n: usize,
) -> anyhow::Result<Vec<String>> {
    let started = Instant::now();
    let app = Arc::new(app.to_string());
    let users = over_pool(pool, n, move |mut conn, i| {
        let app = app.clone();
        async move {
            let v = post(
                &mut conn,
                "/app-instance-users".into(),
                "",
                None,
                json!({"AppInstanceArn": *app, "AppInstanceUserId": format!("s-{i}"), "Name": format!("Session user {i}"), "ClientRequestToken": token()}),
            )
            .await?;
            let arn = v["AppInstanceUserArn"]
                .as_str()
                .context("no user ARN")?
                .to_string();
            Ok((conn, arn))
        }
    })
    .await?;
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "created {n} users in {secs:.1} s ({:.0}/s)",
        n as f64 / secs.max(1e-9)
    );
    Ok(users)
}

/// Creates a channel as `creator` and makes `members` (which should include the creator)
/// members, up to 100 a call (BatchCreateChannelMembership's limit).
pub async fn channel_with(
    conn: &mut Connection,
    app: &str,
    name: &str,
    creator: &str,
    members: &[String],
) -> anyhow::Result<String> {
    let v = post(
        conn,
        "/channels".into(),
        "",
        Some(creator),
        json!({"AppInstanceArn": app, "Name": name, "ClientRequestToken": token()}),
    )
    .await?;
    let channel = v["ChannelArn"]
        .as_str()
        .context("no ChannelArn")?
        .to_string();
    for chunk in members.chunks(100) {
        let v = post(
            conn,
            format!("/channels/{}/memberships", label(&channel)),
            "operation=batch-create",
            Some(creator),
            json!({"MemberArns": chunk}),
        )
        .await?;
        // The creator may be a member already (AWS makes it one); nobody else may fail.
        let failed = v["Errors"].as_array().is_some_and(|errors| {
            errors
                .iter()
                .any(|e| e["MemberArn"].as_str() != Some(creator))
        });
        if failed {
            bail!("BatchCreateChannelMembership errors: {}", v["Errors"]);
        }
    }
    Ok(channel)
}

/// Connects one session per user, at most `concurrency` connecting at once; returns them in
/// order and how long it took.
pub async fn connect_all(
    dialer: &Arc<Dialer>,
    users: &[String],
    concurrency: usize,
) -> anyhow::Result<(Vec<Socket>, Duration)> {
    let started = Instant::now();
    let gate = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut tasks = Vec::with_capacity(users.len());
    for (i, user) in users.iter().enumerate() {
        let permit = gate.clone().acquire_owned().await.context("semaphore")?;
        let (dialer, user) = (dialer.clone(), user.clone());
        tasks.push(tokio::spawn(async move {
            let socket = dialer
                .connect(&user, &format!("bench-{i}"))
                .await
                .with_context(|| format!("session {i}"));
            drop(permit);
            socket
        }));
        if (i + 1) % 5000 == 0 {
            eprintln!(
                "[{:>5.1}s] {} sessions connecting or connected",
                started.elapsed().as_secs_f64(),
                i + 1
            );
        }
    }
    let mut sockets = Vec::with_capacity(users.len());
    for t in tasks {
        sockets.push(t.await.context("connect task")??);
    }
    let took = started.elapsed();
    eprintln!(
        "connected {} sessions in {:.1} s ({:.0}/s)",
        sockets.len(),
        took.as_secs_f64(),
        sockets.len() as f64 / took.as_secs_f64().max(1e-9)
    );
    Ok((sockets, took))
}

/// VmRSS of a process, in KiB.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// The generator's own VmRSS, in KiB.
pub fn own_rss_kib() -> Option<u64> {
    rss_kib(std::process::id())
}

/// Why a delivery run failed, if it did: a session ended, frames went missing, or sends failed.
pub fn delivery_failure(
    lost: u64,
    first_loss: Option<String>,
    (received, expected, short_sessions): (u64, u64, u64),
    errors: u64,
) -> Option<String> {
    if lost > 0 {
        Some(format!(
            "{lost} sessions ended during the run; first: {}",
            first_loss.unwrap_or_default()
        ))
    } else if received != expected || short_sessions > 0 {
        Some(format!(
            "{received} frames received of {expected} expected ({short_sessions} sessions short)"
        ))
    } else if errors > 0 {
        Some(format!("{errors} sends failed"))
    } else {
        None
    }
}

/// Prints `result` as JSON or as `lines`, and fails with `failure` if there is one (after the
/// report, so a failed run still says what it saw).
pub fn finish(
    args: &BenchArgs,
    result: Value,
    lines: String,
    failure: Option<String>,
) -> anyhow::Result<()> {
    if args.json {
        println!("{result}");
    } else {
        println!("{lines}");
    }
    match failure {
        Some(f) => bail!("{f}"),
        None => Ok(()),
    }
}

/// `sessions-idle`: N users, N sessions connected and held open.
pub async fn idle(args: &BenchArgs) -> anyhow::Result<()> {
    let n = args.sessions;
    let mut env = env(args, n, 1).await?;
    let users = create_users(&mut env.pool, &env.app, n).await?;
    let pid = args.server_pid;
    let rss_before = pid.and_then(rss_kib);
    let (sockets, took) = connect_all(&env.dialer, &users, args.connect_concurrency).await?;
    let connect_rate = n as f64 / took.as_secs_f64().max(1e-9);
    let receivers = Receivers::new(Instant::now())?;
    let tasks: Vec<_> = sockets
        .into_iter()
        .enumerate()
        .map(|(i, s)| receivers.spawn(i, s))
        .collect();
    // Let the server's allocator settle after the burst of handshakes before reading RSS.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_after = pid.and_then(rss_kib);
    let open_after_connect = env.stats(false).await?["SessionsOpen"].as_u64();
    let hold = Duration::from_secs_f64(args.duration);
    let started = Instant::now();
    while started.elapsed() < hold {
        tokio::time::sleep(Duration::from_secs(1).min(hold)).await;
        eprintln!(
            "[{:>5.1}s] holding {} sessions, {} lost, server RSS {} MiB",
            started.elapsed().as_secs_f64(),
            n as u64 - receivers.lost_sessions.load(Ordering::Relaxed),
            receivers.lost_sessions.load(Ordering::Relaxed),
            pid.and_then(rss_kib)
                .map_or("?".into(), |k| (k / 1024).to_string()),
        );
    }
    let open_at_end = env.stats(false).await?["SessionsOpen"].as_u64();
    let rss_end = pid.and_then(rss_kib);
    let generator_rss = own_rss_kib();
    let lost = receivers.lost_sessions.load(Ordering::Relaxed);
    let closing = Instant::now();
    receivers.stop();
    for t in tasks {
        let _ = t.await;
    }
    let close_s = closing.elapsed().as_secs_f64();
    let per_session = match (rss_before, rss_after) {
        (Some(b), Some(a)) => Some(a.saturating_sub(b) as f64 * 1024.0 / n.max(1) as f64),
        _ => None,
    };
    let mib = |k: Option<u64>| k.map(|k| k as f64 / 1024.0);
    let result = json!({
        "scenario": "sessions-idle",
        "sessions": n,
        "connect_s": took.as_secs_f64(),
        "connect_per_s": connect_rate,
        "held_s": args.duration,
        "lost_sessions": lost,
        "server_sessions_open": {"after_connect": open_after_connect, "at_end": open_at_end},
        "server_rss_mib": {"before": mib(rss_before), "after_connect": mib(rss_after), "at_end": mib(rss_end)},
        "server_bytes_per_session": per_session,
        "generator_rss_mib": mib(generator_rss),
        "close_s": close_s,
    });
    let lines = format!(
        "sessions-idle: {n} sessions connected in {:.1} s = {connect_rate:.0}/s; held {:.0} s, {lost} lost; \
         server SessionsOpen {} after connect, {} at end; server RSS {} -> {} MiB ({} at end) = {} per session; \
         generator RSS {} MiB; closed in {close_s:.1} s",
        took.as_secs_f64(),
        args.duration,
        open_after_connect.map_or("?".into(), |v| v.to_string()),
        open_at_end.map_or("?".into(), |v| v.to_string()),
        fmt_mib(rss_before),
        fmt_mib(rss_after),
        fmt_mib(rss_end),
        per_session.map_or("?".into(), |b| format!("{:.1} KiB", b / 1024.0)),
        fmt_mib(generator_rss),
    );
    let failure = if lost > 0 {
        Some(format!(
            "{lost} sessions ended while held; first: {}",
            receivers.first_loss().unwrap_or_default()
        ))
    } else if open_at_end.is_none_or(|o| o < n as u64) {
        Some(format!(
            "the server reports {open_at_end:?} sessions open, not {n}"
        ))
    } else {
        None
    };
    finish(args, result, lines, failure)
}

/// KiB as whole MiB for a report line.
pub fn fmt_mib(k: Option<u64>) -> String {
    k.map_or("?".into(), |k| format!("{:.0}", k as f64 / 1024.0))
}
