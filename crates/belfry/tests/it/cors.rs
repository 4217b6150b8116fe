//! CORS as a browser meets it: the preflight aws-sdk-js-v3 triggers, the headers a page needs
//! on every answer (errors first: the SDK names the exception from `x-amzn-ErrorType`), and
//! nothing for an origin the operator did not allow.

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;

use crate::harness::{TestServer, REGION};
use crate::raw::{self, label, Raw, Signing};

const PAGE: &str = "http://localhost:5173";
const CHANNEL: &str = "arn:aws:chime:us-east-1:000000000000:app-instance/a/channel/c";

/// What @aws-sdk/client-chime-sdk-messaging 3.x puts on a SendChannelMessage in a browser, as
/// the browser lists it in the preflight (lowercase, sorted): the signature's headers,
/// `x-amz-user-agent` (a page may not set `user-agent`), the retry middleware's two `amz-sdk-*`
/// headers and the bearer.
const SDK_HEADERS: &str = "amz-sdk-invocation-id,amz-sdk-request,authorization,content-type,\
                           x-amz-chime-bearer,x-amz-content-sha256,x-amz-date,x-amz-user-agent";

async fn preflight(s: &TestServer, origin: &str, method: &str, headers: &str) -> Raw {
    let path = format!("/channels/{}/messages", label(CHANNEL));
    raw::send(
        s,
        "OPTIONS",
        &path,
        &[
            ("origin", origin),
            ("access-control-request-method", method),
            ("access-control-request-headers", headers),
        ],
        b"",
        Signing::None,
    )
    .await
}

fn list(r: &Raw, name: &str) -> Vec<String> {
    r.headers
        .get_all(name)
        .iter()
        .flat_map(|v| v.to_str().unwrap().split(','))
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect()
}

fn cors_headers(r: &Raw) -> Vec<String> {
    r.headers
        .keys()
        .map(|k| k.as_str().to_string())
        .filter(|k| k.starts_with("access-control-"))
        .collect()
}

/// The origin echoed, the error headers exposed, and `Vary: Origin`.
fn assert_readable_by(r: &Raw, origin: &str) {
    assert_eq!(r.header("access-control-allow-origin"), Some(origin));
    let exposed = list(r, "access-control-expose-headers");
    for h in ["x-amzn-errortype", "x-amzn-requestid", "date"] {
        assert!(exposed.contains(&h.to_string()), "{h} not in {exposed:?}");
    }
    assert!(list(r, "vary").contains(&"origin".to_string()));
}

#[tokio::test]
async fn the_sdk_preflight_for_send_channel_message_is_allowed() {
    let s = TestServer::configured(|_| {}).await;
    let r = preflight(&s, PAGE, "POST", SDK_HEADERS).await;
    assert!(matches!(r.status, 200 | 204), "{}", r.status);
    assert_eq!(r.header("access-control-allow-origin"), Some(PAGE));
    let methods = list(&r, "access-control-allow-methods");
    for m in ["get", "post", "put", "delete"] {
        assert!(methods.contains(&m.to_string()), "{m} not in {methods:?}");
    }
    let allowed = list(&r, "access-control-allow-headers");
    for h in SDK_HEADERS.split(',') {
        assert!(allowed.contains(&h.to_string()), "{h} not in {allowed:?}");
    }
    let max_age: u64 = r.header("access-control-max-age").unwrap().parse().unwrap();
    assert!(max_age >= 600, "{max_age}");
    assert!(list(&r, "vary").contains(&"origin".to_string()));
    // Session credentials and a newer SDK header pass; a header outside the set is not echoed,
    // so the browser refuses the real request.
    let r = preflight(
        &s,
        PAGE,
        "PUT",
        "x-amz-security-token,amz-sdk-something-new,x-evil",
    )
    .await;
    assert_eq!(
        list(&r, "access-control-allow-headers"),
        ["x-amz-security-token", "amz-sdk-something-new"]
    );
}

/// Signs like a page holding the wrong key would (SigV4 with an id the server does not know).
async fn signed_with_unknown_key(s: &TestServer, origin: &str) -> Raw {
    let url = format!("{}/channels/{}/messages", s.endpoint, label(CHANNEL));
    let host = s.addr.to_string();
    let body = br#"{"Content":"hi","Type":"STANDARD","Persistence":"PERSISTENT","ClientRequestToken":"t"}"#;
    let identity: Identity =
        Credentials::new("AKIDNOSUCHKEY0000001", "nope", None, None, "test").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(REGION)
        .name("chime")
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let signable = SignableRequest::new(
        "POST",
        url.as_str(),
        [
            ("host", host.as_str()),
            ("content-type", "application/json"),
            (
                "x-amz-chime-bearer",
                "arn:aws:chime:us-east-1:000000000000:app-instance/a/user/u",
            ),
        ]
        .into_iter(),
        SignableBody::Bytes(body),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut req = reqwest::Client::new()
        .post(&url)
        .header("origin", origin)
        .header("content-type", "application/json")
        .header(
            "x-amz-chime-bearer",
            "arn:aws:chime:us-east-1:000000000000:app-instance/a/user/u",
        );
    let (signature, _) = instructions.into_parts();
    for h in signature {
        req = req.header(h.name(), h.value());
    }
    let res = req.body(body.to_vec()).send().await.unwrap();
    Raw {
        status: res.status().as_u16(),
        headers: res.headers().clone(),
        body: res.text().await.unwrap(),
    }
}

#[tokio::test]
async fn every_answer_to_an_allowed_origin_is_readable_errors_included() {
    let s = TestServer::configured(|_| {}).await;
    // The SigV4 gate's refusal.
    let r = signed_with_unknown_key(&s, PAGE).await;
    assert_eq!(r.status, 403);
    assert_eq!(
        r.header("x-amzn-errortype"),
        Some("UnrecognizedClientException")
    );
    assert_readable_by(&r, PAGE);
    // A route miss and an oversized body (the harness allows 64 KiB).
    let origin = [("origin", PAGE)];
    let r = raw::send(
        &s,
        "GET",
        "/nothing",
        &[],
        b"",
        Signing::AdminWithUnsigned(&origin),
    )
    .await;
    assert_eq!(r.status, 404);
    assert_readable_by(&r, PAGE);
    let big = vec![b' '; 65 * 1024];
    let r = raw::send(&s, "POST", "/channels", &origin, &big, Signing::None).await;
    assert_eq!(r.status, 413);
    assert_readable_by(&r, PAGE);
    // A success, and /health, share the policy.
    let r = raw::send(
        &s,
        "GET",
        "/app-instances",
        &[],
        b"",
        Signing::AdminWithUnsigned(&origin),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_readable_by(&r, PAGE);
    let r = raw::send(&s, "GET", "/health", &origin, b"", Signing::None).await;
    assert_readable_by(&r, PAGE);
}

#[tokio::test]
async fn a_disallowed_origin_gets_no_cors_headers_and_is_served_as_usual() {
    let s =
        TestServer::configured(|c| c.cors_origins = vec!["https://chat.example.com".into()]).await;
    let r = preflight(&s, "https://evil.example", "POST", SDK_HEADERS).await;
    assert_eq!(cors_headers(&r), Vec::<String>::new());
    let r = signed_with_unknown_key(&s, "https://evil.example").await;
    assert_eq!(r.status, 403);
    assert_eq!(cors_headers(&r), Vec::<String>::new());
    // Not authentication: the signed request is answered, only without CORS headers.
    let evil = [("origin", "https://evil.example")];
    let r = raw::send(
        &s,
        "GET",
        "/app-instances",
        &[],
        b"",
        Signing::AdminWithUnsigned(&evil),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(cors_headers(&r), Vec::<String>::new());
    // No Origin (a server-side SDK): none either.
    let r = raw::send(&s, "GET", "/app-instances", &[], b"", Signing::Admin).await;
    assert_eq!((r.status, cors_headers(&r)), (200, Vec::new()));
    // The allowed origin, as the browser serializes it.
    let r = preflight(&s, "https://chat.example.com", "POST", SDK_HEADERS).await;
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://chat.example.com")
    );
    let r = signed_with_unknown_key(&s, "https://chat.example.com").await;
    assert_readable_by(&r, "https://chat.example.com");
}
