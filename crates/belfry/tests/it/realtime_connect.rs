//! Websocket sessions: GetMessagingSessionEndpoint, who may connect (every row of the close-code
//! table in docs/compat.md), the prefetch, and shutdown.

use std::time::{Duration, SystemTime};

use aws_sdk_chimesdkmessaging::types::{
    ChannelMembershipType as Type, ChannelMode, ChannelPrivacy, NetworkType,
};

use crate::harness::*;
use crate::memberships::{add, make_channel};
use crate::messages::{send, Room};
use crate::ws::{Next, Signing, Ws};

#[tokio::test]
async fn the_endpoint_is_the_host_the_request_was_addressed_to() {
    let s = TestServer::start().await;
    for nt in [
        None,
        Some(NetworkType::Ipv4Only),
        Some(NetworkType::DualStack),
    ] {
        let url = s
            .messaging()
            .get_messaging_session_endpoint()
            .set_network_type(nt)
            .send()
            .await
            .unwrap()
            .endpoint
            .unwrap()
            .url
            .unwrap();
        assert_eq!(url, s.addr.to_string());
    }
    // A key limited to some bearers may ask too (the operation has no bearer).
    let scoped = s.messaging_with(ALICE_KEY, ALICE_SECRET, REGION, None);
    assert!(scoped.get_messaging_session_endpoint().send().await.is_ok());
    let bad = s
        .messaging()
        .get_messaging_session_endpoint()
        .network_type(NetworkType::from("IPV6_ONLY"))
        .send()
        .await;
    assert_eq!(code(bad), "BadRequestException");
}

#[tokio::test]
async fn a_configured_public_endpoint_is_returned_as_is() {
    let s = TestServer::configured(|c| c.public_endpoint = Some("chat.example.com".into())).await;
    let out = s
        .messaging()
        .get_messaging_session_endpoint()
        .send()
        .await
        .unwrap();
    assert_eq!(out.endpoint.unwrap().url.unwrap(), "chat.example.com");
}

#[tokio::test]
async fn a_plain_get_of_connect_is_a_400() {
    let s = TestServer::start().await;
    let res = reqwest::get(format!("http://{}/connect", s.addr))
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(
        res.headers()["x-amzn-ErrorType"].to_str().unwrap(),
        "BadRequestException"
    );
}

/// Connects with `signing` as `user` and returns the close code (or panics if established).
async fn refused(s: &TestServer, user: &str, extra: &[(&str, &str)], signing: &Signing<'_>) -> u16 {
    let mut ws = Ws::connect_signed(s, user, "sid", extra, signing).await;
    match ws.next().await {
        Next::Closed(code) => code,
        Next::Frame(f) => panic!("expected a refusal, got {}", f.event_type),
    }
}

#[tokio::test]
async fn refusals_complete_the_upgrade_and_close_with_4401_or_4003() {
    let s = TestServer::start().await;
    let w = World::new(&s, &["alice", "bob"]).await;
    let now = SystemTime::now();
    let base = Signing::default();
    // Unknown key, wrong region, expired (beyond X-Amz-Expires and the clock skew).
    for signing in [
        Signing {
            key: "AKIDUNKNOWN000000000",
            ..Signing::default()
        },
        Signing {
            region: "eu-west-1",
            ..Signing::default()
        },
        Signing {
            at: now - Duration::from_secs(400),
            ..Signing::default()
        },
        Signing {
            secret: "not-the-secret",
            ..Signing::default()
        },
    ] {
        assert_eq!(refused(&s, w.user(0), &[], &signing).await, 4401);
    }
    // A user that does not exist, and a malformed one.
    let ghost = format!("{}/user/ghost", w.app);
    assert_eq!(refused(&s, &ghost, &[], &base).await, 4401);
    assert_eq!(refused(&s, "not-an-arn", &[], &base).await, 4401);
    // A tampered URL (a parameter added after signing).
    let host = s.addr.to_string();
    let path = crate::ws::presign(&host, &[("userArn", w.user(0)), ("sessionId", "1")], &base);
    let mut ws = Ws::open(&s, &format!("{path}&prefetch-on=connect")).await;
    assert!(matches!(ws.next().await, Next::Closed(4401)));
    // Missing userArn or sessionId, signed or not at all.
    for params in [vec![("sessionId", "1")], vec![("userArn", w.user(0))]] {
        let path = crate::ws::presign(&host, &params, &base);
        let mut ws = Ws::open(&s, &path).await;
        assert!(matches!(ws.next().await, Next::Closed(4401)));
    }
    let mut ws = Ws::open(&s, "/connect?sessionId=1").await;
    assert!(matches!(ws.next().await, Next::Closed(4401)));
    // A key that may act as alice only.
    let alice_key = Signing {
        key: ALICE_KEY,
        secret: ALICE_SECRET,
        ..Signing::default()
    };
    assert_eq!(refused(&s, w.user(1), &[], &alice_key).await, 4003);
    let mut ok = Ws::connect_signed(&s, w.user(0), "1", &[], &alice_key).await;
    ok.expect("SESSION_ESTABLISHED").await;
}

#[tokio::test]
async fn deleting_the_user_or_a_second_socket_with_its_session_id_closes_with_4003() {
    let s = TestServer::start().await;
    let w = World::new(&s, &["ann", "bob"]).await;
    let mut first = Ws::established(&s, w.user(0), "same").await;
    let mut second = Ws::established(&s, w.user(0), "same").await;
    assert_eq!(first.closed().await, 4003);
    let mut bob = Ws::established(&s, w.user(1), "b").await;
    for u in [w.user(0), w.user(1)] {
        s.identity()
            .delete_app_instance_user()
            .app_instance_user_arn(u)
            .send()
            .await
            .unwrap();
    }
    assert_eq!(second.closed().await, 4003);
    assert_eq!(bob.closed().await, 4003);
}

#[tokio::test]
async fn the_session_cap_closes_with_1013_and_shutdown_with_1001() {
    let s = TestServer::configured(|c| c.max_sessions = 2).await;
    let w = World::new(&s, &["ann"]).await;
    let mut one = Ws::established(&s, w.user(0), "1").await;
    let _two = Ws::established(&s, w.user(0), "2").await;
    let mut three = Ws::connect(&s, w.user(0), "3", &[]).await;
    assert!(matches!(three.next().await, Next::Closed(1013)));
    let stopping = tokio::spawn(s.stop());
    assert_eq!(one.closed().await, 1001);
    tokio::time::timeout(Duration::from_secs(15), stopping)
        .await
        .expect("shutdown is not held open by sessions")
        .unwrap();
}

#[tokio::test]
async fn prefetch_sends_up_to_50_channels_with_their_newest_messages_and_members() {
    let s = TestServer::start().await;
    let names: Vec<String> = (0..36).map(|i| format!("u{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let w = World::new(&s, &refs).await;
    let m = s.messaging();
    let me = w.user(1);
    // A busy channel: 25 messages, 34 DEFAULT members and one HIDDEN.
    let busy = make_channel(
        &m,
        &w,
        w.user(0),
        ChannelMode::Unrestricted,
        ChannelPrivacy::Private,
    )
    .await;
    for u in &w.users[1..35] {
        add(&m, &busy, w.user(0), u, Type::Default).await.unwrap();
    }
    add(&m, &busy, w.user(0), w.user(35), Type::Hidden)
        .await
        .unwrap();
    for i in 0..25 {
        send(&m, &busy, w.user(2), &format!("m{i}"))
            .send()
            .await
            .unwrap();
    }
    // 51 quiet channels, one of them with a message read by me.
    let mut quiet = Vec::new();
    for _ in 0..51 {
        let ch = make_channel(
            &m,
            &w,
            w.user(0),
            ChannelMode::Unrestricted,
            ChannelPrivacy::Private,
        )
        .await;
        add(&m, &ch, w.user(0), me, Type::Default).await.unwrap();
        quiet.push(ch);
    }
    send(&m, &quiet[0], me, "read it").send().await.unwrap();
    m.update_channel_read_marker()
        .channel_arn(&quiet[0])
        .chime_bearer(me)
        .send()
        .await
        .unwrap();

    let mut ws = Ws::connect(&s, me, "p", &[("prefetch-on", "connect")]).await;
    ws.expect("SESSION_ESTABLISHED").await;
    let mut details = Vec::new();
    for _ in 0..50 {
        details.push(ws.expect("CHANNEL_DETAILS").await);
    }
    // Unread first: the busy channel leads; then the read one (it has a message).
    let first = &details[0].payload;
    assert_eq!(first["Channel"]["ChannelArn"], busy.as_str());
    let msgs = first["ChannelMessages"].as_array().unwrap();
    assert_eq!(msgs.len(), 20);
    assert_eq!(msgs[0]["Content"], "m24", "newest first");
    assert_eq!(first["ChannelMessagesHasMore"], true);
    let members = first["ChannelMemberships"].as_array().unwrap();
    assert_eq!(members.len(), 30);
    assert!(members.iter().all(|m| m["Member"]["Arn"] != w.user(35)));
    let second = &details[1].payload;
    assert_eq!(second["Channel"]["ChannelArn"], quiet[0].as_str());
    assert!(second["ReadMarkerTimestamp"].is_string());
    assert_eq!(second["ChannelMessagesHasMore"], false);
    // Then live events, and no 51st channel.
    send(&m, &busy, w.user(2), "live").send().await.unwrap();
    let f = ws.expect("CREATE_CHANNEL_MESSAGE").await;
    assert_eq!(f.payload["Content"], "live");
}

#[tokio::test]
async fn prefetch_sort_by_last_message_timestamp_and_sort_alone_means_nothing() {
    let s = TestServer::start().await;
    let r = Room::new(&s, &["owner", "ann"], ChannelPrivacy::Private).await;
    let m = s.messaging();
    let newer = make_channel(
        &m,
        &r.w,
        r.user(0),
        ChannelMode::Unrestricted,
        ChannelPrivacy::Private,
    )
    .await;
    add(&m, &newer, r.user(0), r.user(1), Type::Default)
        .await
        .unwrap();
    send(&m, &r.ch, r.user(1), "old").send().await.unwrap();
    send(&m, &newer, r.user(1), "new").send().await.unwrap();
    let mut ws = Ws::connect(
        &s,
        r.user(1),
        "p",
        &[
            ("prefetch-on", "connect"),
            ("prefetch-sort-by", "last-message-timestamp"),
        ],
    )
    .await;
    ws.expect("SESSION_ESTABLISHED").await;
    let a = ws.expect("CHANNEL_DETAILS").await;
    let b = ws.expect("CHANNEL_DETAILS").await;
    assert_eq!(a.payload["Channel"]["ChannelArn"], newer.as_str());
    assert_eq!(b.payload["Channel"]["ChannelArn"], r.ch.as_str());
    // prefetch-sort-by without prefetch-on: no CHANNEL_DETAILS; the next frame is live.
    let mut plain = Ws::connect(&s, r.user(1), "q", &[("prefetch-sort-by", "unread")]).await;
    plain.expect("SESSION_ESTABLISHED").await;
    send(&m, &r.ch, r.user(1), "live").send().await.unwrap();
    plain.expect("CREATE_CHANNEL_MESSAGE").await;
}

#[tokio::test]
async fn a_session_that_stops_reading_is_closed_with_1013_not_skipped() {
    let s = TestServer::configured(|c| {
        c.session_queue_frames = 4;
        c.socket_send_buffer_bytes = 16 * 1024;
    })
    .await;
    let r = Room::new(&s, &["owner", "ann", "bob"], ChannelPrivacy::Private).await;
    let m = s.messaging();
    let mut bob = Ws::established_small_buffer(&s, r.user(2), "slow").await;
    // bob reads nothing while about 1 MB is sent: more than the socket buffers, the
    // websocket write buffer and a 4-frame queue can hold.
    let big = "x".repeat(4000);
    for i in 0..250 {
        send(&m, &r.ch, r.user(1), &format!("{i}{big}"))
            .send()
            .await
            .unwrap();
    }
    // Then he reads: what was written arrives in order, then the close, and no gap in between.
    let mut next = 0;
    loop {
        match bob.next().await {
            Next::Frame(f) => {
                let content = f.payload["Content"].as_str().unwrap().to_string();
                assert!(
                    content.starts_with(&format!("{next}x")),
                    "frame {next} skipped"
                );
                next += 1;
            }
            Next::Closed(code) => {
                assert_eq!(code, 1013);
                break;
            }
        }
    }
    assert!(next < 250, "the session was not closed at all");
}

#[tokio::test]
async fn sessions_that_answer_pings_stay_and_silent_ones_are_closed() {
    // The one test here that must let time pass: pings are a matter of seconds.
    let s = TestServer::configured(|c| c.ping_interval_secs = 1).await;
    let r = Room::new(&s, &["owner", "ann", "bob"], ChannelPrivacy::Private).await;
    let mut live = Ws::established(&s, r.user(1), "live").await;
    let mut silent = Ws::established(&s, r.user(2), "silent").await;
    // `live` keeps reading (its client answers pings by itself); `silent` reads nothing.
    let waited = tokio::time::timeout(Duration::from_millis(3500), live.next()).await;
    assert!(waited.is_err(), "no frame was expected, only pings");
    send(&s.messaging(), &r.ch, r.user(1), "still here")
        .send()
        .await
        .unwrap();
    let f = live.expect("CREATE_CHANNEL_MESSAGE").await;
    assert_eq!(f.payload["Content"], "still here");
    assert_eq!(silent.closed().await, 1011);
}
