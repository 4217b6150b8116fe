//! Paging through message history: both orders, time windows, ties in time, concurrent sends;
//! and the domain events every change publishes, numbered in each channel's commit order.

use std::sync::Arc;

use aws_sdk_chimesdkmessaging::primitives::DateTime;
use aws_sdk_chimesdkmessaging::types::{
    ChannelMembershipType as Type, ChannelMessagePersistenceType as Persistence,
    ChannelMessageType as MsgType, ChannelPrivacy, SortOrder,
};
use aws_sdk_chimesdkmessaging::Client;
use belfry_core::events::DomainEvent;

use crate::harness::*;
use crate::memberships::add;
use crate::messages::{send, send_then_edit, Room};

/// Compares two id lists, reporting the first difference rather than both lists.
fn same_order(got: &[String], want: &[String], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    if let Some(i) = got.iter().zip(want).position(|(a, b)| a != b) {
        panic!("{what}: first difference at {i} of {}", got.len());
    }
}

struct Walk {
    ids: Vec<String>,
    created: Vec<f64>,
}

async fn walk(
    m: &Client,
    ch: &str,
    bearer: &str,
    order: Option<SortOrder>,
    window: (Option<DateTime>, Option<DateTime>),
    page_size: i32,
) -> Walk {
    let mut w = Walk {
        ids: Vec::new(),
        created: Vec::new(),
    };
    let mut token = None;
    loop {
        let page = m
            .list_channel_messages()
            .channel_arn(ch)
            .set_sort_order(order.clone())
            .set_not_before(window.0)
            .set_not_after(window.1)
            .max_results(page_size)
            .set_next_token(token)
            .chime_bearer(bearer)
            .send()
            .await
            .unwrap();
        assert!(page.channel_messages().len() <= page_size as usize);
        for msg in page.channel_messages() {
            w.ids.push(msg.message_id.clone().unwrap());
            w.created.push(msg.created_timestamp.unwrap().as_secs_f64());
        }
        token = page.next_token;
        if token.is_none() {
            return w;
        }
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn thousands_of_messages_both_ways_with_windows_and_concurrent_sends() {
    let s = TestServer::start().await;
    let m = s.messaging();
    let r = Room::new(&s, &["owner", "ann", "bob"], ChannelPrivacy::Public).await;
    // Sent one after another, so send order is the order of creation (and many share a
    // millisecond: ties must be broken deterministically).
    let mut sent = Vec::new();
    for i in 0..1500 {
        let id = send(&m, &r.ch, r.user(1 + i % 2), &format!("m{i}"))
            .send()
            .await
            .unwrap()
            .message_id
            .unwrap();
        sent.push(id);
    }
    let newest_first: Vec<String> = sent.iter().rev().cloned().collect();

    let desc = walk(&m, &r.ch, r.user(1), None, (None, None), 50).await;
    same_order(
        &desc.ids,
        &newest_first,
        "DESCENDING is the default, newest first",
    );
    assert!(desc.created.windows(2).all(|p| p[0] >= p[1]));
    let asc = walk(
        &m,
        &r.ch,
        r.user(1),
        Some(SortOrder::Ascending),
        (None, None),
        37,
    )
    .await;
    same_order(
        &asc.ids,
        &sent,
        "ASCENDING in send order, ties broken the same way",
    );

    // An inclusive window: from the 200th message's time to the 900th's.
    // Exact milliseconds: a float round trip could move a bound by one.
    let millis = |secs: f64| (secs * 1000.0).round() as i64;
    let from = DateTime::from_millis(millis(asc.created[200]));
    let to = DateTime::from_millis(millis(asc.created[900]));
    let inside: Vec<&String> = sent
        .iter()
        .zip(&asc.created)
        .filter(|(_, t)| **t >= asc.created[200] && **t <= asc.created[900])
        .map(|(id, _)| id)
        .collect();
    let win = walk(
        &m,
        &r.ch,
        r.user(2),
        Some(SortOrder::Ascending),
        (Some(from), Some(to)),
        50,
    )
    .await;
    let inside: Vec<String> = inside.into_iter().cloned().collect();
    same_order(&win.ids, &inside, "ASCENDING window");
    assert!(
        win.ids.contains(&sent[200]) && win.ids.contains(&sent[900]),
        "bounds are inclusive"
    );
    let win_desc = walk(
        &m,
        &r.ch,
        r.user(2),
        Some(SortOrder::Descending),
        (Some(from), Some(to)),
        50,
    )
    .await;
    let reversed: Vec<String> = win_desc.ids.iter().rev().cloned().collect();
    same_order(&reversed, &inside, "DESCENDING window");

    // New messages arrive while a reader walks back through history: nothing already there
    // is skipped or repeated.
    let writer = {
        let (m, ch, ann) = (m.clone(), r.ch.clone(), r.user(1).to_string());
        tokio::spawn(async move {
            for i in 0..200 {
                send(&m, &ch, &ann, &format!("late{i}"))
                    .send()
                    .await
                    .unwrap();
            }
        })
    };
    let during = walk(&m, &r.ch, r.user(2), None, (None, None), 50).await;
    writer.await.unwrap();
    let mut unique = during.ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), during.ids.len(), "no message repeated");
    let pos: Vec<usize> = sent
        .iter()
        .map(|id| {
            during
                .ids
                .iter()
                .position(|x| x == id)
                .expect("not skipped")
        })
        .collect();
    assert!(
        pos.windows(2).all(|p| p[0] > p[1]),
        "older messages keep their order"
    );
    assert_eq!(
        walk(&m, &r.ch, r.user(2), None, (None, None), 50)
            .await
            .ids
            .len(),
        1700
    );
}

#[tokio::test]
async fn listing_refusals() {
    let s = TestServer::start().await;
    let m = s.messaging();
    let r = Room::new(&s, &["owner", "ann", "out"], ChannelPrivacy::Private).await;
    m.delete_channel_membership()
        .channel_arn(&r.ch)
        .member_arn(r.user(2))
        .chime_bearer(r.user(0))
        .send()
        .await
        .unwrap();
    let list = || {
        m.list_channel_messages()
            .channel_arn(&r.ch)
            .chime_bearer(r.user(1))
    };
    assert!(message(list().max_results(51).send().await).contains("MaxResults"));
    assert!(
        message(list().sort_order(SortOrder::from("SIDEWAYS")).send().await).contains("SortOrder")
    );
    assert_eq!(
        code(list().next_token("bogus").send().await),
        "BadRequestException"
    );
    let r2 = m
        .list_channel_messages()
        .channel_arn(&r.ch)
        .chime_bearer(r.user(2))
        .send()
        .await;
    assert_eq!(
        code(r2),
        "ForbiddenException",
        "PRIVATE history is for members"
    );
    // A token from one window is refused for another.
    for i in 0..3 {
        send(&m, &r.ch, r.user(1), &format!("{i}"))
            .send()
            .await
            .unwrap();
    }
    let page = list().max_results(1).send().await.unwrap();
    let t = page.next_token.unwrap();
    let r3 = list()
        .max_results(1)
        .sort_order(SortOrder::Ascending)
        .next_token(t)
        .send()
        .await;
    assert_eq!(code(r3), "BadRequestException");
}

#[tokio::test]
async fn query_timestamps_in_every_client_format() {
    let s = TestServer::start().await;
    let r = Room::new(&s, &["owner", "ann"], ChannelPrivacy::Public).await;
    let m = s.messaging();
    send(&m, &r.ch, r.user(1), "x").send().await.unwrap();
    let path = format!("/channels/{}/messages", crate::raw::label(&r.ch));
    let bearer = [("x-amz-chime-bearer", r.user(1))];
    for (value, ok) in [
        ("2020-01-01T00:00:00Z", true),
        ("2020-01-01T00:00:00.000Z", true),
        ("2020-01-01T00:00:00.123456Z", true),
        ("2020-01-01T02:00:00%2B02:00", true),
        ("1577836800", true),
        ("1577836800.5", true),
        ("yesterday", false),
        ("2020-13-01T00:00:00Z", false),
    ] {
        let q = format!("{path}?not-before={value}");
        let res = crate::raw::send(&s, "GET", &q, &bearer, b"", crate::raw::Signing::Admin).await;
        if ok {
            assert_eq!(res.status, 200, "{value}: {}", res.body);
            assert_eq!(
                res.json()["ChannelMessages"].as_array().unwrap().len(),
                1,
                "{value}"
            );
        } else {
            assert_eq!(res.status, 400, "{value}");
            assert!(res.body.contains("NotBefore"), "{}", res.body);
        }
    }
}

#[tokio::test]
async fn every_change_is_published_after_commit() {
    let rec = Arc::new(Recorder::default());
    let s = TestServer::start_with_events(rec.clone()).await;
    let m = s.messaging();
    let id = s.identity();
    let w = World::new(&s, &["owner", "ann", "bob", "carol", "admin"]).await;
    id.create_app_instance_admin()
        .app_instance_arn(&w.app)
        .app_instance_admin_arn(w.user(4))
        .send()
        .await
        .unwrap();
    let ch = m
        .create_channel()
        .app_instance_arn(&w.app)
        .name("c")
        .member_arns(w.user(1))
        .client_request_token(uuid())
        .chime_bearer(w.user(0))
        .send()
        .await
        .unwrap()
        .channel_arn
        .unwrap();
    add(&m, &ch, w.user(0), w.user(2), Type::Default)
        .await
        .unwrap();
    m.batch_create_channel_membership()
        .channel_arn(&ch)
        .member_arns(w.user(3))
        .chime_bearer(w.user(0))
        .send()
        .await
        .unwrap();
    let mid = send(&m, &ch, w.user(1), "hi")
        .send()
        .await
        .unwrap()
        .message_id
        .unwrap();
    send(&m, &ch, w.user(1), "typing")
        .r#type(MsgType::Control)
        .persistence(Persistence::NonPersistent)
        .send()
        .await
        .unwrap();
    // A refused send publishes nothing.
    assert!(send(&m, &ch, w.user(4), "not a member")
        .send()
        .await
        .is_err());
    m.update_channel_message()
        .channel_arn(&ch)
        .message_id(&mid)
        .content("hi!")
        .chime_bearer(w.user(1))
        .send()
        .await
        .unwrap();
    m.update_channel_read_marker()
        .channel_arn(&ch)
        .chime_bearer(w.user(1))
        .send()
        .await
        .unwrap();
    m.redact_channel_message()
        .channel_arn(&ch)
        .message_id(&mid)
        .chime_bearer(w.user(0))
        .send()
        .await
        .unwrap();
    m.delete_channel_message()
        .channel_arn(&ch)
        .message_id(&mid)
        .chime_bearer(w.user(4))
        .send()
        .await
        .unwrap();
    m.delete_channel_membership()
        .channel_arn(&ch)
        .member_arn(w.user(2))
        .chime_bearer(w.user(0))
        .send()
        .await
        .unwrap();
    m.create_channel_ban()
        .channel_arn(&ch)
        .member_arn(w.user(3))
        .chime_bearer(w.user(0))
        .send()
        .await
        .unwrap();
    m.update_channel()
        .channel_arn(&ch)
        .name("renamed")
        .chime_bearer(w.user(0))
        .send()
        .await
        .unwrap();
    m.delete_channel()
        .channel_arn(&ch)
        .chime_bearer(w.user(0))
        .send()
        .await
        .unwrap();
    // Deleting a user, or an AppInstance, is one event each (what they take with them is not
    // published one by one); a refused delete publishes nothing.
    assert!(id
        .delete_app_instance_user()
        .app_instance_user_arn(format!("{}/user/ghost", w.app))
        .send()
        .await
        .is_err());
    id.delete_app_instance_user()
        .app_instance_user_arn(w.user(1))
        .send()
        .await
        .unwrap();
    id.delete_app_instance()
        .app_instance_arn(&w.app)
        .send()
        .await
        .unwrap();

    let events = rec.take();
    let kinds: Vec<(String, Option<u64>)> = events
        .iter()
        .map(|p| {
            let kind = match &p.event {
                DomainEvent::MessageCreated(m) => {
                    format!("MessageCreated {}", m.persistence.as_str())
                }
                DomainEvent::MessageUpdated(m) => {
                    format!("MessageUpdated {}", m.content.as_deref().unwrap_or(""))
                }
                DomainEvent::MessageRedacted(m) => format!("MessageRedacted {}", m.redacted),
                DomainEvent::MessageDeleted(_) => "MessageDeleted".into(),
                DomainEvent::MembershipCreated(m) => {
                    format!("MembershipCreated {}", m.member.key.user_id)
                }
                DomainEvent::MembershipsBatchCreated { members, .. } => {
                    format!("MembershipsBatchCreated {}", members.len())
                }
                DomainEvent::MembershipDeleted(m) => {
                    format!("MembershipDeleted {}", m.member.key.user_id)
                }
                DomainEvent::ChannelUpdated(c) => format!("ChannelUpdated {}", c.name),
                DomainEvent::ChannelDeleted(_) => "ChannelDeleted".into(),
                DomainEvent::ReadMarkerUpdated { user, .. } => {
                    format!("ReadMarkerUpdated {}", user.user_id)
                }
                DomainEvent::UserDeleted(u) => format!("UserDeleted {}", u.user_id),
                DomainEvent::AppInstanceDeleted { app_instance_id } => {
                    format!("AppInstanceDeleted {}", w.app.ends_with(app_instance_id))
                }
                DomainEvent::AccessKeyRevoked { id } => format!("AccessKeyRevoked {id}"),
            };
            (kind, p.seq)
        })
        .collect();
    // Each of the channel's committed changes has the next number of the channel's sequence,
    // in commit order; what has no place in it (a NON_PERSISTENT message, a read marker, user
    // and AppInstance deletions) has none.
    let want: Vec<(String, Option<u64>)> = [
        ("MembershipCreated owner", Some(1)),
        ("MembershipCreated ann", Some(2)),
        ("MembershipCreated bob", Some(3)),
        ("MembershipsBatchCreated 1", Some(4)),
        ("MessageCreated PERSISTENT", Some(5)),
        ("MessageCreated NON_PERSISTENT", None),
        ("MessageUpdated hi!", Some(6)),
        ("ReadMarkerUpdated ann", None),
        ("MessageRedacted true", Some(7)),
        ("MessageDeleted", Some(8)),
        ("MembershipDeleted bob", Some(9)),
        ("MembershipDeleted carol", Some(10)),
        ("ChannelUpdated renamed", Some(11)),
        ("ChannelDeleted", Some(12)),
        ("UserDeleted ann", None),
        ("AppInstanceDeleted true", None),
    ]
    .into_iter()
    .map(|(k, seq)| (k.to_string(), seq))
    .collect();
    assert_eq!(kinds, want);
    assert!(events.iter().all(|p| match p.event.channel() {
        Some(c) => ch.ends_with(&format!("/channel/{}", c.channel_id)),
        None => matches!(
            p.event,
            DomainEvent::UserDeleted(_)
                | DomainEvent::AppInstanceDeleted { .. }
                | DomainEvent::AccessKeyRevoked { .. }
        ),
    }));
    // The creator's membership: DEFAULT, invited by the creator, with names.
    match &events[0].event {
        DomainEvent::MembershipCreated(m) => {
            assert_eq!(m.kind, belfry_core::model::MembershipType::Default);
            assert_eq!(m.member.name.as_deref(), Some("owner name"));
            assert_eq!(m.invited_by, m.member);
        }
        other => panic!("{other:?}"),
    }
    match &events[4].event {
        DomainEvent::MessageCreated(msg) => {
            assert_eq!(msg.sender.name.as_deref(), Some("ann name"));
            assert_eq!(msg.content.as_deref(), Some("hi"));
        }
        other => panic!("{other:?}"),
    }
}

/// Concurrent senders and editors on one channel: every event has a number of the channel's
/// sequence, the numbers are a gapless run however the publishing tasks raced, and they follow
/// commit order (the order ListChannelMessages gives, which is commit order).
#[tokio::test]
async fn concurrent_writes_take_consecutive_numbers_in_commit_order() {
    let rec = Arc::new(Recorder::default());
    let s = TestServer::start_with_events(rec.clone()).await;
    let m = s.messaging();
    let r = Room::new(&s, &["owner", "a", "b", "c", "d"], ChannelPrivacy::Public).await;
    let before = rec.take().len() as u64; // the owner's and four added memberships
    assert_eq!(before, 5);
    let mut tasks = Vec::new();
    for i in 0..40 {
        let (m, ch, who) = (m.clone(), r.ch.clone(), r.user(1 + i % 4).to_string());
        tasks.push(tokio::spawn(async move {
            // Half of them are edited at once, racing the other sends.
            let edit = (i % 2 == 0).then(|| format!("m{i}!"));
            send_then_edit(&m, &ch, &who, &format!("m{i}"), edit).await;
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let mut events = rec.take();
    assert_eq!(events.len(), 60);
    events.sort_by_key(|p| p.seq);
    let seqs: Vec<u64> = events.iter().map(|p| p.seq.unwrap()).collect();
    assert_eq!(seqs, (before + 1..=before + 60).collect::<Vec<_>>());
    // In number order, each message is created before it is edited, and the creations come in
    // the channel's history order.
    let created: Vec<String> = events
        .iter()
        .filter_map(|p| match &p.event {
            DomainEvent::MessageCreated(msg) => Some(msg.message_id.clone()),
            _ => None,
        })
        .collect();
    for p in &events {
        if let DomainEvent::MessageUpdated(msg) = &p.event {
            let made = events
                .iter()
                .find(|q| {
                    matches!(&q.event, DomainEvent::MessageCreated(c) if c.message_id == msg.message_id)
                })
                .unwrap();
            assert!(made.seq < p.seq, "an edit numbered before its message");
        }
    }
    let history = walk(
        &m,
        &r.ch,
        r.user(1),
        Some(SortOrder::Ascending),
        (None, None),
        50,
    )
    .await;
    same_order(&created, &history.ids, "events by number vs history");
}
