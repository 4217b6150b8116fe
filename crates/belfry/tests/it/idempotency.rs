//! ClientRequestToken: every parameter counts, and a token whose resource is gone is free again.

use crate::harness::*;

#[tokio::test]
async fn every_parameter_is_part_of_the_request() {
    let s = TestServer::start().await;
    let id = s.identity();
    let m = s.messaging();
    let w = World::new(&s, &["ann", "bob"]).await;

    let token = uuid();
    id.create_app_instance()
        .name("a")
        .client_request_token(&token)
        .send()
        .await
        .unwrap();
    let r = id
        .create_app_instance()
        .name("a")
        .client_request_token(&token)
        .tags(crate::identity::identity_tag("k", "v"))
        .send()
        .await;
    assert_eq!(code(r), "ConflictException", "tags differ");

    let token = uuid();
    let user = |days: i32| {
        id.create_app_instance_user()
            .app_instance_arn(&w.app)
            .app_instance_user_id("carol")
            .name("Carol")
            .client_request_token(&token)
            .expiration_settings(
                aws_sdk_chimesdkidentity::types::ExpirationSettings::builder()
                    .expiration_days(days)
                    .expiration_criterion(
                        aws_sdk_chimesdkidentity::types::ExpirationCriterion::CreatedTimestamp,
                    )
                    .build()
                    .unwrap(),
            )
            .send()
    };
    user(1).await.unwrap();
    assert_eq!(
        code(user(2).await),
        "ConflictException",
        "expiration differs"
    );

    let token = uuid();
    let channel = |member: &str| {
        m.create_channel()
            .app_instance_arn(&w.app)
            .name("c")
            .member_arns(member)
            .client_request_token(&token)
            .chime_bearer(w.user(0))
            .send()
    };
    channel(w.user(1)).await.unwrap();
    assert_eq!(
        code(channel(w.user(0)).await),
        "ConflictException",
        "members differ"
    );
}

#[tokio::test]
async fn a_token_whose_resource_was_deleted_creates_again() {
    let s = TestServer::start().await;
    let id = s.identity();
    let w = World::new(&s, &[]).await;
    let create = || {
        id.create_app_instance_user()
            .app_instance_arn(&w.app)
            .app_instance_user_id("gone")
            .name("Gone")
            .client_request_token("user-gone")
            .send()
    };
    let arn = create().await.unwrap().app_instance_user_arn.unwrap();
    id.delete_app_instance_user()
        .app_instance_user_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(create().await.unwrap().app_instance_user_arn.unwrap(), arn);
    id.describe_app_instance_user()
        .app_instance_user_arn(&arn)
        .send()
        .await
        .expect("created afresh");
}
