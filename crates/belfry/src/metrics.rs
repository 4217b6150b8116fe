//! The process's Prometheus recorder (`metrics-exporter-prometheus` behind the `metrics`
//! facade, installed once per process), and the counters the binary owns — the accept loop's,
//! the bus's — copied into it at scrape time.
//!
//! The recorder is process-wide: a process that runs several servers (the in-process tests)
//! shares one set of series between them. A deployment runs one server per process.

use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use belfry_realtime::bus::Bus;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::listen::ListenStats;

/// Bucket bounds in seconds for every histogram: sub-millisecond reads to ten-second stalls.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// How often histogram samples are folded into their buckets between scrapes, so they do not
/// pile up in memory when nobody scrapes.
const UPKEEP: Duration = Duration::from_secs(5);

static RECORDER: OnceLock<Result<PrometheusHandle, String>> = OnceLock::new();

/// The process's recorder, installed on first use.
fn recorder() -> anyhow::Result<PrometheusHandle> {
    RECORDER
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets(&BUCKETS)
                .and_then(|b| b.install_recorder())
                .map_err(|e| e.to_string())?;
            describe();
            let upkeep = handle.clone();
            std::thread::Builder::new()
                .name("belfry-metrics".into())
                .spawn(move || loop {
                    std::thread::sleep(UPKEEP);
                    upkeep.run_upkeep();
                })
                .map_err(|e| e.to_string())?;
            Ok(handle)
        })
        .clone()
        .map_err(|e| anyhow::anyhow!("installing the metrics recorder: {e}"))
}

/// HELP lines for the series whose names alone do not say enough.
fn describe() {
    use belfry_wire::metrics as wire;
    metrics::describe_counter!(
        wire::REQUESTS,
        "Requests answered, by operation and status."
    );
    metrics::describe_histogram!(
        wire::REQUEST_DURATION,
        metrics::Unit::Seconds,
        "From the dispatcher receiving a request to its answer, by operation."
    );
    metrics::describe_counter!(
        wire::SESSIONS_CLOSED,
        "Websocket sessions ended, by reason (a close the server sent, or the peer's doing)."
    );
    metrics::describe_counter!(
        wire::FRAMES_WRITTEN,
        "Event frames written and flushed to websockets."
    );
    metrics::describe_histogram!(
        "belfry_store_write_seconds",
        metrics::Unit::Seconds,
        "store=sqlite: from a write's submission to the writer thread until its group is \
         committed and the WAL fdatasynced (queueing included); store=postgres: a batch of \
         sends' transaction, BEGIN to the durable COMMIT."
    );
    metrics::describe_gauge!(
        "belfry_sqlite_writer_queue_jobs",
        "Writes waiting for the SQLite writer thread, as of its last look at its queue."
    );
}

/// This server's view of the recorder: renders it after copying in what it watches.
pub struct Exporter {
    handle: PrometheusHandle,
    watched: Mutex<Vec<Box<dyn Fn() + Send + Sync>>>,
}

impl Exporter {
    /// The exporter of the process's recorder (installed now if it was not).
    pub fn new() -> anyhow::Result<Self> {
        Ok(Exporter {
            handle: recorder()?,
            watched: Mutex::new(Vec::new()),
        })
    }
}

impl belfry_wire::metrics::Exporter for Exporter {
    fn watch(&self, refresh: Box<dyn Fn() + Send + Sync>) {
        if let Ok(mut w) = self.watched.lock() {
            w.push(refresh);
        }
    }

    fn render(&self) -> String {
        if let Ok(w) = self.watched.lock() {
            for refresh in w.iter() {
                refresh();
            }
        }
        self.handle.render()
    }
}

/// Copies the accept loop's counters on each scrape.
pub(crate) fn watch_listener(exporter: &dyn belfry_wire::metrics::Exporter, s: Arc<ListenStats>) {
    use std::sync::atomic::Ordering::Relaxed;
    exporter.watch(Box::new(move || {
        metrics::gauge!("belfry_connections_open").set(s.open.load(Relaxed) as f64);
        for (name, value) in [
            ("belfry_connections_accepted_total", &s.accepted),
            ("belfry_connections_limit_reached_total", &s.limit_reached),
            (
                "belfry_connections_handshake_failed_total",
                &s.handshake_failed,
            ),
            ("belfry_connections_evicted_total", &s.evicted),
        ] {
            metrics::counter!(name).absolute(value.load(Relaxed));
        }
    }));
}

/// Copies the bus's counters on each scrape, while the bus lives.
pub(crate) fn watch_bus(exporter: &dyn belfry_wire::metrics::Exporter, bus: Weak<Bus>) {
    exporter.watch(Box::new(move || {
        let Some(bus) = bus.upgrade() else { return };
        let s = bus.stats();
        metrics::gauge!("belfry_bus_connected").set(if bus.ready() { 1.0 } else { 0.0 });
        for (name, value) in [
            ("belfry_bus_relayed_total", s.relayed),
            ("belfry_bus_relay_failures_total", s.relay_failures),
            ("belfry_bus_oversized_total", s.oversized),
            ("belfry_bus_direct_sent_total", s.direct_sent),
            ("belfry_bus_direct_dropped_total", s.direct_dropped),
            ("belfry_bus_received_total", s.received),
            ("belfry_bus_undecodable_total", s.undecodable),
            ("belfry_bus_disconnects_total", s.disconnects),
            ("belfry_bus_slow_consumers_total", s.slow_consumers),
        ] {
            metrics::counter!(name).absolute(value);
        }
    }));
}
