//! GetMessagingSessionEndpoint: where amazon-chime-sdk-js opens its websocket.

use belfry_core::validate;
use serde_json::json;

use super::Reply;
use crate::error::ApiError;
use crate::request::ApiRequest;

/// `{"Endpoint":{"Url":"host[:port]"}}`. The client prefixes `wss://` and appends `/connect`
/// and signs `host:<Url>`, so the value is a bare host: no scheme, no path, no `:443` (a
/// browser leaves the default port out of Host and the signature would not match), and never
/// an unspecified address.
pub(super) fn endpoint(public: Option<&str>, req: &ApiRequest) -> Result<Reply, ApiError> {
    if let Some(nt) = req.query("network-type") {
        if !matches!(nt, "IPV4_ONLY" | "DUAL_STACK") {
            return Err(ApiError::Core(validate::violation(
                "NetworkType",
                "must satisfy enum value set: [IPV4_ONLY, DUAL_STACK]",
            )));
        }
    }
    let url = match public {
        Some(p) => p.to_string(),
        None => {
            let host = req
                .headers
                .get(http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("");
            bare_host(host)
        }
    };
    Reply::json(&json!({ "Endpoint": { "Url": url } }))
}

/// The Host header as the websocket host: lowercased, without `:443`, with an unspecified
/// address replaced by loopback.
pub(crate) fn bare_host(host: &str) -> String {
    let host = host.trim().to_ascii_lowercase();
    let host = host.strip_suffix(":443").unwrap_or(&host);
    let (name, port) = match host.rsplit_once(':') {
        // `host:port` or `[v6]:port`; a colon inside brackets is part of the address.
        Some((n, p)) if !p.contains(']') && p.bytes().all(|b| b.is_ascii_digit()) => (n, Some(p)),
        _ => (host, None),
    };
    let name = match name {
        "0.0.0.0" => "127.0.0.1",
        "[::]" => "[::1]",
        other => other,
    };
    match port {
        Some(p) => format!("{name}:{p}"),
        None => name.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::bare_host;

    #[test]
    fn hosts_become_websocket_hosts() {
        for (host, want) in [
            ("127.0.0.1:7755", "127.0.0.1:7755"),
            ("LocalHost:8443", "localhost:8443"),
            ("chat.example.com:443", "chat.example.com"),
            ("chat.example.com", "chat.example.com"),
            ("0.0.0.0:7755", "127.0.0.1:7755"),
            ("[::]:7755", "[::1]:7755"),
            ("[::1]:443", "[::1]"),
        ] {
            assert_eq!(bare_host(host), want, "{host}");
        }
    }
}
