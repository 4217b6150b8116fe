//! Channel memberships through the official SDK: the permission rules, hidden members, batch
//! partial failures, the ForAppInstanceUser views, and cascades.

use aws_sdk_chimesdkmessaging::types::{
    ChannelMembershipType as Type, ChannelMode, ChannelPrivacy,
};
use aws_sdk_chimesdkmessaging::Client;

use crate::harness::*;

/// Creates a channel as `owner` (who becomes its moderator and a DEFAULT member).
pub async fn make_channel(
    m: &Client,
    w: &World,
    owner: &str,
    mode: ChannelMode,
    privacy: ChannelPrivacy,
) -> String {
    m.create_channel()
        .app_instance_arn(&w.app)
        .name("room")
        .mode(mode)
        .privacy(privacy)
        .client_request_token(uuid())
        .chime_bearer(owner)
        .send()
        .await
        .unwrap()
        .channel_arn
        .unwrap()
}

pub async fn add(
    m: &Client,
    ch: &str,
    bearer: &str,
    member: &str,
    kind: Type,
) -> Result<(), String> {
    m.create_channel_membership()
        .channel_arn(ch)
        .member_arn(member)
        .r#type(kind)
        .chime_bearer(bearer)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| {
            use aws_smithy_types::error::metadata::ProvideErrorMetadata;
            e.code().unwrap_or("no code").to_string()
        })
}

pub async fn members(
    m: &Client,
    ch: &str,
    bearer: &str,
    kind: Option<Type>,
) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let page = m
            .list_channel_memberships()
            .channel_arn(ch)
            .set_type(kind.clone())
            .set_next_token(token)
            .chime_bearer(bearer)
            .send()
            .await
            .map_err(|e| {
                use aws_smithy_types::error::metadata::ProvideErrorMetadata;
                e.code().unwrap_or("no code").to_string()
            })?;
        out.extend(
            page.channel_memberships()
                .iter()
                .map(|s| s.member.as_ref().unwrap().arn.clone().unwrap()),
        );
        token = page.next_token;
        if token.is_none() {
            return Ok(out);
        }
    }
}

#[tokio::test]
async fn membership_lifecycle_in_an_unrestricted_channel() {
    let s = TestServer::start().await;
    let m = s.messaging();
    let w = World::new(&s, &["owner", "bob", "carol"]).await;
    let (owner, bob, carol) = (w.user(0), w.user(1), w.user(2));
    let ch = make_channel(
        &m,
        &w,
        owner,
        ChannelMode::Unrestricted,
        ChannelPrivacy::Public,
    )
    .await;

    let out = m
        .create_channel_membership()
        .channel_arn(&ch)
        .member_arn(bob)
        .r#type(Type::Default)
        .chime_bearer(owner)
        .send()
        .await
        .unwrap();
    assert_eq!(out.channel_arn.as_deref(), Some(ch.as_str()));
    let member = out.member.unwrap();
    assert_eq!(
        (member.arn.as_deref(), member.name.as_deref()),
        (Some(bob), Some("bob name"))
    );

    let d = m
        .describe_channel_membership()
        .channel_arn(&ch)
        .member_arn(bob)
        .chime_bearer(owner)
        .send()
        .await
        .unwrap();
    let d = d.channel_membership.unwrap();
    assert_eq!(d.invited_by.unwrap().arn.as_deref(), Some(owner));
    assert_eq!(d.r#type, Some(Type::Default));
    assert_eq!(d.channel_arn.as_deref(), Some(ch.as_str()));
    assert!(d.created_timestamp.is_some() && d.created_timestamp == d.last_updated_timestamp);
    assert_eq!(
        members(&m, &ch, owner, None).await.unwrap(),
        vec![owner.to_string(), bob.to_string()],
        "the creator is a member (and a moderator) from the start"
    );

    // UNRESTRICTED: a member adds and removes others.
    add(&m, &ch, bob, carol, Type::Default).await.unwrap();
    assert_eq!(
        add(&m, &ch, bob, carol, Type::Default).await,
        Err("ConflictException".into())
    );
    m.delete_channel_membership()
        .channel_arn(&ch)
        .member_arn(carol)
        .chime_bearer(bob)
        .send()
        .await
        .unwrap();
    // A member leaves.
    m.delete_channel_membership()
        .channel_arn(&ch)
        .member_arn(bob)
        .chime_bearer(bob)
        .send()
        .await
        .unwrap();
    let r = m
        .describe_channel_membership()
        .channel_arn(&ch)
        .member_arn(bob)
        .chime_bearer(owner)
        .send()
        .await;
    assert_eq!(code(r), "NotFoundException");
    let r = m
        .delete_channel_membership()
        .channel_arn(&ch)
        .member_arn(bob)
        .chime_bearer(owner)
        .send()
        .await;
    assert_eq!(code(r), "NotFoundException");
    assert_eq!(
        members(&m, &ch, owner, None).await.unwrap(),
        vec![owner.to_string()]
    );
}

#[tokio::test]
async fn who_may_add_members() {
    let s = TestServer::start().await;
    let m = s.messaging();
    let id = s.identity();
    let w = World::new(&s, &["owner", "bob", "carol", "dave", "admin"]).await;
    let (owner, bob, carol, dave, admin) = (w.user(0), w.user(1), w.user(2), w.user(3), w.user(4));
    id.create_app_instance_admin()
        .app_instance_arn(&w.app)
        .app_instance_admin_arn(admin)
        .send()
        .await
        .unwrap();

    // RESTRICTED: only admins and moderators add members.
    let restricted = make_channel(
        &m,
        &w,
        owner,
        ChannelMode::Restricted,
        ChannelPrivacy::Private,
    )
    .await;
    add(&m, &restricted, owner, bob, Type::Default)
        .await
        .unwrap();
    assert_eq!(
        add(&m, &restricted, bob, carol, Type::Default).await,
        Err("ForbiddenException".into())
    );
    assert_eq!(
        add(&m, &restricted, dave, dave, Type::Default).await,
        Err("ForbiddenException".into())
    );
    add(&m, &restricted, admin, carol, Type::Default)
        .await
        .expect("admins need no membership");

    // PRIVATE: invisible to outsiders.
    assert_eq!(
        members(&m, &restricted, dave, None).await,
        Err("ForbiddenException".into())
    );
    let r = m
        .describe_channel_membership()
        .channel_arn(&restricted)
        .member_arn(bob)
        .chime_bearer(dave)
        .send()
        .await;
    assert_eq!(code(r), "ForbiddenException");
    assert_eq!(
        members(&m, &restricted, bob, None).await.unwrap().len(),
        3,
        "members see each other (the owner, bob and carol)"
    );

    // PUBLIC + UNRESTRICTED: anyone may add themself, not others.
    let open = make_channel(
        &m,
        &w,
        owner,
        ChannelMode::Unrestricted,
        ChannelPrivacy::Public,
    )
    .await;
    assert_eq!(
        add(&m, &open, dave, bob, Type::Default).await,
        Err("ForbiddenException".into())
    );
    add(&m, &open, dave, dave, Type::Default).await.unwrap();
    assert_eq!(
        members(&m, &open, carol, None).await.unwrap(),
        vec![owner.to_string(), dave.to_string()],
        "PUBLIC members are listed to anyone"
    );
    // PUBLIC + RESTRICTED: no self-join; PRIVATE + UNRESTRICTED: no self-join.
    let public_restricted = make_channel(
        &m,
        &w,
        owner,
        ChannelMode::Restricted,
        ChannelPrivacy::Public,
    )
    .await;
    assert_eq!(
        add(&m, &public_restricted, dave, dave, Type::Default).await,
        Err("ForbiddenException".into())
    );
    let private_open = make_channel(
        &m,
        &w,
        owner,
        ChannelMode::Unrestricted,
        ChannelPrivacy::Private,
    )
    .await;
    assert_eq!(
        add(&m, &private_open, dave, dave, Type::Default).await,
        Err("ForbiddenException".into())
    );
    add(&m, &private_open, owner, bob, Type::Default)
        .await
        .unwrap();
    add(&m, &private_open, bob, dave, Type::Default)
        .await
        .expect("members add others in UNRESTRICTED");

    // Removing others: members only in UNRESTRICTED, never in RESTRICTED.
    let r = m
        .delete_channel_membership()
        .channel_arn(&restricted)
        .member_arn(carol)
        .chime_bearer(bob)
        .send()
        .await;
    assert_eq!(code(r), "ForbiddenException");
    let r = m
        .delete_channel_membership()
        .channel_arn(&open)
        .member_arn(dave)
        .chime_bearer(carol)
        .send()
        .await;
    assert_eq!(code(r), "ForbiddenException", "non-members remove no one");

    // Unknown and malformed targets.
    assert_eq!(
        add(
            &m,
            &open,
            owner,
            &format!("{}/user/ghost", w.app),
            Type::Default
        )
        .await,
        Err("NotFoundException".into())
    );
    assert_eq!(
        add(&m, &open, owner, "arn:bad", Type::Default).await,
        Err("BadRequestException".into())
    );
    assert_eq!(
        add(&m, &open, owner, &open, Type::Default).await,
        Err("BadRequestException".into())
    );
    let missing = format!("{}/channel/nope", w.app);
    assert_eq!(
        add(&m, &missing, owner, bob, Type::Default).await,
        Err("NotFoundException".into())
    );
}

#[tokio::test]
async fn hidden_members() {
    let s = TestServer::start().await;
    let m = s.messaging();
    let w = World::new(&s, &["owner", "bob", "hid", "carol"]).await;
    let (owner, bob, hid, carol) = (w.user(0), w.user(1), w.user(2), w.user(3));
    let ch = make_channel(
        &m,
        &w,
        owner,
        ChannelMode::Unrestricted,
        ChannelPrivacy::Public,
    )
    .await;
    add(&m, &ch, owner, bob, Type::Default).await.unwrap();
    assert_eq!(
        add(&m, &ch, bob, carol, Type::Hidden).await,
        Err("ForbiddenException".into()),
        "only moderators add HIDDEN"
    );
    assert_eq!(
        add(&m, &ch, carol, carol, Type::Hidden).await,
        Err("ForbiddenException".into())
    );
    add(&m, &ch, owner, hid, Type::Hidden).await.unwrap();

    assert_eq!(
        members(&m, &ch, owner, None).await.unwrap(),
        vec![owner.to_string(), bob.to_string()],
        "hidden members are left out by default"
    );
    assert_eq!(
        members(&m, &ch, owner, Some(Type::Default)).await.unwrap(),
        vec![owner.to_string(), bob.to_string()]
    );
    assert_eq!(
        members(&m, &ch, owner, Some(Type::Hidden)).await.unwrap(),
        vec![hid.to_string()]
    );
    assert_eq!(
        members(&m, &ch, bob, Some(Type::Hidden)).await,
        Err("ForbiddenException".into())
    );

    let r = m
        .describe_channel_membership()
        .channel_arn(&ch)
        .member_arn(hid)
        .chime_bearer(bob)
        .send()
        .await;
    assert_eq!(
        code(r),
        "NotFoundException",
        "a hidden membership is invisible to members"
    );
    let own = m
        .describe_channel_membership()
        .channel_arn(&ch)
        .member_arn(hid)
        .chime_bearer(hid)
        .send()
        .await
        .unwrap();
    assert_eq!(own.channel_membership.unwrap().r#type, Some(Type::Hidden));
    let mine = m
        .list_channel_memberships_for_app_instance_user()
        .chime_bearer(hid)
        .send()
        .await
        .unwrap();
    let summary = mine.channel_memberships()[0]
        .app_instance_user_membership_summary
        .as_ref()
        .unwrap();
    assert_eq!(summary.r#type, Some(Type::Hidden));
}

#[tokio::test]
async fn bans_kick_and_block() {
    let s = TestServer::start().await;
    let m = s.messaging();
    let id = s.identity();
    let w = World::new(&s, &["owner", "bob", "carol", "admin", "mod2"]).await;
    let (owner, bob, carol, admin, mod2) = (w.user(0), w.user(1), w.user(2), w.user(3), w.user(4));
    id.create_app_instance_admin()
        .app_instance_arn(&w.app)
        .app_instance_admin_arn(admin)
        .send()
        .await
        .unwrap();
    let ch = make_channel(
        &m,
        &w,
        owner,
        ChannelMode::Unrestricted,
        ChannelPrivacy::Public,
    )
    .await;
    m.create_channel_moderator()
        .channel_arn(&ch)
        .channel_moderator_arn(mod2)
        .chime_bearer(owner)
        .send()
        .await
        .unwrap();
    add(&m, &ch, owner, bob, Type::Default).await.unwrap();
    add(&m, &ch, owner, carol, Type::Default).await.unwrap();

    let r = m
        .create_channel_ban()
        .channel_arn(&ch)
        .member_arn(bob)
        .chime_bearer(carol)
        .send()
        .await;
    assert_eq!(code(r), "ForbiddenException", "members do not ban");
    let out = m
        .create_channel_ban()
        .channel_arn(&ch)
        .member_arn(bob)
        .chime_bearer(owner)
        .send()
        .await
        .unwrap();
    assert_eq!(out.member.unwrap().arn.as_deref(), Some(bob));
    // The ban kicks bob at once.
    assert_eq!(
        members(&m, &ch, owner, None).await.unwrap(),
        vec![owner.to_string(), carol.to_string()]
    );
    let r = m
        .describe_channel_membership()
        .channel_arn(&ch)
        .member_arn(bob)
        .chime_bearer(owner)
        .send()
        .await;
    assert_eq!(code(r), "NotFoundException");
    // And blocks re-adding, by anyone, until the ban is deleted.
    assert_eq!(
        add(&m, &ch, owner, bob, Type::Default).await,
        Err("ForbiddenException".into())
    );
    assert_eq!(
        add(&m, &ch, bob, bob, Type::Default).await,
        Err("ForbiddenException".into())
    );
    assert_eq!(
        code(
            m.create_channel_ban()
                .channel_arn(&ch)
                .member_arn(bob)
                .chime_bearer(owner)
                .send()
                .await
        ),
        "ConflictException"
    );
    // Admins and moderators cannot be banned.
    for who in [owner, mod2, admin] {
        let r = m
            .create_channel_ban()
            .channel_arn(&ch)
            .member_arn(who)
            .chime_bearer(owner)
            .send()
            .await;
        assert_eq!(code(r), "BadRequestException", "{who}");
    }
    let r = m
        .create_channel_ban()
        .channel_arn(&ch)
        .member_arn(format!("{}/user/ghost", w.app))
        .chime_bearer(owner)
        .send()
        .await;
    assert_eq!(code(r), "BadRequestException");

    let ban = m
        .describe_channel_ban()
        .channel_arn(&ch)
        .member_arn(bob)
        .chime_bearer(mod2)
        .send()
        .await
        .unwrap()
        .channel_ban
        .unwrap();
    assert_eq!(ban.created_by.unwrap().arn.as_deref(), Some(owner));
    assert_eq!(ban.member.unwrap().name.as_deref(), Some("bob name"));
    assert!(ban.created_timestamp.is_some());
    let bans = m
        .list_channel_bans()
        .channel_arn(&ch)
        .chime_bearer(admin)
        .send()
        .await
        .unwrap();
    assert_eq!(bans.channel_bans().len(), 1);
    assert_eq!(
        code(
            m.list_channel_bans()
                .channel_arn(&ch)
                .chime_bearer(carol)
                .send()
                .await
        ),
        "ForbiddenException"
    );
    assert_eq!(
        code(
            m.describe_channel_ban()
                .channel_arn(&ch)
                .member_arn(bob)
                .chime_bearer(carol)
                .send()
                .await
        ),
        "ForbiddenException"
    );
    assert_eq!(
        code(
            m.describe_channel_ban()
                .channel_arn(&ch)
                .member_arn(carol)
                .chime_bearer(owner)
                .send()
                .await
        ),
        "NotFoundException"
    );

    // Deleting the ban does not restore the membership; re-adding works afterwards.
    assert_eq!(
        code(
            m.delete_channel_ban()
                .channel_arn(&ch)
                .member_arn(bob)
                .chime_bearer(carol)
                .send()
                .await
        ),
        "ForbiddenException"
    );
    m.delete_channel_ban()
        .channel_arn(&ch)
        .member_arn(bob)
        .chime_bearer(owner)
        .send()
        .await
        .unwrap();
    assert_eq!(
        members(&m, &ch, owner, None).await.unwrap(),
        vec![owner.to_string(), carol.to_string()]
    );
    assert_eq!(
        code(
            m.delete_channel_ban()
                .channel_arn(&ch)
                .member_arn(bob)
                .chime_bearer(owner)
                .send()
                .await
        ),
        "NotFoundException"
    );
    add(&m, &ch, bob, bob, Type::Default).await.unwrap();
}

#[tokio::test]
async fn membership_validation() {
    let s = TestServer::start().await;
    let m = s.messaging();
    let w = World::new(&s, &["owner", "bob"]).await;
    let ch = make_channel(
        &m,
        &w,
        w.user(0),
        ChannelMode::Unrestricted,
        ChannelPrivacy::Public,
    )
    .await;
    let r = m
        .create_channel_membership()
        .channel_arn(&ch)
        .member_arn(w.user(1))
        .chime_bearer(w.user(0))
        .send()
        .await;
    assert!(message(r).contains("Type"), "Type is required");
    let r = m
        .create_channel_membership()
        .channel_arn(&ch)
        .member_arn(w.user(1))
        .r#type(Type::from("VIP"))
        .chime_bearer(w.user(0))
        .send()
        .await;
    assert!(message(r).contains("Type"));
    let r = m
        .create_channel_membership()
        .channel_arn(&ch)
        .member_arn(w.user(1))
        .r#type(Type::Default)
        .sub_channel_id("sub-1")
        .chime_bearer(w.user(0))
        .send()
        .await;
    assert!(message(r).contains("SubChannelId"));
    let r = m
        .list_channel_memberships()
        .channel_arn(&ch)
        .max_results(0)
        .chime_bearer(w.user(0))
        .send()
        .await;
    assert!(message(r).contains("MaxResults"));
    let r = m
        .list_channel_memberships()
        .channel_arn(&ch)
        .next_token("forged")
        .chime_bearer(w.user(0))
        .send()
        .await;
    assert_eq!(code(r), "BadRequestException");
}

#[tokio::test]
async fn create_channel_with_members_and_moderators() {
    let s = TestServer::start().await;
    let m = s.messaging();
    let w = World::new(&s, &["owner", "a", "b", "c"]).await;
    let ch = m
        .create_channel()
        .app_instance_arn(&w.app)
        .name("team")
        .member_arns(w.user(1))
        .member_arns(w.user(2))
        .moderator_arns(w.user(3))
        .client_request_token(uuid())
        .chime_bearer(w.user(0))
        .send()
        .await
        .unwrap()
        .channel_arn
        .unwrap();
    assert_eq!(
        members(&m, &ch, w.user(0), None).await.unwrap(),
        vec![
            w.user(0).to_string(),
            w.user(1).to_string(),
            w.user(2).to_string()
        ],
        "the creator first, then MemberArns"
    );
    // The creator is a DEFAULT member invited by itself, and can send at once.
    let own = m
        .describe_channel_membership()
        .channel_arn(&ch)
        .member_arn(w.user(0))
        .chime_bearer(w.user(0))
        .send()
        .await
        .unwrap()
        .channel_membership
        .unwrap();
    assert_eq!(own.r#type, Some(Type::Default));
    assert_eq!(own.invited_by.unwrap().arn.as_deref(), Some(w.user(0)));
    m.send_channel_message()
        .channel_arn(&ch)
        .content("hello")
        .r#type(aws_sdk_chimesdkmessaging::types::ChannelMessageType::Standard)
        .persistence(aws_sdk_chimesdkmessaging::types::ChannelMessagePersistenceType::Persistent)
        .client_request_token(uuid())
        .chime_bearer(w.user(0))
        .send()
        .await
        .expect("the creator sends without joining first");
    // The creator named in MemberArns as well is a member once.
    let again = m
        .create_channel()
        .app_instance_arn(&w.app)
        .name("again")
        .member_arns(w.user(1))
        .member_arns(w.user(0))
        .client_request_token(uuid())
        .chime_bearer(w.user(0))
        .send()
        .await
        .unwrap()
        .channel_arn
        .unwrap();
    assert_eq!(
        members(&m, &again, w.user(0), None).await.unwrap(),
        vec![w.user(0).to_string(), w.user(1).to_string()]
    );
    let d = m
        .describe_channel_membership()
        .channel_arn(&ch)
        .member_arn(w.user(1))
        .chime_bearer(w.user(0))
        .send()
        .await
        .unwrap();
    assert_eq!(
        d.channel_membership
            .unwrap()
            .invited_by
            .unwrap()
            .arn
            .as_deref(),
        Some(w.user(0))
    );
    let mods = m
        .list_channel_moderators()
        .channel_arn(&ch)
        .chime_bearer(w.user(3))
        .send()
        .await
        .unwrap();
    let mods: Vec<_> = mods
        .channel_moderators()
        .iter()
        .map(|x| x.moderator.as_ref().unwrap().arn.clone().unwrap())
        .collect();
    assert_eq!(mods, vec![w.user(0).to_string(), w.user(3).to_string()]);
}
