//! `pairs`: many two-member channels with both members connected, and SendChannelMessage
//! driven closed-loop (as fast as `--connections` go) into random channels by one of their two
//! members; each send must reach both sessions. `--no-sessions` runs the same world without
//! sessions, the baseline the session run is compared with.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use rand::Rng;
use serde_json::json;

use super::fanout::{drain, percentiles, percentiles_line, server_line};
use super::sessions::{self, fmt_mib};
use super::setup::send_call;
use super::ws::{content, histogram, Receivers, CALL_LIMIT};
use super::BenchArgs;

/// `pairs`.
pub async fn run(args: &BenchArgs) -> anyhow::Result<()> {
    let c = args.channels.max(1);
    let with_sessions = !args.no_sessions;
    // One connection more than --connections: the stats calls must not take a sender's.
    let mut env = sessions::env(
        args,
        if with_sessions { 2 * c } else { 0 },
        args.connections + 1,
    )
    .await?;
    let users = Arc::new(sessions::create_users(&mut env.pool, &env.app, 2 * c).await?);
    let started = Instant::now();
    let (app, u) = (Arc::new(env.app.clone()), users.clone());
    let channels = Arc::new(
        sessions::over_pool(&mut env.pool, c, move |mut conn, i| {
            let (app, u) = (app.clone(), u.clone());
            async move {
                let ch = sessions::channel_with(
                    &mut conn,
                    &app,
                    &format!("pair {i}"),
                    &u[2 * i],
                    &u[2 * i..2 * i + 2],
                )
                .await?;
                Ok((conn, ch))
            }
        })
        .await?,
    );
    eprintln!(
        "{c} two-member channels in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let origin = Instant::now();
    let receivers = Receivers::new(origin)?;
    let mut tasks = Vec::new();
    let mut connect_s = None;
    if with_sessions {
        let (sockets, took) =
            sessions::connect_all(&env.dialer, &users, args.connect_concurrency).await?;
        connect_s = Some(took.as_secs_f64());
        tasks = sockets
            .into_iter()
            .enumerate()
            .map(|(i, s)| receivers.spawn(i, s))
            .collect();
    }
    let rss_connected = args.server_pid.and_then(sessions::rss_kib);

    // Fresh connections (the setup pool may have sat idle while sessions connected).
    env.pool.clear();
    let mut conns = Vec::new();
    for _ in 0..args.connections.max(1) {
        conns.push(env.connection().await?);
    }
    let start = Instant::now();
    let measure_from = start + Duration::from_secs_f64(args.warmup);
    let duration = Duration::from_secs_f64(args.duration);
    let end = measure_from + duration;
    let per_channel: Arc<Vec<AtomicU64>> = Arc::new((0..c).map(|_| AtomicU64::new(0)).collect());
    let seq = Arc::new(AtomicU64::new(0));
    let sent = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::new();
    for mut conn in conns {
        let (channels, users, per_channel) = (channels.clone(), users.clone(), per_channel.clone());
        let (seq, sent, errors) = (seq.clone(), sent.clone(), errors.clone());
        let bytes = args.message_bytes;
        let mut latency = histogram()?;
        workers.push(tokio::spawn(async move {
            let mut measured_ok = 0u64;
            loop {
                let now = Instant::now();
                if now >= end {
                    break;
                }
                let (ci, who) = {
                    let mut rng = rand::thread_rng();
                    (rng.gen_range(0..channels.len()), rng.gen_range(0..2))
                };
                let measured = now >= measure_from;
                let due_us = now.saturating_duration_since(origin).as_micros() as u64;
                let text = content(seq.fetch_add(1, Ordering::Relaxed), due_us, measured, bytes);
                let call = send_call(&channels[ci], &users[2 * ci + who], &text);
                match tokio::time::timeout(CALL_LIMIT, conn.call(&call))
                    .await
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("no answer within 30 s")))
                {
                    Ok(a) if a.status == 201 => {
                        per_channel[ci].fetch_add(1, Ordering::Relaxed);
                        sent.fetch_add(1, Ordering::Relaxed);
                        if measured {
                            measured_ok += 1;
                            latency.saturating_record((now.elapsed().as_micros() as u64).max(1));
                        }
                    }
                    Ok(_) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(_) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                }
            }
            (latency, measured_ok)
        }));
    }
    let connections = workers.len();
    tokio::time::sleep_until(measure_from.into()).await;
    let frames_at_open = receivers.frames.load(Ordering::Relaxed);
    env.stats(true).await?;
    let (mut last_sent, mut last_frames) = (sent.load(Ordering::Relaxed), frames_at_open);
    while Instant::now() < end {
        tokio::time::sleep_until((Instant::now() + Duration::from_secs(1)).min(end).into()).await;
        let (s, f) = (
            sent.load(Ordering::Relaxed),
            receivers.frames.load(Ordering::Relaxed),
        );
        eprintln!(
            "[{:>5.1}s] {} sends/s, {} frames/s received, {} errors, {} sessions lost",
            measure_from.elapsed().as_secs_f64(),
            s - last_sent,
            f - last_frames,
            errors.load(Ordering::Relaxed),
            receivers.lost_sessions.load(Ordering::Relaxed)
        );
        (last_sent, last_frames) = (s, f);
    }
    let frames_at_close = receivers.frames.load(Ordering::Relaxed);
    let mut send_latency = histogram()?;
    let mut measured_sends = 0;
    for w in workers {
        let (h, n) = w.await.context("sender task")?;
        send_latency.add(&h).context("merging histograms")?;
        measured_sends += n;
    }
    let ok = sent.load(Ordering::Relaxed);
    let expected = if with_sessions { 2 * ok } else { 0 };
    let drained = drain(&receivers, expected, Duration::from_secs_f64(args.drain)).await;
    let server = env.stats(false).await?;
    let rss_end = args.server_pid.and_then(sessions::rss_kib);
    let received = receivers.frames.load(Ordering::Relaxed);
    let measured = receivers.measured.load(Ordering::Relaxed);
    let lost = receivers.lost_sessions.load(Ordering::Relaxed);
    let latency = receivers.latency()?;
    receivers.stop();
    let mut short_sessions = 0u64;
    for (i, t) in tasks.into_iter().enumerate() {
        if t.await.context("receiver task")? != per_channel[i / 2].load(Ordering::Relaxed) {
            short_sessions += 1;
        }
    }
    let secs = duration.as_secs_f64();
    let errors = errors.load(Ordering::Relaxed);
    let sends_per_s = measured_sends as f64 / secs;
    let in_window = (frames_at_close - frames_at_open) as f64 / secs;
    let result = json!({
        "scenario": "pairs",
        "channels": c,
        "sessions": if with_sessions { 2 * c } else { 0 },
        "connections": connections,
        "duration_s": secs,
        "connect_s": connect_s,
        "sends": ok,
        "send_errors": errors,
        "sends_per_s": sends_per_s,
        "send_ms": percentiles(&send_latency),
        "frames_expected": expected,
        "frames_received": received,
        "frames_missing": expected.saturating_sub(received),
        "sessions_short": short_sessions,
        "lost_sessions": lost,
        "deliveries_per_s": measured as f64 / secs,
        "deliveries_in_window_per_s": in_window,
        "drain_s": drained.as_secs_f64(),
        "send_to_receive_ms": percentiles(&latency),
        "server_realtime": server,
        "server_rss_mib": {"connected": rss_connected.map(|k| k as f64 / 1024.0), "at_end": rss_end.map(|k| k as f64 / 1024.0)},
    });
    let lines = format!(
        "pairs: {c} channels, {} sessions, x{connections}: {sends_per_s:.0} sends/s ({errors} errors), send {}; \
         {received}/{expected} frames received, {:.0} deliveries/s ({in_window:.0}/s inside the window); \
         send-to-receive {}; server commit-to-last-frame-written {}; {lost} sessions lost, {short_sessions} short; \
         server RSS {} -> {} MiB",
        if with_sessions { 2 * c } else { 0 },
        percentiles_line(&send_latency),
        measured as f64 / secs,
        percentiles_line(&latency),
        server_line(&server),
        fmt_mib(rss_connected),
        fmt_mib(rss_end),
    );
    let failure = sessions::delivery_failure(
        lost,
        receivers.first_loss(),
        (received, expected, short_sessions),
        errors,
    );
    sessions::finish(args, result, lines, failure)
}
