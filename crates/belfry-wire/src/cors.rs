//! CORS, so that a page calls the API straight from the browser as it does AWS's
//! (aws-sdk-js-v3, amazon-chime-sdk-js). tower-http's `CorsLayer` answers preflights and stamps
//! responses; [`gate`], around it, does the two things `CorsLayer` cannot express: it narrows a
//! preflight's requested headers to the allowed set before `CorsLayer` echoes them (the SDKs'
//! `amz-sdk-*` family is open-ended, and `CorsLayer` only lists fixed names or echoes all), and
//! it removes every `Access-Control-*` header from a response to an origin that is not allowed.
//!
//! CORS is not authentication: a request from a disallowed origin is processed as usual; the
//! browser withholds the answer from the page. Every `OPTIONS` is answered here, unsigned and
//! unthrottled (no operation uses that method).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use http::header::{ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_REQUEST_HEADERS};
use http::{HeaderName, HeaderValue, Method};
use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer};

/// Which origins may call from a browser (the `cors_origins` setting).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum CorsOrigins {
    /// Any origin: a development server's default.
    #[default]
    Any,
    /// Exactly these, as a browser serializes an origin (`scheme://host[:port]`, lowercase).
    List(Vec<String>),
}

impl CorsOrigins {
    /// Reads the `cors_origins` list: `"*"` anywhere in it means any origin, `[]` none.
    pub fn parse(entries: &[String]) -> Result<Self, String> {
        if entries.iter().any(|e| e == "*") {
            return Ok(CorsOrigins::Any);
        }
        entries
            .iter()
            .map(|e| {
                normalize(e).ok_or_else(|| {
                    format!(
                        "cors_origins entry {e:?} is not an origin: give scheme://host[:port] \
                         without a path, or \"*\""
                    )
                })
            })
            .collect::<Result<_, _>>()
            .map(CorsOrigins::List)
    }

    /// Whether a request's `Origin` is allowed.
    pub fn allows(&self, origin: &[u8]) -> bool {
        match self {
            CorsOrigins::Any => true,
            CorsOrigins::List(list) => list
                .iter()
                .any(|o| o.as_bytes().eq_ignore_ascii_case(origin)),
        }
    }
}

/// `scheme://host[:port]`, lowercased, one trailing `/` forgiven; `None` if it is not that.
fn normalize(entry: &str) -> Option<String> {
    let entry = entry.strip_suffix('/').unwrap_or(entry);
    let (scheme, authority) = entry.split_once("://")?;
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b));
    let authority_ok = !authority.is_empty()
        && authority.bytes().all(|b| b.is_ascii_graphic())
        && !authority.contains(['/', '?', '#', '@']);
    (scheme_ok && authority_ok).then(|| entry.to_ascii_lowercase())
}

/// Request headers a page may send: what aws-sdk-js-v3 and amazon-chime-sdk-js set (the
/// signature's, the bearer, the SDK's user agent), plus every `amz-sdk-*` ([`SDK_PREFIX`]).
const ALLOWED_HEADERS: &[&str] = &[
    "authorization",
    "content-type",
    "x-amz-date",
    "x-amz-chime-bearer",
    "x-amz-user-agent",
    "x-amz-content-sha256",
    "x-amz-security-token",
];

/// The SDKs' own request headers (`amz-sdk-invocation-id`, `amz-sdk-request`, and newer ones).
const SDK_PREFIX: &str = "amz-sdk-";

/// Response headers a page may read: the SDKs take the exception's name from
/// `x-amzn-ErrorType`, and log the request id.
const EXPOSED_HEADERS: [HeaderName; 3] = [
    HeaderName::from_static("x-amzn-errortype"),
    HeaderName::from_static("x-amzn-requestid"),
    http::header::DATE,
];

/// How long a browser may cache a preflight (Chromium caps it at two hours).
const MAX_AGE: Duration = Duration::from_secs(7200);

fn header_allowed(name: &str) -> bool {
    let name = name.trim().to_ascii_lowercase();
    ALLOWED_HEADERS.contains(&name.as_str()) || name.starts_with(SDK_PREFIX)
}

/// The allowed entries of an `Access-Control-Request-Headers` value, comma-separated as sent;
/// `None` when none is allowed.
fn allowed_subset(requested: &HeaderValue) -> Option<HeaderValue> {
    let text = requested.to_str().ok()?;
    let kept: Vec<&str> = text
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty() && header_allowed(n))
        .collect();
    if kept.is_empty() {
        return None;
    }
    HeaderValue::from_str(&kept.join(",")).ok()
}

/// The CORS policy for `origins`; wrap it in [`gate`].
pub fn layer(origins: CorsOrigins) -> CorsLayer {
    let origins = Arc::new(origins);
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin, _| {
            origins.allows(origin.as_bytes())
        }))
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE])
        // Echoes what `gate` left of the request's list: only allowed names.
        .allow_headers(AllowHeaders::mirror_request())
        .expose_headers(EXPOSED_HEADERS)
        .max_age(MAX_AGE)
}

/// Runs outside [`layer`]: narrows a preflight's requested headers to the allowed ones, and
/// strips the `Access-Control-*` headers from a response that allows no origin (a disallowed
/// origin, or no `Origin` at all: a server-side SDK). `Vary` stays: caches need it either way.
pub async fn gate(mut req: Request, next: Next) -> Response {
    if req.method() == Method::OPTIONS {
        let headers = req.headers_mut();
        if let Some(requested) = headers.get(ACCESS_CONTROL_REQUEST_HEADERS) {
            match allowed_subset(requested) {
                Some(kept) => headers.insert(ACCESS_CONTROL_REQUEST_HEADERS, kept),
                None => headers.remove(ACCESS_CONTROL_REQUEST_HEADERS),
            };
        }
    }
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    if !headers.contains_key(ACCESS_CONTROL_ALLOW_ORIGIN) {
        let cors: Vec<HeaderName> = headers
            .keys()
            .filter(|k| k.as_str().starts_with("access-control-"))
            .cloned()
            .collect();
        for name in cors {
            headers.remove(name);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(entries: &[&str]) -> Result<CorsOrigins, String> {
        CorsOrigins::parse(&entries.iter().map(|e| e.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn origins_parse_and_match_as_browsers_send_them() {
        assert_eq!(list(&["*"]), Ok(CorsOrigins::Any));
        assert_eq!(
            list(&["https://a.example", "*"]),
            Ok(CorsOrigins::Any),
            "a star anywhere allows any"
        );
        let o = list(&["https://Chat.Example.com/", "http://localhost:5173"]).unwrap();
        assert!(o.allows(b"https://chat.example.com"));
        assert!(o.allows(b"http://localhost:5173"));
        assert!(!o.allows(b"http://localhost:5174"));
        assert!(!o.allows(b"http://chat.example.com"));
        assert!(!o.allows(b"null"));
        assert!(!list(&[]).unwrap().allows(b"https://chat.example.com"));
        for bad in [
            "chat.example.com",
            "https://",
            "https://a.example/app",
            "https://a.example?x",
            "https://u@a.example",
            "1x://a",
            "https://a b",
        ] {
            assert!(list(&[bad]).is_err(), "{bad}");
        }
    }

    #[test]
    fn requested_headers_keep_only_the_allowed_ones() {
        let sdk = "amz-sdk-invocation-id,amz-sdk-request,authorization,content-type,\
                   x-amz-chime-bearer,x-amz-content-sha256,x-amz-date,x-amz-user-agent";
        let v = allowed_subset(&HeaderValue::from_static(sdk)).unwrap();
        assert_eq!(v, sdk);
        let v = allowed_subset(&HeaderValue::from_static(
            "X-Amz-Date, x-evil , amz-sdk-something-new",
        ))
        .unwrap();
        assert_eq!(v, "X-Amz-Date,amz-sdk-something-new");
        assert!(allowed_subset(&HeaderValue::from_static("x-evil, cookie")).is_none());
    }
}
