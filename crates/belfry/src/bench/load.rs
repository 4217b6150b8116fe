//! Driving load: closed loop (as fast as the connections go) or open loop at a fixed rate, where
//! latency is measured from when each request was due, so a stalled server cannot hide behind
//! the requests it kept from being sent (no coordinated omission).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use rand::Rng;
use tokio::sync::{mpsc, Mutex};

use super::client::{label, Call, Connection};
use super::setup::{send_call, Fixture};

/// What each request does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// SendChannelMessage.
    Send,
    /// ListChannelMessages (one page).
    List,
    /// GetChannelMessage.
    Get,
    /// 70% send, 20% list, 10% get.
    Mix,
}

/// How to drive.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The scenario.
    pub scenario: Scenario,
    /// Measured run.
    pub duration: Duration,
    /// Unmeasured run before it.
    pub warmup: Duration,
    /// Requests per second (open loop); `None` for as fast as possible.
    pub rate: Option<f64>,
    /// Message size for sends.
    pub content: String,
    /// Page size for lists.
    pub page_size: u32,
}

/// What one worker saw.
pub struct Tally {
    /// Latency in microseconds.
    pub latency: Histogram<u64>,
    /// Answers by HTTP status (non-2xx count as errors).
    pub statuses: std::collections::BTreeMap<u16, u64>,
    /// Transport failures.
    pub failures: u64,
}

fn pick(fixture: &Fixture, scenario: Scenario, plan: &Plan) -> Call {
    let mut rng = rand::thread_rng();
    let ci = rng.gen_range(0..fixture.channels.len());
    let ch = &fixture.channels[ci];
    let user = &fixture.users[rng.gen_range(0..fixture.users.len())];
    let scenario = match scenario {
        Scenario::Mix => match rng.gen_range(0..10) {
            0..=6 => Scenario::Send,
            7..=8 => Scenario::List,
            _ => Scenario::Get,
        },
        s => s,
    };
    match scenario {
        Scenario::Get if !fixture.messages[ci].is_empty() => {
            let ids = &fixture.messages[ci];
            Call {
                method: "GET",
                path: format!(
                    "/channels/{}/messages/{}",
                    label(ch),
                    ids[rng.gen_range(0..ids.len())]
                ),
                query: String::new(),
                bearer: Some(user.clone()),
                body: Vec::new(),
            }
        }
        Scenario::List | Scenario::Get => Call {
            method: "GET",
            path: format!("/channels/{}/messages", label(ch)),
            query: format!("max-results={}", plan.page_size),
            bearer: Some(user.clone()),
            body: Vec::new(),
        },
        Scenario::Send | Scenario::Mix => send_call(ch, user, &plan.content),
    }
}

/// Shared counters for the progress line.
#[derive(Default)]
pub struct Progress {
    /// Answers so far (measured or not).
    pub done: AtomicU64,
    /// Non-2xx answers and failures so far.
    pub errors: AtomicU64,
}

/// Runs the plan over the connections and returns each worker's tally.
pub async fn run(
    conns: Vec<Connection>,
    fixture: Arc<Fixture>,
    plan: Plan,
    progress: Arc<Progress>,
) -> Vec<Tally> {
    let start = Instant::now();
    let measure_from = start + plan.warmup;
    let end = measure_from + plan.duration;
    // Open loop: a ticker hands out due times; workers take them as they become free.
    let ticks = plan.rate.map(|rate| {
        let (tx, rx) = mpsc::channel::<Instant>(1 << 16);
        let interval = Duration::from_secs_f64(1.0 / rate);
        // A thread of its own: OS sleeps are far finer than tokio's 1 ms timer wheel, so
        // requests leave when they are due and the generator adds no latency of its own.
        std::thread::spawn(move || {
            let mut due = Instant::now();
            while due < end {
                let now = Instant::now();
                if due > now {
                    std::thread::sleep(due - now);
                }
                if tx.blocking_send(due).is_err() {
                    break;
                }
                due += interval;
            }
        });
        Arc::new(Mutex::new(rx))
    });
    let mut workers = Vec::new();
    for mut conn in conns {
        let (fixture, plan, progress, ticks) = (
            fixture.clone(),
            plan.clone(),
            progress.clone(),
            ticks.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut tally = Tally {
                latency: Histogram::new_with_bounds(1, 600_000_000, 3)
                    .expect("valid histogram bounds"),
                statuses: Default::default(),
                failures: 0,
            };
            loop {
                let due = match &ticks {
                    Some(rx) => match rx.lock().await.recv().await {
                        Some(due) => due,
                        None => break,
                    },
                    None => Instant::now(),
                };
                if due >= end {
                    break;
                }
                let call = pick(&fixture, plan.scenario, &plan);
                let result = conn.call(&call).await;
                let finished = Instant::now();
                progress.done.fetch_add(1, Ordering::Relaxed);
                let ok = matches!(&result, Ok(a) if (200..300).contains(&a.status));
                if !ok {
                    progress.errors.fetch_add(1, Ordering::Relaxed);
                }
                if due >= measure_from {
                    let micros = finished.saturating_duration_since(due).as_micros() as u64;
                    let _ = tally.latency.record(micros.max(1));
                    match &result {
                        Ok(a) => *tally.statuses.entry(a.status).or_default() += 1,
                        Err(_) => tally.failures += 1,
                    }
                }
                if result.is_err() {
                    // The connection is gone; stop rather than spin.
                    break;
                }
            }
            tally
        }));
    }
    let mut tallies = Vec::new();
    for w in workers {
        if let Ok(t) = w.await {
            tallies.push(t);
        }
    }
    tallies
}
