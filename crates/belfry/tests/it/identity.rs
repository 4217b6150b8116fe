//! Identity API: AppInstances, users and admins, with their refusals.

use std::sync::Arc;
use std::time::Duration;

use belfry_core::time::ManualClock;

use crate::harness::*;

#[tokio::test]
async fn app_instance_lifecycle() {
    let clock = Arc::new(ManualClock::starting_now());
    let s = TestServer::with_clock(clock.clone()).await;
    let id = s.identity();
    let arn = id
        .create_app_instance()
        .name("chat")
        .metadata("{\"env\":\"dev\"}")
        .client_request_token(uuid())
        .send()
        .await
        .unwrap()
        .app_instance_arn
        .unwrap();
    assert!(
        arn.starts_with("arn:aws:chime:us-east-1:000000000000:app-instance/"),
        "{arn}"
    );
    let app_id = arn.rsplit('/').next().unwrap();
    assert_eq!(app_id.len(), 36, "AppInstance ids are UUIDs");

    let a = id
        .describe_app_instance()
        .app_instance_arn(&arn)
        .send()
        .await
        .unwrap()
        .app_instance
        .unwrap();
    assert_eq!(a.name.as_deref(), Some("chat"));
    assert_eq!(a.metadata.as_deref(), Some("{\"env\":\"dev\"}"));
    let created = a.created_timestamp.unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!(
        (created.secs() - now).abs() < 60,
        "CreatedTimestamp is epoch seconds"
    );
    assert_eq!(a.last_updated_timestamp, Some(created));

    let listed = id.list_app_instances().send().await.unwrap();
    assert!(listed
        .app_instances()
        .iter()
        .any(|x| x.app_instance_arn() == Some(arn.as_str())));
    assert!(listed.next_token.is_none());

    clock.advance(Duration::from_millis(1_250));
    let up = id
        .update_app_instance()
        .app_instance_arn(&arn)
        .name("chat2")
        .metadata("m2")
        .send()
        .await
        .unwrap();
    assert_eq!(up.app_instance_arn.as_deref(), Some(arn.as_str()));
    let a = id
        .describe_app_instance()
        .app_instance_arn(&arn)
        .send()
        .await
        .unwrap()
        .app_instance
        .unwrap();
    assert_eq!(
        (a.name.as_deref(), a.metadata.as_deref()),
        (Some("chat2"), Some("m2"))
    );
    let updated = a.last_updated_timestamp.unwrap();
    assert_eq!(
        updated.to_millis().unwrap() - created.to_millis().unwrap(),
        1_250,
        "LastUpdatedTimestamp is the clock at the update"
    );

    id.delete_app_instance()
        .app_instance_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(
        code(
            id.describe_app_instance()
                .app_instance_arn(&arn)
                .send()
                .await
        ),
        "NotFoundException"
    );
    assert_eq!(
        code(id.delete_app_instance().app_instance_arn(&arn).send().await),
        "NotFoundException"
    );
    assert_eq!(
        code(
            id.update_app_instance()
                .app_instance_arn(&arn)
                .name("x")
                .metadata("")
                .send()
                .await
        ),
        "NotFoundException"
    );
    s.stop().await;
}

#[tokio::test]
async fn create_app_instance_is_idempotent_per_token() {
    let s = TestServer::start().await;
    let id = s.identity();
    let token = uuid();
    let first = id
        .create_app_instance()
        .name("a")
        .client_request_token(&token)
        .send()
        .await
        .unwrap();
    let again = id
        .create_app_instance()
        .name("a")
        .client_request_token(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(first.app_instance_arn, again.app_instance_arn);
    assert_eq!(
        id.list_app_instances()
            .send()
            .await
            .unwrap()
            .app_instances()
            .len(),
        1
    );
    let other = id
        .create_app_instance()
        .name("b")
        .client_request_token(&token)
        .send()
        .await;
    assert_eq!(code(other), "ConflictException");
}

#[tokio::test]
async fn app_instance_validation() {
    let s = TestServer::start().await;
    let id = s.identity();
    let long = "x".repeat(257);
    let cases: Vec<(&str, Option<String>, Option<String>, String, &str)> = vec![
        ("name over 256", Some(long.clone()), None, uuid(), "256"),
        ("empty name", Some(String::new()), None, uuid(), "Name"),
        ("no name", None, None, uuid(), "Name"),
        (
            "control char in name",
            Some("a\u{1}b".into()),
            None,
            uuid(),
            "pattern",
        ),
        (
            "metadata over 1024",
            Some("n".into()),
            Some("m".repeat(1025)),
            uuid(),
            "1024",
        ),
        (
            "token too short",
            Some("n".into()),
            None,
            "x".into(),
            "ClientRequestToken",
        ),
        (
            "token bad chars",
            Some("n".into()),
            None,
            "a b c".into(),
            "ClientRequestToken",
        ),
    ];
    for (what, name, metadata, token, needle) in cases {
        let r = id
            .create_app_instance()
            .set_name(name)
            .set_metadata(metadata)
            .client_request_token(token)
            .send()
            .await;
        let err = r.unwrap_err();
        use aws_smithy_types::error::metadata::ProvideErrorMetadata;
        assert_eq!(err.code(), Some("BadRequestException"), "{what}");
        assert!(
            err.message().unwrap_or_default().contains(needle),
            "{what}: {:?}",
            err.message()
        );
    }
    let tags: Vec<_> = (0..51)
        .map(|i| identity_tag(&format!("k{i}"), "v"))
        .collect();
    let r = id
        .create_app_instance()
        .name("n")
        .client_request_token(uuid())
        .set_tags(Some(tags))
        .send()
        .await;
    assert_eq!(code(r), "BadRequestException");
    let r = id
        .create_app_instance()
        .name("n")
        .client_request_token(uuid())
        .tags(identity_tag(&"k".repeat(129), "v"))
        .send()
        .await;
    assert!(message(r).contains("128"));
    assert_eq!(
        id.list_app_instances()
            .send()
            .await
            .unwrap()
            .app_instances()
            .len(),
        0,
        "nothing was created"
    );
}

pub fn identity_tag(k: &str, v: &str) -> aws_sdk_chimesdkidentity::types::Tag {
    aws_sdk_chimesdkidentity::types::Tag::builder()
        .key(k)
        .value(v)
        .build()
        .unwrap()
}

#[tokio::test]
async fn list_app_instances_pages() {
    let s = TestServer::start().await;
    let id = s.identity();
    let mut made = Vec::new();
    for i in 0..5 {
        made.push(
            id.create_app_instance()
                .name(format!("a{i}"))
                .client_request_token(uuid())
                .send()
                .await
                .unwrap()
                .app_instance_arn
                .unwrap(),
        );
    }
    let mut seen = Vec::new();
    let mut token = None;
    loop {
        let page = id
            .list_app_instances()
            .max_results(2)
            .set_next_token(token)
            .send()
            .await
            .unwrap();
        assert!(page.app_instances().len() <= 2);
        seen.extend(
            page.app_instances()
                .iter()
                .map(|a| a.app_instance_arn.clone().unwrap()),
        );
        token = page.next_token;
        if token.is_none() {
            break;
        }
    }
    assert_eq!(seen, made, "creation order, each once");
    for bad in [0, 51] {
        let r = id.list_app_instances().max_results(bad).send().await;
        assert!(message(r).contains("MaxResults"));
    }
    let page = id.list_app_instances().max_results(2).send().await.unwrap();
    let t = page.next_token.unwrap();
    let mut forged = t.clone();
    forged.insert(0, 'A');
    assert_eq!(
        code(id.list_app_instances().next_token(forged).send().await),
        "BadRequestException"
    );
    assert_eq!(
        code(id.list_app_instances().next_token("garbage!").send().await),
        "BadRequestException"
    );
    // A token from one listing is refused by another.
    let app = &made[0];
    let r = id
        .list_app_instance_users()
        .app_instance_arn(app)
        .next_token(&t)
        .send()
        .await;
    assert_eq!(code(r), "BadRequestException");
}

#[tokio::test]
async fn user_lifecycle_and_refusals() {
    let s = TestServer::start().await;
    let id = s.identity();
    let w = World::new(&s, &[]).await;
    let token = uuid();
    let create = || {
        id.create_app_instance_user()
            .app_instance_arn(&w.app)
            .app_instance_user_id("us-east-1:b7ea@x.y")
            .name("Ada")
            .metadata("meta")
            .client_request_token(&token)
            .expiration_settings(
                aws_sdk_chimesdkidentity::types::ExpirationSettings::builder()
                    .expiration_days(30)
                    .expiration_criterion(
                        aws_sdk_chimesdkidentity::types::ExpirationCriterion::CreatedTimestamp,
                    )
                    .build()
                    .unwrap(),
            )
    };
    let arn = create()
        .send()
        .await
        .unwrap()
        .app_instance_user_arn
        .unwrap();
    assert_eq!(arn, format!("{}/user/us-east-1:b7ea@x.y", w.app));
    assert_eq!(
        create()
            .send()
            .await
            .unwrap()
            .app_instance_user_arn
            .unwrap(),
        arn,
        "same token replays"
    );
    let dup = id
        .create_app_instance_user()
        .app_instance_arn(&w.app)
        .app_instance_user_id("us-east-1:b7ea@x.y")
        .name("Other")
        .client_request_token(uuid())
        .send()
        .await;
    assert_eq!(code(dup), "ConflictException");

    let u = id
        .describe_app_instance_user()
        .app_instance_user_arn(&arn)
        .send()
        .await
        .unwrap()
        .app_instance_user
        .unwrap();
    assert_eq!(
        (u.name.as_deref(), u.metadata.as_deref()),
        (Some("Ada"), Some("meta"))
    );
    assert_eq!(u.expiration_settings.unwrap().expiration_days, 30);

    let list = id
        .list_app_instance_users()
        .app_instance_arn(&w.app)
        .send()
        .await
        .unwrap();
    assert_eq!(list.app_instance_arn.as_deref(), Some(w.app.as_str()));
    assert_eq!(list.app_instance_users().len(), 1);
    assert_eq!(list.app_instance_users()[0].name.as_deref(), Some("Ada"));

    id.update_app_instance_user()
        .app_instance_user_arn(&arn)
        .name("Ada L")
        .metadata("m2")
        .send()
        .await
        .unwrap();
    let u = id
        .describe_app_instance_user()
        .app_instance_user_arn(&arn)
        .send()
        .await
        .unwrap()
        .app_instance_user
        .unwrap();
    assert_eq!(
        (u.name.as_deref(), u.metadata.as_deref()),
        (Some("Ada L"), Some("m2"))
    );

    id.delete_app_instance_user()
        .app_instance_user_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(
        code(
            id.describe_app_instance_user()
                .app_instance_user_arn(&arn)
                .send()
                .await
        ),
        "NotFoundException"
    );
    assert_eq!(
        code(
            id.delete_app_instance_user()
                .app_instance_user_arn(&arn)
                .send()
                .await
        ),
        "NotFoundException"
    );
}

#[tokio::test]
async fn user_validation() {
    let s = TestServer::start().await;
    let id = s.identity();
    let w = World::new(&s, &[]).await;
    let missing_app = format!("{}0", w.app);
    let cases: Vec<(&str, String, String, String, &str)> = vec![
        (
            "id starts with dash",
            w.app.clone(),
            "-bad".into(),
            "n".into(),
            "AppInstanceUserId",
        ),
        (
            "id with slash",
            w.app.clone(),
            "a/b".into(),
            "n".into(),
            "AppInstanceUserId",
        ),
        (
            "id too long",
            w.app.clone(),
            "a".repeat(65),
            "n".into(),
            "64",
        ),
        (
            "blank name",
            w.app.clone(),
            "ok".into(),
            "   ".into(),
            "Name",
        ),
        (
            "name too long",
            w.app.clone(),
            "ok".into(),
            "n".repeat(101),
            "100",
        ),
        (
            "unknown app instance",
            missing_app,
            "ok".into(),
            "n".into(),
            "does not exist",
        ),
        (
            "not an app instance arn",
            "arn:aws:chime:us-east-1:000000000000:app-instance/x/user/y".into(),
            "ok".into(),
            "n".into(),
            "AppInstanceArn",
        ),
        (
            "not an arn",
            "nope".into(),
            "ok".into(),
            "n".into(),
            "AppInstanceArn",
        ),
    ];
    for (what, app, uid, name, needle) in cases {
        let r = id
            .create_app_instance_user()
            .app_instance_arn(app)
            .app_instance_user_id(uid)
            .name(name)
            .client_request_token(uuid())
            .send()
            .await;
        let err = r.unwrap_err();
        use aws_smithy_types::error::metadata::ProvideErrorMetadata;
        assert_eq!(err.code(), Some("BadRequestException"), "{what}");
        assert!(
            err.message().unwrap_or_default().contains(needle),
            "{what}: {:?}",
            err.message()
        );
    }
    let r = id
        .create_app_instance_user()
        .app_instance_arn(&w.app)
        .app_instance_user_id("ok")
        .name("n")
        .client_request_token(uuid())
        .expiration_settings(
            aws_sdk_chimesdkidentity::types::ExpirationSettings::builder()
                .expiration_days(5476)
                .expiration_criterion(
                    aws_sdk_chimesdkidentity::types::ExpirationCriterion::CreatedTimestamp,
                )
                .build()
                .unwrap(),
        )
        .send()
        .await;
    assert!(message(r).contains("5475"));
    let r = id
        .describe_app_instance_user()
        .app_instance_user_arn("arn:aws:chime:us-east-1:000000000000:app-instance/x/user/nobody")
        .send()
        .await;
    assert_eq!(code(r), "NotFoundException");
    let r = id
        .update_app_instance_user()
        .app_instance_user_arn(format!("{}/user/nobody", w.app))
        .name("n")
        .metadata("")
        .send()
        .await;
    assert_eq!(code(r), "NotFoundException");
}

#[tokio::test]
async fn admins() {
    let s = TestServer::start().await;
    let id = s.identity();
    let w = World::new(&s, &["ann", "bob"]).await;
    let created = id
        .create_app_instance_admin()
        .app_instance_arn(&w.app)
        .app_instance_admin_arn(w.user(0))
        .send()
        .await
        .unwrap();
    assert_eq!(created.app_instance_arn.as_deref(), Some(w.app.as_str()));
    let ident = created.app_instance_admin.unwrap();
    assert_eq!(
        (ident.arn.as_deref(), ident.name.as_deref()),
        (Some(w.user(0)), Some("ann name"))
    );

    let again = id
        .create_app_instance_admin()
        .app_instance_arn(&w.app)
        .app_instance_admin_arn(w.user(0))
        .send()
        .await;
    assert_eq!(code(again), "ConflictException");
    let stranger = id
        .create_app_instance_admin()
        .app_instance_arn(&w.app)
        .app_instance_admin_arn(format!("{}/user/ghost", w.app))
        .send()
        .await;
    assert_eq!(code(stranger), "BadRequestException");

    let d = id
        .describe_app_instance_admin()
        .app_instance_arn(&w.app)
        .app_instance_admin_arn(w.user(0))
        .send()
        .await
        .unwrap();
    let admin = d.app_instance_admin.unwrap();
    assert_eq!(admin.admin.unwrap().arn.as_deref(), Some(w.user(0)));
    assert!(admin.created_timestamp.is_some());
    let not_admin = id
        .describe_app_instance_admin()
        .app_instance_arn(&w.app)
        .app_instance_admin_arn(w.user(1))
        .send()
        .await;
    assert_eq!(code(not_admin), "NotFoundException");

    id.create_app_instance_admin()
        .app_instance_arn(&w.app)
        .app_instance_admin_arn(w.user(1))
        .send()
        .await
        .unwrap();
    let list = id
        .list_app_instance_admins()
        .app_instance_arn(&w.app)
        .max_results(1)
        .send()
        .await
        .unwrap();
    assert_eq!(list.app_instance_admins().len(), 1);
    let rest = id
        .list_app_instance_admins()
        .app_instance_arn(&w.app)
        .max_results(1)
        .set_next_token(list.next_token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        rest.app_instance_admins()[0]
            .admin
            .as_ref()
            .unwrap()
            .arn
            .as_deref(),
        Some(w.user(1))
    );
    assert!(rest.next_token.is_none());

    id.delete_app_instance_admin()
        .app_instance_arn(&w.app)
        .app_instance_admin_arn(w.user(0))
        .send()
        .await
        .unwrap();
    let r = id
        .delete_app_instance_admin()
        .app_instance_arn(&w.app)
        .app_instance_admin_arn(w.user(0))
        .send()
        .await;
    assert_eq!(code(r), "NotFoundException");
    id.describe_app_instance_user()
        .app_instance_user_arn(w.user(0))
        .send()
        .await
        .expect("demotion keeps the user");

    // Deleting a user removes their admin role.
    id.delete_app_instance_user()
        .app_instance_user_arn(w.user(1))
        .send()
        .await
        .unwrap();
    let list = id
        .list_app_instance_admins()
        .app_instance_arn(&w.app)
        .send()
        .await
        .unwrap();
    assert!(list.app_instance_admins().is_empty());
}

#[tokio::test]
async fn deleting_an_app_instance_removes_everything_inside() {
    let s = TestServer::start().await;
    let id = s.identity();
    let m = s.messaging();
    let w = World::new(&s, &["ann"]).await;
    let ch = m
        .create_channel()
        .app_instance_arn(&w.app)
        .name("c")
        .client_request_token(uuid())
        .chime_bearer(w.user(0))
        .send()
        .await
        .unwrap()
        .channel_arn
        .unwrap();
    id.create_app_instance_admin()
        .app_instance_arn(&w.app)
        .app_instance_admin_arn(w.user(0))
        .send()
        .await
        .unwrap();
    id.delete_app_instance()
        .app_instance_arn(&w.app)
        .send()
        .await
        .unwrap();
    assert_eq!(
        code(
            id.describe_app_instance_user()
                .app_instance_user_arn(w.user(0))
                .send()
                .await
        ),
        "NotFoundException"
    );
    assert_eq!(
        code(
            id.list_app_instance_users()
                .app_instance_arn(&w.app)
                .send()
                .await
        ),
        "NotFoundException"
    );
    assert_eq!(
        code(m.list_tags_for_resource().resource_arn(&ch).send().await),
        "NotFoundException"
    );
    // The bearer no longer exists, so every channel call is refused at the bearer check.
    assert_eq!(
        code(
            m.describe_channel()
                .channel_arn(&ch)
                .chime_bearer(w.user(0))
                .send()
                .await
        ),
        "UnauthorizedClientException"
    );
}
