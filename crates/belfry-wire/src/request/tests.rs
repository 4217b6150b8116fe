//! Decoding messages name the member and the rule, never the value; and, as properties, no
//! body of any operation makes decoding panic or answer anything but a capped BadRequest.

use belfry_core::auth::{Caller, Grant};
use proptest::prelude::*;
use serde_json::Value;

use super::*;
use crate::error::MAX_MESSAGE_BYTES;
use crate::handlers::decode_body;
use crate::ops::{Op, ROUTES};

fn request(body: Vec<u8>) -> ApiRequest {
    ApiRequest {
        labels: Vec::new(),
        query: Vec::new(),
        headers: HeaderMap::new(),
        body: Bytes::from(body),
        caller: Caller {
            access_key_id: "AKID".into(),
            grant: Grant::Admin,
        },
    }
}

fn refusal(op: Op, body: &[u8]) -> String {
    match decode_body(op, &request(body.to_vec())) {
        Ok(()) => panic!("{op:?} accepted {}", String::from_utf8_lossy(body)),
        Err(e) => {
            let r = e.render();
            assert_eq!(
                (r.status.as_u16(), r.error_type),
                (400, "BadRequestException")
            );
            r.message
        }
    }
}

#[test]
fn messages_name_member_and_rule_not_value() {
    let big = "Q".repeat(500_000);
    let long_key = "K".repeat(65);
    let v = "1 validation error detected: Value at";
    let cases: Vec<(Op, String, String)> = vec![
        (
            Op::CreateAppInstance,
            format!(r#"{{"Tags": "{big}"}}"#),
            format!("{v} 'Tags' failed to satisfy constraint: Member must be a JSON array (got a string)"),
        ),
        (
            Op::CreateAppInstance,
            format!(r#"{{"Tags": [{{"Key": "k", "Value": ["{big}"]}}]}}"#),
            format!("{v} 'Tags.1.member.Value' failed to satisfy constraint: Member must be a string (got a JSON array)"),
        ),
        (
            Op::CreateChannel,
            r#"{"ExpirationSettings": {"ExpirationDays": 1.5}}"#.into(),
            format!("{v} 'ExpirationSettings.ExpirationDays' failed to satisfy constraint: Member must be an integer (got a number)"),
        ),
        (
            Op::CreateAppInstanceUser,
            r#"{"ExpirationSettings": {"ExpirationDays": 18446744073709551615}}"#.into(),
            format!("{v} 'ExpirationSettings.ExpirationDays' failed to satisfy constraint: Member must be an integer within its range"),
        ),
        (
            Op::CreateChannel,
            format!(r#"{{"ExpirationSettings": {{"ExpirationCriterion": {{"{big}": 1}}}}}}"#),
            format!("{v} 'ExpirationSettings.ExpirationCriterion' failed to satisfy constraint: Member must be a string (got a JSON object)"),
        ),
        (
            Op::BatchCreateChannelMembership,
            format!(r#"{{"MemberArns": "{big}"}}"#),
            format!("{v} 'MemberArns' failed to satisfy constraint: Member must be a JSON array (got a string)"),
        ),
        (
            Op::SendChannelMessage,
            format!(r#"{{"Target": [{{"MemberArn": {}}}]}}"#, "9".repeat(30)),
            format!("{v} 'Target.1.member.MemberArn' failed to satisfy constraint: Member must be a string (got a number)"),
        ),
        (
            Op::SendChannelMessage,
            format!(r#"{{"PushNotification": "{big}"}}"#),
            format!("{v} 'PushNotification' failed to satisfy constraint: Member must be a JSON object (got a string)"),
        ),
        (
            Op::SendChannelMessage,
            format!(r#"{{"MessageAttributes": {{"color": "{big}"}}}}"#),
            format!("{v} 'MessageAttributes.color' failed to satisfy constraint: Member must be a JSON object (got a string)"),
        ),
        (
            Op::SendChannelMessage,
            format!(r#"{{"MessageAttributes": {{"{long_key}": {{"StringValues": [true]}}}}}}"#),
            format!("{v} 'MessageAttributes.<key>.StringValues.1.member' failed to satisfy constraint: Member must be a string (got a boolean)"),
        ),
        // serde's "expected" follows the value, so a value quoting it changes nothing.
        (
            Op::CreateAppInstance,
            r#"{"Name": ["x, expected a map"]}"#.into(),
            format!("{v} 'Name' failed to satisfy constraint: Member must be a string (got a JSON array)"),
        ),
        (
            Op::CreateAppInstance,
            r#"{"Name": "n", "Name": "m"}"#.into(),
            "The member 'Name' appears more than once.".into(),
        ),
        (
            Op::CreateAppInstance,
            format!(r#"{{"Name": "{big}"#),
            "The request body is not valid JSON: EOF while parsing a string.".into(),
        ),
    ];
    for (op, body, want) in cases {
        let got = refusal(op, body.as_bytes());
        assert_eq!(got, want, "{op:?}");
        assert!(!got.contains("QQQQ") && !got.contains("KKKK") && !got.contains("9999"));
    }
}

#[test]
fn enum_and_unknown_rules_come_from_the_type() {
    assert_eq!(
        rule("unknown variant `HUGE, expected x`, expected one of `A`, `B`"),
        "must satisfy enum value set: [A, B]"
    );
    assert_eq!(
        rule("invalid value: integer `-5`, expected u32"),
        "must be an integer within its range"
    );
    assert_eq!(
        rule("a custom message quoting \"secret\""),
        "does not match the operation's input"
    );
}

/// Member names of the input shapes, so generated objects reach nested members.
const MEMBERS: &[&str] = &[
    "Name",
    "Metadata",
    "ClientRequestToken",
    "Tags",
    "Key",
    "Value",
    "TagKeys",
    "ResourceARN",
    "AppInstanceAdminArn",
    "AppInstanceUserId",
    "AppInstanceArn",
    "ExpirationSettings",
    "ExpirationDays",
    "ExpirationCriterion",
    "Mode",
    "Privacy",
    "ChannelId",
    "MemberArns",
    "ModeratorArns",
    "ElasticChannelConfiguration",
    "MemberArn",
    "ChannelModeratorArn",
    "Type",
    "SubChannelId",
    "Content",
    "Persistence",
    "PushNotification",
    "Title",
    "Body",
    "MessageAttributes",
    "StringValues",
    "ContentType",
    "Target",
];

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f)
            .map(Value::Number)),
        "\\PC{0,8}".prop_map(Value::String),
        "\\PC{20,80}".prop_map(Value::String),
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(MEMBERS).prop_map(str::to_string),
        1 => "\\PC{0,80}",
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(key(), inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn json_body() -> impl Strategy<Value = Value> {
    prop::collection::btree_map(key(), json_value(), 0..6)
        .prop_map(|m| Value::Object(m.into_iter().collect()))
}

/// What a message must not repeat: long strings and large numbers from the input, and keys
/// too long to be named in a member path.
fn secrets(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) if s.chars().count() >= 20 => out.push(s.clone()),
        Value::Number(n) if n.to_string().trim_start_matches('-').len() >= 8 => {
            out.push(n.to_string())
        }
        Value::Array(items) => items.iter().for_each(|i| secrets(i, out)),
        Value::Object(m) => {
            for (k, v) in m {
                if k.chars().count() > 64 {
                    out.push(k.clone());
                }
                secrets(v, out);
            }
        }
        _ => {}
    }
}

fn ops() -> impl Iterator<Item = Op> {
    ROUTES.iter().map(|r| r.op)
}

fn check_refusal(e: ApiError, secrets: &[String]) -> Result<(), TestCaseError> {
    let r = e.render();
    prop_assert_eq!(
        (r.status.as_u16(), r.error_type),
        (400, "BadRequestException")
    );
    prop_assert!(r.message.len() <= MAX_MESSAGE_BYTES);
    for s in secrets {
        prop_assert!(
            !r.message.contains(s.as_str()),
            "{:?} echoes {:?}",
            r.message,
            s
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_json_into_any_operation(body in json_body()) {
        let bytes = serde_json::to_vec(&body).unwrap();
        let mut hidden = Vec::new();
        secrets(&body, &mut hidden);
        for op in ops() {
            if let Err(e) = decode_body(op, &request(bytes.clone())) {
                check_refusal(e, &hidden)?;
            }
        }
    }

    #[test]
    fn any_bytes_into_any_operation(
        body in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..200),
            "\\{\\PC{0,200}".prop_map(String::into_bytes),
        ]
    ) {
        for op in ops() {
            if let Err(e) = decode_body(op, &request(body.clone())) {
                check_refusal(e, &[])?;
            }
        }
    }
}
