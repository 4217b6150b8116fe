//! ListTagsForResource, TagResource, UntagResource on AppInstances, users and channels.

use crate::harness::*;

fn tag(k: &str, v: &str) -> aws_sdk_chimesdkmessaging::types::Tag {
    aws_sdk_chimesdkmessaging::types::Tag::builder()
        .key(k)
        .value(v)
        .build()
        .unwrap()
}

#[tokio::test]
async fn tags_on_every_taggable_resource() {
    let s = TestServer::start().await;
    let m = s.messaging();
    let id = s.identity();
    let w = World::new(&s, &["ann"]).await;
    let ch = m
        .create_channel()
        .app_instance_arn(&w.app)
        .name("c")
        .tags(tag("team", "red"))
        .client_request_token(uuid())
        .chime_bearer(w.user(0))
        .send()
        .await
        .unwrap()
        .channel_arn
        .unwrap();
    let listed = m
        .list_tags_for_resource()
        .resource_arn(&ch)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.tags().len(), 1);
    assert_eq!(
        (
            listed.tags()[0].key.as_str(),
            listed.tags()[0].value.as_str()
        ),
        ("team", "red")
    );

    for arn in [w.app.as_str(), w.user(0), ch.as_str()] {
        m.tag_resource()
            .resource_arn(arn)
            .tags(tag("a", "1"))
            .tags(tag("b", "2"))
            .send()
            .await
            .unwrap();
        m.tag_resource()
            .resource_arn(arn)
            .tags(tag("a", "changed"))
            .send()
            .await
            .unwrap();
        m.untag_resource()
            .resource_arn(arn)
            .tag_keys("b")
            .tag_keys("absent")
            .send()
            .await
            .unwrap();
        // The identity client reaches the same tags (both services share /tags).
        let tags = id
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
            .unwrap();
        let a = tags.tags().iter().find(|t| t.key == "a").unwrap();
        assert_eq!(a.value, "changed", "{arn}");
        assert!(tags.tags().iter().all(|t| t.key != "b"), "{arn}");
    }
}

#[tokio::test]
async fn tag_limits_and_unknown_resources() {
    let s = TestServer::start().await;
    let m = s.messaging();
    let w = World::new(&s, &["ann"]).await;
    let forty: Vec<_> = (0..40).map(|i| tag(&format!("k{i}"), "v")).collect();
    m.tag_resource()
        .resource_arn(&w.app)
        .set_tags(Some(forty))
        .send()
        .await
        .unwrap();
    let eleven: Vec<_> = (40..51).map(|i| tag(&format!("k{i}"), "v")).collect();
    let r = m
        .tag_resource()
        .resource_arn(&w.app)
        .set_tags(Some(eleven))
        .send()
        .await;
    assert_eq!(code(r), "ResourceLimitExceededException");
    assert_eq!(
        m.list_tags_for_resource()
            .resource_arn(&w.app)
            .send()
            .await
            .unwrap()
            .tags()
            .len(),
        40,
        "nothing half-applied"
    );

    let ghost = format!("{}/channel/ghost", w.app);
    assert_eq!(
        code(m.list_tags_for_resource().resource_arn(&ghost).send().await),
        "NotFoundException"
    );
    assert_eq!(
        code(
            m.tag_resource()
                .resource_arn(&ghost)
                .tags(tag("a", "b"))
                .send()
                .await
        ),
        "NotFoundException"
    );
    let r = m
        .tag_resource()
        .resource_arn(&w.app)
        .tags(tag(&"k".repeat(129), "v"))
        .send()
        .await;
    assert!(message(r).contains("128"));
    let r = m
        .tag_resource()
        .resource_arn(&w.app)
        .tags(tag("k", &"v".repeat(257)))
        .send()
        .await;
    assert!(message(r).contains("256"));
    let r = m
        .untag_resource()
        .resource_arn("bad")
        .tag_keys("k")
        .send()
        .await;
    assert_eq!(code(r), "BadRequestException");
    let r = m
        .tag_resource()
        .resource_arn(&w.app)
        .tags(tag("d", "1"))
        .tags(tag("d", "2"))
        .send()
        .await;
    assert_eq!(code(r), "BadRequestException");

    // Deleting the channel's user-facing resource removes its tags with it.
    let ch = m
        .create_channel()
        .app_instance_arn(&w.app)
        .name("c")
        .tags(tag("x", "y"))
        .client_request_token(uuid())
        .chime_bearer(w.user(0))
        .send()
        .await
        .unwrap()
        .channel_arn
        .unwrap();
    m.delete_channel()
        .channel_arn(&ch)
        .chime_bearer(w.user(0))
        .send()
        .await
        .unwrap();
    assert_eq!(
        code(m.list_tags_for_resource().resource_arn(&ch).send().await),
        "NotFoundException"
    );
}
