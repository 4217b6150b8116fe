//! Input checks that several families share (tags, expiration settings, SubChannelId).

use crate::error::{CoreError, CoreResult};
use crate::model::{ExpirationCriterion, ExpirationSettings, Tag};
use crate::validate;

/// A `Tag` as received; both members are required by the model.
#[derive(Debug, Clone, Default)]
pub struct TagInput {
    /// Key, 1–128.
    pub key: Option<String>,
    /// Value, 1–256.
    pub value: Option<String>,
}

/// `ExpirationSettings` as received; both members are required by the model.
#[derive(Debug, Clone, Default)]
pub struct ExpirationInput {
    /// ExpirationDays, 1–5475.
    pub days: Option<i64>,
    /// ExpirationCriterion.
    pub criterion: Option<String>,
}

/// Validates a tag list (1–50 entries when present, unique keys).
pub(super) fn check_tags(field: &str, tags: Option<Vec<TagInput>>) -> CoreResult<Vec<Tag>> {
    let Some(tags) = tags else {
        return Ok(Vec::new());
    };
    validate::count(field, tags.len(), 1, 50)?;
    let mut out: Vec<Tag> = Vec::with_capacity(tags.len());
    for (i, t) in tags.into_iter().enumerate() {
        let key_field = format!("{field}.{}.member.Key", i + 1);
        let value_field = format!("{field}.{}.member.Value", i + 1);
        let key = validate::required(&key_field, t.key)?;
        validate::length(&key_field, &key, 1, 128)?;
        let value = validate::required(&value_field, t.value)?;
        validate::length(&value_field, &value, 1, 256)?;
        if out.iter().any(|o| o.key == key) {
            return Err(CoreError::bad(format!(
                "{field} contains the key '{key}' more than once."
            )));
        }
        out.push(Tag { key, value });
    }
    Ok(out)
}

/// Validates `ExpirationSettings`; `criteria` are the criteria the resource allows.
pub(super) fn check_expiration(
    input: Option<ExpirationInput>,
    criteria: &[ExpirationCriterion],
) -> CoreResult<Option<ExpirationSettings>> {
    let Some(input) = input else { return Ok(None) };
    let days = validate::required("ExpirationSettings.ExpirationDays", input.days)?;
    validate::range("ExpirationSettings.ExpirationDays", days, 1, 5475)?;
    let criterion = validate::required("ExpirationSettings.ExpirationCriterion", input.criterion)?;
    let names: Vec<&str> = criteria.iter().map(|c| c.as_str()).collect();
    let chosen = validate::one_of("ExpirationSettings.ExpirationCriterion", &criterion, &names)?;
    let criterion = ExpirationCriterion::parse("ExpirationSettings.ExpirationCriterion", chosen)?;
    Ok(Some(ExpirationSettings { days, criterion }))
}

/// Belfry has no elastic channels, so a SubChannelId can never apply.
pub(super) fn no_sub_channel(sub_channel_id: Option<&str>) -> CoreResult<()> {
    let Some(id) = sub_channel_id else {
        return Ok(());
    };
    validate::length("SubChannelId", id, 1, 128)?;
    if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(validate::violation(
            "SubChannelId",
            "must satisfy regular expression pattern: [-_a-zA-Z0-9]*",
        ));
    }
    Err(CoreError::bad(
        "SubChannelId applies only to elastic channels, which this server does not support.",
    ))
}
