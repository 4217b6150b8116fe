//! `abuse`: `--slow` slow clients held open (a fifth each: silent connections, trickled
//! request heads, trickled TLS handshakes, trickled bodies, and idle websocket sessions) while
//! `--connections` normal clients send messages as fast as they can. Reports the normal
//! clients' latency and errors, and with `--server-pid` the server's memory and sockets
//! before, during and after the attack.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::json;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::fanout::{percentiles, percentiles_line};
use super::sessions::{self, fmt_mib};
use super::setup::send_call;
use super::slow::{self, Kind};
use super::ws::{histogram, CALL_LIMIT};
use super::BenchArgs;

/// `abuse`.
pub async fn run(args: &BenchArgs) -> anyhow::Result<()> {
    let each = (args.slow / 5).max(1);
    let mut env = sessions::env(args, 5 * each, args.connections + 1).await?;
    let users = sessions::create_users(&mut env.pool, &env.app, 2).await?;
    let first = env.pool.first_mut().context("no connection")?;
    let channel = sessions::channel_with(first, &env.app, "abuse", &users[0], &users).await?;
    let addr = tokio::net::lookup_host(env.host())
        .await?
        .next()
        .context("the endpoint's address")?;
    let pid = args.server_pid;
    let fds = |p: Option<u32>| p.map(slow::open_sockets);
    let (fds_before, rss_before) = (fds(pid), pid.and_then(slow::rss_kib));

    let stop = CancellationToken::new();
    let mut attack = JoinSet::new();
    for kind in [Kind::Idle, Kind::SlowHeaders, Kind::SlowTls, Kind::SlowBody] {
        slow::spawn(&mut attack, addr, kind, each, &stop);
    }
    // Idle sessions of one user: established, then never read again.
    let idle_users = vec![users[1].clone(); each];
    let (sockets, _) =
        sessions::connect_all(&env.dialer, &idle_users, args.connect_concurrency).await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (fds_during, rss_during) = (fds(pid), pid.and_then(slow::rss_kib));
    eprintln!(
        "{} slow clients and {each} idle sessions open; server: {} sockets, RSS {} MiB",
        4 * each,
        fds_during.map_or("?".into(), |n| n.to_string()),
        fmt_mib(rss_during)
    );

    env.pool.clear();
    let duration = Duration::from_secs_f64(args.duration);
    let end = Instant::now() + duration;
    let channel = Arc::new(channel);
    let sender = Arc::new(users[0].clone());
    let errors = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::new();
    for _ in 0..args.connections.max(1) {
        let mut conn = env.connection().await?;
        let (channel, sender, errors) = (channel.clone(), sender.clone(), errors.clone());
        let mut latency = histogram()?;
        workers.push(tokio::spawn(async move {
            while Instant::now() < end {
                let started = Instant::now();
                let call = send_call(&channel, &sender, "under attack");
                match tokio::time::timeout(CALL_LIMIT, conn.call(&call)).await {
                    Ok(Ok(a)) if a.status == 201 => {
                        latency.saturating_record((started.elapsed().as_micros() as u64).max(1))
                    }
                    _ => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            latency
        }));
    }
    let mut latency = histogram()?;
    for w in workers {
        latency
            .add(&w.await.context("sender task")?)
            .context("merging histograms")?;
    }
    let rss_peak = pid.and_then(slow::rss_kib);

    stop.cancel();
    while attack.join_next().await.is_some() {}
    drop(sockets);
    let released_at = Instant::now();
    let mut fds_after = fds(pid);
    // Every slow client's descriptor must be released; the normal clients' pooled
    // connections may still be open.
    let settled = |n: usize| fds_before.is_some_and(|b| n <= b + args.connections + 2);
    while fds_after.is_some_and(|n| !settled(n)) && released_at.elapsed() < Duration::from_secs(60)
    {
        tokio::time::sleep(Duration::from_millis(200)).await;
        fds_after = fds(pid);
    }
    let release_s = released_at.elapsed().as_secs_f64();

    let sends = latency.len();
    let errors = errors.load(Ordering::Relaxed);
    let secs = duration.as_secs_f64();
    let result = json!({
        "scenario": "abuse",
        "slow_clients": 4 * each,
        "idle_sessions": each,
        "connections": args.connections,
        "duration_s": secs,
        "sends": sends,
        "send_errors": errors,
        "sends_per_s": sends as f64 / secs,
        "send_ms": percentiles(&latency),
        "server_sockets": {"before": fds_before, "during": fds_during, "after": fds_after, "release_s": release_s},
        "server_rss_mib": {
            "before": rss_before.map(|k| k as f64 / 1024.0),
            "during": rss_during.map(|k| k as f64 / 1024.0),
            "after_sends": rss_peak.map(|k| k as f64 / 1024.0),
        },
    });
    let lines = format!(
        "abuse: {} slow clients + {each} idle sessions; normal sends x{}: {:.0}/s ({errors} errors), {}; \
         server sockets {} -> {} -> {} ({release_s:.1} s after the attack); RSS {} -> {} -> {} MiB",
        4 * each,
        args.connections,
        sends as f64 / secs,
        percentiles_line(&latency),
        fds_before.map_or("?".into(), |n| n.to_string()),
        fds_during.map_or("?".into(), |n| n.to_string()),
        fds_after.map_or("?".into(), |n| n.to_string()),
        fmt_mib(rss_before),
        fmt_mib(rss_during),
        fmt_mib(rss_peak),
    );
    let failure = if errors > 0 {
        Some(format!("{errors} normal sends failed under the attack"))
    } else if fds_after.is_some_and(|n| !settled(n)) {
        Some("sockets were not released within 60 s of the attack's end".to_string())
    } else {
        None
    };
    sessions::finish(args, result, lines, failure)
}
