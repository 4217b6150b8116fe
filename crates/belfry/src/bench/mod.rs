//! `belfry bench`: the project's load generator. It signs requests with SigV4 like a real
//! client, can target any endpoint, builds its own AppInstance, users and channels, and drives a
//! scenario closed-loop (max throughput) or open-loop at a fixed rate, printing throughput and
//! latency percentiles from an HDR histogram.
// Not a request path: a failed invariant here should stop the tool loudly.
#![allow(clippy::expect_used)]

mod abuse;
pub(crate) mod client;
mod fanout;
mod load;
mod pairs;
mod sessions;
mod setup;
pub mod slow;
mod ws;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use belfry_sigv4::{SecretKey, Signer};
use clap::{Args, ValueEnum};
use hdrhistogram::Histogram;
use serde_json::json;

use client::Connection;
use load::{Plan, Progress, Scenario};

/// Scenario names on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ScenarioArg {
    /// SendChannelMessage (PERSISTENT, durable).
    Send,
    /// ListChannelMessages, one page.
    List,
    /// GetChannelMessage.
    Get,
    /// 70% send, 20% list, 10% get.
    Mix,
    /// `--sessions` idle websocket sessions: connect rate and server memory per session.
    SessionsIdle,
    /// One channel with `--members` connected members, messages at `--rate`: deliveries/s and
    /// send-to-receive latency.
    Fanout,
    /// `--channels` two-member channels, both members connected, sends as fast as
    /// `--connections` go: throughput with every send delivered to two sessions.
    Pairs,
    /// `--slow` slow clients (silent, trickled heads, TLS handshakes and bodies, idle
    /// sessions) held open while `--connections` normal clients send: their latency and
    /// errors, and the server's memory and descriptors (with `--server-pid`).
    Abuse,
}

/// `belfry bench` options.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Server to load (http only).
    #[arg(
        long,
        env = "AWS_ENDPOINT_URL",
        default_value = "http://127.0.0.1:7755"
    )]
    pub endpoint: String,
    /// Access key id (an admin key: the bench creates its own AppInstance).
    #[arg(long, env = "AWS_ACCESS_KEY_ID")]
    pub access_key_id: String,
    /// Secret access key.
    #[arg(long, env = "AWS_SECRET_ACCESS_KEY", hide_env_values = true)]
    pub secret_access_key: String,
    /// Region to sign for.
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1")]
    pub region: String,
    /// What to do.
    #[arg(long, value_enum, default_value = "send")]
    pub scenario: ScenarioArg,
    /// Concurrent keep-alive connections.
    #[arg(long, default_value_t = 64)]
    pub connections: usize,
    /// Measured seconds.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Unmeasured seconds first.
    #[arg(long, default_value_t = 2.0)]
    pub warmup: f64,
    /// Fixed request rate per second (open loop). Without it: as fast as possible.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Channels to spread the load over.
    #[arg(long, default_value_t = 16)]
    pub channels: usize,
    /// Users (senders), each a member of every channel.
    #[arg(long, default_value_t = 64)]
    pub users: usize,
    /// Messages sent into each channel before the run (for list and get).
    #[arg(long, default_value_t = 0)]
    pub preload: usize,
    /// Bytes of content per message.
    #[arg(long, default_value_t = 100)]
    pub message_bytes: usize,
    /// ListChannelMessages page size.
    #[arg(long, default_value_t = 50)]
    pub page_size: u32,
    /// Print the result as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// sessions-idle: sessions to connect (one user each).
    #[arg(long, default_value_t = 1000)]
    pub sessions: usize,
    /// fanout: members of the channel, each connected as a session.
    #[arg(long, default_value_t = 1000)]
    pub members: usize,
    /// fanout: connections (and members) sending; the --rate is shared among them.
    #[arg(long, default_value_t = 4)]
    pub senders: usize,
    /// Session scenarios: the CA to trust for wss (the server's <data-dir>/tls/ca.pem)
    /// [default: $NODE_EXTRA_CA_CERTS].
    #[arg(long)]
    pub ca: Option<std::path::PathBuf>,
    /// Session scenarios: the server's process id, to report its memory (VmRSS).
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Session scenarios: sessions connecting at once at most.
    #[arg(long, default_value_t = 256)]
    pub connect_concurrency: usize,
    /// Session scenarios: seconds to wait after the run for frames still on their way.
    #[arg(long, default_value_t = 10.0)]
    pub drain: f64,
    /// abuse: slow clients to hold open, a fifth of each kind.
    #[arg(long, default_value_t = 10_000)]
    pub slow: usize,
    /// pairs: connect no sessions (the baseline to compare with).
    #[arg(long)]
    pub no_sessions: bool,
    /// fanout: send through this REST endpoint (http://host:port) instead of `--endpoint`,
    /// while sessions connect where `--endpoint` says: two nodes of a cluster, one writing and
    /// one delivering.
    #[arg(long)]
    pub send_endpoint: Option<String>,
}

/// Runs the bench.
pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    let scenario = match args.scenario {
        ScenarioArg::SessionsIdle => return sessions::idle(&args).await,
        ScenarioArg::Fanout => return fanout::run(&args).await,
        ScenarioArg::Pairs => return pairs::run(&args).await,
        ScenarioArg::Abuse => return abuse::run(&args).await,
        ScenarioArg::Send => Scenario::Send,
        ScenarioArg::List => Scenario::List,
        ScenarioArg::Get => Scenario::Get,
        ScenarioArg::Mix => Scenario::Mix,
    };
    let Some(host) = args.endpoint.strip_prefix("http://") else {
        bail!(
            "only http:// endpoints are supported, not {}",
            args.endpoint
        );
    };
    let host = host.trim_end_matches('/').to_string();
    if args.connections == 0 {
        bail!("--connections must be at least 1");
    }
    let signer = Signer {
        access_key_id: args.access_key_id.clone(),
        secret: SecretKey::new(args.secret_access_key.clone()),
        region: args.region.clone(),
        service: "chime".into(),
    };
    let mut conns = Vec::new();
    for _ in 0..args.connections {
        conns.push(Connection::open(&host, signer.clone()).await?);
    }
    eprintln!(
        "setting up: {} users, {} channels, {} preloaded messages per channel",
        args.users, args.channels, args.preload
    );
    let content = "x".repeat(args.message_bytes.max(1));
    let (fixture, conns) = setup::build(conns, args.users, args.channels, args.preload, &content)
        .await
        .context("setting up the bench's AppInstance")?;
    let plan = Plan {
        scenario,
        duration: Duration::from_secs_f64(args.duration),
        warmup: Duration::from_secs_f64(args.warmup),
        rate: args.rate,
        content,
        page_size: args.page_size,
    };
    let progress = Arc::new(Progress::default());
    let ticker = {
        let progress = progress.clone();
        let total = plan.warmup + plan.duration;
        tokio::spawn(async move {
            let start = Instant::now();
            let mut last = 0;
            while start.elapsed() < total {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let done = progress.done.load(Ordering::Relaxed);
                eprintln!(
                    "[{:>5.1}s] {:>8} req/s  errors so far: {}",
                    start.elapsed().as_secs_f64(),
                    done - last,
                    progress.errors.load(Ordering::Relaxed)
                );
                last = done;
            }
        })
    };
    let tallies = load::run(conns, Arc::new(fixture), plan.clone(), progress).await;
    ticker.abort();
    report(&args, &plan, tallies)
}

fn report(args: &BenchArgs, plan: &Plan, tallies: Vec<load::Tally>) -> anyhow::Result<()> {
    let mut latency =
        Histogram::<u64>::new_with_bounds(1, 600_000_000, 3).expect("valid histogram bounds");
    let mut statuses = std::collections::BTreeMap::<u16, u64>::new();
    let mut failures = 0;
    for t in tallies {
        latency.add(&t.latency).context("merging histograms")?;
        for (s, n) in t.statuses {
            *statuses.entry(s).or_default() += n;
        }
        failures += t.failures;
    }
    let total = latency.len();
    let ok: u64 = statuses
        .iter()
        .filter(|(s, _)| (200..300).contains(*s))
        .map(|(_, n)| n)
        .sum();
    let secs = plan.duration.as_secs_f64();
    let ms = |q: f64| latency.value_at_quantile(q) as f64 / 1000.0;
    let result = json!({
        "scenario": format!("{:?}", args.scenario).to_lowercase(),
        "connections": args.connections,
        "target_rate": args.rate,
        "duration_s": secs,
        "requests": total,
        "ok": ok,
        "errors": total - ok,
        "transport_failures": failures,
        "statuses": statuses.iter().map(|(k, v)| (k.to_string(), *v)).collect::<std::collections::BTreeMap<_, _>>(),
        "throughput_per_s": ok as f64 / secs,
        "latency_ms": {
            "p50": ms(0.5), "p90": ms(0.9), "p99": ms(0.99), "p99.9": ms(0.999),
            "max": latency.max() as f64 / 1000.0,
        },
    });
    if args.json {
        println!("{result}");
    } else {
        println!(
            "{} x{} {}: {} ok / {} requests in {:.1}s = {:.0}/s; latency ms p50 {:.2} p90 {:.2} p99 {:.2} p99.9 {:.2} max {:.2}; statuses {:?}",
            result["scenario"].as_str().unwrap_or_default(),
            args.connections,
            args.rate.map(|r| format!("at {r}/s")).unwrap_or_else(|| "max".into()),
            ok,
            total,
            secs,
            ok as f64 / secs,
            ms(0.5),
            ms(0.9),
            ms(0.99),
            ms(0.999),
            latency.max() as f64 / 1000.0,
            statuses
        );
    }
    Ok(())
}
