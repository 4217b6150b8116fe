//! Moderators, the ForAppInstanceUser / ModeratedByAppInstanceUser views, cascades on delete,
//! and paging through hundreds of members while more are added.

use aws_sdk_chimesdkmessaging::types::{
    ChannelMembershipType as Type, ChannelMode, ChannelPrivacy,
};

use crate::harness::*;
use crate::memberships::{add, make_channel, members};

#[tokio::test]
async fn moderators() {
    let s = TestServer::start().await;
    let m = s.messaging();
    let w = World::new(&s, &["owner", "mod2", "bob", "carol"]).await;
    let (owner, mod2, bob, carol) = (w.user(0), w.user(1), w.user(2), w.user(3));
    let ch = make_channel(
        &m,
        &w,
        owner,
        ChannelMode::Restricted,
        ChannelPrivacy::Private,
    )
    .await;
    add(&m, &ch, owner, bob, Type::Default).await.unwrap();

    let out = m
        .create_channel_moderator()
        .channel_arn(&ch)
        .channel_moderator_arn(mod2)
        .chime_bearer(owner)
        .send()
        .await
        .unwrap();
    assert_eq!(
        out.channel_moderator.unwrap().name.as_deref(),
        Some("mod2 name")
    );
    let r = m
        .create_channel_moderator()
        .channel_arn(&ch)
        .channel_moderator_arn(mod2)
        .chime_bearer(owner)
        .send()
        .await;
    assert_eq!(code(r), "ConflictException");
    let r = m
        .create_channel_moderator()
        .channel_arn(&ch)
        .channel_moderator_arn(carol)
        .chime_bearer(bob)
        .send()
        .await;
    assert_eq!(code(r), "ForbiddenException", "members do not promote");
    let r = m
        .create_channel_moderator()
        .channel_arn(&ch)
        .channel_moderator_arn(format!("{}/user/ghost", w.app))
        .chime_bearer(owner)
        .send()
        .await;
    assert_eq!(code(r), "BadRequestException");

    let d = m
        .describe_channel_moderator()
        .channel_arn(&ch)
        .channel_moderator_arn(mod2)
        .chime_bearer(mod2)
        .send()
        .await
        .unwrap();
    let d = d.channel_moderator.unwrap();
    assert_eq!(d.created_by.unwrap().arn.as_deref(), Some(owner));
    assert_eq!(d.channel_arn.as_deref(), Some(ch.as_str()));
    assert!(d.created_timestamp.is_some());
    let r = m
        .describe_channel_moderator()
        .channel_arn(&ch)
        .channel_moderator_arn(bob)
        .chime_bearer(owner)
        .send()
        .await;
    assert_eq!(code(r), "NotFoundException");
    let r = m
        .describe_channel_moderator()
        .channel_arn(&ch)
        .channel_moderator_arn(mod2)
        .chime_bearer(bob)
        .send()
        .await;
    assert_eq!(code(r), "ForbiddenException");
    let r = m
        .list_channel_moderators()
        .channel_arn(&ch)
        .chime_bearer(bob)
        .send()
        .await;
    assert_eq!(code(r), "ForbiddenException");
    let list = m
        .list_channel_moderators()
        .channel_arn(&ch)
        .max_results(1)
        .chime_bearer(mod2)
        .send()
        .await
        .unwrap();
    assert_eq!(
        list.channel_moderators()[0]
            .moderator
            .as_ref()
            .unwrap()
            .arn
            .as_deref(),
        Some(owner),
        "the creator first"
    );
    let rest = m
        .list_channel_moderators()
        .channel_arn(&ch)
        .set_next_token(list.next_token)
        .chime_bearer(mod2)
        .send()
        .await
        .unwrap();
    assert_eq!(
        rest.channel_moderators()[0]
            .moderator
            .as_ref()
            .unwrap()
            .arn
            .as_deref(),
        Some(mod2)
    );
    assert!(rest.next_token.is_none());

    // A moderator can run the channel without being a member, and can step down.
    add(&m, &ch, mod2, carol, Type::Default).await.unwrap();
    m.update_channel()
        .channel_arn(&ch)
        .name("renamed")
        .chime_bearer(mod2)
        .send()
        .await
        .unwrap();
    m.delete_channel_moderator()
        .channel_arn(&ch)
        .channel_moderator_arn(mod2)
        .chime_bearer(mod2)
        .send()
        .await
        .unwrap();
    let r = m
        .delete_channel_moderator()
        .channel_arn(&ch)
        .channel_moderator_arn(mod2)
        .chime_bearer(owner)
        .send()
        .await;
    assert_eq!(code(r), "NotFoundException");
    assert_eq!(
        add(&m, &ch, mod2, bob, Type::Default).await,
        Err("ForbiddenException".into())
    );
    // Promoting and demoting a member leaves the membership alone.
    m.create_channel_moderator()
        .channel_arn(&ch)
        .channel_moderator_arn(bob)
        .chime_bearer(owner)
        .send()
        .await
        .unwrap();
    m.delete_channel_moderator()
        .channel_arn(&ch)
        .channel_moderator_arn(bob)
        .chime_bearer(owner)
        .send()
        .await
        .unwrap();
    assert!(members(&m, &ch, owner, None)
        .await
        .unwrap()
        .contains(&bob.to_string()));
}

#[tokio::test]
async fn views_for_an_app_instance_user() {
    let s = TestServer::start().await;
    let m = s.messaging();
    let id = s.identity();
    let w = World::new(&s, &["owner", "bob", "carol", "admin"]).await;
    let (owner, bob, carol, admin) = (w.user(0), w.user(1), w.user(2), w.user(3));
    id.create_app_instance_admin()
        .app_instance_arn(&w.app)
        .app_instance_admin_arn(admin)
        .send()
        .await
        .unwrap();
    let private = make_channel(
        &m,
        &w,
        owner,
        ChannelMode::Restricted,
        ChannelPrivacy::Private,
    )
    .await;
    let public = make_channel(
        &m,
        &w,
        owner,
        ChannelMode::Unrestricted,
        ChannelPrivacy::Public,
    )
    .await;
    add(&m, &private, owner, bob, Type::Default).await.unwrap();
    add(&m, &public, bob, bob, Type::Default).await.unwrap();

    // Own memberships, with the channel summary and the membership type.
    let mine = m
        .list_channel_memberships_for_app_instance_user()
        .chime_bearer(bob)
        .send()
        .await
        .unwrap();
    let got: Vec<_> = mine
        .channel_memberships()
        .iter()
        .map(|x| {
            let c = x.channel_summary.as_ref().unwrap();
            let u = x.app_instance_user_membership_summary.as_ref().unwrap();
            (
                c.channel_arn.clone().unwrap(),
                c.privacy.clone().unwrap(),
                u.r#type.clone().unwrap(),
                u.read_marker_timestamp,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (
                private.clone(),
                ChannelPrivacy::Private,
                Type::Default,
                None
            ),
            (public.clone(), ChannelPrivacy::Public, Type::Default, None),
        ]
    );
    let explicit = m
        .list_channel_memberships_for_app_instance_user()
        .app_instance_user_arn(bob)
        .chime_bearer(bob)
        .send()
        .await
        .unwrap();
    assert_eq!(explicit.channel_memberships().len(), 2);
    let r = m
        .list_channel_memberships_for_app_instance_user()
        .app_instance_user_arn(bob)
        .chime_bearer(carol)
        .send()
        .await;
    assert_eq!(
        code(r),
        "ForbiddenException",
        "only admins ask about others"
    );
    let by_admin = m
        .list_channel_memberships_for_app_instance_user()
        .app_instance_user_arn(bob)
        .max_results(1)
        .chime_bearer(admin)
        .send()
        .await
        .unwrap();
    assert_eq!(by_admin.channel_memberships().len(), 1);
    assert!(by_admin.next_token.is_some());

    let d = m
        .describe_channel_membership_for_app_instance_user()
        .channel_arn(&private)
        .app_instance_user_arn(bob)
        .chime_bearer(bob)
        .send()
        .await
        .unwrap()
        .channel_membership
        .unwrap();
    assert_eq!(d.channel_summary.unwrap().name.as_deref(), Some("room"));
    let r = m
        .describe_channel_membership_for_app_instance_user()
        .channel_arn(&private)
        .app_instance_user_arn(bob)
        .chime_bearer(carol)
        .send()
        .await;
    assert_eq!(code(r), "ForbiddenException");
    m.describe_channel_membership_for_app_instance_user()
        .channel_arn(&private)
        .app_instance_user_arn(bob)
        .chime_bearer(admin)
        .send()
        .await
        .unwrap();
    let r = m
        .describe_channel_membership_for_app_instance_user()
        .channel_arn(&private)
        .app_instance_user_arn(carol)
        .chime_bearer(carol)
        .send()
        .await;
    assert_eq!(code(r), "NotFoundException", "not a member");

    // Moderated channels.
    let moderated = m
        .list_channels_moderated_by_app_instance_user()
        .chime_bearer(owner)
        .send()
        .await
        .unwrap();
    let arns: Vec<_> = moderated
        .channels()
        .iter()
        .map(|c| {
            c.channel_summary
                .as_ref()
                .unwrap()
                .channel_arn
                .clone()
                .unwrap()
        })
        .collect();
    assert_eq!(arns, vec![private.clone(), public.clone()]);
    assert!(m
        .list_channels_moderated_by_app_instance_user()
        .chime_bearer(bob)
        .send()
        .await
        .unwrap()
        .channels()
        .is_empty());
    let r = m
        .list_channels_moderated_by_app_instance_user()
        .app_instance_user_arn(owner)
        .chime_bearer(bob)
        .send()
        .await;
    assert_eq!(code(r), "ForbiddenException");
    let by_admin = m
        .list_channels_moderated_by_app_instance_user()
        .app_instance_user_arn(owner)
        .chime_bearer(admin)
        .send()
        .await
        .unwrap();
    assert_eq!(by_admin.channels().len(), 2);
    let d = m
        .describe_channel_moderated_by_app_instance_user()
        .channel_arn(&public)
        .app_instance_user_arn(owner)
        .chime_bearer(owner)
        .send()
        .await
        .unwrap();
    assert_eq!(
        d.channel
            .unwrap()
            .channel_summary
            .unwrap()
            .channel_arn
            .as_deref(),
        Some(public.as_str())
    );
    let r = m
        .describe_channel_moderated_by_app_instance_user()
        .channel_arn(&public)
        .app_instance_user_arn(bob)
        .chime_bearer(bob)
        .send()
        .await;
    assert_eq!(code(r), "NotFoundException");
    let r = m
        .describe_channel_moderated_by_app_instance_user()
        .channel_arn(&public)
        .app_instance_user_arn(owner)
        .chime_bearer(bob)
        .send()
        .await;
    assert_eq!(code(r), "ForbiddenException");
}

#[tokio::test]
async fn deletes_leave_nothing_dangling() {
    let s = TestServer::start().await;
    let m = s.messaging();
    let id = s.identity();
    let w = World::new(&s, &["owner", "bob", "carol", "dave"]).await;
    let (owner, bob, carol, dave) = (w.user(0), w.user(1), w.user(2), w.user(3));
    let ch = make_channel(
        &m,
        &w,
        owner,
        ChannelMode::Unrestricted,
        ChannelPrivacy::Public,
    )
    .await;
    add(&m, &ch, owner, bob, Type::Default).await.unwrap();
    add(&m, &ch, owner, carol, Type::Default).await.unwrap();
    m.create_channel_moderator()
        .channel_arn(&ch)
        .channel_moderator_arn(carol)
        .chime_bearer(owner)
        .send()
        .await
        .unwrap();
    m.create_channel_ban()
        .channel_arn(&ch)
        .member_arn(dave)
        .chime_bearer(owner)
        .send()
        .await
        .unwrap();

    // Deleting users removes their memberships, moderator roles and bans.
    id.delete_app_instance_user()
        .app_instance_user_arn(carol)
        .send()
        .await
        .unwrap();
    id.delete_app_instance_user()
        .app_instance_user_arn(dave)
        .send()
        .await
        .unwrap();
    assert_eq!(
        members(&m, &ch, owner, None).await.unwrap(),
        vec![owner.to_string(), bob.to_string()]
    );
    let mods = m
        .list_channel_moderators()
        .channel_arn(&ch)
        .chime_bearer(owner)
        .send()
        .await
        .unwrap();
    assert_eq!(mods.channel_moderators().len(), 1);
    assert!(m
        .list_channel_bans()
        .channel_arn(&ch)
        .chime_bearer(owner)
        .send()
        .await
        .unwrap()
        .channel_bans()
        .is_empty());

    // Identity names follow the user.
    id.update_app_instance_user()
        .app_instance_user_arn(bob)
        .name("Robert")
        .metadata("")
        .send()
        .await
        .unwrap();
    let d = m
        .describe_channel_membership()
        .channel_arn(&ch)
        .member_arn(bob)
        .chime_bearer(owner)
        .send()
        .await
        .unwrap();
    assert_eq!(
        d.channel_membership
            .unwrap()
            .member
            .unwrap()
            .name
            .as_deref(),
        Some("Robert")
    );

    // Deleting the channel removes everything in it.
    m.delete_channel()
        .channel_arn(&ch)
        .chime_bearer(owner)
        .send()
        .await
        .unwrap();
    assert!(m
        .list_channel_memberships_for_app_instance_user()
        .chime_bearer(bob)
        .send()
        .await
        .unwrap()
        .channel_memberships()
        .is_empty());
    assert!(m
        .list_channels_moderated_by_app_instance_user()
        .chime_bearer(owner)
        .send()
        .await
        .unwrap()
        .channels()
        .is_empty());
    assert_eq!(
        code(
            m.list_channel_memberships()
                .channel_arn(&ch)
                .chime_bearer(owner)
                .send()
                .await
        ),
        "NotFoundException"
    );
}

#[tokio::test]
async fn paging_hundreds_of_members_with_concurrent_inserts() {
    let s = TestServer::start().await;
    let m = s.messaging();
    let names: Vec<String> = (0..400).map(|i| format!("u{i:03}")).collect();
    let refs: Vec<&str> = std::iter::once("owner")
        .chain(names.iter().map(String::as_str))
        .collect();
    let w = World::new(&s, &refs).await;
    let owner = w.user(0).to_string();
    let ch = make_channel(
        &m,
        &w,
        &owner,
        ChannelMode::Unrestricted,
        ChannelPrivacy::Public,
    )
    .await;
    let first: Vec<String> = w.users[1..301].to_vec();
    for chunk in first.chunks(100) {
        let out = m
            .batch_create_channel_membership()
            .channel_arn(&ch)
            .set_member_arns(Some(chunk.to_vec()))
            .chime_bearer(&owner)
            .send()
            .await
            .unwrap();
        assert!(out.errors().is_empty());
    }
    // Writers add the other hundred, and remove nobody, while the reader walks the pages.
    let later: Vec<String> = w.users[301..].to_vec();
    let writer = {
        let m = m.clone();
        let ch = ch.clone();
        let owner = owner.clone();
        tokio::spawn(async move {
            for u in later {
                add(&m, &ch, &owner, &u, Type::Default).await.unwrap();
            }
        })
    };
    let mut seen: Vec<String> = Vec::new();
    let mut token = None;
    let mut pages = 0;
    loop {
        let page = m
            .list_channel_memberships()
            .channel_arn(&ch)
            .max_results(50)
            .set_next_token(token)
            .chime_bearer(&owner)
            .send()
            .await
            .unwrap();
        pages += 1;
        seen.extend(
            page.channel_memberships()
                .iter()
                .map(|x| x.member.as_ref().unwrap().arn.clone().unwrap()),
        );
        token = page.next_token;
        if token.is_none() {
            break;
        }
        tokio::task::yield_now().await;
    }
    writer.await.unwrap();
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), seen.len(), "no member was repeated");
    for u in &first {
        assert!(seen.contains(u), "{u} was skipped");
    }
    assert!(pages >= 6, "{pages} pages");
    // After the writer is done, a fresh walk sees exactly everyone: the 400 and the owner.
    assert_eq!(members(&m, &ch, &owner, None).await.unwrap().len(), 401);
}
