//! BatchCreateChannelMembership: partial failures reported per member, and a refused caller
//! learning nothing.

use aws_sdk_chimesdkmessaging::types::{
    ChannelMembershipType as Type, ChannelMode, ChannelPrivacy,
};

use crate::harness::*;
use crate::memberships::{add, make_channel, members};

#[tokio::test]
async fn batch_adds_what_it_can_and_reports_the_rest() {
    let s = TestServer::start().await;
    let m = s.messaging();
    let w = World::new(&s, &["owner", "a", "b", "member", "banned", "outsider"]).await;
    let owner = w.user(0);
    let ch = make_channel(
        &m,
        &w,
        owner,
        ChannelMode::Restricted,
        ChannelPrivacy::Private,
    )
    .await;
    add(&m, &ch, owner, w.user(3), Type::Default).await.unwrap();
    m.create_channel_ban()
        .channel_arn(&ch)
        .member_arn(w.user(4))
        .chime_bearer(owner)
        .send()
        .await
        .unwrap();
    let ghost = format!("{}/user/ghost", w.app);
    let out = m
        .batch_create_channel_membership()
        .channel_arn(&ch)
        .member_arns(w.user(1))
        .member_arns(w.user(2))
        .member_arns(w.user(3))
        .member_arns(w.user(4))
        .member_arns(&ghost)
        .member_arns(&ch)
        .member_arns(w.user(1))
        .chime_bearer(owner)
        .send()
        .await
        .unwrap();
    let batch = out.batch_channel_memberships.clone().unwrap();
    assert_eq!(
        batch.invited_by.as_ref().unwrap().arn.as_deref(),
        Some(owner)
    );
    assert_eq!(batch.r#type, Some(Type::Default));
    assert_eq!(batch.channel_arn.as_deref(), Some(ch.as_str()));
    let added: Vec<_> = batch
        .members()
        .iter()
        .map(|i| i.arn.clone().unwrap())
        .collect();
    assert_eq!(added, vec![w.user(1).to_string(), w.user(2).to_string()]);
    let errors: Vec<(String, String)> = out
        .errors()
        .iter()
        .map(|e| {
            (
                e.member_arn.clone().unwrap(),
                e.error_code.as_ref().unwrap().as_str().to_string(),
            )
        })
        .collect();
    assert_eq!(
        errors,
        vec![
            (w.user(3).to_string(), "Conflict".to_string()),
            (w.user(4).to_string(), "Forbidden".to_string()),
            (ghost, "NotFound".to_string()),
            (ch.clone(), "BadRequest".to_string()),
        ]
    );
    assert!(out
        .errors()
        .iter()
        .all(|e| !e.error_message.clone().unwrap_or_default().is_empty()));
    // a, b and member, with the owner (a member since it created the channel).
    assert_eq!(members(&m, &ch, owner, None).await.unwrap().len(), 4);

    // The bearer's own permission decides the whole call.
    let r = m
        .batch_create_channel_membership()
        .channel_arn(&ch)
        .member_arns(w.user(5))
        .chime_bearer(w.user(3))
        .send()
        .await;
    assert_eq!(
        code(r),
        "ForbiddenException",
        "members of a RESTRICTED channel add no one"
    );
    let too_many: Vec<String> = (0..101).map(|i| format!("{}/user/u{i}", w.app)).collect();
    let r = m
        .batch_create_channel_membership()
        .channel_arn(&ch)
        .set_member_arns(Some(too_many))
        .chime_bearer(owner)
        .send()
        .await;
    assert!(message(r).contains("100"));
    let r = m
        .batch_create_channel_membership()
        .channel_arn(&ch)
        .member_arns(w.user(5))
        .r#type(Type::Hidden)
        .chime_bearer(owner)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.batch_channel_memberships.unwrap().r#type,
        Some(Type::Hidden)
    );
    assert_eq!(
        members(&m, &ch, owner, Some(Type::Hidden)).await.unwrap(),
        vec![w.user(5).to_string()]
    );
}

#[tokio::test]
async fn a_refused_batch_reveals_nothing() {
    let s = TestServer::start().await;
    let m = s.messaging();
    let w = World::new(&s, &["owner", "out"]).await;
    let ch = make_channel(
        &m,
        &w,
        w.user(0),
        ChannelMode::Restricted,
        ChannelPrivacy::Private,
    )
    .await;
    let r = m
        .batch_create_channel_membership()
        .channel_arn(&ch)
        .member_arns(format!("{}/user/ghost1", w.app))
        .member_arns(format!("{}/user/ghost2", w.app))
        .chime_bearer(w.user(1))
        .send()
        .await;
    assert_eq!(code(r), "ForbiddenException");
}
