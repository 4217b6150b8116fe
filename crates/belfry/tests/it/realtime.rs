//! Websocket sessions: who receives which event, with what payload, in what order. Where a
//! session must receive nothing, a later event it must receive is used as the fence, so no
//! test waits on a clock.

use aws_sdk_chimesdkmessaging::types::{
    ChannelMembershipType as Type, ChannelMessagePersistenceType as Persistence,
    ChannelMessageType as MsgType, ChannelPrivacy, Target,
};

use crate::harness::*;
use crate::memberships::add;
use crate::messages::{send, send_then_edit, Room};
use crate::ws::Ws;

/// Removes `member` from `ch`.
async fn remove(m: &aws_sdk_chimesdkmessaging::Client, ch: &str, bearer: &str, member: &str) {
    m.delete_channel_membership()
        .channel_arn(ch)
        .member_arn(member)
        .chime_bearer(bearer)
        .send()
        .await
        .unwrap();
}

/// Sends `content` as `from` and returns the message id.
async fn say(s: &TestServer, ch: &str, from: &str, content: &str) -> String {
    send(&s.messaging(), ch, from, content)
        .send()
        .await
        .unwrap()
        .message_id
        .unwrap()
}

/// Reads frames until a CREATE_CHANNEL_MESSAGE with `content`, returning the event types seen
/// before it.
async fn until_message(ws: &mut Ws, content: &str) -> Vec<String> {
    let mut seen = Vec::new();
    loop {
        let f = match ws.next().await {
            crate::ws::Next::Frame(f) => f,
            crate::ws::Next::Closed(c) => panic!("closed with {c} before {content:?}"),
        };
        if f.event_type == "CREATE_CHANNEL_MESSAGE" && f.payload["Content"] == content {
            return seen;
        }
        seen.push(f.event_type);
    }
}

#[tokio::test]
async fn members_receive_messages_with_the_rest_shape_and_iso_times() {
    let s = TestServer::start().await;
    let r = Room::new(&s, &["owner", "ann", "bob"], ChannelPrivacy::Private).await;
    let mut ann = Ws::established(&s, r.user(1), "a1").await;
    let mut bob = Ws::established(&s, r.user(2), "b1").await;
    let id = say(&s, &r.ch, r.user(1), "hello").await;
    for ws in [&mut ann, &mut bob] {
        let f = ws.expect("CREATE_CHANNEL_MESSAGE").await;
        assert_eq!(f.message_type, "STANDARD");
        let p = &f.payload;
        assert_eq!(p["ChannelArn"], r.ch.as_str());
        assert_eq!(p["MessageId"], id.as_str());
        assert_eq!(p["Content"], "hello");
        assert_eq!(p["Type"], "STANDARD");
        assert_eq!(p["Persistence"], "PERSISTENT");
        assert_eq!(p["Sender"]["Arn"], r.user(1));
        assert_eq!(p["Sender"]["Name"], "ann name");
        assert_eq!(p["Redacted"], false);
        let created = p["CreatedTimestamp"].as_str().expect("ISO-8601 string");
        assert!(created.ends_with('Z') && created.len() == 24, "{created}");
    }
}

#[tokio::test]
async fn admins_and_moderators_who_are_not_members_receive_nothing() {
    let s = TestServer::start().await;
    let r = Room::new(&s, &["owner", "ann", "boss"], ChannelPrivacy::Private).await;
    let m = s.messaging();
    // boss: an AppInstanceAdmin and a moderator, but not a member.
    remove(&m, &r.ch, r.user(0), r.user(2)).await;
    s.identity()
        .create_app_instance_admin()
        .app_instance_arn(&r.w.app)
        .app_instance_admin_arn(r.user(2))
        .send()
        .await
        .unwrap();
    m.create_channel_moderator()
        .channel_arn(&r.ch)
        .channel_moderator_arn(r.user(2))
        .chime_bearer(r.user(0))
        .send()
        .await
        .unwrap();
    let mut boss = Ws::established(&s, r.user(2), "x").await;
    say(&s, &r.ch, r.user(1), "not for boss").await;
    // The fence: boss joins another channel and is told of it; nothing may come before it.
    let other = crate::memberships::make_channel(
        &m,
        &r.w,
        r.user(1),
        aws_sdk_chimesdkmessaging::types::ChannelMode::Unrestricted,
        ChannelPrivacy::Public,
    )
    .await;
    add(&m, &other, r.user(1), r.user(2), Type::Default)
        .await
        .unwrap();
    let f = boss.expect("CREATE_CHANNEL_MEMBERSHIP").await;
    assert_eq!(f.payload["ChannelArn"], other.as_str());
    assert_eq!(f.payload["Member"]["Arn"], r.user(2));
}

#[tokio::test]
async fn targeted_messages_reach_only_sender_and_target() {
    let s = TestServer::start().await;
    let r = Room::new(&s, &["owner", "ann", "bob", "cy"], ChannelPrivacy::Private).await;
    let mut ws: Vec<Ws> = Vec::new();
    for i in 1..=3 {
        ws.push(Ws::established(&s, r.user(i), "s").await);
    }
    send(&s.messaging(), &r.ch, r.user(1), "psst")
        .target(Target::builder().member_arn(r.user(2)).build())
        .send()
        .await
        .unwrap();
    say(&s, &r.ch, r.user(1), "everyone").await;
    for (i, w) in ws.iter_mut().enumerate() {
        let f = w.expect("CREATE_CHANNEL_MESSAGE").await;
        if i < 2 {
            assert_eq!(f.payload["Content"], "psst");
            assert_eq!(f.payload["Target"][0]["MemberArn"], r.user(2));
            w.expect("CREATE_CHANNEL_MESSAGE").await;
        } else {
            assert_eq!(
                f.payload["Content"], "everyone",
                "cy must not see the targeted one"
            );
        }
    }
}

#[tokio::test]
async fn non_persistent_and_control_messages() {
    let s = TestServer::start().await;
    let r = Room::new(&s, &["owner", "ann", "bob"], ChannelPrivacy::Private).await;
    let mut bob = Ws::established(&s, r.user(2), "b").await;
    send(&s.messaging(), &r.ch, r.user(1), "typing")
        .r#type(MsgType::Control)
        .persistence(Persistence::NonPersistent)
        .send()
        .await
        .unwrap();
    let f = bob.expect("CREATE_CHANNEL_MESSAGE").await;
    assert_eq!(f.message_type, "CONTROL");
    assert_eq!(f.payload["Persistence"], "NON_PERSISTENT");
    assert_eq!(f.payload["Content"], "typing");
    // Live only: a session that connects later does not get it, and history does not have it.
    let mut late = Ws::connect(&s, r.user(2), "late", &[("prefetch-on", "connect")]).await;
    late.expect("SESSION_ESTABLISHED").await;
    let details = late.expect("CHANNEL_DETAILS").await;
    assert_eq!(
        details.payload["ChannelMessages"].as_array().unwrap().len(),
        0
    );
}

#[tokio::test]
async fn edits_redactions_and_deletions_are_delivered() {
    let s = TestServer::start().await;
    let r = Room::new(&s, &["owner", "ann", "bob"], ChannelPrivacy::Private).await;
    let m = s.messaging();
    s.identity()
        .create_app_instance_admin()
        .app_instance_arn(&r.w.app)
        .app_instance_admin_arn(r.user(0))
        .send()
        .await
        .unwrap();
    let mut bob = Ws::established(&s, r.user(2), "b").await;
    let id = say(&s, &r.ch, r.user(1), "first").await;
    m.update_channel_message()
        .channel_arn(&r.ch)
        .message_id(&id)
        .content("second")
        .chime_bearer(r.user(1))
        .send()
        .await
        .unwrap();
    m.redact_channel_message()
        .channel_arn(&r.ch)
        .message_id(&id)
        .chime_bearer(r.user(1))
        .send()
        .await
        .unwrap();
    m.delete_channel_message()
        .channel_arn(&r.ch)
        .message_id(&id)
        .chime_bearer(r.user(0))
        .send()
        .await
        .unwrap();
    bob.expect("CREATE_CHANNEL_MESSAGE").await;
    let f = bob.expect("UPDATE_CHANNEL_MESSAGE").await;
    assert_eq!(f.payload["Content"], "second");
    assert!(f.payload["LastEditedTimestamp"].is_string());
    let f = bob.expect("REDACT_CHANNEL_MESSAGE").await;
    assert_eq!(f.payload["Redacted"], true);
    assert!(f.payload.get("Content").is_none());
    let f = bob.expect("DELETE_CHANNEL_MESSAGE").await;
    assert_eq!(f.message_type, "STANDARD");
    assert_eq!(f.payload["MessageId"], id.as_str());
}

#[tokio::test]
async fn membership_and_channel_events_and_removal_stops_delivery() {
    let s = TestServer::start().await;
    let r = Room::new(
        &s,
        &["owner", "ann", "bob", "cy", "dee"],
        ChannelPrivacy::Private,
    )
    .await;
    let m = s.messaging();
    // cy and dee are not members yet.
    for u in [r.user(3), r.user(4)] {
        remove(&m, &r.ch, r.user(0), u).await;
    }
    let mut ann = Ws::established(&s, r.user(1), "a").await;
    let mut bob = Ws::established(&s, r.user(2), "b").await;
    let mut cy = Ws::established(&s, r.user(3), "c").await;
    m.batch_create_channel_membership()
        .channel_arn(&r.ch)
        .member_arns(r.user(3))
        .member_arns(r.user(4))
        .chime_bearer(r.user(0))
        .send()
        .await
        .unwrap();
    m.update_channel()
        .channel_arn(&r.ch)
        .name("renamed")
        .mode(aws_sdk_chimesdkmessaging::types::ChannelMode::Unrestricted)
        .chime_bearer(r.user(0))
        .send()
        .await
        .unwrap();
    remove(&m, &r.ch, r.user(0), r.user(2)).await;
    say(&s, &r.ch, r.user(1), "bob is gone").await;
    for ws in [&mut ann, &mut cy] {
        let f = ws.expect("BATCH_CREATE_CHANNEL_MEMBERSHIP").await;
        assert_eq!(f.message_type, "SYSTEM");
        assert_eq!(f.payload["ChannelArn"], r.ch.as_str());
        assert_eq!(f.payload["Members"].as_array().unwrap().len(), 2);
        assert_eq!(f.payload["InvitedBy"]["Arn"], r.user(0));
        let f = ws.expect("UPDATE_CHANNEL").await;
        assert_eq!(f.payload["Name"], "renamed");
        let f = ws.expect("DELETE_CHANNEL_MEMBERSHIP").await;
        assert_eq!(f.payload["Member"]["Arn"], r.user(2));
        ws.expect("CREATE_CHANNEL_MESSAGE").await;
    }
    // bob gets his own removal and then nothing more from the channel: the next thing he
    // sees is the fence, a message in a channel he is still in.
    for t in [
        "BATCH_CREATE_CHANNEL_MEMBERSHIP",
        "UPDATE_CHANNEL",
        "DELETE_CHANNEL_MEMBERSHIP",
    ] {
        bob.expect(t).await;
    }
    let fence = crate::memberships::make_channel(
        &m,
        &r.w,
        r.user(0),
        aws_sdk_chimesdkmessaging::types::ChannelMode::Unrestricted,
        ChannelPrivacy::Private,
    )
    .await;
    add(&m, &fence, r.user(0), r.user(2), Type::Default)
        .await
        .unwrap();
    let f = bob.expect("CREATE_CHANNEL_MEMBERSHIP").await;
    assert_eq!(f.payload["ChannelArn"], fence.as_str());
    m.delete_channel()
        .channel_arn(&r.ch)
        .chime_bearer(r.user(0))
        .send()
        .await
        .unwrap();
    let f = ann.expect("DELETE_CHANNEL").await;
    assert_eq!(f.payload["ChannelArn"], r.ch.as_str());
}

#[tokio::test]
async fn hidden_members_observe_and_their_membership_is_theirs_alone() {
    let s = TestServer::start().await;
    let r = Room::new(&s, &["owner", "ann", "spy"], ChannelPrivacy::Private).await;
    let m = s.messaging();
    remove(&m, &r.ch, r.user(0), r.user(2)).await;
    let mut ann = Ws::established(&s, r.user(1), "a").await;
    let mut spy = Ws::established(&s, r.user(2), "s").await;
    add(&m, &r.ch, r.user(0), r.user(2), Type::Hidden)
        .await
        .unwrap();
    say(&s, &r.ch, r.user(1), "seen by all").await;
    let f = spy.expect("CREATE_CHANNEL_MEMBERSHIP").await;
    assert_eq!(f.payload["Type"], "HIDDEN");
    spy.expect("CREATE_CHANNEL_MESSAGE").await;
    // ann is not told that a hidden member joined.
    let f = ann.expect("CREATE_CHANNEL_MESSAGE").await;
    assert_eq!(f.payload["Content"], "seen by all");
}

#[tokio::test]
async fn every_session_of_a_user_gets_every_event() {
    let s = TestServer::start().await;
    let r = Room::new(&s, &["owner", "ann"], ChannelPrivacy::Private).await;
    let mut one = Ws::established(&s, r.user(1), "tab-1").await;
    let mut two = Ws::established(&s, r.user(1), "tab-2").await;
    say(&s, &r.ch, r.user(1), "to both tabs").await;
    for ws in [&mut one, &mut two] {
        let f = ws.expect("CREATE_CHANNEL_MESSAGE").await;
        assert_eq!(f.payload["Content"], "to both tabs");
    }
    // One tab stops (as DefaultMessagingSession.stop() does); the other keeps receiving.
    one.stop().await;
    say(&s, &r.ch, r.user(1), "to the other tab").await;
    let f = two.expect("CREATE_CHANNEL_MESSAGE").await;
    assert_eq!(f.payload["Content"], "to the other tab");
}

#[tokio::test]
async fn concurrent_senders_are_seen_in_one_order_everywhere_and_edits_follow_their_sends() {
    let s = TestServer::start().await;
    let r = Room::new(&s, &["owner", "ann", "bob", "cy"], ChannelPrivacy::Private).await;
    let mut ws = Vec::new();
    for i in 1..=3 {
        ws.push(Ws::established(&s, r.user(i), "s").await);
    }
    const EACH: usize = 40;
    let mut tasks = Vec::new();
    for i in 1..=3 {
        let m = s.messaging();
        let ch = r.ch.clone();
        let who = r.user(i).to_string();
        tasks.push(tokio::spawn(async move {
            for n in 0..EACH {
                // An edit racing its own send's event.
                let edit = (n % 4 == 0).then(|| format!("edited {n}"));
                send_then_edit(&m, &ch, &who, &format!("{who}-{n}"), edit).await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let total = 3 * EACH + 3 * EACH.div_ceil(4);
    let mut orders = Vec::new();
    for w in &mut ws {
        let mut order = Vec::new();
        let mut created = std::collections::HashSet::new();
        for _ in 0..total {
            let f = w.next_frame().await;
            let id = f.payload["MessageId"].as_str().unwrap().to_string();
            match f.event_type.as_str() {
                "CREATE_CHANNEL_MESSAGE" => {
                    created.insert(id.clone());
                }
                "UPDATE_CHANNEL_MESSAGE" => {
                    assert!(created.contains(&id), "an edit arrived before its message")
                }
                other => panic!("unexpected {other}"),
            }
            order.push((f.event_type, id));
        }
        orders.push(order);
    }
    assert_eq!(orders[0], orders[1]);
    assert_eq!(orders[1], orders[2]);
    // The order is the channel's: the same as ListChannelMessages (oldest first).
    let listed = crate::messages::ids(
        &s.messaging(),
        &r.ch,
        r.user(1),
        Some(aws_sdk_chimesdkmessaging::types::SortOrder::Ascending),
    )
    .await;
    let created: Vec<String> = orders[0]
        .iter()
        .filter(|(t, _)| t == "CREATE_CHANNEL_MESSAGE")
        .map(|(_, id)| id.clone())
        .collect();
    assert_eq!(created, listed);
}

#[tokio::test]
async fn a_membership_created_while_connecting_is_not_lost() {
    let s = TestServer::start().await;
    let r = Room::new(&s, &["owner", "ann"], ChannelPrivacy::Private).await;
    let m = s.messaging();
    let w = &r.w;
    for round in 0..15 {
        let u = s
            .identity()
            .create_app_instance_user()
            .app_instance_arn(&w.app)
            .app_instance_user_id(format!("late{round}"))
            .name("late")
            .client_request_token(uuid())
            .send()
            .await
            .unwrap()
            .app_instance_user_arn
            .unwrap();
        // Connect and add the membership at the same time, then send: the new session must
        // get the message whichever way the race went.
        let connecting = {
            let s = &s;
            let u = u.clone();
            async move { Ws::established(s, &u, "x").await }
        };
        let adding = add(&m, &r.ch, r.user(0), &u, Type::Default);
        let (mut ws, added) = tokio::join!(connecting, adding);
        added.unwrap();
        let content = format!("round {round}");
        say(&s, &r.ch, r.user(1), &content).await;
        let before = until_message(&mut ws, &content).await;
        assert!(
            before.iter().all(|t| t == "CREATE_CHANNEL_MEMBERSHIP"),
            "{before:?}"
        );
    }
}
