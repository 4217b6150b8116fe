//! Throttling: what an over-rate request gets (429 `ThrottledClientException`), whose bucket it
//! spends, the per-key limits of GetMessagingSessionEndpoint and `/connect`, and the SDK
//! carrying a burst through its retries.

use std::time::Duration;

use aws_sdk_chimesdkmessaging as messaging;
use aws_sdk_chimesdkmessaging::operation::create_channel::CreateChannelError;
use aws_sdk_chimesdkmessaging::types::ChannelPrivacy;
use aws_smithy_runtime_api::client::interceptors::context::InterceptorContext;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::retries::classifiers::{ClassifyRetry, RetryAction};
use belfry::config::KeyConfig;
use belfry::Config;
use belfry_wire::throttle::{KeyThrottle, Rate};
use belfry_wire::ThrottleConfig;

use crate::harness::*;
use crate::messages::{send, Room};
use crate::raw;
use crate::ws::{Next, Signing, Ws};

/// A key that may act as every user.
const APP_KEY: &str = "AKIDBELFRYAPP0000001";
const APP_SECRET: &str = "app-secret-for-tests";

/// Refills so slowly (one token in 1,000 s) that a test sees exactly the burst.
const SLOW: f64 = 0.001;

/// The test config plus the app key, with `throttle` as the `[throttle]` table.
fn with(throttle: ThrottleConfig) -> impl FnOnce(&mut Config) {
    move |c| {
        c.access_keys.push(KeyConfig {
            id: APP_KEY.into(),
            secret: APP_SECRET.into(),
            bearers: Some(vec![
                "arn:aws:chime:us-east-1:000000000000:app-instance/*".into()
            ]),
        });
        c.throttle = throttle;
    }
}

/// Bursts of 3 writes, 5 reads, 2 endpoint calls and 2 connects, then (nearly) nothing; a
/// connect over the rate is refused at once.
fn tiny() -> ThrottleConfig {
    ThrottleConfig {
        writes: Rate::new(SLOW, 3),
        reads: Rate::new(SLOW, 5),
        session_endpoint: Rate::new(SLOW, 2),
        connect: Rate::new(SLOW, 2),
        connect_max_wait_ms: 0,
        ..ThrottleConfig::default()
    }
}

fn app(s: &TestServer) -> messaging::Client {
    s.messaging_with(APP_KEY, APP_SECRET, REGION, None)
}

async fn create_channel(
    m: &messaging::Client,
    app: &str,
    bearer: &str,
) -> Result<String, messaging::error::SdkError<CreateChannelError, HttpResponse>> {
    m.create_channel()
        .app_instance_arn(app)
        .name("throttled")
        .client_request_token(uuid())
        .chime_bearer(bearer)
        .send()
        .await
        .map(|o| o.channel_arn.unwrap())
}

/// The `Throttled` counters of `/realtime/stats`.
async fn throttled(s: &TestServer) -> serde_json::Value {
    let res = raw::send(s, "GET", "/realtime/stats", &[], b"", raw::Signing::Admin).await;
    assert_eq!(res.status, 200, "{}", res.body);
    res.json()["Throttled"].clone()
}

#[tokio::test]
async fn an_over_rate_request_gets_429_throttled_client_exception_and_changes_nothing() {
    let s = TestServer::configured(with(tiny())).await;
    let w = World::new(&s, &["alice", "bob"]).await;
    let (alice, bob) = (w.user(0), w.user(1));
    let m = app(&s);
    for _ in 0..3 {
        create_channel(&m, &w.app, alice).await.unwrap();
    }
    let err = create_channel(&m, &w.app, alice).await.unwrap_err();
    assert_eq!(err.raw_response().unwrap().status().as_u16(), 429);
    let service = err.into_service_error();
    assert!(service.is_throttled_client_exception(), "{service:?}");
    let message = service.meta().message().unwrap();
    assert!(
        message.contains("writes as one bearer") && message.contains("throttle.writes"),
        "{message}"
    );
    // The refused request created nothing (the admin key, exempt, counts).
    let listed = s
        .messaging()
        .list_channels()
        .app_instance_arn(&w.app)
        .chime_bearer(alice)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.channels().len(), 3);
    // Reads have a bucket of their own, and so does every other bearer.
    let read = m
        .list_channels()
        .app_instance_arn(&w.app)
        .chime_bearer(alice)
        .send()
        .await;
    assert!(read.is_ok(), "{read:?}");
    for _ in 0..3 {
        create_channel(&m, &w.app, bob).await.unwrap();
    }
    // The admin key is exempt by default, whoever it acts as.
    for _ in 0..5 {
        create_channel(&s.messaging(), &w.app, alice).await.unwrap();
    }
    // /health is never throttled.
    for _ in 0..20 {
        let res = reqwest::get(format!("{}/health", s.endpoint))
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
    let t = throttled(&s).await;
    assert_eq!(
        (t["Writes"].as_u64(), t["Reads"].as_u64()),
        (Some(1), Some(0))
    );
    assert_eq!(t["Buckets"].as_u64(), Some(2));
}

#[tokio::test]
async fn a_key_cannot_spend_the_bucket_of_a_bearer_it_may_not_act_as() {
    let s = TestServer::configured(with(tiny())).await;
    let w = World::new(&s, &["alice", "bob"]).await;
    let alice_key = s.messaging_with(ALICE_KEY, ALICE_SECRET, REGION, None);
    // Refused (403) as long as the key's own bucket lasts, then throttled.
    for _ in 0..3 {
        let r = create_channel(&alice_key, &w.app, w.user(1)).await;
        assert_eq!(code(r), "ForbiddenException");
    }
    let r = create_channel(&alice_key, &w.app, w.user(1)).await;
    assert_eq!(code(r), "ThrottledClientException");
    // Bob's bucket is whole.
    for _ in 0..3 {
        create_channel(&app(&s), &w.app, w.user(1)).await.unwrap();
    }
    // And alice's own, through her key.
    create_channel(&alice_key, &w.app, w.user(0)).await.unwrap();
}

#[tokio::test]
async fn a_listed_key_is_limited_as_a_whole_and_the_admin_key_when_not_exempt() {
    let listed = ThrottleConfig {
        keys: vec![KeyThrottle {
            id: APP_KEY.into(),
            reads: None,
            writes: Some(Rate::new(SLOW, 4)),
            session_endpoint: None,
            connect: None,
        }],
        ..tiny()
    };
    let s = TestServer::configured(with(listed)).await;
    let w = World::new(&s, &["alice", "bob"]).await;
    let m = app(&s);
    for bearer in [w.user(0), w.user(0), w.user(1), w.user(1)] {
        create_channel(&m, &w.app, bearer).await.unwrap();
    }
    let err = create_channel(&m, &w.app, w.user(1)).await.unwrap_err();
    let message = err
        .into_service_error()
        .meta()
        .message()
        .unwrap()
        .to_string();
    assert!(
        message.contains(APP_KEY) && message.contains("[[throttle.keys]]"),
        "{message}"
    );

    let s = TestServer::configured(with(ThrottleConfig {
        admin_exempt: false,
        ..tiny()
    }))
    .await;
    // Identity calls carry no bearer: they count against the admin key (3 writes).
    let w = World::new(&s, &["alice", "bob"]).await;
    let r = s
        .identity()
        .create_app_instance_user()
        .app_instance_arn(&w.app)
        .app_instance_user_id("carol")
        .name("carol")
        .client_request_token(uuid())
        .send()
        .await;
    assert_eq!(code(r), "ThrottledClientException");
    // Acting as a bearer, the admin key spends that bearer's bucket.
    for _ in 0..3 {
        create_channel(&s.messaging(), &w.app, w.user(0))
            .await
            .unwrap();
    }
    let r = create_channel(&s.messaging(), &w.app, w.user(0)).await;
    assert_eq!(code(r), "ThrottledClientException");
}

#[tokio::test]
async fn session_endpoint_and_connect_are_limited_per_key() {
    let s = TestServer::configured(with(tiny())).await;
    let w = World::new(&s, &["alice", "bob"]).await;
    let m = app(&s);
    for _ in 0..2 {
        m.get_messaging_session_endpoint().send().await.unwrap();
    }
    let err = m.get_messaging_session_endpoint().send().await.unwrap_err();
    assert!(err.into_service_error().is_throttled_client_exception());
    // Another key, and the exempt admin key, are not held back.
    for _ in 0..5 {
        s.messaging()
            .get_messaging_session_endpoint()
            .send()
            .await
            .unwrap();
    }
    let alice_key = s.messaging_with(ALICE_KEY, ALICE_SECRET, REGION, None);
    alice_key
        .get_messaging_session_endpoint()
        .send()
        .await
        .unwrap();

    // Connects: two, then the upgrade completes and closes with 1013 (the client retries).
    let signing = Signing {
        key: APP_KEY,
        secret: APP_SECRET,
        ..Signing::default()
    };
    let mut open = Vec::new();
    for (user, sid) in [(w.user(0), "1"), (w.user(1), "2")] {
        let mut ws = Ws::connect_signed(&s, user, sid, &[], &signing).await;
        ws.expect("SESSION_ESTABLISHED").await;
        open.push(ws);
    }
    let mut refused = Ws::connect_signed(&s, w.user(0), "3", &[], &signing).await;
    assert!(matches!(refused.next().await, Next::Closed(1013)));
    let mut admin = Ws::connect(&s, w.user(0), "4", &[]).await;
    admin.expect("SESSION_ESTABLISHED").await;
    let t = throttled(&s).await;
    assert_eq!(
        (t["SessionEndpoint"].as_u64(), t["Connects"].as_u64()),
        (Some(1), Some(1))
    );
}

/// Retries a 429, as the JS and Python SDKs do. The Rust SDK's standard mode retries 500, 502,
/// 503, 504 and a list of throttling codes that lacks `ThrottledClientException`, so a Rust
/// client adds this classifier.
#[derive(Debug)]
struct Retry429;

impl ClassifyRetry for Retry429 {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        match ctx.response().map(|r| r.status().as_u16()) {
            Some(429) => RetryAction::throttling_error(),
            _ => RetryAction::NoActionIndicated,
        }
    }

    fn name(&self) -> &'static str {
        "HTTP 429"
    }
}

fn retrying(s: &TestServer, classifier: bool) -> messaging::Client {
    use messaging::config::retry::RetryConfig;
    let mut b = messaging::Config::builder()
        .behavior_version(messaging::config::BehaviorVersion::latest())
        .region(messaging::config::Region::new(REGION))
        .endpoint_url(&s.endpoint)
        .credentials_provider(messaging::config::Credentials::new(
            APP_KEY, APP_SECRET, None, None, "test",
        ))
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(20)
                .with_initial_backoff(Duration::from_millis(100))
                .with_max_backoff(Duration::from_secs(2)),
        );
    if classifier {
        b = b.retry_classifier(Retry429);
    }
    messaging::Client::from_conf(b.build())
}

#[tokio::test]
async fn the_sdk_carries_a_burst_over_the_limit_through_its_retries() {
    // Without the classifier the Rust SDK gives up at the first 429: one attempt, counted once.
    let s = TestServer::configured(with(tiny())).await;
    let room = Room::new(&s, &["owner", "alice"], ChannelPrivacy::Public).await;
    let plain = retrying(&s, false);
    for i in 0..3 {
        send(&plain, &room.ch, room.user(1), &format!("plain {i}"))
            .send()
            .await
            .unwrap();
    }
    let err = send(&plain, &room.ch, room.user(1), "plain 3")
        .send()
        .await
        .unwrap_err();
    assert!(err.into_service_error().is_throttled_client_exception());
    assert_eq!(throttled(&s).await["Writes"].as_u64(), Some(1));

    // With it, twelve sends at once all land, most after being throttled.
    let s = TestServer::configured(with(ThrottleConfig {
        writes: Rate::new(10.0, 2),
        ..ThrottleConfig::default()
    }))
    .await;
    let room = Room::new(&s, &["owner", "alice"], ChannelPrivacy::Public).await;
    let alice = room.user(1).to_string();
    let m = retrying(&s, true);
    let sends: Vec<_> = (0..12)
        .map(|i| {
            let (m, ch, alice) = (m.clone(), room.ch.clone(), alice.clone());
            tokio::spawn(async move { send(&m, &ch, &alice, &format!("burst {i}")).send().await })
        })
        .collect();
    for task in sends {
        task.await.unwrap().unwrap();
    }
    assert!(throttled(&s).await["Writes"].as_u64().unwrap() > 0);
    let listed = s
        .messaging()
        .list_channel_messages()
        .channel_arn(&room.ch)
        .chime_bearer(&alice)
        .max_results(50)
        .send()
        .await
        .unwrap();
    let burst = listed
        .channel_messages()
        .iter()
        .filter(|m| m.content().is_some_and(|c| c.starts_with("burst ")))
        .count();
    assert_eq!(burst, 12);
}

#[tokio::test]
async fn a_connect_storm_queues_at_the_connect_rate_instead_of_being_refused() {
    let s = TestServer::configured(with(ThrottleConfig {
        connect: Rate::new(10.0, 1),
        connect_max_wait_ms: 2_000,
        ..ThrottleConfig::default()
    }))
    .await;
    let w = World::new(&s, &["alice"]).await;
    let signing = Signing {
        key: APP_KEY,
        secret: APP_SECRET,
        ..Signing::default()
    };
    // Five at once: one in the burst, four let in 100 ms apart, none refused.
    let started = std::time::Instant::now();
    let storm = (0..5).map(|i| {
        let (s, user, signing) = (&s, w.user(0), &signing);
        async move {
            let mut ws = Ws::connect_signed(s, user, &format!("storm-{i}"), &[], signing).await;
            ws.expect("SESSION_ESTABLISHED").await;
            ws
        }
    });
    let sessions = futures_util::future::join_all(storm).await;
    assert_eq!(sessions.len(), 5);
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "the fifth waited for its turn"
    );
    let t = throttled(&s).await;
    assert_eq!(t["Connects"].as_u64(), Some(0), "none refused: {t}");
}
