//! Channel messages and read markers through the official SDK.

use aws_sdk_chimesdkmessaging::operation::send_channel_message::builders::SendChannelMessageFluentBuilder;
use aws_sdk_chimesdkmessaging::types::{
    ChannelMembershipType as Type, ChannelMessagePersistenceType as Persistence,
    ChannelMessageStatus, ChannelMessageType as MsgType, ChannelMode, ChannelPrivacy,
    MessageAttributeValue, PushNotificationConfiguration, PushNotificationType, SortOrder, Target,
};
use aws_sdk_chimesdkmessaging::Client;
use belfry_core::time::ManualClock;

use crate::harness::*;
use crate::memberships::{add, make_channel};

/// A channel with `owner` (moderator, not member) and the other users as DEFAULT members.
pub struct Room {
    pub w: World,
    pub ch: String,
}

impl Room {
    pub async fn new(s: &TestServer, names: &[&str], privacy: ChannelPrivacy) -> Room {
        let m = s.messaging();
        let w = World::new(s, names).await;
        let ch = make_channel(&m, &w, w.user(0), ChannelMode::Unrestricted, privacy).await;
        for u in &w.users[1..] {
            add(&m, &ch, w.user(0), u, Type::Default).await.unwrap();
        }
        Room { w, ch }
    }

    pub fn user(&self, i: usize) -> &str {
        self.w.user(i)
    }
}

pub fn send(m: &Client, ch: &str, bearer: &str, content: &str) -> SendChannelMessageFluentBuilder {
    m.send_channel_message()
        .channel_arn(ch)
        .content(content)
        .r#type(MsgType::Standard)
        .persistence(Persistence::Persistent)
        .client_request_token(uuid())
        .chime_bearer(bearer)
}

/// Sends `content` as `who` and, given `edit`, edits it at once (racing other writes);
/// returns the message id.
pub async fn send_then_edit(
    m: &Client,
    ch: &str,
    who: &str,
    content: &str,
    edit: Option<String>,
) -> String {
    let id = send(m, ch, who, content)
        .send()
        .await
        .unwrap()
        .message_id
        .unwrap();
    if let Some(new) = edit {
        m.update_channel_message()
            .channel_arn(ch)
            .message_id(&id)
            .content(new)
            .chime_bearer(who)
            .send()
            .await
            .unwrap();
    }
    id
}

pub async fn ids(m: &Client, ch: &str, bearer: &str, order: Option<SortOrder>) -> Vec<String> {
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let page = m
            .list_channel_messages()
            .channel_arn(ch)
            .set_sort_order(order.clone())
            .max_results(50)
            .set_next_token(token)
            .chime_bearer(bearer)
            .send()
            .await
            .unwrap();
        out.extend(
            page.channel_messages()
                .iter()
                .map(|x| x.message_id.clone().unwrap()),
        );
        token = page.next_token;
        if token.is_none() {
            return out;
        }
    }
}

#[tokio::test]
async fn send_get_list() {
    let s = TestServer::start().await;
    let m = s.messaging();
    let r = Room::new(&s, &["owner", "ann", "bob"], ChannelPrivacy::Public).await;
    let out = send(&m, &r.ch, r.user(1), "hello")
        .metadata("{\"k\":1}")
        .content_type("text/plain")
        .message_attributes(
            "lang",
            MessageAttributeValue::builder()
                .string_values("en")
                .string_values("fr")
                .build(),
        )
        .push_notification(
            PushNotificationConfiguration::builder()
                .title("t")
                .body("b")
                .r#type(PushNotificationType::Default)
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(out.channel_arn.as_deref(), Some(r.ch.as_str()));
    assert_eq!(out.status.unwrap().value, Some(ChannelMessageStatus::Sent));
    let id = out.message_id.unwrap();
    assert!(
        id.len() == 64
            && id
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()),
        "{id}"
    );

    let got = m
        .get_channel_message()
        .channel_arn(&r.ch)
        .message_id(&id)
        .chime_bearer(r.user(2))
        .send()
        .await
        .unwrap();
    let msg = got.channel_message.unwrap();
    assert_eq!(msg.channel_arn.as_deref(), Some(r.ch.as_str()));
    assert_eq!(msg.content.as_deref(), Some("hello"));
    assert_eq!(msg.metadata.as_deref(), Some("{\"k\":1}"));
    assert_eq!(msg.content_type.as_deref(), Some("text/plain"));
    assert_eq!(msg.r#type, Some(MsgType::Standard));
    assert_eq!(msg.persistence, Some(Persistence::Persistent));
    assert!(!msg.redacted);
    assert_eq!(msg.status.unwrap().value, Some(ChannelMessageStatus::Sent));
    let sender = msg.sender.unwrap();
    assert_eq!(
        (sender.arn.as_deref(), sender.name.as_deref()),
        (Some(r.user(1)), Some("ann name"))
    );
    let attrs = msg.message_attributes.unwrap();
    assert_eq!(attrs["lang"].string_values(), ["en", "fr"]);
    assert!(msg.last_edited_timestamp.is_none());
    let created = msg.created_timestamp.unwrap();

    let list = m
        .list_channel_messages()
        .channel_arn(&r.ch)
        .chime_bearer(r.user(1))
        .send()
        .await
        .unwrap();
    assert_eq!(list.channel_arn.as_deref(), Some(r.ch.as_str()));
    assert_eq!(list.channel_messages().len(), 1);
    assert_eq!(list.channel_messages()[0].content.as_deref(), Some("hello"));
    assert!(list.next_token.is_none());
    // Anyone may read a PUBLIC channel.
    m.list_channel_messages()
        .channel_arn(&r.ch)
        .chime_bearer(r.user(0))
        .send()
        .await
        .unwrap();

    let c = m
        .describe_channel()
        .channel_arn(&r.ch)
        .chime_bearer(r.user(1))
        .send()
        .await
        .unwrap()
        .channel
        .unwrap();
    assert_eq!(c.last_message_timestamp, Some(created));
    let mine = m
        .list_channel_memberships_for_app_instance_user()
        .chime_bearer(r.user(1))
        .send()
        .await
        .unwrap();
    let summary = mine.channel_memberships()[0]
        .channel_summary
        .as_ref()
        .unwrap();
    assert_eq!(summary.last_message_timestamp, Some(created));
    let marker = mine.channel_memberships()[0]
        .app_instance_user_membership_summary
        .as_ref()
        .unwrap();
    assert!(
        marker.read_marker_timestamp.is_none(),
        "sending does not move the sender's read marker"
    );
}

#[tokio::test]
async fn only_default_members_send() {
    let s = TestServer::start().await;
    let m = s.messaging();
    let id = s.identity();
    let r = Room::new(
        &s,
        &["owner", "ann", "hid", "out", "admin", "banned"],
        ChannelPrivacy::Public,
    )
    .await;
    let (owner, hid, out, admin, banned) = (r.user(0), r.user(2), r.user(3), r.user(4), r.user(5));
    m.delete_channel_membership()
        .channel_arn(&r.ch)
        .member_arn(hid)
        .chime_bearer(owner)
        .send()
        .await
        .unwrap();
    add(&m, &r.ch, owner, hid, Type::Hidden).await.unwrap();
    m.delete_channel_membership()
        .channel_arn(&r.ch)
        .member_arn(out)
        .chime_bearer(owner)
        .send()
        .await
        .unwrap();
    m.delete_channel_membership()
        .channel_arn(&r.ch)
        .member_arn(admin)
        .chime_bearer(owner)
        .send()
        .await
        .unwrap();
    id.create_app_instance_admin()
        .app_instance_arn(&r.w.app)
        .app_instance_admin_arn(admin)
        .send()
        .await
        .unwrap();
    m.create_channel_ban()
        .channel_arn(&r.ch)
        .member_arn(banned)
        .chime_bearer(owner)
        .send()
        .await
        .unwrap();
    // The owner (a member since it created the channel) leaves and stays a moderator.
    m.delete_channel_membership()
        .channel_arn(&r.ch)
        .member_arn(owner)
        .chime_bearer(owner)
        .send()
        .await
        .unwrap();
    for who in [hid, out, admin, owner, banned] {
        assert_eq!(
            code(send(&m, &r.ch, who, "x").send().await),
            "ForbiddenException",
            "{who}"
        );
    }
    // Admins and moderators speak once they are members.
    add(&m, &r.ch, owner, owner, Type::Default).await.unwrap();
    send(&m, &r.ch, owner, "now I can").send().await.unwrap();
    let missing = format!("{}/channel/nope", r.w.app);
    assert_eq!(
        code(send(&m, &missing, r.user(1), "x").send().await),
        "NotFoundException"
    );
    let other = World::new(&s, &["zed"]).await;
    assert_eq!(
        code(send(&m, &r.ch, other.user(0), "x").send().await),
        "UnauthorizedClientException"
    );
    assert_eq!(
        code(
            send(&m, &r.ch, &format!("{}/user/ghost", r.w.app), "x")
                .send()
                .await
        ),
        "UnauthorizedClientException"
    );
}

#[tokio::test]
async fn non_persistent_messages_are_never_stored() {
    let s = TestServer::start().await;
    let m = s.messaging();
    let r = Room::new(&s, &["owner", "ann"], ChannelPrivacy::Public).await;
    let out = send(&m, &r.ch, r.user(1), "typing")
        .r#type(MsgType::Control)
        .persistence(Persistence::NonPersistent)
        .send()
        .await
        .unwrap();
    let id = out.message_id.unwrap();
    assert_eq!(id.len(), 64);
    assert_eq!(
        code(
            m.get_channel_message()
                .channel_arn(&r.ch)
                .message_id(&id)
                .chime_bearer(r.user(1))
                .send()
                .await
        ),
        "NotFoundException"
    );
    assert!(ids(&m, &r.ch, r.user(1), None).await.is_empty());
    let c = m
        .describe_channel()
        .channel_arn(&r.ch)
        .chime_bearer(r.user(1))
        .send()
        .await
        .unwrap()
        .channel
        .unwrap();
    assert!(c.last_message_timestamp.is_none());
}

#[tokio::test]
async fn retries_with_the_same_token_store_nothing_new() {
    let s = TestServer::start().await;
    let m = s.messaging();
    let r = Room::new(&s, &["owner", "ann", "bob"], ChannelPrivacy::Public).await;
    let token = uuid();
    let first = send(&m, &r.ch, r.user(1), "once")
        .client_request_token(&token)
        .send()
        .await
        .unwrap()
        .message_id;
    let again = send(&m, &r.ch, r.user(1), "once")
        .client_request_token(&token)
        .send()
        .await
        .unwrap()
        .message_id;
    assert_eq!(first, again);
    assert_eq!(ids(&m, &r.ch, r.user(1), None).await.len(), 1);
    let r2 = send(&m, &r.ch, r.user(1), "different")
        .client_request_token(&token)
        .send()
        .await;
    assert_eq!(code(r2), "ConflictException");
    // Tokens are per sender: bob may use the same one.
    send(&m, &r.ch, r.user(2), "bob's")
        .client_request_token(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(ids(&m, &r.ch, r.user(1), None).await.len(), 2);
}

#[tokio::test]
async fn targeted_messages_are_seen_by_sender_and_target_only() {
    let s = TestServer::start().await;
    let m = s.messaging();
    let id = s.identity();
    let r = Room::new(
        &s,
        &["owner", "ann", "bob", "carol", "admin"],
        ChannelPrivacy::Public,
    )
    .await;
    id.create_app_instance_admin()
        .app_instance_arn(&r.w.app)
        .app_instance_admin_arn(r.user(4))
        .send()
        .await
        .unwrap();
    let out = send(&m, &r.ch, r.user(1), "psst")
        .target(Target::builder().member_arn(r.user(2)).build())
        .send()
        .await
        .unwrap();
    let mid = out.message_id.unwrap();
    for who in [1, 2] {
        let got = m
            .get_channel_message()
            .channel_arn(&r.ch)
            .message_id(&mid)
            .chime_bearer(r.user(who))
            .send()
            .await
            .unwrap();
        let t = got.channel_message.unwrap().target.unwrap();
        assert_eq!(t[0].member_arn.as_deref(), Some(r.user(2)));
        assert_eq!(ids(&m, &r.ch, r.user(who), None).await, vec![mid.clone()]);
    }
    for who in [3, 4] {
        let g = m
            .get_channel_message()
            .channel_arn(&r.ch)
            .message_id(&mid)
            .chime_bearer(r.user(who))
            .send()
            .await;
        assert_eq!(code(g), "NotFoundException", "user {who}");
        assert!(ids(&m, &r.ch, r.user(who), None).await.is_empty());
    }
    // Admins may delete what they cannot see.
    m.delete_channel_message()
        .channel_arn(&r.ch)
        .message_id(&mid)
        .chime_bearer(r.user(4))
        .send()
        .await
        .unwrap();
    assert!(ids(&m, &r.ch, r.user(1), None).await.is_empty());
}

#[tokio::test]
async fn update_redact_delete() {
    let clock = std::sync::Arc::new(ManualClock::starting_now());
    let s = TestServer::with_clock(clock.clone()).await;
    let m = s.messaging();
    let id = s.identity();
    let r = Room::new(
        &s,
        &["owner", "ann", "bob", "admin"],
        ChannelPrivacy::Public,
    )
    .await;
    let (owner, ann, bob, admin) = (r.user(0), r.user(1), r.user(2), r.user(3));
    id.create_app_instance_admin()
        .app_instance_arn(&r.w.app)
        .app_instance_admin_arn(admin)
        .send()
        .await
        .unwrap();
    let mid = send(&m, &r.ch, ann, "first")
        .metadata("m1")
        .send()
        .await
        .unwrap()
        .message_id
        .unwrap();
    let get = |who: &str| {
        let m = m.clone();
        let (ch, mid, who) = (r.ch.clone(), mid.clone(), who.to_string());
        async move {
            m.get_channel_message()
                .channel_arn(ch)
                .message_id(mid)
                .chime_bearer(who)
                .send()
                .await
        }
    };

    // Only the sender edits.
    for who in [bob, owner, admin] {
        let u = m
            .update_channel_message()
            .channel_arn(&r.ch)
            .message_id(&mid)
            .content("hijack")
            .chime_bearer(who)
            .send()
            .await;
        assert_eq!(code(u), "ForbiddenException", "{who}");
    }
    clock.advance(std::time::Duration::from_millis(1_250));
    let u = m
        .update_channel_message()
        .channel_arn(&r.ch)
        .message_id(&mid)
        .content("second")
        .chime_bearer(ann)
        .send()
        .await
        .unwrap();
    assert_eq!(u.message_id.as_deref(), Some(mid.as_str()));
    assert_eq!(u.status.unwrap().value, Some(ChannelMessageStatus::Sent));
    let msg = get(ann).await.unwrap().channel_message.unwrap();
    assert_eq!(msg.content.as_deref(), Some("second"));
    assert_eq!(
        msg.metadata.as_deref(),
        Some("m1"),
        "omitted metadata is kept"
    );
    assert_eq!(
        msg.last_edited_timestamp.unwrap().to_millis().unwrap()
            - msg.created_timestamp.unwrap().to_millis().unwrap(),
        1_250,
        "LastEditedTimestamp is the clock at the edit"
    );
    assert_eq!(msg.last_edited_timestamp, msg.last_updated_timestamp);
    let listed = m
        .list_channel_messages()
        .channel_arn(&r.ch)
        .chime_bearer(bob)
        .send()
        .await
        .unwrap();
    assert_eq!(
        listed.channel_messages()[0].content.as_deref(),
        Some("second"),
        "lists show the latest version"
    );
    let u = m
        .update_channel_message()
        .channel_arn(&r.ch)
        .message_id("nope")
        .content("x")
        .chime_bearer(ann)
        .send()
        .await;
    assert_eq!(code(u), "NotFoundException");

    // Redaction: the sender, moderators and admins; members not.
    let rd = m
        .redact_channel_message()
        .channel_arn(&r.ch)
        .message_id(&mid)
        .chime_bearer(bob)
        .send()
        .await;
    assert_eq!(code(rd), "ForbiddenException");
    let rd = m
        .redact_channel_message()
        .channel_arn(&r.ch)
        .message_id(&mid)
        .chime_bearer(owner)
        .send()
        .await
        .unwrap();
    assert_eq!(rd.message_id.as_deref(), Some(mid.as_str()));
    let msg = get(bob).await.unwrap().channel_message.unwrap();
    assert!(msg.redacted);
    assert_eq!((msg.content, msg.metadata), (None, None));
    let listed = m
        .list_channel_messages()
        .channel_arn(&r.ch)
        .chime_bearer(bob)
        .send()
        .await
        .unwrap();
    let first = &listed.channel_messages()[0];
    assert!(first.redacted && first.content.is_none());
    m.redact_channel_message()
        .channel_arn(&r.ch)
        .message_id(&mid)
        .chime_bearer(ann)
        .send()
        .await
        .expect("redacting again is a no-op");
    let u = m
        .update_channel_message()
        .channel_arn(&r.ch)
        .message_id(&mid)
        .content("revive")
        .chime_bearer(ann)
        .send()
        .await;
    assert_eq!(code(u), "ConflictException");

    // Deletion: AppInstanceAdmins only.
    for who in [ann, owner, bob] {
        let d = m
            .delete_channel_message()
            .channel_arn(&r.ch)
            .message_id(&mid)
            .chime_bearer(who)
            .send()
            .await;
        assert_eq!(code(d), "ForbiddenException", "{who}");
    }
    m.delete_channel_message()
        .channel_arn(&r.ch)
        .message_id(&mid)
        .chime_bearer(admin)
        .send()
        .await
        .unwrap();
    assert_eq!(code(get(ann).await), "NotFoundException");
    assert!(ids(&m, &r.ch, ann, None).await.is_empty());
    let d = m
        .delete_channel_message()
        .channel_arn(&r.ch)
        .message_id(&mid)
        .chime_bearer(admin)
        .send()
        .await;
    assert_eq!(code(d), "NotFoundException");

    // CONTROL messages keep their limits when edited.
    let c = send(&m, &r.ch, ann, "tiny")
        .r#type(MsgType::Control)
        .send()
        .await
        .unwrap()
        .message_id
        .unwrap();
    let u = m
        .update_channel_message()
        .channel_arn(&r.ch)
        .message_id(&c)
        .content("c".repeat(31))
        .chime_bearer(ann)
        .send()
        .await;
    assert!(message(u).contains("30"));
}

#[tokio::test]
async fn read_markers() {
    let s = TestServer::start().await;
    let m = s.messaging();
    let r = Room::new(&s, &["owner", "ann", "out"], ChannelPrivacy::Public).await;
    m.delete_channel_membership()
        .channel_arn(&r.ch)
        .member_arn(r.user(2))
        .chime_bearer(r.user(0))
        .send()
        .await
        .unwrap();
    let before = std::time::SystemTime::now();
    let out = m
        .update_channel_read_marker()
        .channel_arn(&r.ch)
        .chime_bearer(r.user(1))
        .send()
        .await
        .unwrap();
    assert_eq!(out.channel_arn.as_deref(), Some(r.ch.as_str()));
    let d = m
        .describe_channel_membership_for_app_instance_user()
        .channel_arn(&r.ch)
        .app_instance_user_arn(r.user(1))
        .chime_bearer(r.user(1))
        .send()
        .await
        .unwrap();
    let marker = d
        .channel_membership
        .unwrap()
        .app_instance_user_membership_summary
        .unwrap()
        .read_marker_timestamp
        .unwrap();
    let before_secs = before
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((marker.secs() - before_secs).abs() <= 2);
    let l = m
        .list_channel_memberships_for_app_instance_user()
        .chime_bearer(r.user(1))
        .send()
        .await
        .unwrap();
    assert_eq!(
        l.channel_memberships()[0]
            .app_instance_user_membership_summary
            .as_ref()
            .unwrap()
            .read_marker_timestamp,
        Some(marker)
    );
    let r2 = m
        .update_channel_read_marker()
        .channel_arn(&r.ch)
        .chime_bearer(r.user(2))
        .send()
        .await;
    assert_eq!(code(r2), "ForbiddenException");
    // The owner was a member since it created the channel; once it leaves, its moderator role
    // alone does not do.
    m.delete_channel_membership()
        .channel_arn(&r.ch)
        .member_arn(r.user(0))
        .chime_bearer(r.user(0))
        .send()
        .await
        .unwrap();
    let r3 = m
        .update_channel_read_marker()
        .channel_arn(&r.ch)
        .chime_bearer(r.user(0))
        .send()
        .await;
    assert_eq!(
        code(r3),
        "ForbiddenException",
        "moderators need a membership too"
    );
}

#[tokio::test]
async fn review_regressions() {
    let s = TestServer::start().await;
    let m = s.messaging();
    let r = Room::new(&s, &["owner", "ann", "bob", "out"], ChannelPrivacy::Private).await;
    m.delete_channel_membership()
        .channel_arn(&r.ch)
        .member_arn(r.user(3))
        .chime_bearer(r.user(0))
        .send()
        .await
        .unwrap();
    // A targeted message does not move LastMessageTimestamp, which every member sees.
    send(&m, &r.ch, r.user(1), "psst")
        .target(Target::builder().member_arn(r.user(2)).build())
        .send()
        .await
        .unwrap();
    let c = m
        .describe_channel()
        .channel_arn(&r.ch)
        .chime_bearer(r.user(1))
        .send()
        .await
        .unwrap()
        .channel
        .unwrap();
    assert!(c.last_message_timestamp.is_none());
    // Attributes that flatten alike are still different messages for a retried token.
    let token = uuid();
    let attr = |v: &str| MessageAttributeValue::builder().string_values(v).build();
    send(&m, &r.ch, r.user(1), "x")
        .client_request_token(&token)
        .message_attributes("a=b", attr("c"))
        .send()
        .await
        .unwrap();
    let again = send(&m, &r.ch, r.user(1), "x")
        .client_request_token(&token)
        .message_attributes("a", attr("b=c"))
        .send()
        .await;
    assert_eq!(code(again), "ConflictException");
    // Outsiders of a PRIVATE channel learn nothing about which messages exist.
    let mid = send(&m, &r.ch, r.user(1), "hi")
        .send()
        .await
        .unwrap()
        .message_id
        .unwrap();
    for id in [mid.as_str(), "no-such-message"] {
        let u = m
            .update_channel_message()
            .channel_arn(&r.ch)
            .message_id(id)
            .content("x")
            .chime_bearer(r.user(3))
            .send()
            .await;
        assert_eq!(code(u), "ForbiddenException", "{id}");
        let rd = m
            .redact_channel_message()
            .channel_arn(&r.ch)
            .message_id(id)
            .chime_bearer(r.user(3))
            .send()
            .await;
        assert_eq!(code(rd), "ForbiddenException", "{id}");
    }
    // A push notification title is one line.
    let p = PushNotificationConfiguration::builder()
        .title("two\nlines")
        .body("b")
        .build();
    let r2 = send(&m, &r.ch, r.user(1), "x")
        .push_notification(p)
        .send()
        .await;
    assert!(message(r2).contains("PushNotification.Title"));
}
