//! Channels: create, describe, update, delete, list; privacy; bearer checks; validation.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_chimesdkmessaging::types::{ChannelMode, ChannelPrivacy};
use belfry_core::time::ManualClock;

use crate::harness::*;

async fn channel(s: &TestServer, w: &World, bearer: &str, privacy: ChannelPrivacy) -> String {
    s.messaging()
        .create_channel()
        .app_instance_arn(&w.app)
        .name("room")
        .privacy(privacy)
        .client_request_token(uuid())
        .chime_bearer(bearer)
        .send()
        .await
        .unwrap()
        .channel_arn
        .unwrap()
}

#[tokio::test]
async fn channel_lifecycle() {
    let clock = Arc::new(ManualClock::starting_now());
    let s = TestServer::with_clock(clock.clone()).await;
    let m = s.messaging();
    let w = World::new(&s, &["ann"]).await;
    let arn = m
        .create_channel()
        .app_instance_arn(&w.app)
        .name("general")
        .metadata("{}")
        .client_request_token(uuid())
        .chime_bearer(w.user(0))
        .send()
        .await
        .unwrap()
        .channel_arn
        .unwrap();
    let id = arn.rsplit('/').next().unwrap();
    assert!(arn.starts_with(&format!("{}/channel/", w.app)));
    assert!(
        id.len() == 64
            && id
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()),
        "{id}"
    );

    let c = m
        .describe_channel()
        .channel_arn(&arn)
        .chime_bearer(w.user(0))
        .send()
        .await
        .unwrap()
        .channel
        .unwrap();
    assert_eq!(c.name.as_deref(), Some("general"));
    assert_eq!(c.mode, Some(ChannelMode::Unrestricted), "default mode");
    assert_eq!(c.privacy, Some(ChannelPrivacy::Public), "default privacy");
    assert_eq!(c.metadata.as_deref(), Some("{}"));
    let by = c.created_by.unwrap();
    assert_eq!(
        (by.arn.as_deref(), by.name.as_deref()),
        (Some(w.user(0)), Some("ann name"))
    );
    assert!(c.last_message_timestamp.is_none());
    assert_eq!(c.created_timestamp, c.last_updated_timestamp);

    clock.advance(Duration::from_millis(1_250));
    let up = m
        .update_channel()
        .channel_arn(&arn)
        .name("renamed")
        .mode(ChannelMode::Restricted)
        .chime_bearer(w.user(0))
        .send()
        .await
        .unwrap();
    assert_eq!(up.channel_arn.as_deref(), Some(arn.as_str()));
    let c = m
        .describe_channel()
        .channel_arn(&arn)
        .chime_bearer(w.user(0))
        .send()
        .await
        .unwrap()
        .channel
        .unwrap();
    assert_eq!(c.name.as_deref(), Some("renamed"));
    assert_eq!(c.mode, Some(ChannelMode::Restricted));
    assert_eq!(
        c.metadata.as_deref(),
        Some("{}"),
        "omitted metadata is kept"
    );
    assert_eq!(
        c.last_updated_timestamp.unwrap().to_millis().unwrap()
            - c.created_timestamp.unwrap().to_millis().unwrap(),
        1_250,
        "LastUpdatedTimestamp is the clock at the update"
    );

    m.delete_channel()
        .channel_arn(&arn)
        .chime_bearer(w.user(0))
        .send()
        .await
        .unwrap();
    assert_eq!(
        code(
            m.describe_channel()
                .channel_arn(&arn)
                .chime_bearer(w.user(0))
                .send()
                .await
        ),
        "NotFoundException"
    );
    assert_eq!(
        code(
            m.delete_channel()
                .channel_arn(&arn)
                .chime_bearer(w.user(0))
                .send()
                .await
        ),
        "NotFoundException"
    );
}

#[tokio::test]
async fn explicit_channel_id_and_idempotency() {
    let s = TestServer::start().await;
    let m = s.messaging();
    let w = World::new(&s, &["ann"]).await;
    let token = uuid();
    let create = |token: String, name: &str| {
        m.create_channel()
            .app_instance_arn(&w.app)
            .name(name)
            .channel_id("team-1")
            .client_request_token(token)
            .chime_bearer(w.user(0))
    };
    let arn = create(token.clone(), "a")
        .send()
        .await
        .unwrap()
        .channel_arn
        .unwrap();
    assert_eq!(arn, format!("{}/channel/team-1", w.app));
    assert_eq!(
        create(token.clone(), "a")
            .send()
            .await
            .unwrap()
            .channel_arn
            .unwrap(),
        arn,
        "replay"
    );
    assert_eq!(
        code(create(token, "b").send().await),
        "ConflictException",
        "same token, other request"
    );
    assert_eq!(
        code(create(uuid(), "a").send().await),
        "ConflictException",
        "id taken"
    );
    let list = m
        .list_channels()
        .app_instance_arn(&w.app)
        .chime_bearer(w.user(0))
        .send()
        .await
        .unwrap();
    assert_eq!(list.channels().len(), 1);
}

#[tokio::test]
async fn privacy_and_roles() {
    let s = TestServer::start().await;
    let m = s.messaging();
    let id = s.identity();
    let w = World::new(&s, &["owner", "member", "mod", "outsider", "admin"]).await;
    id.create_app_instance_admin()
        .app_instance_arn(&w.app)
        .app_instance_admin_arn(w.user(4))
        .send()
        .await
        .unwrap();
    let private = m
        .create_channel()
        .app_instance_arn(&w.app)
        .name("secret")
        .privacy(ChannelPrivacy::Private)
        .member_arns(w.user(1))
        .moderator_arns(w.user(2))
        .client_request_token(uuid())
        .chime_bearer(w.user(0))
        .send()
        .await
        .unwrap()
        .channel_arn
        .unwrap();
    let public = channel(&s, &w, w.user(0), ChannelPrivacy::Public).await;

    let describe = |arn: &str, who: usize| {
        m.describe_channel()
            .channel_arn(arn)
            .chime_bearer(w.user(who))
            .send()
    };
    for who in [0, 1, 2, 4] {
        describe(&private, who)
            .await
            .unwrap_or_else(|e| panic!("user {who}: {e:?}"));
    }
    assert_eq!(code(describe(&private, 3).await), "ForbiddenException");
    describe(&public, 3).await.unwrap();

    // Update and delete: admins and moderators only.
    let update = |arn: &str, who: usize| {
        m.update_channel()
            .channel_arn(arn)
            .name("n")
            .chime_bearer(w.user(who))
            .send()
    };
    assert_eq!(code(update(&private, 1).await), "ForbiddenException");
    assert_eq!(code(update(&public, 3).await), "ForbiddenException");
    update(&private, 2).await.unwrap();
    update(&public, 4).await.unwrap();
    let delete = |arn: &str, who: usize| {
        m.delete_channel()
            .channel_arn(arn)
            .chime_bearer(w.user(who))
            .send()
    };
    assert_eq!(code(delete(&public, 1).await), "ForbiddenException");
    assert_eq!(code(delete(&private, 3).await), "ForbiddenException");

    // ListChannels: PUBLIC by default and for everyone; PRIVATE for admins only.
    let list = |who: usize, privacy: Option<ChannelPrivacy>| {
        m.list_channels()
            .app_instance_arn(&w.app)
            .set_privacy(privacy)
            .chime_bearer(w.user(who))
            .send()
    };
    let names: Vec<_> = list(3, None)
        .await
        .unwrap()
        .channels()
        .iter()
        .map(|c| c.channel_arn.clone().unwrap())
        .collect();
    assert_eq!(names, vec![public.clone()]);
    assert_eq!(
        code(list(0, Some(ChannelPrivacy::Private)).await),
        "ForbiddenException"
    );
    let private_list = list(4, Some(ChannelPrivacy::Private)).await.unwrap();
    assert_eq!(
        private_list.channels()[0].channel_arn.as_deref(),
        Some(private.as_str())
    );
    assert_eq!(
        private_list.channels()[0].privacy,
        Some(ChannelPrivacy::Private)
    );

    delete(&private, 4).await.unwrap();
    delete(&public, 0).await.unwrap();
}

#[tokio::test]
async fn bearer_is_checked() {
    let s = TestServer::start().await;
    let m = s.messaging();
    let w = World::new(&s, &["ann"]).await;
    let other = World::new(&s, &["zed"]).await;
    let arn = channel(&s, &w, w.user(0), ChannelPrivacy::Public).await;
    let bearers = [
        other.user(0).to_string(),       // a user of another AppInstance
        format!("{}/user/ghost", w.app), // no such user
        "not-an-arn".to_string(),        // malformed
        w.app.clone(),                   // not a user ARN
    ];
    for b in &bearers {
        let r = m
            .describe_channel()
            .channel_arn(&arn)
            .chime_bearer(b)
            .send()
            .await;
        assert_eq!(code(r), "UnauthorizedClientException", "bearer {b}");
    }
    let r = m
        .create_channel()
        .app_instance_arn(&w.app)
        .name("x")
        .client_request_token(uuid())
        .chime_bearer(other.user(0))
        .send()
        .await;
    assert_eq!(
        code(r),
        "UnauthorizedClientException",
        "creating in a foreign AppInstance"
    );
    let r = m
        .list_channels()
        .app_instance_arn(&w.app)
        .chime_bearer(other.user(0))
        .send()
        .await;
    assert_eq!(code(r), "UnauthorizedClientException");
}

#[tokio::test]
async fn unknown_and_malformed_channels() {
    let s = TestServer::start().await;
    let m = s.messaging();
    let w = World::new(&s, &["ann"]).await;
    let missing = format!("{}/channel/nope", w.app);
    assert_eq!(
        code(
            m.describe_channel()
                .channel_arn(&missing)
                .chime_bearer(w.user(0))
                .send()
                .await
        ),
        "NotFoundException"
    );
    assert_eq!(
        code(
            m.update_channel()
                .channel_arn(&missing)
                .name("x")
                .chime_bearer(w.user(0))
                .send()
                .await
        ),
        "NotFoundException"
    );
    assert_eq!(
        code(
            m.delete_channel()
                .channel_arn(&missing)
                .chime_bearer(w.user(0))
                .send()
                .await
        ),
        "NotFoundException"
    );
    let r = m
        .describe_channel()
        .channel_arn(w.user(0))
        .chime_bearer(w.user(0))
        .send()
        .await;
    assert_eq!(
        code(r),
        "BadRequestException",
        "a user ARN is not a channel ARN"
    );
    let r = m
        .list_channels()
        .app_instance_arn("arn:aws:chime:us-east-1:000000000000:app-instance/none")
        .chime_bearer(w.user(0))
        .send()
        .await;
    assert_eq!(
        code(r),
        "UnauthorizedClientException",
        "the bearer is not in that AppInstance"
    );
}

#[tokio::test]
async fn create_channel_validation() {
    let s = TestServer::start().await;
    let m = s.messaging();
    let w = World::new(&s, &["ann"]).await;
    let base = || {
        m.create_channel()
            .app_instance_arn(&w.app)
            .name("ok")
            .client_request_token(uuid())
            .chime_bearer(w.user(0))
    };
    use aws_sdk_chimesdkmessaging::types::{
        ElasticChannelConfiguration, ExpirationCriterion, ExpirationSettings,
    };
    let cases = vec![
        ("name over 256", base().name("n".repeat(257)), "256"),
        (
            "metadata over 1024",
            base().metadata("m".repeat(1025)),
            "1024",
        ),
        ("bad mode", base().mode(ChannelMode::from("OPEN")), "Mode"),
        (
            "bad privacy",
            base().privacy(ChannelPrivacy::from("SECRET")),
            "Privacy",
        ),
        ("bad channel id", base().channel_id("bad id"), "ChannelId"),
        (
            "channel id too long",
            base().channel_id("c".repeat(65)),
            "64",
        ),
        (
            "unknown member",
            base().member_arns(format!("{}/user/ghost", w.app)),
            "MemberArns",
        ),
        (
            "member not a user",
            base().member_arns(&w.app),
            "MemberArns",
        ),
        (
            "too many members",
            base().set_member_arns(Some(vec![w.user(0).to_string(); 11])),
            "10",
        ),
        (
            "unknown moderator",
            base().moderator_arns(format!("{}/user/ghost", w.app)),
            "ModeratorArns",
        ),
        (
            "elastic",
            base().elastic_channel_configuration(
                ElasticChannelConfiguration::builder()
                    .maximum_sub_channels(2)
                    .target_memberships_per_sub_channel(2)
                    .minimum_membership_percentage(10)
                    .build()
                    .unwrap(),
            ),
            "ElasticChannelConfiguration",
        ),
        (
            "expiration days",
            base().expiration_settings(
                ExpirationSettings::builder()
                    .expiration_days(0)
                    .expiration_criterion(ExpirationCriterion::LastMessageTimestamp)
                    .build()
                    .unwrap(),
            ),
            "ExpirationDays",
        ),
        (
            "token",
            base().client_request_token("!"),
            "ClientRequestToken",
        ),
        (
            "app instance arn",
            base().app_instance_arn("arn:nope"),
            "AppInstanceArn",
        ),
    ];
    for (what, req, needle) in cases {
        let err = req.send().await.unwrap_err();
        use aws_smithy_types::error::metadata::ProvideErrorMetadata;
        assert_eq!(err.code(), Some("BadRequestException"), "{what}: {err:?}");
        assert!(
            err.message().unwrap_or_default().contains(needle),
            "{what}: {:?}",
            err.message()
        );
    }
    let r = m
        .update_channel()
        .channel_arn(format!("{}/channel/x", w.app))
        .name("")
        .chime_bearer(w.user(0))
        .send()
        .await;
    assert_eq!(
        code(r),
        "BadRequestException",
        "validation comes before existence"
    );
    let list = m
        .list_channels()
        .app_instance_arn(&w.app)
        .chime_bearer(w.user(0))
        .send()
        .await
        .unwrap();
    assert!(list.channels().is_empty(), "nothing was created");
    let r = m
        .list_channels()
        .app_instance_arn(&w.app)
        .max_results(51)
        .chime_bearer(w.user(0))
        .send()
        .await;
    assert!(message(r).contains("50"));
}

#[tokio::test]
async fn channel_with_expiration_and_creator_names() {
    let s = TestServer::start().await;
    let m = s.messaging();
    let id = s.identity();
    let w = World::new(&s, &["ann", "bob"]).await;
    use aws_sdk_chimesdkmessaging::types::{ExpirationCriterion, ExpirationSettings};
    let arn = m
        .create_channel()
        .app_instance_arn(&w.app)
        .name("temp")
        .expiration_settings(
            ExpirationSettings::builder()
                .expiration_days(7)
                .expiration_criterion(ExpirationCriterion::LastMessageTimestamp)
                .build()
                .unwrap(),
        )
        .client_request_token(uuid())
        .chime_bearer(w.user(0))
        .send()
        .await
        .unwrap()
        .channel_arn
        .unwrap();
    let c = m
        .describe_channel()
        .channel_arn(&arn)
        .chime_bearer(w.user(1))
        .send()
        .await
        .unwrap()
        .channel
        .unwrap();
    let e = c.expiration_settings.unwrap();
    assert_eq!(
        (e.expiration_days, e.expiration_criterion),
        (7, ExpirationCriterion::LastMessageTimestamp)
    );
    // Identity names are resolved at read time.
    id.update_app_instance_user()
        .app_instance_user_arn(w.user(0))
        .name("Ann B")
        .metadata("")
        .send()
        .await
        .unwrap();
    let c = m
        .describe_channel()
        .channel_arn(&arn)
        .chime_bearer(w.user(1))
        .send()
        .await
        .unwrap()
        .channel
        .unwrap();
    assert_eq!(c.created_by.unwrap().name.as_deref(), Some("Ann B"));
    id.delete_app_instance_user()
        .app_instance_user_arn(w.user(0))
        .send()
        .await
        .unwrap();
    let c = m
        .describe_channel()
        .channel_arn(&arn)
        .chime_bearer(w.user(1))
        .send()
        .await
        .unwrap()
        .channel
        .unwrap();
    let by = c.created_by.unwrap();
    assert_eq!((by.arn.as_deref(), by.name), (Some(w.user(0)), None));
}

#[tokio::test]
async fn list_channels_pages_in_creation_order() {
    let s = TestServer::start().await;
    let m = s.messaging();
    let w = World::new(&s, &["ann", "bob"]).await;
    let mut made = Vec::new();
    for _ in 0..7 {
        made.push(channel(&s, &w, w.user(0), ChannelPrivacy::Public).await);
    }
    let mut seen = Vec::new();
    let mut token = None;
    loop {
        let page = m
            .list_channels()
            .app_instance_arn(&w.app)
            .max_results(3)
            .set_next_token(token)
            .chime_bearer(w.user(0))
            .send()
            .await
            .unwrap();
        seen.extend(
            page.channels()
                .iter()
                .map(|c| c.channel_arn.clone().unwrap()),
        );
        token = page.next_token;
        if token.is_none() {
            break;
        }
    }
    assert_eq!(seen, made);
    // A token is bound to its caller.
    let page = m
        .list_channels()
        .app_instance_arn(&w.app)
        .max_results(3)
        .chime_bearer(w.user(0))
        .send()
        .await
        .unwrap();
    let r = m
        .list_channels()
        .app_instance_arn(&w.app)
        .max_results(3)
        .set_next_token(page.next_token)
        .chime_bearer(w.user(1))
        .send()
        .await;
    assert_eq!(code(r), "BadRequestException");
}

#[tokio::test]
async fn foreign_arns_and_error_precedence() {
    let s = TestServer::start().await;
    let m = s.messaging();
    let id = s.identity();
    let w = World::new(&s, &["ann", "admin"]).await;
    id.create_app_instance_admin()
        .app_instance_arn(&w.app)
        .app_instance_admin_arn(w.user(1))
        .send()
        .await
        .unwrap();
    let foreign_app = w
        .app
        .replace("us-east-1:000000000000", "eu-west-1:999999999999");
    let r = m
        .create_channel()
        .app_instance_arn(&foreign_app)
        .name("x")
        .client_request_token(uuid())
        .chime_bearer(w.user(0))
        .send()
        .await;
    assert_eq!(
        code(r),
        "BadRequestException",
        "an AppInstance of another region does not exist here"
    );
    let r = m
        .list_channels()
        .app_instance_arn(&foreign_app)
        .chime_bearer(w.user(0))
        .send()
        .await;
    assert_eq!(code(r), "BadRequestException");
    let arn = channel(&s, &w, w.user(0), ChannelPrivacy::Public).await;
    let foreign_user = w
        .user(0)
        .replace("us-east-1:000000000000", "eu-west-1:999999999999");
    let r = m
        .describe_channel_membership_for_app_instance_user()
        .channel_arn(&arn)
        .app_instance_user_arn(&foreign_user)
        .chime_bearer(w.user(1))
        .send()
        .await;
    assert_eq!(code(r), "NotFoundException");
    let r = m
        .describe_channel_moderated_by_app_instance_user()
        .channel_arn(&arn)
        .app_instance_user_arn(&foreign_user)
        .chime_bearer(w.user(0))
        .send()
        .await;
    assert_eq!(
        code(r),
        "ForbiddenException",
        "not the bearer, and not an admin"
    );
    // Validation comes before the bearer check.
    let ghost = format!("{}/user/ghost", w.app);
    let r = m
        .create_channel()
        .app_instance_arn(&w.app)
        .name("x")
        .set_member_arns(Some(vec!["bad".to_string(); 11]))
        .client_request_token(uuid())
        .chime_bearer(&ghost)
        .send()
        .await;
    assert_eq!(code(r), "BadRequestException");
    let r = m
        .describe_channel()
        .channel_arn(arn.replace("us-east-1", "eu-west-1"))
        .chime_bearer(&ghost)
        .send()
        .await;
    assert_eq!(
        code(r),
        "UnauthorizedClientException",
        "the bearer is checked before the channel"
    );
}
