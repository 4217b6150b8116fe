//! The stored encodings both adapters write and read: one copy, so a value SQLite stores reads
//! back the same from PostgreSQL (and a change to one cannot drift from the other).

use belfry_core::model::{
    ExpirationCriterion, ExpirationSettings, MembershipType, PushNotification, PushType,
};
use serde_json::{json, Value};

/// Message attributes as stored: `[[name, [values…]], …]`, `None` without attributes.
pub(crate) fn encode_attributes(attrs: &[(String, Vec<String>)]) -> Option<String> {
    if attrs.is_empty() {
        return None;
    }
    Some(Value::Array(attrs.iter().map(|(k, v)| json!([k, v])).collect()).to_string())
}

/// Reads stored attributes back; entries of an unexpected shape are skipped.
pub(crate) fn decode_attributes(text: Option<String>) -> Vec<(String, Vec<String>)> {
    let Some(Ok(Value::Array(items))) = text.map(|t| serde_json::from_str::<Value>(&t)) else {
        return Vec::new();
    };
    items
        .into_iter()
        .filter_map(|item| {
            let name = item.get(0)?.as_str()?.to_string();
            let values = item
                .get(1)?
                .as_array()?
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect();
            Some((name, values))
        })
        .collect()
}

/// A push notification as stored: `{"t": title, "b": body, "y": type}`.
pub(crate) fn encode_push(p: &Option<PushNotification>) -> Option<String> {
    p.as_ref()
        .map(|p| json!({"t": p.title, "b": p.body, "y": p.kind.map(|k| k.as_str())}).to_string())
}

/// Reads a stored push notification back; unreadable text is none.
pub(crate) fn decode_push(text: Option<String>) -> Option<PushNotification> {
    let v: Value = serde_json::from_str(&text?).ok()?;
    let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    Some(PushNotification {
        title: s("t"),
        body: s("b"),
        kind: s("y").and_then(|y| PushType::parse("PushNotification.Type", &y).ok()),
    })
}

/// Reads the two expiration columns back into settings.
pub(crate) fn expiration(
    days: Option<i64>,
    criterion: Option<String>,
) -> Option<ExpirationSettings> {
    let criterion = match criterion.as_deref()? {
        "CREATED_TIMESTAMP" => ExpirationCriterion::CreatedTimestamp,
        "LAST_MESSAGE_TIMESTAMP" => ExpirationCriterion::LastMessageTimestamp,
        _ => return None,
    };
    Some(ExpirationSettings {
        days: days?,
        criterion,
    })
}

/// Reads a stored membership type (anything but HIDDEN is DEFAULT).
pub(crate) fn membership_type(stored: &str) -> MembershipType {
    if stored == "HIDDEN" {
        MembershipType::Hidden
    } else {
        MembershipType::Default
    }
}
