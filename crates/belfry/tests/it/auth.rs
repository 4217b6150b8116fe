//! SigV4 refusals and credential scoping, through the official SDK.

use std::time::{Duration, SystemTime};

use belfry_core::time::{Clock, ManualClock};

use crate::harness::*;

/// The signature window is measured against the server's clock, the one its timestamps come
/// from: move that clock and a request signed by the wall clock falls outside the window,
/// while one signed at the server's now is accepted.
#[tokio::test]
async fn the_signature_window_follows_the_server_clock() {
    let clock = std::sync::Arc::new(ManualClock::starting_now());
    let s = TestServer::with_clock(clock.clone()).await;
    let list = |c: aws_sdk_chimesdkidentity::Client| async move {
        c.list_app_instances().send().await.map(|_| ())
    };
    list(s.identity()).await.unwrap();
    clock.advance(Duration::from_secs(600));
    assert_eq!(code(list(s.identity()).await), "InvalidSignatureException");
    let signed_at_server_now = s.messaging_with(
        ADMIN_KEY,
        ADMIN_SECRET,
        REGION,
        Some(clock.now().system_time()),
    );
    signed_at_server_now
        .get_messaging_session_endpoint()
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn signature_refusals() {
    let s = TestServer::start().await;
    let w = World::new(&s, &["ann"]).await;
    let w = &w;
    let list = |c: aws_sdk_chimesdkmessaging::Client| async move {
        c.list_channels()
            .app_instance_arn(&w.app)
            .chime_bearer(w.user(0))
            .send()
            .await
    };
    let now = SystemTime::now();
    let cases = [
        (
            "wrong secret",
            s.messaging_with(ADMIN_KEY, "not-the-secret", REGION, None),
            "InvalidSignatureException",
        ),
        (
            "unknown key",
            s.messaging_with("AKIDUNKNOWN000000000", ADMIN_SECRET, REGION, None),
            "UnrecognizedClientException",
        ),
        (
            "wrong region",
            s.messaging_with(ADMIN_KEY, ADMIN_SECRET, "eu-west-1", None),
            "InvalidSignatureException",
        ),
        (
            "expired",
            s.messaging_with(
                ADMIN_KEY,
                ADMIN_SECRET,
                REGION,
                Some(now - Duration::from_secs(600)),
            ),
            "InvalidSignatureException",
        ),
        (
            "from the future",
            s.messaging_with(
                ADMIN_KEY,
                ADMIN_SECRET,
                REGION,
                Some(now + Duration::from_secs(600)),
            ),
            "InvalidSignatureException",
        ),
    ];
    for (what, client, want) in cases {
        let r = list(client).await;
        let err = r.unwrap_err();
        use aws_smithy_types::error::metadata::ProvideErrorMetadata;
        assert_eq!(err.code(), Some(want), "{what}: {err:?}");
        let msg = err.message().unwrap_or_default().to_string();
        assert!(
            !msg.contains(ADMIN_SECRET),
            "{what}: the secret must never be echoed"
        );
        if what == "wrong region" {
            assert!(msg.contains("eu-west-1"), "{msg}");
        }
    }
    // Within the skew window the request is fine.
    list(s.messaging_with(
        ADMIN_KEY,
        ADMIN_SECRET,
        REGION,
        Some(now - Duration::from_secs(120)),
    ))
    .await
    .unwrap();
}

#[tokio::test]
async fn limited_keys_act_only_as_their_bearers() {
    let s = TestServer::start().await;
    let w = World::new(&s, &["alice", "bob"]).await;
    let alice_key = s.messaging_with(ALICE_KEY, ALICE_SECRET, REGION, None);
    let arn = alice_key
        .create_channel()
        .app_instance_arn(&w.app)
        .name("mine")
        .client_request_token(uuid())
        .chime_bearer(w.user(0))
        .send()
        .await
        .expect("the key may act as alice")
        .channel_arn
        .unwrap();
    let r = alice_key
        .describe_channel()
        .channel_arn(&arn)
        .chime_bearer(w.user(1))
        .send()
        .await;
    assert_eq!(code(r), "ForbiddenException", "the key may not act as bob");
    let r = s
        .identity_as(ALICE_KEY, ALICE_SECRET)
        .list_app_instances()
        .send()
        .await;
    assert_eq!(
        code(r),
        "ForbiddenException",
        "developer APIs need the admin key"
    );
    let r = alice_key
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await;
    assert_eq!(code(r), "ForbiddenException");
}
