//! SendChannelMessage sizes at and just over every limit, UTF-8 multibyte content included;
//! the memberships-per-user quota, which a channel's creator counts against, from the config.

use aws_sdk_chimesdkmessaging::operation::send_channel_message::builders::SendChannelMessageFluentBuilder;
use aws_sdk_chimesdkmessaging::types::{
    ChannelMessagePersistenceType as Persistence, ChannelMessageType as MsgType, ChannelPrivacy,
    MessageAttributeValue, PushNotificationConfiguration, Target,
};

use crate::harness::*;
use crate::messages::{send, Room};

#[tokio::test]
async fn limits_at_and_over() {
    let s = TestServer::start().await;
    let m = s.messaging();
    let r = Room::new(&s, &["owner", "ann", "bob"], ChannelPrivacy::Public).await;
    let ann = r.user(1);
    // The owner (a member since it created the channel) leaves, so that a target can name a
    // user who is not a member.
    m.delete_channel_membership()
        .channel_arn(&r.ch)
        .member_arn(r.user(0))
        .chime_bearer(r.user(0))
        .send()
        .await
        .unwrap();
    let ok = |b: SendChannelMessageFluentBuilder| async move {
        b.send().await.map(|_| ()).map_err(|e| format!("{e:?}"))
    };
    let control = |content: &str| send(&m, &r.ch, ann, content).r#type(MsgType::Control);
    let e_acute = "\u{e9}"; // two bytes in UTF-8
    let cases: Vec<(&str, SendChannelMessageFluentBuilder, Option<&str>)> = vec![
        ("4096 bytes", send(&m, &r.ch, ann, &"a".repeat(4096)), None),
        (
            "4097 bytes",
            send(&m, &r.ch, ann, &"a".repeat(4097)),
            Some("4096"),
        ),
        (
            "4096 bytes of 2-byte chars",
            send(&m, &r.ch, ann, &e_acute.repeat(2048)),
            None,
        ),
        (
            "4098 bytes of 2-byte chars",
            send(&m, &r.ch, ann, &e_acute.repeat(2049)),
            Some("4096"),
        ),
        (
            "emoji at the limit",
            send(&m, &r.ch, ann, &"\u{1F600}".repeat(1024)),
            None,
        ),
        (
            "emoji over",
            send(&m, &r.ch, ann, &format!("{}a", "\u{1F600}".repeat(1024))),
            Some("4096"),
        ),
        ("empty", send(&m, &r.ch, ann, ""), Some("Content")),
        ("control 30", control(&"c".repeat(30)), None),
        ("control 31", control(&"c".repeat(31)), Some("30")),
        (
            "control 30 bytes multibyte",
            control(&e_acute.repeat(15)),
            None,
        ),
        (
            "control 32 bytes multibyte",
            control(&e_acute.repeat(16)),
            Some("30"),
        ),
        (
            "control metadata",
            control("typing").metadata("m"),
            Some("Metadata"),
        ),
        (
            "metadata 1024",
            send(&m, &r.ch, ann, "x").metadata("m".repeat(1024)),
            None,
        ),
        (
            "metadata 1025",
            send(&m, &r.ch, ann, "x").metadata("m".repeat(1025)),
            Some("1024"),
        ),
        (
            "content type 45",
            send(&m, &r.ch, ann, "x").content_type("c".repeat(45)),
            None,
        ),
        (
            "content type 46",
            send(&m, &r.ch, ann, "x").content_type("c".repeat(46)),
            Some("45"),
        ),
        (
            "attribute name 65",
            send(&m, &r.ch, ann, "x").message_attributes(
                "n".repeat(65),
                MessageAttributeValue::builder().string_values("v").build(),
            ),
            Some("64"),
        ),
        (
            "attribute value 513",
            send(&m, &r.ch, ann, "x").message_attributes(
                "n",
                MessageAttributeValue::builder()
                    .string_values("v".repeat(513))
                    .build(),
            ),
            Some("512"),
        ),
        (
            "push title 51",
            send(&m, &r.ch, ann, "x").push_notification(
                PushNotificationConfiguration::builder()
                    .title("t".repeat(51))
                    .body("b")
                    .build(),
            ),
            Some("50"),
        ),
        (
            "push body 151",
            send(&m, &r.ch, ann, "x").push_notification(
                PushNotificationConfiguration::builder()
                    .title("t")
                    .body("b".repeat(151))
                    .build(),
            ),
            Some("150"),
        ),
        (
            "bad type",
            send(&m, &r.ch, ann, "x").r#type(MsgType::from("LOUD")),
            Some("Type"),
        ),
        (
            "bad persistence",
            send(&m, &r.ch, ann, "x").persistence(Persistence::from("FOREVER")),
            Some("Persistence"),
        ),
        (
            "two targets",
            send(&m, &r.ch, ann, "x")
                .target(Target::builder().member_arn(r.user(2)).build())
                .target(Target::builder().member_arn(r.user(1)).build()),
            Some("Target"),
        ),
        (
            "target not a member",
            send(&m, &r.ch, ann, "x").target(Target::builder().member_arn(r.user(0)).build()),
            Some("Target"),
        ),
        (
            "sub-channel",
            send(&m, &r.ch, ann, "x").sub_channel_id("s1"),
            Some("SubChannelId"),
        ),
        (
            "token",
            send(&m, &r.ch, ann, "x").client_request_token("?"),
            Some("ClientRequestToken"),
        ),
    ];
    for (what, builder, want) in cases {
        match (ok(builder).await, want) {
            (Ok(()), None) => {}
            (Err(e), Some(needle)) => {
                assert!(e.contains("BadRequestException"), "{what}: {e}");
                assert!(e.contains(needle), "{what}: {e} should mention {needle}");
            }
            (got, _) => panic!("{what}: unexpected {got:?}"),
        }
    }
}

#[tokio::test]
async fn memberships_per_user_comes_from_the_config_file_and_counts_creators() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("belfry.toml");
    std::fs::write(&file, "memberships_per_user = 2\n").unwrap();
    let config = belfry::Config::resolve(belfry::config::ServeArgs {
        config: Some(file),
        data_dir: Some(dir.path().join("d")),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(config.memberships_per_user, 2);
    assert_eq!(
        belfry::Config::with_data_dir(dir.path().into()).memberships_per_user,
        10_000
    );

    let s = TestServer::start_with(std::sync::Arc::new(belfry_core::events::NoEvents), |c| {
        c.memberships_per_user = config.memberships_per_user
    })
    .await;
    let m = s.messaging();
    let w = World::new(&s, &["backend"]).await;
    let create = || {
        m.create_channel()
            .app_instance_arn(&w.app)
            .name("c")
            .client_request_token(uuid())
            .chime_bearer(w.user(0))
            .send()
    };
    create().await.unwrap();
    create().await.unwrap();
    assert_eq!(
        code(create().await),
        "ResourceLimitExceededException",
        "the creator is a member of both channels already"
    );
}
