//! The restJson1 surface as raw HTTP: what SDKs cannot send, and what every response carries.

use crate::harness::*;
use crate::raw::{label, send, Signing};

fn assert_error(r: &crate::raw::Raw, status: u16, error_type: &str, needle: &str) {
    assert_eq!(r.status, status, "{}", r.body);
    assert_eq!(r.header("x-amzn-errortype"), Some(error_type), "{}", r.body);
    let j = r.json();
    assert!(j["Code"].is_string(), "{}", r.body);
    let msg = j["Message"].as_str().unwrap();
    assert!(msg.contains(needle), "{msg:?} should mention {needle:?}");
    assert!(r.header("x-amzn-requestid").is_some());
    assert!(r.header("date").is_some());
}

#[tokio::test]
async fn health_is_unsigned() {
    let s = TestServer::start().await;
    let r = send(&s, "GET", "/health", &[], b"", Signing::None).await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn malformed_bodies_are_bad_requests() {
    let s = TestServer::start().await;
    let ct = [("content-type", "application/json")];
    let cases: &[(&[u8], &str)] = &[
        (b"{not json", "not valid JSON"),
        (b"[1,2]", "JSON object"),
        (
            br#"{"Name": 5, "ClientRequestToken": "abcd"}"#,
            "Value at 'Name' failed to satisfy constraint: Member must be a string",
        ),
        (
            br#"{"Name": "n", "Name": "m", "ClientRequestToken": "abcd"}"#,
            "appears more than once",
        ),
        (
            br#"{"Name": "n", "ClientRequestToken": "abcd", "Tags": [{"Key": 1}]}"#,
            "Tags",
        ),
        (b"{}", "Name"),
    ];
    for (body, needle) in cases {
        let r = send(&s, "POST", "/app-instances", &ct, body, Signing::Admin).await;
        assert_error(&r, 400, "BadRequestException", needle);
    }
    // Unknown members are ignored and null is absent.
    let body = br#"{"Name": "n", "ClientRequestToken": "abcd", "Metadata": null, "Extra": true}"#;
    let r = send(&s, "POST", "/app-instances", &ct, body, Signing::Admin).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let j = r.json();
    assert!(j["AppInstanceArn"].is_string());
    // Omitted optional members are not rendered as null.
    let arn = j["AppInstanceArn"].as_str().unwrap();
    let r = send(
        &s,
        "GET",
        &format!("/app-instances/{}", label(arn)),
        &[],
        b"",
        Signing::Admin,
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(!r.body.contains("null"), "{}", r.body);
    assert!(r.json()["AppInstance"].get("Metadata").is_none());
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert!(r.header("x-amzn-requestid").is_some() && r.header("date").is_some());
    // A 204 has no body.
    let r = send(
        &s,
        "DELETE",
        &format!("/app-instances/{}", label(arn)),
        &[],
        b"",
        Signing::Admin,
    )
    .await;
    assert_eq!((r.status, r.body.as_str()), (204, ""));
    assert!(r.header("x-amzn-requestid").is_some());
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let s = TestServer::start().await;
    let body = format!(
        r#"{{"Name":"n","ClientRequestToken":"abcd","Metadata":"{}"}}"#,
        "x".repeat(70 * 1024)
    );
    let r = send(
        &s,
        "POST",
        "/app-instances",
        &[("content-type", "application/json")],
        body.as_bytes(),
        Signing::Admin,
    )
    .await;
    assert_error(&r, 413, "RequestEntityTooLargeException", "65536");
}

#[tokio::test]
async fn unknown_routes_and_operations() {
    let s = TestServer::start().await;
    let cases = [
        ("GET", "/nowhere", "/nowhere"),
        ("PATCH", "/channels", "PATCH"),
        (
            "GET",
            "/channels?scope=no-such-scope",
            "scope=no-such-scope",
        ),
        ("POST", "/tags?operation=frobnicate", "operation=frobnicate"),
        ("GET", "/app-instances/a/b/c/d", "/app-instances"),
    ];
    for (method, path, needle) in cases {
        let r = send(&s, method, path, &[], b"", Signing::Admin).await;
        assert_error(&r, 404, "UnknownOperationException", needle);
    }
}

#[tokio::test]
async fn missing_and_unsigned_headers() {
    let s = TestServer::start().await;
    let w = World::new(&s, &["ann"]).await;
    // No Authorization at all.
    let r = send(&s, "GET", "/app-instances", &[], b"", Signing::None).await;
    assert_error(&r, 403, "MissingAuthenticationTokenException", "");
    // A malformed Authorization header.
    let r = send(
        &s,
        "GET",
        "/app-instances",
        &[
            ("authorization", "AWS4-HMAC-SHA256 Credential=nonsense"),
            ("x-amz-date", "20260101T000000Z"),
        ],
        b"",
        Signing::None,
    )
    .await;
    assert_error(&r, 403, "IncompleteSignatureException", "");
    // No bearer on a channel operation.
    let path = format!("/channels?app-instance-arn={}", label(&w.app));
    let r = send(&s, "GET", &path, &[], b"", Signing::Admin).await;
    assert_error(&r, 401, "UnauthorizedClientException", "x-amz-chime-bearer");
    // A bearer header added after signing must be refused: the signature must cover it.
    let extra = [("x-amz-chime-bearer", w.user(0))];
    let r = send(
        &s,
        "GET",
        &path,
        &[],
        b"",
        Signing::AdminWithUnsigned(&extra),
    )
    .await;
    assert_error(
        &r,
        403,
        "IncompleteSignatureException",
        "x-amz-chime-bearer",
    );
    // Signed bearer works; `:` may also travel unencoded in the path.
    let r = send(
        &s,
        "GET",
        &path,
        &[("x-amz-chime-bearer", w.user(0))],
        b"",
        Signing::Admin,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = send(
        &s,
        "GET",
        &format!("/app-instances/{}", w.app.replace('/', "%2F")),
        &[],
        b"",
        Signing::Admin,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn bad_query_values() {
    let s = TestServer::start().await;
    let r = send(
        &s,
        "GET",
        "/app-instances?max-results=ten",
        &[],
        b"",
        Signing::Admin,
    )
    .await;
    assert_error(&r, 400, "BadRequestException", "MaxResults");
    let r = send(&s, "GET", "/app-instance-users", &[], b"", Signing::Admin).await;
    assert_error(&r, 400, "BadRequestException", "AppInstanceArn");
    let r = send(&s, "GET", "/tags", &[], b"", Signing::Admin).await;
    assert_error(&r, 400, "BadRequestException", "ResourceARN");
}
