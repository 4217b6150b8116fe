//! `fanout`: one channel whose every member is connected, messages sent into it at a fixed
//! rate (open loop), and every member's session must receive every message. Latency at the
//! receivers counts from when each message was due, so a stalled server or generator cannot
//! hide it; the server's own commit-to-last-frame-written time comes from /realtime/stats.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::{json, Value};
use tokio::sync::{mpsc, Mutex};

use super::sessions::{self, fmt_mib};
use super::setup::send_call;
use super::ws::{content, histogram, Receivers, CALL_LIMIT};
use super::BenchArgs;

/// Milliseconds of a histogram value in microseconds.
pub fn ms(v: u64) -> f64 {
    v as f64 / 1000.0
}

/// p50/p99/p99.9/max of a microsecond histogram, in milliseconds.
pub fn percentiles(h: &hdrhistogram::Histogram<u64>) -> Value {
    json!({
        "count": h.len(),
        "p50": ms(h.value_at_quantile(0.5)),
        "p99": ms(h.value_at_quantile(0.99)),
        "p99.9": ms(h.value_at_quantile(0.999)),
        "max": ms(h.max()),
    })
}

/// The same, as text.
pub fn percentiles_line(h: &hdrhistogram::Histogram<u64>) -> String {
    format!(
        "p50 {:.2} p99 {:.2} p99.9 {:.2} max {:.2} ms",
        ms(h.value_at_quantile(0.5)),
        ms(h.value_at_quantile(0.99)),
        ms(h.value_at_quantile(0.999)),
        ms(h.max())
    )
}

/// The server's CommitToLastFrameWritten, as text.
pub fn server_line(stats: &Value) -> String {
    let d = &stats["CommitToLastFrameWritten"];
    let f = |k: &str| {
        d[k].as_u64()
            .map_or("?".into(), |v| format!("{:.2}", ms(v)))
    };
    format!(
        "{} events, p50 {} p99 {} p99.9 {} max {} ms",
        d["Events"],
        f("P50Us"),
        f("P99Us"),
        f("P999Us"),
        f("MaxUs")
    )
}

/// Waits until `receivers` hold `expected` bench frames, a session is lost, or `limit`
/// passes; prints progress. Returns how long it waited.
pub async fn drain(receivers: &Receivers, expected: u64, limit: Duration) -> Duration {
    let started = Instant::now();
    let mut last_print = started;
    while receivers.frames.load(Ordering::Relaxed) < expected
        && receivers.lost_sessions.load(Ordering::Relaxed) == 0
        && started.elapsed() < limit
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
        if last_print.elapsed() >= Duration::from_secs(1) {
            last_print = Instant::now();
            eprintln!(
                "draining: {} of {expected} frames received",
                receivers.frames.load(Ordering::Relaxed)
            );
        }
    }
    started.elapsed()
}

/// `fanout`.
pub async fn run(args: &BenchArgs) -> anyhow::Result<()> {
    let m = args.members.max(1);
    let rate = args.rate.unwrap_or(50.0);
    let senders = args.senders.clamp(1, m);
    let mut env = sessions::env(args, m, 1).await?;
    let users = sessions::create_users(&mut env.pool, &env.app, m).await?;
    let started = Instant::now();
    let first = env.pool.first_mut().context("no connection")?;
    let channel = sessions::channel_with(first, &env.app, "fanout", &users[0], &users).await?;
    eprintln!(
        "one channel with {m} members in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let (sockets, connect_took) =
        sessions::connect_all(&env.dialer, &users, args.connect_concurrency).await?;
    let rss_connected = args.server_pid.and_then(sessions::rss_kib);
    let origin = Instant::now();
    let receivers = Receivers::new(origin)?;
    let tasks: Vec<_> = sockets
        .into_iter()
        .enumerate()
        .map(|(i, s)| receivers.spawn(i, s))
        .collect();

    let start = Instant::now() + Duration::from_millis(200);
    let warmup = Duration::from_secs_f64(args.warmup);
    let duration = Duration::from_secs_f64(args.duration);
    let measure_from = start + warmup;
    let end = measure_from + duration;
    // Due times from a thread of its own (OS sleeps are finer than tokio's timer wheel).
    let (tx, rx) = mpsc::channel::<(u64, Instant)>(1 << 16);
    let interval = Duration::from_secs_f64(1.0 / rate.max(0.001));
    std::thread::spawn(move || {
        let mut due = start;
        let mut seq = 0u64;
        while due < end {
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
            if tx.blocking_send((seq, due)).is_err() {
                break;
            }
            seq += 1;
            due += interval;
        }
    });
    let rx = Arc::new(Mutex::new(rx));
    let sent_ok = Arc::new(AtomicU64::new(0));
    let sent_measured = Arc::new(AtomicU64::new(0));
    let send_errors = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::new();
    for user in users.iter().take(senders) {
        let mut conn = env.connection_to(args.send_endpoint.as_deref()).await?;
        let (rx, channel, user) = (rx.clone(), channel.clone(), user.clone());
        let (ok, measured_ok, errors) =
            (sent_ok.clone(), sent_measured.clone(), send_errors.clone());
        let bytes = args.message_bytes;
        let mut latency = histogram()?;
        workers.push(tokio::spawn(async move {
            loop {
                let next = rx.lock().await.recv().await;
                let Some((seq, due)) = next else { break };
                let measured = due >= measure_from;
                let due_us = due.saturating_duration_since(origin).as_micros() as u64;
                let call = send_call(&channel, &user, &content(seq, due_us, measured, bytes));
                let answer = tokio::time::timeout(CALL_LIMIT, conn.call(&call))
                    .await
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("no answer within 30 s")));
                match answer {
                    Ok(a) if a.status == 201 => {
                        ok.fetch_add(1, Ordering::Relaxed);
                        if measured {
                            measured_ok.fetch_add(1, Ordering::Relaxed);
                            let took = due.elapsed().as_micros() as u64;
                            latency.saturating_record(took.max(1));
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
            latency
        }));
    }
    // The measured window: reset the server's delivery histogram as it opens, count frames
    // received inside it.
    tokio::time::sleep_until(measure_from.into()).await;
    let frames_at_open = receivers.frames.load(Ordering::Relaxed);
    env.stats(true).await?;
    let mut last = frames_at_open;
    while Instant::now() < end {
        tokio::time::sleep_until((Instant::now() + Duration::from_secs(1)).min(end).into()).await;
        let frames = receivers.frames.load(Ordering::Relaxed);
        eprintln!(
            "[{:>5.1}s] sent {} ({} errors), {} frames/s received, {} sessions lost",
            measure_from.elapsed().as_secs_f64(),
            sent_ok.load(Ordering::Relaxed),
            send_errors.load(Ordering::Relaxed),
            frames - last,
            receivers.lost_sessions.load(Ordering::Relaxed)
        );
        last = frames;
    }
    let frames_at_close = receivers.frames.load(Ordering::Relaxed);
    let mut send_latency = histogram()?;
    for w in workers {
        send_latency
            .add(&w.await.context("sender task")?)
            .context("merging histograms")?;
    }
    let ok = sent_ok.load(Ordering::Relaxed);
    let expected = ok * m as u64;
    let drained = drain(&receivers, expected, Duration::from_secs_f64(args.drain)).await;
    let server = env.stats(false).await?;
    let rss_end = args.server_pid.and_then(sessions::rss_kib);
    let received = receivers.frames.load(Ordering::Relaxed);
    let measured = receivers.measured.load(Ordering::Relaxed);
    let lost = receivers.lost_sessions.load(Ordering::Relaxed);
    let latency = receivers.latency()?;
    receivers.stop();
    let mut short_sessions = 0u64;
    for t in tasks {
        if t.await.context("receiver task")? != ok {
            short_sessions += 1;
        }
    }
    let secs = duration.as_secs_f64();
    let measured_ok = sent_measured.load(Ordering::Relaxed);
    let errors = send_errors.load(Ordering::Relaxed);
    let in_window = (frames_at_close - frames_at_open) as f64 / secs;
    let result = json!({
        "scenario": "fanout",
        "members": m,
        "senders": senders,
        "target_rate": rate,
        "duration_s": secs,
        "connect_s": connect_took.as_secs_f64(),
        "messages_sent": ok,
        "messages_measured": measured_ok,
        "send_errors": errors,
        "frames_expected": expected,
        "frames_received": received,
        "frames_missing": expected.saturating_sub(received),
        "sessions_short": short_sessions,
        "lost_sessions": lost,
        "deliveries_per_s": measured as f64 / secs,
        "deliveries_in_window_per_s": in_window,
        "drain_s": drained.as_secs_f64(),
        "send_to_receive_ms": percentiles(&latency),
        "send_ms": percentiles(&send_latency),
        "server_realtime": server,
        "server_rss_mib": {"connected": rss_connected.map(|k| k as f64 / 1024.0), "at_end": rss_end.map(|k| k as f64 / 1024.0)},
    });
    let lines = format!(
        "fanout: {m} members, {rate}/s for {secs:.0} s: {ok} sent ({errors} errors), {received}/{expected} frames \
         received; {:.0} deliveries/s ({in_window:.0}/s inside the window); send-to-receive {}; send {}; \
         server commit-to-last-frame-written {}; {lost} sessions lost, {short_sessions} short; server RSS {} -> {} MiB",
        measured as f64 / secs,
        percentiles_line(&latency),
        percentiles_line(&send_latency),
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
