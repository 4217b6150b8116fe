//! Error messages never echo what was sent: a 500 KB value in any member comes back as a 400
//! naming the member and the rule in at most 1 KB, and a signed header whose value is not
//! visible ASCII is refused with a message that says so.

use std::time::SystemTime;

use belfry_sigv4::{SecretKey, Signer};

use crate::harness::*;
use crate::raw::{label, send, Raw, Signing};

/// What the value is made of; no message may contain a run of it.
const FILL: char = 'Q';
const MAX_MESSAGE_BYTES: usize = 1024;

fn big() -> String {
    FILL.to_string().repeat(500_000)
}

/// A refusal with this status and type whose Message is short, names `needle` and does not
/// echo the large value.
fn assert_refusal(r: &Raw, status: u16, error_type: &str, needle: &str) -> String {
    assert_eq!(r.status, status, "{}", &r.body[..r.body.len().min(300)]);
    assert_eq!(r.header("x-amzn-errortype"), Some(error_type));
    let message = r.json()["Message"].as_str().unwrap().to_string();
    assert!(
        message.len() <= MAX_MESSAGE_BYTES,
        "{} bytes",
        message.len()
    );
    assert!(!message.contains(&FILL.to_string().repeat(16)), "{message}");
    assert!(
        message.contains(needle),
        "{message:?} should mention {needle:?}"
    );
    message
}

async fn server() -> TestServer {
    // Room for the 500 KB values in a body.
    TestServer::configured(|c| c.max_body_bytes = 1024 * 1024).await
}

#[tokio::test]
async fn large_values_are_named_not_echoed() {
    let s = server().await;
    let w = World::new(&s, &["ann"]).await;
    let channel = format!("{}/channel/c1", w.app);
    let members = format!(
        "/channels/{}/memberships?operation=batch-create",
        label(&channel)
    );
    let messages = format!("/channels/{}/messages", label(&channel));
    let b = big();
    let ok = r#""Name":"n","ClientRequestToken":"token-1""#;
    let send_ok = r#""Content":"hi","Type":"STANDARD","Persistence":"PERSISTENT","ClientRequestToken":"token-1""#;
    let user = format!(
        r#""AppInstanceArn":"{}","AppInstanceUserId":"u1",{ok}"#,
        w.app
    );
    let channel_ok = format!(r#""AppInstanceArn":"{}",{ok}"#, w.app);
    let cases: Vec<(&str, String, String, &str)> = vec![
        // The wrong JSON type, caught while decoding.
        (
            "/app-instances",
            format!(r#"{{{ok},"Tags":"{b}"}}"#),
            "'Tags'".into(),
            "a JSON array",
        ),
        (
            "/app-instance-users",
            format!(r#"{{{user},"ExpirationSettings":"{b}"}}"#),
            "'ExpirationSettings'".into(),
            "a JSON object",
        ),
        (
            members.as_str(),
            format!(r#"{{"MemberArns":"{b}"}}"#),
            "'MemberArns'".into(),
            "a JSON array",
        ),
        (
            messages.as_str(),
            format!(r#"{{{send_ok},"Target":"{b}"}}"#),
            "'Target'".into(),
            "a JSON array",
        ),
        (
            messages.as_str(),
            format!(r#"{{{send_ok},"PushNotification":"{b}"}}"#),
            "'PushNotification'".into(),
            "a JSON object",
        ),
        (
            messages.as_str(),
            format!(r#"{{{send_ok},"MessageAttributes":{{"k":"{b}"}}}}"#),
            "'MessageAttributes.k'".into(),
            "a JSON object",
        ),
        // The right type, refused by the model's rules.
        (
            "/app-instances",
            format!(r#"{{"Name":"{b}","ClientRequestToken":"token-1"}}"#),
            "'Name'".into(),
            "length",
        ),
        (
            "/app-instances",
            format!(r#"{{{ok},"Tags":[{{"Key":"{b}","Value":"v"}}]}}"#),
            "Key".into(),
            "length",
        ),
        (
            "/app-instance-users",
            format!(
                r#"{{{user},"ExpirationSettings":{{"ExpirationDays":1,"ExpirationCriterion":"{b}"}}}}"#
            ),
            "ExpirationCriterion".into(),
            "enum value set",
        ),
        (
            "/channels",
            format!(r#"{{{channel_ok},"Mode":"{b}"}}"#),
            "'Mode'".into(),
            "enum value set",
        ),
        (
            "/channels",
            format!(r#"{{{channel_ok},"MemberArns":["{b}"]}}"#),
            "MemberArns".into(),
            "length",
        ),
        (
            members.as_str(),
            format!(r#"{{"MemberArns":["{b}"]}}"#),
            "MemberArns".into(),
            "length",
        ),
        (
            messages.as_str(),
            format!(r#"{{{send_ok},"Target":[{{"MemberArn":"{b}"}}]}}"#),
            "MemberArn".into(),
            "length",
        ),
        (
            messages.as_str(),
            format!(
                r#"{{"Content":"hi","Type":"{b}","Persistence":"PERSISTENT","ClientRequestToken":"token-1"}}"#
            ),
            "'Type'".into(),
            "enum value set",
        ),
        (
            messages.as_str(),
            format!(r#"{{{send_ok},"PushNotification":{{"Title":"t","Body":"b","Type":"{b}"}}}}"#),
            "Type".into(),
            "enum value set",
        ),
        (
            messages.as_str(),
            format!(r#"{{{send_ok},"MessageAttributes":{{"k":{{"StringValues":["{b}"]}}}}}}"#),
            "MessageAttributes".into(),
            "length",
        ),
    ];
    let ct = [("content-type", "application/json")];
    for (path, body, member, rule) in &cases {
        let r = send(&s, "POST", path, &ct, body.as_bytes(), Signing::Admin).await;
        let message = assert_refusal(&r, 400, "BadRequestException", member);
        assert!(message.contains(rule), "{path} {member}: {message}");
    }
}

#[tokio::test]
async fn nested_numbers_and_enums_name_the_rule() {
    let s = server().await;
    let w = World::new(&s, &["ann"]).await;
    let user = format!(
        r#""AppInstanceArn":"{}","AppInstanceUserId":"u1","Name":"n","ClientRequestToken":"token-1""#,
        w.app
    );
    let digits = "7".repeat(400);
    let cases: Vec<(String, &str, &str)> = vec![
        (
            format!(r#"{{{user},"ExpirationSettings":{{"ExpirationDays":1.25}}}}"#),
            "'ExpirationSettings.ExpirationDays' failed to satisfy constraint: Member must be an integer (got a number)",
            "1.25",
        ),
        (
            format!(r#"{{{user},"ExpirationSettings":{{"ExpirationDays":18446744073709551615}}}}"#),
            "'ExpirationSettings.ExpirationDays' failed to satisfy constraint: Member must be an integer within its range",
            "18446744073709551615",
        ),
        (
            format!(r#"{{{user},"ExpirationSettings":{{"ExpirationDays":0.{digits}1}}}}"#),
            "'ExpirationSettings.ExpirationDays' failed to satisfy constraint: Member must be an integer (got a number)",
            "7777777777",
        ),
        (
            format!(r#"{{{user},"ExpirationSettings":{{"ExpirationDays":1,"ExpirationCriterion":"CREATED_TIMESTAMP_PLUS_SOMETHING"}}}}"#),
            "'ExpirationSettings.ExpirationCriterion' failed to satisfy constraint: Member must satisfy enum value set",
            "PLUS_SOMETHING",
        ),
        (
            format!(r#"{{{user},"ExpirationSettings":{{"ExpirationDays":1,"ExpirationCriterion":12345678901}}}}"#),
            "'ExpirationSettings.ExpirationCriterion' failed to satisfy constraint: Member must be a string (got a number)",
            "12345678901",
        ),
    ];
    let ct = [("content-type", "application/json")];
    for (body, want, value) in &cases {
        let r = send(
            &s,
            "POST",
            "/app-instance-users",
            &ct,
            body.as_bytes(),
            Signing::Admin,
        )
        .await;
        let message = assert_refusal(&r, 400, "BadRequestException", want);
        assert!(!message.contains(value), "{message}");
    }
}

#[tokio::test]
async fn unknown_routes_do_not_echo_long_paths() {
    let s = server().await;
    let long = "z".repeat(8_000);
    for path in [format!("/{long}"), format!("/channels?scope={long}")] {
        let r = send(&s, "GET", &path, &[], b"", Signing::Admin).await;
        assert_eq!(r.status, 404, "{}", &r.body[..r.body.len().min(300)]);
        let message = r.json()["Message"].as_str().unwrap().to_string();
        assert!(message.len() <= 100, "{message}");
        assert!(message.starts_with("No operation matches "), "{message}");
    }
}

/// Sends `GET path` signed by the project's signer (which, unlike the SDKs, signs whatever
/// text it is given), with `headers` signed.
async fn signed_get(s: &TestServer, path: &str, headers: &[(&str, &str)]) -> Raw {
    let host = s.addr.to_string();
    let signer = Signer {
        access_key_id: ADMIN_KEY.into(),
        secret: SecretKey::new(ADMIN_SECRET),
        region: REGION.into(),
        service: "chime".into(),
    };
    let mut all = vec![("host", host.as_str())];
    all.extend_from_slice(headers);
    let sig = signer
        .sign("GET", path, "", &all, b"", SystemTime::now())
        .unwrap();
    let mut req = reqwest::Client::new()
        .get(format!("{}{path}", s.endpoint))
        .header("authorization", sig.authorization)
        .header("x-amz-date", sig.amz_date);
    for (k, v) in headers {
        // Raw bytes: reqwest takes UTF-8 header values as they are (obs-text on the wire).
        req = req.header(
            *k,
            reqwest::header::HeaderValue::from_bytes(v.as_bytes()).unwrap(),
        );
    }
    let res = req.send().await.unwrap();
    Raw {
        status: res.status().as_u16(),
        headers: res.headers().clone(),
        body: res.text().await.unwrap(),
    }
}

#[tokio::test]
async fn signed_headers_that_are_not_visible_ascii_are_named() {
    let s = TestServer::start().await;
    // The REST dispatcher, a bearer, and the session side's signed GET (/realtime/stats shares
    // it with /connect, whose refusals are close codes without a message).
    let cases = [
        ("/app-instances", "x-foo", "caf\u{e9}"),
        (
            "/app-instances",
            "x-amz-chime-bearer",
            "arn:aws:chime:us-east-1:0:app-instance/\u{2603}",
        ),
        ("/realtime/stats", "x-foo", "\u{1F514}"),
    ];
    for (path, name, value) in cases {
        let r = signed_get(&s, path, &[(name, value)]).await;
        let want = format!(
            "Header '{name}' listed in SignedHeaders has a value that is not visible ASCII"
        );
        assert_refusal(&r, 403, "IncompleteSignatureException", &want);
    }
    // The same request with a visible ASCII value passes the gate.
    let r = signed_get(&s, "/app-instances", &[("x-foo", "cafe")]).await;
    assert_eq!(r.status, 200, "{}", r.body);
}
