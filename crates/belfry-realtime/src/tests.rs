//! The hub's rules, driven through its public API with an encoder that names each event.

use std::sync::Arc;
use std::time::Duration;

use belfry_core::arn::{ChannelKey, UserKey};
use belfry_core::events::{DomainEvent, Published};
use belfry_core::model::{
    Channel, ChannelMessage, ChannelMode, ChannelPrivacy, Membership, MembershipType, MessageType,
    Persistence, UserRef,
};
use belfry_core::time::Timestamp;
use bytes::Bytes;

use crate::{CloseReason, Delivery, FrameEncoder, Hub, HubConfig, Refused, Session};

/// Encodes an event as a short text naming it.
pub(crate) struct Names;

impl FrameEncoder for Names {
    fn encode(&self, event: &DomainEvent) -> Option<Bytes> {
        let text = match event {
            DomainEvent::MessageCreated(m) => format!("msg {}", m.content.as_deref().unwrap_or("")),
            DomainEvent::MessageUpdated(m) => {
                format!("edit {}", m.content.as_deref().unwrap_or(""))
            }
            DomainEvent::MessageRedacted(m) => format!("redact {}", m.message_id),
            DomainEvent::MessageDeleted(m) => format!("delete {}", m.message_id),
            DomainEvent::MembershipCreated(m) => format!("join {}", m.member.key.user_id),
            DomainEvent::MembershipsBatchCreated { members, .. } => format!(
                "batch {}",
                members
                    .iter()
                    .map(|m| m.key.user_id.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            DomainEvent::MembershipDeleted(m) => format!("leave {}", m.member.key.user_id),
            DomainEvent::ChannelUpdated(c) => format!("update {}", c.name),
            DomainEvent::ChannelDeleted(c) => format!("gone {}", c.name),
            DomainEvent::ReadMarkerUpdated { .. }
            | DomainEvent::UserDeleted(_)
            | DomainEvent::AppInstanceDeleted { .. }
            | DomainEvent::AccessKeyRevoked { .. } => return None,
        };
        Some(Bytes::from(text))
    }
}

pub(crate) fn user(id: &str) -> UserKey {
    UserKey {
        app_instance_id: "ai".into(),
        user_id: id.into(),
    }
}

pub(crate) fn chan(id: &str) -> ChannelKey {
    ChannelKey {
        app_instance_id: "ai".into(),
        channel_id: id.into(),
    }
}

fn uref(id: &str) -> UserRef {
    UserRef {
        key: user(id),
        name: Some(id.into()),
    }
}

pub(crate) fn msg(ch: &str, from: &str, content: &str, target: Option<&str>) -> ChannelMessage {
    ChannelMessage {
        channel: chan(ch),
        message_id: format!("id-{content}"),
        content: Some(content.into()),
        metadata: None,
        kind: MessageType::Standard,
        persistence: Persistence::Persistent,
        created: Timestamp(1),
        updated: Timestamp(1),
        edited: None,
        sender: uref(from),
        redacted: false,
        attributes: Vec::new(),
        content_type: None,
        target: target.map(user),
        push: None,
    }
}

fn membership(ch: &str, who: &str, kind: MembershipType) -> Membership {
    Membership {
        channel: chan(ch),
        member: uref(who),
        invited_by: uref("admin"),
        kind,
        created: Timestamp(1),
        updated: Timestamp(1),
        read_marker: None,
    }
}

fn channel(ch: &str) -> Channel {
    Channel {
        key: chan(ch),
        name: ch.into(),
        mode: ChannelMode::Restricted,
        privacy: ChannelPrivacy::Private,
        metadata: None,
        created_by: uref("admin"),
        created: Timestamp(1),
        updated: Timestamp(1),
        last_message: None,
        expiration: None,
    }
}

pub(crate) fn send(ch: &str, seq: u64, from: &str, content: &str) -> Published {
    Published::at(
        seq,
        DomainEvent::MessageCreated(msg(ch, from, content, None)),
    )
}

fn hub_with(config: HubConfig) -> Hub {
    Hub::start(config, Arc::new(Names))
}

fn hub() -> Hub {
    hub_with(HubConfig::default())
}

/// Opens and subscribes a session of `who` in `channels` (each at `seq`).
async fn connect(hub: &Hub, who: &str, sid: &str, channels: &[(&str, u64)]) -> Session {
    let mut s = hub.open(user(who), sid.into()).unwrap();
    s.subscribe(channels.iter().map(|(c, q)| (chan(c), *q)).collect())
        .await;
    s
}

/// Everything queued for `s` once the hub has caught up (a subscribe round-trips the inbox).
async fn drain(hub: &Hub, s: &mut Session) -> Vec<String> {
    let mut probe = hub.open(user("probe"), "probe".into()).unwrap();
    probe.subscribe(Vec::new()).await;
    let mut out = Vec::new();
    while let Some(f) = s.try_frame() {
        out.push(String::from_utf8(f.bytes.to_vec()).unwrap());
        f.written();
    }
    out
}

pub(crate) async fn closed_with(s: &mut Session) -> CloseReason {
    loop {
        match tokio::time::timeout(Duration::from_secs(5), s.next()).await {
            Ok(Delivery::Close(r)) => return r,
            Ok(Delivery::Frame(_)) => continue,
            Err(_) => panic!("session was not closed"),
        }
    }
}

#[tokio::test]
async fn members_get_messages_and_others_do_not() {
    let hub = hub();
    let mut ann = connect(&hub, "ann", "1", &[("c", 0)]).await;
    let mut bob = connect(&hub, "bob", "1", &[("c", 0)]).await;
    let mut eve = connect(&hub, "eve", "1", &[("other", 0)]).await;
    hub.publish_event(send("c", 1, "ann", "hi"));
    assert_eq!(drain(&hub, &mut ann).await, ["msg hi"]);
    assert_eq!(
        hub.stats().delivery_latency(false).events,
        0,
        "bob has not written yet"
    );
    assert_eq!(drain(&hub, &mut bob).await, ["msg hi"]);
    assert!(drain(&hub, &mut eve).await.is_empty());
    let latency = hub.stats().delivery_latency(true);
    assert_eq!(
        latency.events, 1,
        "one event, recorded when its last frame was written"
    );
    assert_eq!(hub.stats().delivery_latency(false).events, 0);
}

#[tokio::test]
async fn a_channel_s_events_are_put_back_in_commit_order() {
    let hub = hub();
    let mut ann = connect(&hub, "ann", "1", &[("c", 10)]).await;
    hub.publish_event(send("c", 13, "ann", "c"));
    hub.publish_event(send("c", 12, "ann", "b"));
    hub.publish_event(send("c", 10, "ann", "old"));
    hub.publish_event(send("c", 11, "ann", "a"));
    assert_eq!(drain(&hub, &mut ann).await, ["msg a", "msg b", "msg c"]);
}

#[tokio::test]
async fn targeted_messages_reach_sender_and_target_only() {
    let hub = hub();
    let mut ann = connect(&hub, "ann", "1", &[("c", 0)]).await;
    let mut bob = connect(&hub, "bob", "1", &[("c", 0)]).await;
    let mut cy = connect(&hub, "cy", "1", &[("c", 0)]).await;
    let m = msg("c", "ann", "psst", Some("bob"));
    hub.publish_event(Published::at(1, DomainEvent::MessageCreated(m)));
    assert_eq!(drain(&hub, &mut ann).await, ["msg psst"]);
    assert_eq!(drain(&hub, &mut bob).await, ["msg psst"]);
    assert!(drain(&hub, &mut cy).await.is_empty());
}

#[tokio::test]
async fn hidden_members_observe_but_their_membership_events_are_their_own() {
    let hub = hub();
    let mut ann = connect(&hub, "ann", "1", &[("c", 0)]).await;
    let mut spy = connect(&hub, "spy", "1", &[]).await;
    let joined = membership("c", "spy", MembershipType::Hidden);
    hub.publish_event(Published::at(1, DomainEvent::MembershipCreated(joined)));
    hub.publish_event(send("c", 2, "ann", "hello"));
    assert_eq!(drain(&hub, &mut ann).await, ["msg hello"]);
    assert_eq!(drain(&hub, &mut spy).await, ["join spy", "msg hello"]);
}

#[tokio::test]
async fn a_removed_member_gets_its_removal_and_nothing_after() {
    let hub = hub();
    let mut ann = connect(&hub, "ann", "1", &[("c", 0)]).await;
    let mut bob = connect(&hub, "bob", "1", &[("c", 0)]).await;
    let gone = membership("c", "bob", MembershipType::Default);
    hub.publish_event(Published::at(1, DomainEvent::MembershipDeleted(gone)));
    hub.publish_event(send("c", 2, "ann", "after"));
    assert_eq!(drain(&hub, &mut ann).await, ["leave bob", "msg after"]);
    assert_eq!(drain(&hub, &mut bob).await, ["leave bob"]);
}

#[tokio::test]
async fn every_session_of_a_user_gets_every_event() {
    let hub = hub();
    let mut a1 = connect(&hub, "ann", "1", &[("c", 0)]).await;
    let mut a2 = connect(&hub, "ann", "2", &[("c", 0)]).await;
    hub.publish_event(send("c", 1, "ann", "both"));
    assert_eq!(drain(&hub, &mut a1).await, ["msg both"]);
    assert_eq!(drain(&hub, &mut a2).await, ["msg both"]);
}

#[tokio::test]
async fn what_happens_while_a_session_connects_is_replayed_to_it() {
    let hub = hub();
    let mut ann = connect(&hub, "ann", "1", &[("c", 0)]).await;
    // bob registers, then reads his memberships: c at seq 1.
    let mut bob = hub.open(user("bob"), "1".into()).unwrap();
    hub.publish_event(send("c", 1, "ann", "in snapshot"));
    hub.publish_event(send("c", 2, "ann", "after read"));
    // bob is added to d after his read.
    let added = membership("d", "bob", MembershipType::Default);
    hub.publish_event(Published::at(5, DomainEvent::MembershipCreated(added)));
    hub.publish_event(send("d", 6, "cy", "in d"));
    bob.subscribe(vec![(chan("c"), 1)]).await;
    hub.publish_event(send("c", 3, "ann", "live"));
    hub.publish_event(send("d", 7, "cy", "live d"));
    let got = drain(&hub, &mut bob).await;
    let in_c: Vec<&String> = got
        .iter()
        .filter(|f| !f.contains(" d") && !f.contains("join"))
        .collect();
    assert_eq!(in_c, ["msg after read", "msg live"]);
    let in_d: Vec<&String> = got
        .iter()
        .filter(|f| f.contains(" d") || f.contains("join"))
        .collect();
    assert_eq!(in_d, ["join bob", "msg in d", "msg live d"]);
    assert_eq!(
        drain(&hub, &mut ann).await,
        ["msg in snapshot", "msg after read", "msg live"]
    );
}

#[tokio::test]
async fn a_session_that_cannot_keep_up_is_closed_with_1013() {
    let hub = hub_with(HubConfig {
        queue_frames: 2,
        ..HubConfig::default()
    });
    let mut ann = connect(&hub, "ann", "1", &[("c", 0)]).await;
    for i in 1..=3 {
        hub.publish_event(send("c", i, "bob", "x"));
    }
    assert_eq!(closed_with(&mut ann).await, CloseReason::TOO_SLOW);
    assert_eq!(
        hub.stats()
            .sessions_too_slow
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
}

#[tokio::test]
async fn a_newer_socket_with_the_same_session_id_replaces_the_older() {
    let hub = hub();
    let mut old = connect(&hub, "ann", "same", &[("c", 0)]).await;
    let mut new = connect(&hub, "ann", "same", &[("c", 0)]).await;
    assert_eq!(closed_with(&mut old).await, CloseReason::REPLACED);
    hub.publish_event(send("c", 1, "bob", "to new"));
    assert_eq!(drain(&hub, &mut new).await, ["msg to new"]);
}

#[tokio::test]
async fn deleting_a_user_or_its_app_instance_ends_its_sessions() {
    let hub = hub();
    let mut ann = connect(&hub, "ann", "1", &[("c", 0)]).await;
    let mut bob = connect(&hub, "bob", "1", &[("c", 0)]).await;
    hub.publish_event(Published::unordered(DomainEvent::UserDeleted(user("ann"))));
    assert_eq!(closed_with(&mut ann).await, CloseReason::USER_DELETED);
    hub.publish_event(Published::unordered(DomainEvent::AppInstanceDeleted {
        app_instance_id: "ai".into(),
    }));
    assert_eq!(closed_with(&mut bob).await, CloseReason::USER_DELETED);
}

#[tokio::test]
async fn revoking_a_key_ends_the_sessions_it_signed_and_no_other() {
    let hub = hub();
    let open = |who: &str, key: Option<&str>| {
        hub.open_signed(user(who), key.map(str::to_owned), "1".into())
            .unwrap()
    };
    let mut ann = open("ann", Some("AKIAREVOKED"));
    let mut bob = open("bob", Some("AKIAKEPT"));
    let mut cy = open("cy", None);
    for s in [&mut ann, &mut bob, &mut cy] {
        s.subscribe(vec![(chan("c"), 0)]).await;
    }
    hub.publish_event(Published::unordered(DomainEvent::AccessKeyRevoked {
        id: "AKIAREVOKED".into(),
    }));
    assert_eq!(closed_with(&mut ann).await, CloseReason::KEY_REVOKED);
    assert_eq!(CloseReason::KEY_REVOKED.code, 4401);
    // The others stay open and keep receiving.
    hub.publish_event(send("c", 1, "bob", "still here"));
    assert_eq!(drain(&hub, &mut bob).await, ["msg still here"]);
    assert_eq!(drain(&hub, &mut cy).await, ["msg still here"]);
}

#[tokio::test]
async fn channel_events_and_batches_reach_members() {
    let hub = hub();
    let mut ann = connect(&hub, "ann", "1", &[("c", 0)]).await;
    let mut bob = connect(&hub, "bob", "1", &[]).await;
    hub.publish_event(Published::at(
        1,
        DomainEvent::MembershipsBatchCreated {
            channel: channel("c"),
            invited_by: uref("ann"),
            kind: MembershipType::Default,
            members: vec![uref("bob"), uref("zed")],
        },
    ));
    hub.publish_event(Published::at(2, DomainEvent::ChannelUpdated(channel("c"))));
    hub.publish_event(Published::at(3, DomainEvent::ChannelDeleted(channel("c"))));
    hub.publish_event(send("c", 4, "ann", "ghost"));
    let expected = ["batch bob,zed", "update c", "gone c"];
    assert_eq!(drain(&hub, &mut ann).await, expected);
    assert_eq!(drain(&hub, &mut bob).await, expected);
}

#[tokio::test]
async fn non_persistent_messages_go_to_connected_members_at_once() {
    let hub = hub();
    let mut ann = connect(&hub, "ann", "1", &[("c", 4)]).await;
    let mut m = msg("c", "bob", "typing", None);
    m.persistence = Persistence::NonPersistent;
    hub.publish_event(Published::unordered(DomainEvent::MessageCreated(m)));
    assert_eq!(drain(&hub, &mut ann).await, ["msg typing"]);
}

#[tokio::test(start_paused = true)]
async fn a_gap_that_never_fills_resets_the_channel_s_sessions() {
    let hub = hub();
    let mut ann = connect(&hub, "ann", "1", &[("c", 0)]).await;
    hub.publish_event(send("c", 2, "bob", "early"));
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(closed_with(&mut ann).await, CloseReason::RESYNC);
}

#[tokio::test]
async fn the_session_cap_and_shutdown_refuse_and_close() {
    let hub = hub_with(HubConfig {
        max_sessions: 1,
        ..HubConfig::default()
    });
    let mut ann = connect(&hub, "ann", "1", &[]).await;
    assert_eq!(
        hub.open(user("bob"), "1".into()).err(),
        Some(crate::Refused::Full)
    );
    hub.shutdown();
    assert_eq!(closed_with(&mut ann).await, CloseReason::GOING_AWAY);
    drop(ann);
    assert_eq!(
        hub.open(user("bob"), "1".into()).err(),
        Some(crate::Refused::ShuttingDown)
    );
}

#[tokio::test]
async fn events_that_overtake_the_join_that_makes_their_channel_known_are_kept() {
    let hub = hub();
    let mut ann = connect(&hub, "ann", "1", &[]).await;
    hub.publish_event(send("c", 8, "bot", "welcome"));
    let joined = membership("c", "ann", MembershipType::Default);
    hub.publish_event(Published::at(7, DomainEvent::MembershipCreated(joined)));
    hub.publish_event(send("c", 9, "bot", "next"));
    assert_eq!(
        drain(&hub, &mut ann).await,
        ["join ann", "msg welcome", "msg next"]
    );
}

#[tokio::test]
async fn a_hidden_batch_names_each_hidden_member_to_itself_only() {
    let hub = hub();
    let mut one = connect(&hub, "spy1", "1", &[]).await;
    let mut two = connect(&hub, "spy2", "1", &[]).await;
    hub.publish_event(Published::at(
        1,
        DomainEvent::MembershipsBatchCreated {
            channel: channel("c"),
            invited_by: uref("admin"),
            kind: MembershipType::Hidden,
            members: vec![uref("spy1"), uref("spy2")],
        },
    ));
    assert_eq!(drain(&hub, &mut one).await, ["batch spy1"]);
    assert_eq!(drain(&hub, &mut two).await, ["batch spy2"]);
}

#[tokio::test]
async fn what_a_session_s_snapshot_already_reflects_is_not_sent_to_it_again() {
    let hub = hub();
    let mut ann = connect(&hub, "ann", "1", &[("c", 0)]).await;
    // 2 arrives before 1 and is held; bob's snapshot already reflects both.
    hub.publish_event(send("c", 2, "ann", "two"));
    let mut bob = connect(&hub, "bob", "1", &[("c", 2)]).await;
    hub.publish_event(send("c", 1, "ann", "one"));
    hub.publish_event(send("c", 3, "ann", "three"));
    assert_eq!(
        drain(&hub, &mut ann).await,
        ["msg one", "msg two", "msg three"]
    );
    assert_eq!(drain(&hub, &mut bob).await, ["msg three"]);
}

#[tokio::test]
async fn an_overflowing_inbox_resets_the_sessions_registered_before_the_loss() {
    let hub = hub_with(HubConfig {
        inbox_events: 2,
        ..HubConfig::default()
    });
    let mut ann = connect(&hub, "ann", "1", &[("c", 0)]).await;
    // No await in between: the hub task cannot run, so the inbox fills.
    for i in 1..=5 {
        hub.publish_event(send("c", i, "bob", "x"));
    }
    assert_eq!(closed_with(&mut ann).await, CloseReason::RESYNC);
    assert_eq!(
        hub.stats()
            .inbox_overflows
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    // Re-armed: a session that connects afterwards is served.
    let mut bob = connect(&hub, "bob", "1", &[("c", 5)]).await;
    hub.publish_event(send("c", 6, "ann", "after"));
    assert_eq!(drain(&hub, &mut bob).await, ["msg after"]);
}

#[tokio::test]
async fn an_unavailable_hub_closes_its_sessions_and_refuses_new_ones_until_available() {
    let hub = hub();
    assert!(hub.is_available());
    let mut ann = connect(&hub, "ann", "1", &[("c", 0)]).await;
    // Registered, not yet subscribed: closed as well.
    let mut bob = hub.open(user("bob"), "1".into()).unwrap();
    hub.set_available(false);
    assert!(!hub.is_available());
    assert_eq!(closed_with(&mut ann).await, CloseReason::BUS_UNAVAILABLE);
    assert_eq!(closed_with(&mut bob).await, CloseReason::BUS_UNAVAILABLE);
    let refused = hub.open(user("cy"), "1".into()).err();
    assert_eq!(refused, Some(Refused::Unavailable));
    assert_eq!(
        Refused::Unavailable.close_reason(),
        CloseReason::BUS_UNAVAILABLE
    );
    assert_eq!(CloseReason::BUS_UNAVAILABLE.code, 1013);
    drop((ann, bob));

    hub.set_available(true);
    let mut cy = connect(&hub, "cy", "1", &[("c", 0)]).await;
    hub.publish_event(send("c", 1, "ann", "back"));
    assert_eq!(drain(&hub, &mut cy).await, ["msg back"]);
}

#[tokio::test]
async fn reset_all_closes_every_session_with_its_reason_and_forgets_channel_order() {
    let hub = hub();
    let mut ann = connect(&hub, "ann", "1", &[("c", 0)]).await;
    let mut bob = connect(&hub, "bob", "1", &[("d", 3)]).await;
    hub.publish_event(send("c", 2, "bob", "held"));
    hub.reset_all(CloseReason::BUS_UNAVAILABLE);
    assert_eq!(closed_with(&mut ann).await, CloseReason::BUS_UNAVAILABLE);
    assert_eq!(closed_with(&mut bob).await, CloseReason::BUS_UNAVAILABLE);
    // Still available; a new session starts the channel's order from its own snapshot.
    let mut cy = connect(&hub, "cy", "1", &[("c", 5)]).await;
    hub.publish_event(send("c", 6, "ann", "six"));
    assert_eq!(drain(&hub, &mut cy).await, ["msg six"]);
}
