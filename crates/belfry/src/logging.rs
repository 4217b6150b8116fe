//! Log output on stdout: human lines (coloured only when stdout is a terminal, so a pipe or a
//! journal gets no escape codes) or, with `--log-format json`, one JSON object per line — the
//! start-up banner included, so a log shipper never meets a line it cannot parse.

use std::io::IsTerminal;

use serde_json::{json, Map, Value};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

/// Installs the process's subscriber: `RUST_LOG`, else `info`.
pub fn init(format: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    if format == "json" {
        tracing::subscriber::set_global_default(json_subscriber(filter, std::io::stdout))
            .unwrap_or_else(|e| eprintln!("logging already set up: {e}"));
    } else {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(std::io::stdout().is_terminal())
            .init();
    }
}

/// The JSON subscriber `--log-format json` uses, writing to `writer`: the event's fields at
/// the top level, and the spans it happened in (a request's `request_id` and `operation`).
pub fn json_subscriber<W>(filter: EnvFilter, writer: W) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(false)
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .finish()
}

/// The start-up lines for the operator (credentials to export, where the CA is), printed on
/// stdout whatever `RUST_LOG` says: as they always read, or as JSON objects.
pub struct Banner {
    json: bool,
}

impl Banner {
    /// A banner in `format` (`human` or `json`).
    pub fn new(format: &str) -> Self {
        Banner {
            json: format == "json",
        }
    }

    /// A sentence.
    pub fn say(&self, message: &str) {
        self.emit(message, None);
    }

    /// `export NAME=value` (in JSON: `"export": "NAME=value"`, with `about` as the message).
    pub fn export(&self, about: &str, name: &str, value: &str) {
        self.emit(about, Some(format!("{name}={value}")));
    }

    fn emit(&self, message: &str, export: Option<String>) {
        if !self.json {
            match export {
                Some(e) => println!("export {e}"),
                None => println!("{message}"),
            }
            return;
        }
        println!("{}", json_line(message, export));
    }
}

/// One banner line as JSON, shaped like the subscriber's events.
fn json_line(message: &str, export: Option<String>) -> Value {
    let timestamp = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let mut line = Map::new();
    line.insert("timestamp".into(), json!(timestamp));
    line.insert("level".into(), json!("INFO"));
    line.insert("message".into(), json!(message));
    if let Some(e) = export {
        line.insert("export".into(), json!(e));
    }
    line.insert("target".into(), json!("belfry"));
    Value::Object(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_json_export_line_carries_the_assignment() {
        let v = json_line("credentials", Some("AWS_REGION=us-east-1".into()));
        assert_eq!(v["export"], "AWS_REGION=us-east-1");
        assert_eq!(v["level"], "INFO");
        assert_eq!(v["message"], "credentials");
        assert!(v["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')));
    }
}
